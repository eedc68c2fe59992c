#!/usr/bin/python3
"""Joining (issue 13) against a running wiresyncd, with python3-grpcio's defaults.

Run by test/enroll.test:

    WS_ADDR=127.0.0.1:PORT WS_ENROLL=127.0.0.1:EPORT WS_PKI=DIR WS_PY=DIR WS_TMP=DIR \
        WS_CA_SCRIPT=certs/wiresync-ca /usr/bin/python3 test/enroll_client.py

WS_ADDR is the mutual-TLS listener, WS_ENROLL the join listener (enroll_listen); the server
has `pool = neta 10.9.0.0/24, fd00:9::/64` and `pool = netb 10.8.0.0/24`. A host on the join
listener trusts the CA only and holds no certificate. Ends with "N passed, M failed".
"""

import base64
import hashlib
import os
import subprocess
import sys
import time

import grpc_client as gc
from grpc_client import Checks, Client, grpc, pb

import admin_pb2 as apb  # noqa: E402
import enroll_pb2 as epb  # noqa: E402

ENROLL = os.environ["WS_ENROLL"]
TMP = os.environ["WS_TMP"]
CA_SCRIPT = os.environ["WS_CA_SCRIPT"]
CA_DIR = os.path.join(gc.PKI, "a")
T = gc.TIMEOUT
ADMIN = "/wiresync.v1.Admin/"
JOIN = "/wiresync.v1.Enroll/Join"
C = Checks()


def enroll_channel():
    creds = grpc.ssl_channel_credentials(root_certificates=gc.root_ca())
    return grpc.secure_channel(ENROLL, creds, options=[("grpc.use_local_subchannel_pool", 1)])


def method(ch, path, req_cls, rep_cls):
    return ch.unary_unary(path, request_serializer=req_cls.SerializeToString,
                          response_deserializer=rep_cls.FromString)


def csr(name, curve="P-256", cn=None):
    """A CSR (DER) with a fresh key of curve ("rsa": RSA 2048); the key file stays in TMP."""
    key = os.path.join(TMP, "%s.key" % name)
    out = os.path.join(TMP, "%s.csr" % name)
    alg = ["-newkey", "rsa:2048"] if curve == "rsa" else \
        ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:" + curve]
    subprocess.run(["openssl", "req", "-new", "-nodes", "-keyout", key, "-subj",
                    "/CN=" + (cn or name), "-outform", "DER", "-out", out] + alg,
                   check=True, capture_output=True)
    with open(out, "rb") as f:
        return f.read()


