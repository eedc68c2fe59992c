#!/usr/bin/python3
"""Server push (Watch) integration tests of wiresyncd with a stock gRPC client (python3-grpcio).

Run by test/push.test, one mode per server (each started with its own flags):

    WS_ADDR=127.0.0.1:PORT WS_PKI=DIR WS_PY=DIR /usr/bin/python3 test/push_client.py MODE

WS_PKI is the directory test/lib.sh's ws_make_pki wrote (push.test adds agent "eve" to
network a); WS_PY holds wiresync_pb2.py and health_pb2.py from `protoc --python_out`.

Modes (what the server must have been started with):
    --push     --presence-grace-ms=300, --ca = both networks: snapshot first; fan-out to
               every watcher of a network and no one else; resume sends exactly the missed
               changes; online/offline events; a quick reconnect is no event
    --old-log  --presence-grace-ms=300 --change-log-max-entries=3: a resume inside the log
               sends no snapshot, one older than the log gets a snapshot
    --limits   --presence-grace-ms=300 --max-watches-per-identity=2 --ca/--crl of network a:
               the third Watch of one certificate is RESOURCE_EXHAUSTED; a resume across a
               revocation gets removed_key (needs WS_CA = wiresync-ca, WS_SERVER_PID)
    --pings    --keepalive-ms=300: a client PINGing every 200 ms gets GOAWAY too_many_pings
               (WS_SERVER_LOG = the server's log); a Watch survives the server's own PINGs
Every mode ends with a line "N passed, M failed" (", K skipped") and exits non-zero when
something failed.
"""

import base64
import os
import signal
import subprocess
import sys
import time
import unittest

os.environ.setdefault("GRPC_VERBOSITY", "NONE")
import grpc  # noqa: E402

ADDR = os.environ.get("WS_ADDR", "")
PKI = os.environ.get("WS_PKI", "")
sys.path.insert(0, os.environ.get("WS_PY", "."))

import wiresync_pb2 as pb  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc_client  # noqa: E402  (shares its Watch stream reader)
import health_pb2  # noqa: E402

SVC = "/wiresync.v1.WireSync/"
TIMEOUT = 5.0
EVENT_WAIT = 5.0
QUIET = 1.5          # a stream that sent nothing for this long has sent all it will
GRACE = 0.3          # --presence-grace-ms=300

NETS = {"alice": "a", "bob": "a", "dave": "a", "eve": "a", "op": "a", "carol": "b"}
NET_A = ("alice", "bob", "dave")


def pki_file(name, ext):
    return os.path.join(PKI, NETS[name], name + "." + ext)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def key_of(name):
    return base64.b64decode(read(pki_file(name, "pub")).strip())


def make_channel(name, options=()):
    creds = grpc.ssl_channel_credentials(
        root_certificates=read(os.path.join(PKI, "a", "ca.crt")),
        private_key=read(pki_file(name, "key")),
        certificate_chain=read(pki_file(name, "crt")))
    opts = [("grpc.use_local_subchannel_pool", 1),   # one connection per channel
            ("grpc.enable_retries", 0)] + list(options)
    return grpc.secure_channel(ADDR, creds, options=opts)


class Client:
    def __init__(self, name, options=()):
        self.name = name
        self.channel = ch = make_channel(name, options)
        self.update = ch.unary_unary(SVC + "Update",
                                     request_serializer=pb.UpdateRequest.SerializeToString,
                                     response_deserializer=pb.UpdateReply.FromString)
        self.keys = ch.unary_unary(SVC + "Keys",
                                   request_serializer=pb.KeysRequest.SerializeToString,
                                   response_deserializer=pb.KeysReply.FromString)
        self.watch = ch.unary_stream(SVC + "Watch",
                                     request_serializer=pb.WatchRequest.SerializeToString,
                                     response_deserializer=pb.WatchEvent.FromString)
        self.health = ch.unary_unary("/grpc.health.v1.Health/Check",
                                     request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                                     response_deserializer=health_pb2.HealthCheckResponse.FromString)

    def up(self, **kw):
        return self.update(pb.UpdateRequest(**kw), timeout=TIMEOUT)

    def keyset(self):
        r = self.keys(pb.KeysRequest(), timeout=TIMEOUT)
        return r, {k.public_key: k for k in r.keys}

    def serving(self, **kw):
        return self.health(health_pb2.HealthCheckRequest(), timeout=TIMEOUT, **kw).status \
            == health_pb2.HealthCheckResponse.SERVING

    def close(self):
        self.channel.close()


