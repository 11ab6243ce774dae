#!/usr/bin/env python3
"""tokensvc.py - a small OAuth 2.0 token introspection service (RFC 7662)
for Dovecot's oauth2 passdb in the tests.

    tokensvc.py --listen IP --tokens FILE --port-file FILE [--log FILE]

Listens on IP at a free port, written to --port-file once it listens.
FILE holds "TOKEN USERNAME" lines and is read again for each request, so a
test may change it. A request carries the token as Dovecot sends it:
introspection_mode = post ("token=..." form body), get (the token appended
to the URL: ...?token=...) or auth ("Authorization: Bearer ..."). The
answer is a JSON object: {"active": true, "username": USER} for a known
token, {"active": false} otherwise.

--log gets one line per request: the mode, "active USER" or "inactive";
never the token.
"""

import argparse
import json
import os
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

MAX_BODY = 65536


def load_tokens(path):
    tokens = {}
    with open(path, encoding="ascii") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                tokens[parts[0]] = parts[1]
    return tokens


class Handler(BaseHTTPRequestHandler):
    server_version = "tokensvc/1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, mode, token):
        user = load_tokens(self.server.tokens_path).get(token) if token else None
        body = {"active": True, "username": user} if user else {"active": False}
        data = json.dumps(body).encode()
        if self.server.log_path:
            with open(self.server.log_path, "a", encoding="ascii") as f:
                f.write("%s %s\n" % (mode, "active " + user if user else "inactive"))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def bearer(self):
        auth = self.headers.get("Authorization", "")
        return auth[7:].strip() if auth.lower().startswith("bearer ") else None

    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        token = self.bearer()
        mode = "auth"
        if token is None:
            mode = "get"
            token = (query.get("token") or query.get("access_token") or [None])[0]
        self.answer(mode, token)

    def do_POST(self):
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.send_error(413)
            return
        form = urllib.parse.parse_qs(self.rfile.read(length).decode("ascii", "replace"))
        self.answer("post", (form.get("token") or [None])[0])


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--listen", required=True)
    p.add_argument("--tokens", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log")
    args = p.parse_args(argv)
    srv = HTTPServer((args.listen, 0), Handler)
    srv.tokens_path = args.tokens
    srv.log_path = args.log
    tmp = args.port_file + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
