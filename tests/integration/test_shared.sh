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

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
MAILMIGRATED=${MAILMIGRATED:-$top_builddir/puller/mailmigrated}
[ -x "$MAILMIGRATED" ] || skip "mailmigrated not built"
CORPUS="$PYTHON $HARNESS/corpus.py"

EXT=$(mm_tmpdir)
mm_cleanup_dir "$EXT"
mkdir -p "$EXT/public" && chown mail:mail "$EXT/public" && chmod 755 "$EXT"
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
EOD
export MM_OLD_DOVECOT_EXTRA
mm_servers_start

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
EOC
MM() { "$MAILMIGRATE" -c "$CONF" "$@"; }
MM init >/dev/null || fail "init failed"

mm_adduser old ann@example.test "ann pw"
sh "$SERVERS_SH" adduser "$MM_DIR" new ann@example.test --nopass </dev/null ||
	fail "adduser new ann failed"
PW=$(mm_pwfile "ann pw")
$CORPUS --host "$OLD_IP" --user ann@example.test --password-file "$PW" --seed 14 \
	--count 20 --manifest "$MM_DIR/ann.json" >/dev/null || fail "corpus load failed"
# The public folder, made and filled by ann (no acl plugin: anyone may).
"$PYTHON" - "$OLD_IP" "$PW" <<'EOP' || fail "public folder not made"
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1])
m.starttls()
m.login("ann@example.test", open(sys.argv[2]).read().rstrip("\n"))
assert m.create("Public.Team")[0] == "OK"
for i in range(3):
    msg = ("Subject: team %d\r\nMessage-ID: <team-%d@example.test>\r\n\r\nfor all\r\n" % (i, i))
    assert m.append("Public.Team", None, None, msg.encode())[0] == "OK"
names = [l.decode() for l in m.list()[1]]
assert any("Public.Team" in n for n in names), names
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
bad = [n for n in names if "Public" in n or "team" in n.lower()]
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

check "the public namespace's folders are not copied into the user's mailbox" t_own_only
check "verify: the user's own folders, every message" t_verify
mm_done