class Watcher(grpc_client.Watcher):
    """grpc_client's stream reader, plus drain() and a close() that waits less."""

    def __init__(self, client, since=0, timeout=None):
        super().__init__(client, since, timeout)
        self.since = since

    def drain(self, quiet=QUIET, limit=20.0):
        """Everything until the stream is quiet for `quiet` s (or ends)."""
        seen = []
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            item = self.get(quiet)
            if item is None:
                break
            if item[0] == "end":
                seen.append(item)
                break
            seen.append(item[1])
        return seen

    def cancel(self):
        self.call.cancel()
        self.t.join(3)

    def close(self):
        self.cancel()
        time.sleep(0.1)


def describe(seen):
    out = []
    for s in seen:
        if isinstance(s, tuple):
            out.append("end %s %r" % (s[1].name, s[2]))
            continue
        kind = s.WhichOneof("event")
        if kind == "snapshot":
            out.append("rev %d snapshot[%s]" % (s.revision, ",".join(
                "%s:%d" % (p.name, p.listen_port) for p in s.snapshot.peers)))
        elif kind == "upsert":
            out.append("rev %d upsert %s port=%d online=%d" % (
                s.revision, s.upsert.name, s.upsert.listen_port, s.upsert.online))
        elif kind == "removed_key":
            out.append("rev %d removed %s" % (s.revision, name_of_key(s.removed_key)))
        else:
            out.append("rev %d %s" % (s.revision, kind))
    return "; ".join(out) or "nothing"


def name_of_key(k):
    for n in NETS:
        try:
            if key_of(n) == k:
                return n
        except OSError:
            pass
    return base64.b64encode(k).decode()


def end_desc(w):
    return describe([w.ended]) if w.ended else "still open"


def events_only(seen):
    return [s for s in seen if not isinstance(s, tuple)]


def is_upsert(ev, name=None, port=None, online=None):
    if ev.WhichOneof("event") != "upsert":
        return False
    p = ev.upsert
    return ((name is None or p.name == name) and (port is None or p.listen_port == port)
            and (online is None or p.online == online))


# --------------------------------------------------------------------------- fixture
C = {}


def clients(*names):
    for n in names:
        if n not in C:
            C[n] = Client(n)


def close_clients():
    for c in C.values():
        c.close()
    C.clear()


def wait_offline(viewer_of, timeout=EVENT_WAIT):
    """Waits until every peer in viewer_of (name -> the client whose Keys shows it) is
    offline, then a little longer so that no presence event is still on its way."""
    deadline = time.monotonic() + timeout
    while True:
        online = []
        for name, viewer in viewer_of.items():
            k = C[viewer].keyset()[1].get(key_of(name))
            if k is not None and k.online:
                online.append(name)
        if not online:
            time.sleep(0.2)
            return []
        if time.monotonic() >= deadline:
            return online
        time.sleep(0.05)


def settle_net_a():
    clients("alice", "bob")
    still = wait_offline({"alice": "bob", "bob": "alice", "dave": "alice"})
    if still:
        raise AssertionError("peers still online %.0f s after their Watch ended: %s"
                             % (EVENT_WAIT, ", ".join(still)))


class Base(unittest.TestCase):
    maxDiff = None

    def open_watch(self, who, since=0, timeout=None, client=None):
        """A Watch as `who` whose first event has arrived: (watcher, first event)."""
        w = Watcher(client or C[who], since, timeout)
        self.addCleanup(w.close)
        item = w.get(EVENT_WAIT)
        if item is None:
            self.fail("%s: Watch(since_revision=%d) sent no first event within %.0f s"
                      % (who, since, EVENT_WAIT))
        if item[0] == "end":
            self.fail("%s: Watch(since_revision=%d) ended before its first event: %s %r"
                      % (who, since, item[1].name, item[2]))
        return w, item[1]

    def assertIncreasing(self, evs, what):
        revs = [e.revision for e in evs]
        self.assertEqual(revs, sorted(set(revs)),
                         "%s: revisions must strictly increase: %s" % (what, describe(evs)))

    def assertUpsertConsistent(self, evs, what):
        for e in evs:
            if e.WhichOneof("event") == "upsert":
                self.assertEqual(e.upsert.revision, e.revision,
                                 "%s: Peer.revision differs from WatchEvent.revision: %s"
                                 % (what, describe([e])))


