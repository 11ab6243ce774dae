#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_shared.sh - OLD's folders that are not the user's own (issue 14,
# item 3, its first part). A Dovecot OLD with a public namespace
# ("Public.", NAMESPACE's shared kind) holding a folder Team with mail:
# LIST "" "*" shows it to every user, and copied as theirs it would land
# in each user's own mailbox on NEW, once per user. The copy takes only
# the user's folders (NAMESPACE, RFC 2342: modules/imap_namespace.c,
# whose unit test covers Cyrus's "user." and "" and Courier's layouts),
# says in an event how many it left and names one, and the account is
# copied and verified; nothing of Public.* is on NEW.
# With migrate_shared, the rights bob gave others on his folder Team
# (GETACL on OLD, Dovecot's acl plugin with imap_acl) are given on NEW's
# copy (SETACL as the master user acting for bob, NEW configured by
# contrib/dovecot/notice-acl.conf.ext): alice's; anyone's, which NEW
# refuses (Dovecot's acl_anyone = forbid, its default), and ghost's, who
# has no account in the migration, are not, and are named in a failed
# item "acl:Team"; the next round finds alice's there. verify compares
# each entry of OLD's with NEW's: alice's rights changed on NEW are a
# difference (and the next round gives OLD's again); anyone's and
# ghost's are accounted for by the failed item.
# Cyrus 3.6 as shipped (tests/harness/oldserver.sh) as OLD: alice sees
# bob's INBOX.Team as user.bob.Team (Cyrus's other users' namespace),
# which stays out of her mailbox, and bob's rights for alice (Cyrus's
# bare name "alice") are given on NEW as alice@cyr.test's. Cyrus's shared
# folders (the administrator's top-level Team) are copied once, as
# public@cyr.test's, read in alice's session.
# What the rounds did with each right is recorded (show, stats), and a
# right OLD no longer gives is taken back on NEW, unless NEW's holder has
# other rights now (a user's change: kept, and said); the records of a
# folder deleted on OLD are forgotten.
# OLD's public folders, with public_folders_account, are copied once as
# that account's mailbox, which NEW shows every user as its public
# namespace (contrib/dovecot/public-folders.conf.ext), with their rights;
# preflight counts them.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
MAILMIGRATED=${MAILMIGRATED:-$top_builddir/puller/mailmigrated}
[ -x "$MAILMIGRATED" ] || skip "mailmigrated not built"
CORPUS="$PYTHON $HARNESS/corpus.py"

EXT=$(mm_tmpdir)
mm_cleanup_dir "$EXT"
# The public folder Team, three messages, readable by anyone (its own
# dovecot-acl), written where OLD's public namespace keeps it.
mkdir -p "$EXT/public/.Team/cur" "$EXT/public/.Team/new" "$EXT/public/.Team/tmp"
for i in 1 2 3; do
	printf 'Subject: team %s\r\nMessage-ID: <team-%s@example.test>\r\n\r\nfor all\r\n' \
		"$i" "$i" >"$EXT/public/.Team/cur/170000000$i.M$i.old:2,S"
done
printf 'anyone lr\nuser=ann@example.test lrwsia\n' >"$EXT/public/.Team/dovecot-acl"
chown -R mail:mail "$EXT/public" && chmod 755 "$EXT"
MM_OLD_DOVECOT_EXTRA=$EXT/old-extra.conf
cat >"$MM_OLD_DOVECOT_EXTRA" <<EOD
namespace public {
  type = public
  separator = .
  prefix = Public.
  location = maildir:$EXT/public
  subscriptions = no
  list = yes
}
mail_plugins = \$mail_plugins acl
protocol imap {
  mail_plugins = \$mail_plugins imap_acl
}
plugin {
  acl = vfile
  acl_anyone = allow
}
EOD
export MM_OLD_DOVECOT_EXTRA
# NEW's public namespace, as contrib/dovecot/public-folders.conf.ext
# sets it up: the mailbox of the account public@example.test.
SRV=$(mm_tmpdir) || exit 1
MM_NEW_DOVECOT_EXTRA=$EXT/new-extra.conf
cat >"$MM_NEW_DOVECOT_EXTRA" <<EOD
namespace public {
  type = public
  separator = ${MM_NEW_SEP:-/}
  prefix = Public${MM_NEW_SEP:-/}
  location = maildir:$SRV/new/mail/example.test/public
  subscriptions = no
  list = yes
}
EOD
export MM_NEW_DOVECOT_EXTRA
# The dovecot target's check needs our doveadm plugin in NEW's doveadm.
PLUGIN=${MM_DOVEADM_PLUGIN:-$top_builddir/doveadm-plugin/.libs/lib10_doveadm_mailmigrate_plugin.so}
if [ -f "$PLUGIN" ] && command -v unshare >/dev/null 2>&1; then
	MM_DOVEADM_MODULES=$PLUGIN
	export MM_DOVEADM_MODULES
fi
mm_servers_start "$SRV"

