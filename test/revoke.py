#!/usr/bin/python3
"""Revocation that bites, driven by test/revoke.test against a running wiresyncd whose
crl is network a's ca.crl (WS_ADDR, WS_PKI, WS_PY as for grpc_client.py; WS_CA is the path
of wiresync-ca). No SIGHUP anywhere: the server must notice the CRL file itself.

    revoke.py --crl-event     the CRL reaches watchers after the snapshot, and not again
                              when the watcher says it holds the same one
    --revoke-live NAME        NAME holds a Watch; `wiresync-ca revoke NAME` alone cuts it off,
                              removes it from a watcher's view and relays the new CRL
Each mode ends with "N passed, M failed" and exits non-zero on failure.
"""

import hashlib
import os
import subprocess
import sys
import time

import grpc_client as gc
from grpc_client import Client, Watcher, key_of, pb

CK = gc.Checks()
check = CK.check

CA_DIR = os.path.join(gc.PKI, "a")


def crl_der():
    return gc.crl_der(CA_DIR)


def is_crl(ev):
    return ev.WhichOneof("event") == "crl"


def mode_crl_event():
    bob = Client("bob")
    bob.up(listen_port=51000)
    w = Watcher(bob)
    evs = w.events(1.5)
    kinds = [e.WhichOneof("event") for e in evs]
    check(kinds[:2] == ["snapshot", "crl"], "a new watcher gets the snapshot, then the CRL",
          kinds)
    der = crl_der()
    check(len(evs) > 1 and is_crl(evs[1]) and evs[1].crl == der,
          "the CRL event carries the CA's CRL byte for byte (%d bytes)" % len(der))
    w.close()
    # the watcher says which CRL it holds: the same one is not sent again
    w2 = Watcher(bob, request=pb.WatchRequest(crl_sha256=hashlib.sha256(der).digest()))
    kinds = [e.WhichOneof("event") for e in w2.events(1.5)]
    check(kinds == ["snapshot"], "a watcher holding that CRL (crl_sha256) gets no CRL event",
          kinds)
    w2.close()
    bob.close()


def mode_revoke_live(name):
    victim = Client(name)
    victim.up(listen_port=51004)
    vw = Watcher(victim)
    bob = Client("bob")
    bob.up(listen_port=51003)
    bw = Watcher(bob)
    bw.events(1.0)                   # snapshot and CRL
    first = vw.get(3)
    check(first is not None and first[0] == "event", name + " is watching")
    r = subprocess.run(["sh", os.environ["WS_CA"], "-d", CA_DIR, "revoke", name],
                       capture_output=True, text=True)
    t0 = time.monotonic()
    check(r.returncode == 0, "wiresync-ca revoke " + name, r.stderr)
    key = key_of(name)
    removed = crl = None
    deadline = t0 + 10
    while (removed is None or crl is None) and time.monotonic() < deadline:
        item = bw.get(deadline - time.monotonic())
        if item is None or item[0] == "end":
            break
        ev = item[1]
        if ev.WhichOneof("event") == "removed_key" and ev.removed_key == key:
            removed = time.monotonic() - t0
        if is_crl(ev):
            crl = ev.crl
    check(removed is not None, "bob's Watch gets %s's removal without any SIGHUP (%.0f ms "
          "after the CRL was written)" % (name, (removed or 0) * 1000))
    check(crl == crl_der(), "bob's Watch gets the new CRL, byte for byte")
    end = None
    deadline = time.monotonic() + 5
    while end is None and time.monotonic() < deadline:
        item = vw.get(deadline - time.monotonic())
        if item is not None and item[0] == "end":
            end = item
    check(end is not None and end[1] == gc.grpc.StatusCode.UNAVAILABLE,
          name + "'s own Watch is cut off (UNAVAILABLE)", end)
    victim.close()
    again = Client(name)
    try:
        again.up(listen_port=51005)
        check(False, name + " cannot reconnect after its revocation")
    except gc.grpc.RpcError as e:
        check(e.code() == gc.grpc.StatusCode.UNAVAILABLE,
              name + " cannot reconnect after its revocation (%s)" % e.code())
    again.close()
    r, ks = bob.keyset()
    check(key not in ks, name + " is gone from the store (Keys)")
    bw.close()
    bob.close()


def main(argv):
    mode = argv[1] if len(argv) > 1 else ""
    if mode == "--crl-event":
        mode_crl_event()
    elif mode == "--revoke-live" and len(argv) > 2:
        mode_revoke_live(argv[2])
    else:
        print("usage: revoke.py --crl-event | --revoke-live NAME", file=sys.stderr)
        return 2
    return CK.done()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
