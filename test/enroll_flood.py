#!/usr/bin/python3
"""Flooding the join listener (issue 13) of a running wiresyncd, from many source addresses.

Run by test/enrollflood.test:

    WS_ADDR=127.0.0.1:PORT WS_ENROLL=127.0.0.1:EPORT WS_PKI=DIR WS_PY=DIR WS_TMP=DIR \
        WS_SERVER_PID=PID WS_MAX_PENDING=N WS_RATE=N WS_CTL="wiresyncctl -c CONF" \
        /usr/bin/python3 test/enroll_flood.py

The flood speaks HTTP/2 with python3-h2 over TLS sockets bound to source addresses in
127/8 (all loopback on Linux: each is a source of its own to the server's per-address
bounds); grpcio cannot bind a source address, so it is the honest host (127.0.0.1), the
operator and the agent. CSRs are built by hand (DER) and signed with python3-cryptography:
distinct names and signatures at ~50 us each, where openssl req takes milliseconds.
Prints ok/not ok lines, "figure ..." lines for BENCHMARKS.md, and "N passed, M failed".
"""

import os
import selectors
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

import h2.config
import h2.connection
import h2.events
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

import grpc_client as gc
from grpc_client import Checks, Client, grpc

import admin_pb2 as apb  # noqa: E402
import enroll_pb2 as epb  # noqa: E402

ENROLL = os.environ["WS_ENROLL"]
PID = int(os.environ["WS_SERVER_PID"])
MAX_PENDING = int(os.environ["WS_MAX_PENDING"])
RATE = int(os.environ["WS_RATE"])
CTL = os.environ["WS_CTL"].split()
PER_SOURCE = 32                      # server/pending.c's max_per_source
JOIN = "/wiresync.v1.Enroll/Join"
ADMIN = "/wiresync.v1.Admin/"
T = 30.0                             # a generous deadline: the loop is busy with the flood
C = Checks()
OK, PERMISSION_DENIED, RESOURCE_EXHAUSTED, UNIMPLEMENTED = 0, 7, 8, 12

# --- CSRs -------------------------------------------------------------------------------

KEY = ec.generate_private_key(ec.SECP256R1())
SPKI = KEY.public_key().public_bytes(serialization.Encoding.DER,
                                      serialization.PublicFormat.SubjectPublicKeyInfo)


def der(tag, body):
    n = len(body)
    if n < 0x80:
        ln = bytes([n])
    elif n < 0x100:
        ln = bytes([0x81, n])
    else:
        ln = bytes([0x82, n >> 8, n & 0xff])
    return bytes([tag]) + ln + body


CN_OID = der(0x06, bytes([0x55, 0x04, 0x03]))                         # 2.5.4.3
ECDSA_SHA256 = der(0x30, der(0x06, bytes.fromhex("2a8648ce3d040302")))  # 1.2.840.10045.4.3.2


def csr(name):
    """A DER PKCS#10 request with CN=name, self-signed by the one flood key."""
    subject = der(0x30, der(0x31, der(0x30, CN_OID + der(0x0c, name.encode()))))
    info = der(0x30, der(0x02, b"\0") + subject + SPKI + b"\xa0\x00")
    sig = KEY.sign(info, ec.ECDSA(hashes.SHA256()))
    return der(0x30, info + ECDSA_SHA256 + der(0x03, b"\0" + sig))


def wgkey(i):
    return i.to_bytes(8, "big") + b"\x5a" * 24


def join_body(name, i, network="neta", key=None):
    return epb.JoinRequest(csr=csr(name), public_key=key or wgkey(i),
                           network=network).SerializeToString()


# --- a raw HTTP/2 client bound to a source address --------------------------------------

CA = os.path.join(gc.PKI, "a", "ca.crt")


def tls_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(CA)
    ctx.check_hostname = False
    ctx.set_alpn_protocols(["h2"])
    return ctx


CTX = tls_ctx()


def tcp(src):
    host, port = ENROLL.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(T)
    s.connect((host, int(port)))
    return s


