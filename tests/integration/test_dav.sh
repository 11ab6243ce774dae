#!/bin/sh
# shellcheck disable=SC2317  # t_* run through check()
# test_dav.sh - calendars and address books from OLD's CalDAV/CardDAV to
# NEW's (issue 14, items 2, 4 and 5), with two real Radicale servers
# (Debian's) on loopback beside the harness's Dovecots:
#   - every calendar and address book of alice's home made on NEW under
#     its name with its display name, colour and description; every
#     item under its name with its content (an event in a time zone, a
#     weekly recurrence with an exception and an excluded date, a 200 KB
#     attachment, a non-ASCII item name, UTF-8 text, and an address book
#     of 5,000 contacts in the LMDB pass, 1,000 in the PostgreSQL one
#     (MM_DAV_CONTACTS sets it);
#     OLD given as a home template, NEW as a bare server (RFC 6764
#     discovery); the SHA-256 the store records is that of OLD's bytes;
#   - a second round copies the changed and new items, reports the one
#     OLD deleted (NEW keeps it), keeps NEW's where both sides changed
#     (a failed item), and a third round finds nothing changed (ctag);
#   - show, stats, failed and the metric;
#   - bad input: an event of 50 MB (over max_dav_item_size), an item
#     NEW refuses (the UID of another item of its calendar), an item
#     OLD answers 500 for (a proxy in front of OLD), a redirect loop for
#     a domain's OLD: each a failed item or event, the rest copied, the
#     mail copied;
#   - a domain without migrate_dav: nothing of DAV happens.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mm_require_root_and_pkgs
MAILMIGRATED=${MAILMIGRATED:-$top_builddir/puller/mailmigrated}
[ -x "$MAILMIGRATED" ] || skip "mailmigrated not built"
command -v radicale >/dev/null 2>&1 || skip "radicale not installed (tests/install-deps.sh)"
"$PYTHON" -c 'import vobject' 2>/dev/null || skip "python3-vobject not installed"

echo "store: $MM_TEST_BACKEND"
MM_DIR=$(mm_tmpdir) || exit 1
mm_servers_start "$MM_DIR"
RAD=$HARNESS/radicale.sh
DATA=$top_srcdir/tests/integration/dav_data.py
mm_at_exit "sh '$RAD' stop '$MM_DIR/dav-old'; sh '$RAD' stop '$MM_DIR/dav-new'"
# Radicale checks each PUT's UID against every item of the collection
# (it reads them all: 0.1 s a PUT at 1,500 items, 2.5 s at 4,600), so a
# copy of 5,000 contacts into it takes about half an hour whoever makes
# it. NEW's Radicale here keeps an index of the UIDs instead
# (MM_RADICALE_UIDINDEX, tests/harness/radicale_uidindex.py: the same
# check, a lookup; 5,000 PUTs in 45 s): 5,000 contacts in the LMDB pass,
# 1,000 in the PostgreSQL one.
if [ "$MM_TEST_BACKEND" = postgresql ]; then NCONTACTS=1000; else NCONTACTS=5000; fi
NCONTACTS=${MM_DAV_CONTACTS:-$NCONTACTS}

PW="dav pass 1"
for s in old new; do
	printf '%s\n' "$PW" | sh "$RAD" adduser "$MM_DIR/dav-$s" alice@example.test ||
		fail "radicale adduser $s"
	printf '%s\n' "$PW" | sh "$RAD" adduser "$MM_DIR/dav-$s" bad@bad.test ||
		fail "radicale adduser $s"
	printf '%s\n' "$PW" | sh "$RAD" adduser "$MM_DIR/dav-$s" loop@example.org ||
		fail "radicale adduser $s"
	printf '%s\n' "$PW" | sh "$RAD" adduser "$MM_DIR/dav-$s" tasks@example.test ||
		fail "radicale adduser $s"
	printf 'dav admin pw\n' | sh "$RAD" adduser "$MM_DIR/dav-$s" dav-admin ||
		fail "radicale adduser $s"
done
ROOT_OLD=$MM_DIR/dav-old/collections/collection-root
"$PYTHON" "$DATA" populate "$ROOT_OLD" alice@example.test "$NCONTACTS" ||
	fail "populate failed"