CONF=$MM_DIR/mailmigrate.conf
cat >"$CONF" <<EOC
$(mm_store_conf "$MM_DIR/state")
key_file = $MM_DIR/secret.key
log_file = $MM_DIR/mailmigrated.log
workers = 1
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE

[domain example.test]
source_host = $OLD_IP
source_protocols = imap
source_tls = starttls
source_tls_ca_file = $CA_FILE
migrate_shared = yes
EOC
MM() { "$MAILMIGRATE" -c "$CONF" "$@"; }
MM init >/dev/null || fail "init failed"

mm_adduser old ann@example.test "ann pw"
sh "$SERVERS_SH" adduser "$MM_DIR" new ann@example.test --nopass </dev/null ||
	fail "adduser new ann failed"
PW=$(mm_pwfile "ann pw")
$CORPUS --host "$OLD_IP" --user ann@example.test --password-file "$PW" --seed 14 \
	--count 20 --manifest "$MM_DIR/ann.json" >/dev/null || fail "corpus load failed"
# ann sees the public folder.
"$PYTHON" - "$OLD_IP" "$PW" <<'EOP' || fail "the public folder is not listed"
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1])
m.starttls()
m.login("ann@example.test", open(sys.argv[2]).read().rstrip("\n"))
names = [l.decode() for l in m.list()[1]]
assert any("Public.Team" in n for n in names), names
m.logout()
EOP

# bob's folder Team, shared with alice (an account of the migration),
# anyone (list only), and ghost (no account anywhere).
for u in bob alice; do
	mm_adduser old "$u@example.test" "$u pw"
	sh "$SERVERS_SH" adduser "$MM_DIR" new "$u@example.test" --nopass </dev/null ||
		fail "adduser new $u failed"
done
"$PYTHON" - "$OLD_IP" <<'EOP' || fail "bob's Team not shared"
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1])
m.starttls()
m.login("bob@example.test", "bob pw")
assert m.create("Team")[0] == "OK"
assert m.append("Team", None, None, b"Subject: plans\r\n\r\nours\r\n")[0] == "OK"
for who, rights in (("alice@example.test", "lr"), ("anyone", "l"), ("ghost@example.test", "lrw")):
    typ, data = m._simple_command("SETACL", "Team", who, rights)
    assert typ == "OK", (who, typ, data)
typ, data = m._simple_command("GETACL", "Team")
assert typ == "OK", data
m.logout()
EOP

# ann's own folders copied, the public ones left, said in an event.
t_own_only() {
	printf 'ann@example.test:ann pw\n' | MM bulk - >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	st=$(MM show ann@example.test --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["state"])')
	[ "$st" = copied ] || { echo "ann: $st"; MM log -n 0; return 1; }
	MM log -n 0 --account ann@example.test >"$MM_DIR/ann.log"
	grep -Eq "ann@example.test: 2 folders OLD lists in its other users' or shared namespaces \(NAMESPACE\), such as \"Public(\.Team)?\", are not this user's: not copied into this mailbox" \
		"$MM_DIR/ann.log" || { cat "$MM_DIR/ann.log"; return 1; }
	$CORPUS --verify --host "$NEW_IP" --user "ann@example.test*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" --manifest "$MM_DIR/ann.json" || return 1
	# Nothing of the public namespace in ann's mailbox on NEW.
	"$PYTHON" - "$NEW_IP" "$NEW_MASTER_USER" "$NEW_MASTER_PASS_FILE" <<'EOP'
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1])
mpw = open(sys.argv[3]).read().strip()
m.authenticate("PLAIN", lambda _: ("ann@example.test\0%s\0%s" % (sys.argv[2], mpw)).encode())
names = [l.decode() for l in m.list()[1]]
bad = [n for n in names if "team" in n.lower()]
assert not bad, bad
m.logout()
EOP
}

# verify lists ann's folders only, and finds every message.
t_verify() {
	MM verify ann@example.test --json | "$PYTHON" -c '
import json, sys
a = json.load(sys.stdin)["accounts"][0]
assert a["result"] == "ok", a
names = [f["folder"] for f in a["folders"]]
assert not [n for n in names if n.startswith("Public")], names
'
}

# NEW's ACL of a folder, as "identifier=rights" sorted, one line.
new_acl() { # USER FOLDER
	"$PYTHON" - "$NEW_IP" "$NEW_MASTER_USER" "$NEW_MASTER_PASS_FILE" "$1" "$2" <<'EOP'
import imaplib, re, sys
m = imaplib.IMAP4(sys.argv[1])
mpw = open(sys.argv[3]).read().strip()
m.authenticate("PLAIN", lambda _: ("%s\0%s\0%s" % (sys.argv[4], sys.argv[2], mpw)).encode())
typ, data = m._simple_command("GETACL", sys.argv[5])
line = m.untagged_responses.get("ACL", [b""])[0].decode()
toks = re.findall(r'"[^"]*"|\S+', line)[1:]
pairs = sorted("%s=%s" % (toks[i].strip('"'), "".join(sorted(toks[i + 1].strip('"'))))
               for i in range(0, len(toks) - 1, 2))
print(typ, " ".join(p for p in pairs if not p.startswith("owner=") and
                     not p.startswith(sys.argv[4] + "=")))
m.logout()
EOP
}

