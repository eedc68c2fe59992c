/* Network discovery and change notification over rtnetlink (libnl-route-3).
 *
 * Two sockets: an event socket subscribed to the link, address, route and neighbour groups,
 * which only says "something changed", and a sync socket that netmon_read uses to dump the
 * four tables afresh. Reads happen only after (debounced) events, so re-querying everything
 * is cheap enough and never goes stale. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netlink/addr.h>
#include <netlink/attr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

#include "agent/netmon.h"
#include "rpc/log.h"

/* Datagrams read per readable event before yielding to the loop (level-triggered: the rest
 * wakes us again). */
#define NETMON_RECV_MAX 64
/* Receive buffer of the event socket; an overrun (ENOBUFS) only means "changed". */
#define NETMON_RCVBUF (1 << 20)
/* A gateway that failed to resolve is asked again at most this often (and only when an
 * event makes the agent read): a dead gateway must not turn into a probe loop. */
#define NETMON_RESOLVE_RETRY_MS 30000
/* The discard service: whatever answers (or an ICMP error) is irrelevant; the ARP or
 * neighbour solicitation the kernel sends first is the point. */
#define NETMON_DISCARD_PORT 9

struct netmon {
	struct loop *loop;
	char exclude[IFNAMSIZ];
	void (*changed)(void *arg);
	void *arg;
	struct nl_sock *ev;     /* subscribed, non-blocking, on the loop */
	struct nl_sock *sync;   /* blocking, for dumps */
	struct loop_io io;
	bool io_added;
	struct loop_defer defer;
	bool dirty;             /* set by the event callback during one readable batch */
	/* The last resolution we asked for; cleared once the gateway has a MAC. */
	bool kicked;
	int kicked_ifindex;
	struct netaddr kicked_gw;
	uint64_t kicked_ms;
};

/* The default route netmon_read chose. */
struct netmon_route {
	bool found;
	int family;
	uint32_t priority;
	int ifindex;
	char ifname[IFNAMSIZ];
	unsigned link_flags;
	struct netaddr gateway;
};

static int
netmon_nlerr(int err)
{
	switch (err < 0 ? -err : err) {
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_PERM:
		return -EPERM;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_NOADDR:
		return -EADDRNOTAVAIL;
	default:
		return -EIO;
	}
}

/* Fills out from a 4- or 16-byte libnl address; false for anything else. */
static bool
netmon_addr(struct nl_addr *a, unsigned prefix, struct netaddr *out)
{
	int family;
	unsigned len, max;

	memset(out, 0, sizeof(*out));
	if (a == NULL)
		return false;
	family = nl_addr_get_family(a);
	len = nl_addr_get_len(a);
	if (family == AF_INET && len == 4)
		max = 32;
	else if (family == AF_INET6 && len == 16)
		max = 128;
	else
		return false;
	out->family = (uint8_t)family;
	out->prefix = (uint8_t)(prefix > max ? max : prefix);
	memcpy(out->addr, nl_addr_get_binary_addr(a), len);
	return true;
}

/* Same family and address bytes; prefixes ignored. */
static bool
netmon_same_host(const struct netaddr *a, const struct netaddr *b)
{
	return a->family != 0 && a->family == b->family && memcmp(a->addr, b->addr, 16) == 0;
}

static int
netmon_addr_cmp(const struct netaddr *a, const struct netaddr *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1; /* AF_INET before AF_INET6 */
	c = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (c != 0)
		return c;
	return (int)a->prefix - (int)b->prefix;
}

/* ------------------------------------------------------------------------------ events */

static int
netmon_event(struct nl_msg *msg, void *arg)
{
	struct netmon *m = arg;

	(void)msg;
	m->dirty = true;
	return NL_OK;
}

static void
netmon_fire(void *arg)
{
	struct netmon *m = arg;

	if (m->changed != NULL)
		m->changed(m->arg);
}

