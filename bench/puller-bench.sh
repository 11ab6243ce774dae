#!/bin/sh
# shellcheck disable=SC2317  # cleanup and run_* are called through traps and "run_$t"
# puller-bench.sh - how fast mailmigrated copies a mailbox OLD -> NEW,
# next to mbsync and `doveadm backup -R imapc:`, and next to the two bounds
# no copier can beat: fetching everything from OLD (fetch_only) and
# appending the same messages from local files into NEW (append_only).
#
#   bench/puller-bench.sh [--messages 10000] [--size-mb 500] [--big-mb 0]
#       [--runs 3] [--seed 1] [--workdir /var/tmp/puller-bench] [--keep]
#       [--tools "fetch append mailmigrated-imap mailmigrated-dovecot mbsync doveadm"]
#       [--multi 20x500] [--multi-size-mb 25] [--multi-workers "2 4"]
#       [--multi-tools "imap dovecot doveadm"]
#       [--old-ip 127.0.20.2] [--new-ip 127.0.20.3] [--split]
#
# Needs root, a built tree (make; the doveadm plugin for
# mailmigrated-dovecot), Dovecot, Postfix, isync, unshare and GNU time
# (tests/install-deps.sh).  Starts its own OLD and NEW Dovecot (and
# Postfix) with tests/harness/servers.sh on the two loopback addresses,
# NEW's doveadm with our plugin loaded ($NEW_DOVEADM, MM_DOVEADM_MODULES).
#
# Tools: fetch and append (the bounds), mailmigrated-imap (target_driver =
# imap; "mailmigrated" is an alias, imap being the default driver),
# mailmigrated-dovecot (target_driver = dovecot: `doveadm
# mailmigrate-import`, keeping OLD's UIDVALIDITY, UIDs and flags), mbsync,
# doveadm (`doveadm backup -R imapc:` run by NEW's doveadm).
#
# The corpus (bench/puller_corpus.py: seeded, log-normal sizes, 14 nested
# folders with non-ASCII names, flags and keywords) is written once into
# WORKDIR/corpus/ and reused; OLD serves a hard-linked copy of it.  Each
# run of each copier writes into a new, empty NEW account of the same NEW
# Dovecot, at Dovecot's default fsync settings (mail_fsync = optimized:
# an fsync per message; mailmigrated-dovecot at its default target_fsync
# = batch runs its doveadm with mail_fsync = never and syncs the file
# system twice per batch instead, as durable), after a `sync`, and is
# verified afterwards (bench/puller_verify.py:
# message count of every folder, no extra mail, a sample of bodies by
# sha256 and their flags): a copier that lost mail gets no figure.  Then
# identity, message by message (bench/puller_ident.py): every OLD
# message found on NEW by Message-ID, its UID, flags, keywords and size
# compared, and each folder's UIDVALIDITY.
#
# --multi AxM: then A accounts of M messages each (one seeded corpus of
# --multi-size-mb MiB, a hard-linked copy per account on OLD), copied by
# mailmigrated (each target driver) with `workers` = each of
# --multi-workers, and by `doveadm backup -R` run by `xargs -P` with as
# many in parallel; one run each, verified and checked as above.
# --multi-tools picks among them (imap, dovecot: mailmigrated with that
# target driver; doveadm: xargs -P doveadm backup -R).
#
# mailmigrated runs with workers = 2 on the one large account and
# split_min_messages = 0: one worker copies it. --split keeps the
# daemon's default (2000), so its folders are split over both workers
# (mailmigrated(8), Split; --once keeps the idle worker while the other
# holds a job). On this 2-core machine over loopback the split was the
# slower (3,000 messages, 3 runs: 3.2-3.3 s against 2.2 s): both copies
# compete for the same CPUs; it is meant for an OLD far away or slow per
# connection.
# --tools "" runs the multi-account part only.
#
# Peak RSS: GNU time's %M, the largest process of the tree; for
# mailmigrated also each process's VmHWM, sampled every 100 ms, so the
# figure is per worker (the daemon, and the dovecot target's doveadm
# children, apart).
#
# Prints a table (median of the runs): seconds, messages/s, MiB/s, peak
# RSS, identity; then the targets, PASS or MISS with the figures: the
# dovecot target >= 1.5x doveadm with UIDVALIDITY, UIDs and flags all
# kept, the imap target >= 1.2x doveadm, <= 32 MiB RSS per worker (meant
# with --big-mb 100), and as before the imap target >= 1.5x mbsync and
# >= 80 % of the slower bound.  MB here is MiB (2^20 bytes) of IMAP
# message sizes (CRLF).  For --multi also the machine's floor: all the
# CPU each copy cost (the copier's, OLD's and NEW's Dovecot) spread over
# every core, the wall time against it, and each target's CPU beside
# doveadm's for the same copy (many small accounts keep both cores busy:
# there the machine is the limit, not the copier's waits).
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
PLUGIN=${MM_DOVEADM_PLUGIN:-$BUILD/doveadm-plugin/.libs/lib10_doveadm_mailmigrate_plugin.so}
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
TOOLS="fetch append mailmigrated-imap mailmigrated-dovecot mbsync doveadm"
MULTI=
SPLIT_MIN=0
MULTI_SIZE_MB=
MULTI_WORKERS="2 4"
MULTI_TOOLS="imap dovecot doveadm"
OLD_IP=${MM_OLD_IP:-127.0.20.2}
NEW_IP=${MM_NEW_IP:-127.0.20.3}

