#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_auth.sh - NEW's Dovecot with the auth-hook (libauthdb_mailmigrate.so,
# loaded in a private mount namespace, configured by
# contrib/dovecot/auth-mailmigrate.conf.ext as it is, and notice-acl.conf.ext
# through the harness): real IMAP and POP3 logins migrate users. The first login under each login_action (reject,
# notice, proxy); the puller copies; the next login is local and sees the
# mail; wrong passwords; OLD down or hanging (a temporary failure, nothing
# created); the notice account read-only for the users it serves, filled
# by LMTP; OLD greeting without a status word, "*" or "+ x" (a temporary
# failure, no auth worker crashed); bind_ip picks the domain; passwords_only;
# a standard domain;
# 100 parallel first logins make one account and one job; passwords with
# spaces, quotes, UTF-8, 500 and 600 bytes; the failed-login cache and the rate
# limits; proxied sessions kicked when the copy is done; a password changed
# on OLD replaces the stored hash over verified TLS only (not over
# unverified TLS or plaintext); OLD (a scripted fake) that offered STARTTLS
# at the first login and strips it later gets no password and creates or
# changes nothing; no password in any log. With NEW's Postfix and mailmigrate-relay (contrib/postfix as it is):
# a forged X-Envelope-To: in a copied message (access_mode extended) makes
# no alias, neither for mail through the relay nor for logins, until the
# administrator approves it; OLD's own Received: hop (source_mx_names)
# makes one at once; adding the account of that name takes it back.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
MAILMIGRATED=${MAILMIGRATED:-$top_builddir/puller/mailmigrated}
[ -x "$MAILMIGRATED" ] || skip "mailmigrated not built"
MODULE=${MM_AUTH_MODULE:-$top_builddir/auth-hook/.libs/libauthdb_mailmigrate.so}
[ -f "$MODULE" ] || skip "auth module not built ($MODULE)"
command -v unshare >/dev/null 2>&1 || skip "unshare not installed"
SNIPPET=$top_srcdir/contrib/dovecot/auth-mailmigrate.conf.ext
AC="$PYTHON $HARNESS/authclient.py"

D=$(mm_tmpdir)
CONF=$D/mailmigrate.conf
MM_DOMAINS="example.test example.org notice.test proxy.test pwonly.test bind.test std.test ext.test"
export MM_DOMAINS
RELAY=${MAILMIGRATE_RELAY:-$top_builddir/relay/mailmigrate-relay}
[ -x "$RELAY" ] || skip "mailmigrate-relay not built"
RC="$PYTHON $HARNESS/relayclient.py"
MM_AUTH_MODULES=$MODULE
export MM_AUTH_MODULES
# The snippet as shipped, with our configuration's path; the CA for
# proxied sessions to OLD (the login processes read it: no chroot).
MM_NEW_DOVECOT_EXTRA=$D/extra.conf
{
	sed "s|/etc/mailmigrate/mailmigrate.conf|$CONF|" "$SNIPPET"
	cat <<EOD
ssl_client_ca_file = $D/ca.pem
service imap-login {
  chroot =
}
service pop3-login {
  chroot =
}
EOD
} >"$MM_NEW_DOVECOT_EXTRA"
export MM_NEW_DOVECOT_EXTRA
# The notice account read-only for the sessions it serves
# (contrib/dovecot/notice-acl.conf.ext, which the harness loads).
MM_NEW_NOTICE_ACL=$D/notice.acl
echo '* user=info@notice.test lr' >"$MM_NEW_NOTICE_ACL"
export MM_NEW_NOTICE_ACL
# NEW's Postfix asks mailmigrate-relay (started by t_forged_alias). The
# verification cache would keep the first "unknown" for ceo@ext.test for
# minutes after its alias is approved: here it expires at once.
mm_relay_snippets "$D"
printf '%s\n' "address_verify_negative_expire_time = 1s" \
	"address_verify_negative_refresh_time = 1s" >>"$D/new-main.cf"
mm_servers_start "$D"

# A port nothing listens on (OLD down), and a server that accepts and
# never speaks (OLD hanging).
HANG_PORT=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$PYTHON" -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(50)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
' "$HANG_PORT" </dev/null >/dev/null 2>&1 &
HANG_PID=$!
DOWN_PORT=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# OLD greeting without a status word (tests/harness/fakeimap.py): "*"
# and "+ x", which once killed the auth worker.
printf '{"user": "nobody", "password": "x", "folders": []}\n' >"$D/fake-greet-spec.json"
FAKE_PIDS=
for g in star plus; do
	case $g in star) line="*" ;; plus) line="+ x" ;; esac
	"$PYTHON" "$HARNESS/fakeimap.py" --listen 127.0.0.1 --port-file "$D/fake-$g.port" \
		--spec "$D/fake-greet-spec.json" --greeting "$line" </dev/null >>"$D/fake.err" 2>&1 &
	FAKE_PIDS="$FAKE_PIDS $!"
done
mm_at_exit "kill $FAKE_PIDS"
wait_for '[ -s "$D/fake-star.port" ] && [ -s "$D/fake-plus.port" ]' 10 ||
	fail "fakeimap.py did not start"
STAR_PORT=$(cat "$D/fake-star.port")
PLUS_PORT=$(cat "$D/fake-plus.port")

# A scripted OLD for strip.test: STARTTLS at the first connection only.
printf '{"user": "sam@strip.test", "password": "sam pw", "folders": [{"name": "INBOX", "uidvalidity": 1, "messages": []}]}\n' \
	>"$D/fake-spec.json"
"$PYTHON" "$HARNESS/fakeimap.py" --listen "$OLD_IP" --port-file "$D/fake.port" \
	--log "$D/fake.log" --spec "$D/fake-spec.json" --starttls-sessions 1 \
	--cert "$OLD_CERT_FILE" --key "$(dirname "$OLD_CERT_FILE")/key.pem" \
	</dev/null >"$D/fake.err" 2>&1 &
