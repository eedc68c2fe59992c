#!/usr/bin/python3
"""Stock grpcio watchers (default channel settings) through bursts of changes.

Run by test/pings.test against a running wiresyncd:

    WS_ADDR=127.0.0.1:PORT WS_PKI=DIR WS_PY=DIR WS_CALL=ws-call \\
        /usr/bin/python3 test/pings_client.py MODE WATCHERS COUNT

WS_PKI is the directory test/lib.sh's ws_make_pki wrote; WS_PY holds wiresync_pb2.py;
WS_CALL is the project's C client (test/ws-call), which makes the changes fast.

Every watcher is bob on a channel of its own (its own TCP connection), opened with
grpcio's defaults apart from a local subchannel pool; grpcio then sends the BDP PINGs it
sends to any gRPC server while it receives data. Changes are alice's (and dave's) Updates.

Modes:
    burst WATCHERS COUNT   WATCHERS watchers; alice makes COUNT Updates as fast as the
                           server takes them, then one last Update to port 9999: every
                           watcher must reach that revision with alice at 9999 (a watcher
                           that falls behind may get changes coalesced per peer; that is
                           the contract).
    rounds WATCHERS COUNT  COUNT rounds: alice and dave each change port once per round;
                           the next round starts when every watcher has seen both changes.
                           Every watcher must see every change of every round.
    silent WATCHERS SECS   watchers that PING every 200 ms while nothing changes: each must
                           be cut off (GOAWAY too_many_pings: UNAVAILABLE) within SECS.
In burst and rounds a watcher whose stream ends (a GOAWAY ends it with UNAVAILABLE) has
failed. Prints
"watchers=N ended=E converged=C events=V" and "N passed, M failed"; exits 1 on failure.
"""

import asyncio
import os
import re
import sys
import time

os.environ.setdefault("GRPC_VERBOSITY", "NONE")
import grpc  # noqa: E402
import grpc.aio  # noqa: E402

ADDR = os.environ.get("WS_ADDR", "")
PKI = os.environ.get("WS_PKI", "")
WS_CALL = os.environ.get("WS_CALL", "")
sys.path.insert(0, os.environ.get("WS_PY", "."))

import wiresync_pb2 as pb  # noqa: E402

WATCH = "/wiresync.v1.WireSync/Watch"
OPEN_WAIT = 120.0        # every watcher has its snapshot within this
CONVERGE_WAIT = 90.0     # every watcher has the last change within this after it is made


def read(path):
    with open(path, "rb") as f:
        return f.read()


def pki(name, ext):
    return os.path.join(PKI, "a", name + "." + ext)


class Watcher:
    """One channel, one Watch stream; keeps bob's view of every peer."""

    def __init__(self, creds, i, options=()):
        self.i = i
        self.channel = grpc.aio.secure_channel(ADDR, creds, options=[
            ("grpc.use_local_subchannel_pool", 1), ("grpc.enable_retries", 0)] + list(options))
        self.ports = {}          # name -> listen_port
        self.seen = []           # (name, port) of every upsert, in order
        self.revision = 0
        self.events = 0
        self.ended = None        # (code, details) once the stream ended
        self.first = asyncio.Event()
        self.changed = asyncio.Event()

    async def run(self):
        call = self.channel.unary_stream(
            WATCH, request_serializer=pb.WatchRequest.SerializeToString,
            response_deserializer=pb.WatchEvent.FromString)(pb.WatchRequest())
        try:
            # read(), not `async for`: asyncio.run would wait at exit for 1,000 async
            # generators that grpcio never lets finish
            while True:
                ev = await call.read()
                if ev is grpc.aio.EOF:
                    break
                self.take(ev)
            self.ended = ("OK", "stream ended")
        except grpc.aio.AioRpcError as e:
            self.ended = (e.code().name, e.details())
        except asyncio.CancelledError:
            if self.ended is None:
                self.ended = ("CANCELLED", "by the test")
            raise
        finally:
            self.first.set()
            self.changed.set()

    def take(self, ev):
        self.events += 1
        kind = ev.WhichOneof("event")
        if kind == "snapshot":
            self.ports = {p.name: p.listen_port for p in ev.snapshot.peers}
        elif kind == "upsert":
            self.ports[ev.upsert.name] = ev.upsert.listen_port
            self.seen.append((ev.upsert.name, ev.upsert.listen_port))
        self.revision = max(self.revision, ev.revision)
        self.first.set()
        self.changed.set()

    async def until(self, pred, deadline):
        while not pred(self) and self.ended is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                return pred(self)
        return pred(self)


