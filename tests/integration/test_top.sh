#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_top.sh - what an administrator watches: `mailmigrate stats` with
# what is left, the time to finish and the copies running (folder,
# messages and bytes done of what OLD holds), and `mailmigrate top`, live,
# in a real terminal (tmux, 80x24: drawn in place, q quits and gives the
# terminal back), one line a refresh into a pipe, and refused on a 20x5
# terminal with nothing changed. mailmigrated copies one mailbox slowly
# (max_bytes_per_second) with one worker while another waits queued.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
MAILMIGRATED=${MAILMIGRATED:-$top_builddir/puller/mailmigrated}
[ -x "$MAILMIGRATED" ] || skip "mailmigrated not built"
command -v tmux >/dev/null || skip "tmux not installed"
CORPUS="$PYTHON $HARNESS/corpus.py"

mm_servers_start
CONF=$MM_DIR/mailmigrate.conf
cat >"$CONF" <<EOC
$(mm_store_conf $MM_DIR/state)
key_file = $MM_DIR/secret.key
log_file = $MM_DIR/mailmigrated.log
workers = 1
max_bytes_per_second = 150k
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE
default_domain = example.test

[domain example.test]
source_host = $OLD_IP
source_tls = starttls
source_tls_ca_file = $CA_FILE
EOC
MM() { "$MAILMIGRATE" -c "$CONF" "$@"; }
TMUX_SOCK=$MM_DIR/tmux.sock
TM() { tmux -S "$TMUX_SOCK" "$@"; }
mm_at_exit 'tmux -S "$TMUX_SOCK" kill-server 2>/dev/null'

# small: copied first, so the average mailbox is known; slow: ~2 MB at
# 150 KiB/s; late: queued behind it (one worker).
for u in small slow late; do
	pass="pw $u"
	mm_adduser old "$u@example.test" "$pass"
	sh "$SERVERS_SH" adduser "$MM_DIR" new "$u@example.test" --nopass </dev/null ||
		fail "adduser new $u failed"
	pw=$(mm_pwfile "$pass")
	mv "$pw" "$MM_DIR/$u.pw"
	big=0
	[ "$u" = slow ] && big=2
	$CORPUS --host "$OLD_IP" --user "$u@example.test" --password-file "$MM_DIR/$u.pw" \
		--seed "$(printf %s "$u" | cksum | cut -d' ' -f1)" --count 30 \
		--big-mb "$big" --manifest "$MM_DIR/$u.json" >/dev/null ||
		fail "corpus load for $u failed"
done
MM init >/dev/null || fail "init failed"
# check() runs each test in a subshell: the daemon's pid goes in a file.
DAEMON_PID_FILE=$MM_DIR/daemon.pid
mm_at_exit '[ -s "$DAEMON_PID_FILE" ] && kill -9 "$(cat "$DAEMON_PID_FILE")" 2>/dev/null'

t_before_any_copy() {
	printf 'small@example.test:pw small\n' | MM bulk - >/dev/null || return 1
	MM stats >"$MM_DIR/stats0.txt" || return 1
	grep -q '^Bytes left: *unknown until a first mailbox is copied' "$MM_DIR/stats0.txt" &&
		grep -q '^Time to finish: *unknown (no mailbox copied yet)' "$MM_DIR/stats0.txt" &&
		grep -q '^Copies running: *0' "$MM_DIR/stats0.txt" ||
		{ cat "$MM_DIR/stats0.txt"; return 1; }
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	printf 'slow@example.test:pw slow\nlate@example.test:pw late\n' | MM bulk - >/dev/null
}

running_slow() {
	MM stats --json >"$MM_DIR/stats.json" 2>/dev/null &&
		"$PYTHON" - "$MM_DIR/stats.json" <<'EOP'
import json, sys
st = json.load(open(sys.argv[1]))
r = st["running"]
sys.exit(0 if len(r) == 1 and r[0]["messages_done"] > 0 and
         r[0]["bytes_done"] > 0 else 1)
EOP
}

