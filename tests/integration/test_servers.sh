#!/bin/sh
# shellcheck disable=SC2317,SC2119  # t_* run through check()
# test_servers.sh - the real-server test harness works: OLD and NEW Dovecot
# and Postfix come up on loopback, accept and refuse logins as configured,
# deliver mail, and corpus.py loads and verifies a mailbox.
#
# MM_BIG_MB=20 adds a 20 MB message to the corpus (default 0: none).
# MM_KEEP=1 keeps the test directory for inspection.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs

T0=$(date +%s%N)
BIG_MB=${MM_BIG_MB:-0}

ms_since() {
	echo $((($(date +%s%N) - $1) / 1000000))
}

mm_servers_start
echo "ok - servers started in $(ms_since "$T0") ms ($MM_DIR)"

MC="$PYTHON $HARNESS/mailcheck.py"
CORPUS="$PYTHON $HARNESS/corpus.py"

mm_adduser old alice@example.test 'alice pass "1"'
mm_adduser new alice@example.test 'alice new pass'
mm_adduser old bob@example.test "bob's pass"
mm_adduser old erin@example.org 'erin pass'
sh "$SERVERS_SH" adduser "$MM_DIR" new dave@example.test --nopass </dev/null ||
	fail "adduser --nopass failed"
PW_ALICE=$(mm_pwfile 'alice pass "1"')
PW_ALICE_NEW=$(mm_pwfile 'alice new pass')
PW_BOB=$(mm_pwfile "bob's pass")
PW_WRONG=$(mm_pwfile 'not the password')
# 500 bytes: spaces, both quote kinds, backslash and UTF-8 (2- and 3-byte).
PW_ODD=$MM_DIR/odd.pw
"$PYTHON" -c '
import sys
unit = "p\u00e4ss w\u00f6rd \"q\" '"'"'s\\ \u65e5 "
data = (unit * 40).encode("utf-8")[:500]
while True:
    try:
        data.decode("utf-8"); break
    except UnicodeDecodeError:
        data = data[:-1] + b"x"
sys.stdout.buffer.write(data)' >"$PW_ODD" || fail "cannot make the odd password"
chmod 600 "$PW_ODD"
sh "$SERVERS_SH" adduser "$MM_DIR" old carol@example.test <"$PW_ODD" ||
	fail "adduser carol failed"

t_env() {
	for v in MM_DIR OLD_IP NEW_IP OLD_IMAP_PORT OLD_IMAPS_PORT OLD_POP3_PORT \
	    OLD_POP3S_PORT OLD_SMTP_PORT NEW_IMAP_PORT NEW_SMTP_PORT NEW_LMTP_PORT \
	    OLD_DOVECOT_CONF NEW_DOVECOT_CONF OLD_POSTFIX_DIR NEW_POSTFIX_DIR \
	    NEW_MASTER_USER NEW_MASTER_PASS_FILE CA_FILE OLD_MAILDIR_ROOT \
	    NEW_MAILDIR_ROOT; do
		eval "val=\${$v:-}"
		[ -n "$val" ] || { echo "$v missing from $MM_DIR/env"; return 1; }
	done
	assert_eq "$MM_OLD_IP" "$OLD_IP" OLD_IP
	assert_eq "$MM_NEW_IP" "$NEW_IP" NEW_IP
	perm=$(stat -c %a "$NEW_MASTER_PASS_FILE")
	assert_eq 600 "$perm" "mode of $NEW_MASTER_PASS_FILE"
	# No password in any file a test might print.
	if grep -rqsF -e 'alice pass' -e "bob's pass" "$MM_DIR/env" \
	    "$MM_DIR/old/users" "$MM_DIR/old/dovecot.log" "$MM_DIR/new/dovecot.log"; then
		echo "a password leaked into env, users or a log"
		return 1
	fi
}

old_imap() { $MC imap --host "$OLD_IP" "$@"; }
old_pop3() { $MC pop3 --host "$OLD_IP" "$@"; }

t_tls_untrusted() {
	# NEW's certificate is not OLD's: verification must fail (exit 3).
	out=$(old_imap --tls starttls --cafile "$NEW_CERT_FILE" \
		--user alice@example.test --password-file "$PW_ALICE")
	rc=$?
	assert_eq 3 "$rc" "exit code of an untrusted STARTTLS"
	assert_contains "$out" CERTIFICATE_VERIFY_FAILED
}

