#!/usr/bin/python3
"""One wiresync.v1.Enroll/Join call, as a host that holds nothing but the CA certificate.

Run by test/enrollctl_e2e.test (the host side of a join, with python3-grpcio):

    WS_PY=DIR /usr/bin/python3 test/enroll_host.py ADDR CA.crt CSR.der PUBKEY OUT [TOKEN]

WS_PY holds enroll_pb2 from `protoc --python_out`. ADDR is the server's enroll_listen; the
TLS channel trusts CA.crt only and presents no client certificate. Prints the reply as one
JSON line (id, code, state as its enum name, server, message, has_certificate) and, when it
carries them, writes OUT.crt.der and OUT.ca.der. Exit 0 on an answer, 2 with
"ERROR STATUS: details" on a gRPC error.
"""

import base64
import json
import os
import sys

import grpc

sys.path.insert(0, os.environ.get("WS_PY", "."))
import enroll_pb2 as epb  # noqa: E402

JOIN = "/wiresync.v1.Enroll/Join"


def main():
    if len(sys.argv) not in (6, 7):
        print(__doc__, file=sys.stderr)
        return 1
    addr, ca, csr, pub, out = sys.argv[1:6]
    token = sys.argv[6] if len(sys.argv) == 7 else ""
    with open(ca, "rb") as f:
        creds = grpc.ssl_channel_credentials(root_certificates=f.read())
    with open(csr, "rb") as f:
        req = epb.JoinRequest(csr=f.read(), public_key=base64.b64decode(pub), token=token)
    with grpc.secure_channel(addr, creds) as ch:
        call = ch.unary_unary(JOIN, request_serializer=epb.JoinRequest.SerializeToString,
                              response_deserializer=epb.JoinReply.FromString)
        try:
            r = call(req, timeout=10)
        except grpc.RpcError as e:
            print("ERROR %s: %s" % (e.code().name, e.details()))
            return 2
    if r.certificate:
        with open(out + ".crt.der", "wb") as f:
            f.write(r.certificate)
    if r.ca:
        with open(out + ".ca.der", "wb") as f:
            f.write(r.ca)
    print(json.dumps({"id": r.id, "code": r.code, "state": epb.JoinState.Name(r.state),
                      "server": r.server, "message": r.message,
                      "has_certificate": bool(r.certificate)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
