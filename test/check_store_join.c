/* Unit tests for server/store_join.c (join requests kept across a restart) and
 * pending_load (server/pending.c): saved, reopened, loaded with the same fields; rows past
 * their age dropped; the id sequence continues and never reuses an id; schema 5 added to
 * an existing database. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sqlite3.h>

#include "server/pending.h"
#include "server/store.h"
#include "test/check_suites.h"
#include "test/storetest.h"

static uint8_t t_csr[300], t_jcert[500], t_jca[400];

/* A request with every field set; state 1 (approved) carries a certificate and the CA. */
static void
join_sample(struct store_join *j, uint64_t id, int state, int64_t created)
{
	memset(j, 0, sizeof(*j));
	j->id = id;
	snprintf(j->name, sizeof(j->name), "host%llu", (unsigned long long)id);
	snprintf(j->network, sizeof(j->network), "neta");
	memset(j->key, (int)(0x10 + id), WG_KEY_LEN);
	memset(j->csr_sha256, (int)(0x80 + id), 32);
	stest_addr(id % 2 ? "192.0.2.7" : "2001:db8:1::9", &j->source);
	j->created_s = created;
	j->state = state;
	memset(t_csr, 0x30, sizeof(t_csr));
	memset(t_jcert, 0x31, sizeof(t_jcert));
	memset(t_jca, 0x32, sizeof(t_jca));
	j->csr = t_csr;
	j->csr_len = sizeof(t_csr);
	j->n_ips = 2;
	stest_addr("10.9.0.5", &j->ips[0]);
	stest_addr("fd00:9::5", &j->ips[1]);
	if (state == 1) {
		j->cert = t_jcert;
		j->cert_len = sizeof(t_jcert);
		j->ca = t_jca;
		j->ca_len = sizeof(t_jca);
	} else if (state == 2) {
		j->n_ips = 0;
		snprintf(j->reason, sizeof(j->reason), "not on the inventory");
	}
}

#define MAX_J 8
struct jseen {
	size_t n;
	struct store_join j[MAX_J];
	uint8_t csr[MAX_J][sizeof(t_csr)], cert[MAX_J][sizeof(t_jcert)], ca[MAX_J][sizeof(t_jca)];
};

static int
jcollect(const struct store_join *j, void *arg)
{
	struct jseen *s = arg;
	struct store_join *c = &s->j[s->n];

	ck_assert_uint_lt(s->n, MAX_J);
	*c = *j;
	ck_assert_uint_le(j->csr_len, sizeof(t_csr));
	ck_assert_uint_le(j->cert_len, sizeof(t_jcert));
	ck_assert_uint_le(j->ca_len, sizeof(t_jca));
	memcpy(s->csr[s->n], j->csr, j->csr_len);
	c->csr = s->csr[s->n];
	if (j->cert != NULL)
		memcpy(s->cert[s->n], j->cert, j->cert_len);
	c->cert = j->cert != NULL ? s->cert[s->n] : NULL;
	if (j->ca != NULL)
		memcpy(s->ca[s->n], j->ca, j->ca_len);
	c->ca = j->ca != NULL ? s->ca[s->n] : NULL;
	s->n++;
	return 0;
}

static void
assert_join_equal(const struct store_join *a, const struct store_join *b)
{
	ck_assert_uint_eq(a->id, b->id);
	ck_assert_str_eq(a->name, b->name);
	ck_assert_str_eq(a->network, b->network);
	ck_assert_mem_eq(a->key, b->key, WG_KEY_LEN);
	ck_assert_mem_eq(a->csr_sha256, b->csr_sha256, 32);
	ck_assert(netaddr_equal(&a->source, &b->source));
	ck_assert_int_eq(a->created_s, b->created_s);
	ck_assert_int_eq(a->state, b->state);
	ck_assert_uint_eq(a->csr_len, b->csr_len);
	ck_assert_mem_eq(a->csr, b->csr, a->csr_len);
	ck_assert_uint_eq(a->cert_len, b->cert_len);
	ck_assert_uint_eq(a->ca_len, b->ca_len);
	ck_assert(a->cert_len == 0 || memcmp(a->cert, b->cert, a->cert_len) == 0);
	ck_assert(a->ca_len == 0 || memcmp(a->ca, b->ca, a->ca_len) == 0);
	ck_assert_uint_eq(a->n_ips, b->n_ips);
	for (size_t i = 0; i < a->n_ips; i++)
		ck_assert(netaddr_equal(&a->ips[i], &b->ips[i]));
	ck_assert_str_eq(a->reason, b->reason);
}

static uint64_t
next_id(struct store *st)
{
	uint64_t n = 0;

	ck_assert_int_eq(store_join_next_id(st, &n), 0);
	return n;
}

