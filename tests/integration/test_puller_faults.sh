#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_puller_faults.sh - mailmigrated against a scripted fake OLD
# (tests/harness/fakeimap.py) for what Dovecot will not do on demand,
# copying into the real NEW Dovecot:
#   - the connection cut in the middle of a message literal, then a
#     retry: every message on NEW once, byte for byte;
#   - the worker killed right after NEW took a batch and before the
#     store recorded it (MAILMIGRATED_CRASH_AFTER_APPEND), with one
#     message whose RFC822.SIZE on OLD is not its real size: the next
#     run finds the batch on NEW by Message-ID, nothing twice;
#   - UIDVALIDITY changed and every UID renumbered on OLD, plus one new
#     message: the sync round matches, copies only the new one;
#   - a greeting that never comes: io_timeout, retried later, not failed;
#   - a greeting without a status word ("*", "+ x"): the worker lives,
#     the account is failed with the reason;
#   - a worker that dies on every attempt (MAILMIGRATED_CRASH_AFTER_CONNECT)
#     under a running daemon: given up after max_worker_deaths (3) deaths,
#     the reason in show and the event log; and with max_worker_deaths
#     out of the way, given up at the 21st take (attempts are counted
#     when a job is taken, so deaths count);
#   - a malformed FETCH response: given up with a reason naming it;
#   - access_mode extended and standard: the addresses gathered from the
#     headers of the copied mail are proposals for the administrator
#     (mailmigrate aliases approve), but for the "for" of OLD's own
#     topmost Received: hop (source_mx_names), an alias at once;
#   - NEW advertising APPENDLIMIT (and enforcing it with the quota
#     plugin): a larger message is a failed item, not sent at all;
#   - folder names in raw UTF-8, sent as literals: EXAMINEd with a
#     literal, created on NEW in modified UTF-7;
#   - a message whose RFC822.SIZE is small but whose literal is over
#     max_message_size: a failed item, not copied (the bytes streamed
#     count, not what OLD announced);
#   - one message streamed slower than the job's lease: the lease is
#     renewed as it streams, no second worker takes the job;
#   - POP3 from the real OLD with the spool (TMPDIR) on a full tmpfs:
#     retry later, not a failed account; copied once there is room;
#   - hostile message attributes: an INTERNALDATE sent as a literal
#     holding CR LF and "DELETE Sent", a date holding '"', a keyword
#     "[a b (c)]": NEW runs no command of OLD's (its Sent is still there,
#     its mail_log shows no deletion), the messages are copied with
#     NEW's date and without the keyword;
#   - TLS stripping: with source_tls = detect, OLD offers STARTTLS on the
#     first connection (the copy runs over verified TLS, the domain is
#     remembered, preflight shows it) and not on the next (a sync round):
#     refused, retried later, no LOGIN sent in plaintext, nothing copied;
#     with source_protocols = both, no fallback to POP3 either.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
MAILMIGRATED=${MAILMIGRATED:-$top_builddir/puller/mailmigrated}
[ -x "$MAILMIGRATED" ] || skip "mailmigrated not built"

# Dovecot 2.3 enforces quota_max_mail_size but does not advertise it:
# say APPENDLIMIT as a server that does would.
MM_NEW_DOVECOT_EXTRA=$(mktemp /tmp/mmx.XXXXXX)
cat >"$MM_NEW_DOVECOT_EXTRA" <<'EOD'
mail_plugins = $mail_plugins quota notify mail_log
plugin {
  quota = count:User quota
  quota_vsizes = yes
  quota_max_mail_size = 1M
  mail_log_events = mailbox_delete
}
imap_capability = +APPENDLIMIT=1048576
EOD
export MM_NEW_DOVECOT_EXTRA
mm_servers_start
rm -f "$MM_NEW_DOVECOT_EXTRA"
CONF=$MM_DIR/mailmigrate.conf
FAKE_PORT=1	# until a fake runs

# The fake OLD listens on OLD's address, on a port of its own. Checks run
# in subshells, so its pid is kept in a file.
fake_start() {
	fake_stop
	rm -f "$MM_DIR/fake.port"
	"$PYTHON" "$HARNESS/fakeimap.py" --listen "$OLD_IP" --port-file "$MM_DIR/fake.port" \
		--log "$MM_DIR/fake.log" "$@" </dev/null >>"$MM_DIR/fake.err" 2>&1 &
	echo $! >"$MM_DIR/fake.pid"
	wait_for '[ -s "$MM_DIR/fake.port" ]' 10 || fail "fakeimap.py did not start"
	FAKE_PORT=$(cat "$MM_DIR/fake.port")
	write_conf
}
fake_stop() {
	if [ -s "$MM_DIR/fake.pid" ]; then
		kill "$(cat "$MM_DIR/fake.pid")" 2>/dev/null
		rm -f "$MM_DIR/fake.pid"
	fi
	return 0
}
mm_at_exit fake_stop

write_conf() {
	cat >"$CONF" <<EOC
$(mm_store_conf $MM_DIR/state)
key_file = $MM_DIR/secret.key
log_file = $MM_DIR/mailmigrated.log
workers = ${WORKERS:-1}
max_message_size = ${MAX_MESSAGE_SIZE:-100M}
io_timeout = 3
connect_timeout = 3
max_worker_deaths = ${MAX_DEATHS:-3}
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE

[domain example.test]
source_host = $OLD_IP:$FAKE_PORT
source_protocols = ${SOURCE_PROTOCOLS:-imap}
source_tls = ${SOURCE_TLS:-none}
source_tls_ca_file = $CA_FILE
access_mode = ${ACCESS_MODE:-username}
source_mx_names = mx.old.test, store.old.test
${ADMIN_LINES:-}

[domain example.org]
source_host = $OLD_IP
source_protocols = pop3
source_tls = starttls
source_tls_ca_file = $CA_FILE
EOC
}
MM() { "$MAILMIGRATE" -c "$CONF" "$@"; }
run_once() {
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err"
}

