#!/bin/sh
# oldserver.sh - run stock Debian 12 Courier IMAP/POP3 5.0 or Cyrus IMAP/POP3
# 3.6 as OLD on loopback, next to the host's Dovecot, without installing
# them.
#
#   oldserver.sh fetch [courier|cyrus]          download (apt-get download)
#                                               and unpack the .debs
#   oldserver.sh start courier|cyrus DIR IP     configure and start IMAP 143
#                                               (STARTTLS) and POP3 110 (STLS)
#   oldserver.sh adduser DIR USER[@DOMAIN]      add a user; password on stdin
#   oldserver.sh stop DIR                       stop every process (never
#                                               fails when already stopped)
#   oldserver.sh procs DIR                      list the processes still running
#
# The packages conflict with dovecot-imapd/dovecot-pop3d, so they are never
# installed: `fetch` keeps the .debs in $MM_OLDSRV_CACHE
# (/var/cache/mailmigrate-oldservers) and unpacks them with dpkg-deb -x into
# a private root there.  `start` runs the daemons in a private mount
# namespace (unshare --mount) where
#   /usr = overlay(root/usr over the host's /usr)       read only
#   /etc = overlay(DIR/etc over root/etc over /etc)     writes go to DIR/etc
#   /run = DIR/run                                      pid files, sockets
#   /dev = a small tmpfs with null, zero, random, urandom, tty and /dev/log,
#          a socket whose messages (the servers' syslog) go to DIR/syslog
# Nothing on the host changes.  Users the servers need (cyrus) exist only
# in DIR/etc/passwd.  The namespace lives as long as its processes; `stop`
# ends every process in it (found by its mount namespace) and checks that
# none is left.
#
# What is configured beyond the Debian package defaults (everything else,
# namespace "INBOX." with ".", mechanisms, limits, is as shipped):
#   both     listen on IP only; a throwaway certificate for STARTTLS/STLS
#            (DIR/cert.pem; CN and subjectAltName IP = IP)
#   courier  authdaemon reads userdb (authuserdb) instead of PAM; TLS_CERTFILE
#            holds key and certificate in one PEM (couriertls wants both),
#            TLS_DHPARAMS from the RFC 7919 group ffdhe2048, the TLS session
#            cache under /run
#   cyrus    configdirectory and partition under DIR; users in /etc/sasldb2
#            (DIR/etc/sasldb2); tls_server_cert/tls_server_key;
#            popminpoll: 0 (Debian's 1 refuses a second POP3 login within a
#            minute); munge8bit: no (8-bit header bytes in mail lmtpd
#            delivers kept, not turned into 'X'; IMAP APPEND keeps them
#            either way); `admins: mmadmin` (for source_admin_user; the
#            user is added as any other); only the imap, pop3 and lmtpunix
#            services
# ManageSieve: with MM_OLDSRV_SIEVE=yes (Cyrus only; default no) Cyrus's
# timsieved also listens on IP:4190 (sievedir under DIR), and DIR/env
# says OLDSRV_SIEVE_PORT=4190 (0 without).
# Logins by full address: $MM_OLDSRV_FULL_LOGIN (default yes) adds, for
# Courier, a second userdb entry USER@DOMAIN next to USER, and for Cyrus
# `virtdomains: userid` with `defaultdomain: $MM_OLDSRV_DOMAIN` (default
# example.test).  With MM_OLDSRV_FULL_LOGIN=no both are as shipped: only
# the bare name logs in (Cyrus: "SASL cross-realm login denied").
#
# DIR must be short (at most 60 bytes); it is created if missing.  After
# `start`, DIR/env is a shell file to source (OLDSRV_KIND OLDSRV_IP
# OLDSRV_IMAP_PORT OLDSRV_POP3_PORT OLDSRV_SEP OLDSRV_PREFIX OLDSRV_CA_FILE
# OLDSRV_LOG OLDSRV_DOMAIN OLDSRV_FULL_LOGIN OLDSRV_VERSION).
#
# Exit status: 0 ok, 1 failure, 2 usage, 3 (start) a port is already
# taken, 77 (fetch, start) the packages cannot be had (no network, not
# Debian 12, not root): a test skips.
#
# Passwords never appear on a command line: adduser reads stdin (one
# trailing newline dropped); Courier's userdb holds a SHA512-CRYPT hash,
# Cyrus's sasldb the password (as saslpasswd2 stores it), both 0600/0640
# under DIR.