FAKE_PID=$!
mm_at_exit 'kill "$FAKE_PID"'
wait_for '[ -s "$D/fake.port" ]' 10 || fail "fakeimap.py did not start"
FAKE_PORT=$(cat "$D/fake.port")
# And its POP3 counterpart for pstrip.test.
printf '{"user": "pia@pstrip.test", "password": "pia pw", "folders": []}\n' >"$D/fake3-spec.json"
"$PYTHON" "$HARNESS/fakeimap.py" --pop3 --listen "$OLD_IP" --port-file "$D/fake3.port" \
	--log "$D/fake3.log" --spec "$D/fake3-spec.json" --starttls-sessions 1 \
	--cert "$OLD_CERT_FILE" --key "$(dirname "$OLD_CERT_FILE")/key.pem" \
	</dev/null >"$D/fake3.err" 2>&1 &
FAKE3_PID=$!
mm_at_exit 'kill "$FAKE3_PID"'
wait_for '[ -s "$D/fake3.port" ]' 10 || fail "fakeimap.py --pop3 did not start"
FAKE3_PORT=$(cat "$D/fake3.port")

write_conf() {
	cat >"$CONF" <<EOC
$(mm_store_conf $D/state)
key_file = $D/secret.key
log_file = $D/mailmigrated.log
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE
target_lmtp = inet:$NEW_IP:$NEW_LMTP_PORT
target_doveadm_config = $NEW_DOVECOT_CONF
user_home = $D/new/home/%d/%n
user_mail = maildir:$D/new/mail/%d/%n
user_uid = mail
user_gid = mail
auth_source_timeout = 3
auth_rate_user = ${RATE_USER:-1000}
auth_rate_ip = 100000
auth_negative_ttl = 300
relay_listen = unix:$D/relay.sock

[domain example.test]
source_host = $OLD_IP
source_tls = starttls
source_tls_ca_file = $CA_FILE
login_action = reject
notice_message = $D/notice.txt

[domain notice.test]
source_host = $OLD_IP
source_tls = direct
source_tls_ca_file = $CA_FILE
login_action = notice
notice_account = info@notice.test

# Dovecot 2.3.19's login proxy does not take the harness's self-signed
# certificates from ssl_client_ca_file (still "self-signed certificate"),
# so the proxied sessions use STARTTLS without verification here.
[domain proxy.test]
source_host = $OLD_IP
source_tls = starttls
source_tls_verify = no
login_action = proxy

[domain pwonly.test]
source_host = $OLD_IP
source_tls = none
passwords_only = yes

[domain bind.test]
source_host = $OLD_IP
source_tls = starttls
source_tls_ca_file = $CA_FILE
bind_ip = $NEW_IP

[domain std.test]
type = standard

[domain ext.test]
source_host = $OLD_IP
source_tls = none
access_mode = extended
source_mx_names = mx.old.test
relay_nexthop = mm-old:[$OLD_IP]:25

[domain down.test]
source_host = 127.0.0.1:$DOWN_PORT
source_tls = none

[domain slow.test]
source_host = 127.0.0.1:$HANG_PORT
source_tls = none

[domain strip.test]
source_host = $OLD_IP:$FAKE_PORT
source_tls = detect
source_tls_ca_file = $CA_FILE

[domain pstrip.test]
source_host = $OLD_IP:$FAKE3_PORT
source_protocols = pop3
source_tls = detect
source_tls_ca_file = $CA_FILE
[domain star.test]
source_host = 127.0.0.1:$STAR_PORT
source_protocols = imap
source_tls = none

[domain plus.test]
source_host = 127.0.0.1:$PLUS_PORT
source_protocols = imap
source_tls = none
EOC
	chmod 644 "$CONF"
}
write_conf
printf 'Subject: Your mailbox moves\n\nHello %%u, your mail at %%d is on its way.\n' >"$D/notice.txt"
chmod 644 "$D/notice.txt"
MM() { "$MAILMIGRATE" -c "$CONF" "$@"; }
MM init >/dev/null || fail "mailmigrate init failed"
# Least privilege: the auth workers run as dovecot and reach the store and
# the public key file through the dovecot group; key_file, which opens the
# captured passwords, stays root's 0600 (contrib/dovecot/auth-mailmigrate.conf.ext).
# (PostgreSQL: no state_dir; the database's own access rules apply.)
{ [ ! -d "$D/state" ] || chgrp -R dovecot "$D/state"; } &&
	chgrp dovecot "$D/secret.key.pub" && chmod 640 "$D/secret.key.pub" ||
	fail "cannot hand the store to the dovecot group"
[ "$(stat -c %a:%U:%G "$D/secret.key")" = 600:root:root ] ||
	fail "key_file is not root's 0600: $(stat -c %a:%U:%G "$D/secret.key")"
if setpriv --reuid=dovecot --regid=dovecot --init-groups cat "$D/secret.key" >/dev/null 2>&1; then
	fail "user dovecot can read key_file"
fi

# pw NAME PASSWORD: a 0600 file holding PASSWORD, named after NAME.
pw() {
	printf '%s\n' "$2" >"$D/$1.pw"
	chmod 600 "$D/$1.pw"
	printf '%s\n' "$D/$1.pw"
}
# olduser USER PASSWORD [SUBJECT...]: a user on OLD with messages.
olduser() {
	u=$1
	p=$2
	shift 2
	mm_adduser old "$u" "$p"
	f=$(pw "$u" "$p")
	for s in "$@"; do
		$AC --append "$s" imap "$OLD_IP" "$u" "$f" >/dev/null || return 1
	done
}
# account_state USER: the account's state, or "none".
account_state() {
	MM show "$1" --json 2>/dev/null | "$PYTHON" -c '
import json, sys
print(json.load(sys.stdin)["state"])' 2>/dev/null || echo none
}
# job_count USER: jobs queued for USER (0 or 1).
job_count() {
	MM show "$1" --json 2>/dev/null | "$PYTHON" -c '
import json, sys
a = json.load(sys.stdin)
print(1 if a.get("job") else 0)' 2>/dev/null || echo 0
}
expect_answer() {
	# expect_answer WHAT EXPECTED-PREFIX ACTUAL
	case $3 in
	"$2"*) return 0 ;;
	esac
	echo "$1: expected '$2...', got '$3'"
	return 1
}

