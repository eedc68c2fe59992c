#!/usr/bin/python3
"""The gRPC interop cases that apply to a server, ported to wiresyncd (python3-grpcio).

Run by test/interop.test against a server started with max_watches_per_identity = 1 and
presence_grace_ms = 0:

    WS_ADDR=127.0.0.1:PORT WS_PKI=DIR WS_PY=DIR WS_DB=FILE /usr/bin/python3 test/interop.py

Cases (names from grpc's doc/interop-test-descriptions.md): empty_unary, large_unary
(near the 1 MiB limit, and unknown fields), server_streaming, status_code_and_message,
special_status_message, unimplemented_method, unimplemented_service, cancel_after_begin,
cancel_after_first_response, timeout_on_sleeping_server. Ends with "N passed, M failed".
"""

import os
import socket
import sqlite3
import ssl
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc_client as gc  # noqa: E402
from grpc_client import pb, SVC, TIMEOUT, EVENT_WAIT, key_of  # noqa: E402
import grpc  # noqa: E402

DB = os.environ.get("WS_DB", "")
METRICS = os.environ.get("WS_METRICS", "")   # HOST:PORT of the server's /metrics, if any
MIB = 1024 * 1024
C = {}


def setUpModule():
    for n in ("alice", "bob", "dave"):
        C[n] = gc.Client(n)
    C["alice"].up(listen_port=51820, lan_ips=["192.168.1.10"], lan_id=gc.LAN_A)
    C["bob"].up(listen_port=51821, lan_ips=["192.168.1.11"], lan_id=gc.LAN_A)
    C["dave"].up(listen_port=51822, lan_ips=["10.20.0.4"], lan_id=gc.LAN_D)


def tearDownModule():
    for c in C.values():
        c.close()
    C.clear()


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def padded_update(total, port):
    """An UpdateRequest of exactly `total` bytes: a valid request followed by unknown
    field 15 (bytes), which protobuf decoders skip."""
    head = pb.UpdateRequest(listen_port=port, lan_ips=["10.20.0.4"], lan_id=gc.LAN_D).SerializeToString()
    n = total - len(head) - 1 - 3          # tag 0x7a + a 3-byte varint length
    ln = varint(n)
    assert len(ln) == 3, "padding length needs a 3-byte varint"
    msg = head + b"\x7a" + ln + b"\x00" * n
    assert len(msg) == total
    return msg