set -u

HERE=$(cd "$(dirname "$0")" && pwd) || exit 1
PROG=oldserver.sh
if [ -z "${PYTHON:-}" ]; then
	if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
CACHE=${MM_OLDSRV_CACHE:-/var/cache/mailmigrate-oldservers}
START_TIMEOUT=${MM_START_TIMEOUT:-15}

COURIER_DEBS="courier-base courier-imap courier-pop courier-authlib
courier-authdaemon courier-authlib-userdb libcourier-unicode4 libgamin0 gamin
libidn12 libltdl7"
CYRUS_DEBS="cyrus-common cyrus-imapd cyrus-pop3d sasl2-bin libical3
libxapian30"

die() {
	echo "$PROG: $*" >&2
	exit 1
}

skip() {
	echo "$PROG: cannot run: $*" >&2
	exit 77
}

usage() {
	echo "usage:" >&2
	sed -n '5,15p' "$0" | sed 's/^#//' >&2
	exit 2
}

absdir() {
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s/%s\n' "$(pwd)" "$1" ;;
	esac
}

set_dir() {
	[ -n "${1:-}" ] || usage
	DIR=$(absdir "$1")
	case $DIR in
	*[!A-Za-z0-9._/-]*) die "DIR '$DIR' may only hold A-Z a-z 0-9 . _ - /" ;;
	/|/tmp|/tmp/) die "DIR '$DIR' is not a test directory" ;;
	esac
	[ ${#DIR} -le 60 ] || die "DIR '$DIR' is too long (${#DIR} > 60 bytes)"
}

debs_of() {
	case $1 in
	courier) printf '%s\n' "$COURIER_DEBS" ;;
	cyrus) printf '%s\n' "$CYRUS_DEBS" ;;
	*) usage ;;
	esac
}

# deb_file PKG: the cached .deb of PKG (the newest, by dpkg's order), or "".
deb_file() {
	best=
	for f in "$CACHE/$1"_*.deb; do
		[ -f "$f" ] || continue
		if [ -z "$best" ]; then
			best=$f
		else
			vb=$(dpkg-deb -f "$best" Version) vf=$(dpkg-deb -f "$f" Version)
			dpkg --compare-versions "$vf" gt "$vb" && best=$f
		fi
	done
	printf '%s\n' "$best"
}