/* Waiting, approved and denied requests read back, after a reopen, exactly as saved. */
START_TEST(test_put_reopen_same_fields)
{
	struct store *st = stest_open_ok();
	struct store_join w, a, d;
	struct jseen s = { 0 };

	ck_assert_uint_eq(next_id(st), 1);
	join_sample(&w, 3, 0, 1000);
	join_sample(&a, 5, 1, 1001);
	join_sample(&d, 4, 2, 1002);
	ck_assert_int_eq(store_join_put(st, &w), 0);
	ck_assert_int_eq(store_join_put(st, &a), 0);
	ck_assert_int_eq(store_join_put(st, &d), 0);
	store_close(st);
	st = stest_open_ok();
	ck_assert_int_eq(store_joins_foreach(st, jcollect, &s), 0);
	ck_assert_uint_eq(s.n, 3);
	assert_join_equal(&s.j[0], &w);      /* in id order */
	assert_join_equal(&s.j[1], &d);
	assert_join_equal(&s.j[2], &a);
	ck_assert_uint_eq(next_id(st), 6);
	ck_assert_uint_eq(store_revision(st), 0);  /* no peer change: no revision */
	store_close(st);
}
END_TEST

/* A put of the same id replaces the row (a reservation, then the approval). */
START_TEST(test_put_replaces)
{
	struct store *st = stest_open_ok();
	struct store_join w;
	struct jseen s = { 0 };

	join_sample(&w, 7, 0, 1000);
	w.n_ips = 0;
	ck_assert_int_eq(store_join_put(st, &w), 0);
	join_sample(&w, 7, 1, 1000);
	ck_assert_int_eq(store_join_put(st, &w), 0);
	ck_assert_int_eq(store_joins_foreach(st, jcollect, &s), 0);
	ck_assert_uint_eq(s.n, 1);
	assert_join_equal(&s.j[0], &w);
	store_close(st);
}
END_TEST

/* Expired and deleted rows go; the next id stays above them, so no id is given twice. */
START_TEST(test_expire_delete_keep_next_id)
{
	struct store *st = stest_open_ok();
	struct store_join j;
	struct jseen s = { 0 };

	for (uint64_t id = 1; id <= 4; id++) {
		join_sample(&j, id, 0, 1000 + (int64_t)id * 10);
		ck_assert_int_eq(store_join_put(st, &j), 0);
	}
	ck_assert_int_eq(store_joins_expire(st, 1020), 0);   /* created 1010 and 1020 */
	ck_assert_int_eq(store_join_delete(st, 4), 0);
	ck_assert_int_eq(store_join_delete(st, 99), 0);      /* none: not an error */
	store_close(st);
	st = stest_open_ok();
	ck_assert_int_eq(store_joins_foreach(st, jcollect, &s), 0);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_uint_eq(s.j[0].id, 3);
	ck_assert_uint_eq(next_id(st), 5);
	store_close(st);
}
END_TEST

struct into {
	struct pending_table *t;
	int64_t now;
	int ret[MAX_J];
	size_t n;
};

static int
into_table(const struct store_join *j, void *arg)
{
	struct into *l = arg;
	struct pending_req r;

	memset(&r, 0, sizeof(r));
	r.id = j->id;
	snprintf(r.name, sizeof(r.name), "%s", j->name);
	memcpy(r.key, j->key, WG_KEY_LEN);
	memcpy(r.csr_sha256, j->csr_sha256, 32);
	r.source = j->source;
	r.created_s = j->created_s;
	r.state = (enum pending_state)j->state;
	l->ret[l->n++] = pending_load(l->t, &r, l->now);
	return 0;
}

/* Loaded into a new table: the same ids, states and codes; a row past max_age_s is
 * dropped; the next new request continues the sequence. */
