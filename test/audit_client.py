#!/usr/bin/python3
"""wiresync.v1.Admin/Audit of a running wiresyncd, called with python3-grpcio.

Run by test/audit.test:

    WS_ADDR=127.0.0.1:PORT WS_PKI=DIR WS_PY=DIR /usr/bin/python3 test/audit_client.py MODE

WS_PY holds wiresync_pb2, health_pb2 and admin_pb2 from `protoc --python_out`; WS_PKI is
ws_make_pki's. Modes:
    --checks      an agent certificate (alice) gets PERMISSION_DENIED; limit 1001 is
                  INVALID_ARGUMENT naming limit; limit 0 gives at most 100; paging with
                  before_id walks every entry once, newest first, as one call returns them
    --dump FILE   every entry as op (paged by 2) into FILE as JSON, newest first
Each mode ends with "N passed, M failed" and exits non-zero on a failure.
"""

import json
import os
import sys

import grpc_client as gc
from grpc_client import Checks, grpc

import admin_pb2 as apb  # noqa: E402

AUDIT = "/wiresync.v1.Admin/Audit"


def call(who):
    ch = gc.make_channel(who)
    fn = ch.unary_unary(AUDIT, request_serializer=apb.AuditRequest.SerializeToString,
                        response_deserializer=apb.AuditReply.FromString)
    return ch, fn


def walk(fn, page):
    """Every entry, page entries a call, following before_id."""
    got, before = [], 0
    while True:
        r = fn(apb.AuditRequest(limit=page, before_id=before), timeout=gc.TIMEOUT)
        got.extend(r.entries)
        if len(r.entries) < page:
            return got
        before = r.entries[-1].id


def checks():
    c = Checks()
    ch, fn = call("alice")
    c.code(grpc.StatusCode.PERMISSION_DENIED, lambda: fn(apb.AuditRequest(), timeout=gc.TIMEOUT),
           "Audit as an agent certificate (alice): PERMISSION_DENIED")
    ch.close()
    ch, fn = call("op")
    try:
        fn(apb.AuditRequest(limit=1001), timeout=gc.TIMEOUT)
        c.check(False, "limit 1001: INVALID_ARGUMENT", "got OK")
    except grpc.RpcError as e:
        c.check(e.code() == grpc.StatusCode.INVALID_ARGUMENT and "limit" in e.details(),
                "limit 1001: INVALID_ARGUMENT naming limit", "%s %r" % (e.code(), e.details()))
    whole = fn(apb.AuditRequest(limit=1000), timeout=gc.TIMEOUT).entries
    ids = [e.id for e in whole]
    c.check(len(ids) >= 3, "at least 3 entries to page over", str(ids))
    c.check(ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids),
            "newest first, each id once", str(ids))
    dflt = fn(apb.AuditRequest(), timeout=gc.TIMEOUT).entries
    c.check([e.id for e in dflt] == ids[:100], "limit 0: the newest (at most 100)",
            str([e.id for e in dflt]))
    paged = [e.id for e in walk(fn, 2)]
    c.check(paged == ids, "pages of 2 by before_id: the same entries in the same order",
            "%s vs %s" % (paged, ids))
    r = fn(apb.AuditRequest(limit=5, before_id=ids[-1]), timeout=gc.TIMEOUT)
    c.check(len(r.entries) == 0, "before the oldest id: nothing")
    ch.close()
    return c.done()


def dump(path):
    c = Checks()
    ch, fn = call("op")
    rows = [{"id": e.id, "time_ms": e.time_ms, "admin": e.admin, "serial": e.serial,
             "action": e.action, "detail": e.detail, "network": e.network}
            for e in walk(fn, 2)]
    ch.close()
    with open(path, "w") as f:
        json.dump(rows, f)
    c.check(True, "Audit as op: %d entries" % len(rows))
    return c.done()


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "--checks":
        return checks()
    if len(sys.argv) == 3 and sys.argv[1] == "--dump":
        return dump(sys.argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