static void
netmon_readable(void *arg, uint32_t events)
{
	struct netmon *m = arg;
	int err;

	(void)events;
	for (int i = 0; i < NETMON_RECV_MAX; i++) {
		err = nl_recvmsgs_default(m->ev);
		if (err == -NLE_AGAIN)
			break;
		if (err == -NLE_NOMEM) {
			/* ENOBUFS: the kernel dropped events; we no longer know what changed. */
			log_debug("netmon: event socket overrun; rereading everything");
			m->dirty = true;
			continue;
		}
		if (err < 0) {
			log_warnx("netmon: reading events: %s", nl_geterror(err));
			m->dirty = true;
			break;
		}
	}
	if (m->dirty) {
		m->dirty = false;
		loop_defer(m->loop, &m->defer, netmon_fire, m);
	}
}

struct netmon *
netmon_new(struct loop *l, const char *exclude_ifname, void (*changed)(void *arg), void *arg)
{
	struct netmon *m = NULL;
	int err, r, saved;

	if (exclude_ifname != NULL && strlen(exclude_ifname) >= IFNAMSIZ) {
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->loop = l;
	if (exclude_ifname != NULL)
		strcpy(m->exclude, exclude_ifname);
	m->changed = changed;
	m->arg = arg;

	m->ev = nl_socket_alloc();
	m->sync = nl_socket_alloc();
	if (m->ev == NULL || m->sync == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	nl_socket_disable_seq_check(m->ev);
	nl_socket_enable_msg_peek(m->ev);
	err = nl_socket_modify_cb(m->ev, NL_CB_VALID, NL_CB_CUSTOM, netmon_event, m);
	if (err == 0)
		err = nl_connect(m->ev, NETLINK_ROUTE);
	if (err == 0)
		err = nl_socket_add_memberships(m->ev, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR,
		    RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, RTNLGRP_NEIGH, 0);
	if (err == 0)
		err = nl_socket_set_nonblocking(m->ev);
	if (err == 0)
		err = nl_socket_set_buffer_size(m->ev, NETMON_RCVBUF, 0);
	if (err == 0)
		err = nl_connect(m->sync, NETLINK_ROUTE);
	if (err < 0) {
		log_warnx("netmon: netlink: %s", nl_geterror(err));
		r = netmon_nlerr(err);
		goto fail;
	}
	r = loop_io_add(l, &m->io, nl_socket_get_fd(m->ev), EPOLLIN, netmon_readable, m);
	if (r < 0)
		goto fail;
	m->io_added = true;
	return m;

fail:
	saved = -r;
	netmon_del(m);
	errno = saved;
	return NULL;
}

void
netmon_del(struct netmon *m)
{
	if (m == NULL)
		return;
	loop_defer_cancel(m->loop, &m->defer);
	if (m->io_added)
		loop_io_del(m->loop, &m->io);
	nl_socket_free(m->sync); /* closes its fd; accepts NULL */
	nl_socket_free(m->ev);
	free(m);
}

/* ------------------------------------------------------------------------------- reading */

static bool
netmon_excluded(const char *exclude, const char *ifname)
{
	return exclude[0] != '\0' && strcmp(exclude, ifname) == 0;
}

/* Considers one route as the default; keeps the lowest metric per family. */
static void
netmon_route_consider(const char *exclude, struct nl_cache *links, struct rtnl_route *rt,
    struct netmon_route *best)
{
	struct nl_addr *dst = rtnl_route_get_dst(rt), *src = rtnl_route_get_src(rt);
	int n = rtnl_route_get_nnexthops(rt);

	if (rtnl_route_get_table(rt) != RT_TABLE_MAIN || rtnl_route_get_type(rt) != RTN_UNICAST)
		return;
	if (dst != NULL && nl_addr_get_prefixlen(dst) != 0)
		return;
	if (src != NULL && nl_addr_get_prefixlen(src) != 0)
		return; /* source-specific: not the default for everyone */
	if (best->found && best->priority <= rtnl_route_get_priority(rt))
		return;
	for (int i = 0; i < n; i++) {
		struct rtnl_nexthop *nh = rtnl_route_nexthop_n(rt, i);
		struct rtnl_link *link;
		const char *name;
		int ifindex;

		if (nh == NULL)
			continue;
		if (rtnl_route_nh_get_flags(nh) & (RTNH_F_DEAD | RTNH_F_LINKDOWN))
			continue;
		ifindex = rtnl_route_nh_get_ifindex(nh);
		link = ifindex > 0 ? rtnl_link_get(links, ifindex) : NULL;
		if (link == NULL)
			continue;
		name = rtnl_link_get_name(link);
		/* a nameless link could be neither reported nor bound to when resolving */
		if (name == NULL || name[0] == '\0' || strlen(name) >= IFNAMSIZ ||
		    netmon_excluded(exclude, name)) {
			rtnl_link_put(link);
			continue;
		}
		best->found = true;
		best->family = rtnl_route_get_family(rt);
		best->priority = rtnl_route_get_priority(rt);
		best->ifindex = ifindex;
		strcpy(best->ifname, name);
		best->link_flags = rtnl_link_get_flags(link);
		/* A route without a usable gateway (point-to-point, RTA_VIA) has no LAN identity. */
		if (!netmon_addr(rtnl_route_nh_get_gateway(nh), 128, &best->gateway))
			memset(&best->gateway, 0, sizeof(best->gateway));
		rtnl_link_put(link);
		return;
	}
}

static bool
netmon_lan_usable(struct rtnl_addr *a, const struct netaddr *na)
{
	unsigned flags = rtnl_addr_get_flags(a);

	if (rtnl_addr_get_scope(a) != RT_SCOPE_UNIVERSE)
		return false;
	if (na->family == AF_INET)
		return !(na->addr[0] == 169 && na->addr[1] == 254);
	if (na->addr[0] == 0xfe && (na->addr[1] & 0xc0) == 0x80)
		return false;
	/* IFA_F_TEMPORARY (privacy addresses, rotated daily) shares its bit with IPv4's
	 * IFA_F_SECONDARY, hence only here: peers reach us at the stable address. */
	return !(flags & (IFA_F_TENTATIVE | IFA_F_DEPRECATED | IFA_F_DADFAILED |
	    IFA_F_TEMPORARY));
}

/* Inserts into the sorted, bounded list; past NETMON_LAN_MAX the largest is dropped, so the
 * result does not depend on the kernel's dump order. */
static void
netmon_lan_insert(struct net_state *out, const struct netaddr *na)
{
	size_t i;

	for (i = out->n_lan; i > 0 && netmon_addr_cmp(&out->lan[i - 1], na) > 0; i--)
		if (i < NETMON_LAN_MAX)
			out->lan[i] = out->lan[i - 1];
	if (i >= NETMON_LAN_MAX)
		return;
	out->lan[i] = *na;
	if (out->n_lan < NETMON_LAN_MAX)
		out->n_lan++;
}

static void
netmon_lan_collect(struct nl_cache *addrs, int ifindex, struct net_state *out)
{
	struct nl_object *o;

	for (o = nl_cache_get_first(addrs); o != NULL; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct netaddr na;

		if (rtnl_addr_get_ifindex(a) != ifindex)
			continue;
		if (!netmon_addr(rtnl_addr_get_local(a), (unsigned)rtnl_addr_get_prefixlen(a), &na))
			continue;
		if (netmon_lan_usable(a, &na))
			netmon_lan_insert(out, &na);
	}
}

#define NETMON_NUD_VALID (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT)

/* Looks the gateway up in the neighbour table. Returns its NUD state (0, NUD_NONE, also when
 * there is no entry) and fills the MAC when the state is one that carries a usable one. */
static int
netmon_neigh_find(struct nl_cache *neighs, int ifindex, const struct netaddr *gw,
    struct net_state *out)
{
	struct nl_object *o;

	for (o = nl_cache_get_first(neighs); o != NULL; o = nl_cache_get_next(o)) {
		struct rtnl_neigh *n = (struct rtnl_neigh *)o;
		struct nl_addr *ll;
		struct netaddr dst;
		int state;

		if (rtnl_neigh_get_ifindex(n) != ifindex)
			continue;
		if (!netmon_addr(rtnl_neigh_get_dst(n), 128, &dst) || !netmon_same_host(&dst, gw))
			continue;
		state = rtnl_neigh_get_state(n);
		ll = rtnl_neigh_get_lladdr(n);
		if ((state & NETMON_NUD_VALID) && ll != NULL && nl_addr_get_len(ll) == 6) {
			memcpy(out->gateway_mac, nl_addr_get_binary_addr(ll), 6);
			out->has_gateway_mac = true;
		}
		return state;
	}
	return 0;
}

/* Sends an empty datagram to the gateway's discard port from a socket bound to the
 * interface: the kernel resolves the next hop first, and its neighbour event follows. */
static void
netmon_resolve(const struct netmon_route *rt)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} to;
	socklen_t tolen;
	char buf[NETADDR_STRLEN];
	int fd;

	memset(&to, 0, sizeof(to));
	if (rt->gateway.family == AF_INET) {
		to.sin.sin_family = AF_INET;
		to.sin.sin_port = htons(NETMON_DISCARD_PORT);
		memcpy(&to.sin.sin_addr, rt->gateway.addr, 4);
		tolen = sizeof(to.sin);
	} else {
		to.sin6.sin6_family = AF_INET6;
		to.sin6.sin6_port = htons(NETMON_DISCARD_PORT);
		memcpy(&to.sin6.sin6_addr, rt->gateway.addr, 16);
		to.sin6.sin6_scope_id = (uint32_t)rt->ifindex; /* link-local gateways (fe80::) */
		tolen = sizeof(to.sin6);
	}
	netaddr_format(&rt->gateway, false, buf);
	log_debug("netmon: resolving gateway %s on %s", buf, rt->ifname);
	fd = socket(rt->gateway.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_warn("netmon: socket for resolving %s", buf);
		return;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, rt->ifname, strlen(rt->ifname) + 1) < 0)
		log_debug("netmon: SO_BINDTODEVICE %s: %s (sending unbound)", rt->ifname,
		    strerror(errno));
	if (sendto(fd, "", 0, 0, &to.sa, tolen) < 0)
		log_debug("netmon: probe to %s on %s: %s", buf, rt->ifname, strerror(errno));
	close(fd);
}