say() { printf 'puller-bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
usage() { sed -n '8,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while [ $# -gt 0 ]; do
	case $1 in
	--messages) MESSAGES=${2:?}; shift ;;
	--size-mb) SIZE_MB=${2:?}; shift ;;
	--big-mb) BIG_MB=${2:?}; shift ;;
	--runs) RUNS=${2:?}; shift ;;
	--seed) SEED=${2:?}; shift ;;
	--workdir) WORKDIR=${2:?}; shift ;;
	--keep) KEEP=1 ;;
	--tools) TOOLS=${2?}; shift ;;
	--multi) MULTI=${2:?}; shift ;;
	--multi-size-mb) MULTI_SIZE_MB=${2:?}; shift ;;
	--multi-workers) MULTI_WORKERS=${2:?}; shift ;;
	--multi-tools) MULTI_TOOLS=${2:?}; shift ;;
	--old-ip) OLD_IP=${2:?}; shift ;;
	--new-ip) NEW_IP=${2:?}; shift ;;
	--split) SPLIT_MIN= ;;
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
tools=
for t in $TOOLS; do
	case $t in
	mailmigrated) t=mailmigrated-imap ;;
	fetch|append|mailmigrated-imap|mailmigrated-dovecot|mbsync|doveadm) ;;
	*) say "unknown tool $t"; usage ;;
	esac
	tools="$tools $t"
done
TOOLS=${tools# }
for t in $MULTI_TOOLS; do
	case $t in
	imap|dovecot|doveadm) ;;
	*) say "unknown --multi-tools tool $t"; usage ;;
	esac
done
ACCOUNTS=0 AMSGS=0
if [ -n "$MULTI" ]; then
	ACCOUNTS=${MULTI%%x*} AMSGS=${MULTI#*x}
	for n in "$ACCOUNTS" "$AMSGS" $MULTI_WORKERS; do
		case $n in ''|*[!0-9]*) say "--multi AxM, --multi-workers: not a number: $n"; usage ;; esac
	done
	if [ "$ACCOUNTS" -lt 1 ] || [ "$AMSGS" -lt 1 ] || [ "$ACCOUNTS" -gt 99 ]; then
		say "--multi: 1 to 99 accounts of at least 1 message"
		usage
	fi
	# By default the single account's mean message size: 500 MiB/10000.
	[ -n "$MULTI_SIZE_MB" ] || MULTI_SIZE_MB=$(awk -v s="$SIZE_MB" -v n="$MESSAGES" -v m="$AMSGS" \
		'BEGIN { printf "%g", s * m / n }')
	case $MULTI_SIZE_MB in ''|*[!0-9.]*) say "not a number: $MULTI_SIZE_MB"; usage ;; esac
fi
[ -n "$TOOLS" ] || [ -n "$MULTI" ] || { say "nothing to run"; usage; }

# --- prerequisites ----------------------------------------------------------
[ "$(id -u)" = 0 ] || { say "needs root (starts Dovecot)"; exit 77; }
for t in dovecot doveadm postfix mbsync openssl "$PYTHON" "$TIME"; do
	command -v "$t" >/dev/null 2>&1 || { say "$t missing (sh tests/install-deps.sh)"; exit 77; }
done
for b in "$MAILMIGRATE" "$MAILMIGRATED" "$FETCH_ONLY" "$APPEND_ONLY"; do
	[ -x "$b" ] || { say "$b not built (make)"; exit 77; }
