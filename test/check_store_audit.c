/* Unit tests for server/store_audit.c (the audit log): entries read back newest first
 * with every field after a reopen; only the caller's network and the server's own; paging
 * with before_id and limit; the bound drops the oldest in the insert's transaction; bad
 * records, a write inside another transaction and one while another process holds the
 * write lock refused with nothing stored; the table
 * added to a database of the schema before it. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "server/store.h"
#include "test/check_suites.h"
#include "test/storetest.h"

#define SEEN_MAX 32

struct got {
	size_t n;
	struct store_audit e[SEEN_MAX];
};

static int
collect(const struct store_audit *e, void *arg)
{
	struct got *g = arg;

	ck_assert_uint_lt(g->n, SEEN_MAX);
	g->e[g->n++] = *e;
	return 0;
}

static struct got *
list(struct store *st, const char *network, uint64_t before, uint32_t limit)
{
	static struct got g;

	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(store_audit_foreach(st, network, before, limit, collect, &g), 0);
	return &g;
}

static void
sample(struct store_audit *e, const char *network, const char *admin, const char *action,
    int n)
{
	memset(e, 0, sizeof(*e));
	e->time_ms = 1700000000000 + n;
	snprintf(e->network, sizeof(e->network), "%s", network);
	snprintf(e->admin, sizeof(e->admin), "%s", admin);
	snprintf(e->serial, sizeof(e->serial), "%s", admin[0] != '\0' ? "7F01AB" : "");
	snprintf(e->action, sizeof(e->action), "%s", action);
	snprintf(e->detail, sizeof(e->detail), "request %d h%d 10.9.0.%d", n, n, n);
}

static uint64_t
add(struct store *st, const char *network, const char *admin, const char *action, int n,
    uint64_t max)
{
	struct store_audit e;

	sample(&e, network, admin, action, n);
	ck_assert_int_eq(store_audit_add(st, &e, max), 0);
	ck_assert_uint_gt(e.id, 0);
	return e.id;
}

static uint64_t
count(struct store *st)
{
	uint64_t n = 99999;

	ck_assert_int_eq(store_audit_count(st, &n), 0);
	return n;
}

START_TEST(test_add_reopen_order)
{
	struct store *st = stest_open_ok();
	struct store_audit want;
	struct got *g;
	uint64_t a, b, c;

	a = add(st, "neta", "alice", "approve", 1, 100);
	b = add(st, "neta", "alice", "deny", 2, 100);
	c = add(st, "", "", "crl-loaded", 3, 100);
	ck_assert_uint_lt(a, b);
	ck_assert_uint_lt(b, c);
	store_close(st);
	st = stest_open_ok();
	g = list(st, "neta", 0, 100);
	ck_assert_uint_eq(g->n, 3);
	ck_assert_uint_eq(g->e[0].id, c);
	ck_assert_uint_eq(g->e[1].id, b);
	ck_assert_uint_eq(g->e[2].id, a);
	sample(&want, "neta", "alice", "deny", 2);
	ck_assert_int_eq(g->e[1].time_ms, want.time_ms);
	ck_assert_str_eq(g->e[1].network, "neta");
	ck_assert_str_eq(g->e[1].admin, "alice");
	ck_assert_str_eq(g->e[1].serial, "7F01AB");
	ck_assert_str_eq(g->e[1].action, "deny");
	ck_assert_str_eq(g->e[1].detail, want.detail);
	ck_assert_str_eq(g->e[0].admin, "");
	ck_assert_str_eq(g->e[0].action, "crl-loaded");
	store_close(st);
}
END_TEST

START_TEST(test_network_filter)
{
	struct store *st = stest_open_ok();
	struct got *g;

	add(st, "neta", "alice", "approve", 1, 100);
	add(st, "netb", "bob", "remove", 2, 100);
	add(st, "", "", "crl-loaded", 3, 100);
	add(st, "netb", "", "policy-loaded", 4, 100);
	g = list(st, "netb", 0, 100);
	ck_assert_uint_eq(g->n, 3);
	ck_assert_str_eq(g->e[0].action, "policy-loaded");
	ck_assert_str_eq(g->e[1].action, "crl-loaded");
	ck_assert_str_eq(g->e[2].action, "remove");
	g = list(st, "neta", 0, 100);
	ck_assert_uint_eq(g->n, 2);
	ck_assert_str_eq(g->e[0].action, "crl-loaded");
	ck_assert_str_eq(g->e[1].admin, "alice");
	g = list(st, "netc", 0, 100);
	ck_assert_uint_eq(g->n, 1);
	store_close(st);
}
END_TEST

START_TEST(test_paging)
{
	struct store *st = stest_open_ok();
	uint64_t id[10];
	struct got *g;

	for (int i = 0; i < 10; i++)
		id[i] = add(st, "neta", "alice", "approve", i, 100);
	g = list(st, "neta", 0, 4);
	ck_assert_uint_eq(g->n, 4);
	ck_assert_uint_eq(g->e[0].id, id[9]);
	ck_assert_uint_eq(g->e[3].id, id[6]);
	g = list(st, "neta", id[6], 4);
	ck_assert_uint_eq(g->n, 4);
	ck_assert_uint_eq(g->e[0].id, id[5]);
	ck_assert_uint_eq(g->e[3].id, id[2]);
	g = list(st, "neta", id[2], 4);
	ck_assert_uint_eq(g->n, 2);
	ck_assert_uint_eq(g->e[0].id, id[1]);
	ck_assert_uint_eq(g->e[1].id, id[0]);
	g = list(st, "neta", id[0], 4);
	ck_assert_uint_eq(g->n, 0);
	store_close(st);
}
END_TEST

START_TEST(test_bounded)
{
	struct store *st = stest_open_ok();
	uint64_t id[12];
	struct got *g;

	for (int i = 0; i < 12; i++) {
		id[i] = add(st, "neta", "alice", "approve", i, 5);
		ck_assert_uint_eq(count(st), i < 5 ? (uint64_t)i + 1 : 5);
	}
	g = list(st, "neta", 0, 100);
	ck_assert_uint_eq(g->n, 5);
	for (int i = 0; i < 5; i++)
		ck_assert_uint_eq(g->e[i].id, id[11 - i]);
	/* ids keep growing past the dropped ones, also after a reopen */
	store_close(st);
	st = stest_open_ok();
	ck_assert_uint_gt(add(st, "neta", "alice", "deny", 12, 5), id[11]);
	ck_assert_uint_eq(count(st), 5);
	/* a smaller bound drops the surplus at the next insert */
	add(st, "neta", "alice", "deny", 13, 2);
	ck_assert_uint_eq(count(st), 2);
	g = list(st, "neta", 0, 100);
	ck_assert_str_eq(g->e[0].detail, "request 13 h13 10.9.0.13");
	store_close(st);
}
END_TEST

