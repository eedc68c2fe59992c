#!/usr/bin/python3
"""The wiresync.v1.Admin service of a running wiresyncd, called with python3-grpcio.

Run by test/admin.test:

    WS_ADDR=127.0.0.1:PORT WS_PKI=DIR WS_PY=DIR /usr/bin/python3 test/admin_client.py [MODE]

WS_PY holds wiresync_pb2, health_pb2 and admin_pb2 from `protoc --python_out`. The PKI is
ws_make_pki's plus a/phone.{crt,key,pub} (an agent certificate for a static peer).

Modes (default: the unittest suite):
    --baseline                 Updates for alice, bob and dave
    --watch-for KIND NAME      Watch as dave; print READY after the snapshot, then wait for a
                               `removed` (KIND=removed) or `upsert` (KIND=static) of NAME
    --backup-during-updates F  Backup while alice keeps updating; the copy into F
    --list FILE                ListPeers as op, the peers as JSON into FILE
    --up NAME PORT [LAN_IP...] an Update of NAME with that listen port and LAN addresses
    --status-paths RELAY HUB   Status as op: relay_endpoint is RELAY ("" none), hub_port HUB
Each mode ends with "N passed, M failed" and exits non-zero on a failure.
WS_BACKEND=postgresql (test/admin-pg.test): the server's store is PostgreSQL; the checks of
the SQLite store itself (its size, a Backup's SQLite image) are skipped, saying why.
"""

import base64
import hashlib
import json
import os
import sqlite3
import sys
import threading
import time
import unittest

import grpc_client as gc
from grpc_client import Checks, Client, Watcher, grpc, pb, summary

import admin_pb2 as apb  # noqa: E402

ADMIN = "/wiresync.v1.Admin/"
gc.NETS["phone"] = "a"
gc.NETS["tablet"] = "a"
TIMEOUT = gc.TIMEOUT
ON_PG = os.environ.get("WS_BACKEND") == "postgresql"


class Admin:
    """The Admin methods on one channel."""

    def __init__(self, name):
        self.c = Client(name)
        ch = self.c.channel
        self.list = ch.unary_unary(ADMIN + "ListPeers",
                                   request_serializer=apb.ListPeersRequest.SerializeToString,
                                   response_deserializer=apb.ListPeersReply.FromString)
        self.show = ch.unary_unary(ADMIN + "ShowPeer",
                                   request_serializer=apb.PeerRef.SerializeToString,
                                   response_deserializer=apb.PeerInfo.FromString)
        self.remove = ch.unary_unary(ADMIN + "RemovePeer",
                                     request_serializer=apb.PeerRef.SerializeToString,
                                     response_deserializer=apb.RemovePeerReply.FromString)
        self.add_static = ch.unary_unary(ADMIN + "AddStaticPeer",
                                         request_serializer=apb.AddStaticPeerRequest.SerializeToString,
                                         response_deserializer=apb.PeerInfo.FromString)
        self.status = ch.unary_unary(ADMIN + "Status",
                                     request_serializer=apb.StatusRequest.SerializeToString,
                                     response_deserializer=apb.StatusReply.FromString)
        self.backup = ch.unary_stream(ADMIN + "Backup",
                                      request_serializer=apb.BackupRequest.SerializeToString,
                                      response_deserializer=apb.BackupChunk.FromString)

    def peers(self, network=""):
        return {p.peer.name: p for p in
                self.list(apb.ListPeersRequest(network=network), timeout=TIMEOUT).peers}

    def fetch_backup(self):
        """(bytes, chunks): the whole copy, its chunks checked for order and checksum."""
        chunks = list(self.backup(apb.BackupRequest(), timeout=30))
        data = b"".join(c.data for c in chunks)
        return data, chunks

    def close(self):
        self.c.close()


def baseline():
    out = {}
    for n, port, lan, lid in (("alice", 51820, "192.168.1.10", gc.LAN_A),
                              ("bob", 51821, "192.168.1.11", gc.LAN_A),
                              ("dave", 51822, "10.20.0.4", gc.LAN_D)):
        c = Client(n)
        out[n] = c.up(listen_port=port, lan_ips=[lan], lan_id=lid)
        c.close()
    return out


A = {}


def setUpModule():
    baseline()
    A["op"] = Admin("op")
    A["alice"] = Admin("alice")


def tearDownModule():
    for a in A.values():
        a.close()


class Base(gc.Base):
    pass


