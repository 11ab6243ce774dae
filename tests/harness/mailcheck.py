#!/usr/bin/env python3
"""mailcheck.py - one IMAP or POP3 login, for test scripts.

    mailcheck.py imap|pop3 --host IP [--port N] [--tls none|starttls|imaps|pop3s]
                 [--cafile F] [--servername NAME] --user USER --password-file F
                 [--mech plain|login|user] [--expect ok|fail] [--expect-text TEXT]
                 [--list] [--repeat N] [--max-seconds S]

Logs in once and reports "ok" or "refused: <server text>" on stdout.
Exit 0 when the outcome is what --expect asks (default ok) and, if given,
the server's reply contains --expect-text; 1 otherwise; 3 when the server
cannot be reached or TLS fails (certificate not trusted, name mismatch):
that is never the expected outcome.

TLS verification is always on (against --cafile, or the system store),
with the host name checked against --servername (default --host).

The password is the file's content (one trailing newline dropped), never
an argument.  --mech plain (default) sends it with AUTHENTICATE PLAIN / AUTH
PLAIN so any bytes work; --mech login uses IMAP LOGIN (quoted string, ASCII
only in Python's imaplib), --mech user uses POP3 USER/PASS.
--list prints the folder list (IMAP) or STAT (POP3) after login.
--repeat N logs in N times (fresh connections); with --max-seconds S the
check also fails when all N took longer than S seconds in total.
"""

import argparse
import base64
import imaplib
import poplib
import socket
import ssl
import sys
import time


def read_password(path):
    with open(path, "rb") as f:
        data = f.read(65536)
    return data[:-1] if data.endswith(b"\n") else data


def tls_context(args):
    return ssl.create_default_context(cafile=args.cafile)


def imap(args, password):
    user = args.user.encode("utf-8")
    ctx = tls_context(args) if args.tls != "none" else None
    port = args.port or (993 if args.tls == "imaps" else 143)
    name = args.servername or args.host
    if args.tls == "imaps":
        # imaplib checks the name against host; connect by IP, verify NAME.
        class Conn(imaplib.IMAP4_SSL):
            def _create_socket(self, timeout):
                sock = socket.create_connection((args.host, port), timeout)
                return ctx.wrap_socket(sock, server_hostname=name)
        conn = Conn(args.host, port, ssl_context=ctx, timeout=args.timeout)
    else:
        conn = imaplib.IMAP4(args.host, port, timeout=args.timeout)
        if args.tls == "starttls":
            conn.host = name  # server_hostname used by starttls()
            conn.starttls(ctx)
    try:
        if args.mech == "login":
            typ, data = conn.login(args.user, password.decode("utf-8"))
        else:
            typ, data = conn.authenticate(
                "PLAIN", lambda _: b"\0" + user + b"\0" + password)
    except imaplib.IMAP4.error as e:
        return False, str(e)
    text = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
    if args.list:
        typ, data = conn.list()
        for d in data:
            print(d.decode("utf-8", "replace") if isinstance(d, bytes) else d)
    conn.logout()
    return typ == "OK", text


def pop3(args, password):
    ctx = tls_context(args) if args.tls != "none" else None
    port = args.port or (995 if args.tls == "pop3s" else 110)
    name = args.servername or args.host
    if args.tls == "pop3s":
        # poplib.POP3_SSL checks the name against host; connect by IP,
        # verify NAME.
        class Conn(poplib.POP3_SSL):
            def _create_socket(self, timeout):
                s = socket.create_connection((args.host, port), timeout)
                return ctx.wrap_socket(s, server_hostname=name)
        conn = Conn(args.host, port, context=ctx, timeout=args.timeout)
    else:
        conn = poplib.POP3(args.host, port, timeout=args.timeout)
        if args.tls == "starttls":
            conn.host = name
            conn.stls(ctx)
    try:
        if args.mech == "user":
            conn.user(args.user)
            resp = conn.pass_(password.decode("utf-8", "surrogateescape"))
        else:
            tok = base64.b64encode(b"\0" + args.user.encode("utf-8") + b"\0" + password)
            resp = conn._shortcmd("AUTH PLAIN " + tok.decode("ascii"))
    except poplib.error_proto as e:
        return False, str(e)
    text = resp.decode("utf-8", "replace")
    if args.list:
        print("STAT %d %d" % conn.stat())
    conn.quit()
    return True, text


def main(argv):
    p = argparse.ArgumentParser(prog="mailcheck.py")
    p.add_argument("proto", choices=["imap", "pop3"])
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tls", default="none",
                   choices=["none", "starttls", "imaps", "pop3s"])
    p.add_argument("--cafile")
    p.add_argument("--servername")
    p.add_argument("--user", required=True)
    p.add_argument("--password-file", required=True)
    p.add_argument("--mech", default="plain", choices=["plain", "login", "user"])
    p.add_argument("--expect", default="ok", choices=["ok", "fail"])
    p.add_argument("--expect-text")
    p.add_argument("--list", action="store_true")
    p.add_argument("--timeout", type=float, default=10)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--max-seconds", type=float)
    args = p.parse_args(argv[1:])
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    start = time.monotonic()
    for _ in range(args.repeat):
        try:
            password = read_password(args.password_file)
            if args.proto == "imap":
                ok, text = imap(args, password)
            else:
                ok, text = pop3(args, password)
        except (OSError, ssl.SSLError, imaplib.IMAP4.error, poplib.error_proto,
                EOFError, UnicodeError) as e:
            print("error: %s: %s" % (type(e).__name__, e))
            return 3
        print(("ok: " if ok else "refused: ") + text)
        if ok != (args.expect == "ok"):
            return 1
        if args.expect_text is not None and args.expect_text not in text:
            print("reply lacks %r" % args.expect_text)
            return 1
    elapsed = time.monotonic() - start
    if args.max_seconds is not None:
        print("%d login(s) in %.3f s" % (args.repeat, elapsed))
        if elapsed > args.max_seconds:
            print("slower than --max-seconds %g" % args.max_seconds)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
