#!/usr/bin/python3
"""WireSync.ReportLinks and Admin.ListLinks of a running wiresyncd, with python3-grpcio.

Run by test/links.test:

    WS_ADDR=127.0.0.1:PORT WS_PKI=DIR WS_PY=DIR WS_DB=FILE python3 test/links_client.py MODE

Modes:
    --report     Updates for alice, bob, dave and carol (netb); reports: bad ones refused
                 (INVALID_ARGUMENT naming the field, nothing stored), the rate limit, keys
                 of other networks and unknown keys dropped, hosts never read links
                 (Admin needs an admin certificate), nothing of it on a Watch stream
    --stored     after a restart: the pairs are still there (read from the store)
    --removed    after RemovePeer dave: no pair and no stored row of dave's
    --metrics URL  wiresync_link_pairs counts
Each mode ends with "N passed, M failed" and exits non-zero on a failure.
"""

import os
import sqlite3
import sys
import time
import urllib.request

import grpc_client as gc
from grpc_client import Checks, Client, Watcher, grpc, pb

import admin_pb2 as apb  # noqa: E402

SVC = "/wiresync.v1.WireSync/"
ADMIN = "/wiresync.v1.Admin/"
T = gc.TIMEOUT
DB = os.environ.get("WS_DB", "")
REASON = "no handshake on any of 3 candidates for 2 min"


def reporter(c):
    return c.channel.unary_unary(SVC + "ReportLinks",
                                 request_serializer=pb.LinkReport.SerializeToString,
                                 response_deserializer=pb.LinkReportReply.FromString)


def list_links(c, name=""):
    f = c.channel.unary_unary(ADMIN + "ListLinks",
                              request_serializer=apb.ListLinksRequest.SerializeToString,
                              response_deserializer=apb.ListLinksReply.FromString)
    return f(apb.ListLinksRequest(name=name), timeout=T)


def health(name, path="lan", endpoint="192.168.1.11:51821", hs_ago=5, reason=""):
    now = int(time.time() * 1000)
    return pb.LinkHealth(peer_key=gc.key_of(name) if isinstance(name, str) else name,
                         path=path, endpoint=endpoint,
                         last_handshake_ms=now - hs_ago * 1000 if hs_ago is not None else 0,
                         rx_bytes=1234, tx_bytes=5678, down_reason=reason)


def rows(reporter_name=None):
    """Rows of link_health (of reporter_name's reports when given), straight from the file."""
    db = sqlite3.connect("file:%s?mode=ro" % DB, uri=True, timeout=5)
    try:
        if reporter_name is None:
            return db.execute("SELECT reporter_key, peer_key FROM link_health").fetchall()
        return db.execute("SELECT reporter_key, peer_key FROM link_health WHERE reporter_key = ?",
                          (gc.key_of(reporter_name),)).fetchall()
    finally:
        db.close()


def pairs_by_names(reply):
    return {(p.a.name, p.b.name): p for p in reply.pairs}


