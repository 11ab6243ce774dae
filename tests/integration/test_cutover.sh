#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_cutover.sh - the cut-over as clients see it, with target_driver =
# dovecot (doveadm mailmigrate-import on NEW): for every folder the same
# UIDVALIDITY, the same UIDs with the same flags on NEW as on OLD, and
# POP3's UIDL list the same (tests/harness/uidsnap.py takes what clients
# cache on each side); bodies byte for byte (corpus.py --verify), a POP3
# source's without an X-UIDL: header. A later round: flag changes and a
# new message keep them so. kill -9 of the worker right after NEW took
# a batch, and of NEW's doveadm in the middle of one: the rerun leaves no
# duplicate and nothing missing. Collisions: a message already in NEW's
# INBOX before the first round (the notice) is moved aside while OLD's go
# in and back after, above OLD's UIDs, so INBOX keeps OLD's UIDVALIDITY
# and all of OLD's UIDs but the one NEW had given (UID 1), counted; also
# across a kill -9 while it is aside; a UID taken on NEW by a delivery
# between rounds gives OLD's message a new one, counted in the events
# and the round's summary. Nothing doubled or lost.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
MAILMIGRATED=${MAILMIGRATED:-$top_builddir/puller/mailmigrated}
[ -x "$MAILMIGRATED" ] || skip "mailmigrated not built"
PLUGIN=${MM_DOVEADM_PLUGIN:-$top_builddir/doveadm-plugin/.libs/lib10_doveadm_mailmigrate_plugin.so}
[ -f "$PLUGIN" ] || skip "doveadm plugin not built ($PLUGIN)"
command -v unshare >/dev/null 2>&1 || skip "unshare not found"

CORPUS="$PYTHON $HARNESS/corpus.py"
SNAP="$PYTHON $HARNESS/uidsnap.py"

MM_DOVEADM_MODULES=$PLUGIN
export MM_DOVEADM_MODULES
# NEW's \Sent folder is configured: OLD's "Sent Messages" lands there.
MM_NEW_DOVECOT_EXTRA=$(mktemp /tmp/mmx.XXXXXX)
cat >"$MM_NEW_DOVECOT_EXTRA" <<'EOD'
namespace inbox {
  mailbox Sent {
    auto = create
    special_use = \Sent
  }
}
EOD
export MM_NEW_DOVECOT_EXTRA
mm_servers_start
rm -f "$MM_NEW_DOVECOT_EXTRA"
CONF=$MM_DIR/mailmigrate.conf
cat >"$CONF" <<EOC
$(mm_store_conf "$MM_DIR/state")
key_file = $MM_DIR/secret.key
log_file = $MM_DIR/mailmigrated.log
workers = 1
target_driver = dovecot
target_doveadm = $NEW_DOVEADM
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE
default_domain = example.test

[domain example.test]
source_host = $OLD_IP
source_tls = starttls
source_tls_ca_file = $CA_FILE

[domain example.org]
source_host = $OLD_IP
source_protocols = pop3
source_tls = starttls
source_tls_ca_file = $CA_FILE
EOC
MM() { "$MAILMIGRATE" -c "$CONF" "$@"; }

# Users on OLD with their corpora, empty on NEW.
adduser() { # USER@DOMAIN COUNT SEED [corpus options]
	mm_adduser old "$1" "pw $1"
	sh "$SERVERS_SH" adduser "$MM_DIR" new "$1" --nopass </dev/null ||
		fail "adduser new $1 failed"
	pw=$(mm_pwfile "pw $1")
	mv "$pw" "$MM_DIR/$1.pw"
	$CORPUS --host "$OLD_IP" --user "$1" --password-file "$MM_DIR/$1.pw" \
		--seed "$3" --count "$2" --manifest "$MM_DIR/$1.json" ${4:+"$4"} >/dev/null ||
		fail "corpus load for $1 failed"
}
adduser ann@example.test 40 11
adduser kim@example.test 150 12
adduser lee@example.test 150 13
adduser col@example.test 20 14
adduser cod@example.test 30 16 --inbox-only
adduser dup@example.test 10 17 --inbox-only
adduser pop@example.org 30 15 --inbox-only
MM init >/dev/null || fail "init failed"

add() { printf '%s:pw %s\n' "$1" "$1" | MM bulk - >/dev/null; }
run_once() { "$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err"; }
state() { MM show "$1" --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["state"])'; }

