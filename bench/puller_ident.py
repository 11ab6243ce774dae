#!/usr/bin/env python3
"""puller_ident.py - did a copy keep OLD's identity, message by message?

    puller_ident.py snap --host IP [--port 143] --user LOGIN
                    --password-file F > snap.json
    puller_ident.py compare OLD.json NEW.json [OLD2.json NEW2.json ...]
                    [--loose]

snap: every selectable folder's UIDVALIDITY and, per message, its UID,
flags (\\Recent left out), RFC822.SIZE and Message-ID.  LOGIN may be
"user*master" (SASL PLAIN).

compare: pairs of snapshots (OLD then NEW, one pair per account).  Each
OLD message is found on NEW by its Message-ID (so folder names may
differ: "Sent Messages" may land in "Sent"); an OLD folder's NEW folder
is where its messages went.  Prints one line of key=value counts:
  folders       OLD folders holding mail
  uidvalidity   of them, those whose NEW folder has OLD's UIDVALIDITY
  messages      OLD messages
  found         of them, on NEW (once, by Message-ID)
  uid           of them, those with OLD's UID
  flags         of them, those with OLD's flags and keywords exactly
  size          of them, those with OLD's size (--loose: mbsync's
                X-TUID header field allowed, up to 40 bytes more)
  extra         messages on NEW that OLD does not have
then "ident: ..." lines naming the first differences.  Exit 0.
"""

import argparse
import imaplib
import json
import re
import sys

FETCH_RE = re.compile(rb"UID (\d+)|RFC822\.SIZE (\d+)")
MID_RE = re.compile(rb"^message-id:\s*(\S+)", re.I | re.M)
LIST_RE = re.compile(rb'^\((?P<attrs>[^)]*)\) (?:"(?P<sep>[^"]*)"|NIL) (?P<name>.*)$')


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unquote(b):
    b = b.strip()
    if b.startswith(b'"') and b.endswith(b'"'):
        b = b[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
    return b.decode("ascii")


def snap(a):
    with open(a.password_file, encoding="utf-8") as f:
        password = f.read().rstrip("\n")
    m = imaplib.IMAP4(a.host, a.port, timeout=600)
    m.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (a.user, password)).encode())
    typ, data = m.list('""', '"*"')
    names = []
    for item in data:
        if item is None:
            continue
        if isinstance(item, tuple):
            head, lit = item
            mt = LIST_RE.match(head.rsplit(b" ", 1)[0] + b' "x"')
            raw = lit.decode("ascii")
        else:
            mt = LIST_RE.match(item)
            raw = unquote(mt.group("name"))
        attrs = mt.group("attrs").lower()
        if b"\\noselect" in attrs or b"\\nonexistent" in attrs:
            continue
        names.append(raw)
    out = {}
    for raw in sorted(names):
        typ, st = m.status(quote(raw), "(UIDVALIDITY MESSAGES)")
        uv = int(re.search(rb"UIDVALIDITY (\d+)", st[0]).group(1))
        msgs = []
        if int(re.search(rb"MESSAGES (\d+)", st[0]).group(1)):
            m.select(quote(raw), readonly=True)
            typ, data = m.uid("FETCH", "1:*",
                              "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            for item in data:
                if not isinstance(item, tuple):
                    continue
                meta, hdr = item
                uid = size = None
                for u, s in FETCH_RE.findall(meta):
                    uid = int(u) if u else uid
                    size = int(s) if s else size
                flags = sorted(f.decode() for f in imaplib.ParseFlags(meta)
                               if f != b"\\Recent")
                mid = MID_RE.search(hdr)
                msgs.append([uid, flags, size, mid.group(1).decode() if mid else None])
        out[raw] = {"uidvalidity": uv, "messages": msgs}
    m.logout()
    json.dump(out, sys.stdout, sort_keys=True)
    return 0


def compare(a):
    if len(a.snaps) % 2:
        print("compare: snapshots come in pairs (OLD NEW)", file=sys.stderr)
        return 2
    c = dict(folders=0, uidvalidity=0, messages=0, found=0, uid=0, flags=0, size=0, extra=0)
    notes = []
    for i in range(0, len(a.snaps), 2):
        old = json.load(open(a.snaps[i], encoding="utf-8"))
        new = json.load(open(a.snaps[i + 1], encoding="utf-8"))
        where = {}      # Message-ID -> (folder, uid, flags, size), None if twice
        for name, f in new.items():
            for uid, flags, size, mid in f["messages"]:
                where[mid] = None if mid in where else (name, uid, flags, size)
        seen = set()
        for name, f in sorted(old.items()):
            if not f["messages"]:
                continue
            c["folders"] += 1
            targets = {}
            for uid, flags, size, mid in f["messages"]:
                c["messages"] += 1
                seen.add(mid)
                w = where.get(mid)
                if w is None:
                    if len(notes) < 10:
                        notes.append("%s UID %d (%s): %s on NEW" % (
                            name, uid, mid, "twice" if mid in where else "not"))
                    continue
                c["found"] += 1
                targets[w[0]] = targets.get(w[0], 0) + 1
                if w[1] == uid:
                    c["uid"] += 1
                elif len(notes) < 10:
                    notes.append("%s UID %d is UID %d in %s on NEW" % (name, uid, w[1], w[0]))
                if w[2] == flags:
                    c["flags"] += 1
                elif len(notes) < 10:
                    notes.append("%s UID %d flags %s, on NEW %s" % (name, uid, flags, w[2]))
                if w[3] == size or (a.loose and size is not None and w[3] is not None
                                    and 0 <= w[3] - size <= 40):
                    c["size"] += 1
                elif len(notes) < 10:
                    notes.append("%s UID %d size %s, on NEW %s" % (name, uid, size, w[3]))
            if targets:
                tgt = max(targets, key=targets.get)
                if new[tgt]["uidvalidity"] == f["uidvalidity"]:
                    c["uidvalidity"] += 1
                elif len(notes) < 10:
                    notes.append("%s UIDVALIDITY %d, on NEW (%s) %d" % (
                        name, f["uidvalidity"], tgt, new[tgt]["uidvalidity"]))
        c["extra"] += sum(1 for f in new.values() for m in f["messages"] if m[3] not in seen)
    print(" ".join("%s=%d" % (k, c[k]) for k in
                   ("folders", "uidvalidity", "messages", "found", "uid", "flags", "size",
                    "extra")))
    for n in notes:
        print("ident: " + n)
    return 0


def main(argv):
    ap = argparse.ArgumentParser(prog="puller_ident.py")
    sub = ap.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("snap")
    s.add_argument("--host", required=True)
    s.add_argument("--port", type=int, default=143)
    s.add_argument("--user", required=True)
    s.add_argument("--password-file", required=True)
    s = sub.add_parser("compare")
    s.add_argument("snaps", nargs="+")
    s.add_argument("--loose", action="store_true")
    a = ap.parse_args(argv)
    return snap(a) if a.mode == "snap" else compare(a)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