# Give identifier rights on USER's FOLDER on NEW (the master user acting
# for USER), as a user of NEW would.
set_new_acl() { # USER FOLDER IDENTIFIER RIGHTS
	"$PYTHON" - "$NEW_IP" "$NEW_MASTER_USER" "$NEW_MASTER_PASS_FILE" "$@" <<'EOP'
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1])
mpw = open(sys.argv[3]).read().strip()
m.authenticate("PLAIN", lambda _: ("%s\0%s\0%s" % (sys.argv[4], sys.argv[2], mpw)).encode())
typ, data = m._simple_command("SETACL", sys.argv[5], sys.argv[6], sys.argv[7])
assert typ == "OK", data
m.logout()
EOP
}

# bob's rights for alice and anyone given on NEW; ghost reported. The
# daemon's metrics count the entry given.
t_acl() {
	port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$PYTHON" - "$CONF" "$CONF.m" "$port" <<'EOP' || return 1
import sys
lines = open(sys.argv[1]).read().split("\n")
i = next(k for k, l in enumerate(lines) if l.startswith("[domain"))
lines.insert(i, "metrics_listen = inet:127.0.0.1:%s" % sys.argv[3])
open(sys.argv[2], "w").write("\n".join(lines))
EOP
	printf 'bob@example.test:bob pw\nalice@example.test:alice pw\n' | MM bulk - >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF.m" -f 2>>"$MM_DIR/daemon.err" &
	dpid=$!
	wait_for "curl -s http://127.0.0.1:$port/metrics | grep -qx 'mailmigrate_acl_entries_total 1'" 60 ||
		{ kill "$dpid"; curl -s "http://127.0.0.1:$port/metrics" | grep acl; MM log -n 0; return 1; }
	kill -TERM "$dpid"
	wait_for "! kill -0 $dpid 2>/dev/null" 30 || return 1
	got=$(new_acl bob@example.test Team)
	[ "$got" = "OK alice@example.test=lr" ] || { echo "NEW's ACL: $got"; MM log -n 0; return 1; }
	MM log -n 0 --account bob@example.test >"$MM_DIR/bob.log"
	grep -qF "bob@example.test: ACLs: 1 folders with rights for others on OLD: 1 entries given on NEW, 0 there already, 1 refused by NEW, 1 with no account on NEW (failed items acl:FOLDER)" \
		"$MM_DIR/bob.log" || { cat "$MM_DIR/bob.log"; return 1; }
	f=$(MM failed bob@example.test --csv | grep -F "acl:Team")
	case $f in
	*"anyone (l) refused by NEW: "*"'anyone' identifier is disallowed"*"ghost@example.test (lrw) has no account on NEW"*) ;;
	*) echo "failed items: $f"; return 1 ;;
	esac
	# The next round: all there already, nothing given twice.
	MM sync bob@example.test >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	MM log -n 0 --account bob@example.test | grep -qF "ACLs: 1 folders with rights for others on OLD: 0 entries given on NEW, 1 there already, 1 refused by NEW, 1 with no account on NEW" ||
		{ MM log -n 0 --account bob@example.test; return 1; }
	# verify: alice's entry on NEW as on OLD; anyone's and ghost's
	# accounted for by the failed item, not a difference.
	MM verify bob@example.test --json | "$PYTHON" -c '
import json, sys
a = json.load(sys.stdin)["accounts"][0]
assert a["result"] == "ok", a
acl = a["acl"]
want = {"checked": True, "folders": 1, "entries": 3, "same": 1, "no_account": 1,
        "failed_folders": 1, "differ_folders": 0, "not_read": 0}
assert all(acl[k] == v for k, v in want.items()), acl
' || return 1
	# alice's rights changed on NEW behind the copy's back: verify says
	# so; the next round gives OLD's again.
	set_new_acl bob@example.test Team alice@example.test lrw || return 1
	MM verify bob@example.test >"$MM_DIR/verify.txt" && { cat "$MM_DIR/verify.txt"; return 1; }
	grep -qF "bob@example.test: DIFFERS from OLD" "$MM_DIR/verify.txt" &&
		grep -qF "ACLs: 1 folders with rights for others on OLD, 3 entries: 0 on NEW as on OLD, 1 with no account on NEW; 1 folders not all given (failed items), 1 differ, 0 not read" "$MM_DIR/verify.txt" &&
		grep -qF "differs: ACLs: Team: alice@example.test has lr on OLD, lrw on NEW" "$MM_DIR/verify.txt" ||
		{ cat "$MM_DIR/verify.txt"; return 1; }
	MM sync bob@example.test >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	got=$(new_acl bob@example.test Team)
	[ "$got" = "OK alice@example.test=lr" ] || { echo "NEW's ACL after the round: $got"; return 1; }
	MM verify bob@example.test >"$MM_DIR/verify.txt" || { cat "$MM_DIR/verify.txt"; return 1; }
	# preflight: OLD lists ACL after bob's login, NEW lists ACL.
	printf 'bob pw\n' | MM preflight --json bob@example.test | "$PYTHON" -c '
