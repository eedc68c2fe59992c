/* Unit tests for server/store.c's peer records: round trips, updates, deletes,
 * transactions and foreach. The database file itself is in check_store_file.c. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/store.h"
#include "test/check_suites.h"
#include "test/storetest.h"

/* --- core ------------------------------------------------------------------------------ */

START_TEST(test_roundtrip_reopen)
{
	struct store *st = stest_open_ok();
	struct peer a, b;
	struct seen *s;

	stest_peer_full(&a, 0x20);
	stest_peer_v4(&b, 0x10);
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_peer_put(st, &a), 0);
	ck_assert_int_eq(store_peer_put(st, &b), 0);
	ck_assert_int_eq(store_commit(st, 7), 0);
	ck_assert_uint_eq(store_revision(st), 7);
	store_close(st);

	st = stest_open_ok();
	ck_assert_uint_eq(store_revision(st), 7);
	s = stest_walk(st);
	ck_assert_uint_eq(s->n, 2);
	/* In key order: b's key (0x10...) sorts first. */
	stest_assert_peer_equal(&b, &s->p[0]);
	stest_assert_peer_equal(&a, &s->p[1]);
	store_close(st);
}
END_TEST

START_TEST(test_static_roundtrip)
{
	struct store *st = stest_open_ok();
	struct peer a, b;
	struct seen *s;

	stest_peer_v4(&a, 0x30);
	a.is_static = true;
	stest_peer_v4(&b, 0x31);
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_peer_put(st, &a), 0);
	ck_assert_int_eq(store_peer_put(st, &b), 0);
	ck_assert_int_eq(store_commit(st, 2), 0);
	store_close(st);
	st = stest_open_ok();
	s = stest_walk(st);
	ck_assert_uint_eq(s->n, 2);
	ck_assert(s->p[0].is_static);
	ck_assert(!s->p[1].is_static);
	store_close(st);
}
END_TEST

START_TEST(test_update_in_place)
{
	struct store *st = stest_open_ok();
	struct peer a;
	struct seen *s;

	stest_peer_full(&a, 1);
	stest_put_commit(st, &a, 1);
	a.n_lan = 1;
	stest_addr("10.1.1.1", &a.lan[0]);
	memset(&a.wan, 0, sizeof(a.wan));
	a.lan_id_len = 6;
	a.observed_endpoint[0] = '\0';
	a.online = false;
	a.cert = NULL;
	a.cert_len = 0;
	a.revision = 2;
	stest_put_commit(st, &a, 2);

	s = stest_walk(st);
	ck_assert_uint_eq(s->n, 1);
	stest_assert_peer_equal(&a, &s->p[0]);
	ck_assert_uint_eq(s->p[0].wan.family, 0);
	ck_assert_uint_eq(store_revision(st), 2);
	store_close(st);
}
END_TEST

START_TEST(test_delete)
{
	struct store *st = stest_open_ok();
	struct peer a, b;
	struct seen *s;

	stest_peer_v4(&a, 1);
	stest_peer_v4(&b, 2);
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_peer_put(st, &a), 0);
	ck_assert_int_eq(store_peer_put(st, &b), 0);
	ck_assert_int_eq(store_commit(st, 1), 0);

	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_peer_delete(st, a.key), 0);
	/* Deleting a key that is not there is not an error. */
	ck_assert_int_eq(store_peer_delete(st, a.key), 0);
	ck_assert_int_eq(store_commit(st, 2), 0);
	store_close(st);

	st = stest_open_ok();
	s = stest_walk(st);
	ck_assert_uint_eq(s->n, 1);
	stest_assert_peer_equal(&b, &s->p[0]);
	ck_assert_uint_eq(store_revision(st), 2);
	store_close(st);
}
END_TEST

