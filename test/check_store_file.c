/* Unit tests for server/store.c's database file: schema and migration, WAL settings,
 * backup images, growth, and files it must refuse. Records and transactions are in
 * check_store.c. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "server/store.h"
#include "test/check_suites.h"
#include "test/storetest.h"

static void
side_exec(const char *sql)
{
	sqlite3 *db = NULL;

	ck_assert_int_eq(sqlite3_open(t_db, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "%s: %s", sql,
	    sqlite3_errmsg(db));
	sqlite3_close(db);
}

/* The first column of the first row of sql, as text, from db or from a new connection. */
static void
query_text(sqlite3 *db, const char *sql, char *out, size_t outlen)
{
	sqlite3 *own = NULL;
	sqlite3_stmt *stmt = NULL;

	if (db == NULL) {
		ck_assert_int_eq(sqlite3_open(t_db, &own), SQLITE_OK);
		db = own;
	}
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(stmt), SQLITE_ROW);
	snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	sqlite3_close(own);
}

/* Catches the store's own connection as SQLite opens it. */
static sqlite3 *t_captured;

static int
capture_db(sqlite3 *db, const char **errmsg, const struct sqlite3_api_routines *api)
{
	t_captured = db;
	return SQLITE_OK;
}

START_TEST(test_open_new)
{
	struct store *st = stest_open_ok();
	char text[32];

	ck_assert_uint_eq(store_revision(st), 0);
	ck_assert_int_ge(store_schema_version(), 1);
	query_text(NULL, "PRAGMA user_version", text, sizeof(text));
	ck_assert_int_eq(atoi(text), store_schema_version());
	ck_assert_uint_eq(stest_walk(st)->n, 0);
	ck_assert_int_gt(store_size(st), 0);
	store_close(st);
}
END_TEST

START_TEST(test_wal_and_synchronous)
{
	struct store *st;
	char text[32];

	t_captured = NULL;
	ck_assert_int_eq(sqlite3_auto_extension((void (*)(void))capture_db), SQLITE_OK);
	st = stest_open_ok();
	sqlite3_cancel_auto_extension((void (*)(void))capture_db);
	ck_assert_ptr_nonnull(t_captured);

	/* Per connection: asked on the store's own. */
	query_text(t_captured, "PRAGMA synchronous", text, sizeof(text));
	ck_assert_str_eq(text, "2");
	query_text(t_captured, "PRAGMA foreign_keys", text, sizeof(text));
	ck_assert_str_eq(text, "1");
	query_text(t_captured, "PRAGMA journal_mode", text, sizeof(text));
	ck_assert_str_eq(text, "wal");
	/* Persistent in the file: asked on another connection. */
	query_text(NULL, "PRAGMA journal_mode", text, sizeof(text));
	ck_assert_str_eq(text, "wal");
	store_close(st);
}
END_TEST

/* A version 2 store (before static peers) opens as version 3; its peers are not static. */
START_TEST(test_migrate_from_v2)
{
	struct store *st = stest_open_ok();
	struct peer a;
	struct seen *s;
	char text[32];

	stest_peer_v4(&a, 0x40);
	a.is_static = true;
	stest_put_commit(st, &a, 1);
	store_close(st);
	side_exec("ALTER TABLE peers DROP COLUMN static; ALTER TABLE peers DROP COLUMN chain; "
	    "PRAGMA user_version = 2");
	st = stest_open_ok();
	query_text(NULL, "PRAGMA user_version", text, sizeof(text));
	ck_assert_int_eq(atoi(text), store_schema_version());
	s = stest_walk(st);
	ck_assert_uint_eq(s->n, 1);
	ck_assert(!s->p[0].is_static);
	a.is_static = false;
	stest_assert_peer_equal(&a, &s->p[0]);
	store_close(st);
}
END_TEST

/* The backup image is a whole database: opened as a store it holds the same peers. */
/* The chain of a host under an online issuer (schema 6) is kept byte for byte. */
static int
chain_of(const struct peer *p, void *arg)
{
	char *out = arg;

	ck_assert_uint_lt(p->chain_len, 64);
	memcpy(out, p->chain != NULL ? (const char *)p->chain : "", p->chain_len);
	out[p->chain_len] = '\0';
	return 0;
}

START_TEST(test_chain_kept)
{
	struct store *st = stest_open_ok();
	uint8_t chain[] = "issuer-der-bytes";
	struct peer a;
	char got[64] = "x";

	stest_peer_v4(&a, 0x42);
	a.chain = chain;
	a.chain_len = sizeof(chain) - 1;
	stest_put_commit(st, &a, 1);
	store_close(st);
	st = stest_open_ok();
	ck_assert_int_eq(store_peers_foreach(st, chain_of, got), 0);
	ck_assert_str_eq(got, "issuer-der-bytes");
	store_close(st);
	/* a version 5 store opens as 6, its peers without a chain */
	side_exec("ALTER TABLE peers DROP COLUMN chain; PRAGMA user_version = 5");
	st = stest_open_ok();
	ck_assert_int_eq(store_peers_foreach(st, chain_of, got), 0);
	ck_assert_str_eq(got, "");
	query_text(NULL, "PRAGMA user_version", got, sizeof(got));
	ck_assert_int_eq(atoi(got), store_schema_version());
	store_close(st);
}
END_TEST