# Messages: 24 in INBOX (one of 300 KB, where the cut falls), 6 in
# "Lists/Old"; every one with its own Message-ID. spec USER [EXTRA]
# writes the fake's spec with EXTRA more messages in INBOX.
mkdir -p "$MM_DIR/msgs"
"$PYTHON" - "$MM_DIR/msgs" <<'EOP' || fail "message generation failed"
import os, sys
d = sys.argv[1]
for i in range(1, 32):
    pad = "x" * (300000 if i == 5 else 200 + 37 * i)
    extra = {7: "X-Envelope-To: env7@example.test\r\n",
             9: "Received: from a by b with ESMTP id 9\r\n\tfor <Rcvd9@Example.TEST>; "
                "Mon, 2 Mar 2020 10:09:00 +0000\r\n",
             11: "Cc: Colleague <colleague@example.test>\r\n",
             13: "Received: from c by MX.old.test (Postfix) with ESMTP id 13\r\n"
                 "\tfor <Alt13@example.test>; Mon, 2 Mar 2020 10:13:00 +0000\r\n"
                 "Received: from x by smtp.example.net; Mon, 2 Mar 2020 10:12:59 +0000\r\n"
                 "Received: from d by mx.old.test for <forged13@example.test>; "
                 "Mon, 2 Mar 2020 10:12:58 +0000\r\n",
             12: "Cc: list@example.org\r\n"}.get(i, "")
    body = (extra + "From: sender%d@example.net\r\nTo: user@example.test\r\n"
            "Subject: fake message %d\r\nMessage-ID: <%d.fake@example.net>\r\n"
            "Date: Mon, 2 Mar 2020 10:%02d:00 +0000\r\n\r\n" % (i, i, i, i % 60))
    lines = [pad[k:k + 76] for k in range(0, len(pad), 76)]
    body += "\r\n".join(lines) + "\r\n"
    with open(os.path.join(d, "%d.eml" % i), "w", newline="") as f:
        f.write(body)
with open(os.path.join(d, "big.eml"), "w", newline="") as f:
    f.write("Subject: over NEW's APPENDLIMIT\r\nMessage-ID: <big@example.net>\r\n\r\n")
    f.write(("y" * 998 + "\r\n") * 1500)
EOP
spec() {
	"$PYTHON" - "$MM_DIR" "$1" "${2:-0}" "${3:-}" "${4:-}" <<'EOP'
import json, sys
d, user, extra, big, utf8 = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
date = "02-Mar-2020 10:00:00 +0000"  # the same for all: matching needs more
def msg(i, uid):
    return {"uid": uid, "file": "%s/msgs/%d.eml" % (d, i), "date": date,
            "flags": ["\\Seen"] if i % 2 else []}
inbox = [msg(i, i) for i in range(1, 25 + extra)]
other = [msg(i, i - 24) for i in range(26, 32)]
if big:
    other.append({"uid": 50, "file": "%s/msgs/big.eml" % d, "date": date, "flags": []})
spec = {"user": user, "password": "fake pass", "folders": [
    {"name": "INBOX", "uidvalidity": 4242, "messages": inbox},
    {"name": "Lists/Old", "uidvalidity": 4343, "messages": other}]}
if utf8:
    spec["folders"].append({"name": "Gesch\u00e4ft/Gr\u00fc\u00dfe", "uidvalidity": 99,
                            "messages": [msg(26, 1), msg(27, 2)]})
json.dump(spec, open("%s/spec-%s.json" % (d, user), "w"))
EOP
}

# NEW holds exactly the fake's messages for USER (every body once, in the
# right folder): check USER [EXTRA]
check_new() {
	"$PYTHON" - "$MM_DIR" "$1" "${2:-0}" "$NEW_IP" "$NEW_IMAP_PORT" \
		"$NEW_MASTER_USER" "$NEW_MASTER_PASS_FILE" <<'EOP'
import imaplib, sys
d, user, extra, host, port, master, pwfile = sys.argv[1:8]
extra = int(extra)
want = {"INBOX": sorted(open("%s/msgs/%d.eml" % (d, i), "rb").read()
                        for i in range(1, 25 + extra)),
        "Lists/Old": sorted(open("%s/msgs/%d.eml" % (d, i), "rb").read()
                            for i in range(26, 32))}
c = imaplib.IMAP4(host, int(port))
c.login("%s*%s" % (user, master), open(pwfile).read().strip())
for folder, bodies in want.items():
    typ, _ = c.select('"%s"' % folder, readonly=True)
    assert typ == "OK", folder
    typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[])")
    got = sorted(p[1] for p in data if isinstance(p, tuple))
    assert len(got) == len(bodies), "%s: %d on NEW, %d expected" % (folder, len(got), len(bodies))
    assert got == bodies, "%s: bodies differ" % folder
c.logout()
EOP
}

add_account() {
	sh "$SERVERS_SH" adduser "$MM_DIR" new "$1" --nopass </dev/null ||
		fail "adduser new $1 failed"
	printf '%s:fake pass\n' "$1" | MM bulk - >/dev/null
}

