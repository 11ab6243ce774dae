#!/bin/sh
# relay-bench.sh - lookups per second and latency of mailmigrate-relay with
# 1, 10 and 100 concurrent clients, next to postmap -q over an lmdb: table
# of the same size, in one run.
#
# Usage: sh bench/relay-bench.sh [-a ACCOUNTS] [-q QUERIES] [-c "1 10 100"] [-s N]
#   ACCOUNTS  accounts in the store and keys in the lmdb table (10000)
#   QUERIES   socketmap queries per client count (200000)
#   N         single `postmap -q KEY` runs timed (200)
# Run from a built tree (./configure && make; MM_BUILDDIR=DIR for a build
# outside the source tree), as root or any user with postmap
# (Debian: postfix, postfix-lmdb). Targets: >= 50,000 lookups/s, p99 < 1 ms.
#
# The store holds ACCOUNTS queued accounts of a backup domain, so every
# lookup is a transport query answered OK with the next hop (the relay's
# busiest path: store read, and a late_mail note flushed once a second),
# keys cycling over all accounts. postmap gets the same keys and answers:
# the transport map `mailmigrate export postfix-maps` writes. Two postmap
# figures: one process reading every key on stdin (`postmap -q -`, the
# table's own speed), and one process per lookup (`postmap -q KEY`, what
# a script pays; latency includes starting postmap).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
ACCOUNTS=10000
QUERIES=200000
CLIENTS="1 10 100"
SINGLE=200
while [ $# -gt 0 ]; do
	case $1 in
	-a) ACCOUNTS=$2; shift 2 ;;
	-q) QUERIES=$2; shift 2 ;;
	-c) CLIENTS=$2; shift 2 ;;
	-s) SINGLE=$2; shift 2 ;;
	*) echo "usage: $0 [-a ACCOUNTS] [-q QUERIES] [-c CLIENTS] [-s SINGLE]" >&2; exit 2 ;;
	esac
done
# A VPATH build (make distcheck) keeps its programs elsewhere.
build=${MM_BUILDDIR:-$top}
RELAY=$build/relay/mailmigrate-relay
MM=$build/cli/mailmigrate
for p in "$RELAY" "$MM"; do
	[ -x "$p" ] || { echo "relay-bench: $p not built (./configure && make)" >&2; exit 2; }
done
command -v postmap >/dev/null || { echo "relay-bench: postmap not found (postfix)" >&2; exit 2; }
CC=${CC:-cc}

DIR=$(mktemp -d /tmp/mmbench.XXXXXX)
RELAY_PID=
cleanup() {
	[ -n "$RELAY_PID" ] && kill -TERM "$RELAY_PID" 2>/dev/null && wait "$RELAY_PID" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

$CC -O2 -o "$DIR/relay_load" "$top/bench/relay_load.c"

mkdir -p "$DIR/pf" "$DIR/maps"
# postmap needs a main.cf; its defaults are all we use.
: >"$DIR/pf/main.cf"
postmap -c "$DIR/pf" -q x "lmdb:$DIR/none" 2>"$DIR/pm.err" >/dev/null || true
if grep -q 'unsupported dictionary type: lmdb' "$DIR/pm.err"; then
	echo "relay-bench: postmap has no lmdb support (Debian: postfix-lmdb)" >&2
	exit 2
fi

cat >"$DIR/mailmigrate.conf" <<EOC
state_dir = $DIR/state
key_file = $DIR/secret.key
log_file = $DIR/relay.log
relay_listen = unix:$DIR/relay.sock
relay_socket_group = none

[domain bench.test]
source_host = 192.0.2.1
source_admin_user = admin
source_admin_password_file = $DIR/admin.pass
EOC
(umask 077; echo x >"$DIR/admin.pass")
export MAILMIGRATE_CONF="$DIR/mailmigrate.conf"
"$MM" init >/dev/null
i=0
while [ $i -lt "$ACCOUNTS" ]; do
	echo "user$i@bench.test"
	i=$((i + 1))
done >"$DIR/keys"
# A user alone on a line: queued for a copy with the admin login, no
# password to hash, so 10,000 accounts take a second.
chmod 600 "$DIR/keys"
"$MM" bulk "$DIR/keys" >/dev/null
"$MM" export postfix-maps "$DIR/maps" >/dev/null 2>&1
postmap -c "$DIR/pf" "lmdb:$DIR/maps/transport"

"$RELAY" -c "$DIR/mailmigrate.conf" -f 2>>"$DIR/relay.err" &
RELAY_PID=$!
n=0
until [ -S "$DIR/relay.sock" ]; do
	n=$((n + 1))
	[ $n -gt 100 ] && { echo "relay-bench: relay did not start" >&2; cat "$DIR/relay.err" >&2; exit 1; }
	sleep 0.1
done

printf 'mailmigrate-relay bench: %s accounts, %s queries per run, %s cores, load %s, %s\n' \
	"$ACCOUNTS" "$QUERIES" "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)" "$(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-34s %12s %10s %10s %10s %12s\n' "" "lookups/s" "p50 ms" "p99 ms" "max ms" "relay CPU/q"
# The relay's CPU time (utime + stime, clock ticks) around each run: a
# figure that other load on the machine does not change much.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$RELAY_PID/stat"; }
HZ=$(getconf CLK_TCK)
for c in $CLIENTS; do
	t_a=$(cpu_ticks)
	out=$("$DIR/relay_load" -c "$c" -n "$QUERIES" -k "$DIR/keys" "$DIR/relay.sock")
	t_b=$(cpu_ticks)
	echo "$out" >>"$DIR/results"
	echo "$out" | awk -v c="$c" -v ticks=$((t_b - t_a)) -v hz="$HZ" -v n="$QUERIES" '{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		if (v["other"] != 0) { print "relay-bench: errors in replies: " $0 > "/dev/stderr"; exit 1 }
		printf "%-34s %12.0f %10.3f %10.3f %10.3f %9.1f us\n", "relay, " c " client" (c > 1 ? "s" : ""),
			v["qps"], v["p50_us"] / 1000, v["p99_us"] / 1000, v["max_us"] / 1000,
			ticks / hz * 1e6 / n }'
