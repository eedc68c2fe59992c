/* What the host's network looks like to the agent, and notice when it changes: libnl-route-3
 * caches and a netlink socket subscribed to link, address, route and neighbour groups. */
#ifndef WS_NETMON_H
#define WS_NETMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/netaddr.h"
#include "rpc/loop.h"

#define NETMON_LAN_MAX 8

struct net_state {
	bool has_default;             /* a default route exists (IPv4, else IPv6) */
	char ifname[16];              /* interface carrying the default route */
	struct netaddr gateway;       /* its next hop */
	bool has_gateway_mac;
	uint8_t gateway_mac[6];       /* from the neighbour table: the LAN's identity */
	size_t n_lan;
	struct netaddr lan[NETMON_LAN_MAX]; /* global addresses of ifname, with prefix */
};

struct netmon;

/* Opens the netlink sockets and subscribes. changed runs (in the loop, never re-entrantly)
 * whenever a link, address, route or neighbour event arrives; the caller debounces.
 * exclude_ifname (may be NULL) is ignored (the WireGuard interface itself). Returns NULL
 * with errno set. */
struct netmon *netmon_new(struct loop *l, const char *exclude_ifname,
    void (*changed)(void *arg), void *arg);
void netmon_del(struct netmon *m);

/* Reads the current state. When the gateway's MAC is not in the neighbour table yet, asks
 * the kernel to resolve it (a packet toward the gateway); a later neighbour event then
 * calls changed again. Returns 0 or a negative errno. */
int netmon_read(struct netmon *m, struct net_state *out);

/* True when a and b would produce the same report. */
bool net_state_equal(const struct net_state *a, const struct net_state *b);

/* Exposed for tests and fuzzing: what netmon_read would report from the rtnetlink dump
 * messages in buf (4-byte aligned; RTM_NEWLINK, RTM_NEWROUTE, RTM_NEWADDR and RTM_NEWNEIGH
 * back to back, anything else skipped), never resolving anything. Returns 0, -EINVAL
 * (exclude_ifname too long), -EPROTO (a message libnl refuses, or a route libnl would
 * loop on: a multipath nexthop shorter than its header) or -ENOMEM. */
int netmon_parse(const void *buf, size_t len, const char *exclude_ifname, struct net_state *out);

#endif
