/* The audit log (issue 16) in table audit: one row per admin action, written in a small
 * transaction of its own that also drops the oldest rows past the bound, so the table
 * never holds more than audit_max_entries rows, even for a moment another reader sees.
 * Admin actions are rare (a person types them), so the statements are prepared per call
 * rather than kept open with the store's own. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rpc/log.h"
#include "server/store_impl.h"

#define AUDIT_COLUMNS "id, time_ms, network, admin, serial, action, detail"

static const char sql_add[] =
    "INSERT INTO audit (time_ms, network, admin, serial, action, detail) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
/* Every row at or below the (max+1)-th newest id; the rowid index makes it a seek. */
static const char sql_trim[] =
    "DELETE FROM audit WHERE id <= (SELECT id FROM audit ORDER BY id DESC LIMIT 1 "
    "OFFSET ?1)";
static const char sql_list[] =
    "SELECT " AUDIT_COLUMNS " FROM audit WHERE (?1 IS NULL OR network = ?1 OR network = '') "
    "AND (?2 = 0 OR id < ?2) ORDER BY id DESC LIMIT ?3";

static int
audit_prepare(struct store *st, const char *sql, sqlite3_stmt **stmt, const char *what)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) != SQLITE_OK) {
		log_warnx("store %s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
		sqlite3_finalize(*stmt);
		*stmt = NULL;
		return -EIO;
	}
	return 0;
}

static bool
text_ok(const char *s, size_t size)
{
	return strnlen(s, size) < size;
}

static const char *
audit_invalid(const struct store_audit *e)
{
	if (!text_ok(e->network, sizeof(e->network)) || !text_ok(e->admin, sizeof(e->admin)) ||
	    !text_ok(e->serial, sizeof(e->serial)) || !text_ok(e->action, sizeof(e->action)) ||
	    !text_ok(e->detail, sizeof(e->detail)))
		return "a field is not terminated";
	if (e->action[0] == '\0')
		return "no action";
	return NULL;
}

