#!/usr/bin/python3
"""The web console (issue 16) against a running wiresyncd, over plain HTTP on loopback.

Run by test/web.test:

    WS_ADDR=127.0.0.1:PORT WS_ENROLL=127.0.0.1:EPORT WS_WEB=127.0.0.1:WPORT WS_PKI=DIR \
        WS_PY=DIR WS_TMP=DIR /usr/bin/python3 test/web_client.py

The server has an online issuer for neta, `pool = neta 10.9.0.0/24` and a join listener.
Hosts are made by stock grpcio Updates (mutual TLS as the test PKI's agents), joins by
grpcio on the join listener. Ends with "N passed, M failed".
"""

import hashlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

import grpc_client as gc
from grpc_client import Checks, Client, grpc

import enroll_pb2 as epb  # noqa: E402

WEB = os.environ["WS_WEB"]
ENROLL = os.environ["WS_ENROLL"]
TMP = os.environ["WS_TMP"]
HOST, PORT = WEB.rsplit(":", 1)
PORT = int(PORT)
C = Checks()
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def get(path, method="GET", body=None, headers=None):
    c = http.client.HTTPConnection(HOST, PORT, timeout=10)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read().decode("utf-8", "replace")
    c.close()
    return r, data


def csrf_of(resp):
    m = re.search(r"ws_csrf=([0-9a-f]+)", resp.getheader("Set-Cookie") or "")
    return m.group(1) if m else ""


def raw(data, timeout=5):
    """Sends bytes on a fresh connection; the status line answered ("" on none)."""
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    try:
        s.sendall(data)
        got = b""
        while b"\r\n" not in got:
            b = s.recv(4096)
            if not b:
                break
            got += b
        return got.split(b"\r\n", 1)[0].decode("latin-1")
    finally:
        s.close()


def join_rpc():
    creds = grpc.ssl_channel_credentials(root_certificates=gc.root_ca())
    ch = grpc.secure_channel(ENROLL, creds, options=[("grpc.use_local_subchannel_pool", 1)])
    return ch.unary_unary("/wiresync.v1.Enroll/Join",
                          request_serializer=epb.JoinRequest.SerializeToString,
                          response_deserializer=epb.JoinReply.FromString)


def csr(name):
    key = os.path.join(TMP, "%s.key" % name)
    out = os.path.join(TMP, "%s.csr" % name)
    subprocess.run(["openssl", "req", "-new", "-nodes", "-keyout", key, "-subj", "/CN=" + name,
                    "-outform", "DER", "-out", out, "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256"], check=True, capture_output=True)
    with open(out, "rb") as f:
        return f.read()


