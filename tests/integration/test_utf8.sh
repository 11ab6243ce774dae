#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_utf8.sh - what OLD sends is what it stores (issue 10, item 3):
#   - a fake POP3 OLD (tests/harness/fakeimap.py --pop3 --pop3-utf8
#     substitute) that lists UTF8 in CAPA and, as Courier 5 does, sends a
#     generated "Cannot display Unicode content" stand-in for a message
#     whose header holds raw UTF-8 unless the client sent UTF8 (RFC 6856):
#     the puller sends it, NEW gets the real message byte for byte;
#   - the same fake refusing UTF8 (-ERR): the account is failed with the
#     reason, never copied, and no stand-in reaches NEW;
#   - a fake IMAP OLD (fakeimap.py --utf8-accept) listing UTF8=ACCEPT,
#     substituting raw-UTF-8 messages and hiding non-ASCII folders until
#     ENABLE UTF8=ACCEPT, then listing "Données & Co" as a quoted UTF-8
#     string: the puller ENABLEs, EXAMINEs it in UTF-8, and NEW gets
#     "Donn&AOk-es &- Co" (modified UTF-7) with the real messages;
#   - the real Dovecot OLD with raw UTF-8 headers and a folder named
#     "Entwürfe" (modified UTF-7 on the wire): copied byte for byte over
#     IMAP (folder name kept) and over POP3.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
MAILMIGRATED=${MAILMIGRATED:-$top_builddir/puller/mailmigrated}
[ -x "$MAILMIGRATED" ] || skip "mailmigrated not built"

mm_servers_start
CONF=$MM_DIR/mailmigrate.conf
FAKE_PORT=1	# until a fake runs

