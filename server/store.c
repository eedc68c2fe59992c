/* The durable store over SQLite: WAL, synchronous=FULL, one writing connection.
 *
 * The schema version lives in PRAGMA user_version; store_migrations[i] takes a database from
 * version i to i + 1, and every missing step runs inside one transaction together with the
 * new user_version. Statements are prepared once in store_open and reused, so a group
 * commit of many puts parses no SQL. Address lists are stored as canonical netaddr text
 * joined by ','; an address carries "/prefix" only when the prefix is not the full length,
 * so every record reads back exactly as it was written. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/log.h"
#include "server/store_impl.h"

#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_CERT_MAX (64 * 1024)   /* a DER certificate larger than this is refused */
#define STORE_LIST_MAX ((CERT_TUNNEL_MAX > PEER_LAN_MAX ? CERT_TUNNEL_MAX : PEER_LAN_MAX) * \
    NETADDR_STRLEN)

/* Schema steps: store_migrations[i] upgrades version i to i + 1. Append, never edit. */
static const char *const store_migrations[] = {
	/* 1: the peers and the global revision */
	"CREATE TABLE meta ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  value INTEGER NOT NULL"
	");"
	"INSERT INTO meta (name, value) VALUES ('revision', 0);"
	"CREATE TABLE peers ("
	"  key BLOB PRIMARY KEY NOT NULL CHECK (length(key) = 32),"
	"  name TEXT NOT NULL,"
	"  network TEXT NOT NULL,"
	"  listen_port INTEGER NOT NULL,"
	"  tunnel_ips TEXT NOT NULL,"
	"  lan_ips TEXT NOT NULL,"
	"  wan_ip TEXT NOT NULL,"
	"  lan_id BLOB NOT NULL,"
	"  observed_endpoint TEXT NOT NULL,"
	"  online INTEGER NOT NULL,"
	"  last_seen_ms INTEGER NOT NULL,"
	"  revision INTEGER NOT NULL,"
	"  certificate BLOB"
	");"
	"CREATE INDEX peers_network ON peers (network);",
	/* 2: the change log that lets a Watch resume from a revision; one row per revision */
	"CREATE TABLE changes ("
	"  revision INTEGER PRIMARY KEY NOT NULL,"
	"  key BLOB NOT NULL,"
	"  network TEXT NOT NULL,"
	"  ts_ms INTEGER NOT NULL"
	");"
	"CREATE INDEX changes_network ON changes (network, revision);",
	/* 3: static peers (added by an operator, no agent, never online by presence) */
	"ALTER TABLE peers ADD COLUMN static INTEGER NOT NULL DEFAULT 0;",
};
#define STORE_SCHEMA_VERSION ((int)(sizeof(store_migrations) / sizeof(store_migrations[0])))

#define STORE_PEER_COLUMNS "key, name, network, listen_port, tunnel_ips, lan_ips, wan_ip, " \
    "lan_id, observed_endpoint, online, last_seen_ms, revision, certificate, static"

static const char *const store_sql[STMT_COUNT] = {
	[STMT_BEGIN] = "BEGIN IMMEDIATE",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
	[STMT_PUT] = "INSERT INTO peers (" STORE_PEER_COLUMNS ") "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) "
	    "ON CONFLICT (key) DO UPDATE SET name = excluded.name, "
	    "network = excluded.network, listen_port = excluded.listen_port, "
	    "tunnel_ips = excluded.tunnel_ips, lan_ips = excluded.lan_ips, "
	    "wan_ip = excluded.wan_ip, lan_id = excluded.lan_id, "
	    "observed_endpoint = excluded.observed_endpoint, online = excluded.online, "
	    "last_seen_ms = excluded.last_seen_ms, revision = excluded.revision, "
	    "certificate = excluded.certificate, static = excluded.static",
	[STMT_DELETE] = "DELETE FROM peers WHERE key = ?1",
	[STMT_FOREACH] = "SELECT " STORE_PEER_COLUMNS " FROM peers ORDER BY key",
	[STMT_REVISION_GET] = "SELECT value FROM meta WHERE name = 'revision'",
	[STMT_REVISION_SET] = "UPDATE meta SET value = ?1 WHERE name = 'revision'",
	[STMT_SIZE] = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
};