# fetch_kind courier|cyrus: the .debs in the cache (downloading what is
# missing), unpacked into $CACHE/root-KIND (again when the set changed).
fetch_kind() {
	kind=$1
	missing=
	for p in $(debs_of "$kind"); do
		[ -n "$(deb_file "$p")" ] || missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		[ "$(id -u)" = 0 ] || skip "the .debs of$missing are not in $CACHE (run as root to download them)"
		command -v apt-get >/dev/null 2>&1 || skip "no apt-get to download$missing"
		mkdir -p "$CACHE" || skip "cannot create $CACHE"
		# apt-get download as root into a directory _apt cannot
		# write warns ("unsandboxed") and works.
		# shellcheck disable=SC2086
		if ! (cd "$CACHE" && apt-get download $missing) >>"$CACHE/download.log" 2>&1; then
			(apt-get update) >>"$CACHE/download.log" 2>&1
			# shellcheck disable=SC2086
			(cd "$CACHE" && apt-get download $missing) >>"$CACHE/download.log" 2>&1 ||
				skip "apt-get download$missing failed (see $CACHE/download.log)"
		fi
		for p in $missing; do
			[ -n "$(deb_file "$p")" ] || skip "apt-get download $p left no $CACHE/${p}_*.deb"
		done
	fi
	root=$CACHE/root-$kind
	stamp="layout-2"
	for p in $(debs_of "$kind"); do
		stamp="$stamp $(basename "$(deb_file "$p")")"
	done
	if [ -f "$root/.debs" ] && [ "$(cat "$root/.debs")" = "$stamp" ]; then
		return 0
	fi
	[ "$(id -u)" = 0 ] || skip "cannot unpack into $root (not root)"
	# Under a lock: tests running in parallel may fetch at the same time.
	tmp=$root.tmp.$$
	rm -rf "$tmp" && mkdir -p "$tmp" || die "cannot create $tmp"
	for p in $(debs_of "$kind"); do
		dpkg-deb -x "$(deb_file "$p")" "$tmp" || { rm -rf "$tmp"; die "dpkg-deb -x $(deb_file "$p") failed"; }
	done
	# What the maintainer scripts would do that the servers rely on:
	# Courier's alternatives (makeimapaccess runs /usr/bin/makedat).
	for f in makedat maildirmake deliverquota; do
		[ -e "$tmp/usr/bin/$f.courier" ] && ln -s "$f.courier" "$tmp/usr/bin/$f"
	done
	printf '%s\n' "$stamp" >"$tmp/.debs"
	rm -rf "$root.old.$$"
	[ -d "$root" ] && mv "$root" "$root.old.$$"
	mv "$tmp" "$root" || die "cannot move $tmp to $root"
	rm -rf "$root.old.$$"
}

cmd_fetch() {
	kinds=${1:-courier cyrus}
	for k in $kinds; do
		case $k in courier|cyrus) ;; *) usage ;; esac
		if command -v flock >/dev/null 2>&1 && [ -d "$CACHE" ]; then
			# shellcheck disable=SC2016
			flock -w 300 "$CACHE" sh "$0" fetch-unlocked "$k" || exit $?
		else
			fetch_kind "$k"
		fi
	done
}

# make_cert IP: DIR/cert.pem + DIR/key.pem, self-signed EC, CN = IP.
make_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -days 3650 -subj "/CN=$1" \
		-addext "subjectAltName=IP:$1,DNS:old.example.test" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-keyout "$DIR/key.pem" -out "$DIR/cert.pem" \
		</dev/null >>"$DIR/openssl.log" 2>&1 ||
		die "openssl could not make a certificate (see $DIR/openssl.log)"
	chmod 600 "$DIR/key.pem"
	chmod 644 "$DIR/cert.pem"
}

# free_uid: a uid and gid number no account or group of the host uses.
free_uid() {
	n=61000
	while getent passwd "$n" >/dev/null 2>&1 || getent group "$n" >/dev/null 2>&1; do
		n=$((n + 1))
	done
	echo "$n"
}

# add_system_user NAME [GID]: NAME (and a group NAME unless GID is given)
# in this namespace's /etc/passwd and /etc/group only, as the package's
# postinst would add it.
add_system_user() {
	[ -f "$DIR/etc/passwd" ] || cp /etc/passwd "$DIR/etc/passwd" || return 1
	[ -f "$DIR/etc/group" ] || cp /etc/group "$DIR/etc/group" || return 1
	grep -q "^$1:" "$DIR/etc/passwd" && return 0
	u=$(free_uid)
	while grep -q "^[^:]*:[^:]*:$u:" "$DIR/etc/passwd" "$DIR/etc/group"; do u=$((u + 1)); done
	g=${2:-$u}
	[ -n "${2:-}" ] || printf '%s:x:%s:\n' "$1" "$g" >>"$DIR/etc/group"
	printf '%s:x:%s:%s:%s:/nonexistent:/usr/sbin/nologin\n' "$1" "$u" "$g" "$1" >>"$DIR/etc/passwd"
	chmod 644 "$DIR/etc/passwd" "$DIR/etc/group"
}

# setkey FILE KEY VALUE: "KEY: VALUE" (Cyrus) in place of any KEY line.
setkey() {
	grep -v "^$2:" "$1" >"$1.tmp" && printf '%s: %s\n' "$2" "$3" >>"$1.tmp" &&
		mv "$1.tmp" "$1"
}

