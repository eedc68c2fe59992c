#!/usr/bin/python3
"""Join tokens (issue 13) against a running wiresyncd, with python3-grpcio's defaults.

Run by test/token.test:

    WS_ADDR=127.0.0.1:PORT WS_ENROLL=127.0.0.1:EPORT WS_PKI=DIR WS_PY=DIR WS_TMP=DIR \
        WS_CA_SCRIPT=certs/wiresync-ca WS_ISSUER=FILE /usr/bin/python3 test/token_client.py \
        [--no-issuer]

The server has `pool = neta 10.9.0.0/24` and `pool = netb 10.8.0.0/24`, and (unless
--no-issuer) an online issuer for neta, WS_ISSUER its certificate (PEM). Ends with
"N passed, M failed".
"""

import os
import re
import ssl
import subprocess
import sys
import time

import grpc_client as gc
from grpc_client import grpc, pb

import admin_pb2 as apb  # noqa: E402
import enroll_pb2 as epb  # noqa: E402
from enroll_client import C, ADMIN, JOIN, T, TMP, csr, enroll_channel, expect, method, \
    wgkey  # noqa: E402

TOKEN_RE = re.compile(r"^wst_[a-z2-7]{52}$")


def admin_calls():
    op = gc.Client("op").channel
    return (method(op, ADMIN + "CreateToken", apb.CreateTokenRequest, apb.CreateTokenReply),
            method(op, ADMIN + "ListPending", apb.ListPendingRequest, apb.ListPendingReply))


def no_issuer():
    create, _ = admin_calls()
    join = method(enroll_channel(), JOIN, epb.JoinRequest, epb.JoinReply)
    expect(lambda: create(apb.CreateTokenRequest(), timeout=T),
           grpc.StatusCode.FAILED_PRECONDITION,
           ["this server has no online issuer (issuer_certificate): approve joins with "
            "wiresyncctl approve"], "CreateToken without an issuer: FAILED_PRECONDITION")
    expect(lambda: join(epb.JoinRequest(csr=csr("ni"), public_key=wgkey("ni"), network="neta",
                                        token="wst_" + "a" * 52), timeout=T),
           grpc.StatusCode.FAILED_PRECONDITION, ["token:", "issuer"],
           "Join with a token without an issuer: FAILED_PRECONDITION naming token")
    return C.done()


def pem_to_der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def der_file(der, name):
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(der)
    return path


def x509_text(der):
    return subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-text", "-subject"],
                          input=der, capture_output=True, check=True).stdout.decode()


def verifies(leaf, chain):
    """openssl verify -CAfile root -untrusted issuer -purpose sslclient."""
    pem = lambda d: ssl.DER_cert_to_PEM_cert(d)  # noqa: E731
    leaf_p = os.path.join(TMP, "leaf.pem")
    chain_p = os.path.join(TMP, "chain.pem")
    with open(leaf_p, "w") as f:
        f.write(pem(leaf))
    with open(chain_p, "w") as f:
        f.write("".join(pem(c) for c in chain))
    r = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(gc.PKI, "a", "ca.crt"),
                        "-untrusted", chain_p, "-purpose", "sslclient", leaf_p],
                       capture_output=True, text=True)
    return r.returncode == 0, r.stdout + r.stderr


