/* The kernel backend's messages, without a socket (wg_kernel.c sends them): the
 * WG_CMD_SET_DEVICE requests that apply a device's peers, kept under a size budget with the
 * next resuming where a full one stopped, and the parser of WG_CMD_GET_DEVICE dump parts. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <linux/wireguard.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include "wg/wg.h"
#include "wg/wg_kernel.h"
#include "wg/wg_kernel_impl.h"
#include "rpc/log.h"

/* --- building WG_CMD_SET_DEVICE ------------------------------------------------------- */

static bool
endpoint_ok(const struct wg_peer *p)
{
	return !(p->flags & WG_PEER_HAS_ENDPOINT) || p->endpoint.sa.sa_family == AF_INET ||
	    p->endpoint.sa.sa_family == AF_INET6;
}

int
wg_kernel_check_set(const struct wg_device *dev)
{
	size_t i, j;

	if (dev->ifname[0] == '\0' || strnlen(dev->ifname, WG_IFNAME_MAX) == WG_IFNAME_MAX)
		return -EINVAL;
	if (dev->n_peers > WG_PEERS_MAX)
		return -E2BIG;
	for (i = 0; i < dev->n_peers; i++) {
		if (dev->peers[i].n_allowed > WG_ALLOWED_MAX || !endpoint_ok(&dev->peers[i]))
			return -EINVAL;
		for (j = 0; j < dev->peers[i].n_allowed; j++)
			if (dev->peers[i].allowed[j].family != AF_INET &&
			    dev->peers[i].allowed[j].family != AF_INET6)
				return -EINVAL;
	}
	return 0;
}

static int
put_allowed(struct nl_msg *m, const struct netaddr *a)
{
	struct nlattr *ip;

	if ((ip = nla_nest_start(m, NLA_F_NESTED | 0)) == NULL)
		return -EMSGSIZE;
	if (nla_put_u16(m, WGALLOWEDIP_A_FAMILY, a->family) < 0 ||
	    nla_put(m, WGALLOWEDIP_A_IPADDR, a->family == AF_INET ? 4 : 16, a->addr) < 0 ||
	    nla_put_u8(m, WGALLOWEDIP_A_CIDR_MASK, a->prefix) < 0) {
		nla_nest_cancel(m, ip);
		return -EMSGSIZE;
	}
	nla_nest_end(m, ip);
	return 0;
}

/* The first part of a peer: flags, endpoint, keepalive. */
static int
put_peer_head(struct nl_msg *m, const struct wg_peer *p)
{
	uint32_t flags = 0;

	if (p->flags & WG_PEER_REMOVE)
		flags |= WGPEER_F_REMOVE_ME;
	else if (p->flags & WG_PEER_REPLACE_ALLOWED)
		flags |= WGPEER_F_REPLACE_ALLOWEDIPS;
	if (flags != 0 && nla_put_u32(m, WGPEER_A_FLAGS, flags) < 0)
		return -EMSGSIZE;
	if (p->flags & WG_PEER_REMOVE)
		return 0;
	if ((p->flags & WG_PEER_HAS_ENDPOINT) &&
	    nla_put(m, WGPEER_A_ENDPOINT,
	        p->endpoint.sa.sa_family == AF_INET ? sizeof(p->endpoint.in4) :
	        sizeof(p->endpoint.in6), &p->endpoint) < 0)
		return -EMSGSIZE;
	if ((p->flags & WG_PEER_HAS_KEEPALIVE) &&
	    nla_put_u16(m, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, p->keepalive_s) < 0)
		return -EMSGSIZE;
	return 0;
}

/* Puts peer p from its cursor: *head tells whether its first part went out already, *a is
 * the next allowed IP. Returns 0 when the peer is complete, or -EMSGSIZE when m is full;
 * then the cursor says what did go in (a peer part without news is cancelled). */
