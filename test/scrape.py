#!/usr/bin/python3
"""test/scrape.py - scrapes wiresyncd's /metrics with urllib and checks it.

usage: scrape.py PORT COMMAND [ARGS]
  validate             parse the Prometheus text format strictly (HELP and TYPE before each
                       family, counters named *_total, histogram buckets ascending and
                       cumulative, +Inf = _count, _sum present, no duplicates); print samples
  expect SAMPLE=VALUE  exact values, e.g. 'wiresync_watchers=1' or
                       'wiresync_rpcs_total{method="Update",code="OK",service="x"}=4'
                       (labels in any order); several may follow
  nonzero FAMILY       the family's samples whose value is not 0, one a line, sorted
  get SAMPLE           one sample's value
  status PATH [METHOD] the HTTP status of PATH (GET unless METHOD)
  limits               a fifth idle connection is closed at once while four are open, an
                       oversized request gets 431, idle connections are closed within 8 s,
                       and a scrape works afterwards
Exit status 0 when every check held, 1 otherwise (the reasons go to stdout).
"""

import re
import socket
import sys
import time
import urllib.error
import urllib.request

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')


def fetch(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        ctype = r.headers.get("Content-Type", "")
        return r.status, ctype, r.read().decode("utf-8")


def parse_labels(s):
    labels = {}
    pos = 0
    while pos < len(s):
        m = LABEL_RE.match(s, pos)
        if not m:
            raise ValueError("bad labels {%s}" % s)
        if m.group(1) in labels:
            raise ValueError("label %s twice in {%s}" % (m.group(1), s))
        labels[m.group(1)] = m.group(2)
        pos = m.end()
    return labels


def key(name, labels):
    return (name, tuple(sorted(labels.items())))


def fmt(k):
    name, labels = k
    if not labels:
        return name
    return "%s{%s}" % (name, ",".join('%s="%s"' % kv for kv in labels))


def parse(text):
    """Returns ({key: value}, [problems])."""
    problems = []
    samples = {}
    helps, types = {}, {}
    order = []
    for n, line in enumerate(text.split("\n"), 1):
        if line == "":
            continue
        if line.startswith("# HELP "):
            parts = line.split(" ", 3)
            if len(parts) < 4 or not parts[3]:
                problems.append("line %d: HELP without text" % n)
            helps[parts[2]] = n
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram",
                                                   "summary", "untyped"):
                problems.append("line %d: bad TYPE line %r" % (n, line))
                continue
            if parts[2] in types:
                problems.append("line %d: second TYPE for %s" % (n, parts[2]))
            types[parts[2]] = parts[3]
            order.append(parts[2])
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            problems.append("line %d: not a sample: %r" % (n, line))
            continue
        name, labels, value = m.group(1), m.group(3) or "", m.group(4)
        try:
            labels = parse_labels(labels)
            value = float(value)
        except ValueError as e:
            problems.append("line %d: %s" % (n, e))
            continue
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name[:-len(suffix)] in types and \
                    types[name[:-len(suffix)]] == "histogram":
                family = name[:-len(suffix)]
        if family not in types or family not in helps:
            problems.append("line %d: %s has no HELP/TYPE before it" % (n, name))
        elif order[-1] != family:
            problems.append("line %d: %s is not under its own TYPE line" % (n, name))
        if types.get(family) == "counter" and not name.endswith("_total"):
            problems.append("line %d: counter %s is not named *_total" % (n, name))
        k = key(name, labels)
        if k in samples:
            problems.append("line %d: duplicate sample %s" % (n, fmt(k)))
        samples[k] = value
    for fam, t in types.items():
        if t != "histogram":
            continue
        buckets = [(dict(k[1]), v) for k, v in samples.items() if k[0] == fam + "_bucket"]
        if not buckets:
            problems.append("histogram %s has no buckets" % fam)
            continue
        les = []
        for labels, v in buckets:
            le = labels.get("le")
            les.append((float("inf") if le == "+Inf" else float(le), v))
        les.sort()
        if les[-1][0] != float("inf"):
            problems.append("histogram %s has no +Inf bucket" % fam)
        for (a, va), (b, vb) in zip(les, les[1:]):
            if vb < va:
                problems.append("histogram %s: bucket le=%g (%g) < le=%g (%g)" % (fam, b, vb, a, va))
        count = samples.get(key(fam + "_count", {}))
        total = samples.get(key(fam + "_sum", {}))
        if count is None or total is None:
            problems.append("histogram %s lacks _count or _sum" % fam)
        elif les[-1][1] != count:
            problems.append("histogram %s: +Inf bucket %g != _count %g" % (fam, les[-1][1], count))
        elif count == 0 and total != 0:
            problems.append("histogram %s: _sum %g with _count 0" % (fam, total))
        elif count > 0 and total <= 0:
            problems.append("histogram %s: _sum %g with _count %g" % (fam, total, count))
    return samples, problems


