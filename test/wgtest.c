/* Test helper shared by the check_wg_* suites; see wgtest.h. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "test/wgtest.h"

void
wgt_hex_key(const char *hex, uint8_t key[WG_KEY_LEN])
{
	for (size_t i = 0; i < WG_KEY_LEN; i++)
		ck_assert_int_eq(sscanf(hex + 2 * i, "%2hhx", &key[i]), 1);
}

void
wgt_add_ip(struct wg_peer *p, const char *s)
{
	char err[128];

	ck_assert_msg(netaddr_parse(s, true, &p->allowed[p->n_allowed], err, sizeof(err)), "%s", err);
	p->n_allowed++;
}

void
wgt_set_endpoint(struct wg_peer *p, const char *ip, uint16_t port)
{
	memset(&p->endpoint, 0, sizeof(p->endpoint));
	if (strchr(ip, ':') != NULL) {
		p->endpoint.in6.sin6_family = AF_INET6;
		p->endpoint.in6.sin6_port = htons(port);
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &p->endpoint.in6.sin6_addr), 1);
	} else {
		p->endpoint.in4.sin_family = AF_INET;
		p->endpoint.in4.sin_port = htons(port);
		ck_assert_int_eq(inet_pton(AF_INET, ip, &p->endpoint.in4.sin_addr), 1);
	}
	p->flags |= WG_PEER_HAS_ENDPOINT;
}

char *
wgt_endpoint_str(const struct wg_peer *p, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "";

	if (p->endpoint.sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &p->endpoint.in4.sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(p->endpoint.in4.sin_port));
	} else if (p->endpoint.sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &p->endpoint.in6.sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(p->endpoint.in6.sin6_port));
	} else {
		snprintf(buf, len, "(none)");
	}
	return buf;
}

struct wg_device *
wgt_dev_new(const char *ifname, size_t n)
{
	struct wg_device *d = calloc(1, sizeof(*d));

	ck_assert_ptr_nonnull(d);
	snprintf(d->ifname, sizeof(d->ifname), "%s", ifname);
	d->n_peers = n;
	d->peers = calloc(n == 0 ? 1 : n, sizeof(*d->peers));
	ck_assert_ptr_nonnull(d->peers);
	return d;
}

bool
wgt_allowed_has(const struct wg_peer *p, const char *s)
{
	struct netaddr a;
	char err[64];

	ck_assert(netaddr_parse(s, true, &a, err, sizeof(err)));
	for (size_t i = 0; i < p->n_allowed; i++)
		if (netaddr_equal(&p->allowed[i], &a))
			return true;
	return false;
}
