#!/usr/bin/python3
"""Hosts under an online issuer (issue 13) against the real wiresyncd, with python3-grpcio.
Run by test/issuer.test, which made the issuer with wiresync-ca issuer and signed with its
key erin (10.9.1.5: its certificate file is leaf + issuer), erinleaf (the same leaf, no
issuer in the file) and far (10.10.0.5, outside the issuer's ranges), all in WS_PKI/a.

    WS_ADDR=... WS_PKI=DIR WS_PY=DIR python3 test/issuer_client.py MODE

Modes:
    --chain      erin connects and Updates; alice's Watch and GetPeer carry erin's chain
                 (the issuer), which verifies root -> issuer -> erin; bob's has none;
                 erinleaf and far are refused
    --restarted  after a restart: erin's record still carries the chain; erin Updates and
                 watches; then wiresync-ca revoke ISSUER (WS_CA, WS_ISSUER) and SIGHUP
                 (WS_SERVER_PID) cut erin off and remove its record; alice and bob stay
"""

import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time

import grpc_client
from grpc_client import (EVENT_WAIT, PKI, TIMEOUT, Checks, Client, Watcher, describe, grpc,
                         health_pb2, key_of, pb)

grpc_client.NETS.update({"erin": "a", "erinleaf": "a", "far": "a"})
A = os.path.join(PKI, "a")


def pem_der(path):
    """The DER of each certificate of a PEM file, in order."""
    with open(path) as f:
        text = f.read()
    out, end = [], "-----END CERTIFICATE-----"
    while "-----BEGIN CERTIFICATE-----" in text:
        block, text = text.split(end, 1)
        out.append(ssl.PEM_cert_to_DER_cert(block[block.index("-----BEGIN"):] + end + "\n"))
    return out


ISSUER_DER = pem_der(os.path.join(A, os.environ.get("WS_ISSUER", "online") + ".crt"))[0]


