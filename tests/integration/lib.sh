# lib.sh - helpers for mailmigrate's integration tests (POSIX sh).
#
# Source it first thing:   . "$(dirname "$0")/lib.sh"
#
# Environment (set by tests/integration/Makefile.am, defaults for running a
# test by hand from the source tree):
#   HARNESS      tests/harness (servers.sh, corpus.py, mailcheck.py, ...)
#   MAILMIGRATE  the mailmigrate CLI
#   MM_OLD_IP / MM_NEW_IP   loopback addresses; unset: the first free pair
#                127.0.N.2 / 127.0.N.3, N = 0 (the usual) .. 15
#   MM_KEEP=1    keep the test directory (servers are still stopped)
#   MM_SKIP_INTEGRATION=1   every test skips (exit 77)
#   MM_TEST_BACKEND=postgresql   the store on PostgreSQL: a server of this
#                test's own is started when lib.sh is sourced and stopped
#                at exit (default lmdb)
#
# Functions:
#   mm_require_root_and_pkgs   exit 77 (skip) unless root with the packages
#   mm_tmpdir                  print a new short 0755 directory /tmp/mmt.XXXXXX
#   mm_cleanup_dir DIR         remove DIR at exit (unless MM_KEEP=1)
#   mm_at_exit CMD             run CMD at exit (before the servers stop)
#   mm_servers_start [DIR]     start OLD+NEW servers, source DIR/env; the exit
#                              trap stops them and removes DIR
#   mm_servers_stop            stop them now; fails if a process survives
#   mm_store_conf DIR          the configuration lines of a store: state_dir
#                              = DIR, and on PostgreSQL a store = line naming
#                              a fresh database of its own
#   mm_lmdb_only               in a check: skip it (return 0, say so) when
#                              the store is not LMDB
#   mm_store_sql CONF SQL      PostgreSQL: run SQL on CONF's store, print the
#                              rows (psql -At)
#   mm_pending_batches CONF    the number of pending batches in CONF's store
#   mm_relay_snippets DIR      before mm_servers_start DIR: NEW's Postfix set
#                              up by contrib/postfix/*.mailmigrate (relay on
#                              DIR/relay.sock), OLD refusing unknown users
#   mm_adduser old|new USER PASSWORD   add a user (password via stdin)
#   mm_pwfile PASSWORD         print the name of a new 0600 file holding it
#   mm_maildir_count DIR       number of messages in a Maildir (new + cur)
#   wait_for CMD TIMEOUT       poll CMD (eval'd) every 0.1 s, up to TIMEOUT
#                              whole seconds; returns 1 on timeout
#   fail MSG / skip MSG        exit 1 / exit 77 with a message
#   assert_eq EXPECTED ACTUAL [WHAT]
#   assert_contains HAYSTACK NEEDLE [WHAT]
#   check NAME CMD...          run CMD, print "ok - NAME" or "FAIL - NAME",
#                              count failures in MM_FAILS (see mm_done)
#   mm_done                    exit 1 if any check failed, else 0
#
# Passwords never go on a command line: mm_adduser pipes them from a shell
# builtin, mm_pwfile writes them with one.

MM_TEST=$(basename "$0" .sh)

if [ -z "${HARNESS:-}" ]; then
	HARNESS=$(cd "$(dirname "$0")/../harness" 2>/dev/null && pwd)
fi
# Addresses given by the caller are used as they are; by default the first
# free pair of 127.0.N.2 / 127.0.N.3 (N = 0..15) is taken, so tests can run
# in parallel (make -j check).
if [ -n "${MM_OLD_IP:-}" ] || [ -n "${MM_NEW_IP:-}" ]; then
	MM__FIXED_IPS=1
else
	MM__FIXED_IPS=0
fi
MM_OLD_IP=${MM_OLD_IP:-127.0.0.2}
MM_NEW_IP=${MM_NEW_IP:-127.0.0.3}
if [ -z "${PYTHON:-}" ]; then
	# Debian's interpreter: python3 wrappers such as pyenv shims are slow
	# and may lack the email test-suite samples.
	if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
export HARNESS MM_OLD_IP MM_NEW_IP PYTHON

MM_FAILS=0
MM_CHECKS=0
MM_AT_EXIT_FILE=
MM_CLEANUP_DIRS=
MM_SERVERS_DIR=
MM_DIR=
MM_PG_DIR=
MM_TEST_BACKEND=${MM_TEST_BACKEND:-lmdb}

