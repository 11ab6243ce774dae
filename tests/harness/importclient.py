#!/usr/bin/env python3
"""importclient.py - drive doveadm mailmigrate-import and check NEW.

    importclient.py identity  --doveadm D --user U --host IP --master-user M
                              --master-pass-file F [--sep S]
    importclient.py collision ... (same options)
    importclient.py kill      ...
    importclient.py killmove  ... (and --crash-file F)
    importclient.py bad       --doveadm D --user U

A client of the line protocol in doveadm-plugin/README, and the oracle:
what it sent is read back over IMAP (as U*M) and POP3 and compared,
UIDVALIDITY, UIDNEXT, UIDs, flags, keywords, INTERNALDATE (the instant:
Dovecot's index keeps no zone) and bodies byte for byte. Exit 0 when
every check held, 1 naming each that did not, 2 usage.
"""
import argparse
import datetime
import imaplib
import os
import poplib
import random
import re
import signal
import subprocess
import sys
import time

FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("not ok: " + what, file=sys.stderr)


class Import:
    """One doveadm mailmigrate-import session."""

    def __init__(self, doveadm, user, extra=()):
        self.p = subprocess.Popen([doveadm, "mailmigrate-import", "-u", user,
                                   *extra], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE)
        self.greeting = self.line()

    def line(self):
        s = self.p.stdout.readline()
        if not s:
            return None
        return s.rstrip(b"\n").decode("utf-8", "replace")

    def send(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def cmd(self, *fields):
        self.send("\t".join(fields).encode("utf-8") + b"\n")
        return self.line()

    def multi(self, *fields):
        """A command answered by '*' lines then one final line."""
        self.send("\t".join(fields).encode("utf-8") + b"\n")
        rows = []
        while True:
            s = self.line()
            if s is None or not s.startswith("*\t"):
                return rows, s
            rows.append(s.split("\t")[1:])

    def append(self, uid, flags, date, uidl, body):
        head = "\t".join(["APPEND", str(uid), flags, date, uidl,
                          str(len(body))]).encode()
        self.send(head + b"\n" + body)
        return self.line()

    def quit(self):
        ans = self.cmd("QUIT")
        self.p.stdin.close()
        self.p.wait(timeout=30)
        return ans


def body(rng, n, extra=b""):
    """A message of CRLF lines with 8-bit bytes, as OLD's IMAP serves."""
    lines = [b"From: a@example.test", b"Subject: m%d \xc3\xb6" % n,
             b"Message-ID: <m%d@example.test>" % n, b""]
    for _ in range(rng.randint(1, 40)):
        lines.append(bytes(rng.choice(b"abc xyz\xe4\xf6\xfc\x80\xff=")
                           for _ in range(rng.randint(0, 200))))
    return b"\r\n".join(lines) + extra


def imap(args):
    m = imaplib.IMAP4(args.host)
    with open(args.master_pass_file) as f:
        pw = f.read().strip()
    m.login(args.user + "*" + args.master_user, pw)
    return m, pw


def imap_quote(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def utf7(name):
    """IMAP modified UTF-7 (RFC 3501 5.1.3)."""
    out, buf = [], []

    def flush():
        if buf:
            b = "".join(buf).encode("utf-16-be")
            import base64
            out.append("&" + base64.b64encode(b).decode().rstrip("=")
                       .replace("/", ",") + "-")
            buf.clear()
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            buf.append(ch)
    flush()
    return "".join(out)


def read_folder(m, name):
    """UIDVALIDITY, UIDNEXT and {uid: (flags set, internaldate, body)}."""
    typ, data = m.status(imap_quote(utf7(name)), "(UIDVALIDITY UIDNEXT MESSAGES)")
    st = dict(re.findall(rb"(UIDVALIDITY|UIDNEXT|MESSAGES) (\d+)", data[0]))
    m.select(imap_quote(utf7(name)), readonly=True)
    msgs = {}
    if int(st[b"MESSAGES"]) > 0:
        typ, data = m.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])")
        for item in data:
            if not isinstance(item, tuple):
                continue
            meta = item[0]
            uid = int(re.search(rb"UID (\d+)", meta).group(1))
            flags = set(re.search(rb"FLAGS \(([^)]*)\)", meta).group(1)
                        .decode().split())
            flags.discard("\\Recent")
            date = re.search(rb'INTERNALDATE "([^"]+)"', meta).group(1).decode()
            msgs[uid] = (flags, date, item[1])
    m.close()
    return int(st[b"UIDVALIDITY"]), int(st[b"UIDNEXT"]), msgs


