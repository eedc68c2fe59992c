#!/usr/bin/python3
"""Integration tests of wiresyncd with a stock gRPC client (Debian's python3-grpcio).

Run by test/integration.test against a running server:

    WS_ADDR=127.0.0.1:PORT WS_PKI=DIR WS_PY=DIR /usr/bin/python3 test/integration_client.py [MODE]

The client, the PKI and the fixture are test/grpc_client.py's.

Modes (default: the unittest suite):
    --dump FILE            save alice's record (as bob sees it) and the store revision
    --restart-check FILE   after a restart: the saved record and revision survived
    --hold-watch           open a Watch as dave, print WATCHING, then ENDED <code> when the
                           server ends it (used across a SIGTERM)
    --revoke               revoke dave with wiresync-ca, SIGHUP the server (WS_SERVER_PID),
                           check dave is cut off and removed (WS_CA = path of wiresync-ca)
Every mode ends with a line "N passed, M failed" (", K skipped" when some were skipped) and
exits non-zero when something failed.
"""

import base64
import json
import os
import signal
import subprocess
import sys
import time
import unittest

from grpc_client import (ADDR, C, EVENT_WAIT, LAN_A, LAN_D, PKI, SVC, TIMEOUT, TUNNEL, Base,
                         Checks, Client, Result, Watcher, baseline, der_of, describe, grpc,
                         health_pb2, key_of, pb, summary)
from grpc_client import setUpModule, tearDownModule  # noqa: F401 (unittest's module fixture)


# --------------------------------------------------------------------------- tests
class T01Health(Base):
    def test_health_serving(self):
        r = C["alice"].health(health_pb2.HealthCheckRequest(), timeout=TIMEOUT)
        self.assertEqual(r.status, health_pb2.HealthCheckResponse.SERVING)

    def test_health_serving_other_network_and_admin(self):
        for n in ("carol", "op"):
            r = C[n].health(health_pb2.HealthCheckRequest(), timeout=TIMEOUT)
            self.assertEqual(r.status, health_pb2.HealthCheckResponse.SERVING, n)


