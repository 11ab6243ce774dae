#!/bin/sh
# install-deps.sh - install the Debian 12 packages mailmigrate's build and
# tests need.  Idempotent: does nothing (and prints nothing) when all are
# present; otherwise runs `apt-get update` once and installs the missing
# ones non-interactively.  Must run as root.
#
# Postfix is preseeded to "No configuration", and while installing, a
# temporary /usr/sbin/policy-rc.d (exit 101) keeps the system's Dovecot
# and Postfix from starting on ports the tests use.  An existing
# policy-rc.d is left alone.
#
# Usage: tests/install-deps.sh [-v]     (-v: show apt-get output)
# Exit: 0 all installed, 1 failure (apt output shown), 2 usage.

set -u

PACKAGES="gcc make autoconf automake libtool pkg-config liblmdb-dev lmdb-utils
libssl-dev libcrypt-dev check valgrind clang dovecot-core dovecot-imapd
dovecot-pop3d dovecot-lmtpd dovecot-sieve dovecot-managesieved dovecot-dev postfix postfix-lmdb swaks isync tmux python3
radicale vdirsyncer
libpython3.11-testsuite openssl ca-certificates procps iproute2 time
util-linux perl libpq-dev libxml2-dev libcurl4-openssl-dev postgresql-15 curl prometheus
debhelper lintian fakeroot po-debconf build-essential adduser git
libsasl2-2 libsasl2-modules libdb5.3 libgdbm6 libglib2.0-0 libgnutls30 libicu72
libjansson4 libkrb5-3 libldap-2.5-0 libpam0g libpcre3 libpq5 libsqlite3-0
libwrap0 libxml2 libuuid1 zlib1g"
# The packages' build and check (tests/integration/test_packages.sh):
# debhelper ... git.
# The second group: host libraries of stock Courier and Cyrus, which
# tests/harness/oldserver.sh downloads (apt-get download) and runs from a
# private root, never installed (they conflict with dovecot-imapd).

POLICY=/usr/sbin/policy-rc.d
VERBOSE=0
LOG=
MADE_POLICY=0

case ${1:-} in
-v) VERBOSE=1 ;;
'') ;;
*) echo "usage: $0 [-v]" >&2; exit 2 ;;
esac

die() {
	echo "install-deps: $*" >&2
	exit 1
}

# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	if [ "$MADE_POLICY" = 1 ]; then
		rm -f "$POLICY"
	fi
	[ -n "$LOG" ] && rm -f "$LOG"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# missing_of PKG...: print those not installed (one dpkg-query for all).
missing_of() {
	dpkg-query -W -f='${Package} ${db:Status-Status}\n' "$@" 2>/dev/null |
		awk -v want="$*" '
		$2 == "installed" { ok[$1] = 1 }
		END {
			n = split(want, w, " ")
			for (i = 1; i <= n; i++)
				if (!(w[i] in ok)) printf " %s", w[i]
		}'
}

# run CMD...: quiet unless -v; on failure show what apt said.
run() {
	if [ "$VERBOSE" = 1 ]; then
		"$@" || die "failed: $*"
	else
		"$@" >"$LOG" 2>&1 || {
			cat "$LOG" >&2
			die "failed: $*"
		}
	fi
}

command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: not a Debian system?"

# shellcheck disable=SC2086  # word splitting of the lists is intended
missing=$(missing_of $PACKAGES)
[ -z "$missing" ] && exit 0

[ "$(id -u)" = 0 ] || die "missing packages:$missing -- run as root to install them"
command -v apt-get >/dev/null 2>&1 || die "apt-get not found"
LOG=$(mktemp /tmp/install-deps.XXXXXX) || die "mktemp failed"

if [ ! -e "$POLICY" ]; then
	printf '#!/bin/sh\n# temporary, from mailmigrate tests/install-deps.sh\nexit 101\n' >"$POLICY" ||
		die "cannot create $POLICY"
	chmod 755 "$POLICY"
	MADE_POLICY=1
fi

if command -v debconf-set-selections >/dev/null 2>&1; then
	echo "postfix postfix/main_mailer_type select No configuration" |
		debconf-set-selections || die "debconf-set-selections failed"
fi

export DEBIAN_FRONTEND=noninteractive
run apt-get update
# shellcheck disable=SC2086  # word splitting of the list is intended
run apt-get install -y -q --no-install-recommends \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $missing

# shellcheck disable=SC2086
still=$(missing_of $missing)
[ -z "$still" ] || die "still missing after apt-get install:$still"
exit 0
