#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_packages.sh - the Debian packages, end to end, on this machine:
# dpkg-buildpackage -b -us -uc in a copy of the tree (nothing is left in
# the tree), lintian clean at its default level (no error, no warning),
# installed with dpkg: the mailmigrate user and group, /var/lib/mailmigrate
# 2770 with a store made by `mailmigrate init`, the keys, the Dovecot ABI
# dependency, the systemd units' user and hardening; the installed daemons
# started as root run as mailmigrate; the demo runs against the installed
# programs; purged, the store and keys stay unless the debconf question
# mailmigrate/purge_store says otherwise; at the end nothing is installed.
#
# Once per CI run: skipped in the PostgreSQL pass (the packages do not
# depend on the store backend), in `make distcheck` (no debian/ there),
# and on a machine where mailmigrate is installed or has a store already.

if [ "${MM_TEST_BACKEND:-lmdb}" != lmdb ]; then
	echo "test_packages: SKIP: the packages are tested once, in the LMDB pass" >&2
	exit 77
fi
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
top=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
for t in dpkg-buildpackage lintian debconf-set-selections git; do
	command -v "$t" >/dev/null 2>&1 || skip "$t not installed (tests/install-deps.sh)"
done
[ -f "$top/debian/control" ] || skip "no debian/ in $top"
[ "$(git -C "$top" rev-parse --show-toplevel 2>/dev/null)" = "$top" ] ||
	skip "$top is not a git checkout (distcheck): the packages are built from one"
for p in mailmigrate dovecot-mailmigrate; do
	case $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) in
	''|not-installed) ;;
	*) skip "$p is on this machine already: not touching it" ;;
	esac
done
[ ! -e /var/lib/mailmigrate ] || skip "/var/lib/mailmigrate exists: not touching it"
[ ! -e /etc/mailmigrate ] || skip "/etc/mailmigrate exists: not touching it"

work=$(mm_tmpdir)
mm_cleanup_dir "$work"
had_user=no
! id mailmigrate >/dev/null 2>&1 || had_user=yes

# debconf forgets mailmigrate's answers (a purge does, but not of a
# question answered while the package was not installed).
forget_answers() {
	echo PURGE | debconf-communicate mailmigrate >/dev/null 2>&1
	return 0
}
forget_answers
# Whatever happens, the machine is left as it was.
restore() {
	echo "mailmigrate mailmigrate/purge_store boolean true" | debconf-set-selections
	dpkg --purge dovecot-mailmigrate mailmigrate >/dev/null 2>&1
	forget_answers
	rm -rf /var/lib/mailmigrate /etc/mailmigrate /run/mailmigrate
	if [ "$had_user" = no ] && id mailmigrate >/dev/null 2>&1; then
		userdel mailmigrate 2>/dev/null
		groupdel mailmigrate 2>/dev/null
	fi
	return 0
}
mm_at_exit restore

installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

t_build() {
	# The tree as git sees it (tracked and new files, not ignored ones).
	mkdir -p "$work/src" || return 1
	(cd "$top" && git ls-files -co --exclude-standard -z | xargs -0 tar -cf -) |
		tar -xf - -C "$work/src" || return 1
	before=$(cd "$top" && git status --porcelain --ignored -- debian | sort)
	(cd "$work/src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
		dpkg-buildpackage -b -us -uc) >"$work/build.log" 2>&1 || {
		tail -n 30 "$work/build.log"; return 1; }
	ls "$work"/mailmigrate_*.changes "$work"/mailmigrate_*.deb \
		"$work"/dovecot-mailmigrate_*.deb >/dev/null || return 1
	after=$(cd "$top" && git status --porcelain --ignored -- debian | sort)
	[ "$before" = "$after" ] || { echo "the build touched $top/debian"; return 1; }
}

t_lintian() {
	lintian --fail-on error,warning "$work"/mailmigrate_*.changes >"$work/lintian.out" 2>&1
	rc=$?
	grep -v 'running with root privileges' "$work/lintian.out"
	[ "$rc" = 0 ] && ! grep -q '^[EW]: ' "$work/lintian.out"
}

