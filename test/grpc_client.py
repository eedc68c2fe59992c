"""What the Python test drivers share to talk to wiresyncd with a stock gRPC client
(Debian's python3-grpcio): the test PKI, Client, Watcher, the unittest fixture (Base,
baseline), and the ok/not ok reporting (Checks, Result, summary). The integration suite
itself is test/integration_client.py.

WS_ADDR=127.0.0.1:PORT, WS_PKI is the directory that test/lib.sh's ws_make_pki wrote; WS_PY
holds wiresync_pb2.py and health_pb2.py from `protoc --python_out`. Methods are called by
path (no grpc codegen).
"""

import base64
import os
import queue
import ssl
import subprocess
import sys
import threading
import time
import unittest

os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # grpc-core's own error lines on refused handshakes
import grpc  # noqa: E402

ADDR = os.environ.get("WS_ADDR", "")
PKI = os.environ.get("WS_PKI", "")
sys.path.insert(0, os.environ.get("WS_PY", "."))

import wiresync_pb2 as pb  # noqa: E402
import health_pb2  # noqa: E402

SVC = "/wiresync.v1.WireSync/"
TIMEOUT = 5.0
EVENT_WAIT = 5.0

# name -> network directory under WS_PKI
NETS = {
    "alice": "a", "bob": "a", "dave": "a", "op": "a", "old": "a", "server": "a",
    "carol": "b", "mallory": "x",
}
# tunnel addresses given to wiresync-ca by ws_make_pki
TUNNEL = {
    "alice": {"10.9.0.2/32", "fd00::2/128"},
    "bob": {"10.9.0.3/32"},
    "dave": {"10.9.0.4/32"},
    "carol": {"10.8.0.2/32"},
}

LAN_A = bytes.fromhex("02aabbccdd01")   # the LAN alice and bob share
LAN_D = bytes.fromhex("02aabbccdd02")   # dave's LAN


def pki_file(name, ext):
    return os.path.join(PKI, NETS[name], name + "." + ext)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def key_of(name):
    return base64.b64decode(read(pki_file(name, "pub")).strip())


def der_of(name):
    return ssl.PEM_cert_to_DER_cert(read(pki_file(name, "crt")).decode())


def root_ca():
    return read(os.path.join(PKI, "a", "ca.crt"))


def make_channel(name=None, options=(), compression=None):
    """A TLS channel to the server as `name` (None: no client certificate)."""
    if name is None:
        creds = grpc.ssl_channel_credentials(root_certificates=root_ca())
    else:
        creds = grpc.ssl_channel_credentials(
            root_certificates=root_ca(),
            private_key=read(pki_file(name, "key")),
            certificate_chain=read(pki_file(name, "crt")))
    opts = [
        ("grpc.use_local_subchannel_pool", 1),   # no connection shared between channels
        ("grpc.max_send_message_length", -1),
        ("grpc.max_receive_message_length", -1),
        ("grpc.enable_retries", 0),
    ] + list(options)
    return grpc.secure_channel(ADDR, creds, options=opts, compression=compression)


class Client:
    """The WireSync and Health methods on one channel, called by path."""

    def __init__(self, name=None, options=(), compression=None):
        self.name = name
        self.channel = make_channel(name, options, compression)
        ch = self.channel
        self.update = ch.unary_unary(SVC + "Update",
                                     request_serializer=pb.UpdateRequest.SerializeToString,
                                     response_deserializer=pb.UpdateReply.FromString)
        self.keys = ch.unary_unary(SVC + "Keys",
                                   request_serializer=pb.KeysRequest.SerializeToString,
                                   response_deserializer=pb.KeysReply.FromString)
        self.get_peer = ch.unary_unary(SVC + "GetPeer",
                                       request_serializer=pb.GetPeerRequest.SerializeToString,
                                       response_deserializer=pb.Peer.FromString)
        self.watch = ch.unary_stream(SVC + "Watch",
                                     request_serializer=pb.WatchRequest.SerializeToString,
                                     response_deserializer=pb.WatchEvent.FromString)
        self.health = ch.unary_unary("/grpc.health.v1.Health/Check",
                                     request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                                     response_deserializer=health_pb2.HealthCheckResponse.FromString)

    def raw(self, path, serializer=lambda b: b, deserializer=lambda b: b):
        return self.channel.unary_unary(path, request_serializer=serializer,
                                        response_deserializer=deserializer)

    def up(self, **kw):
        return self.update(pb.UpdateRequest(**kw), timeout=TIMEOUT)

    def peer(self, name_or_key):
        k = key_of(name_or_key) if isinstance(name_or_key, str) else name_or_key
        return self.get_peer(pb.GetPeerRequest(public_key=k), timeout=TIMEOUT)

    def keyset(self, lan_only=False):
        r = self.keys(pb.KeysRequest(lan_only=lan_only), timeout=TIMEOUT)
        return r, {k.public_key: k for k in r.keys}

    def close(self):
        self.channel.close()