sh "$RAD" start "$MM_DIR/dav-old" "$OLD_IP" || fail "OLD's radicale did not start"
OLD_DAV=$(. "$MM_DIR/dav-old/env" && echo "$MM_DAV_URL")
MM_RADICALE_UIDINDEX=1 sh "$RAD" start "$MM_DIR/dav-new" "$NEW_IP" ||
	fail "NEW's radicale did not start"
NEW_DAV=$(. "$MM_DIR/dav-new/env" && echo "$MM_DAV_URL")

# OLD for bad@ through a proxy that answers 500 for one item.
# (and an event of 50 MB for another: Radicale itself would parse it
# for minutes at each listing)
"$PYTHON" "$HARNESS/davproxy.py" "$OLD_IP" "$OLD_DAV" "$MM_DIR/proxy.port" \
	--fail /bad@bad.test/cal/broken.ics \
	--big /bad@bad.test/cal/huge.ics $((50 * 1024 * 1024)) \
	--rename /bad%40bad.test/cal/slash.ics /bad%40bad.test/cal/sl%2Fash.ics \
	>"$MM_DIR/proxy.log" 2>&1 &
mm_at_exit "kill $!"
"$PYTHON" "$HARNESS/redirectloop.py" "$OLD_IP" "$MM_DIR/loop.port" &
mm_at_exit "kill $!"
wait_for "[ -s '$MM_DIR/proxy.port' ] && [ -s '$MM_DIR/loop.port' ]" 10 ||
	fail "the proxies did not start"
PROXY=http://$OLD_IP:$(cat "$MM_DIR/proxy.port")/
LOOP=http://$OLD_IP:$(cat "$MM_DIR/loop.port")/

CONF=$MM_DIR/mailmigrate.conf
cat >"$CONF" <<EOC
$(mm_store_conf "$MM_DIR/state")
key_file = $MM_DIR/secret.key
log_file = $MM_DIR/mailmigrated.log
workers = 1
io_timeout = 30
connect_timeout = 5
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE

[domain example.test]
source_host = $OLD_IP
source_protocols = imap
source_tls = starttls
source_tls_ca_file = $CA_FILE
migrate_dav = yes
source_dav_url = ${OLD_DAV}%u/
target_dav_url = $NEW_DAV

[domain example.org]
source_host = $OLD_IP
source_protocols = imap
source_tls = starttls
source_tls_ca_file = $CA_FILE
migrate_dav = yes
source_dav_url = $LOOP
target_dav_url = $NEW_DAV

[domain bad.test]
source_host = $OLD_IP
source_protocols = imap
source_tls = starttls
source_tls_ca_file = $CA_FILE
migrate_dav = yes
source_dav_url = ${PROXY}%u/
target_dav_url = $NEW_DAV

[domain example.net]
source_host = $OLD_IP
source_protocols = imap
source_tls = starttls
source_tls_ca_file = $CA_FILE
source_dav_url = $OLD_DAV
EOC
MM() { "$MAILMIGRATE" -c "$CONF" "$@"; }
run_once() {
	"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$MM_DIR/daemon.err"
}
MM init >/dev/null || fail "init failed"

show() {
	MM show "$1" --json | "$PYTHON" -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[k] if v is not None else None
print(v)' "$2"
}

add_account() {
	mm_adduser old "$1" "$PW"
	sh "$SERVERS_SH" adduser "$MM_DIR" new "$1" --nopass </dev/null ||
		fail "adduser new $1 failed"
	printf '%s:%s\n' "$1" "$PW" | MM bulk - >/dev/null
}

in_state() {	# ACCOUNT STATE: the account is in STATE, or say why not
	st=$(show "$1" state)
	[ "$st" = "$2" ] || { echo "$1: state $st"; show "$1" last_error; MM log --account "$1"; return 1; }
}

compare() {
	printf '%s\n' "$PW" | "$PYTHON" "$DATA" compare "$OLD_DAV" "$NEW_DAV" "$1"
}
dav() {	# dav get|put|delete SIDE PATH [FILE]
	u=$OLD_DAV
	[ "$2" = new ] && u=$NEW_DAV
	printf '%s\n' "$PW" | "$PYTHON" "$DATA" "$1" "$u$3" "${3%%/*}" ${4:+"$4"}
}

