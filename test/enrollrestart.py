#!/usr/bin/python3
"""Join requests across wiresyncd restarts (issue 13), one phase per run:

    WS_ADDR=... WS_ENROLL=... WS_PKI=DIR WS_PY=DIR WS_TMP=DIR WS_CA_SCRIPT=... \
        /usr/bin/python3 test/enrollrestart.py PHASE

run by test/enrollrestart.test, which restarts the server (SIGTERM, same database) between
the phases. What a phase learnt for the next is in $WS_TMP/restart.json. The server has
`pool = neta 10.9.0.0/24`. Ends with "N passed, M failed".
"""

import json
import os
import sqlite3
import subprocess
import sys

import grpc_client as gc
from grpc_client import Checks, Client

import admin_pb2 as apb  # noqa: E402
import enroll_pb2 as epb  # noqa: E402
import enroll_client as ec  # noqa: E402

T = gc.TIMEOUT
STATE = os.path.join(ec.TMP, "restart.json")
C = Checks()


def load():
    with open(STATE) as f:
        return json.load(f)


def save(st):
    with open(STATE, "w") as f:
        json.dump(st, f)


def the_csr():
    path = os.path.join(ec.TMP, "rhost.csr")
    if not os.path.exists(path):
        ec.csr("rhost")
    with open(path, "rb") as f:
        return f.read()


def calls():
    join = ec.method(ec.enroll_channel(), ec.JOIN, epb.JoinRequest, epb.JoinReply)
    op = Client("op").channel
    a = {n: ec.method(op, ec.ADMIN + n, getattr(apb, n + "Request"), getattr(apb, n + "Reply"))
         for n in ("ListPending", "PrepareApproval", "Approve")}
    return join, a


def main(phase):
    join, adm = calls()
    der = the_csr()
    key = ec.wgkey("rhost")
    req = epb.JoinRequest(csr=der, public_key=key, network="neta")
    if phase == "join":
        # one request before: id N is 2, which a server that forgot would not give again
        first = join(epb.JoinRequest(csr=ec.csr("rfirst"), public_key=ec.wgkey("rfirst"),
                                     network="neta"), timeout=T)
        r = join(req, timeout=T)
        C.check(r.state == epb.JOIN_WAITING and r.id == first.id + 1 and
                r.code == ec.code_of(der),
                "Join: WAITING, id %d (after %d), code %s" % (r.id, first.id, r.code),
                str(r))
        save({"id": r.id, "code": r.code})
    elif phase == "waiting":
        st = load()
        r = join(req, timeout=T)
        C.check(r.state == epb.JOIN_WAITING and r.id == st["id"] and r.code == st["code"],
                "after a restart the same Join is the same request (id %d, code %s)"
                % (st["id"], st["code"]), str(r))
        other = join(epb.JoinRequest(csr=ec.csr("rother"), public_key=ec.wgkey("rother"),
                                     network="neta"), timeout=T)
        C.check(other.id > st["id"], "a new request after the restart gets a new id (%d > %d)"
                % (other.id, st["id"]), str(other))
        j = adm["PrepareApproval"](apb.PrepareApprovalRequest(id=st["id"]), timeout=T).join
        C.check(list(j.reserved_ips) == ["10.9.0.1"], "PrepareApproval reserves 10.9.0.1",
                str(j))
        st["other"] = other.id
        save(st)
    elif phase == "reserved":
        st = load()
        pend = {p.id: p for p in adm["ListPending"](apb.ListPendingRequest(), timeout=T).pending}
        p = pend.get(st["id"])
        C.check(p is not None and list(p.reserved_ips) == ["10.9.0.1"] and
                p.state == "waiting" and p.code == st["code"] and p.name == "rhost" and
                p.public_key == key and p.csr == der and p.source == "127.0.0.1",
                "after a restart ListPending shows the request with its reservation, code, "
                "name, key, CSR and source", str(p))
        C.check(st["other"] in pend and len(pend) == 3, "the other waiting requests are kept "
                "too", str(pend.keys()))
        j = adm["PrepareApproval"](apb.PrepareApprovalRequest(id=st["other"]), timeout=T).join
        C.check(list(j.reserved_ips) == ["10.9.0.2"], "the kept reservation is still taken: "
                "the other request gets 10.9.0.2", str(j))
        cert = ec.sign("rhost", der, key, ["10.9.0.1"], "restart")
        a = adm["Approve"](apb.ApproveRequest(id=st["id"], certificate=cert), timeout=T).join
        C.check(a.state == "approved", "Approve", str(a))
        st["cert"] = cert.hex()
        save(st)
    elif phase == "approved":
        st = load()
        r = join(req, timeout=T)
        C.check(r.state == epb.JOIN_APPROVED and r.id == st["id"] and
                r.certificate == bytes.fromhex(st["cert"]) and len(r.ca) > 0 and r.server,
                "after a restart the next Join is APPROVED with the certificate, the CA and "
                "the server", "state %s id %d cert %d bytes" % (r.state, r.id,
                                                               len(r.certificate)))
    elif phase == "fault":
        # SQLite: a second connection holds the write lock: the server's BEGIN IMMEDIATE
        # fails after its 5 s busy timeout. PostgreSQL (WS_PG_URI): a trigger refuses every
        # write of a join request. Either way a request the server cannot keep is not
        # answered as kept.
        pg = os.environ.get("WS_PG_URI")
        if pg:
            psql(pg, "CREATE FUNCTION ws_test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                 "$f$ BEGIN RAISE EXCEPTION 'test: join requests refused'; END $f$; "
                 "CREATE TRIGGER ws_test_refuse BEFORE INSERT OR UPDATE ON join_requests "
                 "FOR EACH ROW EXECUTE FUNCTION ws_test_refuse()")
        else:
            db = sqlite3.connect(os.environ["WS_DB"], isolation_level=None)
            db.execute("BEGIN IMMEDIATE")
        fder = ec.csr("rfault")
        freq = epb.JoinRequest(csr=fder, public_key=ec.wgkey("rfault"), network="neta")
        got, detail = ec.failed(lambda: join(freq, timeout=15))
        C.check(got == gc.grpc.StatusCode.UNAVAILABLE and "store write failed" in str(detail),
                "Join while the store cannot be written: UNAVAILABLE, the request not kept",
                "got %s %r" % (got.name, gc.short(detail)))
        if pg:
            psql(pg, "DROP TRIGGER ws_test_refuse ON join_requests; "
                 "DROP FUNCTION ws_test_refuse()")
        else:
            db.execute("ROLLBACK")
            db.close()
        pend = adm["ListPending"](apb.ListPendingRequest(), timeout=T).pending
        C.check(all(p.name != "rfault" for p in pend), "nothing of it is pending",
                str([p.name for p in pend]))
        r = join(freq, timeout=T)
        C.check(r.state == epb.JOIN_WAITING and r.code == ec.code_of(fder),
                "the host's next poll, the store writable again, is kept", str(r))
    return C.done()


def psql(uri, sql):
    """sql in the test's PostgreSQL (test/lib.sh's WS_BACKEND=postgresql), as its user."""
    subprocess.run(["runuser", "-u", "postgres", "--", os.environ["WS_PSQL"], "-X", "-q",
                    "-v", "ON_ERROR_STOP=1", uri, "-c", sql], check=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
