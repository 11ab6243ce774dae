#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_puller_layout.sh - an OLD server of the Courier/Cyrus kind, every
# folder below the personal namespace prefix "INBOX." with "." between
# levels, copied into a NEW with no prefix and "/": the prefix comes off
# (learnt from NAMESPACE), INBOX's children stay below INBOX, \Sent lands
# in NEW's Sent, exclude_folders leaves a folder out and folder_map
# renames a folder with its children. A second domain copies a bulk list
# without passwords, logging in to OLD with source_admin_user on each
# user's behalf. NEW here says it has neither UIDPLUS nor MULTIAPPEND:
# messages go one by one and their UIDs are found on NEW.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
MAILMIGRATED=${MAILMIGRATED:-$top_builddir/puller/mailmigrated}
[ -x "$MAILMIGRATED" ] || skip "mailmigrated not built"
CORPUS="$PYTHON $HARNESS/corpus.py"

MM_OLD_PREFIX=INBOX.
export MM_OLD_PREFIX
MM_NEW_DOVECOT_EXTRA=$(mktemp /tmp/mmx.XXXXXX)
cat >"$MM_NEW_DOVECOT_EXTRA" <<'EOD'
namespace inbox {
  mailbox Sent {
    auto = create
  }
}
imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT UNSELECT CHILDREN NAMESPACE LIST-EXTENDED I18NLEVEL=1 CONDSTORE ESEARCH LIST-STATUS BINARY MOVE LITERAL+ SPECIAL-USE
EOD
export MM_NEW_DOVECOT_EXTRA
# OLD has a master user, for source_admin_user.
OLD_MASTERS=$(mktemp /tmp/mmm.XXXXXX)
chmod 644 "$OLD_MASTERS"
printf 'old admin pass\n' | "$PYTHON" "$HARNESS/pwfile.py" "$OLD_MASTERS" oldadmin ||
	fail "cannot make OLD's master user"
MM_OLD_DOVECOT_EXTRA=$(mktemp /tmp/mmx.XXXXXX)
cat >"$MM_OLD_DOVECOT_EXTRA" <<EOD
auth_master_user_separator = *
passdb {
  driver = passwd-file
  args = $OLD_MASTERS
  master = yes
  result_success = continue
}
EOD
export MM_OLD_DOVECOT_EXTRA
mm_servers_start
rm -f "$MM_NEW_DOVECOT_EXTRA" "$MM_OLD_DOVECOT_EXTRA"
mv "$OLD_MASTERS" "$MM_DIR/old-masters"
rm -f "$OLD_MASTERS.lock"	# pwfile.py's lock, beside the file it wrote
sed -i "s|$OLD_MASTERS|$MM_DIR/old-masters|" "$MM_DIR/old/local.conf"
doveadm -c "$OLD_DOVECOT_CONF" reload >/dev/null 2>&1

CONF=$MM_DIR/mailmigrate.conf
cat >"$CONF" <<EOC
$(mm_store_conf $MM_DIR/state)
key_file = $MM_DIR/secret.key
log_file = $MM_DIR/mailmigrated.log
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE

[domain example.test]
source_host = $OLD_IP
source_tls = direct
source_tls_ca_file = $CA_FILE
exclude_folders = Samples; Empty*
folder_map = Archive=Old Archive

[domain example.org]
source_host = $OLD_IP
source_tls = starttls
source_tls_ca_file = $CA_FILE
source_admin_user = oldadmin
source_admin_password_file = $MM_DIR/admin.pass
EOC
(umask 077 && printf 'old admin pass\n' >"$MM_DIR/admin.pass")
MM() { "$MAILMIGRATE" -c "$CONF" "$@"; }

mm_adduser old "lee@example.test" "lee pass"
sh "$SERVERS_SH" adduser "$MM_DIR" new lee@example.test --nopass </dev/null ||
	fail "adduser new failed"
PW=$(mm_pwfile "lee pass")
$CORPUS --host "$OLD_IP" --user lee@example.test --password-file "$PW" --seed 21 \
	--count 60 --manifest "$MM_DIR/lee.json" >/dev/null || fail "corpus load failed"
MM init >/dev/null || fail "init failed"

t_layout_on_old() {
	"$PYTHON" - "$OLD_IP" "$PW" <<'EOP'
import imaplib, re, sys
def names(m):
    out = []
    for l in m.list()[1]:
        raw = re.match(rb'\([^)]*\) (?:"[^"]*"|NIL) (.*)$', l).group(1)
        if raw.startswith(b'"'):
            raw = raw[1:-1].replace(b'\\"', b'"').replace(b'\\\\', b'\\')
        out.append(raw.decode())
    return out
m = imaplib.IMAP4(sys.argv[1])
m.login("lee@example.test", open(sys.argv[2]).read().strip())
typ, data = m.namespace()
assert data[0].startswith(b'(("INBOX." "."))'), data
n = names(m)
assert "INBOX.Sent Messages" in n and "INBOX.INBOX.Receipts" in n, n
EOP
}

