#!/usr/bin/env python3
"""corpus.py - fill an IMAP mailbox with a known test corpus, or check one.

Load (fills an EMPTY mailbox by IMAP APPEND and writes a manifest):

    corpus.py --host IP [--port 143] [--tls none|starttls|imaps] [--cafile F]
              --user USER --password-file F [--seed 1] [--count 40]
              [--big-mb 0] [--samples DIR | --no-samples]
              [--skip-refused-folders] [--inbox-only] --manifest OUT.json

--skip-refused-folders: a folder the server refuses to CREATE (tagged NO;
Cyrus refuses '"' in names) is left out with its subfolders, messages and
subscription, reported on stderr and listed under "skipped_folders" in the
manifest (otherwise the load fails).
--inbox-only: every message (generated, big, samples) in INBOX, no other
folder (a POP3 source).
--count: generated messages (spread over the folders); --big-mb N adds one
N MB message to Archive (0: none); the MIME samples come on top (47 from
libpython3.11-testsuite, found automatically).

Verify (compares a live mailbox with a manifest; read-only):

    corpus.py --verify --host IP [--port 143] --user USER --password-file F
              --manifest IN.json [--folder-map "OLD=NEW"]... [--loose-headers]
              [--no-flags] [--no-dates] [--no-subscriptions] [--extra-folders-ok]
              [--only-folder PATH ...]

USER may be a master login (alice@example.test*mailmigrate).  The password
is the content of the file (one trailing newline dropped); it is sent with
AUTHENTICATE PLAIN, so spaces, quotes and UTF-8 are fine, and it is never
printed.

The corpus (same bytes for the same --seed): nested folders with non-ASCII
names (sent in modified UTF-7, joined with the server's own hierarchy
separator), flags \\Seen \\Answered \\Flagged \\Draft (never \\Deleted) and
keywords, INTERNALDATEs from 2009 to 2020, sizes from 1 KB up to --big-mb MB
(0: no big message), raw 8-bit headers, and every msg_*.txt MIME sample of
Python's email test suite (line ends made CRLF).  Some folders are
subscribed.  A sample the server refuses is listed under "rejected" in the
manifest and reported on stderr, never skipped silently.

Snapshot (a manifest of a live mailbox as the server stores it; read-only):

    corpus.py --snapshot --host IP [--port 143] [--tls ...] --user USER
              --password-file F --manifest OUT.json

For an OLD that changes what it is given (Courier ends a message without a
final newline with one; Cyrus refuses some folder names and headers), a
copy is checked against OLD's snapshot: byte for byte what OLD serves.

Manifest (JSON): folders (path components, decoded name, raw mUTF-7 name,
subscribed), subscriptions, and per message: folder (decoded and raw),
sha256 and size of the exact bytes appended, flags, internaldate, Message-ID.

Verify matches messages by sha256 of the full body per folder (with
--loose-headers: both sides without the header fields a copy may add, such
as X-UIDL from a POP3 copy or mbsync's X-TUID; see LOOSE_HEADERS), then
compares flags, INTERNALDATE (same instant; the zone may differ), the folder
set and subscriptions.  Folders are compared by their path components, so a
server with "/" matches a manifest made on one with ".".  --folder-map takes
decoded names with "/" between levels ("Sent Messages=Sent").

Exit: 0 ok; 1 differences (listed on stdout); 2 usage; 3 connection,
login or protocol error.
"""

import argparse
import base64
import datetime
import glob
import hashlib
import imaplib
import json
import os
import random
import re
import socket
import ssl
import sys

EXIT_DIFF, EXIT_USAGE, EXIT_ERROR = 1, 2, 3
MANIFEST_VERSION = 1