def csr_long_cn():
    """A P-256 CSR whose CN is 70 characters (past X.509's 64), or None without
    python3-cryptography."""
    try:
        import warnings
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "a" * 70, _validate=False)])
        req = x509.CertificateSigningRequestBuilder().subject_name(name).sign(
            ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    return req.public_bytes(serialization.Encoding.DER)


def wgkey(seed):
    return hashlib.sha256(b"wg" + seed.encode()).digest()


def code_of(der):
    """The code the server must derive: 40 bits of SHA-256(CSR), base32, ABCD-EFGH."""
    c = base64.b32encode(hashlib.sha256(der).digest()[:5]).decode()
    return c[:4] + "-" + c[4:]


def sign(name, der, key, ips, tag):
    """wiresync-ca agent NAME --csr FILE --key KEY --ip ... --force; the certificate, DER."""
    path = os.path.join(TMP, "%s-%s.csr" % (name, tag))
    with open(path, "wb") as f:
        f.write(der)
    args = ["sh", CA_SCRIPT, "-d", CA_DIR, "agent", name, "--csr", path, "--key",
            base64.b64encode(key).decode(), "--force"]
    for ip in ips:
        args += ["--ip", ip]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("wiresync-ca failed: " + r.stdout + r.stderr)
    return subprocess.run(["openssl", "x509", "-in", os.path.join(CA_DIR, name + ".crt"),
                           "-outform", "DER"], check=True, capture_output=True).stdout


def failed(fn):
    """(code, details) of a call that must fail; (OK, reply) when it did not."""
    try:
        return grpc.StatusCode.OK, fn()
    except grpc.RpcError as e:
        return e.code(), e.details() or ""


def expect(fn, code, words, what):
    got, detail = failed(fn)
    ok = got == code and all(w in str(detail) for w in words)
    return C.check(ok, what, "got %s %r" % (got.name, gc.short(detail)))


def main():
    ech = enroll_channel()
    join = method(ech, JOIN, epb.JoinRequest, epb.JoinReply)
    op = Client("op").channel
    list_pending = method(op, ADMIN + "ListPending", apb.ListPendingRequest, apb.ListPendingReply)
    prepare = method(op, ADMIN + "PrepareApproval", apb.PrepareApprovalRequest,
                     apb.PrepareApprovalReply)
    approve = method(op, ADMIN + "Approve", apb.ApproveRequest, apb.ApproveReply)
    deny = method(op, ADMIN + "Deny", apb.DenyRequest, apb.DenyReply)
    list_peers = method(op, ADMIN + "ListPeers", apb.ListPeersRequest, apb.ListPeersReply)

    # alice is an enrolled (stored) peer: her name and key are taken
    Client("alice").up(listen_port=51820)
    before = list_peers(apb.ListPeersRequest(), timeout=T)

    # ---- a join request, resumed
    h1 = csr("host1")
    k1 = wgkey("host1")
    expect(lambda: join(epb.JoinRequest(csr=h1, public_key=k1), timeout=T),
           grpc.StatusCode.FAILED_PRECONDITION, ["network:", "several"],
           "network \"\" on a server with two pools: FAILED_PRECONDITION naming network")
    r1 = join(epb.JoinRequest(csr=h1, public_key=k1, network="neta"), timeout=T)
    C.check(r1.state == epb.JOIN_WAITING and r1.id > 0 and r1.code == code_of(h1),
            "Join: WAITING with an id and the code of the CSR (%s)" % code_of(h1), str(r1))
    again = join(epb.JoinRequest(csr=h1, public_key=k1, network="neta"), timeout=T)
    C.check(again.id == r1.id and again.code == r1.code and again.state == epb.JOIN_WAITING,
            "the same Join again resumes the same request", str(again))
    expect(lambda: join(epb.JoinRequest(csr=h1, public_key=wgkey("x"), network="neta"),
                        timeout=T), grpc.StatusCode.FAILED_PRECONDITION, ["public_key:"],
           "the same CSR with another key: FAILED_PRECONDITION naming public_key")

    # ---- bad requests: nothing kept
    n_before = len(list_pending(apb.ListPendingRequest(), timeout=T).pending)
    bad = bytearray(csr("badsig"))
    bad[-3] ^= 0x55
    expect(lambda: join(epb.JoinRequest(csr=bytes(bad), public_key=wgkey("b1"),
                                        network="neta"), timeout=T),
           grpc.StatusCode.INVALID_ARGUMENT, ["csr:"], "a CSR with a bad signature: "
           "INVALID_ARGUMENT naming csr")
    expect(lambda: join(epb.JoinRequest(csr=csr("p384", "P-384"), public_key=wgkey("b2"),
                                        network="neta"), timeout=T),
           grpc.StatusCode.INVALID_ARGUMENT, ["csr:", "P-256"], "a P-384 key: "
           "INVALID_ARGUMENT naming csr and P-256")
    expect(lambda: join(epb.JoinRequest(csr=csr("rsa", "rsa"), public_key=wgkey("b3"),
                                        network="neta"), timeout=T),
           grpc.StatusCode.INVALID_ARGUMENT, ["csr:", "P-256"], "an RSA key: INVALID_ARGUMENT")
    expect(lambda: join(epb.JoinRequest(csr=b"\x30\x03\x02\x01\x00", public_key=wgkey("b4"),
                                        network="neta"), timeout=T),
           grpc.StatusCode.INVALID_ARGUMENT, ["csr:"], "bytes that are no CSR: INVALID_ARGUMENT")
    expect(lambda: join(epb.JoinRequest(csr=csr("short"), public_key=wgkey("b5")[:31],
                                        network="neta"), timeout=T),
           grpc.StatusCode.INVALID_ARGUMENT, ["public_key:", "31"],
           "public_key of 31 bytes: INVALID_ARGUMENT naming public_key")
    expect(lambda: join(epb.JoinRequest(csr=csr("badcn", cn="bad name!"),
                                        public_key=wgkey("b6"), network="neta"), timeout=T),
           grpc.StatusCode.INVALID_ARGUMENT, ["csr:", "CN"], "a CN that is no host name: "
           "INVALID_ARGUMENT")
    expect(lambda: join(epb.JoinRequest(csr=b"\x30" * 9000, public_key=wgkey("b12"),
                                        network="neta"), timeout=T),
           grpc.StatusCode.INVALID_ARGUMENT, ["csr:", "at most"],
           "a CSR of 9000 bytes: INVALID_ARGUMENT, bounded before parsing")
    long_cn = csr_long_cn()
    if long_cn is None:
        C.skip("a CN of 70 characters", "python3-cryptography is not installed")
    else:
        expect(lambda: join(epb.JoinRequest(csr=long_cn, public_key=wgkey("b11"),
                                            network="neta"), timeout=T),
               grpc.StatusCode.INVALID_ARGUMENT, ["csr:", "CN", "70"],
               "a CN of 70 characters (openssl's CLI refuses to make one): INVALID_ARGUMENT")
    expect(lambda: join(epb.JoinRequest(csr=csr("tok"), public_key=wgkey("b7"), network="neta",
                                        token="abc"), timeout=T),
           grpc.StatusCode.FAILED_PRECONDITION, ["token:", "issuer"],
           "a token without an online issuer: FAILED_PRECONDITION naming token")
    expect(lambda: join(epb.JoinRequest(csr=csr("nonet"), public_key=wgkey("b8"),
                                        network="nope"), timeout=T),
           grpc.StatusCode.FAILED_PRECONDITION, ["network:"], "an unknown network: "
           "FAILED_PRECONDITION naming network")
    # taken names and keys
    expect(lambda: join(epb.JoinRequest(csr=csr("alice"), public_key=wgkey("b9"),
                                        network="neta"), timeout=T),
           grpc.StatusCode.ALREADY_EXISTS, ["name:", "alice"], "the name of an enrolled peer: "
           "ALREADY_EXISTS naming name")
    expect(lambda: join(epb.JoinRequest(csr=csr("newhost"), public_key=gc.key_of("alice"),
                                        network="neta"), timeout=T),
           grpc.StatusCode.ALREADY_EXISTS, ["public_key:", "alice"],
           "the key of an enrolled peer: ALREADY_EXISTS naming public_key")
    expect(lambda: join(epb.JoinRequest(csr=csr("host1", cn="host1"), public_key=wgkey("b10"),
                                        network="neta"), timeout=T),
           grpc.StatusCode.ALREADY_EXISTS, ["name:"], "the name of a waiting request: "
           "ALREADY_EXISTS")
    expect(lambda: join(epb.JoinRequest(csr=csr("other1"), public_key=k1, network="neta"),
                        timeout=T), grpc.StatusCode.ALREADY_EXISTS, ["public_key:"],
           "the key of a waiting request: ALREADY_EXISTS")
    n_after = len(list_pending(apb.ListPendingRequest(), timeout=T).pending)
    C.check(n_after == n_before, "refused requests are not kept (%d pending)" % n_after)

    # ---- the join listener serves Join only; the mutual-TLS one still wants a certificate
    for path, req in ((gc.SVC + "Update", pb.UpdateRequest(listen_port=1, public_key=k1)),
                      (gc.SVC + "Keys", pb.KeysRequest()),
                      (ADMIN + "ListPending", apb.ListPendingRequest()),
                      (ADMIN + "Approve", apb.ApproveRequest(id=r1.id, certificate=b"x")),
                      (ADMIN + "ListPeers", apb.ListPeersRequest())):
        call = ech.unary_unary(path, request_serializer=type(req).SerializeToString,
                               response_deserializer=lambda b: b)
        got, detail = failed(lambda: call(req, timeout=T))
        C.check(got in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.PERMISSION_DENIED),
                "%s on the join listener: UNIMPLEMENTED" % path, "got %s" % got.name)
    after = list_peers(apb.ListPeersRequest(), timeout=T)
    C.check(after.revision == before.revision and len(after.peers) == len(before.peers),
            "nothing was stored by those calls (revision %d)" % after.revision)
    nocert = Client(None)
    got, _ = failed(lambda: nocert.up(listen_port=1))
    C.check(got == grpc.StatusCode.UNAVAILABLE, "no client certificate on the mutual-TLS "
            "port: still refused", got.name)
    nocert.close()

    # ---- the operator
    pend = list_pending(apb.ListPendingRequest(), timeout=T).pending
    p1 = [p for p in pend if p.id == r1.id]
    C.check(len(p1) == 1 and p1[0].name == "host1" and p1[0].code == r1.code and
            p1[0].source == "127.0.0.1" and p1[0].public_key == k1 and p1[0].csr == h1 and
            p1[0].network == "neta" and p1[0].state == "waiting" and p1[0].created > 0,
            "ListPending: name, key, code, source, CSR, network, state", str(pend))
    agent = Client("alice").channel
    cl = method(agent, ADMIN + "ListPending", apb.ListPendingRequest, apb.ListPendingReply)
    got, _ = failed(lambda: cl(apb.ListPendingRequest(), timeout=T))
    C.check(got == grpc.StatusCode.PERMISSION_DENIED, "ListPending with an agent "
            "certificate: PERMISSION_DENIED", got.name)
    expect(lambda: prepare(apb.PrepareApprovalRequest(id=9999), timeout=T),
           grpc.StatusCode.NOT_FOUND, ["id:"], "PrepareApproval of an unknown id: NOT_FOUND")
    j1 = prepare(apb.PrepareApprovalRequest(id=r1.id), timeout=T).join
    C.check(list(j1.reserved_ips) == ["10.9.0.1", "fd00:9::1"],
            "PrepareApproval: the first address of each pool range", str(j1.reserved_ips))
    h2 = csr("host2")
    k2 = wgkey("host2")
    r2 = join(epb.JoinRequest(csr=h2, public_key=k2, network="neta"), timeout=T)
    j2 = prepare(apb.PrepareApprovalRequest(id=r2.id), timeout=T).join
    C.check(list(j2.reserved_ips) == ["10.9.0.3", "fd00:9::2"], "a second request: the next "
            "free ones (10.9.0.2 is alice's)", str(j2.reserved_ips))
    expect(lambda: prepare(apb.PrepareApprovalRequest(id=r2.id, ips=["10.9.0.1"]), timeout=T),
           grpc.StatusCode.FAILED_PRECONDITION, ["ips:", "10.9.0.1", "reserved"],
           "an address reserved for another request: FAILED_PRECONDITION naming ips")
    expect(lambda: prepare(apb.PrepareApprovalRequest(id=r2.id, ips=["10.9.0.2"]), timeout=T),
           grpc.StatusCode.FAILED_PRECONDITION, ["ips:", "alice"],
           "an address of an enrolled peer: FAILED_PRECONDITION naming ips")
    expect(lambda: prepare(apb.PrepareApprovalRequest(id=r2.id, ips=["10.7.0.1"]), timeout=T),
           grpc.StatusCode.FAILED_PRECONDITION, ["ips:", "outside"],
           "an address outside the pool: FAILED_PRECONDITION")
    expect(lambda: prepare(apb.PrepareApprovalRequest(id=r2.id, ips=["10.9.0.300"]), timeout=T),
           grpc.StatusCode.INVALID_ARGUMENT, ["ips:"], "an unparsable address: INVALID_ARGUMENT")
    j2 = prepare(apb.PrepareApprovalRequest(id=r2.id, ips=["10.9.0.50"]), timeout=T).join
    C.check(list(j2.reserved_ips) == ["10.9.0.50"], "given addresses are reserved as given",
            str(j2.reserved_ips))

    # ---- Approve: the certificate must match the request and the reservation
    try:
        wrong_ip = sign("host1", h1, k1, ["10.9.0.99", "fd00:9::1"], "wrongip")
        wrong_key = sign("host1", h1, wgkey("another"), ["10.9.0.1", "fd00:9::1"], "wrongkey")
        other_csr = sign("host1", csr("host1b", cn="host1"), k1, ["10.9.0.1", "fd00:9::1"],
                         "othercsr")
        good = sign("host1", h1, k1, ["10.9.0.1", "fd00:9::1"], "good")
    except RuntimeError as e:
        C.check(False, "wiresync-ca signed the CSRs", str(e))
        return C.done()
    expect(lambda: approve(apb.ApproveRequest(id=r1.id, certificate=wrong_ip), timeout=T),
           grpc.StatusCode.FAILED_PRECONDITION, ["certificate:", "IP"],
           "Approve with a certificate for another IP: FAILED_PRECONDITION")
    expect(lambda: approve(apb.ApproveRequest(id=r1.id, certificate=wrong_key), timeout=T),
           grpc.StatusCode.FAILED_PRECONDITION, ["certificate:", "WireGuard key"],
           "Approve with a certificate for another WireGuard key: FAILED_PRECONDITION")
    expect(lambda: approve(apb.ApproveRequest(id=r1.id, certificate=other_csr), timeout=T),
           grpc.StatusCode.FAILED_PRECONDITION, ["certificate:", "CSR"],
           "Approve with a certificate of another CSR's key: FAILED_PRECONDITION")
    expect(lambda: approve(apb.ApproveRequest(id=r1.id, certificate=gc.der_of("mallory")),
                           timeout=T),
           grpc.StatusCode.FAILED_PRECONDITION, ["certificate:", "verify"],
           "Approve with a certificate of another CA: FAILED_PRECONDITION")
    expect(lambda: approve(apb.ApproveRequest(id=r1.id, certificate=b"junk"), timeout=T),
           grpc.StatusCode.INVALID_ARGUMENT, ["certificate:"], "Approve with junk: "
           "INVALID_ARGUMENT")
    expect(lambda: approve(apb.ApproveRequest(id=4242, certificate=good), timeout=T),
           grpc.StatusCode.NOT_FOUND, ["id:"], "Approve of an unknown id: NOT_FOUND")
    still = join(epb.JoinRequest(csr=h1, public_key=k1, network="neta"), timeout=T)
    C.check(still.state == epb.JOIN_WAITING and not still.certificate,
            "after refused approvals the host still waits", str(still.state))
    a1 = approve(apb.ApproveRequest(id=r1.id, certificate=good), timeout=T).join
    C.check(a1.state == "approved", "Approve with the right certificate", str(a1))
    done = join(epb.JoinRequest(csr=h1, public_key=k1, network="neta"), timeout=T)
    ca_der = subprocess.run(["openssl", "x509", "-in", os.path.join(CA_DIR, "ca.crt"),
                             "-outform", "DER"], check=True, capture_output=True).stdout
    C.check(done.state == epb.JOIN_APPROVED and done.certificate == good and
            done.ca == ca_der and done.server == os.environ["WS_ADDR"] and done.id == r1.id,
            "the next Join: APPROVED with the certificate, the CA and the server", str(done.state))
    expect(lambda: approve(apb.ApproveRequest(id=r1.id, certificate=good), timeout=T),
           grpc.StatusCode.FAILED_PRECONDITION, ["id:", "approved"],
           "a second Approve: FAILED_PRECONDITION")
    j3r = join(epb.JoinRequest(csr=csr("host3"), public_key=wgkey("host3"), network="neta"),
               timeout=T)
    j3 = prepare(apb.PrepareApprovalRequest(id=j3r.id), timeout=T).join
    C.check(list(j3.reserved_ips) == ["10.9.0.3", "fd00:9::2"], "an approved request keeps "
            "its addresses; released ones are given again", str(j3.reserved_ips))

    # ---- Deny
    d = deny(apb.DenyRequest(id=r2.id, reason="not on the inventory"), timeout=T).join
    C.check(d.state == "denied", "Deny", str(d))
    dj = join(epb.JoinRequest(csr=h2, public_key=k2, network="neta"), timeout=T)
    C.check(dj.state == epb.JOIN_DENIED and dj.message == "not on the inventory" and
            not dj.certificate, "the next Join: DENIED with the reason", str(dj))
    expect(lambda: deny(apb.DenyRequest(id=77777), timeout=T), grpc.StatusCode.NOT_FOUND,
           ["id:"], "Deny of an unknown id: NOT_FOUND")

    # ---- flooding from one address: refused, while an honest poll is still served
    codes = []
    for i in range(15):
        got, _ = failed(lambda: join(epb.JoinRequest(csr=csr("flood%d" % i),
                                                     public_key=wgkey("flood%d" % i),
                                                     network="neta"), timeout=T))
        codes.append(got)
    C.check(grpc.StatusCode.RESOURCE_EXHAUSTED in codes and
            codes[-1] == grpc.StatusCode.RESOURCE_EXHAUSTED,
            "15 new requests within a minute from one address: RESOURCE_EXHAUSTED",
            str([c.name for c in codes]))
    got, detail = failed(lambda: join(epb.JoinRequest(csr=csr("flood99"),
                                                      public_key=wgkey("flood99"),
                                                      network="neta"), timeout=T))
    C.check(got == grpc.StatusCode.RESOURCE_EXHAUSTED and "enroll_rate_per_min" in detail,
            "the refusal says why (enroll_rate_per_min)", "%s %r" % (got.name, detail))
    poll = join(epb.JoinRequest(csr=h1, public_key=k1, network="neta"), timeout=T)
    C.check(poll.state == epb.JOIN_APPROVED and poll.id == r1.id,
            "an honest poll is still served during the flood")
    ech.close()
    return C.done()