# fake_run USER FAKE-ARGS...: queue USER, copy once from a fake OLD.
fake_run() {
	fr_user=$1
	shift
	fake_start --spec "$MM_DIR/spec-$fr_user.json" "$@"
	add_account "$fr_user" || return 1
	run_once
	fake_stop
}

# show USER FIELD: one field of `mailmigrate show --json`
show() {
	MM show "$1" --json | "$PYTHON" -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[k] if v is not None else None
print(v)' "$2"
}

write_conf
MM init >/dev/null || fail "init failed"

t_cut_mid_literal() {
	spec cut@example.test
	fake_start --spec "$MM_DIR/spec-cut@example.test.json" --cut 1:5:100000
	add_account cut@example.test || return 1
	run_once
	grep -q "^1 .*CUT 5" "$MM_DIR/fake.log" || { echo "the cut did not happen"; return 1; }
	[ "$(show cut@example.test state)" != copied ] || return 1
	# Retried soon (a cut connection is "retry now", after a few seconds).
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		[ "$(show cut@example.test state)" = copied ] && break
		sleep 1
		run_once
	done
	[ "$(show cut@example.test state)" = copied ] ||
		{ show cut@example.test job.last_error; return 1; }
	fake_stop
	check_new cut@example.test
}

t_crash_after_append() {
	spec crash@example.test
	fake_start --spec "$MM_DIR/spec-crash@example.test.json" --size-lie 3:7
	add_account crash@example.test || return 1
	: >"$MM_DIR/crash"
	MAILMIGRATED_CRASH_AFTER_APPEND=$MM_DIR/crash run_once
	[ ! -e "$MM_DIR/crash" ] || { echo "the crash point was not reached"; return 1; }
	[ "$(show crash@example.test state)" = migrating ] || return 1
	run_once
	[ "$(show crash@example.test state)" = copied ] || return 1
	MM log --account crash@example.test | grep -q "24 of 24 messages of the last batch to INBOX were already on NEW" ||
		{ MM log --account crash@example.test; return 1; }
	check_new crash@example.test
}

t_uidvalidity_renumbered() {
	fake_stop
	spec crash@example.test 1
	fake_start --spec "$MM_DIR/spec-crash@example.test.json" --size-lie 3:7 \
		--renumber 1:777:1000
	MM sync crash@example.test >/dev/null || return 1
	run_once
	[ "$(show crash@example.test state)" = copied ] || return 1
	MM log --account crash@example.test | grep -q "UIDVALIDITY of INBOX changed on OLD (4242 -> 777)" ||
		return 1
	check_new crash@example.test 1 || return 1
	fake_stop
}

t_no_banner() {
	spec mute@example.test
	fake_run mute@example.test --no-banner || return 1
	[ "$(show mute@example.test state)" = queued ] ||
		[ "$(show mute@example.test state)" = migrating ] || return 1
	[ "$(show mute@example.test job.attempts)" = 1 ] || return 1
	show mute@example.test job.last_error | grep -qi "time" ||
		{ show mute@example.test job.last_error; return 1; }
}

# A greeting without a status word once killed the worker (NULL
# dereference): now the account is failed, naming the greeting.
t_greeting_without_status() {
	kills=$(grep -c "killed by signal" "$MM_DIR/mailmigrated.log")
	spec star@example.test
	fake_run star@example.test --greeting "*" || return 1
	[ "$(show star@example.test state)" = failed ] ||
		{ show star@example.test state; show star@example.test job; return 1; }
	show star@example.test last_error | grep -q "bad greeting from $OLD_IP: '\*' without a status" ||
		{ show star@example.test last_error; return 1; }
	spec plus@example.test
	fake_run plus@example.test --greeting "+ x" || return 1
	[ "$(show plus@example.test state)" = failed ] ||
		{ show plus@example.test state; show plus@example.test job; return 1; }
	show plus@example.test last_error | grep -q "'+' without a status: x" ||
		{ show plus@example.test last_error; return 1; }
	assert_eq "$kills" "$(grep -c "killed by signal" "$MM_DIR/mailmigrated.log")" \
		"workers killed"
}

# A job that kills its worker every time, under a daemon that restarts
# workers: given up after max_worker_deaths, not taken for ever.
t_worker_dies_every_time() {
	spec doom@example.test
	fake_start --spec "$MM_DIR/spec-doom@example.test.json"
	add_account doom@example.test || return 1
	: >"$MM_DIR/crash-always"
	MAILMIGRATED_CRASH_AFTER_CONNECT=$MM_DIR/crash-always \
		"$MAILMIGRATED" -c "$CONF" -f 2>>"$MM_DIR/daemon.err" &
	dpid=$!
	wait_for '[ "$(show doom@example.test state)" = failed ]' 90
	ok=$?
	kill -TERM "$dpid"
	wait "$dpid"
	rm -f "$MM_DIR/crash-always"
	fake_stop
	[ "$ok" = 0 ] || { show doom@example.test state; show doom@example.test job; return 1; }
	show doom@example.test last_error |
		grep -q "the worker copying it died 3 times (max_worker_deaths = 3); last: the worker holding it died" ||
		{ show doom@example.test last_error; return 1; }
	assert_eq None "$(show doom@example.test job)" "job left" || return 1
	assert_eq 3 "$(MM log --account doom@example.test | grep -c "died holding the job")" \
		"deaths in the event log" || return 1
	MM log --account doom@example.test | grep -q "migration failed: the worker copying it died 3 times" ||
		{ MM log --account doom@example.test; return 1; }
	# Killed three times by the hook, nothing else.
	assert_eq 3 "$(grep -c "MAILMIGRATED_CRASH_AFTER_CONNECT: dying" "$MM_DIR/mailmigrated.log")" \
		"crashes"
}

