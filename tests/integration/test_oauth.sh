#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_oauth.sh - source_auth = xoauth2 | oauthbearer against a real
# Dovecot OLD whose oauth2 passdb asks a token introspection service
# (tests/harness/tokensvc.py on OLD's address): the puller gets a token
# from source_oauth2_token_command for each account and copies it over
# IMAP and over POP3, with both mechanisms, byte for byte. A token the
# service rejects fails the account as a refused login, nothing copied; a
# token command that exits 1, prints nothing or prints 100 KB fails it
# with an error naming source_oauth2_token_command and the account; no
# token ever appears in a log line or an event. With migrate_sieve the
# Sieve scripts come over OLD's ManageSieve logged in with a token too
# (AUTHENTICATE XOAUTH2 / OAUTHBEARER, issue 14); with migrate_dav the
# calendars and address books come from OLD's DAV server with the token
# as a bearer (RFC 6750: Radicale behind tests/harness/davproxy.py, which
# takes bearer tokens only), to NEW's as target_dav_admin_user.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
MAILMIGRATED=${MAILMIGRATED:-$top_builddir/puller/mailmigrated}
[ -x "$MAILMIGRATED" ] || skip "mailmigrated not built"
CORPUS="$PYTHON $HARNESS/corpus.py"

# x2i/obi: IMAP with XOAUTH2/OAUTHBEARER; x2p/obp: POP3 with them; rej: a
# token the service does not know; exit, empty, big: broken commands.
MM_DOMAINS="x2i.test obi.test x2p.test obp.test rej.test exit.test empty.test big.test"
export MM_DOMAINS

# OLD: XOAUTH2 and OAUTHBEARER checked by Dovecot's oauth2 passdb. Its
# introspection URL is known once the service listens on OLD's address,
# chosen by mm_servers_start: a placeholder first, then a reload.
EXT=$(mm_tmpdir)
mm_cleanup_dir "$EXT"
printf 'introspection_url = http://127.0.0.1:9/\n' >"$EXT/oauth2.conf.ext"
MM_OLD_DOVECOT_EXTRA=$EXT/old-extra.conf
MM_NEW_DOVECOT_EXTRA=$EXT/new-extra.conf
# Both with ManageSieve (Pigeonhole) on port 4190.
cat >"$MM_NEW_DOVECOT_EXTRA" <<EOD
protocols = \$protocols sieve
service managesieve-login {
  inet_listener sieve {
    port = 4190
  }
}
plugin {
  sieve = file:~/sieve;active=~/.dovecot.sieve
}
EOD
cat "$MM_NEW_DOVECOT_EXTRA" - >"$MM_OLD_DOVECOT_EXTRA" <<EOD
auth_mechanisms = plain login xoauth2 oauthbearer
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $EXT/oauth2.conf.ext
}
EOD
export MM_OLD_DOVECOT_EXTRA MM_NEW_DOVECOT_EXTRA
mm_servers_start
"$PYTHON" "$HARNESS/netcheck.py" wait 10 "OLD managesieve=$OLD_IP:4190" \
	"NEW managesieve=$NEW_IP:4190" || fail "managesieve did not start"

"$PYTHON" "$HARNESS/tokensvc.py" --listen "$OLD_IP" --tokens "$MM_DIR/tokens.txt" \
	--port-file "$MM_DIR/tokensvc.port" --log "$MM_DIR/tokensvc.log" \
	</dev/null >>"$MM_DIR/tokensvc.err" 2>&1 &
TOKENSVC_PID=$!
mm_at_exit "kill $TOKENSVC_PID"
: >"$MM_DIR/tokens.txt"
wait_for '[ -s "$MM_DIR/tokensvc.port" ]' 10 || fail "tokensvc did not start"
PORT=$(cat "$MM_DIR/tokensvc.port")
cat >"$EXT/oauth2.conf.ext" <<EOX
introspection_url = http://$OLD_IP:$PORT/introspect
introspection_mode = post
username_attribute = username
active_attribute = active
active_value = true
timeout_msecs = 5000
EOX
doveadm -c "$OLD_DOVECOT_CONF" reload || fail "OLD dovecot reload failed"