import json, sys
c = {x["check"]: x for x in json.load(sys.stdin)["checks"]}
assert c["old_acl"]["status"] == "ok", c["old_acl"]
assert "OLD lists ACL (RFC 4314) after login as bob@example.test" in c["old_acl"]["message"], c["old_acl"]
assert c["new_acl"]["status"] == "ok", c["new_acl"]
' || return 1
	# alice's own folders hold nothing of bob's.
	got=$(new_acl alice@example.test INBOX)
	[ "$got" = "OK " ] || { echo "alice's INBOX ACL: $got"; return 1; }
}

# OLD's ACL of bob's Team changed as bob would: SETACL, or DELETEACL
# when RIGHTS is "-".
old_bob_acl() { # IDENTIFIER RIGHTS
	"$PYTHON" - "$OLD_IP" "$1" "$2" <<'EOP'
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1])
m.starttls()
m.login("bob@example.test", "bob pw")
if sys.argv[3] == "-":
    typ, data = m._simple_command("DELETEACL", "Team", sys.argv[2])
else:
    typ, data = m._simple_command("SETACL", "Team", sys.argv[2], sys.argv[3])
assert typ == "OK", data
m.logout()
EOP
}

bob_round() {
	MM sync bob@example.test >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err"
}

# What the rounds did with bob's rights is recorded: show lists each
# entry (alice's given, anyone's refused, ghost's with no account), stats
# counts them. A right OLD no longer gives is taken back on NEW by the
# next round; one a user changed on NEW meanwhile is kept, and said.
t_acl_records() {
	MM show bob@example.test --json | "$PYTHON" -c '
import json, sys
acl = json.load(sys.stdin)["acl"]
got = [(a["folder"], a["target"], a["identifier"], a["rights"], a["state"], a.get("given_to")) for a in acl]
want = [("Team", "Team", "alice@example.test", "lr", "given", "alice@example.test"),
        ("Team", "Team", "anyone", "l", "refused", None),
        ("Team", "Team", "ghost@example.test", "lrw", "unmapped", None)]
assert got == want, got
assert all(a["updated"] for a in acl), acl
' || { MM show bob@example.test --json; return 1; }
	MM show bob@example.test >"$MM_DIR/show.txt" || return 1
	grep -q "^Rights on shared folders" "$MM_DIR/show.txt" &&
		grep -Eq "^Team +Team +alice@example.test +lr +given to alice@example.test *$" "$MM_DIR/show.txt" &&
		grep -Eq "^Team +Team +ghost@example.test +lrw +no account on NEW *$" "$MM_DIR/show.txt" ||
		{ cat "$MM_DIR/show.txt"; return 1; }
	MM show alice@example.test | grep -qE "^Rights on shared folders: +none recorded$" ||
		{ MM show alice@example.test; return 1; }
	MM stats --json | "$PYTHON" -c '
import json, sys
s = json.load(sys.stdin)
got = (s["acl_folders"], s["acl_entries_given"], s["acl_entries_not_given"])
assert got == (1, 1, 2), got
' || return 1
	MM stats | grep -Eq "^Shared folders' rights: +1 folders: 1 entries given, 2 not$" ||
		{ MM stats; return 1; }
	# OLD takes alice's and ghost's rights back: so does the next round
	# on NEW (ghost's had none there); the failed item keeps anyone's.
	old_bob_acl alice@example.test - && old_bob_acl ghost@example.test - || return 1
	bob_round || return 1
	got=$(new_acl bob@example.test Team)
	[ "$got" = "OK " ] || { echo "NEW's ACL after OLD took alice's back: $got"; return 1; }
	MM log -n 0 --account bob@example.test >"$MM_DIR/bob.log"
	grep -qF "bob@example.test: ACLs: Team: no longer given on OLD: alice@example.test (lr) taken back" "$MM_DIR/bob.log" &&
		grep -qF "no longer given on OLD: 1 taken back on NEW, 0 kept" "$MM_DIR/bob.log" ||
		{ cat "$MM_DIR/bob.log"; return 1; }
	MM show bob@example.test --json | "$PYTHON" -c '
import json, sys
acl = json.load(sys.stdin)["acl"]
assert [(a["identifier"], a["state"]) for a in acl] == [("anyone", "refused")], acl
' || return 1
	f=$(MM failed bob@example.test --csv | grep -F "acl:Team")
	case $f in
	*"anyone (l) refused by NEW"*ghost*) echo "ghost still named: $f"; return 1 ;;
	*"anyone (l) refused by NEW"*) ;;
	*) echo "failed items: $f"; return 1 ;;
	esac
	# alice's given again; then changed on NEW by bob while OLD takes
	# it back: NEW's is kept, and the round says so.
	old_bob_acl alice@example.test lr && bob_round || return 1
	got=$(new_acl bob@example.test Team)
	[ "$got" = "OK alice@example.test=lr" ] || { echo "given again: $got"; return 1; }
	set_new_acl bob@example.test Team alice@example.test lrwi || return 1
	old_bob_acl alice@example.test - && bob_round || return 1
	got=$(new_acl bob@example.test Team)
	[ "$got" = "OK alice@example.test=ilrw" ] || { echo "NEW's own change: $got"; return 1; }
	MM log -n 0 --account bob@example.test | grep -qF "ACLs: Team: no longer given on OLD: alice@example.test (lr) kept: NEW's are now " ||
		{ MM log -n 0 --account bob@example.test; return 1; }
	MM verify bob@example.test >"$MM_DIR/verify.txt" || { cat "$MM_DIR/verify.txt"; return 1; }
	# A shared folder bob deletes on OLD: its records are forgotten
	# (NEW's copy and its rights are left alone, as its mail is).
	"$PYTHON" - "$OLD_IP" create <<'EOP' || return 1
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1])
m.starttls()
m.login("bob@example.test", "bob pw")
assert m.create("Old")[0] == "OK"
typ, data = m._simple_command("SETACL", "Old", "alice@example.test", "lr")
assert typ == "OK", data
m.logout()
EOP
	bob_round || return 1
	[ "$(new_acl bob@example.test Old)" = "OK alice@example.test=lr" ] || return 1
	"$PYTHON" - "$OLD_IP" <<'EOP' || return 1
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1])
m.starttls()
m.login("bob@example.test", "bob pw")
assert m.delete("Old")[0] == "OK"
m.logout()
EOP
	bob_round || return 1
	MM log -n 0 --account bob@example.test | grep -qF "ACLs: rights recorded on 1 folders OLD no longer lists: forgotten (NEW's copies keep theirs)" ||
		{ MM log -n 0 --account bob@example.test; return 1; }
	MM show bob@example.test --json | "$PYTHON" -c '
