#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_old_servers.sh - stock Debian 12 Courier IMAP/POP3 5.0 and Cyrus
# IMAP/POP3 3.6 as OLD (tests/harness/oldserver.sh), NEW's Dovecot with the
# auth-hook: for each server, the corpus loaded over IMAP (what the server
# refuses or rewrites is recorded), the auth-hook's first login (account
# queued, password checked on OLD), a wrong password (refused, nothing
# made), the puller copying over IMAP (every folder, message byte for byte,
# flag, date and subscription against a snapshot of what OLD serves) and
# over POP3 (INBOX, byte for byte but X-UIDL), and OLD down (a temporary
# failure, nothing made; the stopped server left no process).
#
# Each check prints a matrix line "MATRIX server proto login check:
# pass|fail|known-quirk (what)"; known-quirk is a difference this test
# knows (listed below) and does not count as a failure; everything else
# does.  Known quirks (of OLD, not of the copy):
#   OLD itself    (not the copy) Courier adds a final CRLF to a message
#                 without one; Cyrus refuses '"' in folder names and two
#                 samples with malformed headers
#
# Login names on OLD, one variable per server (full: the full address, as
# the puller and auth-hook use it by default; the harness then gives
# Courier a second userdb entry and Cyrus virtdomains: userid; bare: OLD as
# shipped, and the domains set source_login = %n):
#   MM_COURIER_LOGIN=full|bare   MM_CYRUS_LOGIN=full|bare   (default bare,
#   OLD as shipped; test_old_servers_full.sh runs the full form)
# MM_OLD_SERVERS="courier cyrus" (default) picks the servers.
# MM_NEW_BARE=courier|cyrus (default courier): that server's domain is
# default_domain, and its user logs in to NEW with the bare name ("ann");
# the other's with the full address.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
MAILMIGRATED=${MAILMIGRATED:-$top_builddir/puller/mailmigrated}
[ -x "$MAILMIGRATED" ] || skip "mailmigrated not built"
MODULE=${MM_AUTH_MODULE:-$top_builddir/auth-hook/.libs/libauthdb_mailmigrate.so}
[ -f "$MODULE" ] || skip "auth module not built ($MODULE)"
for t in unshare nsenter dpkg-deb; do
	command -v "$t" >/dev/null 2>&1 || skip "$t not installed"
done
OS="sh $HARNESS/oldserver.sh"
SERVERS=${MM_OLD_SERVERS:-courier cyrus}
COURIER_LOGIN=${MM_COURIER_LOGIN:-bare}
CYRUS_LOGIN=${MM_CYRUS_LOGIN:-bare}
NEW_BARE=${MM_NEW_BARE:-courier}
case $NEW_BARE in courier|cyrus) ;; *) fail "MM_NEW_BARE must be courier or cyrus" ;; esac
for k in $SERVERS; do
	case $k in courier|cyrus) ;; *) fail "MM_OLD_SERVERS: unknown server '$k'" ;; esac
done
for l in "$COURIER_LOGIN" "$CYRUS_LOGIN"; do
	case $l in full|bare) ;; *) fail "MM_COURIER_LOGIN/MM_CYRUS_LOGIN must be full or bare" ;; esac
done
# The packages, downloaded once (exit 77: no network and no cache).
for k in $SERVERS; do
	$OS fetch "$k" >&2
	rc=$?
	[ "$rc" = 77 ] && skip "cannot get the $k packages (oldserver.sh fetch $k)"
	[ "$rc" = 0 ] || fail "oldserver.sh fetch $k failed"
done

CORPUS="$PYTHON $HARNESS/corpus.py"
AC="$PYTHON $HARNESS/authclient.py"
SNIPPET=$top_srcdir/contrib/dovecot/auth-mailmigrate.conf.ext

