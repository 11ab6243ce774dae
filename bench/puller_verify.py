#!/usr/bin/env python3
"""puller_verify.py - check a copy of the bench corpus on an IMAP server.

    puller_verify.py --host IP [--port 143] --user LOGIN --password-file F
                     --manifest MANIFEST.json [--sample 100] [--loose]
                     [--no-keywords] [--folder-map "Sent Messages=Sent"]...

Every corpus folder must exist (by its path components, so the hierarchy
separator may differ; --folder-map gives decoded alternatives with "/"
between levels) and hold exactly the corpus's number of messages, and no
other folder may hold mail.  Then a sample of messages (every Nth, plus
the biggest) is found by Message-ID and its body compared by sha256 with
the corpus, and its flags (system flags; keywords unless --no-keywords).
--loose ignores an X-TUID header field (mbsync adds one to every body).

Prints "verify: ok ..." and exits 0, or lists the differences and exits 1;
3 on a connection or login failure.
"""

import argparse
import base64
import hashlib
import imaplib
import json
import re
import sys


def mutf7_decode(raw):
    out, i = [], 0
    while i < len(raw):
        ch = raw[i]
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        end = raw.index("-", i + 1)
        seg = raw[i + 1:end]
        if seg == "":
            out.append("&")
        else:
            b64 = seg.replace(",", "/")
            b64 += "=" * (-len(b64) % 4)
            out.append(base64.b64decode(b64).decode("utf-16-be"))
        i = end + 1
    return "".join(out)


LIST_RE = re.compile(rb'^\((?P<attrs>[^)]*)\) (?:"(?P<sep>[^"]*)"|NIL) (?P<name>.*)$')


def unquote(b):
    b = b.strip()
    if b.startswith(b'"') and b.endswith(b'"'):
        b = b[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
    return b.decode("ascii")


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def strip_tuid(body):
    end = body.find(b"\r\n\r\n")
    head, rest = (body, b"") if end < 0 else (body[:end + 2], body[end + 2:])
    lines = head.split(b"\r\n")
    lines = [l for l in lines if not l.lower().startswith(b"x-tuid:")]
    return b"\r\n".join(lines) + rest


def main(argv):
    p = argparse.ArgumentParser(prog="puller_verify.py")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=143)
    p.add_argument("--user", required=True)
    p.add_argument("--password-file", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--sample", type=int, default=100)
    p.add_argument("--loose", action="store_true")
    p.add_argument("--no-keywords", action="store_true")
    p.add_argument("--folder-map", action="append", default=[])
    a = p.parse_args(argv)

    man = json.load(open(a.manifest, encoding="utf-8"))
    with open(a.password_file, encoding="utf-8") as f:
        password = f.read().rstrip("\n")
    try:
        m = imaplib.IMAP4(a.host, a.port, timeout=600)
        m.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (a.user, password)).encode())
    except (OSError, imaplib.IMAP4.error) as e:
        print("verify: cannot log in to %s as %s: %s" % (a.host, a.user, e))
        return 3

    typ, data = m.list('""', '"*"')
    on_new = {}     # tuple of decoded components -> raw name
    for item in data:
        if item is None:
            continue
        if isinstance(item, tuple):  # name sent as a literal
            head, lit = item
            mt = LIST_RE.match(head.rsplit(b" ", 1)[0] + b' "x"')
            raw = lit.decode("ascii")
        else:
            mt = LIST_RE.match(item)
            raw = unquote(mt.group("name"))
        attrs = mt.group("attrs").lower()
        if b"\\noselect" in attrs or b"\\nonexistent" in attrs:
            continue
        sep = (mt.group("sep") or b"/").decode()
        comps = raw.split(sep) if sep else [raw]
        on_new[tuple(mutf7_decode(c) for c in comps)] = raw

    fmap = {}
    for pair in a.folder_map:
        old, new = pair.split("=", 1)
        fmap[tuple(old.split("/"))] = tuple(new.split("/"))

    problems = []
    raw_of = {}
    expected_total = 0
    used = set()
    for fi, f in enumerate(man["folders"]):
        key = tuple(f["path"])
        new_key = key if key in on_new else fmap.get(key)
        if new_key not in on_new:
            problems.append("folder %s missing on NEW" % "/".join(key))
            continue
        used.add(new_key)
        raw = on_new[new_key]
        raw_of[fi] = raw
        typ, st = m.status(quote(raw), "(MESSAGES)")
        got = int(re.search(rb"MESSAGES (\d+)", st[0]).group(1))
        expected_total += f["messages"]
        if got != f["messages"]:
            problems.append("folder %s: %d messages on NEW, %d in the corpus"
                            % ("/".join(key), got, f["messages"]))
    for key, raw in on_new.items():
        if key in used:
            continue
        typ, st = m.status(quote(raw), "(MESSAGES)")
        got = int(re.search(rb"MESSAGES (\d+)", st[0]).group(1))
        if got:
            problems.append("extra folder %s holds %d messages" % ("/".join(key), got))

    # The sample: every Nth message and the biggest one.
    msgs = man["messages"]
    step = max(1, len(msgs) // max(1, a.sample))
    picks = set(range(0, len(msgs), step))
    picks.add(max(range(len(msgs)), key=lambda i: msgs[i]["size"]))
    by_folder = {}
    for i in sorted(picks):
        by_folder.setdefault(msgs[i]["folder"], []).append(i)
    checked = 0
    for fi, lst in by_folder.items():
        if fi not in raw_of:
            continue
        m.select(quote(raw_of[fi]), readonly=True)
        for i in lst:
            want = msgs[i]
            typ, data = m.uid("SEARCH", "HEADER", "Message-ID", quote(want["message_id"]))
            uids = data[0].split()
            if len(uids) != 1:
                problems.append("%s: %d copies on NEW" % (want["message_id"], len(uids)))
                continue
            typ, data = m.uid("FETCH", uids[0], "(FLAGS BODY.PEEK[])")
            meta, body = data[0]
            if a.loose:
                body = strip_tuid(body)
            if hashlib.sha256(body).hexdigest() != want["sha256"]:
                problems.append("%s: body differs (%d bytes, corpus %d)"
                                % (want["message_id"], len(body), want["size"]))
            flags = {f.decode() for f in imaplib.ParseFlags(meta)} - {"\\Recent"}
            expect = set(want["flags"])
            if not a.no_keywords:
                expect |= set(want["keywords"])
            else:
                flags = {f for f in flags if f.startswith("\\")}
            if flags != expect:
                problems.append("%s: flags %s, corpus %s" % (want["message_id"],
                                                          sorted(flags), sorted(expect)))
            checked += 1
    m.logout()
    if problems:
        for pr in problems[:30]:
            print("verify: " + pr)
        print("verify: FAILED (%d problems)" % len(problems))
        return 1
    print("verify: ok %d messages in %d folders, %d sampled bodies and flags match"
          % (expected_total, len(raw_of), checked))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