t_first_round() {
	add_account alice@example.test
	run_once
	st=$(show alice@example.test state)
	[ "$st" = copied ] || { echo "state $st"; show alice@example.test last_error; return 1; }
	out=$(compare alice@example.test) || { echo "$out"; return 1; }
	assert_eq "collections 3 items $((NCONTACTS + 4))" "$out" "compare"
	ev=$(MM log --account alice@example.test 2>&1)
	assert_contains "$ev" "caldav: 2 calendars on OLD (2 made on NEW, 0 unchanged since copied); items: 4 copied, 0 unchanged since copied, 0 already the same on NEW, 0 not copied"
	assert_contains "$ev" "carddav: 1 address books on OLD (1 made on NEW, 0 unchanged since copied); items: $NCONTACTS copied"
	f=$(MM failed alice@example.test --csv | grep -c "^alice@example.test,")
	assert_eq 0 "$f" "failed items"
}

# The SHA-256 recorded of each item is that of the bytes OLD serves.
t_show_stats() {
	j=$(MM show alice@example.test --json) || return 1
	printf '%s\n' "$j" | "$PYTHON" -c '
import base64, hashlib, http.client, json, sys, urllib.parse
url, pw = sys.argv[1], sys.argv[3]
u = urllib.parse.urlsplit(url)
conn = http.client.HTTPConnection(u.hostname, u.port)
auth = "Basic " + base64.b64encode(("alice@example.test:" + pw).encode()).decode()
v = json.load(sys.stdin)["dav"]
colls = {c["name"]: c for c in v}
assert sorted(colls) == ["contacts", "family", "work"], sorted(colls)
assert colls["work"]["items"] == 4 and colls["family"]["items"] == 0, v
assert colls["contacts"]["items"] == int(sys.argv[2]), colls["contacts"]
assert colls["contacts"]["kind"] == "addressbook" and colls["work"]["kind"] == "calendar"
assert len(colls["work"]["item_list"]) == 4
for it in colls["work"]["item_list"]:
    conn.request("GET", urllib.parse.urlsplit(it["old_url"]).path, None, {"Authorization": auth})
    r = conn.getresponse()
    want = hashlib.sha256(r.read()).hexdigest()
    assert r.status == 200 and it["sha256"] == want, (it["old_url"], it["sha256"], want)
' "$OLD_DAV" "$NCONTACTS" "$PW" || return 1
	txt=$(MM show alice@example.test) || return 1
	assert_contains "$txt" "Calendars and address books copied:"
	printf '%s\n' "$txt" | grep -Eq "^contacts +addressbook +$NCONTACTS +http://" ||
		{ echo "$txt"; return 1; }
	st=$(MM stats) || return 1
	printf '%s\n' "$st" | grep -Eq "^Calendars, address books: +3 \\($((NCONTACTS + 4)) items\\)\$" ||
		{ echo "$st"; return 1; }
	n=$(MM stats --json | "$PYTHON" -c 'import json,sys; v=json.load(sys.stdin); print(v["dav_collections"], v["dav_items"])')
	assert_eq "3 $((NCONTACTS + 4))" "$n" "stats dav"
}