fail() {
	printf '%s: FAIL: %s\n' "$MM_TEST" "$*" >&2
	exit 1
}

skip() {
	printf '%s: SKIP: %s\n' "$MM_TEST" "$*" >&2
	exit 77
}

# MM_SKIP_INTEGRATION=1: every integration test skips (run-all.sh's
# distcheck pass: they ran on both stores just before).
[ -z "${MM_SKIP_INTEGRATION:-}" ] ||
	skip "MM_SKIP_INTEGRATION is set (the integration tests ran already)"

mm_require_root_and_pkgs() {
	[ "$(id -u)" = 0 ] || skip "needs root (starts Dovecot and Postfix)"
	for t in dovecot doveadm doveconf postfix postconf swaks openssl "$PYTHON" ss ps; do
		command -v "$t" >/dev/null 2>&1 ||
			skip "$t not installed (run tests/install-deps.sh)"
	done
	[ -x /usr/lib/postfix/sbin/master ] || skip "postfix daemons missing (tests/install-deps.sh)"
	[ -f "$HARNESS/servers.sh" ] || fail "no harness at HARNESS=$HARNESS"
	id mail >/dev/null 2>&1 || skip "no 'mail' user on this system"
}

mm_tmpdir() {
	mm__d=$(mktemp -d /tmp/mmt.XXXXXX) || fail "mktemp failed"
	chmod 755 "$mm__d" || fail "chmod $mm__d failed"
	printf '%s\n' "$mm__d"
}

mm_cleanup_dir() {
	MM_CLEANUP_DIRS="$MM_CLEANUP_DIRS $1"
}

# mm_at_exit CMD: run CMD (eval'd) at exit, before the servers stop;
# from a check too.
mm_at_exit() {
	printf '%s\n' "$1" >>"$MM_AT_EXIT_FILE"
}

mm__cleanup() {
	mm__rc=$?
	trap - EXIT INT TERM HUP PIPE
	if [ -n "$MM_AT_EXIT_FILE" ]; then
		while IFS= read -r mm__cmd <&3; do
			eval "$mm__cmd" </dev/null >/dev/null 2>&1
		done 3<"$MM_AT_EXIT_FILE"
		rm -f "$MM_AT_EXIT_FILE"
	fi
	if [ -n "$MM_SERVERS_DIR" ]; then
		sh "$HARNESS/servers.sh" stop "$MM_SERVERS_DIR" >/dev/null 2>&1
	fi
	if [ -n "$MM_PG_DIR" ]; then
		sh "$HARNESS/pgsql.sh" stop "$MM_PG_DIR" >/dev/null 2>&1
	fi
	for mm__d in $MM_CLEANUP_DIRS; do
		case $mm__d in
		/tmp/mmt.*) ;;
		*) continue ;;  # never remove anything we did not make
		esac
		if [ "${MM_KEEP:-0}" = 1 ]; then
			echo "$MM_TEST: kept $mm__d" >&2
		else
			rm -rf "$mm__d"
		fi
	done
	exit "$mm__rc"
}

# Signals (including a closed stdout pipe: `test | head`) go through exit,
# so the EXIT trap always stops the servers.
trap mm__cleanup EXIT
# mm_at_exit's commands, one per line: a file, so that one registered
# inside a check (which runs in a subshell) is still run at exit.
MM_AT_EXIT_FILE=$(mktemp /tmp/mmt-atexit.XXXXXX) || exit 1
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE

# The test's PostgreSQL, when the store is to be there.
mm__pg_start() {
	[ "$MM_TEST_BACKEND" = postgresql ] || return 0
	[ "$(id -u)" = 0 ] || skip "needs root (starts PostgreSQL)"
	mm__pgd=$(mm_tmpdir)
	mm_cleanup_dir "$mm__pgd"
	MM_PG_DIR=$mm__pgd/pg
	sh "$HARNESS/pgsql.sh" start "$MM_PG_DIR" >&2 || fail "PostgreSQL did not start"
	. "$MM_PG_DIR/env"
	export MM_PG_HOST MM_PG_PORT MM_PG_CONNINFO
}

