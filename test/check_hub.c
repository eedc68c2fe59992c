/* The hub's plan (which peers hub_interface gains and loses) and its endpoint debounce. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "server/hub.h"
#include "test/check_suites.h"

static void
key_of(uint8_t key[WG_KEY_LEN], int n)
{
	/* spread over the first bytes, which the tables hash */
	memset(key, 0, WG_KEY_LEN);
	key[0] = (uint8_t)(n * 37);
	key[1] = (uint8_t)(n >> 8);
	key[2] = (uint8_t)(n >> 16);
	key[7] = (uint8_t)n;
	key[31] = (uint8_t)(n + 1);
}

static void
want_of(struct hub_want *w, int n, const char *addr)
{
	memset(w, 0, sizeof(*w));
	key_of(w->key, n);
	w->n_allowed = 1;
	ck_assert(netaddr_parse(addr, true, &w->allowed[0], NULL, 0));
}

/* An interface holding the peers given by number; n < 0 ends the list. */
static struct wg_device *
dev_of(const int *nums, const char *const *addrs)
{
	struct wg_device *d = calloc(1, sizeof(*d));
	size_t n = 0;

	ck_assert_ptr_nonnull(d);
	while (nums[n] >= 0)
		n++;
	d->peers = calloc(n + 1, sizeof(*d->peers));
	ck_assert_ptr_nonnull(d->peers);
	d->n_peers = n;
	d->has_public_key = true;
	key_of(d->public_key, 999);
	for (size_t i = 0; i < n; i++) {
		key_of(d->peers[i].key, nums[i]);
		d->peers[i].n_allowed = 1;
		ck_assert(netaddr_parse(addrs[i], true, &d->peers[i].allowed[0], NULL, 0));
	}
	return d;
}

static const struct wg_peer *
planned(const struct wg_device *plan, int n)
{
	uint8_t key[WG_KEY_LEN];

	key_of(key, n);
	return wg_device_peer(plan, key);
}

/* A fresh interface gets every wanted peer: allowed IPs, no endpoint, no keepalive. */
START_TEST(test_plan_adds)
{
	struct hub *h = hub_new();
	struct hub_want w[2];
	struct wg_device *plan = NULL;
	const int none[] = { -1 };
	struct wg_device *cur = dev_of(none, NULL);
	const struct wg_peer *p;
	char buf[NETADDR_STRLEN];

	want_of(&w[0], 1, "10.9.0.1/32");
	want_of(&w[1], 2, "10.9.0.2/32");
	ck_assert_int_eq(hub_plan(h, w, 2, cur, &plan), 0);
	ck_assert_uint_eq(plan->n_peers, 2);
	ck_assert_ptr_nonnull(p = planned(plan, 2));
	ck_assert_uint_eq(p->flags, WG_PEER_REPLACE_ALLOWED);
	ck_assert_uint_eq(p->n_allowed, 1);
	ck_assert_str_eq(netaddr_format(&p->allowed[0], true, buf), "10.9.0.2/32");
	ck_assert_uint_eq(p->keepalive_s, 0);
	ck_assert_uint_eq(hub_count(h), 2);
	wg_device_free(plan);
	wg_device_free(cur);
	hub_del(h);
}
END_TEST

/* Applied, the plan is empty; a removed peer goes, a stranger stays; a changed address
 * is replaced; the interface's own key is never a peer. */
START_TEST(test_plan_converges_and_leaves_strangers)
{
	struct hub *h = hub_new();
	struct hub_want w[3];
	struct wg_device *plan = NULL, *cur;
	const int have[] = { 1, 2, 50, -1 };
	const char *const addrs[] = { "10.9.0.1/32", "10.9.0.2/32", "10.77.0.1/32" };
	const int after[] = { 1, 2, 50, -1 };
	const char *const addrs2[] = { "10.9.0.1/32", "10.9.0.2/32", "10.77.0.1/32" };

	want_of(&w[0], 1, "10.9.0.1/32");
	want_of(&w[1], 2, "10.9.0.2/32");
	want_of(&w[2], 999, "10.9.0.99/32");   /* the hub's own key */
	/* at start, the stored peers already there are taken as ours: nothing to do */
	cur = dev_of(have, addrs);
	ck_assert_int_eq(hub_plan(h, w, 3, cur, &plan), 0);
	ck_assert_uint_eq(plan->n_peers, 0);
	ck_assert_uint_eq(hub_count(h), 2);
	ck_assert(!hub_is_ours(h, cur->peers[2].key));
	wg_device_free(plan);
	/* peer 2 is removed from the store, peer 1 gets a new address */
	want_of(&w[0], 1, "10.9.0.11/32");
	ck_assert_int_eq(hub_plan(h, w, 1, cur, &plan), 0);
	ck_assert_uint_eq(plan->n_peers, 2);
	ck_assert_uint_eq(planned(plan, 1)->flags, WG_PEER_REPLACE_ALLOWED);
	ck_assert_uint_eq(planned(plan, 2)->flags, WG_PEER_REMOVE);
	ck_assert_ptr_null(planned(plan, 50));
	/* not applied yet: 2 is still ours, so a failed write is tried again */
	ck_assert_uint_eq(hub_count(h), 2);
	hub_applied(h, plan);
	ck_assert_uint_eq(hub_count(h), 1);
	wg_device_free(plan);
	wg_device_free(cur);
	/* an operator's peer with a stored peer's address is still left alone */
	cur = dev_of(after, addrs2);
	want_of(&w[0], 1, "10.9.0.1/32");
	ck_assert_int_eq(hub_plan(h, w, 1, cur, &plan), 0);
	ck_assert_ptr_null(planned(plan, 50));
	ck_assert_ptr_null(planned(plan, 2));   /* 2 is no longer ours: the operator's */
	ck_assert_uint_eq(plan->n_peers, 0);
	wg_device_free(plan);
	wg_device_free(cur);
	hub_del(h);
}
END_TEST

