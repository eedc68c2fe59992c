#!/usr/bin/env python3
"""Packet counting for test/relay.test, run inside a network namespace.

  sniff OUT PATTERN_HEX      capture every frame on every interface (AF_PACKET) until
                             SIGTERM, then write to OUT: frames, frames holding PATTERN,
                             UDP datagrams of 148 bytes starting 01 00 00 00 arriving
                             (WireGuard initiations), and the first such initiation in hex
  send SRC_IP DST_IP:PORT HEX   send one UDP datagram from SRC_IP
"""
import signal
import socket
import sys


def udp_payload(frame):
    # Ethernet (lo and veth both give a 14-byte header), then IPv4
    if len(frame) < 14 + 20 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    if ip[9] != 17 or len(ip) < ihl + 8:
        return None
    return ip[ihl + 8:]


def sniff(out, pattern):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
    s.settimeout(0.2)
    counts = {"frames": 0, "pattern": 0, "init": 0}
    first = [""]
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *a: stop.__setitem__(0, True))
    # the caller waits for this file before it starts the traffic
    open(out + ".ready", "w").close()
    while not stop[0]:
        try:
            frame, addr = s.recvfrom(65535)
        except socket.timeout:
            continue
        counts["frames"] += 1
        if pattern in frame:
            counts["pattern"] += 1
        p = udp_payload(frame)
        # initiations only as they arrive here, not those this namespace sends
        if addr[2] != socket.PACKET_OUTGOING and p is not None and len(p) == 148 and p[:4] == b"\x01\x00\x00\x00":
            counts["init"] += 1
            if not first[0]:
                first[0] = p.hex()
    with open(out, "w") as f:
        for k, v in counts.items():
            f.write("%s=%d\n" % (k, v))
        f.write("first_init=%s\n" % first[0])


def send(src, dst, data):
    host, port = dst.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.sendto(bytes.fromhex(data), (host, int(port)))


if __name__ == "__main__":
    if sys.argv[1] == "sniff":
        sniff(sys.argv[2], bytes.fromhex(sys.argv[3]))
    elif sys.argv[1] == "send":
        send(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit("usage: relay_sniff.py sniff OUT PATTERN | send SRC DST:PORT HEX")
