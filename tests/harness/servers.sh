#!/bin/sh
# servers.sh - run a real OLD and NEW mail server (Dovecot + Postfix) on
# loopback for mailmigrate's integration tests.
#
#   servers.sh start DIR                      configure and start all four daemons
#   servers.sh stop DIR                       stop them (never fails if stopped)
#   servers.sh adduser DIR old|new USER@DOM [--nopass]  < password
#   servers.sh procs DIR                      list processes still using DIR
#
# DIR must be short (at most 60 bytes once made absolute: unix sockets are
# limited to 107 bytes); it is created if missing.  After `start`, DIR/env is a shell file
# to source: addresses, ports, config paths, CA file, master user.
#
# OLD ($MM_OLD_IP, default 127.0.0.2): Dovecot IMAP 143 (STARTTLS), IMAPS
#   993, POP3 110 (STLS), POP3S 995, LMTP 24; Postfix 25 delivering
#   $MM_DOMAINS by LMTP into that Dovecot.
# NEW ($MM_NEW_IP, default 127.0.0.3): Dovecot IMAP 143, POP3 110, LMTP 24,
#   master user `mailmigrate` (USER@DOM*mailmigrate); Postfix 25 delivering
#   $MM_NEW_DOMAINS by LMTP.
#
# Optional environment:
#   MM_DOMAINS            domains OLD's Postfix delivers ("example.test example.org")
#   MM_NEW_DOMAINS        domains NEW's Postfix delivers (default $MM_DOMAINS)
#   MM_OLD_SEP, MM_NEW_SEP  IMAP hierarchy separators ("." and "/")
#   MM_OLD_PREFIX         OLD's personal namespace prefix ("" or "INBOX.",
#                         as Courier and Cyrus have it)
#   MM_NEW_TRANSPORT_MAPS NEW's Postfix transport_maps, e.g.
#                         socketmap:unix:DIR/relay.sock:transport (default none)
#   MM_NEW_POSTFIX_MAIN, MM_OLD_POSTFIX_MAIN  files of main.cf "name = value"
#                         lines (# comments, one line each) applied with
#                         postconf -e, e.g. contrib/postfix/main.cf.mailmigrate
#   MM_NEW_POSTFIX_MASTER file of master.cf lines appended to NEW's master.cf
#   MM_NEW_DOVECOT_EXTRA  file appended to NEW's dovecot.conf (local.conf)
#   MM_OLD_DOVECOT_EXTRA  the same for OLD (a master user, a prefix...)
#   MM_NEW_NOTICE_ACL     NEW's global ACL file (default empty), read by
#                         contrib/dovecot/notice-acl.conf.ext, which NEW
#                         always loads: "* user=NOTICE-ACCOUNT lr" lines
#   MM_AUTH_MODULES       .so files to add to Dovecot's auth module dir for
#                         NEW (started in a private mount namespace)
#   MM_DOVEADM_MODULES    .so files to add to doveadm's module dir for NEW:
#                         DIR/new/doveadm (NEW_DOVEADM in DIR/env) runs
#                         doveadm -c NEW's config in a private mount
#                         namespace where /usr/lib/dovecot/modules/doveadm
#                         is a copy holding them (doveadm loads command
#                         plugins only from there, DOVEADM_MODULEDIR)
#   MM_START_TIMEOUT      seconds to wait for the ports (10)
#
# Exit status: 0 ok, 1 failure, 2 usage, 3 (start) a port is already taken.
#
# Passwords never appear on a command line: adduser reads stdin, the master
# password is generated into DIR/new/master.pass (0600).

set -u

HERE=$(cd "$(dirname "$0")" && pwd) || exit 1
PROG=servers.sh
# Debian's interpreter: no wrapper scripts (pyenv shims cost 0.3 s a call).
if [ -z "${PYTHON:-}" ]; then
	if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi

die() {
	echo "$PROG: $*" >&2
	exit 1
}