/* A peer of ours gone from the interface (removed by hand) is added back while stored,
 * and forgotten once it is neither stored nor there. */
START_TEST(test_plan_readds_and_forgets)
{
	struct hub *h = hub_new();
	struct hub_want w[1];
	struct wg_device *plan = NULL;
	const int none[] = { -1 };
	struct wg_device *cur = dev_of(none, NULL);

	want_of(&w[0], 3, "10.9.0.3/32");
	ck_assert_int_eq(hub_plan(h, w, 1, cur, &plan), 0);
	hub_applied(h, plan);
	wg_device_free(plan);
	ck_assert_int_eq(hub_plan(h, w, 1, cur, &plan), 0);
	ck_assert_uint_eq(plan->n_peers, 1);
	wg_device_free(plan);
	ck_assert_int_eq(hub_plan(h, w, 0, cur, &plan), 0);
	ck_assert_uint_eq(plan->n_peers, 0);
	ck_assert_uint_eq(hub_count(h), 0);
	wg_device_free(plan);
	wg_device_free(cur);
	hub_del(h);
}
END_TEST

/* Many peers in and out: the tables' deletions keep every other key findable. */
START_TEST(test_plan_many)
{
	enum { N = 3000 };
	struct hub *h = hub_new();
	struct hub_want *w = calloc(N, sizeof(*w));
	struct wg_device *plan = NULL;
	const int none[] = { -1 };
	struct wg_device *cur = dev_of(none, NULL);

	for (int i = 0; i < N; i++)
		want_of(&w[i], 10000 + i, "10.9.0.1/32");
	ck_assert_int_eq(hub_plan(h, w, N, cur, &plan), 0);
	ck_assert_uint_eq(plan->n_peers, N);
	wg_device_free(plan);
	ck_assert_uint_eq(hub_count(h), N);
	/* the odd ones leave the store; they were never on cur, so they are just forgotten */
	for (int i = 0; i < N / 2; i++)
		w[i] = w[2 * i];
	ck_assert_int_eq(hub_plan(h, w, N / 2, cur, &plan), 0);
	wg_device_free(plan);
	ck_assert_uint_eq(hub_count(h), N / 2);
	for (int i = 0; i < N; i++) {
		uint8_t key[WG_KEY_LEN];

		key_of(key, 10000 + i);
		ck_assert_msg(hub_is_ours(h, key) == (i % 2 == 0), "key %d", i);
	}
	free(w);
	wg_device_free(cur);
	hub_del(h);
}
END_TEST

static void
sample(struct hub_sample *s, int n, const char *ep, int64_t hs, const char *stored)
{
	memset(s, 0, sizeof(*s));
	key_of(s->key, n);
	snprintf(s->endpoint, sizeof(s->endpoint), "%s", ep);
	s->last_handshake_s = hs;
	snprintf(s->stored, sizeof(s->stored), "%s", stored);
}

static struct hub *
hub_with(int n)
{
	struct hub *h = hub_new();
	struct hub_want w;
	struct wg_device *plan = NULL;

	want_of(&w, n, "10.9.0.1/32");
	ck_assert_int_eq(hub_plan(h, &w, 1, NULL, &plan), 0);
	wg_device_free(plan);
	return h;
}