START_TEST(test_backup_image)
{
	struct store *st = stest_open_ok(), *copy = NULL;
	struct peer a, b;
	struct seen *s;
	uint8_t *img = NULL;
	size_t len = 0;
	char path[128];
	FILE *f;

	stest_peer_full(&a, 0x50);
	stest_peer_v4(&b, 0x51);
	b.is_static = true;
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_peer_put(st, &a), 0);
	ck_assert_int_eq(store_peer_put(st, &b), 0);
	ck_assert_int_eq(store_commit(st, 9), 0);
	ck_assert_int_eq(store_backup_image(st, &img, &len), 0);
	ck_assert_uint_ge(len, 4096);
	ck_assert_mem_eq(img, "SQLite format 3", 16);
	snprintf(path, sizeof(path), "%s/copy.db", t_dir);
	ck_assert_ptr_nonnull(f = fopen(path, "wb"));
	ck_assert_uint_eq(fwrite(img, 1, len, f), len);
	fclose(f);
	store_image_free(img);
	ck_assert_msg(store_open(path, &copy, t_err, sizeof(t_err)) == 0, "%s", t_err);
	ck_assert_uint_eq(store_revision(copy), 9);
	s = stest_walk(copy);
	ck_assert_uint_eq(s->n, 2);
	stest_assert_peer_equal(&a, &s->p[0]);
	stest_assert_peer_equal(&b, &s->p[1]);
	store_close(copy);
	store_close(st);
	unlink(path);
	strcat(path, "-wal");
	unlink(path);
	path[strlen(path) - 4] = '\0';
	strcat(path, "-shm");
	unlink(path);
}
END_TEST

START_TEST(test_size_grows)
{
	struct store *st = stest_open_ok();
	struct peer p;
	int64_t before;
	uint8_t i;

	before = store_size(st);
	ck_assert_int_gt(before, 0);
	ck_assert_int_eq(store_begin(st), 0);
	for (i = 0; i < 64; i++) {
		stest_peer_full(&p, i);
		p.key[31] = i;
		ck_assert_int_eq(store_peer_put(st, &p), 0);
	}
	ck_assert_int_eq(store_commit(st, 1), 0);
	ck_assert_int_gt(store_size(st), before);
	store_close(st);
}
END_TEST

START_TEST(test_err_newer_schema)
{
	struct store *st = stest_open_ok();
	char sql[64], want[256];

	store_close(st);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", store_schema_version() + 1);
	side_exec(sql);
	st = (struct store *)&st;
	ck_assert_int_eq(store_open(t_db, &st, t_err, sizeof(t_err)), -ENOTSUP);
	ck_assert_ptr_null(st);
	snprintf(want, sizeof(want), "%s: schema version %d is newer than this build's %d",
	    t_db, store_schema_version() + 1, store_schema_version());
	ck_assert_str_eq(t_err, want);
}
END_TEST

START_TEST(test_err_no_directory)
{
	struct store *st = NULL;
	char path[128];

	snprintf(path, sizeof(path), "%s/missing/ws.db", t_dir);
	ck_assert_int_eq(store_open(path, &st, t_err, sizeof(t_err)), -ENOENT);
	ck_assert_ptr_null(st);
	ck_assert_ptr_eq(strstr(t_err, path), t_err);
}
END_TEST

START_TEST(test_err_not_a_database)
{
	struct store *st = NULL;
	char junk[4096];
	int fd;

	memset(junk, 'j', sizeof(junk));
	fd = open(t_db, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	ck_assert_int_eq(store_open(t_db, &st, t_err, sizeof(t_err)), -EIO);
	ck_assert_ptr_null(st);
	ck_assert_ptr_eq(strstr(t_err, t_db), t_err);
	ck_assert_ptr_nonnull(strstr(t_err, "not a database"));
}
END_TEST

START_TEST(test_err_corrupt_row)
{
	struct store *st = stest_open_ok();
	struct peer a;

	stest_peer_v4(&a, 1);
	stest_put_commit(st, &a, 1);
	side_exec("UPDATE peers SET tunnel_ips = '10.9.0.5,not-an-address'");
	ck_assert_int_eq(store_peers_foreach(st, stest_collect, &(struct seen){ 0 }), -EIO);
	side_exec("UPDATE peers SET tunnel_ips = '10.9.0.5', lan_id = zeroblob(33)");
	ck_assert_int_eq(store_peers_foreach(st, stest_collect, &(struct seen){ 0 }), -EIO);
	side_exec("UPDATE peers SET lan_id = x''");
	ck_assert_uint_eq(stest_walk(st)->n, 1);
	store_close(st);
}
END_TEST

Suite *
store_file_suite(void)
{
	Suite *s = suite_create("store_file");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, stest_dir_setup, stest_dir_teardown);
	tcase_add_test(tc, test_open_new);
	tcase_add_test(tc, test_wal_and_synchronous);
	tcase_add_test(tc, test_migrate_from_v2);
	tcase_add_test(tc, test_chain_kept);
	tcase_add_test(tc, test_backup_image);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, stest_dir_setup, stest_dir_teardown);
	tcase_add_test(tc, test_size_grows);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, stest_dir_setup, stest_dir_teardown);
	tcase_add_test(tc, test_err_newer_schema);
	tcase_add_test(tc, test_err_no_directory);
	tcase_add_test(tc, test_err_not_a_database);
	tcase_add_test(tc, test_err_corrupt_row);
	suite_add_tcase(s, tc);
	return s;
}