import json, sys
acl = json.load(sys.stdin)["acl"]
assert sorted(set(a["folder"] for a in acl)) == ["Team"], acl
' || return 1
	[ "$(new_acl bob@example.test Old)" = "OK alice@example.test=lr" ] || return 1
	# and OLD gives it again, for the checks after this one
	set_new_acl bob@example.test Team alice@example.test lr &&
		old_bob_acl alice@example.test lr && bob_round || return 1
	[ "$(new_acl bob@example.test Team)" = "OK alice@example.test=lr" ]
}

# NEW's messages of FOLDER as USER sees them, "subject/flags" sorted, or
# "NO" when USER cannot select it.
new_msgs() { # USER FOLDER
	"$PYTHON" - "$NEW_IP" "$NEW_MASTER_USER" "$NEW_MASTER_PASS_FILE" "$1" "$2" <<'EOP'
import imaplib, re, sys
m = imaplib.IMAP4(sys.argv[1])
mpw = open(sys.argv[3]).read().strip()
m.authenticate("PLAIN", lambda _: ("%s\0%s\0%s" % (sys.argv[4], sys.argv[2], mpw)).encode())
typ, _ = m.select('"%s"' % sys.argv[5], readonly=True)
if typ != "OK":
    print("NO")
    sys.exit(0)
typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
out = []
for item in data:
    if isinstance(item, tuple):
        subj = item[1].decode().strip().replace("Subject: ", "")
        flags = re.search(r"FLAGS \(([^)]*)\)", item[0].decode()).group(1)
        out.append("%s/%s" % (subj, flags))
print(" ".join(sorted(out)))
m.logout()
EOP
}

# public_round DOMAIN LOGIN PASSWORD PREFIX: public@DOMAIN made DOMAIN's
# public_folders_account, read in LOGIN's OLD session (PASSWORD); its
# first round copies OLD's one shared folder under PREFIX, and says so.
public_round() {
	"$PYTHON" - "$CONF" "$1" "$2" <<'EOP' || return 1
import sys
conf, dom, login = sys.argv[1:4]
lines = open(conf).read().split("\n")
i = lines.index("[domain %s]" % dom)
lines[i + 1:i + 1] = ["public_folders_account = public@%s" % dom,
                      "public_folders_login = %s" % login]
open(conf, "w").write("\n".join(lines))
EOP
	printf 'public@%s:%s\n' "$1" "$3" | MM bulk - >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	st=$(MM show "public@$1" --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["state"])')
	[ "$st" = copied ] || { echo "public@$1: $st"; MM log -n 0 --account "public@$1"; return 1; }
	MM log -n 0 --account "public@$1" | grep -qF "public folders: 1 folders of OLD's shared namespace \"$4\" as $2 sees them, copied as this account's (NEW's public namespace); 0 in further shared namespaces not copied" ||
		{ MM log -n 0 --account "public@$1"; return 1; }
}