START_TEST(test_load_into_table)
{
	struct pending_limits lim = { .max_requests = 8, .max_age_s = 100 };
	struct store *st = stest_open_ok();
	struct store_join j;
	struct into l = { NULL, 2000, { 0 }, 0 };
	const struct pending_req *r;
	struct netaddr src;
	uint8_t key[WG_KEY_LEN], sha[32];
	char code[PENDING_CODE_LEN + 1];

	join_sample(&j, 2, 0, 1950);
	ck_assert_int_eq(store_join_put(st, &j), 0);
	join_sample(&j, 6, 1, 1890);                        /* 110 s old at 2000 */
	ck_assert_int_eq(store_join_put(st, &j), 0);
	join_sample(&j, 9, 2, 1990);
	ck_assert_int_eq(store_join_put(st, &j), 0);
	store_close(st);

	st = stest_open_ok();
	ck_assert_ptr_nonnull(l.t = pending_new(&lim));
	pending_next_id_raise(l.t, next_id(st));
	ck_assert_int_eq(store_joins_foreach(st, into_table, &l), 0);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_int_eq(l.ret[0], 0);
	ck_assert_int_eq(l.ret[1], -ETIME);
	ck_assert_int_eq(l.ret[2], 0);
	ck_assert_uint_eq(pending_count(l.t), 2);
	ck_assert_ptr_nonnull(r = pending_get(l.t, 2));
	ck_assert_int_eq(r->state, PENDING_WAITING);
	ck_assert_int_eq(r->created_s, 1950);
	memset(sha, 0x82, 32);
	pending_code(sha, code);
	ck_assert_str_eq(r->code, code);
	ck_assert_ptr_null(pending_get(l.t, 6));
	ck_assert_ptr_nonnull(r = pending_get(l.t, 9));
	ck_assert_int_eq(r->state, PENDING_DENIED);
	/* a loaded CSR resumes, a new one gets id 10 */
	ck_assert_int_eq(pending_add(l.t, "fresh", (uint8_t[WG_KEY_LEN]){ 0x77 }, (uint8_t[32]){ 1 },
	    &j.source, 2000, &r), PENDING_ADDED);
	ck_assert_uint_eq(r->id, 10);
	memset(key, 0x12, WG_KEY_LEN);
	memset(sha, 0x82, 32);
	stest_addr("192.0.2.99", &src);
	ck_assert_int_eq(pending_add(l.t, "host2", key, sha, &src, 2000, &r), PENDING_RESUMED);
	ck_assert_uint_eq(r->id, 2);
	/* the same id twice is refused */
	ck_assert_int_eq(store_joins_foreach(st, into_table, &l), 0);
	ck_assert_int_eq(l.ret[3], -EEXIST);
	pending_del(l.t);
	store_close(st);
}
END_TEST

/* A version-4 database (before join requests) opens as the current version with the
 * table and the id sequence, its peers kept. */
START_TEST(test_migrate_from_v4)
{
	struct store *st = stest_open_ok();
	struct store_join j;
	struct peer p;
	sqlite3 *db = NULL;

	stest_peer_v4(&p, 0x41);
	stest_put_commit(st, &p, 1);
	store_close(st);
	ck_assert_int_eq(sqlite3_open(t_db, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "DROP TABLE join_requests; DELETE FROM meta WHERE "
	    "name = 'join_next_id'; ALTER TABLE peers DROP COLUMN chain; "
	    "PRAGMA user_version = 4", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	ck_assert_int_ge(store_schema_version(), 5);
	st = stest_open_ok();
	ck_assert_uint_eq(stest_walk(st)->n, 1);
	ck_assert_uint_eq(next_id(st), 1);
	join_sample(&j, 1, 0, 1000);
	ck_assert_int_eq(store_join_put(st, &j), 0);
	ck_assert_uint_eq(next_id(st), 2);
	store_close(st);
}
END_TEST

/* --- errors ---------------------------------------------------------------------------- */

/* A bad record, or a put inside a peer transaction, is refused and nothing is stored. */
START_TEST(test_put_refused)
{
	struct store *st = stest_open_ok();
	struct store_join j;
	struct jseen s = { 0 };

	join_sample(&j, 0, 0, 1000);
	ck_assert_int_eq(store_join_put(st, &j), -EINVAL);   /* id 0 */
	join_sample(&j, 1, 3, 1000);
	ck_assert_int_eq(store_join_put(st, &j), -EINVAL);   /* state */
	join_sample(&j, 1, 0, 1000);
	j.csr = NULL;
	j.csr_len = 0;
	ck_assert_int_eq(store_join_put(st, &j), -EINVAL);
	join_sample(&j, 1, 0, 1000);
	j.source.family = 0;
	ck_assert_int_eq(store_join_put(st, &j), -EINVAL);
	join_sample(&j, 1, 0, 1000);
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_join_put(st, &j), -EINVAL);   /* would join the batch */
	store_rollback(st);
	ck_assert_int_eq(store_joins_foreach(st, jcollect, &s), 0);
	ck_assert_uint_eq(s.n, 0);
	ck_assert_uint_eq(next_id(st), 1);
	store_close(st);
}
END_TEST

Suite *
store_join_suite(void)
{
	Suite *s = suite_create("store_join");
	TCase *tc = tcase_create("core"), *te = tcase_create("errors");

	tcase_add_checked_fixture(tc, stest_dir_setup, stest_dir_teardown);
	tcase_add_test(tc, test_put_reopen_same_fields);
	tcase_add_test(tc, test_put_replaces);
	tcase_add_test(tc, test_expire_delete_keep_next_id);
	tcase_add_test(tc, test_load_into_table);
	tcase_add_test(tc, test_migrate_from_v4);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(te, stest_dir_setup, stest_dir_teardown);
	tcase_add_test(te, test_put_refused);
	suite_add_tcase(s, te);
	return s;
}