t_install() {
	DEBIAN_FRONTEND=noninteractive dpkg -i "$work"/mailmigrate_*_*.deb \
		"$work"/dovecot-mailmigrate_*_*.deb >"$work/install.log" 2>&1 || {
		cat "$work/install.log"; return 1; }
	installed mailmigrate && installed dovecot-mailmigrate || return 1
	uid=$(id -u mailmigrate) || return 1
	[ "$uid" -lt 1000 ] || { echo "mailmigrate uid $uid is not a system uid"; return 1; }
	getent group mailmigrate >/dev/null || return 1
	assert_eq "mailmigrate mailmigrate 2770" \
		"$(stat -c '%U %G %a' /var/lib/mailmigrate)" "/var/lib/mailmigrate"
	assert_eq "mailmigrate mailmigrate" \
		"$(stat -c '%U %G' /var/lib/mailmigrate/data.mdb)" "the store made by init"
	assert_eq "mailmigrate mailmigrate 600" \
		"$(stat -c '%U %G %a' /etc/mailmigrate/secret.key)" "secret.key"
	assert_eq "mailmigrate mailmigrate 640" \
		"$(stat -c '%U %G %a' /etc/mailmigrate/secret.key.pub)" "secret.key.pub"
	id -nG dovecot | tr ' ' '\n' | grep -qx mailmigrate ||
		{ echo "dovecot is not in group mailmigrate"; return 1; }
	/usr/sbin/mailmigrate stats >/dev/null || return 1
}

t_abi_depends() {
	deps=$(dpkg-query -W -f='${Depends}' dovecot-mailmigrate)
	assert_contains "$deps" "dovecot-abi-$(cat /usr/share/dovecot/dovecot-abi)" \
		"dovecot-mailmigrate's Depends"
}

t_units() {
	for u in mailmigrated mailmigrate-relay; do
		f=/lib/systemd/system/$u.service
		for want in User=mailmigrate Group=mailmigrate NoNewPrivileges=yes \
			ProtectSystem=strict PrivateTmp=yes ProtectHome=yes \
			ReadWritePaths=/var/lib/mailmigrate "ExecStart=/usr/sbin/$u -f"; do
			grep -qx "$want" "$f" || { echo "$f: no $want"; return 1; }
		done
	done
	if command -v systemd-analyze >/dev/null 2>&1; then
		systemd-analyze verify /lib/systemd/system/mailmigrated.service \
			/lib/systemd/system/mailmigrate-relay.service 2>&1 |
			grep -v 'Cannot add dependency job\|not running\|unit file .* does not exist' |
			grep . && return 1
	fi
	return 0
}

# Without systemd (a container), the installed daemons started by hand as
# root with the packaged configuration run as mailmigrate after start-up.
t_daemons_drop() {
	uid=$(id -u mailmigrate)
	/usr/sbin/mailmigrate-relay -f </dev/null >"$work/relay.err" 2>&1 &
	pid=$!
	ok=0
	if wait_for "[ -S /run/mailmigrate/relay.sock ]" 10 &&
	   [ "$(awk '/^Uid:/ { print $2 $3 $4 $5 }' "/proc/$pid/status")" = "$uid$uid$uid$uid" ] &&
	   [ "$(stat -c '%G %a' /run/mailmigrate/relay.sock)" = "postfix 660" ] &&
	   "$PYTHON" "$HARNESS/relayclient.py" query /run/mailmigrate/relay.sock \
		transport nobody@example.com >/dev/null; then
		ok=1
	fi
	kill -TERM "$pid"
	wait_for "! kill -0 $pid" 10
	[ "$ok" = 1 ] || { cat "$work/relay.err"; return 1; }
	[ ! -e /run/mailmigrate/relay.sock ] || { echo "socket left behind"; return 1; }
	# No master password configured yet: the worker fails, after the drop.
	/usr/sbin/mailmigrated -f --once </dev/null >"$work/puller.err" 2>&1
	grep -q "running as mailmigrate (uid $uid," "$work/puller.err" ||
		{ cat "$work/puller.err"; return 1; }
}