class T02Update(Base):
    def test_update_success_and_idempotent(self):
        a = C["alice"]
        r1 = a.up(listen_port=41000, lan_ips=["192.168.1.10", "fd12::10"], lan_id=LAN_A)
        self.assertGreater(r1.revision, 0)
        self.assertEqual(r1.observed_wan_ip, "127.0.0.1")
        store_before = C["bob"].keys(pb.KeysRequest(), timeout=TIMEOUT).revision
        r2 = a.up(listen_port=41000, lan_ips=["192.168.1.10", "fd12::10"], lan_id=LAN_A)
        self.assertEqual(r2.revision, r1.revision, "an Update that changes nothing must not bump the revision")
        self.assertEqual(r2.observed_wan_ip, "127.0.0.1")
        store_after = C["bob"].keys(pb.KeysRequest(), timeout=TIMEOUT).revision
        self.assertEqual(store_after, store_before, "store revision moved on a no-op Update")
        r3 = a.up(listen_port=41001, lan_ips=["192.168.1.10", "fd12::10"], lan_id=LAN_A)
        self.assertGreater(r3.revision, r2.revision, "a changed listen_port must bump the revision")
        self.assertEqual(C["bob"].peer("alice").revision, r3.revision)

    def test_update_with_own_key_accepted(self):
        r = C["alice"].up(public_key=key_of("alice"), listen_port=41002, lan_ips=["192.168.1.10"])
        self.assertGreater(r.revision, 0)
        p = C["bob"].peer("alice")
        self.assertEqual(p.listen_port, 41002)
        self.assertEqual(p.revision, r.revision)

    def test_update_revisions_are_global(self):
        ra = C["alice"].up(listen_port=41100)
        rb = C["bob"].up(listen_port=41101)
        self.assertGreater(rb.revision, ra.revision, "one global revision for every change")

    def test_update_boundaries_accepted(self):
        d = C["dave"]
        lan8 = ["10.20.0.%d" % i for i in range(1, 8)] + ["fd12::4"]
        r = d.up(listen_port=65535, lan_ips=lan8, lan_id=b"\x07" * 32)
        self.assertGreater(r.revision, 0)
        p = C["alice"].peer("dave")
        self.assertEqual(p.listen_port, 65535)
        self.assertEqual(list(p.lan_ips), lan8)
        self.assertEqual(p.lan_id, b"\x07" * 32)
        r = d.up(listen_port=1, lan_ips=[], lan_id=b"")
        p = C["alice"].peer("dave")
        self.assertEqual((p.listen_port, list(p.lan_ips), p.lan_id), (1, [], b""))
        self.assertEqual(p.revision, r.revision)
        baseline()

    def test_update_validation(self):
        a = C["alice"]
        a.up(listen_port=51820, lan_ips=["192.168.1.10"], lan_id=LAN_A)
        cases = [
            ("public_key", dict(public_key=key_of("alice")[:31], listen_port=51820)),
            ("listen_port", dict(listen_port=0)),
            ("listen_port", dict(listen_port=70000)),
            ("lan_ips", dict(listen_port=51820, lan_ips=["not-an-ip"])),
            ("lan_ips", dict(listen_port=51820, lan_ips=["192.168.1.%d" % i for i in range(1, 10)])),
            ("lan_id", dict(listen_port=51820, lan_id=b"\x01" * 33)),
            ("wan_ip", dict(listen_port=51820, wan_ip="1.2.3")),
        ]
        for field, req in cases:
            with self.subTest(field=field, req={k: v for k, v in req.items() if k != "lan_ips"}):
                before = self.record("bob", "alice")
                store_before = C["dave"].keys(pb.KeysRequest(), timeout=TIMEOUT).revision
                e = self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, a.update,
                                    pb.UpdateRequest(**req), timeout=TIMEOUT)
                self.assertIn(field, e.details() or "", "details must name the field")
                self.assertEqual(self.record("bob", "alice"), before, "alice's record changed")
                self.assertEqual(C["dave"].keys(pb.KeysRequest(), timeout=TIMEOUT).revision,
                                 store_before, "store revision changed")

    def test_update_other_key_permission_denied(self):
        before = self.record("dave", "bob")
        self.assertCode(grpc.StatusCode.PERMISSION_DENIED, C["alice"].update,
                        pb.UpdateRequest(public_key=key_of("bob"), listen_port=1234), timeout=TIMEOUT)
        self.assertEqual(self.record("dave", "bob"), before, "bob's record changed")
        # alice's own record was not touched either
        self.assertNotEqual(C["bob"].peer("alice").listen_port, 1234)

    def test_update_admin_permission_denied(self):
        self.assertCode(grpc.StatusCode.PERMISSION_DENIED, C["op"].update,
                        pb.UpdateRequest(listen_port=51830), timeout=TIMEOUT)

    def test_update_self_reported_wan_ip_does_not_replace_observed(self):
        # Peer.wan_ip is "source address of the agent's connection, as the server saw it"
        r = C["dave"].up(listen_port=51822, lan_ips=["10.20.0.4"], lan_id=LAN_D, wan_ip="203.0.113.9")
        self.assertEqual(r.observed_wan_ip, "127.0.0.1")
        self.assertEqual(C["alice"].peer("dave").wan_ip, "127.0.0.1")
        baseline()


class T03Keys(Base):
    def test_keys_membership(self):
        baseline()
        r, ks = C["bob"].keyset()
        self.assertGreater(r.revision, 0)
        self.assertIn(key_of("alice"), ks, "same network")
        self.assertIn(key_of("dave"), ks, "same network")
        self.assertNotIn(key_of("bob"), ks, "a caller never sees itself")
        self.assertNotIn(key_of("carol"), ks, "other network")
        self.assertNotIn(key_of("old"), ks, "never connected")
        self.assertEqual(len(r.keys), len(ks), "duplicate keys")
        self.assertIn("online", pb.PeerKey.DESCRIPTOR.fields_by_name)
        for k in r.keys:
            self.assertIsInstance(k.online, bool)
        # and carol, alone in netb, sees nobody
        r, ks = C["carol"].keyset()
        self.assertEqual(set(ks), set(), "carol must see no peer of neta")

    def test_keys_same_lan(self):
        baseline()  # alice and bob on LAN_A, dave on LAN_D, carol on LAN_A in netb
        r, ks = C["bob"].keyset()
        self.assertTrue(ks[key_of("alice")].same_lan)
        self.assertFalse(ks[key_of("dave")].same_lan)
        r, ks = C["bob"].keyset(lan_only=True)
        self.assertEqual(set(ks), {key_of("alice")}, "lan_only: only peers with bob's lan_id")
        self.assertTrue(ks[key_of("alice")].same_lan)
        r, ks = C["dave"].keyset(lan_only=True)
        self.assertEqual(set(ks), set(), "nobody shares dave's LAN")

    def test_keys_empty_lan_id_is_never_same_lan(self):
        C["bob"].up(listen_port=51821, lan_ips=["192.168.1.11"], lan_id=b"")
        C["dave"].up(listen_port=51822, lan_ips=["10.20.0.4"], lan_id=b"")
        try:
            r, ks = C["bob"].keyset()
            self.assertFalse(ks[key_of("dave")].same_lan, "both lan_id empty: not the same LAN")
            self.assertFalse(ks[key_of("alice")].same_lan)
            r, ks = C["bob"].keyset(lan_only=True)
            self.assertEqual(set(ks), set(), "empty lan_id: lan_only lists nobody")
        finally:
            baseline()