D=$(mm_tmpdir)
CONF=$D/mailmigrate.conf
MATRIX=$D/matrix
: >"$MATRIX"
MM_DOMAINS="cou.test cyr.test cya.test cyx.test cyp.test"
export MM_DOMAINS
MM_AUTH_MODULES=$MODULE
export MM_AUTH_MODULES
MM_NEW_DOVECOT_EXTRA=$D/extra.conf
sed "s|/etc/mailmigrate/mailmigrate.conf|$CONF|" "$SNIPPET" >"$MM_NEW_DOVECOT_EXTRA" ||
	fail "cannot read $SNIPPET"
export MM_NEW_DOVECOT_EXTRA
mm_servers_start "$D"
# OLD servers on the next two addresses of the pair lib.sh found free.
NET=${NEW_IP%.*}
# shellcheck disable=SC2034  # read through eval
IP_courier=$NET.4 IP_cyrus=$NET.5
ip=

login_of() {
	case $1 in courier) echo "$COURIER_LOGIN" ;; cyrus) echo "$CYRUS_LOGIN" ;; esac
}
dom_of() {
	case $1 in courier) echo cou.test ;; cyrus) echo cyr.test ;; esac
}

# The puller and the auth-hook: one domain per OLD server; CONF.pop3 is
# the same with the OLD servers offering POP3 only (one state for both).
write_conf() {
	{
		cat <<EOC
$(mm_store_conf $D/state)
key_file = $D/secret.key
log_file = $D/mailmigrated.log
workers = 2
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE
target_lmtp = inet:$NEW_IP:$NEW_LMTP_PORT
target_doveadm_config = $NEW_DOVECOT_CONF
user_home = $D/new/home/%d/%n
user_mail = maildir:$D/new/mail/%d/%n
user_uid = mail
user_gid = mail
auth_source_timeout = 10
auth_rate_user = 1000
auth_rate_ip = 100000
default_domain = $(dom_of "$NEW_BARE")
EOC
		for k in courier cyrus; do
			eval "ip=\$IP_$k"
			printf '\n[domain %s]\nsource_host = %s\nsource_protocols = %s\n' \
				"$(dom_of $k)" "$ip" "$1"
			printf 'source_tls = starttls\nsource_tls_ca_file = %s/%s/cert.pem\n' "$D" "$k"
			# The login form on OLD (source_login: issue 10 item 1).
			[ "$(login_of $k)" = bare ] && printf 'source_login = %%n\n'
		done
		# Cyrus's administrator acting for ann (SASL PLAIN authzid:
		# cya.test), and logged in as itself (cyx.test: no INBOX).
		# cyp.test: the same over POP3 (source_admin_login = authzid).
		for x in cya:%n cyx:mmadmin cyp:%n; do
			proto=imap
			[ "${x%%:*}" = cyp ] && proto=pop3
			printf '\n[domain %s.test]\nsource_host = %s\nsource_protocols = %s\n' \
				"${x%%:*}" "$IP_cyrus" "$proto"
			[ "$proto" = pop3 ] && printf 'source_admin_login = authzid\n'
			printf 'source_tls = starttls\nsource_tls_ca_file = %s/cyrus/cert.pem\n' "$D"
			printf 'source_admin_user = mmadmin\nsource_admin_password_file = %s\n' \
				"$D/mmadmin.pw"
			printf 'source_login = %s\n' "${x#*:}"
		done
	} >"$2"
	chmod 644 "$2"
}
write_conf both "$CONF"
write_conf pop3 "$CONF.pop3"
MM() { "$MAILMIGRATE" -c "$CONF" "$@"; }
MM init >/dev/null || fail "mailmigrate init failed"
# As test_auth.sh: the auth workers (user dovecot) reach the store through
# the dovecot group.
# (PostgreSQL: no state_dir; the database's own access rules apply.)
{ [ ! -d "$D/state" ] || chgrp -R dovecot "$D/state"; } &&
	chgrp dovecot "$D/secret.key.pub" && chmod 640 "$D/secret.key.pub" ||
	fail "cannot hand the store to the dovecot group"

