/* Tests for agent/reconcile.c: the plan that turns the interface's peers into the desired
 * ones, touching only peers the agent added. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/reconcile.h"
#include "test/check_suites.h"


#define FLAGS_SET (WG_PEER_REPLACE_ALLOWED | WG_PEER_HAS_KEEPALIVE | WG_PEER_HAS_ENDPOINT)

static struct owned_keys owned;

static void
setup(void)
{
	memset(&owned, 0, sizeof(owned));
}

static void
teardown(void)
{
	owned_free(&owned);
}

/* A key whose bytes are all b. */
static void
key_fill(uint8_t key[WG_KEY_LEN], uint8_t b)
{
	memset(key, b, WG_KEY_LEN);
}

static void
addr(struct netaddr *a, const char *s)
{
	ck_assert_msg(netaddr_parse(s, true, a, NULL, 0), "%s", s);
}

/* Sets d's endpoint from "ip" and port. */
static void
desired_endpoint(struct desired_peer *d, const char *ip, uint16_t port)
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

/* Desired peer b: key all b, endpoint ip:port, keepalive 25, allowed 10.9.0.b and
 * fd00:9::b. */
static struct desired_peer
desired(uint8_t b, const char *ip, uint16_t port)
{
	struct desired_peer d;
	char text[NETADDR_STRLEN];

	memset(&d, 0, sizeof(d));
	key_fill(d.key, b);
	desired_endpoint(&d, ip, port);
	d.keepalive_s = 25;
	d.n_allowed = 2;
	snprintf(text, sizeof(text), "10.9.0.%u/32", b);
	addr(&d.allowed[0], text);
	snprintf(text, sizeof(text), "fd00:9::%x/128", b);
	addr(&d.allowed[1], text);
	return d;
}

/* What the interface reports for a peer that matches d exactly. */
static struct wg_peer
actual_of(const struct desired_peer *d)
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

static struct wg_device
device(struct wg_peer *peers, size_t n)
{
	struct wg_device d;

	memset(&d, 0, sizeof(d));
	memcpy(d.ifname, "wg0", 4);
	d.has_public_key = true;
	key_fill(d.public_key, 0xee);
	d.listen_port = 51820;
	d.peers = peers;
	d.n_peers = n;
	return d;
}

/* Runs reconcile_plan and asserts success. */
static void
plan_ok(const struct wg_device *act, const struct desired_peer *des, size_t n,
    struct wg_device *plan, struct reconcile_stats *st)
{
	ck_assert_int_eq(reconcile_plan(act, des, n, &owned, plan, st), 0);
}

/* Asserts p is a full set of d: flags, key, endpoint, keepalive, allowed IPs. */
static void
assert_set_of(const struct wg_peer *p, const struct desired_peer *d)
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

/* Asserts plan is empty and stats all zero but foreign. */
static void
assert_nothing(const struct wg_device *plan, const struct reconcile_stats *st, size_t foreign)
{
	ck_assert_uint_eq(plan->n_peers, 0);
	ck_assert_uint_eq(st->added, 0);
	ck_assert_uint_eq(st->updated, 0);
	ck_assert_uint_eq(st->removed, 0);
	ck_assert_uint_eq(st->foreign, foreign);
}

/* Two desired peers, both owned and on the interface exactly as desired. */
static void
two_in_sync(struct desired_peer des[2], struct wg_peer act[2])
{
	des[0] = desired(1, "192.0.2.1", 51820);
	des[1] = desired(2, "2001:db8::2", 51821);
	act[0] = actual_of(&des[0]);
	act[1] = actual_of(&des[1]);
	ck_assert_int_eq(owned_add(&owned, des[0].key), 0);
	ck_assert_int_eq(owned_add(&owned, des[1].key), 0);
}

/* --- core ------------------------------------------------------------------------------ */