def bounds():
    """Against a server with enroll_max_pending = 2 and enroll_max_age_s = 2."""
    ech = enroll_channel()
    join = method(ech, JOIN, epb.JoinRequest, epb.JoinReply)
    op = Client("op").channel
    list_pending = method(op, ADMIN + "ListPending", apb.ListPendingRequest, apb.ListPendingReply)
    h = [csr("bound%d" % i) for i in range(3)]
    r = [join(epb.JoinRequest(csr=h[i], public_key=wgkey("bound%d" % i)), timeout=T)
         for i in range(2)]
    C.check(all(x.state == epb.JOIN_WAITING for x in r), "two requests kept (network \"\": "
            "the one pool's)")
    expect(lambda: join(epb.JoinRequest(csr=h[2], public_key=wgkey("bound2")), timeout=T),
           grpc.StatusCode.RESOURCE_EXHAUSTED, ["enroll_max_pending"],
           "a third with enroll_max_pending = 2: RESOURCE_EXHAUSTED naming the key")
    again = join(epb.JoinRequest(csr=h[0], public_key=wgkey("bound0")), timeout=T)
    C.check(again.id == r[0].id, "a poll of a kept request is still served when full")
    time.sleep(3)
    pend = list_pending(apb.ListPendingRequest(), timeout=T).pending
    C.check(len(pend) == 0, "after enroll_max_age_s the requests are gone", str(pend))
    anew = join(epb.JoinRequest(csr=h[0], public_key=wgkey("bound0")), timeout=T)
    C.check(anew.state == epb.JOIN_WAITING and anew.id > r[1].id and anew.code == r[0].code,
            "the host polling again makes a new request (new id, same code)", str(anew))
    ech.close()
    return C.done()


if __name__ == "__main__":
    sys.exit(bounds() if sys.argv[1:] == ["--bounds"] else main())