olduser alice@example.test "alice pw" "old one" "old two" "old three"
olduser dan@example.test "dan pw" "pop one"
olduser eve@notice.test "eve pw" "eve old"
olduser frank@proxy.test "frank pw" "frank one" "frank two"
olduser gina@pwonly.test "gina pw"
olduser bob@bind.test "bob pw" "bob old"
olduser hank@std.test "hank pw"
olduser ivy@example.test "ivy pw" "ivy old"
# The notice account is filled by mail (LMTP, which the ACL leaves alone)
# and has a folder besides INBOX.
mm_adduser new info@notice.test "info pw"
"$PYTHON" -c '
import smtplib, sys
c = smtplib.LMTP(sys.argv[1], int(sys.argv[2]))
c.sendmail("", ["info@notice.test"], b"From: admin@notice.test\r\n"
           b"Subject: Why you see this\r\n\r\nYour mail is being moved.\r\n")
c.quit()' "$NEW_IP" "$NEW_LMTP_PORT" || fail "cannot fill the notice account's INBOX"
doveadm -c "$NEW_DOVECOT_CONF" mailbox create -u info@notice.test Help ||
	fail "cannot make the notice account's Help folder"

# first_logins: the auth module's first-login counts from the store
# (stats, as mailmigrate_auth_first_logins_total serves them), as
# "migrated refused unavailable failed".
first_logins() {
	MM stats --json | "$PYTHON" -c 'import json, sys
d = json.load(sys.stdin)
print(" ".join(str(d["first_logins_" + k]) for k in ("migrated", "refused", "unavailable", "failed")))'
}
# first_logins_since BEFORE: what was added since BEFORE, the same way.
first_logins_since() {
	set -- $1 $(first_logins)
	echo "$(($5 - $1)) $(($6 - $2)) $(($7 - $3)) $(($8 - $4))"
}

t_reject_first_imap() {
	fl=$(first_logins)
	a=$($AC imap "$NEW_IP" alice@example.test "$D/alice@example.test.pw")
	expect_answer "first login" "NO [CONTACTADMIN] Your mailbox is being moved" "$a" || return 1
	assert_eq "1 0 0 0" "$(first_logins_since "$fl")" "first logins counted" || return 1
	assert_eq queued "$(account_state alice@example.test)" "state"
	assert_eq 1 "$(job_count alice@example.test)" "jobs"
	# The notice is in alice's INBOX on NEW already.
	grep -rl "Hello alice@example.test, your mail at example.test" \
		"$D/new/mail/example.test/alice/new" >/dev/null ||
		{ echo "no notice in alice's INBOX on NEW"; return 1; }
	# The worker sealed the password to the public key: version 2.
	if [ "$MM_TEST_BACKEND" = postgresql ]; then
		v=$(mm_store_sql "$CONF" "SELECT ' \\' || substr(encode(sealed, 'hex'), 1, 2)
			FROM mailmigrate.creds WHERE account = 'alice@example.test'")
	else
		v=$(mdb_dump -p -s creds "$D/state" | grep -A1 '^ alice@example.test$' | tail -n 1)
	fi
	case $v in
	' \02'*) ;;
	*) echo "alice's sealed password is not version 2: $(printf '%s' "$v" | head -c 12)"; return 1 ;;
	esac
	# Again, before the copy: the stored hash, the same answer.
	a=$($AC imap "$NEW_IP" alice@example.test "$D/alice@example.test.pw")
	expect_answer "second login" "NO [CONTACTADMIN] Your mailbox is being moved" "$a" || return 1
	# Not a first login: not counted again.
	assert_eq "1 0 0 0" "$(first_logins_since "$fl")" "first logins counted"
}

t_reject_first_pop3() {
	a=$($AC pop3 "$NEW_IP" dan@example.test "$D/dan@example.test.pw")
	expect_answer "POP3 first login" "NO -ERR" "$a" || return 1
	assert_contains "$a" "Your mailbox is being moved"
	assert_eq queued "$(account_state dan@example.test)" "state"
	grep -q "dan@example.test.*pop3\|pop3.*dan@example.test" "$NEW_DOVECOT_LOG" ||
		{ echo "no pop3 login for dan in NEW's log"; return 1; }
}

t_wrong_password() {
	fl=$(first_logins)
	p=$(pw wrong "not the password")
	a=$($AC imap "$NEW_IP" carol@example.test "$p")
	expect_answer "unknown user" "NO [AUTHENTICATIONFAILED]" "$a" || return 1
	a=$($AC imap "$NEW_IP" alice@example.test "$p")
	expect_answer "known user, wrong password" "NO [AUTHENTICATIONFAILED]" "$a" || return 1
	a=$($AC pop3 "$NEW_IP" dan@example.test "$p")
	expect_answer "POP3 wrong password" "NO -ERR [AUTH]" "$a" || return 1
	assert_eq none "$(account_state carol@example.test)" "carol"
	# The same wrong pair again: refused without asking OLD.
	a=$($AC imap "$NEW_IP" carol@example.test "$p")
	expect_answer "unknown user again" "NO [AUTHENTICATIONFAILED]" "$a" || return 1
	grep -q "carol@example.test: password refused by OLD a moment ago" "$NEW_DOVECOT_LOG" ||
		{ echo "second wrong login went to OLD"; return 1; }
	# carol's two are first logins refused; alice's and dan's are not
	# first logins (their accounts exist).
	assert_eq "0 2 0 0" "$(first_logins_since "$fl")" "first logins counted"
}