done
[ -f "$PLUGIN" ] || { say "$PLUGIN not built (make)"; exit 77; }
command -v unshare >/dev/null 2>&1 || { say "unshare missing (util-linux)"; exit 77; }
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

# --- corpus ---------------------------------------------------------------
corpus() {  # MESSAGES SIZE_MB BIG_MB: sets CORPUS, MANIFEST and the totals
	CORPUS=$WORKDIR/corpus/n$1-m$2-b$3-s$SEED
	if [ ! -f "$CORPUS/done" ]; then
		say "writing the corpus into $CORPUS"
		"$PYTHON" "$HERE/puller_corpus.py" --out "$CORPUS" --messages "$1" \
			--size-mb "$2" --big-mb "$3" --seed "$SEED" >&2 ||
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
}
if [ -n "$MULTI" ]; then
	corpus "$AMSGS" "$MULTI_SIZE_MB" 0
	MCORPUS=$CORPUS MMANIFEST=$MANIFEST MTOTAL_MSGS=$TOTAL_MSGS MTOTAL_BYTES=$TOTAL_BYTES
fi
CORPUS='' MANIFEST='' TOTAL_MSGS=0 TOTAL_BYTES=0 SIZE_MEDIAN=0 SIZE_MAX=0 NFOLDERS=0
[ -z "$TOOLS" ] || corpus "$MESSAGES" "$SIZE_MB" "$BIG_MB"

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
if [ -n "$TOOLS" ]; then
	cp -al "$CORPUS/maildir" "$SRV/old/corpus" || die "cannot link the corpus"
fi
# One copy (hard links) per account: A mailboxes, each with its own index.
i=1
while [ "$i" -le "$ACCOUNTS" ]; do
	cp -al "$MCORPUS/maildir" "$SRV/old/acc$i" || die "cannot link the corpus"
	i=$((i + 1))
done
chown -R mail:mail "$SRV/old"
MM_DOVEADM_MODULES=$PLUGIN
export MM_DOVEADM_MODULES
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
USERS=
r=1
while [ -n "$TOOLS" ] && [ "$r" -le "$RUNS" ]; do
	USERS="$USERS mi$r md$r mbs$r dva$r app$r"
	r=$((r + 1))
done
# Multi-account: user xCONFa<i> reads account i; CONF is mi/md/dv (mailmigrated
# imap, dovecot, doveadm) and the workers, or w alone (warm-up, snapshot).
MCONFS=
for w in $MULTI_WORKERS; do
	MCONFS="$MCONFS xmi$w xmd$w xdv$w"
done
MUSERS=
{
	for u in fetch $USERS; do
		printf '%s@%s:%s::::::userdb_mail=maildir:%s/old/corpus\n' "$u" "$DOMAIN" "$HASH" "$SRV"
	done
	i=1
	while [ "$i" -le "$ACCOUNTS" ]; do
		for c in xw $MCONFS; do
			printf '%sa%s@%s:%s::::::userdb_mail=maildir:%s/old/acc%s\n' \
				"$c" "$i" "$DOMAIN" "$HASH" "$SRV" "$i"
		done
		i=$((i + 1))
	done
} >"$OLD_USERS_FILE.tmp" || die "cannot write $OLD_USERS_FILE.tmp"
i=1
while [ "$i" -le "$ACCOUNTS" ]; do
	for c in $MCONFS; do
		MUSERS="$MUSERS ${c}a$i"
	done
	i=$((i + 1))
done
if ! chgrp dovecot "$OLD_USERS_FILE.tmp" || ! chmod 640 "$OLD_USERS_FILE.tmp" ||
    ! mv "$OLD_USERS_FILE.tmp" "$OLD_USERS_FILE"; then
	die "cannot install $OLD_USERS_FILE"
fi
for u in $USERS $MUSERS; do
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
    time.sleep(0.1)
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
	case $tool in *mailmigrated*) sample_rss "$tpid" "$SRV/$tool.$run.hwm" ;; esac
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