# What clients have cached: OLD's before, NEW's after (master login).
snap_old() {
	$SNAP imap --host "$OLD_IP" --user "$1" --password-file "$MM_DIR/$1.pw" \
		--folder-map "Sent Messages=Sent" >"$MM_DIR/$1.old.snap"
}
snap_new() {
	$SNAP imap --host "$NEW_IP" --user "$NEW_MASTER_USER" --authz "$1" \
		--password-file "$NEW_MASTER_PASS_FILE" >"$MM_DIR/$1.new.snap"
}
same_uids() { # USER [compare options]
	u=$1
	shift
	snap_old "$u" && snap_new "$u" &&
		$SNAP compare "$MM_DIR/$u.old.snap" "$MM_DIR/$u.new.snap" --extra-ok Sent "$@"
}
same_uidls() { # USER
	$SNAP pop3 --host "$OLD_IP" --user "$1" --password-file "$MM_DIR/$1.pw" \
		>"$MM_DIR/$1.old.uidl" &&
	$SNAP pop3 --host "$NEW_IP" --user "$1*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" >"$MM_DIR/$1.new.uidl" &&
	$SNAP compare "$MM_DIR/$1.old.uidl" "$MM_DIR/$1.new.uidl"
}
verify() { # USER [corpus options]: every message once, byte for byte
	u=$1
	shift
	$CORPUS --verify --host "$NEW_IP" --user "$u*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" --manifest "$MM_DIR/$u.json" \
		--folder-map "Sent Messages=Sent" "$@"
}
imap_new() { # USER PYTHON: run PYTHON with m logged in to NEW as USER
	"$PYTHON" - "$NEW_IP" "$1" "$NEW_MASTER_USER" "$NEW_MASTER_PASS_FILE" "$2" <<-'EOP'
	import imaplib, sys
	host, user, master, mpwf, code = sys.argv[1:6]
	m = imaplib.IMAP4(host)
	m.authenticate("PLAIN", lambda _: ("%s\0%s\0%s" % (user, master, open(mpwf).read().strip())).encode())
	exec(code)
	m.logout()
	EOP
}
imap_old() { # USER PYTHON [ARG...]: sys.argv[5:] the ARGs
	u=$1 c=$2
	shift 2
	"$PYTHON" - "$OLD_IP" "$u" "$MM_DIR/$u.pw" "$c" "$@" <<-'EOP'
	import imaplib, sys
	host, user, pwf, code = sys.argv[1:5]
	m = imaplib.IMAP4(host)
	m.starttls()
	m.login(user, open(pwf).read().rstrip("\n"))
	exec(code)
	m.logout()
	EOP
}

t_identity() {
	add ann@example.test || return 1
	run_once || return 1
	[ "$(state ann@example.test)" = copied ] || { echo "ann not copied"; return 1; }
	verify ann@example.test || return 1
	same_uids ann@example.test || return 1
	same_uidls ann@example.test || return 1
	grep -q "ann@example.test: copied: .*OLD's UIDs kept but 0 (given new ones), UIDVALIDITY kept but in 0 folders" \
		"$MM_DIR/mailmigrated.log" || { grep ann "$MM_DIR/mailmigrated.log"; return 1; }
}

# Flags changed and a message added on OLD: the next round keeps it so.
t_round() {
	imap_old ann@example.test '
m.select("INBOX")
uids = m.uid("SEARCH", "ALL")[1][0].split()
m.uid("STORE", uids[0], "+FLAGS", "(\\Flagged $Label7)")
m.uid("STORE", uids[1], "-FLAGS", "(\\Seen)")
m.append("INBOX", "(\\Answered)", "\"05-Jun-2019 10:11:12 +0200\"",
         b"From: a@example.test\r\nSubject: between rounds\r\n"
         b"Message-ID: <between@example.test>\r\n\r\nnew on OLD\r\n")
' || return 1
	if same_uids ann@example.test >/dev/null; then
		echo "OLD and NEW compare equal before the round: the check is blind"
		return 1
	fi
	MM sync ann@example.test >/dev/null || return 1
	run_once || return 1
	same_uids ann@example.test || return 1
	same_uidls ann@example.test || return 1
	grep -q "ann@example.test: copied: 1 messages .* flags updated on [1-9]" \
		"$MM_DIR/mailmigrated.log" || { grep ann "$MM_DIR/mailmigrated.log"; return 1; }
}

