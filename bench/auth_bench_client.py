#!/usr/bin/env python3
"""auth_bench_client.py - drive Dovecot's auth-client socket, for
bench/auth-bench.sh: PLAIN logins straight to the auth process, so the
figure is the passdb's, not IMAP's.

    auth_bench_client.py SOCKET PWFILE CONC ROUNDS USER...

Each of CONC connections runs ROUNDS logins, cycling through the USERs,
all with the password in PWFILE (first line).  Prints
"logins N ok K seconds S rate R" (R = N / S) and, on stderr, the first
failure seen.  A login counts as ok when the answer is OK, or FAIL with a
reason (the module's "being moved" refusal after a verified password).
"""

import base64
import os
import socket
import sys
import threading
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    f = s.makefile("rwb", buffering=0)
    f.write(b"VERSION\t1\t2\nCPID\t%d\n" % os.getpid())
    while True:
        line = f.readline()
        if not line:
            raise RuntimeError("auth server closed the connection")
        if line.startswith(b"DONE"):
            return s, f


def worker(path, pw, users, rounds, offset, out):
    s, f = connect(path)
    ok = 0
    first_fail = None
    for i in range(rounds):
        u = users[(offset + i) % len(users)]
        resp = base64.b64encode(b"\0" + u.encode() + b"\0" + pw)
        f.write(b"AUTH\t%d\tPLAIN\tservice=imap\tsecured\tno-penalty\tresp=%s\n"
                % (i + 1, resp))
        line = f.readline()
        if line.startswith(b"OK\t") or (line.startswith(b"FAIL\t") and b"reason=" in line):
            ok += 1
        elif first_fail is None:
            first_fail = line.decode(errors="replace").strip()
    s.close()
    out.append((ok, first_fail))


def main(argv):
    if len(argv) < 6:
        sys.stderr.write(__doc__)
        return 2
    path, pwfile, conc, rounds = argv[1], argv[2], int(argv[3]), int(argv[4])
    users = argv[5:]
    with open(pwfile, "rb") as fh:
        pw = fh.read().split(b"\n")[0]
    out = []
    ts = [threading.Thread(target=worker, args=(path, pw, users, rounds,
                                                c * rounds, out))
          for c in range(conc)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    dt = time.monotonic() - t0
    n = conc * rounds
    ok = sum(o for o, _ in out)
    for _, ff in out:
        if ff:
            sys.stderr.write("first failure: %s\n" % ff)
            break
    print("logins %d ok %d seconds %.3f rate %.1f" % (n, ok, dt, n / dt))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