START_TEST(test_adds_to_empty_interface)
{
	struct desired_peer des[2] = { desired(1, "192.0.2.1", 51820),
		desired(2, "2001:db8::2", 51821) };
	struct wg_device act = device(NULL, 0), plan;
	struct reconcile_stats st;

	plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 2);
	assert_set_of(&plan.peers[0], &des[0]);
	assert_set_of(&plan.peers[1], &des[1]);
	ck_assert_uint_eq(plan.peers[0].flags, FLAGS_SET);
	ck_assert_uint_eq(st.added, 2);
	ck_assert_uint_eq(st.updated, 0);
	ck_assert_uint_eq(st.removed, 0);
	ck_assert_uint_eq(st.foreign, 0);
	ck_assert_str_eq(plan.ifname, "wg0");
	free(plan.peers);
}
END_TEST

START_TEST(test_adds_become_owned)
{
	struct desired_peer des[2] = { desired(1, "192.0.2.1", 51820),
		desired(2, "2001:db8::2", 51821) };
	struct wg_device act = device(NULL, 0), plan;
	struct reconcile_stats st;

	plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(owned.n, 2);
	ck_assert(owned_has(&owned, des[0].key));
	ck_assert(owned_has(&owned, des[1].key));
	free(plan.peers);
}
END_TEST

START_TEST(test_in_sync_empty_plan)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	two_in_sync(des, act_peers);
	act = device(act_peers, 2);
	plan_ok(&act, des, 2, &plan, &st);
	assert_nothing(&plan, &st, 0);
	ck_assert_uint_eq(owned.n, 2);
	free(plan.peers);
}
END_TEST

START_TEST(test_endpoint_change_updates)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	two_in_sync(des, act_peers);
	desired_endpoint(&des[1], "2001:db8::99", 51821);
	act = device(act_peers, 2);
	plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 1);
	assert_set_of(&plan.peers[0], &des[1]);
	ck_assert_uint_eq(st.updated, 1);
	ck_assert_uint_eq(st.added, 0);
	ck_assert_uint_eq(st.removed, 0);
	ck_assert_uint_eq(owned.n, 2);
	free(plan.peers);
}
END_TEST

START_TEST(test_keepalive_change_updates)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	two_in_sync(des, act_peers);
	des[0].keepalive_s = 0;
	act = device(act_peers, 2);
	plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 1);
	assert_set_of(&plan.peers[0], &des[0]);
	ck_assert_uint_eq(plan.peers[0].keepalive_s, 0);
	ck_assert_uint_eq(st.updated, 1);
	free(plan.peers);
}
END_TEST

START_TEST(test_allowed_change_updates)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	two_in_sync(des, act_peers);
	addr(&des[0].allowed[1], "fd00:9::77/128");
	act = device(act_peers, 2);
	plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 1);
	assert_set_of(&plan.peers[0], &des[0]);
	ck_assert(plan.peers[0].flags & WG_PEER_REPLACE_ALLOWED);
	ck_assert_uint_eq(st.updated, 1);
	free(plan.peers);
}
END_TEST

START_TEST(test_allowed_other_order_no_update)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	two_in_sync(des, act_peers);
	act_peers[0].allowed[0] = des[0].allowed[1];
	act_peers[0].allowed[1] = des[0].allowed[0];
	act = device(act_peers, 2);
	plan_ok(&act, des, 2, &plan, &st);
	assert_nothing(&plan, &st, 0);
	free(plan.peers);
}
END_TEST

START_TEST(test_owned_not_desired_removed)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;
	uint8_t gone[WG_KEY_LEN];

	two_in_sync(des, act_peers);
	key_fill(gone, 2);
	act = device(act_peers, 2);
	plan_ok(&act, des, 1, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 1);
	ck_assert_uint_eq(plan.peers[0].flags, WG_PEER_REMOVE);
	ck_assert_mem_eq(plan.peers[0].key, gone, WG_KEY_LEN);
	ck_assert_uint_eq(st.removed, 1);
	ck_assert_uint_eq(st.added, 0);
	ck_assert_uint_eq(st.updated, 0);
	ck_assert(!owned_has(&owned, gone));
	ck_assert(owned_has(&owned, des[0].key));
	ck_assert_uint_eq(owned.n, 1);
	free(plan.peers);
}
END_TEST