# matrix SERVER PROTO CHECK RESULT [WHAT]: one line of the matrix.
matrix() {
	line=$(printf 'MATRIX %-7s %-4s %-4s %-28s %s' "$1" "$2" "$(login_of "$1")" "$3" "$4")
	[ -n "${5:-}" ] && line="$line ($5)"
	printf '%s\n' "$line" | tee -a "$MATRIX"
}

pwfile() {
	printf '%s\n' "$2" >"$D/$1.pw"
	chmod 600 "$D/$1.pw"
	printf '%s\n' "$D/$1.pw"
}
account_state() {
	MM show "$1" --json 2>/dev/null | "$PYTHON" -c '
import json, sys
print(json.load(sys.stdin)["state"])' 2>/dev/null || echo none
}
expect_answer() {
	case $3 in
	"$2"*) return 0 ;;
	esac
	echo "$1: expected '$2...', got '$3'"
	return 1
}

# t_start KIND: the server, its users, the corpus (ann: IMAP, pat: POP3),
# the snapshots a copy is checked against; what OLD did with the corpus.
t_start() {
	k=$1
	dom=$(dom_of "$k")
	eval "ip=\$IP_$k"
	full=yes
	[ "$(login_of "$k")" = bare ] && full=no
	MM_OLDSRV_DOMAIN=$dom MM_OLDSRV_FULL_LOGIN=$full $OS start "$k" "$D/$k" "$ip" ||
		{ matrix "$k" - start fail "oldserver.sh start"; return 1; }
	mm_at_exit "$OS stop $D/$k"
	. "$D/$k/env"
	matrix "$k" - start pass "$OLDSRV_VERSION on $ip"
	for u in ann pat wren; do
		printf 'pw %s "x" ü\n' "$u" | $OS adduser "$D/$k" "$u@$dom" || return 1
		pwfile "$u@$dom" "pw $u \"x\" ü" >/dev/null
	done
	if [ "$k" = cyrus ]; then
		printf 'admin pw\n' | $OS adduser "$D/$k" mmadmin || return 1
	fi
	# The corpus over IMAP with the login NEW's users will use: ann's
	# in 17 folders, pat's all in INBOX (for POP3).
	for u in ann pat; do
		lu=$u@$dom
		[ "$full" = no ] && lu=$u
		opt=
		[ "$u" = pat ] && opt=--inbox-only
		$CORPUS --host "$ip" --tls starttls --cafile "$D/$k/cert.pem" --user "$lu" \
			--password-file "$D/$u@$dom.pw" --seed "$(printf %s "$k$u" | cksum | cut -d' ' -f1)" \
			--count 24 --skip-refused-folders $opt --manifest "$D/$k-$u.json" \
			>"$D/$k-$u.load" 2>&1 || { cat "$D/$k-$u.load"; return 1; }
		$CORPUS --snapshot --host "$ip" --tls starttls --cafile "$D/$k/cert.pem" --user "$lu" \
			--password-file "$D/$u@$dom.pw" --manifest "$D/$k-$u.snap.json" >/dev/null || return 1
		# What OLD stores against what it was given.
		out=$($CORPUS --verify --host "$ip" --tls starttls --cafile "$D/$k/cert.pem" --user "$lu" \
			--password-file "$D/$u@$dom.pw" --manifest "$D/$k-$u.json")
		refused=$(sed -n 's/^corpus: server \(refused folder\|rejected\) \(sample:\)\{0,1\}\([^:]*\):.*/\3/p' \
			"$D/$k-$u.load" | tr '\n' ',' | sed 's/,$//')
		ndiff=$(printf '%s\n' "$out" | grep -c '^  ')
		p=imap
		[ "$u" = pat ] && p=pop3
		if [ -z "$refused" ] && [ "$ndiff" = 0 ]; then
			matrix "$k" "$p" load pass "OLD stores the corpus as given"
		else
			matrix "$k" "$p" load known-quirk "OLD refused: ${refused:-nothing}; stored otherwise: $(
				printf '%s\n' "$out" | grep '^  ' | sed 's/^ *//; s/ (sha256.*//; s/, sha256.*//' |
				tr '\n' ';' | cut -c1-300)"
		fi
	done
}

