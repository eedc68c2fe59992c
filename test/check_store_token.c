/* Unit tests for server/store_token.c (join tokens): added and read back after a reopen
 * with every field; a use taken together with the join it approves, in one transaction,
 * and refused (nothing written) once used up, expired or gone; expiry; bad records; schema
 * 7 added to a version-6 database. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "server/store.h"
#include "test/check_suites.h"
#include "test/storetest.h"

static uint8_t t_csr[200], t_jcert[300];

static void
token_sample(struct store_token *t, uint8_t hashbyte, uint32_t uses, int64_t expires)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->network, sizeof(t->network), "neta");
	memset(t->sha256, hashbyte, 32);
	t->uses_left = uses;
	t->expires_s = expires;
	t->created_s = 1000;
	t->n_groups = 2;
	snprintf(t->groups[0], sizeof(t->groups[0]), "servers");
	snprintf(t->groups[1], sizeof(t->groups[1]), "db-1");
	snprintf(t->admin_name, sizeof(t->admin_name), "alice");
	snprintf(t->admin_serial, sizeof(t->admin_serial), "01AB");
}

static void
join_approved(struct store_join *j, uint64_t id)
{
	memset(j, 0, sizeof(*j));
	j->id = id;
	snprintf(j->name, sizeof(j->name), "host%llu", (unsigned long long)id);
	snprintf(j->network, sizeof(j->network), "neta");
	memset(j->key, (int)id, WG_KEY_LEN);
	memset(j->csr_sha256, (int)(0x40 + id), 32);
	stest_addr("192.0.2.7", &j->source);
	j->created_s = 1100;
	j->state = 1;
	memset(t_csr, 0x30, sizeof(t_csr));
	memset(t_jcert, 0x31, sizeof(t_jcert));
	j->csr = t_csr;
	j->csr_len = sizeof(t_csr);
	j->cert = t_jcert;
	j->cert_len = sizeof(t_jcert);
	j->ca = t_jcert;
	j->ca_len = 10;
	j->n_ips = 1;
	stest_addr("10.9.0.5", &j->ips[0]);
}

static int
count_join(const struct store_join *j, void *arg)
{
	(void)j;
	(*(size_t *)arg)++;
	return 0;
}

static size_t
joins(struct store *st)
{
	size_t n = 0;

	ck_assert_int_eq(store_joins_foreach(st, count_join, &n), 0);
	return n;
}

static uint32_t
uses_left(struct store *st, uint8_t hashbyte)
{
	struct store_token t;
	uint8_t sha[32];

	memset(sha, hashbyte, 32);
	ck_assert_int_eq(store_token_get(st, sha, &t), 0);
	return t.uses_left;
}

/* --- core ------------------------------------------------------------------------------ */

START_TEST(test_add_reopen_get)
{
	struct store *st = stest_open_ok();
	struct store_token t, u, got;
	uint8_t other[32];

	token_sample(&t, 0x11, 3, 5000);
	token_sample(&u, 0x22, 1, 6000);
	u.n_groups = 0;
	ck_assert_int_eq(store_token_add(st, &t), 0);
	ck_assert_int_eq(store_token_add(st, &u), 0);
	ck_assert_uint_gt(t.id, 0);
	ck_assert_uint_gt(u.id, t.id);
	store_close(st);
	st = stest_open_ok();
	ck_assert_int_eq(store_token_get(st, t.sha256, &got), 0);
	ck_assert_uint_eq(got.id, t.id);
	ck_assert_str_eq(got.network, "neta");
	ck_assert_mem_eq(got.sha256, t.sha256, 32);
	ck_assert_uint_eq(got.uses_left, 3);
	ck_assert_int_eq(got.expires_s, 5000);
	ck_assert_int_eq(got.created_s, 1000);
	ck_assert_uint_eq(got.n_groups, 2);
	ck_assert_str_eq(got.groups[0], "servers");
	ck_assert_str_eq(got.groups[1], "db-1");
	ck_assert_str_eq(got.admin_name, "alice");
	ck_assert_str_eq(got.admin_serial, "01AB");
	ck_assert_int_eq(store_token_get(st, u.sha256, &got), 0);
	ck_assert_uint_eq(got.n_groups, 0);
	memset(other, 0x33, 32);
	ck_assert_int_eq(store_token_get(st, other, &got), -ENOENT);
	ck_assert_uint_eq(store_revision(st), 0);  /* no peer change: no revision */
	store_close(st);
}
END_TEST