START_TEST(test_owned_add_has)
{
	uint8_t k[WG_KEY_LEN], other[WG_KEY_LEN];

	key_fill(k, 7);
	key_fill(other, 8);
	ck_assert(!owned_has(&owned, k));
	ck_assert_int_eq(owned_add(&owned, k), 0);
	ck_assert(owned_has(&owned, k));
	ck_assert(!owned_has(&owned, other));
	ck_assert_uint_eq(owned.n, 1);
}
END_TEST

START_TEST(test_owned_remove)
{
	uint8_t k[WG_KEY_LEN];

	key_fill(k, 7);
	ck_assert_int_eq(owned_add(&owned, k), 0);
	owned_remove(&owned, k);
	ck_assert(!owned_has(&owned, k));
	ck_assert_uint_eq(owned.n, 0);
}
END_TEST

/* --- limits ---------------------------------------------------------------------------- */

START_TEST(test_owned_add_twice_once)
{
	uint8_t k[WG_KEY_LEN];

	key_fill(k, 7);
	ck_assert_int_eq(owned_add(&owned, k), 0);
	ck_assert_int_eq(owned_add(&owned, k), 0);
	ck_assert_uint_eq(owned.n, 1);
}
END_TEST

START_TEST(test_owned_grows)
{
	uint8_t k[WG_KEY_LEN];

	for (int i = 0; i < 100; i++) {
		key_fill(k, (uint8_t)i);
		ck_assert_int_eq(owned_add(&owned, k), 0);
	}
	ck_assert_uint_eq(owned.n, 100);
	ck_assert_uint_ge(owned.cap, 100);
	for (int i = 0; i < 100; i++) {
		key_fill(k, (uint8_t)i);
		ck_assert(owned_has(&owned, k));
	}
}
END_TEST

START_TEST(test_owned_remove_middle_keeps_rest)
{
	uint8_t k[WG_KEY_LEN];

	for (int i = 1; i <= 5; i++) {
		key_fill(k, (uint8_t)i);
		ck_assert_int_eq(owned_add(&owned, k), 0);
	}
	key_fill(k, 3);
	owned_remove(&owned, k);
	ck_assert_uint_eq(owned.n, 4);
	for (int i = 1; i <= 5; i++) {
		key_fill(k, (uint8_t)i);
		ck_assert_msg(owned_has(&owned, k) == (i != 3), "key %d", i);
	}
}
END_TEST

START_TEST(test_owned_remove_last)
{
	uint8_t a[WG_KEY_LEN], b[WG_KEY_LEN];

	key_fill(a, 1);
	key_fill(b, 2);
	ck_assert_int_eq(owned_add(&owned, a), 0);
	ck_assert_int_eq(owned_add(&owned, b), 0);
	owned_remove(&owned, b);
	ck_assert_uint_eq(owned.n, 1);
	ck_assert(owned_has(&owned, a));
	ck_assert(!owned_has(&owned, b));
}
END_TEST

START_TEST(test_owned_free_resets)
{
	uint8_t k[WG_KEY_LEN];

	key_fill(k, 1);
	ck_assert_int_eq(owned_add(&owned, k), 0);
	owned_free(&owned);
	ck_assert_uint_eq(owned.n, 0);
	ck_assert_uint_eq(owned.cap, 0);
	ck_assert_ptr_null(owned.keys);
	ck_assert_int_eq(owned_add(&owned, k), 0); /* usable again */
	ck_assert(owned_has(&owned, k));
}
END_TEST

