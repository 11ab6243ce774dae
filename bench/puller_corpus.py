#!/usr/bin/env python3
"""puller_corpus.py - write a reproducible benchmark mailbox as a Maildir++.

    puller_corpus.py --out DIR [--messages 10000] [--size-mb 500]
                     [--big-mb 0] [--seed 1]

Writes DIR/maildir (a Dovecot Maildir++ root, hierarchy separator ".",
folder names in modified UTF-7, as Dovecot stores them), DIR/index.tsv
and DIR/manifest.json, then DIR/done.  The same arguments give the same
bytes (Python's seeded Mersenne Twister; no clock, no os.urandom).

Sizes follow a log-normal distribution, as in real mailboxes: mostly small
text messages (median about 6 KB) and a tail of multi-MB attachments
(base64), scaled so that the total is --size-mb MiB (2^20) counted as IMAP
sizes (CRLF line ends).  --big-mb N adds one message of N MiB to Archive.
14 folders, nested up to three levels, with non-ASCII names; system flags
(never \\Deleted) and keywords (Maildir letters + dovecot-keywords);
INTERNALDATE (the file's mtime) spread over 2009-2020.

Files use LF line ends, as Dovecot itself stores mail; the name carries
S=<file size> and W=<IMAP size>, so Dovecot never has to read a file to
answer RFC822.SIZE.

index.tsv, one message a line, in the order a copier meets them (folder by
folder, by file name = UID order):
    FOLDER<TAB>FLAGS<TAB>INTERNALDATE<TAB>IMAP_SIZE<TAB>PATH
FOLDER is the modified UTF-7 name with "/" between levels, FLAGS an IMAP
flag list without parentheses, PATH relative to DIR.

manifest.json: folders (decoded components, raw mUTF-7) with counts and
bytes, and per message: folder index, Message-ID, IMAP size, sha256 of the
CRLF bytes (what FETCH BODY[] returns), system flags, keywords.
"""

import argparse
import base64
import datetime
import hashlib
import json
import math
import os
import random
import shutil
import sys

# Path components (UTF-8); "." and "/" never inside a component.
FOLDERS = [
    (["INBOX"], 30),
    (["INBOX", "Receipts"], 4),
    (["Archive"], 8),
    (["Archive", "2009"], 8),
    (["Archive", "2015"], 10),
    (["Käse"], 3),
    (["Käse", "Ölfässer"], 2),
    (["日本語"], 2),
    (["日本語", "メール"], 2),
    (["Drafts"], 1),
    (["Sent Messages"], 16),
    (["Work"], 6),
    (["Work", "Projects & Plans"], 5),
    (["Work", "Projects & Plans", "Ünïcødé – “quoted” €"], 3),
]
KEYWORDS = ["$Forwarded", "$Label1", "$MDNSent", "NonJunk", "project_x", "todo"]
# Maildir flag letters (sorted in file names), IMAP names.
SYSFLAGS = [("D", "\\Draft"), ("F", "\\Flagged"), ("R", "\\Answered"), ("S", "\\Seen")]
MIB = 1 << 20
MIN_SIZE = 1200
MAX_SIZE = 40 * MIB
HOST = "bench.example.test"

WORDS = ("the of and to in is that for it with as was on be at by this had not "
         "are but from or have an they which one you were all we her she there "
         "would their will when who him been has more if no out so said what up "
         "its about than into them can only other new some could time these two "
         "may then do first any my now such like our over man me even most made "
         "after also did many before must through back years where much your way "
         "well down should because each just those people how too little state "
         "good very make world still own see men work long get here between both "
         "life being under never day same another know while last might us great "
         "old year off come since against go came right used take three Grüße "
         "Käse Straße naïve café façade smörgåsbord Ölfässer").split()


def mutf7(name):
    """Modified UTF-7 (RFC 3501 5.1.3)."""
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


def plan_sizes(rng, count, total):
    """count sizes (IMAP bytes), log-normal, summing to about total."""
    sigma = 1.9
    raw = [math.exp(rng.gauss(0.0, sigma)) for _ in range(count)]
    scale = total / sum(raw)
    for _ in range(8):
        sizes = [min(MAX_SIZE, max(MIN_SIZE, int(r * scale))) for r in raw]
        s = sum(sizes)
        if abs(s - total) < total * 0.001:
            break
        scale *= total / s
    return sizes