usage() {
	echo "usage:" >&2
	sed -n '5,8p' "$0" | sed 's/^#//' >&2
	exit 2
}

# Resolve DIR to an absolute path without requiring it to exist.
absdir() {
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s/%s\n' "$(pwd)" "$1" ;;
	esac
}

check_ip() {
	case $1 in
	127.*.*.*) ;;
	*) die "$2 must be a 127.x.y.z loopback address, got '$1'" ;;
	esac
	case $1 in
	*[!0-9.]*) die "$2 is not a dotted IPv4 address: '$1'" ;;
	esac
}

set_defaults() {
	OLD_IP=${MM_OLD_IP:-127.0.0.2}
	NEW_IP=${MM_NEW_IP:-127.0.0.3}
	check_ip "$OLD_IP" MM_OLD_IP
	check_ip "$NEW_IP" MM_NEW_IP
	[ "$OLD_IP" != "$NEW_IP" ] || die "MM_OLD_IP and MM_NEW_IP must differ"
	DOMAINS=${MM_DOMAINS:-example.test example.org}
	NEW_DOMAINS=${MM_NEW_DOMAINS:-$DOMAINS}
	for d in $DOMAINS $NEW_DOMAINS; do
		case $d in
		*[!a-z0-9.-]*|'') die "bad domain '$d' in MM_DOMAINS/MM_NEW_DOMAINS" ;;
		esac
	done
	OLD_SEP=${MM_OLD_SEP:-.}
	NEW_SEP=${MM_NEW_SEP:-/}
	for s in "$OLD_SEP" "$NEW_SEP"; do
		case $s in
		.|/) ;;
		*) die "hierarchy separator must be . or /, got '$s'" ;;
		esac
	done
	TRANSPORT_MAPS=${MM_NEW_TRANSPORT_MAPS:-}
	# shellcheck disable=SC1003
	case $TRANSPORT_MAPS in
	*'|'*|*'&'*|*'\'*) die "MM_NEW_TRANSPORT_MAPS holds | & or \\" ;;
	esac
	START_TIMEOUT=${MM_START_TIMEOUT:-10}
}

set_dir() {
	[ -n "${1:-}" ] || usage
	DIR=$(absdir "$1")
	case $DIR in
	*[!A-Za-z0-9._/-]*) die "DIR '$DIR' may only hold A-Z a-z 0-9 . _ - /" ;;
	esac
	# Longest unix socket: DIR/new/run/ + ~40 bytes of Dovecot socket names.
	[ ${#DIR} -le 60 ] || die "DIR '$DIR' is too long (${#DIR} > 60 bytes; unix sockets max 107)"
}

# subst TEMPLATE SIDE SIDEDIR IP SEP DOMAINS TRANSPORT_MAPS > OUT
subst() {
	sed -e "s|@DIR@|$DIR|g" \
	    -e "s|@SIDE@|$2|g" \
	    -e "s|@SIDEDIR@|$3|g" \
	    -e "s|@IP@|$4|g" \
	    -e "s|@SEP@|$5|g" \
	    -e "s|@DOMAINS@|$6|g" \
	    -e "s|@TRANSPORT_MAPS@|$7|g" \
	    -e "s|@PREFIX@|${MM_OLD_PREFIX:-}|g" \
	    -e "s|@MAIL_UID@|$MAIL_UID|g" \
	    -e "s|@MAIL_GID@|$MAIL_GID|g" \
	    "$1"
}

# make_cert SIDEDIR IP NAME: self-signed EC cert, CN = IP, SAN = IP + name.
make_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -days 3650 -subj "/CN=$2" \
		-addext "subjectAltName=IP:$2,DNS:$3" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-keyout "$1/key.pem" -out "$1/cert.pem" \
		</dev/null >>"$DIR/openssl.log" 2>&1 ||
		die "openssl could not make a certificate (see $DIR/openssl.log)"
	chmod 600 "$1/key.pem"
	chmod 644 "$1/cert.pem"
}

