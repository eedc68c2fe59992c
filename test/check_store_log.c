/* Unit tests for the store's change log (server/store_log.c): what a resuming Watch reads,
 * pruning by count and by age, and how much SQLite work a commit does next to a long log.
 * The work is counted by SQLite itself (sqlite3_stmt_status over the store's own
 * connection, caught as it opens), never timed. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "server/store.h"
#include "test/check_suites.h"
#include "test/storetest.h"

#define LONG_LOG 10000
/* VM steps a commit of one change may take next to a long log: one upsert, one log row,
 * the prune's seeks, the revision. Scanning the log costs several steps per row. */
#define COMMIT_STEPS_MAX 2000
#define MAX_SINCE_KEYS 16

static sqlite3 *t_conn;                 /* the store's own connection */

static void
dir_setup(void)
{
	stest_dir_setup();
	t_conn = NULL;
}

static int
capture_db(sqlite3 *db, const char **errmsg, const struct sqlite3_api_routines *api)
{
	(void)errmsg;
	(void)api;
	t_conn = db;
	return SQLITE_OK;
}

/* Opens the store and keeps its connection in t_conn. */
static struct store *
open_ok(void)
{
	struct store *st = NULL;

	t_conn = NULL;
	ck_assert_int_eq(sqlite3_auto_extension((void (*)(void))capture_db), SQLITE_OK);
	ck_assert_msg(store_open(t_db, &st, t_err, sizeof(t_err)) == 0, "%s", t_err);
	sqlite3_cancel_auto_extension((void (*)(void))capture_db);
	ck_assert_ptr_nonnull(st);
	ck_assert_ptr_nonnull(t_conn);
	return st;
}

/* SQLite's counter op summed over every statement of the store's connection. */
static long long
work(int op)
{
	sqlite3_stmt *s = NULL;
	long long sum = 0;

	while ((s = sqlite3_next_stmt(t_conn, s)) != NULL)
		sum += sqlite3_stmt_status(s, op, 0);
	return sum;
}