START_TEST(test_nothing_at_all)
{
	struct wg_device act = device(NULL, 0), plan;
	struct reconcile_stats st;

	plan_ok(&act, NULL, 0, &plan, &st);
	assert_nothing(&plan, &st, 0);
	free(plan.peers);
}
END_TEST

START_TEST(test_endpoint_port_change_updates)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	two_in_sync(des, act_peers);
	desired_endpoint(&des[0], "192.0.2.1", 51822);
	act = device(act_peers, 2);
	plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 1);
	assert_set_of(&plan.peers[0], &des[0]);
	free(plan.peers);
}
END_TEST

START_TEST(test_endpoint_family_change_updates)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	two_in_sync(des, act_peers);
	desired_endpoint(&des[0], "2001:db8::1", 51820);
	act = device(act_peers, 2);
	plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 1);
	assert_set_of(&plan.peers[0], &des[0]);
	free(plan.peers);
}
END_TEST

START_TEST(test_add_without_endpoint)
{
	struct desired_peer des = desired(1, "192.0.2.1", 51820);
	struct wg_device act = device(NULL, 0), plan;
	struct reconcile_stats st;

	des.has_endpoint = false;
	memset(&des.endpoint, 0, sizeof(des.endpoint));
	plan_ok(&act, &des, 1, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 1);
	ck_assert_uint_eq(plan.peers[0].flags, WG_PEER_REPLACE_ALLOWED | WG_PEER_HAS_KEEPALIVE);
	assert_set_of(&plan.peers[0], &des);
	free(plan.peers);
}
END_TEST

START_TEST(test_mixed_plan)
{
	struct desired_peer des[3];
	struct wg_peer act_peers[3];
	struct wg_device act, plan;
	struct reconcile_stats st;
	uint8_t k4[WG_KEY_LEN];

	/* 1 in sync, 2 changed, 3 new, 4 owned and no longer desired */
	two_in_sync(des, act_peers);
	des[2] = desired(3, "192.0.2.3", 51820);
	key_fill(k4, 4);
	act_peers[2] = actual_of(&des[2]);
	memcpy(act_peers[2].key, k4, WG_KEY_LEN);
	ck_assert_int_eq(owned_add(&owned, k4), 0);
	des[1].keepalive_s = 0;
	act = device(act_peers, 3);
	plan_ok(&act, des, 3, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 3);
	ck_assert_uint_eq(st.added, 1);
	ck_assert_uint_eq(st.updated, 1);
	ck_assert_uint_eq(st.removed, 1);
	ck_assert_uint_eq(st.foreign, 0);
	assert_set_of(&plan.peers[0], &des[1]);
	assert_set_of(&plan.peers[1], &des[2]);
	ck_assert_uint_eq(plan.peers[2].flags, WG_PEER_REMOVE);
	ck_assert_mem_eq(plan.peers[2].key, k4, WG_KEY_LEN);
	ck_assert_uint_eq(owned.n, 3);
	ck_assert(!owned_has(&owned, k4));
	free(plan.peers);
}
END_TEST

START_TEST(test_remove_all_owned)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	two_in_sync(des, act_peers);
	act = device(act_peers, 2);
	plan_ok(&act, NULL, 0, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 2);
	ck_assert_uint_eq(plan.peers[0].flags, WG_PEER_REMOVE);
	ck_assert_uint_eq(plan.peers[1].flags, WG_PEER_REMOVE);
	ck_assert_uint_eq(st.removed, 2);
	ck_assert_uint_eq(owned.n, 0);
	free(plan.peers);
}
END_TEST

START_TEST(test_owned_missing_from_interface_readded)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	two_in_sync(des, act_peers);
	act = device(act_peers, 1); /* peer 2 vanished, e.g. the interface was recreated */
	plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 1);
	assert_set_of(&plan.peers[0], &des[1]);
	ck_assert_uint_eq(st.added, 1);
	ck_assert_uint_eq(owned.n, 2);
	free(plan.peers);
}
END_TEST

