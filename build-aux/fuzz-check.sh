#!/bin/sh
# NAME
#	fuzz-check.sh - run one libFuzzer target: its seeds must reach the
#	parser, then it fuzzes for a while
# SYNOPSIS
#	fuzz-check.sh TARGET CORPUS_ROOT MAX_LEN SECONDS
# DESCRIPTION
#	The seeds of ./TARGET are in CORPUS_ROOT/NAME, NAME being TARGET
#	without "fuzz_" (fuzz_alias_tally: alias_tally) or, failing that,
#	its first word (fuzz_pop3_client: pop3). Beside the seeds, the file
#	MIN_COV holds one number: the coverage (libFuzzer's "cov:") the
#	seeds must reach beyond what an empty input reaches.
#
#	An empty input runs only the harness and the parser's first
#	refusal, so the difference is what the seeds add: it stays near 0
#	for a harness that never hands its input to the parser (a POP3
#	client whose socket is closed before it writes a command, a relay
#	seed without its chunk-size byte), whatever the compiler. Both
#	figures come from the same binary, so the floor need not follow a
#	clang version's counting exactly: keep it well under the figure
#	the seeds reach today and well over what a broken harness reaches.
#
#	Then, when SECONDS > 0, the target fuzzes for SECONDS from a copy
#	of the seeds; a crash fails the run, its input kept in the current
#	directory.
# DIAGNOSTICS
#	Exit 1, with the reason, when MIN_COV is missing, the seeds fall
#	under their floor, or the target crashes.
set -u

t=$1 root=$2 max_len=$3 seconds=$4

name=${t#fuzz_}
dir=$root/$name
if ! test -d "$dir"; then
	name=$(echo "$name" | sed 's/_.*//')
	dir=$root/$name
fi
if ! test -f "$dir/MIN_COV"; then
	echo "$t: no $root/${t#fuzz_}/MIN_COV (seeds and a coverage floor)"
	exit 1
fi
floor=$(tr -dc 0-9 <"$dir/MIN_COV")
test -n "$floor" || { echo "$t: $dir/MIN_COV holds no number"; exit 1; }

work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT
mkdir "$work/empty" "$work/seeds"
for f in "$dir"/*; do
	test "$(basename "$f")" = MIN_COV || cp "$f" "$work/seeds/"
done

# Run the seeds in folder $1 once (-runs=0); figures: "cov ft" of the
# last "DONE cov: N ft: M" line, or empty.
run_once() {
	figures=
	if ! ./"$t" -runs=0 -max_len="$max_len" "$1" >"$work/log" 2>&1; then
		tail -n 40 "$work/log"
		echo "$t FAILED on $2"
		exit 1
	fi
	figures=$(sed -n 's/.*DONE *cov: \([0-9]*\) ft: \([0-9]*\).*/\1 \2/p' \
		"$work/log" | tail -n 1)
	if test -z "$figures"; then
		tail -n 20 "$work/log"
		echo "$t: no \"DONE cov:\" line from libFuzzer on $2"
		exit 1
	fi
}

run_once "$work/empty" "the empty input"
# shellcheck disable=SC2086  # two numbers: split them
set -- $figures
base=$1
run_once "$work/seeds" "its seeds"
# shellcheck disable=SC2086
set -- $figures
cov=$1 ft=$2
gain=$((cov - base))
echo "$t: seeds reach cov: $cov ft: $ft (empty input cov: $base; gain $gain, floor $floor)"
if test "$gain" -lt "$floor"; then
	echo "$t FAILED: its seeds do not reach the parser (gain $gain < $floor in $dir/MIN_COV)"
	exit 1
fi

test "$seconds" -gt 0 || exit 0
if ./"$t" -max_total_time="$seconds" -max_len="$max_len" "$work/seeds" \
		>"$work/log" 2>&1; then
	echo "$t: after ${seconds}s: $(grep 'cov: ' "$work/log" | tail -n 1)"
	tail -n 1 "$work/log"
else
	tail -n 40 "$work/log"
	echo "$t FAILED (crash input kept in $(pwd))"
	exit 1
fi
