#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_fail_codes.sh - NEW's refusals read by their response codes
# (resp_code(3)), against the real NEW Dovecot with the quota plugin:
#   - NEW's quota full (Dovecot 2.3: "NO [OVERQUOTA] Quota exceeded"):
#     an IMAP account whose batches go as one MULTIAPPEND, and a POP3
#     account whose messages go one APPEND at a time (the quota fills in
#     the middle of a batch): each job is retried later, the account is
#     neither failed nor copied, and there is no failed item;
#   - the quota raised (doveadm reload): the retry after the back-off
#     copies everything, byte for byte, nothing missing, nothing twice
#     (the POP3 batch cut by the quota is settled by its X-UIDLs), and
#     the accounts are copied with no failed item;
#   - a message NEW refuses for itself (a NO without a code, from a
#     scripted NEW only; Dovecot takes any bytes) stays a failed item:
#     covered by the unit tests (test_imap_message append_refusal_class).

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
MAILMIGRATED=${MAILMIGRATED:-$top_builddir/puller/mailmigrated}
[ -x "$MAILMIGRATED" ] || skip "mailmigrated not built"

CORPUS="$PYTHON $HARNESS/corpus.py"
QUOTA_FULL=12		# messages NEW takes per user, at first
IMAP_COUNT=30		# the IMAP account's corpus (no MIME samples)
POP_COUNT=25		# the POP3 account's INBOX

# NEW counts each user's messages (Dovecot's count backend) and refuses
# an APPEND past the rule with [OVERQUOTA]. new_quota N rewrites the rule
# (servers.sh keeps MM_NEW_DOVECOT_EXTRA as NEW's local.conf).
quota_conf() {
	cat <<EOD
mail_plugins = \$mail_plugins quota
plugin {
  quota = count:User quota
  quota_vsizes = yes
  quota_rule = *:messages=$1
}
EOD
}
MM_NEW_DOVECOT_EXTRA=$(mktemp /tmp/mmx.XXXXXX)
quota_conf "$QUOTA_FULL" >"$MM_NEW_DOVECOT_EXTRA"
export MM_NEW_DOVECOT_EXTRA
mm_servers_start
rm -f "$MM_NEW_DOVECOT_EXTRA"
new_quota() {
	quota_conf "$1" >"$MM_DIR/new/local.conf.tmp" &&
		mv "$MM_DIR/new/local.conf.tmp" "$MM_DIR/new/local.conf" &&
		doveadm -c "$NEW_DOVECOT_CONF" reload
}

CONF=$MM_DIR/mailmigrate.conf
cat >"$CONF" <<EOC
$(mm_store_conf $MM_DIR/state)
key_file = $MM_DIR/secret.key
log_file = $MM_DIR/mailmigrated.log
workers = 1
io_timeout = 10
connect_timeout = 5
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE

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
run_once() {
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err"
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
# The failed items of USER, as `mailmigrate failed --csv` lines (no header).
failed_items() {
	MM failed "$1" --csv | sed 1d
}

# IMAP: a corpus in several folders on OLD.
mm_adduser old quota@example.test "quota pw"
sh "$SERVERS_SH" adduser "$MM_DIR" new quota@example.test --nopass </dev/null ||
	fail "adduser new quota failed"
pw=$(mm_pwfile "quota pw")
mv "$pw" "$MM_DIR/quota.pw"
$CORPUS --host "$OLD_IP" --user quota@example.test --password-file "$MM_DIR/quota.pw" \
	--seed 5530 --count "$IMAP_COUNT" --no-samples --manifest "$MM_DIR/quota.json" \
	>/dev/null || fail "corpus load failed"
# POP3: an INBOX delivered by LMTP, each message its own.
mm_adduser old pop@example.org "pop pw"
sh "$SERVERS_SH" adduser "$MM_DIR" new pop@example.org --nopass </dev/null ||
	fail "adduser new pop failed"
pw=$(mm_pwfile "pop pw")
mv "$pw" "$MM_DIR/pop.pw"
"$PYTHON" - "$OLD_IP" "$OLD_LMTP_PORT" "$POP_COUNT" <<'EOP' || fail "LMTP delivery failed"
import smtplib, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = smtplib.LMTP(host, port)
for i in range(1, n + 1):
    body = ("From: a%d@example.net\r\nTo: pop@example.org\r\nSubject: quota %d\r\n"
            "Message-ID: <quota%d@example.net>\r\n"
            "Date: Mon, 2 Mar 2020 10:%02d:00 +0000\r\n\r\n" % (i, i, i, i % 60))
    body += "".join("line %d of message %d\r\n" % (k, i) for k in range(1 + i * 7))
    c.sendmail("a@example.net", ["pop@example.org"], body)
c.quit()
EOP
MM init >/dev/null || fail "init failed"

verify_imap() {
	$CORPUS --verify --host "$NEW_IP" --user "quota@example.test*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" --manifest "$MM_DIR/quota.json"
}

# NEW's INBOX holds exactly OLD's POP3 messages, byte for byte but for the
# X-UIDL line the copy puts first: nothing missing, nothing twice.
verify_pop() {
	"$PYTHON" - "$OLD_IP" "$NEW_IP" "$MM_DIR/pop.pw" "$NEW_MASTER_USER" \
		"$NEW_MASTER_PASS_FILE" <<'EOP'
import imaplib, poplib, re, sys
old, new, pwf, master, mpwf = sys.argv[1:6]
p = poplib.POP3(old)
p.user("pop@example.org")
p.pass_(open(pwf, encoding="utf-8").read().rstrip("\n"))
want = {}
for line in p.uidl()[1]:
    num, uidl = line.split()
    raw = b"\r\n".join(p.retr(int(num))[1]) + b"\r\n"
    want[uidl.decode()] = raw
p.quit()
m = imaplib.IMAP4(new)
m.authenticate("PLAIN", lambda _: ("\0pop@example.org*%s\0%s" %
                                   (master, open(mpwf).read().strip())).encode())
m.select("INBOX", readonly=True)
typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[])")
got = {}
for item in data:
    if not isinstance(item, tuple):
        continue
    body = item[1]
    mt = re.match(rb"X-UIDL: (\S+)\r\n", body)
    assert mt, "a message on NEW without X-UIDL first"
    uidl = mt.group(1).decode()
    assert uidl not in got, "UIDL %s on NEW twice" % uidl
    got[uidl] = body[mt.end():]
m.logout()
missing = sorted(set(want) - set(got))
extra = sorted(set(got) - set(want))
assert not missing and not extra, ("missing", missing, "extra", extra)
for u in want:
    assert got[u] == want[u], "message %s differs" % u
print("pop verify: ok, %d messages" % len(want))
EOP
}