class Events:
    """Reads /events on a thread: the event names seen, in order."""

    def __init__(self):
        self.seen = []
        self.status = None
        self.ctype = None
        self.sock = socket.create_connection((HOST, PORT), timeout=60)
        self.sock.sendall(b"GET /events HTTP/1.1\r\nHost: " + WEB.encode() + b"\r\n\r\n")
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        buf = b""
        try:
            while True:
                b = self.sock.recv(4096)
                if not b:
                    return
                buf += b
                if self.status is None and b"\r\n\r\n" in buf:
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    self.status = head.split(b"\r\n")[0].decode()
                    m = re.search(rb"(?i)content-type: *([^\r\n]+)", head)
                    self.ctype = m.group(1).decode() if m else ""
                while b"\n\n" in buf and self.status is not None:
                    ev, buf = buf.split(b"\n\n", 1)
                    m = re.search(rb"^event: *(\S+)", ev, re.M)
                    if m:
                        self.seen.append(m.group(1).decode())
        except OSError:
            return

    def wait(self, name, after, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            if name in self.seen[after:]:
                return True
            time.sleep(0.05)
        return False

    def close(self):
        # shutdown first: a plain close leaves the socket open while the thread reads
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.t.join(5)


def wait_streams(n, timeout=20):
    """Until /status counts n event streams."""
    end = time.time() + timeout
    while time.time() < end:
        if "(%d event streams)" % n in get("/status")[1]:
            return True
        time.sleep(0.1)
    return False


def main():
    # ---- headers on every page, and the pages themselves
    for path in ["/", "/links", "/pending", "/status", "/audit", "/api/hosts", "/api/links",
                 "/app.js", "/style.css", "/nope"]:
        r, _ = get(path)
        C.check(r.getheader("Content-Security-Policy") == CSP and
                r.getheader("X-Content-Type-Options") == "nosniff" and
                r.getheader("Referrer-Policy") == "no-referrer" and
                r.getheader("Cache-Control") == "no-store",
                "GET %s (%d): the strict CSP, nosniff, no-referrer, no-store" % (path, r.status),
                str(r.getheaders()))
    r, body = get("/")
    C.check(r.status == 200 and "text/html" in r.getheader("Content-Type") and
            '<script src="/app.js"' in body and "<script>" not in body and
            "http://" not in body.replace('xmlns="http://www.w3.org/2000/svg"', ""),
            "/ is HTML with only the same-origin script (no inline script, nothing elsewhere)")
    cookie = r.getheader("Set-Cookie") or ""
    C.check("SameSite=Strict" in cookie and "HttpOnly" in cookie and len(csrf_of(r)) == 64,
            "the CSRF cookie: 256 bits, SameSite=Strict, HttpOnly", cookie)
    r, _ = get("/nope")
    C.check(r.status == 404, "an unknown path is 404", str(r.status))

    # ---- hosts made by Updates show on / and in /api/hosts
    ev = Events()
    for name, port in (("alice", 51820), ("bob", 51821)):
        Client(name).up(listen_port=port)
    r, body = get("/api/hosts")
    hosts = {h["name"]: h for h in json.loads(body)}
    C.check(set(hosts) == {"alice", "bob"} and hosts["alice"]["tunnel"] ==
            ["10.9.0.2", "fd00::2"] and hosts["alice"]["network"] == "neta" and
            hosts["bob"]["not_after"] > time.time(),
            "/api/hosts lists alice and bob with network, tunnel addresses, expiry", body)
    r, body = get("/")
    C.check('<td class="name">alice</td>' in body and '<td class="name">bob</td>' in body and
            '<span id="host-count">2</span>' in body, "/ lists alice and bob", body[-800:])
    r, body = get("/links")
    C.check(body.count("<line ") == 1 and 'data-state="unknown"' in body and
            "<td>alice</td><td>bob</td>" in body,
            "/links: one edge alice-bob, state unknown, in the picture and the table",
            body[-800:])
    # ---- link reports colour the edge: both ends saw a handshake -> up, on their path
    def report(who, peer, hs_ago):
        now = int(time.time() * 1000)
        f = Client(who).channel.unary_unary("/wiresync.v1.WireSync/ReportLinks",
                                            request_serializer=gc.pb.LinkReport.SerializeToString,
                                            response_deserializer=gc.pb.LinkReportReply.FromString)
        f(gc.pb.LinkReport(links=[gc.pb.LinkHealth(
            peer_key=gc.key_of(peer), path="lan", endpoint="192.168.1.9:51820",
            last_handshake_ms=now - hs_ago * 1000, rx_bytes=10, tx_bytes=20,
            down_reason="" if hs_ago < 180 else "no handshake on the lan path for 5 min")]),
          timeout=gc.TIMEOUT)
    report("alice", "bob", 5)
    report("bob", "alice", 5)
    r, body = get("/links")
    C.check(body.count("<line ") == 1 and 'data-state="up"' in body and
            "<td>lan</td>" in body and 'data-beat="1"' in body,
            "/links: both ends reported a handshake: the edge is up, on lan, and the page "
            "follows the heartbeat", body[-800:])
    time.sleep(5.2)              # the server takes one report per host per 5 s
    report("alice", "bob", 400)
    r, body = get("/api/links")
    C.check('"down"' in body, "/api/links: an end without a handshake for 400 s: down", body)

    # ---- the event stream
    C.check(ev.wait("change", 0, 10) or ev.status is not None,
            "GET /events answers", str(ev.status))
    C.check(ev.status is not None and ev.status.startswith("HTTP/1.1 200") and
            (ev.ctype or "").startswith("text/event-stream"),
            "GET /events: 200 text/event-stream", "%s %s" % (ev.status, ev.ctype))
    n = len(ev.seen)
    Client("dave").up(listen_port=51822)
    C.check(ev.wait("change", n), "an Update of a new host (dave) sends a change event",
            str(ev.seen))
    # presence: alice's Watch makes her online, its end offline (presence_grace_ms = 0);
    # each is a change event, and the hosts page says so
    n = len(ev.seen)
    alice = Client("alice")
    w = gc.Watcher(alice)

    def online(name, want):
        end = time.time() + 20
        while time.time() < end:
            hs = {h["name"]: h for h in json.loads(get("/api/hosts")[1])}
            if hs[name]["online"] == want:
                return True
            time.sleep(0.1)
        return False
    C.check(online("alice", True) and ev.wait("change", n), "alice's Watch: online, a change "
            "event", str(ev.seen[n:]))
    r, body = get("/")
    C.check(re.search(r'alice</td>.*?<td class="online">online</td>', body) is not None,
            "/ shows alice online")
    n = len(ev.seen)
    w.call.cancel()
    alice.close()
    C.check(online("alice", False) and ev.wait("change", n), "the Watch ended: alice offline, "
            "a change event", str(ev.seen[n:]))
    n = len(ev.seen)
    C.check(ev.wait("beat", n, 15), "a heartbeat event comes within 15 s", str(ev.seen))
    ev.close()

    # ---- CSRF: a POST without the token, with another one, with only one half
    r, _ = get("/pending")
    tok = csrf_of(r)
    form = "application/x-www-form-urlencoded"
    for what, hdr, body in (
            ("no token at all", {}, "id=1"),
            ("the form field but no cookie", {}, "id=1&csrf=" + tok),
            ("the cookie but no form field", {"Cookie": "ws_csrf=" + tok}, "id=1"),
            ("another token in both", {"Cookie": "ws_csrf=" + "0" * 64}, "id=1&csrf=" + "0" * 64),
            ("the right token from another origin",
             {"Cookie": "ws_csrf=" + tok, "Origin": "http://evil.example"}, "id=1&csrf=" + tok)):
        hdr["Content-Type"] = form
        r, text = get("/pending/approve", "POST", body, hdr)
        C.check(r.status == 403 and "CSRF" in text, "POST /pending/approve with %s: 403" % what,
                "%d %s" % (r.status, text))

    # ---- a join approved from the page, one denied
    join = join_rpc()
    h1, k1 = csr("webhost1"), hashlib.sha256(b"webhost1").digest()
    r1 = join(epb.JoinRequest(csr=h1, public_key=k1, network="neta"), timeout=5)
    C.check(r1.state == epb.JOIN_WAITING, "webhost1 Joins: WAITING", str(r1))
    r, body = get("/pending")
    C.check('id="approve-%d"' % r1.id in body and 'id="deny-%d"' % r1.id in body and
            'name="csrf" value="%s"' % tok in body,
            "/pending shows webhost1 with approve and deny forms carrying the token",
            body[-1500:])
    hdr = {"Cookie": "ws_csrf=" + tok, "Content-Type": form, "Origin": "http://" + WEB,
           "Host": WEB}
    r, text = get("/pending/approve", "POST", "id=%d&csrf=%s" % (r1.id, tok), hdr)
    C.check(r.status == 303 and r.getheader("Location") == "/pending",
            "POST /pending/approve with the token: 303 to /pending", "%d %s" % (r.status, text))
    a1 = join(epb.JoinRequest(csr=h1, public_key=k1, network="neta"), timeout=5)
    C.check(a1.state == epb.JOIN_APPROVED and len(a1.certificate) > 0 and len(a1.chain) == 1,
            "webhost1's next Join is APPROVED with a certificate and the issuer's chain",
            str(a1.state))
    r, text = get("/pending/approve", "POST", "id=%d&csrf=%s" % (r1.id, tok), hdr)
    C.check(r.status == 409 and "approved already" in text,
            "approving it again: 409, approved already", "%d %s" % (r.status, text[-300:]))
    h2, k2 = csr("webhost2"), hashlib.sha256(b"webhost2").digest()
    r2 = join(epb.JoinRequest(csr=h2, public_key=k2, network="neta"), timeout=5)
    r, text = get("/pending/deny", "POST", "id=%d&csrf=%s" % (r2.id, tok), hdr)
    d2 = join(epb.JoinRequest(csr=h2, public_key=k2, network="neta"), timeout=5)
    C.check(r.status == 303 and d2.state == epb.JOIN_DENIED,
            "POST /pending/deny: webhost2's next Join is DENIED", "%d %s" % (r.status, d2))
    r, text = get("/pending/approve", "POST", "id=abc&csrf=" + tok, hdr)
    C.check(r.status == 400 and "id:" in text, "a bad id: 400 naming the field",
            "%d %s" % (r.status, text[-300:]))
    r, body = get("/audit")
    rows = re.findall(r"<tr><td>[^<]*</td><td class=\"admin\">web console</td>"
                      r"<td class=\"action\">(approve|deny)</td><td>neta</td><td>([^<]*)</td>",
                      body)
    C.check(r.status == 200 and ("deny", "request %d webhost2 (the web console (loopback))" %
                                 r2.id) in rows and
            any(a == "approve" and d.startswith("request %d webhost1 10.9.0." % r1.id)
                for a, d in rows) and len(rows) == 2,
            "/audit: the console's approve and deny, once each, newest first",
            str(rows) + " " + body[-1200:])

    # ---- a host named <script>x</script> shows as text
    xss = os.environ["WS_XSS"]
    creds = grpc.ssl_channel_credentials(root_certificates=gc.root_ca(),
                                         private_key=gc.read(xss + ".key"),
                                         certificate_chain=gc.read(xss + ".crt"))
    ch = grpc.secure_channel(gc.ADDR, creds, options=[("grpc.use_local_subchannel_pool", 1)])
    ch.unary_unary(gc.SVC + "Update", request_serializer=gc.pb.UpdateRequest.SerializeToString,
                   response_deserializer=gc.pb.UpdateReply.FromString)(
        gc.pb.UpdateRequest(listen_port=51899), timeout=5)
    ch.close()
    for path in ("/", "/links", "/status"):
        r, body = get(path)
        C.check("&lt;script&gt;x&lt;/script&gt;" in body and "<script>x" not in body,
                "%s shows the host <script>x</script> escaped" % path, body[-600:])
    r, body = get("/api/hosts")
    C.check("\\u003cscript\\u003ex\\u003c/script\\u003e" in body and "<script>" not in body and
            "<script>x</script>" in [h["name"] for h in json.loads(body)],
            "/api/hosts: the name escaped in JSON, intact once parsed", body[-400:])

    # ---- bounds and methods
    C.check(raw(b"PUT / HTTP/1.1\r\nHost: x\r\n\r\n").startswith("HTTP/1.1 405"),
            "PUT: 405")
    C.check(raw(b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 40 + b"\r\n").startswith("HTTP/1.1 431"),
            "40 headers: 431")
    C.check(raw(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n").startswith("HTTP/1.1 431"),
            "a 9000-byte request line: 431")
    C.check(raw(b"POST /pending/deny HTTP/1.1\r\nContent-Length: 100000\r\n\r\n")
            .startswith("HTTP/1.1 413"), "a 100000-byte body: 413")
    C.check(raw(b"GET / HTTP/2.0\r\n\r\n").startswith("HTTP/1.1 505"), "HTTP/2.0: 505")
    C.check(raw(b"garbage\r\n\r\n").startswith("HTTP/1.1 400"), "garbage: 400")
    # event streams are capped below the connection limit; a silent client is closed
    C.check(wait_streams(0), "no event stream open before", get("/status")[1][-900:])
    streams = [Events() for _ in range(16)]
    end = time.time() + 20
    while time.time() < end and not all(e.status for e in streams):
        time.sleep(0.05)
    C.check(all((e.status or "").startswith("HTTP/1.1 200") for e in streams),
            "16 event streams open")
    C.check(raw(b"GET /events HTTP/1.1\r\n\r\n").startswith("HTTP/1.1 503"),
            "a 17th event stream: 503")
    r, _ = get("/status")
    C.check(r.status == 200, "with 16 streams open the pages are still served")
    for e in streams:
        e.close()
    C.check(wait_streams(0), "the streams' ends are seen: 0 open", get("/status")[1][-900:])
    s = socket.create_connection((HOST, PORT), timeout=60)
    s.sendall(b"GET / HTTP/1.1\r\n")
    t0 = time.time()
    try:
        closed = s.recv(100) == b""
    except OSError:
        closed = True
    s.close()
    C.check(closed and time.time() - t0 >= 10, "a request that never ends is closed after "
            "the idle timeout (%.1f s)" % (time.time() - t0))
    print("%d passed, %d failed" % (C.passed, C.failed), flush=True)
    return 0 if C.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