# ident_new TOOL RUN LOOSE USER...: compare each USER on NEW with its
# OLD snapshot ($SRV/old.USER.snap; fetch's for the one-corpus users),
# message by message; sets ident (puller_ident.py's counts line).
ident_new() {
	it=$1 ir=$2 loose=$3
	shift 3
	set --
	for u in $ident_users; do
		o=$SRV/old.fetch.snap
		case $u in x*) o=$SRV/old.xwa${u##*a}.snap ;; esac
		"$PYTHON" "$HERE/puller_ident.py" snap --host "$NEW_IP" \
			--user "$u@$DOMAIN*$NEW_MASTER_USER" --password-file "$NEW_MASTER_PASS_FILE" \
			>"$SRV/new.$u.snap" || { ident=; return 1; }
		set -- "$@" "$o" "$SRV/new.$u.snap"
	done
	[ "$loose" = 1 ] && set -- "$@" --loose
	"$PYTHON" "$HERE/puller_ident.py" compare "$@" >"$SRV/$it.$ir.ident" || { ident=; return 1; }
	ident=$(head -n 1 "$SRV/$it.$ir.ident")
	sed -n '2,6p' "$SRV/$it.$ir.ident" >&2
}

record() {  # TOOL RUN STATUS [WORKER_RSS]
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$secs" "${rss:-0}" \
		"${4:-}" "$3" "$cpu" "$oldcpu" "$newcpu" "$load" "${ident:-}" >>"$RESULTS"
	say "$(printf '%-13s run %s: %8s s  peak RSS %6s KiB  CPU %6s s  OLD %6s s  NEW %6s s  load %s  %s' \
		"$1" "$2" "$secs" "${rss:-0}" "$cpu" "$oldcpu" "$newcpu" "$load" "$3")"
	[ -z "${ident:-}" ] || say "$(printf '%-13s run %s: identity %s' "$1" "$2" "$ident")"
	[ "$3" = ok ] || FAILED=1
	ident=
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
		ident_users="app$1"
		ident_new append "$1" 0
		record append "$1" ok
	else
		cat "$SRV/append.$1.err" "$SRV/append.$1.verify" >&2
		record append "$1" FAILED
	fi
	drop_new "app$1"
}

# mm_conf DIR DRIVER WORKERS: a mailmigrate.conf and its store in DIR.
mm_conf() {
	maxsize=100M
	[ "$BIG_MB" -gt 0 ] && maxsize=$((BIG_MB + BIG_MB / 8 + 8))M
	rm -rf "$1"
	mkdir -p "$1"
	cat >"$1/mailmigrate.conf" <<EOC
state_dir = $1/state
key_file = $1/secret.key
log_file = $1/mailmigrated.log
workers = $3
${SPLIT_MIN:+split_min_messages = $SPLIT_MIN}
max_message_size = $maxsize
target_driver = $2
target_doveadm = $NEW_DOVEADM
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE
default_domain = $DOMAIN

[domain $DOMAIN]
source_host = $OLD_IP:$OLD_IMAP_PORT
source_tls = none
EOC
	"$MAILMIGRATE" -c "$1/mailmigrate.conf" init >/dev/null || die "mailmigrate init failed"
}

# mm_rss TOOL RUN: sets wrss to WORKER:CHILD (KiB: the largest worker, the
# largest process a worker ran, the dovecot target's doveadm) and writes
# the daemon's peak apart.  The
# sampled tree: time (depth 0) -> the daemon (1) -> its workers (2) ->
# what a worker runs (3 and deeper: NEW's doveadm).
mm_rss() {
	h=$SRV/$1.$2.hwm
	wrss=$(awk '$3 == 2 { if ($2 > m) m = $2 } END { print m + 0 }' "$h")
	awk '$3 == 1 { print $2 }' "$h" >"$SRV/$1.$2.daemon"
	wrss=$wrss:$(awk '$3 >= 3 { if ($2 > m) m = $2 } END { print m + 0 }' "$h")
}