done

# postmap, one process, every key on stdin.
reps=$((QUERIES / ACCOUNTS))
[ "$reps" -ge 1 ] || reps=1
r=0
while [ $r -lt "$reps" ]; do cat "$DIR/keys"; r=$((r + 1)); done >"$DIR/keys.many"
lines=$(wc -l <"$DIR/keys.many")
t0=$(date +%s%N)
found=$(postmap -c "$DIR/pf" -q - "lmdb:$DIR/maps/transport" <"$DIR/keys.many" | wc -l)
t1=$(date +%s%N)
[ "$found" -eq "$lines" ] || { echo "relay-bench: postmap found $found of $lines" >&2; exit 1; }
stream_qps=$(awk -v n="$lines" -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", n / (ns / 1e9) }')
printf '%-34s %12s %10s %10s %10s\n' "postmap -q - lmdb: (1 process)" "$stream_qps" "-" "-" "-"

# postmap, one process per lookup.
: >"$DIR/single.ns"
i=0
while [ $i -lt "$SINGLE" ]; do
	key=$(sed -n "$((i * 37 % ACCOUNTS + 1))p" "$DIR/keys")
	t0=$(date +%s%N)
	postmap -c "$DIR/pf" -q "$key" "lmdb:$DIR/maps/transport" >/dev/null
	t1=$(date +%s%N)
	echo $((t1 - t0)) >>"$DIR/single.ns"
	i=$((i + 1))
done
sort -n "$DIR/single.ns" | awk '{ v[NR] = $1; s += $1 } END {
	printf "%-34s %12.0f %10.3f %10.3f %10.3f\n", "postmap -q KEY lmdb: (1 per lookup)",
		NR / (s / 1e9), v[int(NR / 2) + 1] / 1e6, v[int(NR * 0.99)] / 1e6, v[NR] / 1e6 }' |
	tee "$DIR/single.line"
single_qps=$(awk '{ print $(NF - 3) }' "$DIR/single.line")

echo
awk -v s="$stream_qps" -v p="$single_qps" '{
	for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	printf "relay, %3d clients: %.2fx postmap -q - (1 process), %.0fx postmap -q KEY; p99 %s 1 ms\n",
		v["clients"], v["qps"] / s, v["qps"] / p, v["p99_us"] < 1000 ? "<" : ">=" }' "$DIR/results"
if grep -q 'error' "$DIR/relay.log"; then
	echo "relay log errors:"; grep 'error' "$DIR/relay.log" | head -5
fi
