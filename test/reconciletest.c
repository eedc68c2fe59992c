/* Test helper shared by the reconcile suites; see reconciletest.h. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <check.h>

#include "test/reconciletest.h"

struct owned_keys rt_owned;

void
rt_setup(void)
{
	memset(&rt_owned, 0, sizeof(rt_owned));
}

void
rt_teardown(void)
{
	owned_free(&rt_owned);
}

void
rt_key_fill(uint8_t key[WG_KEY_LEN], uint8_t b)
{
	memset(key, b, WG_KEY_LEN);
}

void
rt_addr(struct netaddr *a, const char *s)
{
	ck_assert_msg(netaddr_parse(s, true, a, NULL, 0), "%s", s);
}

void
rt_desired_endpoint(struct desired_peer *d, const char *ip, uint16_t port)
{
	memset(&d->endpoint, 0, sizeof(d->endpoint));
	d->has_endpoint = true;
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&d->endpoint;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&d->endpoint;
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		ck_assert_int_eq(inet_pton(AF_INET, ip, &in->sin_addr), 1);
	}
}

struct desired_peer
rt_desired(uint8_t b, const char *ip, uint16_t port)
{
	struct desired_peer d;
	char text[NETADDR_STRLEN];

	memset(&d, 0, sizeof(d));
	rt_key_fill(d.key, b);
	rt_desired_endpoint(&d, ip, port);
	d.keepalive_s = 25;
	d.n_allowed = 2;
	snprintf(text, sizeof(text), "10.9.0.%u/32", b);
	rt_addr(&d.allowed[0], text);
	snprintf(text, sizeof(text), "fd00:9::%x/128", b);
	rt_addr(&d.allowed[1], text);
	return d;
}

struct wg_peer
rt_actual_of(const struct desired_peer *d)
{
	struct wg_peer a;

	memset(&a, 0, sizeof(a));
	memcpy(a.key, d->key, WG_KEY_LEN);
	if (d->has_endpoint) {
		a.flags |= WG_PEER_HAS_ENDPOINT;
		memcpy(&a.endpoint, &d->endpoint, d->endpoint.ss_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	}
	if (d->keepalive_s != 0)
		a.flags |= WG_PEER_HAS_KEEPALIVE;
	a.keepalive_s = d->keepalive_s;
	a.n_allowed = d->n_allowed;
	memcpy(a.allowed, d->allowed, sizeof(a.allowed));
	a.last_handshake_s = 1700000000;
	a.rx_bytes = 1234;
	a.tx_bytes = 5678;
	return a;
}

struct wg_device
rt_device(struct wg_peer *peers, size_t n)
{
	struct wg_device d;

	memset(&d, 0, sizeof(d));
	memcpy(d.ifname, "wg0", 4);
	d.has_public_key = true;
	rt_key_fill(d.public_key, 0xee);
	d.listen_port = 51820;
	d.peers = peers;
	d.n_peers = n;
	return d;
}

void
rt_plan_ok(const struct wg_device *act, const struct desired_peer *des, size_t n,
    struct wg_device *plan, struct reconcile_stats *st)
{
	ck_assert_int_eq(reconcile_plan(act, des, n, &rt_owned, plan, st), 0);
}

void
rt_assert_set_of(const struct wg_peer *p, const struct desired_peer *d)
{
	uint32_t want = WG_PEER_REPLACE_ALLOWED | WG_PEER_HAS_KEEPALIVE |
	    (d->has_endpoint ? WG_PEER_HAS_ENDPOINT : 0);

	ck_assert_uint_eq(p->flags, want);
	ck_assert_mem_eq(p->key, d->key, WG_KEY_LEN);
	if (d->has_endpoint)
		ck_assert_mem_eq(&p->endpoint, &d->endpoint, d->endpoint.ss_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	ck_assert_uint_eq(p->keepalive_s, d->keepalive_s);
	ck_assert_uint_eq(p->n_allowed, d->n_allowed);
	for (size_t i = 0; i < d->n_allowed; i++)
		ck_assert(netaddr_equal(&p->allowed[i], &d->allowed[i]));
}

void
rt_assert_nothing(const struct wg_device *plan, const struct reconcile_stats *st, size_t foreign)
{
	ck_assert_uint_eq(plan->n_peers, 0);
	ck_assert_uint_eq(st->added, 0);
	ck_assert_uint_eq(st->updated, 0);
	ck_assert_uint_eq(st->removed, 0);
	ck_assert_uint_eq(st->foreign, foreign);
}

void
rt_two_in_sync(struct desired_peer des[2], struct wg_peer act[2])
{
	des[0] = rt_desired(1, "192.0.2.1", 51820);
	des[1] = rt_desired(2, "2001:db8::2", 51821);
	act[0] = rt_actual_of(&des[0]);
	act[1] = rt_actual_of(&des[1]);
	ck_assert_int_eq(owned_add(&rt_owned, des[0].key), 0);
	ck_assert_int_eq(owned_add(&rt_owned, des[1].key), 0);
}