# Folder plan: path components (UTF-8).  No component may contain "." or
# "/": either can be a server's hierarchy separator.
FOLDERS = [
    ["INBOX"],
    ["INBOX", "Receipts"],
    ["Archive"],
    ["Archive", "2009"],
    ["Archive", "2015"],
    ["Käse"],
    ["Käse", "Ölfässer"],
    ["日本語"],
    ["日本語", "メール"],
    ["Drafts"],
    ["Sent Messages"],
    ["Work"],
    ["Work", "Projects & Plans"],
    ["Work", "Projects & Plans", "Ünïcødé – “quoted” €"],
    ["It's \"quoted\""],
    ["Empty Folder"],
    ["Samples"],
]
SUBSCRIBED = [
    ["INBOX"],
    ["Archive"],
    ["Käse", "Ölfässer"],
    ["日本語"],
    ["Sent Messages"],
    ["Work", "Projects & Plans"],
    ["Work", "Projects & Plans", "Ünïcødé – “quoted” €"],
]
# Generated messages never go here (Samples gets the MIME samples).
NO_GENERATED = (["Empty Folder"], ["Samples"])
SYSTEM_FLAGS = ["\\Seen", "\\Answered", "\\Flagged", "\\Draft"]
KEYWORDS = ["$Forwarded", "$Label1", "$MDNSent", "NonJunk", "project_x", "todo"]
SIZES_KB = [1, 1, 2, 3, 5, 8, 12, 20, 40, 90, 250, 700]
ZONES = [0, 60, 120, -300, -480, 330, 540, -210]

# Header fields a copy may add or rewrite (POP3 X-UIDL, mbsync X-TUID,
# mbox status lines).  --loose-headers compares messages without them, on
# both sides: some samples already carry X-UIDL or Status.
LOOSE_HEADERS = ["x-uidl", "x-tuid", "status", "x-status", "x-keywords",
                 "x-imapbase", "content-length"]
LOOSE = {h.encode() for h in LOOSE_HEADERS}

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun",
          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


class CorpusError(Exception):
    """Connection, login or protocol failure (exit 3)."""


# ---------------------------------------------------------------- mUTF-7

