/* Unit tests for server/peers.c: the peer table by key and by (network, tunnel address). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "server/peers.h"
#include "test/check_suites.h"

/* A record of network with key byte k (repeated) and the given tunnel addresses. */
static struct peer *
mk(const char *network, uint8_t k, const char *name, const char *t1, const char *t2)
{
	struct peer *p = calloc(1, sizeof(*p));
	const char *ts[2] = { t1, t2 };

	ck_assert_ptr_nonnull(p);
	memset(p->key, k, WG_KEY_LEN);
	snprintf(p->network, sizeof(p->network), "%s", network);
	snprintf(p->name, sizeof(p->name), "%s", name);
	for (int i = 0; i < 2; i++) {
		if (ts[i] == NULL)
			continue;
		ck_assert(netaddr_parse(ts[i], true, &p->tunnel[p->n_tunnel], NULL, 0));
		p->n_tunnel++;
	}
	return p;
}

static struct netaddr
addr(const char *s)
{
	struct netaddr a;

	ck_assert(netaddr_parse(s, true, &a, NULL, 0));
	return a;
}

static const struct peer *
find(struct peer_table *t, const char *net, const char *a, const struct peer *skip)
{
	struct netaddr na = addr(a);

	return peer_table_find_tunnel(t, net, &na, skip != NULL ? skip->key : NULL);
}

START_TEST(test_find_tunnel)
{
	struct peer_table *t = peer_table_new();
	struct peer *a = mk("n1", 1, "a", "10.9.0.2/32", "fd00::2/128");
	struct peer *b = mk("n1", 2, "b", "10.9.0.3/32", NULL);
	struct peer *c = mk("n2", 3, "c", "10.9.0.2/32", NULL);

	ck_assert_ptr_null(peer_table_put(t, a));
	ck_assert_ptr_null(peer_table_put(t, b));
	ck_assert_ptr_null(peer_table_put(t, c));
	ck_assert_ptr_eq(find(t, "n1", "10.9.0.2/32", NULL), a);
	ck_assert_ptr_eq(find(t, "n1", "fd00::2/128", NULL), a);
	ck_assert_ptr_eq(find(t, "n1", "10.9.0.3/32", NULL), b);
	ck_assert_ptr_eq(find(t, "n2", "10.9.0.2/32", NULL), c);
	/* the holder itself is skipped; other networks and addresses are not a match */
	ck_assert_ptr_null(find(t, "n1", "10.9.0.2/32", a));
	ck_assert_ptr_null(find(t, "n1", "10.9.0.9/32", NULL));
	ck_assert_ptr_null(find(t, "n3", "10.9.0.2/32", NULL));
	ck_assert_ptr_null(find(t, "n1", "10.9.0.2/31", NULL));
	ck_assert_ptr_null(find(t, "n1", "::ffff:10.9.0.2/128", NULL));
	peer_table_del(t);
}
END_TEST

START_TEST(test_replace_and_take_follow_the_index)
{
	struct peer_table *t = peer_table_new();
	struct peer *a = mk("n1", 1, "a", "10.9.0.2/32", "10.9.0.20/32");
	struct peer *a2 = mk("n1", 1, "a", "10.9.0.7/32", NULL);
	struct peer *b = mk("n1", 2, "b", "10.9.0.3/32", NULL);

	ck_assert_ptr_null(peer_table_put(t, a));
	ck_assert_ptr_null(peer_table_put(t, b));
	/* a new record of the same key: its old addresses are gone from the index */
	ck_assert_ptr_eq(peer_table_put(t, a2), a);
	peer_free(a);
	ck_assert_ptr_null(find(t, "n1", "10.9.0.2/32", NULL));
	ck_assert_ptr_null(find(t, "n1", "10.9.0.20/32", NULL));
	ck_assert_ptr_eq(find(t, "n1", "10.9.0.7/32", NULL), a2);
	ck_assert_ptr_eq(peer_table_take(t, b->key), b);
	ck_assert_ptr_null(find(t, "n1", "10.9.0.3/32", NULL));
	peer_free(b);
	ck_assert_uint_eq(peer_table_count(t), 1);
	peer_table_del(t);
}
END_TEST

