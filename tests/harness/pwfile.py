#!/usr/bin/env python3
"""pwfile.py - add or replace a user in a Dovecot passwd-file.

    pwfile.py [--conf DOVECOT.CONF] [--nopass] FILE USER < password

(--conf: the config doveadm reads; default /dev/null, none needed.)

The password is read from standard input (one trailing newline is dropped;
it is never taken from argv and never printed), hashed by
`doveadm pw -s SHA512-CRYPT` (PBKDF2 for 512 bytes or more, which
libxcrypt's SHA512-CRYPT cannot take) and written as
    USER:{SHA512-CRYPT}$6$...::::::
The file is rewritten atomically (temp file + rename, under a lock), so a
Dovecot reading it at the same moment sees the old or the new version, and
kept readable by the `dovecot` group (the auth process runs as dovecot).

--nopass writes an entry no password matches: the user exists (userdb, mail
delivery, USER*MASTER logins) but cannot log in by itself.

Exit 0 on success, 1 on a problem (message on stderr), 2 on usage errors.
"""

import fcntl
import grp
import os
import time
import subprocess
import sys

# libxcrypt refuses passphrases of 512 bytes or more: crypt() returns "*0"
# (and doveadm pw prints "{SHA512-CRYPT}*0" with exit 0); longer ones are
# hashed with PBKDF2, as mailmigrate itself does.
CRYPT_MAX = 511
MAX_PASSWORD = 2000
SCHEME = b"{SHA512-CRYPT}"


def die(msg, code=1):
    sys.stderr.write("pwfile: %s\n" % msg)
    sys.exit(code)


def check_user(user):
    if not user or len(user) > 255:
        die("bad user name length", 2)
    for ch in user:
        if ch in ":\n\r\t " or ord(ch) < 0x20 or ord(ch) == 0x7f:
            die("user name %r holds a character passwd-file cannot store" % user, 2)


def read_password():
    data = sys.stdin.buffer.read(MAX_PASSWORD + 2)
    if data.endswith(b"\n"):
        data = data[:-1]
    if len(data) > MAX_PASSWORD:
        die("password longer than %d bytes" % MAX_PASSWORD)
    if not data:
        die("empty password on stdin (use --nopass for a master-login-only user)")
    for bad in (b"\0", b"\n", b"\r"):
        if bad in data:
            die("password holds a NUL, CR or LF byte")
    return data


def hash_password(password, conf):
    """SHA512-CRYPT hash via doveadm, fed through stdin twice (new + retype).

    doveadm reads /dev/tty when it has one: start it in a new session so it
    reads stdin.  It prints a hash even when the retype fails, so check
    stderr as well as the exit code.
    """
    # An empty configuration: hashing needs none, and neither /etc/dovecot
    # nor a test's (possibly broken on purpose) config should matter.
    scheme = "SHA512-CRYPT" if len(password) <= CRYPT_MAX else "PBKDF2"
    argv = ["doveadm", "-c", conf or "/dev/null", "pw", "-s", scheme]
    try:
        res = subprocess.run(argv, input=password + b"\n" + password + b"\n",
                             capture_output=True, start_new_session=True,
                             timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        die("cannot run doveadm pw: %s" % e)
    out = res.stdout.strip()
    prefix = SCHEME + b"$6$" if scheme == "SHA512-CRYPT" else b"{PBKDF2}$1$"
    if res.returncode != 0 or res.stderr.strip() or not out.startswith(prefix):
        die("doveadm pw failed (exit %d): %s" %
            (res.returncode, res.stderr.decode("utf-8", "replace").strip()[:200]))
    return out


def write_entry(path, user, hashed):
    lock = open(path + ".lock", "a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lines = []
        try:
            with open(path, "rb") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            pass
        prefix = user.encode() + b":"
        lines = [l for l in lines if not l.startswith(prefix)]
        lines.append(prefix + hashed + b"::::::")
        tmp = "%s.tmp.%d" % (path, os.getpid())
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            os.write(fd, b"".join(l + b"\n" for l in lines))
            os.fchmod(fd, 0o640)
            try:
                os.fchown(fd, 0, grp.getgrnam("dovecot").gr_gid)
            except (KeyError, PermissionError):
                os.fchmod(fd, 0o644)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
        # Dovecot's passwd-file looks at the file at most once a second
        # (last_sync_time == ioloop_time): a lookup earlier in this
        # second would hide the new user until the next one. Return
        # only when the second of the write is over.
        written = int(os.stat(path).st_mtime)
        while int(time.time()) <= written:
            time.sleep(0.05)
    finally:
        lock.close()


def main(argv):
    conf = None
    nopass = False
    args = []
    it = iter(argv[1:])
    for a in it:
        if a == "--conf":
            conf = next(it, None)
        elif a == "--nopass":
            nopass = True
        elif a.startswith("-"):
            die("unknown option %s" % a, 2)
        else:
            args.append(a)
    if len(args) != 2:
        sys.stderr.write(__doc__)
        return 2
    path, user = args
    check_user(user)
    if nopass:
        hashed = SCHEME + b"!no-password-login"
    else:
        hashed = hash_password(read_password(), conf)
    write_entry(path, user, hashed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