def db_port(name):
    """dave's (or anyone's) listen_port straight from the database, or None."""
    con = sqlite3.connect("file:%s?mode=ro" % DB, uri=True, timeout=5)
    try:
        cols = [r[1] for r in con.execute("PRAGMA table_info(peers)")]
        if "listen_port" not in cols or "name" not in cols:
            return None
        row = con.execute("SELECT listen_port FROM peers WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None
    finally:
        con.close()


def watchers():
    """The server's own count of open Watch streams (wiresync_watchers), or None."""
    if not METRICS:
        return None
    import urllib.request
    with urllib.request.urlopen("http://%s/metrics" % METRICS, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("wiresync_watchers "):
                return int(float(line.split()[1]))
    return None


class Base(gc.Base):
    def assert_watchers(self, want, what):
        """The server's watcher gauge reaches want (it follows the resets within a loop
        turn; the wait is for the RST_STREAM to arrive, not a timing assertion)."""
        if not METRICS:
            return
        self.assertIsNotNone(want, "no wiresync_watchers gauge at http://%s/metrics" % METRICS)
        deadline = time.monotonic() + EVENT_WAIT
        n = watchers()
        while n != want and time.monotonic() < deadline:
            time.sleep(0.05)
            n = watchers()
        self.assertEqual(n, want, "wiresync_watchers " + what)

    def watch(self, who, since=0):
        """A Watch as `who` (a Client), with its first event."""
        w = gc.Watcher(who, since, None)
        self.addCleanup(w.close)
        item = w.get(EVENT_WAIT)
        self.assertIsNotNone(item, "Watch sent no first event")
        self.assertEqual(item[0], "event", "Watch ended before its first event: %r" % (item,))
        return w, item[1]

    def port_of(self, viewer, name):
        return C[viewer].peer(name).listen_port

    def online(self, viewer, name):
        return C[viewer].keyset()[1][key_of(name)].online

    def wait_online(self, viewer, name, want):
        deadline = time.monotonic() + EVENT_WAIT
        while self.online(viewer, name) != want and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.online(viewer, name) == want


class T01Unary(Base):
    def test_empty_unary(self):
        # an empty message is zero bytes on the wire, and a valid request
        self.assertEqual(pb.KeysRequest().SerializeToString(), b"")
        r = C["bob"].keys(pb.KeysRequest(), timeout=TIMEOUT)
        self.assertGreater(r.revision, 0)
        self.assertIn(key_of("alice"), {k.public_key for k in r.keys})
        raw = C["bob"].raw(SVC + "Keys", deserializer=pb.KeysReply.FromString)
        self.assertEqual(raw(b"", timeout=TIMEOUT).revision, r.revision)
        # an empty WatchRequest is "since_revision 0": a snapshot
        w, ev = self.watch(C["bob"])
        self.assertEqual(ev.WhichOneof("event"), "snapshot")

    def test_large_unary_just_under_the_limit(self):
        call = C["dave"].raw(SVC + "Update", deserializer=pb.UpdateReply.FromString)
        msg = padded_update(MIB - 1, 51901)
        r = call(msg, timeout=10)
        self.assertGreater(r.revision, 0)
        self.assertEqual(r.observed_wan_ip, "127.0.0.1")
        self.assertEqual(self.port_of("alice", "dave"), 51901, "the padded Update was not stored")
        # and the connection carries on
        self.assertEqual(self.port_of("alice", "dave"), 51901)

    def test_large_unary_just_over_the_limit(self):
        before = C["alice"].peer("dave")
        call = C["dave"].raw(SVC + "Update", deserializer=pb.UpdateReply.FromString)
        e = self.assertCode(grpc.StatusCode.RESOURCE_EXHAUSTED, call, padded_update(MIB + 1, 51902),
                            timeout=10)
        self.assertIn("1048576", e.details() or "", "the message names the limit: %r" % e.details())
        after = C["alice"].peer("dave")
        self.assertEqual((after.revision, after.listen_port), (before.revision, before.listen_port),
                         "a refused Update changed dave's record")
        # dave's connection is still good for the next call
        r = C["dave"].up(listen_port=51822, lan_ips=["10.20.0.4"], lan_id=gc.LAN_D)
        self.assertGreater(r.revision, 0)

    def test_unknown_fields_are_ignored(self):
        # varint field 99, length-delimited field 100, fixed64 field 101, fixed32 field 102
        extra = (varint(99 << 3 | 0) + varint(123456) +
                 varint(100 << 3 | 2) + varint(5) + b"hello" +
                 varint(101 << 3 | 1) + b"\x01" * 8 +
                 varint(102 << 3 | 5) + b"\x02" * 4)
        msg = pb.UpdateRequest(listen_port=51903, lan_ips=["10.20.0.4"], lan_id=gc.LAN_D).SerializeToString()
        call = C["dave"].raw(SVC + "Update", deserializer=pb.UpdateReply.FromString)
        r = call(extra + msg + extra, timeout=TIMEOUT)
        self.assertGreater(r.revision, 0)
        p = C["alice"].peer("dave")
        self.assertEqual((p.listen_port, list(p.lan_ips), p.lan_id), (51903, ["10.20.0.4"], gc.LAN_D))
        raw_keys = C["bob"].raw(SVC + "Keys", deserializer=pb.KeysReply.FromString)
        self.assertGreater(raw_keys(extra, timeout=TIMEOUT).revision, 0, "Keys with only unknown fields")
        C["dave"].up(listen_port=51822, lan_ips=["10.20.0.4"], lan_id=gc.LAN_D)


class T02Streaming(Base):
    def test_server_streaming(self):
        w, ev = self.watch(C["alice"])
        self.assertEqual(ev.WhichOneof("event"), "snapshot")
        ports = list(range(51910, 51918))
        revs = [C["dave"].up(listen_port=p, lan_ips=["10.20.0.4"], lan_id=gc.LAN_D).revision for p in ports]
        got = []
        while len(got) < len(ports):
            item = w.get(EVENT_WAIT)
            self.assertIsNotNone(item, "only %d of %d events arrived" % (len(got), len(ports)))
            self.assertEqual(item[0], "event", repr(item))
            e = item[1]
            if e.WhichOneof("event") == "upsert" and e.upsert.name == "dave":
                got.append((e.revision, e.upsert.listen_port))
        self.assertEqual(got, list(zip(revs, ports)), "one event per Update, in order")
        C["dave"].up(listen_port=51822, lan_ips=["10.20.0.4"], lan_id=gc.LAN_D)


class T03Status(Base):
    def test_status_code_and_message(self):
        e = self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, C["alice"].up, listen_port=0)
        self.assertEqual(e.details(), "listen_port: must be 1-65535, got 0")
        e = self.assertCode(grpc.StatusCode.NOT_FOUND, C["bob"].peer, b"\x01" * 32)
        self.assertEqual(e.details(), "no such peer in network neta")
        e = self.assertCode(grpc.StatusCode.PERMISSION_DENIED, C["alice"].up,
                            public_key=key_of("bob"), listen_port=51820)
        self.assertEqual(e.details(), 'public_key: not the key bound to certificate "alice"')

    def test_special_status_message(self):
        # The server quotes the bad value; tabs, newlines, '%', non-ASCII (2-, 3- and
        # 4-byte UTF-8) must come back byte for byte through grpc-message's
        # percent-encoding.
        for bad in ("1.2.3\t\n\u00e9\u4e2d",
                    "\t\nws\r\nBMP \u263a non-BMP \U0001f608\t\n",
                    "10.0.0.1%41%zz%",
                    "\u00ff\u0101 %0A%25 \x7f\x01"):
            with self.subTest(bad=bad):
                self.assertLessEqual(len(bad.encode()), 64, "the server quotes 64 bytes")
                e = self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, C["alice"].up,
                                    listen_port=51820, lan_ips=["192.168.1.10", bad])
                self.assertEqual(e.details(), 'lan_ips[1]: invalid IP address "%s"' % bad)
        self.assertEqual(self.port_of("bob", "alice"), 51820)

    def test_long_bad_value_is_cut_on_a_character_boundary(self):
        bad = "\u4e2d" * 30          # 90 bytes: cut after 21 characters (63 bytes)
        e = self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, C["alice"].up,
                            listen_port=51820, lan_ips=[bad])
        self.assertEqual(e.details(), 'lan_ips[0]: invalid IP address "%s..."' % ("\u4e2d" * 21))

    def test_invalid_utf8_is_replaced(self):
        # python cannot send a str that is not UTF-8: build the protobuf by hand
        bad = b"10.0.0.1\xff\xc3("
        msg = (pb.UpdateRequest(listen_port=51820).SerializeToString() +
               b"\x1a" + varint(len(bad)) + bad)
        e = self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, C["alice"].raw(SVC + "Update"), msg,
                            timeout=TIMEOUT)
        self.assertEqual(e.details(), 'lan_ips[0]: invalid IP address "10.0.0.1??("')

    def test_unimplemented_method(self):
        e = self.assertCode(grpc.StatusCode.UNIMPLEMENTED, C["alice"].raw(SVC + "UnimplementedCall"),
                            b"", timeout=TIMEOUT)
        self.assertEqual(e.details(), "unknown method UnimplementedCall for service wiresync.v1.WireSync")

    def test_unimplemented_service(self):
        for path in ("/wiresync.v1.Nope/Update", "/grpc.testing.UnimplementedService/UnimplementedCall"):
            with self.subTest(path=path):
                e = self.assertCode(grpc.StatusCode.UNIMPLEMENTED, C["alice"].raw(path), b"", timeout=TIMEOUT)
                svc = path.split("/")[1]
                self.assertEqual(e.details(), "unknown service %s (path %s)" % (svc, path))
        # the connection still serves
        self.assertGreater(C["alice"].keys(pb.KeysRequest(), timeout=TIMEOUT).revision, 0)


