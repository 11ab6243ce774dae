#!/bin/sh
# shellcheck disable=SC2317  # cleanup and run_* are called through traps and "run_$t"
# puller-bench.sh - how fast mailmigrated copies a mailbox OLD -> NEW,
# next to mbsync and `doveadm backup -R imapc:`, and next to the two bounds
# no copier can beat: fetching everything from OLD (fetch_only) and
# appending the same messages from local files into NEW (append_only).
#
#   bench/puller-bench.sh [--messages 10000] [--size-mb 500] [--big-mb 0]
#       [--runs 3] [--seed 1] [--workdir /var/tmp/puller-bench] [--keep]
#       [--tools "fetch append mailmigrated mbsync doveadm"]
#       [--old-ip 127.0.20.2] [--new-ip 127.0.20.3]
#
# Needs root, a built tree (make), Dovecot, Postfix, isync and GNU time
# (tests/install-deps.sh).  Starts its own OLD and NEW Dovecot (and
# Postfix) with tests/harness/servers.sh on the two loopback addresses.
#
# The corpus (bench/puller_corpus.py: seeded, log-normal sizes, 14 nested
# folders with non-ASCII names, flags and keywords) is written once into
# WORKDIR/corpus/ and reused; OLD serves a hard-linked copy of it.  Each
# run of each copier writes into a new, empty NEW account of the same NEW
# Dovecot, at Dovecot's default fsync settings (mail_fsync = optimized),
# after a `sync`, and is verified afterwards (bench/puller_verify.py:
# message count of every folder, no extra mail, a sample of bodies by
# sha256 and their flags): a copier that lost mail gets no figure.
#
# Peak RSS: GNU time's %M, the largest process of the tree; for
# mailmigrated also each process's VmHWM, sampled every 20 ms, so the
# figure is per worker (the daemon itself listed apart).
#
# Prints a table (median of the runs): seconds, messages/s, MiB/s, peak
# RSS; then the ratios against the targets (mailmigrated >= 1.5x mbsync,
# >= 1.0x doveadm, >= 80 % of the slower bound, <= 32 MiB RSS per worker).
# MB here is MiB (2^20 bytes) of IMAP message sizes (CRLF).
#
# Exit: 0 every run verified (targets met or not), 1 a copy failed or did
# not verify, 2 usage, 77 missing prerequisites.

set -u

HERE=$(cd "$(dirname "$0")" && pwd) || exit 1
SRC=$(cd "$HERE/.." && pwd)
BUILD=${top_builddir:-$SRC}
HARNESS=${HARNESS:-$SRC/tests/harness}
MAILMIGRATE=${MAILMIGRATE:-$BUILD/cli/mailmigrate}
MAILMIGRATED=${MAILMIGRATED:-$BUILD/puller/mailmigrated}
FETCH_ONLY=${FETCH_ONLY:-$BUILD/bench/fetch_only}
APPEND_ONLY=${APPEND_ONLY:-$BUILD/bench/append_only}
if [ -z "${PYTHON:-}" ]; then
	if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
TIME=/usr/bin/time

MESSAGES=10000
SIZE_MB=500
BIG_MB=0
RUNS=3
SEED=1
WORKDIR=/var/tmp/puller-bench
KEEP=0
TOOLS="fetch append mailmigrated mbsync doveadm"
OLD_IP=${MM_OLD_IP:-127.0.20.2}
NEW_IP=${MM_NEW_IP:-127.0.20.3}

say() { printf 'puller-bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
usage() { sed -n '6,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while [ $# -gt 0 ]; do
	case $1 in
	--messages) MESSAGES=${2:?}; shift ;;
	--size-mb) SIZE_MB=${2:?}; shift ;;
	--big-mb) BIG_MB=${2:?}; shift ;;
	--runs) RUNS=${2:?}; shift ;;
	--seed) SEED=${2:?}; shift ;;
	--workdir) WORKDIR=${2:?}; shift ;;
	--keep) KEEP=1 ;;
	--tools) TOOLS=${2:?}; shift ;;
	--old-ip) OLD_IP=${2:?}; shift ;;
	--new-ip) NEW_IP=${2:?}; shift ;;
	-h|--help) usage ;;
	*) say "unknown option $1"; usage ;;
	esac
	shift
