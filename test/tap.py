"""test/tap.py - what the Python test drivers share: "ok - ..." / "not ok - ..." lines
with their detail indented, the closing "N passed, M failed" line, and a CA's CRL in DER."""
import os
import subprocess

counts = {"passed": 0, "failed": 0}


def check(ok, what, detail=""):
    if ok:
        counts["passed"] += 1
        print("ok - " + what)
    else:
        counts["failed"] += 1
        print("not ok - " + what)
        for line in str(detail).splitlines():
            print("#   " + line)


def summary():
    """Prints the closing line; the exit status the driver should end with."""
    print("%d passed, %d failed" % (counts["passed"], counts["failed"]))
    return 1 if counts["failed"] else 0


def crl_der(ca_dir):
    """ca_dir's ca.crl (as wiresync-ca writes it, PEM) in DER, as the server relays it."""
    return subprocess.run(["openssl", "crl", "-in", os.path.join(ca_dir, "ca.crl"),
                           "-outform", "DER"], check=True, capture_output=True).stdout
