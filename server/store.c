/* The durable store over SQLite: WAL, synchronous=FULL, one writing connection.
 *
 * The schema version lives in PRAGMA user_version; store_migrations[i] takes a database from
 * version i to i + 1, and every missing step runs inside one transaction together with the
 * new user_version. Statements are prepared once in store_open and reused, so a group
 * commit of many puts parses no SQL. The peer records are read and written by
 * store_peer.c, the change log by store_log.c, the join requests by store_join.c, the join
 * tokens by store_token.c. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/log.h"
#include "server/store_impl.h"

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
	/* 4: no index beside the primary keys. The peers are read whole at start, never by
	 * network; the change log is read by revision range (a resume reads the rows after
	 * its revision, of every network). Each index cost a B-tree write per change and per
	 * pruned row: 3.5 of 18 us per Update at small batches. */
	("DROP INDEX IF EXISTS peers_network;"
	 "DROP INDEX IF EXISTS changes_network;"),
	/* 5: join requests (issue 13), so that a restart keeps waiting, approved and denied
	 * ones and the reserved addresses; the next id, so that no id is given twice */
	("CREATE TABLE IF NOT EXISTS join_requests ("
	 "  id INTEGER PRIMARY KEY NOT NULL,"
	 "  name TEXT NOT NULL,"
	 "  network TEXT NOT NULL,"
	 "  key BLOB NOT NULL CHECK (length(key) = 32),"
	 "  csr_sha256 BLOB NOT NULL CHECK (length(csr_sha256) = 32),"
	 "  source TEXT NOT NULL,"
	 "  created_s INTEGER NOT NULL,"
	 "  state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 2),"
	 "  csr BLOB NOT NULL,"
	 "  reserved_ips TEXT NOT NULL,"
	 "  certificate BLOB,"
	 "  ca BLOB,"
	 "  reason TEXT NOT NULL"
	 ");"
	 "INSERT OR IGNORE INTO meta (name, value) VALUES ('join_next_id', 1);"),
	/* 6: the chain a host presented under an online issuer (issue 13), kept with its
	 * record: the issuer that signed it may since have been replaced or dropped from the
	 * config, and the root's CRL must still reach it after a restart */
	"ALTER TABLE peers ADD COLUMN chain BLOB;",
	/* 7: renewals (WireSync.Renew) wait among the join requests with the certificate the
	 * host connected with, so that a restart keeps them as it keeps joins (a new table
	 * copied over: a rerun over a table that has the columns works too) */
	("CREATE TABLE join_requests_7 ("
	 "  id INTEGER PRIMARY KEY NOT NULL,"
	 "  name TEXT NOT NULL,"
	 "  network TEXT NOT NULL,"
	 "  key BLOB NOT NULL CHECK (length(key) = 32),"
	 "  csr_sha256 BLOB NOT NULL CHECK (length(csr_sha256) = 32),"
	 "  source TEXT NOT NULL,"
	 "  created_s INTEGER NOT NULL,"
	 "  state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 2),"
	 "  csr BLOB NOT NULL,"
	 "  reserved_ips TEXT NOT NULL,"
	 "  certificate BLOB,"
	 "  ca BLOB,"
	 "  reason TEXT NOT NULL,"
	 "  renewal INTEGER NOT NULL DEFAULT 0,"
	 "  current_certificate BLOB"
	 ");"
	 "INSERT INTO join_requests_7 (id, name, network, key, csr_sha256, source, created_s, "
	 "  state, csr, reserved_ips, certificate, ca, reason) "
	 "  SELECT id, name, network, key, csr_sha256, source, created_s, state, csr, "
	 "  reserved_ips, certificate, ca, reason FROM join_requests;"
	 "DROP TABLE join_requests;"
	 "ALTER TABLE join_requests_7 RENAME TO join_requests;"),
	/* 8: join tokens (issue 13): their SHA-256 (never the text), what is left of them and
	 * who made them; the hash is looked up on every Join that presents one */
	("CREATE TABLE IF NOT EXISTS join_tokens ("
	 "  id INTEGER PRIMARY KEY NOT NULL,"
	 "  network TEXT NOT NULL,"
	 "  sha256 BLOB NOT NULL UNIQUE CHECK (length(sha256) = 32),"
	 "  uses_left INTEGER NOT NULL CHECK (uses_left >= 0),"
	 "  expires_s INTEGER NOT NULL,"
	 "  groups TEXT NOT NULL,"
	 "  created_s INTEGER NOT NULL,"
	 "  admin_name TEXT NOT NULL,"
	 "  admin_serial TEXT NOT NULL"
	 ");"),
	/* 9: the audit log (issue 16): every admin action, newest kept (audit_max_entries) */
	("CREATE TABLE IF NOT EXISTS audit ("
	 "  id INTEGER PRIMARY KEY NOT NULL,"
	 "  time_ms INTEGER NOT NULL,"
	 "  network TEXT NOT NULL,"
	 "  admin TEXT NOT NULL,"
	 "  serial TEXT NOT NULL,"
	 "  action TEXT NOT NULL,"
	 "  detail TEXT NOT NULL"
	 ");"),
	/* 10: link health (issue 16): each host's latest report, one row per peer it manages,
	 * replaced whole per reporter */
	("CREATE TABLE IF NOT EXISTS link_health ("
	 "  reporter_key BLOB NOT NULL CHECK (length(reporter_key) = 32),"
	 "  peer_key BLOB NOT NULL CHECK (length(peer_key) = 32),"
	 "  path TEXT NOT NULL,"
	 "  endpoint TEXT NOT NULL,"
	 "  last_handshake_ms INTEGER NOT NULL,"
	 "  rx_bytes INTEGER NOT NULL,"
	 "  tx_bytes INTEGER NOT NULL,"
	 "  down_reason TEXT NOT NULL,"
	 "  reported_ms INTEGER NOT NULL,"
	 "  PRIMARY KEY (reporter_key, peer_key)"
	 ");"
	 "CREATE INDEX IF NOT EXISTS link_health_peer ON link_health (peer_key);"),
	/* 11: the change log marks removals, so that the follower (server/follower.c), which
	 * feeds every watcher from the log, tells a removal from a change whose record a later
	 * revision replaced (a new table copied over: a rerun over a table that has the
	 * column works too; rows logged before read as changes) */
	("CREATE TABLE changes_11 ("
	 "  revision INTEGER PRIMARY KEY NOT NULL,"
	 "  key BLOB NOT NULL,"
	 "  network TEXT NOT NULL,"
	 "  ts_ms INTEGER NOT NULL,"
	 "  removed INTEGER NOT NULL DEFAULT 0 CHECK (removed IN (0, 1))"
	 ");"
	 "INSERT INTO changes_11 (revision, key, network, ts_ms) "
	 "  SELECT revision, key, network, ts_ms FROM changes;"
	 "DROP TABLE changes;"
	 "ALTER TABLE changes_11 RENAME TO changes;"),
};
#define STORE_SCHEMA_VERSION ((int)(sizeof(store_migrations) / sizeof(store_migrations[0])))