# A delivery to NEW between rounds takes the UID OLD gives its next
# message: that one gets a new UID on NEW, counted; nothing doubled.
t_renumbered() {
	imap_new ann@example.test '
m.append("INBOX", None, None, b"Subject: delivered to NEW\r\nMessage-ID: <local@example.test>\r\n\r\nlocal\r\n")
' || return 1
	imap_old ann@example.test '
m.append("INBOX", None, None, b"Subject: OLD again\r\nMessage-ID: <again@example.test>\r\n\r\nold\r\n")
' || return 1
	MM sync ann@example.test >/dev/null || return 1
	run_once || return 1
	grep -q "ann@example.test: 1 messages of INBOX got new UIDs on NEW" "$MM_DIR/mailmigrated.log" &&
		grep -q "ann@example.test: copied: 1 messages .*OLD's UIDs kept but 1 (given new ones)" \
			"$MM_DIR/mailmigrated.log" || { grep ann "$MM_DIR/mailmigrated.log"; return 1; }
	MM log --account ann@example.test | grep -q "1 messages of INBOX got new UIDs" ||
		{ echo "no event"; return 1; }
	imap_new ann@example.test '
m.select("INBOX", readonly=True)
for mid in ("again", "local", "between"):
    n = len(m.search(None, "HEADER", "Message-ID", "<%s@example.test>" % mid)[1][0].split())
    assert n == 1, (mid, n)
' || return 1
	# Every other UID as on OLD.
	snap_old ann@example.test && snap_new ann@example.test || return 1
	"$PYTHON" - "$MM_DIR/ann@example.test.old.snap" "$MM_DIR/ann@example.test.new.snap" <<-'EOP'
	import json, sys
	o, n = (json.load(open(f))["INBOX"] for f in sys.argv[1:3])
	assert o["uidvalidity"] == n["uidvalidity"], (o["uidvalidity"], n["uidvalidity"])
	# OLD's last message (its UID taken by the delivery) is the one more
	# on NEW, under the next UID; every other UID is as on OLD.
	last = max(map(int, o["uids"]))
	assert sorted(map(int, n["uids"])) == sorted(map(int, o["uids"])) + [last + 1], (o, n)
	assert all(n["uids"][u] == f for u, f in o["uids"].items() if int(u) != last), (o, n)
	EOP
}

# kill -9 of the worker after NEW committed a batch and before the store
# recorded it: the rerun finds the batch under OLD's UIDs.
t_crash() {
	add kim@example.test || return 1
	: >"$MM_DIR/crash"
	MAILMIGRATED_CRASH_AFTER_APPEND=$MM_DIR/crash run_once
	[ ! -e "$MM_DIR/crash" ] || { echo "the crash point was not reached"; return 1; }
	[ "$(state kim@example.test)" != copied ] || { echo "copied despite the crash"; return 1; }
	# What a doveadm killed inside its commit can leave (Maildir: the
	# files renamed in with keyword letters dovecot-keywords does not
	# name yet): the batch's messages on NEW with other flags.
	imap_new kim@example.test '
import re
for line in m.list()[1]:
    name = re.match(r"\(.*\) (?:NIL|\"[^\"]*\") (.*)$", line.decode()).group(1)
    if not name.startswith("\""):
        name = "\"%s\"" % name
    if m.select(name)[1][0] != b"0":
        m.uid("STORE", "1:*", "FLAGS.SILENT", "(\\Draft unknown-0)")
'
	run_once || return 1
	[ "$(state kim@example.test)" = copied ] || { echo "kim not copied"; return 1; }
	MM log --account kim@example.test | grep -Eq "resumed after an interruption: ([1-9][0-9]*) of \\1 messages" ||
		{ MM log --account kim@example.test; return 1; }
	MM log --account kim@example.test | grep -q "with other flags or keywords on NEW than on OLD: set again" ||
		{ MM log --account kim@example.test; return 1; }
	verify kim@example.test || return 1
	same_uids kim@example.test || return 1
	# mailmigrate verify counts a copy whose flags differ (none now;
	# one after a keyword is added on NEW), without calling it a loss.
	flags_differ() {
		MM verify kim@example.test --json | "$PYTHON" -c '
import json, sys
a = json.load(sys.stdin)["accounts"][0]
print(a["result"], sum(f["flags_differ"] for f in a["folders"]))'
	}
	[ "$(flags_differ)" = "ok 0" ] || { echo "verify: $(flags_differ)"; return 1; }
	imap_new kim@example.test '
m.select("INBOX")
m.uid("STORE", m.uid("SEARCH", "ALL")[1][0].split()[0], "+FLAGS.SILENT", "(mm-touched)")
'
	[ "$(flags_differ)" = "ok 1" ] || { echo "verify after a change on NEW: $(flags_differ)"; return 1; }
}