# Deaths out of the way (max_worker_deaths = 1000): the attempt limit,
# counted when the job is taken, gives it up after 20 attempts.
t_attempts_counted_at_take() {
	MAX_DEATHS=1000
	spec doom2@example.test
	fake_start --spec "$MM_DIR/spec-doom2@example.test.json"
	add_account doom2@example.test || return 1
	: >"$MM_DIR/crash-always"
	n=0
	while [ "$n" -lt 25 ] && [ "$(show doom2@example.test state)" != failed ]; do
		MAILMIGRATED_CRASH_AFTER_CONNECT=$MM_DIR/crash-always run_once
		n=$((n + 1))
	done
	rm -f "$MM_DIR/crash-always"
	fake_stop
	MAX_DEATHS=
	write_conf
	[ "$(show doom2@example.test state)" = failed ] ||
		{ show doom2@example.test job; return 1; }
	show doom2@example.test last_error |
		grep -q "taken 20 times, the limit is 20 attempts; last: the worker holding it died" ||
		{ show doom2@example.test last_error; return 1; }
	# 20 runs whose worker died, the 21st gave the job up.
	assert_eq 21 "$n" "runs"
}

t_malformed_fetch() {
	spec bad@example.test
	fake_run bad@example.test --malformed-fetch || return 1
	[ "$(show bad@example.test state)" = failed ] || return 1
	show bad@example.test last_error | grep -q "malformed FETCH response" ||
		{ show bad@example.test last_error; return 1; }
}

# pending: the pending proposals as "alias>account" lines, sorted.
pending() {
	MM aliases --pending --json | "$PYTHON" -c '
import json, sys
print(" ".join(sorted("%s>%s" % (p["alias"], p["account"]) for p in json.load(sys.stdin))))'
}
t_aliases() {
	ACCESS_MODE=standard
	spec std@example.test
	fake_run std@example.test || return 1
	[ "$(show std@example.test state)" = copied ] || return 1
	# The To: of all its mail: a proposal, no alias until approved.
	assert_eq "[]" "$(show std@example.test aliases)" "standard, before approval" || return 1
	assert_eq "user@example.test>std@example.test" "$(pending)" "standard proposal" || return 1
	MM aliases approve user@example.test >/dev/null || return 1
	assert_eq "['user@example.test']" "$(show std@example.test aliases)" \
		"standard alias" || return 1
	ACCESS_MODE=extended
	spec ext@example.test
	fake_run ext@example.test || return 1
	[ "$(show ext@example.test state)" = copied ] || return 1
	# Only the "for" of OLD's own topmost Received: hop is an alias at
	# once; the envelope headers and a Received: hop below a foreign one
	# (sender-written, naming OLD's host) are proposals; not the
	# colleague in one Cc:, not a domain served elsewhere; the To: of
	# all mail is std's already.
	assert_eq "['alt13@example.test']" "$(show ext@example.test aliases)" \
		"extended aliases" || return 1
	assert_eq "env7@example.test>ext@example.test forged13@example.test>ext@example.test rcvd9@example.test>ext@example.test" \
		"$(pending)" "extended proposals" || return 1
	MM log --account ext@example.test |
		grep -q "user@example.test .* is already an alias of std@example.test" || return 1
	MM aliases --json | "$PYTHON" -c '
import json, sys
got = {a["alias"]: (a["account"], a["origin"]) for a in json.load(sys.stdin)}
want = {"user@example.test": ("std@example.test", "approved"),
        "alt13@example.test": ("ext@example.test", "trusted")}
assert got == want, got' || return 1
	# Rejected: listed as such, no longer pending, no alias.
	MM aliases reject forged13@example.test >/dev/null || return 1
	assert_eq "env7@example.test>ext@example.test rcvd9@example.test>ext@example.test" \
		"$(pending)" "after a rejection" || return 1
	MM aliases --rejected | grep -q "^forged13@example.test  *ext@example.test  *Received " || return 1
	# approve --all: every pending proposal of the account.
	MM aliases approve --all ext@example.test >/dev/null || return 1
	assert_eq "" "$(pending)" "after approve --all" || return 1
	assert_eq "['alt13@example.test', 'env7@example.test', 'rcvd9@example.test']" \
		"$(show ext@example.test aliases)" "after approve --all" || return 1
	ACCESS_MODE=
}

t_appendlimit() {
	spec lim@example.test 0 big
	fake_run lim@example.test || return 1
	[ "$(show lim@example.test state)" = copied ] || return 1
	MM failed lim@example.test --csv >"$MM_DIR/lim.csv"
	grep -q "^lim@example.test,Lists/Old,4343,50,.*over NEW's APPENDLIMIT (1048576 bytes)" \
		"$MM_DIR/lim.csv" || { cat "$MM_DIR/lim.csv"; return 1; }
	check_new lim@example.test
}

t_8bit_folder() {
	spec raw@example.test 0 "" utf8
	fake_run raw@example.test || return 1
	[ "$(show raw@example.test state)" = copied ] ||
		{ show raw@example.test last_error; return 1; }
	check_new raw@example.test || return 1
	"$PYTHON" - "$NEW_IP" "$NEW_IMAP_PORT" "$NEW_MASTER_USER" "$NEW_MASTER_PASS_FILE" <<'EOP'
import imaplib, sys
host, port, master, pwfile = sys.argv[1:5]
c = imaplib.IMAP4(host, int(port))
c.login("raw@example.test*" + master, open(pwfile).read().strip())
typ, data = c.select('"Gesch&AOQ-ft/Gr&APwA3w-e"', readonly=True)
assert typ == "OK" and data[0] == b"2", (typ, data)
EOP
}