# Postfix queue layout as `postfix set-permissions` makes it, so that the
# quick-start file can skip postfix-script's slow checks.
make_postfix_dirs() {
	(
		cd "$1" || exit 1
		mkdir -p pf-data postfix pf-queue && cd pf-queue &&
		mkdir -p active bounce corrupt defer deferred flush hold incoming \
		    private saved trace maildrop public pid &&
		chown postfix:root active bounce corrupt defer deferred flush hold \
		    incoming private saved trace ../pf-data &&
		chmod 700 active bounce corrupt defer deferred flush hold \
		    incoming private saved trace ../pf-data &&
		chown postfix:postdrop maildrop public &&
		chmod 730 maildrop && chmod 710 public &&
		chown root:root . pid && chmod 755 . pid &&
		: >quick-start
	)
}

# configure_side old|new IP SEP DOMAINS TRANSPORT_MAPS
configure_side() {
	side=$1
	sd=$DIR/$side
	mkdir -p "$sd/mail" "$sd/home" "$sd/run" "$sd/state" || return 1
	chown mail:mail "$sd/mail" "$sd/home"
	chmod 755 "$sd" "$sd/mail" "$sd/home"
	{
		subst "$HERE/dovecot-common.conf.in" "$side" "$sd" "$2" "$3" "$4" "$5"
		echo
		subst "$HERE/$side-dovecot.conf.in" "$side" "$sd" "$2" "$3" "$4" "$5"
	} >"$sd/dovecot.conf" || return 1
	if [ "$side" = new ]; then
		# contrib's notice-account ACL as shipped, with our ACL file.
		sed "s|/etc/dovecot/mailmigrate-notice.acl|$sd/notice.acl|" \
			"$HERE/../../contrib/dovecot/notice-acl.conf.ext" \
			>"$sd/notice-acl.conf" || return 1
		if [ -n "${MM_NEW_NOTICE_ACL:-}" ]; then
			cp "$MM_NEW_NOTICE_ACL" "$sd/notice.acl" || return 1
		else
			: >"$sd/notice.acl"
		fi
		chmod 644 "$sd/notice.acl"
	fi
	[ -f "$sd/users" ] || : >"$sd/users"
	chgrp dovecot "$sd/users" && chmod 640 "$sd/users"
	make_postfix_dirs "$sd" || return 1
	# shellcheck disable=SC2086  # squeeze the blanks of the list
	pdomains=$(echo $4 | sed 's/ /, /g')
	subst "$HERE/postfix-main.cf.in" "$side" "$sd" "$2" "$3" "$pdomains" "$5" \
		>"$sd/postfix/main.cf" || return 1
	subst "$HERE/postfix-master.cf.in" "$side" "$sd" "$2" "$3" "$pdomains" "$5" \
		>"$sd/postfix/master.cf" || return 1
	apply_postfix_extra "$sd/postfix" "$side" "$sd" "$2" "$3" "$pdomains" "$5" || return 1
	# Postfix waits for a main.cf changed in the last seconds to settle.
	touch -d '-1 min' "$sd/postfix/main.cf" "$sd/postfix/master.cf"
}

# apply_postfix_extra CONFDIR SIDE SIDEDIR IP SEP DOMAINS TRANSPORT_MAPS:
# MM_<SIDE>_POSTFIX_MAIN lines through postconf -e (the last setting
# wins), MM_NEW_POSTFIX_MASTER appended; @DIR@, @IP@ and the other
# placeholders of the templates are replaced in both.
apply_postfix_extra() {
	cf=$1
	shift
	if [ "$1" = old ]; then main=${MM_OLD_POSTFIX_MAIN:-}; master=; else
		main=${MM_NEW_POSTFIX_MAIN:-}; master=${MM_NEW_POSTFIX_MASTER:-}; fi
	if [ -n "$main" ]; then
		[ -f "$main" ] || die "MM_$(echo "$1" | tr "[:lower:]" "[:upper:]")_POSTFIX_MAIN: no such file $main"
		subst "$main" "$@" | grep -v '^[[:space:]]*\(#\|$\)' |
		while IFS= read -r line; do
			case $line in
			*=*) ;;
			*) die "$main: not a 'name = value' line: $line" ;;
			esac
			postconf -c "$cf" -e "$line" || die "postconf -e failed for: $line"
		done || return 1
	fi
	if [ -n "$master" ]; then
		[ -f "$master" ] || die "MM_NEW_POSTFIX_MASTER: no such file $master"
		subst "$master" "$@" | grep -v '^#' >>"$cf/master.cf" || return 1
	fi
	return 0
}