mm_store_conf() {
	echo "state_dir = $1"
	[ "$MM_TEST_BACKEND" = postgresql ] || return 0
	# One database per store; its name from the directory's.
	mm__db=mm_$(printf '%s' "$1" | cksum | cut -d' ' -f1)
	psql "$MM_PG_CONNINFO" -qAt -v ON_ERROR_STOP=1 \
		-c "SELECT 1 FROM pg_database WHERE datname = '$mm__db'" |
		grep -q 1 ||
		psql "$MM_PG_CONNINFO" -q -v ON_ERROR_STOP=1 \
			-c "CREATE DATABASE $mm__db" >&2 ||
		fail "cannot create database $mm__db"
	echo "store = postgresql:host=$MM_PG_HOST port=$MM_PG_PORT user=postgres dbname=$mm__db sslmode=disable"
}

mm_store_sql() {
	mm__ci=$(sed -n 's/^store = postgresql://p' "$1")
	[ -n "$mm__ci" ] || fail "mm_store_sql: no PostgreSQL store in $1"
	psql "$mm__ci" -qAt -v ON_ERROR_STOP=1 -c "$2"
}

mm_pending_batches() {
	if [ "$MM_TEST_BACKEND" = postgresql ]; then
		mm_store_sql "$1" "SELECT count(*) FROM mailmigrate.batches"
	else
		mm__sd=$(sed -n 's/^state_dir = //p' "$1")
		mdb_stat -s pending "$mm__sd" 2>/dev/null | sed -n 's/^ *Entries: //p'
	fi
}

mm_lmdb_only() {
	[ "$MM_TEST_BACKEND" = lmdb ] && return 1
	echo "    (LMDB only: skipped on $MM_TEST_BACKEND)"
	return 0
}

mm_servers_start() {
	if [ -n "${1:-}" ]; then
		MM_DIR=$1
	else
		MM_DIR=$(mm_tmpdir) || exit 1
	fi
	mm_cleanup_dir "$MM_DIR"
	MM_SERVERS_DIR=$MM_DIR
	mm__n=0
	while :; do
		if [ "$MM__FIXED_IPS" = 0 ]; then
			MM_OLD_IP=127.0.$mm__n.2
			MM_NEW_IP=127.0.$mm__n.3
		fi
		# One start at a time on this machine: the free-port check and
		# the binding must not interleave with another test's.
		if command -v flock >/dev/null 2>&1; then
			MM_OLD_IP=$MM_OLD_IP MM_NEW_IP=$MM_NEW_IP flock -o -w 60 \
				/tmp/mmt.start.lock sh "$HARNESS/servers.sh" start "$MM_DIR"
		else
			MM_OLD_IP=$MM_OLD_IP MM_NEW_IP=$MM_NEW_IP \
				sh "$HARNESS/servers.sh" start "$MM_DIR"
		fi
		mm__rc=$?
		[ "$mm__rc" = 0 ] && break
		mm__n=$((mm__n + 1))
		if [ "$mm__rc" != 3 ] || [ "$MM__FIXED_IPS" = 1 ] || [ "$mm__n" -ge 16 ]; then
			fail "servers.sh start $MM_DIR failed (OLD $MM_OLD_IP, NEW $MM_NEW_IP)"
		fi
		echo "$MM_TEST: ports busy on $MM_OLD_IP/$MM_NEW_IP, trying 127.0.$mm__n.x" >&2
	done
	export MM_OLD_IP MM_NEW_IP
	[ -f "$MM_DIR/env" ] || fail "servers.sh start wrote no $MM_DIR/env"
	# shellcheck disable=SC1091
	. "$MM_DIR/env"
}

mm_servers_stop() {
	[ -n "$MM_SERVERS_DIR" ] || return 0
	sh "$HARNESS/servers.sh" stop "$MM_SERVERS_DIR" || fail "servers.sh stop failed"
	mm__left=$("$PYTHON" "$HARNESS/procs.py" "$MM_SERVERS_DIR") ||
		fail "processes still using $MM_SERVERS_DIR after stop: $mm__left"
	MM_SERVERS_DIR=
}