class T01Refusal(Base):
    """Every Admin method refuses an agent certificate."""

    def test_agent_refused_everywhere(self):
        a = A["alice"]
        self.assertCode(grpc.StatusCode.PERMISSION_DENIED, a.list, apb.ListPeersRequest(), timeout=TIMEOUT)
        self.assertCode(grpc.StatusCode.PERMISSION_DENIED, a.show, apb.PeerRef(name="bob"), timeout=TIMEOUT)
        self.assertCode(grpc.StatusCode.PERMISSION_DENIED, a.remove, apb.PeerRef(name="bob"), timeout=TIMEOUT)
        self.assertCode(grpc.StatusCode.PERMISSION_DENIED, a.add_static,
                        apb.AddStaticPeerRequest(certificate=gc.der_of("phone")), timeout=TIMEOUT)
        self.assertCode(grpc.StatusCode.PERMISSION_DENIED, a.status, apb.StatusRequest(), timeout=TIMEOUT)
        with self.assertRaises(grpc.RpcError) as cm:
            list(a.backup(apb.BackupRequest(), timeout=TIMEOUT))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        self.assertIn("bob", A["op"].peers(), "a refused RemovePeer removed nothing")

    def test_admin_is_no_peer(self):
        op = A["op"]
        before = set(op.peers())
        self.assertCode(grpc.StatusCode.PERMISSION_DENIED, op.c.up, listen_port=40000)
        w = Watcher(op.c)
        item = w.get()
        self.assertIsNotNone(item, "the admin's Watch answers")
        self.assertEqual(item[1].WhichOneof("event"), "snapshot")
        self.assertEqual({p.name for p in item[1].snapshot.peers}, before)
        w.close()
        self.assertEqual(set(op.peers()), before, "no record for the admin")

    def test_other_network_refused(self):
        self.assertCode(grpc.StatusCode.PERMISSION_DENIED, A["op"].list,
                        apb.ListPeersRequest(network="netb"), timeout=TIMEOUT)

    def test_unknown_admin_method(self):
        self.assertCode(grpc.StatusCode.UNIMPLEMENTED, A["op"].c.raw(ADMIN + "Nope"), b"",
                        timeout=TIMEOUT)


class T02Read(Base):
    def test_list(self):
        ps = A["op"].peers()
        self.assertTrue({"alice", "bob", "dave"} <= set(ps))
        self.assertEqual(set(A["op"].peers("neta")), set(ps))
        p = ps["alice"]
        self.assertEqual(p.network, "neta")
        self.assertFalse(p.is_static)
        self.assertEqual(set(p.peer.tunnel_ips), gc.TUNNEL["alice"])
        self.assertEqual(p.peer.listen_port, 51820)
        self.assertEqual(list(p.peer.lan_ips), ["192.168.1.10"])
        self.assertEqual(p.peer.lan_id, gc.LAN_A)
        self.assertEqual(p.peer.public_key, gc.key_of("alice"))
        self.assertEqual(p.peer.certificate, gc.der_of("alice"))
        self.assertGreater(p.not_after, time.time() + 86400 * 365)
        self.assertRegex(p.serial, "^[0-9A-F]+$")

    def test_show(self):
        op = A["op"]
        by_name = op.show(apb.PeerRef(name="bob"), timeout=TIMEOUT)
        by_key = op.show(apb.PeerRef(public_key=gc.key_of("bob")), timeout=TIMEOUT)
        self.assertEqual(by_name, by_key)
        self.assertEqual(by_name.peer.name, "bob")
        self.assertCode(grpc.StatusCode.NOT_FOUND, op.show, apb.PeerRef(name="nobody"), timeout=TIMEOUT)
        self.assertCode(grpc.StatusCode.NOT_FOUND, op.show,
                        apb.PeerRef(public_key=bytes(32)), timeout=TIMEOUT)
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, op.show,
                        apb.PeerRef(public_key=b"short"), timeout=TIMEOUT)
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, op.show, apb.PeerRef(), timeout=TIMEOUT)

    def test_status(self):
        op = A["op"]
        w = Watcher(Client("dave"))
        w.get()
        s = op.status(apb.StatusRequest(), timeout=TIMEOUT)
        self.assertEqual(s.version, "0.1.0")
        self.assertGreaterEqual(s.uptime_s, 0)
        self.assertGreaterEqual(s.connections, 2)
        self.assertGreaterEqual(s.watchers, 1)
        alice = Client("alice")
        r = alice.up(listen_port=51829, lan_ips=["192.168.1.10"], lan_id=gc.LAN_A)
        s = op.status(apb.StatusRequest(), timeout=TIMEOUT)
        alice.up(listen_port=51820, lan_ips=["192.168.1.10"], lan_id=gc.LAN_A)
        alice.close()
        self.assertEqual(s.revision, r.revision)
        self.assertEqual(s.peers, len(op.peers()))
        self.assertGreaterEqual(s.crl_age_s, 0, "the server runs with a CRL")
        self.assertGreater(s.crl_next_update, time.time())
        self.assertEqual(s.expiry_warn_days, 30)
        self.assertEqual(s.relay_endpoint, "", "no relay_listen")
        self.assertEqual(s.hub_port, 0, "no hub_interface")
        self.assertEqual(len(s.expiring), 0, "every test certificate lives 825 days")
        s = op.status(apb.StatusRequest(expiry_warn_days=36500), timeout=TIMEOUT)
        self.assertEqual({e.name for e in s.expiring}, set(op.peers()))
        self.assertEqual([e.not_after for e in s.expiring], sorted(e.not_after for e in s.expiring))
        w.close()

    @unittest.skipIf(ON_PG, "database size: the PostgreSQL store does not report one (store_size -1)")
    def test_status_store_bytes(self):
        s = A["op"].status(apb.StatusRequest(), timeout=TIMEOUT)
        self.assertGreater(s.store_bytes, 4096)