/* Decides whether to ask the kernel to resolve the gateway, given its neighbour state. */
static void
netmon_maybe_resolve(struct netmon *m, const struct netmon_route *rt, int state)
{
	bool same;
	uint64_t now = loop_now_ms(m->loop);

	if (state & (NUD_INCOMPLETE | NETMON_NUD_VALID))
		return; /* resolving already, or resolved */
	same = m->kicked && m->kicked_ifindex == rt->ifindex &&
	    netmon_same_host(&m->kicked_gw, &rt->gateway);
	if (same && now - m->kicked_ms < NETMON_RESOLVE_RETRY_MS)
		return;
	m->kicked = true;
	m->kicked_ifindex = rt->ifindex;
	m->kicked_gw = rt->gateway;
	m->kicked_ms = now;
	netmon_resolve(rt);
}

/* The state the four tables describe, without I/O. Returns true when the default route's
 * gateway can have a neighbour entry; *rt and *state (its NUD state) are then set. */
static bool
netmon_pick(const char *exclude, struct nl_cache *links, struct nl_cache *routes,
    struct nl_cache *addrs, struct nl_cache *neighs, struct net_state *out,
    struct netmon_route *rt, int *state)
{
	struct netmon_route v4 = { 0 }, v6 = { 0 };
	struct nl_object *o;