/* Records stored before the check existed may share an address: both are found. */
START_TEST(test_shared_address_both_found)
{
	struct peer_table *t = peer_table_new();
	struct peer *a = mk("n1", 1, "a", "10.9.0.2/32", NULL);
	struct peer *b = mk("n1", 2, "b", "10.9.0.2/32", NULL);
	const struct peer *f;

	ck_assert_ptr_null(peer_table_put(t, a));
	ck_assert_ptr_null(peer_table_put(t, b));
	f = find(t, "n1", "10.9.0.2/32", NULL);
	ck_assert(f == a || f == b);
	ck_assert_ptr_eq(find(t, "n1", "10.9.0.2/32", a), b);
	ck_assert_ptr_eq(find(t, "n1", "10.9.0.2/32", b), a);
	peer_free(peer_table_take(t, a->key));
	ck_assert_ptr_eq(find(t, "n1", "10.9.0.2/32", NULL), b);
	peer_table_del(t);
}
END_TEST

/* Growth, tombstones and rebuilds: every address stays findable, and only its holder's. */
START_TEST(test_many_peers_churn)
{
	enum { N = 3000 };
	struct peer_table *t = peer_table_new();
	char a1[32], a2[32];

	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < N; i++) {
			struct peer *p = mk(i % 2 ? "odd" : "even", 0, "p", NULL, NULL), *old;
			memcpy(p->key, &i, sizeof(i));
			snprintf(a1, sizeof(a1), "10.%d.%d.%d/32", round, i / 256, i % 256);
			snprintf(a2, sizeof(a2), "fd00::%x/128", i);
			ck_assert(netaddr_parse(a1, true, &p->tunnel[0], NULL, 0));
			ck_assert(netaddr_parse(a2, true, &p->tunnel[1], NULL, 0));
			p->n_tunnel = 2;
			old = peer_table_put(t, p);
			ck_assert_ptr_ne(old, p);
			peer_free(old);
		}
		/* take every third, then check every address */
		for (int i = 0; i < N; i += 3) {
			uint8_t key[WG_KEY_LEN] = { 0 };
			memcpy(key, &i, sizeof(i));
			peer_free(peer_table_take(t, key));
		}
		for (int i = 0; i < N; i++) {
			const char *net = i % 2 ? "odd" : "even";
			const struct peer *f, *g;
			snprintf(a1, sizeof(a1), "10.%d.%d.%d/32", round, i / 256, i % 256);
			snprintf(a2, sizeof(a2), "fd00::%x/128", i);
			f = find(t, net, a1, NULL);
			g = find(t, net, a2, NULL);
			if (i % 3 == 0) {
				ck_assert_ptr_null(f);
				ck_assert_ptr_null(g);
			} else {
				ck_assert_ptr_nonnull(f);
				ck_assert_ptr_eq(f, g);
				ck_assert_int_eq(memcmp(f->key, &i, sizeof(i)), 0);
				ck_assert_ptr_null(find(t, i % 2 ? "even" : "odd", a1, NULL));
			}
			if (round > 0) {
				snprintf(a1, sizeof(a1), "10.%d.%d.%d/32", round - 1, i / 256, i % 256);
				ck_assert_ptr_null(find(t, net, a1, NULL));
			}
		}
	}
	peer_table_del(t);
}
END_TEST

Suite *
peers_suite(void)
{
	Suite *s = suite_create("peers");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_find_tunnel);
	tcase_add_test(tc, test_replace_and_take_follow_the_index);
	tcase_add_test(tc, test_shared_address_both_found);
	tcase_add_test(tc, test_many_peers_churn);
	suite_add_tcase(s, tc);
	return s;
}