def date_instant(imapdate):
    return int(datetime.datetime.strptime(imapdate, "%d-%b-%Y %H:%M:%S %z")
               .timestamp())


def t_identity(args):
    rng = random.Random(13)
    sep = args.sep
    folders = [("INBOX", "-", 1234567, 100),
               ("Sent", "\\Sent", 77, 0),
               ("Archiv" + sep + "2019 \u00f6 & co", "-", 4000000000, 5000)]
    sent = {}
    s = Import(args.doveadm, args.user)
    check(s.greeting is not None and s.greeting.startswith("OK\tmailmigrate-import\t1\t"),
          "greeting: %r" % s.greeting)
    n = 0
    for name, use, uv, nextuid in folders:
        ans = s.cmd("FOLDER", name, use)
        check(ans is not None and ans.startswith("OK\t"), "FOLDER %s: %r" % (name, ans))
        # NEW's configuration makes Sent \Sent; Dovecot 2.3 sets none.
        check(ans is not None and ans.split("\t")[-1] == use,
              "FOLDER %s special-use: %r" % (name, ans))
        # OLD's UIDVALIDITY first; its UIDNEXT after the messages (a
        # min next UID above them would make Dovecot renumber them).
        ans = s.cmd("IDENTITY", str(uv), "0")
        check(ans is not None and ans.split("\t")[:2] == ["OK", str(uv)],
              "IDENTITY %s: %r" % (name, ans))
        msgs = {}
        uid = 0
        for i in range(6):
            uid += rng.randint(1, 9)
            n += 1
            flags = rng.choice(["-", "\\Seen", "\\Seen \\Flagged $Forwarded",
                                "\\Answered \\Draft work later", "\\Deleted"])
            when = 1230768000 + rng.randint(0, 360000000)
            zone = rng.choice(["+0100", "-0500", "+0000", "+0530"])
            uidl = "UIDL-%s-%d" % (name[:3], uid) if name == "INBOX" else "-"
            b = body(rng, n, b"" if i == 2 else b"\r\n")
            ans = s.append(uid, flags, "%d %s" % (when, zone), uidl, b)
            check(ans == "OK", "APPEND %s %d: %r" % (name, uid, ans))
            msgs[uid] = (set() if flags == "-" else set(flags.split()), when, b, uidl)
        rows, fin = s.multi("COMMIT")
        check(fin is not None and fin.startswith("OK\t6\t%d\t" % uv), "COMMIT %s: %r" % (name, fin))
        check([(int(a), int(b)) for a, b in rows] == [(u, u) for u in msgs],
              "COMMIT %s kept every UID: %r" % (name, rows))
        ans = s.cmd("IDENTITY", str(uv), str(nextuid))
        check(ans == "OK\t%d\t%d" % (uv, max(nextuid, max(msgs) + 1)),
              "IDENTITY %s reserve: %r" % (name, ans))
        rows, fin = s.multi("STATE", "1", "100")
        check([int(r[0]) for r in rows] == list(msgs), "STATE %s UIDs: %r" % (name, rows))
        check(all(int(r[0]) in msgs and int(r[1]) == len(msgs[int(r[0])][2]) for r in rows),
              "STATE %s sizes: %r" % (name, rows))
        check(all(int(r[0]) in msgs and
                  (set() if r[2] == "-" else set(r[2].split())) == msgs[int(r[0])][0]
                  for r in rows), "STATE %s flags: %r" % (name, rows))
        check(all(int(r[3]) == msgs[int(r[0])][1] and
                  r[4] == msgs[int(r[0])][3] for r in rows),
              "STATE %s dates and UIDLs: %r" % (name, rows))
        rows, fin = s.multi("LIST")
        check(fin == "OK" and any(r[3] == name for r in rows),
              "LIST shows %s: %r %r" % (name, rows, fin))
        sent[name] = (uv, max(nextuid, max(msgs) + 1), msgs)
    check(s.quit() == "OK\tbye", "QUIT")
    check(s.p.returncode == 0, "exit code %r" % s.p.returncode)

    m, pw = imap(args)
    for name, (uv, uidnext, msgs) in sent.items():
        guv, gnext, got = read_folder(m, name)
        check(guv == uv, "%s UIDVALIDITY %d, sent %d" % (name, guv, uv))
        check(gnext == uidnext, "%s UIDNEXT %d, expected %d" % (name, gnext, uidnext))
        check(sorted(got) == sorted(msgs), "%s UIDs %r, sent %r" % (name, sorted(got), sorted(msgs)))
        for uid, (flags, when, b, _) in msgs.items():
            if uid not in got:
                continue
            gflags, gdate, gbody = got[uid]
            check(gflags == flags, "%s %d flags %r, sent %r" % (name, uid, gflags, flags))
            check(date_instant(gdate) == when, "%s %d INTERNALDATE %s, sent %d" % (name, uid, gdate, when))
            check(gbody == b, "%s %d body differs (%d bytes, sent %d)" % (name, uid, len(gbody), len(b)))
    typ, data = m.list()
    listing = b"\n".join(data).decode("utf-8", "replace")
    check("\\Sent" in [x for x in re.findall(r"\(([^)]*)\) \"[^\"]*\" \"?Sent\"?$", listing, re.M)[0].split()]
          if re.search(r"\"?Sent\"?$", listing, re.M) else False, "Sent has \\Sent: %s" % listing)
    m.logout()

    p = poplib.POP3(args.host)
    p.user(args.user + "*" + args.master_user)
    p.pass_(pw)
    resp, lines, _ = p.uidl()
    uidls = [ln.split()[1].decode() for ln in lines]
    want = [msgs[u][3] for u in sorted(sent["INBOX"][2])
            for msgs in [sent["INBOX"][2]]]
    check(uidls == want, "POP3 UIDL %r, sent %r" % (uidls, want))
    p.quit()


