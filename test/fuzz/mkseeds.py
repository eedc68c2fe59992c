#!/usr/bin/python3
"""Writes the netlink seeds of the fuzz corpus (run from test/fuzz/, as root for netmon).

wgnl: WireGuard generic netlink messages laid out as the kernel's get_device_dump() writes
them (nested attributes flagged NLA_F_NESTED, a peer split over two messages, NLMSG_DONE),
plus a SET_DEVICE request. netmon: a real rtnetlink dump of this host's links, addresses,
routes and neighbours (RTM_GETLINK/GETADDR/GETROUTE/GETNEIGH), concatenated, as netmon_read
would receive it, and a few handmade ones (a default route via a gateway with its MAC)."""
import os
import socket
import struct
import sys

NLA_F_NESTED = 0x8000
NLM_F_MULTI, NLM_F_REQUEST, NLM_F_DUMP = 0x2, 0x1, 0x300
NLMSG_DONE = 3
WG_FAMILY = 0x1c  # any genl family id: the parser does not look at it


def pad(b):
    return b + b"\0" * (-len(b) % 4)


def attr(t, payload, nested=False):
    return pad(struct.pack("=HH", 4 + len(payload), t | (NLA_F_NESTED if nested else 0)) + payload)


def nest(t, items):
    return attr(t, b"".join(items), nested=True)


def nlmsg(mtype, flags, payload, seq=1):
    return pad(struct.pack("=IHHII", 16 + len(payload), mtype, flags, seq, 0) + payload)


def genl(cmd, attrs, flags=NLM_F_MULTI):
    return nlmsg(WG_FAMILY, flags, struct.pack("=BBH", cmd, 1, 0) + b"".join(attrs))


def done():
    return nlmsg(NLMSG_DONE, NLM_F_MULTI, struct.pack("=i", 0))


def sin(addr, port):
    return struct.pack("=H", socket.AF_INET) + struct.pack(">H", port) + \
        socket.inet_pton(socket.AF_INET, addr) + b"\0" * 8


def sin6(addr, port):
    return struct.pack("=H", socket.AF_INET6) + struct.pack(">HI", port, 0) + \
        socket.inet_pton(socket.AF_INET6, addr) + struct.pack("=I", 0)


def allowed(cidr):
    a, p = cidr.split("/")
    fam = socket.AF_INET6 if ":" in a else socket.AF_INET
    return nest(0, [attr(1, struct.pack("=H", fam)), attr(2, socket.inet_pton(fam, a)),
                    attr(3, struct.pack("=B", int(p)))])


def peer(key, endpoint=None, ips=(), keepalive=0, hs=(0, 0), rx=0, tx=0, flags=None, head=True):
    items = [attr(1, key)]
    if head:
        items.append(attr(2, b"\0" * 32))
        if flags is not None:
            items.append(attr(3, struct.pack("=I", flags)))
        if endpoint is not None:
            items.append(attr(4, endpoint))
        items += [attr(5, struct.pack("=H", keepalive)), attr(6, struct.pack("=qq", *hs)),
                  attr(7, struct.pack("=Q", rx)), attr(8, struct.pack("=Q", tx)),
                  attr(10, struct.pack("=I", 1))]
    if ips:
        items.append(nest(9, [allowed(c) for c in ips]))
    return nest(0, items)


def device_head(ifname=b"wg0\0", peers=()):
    return [attr(1, struct.pack("=I", 7)), attr(2, ifname), attr(3, bytes(range(32))),
            attr(4, bytes(range(32, 64))), attr(6, struct.pack("=H", 51820)),
            attr(7, struct.pack("=I", 0)), nest(8, list(peers))]


def wgnl(d):
    k1, k2, k3 = (bytes([i]) * 32 for i in (0x11, 0x22, 0x33))
    p1 = peer(k1, sin("192.0.2.10", 51820), ["10.9.0.2/32", "fd00::2/128"], 25,
              (1700000000, 5), 1000, 2000)
    p2 = peer(k2, sin6("2001:db8::5", 41000), ["10.9.0.3/32", "192.168.50.0/24"])
    p3a = peer(k3, None, ["0.0.0.0/0"])
    p3b = peer(k3, ips=["::/0", "10.0.0.0/8"], head=False)
    w = lambda n, b: open(os.path.join(d, n), "wb").write(b)
    w("get-dump", genl(0, device_head(peers=[p1, p2, p3a])) + done())
    w("get-split", genl(0, device_head(peers=[p1, p3a])) +
      genl(0, [attr(2, b"wg0\0"), nest(8, [p3b])]) + done())
    w("get-empty", genl(0, device_head()) + done())
    w("set-request", genl(1, [attr(2, b"wg0\0"), nest(8, [
        peer(k1, sin("198.51.100.1", 1), ["10.9.0.9/32"], 25, flags=2),
        nest(0, [attr(1, k2), attr(3, struct.pack("=I", 1))])])], flags=NLM_F_REQUEST | 4))