class T04GetPeer(Base):
    def test_get_peer_fields(self):
        lan = ["192.168.7.10", "fd12::7"]
        mac = bytes.fromhex("0207aabbcc01")
        r = C["alice"].up(listen_port=47001, lan_ips=lan, lan_id=mac)
        t0 = time.time()
        p = C["bob"].peer("alice")
        self.assertEqual(p.public_key, key_of("alice"))
        self.assertEqual(p.name, "alice")
        self.assertEqual(set(p.tunnel_ips), TUNNEL["alice"])
        self.assertEqual(len(p.tunnel_ips), 2)
        self.assertEqual(p.listen_port, 47001)
        self.assertEqual(list(p.lan_ips), lan)
        self.assertEqual(p.wan_ip, "127.0.0.1")
        self.assertEqual(p.lan_id, mac)
        self.assertEqual(p.observed_endpoint, "", "no hub_interface configured")
        self.assertEqual(p.certificate, der_of("alice"))
        self.assertEqual(p.revision, r.revision)
        self.assertGreater(p.last_seen_ms, 0, "alice was just seen")
        self.assertLess(abs(p.last_seen_ms / 1000.0 - t0), 300, "last_seen_ms is not wall-clock ms")
        baseline()

    def test_get_peer_single_tunnel_ip(self):
        p = C["alice"].peer("dave")
        self.assertEqual(p.name, "dave")
        self.assertEqual(list(p.tunnel_ips), ["10.9.0.4/32"])
        self.assertEqual(p.certificate, der_of("dave"))

    def test_get_peer_not_found(self):
        b = C["bob"]
        self.assertCode(grpc.StatusCode.NOT_FOUND, b.peer, key_of("carol"))
        self.assertCode(grpc.StatusCode.NOT_FOUND, b.peer, os.urandom(32))
        self.assertCode(grpc.StatusCode.NOT_FOUND, b.peer, key_of("bob"))
        self.assertCode(grpc.StatusCode.NOT_FOUND, b.peer, key_of("old"))
        self.assertCode(grpc.StatusCode.NOT_FOUND, C["carol"].peer, key_of("alice"))

    def test_get_peer_bad_key(self):
        e = self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, C["bob"].peer, os.urandom(5))
        self.assertIn("public_key", e.details() or "")
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, C["bob"].peer, b"")
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, C["bob"].peer, os.urandom(33))


