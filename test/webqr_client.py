#!/usr/bin/python3
"""A static peer's config on the web console (POST /static/NAME/config): the form, the
refusals, the config byte for byte as `wiresyncctl genconf` printed it, and its QR code as
Chromium shows it, read back by zbarimg. Run by test/webqr.test:

    WS_WEB=127.0.0.1:WPORT WS_TMP=DIR WS_SHOTS=DIR WS_NAME=phone WS_KEY=FILE WS_OTHER=FILE \
        WS_WANT=FILE [WS_CHROMIUM=chromium] python3 webqr_client.py

WS_KEY holds NAME's private key, WS_OTHER another valid one, WS_WANT genconf's output.
Ends with "N passed, M failed".
"""

import html
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

from grpc_client import Checks

WEB = os.environ["WS_WEB"]
TMP = os.environ["WS_TMP"]
SHOTS = os.environ["WS_SHOTS"]
NAME = os.environ["WS_NAME"]
C = Checks()


def read(path):
    with open(path) as f:
        return f.read()


KEY = read(os.environ["WS_KEY"]).strip()
OTHER = read(os.environ["WS_OTHER"]).strip()
WANT = read(os.environ["WS_WANT"])


def request(method, path, body=None, cookie=None):
    host, port = WEB.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    hdrs = {}
    if body is not None:
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    if cookie:
        hdrs["Cookie"] = cookie
    c.request(method, path, body=body, headers=hdrs)
    r = c.getresponse()
    data = r.read().decode("utf-8", "replace")
    c.close()
    return r.status, r, data


def form(**fields):
    return urllib.parse.urlencode(fields)


def http_checks():
    path = "/static/%s/config" % NAME
    st, r, page = request("GET", "/static/" + NAME)
    m = re.search(r'ws_csrf=([0-9a-f]+)', r.getheader("Set-Cookie") or "")
    token = m.group(1) if m else ""
    C.check(st == 200 and token and
            '<form id="config-form" method="post" action="%s">' % path in page and
            'name="private_key"' in page and 'value="%s"' % token in page,
            "GET /static/%s: the form posts private_key and the CSRF token to %s" % (NAME, path),
            page[:600])
    cookie = "ws_csrf=" + token

    st, _, body = request("POST", path, form(private_key=KEY))
    C.check(st == 403 and "CSRF" in body and KEY not in body,
            "POST without the CSRF token: 403", "%d %s" % (st, body))
    st, _, body = request("POST", path, form(private_key=KEY, csrf="0" * 64), cookie)
    C.check(st == 403, "POST with a wrong CSRF token: 403", "%d %s" % (st, body))

    st, _, body = request("POST", path, form(private_key=OTHER, csrf=token), cookie)
    C.check(st == 400 and body.startswith("private_key: this is not %s's private key" % NAME)
            and "paste the key" in body and OTHER not in body and KEY not in body,
            "another valid key: 400 naming private_key and what to do, neither key echoed",
            "%d %s" % (st, body))
    st, _, body = request("POST", path, form(private_key="bm90IGEga2V5", csrf=token), cookie)
    C.check(st == 400 and body.startswith("private_key: not a WireGuard private key") and
            "base64 of 32 bytes" in body, "a key that is not base64 of 32 bytes: 400",
            "%d %s" % (st, body))
    st, _, body = request("POST", path, form(csrf=token), cookie)
    C.check(st == 400 and body.startswith("private_key: missing"), "no private_key: 400",
            "%d %s" % (st, body))
    st, _, body = request("POST", "/static/nobody/config", form(private_key=KEY, csrf=token),
                          cookie)
    C.check(st == 404 and KEY not in body, "an unknown static peer: 404", "%d %s" % (st, body))

    # the browser's encoding of the key (%2B, %2F, %3D), with a pasted newline
    st, r, page = request("POST", path, form(private_key=KEY + "\n", csrf=token), cookie)
    C.check(st == 200, "the right key: 200", "%d %s" % (st, page[:400]))
    C.check(r.getheader("Cache-Control") == "no-store", "the config page: Cache-Control: no-store",
            str(r.getheader("Cache-Control")))
    csp = r.getheader("Content-Security-Policy") or ""
    C.check("default-src 'none'" in csp and "style-src 'self'" in csp and
            "'unsafe-inline'" not in csp, "the config page: the strict CSP", csp)
    m = re.search(r'<pre id="config">(.*?)</pre>', page, re.S)
    got = html.unescape(m.group(1)) if m else ""
    C.check(got == WANT, "the <pre> is byte for byte what wiresyncctl genconf %s "
            "--private-key prints" % NAME,
            "\n".join(l for l in __import__("difflib").unified_diff(
                WANT.splitlines(), got.splitlines(), "genconf", "console", lineterm="")))
    C.check(("PrivateKey = " + KEY) in got, "the config holds the key")
    svg = re.search(r'<svg [^>]*id="qr"[^>]*>.*?</svg>', page, re.S)
    C.check(svg is not None and "<path" in svg.group(0) and "style" not in svg.group(0),
            "an inline <svg id=\"qr\">: a <path>, no style attribute")
    C.check("<script" not in page and " style=" not in page,
            "the config page has no script and no inline style")
    with open(os.path.join(TMP, "config-page.html"), "w") as f:
        f.write(page)


def browser_checks():
    import cdp  # python3-websocket; webqr.test checked it is there
    profile = tempfile.mkdtemp(prefix="ws-chromium-", dir=TMP)
    proc = None
    try:
        proc, port = cdp.start_chromium(profile)
        p = cdp.first_page(port, base="http://" + WEB, shots=SHOTS)
        p.call("Page.enable")
        p.call("Runtime.enable")
        p.call("Log.enable")
        C.check(p.go("/static/" + NAME), "Chromium loads /static/%s" % NAME)
        p.shot("static-form")
        # typed into the password field and submitted as a person does
        p.js("document.getElementById('private-key').value = %r; "
             "document.getElementById('show-config').click(); true" % KEY)
        shown = p.wait("document.getElementById('config') !== null && "
                       "document.getElementById('qr') !== null && "
                       "document.readyState === 'complete'")
        C.check(shown, "submitting the form shows the config and its QR code",
                str(p.js("document.body.innerText.slice(0, 400)")))
        text = p.js("document.getElementById('config').textContent")
        C.check(text == WANT, "the page Chromium shows has genconf's config")
        C.check(p.shot("static-config"), "screenshot static-config.png")
        zb = subprocess.run(["zbarimg", "--raw", "-q", os.path.join(SHOTS, "static-config.png")],
                            capture_output=True, text=True)
        dec = zb.stdout[:-1] if zb.stdout.endswith("\n") else zb.stdout
        C.check(zb.returncode == 0 and dec == WANT,
                "zbarimg reads the screenshot's QR code as exactly the config",
                "exit %d, %d bytes read, %d wanted: %r" % (zb.returncode, len(dec), len(WANT),
                                                          dec[:200]))
        csp = [e for e in p.events if e.get("method") == "Log.entryAdded" and
               "Content Security Policy" in e["params"]["entry"].get("text", "")]
        C.check(not csp, "no Content-Security-Policy violation reported",
                "\n".join(e["params"]["entry"]["text"] for e in csp))
        p.close()
    except Exception as e:  # a broken browser run is a failure, shown
        C.check(False, "the Chromium run completes", repr(e))
    finally:
        cdp.stop_chromium(proc)
        shutil.rmtree(profile, ignore_errors=True)


def main():
    http_checks()
    if os.environ.get("WS_CHROMIUM"):
        browser_checks()
    return C.done()


if __name__ == "__main__":
    sys.exit(main())