t_old_down() {
	fl=$(first_logins)
	p=$(pw kim "kim pw")
	a=$($AC imap "$NEW_IP" kim@down.test "$p")
	expect_answer "OLD down" "NO [UNAVAILABLE]" "$a" || return 1
	assert_eq none "$(account_state kim@down.test)" "state"
	a=$($AC pop3 "$NEW_IP" kim@slow.test "$p")
	expect_answer "OLD hanging" "NO -ERR [SYS/TEMP]" "$a" || return 1
	assert_eq none "$(account_state kim@slow.test)" "state"
	assert_eq "0 0 2 0" "$(first_logins_since "$fl")" "first logins counted"
}

# auth_worker_deaths: auth workers Dovecot saw die so far.
auth_worker_deaths() {
	grep -cE "service\(auth-worker\): child [0-9]+ killed with signal|Worker process died unexpectedly" \
		"$NEW_DOVECOT_LOG"
}

t_old_greeting_without_status() {
	deaths=$(auth_worker_deaths)
	p=$(pw lou "lou pw")
	for d in star.test plus.test; do
		a=$($AC imap "$NEW_IP" "lou@$d" "$p")
		expect_answer "greeting without a status ($d)" "NO [UNAVAILABLE]" "$a" || return 1
		assert_eq none "$(account_state "lou@$d")" "state ($d)" || return 1
	done
	assert_eq "$deaths" "$(auth_worker_deaths)" "auth workers died" || return 1
	grep -q "lou@star.test: cannot check the password on OLD 127.0.0.1:$STAR_PORT: bad greeting from 127.0.0.1: '\*' without a status" \
		"$NEW_DOVECOT_LOG" || { echo "no reason for star.test in the log"; return 1; }
	grep -q "lou@plus.test: cannot check the password on OLD 127.0.0.1:$PLUS_PORT: bad greeting from 127.0.0.1: '+' without a status: x" \
		"$NEW_DOVECOT_LOG" || { echo "no reason for plus.test in the log"; return 1; }
}

t_notice() {
	a=$($AC --inbox imap "$NEW_IP" eve@notice.test "$D/eve@notice.test.pw")
	assert_eq "OK Why you see this" "$a" "eve's first session (the notice account)"
	assert_eq queued "$(account_state eve@notice.test)" "state"
}

# notice_state: the notice account's folders, messages and flags, as
# doveadm (not an IMAP session, not under the ACL) sees them; \Recent
# goes to whoever looks first.
notice_state() {
	doveadm -c "$NEW_DOVECOT_CONF" mailbox list -u info@notice.test | sort
	doveadm -c "$NEW_DOVECOT_CONF" -f tab fetch -u info@notice.test \
		"mailbox uid flags hdr.subject" all | sed 's/\\Recent//'
}

# Every migrating user logs in to the same notice account: none may
# change what the others read.
t_notice_read_only() {
	before=$(notice_state)
	assert_contains "$before" "Why you see this" || return 1
	a=$($AC --try-writes Help imap "$NEW_IP" eve@notice.test "$D/eve@notice.test.pw")
	echo "IMAP: $a"
	for w in append copy create rename delete rename-inbox; do
		assert_contains "$a" " $w=NO" "eve's IMAP session" || return 1
	done
	# STORE and EXPUNGE answer OK and change nothing (RFC 4314 section 4:
	# flags without the right are ignored): the state below says so.
	a=$($AC --try-writes Help pop3 "$NEW_IP" eve@notice.test "$D/eve@notice.test.pw")
	echo "POP3: $a"
	assert_eq "$before" "$(notice_state)" "the notice account after eve's sessions" || return 1
	a=$($AC --inbox imap "$NEW_IP" eve@notice.test "$D/eve@notice.test.pw")
	assert_eq "OK Why you see this" "$a" "eve's next session"
}

t_proxy() {
	a=$($AC --inbox imap "$NEW_IP" frank@proxy.test "$D/frank@proxy.test.pw")
	assert_eq "OK frank one|frank two" "$a" "frank's first session (proxied to OLD)"
	a=$($AC --inbox pop3 "$NEW_IP" frank@proxy.test "$D/frank@proxy.test.pw")
	assert_eq "OK frank one|frank two" "$a" "frank's POP3 session (proxied to OLD)"
	assert_eq queued "$(account_state frank@proxy.test)" "state"
}

t_bind_ip() {
	a=$($AC imap "$NEW_IP" bob "$D/bob@bind.test.pw")
	expect_answer "bob without a domain" "NO [CONTACTADMIN] Your mailbox" "$a" || return 1
	assert_eq queued "$(account_state bob@bind.test)" "state"
}

t_passwords_only() {
	a=$($AC --inbox imap "$NEW_IP" gina@pwonly.test "$D/gina@pwonly.test.pw")
	assert_eq "OK " "$a" "gina's session (local, empty INBOX)"
	assert_eq passwords-only "$(account_state gina@pwonly.test)" "state"
	assert_eq 0 "$(job_count gina@pwonly.test)" "jobs"
	# Now from the stored hash.
	a=$($AC imap "$NEW_IP" gina@pwonly.test "$D/gina@pwonly.test.pw")
	assert_eq "OK" "$a" "gina again"
}

t_standard() {
	a=$($AC imap "$NEW_IP" hank@std.test "$D/hank@std.test.pw")
	expect_answer "standard domain" "NO [AUTHENTICATIONFAILED]" "$a" || return 1
	assert_eq none "$(account_state hank@std.test)" "state"
}

