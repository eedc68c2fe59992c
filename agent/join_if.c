/* wiresync-agent join's interface work: the WireGuard key (the interface's, or one join
 * gives it), a kernel WireGuard link where the kernel has one, the tunnel addresses. */
#include "config.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include <linux/if_addr.h>
#include <netlink/addr.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "agent/join_impl.h"
#include "rpc/log.h"
#include "rpc/tls.h"
#include "wg/wg.h"

static struct nl_sock *
route_sock(char *err, size_t errlen)
{
	struct nl_sock *s = nl_socket_alloc();
	int r;

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((r = nl_connect(s, NETLINK_ROUTE)) < 0) {
		snprintf(err, errlen, "netlink: %s", nl_geterror(r));
		nl_socket_free(s);
		return NULL;
	}
	return s;
}

/* RTM_NEWLINK kind wireguard. 0, JOIN_IF_MISSING (the kernel has no WireGuard) or -1. */
static int
link_create(const char *ifname, char *err, size_t errlen)
{
	struct nl_sock *s = route_sock(err, errlen);
	struct rtnl_link *link = NULL;
	int r, rc = -1;

	if (s == NULL)
		return -1;
	if ((link = rtnl_link_alloc()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rtnl_link_set_name(link, ifname);
	if ((r = rtnl_link_set_type(link, "wireguard")) < 0) {
		snprintf(err, errlen, "netlink: %s", nl_geterror(r));
		goto out;
	}
	r = rtnl_link_add(s, link, NLM_F_CREATE | NLM_F_EXCL);
	if (r == -NLE_OPNOTSUPP || r == -NLE_NODEV || r == -NLE_NOATTR) {
		rc = JOIN_IF_MISSING;
	} else if (r == -NLE_EXIST) {
		snprintf(err, errlen, "interface %s exists but is not a WireGuard interface "
		    "(choose another with --interface)", ifname);
	} else if (r < 0) {
		snprintf(err, errlen, "cannot create WireGuard interface %s: %s", ifname,
		    nl_geterror(r));
	} else {
		rc = 0;
	}
out:
	rtnl_link_put(link);
	nl_socket_free(s);
	return rc;
}

/* A new Curve25519 private key, as wg genkey makes (clamped). 0 or -1. */
static int
wgkey_new(uint8_t key[WG_KEY_LEN], char *err, size_t errlen)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	size_t n = WG_KEY_LEN;
	char ebuf[256];
	int ok;

	ok = k != NULL && EVP_PKEY_get_raw_private_key(k, key, &n) == 1 && n == WG_KEY_LEN;
	EVP_PKEY_free(k);
	if (!ok) {
		snprintf(err, errlen, "cannot make a WireGuard key: %s",
		    tls_error_string(ebuf, sizeof(ebuf)));
		return -1;
	}
	key[0] &= 248;
	key[31] = (uint8_t)((key[31] & 127) | 64);
	return 0;
}

int
join_if_key(const char *ifname, const char *wgkey_path, uint8_t pub[WG_KEY_LEN], bool *made,
    char *err, size_t errlen)
{
	struct wg_device *dev = NULL;
	uint8_t priv[WG_KEY_LEN];
	char b64[45];
	int r, rc = -1;

	*made = false;
	r = wg_device_get(WG_BACKEND_AUTO, ifname, &dev);
	if (r == -ENODEV) {
		r = link_create(ifname, err, errlen);
		if (r != 0)
			return r;
		*made = true;
		log_info("%s: made a kernel WireGuard interface", ifname);
		r = wg_device_get(WG_BACKEND_AUTO, ifname, &dev);
	}
	if (r < 0) {
		snprintf(err, errlen, "interface %s: %s", ifname, r == -EINVAL ?
		    "not a valid interface name" : strerror(-r));
		return -1;
	}
	if (dev->has_public_key) {
		memcpy(pub, dev->public_key, WG_KEY_LEN);
		rc = 0;
		goto out;
	}
	/* no private key yet: the one an interrupted join saved, or a new one saved first,
	 * so a restarted wireguard-go gets the key the request names */
	r = join_wgkey_read(wgkey_path, priv, err, errlen);
	if (r < 0)
		goto out;
	if (r == 0 && (wgkey_new(priv, err, errlen) < 0 ||
	    join_wgkey_write(wgkey_path, priv, err, errlen) < 0))
		goto out;
	r = wg_device_set_private_key(WG_BACKEND_AUTO, ifname, priv);
	if (r < 0) {
		snprintf(err, errlen, "interface %s: cannot set its private key: %s", ifname,
		    strerror(-r));
		goto out;
	}
	wg_device_free(dev);
	dev = NULL;
	r = wg_device_get(WG_BACKEND_AUTO, ifname, &dev);
	if (r < 0 || !dev->has_public_key) {
		snprintf(err, errlen, "interface %s: no public key after setting its private key: "
		    "%s", ifname, r < 0 ? strerror(-r) : "none reported");
		goto out;
	}
	memcpy(pub, dev->public_key, WG_KEY_LEN);
	wg_key_to_base64(pub, b64);
	log_info("%s: gave the interface a new private key (%s), public key %s", ifname,
	    wgkey_path, b64);
	rc = 0;
out:
	OPENSSL_cleanse(priv, sizeof(priv));
	wg_device_free(dev);
	return rc;
}

static int
addr_add(struct nl_sock *s, int ifindex, const struct netaddr *a, unsigned prefix, char *err,
    size_t errlen)
{
	struct rtnl_addr *ra = rtnl_addr_alloc();
	struct nl_addr *local = NULL;
	char text[NETADDR_STRLEN];
	int r, rc = -1;

	if (ra == NULL || (local = nl_addr_build(a->family, a->addr,
	    a->family == AF_INET ? 4 : 16)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	nl_addr_set_prefixlen(local, (int)prefix);
	rtnl_addr_set_ifindex(ra, ifindex);
	rtnl_addr_set_family(ra, a->family);
	if ((r = rtnl_addr_set_local(ra, local)) < 0) {
		snprintf(err, errlen, "netlink: %s", nl_geterror(r));
		goto out;
	}
	rtnl_addr_set_prefixlen(ra, (int)prefix);
	if (a->family == AF_INET6)
		rtnl_addr_set_flags(ra, IFA_F_NODAD);
	/* REPLACE: a second run (or a resumed one) finds the address already there */
	r = rtnl_addr_add(s, ra, NLM_F_CREATE | NLM_F_REPLACE);
	if (r < 0) {
		snprintf(err, errlen, "cannot add %s/%u: %s", netaddr_format(a, false, text), prefix,
		    nl_geterror(r));
		goto out;
	}
	rc = 0;
out:
	nl_addr_put(local);
	rtnl_addr_put(ra);
	return rc;
}

int
join_if_addresses(const char *ifname, const struct cert_identity *id, unsigned prefix4,
    unsigned prefix6, char *err, size_t errlen)
{
	struct nl_sock *s = NULL;
	struct rtnl_link *req = NULL, *cur = NULL;
	int ifindex = (int)if_nametoindex(ifname), r, rc = -1;
	char sub[200];

	if (ifindex == 0) {
		snprintf(err, errlen, "interface %s: %s", ifname, strerror(errno));
		return -1;
	}
	if ((s = route_sock(err, errlen)) == NULL)
		return -1;
	for (size_t i = 0; i < id->n_tunnel; i++) {
		const struct netaddr *a = &id->tunnel[i];

		if (addr_add(s, ifindex, a, a->family == AF_INET ? prefix4 : prefix6, sub,
		    sizeof(sub)) < 0) {
			snprintf(err, errlen, "interface %s: %s", ifname, sub);
			goto out;
		}
	}
	if ((r = rtnl_link_get_kernel(s, ifindex, NULL, &cur)) < 0 ||
	    (req = rtnl_link_alloc()) == NULL) {
		snprintf(err, errlen, "interface %s: %s", ifname, r < 0 ? nl_geterror(r) :
		    "out of memory");
		goto out;
	}
	rtnl_link_set_flags(req, IFF_UP);
	if ((r = rtnl_link_change(s, cur, req, 0)) < 0) {
		snprintf(err, errlen, "interface %s: cannot set it up: %s", ifname, nl_geterror(r));
		goto out;
	}
	rc = 0;
out:
	rtnl_link_put(req);
	rtnl_link_put(cur);
	nl_socket_free(s);
	return rc;
}