# OLD announces an RFC822.SIZE under max_message_size (300K) for message
# 5 and then sends its 308045 bytes: a failed item, not copied; the rest
# is. (The lie is by UID: "Lists/Old" UID 5 is announced smaller too.)
t_streamed_over_max() {
	spec lie@example.test
	MAX_MESSAGE_SIZE=300K
	fake_run lie@example.test --size-lie 5:-1000
	MAX_MESSAGE_SIZE=
	[ "$(show lie@example.test state)" = copied ] ||
		{ show lie@example.test last_error; return 1; }
	grep -q "^1 .*UID FETCH" "$MM_DIR/fake.log" || return 1
	MM failed lie@example.test --csv >"$MM_DIR/lie.csv"
	grep -q '^lie@example.test,INBOX,4242,5,.*,"308045 bytes sent by OLD (RFC822.SIZE said 307045), over max_message_size (307200 bytes)"$' \
		"$MM_DIR/lie.csv" || { cat "$MM_DIR/lie.csv"; return 1; }
	[ "$(grep -c '^lie@' "$MM_DIR/lie.csv")" = 1 ] || { cat "$MM_DIR/lie.csv"; return 1; }
	"$PYTHON" - "$NEW_IP" "$NEW_IMAP_PORT" "$NEW_MASTER_USER" "$NEW_MASTER_PASS_FILE" <<'EOP'
import imaplib, sys
host, port, master, pwfile = sys.argv[1:5]
c = imaplib.IMAP4(host, int(port))
c.login("lie@example.test*" + master, open(pwfile).read().strip())
typ, data = c.select("INBOX", readonly=True)
assert typ == "OK" and data[0] == b"23", ("INBOX on NEW", data)
typ, data = c.uid("SEARCH", None, "HEADER", "Message-ID", "<5.fake@example.net>")
assert typ == "OK" and data[0] == b"", ("the message over the limit is on NEW", data)
EOP
}

# Message 5 (300 KB) takes 8 s to arrive; the lease is 2 s and a second
# worker looks for jobs every second. The lease is renewed while the
# message streams: one session on OLD, no lease lost, everything once.
t_lease_renewed_while_streaming() {
	spec slow@example.test
	WORKERS=2
	fake_start --spec "$MM_DIR/spec-slow@example.test.json" --slow 5:8
	WORKERS=
	: >"$MM_DIR/fake.log"
	add_account slow@example.test || return 1
	MAILMIGRATED_LEASE_SECONDS=2 "$MAILMIGRATED" -c "$CONF" -f 2>>"$MM_DIR/daemon.err" &
	pid=$!
	wait_for '[ "$(show slow@example.test state)" = copied ]' 60
	ok=$?
	kill -TERM "$pid"
	wait_for '! kill -0 "$pid" 2>/dev/null' 10 || { kill -KILL "$pid"; return 1; }
	wait "$pid"
	fake_stop
	[ "$ok" = 0 ] || { show slow@example.test last_error; return 1; }
	grep -q "SLOW 5" "$MM_DIR/fake.log" || { echo "message 5 was not streamed slowly"; return 1; }
	sessions=$(grep -c "LOGIN" "$MM_DIR/fake.log")
	[ "$sessions" = 1 ] || { echo "$sessions sessions on OLD"; cat "$MM_DIR/fake.log"; return 1; }
	if grep -q "slow@example.test: lease lost" "$MM_DIR/mailmigrated.log"; then
		echo "the lease was lost"
		return 1
	fi
	check_new slow@example.test
}

# POP3 spools each message to $TMPDIR: a full disk there (a 64 KB tmpfs,
# messages of 100 KB) is retry later, not a failed account; with room
# again the retry copies everything, and nothing is left in the spool.
spool_umount() {
	if mountpoint -q "$MM_DIR/spool" 2>/dev/null; then
		umount "$MM_DIR/spool"
	fi
	return 0
}
t_pop3_spool_full() {
	command -v mountpoint >/dev/null || { echo "no mountpoint(1)"; return 1; }
	mkdir -p "$MM_DIR/spool"
	mount -t tmpfs -o size=64k,mode=0700 mmspool "$MM_DIR/spool" || return 1
	mm_adduser old pop@example.org "pop pass"
	sh "$SERVERS_SH" adduser "$MM_DIR" new pop@example.org --nopass </dev/null || return 1
	"$PYTHON" - "$OLD_IP" "$OLD_LMTP_PORT" <<'EOP' || return 1
import smtplib, sys
host, port = sys.argv[1], int(sys.argv[2])
c = smtplib.LMTP(host, port)
for i in range(1, 4):
    body = ("From: a@example.net\r\nTo: pop@example.org\r\nSubject: spool %d\r\n"
            "Message-ID: <spool%d@example.net>\r\n"
            "Date: Mon, 2 Mar 2020 10:00:00 +0000\r\n\r\n" % (i, i))
    body += ("z" * 998 + "\r\n") * 100
    c.sendmail("a@example.net", ["pop@example.org"], body)
c.quit()
EOP
	printf 'pop@example.org:pop pass\n' | MM bulk - >/dev/null || return 1
	TMPDIR=$MM_DIR/spool run_once
	[ "$(show pop@example.org state)" != failed ] ||
		{ show pop@example.org last_error; return 1; }
	[ "$(show pop@example.org job.attempts)" = 1 ] || return 1
	show pop@example.org job.last_error | grep -q "No space left on device" ||
		{ show pop@example.org job.last_error; return 1; }
	MM log --account pop@example.org | grep -q "again in 60 s" ||
		{ MM log --account pop@example.org; return 1; }
	[ -z "$(ls -A "$MM_DIR/spool")" ] || { ls -la "$MM_DIR/spool"; return 1; }
	# Room again: the retry (after its 60 s back-off) copies everything.
	mount -o remount,size=4m "$MM_DIR/spool" || return 1
	n=0
	while [ "$(show pop@example.org state)" != copied ] && [ "$n" -lt 90 ]; do
		sleep 1
		TMPDIR=$MM_DIR/spool run_once
		n=$((n + 1))
	done
	[ "$(show pop@example.org state)" = copied ] ||
		{ show pop@example.org job.last_error; return 1; }
	[ "$(show pop@example.org messages)" = 3 ] || return 1
	[ -z "$(ls -A "$MM_DIR/spool")" ] || { ls -la "$MM_DIR/spool"; return 1; }
	spool_umount
}
# (Checks run in subshells: the unmount at exit is set up out here.)
mm_at_exit spool_umount

