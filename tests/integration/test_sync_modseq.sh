#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_sync_modseq.sh - later rounds against an OLD with CONDSTORE
# (RFC 7162; real Dovecot, which has it and QRESYNC): a sync round
# over an unchanged account lists nothing on OLD, one after flags
# changed, a message added and one expunged lists only those (FETCH
# ... (CHANGEDSINCE n), seen in Dovecot's rawlog of the session: in the
# copy and in the round's verification, which takes the others from
# the record of the round that proved the folder), and
# NEW ends up as OLD (the expunged message stays on NEW, as before).
# A copy lost on NEW while OLD did not change is still found by the
# round's verification and copied again by the retry; a round killed in
# the middle of a folder records nothing for it, so the next asks OLD
# again for all that changed since the last proved round. Then the same rounds against an OLD whose imap_capability leaves
# CONDSTORE and QRESYNC out: every message listed each round, as
# before, with the same outcome.
#
# What is asserted comes from the puller's summary event of each round
# ("OLD listed N messages (F folders asked only for changes ..., U of
# them unchanged)") and from the commands OLD received.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
MAILMIGRATED=${MAILMIGRATED:-$top_builddir/puller/mailmigrated}
[ -x "$MAILMIGRATED" ] || skip "mailmigrated not built"

ACCT=mod@example.test
PASS='pw mod "x"'

# Start OLD and NEW (OLD's extra configuration in $1, or none), give
# OLD the account with 30 messages in INBOX and 5 in Work, and write
# the configuration.
setup() {
	if [ -n "$1" ]; then
		MM_OLD_DOVECOT_EXTRA=$1
		export MM_OLD_DOVECOT_EXTRA
	else
		unset MM_OLD_DOVECOT_EXTRA
	fi
	mm_servers_start "$MM_DIR"
	CONF=$MM_DIR/mailmigrate.conf
	cat >"$CONF" <<EOC
$(mm_store_conf $MM_DIR/state)
key_file = $MM_DIR/secret.key
log_file = $MM_DIR/mailmigrated.log
workers = 1
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE
default_domain = example.test

[domain example.test]
source_host = $OLD_IP
source_tls = starttls
source_tls_ca_file = $CA_FILE
EOC
	mm_adduser old "$ACCT" "$PASS"
	sh "$SERVERS_SH" adduser "$MM_DIR" new "$ACCT" --nopass </dev/null ||
		fail "adduser new failed"
	PWF=$(mm_pwfile "$PASS")
	imap load || fail "loading OLD failed"
	"$MAILMIGRATE" -c "$CONF" init >/dev/null || fail "init failed"
	printf '%s:%s\n' "$ACCT" "$PASS" | "$MAILMIGRATE" -c "$CONF" bulk - >/dev/null ||
		fail "bulk failed"
}

