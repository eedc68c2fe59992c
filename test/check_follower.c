/* Unit tests for server/follower.c: the plan (what each change-log row means against the
 * committed peer table, without I/O), and the follower over a real store: commit order,
 * no duplicates, a missed doorbell caught up by the next, a gap answered by a resync. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "rpc/loop.h"
#include "server/follower.h"
#include "server/peers.h"
#include "server/store.h"
#include "test/check_suites.h"
#include "test/storetest.h"

static struct peer *
mk(uint8_t k, uint64_t revision)
{
	struct peer *p = calloc(1, sizeof(*p));

	ck_assert_ptr_nonnull(p);
	memset(p->key, k, WG_KEY_LEN);
	snprintf(p->network, sizeof(p->network), "lab");
	snprintf(p->name, sizeof(p->name), "h%u", k);
	p->revision = revision;
	return p;
}

static struct store_change
row(uint64_t revision, uint8_t k, bool removed)
{
	struct store_change c;

	memset(&c, 0, sizeof(c));
	c.revision = revision;
	memset(c.key, k, WG_KEY_LEN);
	snprintf(c.network, sizeof(c.network), "lab");
	c.removed = removed;
	return c;
}

static void
put(struct peer_table *t, struct peer *p)
{
	peer_free(peer_table_put(t, p));
}

/* --- the plan ----------------------------------------------------------------------- */

/* One record current at its row is sent; the row of a state a later row replaced is left
 * to that row (each state once, in order); a marked row is a removal, even of a key added
 * again later; a row of a key gone since is left to its removal's row. */
START_TEST(test_plan_rows_against_the_table)
{
	struct peer_table *t = peer_table_new();
	struct store_change rows[6];
	struct follow_step steps[6];
	bool gap = true;
	size_t k;

	put(t, mk(1, 13));             /* changed at 11, then again at 13 */
	put(t, mk(2, 12));
	put(t, mk(4, 15));             /* removed at 14, added again at 15 */
	rows[0] = row(11, 1, false);
	rows[1] = row(12, 2, false);
	rows[2] = row(13, 1, false);
	rows[3] = row(14, 4, true);
	rows[4] = row(15, 4, false);
	rows[5] = row(16, 5, false);   /* key 5: changed at 16, gone from the table */
	k = follower_plan(10, rows, 6, t, steps, &gap);
	ck_assert(!gap);
	ck_assert_uint_eq(k, 6);
	ck_assert_int_eq(steps[0].what, FOLLOW_SUPERSEDED);
	ck_assert_ptr_null(steps[0].p);
	ck_assert_int_eq(steps[1].what, FOLLOW_UPSERT);
	ck_assert_ptr_eq(steps[1].p, peer_table_get(t, rows[1].key));
	ck_assert_int_eq(steps[2].what, FOLLOW_UPSERT);
	ck_assert_uint_eq(steps[2].p->revision, 13);
	ck_assert_int_eq(steps[3].what, FOLLOW_REMOVED);
	ck_assert_ptr_eq(steps[3].row, &rows[3]);
	ck_assert_int_eq(steps[4].what, FOLLOW_UPSERT);
	ck_assert_uint_eq(steps[4].p->revision, 15);
	ck_assert_int_eq(steps[5].what, FOLLOW_SUPERSEDED);
	for (size_t i = 0; i < k; i++)
		ck_assert_uint_eq(steps[i].row->revision, 11 + i);
	peer_table_del(t);
}
END_TEST

/* Rows at or below what was applied, and a row given twice, are never planned again. */
START_TEST(test_plan_no_duplicates)
{
	struct peer_table *t = peer_table_new();
	struct store_change rows[5];
	struct follow_step steps[5];
	bool gap = true;
	size_t k;

	put(t, mk(1, 8));
	put(t, mk(2, 9));
	rows[0] = row(7, 3, false);
	rows[1] = row(8, 1, false);
	rows[2] = row(8, 1, false);
	rows[3] = row(9, 2, false);
	rows[4] = row(9, 2, false);
	k = follower_plan(7, rows, 5, t, steps, &gap);
	ck_assert(!gap);
	ck_assert_uint_eq(k, 2);
	ck_assert_uint_eq(steps[0].row->revision, 8);
	ck_assert_uint_eq(steps[1].row->revision, 9);
	ck_assert_uint_eq(follower_plan(9, rows, 5, t, steps, &gap), 0);
	ck_assert(!gap);
	ck_assert_uint_eq(follower_plan(9, rows, 0, t, steps, &gap), 0);
	peer_table_del(t);
}
END_TEST

/* Revisions are one row each: a first row past applied + 1, or a hole between two rows,
 * means changes the follower never saw. */
START_TEST(test_plan_gap)
{
	struct peer_table *t = peer_table_new();
	struct store_change rows[3];
	struct follow_step steps[3];
	bool gap = false;

	put(t, mk(1, 5));
	rows[0] = row(5, 1, false);
	ck_assert_uint_eq(follower_plan(3, rows, 1, t, steps, &gap), 1);
	ck_assert(gap);
	rows[0] = row(4, 2, false);
	rows[1] = row(6, 2, false);
	gap = false;
	ck_assert_uint_eq(follower_plan(3, rows, 2, t, steps, &gap), 2);
	ck_assert(gap);
	rows[1] = row(5, 1, false);
	ck_assert_uint_eq(follower_plan(3, rows, 2, t, steps, &gap), 2);
	ck_assert(!gap);
	peer_table_del(t);
}
END_TEST

/* --- over a real store ------------------------------------------------------------- */

#define MAX_HEARD 32