run_mm() {  # DRIVER RUN
	tool=mailmigrated-$1
	u=m$(printf %.1s "$1")$2
	d=$SRV/$u
	mm_conf "$d" "$1" 2
	{ printf '%s@%s:' "$u" "$DOMAIN"; cat "$SRV/old.pass"; } |
		"$MAILMIGRATE" -c "$d/mailmigrate.conf" bulk - >/dev/null || die "mailmigrate bulk failed"
	wrss=
	if timed "$tool" "$2" "$MAILMIGRATED" -c "$d/mailmigrate.conf" -f --once &&
	    verify_new "$u" --folder-map "Sent Messages=Sent" >"$SRV/$tool.$2.verify" 2>&1 &&
	    "$MAILMIGRATE" -c "$d/mailmigrate.conf" list | grep -q "$u@$DOMAIN.*copied"; then
		mm_rss "$tool" "$2"
		ident_users=$u
		ident_new "$tool" "$2" 0
		record "$tool" "$2" ok "$wrss"
	else
		cat "$SRV/$tool.$2.err" "$SRV/$tool.$2.verify" >&2
		tail -n 20 "$d/mailmigrated.log" >&2
		record "$tool" "$2" FAILED
	fi
	drop_new "$u"
}
run_mailmigrated_imap() { run_mm imap "$1"; }
run_mailmigrated_dovecot() { run_mm dovecot "$1"; }

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
		ident_users="mbs$1"
		ident_new mbsync "$1" 1
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
		ident_users="dva$1"
		ident_new doveadm "$1" 0
		record doveadm "$1" ok
	else
		cat "$SRV/doveadm.$1.err" "$SRV/doveadm.$1.verify" >&2
		record doveadm "$1" FAILED
	fi
	drop_new "dva$1"
}

# --- multi-account runs ----------------------------------------------------
verify_multi() {  # CONF OUT: every account of CONF against the multi corpus
	: >"$2"
	i=1
	while [ "$i" -le "$ACCOUNTS" ]; do
		"$PYTHON" "$HERE/puller_verify.py" --host "$NEW_IP" \
			--user "$1a$i@$DOMAIN*$NEW_MASTER_USER" --password-file "$NEW_MASTER_PASS_FILE" \
			--manifest "$MMANIFEST" --sample 20 --folder-map "Sent Messages=Sent" \
			>>"$2" 2>&1 || return 1
		i=$((i + 1))
	done
}

musers() {  # CONF: its accounts' users, one a line
	i=1
	while [ "$i" -le "$ACCOUNTS" ]; do
		printf '%sa%s\n' "$1" "$i"
		i=$((i + 1))
	done
}

drop_multi() {  # CONF
	for u in $(musers "$1"); do
		drop_new "$u"
	done
}

run_multi_mm() {  # DRIVER WORKERS
	tool=xmailmigrated-$1
	c=xm$(printf %.1s "$1")$2
	d=$SRV/$c
	mm_conf "$d" "$1" "$2"
	# printf and read are built in: the password is on no command line.
	musers "$c" | while read -r u; do
		printf '%s@%s:' "$u" "$DOMAIN"
		cat "$SRV/old.pass"
	done | "$MAILMIGRATE" -c "$d/mailmigrate.conf" bulk - >/dev/null || die "mailmigrate bulk failed"
	wrss=
	if timed "$tool" "$2" "$MAILMIGRATED" -c "$d/mailmigrate.conf" -f --once &&
	    verify_multi "$c" "$SRV/$tool.$2.verify" &&
	    [ "$("$MAILMIGRATE" -c "$d/mailmigrate.conf" list | grep -c "@$DOMAIN.*copied")" = "$ACCOUNTS" ]; then
		mm_rss "$tool" "$2"
		ident_users=$(musers "$c")
		ident_new "$tool" "$2" 0
		record "$tool" "$2" ok "$wrss"
	else
		cat "$SRV/$tool.$2.err" "$SRV/$tool.$2.verify" >&2
		tail -n 20 "$d/mailmigrated.log" >&2
		record "$tool" "$2" FAILED
	fi
	drop_multi "$c"
}

