"""The pairing policy as a stock gRPC client (python3-grpcio) sees it: test/policy.test's
checks. WS_ADDR, WS_PKI (whose a/ is the test's CA directory), WS_POLICY (the policy.cms in force),
WS_PY as for grpc_client.py.

Modes:
  view NAME=PEER,PEER... ...   each NAME (after an Update) sees exactly those peers in Keys,
                               its Watch snapshot and GetPeer (the others NOT_FOUND); its
                               first Watch event is the policy, equal to WS_POLICY's bytes
  follow NAME PEER,PEER... SECONDS
                               NAME watches; the test replaces the policy when this prints
                               "# watching"; within SECONDS a policy event and a snapshot of
                               exactly those peers arrive
"""

import os
import sys
import time

import grpc_client as gc
from grpc_client import pb

HOSTS = ["s1", "s2", "l1", "phone", "nas"]
for _h in HOSTS:
    gc.NETS[_h] = "a"
ALL = set(HOSTS)


def names_of(keys):
    back = {gc.key_of(h): h for h in HOSTS}
    return {back.get(k, "?") for k in keys}


def policy_bytes():
    return gc.read(os.environ["WS_POLICY"])


def view(c, name, want):
    cl = gc.Client(name)
    try:
        _, ks = cl.keyset()
        got = names_of(ks)
        c.check(got == want, "%s: Keys shows exactly %s" % (name, sorted(want)),
                "got %s" % sorted(got))
        for other in sorted(ALL - {name}):
            if other in want:
                try:
                    cl.peer(other)
                    c.check(True, "%s: GetPeer %s found" % (name, other))
                except gc.grpc.RpcError as e:
                    c.check(False, "%s: GetPeer %s found" % (name, other), e.details())
            else:
                c.code(gc.grpc.StatusCode.NOT_FOUND, lambda o=other: cl.peer(o),
                       "%s: GetPeer %s NOT_FOUND (not paired)" % (name, other))
        w = gc.Watcher(cl)
        first = w.get()
        c.check(first is not None and first[0] == "event" and first[1].WhichOneof("event") == "policy"
                and first[1].policy == policy_bytes(),
                "%s: the Watch stream starts with the signed policy" % name, gc.short(first))
        snap, _ = w.wait_for(lambda e: e.WhichOneof("event") == "snapshot")
        got = names_of(p.public_key for p in snap.snapshot.peers) if snap else None
        c.check(got == want, "%s: Watch snapshot holds exactly %s" % (name, sorted(want)),
                "got %s" % (sorted(got) if got is not None else "no snapshot"))
        w.close()
        # one that holds this very policy is not sent it again
        w = gc.Watcher(cl, request=pb.WatchRequest(
            policy_sha256=__import__("hashlib").sha256(policy_bytes()).digest()))
        evs = w.events(1.0)
        c.check(evs and all(e.WhichOneof("event") != "policy" for e in evs),
                "%s: holding the policy, the stream does not repeat it" % name,
                gc.short([e.WhichOneof("event") for e in evs]))
        w.close()
    finally:
        cl.close()


def follow(c, name, want, seconds):
    cl = gc.Client(name)
    try:
        w = gc.Watcher(cl)
        w.wait_for(lambda e: e.WhichOneof("event") == "snapshot")
        print("# watching", flush=True)
        t0 = time.monotonic()
        pol, _ = w.wait_for(lambda e: e.WhichOneof("event") == "policy", seconds)
        c.check(pol is not None and pol.policy == policy_bytes(),
                "%s: the new policy arrives on the open stream" % name)
        snap, _ = w.wait_for(lambda e: e.WhichOneof("event") == "snapshot", seconds)
        got = names_of(p.public_key for p in snap.snapshot.peers) if snap else None
        c.check(got == want, "%s: then a snapshot of exactly %s" % (name, sorted(want)),
                "got %s" % (sorted(got) if got is not None else "none"))
        if snap is not None:
            print("# %s saw the new policy's peers %.2f s after the file was replaced"
                  % (name, time.monotonic() - t0), flush=True)
        w.close()
    finally:
        cl.close()


def main():
    c = gc.Checks()
    mode = sys.argv[1]
    if mode == "view":
        for h in HOSTS:      # everyone reports first, so each view has all to filter
            cl = gc.Client(h)
            cl.up(listen_port=51820)
            cl.close()
        for arg in sys.argv[2:]:
            name, _, peers = arg.partition("=")
            view(c, name, set(p for p in peers.split(",") if p))
    elif mode == "follow":
        follow(c, sys.argv[2], set(p for p in sys.argv[3].split(",") if p), float(sys.argv[4]))
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