# setvar FILE NAME VALUE: NAME=VALUE (Courier's sh config files).
setvar() {
	grep -v "^$2=" "$1" >"$1.tmp" && printf '%s=%s\n' "$2" "$3" >>"$1.tmp" &&
		mv "$1.tmp" "$1"
}

configure_courier() {
	r=$ROOT/etc/courier
	e=$DIR/etc/courier
	mkdir -p "$e" "$DIR/mail" || return 1
	for f in authdaemonrc imapd imapd-ssl pop3d pop3d-ssl; do
		cp "$r/$f" "$e/$f" || return 1
	done
	setvar "$e/authdaemonrc" authmodulelist '"authuserdb"'
	for f in imapd pop3d; do
		setvar "$e/$f" ADDRESS "$IP"
	done
	for f in imapd-ssl pop3d-ssl; do
		setvar "$e/$f" SSLADDRESS "$IP"
		setvar "$e/$f" TLS_DHPARAMS /etc/courier/dhparams.pem
		setvar "$e/$f" TLS_CACHEFILE /run/courier/tlscache-"$f"
	done
	setvar "$e/imapd-ssl" TLS_CERTFILE /etc/courier/imapd.pem
	setvar "$e/pop3d-ssl" TLS_CERTFILE /etc/courier/pop3d.pem
	add_system_user courier || return 1
	# couriertls reads the key and the certificate from one file, as the
	# user courier (imaplogin and courierpop3login drop root before
	# STARTTLS): owned by courier, 0600, as Debian's mkimapdcert makes it.
	cu=$(sed -n 's/^courier:x:\([0-9]*\):\([0-9]*\):.*/\1:\2/p' "$DIR/etc/passwd")
	for f in imapd pop3d; do
		cat "$DIR/key.pem" "$DIR/cert.pem" >"$e/$f.pem" && chmod 600 "$e/$f.pem" &&
			chown "$cu" "$e/$f.pem" || return 1
	done
	openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 \
		-out "$e/dhparams.pem" 2>>"$DIR/openssl.log" || return 1
	chmod 644 "$e/dhparams.pem"
	: >"$e/userdb" && chmod 600 "$e/userdb"
	mkdir -p "$DIR/run/courier/authdaemon"
	# The daemons run as root; the mail belongs to `mail` (its uid from
	# the userdb entry).
	chown mail:mail "$DIR/mail" && chmod 755 "$DIR/mail"
	cat >"$DIR/daemons.sh" <<'EOF'
/usr/sbin/authdaemond start || exit 1
/usr/sbin/imapd start || exit 1
/usr/sbin/pop3d start || exit 1
EOF
	VERSION="Courier-IMAP $(dpkg-deb -f "$(deb_file courier-imap)" Version)"
	SEP=.
	PREFIX=INBOX.
}