/* A count from a connection of the test's own. */
static long long
side_count(const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	long long n;

	ck_assert_int_eq(sqlite3_open(t_db, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(stmt), SQLITE_ROW);
	n = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return n;
}

static void
side_exec(const char *sql)
{
	sqlite3 *db = NULL;

	ck_assert_int_eq(sqlite3_open(t_db, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "%s: %s", sql,
	    sqlite3_errmsg(db));
	sqlite3_close(db);
}

static long long
log_rows(void)
{
	return side_count("SELECT count(*) FROM changes");
}

static void
key_of(uint8_t key[WG_KEY_LEN], unsigned n)
{
	memset(key, 0, WG_KEY_LEN);
	key[0] = (uint8_t)n;
	key[1] = (uint8_t)(n >> 8);
}

/* Logs revisions first..last (peer rev % peers, stamped ts0 + (rev - first) * step) in one
 * transaction, committed at last. */
static void
log_range(struct store *st, uint64_t first, uint64_t last, unsigned peers, int64_t ts0,
    int64_t step)
{
	uint8_t key[WG_KEY_LEN];
	uint64_t r;

	ck_assert_int_eq(store_begin(st), 0);
	for (r = first; r <= last; r++) {
		key_of(key, (unsigned)(r % peers));
		ck_assert_int_eq(store_change_log(st, r, key, "lab", false,
		    ts0 + (int64_t)(r - first) * step), 0);
	}
	ck_assert_int_eq(store_commit(st, last), 0);
}

/* One commit as the service makes it: one change logged at ts, then the prune. */
static void
commit_one(struct store *st, uint64_t rev, int64_t ts, uint64_t upto, int64_t older_than)
{
	uint8_t key[WG_KEY_LEN];

	key_of(key, 7);
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_change_log(st, rev, key, "lab", false, ts), 0);
	ck_assert_int_eq(store_changes_prune(st, upto, older_than), 0);
	ck_assert_int_eq(store_commit(st, rev), 0);
}

struct since {
	size_t n;
	uint8_t key0[MAX_SINCE_KEYS];
	uint64_t rev[MAX_SINCE_KEYS];
};

static int
since_collect(const uint8_t key[WG_KEY_LEN], uint64_t revision, void *arg)
{
	struct since *s = arg;

	ck_assert_uint_lt(s->n, MAX_SINCE_KEYS);
	s->key0[s->n] = key[0];
	s->rev[s->n] = revision;
	s->n++;
	return 0;
}

/* --- core ------------------------------------------------------------------------------ */

START_TEST(test_since_gives_each_peers_latest_in_order)
{
	struct store *st = open_ok();
	struct since s = { 0 };

	/* revisions 1..10 over peers 1,2,3,0,1,2,3,0,1,2 */
	log_range(st, 1, 10, 4, 1000, 1);
	ck_assert_int_eq(store_changes_since(st, "lab", 5, since_collect, &s), 0);
	/* after 5: 6 (peer 2), 7 (3), 8 (0), 9 (1), 10 (2): peer 2 once, at 10 */
	ck_assert_uint_eq(s.n, 4);
	ck_assert_uint_eq(s.key0[0], 3);
	ck_assert_uint_eq(s.rev[0], 7);
	ck_assert_uint_eq(s.key0[1], 0);
	ck_assert_uint_eq(s.rev[1], 8);
	ck_assert_uint_eq(s.key0[2], 1);
	ck_assert_uint_eq(s.rev[2], 9);
	ck_assert_uint_eq(s.key0[3], 2);
	ck_assert_uint_eq(s.rev[3], 10);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(store_changes_since(st, "other", 0, since_collect, &s), 0);
	ck_assert_uint_eq(s.n, 0);
	store_close(st);
}
END_TEST

START_TEST(test_floor_is_revision_when_log_empty)
{
	struct store *st = open_ok();

	ck_assert_uint_eq(store_log_floor(st), 0);
	log_range(st, 1, 20, 3, 1000, 1);
	ck_assert_uint_eq(store_log_floor(st), 0);
	/* everything aged: the log covers nothing, a resume needs a snapshot */
	commit_one(st, 21, 5000, 0, 6000);
	ck_assert_int_eq(log_rows(), 0);
	ck_assert_uint_eq(store_log_floor(st), 21);
	store_close(st);
}
END_TEST

START_TEST(test_prune_by_count)
{
	struct store *st = open_ok();
	struct since s = { 0 };

	log_range(st, 1, 100, 5, 1000, 1);
	/* keep 10: the service asks for revision - 10 */
	commit_one(st, 101, 2000, 101 - 10, 0);
	ck_assert_int_eq(log_rows(), 10);
	ck_assert_uint_eq(store_log_floor(st), 91);
	ck_assert_int_eq(side_count("SELECT min(revision) FROM changes"), 92);
	/* a resume from the floor still reads what followed it */
	ck_assert_int_eq(store_changes_since(st, "lab", 91, since_collect, &s), 0);
	/* 92..100 touched peers 0..4, 101 peer 7 */
	ck_assert_uint_eq(s.n, 6);
	ck_assert_uint_eq(s.rev[s.n - 1], 101);
	store_close(st);
}
END_TEST

START_TEST(test_prune_by_age)
{
	struct store *st = open_ok();

	/* revision r stamped 1000 + r - 1 */
	log_range(st, 1, 100, 5, 1000, 1);
	commit_one(st, 101, 2000, 0, 1050);
	/* stamped before 1050: revisions 1..50 */
	ck_assert_int_eq(log_rows(), 51);
	ck_assert_uint_eq(store_log_floor(st), 50);
	/* nothing older than 1000: nothing dropped */
	commit_one(st, 102, 2001, 0, 1000);
	ck_assert_int_eq(log_rows(), 52);
	/* the newest age cut wins over a smaller count cut, and the other way round */
	commit_one(st, 103, 2002, 60, 1080);
	ck_assert_uint_eq(store_log_floor(st), 80);
	commit_one(st, 104, 2003, 90, 1080);
	ck_assert_uint_eq(store_log_floor(st), 90);
	ck_assert_int_eq(log_rows(), 14);
	store_close(st);
}
END_TEST

/* The log is ordered by time as well as by revision: a wall clock stepped back stamps new
 * rows no earlier than the last one, so an age cut never takes a young row with the old. */
START_TEST(test_clock_stepped_back_keeps_order)
{
	struct store *st = open_ok();

	log_range(st, 1, 10, 5, 5000, 1);         /* 5000..5009 */
	log_range(st, 11, 20, 5, 1000, 1);        /* the clock went back: 1000..1009 */
	ck_assert_int_eq(side_count("SELECT min(ts_ms) FROM changes WHERE revision > 10"), 5009);
	/* a cut at 3000 finds nothing older than it */
	commit_one(st, 21, 1100, 0, 3000);
	ck_assert_int_eq(log_rows(), 21);
	store_close(st);
	/* the last stamp survives a restart */
	st = open_ok();
	log_range(st, 22, 22, 5, 1200, 1);
	ck_assert_int_eq(side_count("SELECT ts_ms FROM changes WHERE revision = 22"), 5009);
	commit_one(st, 23, 1300, 0, 5005);
	ck_assert_uint_eq(store_log_floor(st), 5);
	store_close(st);
}
END_TEST

/* Schema 4 drops the two indexes beside the primary keys (each cost a B-tree write per
 * change); a version-3 database keeps its log through the step. */
START_TEST(test_migrate_from_v3_drops_indexes)
{
	struct store *st = open_ok();
	struct since s = { 0 };

	log_range(st, 1, 30, 3, 1000, 1);
	store_close(st);
	side_exec("CREATE INDEX IF NOT EXISTS peers_network ON peers (network);"
	    "CREATE INDEX IF NOT EXISTS changes_network ON changes (network, revision);"
	    "ALTER TABLE peers DROP COLUMN chain; PRAGMA user_version = 3");
	ck_assert_int_eq(side_count("SELECT count(*) FROM sqlite_master WHERE type = 'index' "
	    "AND name IN ('peers_network', 'changes_network')"), 2);
	st = open_ok();
	ck_assert_int_ge(store_schema_version(), 4);
	ck_assert_int_eq(side_count("PRAGMA user_version"), store_schema_version());
	ck_assert_int_eq(side_count("SELECT count(*) FROM sqlite_master WHERE type = 'index' "
	    "AND name IN ('peers_network', 'changes_network')"), 0);
	ck_assert_int_eq(log_rows(), 30);
	ck_assert_int_eq(store_changes_since(st, "lab", 27, since_collect, &s), 0);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_uint_eq(s.rev[2], 30);
	store_close(st);
}
END_TEST

/* What the follower reads: every row after a revision, of every network, in revision
 * order, removals marked. */
struct after {
	size_t n;
	struct store_change c[MAX_SINCE_KEYS];
};

static int
after_collect(const struct store_change *c, void *arg)
{
	struct after *a = arg;

	ck_assert_uint_lt(a->n, MAX_SINCE_KEYS);
	a->c[a->n++] = *c;
	return 0;
}

START_TEST(test_after_gives_every_row_in_order)
{
	struct store *st = open_ok();
	struct after a = { 0 };
	uint8_t key[WG_KEY_LEN];

	ck_assert_int_eq(store_begin(st), 0);
	key_of(key, 1);
	ck_assert_int_eq(store_change_log(st, 1, key, "lab", false, 1000), 0);
	ck_assert_int_eq(store_change_log(st, 2, key, "lab", false, 1000), 0);
	key_of(key, 2);
	ck_assert_int_eq(store_change_log(st, 3, key, "other", false, 1000), 0);
	key_of(key, 1);
	ck_assert_int_eq(store_change_log(st, 4, key, "lab", true, 1000), 0);
	ck_assert_int_eq(store_commit(st, 4), 0);

	/* unlike a resume, one row per revision, not per peer, and of every network */
	ck_assert_int_eq(store_changes_after(st, 1, after_collect, &a), 0);
	ck_assert_uint_eq(a.n, 3);
	ck_assert_uint_eq(a.c[0].revision, 2);
	ck_assert_uint_eq(a.c[0].key[0], 1);
	ck_assert_str_eq(a.c[0].network, "lab");
	ck_assert(!a.c[0].removed);
	ck_assert_uint_eq(a.c[1].revision, 3);
	ck_assert_uint_eq(a.c[1].key[0], 2);
	ck_assert_str_eq(a.c[1].network, "other");
	ck_assert_uint_eq(a.c[2].revision, 4);
	ck_assert(a.c[2].removed);
	a.n = 0;
	ck_assert_int_eq(store_changes_after(st, 4, after_collect, &a), 0);
	ck_assert_uint_eq(a.n, 0);
	/* what a rolled-back transaction logged is not there */
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_change_log(st, 5, key, "lab", false, 1000), 0);
	store_rollback(st);
	ck_assert_int_eq(store_changes_after(st, 4, after_collect, &a), 0);
	ck_assert_uint_eq(a.n, 0);
	store_close(st);
}
END_TEST