t_wrong_password() {
	old_imap --mech login --user alice@example.test --password-file "$PW_WRONG" \
		--expect fail || return 1
	old_pop3 --user alice@example.test --password-file "$PW_WRONG" --expect fail || return 1
	old_imap --user nobody@example.test --password-file "$PW_WRONG" --expect fail || return 1
	# Dovecot holds each failure 0.5-2 s unless told not to (nodelay):
	# 5 delayed failures would need 2.5 s at least.
	old_imap --user alice@example.test --password-file "$PW_WRONG" --expect fail \
		--expect-text AUTHENTICATIONFAILED --repeat 5 --max-seconds 2
}

t_odd_password() {
	old_imap --user carol@example.test --password-file "$PW_ODD" || return 1
	old_imap --tls imaps --cafile "$CA_FILE" --user carol@example.test \
		--password-file "$PW_ODD" || return 1
	old_pop3 --mech user --user carol@example.test --password-file "$PW_ODD" || return 1
	old_pop3 --tls pop3s --cafile "$CA_FILE" --user carol@example.test \
		--password-file "$PW_ODD"
}

new_imap() { $MC imap --host "$NEW_IP" "$@"; }

t_master_login() {
	new_imap --user "alice@example.test*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" || return 1
	new_imap --user alice@example.test --password-file "$PW_ALICE_NEW" || return 1
	new_imap --user "alice@example.test*$NEW_MASTER_USER" \
		--password-file "$PW_WRONG" --expect fail || return 1
	# dave has no password of his own: master login only.
	new_imap --user "dave@example.test*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" || return 1
	new_imap --user dave@example.test --password-file "$PW_WRONG" --expect fail
}

# smtp_delivers IP RCPT MAILDIR
smtp_delivers() {
	token=mm-$(date +%s%N)-$$
	swaks --server "$1:25" --helo client.example.test --from sender@example.net \
		--to "$2" --header "Subject: $token" --body "harness test $token" \
		--timeout 10 --silent 2 || { echo "swaks to $1 for $2 failed"; return 1; }
	wait_for "grep -rqsF '$token' '$3/new' '$3/cur'" 10 || {
		echo "no message with $token in $3 after 10 s; postfix log tail:"
		tail -n 15 "$4"
		return 1
	}
}

t_smtp_old() {
	smtp_delivers "$OLD_IP" alice@example.test \
		"$OLD_MAILDIR_ROOT/example.test/alice" "$OLD_POSTFIX_LOG" || return 1
	smtp_delivers "$OLD_IP" erin@example.org \
		"$OLD_MAILDIR_ROOT/example.org/erin" "$OLD_POSTFIX_LOG"
}

t_smtp_new() {
	smtp_delivers "$NEW_IP" alice@example.test \
		"$NEW_MAILDIR_ROOT/example.test/alice" "$NEW_POSTFIX_LOG"
}

MANIFEST=$MM_DIR/bob.json

t_corpus_load() {
	$CORPUS --host "$OLD_IP" --port "$OLD_IMAP_PORT" --user bob@example.test \
		--password-file "$PW_BOB" --seed 42 --big-mb "$BIG_MB" \
		--manifest "$MANIFEST" || return 1
	"$PYTHON" - "$MANIFEST" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1], encoding="utf-8"))
names = {f["name"] for f in m["folders"]}
need = {"Käse.Ölfässer", "日本語", "Work.Projects & Plans"}
assert need <= names, names
raws = {f["raw"] for f in m["folders"]}
assert "K&AOQ-se.&ANY-lf&AOQ-sser" in raws and "&ZeVnLIqe-" in raws, raws
src = [x["source"] for x in m["messages"]]
samples = [s for s in src if s.startswith("sample:")]
assert len(samples) + len(m["rejected"]) >= 40, len(samples)
flags = {f for x in m["messages"] for f in x["flags"]}
assert {"\\Seen", "\\Answered", "\\Flagged", "\\Draft", "$Forwarded", "$Label1"} <= flags, flags
assert "\\Deleted" not in flags
years = {x["internaldate_utc"][:4] for x in m["messages"]}
assert min(years) < "2012" and max(years) > "2017", years
assert m["subscriptions"], "no subscriptions"
EOF
}

t_corpus_verify() {
	$CORPUS --verify --host "$OLD_IP" --user bob@example.test \
		--password-file "$PW_BOB" --manifest "$MANIFEST"
}

# Toggle \Flagged on the first INBOX message: verify must now fail.
t_corpus_verify_detects_flag() {
	"$PYTHON" - "$OLD_IP" bob@example.test "$PW_BOB" <<'EOF' || return 1
import imaplib, sys
host, user, pwfile = sys.argv[1:]
pw = open(pwfile, "rb").read().rstrip(b"\n")
c = imaplib.IMAP4(host, 143, timeout=10)
c.authenticate("PLAIN", lambda _: b"\0" + user.encode() + b"\0" + pw)
c.select("INBOX")
typ, data = c.fetch("1", "(FLAGS)")
op = "-FLAGS" if b"\\Flagged" in data[0] else "+FLAGS"
typ, data = c.store("1", op, "(\\Flagged)")
assert typ == "OK", data
c.logout()
EOF
	out=$($CORPUS --verify --host "$OLD_IP" --user bob@example.test \
		--password-file "$PW_BOB" --manifest "$MANIFEST")
	rc=$?
	printf '%s\n' "$out"
	assert_eq 1 "$rc" "verify exit code after a flag change"
	assert_contains "$out" "folder INBOX: message"
	assert_contains "$out" "flags"
}