# kill -9 of NEW's doveadm while a batch is on its way: the retry sends
# again what was not committed, once; what was (killed inside the
# commit) is matched, its flags set again where NEW lost them.
t_kill_doveadm() {
	sed 's/^workers = 1$/workers = 1\nmax_bytes_per_second = 2M/' "$CONF" >"$CONF.slow"
	add lee@example.test || return 1
	setsid "$MAILMIGRATED" -c "$CONF.slow" -f 2>>"$MM_DIR/daemon.err" &
	pid=$!
	wait_for '[ "$(mm_pending_batches "$CONF")" -gt 0 ] 2>/dev/null &&
		pgrep -f "mailmigrate-import -u lee@example.test" >/dev/null' 20 ||
		{ echo "no batch in flight"; /bin/kill -KILL -- "-$pid"; return 1; }
	dpid=$(pgrep -f "mailmigrate-import -u lee@example.test" | head -n 1)
	kill -KILL "$dpid"
	wait_for '! kill -0 '"$dpid"' 2>/dev/null' 5
	/bin/kill -TERM -- "-$pid" 2>/dev/null
	wait_for '! kill -0 '"$pid"' 2>/dev/null' 30 || /bin/kill -KILL -- "-$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	# The failed attempt is retried after its delay (5 s).
	wait_for 'run_once && [ "$(state lee@example.test)" = copied ]' 30 ||
		{ echo "lee not copied: $(state lee@example.test)"; return 1; }
	verify lee@example.test || return 1
	same_uids lee@example.test
}

# A POP3 source: the UIDLs kept as UIDLs, bodies without X-UIDL:.
t_pop3() {
	add pop@example.org || return 1
	run_once || return 1
	[ "$(state pop@example.org)" = copied ] || { echo "pop not copied"; return 1; }
	$CORPUS --verify --host "$NEW_IP" --user "pop@example.org*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" --manifest "$MM_DIR/pop@example.org.json" \
		--only-folder INBOX --no-flags --no-dates --no-subscriptions || return 1
	same_uidls pop@example.org || return 1
	MM sync pop@example.org >/dev/null || return 1
	run_once || return 1
	same_uidls pop@example.org
}

# The notice (or any mail) in NEW's INBOX before the first round: it is
# moved aside while OLD's messages go in, so INBOX gets OLD's UIDVALIDITY,
# and back after, above OLD's UIDs; OLD's message under a UID NEW had
# given already (UID 1) gets a new one, counted. Nothing doubled or lost;
# a kill -9 while the notice is aside brings it back at the rerun.
notice() {
	imap_new "$1" '
m.append("INBOX", None, None, b"Subject: your mailbox is being moved\r\nMessage-ID: <notice@example.test>\r\n\r\nnotice\r\n")
'
}
collided() { # USER: INBOX as on OLD but OLD's UID 1 moved, the notice once
	snap_old "$1" && snap_new "$1" || return 1
	"$PYTHON" - "$MM_DIR/$1.old.snap" "$MM_DIR/$1.new.snap" <<-'EOP' || return 1
	import json, sys
	o, n = (json.load(open(f))["INBOX"] for f in sys.argv[1:3])
	assert o["uidvalidity"] == n["uidvalidity"], (o["uidvalidity"], n["uidvalidity"])
	assert len(n["uids"]) == len(o["uids"]) + 1, (len(n["uids"]), len(o["uids"]))
	assert all(n["uids"].get(u) == f for u, f in o["uids"].items() if u != "1"), (o, n)
	assert "1" not in n["uids"] and min(map(int, n["uids"])) >= 2, n
	EOP
	imap_new "$1" '
m.select("INBOX", readonly=True)
assert len(m.search(None, "HEADER", "Message-ID", "<notice@example.test>")[1][0].split()) == 1
assert m.list("\"\"", "mailmigrate-parked*")[1] in ([None], []), m.list("\"\"", "mailmigrate-parked*")
' || return 1
	# Every OLD message once (the notice aside), byte for byte.
	verify "$1" --extra-folders-ok >"$MM_DIR/$1.verify" 2>&1
	n=$(grep -c "^  " "$MM_DIR/$1.verify")
	x=$(grep -c "^  folder INBOX: extra message" "$MM_DIR/$1.verify")
	[ "$n" = 1 ] && [ "$x" = 1 ] || { cat "$MM_DIR/$1.verify"; return 1; }
}
t_collision() {
	notice col@example.test || return 1
	add col@example.test || return 1
	run_once || return 1
	[ "$(state col@example.test)" = copied ] || { echo "col not copied"; return 1; }
	MM log --account col@example.test >"$MM_DIR/col.log"
	grep -q "NEW's INBOX held 1 messages of its own: moved aside" "$MM_DIR/col.log" &&
		grep -q "1 messages of NEW's own back in INBOX, above OLD's UIDs" "$MM_DIR/col.log" &&
		grep -q "1 messages of INBOX got new UIDs on NEW" "$MM_DIR/col.log" ||
		{ cat "$MM_DIR/col.log"; return 1; }
	grep -q "col@example.test: copied: .*OLD's UIDs kept but 1 (given new ones), UIDVALIDITY kept but in 0 folders" \
		"$MM_DIR/mailmigrated.log" || { grep col "$MM_DIR/mailmigrated.log"; return 1; }
	same_uids col@example.test --skip INBOX || return 1
	collided col@example.test || return 1
	MM sync col@example.test >/dev/null || return 1
	run_once || return 1
	grep -q "col@example.test: copied: 0 messages" "$MM_DIR/mailmigrated.log" ||
		{ grep col "$MM_DIR/mailmigrated.log"; return 1; }
	collided col@example.test || return 1
	# The store forgets the copy (reset): matched on NEW, nothing moved
	# aside or copied twice.
	MM reset col@example.test >/dev/null || return 1
	run_once || return 1
	[ "$(state col@example.test)" = copied ] || { echo "col not copied after reset"; return 1; }
	collided col@example.test
}
t_collision_crash() {
	notice cod@example.test || return 1
	add cod@example.test || return 1
	: >"$MM_DIR/crash"
	MAILMIGRATED_CRASH_AFTER_APPEND=$MM_DIR/crash run_once
	[ ! -e "$MM_DIR/crash" ] || { echo "the crash point was not reached"; return 1; }
	imap_new cod@example.test '
assert m.list("\"\"", "mailmigrate-parked*")[1] not in ([None], []), "nothing parked at the crash"
' || return 1
	run_once || return 1
	[ "$(state cod@example.test)" = copied ] || { echo "cod not copied"; return 1; }
	MM log --account cod@example.test | grep -q "1 messages of NEW's own back in INBOX" ||
		{ MM log --account cod@example.test; return 1; }
	collided cod@example.test
}