done
for n in "$MESSAGES" "$BIG_MB" "$RUNS" "$SEED"; do
	case $n in ''|*[!0-9]*) say "not a number: $n"; usage ;; esac
done
case $SIZE_MB in ''|*[!0-9.]*) say "not a number: $SIZE_MB"; usage ;; esac
[ "$RUNS" -ge 1 ] || usage
for t in $TOOLS; do
	case $t in fetch|append|mailmigrated|mbsync|doveadm) ;; *) say "unknown tool $t"; usage ;; esac
done

# --- prerequisites ----------------------------------------------------------
[ "$(id -u)" = 0 ] || { say "needs root (starts Dovecot)"; exit 77; }
for t in dovecot doveadm postfix mbsync openssl "$PYTHON" "$TIME"; do
	command -v "$t" >/dev/null 2>&1 || { say "$t missing (sh tests/install-deps.sh)"; exit 77; }
done
for b in "$MAILMIGRATE" "$MAILMIGRATED" "$FETCH_ONLY" "$APPEND_ONLY"; do
	[ -x "$b" ] || { say "$b not built (make)"; exit 77; }
done
id mail >/dev/null 2>&1 || { say "no 'mail' user"; exit 77; }

case $WORKDIR in /*) ;; *) WORKDIR=$(pwd)/$WORKDIR ;; esac
mkdir -p "$WORKDIR" || die "cannot create $WORKDIR"
chmod 755 "$WORKDIR"
# Dovecot reads the corpus as the mail user: every parent must be searchable.
d=$WORKDIR
while [ "$d" != / ]; do
	[ "$(($(stat -c '0%a' "$d") & 1))" = 1 ] ||
		die "$d is not searchable by the mail user (o+x): choose another --workdir"
	d=$(dirname "$d")
done
SRV=$WORKDIR/srv
[ ${#SRV} -le 60 ] || die "--workdir too long: $SRV over 60 bytes (unix sockets)"

# --- corpus -----------------------------------------------------------------
CORPUS=$WORKDIR/corpus/n$MESSAGES-m$SIZE_MB-b$BIG_MB-s$SEED
if [ ! -f "$CORPUS/done" ]; then
	say "writing the corpus into $CORPUS"
	"$PYTHON" "$HERE/puller_corpus.py" --out "$CORPUS" --messages "$MESSAGES" \
		--size-mb "$SIZE_MB" --big-mb "$BIG_MB" --seed "$SEED" >&2 ||
		die "corpus generation failed"
fi
MANIFEST=$CORPUS/manifest.json
eval "$("$PYTHON" - "$MANIFEST" <<'EOP'
import json, sys
m = json.load(open(sys.argv[1], encoding="utf-8"))
print("TOTAL_MSGS=%d TOTAL_BYTES=%d SIZE_MEDIAN=%d SIZE_MAX=%d NFOLDERS=%d"
      % (m["total_messages"], m["total_bytes"], m["size_median"], m["size_max"],
         len(m["folders"])))
EOP
)"

# --- servers ----------------------------------------------------------------
cleanup() {
	rc=$?
	trap - EXIT INT TERM HUP
	[ -n "${SAMPLER_PID:-}" ] && kill "$SAMPLER_PID" 2>/dev/null
	sh "$HARNESS/servers.sh" stop "$SRV" >/dev/null 2>&1
	if [ "$KEEP" = 1 ]; then
		say "kept $SRV (results: $SRV/results.tsv)"
	else
		rm -rf "$SRV"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

sh "$HARNESS/servers.sh" stop "$SRV" >/dev/null 2>&1
rm -rf "$SRV"
if ! mkdir -p "$SRV/old" || ! chmod 755 "$SRV" "$SRV/old"; then
	die "cannot create $SRV"
fi
cp -al "$CORPUS/maildir" "$SRV/old/corpus" || die "cannot link the corpus"
chown -R mail:mail "$SRV/old/corpus"
MM_OLD_IP=$OLD_IP MM_NEW_IP=$NEW_IP sh "$HARNESS/servers.sh" start "$SRV" >"$SRV/start.log" 2>&1 ||
	{ cat "$SRV/start.log" >&2; die "servers.sh start failed (addresses $OLD_IP $NEW_IP)"; }
# shellcheck disable=SC1091
. "$SRV/env"
DOMAIN=example.test

# OLD: every account serves the one corpus (one index, warm for all).
umask 077
openssl rand -hex 12 >"$SRV/old.pass"
umask 022
sh "$SERVERS_SH" adduser "$SRV" old "fetch@$DOMAIN" <"$SRV/old.pass" || die "adduser failed"
HASH=$(awk -F: -v u="fetch@$DOMAIN" '$1 == u { print $2 }' "$OLD_USERS_FILE")
USERS="fetch"
r=1
while [ "$r" -le "$RUNS" ]; do
	USERS="$USERS mm$r mbs$r dva$r app$r"
	r=$((r + 1))
done
for u in $USERS; do
	printf '%s@%s:%s::::::userdb_mail=maildir:%s/old/corpus\n' "$u" "$DOMAIN" "$HASH" "$SRV"
done >"$OLD_USERS_FILE.tmp" || die "cannot write $OLD_USERS_FILE.tmp"
if ! chgrp dovecot "$OLD_USERS_FILE.tmp" || ! chmod 640 "$OLD_USERS_FILE.tmp" ||
    ! mv "$OLD_USERS_FILE.tmp" "$OLD_USERS_FILE"; then
	die "cannot install $OLD_USERS_FILE"
fi
for u in $USERS; do
	[ "$u" = fetch ] && continue
	sh "$SERVERS_SH" adduser "$SRV" new "$u@$DOMAIN" --nopass </dev/null || die "adduser new $u failed"
done

# --- one timed run ----------------------------------------------------------
RESULTS=$SRV/results.tsv
: >"$RESULTS"
FAILED=0

# sample_rss PID OUT: each descendant's VmHWM (KiB), until PID is gone.
sample_rss() {
	"$PYTHON" - "$1" "$2" <<'EOP' &
import os, sys, time
root, out = int(sys.argv[1]), sys.argv[2]
best = {}
def kids(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []
def hwm(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
depth = {}
while os.path.exists("/proc/%d" % root):
    todo = [(root, 0)]
    while todo:
        p, d = todo.pop()
        todo += [(k, d + 1) for k in kids(p)]
        h = hwm(p)
        if h:
            best[p] = max(best.get(p, 0), h)
            depth[p] = d
    time.sleep(0.02)
with open(out, "w") as f:
    for p, h in sorted(best.items()):
        f.write("%d %d %d\n" % (p, h, depth[p]))
EOP
	SAMPLER_PID=$!
}

# cpu_ticks SIDE: CPU ticks used by a Dovecot so far, its master and
# every child it has reaped (the imap processes, once logged out).
cpu_ticks() {
	awk '{ print $14 + $15 + $16 + $17 }' "/proc/$(cat "$SRV/$1/run/master.pid")/stat"
}

# timed TOOL RUN CMD...: run CMD under GNU time; sets secs (wall clock),
# rss (KiB, largest process), cpu (the tool's user+sys seconds), oldcpu
# and newcpu (OLD's and NEW's Dovecot, seconds) and load (1-minute load
# average).
timed() {
	tool=$1 run=$2
	shift 2
	sync
	load=$(cut -d' ' -f1 /proc/loadavg)
	o0=$(cpu_ticks old)
	n0=$(cpu_ticks new)
	t0=$(date +%s%N)
	"$TIME" -f '%U %S %M' -o "$SRV/$tool.$run.time" "$@" >"$SRV/$tool.$run.out" 2>"$SRV/$tool.$run.err" &
	tpid=$!
	SAMPLER_PID=
	[ "$tool" = mailmigrated ] && sample_rss "$tpid" "$SRV/$tool.$run.hwm"
	wait "$tpid"
	trc=$?
	t1=$(date +%s%N)
	if [ -n "$SAMPLER_PID" ]; then
		wait "$SAMPLER_PID"
		SAMPLER_PID=
	fi
	sleep 0.5	# the servers' imap processes exit after LOGOUT
	o1=$(cpu_ticks old)
	n1=$(cpu_ticks new)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	hz=$(getconf CLK_TCK)
	oldcpu=$(awk -v a="$o0" -v b="$o1" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz }')
	newcpu=$(awk -v a="$n0" -v b="$n1" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz }')
	# shellcheck disable=SC2046  # split into user, system, RSS
	set -- $(grep -E '^[0-9.]+ [0-9.]+ [0-9]+$' "$SRV/$tool.$run.time" | tail -n 1)
	cpu=$(awk -v u="${1:-0}" -v s="${2:-0}" 'BEGIN { printf "%.2f", u + s }')
	rss=${3:-0}
	return "$trc"
}

verify_new() {  # USER [puller_verify options]
	u=$1
	shift
	"$PYTHON" "$HERE/puller_verify.py" --host "$NEW_IP" --user "$u@$DOMAIN*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" --manifest "$MANIFEST" "$@"
}

record() {  # TOOL RUN STATUS [WORKER_RSS]
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$secs" "${rss:-0}" \
		"${4:-}" "$3" "$cpu" "$oldcpu" "$newcpu" "$load" >>"$RESULTS"
	say "$(printf '%-13s run %s: %8s s  peak RSS %6s KiB  CPU %6s s  OLD %6s s  NEW %6s s  load %s  %s' \
		"$1" "$2" "$secs" "${rss:-0}" "$cpu" "$oldcpu" "$newcpu" "$load" "$3")"
	[ "$3" = ok ] || FAILED=1
}

drop_new() {  # USER: remove the account's mail on NEW (outside the timing)
	rm -rf "${NEW_MAILDIR_ROOT:?}/$DOMAIN/$1" "$SRV/new/home/$DOMAIN/$1"
}

run_fetch() {
	if timed fetch "$1" "$FETCH_ONLY" "$OLD_IP:$OLD_IMAP_PORT" "fetch@$DOMAIN" "$SRV/old.pass" &&
	    grep -q "^fetch_only: $TOTAL_MSGS messages $TOTAL_BYTES bytes" "$SRV/fetch.$1.out"; then
		record fetch "$1" ok
	else
		cat "$SRV/fetch.$1.out" "$SRV/fetch.$1.err" >&2
		record fetch "$1" FAILED
	fi
}

run_append() {
	if timed append "$1" "$APPEND_ONLY" "$NEW_IP:$NEW_IMAP_PORT" \
	    "app$1@$DOMAIN*$NEW_MASTER_USER" "$NEW_MASTER_PASS_FILE" "$CORPUS" &&
	    verify_new "app$1" >"$SRV/append.$1.verify" 2>&1; then
		record append "$1" ok
	else
		cat "$SRV/append.$1.err" "$SRV/append.$1.verify" >&2
		record append "$1" FAILED
	fi
	drop_new "app$1"
}

run_mailmigrated() {
	d=$SRV/mm$1
	mkdir -p "$d"
	maxsize=100M
	[ "$BIG_MB" -gt 0 ] && maxsize=$((BIG_MB + BIG_MB / 8 + 8))M
	cat >"$d/mailmigrate.conf" <<EOC
state_dir = $d/state
key_file = $d/secret.key
log_file = $d/mailmigrated.log
workers = 2
max_message_size = $maxsize
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE
default_domain = $DOMAIN

[domain $DOMAIN]
source_host = $OLD_IP:$OLD_IMAP_PORT
source_tls = none
EOC
	"$MAILMIGRATE" -c "$d/mailmigrate.conf" init >/dev/null || die "mailmigrate init failed"
	{ printf 'mm%s@%s:' "$1" "$DOMAIN"; cat "$SRV/old.pass"; } |
		"$MAILMIGRATE" -c "$d/mailmigrate.conf" bulk - >/dev/null || die "mailmigrate bulk failed"
	wrss=
	if timed mailmigrated "$1" "$MAILMIGRATED" -c "$d/mailmigrate.conf" -f --once &&
	    verify_new "mm$1" --folder-map "Sent Messages=Sent" >"$SRV/mailmigrated.$1.verify" 2>&1 &&
	    "$MAILMIGRATE" -c "$d/mailmigrate.conf" list | grep -q "mm$1@$DOMAIN.*copied"; then
		# The sampled tree: time (depth 0) -> the daemon (1) -> its
		# workers (2): report the largest worker.
		wrss=$(awk '$3 >= 2 { if ($2 > m) m = $2 } END { print m + 0 }' "$SRV/mailmigrated.$1.hwm")
		drss=$(awk '$3 == 1 { print $2 }' "$SRV/mailmigrated.$1.hwm")
		printf '%s\n' "$drss" >"$SRV/mailmigrated.$1.daemon"
		record mailmigrated "$1" ok "$wrss"
	else
		cat "$SRV/mailmigrated.$1.err" "$SRV/mailmigrated.$1.verify" >&2
		tail -n 20 "$d/mailmigrated.log" >&2
		record mailmigrated "$1" FAILED
	fi
	drop_new "mm$1"
}

run_mbsync() {
	d=$SRV/mbs$1
	mkdir -p "$d/state"
	cat >"$d/mbsyncrc" <<EOC
IMAPAccount old
Host $OLD_IP
Port $OLD_IMAP_PORT
User mbs$1@$DOMAIN
PassCmd "cat $SRV/old.pass"
SSLType None

IMAPStore old
Account old

IMAPAccount new
Host $NEW_IP
Port $NEW_IMAP_PORT
User mbs$1@$DOMAIN*$NEW_MASTER_USER
PassCmd "cat $NEW_MASTER_PASS_FILE"
SSLType None

IMAPStore new
Account new

Channel bench
Far :old:
Near :new:
Patterns *
Create Near
Sync Pull
Expunge None
CopyArrivalDate yes
SyncState $d/state/
EOC
	if timed mbsync "$1" mbsync -c "$d/mbsyncrc" -q bench &&
	    verify_new "mbs$1" --loose --no-keywords >"$SRV/mbsync.$1.verify" 2>&1; then
		record mbsync "$1" ok
	else
		cat "$SRV/mbsync.$1.err" "$SRV/mbsync.$1.verify" >&2
		record mbsync "$1" FAILED
	fi
	drop_new "mbs$1"
}

run_doveadm() {
	c=$SRV/dva$1.conf
	(umask 077 && cat >"$c" <<EOC
!include $NEW_DOVECOT_CONF
imapc_host = $OLD_IP
imapc_port = $OLD_IMAP_PORT
imapc_user = dva$1@$DOMAIN
imapc_password = $(cat "$SRV/old.pass")
imapc_features = rfc822.size fetch-headers
mail_prefetch_count = 20
EOC
	)
	if timed doveadm "$1" doveadm -c "$c" backup -R -u "dva$1@$DOMAIN" imapc: &&
	    verify_new "dva$1" >"$SRV/doveadm.$1.verify" 2>&1; then
		record doveadm "$1" ok
	else
		cat "$SRV/doveadm.$1.err" "$SRV/doveadm.$1.verify" >&2
		record doveadm "$1" FAILED
	fi
	drop_new "dva$1"
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
say "corpus: $TOTAL_MSGS messages, $(awk -v b="$TOTAL_BYTES" 'BEGIN { printf "%.1f", b / 1048576 }') MiB, $NFOLDERS folders; OLD $OLD_IP, NEW $NEW_IP; load $LOAD0"
# Warm-up: OLD builds its index and the corpus enters the page cache.
"$FETCH_ONLY" "$OLD_IP:$OLD_IMAP_PORT" "fetch@$DOMAIN" "$SRV/old.pass" >/dev/null ||
	die "warm-up fetch from OLD failed"
r=1
while [ "$r" -le "$RUNS" ]; do
	for t in $TOOLS; do
		"run_$t" "$r"
	done
	r=$((r + 1))
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report -----------------------------------------------------------------
"$PYTHON" - "$RESULTS" "$TOTAL_MSGS" "$TOTAL_BYTES" "$SIZE_MEDIAN" "$SIZE_MAX" \
	"$NFOLDERS" "$RUNS" "$LOAD0" "$LOAD1" "$(nproc)" "$SRV" <<'EOP'
import statistics, sys
res, msgs, nbytes, med, mx, nf, runs, l0, l1, ncpus, srv = sys.argv[1:12]
msgs, nbytes, runs = int(msgs), int(nbytes), int(runs)
MIB = 1048576
rows = {}
for line in open(res):
    tool, run, secs, rss, wrss, status, cpu, ocpu, ncpu, load = line.rstrip("\n").split("\t")
    rows.setdefault(tool, []).append((float(secs), int(rss), int(wrss or 0), status,
                                      float(cpu), float(ocpu), float(ncpu), float(load)))
names = {"fetch": "fetch-only", "append": "append-only", "mailmigrated": "mailmigrated",
         "mbsync": "mbsync", "doveadm": "doveadm backup"}
print("puller-bench: %d messages, %.1f MiB (median %d B, largest %.1f MiB), %s folders; "
      "%d run(s), medians; %s CPUs, load %s -> %s"
      % (msgs, nbytes / MIB, int(med), int(mx) / MIB, nf, runs, ncpus, l0, l1))
print("%-15s %8s %8s %7s %12s %6s %7s %7s %5s  %s" % ("tool", "seconds", "msgs/s", "MiB/s",
      "peak RSS MiB", "CPU s", "OLD CPU", "NEW CPU", "load", "verified"))
med_s = {}
for tool in ["fetch", "append", "mailmigrated", "mbsync", "doveadm"]:
    if tool not in rows:
        continue
    r = rows[tool]
    ok = sum(1 for x in r if x[3] == "ok")
    good = [x for x in r if x[3] == "ok"]
    if not good:
        print("%-15s %8s %8s %7s %12s %6s %7s %7s %5s  %d/%d" % (names[tool], "-", "-", "-",
              "-", "-", "-", "-", "-", ok, len(r)))
        continue
    s = statistics.median(x[0] for x in good)
    med_s[tool] = s
    rss = max(x[1] for x in good) / 1024
    extra = ""
    if tool == "mailmigrated":
        w = max(x[2] for x in good) / 1024
        extra = " (worker %.1f)" % w
        med_s["mm_worker_rss"] = w
    cpu = statistics.median(x[4] for x in good)
    ocpu = statistics.median(x[5] for x in good)
    ncpu = statistics.median(x[6] for x in good)
    load = statistics.median(x[7] for x in good)
    print("%-15s %8.2f %8.0f %7.1f %12.1f %6.2f %7.2f %7.2f %5.2f  %d/%d%s"
          % (names[tool], s, msgs / s, nbytes / MIB / s, rss, cpu, ocpu, ncpu, load, ok,
             len(r), extra))
print("  (medians of the runs; seconds: wall clock; peak RSS: the largest process, max"
      " over runs,\n   mailmigrated's worker apart; CPU s: the tool's user+sys; OLD/NEW"
      " CPU: each Dovecot's;\n   load: 1-minute load average when the run began)")
def verdict(ok):
    return "PASS" if ok else "MISS"
mm = med_s.get("mailmigrated")
if mm:
    print("targets:")
    if "mbsync" in med_s:
        x = med_s["mbsync"] / mm
        print("  mailmigrated vs mbsync:   %.2fx  (target >= 1.5x)  %s" % (x, verdict(x >= 1.5)))
    if "doveadm" in med_s:
        x = med_s["doveadm"] / mm
        print("  mailmigrated vs doveadm:  %.2fx  (target >= 1.0x)  %s" % (x, verdict(x >= 1.0)))
    b = [(med_s[t], names[t]) for t in ("fetch", "append") if t in med_s]
    if b:
        slow, name = max(b)
        x = slow / mm
        print("  mailmigrated vs the slower bound (%s, %.2f s): %.0f %%  (target >= 80 %%)  %s"
              % (name, slow, 100 * x, verdict(x >= 0.8)))
    w = med_s["mm_worker_rss"]
    print("  peak RSS per worker:      %.1f MiB  (target <= 32 MiB)  %s" % (w, verdict(w <= 32)))
EOP
[ "$FAILED" = 0 ] || { say "some runs FAILED (see above)"; exit 1; }
exit 0