# The same seed loaded into NEW (separator "/") through a master login for
# a password-less user matches the manifest made on OLD (separator ".").
t_corpus_new_master() {
	$CORPUS --host "$NEW_IP" --user "dave@example.test*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" --seed 42 --big-mb "$BIG_MB" \
		--manifest "$MM_DIR/dave.json" || return 1
	$CORPUS --verify --host "$NEW_IP" --user "dave@example.test*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" --manifest "$MANIFEST" || return 1
	n=$(mm_maildir_count "$NEW_MAILDIR_ROOT/example.test/dave")
	[ "$n" -gt 0 ] || { echo "nothing stored in dave's NEW Maildir"; return 1; }
}

check "DIR/env lists every variable, no password leaks" t_env
check "OLD IMAP 143 plain login" \
	old_imap --user alice@example.test --password-file "$PW_ALICE"
check "OLD IMAP 143 LOGIN command" \
	old_imap --mech login --user alice@example.test --password-file "$PW_ALICE"
check "OLD IMAP 143 STARTTLS, certificate verified against CA_FILE" \
	old_imap --tls starttls --cafile "$CA_FILE" --user alice@example.test \
	--password-file "$PW_ALICE"
check "OLD IMAPS 993, certificate verified" \
	old_imap --tls imaps --cafile "$CA_FILE" --user alice@example.test \
	--password-file "$PW_ALICE"
check "OLD TLS refused with an untrusted CA" t_tls_untrusted
check "OLD POP3 110 with STLS" \
	old_pop3 --tls starttls --cafile "$CA_FILE" --user alice@example.test \
	--password-file "$PW_ALICE"
check "OLD POP3 110 USER/PASS" \
	old_pop3 --mech user --user alice@example.test --password-file "$PW_ALICE"
check "OLD POP3S 995" \
	old_pop3 --tls pop3s --cafile "$CA_FILE" --user alice@example.test \
	--password-file "$PW_ALICE"
check "wrong password and unknown user refused, without delay" t_wrong_password
check "500-byte password with spaces, quotes, UTF-8 (IMAP, POP3)" t_odd_password
check "NEW master login user@example.test*mailmigrate" t_master_login
check "SMTP to OLD Postfix delivers into OLD Maildir (2 domains)" t_smtp_old
check "SMTP to NEW Postfix delivers into NEW Maildir via LMTP" t_smtp_new
check "corpus.py loads OLD mailbox (big message: ${BIG_MB} MB)" t_corpus_load
check "corpus.py --verify passes on the loaded mailbox" t_corpus_verify
check "corpus.py --verify fails after one flag changed" t_corpus_verify_detects_flag
check "corpus into NEW via master login verifies against OLD's manifest" \
	t_corpus_new_master

D=$MM_DIR
t_stop() {
	t=$(date +%s%N)
	mm_servers_stop || return 1
	echo "stopped in $(ms_since "$t") ms"
	if pgrep -f "$D" >/dev/null; then
		echo "pgrep -f $D still finds:"
		pgrep -af "$D"
		return 1
	fi
	left=$("$PYTHON" "$HARNESS/procs.py" "$D") || { echo "$left"; return 1; }
	for ip_port in "$OLD_IP:143" "$OLD_IP:25" "$NEW_IP:143" "$NEW_IP:25"; do
		if "$PYTHON" -c 'import socket,sys; h,p=sys.argv[1].rsplit(":",1); socket.create_connection((h,int(p)),1)' \
		    "$ip_port" 2>/dev/null; then
			echo "$ip_port still accepts connections"
			return 1
		fi
	done
}
# Run in this shell (not check's subshell) so the trap knows they stopped.
MM_CHECKS=$((MM_CHECKS + 1))
if out=$(t_stop 2>&1); then
	MM_SERVERS_DIR=
	echo "ok - servers stopped, no process left ($out)"
else
	echo "FAIL - servers stopped, no process left"
	printf '%s\n' "$out" | sed 's/^/    /'
	MM_FAILS=$((MM_FAILS + 1))
fi

echo "$MM_TEST: total $(ms_since "$T0") ms"
mm_done