class T05Protocol(Base):
    def test_unknown_method(self):
        for path in (SVC + "Nope", "/wiresync.v1.Nope/Update", "/nope"):
            with self.subTest(path=path):
                self.assertCode(grpc.StatusCode.UNIMPLEMENTED, C["alice"].raw(path), b"", timeout=TIMEOUT)

    def test_request_over_1mib(self):
        big = b"\x00" * (1100 * 1024)
        call = C["alice"].raw(SVC + "Update")
        self.assertCode(grpc.StatusCode.RESOURCE_EXHAUSTED, call, big, timeout=10)
        # the connection is still usable
        r = C["alice"].health(health_pb2.HealthCheckRequest(), timeout=TIMEOUT)
        self.assertEqual(r.status, health_pb2.HealthCheckResponse.SERVING)

    def test_request_size_limit_boundary(self):
        # An UpdateRequest of exactly 1 MiB (an unknown field 15 pads it) is accepted;
        # one byte more is RESOURCE_EXHAUSTED.
        def padded(total):
            head = pb.UpdateRequest(listen_port=51822, lan_ips=["10.20.0.4"], lan_id=LAN_D).SerializeToString()
            n = total - len(head) - 1 - 3          # tag 0x7a + 3-byte varint length
            v, ln = n, b""
            while True:
                b = v & 0x7F
                v >>= 7
                if v:
                    ln += bytes([b | 0x80])
                else:
                    ln += bytes([b])
                    break
            assert len(ln) == 3
            msg = head + b"\x7a" + ln + b"\x00" * n
            assert len(msg) == total
            return msg
        call = C["dave"].raw(SVC + "Update", deserializer=pb.UpdateReply.FromString)
        r = call(padded(1024 * 1024), timeout=10)
        self.assertGreater(r.revision, 0)
        self.assertCode(grpc.StatusCode.RESOURCE_EXHAUSTED, call, padded(1024 * 1024 + 1), timeout=10)

    def test_compressed_request(self):
        # compressible, so grpc really sets the compressed flag (it sends small or
        # incompressible messages uncompressed)
        req = pb.UpdateRequest(listen_port=51820, lan_ips=["192.168.1.10"] * 300)
        self.assertCode(grpc.StatusCode.UNIMPLEMENTED, C["alice"].update, req, timeout=TIMEOUT,
                        compression=grpc.Compression.Gzip)
        # nothing stored
        self.assertEqual(len(C["bob"].peer("alice").lan_ips), 1)

    def test_compressed_channel_default(self):
        c = Client("alice", compression=grpc.Compression.Gzip)  # channel default: gzip
        try:
            req = pb.UpdateRequest(listen_port=51820, lan_ips=["192.168.1.10"] * 300)
            self.assertCode(grpc.StatusCode.UNIMPLEMENTED, c.update, req, timeout=TIMEOUT)
        finally:
            c.close()

    def test_garbage_request_is_invalid_argument(self):
        # 0xff... is not a valid protobuf encoding
        call = C["alice"].raw(SVC + "Update")
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, call, b"\xff\xff\xff\xff", timeout=TIMEOUT)

    def test_watch_deadline(self):
        t0 = time.monotonic()
        w, first = self.watch_or_skip("alice", 0, timeout=1)
        item = w.get(6)
        while item is not None and item[0] == "event":
            item = w.get(6)
        self.assertIsNotNone(item, "Watch with a 1 s deadline still open after 6 s")
        self.assertEqual(item[1], grpc.StatusCode.DEADLINE_EXCEEDED, "got %s %r" % (item[1].name, item[2]))
        self.assertLess(time.monotonic() - t0, 4.0)