START_TEST(test_rollback)
{
	struct store *st = stest_open_ok();
	struct peer a, b;
	struct seen *s;

	stest_peer_v4(&a, 1);
	stest_put_commit(st, &a, 4);
	ck_assert_int_eq(store_begin(st), 0);
	stest_peer_v4(&b, 2);
	ck_assert_int_eq(store_peer_put(st, &b), 0);
	ck_assert_int_eq(store_peer_delete(st, a.key), 0);
	store_rollback(st);
	ck_assert_uint_eq(store_revision(st), 4);
	/* A rollback outside a transaction does nothing. */
	store_rollback(st);
	store_close(st);

	st = stest_open_ok();
	s = stest_walk(st);
	ck_assert_uint_eq(s->n, 1);
	stest_assert_peer_equal(&a, &s->p[0]);
	ck_assert_uint_eq(store_revision(st), 4);
	store_close(st);
}
END_TEST

START_TEST(test_close_discards_open_transaction)
{
	struct store *st = stest_open_ok();
	struct peer a;

	stest_peer_v4(&a, 1);
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_peer_put(st, &a), 0);
	store_close(st);
	store_close(NULL);

	st = stest_open_ok();
	ck_assert_uint_eq(stest_walk(st)->n, 0);
	ck_assert_uint_eq(store_revision(st), 0);
	store_close(st);
}
END_TEST

static int
stop_at_first(const struct peer *p, void *arg)
{
	(*(int *)arg)++;
	return 42;
}

START_TEST(test_foreach_stops)
{
	struct store *st = stest_open_ok();
	struct peer a, b;
	int calls = 0;

	stest_peer_v4(&a, 1);
	stest_peer_v4(&b, 2);
	stest_put_commit(st, &a, 1);
	stest_put_commit(st, &b, 2);
	ck_assert_int_eq(store_peers_foreach(st, stop_at_first, &calls), 42);
	ck_assert_int_eq(calls, 1);
	/* The stest_walk was reset: the next one sees everything again. */
	ck_assert_uint_eq(stest_walk(st)->n, 2);
	store_close(st);
}
END_TEST

START_TEST(test_many_puts_one_transaction)
{
	struct store *st = stest_open_ok();
	struct peer p;
	struct seen *s;
	uint8_t i;

	ck_assert_int_eq(store_begin(st), 0);
	for (i = 0; i < MAX_SEEN; i++) {
		stest_peer_full(&p, (uint8_t)(MAX_SEEN - i));
		p.revision = i;
		ck_assert_int_eq(store_peer_put(st, &p), 0);
	}
	ck_assert_int_eq(store_commit(st, 99), 0);
	s = stest_walk(st);
	ck_assert_uint_eq(s->n, MAX_SEEN);
	for (i = 1; i < MAX_SEEN; i++)
		ck_assert_int_lt(memcmp(s->p[i - 1].key, s->p[i].key, WG_KEY_LEN), 0);
	store_close(st);
}
END_TEST

/* --- limits ---------------------------------------------------------------------------- */

START_TEST(test_full_lists_roundtrip)
{
	struct store *st = stest_open_ok();
	struct peer a;
	struct seen *s;
	char text[NETADDR_STRLEN];
	size_t i;

	stest_peer_full(&a, 5);
	a.n_tunnel = CERT_TUNNEL_MAX;
	for (i = 0; i < CERT_TUNNEL_MAX; i++) {
		snprintf(text, sizeof(text), "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.%zu/%zu",
		    i, 120 + i);
		stest_addr(text, &a.tunnel[i]);
	}
	a.n_lan = PEER_LAN_MAX;
	for (i = 0; i < PEER_LAN_MAX; i++) {
		snprintf(text, sizeof(text), "1111:2222:3333:4444:5555:6666:7777:%zx/%zu", i,
		    i);
		stest_addr(text, &a.lan[i]);
	}
	memset(a.observed_endpoint, 'e', sizeof(a.observed_endpoint) - 1);
	memset(a.name, 'n', sizeof(a.name) - 1);
	stest_put_commit(st, &a, 1);
	s = stest_walk(st);
	ck_assert_uint_eq(s->n, 1);
	stest_assert_peer_equal(&a, &s->p[0]);
	store_close(st);
}
END_TEST