def openssl_verify(rec):
    """openssl verify of a record's certificate through its chain, against the root."""
    with tempfile.TemporaryDirectory() as d:
        leaf, chain = os.path.join(d, "leaf.pem"), os.path.join(d, "chain.pem")
        with open(leaf, "w") as f:
            f.write(ssl.DER_cert_to_PEM_cert(rec.certificate))
        with open(chain, "w") as f:
            f.write("".join(ssl.DER_cert_to_PEM_cert(c) for c in rec.chain))
        args = ["openssl", "verify", "-purpose", "sslclient", "-CAfile",
                os.path.join(A, "ca.crt")]
        if rec.chain:
            args += ["-untrusted", chain]
        out = subprocess.run(args + [leaf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return out.returncode == 0, out.stdout.decode(errors="replace")


def attempt(ck, what, fn):
    try:
        return fn()
    except grpc.RpcError as e:
        ck.check(False, what, "%s %r" % (e.code().name, e.details()))
        return None


def refused(ck, name, what):
    c = Client(name)
    ck.code(grpc.StatusCode.UNAVAILABLE,
            lambda: c.health(health_pb2.HealthCheckRequest(), timeout=3, wait_for_ready=False),
            what)
    c.close()


def mode_chain():
    ck = Checks()
    alice, erin, bob = Client("alice"), Client("erin"), Client("bob")
    if attempt(ck, "bob updates", lambda: bob.up(listen_port=52003)) is None:
        return ck.done()
    wa = Watcher(alice)
    first = wa.get(EVENT_WAIT)
    ck.check(first is not None and first[0] == "event", "alice's Watch starts", str(first))
    r = attempt(ck, "erin (under the issuer, chain in its certificate file) Updates",
                lambda: erin.up(listen_port=52005, lan_ips=["192.168.5.5"]))
    if r is None:
        return ck.done()
    ck.check(r.revision > 0, "erin's Update is stored (revision %d)" % r.revision)
    got, seen = wa.wait_for(lambda e: e.WhichOneof("event") == "upsert"
                            and e.upsert.public_key == key_of("erin"))
    if ck.check(got is not None, "alice's Watch gets erin's record", "saw " + describe(seen)):
        rec = got.upsert
        ck.check(list(rec.chain) == [ISSUER_DER], "the Watch record's chain is the issuer",
                 "%d entries" % len(rec.chain))
        ok, out = openssl_verify(rec)
        ck.check(ok, "the Watch record verifies root -> issuer -> erin (openssl verify)", out)
        ck.check(rec.certificate == pem_der(os.path.join(A, "erin.crt"))[0],
                 "the record's certificate is erin's leaf alone")
    wa.close()
    p = attempt(ck, "GetPeer(erin)", lambda: alice.peer("erin"))
    if p is not None:
        ck.check(list(p.chain) == [ISSUER_DER], "GetPeer(erin) carries the chain")
        ck.check(list(p.tunnel_ips) == ["10.9.1.5/32"], "erin's tunnel address is its "
                 "certificate's", str(list(p.tunnel_ips)))
    p = attempt(ck, "GetPeer(bob)", lambda: alice.peer("bob"))
    if p is not None:
        ck.check(len(p.chain) == 0, "bob's record (signed by the root) has no chain")
        ok, out = openssl_verify(p)
        ck.check(ok, "bob's record verifies against the root alone", out)
    # a snapshot carries it too
    wb = Watcher(bob)
    got, seen = wb.wait_for(lambda e: e.WhichOneof("event") == "snapshot")
    if ck.check(got is not None, "bob's Watch starts with a snapshot", "saw " + describe(seen)):
        e = [q for q in got.snapshot.peers if q.public_key == key_of("erin")]
        ck.check(len(e) == 1 and list(e[0].chain) == [ISSUER_DER],
                 "bob's snapshot has erin with the chain")
    wb.close()
    refused(ck, "erinleaf", "erin's leaf without the issuer in its file is refused")
    refused(ck, "far", "a host the issuer signed outside its IP ranges is refused")
    ck.code(grpc.StatusCode.NOT_FOUND, lambda: alice.peer("far"), "far was not stored")
    for c in (alice, erin, bob):
        c.close()
    return ck.done()


def mode_restarted():
    ck = Checks()
    ca, issuer = os.environ["WS_CA"], os.environ.get("WS_ISSUER", "online")
    pid = int(os.environ["WS_SERVER_PID"])
    alice, erin = Client("alice"), Client("erin")
    p = attempt(ck, "GetPeer(erin) after the restart", lambda: alice.peer("erin"))
    if p is None:
        return ck.done()
    ck.check(list(p.chain) == [ISSUER_DER], "erin's stored record kept its chain across "
             "the restart")
    if attempt(ck, "erin Updates after the restart",
               lambda: erin.up(listen_port=52006, lan_ips=["192.168.5.5"])) is None:
        return ck.done()
    wa = Watcher(alice)
    wa.get(EVENT_WAIT)
    we = Watcher(erin)
    first = we.get(EVENT_WAIT)
    ck.check(first is not None and first[0] == "event", "erin's Watch is open")
    out = subprocess.run(["sh", ca, "-d", A, "revoke", issuer], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    if not ck.check(out.returncode == 0, "wiresync-ca revoke %s" % issuer,
                    out.stdout.decode(errors="replace")):
        return ck.done()
    os.kill(pid, signal.SIGHUP)
    _, seen = we.wait_for(lambda e: False)
    ck.check(any(isinstance(s, tuple) for s in seen), "erin's open Watch is ended after "
             "SIGHUP", "saw " + describe(seen))
    got, seen = wa.wait_for(lambda e: e.WhichOneof("event") == "removed_key"
                            and e.removed_key == key_of("erin"))
    ck.check(got is not None, "alice's Watch gets removed_key for erin", "saw " + describe(seen))
    e2 = Client("erin")
    ck.code(grpc.StatusCode.UNAVAILABLE,
            lambda: e2.health(health_pb2.HealthCheckRequest(), timeout=3, wait_for_ready=False),
            "a new connection of erin (its issuer revoked) is refused")
    e2.close()
    ck.code(grpc.StatusCode.NOT_FOUND, lambda: alice.peer("erin"), "GetPeer(erin) is NOT_FOUND")
    r = attempt(ck, "Keys", lambda: alice.keyset()[1])
    if r is not None:
        ck.check(key_of("erin") not in r and key_of("bob") in r,
                 "Keys lists bob (the root's) but not erin")
    r = attempt(ck, "alice is still served",
                lambda: alice.health(health_pb2.HealthCheckRequest(), timeout=TIMEOUT))
    if r is not None:
        ck.check(r.status == health_pb2.HealthCheckResponse.SERVING, "alice is still served")
    wa.close()
    we.close()
    alice.close()
    erin.close()
    return ck.done()


def main(argv):
    modes = {"--chain": mode_chain, "--restarted": mode_restarted}
    if len(argv) != 2 or argv[1] not in modes:
        print(__doc__, file=sys.stderr)
        return 2
    t0 = time.monotonic()
    r = modes[argv[1]]()
    print("# %s took %.1f s" % (argv[1], time.monotonic() - t0))
    return r


if __name__ == "__main__":
    sys.exit(main(sys.argv))
