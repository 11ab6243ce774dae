#!/usr/bin/env python3
"""davproxy.py IP UPSTREAM PORTFILE PATH...: an HTTP proxy in front of a
DAV server (UPSTREAM, http://host:port/) that passes every request on,
but answers 500 to a GET of any PATH given (a server failing on one
item, which no real server does on demand). Writes its port to
PORTFILE; runs until killed."""
import http.client
import http.server
import os
import sys
import urllib.parse

UP = urllib.parse.urlsplit(sys.argv[2])
BROKEN = set(sys.argv[4:])


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        if self.command == "GET" and urllib.parse.unquote(self.path) in BROKEN:
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