# Which login names OLD itself takes, over IMAP and POP3 (what the puller
# and the auth-hook can use): the bare name always; the full address with
# the harness's second name (full) and refused as shipped (bare).
t_logins() {
	k=$1
	dom=$(dom_of "$k")
	eval "ip=\$IP_$k"
	rc=0
	for p in imap pop3; do
		for form in bare full; do
			u=ann
			[ "$form" = full ] && u=ann@$dom
			want=ok
			[ "$form" = full ] && [ "$(login_of "$k")" = bare ] && want=fail
			out=$("$PYTHON" "$HARNESS/mailcheck.py" "$p" --host "$ip" --tls starttls \
				--cafile "$D/$k/cert.pem" --user "$u" --password-file "$D/ann@$dom.pw" \
				--expect "$want" 2>&1)
			st=$?
			if [ "$st" = 0 ] && [ "$want" = ok ]; then
				matrix "$k" "$p" "OLD-login-$form" pass "$(printf %s "$out" | cut -c1-60)"
			elif [ "$st" = 0 ]; then
				matrix "$k" "$p" "OLD-login-$form" pass "refused as shipped: $out"
			else
				matrix "$k" "$p" "OLD-login-$form" fail "expected $want: $out"
				rc=1
			fi
		done
	done
	return $rc
}

# The auth-hook: the first login with the right password creates the
# account ann@DOMAIN and queues it (the password checked on OLD); the
# user of default_domain's server logs in to NEW with the bare name.
t_auth_first() {
	k=$1
	dom=$(dom_of "$k")
	u=ann@$dom form=full
	[ "$k" = "$NEW_BARE" ] && u=ann form=bare
	a=$($AC imap "$NEW_IP" "$u" "$D/ann@$dom.pw")
	if expect_answer "first login" "NO [CONTACTADMIN]" "$a" &&
	    [ "$(account_state "ann@$dom")" = queued ]; then
		matrix "$k" imap "auth-first-login-NEW-$form" pass "queued as ann@$dom"
	else
		matrix "$k" imap "auth-first-login-NEW-$form" fail "$a; state $(account_state "ann@$dom")"
		grep "ann@$dom" "$NEW_DOVECOT_LOG" | tail -n 3
		return 1
	fi
}

t_auth_wrong() {
	k=$1
	dom=$(dom_of "$k")
	u=wren@$dom form=full
	[ "$k" = "$NEW_BARE" ] && u=wren form=bare
	a=$($AC imap "$NEW_IP" "$u" "$(pwfile wrong "not the password")")
	if expect_answer "wrong password" "NO [AUTHENTICATIONFAILED]" "$a" &&
	    [ "$(account_state "wren@$dom")" = none ]; then
		matrix "$k" imap "auth-wrong-password-NEW-$form" pass "refused, no account"
	else
		matrix "$k" imap "auth-wrong-password-NEW-$form" fail "$a; state $(account_state "wren@$dom")"
		return 1
	fi
}

# The puller over IMAP: ann (queued by her first login) byte for byte as
# OLD serves her mail.
t_imap_copy() {
	k=$1
	dom=$(dom_of "$k")
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$D/daemon.err" || { cat "$D/daemon.err"; return 1; }
	out=$($CORPUS --verify --host "$NEW_IP" --user "ann@$dom*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" --manifest "$D/$k-ann.snap.json")
	st=$(account_state "ann@$dom")
	n=$(grep -c '"sha256":' "$D/$k-ann.snap.json")
	if [ "$st" = copied ] && printf '%s\n' "$out" | grep -q "^corpus verify: ok"; then
		matrix "$k" imap copy pass "$n messages byte for byte, flags, dates, folders, subscriptions"
	else
		matrix "$k" imap copy fail "state $st; $(printf '%s\n' "$out" | grep -c '^  ') differences"
		printf '%s\n' "$out" | head -n 20
		grep "ann@$dom" "$D/mailmigrated.log" | tail -n 5
		return 1
	fi
}