configure_cyrus() {
	mkdir -p "$DIR/etc" "$DIR/lib" "$DIR/spool" "$DIR/sieve" "$DIR/run/cyrus/socket" \
		"$DIR/run/cyrus/proc" "$DIR/run/cyrus/lock" || return 1
	# The cyrus user in group mail, as Debian's postinst makes it.
	add_system_user cyrus "$(id -g mail)" || return 1
	uid=$(sed -n 's/^cyrus:x:\([0-9]*\):.*/\1/p' "$DIR/etc/passwd")
	c=$DIR/etc/imapd.conf
	cp "$ROOT/etc/imapd.conf" "$c" || return 1
	setkey "$c" configdirectory "$DIR/lib"
	setkey "$c" partition-default "$DIR/spool"
	setkey "$c" sievedir "$DIR/sieve"
	grep -v '^partition-news:\|^newsspool:' "$c" >"$c.tmp" && mv "$c.tmp" "$c"
	setkey "$c" popminpoll 0
	setkey "$c" munge8bit no
	# An administrator for source_admin_user (a user of that name must
	# still be added, as any other: adduser DIR mmadmin).
	setkey "$c" admins mmadmin
	setkey "$c" tls_server_cert "$DIR/cyrus-cert.pem"
	setkey "$c" tls_server_key "$DIR/cyrus-key.pem"
	if [ "$FULL_LOGIN" = yes ]; then
		setkey "$c" virtdomains userid
		setkey "$c" defaultdomain "$DOMAIN"
	fi
	chmod 644 "$c"
	cp "$DIR/cert.pem" "$DIR/cyrus-cert.pem" && cp "$DIR/key.pem" "$DIR/cyrus-key.pem" || return 1
	chown "$uid:$(id -g mail)" "$DIR/cyrus-cert.pem" "$DIR/cyrus-key.pem"
	chmod 600 "$DIR/cyrus-key.pem"
	# Debian's cyrus.conf, with the services this harness needs, on IP.
	SIEVE_SERVICE=
	if [ "$SIEVE" = yes ]; then
		SIEVE_SERVICE="	sieve		cmd=\"timsieved\" listen=\"$IP:4190\" prefork=0 maxchild=20"
	fi
	cat >"$DIR/etc/cyrus.conf" <<EOF
# Debian 12's /etc/cyrus.conf, trimmed by oldserver.sh: imap and pop3 on
# $IP only, lmtp on its unix socket; no nntp, http, sieve or notify.
START {
	recover		cmd="/usr/sbin/cyrus ctl_cyrusdb -r"
}
SERVICES {
	imap		cmd="imapd -U 30" listen="$IP:143" prefork=0 maxchild=100
	pop3		cmd="pop3d -U 30" listen="$IP:110" prefork=0 maxchild=50
	lmtpunix	cmd="lmtpd" listen="/run/cyrus/socket/lmtp" prefork=0 maxchild=20
$SIEVE_SERVICE
}
EVENTS {
	checkpoint	cmd="/usr/sbin/cyrus ctl_cyrusdb -c" period=30
}
EOF
	chmod 644 "$DIR/etc/cyrus.conf"
	chown "$uid:$(id -g mail)" "$DIR/lib" "$DIR/spool" "$DIR/sieve" \
		"$DIR/run/cyrus" "$DIR/run/cyrus/socket" "$DIR/run/cyrus/proc" "$DIR/run/cyrus/lock"
	chmod 750 "$DIR/lib" "$DIR/spool"
	cat >"$DIR/daemons.sh" <<'EOF'
# The control and spool directories, as Debian's postinst makes them.
/usr/lib/cyrus/bin/makedirs >>"$OLDSRV_DIR/master.log" 2>&1 || exit 1
# Foreground master, in the background of the namespace's first shell.
/usr/sbin/cyrmaster -C /etc/imapd.conf -M /etc/cyrus.conf -p /run/cyrus-master.pid \
	</dev/null >>"$OLDSRV_DIR/master.log" 2>&1 &
EOF
	VERSION="Cyrus IMAP $(dpkg-deb -f "$(deb_file cyrus-imapd)" Version)"
	SEP=.
	PREFIX=INBOX.
}

