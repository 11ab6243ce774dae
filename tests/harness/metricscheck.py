#!/usr/bin/python3
"""metricscheck.py - scrape a /metrics page and check sample values.

    metricscheck.py URL [--save FILE] [SAMPLE=VALUE ...]

Fetches URL (HTTP GET, 5 s timeout), requires 200 and the Prometheus text
format's Content-Type (text/plain; version=0.0.4), parses every sample line
(each must be `name{labels} value` with a family declared by # TYPE before
it), and compares each SAMPLE, written exactly as on the page (e.g.
'mailmigrate_relay_lookups_total{map="transport",answer="ok"}'), with VALUE
(a number compared as a float, or `>N` / `<N`). Exit 0 when everything
holds, 1 with the reasons (and the samples asked for) on stderr.
"""
import re
import sys
import urllib.request

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? (\S+)$')


def parse(text):
    samples, families, errors = {}, {}, []
    for n, line in enumerate(text.split("\n"), 1):
        if line == "":
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            if len(parts) != 4:
                errors.append("line %d: bad TYPE" % n)
            else:
                families[parts[2]] = parts[3]
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            errors.append("line %d: not a sample: %r" % (n, line))
            continue
        name = m.group(1)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in families and not (base in families and families[base] == "histogram"):
            errors.append("line %d: %s has no # TYPE before it" % (n, name))
        key = name + (m.group(2) or "")
        if key in samples:
            errors.append("line %d: %s twice" % (n, key))
        try:
            samples[key] = float(m.group(3))
        except ValueError:
            errors.append("line %d: bad value %r" % (n, m.group(3)))
    return samples, errors


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    url, args, save = argv[1], argv[2:], None
    if args[:1] == ["--save"]:
        save, args = args[1], args[2:]
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            ctype = r.headers.get("Content-Type", "")
            body = r.read().decode("utf-8")
            status = r.status
    except Exception as e:  # noqa: BLE001 - any failure is the answer
        print("metricscheck: %s: %s" % (url, e), file=sys.stderr)
        return 1
    if save:
        with open(save, "w", encoding="utf-8") as f:
            f.write(body)
    problems = []
    if status != 200:
        problems.append("status %d" % status)
    if not ctype.startswith("text/plain; version=0.0.4"):
        problems.append("Content-Type %r" % ctype)
    samples, errors = parse(body)
    problems += errors
    for a in args:
        key, _, want = a.rpartition("=")
        got = samples.get(key)
        if got is None:
            problems.append("%s: not on the page" % key)
        elif want.startswith(">"):
            if not got > float(want[1:]):
                problems.append("%s = %g, want %s" % (key, got, want))
        elif want.startswith("<"):
            if not got < float(want[1:]):
                problems.append("%s = %g, want %s" % (key, got, want))
        elif got != float(want):
            problems.append("%s = %g, want %s" % (key, got, want))
    if problems:
        print("metricscheck: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
