#!/usr/bin/env python3
"""test/tls_sink.py - a TLS server that serves nothing and logs what each client did.

Usage: tls_sink.py CHAIN KEY PORTFILE LOG [--alpn h2]

Listens on 127.0.0.1 (port 0; the port goes to PORTFILE), completes TLS handshakes with
CHAIN (leaf first, the CA appended, as wiresyncd's enroll_listen sends it) and KEY, and
for every connection appends one line to LOG:
    conn N handshake=ok alpn=PROTO bytes=M
    conn N handshake=failed bytes=0 error=...
bytes is the application data the client sent after the handshake (read for 2 s): for a
join refused at the CA pin it must stay 0.
"""
import socket
import ssl
import sys


def main():
    chain, key, portfile, log = sys.argv[1:5]
    alpn = sys.argv[6] if len(sys.argv) > 6 and sys.argv[5] == "--alpn" else None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain, key)
    if alpn:
        ctx.set_alpn_protocols([alpn])
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % lsock.getsockname()[1])
    import os
    os.rename(portfile + ".tmp", portfile)
    n = 0
    while True:
        conn, _ = lsock.accept()
        n += 1
        conn.settimeout(5)
        tls = ctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        try:
            tls.do_handshake()
        except (ssl.SSLError, OSError) as e:
            line = "conn %d handshake=failed bytes=0 error=%s" % (n, str(e).replace("\n", " "))
            tls.close()
        else:
            got = 0
            tls.settimeout(2)
            try:
                while True:
                    b = tls.recv(65536)
                    if not b:
                        break
                    got += len(b)
            except (socket.timeout, ssl.SSLError, OSError):
                pass
            line = "conn %d handshake=ok alpn=%s bytes=%d" % (n, tls.selected_alpn_protocol(), got)
            tls.close()
        with open(log, "a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
