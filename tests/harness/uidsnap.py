#!/usr/bin/python3
"""uidsnap.py - what an IMAP or POP3 client has cached of a mailbox.

    uidsnap.py imap --host H --user U --password-file F [--authz USER]
               [--folder-map OLD=NEW ...] > snap.json
    uidsnap.py pop3 --host H --user U --password-file F > uidls.json
    uidsnap.py compare OLD.json NEW.json [--extra-ok FOLDER] [--skip FOLDER]

imap: per selectable folder (named by its path, "/" between levels,
without the personal prefix, renamed by --folder-map), UIDVALIDITY,
UIDNEXT and every UID with its flags (\\Recent left out). --authz logs
in as the master user (the user name) acting for USER (SASL PLAIN).
pop3: the UIDL list (USER/PASS; the user name may be "user*master").
compare: exit 1 naming the differences, else 0; UIDNEXT may be
higher on NEW (a UID once given is never given again there). --skip
leaves a folder out; --extra-ok allows a folder holding mail on NEW only.
"""
import argparse
import imaplib
import json
import os
import poplib
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402  (parse_list, path_of, path_key, mutf7)


def imap_snap(args):
    conn = imaplib.IMAP4(args.host, timeout=60)
    pw = corpus.read_password(args.password_file)
    authz = (args.authz or "").encode()
    conn.authenticate("PLAIN", lambda _: authz + b"\0" + args.user.encode() + b"\0" + pw)
    sep = corpus.server_separator(conn)
    prefix = corpus.server_prefix(conn)
    fmap = corpus.parse_map(args.folder_map)
    out = {}
    for flags, delim, raw in corpus.parse_list(corpus.check(conn.list('""', "*"), "LIST")):
        if "\\Noselect" in flags or "\\NonExistent" in flags:
            continue
        key = corpus.path_key(corpus.path_of(raw, delim or sep, prefix))
        key = fmap.get(key, key)
        st = corpus.check(conn.status(corpus.imap_quote(raw), "(UIDVALIDITY UIDNEXT)"),
                          "STATUS " + raw)[0].decode()
        words = st[st.rindex("(") + 1:st.rindex(")")].split()
        status = dict(zip(words[::2], (int(w) for w in words[1::2])))
        corpus.check(conn.select(corpus.imap_quote(raw), readonly=True), "EXAMINE " + raw)
        typ, data = conn.uid("FETCH", "1:*", "(UID FLAGS)")
        uids = {}
        for item in data if typ == "OK" else []:
            if item is None:
                continue
            text = item[0] if isinstance(item, tuple) else item
            m = __import__("re").search(rb"UID (\d+)", text)
            if not m:
                continue
            fl = sorted(f.decode() for f in imaplib.ParseFlags(text) if f != b"\\Recent")
            uids[m.group(1).decode()] = fl
        out[key] = {"uidvalidity": status["UIDVALIDITY"], "uidnext": status["UIDNEXT"],
                    "uids": uids}
    conn.logout()
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


def pop3_snap(args):
    p = poplib.POP3(args.host, timeout=60)
    p.user(args.user)
    p.pass_(corpus.read_password(args.password_file).decode())
    uidls = sorted(line.split()[1].decode() for line in p.uidl()[1])
    p.quit()
    json.dump(uidls, sys.stdout)


def compare(args):
    old = json.load(open(args.old))
    new = json.load(open(args.new))
    if isinstance(old, list):
        if old != new:
            print("UIDLs differ: %d on OLD, %d on NEW; only on OLD %s, only on NEW %s"
                  % (len(old), len(new), sorted(set(old) - set(new))[:5],
                     sorted(set(new) - set(old))[:5]))
            return 1
        return 0
    bad = 0
    for name in sorted(old):
        if name in (args.skip or []):
            continue
        o, n = old[name], new.get(name)
        if n is None:
            print("%s: not on NEW" % name)
            bad += 1
            continue
        if o["uidvalidity"] != n["uidvalidity"]:
            print("%s: UIDVALIDITY %d on OLD, %d on NEW" % (name, o["uidvalidity"],
                                                           n["uidvalidity"]))
            bad += 1
        if n["uidnext"] < o["uidnext"]:
            print("%s: UIDNEXT %d on OLD, %d on NEW" % (name, o["uidnext"], n["uidnext"]))
            bad += 1
        if o["uids"] != n["uids"]:
            only_o = sorted(set(o["uids"]) - set(n["uids"]), key=int)
            only_n = sorted(set(n["uids"]) - set(o["uids"]), key=int)
            flags = [u for u in o["uids"] if u in n["uids"] and o["uids"][u] != n["uids"][u]]
            print("%s: UIDs differ: only on OLD %s, only on NEW %s, flags differ on %s"
                  % (name, only_o[:10], only_n[:10],
                     [(u, o["uids"][u], n["uids"][u]) for u in flags[:5]]))
            bad += 1
    for name in sorted(set(new) - set(old) - set(args.extra_ok or [])):
        if new[name]["uids"]:
            print("%s: on NEW only, with %d messages" % (name, len(new[name]["uids"])))
            bad += 1
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description="UIDVALIDITY, UIDs and flags as clients cache them")
    sub = ap.add_subparsers(dest="mode", required=True)
    for mode in ("imap", "pop3"):
        s = sub.add_parser(mode)
        s.add_argument("--host", required=True)
        s.add_argument("--user", required=True)
        s.add_argument("--password-file", required=True)
        if mode == "imap":
            s.add_argument("--authz")
            s.add_argument("--folder-map", action="append")
    s = sub.add_parser("compare")
    s.add_argument("old")
    s.add_argument("new")
    s.add_argument("--extra-ok", action="append")
    s.add_argument("--skip", action="append")
    args = ap.parse_args()
    if args.mode == "imap":
        imap_snap(args)
    elif args.mode == "pop3":
        pop3_snap(args)
    else:
        sys.exit(compare(args))


if __name__ == "__main__":
    main()