struct heard {
	size_t n, resyncs;
	uint64_t rev[MAX_HEARD];
	uint8_t key0[MAX_HEARD];
	bool removed[MAX_HEARD];
};

static void
h_upsert(void *arg, const struct peer *p)
{
	struct heard *h = arg;

	ck_assert_uint_lt(h->n, MAX_HEARD);
	h->rev[h->n] = p->revision;
	h->key0[h->n] = p->key[0];
	h->removed[h->n++] = false;
}

static void
h_removed(void *arg, const uint8_t key[WG_KEY_LEN], const char *network, uint64_t revision)
{
	struct heard *h = arg;

	ck_assert_str_eq(network, "lab");
	ck_assert_uint_lt(h->n, MAX_HEARD);
	h->rev[h->n] = revision;
	h->key0[h->n] = key[0];
	h->removed[h->n++] = true;
}

static void
h_resync(void *arg)
{
	((struct heard *)arg)->resyncs++;
}

/* One transaction as commit_batch writes it: the record (or its deletion) and its log
 * row per change; the table follows. */
static void
commit_change(struct store *st, struct peer_table *t, uint8_t k, uint64_t revision,
    bool remove)
{
	struct peer *p = mk(k, revision);

	ck_assert_int_eq(store_begin(st), 0);
	if (remove) {
		ck_assert_int_eq(store_peer_delete(st, p->key), 0);
		ck_assert_int_eq(store_change_log(st, revision, p->key, "lab", true, 1000), 0);
		peer_free(peer_table_take(t, p->key));
		peer_free(p);
	} else {
		ck_assert_int_eq(store_peer_put(st, p), 0);
		ck_assert_int_eq(store_change_log(st, revision, p->key, "lab", false, 1000), 0);
		put(t, p);
	}
	ck_assert_int_eq(store_commit(st, revision), 0);
}

START_TEST(test_follower_feeds_commit_order)
{
	struct loop *l = loop_new();
	struct store *st = stest_open_ok();
	struct peer_table *t = peer_table_new();
	struct heard h = { 0 };
	struct follower_sink sink = { h_upsert, h_removed, h_resync, NULL, &h };
	struct follower *f;

	ck_assert_ptr_nonnull(l);
	commit_change(st, t, 1, 1, false);     /* before the follower: not its to send */
	f = follower_new(l, st, t, &sink, store_revision(st));
	ck_assert_ptr_nonnull(f);
	follower_ring(f);
	ck_assert_uint_eq(h.n, 0);
	commit_change(st, t, 2, 2, false);
	follower_ring(f);
	ck_assert_uint_eq(h.n, 1);
	ck_assert_uint_eq(h.rev[0], 2);
	/* two commits, one doorbell missed: the next ring brings both, in order */
	commit_change(st, t, 3, 3, false);
	commit_change(st, t, 2, 4, true);
	follower_ring(f);
	ck_assert_uint_eq(h.n, 3);
	ck_assert_uint_eq(h.rev[1], 3);
	ck_assert_uint_eq(h.key0[1], 3);
	ck_assert(!h.removed[1]);
	ck_assert_uint_eq(h.rev[2], 4);
	ck_assert_uint_eq(h.key0[2], 2);
	ck_assert(h.removed[2]);
	/* a ring with nothing new sends nothing twice */
	follower_ring(f);
	ck_assert_uint_eq(h.n, 3);
	ck_assert_uint_eq(follower_applied(f), 4);
	ck_assert_uint_eq(h.resyncs, 0);
	follower_del(f);
	peer_table_del(t);
	store_close(st);
	loop_del(l);
}
END_TEST

/* Rows pruned before the follower read them: the watchers are resynced, and the follower
 * goes on from the log's end. */
START_TEST(test_follower_gap_resyncs)
{
	struct loop *l = loop_new();
	struct store *st = stest_open_ok();
	struct peer_table *t = peer_table_new();
	struct heard h = { 0 };
	struct follower_sink sink = { h_upsert, h_removed, h_resync, NULL, &h };
	struct follower *f = follower_new(l, st, t, &sink, 0);

	ck_assert_ptr_nonnull(f);
	commit_change(st, t, 1, 1, false);
	commit_change(st, t, 2, 2, false);
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_changes_prune(st, 1, 0), 0);
	ck_assert_int_eq(store_commit(st, 2), 0);
	follower_ring(f);
	ck_assert_uint_eq(h.resyncs, 1);
	ck_assert_uint_eq(h.n, 0);
	ck_assert_uint_eq(follower_applied(f), 2);
	commit_change(st, t, 3, 3, false);
	follower_ring(f);
	ck_assert_uint_eq(h.resyncs, 1);
	ck_assert_uint_eq(h.n, 1);
	ck_assert_uint_eq(h.rev[0], 3);
	follower_del(f);
	peer_table_del(t);
	store_close(st);
	loop_del(l);
}
END_TEST

Suite *
follower_suite(void)
{
	Suite *s = suite_create("follower");
	TCase *tc;

	tc = tcase_create("plan");
	tcase_add_test(tc, test_plan_rows_against_the_table);
	tcase_add_test(tc, test_plan_no_duplicates);
	tcase_add_test(tc, test_plan_gap);
	suite_add_tcase(s, tc);

	tc = tcase_create("store");
	tcase_add_checked_fixture(tc, stest_dir_setup, stest_dir_teardown);
	tcase_add_test(tc, test_follower_feeds_commit_order);
	tcase_add_test(tc, test_follower_gap_resyncs);
	suite_add_tcase(s, tc);
	return s;
}