# The puller over POP3: pat's INBOX, byte for byte but for X-UIDL.
t_pop3_copy() {
	k=$1
	dom=$(dom_of "$k")
	printf 'pat@%s:pw pat "x" ü\n' "$dom" | MM bulk - >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF.pop3" -f --once 2>>"$D/daemon.err" || { cat "$D/daemon.err"; return 1; }
	st=$(account_state "pat@$dom")
	res=$("$PYTHON" - "$NEW_IP" "pat@$dom*$NEW_MASTER_USER" "$NEW_MASTER_PASS_FILE" \
		"$D/$k-pat.snap.json" "$HARNESS" <<'EOP'
# INBOX on NEW against OLD's snapshot (hashes without the loose headers):
# "pass N" or "fail ...": a copy that is Courier's "Cannot display Unicode
# content" stand-in for a message with raw 8-bit headers (what Courier
# serves a client that did not send UTF8, RFC 6856) is a failure.
import hashlib, imaplib, json, sys
new, user, mpwf, snap, harness = sys.argv[1:6]
sys.path.insert(0, harness)
import corpus
man = json.load(open(snap, encoding="utf-8"))
want = {}
for m in man["messages"]:
    if [p.upper() for p in m["folder_path"]] == ["INBOX"]:
        want.setdefault(m["sha256_loose"], []).append(m)
c = imaplib.IMAP4(new)
c.authenticate("PLAIN", lambda _: b"\0" + user.encode() + b"\0" + open(mpwf, "rb").read().strip())
typ, data = c.select("INBOX", readonly=True)
n = int(data[0])
got = []
if n:
    typ, data = c.fetch("1:*", "(BODY.PEEK[])")
    got = [d[1] for d in data if isinstance(d, tuple)]
c.logout()
ok, standin, other = 0, 0, []
for body in got:
    h = hashlib.sha256(corpus.strip_headers(body, corpus.LOOSE)).hexdigest()
    if want.get(h):
        want[h].pop()
        ok += 1
    elif b"Cannot display Unicode content" in body:
        standin += 1
    else:
        other.append(body[:120])
missing = [m for ms in want.values() for m in ms]
if other or missing or standin:
    print("fail %d copied, %d stand-ins, %d missing, %d unexplained: %r"
          % (ok, standin, len(missing), len(other), other[:2]))
else:
    print("pass %d" % ok)
EOP
)
	case "$st:$res" in
	copied:pass*)
		matrix "$k" pop3 copy pass "${res#pass } INBOX messages byte for byte (X-UIDL aside)" ;;
	*)
		matrix "$k" pop3 copy fail "state $st; $res"
		grep "pat@$dom" "$D/mailmigrated.log" | tail -n 5
		return 1 ;;
	esac
}

