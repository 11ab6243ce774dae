#!/usr/bin/python3
"""dav_data.py - calendars and address books for test_dav.sh and the DAV
bench, and a comparison of two DAV servers' copies.

  dav_data.py populate ROOT USER NCONTACTS [SEED]
      Writes a user's collections into a stopped or running Radicale's
      filesystem storage ROOT (its collection-root), as Radicale keeps
      them: a calendar "work" (display name, colour, description in
      UTF-8) with an event in a time zone, a weekly recurrence with an
      exception and an excluded date, an event with a 200 KB attachment
      and one whose name is not ASCII; a calendar "family" with nothing
      in it; an address book "contacts" with NCONTACTS vCards (UTF-8
      names, some with a photo). The same SEED gives the same bytes.

  dav_data.py tasks ROOT USER
      Writes a task list "todo" (a calendar whose component set is VTODO
      only) with one task into ROOT, as populate does.

  dav_data.py compare OLDURL NEWURL USER [--by-uid]
      (the password on stdin, the same on both)
      Lists USER's home on both servers (PROPFIND), and checks that NEW
      has every collection of OLD under the same name with the same
      display name, colour, description and component set (a calendar's
      supported-calendar-component-set), and every item under the
      same name with the same content: the bytes as NEW's Radicale keeps
      what it is given (vobject's serialization of OLD's bytes); with
      --by-uid an item is matched by its UID, not its name (a copy
      that names items itself, as vdirsyncer does). Prints
      "collections N items M" and exits 0, or the differences and 1.

  dav_data.py get URL USER  (password on stdin): prints the body.
  dav_data.py put URL USER FILE  (password on stdin): PUTs FILE.
  dav_data.py delete URL USER  (password on stdin).
"""
import base64
import hashlib
import http.client
import json
import os
import random
import sys
import urllib.parse
import xml.etree.ElementTree as ET

NS = {"D": "DAV:", "C": "urn:ietf:params:xml:ns:caldav",
      "CR": "urn:ietf:params:xml:ns:carddav", "I": "http://apple.com/ns/ical/"}

TZ = ("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\n"
      "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n"
      "DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n"
      "END:DAYLIGHT\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\n"
      "TZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\n"
      "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n"
      "END:VTIMEZONE\r\n")


def cal(body, tz=False):
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mailmigrate//test//EN\r\n"
            + (TZ if tz else "") + body + "END:VCALENDAR\r\n")


def fold(line):
    """RFC 5545 3.1: lines of at most 75 octets."""
    out, b = [], line.encode()
    while len(b) > 75:
        out.append(b[:75].decode())
        b = b" " + b[75:]
    out.append(b.decode())
    return "\r\n".join(out) + "\r\n"


def events(rnd):
    ev = {}
    ev["meeting-tz.ics"] = cal(
        "BEGIN:VEVENT\r\nUID:meeting-tz@example.test\r\nDTSTAMP:20261201T100000Z\r\n"
        "DTSTART;TZID=Europe/Berlin:20261207T090000\r\n"
        "DTEND;TZID=Europe/Berlin:20261207T100000\r\n"
        "SUMMARY:Besprechung \u00fcber \u00c4pfel \u2615\r\n"
        "LOCATION:B\u00fcro 3\r\nEND:VEVENT\r\n", tz=True)
    ev["weekly.ics"] = cal(
        "BEGIN:VEVENT\r\nUID:weekly@example.test\r\nDTSTAMP:20261201T100000Z\r\n"
        "DTSTART;TZID=Europe/Berlin:20261201T080000\r\n"
        "DTEND;TZID=Europe/Berlin:20261201T083000\r\n"
        "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=20\r\n"
        "EXDATE;TZID=Europe/Berlin:20261222T080000\r\n"
        "SUMMARY:Standup\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:weekly@example.test\r\nDTSTAMP:20261201T100000Z\r\n"
        "RECURRENCE-ID;TZID=Europe/Berlin:20261215T080000\r\n"
        "DTSTART;TZID=Europe/Berlin:20261215T093000\r\n"
        "DTEND;TZID=Europe/Berlin:20261215T100000\r\n"
        "SUMMARY:Standup (sp\u00e4ter)\r\nEND:VEVENT\r\n", tz=True)
    blob = base64.b64encode(bytes(rnd.getrandbits(8) for _ in range(150000))).decode()
    ev["with-attachment.ics"] = cal(
        "BEGIN:VEVENT\r\nUID:attach@example.test\r\nDTSTAMP:20261201T100000Z\r\n"
        "DTSTART:20261210T120000Z\r\nDTEND:20261210T130000Z\r\n"
        "SUMMARY:Vertrag (Anhang)\r\n"
        + fold("ATTACH;FMTTYPE=application/pdf;ENCODING=BASE64;VALUE=BINARY:" + blob)
        + "END:VEVENT\r\n")
    ev["r\u00e9union d\u00e9cembre.ics"] = cal(
        "BEGIN:VEVENT\r\nUID:reunion@example.test\r\nDTSTAMP:20261201T100000Z\r\n"
        "DTSTART;VALUE=DATE:20261224\r\nDTEND;VALUE=DATE:20261225\r\n"
        "SUMMARY:R\u00e9union \u2014 \u65e5\u672c\u8a9e\r\nEND:VEVENT\r\n")
    return ev


