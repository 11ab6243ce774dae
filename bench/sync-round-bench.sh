#!/bin/sh
# shellcheck disable=SC2317  # cleanup is called through a trap
# sync-round-bench.sh - what a later round costs: mailmigrated's sync
# round over a mailbox already copied, unchanged, and after a share of
# its messages changed flags on OLD; against an OLD with CONDSTORE
# (RFC 7162: the round asks only for what changed) and the same OLD with
# CONDSTORE and QRESYNC left out of its capabilities (every message
# listed, as before).
#
#   bench/sync-round-bench.sh [--messages 10000] [--full] [--changed-pct 1]
#       [--runs 1] [--workdir /var/tmp/sync-bench] [--keep]
#       [--old-ip 127.0.21.2] [--new-ip 127.0.21.3]
#
# --full: 100,000 messages (the issue's size); the default is smaller so
# that a run on a shared machine stays short.
#
# Needs root and a built tree; starts its own OLD and NEW Dovecot with
# tests/harness/servers.sh (once with CONDSTORE, once without). OLD's
# INBOX is written as a Maildir directly (small messages, a third \Seen),
# then copied by a first round (not timed), then each timed round is
# one `mailmigrate sync` and `mailmigrated --once`, checked: the round's
# summary must say nothing was copied and as many flags updated as were
# changed, and the account must be "copied" (verified) afterwards.
#
# Reported per round: wall-clock seconds; the messages the round's copy
# step listed on OLD (the puller's summary: "OLD listed N"); and the
# bytes OLD's imap process sent in the round's session (Dovecot's
# "Logged out ... out=N"), the verification's listing included (with
# CONDSTORE, of the changes only).
#
# Exit: 0 all rounds as expected, 1 one was not, 2 usage, 77 missing
# prerequisites.

set -u

HERE=$(cd "$(dirname "$0")" && pwd) || exit 1
SRC=$(cd "$HERE/.." && pwd)
BUILD=${top_builddir:-$SRC}
HARNESS=${HARNESS:-$SRC/tests/harness}
MAILMIGRATE=${MAILMIGRATE:-$BUILD/cli/mailmigrate}
MAILMIGRATED=${MAILMIGRATED:-$BUILD/puller/mailmigrated}
if [ -z "${PYTHON:-}" ]; then
	if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi

MESSAGES=10000
PCT=1
RUNS=1
WORKDIR=/var/tmp/sync-bench
KEEP=0
OLD_IP=${MM_OLD_IP:-127.0.21.2}
NEW_IP=${MM_NEW_IP:-127.0.21.3}

say() { printf 'sync-round-bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
usage() { sed -n '10,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while [ $# -gt 0 ]; do
	case $1 in
	--messages) MESSAGES=${2:?}; shift ;;
	--full) MESSAGES=100000 ;;
	--changed-pct) PCT=${2:?}; shift ;;
	--runs) RUNS=${2:?}; shift ;;
	--workdir) WORKDIR=${2:?}; shift ;;
	--keep) KEEP=1 ;;
	--old-ip) OLD_IP=${2:?}; shift ;;
	--new-ip) NEW_IP=${2:?}; shift ;;
	-h|--help) usage ;;
	*) say "unknown option $1"; usage ;;
	esac
	shift
done
for n in "$MESSAGES" "$PCT" "$RUNS"; do
	case $n in ''|*[!0-9]*) say "not a number: $n"; usage ;; esac
done
[ "$RUNS" -ge 1 ] && [ "$MESSAGES" -ge 100 ] && [ "$PCT" -le 100 ] || usage

[ "$(id -u)" = 0 ] || { say "needs root (starts Dovecot)"; exit 77; }
for t in dovecot doveadm postfix openssl "$PYTHON"; do
	command -v "$t" >/dev/null 2>&1 || { say "$t missing (sh tests/install-deps.sh)"; exit 77; }
done
for b in "$MAILMIGRATE" "$MAILMIGRATED"; do
	[ -x "$b" ] || { say "$b not built (make)"; exit 77; }
done

