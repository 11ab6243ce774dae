#!/bin/sh
# test_pgsql.sh - the store unit tests again, on PostgreSQL: starts a real
# PostgreSQL 15 (tests/harness/pgsql.sh) in a temp dir, runs each test
# program with MM_TEST_PGSQL set (under valgrind, as build-aux/run-test.sh
# runs them), stops the server. Skipped (77) without the server binaries,
# or as root without the postgres user.
#
# Environment: TEST_PROGRAMS (the programs, set by Makefile.am), srcdir,
# top_srcdir, top_builddir.
set -u
top_srcdir=${top_srcdir:-..}
top_builddir=${top_builddir:-..}
harness=$top_srcdir/tests/harness/pgsql.sh

command -v pg_config >/dev/null 2>&1 || [ -x /usr/lib/postgresql/15/bin/initdb ] ||
	{ echo "SKIP: no PostgreSQL server (apt-get install postgresql-15)"; exit 77; }
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
	echo "SKIP: no postgres user to run the server as"
	exit 77
fi
dir=$(mktemp -d /tmp/mmpg.XXXXXX) || exit 1
chmod 755 "$dir"
trap 'sh "$harness" stop "$dir/pg" >/dev/null 2>&1; rm -rf "$dir"' EXIT
sh "$harness" start "$dir/pg" || exit 1
. "$dir/pg/env"
MM_TEST_PGSQL=$MM_PG_CONNINFO
export MM_TEST_PGSQL

status=0
for t in ${TEST_PROGRAMS:-test_store test_store_jobs test_store_open test_store_alias test_store_auth}; do
	echo "== $t on PostgreSQL"
	$SHELL "$top_builddir/build-aux/run-test.sh" "./$t" || {
		echo "FAIL: $t on PostgreSQL"
		status=1
	}
done
exit $status
