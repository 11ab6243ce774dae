#!/usr/bin/env python3
"""netcheck.py - port checks for the test servers (servers.sh).

    netcheck.py free NAME=IP:PORT ...
        exit 0 if every address can still be bound; otherwise print one line
        per address that is taken (with the listener ss(8) shows) and exit 1.
    netcheck.py wait TIMEOUT NAME=IP:PORT ...
        poll until every address accepts TCP connections; exit 1 after
        TIMEOUT seconds naming the ones that never answered.

NAME is free text ("OLD dovecot imap") used in messages.  No DNS: IP must be
a literal IPv4 address.
"""

import errno
import socket
import subprocess
import sys
import time


def parse(specs):
    out = []
    for spec in specs:
        name, sep, addr = spec.rpartition("=")
        if not sep:
            name = addr
        ip, _, port = addr.rpartition(":")
        try:
            socket.inet_aton(ip)
            port = int(port)
        except (OSError, ValueError):
            sys.exit("netcheck: bad address %r (want NAME=IP:PORT)" % spec)
        out.append((name, ip, port))
    return out


def holder(ip, port):
    """Best-effort description of who listens on ip:port."""
    try:
        res = subprocess.run(["ss", "-Hltnp", "sport = :%d" % port],
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    lines = [l.split() for l in res.stdout.splitlines() if l.strip()]
    for f in lines:
        if len(f) >= 4 and f[3].rsplit(":", 1)[0] in (ip, "0.0.0.0", "*", "[::]"):
            return " ".join([f[3]] + f[5:])
    return ""


def cmd_free(specs):
    bad = 0
    for name, ip, port in parse(specs):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Dovecot and Postfix set SO_REUSEADDR too: bind the way they will.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ip, port))
            s.listen(1)
        except OSError as e:
            bad = 1
            who = holder(ip, port)
            if e.errno == errno.EADDRINUSE:
                print("port %s:%d (%s) is already in use%s" %
                      (ip, port, name, (" by: " + who) if who else ""))
            else:
                print("cannot bind %s:%d (%s): %s" % (ip, port, name, e.strerror))
        finally:
            s.close()
    return bad


def cmd_wait(timeout, specs):
    pending = parse(specs)
    deadline = time.monotonic() + float(timeout)
    while True:
        still = []
        for name, ip, port in pending:
            try:
                with socket.create_connection((ip, port), timeout=0.5):
                    pass
            except OSError as e:
                still.append((name, ip, port, e))
        pending = [p[:3] for p in still]
        if not pending:
            return 0
        if time.monotonic() >= deadline:
            for name, ip, port, e in still:
                print("%s on %s:%d not accepting connections after %ss: %s" %
                      (name, ip, port, timeout, e.strerror or e))
            return 1
        time.sleep(0.02)


def main(argv):
    if len(argv) >= 2 and argv[1] == "free":
        return cmd_free(argv[2:])
    if len(argv) >= 3 and argv[1] == "wait":
        return cmd_wait(argv[2], argv[3:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