# Generate NEW's master password (0600 plain text for the puller) and the
# hashed master passdb Dovecot reads.
make_master_user() {
	sd=$DIR/new
	umask 077
	if [ ! -s "$sd/master.pass" ]; then
		openssl rand -hex 18 >"$sd/master.pass" ||
			die "cannot generate the master password"
	fi
	umask 022
	chmod 600 "$sd/master.pass"
	"$PYTHON" "$HERE/pwfile.py" "$sd/master-users" mailmigrate <"$sd/master.pass" ||
		die "cannot write $sd/master-users"
}

# Set up a private auth module directory (stock modules + MM_AUTH_MODULES).
make_authmods() {
	m=$DIR/new/authmods
	rm -rf "$m" && mkdir -p "$m" || return 1
	cp -p /usr/lib/dovecot/modules/auth/* "$m/" 2>/dev/null
	for so in $MM_AUTH_MODULES; do
		[ -f "$so" ] || die "MM_AUTH_MODULES: no such file $so"
		cp "$so" "$m/" || return 1
	done
	chmod 755 "$m"
}

# A private doveadm module directory (stock plugins + MM_DOVEADM_MODULES)
# and DIR/new/doveadm, a doveadm of NEW's that loads them. Unlike the
# auth modules, nothing of the running server needs them: each doveadm
# run is its own process, so the wrapper makes the namespace per run.
make_doveadm() {
	m=$DIR/new/doveadmmods
	rm -rf "$m" && mkdir -p "$m" || return 1
	cp -p /usr/lib/dovecot/modules/doveadm/* "$m/" 2>/dev/null
	for so in ${MM_DOVEADM_MODULES:-}; do
		[ -f "$so" ] || die "MM_DOVEADM_MODULES: no such file $so"
		cp "$so" "$m/" || return 1
	done
	chmod 755 "$m"
	w=$DIR/new/doveadm
	cat >"$w.tmp" <<EOF &&
#!/bin/sh
# Written by servers.sh: NEW's doveadm, with MM_DOVEADM_MODULES loaded.
exec unshare --mount --propagation private sh -c \\
    'mount --bind "\$0" /usr/lib/dovecot/modules/doveadm && c=\$1 && shift && exec doveadm -c "\$c" "\$@"' \\
    '$m' '$DIR/new/dovecot.conf' "\$@"
EOF
	chmod 755 "$w.tmp" && mv "$w.tmp" "$w"
}

# Stop what did start, then fail: a half-started set is never left behind.
start_failed() {
	cmd_stop "$DIR" >/dev/null 2>&1
	die "$* (everything stopped again)"
}

# start_dovecot old|new
start_dovecot() {
	sd=$DIR/$1
	log=$sd/dovecot.log
	if [ "$1" = new ] && [ -n "${MM_AUTH_MODULES:-}" ]; then
		make_authmods || die "cannot prepare $DIR/new/authmods"
		# shellcheck disable=SC2016  # expanded by the inner sh
		unshare --mount --propagation private sh -c \
		    'mount --bind "$1" /usr/lib/dovecot/modules/auth && exec dovecot -c "$2"' \
		    sh "$sd/authmods" "$sd/dovecot.conf" </dev/null >>"$log" 2>&1
	else
		dovecot -c "$sd/dovecot.conf" </dev/null >>"$log" 2>&1
	fi || {
		tail -n 20 "$log" >&2
		start_failed "$(echo "$1" | tr "[:lower:]" "[:upper:]") dovecot failed to start (log: $log)"
	}
}

start_postfix() {
	sd=$DIR/$1
	postfix -c "$sd/postfix" start </dev/null >>"$sd/postfix-start.log" 2>&1 || {
		tail -n 20 "$sd/postfix-start.log" "$sd/postfix.log" >&2 2>/dev/null
		start_failed "$(echo "$1" | tr "[:lower:]" "[:upper:]") postfix failed to start (logs: $sd/postfix-start.log $sd/postfix.log)"
	}
}

write_env() {
	tmp=$DIR/env.tmp
	cat >"$tmp" <<EOF
# Written by servers.sh start; source it.  No secrets in here.
MM_DIR='$DIR'
OLD_IP='$OLD_IP'
NEW_IP='$NEW_IP'
OLD_IMAP_PORT=143
OLD_IMAPS_PORT=993
OLD_POP3_PORT=110
OLD_POP3S_PORT=995
OLD_SMTP_PORT=25
OLD_LMTP_PORT=24
NEW_IMAP_PORT=143
NEW_POP3_PORT=110
NEW_SMTP_PORT=25
NEW_LMTP_PORT=24
OLD_SEP='$OLD_SEP'
NEW_SEP='$NEW_SEP'
OLD_DOMAINS='$DOMAINS'
NEW_DOMAINS='$NEW_DOMAINS'
OLD_DOVECOT_CONF='$DIR/old/dovecot.conf'
NEW_DOVECOT_CONF='$DIR/new/dovecot.conf'
OLD_DOVECOT_LOG='$DIR/old/dovecot.log'
NEW_DOVECOT_LOG='$DIR/new/dovecot.log'
OLD_POSTFIX_DIR='$DIR/old/postfix'
NEW_POSTFIX_DIR='$DIR/new/postfix'
OLD_POSTFIX_LOG='$DIR/old/postfix.log'
NEW_POSTFIX_LOG='$DIR/new/postfix.log'
OLD_USERS_FILE='$DIR/old/users'
NEW_USERS_FILE='$DIR/new/users'
NEW_MASTER_USER=mailmigrate
NEW_MASTER_PASS_FILE='$DIR/new/master.pass'
CA_FILE='$DIR/ca.pem'
OLD_CERT_FILE='$DIR/old/cert.pem'
NEW_CERT_FILE='$DIR/new/cert.pem'
OLD_MAILDIR_ROOT='$DIR/old/mail'
NEW_MAILDIR_ROOT='$DIR/new/mail'
NEW_DOVEADM='$DIR/new/doveadm'
SERVERS_SH='$HERE/servers.sh'
export MM_DIR OLD_IP NEW_IP OLD_IMAP_PORT OLD_IMAPS_PORT OLD_POP3_PORT \\
  OLD_POP3S_PORT OLD_SMTP_PORT OLD_LMTP_PORT NEW_IMAP_PORT NEW_POP3_PORT \\
  NEW_SMTP_PORT NEW_LMTP_PORT OLD_SEP NEW_SEP OLD_DOMAINS NEW_DOMAINS \\
  OLD_DOVECOT_CONF NEW_DOVECOT_CONF OLD_DOVECOT_LOG NEW_DOVECOT_LOG \\
  OLD_POSTFIX_DIR NEW_POSTFIX_DIR OLD_POSTFIX_LOG NEW_POSTFIX_LOG \\
  OLD_USERS_FILE NEW_USERS_FILE NEW_MASTER_USER NEW_MASTER_PASS_FILE \\
  CA_FILE OLD_CERT_FILE NEW_CERT_FILE OLD_MAILDIR_ROOT NEW_MAILDIR_ROOT \\
  NEW_DOVEADM SERVERS_SH
EOF
	mv "$tmp" "$DIR/env"
}

cmd_start() {
	set_dir "${1:-}"
	set_defaults
	for t in dovecot doveadm postfix openssl "$PYTHON"; do
		command -v "$t" >/dev/null 2>&1 || die "$t not found (run tests/install-deps.sh)"
	done
	[ "$(id -u)" = 0 ] || die "must run as root"
	MAIL_UID=$(id -u mail 2>/dev/null) || die "no 'mail' user on this system"
	MAIL_GID=$(id -g mail 2>/dev/null) || die "no 'mail' group on this system"
	for s in old new; do
		if [ -f "$DIR/$s/run/master.pid" ] &&
		    ours "$(cat "$DIR/$s/run/master.pid")"; then
			die "servers already running in $DIR (run: $PROG stop $DIR)"
		fi
	done

	"$PYTHON" "$HERE/netcheck.py" free \
		"OLD imap=$OLD_IP:143" "OLD imaps=$OLD_IP:993" \
		"OLD pop3=$OLD_IP:110" "OLD pop3s=$OLD_IP:995" \
		"OLD lmtp=$OLD_IP:24" "OLD smtp=$OLD_IP:25" \
		"NEW imap=$NEW_IP:143" "NEW pop3=$NEW_IP:110" \
		"NEW lmtp=$NEW_IP:24" "NEW smtp=$NEW_IP:25" >&2 || {
		echo "$PROG: cannot start: port(s) above are taken (another test run, or a system dovecot/postfix?)" >&2
		exit 3
	}

	mkdir -p "$DIR/old" "$DIR/new" || die "cannot create $DIR"
	chmod 755 "$DIR" "$DIR/old" "$DIR/new"
	umask 022

	make_cert "$DIR/old" "$OLD_IP" old.example.test
	make_cert "$DIR/new" "$NEW_IP" new.example.test
	cat "$DIR/old/cert.pem" "$DIR/new/cert.pem" >"$DIR/ca.pem"
	chmod 644 "$DIR/ca.pem"

	configure_side old "$OLD_IP" "$OLD_SEP" "$DOMAINS" "" ||
		die "cannot write OLD configuration under $DIR/old"
	configure_side new "$NEW_IP" "$NEW_SEP" "$NEW_DOMAINS" "$TRANSPORT_MAPS" ||
		die "cannot write NEW configuration under $DIR/new"
	rm -f "$DIR/new/local.conf" "$DIR/old/local.conf"
	if [ -n "${MM_OLD_DOVECOT_EXTRA:-}" ]; then
		cp "$MM_OLD_DOVECOT_EXTRA" "$DIR/old/local.conf" ||
			die "cannot copy MM_OLD_DOVECOT_EXTRA=$MM_OLD_DOVECOT_EXTRA"
	fi
	if [ -n "${MM_NEW_DOVECOT_EXTRA:-}" ]; then
		cp "$MM_NEW_DOVECOT_EXTRA" "$DIR/new/local.conf" ||
			die "cannot copy MM_NEW_DOVECOT_EXTRA=$MM_NEW_DOVECOT_EXTRA"
	fi
	make_master_user

	start_dovecot old
	make_doveadm || die "cannot prepare $DIR/new/doveadm"
	start_dovecot new
	start_postfix old
	start_postfix new

	"$PYTHON" "$HERE/netcheck.py" wait "$START_TIMEOUT" \
		"OLD dovecot imap (log $DIR/old/dovecot.log)=$OLD_IP:143" \
		"OLD dovecot imaps (log $DIR/old/dovecot.log)=$OLD_IP:993" \
		"OLD dovecot pop3 (log $DIR/old/dovecot.log)=$OLD_IP:110" \
		"OLD dovecot pop3s (log $DIR/old/dovecot.log)=$OLD_IP:995" \
		"OLD dovecot lmtp (log $DIR/old/dovecot.log)=$OLD_IP:24" \
		"OLD postfix smtp (log $DIR/old/postfix.log)=$OLD_IP:25" \
		"NEW dovecot imap (log $DIR/new/dovecot.log)=$NEW_IP:143" \
		"NEW dovecot pop3 (log $DIR/new/dovecot.log)=$NEW_IP:110" \
		"NEW dovecot lmtp (log $DIR/new/dovecot.log)=$NEW_IP:24" \
		"NEW postfix smtp (log $DIR/new/postfix.log)=$NEW_IP:25" >&2 ||
		start_failed "servers did not come up in ${START_TIMEOUT}s"
	write_env
}

# ours PID: PID is alive and belongs to this DIR (its command line names a
# file in DIR, or it runs in DIR): a stale pid file never hits a stranger.
ours() {
	case $1 in
	''|*[!0-9]*) return 1 ;;
	esac
	kill -0 "$1" 2>/dev/null || return 1
	case $(readlink "/proc/$1/cwd" 2>/dev/null) in
	"$DIR"/*) return 0 ;;
	esac
	tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "$DIR/"
}

cmd_procs() {
	set_dir "${1:-}"
	"$PYTHON" "$HERE/procs.py" "$DIR"
}

# pgrp_alive PGID: some member of the process group is alive.  Zombies do
# not count: the daemons are orphans and the container's init may take a
# second or two to reap them.
pgrp_alive() {
	ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'
}

# Wait up to $2 tenths of a second for process group $1 to disappear.
wait_pgrp_gone() {
	n=0
	while pgrp_alive "$1"; do
		[ "$n" -ge "$2" ] && return 1
		sleep 0.1
		n=$((n + 1))
	done
	return 0
}

cmd_stop() {
	set_dir "${1:-}"
	[ -d "$DIR" ] || return 0
	groups=
	for s in old new; do
		pf=$DIR/$s/pf-queue/pid/master.pid
		if [ -f "$pf" ]; then
			pid=$(awk '{print $1; exit}' "$pf")
			# `postfix abort` just signals the master; we do the waiting.
			if ours "$pid"; then
				postfix -c "$DIR/$s/postfix" abort >/dev/null 2>&1 ||
					kill -TERM "$pid" 2>/dev/null
				groups="$groups $pid"
			fi
		fi
		df=$DIR/$s/run/master.pid
		if [ -f "$df" ]; then
			pid=$(cat "$df")
			if ours "$pid"; then
				# The master is a session leader: signal its whole group.
				kill -TERM "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
				groups="$groups $pid"
			fi
		fi
	done
	for g in $groups; do
		wait_pgrp_gone "$g" 50 || {
			echo "$PROG: process group $g did not stop in 5s, killing" >&2
			kill -KILL "-$g" 2>/dev/null
			wait_pgrp_gone "$g" 20
		}
	done
	# Anything left (a stray child that changed its process group).
	left=$("$PYTHON" "$HERE/procs.py" --kill "$DIR") || {
		echo "$PROG: killed leftover processes using $DIR:" >&2
		printf '%s\n' "$left" >&2
		sleep 0.1
	}
	rm -f "$DIR/old/run/master.pid" "$DIR/new/run/master.pid"
	return 0
}

cmd_adduser() {
	set_dir "${1:-}"
	side=${2:-}
	user=${3:-}
	case $side in
	old|new) ;;
	*) usage ;;
	esac
	case $user in
	?*@?*) ;;
	*) die "adduser: want USER@DOMAIN, got '$user'" ;;
	esac
	shift 3
	opt=
	case ${1:-} in
	--nopass) opt=--nopass ;;
	'') ;;
	*) usage ;;
	esac
	[ -f "$DIR/$side/dovecot.conf" ] || die "no $side server configured in $DIR (run start first)"
	"$PYTHON" "$HERE/pwfile.py" $opt "$DIR/$side/users" "$user" || die "adduser $side $user failed"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
adduser) cmd_adduser "$@" ;;
procs) cmd_procs "$@" ;;
*) usage ;;
esac