class T06Watch(Base):
    def test_watch_snapshot_then_upsert(self):
        baseline()
        w, ev = self.watch_or_skip("alice")
        self.assertEqual(ev.WhichOneof("event"), "snapshot", "first event: " + describe([ev]))
        self.assertGreater(ev.revision, 0)
        names = {p.name for p in ev.snapshot.peers}
        keys = {p.public_key for p in ev.snapshot.peers}
        self.assertNotIn(key_of("alice"), keys, "the watcher itself is not in the snapshot")
        self.assertNotIn(key_of("carol"), keys, "other network in the snapshot")
        self.assertIn(key_of("bob"), keys)
        self.assertIn(key_of("dave"), keys)
        self.assertEqual(names, {"bob", "dave"})
        for p in ev.snapshot.peers:
            self.assertEqual(set(p.tunnel_ips), TUNNEL[p.name])
            self.assertEqual(p.certificate, der_of(p.name))
            self.assertLessEqual(p.revision, ev.revision)
        # a change by bob reaches alice's stream
        r = C["bob"].up(listen_port=52001, lan_ips=["192.168.1.11"], lan_id=LAN_A)
        got, seen = w.wait_for(lambda e: e.WhichOneof("event") == "upsert"
                               and e.upsert.public_key == key_of("bob") and e.upsert.listen_port == 52001)
        self.assertIsNotNone(got, "no upsert for bob within %.0f s; saw: %s" % (EVENT_WAIT, describe(seen)))
        self.assertEqual(got.revision, r.revision)
        self.assertGreater(got.revision, ev.revision)
        self.assertEqual(got.upsert.name, "bob")
        self.assertEqual(got.upsert.revision, r.revision)
        self.assertEqual(got.upsert.wan_ip, "127.0.0.1")
        self.assertEqual(got.upsert.certificate, der_of("bob"))
        # a change in another network does not
        C["carol"].up(listen_port=52002)
        got, seen = w.wait_for(lambda e: e.WhichOneof("event") == "upsert"
                               and e.upsert.public_key == key_of("carol"), timeout=1.0)
        self.assertIsNone(got, "carol's change reached alice: " + describe(seen))
        baseline()

    def test_watch_revisions_increase(self):
        w, ev = self.watch_or_skip("alice")
        last = ev.revision
        for port in (52101, 52102, 52103):
            C["dave"].up(listen_port=port, lan_ips=["10.20.0.4"], lan_id=LAN_D)
        got, seen = w.wait_for(lambda e: e.WhichOneof("event") == "upsert"
                               and e.upsert.name == "dave" and e.upsert.listen_port == 52103)
        self.assertIsNotNone(got, "dave's last change never arrived: " + describe(seen))
        for e in seen:
            if not isinstance(e, tuple):
                self.assertGreater(e.revision, last, "revisions must increase: " + describe(seen))
                last = e.revision
        baseline()

    def test_watch_since_revision(self):
        # Resuming at the current revision: nothing was missed, so nothing is sent until
        # the next change, which arrives as an upsert (no snapshot) above r0.
        r0 = C["bob"].keys(pb.KeysRequest(), timeout=TIMEOUT).revision
        w = Watcher(C["alice"], r0, None)
        self.addCleanup(w.close)
        self.assertIsNone(w.get(1.0), "a resume at the current revision sent something")
        r = C["dave"].up(listen_port=52201, lan_ips=["10.20.0.4"], lan_id=LAN_D)
        item = w.get(EVENT_WAIT)
        self.assertIsNotNone(item, "dave's change after since_revision never arrived")
        self.assertEqual(item[0], "event", repr(item))
        ev = item[1]
        self.assertEqual(ev.WhichOneof("event"), "upsert", describe([ev]))
        self.assertEqual((ev.upsert.name, ev.upsert.listen_port), ("dave", 52201))
        self.assertGreater(ev.revision, r0)
        self.assertEqual(ev.revision, r.revision)

    def test_watch_resume_sends_exactly_the_missed_changes(self):
        r0 = C["bob"].keys(pb.KeysRequest(), timeout=TIMEOUT).revision
        # three changes of dave and one of bob while alice is away: she must get one
        # upsert per peer, each peer's latest state, in revision order, and no snapshot
        for port in (52301, 52302, 52303):
            C["dave"].up(listen_port=port, lan_ips=["10.20.0.4"], lan_id=LAN_D)
        C["bob"].up(listen_port=52304)
        w = Watcher(C["alice"], r0, None)
        self.addCleanup(w.close)
        got = []
        while True:
            item = w.get(1.0)
            if item is None:
                break
            self.assertEqual(item[0], "event", repr(item))
            got.append(item[1])
        self.assertEqual([e.WhichOneof("event") for e in got], ["upsert", "upsert"], describe(got))
        self.assertEqual([(e.upsert.name, e.upsert.listen_port) for e in got],
                         [("dave", 52303), ("bob", 52304)], describe(got))
        self.assertLess(got[0].revision, got[1].revision)
        self.assertGreater(got[0].revision, r0)
        baseline()

    def test_watch_presence(self):
        w, ev = self.watch_or_skip("alice")

        def alice_online():
            return C["bob"].keyset()[1][key_of("alice")].online

        deadline = time.monotonic() + EVENT_WAIT
        while not alice_online() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertTrue(alice_online(), "alice holds a Watch but Keys says offline")
        self.assertTrue(C["bob"].peer("alice").online)
        # bob comes and goes: alice sees bob go offline as an event
        wb, evb = self.watch_or_skip("bob")
        deadline = time.monotonic() + EVENT_WAIT
        while not C["dave"].keyset()[1][key_of("bob")].online and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertTrue(C["dave"].keyset()[1][key_of("bob")].online, "bob watching but offline")
        wb.call.cancel()
        got, seen = w.wait_for(lambda e: e.WhichOneof("event") == "upsert"
                               and e.upsert.public_key == key_of("bob") and not e.upsert.online)
        self.assertIsNotNone(got, "no offline event for bob on alice's stream: " + describe(seen))
        self.assertFalse(C["dave"].keyset()[1][key_of("bob")].online)
        w.close()
        deadline = time.monotonic() + EVENT_WAIT
        while alice_online() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertFalse(alice_online(), "alice closed her Watch but is still online")