t_hostile_attrs() {
	"$PYTHON" - "$MM_DIR" <<'EOP' || return 1
import json, sys
d = sys.argv[1]
date = "02-Mar-2020 10:00:00 +0000"
msgs = [
    # x" CR LF Z DELETE Sent CR LF Y NOOP ": pasted between quotes, the
    # lines in it were commands on NEW.
    {"uid": 1, "file": "%s/msgs/1.eml" % d, "flags": ["\\Seen"], "date_literal": True,
     "date": 'x"\r\nZ DELETE Sent\r\nY NOOP "'},
    {"uid": 2, "file": "%s/msgs/2.eml" % d, "flags": [], "date": date + '" "x'},
    {"uid": 3, "file": "%s/msgs/3.eml" % d, "flags": ["\\Seen", "[a b (c)]", "$Forwarded"],
     "date": date},
    {"uid": 4, "file": "%s/msgs/4.eml" % d, "flags": [], "date": date},
]
json.dump({"user": "hostile@example.test", "password": "fake pass", "folders": [
    {"name": "INBOX", "uidvalidity": 77, "messages": msgs}]},
    open("%s/spec-hostile@example.test.json" % d, "w"))
EOP
	sh "$SERVERS_SH" adduser "$MM_DIR" new hostile@example.test --nopass </dev/null ||
		return 1
	# The user already has a Sent folder on NEW, with a message in it.
	"$PYTHON" - "$NEW_IP" "$NEW_IMAP_PORT" "$NEW_MASTER_USER" "$NEW_MASTER_PASS_FILE" <<'EOP' || return 1
import imaplib, sys
host, port, master, pwfile = sys.argv[1:5]
c = imaplib.IMAP4(host, int(port))
c.login("hostile@example.test*" + master, open(pwfile).read().strip())
assert c.create("Sent")[0] == "OK"
assert c.append("Sent", None, None, b"Subject: kept\r\n\r\nkept\r\n")[0] == "OK"
c.logout()
EOP
	printf '%s:fake pass\n' hostile@example.test | MM bulk - >/dev/null
	fake_start --spec "$MM_DIR/spec-hostile@example.test.json"
	run_once
	fake_stop
	[ "$(show hostile@example.test state)" = copied ] ||
		{ show hostile@example.test last_error; return 1; }
	grep -q "hostile@example.test: INBOX UID 1: the server's INTERNALDATE is not an RFC 3501 date-time" \
		"$MM_DIR/mailmigrated.log" || return 1
	grep -q "hostile@example.test: INBOX UID 3: a keyword from the server is not an IMAP atom" \
		"$MM_DIR/mailmigrated.log" || return 1
	# No failed item: each message is on NEW, once, byte for byte.
	[ -z "$(MM failed hostile@example.test --csv | grep '^hostile@')" ] || return 1
	"$PYTHON" - "$MM_DIR" "$NEW_IP" "$NEW_IMAP_PORT" "$NEW_MASTER_USER" \
		"$NEW_MASTER_PASS_FILE" <<'EOP' || return 1
import imaplib, re, sys
d, host, port, master, pwfile = sys.argv[1:6]
c = imaplib.IMAP4(host, int(port))
c.login("hostile@example.test*" + master, open(pwfile).read().strip())
typ, data = c.select("Sent", readonly=True)
assert typ == "OK" and data[0] == b"1", ("Sent on NEW", typ, data)
typ, data = c.select("INBOX", readonly=True)
assert typ == "OK" and data[0] == b"4", ("INBOX on NEW", typ, data)
typ, data = c.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
got = {}
for p in data:
    if isinstance(p, tuple):
        body = p[1]
        n = int(re.search(rb"Subject: fake message (\d+)", body).group(1))
        got[n] = (p[0], body)
assert sorted(got) == [1, 2, 3, 4], sorted(got)
for n, (meta, body) in got.items():
    assert body == open("%s/msgs/%d.eml" % (d, n), "rb").read(), n
    date = re.search(rb'INTERNALDATE "([^"]*)"', meta).group(1)
    flags = re.search(rb"FLAGS \(([^)]*)\)", meta).group(1).split()
    # 1 and 2: OLD's date was refused, NEW's date of the copy instead.
    if n in (1, 2):
        assert date != b"02-Mar-2020 10:00:00 +0000", (n, date)
    else:
        assert date == b"02-Mar-2020 10:00:00 +0000", (n, date)
    if n == 3:
        assert sorted(flags) == [b"$Forwarded", b"\\Seen"], flags
    assert not any(f.startswith(b"[") or f in (b"b", b"(c)]") for f in flags), flags
c.logout()
EOP
	# NEW's mail_log records mailbox deletions: one of ours shows up,
	# none of the user's folders was deleted by the copy.
	"$PYTHON" - "$NEW_IP" "$NEW_IMAP_PORT" "$NEW_MASTER_USER" "$NEW_MASTER_PASS_FILE" <<'EOP' || return 1
import imaplib, sys
host, port, master, pwfile = sys.argv[1:5]
c = imaplib.IMAP4(host, int(port))
c.login("hostile@example.test*" + master, open(pwfile).read().strip())
assert c.create("Probe")[0] == "OK" and c.delete("Probe")[0] == "OK"
c.logout()
EOP
	wait_for 'grep -q "hostile@example.test.*Mailbox deleted: Probe" "$NEW_DOVECOT_LOG"' 5 ||
		{ grep "hostile@example.test" "$NEW_DOVECOT_LOG" | tail -n 5; return 1; }
	! grep "hostile@example.test.*Mailbox deleted" "$NEW_DOVECOT_LOG" | grep -v "Mailbox deleted: Probe"
}