/* For log lines. */
static const char *const store_stmt_name[STMT_COUNT] = {
	[STMT_BEGIN] = "begin",
	[STMT_COMMIT] = "commit",
	[STMT_ROLLBACK] = "rollback",
	[STMT_PUT] = "put",
	[STMT_DELETE] = "delete",
	[STMT_FOREACH] = "read peers",
	[STMT_REVISION_GET] = "read revision",
	[STMT_REVISION_SET] = "write revision",
	[STMT_SIZE] = "size",
};

/* Maps an SQLite result code to a negative errno. */
static int
store_errno(sqlite3 *db, int rc)
{
	int sys;

	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_CANTOPEN:
		sys = db != NULL ? sqlite3_system_errno(db) : 0;
		return sys > 0 ? -sys : -ENOENT;
	case SQLITE_PERM:
	case SQLITE_READONLY:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_FULL:
		return -ENOSPC;
	default:
		return -EIO;
	}
}

int
store_stmt_run(struct store *st, sqlite3_stmt *stmt, const char *what)
{
	int rc;

	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		if (!st->failing)
			log_warnx("store %s: %s: %s (until a write succeeds, again at debug level)",
			    st->path, what, sqlite3_errmsg(st->db));
		else
			log_debug("store %s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
		st->failing = true;
		st->failures++;
		return -EIO;
	}
	return 0;
}

/* Runs one of store.c's statements that returns no rows we need. */
static int
store_step_done(struct store *st, enum store_stmt which)
{
	return store_stmt_run(st, st->stmt[which], store_stmt_name[which]);
}

/* Runs one PRAGMA (or other one-value query) and copies its first column as text. */
static int
store_pragma(sqlite3 *db, const char *sql, char *out, size_t outlen)
{
	sqlite3_stmt *stmt = NULL;
	const unsigned char *text;
	int rc;

	if ((rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL)) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		text = sqlite3_column_text(stmt, 0);
		snprintf(out, outlen, "%s", text != NULL ? (const char *)text : "");
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		out[0] = '\0';
		rc = SQLITE_OK;
	}
out:
	sqlite3_finalize(stmt);
	return rc;
}

static int
store_user_version(sqlite3 *db, int *version)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	if ((rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL)) != SQLITE_OK)
		goto out;
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		*version = sqlite3_column_int(stmt, 0);
		rc = SQLITE_OK;
	}
out:
	sqlite3_finalize(stmt);
	return rc;
}