# mailmigrate verify, against OLD and NEW now: every message of ann's
# (IMAP) and pat's (POP3) copied, none missing, none gone from NEW; for
# Cyrus as shipped, ann@cya.test copied by the administrator too.
# verify_one CONF ACCOUNT WANT: "pass N" or "fail ...".
verify_one() {
	"$MAILMIGRATE" -c "$1" verify "$2" --json >"$D/verify.json" 2>"$D/verify.err"
	echo "rc $?" >>"$D/verify.err"
	"$PYTHON" - "$D/verify.json" "$3" "$D/verify.err" <<'EOP'
import json, sys
try:
    v = json.load(open(sys.argv[1]))
    a = v["accounts"][0]
except Exception as e:
    print("fail no JSON (%s): %s" % (e, open(sys.argv[3]).read().strip()))
    sys.exit(0)
copied = sum(f["copied"] for f in a["folders"])
bad = [(f["folder"], f["state"], f["why"]) for f in a["folders"] if f["state"] not in ("ok", "excluded")]
if a["result"] != "ok" or bad or copied != int(sys.argv[2]):
    print("fail %s, %d copied of %s, %r %s" % (a["result"], copied, sys.argv[2], bad[:3], a["error"]))
else:
    print("pass %d messages in %d folders, each copied and on NEW; sizes differ %d, dates %d, flags %d"
          % (copied, len(a["folders"]), sum(f["sizes_differ"] for f in a["folders"]),
             sum(f["dates_differ"] for f in a["folders"]),
             sum(f["flags_differ"] for f in a["folders"])))
EOP
}
t_verify() {
	k=$1
	dom=$(dom_of "$k")
	rc=0
	n=$(grep -c '"sha256":' "$D/$k-ann.snap.json")
	res=$(verify_one "$CONF" "ann@$dom" "$n")
	matrix "$k" imap verify "${res%% *}" "${res#* }"
	case $res in pass*) ;; *) rc=1 ;; esac
	n=$("$PYTHON" -c '
import json, sys
m = json.load(open(sys.argv[1], encoding="utf-8"))["messages"]
print(len([x for x in m if [p.upper() for p in x["folder_path"]] == ["INBOX"]]))' "$D/$k-pat.snap.json")
	res=$(verify_one "$CONF.pop3" "pat@$dom" "$n")
	matrix "$k" pop3 verify "${res%% *}" "${res#* }"
	case $res in pass*) ;; *) rc=1 ;; esac
	if [ "$k" = cyrus ] && [ "$(login_of cyrus)" = bare ]; then
		n=$(grep -c '"sha256":' "$D/cyrus-ann.snap.json")
		res=$(verify_one "$CONF" ann@cya.test "$n")
		matrix cyrus imap admin-authzid-verify "${res%% *}" "${res#* }"
		case $res in pass*) ;; *) rc=1 ;; esac
	fi
	return $rc
}

# Cyrus's administrator (admins: mmadmin), OLD as shipped: acting for ann
# with SASL PLAIN authzid copies her mailbox byte for byte; logged in as
# itself (source_login = mmadmin) it sees user.* and no INBOX, which must
# fail the account, never leave it copied with nothing.
t_cyrus_admin() {
	dom=cyr.test
	if [ "$(login_of cyrus)" != bare ]; then
		matrix cyrus imap admin-authzid-copy pass "not run: needs OLD as shipped"
		return 0
	fi
	pwfile mmadmin "admin pw" >/dev/null
	# No passwords: a user alone in the bulk file, where an admin copies.
	printf 'ann@cya.test\nann@cyx.test\npat@cyp.test\n' | MM bulk - >"$D/bulk.out" 2>&1 ||
		{ cat "$D/bulk.out"; return 1; }
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$D/daemon.err" || { cat "$D/daemon.err"; return 1; }
	out=$($CORPUS --verify --host "$NEW_IP" --user "ann@cya.test*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" --manifest "$D/cyrus-ann.snap.json")
	st=$(account_state ann@cya.test)
	n=$(grep -c '"sha256":' "$D/cyrus-ann.snap.json")
	rc=0
	if [ "$st" = copied ] && printf '%s\n' "$out" | grep -q "^corpus verify: ok"; then
		matrix cyrus imap admin-authzid-copy pass "$n messages byte for byte, as mmadmin for ann"
	else
		matrix cyrus imap admin-authzid-copy fail "state $st; $(printf '%s\n' "$out" | grep -c '^  ') differences"
		grep "ann@cya" "$D/mailmigrated.log" | tail -n 5
		rc=1
	fi
	# POP3: pat's INBOX as the user's own POP3 login copied it.
	st=$(account_state pat@cyp.test)
	same=$("$PYTHON" - "$NEW_IP" "$NEW_MASTER_USER" "$NEW_MASTER_PASS_FILE" <<'EOP'
import hashlib, imaplib, sys
new, master, mpwf = sys.argv[1:4]
pw = open(mpwf, "rb").read().strip()
def inbox(user):
    c = imaplib.IMAP4(new)
    c.authenticate("PLAIN", lambda _: b"\0" + (user + "*" + master).encode() + b"\0" + pw)
    typ, data = c.select("INBOX", readonly=True)
    got = []
    if int(data[0]):
        typ, data = c.fetch("1:*", "(BODY.PEEK[])")
        got = [hashlib.sha256(d[1]).hexdigest() for d in data if isinstance(d, tuple)]
    c.logout()
    return sorted(got)
a, b = inbox("pat@cyp.test"), inbox("pat@cyr.test")
print("same %d" % len(a) if a == b and a else "differ %d %d" % (len(a), len(b)))
EOP
)
	case "$st:$same" in
	copied:same*)
		matrix cyrus pop3 admin-authzid-copy pass "${same#same } INBOX messages, as the user's own login copied them" ;;
	*)
		matrix cyrus pop3 admin-authzid-copy fail "state $st; $same"
		grep "pat@cyp" "$D/mailmigrated.log" | tail -n 5
		rc=1 ;;
	esac
	st=$(account_state ann@cyx.test)
	why=$(MM show ann@cyx.test --json 2>/dev/null | "$PYTHON" -c '
import json, sys
print(json.load(sys.stdin).get("last_error") or "")' 2>/dev/null)
	if [ "$st" = failed ] && grep -q "ann@cyx.test.*no INBOX" "$D/mailmigrated.log"; then
		matrix cyrus imap admin-as-itself pass "failed: no INBOX, nothing copied"
	else
		matrix cyrus imap admin-as-itself fail "state $st ($why)"
		grep "ann@cyx" "$D/mailmigrated.log" | tail -n 5
		rc=1
	fi
	return $rc
}