# Changed, new and deleted items on OLD; an item the user changed on NEW
# and OLD changed too: NEW's kept, a failed item.
t_second_round() {
	a=alice@example.test
	dav get old "$a/work/weekly.ics" |
		sed 's/^SUMMARY:Standup\r$/SUMMARY:Standup (neu)\r/' >"$MM_DIR/weekly.ics"
	grep -q "Standup (neu)" "$MM_DIR/weekly.ics" || { echo "no change made"; return 1; }
	dav put old "$a/work/weekly.ics" "$MM_DIR/weekly.ics" || return 1
	dav get old "$a/contacts/contact-0001.vcf" | sed 's/^UID:contact-0001/UID:contact-new/' \
		>"$MM_DIR/new.vcf"
	dav put old "$a/contacts/contact-new.vcf" "$MM_DIR/new.vcf" || return 1
	dav delete old "$a/contacts/contact-0002.vcf" || return 1
	# both sides change the time-zone meeting
	dav get old "$a/work/meeting-tz.ics" | sed 's/^LOCATION:.*/LOCATION:Raum 1\r/' >"$MM_DIR/m1.ics"
	dav get new "$a/work/meeting-tz.ics" | sed 's/^LOCATION:.*/LOCATION:Raum 2\r/' >"$MM_DIR/m2.ics"
	dav put old "$a/work/meeting-tz.ics" "$MM_DIR/m1.ics" || return 1
	dav put new "$a/work/meeting-tz.ics" "$MM_DIR/m2.ics" || return 1
	MM sync "$a" >/dev/null || { echo "sync refused"; return 1; }
	run_once
	n=$(dav get new "$a/work/weekly.ics") || return 1
	assert_contains "$n" "SUMMARY:Standup (neu)"
	dav get new "$a/contacts/contact-new.vcf" | grep -q "UID:contact-new" ||
		{ echo "the new contact is not on NEW"; return 1; }
	dav get new "$a/contacts/contact-0002.vcf" | grep -q "UID:contact-0002" ||
		{ echo "the contact deleted on OLD is gone from NEW"; return 1; }
	dav get new "$a/work/meeting-tz.ics" | grep -q "LOCATION:Raum 2" ||
		{ echo "NEW's change was overwritten"; return 1; }
	ev=$(MM log --account "$a" 2>&1)
	assert_contains "$ev" "caldav: 2 calendars on OLD (0 made on NEW, 1 unchanged since copied); items: 1 copied, 2 unchanged since copied, 0 already the same on NEW, 1 not copied (failed items, 1 of them changed on both sides)"
	assert_contains "$ev" "carddav: 1 address books on OLD (0 made on NEW, 0 unchanged since copied); items: 1 copied, $((NCONTACTS - 1)) unchanged since copied"
	assert_contains "$ev" "gone from OLD since copied, kept on NEW: 0 address books, 1 items: \"carddav:contacts/contact-0002.vcf\""
	f=$(MM failed "$a" --csv)
	assert_contains "$f" "caldav:work/meeting-tz.ics"
	assert_contains "$f" "changed on OLD and on NEW since it was copied"
}

# Nothing changed on OLD since: every collection skipped by its ctag,
# but the one with a failed item, listed again.
t_third_round() {
	a=alice@example.test
	MM sync "$a" >/dev/null || return 1
	run_once
	ev=$(MM log --account "$a" 2>&1 | tail -n 20)
	assert_contains "$ev" "carddav: 1 address books on OLD (0 made on NEW, 1 unchanged since copied); items: 0 copied"
	assert_contains "$ev" "caldav: 2 calendars on OLD (0 made on NEW, 1 unchanged since copied); items: 0 copied, 3 unchanged since copied"
}

# verify: every item recorded against NEW now: the one the user changed
# on NEW counted as changed; one deleted on NEW makes the account differ.
t_verify() {
	a=alice@example.test
	out=$(MM verify "$a") || { echo "$out"; return 1; }
	assert_contains "$out" "Calendars and address books: 3 collections, $((NCONTACTS + 4)) items copied: $((NCONTACTS + 3)) on NEW as copied, 1 changed on NEW since, 0 gone; 1 not copied (failed items)"
	assert_contains "$out" "$a: every message accounted for"
	dav delete new "$a/contacts/contact-0005.vcf" || return 1
	out=$(MM verify "$a" --json)
	printf '%s\n' "$out" | "$PYTHON" -c '
import json, sys
a = json.load(sys.stdin)["accounts"][0]
d = a["dav"]
assert a["result"] == "differs", a
assert d["gone"] == 1 and d["changed_on_new"] == 1 and d["checked"], d
assert any("contact-0005.vcf" in w for w in a["differences"]), a["differences"]
' || { echo "$out"; return 1; }
}