case $WORKDIR in /*) ;; *) WORKDIR=$(pwd)/$WORKDIR ;; esac
mkdir -p "$WORKDIR" && chmod 755 "$WORKDIR" || die "cannot create $WORKDIR"
SRV=$WORKDIR/srv
[ ${#SRV} -le 60 ] || die "--workdir too long: $SRV over 60 bytes (unix sockets)"
RESULTS=$WORKDIR/results.tsv
: >"$RESULTS"
FAILED=0
ACCT=bench@example.test

cleanup() {
	rc=$?
	trap - EXIT INT TERM HUP
	sh "$HARNESS/servers.sh" stop "$SRV" >/dev/null 2>&1
	[ "$KEEP" = 1 ] && say "kept $SRV" || rm -rf "$SRV"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# The OLD session's output bytes, from Dovecot's log line at logout:
# the newest one for the account.
old_out_bytes() {
	grep "imap($ACCT)" "$SRV/old/dovecot.log" | grep -o "Logged out in=[0-9]* out=[0-9]*" |
		tail -n 1 | sed 's/.*out=//'
}

# One timed sync round: NAME WANT_FLAGS.
timed_round() {
	"$MAILMIGRATE" -c "$CONF" sync "$ACCT" >/dev/null || die "sync failed"
	sync
	t0=$(date +%s%N)
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$SRV/daemon.err" || die "mailmigrated failed"
	t1=$(date +%s%N)
	sleep 0.3	# OLD's imap process logs its logout
	line=$(grep "$ACCT: copied: " "$SRV/mm/mailmigrated.log" | tail -n 1)
	listed=$(printf '%s\n' "$line" | sed -n 's/.*OLD listed \([0-9]*\) messages.*/\1/p')
	status=ok
	case $line in
	*"copied: 0 messages"*"flags updated on $2,"*) ;;
	*) status="FAILED: $line"; FAILED=1 ;;
	esac
	"$MAILMIGRATE" -c "$CONF" list | grep -q "$ACCT.*copied" || { status="FAILED: not copied"; FAILED=1; }
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	out=$(old_out_bytes)
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$CONDSTORE" "$1" "$secs" "${listed:-?}" "${out:-?}" \
		"$status" >>"$RESULTS"
	say "$(printf 'condstore=%-3s %-16s %8s s  listed %7s  OLD sent %10s bytes  %s' \
		"$CONDSTORE" "$1" "$secs" "${listed:-?}" "${out:-?}" "$status")"
}

# Flags of PCT % of the messages, spread evenly, changed on OLD.
change_flags() {
	"$PYTHON" - "$OLD_IP" "$ACCT" "$SRV/old.pass" "$MESSAGES" "$PCT" "$1" <<'EOP'
import imaplib, sys
host, user, pwf, n, pct, round_ = sys.argv[1:7]
n, pct = int(n), int(pct)
m = imaplib.IMAP4(host)
m.login(user, open(pwf).read().strip())
m.select("INBOX")
k = max(1, n * pct // 100)
step = n // k
uids = [str(1 + i * step + int(round_) % step) for i in range(k)]
for i in range(0, len(uids), 500):
    m.uid("STORE", ",".join(uids[i:i + 500]), "+FLAGS.SILENT", "($Bench%s)" % round_)
m.logout()
EOP
}

one_side() {
	CONDSTORE=$1
	sh "$HARNESS/servers.sh" stop "$SRV" >/dev/null 2>&1
	rm -rf "$SRV"
	mkdir -p "$SRV" && chmod 755 "$SRV" || die "cannot create $SRV"
	extra=
	if [ "$CONDSTORE" = no ]; then
		extra=$SRV.extra
		printf 'protocol imap {\n  imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ NAMESPACE UIDPLUS LIST-EXTENDED SPECIAL-USE MULTIAPPEND STATUS=SIZE\n}\n' >"$extra"
	fi
	MM_OLD_DOVECOT_EXTRA=$extra MM_OLD_IP=$OLD_IP MM_NEW_IP=$NEW_IP \
		sh "$HARNESS/servers.sh" start "$SRV" >"$SRV/start.log" 2>&1 ||
		{ cat "$SRV/start.log" >&2; die "servers.sh start failed ($OLD_IP $NEW_IP)"; }
	[ -n "$extra" ] && rm -f "$extra"
	# shellcheck disable=SC1091
	. "$SRV/env"
	(umask 077 && openssl rand -hex 12 >"$SRV/old.pass") || die "no password"
	sh "$SERVERS_SH" adduser "$SRV" old "$ACCT" <"$SRV/old.pass" || die "adduser old failed"
	sh "$SERVERS_SH" adduser "$SRV" new "$ACCT" --nopass </dev/null || die "adduser new failed"
	# OLD's INBOX as a Maildir, written directly (IMAP APPEND of 100,000
	# messages would take longer than the rounds measured).
	md=$OLD_MAILDIR_ROOT/example.test/bench
	"$PYTHON" - "$md" "$MESSAGES" <<'EOP' || die "writing the Maildir failed"
import os, sys
md, n = sys.argv[1], int(sys.argv[2])
for d in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(md, d), exist_ok=True)
t = 1600000000
for i in range(n):
    body = ("From: a@example.test\r\nTo: bench@example.test\r\nSubject: message %d\r\n"
            "Message-ID: <%d.bench@example.test>\r\nDate: Tue, 15 Sep 2020 12:00:00 +0000\r\n"
            "\r\nbody of message %d\r\n" % (i, i, i)).encode()
    name = "%d.M%dP1.bench,S=%d:2,%s" % (t + i, i, len(body), "S" if i % 3 == 0 else "")
    with open(os.path.join(md, "cur", name), "wb") as f:
        f.write(body)
    os.utime(os.path.join(md, "cur", name), (t + i, t + i))
EOP
	chown -R mail:mail "$OLD_MAILDIR_ROOT" || die "chown $OLD_MAILDIR_ROOT failed"
	# One read-write session first, as a user's would have been: the
	# messages lose \Recent, which would otherwise lengthen every
	# listing until the first one (the bench's flag change).
	"$PYTHON" - "$OLD_IP" "$ACCT" "$SRV/old.pass" <<'EOP' || die "opening OLD's INBOX failed"
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1])
m.login(sys.argv[2], open(sys.argv[3]).read().strip())
m.select("INBOX")
m.logout()
EOP
	mkdir -p "$SRV/mm"
	CONF=$SRV/mm/mailmigrate.conf
	cat >"$CONF" <<EOC