/* The insert and the trim, inside the open transaction. */
static int
audit_write(struct store *st, struct store_audit *e, uint64_t max_entries)
{
	sqlite3_stmt *add = NULL, *trim = NULL;
	int ret;

	if ((ret = audit_prepare(st, sql_add, &add, "add audit entry")) != 0)
		return ret;
	if (sqlite3_bind_int64(add, 1, e->time_ms) != SQLITE_OK ||
	    sqlite3_bind_text(add, 2, e->network, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(add, 3, e->admin, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(add, 4, e->serial, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(add, 5, e->action, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(add, 6, e->detail, -1, SQLITE_STATIC) != SQLITE_OK) {
		log_warnx("store %s: add audit entry: %s", st->path, sqlite3_errmsg(st->db));
		ret = -EIO;
		goto out;
	}
	if ((ret = store_stmt_run(st, add, "add audit entry")) != 0)
		goto out;
	e->id = (uint64_t)sqlite3_last_insert_rowid(st->db);
	if ((ret = audit_prepare(st, sql_trim, &trim, "trim the audit log")) != 0)
		goto out;
	if (sqlite3_bind_int64(trim, 1, (sqlite3_int64)max_entries) != SQLITE_OK) {
		ret = -EIO;
		goto out;
	}
	ret = store_stmt_run(st, trim, "trim the audit log");
out:
	sqlite3_finalize(add);
	sqlite3_finalize(trim);
	return ret;
}

int
store_audit_add(struct store *st, struct store_audit *e, uint64_t max_entries)
{
	const char *why;
	int rc, ret;

	if (st->shared != NULL)
		return store_shared_audit_add(st->shared, e, max_entries);
	if ((why = audit_invalid(e)) != NULL || max_entries == 0 || max_entries > INT64_MAX) {
		log_warnx("store %s: add audit entry: %s", st->path,
		    why != NULL ? why : "bad bound");
		return -EINVAL;
	}
	if (!sqlite3_get_autocommit(st->db)) {
		log_warnx("store %s: add audit entry inside another transaction", st->path);
		return -EINVAL;
	}
	/* Another process holding the write lock must not stall the loop for the busy
	 * timeout: the entry fails at once (the caller logs it whole instead), and the
	 * store's run of failures, which is the peers' batches', is not started by it. */
	sqlite3_busy_timeout(st->db, 0);
	rc = sqlite3_step(st->stmt[STMT_BEGIN]);
	sqlite3_reset(st->stmt[STMT_BEGIN]);
	sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
	if (rc != SQLITE_DONE) {
		log_warnx("store %s: cannot add an audit entry: %s", st->path, sqlite3_errstr(rc));
		return -EIO;
	}
	if ((ret = audit_write(st, e, max_entries)) == 0 &&
	    (ret = store_stmt_run(st, st->stmt[STMT_COMMIT], "commit")) == 0)
		return 0;
	store_rollback(st);
	e->id = 0;
	return ret;
}

/* The current row into e. */
static const char *
audit_read(sqlite3_stmt *stmt, struct store_audit *e)
{
	sqlite3_int64 v;

	memset(e, 0, sizeof(*e));
	if ((v = sqlite3_column_int64(stmt, 0)) <= 0)
		return "bad id";
	e->id = (uint64_t)v;
	e->time_ms = sqlite3_column_int64(stmt, 1);
	if (!store_column_text(stmt, 2, e->network, sizeof(e->network)) ||
	    !store_column_text(stmt, 3, e->admin, sizeof(e->admin)) ||
	    !store_column_text(stmt, 4, e->serial, sizeof(e->serial)) ||
	    !store_column_text(stmt, 5, e->action, sizeof(e->action)) ||
	    !store_column_text(stmt, 6, e->detail, sizeof(e->detail)))
		return "a column is too long";
	return NULL;
}

int
store_audit_foreach(struct store *st, const char *network, uint64_t before_id,
    uint32_t limit, int (*fn)(const struct store_audit *e, void *arg), void *arg)
{
	sqlite3_stmt *stmt = NULL;
	struct store_audit e;
	const char *why;
	int rc, ret;

	if (st->shared != NULL)
		return -ENOTSUP;
	if (before_id > INT64_MAX)
		before_id = 0;
	if ((ret = audit_prepare(st, sql_list, &stmt, "read the audit log")) != 0)
		return ret;
	if (sqlite3_bind_text(stmt, 1, network, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)before_id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 3, limit) != SQLITE_OK) {
		sqlite3_finalize(stmt);
		return -EIO;
	}
	ret = 0;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((why = audit_read(stmt, &e)) != NULL) {
			log_warnx("store %s: audit entry %lld: %s", st->path,
			    (long long)sqlite3_column_int64(stmt, 0), why);
			ret = -EIO;
			break;
		}
		if ((ret = fn(&e, arg)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE) {
		log_warnx("store %s: read the audit log: %s", st->path, sqlite3_errmsg(st->db));
		ret = -EIO;
	}
	sqlite3_finalize(stmt);
	return ret;
}

int
store_audit_count(struct store *st, uint64_t *n)
{
	sqlite3_stmt *stmt = NULL;
	int ret;

	if (st->shared != NULL)
		return -ENOTSUP;
	if ((ret = audit_prepare(st, "SELECT count(*) FROM audit", &stmt,
	    "count the audit log")) != 0)
		return ret;
	if (sqlite3_step(stmt) == SQLITE_ROW) {
		*n = (uint64_t)sqlite3_column_int64(stmt, 0);
		ret = 0;
	} else {
		ret = -EIO;
	}
	sqlite3_finalize(stmt);
	return ret;
}

int
store_audit_copy(struct store *st, const struct store_audit *e)
{
	sqlite3_stmt *stmt = NULL;
	const char *why;
	int rc, ret;

	if ((why = audit_invalid(e)) != NULL || e->id == 0 || e->id > INT64_MAX) {
		log_warnx("store %s: copy audit entry %llu: %s", st->path,
		    (unsigned long long)e->id, why != NULL ? why : "bad id");
		return -EINVAL;
	}
	if (!store_in_tx(st, "copy audit entry"))
		return -EINVAL;
	if ((ret = audit_prepare(st, "INSERT INTO audit (" AUDIT_COLUMNS ") VALUES "
	    "(?1, ?2, ?3, ?4, ?5, ?6, ?7)", &stmt, "copy audit entry")) != 0)
		return ret;
	if (sqlite3_bind_int64(stmt, 1, (sqlite3_int64)e->id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, e->time_ms) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 3, e->network, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 4, e->admin, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 5, e->serial, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 6, e->action, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 7, e->detail, -1, SQLITE_STATIC) != SQLITE_OK) {
		log_warnx("store %s: copy audit entry: %s", st->path, sqlite3_errmsg(st->db));
		sqlite3_finalize(stmt);
		return -EIO;
	}
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		log_warnx("store %s: copy audit entry %llu: %s", st->path,
		    (unsigned long long)e->id, sqlite3_errmsg(st->db));
	sqlite3_finalize(stmt);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return -EEXIST;
	return rc == SQLITE_DONE ? 0 : -EIO;
}
