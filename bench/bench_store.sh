# bench_store.sh - the store of a benchmark on either backend; sourced by
# relay-bench.sh, job-bench.sh and auth-bench.sh (POSIX sh).
#
#   . "$top/bench/bench_store.sh"      with top = the source tree
#
#   bench_backends LIST    check a -b list ("lmdb postgresql", either or
#                          both, in that order of appearance); exit 2 on
#                          anything else
#   bench_has LIST NAME    0 if NAME is in LIST
#   bench_pg_start DIR     start a PostgreSQL 15 of the bench's own in DIR
#                          (tests/harness/pgsql.sh: initdb, loopback,
#                          trust); sets MM_PG_HOST, MM_PG_PORT,
#                          MM_PG_CONNINFO. The harness turns fsync off
#                          (tests need no durability); a bench turns it on
#                          again, with synchronous_commit and
#                          full_page_writes, so PostgreSQL commits as
#                          durably as LMDB does (it syncs every commit).
#                          BENCH_PG_FSYNC=off keeps the harness's settings.
#   bench_pg_stop          stop it; nothing if none was started (call it
#                          from the cleanup trap)
#   bench_pg_spec NAME     make database NAME afresh (dropped if it
#                          exists) and print the store spec naming it:
#                          postgresql:CONNINFO (no password: trust on
#                          loopback)
#   bench_keys N FILE      N addresses user0@bench.test .. into FILE
#   bench_fill_lmdb CONF FILE   queue FILE's addresses in CONF's (LMDB)
#                          store with `mailmigrate bulk`: an account and a
#                          copy job each, no password (the admin login of
#                          a backup domain)
#   bench_copy_pg CONF SPEC     copy CONF's LMDB store into SPEC (empty):
#                          `mailmigrate store copy`, verified; much faster
#                          than queueing account by account on PostgreSQL
#
# Needs MM (the mailmigrate CLI) and top set by the caller.
# shellcheck shell=sh disable=SC2154  # top and MM: the caller's

BENCH_PG_DIR=

bench_backends() {
	[ -n "$1" ] || { echo "bench: -b: no backend" >&2; exit 2; }
	for bench__b in $1; do
		case $bench__b in
		lmdb | postgresql) ;;
		*) echo "bench: -b: unknown backend '$bench__b' (lmdb, postgresql)" >&2; exit 2 ;;
		esac
	done
}

bench_has() {
	case " $1 " in
	*" $2 "*) return 0 ;;
	esac
	return 1
}

bench_pg_start() {
	command -v psql >/dev/null ||
		{ echo "bench: psql not found (tests/install-deps.sh)" >&2; exit 2; }
	BENCH_PG_DIR=$1
	sh "$top/tests/harness/pgsql.sh" start "$BENCH_PG_DIR" >&2 ||
		{ echo "bench: PostgreSQL did not start" >&2; exit 1; }
	# shellcheck disable=SC1091
	. "$BENCH_PG_DIR/env"
	[ "${BENCH_PG_FSYNC:-on}" = off ] && return 0
	psql "$MM_PG_CONNINFO" -q -v ON_ERROR_STOP=1 \
		-c "ALTER SYSTEM SET fsync = on" \
		-c "ALTER SYSTEM SET synchronous_commit = on" \
		-c "ALTER SYSTEM SET full_page_writes = on" \
		-c "SELECT pg_reload_conf()" >/dev/null ||
		{ echo "bench: cannot turn fsync on" >&2; exit 1; }
}

bench_pg_stop() {
	[ -n "$BENCH_PG_DIR" ] || return 0
	sh "$top/tests/harness/pgsql.sh" stop "$BENCH_PG_DIR" >/dev/null 2>&1
	BENCH_PG_DIR=
}

bench_pg_spec() {
	psql "$MM_PG_CONNINFO" -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
		-c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >&2 ||
		{ echo "bench: cannot make database $1" >&2; exit 1; }
	echo "postgresql:host=$MM_PG_HOST port=$MM_PG_PORT user=postgres dbname=$1 sslmode=disable"
}

bench_keys() {
	bench__i=0
	while [ "$bench__i" -lt "$1" ]; do
		echo "user$bench__i@bench.test"
		bench__i=$((bench__i + 1))
	done >"$2"
	chmod 600 "$2"
}

bench_fill_lmdb() {
	"$MM" -c "$1" bulk "$2" >/dev/null ||
		{ echo "bench: mailmigrate bulk failed" >&2; exit 1; }
}

bench_copy_pg() {
	bench__out=$("$MM" -c "$1" store copy --to "$2" 2>&1) || {
		printf '%s\n' "$bench__out" >&2
		echo "bench: store copy to PostgreSQL failed" >&2
		exit 1
	}
}
