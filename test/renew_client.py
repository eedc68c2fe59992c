#!/usr/bin/python3
"""WireSync.Renew (issue 13) against a running wiresyncd without an online issuer, with
python3-grpcio's defaults.

Run by test/renewcall.test:

    WS_ADDR=127.0.0.1:PORT WS_PKI=DIR WS_PY=DIR WS_TMP=DIR WS_CA_SCRIPT=certs/wiresync-ca \
        /usr/bin/python3 test/renew_client.py [--keep bob|--resume bob|--issued|--flood]

The caller is its certificate: a CSR of another key or another name is refused naming csr,
an admin certificate is refused, nothing is kept. A good renewal waits among the join
requests (ListPending: renewal, unchanged, current_certificate, the current addresses),
Approve refuses a certificate that changes the addresses or the groups and takes one that
keeps them, and the same CSR then gets it (ISSUED). --keep NAME makes a waiting renewal and
writes its id and CSR to WS_TMP; --resume NAME (after a restart) asks with that CSR again.
--issued (a server with an online issuer): signed at once, with the issuer as the chain.
Ends with "N passed, M failed".
"""

import os
import shutil
import subprocess
import sys

import grpc_client as gc
from grpc_client import Checks, Client, grpc, pb

import admin_pb2 as apb  # noqa: E402

TMP = os.environ["WS_TMP"]
CA_SCRIPT = os.environ["WS_CA_SCRIPT"]
T = gc.TIMEOUT
ADMIN = "/wiresync.v1.Admin/"
RENEW = "/wiresync.v1.WireSync/Renew"
C = Checks()


def method(ch, path, req_cls, rep_cls):
    return ch.unary_unary(path, request_serializer=req_cls.SerializeToString,
                          response_deserializer=rep_cls.FromString)


def renew_of(name):
    return method(Client(name).channel, RENEW, pb.RenewRequest, pb.RenewReply)


def csr(keyfile, cn):
    """A CSR (DER) for the key in keyfile (None: a fresh P-256 key) with CN=cn."""
    out = os.path.join(TMP, "r-%s.csr" % cn)
    if keyfile is None:
        keyfile = os.path.join(TMP, "fresh-%s.key" % cn)
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", keyfile], check=True,
                       capture_output=True)
    subprocess.run(["openssl", "req", "-new", "-key", keyfile, "-subj", "/CN=" + cn,
                    "-outform", "DER", "-out", out], check=True, capture_output=True)
    with open(out, "rb") as f:
        return f.read()


def sign_copy(name, der, ips, groups=()):
    """Signs der as name in a copy of the CA directory (the test PKI's certificates stay):
    the certificate, DER."""
    ca = os.path.join(TMP, "ca-copy")
    if not os.path.isdir(ca):
        shutil.copytree(os.path.join(gc.PKI, "a"), ca)
    path = os.path.join(TMP, "%s-sign.csr" % name)
    with open(path, "wb") as f:
        f.write(der)
    args = ["sh", CA_SCRIPT, "-d", ca, "agent", name, "--csr", path, "--key",
            gc.read(gc.pki_file(name, "pub")).decode().strip(), "--force"]
    for ip in ips:
        args += ["--ip", ip]
    for g in groups:
        args += ["--group", g]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("wiresync-ca failed: " + r.stdout + r.stderr)
    return subprocess.run(["openssl", "x509", "-in", os.path.join(ca, name + ".crt"),
                           "-outform", "DER"], check=True, capture_output=True).stdout


def failed(fn):
    try:
        return grpc.StatusCode.OK, fn()
    except grpc.RpcError as e:
        return e.code(), e.details() or ""


def expect(fn, code, words, what):
    got, detail = failed(fn)
    ok = got == code and all(w in str(detail) for w in words)
    return C.check(ok, what, "got %s %r" % (got.name, gc.short(detail)))