# --------------------------------------------------------------------------- --push
class P1Snapshot(Base):
    def test_snapshot_first_of_own_network_without_self(self):
        clients("alice", "bob", "dave", "carol")
        r = {n: C[n].up(listen_port=p) for n, p in
             (("alice", 31001), ("bob", 31002), ("dave", 31003), ("carol", 31004))}
        settle_net_a()
        top = max(x.revision for x in r.values())
        for who, others in (("alice", {"bob": 31002, "dave": 31003}),
                            ("bob", {"alice": 31001, "dave": 31003}),
                            ("carol", {})):
            w, ev = self.open_watch(who)
            self.assertEqual(ev.WhichOneof("event"), "snapshot",
                             "%s: first event must be the snapshot: %s" % (who, describe([ev])))
            self.assertGreaterEqual(ev.revision, top, "%s: snapshot older than the last Update" % who)
            got = {p.name: p.listen_port for p in ev.snapshot.peers}
            self.assertEqual(got, others, "%s: snapshot %s" % (who, describe([ev])))
            self.assertEqual(len(ev.snapshot.peers), len(others), "%s: duplicate peers" % who)
            for p in ev.snapshot.peers:
                self.assertLessEqual(p.revision, ev.revision)
            w.close()


class P2FanOut(Base):
    def test_every_update_reaches_every_watcher_of_its_network_and_no_one_else(self):
        clients("alice", "bob", "dave", "carol")
        settle_net_a()
        ws = {}
        for n in ("alice", "bob", "dave", "carol"):
            ws[n], ev = self.open_watch(n)
            self.assertEqual(ev.WhichOneof("event"), "snapshot", "%s: %s" % (n, describe([ev])))
        # each net-a watcher sees the ones opened after it come online; let that pass
        time.sleep(0.5)
        pre = {n: events_only(ws[n].drain(quiet=0.3)) for n in ws}

        ports = {"alice": 32001, "bob": 32002, "dave": 32003, "carol": 32004}
        replies = {}
        for rnd in range(3):            # three rounds, interleaved across peers
            for n, p in ports.items():
                replies[(n, rnd)] = C[n].up(listen_port=p + 10 * rnd)
        seen = {n: events_only(ws[n].drain()) for n in ws}

        for n in ("alice", "bob", "dave"):
            evs = pre[n] + seen[n]
            self.assertIncreasing(evs, n)
            self.assertUpsertConsistent(evs, n)
            want = sorted((replies[(o, rnd)].revision, o, ports[o] + 10 * rnd)
                          for o in NET_A if o != n for rnd in range(3))
            got = [(e.revision, e.upsert.name, e.upsert.listen_port) if is_upsert(e)
                   else (e.revision, e.WhichOneof("event"), 0) for e in seen[n]]
            self.assertEqual(got, want, "%s must see each Update of the other two, once, in "
                             "revision order, and nothing else: %s" % (n, describe(seen[n])))
            for e in pre[n] + seen[n]:
                k = e.upsert.public_key if e.WhichOneof("event") == "upsert" else e.removed_key
                self.assertNotEqual(k, key_of(n), "%s saw itself: %s" % (n, describe([e])))
                self.assertNotEqual(k, key_of("carol"), "%s saw carol: %s" % (n, describe([e])))
        self.assertEqual(pre["carol"] + seen["carol"], [],
                         "carol (alone in network b) must see nothing of network a: "
                         + describe(pre["carol"] + seen["carol"]))
        for n in ws:
            self.assertIsNone(ws[n].ended, "%s's Watch ended: %s" % (n, end_desc(ws[n])))


