#!/bin/sh
# job-bench.sh - jobs taken and finished per second by the store's job
# queue with 1, 4 and 16 workers over 2 puller hosts, on LMDB and on
# PostgreSQL side by side in one run; and that no job was taken twice.
#
# Usage: sh bench/job-bench.sh [-a ACCOUNTS] [-w "1 4 16"] [-b "lmdb postgresql"]
#   ACCOUNTS  accounts in the store, each with a pending copy job (10000)
#   -w        total worker counts, one run each (1 4 16)
#   -b        backends (both); PostgreSQL 15 is started in the bench's
#             temp dir (tests/harness/pgsql.sh) and stopped at the end
# Run from a built tree (./configure && make; MM_BUILDDIR=DIR for a build
# outside the source tree), as root for PostgreSQL (its server runs as
# the postgres user).
#
# A "puller host" is one bench/job_bench process with its own owner name
# (host-a, host-b); it forks its share of the workers (W/2 each; with one
# worker only host-a works), and each worker opens the store on its own,
# as mailmigrated's workers do, then calls store_job_take() and
# store_job_done() until no job is left; every worker starts at the same
# moment (a named pipe). Jobs/s = jobs / (last end - first start). The
# ids each worker took are merged: a job taken twice, a job not done, or
# a job left in the store is reported and makes the exit status 1.
# Each run starts from the same store: an LMDB made once with
# `mailmigrate bulk`, copied file by file for LMDB and with
# `mailmigrate store copy` into a fresh database for PostgreSQL.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
ACCOUNTS=10000
WORKERS="1 4 16"
BACKENDS="lmdb postgresql"
while [ $# -gt 0 ]; do
	case $1 in
	-a) ACCOUNTS=$2; shift 2 ;;
	-w) WORKERS=$2; shift 2 ;;
	-b) BACKENDS=$2; shift 2 ;;
	*) echo "usage: $0 [-a ACCOUNTS] [-w WORKERS] [-b BACKENDS]" >&2; exit 2 ;;
	esac
done
build=${MM_BUILDDIR:-$top}
MM=$build/cli/mailmigrate
JB=$build/bench/job_bench
for p in "$MM" "$JB"; do
	[ -x "$p" ] || { echo "job-bench: $p not built (./configure && make)" >&2; exit 2; }
done
# shellcheck source-path=SCRIPTDIR source=bench_store.sh
. "$top/bench/bench_store.sh"
bench_backends "$BACKENDS"
for w in $WORKERS; do
	case $w in
	1 | *[02468]) ;;
	*) echo "job-bench: -w: $w: 1 or an even count (two hosts share them)" >&2; exit 2 ;;
	esac
done

