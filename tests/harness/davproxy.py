#!/usr/bin/env python3
"""davproxy.py IP UPSTREAM PORTFILE [--fail PATH]... [--big PATH BYTES]...
[--rename FROM TO]... [--bearer TOKENS CREDS]:
an HTTP proxy in front of a DAV server (UPSTREAM, http://host:port/)
that passes every request on, but answers a GET of a --fail PATH with
500 (a server failing on one item), and one of a --big PATH with an
event of BYTES bytes (a long DESCRIPTION, folded), sent as it is made:
what no real server does on demand, and what Radicale would take
minutes to parse if it held it. --rename replaces the bytes FROM by TO
in every PROPFIND answer (an href no real server gives on demand).
--bearer makes it an OAuth 2.0 resource server (RFC 6750) in front of a
server that knows only passwords: a request must carry "Authorization:
Bearer T" with a token T that the file TOKENS ("token account" lines)
gives to an account that the file CREDS ("account password" lines)
has a password for; it goes on with Basic for that account, anything
else is answered 401. Each request's outcome ("bearer ACCOUNT", "refused
SCHEME") is printed, never a token or a password.
Writes its port to PORTFILE; runs until killed."""
import base64
import http.client
import http.server
import os
import sys
import urllib.parse

UP = urllib.parse.urlsplit(sys.argv[2])
BROKEN, BIG, RENAME, BEARER = set(), {}, [], None
args = sys.argv[4:]
while args:
    if args[0] == "--fail":
        BROKEN.add(args[1])
        args = args[2:]
    elif args[0] == "--big":
        BIG[args[1]] = int(args[2])
        args = args[3:]
    elif args[0] == "--bearer":
        BEARER = (args[1], args[2])
        args = args[3:]
    elif args[0] == "--rename":
        RENAME.append((args[1].encode(), args[2].encode()))
        args = args[3:]
    else:
        raise SystemExit("davproxy.py: bad argument %s" % args[0])


def big_event(size):
    """Head, DESCRIPTION lines of 75 octets, tail: exactly size bytes."""
    head = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//davproxy//EN\r\n"
            b"BEGIN:VEVENT\r\nUID:big@davproxy\r\nDTSTAMP:20261201T100000Z\r\n"
            b"DTSTART:20261203T100000Z\r\nDESCRIPTION:")
    tail = b"\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    n = size - len(head) - len(tail)
    line = b"x" * 72 + b"\r\n "
    yield head
    while n >= len(line):
        yield line * min(1000, n // len(line))
        n -= len(line) * min(1000, n // len(line))
    yield b"y" * n + tail


def lines_of(path):
    with open(path) as f:
        return [l.rstrip("\n").split(" ", 1) for l in f if " " in l]


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def bearer(self):
        """True when the request may go on (its Authorization made Basic)."""
        auth = self.headers.get("Authorization", "")
        tokens = {t: a for t, a in lines_of(BEARER[0])}
        creds = {a: p for a, p in lines_of(BEARER[1])}
        if auth.startswith("Bearer ") and tokens.get(auth[7:]) in creds:
            account = tokens[auth[7:]]
            basic = "%s:%s" % (account, creds[account])
            del self.headers["Authorization"]
            self.headers["Authorization"] = "Basic " + \
                base64.b64encode(basic.encode()).decode()
            print("bearer %s" % account, flush=True)
            return True
        print("refused %s" % (auth.split(" ", 1)[0] or "-"), flush=True)
        msg = b"a bearer token, please (davproxy.py)"
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Bearer realm="davproxy"')
        self.send_header("Content-Length", str(len(msg)))
        self.end_headers()
        self.wfile.write(msg)
        return False

    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        if BEARER is not None and not self.bearer():
            return
        path = urllib.parse.unquote(self.path)
        if self.command == "GET" and path in BIG:
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.send_header("Content-Length", str(BIG[path]))
            self.end_headers()
            try:
                for chunk in big_event(BIG[path]):
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass    # the client stopped reading: its bound
            return
        if self.command == "GET" and path in BROKEN:
            msg = b"internal error (davproxy.py)"
            self.send_response(500)
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        c = http.client.HTTPConnection(UP.hostname, UP.port, timeout=60)
        hdrs = {k: v for k, v in self.headers.items()
                if k.lower() not in ("host", "connection", "content-length")}
        c.request(self.command, self.path, body, hdrs)
        r = c.getresponse()
        data = r.read()
        if self.command == "PROPFIND":
            for a, b in RENAME:
                data = data.replace(a, b)
        self.send_response(r.status, r.reason)
        for k, v in r.getheaders():
            if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        c.close()

    do_GET = do_PROPFIND = do_PUT = do_REPORT = do_DELETE = do_OPTIONS = answer
    do_MKCOL = do_MKCALENDAR = do_PROPPATCH = do_HEAD = answer

    def log_message(self, *args):
        pass


srv = http.server.ThreadingHTTPServer((sys.argv[1], 0), Proxy)
with open(sys.argv[3] + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(sys.argv[3] + ".tmp", sys.argv[3])
srv.serve_forever()
