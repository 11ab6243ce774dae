#!/usr/bin/env python3
"""redirectloop.py IP PORTFILE: an HTTP server that answers every request
with 301 to another path of itself, for ever (no real server does this on
demand). Writes its port to PORTFILE; runs until killed."""
import http.server
import sys


class Loop(http.server.BaseHTTPRequestHandler):
    def answer(self):
        n = len(self.path)
        self.send_response(301)
        self.send_header("Location", "/loop%d/" % n)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_PROPFIND = do_PUT = do_REPORT = answer

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer((sys.argv[1], 0), Loop)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
import os
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
srv.serve_forever()