# preflight: OLD's calendars and address books counted for the USER,
# NEW's DAV server answering for each domain with migrate_dav; the
# redirect loop of example.org's OLD a failure.
t_preflight() {
	out=$(printf '%s\n%s\n' "$PW" "$PW" | MM preflight --json alice@example.test \
		loop@example.org)
	printf '%s' "$out" | "$PYTHON" -c '
import json, sys
n = int(sys.argv[1])
v = json.load(sys.stdin)
old = [c for c in v["checks"] if c["check"] == "old_dav"]
by = {c["domain"]: c for c in old}
a = by["example.test"]
assert a["status"] == "ok", a
assert (a["calendars"], a["calendar_items"], a["addressbooks"]) == (2, 4, 1), a
assert a["contacts"] == n, a     # one deleted, one added on OLD
assert by["example.org"]["status"] == "failed", by["example.org"]
assert "redirect" in by["example.org"]["message"], by["example.org"]
new = [c for c in v["checks"] if c["check"] == "new_dav"]
assert {c["domain"] for c in new} == {"example.test", "example.org", "bad.test"}, new
assert all(c["status"] == "ok" for c in new), new
' "$NCONTACTS" || { echo "$out" | head -c 3000; return 1; }
}

# Bad input: each a failed item or an event, the rest copied.
# A task list (supported-calendar-component-set VTODO, as Apple Reminders
# and Thunderbird make them) made on NEW as one, not as a calendar that
# takes every component: compare checks the set of every calendar.
t_task_list() {
	"$PYTHON" "$DATA" tasks "$ROOT_OLD" tasks@example.test || return 1
	add_account tasks@example.test
	run_once
	in_state tasks@example.test copied || return 1
	out=$(compare tasks@example.test) || { echo "$out"; return 1; }
	assert_eq "collections 1 items 1" "$out" "compare"
	printf '%s\n' "$PW" | "$PYTHON" -c '
import sys
sys.path.insert(0, sys.argv[1])
import dav_data
pw = sys.stdin.readline().rstrip("\n")
d = dav_data.Dav(sys.argv[2], "tasks@example.test", pw)
home = dav_data.home_path(sys.argv[2], "tasks@example.test")
props = d.propfind(home + "todo/", "0")[home + "todo/"]
assert props.get("components") == "VTODO", props
' "$(dirname "$DATA")" "$NEW_DAV" || return 1
}

t_bad_input() {
	b=bad@bad.test
	add_account "$b"
	"$PYTHON" - "$ROOT_OLD/$b" <<'EOP' || return 1
import json, os, sys
d = os.path.join(sys.argv[1], "cal")
os.makedirs(d)
json.dump({"tag": "VCALENDAR", "D:displayname": "Bad"}, open(os.path.join(d, ".Radicale.props"), "w"))
def cal(uid, extra=""):
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n"
            + (("UID:%s\r\n" % uid) if uid else "") +
            "DTSTAMP:20261201T100000Z\r\nDTSTART:20261203T100000Z\r\nSUMMARY:s\r\n"
            + extra + "END:VEVENT\r\nEND:VCALENDAR\r\n")
open(os.path.join(d, "good.ics"), "w").write(cal("good@t"))
open(os.path.join(d, "broken.ics"), "w").write(cal("broken@t"))
# listed by davproxy.py as "sl%2Fash.ics": a name NEW cannot be given
open(os.path.join(d, "slash.ics"), "w").write(cal("slash@t"))
# the UID of good.ics again: OLD keeps both, NEW refuses the second
# (RFC 4791 5.3.2.1, no-uid-conflict)
open(os.path.join(d, "twin.ics"), "w").write(cal("good@t", "LOCATION:x\r\n"))
# listed small; davproxy.py answers its GET with 50 MB
open(os.path.join(d, "huge.ics"), "w").write(cal("huge@t"))
EOP
	run_once
	st=$(show "$b" state)
	[ "$st" = copied ] || { echo "state $st"; show "$b" last_error; return 1; }
	dav get new "$b/cal/good.ics" | grep -q "UID:good@t" || { echo "good.ics not on NEW"; return 1; }
	f=$(MM failed "$b" --csv)
	assert_contains "$f" "caldav:cal/huge.ics"
	assert_contains "$f" "max_dav_item_size"
	assert_contains "$f" "caldav:cal/broken.ics"
	assert_contains "$f" "server error 500"
	assert_contains "$f" "caldav:cal/twin.ics"
	assert_contains "$f" "status 409"
	assert_contains "$f" "caldav:cal/,"
	assert_contains "$f" "1 items whose names cannot be kept on NEW"
	assert_contains "$f" "sl%2Fash.ics"
	n=$(printf '%s\n' "$f" | grep -c "^$b,")
	assert_eq 4 "$n" "bad@'s failed items"
}

