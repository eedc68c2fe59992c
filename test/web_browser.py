#!/usr/bin/python3
"""The web console in headless Chromium (Debian's chromium), driven over the DevTools
protocol (test/cdp.py over python3-websocket): what a person sees. Run by test/web.test after
test/web_client.py (alice, bob and dave are hosts by then):

    WS_WEB=127.0.0.1:WPORT WS_ADDR=... WS_ENROLL=... WS_PKI=DIR WS_PY=DIR WS_TMP=DIR \
        WS_SHOTS=DIR WS_CHROMIUM=chromium WS_CA_SCRIPT=certs/wiresync-ca python3 web_browser.py

Checks: the hosts page lists every host; a new host (erin, an Update) appears without a
reload (the event stream); a join approved by clicking its button on /pending makes the
host's next Join APPROVED; no Content-Security-Policy violation is reported. Screenshots
(PNG) go to WS_SHOTS. Ends with "N passed, M failed".
"""

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

import cdp
import grpc_client as gc
from grpc_client import Checks, grpc, pb

import enroll_pb2 as epb  # noqa: E402

WEB = os.environ["WS_WEB"]
ENROLL = os.environ["WS_ENROLL"]
TMP = os.environ["WS_TMP"]
SHOTS = os.environ["WS_SHOTS"]
CA_SCRIPT = os.environ["WS_CA_SCRIPT"]
URL = "http://" + WEB
C = Checks()


def host_names(p):
    return p.js("Array.from(document.querySelectorAll('#hosts td.name'))"
                ".map(function (e) { return e.textContent; })") or []


def agent_update(name, ip, port):
    """A new agent certificate from the CA (wiresync-ca agent) and an Update with it."""
    key = base64.b64encode(hashlib.sha256(name.encode()).digest()).decode()
    d = os.path.join(gc.PKI, "a")
    subprocess.run(["sh", CA_SCRIPT, "-d", d, "agent", name, "--key", key, "--ip", ip],
                   check=True, capture_output=True)
    creds = grpc.ssl_channel_credentials(
        root_certificates=gc.root_ca(), private_key=gc.read(os.path.join(d, name + ".key")),
        certificate_chain=gc.read(os.path.join(d, name + ".crt")))
    ch = grpc.secure_channel(gc.ADDR, creds, options=[("grpc.use_local_subchannel_pool", 1)])
    up = ch.unary_unary(gc.SVC + "Update", request_serializer=pb.UpdateRequest.SerializeToString,
                        response_deserializer=pb.UpdateReply.FromString)
    up(pb.UpdateRequest(listen_port=port), timeout=10)
    ch.close()


def join_rpc():
    creds = grpc.ssl_channel_credentials(root_certificates=gc.root_ca())
    ch = grpc.secure_channel(ENROLL, creds, options=[("grpc.use_local_subchannel_pool", 1)])
    return ch.unary_unary("/wiresync.v1.Enroll/Join",
                          request_serializer=epb.JoinRequest.SerializeToString,
                          response_deserializer=epb.JoinReply.FromString)


def csr(name):
    key = os.path.join(TMP, "%s.key" % name)
    out = os.path.join(TMP, "%s.csr" % name)
    subprocess.run(["openssl", "req", "-new", "-nodes", "-keyout", key, "-subj", "/CN=" + name,
                    "-outform", "DER", "-out", out, "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256"], check=True, capture_output=True)
    with open(out, "rb") as f:
        return f.read()


def run(p):
    p.call("Page.enable")
    p.call("Runtime.enable")
    p.call("Log.enable")

    # ---- the hosts page lists every host of the mesh
    C.check(p.go("/"), "Chromium loads / and the event stream opens (data-live=1)")
    names = host_names(p)
    C.check({"alice", "bob", "dave", "<script>x</script>"} <= set(names),
            "the hosts page lists alice, bob, dave and <script>x</script> (as text)",
            str(names))
    C.check(p.js("document.querySelectorAll('script').length") == 1,
            "the page has only its own script element (the host's name made none)")
    C.check(p.shot("hosts"), "screenshot hosts.png")

    # ---- a new host appears without a reload
    p.js("window.wsMark = 'kept'; true")
    agent_update("erin", "10.9.0.8", 51830)
    got = p.wait("Array.from(document.querySelectorAll('#hosts td.name'))"
                 ".some(function (e) { return e.textContent === 'erin'; })")
    C.check(got and p.js("window.wsMark") == "kept" and
            p.js("performance.getEntriesByType('navigation').length") == 1,
            "erin's Update shows on the open page without a reload", str(host_names(p)))
    C.check(p.shot("hosts-live"), "screenshot hosts-live.png")

    # ---- approve a join by clicking
    join = join_rpc()
    h, k = csr("clickhost"), hashlib.sha256(b"clickhost").digest()
    r = join(epb.JoinRequest(csr=h, public_key=k, network="neta"), timeout=10)
    C.check(p.go("/pending"), "Chromium loads /pending")
    btn = "document.getElementById('approve-%d')" % r.id
    C.check(p.wait(btn + " !== null"), "the approve button of request %d is shown" % r.id)
    p.shot("pending")
    p.js(btn + ".click(); true")
    state = p.wait("(function () { var row = document.querySelector('tr[data-id=\"%d\"] "
                   "td.state'); return location.pathname === '/pending' && row && "
                   "row.textContent === 'approved' ? row.textContent : ''; })()" % r.id)
    C.check(state == "approved", "after the click /pending shows request %d approved" % r.id,
            "%s: %s" % (state, p.js("location.href + ' ' + document.body.innerText.slice(0, 400)")))
    again = join(epb.JoinRequest(csr=h, public_key=k, network="neta"), timeout=10)
    C.check(again.state == epb.JOIN_APPROVED and len(again.certificate) > 0,
            "clickhost's next Join is APPROVED", str(again.state))
    C.check(p.shot("pending-approved"), "screenshot pending-approved.png")

    # ---- the other pages render; the picture has the hosts as nodes
    p.go("/links")
    nodes = p.js("document.querySelectorAll('#mesh circle').length")
    C.check(nodes == len(p.js("document.querySelectorAll('#mesh text').length > 0 ? "
                             "Array.from(document.querySelectorAll('#mesh text')) : []") or []) and
            nodes >= 4, "/links draws a node per host", str(nodes))
    C.check(p.shot("links"), "screenshot links.png")
    p.go("/status")
    C.check(p.shot("status"), "screenshot status.png")
    csp = [e for e in p.events if e.get("method") == "Log.entryAdded" and
           "Content Security Policy" in e["params"]["entry"].get("text", "")]
    C.check(not csp, "no Content-Security-Policy violation reported",
            "\n".join(e["params"]["entry"]["text"] for e in csp))


def main():
    profile = tempfile.mkdtemp(prefix="ws-chromium-", dir=TMP)
    proc = None
    try:
        proc, port = cdp.start_chromium(profile)
        run(cdp.first_page(port, base=URL, shots=SHOTS))
    except Exception as e:  # a broken browser run is a failure, shown
        C.check(False, "the Chromium run completes", repr(e))
    finally:
        cdp.stop_chromium(proc)
        shutil.rmtree(profile, ignore_errors=True)
    print("%d passed, %d failed" % (C.passed, C.failed), flush=True)
    return 0 if C.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