class H2:
    """One TLS + HTTP/2 connection from src to the join listener; calls() pipelines."""

    def __init__(self, src):
        self.s = CTX.wrap_socket(tcp(src), server_hostname=ENROLL.rsplit(":", 1)[0])
        if self.s.selected_alpn_protocol() != "h2":
            raise RuntimeError("the join listener did not select ALPN h2")
        self.h = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8"))
        self.h.initiate_connection()
        self.flush()

    def flush(self):
        out = self.h.data_to_send()
        if out:
            self.s.sendall(out)

    def calls(self, path, bodies, window=64):
        """(grpc-status, grpc-message, reply bytes) for each body, in order."""
        todo = list(enumerate(bodies))
        todo.reverse()
        live, res = {}, [None] * len(bodies)
        while todo or live:
            limit = min(window, self.h.remote_settings.max_concurrent_streams)
            while todo and len(live) < limit and \
                    self.h.outbound_flow_control_window >= len(todo[-1][1]) + 5:
                i, b = todo.pop()
                sid = self.h.get_next_available_stream_id()
                self.h.send_headers(sid, [(":method", "POST"), (":scheme", "https"),
                                          (":path", path), (":authority", "wiresync"),
                                          ("content-type", "application/grpc"),
                                          ("te", "trailers")])
                self.h.send_data(sid, b"\0" + len(b).to_bytes(4, "big") + b, end_stream=True)
                live[sid] = [i, {}, b""]
            self.flush()
            data = self.s.recv(65536)
            if not data:
                raise RuntimeError("the server closed the connection")
            for ev in self.h.receive_data(data):
                st = live.get(getattr(ev, "stream_id", None))
                if isinstance(ev, (h2.events.ResponseReceived, h2.events.TrailersReceived)):
                    st[1].update(dict(ev.headers))
                elif isinstance(ev, h2.events.DataReceived):
                    st[2] += ev.data
                    self.h.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    del live[ev.stream_id]
                    res[st[0]] = (int(st[1].get("grpc-status", "-1")),
                                  urllib.parse.unquote(st[1].get("grpc-message", "")),
                                  st[2][5:])
                elif isinstance(ev, h2.events.StreamReset):
                    del live[ev.stream_id]
                    res[st[0]] = (-1, "RST_STREAM %d" % ev.error_code, b"")
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    raise RuntimeError("GOAWAY %s" % ev.error_code)
            self.flush()
        return res

    def close(self):
        try:
            self.h.close_connection()
            self.flush()
        except OSError:
            pass
        self.s.close()


def reply(body):
    return epb.JoinReply.FromString(body)


def kinds(results):
    """Counts of the outcomes: WAITING, and RESOURCE_EXHAUSTED by the bound it names."""
    out = {}
    for code, msg, body in results:
        if code == OK:
            k = "waiting" if reply(body).state == epb.JOIN_WAITING else "other"
        elif code == RESOURCE_EXHAUSTED:
            k = "enroll_max_pending" if "enroll_max_pending" in msg else \
                "enroll_rate_per_min" if "enroll_rate_per_min" in msg else \
                "per_source" if "wait for the operator" in msg else "exhausted:" + msg
        else:
            k = "%d:%s" % (code, msg)
        out[k] = out.get(k, 0) + 1
    return out


def cpu_s():
    """The server's user + system CPU time, in seconds."""
    with open("/proc/%d/stat" % PID) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib():
    with open("/proc/%d/status" % PID) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


# --- connections that never finish ------------------------------------------------------

def idle_conns(n, base):
    """n connections from 127.0.2.x, a third each: TLS then silence, TLS and half a HEADERS
    frame, TCP without a ClientHello. Returns the sockets (kept open by the caller)."""
    socks = []
    for i in range(n):
        src = "127.0.%d.%d" % (base + i // 250, 1 + i % 250)
        kind = i % 3
        if kind == 2:
            socks.append(tcp(src))
            continue
        s = CTX.wrap_socket(tcp(src), server_hostname="127.0.0.1")
        if kind == 1:
            # the preface, empty SETTINGS, then a HEADERS frame header claiming 200 bytes
            # followed by 20 of them
            s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\0\0\0\x04\0\0\0\0\0" +
                      (200).to_bytes(3, "big") + b"\x01\x04\0\0\0\x01" + b"\x82" * 20)
        socks.append(s)
    # the server sends its SETTINGS once it has taken a handshake: when every TLS one has,
    # the server holds them all (and has accepted the TCP ones, made in between)
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        if i % 3 != 2:
            sel.register(s, selectors.EVENT_READ)
    deadline = time.monotonic() + T
    while sel.get_map() and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            sel.unregister(key.fileobj)
    sel.close()
    return socks