run_multi_doveadm() {  # WORKERS: xargs -P WORKERS doveadm backup -R, one per account
	c=xdv$1
	f=$SRV/$c.conf
	(umask 077 && cat >"$f" <<EOC
!include $NEW_DOVECOT_CONF
imapc_host = $OLD_IP
imapc_port = $OLD_IMAP_PORT
imapc_user = %u
imapc_password = $(cat "$SRV/old.pass")
imapc_features = rfc822.size fetch-headers
mail_prefetch_count = 20
EOC
	)
	musers "$c" | sed "s/\$/@$DOMAIN/" >"$SRV/$c.users"
	if timed xdoveadm "$1" xargs -a "$SRV/$c.users" -P "$1" -I '{}' \
	    doveadm -c "$f" backup -R -u '{}' imapc: &&
	    verify_multi "$c" "$SRV/xdoveadm.$1.verify"; then
		ident_users=$(musers "$c")
		ident_new xdoveadm "$1" 0
		record xdoveadm "$1" ok
	else
		cat "$SRV/xdoveadm.$1.err" "$SRV/xdoveadm.$1.verify" >&2
		record xdoveadm "$1" FAILED
	fi
	drop_multi "$c"
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
if [ -n "$TOOLS" ]; then
	say "mailmigrated: workers 2 on the one account, split_min_messages ${SPLIT_MIN:-2000 (the default: --split)}"
	say "corpus: $TOTAL_MSGS messages, $(awk -v b="$TOTAL_BYTES" 'BEGIN { printf "%.1f", b / 1048576 }') MiB, $NFOLDERS folders; OLD $OLD_IP, NEW $NEW_IP; load $LOAD0"
	# Warm-up: OLD builds its index and the corpus enters the page cache;
	# then what a client has of OLD, the identity every copy is held to.
	"$FETCH_ONLY" "$OLD_IP:$OLD_IMAP_PORT" "fetch@$DOMAIN" "$SRV/old.pass" >/dev/null ||
		die "warm-up fetch from OLD failed"
	"$PYTHON" "$HERE/puller_ident.py" snap --host "$OLD_IP" --port "$OLD_IMAP_PORT" \
		--user "fetch@$DOMAIN" --password-file "$SRV/old.pass" >"$SRV/old.fetch.snap" ||
		die "snapshot of OLD failed"
fi
r=1
while [ -n "$TOOLS" ] && [ "$r" -le "$RUNS" ]; do
	for t in $TOOLS; do
		case $t in
		mailmigrated-imap) run_mailmigrated_imap "$r" ;;
		mailmigrated-dovecot) run_mailmigrated_dovecot "$r" ;;
		*) "run_$t" "$r" ;;
		esac
	done
	r=$((r + 1))
done
if [ -n "$MULTI" ]; then
	say "multi: $ACCOUNTS accounts x $MTOTAL_MSGS messages, $(awk -v b="$MTOTAL_BYTES" 'BEGIN { printf "%.1f", b / 1048576 }') MiB each; workers $MULTI_WORKERS"
	i=1
	while [ "$i" -le "$ACCOUNTS" ]; do
		"$FETCH_ONLY" "$OLD_IP:$OLD_IMAP_PORT" "xwa$i@$DOMAIN" "$SRV/old.pass" >/dev/null ||
			die "warm-up fetch from OLD failed (account $i)"
		"$PYTHON" "$HERE/puller_ident.py" snap --host "$OLD_IP" --port "$OLD_IMAP_PORT" \
			--user "xwa$i@$DOMAIN" --password-file "$SRV/old.pass" >"$SRV/old.xwa$i.snap" ||
			die "snapshot of OLD failed (account $i)"
		i=$((i + 1))
	done
	for w in $MULTI_WORKERS; do
		for t in $MULTI_TOOLS; do
			case $t in
			doveadm) run_multi_doveadm "$w" ;;
			*) run_multi_mm "$t" "$w" ;;
			esac
		done
	done
fi
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report -----------------------------------------------------------------
"$PYTHON" - "$RESULTS" "$TOTAL_MSGS" "$TOTAL_BYTES" "$SIZE_MEDIAN" "$SIZE_MAX" \
	"$NFOLDERS" "$RUNS" "$LOAD0" "$LOAD1" "$(nproc)" "$BIG_MB" "$ACCOUNTS" \
	"${MTOTAL_MSGS:-0}" "${MTOTAL_BYTES:-0}" <<'EOP'
import statistics, sys
(res, msgs, nbytes, med, mx, nf, runs, l0, l1, ncpus, big, accts, amsgs,
 abytes) = sys.argv[1:15]
msgs, nbytes, runs, big = int(msgs), int(nbytes), int(runs), int(big)
accts, amsgs, abytes = int(accts), int(amsgs), int(abytes)
MIB = 1048576
rows = {}
for line in open(res):
    (tool, run, secs, rss, wrss, status, cpu, ocpu, ncpu, load,
     ident) = line.rstrip("\n").split("\t")
    ident = dict((k, int(v)) for k, v in (w.split("=") for w in ident.split()))
    wrss, _, crss = (wrss or "0").partition(":")
    rows.setdefault(tool, []).append((float(secs), int(rss), (int(wrss), int(crss or 0)), status,
                                      float(cpu), float(ocpu), float(ncpu), float(load),
                                      ident, run))
names = {"fetch": "fetch-only", "append": "append-only",
         "mailmigrated-imap": "mailmigrated imap", "mailmigrated-dovecot": "mm dovecot",
         "mbsync": "mbsync", "doveadm": "doveadm backup",
         "xmailmigrated-imap": "mailmigrated imap", "xmailmigrated-dovecot": "mm dovecot",
         "xdoveadm": "doveadm xargs"}