# A redirect loop as OLD's DAV server: a failed item "caldav:" and one
# "carddav:" naming the loop; the mail is copied.
t_redirect_loop() {
	l=loop@example.org
	add_account "$l"
	run_once
	st=$(show "$l" state)
	[ "$st" = copied ] || { echo "state $st"; show "$l" last_error; return 1; }
	f=$(MM failed "$l" --csv)
	assert_contains "$f" "caldav:,"
	assert_contains "$f" "carddav:,"
	assert_contains "$f" "redirect"
}

# No migrate_dav: nothing of DAV, not even an attempt.
# target_dav_admin_user: NEW's Radicale logged in to as dav-admin (its
# rights file lets it at every user's collections), target_dav_url each
# user's home. adm@ has no DAV login on NEW at all: its home is made,
# its task list copied; and after the finish round (which wipes the
# captured password) verify still checks NEW. Last: it finishes all.
t_admin_new() {
	a=adm@example.test
	printf '%s\n' "$PW" | sh "$RAD" adduser "$MM_DIR/dav-old" "$a" || return 1
	"$PYTHON" "$DATA" tasks "$ROOT_OLD" "$a" || return 1
	printf 'dav admin pw\n' >"$MM_DIR/dav-admin.pw"
	chmod 600 "$MM_DIR/dav-admin.pw"
	"$PYTHON" - "$CONF" "$NEW_DAV" "$MM_DIR/dav-admin.pw" <<'EOP' || return 1
import sys
conf, new, pwf = sys.argv[1:4]
lines = open(conf).read().split("\n")
i = lines.index("[domain example.test]")
j = next(k for k in range(i, len(lines)) if lines[k].startswith("target_dav_url"))
lines[j] = "target_dav_url = %s%%u/" % new
lines[j + 1:j + 1] = ["target_dav_admin_user = dav-admin",
                      "target_dav_admin_password_file = %s" % pwf]
open(conf, "w").write("\n".join(lines))
EOP
	add_account "$a"
	run_once
	in_state "$a" copied || return 1
	printf 'dav admin pw\n' | "$PYTHON" -c '
import sys, urllib.parse
sys.path.insert(0, sys.argv[1])
import dav_data
pw = sys.stdin.readline().rstrip("\n")
d = dav_data.Dav(sys.argv[2], "dav-admin", pw)
home = urllib.parse.urlsplit(sys.argv[2]).path.rstrip("/") + "/adm@example.test/"
props = d.propfind(urllib.parse.quote(home + "todo/"), "1")
assert props[home + "todo/"].get("components") == "VTODO", props
assert home + "todo/todo-1.ics" in props, props
' "$(dirname "$DATA")" "$NEW_DAV" || return 1
	MM finish >/dev/null || return 1
	run_once
	in_state "$a" finished || return 1
	MM verify "$a" --json | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)["accounts"][0]["dav"]
assert d["checked"] and d["same"] == 1 and d["gone"] == 0, d
' || return 1
}

t_switch_off() {
	o=off@example.net
	add_account "$o"
	run_once
	st=$(show "$o" state)
	[ "$st" = copied ] || { echo "state $st"; return 1; }
	ev=$(MM log --account "$o" 2>&1)
	case $ev in *caldav*|*carddav*) echo "DAV without migrate_dav: $ev"; return 1 ;; esac
	n=$(show "$o" dav)
	assert_eq "[]" "$n" "show dav"
}

check "first round: calendars and address books on NEW" t_first_round
check "show and stats" t_show_stats
check "second round: changed, new, deleted, both changed" t_second_round
check "third round: nothing changed" t_third_round
check "verify" t_verify
check "preflight: OLD's calendars per user, NEW's DAV server" t_preflight
check "a task list stays one (its component set, VTODO)" t_task_list
check "bad input: 500, 50 MB, the rest copied" t_bad_input
check "a redirect loop as OLD" t_redirect_loop
check "migrate_dav off" t_switch_off
check "NEW's DAV as its administrator: no user login there, verify after the finish" t_admin_new
mm_done