# OLD and NEW by IMAP: load (OLD's messages), change (flags of three
# INBOX messages, one added, one expunged), same (every message OLD
# holds is on NEW with its flags and date, NEW holding $2 more in
# INBOX), capability (OLD's, after login).
imap() {
	"$PYTHON" - "$1" "${2:-0}" "$OLD_IP" "$NEW_IP" "$ACCT" "$PWF" \
		"$NEW_MASTER_USER" "$NEW_MASTER_PASS_FILE" <<'EOP'
import hashlib, imaplib, sys
action, extra, old, new, user, pwf, master, mpwf = sys.argv[1:9]
extra = int(extra)
def login(host, authz, authc, pw):
    m = imaplib.IMAP4(host)
    m.authenticate("PLAIN", lambda _: ("%s\0%s\0%s" % (authz, authc, pw)).encode())
    return m
o = login(old, "", user, open(pwf, encoding="utf-8").read().rstrip("\n"))
if action == "capability":
    typ, data = o.capability()
    print(data[0].decode())
    sys.exit(0)
if action == "load":
    o.create("Work")
    for folder, n in (("INBOX", 30), ("Work", 5)):
        for i in range(n):
            flags = "(\\Seen)" if i % 3 == 0 else "()"
            o.append(folder, flags, '"%02d-Mar-2021 10:11:12 +0100"' % (i % 28 + 1),
                     ("From: a@example.test\r\nSubject: %s %d\r\n"
                      "Message-ID: <%s.%d@example.test>\r\n\r\nbody %d\r\n"
                      % (folder, i, folder, i, i)).encode())
    sys.exit(0)
if action == "change":
    o.select("INBOX")
    o.uid("STORE", "1", "+FLAGS", "(\\Flagged $Label7)")
    o.uid("STORE", "4", "-FLAGS", "(\\Seen)")
    o.uid("STORE", "8", "+FLAGS", "(\\Answered)")
    o.uid("STORE", "10", "+FLAGS", "(\\Deleted)")
    o.expunge()
    o.append("INBOX", "(\\Draft)", '"05-Jun-2019 10:11:12 +0200"',
             b"From: a@example.test\r\nSubject: between rounds\r\n"
             b"Message-ID: <between@example.test>\r\n\r\nnew on OLD\r\n")
    sys.exit(0)
if action == "lose":
    n = login(new, user, master, open(mpwf).read().strip())
    n.select("INBOX")
    typ, data = n.uid("SEARCH", "ALL")
    n.uid("STORE", data[0].split()[0], "+FLAGS.SILENT", "(\\Deleted)")
    n.expunge()
    sys.exit(0)
if action == "change2":
    o.select("INBOX")
    o.uid("STORE", "2,3,5", "+FLAGS", "(\\Flagged)")
    big = b"x" * 76 + b"\r\n"
    for i in range(24):
        o.append("INBOX", "()", '"07-Jun-2019 10:11:12 +0200"',
                 b"From: a@example.test\r\nSubject: big %d\r\n"
                 b"Message-ID: <big.%d@example.test>\r\n\r\n" % (i, i) + big * 600)
    sys.exit(0)
def folder(m, name):
    m.select(name, readonly=True)
    typ, data = m.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
    out = []
    for item in data:
        if isinstance(item, tuple):
            flags = sorted(f for f in imaplib.ParseFlags(item[0]) if f != b"\\Recent")
            out.append((hashlib.sha256(item[1]).hexdigest(), tuple(flags),
                        imaplib.Internaldate2tuple(item[0])))
    return out
n = login(new, user, master, open(mpwf).read().strip())
for name in ("INBOX", "Work"):
    a, b = folder(o, name), folder(n, name)
    missing = [x for x in a if x not in b]
    want = len(a) + (extra if name == "INBOX" else 0)
    if missing or len(b) != want:
        print("%s differs: %d on OLD, %d on NEW (%d wanted); not on NEW as on "
              "OLD: %s" % (name, len(a), len(b), want, missing[:3]))
        sys.exit(1)
EOP
}

# One round for the account (the first: copy; later ones: sync).
round() {
	[ "$1" = first ] || "$MAILMIGRATE" -c "$CONF" sync "$ACCT" >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
}

# The last round's summary holds $1 (the round's line is the last one).
summary_has() {
	line=$(grep "$ACCT: copied: " "$MM_DIR/mailmigrated.log" | tail -n 1)
	case $line in
	*"$1"*) return 0 ;;
	esac
	echo "the round's summary lacks '$1': $line"
	return 1
}