def verdict(ok):
    return "PASS" if ok else "MISS"
def kept(i):
    return (i and i["found"] == i["messages"] and i["uidvalidity"] == i["folders"]
            and i["uid"] == i["messages"])
def same_flags(i):
    return i and i["found"] == i["messages"] and i["flags"] == i["messages"]
def ident_line(name, i):
    if not i:
        return "  %-22s (not checked)" % name
    return ("  %-22s UIDs kept: %s (%d of %d folders keep UIDVALIDITY, %d of %d messages keep"
            " their UID), flags identical: %s (%d of %d), sizes %d of %d, found %d, extra %d"
            % (name, "yes" if kept(i) else "no", i["uidvalidity"], i["folders"], i["uid"],
               i["messages"], "yes" if same_flags(i) else "no", i["flags"], i["messages"],
               i["size"], i["messages"], i["found"], i["extra"]))
hdr = "%-22s %8s %8s %7s %12s %6s %7s %7s %5s  %s"
line = "%-22s %8.2f %8.0f %7.1f %12.1f %6.2f %7.2f %7.2f %5.2f  %d/%d%s"
def table(tools, m, b, key):
    med_s, idents, wrss = {}, {}, {}
    print(hdr % ("tool", "seconds", "msgs/s", "MiB/s", "peak RSS MiB", "CPU s", "OLD CPU",
                 "NEW CPU", "load", "verified"))
    for tool, label in tools:
        r = rows.get(tool)
        if not r:
            continue
        ok = sum(1 for x in r if x[3] == "ok")
        good = [x for x in r if x[3] == "ok"]
        if not good:
            print(hdr % (label, "-", "-", "-", "-", "-", "-", "-", "-", "%d/%d" % (ok, len(r))))
            continue
        s = statistics.median(x[0] for x in good)
        med_s[key(tool)] = s
        idents[key(tool)] = good[-1][8]
        extra = ""
        if "mailmigrated" in tool:
            w = max(x[2][0] for x in good) / 1024
            wrss[key(tool)] = w
            extra = " (worker %.1f" % w
            ch = max(x[2][1] for x in good) / 1024
            extra += ", its doveadm %.1f)" % ch if ch else ")"
        print(line % (label, s, m / s, b / MIB / s, max(x[1] for x in good) / 1024,
                      statistics.median(x[4] for x in good),
                      statistics.median(x[5] for x in good),
                      statistics.median(x[6] for x in good),
                      statistics.median(x[7] for x in good), ok, len(r), extra))
    return med_s, idents, wrss
def targets(med_s, idents, wrss, dv, mi, md, bigcase):
    print("targets:")
    if dv in med_s and md in med_s:
        x = med_s[dv] / med_s[md]
        i = idents.get(md)
        print("  dovecot target vs doveadm: %.2fx (%.2f s vs %.2f s; target >= 1.5x), identity"
              " %s  %s" % (x, med_s[md], med_s[dv],
                           "kept" if kept(i) and same_flags(i) else "NOT kept",
                           verdict(x >= 1.5 and kept(i) and same_flags(i))))
    if dv in med_s and mi in med_s:
        x = med_s[dv] / med_s[mi]
        print("  imap target vs doveadm:    %.2fx (%.2f s vs %.2f s; target >= 1.2x)  %s"
              % (x, med_s[mi], med_s[dv], verdict(x >= 1.2)))
    for k, w in sorted(wrss.items()):
        if k not in (mi, md):
            continue
        print("  peak RSS per worker, %s: %.1f MiB (target <= 32 MiB%s)  %s"
              % (k, w, bigcase, verdict(w <= 32)))

bigcase = (", with a %d MiB message" % big if big >= 100 else
           "; measured WITHOUT the 100 MiB message: run --big-mb 100")