def sample_spec(spec):
    name, _, rest = spec.partition("{")
    labels = parse_labels(rest[:-1]) if rest else {}
    return key(name, labels)


def scrape(port):
    status, ctype, text = fetch(port)
    samples, problems = parse(text)
    if status != 200:
        problems.append("HTTP status %d" % status)
    if not ctype.startswith("text/plain; version=0.0.4"):
        problems.append("Content-Type %r" % ctype)
    return samples, problems, text


def num(v):
    return ("%d" % v) if v == int(v) else repr(v)


def http_status(port, path, method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def closed_within(s, secs):
    s.settimeout(secs)
    try:
        while True:
            d = s.recv(4096)
            if not d:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def limits(port):
    bad = []
    idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(4)]
    time.sleep(0.3)
    fifth = socket.create_connection(("127.0.0.1", port), timeout=5)
    if not closed_within(fifth, 2):
        bad.append("a fifth connection stayed open while four were open")
    fifth.close()
    t0 = time.monotonic()
    for s in idle:
        if not closed_within(s, 8):
            bad.append("an idle connection was not closed within 8 s")
        s.close()
    waited = time.monotonic() - t0
    print("# idle connections closed after %.1f s" % waited)
    big = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        big.sendall(b"GET /metrics HTTP/1.1\r\nX-Filler: " + b"a" * 6000)
    except OSError:
        pass
    big.settimeout(5)
    try:
        head = big.recv(100)
    except OSError:
        head = b""
    big.close()
    if not head.startswith(b"HTTP/1.1 431"):
        bad.append("an oversized request got %r, not 431" % head[:40])
    _, problems, _ = scrape(port)
    bad.extend("after the limits: " + p for p in problems)
    return bad


def main(argv):
    port = int(argv[1])
    cmd = argv[2]
    if cmd == "status":
        print(http_status(port, argv[3], argv[4] if len(argv) > 4 else "GET"))
        return 0
    if cmd == "limits":
        bad = limits(port)
        for b in bad:
            print("not ok:", b)
        return 1 if bad else 0
    samples, problems, text = scrape(port)
    if cmd == "validate":
        for k in sorted(samples):
            print("%s %s" % (fmt(k), num(samples[k])))
        for p in problems:
            print("not ok:", p)
        return 1 if problems else 0
    if problems:
        for p in problems:
            print("not ok:", p)
        return 1
    if cmd == "get":
        k = sample_spec(argv[3])
        if k not in samples:
            print("missing")
            return 1
        print(num(samples[k]))
        return 0
    if cmd == "nonzero":
        fam = argv[3]
        for k in sorted(samples):
            if k[0] == fam and samples[k] != 0:
                print("%s %s" % (fmt(k), num(samples[k])))
        return 0
    if cmd == "expect":
        bad = 0
        for spec in argv[3:]:
            s, _, want = spec.rpartition("=")
            k = sample_spec(s)
            got = samples.get(k)
            if got is None or got != float(want):
                print("not ok: %s is %s, want %s" % (fmt(k), "missing" if got is None else num(got), want))
                bad += 1
        return 1 if bad else 0
    print("unknown command", cmd)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