# OLD's public folder Team, copied once: as the account public@example.test
# (public_folders_account), whose mailbox is NEW's public namespace, read
# in ann's session on OLD (public_folders_login). Its rights on NEW are
# OLD's: ann's given (so ann reads Public/Team on NEW, bob does not),
# anyone's refused by NEW (acl_anyone = forbid) and reported. A later
# round copies what is new, no message twice; verify holds.
t_public() {
	sh "$SERVERS_SH" adduser "$MM_DIR" new public@example.test --nopass </dev/null || return 1
	public_round example.test ann@example.test "ann pw" Public. || return 1
	sep=${MM_NEW_SEP:-/}
	got=$(new_msgs ann@example.test "Public${sep}Team")
	[ "$got" = "team 1/\\Seen team 2/\\Seen team 3/\\Seen" ] || { echo "ann's Public${sep}Team on NEW: $got"; return 1; }
	got=$(new_msgs bob@example.test "Public${sep}Team")
	[ "$got" = NO ] || { echo "bob reads Public${sep}Team on NEW: $got"; return 1; }
	got=$(new_acl public@example.test Team)
	[ "$got" = "OK ann@example.test=ailrsw" ] || { echo "NEW's ACL of Team: $got"; return 1; }
	f=$(MM failed public@example.test --csv | grep -F "acl:Public.Team")
	case $f in
	*"anyone (lr) refused by NEW"*) ;;
	*) echo "failed items: $f"; return 1 ;;
	esac
	# Nothing of it in ann's own mailbox: her rounds leave it to public's.
	MM sync ann@example.test >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	MM log -n 0 --account ann@example.test | grep -qF "(the shared ones are copied once, as public@example.test's)" ||
		{ MM log -n 0 --account ann@example.test; return 1; }
	got=$(new_msgs ann@example.test Team)
	[ "$got" = NO ] || { echo "ann's own Team on NEW: $got"; return 1; }
	# A message new on OLD: the next round copies it, and only it.
	"$PYTHON" - "$OLD_IP" <<'EOP' || return 1
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1])
m.starttls()
m.login("ann@example.test", "ann pw")
assert m.append("Public.Team", None, None, b"Subject: team 4\r\n\r\nlater\r\n")[0] == "OK"
m.logout()
EOP
	MM sync public@example.test >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	got=$(new_msgs ann@example.test "Public${sep}Team")
	[ "$got" = "team 1/\\Seen team 2/\\Seen team 3/\\Seen team 4/" ] || { echo "after the next round: $got"; return 1; }
	MM verify public@example.test --json | "$PYTHON" -c '
import json, sys
a = json.load(sys.stdin)["accounts"][0]
assert a["result"] == "ok", a
assert [f["folder"] for f in a["folders"]] == ["Public.Team"], a["folders"]
assert a["folders"][0]["copied"] == 4, a["folders"]
acl = a["acl"]
assert (acl["folders"], acl["entries"], acl["same"], acl["failed_folders"], acl["differ_folders"]) == (1, 2, 1, 1, 0), acl
' || return 1
	# preflight counts what the rounds copy: the public folders for the
	# public account (ann's login), ann's own for ann.
	printf 'ann pw\nann pw\n' | MM preflight --json public@example.test ann@example.test | "$PYTHON" -c '
import json, sys
c = [x for x in json.load(sys.stdin)["checks"] if x["check"] == "old_user"]
pub = [x for x in c if x["user"] == "public@example.test"][0]
assert "imap login as ann@example.test ok; 1 folders (public_folders_account: OLD'"'"'s shared namespace \"Public.\"; 0 in further shared namespaces not copied), 4 messages" in pub["message"], pub
ann = [x for x in c if x["user"] == "ann@example.test"][0]
assert "(the user'"'"'s own; 2 of other users'"'"' or shared namespaces not copied)" in ann["message"], ann
assert ann["not_own_folders"] == 2, ann
' || return 1
}

# target_driver = dovecot: carol's rights for others given by NEW's
# doveadm acl (Dovecot's acl plugin, loaded for doveadm by
# notice-acl.conf.ext): alice's, a negative one for bob, anyone's (which
# doveadm, unlike imap_acl's SETACL, takes); the next round finds them
# there; verify compares them; preflight checks doveadm's acl command.
t_dovecot_acl() {
	if [ -z "${MM_DOVEADM_MODULES:-}" ]; then
		echo "    (doveadm plugin not built: skipped)" >&2
		return 0
	fi
	mm_adduser old carol@example.test "carol pw"
	sh "$SERVERS_SH" adduser "$MM_DIR" new carol@example.test --nopass </dev/null || return 1
	"$PYTHON" - "$OLD_IP" <<'EOP' || return 1
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1])
m.starttls()
m.login("carol@example.test", "carol pw")
assert m.create("Proj")[0] == "OK"
assert m.append("Proj", None, None, b"Subject: proj\r\n\r\nx\r\n")[0] == "OK"
for who, rights in (("alice@example.test", "lrs"), ("-bob@example.test", "w"), ("anyone", "l")):
    typ, data = m._simple_command("SETACL", "Proj", who, rights)
    assert typ == "OK", (who, data)
