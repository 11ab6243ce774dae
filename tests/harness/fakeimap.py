#!/usr/bin/python3
"""fakeimap.py - a scripted IMAP server standing in for OLD.

For what a real Dovecot will not do on demand: cut the connection in the
middle of a literal, never send its greeting, send a malformed FETCH
response, report an RFC822.SIZE that is not the size of what it sends,
change UIDVALIDITY (and renumber) between sessions.

    fakeimap.py --listen IP --port-file FILE --spec SPEC.json [faults]

SPEC.json: {"user": U, "password": P, "folders": [{"name": N,
"uidvalidity": V, "messages": [{"uid": 1, "file": PATH, "flags": [...],
"date": "01-Jan-2020 10:00:00 +0000"}]}]}
A message's date is sent as a quoted string ('"' and '\\' escaped), or
with "date_literal": true as a literal holding it byte for byte (CR LF
too: a hostile OLD). Flags are sent as they are written ("[a b (c)]").

Faults (session numbers count accepted connections from 1):
  --no-banner                 accept and say nothing
  --greeting LINE             send LINE (CRLF added) as the greeting instead
                              of "* OK ...", e.g. "*" or "+ x": no status
  --cut SESSION:UID:BYTES     in that session, send BYTES of UID's body
                              literal, then close the connection
  --malformed-fetch           answer the message listing with a bad item
  --size-lie UID:DELTA        report RFC822.SIZE = real size + DELTA
  --renumber SESSION:V:SHIFT  from that session on, UIDVALIDITY V and
                              every UID + SHIFT (a rebuilt index)
  --starttls-sessions N       offer STARTTLS (with --cert and --key) in
                              sessions 1..N only: from N+1 on it is gone,
                              as if stripped by someone on the path
  --pop3                      be a POP3 server instead, serving the INBOX
                              of SPEC (STLS as --starttls-sessions)
  --pop3-utf8 MODE            POP3: list UTF8 in CAPA (RFC 6856) and
                              "substitute": answer UTF8 with +OK; until a
                              session sent it, RETR of a message whose
                              header holds 8-bit bytes sends a generated
                              stand-in ("Cannot display Unicode content",
                              as Courier does) with LIST giving its size;
                              "refuse": answer UTF8 with -ERR (and
                              substitute as above)
  --drop-fetch UID            list UID, but leave it out of every body FETCH
                              without a word (as if expunged meanwhile):
                              a copy short by one that only a check of
                              OLD against what was copied can see
  --admin USER:PASS           an administrator: AUTHENTICATE PLAIN as USER
                              acting for SPEC's user (authzid) succeeds, and
                              that session sees SPEC's folders but not its
                              INBOX (as a Cyrus admin without virtual
                              domains sees other users' folders)
  --slow UID:SECONDS          send UID's body literal in 20 pieces spread
                              over SECONDS (a slow OLD, a large message)
  --utf8-accept               list ENABLE and UTF8=ACCEPT (RFC 6855); after
                              "ENABLE UTF8=ACCEPT" folder names are listed
                              as quoted UTF-8 strings and taken back so;
                              until then a message whose header holds
                              8-bit bytes is served as a generated
                              stand-in (as Courier does), and LIST says
                              nothing of non-ASCII folders
Folder names that are not ASCII are listed as raw UTF-8 literals, as some
servers do instead of modified UTF-7 (without --utf8-accept).
The server writes one line per session to --log (if given): the session
number and the commands it got (bodies and passwords not included); "TLS"
once STARTTLS completed, so a LOGIN before it was sent in plaintext.
"""
import argparse
import base64
import json
import os
import re
import socket
import socketserver
import ssl
import sys
import threading
import time

LOCK = threading.Lock()
SESSIONS = [0]


class Spec:
    def __init__(self, path):
        with open(path) as f:
            self.d = json.load(f)
        self.bodies = {}
        for folder in self.d["folders"]:
            for m in folder["messages"]:
                with open(m["file"], "rb") as f:
                    self.bodies[m["file"]] = f.read()