def mutf7_encode(name):
    """Modified UTF-7 (RFC 3501 5.1.3) of a decoded mailbox name."""
    out, pending = [], []

    def flush():
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            b64 = base64.b64encode(raw).decode("ascii").rstrip("=")
            out.append("&" + b64.replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def mutf7_decode(raw):
    """Decoded name of a modified UTF-7 mailbox name (str)."""
    out, i = [], 0
    while i < len(raw):
        ch = raw[i]
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        end = raw.find("-", i + 1)
        if end < 0:
            raise ValueError("unterminated &-sequence in %r" % raw)
        seg = raw[i + 1:end]
        if seg == "":
            out.append("&")
        else:
            b64 = seg.replace(",", "/")
            b64 += "=" * (-len(b64) % 4)
            out.append(base64.b64decode(b64, validate=True).decode("utf-16-be"))
        i = end + 1
    return "".join(out)


# ---------------------------------------------------------------- IMAP

def imap_quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def read_password(path):
    try:
        with open(path, "rb") as f:
            data = f.read(65536)
    except OSError as e:
        raise CorpusError("cannot read password file %s: %s" % (path, e.strerror))
    if data.endswith(b"\n"):
        data = data[:-1]
    if not data:
        raise CorpusError("password file %s is empty" % path)
    return data


def connect(args):
    ctx = None
    if args.tls != "none":
        ctx = ssl.create_default_context(cafile=args.cafile)
    port = args.port or (993 if args.tls == "imaps" else 143)
    try:
        if args.tls == "imaps":
            conn = imaplib.IMAP4_SSL(args.host, port, ssl_context=ctx,
                                     timeout=args.timeout)
        else:
            conn = imaplib.IMAP4(args.host, port, timeout=args.timeout)
            if args.tls == "starttls":
                conn.starttls(ctx)
    except (OSError, imaplib.IMAP4.error, ssl.SSLError) as e:
        raise CorpusError("cannot connect to %s:%d (%s): %s" %
                          (args.host, port, args.tls, e))
    user = args.user.encode("utf-8")
    password = read_password(args.password_file)
    try:
        conn.authenticate("PLAIN", lambda _: b"\0" + user + b"\0" + password)
    except imaplib.IMAP4.error as e:
        raise CorpusError("login as %s on %s:%d failed: %s" %
                          (args.user, args.host, port, e))
    return conn


def check(resp, what):
    typ, data = resp
    if typ != "OK":
        raise CorpusError("%s failed: %s %s" % (what, typ, short(data)))
    return data


def short(data):
    text = repr(data)
    return text if len(text) <= 200 else text[:200] + "..."


_TOKEN = re.compile(rb'\s*(\((?:[^()]*)\)|"(?:[^"\\]|\\.)*"|NIL|[^\s()"]+)')


def unquote(tok):
    if tok.startswith(b'"'):
        return re.sub(rb'\\(.)', rb'\1', tok[1:-1])
    return tok


def parse_list(data):
    """(flags, delimiter, raw name) from imaplib LIST/LSUB data items."""
    out = []
    for item in data:
        if item is None:
            continue
        if isinstance(item, tuple):  # name sent as a literal
            head, name = item[0], item[1]
            m = _TOKEN.match(head)
            flags = m.group(1)
            rest = head[m.end():]
            d = _TOKEN.match(rest).group(1)
        else:
            toks = []
            pos = 0
            while pos < len(item) and len(toks) < 3:
                m = _TOKEN.match(item, pos)
                if not m:
                    raise CorpusError("cannot parse LIST reply %r" % item)
                toks.append(m.group(1))
                pos = m.end()
            if len(toks) != 3:
                raise CorpusError("cannot parse LIST reply %r" % item)
            flags, d, name = toks
            name = unquote(name)
        delim = None if d == b"NIL" else unquote(d).decode("ascii")
        out.append((flags.decode("ascii", "replace"), delim,
                    name.decode("ascii")))
    return out


def server_separator(conn):
    data = check(conn.list('""', '""'), "LIST \"\" \"\"")
    for _, delim, _ in parse_list(data):
        return delim or "/"
    return "/"


def server_prefix(conn):
    """The personal namespace prefix (RFC 2342), "" when none or unknown."""
    try:
        typ, data = conn.namespace()
    except imaplib.IMAP4.error:
        return ""
    m = re.match(rb'\(\("([^"]*)"', data[0] or b"") if typ == "OK" and data else None
    return m.group(1).decode("ascii") if m else ""


def folder_raw(path, sep, prefix=""):
    """The server's name of a folder path: every folder but INBOX itself
    sits below the personal prefix (Courier, Cyrus: "INBOX.")."""
    raw = sep.join(mutf7_encode(c) for c in path)
    if prefix and [p.upper() for p in path] != ["INBOX"]:
        raw = prefix + raw
    return raw


def path_of(raw, sep, prefix=""):
    if prefix and raw.upper() != "INBOX" and raw.startswith(prefix):
        raw = raw[len(prefix):]
    return mutf7_decode(raw).split(sep) if sep else [mutf7_decode(raw)]


def path_key(path):
    """Canonical text of a folder path, independent of the separator."""
    if path and path[0].upper() == "INBOX":
        path = ["INBOX"] + list(path[1:])
    return "/".join(path)


def internaldate_text(dt):
    """IMAP date-time of an aware datetime (locale independent)."""
    off = dt.utcoffset()
    mins = int(off.total_seconds() // 60)
    sign = "+" if mins >= 0 else "-"
    mins = abs(mins)
    return "%02d-%s-%04d %02d:%02d:%02d %s%02d%02d" % (
        dt.day, MONTHS[dt.month - 1], dt.year, dt.hour, dt.minute, dt.second,
        sign, mins // 60, mins % 60)


def parse_internaldate(text):
    m = re.match(r'\s*(\d{1,2})-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([-+])(\d\d)(\d\d)$',
                 text)
    if not m:
        raise CorpusError("bad INTERNALDATE %r" % text)
    d, mon, y, hh, mm, ss, sign, oh, om = m.groups()
    off = datetime.timedelta(hours=int(oh), minutes=int(om))
    if sign == "-":
        off = -off
    return datetime.datetime(int(y), MONTHS.index(mon.capitalize()) + 1, int(d),
                             int(hh), int(mm), int(ss),
                             tzinfo=datetime.timezone(off))


def iso(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- corpus

def crlf(data):
    return re.sub(rb"\r\n|\r|\n", b"\r\n", data)


def wrap(text, width=76):
    return b"\r\n".join(text[i:i + width] for i in range(0, len(text), width))


def rfc2822_date(dt):
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    return "%s, %s" % (days[dt.weekday()], internaldate_text(dt).replace("-", " ", 2))


def make_message(rng, seed, n, size, date, big=False):
    """One generated message of about `size` bytes (CRLF, bytes)."""
    mid = "<corpus-%d-%d@corpus.example.test>" % (seed, n)
    subjects = [
        "Grüße aus Köln – Termin %d".encode("utf-8"),
        "=?UTF-8?B?%s?=" % base64.b64encode(("日本語の件名 %d" % n).encode()).decode(),
        "Re: Fwd: quarterly report #%d".encode(),
        "Caf\xe9 cr\xe8me %d".encode("latin-1"),  # raw Latin-1: not UTF-8
        "=?ISO-8859-1?Q?Fr=FChst=FCck?= meeting %d".encode(),
    ]
    subj = subjects[n % len(subjects)]
    if isinstance(subj, str):
        subj = subj.encode()
    froms = [
        "Jörg Müller <joerg@example.test>".encode("utf-8"),
        b"\"Smith, John\" <john.smith@example.org>",
        "=?UTF-8?Q?Ren=C3=A9e?= <renee@example.test>".encode(),
        "Zoë Ångström <zoe@example.org>".encode("utf-8"),
    ]
    head = [
        b"Return-Path: <bounce-%d@example.org>" % n,
        b"Received: from mx.example.org (mx.example.org [192.0.2.%d])\r\n"
        b"\tby old.example.test with ESMTP id %08X\r\n\t; %s"
        % (n % 250 + 1, rng.getrandbits(32), rfc2822_date(date).encode()),
        b"Message-ID: " + mid.encode(),
        b"Date: " + rfc2822_date(date).encode(),
        b"From: " + froms[n % len(froms)],
        b"To: alice@example.test",
        b"Subject: " + subj,
        b"MIME-Version: 1.0",
    ]
    para = ("Lorem ipsum dolor sit amet, Grüße, ça va? Ελληνικά, "
            "日本語のテキスト. Message %d of seed %d.\r\n" % (n, seed)).encode("utf-8")
    if size <= 16 * 1024 and not big:
        head += [b"Content-Type: text/plain; charset=utf-8",
                 b"Content-Transfer-Encoding: 8bit"]
        body = b""
        while len(body) + sum(len(h) + 2 for h in head) + 2 < size:
            body += para
        msg = b"\r\n".join(head) + b"\r\n\r\n" + body
        return mid, msg
    boundary = b"=_corpus_%d_%d" % (seed, n)
    head += [b'Content-Type: multipart/mixed; boundary="' + boundary + b'"']
    text = para * 3
    # Wrapped base64: 4 characters per 3 bytes, plus CRLF every 76.
    att_len = max(size - len(text) - 1024, 512)
    raw = rng.randbytes(att_len * 3 * 76 // (4 * 78))
    att = wrap(base64.b64encode(raw))
    parts = [
        b"This is a multi-part message in MIME format.",
        b"--" + boundary,
        b"Content-Type: text/plain; charset=utf-8",
        b"Content-Transfer-Encoding: 8bit",
        b"",
        text,
        b"--" + boundary,
        b'Content-Type: application/octet-stream; name="data-%d.bin"' % n,
        b"Content-Transfer-Encoding: base64",
        b'Content-Disposition: attachment; filename="data-%d.bin"' % n,
        b"",
        att,
        b"--" + boundary + b"--",
        b"",
    ]
    return mid, b"\r\n".join(head) + b"\r\n\r\n" + b"\r\n".join(parts)


def pick_flags(rng, folder):
    flags = [f for f in SYSTEM_FLAGS if f != "\\Draft" and rng.random() < 0.4]
    if folder == ["Drafts"] or rng.random() < 0.05:
        flags.append("\\Draft")
    flags += [k for k in KEYWORDS if rng.random() < 0.2]
    return flags


def pick_date(rng):
    start = datetime.datetime(2009, 1, 1, tzinfo=datetime.timezone.utc)
    end = datetime.datetime(2020, 12, 31, 23, 59, 59, tzinfo=datetime.timezone.utc)
    secs = rng.randrange(int((end - start).total_seconds()))
    zone = datetime.timezone(datetime.timedelta(minutes=rng.choice(ZONES)))
    return (start + datetime.timedelta(seconds=secs)).astimezone(zone)


def message_id_of(data):
    m = re.search(rb"^Message-ID:[ \t]*(.*(?:\r\n[ \t].*)*)", data,
                  re.IGNORECASE | re.MULTILINE)
    if not m:
        return None
    return re.sub(rb"\s+", b" ", m.group(1)).strip().decode("utf-8", "replace")


def sample_dir(explicit):
    if explicit:
        return explicit
    cands = sorted(glob.glob("/usr/lib/python3*/test/test_email/data"))
    here = os.path.join(os.path.dirname(os.__file__), "test", "test_email", "data")
    for d in [here] + cands[::-1]:
        if glob.glob(os.path.join(d, "msg_*.txt")):
            return d
    return None


def plan(seed, count, big_mb, samples, inbox_only=False):
    """List of (folder path, source, message bytes, flags, date, mid)."""
    rng = random.Random(seed)
    out = []
    targets = [f for f in FOLDERS if f not in NO_GENERATED]
    if inbox_only:
        targets = [["INBOX"]]
    for n in range(count):
        folder = targets[n % len(targets)] if n < len(targets) else rng.choice(targets)
        size = rng.choice(SIZES_KB) * 1024 + rng.randrange(1024)
        date = pick_date(rng)
        mid, msg = make_message(rng, seed, n, size, date)
        out.append((folder, "generated", msg, pick_flags(rng, folder), date, mid))
    if big_mb > 0:
        date = pick_date(rng)
        mid, msg = make_message(rng, seed, count, big_mb * 1024 * 1024, date, big=True)
        out.append((["Archive"], "big", msg, ["\\Seen", "$Label1"], date, mid))
    if samples:
        for path in sorted(glob.glob(os.path.join(samples, "msg_*.txt"))):
            with open(path, "rb") as f:
                msg = crlf(f.read())
            date = pick_date(rng)
            out.append((["INBOX"] if inbox_only else ["Samples"], "sample:" + os.path.basename(path), msg,
                        pick_flags(rng, ["Samples"]), date, message_id_of(msg)))
    return out


def load(args):
    samples = sample_dir(args.samples)
    if samples is None and not args.no_samples:
        raise CorpusError("no msg_*.txt samples found (install libpython3.11-testsuite "
                          "or pass --samples DIR, or --no-samples)")
    if args.no_samples:
        samples = None
    conn = connect(args)
    sep = server_separator(conn)
    prefix = server_prefix(conn)
    folders, skipped = [], []
    for path in [["INBOX"]] if args.inbox_only else FOLDERS:
        raw = folder_raw(path, sep, prefix)
        if any(path[:len(s["path"])] == s["path"] for s in skipped):
            skipped.append({"path": path, "name": sep.join(path), "raw": raw,
                            "error": "below a refused folder"})
            continue
        if path != ["INBOX"]:
            typ, data = conn.create(imap_quote(raw))
            if typ != "OK" and b"ALREADYEXISTS" not in b" ".join(
                    d for d in data if isinstance(d, bytes)):
                if not args.skip_refused_folders or typ != "NO":
                    raise CorpusError("CREATE %s failed: %s" % (raw, short(data)))
                skipped.append({"path": path, "name": sep.join(path), "raw": raw,
                                "error": short(data)})
                sys.stderr.write("corpus: server refused folder %s: %s (skipped, "
                                 "with its messages)\n" % (sep.join(path), short(data)))
                continue
        sub = path in SUBSCRIBED
        if sub:
            check(conn.subscribe(imap_quote(raw)), "SUBSCRIBE " + raw)
        folders.append({"path": path, "name": sep.join(path), "raw": raw,
                        "subscribed": sub, "messages": 0})
    messages, rejected = [], []
    total = 0
    skipped_messages = 0
    for path, source, msg, flags, date, mid in plan(args.seed, args.count,
                                                   args.big_mb, samples,
                                                   args.inbox_only):
        if any(s["path"] == path for s in skipped):
            skipped_messages += 1
            continue
        raw = folder_raw(path, sep, prefix)
        typ, data = conn.append(imap_quote(raw), "(" + " ".join(flags) + ")",
                                '"' + internaldate_text(date) + '"', msg)
        if typ != "OK":
            if not source.startswith("sample:"):
                raise CorpusError("APPEND to %s failed: %s" % (raw, short(data)))
            rejected.append({"source": source, "folder": sep.join(path),
                             "error": short(data)})
            sys.stderr.write("corpus: server rejected %s: %s\n" % (source, short(data)))
            continue
        total += len(msg)
        for f in folders:
            if f["path"] == path:
                f["messages"] += 1
        messages.append({
            "folder": sep.join(path), "folder_raw": raw, "folder_path": path,
            "source": source, "sha256": hashlib.sha256(msg).hexdigest(),
            "sha256_loose": hashlib.sha256(strip_headers(msg, LOOSE)).hexdigest(),
            "size": len(msg), "flags": sorted(flags),
            "internaldate": internaldate_text(date), "internaldate_utc": iso(date),
            "message_id": mid,
        })
    conn.logout()
    manifest = {
        "version": MANIFEST_VERSION, "seed": args.seed, "count": args.count,
        "big_mb": args.big_mb, "separator": sep, "user": args.user,
        "folders": folders,
        "subscriptions": [p for p in SUBSCRIBED
                          if not any(s["path"] == p for s in skipped)
                          and (p == ["INBOX"] or not args.inbox_only)],
        "messages": messages, "rejected": rejected,
        "skipped_folders": skipped, "skipped_messages": skipped_messages,
        "loose_headers": LOOSE_HEADERS,
    }
    tmp = args.manifest + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, args.manifest)
    print("corpus: %d messages, %d bytes, %d folders (separator %r), %d rejected%s -> %s"
          % (len(messages), total, len(folders), sep, len(rejected),
             ", %d folders refused (%d messages not loaded)" % (len(skipped), skipped_messages)
             if skipped else "", args.manifest))
    return 0


# ---------------------------------------------------------------- verify

_META = {
    "uid": re.compile(rb"\bUID (\d+)"),
    "size": re.compile(rb"\bRFC822\.SIZE (\d+)"),
    "date": re.compile(rb'\bINTERNALDATE "([^"]+)"'),
    "flags": re.compile(rb"\bFLAGS \(([^)]*)\)"),
}


def fetch_meta(conn, count):
    """{uid: (flags, internaldate text, size)} of the selected folder."""
    if count == 0:
        return {}
    data = check(conn.fetch("1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE)"), "FETCH")
    out = {}
    for item in data:
        if isinstance(item, tuple):
            item = item[0]
        if not item or item == b")":
            continue
        got = {k: r.search(item) for k, r in _META.items()}
        if not all(got.values()):
            raise CorpusError("cannot parse FETCH reply %s" % short(item))
        flags = [f for f in got["flags"].group(1).decode("utf-8", "replace").split()
                 if f != "\\Recent"]
        out[int(got["uid"].group(1))] = (sorted(flags), got["date"].group(1).decode(),
                                         int(got["size"].group(1)))
    return out


def fetch_bodies(conn, uids, sizes, ignore):
    """{uid: sha256 of BODY[] (minus ignored header fields)}, in bounded batches."""
    out = {}
    batch, batch_bytes = [], 0

    def run(batch):
        data = check(conn.uid("FETCH", ",".join(str(u) for u in batch),
                              "(UID BODY.PEEK[])"), "UID FETCH BODY.PEEK[]")
        for item in data:
            if not isinstance(item, tuple):
                continue
            m = _META["uid"].search(item[0])
            if not m:
                raise CorpusError("FETCH reply without UID: %s" % short(item[0]))
            out[int(m.group(1))] = hashlib.sha256(strip_headers(item[1], ignore)).hexdigest()

    for uid in uids:
        batch.append(uid)
        batch_bytes += sizes[uid]
        if batch_bytes >= 32 * 1024 * 1024 or len(batch) >= 200:
            run(batch)
            batch, batch_bytes = [], 0
    if batch:
        run(batch)
    return out


def strip_headers(msg, ignore):
    """msg without the header fields (lowercase bytes names) in ignore."""
    if not ignore:
        return msg
    end = msg.find(b"\r\n\r\n")
    if end < 0:
        end = len(msg)
    head, body = msg[:end + 2], msg[end + 2:]
    lines = re.split(rb"(?<=\r\n)", head)
    out, skip = [], False
    for line in lines:
        if line[:1] in (b" ", b"\t") and skip:
            continue
        name = line.split(b":", 1)[0].strip().lower()
        skip = b":" in line and name in ignore
        if not skip:
            out.append(line)
    return b"".join(out) + body


def parse_map(pairs):
    out = {}
    for p in pairs or []:
        if "=" not in p:
            raise SystemExit("corpus: --folder-map wants OLD=NEW, got %r" % p)
        a, b = p.split("=", 1)
        out[path_key(a.split("/"))] = path_key(b.split("/"))
    return out


def verify(args):
    with open(args.manifest, encoding="utf-8") as f:
        man = json.load(f)
    fmap = parse_map(args.folder_map)
    ignore = set()
    key = "sha256"
    if args.loose_headers:
        ignore = {h.encode() for h in man.get("loose_headers", LOOSE_HEADERS)}
        key = "sha256_loose"
    diffs = []

    def mapped(path):
        k = path_key(path)
        return fmap.get(k, k)

    conn = connect(args)
    sep = server_separator(conn)
    prefix = server_prefix(conn)
    live = {}
    for flags, delim, raw in parse_list(check(conn.list('""', '"*"'), "LIST")):
        k = path_key(path_of(raw, delim or sep, prefix))
        # With a prefix "INBOX.", INBOX's children sit below a \Noselect
        # "INBOX.INBOX": it must not hide the real INBOX.
        if k in live and "\\noselect" in flags.lower():
            continue
        live[k] = (raw, flags)
    want = {mapped(f["path"]): f for f in man["folders"]}
    # --only-folder: compare those folders and nothing else (a POP3 copy
    # has INBOX only).
    only = None
    if args.only_folder:
        only = {path_key(x.split("/")) for x in args.only_folder}
        want = {k: v for k, v in want.items() if k in only}
    for k in sorted(want):
        if k not in live:
            diffs.append("folder %s: missing" % k)
        elif "\\noselect" in live[k][1].lower() or "\\nonexistent" in live[k][1].lower():
            diffs.append("folder %s: exists only as \\Noselect" % k)
    if not args.extra_folders_ok and only is None:
        for k in sorted(set(live) - set(want)):
            if "\\noselect" not in live[k][1].lower():
                diffs.append("folder %s: not in the manifest" % k)

    if not args.no_subscriptions:
        subs = set()
        for flags, delim, raw in parse_list(check(conn.lsub('""', '"*"'), "LSUB")):
            # \Noselect in LSUB: not subscribed itself, a parent of
            # subscribed folders (RFC 3501 6.3.9; Courier lists them).
            if "\\noselect" not in flags.lower():
                subs.add(path_key(path_of(raw, delim or sep, prefix)))
        wsubs = {mapped(p) for p in man["subscriptions"]}
        for k in sorted(wsubs - subs):
            diffs.append("subscription %s: missing" % k)
        for k in sorted(subs - wsubs):
            diffs.append("subscription %s: not in the manifest" % k)

    by_folder = {}
    for m in man["messages"]:
        if only is None or mapped(m["folder_path"]) in only:
            by_folder.setdefault(mapped(m["folder_path"]), []).append(m)
    checked = 0
    for k in sorted(set(by_folder) | {x for x in want if x in live}):
        if k not in live:
            for m in by_folder.get(k, []):
                diffs.append("folder %s: missing message %s" % (k, describe(m)))
            continue
        typ, data = conn.select(imap_quote(live[k][0]), readonly=True)
        if typ != "OK":
            diffs.append("folder %s: cannot EXAMINE: %s" % (k, short(data)))
            continue
        count = int(data[0] or 0)
        meta = fetch_meta(conn, count)
        uids = sorted(meta)
        hashes = fetch_bodies(conn, uids, {u: meta[u][2] for u in uids}, ignore)
        pool = {}
        for u in uids:
            pool.setdefault(hashes[u], []).append(u)
        for m in by_folder.get(k, []):
            cands = pool.get(m[key])
            if not cands:
                diffs.append("folder %s: missing message %s" % (k, describe(m)))
                continue
            # Prefer a copy whose flags also match (identical bodies).
            pick = next((u for u in cands if meta[u][0] == sorted(m["flags"])), cands[0])
            cands.remove(pick)
            flags, date, size = meta[pick]
            checked += 1
            if not args.no_flags and flags != sorted(m["flags"]):
                diffs.append("folder %s: message %s uid %d: flags %s, expected %s"
                             % (k, describe(m), pick, fmt_flags(flags),
                                fmt_flags(m["flags"])))
            if not args.no_dates:
                got = iso(parse_internaldate(date))
                if got != m["internaldate_utc"]:
                    diffs.append("folder %s: message %s uid %d: INTERNALDATE %s (%s), "
                                 "expected %s (%s)" % (k, describe(m), pick, date, got,
                                                       m["internaldate"],
                                                       m["internaldate_utc"]))
        for h, rest in sorted(pool.items()):
            for u in rest:
                diffs.append("folder %s: extra message uid %d (sha256 %s, %d bytes)"
                             % (k, u, h[:16], meta[u][2]))
    conn.logout()
    if diffs:
        print("corpus verify: %d difference(s) between %s:%s (%s) and %s:" %
              (len(diffs), args.host, args.port or 143, args.user, args.manifest))
        for d in diffs:
            print("  " + d)
        return EXIT_DIFF
    print("corpus verify: ok, %d messages in %d folders match %s" %
          (checked, len(want), args.manifest))
    return 0


def snapshot(args):
    """A manifest of a live mailbox as the server stores it (what a copy
    of it must reproduce), compared with --verify like a loaded one."""
    conn = connect(args)
    sep = server_separator(conn)
    prefix = server_prefix(conn)
    live = {}
    for flags, delim, raw in parse_list(check(conn.list('""', '"*"'), "LIST")):
        if "\\noselect" in flags.lower() or "\\nonexistent" in flags.lower():
            continue
        path = path_of(raw, delim or sep, prefix)
        live.setdefault(path_key(path), (path, raw))
    subs = []
    for flags, delim, raw in parse_list(check(conn.lsub('""', '"*"'), "LSUB")):
        if "\\noselect" not in flags.lower():
            subs.append(path_of(raw, delim or sep, prefix))
    folders, messages = [], []
    for k in sorted(live):
        path, raw = live[k]
        typ, data = conn.select(imap_quote(raw), readonly=True)
        if typ != "OK":
            raise CorpusError("EXAMINE %s failed: %s" % (raw, short(data)))
        meta = fetch_meta(conn, int(data[0] or 0))
        uids = sorted(meta)
        strict = fetch_bodies(conn, uids, {u: meta[u][2] for u in uids}, set())
        loose = fetch_bodies(conn, uids, {u: meta[u][2] for u in uids}, LOOSE)
        for u in uids:
            flags, date, size = meta[u]
            messages.append({
                "folder": sep.join(path), "folder_raw": raw, "folder_path": path,
                "source": "%s uid %d" % (k, u), "sha256": strict[u],
                "sha256_loose": loose[u], "size": size, "flags": flags,
                "internaldate": date, "internaldate_utc": iso(parse_internaldate(date)),
                "message_id": None,
            })
        folders.append({"path": path, "name": sep.join(path), "raw": raw,
                        "subscribed": path in subs, "messages": len(uids)})
    conn.logout()
    manifest = {
        "version": MANIFEST_VERSION, "snapshot": True, "separator": sep,
        "user": args.user, "folders": folders, "subscriptions": subs,
        "messages": messages, "rejected": [], "loose_headers": LOOSE_HEADERS,
    }
    tmp = args.manifest + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, args.manifest)
    print("corpus snapshot: %d messages, %d bytes, %d folders, %d subscriptions -> %s"
          % (len(messages), sum(m["size"] for m in messages), len(folders),
             len(subs), args.manifest))
    return 0


def describe(m):
    return "%s [%s, %d bytes, sha256 %s]" % (m["message_id"] or "(no Message-ID)",
                                              m["source"], m["size"], m["sha256"][:16])


def fmt_flags(flags):
    return "(" + " ".join(sorted(flags)) + ")"


# ---------------------------------------------------------------- main

def main(argv):
    p = argparse.ArgumentParser(prog="corpus.py", description=__doc__.split("\n")[0])
    p.add_argument("--verify", action="store_true")
    p.add_argument("--snapshot", action="store_true")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tls", choices=["none", "starttls", "imaps"], default="none")
    p.add_argument("--cafile")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--user", required=True)
    p.add_argument("--password-file", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--count", type=int, default=40)
    p.add_argument("--big-mb", type=int, default=0)
    p.add_argument("--samples")
    p.add_argument("--no-samples", action="store_true")
    p.add_argument("--skip-refused-folders", action="store_true")
    p.add_argument("--inbox-only", action="store_true")
    p.add_argument("--folder-map", action="append")
    p.add_argument("--loose-headers", action="store_true")
    p.add_argument("--no-flags", action="store_true")
    p.add_argument("--no-dates", action="store_true")
    p.add_argument("--no-subscriptions", action="store_true")
    p.add_argument("--extra-folders-ok", action="store_true")
    p.add_argument("--only-folder", action="append")
    args = p.parse_args(argv[1:])
    if args.count < 0 or args.big_mb < 0 or args.big_mb > 1024:
        p.error("--count and --big-mb must be >= 0 (--big-mb at most 1024)")
    try:
        if args.snapshot:
            return snapshot(args)
        return verify(args) if args.verify else load(args)
    except CorpusError as e:
        sys.stderr.write("corpus: %s\n" % e)
        return EXIT_ERROR
    except (OSError, imaplib.IMAP4.error, socket.timeout) as e:
        sys.stderr.write("corpus: %s: %s\n" % (type(e).__name__, e))
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main(sys.argv))