class T03Change(Base):
    def test_remove_reaches_watchers(self):
        op = A["op"]
        bob = Client("bob")
        bob.up(listen_port=51821, lan_ips=["192.168.1.11"], lan_id=gc.LAN_A)
        w = Watcher(Client("dave"))
        w.get()
        bw = Watcher(bob)
        bw.get()
        r = op.remove(apb.PeerRef(name="bob"), timeout=TIMEOUT)
        self.assertEqual(r.removed.peer.name, "bob")
        ev, seen = w.wait_for(lambda e: e.WhichOneof("event") == "removed_key")
        self.assertIsNotNone(ev, gc.describe(seen))
        self.assertEqual(ev.removed_key, gc.key_of("bob"))
        self.assertEqual(ev.revision, r.revision)
        # bob's own stream, a stock grpcio call, ends with ABORTED and says what to do;
        # it never carries an event about bob
        ev, seen = bw.wait_for(lambda e: False, 5)
        self.assertTrue(seen and isinstance(seen[-1], tuple), gc.describe(seen))
        self.assertEqual(seen[-1][1], grpc.StatusCode.ABORTED, gc.describe(seen))
        self.assertIn("was removed", seen[-1][2])
        self.assertIn("Update", seen[-1][2])
        for e in seen[:-1]:
            self.assertNotEqual(e.removed_key, gc.key_of("bob"), gc.describe(seen))
        # a new Watch of the removed host works (from its revision: only what it missed)
        bw = Watcher(bob, since=r.revision)
        ev, seen = bw.wait_for(lambda e: True, 2)
        self.assertTrue(not seen or not isinstance(seen[-1], tuple), gc.describe(seen))
        bw.close()
        self.assertNotIn("bob", op.peers())
        self.assertCode(grpc.StatusCode.NOT_FOUND, op.remove, apb.PeerRef(name="bob"), timeout=TIMEOUT)
        # a valid certificate comes back with its next report
        bob.up(listen_port=51821, lan_ips=["192.168.1.11"], lan_id=gc.LAN_A)
        self.assertIn("bob", op.peers())
        w.close()
        bob.close()

    def test_static_peer(self):
        op = A["op"]
        w = Watcher(Client("dave"))
        w.get()
        p = op.add_static(apb.AddStaticPeerRequest(certificate=gc.der_of("phone"),
                                                   endpoint="198.51.100.7:51820"), timeout=TIMEOUT)
        self.assertTrue(p.is_static)
        self.assertEqual(p.peer.wan_ip, "198.51.100.7")
        self.assertEqual(p.peer.listen_port, 51820)
        ev, seen = w.wait_for(lambda e: e.WhichOneof("event") == "upsert" and e.upsert.name == "phone")
        self.assertIsNotNone(ev, gc.describe(seen))
        self.assertEqual(ev.upsert.wan_ip, "198.51.100.7")
        self.assertEqual(ev.upsert.listen_port, 51820)
        self.assertFalse(ev.upsert.online)
        self.assertEqual(ev.upsert.certificate, gc.der_of("phone"))
        self.assertEqual(ev.revision, p.peer.revision)
        # presence never applies: the phone's certificate opening a Watch changes nothing
        phone = Client("phone")
        pw = Watcher(phone)
        pw.get()
        time.sleep(0.5)
        self.assertFalse(op.peers()["phone"].peer.online)
        pw.close()
        phone.close()
        # again with an IPv6 endpoint: the same peer, its endpoint replaced
        p = op.add_static(apb.AddStaticPeerRequest(certificate=gc.der_of("phone"),
                                                   endpoint="[2001:db8::7]:51821"), timeout=TIMEOUT)
        self.assertEqual((p.peer.wan_ip, p.peer.listen_port), ("2001:db8::7", 51821))
        self.assertEqual(sum(1 for n in op.peers() if n == "phone"), 1)
        w.close()

    def test_static_refusals(self):
        op = A["op"]
        bad = grpc.StatusCode

        def add(cert, endpoint=""):
            return op.add_static(apb.AddStaticPeerRequest(certificate=cert, endpoint=endpoint),
                                 timeout=TIMEOUT)
        self.assertCode(bad.ALREADY_EXISTS, add, gc.der_of("alice"))
        self.assertCode(bad.FAILED_PRECONDITION, add, gc.der_of("mallory"))  # untrusted CA
        self.assertCode(bad.FAILED_PRECONDITION, add, gc.der_of("old"))      # expired
        self.assertCode(bad.INVALID_ARGUMENT, add, gc.der_of("op"))          # an admin's
        self.assertCode(bad.INVALID_ARGUMENT, add, b"\x30\x03junk")
        self.assertCode(bad.INVALID_ARGUMENT, add, gc.der_of("phone") + b"x")
        for ep in ("198.51.100.7", "198.51.100.7:0", "198.51.100.7:65536", "host.example:1",
                   "2001:db8::1:51820", ":51820"):
            self.assertCode(bad.INVALID_ARGUMENT, add, gc.der_of("phone"), ep)