def parse_set(text, maxuid):
    """UID set "1:*", "3,5,7:9" -> predicate."""
    ranges = []
    for part in text.split(","):
        if ":" in part:
            a, b = part.split(":", 1)
            a = maxuid if a == "*" else int(a)
            b = maxuid if b == "*" else int(b)
            ranges.append((min(a, b), max(a, b)))
        else:
            v = maxuid if part == "*" else int(part)
            ranges.append((v, v))
    return lambda u: any(a <= u <= b for a, b in ranges)


class Handler(socketserver.StreamRequestHandler):
    def setup(self):
        super().setup()
        with LOCK:
            SESSIONS[0] += 1
            self.session = SESSIONS[0]
        self.log = []
        self.selected = None
        self.tls = False
        self.utf8 = False
        self.admin = False

    def finish(self):
        if self.tls:
            try:
                self.request.close()
            except OSError:
                pass
        args = self.server.args
        if args.log:
            with LOCK, open(args.log, "a") as f:
                f.write("%d %s\n" % (self.session, " | ".join(self.log)))
        try:
            super().finish()
        except OSError:
            pass

    def caps(self):
        """The capabilities of this session: STARTTLS while offered."""
        args = self.server.args
        if (args.starttls_sessions is not None and not self.tls
                and self.session <= args.starttls_sessions):
            return "IMAP4rev1 NAMESPACE STARTTLS"
        caps = "IMAP4rev1 NAMESPACE"
        if args.utf8_accept:
            caps += " ENABLE UTF8=ACCEPT"
        if args.admin:
            caps += " AUTH=PLAIN"
        return caps

    def starttls(self, tag):
        """OK, then the server side of the handshake on the socket."""
        self.send("%s OK Begin TLS negotiation now\r\n" % tag)
        self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        self.connection = self.request
        self.rfile = self.request.makefile("rb")
        self.wfile = self.request.makefile("wb")
        self.tls = True
        self.log.append("TLS")

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.wfile.write(data)
        self.wfile.flush()

    def renumber(self):
        r = self.server.args.renumber
        if r is not None and self.session >= r[0]:
            return r[1], r[2]
        return None, 0

    def folder(self, name):
        for f in self.server.spec.d["folders"]:
            if f["name"] == name or (name.upper() == "INBOX" == f["name"].upper()):
                return f
        return None

    def messages(self):
        f = self.selected
        _, shift = self.renumber()
        out = []
        for seq, m in enumerate(f["messages"], 1):
            out.append((seq, m["uid"] + shift, m))
        return out

    def handle(self):
        args = self.server.args
        if args.no_banner:
            # Hold the connection open, silent, until the client leaves.
            try:
                while self.rfile.read(1):
                    pass
            except OSError:
                pass
            return
        if args.greeting is not None:
            self.send(args.greeting + "\r\n")
        else:
            self.send("* OK [CAPABILITY %s] fake OLD ready\r\n" % self.caps())
        while True:
            line = self.rfile.readline(65536)
            if not line:
                return
            # A synchronising literal at the end of the line: ask for
            # it, take it as the last argument's text (folder names).
            m = re.search(rb"\{(\d+)\}\r?\n$", line)
            if m is not None:
                self.send("+ go ahead\r\n")
                lit = self.rfile.read(int(m.group(1)))
                tail = self.rfile.readline(65536)
                line = line[:m.start()] + b'"' + lit + b'"' + tail
            line = line.decode("utf-8", "replace").rstrip("\r\n")
            parts = line.split(" ", 2)
            if len(parts) < 2:
                self.send("* BAD no tag\r\n")
                continue
            tag, cmd = parts[0], parts[1].upper()
            rest = parts[2] if len(parts) > 2 else ""
            self.log.append(cmd if cmd != "UID" else "UID " + rest.split(" ")[0].upper())
            try:
                if not self.command(tag, cmd, rest):
                    return
            except (BrokenPipeError, ConnectionResetError):
                return

    def command(self, tag, cmd, rest):
        spec = self.server.spec.d
        if cmd == "CAPABILITY":
            self.send("* CAPABILITY %s\r\n%s OK done\r\n" % (self.caps(), tag))
        elif cmd == "STARTTLS" and "STARTTLS" in self.caps():
            self.starttls(tag)
        elif cmd == "LOGIN":
            words = re.findall(r'"((?:[^"\\]|\\.)*)"|(\S+)', rest)
            vals = [a or b for a, b in words]
            if len(vals) == 2 and vals[0] == spec["user"] and vals[1] == spec["password"]:
                self.send("%s OK logged in\r\n" % tag)
            else:
                self.send("%s NO [AUTHENTICATIONFAILED] bad login\r\n" % tag)
        elif cmd == "AUTHENTICATE" and rest.upper().startswith("PLAIN") and self.server.args.admin:
            ir = rest.split(" ", 1)[1] if " " in rest else None
            if ir is None:
                self.send("+ \r\n")
                ir = self.rfile.readline(65536).decode().strip()
            try:
                authz, authc, pw = base64.b64decode(ir).decode().split("\0")
            except ValueError:
                self.send("%s BAD bad PLAIN\r\n" % tag)
                return True
            admin, apw = self.server.args.admin.split(":", 1)
            if authc == admin and pw == apw and authz in ("", spec["user"]):
                self.admin = True
                self.log.append("ADMIN")
                self.send("%s OK logged in\r\n" % tag)
            elif authc == spec["user"] and pw == spec["password"] and authz in ("", authc):
                self.send("%s OK logged in\r\n" % tag)
            else:
                self.send("%s NO [AUTHENTICATIONFAILED] bad login\r\n" % tag)
        elif cmd == "NAMESPACE":
            self.send('* NAMESPACE (("" "/")) NIL NIL\r\n%s OK done\r\n' % tag)
        elif cmd == "ENABLE" and self.server.args.utf8_accept:
            if "UTF8=ACCEPT" in rest.upper().split():
                self.utf8 = True
                self.send("* ENABLED UTF8=ACCEPT\r\n")
            else:
                self.send("* ENABLED\r\n")
            self.send("%s OK enabled\r\n" % tag)
        elif cmd in ("LIST", "LSUB"):
            for f in spec["folders"]:
                if self.admin and f["name"].upper() == "INBOX":
                    continue
                raw = f["name"].encode()
                if self.server.args.utf8_accept:
                    if not raw.isascii() and not self.utf8:
                        continue
                    self.send(('* %s () "/" "' % cmd).encode()
                              + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
                              + b'"\r\n')
                elif raw.isascii():
                    self.send('* %s () "/" "%s"\r\n' % (cmd, f["name"]))
                else:
                    # 8-bit: as a literal, the way such servers send it.
                    self.send(('* %s () "/" {%d}\r\n' % (cmd, len(raw))).encode()
                              + raw + b"\r\n")
            self.send("%s OK done\r\n" % tag)
        elif cmd in ("EXAMINE", "SELECT"):
            name = rest.strip()
            if name.startswith('"') and name.endswith('"') and len(name) >= 2:
                name = re.sub(r'\\(.)', r'\1', name[1:-1])
            f = self.folder(name)
            if f is None:
                self.send("%s NO no such folder\r\n" % tag)
                return True
            self.selected = f
            v, _ = self.renumber()
            msgs = self.messages()
            uidnext = (msgs[-1][1] + 1) if msgs else 1
            self.send("* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft)\r\n"
                      "* %d EXISTS\r\n* 0 RECENT\r\n"
                      "* OK [UIDVALIDITY %d] ok\r\n* OK [UIDNEXT %d] ok\r\n"
                      "%s OK [READ-ONLY] done\r\n"
                      % (len(msgs), v or f["uidvalidity"], uidnext, tag))
        elif cmd == "UID":
            return self.uid_command(tag, rest)
        elif cmd == "LOGOUT":
            self.send("* BYE bye\r\n%s OK done\r\n" % tag)
            return False
        elif cmd == "NOOP":
            self.send("%s OK done\r\n" % tag)
        else:
            self.send("%s BAD unknown command\r\n" % tag)
        return True

    def uid_command(self, tag, rest):
        args = self.server.args
        m = re.match(r"FETCH (\S+) \((.*)\)$", rest, re.I)
        if m is None or self.selected is None:
            self.send("%s BAD unsupported\r\n" % tag)
            return True
        msgs = self.messages()
        maxuid = msgs[-1][1] if msgs else 0
        want = parse_set(m.group(1), maxuid)
        items = m.group(2).upper()
        bodies = self.server.spec.bodies
        for seq, uid, msg in msgs:
            if not want(uid):
                continue
            body = bodies[msg["file"]]
            if (args.utf8_accept and not self.utf8
                    and any(b >= 0x80 for b in body.split(b"\r\n\r\n", 1)[0])):
                body = SUBSTITUTE % uid
            if "BODY.PEEK[]" in items and uid in args.drop_fetch:
                self.log.append("DROP %d" % uid)
                continue
            if "BODY.PEEK[]" in items:
                cut = args.cut
                if cut is not None and cut[0] == self.session and cut[1] == uid:
                    self.send("* %d FETCH (UID %d BODY[] {%d}\r\n" % (seq, uid, len(body)))
                    self.send(body[:cut[2]])
                    self.log.append("CUT %d" % uid)
                    return False
                self.send("* %d FETCH (UID %d BODY[] {%d}\r\n" % (seq, uid, len(body)))
                slow = args.slow.get(uid)
                if slow is not None:
                    step = (len(body) + 19) // 20
                    for k in range(0, len(body), step):
                        time.sleep(slow / 20.0)
                        self.send(body[k:k + step])
                    self.log.append("SLOW %d" % uid)
                    self.send(b")\r\n")
                    continue
                self.send(body + b")\r\n")
                continue
            if args.malformed_fetch:
                self.send("* %d FETCH (UID %d RFC822.SIZE twelve)\r\n" % (seq, uid))
                continue
            size = len(body) + args.size_lie.get(msg["uid"], 0)
            if msg.get("date_literal"):
                raw = msg["date"].encode()
                date = "{%d}\r\n" % len(raw) + msg["date"]
            else:
                date = '"%s"' % msg["date"].replace("\\", "\\\\").replace('"', '\\"')
            out = ("* %d FETCH (UID %d FLAGS (%s) INTERNALDATE %s RFC822.SIZE %d"
                   % (seq, uid, " ".join(msg.get("flags", [])), date, size))
            if "HEADER.FIELDS" in items:
                hdr = body.split(b"\r\n\r\n", 1)[0] + b"\r\n"
                mid = b"".join(l + b"\r\n" for l in hdr.split(b"\r\n")
                               if l.lower().startswith(b"message-id:")) + b"\r\n"
                self.send(out + " BODY[HEADER.FIELDS (MESSAGE-ID)] {%d}\r\n" % len(mid))
                self.send(mid + b")\r\n")
            else:
                self.send(out + ")\r\n")
        self.send("%s OK fetch done\r\n" % tag)
        return True


