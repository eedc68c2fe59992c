#!/usr/bin/python3
"""Presence across failed group commits, driven by test/storefault.test against a running
wiresyncd (WS_ADDR, WS_PKI, WS_PY as for grpc_client.py; WS_DB its database, WS_LOG its
log, WS_CA the path of wiresync-ca; presence_grace_ms 500, crl = network a's ca.crl). The fault is real: another SQLite connection holds the write
lock (BEGIN IMMEDIATE), so the server's BEGIN IMMEDIATE fails with SQLITE_BUSY after its
5 s busy timeout and the whole batch is rolled back. The lock holder never writes.

    A. alice opens a Watch while the store is locked: the online change is in a failed
       batch. Once the lock is gone alice must be online (dave's Watch sees it, GetPeer says
       so) within 10 s.
    B. alice's Watch ends while the store is locked: the offline change fails, and must be
       written once the lock is gone.
    C. alice's Watch ends, the offline change fails, and alice watches again before the
       store works: the retried change is the truth at retry time (online), not the stale
       offline.
    D. `wiresync-ca revoke bob` while the store is locked: the server sees the CRL file
       change and removes bob in a batch that fails; once the lock is gone bob must be
       removed (dave's Watch sees it, GetPeer says NOT_FOUND).
Ends with "N passed, M failed" and exits non-zero on failure.
"""

import os
import sqlite3
import subprocess
import time

import grpc_client as gc
from grpc_client import Checks, Client, Watcher, grpc

DB = os.environ["WS_DB"]
LOG = os.environ["WS_LOG"]
ck = Checks()


def log_lines():
    with open(LOG, errors="replace") as f:
        return f.read().splitlines()


def wait_log(mark, needle, seconds):
    """True once a line after line `mark` of the server log contains needle."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(needle in line for line in log_lines()[mark:]):
            return True
        time.sleep(0.05)
    return False


class Lock:
    """Holds the store's write lock from a second connection until release()."""

    def __init__(self):
        self.db = sqlite3.connect(DB, isolation_level=None, timeout=10)
        self.db.execute("BEGIN IMMEDIATE")

    def release(self):
        self.db.execute("ROLLBACK")
        self.db.close()


class Follower:
    """dave's Watch, opened again from its last revision if the server ends it (a GOAWAY
    is not what this test is about)."""

    def __init__(self):
        self.rev = 0
        self.ends = []
        self.w = Watcher(Client("dave"))

    def wait_for(self, pred, seconds):
        seen = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ev, got = self.w.wait_for(pred, deadline - time.monotonic())
            for e in got:
                if isinstance(e, tuple):
                    self.ends.append(e)
                elif e.WhichOneof("event") in ("snapshot", "upsert", "removed_key"):
                    self.rev = max(self.rev, e.revision)
            seen += got
            if ev is not None:
                return ev, seen
            if self.w.ended is None:
                break
            self.w = Watcher(Client("dave"), since=self.rev)
        return None, seen

    def close(self):
        self.w.close()


def alice_online_event(w, want, seconds):
    """The first upsert of alice with online == want on w, or None; and what was seen."""
    key = gc.key_of("alice")
    return w.wait_for(lambda e: e.WhichOneof("event") == "upsert" and
                      e.upsert.public_key == key and e.upsert.online == want, seconds)


def poll(fn, seconds):
    deadline = time.monotonic() + seconds
    while not fn():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def online(dave):
    return dave.peer("alice").online


def has_peer(client, name):
    try:
        client.peer(name)
    except grpc.RpcError as e:
        if e.code() == grpc.StatusCode.NOT_FOUND:
            return False
        raise
    return True


def fail_one_batch(what, action):
    """Locks the store, runs action, waits for the failed commit; returns the lock."""
    mark = len(log_lines())
    lock = Lock()
    action()
    failed = wait_log(mark, "begin: database is locked", 15)
    ck.check(failed, "%s: the batch fails (SQLITE_BUSY while another connection holds the "
             "write lock)" % what)
    ck.check(wait_log(mark, "presence and revocation changes are written again", 2),
             "%s: the server says the presence change will be written again" % what)
    return lock, mark