class T07Tls(Base):
    def refused(self, name, what):
        c = Client(name)
        try:
            self.assertCode(grpc.StatusCode.UNAVAILABLE, c.health, health_pb2.HealthCheckRequest(),
                            timeout=3, wait_for_ready=False)
            self.assertCode(grpc.StatusCode.UNAVAILABLE, c.keys, pb.KeysRequest(),
                            timeout=3, wait_for_ready=False)
        finally:
            c.close()

    def test_tls_no_client_certificate(self):
        self.refused(None, "no client certificate")

    def test_tls_untrusted_ca(self):
        self.refused("mallory", "CA not in --ca (though it names itself neta)")

    def test_tls_expired_certificate(self):
        self.refused("old", "expired")

    def test_tls_after_refusals_server_still_serves(self):
        r = C["alice"].health(health_pb2.HealthCheckRequest(), timeout=TIMEOUT)
        self.assertEqual(r.status, health_pb2.HealthCheckResponse.SERVING)


def run_suite():
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=Result)
    res = runner.run(suite)
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    return summary(res.passed, failed, len(res.skipped))


def peer_json(p):
    return {"public_key": base64.b64encode(p.public_key).decode(), "name": p.name,
            "tunnel_ips": list(p.tunnel_ips), "listen_port": p.listen_port,
            "lan_ips": list(p.lan_ips), "wan_ip": p.wan_ip, "lan_id": p.lan_id.hex(),
            "revision": p.revision, "certificate": base64.b64encode(p.certificate).decode()}


def mode_dump(path):
    ck = Checks()
    bob = Client("bob")
    try:
        p = bob.peer("alice")
        rev = bob.keys(pb.KeysRequest(), timeout=TIMEOUT).revision
        with open(path, "w") as f:
            json.dump({"alice": peer_json(p), "store_revision": rev}, f)
        ck.check(True, "saved alice's record (revision %d) and the store revision %d" % (p.revision, rev))
    except grpc.RpcError as e:
        ck.check(False, "read alice's record before the restart", "%s %r" % (e.code().name, e.details()))
    bob.close()
    return ck.done()


def mode_restart_check(path):
    ck = Checks()
    with open(path) as f:
        saved = json.load(f)
    bob = Client("bob")
    try:
        p = bob.peer("alice")
        now = peer_json(p)
        for k in sorted(saved["alice"]):
            ck.check(now[k] == saved["alice"][k], "after restart alice's %s is unchanged" % k,
                     "before %r, after %r" % (saved["alice"][k], now[k]))
        rev = bob.keys(pb.KeysRequest(), timeout=TIMEOUT).revision
        ck.check(rev >= saved["store_revision"], "store revision survives the restart",
                 "before %d, after %d" % (saved["store_revision"], rev))
        _, ks = bob.keyset()
        ck.check(key_of("alice") in ks and key_of("dave") in ks and key_of("carol") not in ks,
                 "after restart Keys still lists alice and dave, not carol")
        dave = Client("dave")
        r = dave.up(listen_port=53001, lan_ips=["10.20.0.4"], lan_id=LAN_D)
        ck.check(r.revision > max(rev, saved["store_revision"]),
                 "first change after the restart gets a higher revision",
                 "got %d, store was at %d" % (r.revision, rev))
        dave.close()
    except grpc.RpcError as e:
        ck.check(False, "talk to the restarted server", "%s %r" % (e.code().name, e.details()))
    bob.close()
    return ck.done()


def mode_hold_watch():
    dave = Client("dave")
    call = dave.watch(pb.WatchRequest(since_revision=0), timeout=60)
    first = True
    try:
        for _ in call:
            if first:
                print("WATCHING", flush=True)
                first = False
        print("ENDED OK", flush=True)
    except grpc.RpcError as e:
        print("ENDED %s %s" % (e.code().name, e.details()), flush=True)
    dave.close()
    return 0