# Users on OLD (passwords only to load the corpora) and on NEW.
for u in ann@x2i.test bob@obi.test cat@x2p.test dan@obp.test eve@rej.test \
	 fay@exit.test gil@empty.test hal@big.test; do
	mm_adduser old "$u" "old pw $u"
	sh "$SERVERS_SH" adduser "$MM_DIR" new "$u" --nopass </dev/null ||
		fail "adduser new $u failed"
	pw=$(mm_pwfile "old pw $u")
	mv "$pw" "$MM_DIR/$u.pw"
	case $u in
	*@x2p.test|*@obp.test|*@rej.test) inbox=--inbox-only ;;
	*) inbox= ;;
	esac
	# shellcheck disable=SC2086  # $inbox: no word or one
	$CORPUS --host "$OLD_IP" --user "$u" --password-file "$MM_DIR/$u.pw" \
		--seed "$(printf %s "$u" | cksum | cut -d' ' -f1)" --count 12 \
		$inbox --manifest "$MM_DIR/$u.json" >/dev/null ||
		fail "corpus load for $u failed"
	# A fresh token for each account the service knows; dan's is long,
	# so POP3 sends it after an empty challenge (RFC 5034: 255 octets).
	case $u in
	*@rej.test) ;;
	dan@*) printf 'tok-%s-%s %s\n' "$(openssl rand -hex 200)" "${u%@*}" "$u" \
		>>"$MM_DIR/tokens.txt" ;;
	*) printf 'tok-%s-%s %s\n' "$(openssl rand -hex 24)" "${u%@*}" "$u" \
		>>"$MM_DIR/tokens.txt" ;;
	esac
done

# The token commands: the account on stdin, the token on stdout.
cat >"$MM_DIR/token.sh" <<EOS
#!/bin/sh
read -r account
case \$account in
*@rej.test) echo "tok-not-known-to-the-service-rej"; exit 0 ;;
esac
awk -v a="\$account" '\$2 == a { print \$1; found = 1 } END { exit !found }' "$MM_DIR/tokens.txt"
EOS
cat >"$MM_DIR/token-exit1.sh" <<'EOS'
#!/bin/sh
echo "tok-EXIT1-secret-must-not-show"
echo "the token service said no" >&2
exit 1
EOS
printf '#!/bin/sh\nexit 0\n' >"$MM_DIR/token-empty.sh"
cat >"$MM_DIR/token-big.sh" <<'EOS'
#!/bin/sh
head -c 102400 /dev/zero | tr '\0' B
EOS
chmod 755 "$MM_DIR"/token*.sh

# OLD's DAV server for ann@x2i.test: a real Radicale (Debian's) with her
# calendars and address book, behind a proxy that takes the service's
# bearer tokens only; NEW's Radicale, logged in to as its administrator.
RAD=$HARNESS/radicale.sh
DATA=$top_srcdir/tests/integration/dav_data.py
command -v radicale >/dev/null 2>&1 || fail "radicale not installed (tests/install-deps.sh)"
mm_at_exit "sh '$RAD' stop '$MM_DIR/dav-old'; sh '$RAD' stop '$MM_DIR/dav-new'"
for s in old new; do
	printf 'dav pw\n' | sh "$RAD" adduser "$MM_DIR/dav-$s" ann@x2i.test ||
		fail "radicale adduser $s"
done
printf 'dav admin pw\n' | sh "$RAD" adduser "$MM_DIR/dav-new" dav-admin ||
	fail "radicale adduser dav-admin"
printf 'dav admin pw\n' >"$MM_DIR/dav-admin.pw"
chmod 600 "$MM_DIR/dav-admin.pw"
"$PYTHON" "$DATA" populate "$MM_DIR/dav-old/collections/collection-root" ann@x2i.test 20 ||
	fail "populate failed"