	memset(out, 0, sizeof(*out));
	for (o = nl_cache_get_first(routes); o != NULL; o = nl_cache_get_next(o)) {
		struct rtnl_route *route = (struct rtnl_route *)o;
		int family = rtnl_route_get_family(route);

		if (family == AF_INET)
			netmon_route_consider(exclude, links, route, &v4);
		else if (family == AF_INET6)
			netmon_route_consider(exclude, links, route, &v6);
	}
	if (!v4.found && !v6.found)
		return false; /* no default route: no LAN */
	*rt = v4.found ? v4 : v6;

	out->has_default = true;
	strcpy(out->ifname, rt->ifname);
	out->gateway = rt->gateway;
	netmon_lan_collect(addrs, rt->ifindex, out);
	if (rt->gateway.family == 0 || (rt->link_flags & (IFF_NOARP | IFF_LOOPBACK)))
		return false; /* no neighbour entry will ever exist */
	*state = netmon_neigh_find(neighs, rt->ifindex, &rt->gateway, out);
	return true;
}

int
netmon_read(struct netmon *m, struct net_state *out)
{
	struct nl_cache *links = NULL, *routes = NULL, *addrs = NULL, *neighs = NULL;
	struct netmon_route rt;
	int err, r = 0, state = 0;

	memset(out, 0, sizeof(*out));
	err = rtnl_link_alloc_cache(m->sync, AF_UNSPEC, &links);
	if (err == 0)
		err = rtnl_route_alloc_cache(m->sync, AF_UNSPEC, 0, &routes);
	if (err == 0)
		err = rtnl_addr_alloc_cache(m->sync, &addrs);
	if (err == 0)
		err = rtnl_neigh_alloc_cache(m->sync, &neighs);
	if (err < 0) {
		log_warnx("netmon: reading the routing tables: %s", nl_geterror(err));
		r = netmon_nlerr(err);
		goto out;
	}
	if (!netmon_pick(m->exclude, links, routes, addrs, neighs, out, &rt, &state))
		goto out;
	if (out->has_gateway_mac)
		m->kicked = false; /* a later loss of the entry (roaming) asks again at once */
	else
		netmon_maybe_resolve(m, &rt, state);

out:
	nl_cache_free(neighs); /* all accept NULL */
	nl_cache_free(addrs);
	nl_cache_free(routes);
	nl_cache_free(links);
	return r;
}