class T04Cancel(Base):
    """max_watches_per_identity = 1 and presence_grace_ms = 0: a Watch the server did not
    forget would refuse the next one, and keep its peer online."""

    def second_watch_refused(self, client):
        w = gc.Watcher(client, 0, None)
        item = w.get(EVENT_WAIT)
        w.call.cancel()
        w.t.join(3)
        return item

    def test_limit_is_one(self):
        w, ev = self.watch(C["dave"])
        item = self.second_watch_refused(C["dave"])
        self.assertIsNotNone(item)
        self.assertEqual(item[:2], ("end", grpc.StatusCode.RESOURCE_EXHAUSTED), repr(item))
        self.assertEqual(item[2], "too many Watch streams for this certificate (1)")

    def test_cancel_after_begin(self):
        c = C["alice"]
        base = watchers()
        for _ in range(20):
            call = c.watch(pb.WatchRequest(since_revision=0))
            call.cancel()
            self.assertEqual(call.code(), grpc.StatusCode.CANCELLED)
        self.assert_watchers(base, "back to its baseline after 20 cancelled Watches")
        # the same connection: the server saw every reset before this request
        w, ev = self.watch(c)
        self.assertEqual(ev.WhichOneof("event"), "snapshot", "a new Watch after 20 cancels")
        w.close()
        # a fresh connection too
        c2 = gc.Client("alice")
        self.addCleanup(c2.close)
        w2, ev2 = self.watch(c2)
        self.assertEqual(ev2.WhichOneof("event"), "snapshot")

    def test_cancel_after_first_response(self):
        wb, _ = self.watch(C["bob"])
        c = C["alice"]
        base = watchers()
        call = c.watch(pb.WatchRequest(since_revision=0))
        first = next(call)
        self.assert_watchers(None if base is None else base + 1, "counts alice's Watch")
        self.assertEqual(first.WhichOneof("event"), "snapshot")
        self.assertTrue(self.wait_online("dave", "alice", True), "alice is online while she watches")
        call.cancel()
        self.assertEqual(call.code(), grpc.StatusCode.CANCELLED)
        self.assert_watchers(base, "back to its baseline after the cancel")
        # presence: bob's stream hears alice go offline
        got, seen = wb.wait_for(lambda e: e.WhichOneof("event") == "upsert"
                                and e.upsert.name == "alice" and not e.upsert.online)
        self.assertIsNotNone(got, "alice's offline event: " + gc.describe(seen))
        self.assertFalse(self.online("dave", "alice"))
        # and the server counts no stream for her: a new one is accepted
        w, ev = self.watch(c)
        self.assertEqual(ev.WhichOneof("event"), "snapshot")
        self.assertTrue(self.wait_online("dave", "alice", True))

    def test_channel_close_ends_the_watch(self):
        base = watchers()
        c = gc.Client("bob")
        w, ev = self.watch(c)
        self.assertTrue(self.wait_online("dave", "bob", True))
        c.close()
        self.assert_watchers(base, "back to its baseline after the channel closed")
        self.assertTrue(self.wait_online("dave", "bob", False), "bob still online after his channel closed")
        w2, ev2 = self.watch(C["bob"])
        self.assertEqual(ev2.WhichOneof("event"), "snapshot")