state_dir = $SRV/mm/state
key_file = $SRV/mm/secret.key
log_file = $SRV/mm/mailmigrated.log
workers = 1
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE
default_domain = example.test

[domain example.test]
source_host = $OLD_IP:$OLD_IMAP_PORT
source_tls = none
EOC
	"$MAILMIGRATE" -c "$CONF" init >/dev/null || die "init failed"
	{ printf '%s:' "$ACCT"; cat "$SRV/old.pass"; } |
		"$MAILMIGRATE" -c "$CONF" bulk - >/dev/null || die "bulk failed"
	say "condstore=$CONDSTORE: first round (copy of $MESSAGES messages, not timed)"
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$SRV/daemon.err" || die "first round failed"
	"$MAILMIGRATE" -c "$CONF" list | grep -q "$ACCT.*copied" ||
		{ tail -n 5 "$SRV/mm/mailmigrated.log" >&2; die "first round did not copy"; }
	r=1
	while [ "$r" -le "$RUNS" ]; do
		timed_round unchanged 0
		change_flags "$r" || die "changing flags on OLD failed"
		k=$((MESSAGES * PCT / 100))
		[ "$k" -ge 1 ] || k=1
		timed_round "$PCT%-changed" "$k"
		r=$((r + 1))
	done
}

one_side yes
one_side no

"$PYTHON" - "$RESULTS" "$MESSAGES" "$RUNS" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'EOP'
import statistics, sys
res, n, runs, ncpu, load = sys.argv[1:6]
rows = {}
for line in open(res):
    cs, name, secs, listed, out, status = line.rstrip("\n").split("\t")
    rows.setdefault((name, cs), []).append((float(secs), listed, out, status))
print("sync-round-bench: INBOX of %s messages, %s run(s), medians; %s CPUs, load %s"
      % (n, runs, ncpu, load))
print("%-16s %-9s %8s %12s %14s  %s" % ("round", "CONDSTORE", "seconds", "OLD listed",
                                         "OLD sent B", "result"))
for (name, cs), r in sorted(rows.items(), key=lambda kv: (kv[0][0] != "unchanged", kv[0][1] != "yes")):
    ok = all(x[3] == "ok" for x in r)
    print("%-16s %-9s %8.2f %12s %14s  %s" % (name, cs, statistics.median(x[0] for x in r),
          r[-1][1], r[-1][2], "ok" if ok else r[-1][3]))
print("  (OLD listed: messages the copy step listed; OLD sent: bytes OLD's imap process"
      " sent\n   in the round, the verification's listing included)")
EOP
[ "$FAILED" = 0 ] || { say "a round was not as expected (see above)"; exit 1; }
exit 0