write_conf() {
	cat >"$CONF" <<EOC
$(mm_store_conf $MM_DIR/state)
key_file = $MM_DIR/secret.key
log_file = $MM_DIR/mailmigrated.log
workers = 1
io_timeout = 5
connect_timeout = 5
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE

[domain fake.test]
source_host = $OLD_IP:$FAKE_PORT
source_protocols = pop3
source_tls = none

[domain fakei.test]
source_host = $OLD_IP:$FAKE_PORT
source_protocols = imap
source_tls = none

[domain example.test]
source_host = $OLD_IP
source_protocols = imap
source_tls = starttls
source_tls_ca_file = $CA_FILE

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

# show USER FIELD: one field of `mailmigrate show --json`
show() {
	MM show "$1" --json | "$PYTHON" -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[k] if v is not None else None
print(v)' "$2"
}

# Messages with raw UTF-8 in From, Subject and an unstructured header,
# and one plain ASCII message; CRLF throughout (as POP3 and IMAP carry
# them).
mkdir -p "$MM_DIR/msgs"
"$PYTHON" - "$MM_DIR/msgs" <<'EOP' || fail "message generation failed"
import os, sys
d = sys.argv[1]
hdrs = {
    1: "From: J\u00fcrgen M\u00fcller <jm@example.net>\r\n"
       "Subject: Entw\u00fcrfe f\u00fcr die Donn\u00e9es \u20ac 5\r\n",
    2: "From: plain@example.net\r\nSubject: plain ASCII 2\r\n",
    3: "From: \u5f20\u4f1f <zw@example.net>\r\n"
       "Subject: \u4f60\u597d 3\r\nX-Note: na\u00efve caf\u00e9\r\n",
}
for i, h in hdrs.items():
    body = (h + "To: someone@example.test\r\nMessage-ID: <%d.utf8@example.net>\r\n"
            "Date: Mon, 2 Mar 2020 10:%02d:00 +0000\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
            "Gr\u00fc\u00dfe, message %d.\r\n..a dot line\r\n" % (i, i, i))
    with open(os.path.join(d, "%d.eml" % i), "wb") as f:
        f.write(body.encode("utf-8"))
EOP

# spec USER: INBOX with messages 1 2 3, "Données & Co" with 1 and 3.
spec() {
	"$PYTHON" - "$MM_DIR" "$1" <<'EOP'
import json, sys
d, user = sys.argv[1], sys.argv[2]
def msgs(nums):
    return [{"uid": i, "file": "%s/msgs/%d.eml" % (d, n),
             "date": "02-Mar-2020 10:00:00 +0000", "flags": []}
            for i, n in enumerate(nums, 1)]
json.dump({"user": user, "password": "fake pass",
           "folders": [{"name": "INBOX", "uidvalidity": 7, "messages": msgs((1, 2, 3))},
                       {"name": "Donn\u00e9es & Co", "uidvalidity": 8,
                        "messages": msgs((1, 3))}]},
          open("%s/spec-%s.json" % (d, user), "w"))
EOP
}

# NEW's FOLDER (modified UTF-7) for USER holds exactly messages N...,
# byte for byte but for the X-UIDL: line the POP3 source puts first:
# check_new USER FOLDER OLDPASS N... With OLDPASS "-" the messages are
# msgs/N.eml as the fake serves them; else what the real OLD stores in
# FOLDER (LMTP put Return-Path and Delivered-To before them), each
# ending with msgs/N.eml.
check_new() {
	"$PYTHON" - "$MM_DIR" "$NEW_IP" "$NEW_IMAP_PORT" "$NEW_MASTER_USER" \
		"$NEW_MASTER_PASS_FILE" "$OLD_IP" "$OLD_IMAP_PORT" "$@" <<'EOP'
import imaplib, re, ssl, sys
d, host, port, master, pwfile, ohost, oport, user, folder, oldpw = sys.argv[1:11]
files = [open("%s/msgs/%s.eml" % (d, n), "rb").read() for n in sys.argv[11:]]

def fetch_all(c):
    typ, data = c.select('"%s"' % folder, readonly=True)
    assert typ == "OK", (folder, typ, data)
    typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[])")
    return sorted(p[1] for p in data if isinstance(p, tuple))

if oldpw == "-":
    want = sorted(files)
else:
    o = imaplib.IMAP4(ohost, int(oport))
    o.starttls(ssl._create_unverified_context())
    o.login(user, oldpw)
    want = fetch_all(o)
    o.logout()
    for f in files:
        assert any(w.endswith(f) for w in want), "OLD does not hold %r" % f[:60]
    assert len(want) == len(files), (len(want), len(files))
c = imaplib.IMAP4(host, int(port))
c.login("%s*%s" % (user, master), open(pwfile).read().strip())
got = sorted(re.sub(rb"\AX-UIDL: [!-~]+\r\n", b"", g) for g in fetch_all(c))
c.logout()
assert len(got) == len(want), "%s: %d on NEW, %d expected" % (folder, len(got), len(want))
for g in got:
    assert b"Cannot display Unicode content" not in g, "a stand-in reached NEW"
for g, w in zip(got, want):
    if g != w:
        k = next((k for k in range(min(len(g), len(w))) if g[k] != w[k]), min(len(g), len(w)))
        raise AssertionError("%s: bodies differ at byte %d: NEW %r, OLD %r"
                             % (folder, k, g[max(0, k - 40):k + 60], w[max(0, k - 40):k + 60]))
EOP
}

add_account() {
	sh "$SERVERS_SH" adduser "$MM_DIR" new "$1" --nopass </dev/null ||
		fail "adduser new $1 failed"
	printf '%s:%s\n' "$1" "$2" | MM bulk - >/dev/null
}

write_conf
MM init >/dev/null || fail "init failed"

# The fake lists UTF8; the puller sends it before USER and gets the
# real messages.
t_pop3_utf8_sent() {
	spec sub@fake.test
	fake_start --pop3 --pop3-utf8 substitute --spec "$MM_DIR/spec-sub@fake.test.json"
	add_account sub@fake.test "fake pass" || return 1
	run_once
	fake_stop
	grep "^[0-9]* CAPA | UTF8 | USER | PASS" "$MM_DIR/fake.log" >/dev/null ||
		{ cat "$MM_DIR/fake.log"; return 1; }
	if grep -q SUBSTITUTE "$MM_DIR/fake.log"; then
		cat "$MM_DIR/fake.log"
		return 1
	fi
	[ "$(show sub@fake.test state)" = copied ] ||
		{ show sub@fake.test last_error; show sub@fake.test job; return 1; }
	check_new sub@fake.test INBOX - 1 2 3
}

