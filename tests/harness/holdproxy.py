#!/usr/bin/env python3
"""holdproxy.py - a TCP relay in front of OLD and NEW that makes NEW slow
to answer the first batch, to show whether the copy overlaps OLD and NEW.

Real Dovecot commits a batch in milliseconds and cannot be told to take
longer, so this stands between mailmigrated and the two real servers and
forwards every byte unchanged, but for one thing: the chunk of NEW's
output that holds the tagged OK [APPENDUID ...] of the first MULTIAPPEND
is held back until OLD has been sent a second "UID FETCH ... BODY.PEEK[]"
(the next batch's: the first is the first batch's, so the account's
first folder with bodies to copy must have two batches) or --hold-max
seconds pass. A copy that waits for
NEW's answer before it asks OLD for the next batch shows as a timeout.

    holdproxy.py --old LISTEN_IP:PORT=OLD_IP:PORT --new LISTEN_IP:PORT=NEW_IP:PORT
                 --report FILE [--hold-max 20]

The report (written when the hold ends, then again at exit) is one line:
"overlap fetches=N new_sessions=M" when the next FETCH reached OLD before
NEW's first answer reached the copy, "no-overlap ..." on the timeout,
"no-hold ..." when no MULTIAPPEND answer was seen. Runs until SIGTERM.
"""

import argparse
import re
import signal
import socket
import sys
import threading
import time

from pump import pump

FETCH_RE = re.compile(rb"^\S+ UID FETCH \S+ \(?BODY\.PEEK\[\]", re.I)
APPENDUID_RE = re.compile(rb"^\S+ OK \[APPENDUID ", re.I)
LINE_MAX = 1 << 20

state = {"fetches": 0, "new_sessions": 0, "held": False, "result": "no-hold"}
cond = threading.Condition()


def report(path):
    with cond:
        line = "%s fetches=%d new_sessions=%d\n" % (
            state["result"], state["fetches"], state["new_sessions"])
    with open(path, "w", encoding="ascii") as f:
        f.write(line)


class Lines:
    """The complete lines of a byte stream, the partial one kept (bounded)."""

    def __init__(self):
        self.buf = b""

    def feed(self, data):
        self.buf += data
        parts = self.buf.split(b"\n")
        self.buf = parts.pop()[-LINE_MAX:]
        return parts


def scanned(scan):
    """pump()'s seen for a scan of whole lines (None: no scan)."""
    if scan is None:
        return None
    lines = Lines()
    return lambda data: scan(lines.feed(data))


def old_scan(lines):
    n = sum(1 for ln in lines if FETCH_RE.match(ln))
    if n:
        with cond:
            state["fetches"] += n
            cond.notify_all()


def new_scan_factory(args):
    def scan(lines):
        if not any(APPENDUID_RE.match(ln) for ln in lines):
            return
        with cond:
            if state["held"]:
                return
            state["held"] = True
            # The first FETCH of bodies is the first batch's: the next
            # one's may have come already (NEW slower than OLD), else it
            # must come while the answer is held.
            deadline = time.monotonic() + args.hold_max
            while state["fetches"] < 2:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                cond.wait(left)
            state["result"] = "overlap" if state["fetches"] >= 2 else "no-overlap"
        report(args.report)
    return scan


def serve(listen, target, c2s, s2c, on_accept=None):
    lhost, lport = listen.rsplit(":", 1)
    thost, tport = target.rsplit(":", 1)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((lhost, int(lport)))
    ls.listen(16)

    def loop():
        while True:
            cs, _ = ls.accept()
            try:
                ss = socket.create_connection((thost, int(tport)), timeout=10)
                ss.settimeout(None)
            except OSError:
                cs.close()
                continue
            if on_accept is not None:
                on_accept()
            threading.Thread(target=pump, args=(cs, ss, scanned(c2s)), daemon=True).start()
            threading.Thread(target=pump, args=(ss, cs, scanned(s2c)), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--old", required=True)
    p.add_argument("--new", required=True)
    p.add_argument("--report", required=True)
    p.add_argument("--hold-max", type=float, default=20)
    args = p.parse_args()

    def new_session():
        with cond:
            state["new_sessions"] += 1

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    old_listen, old_target = args.old.split("=", 1)
    new_listen, new_target = args.new.split("=", 1)
    serve(old_listen, old_target, old_scan, None)
    serve(new_listen, new_target, None, new_scan_factory(args), new_session)
    report(args.report)
    print("ready", flush=True)
    done.wait()
    report(args.report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