def t_collision(args):
    rng = random.Random(5)
    s = Import(args.doveadm, args.user)
    s.cmd("FOLDER", "Coll", "-")
    ans = s.cmd("IDENTITY", "555", "10")
    check(ans == "OK\t555\t10", "IDENTITY: %r" % ans)
    for uid in (10, 11):
        s.append(uid, "-", "-", "-", body(rng, uid))
    rows, fin = s.multi("COMMIT")
    check(rows == [["10", "10"], ["11", "11"]], "first batch: %r" % rows)
    # 11 is taken (below UIDNEXT 12): Dovecot gives it a new UID above
    # every UID asked for in the batch; 12 is kept.
    b11, b12 = body(rng, 111), body(rng, 112)
    check(s.append(11, "\\Seen", "-", "-", b11) == "OK", "APPEND taken 11")
    check(s.append(12, "-", "-", "-", b12) == "OK", "APPEND 12")
    rows, fin = s.multi("COMMIT")
    check(rows == [["11", "13"], ["12", "12"]], "second batch answers %r" % rows)
    check(fin == "OK\t2\t555\t14", "second COMMIT %r" % fin)
    # IDENTITY with another UIDVALIDITY on a folder holding mail: refused.
    ans = s.cmd("IDENTITY", "556", "0")
    check(ans is not None and ans.startswith("NO\tfinal\tfolder holds 4 messages"),
          "IDENTITY on a full folder: %r" % ans)
    s.quit()
    m, _ = imap(args)
    uv, nxt, got = read_folder(m, "Coll")
    check((uv, nxt) == (555, 14), "Coll UIDVALIDITY/UIDNEXT %r" % ((uv, nxt),))
    check(sorted(got) == [10, 11, 12, 13], "Coll UIDs %r" % sorted(got))
    check(got.get(13, (0, 0, b""))[2] == b11 and got.get(12, (0, 0, b""))[2] == b12,
          "the moved message is under its new UID")
    m.logout()