def admin():
    op = Client("op").channel
    return (method(op, ADMIN + "ListPending", apb.ListPendingRequest, apb.ListPendingReply),
            method(op, ADMIN + "PrepareApproval", apb.PrepareApprovalRequest,
                   apb.PrepareApprovalReply),
            method(op, ADMIN + "Approve", apb.ApproveRequest, apb.ApproveReply))


def renewals(list_pending):
    return [j for j in list_pending(apb.ListPendingRequest(), timeout=T).pending if j.renewal]


def refusals(list_pending):
    alice = renew_of("alice")
    akey = gc.pki_file("alice", "key")
    expect(lambda: alice(pb.RenewRequest(csr=csr(None, "alice")), timeout=T),
           grpc.StatusCode.PERMISSION_DENIED, ["csr:", "TLS key"],
           "Renew with a CSR of another key: PERMISSION_DENIED naming csr and the TLS key")
    expect(lambda: alice(pb.RenewRequest(csr=csr(akey, "bob")), timeout=T),
           grpc.StatusCode.PERMISSION_DENIED, ["csr:", "CN \"bob\"", "alice"],
           "Renew with alice's key but CN bob: PERMISSION_DENIED naming csr and the CN")
    expect(lambda: alice(pb.RenewRequest(csr=b"\x30\x03\x02\x01\x00"), timeout=T),
           grpc.StatusCode.INVALID_ARGUMENT, ["csr:"],
           "Renew with bytes that are no CSR: INVALID_ARGUMENT naming csr")
    bad = bytearray(csr(akey, "alice"))
    bad[-3] ^= 0x55
    expect(lambda: alice(pb.RenewRequest(csr=bytes(bad)), timeout=T),
           grpc.StatusCode.INVALID_ARGUMENT, ["csr:", "signature"],
           "Renew with a CSR whose signature does not hold: INVALID_ARGUMENT")
    opkey = os.path.join(gc.PKI, "a", "op.key")
    expect(lambda: renew_of("op")(pb.RenewRequest(csr=csr(opkey, "op")), timeout=T),
           grpc.StatusCode.PERMISSION_DENIED, ["admin certificate"],
           "Renew by an admin certificate: PERMISSION_DENIED")
    C.check(renewals(list_pending) == [], "no refused Renew left a request",
            str(renewals(list_pending)))