class Watcher:
    """Reads a Watch stream on a thread. Items: ("event", WatchEvent) or ("end", code, details)."""

    def __init__(self, client, since=0, timeout=None, request=None):
        req = request if request is not None else pb.WatchRequest(since_revision=since)
        self.call = client.watch(req, timeout=timeout)
        self.q = queue.Queue()
        self.ended = None
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            for ev in self.call:
                self.q.put(("event", ev))
            self.q.put(("end", grpc.StatusCode.OK, ""))
        except grpc.RpcError as e:
            self.q.put(("end", e.code(), e.details()))

    def get(self, timeout=EVENT_WAIT):
        """The next item, or None after timeout."""
        if self.ended is not None:
            return self.ended
        try:
            item = self.q.get(timeout=max(timeout, 0.001))
        except queue.Empty:
            return None
        if item[0] == "end":
            self.ended = item
        return item

    def wait_for(self, pred, timeout=EVENT_WAIT):
        """First event for which pred(ev) holds within timeout; (event, seen) or (None, seen)."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, seen
            item = self.get(left)
            if item is None:
                return None, seen
            if item[0] == "end":
                seen.append(item)
                return None, seen
            seen.append(item[1])
            if pred(item[1]):
                return item[1], seen

    def events(self, seconds):
        """Every event that arrives within seconds (fewer if the stream ends)."""
        out = []
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out
            item = self.get(left)
            if item is None or item[0] == "end":
                return out
            out.append(item[1])

    def close(self):
        self.call.cancel()
        self.t.join(3)
        time.sleep(0.3)  # let the server notice the stream is gone (presence)


def describe(seen):
    out = []
    for s in seen:
        if isinstance(s, tuple):
            out.append("end %s %r" % (s[1].name, s[2]))
        else:
            kind = s.WhichOneof("event")
            if kind == "snapshot":
                out.append("rev %d snapshot[%s]" % (s.revision, ",".join(p.name for p in s.snapshot.peers)))
            elif kind == "upsert":
                out.append("rev %d upsert %s port=%d online=%s" % (
                    s.revision, s.upsert.name, s.upsert.listen_port, s.upsert.online))
            else:
                out.append("rev %d %s" % (s.revision, kind))
    return "; ".join(out) or "nothing"


# --------------------------------------------------------------------------- fixture
C = {}


def baseline():
    """Known state for alice, bob, dave and carol; returns the replies."""
    return {
        "alice": C["alice"].up(listen_port=51820, lan_ips=["192.168.1.10"], lan_id=LAN_A),
        "bob": C["bob"].up(listen_port=51821, lan_ips=["192.168.1.11"], lan_id=LAN_A),
        "dave": C["dave"].up(listen_port=51822, lan_ips=["10.20.0.4"], lan_id=LAN_D),
        "carol": C["carol"].up(listen_port=51823, lan_ips=["192.168.1.12"], lan_id=LAN_A),
    }


def setUpModule():
    for n in ("alice", "bob", "dave", "carol", "op"):
        C[n] = Client(n)
    baseline()


def tearDownModule():
    for c in C.values():
        c.close()
    C.clear()


class Base(unittest.TestCase):
    maxDiff = None

    def assertCode(self, code, fn, *args, **kw):
        """fn(*args, **kw) must fail with status code; returns the RpcError."""
        try:
            r = fn(*args, **kw)
        except grpc.RpcError as e:
            self.assertEqual(e.code(), code, "expected %s, got %s (details %r)" % (
                code.name, e.code().name, e.details()))
            return e
        self.fail("expected %s, got OK: %s" % (code.name, short(r)))

    def watch_or_skip(self, who, since=0, timeout=None):
        """Opens a Watch as `who` and returns (watcher, first event); skips the test when the
        server does not implement Watch."""
        w = Watcher(C[who] if isinstance(who, str) else who, since, timeout)
        self.addCleanup(w.close)
        item = w.get(EVENT_WAIT)
        if item is None:
            self.fail("Watch(since_revision=%d) sent no first event within %.0f s" % (since, EVENT_WAIT))
        if item[0] == "end":
            if item[1] == grpc.StatusCode.UNIMPLEMENTED:
                self.skipTest("Watch is not implemented by the server yet (UNIMPLEMENTED: %r)" % item[2])
            self.fail("Watch(since_revision=%d) ended before its first event: %s %r" % (
                since, item[1].name, item[2]))
        return w, item[1]

    def record(self, viewer, name):
        """The parts of name's record an Update can change, as viewer sees them."""
        p = C[viewer].peer(name)
        return (p.revision, p.listen_port, list(p.lan_ips), p.wan_ip, p.lan_id)


# --------------------------------------------------------------------------- runner
class Result(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1


def summary(passed, failed, skipped):
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line, flush=True)
    return 1 if failed else 0


class Checks:
    """ok/not ok lines for the non-unittest modes."""

    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print("ok - " + what, flush=True)
        else:
            self.failed += 1
            if "\n" in str(detail):
                print("not ok - " + what, flush=True)
                for line in str(detail).splitlines():
                    print("#   " + line, flush=True)
            else:
                print("not ok - " + what + (": " + detail if detail else ""), flush=True)
        return cond

    def skip(self, what, why):
        self.skipped += 1
        print("skip - %s: %s" % (what, why), flush=True)

    def code(self, want, fn, what):
        try:
            r = fn()
        except grpc.RpcError as e:
            return self.check(e.code() == want, what, "got %s %r" % (e.code().name, e.details()))
        return self.check(False, what, "got OK: " + short(r))

    def done(self):
        return summary(self.passed, self.failed, self.skipped)


def short(msg):
    """One line for a message in a failure detail."""
    t = " ".join(str(msg).split())
    return t if len(t) <= 160 else t[:157] + "..."


def crl_der(ca_dir):
    """ca_dir's ca.crl (as wiresync-ca writes it, PEM) in DER, as the server relays it."""
    return subprocess.run(["openssl", "crl", "-in", os.path.join(ca_dir, "ca.crl"),
                           "-outform", "DER"], check=True, capture_output=True).stdout