def t_kill(args):
    rng = random.Random(9)
    msgs = [body(rng, i) for i in range(3)]
    s = Import(args.doveadm, args.user)
    s.cmd("FOLDER", "Crash", "-")
    s.cmd("IDENTITY", "900", "1")
    for i, b in enumerate(msgs):
        check(s.append(i + 1, "\\Seen", "-", "-", b) == "OK", "APPEND %d" % (i + 1))
    # Every message is saved (answered OK), none committed: kill -9.
    with open("/proc/%d/comm" % s.p.pid) as f:
        comm = f.read().strip()
    check(comm == "doveadm", "the pid is doveadm's (%s)" % comm)
    os.kill(s.p.pid, signal.SIGKILL)
    s.p.wait(timeout=30)
    check(s.p.returncode == -signal.SIGKILL, "killed: %r" % s.p.returncode)
    m, _ = imap(args)
    uv, nxt, got = read_folder(m, "Crash")
    check(got == {}, "after kill -9 the folder holds %r" % sorted(got))
    # The batch again: each message once, under its UID.
    s = Import(args.doveadm, args.user)
    ans = s.cmd("FOLDER", "Crash", "-")
    check(ans is not None and ans.split("\t")[3] == "0", "rerun FOLDER %r" % ans)
    for i, b in enumerate(msgs):
        s.append(i + 1, "\\Seen", "-", "-", b)
    rows, fin = s.multi("COMMIT")
    check(rows == [["1", "1"], ["2", "2"], ["3", "3"]], "rerun COMMIT %r" % rows)
    s.quit()
    uv, nxt, got = read_folder(m, "Crash")
    check(sorted(got) == [1, 2, 3] and [got[u][2] for u in (1, 2, 3)] == msgs,
          "after the rerun %r" % sorted(got))
    m.logout()


def t_killmove(args):
    """MOVEALL killed with its copies committed and its expunges not:
    the message is in both folders; the move again leaves each once."""
    rng = random.Random(11)
    msgs = [body(rng, i) for i in range(3)]
    parked = "Parked" + args.sep + "Own"
    s = Import(args.doveadm, args.user)
    s.cmd("FOLDER", "Own", "-")
    for b in msgs:
        s.append(0, "\\Flagged", "-", "-", b)
    rows, fin = s.multi("COMMIT")
    check(fin is not None and fin.startswith("OK\t3\t"), "COMMIT own mail %r" % fin)
    with open(args.crash_file, "w"):
        pass
    ans = s.cmd("MOVEALL", "Own", parked, "0")
    if ans is not None:
        s.p.stdin.close()
    s.p.wait(timeout=30)
    check(ans is None and s.p.returncode == -signal.SIGKILL,
          "MOVEALL killed: %r, exit %r" % (ans, s.p.returncode))
    check(not os.path.exists(args.crash_file), "the crash point was reached")
    m, _ = imap(args)
    _, _, own = read_folder(m, "Own")
    _, _, held = read_folder(m, parked)
    check(sorted(v[2] for v in own.values()) == sorted(msgs) and
          sorted(v[2] for v in held.values()) == sorted(msgs),
          "after the kill each message is in both: %d and %d" % (len(own), len(held)))
    # Again: only expunged from Own, not copied a second time.
    s = Import(args.doveadm, args.user)
    ans = s.cmd("MOVEALL", "Own", parked, "0")
    check(ans == "OK\t3", "MOVEALL again: %r" % ans)
    _, _, own = read_folder(m, "Own")
    _, _, held = read_folder(m, parked)
    check(own == {} and sorted(v[2] for v in held.values()) == sorted(msgs),
          "after the second move: Own %d, parked %d" % (len(own), len(held)))
    # And back, deleting the parked folder: each once, with its flag.
    ans = s.cmd("MOVEALL", parked, "Own", "1")
    check(ans == "OK\t3", "MOVEALL back: %r" % ans)
    s.quit()
    _, _, own = read_folder(m, "Own")
    check(sorted(v[2] for v in own.values()) == sorted(msgs) and
          all("\\Flagged" in v[0] for v in own.values()),
          "back in Own: %r" % [(v[0], len(v[2])) for v in own.values()])
    typ, data = m.list('""', imap_quote(utf7(parked)))
    check(data == [None], "the parked folder is gone: %r" % data)
    m.logout()


