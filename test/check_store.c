/* Unit tests for server/store.c: schema, WAL settings, round trips, transactions. */
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

#define MAX_SEEN 16

static char t_dir[64];
static char t_db[96];
static char t_err[256];
static uint8_t t_cert[700];

/* What a foreach saw: deep copies, so they outlive the callback. */
struct seen {
	size_t n;
	struct peer p[MAX_SEEN];
	uint8_t cert[MAX_SEEN][sizeof(t_cert)];
};

static void
dir_setup(void)
{
	size_t i;

	snprintf(t_dir, sizeof(t_dir), "/tmp/check_store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t_dir));
	snprintf(t_db, sizeof(t_db), "%s/ws.db", t_dir);
	t_err[0] = '\0';
	for (i = 0; i < sizeof(t_cert); i++)
		t_cert[i] = (uint8_t)(i * 7 + 3);
}

static void
dir_teardown(void)
{
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	char path[128];
	size_t i;

	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", t_db, suffixes[i]);
		unlink(path);
	}
	rmdir(t_dir);
}

static void
addr(const char *text, struct netaddr *out)
{
	char err[128];

	memset(out, 0, sizeof(*out));
	ck_assert_msg(netaddr_parse(text, true, out, err, sizeof(err)), "%s", err);
}

/* A host with IPv4 addresses only, no lan_id and no certificate. */
static void
peer_v4(struct peer *p, uint8_t keybyte)
{
	memset(p, 0, sizeof(*p));
	memset(p->key, keybyte, sizeof(p->key));
	snprintf(p->name, sizeof(p->name), "host-%u", keybyte);
	snprintf(p->network, sizeof(p->network), "lab");
	p->listen_port = 51820;
	p->n_tunnel = 1;
	addr("10.9.0.5", &p->tunnel[0]);
	p->n_lan = 1;
	addr("192.168.1.20/24", &p->lan[0]);
	p->revision = 3;
}

/* A host with every field set: IPv6 everywhere, a full lan_id and a certificate. */
static void
peer_full(struct peer *p, uint8_t keybyte)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < sizeof(p->key); i++)
		p->key[i] = (uint8_t)(keybyte + i);
	snprintf(p->name, sizeof(p->name), "laptop.example.org");
	snprintf(p->network, sizeof(p->network), "office");
	p->listen_port = 65535;
	p->n_tunnel = 2;
	addr("10.9.0.6", &p->tunnel[0]);
	addr("fd00:9::6", &p->tunnel[1]);
	p->n_lan = 3;
	addr("192.168.7.3", &p->lan[0]);
	addr("2001:db8:1:2::3/64", &p->lan[1]);
	addr("fe80::1", &p->lan[2]);
	addr("2001:db8::beef", &p->wan);
	p->lan_id_len = PEER_LAN_ID_MAX;
	for (i = 0; i < PEER_LAN_ID_MAX; i++)
		p->lan_id[i] = (uint8_t)(0xf0 ^ i);
	snprintf(p->observed_endpoint, sizeof(p->observed_endpoint), "[2001:db8::beef]:51820");
	p->online = true;
	p->last_seen_ms = 1700000000123;
	p->revision = UINT64_C(0x8000000000000005);
	p->cert = t_cert;
	p->cert_len = sizeof(t_cert);
}

static void
assert_addrs_equal(const struct netaddr *a, const struct netaddr *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		ck_assert_msg(netaddr_equal(&a[i], &b[i]), "address %zu differs", i);
}