# Run last: the domain's TLS memory it leaves would refuse the fake's
# plaintext sessions of the other checks.
t_tls_stripped() {
	SOURCE_TLS=detect
	write_conf
	MM preflight --local | grep -q "^warning example.test: imap: source_tls = detect and STARTTLS never seen on OLD" ||
		{ MM preflight --local; return 1; }
	spec strip@example.test
	: >"$MM_DIR/fake.log"
	fake_start --spec "$MM_DIR/spec-strip@example.test.json" --starttls-sessions 1 \
		--cert "$OLD_CERT_FILE" --key "$(dirname "$OLD_CERT_FILE")/key.pem"
	add_account strip@example.test || return 1
	run_once
	[ "$(show strip@example.test state)" = copied ] ||
		{ show strip@example.test job.last_error; return 1; }
	# Session 1: STARTTLS, the handshake, then the login.
	grep -q "^1 .*STARTTLS | TLS | .*LOGIN" "$MM_DIR/fake.log" ||
		{ cat "$MM_DIR/fake.log"; return 1; }
	check_new strip@example.test || return 1
	MM preflight --local >"$MM_DIR/preflight.out"
	assert_eq 0 "$?" "preflight exit status"
	grep -q "^ok      example.test: imap: STARTTLS seen on OLD since 20[0-9-]* [0-9:]* UTC; plaintext refused" \
		"$MM_DIR/preflight.out" || { cat "$MM_DIR/preflight.out"; return 1; }
	MM log | grep -q "completed STARTTLS over imap: remembered for example.test" ||
		{ MM log; return 1; }
	# Session 2: no STARTTLS offered. Refused before any login.
	MM sync strip@example.test >/dev/null || return 1
	run_once
	wait_for 'grep -q "^2 " "$MM_DIR/fake.log"' 5 || { cat "$MM_DIR/fake.log"; return 1; }
	if grep "^2 " "$MM_DIR/fake.log" | grep -q "LOGIN\|AUTHENTICATE"; then
		echo "the password went to the stripped session:"; cat "$MM_DIR/fake.log"; return 1
	fi
	[ "$(grep -c . "$MM_DIR/fake.log")" = 2 ] || { cat "$MM_DIR/fake.log"; return 1; }
	show strip@example.test job.last_error |
		grep -q "no longer offers STARTTLS (it did on .*): refusing plaintext, possibly a downgrade attack" ||
		{ show strip@example.test job.last_error; return 1; }
	# Retried later, not given up; an error event for the administrator.
	[ "$(show strip@example.test job.attempts)" = 1 ] || return 1
	MM log --errors --account strip@example.test | grep -q "possibly a downgrade attack" ||
		{ MM log --account strip@example.test; return 1; }
	check_new strip@example.test || return 1
	# source_protocols = both: a stripped IMAP is no reason to fall back
	# to POP3 (the real OLD's, on port 110), which would get the password.
	SOURCE_PROTOCOLS=both
	write_conf
	add_account strip2@example.test || return 1
	run_once
	wait_for 'grep -q "^3 " "$MM_DIR/fake.log"' 5 || { cat "$MM_DIR/fake.log"; return 1; }
	if grep "^3 " "$MM_DIR/fake.log" | grep -q "LOGIN\|AUTHENTICATE"; then
		cat "$MM_DIR/fake.log"; return 1
	fi
	show strip2@example.test job.last_error | grep -q "no longer offers STARTTLS" ||
		{ show strip2@example.test job.last_error; return 1; }
	if grep -q "strip2@example.test" "$OLD_DOVECOT_LOG"; then
		echo "fell back to POP3 on OLD:"; grep "strip2@example.test" "$OLD_DOVECOT_LOG"
		return 1
	fi
	SOURCE_PROTOCOLS=
	fake_stop
	# The administrator says TLS is really gone: preflight warns again.
	MM tls-forget example.test | grep -q "STARTTLS memory forgotten" || return 1
	MM preflight --local | grep -q "^warning example.test: imap: source_tls = detect and STARTTLS never seen" ||
		{ MM preflight --local; return 1; }
	SOURCE_TLS=
}