# --------------------------------------------------------------------------- modes
def mode_baseline():
    ck = Checks()
    r = baseline()
    ck.check(all(x.revision > 0 for x in r.values()), "baseline Updates committed")
    return ck.done()


def mode_watch_for(kind, name):
    ck = Checks()
    key = gc.key_of(name)
    print("# started, opening dave's Watch", flush=True)   # admin.test shows it on a timeout
    w = Watcher(Client("dave"))
    first = w.get()
    ck.check(first is not None and first[0] == "event", "Watch as dave answers")
    print("READY", flush=True)
    if kind == "removed":
        ev, seen = w.wait_for(lambda e: e.WhichOneof("event") == "removed_key" and e.removed_key == key, 15)
        ck.check(ev is not None, "dave's Watch sees %s removed" % name, gc.describe(seen))
    else:
        ev, seen = w.wait_for(lambda e: e.WhichOneof("event") == "upsert" and e.upsert.name == name, 15)
        ck.check(ev is not None, "dave's Watch sees static peer %s" % name, gc.describe(seen))
        if ev is not None:
            ck.check((ev.upsert.wan_ip, ev.upsert.listen_port, ev.upsert.online) ==
                     ("198.51.100.9", 51825, False),
                     "with its endpoint as wan_ip and listen_port, offline",
                     "%s %d %s" % (ev.upsert.wan_ip, ev.upsert.listen_port, ev.upsert.online))
    w.close()
    return ck.done()