static void
assert_peer_equal(const struct peer *a, const struct peer *b)
{
	ck_assert_mem_eq(a->key, b->key, WG_KEY_LEN);
	ck_assert_str_eq(a->name, b->name);
	ck_assert_str_eq(a->network, b->network);
	ck_assert_uint_eq(a->listen_port, b->listen_port);
	ck_assert_uint_eq(a->n_tunnel, b->n_tunnel);
	assert_addrs_equal(a->tunnel, b->tunnel, a->n_tunnel);
	ck_assert_uint_eq(a->n_lan, b->n_lan);
	assert_addrs_equal(a->lan, b->lan, a->n_lan);
	ck_assert(netaddr_equal(&a->wan, &b->wan));
	ck_assert_uint_eq(a->lan_id_len, b->lan_id_len);
	if (a->lan_id_len > 0)
		ck_assert_mem_eq(a->lan_id, b->lan_id, a->lan_id_len);
	ck_assert_str_eq(a->observed_endpoint, b->observed_endpoint);
	ck_assert(a->online == b->online);
	ck_assert(a->is_static == b->is_static);
	ck_assert_int_eq(a->last_seen_ms, b->last_seen_ms);
	ck_assert_uint_eq(a->revision, b->revision);
	ck_assert_uint_eq(a->cert_len, b->cert_len);
	if (a->cert_len > 0)
		ck_assert_mem_eq(a->cert, b->cert, a->cert_len);
	else
		ck_assert_ptr_null(b->cert);
}

static int
collect(const struct peer *p, void *arg)
{
	struct seen *s = arg;

	ck_assert_uint_lt(s->n, MAX_SEEN);
	s->p[s->n] = *p;
	if (p->cert_len > 0) {
		ck_assert_uint_le(p->cert_len, sizeof(s->cert[0]));
		memcpy(s->cert[s->n], p->cert, p->cert_len);
		s->p[s->n].cert = s->cert[s->n];
	}
	s->n++;
	return 0;
}

static struct seen *
walk(struct store *st)
{
	static struct seen s;

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(store_peers_foreach(st, collect, &s), 0);
	return &s;
}

static struct store *
open_ok(void)
{
	struct store *st = NULL;

	ck_assert_msg(store_open(t_db, &st, t_err, sizeof(t_err)) == 0, "%s", t_err);
	ck_assert_ptr_nonnull(st);
	return st;
}

static void
put_commit(struct store *st, const struct peer *p, uint64_t revision)
{
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_peer_put(st, p), 0);
	ck_assert_int_eq(store_commit(st, revision), 0);
}

/* Runs one SQL statement on a connection of the test's own, next to the store's. */
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

/* --- core ------------------------------------------------------------------------------ */

START_TEST(test_open_new)
{
	struct store *st = open_ok();
	char text[32];

	ck_assert_uint_eq(store_revision(st), 0);
	ck_assert_int_ge(store_schema_version(), 1);
	query_text(NULL, "PRAGMA user_version", text, sizeof(text));
	ck_assert_int_eq(atoi(text), store_schema_version());
	ck_assert_uint_eq(walk(st)->n, 0);
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
	st = open_ok();
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

START_TEST(test_roundtrip_reopen)
{
	struct store *st = open_ok();
	struct peer a, b;
	struct seen *s;

	peer_full(&a, 0x20);
	peer_v4(&b, 0x10);
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_peer_put(st, &a), 0);
	ck_assert_int_eq(store_peer_put(st, &b), 0);
	ck_assert_int_eq(store_commit(st, 7), 0);
	ck_assert_uint_eq(store_revision(st), 7);
	store_close(st);

	st = open_ok();
	ck_assert_uint_eq(store_revision(st), 7);
	s = walk(st);
	ck_assert_uint_eq(s->n, 2);
	/* In key order: b's key (0x10...) sorts first. */
	assert_peer_equal(&b, &s->p[0]);
	assert_peer_equal(&a, &s->p[1]);
	store_close(st);
}
END_TEST

START_TEST(test_static_roundtrip)
{
	struct store *st = open_ok();
	struct peer a, b;
	struct seen *s;

	peer_v4(&a, 0x30);
	a.is_static = true;
	peer_v4(&b, 0x31);
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_peer_put(st, &a), 0);
	ck_assert_int_eq(store_peer_put(st, &b), 0);
	ck_assert_int_eq(store_commit(st, 2), 0);
	store_close(st);
	st = open_ok();
	s = walk(st);
	ck_assert_uint_eq(s->n, 2);
	ck_assert(s->p[0].is_static);
	ck_assert(!s->p[1].is_static);
	store_close(st);
}
END_TEST