static int
put_peer(struct nl_msg *m, const struct wg_peer *p, bool *head, size_t *a)
{
	struct nlattr *pn, *ips = NULL;
	size_t a0 = *a;
	bool head_now = false;

	if ((pn = nla_nest_start(m, NLA_F_NESTED | 0)) == NULL)
		return -EMSGSIZE;
	if (nla_put(m, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, p->key) < 0)
		goto cancel;
	if (!*head) {
		if (put_peer_head(m, p) < 0)
			goto cancel;
		head_now = true;
	}
	if (!(p->flags & WG_PEER_REMOVE) && *a < p->n_allowed) {
		if ((ips = nla_nest_start(m, NLA_F_NESTED | WGPEER_A_ALLOWEDIPS)) == NULL)
			goto partial;
		for (; *a < p->n_allowed; (*a)++)
			if (put_allowed(m, &p->allowed[*a]) < 0)
				goto partial;
		nla_nest_end(m, ips);
	}
	nla_nest_end(m, pn);
	*head = true;
	return 0;
partial:
	if (ips != NULL) {
		if (*a > a0)
			nla_nest_end(m, ips);
		else
			nla_nest_cancel(m, ips);
	}
	if (head_now || *a > a0) {
		nla_nest_end(m, pn);
		*head = true;
		return -EMSGSIZE;
	}
cancel:
	nla_nest_cancel(m, pn);
	*a = a0;
	return -EMSGSIZE;
}