def mode_revoke():
    ck = Checks()
    ca = os.environ["WS_CA"]
    pid = int(os.environ["WS_SERVER_PID"])
    alice, dave = Client("alice"), Client("dave")

    def attempt(what, fn):
        """fn() or None, counting an RPC error as a failure of `what`."""
        try:
            return fn()
        except grpc.RpcError as e:
            ck.check(False, what, "%s %r" % (e.code().name, e.details()))
            return None

    def serving(c):
        return c.health(health_pb2.HealthCheckRequest(), timeout=TIMEOUT).status \
            == health_pb2.HealthCheckResponse.SERVING

    def dave_listed():
        return key_of("dave") in alice.keyset()[1]

    r = attempt("dave is served before revocation", lambda: serving(dave))
    if r is None or not ck.check(r, "dave is served before revocation"):
        return ck.done()
    if attempt("dave updates before revocation",
               lambda: dave.up(listen_port=53101, lan_ips=["10.20.0.4"], lan_id=LAN_D)) is None:
        return ck.done()
    r = attempt("alice sees dave before revocation", dave_listed)
    if r is None or not ck.check(r, "alice sees dave before revocation"):
        return ck.done()

    wa = Watcher(alice)
    first = wa.get(EVENT_WAIT)
    watching = first is not None and first[0] == "event"
    if not watching:
        ck.skip("revocation events", "alice's Watch: %s" % (
            "no first event" if first is None else "%s %r" % (first[1].name, first[2])))
    wd = Watcher(dave) if watching else None
    if wd is not None:
        wd.get(EVENT_WAIT)

    out = subprocess.run(["sh", ca, "-d", os.path.join(PKI, "a"), "revoke", "dave"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if not ck.check(out.returncode == 0, "wiresync-ca revoke dave", out.stdout.decode(errors="replace")):
        return ck.done()
    os.kill(pid, signal.SIGHUP)

    if wd is not None:
        _, seen = wd.wait_for(lambda e: False)
        ck.check(any(isinstance(s, tuple) for s in seen),
                 "dave's open Watch is ended after SIGHUP", "saw " + describe(seen))
        got, seen = wa.wait_for(lambda e: e.WhichOneof("event") == "removed_key"
                                and e.removed_key == key_of("dave"))
        ck.check(got is not None, "alice's Watch gets removed_key for dave", "saw " + describe(seen))
    ck.code(grpc.StatusCode.UNAVAILABLE,
            lambda: dave.health(health_pb2.HealthCheckRequest(), timeout=3, wait_for_ready=False),
            "dave's existing connection is dropped (its channel is refused afterwards)")
    d2 = Client("dave")
    ck.code(grpc.StatusCode.UNAVAILABLE,
            lambda: d2.health(health_pb2.HealthCheckRequest(), timeout=3, wait_for_ready=False),
            "a new connection with dave's revoked certificate is refused")
    d2.close()
    deadline = time.monotonic() + EVENT_WAIT
    listed = attempt("Keys no longer lists dave", dave_listed)
    while listed and time.monotonic() < deadline:
        time.sleep(0.1)
        listed = attempt("Keys no longer lists dave", dave_listed)
    if listed is not None:
        ck.check(not listed, "Keys no longer lists dave")
    ck.code(grpc.StatusCode.NOT_FOUND, lambda: alice.peer("dave"), "GetPeer(dave) is NOT_FOUND")
    r = attempt("alice is still served", lambda: serving(alice))
    if r is not None:
        ck.check(r, "alice is still served")
    wa.close()
    if wd is not None:
        wd.close()
    alice.close()
    dave.close()
    return ck.done()


def main(argv):
    if not ADDR or not PKI:
        print("set WS_ADDR and WS_PKI (and WS_PY)", file=sys.stderr)
        return 2
    if len(argv) == 1:
        return run_suite()
    mode = argv[1]
    if mode == "--dump" and len(argv) == 3:
        return mode_dump(argv[2])
    if mode == "--restart-check" and len(argv) == 3:
        return mode_restart_check(argv[2])
    if mode == "--hold-watch":
        return mode_hold_watch()
    if mode == "--revoke":
        return mode_revoke()
    print("usage: integration_client.py [--dump FILE | --restart-check FILE | --hold-watch | --revoke]",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