class P3Resume(Base):
    def test_resume_sends_no_snapshot_and_exactly_the_missed_changes(self):
        clients("alice", "bob", "dave", "carol")
        settle_net_a()
        w, ev = self.open_watch("alice")
        self.assertEqual(ev.WhichOneof("event"), "snapshot")
        last = ev.revision
        # a live change so that the resume point is a revision alice got from an upsert
        r = C["bob"].up(listen_port=33000)
        got, seen = w.wait_for(lambda e: is_upsert(e, "bob", 33000))
        self.assertIsNotNone(got, "live Update of bob never arrived: " + describe(seen))
        self.assertEqual(got.revision, r.revision)
        last = got.revision
        w.close()
        settle_net_a()        # alice's own offline event is a change she must not get

        missed = []
        for port in (33001, 33002, 33003):
            missed.append(("dave", port, C["dave"].up(listen_port=port).revision))
        missed.append(("bob", 33004, C["bob"].up(listen_port=33004).revision))
        C["carol"].up(listen_port=33005)                  # other network
        C["dave"].up(listen_port=33003)                   # no-op: no revision, no event
        w2 = Watcher(C["alice"], last)
        self.addCleanup(w2.close)
        seen = events_only(w2.drain())
        want = [("dave", 33003, missed[2][2]), ("bob", 33004, missed[3][2])]
        self.assertEqual([(e.WhichOneof("event"),) for e in seen], [("upsert",), ("upsert",)],
                         "resume from %d: want exactly two upserts (no snapshot), got: %s"
                         % (last, describe(seen)))
        self.assertEqual([(e.upsert.name, e.upsert.listen_port, e.revision) for e in seen], want,
                         "resume from %d: each changed peer's latest state in revision order: %s"
                         % (last, describe(seen)))
        self.assertUpsertConsistent(seen, "resume")
        # then live events
        r = C["dave"].up(listen_port=33006)
        got, more = w2.wait_for(lambda e: True)
        self.assertIsNotNone(got, "no live event after the resumed backlog")
        self.assertTrue(is_upsert(got, "dave", 33006) and got.revision == r.revision,
                        "live event after the backlog: " + describe(more))

    def test_resume_at_current_revision_sends_nothing_until_a_change(self):
        clients("alice", "bob", "dave")
        settle_net_a()
        cur = C["bob"].keys(pb.KeysRequest(), timeout=TIMEOUT).revision
        w = Watcher(C["alice"], cur)
        self.addCleanup(w.close)
        item = w.get(1.0)
        self.assertIsNone(item, "a resume at the current revision %d sent: %s" % (
            cur, item and describe([item[1] if item[0] == "event" else item])))
        r = C["dave"].up(listen_port=33101)
        got, seen = w.wait_for(lambda e: True)
        self.assertIsNotNone(got, "no event after the next change")
        self.assertTrue(is_upsert(got, "dave", 33101), describe(seen))
        self.assertEqual(got.revision, r.revision)