sh "$RAD" start "$MM_DIR/dav-old" "$OLD_IP" || fail "OLD's radicale did not start"
OLD_DAV=$(. "$MM_DIR/dav-old/env" && echo "$MM_DAV_URL")
sh "$RAD" start "$MM_DIR/dav-new" "$NEW_IP" || fail "NEW's radicale did not start"
NEW_DAV=$(. "$MM_DIR/dav-new/env" && echo "$MM_DAV_URL")
printf 'ann@x2i.test dav pw\n' >"$MM_DIR/dav-creds"
chmod 600 "$MM_DIR/dav-creds"
"$PYTHON" "$HARNESS/davproxy.py" "$OLD_IP" "$OLD_DAV" "$MM_DIR/davproxy.port" \
	--bearer "$MM_DIR/tokens.txt" "$MM_DIR/dav-creds" >"$MM_DIR/davproxy.log" 2>&1 &
mm_at_exit "kill $!"
wait_for "[ -s '$MM_DIR/davproxy.port' ]" 10 || fail "davproxy did not start"
BEARER_DAV=http://$OLD_IP:$(cat "$MM_DIR/davproxy.port")/
DAV_CONF="migrate_dav = yes
source_dav_url = $BEARER_DAV%u/
target_dav_url = $NEW_DAV%u/
target_dav_admin_user = dav-admin
target_dav_admin_password_file = $MM_DIR/dav-admin.pw"

CONF=$MM_DIR/mailmigrate.conf
domain() {
	printf '\n[domain %s]\nsource_host = %s\nsource_protocols = %s\n' "$1" "$OLD_IP" "$2"
	printf 'source_tls = starttls\nsource_tls_ca_file = %s\n' "$CA_FILE"
	printf 'source_auth = %s\nsource_oauth2_token_command = %s\n' "$3" "$MM_DIR/$4"
	[ -z "$5" ] || printf '%s\n' "$5"
}
{
	cat <<EOC
$(mm_store_conf $MM_DIR/state)
key_file = $MM_DIR/secret.key
log_file = $MM_DIR/mailmigrated.log
workers = 2
connect_timeout = 10
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE
EOC
	domain x2i.test imap xoauth2 token.sh "migrate_sieve = yes
$DAV_CONF"
	domain obi.test imap oauthbearer token.sh "migrate_sieve = yes"
	domain x2p.test pop3 xoauth2 token.sh
	domain obp.test pop3 oauthbearer token.sh
	domain rej.test imap xoauth2 token.sh
	domain exit.test imap oauthbearer token-exit1.sh
	domain empty.test pop3 xoauth2 token-empty.sh
	domain big.test imap xoauth2 token-big.sh
	domain gone.test imap xoauth2 no-such-token.sh
} >"$CONF"
MM() { "$MAILMIGRATE" -c "$CONF" "$@"; }
MM init >/dev/null || fail "init failed"

token_of() {
	awk -v a="$1" '$2 == a { print $1 }' "$MM_DIR/tokens.txt"
}

# XOAUTH2 / OAUTHBEARER on OLD itself, with Python's imaplib: the setup
# works before the puller is judged by it (and a wrong token is refused).
old_oauth_login() {
	"$PYTHON" - "$OLD_IP" "$1" "$2" "$3" <<'EOP'
import imaplib, sys
host, user, token, mech = sys.argv[1:5]
if mech == "XOAUTH2":
    msg = "user=%s\x01auth=Bearer %s\x01\x01" % (user, token)
else:
    msg = "n,a=%s,\x01auth=Bearer %s\x01\x01" % (user, token)
m = imaplib.IMAP4(host)
try:
    m.authenticate(mech, lambda _: msg.encode())
except imaplib.IMAP4.error as e:
    print("refused:", e)
    sys.exit(1)
m.logout()
EOP
}

t_old_setup() {
	old_oauth_login ann@x2i.test "$(token_of ann@x2i.test)" XOAUTH2 || return 1
	old_oauth_login bob@obi.test "$(token_of bob@obi.test)" OAUTHBEARER || return 1
	if old_oauth_login ann@x2i.test tok-wrong XOAUTH2 >/dev/null; then
		echo "OLD accepted an unknown token"
		return 1
	fi
	grep -q '^post active ann@x2i.test$' "$MM_DIR/tokensvc.log" &&
		grep -q '^post inactive$' "$MM_DIR/tokensvc.log" ||
		{ cat "$MM_DIR/tokensvc.log"; return 1; }
}