# OLD lists a message but never sends it (as if expunged meanwhile): the
# round's verification finds it neither copied nor failed, the account
# is not "copied", and the retry copies it once OLD sends it.
t_short_copy() {
	spec short@example.test
	fake_start --spec "$MM_DIR/spec-short@example.test.json" --drop-fetch 7
	add_account short@example.test || return 1
	run_once
	[ "$(show short@example.test state)" != copied ] || return 1
	show short@example.test job.last_error |
		grep -q "verify: 1 of 2 folders differ from OLD.*INBOX: neither copied nor failed: 1 of OLD's 24 messages" ||
		{ show short@example.test job.last_error; return 1; }
	MM failed short@example.test | grep -q "^short@example.test  *INBOX .*verify: neither copied nor failed" ||
		{ MM failed short@example.test; return 1; }
	if MM verify short@example.test >"$MM_DIR/verify.txt"; then
		cat "$MM_DIR/verify.txt"; return 1
	fi
	grep -Eq "^INBOX +24 +[0-9]+ +23 +0 +1 +0 +23 .* differs$" "$MM_DIR/verify.txt" ||
		{ cat "$MM_DIR/verify.txt"; return 1; }
	# OLD sends it again: the retry copies it, and the account is copied.
	fake_start --spec "$MM_DIR/spec-short@example.test.json"
	wait_for 'run_once; [ "$(show short@example.test state)" = copied ]' 60 ||
		{ show short@example.test job; return 1; }
	check_new short@example.test || return 1
	MM verify short@example.test --json >"$MM_DIR/verify.json" || return 1
	grep -q '"result": "ok"' "$MM_DIR/verify.json" || return 1
	if MM failed short@example.test | grep -q verify; then
		echo "the verify failed item stayed"; return 1
	fi
	fake_stop
}

# An administrator's session that shows no INBOX (not the user's
# mailbox): the account fails with that reason, never "copied" empty.
t_admin_no_inbox() {
	spec adm@example.test
	printf 'admin pass\n' >"$MM_DIR/admin.pw"
	chmod 600 "$MM_DIR/admin.pw"
	ADMIN_LINES="source_admin_user = mmadmin
source_admin_password_file = $MM_DIR/admin.pw"
	fake_run adm@example.test --admin "mmadmin:admin pass" || true
	ADMIN_LINES=
	write_conf
	[ "$(show adm@example.test state)" = failed ] || { show adm@example.test state; return 1; }
	show adm@example.test last_error | grep -q "OLD shows no INBOX to this login (1 other folders)" ||
		{ show adm@example.test last_error; return 1; }
	grep -q "^[0-9]* .*AUTHENTICATE.*ADMIN" "$MM_DIR/fake.log" || { cat "$MM_DIR/fake.log"; return 1; }
	[ "$(show adm@example.test messages)" = 0 ]
}

# A date NEW will not keep (Dovecot takes the time of the APPEND for
# one more than a few hours ahead) is an event naming the message.
t_future_date() {
	spec future@example.test
	"$PYTHON" - "$MM_DIR/spec-future@example.test.json" <<'EOP' || return 1
import json, sys
s = json.load(open(sys.argv[1]))
s["folders"][0]["messages"][2]["date"] = "01-Jan-2099 10:00:00 +0000"
json.dump(s, open(sys.argv[1], "w"))
EOP
	fake_run future@example.test || return 1
	[ "$(show future@example.test state)" = copied ] || return 1
	grep -q "future@example.test: date not kept: INBOX UID 3 was received 01-Jan-2099 10:00:00 +0000 on OLD; NEW (INBOX UID [0-9]*) recorded .* instead (OLD's date is in the future" \
		"$MM_DIR/mailmigrated.log" || { grep future "$MM_DIR/mailmigrated.log"; return 1; }
}

check "connection cut mid-literal, retried: every message once" t_cut_mid_literal
check "killed between NEW's OK and the store: matched by Message-ID" t_crash_after_append
check "UIDVALIDITY changed and UIDs renumbered: only the new message" t_uidvalidity_renumbered
check "greeting never comes: timeout, retried later" t_no_banner
check "greeting without a status ('*', '+ x'): failed with the reason, no crash" t_greeting_without_status
check "worker dies on every attempt: given up after max_worker_deaths" t_worker_dies_every_time
check "attempts counted at take: a job that always kills its worker stops at 20" t_attempts_counted_at_take
check "malformed FETCH response: given up, reason recorded" t_malformed_fetch
check "access_mode extended and standard: aliases from the headers" t_aliases
check "NEW's APPENDLIMIT: a larger message is a failed item" t_appendlimit
check "raw UTF-8 folder names (literals) on OLD: EXAMINEd, mapped to UTF-7" t_8bit_folder
check "RFC822.SIZE under max_message_size, literal over it: a failed item" t_streamed_over_max
check "a message streamed slower than the lease: renewed, one worker" t_lease_renewed_while_streaming
check "POP3 spool on a full disk: retry later, copied once there is room" t_pop3_spool_full
check "hostile INTERNALDATE and keywords from OLD: no command on NEW, safe copy" t_hostile_attrs
check "STARTTLS stripped on the second connection: refused, no plaintext LOGIN" t_tls_stripped
check "OLD lists a message it never sends: verify holds the account back, retry copies it" t_short_copy
check "an admin session without INBOX: failed with the reason, never copied empty" t_admin_no_inbox
check "a date NEW does not keep (in the future): an event naming the message" t_future_date
fake_stop
mm_done
