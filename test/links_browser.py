#!/usr/bin/python3
"""The /links page in headless Chromium while a tunnel is cut (test/linksns.test, issue 16:
"a tunnel cut turns its edge red within 10 s without a reload"). Runs in the server's
namespace (the console listens on its loopback), over the DevTools protocol (test/cdp.py):

    WS_WEB=127.0.0.1:PORT WS_SHOTS=DIR WS_TMP=DIR WS_CUT='shell command' \
        WS_HOSTS='a1=10.9.0.1 ...' python3 links_browser.py

First checks that the hosts page (/) lists exactly the hosts of WS_HOSTS, each online with
its tunnel address. Then waits for the edges a1-b1 and a2-b1 to be up, runs WS_CUT (the nft cut of a1-b1) and polls
the page's DOM until a1-b1's edge (its <line>'s data-state) is "down". Prints one line per
check, "PASS<TAB>what" or "FAIL<TAB>what<TAB>detail", and "NOTE<TAB>cut to red edge: X.X s"
for the shell to count; exit 0 when every check passed.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import cdp

WEB = os.environ["WS_WEB"]
BOUND = float(os.environ.get("WS_BOUND", "60"))
failed = 0


def check(cond, what, detail=""):
    global failed
    if cond:
        print("PASS\t%s" % what, flush=True)
    else:
        failed += 1
        print("FAIL\t%s\t%s" % (what, str(detail).replace("\n", " ")[:400]), flush=True)
    return cond


# The data-state of the edge between hosts a and b: the table's rows and the picture's
# lines come in one order (server/web_pages.c render_links).
STATE = """(function (a, b) {
  var rows = Array.from(document.querySelectorAll('#links tbody tr'));
  var lines = document.querySelectorAll('#mesh line');
  for (var i = 0; i < rows.length; i++) {
    var t = rows[i].querySelectorAll('td');
    var x = t[0].textContent, y = t[1].textContent;
    if ((x === a && y === b) || (x === b && y === a))
      return lines[i] ? lines[i].getAttribute('data-state') : 'no line';
  }
  return 'no row';
})('%s', '%s')"""


def state(p, a, b):
    try:
        return p.js(STATE % (a, b))
    except RuntimeError as e:
        return repr(e)


def page_id(p):
    """What stays while the page is not reloaded: its time origin and our mark."""
    return p.js("[performance.timeOrigin, window.wsMark || '', "
                "performance.getEntriesByType('navigation').length]")


def updates(p):
    return int(p.js("document.body.getAttribute('data-updates') || '0'") or 0)


# Each row of the hosts page: name, tunnel addresses, online cell.
HOSTS = """Array.from(document.querySelectorAll('#hosts tbody tr')).map(function (r) {
  var t = r.querySelectorAll('td');
  return [t[0].textContent, t[3].textContent, t[4].className];
})"""


def hosts_page(p):
    """The hosts page lists every host of the mesh, each online, with its tunnel address."""
    want = dict(x.split("=") for x in os.environ.get("WS_HOSTS", "").split())
    check(p.go("/"), "Chromium loads / (hosts) with its event stream open")
    ok = p.wait("(function (w) { var r = %s; return r.length === Object.keys(w).length && "
                "r.every(function (x) { return w[x[0]] === x[1] && x[2] === 'online'; }); })"
                "(%s)" % (HOSTS, json.dumps(want)), timeout=30, every=0.2)
    rows = p.js(HOSTS)
    check(ok and len(want) == 3, "the hosts page lists every host of the mesh (%s), online, "
          "with its tunnel address" % " ".join(sorted(want)), rows)
    check(p.shot("linksns-hosts"), "screenshot linksns-hosts.png")


def run(p):
    p.call("Page.enable")
    p.call("Runtime.enable")
    hosts_page(p)
    check(p.go("/links"), "Chromium loads /links with its event stream open (data-live=1)")
    up = p.wait("%s === 'up' && %s === 'up'" % (STATE % ("a1", "b1"), STATE % ("a2", "b1")),
                timeout=60, every=0.2)
    if not check(up, "/links: the edges a1-b1 and a2-b1 are up before the cut",
                 "a1-b1 %s, a2-b1 %s" % (state(p, "a1", "b1"), state(p, "a2", "b1"))):
        p.shot("links-cut")
        return
    p.shot("links-before-cut")
    p.js("window.wsMark = 'kept'; true")
    before, n0 = page_id(p), updates(p)
    t0 = time.time()
    r = subprocess.run(["sh", "-c", os.environ["WS_CUT"]], capture_output=True, text=True)
    if not check(r.returncode == 0, "a1-b1 cut (WS_CUT)", r.stderr):
        return
    got, took = None, None
    while time.time() < t0 + BOUND + 60:
        got = state(p, "a1", "b1")
        if got == "down":
            took = time.time() - t0
            break
        time.sleep(0.1)
    if took is not None:
        print("NOTE\tcut to red edge: %.1f s" % took, flush=True)
    check(took is not None and took <= BOUND, "/links: a1-b1's edge turns down (red) within "
          "%d s of the cut" % BOUND, "state %s after %.1f s" % (got, time.time() - t0))
    check(state(p, "a2", "b1") == "up", "/links: a2-b1's edge stays up",
          state(p, "a2", "b1"))
    after, n1 = page_id(p), updates(p)
    check(after == before and before[1] == "kept" and before[2] == 1 and n1 > n0,
          "without a reload: the same time origin and mark, the page updated in place "
          "(data-updates %d -> %d)" % (n0, n1), "%r -> %r" % (before, after))
    check(p.shot("links-cut"), "screenshot links-cut.png")


def main():
    profile = tempfile.mkdtemp(prefix="ws-chromium-", dir=os.environ.get("WS_TMP"))
    proc = None
    try:
        proc, port = cdp.start_chromium(profile)
        run(cdp.first_page(port, base="http://" + WEB, shots=os.environ["WS_SHOTS"]))
    except Exception as e:  # a broken browser run is a failure, shown
        check(False, "the Chromium run completes", repr(e))
    finally:
        cdp.stop_chromium(proc)
        shutil.rmtree(profile, ignore_errors=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