mm_relay_snippets() {
	mm__contrib=${top_srcdir:-$HARNESS/../..}/contrib/postfix
	mm__doms=${MM_NEW_DOMAINS:-${MM_DOMAINS:-example.test example.org}}
	# shellcheck disable=SC2086  # one line, comma separated
	mm__list=$(echo $mm__doms | sed 's/ /, /g')
	mm__verify=$(for d in $mm__doms; do printf '%s=reject_unverified_recipient, ' "$d"; done |
		sed 's/, $//')
	# The contrib files as they are; only the site's names are replaced
	# (@IP@ is NEW's address, filled in by servers.sh).
	sed -e "s|/run/mailmigrate/relay.sock|$1/relay.sock|g" \
	    -e "s|lmtp:unix:private/dovecot-lmtp|lmtp:inet:@IP@:24|" \
	    -e "s|inline:{ example.com=reject_unverified_recipient }|inline:{ $mm__verify }|" \
	    -e "s|^\(virtual_mailbox_domains = \)example.com\$|\1$mm__list|" \
	    "$mm__contrib/main.cf.mailmigrate" >"$1/new-main.cf" ||
		fail "cannot read $mm__contrib/main.cf.mailmigrate"
	if grep -v '^#' "$1/new-main.cf" | grep -q 'example\.com\|/run/'; then
		fail "contrib/postfix/main.cf.mailmigrate has a value mm_relay_snippets does not replace"
	fi
	cp "$mm__contrib/master.cf.mailmigrate" "$1/new-master.cf" ||
		fail "cannot read $mm__contrib/master.cf.mailmigrate"
	# OLD refuses unknown users at RCPT time, as a real server does
	# (NEW's address verification probes ask it).
	printf '%s\n' 'smtpd_recipient_restrictions = reject_unverified_recipient' \
		'unverified_recipient_reject_code = 550' >"$1/old-main.cf"
	MM_NEW_POSTFIX_MAIN=$1/new-main.cf
	MM_NEW_POSTFIX_MASTER=$1/new-master.cf
	MM_OLD_POSTFIX_MAIN=$1/old-main.cf
	export MM_NEW_POSTFIX_MAIN MM_NEW_POSTFIX_MASTER MM_OLD_POSTFIX_MAIN
}

mm_adduser() {
	[ -n "$MM_DIR" ] || fail "mm_adduser before mm_servers_start"
	printf '%s\n' "$3" | sh "$HARNESS/servers.sh" adduser "$MM_DIR" "$1" "$2" ||
		fail "adduser $1 $2 failed"
}

mm_pwfile() {
	[ -n "$MM_DIR" ] || fail "mm_pwfile before mm_servers_start"
	mm__f=$(mktemp "$MM_DIR/pw.XXXXXX") || fail "mktemp failed"
	chmod 600 "$mm__f"
	printf '%s\n' "$1" >"$mm__f"
	printf '%s\n' "$mm__f"
}

mm_maildir_count() {
	mm__n=0
	for mm__sub in new cur; do
		[ -d "$1/$mm__sub" ] || continue
		for mm__f in "$1/$mm__sub"/*; do
			[ -f "$mm__f" ] && mm__n=$((mm__n + 1))
		done
	done
	echo "$mm__n"
}

wait_for() {
	# Tenths of a second, bounded; the command is eval'd each round.
	mm__limit=$(($2 * 10))
	mm__i=0
	while ! eval "$1" >/dev/null 2>&1; do
		mm__i=$((mm__i + 1))
		[ "$mm__i" -ge "$mm__limit" ] && return 1
		sleep 0.1
	done
	return 0
}

assert_eq() {
	[ "$1" = "$2" ] || fail "${3:-value}: expected '$1', got '$2'"
}

assert_contains() {
	case $1 in
	*"$2"*) ;;
	*) fail "${3:-output} does not contain '$2': $(printf '%s' "$1" | head -c 400)" ;;
	esac
}

check() {
	mm__name=$1
	shift
	MM_CHECKS=$((MM_CHECKS + 1))
	mm__t=$(date +%s%N)
	if mm__out=$("$@" 2>&1); then
		echo "ok - $mm__name ($((($(date +%s%N) - mm__t) / 1000000)) ms)"
	else
		echo "FAIL - $mm__name ($((($(date +%s%N) - mm__t) / 1000000)) ms)"
		printf '%s\n' "$mm__out" | sed 's/^/    /' | head -n 40
		MM_FAILS=$((MM_FAILS + 1))
	fi
}

mm_done() {
	if [ "$MM_FAILS" -ne 0 ]; then
		echo "$MM_TEST: $MM_FAILS of $MM_CHECKS checks failed"
		exit 1
	fi
	echo "$MM_TEST: all $MM_CHECKS checks passed"
	exit 0
}

mm__pg_start