t_stats_while_copying() {
	"$MAILMIGRATED" -c "$CONF" -f >/dev/null 2>>"$MM_DIR/daemon.err" &
	echo $! >"$DAEMON_PID_FILE"
	wait_for running_slow 60 || { cat "$MM_DIR/stats.json"; return 1; }
	MM show small@example.test --json >"$MM_DIR/small.show.json" || return 1
	"$PYTHON" - "$MM_DIR" <<'EOP' || return 1
import json, sys
d = sys.argv[1]
st = json.load(open(d + "/stats.json"))
slow = json.load(open(d + "/slow.json"))
small = json.load(open(d + "/small.json"))
r = st["running"][0]
assert r["account"] == "slow@example.test", r
assert r["worker"], r
assert not r["stalled"], r
# What OLD holds, told before the copy: every message of the corpus.
assert r["messages_total"] == len(slow["messages"]), (r, len(slow["messages"]))
assert r["folder_count"] == len(slow["folders"]), (r, len(slow["folders"]))
assert 1 <= r["folder_index"] <= r["folder_count"], r
assert r["folder"], r
assert 0 < r["messages_done"] <= r["messages_total"], r
total = sum(m["size"] for m in slow["messages"])
if r["bytes_total"] is not None:
    # STATUS SIZE (RFC 8438) sums RFC822.SIZE: Dovecot counts line
    # ends as CRLF, the corpus appended some with bare LF.
    assert total <= r["bytes_total"] <= total * 1.1, (r["bytes_total"], total)
    assert r["bytes_done"] <= r["bytes_total"], r
# late waits; small is copied: the average mailbox is small's size
# (as OLD counts it, RFC822.SIZE: `show` says it).
small_bytes = json.load(open(d + "/small.show.json"))["bytes"]
assert small_bytes >= sum(m["size"] for m in small["messages"]), small_bytes
assert st["mailboxes_queued"] == 1, st
assert st["average_mailbox_bytes"] == small_bytes, (st["average_mailbox_bytes"], small_bytes)
assert st["bytes_left_queued"] == small_bytes, st
assert st["bytes_left_estimated"] is True, st
assert st["bytes_left"] == st["bytes_left_queued"] + st["bytes_left_running"], st
if r["bytes_total"] is not None:
    assert st["bytes_left_running"] == r["bytes_total"] - r["bytes_done"], st
# small was copied within the rate window: a rate, so an end in sight.
assert st["rate_bytes_per_second"] > 0, st
assert st["eta_seconds"] is not None, st
assert abs(st["eta_seconds"] - st["bytes_left"] // st["rate_bytes_per_second"]) <= 1, st
EOP
	MM stats >"$MM_DIR/stats1.txt" || return 1
	grep -q '^Time to finish: .* at .*/s' "$MM_DIR/stats1.txt" &&
		grep -q '^  slow@example.test: folder [0-9]*/[0-9]* .*messages.*(worker ' "$MM_DIR/stats1.txt" ||
		{ cat "$MM_DIR/stats1.txt"; return 1; }
}

t_top_pipe() {
	MM top -n 2 | cat >"$MM_DIR/top.pipe" || return 1
	[ "$(wc -l <"$MM_DIR/top.pipe")" -eq 2 ] || { cat "$MM_DIR/top.pipe"; return 1; }
	grep -q 'queued=1 migrating=1 migrated=1 .* running=1 slow@example.test:[0-9]*/[0-9]*$' \
		"$MM_DIR/top.pipe" || { cat "$MM_DIR/top.pipe"; return 1; }
}

screen_has_bar() {
	TM capture-pane -p -t mmtop >"$MM_DIR/top.screen" 2>/dev/null &&
		grep -q '^slow@example.test .*\[[#-]*\] *[0-9]*%' "$MM_DIR/top.screen"
}

top_gone() { ! TM has-session -t mmtop 2>/dev/null; }

t_top_terminal() {
	TM new-session -d -s mmtop -x 80 -y 24 \
		"MAILMIGRATE_CONF=$CONF $MAILMIGRATE top; echo \$? >$MM_DIR/top.rc" || return 1
	wait_for screen_has_bar 30 || { cat "$MM_DIR/top.screen"; return 1; }
	cp "$MM_DIR/top.screen" "$MM_DIR/top-80x24.txt"
	echo "--- top, 80x24 (tmux capture-pane) ---"
	cat "$MM_DIR/top-80x24.txt"
	echo "---"
	# Within 80 columns and 24 lines; the figures are there.
	awk 'length($0) > 80 { exit 1 }' "$MM_DIR/top.screen" || return 1
	[ "$(wc -l <"$MM_DIR/top.screen")" -le 24 ] || return 1
	grep -q '^Mailboxes 3: 1 queued, 1 migrating, 1 migrated, 0 failed' "$MM_DIR/top.screen" &&
		grep -q '^Left .* ETA ' "$MM_DIR/top.screen" &&
		grep -q '^ACCOUNT ' "$MM_DIR/top.screen" &&
		grep -q '^Last errors:' "$MM_DIR/top.screen" || return 1
	TM send-keys -t mmtop q
	wait_for top_gone 10 || return 1
	[ "$(cat "$MM_DIR/top.rc")" = 0 ]
}

done_all() {
	MM stats --json >"$MM_DIR/stats.json" 2>/dev/null &&
		"$PYTHON" -c '
import json, sys
st = json.load(open(sys.argv[1]))
sys.exit(0 if st["mailboxes_migrated"] == 3 and st["running"] == [] else 1)' "$MM_DIR/stats.json"
}

t_done() {
	wait_for done_all 120 || { cat "$MM_DIR/stats.json"; return 1; }
	pid=$(cat "$DAEMON_PID_FILE") || return 1
	kill -TERM "$pid" || return 1
	# Not our child here (started in another check's subshell): poll.
	wait_for '! kill -0 "$pid" 2>/dev/null' 30 || return 1
	: >"$DAEMON_PID_FILE"
	"$PYTHON" - "$MM_DIR/stats.json" <<'EOP'
import json, sys
st = json.load(open(sys.argv[1]))
assert st["bytes_left"] == 0 and st["eta_seconds"] == 0, st
EOP
}

# A terminal too small: a clear message, exit 2, the terminal and the
# store untouched.
t_top_too_small() {
	MM stats --json | sed 's/"rate[^,]*,//g; s/"eta_seconds[^,]*,//' >"$MM_DIR/before.json"
	TM new-session -d -s mmtop -x 20 -y 5 \
		"MAILMIGRATE_CONF=$CONF $MAILMIGRATE top 2>$MM_DIR/small.err; echo \$? >$MM_DIR/small.rc" ||
		return 1
	wait_for top_gone 10 || return 1
	[ "$(cat "$MM_DIR/small.rc")" = 2 ] || return 1
	grep -q 'top: the terminal is 20x5; top needs at least 60x12' "$MM_DIR/small.err" ||
		{ cat "$MM_DIR/small.err"; return 1; }
	MM stats --json | sed 's/"rate[^,]*,//g; s/"eta_seconds[^,]*,//' >"$MM_DIR/after.json"
	cmp -s "$MM_DIR/before.json" "$MM_DIR/after.json"
}

t_bad_count() {
	MM top -n x >/dev/null 2>"$MM_DIR/n.err"
	[ $? -eq 2 ] && grep -q 'top: -n needs a number' "$MM_DIR/n.err"
}

check "stats before any copy: left and time unknown" t_before_any_copy
check "stats while copying: progress, bytes left, time to finish" t_stats_while_copying
check "top into a pipe: one line a refresh" t_top_pipe
check "top in an 80x24 terminal: drawn, q quits" t_top_terminal
check "all copied: nothing left, no copy running" t_done
check "top on a 20x5 terminal: refused, nothing changed" t_top_too_small
check "top -n x: usage error" t_bad_count
mm_done