t_parallel() {
	out=$($AC --parallel 100 imap "$NEW_IP" ivy@example.test "$D/ivy@example.test.pw")
	echo "$out"
	# Every one is the reject answer (or, under load, a temporary one).
	printf '%s\n' "$out" | grep -v "NO \[CONTACTADMIN\] Your mailbox\|NO \[UNAVAILABLE\]" && return 1
	printf '%s\n' "$out" | grep -q "CONTACTADMIN" || return 1
	n=$(MM list --json | "$PYTHON" -c '
import json, sys
print(sum(1 for a in json.load(sys.stdin) if a["account"] == "ivy@example.test"))')
	assert_eq 1 "$n" "accounts for ivy"
	assert_eq 1 "$(job_count ivy@example.test)" "jobs for ivy"
	n=$(cat "$D"/new/mail/example.test/ivy/new/* | grep -c "Hello ivy@example.test")
	assert_eq 1 "$n" "notices for ivy"
}

t_passwords() {
	i=0
	for p in 'two  spaces here' "quote\"s and 'apostrophes'" 'ünïcödé пароль 密码' \
	    "$(printf 'L%.0s' $(seq 1 500))" "$(printf 'M%.0s' $(seq 1 600))"; do
		i=$((i + 1))
		u=pw$i@example.test
		olduser "$u" "$p" "msg $i" || return 1
		a=$($AC imap "$NEW_IP" "$u" "$D/$u.pw")
		expect_answer "password $i, first login" "NO [CONTACTADMIN]" "$a" || return 1
		a=$($AC imap "$NEW_IP" "$u" "$D/$u.pw")
		expect_answer "password $i, from the hash" "NO [CONTACTADMIN]" "$a" || return 1
		a=$($AC pop3 "$NEW_IP" "$u" "$D/$u.pw")
		expect_answer "password $i, POP3" "NO -ERR" "$a" || return 1
		assert_contains "$a" "Your mailbox is being moved"
	done
	[ "$(wc -c <"$D/pw4@example.test.pw")" = 501 ] || { echo "not 500 bytes"; return 1; }
	# 600 bytes: too long for SHA512-CRYPT, stored as {PBKDF2}.
	MM export passwd-file --all 2>/dev/null | grep -q '^pw5@example.test:{PBKDF2}\$1\$' ||
		{ echo "no PBKDF2 hash for the 600-byte password"; return 1; }
}

t_copy_then_local() {
	# A proxied session stays open while the copy runs...
	rm -f "$D/go"
	$AC --hold "$D/go" imap "$NEW_IP" frank@proxy.test "$D/frank@proxy.test.pw" \
		>"$D/held" 2>&1 </dev/null &
	held=$!
	if ! wait_for "grep -c 'proxy(frank@proxy.test,.*:143): Started proxying' '$NEW_DOVECOT_LOG' | grep -qx 2" 20; then
		: >"$D/go"
		wait "$held"
		echo "no proxied session for frank: $(cat "$D/held")"
		return 1
	fi
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$D/daemon.err" || { : >"$D/go"; cat "$D/daemon.err"; return 1; }
	# ...and is kicked when frank's copy is done.
	: >"$D/go"
	wait "$held"
	assert_eq GONE "$(cat "$D/held")" "frank's proxied session after the copy"
	for u in alice@example.test dan@example.test eve@notice.test frank@proxy.test bob@bind.test; do
		assert_eq copied "$(account_state $u)" "$u"
	done
	# A message that reaches OLD only now is not seen by local sessions.
	$AC --append "late on OLD" imap "$OLD_IP" frank@proxy.test "$D/frank@proxy.test.pw" >/dev/null
	a=$($AC --inbox imap "$NEW_IP" alice@example.test "$D/alice@example.test.pw")
	assert_eq "OK Your mailbox moves|old one|old three|old two" "$a" "alice, local"
	a=$($AC --inbox pop3 "$NEW_IP" dan@example.test "$D/dan@example.test.pw")
	assert_eq "OK Your mailbox moves|pop one" "$a" "dan, local (POP3)"
	a=$($AC --inbox imap "$NEW_IP" frank@proxy.test "$D/frank@proxy.test.pw")
	assert_eq "OK frank one|frank two" "$a" "frank, local"
	a=$($AC --inbox imap "$NEW_IP" eve@notice.test "$D/eve@notice.test.pw")
	assert_eq "OK eve old" "$a" "eve, local"
	a=$($AC imap "$NEW_IP" alice@example.test "$D/wrong.pw")
	expect_answer "alice, wrong password after the copy" "NO [AUTHENTICATIONFAILED]" "$a"
}

# hash_of USER: the stored password hash of USER.
hash_of() {
	MM export passwd-file --all 2>/dev/null | grep "^$1:" | cut -d: -f2
}

# A password changed on OLD: replaced on OLD's yes over verified TLS only.
t_password_changed() {
	# Verified TLS (example.test: starttls, the harness's CA).
	olduser chg@example.test "chg old" || return 1
	a=$($AC imap "$NEW_IP" chg@example.test "$D/chg@example.test.pw")
	expect_answer "chg first login" "NO [CONTACTADMIN]" "$a" || return 1
	h1=$(hash_of chg@example.test)
	[ -n "$h1" ] || { echo "no hash for chg"; return 1; }
	mm_adduser old chg@example.test "chg new"
	a=$($AC imap "$NEW_IP" chg@example.test "$(pw chg-new "chg new")")
	expect_answer "chg, new password (verified TLS)" "NO [CONTACTADMIN]" "$a" || return 1
	h2=$(hash_of chg@example.test)
	[ -n "$h2" ] && [ "$h1" != "$h2" ] || { echo "chg's hash not replaced"; return 1; }
	# Unverified TLS (proxy.test: source_tls_verify = no) and plaintext
	# (pwonly.test: none): OLD says yes, the hash stays, login refused.
	for u in chu@proxy.test chn@pwonly.test; do
		olduser "$u" "$u old" || return 1
		a=$($AC imap "$NEW_IP" "$u" "$D/$u.pw")
		expect_answer "$u first login" "OK" "$a" || return 1
		h1=$(hash_of "$u")
		[ -n "$h1" ] || { echo "no hash for $u"; return 1; }
		mm_adduser old "$u" "$u new"
		a=$($AC imap "$NEW_IP" "$u" "$(pw "$u-new" "$u new")")
		expect_answer "$u, new password (not verified)" "NO [AUTHENTICATIONFAILED]" "$a" ||
			return 1
		assert_eq "$h1" "$(hash_of "$u")" "$u's hash"
		grep -q "$u: OLD accepted a password that differs from the stored one, but not over TLS with a verified certificate" \
			"$NEW_DOVECOT_LOG" || { echo "no warning for $u"; return 1; }
	done
	MM log --account chn@pwonly.test | grep -q "the stored password is kept" || return 1
	# chn (passwords-only, local) still logs in with the stored password.
	a=$($AC imap "$NEW_IP" chn@pwonly.test "$D/chn@pwonly.test.pw")
	assert_eq "OK" "$a" "chn with the stored password"
}

# strip.test's OLD offers STARTTLS at the first connection only: sam's
# first login goes over TLS and is remembered; then a changed password
# and an unknown user meet an OLD without STARTTLS: temporary failures,
# no LOGIN sent to it, nothing created, no hash replaced. The same for
# POP3's STLS (pstrip.test).
t_stripped_login() {
	olduser_pw=$(pw sam@strip.test "sam pw")
	a=$($AC imap "$NEW_IP" sam@strip.test "$olduser_pw")
	expect_answer "sam first login (STARTTLS)" "NO [CONTACTADMIN]" "$a" || return 1
	grep -q "^1 .*STARTTLS | TLS | .*LOGIN" "$D/fake.log" || { cat "$D/fake.log"; return 1; }
	MM preflight --local | grep -q "^ok      strip.test: imap: STARTTLS seen on OLD since" ||
		{ MM preflight --local; return 1; }
	h1=$(hash_of sam@strip.test)
	[ -n "$h1" ] || { echo "no hash for sam"; return 1; }
	a=$($AC imap "$NEW_IP" sam@strip.test "$(pw sam-new "sam new")")
	expect_answer "sam, new password, STARTTLS stripped" "NO [UNAVAILABLE]" "$a" || return 1
	a=$($AC imap "$NEW_IP" tom@strip.test "$(pw tom "tom pw")")
	expect_answer "tom, unknown, STARTTLS stripped" "NO [UNAVAILABLE]" "$a" || return 1
	wait_for '[ "$(grep -c . "$D/fake.log")" = 3 ]' 5 || { cat "$D/fake.log"; return 1; }
	if grep "^[23] " "$D/fake.log" | grep -q "LOGIN\|AUTHENTICATE"; then
		echo "a password went to a stripped session:"; cat "$D/fake.log"; return 1
	fi
	assert_eq "$h1" "$(hash_of sam@strip.test)" "sam's hash"
	assert_eq none "$(account_state tom@strip.test)" "tom"
	grep -q "tom@strip.test: login refused for now: $OLD_IP no longer offers STARTTLS" \
		"$NEW_DOVECOT_LOG" || { echo "no downgrade error in NEW's log"; return 1; }
	MM log --errors --account tom@strip.test | grep -q "possibly a downgrade attack" ||
		{ MM log; return 1; }
	# The same over POP3 (pstrip.test): STLS at the first login only.
	a=$($AC pop3 "$NEW_IP" pia@pstrip.test "$(pw pia@pstrip.test "pia pw")")
	expect_answer "pia first login (STLS)" "NO -ERR" "$a" || return 1
	assert_contains "$a" "Your mailbox is being moved"
	grep -q "^1 CAPA | STLS | TLS | CAPA | USER | PASS" "$D/fake3.log" ||
		{ cat "$D/fake3.log"; return 1; }
	MM preflight --local | grep -q "^ok      pstrip.test: pop3: STARTTLS seen on OLD since" ||
		{ MM preflight --local; return 1; }
	h1=$(hash_of pia@pstrip.test)
	[ -n "$h1" ] || { echo "no hash for pia"; return 1; }
	a=$($AC pop3 "$NEW_IP" pia@pstrip.test "$(pw pia-new "pia new")")
	expect_answer "pia, new password, STLS stripped" "NO -ERR [SYS/TEMP]" "$a" || return 1
	wait_for '[ "$(grep -c . "$D/fake3.log")" = 2 ]' 5 || { cat "$D/fake3.log"; return 1; }
	if grep "^2 " "$D/fake3.log" | grep -q "USER\|PASS\|AUTH"; then
		echo "a password went to a stripped POP3 session:"; cat "$D/fake3.log"; return 1
	fi
	assert_eq "$h1" "$(hash_of pia@pstrip.test)" "pia's hash"
	grep -q "pia@pstrip.test: login refused for now: $OLD_IP no longer offers STLS" \
		"$NEW_DOVECOT_LOG" || { echo "no POP3 downgrade error in NEW's log"; return 1; }
}

t_rate_limit() {
	RATE_USER=2 write_conf
	doveadm -c "$NEW_DOVECOT_CONF" reload || return 1
	olduser lim@example.test "lim pw" || return 1
	for n in 1 2; do
		a=$($AC imap "$NEW_IP" lim@example.test "$(pw lim$n "wrong $n")")
		expect_answer "wrong password $n" "NO [AUTHENTICATIONFAILED]" "$a" || return 1
	done
	# The third check on OLD in the window is refused for now, even with
	# the right password.
	a=$($AC imap "$NEW_IP" lim@example.test "$D/lim@example.test.pw")
	expect_answer "over the limit" "NO [UNAVAILABLE]" "$a" || return 1
	assert_eq none "$(account_state lim@example.test)" "state"
	write_conf
	doveadm -c "$NEW_DOVECOT_CONF" reload
}

# The switch to standard: the module goes, the exported passwd-file takes
# over, with no password reset.
t_export_passwd_file() {
	printf 'zed pw\n' | MM add zed@example.test >/dev/null || return 1
	MM export passwd-file "$D/exported" 2>"$D/export.err"
	rc=$?
	assert_eq 1 "$rc" "export exit status (a queued account left out)"
	grep -q "zed@example.test: queued, not migrated yet; left out" "$D/export.err" ||
		{ cat "$D/export.err"; return 1; }
	grep -q "^alice@example.test:{SHA512-CRYPT}\$6\$.*:mail:mail::$D/new/home/example.test/alice::userdb_mail=maildir:$D/new/mail/example.test/alice\$" \
		"$D/exported" || { cat "$D/exported"; return 1; }
	grep -q "^gina@pwonly.test:" "$D/exported" || return 1
	MM export passwd-file >"$D/exported.stdout" 2>/dev/null
	cmp -s "$D/exported" "$D/exported.stdout" || { echo "stdout differs from FILE"; return 1; }
	# NEW without the module: only the passwd-file.
	cat "$D/exported" >>"$D/new/users"
	: >"$D/new/local.conf"
	doveadm -c "$NEW_DOVECOT_CONF" reload || return 1
	wait_for "! doveconf -c '$NEW_DOVECOT_CONF' -n | grep -q mailmigrate" 5 || return 1
	a=$($AC --inbox imap "$NEW_IP" alice@example.test "$D/alice@example.test.pw")
	assert_eq "OK Your mailbox moves|old one|old three|old two" "$a" "alice on passwd-file"
	a=$($AC --inbox pop3 "$NEW_IP" dan@example.test "$D/dan@example.test.pw")
	assert_eq "OK Your mailbox moves|pop one" "$a" "dan on passwd-file (POP3)"
	a=$($AC imap "$NEW_IP" alice@example.test "$D/wrong.pw")
	expect_answer "alice, wrong password" "NO [AUTHENTICATIONFAILED]" "$a"
}

# The relay, for t_forged_alias; stopped at exit.
relay_stop() {
	[ -s "$D/relay.pid" ] || return 0
	kill -TERM "$(cat "$D/relay.pid")" 2>/dev/null
	wait_for "! kill -0 $(cat "$D/relay.pid") 2>/dev/null" 10
	rm -f "$D/relay.pid"
}
mm_at_exit relay_stop
# count USER@DOM: messages in the user's Maildir INBOX on NEW.
new_count() { mm_maildir_count "$D/new/mail/${1#*@}/${1%@*}"; }
N=0
# send RCPT: one message through NEW's Postfix (a fresh sender each time:
# Postfix caches a route per sender and recipient), again while the
# answer is "verification in progress" (450), for 30 seconds at most.
send() {
	i=0
	while :; do
		N=$((N + 1))
		out=$(swaks --server "$NEW_IP:25" --helo client.example.net \
			--from "sender$N@example.net" --to "$1" \
			--header "Subject: alias test $N" --timeout 30 2>&1)
		st=$?
		case $out in
		*"<** 450 "*) ;;
		*) break ;;
		esac
		i=$((i + 1))
		[ "$i" -lt 30 ] || break
		sleep 1
	done
	printf '%s\n' "$out"
	return "$st"
}

# kim's mail on OLD: one message with a forged X-Envelope-To: ceo, one
# that OLD's MX (mx.old.test) received for kim.alt: its own topmost
# Received: hop, with a forged hop for boss below a foreign one.
t_forged_alias() {
	mm_adduser old kim@ext.test "kim pw"
	pw kim@ext.test "kim pw" >/dev/null
	"$PYTHON" - "$OLD_IP" <<'EOP' || return 1
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1], 143)
m.login("kim@ext.test", "kim pw")
m.append("INBOX", None, None,
         b"X-Envelope-To: ceo@ext.test\r\nFrom: a@example.net\r\nTo: kim@ext.test\r\n"
         b"Subject: forged\r\nMessage-ID: <forged@example.net>\r\n\r\nbody\r\n")
m.append("INBOX", None, None,
         b"Received: from smtp.example.net by mx.old.test (Postfix) with ESMTP id 1\r\n"
         b"\tfor <kim.alt@ext.test>; Mon, 2 Mar 2020 10:00:00 +0000\r\n"
         b"Received: from x by smtp.example.net; Mon, 2 Mar 2020 09:59:00 +0000\r\n"
         b"Received: from y by mx.old.test for <boss@ext.test>; Mon, 2 Mar 2020 09:58:00 +0000\r\n"
         b"From: b@example.net\r\nTo: kim@ext.test\r\nSubject: via OLD's MX\r\n"
         b"Message-ID: <mx@example.net>\r\n\r\nbody\r\n")
m.logout()
EOP
	# First login through the auth-hook: kim's account and copy job;
	# the puller copies with access_mode extended.
	a=$($AC imap "$NEW_IP" kim@ext.test "$D/kim@ext.test.pw")
	expect_answer "kim's first login" "NO [CONTACTADMIN]" "$a" || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$D/daemon.err" || { cat "$D/daemon.err"; return 1; }
	assert_eq copied "$(account_state kim@ext.test)" "kim" || return 1
	before=$(new_count kim@ext.test)
	"$RELAY" -c "$CONF" -f </dev/null >>"$D/relay.err" 2>&1 &
	echo $! >"$D/relay.pid"
	wait_for "[ -S '$D/relay.sock' ] && $RC query '$D/relay.sock' transport '*'" 10 ||
		{ echo "relay did not start: $(tail -n 5 "$D/relay.err")"; return 1; }
	assert_eq "NOTFOUND " "$($RC query "$D/relay.sock" alias ceo@ext.test)" "alias map, ceo" || return 1
	# Mail to ceo through NEW's Postfix and the relay does not reach
	# kim: ceo is unknown here, so OLD is asked, and refuses it.
	if send ceo@ext.test >"$D/swaks.ceo"; then
		cat "$D/swaks.ceo"
		echo "mail for ceo was accepted"
		return 1
	fi
	grep -q '<\*\* 550.*ceo@ext.test' "$D/swaks.ceo" || { cat "$D/swaks.ceo"; return 1; }
	assert_eq "$before" "$(new_count kim@ext.test)" "kim's INBOX after mail to ceo" || return 1
	# A login as ceo with kim's password is refused (OLD has no ceo).
	a=$($AC imap "$NEW_IP" ceo@ext.test "$D/kim@ext.test.pw")
	expect_answer "login as ceo with kim's password" "NO [AUTHENTICATIONFAILED]" "$a" || return 1
	assert_eq none "$(account_state ceo@ext.test)" "no ceo account" || return 1
	# ceo and boss are proposals, waiting for the administrator; kim.alt (OLD's own hop) an alias.
	MM aliases --pending --json | "$PYTHON" -c '
import json, sys
got = sorted((p["alias"], p["account"], p["sources"]) for p in json.load(sys.stdin))
want = [("boss@ext.test", "kim@ext.test", ["received"]),
        ("ceo@ext.test", "kim@ext.test", ["x-envelope-to"])]
assert got == want, got' || return 1
	MM aliases | grep -q "^kim.alt@ext.test  *kim@ext.test  *trusted" || { MM aliases; return 1; }
	# OLD's own hop: an alias at once; mail to it reaches kim.
	send kim.alt@ext.test >"$D/swaks.alt" || { cat "$D/swaks.alt"; return 1; }
	wait_for "[ \$(new_count kim@ext.test) -eq $((before + 1)) ]" 30 ||
		{ echo "mail to kim.alt did not reach kim"; return 1; }
	# Approved: now ceo's mail reaches kim through the relay's alias map.
	MM aliases approve ceo@ext.test >"$D/approve.out" || { cat "$D/approve.out"; return 1; }
	assert_eq "ceo@ext.test: now an alias of kim@ext.test" "$(cat "$D/approve.out")" "approve" || return 1
	# Seen by the relay within relay_cache_ttl (0 on LMDB, 5 s on
	# PostgreSQL: the relay keeps what it learned that long).
	wait_for "[ \"\$($RC query '$D/relay.sock' alias ceo@ext.test)\" = 'OK kim@ext.test' ]" 10 ||
		{ echo "alias map, approved: $($RC query "$D/relay.sock" alias ceo@ext.test)"; return 1; }
	send ceo@ext.test >"$D/swaks.ceo2" || { cat "$D/swaks.ceo2"; return 1; }
	wait_for "[ \$(new_count kim@ext.test) -eq $((before + 2)) ]" 30 ||
		{ echo "mail to the approved ceo did not reach kim"; return 1; }
	# Adding the account ceo takes the name back, in the same transaction.
	printf 'ceo pw\n' | MM add ceo@ext.test >/dev/null || return 1
	wait_for "[ \"\$($RC query '$D/relay.sock' alias ceo@ext.test)\" = 'NOTFOUND ' ]" 10 ||
		{ echo "alias map, ceo an account: $($RC query "$D/relay.sock" alias ceo@ext.test)"; return 1; }
	MM aliases | grep -q "^ceo@" && { echo "ceo still listed as an alias"; return 1; }
	assert_eq "['kim.alt@ext.test']" "$(MM show kim@ext.test --json | "$PYTHON" -c '
import json, sys
print(json.load(sys.stdin)["aliases"])')" "kim's aliases" || return 1
	MM log --account kim@ext.test | grep -q "alias ceo@ext.test removed: ceo@ext.test is an account now" ||
		{ MM log --account kim@ext.test; return 1; }
	relay_stop
}

t_no_password_logged() {
	for f in "$D"/*.pw; do
		case $f in
		*/pw4@*|*/pw5@*) p=$(head -c 60 "$f") ;;
		*) p=$(head -n 1 "$f") ;;
		esac
		for log in "$NEW_DOVECOT_LOG" "$OLD_DOVECOT_LOG" "$D/mailmigrated.log" "$D/daemon.err"; do
			[ -f "$log" ] || continue
			if grep -qF -- "$p" "$log"; then
				echo "password of $f found in $log"
				return 1
			fi
		done
	done
}