/* A version 2 store (before static peers) opens as version 3; its peers are not static. */
START_TEST(test_migrate_from_v2)
{
	struct store *st = open_ok();
	struct peer a;
	struct seen *s;
	char text[32];

	peer_v4(&a, 0x40);
	a.is_static = true;
	put_commit(st, &a, 1);
	store_close(st);
	side_exec("ALTER TABLE peers DROP COLUMN static; PRAGMA user_version = 2");
	st = open_ok();
	query_text(NULL, "PRAGMA user_version", text, sizeof(text));
	ck_assert_int_eq(atoi(text), store_schema_version());
	s = walk(st);
	ck_assert_uint_eq(s->n, 1);
	ck_assert(!s->p[0].is_static);
	a.is_static = false;
	assert_peer_equal(&a, &s->p[0]);
	store_close(st);
}
END_TEST

/* The backup image is a whole database: opened as a store it holds the same peers. */
START_TEST(test_backup_image)
{
	struct store *st = open_ok(), *copy = NULL;
	struct peer a, b;
	struct seen *s;
	uint8_t *img = NULL;
	size_t len = 0;
	char path[128];
	FILE *f;

	peer_full(&a, 0x50);
	peer_v4(&b, 0x51);
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
	s = walk(copy);
	ck_assert_uint_eq(s->n, 2);
	assert_peer_equal(&a, &s->p[0]);
	assert_peer_equal(&b, &s->p[1]);
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

START_TEST(test_update_in_place)
{
	struct store *st = open_ok();
	struct peer a;
	struct seen *s;

	peer_full(&a, 1);
	put_commit(st, &a, 1);
	a.n_lan = 1;
	addr("10.1.1.1", &a.lan[0]);
	memset(&a.wan, 0, sizeof(a.wan));
	a.lan_id_len = 6;
	a.observed_endpoint[0] = '\0';
	a.online = false;
	a.cert = NULL;
	a.cert_len = 0;
	a.revision = 2;
	put_commit(st, &a, 2);

	s = walk(st);
	ck_assert_uint_eq(s->n, 1);
	assert_peer_equal(&a, &s->p[0]);
	ck_assert_uint_eq(s->p[0].wan.family, 0);
	ck_assert_uint_eq(store_revision(st), 2);
	store_close(st);
}
END_TEST

START_TEST(test_delete)
{
	struct store *st = open_ok();
	struct peer a, b;
	struct seen *s;

	peer_v4(&a, 1);
	peer_v4(&b, 2);
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

	st = open_ok();
	s = walk(st);
	ck_assert_uint_eq(s->n, 1);
	assert_peer_equal(&b, &s->p[0]);
	ck_assert_uint_eq(store_revision(st), 2);
	store_close(st);
}
END_TEST

START_TEST(test_rollback)
{
	struct store *st = open_ok();
	struct peer a, b;
	struct seen *s;

	peer_v4(&a, 1);
	put_commit(st, &a, 4);
	ck_assert_int_eq(store_begin(st), 0);
	peer_v4(&b, 2);
	ck_assert_int_eq(store_peer_put(st, &b), 0);
	ck_assert_int_eq(store_peer_delete(st, a.key), 0);
	store_rollback(st);
	ck_assert_uint_eq(store_revision(st), 4);
	/* A rollback outside a transaction does nothing. */
	store_rollback(st);
	store_close(st);

	st = open_ok();
	s = walk(st);
	ck_assert_uint_eq(s->n, 1);
	assert_peer_equal(&a, &s->p[0]);
	ck_assert_uint_eq(store_revision(st), 4);
	store_close(st);
}
END_TEST

START_TEST(test_close_discards_open_transaction)
{
	struct store *st = open_ok();
	struct peer a;

	peer_v4(&a, 1);
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_peer_put(st, &a), 0);
	store_close(st);
	store_close(NULL);

	st = open_ok();
	ck_assert_uint_eq(walk(st)->n, 0);
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
	struct store *st = open_ok();
	struct peer a, b;
	int calls = 0;

	peer_v4(&a, 1);
	peer_v4(&b, 2);
	put_commit(st, &a, 1);
	put_commit(st, &b, 2);
	ck_assert_int_eq(store_peers_foreach(st, stop_at_first, &calls), 42);
	ck_assert_int_eq(calls, 1);
	/* The walk was reset: the next one sees everything again. */
	ck_assert_uint_eq(walk(st)->n, 2);
	store_close(st);
}
END_TEST