# OLD stopped (no process left), then a first login: a temporary failure,
# no account.
t_old_down() {
	k=$1
	dom=$(dom_of "$k")
	$OS stop "$D/$k" || { matrix "$k" - stop fail "oldserver.sh stop"; return 1; }
	left=$($OS procs "$D/$k")
	if [ -n "$left" ]; then
		matrix "$k" - stop fail "left: $left"
		return 1
	fi
	matrix "$k" - stop pass "no process left"
	a=$($AC imap "$NEW_IP" "wren@$dom" "$D/wren@$dom.pw")
	if expect_answer "OLD down" "NO [UNAVAILABLE]" "$a" &&
	    [ "$(account_state "wren@$dom")" = none ]; then
		matrix "$k" imap auth-old-down pass "temporary failure, no account"
	else
		matrix "$k" imap auth-old-down fail "$a; state $(account_state "wren@$dom")"
		return 1
	fi
}

t_no_password_in_logs() {
	for f in "$D/mailmigrated.log" "$D/daemon.err" "$NEW_DOVECOT_LOG" "$D"/*/syslog; do
		[ -f "$f" ] || continue
		if grep -q 'pw [a-z]* "x"' "$f"; then
			echo "a password is in $f"
			return 1
		fi
	done
}

for k in $SERVERS; do
	check "$k: start, users, corpus loaded over IMAP" t_start "$k"
done
for k in $SERVERS; do
	check "$k: login names OLD takes (IMAP, POP3)" t_logins "$k"
done
for k in $SERVERS; do
	check "$k: auth-hook first login queues the account" t_auth_first "$k"
	check "$k: auth-hook refuses a wrong password" t_auth_wrong "$k"
done
# The first IMAP round copies both servers' accounts; the second finds
# nothing new.
for k in $SERVERS; do
	check "$k: puller copies over IMAP, byte for byte" t_imap_copy "$k"
	check "$k: puller copies over POP3, byte for byte" t_pop3_copy "$k"
done
case " $SERVERS " in
*" cyrus "*) check "cyrus: administrator login (authzid; as itself: no INBOX)" t_cyrus_admin ;;
esac
for k in $SERVERS; do
	check "$k: mailmigrate verify proves the copies (IMAP, POP3)" t_verify "$k"
done
for k in $SERVERS; do
	check "$k: stopped, OLD down is a temporary failure" t_old_down "$k"
done
check "no password in the logs" t_no_password_in_logs
echo "---- matrix (server, protocol, login on OLD, check, result) ----"
cat "$MATRIX"
mm_done