DIR=$(mktemp -d "${TMPDIR:-/tmp}/mmjob.XXXXXX")
chmod 755 "$DIR"	# the PostgreSQL server (user postgres) lives under it
HOSTS=
cleanup() {
	for p in $HOSTS; do kill -TERM "$p" 2>/dev/null; done
	for p in $HOSTS; do wait "$p" 2>/dev/null; done
	bench_pg_stop
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The store every run starts from.
mkdir -p "$DIR/tmpl"
cat >"$DIR/tmpl.conf" <<EOC
state_dir = $DIR/tmpl/state
key_file = $DIR/secret.key
log_file = $DIR/mm.log

[domain bench.test]
source_host = 192.0.2.1
source_admin_user = admin
source_admin_password_file = $DIR/admin.pass
EOC
(umask 077; echo x >"$DIR/admin.pass")
"$MM" -c "$DIR/tmpl.conf" init >/dev/null
bench_keys "$ACCOUNTS" "$DIR/keys"
bench_fill_lmdb "$DIR/tmpl.conf" "$DIR/keys"
if bench_has "$BACKENDS" postgresql; then
	bench_pg_start "$DIR/pg"
fi

# run BACKEND W: one run; appends a line to $DIR/results.
run() {
	b=$1 w=$2
	r=$DIR/run
	rm -rf "$r"
	mkdir -p "$r"
	if [ "$b" = lmdb ]; then
		mkdir -p "$r/store"
		cp "$DIR/tmpl/state/data.mdb" "$r/store/data.mdb"
		spec=lmdb:$r/store
	else
		spec=$(bench_pg_spec "mm_jobs_$w")
		bench_copy_pg "$DIR/tmpl.conf" "$spec"
	fi
	mkfifo "$r/go"
	if [ "$w" -eq 1 ]; then
		wa=1 wb=0
	else
		wa=$((w / 2)) wb=$((w / 2))
	fi
	HOSTS=
	"$JB" -s "$spec" -o host-a -w "$wa" -g "$r/go" -d "$r" >"$r/host-a.out" &
	HOSTS=$!
	if [ "$wb" -gt 0 ]; then
		"$JB" -s "$spec" -o host-b -w "$wb" -g "$r/go" -d "$r" >"$r/host-b.out" &
		HOSTS="$HOSTS $!"
	fi
	# Every worker has its store open: then all start at once.
	n=0
	until [ "$(find "$r" -name '*.ready' | wc -l)" -ge "$w" ]; do
		n=$((n + 1))
		[ $n -le 600 ] || { echo "job-bench: $b, $w workers: not ready in 60 s" >&2; exit 1; }
		sleep 0.1
	done
	exec 3<>"$r/go"
	printf go >&3
	exec 3>&-
	rc=0
	for p in $HOSTS; do wait "$p" || rc=1; done
	HOSTS=
	[ "$rc" = 0 ] || echo "job-bench: $b, $w workers: a worker failed" >&2
	cat "$r"/*.ids >"$r/all.ids"
	twice=$(cut -d' ' -f1 "$r/all.ids" | sort | uniq -d | wc -l)
	distinct=$(cut -d' ' -f1 "$r/all.ids" | sort -u | wc -l)
	left=$("$JB" -s "$spec" -l)
	cat "$r"/host-*.out | awk -v b="$b" -v w="$w" -v wa="$wa" -v wb="$wb" \
		-v twice="$twice" -v distinct="$distinct" -v left="$left" -v rc="$rc" '{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		taken += v["taken"]; done_ += v["done"]; failed += v["failed"]
		if (v["worker"] ~ /^host-a:/) ta += v["taken"]; else tb += v["taken"]
		if (start == "" || v["start_ns"] < start) start = v["start_ns"]
		if (v["end_ns"] > end) end = v["end_ns"]
	} END {
		s = (end - start) / 1e9
		printf "%s %d %d+%d %d/%d %d %d %.3f %.0f %d %d %d %d\n", b, w, wa, wb, ta, tb,
			taken, done_, s, (s > 0 ? done_ / s : 0), twice, distinct, left,
			failed + (rc != 0)
	}' >>"$DIR/results"
	if [ "$b" = lmdb ]; then rm -rf "$r/store"; fi
}

for b in $BACKENDS; do
	for w in $WORKERS; do
		run "$b" "$w"
	done
done
bench_pg_stop

printf 'job-bench: %s accounts with a copy job each, 2 puller hosts, %s cores, load %s, %s\n' \
	"$ACCOUNTS" "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)" "$(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-11s %7s %6s %11s %7s %7s %8s %9s %7s %6s %5s %7s\n' backend workers "a+b" \
	"taken a/b" taken "done" seconds "jobs/s" "% LMDB" twice left errors
awk '
	{ row[NR] = $0; if ($1 == "lmdb") lm[$2] = $8 }
	END {
		for (i = 1; i <= NR; i++) {
			split(row[i], f, " ")
			pct = "-"
			if (f[1] == "postgresql" && lm[f[2]] > 0)
				pct = sprintf("%.0f %%", 100 * f[8] / lm[f[2]])
			printf "%-11s %7d %6s %11s %7d %7d %8.2f %9.0f %7s %6d %5d %7d\n",
				f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], pct, f[9], f[11], f[12]
		}
	}' "$DIR/results"
echo
# Fields: backend workers a+b a/b taken done seconds jobs/s twice distinct
# left errors.
awk -v n="$ACCOUNTS" '
	{ twice += $9
	  if ($5 != n || $6 != n || $10 != n || $11 != 0 || $12 != 0) {
		bad++; what = what " " $1 "/" $2 " workers" } }
	END {
		printf "no job taken twice (every run): %s\n", twice == 0 ? "PASS" : "MISS (" twice " ids)"
		printf "every job taken and done once, none left (%d per run): %s\n", n,
			bad == 0 ? "PASS" : "MISS (" substr(what, 2) ")"
		exit (twice == 0 && bad == 0) ? 0 : 1
	}' "$DIR/results"