def report_mode(ck):
    c = {n: Client(n) for n in ("alice", "bob", "dave", "carol", "op")}
    c["alice"].up(listen_port=51820, lan_ips=["192.168.1.10"], lan_id=gc.LAN_A)
    c["bob"].up(listen_port=51821, lan_ips=["192.168.1.11"], lan_id=gc.LAN_A)
    c["dave"].up(listen_port=51822, lan_ips=[], lan_id=gc.LAN_D)
    c["carol"].up(listen_port=51823, lan_ips=["192.168.1.12"], lan_id=gc.LAN_A)
    watch = Watcher(c["dave"])
    watch.events(1.0)   # the snapshot

    rep = {n: reporter(c[n]) for n in c}
    # refused reports: the field named, nothing stored
    bad = [
        ("peer_key", pb.LinkReport(links=[health("alice"), pb.LinkHealth(peer_key=b"\x01" * 31)]),
         "links[1].peer_key"),
        ("path", pb.LinkReport(links=[health("alice", path="tcp")]), "links[0].path"),
        ("endpoint", pb.LinkReport(links=[health("alice", endpoint="10.0.0.1")]),
         "links[0].endpoint"),
        ("endpoint port", pb.LinkReport(links=[health("alice", endpoint="10.0.0.1:70000")]),
         "links[0].endpoint"),
        ("down_reason", pb.LinkReport(links=[health("alice", reason="x" * 201)]),
         "links[0].down_reason"),
        ("too many links", pb.LinkReport(links=[health("alice")] * 1025), "links"),
    ]
    for what, msg, field in bad:
        try:
            rep["bob"](msg, timeout=T)
            ck.check(False, "a report with a bad %s is refused" % what, "got OK")
        except grpc.RpcError as e:
            ck.check(e.code() == grpc.StatusCode.INVALID_ARGUMENT and field in e.details(),
                     "a report with a bad %s: INVALID_ARGUMENT naming %s" % (what, field),
                     "%s %r" % (e.code().name, e.details()))
    ck.check(rows("bob") == [], "nothing of bob's refused reports is stored", repr(rows("bob")))
    ck.check(len(list_links(c["op"]).pairs) == 0, "ListLinks: no pair after refused reports")

    # alice: bob up on the LAN, dave down, carol (netb) and an unknown key dropped
    r = rep["alice"](pb.LinkReport(links=[
        health("bob"),
        health("dave", path="", endpoint="", hs_ago=None, reason=REASON),
        health("carol"), health(b"\x07" * 32)]), timeout=T)
    ck.check(r.min_interval_s == 5, "ReportLinks answers min_interval_s 5", str(r.min_interval_s))
    ck.check(len(rows("alice")) == 2, "alice's report stored: bob and dave only (not carol of "
             "netb, not an unknown key)", repr(len(rows("alice"))))
    ck.code(grpc.StatusCode.RESOURCE_EXHAUSTED,
            lambda: rep["alice"](pb.LinkReport(links=[health("bob")]), timeout=T),
            "a second report within min_interval_s: RESOURCE_EXHAUSTED")
    rep["bob"](pb.LinkReport(links=[health("alice", endpoint="192.168.1.10:51820")]), timeout=T)
    rep["dave"](pb.LinkReport(links=[health("alice", path="", endpoint="203.0.113.9:51820",
                                            hs_ago=600, reason="no address known")]), timeout=T)
    # carol reports alice: of another network, dropped
    rep["carol"](pb.LinkReport(links=[health("alice")]), timeout=T)
    ck.check(rows("carol") == [], "a key of another network is not stored", repr(rows("carol")))

    ll = list_links(c["op"])
    got = pairs_by_names(ll)
    ck.check(set(got) == {("alice", "bob"), ("alice", "dave")},
             "ListLinks: the pairs alice-bob and alice-dave", repr(sorted(got)))
    ab = got.get(("alice", "bob"))
    ck.check(ab is not None and ab.up and ab.path == "lan" and ab.a.reported and ab.b.reported,
             "alice-bob: up, path lan, both ends reported", str(ab))
    ck.check(ab is not None and ab.a.health.endpoint == "192.168.1.11:51821" and
             ab.b.health.endpoint == "192.168.1.10:51820" and ab.a.health.rx_bytes == 1234,
             "alice-bob: each end's own view (endpoint, bytes)", str(ab))
    ad = got.get(("alice", "dave"))
    ck.check(ad is not None and not ad.up and ad.path == "" and
             ad.a.health.down_reason == REASON and ad.b.health.down_reason == "no address known",
             "alice-dave: down, both ends' reasons", str(ad))
    ck.check(ll.now_ms > 0, "ListLinks tells now_ms")
    only = pairs_by_names(list_links(c["op"], "bob"))
    ck.check(set(only) == {("alice", "bob")}, "ListLinks NAME: only that host's pairs",
             repr(sorted(only)))

    # hosts never read links; an admin certificate reports none
    ck.code(grpc.StatusCode.PERMISSION_DENIED, lambda: list_links(c["bob"]),
            "a host calling Admin.ListLinks: PERMISSION_DENIED")
    ck.code(grpc.StatusCode.PERMISSION_DENIED,
            lambda: rep["op"](pb.LinkReport(links=[health("alice")]), timeout=T),
            "an admin certificate calling ReportLinks: PERMISSION_DENIED")
    # nothing of the reports rides the Watch stream
    c["bob"].up(listen_port=51831, lan_ips=["192.168.1.11"], lan_id=gc.LAN_A)
    evs = watch.events(1.5)
    blob = b"".join(e.SerializeToString() for e in evs)
    ck.check(len(evs) > 0 and REASON.encode() not in blob and b"no address known" not in blob
             and b"192.168.1.11:51821" not in blob,
             "the Watch stream carries bob's change but nothing of any link report",
             "%d events" % len(evs))
    watch.close()
    for x in c.values():
        x.close()


def stored_mode(ck):
    op = Client("op")
    got = pairs_by_names(list_links(op))
    ab = got.get(("alice", "bob"))
    ck.check(ab is not None and ab.up and ab.path == "lan",
             "after a restart: alice-bob still up via lan (from the store)", repr(sorted(got)))
    ad = got.get(("alice", "dave"))
    ck.check(ad is not None and ad.a.health.down_reason == REASON,
             "after a restart: alice's reason about dave", str(ad))
    op.close()


def removed_mode(ck):
    op = Client("op")
    rm = op.channel.unary_unary(ADMIN + "RemovePeer",
                                request_serializer=apb.PeerRef.SerializeToString,
                                response_deserializer=apb.RemovePeerReply.FromString)
    rm(apb.PeerRef(name="dave"), timeout=T)
    got = pairs_by_names(list_links(op))
    ck.check(set(got) == {("alice", "bob")}, "RemovePeer dave: its pair is gone",
             repr(sorted(got)))
    dk = gc.key_of("dave")
    left = [r for r in rows() if dk in (bytes(r[0]), bytes(r[1]))]
    deadline = time.monotonic() + 5
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = [r for r in rows() if dk in (bytes(r[0]), bytes(r[1]))]
    ck.check(left == [], "RemovePeer dave: no stored row by or about dave", repr(len(left)))
    op.close()


def metrics_mode(ck, url):
    text = urllib.request.urlopen(url, timeout=T).read().decode()
    ck.check('wiresync_link_pairs{state="up",path="lan"} 1' in text,
             "metrics: one pair up via lan", [l for l in text.splitlines() if "link_pairs" in l])
    ck.check('wiresync_link_pairs{state="down",path="none"} 1' in text,
             "metrics: one pair down", "")


def main():
    ck = Checks()
    mode = sys.argv[1] if len(sys.argv) > 1 else "--report"
    if mode == "--report":
        report_mode(ck)
    elif mode == "--stored":
        stored_mode(ck)
    elif mode == "--removed":
        removed_mode(ck)
    elif mode == "--metrics":
        metrics_mode(ck, sys.argv[2])
    else:
        print("unknown mode " + mode)
        return 2
    return ck.done()


if __name__ == "__main__":
    sys.exit(main())