RTM = {"link": (18, 16), "addr": (22, 8), "route": (26, 12), "neigh": (30, 12)}


def rtnl_dump(kind, family=0):
    mtype, hlen = RTM[kind]
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)  # NETLINK_ROUTE
    s.bind((0, 0))
    body = struct.pack("=B", family) + b"\0" * (hlen - 1)
    s.send(nlmsg(mtype, NLM_F_REQUEST | NLM_F_DUMP, body))
    out = b""
    while True:
        data = s.recv(65536)
        off = 0
        while off + 16 <= len(data):
            ln, t = struct.unpack_from("=IH", data, off)
            if t == NLMSG_DONE:
                return out
            out += data[off:off + ln] + b"\0" * (-ln % 4)
            off += (ln + 3) & ~3


def rta(t, payload):
    return attr(t, payload)


def netmon_handmade():
    """A LAN host: eth0 up, 192.168.1.10/24 and a global v6, default via 192.168.1.1 whose
    MAC is known, plus a wg0 that must be ignored when excluded."""
    link = lambda idx, name, flags: nlmsg(16, NLM_F_MULTI, struct.pack("=BxHiII", 0, 1, idx, flags, 0) +
                                          rta(3, name + b"\0") + rta(4, struct.pack("=I", 1500)))
    addr = lambda fam, a, plen, idx: nlmsg(20, NLM_F_MULTI, struct.pack("=BBBBI", fam, plen, 0, 0, idx) +
                                           rta(2, socket.inet_pton(fam, a)) + rta(1, socket.inet_pton(fam, a)))
    route = lambda fam, gw, idx, prio: nlmsg(24, NLM_F_MULTI, struct.pack("=BBBBBBBBI", fam, 0, 0, 0, 254, 3, 0, 1, 0) +
                                             rta(15, struct.pack("=I", 254)) + rta(5, socket.inet_pton(fam, gw)) +
                                             rta(4, struct.pack("=I", idx)) + rta(6, struct.pack("=I", prio)))
    neigh = lambda fam, a, mac, idx: nlmsg(28, NLM_F_MULTI, struct.pack("=BxxxiHBB", fam, idx, 2, 0, 1) +
                                           rta(1, socket.inet_pton(fam, a)) + rta(2, mac))
    return (link(1, b"lo", 0x49) + link(2, b"eth0", 0x11043) + link(3, b"wg0", 0x91) + done() +
            addr(socket.AF_INET, "192.168.1.10", 24, 2) + addr(socket.AF_INET6, "2001:db8:1::10", 64, 2) +
            addr(socket.AF_INET, "10.9.0.1", 32, 3) + done() +
            route(socket.AF_INET, "192.168.1.1", 2, 100) + route(socket.AF_INET, "10.9.0.254", 3, 50) +
            route(socket.AF_INET6, "fe80::1", 2, 1024) + done() +
            neigh(socket.AF_INET, "192.168.1.1", bytes.fromhex("0a1b2c3d4e5f"), 2) +
            neigh(socket.AF_INET6, "fe80::1", bytes.fromhex("0a1b2c3d4e5f"), 2) + done())


def netmon(d):
    w = lambda n, b: open(os.path.join(d, n), "wb").write(b)
    w("lan-host", b"\x00" + netmon_handmade())
    w("lan-host-exclude-wg0", b"\x01" + netmon_handmade())
    try:
        live = b"".join(rtnl_dump(k) + done() for k in ("link", "addr", "route", "neigh"))
        w("this-host", b"\x00" + live)
    except OSError as e:
        print("netmon: no live dump: %s" % e, file=sys.stderr)


if __name__ == "__main__":
    wgnl("corpus/wgnl")
    netmon("corpus/netmon")