state_of() {
	MM show "$1" --json | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["state"])'
}

verify_imap() {
	$CORPUS --verify --host "$NEW_IP" --user "$1*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" --manifest "$MM_DIR/$1.json"
}

verify_pop() {
	$CORPUS --verify --host "$NEW_IP" --user "$1*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" --manifest "$MM_DIR/$1.json" \
		--only-folder INBOX --loose-headers --no-flags --no-dates --no-subscriptions
}

# A Sieve script for ann and bob on OLD, where Pigeonhole keeps it (as
# a user's PUTSCRIPT would), made active.
home() { echo "$MM_DIR/$1/home/${2#*@}/${2%@*}"; }
for u in ann@x2i.test bob@obi.test; do
	h=$(home old "$u")
	mkdir -p "$h/sieve"
	printf 'require ["fileinto"];\r\n# %s, Gr\303\274\303\237e\r\nif header :contains "subject" "x" {\r\n  fileinto "INBOX";\r\n}\r\n' \
		"$u" >"$h/sieve/rules.sieve"
	ln -sf sieve/rules.sieve "$h/.dovecot.sieve"
	chown -R mail:mail "$h"
done

# Accounts of an OAuth domain need no password: a user alone per line.
t_copy() {
	printf 'ann@x2i.test\nbob@obi.test\ncat@x2p.test\ndan@obp.test\n' |
		MM bulk - >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	for u in ann@x2i.test bob@obi.test cat@x2p.test dan@obp.test; do
		s=$(state_of "$u")
		[ "$s" = copied ] || { echo "$u: $s"; MM log -n 0; return 1; }
	done
	verify_imap ann@x2i.test && verify_imap bob@obi.test &&
		verify_pop cat@x2p.test && verify_pop dan@obp.test || return 1
	# Each login asked the service once, with the mechanism's token.
	for u in ann@x2i.test bob@obi.test cat@x2p.test dan@obp.test; do
		grep -q "^post active $u\$" "$MM_DIR/tokensvc.log" ||
			{ echo "no introspection for $u"; return 1; }
	done
	# ... and OLD saw the puller's logins (over TLS) with each mechanism.
	for l in 'imap-login: Info: Login: user=<ann@x2i.test>, method=XOAUTH2' \
		 'imap-login: Info: Login: user=<bob@obi.test>, method=OAUTHBEARER' \
		 'pop3-login: Info: Login: user=<cat@x2p.test>, method=XOAUTH2' \
		 'pop3-login: Info: Login: user=<dan@obp.test>, method=OAUTHBEARER'; do
		grep -F "$l" "$OLD_DOVECOT_LOG" | grep -q ', TLS,' ||
			{ echo "OLD did not log: $l ... TLS"; return 1; }
	done
	# mailmigrate verify logs in with a token as the puller does: every
	# message copied and on NEW, for each mechanism and protocol.
	MM verify --all --json >"$MM_DIR/verify.json" 2>"$MM_DIR/verify.err" ||
		{ cat "$MM_DIR/verify.json" "$MM_DIR/verify.err"; return 1; }
	"$PYTHON" - "$MM_DIR/verify.json" <<'EOP' || return 1
import json, sys
v = json.load(open(sys.argv[1]))
assert v["accounts_verified"] == 4 and v["accounts_differ"] == 0, v
for a in v["accounts"]:
    assert a["result"] == "ok" and sum(f["copied"] for f in a["folders"]) > 0, a
EOP
}

maildir_total() {
	find "$NEW_MAILDIR_ROOT/${1#*@}/${1%@*}" -type f -path '*/new/*' -o \
		-type f -path '*/cur/*' 2>/dev/null | wc -l
}

# A rejected token is a refused login: the account fails, nothing copied.
t_rejected_token() {
	printf 'eve@rej.test\n' | MM bulk - >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	s=$(state_of eve@rej.test)
	[ "$s" = failed ] || { echo "eve: $s"; return 1; }
	MM log -n 0 --account eve@rej.test >"$MM_DIR/eve.log" || return 1
	grep -q 'eve@rej.test: migration failed: login refused: NO \[AUTHENTICATIONFAILED\] .*(the server said: {"status":"401"' \
		"$MM_DIR/eve.log" || { cat "$MM_DIR/eve.log"; return 1; }
	grep -q '^post inactive$' "$MM_DIR/tokensvc.log" || return 1
	[ "$(maildir_total eve@rej.test)" = 0 ] || { echo "messages copied for eve"; return 1; }
}

