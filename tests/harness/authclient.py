#!/usr/bin/env python3
"""authclient.py - log in to a server the way mail clients do, for the
auth-hook tests.

    authclient.py [options] imap|pop3 HOST USER PWFILE

The password is the first line of PWFILE (without its line end; never
argv).  IMAP logs in with AUTHENTICATE PLAIN (any bytes: spaces, quotes,
UTF-8, 500 bytes), POP3 with USER/PASS.  Prints one line:

    OK [subjects of INBOX, one per '|']     the session opened
    NO text                                  the login was refused (text:
                                             the server's, e.g.
                                             "[UNAVAILABLE] ..." or
                                             "-ERR [AUTH] ...")
Options:
    --inbox        after login, list INBOX's subjects (IMAP: all; POP3: TOP)
    --parallel N   N logins at once; prints "OK k" / "NO-text m" counts
    --hold FILE    after login, wait until FILE exists, then NOOP: prints
                   OK if the session is still up, else GONE
    --append SUBJ  after login, append a message with that subject (IMAP)
    --try-writes FOLDER  after login, try every way of changing INBOX and
                   FOLDER (an existing folder besides INBOX) and print, for
                   each, OK or NO (IMAP: append, copy, flag, seen, deleted,
                   expunge, create, rename, delete, rename-inbox; POP3: dele
                   then quit), e.g. "OK append=NO copy=NO ..."
Exit 0 when it ran (whatever the answer), 1 on a usage or setup error.
"""

import base64
import imaplib
import os
import poplib
import sys
import threading
import time
import email.parser
import email.header


def subj(raw):
    msg = email.parser.BytesHeaderParser().parsebytes(raw)
    s = msg.get("Subject", "")
    return str(email.header.make_header(email.header.decode_header(s)))


def imap_login(host, user, pw, opts):
    m = imaplib.IMAP4(host, timeout=60)
    try:
        blob = b"\0" + user.encode() + b"\0" + pw
        try:
            m.authenticate("PLAIN", lambda _: blob)
        except imaplib.IMAP4.error as e:
            return "NO " + str(e).strip("b'\"")
        out = "OK"
        if opts.get("append"):
            msg = ("From: t@example.test\r\nSubject: %s\r\n\r\nbody\r\n" % opts["append"]).encode()
            m.append("INBOX", None, None, msg)
        if opts.get("try-writes"):
            out += " " + imap_try_writes(m, opts["try-writes"])
        if opts.get("inbox"):
            typ, data = m.select("INBOX", readonly=True)
            subs = []
            if int(data[0]) > 0:
                typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
                subs = [subj(d[1]) for d in data if isinstance(d, tuple)]
            out += " " + "|".join(sorted(subs))
        if opts.get("hold"):
            while not os.path.exists(opts["hold"]):
                time.sleep(0.05)
            try:
                m.noop()
                m.noop()
                out = "OK"
            except Exception:
                return "GONE"
        try:
            m.logout()
        except Exception:
            pass
        return out
    finally:
        try:
            m.shutdown()
        except Exception:
            pass


def imap_raw(m, line, literal=None):
    """Send one command as it is (imaplib would refuse to send anything
    after a READ-ONLY SELECT); "OK" or "NO" by its tagged answer."""
    tag = m._new_tag()
    if literal is not None:
        m.send(tag + b" " + line + b" {%d}\r\n" % len(literal))
        while True:
            ans = m.readline()
            if ans.startswith(b"+"):
                m.send(literal + b"\r\n")
                break
            if ans.startswith(tag + b" "):
                return "NO"
    else:
        m.send(tag + b" " + line + b"\r\n")
    while True:
        ans = m.readline()
        if not ans:
            return "NO"
        if ans.startswith(tag + b" "):
            return "OK" if ans[len(tag) + 1:].startswith(b"OK") else "NO"


def imap_try_writes(m, folder):
    """Each command that would change INBOX or folder: "name=OK|NO"."""
    msg = b"From: t@example.test\r\nSubject: planted\r\n\r\nbody\r\n"
    f = folder.encode()
    imap_raw(m, b"SELECT INBOX")
    tries = [
        ("append", b"APPEND INBOX", msg),
        ("copy", b"UID COPY 1:* INBOX", None),
        ("flag", b"UID STORE 1:* +FLAGS (\\Flagged)", None),
        ("seen", b"UID STORE 1:* +FLAGS (\\Seen)", None),
        ("deleted", b"UID STORE 1:* +FLAGS (\\Deleted)", None),
        ("expunge", b"EXPUNGE", None),
        ("create", b"CREATE Planted", None),
        ("rename", b"RENAME " + f + b" Renamed", None),
        ("delete", b"DELETE " + f, None),
        ("rename-inbox", b"RENAME INBOX Moved", None),
    ]
    return " ".join("%s=%s" % (name, imap_raw(m, line, lit))
                    for name, line, lit in tries)


def pop3_login(host, user, pw, opts):
    p = poplib.POP3(host, timeout=60)
    try:
        try:
            p._shortcmd("USER " + user)
            p._shortcmd("PASS " + pw.decode("utf-8"))
        except poplib.error_proto as e:
            t = e.args[0]
            return "NO " + (t.decode("utf-8", "replace") if isinstance(t, bytes) else str(t))
        out = "OK"
        if opts.get("inbox"):
            n = p.stat()[0]
            subs = []
            for i in range(1, n + 1):
                subs.append(subj(b"\r\n".join(p.top(i, 0)[1]) + b"\r\n\r\n"))
            out += " " + "|".join(sorted(subs))
        if opts.get("try-writes"):
            # DELE marks, QUIT expunges: both must be refused or do nothing.
            for name, cmd in (("dele", "DELE 1"), ("quit", "QUIT")):
                try:
                    p._shortcmd(cmd)
                    out += " %s=OK" % name
                except poplib.error_proto:
                    out += " %s=NO" % name
            return out
        p.quit()
        return out
    finally:
        try:
            p.close()
        except Exception:
            pass


def main(argv):
    opts = {}
    args = []
    it = iter(argv[1:])
    for a in it:
        if a == "--inbox":
            opts["inbox"] = True
        elif a in ("--parallel", "--hold", "--append", "--try-writes"):
            opts[a[2:]] = next(it)
        else:
            args.append(a)
    if len(args) != 4 or args[0] not in ("imap", "pop3"):
        sys.stderr.write(__doc__)
        return 1
    proto, host, user, pwfile = args
    with open(pwfile, "rb") as f:
        pw = f.read().split(b"\n")[0]
    fn = imap_login if proto == "imap" else pop3_login
    if "parallel" in opts:
        n = int(opts["parallel"])
        res = []
        lock = threading.Lock()
        go = threading.Event()

        def one():
            go.wait()
            try:
                r = fn(host, user, pw, {})
            except Exception as e:
                r = "NO exception " + e.__class__.__name__
            with lock:
                res.append(r)
        ts = [threading.Thread(target=one) for _ in range(n)]
        for t in ts:
            t.start()
        go.set()
        for t in ts:
            t.join()
        counts = {}
        for r in res:
            counts[r] = counts.get(r, 0) + 1
        for k in sorted(counts):
            print("%d %s" % (counts[k], k))
        return 0
    print(fn(host, user, pw, opts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