class P4Presence(Base):
    def test_online_then_offline_after_grace(self):
        clients("alice", "bob", "dave")
        settle_net_a()
        bob2 = Client("bob")
        self.addCleanup(bob2.close)
        w, ev = self.open_watch("alice")
        t_open = time.time()
        wb, _ = self.open_watch("bob", client=bob2)
        got, seen = w.wait_for(lambda e: is_upsert(e, "bob"))
        self.assertIsNotNone(got, "alice saw no event when bob opened a Watch: " + describe(seen))
        self.assertTrue(got.upsert.online, "bob's first event must say online: " + describe(seen))
        self.assertGreater(got.revision, ev.revision)
        self.assertGreaterEqual(got.upsert.last_seen_ms, int(t_open * 1000) - 2000)
        on_rev = got.revision
        self.assertTrue(C["dave"].keyset()[1][key_of("bob")].online, "Keys: bob not online")

        t0 = time.monotonic()
        wb.cancel()
        got, seen = w.wait_for(lambda e: is_upsert(e, "bob"), timeout=3.0)
        dt = time.monotonic() - t0
        self.assertIsNotNone(got, "no event for bob within 3 s of his Watch ending: " + describe(seen))
        self.assertFalse(got.upsert.online, "bob's next event must say offline: " + describe(seen))
        self.assertLess(dt, 1.2, "offline event %.2f s after the Watch ended (grace 0.3 s)" % dt)
        self.assertGreaterEqual(dt, GRACE - 0.05,
                                "offline event %.2f s after the Watch ended: before the 0.3 s grace" % dt)
        self.assertGreater(got.revision, on_rev, "offline event must have a new revision")
        self.assertGreaterEqual(got.upsert.last_seen_ms, int(t_open * 1000) - 2000)
        self.assertFalse(C["dave"].keyset()[1][key_of("bob")].online, "Keys: bob still online")

    def test_quick_reconnect_and_second_stream_are_no_event(self):
        clients("alice", "bob", "dave")
        settle_net_a()
        w, ev = self.open_watch("alice")
        wb1 = Watcher(C["bob"])
        self.addCleanup(wb1.close)
        got, seen = w.wait_for(lambda e: is_upsert(e, "bob", online=True))
        self.assertIsNotNone(got, "bob never came online: " + describe(seen))
        # reconnect well within the grace
        wb1.cancel()
        wb2 = Watcher(C["bob"])
        self.addCleanup(wb2.close)
        self.assertIsNotNone(wb2.get(EVENT_WAIT), "bob's second Watch got no first event")
        seen = events_only(w.drain(quiet=GRACE + 1.2))
        self.assertEqual([e for e in seen if is_upsert(e, "bob")], [],
                         "a reconnect within the grace must be no event: " + describe(seen))
        # a second stream of the same certificate: closing one keeps bob online
        wb3 = Watcher(C["bob"])
        self.addCleanup(wb3.close)
        self.assertIsNotNone(wb3.get(EVENT_WAIT), "bob's third Watch got no first event")
        wb2.cancel()
        seen = events_only(w.drain(quiet=GRACE + 1.2))
        self.assertEqual([e for e in seen if is_upsert(e, "bob")], [],
                         "bob still holds a Watch: closing the other is no event: " + describe(seen))
        wb3.cancel()
        got, seen = w.wait_for(lambda e: is_upsert(e, "bob"), timeout=3.0)
        self.assertIsNotNone(got, "bob's last Watch ended but no event: " + describe(seen))
        self.assertFalse(got.upsert.online, describe(seen))


# --------------------------------------------------------------------------- --old-log
class L1OldLog(Base):
    def test_resume_older_than_the_log_gets_a_snapshot(self):
        clients("alice", "bob", "dave")
        C["bob"].up(listen_port=34000)
        settle_net_a()
        w, ev = self.open_watch("alice")
        self.assertEqual(ev.WhichOneof("event"), "snapshot")
        old = ev.revision
        w.close()
        settle_net_a()
        revs = [C["dave"].up(listen_port=34001 + i).revision for i in range(5)]
        self.assertEqual(revs, sorted(set(revs)))

        # inside the log (3 entries): no snapshot, just dave's last change
        w1 = Watcher(C["alice"], revs[3])
        self.addCleanup(w1.close)
        seen = events_only(w1.drain())
        self.assertEqual([(e.WhichOneof("event"), e.revision) for e in seen], [("upsert", revs[4])],
                         "resume from %d (inside a 3-entry log ending at %d): %s"
                         % (revs[3], revs[4], describe(seen)))
        self.assertTrue(is_upsert(seen[0], "dave", 34005), describe(seen))
        w1.close()
        settle_net_a()

        # older than the log: a snapshot with everyone's current state
        w2 = Watcher(C["alice"], old)
        self.addCleanup(w2.close)
        seen = events_only(w2.drain())
        self.assertTrue(seen, "resume from %d (older than the log) sent nothing" % old)
        first = seen[0]
        self.assertEqual(first.WhichOneof("event"), "snapshot",
                         "resume from %d, older than a 3-entry log: want a snapshot first, got: %s"
                         % (old, describe(seen)))
        got = {p.name: p.listen_port for p in first.snapshot.peers}
        self.assertEqual(got, {"bob": 34000, "dave": 34005}, describe(seen))
        self.assertGreaterEqual(first.revision, revs[4])
        self.assertEqual(seen[1:], [], "nothing after the snapshot: " + describe(seen))
        r = C["bob"].up(listen_port=34006)
        got, more = w2.wait_for(lambda e: True)
        self.assertTrue(got is not None and is_upsert(got, "bob", 34006) and got.revision == r.revision,
                        "live event after the snapshot: " + describe(more))


