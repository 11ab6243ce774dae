"""pump.py - the byte relay the scripted proxies share (holdproxy.py,
silentproxy.py): copy src to dst until either side ends, then shut both
down. seen, if given, is called with each chunk before it is passed on."""

import socket


def pump(src, dst, seen=None):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if seen is not None:
                seen(data)
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