m.logout()
EOP
	"$PYTHON" - "$CONF" "$CONF.dv" "$NEW_DOVEADM" <<'EOP' || return 1
import sys
lines = open(sys.argv[1]).read().split("\n")
i = next(k for k, l in enumerate(lines) if l.startswith("[domain"))
lines[i:i] = ["target_driver = dovecot", "target_doveadm = %s" % sys.argv[3]]
open(sys.argv[2], "w").write("\n".join(lines))
EOP
	printf 'carol@example.test:carol pw\n' | MM bulk - >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF.dv" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	MM log -n 0 --account carol@example.test | grep -qF "ACLs: 1 folders with rights for others on OLD: 3 entries given on NEW, 0 there already, 0 refused by NEW, 0 with no account on NEW" ||
		{ MM log -n 0 --account carol@example.test; return 1; }
	got=$(new_acl carol@example.test Proj)
	[ "$got" = "OK -bob@example.test=w alice@example.test=lrs anyone=l" ] ||
		{ echo "NEW's ACL of carol's Proj: $got"; return 1; }
	MM sync carol@example.test >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF.dv" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	MM log -n 0 --account carol@example.test | grep -qF "ACLs: 1 folders with rights for others on OLD: 0 entries given on NEW, 3 there already" ||
		{ MM log -n 0 --account carol@example.test; return 1; }
	"$MAILMIGRATE" -c "$CONF.dv" verify carol@example.test --json | "$PYTHON" -c '
import json, sys
a = json.load(sys.stdin)["accounts"][0]
assert a["result"] == "ok", a
acl = a["acl"]
assert (acl["checked"], acl["entries"], acl["same"], acl["differ_folders"]) == (True, 3, 3, 0), acl
' || return 1
	printf 'carol pw\n' | "$MAILMIGRATE" -c "$CONF.dv" preflight --json carol@example.test | "$PYTHON" -c '
import json, sys
c = {x["check"]: x for x in json.load(sys.stdin)["checks"]}
assert c["new_acl"]["status"] == "ok" and "acl reads NEW" in c["new_acl"]["message"], c["new_acl"]
' || return 1
}

OS="sh $HARNESS/oldserver.sh"
t_cyrus() {
	if ! $OS fetch cyrus >"$MM_DIR/cyrus-fetch.log" 2>&1; then
		echo "    (Cyrus packages not available: skipped)" >&2
		return 0
	fi
	cip=${MM_OLD_IP%.*}.5
	MM_OLDSRV_DOMAIN=cyr.test $OS start cyrus "$MM_DIR/cy" "$cip" \
		>"$MM_DIR/cyrus-start.log" 2>&1 || { cat "$MM_DIR/cyrus-start.log"; return 1; }
	mm_at_exit "$OS stop $MM_DIR/cy"
	# shellcheck disable=SC1091
	. "$MM_DIR/cy/env"
	for u in bob alice; do
		printf '%s pass\n' "$u" | $OS adduser "$MM_DIR/cy" "$u@cyr.test" || return 1
		sh "$SERVERS_SH" adduser "$MM_DIR" new "$u@cyr.test" --nopass </dev/null || return 1
	done
	"$PYTHON" - "$cip" <<'EOP' || return 1
import imaplib, ssl, sys
def login(u):
    i = imaplib.IMAP4(sys.argv[1], 143)
    i.starttls(ssl._create_unverified_context())
    i.login(u + "@cyr.test", u + " pass")
    return i
a = login("alice")	# autocreate
b = login("bob")
assert b.create("INBOX.Team")[0] == "OK"
assert b.append("INBOX.Team", None, None, b"Subject: plans\r\n\r\nours\r\n")[0] == "OK"
typ, data = b._simple_command("SETACL", "INBOX.Team", "alice", "lr")
assert typ == "OK", data
b.logout()
names = [l.decode() for l in a.list()[1]]
assert any("user.bob.Team" in n for n in names), names
a.logout()
EOP
	cat >>"$CONF" <<EOC

[domain cyr.test]
source_host = $cip
source_protocols = imap
source_tls = starttls
source_tls_ca_file = $OLDSRV_CA_FILE
migrate_shared = yes
EOC
	printf 'bob@cyr.test:bob pass\nalice@cyr.test:alice pass\n' | MM bulk - >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	for u in bob alice; do
		st=$(MM show "$u@cyr.test" --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["state"])')
		[ "$st" = copied ] || { echo "$u: $st"; MM log -n 0 --account "$u@cyr.test"; return 1; }
	done
	MM log -n 0 --account alice@cyr.test | grep -qF 'not this user'"'"'s: not copied into this mailbox' ||
		{ MM log -n 0 --account alice@cyr.test; return 1; }
	MM log -n 0 --account bob@cyr.test | grep -qF "ACLs: 1 folders with rights for others on OLD: 1 entries given on NEW, 0 there already, 0 refused by NEW, 0 with no account on NEW" ||
		{ MM log -n 0 --account bob@cyr.test; return 1; }
	got=$(new_acl bob@cyr.test Team)
	[ "$got" = "OK alice@cyr.test=lr" ] || { echo "NEW's ACL of bob's Team: $got"; return 1; }
	MM verify bob@cyr.test --json | "$PYTHON" -c '
import json, sys
a = json.load(sys.stdin)["accounts"][0]
assert a["result"] == "ok", a
acl = a["acl"]
assert (acl["checked"], acl["folders"], acl["entries"], acl["same"], acl["differ_folders"]) == (True, 1, 1, 1, 0), acl
' || return 1
	"$PYTHON" - "$NEW_IP" "$NEW_MASTER_USER" "$NEW_MASTER_PASS_FILE" <<'EOP' || return 1
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1])
mpw = open(sys.argv[3]).read().strip()
m.authenticate("PLAIN", lambda _: ("alice@cyr.test\0%s\0%s" % (sys.argv[2], mpw)).encode())
names = [l.decode() for l in m.list()[1]]
assert not [n for n in names if "user" in n or "Team" in n], names
m.logout()
EOP
	# Cyrus's shared folders (its shared namespace, prefix ""): the
	# administrator's top-level Team, which alice may read, copied once
	# as public@cyr.test's Team, read in alice's session.
	printf 'admin pw\n' | $OS adduser "$MM_DIR/cy" mmadmin || return 1
	sh "$SERVERS_SH" adduser "$MM_DIR" new public@cyr.test --nopass </dev/null || return 1
	"$PYTHON" - "$cip" <<'EOP' || return 1