# Dovecot's rawlog of OLD's sessions (named by time and pid): the
# commands of the puller's last one, whose tags are M<n> (this test's
# own sessions are imaplib's).
last_session_in() {
	f=$(grep -l " M[0-9]* LIST " "$MM_DIR"/rawlog/*.in 2>/dev/null | sort | tail -n 1)
	[ -n "$f" ] && tr -d "\r" <"$f"
}

# The listings of every message on OLD in the last session: $1 wanted.
full_listings() {
	n=$(last_session_in | grep -c "UID FETCH 1:\* (UID FLAGS INTERNALDATE RFC822.SIZE)\$")
	[ "$n" = "$1" ] && return 0
	echo "$n full listings on OLD, $1 wanted"
	last_session_in | grep " M[0-9]* "
	return 1
}

t_first_round() {
	round first || return 1
	imap same 0 || return 1
	summary_has "copied: 35 messages" || return 1
	summary_has "OLD listed 35 messages (0 folders asked only for changes" || return 1
}

t_unchanged_round() {
	round || return 1
	imap same 0 || return 1
	summary_has "copied: 0 messages" || return 1
	if [ "$CONDSTORE" = yes ]; then
		summary_has "OLD listed 0 messages (2 folders asked only for changes since the last round, 2 of them unchanged)" || return 1
		# No listing at all: not by the copy, and the verification
		# takes OLD's messages from the record (OLD's HIGHESTMODSEQ
		# as when the folder was proved) and lists NEW only.
		summary_has "(2 folders unchanged on OLD since proved: checked on NEW only; 0 changed: only the changes listed on OLD)" || return 1
		full_listings 0 || return 1
	else
		summary_has "OLD listed 35 messages (0 folders asked only for changes" || return 1
		summary_has "(0 folders unchanged on OLD since proved" || return 1
		# The copy's listing and the verification's, per folder.
		full_listings 4 || return 1
	fi
}

t_changed_round() {
	imap change || return 1
	if imap same 1 >/dev/null; then
		echo "OLD and NEW compare equal before the sync: the check is blind"
		return 1
	fi
	round || return 1
	imap same 1 || return 1
	summary_has "copied: 1 messages" || return 1
	summary_has "flags updated on 3," || return 1
	if [ "$CONDSTORE" = yes ]; then
		# INBOX: the three changed, then the new one; Work: nothing.
		summary_has "OLD listed 4 messages (2 folders asked only for changes since the last round, 1 of them unchanged)" || return 1
		last_session_in | grep -q "(CHANGEDSINCE [1-9][0-9]*)" ||
			{ echo "no CHANGEDSINCE sent to OLD"; last_session_in; return 1; }
		# INBOX changed: verified from the record and its changes,
		# asked of OLD by CHANGEDSINCE again (the copy's and the
		# verification's); Work from the record alone. OLD's INBOX
		# is listed whole by neither.
		summary_has "(1 folders unchanged on OLD since proved: checked on NEW only; 1 changed: only the changes listed on OLD)" || return 1
		n=$(last_session_in | grep -c "(CHANGEDSINCE [1-9][0-9]*)\$")
		[ "$n" = 2 ] || { echo "$n listings by CHANGEDSINCE, 2 wanted"; return 1; }
		full_listings 0 || return 1
	else
		summary_has "OLD listed 35 messages (0 folders asked only for changes" || return 1
		if last_session_in | grep -q "CHANGEDSINCE\|ENABLE CONDSTORE"; then
			echo "CONDSTORE used on an OLD without it"
			return 1
		fi
	fi
	# And the round after it finds nothing to do again; with
	# CONDSTORE INBOX, one message fewer on OLD than copies recorded
	# (the expunged one stays on NEW), is proved from the record too.
	round || return 1
	imap same 1 || return 1
	summary_has "copied: 0 messages" || return 1
	summary_has "flags updated on 0," || return 1
	if [ "$CONDSTORE" = yes ]; then
		summary_has "(2 folders unchanged on OLD since proved: checked on NEW only; 0 changed: only the changes listed on OLD)" || return 1
		full_listings 0 || return 1
	fi
}

# A copy lost on NEW while OLD's folder did not change: the round finds
# nothing changed on OLD, but its verification (which lists NEW whole
# always, and OLD too once NEW lacks a recorded copy) finds the copy gone, and the folder's HIGHESTMODSEQ
# is forgotten: the retry lists it whole and copies the message again.
t_new_lost() {
	imap lose || return 1
	round || return 1
	grep -q "$ACCT: verify: INBOX differs from OLD: copies no longer on NEW: 1" \
		"$MM_DIR/mailmigrated.log" || { tail -n 5 "$MM_DIR/mailmigrated.log"; return 1; }
	wait_for '"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err";
		"$MAILMIGRATE" -c "$CONF" show "$ACCT" --json | grep -q "\"state\": \"copied\""' 60 ||
		{ "$MAILMIGRATE" -c "$CONF" show "$ACCT"; return 1; }
	imap same 1 || return 1
	summary_has "copied: 1 messages" || return 1
	summary_has "OLD listed 30 messages (1 folders asked only for changes since the last round, 1 of them unchanged)" || return 1
}

# A round killed in the middle of INBOX (flags changed on three messages,
# 24 new ones of 47 KiB copied at 200 KiB/s): the folder's HIGHESTMODSEQ
# is not recorded, so the next round asks again for everything changed
# since the last proved round (the three among them), and NEW ends up
# as OLD.
t_crash_mid_folder() {
	imap change2 || return 1
	"$MAILMIGRATE" -c "$CONF" sync "$ACCT" >/dev/null || return 1
	sed 's/^workers = 1$/workers = 1\nmax_bytes_per_second = 200K/' "$CONF" >"$CONF.slow"
	setsid "$MAILMIGRATED" -c "$CONF.slow" -f 2>>"$MM_DIR/daemon.err" &
	pid=$!
	wait_for '[ "$(ps -o pgid= -p "$pid" | tr -d " ")" = "$pid" ]' 5 ||
		{ kill -KILL "$pid"; return 1; }
	wait_for '[ "$(mm_pending_batches "$CONF")" -gt 0 ] 2>/dev/null' 20 ||
		{ echo "no batch in flight within 20 s"; /bin/kill -KILL -- "-$pid"; return 1; }
	/bin/kill -KILL -- "-$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	before=$(grep -c "$ACCT: copied: " "$MM_DIR/mailmigrated.log")
	wait_for '"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err";
		[ "$(grep -c "$ACCT: copied: " "$MM_DIR/mailmigrated.log")" -gt "$before" ]' 60 ||
		{ tail -n 5 "$MM_DIR/mailmigrated.log"; return 1; }
	imap same 1 || return 1
	# INBOX asked by CHANGEDSINCE the value before the killed round:
	# the three changed and what the killed round left of the new ones.
	line=$(grep "$ACCT: copied: " "$MM_DIR/mailmigrated.log" | tail -n 1)
	listed=$(printf '%s\n' "$line" | sed -n 's/.*OLD listed \([0-9]*\) messages.*/\1/p')
	[ -n "$listed" ] && [ "$listed" -ge 3 ] ||
		{ echo "the round after the kill listed ${listed:-?}, not the 3 changed again: $line"; return 1; }
	summary_has "(2 folders asked only for changes since the last round, 1 of them unchanged)" || return 1
	# And then nothing is left to do.
	round || return 1
	summary_has "OLD listed 0 messages (2 folders asked only for changes since the last round, 2 of them unchanged)" || return 1
	summary_has "(2 folders unchanged on OLD since proved: checked on NEW only; 0 changed: only the changes listed on OLD)" || return 1
}

# Dovecot keeps each OLD session's commands (rawlog_dir, written as the
# mail user: a directory it may write).
rawlog_conf() {
	f=$(mktemp /tmp/mmx.XXXXXX)
	printf 'protocol imap {\n  rawlog_dir = %s\n}\n' "$1" >"$f"
	printf '%s\n' "$f"
}

# With CONDSTORE: Dovecot as it comes.
CONDSTORE=yes
MM_DIR=$(mm_tmpdir) || exit 1
mkdir -m 1777 "$MM_DIR/rawlog"
extra=$(rawlog_conf "$MM_DIR/rawlog")
setup "$extra"
rm -f "$extra"
caps=$(imap capability)
case $caps in
*CONDSTORE*QRESYNC* | *QRESYNC*CONDSTORE*) ;;
*) fail "OLD (Dovecot) does not list CONDSTORE and QRESYNC: $caps" ;;
esac
check "first round copies everything" t_first_round
check "unchanged: nothing listed on OLD" t_unchanged_round
check "changed: only what changed listed" t_changed_round
check "a copy lost on NEW: copied again" t_new_lost
check "killed mid-folder: the next round asks again" t_crash_mid_folder
mm_servers_stop

# Without: the same Dovecot with CONDSTORE and QRESYNC left out of its
# capabilities.
CONDSTORE=no
nocaps=$(printf '%s\n' "$caps" | tr ' ' '\n' |
	grep -v -x -e CONDSTORE -e QRESYNC -e IMAP4rev1 -e 'AUTH=.*' -e STARTTLS -e LOGINDISABLED |
	tr '\n' ' ')
MM_DIR=$(mm_tmpdir) || exit 1
mkdir -m 1777 "$MM_DIR/rawlog"
extra=$(rawlog_conf "$MM_DIR/rawlog")
printf 'protocol imap {\n  imap_capability = IMAP4rev1 %s\n}\n' "$nocaps" >>"$extra"
setup "$extra"
rm -f "$extra"
case $(imap capability) in
*CONDSTORE* | *QRESYNC*) fail "OLD still lists CONDSTORE or QRESYNC" ;;
esac
check "without CONDSTORE: first round" t_first_round
check "without CONDSTORE: every message listed" t_unchanged_round
check "without CONDSTORE: changed round as before" t_changed_round
mm_done