/* --- errors ---------------------------------------------------------------------------- */

START_TEST(test_foreign_desired_untouched)
{
	struct desired_peer des = desired(1, "192.0.2.1", 51820);
	struct wg_peer act_peer = actual_of(&des);
	struct wg_device act = device(&act_peer, 1), plan;
	struct reconcile_stats st;

	desired_endpoint(&des, "192.0.2.99", 51820); /* differs: still not ours to change */
	plan_ok(&act, &des, 1, &plan, &st);
	assert_nothing(&plan, &st, 1);
	ck_assert_uint_eq(owned.n, 0);
	free(plan.peers);
}
END_TEST

START_TEST(test_foreign_not_desired_never_removed)
{
	struct desired_peer des = desired(1, "192.0.2.1", 51820);
	struct wg_peer act_peer = actual_of(&des);
	struct wg_device act = device(&act_peer, 1), plan;
	struct reconcile_stats st;

	plan_ok(&act, NULL, 0, &plan, &st);
	assert_nothing(&plan, &st, 0);
	ck_assert_uint_eq(owned.n, 0);
	free(plan.peers);
}
END_TEST

START_TEST(test_foreign_kept_beside_owned_removal)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[3];
	struct wg_device act, plan;
	struct reconcile_stats st;
	struct desired_peer foreign = desired(9, "192.0.2.9", 51820);

	two_in_sync(des, act_peers);
	act_peers[2] = actual_of(&foreign);
	act = device(act_peers, 3);
	plan_ok(&act, NULL, 0, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 2);
	for (size_t i = 0; i < plan.n_peers; i++)
		ck_assert(memcmp(plan.peers[i].key, foreign.key, WG_KEY_LEN) != 0);
	free(plan.peers);
}
END_TEST

START_TEST(test_owned_gone_dropped_without_remove)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	two_in_sync(des, act_peers);
	act = device(act_peers, 1); /* peer 2 removed by someone else */
	plan_ok(&act, des, 1, &plan, &st);
	assert_nothing(&plan, &st, 0);
	ck_assert_uint_eq(owned.n, 1);
	ck_assert(owned_has(&owned, des[0].key));
	ck_assert(!owned_has(&owned, des[1].key));
	free(plan.peers);
}
END_TEST

START_TEST(test_owned_remove_absent_noop)
{
	uint8_t a[WG_KEY_LEN], b[WG_KEY_LEN];

	key_fill(a, 1);
	key_fill(b, 2);
	owned_remove(&owned, a); /* empty set */
	ck_assert_uint_eq(owned.n, 0);
	ck_assert_int_eq(owned_add(&owned, a), 0);
	owned_remove(&owned, b);
	ck_assert_uint_eq(owned.n, 1);
	ck_assert(owned_has(&owned, a));
}
END_TEST

START_TEST(test_owned_has_empty)
{
	uint8_t k[WG_KEY_LEN];

	key_fill(k, 0);
	ck_assert(!owned_has(&owned, k));
}
END_TEST

/* A NAT endpoint written anew: the peer twice, keepalive 0 then 25, so WireGuard sends at
 * once. */
START_TEST(test_kick_on_new_endpoint)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	two_in_sync(des, act_peers);
	desired_endpoint(&des[0], "192.0.2.1", 51822);
	des[0].kick = des[1].kick = true;
	act = device(act_peers, 2);
	plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 2);
	ck_assert_uint_eq(st.updated, 1);
	ck_assert_uint_eq(st.kicked, 1);
	ck_assert_mem_eq(plan.peers[0].key, des[0].key, WG_KEY_LEN);
	ck_assert_uint_eq(plan.peers[0].flags, FLAGS_SET);
	ck_assert_uint_eq(plan.peers[0].keepalive_s, 0);
	ck_assert_mem_eq(plan.peers[1].key, des[0].key, WG_KEY_LEN);
	ck_assert_uint_eq(plan.peers[1].flags, WG_PEER_HAS_KEEPALIVE);
	ck_assert_uint_eq(plan.peers[1].keepalive_s, 25);
	ck_assert_uint_eq(plan.peers[1].n_allowed, 0);
	free(plan.peers);
}
END_TEST