if msgs:
    print("puller-bench: %d messages, %.1f MiB (median %d B, largest %.1f MiB), %s folders; "
          "%d run(s), medians; %s CPUs, load %s -> %s"
          % (msgs, nbytes / MIB, int(med), int(mx) / MIB, nf, runs, ncpus, l0, l1))
    single = ["fetch", "append", "mailmigrated-imap", "mailmigrated-dovecot", "mbsync",
              "doveadm"]
    med_s, idents, wrss = table([(t, names[t]) for t in single], msgs, nbytes, lambda t: t)
    print("  (medians of the runs; seconds: wall clock; peak RSS: the largest process, max"
          " over runs,\n   mailmigrated's worker and the doveadm it runs apart; CPU s: the tool's"
          " user+sys\n   (doveadm's and the dovecot target's writing into NEW included);"
          " OLD/NEW CPU: each Dovecot's;\n   load: 1-minute load average when the run began)")
    print("identity, message by message (OLD's messages found on NEW by Message-ID):")
    for t in single:
        if t in idents:
            print(ident_line(names[t], idents[t]))
    targets(med_s, idents, wrss, "doveadm", "mailmigrated-imap", "mailmigrated-dovecot",
            bigcase)
    mi = med_s.get("mailmigrated-imap")
    if mi and "mbsync" in med_s:
        x = med_s["mbsync"] / mi
        print("  imap target vs mbsync:     %.2fx  (target >= 1.5x)  %s" % (x, verdict(x >= 1.5)))
    b = [(med_s[t], names[t]) for t in ("fetch", "append") if t in med_s]
    if mi and b:
        slow, name = max(b)
        x = slow / mi
        print("  imap target vs the slower bound (%s, %.2f s): %.0f %%  (target >= 80 %%)  %s"
              % (name, slow, 100 * x, verdict(x >= 0.8)))
if accts:
    print()
    print("puller-bench multi: %d accounts x %d messages (%.1f MiB each, %d messages,"
          " %.1f MiB in all); one run each; %s CPUs"
          % (accts, amsgs, abytes / MIB, accts * amsgs, accts * abytes / MIB, ncpus))
    ws = sorted({int(x[9]) for t in rows if t.startswith("x") for x in rows[t]})
    for w in ws:
        for t in ("xmailmigrated-imap", "xmailmigrated-dovecot", "xdoveadm"):
            rows[t + "@%d" % w] = [x for x in rows.get(t, []) if int(x[9]) == w]
    tools = [("%s@%d" % (t, w), "%s %s%d" % (names[t], "-P " if t == "xdoveadm" else "w=", w))
             for w in ws for t in ("xmailmigrated-imap", "xmailmigrated-dovecot", "xdoveadm")]
    med_s, idents, wrss = table(tools, accts * amsgs, accts * abytes, lambda t: t)
    print("  (seconds: wall clock for all accounts; w=N: mailmigrated with workers = N;"
          "\n   -P N: doveadm backup -R run by xargs -P N)")
    print("identity, message by message, all accounts:")
    for t, label in tools:
        if t in idents:
            print(ident_line(label, idents[t]))
    # Many small accounts keep both cores busy: there the machine is the
    # limit, and the figure to read is each copier against the floor its
    # own CPU sets (all of it spread over every core), and the CPU it
    # needs for the same work beside doveadm's.
    ncpu = int(ncpus)
    cpu_all = {}
    print("the machine (%d CPUs): all the CPU a copy cost (the copier's, OLD's, NEW's), the"
          " cores\n  it kept busy, and its floor (that CPU spread over all %d cores):"
          % (ncpu, ncpu))
    for t, label in tools:
        good = [x for x in rows.get(t, []) if x[3] == "ok"]
        if not good:
            continue
        c = statistics.median(x[4] + x[5] + x[6] for x in good)
        s = statistics.median(x[0] for x in good)
        cpu_all[t] = c
        print("  %-22s %6.2f CPU-s  %4.2f of %d cores busy  floor %5.2f s, wall %5.2f s ="
              " %.2fx the floor" % (label, c, c / s, ncpu, c / ncpu, s, s / (c / ncpu)))
    for w in ws:
        print("workers %d, " % w, end="")
        targets(med_s, idents, wrss, "xdoveadm@%d" % w, "xmailmigrated-imap@%d" % w,
                "xmailmigrated-dovecot@%d" % w, "")
        dv = cpu_all.get("xdoveadm@%d" % w)
        for t, name in (("xmailmigrated-dovecot@%d" % w, "dovecot target"),
                        ("xmailmigrated-imap@%d" % w, "imap target")):
            if dv and t in cpu_all:
                print("  CPU for the same copy, %s: %.2f CPU-s, doveadm %.2f: %.2fx doveadm's"
                      % (name, cpu_all[t], dv, cpu_all[t] / dv))
EOP
[ "$FAILED" = 0 ] || { say "some runs FAILED (see above)"; exit 1; }
exit 0