# --------------------------------------------------------------------------- --limits
class M1MaxWatches(Base):
    def test_third_watch_of_one_certificate_is_resource_exhausted(self):
        chans = [Client("alice") for _ in range(3)]
        for c in chans:
            self.addCleanup(c.close)
        self.open_watch("alice", client=chans[0])
        self.open_watch("alice", client=chans[1])
        for i in (2, 0):
            w = Watcher(chans[i])
            self.addCleanup(w.close)
            item = w.get(EVENT_WAIT)
            self.assertIsNotNone(item, "third Watch of alice (channel %d) neither failed nor sent" % i)
            self.assertEqual(item[0], "end", "third Watch of alice (channel %d) must fail, got %s"
                             % (i, describe([item[1]]) if item[0] == "event" else item))
            self.assertEqual(item[1], grpc.StatusCode.RESOURCE_EXHAUSTED,
                             "third Watch of alice (channel %d): %s %r" % (i, item[1].name, item[2]))
        # another certificate is not affected
        bob = Client("bob")
        self.addCleanup(bob.close)
        self.open_watch("bob", client=bob)
        # and alice's other calls still work
        self.assertTrue(chans[2].serving())

    def test_a_closed_watch_frees_its_slot(self):
        chans = [Client("alice") for _ in range(3)]
        for c in chans:
            self.addCleanup(c.close)
        w0, _ = self.open_watch("alice", client=chans[0])
        self.open_watch("alice", client=chans[1])
        w0.cancel()
        deadline = time.monotonic() + EVENT_WAIT
        while True:
            w = Watcher(chans[2])
            self.addCleanup(w.close)
            item = w.get(EVENT_WAIT)
            if item is not None and item[0] == "event":
                break
            self.assertTrue(item is not None and item[1] == grpc.StatusCode.RESOURCE_EXHAUSTED,
                            "unexpected: %r" % (item,))
            if time.monotonic() > deadline:
                self.fail("a Watch slot was not freed %.0f s after a stream ended" % EVENT_WAIT)
            time.sleep(0.1)