SUBSTITUTE = (b"From: Mail Server <postmaster@fake.test>\r\n"
              b"Subject: Cannot display Unicode content\r\n"
              b"Message-ID: <substitute-%d@fake.test>\r\n"
              b"Content-Type: text/plain\r\n\r\n"
              b"This message contains Unicode content that your mail "
              b"client cannot display.\r\n")


class Pop3Handler(Handler):
    """--pop3: a POP3 OLD (RFC 1939, 2449, 2595, 6856) serving SPEC's
    INBOX: CAPA (STLS as --starttls-sessions says, UTF8 with
    --pop3-utf8), STLS, UTF8, USER, PASS, STAT, UIDL, LIST, RETR, QUIT.
    Logged like the IMAP commands."""

    def inbox(self):
        """[(msgnum, uid, bytes as this session would send them)]."""
        f = self.folder("INBOX")
        out = []
        for num, m in enumerate(f["messages"] if f else [], 1):
            body = self.server.spec.bodies[m["file"]]
            hdr = body.split(b"\r\n\r\n", 1)[0]
            if (self.server.args.pop3_utf8 and not self.utf8
                    and any(b >= 0x80 for b in hdr)):
                body = SUBSTITUTE % num
            out.append((num, m["uid"], body))
        return out

    def caps(self):
        args = self.server.args
        caps = ["USER", "UIDL"]
        if args.pop3_utf8:
            caps.append("UTF8 USER")
        if (args.starttls_sessions is not None and not self.tls
                and self.session <= args.starttls_sessions):
            caps.append("STLS")
        return caps

    def handle(self):
        spec = self.server.spec.d
        user = None
        self.utf8 = False
        self.send("+OK fake OLD ready\r\n")
        while True:
            line = self.rfile.readline(4096)
            if not line:
                return
            words = line.decode("utf-8", "replace").rstrip("\r\n").split(" ", 1)
            cmd, arg = words[0].upper(), (words[1] if len(words) > 1 else "")
            self.log.append(cmd)
            try:
                if cmd == "CAPA":
                    self.send("+OK\r\n" + "".join(c + "\r\n" for c in self.caps()) + ".\r\n")
                elif cmd == "STLS" and "STLS" in self.caps():
                    self.send("+OK Begin TLS negotiation\r\n")
                    self.request = self.server.tls.wrap_socket(self.request, server_side=True)
                    self.connection = self.request
                    self.rfile = self.request.makefile("rb")
                    self.wfile = self.request.makefile("wb")
                    self.tls = True
                    self.log.append("TLS")
                elif cmd == "UTF8" and self.server.args.pop3_utf8:
                    if self.server.args.pop3_utf8 == "refuse":
                        self.send("-ERR UTF8 not available\r\n")
                    elif user is not None:
                        self.send("-ERR UTF8 only before USER\r\n")
                    else:
                        self.utf8 = True
                        self.send("+OK UTF8 enabled\r\n")
                elif cmd == "USER":
                    user = arg
                    self.send("+OK\r\n")
                elif cmd == "PASS":
                    if user == spec["user"] and arg == spec["password"]:
                        self.send("+OK logged in\r\n")
                    else:
                        self.send("-ERR [AUTH] bad login\r\n")
                elif cmd == "STAT":
                    msgs = self.inbox()
                    self.send("+OK %d %d\r\n" % (len(msgs), sum(len(b) for _, _, b in msgs)))
                elif cmd == "UIDL":
                    self.send("+OK\r\n" + "".join("%d fake-%d\r\n" % (n, u)
                                                  for n, u, _ in self.inbox()) + ".\r\n")
                elif cmd == "LIST":
                    self.send("+OK\r\n" + "".join("%d %d\r\n" % (n, len(b))
                                                  for n, _, b in self.inbox()) + ".\r\n")
                elif cmd == "RETR":
                    msgs = self.inbox()
                    if not arg.isdigit() or not 1 <= int(arg) <= len(msgs):
                        self.send("-ERR no such message\r\n")
                        continue
                    body = msgs[int(arg) - 1][2]
                    if self.utf8 is False and body.startswith(b"From: Mail Server"):
                        self.log.append("SUBSTITUTE %s" % arg)
                    lines = body.split(b"\r\n")
                    if lines and lines[-1] == b"":
                        lines.pop()
                    out = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n"
                                   for l in lines)
                    self.send(b"+OK\r\n" + out + b".\r\n")
                elif cmd == "QUIT":
                    self.send("+OK bye\r\n")
                    return
                else:
                    self.send("-ERR unknown command\r\n")
            except (BrokenPipeError, ConnectionResetError):
                return


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--spec", required=True)
    ap.add_argument("--log")
    ap.add_argument("--no-banner", action="store_true")
    ap.add_argument("--greeting")
    ap.add_argument("--malformed-fetch", action="store_true")
    ap.add_argument("--cut", type=lambda s: tuple(int(x) for x in s.split(":")))
    ap.add_argument("--size-lie", action="append", default=[])
    ap.add_argument("--renumber", type=lambda s: tuple(int(x) for x in s.split(":")))
    ap.add_argument("--pop3", action="store_true")
    ap.add_argument("--pop3-utf8", choices=["substitute", "refuse"])
    ap.add_argument("--utf8-accept", action="store_true")
    ap.add_argument("--starttls-sessions", type=int)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--slow", action="append", default=[])
    ap.add_argument("--drop-fetch", action="append", type=int, default=[])
    ap.add_argument("--admin")
    args = ap.parse_args()
    if args.starttls_sessions is not None and not (args.cert and args.key):
        ap.error("--starttls-sessions needs --cert and --key")
    args.size_lie = {int(a): int(b) for a, b in (x.split(":") for x in args.size_lie)}
    args.slow = {int(a): float(b) for a, b in (x.split(":") for x in args.slow)}
    server = Server((args.listen, 0), Pop3Handler if args.pop3 else Handler)
    server.args = args
    server.spec = Spec(args.spec)
    server.tls = None
    if args.cert:
        server.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.tls.load_cert_chain(args.cert, args.key)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