START_TEST(test_put_refuses_out_of_bounds)
{
	struct store *st = stest_open_ok();
	struct peer a;

	ck_assert_int_eq(store_begin(st), 0);
	stest_peer_v4(&a, 1);
	a.n_lan = PEER_LAN_MAX + 1;
	ck_assert_int_eq(store_peer_put(st, &a), -EINVAL);
	stest_peer_v4(&a, 1);
	a.n_tunnel = CERT_TUNNEL_MAX + 1;
	ck_assert_int_eq(store_peer_put(st, &a), -EINVAL);
	stest_peer_v4(&a, 1);
	a.lan_id_len = PEER_LAN_ID_MAX + 1;
	ck_assert_int_eq(store_peer_put(st, &a), -EINVAL);
	stest_peer_v4(&a, 1);
	a.tunnel[0].family = 0;
	ck_assert_int_eq(store_peer_put(st, &a), -EINVAL);
	stest_peer_v4(&a, 1);
	a.lan[0].prefix = 33;
	ck_assert_int_eq(store_peer_put(st, &a), -EINVAL);
	stest_peer_v4(&a, 1);
	memset(a.name, 'x', sizeof(a.name));
	ck_assert_int_eq(store_peer_put(st, &a), -EINVAL);
	stest_peer_v4(&a, 1);
	a.cert_len = 10;
	ck_assert_int_eq(store_peer_put(st, &a), -EINVAL);
	store_rollback(st);
	ck_assert_uint_eq(stest_walk(st)->n, 0);
	store_close(st);
}
END_TEST

/* --- errors ---------------------------------------------------------------------------- */

START_TEST(test_err_write_outside_transaction)
{
	struct store *st = stest_open_ok();
	struct peer a;

	stest_peer_v4(&a, 1);
	ck_assert_int_eq(store_peer_put(st, &a), -EINVAL);
	ck_assert_int_eq(store_peer_delete(st, a.key), -EINVAL);
	ck_assert_int_eq(store_commit(st, 5), -EINVAL);
	ck_assert_uint_eq(store_revision(st), 0);
	ck_assert_uint_eq(stest_walk(st)->n, 0);
	store_close(st);
}
END_TEST

START_TEST(test_err_begin_twice)
{
	struct store *st = stest_open_ok();

	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_begin(st), -EIO);
	store_rollback(st);
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_commit(st, 1), 0);
	store_close(st);
}
END_TEST

static int
nested(const struct peer *p, void *arg)
{
	return store_peers_foreach(arg, stop_at_first, &(int){ 0 });
}

START_TEST(test_err_nested_foreach)
{
	struct store *st = stest_open_ok();
	struct peer a;

	stest_peer_v4(&a, 1);
	stest_put_commit(st, &a, 1);
	ck_assert_int_eq(store_peers_foreach(st, nested, st), -EBUSY);
	ck_assert_uint_eq(stest_walk(st)->n, 1);
	store_close(st);
}
END_TEST

Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, stest_dir_setup, stest_dir_teardown);
	tcase_add_test(tc, test_roundtrip_reopen);
	tcase_add_test(tc, test_update_in_place);
	tcase_add_test(tc, test_static_roundtrip);
	tcase_add_test(tc, test_delete);
	tcase_add_test(tc, test_rollback);
	tcase_add_test(tc, test_close_discards_open_transaction);
	tcase_add_test(tc, test_foreach_stops);
	tcase_add_test(tc, test_many_puts_one_transaction);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, stest_dir_setup, stest_dir_teardown);
	tcase_add_test(tc, test_full_lists_roundtrip);
	tcase_add_test(tc, test_put_refuses_out_of_bounds);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, stest_dir_setup, stest_dir_teardown);
	tcase_add_test(tc, test_err_write_outside_transaction);
	tcase_add_test(tc, test_err_begin_twice);
	tcase_add_test(tc, test_err_nested_foreach);
	suite_add_tcase(s, tc);
	return s;
}