START_TEST(test_many_puts_one_transaction)
{
	struct store *st = open_ok();
	struct peer p;
	struct seen *s;
	uint8_t i;

	ck_assert_int_eq(store_begin(st), 0);
	for (i = 0; i < MAX_SEEN; i++) {
		peer_full(&p, (uint8_t)(MAX_SEEN - i));
		p.revision = i;
		ck_assert_int_eq(store_peer_put(st, &p), 0);
	}
	ck_assert_int_eq(store_commit(st, 99), 0);
	s = walk(st);
	ck_assert_uint_eq(s->n, MAX_SEEN);
	for (i = 1; i < MAX_SEEN; i++)
		ck_assert_int_lt(memcmp(s->p[i - 1].key, s->p[i].key, WG_KEY_LEN), 0);
	store_close(st);
}
END_TEST

/* --- limits ---------------------------------------------------------------------------- */

START_TEST(test_full_lists_roundtrip)
{
	struct store *st = open_ok();
	struct peer a;
	struct seen *s;
	char text[NETADDR_STRLEN];
	size_t i;

	peer_full(&a, 5);
	a.n_tunnel = CERT_TUNNEL_MAX;
	for (i = 0; i < CERT_TUNNEL_MAX; i++) {
		snprintf(text, sizeof(text), "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.%zu/%zu",
		    i, 120 + i);
		addr(text, &a.tunnel[i]);
	}
	a.n_lan = PEER_LAN_MAX;
	for (i = 0; i < PEER_LAN_MAX; i++) {
		snprintf(text, sizeof(text), "1111:2222:3333:4444:5555:6666:7777:%zx/%zu", i,
		    i);
		addr(text, &a.lan[i]);
	}
	memset(a.observed_endpoint, 'e', sizeof(a.observed_endpoint) - 1);
	memset(a.name, 'n', sizeof(a.name) - 1);
	put_commit(st, &a, 1);
	s = walk(st);
	ck_assert_uint_eq(s->n, 1);
	assert_peer_equal(&a, &s->p[0]);
	store_close(st);
}
END_TEST

START_TEST(test_put_refuses_out_of_bounds)
{
	struct store *st = open_ok();
	struct peer a;

	ck_assert_int_eq(store_begin(st), 0);
	peer_v4(&a, 1);
	a.n_lan = PEER_LAN_MAX + 1;
	ck_assert_int_eq(store_peer_put(st, &a), -EINVAL);
	peer_v4(&a, 1);
	a.n_tunnel = CERT_TUNNEL_MAX + 1;
	ck_assert_int_eq(store_peer_put(st, &a), -EINVAL);
	peer_v4(&a, 1);
	a.lan_id_len = PEER_LAN_ID_MAX + 1;
	ck_assert_int_eq(store_peer_put(st, &a), -EINVAL);
	peer_v4(&a, 1);
	a.tunnel[0].family = 0;
	ck_assert_int_eq(store_peer_put(st, &a), -EINVAL);
	peer_v4(&a, 1);
	a.lan[0].prefix = 33;
	ck_assert_int_eq(store_peer_put(st, &a), -EINVAL);
	peer_v4(&a, 1);
	memset(a.name, 'x', sizeof(a.name));
	ck_assert_int_eq(store_peer_put(st, &a), -EINVAL);
	peer_v4(&a, 1);
	a.cert_len = 10;
	ck_assert_int_eq(store_peer_put(st, &a), -EINVAL);
	store_rollback(st);
	ck_assert_uint_eq(walk(st)->n, 0);
	store_close(st);
}
END_TEST