# UTF8 refused: failed with the reason, nothing of the account on NEW.
t_pop3_utf8_refused() {
	spec ref@fake.test
	: >"$MM_DIR/fake.log"
	fake_start --pop3 --pop3-utf8 refuse --spec "$MM_DIR/spec-ref@fake.test.json"
	add_account ref@fake.test "fake pass" || return 1
	run_once
	fake_stop
	st=$(show ref@fake.test state)
	[ "$st" = failed ] || { echo "state $st"; return 1; }
	{ show ref@fake.test last_error; show ref@fake.test job.last_error; } |
		grep -q "refused the UTF8 command" ||
		{ show ref@fake.test last_error; show ref@fake.test job; return 1; }
	# The credentials never followed the refusal, nothing was fetched.
	if grep -q "PASS\|RETR" "$MM_DIR/fake.log"; then
		cat "$MM_DIR/fake.log"
		return 1
	fi
	check_new ref@fake.test INBOX -
}

# IMAP OLD with UTF8=ACCEPT: ENABLE sent after LOGIN, the UTF-8 folder
# EXAMINEd as OLD spells it, created on NEW in modified UTF-7.
t_imap_utf8_accept() {
	spec acc@fakei.test
	: >"$MM_DIR/fake.log"
	fake_start --utf8-accept --spec "$MM_DIR/spec-acc@fakei.test.json"
	add_account acc@fakei.test "fake pass" || return 1
	run_once
	fake_stop
	grep -q "LOGIN | ENABLE | " "$MM_DIR/fake.log" || { cat "$MM_DIR/fake.log"; return 1; }
	[ "$(show acc@fakei.test state)" = copied ] ||
		{ show acc@fakei.test last_error; show acc@fakei.test job; return 1; }
	check_new acc@fakei.test INBOX - 1 2 3 || return 1
	check_new acc@fakei.test "Donn&AOk-es &- Co" - 1 3
}

# The real Dovecot OLD: raw UTF-8 headers in INBOX and in "Entwürfe".
# deliver USER: messages 1..3 into INBOX by LMTP, 1 and 3 APPENDed to
# "Entwürfe" (created in modified UTF-7, as IMAP4rev1 says).
deliver_old() {
	"$PYTHON" - "$MM_DIR" "$OLD_IP" "$OLD_LMTP_PORT" "$OLD_IMAP_PORT" "$1" "$2" <<'EOP'
import imaplib, smtplib, sys
d, host, lmtp, imap, user, pw = sys.argv[1:7]
msgs = {n: open("%s/msgs/%d.eml" % (d, n), "rb").read() for n in (1, 2, 3)}
c = smtplib.LMTP(host, int(lmtp))
for n in (1, 2, 3):
    c.sendmail("a@example.net", [user], msgs[n])
c.quit()
i = imaplib.IMAP4(host, int(imap))
i.starttls(__import__("ssl")._create_unverified_context())
i.login(user, pw)
typ, _ = i.create('"Entw&APw-rfe"')
assert typ == "OK", typ
for n in (1, 3):
    typ, _ = i.append('"Entw&APw-rfe"', None, None, msgs[n])
    assert typ == "OK", typ
i.logout()
EOP
}

t_dovecot_imap() {
	mm_adduser old ui@example.test "ui pass"
	deliver_old ui@example.test "ui pass" || return 1
	add_account ui@example.test "ui pass" || return 1
	run_once
	[ "$(show ui@example.test state)" = copied ] ||
		{ show ui@example.test last_error; show ui@example.test job; return 1; }
	check_new ui@example.test INBOX "ui pass" 1 2 3 || return 1
	check_new ui@example.test "Entw&APw-rfe" "ui pass" 1 3
}

t_dovecot_pop3() {
	mm_adduser old up@example.org "up pass"
	deliver_old up@example.org "up pass" || return 1
	add_account up@example.org "up pass" || return 1
	run_once
	[ "$(show up@example.org state)" = copied ] ||
		{ show up@example.org last_error; show up@example.org job; return 1; }
	check_new up@example.org INBOX "up pass" 1 2 3
}

check "POP3 OLD lists UTF8: sent before USER, real messages on NEW byte for byte" t_pop3_utf8_sent
check "POP3 OLD refuses UTF8: account not copied, reason given, no PASS sent" t_pop3_utf8_refused
check "IMAP OLD with UTF8=ACCEPT: ENABLE, UTF-8 folder 'Données & Co' on NEW" t_imap_utf8_accept
check "Dovecot OLD over IMAP: UTF-8 headers and folder 'Entwürfe' byte for byte" t_dovecot_imap
check "Dovecot OLD over POP3: UTF-8 headers byte for byte" t_dovecot_pop3
mm_done