def main():
    create, list_pending = admin_calls()
    ech = enroll_channel()
    join = method(ech, JOIN, epb.JoinRequest, epb.JoinReply)
    root = pem_to_der(os.path.join(gc.PKI, "a", "ca.crt"))
    gc.Client("alice").up(listen_port=51820)   # 10.9.0.2 is taken
    issuer = pem_to_der(os.environ["WS_ISSUER"])

    # ---- CreateToken
    t1 = create(apb.CreateTokenRequest(groups=["servers", "db"]), timeout=T)
    now = time.time()
    C.check(TOKEN_RE.match(t1.token) is not None and t1.id > 0 and t1.network == "neta" and
            t1.uses == 1 and abs(t1.expires - (now + 3600)) < 60,
            "CreateToken: wst_ and 52 base32, network neta, 1 use, an hour (the defaults)",
            str(t1))
    t1b = create(apb.CreateTokenRequest(), timeout=T)
    C.check(t1b.token != t1.token and t1b.id > t1.id, "a second token differs")
    expect(lambda: create(apb.CreateTokenRequest(groups=["Bad Name"]), timeout=T),
           grpc.StatusCode.INVALID_ARGUMENT, ["groups:", "Bad Name"],
           "a bad group name: INVALID_ARGUMENT naming groups")
    expect(lambda: create(apb.CreateTokenRequest(expires_s=-5), timeout=T),
           grpc.StatusCode.INVALID_ARGUMENT, ["expires_s:"],
           "expires_s -5: INVALID_ARGUMENT naming expires_s")
    expect(lambda: create(apb.CreateTokenRequest(uses=1000000), timeout=T),
           grpc.StatusCode.INVALID_ARGUMENT, ["uses:"], "uses 1000000: INVALID_ARGUMENT")
    expect(lambda: create(apb.CreateTokenRequest(network="netb"), timeout=T),
           grpc.StatusCode.PERMISSION_DENIED, ["network:", "netb"],
           "a token for another network than the admin's: PERMISSION_DENIED")
    agent = method(gc.Client("alice").channel, ADMIN + "CreateToken", apb.CreateTokenRequest,
                   apb.CreateTokenReply)
    expect(lambda: agent(apb.CreateTokenRequest(), timeout=T),
           grpc.StatusCode.PERMISSION_DENIED, [], "CreateToken with an agent certificate: "
           "PERMISSION_DENIED")

    # ---- a join with the token: approved at once
    h1 = csr("tok1")
    k1 = wgkey("tok1")
    r1 = join(epb.JoinRequest(csr=h1, public_key=k1, token=t1.token), timeout=T)
    C.check(r1.state == epb.JOIN_APPROVED and r1.id > 0 and len(r1.certificate) > 0,
            "Join with a token: APPROVED on the first reply, with a certificate", str(r1.state))
    C.check(r1.ca == root and list(r1.chain) == [issuer],
            "ca is the root (DER), chain the issuer (DER)")
    der_file(r1.certificate, "tok1.der")       # for --after-restart
    der_file(h1, "tok1-first.csr")              # (csr("tok1") is made again below)
    with open(os.path.join(TMP, "tok1.token"), "w") as f:
        f.write(t1.token)
    good, out = verifies(r1.certificate, r1.chain)
    C.check(good, "the certificate verifies: openssl verify -CAfile root -untrusted issuer "
            "-purpose sslclient", out)
    text = x509_text(r1.certificate)
    C.check("IP Address:10.9.0.1" in text and "URI:urn:wiresync:group:servers" in text and
            "URI:urn:wiresync:group:db" in text and "CN = tok1" in text and "O = neta" in text,
            "the certificate: CN tok1, O neta, the pool's first address, the token's groups",
            text)
    end = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-enddate"],
                         input=r1.certificate, capture_output=True, check=True).stdout.decode()
    left = ssl.cert_time_to_seconds(end.strip().split("=", 1)[1]) - time.time()
    days = int(os.environ.get("WS_ISSUER_DAYS", "30"))
    C.check(abs(left - days * 86400) < 86400, "the certificate lives issuer_days (%d days)" %
            days, "%.1f days" % (left / 86400))
    again = join(epb.JoinRequest(csr=h1, public_key=k1, token=t1.token), timeout=T)
    C.check(again.state == epb.JOIN_APPROVED and again.id == r1.id and
            again.certificate == r1.certificate and list(again.chain) == [issuer],
            "the same Join again (token used up by it): the same certificate")
    again = join(epb.JoinRequest(csr=h1, public_key=k1), timeout=T)
    C.check(again.certificate == r1.certificate, "and polled without the token: the same")

    # the host reaches the mutual-TLS port with that certificate and the chain
    key_pem = open(os.path.join(TMP, "tok1.key"), "rb").read()
    chain_pem = (ssl.DER_cert_to_PEM_cert(r1.certificate) +
                 ssl.DER_cert_to_PEM_cert(issuer)).encode()
    creds = grpc.ssl_channel_credentials(root_certificates=gc.root_ca(), private_key=key_pem,
                                         certificate_chain=chain_pem)
    ch = grpc.secure_channel(gc.ADDR, creds, options=[("grpc.use_local_subchannel_pool", 1)])
    up = ch.unary_unary(gc.SVC + "Update", request_serializer=pb.UpdateRequest.SerializeToString,
                        response_deserializer=pb.UpdateReply.FromString)
    try:
        rep = up(pb.UpdateRequest(listen_port=51820), timeout=T)
        C.check(rep.revision > 0, "Update with the issued certificate and the chain: stored "
                "(revision %d)" % rep.revision)
    except grpc.RpcError as e:
        C.check(False, "Update with the issued certificate and the chain", "%s %s" %
                (e.code().name, e.details()))
    ch.close()

    # ---- refusals: nothing kept, no use taken
    before = list(list_pending(apb.ListPendingRequest(), timeout=T).pending)
    expect(lambda: join(epb.JoinRequest(csr=csr("tok2"), public_key=wgkey("tok2"),
                                        token=t1.token), timeout=T),
           grpc.StatusCode.PERMISSION_DENIED, ["token:", "used up"],
           "the token again from another CSR: PERMISSION_DENIED, used up")
    expect(lambda: join(epb.JoinRequest(csr=csr("tok3"), public_key=wgkey("tok3"),
                                        token="wst_" + "b" * 52), timeout=T),
           grpc.StatusCode.PERMISSION_DENIED, ["token:", "not a token of this server"],
           "an unknown token: PERMISSION_DENIED")
    expect(lambda: join(epb.JoinRequest(csr=csr("tok4"), public_key=wgkey("tok4"),
                                        token="hunter2"), timeout=T),
           grpc.StatusCode.INVALID_ARGUMENT, ["token:"], "a malformed token: INVALID_ARGUMENT "
           "naming token")
    expect(lambda: join(epb.JoinRequest(csr=csr("tok5"), public_key=wgkey("tok5"),
                                        network="netb", token=t1b.token), timeout=T),
           grpc.StatusCode.PERMISSION_DENIED, ["token:", "another network"],
           "a token of neta in a Join for netb: PERMISSION_DENIED")
    expect(lambda: join(epb.JoinRequest(csr=csr("tok1"), public_key=wgkey("tok6"),
                                        token=t1b.token), timeout=T),
           grpc.StatusCode.ALREADY_EXISTS, ["name:", "tok1"],
           "a token join with the name of an approved host: ALREADY_EXISTS")
    after = list(list_pending(apb.ListPendingRequest(), timeout=T).pending)
    C.check(after == before, "refused token joins are not kept (ListPending unchanged, %d)" %
            len(after), "%d before, %d after" % (len(before), len(after)))
    r1b = join(epb.JoinRequest(csr=csr("tok7"), public_key=wgkey("tok7"), network="neta",
                               token=t1b.token), timeout=T)
    C.check(r1b.state == epb.JOIN_APPROVED and "IP Address:10.9.0.3" in
            x509_text(r1b.certificate), "the refusals took no use of the other token: it "
            "joins (10.9.0.3: .1 tok1's, .2 alice's)", x509_text(r1b.certificate))

    # ---- uses 2: twice, not three times
    t2 = create(apb.CreateTokenRequest(uses=2), timeout=T)
    ips = []
    for n in ("two1", "two2"):
        r = join(epb.JoinRequest(csr=csr(n), public_key=wgkey(n), token=t2.token), timeout=T)
        ips += re.findall(r"IP Address:([0-9.]+)", x509_text(r.certificate)) \
            if r.state == epb.JOIN_APPROVED else ["-"]
    C.check(t2.uses == 2 and len(ips) == 2 and "-" not in ips and ips[0] != ips[1],
            "a token of 2 uses: two hosts approved, each its own address", str(ips))
    expect(lambda: join(epb.JoinRequest(csr=csr("two3"), public_key=wgkey("two3"),
                                        token=t2.token), timeout=T),
           grpc.StatusCode.PERMISSION_DENIED, ["used up"], "a third: PERMISSION_DENIED")

    # ---- a host that asked without a token, then with one: the same request approved
    hw = csr("waiter")
    kw = wgkey("waiter")
    w = join(epb.JoinRequest(csr=hw, public_key=kw, network="neta"), timeout=T)
    t3 = create(apb.CreateTokenRequest(), timeout=T)
    w2 = join(epb.JoinRequest(csr=hw, public_key=kw, network="neta", token=t3.token),
              timeout=T)
    C.check(w.state == epb.JOIN_WAITING and w2.state == epb.JOIN_APPROVED and w2.id == w.id,
            "a waiting request polled with a token: approved, same id", str(w2.state))

    # ---- expiry
    t4 = create(apb.CreateTokenRequest(expires_s=2), timeout=T)
    while time.time() < t4.expires + 0.5:
        time.sleep(0.5)
    expect(lambda: join(epb.JoinRequest(csr=csr("late"), public_key=wgkey("late"),
                                        token=t4.token), timeout=T),
           grpc.StatusCode.PERMISSION_DENIED, ["token:", "expired"],
           "a token past its expiry: PERMISSION_DENIED, expired")
    after = list(list_pending(apb.ListPendingRequest(), timeout=T).pending)
    C.check(not any(p.name in ("late", "two3", "tok2", "tok3", "tok5") for p in after),
            "none of the refused hosts is listed")
    ech.close()
    return C.done()


def after_restart():
    """tok1's Join again, on a restarted server: the stored approval, chain included."""
    join = method(enroll_channel(), JOIN, epb.JoinRequest, epb.JoinReply)
    with open(os.path.join(TMP, "tok1-first.csr"), "rb") as f:
        h1 = f.read()
    with open(os.path.join(TMP, "tok1.der"), "rb") as f:
        cert = f.read()
    with open(os.path.join(TMP, "tok1.token")) as f:
        token = f.read()
    r = join(epb.JoinRequest(csr=h1, public_key=wgkey("tok1"), token=token), timeout=T)
    C.check(r.state == epb.JOIN_APPROVED and r.certificate == cert and
            list(r.chain) == [pem_to_der(os.environ["WS_ISSUER"])],
            "after a restart: the same Join gets the same certificate and the issuer as chain",
            str(r.state))
    return C.done()


if __name__ == "__main__":
    mode = sys.argv[1:]
    sys.exit(no_issuer() if mode == ["--no-issuer"] else
             after_restart() if mode == ["--after-restart"] else main())