async def ws_call(who, *args):
    """Runs ws-call as who; its stdout. Raises on failure."""
    p = await asyncio.create_subprocess_exec(
        WS_CALL, "-s", ADDR, "-A", pki("ca", "crt"), "-C", pki(who, "crt"), "-K", pki(who, "key"),
        "-t", "120000", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await p.communicate()
    out = out.decode(errors="replace")
    if p.returncode != 0:
        raise RuntimeError("ws-call %s %s exited %d: %s" % (who, " ".join(args), p.returncode, out))
    return out


def revision_of(out):
    m = re.search(r"revision=(\d+)", out)
    if m is None:
        raise RuntimeError("no revision in ws-call's output: " + out)
    return int(m.group(1))


class Test:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
            print("ok - " + what, flush=True)
        else:
            self.failed += 1
            print("not ok - " + what, flush=True)


def summary(ws):
    ended = [w for w in ws if w.ended is not None]
    lines = ["watchers=%d ended=%d events=%d" % (len(ws), len(ended), sum(w.events for w in ws))]
    codes = {}
    for w in ended:
        codes.setdefault("%s %s" % w.ended, []).append(w.i)
    for k, v in sorted(codes.items()):
        lines.append("  ended %s: %d watchers (e.g. #%d)" % (k, len(v), v[0]))
    return "\n".join(lines)


async def open_watchers(t, n, options=()):
    await ws_call("alice", "update", "29999")       # both in every snapshot
    await ws_call("dave", "update", "39999")
    creds = grpc.ssl_channel_credentials(root_certificates=read(pki("ca", "crt")),
                                         private_key=read(pki("bob", "key")),
                                         certificate_chain=read(pki("bob", "crt")))
    ws = [Watcher(creds, i, options) for i in range(n)]
    tasks = [asyncio.ensure_future(w.run()) for w in ws]
    deadline = time.monotonic() + OPEN_WAIT
    for w in ws:
        left = max(deadline - time.monotonic(), 0.001)
        try:
            await asyncio.wait_for(w.first.wait(), left)
        except asyncio.TimeoutError:
            break
    got = sum(1 for w in ws if w.events > 0 and w.ended is None)
    t.check(got == n, "%d of %d grpcio watchers (bob, a channel each) have their snapshot"
            % (got, n))
    return ws, tasks


async def close_watchers(ws, tasks):
    for x in tasks:
        x.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for w in ws:
        await w.channel.close()


async def mode_burst(t, n, count):
    ws, tasks = await open_watchers(t, n)
    try:
        t0 = time.monotonic()
        out = await ws_call("alice", "burst", str(count), "--port-base", "20000")
        secs = time.monotonic() - t0
        t.check("errors=0" in out, "alice's burst of %d Updates: %s (%.1f s)"
                % (count, out.strip(), secs))
        final = revision_of(await ws_call("alice", "update", "9999"))
        deadline = time.monotonic() + CONVERGE_WAIT
        done = await asyncio.gather(*(w.until(
            lambda w: w.revision >= final and w.ports.get("alice") == 9999, deadline)
            for w in ws))
        conv = sum(1 for d in done if d)
        print(summary(ws) + "\n  converged=%d" % conv, flush=True)
        t.check(all(w.ended is None for w in ws),
                "no watcher's stream ended during the burst (%d ended)"
                % sum(1 for w in ws if w.ended is not None))
        t.check(conv == n, "%d of %d watchers reached the final revision %d with alice at 9999"
                % (conv, n, final))
    finally:
        await close_watchers(ws, tasks)


async def mode_rounds(t, n, rounds):
    ws, tasks = await open_watchers(t, n)
    try:
        want = []
        for r in range(1, rounds + 1):
            a, d = 30000 + r, 31000 + r
            await ws_call("alice", "update", str(a))
            rev = revision_of(await ws_call("dave", "update", str(d)))
            want += [("alice", a), ("dave", d)]
            deadline = time.monotonic() + CONVERGE_WAIT
            done = await asyncio.gather(*(w.until(
                lambda w: w.revision >= rev and w.ports.get("alice") == a
                and w.ports.get("dave") == d, deadline) for w in ws))
            if not all(done):
                print("round %d: %d of %d watchers have alice %d and dave %d (revision %d)"
                      % (r, sum(1 for x in done if x), n, a, d, rev), flush=True)
                if all(w.ended is not None or x for w, x in zip(ws, done)):
                    continue      # only ended streams lag: carry on, they are counted
                break
        print(summary(ws), flush=True)
        t.check(all(w.ended is None for w in ws),
                "no watcher's stream ended in %d rounds (%d ended)"
                % (rounds, sum(1 for w in ws if w.ended is not None)))
        full = [w for w in ws if [s for s in w.seen if s in want] == want]
        t.check(len(full) == n, "%d of %d watchers saw all %d changes of %d rounds, in order"
                % (len(full), n, len(want), rounds))
    finally:
        await close_watchers(ws, tasks)


async def mode_silent(t, n, seconds):
    """Watchers that PING every 200 ms while the server has nothing to send them: the
    flood defence still ends their connections (GOAWAY, so UNAVAILABLE)."""
    ws, tasks = await open_watchers(t, n, options=[
        ("grpc.keepalive_time_ms", 200), ("grpc.keepalive_timeout_ms", 5000),
        ("grpc.keepalive_permit_without_calls", 1), ("grpc.http2.max_pings_without_data", 0),
        ("grpc.http2.min_time_between_pings_ms", 100),
        ("grpc.http2.min_ping_interval_without_data_ms", 100)])
    try:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(w.until(lambda w: False, deadline) for w in ws))
        print(summary(ws), flush=True)
        t.check(all(w.ended is not None and w.ended[0] == "UNAVAILABLE" for w in ws),
                "every watcher PINGing every 200 ms on a silent stream is cut off (UNAVAILABLE) "
                "within %d s" % seconds)
    finally:
        await close_watchers(ws, tasks)


MODES = {"burst": mode_burst, "rounds": mode_rounds, "silent": mode_silent}


def main(argv):
    if not ADDR or not PKI or not WS_CALL or len(argv) != 4 or argv[1] not in MODES:
        print("usage: WS_ADDR=H:P WS_PKI=DIR WS_PY=DIR WS_CALL=ws-call pings_client.py "
              "%s WATCHERS COUNT" % "|".join(MODES), file=sys.stderr)
        return 2
    t = Test()
    fn = MODES[argv[1]]
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(fn(t, int(argv[2]), int(argv[3])))
    except Exception as e:      # a failed ws-call, say: a failure, not a traceback
        t.check(False, "%s %s %s: %s: %s" % (argv[1], argv[2], argv[3], type(e).__name__, e))
    print("%d passed, %d failed" % (t.passed, t.failed), flush=True)
    return 1 if t.failed else 0


if __name__ == "__main__":
    rc = main(sys.argv)
    sys.stdout.flush()
    # Every channel is closed; grpcio's aio poller thread is not, and closing the event
    # loop (or the interpreter's exit) waits for it forever after 1,000 channels.
    os._exit(rc)