# The namespace's first process: mounts, syslog, the daemons, then it
# waits (holding the namespace open for adduser until stop).
write_nsinit() {
	cat >"$DIR/nsinit.sh" <<'EOF'
set -u
D=$OLDSRV_DIR
R=$OLDSRV_ROOT
readlink /proc/self/ns/mnt >"$D/mntns.tmp"
mount -t overlay overlay -o "lowerdir=$R/usr:/usr" /usr || exit 1
mount -t overlay overlay -o "lowerdir=$R/etc:/etc,upperdir=$D/etc,workdir=$D/etc.work" /etc || exit 1
mount --bind "$D/run" /run || exit 1
mkdir -p "$D/dev"
mount -t tmpfs -o mode=755,size=1m tmpfs "$D/dev" || exit 1
for n in null zero full random urandom tty; do
	: >"$D/dev/$n" && mount --bind "/dev/$n" "$D/dev/$n" || exit 1
done
ln -s /proc/self/fd "$D/dev/fd"
ln -s /proc/self/fd/0 "$D/dev/stdin"
ln -s /proc/self/fd/1 "$D/dev/stdout"
ln -s /proc/self/fd/2 "$D/dev/stderr"
mkdir "$D/dev/shm" "$D/dev/pts"
mount --move "$D/dev" /dev || exit 1
# syslog: every datagram on /dev/log, one line each, to $D/syslog.
"$OLDSRV_PYTHON" -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
os.chmod("/dev/log", 0o666)
out = open(sys.argv[1], "ab", buffering=0)
while True:
    out.write(s.recv(65536).rstrip(b"\0\n") + b"\n")
' "$D/syslog" </dev/null >>"$D/nsinit.log" 2>&1 &
n=0
while [ ! -S /dev/log ] && [ "$n" -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
[ -S /dev/log ] || { echo "no /dev/log"; exit 1; }
. "$D/daemons.sh" || exit 1
mv "$D/mntns.tmp" "$D/mntns"
exec sleep 2147483647
EOF
}

# ns_pids: processes in DIR's mount namespace (none when it is unknown, is
# this shell's own namespace, or is not DIR's: a namespace number can be
# used again once its processes are gone, so each process must also see
# DIR/run mounted on /run).
ns_pids() {
	[ -s "$DIR/mntns" ] || [ -s "$DIR/mntns.tmp" ] || return 0
	ns=$(cat "$DIR/mntns" 2>/dev/null || cat "$DIR/mntns.tmp" 2>/dev/null)
	case $ns in mnt:\[[0-9]*\]) ;; *) return 0 ;; esac
	[ "$ns" != "$(readlink /proc/self/ns/mnt)" ] || return 0
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$ns" ] || continue
		# mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT ...
		awk -v r="$DIR/run" '$4 == r && $5 == "/run" { f = 1 } END { exit !f }' \
			"$p/mountinfo" 2>/dev/null && echo "${p#/proc/}"
	done
}

cmd_start() {
	KIND=${1:-}
	case $KIND in courier|cyrus) ;; *) usage ;; esac
	set_dir "${2:-}"
	IP=${3:-}
	case $IP in
	127.*.*.*) ;;
	*) die "IP must be a 127.x.y.z loopback address, got '$IP'" ;;
	esac
	[ "$(id -u)" = 0 ] || skip "needs root (mount namespaces)"
	for t in unshare nsenter mount dpkg-deb openssl "$PYTHON"; do
		command -v "$t" >/dev/null 2>&1 || skip "$t not installed"
	done
	DOMAIN=${MM_OLDSRV_DOMAIN:-example.test}
	FULL_LOGIN=${MM_OLDSRV_FULL_LOGIN:-yes}
	case $FULL_LOGIN in yes|no) ;; *) die "MM_OLDSRV_FULL_LOGIN must be yes or no" ;; esac
	SIEVE=${MM_OLDSRV_SIEVE:-no}
	case $SIEVE in yes|no) ;; *) die "MM_OLDSRV_SIEVE must be yes or no" ;; esac
	[ "$KIND" = cyrus ] || SIEVE=no
	SIEVE_PORT=0
	SIEVE_CHECK=
	if [ "$SIEVE" = yes ]; then
		SIEVE_PORT=4190
		SIEVE_CHECK="$KIND sieve=$IP:4190"
	fi
	cmd_fetch "$KIND"
	ROOT=$CACHE/root-$KIND
	[ -z "$(ns_pids)" ] || die "$DIR: a server is still running there (oldserver.sh stop $DIR)"
	# shellcheck disable=SC2086  # SIEVE_CHECK: one word or none
	"$PYTHON" "$HERE/netcheck.py" free "$KIND imap=$IP:143" "$KIND pop3=$IP:110" \
		${SIEVE_CHECK:+"$SIEVE_CHECK"} >&2 || exit 3
	rm -rf "${DIR:?}/etc" "${DIR:?}/etc.work" "${DIR:?}/run" "${DIR:?}/dev" \
		"$DIR/mntns" "$DIR/mntns.tmp"
	mkdir -p "$DIR/etc" "$DIR/etc.work" "$DIR/run" || die "cannot create $DIR"
	chmod 755 "$DIR" "$DIR/run"
	: >"$DIR/syslog"
	make_cert "$IP"
	"configure_$KIND" || die "cannot configure $KIND in $DIR"
	write_nsinit
	OLDSRV_DIR=$DIR OLDSRV_ROOT=$ROOT OLDSRV_PYTHON=$PYTHON \
		setsid unshare --mount --propagation private sh "$DIR/nsinit.sh" \
		</dev/null >>"$DIR/nsinit.log" 2>&1 &
	echo $! >"$DIR/holder.pid"
	n=0
	while [ ! -s "$DIR/mntns" ] && [ "$n" -lt $((START_TIMEOUT * 10)) ]; do
		kill -0 "$(cat "$DIR/holder.pid")" 2>/dev/null || break
		sleep 0.1
		n=$((n + 1))
	done
	if [ ! -s "$DIR/mntns" ]; then
		tail -n 20 "$DIR/nsinit.log" "$DIR/syslog" "$DIR/master.log" >&2 2>/dev/null
		cmd_stop "$DIR" >/dev/null 2>&1
		die "$KIND did not start (see $DIR/nsinit.log, $DIR/syslog)"
	fi
	if ! "$PYTHON" "$HERE/netcheck.py" wait "$START_TIMEOUT" \
	    "$KIND imap=$IP:143" "$KIND pop3=$IP:110" ${SIEVE_CHECK:+"$SIEVE_CHECK"} >&2; then
		tail -n 20 "$DIR/nsinit.log" "$DIR/syslog" "$DIR/master.log" >&2 2>/dev/null
		cmd_stop "$DIR" >/dev/null 2>&1
		die "$KIND did not listen on $IP (see $DIR/syslog)"
	fi
	cat >"$DIR/env.tmp" <<EOF