def contact(i, rnd):
    first = rnd.choice(["Anna", "J\u00fcrgen", "Zo\u00eb", "\u0141ukasz", "Mei", "Olu"])
    last = "M\u00fcller-%04d" % i
    card = ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:contact-%04d@example.test\r\n"
            "FN:%s %s\r\nN:%s;%s;;;\r\nEMAIL;TYPE=INTERNET:c%04d@example.org\r\n"
            "TEL;TYPE=CELL:+49 170 %07d\r\n" % (i, first, last, last, first, i,
                                                 rnd.randrange(10 ** 7)))
    if i % 500 == 0:
        photo = base64.b64encode(bytes(rnd.getrandbits(8) for _ in range(3000))).decode()
        card += fold("PHOTO;ENCODING=b;TYPE=JPEG:" + photo)
    return card + "END:VCARD\r\n"


def write_coll(root, user, name, props, items):
    d = os.path.join(root, user, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, ".Radicale.props"), "w", encoding="utf-8") as f:
        json.dump(props, f)
    for href, text in items.items():
        with open(os.path.join(d, href), "wb") as f:
            f.write(text.encode())


def populate(root, user, n, seed):
    rnd = random.Random(seed)
    write_coll(root, user, "work", {
        "tag": "VCALENDAR", "D:displayname": "Arbeit \u2013 B\u00fcro",
        "ICAL:calendar-color": "#3366ccff",
        "C:calendar-description": "Termine & Fristen <intern>"}, events(rnd))
    write_coll(root, user, "family", {"tag": "VCALENDAR",
                                      "D:displayname": "Familie"}, {})
    write_coll(root, user, "contacts", {
        "tag": "VADDRESSBOOK", "D:displayname": "Kontakte",
        "CR:addressbook-description": "Alle \u2013 5000"},
        {"contact-%04d.vcf" % i: contact(i, rnd) for i in range(n)})


def tasks(root, user):
    todo = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mailmigrate test//EN\r\n"
            "BEGIN:VTODO\r\nUID:todo-1@example.test\r\nDTSTAMP:20261201T090000Z\r\n"
            "SUMMARY:Steuererkl\u00e4rung\r\nDUE;VALUE=DATE:20270531\r\n"
            "STATUS:NEEDS-ACTION\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")
    write_coll(root, user, "todo", {"tag": "VCALENDAR", "D:displayname": "Aufgaben",
                                    "C:supported-calendar-component-set": "VTODO"},
               {"todo-1.ics": todo})


class Dav:
    def __init__(self, url, user, password):
        u = urllib.parse.urlsplit(url)
        self.base = url if url.endswith("/") else url + "/"
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        self.auth = "Basic " + base64.b64encode(
            ("%s:%s" % (user, password)).encode()).decode()
        self.user = user

    def req(self, method, path, body=None, headers=None):
        h = {"Authorization": self.auth}
        h.update(headers or {})
        self.conn.request(method, path, body, h)
        r = self.conn.getresponse()
        return r.status, r.read()

    def propfind(self, path, depth):
        body = ('<?xml version="1.0"?><D:propfind xmlns:D="DAV:" '
                'xmlns:C="urn:ietf:params:xml:ns:caldav" '
                'xmlns:CR="urn:ietf:params:xml:ns:carddav" '
                'xmlns:I="http://apple.com/ns/ical/"><D:prop><D:resourcetype/>'
                '<D:displayname/><I:calendar-color/><C:calendar-description/>'
                '<CR:addressbook-description/><C:supported-calendar-component-set/>'
                '<D:getetag/></D:prop></D:propfind>')
        st, data = self.req("PROPFIND", path, body, {"Depth": depth,
                                                     "Content-Type": "application/xml"})
        if st != 207:
            raise SystemExit("PROPFIND %s: %d" % (path, st))
        out = {}
        for resp in ET.fromstring(data).findall("D:response", NS):
            href = urllib.parse.unquote(resp.find("D:href", NS).text)
            props = {}
            for ps in resp.findall("D:propstat", NS):
                if " 200 " not in ps.find("D:status", NS).text:
                    continue
                for p in ps.find("D:prop", NS):
                    if p.tag == "{DAV:}resourcetype":
                        props["type"] = sorted(c.tag.split("}")[1] for c in p)
                    elif p.tag.endswith("}supported-calendar-component-set"):
                        props["components"] = ",".join(sorted(c.get("name") for c in p))
                    else:
                        props[p.tag.split("}")[1]] = p.text
            out[href] = props
        return out


