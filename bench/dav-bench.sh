#!/bin/sh
# shellcheck disable=SC2317  # cleanup is called through a trap
# dav-bench.sh - calendars and address books, OLD Radicale -> NEW
# Radicale, side by side in one run: mailmigrated's round (migrate_dav),
# vdirsyncer (Debian's) syncing the same data, and the floor: a minimal
# client that lists, GETs and PUTs each item once (Python http.client,
# one keep-alive connection each way), which is what NEW's Radicale
# costs whoever copies.
#
#   bench/dav-bench.sh [--contacts 5000] [--workdir /var/tmp/dav-bench]
#       [--keep] [--old-ip 127.0.22.2] [--new-ip 127.0.22.3]
#
# Each run starts from an empty NEW (its Radicale stopped, its storage
# removed, started again) and is checked with tests/integration/
# dav_data.py compare: every collection and item on NEW with OLD's
# content, else the run is reported FAILED. OLD holds the data of
# test_dav.sh (dav_data.py populate: two calendars, four events with a
# time zone, a recurrence, an attachment, a non-ASCII name, and an
# address book of --contacts vCards).
#
# Reported: wall-clock seconds of each, items copied, and the ratio to
# the floor and to vdirsyncer. Needs root and a built tree; starts
# Dovecot (mailmigrated copies the account's mail first: an empty
# mailbox here) with tests/harness/servers.sh and two Radicales with
# tests/harness/radicale.sh. Exit: 0 all runs verified, 1 one was not,
# 2 usage, 77 missing prerequisites.

set -u

HERE=$(cd "$(dirname "$0")" && pwd) || exit 1
SRC=$(cd "$HERE/.." && pwd)
BUILD=${top_builddir:-$SRC}
HARNESS=${HARNESS:-$SRC/tests/harness}
MAILMIGRATE=${MAILMIGRATE:-$BUILD/cli/mailmigrate}
MAILMIGRATED=${MAILMIGRATED:-$BUILD/puller/mailmigrated}
DATA=$SRC/tests/integration/dav_data.py
PYTHON=/usr/bin/python3

CONTACTS=5000
WORKDIR=/var/tmp/dav-bench
KEEP=0
OLD_IP=${MM_OLD_IP:-127.0.22.2}
NEW_IP=${MM_NEW_IP:-127.0.22.3}

say() { printf 'dav-bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
usage() { sed -n '9,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while [ $# -gt 0 ]; do
	case $1 in
	--contacts) CONTACTS=${2:?}; shift ;;
	--workdir) WORKDIR=${2:?}; shift ;;
	--keep) KEEP=1 ;;
	--old-ip) OLD_IP=${2:?}; shift ;;
	--new-ip) NEW_IP=${2:?}; shift ;;
	-h|--help) usage ;;
	*) say "unknown option $1"; usage ;;
	esac
	shift
done
case $CONTACTS in ''|*[!0-9]*) usage ;; esac

[ "$(id -u)" = 0 ] || { say "needs root (starts Dovecot)"; exit 77; }
for t in dovecot radicale vdirsyncer openssl "$PYTHON"; do
	command -v "$t" >/dev/null 2>&1 || { say "$t missing (sh tests/install-deps.sh)"; exit 77; }
done
for b in "$MAILMIGRATE" "$MAILMIGRATED"; do
	[ -x "$b" ] || { say "$b not built (make)"; exit 77; }
done

