#!/usr/bin/env python3
"""procs.py - list (or kill) the processes that still use a test directory.

    procs.py [--kill] DIR

A process "uses" DIR when its command line mentions DIR/, or its current
directory, root directory or an open file lies under DIR.  That catches
Dovecot children (chrooted logins, imap processes in a home) and Postfix
daemons (they chdir to their queue directory) whose command lines do not
name DIR.  The caller's own process group and its ancestors are never
listed, so a test whose working directory is inside DIR is safe.

Prints "PID COMMAND" per process; exit 0 when none, 1 when some were found.
--kill sends SIGKILL to them, except to interactive programs (a shell or
editor someone left in DIR) unless their command line names DIR.
"""

import os
import signal
import sys


def ancestors():
    out = set()
    pid = os.getpid()
    while pid > 1:
        out.add(pid)
        try:
            with open("/proc/%d/stat" % pid) as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return out


def pgid_of(pid):
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def under(path, root):
    return path == root or path.startswith(root + "/")


def uses(pid, root):
    base = "/proc/%d" % pid
    try:
        with open(base + "/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return None
    if (root + "/") in cmd or cmd.rstrip().endswith(root):
        return cmd
    links = [base + "/cwd", base + "/root"]
    try:
        links += [base + "/fd/" + fd for fd in os.listdir(base + "/fd")]
    except OSError:
        pass
    for link in links:
        try:
            if under(os.readlink(link), root):
                return cmd
        except OSError:
            continue
    return None


SPARE = {"sh", "bash", "dash", "zsh", "ksh", "fish", "tmux", "screen",
         "less", "more", "vi", "vim", "nvim", "nano", "emacs", "mc"}


def spare(pid, cmd, root):
    """An interactive program merely sitting in root: list it, never kill it."""
    try:
        with open("/proc/%d/comm" % pid) as f:
            comm = f.read().strip()
    except OSError:
        return False
    return comm in SPARE and (root + "/") not in cmd


def main(argv):
    args = argv[1:]
    kill = False
    if args and args[0] == "--kill":
        kill, args = True, args[1:]
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 2
    root = os.path.realpath(args[0]).rstrip("/")
    if root in ("", "/"):
        sys.stderr.write("procs.py: refusing to scan for /\n")
        return 2
    skip = ancestors()
    mypg = os.getpgid(0)
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        if pid in skip or pgid_of(pid) == mypg:
            continue
        cmd = uses(pid, root)
        if cmd is not None:
            found.append((pid, cmd))
    for pid, cmd in found:
        print("%d %s" % (pid, cmd.strip()[:200]))
        if kill and not spare(pid, cmd, root):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