class Pools:
    """Deterministic text and base64 material to slice messages from."""

    def __init__(self, rng):
        words = rng.choices(WORDS, k=200000)
        lines, cur = [], []
        n = 0
        for w in words:
            if n + len(w) + 1 > 72:
                lines.append(" ".join(cur))
                cur, n = [], 0
            cur.append(w)
            n += len(w) + 1
        self.text = ("\n".join(lines) + "\n").encode("utf-8")
        blob = rng.randbytes(6 * MIB)
        self.b64 = base64.encodebytes(blob)  # 76-char lines, LF
        self.b64_lines = len(self.b64) // 77

    def text_slice(self, rng, size):
        """About size bytes of text, starting at a line."""
        out = bytearray()
        while size - len(out) > 80:
            start = self.text.find(b"\n", rng.randrange(len(self.text) - 1)) + 1
            chunk = self.text[start:start + (size - len(out))]
            nl = chunk.rfind(b"\n")    # end on a whole line
            if nl >= 0:
                out += chunk[:nl + 1]
        out += b"-- \nBench User\n"
        return bytes(out)

    def b64_slice(self, rng, size):
        """About size bytes of base64 lines (LF)."""
        nlines = max(1, size // 77)
        out = bytearray()
        while nlines > 0:
            start = rng.randrange(self.b64_lines)
            take = min(nlines, self.b64_lines - start)
            out += self.b64[start * 77:(start + take) * 77]
            nlines -= take
        return bytes(out)


def rfc2822(dt):
    return dt.strftime("%a, %d %b %Y %H:%M:%S +0000")


def make_message(rng, pools, seed, n, size, dt):
    """One message of about size IMAP bytes, LF line ends (bytes)."""
    mid = "<bench-%d-%d@%s>" % (seed, n, HOST)
    sender = rng.choice(["Jörg Müller <joerg@example.test>",
                         "Anna Smith <anna@example.org>",
                         "=?UTF-8?B?5bGx55Sw5aSq6YOO?= <yamada@example.jp>",
                         "newsletter@shop.example.com",
                         "Bob <bob@example.net>"])
    subject = rng.choice(["Re: quarterly report #%d" % n,
                          "=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?= %d" % n,
                          "Fwd: invoice %d" % n,
                          "meeting notes %d" % n,
                          "=?UTF-8?B?%s?=" % base64.b64encode(
                              ("日本語の件名 %d" % n).encode()).decode()])
    hops = rng.randint(2, 5)
    hdr = []
    for h in range(hops):
        hdr.append("Received: from mx%d.example.net (mx%d.example.net [192.0.2.%d])\n"
                   "\tby mail.example.test (Postfix) with ESMTPS id %08X%d\n"
                   "\tfor <user@example.test>; %s"
                   % (h, h, rng.randrange(1, 255), rng.getrandbits(32), h, rfc2822(dt)))
    hdr.append("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.net;\n"
               "\ts=sel1; h=from:to:subject:date:message-id;\n"
               "\tbh=%s;\n\tb=%s" % (
                   base64.b64encode(rng.randbytes(32)).decode(),
                   base64.b64encode(rng.randbytes(96)).decode()))
    hdr.append("From: %s" % sender)
    hdr.append("To: Bench User <user@example.test>")
    hdr.append("Subject: %s" % subject)
    hdr.append("Date: %s" % rfc2822(dt))
    hdr.append("Message-ID: %s" % mid)
    hdr.append("MIME-Version: 1.0")
    # Target file bytes: IMAP size minus one CR per line (~ 1/60 for text,
    # 1/77 for base64); the caller measures the exact IMAP size after.
    if size < 24 * 1024:
        hdr.append("Content-Type: text/plain; charset=utf-8")
        hdr.append("Content-Transfer-Encoding: 8bit")
        head = ("\n".join(hdr) + "\n\n").encode("utf-8")
        want = max(64, int((size - len(head) * 1.02) / 1.014))
        return head + pools.text_slice(rng, want), mid
    boundary = "=_bench_%d_%08x" % (n, rng.getrandbits(32))
    hdr.append('Content-Type: multipart/mixed; boundary="%s"' % boundary)
    head = ("\n".join(hdr) + "\n\nThis is a multi-part message in MIME format.\n").encode()
    text = pools.text_slice(rng, rng.randint(300, 3000))
    name = rng.choice(["report.pdf", "photo.jpg", "Präsentation.pptx", "data.zip"])
    part1 = ("--%s\nContent-Type: text/plain; charset=utf-8\n"
             "Content-Transfer-Encoding: 8bit\n\n" % boundary).encode() + text
    part2h = ("--%s\nContent-Type: application/octet-stream; name*=utf-8''%s\n"
              "Content-Transfer-Encoding: base64\n"
              "Content-Disposition: attachment; filename*=utf-8''%s\n\n"
              % (boundary, name, name)).encode()
    tail = ("--%s--\n" % boundary).encode()
    fixed = len(head) + len(part1) + len(part2h) + len(tail)
    want = max(77, int((size - fixed * 1.02) * 77 / 78))
    return head + part1 + part2h + pools.b64_slice(rng, want) + tail, mid


def main(argv):
    p = argparse.ArgumentParser(prog="puller_corpus.py")
    p.add_argument("--out", required=True)
    p.add_argument("--messages", type=int, default=10000)
    p.add_argument("--size-mb", type=float, default=500)
    p.add_argument("--big-mb", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    if a.messages < len(FOLDERS) or a.size_mb <= 0:
        p.error("--messages must be at least %d and --size-mb positive" % len(FOLDERS))

    out = os.path.abspath(a.out)
    if os.path.exists(os.path.join(out, "done")):
        return 0
    if os.path.exists(out):
        shutil.rmtree(out)
    md = os.path.join(out, "maildir")
    os.makedirs(md)

    rng = random.Random(a.seed)
    pools = Pools(rng)
    sizes = plan_sizes(rng, a.messages, a.size_mb * MIB)
    weights = [w for _, w in FOLDERS]
    # Every folder holds at least one message.
    where = list(range(len(FOLDERS))) + rng.choices(
        range(len(FOLDERS)), weights=weights, k=a.messages - len(FOLDERS))
    rng.shuffle(where)
    base = datetime.datetime(2009, 1, 1, tzinfo=datetime.timezone.utc)
    span = int((datetime.datetime(2020, 12, 31, tzinfo=datetime.timezone.utc)
                - base).total_seconds())
    msgs = [{"n": i, "folder": where[i], "size": sizes[i]} for i in range(a.messages)]
    if a.big_mb > 0:
        msgs.append({"n": a.messages, "folder": 2, "size": a.big_mb * MIB, "big": True})
    for m in msgs:
        m["date"] = int(base.timestamp()) + rng.randrange(span)
        r = rng.random()
        flags = []
        if r < 0.85:
            flags.append("S")
        if rng.random() < 0.15:
            flags.append("R")
        if rng.random() < 0.05:
            flags.append("F")
        if FOLDERS[m["folder"]][0] == ["Drafts"]:
            flags.append("D")
        kws = sorted(rng.sample(range(len(KEYWORDS)), rng.choice([0, 0, 0, 1, 1, 2])))
        m["flags"] = sorted(flags)
        m["kws"] = kws

    folder_dirs, folder_raw = [], []
    for comps, _ in FOLDERS:
        raw = [mutf7(c) for c in comps]
        folder_raw.append("/".join(raw))
        d = md if comps == ["INBOX"] else os.path.join(md, "." + ".".join(raw))
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        if d != md:
            open(os.path.join(d, "maildirfolder"), "w").close()
        with open(os.path.join(d, "dovecot-keywords"), "w") as f:
            for i, k in enumerate(KEYWORDS):
                f.write("%d %s\n" % (i, k))
        folder_dirs.append(d)

    # Write folder by folder, in file-name order (Dovecot gives UIDs in it).
    manifest = {"seed": a.seed, "messages": [], "folders": []}
    per_folder = [[] for _ in FOLDERS]
    for m in msgs:
        per_folder[m["folder"]].append(m)
    index = []
    fcount = [0] * len(FOLDERS)
    fbytes = [0] * len(FOLDERS)
    total = 0
    for fi, lst in enumerate(per_folder):
        for seq, m in enumerate(lst):
            dt = datetime.datetime.fromtimestamp(m["date"], datetime.timezone.utc)
            body, mid = make_message(rng, pools, a.seed, m["n"], m["size"], dt)
            lines = body.count(b"\n")
            isize = len(body) + lines
            crlf = body.replace(b"\n", b"\r\n")
            letters = "".join(m["flags"]) + "".join(chr(ord("a") + k) for k in m["kws"])
            fname = "%d.M%06dP%d.%s,S=%d,W=%d:2,%s" % (
                1600000000 + seq, m["n"], a.seed, HOST, len(body), isize, letters)
            rel = os.path.join(folder_dirs[fi], "cur", fname)
            with open(rel, "wb") as f:
                f.write(body)
            os.utime(rel, (m["date"], m["date"]))
            imapflags = [name for letter, name in SYSFLAGS if letter in m["flags"]]
            imapflags += [KEYWORDS[k] for k in m["kws"]]
            idate = dt.strftime("%d-%b-%Y %H:%M:%S +0000")
            index.append("%s\t%s\t%s\t%d\t%s" % (folder_raw[fi], " ".join(imapflags),
                                                idate, isize, os.path.relpath(rel, out)))
            manifest["messages"].append({
                "folder": fi, "message_id": mid, "size": isize,
                "sha256": hashlib.sha256(crlf).hexdigest(),
                "flags": [name for letter, name in SYSFLAGS if letter in m["flags"]],
                "keywords": [KEYWORDS[k] for k in m["kws"]],
                "big": bool(m.get("big")),
            })
            fcount[fi] += 1
            fbytes[fi] += isize
            total += isize
    for fi, (comps, _) in enumerate(FOLDERS):
        manifest["folders"].append({"path": comps, "raw": folder_raw[fi],
                                    "messages": fcount[fi], "bytes": fbytes[fi]})
    manifest["total_messages"] = len(msgs)
    manifest["total_bytes"] = total
    sz = sorted(m["size"] for m in manifest["messages"])
    manifest["size_median"] = sz[len(sz) // 2]
    manifest["size_p99"] = sz[min(len(sz) - 1, int(len(sz) * 0.99))]
    manifest["size_max"] = sz[-1]
    with open(os.path.join(out, "index.tsv"), "w", encoding="utf-8") as f:
        f.write("\n".join(index) + "\n")
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False)
    open(os.path.join(out, "done"), "w").close()
    print("corpus: %d messages, %.1f MiB, median %d B, p99 %d B, max %d B, %d folders"
          % (len(msgs), total / MIB, manifest["size_median"], manifest["size_p99"],
             manifest["size_max"], len(FOLDERS)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
