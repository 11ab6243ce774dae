#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_store_bench.sh - the store benchmarks run end to end at tiny sizes
# on both backends: bench/relay-bench.sh (200 accounts, a few thousand
# queries, 1 and 10 clients: the null floor, the relay on LMDB and on
# PostgreSQL, postmap), bench/job-bench.sh (200 jobs, 1, 4 and 16 workers
# over two hosts) and bench/auth-bench.sh (10 users). It checks that the
# scripts work and report what they must: every table row, the PASS/MISS
# lines, no job taken twice and every job done. No timing is asserted.
#
# Both backends in one run (each bench starts a PostgreSQL of its own): it
# runs in the LMDB pass of tests/run-all.sh and skips itself in the
# PostgreSQL pass.

if [ "${MM_TEST_BACKEND:-lmdb}" = postgresql ]; then
	echo "test_store_bench: SKIP: runs once, in the LMDB pass (both backends itself)" >&2
	exit 77
fi
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
command -v psql >/dev/null 2>&1 || skip "psql not installed"
command -v cc >/dev/null 2>&1 || skip "no C compiler (relay-bench.sh builds its clients)"
[ -x "$top_builddir/bench/job_bench" ] || skip "bench/job_bench not built"
[ -x "$top_builddir/relay/mailmigrate-relay" ] || skip "mailmigrate-relay not built"
[ -f "$top_builddir/auth-hook/.libs/libauthdb_mailmigrate.so" ] || skip "auth module not built"
MM_BUILDDIR=$top_builddir
export MM_BUILDDIR top_builddir

D=$(mm_tmpdir)
mm_cleanup_dir "$D"
# The relay and job benches make their temp dirs here, so what they leave
# running can be told from other runs on this machine.
mkdir "$D/tmp" && chmod 755 "$D/tmp"

TMPDIR=$D/tmp sh "$top_srcdir/bench/relay-bench.sh" -a 200 -q 3000 -c "1 10" -s 5 \
	>"$D/relay.out" 2>"$D/relay.err"
relay_rc=$?
TMPDIR=$D/tmp sh "$top_srcdir/bench/job-bench.sh" -a 200 >"$D/job.out" 2>"$D/job.err"
job_rc=$?
# Its own pair of loopback addresses, the first free one (lib.sh exported
# ours).
env -u MM_OLD_IP -u MM_NEW_IP sh "$top_srcdir/bench/auth-bench.sh" -n 10 -r 50 -a 200 \
	>"$D/auth.out" 2>"$D/auth.err"
auth_rc=$?
for b in relay job auth; do
	echo "--- $b-bench:"
	cat "$D/$b.out"
done

# show_err NAME: the end of a bench's stderr, for a failed check.
show_err() { tail -n 30 "$D/$1.err"; return 1; }

t_relay_exit() { [ "$relay_rc" = 0 ] || show_err relay; }
t_relay_rows() {
	for c in 1 10; do
		for s in "null floor" lmdb postgresql; do
			grep -Eq "^$s +$c +[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ " "$D/relay.out" ||
				{ echo "no row for $s, $c clients"; return 1; }
		done
		# % of the floor on both relays, % of LMDB on PostgreSQL.
		grep -Eq "^lmdb +$c .* [0-9]+ % +-\$" "$D/relay.out" ||
			{ echo "lmdb, $c: no % of the floor"; return 1; }
		grep -Eq "^postgresql +$c .* [0-9]+ % +[0-9]+ %\$" "$D/relay.out" ||
			{ echo "postgresql, $c: no % of the floor and of LMDB"; return 1; }
	done
	grep -q '^postmap -q - lmdb: (1 process) *[0-9]' "$D/relay.out" || { echo "no postmap row"; return 1; }
}
t_relay_targets() {
	for t in "LMDB, 1 client: .* of the floor" "LMDB, 10 clients: p99" \
		"PostgreSQL, 1 client: .* of LMDB" "PostgreSQL, 10 clients: .* of LMDB"; do
		grep -Eq "^$t.*: (PASS|MISS)\$" "$D/relay.out" || { echo "no '$t' verdict"; return 1; }
	done
	grep -q '^relay cache, lmdb: off' "$D/relay.out" || { echo "no LMDB cache line"; return 1; }
	grep -Eq '^relay cache, postgresql \(ttl 5s, 65536 addresses\): cache hits [0-9]+, misses [1-9][0-9]*$' \
		"$D/relay.out" || { echo "no PostgreSQL cache counts"; return 1; }
	if grep -q '^relay log errors' "$D/relay.out"; then return 1; fi
}
t_job_exit() { [ "$job_rc" = 0 ] || show_err job; }
t_job_rows() {
	for b in lmdb postgresql; do
		for w in 1 4 16; do
			# backend workers a+b a/b taken done seconds jobs/s %LMDB twice left errors
			grep -Eq "^$b +$w +[0-9]+\+[0-9]+ +[0-9]+/[0-9]+ +200 +200 +[0-9.]+ +[0-9]+ +(-|[0-9]+ %) +0 +0 +0\$" \
				"$D/job.out" || { echo "no clean row for $b, $w workers"; return 1; }
		done
	done
	# Two hosts share the work with 4 and 16 workers; one works alone with 1.
	grep -Eq '^lmdb +1 +1\+0 +200/0 ' "$D/job.out" || { echo "1 worker: not host-a alone"; return 1; }
	grep -Eq '^postgresql +16 +8\+8 ' "$D/job.out" || { echo "16 workers: not 8+8"; return 1; }
}
t_job_verdicts() {
	grep -q '^no job taken twice (every run): PASS$' "$D/job.out" || return 1
	grep -q '^every job taken and done once, none left (200 per run): PASS$' "$D/job.out"
}
t_auth() {
	[ "$auth_rc" = 0 ] || show_err auth
	grep -Eq '^lmdb +210 +[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+ +[0-9.]+ +-$' "$D/auth.out" ||
		{ echo "no lmdb row"; return 1; }
	grep -Eq '^postgresql +210 +[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+ +[0-9.]+ +[0-9]+ %$' "$D/auth.out" ||
		{ echo "no postgresql row"; return 1; }
}
t_no_leftovers() {
	# The relay and job benches stopped what they started (the relays,
	# the null server, the job hosts, PostgreSQL) and removed their dirs.
	if pgrep -af -- "$D/tmp/"; then
		echo "a process of a bench is still running"; return 1
	fi
	[ -z "$(ls -A "$D/tmp")" ] || { ls -l "$D/tmp"; return 1; }
}
check "relay-bench exits 0" t_relay_exit
check "relay-bench: a row per server and client count" t_relay_rows
check "relay-bench: the target verdicts and cache counts" t_relay_targets
check "job-bench exits 0" t_job_exit
check "job-bench: a clean row per backend and worker count" t_job_rows
check "job-bench: no job taken twice, every job done" t_job_verdicts
check "auth-bench: a row per backend" t_auth
check "the benches left no process behind" t_no_leftovers
mm_done