class M2Removal(Base):
    def test_resume_across_a_revocation_gets_removed_key(self):
        if not os.path.exists(pki_file("eve", "crt")):
            self.skipTest("no certificate for eve in WS_PKI")
        if not os.environ.get("WS_CA") or not os.environ.get("WS_SERVER_PID"):
            self.skipTest("WS_CA and WS_SERVER_PID are needed")
        clients("alice", "bob", "dave", "eve")
        for n, port in (("alice", 34997), ("bob", 34998), ("dave", 34999), ("eve", 35000)):
            C[n].up(listen_port=port)      # presence is only tracked for peers with a record
        settle_net_a()
        w, ev = self.open_watch("alice")
        self.assertIn("eve", {p.name for p in ev.snapshot.peers}, describe([ev]))
        last = ev.revision
        w.close()
        settle_net_a()
        wd, _ = self.open_watch("dave")            # a live watcher across the revocation
        wd.wait_for(lambda e: False, timeout=0.5)
        rb = C["bob"].up(listen_port=35001)
        out = subprocess.run(["sh", os.environ["WS_CA"], "-d", os.path.join(PKI, "a"),
                              "revoke", "eve"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(out.returncode, 0, out.stdout.decode(errors="replace"))
        os.kill(int(os.environ["WS_SERVER_PID"]), signal.SIGHUP)
        got, seen = wd.wait_for(lambda e: e.WhichOneof("event") == "removed_key")
        self.assertIsNotNone(got, "dave's live Watch got no removed_key: " + describe(seen))
        self.assertEqual(got.removed_key, key_of("eve"), describe(seen))
        rem = got.revision
        self.assertGreater(rem, rb.revision)
        wd.close()
        settle_net_a()

        w2 = Watcher(C["alice"], last)
        self.addCleanup(w2.close)
        seen = events_only(w2.drain())
        # a watcher that names no CRL (crl_sha256) gets the server's after the changes
        crls = [e for e in seen if e.WhichOneof("event") == "crl"]
        self.assertTrue(len(crls) == 1 and seen[-1] is crls[0],
                        "want the CRL once, after the changes: " + describe(seen))
        seen = seen[:-1]
        # changed since `last`: bob (35001), eve (removed), dave (online, then offline);
        # alice's own presence is not hers to see
        got = [(e.WhichOneof("event"), e.revision) for e in seen]
        self.assertEqual(got[:2], [("upsert", rb.revision), ("removed_key", rem)],
                         "resume from %d across eve's revocation: %s" % (last, describe(seen)))
        self.assertEqual(seen[1].removed_key, key_of("eve"), describe(seen))
        self.assertEqual(len(seen), 3, "want bob, eve removed, dave's latest (offline): "
                         + describe(seen))
        self.assertTrue(is_upsert(seen[2], "dave", online=False) and seen[2].revision > rem,
                        "third event must be dave's latest state (offline): " + describe(seen))


# --------------------------------------------------------------------------- --pings
def log_has(path, offset, text):
    with open(path, "rb") as f:
        f.seek(offset)
        return text.encode() in f.read()


class K1Pings(Base):
    def test_client_pinging_every_200ms_gets_too_many_pings(self):
        log = os.environ.get("WS_SERVER_LOG")
        if not log:
            self.skipTest("WS_SERVER_LOG is needed")
        start = os.path.getsize(log)
        c = Client("alice", options=[
            ("grpc.keepalive_time_ms", 200),
            ("grpc.keepalive_timeout_ms", 5000),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.max_pings_without_data", 0),
            ("grpc.http2.min_time_between_pings_ms", 100),
            ("grpc.http2.min_ping_interval_without_data_ms", 100),
        ])
        self.addCleanup(c.close)
        # grpcio reads a connection only while some thread polls for it; without a call in
        # flight a connectivity subscription does, else the PING ACKs are never read and
        # grpc-core sends no further keepalive PING
        states = []
        c.channel.subscribe(states.append, try_to_connect=True)
        self.addCleanup(c.channel.unsubscribe, states.append)
        self.assertTrue(c.serving())
        t0 = time.monotonic()
        line = "too many PINGs (3 less than"
        while not log_has(log, start, line) and time.monotonic() - t0 < 6.0:
            time.sleep(0.1)
        self.assertTrue(log_has(log, start, line),
                        "no %r in the server log within 6 s of a client PINGing every 200 ms" % line)
        # a well-behaved client is still served
        C2 = Client("bob")
        self.addCleanup(C2.close)
        self.assertTrue(C2.serving())

    def test_watch_survives_the_servers_keepalive_pings(self):
        clients("alice", "bob")
        w, ev = self.open_watch("alice")
        time.sleep(2.0)                  # --keepalive-ms=300: several server PINGs
        self.assertIsNone(w.ended, "Watch ended while idle: " + end_desc(w))
        r = C["bob"].up(listen_port=36001)
        got, seen = w.wait_for(lambda e: is_upsert(e, "bob", 36001))
        self.assertIsNotNone(got, "event after 2 s idle never arrived: " + describe(seen))
        self.assertEqual(got.revision, r.revision)


# --------------------------------------------------------------------------- runner
class Result(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1


MODES = {
    "--push": (P1Snapshot, P2FanOut, P3Resume, P4Presence),
    "--old-log": (L1OldLog,),
    "--limits": (M1MaxWatches, M2Removal),
    "--pings": (K1Pings,),
}


def main(argv):
    if not ADDR or not PKI or len(argv) != 2 or argv[1] not in MODES:
        print("usage: WS_ADDR=H:P WS_PKI=DIR WS_PY=DIR push_client.py %s" % "|".join(MODES),
              file=sys.stderr)
        return 2
    loader = unittest.defaultTestLoader
    suite = unittest.TestSuite(loader.loadTestsFromTestCase(c) for c in MODES[argv[1]])
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=Result)
    try:
        res = runner.run(suite)
    finally:
        close_clients()
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    line = "%d passed, %d failed" % (res.passed, failed)
    if res.skipped:
        line += ", %d skipped" % len(res.skipped)
    print(line, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