class T05Deadline(Base):
    def test_timeout_on_sleeping_server_unary(self):
        # 1 ms on a unary Update. Whether the client or the server gives up first, or the
        # server answers within the millisecond, is a race (an idle machine commits in
        # under 1 ms): every call ends OK or DEADLINE_EXCEEDED, and only an Update whose
        # reply could have been OK is stored. The variants below make the server sleep
        # for certain and prove that it ends the call itself and stores nothing.
        before = C["alice"].peer("dave")
        call = C["dave"].raw(SVC + "Update", deserializer=pb.UpdateReply.FromString)
        outcomes, sent = [], []
        for i in range(20):
            port = 51930 + i
            req = pb.UpdateRequest(listen_port=port, lan_ips=["10.20.0.4"],
                                   lan_id=gc.LAN_D).SerializeToString()
            sent.append(port)
            try:
                call(req, timeout=0.001)
                outcomes.append("OK")
            except grpc.RpcError as e:
                outcomes.append(e.code().name)
        self.assertTrue(set(outcomes) <= {"OK", "DEADLINE_EXCEEDED"}, outcomes)
        after = C["alice"].peer("dave")
        if "OK" not in outcomes:
            # nothing acknowledged: a stored change would have to come from a call the
            # server finished after its own deadline passed
            self.assertIn(after.listen_port, [before.listen_port] + sent, outcomes)
        else:
            self.assertIn(after.listen_port, sent, outcomes)

    def test_timeout_on_sleeping_server_streaming_request(self):
        # The request body is late (a client-streaming call on the Update path that
        # sleeps before its message): DEADLINE_EXCEEDED, nothing stored.
        before = C["alice"].peer("dave")
        call = C["dave"].channel.stream_unary(SVC + "Update",
                                              request_serializer=pb.UpdateRequest.SerializeToString,
                                              response_deserializer=pb.UpdateReply.FromString)

        def late():
            time.sleep(0.2)
            yield pb.UpdateRequest(listen_port=51931, lan_ips=["10.20.0.4"], lan_id=gc.LAN_D)

        self.assertCode(grpc.StatusCode.DEADLINE_EXCEEDED, call, late(), timeout=0.001)
        time.sleep(0.3)
        after = C["alice"].peer("dave")
        self.assertEqual((after.listen_port, after.revision), (before.listen_port, before.revision))
        if DB:
            self.assertNotEqual(db_port("dave"), 51931)

    def test_server_enforces_grpc_timeout(self):
        # Raw HTTP/2 (python3-h2): HEADERS with grpc-timeout 1m and no body. The server
        # itself must end the call with DEADLINE_EXCEEDED; the body sent afterwards is
        # never stored.
        try:
            import h2.config
            import h2.connection
            import h2.events
        except ImportError:
            self.skipTest("python3-h2 not installed")
        before = C["alice"].peer("dave")
        ctx = ssl.create_default_context(cafile=os.path.join(gc.PKI, "a", "ca.crt"))
        ctx.load_cert_chain(gc.pki_file("dave", "crt"), gc.pki_file("dave", "key"))
        ctx.set_alpn_protocols(["h2"])
        host, port = gc.ADDR.rsplit(":", 1)
        sock = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=5),
                               server_hostname=host)
        self.addCleanup(sock.close)
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        conn.send_headers(1, [(":method", "POST"), (":scheme", "https"), (":path", SVC + "Update"),
                              (":authority", gc.ADDR), ("content-type", "application/grpc"),
                              ("te", "trailers"), ("grpc-timeout", "1m")])
        sock.sendall(conn.data_to_send())
        status = None
        deadline = time.monotonic() + 5
        while status is None and time.monotonic() < deadline:
            data = sock.recv(65536)
            if not data:
                break
            for ev in conn.receive_data(data):
                if isinstance(ev, (h2.events.ResponseReceived, h2.events.TrailersReceived)) \
                        and ev.stream_id == 1:
                    h = {k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v
                         for k, v in ev.headers}
                    if "grpc-status" in h:
                        status = (h["grpc-status"], h.get("grpc-message", ""))
            sock.sendall(conn.data_to_send())
        self.assertEqual(status, ("4", "deadline exceeded"), "the server's own answer")
        body = pb.UpdateRequest(listen_port=51932, lan_ips=["10.20.0.4"], lan_id=gc.LAN_D).SerializeToString()
        try:
            conn.send_data(1, b"\x00" + len(body).to_bytes(4, "big") + body, end_stream=True)
            sock.sendall(conn.data_to_send())
        except Exception:
            pass  # the stream is closed already: just as good
        time.sleep(0.3)
        after = C["alice"].peer("dave")
        self.assertEqual((after.listen_port, after.revision), (before.listen_port, before.revision))


if __name__ == "__main__":
    if not gc.ADDR or not gc.PKI:
        print("set WS_ADDR and WS_PKI (and WS_PY)", file=sys.stderr)
        sys.exit(2)
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    res = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=gc.Result).run(suite)
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    sys.exit(gc.summary(res.passed, failed, len(res.skipped)))
