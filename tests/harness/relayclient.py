#!/usr/bin/python3
"""relayclient.py - talk to mailmigrate-relay the way Postfix does, and the
ways Postfix never does.

    relayclient.py query SOCKET MAP KEY [MAP KEY ...]
        one connection, one query per pair; prints each reply payload
    relayclient.py abuse SOCKET LOGFILE [--idle N]
        malformed netstrings, an oversize query, N idle connections (1000)
        and a client sending one byte per second, each while a well-behaved
        client keeps getting right answers; waits (bounded) for the relay's
        log line about each. Exit 0 when all held, 1 with the reason.

SOCKET is a unix socket path or HOST:PORT.
"""
import os
import resource
import socket
import sys
import time


def connect(where):
    if where.startswith("/"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(where)
    else:
        host, port = where.rsplit(":", 1)
        s = socket.create_connection((host, int(port)))
    return s


def netstring(payload):
    return b"%d:%s," % (len(payload), payload)


def read_netstring(s, timeout=10):
    s.settimeout(timeout)
    buf = b""
    while b":" not in buf:
        c = s.recv(1)
        if not c:
            raise EOFError("connection closed")
        buf += c
    n = int(buf[:-1])
    data = b""
    while len(data) < n + 1:
        c = s.recv(n + 1 - len(data))
        if not c:
            raise EOFError("connection closed mid-reply")
        data += c
    if data[-1:] != b",":
        raise ValueError("reply without ','")
    return data[:-1]


def query(s, mapname, key):
    s.sendall(netstring(b"%s %s" % (mapname.encode(), key.encode())))
    return read_netstring(s).decode()


def closed_by_peer(s, timeout):
    """True when the relay closes s within timeout seconds."""
    s.settimeout(timeout)
    try:
        while True:
            if s.recv(4096) == b"":
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def wait_log(logfile, text, count=1, timeout=30):
    deadline = time.time() + timeout
    n = 0
    while time.time() < deadline:
        with open(logfile, errors="replace") as f:
            n = f.read().count(text)
        if n >= count:
            return True
        time.sleep(0.1)
    raise AssertionError("log %s: %d of %d lines with %r" % (logfile, n, count, text))


class Good:
    """A well-behaved client on one persistent connection."""

    def __init__(self, where):
        self.where = where
        self.s = connect(where)

    def check(self, what):
        try:
            r = query(self.s, "transport", "unknown-user@example.test")
        except (EOFError, BrokenPipeError, ConnectionResetError):
            # Closed for being idle: Postfix reconnects, so do we.
            self.s.close()
            self.s = connect(self.where)
            r = query(self.s, "transport", "unknown-user@example.test")
        if not r.startswith("OK "):
            raise AssertionError("good client after %s: %r" % (what, r))
        r = query(self.s, "transport", "*")
        if r.strip() != "NOTFOUND":
            raise AssertionError("good client after %s: %r" % (what, r))


def abuse(where, logfile, idle):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < idle + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, idle + 200), hard))
    good = Good(where)
    good.check("start")

    # Malformed netstrings: closed, logged, nobody else affected.
    for bad, text in ((b"abc,", "non-digit in length"),
                      (b"3:abc;", "missing ','"),
                      (b"01:x,", "leading zero in length")):
        s = connect(where)
        s.sendall(bad)
        if not closed_by_peer(s, 15):
            raise AssertionError("malformed %r: connection left open" % bad)
        s.close()
        wait_log(logfile, text)
        good.check("malformed %r" % bad)
    # Well-formed queries for a map we do not serve: PERM each, kept
    # open; one log line for them all when the connection closes.
    before = open(logfile, errors="replace").read().count("unknown map name")
    s = connect(where)
    for i in range(200):
        r = query(s, "virtual", "a%d@example.test" % i)
        if not r.startswith("PERM "):
            raise AssertionError("unknown map: %r" % r)
    if query(s, "transport", "*").strip() != "NOTFOUND":
        raise AssertionError("connection not usable after PERM")
    s.close()
    wait_log(logfile, "200 bad queries of 201 answered PERM (the first: "
             "'virtual a0@example.test': unknown map name")
    n = open(logfile, errors="replace").read().count("unknown map name")
    if n != before + 1:
        raise AssertionError("%d log lines for 200 bad queries" % (n - before))

    # Oversize: refused by its length, before any payload is sent.
    s = connect(where)
    s.sendall(b"10001:")
    if not closed_by_peer(s, 15):
        raise AssertionError("oversize query: connection left open")
    s.close()
    wait_log(logfile, "length over 10000 bytes")
    # The largest allowed query is answered.
    s = connect(where)
    r = query(s, "alias", "x" * (10000 - len("alias ")))
    if r.strip() != "NOTFOUND":
        raise AssertionError("10000-byte query: %r" % r)
    s.close()
    good.check("oversize")

    # One byte per second: cut off by relay_request_timeout; meanwhile
    # the good client is served at once.
    slow = connect(where)
    q = netstring(b"transport slow@example.test")
    for i in range(4):
        try:
            slow.sendall(q[i:i + 1])
        except OSError:
            break
        good.check("slow client byte %d" % i)
        time.sleep(1)
    if not closed_by_peer(slow, 30):
        raise AssertionError("slow client not disconnected")
    slow.close()
    wait_log(logfile, "query not complete after")

    # Many idle connections: all accepted, the good client unaffected,
    # each closed at relay_idle_timeout with its own line.
    before = open(logfile, errors="replace").read().count("(relay_idle_timeout)")
    conns = []
    for i in range(idle):
        conns.append(connect(where))
        if i % 200 == 0:
            good.check("%d idle connections" % i)
    good.check("%d idle connections" % idle)
    # Each is still served.
    for c in (conns[0], conns[idle // 2], conns[-1]):
        if query(c, "transport", "*").strip() != "NOTFOUND":
            raise AssertionError("idle connection not served")
    wait_log(logfile, "(relay_idle_timeout)", before + idle, timeout=60)
    for c in conns:
        c.close()
    good.s.close()
    good = Good(where)
    good.check("idle connections closed")
    print("ok: malformed, unknown map, oversize, slow client, %d idle" % idle)


def main(argv):
    if len(argv) >= 4 and argv[0] == "query" and len(argv) % 2 == 0:
        s = connect(argv[1])
        for i in range(2, len(argv), 2):
            print(query(s, argv[i], argv[i + 1]))
        return 0
    if len(argv) in (3, 5) and argv[0] == "abuse":
        idle = int(argv[4]) if len(argv) == 5 and argv[3] == "--idle" else 1000
        try:
            abuse(argv[1], argv[2], idle)
        except (AssertionError, OSError, EOFError, ValueError) as e:
            print("relayclient: %s" % e, file=sys.stderr)
            return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