# Broken commands: each account fails with the key and the account named
# (exit 1 and no output: retried later; 100 KB: given up), nothing copied.
t_bad_commands() {
	printf 'fay@exit.test\ngil@empty.test\nhal@big.test\n' | MM bulk - >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	MM log -n 0 >"$MM_DIR/bad.log" || return 1
	for want in \
	    "fay@exit.test: source_oauth2_token_command $MM_DIR/token-exit1.sh for fay@exit.test: exited with status 1: the token service said no (attempt 1; again in" \
	    "gil@empty.test: source_oauth2_token_command $MM_DIR/token-empty.sh for gil@empty.test: printed no token (attempt 1; again in" \
	    "hal@big.test: migration failed: source_oauth2_token_command $MM_DIR/token-big.sh for hal@big.test: printed more than 16384 bytes, too long for a token"; do
		grep -qF "$want" "$MM_DIR/bad.log" || { echo "not in the log: $want"; cat "$MM_DIR/bad.log"; return 1; }
	done
	[ "$(state_of hal@big.test)" = failed ] || return 1
	# Retried later: neither failed nor copied.
	for u in fay@exit.test gil@empty.test; do
		s=$(state_of "$u")
		[ "$s" != failed ] && [ "$s" != copied ] || { echo "$u: $s"; return 1; }
	done
	for u in fay@exit.test gil@empty.test hal@big.test; do
		[ "$(maildir_total "$u")" = 0 ] || { echo "messages copied for $u"; return 1; }
	done
}

# A command that is not there: given up at once, a configuration error.
t_missing_command() {
	printf 'ivy@gone.test\n' | MM bulk - >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	[ "$(state_of ivy@gone.test)" = failed ] || return 1
	MM log -n 0 --account ivy@gone.test | grep -qF "ivy@gone.test: migration failed: source_oauth2_token_command $MM_DIR/no-such-token.sh for ivy@gone.test: cannot run it: No such file or directory" ||
		{ MM log -n 0 --account ivy@gone.test; return 1; }
}

# preflight names the command of each OAuth domain, and fails the one
# that is missing.
t_preflight() {
	MM preflight --local >"$MM_DIR/preflight.out" 2>&1
	rc=$?
	[ "$rc" = 1 ] || { echo "preflight exit $rc"; cat "$MM_DIR/preflight.out"; return 1; }
	grep -qF "x2i.test: source_oauth2_token_command $MM_DIR/token.sh is executable (source_auth = xoauth2)" \
		"$MM_DIR/preflight.out" &&
		grep -F "gone.test: source_oauth2_token_command $MM_DIR/no-such-token.sh: No such file or directory" \
		"$MM_DIR/preflight.out" | grep -q '^failed' ||
		{ cat "$MM_DIR/preflight.out"; return 1; }
}

# No token anywhere: the daemon's log and stderr, every event, every
# account's details.
t_no_token_logged() {
	MM log -n 0 >"$MM_DIR/all.log" || return 1
	for u in ann@x2i.test bob@obi.test cat@x2p.test dan@obp.test eve@rej.test \
		 fay@exit.test gil@empty.test hal@big.test ivy@gone.test; do
		MM show "$u" --json >>"$MM_DIR/all.log" || return 1
	done
	for f in "$MM_DIR/mailmigrated.log" "$MM_DIR/daemon.err" "$MM_DIR/all.log" "$MM_DIR/davproxy.log" \
		 "$MM_DIR/verify.json"; do
		[ -s "$f" ] || [ "$f" = "$MM_DIR/daemon.err" ] || { echo "$f is empty"; return 1; }
		for t in $(cut -d' ' -f1 "$MM_DIR/tokens.txt") tok-not-known-to-the-service-rej \
			 tok-EXIT1-secret-must-not-show BBBBBBBBBBBBBBBB; do
			if grep -qF "$t" "$f"; then
				echo "token $t in $f"
				return 1
			fi
		done
	done
}