START_TEST(test_size_grows)
{
	struct store *st = open_ok();
	struct peer p;
	int64_t before;
	uint8_t i;

	before = store_size(st);
	ck_assert_int_gt(before, 0);
	ck_assert_int_eq(store_begin(st), 0);
	for (i = 0; i < 64; i++) {
		peer_full(&p, i);
		p.key[31] = i;
		ck_assert_int_eq(store_peer_put(st, &p), 0);
	}
	ck_assert_int_eq(store_commit(st, 1), 0);
	ck_assert_int_gt(store_size(st), before);
	store_close(st);
}
END_TEST

/* --- errors ---------------------------------------------------------------------------- */

START_TEST(test_err_newer_schema)
{
	struct store *st = open_ok();
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

START_TEST(test_err_write_outside_transaction)
{
	struct store *st = open_ok();
	struct peer a;

	peer_v4(&a, 1);
	ck_assert_int_eq(store_peer_put(st, &a), -EINVAL);
	ck_assert_int_eq(store_peer_delete(st, a.key), -EINVAL);
	ck_assert_int_eq(store_commit(st, 5), -EINVAL);
	ck_assert_uint_eq(store_revision(st), 0);
	ck_assert_uint_eq(walk(st)->n, 0);
	store_close(st);
}
END_TEST

START_TEST(test_err_begin_twice)
{
	struct store *st = open_ok();

	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_begin(st), -EIO);
	store_rollback(st);
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_commit(st, 1), 0);
	store_close(st);
}
END_TEST

START_TEST(test_err_corrupt_row)
{
	struct store *st = open_ok();
	struct peer a;

	peer_v4(&a, 1);
	put_commit(st, &a, 1);
	side_exec("UPDATE peers SET tunnel_ips = '10.9.0.5,not-an-address'");
	ck_assert_int_eq(store_peers_foreach(st, collect, &(struct seen){ 0 }), -EIO);
	side_exec("UPDATE peers SET tunnel_ips = '10.9.0.5', lan_id = zeroblob(33)");
	ck_assert_int_eq(store_peers_foreach(st, collect, &(struct seen){ 0 }), -EIO);
	side_exec("UPDATE peers SET lan_id = x''");
	ck_assert_uint_eq(walk(st)->n, 1);
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
	struct store *st = open_ok();
	struct peer a;

	peer_v4(&a, 1);
	put_commit(st, &a, 1);
	ck_assert_int_eq(store_peers_foreach(st, nested, st), -EBUSY);
	ck_assert_uint_eq(walk(st)->n, 1);
	store_close(st);
}
END_TEST

Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
	tcase_add_test(tc, test_open_new);
	tcase_add_test(tc, test_wal_and_synchronous);
	tcase_add_test(tc, test_roundtrip_reopen);
	tcase_add_test(tc, test_update_in_place);
	tcase_add_test(tc, test_static_roundtrip);
	tcase_add_test(tc, test_migrate_from_v2);
	tcase_add_test(tc, test_backup_image);
	tcase_add_test(tc, test_delete);
	tcase_add_test(tc, test_rollback);
	tcase_add_test(tc, test_close_discards_open_transaction);
	tcase_add_test(tc, test_foreach_stops);
	tcase_add_test(tc, test_many_puts_one_transaction);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
	tcase_add_test(tc, test_full_lists_roundtrip);
	tcase_add_test(tc, test_put_refuses_out_of_bounds);
	tcase_add_test(tc, test_size_grows);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
	tcase_add_test(tc, test_err_newer_schema);
	tcase_add_test(tc, test_err_no_directory);
	tcase_add_test(tc, test_err_not_a_database);
	tcase_add_test(tc, test_err_write_outside_transaction);
	tcase_add_test(tc, test_err_begin_twice);
	tcase_add_test(tc, test_err_corrupt_row);
	tcase_add_test(tc, test_err_nested_foreach);
	suite_add_tcase(s, tc);
	return s;
}
