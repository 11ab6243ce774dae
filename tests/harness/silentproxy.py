#!/usr/bin/env python3
"""silentproxy.py - a port that first accepts and says nothing, then relays.

A server that is there but out of reach for a while (a greeting that
never comes: overloaded, a firewall that drops half-way) is not one a
real server plays on demand. This listens on LISTEN_IP:PORT; the first
--silent connections are accepted and never answered (each held until
the client closes it or this ends); every later one is relayed byte for
byte to TARGET_IP:PORT. A line per connection goes to --log ("silent N",
"relay N").

    silentproxy.py LISTEN_IP:PORT TARGET_IP:PORT --silent 1 --log FILE

Prints "ready" once listening; runs until SIGTERM.
"""

import argparse
import signal
import socket
import sys
import threading

from pump import pump


def hostport(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


def hold(conn):
    # Read (and drop) until the client gives up; never write.
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass
    conn.close()


def relay(conn, target):
    try:
        up = socket.create_connection(target, timeout=10)
    except OSError:
        conn.close()
        return
    up.settimeout(None)
    threading.Thread(target=pump, args=(up, conn), daemon=True).start()
    pump(conn, up)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("listen")
    p.add_argument("target")
    p.add_argument("--silent", type=int, default=1)
    p.add_argument("--log", required=True)
    args = p.parse_args()

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(hostport(args.listen))
    srv.listen(16)
    target = hostport(args.target)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    n = 0
    with open(args.log, "a", encoding="ascii") as log:
        while True:
            conn, _ = srv.accept()
            n += 1
            silent = n <= args.silent
            log.write("%s %d\n" % ("silent" if silent else "relay", n))
            log.flush()
            threading.Thread(target=hold if silent else relay,
                             args=(conn,) if silent else (conn, target),
                             daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