bool
net_state_equal(const struct net_state *a, const struct net_state *b)
{
	if (a->has_default != b->has_default)
		return false;
	if (!a->has_default)
		return true;
	if (strncmp(a->ifname, b->ifname, sizeof(a->ifname)) != 0)
		return false;
	if (!netaddr_equal(&a->gateway, &b->gateway))
		return false;
	if (a->has_gateway_mac != b->has_gateway_mac)
		return false;
	if (a->has_gateway_mac && memcmp(a->gateway_mac, b->gateway_mac, 6) != 0)
		return false;
	if (a->n_lan != b->n_lan)
		return false;
	for (size_t i = 0; i < a->n_lan && i < NETMON_LAN_MAX; i++)
		if (!netaddr_equal(&a->lan[i], &b->lan[i]))
			return false;
	return true;
}

/* RTA_VIA carries a family before the address; libnl-route 3.7 builds the address with
 * nla_len - sizeof(struct rtvia) bytes, a negative length for a shorter attribute
 * (found by fuzz_netmon). */
static bool
via_sane(const struct nlattr *via)
{
	return via == NULL || nla_len(via) >= (int)sizeof(struct rtvia);
}

/* False for a route that libnl-route 3.7 cannot parse safely: an RTA_VIA shorter than its
 * family, or an RTA_MULTIPATH nexthop shorter than its header (the parser never steps past
 * one of length 0 and allocates nexthops until memory runs out; found by fuzz_netmon).
 * The kernel never sends either; a buffer may. */
