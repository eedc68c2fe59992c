#!/usr/bin/python3
"""CRLs of several networks, and stale ones, driven by test/crlnets.test against a running
wiresyncd whose ca is the bundle of networks a and b and whose crl (WS_CRL) holds both
CAs' CRLs (WS_ADDR, WS_PKI, WS_PY as for grpc_client.py; WS_CA is wiresync-ca's path).
dave (a) and erin (b) are revoked; gina is a second host of b.

    crl.py --nets          each network's watcher gets its own CA's CRL, and only that;
                           agents of both networks are admitted, the revoked ones refused
    --revoke-b NAME        NAME (of b) revoked live: b's watchers get b's new CRL, a's get
                           nothing, NAME is cut off
    --stale-keep           a's CRL is past its nextUpdate (crl_stale = keep): new
                           connections of both networks are admitted, dave still refused
    --refuse               crl_stale = refuse: a's CRL goes stale; a connection opened
                           before keeps working, a new one of network a gets UNAVAILABLE
                           naming crl_stale, b is not affected, dave is refused; a renewed
                           CRL lets new connections in again
Each mode ends with "N passed, M failed" and exits non-zero on failure.
"""

import os
import subprocess
import sys
import time

import grpc
import grpc_client as gc
from grpc_client import Client, Watcher

CK = gc.Checks()
check = CK.check

gc.NETS.update({"erin": "b", "gina": "b"})
CRL = os.environ.get("WS_CRL", "")
CA = os.environ.get("WS_CA", "")


def der(net):
    return gc.crl_der(os.path.join(gc.PKI, net))


def ca(net, *args):
    subprocess.run(["sh", CA, "-d", os.path.join(gc.PKI, net)] + list(args), check=True,
                   capture_output=True)


def install():
    """Both CAs' CRLs into the server's crl file, in one rename."""
    tmp = CRL + ".new"
    with open(tmp, "wb") as f:
        for net in ("a", "b"):
            f.write(open(os.path.join(gc.PKI, net, "ca.crl"), "rb").read())
    os.rename(tmp, CRL)


def crl_events(w, seconds):
    return [ev.crl for ev in w.events(seconds) if ev.WhichOneof("event") == "crl"]


def at_tls(ok, why):
    """Refused at the TLS handshake (the server logs why; grpcio says UNAVAILABLE)."""
    return not ok and why.startswith("UNAVAILABLE") and "crl_stale" not in why


def update(name, port):
    """(True, "") when name's new connection gets its Update through, else (False, why)."""
    c = Client(name)
    try:
        c.up(listen_port=port)
        return True, ""
    except grpc.RpcError as e:
        return False, "%s: %s" % (e.code().name, e.details())
    finally:
        c.close()


def mode_nets():
    alice, carol = Client("alice"), Client("carol")
    alice.up(listen_port=52001)
    carol.up(listen_port=52002)
    check(True, "agents of both networks (alice of a, carol of b) are admitted and Update")
    wa, wc = Watcher(alice), Watcher(carol)
    ea, ec = crl_events(wa, 2.0), crl_events(wc, 2.0)
    check(ea == [der("a")], "network a's watcher gets a's CRL and only that",
          "%d CRL events" % len(ea))
    check(ec == [der("b")], "network b's watcher gets b's CRL and only that",
          "%d CRL events" % len(ec))
    wa.close()
    wc.close()
    for name, net in (("dave", "a"), ("erin", "b")):
        ok, why = update(name, 52003)
        check(at_tls(ok, why), "%s, revoked in %s's CRL, is refused" % (name, net),
              why)
    alice.close()
    carol.close()


def mode_revoke_b(name):
    alice, gina = Client("alice"), Client("gina")
    alice.up(listen_port=52011)
    gina.up(listen_port=52012)
    wa, wg = Watcher(alice), Watcher(gina)
    crl_events(wa, 1.0)
    crl_events(wg, 1.0)
    ca("b", "revoke", name)
    install()
    eg = crl_events(wg, 4.0)
    ea = crl_events(wa, 0.5)
    check(eg == [der("b")], "b's watcher gets b's new CRL once", "%d CRL events" % len(eg))
    check(ea == [], "a's watcher gets no CRL event: a's CRL did not change",
          "%d CRL events" % len(ea))
    ok, why = update(name, 52013)
    check(at_tls(ok, why), "%s, revoked now, is refused" % name, why)
    ok, why = update("alice", 52014)
    check(ok, "alice (network a) is still admitted", why)
    wa.close()
    wg.close()
    alice.close()
    gina.close()


def mode_stale_keep():
    for name, port in (("alice", 52021), ("gina", 52022)):
        ok, why = update(name, port)
        check(ok, "a's CRL stale, crl_stale = keep: %s's new connection is admitted" % name, why)
    ok, why = update("dave", 52023)
    check(at_tls(ok, why), "a's CRL stale: dave is still refused (revoked)", why)


def poll(fn, seconds):
    deadline = time.monotonic() + seconds
    while True:
        r = fn()
        if r[0] or time.monotonic() >= deadline:
            return r
        time.sleep(0.2)


def mode_refuse():
    early = Client("alice")
    early.up(listen_port=52031)
    check(True, "alice connects while a's CRL is fresh")
    ca("a", "crl", "--crl-seconds", "1")
    time.sleep(2)       # past its nextUpdate before the server even reads it
    install()
    refused = lambda: (lambda r: (not r[0] and "crl_stale = refuse" in r[1], r[1]))(
        update("alice", 52032))
    ok, why = poll(refused, 10)
    check(ok and "UNAVAILABLE" in why and "wiresync-ca -d DIR crl" in why,
          "a's CRL stale, crl_stale = refuse: alice's new connection gets UNAVAILABLE naming "
          "crl_stale and the renewing command", why)
    try:
        early.up(listen_port=52033)
        check(True, "the connection alice opened before keeps working")
    except grpc.RpcError as e:
        check(False, "the connection alice opened before keeps working", e.details())
    ok, why = update("gina", 52034)
    check(ok, "network b (its CRL fresh) is admitted", why)
    ok, why = update("dave", 52035)
    check(at_tls(ok, why), "dave is refused (revoked)", why)
    early.close()
    ca("a", "crl")
    install()
    ok, why = poll(lambda: update("alice", 52036), 10)
    check(ok, "a renewed CRL admits alice's new connections again", why)


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    modes = {"--nets": mode_nets, "--revoke-b": lambda: mode_revoke_b(sys.argv[2]),
             "--stale-keep": mode_stale_keep, "--refuse": mode_refuse}
    if mode not in modes:
        print("usage: crl.py --nets | --revoke-b NAME | --stale-keep | --refuse")
        sys.exit(2)
    try:
        modes[mode]()
    except grpc.RpcError as e:
        check(False, "%s: a call that must succeed failed" % mode,
              "%s: %s" % (e.code().name, e.details()))
    sys.exit(CK.done())


if __name__ == "__main__":
    main()