def approve_flow(list_pending, prepare, approve):
    alice = renew_of("alice")
    der = csr(gc.pki_file("alice", "key"), "alice")
    r = alice(pb.RenewRequest(csr=der), timeout=T)
    C.check(r.state == pb.RENEW_WAITING and r.id > 0 and not r.certificate,
            "Renew without an issuer: WAITING with an id, no certificate", str(r))
    again = alice(pb.RenewRequest(csr=der), timeout=T)
    C.check(again.state == pb.RENEW_WAITING and again.id == r.id,
            "the same CSR again resumes request %d" % r.id, str(again))
    rs = renewals(list_pending)
    j = rs[0] if len(rs) == 1 else None
    C.check(j is not None and j.id == r.id and j.name == "alice" and j.unchanged and
            j.state == "waiting" and j.current_certificate == gc.der_of("alice") and
            set(j.reserved_ips) == {"10.9.0.2", "fd00::2"} and
            j.public_key == gc.key_of("alice") and j.csr == der,
            "ListPending: a renewal of alice, unchanged, with her current certificate and "
            "addresses", str(rs))
    expect(lambda: prepare(apb.PrepareApprovalRequest(id=r.id, ips=["10.9.0.77"]), timeout=T),
           grpc.StatusCode.FAILED_PRECONDITION, ["ips:", "renewal"],
           "PrepareApproval with addresses for a renewal: FAILED_PRECONDITION naming ips")
    p = prepare(apb.PrepareApprovalRequest(id=r.id), timeout=T)
    C.check(set(p.join.reserved_ips) == {"10.9.0.2", "fd00::2"},
            "PrepareApproval without addresses keeps the renewal's", str(p))
    moved = sign_copy("alice", der, ["10.9.0.2", "fd00::7"])
    expect(lambda: approve(apb.ApproveRequest(id=r.id, certificate=moved), timeout=T),
           grpc.StatusCode.FAILED_PRECONDITION, ["certificate:", "IP addresses"],
           "Approve of a renewal with another address: FAILED_PRECONDITION")
    grouped = sign_copy("alice", der, ["10.9.0.2", "fd00::2"], ["web"])
    expect(lambda: approve(apb.ApproveRequest(id=r.id, certificate=grouped), timeout=T),
           grpc.StatusCode.FAILED_PRECONDITION, ["certificate:", "group"],
           "Approve of a renewal that adds a group: FAILED_PRECONDITION")
    other = csr(None, "alice-other")
    new_key = sign_copy("alice", other, ["10.9.0.2", "fd00::2"])
    expect(lambda: approve(apb.ApproveRequest(id=r.id, certificate=new_key), timeout=T),
           grpc.StatusCode.FAILED_PRECONDITION, ["certificate:"],
           "Approve of a renewal with a certificate for another TLS key: FAILED_PRECONDITION")
    w = alice(pb.RenewRequest(csr=der), timeout=T)
    C.check(w.state == pb.RENEW_WAITING, "refused approvals leave it WAITING", str(w))
    good = sign_copy("alice", der, ["10.9.0.2", "fd00::2"])
    a = approve(apb.ApproveRequest(id=r.id, certificate=good), timeout=T)
    C.check(a.join.state == "approved" and a.join.renewal, "Approve of the same name, key, "
            "addresses and groups: approved", str(a.join))
    got = alice(pb.RenewRequest(csr=der), timeout=T)
    C.check(got.state == pb.RENEW_ISSUED and got.certificate == good and got.id == r.id,
            "the same CSR then gets ISSUED with the approved certificate", str(got)[:200])
    # a new CSR (the agent restarted) replaces an older renewal of the same key
    der2 = csr(gc.pki_file("alice", "key"), "alice")
    n = alice(pb.RenewRequest(csr=der2), timeout=T)
    rs = renewals(list_pending)
    C.check(n.state == pb.RENEW_WAITING and n.id > r.id and [x.id for x in rs] == [n.id],
            "a new CSR of the same key: a new request, the older one dropped",
            "%s %s" % (n, [x.id for x in rs]))


def keep(name, list_pending):
    der = csr(gc.pki_file(name, "key"), name)
    r = renew_of(name)(pb.RenewRequest(csr=der), timeout=T)
    C.check(r.state == pb.RENEW_WAITING and r.id > 0, "%s: a waiting renewal %d" % (name, r.id),
            str(r))
    with open(os.path.join(TMP, "kept-%s" % name), "wb") as f:
        f.write(b"%d\n" % r.id)
    with open(os.path.join(TMP, "kept-%s.csr" % name), "wb") as f:
        f.write(der)


def resume(name, list_pending):
    with open(os.path.join(TMP, "kept-%s" % name), "rb") as f:
        want = int(f.read())
    with open(os.path.join(TMP, "kept-%s.csr" % name), "rb") as f:
        der = f.read()
    rs = [j for j in renewals(list_pending) if j.name == name]
    C.check(len(rs) == 1 and rs[0].id == want and rs[0].current_certificate == gc.der_of(name)
            and rs[0].unchanged, "after a restart ListPending still has %s's renewal %d with "
            "its current certificate" % (name, want), str(rs))
    r = renew_of(name)(pb.RenewRequest(csr=der), timeout=T)
    C.check(r.state == pb.RENEW_WAITING and r.id == want,
            "after a restart the same CSR resumes renewal %d" % want, str(r))


