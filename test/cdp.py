"""A small client of Chromium's DevTools protocol (python3-websocket), shared by the web
console's browser tests (test/web_browser.py, test/links_browser.py): start headless
Chromium, open its tab, call methods, evaluate JavaScript, poll, take screenshots."""

import base64
import json
import os
import subprocess
import time
import urllib.request

import websocket


class Page:
    """One tab over the DevTools protocol: calls by id, events kept. base is prefixed to
    go()'s paths, shots is the directory of shot()'s PNGs."""

    def __init__(self, ws_url, base="", shots="."):
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.n = 0
        self.events = []
        self.base = base
        self.shots = shots

    def call(self, method, **params):
        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == self.n:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            self.events.append(m)

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def wait(self, expr, timeout=20, every=0.1):
        """Polls expr until it is truthy; its last value."""
        end = time.time() + timeout
        v = None
        while time.time() < end:
            try:
                v = self.js(expr)
            except RuntimeError:
                v = None
            if v:
                return v
            time.sleep(every)
        return v

    def go(self, path):
        """Navigates to base + path; true once loaded with its event stream open."""
        self.call("Page.navigate", url=self.base + path)
        return self.wait("document.readyState === 'complete' && "
                         "document.body.getAttribute('data-live') === '1'")

    def shot(self, name):
        """A PNG of the tab into shots/name.png; true when it looks like a picture."""
        r = self.call("Page.captureScreenshot", format="png")
        path = os.path.join(self.shots, name + ".png")
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))
        return os.path.getsize(path) > 1000

    def close(self):
        self.ws.close()


def start_chromium(profile, chromium=None):
    """Headless Chromium with its DevTools on a port of its choosing: (process, port)."""
    args = [chromium or os.environ.get("WS_CHROMIUM", "chromium"), "--headless",
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--remote-allow-origins=*", "--window-size=1280,900",
            "--user-data-dir=" + profile, "--remote-debugging-port=0", "about:blank"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = os.path.join(profile, "DevToolsActivePort")
    end = time.time() + 30
    while time.time() < end and not os.path.exists(port_file):
        time.sleep(0.1)
    with open(port_file) as f:
        port = f.read().split("\n")[0]
    return proc, int(port)


def first_page(port, **kw):
    """A Page on Chromium's first tab."""
    with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=10) as r:
        tabs = json.loads(r.read().decode())
    tab = [t for t in tabs if t.get("type") == "page"][0]
    return Page(tab["webSocketDebuggerUrl"], **kw)


def stop_chromium(proc):
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