# Written by oldserver.sh start; source it.  No secrets in here.
OLDSRV_KIND='$KIND'
OLDSRV_VERSION='$VERSION'
OLDSRV_DIR='$DIR'
OLDSRV_IP='$IP'
OLDSRV_IMAP_PORT=143
OLDSRV_POP3_PORT=110
OLDSRV_SIEVE_PORT=$SIEVE_PORT
OLDSRV_SEP='$SEP'
OLDSRV_PREFIX='$PREFIX'
OLDSRV_CA_FILE='$DIR/cert.pem'
OLDSRV_LOG='$DIR/syslog'
OLDSRV_DOMAIN='$DOMAIN'
OLDSRV_FULL_LOGIN='$FULL_LOGIN'
export OLDSRV_KIND OLDSRV_VERSION OLDSRV_DIR OLDSRV_IP OLDSRV_IMAP_PORT OLDSRV_POP3_PORT
export OLDSRV_SEP OLDSRV_PREFIX OLDSRV_CA_FILE OLDSRV_LOG OLDSRV_DOMAIN OLDSRV_FULL_LOGIN
EOF
	mv "$DIR/env.tmp" "$DIR/env"
}

# in_ns CMD...: run CMD in DIR's namespace.
in_ns() {
	h=$(cat "$DIR/holder.pid" 2>/dev/null) || die "$DIR: not started"
	[ "$(readlink "/proc/$h/ns/mnt" 2>/dev/null)" = "$(cat "$DIR/mntns" 2>/dev/null)" ] ||
		die "$DIR: the server is not running"
	nsenter -t "$h" -m -- "$@"
}