def issued(list_pending):
    """With an online issuer: signed at once, as the current certificate, with the chain."""
    alice = renew_of("alice")
    expect(lambda: alice(pb.RenewRequest(csr=csr(None, "alice")), timeout=T),
           grpc.StatusCode.PERMISSION_DENIED, ["csr:", "TLS key"],
           "with an issuer too, a CSR of another key: PERMISSION_DENIED")
    der = csr(gc.pki_file("alice", "key"), "alice")
    before = sorted(j.id for j in renewals(list_pending))
    r = alice(pb.RenewRequest(csr=der), timeout=T)
    issuer = subprocess.run(["openssl", "x509", "-in", os.path.join(gc.PKI, "a", "online.crt"),
                             "-outform", "DER"], check=True, capture_output=True).stdout
    C.check(r.state == pb.RENEW_ISSUED and r.id == 0 and r.certificate and
            list(r.chain) == [issuer], "Renew with an online issuer: ISSUED at once (id 0), "
            "the chain is the issuer", str(r)[:300])
    if not r.certificate:
        return
    leaf = os.path.join(TMP, "issued.der")
    with open(leaf, "wb") as f:
        f.write(r.certificate)
    pem = subprocess.run(["openssl", "x509", "-inform", "DER", "-in", leaf], check=True,
                         capture_output=True).stdout
    with open(leaf + ".pem", "wb") as f:
        f.write(pem)
    v = subprocess.run(["openssl", "verify", "-purpose", "sslclient", "-CAfile",
                        os.path.join(gc.PKI, "a", "ca.crt"), "-untrusted",
                        os.path.join(gc.PKI, "a", "online.crt"), leaf + ".pem"],
                       capture_output=True, text=True)
    C.check(v.returncode == 0, "the issued certificate verifies root -> issuer -> alice",
            v.stdout + v.stderr)
    text = subprocess.run(["openssl", "x509", "-in", leaf + ".pem", "-noout", "-subject", "-ext",
                           "subjectAltName"], capture_output=True, text=True).stdout
    want_key = "urn:wiresync:key:" + gc.read(gc.pki_file("alice", "pub")).decode().strip()
    C.check("CN=alice" in text.replace(" ", "") and "IP Address:10.9.0.2" in text and
            "IP Address:FD00:0:0:0:0:0:0:2" in text and want_key in text,
            "it keeps alice's name, WireGuard key and both addresses", text)
    pub = subprocess.run(["openssl", "x509", "-in", leaf + ".pem", "-noout", "-pubkey"],
                         capture_output=True).stdout
    own = subprocess.run(["openssl", "pkey", "-in", gc.pki_file("alice", "key"), "-pubout"],
                         capture_output=True).stdout
    C.check(pub == own and pub, "it is for alice's TLS key")
    after = sorted(j.id for j in renewals(list_pending))
    C.check(after == before, "no new request waits for the operator", "%s %s" % (before, after))


def flood():
    """update_rate_per_s = 1, update_burst = 2: a third Renew at once is refused."""
    alice = renew_of("alice")
    der = csr(gc.pki_file("alice", "key"), "alice")
    codes = [failed(lambda: alice(pb.RenewRequest(csr=der), timeout=T))[0] for _ in range(3)]
    C.check(codes[:2] == [grpc.StatusCode.OK] * 2 and
            codes[2] == grpc.StatusCode.RESOURCE_EXHAUSTED,
            "Renew takes the Update budget: the third at once is RESOURCE_EXHAUSTED",
            str([c.name for c in codes]))


def main():
    list_pending, prepare, approve = admin()
    if len(sys.argv) == 3 and sys.argv[1] == "--keep":
        keep(sys.argv[2], list_pending)
    elif len(sys.argv) == 3 and sys.argv[1] == "--resume":
        resume(sys.argv[2], list_pending)
    elif len(sys.argv) == 2 and sys.argv[1] == "--issued":
        issued(list_pending)
    elif len(sys.argv) == 2 and sys.argv[1] == "--flood":
        flood()
    else:
        Client("alice").up(listen_port=51820)
        refusals(list_pending)
        approve_flow(list_pending, prepare, approve)
    print("%d passed, %d failed" % (C.passed, C.failed))
    return 0 if C.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
