#!/usr/bin/env python3
"""sieveclient.py - put Sieve scripts on a ManageSieve server (RFC 5804),
as a user's client would, for the tests (tests/integration/test_sieve.sh).

    sieveclient.py HOST PORT USER DIR [ACTIVE]
        password on stdin; STARTTLS when offered (certificate not checked:
        a test server); every DIR/NAME.sieve put as NAME, byte for byte;
        ACTIVE (a NAME) made active.  Exit 0, or 1 naming the refusal.
"""

import base64
import os
import socket
import ssl
import sys


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise SystemExit("connection closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def response(self):
        """Lines up to OK/NO/BYE; (status, lines)."""
        lines = []
        while True:
            line = self.line()
            if line.endswith(b"}") and b"{" in line:
                n = int(line[line.rindex(b"{") + 1:-1].rstrip(b"+"))
                while len(self.buf) < n:
                    self.buf += self.sock.recv(65536)
                line += b"\r\n" + self.buf[:n]
                self.buf = self.buf[n:]
                line += self.line()
            word = line.split(b" ", 1)[0].upper()
            if word in (b"OK", b"NO", b"BYE"):
                return word.decode(), lines + [line]
            lines.append(line)

    def send(self, data):
        self.sock.sendall(data)


def quoted(s):
    return b'"' + s.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def main():
    host, port, user, d = sys.argv[1:5]
    active = sys.argv[5] if len(sys.argv) > 5 else None
    password = sys.stdin.readline().rstrip("\n")
    c = Conn(socket.create_connection((host, int(port)), timeout=10))
    st, caps = c.response()
    if st != "OK":
        raise SystemExit("greeting: %r" % caps)
    if any(l.upper().startswith(b'"STARTTLS"') for l in caps):
        c.send(b"STARTTLS\r\n")
        st, lines = c.response()
        if st != "OK":
            raise SystemExit("STARTTLS: %r" % lines)
        ctx = ssl._create_unverified_context()
        c.sock = ctx.wrap_socket(c.sock)
        c.buf = b""
        c.response()
    auth = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode())
    c.send(b'AUTHENTICATE "PLAIN" ' + quoted(auth) + b"\r\n")
    st, lines = c.response()
    if st != "OK":
        raise SystemExit("login: %r" % lines)
    for f in sorted(os.listdir(d)):
        if not f.endswith(".sieve"):
            continue
        data = open(os.path.join(d, f), "rb").read()
        name = f[:-len(".sieve")].encode()
        c.send(b"PUTSCRIPT " + quoted(name) + b" {%d+}\r\n" % len(data) + data + b"\r\n")
        st, lines = c.response()
        if st != "OK":
            raise SystemExit("PUTSCRIPT %s: %r" % (f, lines))
    if active:
        c.send(b"SETACTIVE " + quoted(active.encode()) + b"\r\n")
        st, lines = c.response()
        if st != "OK":
            raise SystemExit("SETACTIVE: %r" % lines)
    c.send(b"LOGOUT\r\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