static const char *const store_sql[STMT_COUNT] = {
	[STMT_BEGIN] = "BEGIN IMMEDIATE",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
	[STMT_PUT] = "INSERT INTO peers (" STORE_PEER_COLUMNS ") "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
	    "ON CONFLICT (key) DO UPDATE SET name = excluded.name, "
	    "network = excluded.network, listen_port = excluded.listen_port, "
	    "tunnel_ips = excluded.tunnel_ips, lan_ips = excluded.lan_ips, "
	    "wan_ip = excluded.wan_ip, lan_id = excluded.lan_id, "
	    "observed_endpoint = excluded.observed_endpoint, online = excluded.online, "
	    "last_seen_ms = excluded.last_seen_ms, revision = excluded.revision, "
	    "certificate = excluded.certificate, static = excluded.static, "
	    "chain = excluded.chain",
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
	if ((ret = store_log_open(st, err, errlen)) != 0 ||
	    (ret = store_join_open(st, err, errlen)) != 0 ||
	    (ret = store_token_open(st, err, errlen)) != 0)
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
	store_enroll_free(st);
	if (st->shared != NULL) {
		store_shared_close(st->shared);
		free(st->path);
		free(st);
		return;
	}
	for (i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	store_log_close(st);
	store_join_close(st);
	store_token_close(st);
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
	if (st->shared != NULL)
		return store_shared_revision(st->shared);
	return st->revision;
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
store_begin(struct store *st)
{
	if (st->shared != NULL)
		return -ENOTSUP;
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

	if (st->shared != NULL)
		return -1;
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

	if (st->shared != NULL)
		return -ENOTSUP;
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