/* Kick asked, but nothing to write, or no keepalive to turn on: no kick. */
START_TEST(test_no_kick_when_unchanged_or_off)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	two_in_sync(des, act_peers);
	des[0].kick = des[1].kick = true;
	act = device(act_peers, 2);
	plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 0);
	free(plan.peers);
	desired_endpoint(&des[1], "192.0.2.9", 51829);
	des[1].keepalive_s = 0;
	plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 1);
	ck_assert_uint_eq(st.kicked, 0);
	assert_set_of(&plan.peers[0], &des[1]);
	free(plan.peers);
}
END_TEST

/* After a network change every peer is written again although the interface matches (the
 * endpoint set again drops WireGuard's cached source), kicked when its keepalive is on. */
START_TEST(test_force_rewrites_in_sync)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	two_in_sync(des, act_peers);
	des[0].force = des[1].force = true;
	des[0].kick = true;
	des[1].keepalive_s = act_peers[1].keepalive_s = 0;
	act = device(act_peers, 2);
	plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 3);
	ck_assert_uint_eq(st.updated, 2);
	ck_assert_uint_eq(st.kicked, 1);
	ck_assert_uint_eq(plan.peers[0].flags, FLAGS_SET);
	ck_assert_uint_eq(plan.peers[0].keepalive_s, 0);
	ck_assert_uint_eq(plan.peers[1].flags, WG_PEER_HAS_KEEPALIVE);
	ck_assert_uint_eq(plan.peers[1].keepalive_s, 25);
	assert_set_of(&plan.peers[2], &des[1]);
	free(plan.peers);
}
END_TEST

Suite *
reconcile_suite(void)
{
	Suite *s = suite_create("reconcile");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_adds_to_empty_interface);
	tcase_add_test(tc, test_adds_become_owned);
	tcase_add_test(tc, test_in_sync_empty_plan);
	tcase_add_test(tc, test_endpoint_change_updates);
	tcase_add_test(tc, test_keepalive_change_updates);
	tcase_add_test(tc, test_allowed_change_updates);
	tcase_add_test(tc, test_allowed_other_order_no_update);
	tcase_add_test(tc, test_owned_not_desired_removed);
	tcase_add_test(tc, test_owned_add_has);
	tcase_add_test(tc, test_owned_remove);
	tcase_add_test(tc, test_kick_on_new_endpoint);
	tcase_add_test(tc, test_no_kick_when_unchanged_or_off);
	tcase_add_test(tc, test_force_rewrites_in_sync);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_owned_add_twice_once);
	tcase_add_test(tc, test_owned_grows);
	tcase_add_test(tc, test_owned_remove_middle_keeps_rest);
	tcase_add_test(tc, test_owned_remove_last);
	tcase_add_test(tc, test_owned_free_resets);
	tcase_add_test(tc, test_nothing_at_all);
	tcase_add_test(tc, test_endpoint_port_change_updates);
	tcase_add_test(tc, test_endpoint_family_change_updates);
	tcase_add_test(tc, test_add_without_endpoint);
	tcase_add_test(tc, test_mixed_plan);
	tcase_add_test(tc, test_remove_all_owned);
	tcase_add_test(tc, test_owned_missing_from_interface_readded);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_foreign_desired_untouched);
	tcase_add_test(tc, test_foreign_not_desired_never_removed);
	tcase_add_test(tc, test_foreign_kept_beside_owned_removal);
	tcase_add_test(tc, test_owned_gone_dropped_without_remove);
	tcase_add_test(tc, test_owned_remove_absent_noop);
	tcase_add_test(tc, test_owned_has_empty);
	suite_add_tcase(s, tc);
	return s;
}