case $WORKDIR in /*) ;; *) WORKDIR=$(pwd)/$WORKDIR ;; esac
mkdir -p "$WORKDIR" && chmod 755 "$WORKDIR" || die "cannot create $WORKDIR"
SRV=$WORKDIR/srv
RESULTS=$WORKDIR/results.tsv
: >"$RESULTS"
FAILED=0
ACCT=alice@example.test
PW=$WORKDIR/pw

cleanup() {
	rc=$?
	trap - EXIT INT TERM HUP
	sh "$HARNESS/radicale.sh" stop "$WORKDIR/dav-old" >/dev/null 2>&1
	sh "$HARNESS/radicale.sh" stop "$WORKDIR/dav-new" >/dev/null 2>&1
	sh "$HARNESS/servers.sh" stop "$SRV" >/dev/null 2>&1
	[ "$KEEP" = 1 ] && say "kept $WORKDIR" || rm -rf "$SRV" "$WORKDIR/dav-old" \
		"$WORKDIR/dav-new" "$WORKDIR/mm" "$WORKDIR/vdir"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

rm -rf "$SRV" "$WORKDIR/dav-old" "$WORKDIR/dav-new" "$WORKDIR/mm" "$WORKDIR/vdir"
(umask 077 && openssl rand -hex 12 >"$PW") || die "no password"
for s in old new; do
	sh "$HARNESS/radicale.sh" adduser "$WORKDIR/dav-$s" "$ACCT" <"$PW" ||
		die "radicale adduser $s failed"
done
say "writing $CONTACTS contacts and the calendars into OLD's storage"
"$PYTHON" "$DATA" populate "$WORKDIR/dav-old/collections/collection-root" "$ACCT" \
	"$CONTACTS" || die "populate failed"
sh "$HARNESS/radicale.sh" start "$WORKDIR/dav-old" "$OLD_IP" >/dev/null ||
	die "OLD's radicale did not start"
OLD_DAV=$(. "$WORKDIR/dav-old/env" && echo "$MM_DAV_URL")
ITEMS=$((CONTACTS + 4))
# OLD's Radicale builds its item cache on the first listing: not timed.
"$PYTHON" - "$OLD_DAV" "$ACCT" "$PW" <<'EOP' || die "OLD's first listing failed"
import base64, http.client, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
auth = base64.b64encode(("%s:%s" % (sys.argv[2], open(sys.argv[3]).read().strip())).encode())
for coll in ("contacts", "work"):
    c.request("PROPFIND", "/%s/%s/" % (urllib.parse.quote(sys.argv[2]), coll), None,
              {"Authorization": "Basic " + auth.decode(), "Depth": "1"})
    r = c.getresponse(); r.read()
    assert r.status == 207, r.status
EOP

new_empty() {
	sh "$HARNESS/radicale.sh" stop "$WORKDIR/dav-new" >/dev/null 2>&1
	rm -rf "$WORKDIR/dav-new/collections"
	sh "$HARNESS/radicale.sh" start "$WORKDIR/dav-new" "$NEW_IP" >/dev/null ||
		die "NEW's radicale did not start"
	NEW_DAV=$(. "$WORKDIR/dav-new/env" && echo "$MM_DAV_URL")
}

# record NAME T0 T1 [--by-uid]: the run's time, checked against OLD
# (vdirsyncer names the items it makes by their UID: matched so).
record() {
	secs=$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
	if out=$(tr -d '\n' <"$PW" | { cat; echo; } |
		 "$PYTHON" "$DATA" compare "$OLD_DAV" "$NEW_DAV" "$ACCT" ${4:+"$4"} 2>&1) &&
	   [ "$out" = "collections 3 items $ITEMS" ]; then
		status=ok
	else
		status="FAILED: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
		FAILED=1
	fi
	printf '%s\t%s\t%s\t%s\n' "$1" "$secs" "$ITEMS" "$status" >>"$RESULTS"
	say "$(printf '%-12s %9s s  %6s items  %s' "$1" "$secs" "$ITEMS" "$status")"
}

# --- mailmigrated ------------------------------------------------------------
new_empty
mkdir -p "$SRV" && chmod 755 "$SRV"
MM_OLD_IP=$OLD_IP MM_NEW_IP=$NEW_IP sh "$HARNESS/servers.sh" start "$SRV" \
	>"$SRV.start.log" 2>&1 || { cat "$SRV.start.log" >&2; die "servers.sh start failed"; }
# shellcheck disable=SC1091
. "$SRV/env"
sh "$SERVERS_SH" adduser "$SRV" old "$ACCT" <"$PW" || die "adduser old failed"
sh "$SERVERS_SH" adduser "$SRV" new "$ACCT" --nopass </dev/null || die "adduser new failed"
mkdir -p "$WORKDIR/mm"
CONF=$WORKDIR/mm/mailmigrate.conf
cat >"$CONF" <<EOC
state_dir = $WORKDIR/mm/state
key_file = $WORKDIR/mm/secret.key
log_file = $WORKDIR/mm/mailmigrated.log
workers = 1
io_timeout = 600
target_host = $NEW_IP:$NEW_IMAP_PORT
target_master_user = $NEW_MASTER_USER
target_master_password_file = $NEW_MASTER_PASS_FILE

[domain example.test]
source_host = $OLD_IP
source_protocols = imap
source_tls = starttls
source_tls_ca_file = $CA_FILE
migrate_dav = yes
source_dav_url = $OLD_DAV
target_dav_url = $NEW_DAV
EOC
"$MAILMIGRATE" -c "$CONF" init >/dev/null || die "init failed"
{ printf '%s:' "$ACCT"; cat "$PW"; } | "$MAILMIGRATE" -c "$CONF" bulk - >/dev/null ||
	die "bulk failed"
t0=$(date +%s%N)
"$MAILMIGRATED" -c "$CONF" -f --once 2>>"$WORKDIR/mm/daemon.err" || die "mailmigrated failed"
t1=$(date +%s%N)
grep -q "carddav: 1 address books on OLD (1 made on NEW, 0 unchanged since copied); items: $CONTACTS copied" \
	"$WORKDIR/mm/mailmigrated.log" || say "mailmigrated's summary: $(grep dav: "$WORKDIR/mm/mailmigrated.log" | tail -n 2)"
record mailmigrated "$t0" "$t1"
sh "$HARNESS/servers.sh" stop "$SRV" >/dev/null 2>&1

# --- vdirsyncer ----------------------------------------------------------------
new_empty
V=$WORKDIR/vdir
mkdir -p "$V/status"
for kind in caldav carddav; do
	cat <<EOV
[pair $kind]
a = "old_$kind"
b = "new_$kind"
collections = ["from a"]
metadata = ["displayname", "color"]
conflict_resolution = "a wins"

[storage old_$kind]
type = "$kind"
url = "$OLD_DAV"
username = "$ACCT"
password.fetch = ["command", "cat", "$PW"]

[storage new_$kind]
type = "$kind"
url = "$NEW_DAV"
username = "$ACCT"
password.fetch = ["command", "cat", "$PW"]

EOV
done >"$V/config.body"
{ printf '[general]\nstatus_path = "%s/status/"\n\n' "$V"; cat "$V/config.body"; } >"$V/config"
t0=$(date +%s%N)
yes | VDIRSYNCER_CONFIG=$V/config vdirsyncer discover >"$V/discover.log" 2>&1 ||
	say "vdirsyncer discover: $(tail -n 3 "$V/discover.log")"
VDIRSYNCER_CONFIG=$V/config vdirsyncer sync >"$V/sync.log" 2>&1 ||
	say "vdirsyncer sync: $(tail -n 3 "$V/sync.log")"
VDIRSYNCER_CONFIG=$V/config vdirsyncer metasync >"$V/metasync.log" 2>&1 ||
	say "vdirsyncer metasync: $(tail -n 3 "$V/metasync.log")"
t1=$(date +%s%N)
# The peer's fidelity is reported, not ours to fail on (vdirsyncer
# renames the items and leaves the descriptions behind).
ours=$FAILED
record vdirsyncer "$t0" "$t1" --by-uid
FAILED=$ours

# --- the floor: list, GET, PUT each item once ----------------------------------------
new_empty
t0=$(date +%s%N)
"$PYTHON" - "$OLD_DAV" "$NEW_DAV" "$ACCT" "$PW" <<'EOP' || say "the floor's copy failed"
import base64, http.client, sys, urllib.parse
import xml.etree.ElementTree as ET
old, new, user, pwf = sys.argv[1:5]
auth = "Basic " + base64.b64encode(("%s:%s" % (user, open(pwf).read().strip())).encode()).decode()
def conn(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=600)
o, n = conn(old), conn(new)
def req(c, method, path, body=None, hdrs=None):
    h = {"Authorization": auth}
    h.update(hdrs or {})
    c.request(method, path, body, h)
    r = c.getresponse()
    return r.status, r.read()
home = "/" + urllib.parse.quote(user) + "/"
props = ('<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" '
         'xmlns:I="http://apple.com/ns/ical/" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:prop>'
         '<D:resourcetype/><D:displayname/><I:calendar-color/><C:calendar-description/>'
         '<CR:addressbook-description/></D:prop></D:propfind>')
NS = {"D": "DAV:"}
st, body = req(o, "PROPFIND", home, props, {"Depth": "1"})
for resp in ET.fromstring(body).findall("D:response", NS):
    href = resp.find("D:href", NS).text
    prop = resp.find("D:propstat/D:prop", NS)
    rt = prop.find("D:resourcetype", NS)
    kinds = [c.tag for c in rt] if rt is not None else []
    if href.rstrip("/") == home.rstrip("/") or not kinds:
        continue
    cal = "{urn:ietf:params:xml:ns:caldav}calendar" in kinds
    setp = "".join(ET.tostring(p, encoding="unicode") for p in prop
                   if p.tag != "{DAV:}resourcetype" and p.text)
    rtx = ("" if cal else '<D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>')
    root = "C:mkcalendar" if cal else "D:mkcol"
    mk = ('<?xml version="1.0"?><%s xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" '
          'xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>%s%s</D:prop></D:set></%s>'
          % (root, rtx, setp, root))
    st, _ = req(n, "MKCALENDAR" if cal else "MKCOL", href, mk.encode())
    assert st == 201, (href, st)
    st, lst = req(o, "PROPFIND", href, None, {"Depth": "1"})
    for r in ET.fromstring(lst).findall("D:response", NS):
        ih = r.find("D:href", NS).text
        if ih.endswith("/"):
            continue
        st, data = req(o, "GET", ih)
        st, _ = req(n, "PUT", ih, data, {"Content-Type": "text/calendar" if cal else "text/vcard",
                                         "If-None-Match": "*"})
        assert st in (201, 204), (ih, st)
EOP
t1=$(date +%s%N)
record floor "$t0" "$t1"

say "results (seconds; ratio: floor / run, 1.00 is as fast as the floor):"
awk -F '\t' '{ t[$1] = $2; s[$1] = $4 } END {
	split("mailmigrated vdirsyncer floor", order, " ")
	for (i = 1; i <= 3; i++) {
		n = order[i]
		if (!(n in t) || t[n] <= 0)
			continue
		v = ""
		if (n != "vdirsyncer" && t["vdirsyncer"] > 0)
			v = sprintf(", %.2fx the speed of vdirsyncer", t["vdirsyncer"] / t[n])
		printf "  %-12s %9.2f s  %.2f of the floor%s  %s\n", n, t[n], t["floor"] / t[n], v, s[n]
	}
}' "$RESULTS" >&2
exit "$FAILED"