static bool
netmon_route_sane(struct nlmsghdr *nlh)
{
	struct nlattr *tb[RTA_MAX + 1], *ntb[RTA_MAX + 1];
	struct rtnexthop *rtnh;
	int rem;

	if (nlh->nlmsg_type != RTM_NEWROUTE ||
	    nlmsg_parse(nlh, sizeof(struct rtmsg), tb, RTA_MAX, NULL) < 0)
		return true; /* libnl refuses what does not parse */
	if (!via_sane(tb[RTA_VIA]))
		return false;
	if (tb[RTA_MULTIPATH] == NULL)
		return true;
	rtnh = nla_data(tb[RTA_MULTIPATH]);
	rem = nla_len(tb[RTA_MULTIPATH]);
	while (rem >= (int)sizeof(*rtnh)) {
		if (rtnh->rtnh_len < sizeof(*rtnh))
			return false;
		if (rtnh->rtnh_len > rem)
			break;
		if (rtnh->rtnh_len > sizeof(*rtnh) &&
		    nla_parse(ntb, RTA_MAX, (struct nlattr *)RTNH_DATA(rtnh),
		    rtnh->rtnh_len - sizeof(*rtnh), NULL) == 0 && !via_sane(ntb[RTA_VIA]))
			return false;
		rem -= RTNH_ALIGN(rtnh->rtnh_len);
		rtnh = RTNH_NEXT(rtnh);
	}
	return true;
}

int
netmon_parse(const void *buf, size_t len, const char *exclude_ifname, struct net_state *out)
{
	struct nl_cache *links = NULL, *routes = NULL, *addrs = NULL, *neighs = NULL, *c;
	struct netmon_route rt;
	struct nlmsghdr *nlh;
	int rem = len > INT_MAX ? INT_MAX : (int)len, err, r = 0, state = 0;

	memset(out, 0, sizeof(*out));
	if (exclude_ifname == NULL)
		exclude_ifname = "";
	if (strlen(exclude_ifname) >= IFNAMSIZ)
		return -EINVAL;
	if (nl_cache_alloc_name("route/link", &links) < 0 ||
	    nl_cache_alloc_name("route/route", &routes) < 0 ||
	    nl_cache_alloc_name("route/addr", &addrs) < 0 ||
	    nl_cache_alloc_name("route/neigh", &neighs) < 0) {
		r = -ENOMEM;
		goto out;
	}
	for (nlh = (struct nlmsghdr *)buf; nlmsg_ok(nlh, rem); nlh = nlmsg_next(nlh, &rem)) {
		struct nl_msg *msg;

		switch (nlh->nlmsg_type) {
		case RTM_NEWLINK: c = links; break;
		case RTM_NEWROUTE: c = routes; break;
		case RTM_NEWADDR: c = addrs; break;
		case RTM_NEWNEIGH: c = neighs; break;
		default: continue; /* NLMSG_DONE between the dumps, and anything else */
		}
		if (!netmon_route_sane(nlh)) {
			log_warnx("netmon: a route with an attribute shorter than its header (RTA_VIA, or a multipath nexthop)");
			r = -EPROTO;
			goto out;
		}
		if ((msg = nlmsg_convert(nlh)) == NULL) {
			r = -ENOMEM;
			goto out;
		}
		err = nl_cache_parse_and_add(c, msg);
		nlmsg_free(msg);
		if (err < 0) {
			/* a dump whose message libnl refuses fails netmon_read the same way */
			log_warnx("netmon: parsing a netlink message: %s", nl_geterror(err));
			r = err == -NLE_NOMEM ? -ENOMEM : -EPROTO;
			goto out;
		}
	}
	(void)netmon_pick(exclude_ifname, links, routes, addrs, neighs, out, &rt, &state);
out:
	nl_cache_free(neighs); /* all accept NULL */
	nl_cache_free(addrs);
	nl_cache_free(routes);
	nl_cache_free(links);
	return r;
}