cmd_adduser() {
	set_dir "${1:-}"
	user=${2:-}
	[ -n "$user" ] || usage
	[ -f "$DIR/env" ] || die "$DIR: not started"
	# shellcheck disable=SC1091
	. "$DIR/env"
	case $user in
	*[!A-Za-z0-9._@-]*|@*|*@) die "user '$user': only A-Z a-z 0-9 . _ - and one @" ;;
	*@*@*) die "user '$user': more than one @" ;;
	esac
	local=${user%%@*}
	# The password: stdin, one trailing newline dropped; never argv.
	pw=$("$PYTHON" -c '
import sys
p = sys.stdin.buffer.read()
if p.endswith(b"\n"): p = p[:-1]
if not p or any(c in p for c in b"\0\r\n"):
    sys.exit("empty password, or one with NUL, CR or LF")
sys.stdout.buffer.write(p)') || die "bad password on stdin"
	case $OLDSRV_KIND in
	courier)
		home=$DIR/mail/$local
		if [ ! -d "$home" ]; then
			mkdir -p "$home" && in_ns maildirmake.courier "$home/Maildir" &&
				chown -R mail:mail "$home" || die "cannot make $home/Maildir"
		fi
		hash=$(printf '%s' "$pw" | openssl passwd -6 -stdin) || die "openssl passwd failed"
		fields="uid=$(id -u mail)|gid=$(id -g mail)|home=$home|mail=$home/Maildir|systempw=$hash"
		names=$local
		if [ "$OLDSRV_FULL_LOGIN" = yes ]; then
			names="$local $local@$OLDSRV_DOMAIN"
			case $user in *@*) names="$local $user" ;; esac
		fi
		# Written inside the namespace: /etc there is an overlay, whose
		# upper directory must not change under it.
		# shellcheck disable=SC2016,SC2086  # expanded by the inner sh; names
		printf '%s\n' "$fields" | in_ns sh -c '
			IFS= read -r fields || exit 1
			db=/etc/courier/userdb
			umask 077
			for n in "$@"; do
				awk -v n="$n" -F "\t" "\$1 != n" "$db" >"$db.tmp" &&
					printf "%s\t%s\n" "$n" "$fields" >>"$db.tmp" &&
					mv "$db.tmp" "$db" || exit 1
			done' sh $names || die "cannot write userdb"
		in_ns makeuserdb >>"$DIR/nsinit.log" 2>&1 || die "makeuserdb failed"
		;;
	cyrus)
		# saslpasswd2 -p reads the password from stdin.  Without
		# virtual domains the realm is the server's name; with
		# virtdomains: userid the login's domain (none for the
		# default domain).
		printf '%s' "$pw" | in_ns saslpasswd2 -p -c -f /etc/sasldb2 "$local" ||
			die "saslpasswd2 failed"
		# Readable by cyrus, as Debian has it (group sasl there).
		in_ns sh -c 'chown cyrus /etc/sasldb2 && chmod 640 /etc/sasldb2' ||
			die "cannot hand /etc/sasldb2 to cyrus"
		case $user in
		*@*) [ "${user#*@}" = "$OLDSRV_DOMAIN" ] ||
			die "user '$user': this Cyrus serves $OLDSRV_DOMAIN only" ;;
		esac
		;;
	esac
}

cmd_stop() {
	set_dir "${1:-}"
	pids=$(ns_pids)
	[ -n "$pids" ] || return 0
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null
	n=0
	while [ -n "$(ns_pids)" ] && [ "$n" -lt 50 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	pids=$(ns_pids)
	if [ -n "$pids" ]; then
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null
		n=0
		while [ -n "$(ns_pids)" ] && [ "$n" -lt 50 ]; do
			sleep 0.1
			n=$((n + 1))
		done
	fi
	pids=$(ns_pids)
	if [ -n "$pids" ]; then
		echo "$PROG: processes left in $DIR's namespace: $pids" >&2
		return 1
	fi
	rm -f "$DIR/mntns"
	return 0
}

cmd_procs() {
	set_dir "${1:-}"
	for p in $(ns_pids); do
		printf '%s %s\n' "$p" "$(tr '\0\n' '  ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-200)"
	done
}

case ${1:-} in
fetch) shift; cmd_fetch "$@" ;;
fetch-unlocked) fetch_kind "$2" ;;
start) shift; cmd_start "$@" ;;
adduser) shift; cmd_adduser "$@" ;;
stop) shift; cmd_stop "$@" ;;
procs) shift; cmd_procs "$@" ;;
*) usage ;;
esac