# One of OLD's messages already on NEW under NEW's UIDVALIDITY (a copy
# the store forgot: an earlier run with the imap target, a reset): not
# NEW's own mail, so nothing is moved aside; INBOX keeps NEW's
# UIDVALIDITY, said in the events, and the copy is matched, not doubled;
# its flags there (a keyword OLD's has not) become OLD's.
t_new_holds_old() {
	imap_old dup@example.test '
m.select("INBOX", readonly=True)
data = m.uid("FETCH", "1", "(INTERNALDATE BODY.PEEK[])")[1]
date = imaplib.Internaldate2tuple(data[0][0])
n = imaplib.IMAP4(sys.argv[5])
mpw = open(sys.argv[7]).read().strip()
n.authenticate("PLAIN", lambda _: ("%s\0%s\0%s" % (user, sys.argv[6], mpw)).encode())
assert n.append("INBOX", "(mm-stale)", imaplib.Time2Internaldate(date), data[0][1])[0] == "OK"
n.logout()
' "$NEW_IP" "$NEW_MASTER_USER" "$NEW_MASTER_PASS_FILE" || return 1
	add dup@example.test || return 1
	run_once || return 1
	[ "$(state dup@example.test)" = copied ] || { echo "dup not copied"; return 1; }
	MM log --account dup@example.test >"$MM_DIR/dup.log"
	grep -q "UIDVALIDITY of INBOX not kept: NEW's INBOX already holds 1 messages" "$MM_DIR/dup.log" ||
		{ cat "$MM_DIR/dup.log"; return 1; }
	if grep -q "moved aside" "$MM_DIR/dup.log"; then cat "$MM_DIR/dup.log"; return 1; fi
	grep -q "1 of OLD's messages found on NEW in INBOX with other flags or keywords: given OLD's" \
		"$MM_DIR/dup.log" || { cat "$MM_DIR/dup.log"; return 1; }
	verify dup@example.test --extra-folders-ok
}

check "identity kept: UIDVALIDITY, UIDs, flags, POP3 UIDLs as on OLD" t_identity
check "a later round: flag changes and a new message keep it so" t_round
check "a UID taken on NEW: a new one, counted and reported" t_renumbered
check "kill -9 after NEW took a batch: resumed, no duplicate" t_crash
check "kill -9 of doveadm mid-batch: nothing missing, nothing twice" t_kill_doveadm
check "POP3 source: UIDLs kept, bodies byte for byte" t_pop3
check "mail in NEW's INBOX first: moved above, OLD's UIDVALIDITY kept, counted" t_collision
check "kill -9 while NEW's own mail is aside: back at the rerun, once" t_collision_crash
check "one of OLD's messages on NEW already: matched, nothing moved aside" t_new_holds_old
mm_done