t_demo_installed() {
	# The demo's servers on the first loopback pair nothing listens on
	# (other test runs may hold 127.0.0.2/3), as lib.sh chooses.
	n=0
	while [ -n "$(ss -Hltn "( src 127.0.$n.2 or src 127.0.$n.3 )")" ]; do
		n=$((n + 1))
		[ "$n" -lt 16 ] || { echo "no free loopback pair for the demo"; return 1; }
	done
	MM_OLD_IP=127.0.$n.2 MM_NEW_IP=127.0.$n.3 \
		sh "$top/contrib/demo/run-demo.sh" --installed >"$work/demo.log" 2>&1 || {
		tail -n 30 "$work/demo.log"; return 1; }
	grep -q 'landed on NEW' "$work/demo.log"
}

t_purge_keeps_store() {
	# The question's default (no): purging leaves the store and keys.
	DEBIAN_FRONTEND=noninteractive dpkg --purge dovecot-mailmigrate mailmigrate \
		>"$work/purge.log" 2>&1 || { cat "$work/purge.log"; return 1; }
	! installed mailmigrate && ! installed dovecot-mailmigrate || return 1
	[ -f /var/lib/mailmigrate/data.mdb ] || { echo "store removed"; return 1; }
	[ -f /etc/mailmigrate/secret.key ] || { echo "key removed"; return 1; }
	[ ! -e /etc/mailmigrate/mailmigrate.conf ] || { echo "conffile kept"; return 1; }
	! id -nG dovecot | tr ' ' '\n' | grep -qx mailmigrate ||
		{ echo "dovecot still in group mailmigrate"; return 1; }
}

t_purge_when_asked() {
	# Installed again, the store is found and kept as it is.
	DEBIAN_FRONTEND=noninteractive dpkg -i "$work"/mailmigrate_*_*.deb \
		>"$work/install2.log" 2>&1 || { cat "$work/install2.log"; return 1; }
	/usr/sbin/mailmigrate init | grep -q 'already exists' || return 1
	echo "mailmigrate mailmigrate/purge_store boolean true" | debconf-set-selections
	DEBIAN_FRONTEND=noninteractive dpkg --purge mailmigrate \
		>"$work/purge2.log" 2>&1 || { cat "$work/purge2.log"; return 1; }
	[ ! -e /var/lib/mailmigrate ] || { echo "store kept"; return 1; }
	[ ! -e /etc/mailmigrate/secret.key ] || { echo "key kept"; return 1; }
}

t_nothing_left() {
	for p in mailmigrate dovecot-mailmigrate; do
		st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)
		case $st in
		''|not-installed) ;;
		*) echo "$p: $st"; return 1 ;;
		esac
	done
	[ ! -e /usr/sbin/mailmigrate ] &&
		[ ! -e /usr/lib/dovecot/modules/auth/libauthdb_mailmigrate.so ] &&
		[ ! -e /usr/lib/dovecot/modules/doveadm/lib10_doveadm_mailmigrate_plugin.so ] &&
		[ ! -e /lib/systemd/system/mailmigrated.service ]
}

start=$(date +%s)
check "dpkg-buildpackage -b -us -uc in a copy of the tree" t_build
[ "$MM_FAILS" = 0 ] || mm_done
check "lintian: no error, no warning" t_lintian
check "installed: user, group, store 2770, keys, dovecot in the group" t_install
check "dovecot-mailmigrate depends on the Dovecot ABI it was built for" t_abi_depends
check "systemd units: User=mailmigrate and the hardening" t_units
check "the installed daemons started as root run as mailmigrate" t_daemons_drop
check "the demo against the installed programs" t_demo_installed
check "purge keeps the store and keys by default" t_purge_keeps_store
check "purge removes them when asked (debconf)" t_purge_when_asked
check "nothing of mailmigrate is left installed" t_nothing_left
echo "test_packages: $(($(date +%s) - start)) s"
mm_done