def still_open(socks):
    """How many of socks the server has not closed (EOF or reset) yet."""
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    closed = 0
    for key, _ in sel.select(timeout=0.5):
        try:
            d = key.fileobj.recv(4096)
            if d == b"":
                closed += 1
        except ssl.SSLWantReadError:
            pass
        except (OSError, ssl.SSLError):
            closed += 1
    sel.close()
    return len(socks) - closed


# --- the operator -----------------------------------------------------------------------

def unary(ch, name, req_cls, rep_cls):
    return ch.unary_unary(ADMIN + name, request_serializer=req_cls.SerializeToString,
                          response_deserializer=rep_cls.FromString)


def main():
    op = Client("op").channel
    list_pending = unary(op, "ListPending", apb.ListPendingRequest, apb.ListPendingReply)
    deny = unary(op, "Deny", apb.DenyRequest, apb.DenyReply)
    list_peers = unary(op, "ListPeers", apb.ListPeersRequest, apb.ListPeersReply)

    def n_pending():
        return len(list_pending(apb.ListPendingRequest(), timeout=T).pending)

    alice = Client("alice")
    alice.up(listen_port=51820)

    # ---- 1. one source: the per-source cap, then the per-minute rate
    c = H2("127.0.0.2")
    r = c.calls(JOIN, [join_body("one%d" % i, 1000 + i) for i in range(PER_SOURCE + 8)])
    k = kinds(r)
    C.check(k == {"waiting": PER_SOURCE, "per_source": 8} and
            all(x[0] == OK for x in r[:PER_SOURCE]),
            "one source: %d new requests kept, the next 8 RESOURCE_EXHAUSTED (too many wait "
            "for the operator)" % PER_SOURCE, str(k))
    C.check(n_pending() == PER_SOURCE, "ListPending holds those %d" % PER_SOURCE)
    ids = [reply(x[2]).id for x in r[:PER_SOURCE]]
    for i in ids[:10]:
        deny(apb.DenyRequest(id=i, reason="flood"), timeout=T)
    r = c.calls(JOIN, [join_body("two%d" % i, 2000 + i) for i in range(20)])
    k = kinds(r)
    want = RATE - PER_SOURCE
    C.check(k == {"waiting": want, "enroll_rate_per_min": 20 - want},
            "10 denied: %d more kept, then RESOURCE_EXHAUSTED naming enroll_rate_per_min "
            "(%d in the last minute)" % (want, RATE), str(k))
    n_one = PER_SOURCE + want
    C.check(n_pending() == n_one, "ListPending holds %d" % n_one)
    # the one-source flood: refused before anything is kept; it also fills ASan's
    # quarantine, so that the baseline below is a warm server's
    n = 3000
    bodies = [join_body("w%d" % i, 3000 + i) for i in range(n)]
    t0, cpu0 = time.monotonic(), cpu_s()
    r = c.calls(JOIN, bodies)
    dt, cpu = time.monotonic() - t0, cpu_s() - cpu0
    k = kinds(r)
    C.check(k == {"enroll_rate_per_min": n}, "%d more from that source: all "
            "RESOURCE_EXHAUSTED (enroll_rate_per_min)" % n, str(k))
    C.check(n_pending() == n_one, "nothing more kept (%d)" % n_one)
    print("figure one-source flood: %d Join requests refused in %.2f s: %.0f/s (one "
          "connection, 64 streams in flight); server CPU %.0f us each" %
          (n, dt, n / dt, cpu * 1e6 / n), flush=True)
    c.close()

    # ---- 2. connections that never finish, held through the flood
    base = rss_kib()
    n_idle = int(os.environ.get("WS_IDLE", "600"))
    idle = idle_conns(n_idle, 10)
    with_idle = rss_kib()
    print("figure %d idle connections: VmRSS %d -> %d KiB (%.1f KiB each)" %
          (n_idle, base, with_idle, (with_idle - base) / max(n_idle, 1)), flush=True)

    # one address holds 32 connections at most, in the handshake and after it
    tls_one = [CTX.wrap_socket(tcp("127.0.8.1"), server_hostname="127.0.0.1")
               for _ in range(PER_SOURCE + 8)]
    tcp_one = [tcp("127.0.8.2") for _ in range(PER_SOURCE + 8)]
    time.sleep(0.5)
    n_tls, n_tcp = still_open(tls_one), still_open(tcp_one)
    C.check(n_tls == PER_SOURCE and n_tcp == PER_SOURCE, "40 connections from one address, "
            "after TLS or before the ClientHello: %d held, the rest closed" % PER_SOURCE,
            "%d and %d held" % (n_tls, n_tcp))
    for x in tls_one + tcp_one:
        x.close()

    # ---- 3. many sources, while an agent and an honest host are served
    n_src = int(os.environ.get("WS_SOURCES", "250"))
    per = int(os.environ.get("WS_PER_SOURCE", "80"))
    print("# building %d CSRs" % (n_src * per), flush=True)
    work = [("127.0.1.%d" % (1 + s % 250) if s < 250 else "127.0.3.%d" % (1 + s % 250),
             [join_body("f%d-%d" % (s, j), 100000 + s * 1000 + j) for j in range(per)])
            for s in range(n_src)]
    results, errors = [], []
    lock = threading.Lock()
    started = threading.Event()

    def flooder(part):
        for src, bodies in part:
            try:
                cc = H2(src)
                started.set()
                got = cc.calls(JOIN, bodies)
                cc.close()
            except (OSError, RuntimeError, ssl.SSLError) as e:
                with lock:
                    errors.append("%s: %s" % (src, e))
                continue
            with lock:
                results.extend(got)

    threads = [threading.Thread(target=flooder, args=(work[i::4],)) for i in range(4)]
    t0, cpu0 = time.monotonic(), cpu_s()
    for t in threads:
        t.start()
    started.wait(T)
    # the honest host asks once the flood has filled the table
    full_at = None
    while any(t.is_alive() for t in threads):
        if n_pending() >= MAX_PENDING:
            full_at = time.monotonic() - t0
            break
        time.sleep(0.2)
    honest = {"full after %.1f s" % full_at if full_at else "never full": True}
    try:
        ech = grpc.secure_channel(ENROLL, grpc.ssl_channel_credentials(
            root_certificates=gc.root_ca()))
        join = ech.unary_unary(JOIN, request_serializer=epb.JoinRequest.SerializeToString,
                               response_deserializer=epb.JoinReply.FromString)
        with open(os.path.join(os.environ["WS_TMP"], "honest.csr"), "rb") as f:
            h_csr = f.read()
        h_key = b"\x11" * 32
        honest["first"] = join(epb.JoinRequest(csr=h_csr, public_key=h_key, network="neta"),
                               timeout=T)
        honest["during"] = n_pending()
    except grpc.RpcError as e:
        honest["error"] = "%s %s" % (e.code().name, e.details())
    try:
        bob = Client("bob")
        bob.update(gc.pb.UpdateRequest(listen_port=51821), timeout=T)
        agent_ok = bob.get_peer(gc.pb.GetPeerRequest(public_key=gc.key_of("alice")),
                                timeout=T).name == "alice"
        bob.close()
    except grpc.RpcError as e:
        agent_ok = False
        honest["agent"] = "%s %s" % (e.code().name, e.details())
    mid_flood = any(t.is_alive() for t in threads)
    for t in threads:
        t.join()
    dt, cpu = time.monotonic() - t0, cpu_s() - cpu0
    after = rss_kib()
    k = kinds(results)
    total = n_src * per
    C.check(not errors and len(results) == total, "%d Join requests from %d source addresses "
            "all answered" % (total, n_src), "; ".join(errors[:5]))
    other = {x: v for x, v in k.items() if x not in ("waiting", "enroll_max_pending",
                                                      "per_source", "enroll_rate_per_min")}
    C.check(not other and k.get("enroll_max_pending", 0) > 0,
            "the flood: only WAITING and RESOURCE_EXHAUSTED (enroll_max_pending, per source, "
            "enroll_rate_per_min)", str(k))
    print("figure many-source flood: %d Join requests from %d addresses (4 threads) in %.1f "
          "s: %.0f/s, server CPU %.0f us each; %s; VmRSS %d KiB before the idle "
          "connections, %d with them, %d after the flood" %
          (total, n_src, dt, total / dt, cpu * 1e6 / total, k, base, with_idle, after),
          flush=True)
    C.check(mid_flood and full_at is not None, "the honest host and the agent were served "
            "while the flood ran, on a full table", str(honest))
    C.check("first" in honest and honest["first"].state == epb.JOIN_WAITING and
            honest["first"].id > 0, "an honest host joining during the flood (from 127.0.0.1, "
            "grpcio): WAITING with an id", str(honest))
    C.check(agent_ok, "an agent on the mutual-TLS listener is served during the flood "
            "(Update, Keys)", str(honest.get("agent", "")))
    np = n_pending()
    C.check(np <= MAX_PENDING, "ListPending after the flood: %d, at most enroll_max_pending "
            "(%d)" % (np, MAX_PENDING))
    pend = {p.id: p for p in list_pending(apb.ListPendingRequest(), timeout=T).pending}
    C.check(not any(i in pend for i in ids[:10]), "the 10 denied requests made room first "
            "(gone)", str([i for i in ids[:10] if i in pend]))
    C.check("first" in honest and honest["first"].id in pend and
            pend[honest["first"].id].state == "waiting", "the honest host's request is "
            "still kept after the flood (a source holding one is never dropped for another)")
    c = H2("127.0.5.1")
    r = c.calls(JOIN, [join_body("late", 7)])[0]
    C.check(r[0] == OK and reply(r[2]).state == epb.JOIN_WAITING, "an honest host from a "
            "new address after the flood: WAITING (%d addresses hold %d requests: one holds "
            "two)" % (n_src + 2, MAX_PENDING), str(r[:2]))
    c.close()
    C.check(n_pending() <= MAX_PENDING, "still at most enroll_max_pending")
    open_now = still_open(idle)
    C.check(open_now > 0, "idle connections were still held during the flood (%d of %d open "
            "now)" % (open_now, n_idle))
    print("rss base=%d idle=%d after=%d" % (base, with_idle, after), flush=True)

    # ---- 4. identities and other services, on a full table
    peers_before = list_peers(apb.ListPeersRequest(), timeout=T)
    c = H2("127.0.4.1")
    bob_key = gc.key_of("bob")
    r = c.calls(JOIN, [join_body("alice", 1, key=b"\x22" * 32), join_body("newname", 2,
                                                                          key=bob_key)])
    C.check([x[0] for x in r] == [6, 6] and "name:" in r[0][1] and "public_key:" in r[1][1],
            "a CSR for alice's name, one with bob's key: ALREADY_EXISTS naming name and "
            "public_key", str([x[:2] for x in r]))
    victim = ids[10]
    paths = [("/wiresync.v1.WireSync/Update", b""), ("/wiresync.v1.WireSync/Keys", b""),
             (ADMIN + "ListPending", b""),
             (ADMIN + "Deny", apb.DenyRequest(id=victim).SerializeToString()),
             (ADMIN + "Approve", apb.ApproveRequest(id=victim, certificate=b"x")
              .SerializeToString())]
    for path, body in paths:
        got = c.calls(path, [body])[0]
        C.check(got[0] in (UNIMPLEMENTED, PERMISSION_DENIED), "%s on the join listener "
                "without a certificate: UNIMPLEMENTED" % path, str(got[:2]))
    c.close()
    pend = {p.id: p for p in list_pending(apb.ListPendingRequest(), timeout=T).pending}
    peers_after = list_peers(apb.ListPeersRequest(), timeout=T)
    C.check(victim in pend and pend[victim].state == "waiting" and
            peers_after.revision == peers_before.revision and
            len(peers_after.peers) == len(peers_before.peers) and
            gc.key_of("bob") not in [p.public_key for p in pend.values()],
            "nothing stored by those: request %d still waits, peers at revision %d" %
            (victim, peers_before.revision))

    # ---- 5. the honest host is approved (wiresyncctl approve) and gets its certificate
    if "first" in honest:
        hid = honest["first"].id
        p = subprocess.run(CTL + ["approve", str(hid)], capture_output=True, text=True)
        C.check(p.returncode == 0 and ("approved %d honest" % hid) in p.stdout,
                "wiresyncctl approve %d (the honest host)" % hid, p.stdout + p.stderr)
        got = join(epb.JoinRequest(csr=h_csr, public_key=h_key, network="neta"), timeout=T)
        C.check(got.state == epb.JOIN_APPROVED and got.id == hid and len(got.certificate) > 0,
                "its next Join: APPROVED with its certificate", str(got.state))
        ech.close()
    alice.close()
    return C.done()


if __name__ == "__main__":
    sys.exit(main())