t_copy() {
	printf 'lee@example.test:lee pass\n' | MM bulk - >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	# Every folder of the manifest but the excluded ones, renamed as
	# folder_map and special use say.
	"$PYTHON" - "$MM_DIR/lee.json" >"$MM_DIR/only.args" <<'EOP'
import json, sys
ren = {"Sent Messages": "Sent", "Archive": "Old Archive"}
for f in json.load(open(sys.argv[1]))["folders"]:
    p = f["path"]
    if p[0] in ("Samples",) or p[0].startswith("Empty"):
        continue
    q = [ren.get(p[0], p[0])] + p[1:]
    print("--only-folder\n" + "/".join(q))
    if q != p:
        print("--folder-map\n%s=%s" % ("/".join(p), "/".join(q)))
EOP
	IFS='
'
	# shellcheck disable=SC2046
	set -- $(cat "$MM_DIR/only.args")
	unset IFS
	$CORPUS --verify --host "$NEW_IP" --user "lee@example.test*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" --manifest "$MM_DIR/lee.json" \
		--no-subscriptions "$@" || return 1
	# Nothing else on NEW: no prefix level, no excluded folder.
	"$PYTHON" - "$NEW_IP" "$NEW_MASTER_PASS_FILE" <<'EOP'
import imaplib, re, sys
def names(m):
    out = []
    for l in m.list()[1]:
        raw = re.match(rb'\([^)]*\) (?:"[^"]*"|NIL) (.*)$', l).group(1)
        if raw.startswith(b'"'):
            raw = raw[1:-1].replace(b'\\"', b'"').replace(b'\\\\', b'\\')
        out.append(raw.decode())
    return out
m = imaplib.IMAP4(sys.argv[1])
m.authenticate("PLAIN", lambda _: ("lee@example.test\0mailmigrate\0" + open(sys.argv[2]).read().strip()).encode())
names = set(names(m))
bad = [n for n in names if n.startswith("Samples") or n.startswith("Empty")
       or n.startswith("INBOX/INBOX") or n in ("Sent Messages", "Archive")]
assert not bad, bad
assert "INBOX/Receipts" in names and "Old Archive/2015" in names and "Sent" in names, names
EOP
	[ $? -eq 0 ] || return 1
	# NEW gave no APPENDUID: the UIDs were found on NEW, so a second
	# round copies nothing again (an extra message fails the verify).
	MM log --account lee@example.test | grep -q "no UIDPLUS" || return 1
	MM sync lee@example.test >/dev/null || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	MM log --account lee@example.test | grep -q "copied: 0 messages" || return 1
	$CORPUS --verify --host "$NEW_IP" --user "lee@example.test*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" --manifest "$MM_DIR/lee.json" \
		--no-subscriptions "$@"
}

# A user alone on a bulk line, copied with the admin login.
t_admin_login() {
	mm_adduser old "adm@example.org" "adm's own pass"
	sh "$SERVERS_SH" adduser "$MM_DIR" new adm@example.org --nopass </dev/null || return 1
	pw=$(mm_pwfile "adm's own pass")
	$CORPUS --host "$OLD_IP" --user adm@example.org --password-file "$pw" --seed 8 \
		--count 12 --no-samples --manifest "$MM_DIR/adm.json" >/dev/null || return 1
	# Without source_admin_user a user alone is refused, naming why.
	if printf 'lee2@example.test\n' | MM bulk - 2>"$MM_DIR/bulk.err"; then
		echo "a user alone was accepted without source_admin_user"
		return 1
	fi
	grep -q "needs source_admin_user" "$MM_DIR/bulk.err" || { cat "$MM_DIR/bulk.err"; return 1; }
	printf 'adm@example.org\n' | MM bulk - >/dev/null || return 1
	MM show adm@example.org --json | "$PYTHON" -c '
import json, sys
a = json.load(sys.stdin)
assert a["captured_password"] is False, a' || return 1
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err" || return 1
	$CORPUS --verify --host "$NEW_IP" --user "adm@example.org*$NEW_MASTER_USER" \
		--password-file "$NEW_MASTER_PASS_FILE" --manifest "$MM_DIR/adm.json" \
		--no-subscriptions --extra-folders-ok --folder-map "Sent Messages=Sent"
}

check "OLD keeps everything below INBOX. (NAMESPACE says so)" t_layout_on_old
check "prefix removed, Sent mapped, excluded and renamed folders, verified" t_copy
check "a bulk list without passwords, copied with source_admin_user" t_admin_login
mm_done