def home_path(url, user):
    """The user's home as Radicale names it, not percent-encoded."""
    return urllib.parse.urlsplit(url).path.rstrip("/") + "/" + user + "/"


def normal(text):
    import vobject
    return vobject.readOne(text.decode()).serialize()


def uid_of(body):
    for line in body.decode(errors="replace").splitlines():
        if line.startswith("UID:"):
            return line[4:].strip()
    return None


def compare(old_url, new_url, user, by_uid):
    pw = sys.stdin.readline().rstrip("\n")
    old, new = Dav(old_url, user, pw), Dav(new_url, user, pw)
    oh, nh = home_path(old_url, user), home_path(new_url, user)
    ocolls = old.propfind(urllib.parse.quote(oh), "1")
    ncolls = new.propfind(urllib.parse.quote(nh), "1")
    bad, ncoll, nitems = [], 0, 0
    for href, props in sorted(ocolls.items()):
        if href.rstrip("/") == oh.rstrip("/") or "collection" not in props.get("type", []):
            continue
        name = href.rstrip("/").rsplit("/", 1)[1]
        nprops = ncolls.get(nh + name + "/")
        if nprops is None:
            bad.append("collection %s missing on NEW" % name)
            continue
        ncoll += 1
        for k in ("type", "displayname", "calendar-color", "calendar-description",
                  "addressbook-description", "components"):
            if k == "displayname" and props.get(k) == href.strip("/"):
                continue    # Radicale's path for an unnamed one
            if props.get(k) != nprops.get(k):
                bad.append("%s: %s %r on OLD, %r on NEW" % (name, k, props.get(k),
                                                           nprops.get(k)))
        oitems = old.propfind(urllib.parse.quote(href), "1")
        nitems_ = new.propfind(urllib.parse.quote(nh + name + "/"), "1")
        uids = {}
        if by_uid:
            for nhref in nitems_:
                if not nhref.endswith("/"):
                    uids[uid_of(new.req("GET", urllib.parse.quote(nhref))[1])] = nhref
        for ihref in sorted(oitems):
            if ihref.endswith("/"):
                continue
            iname = ihref.rsplit("/", 1)[1]
            nhref = nh + name + "/" + iname
            if by_uid:
                nhref = uids.get(uid_of(old.req("GET", urllib.parse.quote(ihref))[1]), "")
            if nhref not in nitems_:
                bad.append("%s/%s missing on NEW" % (name, iname))
                continue
            st1, ob = old.req("GET", urllib.parse.quote(ihref))
            st2, nb = new.req("GET", urllib.parse.quote(nhref))
            if st1 != 200 or st2 != 200:
                bad.append("%s/%s: GET %d %d" % (name, iname, st1, st2))
            elif normal(ob) != nb.decode() and normal(ob) != normal(nb):
                bad.append("%s/%s differs: sha256 OLD %s NEW %s" % (
                    name, iname, hashlib.sha256(ob).hexdigest()[:12],
                    hashlib.sha256(nb).hexdigest()[:12]))
            nitems += 1
    if bad:
        print("\n".join(bad[:20]))
        print("%d differences" % len(bad))
        return 1
    print("collections %d items %d" % (ncoll, nitems))
    return 0


def main(argv):
    if len(argv) >= 4 and argv[1] == "populate":
        populate(argv[2], argv[3], int(argv[4]), int(argv[5]) if len(argv) > 5 else 14)
        return 0
    if len(argv) >= 4 and argv[1] == "tasks":
        tasks(argv[2], argv[3])
        return 0
    if len(argv) >= 5 and argv[1] == "compare":
        return compare(argv[2], argv[3], argv[4], len(argv) > 5 and argv[5] == "--by-uid")
    if len(argv) >= 4 and argv[1] in ("get", "put", "delete"):
        pw = sys.stdin.readline().rstrip("\n")
        u = urllib.parse.urlsplit(argv[2])
        d = Dav(argv[2], argv[3], pw)
        if argv[1] == "get":
            st, body = d.req("GET", u.path)
            sys.stdout.buffer.write(body)
        elif argv[1] == "put":
            with open(argv[4], "rb") as f:
                st, body = d.req("PUT", u.path, f.read(), {"Content-Type": "text/calendar"
                                                          if u.path.endswith(".ics")
                                                          else "text/vcard"})
        else:
            st, body = d.req("DELETE", u.path)
        return 0 if 200 <= st < 300 else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