START_TEST(test_migrate)
{
	struct store *st = stest_open_ok();
	sqlite3 *db = NULL;
	char sql[80];

	store_close(st);
	ck_assert_int_eq(sqlite3_open(t_db, &db), SQLITE_OK);
	/* 9 made the table: a version-8 store gets it */
	snprintf(sql, sizeof(sql), "DROP TABLE audit; PRAGMA user_version = %d", 8);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	st = stest_open_ok();
	ck_assert_uint_eq(count(st), 0);
	add(st, "neta", "alice", "approve", 1, 10);
	ck_assert_uint_eq(count(st), 1);
	store_close(st);
}
END_TEST

/* --- errors ---------------------------------------------------------------------------- */

START_TEST(test_add_refused)
{
	struct store *st = stest_open_ok();
	struct store_audit e;
	struct peer p;

	sample(&e, "neta", "alice", "", 1);
	ck_assert_int_eq(store_audit_add(st, &e, 10), -EINVAL);
	sample(&e, "neta", "alice", "approve", 1);
	memset(e.detail, 'x', sizeof(e.detail));
	ck_assert_int_eq(store_audit_add(st, &e, 10), -EINVAL);
	sample(&e, "neta", "alice", "approve", 1);
	ck_assert_int_eq(store_audit_add(st, &e, 0), -EINVAL);
	/* inside a group commit it would commit with (or vanish with) the peers' batch */
	stest_peer_v4(&p, 3);
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_peer_put(st, &p), 0);
	ck_assert_int_eq(store_audit_add(st, &e, 10), -EINVAL);
	ck_assert_int_eq(store_commit(st, 1), 0);
	ck_assert_uint_eq(count(st), 0);
	ck_assert_int_eq(store_audit_add(st, &e, 10), 0);
	ck_assert_uint_eq(count(st), 1);
	store_close(st);
}
END_TEST

/* Another process holding the write lock: the entry fails (at once, not after the busy
 * timeout: test/storefault.test sees the loop go on) and nothing is stored. */
START_TEST(test_add_locked)
{
	struct store *st = stest_open_ok();
	struct store_audit e;
	sqlite3 *other = NULL;

	ck_assert_int_eq(sqlite3_open(t_db, &other), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	sample(&e, "neta", "alice", "approve", 1);
	ck_assert_int_eq(store_audit_add(st, &e, 10), -EIO);
	ck_assert_uint_eq(e.id, 0);
	ck_assert_int_eq(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	ck_assert_uint_eq(count(st), 0);
	ck_assert_int_eq(store_audit_add(st, &e, 10), 0);
	ck_assert_uint_eq(count(st), 1);
	store_close(st);
}
END_TEST

static int
stop_at_two(const struct store_audit *e, void *arg)
{
	(void)e;
	return ++*(int *)arg == 2 ? 42 : 0;
}

START_TEST(test_foreach_stops)
{
	struct store *st = stest_open_ok();
	int seen = 0;

	for (int i = 0; i < 4; i++)
		add(st, "neta", "alice", "approve", i, 10);
	ck_assert_int_eq(store_audit_foreach(st, "neta", 0, 10, stop_at_two, &seen), 42);
	ck_assert_int_eq(seen, 2);
	store_close(st);
}
END_TEST

Suite *
store_audit_suite(void)
{
	Suite *s = suite_create("store_audit");
	TCase *tc = tcase_create("core"), *te = tcase_create("errors");

	tcase_add_checked_fixture(tc, stest_dir_setup, stest_dir_teardown);
	tcase_add_test(tc, test_add_reopen_order);
	tcase_add_test(tc, test_network_filter);
	tcase_add_test(tc, test_paging);
	tcase_add_test(tc, test_bounded);
	tcase_add_test(tc, test_migrate);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(te, stest_dir_setup, stest_dir_teardown);
	tcase_add_test(te, test_add_refused);
	tcase_add_test(te, test_foreach_stops);
	tcase_add_test(te, test_add_locked);
	suite_add_tcase(s, te);
	return s;
}