/* A new endpoint is published once seen on two reads 1 s apart, and then not again. */
START_TEST(test_observe_debounce)
{
	struct hub *h = hub_with(1);
	struct hub_sample s;
	int64_t now = 1000000;

	sample(&s, 1, "198.51.100.7:40000", now - 2, "");
	ck_assert_uint_eq(hub_observe(h, &s, 1, 5000, now), 0);
	ck_assert_uint_eq(hub_observe(h, &s, 1, 5500, now), 0);     /* 0.5 s: too soon */
	ck_assert_uint_eq(hub_observe(h, &s, 1, 6000, now), 1);
	ck_assert(s.publish);
	/* stored now */
	sample(&s, 1, "198.51.100.7:40000", now - 2, "198.51.100.7:40000");
	ck_assert_uint_eq(hub_observe(h, &s, 1, 7000, now), 0);
	/* a flap back and forth on one read each is never published */
	sample(&s, 1, "198.51.100.7:40001", now - 2, "198.51.100.7:40000");
	ck_assert_uint_eq(hub_observe(h, &s, 1, 8000, now), 0);
	sample(&s, 1, "198.51.100.7:40000", now - 2, "198.51.100.7:40000");
	ck_assert_uint_eq(hub_observe(h, &s, 1, 9000, now), 0);
	sample(&s, 1, "198.51.100.7:40001", now - 2, "198.51.100.7:40000");
	ck_assert_uint_eq(hub_observe(h, &s, 1, 10000, now), 0);
	/* a lasting change, within 5 s of the last publish, waits for the gap */
	ck_assert_uint_eq(hub_observe(h, &s, 1, 10500, now), 0);
	ck_assert_uint_eq(hub_observe(h, &s, 1, 11000, now), 1);
	sample(&s, 1, "198.51.100.7:40002", now - 2, "198.51.100.7:40001");
	ck_assert_uint_eq(hub_observe(h, &s, 1, 12000, now), 0);
	ck_assert_uint_eq(hub_observe(h, &s, 1, 13000, now), 0);
	ck_assert_uint_eq(hub_observe(h, &s, 1, 15999, now), 0);
	ck_assert_uint_eq(hub_observe(h, &s, 1, 16000, now), 1);
	hub_del(h);
}
END_TEST

/* Without a live session, or for a peer that is not ours, nothing is published. */
START_TEST(test_observe_needs_session_and_ours)
{
	struct hub *h = hub_with(1);
	struct hub_sample s[2];
	int64_t now = 1000000;

	sample(&s[0], 1, "198.51.100.7:40000", 0, "");                     /* never */
	sample(&s[1], 2, "198.51.100.8:40000", now - 1, "");               /* a stranger */
	ck_assert_uint_eq(hub_observe(h, s, 2, 1000, now), 0);
	ck_assert_uint_eq(hub_observe(h, s, 2, 3000, now), 0);
	sample(&s[0], 1, "198.51.100.7:40000", now - HUB_LIVE_S - 1, "");  /* too old */
	ck_assert_uint_eq(hub_observe(h, s, 2, 4000, now), 0);
	ck_assert_uint_eq(hub_observe(h, s, 2, 6000, now), 0);
	sample(&s[0], 1, "", now - 1, "");                                  /* no endpoint */
	ck_assert_uint_eq(hub_observe(h, s, 1, 7000, now), 0);
	ck_assert_uint_eq(hub_observe(h, s, 1, 9000, now), 0);
	/* the session comes back: the two reads start from then */
	sample(&s[0], 1, "198.51.100.7:40000", now - HUB_LIVE_S, "");
	ck_assert_uint_eq(hub_observe(h, s, 1, 10000, now), 0);
	ck_assert_uint_eq(hub_observe(h, s, 1, 11000, now), 1);
	hub_del(h);
}
END_TEST

START_TEST(test_endpoint_format)
{
	struct sockaddr_in in4 = { .sin_family = AF_INET, .sin_port = htons(51820) };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(443) };
	struct sockaddr sa = { .sa_family = AF_UNIX };
	char buf[PEER_ENDPOINT_MAX];

	inet_pton(AF_INET, "203.0.113.9", &in4.sin_addr);
	ck_assert(hub_endpoint_format((struct sockaddr *)&in4, buf, sizeof(buf)));
	ck_assert_str_eq(buf, "203.0.113.9:51820");
	inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
	ck_assert(hub_endpoint_format((struct sockaddr *)&in6, buf, sizeof(buf)));
	ck_assert_str_eq(buf, "[2001:db8::1]:443");
	inet_pton(AF_INET6, "::ffff:192.0.2.4", &in6.sin6_addr);
	ck_assert(hub_endpoint_format((struct sockaddr *)&in6, buf, sizeof(buf)));
	ck_assert_str_eq(buf, "192.0.2.4:443");
	ck_assert(!hub_endpoint_format(&sa, buf, sizeof(buf)));
	ck_assert_str_eq(buf, "");
}
END_TEST

Suite *
hub_suite(void)
{
	Suite *s = suite_create("hub");
	TCase *plan = tcase_create("plan"), *obs = tcase_create("observe");

	tcase_add_test(plan, test_plan_adds);
	tcase_add_test(plan, test_plan_converges_and_leaves_strangers);
	tcase_add_test(plan, test_plan_readds_and_forgets);
	tcase_add_test(plan, test_plan_many);
	tcase_add_test(obs, test_observe_debounce);
	tcase_add_test(obs, test_observe_needs_session_and_ours);
	tcase_add_test(obs, test_endpoint_format);
	suite_add_tcase(s, plan);
	suite_add_tcase(s, obs);
	return s;
}