import imaplib, ssl, sys
i = imaplib.IMAP4(sys.argv[1], 143)
i.starttls(ssl._create_unverified_context())
i.login("mmadmin", "admin pw")
assert i.create("Team")[0] == "OK"
for who, rights in (("mmadmin", "lrswipkxtea"), ("alice", "lrswipkxtea"), ("anyone", "lrs")):
    typ, data = i._simple_command("SETACL", "Team", who, rights)
    assert typ == "OK", (who, data)
for n in (1, 2):
    assert i.append("Team", "(\\Seen)", None, b"Subject: shared %d\r\n\r\nall\r\n" % n)[0] == "OK"
i.logout()
a = imaplib.IMAP4(sys.argv[1], 143)
a.starttls(ssl._create_unverified_context())
a.login("alice@cyr.test", "alice pass")
names = [l.decode() for l in a.list()[1]]
assert any(n.endswith(" Team") or n.endswith(' "Team"') for n in names), names
a.logout()
EOP
	public_round cyr.test alice@cyr.test "alice pass" "" || return 1
	# (Cyrus keeps \Seen per user: the administrator's is not alice's.)
	got=$(new_msgs public@cyr.test Team)
	[ "$got" = "shared 1/ shared 2/" ] || { echo "public@cyr.test's Team on NEW: $got"; return 1; }
	got=$(new_acl public@cyr.test Team)
	# Cyrus says "lrswipkxtecda" (RFC 2086's c and d beside what they
	# stand for), given as RFC 4314's letters; Dovecot's GETACL adds c
	# and d back; verify finds them the same.
	[ "$got" = "OK alice@cyr.test=acdeiklprstwx" ] || { echo "NEW's ACL of the public Team: $got"; return 1; }
	MM verify public@cyr.test --json | "$PYTHON" -c '
import json, sys
a = json.load(sys.stdin)["accounts"][0]
acl = a["acl"]
assert a["result"] == "ok" and (acl["entries"], acl["same"], acl["differ_folders"]) == (3, 1, 0), a
' || return 1
	f=$(MM failed public@cyr.test --csv | grep -F "acl:Team")
	case $f in
	*"anyone (lrs) refused by NEW"*"mmadmin (lrswipkxtecda) has no account on NEW"*) ;;
	*) echo "failed items: $f"; return 1 ;;
	esac
	$OS stop "$MM_DIR/cy" >/dev/null
}

check "the public namespace's folders are not copied into the user's mailbox" t_own_only
check "verify: the user's own folders, every message" t_verify
check "migrate_shared: bob's rights for others given on NEW; what NEW refuses or has no account for reported" t_acl
check "migrate_shared: what the rounds did recorded (show, stats); a right OLD takes back taken back on NEW, one NEW changed kept" t_acl_records
check "public folders copied once, as public_folders_account's, with their rights" t_public
check "target_driver = dovecot: rights given by doveadm acl, negative ones too; verify, preflight" t_dovecot_acl
check "Cyrus as OLD: other users' folders stay out, bob's rights for alice given on NEW, shared folders copied once" t_cyrus
mm_done