check "first IMAP login (reject): refused with the reason, account, job, notice" t_reject_first_imap
check "first POP3 login (reject)" t_reject_first_pop3
check "wrong passwords refused; the same pair again not sent to OLD" t_wrong_password
check "OLD down or hanging: temporary failure, no account" t_old_down
check "OLD greeting without a status ('*', '+ x'): temporary failure, no worker crash" t_old_greeting_without_status
check "first login (notice): the notice account's session" t_notice
check "the notice account is read-only: no append, flag, expunge, copy, create, rename, delete" t_notice_read_only
check "first login (proxy): IMAP and POP3 sessions on OLD" t_proxy
check "bind_ip gives the domain of a bare user name" t_bind_ip
check "passwords_only: checked on OLD, stored, local session, no job" t_passwords_only
check "type = standard: OLD never asked" t_standard
check "100 parallel first logins: one account, one job, one notice" t_parallel
check "passwords with spaces, quotes, UTF-8, 500 and 600 bytes" t_passwords
check "puller copies; proxied session kicked; next logins local" t_copy_then_local
check "password changed on OLD: hash replaced over verified TLS only" t_password_changed
check "STARTTLS stripped after the first login: no password sent, nothing changed" t_stripped_login
check "forged X-Envelope-To: only a proposal for the relay and logins; approve; add takes it back" t_forged_alias
check "rate limit per user: a temporary failure beyond it" t_rate_limit
check "export passwd-file: NEW without the module, same passwords" t_export_passwd_file
check "no password in any log" t_no_password_logged
kill "$HANG_PID" 2>/dev/null
wait "$HANG_PID" 2>/dev/null
mm_done
