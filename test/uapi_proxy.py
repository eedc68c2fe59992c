#!/usr/bin/python3
"""uapi_proxy.py LISTEN_SOCK UPSTREAM_SOCK CONTROL_DIR: a WireGuard UAPI socket that
forwards to a real one (wireguard-go) and can stop a client in the middle of a set, for
test/agentfault.test. CONTROL_DIR/mode, read at each set request:
  pass     forward the request and the reply (also when the file is missing)
  hold     forward the whole request, read the daemon's reply, but never answer the
           client: the peers are configured and the client still waits for errno=
  cut N    forward the request only up to the public_key line of its N-th peer and the
           line after it, then close the daemon's side: it applies a truncated set (the
           N-th peer without its allowed IPs), and the client waits for an answer
After hold or cut the mode goes back to pass, CONTROL_DIR/held says what was done, and the
client's connection stays open until it closes it (the test kills the client)."""
import os
import socket
import sys
import threading


def read_request(conn):
    """Bytes up to and including the blank line that ends a UAPI request."""
    data = b""
    while not data.endswith(b"\n\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def upstream_call(path, data, want_reply=True):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(data)
    reply = b""
    if want_reply:
        while not reply.endswith(b"\n\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    s.close()
    return reply


def note(control, text):
    tmp = os.path.join(control, "held.tmp")
    with open(tmp, "w") as f:
        f.write(text + "\n")
    os.rename(tmp, os.path.join(control, "held"))


def serve(conn, upstream, control):
    try:
        req = read_request(conn)
        if not req:
            return
        mode = "pass"
        if req.startswith(b"set=1"):
            try:
                with open(os.path.join(control, "mode")) as f:
                    mode = f.read().strip() or "pass"
            except OSError:
                pass
        if mode == "pass":
            conn.sendall(upstream_call(upstream, req))
            return
        with open(os.path.join(control, "mode"), "w") as f:
            f.write("pass\n")
        if mode == "hold":
            reply = upstream_call(upstream, req)
            note(control, "hold: daemon replied " + reply.decode(errors="replace").strip())
        else:
            n = int(mode.split()[1])
            lines = req.split(b"\n")
            out, seen = [], 0
            for i, line in enumerate(lines):
                out.append(line)
                if line.startswith(b"public_key="):
                    seen += 1
                    if seen == n:
                        if i + 1 < len(lines):
                            out.append(lines[i + 1])
                        break
            upstream_call(upstream, b"\n".join(out) + b"\n", want_reply=False)
            note(control, "cut after peer %d of %d" % (seen, req.count(b"public_key=")))
        # the client waits for an answer that never comes, until it dies
        while conn.recv(4096):
            pass
    except OSError:
        pass
    finally:
        conn.close()


def main():
    if len(sys.argv) != 4:
        sys.stderr.write(__doc__)
        sys.exit(2)
    listen, upstream, control = sys.argv[1:]
    try:
        os.unlink(listen)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(listen)
    srv.listen(16)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, upstream, control), daemon=True).start()


if __name__ == "__main__":
    main()