/* Schema 11 marks removals in the log: a version-10 database (no column) keeps its rows,
 * which read as changes, and takes marked rows from then on. */
START_TEST(test_migrate_from_v10_marks_removals)
{
	struct store *st = open_ok();
	struct after a = { 0 };
	uint8_t key[WG_KEY_LEN];

	ck_assert_int_ge(store_schema_version(), 11);
	ck_assert_int_eq(side_count("SELECT count(*) FROM pragma_table_info('changes') "
	    "WHERE name = 'removed'"), 1);
	store_close(st);
	/* the version-10 table, with three rows */
	side_exec("DROP TABLE changes;"
	    "CREATE TABLE changes (revision INTEGER PRIMARY KEY NOT NULL, key BLOB NOT NULL, "
	    "  network TEXT NOT NULL, ts_ms INTEGER NOT NULL);"
	    "INSERT INTO changes VALUES (1, zeroblob(32), 'lab', 100), "
	    "  (2, zeroblob(32), 'lab', 200), (3, zeroblob(32), 'other', 300);"
	    "UPDATE meta SET value = 3 WHERE name = 'revision';"
	    "PRAGMA user_version = 10");
	st = open_ok();
	ck_assert_int_eq(side_count("PRAGMA user_version"), store_schema_version());
	ck_assert_int_eq(side_count("SELECT count(*) FROM pragma_table_info('changes') "
	    "WHERE name = 'removed'"), 1);
	ck_assert_int_eq(log_rows(), 3);
	ck_assert_int_eq(side_count("SELECT ts_ms FROM changes WHERE revision = 3"), 300);
	ck_assert_uint_eq(store_log_floor(st), 0);
	ck_assert_int_eq(store_changes_after(st, 0, after_collect, &a), 0);
	ck_assert_uint_eq(a.n, 3);
	ck_assert(!a.c[0].removed && !a.c[1].removed && !a.c[2].removed);
	ck_assert_str_eq(a.c[2].network, "other");
	key_of(key, 9);
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_change_log(st, 4, key, "lab", true, 400), 0);
	ck_assert_int_eq(store_commit(st, 4), 0);
	a.n = 0;
	ck_assert_int_eq(store_changes_after(st, 3, after_collect, &a), 0);
	ck_assert_uint_eq(a.n, 1);
	ck_assert(a.c[0].removed);
	ck_assert_uint_eq(a.c[0].key[0], 9);
	store_close(st);
	/* the mark is only 0 or 1 */
	{
		sqlite3 *db = NULL;
		ck_assert_int_eq(sqlite3_open(t_db, &db), SQLITE_OK);
		ck_assert_int_ne(sqlite3_exec(db, "INSERT INTO changes VALUES (5, zeroblob(32), "
		    "'lab', 500, 2)", NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
	}
}
END_TEST

/* --- limits ---------------------------------------------------------------------------- */

/* A resume near the end of a long log reads the rows after its revision, not the log. */
START_TEST(test_since_reads_only_rows_after_it)
{
	struct store *st = open_ok();
	struct since s = { 0 };
	long long steps, full;

	log_range(st, 1, LONG_LOG, 4, 1000, 1);
	steps = work(SQLITE_STMTSTATUS_VM_STEP);
	full = work(SQLITE_STMTSTATUS_FULLSCAN_STEP);
	ck_assert_int_eq(store_changes_since(st, "lab", LONG_LOG - 10, since_collect, &s), 0);
	steps = work(SQLITE_STMTSTATUS_VM_STEP) - steps;
	full = work(SQLITE_STMTSTATUS_FULLSCAN_STEP) - full;
	ck_assert_uint_eq(s.n, 4);
	ck_assert_uint_eq(s.rev[3], LONG_LOG);
	ck_assert_msg(steps <= COMMIT_STEPS_MAX, "reading 10 changes of %d took %lld VM steps",
	    LONG_LOG, steps);
	ck_assert_msg(full <= 10, "reading 10 changes took %lld full-scan steps", full);
	store_close(st);
}
END_TEST

/* The follower reads after every commit: next to a long log it visits the rows after its
 * revision (a range of the rowid), a few VM steps each, and scans nothing. */
START_TEST(test_after_reads_only_rows_after_it)
{
	struct store *st = open_ok();
	struct after a = { 0 };
	long long steps, full;

	log_range(st, 1, LONG_LOG, 4, 1000, 1);
	steps = work(SQLITE_STMTSTATUS_VM_STEP);
	full = work(SQLITE_STMTSTATUS_FULLSCAN_STEP);
	ck_assert_int_eq(store_changes_after(st, LONG_LOG - 10, after_collect, &a), 0);
	steps = work(SQLITE_STMTSTATUS_VM_STEP) - steps;
	full = work(SQLITE_STMTSTATUS_FULLSCAN_STEP) - full;
	ck_assert_uint_eq(a.n, 10);
	ck_assert_uint_eq(a.c[9].revision, LONG_LOG);
	ck_assert_msg(steps <= 300, "following 10 changes of %d took %lld VM steps", LONG_LOG,
	    steps);
	ck_assert_msg(full == 0, "following 10 changes took %lld full-scan steps", full);
	store_close(st);
}
END_TEST

/* Next to 10,000 rows, a commit of one change looks at a few rows, not the log. */
START_TEST(test_commit_work_bounded_next_to_long_log)
{
	struct store *st = open_ok();
	long long steps, full;

	/* revision r stamped 100000 + r - 1 */
	log_range(st, 1, LONG_LOG, 64, 100000, 1);
	steps = work(SQLITE_STMTSTATUS_VM_STEP);
	full = work(SQLITE_STMTSTATUS_FULLSCAN_STEP);
	/* as with the defaults (100,000 entries, 7 days): nothing to drop */
	commit_one(st, LONG_LOG + 1, 200000, 0, 99000);
	steps = work(SQLITE_STMTSTATUS_VM_STEP) - steps;
	full = work(SQLITE_STMTSTATUS_FULLSCAN_STEP) - full;
	ck_assert_msg(steps <= COMMIT_STEPS_MAX, "a commit of one change next to %d log rows "
	    "took %lld SQLite VM steps (at most %d)", LONG_LOG, steps, COMMIT_STEPS_MAX);
	ck_assert_msg(full <= 10, "a commit of one change took %lld full-scan steps", full);
	ck_assert_int_eq(log_rows(), LONG_LOG + 1);

	/* with a few rows aging out: the cut is found by seeks, the rows past it deleted */
	steps = work(SQLITE_STMTSTATUS_VM_STEP);
	full = work(SQLITE_STMTSTATUS_FULLSCAN_STEP);
	commit_one(st, LONG_LOG + 2, 200001, 0, 100005);
	steps = work(SQLITE_STMTSTATUS_VM_STEP) - steps;
	full = work(SQLITE_STMTSTATUS_FULLSCAN_STEP) - full;
	ck_assert_uint_eq(store_log_floor(st), 5);
	ck_assert_msg(steps <= COMMIT_STEPS_MAX, "a commit dropping 5 aged rows next to %d "
	    "took %lld SQLite VM steps (at most %d)", LONG_LOG, steps, COMMIT_STEPS_MAX);
	ck_assert_msg(full <= 10, "a commit dropping 5 rows took %lld full-scan steps", full);
	store_close(st);
}
END_TEST

/* A backlog (the limits lowered, a long idle time) drains over several commits, each
 * dropping a bounded number of rows, oldest first. */
START_TEST(test_backlog_drains_in_bounded_steps)
{
	struct store *st = open_ok();
	uint64_t rev = LONG_LOG, floor = 0, prev;
	int commits = 0;

	log_range(st, 1, LONG_LOG, 64, 1000, 0);
	/* everything is old */
	while (store_log_floor(st) < LONG_LOG) {
		prev = store_log_floor(st);
		rev++;
		commit_one(st, rev, 900000, 0, 800000);
		floor = store_log_floor(st);
		ck_assert_uint_gt(floor, prev);
		ck_assert_uint_le(floor - prev, 1 + STORE_LOG_PRUNE_EXTRA);
		ck_assert_int_lt(++commits, 100);
	}
	ck_assert_int_ge(commits, LONG_LOG / (1 + STORE_LOG_PRUNE_EXTRA));
	/* the young rows written meanwhile are all still there */
	ck_assert_int_eq(log_rows(), (long long)(rev - floor));
	ck_assert_uint_eq(floor, LONG_LOG);

	/* by count: keep 100 of a 10,000-row log */
	log_range(st, rev + 1, rev + LONG_LOG, 64, 900000, 0);
	rev += LONG_LOG;
	commits = 0;
	while (log_rows() > 100) {
		prev = store_log_floor(st);
		rev++;
		commit_one(st, rev, 900000, rev - 100, 0);
		ck_assert_uint_le(store_log_floor(st) - prev, 1 + STORE_LOG_PRUNE_EXTRA);
		ck_assert_int_lt(++commits, 100);
	}
	ck_assert_uint_eq(store_log_floor(st), rev - 100);
	store_close(st);
}
END_TEST

/* At steady state a commit drops as many rows as it adds, however many that is. */
START_TEST(test_large_batch_keeps_count)
{
	struct store *st = open_ok();
	uint8_t key[WG_KEY_LEN];
	uint64_t r;

	log_range(st, 1, 3000, 64, 1000, 0);
	ck_assert_int_eq(store_begin(st), 0);
	key_of(key, 1);
	for (r = 3001; r <= 6000; r++)
		ck_assert_int_eq(store_change_log(st, r, key, "lab", false, 2000), 0);
	ck_assert_int_eq(store_changes_prune(st, 6000 - 3000, 0), 0);
	ck_assert_int_eq(store_commit(st, 6000), 0);
	ck_assert_int_eq(log_rows(), 3000);
	ck_assert_uint_eq(store_log_floor(st), 3000);
	store_close(st);
}
END_TEST

/* --- errors ---------------------------------------------------------------------------- */

START_TEST(test_err_prune_outside_transaction)
{
	struct store *st = open_ok();

	log_range(st, 1, 10, 5, 1000, 1);
	ck_assert_int_eq(store_changes_prune(st, 5, 2000), -EINVAL);
	ck_assert_int_eq(log_rows(), 10);
	store_close(st);
}
END_TEST

START_TEST(test_rollback_keeps_log)
{
	struct store *st = open_ok();
	uint8_t key[WG_KEY_LEN];

	log_range(st, 1, 10, 5, 1000, 1);
	key_of(key, 1);
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_change_log(st, 11, key, "lab", false, 3000), 0);
	ck_assert_int_eq(store_changes_prune(st, 8, 2000), 0);
	store_rollback(st);
	ck_assert_int_eq(log_rows(), 10);
	ck_assert_uint_eq(store_log_floor(st), 0);
	store_close(st);
}
END_TEST