static struct nl_msg *
set_msg_new(int family, const char *ifname, size_t msg_max)
{
	struct nl_msg *m;

	if ((m = nlmsg_alloc_size(msg_max)) == NULL)
		return NULL;
	if (genlmsg_put(m, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, NLM_F_REQUEST | NLM_F_ACK,
	        WG_CMD_SET_DEVICE, WG_GENL_VERSION) == NULL ||
	    nla_put_string(m, WGDEVICE_A_IFNAME, ifname) < 0) {
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

void
wg_kernel_msgs_free(struct nl_msg **msgs, size_t n)
{
	size_t i;

	if (msgs == NULL)
		return;
	for (i = 0; i < n; i++)
		nlmsg_free(msgs[i]);
	free(msgs);
}

int
wg_kernel_build_set(int family, const struct wg_device *dev, size_t msg_max,
    struct nl_msg ***msgs, size_t *n_msgs)
{
	struct nl_msg **list = NULL, **nl, *m = NULL;
	struct nlattr *peers;
	size_t n = 0, cap = 0, i = 0, a = 0, i0, a0;
	bool head = false, head0;
	int rc;

	*msgs = NULL;
	*n_msgs = 0;
	if (msg_max < WG_NL_MSG_MIN || msg_max > WG_NL_MSG_LIMIT)
		return -EINVAL;
	if ((rc = wg_kernel_check_set(dev)) < 0)
		return rc;
	while (i < dev->n_peers) {
		i0 = i;
		a0 = a;
		head0 = head;
		if ((m = set_msg_new(family, dev->ifname, msg_max)) == NULL) {
			rc = -ENOMEM;
			goto fail;
		}
		if ((peers = nla_nest_start(m, NLA_F_NESTED | WGDEVICE_A_PEERS)) == NULL) {
			rc = -ENOMEM;
			goto fail;
		}
		for (; i < dev->n_peers; i++, a = 0, head = false)
			if (put_peer(m, &dev->peers[i], &head, &a) < 0)
				break;
		if (i == i0 && a == a0 && head == head0) {
			/* Not one peer part fits an empty message: msg_max is too small. */
			rc = -EINVAL;
			goto fail;
		}
		if (nla_nest_end(m, peers) < 0) {
			rc = -EINVAL;
			goto fail;
		}
		if (n == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			if ((nl = realloc(list, cap * sizeof(*nl))) == NULL) {
				rc = -ENOMEM;
				goto fail;
			}
			list = nl;
		}
		list[n++] = m;
		m = NULL;
	}
	*msgs = list;
	*n_msgs = n;
	return 0;
fail:
	nlmsg_free(m);
	wg_kernel_msgs_free(list, n);
	return rc;
}

/* --- parsing WG_CMD_GET_DEVICE (and SET) ---------------------------------------------- */

static const struct nla_policy device_policy[WGDEVICE_A_MAX + 1] = {
	[WGDEVICE_A_IFINDEX] = { .type = NLA_U32 },
	[WGDEVICE_A_IFNAME] = { .type = NLA_STRING, .maxlen = WG_IFNAME_MAX },
	[WGDEVICE_A_FLAGS] = { .type = NLA_U32 },
	[WGDEVICE_A_LISTEN_PORT] = { .type = NLA_U16 },
	[WGDEVICE_A_FWMARK] = { .type = NLA_U32 },
	[WGDEVICE_A_PEERS] = { .type = NLA_NESTED },
};

static const struct nla_policy peer_policy[WGPEER_A_MAX + 1] = {
	[WGPEER_A_FLAGS] = { .type = NLA_U32 },
	[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL] = { .type = NLA_U16 },
	[WGPEER_A_RX_BYTES] = { .type = NLA_U64 },
	[WGPEER_A_TX_BYTES] = { .type = NLA_U64 },
	[WGPEER_A_ALLOWEDIPS] = { .type = NLA_NESTED },
	[WGPEER_A_PROTOCOL_VERSION] = { .type = NLA_U32 },
};

static const struct nla_policy allowed_policy[WGALLOWEDIP_A_MAX + 1] = {
	[WGALLOWEDIP_A_FAMILY] = { .type = NLA_U16 },
	[WGALLOWEDIP_A_CIDR_MASK] = { .type = NLA_U8 },
};

static int
parse_bad(const char *what)
{
	log_warnx("wg netlink: malformed %s", what);
	return -EPROTO;
}

/* Appends a zeroed peer; the array doubles from 16 (see wg_kernel.h). */
static int
peer_append(struct wg_device *dev, struct wg_peer **out)
{
	size_t n = dev->n_peers, ncap;
	struct wg_peer *np;

	if (n >= WG_PEERS_MAX) {
		log_warnx("wg netlink: more than %d peers", WG_PEERS_MAX);
		return -E2BIG;
	}
	if (n == 0 || (n >= 16 && (n & (n - 1)) == 0)) {
		ncap = n < 16 ? 16 : 2 * n;
		if ((np = realloc(dev->peers, ncap * sizeof(*np))) == NULL)
			return -ENOMEM;
		dev->peers = np;
	}
	*out = &dev->peers[n];
	memset(*out, 0, sizeof(**out));
	dev->n_peers++;
	return 0;
}

static int
parse_allowed(struct nlattr *attr, struct wg_peer *peer)
{
	struct nlattr *tb[WGALLOWEDIP_A_MAX + 1];
	struct netaddr a;
	unsigned family, cidr;
	int alen;

	if (nla_parse_nested(tb, WGALLOWEDIP_A_MAX, attr, allowed_policy) < 0 ||
	    tb[WGALLOWEDIP_A_FAMILY] == NULL || tb[WGALLOWEDIP_A_IPADDR] == NULL ||
	    tb[WGALLOWEDIP_A_CIDR_MASK] == NULL)
		return parse_bad("allowed IP");
	family = nla_get_u16(tb[WGALLOWEDIP_A_FAMILY]);
	cidr = nla_get_u8(tb[WGALLOWEDIP_A_CIDR_MASK]);
	alen = nla_len(tb[WGALLOWEDIP_A_IPADDR]);
	if (!((family == AF_INET && alen == 4 && cidr <= 32) ||
	        (family == AF_INET6 && alen == 16 && cidr <= 128)))
		return parse_bad("allowed IP (family, length or prefix)");
	if (peer->n_allowed >= WG_ALLOWED_MAX) {
		log_warnx("wg netlink: a peer has more than %d allowed IPs", WG_ALLOWED_MAX);
		return -E2BIG;
	}
	memset(&a, 0, sizeof(a));
	a.family = (uint8_t)family;
	a.prefix = (uint8_t)cidr;
	memcpy(a.addr, nla_data(tb[WGALLOWEDIP_A_IPADDR]), (size_t)alen);
	peer->allowed[peer->n_allowed++] = a;
	return 0;
}

static int
parse_endpoint(struct nlattr *attr, struct wg_peer *peer)
{
	sa_family_t family;
	int len = nla_len(attr);

	if (len < (int)sizeof(family))
		return parse_bad("endpoint");
	memcpy(&family, nla_data(attr), sizeof(family));
	if (!((family == AF_INET && len == (int)sizeof(peer->endpoint.in4)) ||
	        (family == AF_INET6 && len == (int)sizeof(peer->endpoint.in6))))
		return parse_bad("endpoint");
	memset(&peer->endpoint, 0, sizeof(peer->endpoint));
	memcpy(&peer->endpoint, nla_data(attr), (size_t)len);
	peer->flags |= WG_PEER_HAS_ENDPOINT;
	return 0;
}

static int
parse_peer(struct nlattr *attr, struct wg_device *dev)
{
	struct nlattr *tb[WGPEER_A_MAX + 1], *pos;
	struct wg_peer *peer;
	uint32_t flags;
	int64_t ts[2];
	int rem, rc;

	if (nla_parse_nested(tb, WGPEER_A_MAX, attr, peer_policy) < 0)
		return parse_bad("peer");
	if (tb[WGPEER_A_PUBLIC_KEY] == NULL || nla_len(tb[WGPEER_A_PUBLIC_KEY]) != WG_KEY_LEN)
		return parse_bad("peer public key");
	if (dev->n_peers > 0 && memcmp(dev->peers[dev->n_peers - 1].key,
	        nla_data(tb[WGPEER_A_PUBLIC_KEY]), WG_KEY_LEN) == 0) {
		peer = &dev->peers[dev->n_peers - 1]; /* the continuation of a split peer */
	} else {
		if ((rc = peer_append(dev, &peer)) < 0)
			return rc;
		memcpy(peer->key, nla_data(tb[WGPEER_A_PUBLIC_KEY]), WG_KEY_LEN);
	}
	if (tb[WGPEER_A_PRESHARED_KEY] != NULL)
		explicit_bzero(nla_data(tb[WGPEER_A_PRESHARED_KEY]),
		    (size_t)nla_len(tb[WGPEER_A_PRESHARED_KEY]));
	if (tb[WGPEER_A_FLAGS] != NULL) {
		flags = nla_get_u32(tb[WGPEER_A_FLAGS]);
		if (flags & WGPEER_F_REMOVE_ME)
			peer->flags |= WG_PEER_REMOVE;
		if (flags & WGPEER_F_REPLACE_ALLOWEDIPS)
			peer->flags |= WG_PEER_REPLACE_ALLOWED;
	}
	if (tb[WGPEER_A_ENDPOINT] != NULL && (rc = parse_endpoint(tb[WGPEER_A_ENDPOINT], peer)) < 0)
		return rc;
	if (tb[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL] != NULL) {
		peer->keepalive_s = nla_get_u16(tb[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL]);
		peer->flags |= WG_PEER_HAS_KEEPALIVE;
	}
	if (tb[WGPEER_A_LAST_HANDSHAKE_TIME] != NULL) {
		/* struct __kernel_timespec: two signed 64-bit fields */
		if (nla_len(tb[WGPEER_A_LAST_HANDSHAKE_TIME]) != (int)sizeof(ts))
			return parse_bad("last handshake time");
		memcpy(ts, nla_data(tb[WGPEER_A_LAST_HANDSHAKE_TIME]), sizeof(ts));
		peer->last_handshake_s = ts[0] < 0 ? 0 : ts[0];
	}
	if (tb[WGPEER_A_RX_BYTES] != NULL)
		peer->rx_bytes = nla_get_u64(tb[WGPEER_A_RX_BYTES]);
	if (tb[WGPEER_A_TX_BYTES] != NULL)
		peer->tx_bytes = nla_get_u64(tb[WGPEER_A_TX_BYTES]);
	if (tb[WGPEER_A_ALLOWEDIPS] != NULL)
		nla_for_each_nested(pos, tb[WGPEER_A_ALLOWEDIPS], rem)
			if ((rc = parse_allowed(pos, peer)) < 0)
				return rc;
	return 0;
}

int
wg_kernel_parse(struct nlmsghdr *nlh, struct wg_device *dev)
{
	struct nlattr *tb[WGDEVICE_A_MAX + 1], *pos;
	int rem, rc;

	if (genlmsg_parse(nlh, 0, tb, WGDEVICE_A_MAX, device_policy) < 0)
		return parse_bad("message");
	if (tb[WGDEVICE_A_PRIVATE_KEY] != NULL)
		explicit_bzero(nla_data(tb[WGDEVICE_A_PRIVATE_KEY]),
		    (size_t)nla_len(tb[WGDEVICE_A_PRIVATE_KEY]));
	if (tb[WGDEVICE_A_IFNAME] != NULL)
		snprintf(dev->ifname, sizeof(dev->ifname), "%s",
		    nla_get_string(tb[WGDEVICE_A_IFNAME]));
	if (tb[WGDEVICE_A_PUBLIC_KEY] != NULL) {
		if (nla_len(tb[WGDEVICE_A_PUBLIC_KEY]) != WG_KEY_LEN)
			return parse_bad("device public key");
		memcpy(dev->public_key, nla_data(tb[WGDEVICE_A_PUBLIC_KEY]), WG_KEY_LEN);
		dev->has_public_key = true;
	}
	if (tb[WGDEVICE_A_LISTEN_PORT] != NULL)
		dev->listen_port = nla_get_u16(tb[WGDEVICE_A_LISTEN_PORT]);
	if (tb[WGDEVICE_A_PEERS] != NULL)
		nla_for_each_nested(pos, tb[WGDEVICE_A_PEERS], rem)
			if ((rc = parse_peer(pos, dev)) < 0)
				return rc;
	return 0;
}