def t_bad(args):
    # Unknown command and bad fields: answered BAD, the session goes on
    # (a bad APPEND's literal is skipped).
    s = Import(args.doveadm, args.user)
    check(s.cmd("FETCH", "1") == "BAD\tunknown command", "unknown command")
    check(s.cmd("FOLDER", "INBOX") == "BAD\twrong number of fields for the command",
          "field count")
    s.cmd("FOLDER", "Bad", "-")
    check(s.append(1, "\\Bogus", "-", "-", b"x\r\n") == "BAD\tAPPEND: unknown system flag",
          "bad flag")
    check(s.append(1, "-", "1 +9999", "-", b"x\r\n") == "BAD\tAPPEND: bad date (want UNIXTIME +HHMM)",
          "bad date")
    rows, fin = s.multi("COMMIT")
    check(rows == [] and fin is not None and fin.startswith("OK\t0\t"), "nothing saved: %r" % fin)
    check(s.quit() == "OK\tbye", "QUIT after BADs")
    # A line over the limit: refused before it ends, the session ends.
    s = Import(args.doveadm, args.user)
    s.p.stdin.write(b"FOLDER\t" + b"a" * 9000)
    s.p.stdin.flush()
    ans = s.line()
    check(ans == "BAD\tline longer than 8191 bytes", "long line: %r" % ans)
    s.p.stdin.close()
    s.p.wait(timeout=30)
    check(s.p.returncode == 65, "long line exit %r" % s.p.returncode)
    # A literal over -m: refused before a byte of it is read.
    s = Import(args.doveadm, args.user, ("-m", "1000"))
    check(s.greeting.endswith("\t1000"), "greeting names the limit: %r" % s.greeting)
    s.cmd("FOLDER", "Bad", "-")
    s.send(b"APPEND\t1\t-\t-\t-\t1001\n")
    ans = s.line()
    check(ans == "BAD\tliteral size not a number or above 1000", "big literal: %r" % ans)
    s.p.stdin.close()
    s.p.wait(timeout=30)
    check(s.p.returncode == 65, "big literal exit %r" % s.p.returncode)
    # A control byte in a line.
    s = Import(args.doveadm, args.user)
    check(s.cmd("FOLDER", "a\x01b", "-") == "BAD\tcontrol character in line", "control byte")
    s.quit()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("test", choices=["identity", "collision", "kill", "killmove",
                                     "bad"])
    ap.add_argument("--doveadm", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--host")
    ap.add_argument("--master-user")
    ap.add_argument("--master-pass-file")
    ap.add_argument("--sep", default="/")
    ap.add_argument("--crash-file")
    args = ap.parse_args()
    {"identity": t_identity, "collision": t_collision, "kill": t_kill,
     "killmove": t_killmove, "bad": t_bad}[args.test](args)
    if FAILS:
        return 1
    print("ok: %s" % args.test)
    return 0


if __name__ == "__main__":
    sys.exit(main())