/* Brings the schema to STORE_SCHEMA_VERSION in one transaction; refuses a newer one. */
static int
store_migrate(struct store *st, char *err, size_t errlen)
{
	char sql[64];
	char *msg = NULL;
	int version, rc, ret;
	bool in_tx = false;

	if ((rc = store_user_version(st->db, &version)) != SQLITE_OK)
		goto sqlerr;
	if (version == STORE_SCHEMA_VERSION)
		return 0;
	if (version < STORE_SCHEMA_VERSION) {
		if ((rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)
			goto sqlerr;
		in_tx = true;
		/* Another process may have migrated while we waited for the lock. */
		if ((rc = store_user_version(st->db, &version)) != SQLITE_OK)
			goto sqlerr;
	}
	if (version > STORE_SCHEMA_VERSION) {
		err_set(err, errlen, "%s: schema version %d is newer than this build's %d",
		    st->path, version, STORE_SCHEMA_VERSION);
		ret = -ENOTSUP;
		goto out;
	}
	if (version < 0) {
		err_set(err, errlen, "%s: invalid schema version %d", st->path, version);
		ret = -EINVAL;
		goto out;
	}
	for (; version < STORE_SCHEMA_VERSION; version++) {
		if ((rc = sqlite3_exec(st->db, store_migrations[version], NULL, NULL,
		    &msg)) != SQLITE_OK) {
			err_set(err, errlen, "%s: migration to schema version %d: %s",
			    st->path, version + 1, msg != NULL ? msg : sqlite3_errstr(rc));
			ret = store_errno(st->db, rc);
			goto out;
		}
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", STORE_SCHEMA_VERSION);
	if ((rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL)) != SQLITE_OK ||
	    (rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
		goto sqlerr;
	in_tx = false;
	return 0;

sqlerr:
	err_set(err, errlen, "%s: schema: %s", st->path, sqlite3_errmsg(st->db));
	ret = store_errno(st->db, rc);
out:
	sqlite3_free(msg);
	if (in_tx && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

int
store_open(const char *path, struct store **out, char *err, size_t errlen)
{
	struct store *st = NULL;
	char *file = NULL, mode[16];
	size_t i, len;
	int rc, ret;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL || (st->path = strdup(path)) == NULL) {
		err_set(err, errlen, "%s: out of memory", path);
		ret = -ENOMEM;
		goto out;
	}
	/* Debian's SQLite reads "file:..." names as URIs; a database path is just a path. */
	if (strncmp(path, "file:", 5) == 0) {
		len = strlen(path) + 3;       /* "./", path and its NUL */
		if ((file = malloc(len)) == NULL) {
			err_set(err, errlen, "%s: out of memory", path);
			ret = -ENOMEM;
			goto out;
		}
		memcpy(file, "./", 2);
		memcpy(file + 2, path, len - 2);
	}
	rc = sqlite3_open_v2(file != NULL ? file : path, &st->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		err_set(err, errlen, "%s: cannot open database: %s", path,
		    st->db != NULL ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		ret = store_errno(st->db, rc);
		goto out;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);

	/* journal_mode answers with the mode now in force, which may not be the one asked. */
	if ((rc = store_pragma(st->db, "PRAGMA journal_mode = WAL", mode,
	    sizeof(mode))) != SQLITE_OK) {
		err_set(err, errlen, "%s: %s", path, sqlite3_errmsg(st->db));
		ret = store_errno(st->db, rc);
		goto out;
	}
	if (strcmp(mode, "wal") != 0) {
		err_set(err, errlen, "%s: cannot use WAL (journal mode is '%s')", path, mode);
		ret = -ENOTSUP;
		goto out;
	}
	if ((rc = sqlite3_exec(st->db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON",
	    NULL, NULL, NULL)) != SQLITE_OK) {
		err_set(err, errlen, "%s: %s", path, sqlite3_errmsg(st->db));
		ret = store_errno(st->db, rc);
		goto out;
	}
	if ((ret = store_migrate(st, err, errlen)) != 0)
		goto out;

	for (i = 0; i < STMT_COUNT; i++) {
		if ((rc = sqlite3_prepare_v3(st->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		    &st->stmt[i], NULL)) != SQLITE_OK) {
			err_set(err, errlen, "%s: %s: %s", path, store_sql[i],
			    sqlite3_errmsg(st->db));
			ret = store_errno(st->db, rc);
			goto out;
		}
	}
	if ((ret = store_log_open(st, err, errlen)) != 0)
		goto out;
	rc = sqlite3_step(st->stmt[STMT_REVISION_GET]);
	if (rc == SQLITE_ROW)
		st->revision = (uint64_t)sqlite3_column_int64(st->stmt[STMT_REVISION_GET], 0);
	sqlite3_reset(st->stmt[STMT_REVISION_GET]);
	if (rc != SQLITE_ROW) {
		err_set(err, errlen, "%s: no revision in table meta: %s", path,
		    rc == SQLITE_DONE ? "missing row" : sqlite3_errmsg(st->db));
		ret = rc == SQLITE_DONE ? -EIO : store_errno(st->db, rc);
		goto out;
	}

	*out = st;
	st = NULL;
	ret = 0;
out:
	free(file);
	store_close(st);
	return ret;
}

void
store_close(struct store *st)
{
	size_t i;
	int rc;

	if (st == NULL)
		return;
	for (i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	store_log_close(st);
	if (st->db != NULL && (rc = sqlite3_close(st->db)) != SQLITE_OK)
		log_warnx("store %s: close: %s", st->path, sqlite3_errstr(rc));
	free(st->path);
	free(st);
}

int
store_schema_version(void)
{
	return STORE_SCHEMA_VERSION;
}

uint64_t
store_revision(const struct store *st)
{
	return st->revision;
}

/* Writes n addresses as "a,b,c" into buf (STORE_LIST_MAX bytes). */
static void
store_list_format(const struct netaddr *a, size_t n, char *buf)
{
	char one[NETADDR_STRLEN];
	size_t i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		netaddr_format(&a[i], a[i].prefix != (a[i].family == AF_INET ? 32 : 128), one);
		len += (size_t)snprintf(buf + len, STORE_LIST_MAX - len, "%s%s",
		    i > 0 ? "," : "", one);
	}
}

/* Reads "a,b,c" into at most max addresses. */
static bool
store_list_parse(const char *text, struct netaddr *a, size_t max, uint8_t *n)
{
	char one[NETADDR_STRLEN];
	const char *p = text, *comma;
	size_t len, count = 0;

	*n = 0;
	if (text == NULL || *text == '\0')
		return true;
	for (;;) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (count == max || len >= sizeof(one))
			return false;
		memcpy(one, p, len);
		one[len] = '\0';
		if (!netaddr_parse(one, true, &a[count], NULL, 0))
			return false;
		count++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	*n = (uint8_t)count;
	return true;
}

static bool
store_addr_valid(const struct netaddr *a)
{
	return (a->family == AF_INET && a->prefix <= 32) ||
	    (a->family == AF_INET6 && a->prefix <= 128);
}

/* Checks the bounds a record must keep to be stored and read back. */
static const char *
store_peer_invalid(const struct peer *p)
{
	size_t i;

	if (strnlen(p->name, sizeof(p->name)) == sizeof(p->name) ||
	    strnlen(p->network, sizeof(p->network)) == sizeof(p->network))
		return "name or network not terminated";
	if (strnlen(p->observed_endpoint, sizeof(p->observed_endpoint)) ==
	    sizeof(p->observed_endpoint))
		return "observed endpoint not terminated";
	if (p->n_tunnel > CERT_TUNNEL_MAX || p->n_lan > PEER_LAN_MAX ||
	    p->lan_id_len > PEER_LAN_ID_MAX)
		return "too many addresses or lan_id too long";
	for (i = 0; i < p->n_tunnel; i++)
		if (!store_addr_valid(&p->tunnel[i]))
			return "bad tunnel address";
	for (i = 0; i < p->n_lan; i++)
		if (!store_addr_valid(&p->lan[i]))
			return "bad LAN address";
	if (p->wan.family != 0 && !store_addr_valid(&p->wan))
		return "bad WAN address";
	if (p->cert_len > STORE_CERT_MAX || (p->cert == NULL && p->cert_len != 0))
		return "bad certificate length";
	return NULL;
}

static void
store_log_key(const char *path, const char *what, const uint8_t key[WG_KEY_LEN],
    const char *why)
{
	char b64[45];

	wg_key_to_base64(key, b64);
	log_warnx("store %s: %s %s: %s", path, what, b64, why);
}

/* Refuses writes outside store_begin/store_commit: they would commit on their own. */
bool
store_in_tx(struct store *st, const char *what)
{
	if (!sqlite3_get_autocommit(st->db))
		return true;
	log_warnx("store %s: %s outside a transaction", st->path, what);
	return false;
}

int
store_peer_put(struct store *st, const struct peer *p)
{
	sqlite3_stmt *stmt = st->stmt[STMT_PUT];
	char tunnel[STORE_LIST_MAX], lan[STORE_LIST_MAX], wan[NETADDR_STRLEN];
	const char *why;
	int rc;

	if ((why = store_peer_invalid(p)) != NULL) {
		store_log_key(st->path, "put", p->key, why);
		return -EINVAL;
	}
	if (!store_in_tx(st, "put"))
		return -EINVAL;
	store_list_format(p->tunnel, p->n_tunnel, tunnel);
	store_list_format(p->lan, p->n_lan, lan);
	store_list_format(&p->wan, p->wan.family != 0 ? 1 : 0, wan);

	/* SQLITE_STATIC: every buffer outlives the step, and the bindings are cleared. */
	if ((rc = sqlite3_bind_blob(stmt, 1, p->key, WG_KEY_LEN, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(stmt, 2, p->name, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(stmt, 3, p->network, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(stmt, 4, p->listen_port)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(stmt, 5, tunnel, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(stmt, 6, lan, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(stmt, 7, wan, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_blob(stmt, 8, p->lan_id, p->lan_id_len,
	    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(stmt, 9, p->observed_endpoint, -1,
	    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int(stmt, 10, p->online ? 1 : 0)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(stmt, 11, p->last_seen_ms)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(stmt, 12, (sqlite3_int64)p->revision)) != SQLITE_OK ||
	    (rc = p->cert_len > 0 ?
	    sqlite3_bind_blob(stmt, 13, p->cert, (int)p->cert_len, SQLITE_STATIC) :
	    sqlite3_bind_null(stmt, 13)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int(stmt, 14, p->is_static ? 1 : 0)) != SQLITE_OK) {
		sqlite3_clear_bindings(stmt);
		log_warnx("store %s: put %s: %s", st->path, p->name, sqlite3_errstr(rc));
		return -EIO;
	}
	return store_step_done(st, STMT_PUT);
}

int
store_peer_delete(struct store *st, const uint8_t key[WG_KEY_LEN])
{
	sqlite3_stmt *stmt = st->stmt[STMT_DELETE];
	int rc;

	if (!store_in_tx(st, "delete"))
		return -EINVAL;
	if ((rc = sqlite3_bind_blob(stmt, 1, key, WG_KEY_LEN, SQLITE_STATIC)) != SQLITE_OK) {
		store_log_key(st->path, "delete", key, sqlite3_errstr(rc));
		return -EIO;
	}
	return store_step_done(st, STMT_DELETE);
}

/* Copies column i as text into out[outlen]; false when it does not fit. */
static bool
store_column_text(sqlite3_stmt *stmt, int i, char *out, size_t outlen)
{
	const unsigned char *text = sqlite3_column_text(stmt, i);
	size_t len = (size_t)sqlite3_column_bytes(stmt, i);

	if (len >= outlen)
		return false;
	memcpy(out, text != NULL ? (const char *)text : "", len);
	out[len] = '\0';
	return true;
}

/* Reads the current row into p; p->cert points into SQLite's row until the next step. */
static const char *
store_peer_read(sqlite3_stmt *stmt, struct peer *p)
{
	const void *blob;
	sqlite3_int64 port;
	uint8_t n_wan;
	int len;

	memset(p, 0, sizeof(*p));
	blob = sqlite3_column_blob(stmt, 0);
	if (blob == NULL || sqlite3_column_bytes(stmt, 0) != WG_KEY_LEN)
		return "bad key";
	memcpy(p->key, blob, WG_KEY_LEN);
	if (!store_column_text(stmt, 1, p->name, sizeof(p->name)) ||
	    !store_column_text(stmt, 2, p->network, sizeof(p->network)))
		return "name or network too long";
	port = sqlite3_column_int64(stmt, 3);
	if (port < 0 || port > UINT32_MAX)
		return "bad listen port";
	p->listen_port = (uint32_t)port;
	if (!store_list_parse((const char *)sqlite3_column_text(stmt, 4), p->tunnel,
	    CERT_TUNNEL_MAX, &p->n_tunnel))
		return "bad tunnel addresses";
	if (!store_list_parse((const char *)sqlite3_column_text(stmt, 5), p->lan,
	    PEER_LAN_MAX, &p->n_lan))
		return "bad LAN addresses";
	if (!store_list_parse((const char *)sqlite3_column_text(stmt, 6), &p->wan, 1, &n_wan))
		return "bad WAN address";
	len = sqlite3_column_bytes(stmt, 7);
	if (len > PEER_LAN_ID_MAX)
		return "lan_id too long";
	if (len > 0)
		memcpy(p->lan_id, sqlite3_column_blob(stmt, 7), (size_t)len);
	p->lan_id_len = (uint8_t)len;
	if (!store_column_text(stmt, 8, p->observed_endpoint, sizeof(p->observed_endpoint)))
		return "observed endpoint too long";
	p->online = sqlite3_column_int(stmt, 9) != 0;
	p->last_seen_ms = sqlite3_column_int64(stmt, 10);
	p->revision = (uint64_t)sqlite3_column_int64(stmt, 11);
	blob = sqlite3_column_blob(stmt, 12);
	len = sqlite3_column_bytes(stmt, 12);
	if (blob != NULL && len > 0) {
		/* Borrowed for the callback only, which sees the record as const. */
		p->cert = (uint8_t *)(uintptr_t)blob;
		p->cert_len = (size_t)len;
	}
	p->is_static = sqlite3_column_int(stmt, 13) != 0;
	return NULL;
}

int
store_peers_foreach(struct store *st, int (*fn)(const struct peer *p, void *arg), void *arg)
{
	sqlite3_stmt *stmt = st->stmt[STMT_FOREACH];
	struct peer p;
	const char *why;
	int rc, ret = 0;

	/* The statement is shared: fn must not start another walk. */
	if (sqlite3_stmt_busy(stmt)) {
		log_warnx("store %s: nested foreach", st->path);
		return -EBUSY;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((why = store_peer_read(stmt, &p)) != NULL) {
			store_log_key(st->path, "read", p.key, why);
			ret = -EIO;
			goto out;
		}
		if ((ret = fn(&p, arg)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		log_warnx("store %s: read peers: %s", st->path, sqlite3_errmsg(st->db));
		ret = -EIO;
	}
out:
	sqlite3_reset(stmt);
	return ret;
}

int
store_begin(struct store *st)
{
	st->log_tx_rows = 0;
	return store_step_done(st, STMT_BEGIN);
}

int
store_commit(struct store *st, uint64_t revision)
{
	sqlite3_stmt *stmt = st->stmt[STMT_REVISION_SET];
	int rc;

	if (!store_in_tx(st, "commit"))
		return -EINVAL;
	if ((rc = sqlite3_bind_int64(stmt, 1, (sqlite3_int64)revision)) != SQLITE_OK) {
		log_warnx("store %s: commit: %s", st->path, sqlite3_errstr(rc));
		goto fail;
	}
	if (store_step_done(st, STMT_REVISION_SET) != 0 || store_step_done(st, STMT_COMMIT) != 0)
		goto fail;
	st->revision = revision;
	if (st->failing)
		log_info("store %s: writes succeed again (after %lu failed statements)", st->path,
		    st->failures);
	st->failing = false;
	st->failures = 0;
	return 0;
fail:
	store_rollback(st);
	return -EIO;
}

void
store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		store_step_done(st, STMT_ROLLBACK);
}

int64_t
store_size(struct store *st)
{
	sqlite3_stmt *stmt = st->stmt[STMT_SIZE];
	int64_t size = -EIO;

	if (sqlite3_step(stmt) == SQLITE_ROW)
		size = sqlite3_column_int64(stmt, 0);
	else
		log_warnx("store %s: size: %s", st->path, sqlite3_errmsg(st->db));
	sqlite3_reset(stmt);
	return size;
}

int
store_backup_image(struct store *st, uint8_t **out, size_t *len)
{
	sqlite3 *mem = NULL;
	sqlite3_backup *b = NULL;
	sqlite3_int64 size = 0;
	unsigned char *img = NULL;
	int rc, ret = -EIO;

	*out = NULL;
	*len = 0;
	if ((rc = sqlite3_open_v2(":memory:", &mem, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL)) != SQLITE_OK) {
		ret = store_errno(mem, rc);
		goto out;
	}
	/* One step copies every page under one read transaction: a consistent snapshot,
	 * taken between two group commits since this connection is the only writer. */
	if ((b = sqlite3_backup_init(mem, "main", st->db, "main")) == NULL) {
		log_warnx("store %s: backup: %s", st->path, sqlite3_errmsg(mem));
		goto out;
	}
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		log_warnx("store %s: backup: %s", st->path, sqlite3_errstr(rc));
		ret = store_errno(mem, rc);
		goto out;
	}
	img = sqlite3_serialize(mem, "main", &size, 0);
	if (img == NULL || size <= 0) {
		log_warnx("store %s: backup: cannot serialize the copy", st->path);
		ret = -ENOMEM;
		goto out;
	}
	*out = img;
	*len = (size_t)size;
	img = NULL;
	ret = 0;
out:
	sqlite3_free(img);
	sqlite3_close(mem);
	return ret;
}

void
store_image_free(uint8_t *img)
{
	sqlite3_free(img);
}