# The quota is full: retry later, no failed item, the account neither
# failed nor copied, the reason naming the code.
t_quota_full_waits() {
	printf 'quota@example.test:quota pw\npop@example.org:pop pw\n' | MM bulk - >/dev/null ||
		return 1
	run_once
	for u in quota@example.test pop@example.org; do
		state=$(show "$u" state)
		case $state in
		failed|copied) echo "$u: $state with NEW over quota"; return 1 ;;
		esac
		[ -z "$(failed_items "$u")" ] || { echo "$u: failed items:"; failed_items "$u"; return 1; }
		[ "$(show "$u" errors)" = 0 ] || { echo "$u: errors $(show "$u" errors)"; return 1; }
		show "$u" job.last_error | grep -q "APPEND.*refused: NO \[OVERQUOTA\]" ||
			{ echo "$u: last error: $(show "$u" job.last_error)"; return 1; }
		MM log --account "$u" | grep -q "again in 60 s" ||
			{ MM log --account "$u"; return 1; }
	done
	# NEW holds what fit, no more: the IMAP batch refused as a whole
	# left nothing of itself; the POP3 batch stopped at the quota.
	n=$(doveadm -c "$NEW_DOVECOT_CONF" -f flow search -u pop@example.org ALL | wc -l)
	[ "$n" = "$QUOTA_FULL" ] || { echo "pop: $n messages on NEW, quota $QUOTA_FULL"; return 1; }
	n=$(doveadm -c "$NEW_DOVECOT_CONF" -f flow search -u quota@example.test ALL | wc -l)
	[ "$n" -le "$QUOTA_FULL" ] || { echo "quota: $n messages on NEW"; return 1; }
}

# Room on NEW: the retry (after its back-off) copies everything, exactly.
t_quota_raised_copies() {
	new_quota 100000 || return 1
	n=0
	while [ "$n" -lt 100 ]; do
		[ "$(show quota@example.test state)" = copied ] &&
			[ "$(show pop@example.org state)" = copied ] && break
		sleep 1
		run_once
		n=$((n + 1))
	done
	for u in quota@example.test pop@example.org; do
		[ "$(show "$u" state)" = copied ] ||
			{ echo "$u: $(show "$u" state): $(show "$u" job.last_error)"; return 1; }
		[ -z "$(failed_items "$u")" ] || { failed_items "$u"; return 1; }
		[ "$(show "$u" errors)" = 0 ] || return 1
	done
	MM log --account pop@example.org | grep -q "resumed after an interruption: $QUOTA_FULL of" ||
		{ MM log --account pop@example.org; return 1; }
	verify_imap || return 1
	verify_pop || return 1
	[ "$(show pop@example.org messages)" = "$POP_COUNT" ] || return 1
	[ "$(show quota@example.test messages)" = "$IMAP_COUNT" ] || return 1
	# Another round copies nothing twice.
	MM sync --all >/dev/null || return 1
	run_once
	verify_imap && verify_pop
}

check "NEW over quota ([OVERQUOTA]): retried later, no failed item" t_quota_full_waits
check "quota raised: everything copied, byte for byte, nothing twice" t_quota_raised_copies
mm_done