def mode_backup(path):
    ck = Checks()
    op = Admin("op")
    stop = threading.Event()
    count = [0, 0]

    def updates():
        c = Client("alice")
        port = 30000
        while not stop.is_set():
            try:
                c.up(listen_port=port, lan_ips=["192.168.1.10"], lan_id=gc.LAN_A)
                count[0] += 1
            except grpc.RpcError:
                count[1] += 1
            port = port + 1 if port < 39999 else 30000
        c.close()

    def wait_count(n):
        deadline = time.monotonic() + 10
        while count[0] < n and time.monotonic() < deadline and t.is_alive():
            time.sleep(0.01)
        return count[0]

    t = threading.Thread(target=updates, daemon=True)
    t.start()
    before = wait_count(5)
    refusal = None
    try:
        data, chunks = op.fetch_backup()
    except grpc.RpcError as e:
        refusal = e
    at = count[0]
    after = wait_count(at + 5)
    stop.set()
    t.join(10)
    ck.check(before >= 5 and after >= at + 5 and count[1] == 0,
             "Updates ran before (%d) and after (%d) the backup, %d failed" % (before, after, count[1]))
    if ON_PG:
        # no image of a PostgreSQL database: the server says how to take one
        ck.check(refusal is not None and refusal.code() == grpc.StatusCode.FAILED_PRECONDITION and
                 "pg_dump" in refusal.details(),
                 "on PostgreSQL Backup is FAILED_PRECONDITION saying to use pg_dump",
                 "got %s %r" % (refusal.code().name, refusal.details()) if refusal else "got a copy")
        for what in ("the last chunk, and only it, says so", "the chunks add up to total_bytes",
                     "the SHA-256 matches", "the copy is an SQLite file",
                     "the copy passes integrity_check", "the copy's revision is the one announced",
                     "the copy holds the peers"):
            ck.skip(what, "the store is PostgreSQL: no SQLite image to copy (pg_dump)")
        op.close()
        return ck.done()
    if refusal is not None:
        ck.check(False, "Backup answers", "got %s %r" % (refusal.code().name, refusal.details()))
        op.close()
        return ck.done()
    ck.check(len(chunks) >= 1 and chunks[-1].last and not any(c.last for c in chunks[:-1]),
             "the last chunk, and only it, says so")
    ck.check(len(data) == chunks[-1].total_bytes, "the chunks add up to total_bytes")
    ck.check(hashlib.sha256(data).digest() == chunks[-1].sha256, "the SHA-256 matches")
    ck.check(data[:16] == b"SQLite format 3\x00", "the copy is an SQLite file")
    with open(path, "wb") as f:
        f.write(data)
    db = sqlite3.connect(path)
    ck.check(db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "the copy passes integrity_check")
    rev = db.execute("SELECT value FROM meta WHERE name = 'revision'").fetchone()[0]
    ck.check(rev == chunks[-1].revision, "the copy's revision (%d) is the one announced (%d)" %
             (rev, chunks[-1].revision))
    names = {r[0] for r in db.execute("SELECT name FROM peers")}
    ck.check({"alice", "dave"} <= names, "the copy holds the peers", repr(names))
    db.close()
    op.close()
    return ck.done()


def mode_list(path):
    ck = Checks()
    op = Admin("op")
    out = {}
    for name, p in op.peers().items():
        out[name] = {"key": base64.b64encode(p.peer.public_key).decode(),
                     "tunnel_ips": sorted(p.peer.tunnel_ips), "listen_port": p.peer.listen_port,
                     "lan_ips": list(p.peer.lan_ips), "wan_ip": p.peer.wan_ip,
                     "static": p.is_static, "revision": p.peer.revision}
    with open(path, "w") as f:
        json.dump(out, f, sort_keys=True, indent=1)
    ck.check(len(out) > 0, "ListPeers lists %d peers" % len(out))
    op.close()
    return ck.done()


def mode_up(name, port, lan_ips):
    ck = Checks()
    c = Client(name)
    r = c.up(listen_port=int(port), lan_ips=lan_ips)
    c.close()
    ck.check(r.revision > 0, "Update of %s committed" % name)
    return ck.done()


def mode_status_paths(relay, hub):
    ck = Checks()
    op = Admin("op")
    s = op.status(apb.StatusRequest(), timeout=TIMEOUT)
    op.close()
    ck.check(s.relay_endpoint == relay,
             "StatusReply.relay_endpoint is %r (want %r)" % (s.relay_endpoint, relay))
    ck.check(s.hub_port == int(hub), "StatusReply.hub_port is %d (want %s)" % (s.hub_port, hub))
    return ck.done()


def run_suite():
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=gc.Result)
    res = runner.run(suite)
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    return summary(res.passed, failed, len(res.skipped))


def main(argv):
    if len(argv) == 1:
        return run_suite()
    if argv[1] == "--baseline":
        return mode_baseline()
    if argv[1] == "--watch-for" and len(argv) == 4:
        return mode_watch_for(argv[2], argv[3])
    if argv[1] == "--backup-during-updates" and len(argv) == 3:
        return mode_backup(argv[2])
    if argv[1] == "--list" and len(argv) == 3:
        return mode_list(argv[2])
    if argv[1] == "--up" and len(argv) >= 4:
        return mode_up(argv[2], argv[3], argv[4:])
    if argv[1] == "--status-paths" and len(argv) == 4:
        return mode_status_paths(argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