def main():
    alice, dave = Client("alice"), Client("dave")
    alice.up(listen_port=51820, lan_ips=["192.168.1.10"], lan_id=gc.LAN_A)
    dave.up(listen_port=51822, lan_ips=["10.20.0.4"], lan_id=gc.LAN_D)
    dw = Follower()
    dw.wait_for(lambda e: e.WhichOneof("event") == "snapshot", 5)
    ck.check(not online(dave), "before: alice has reported but holds no Watch: offline")

    # A. online in a failed batch
    aw = []
    lock, _ = fail_one_batch("A", lambda: aw.append(Watcher(alice)))
    t = time.monotonic()
    lock.release()
    ev, seen = alice_online_event(dw, True, 10)
    took = time.monotonic() - t
    ck.check(ev is not None, "A: dave's Watch sees alice online after the store works again "
             "(%.2f s after the lock was released; 10 s allowed)" % took, gc.describe(seen))
    ck.check(poll(lambda: online(dave), 2), "A: GetPeer says alice is online")

    # B. offline in a failed batch (presence_grace_ms 500)
    def end_watch():
        aw[0].close()
    lock, _ = fail_one_batch("B", end_watch)
    t = time.monotonic()
    lock.release()
    ev, seen = alice_online_event(dw, False, 10)
    took = time.monotonic() - t
    ck.check(ev is not None, "B: dave's Watch sees alice offline after the store works again "
             "(%.2f s after the lock was released; 10 s allowed)" % took, gc.describe(seen))
    ck.check(poll(lambda: not online(dave), 2), "B: GetPeer says alice is offline")

    # C. the retry writes what is true when it runs
    aw = [Watcher(alice)]
    ck.check(alice_online_event(dw, True, 10)[0] is not None, "C: alice watches again: online")
    lock, mark = fail_one_batch("C", end_watch)
    aw = [Watcher(alice)]
    ck.check(wait_log(mark, "alice: Watch from revision", 15),
             "C: alice watches again while the store still fails")
    lines = log_lines()
    watched = mark + next((i for i, line in enumerate(lines[mark:])
                           if "alice: Watch from revision" in line), 0)
    lock.release()
    # the kept change is queued again after alice's Watch (it cannot commit before the lock
    # is gone); an Update acknowledged after that means it has been written
    ck.check(wait_log(watched, "presence and revocation changes again", 10),
             "C: the kept change is written again after alice watches again")
    dave.up(listen_port=51823, lan_ips=["10.20.0.4"], lan_id=gc.LAN_D)
    ev, seen = alice_online_event(dw, False, 1)
    ck.check(ev is None, "C: the retried change does not mark alice offline while she watches",
             gc.describe(seen))
    ck.check(online(dave), "C: GetPeer says alice is online")

    # D. the removal of a revoked peer, in a failed batch
    bob = Client("bob")
    bob.up(listen_port=51821, lan_ips=["192.168.1.11"], lan_id=gc.LAN_A)
    ck.check(has_peer(dave, "bob"), "D: bob has reported")
    mark = len(log_lines())
    lock = Lock()
    r = subprocess.run(["sh", os.environ["WS_CA"], "-d", os.path.join(gc.PKI, "a"), "revoke",
                        "bob"], capture_output=True, text=True)
    ck.check(r.returncode == 0, "D: wiresync-ca revoke bob", r.stderr)
    ck.check(wait_log(mark, "begin: database is locked", 15),
             "D: the batch with bob's removal fails")
    ck.check(wait_log(mark, "presence and revocation changes are written again", 2),
             "D: the server says the removal will be written again")
    t = time.monotonic()
    lock.release()
    ev, seen = dw.wait_for(lambda e: e.WhichOneof("event") == "removed_key" and
                           e.removed_key == gc.key_of("bob"), 10)
    ck.check(ev is not None, "D: dave's Watch sees revoked bob removed once the store works "
             "(%.2f s after the lock was released; 10 s allowed)" % (time.monotonic() - t),
             gc.describe(seen))
    ck.check(poll(lambda: not has_peer(dave, "bob"), 2), "D: GetPeer: bob is gone")
    aw[0].close()
    dw.close()
    return ck.done()


if __name__ == "__main__":
    raise SystemExit(main())