check "OLD's oauth2 passdb takes tokens from the service" t_old_setup
check "IMAP and POP3, XOAUTH2 and OAUTHBEARER: copied byte for byte" t_copy
# The Sieve scripts came over ManageSieve logged in with each mechanism.
t_sieve() {
	for u in ann@x2i.test bob@obi.test; do
		cmp "$(home old "$u")/sieve/rules.sieve" "$(home new "$u")/sieve/rules.sieve" ||
			{ echo "$u: rules not on NEW byte for byte"; return 1; }
		[ "$(readlink "$(home new "$u")/.dovecot.sieve")" = sieve/rules.sieve ] ||
			{ echo "$u: rules not active on NEW"; return 1; }
		MM log -n 0 --account "$u" | grep -qF "$u: sieve: 1 scripts on OLD: 1 copied" ||
			{ MM log -n 0 --account "$u"; return 1; }
	done
	for l in 'managesieve-login: Info: Login: user=<ann@x2i.test>, method=XOAUTH2' \
		 'managesieve-login: Info: Login: user=<bob@obi.test>, method=OAUTHBEARER'; do
		grep -F "$l" "$OLD_DOVECOT_LOG" | grep -q ', TLS' ||
			{ echo "OLD did not log: $l ... TLS"; return 1; }
	done
}

check "Sieve over ManageSieve with XOAUTH2 and OAUTHBEARER: byte for byte, active" t_sieve
# ann's calendars and address book: OLD's DAV server asked with her
# token as a bearer (the proxy saw nothing else), every collection and
# item on NEW (made there as dav-admin), byte for byte; preflight counts
# them with a token too.
t_dav() {
	out=$(printf 'dav pw\n' | "$PYTHON" "$DATA" compare "$OLD_DAV" "$NEW_DAV" ann@x2i.test) ||
		{ echo "$out"; MM log -n 0 --account ann@x2i.test; return 1; }
	[ "$out" = "collections 3 items 24" ] || { echo "compare: $out"; return 1; }
	MM log -n 0 --account ann@x2i.test | grep -qF "ann@x2i.test: carddav: 1 address books on OLD (1 made on NEW, 0 unchanged since copied); items: 20 copied" ||
		{ MM log -n 0 --account ann@x2i.test; return 1; }
	grep -qx "bearer ann@x2i.test" "$MM_DIR/davproxy.log" || { cat "$MM_DIR/davproxy.log"; return 1; }
	if grep -v "^bearer ann@x2i.test\$" "$MM_DIR/davproxy.log"; then
		echo "the proxy saw other logins"
		return 1
	fi
	MM preflight --json ann@x2i.test </dev/null | "$PYTHON" -c '
import json, sys
c = [x for x in json.load(sys.stdin)["checks"] if x["check"] == "old_dav"]
assert len(c) == 1 and c[0]["status"] == "ok", c
assert (c[0]["calendars"], c[0]["calendar_items"], c[0]["addressbooks"], c[0]["contacts"]) == (2, 4, 1, 20), c
' || return 1
	# a token the proxy does not take: a refused login, not a crash
	printf 'ann@x2i.test wrong pw\n' >"$MM_DIR/dav-creds"
	MM preflight --json ann@x2i.test </dev/null | "$PYTHON" -c '
import json, sys
c = [x for x in json.load(sys.stdin)["checks"] if x["check"] == "old_dav"]
assert c[0]["status"] == "failed" and "401" in c[0]["message"], c
assert "source_oauth2_token_command" in c[0]["hint"], c
' || return 1
	printf 'ann@x2i.test dav pw\n' >"$MM_DIR/dav-creds"
}

check "calendars and address books from OLD's DAV server with a bearer token" t_dav
check "a token the service rejects: login refused, account failed, nothing copied" t_rejected_token
check "token command exit 1, no output, 100 KB: errors name the key and the account" t_bad_commands
check "a missing token command: given up, the key and the account named" t_missing_command
check "preflight checks each OAuth domain's token command" t_preflight
check "no token in the logs, the events or the accounts" t_no_token_logged
mm_done