/* Each use writes its join; the last use taken, the next is refused and writes nothing. */
START_TEST(test_use_until_used_up)
{
	struct store *st = stest_open_ok();
	struct store_token t;
	struct store_join j;

	token_sample(&t, 0x11, 2, 5000);
	ck_assert_int_eq(store_token_add(st, &t), 0);
	join_approved(&j, 1);
	ck_assert_int_eq(store_token_use(st, t.id, 4000, &j), 0);
	ck_assert_uint_eq(uses_left(st, 0x11), 1);
	join_approved(&j, 2);
	ck_assert_int_eq(store_token_use(st, t.id, 4000, &j), 0);
	ck_assert_uint_eq(uses_left(st, 0x11), 0);
	ck_assert_uint_eq(joins(st), 2);
	join_approved(&j, 3);
	ck_assert_int_eq(store_token_use(st, t.id, 4000, &j), -ESTALE);
	ck_assert_uint_eq(joins(st), 2);
	ck_assert_uint_eq(uses_left(st, 0x11), 0);
	store_close(st);
}
END_TEST

/* At or past expiry no use is taken; expire drops exactly the tokens past the time. */
START_TEST(test_expired_and_expire)
{
	struct store *st = stest_open_ok();
	struct store_token t, u, got;
	struct store_join j;

	token_sample(&t, 0x11, 2, 5000);
	token_sample(&u, 0x22, 2, 7000);
	ck_assert_int_eq(store_token_add(st, &t), 0);
	ck_assert_int_eq(store_token_add(st, &u), 0);
	join_approved(&j, 1);
	ck_assert_int_eq(store_token_use(st, t.id, 5000, &j), -ESTALE);
	ck_assert_uint_eq(joins(st), 0);
	ck_assert_uint_eq(uses_left(st, 0x11), 2);
	ck_assert_int_eq(store_token_use(st, 999, 10, &j), -ESTALE);  /* no such token */
	ck_assert_int_eq(store_tokens_expire(st, 5000), 0);
	ck_assert_int_eq(store_token_get(st, t.sha256, &got), -ENOENT);
	ck_assert_int_eq(store_token_get(st, u.sha256, &got), 0);
	store_close(st);
}
END_TEST

/* A version-7 database (before tokens) opens as the current version with the table. */
START_TEST(test_migrate_from_v7)
{
	struct store *st = stest_open_ok();
	struct store_token t;
	sqlite3 *db = NULL;

	store_close(st);
	ck_assert_int_eq(sqlite3_open(t_db, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "DROP TABLE join_tokens; PRAGMA user_version = 7",
	    NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_ge(store_schema_version(), 8);
	st = stest_open_ok();
	token_sample(&t, 0x11, 1, 5000);
	ck_assert_int_eq(store_token_add(st, &t), 0);
	ck_assert_uint_eq(uses_left(st, 0x11), 1);
	store_close(st);
}
END_TEST

/* --- errors ---------------------------------------------------------------------------- */

START_TEST(test_add_refused)
{
	struct store *st = stest_open_ok();
	struct store_token t, got;
	struct store_join j;

	token_sample(&t, 0x11, 1, 5000);
	t.network[0] = '\0';
	ck_assert_int_eq(store_token_add(st, &t), -EINVAL);
	token_sample(&t, 0x11, 1, 5000);
	snprintf(t.groups[1], sizeof(t.groups[1]), "Bad,name");
	ck_assert_int_eq(store_token_add(st, &t), -EINVAL);
	token_sample(&t, 0x11, 1, 5000);
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_token_add(st, &t), -EINVAL);   /* would join the batch */
	store_rollback(st);
	ck_assert_int_eq(store_token_get(st, t.sha256, &got), -ENOENT);
	ck_assert_int_eq(store_token_add(st, &t), 0);
	ck_assert_int_eq(store_token_add(st, &t), -EEXIST);   /* the same hash */
	/* a bad join: the use is not taken either */
	join_approved(&j, 1);
	j.state = 7;
	ck_assert_int_eq(store_token_use(st, t.id, 10, &j), -EINVAL);
	ck_assert_uint_eq(uses_left(st, 0x11), 1);
	ck_assert_uint_eq(joins(st), 0);
	store_close(st);
}
END_TEST

Suite *
store_token_suite(void)
{
	Suite *s = suite_create("store_token");
	TCase *tc = tcase_create("core"), *te = tcase_create("errors");

	tcase_add_checked_fixture(tc, stest_dir_setup, stest_dir_teardown);
	tcase_add_test(tc, test_add_reopen_get);
	tcase_add_test(tc, test_use_until_used_up);
	tcase_add_test(tc, test_expired_and_expire);
	tcase_add_test(tc, test_migrate_from_v7);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(te, stest_dir_setup, stest_dir_teardown);
	tcase_add_test(te, test_add_refused);
	suite_add_tcase(s, te);
	return s;
}