Suite *
store_log_suite(void)
{
	Suite *s = suite_create("store_log");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, dir_setup, stest_dir_teardown);
	tcase_add_test(tc, test_since_gives_each_peers_latest_in_order);
	tcase_add_test(tc, test_floor_is_revision_when_log_empty);
	tcase_add_test(tc, test_prune_by_count);
	tcase_add_test(tc, test_prune_by_age);
	tcase_add_test(tc, test_clock_stepped_back_keeps_order);
	tcase_add_test(tc, test_migrate_from_v3_drops_indexes);
	tcase_add_test(tc, test_after_gives_every_row_in_order);
	tcase_add_test(tc, test_migrate_from_v10_marks_removals);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, dir_setup, stest_dir_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_commit_work_bounded_next_to_long_log);
	tcase_add_test(tc, test_since_reads_only_rows_after_it);
	tcase_add_test(tc, test_after_reads_only_rows_after_it);
	tcase_add_test(tc, test_backlog_drains_in_bounded_steps);
	tcase_add_test(tc, test_large_batch_keeps_count);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, dir_setup, stest_dir_teardown);
	tcase_add_test(tc, test_err_prune_outside_transaction);
	tcase_add_test(tc, test_rollback_keeps_log);
	suite_add_tcase(s, tc);
	return s;
}
