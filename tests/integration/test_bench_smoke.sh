#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_bench_smoke.sh - bench/puller-bench.sh runs end to end on a small
# corpus (100 messages): every copier (mailmigrated with each target
# driver, mbsync, doveadm backup) and both bounds finish, every copy
# verifies, the dovecot target keeps every UIDVALIDITY, UID and flag, and
# the table, identity and target lines are printed; then --multi 2x20
# with 2 workers.  No timing is asserted.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
for t in mbsync /usr/bin/time; do
	command -v "$t" >/dev/null 2>&1 || skip "$t not installed (run tests/install-deps.sh)"
done
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
MAILMIGRATE=${MAILMIGRATE:-$top_builddir/cli/mailmigrate}
MAILMIGRATED=${MAILMIGRATED:-$top_builddir/puller/mailmigrated}
BENCH=$top_srcdir/bench/puller-bench.sh
[ -x "$top_builddir/bench/fetch_only" ] || skip "bench/fetch_only not built"
[ -f "$top_builddir/doveadm-plugin/.libs/lib10_doveadm_mailmigrate_plugin.so" ] ||
	skip "doveadm plugin not built"
command -v unshare >/dev/null 2>&1 || skip "unshare not found"

# Its own short work directory (the corpus cache goes there too) and the
# first free pair of loopback addresses, as mm_servers_start finds them.
WD=$(mm_tmpdir)
mm_cleanup_dir "$WD"
n=0
while :; do
	OLD=127.0.$((n + 64)).2
	NEW=127.0.$((n + 64)).3
	if "$PYTHON" "$HARNESS/netcheck.py" free "o=$OLD:143" "n=$NEW:143" >/dev/null 2>&1; then
		break
	fi
	n=$((n + 1))
	[ "$n" -lt 16 ] || skip "no free loopback pair for the bench"
done

out=$(top_builddir=$top_builddir MAILMIGRATE=$MAILMIGRATE MAILMIGRATED=$MAILMIGRATED \
	sh "$BENCH" --messages 100 --size-mb 5 --big-mb 1 --runs 1 --workdir "$WD" \
	--multi 2x20 --multi-workers 2 --old-ip "$OLD" --new-ip "$NEW" 2>"$WD/bench.err")
rc=$?
printf '%s\n' "$out"

t_exit() { [ "$rc" = 0 ] || { tail -n 40 "$WD/bench.err"; return 1; }; }
t_table() {
	for tool in fetch-only append-only "mailmigrated imap" "mm dovecot" mbsync \
	    "doveadm backup" "mailmigrated imap w=2" "mm dovecot w=2" "doveadm xargs -P 2"; do
		printf '%s\n' "$out" | grep -E "^$tool( +[0-9.]+){8} +1/1" ||
			{ echo "no verified row for $tool"; return 1; }
	done
}
t_targets() {
	for w in "imap target vs mbsync" "imap target vs doveadm" "dovecot target vs doveadm" \
	    "slower bound" "RSS per worker"; do
		printf '%s\n' "$out" | grep -q "$w.*\(PASS\|MISS\)" || { echo "no '$w' line"; return 1; }
	done
}
t_verified() {
	[ "$(grep -c 'run [12]: .* ok$' "$WD/bench.err")" = 9 ] || { cat "$WD/bench.err"; return 1; }
}
t_identity() {
	n=$(printf '%s\n' "$out" |
		grep -cE "^  mm dovecot( w=2)? +UIDs kept: yes .* flags identical: yes")
	[ "$n" = 2 ] || { echo "the dovecot target did not keep identity"; return 1; }
	printf '%s\n' "$out" | grep -q "^  doveadm backup  *UIDs kept: yes" ||
		{ echo "no identity line for doveadm backup"; return 1; }
}
# The multi part's floor: a line per copier with its CPU, the cores it
# kept busy and the wall time against the floor; each target's CPU
# beside doveadm's.
t_floor() {
	for tool in "mailmigrated imap w=2" "mm dovecot w=2" "doveadm xargs -P 2"; do
		printf '%s\n' "$out" | grep -qE "^  $tool +[0-9.]+ CPU-s +[0-9.]+ of [0-9]+ cores busy +floor +[0-9.]+ s, wall +[0-9.]+ s = [0-9.]+x the floor$" ||
			{ echo "no floor line for $tool"; return 1; }
	done
	n=$(printf '%s\n' "$out" | grep -cE "^  CPU for the same copy, (dovecot|imap) target: [0-9.]+ CPU-s, doveadm [0-9.]+: [0-9.]+x doveadm's$")
	[ "$n" = 2 ] || { echo "$n CPU comparison lines, 2 wanted"; return 1; }
}
check "bench exits 0" t_exit
check "every tool has a verified row" t_table
check "target lines printed" t_targets
check "the multi part's floor and CPU lines" t_floor
check "nine runs verified" t_verified
check "the dovecot target keeps identity" t_identity
mm_done
