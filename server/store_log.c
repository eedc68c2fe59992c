/* The change log: one row per revision (the peer that changed, its network, when), written
 * in the transaction of the change, so that a Watch resumes from a revision the log still
 * covers with the changes after it instead of a snapshot.
 *
 * Rows are ordered by revision and, since each is stamped no earlier than the one before,
 * by time as well. So the prune finds its cut by seeking on the revision (a galloping
 * search from the oldest row, O(log k) seeks for k rows to drop) and deletes a prefix of the
 * log: its work grows with the rows it drops, never with the rows the log holds. One call
 * drops at most the rows its transaction logged plus STORE_LOG_PRUNE_EXTRA, so a backlog
 * (limits lowered, a long quiet spell) drains over a few commits instead of stalling one. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "rpc/log.h"
#include "server/store_impl.h"

static const char *const log_sql[LOG_STMT_COUNT] = {
	[LOG_PUT] = "INSERT INTO changes (revision, key, network, ts_ms, removed) "
	    "VALUES (?1, ?2, ?3, ?4, ?5)",
	/* one row per peer: its latest change, in revision order; reads the rowid range after
	 * since (of every network: there is no index to write with each change) */
	[LOG_SINCE] = "SELECT key, MAX(revision) AS r FROM changes "
	    "WHERE network = ?1 AND revision > ?2 GROUP BY key ORDER BY r",
	/* one seek: the first row at or after a revision */
	[LOG_AT] = "SELECT revision, ts_ms FROM changes WHERE revision >= ?1 "
	    "ORDER BY revision LIMIT 1",
	[LOG_TAIL] = "SELECT ts_ms FROM changes ORDER BY revision DESC LIMIT 1",
	/* every row after a revision, of every network: a range of the rowid (the follower) */
	[LOG_AFTER] = "SELECT revision, key, network, removed FROM changes WHERE revision > ?1 "
	    "ORDER BY revision",
	/* a prefix of the rowid order: visits only the rows it deletes */
	[LOG_DROP] = "DELETE FROM changes WHERE revision <= ?1",
};

static const char *const log_stmt_name[LOG_STMT_COUNT] = {
	[LOG_PUT] = "log change",
	[LOG_SINCE] = "read changes",
	[LOG_AT] = "seek changes",
	[LOG_TAIL] = "last change",
	[LOG_AFTER] = "follow changes",
	[LOG_DROP] = "prune changes",
};

int
store_log_open(struct store *st, char *err, size_t errlen)
{
	sqlite3_stmt *tail;
	size_t i;
	int rc;

	for (i = 0; i < LOG_STMT_COUNT; i++) {
		if ((rc = sqlite3_prepare_v3(st->db, log_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		    &st->log_stmt[i], NULL)) != SQLITE_OK) {
			err_set(err, errlen, "%s: %s: %s", st->path, log_sql[i],
			    sqlite3_errmsg(st->db));
			return -EIO;
		}
	}
	st->log_last_ts = INT64_MIN;
	tail = st->log_stmt[LOG_TAIL];
	rc = sqlite3_step(tail);
	if (rc == SQLITE_ROW)
		st->log_last_ts = sqlite3_column_int64(tail, 0);
	sqlite3_reset(tail);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		err_set(err, errlen, "%s: read the change log: %s", st->path,
		    sqlite3_errmsg(st->db));
		return -EIO;
	}
	return 0;
}

void
store_log_close(struct store *st)
{
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < LOG_STMT_COUNT; i++) {
		sqlite3_finalize(st->log_stmt[i]);
		st->log_stmt[i] = NULL;
	}
}

int
store_change_log(struct store *st, uint64_t revision, const uint8_t key[WG_KEY_LEN],
    const char *network, bool removed, int64_t ts_ms)
{
	sqlite3_stmt *stmt = st->log_stmt[LOG_PUT];

	if (!store_in_tx(st, "log change"))
		return -EINVAL;
	/* a wall clock set back must not break the time order the prune relies on */
	if (ts_ms < st->log_last_ts)
		ts_ms = st->log_last_ts;
	if (sqlite3_bind_int64(stmt, 1, (sqlite3_int64)revision) != SQLITE_OK ||
	    sqlite3_bind_blob(stmt, 2, key, WG_KEY_LEN, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 3, network, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 4, ts_ms) != SQLITE_OK ||
	    sqlite3_bind_int(stmt, 5, removed ? 1 : 0) != SQLITE_OK) {
		log_warnx("store %s: log change: %s", st->path, sqlite3_errmsg(st->db));
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
		return -EIO;
	}
	if (store_stmt_run(st, stmt, log_stmt_name[LOG_PUT]) != 0)
		return -EIO;
	st->log_last_ts = ts_ms;
	st->log_tx_rows++;
	return 0;
}

int
store_changes_since(struct store *st, const char *network, uint64_t since,
    int (*fn)(const uint8_t key[WG_KEY_LEN], uint64_t revision, void *arg), void *arg)
{
	sqlite3_stmt *stmt = st->log_stmt[LOG_SINCE];
	int rc, ret = 0;

	if (st->shared != NULL)
		return store_shared_changes_since(st->shared, network, since, fn, arg);
	if (sqlite3_stmt_busy(stmt))
		return -EBUSY;
	if (sqlite3_bind_text(stmt, 1, network, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)since) != SQLITE_OK) {
		ret = -EIO;
		goto out;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const void *key = sqlite3_column_blob(stmt, 0);
		if (key == NULL || sqlite3_column_bytes(stmt, 0) != WG_KEY_LEN) {
			ret = -EIO;
			goto out;
		}
		if ((ret = fn(key, (uint64_t)sqlite3_column_int64(stmt, 1), arg)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = -EIO;
out:
	if (ret == -EIO)
		log_warnx("store %s: read changes: %s", st->path, sqlite3_errmsg(st->db));
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return ret;
}

int
store_changes_after(struct store *st, uint64_t after,
    int (*fn)(const struct store_change *c, void *arg), void *arg)
{
	sqlite3_stmt *stmt = st->log_stmt[LOG_AFTER];
	struct store_change c;
	int rc, ret = 0;

	if (sqlite3_stmt_busy(stmt))
		return -EBUSY;
	if (sqlite3_bind_int64(stmt, 1, (sqlite3_int64)after) != SQLITE_OK) {
		ret = -EIO;
		goto out;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const void *key = sqlite3_column_blob(stmt, 1);
		if (key == NULL || sqlite3_column_bytes(stmt, 1) != WG_KEY_LEN ||
		    !store_column_text(stmt, 2, c.network, sizeof(c.network))) {
			log_warnx("store %s: %s: revision %lld: a bad row", st->path,
			    log_stmt_name[LOG_AFTER], (long long)sqlite3_column_int64(stmt, 0));
			ret = -EIO;
			goto out_reset;
		}
		c.revision = (uint64_t)sqlite3_column_int64(stmt, 0);
		memcpy(c.key, key, WG_KEY_LEN);
		c.removed = sqlite3_column_int(stmt, 3) != 0;
		if ((ret = fn(&c, arg)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = -EIO;
out:
	if (ret == -EIO)
		log_warnx("store %s: %s: %s", st->path, log_stmt_name[LOG_AFTER],
		    sqlite3_errmsg(st->db));
out_reset:
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return ret;
}

/* The first row at or after revision from: 1 and its revision and stamp, 0 when there is
 * none, -EIO. */
static int
log_at(struct store *st, uint64_t from, uint64_t *rev, int64_t *ts)
{
	sqlite3_stmt *stmt = st->log_stmt[LOG_AT];
	int rc, ret;

	if (sqlite3_bind_int64(stmt, 1, (sqlite3_int64)from) != SQLITE_OK) {
		rc = SQLITE_ERROR;
	} else if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		*rev = (uint64_t)sqlite3_column_int64(stmt, 0);
		*ts = sqlite3_column_int64(stmt, 1);
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if (rc == SQLITE_ROW)
		ret = 1;
	else if (rc == SQLITE_DONE)
		ret = 0;
	else {
		log_warnx("store %s: %s: %s", st->path, log_stmt_name[LOG_AT],
		    sqlite3_errmsg(st->db));
		ret = -EIO;
	}
	return ret;
}

/* Whether every row up to revision p is older than cutoff: the first row at or after p
 * is (rows are in time order), and one exists. 1, 0 or -EIO. */
static int
log_aged(struct store *st, uint64_t p, int64_t cutoff)
{
	uint64_t rev;
	int64_t ts;
	int rc;

	if ((rc = log_at(st, p, &rev, &ts)) <= 0)
		return rc;
	return ts < cutoff;
}

/* The last revision older than cutoff in [head, hi): aged(head) holds. Gallops from the
 * head (most commits drop a few rows), then bisects. Returns it, or 0 on -EIO in *err. */
static uint64_t
log_age_cut(struct store *st, uint64_t head, uint64_t hi, int64_t cutoff, int *err)
{
	uint64_t lo = head, step = 1, p;
	bool galloping = true;
	int rc;

	while (hi - lo > 1) {
		p = galloping && step < hi - lo ? lo + step : lo + (hi - lo) / 2;
		if ((rc = log_aged(st, p, cutoff)) < 0) {
			*err = rc;
			return 0;
		}
		if (rc) {
			lo = p;
			if (galloping)
				step *= 2;
		} else {
			hi = p;
			galloping = false;
		}
	}
	return lo;
}

int
store_changes_prune(struct store *st, uint64_t upto_revision, int64_t older_than_ms)
{
	sqlite3_stmt *drop = st->log_stmt[LOG_DROP];
	uint64_t head, last, cut = upto_revision, aged;
	int64_t ts;
	int rc, err = 0;

	if (!store_in_tx(st, "prune changes"))
		return -EINVAL;
	if ((rc = log_at(st, 0, &head, &ts)) <= 0)
		return rc;                    /* an empty log, or -EIO */
	/* the highest revision this call may drop: revisions are one row each, so this bounds
	 * the rows (a gap would only make it fewer) */
	last = head + st->log_tx_rows + STORE_LOG_PRUNE_EXTRA - 1;
	if (ts < older_than_ms) {
		aged = log_age_cut(st, head, last + 1, older_than_ms, &err);
		if (err != 0)
			return err;
		if (aged > cut)
			cut = aged;
	}
	if (cut > last)
		cut = last;
	if (cut < head)
		return 0;
	if (sqlite3_bind_int64(drop, 1, (sqlite3_int64)cut) != SQLITE_OK ||
	    store_stmt_run(st, drop, log_stmt_name[LOG_DROP]) != 0)
		return -EIO;
	return 0;
}

uint64_t
store_log_floor(struct store *st)
{
	uint64_t head;
	int64_t ts;

	if (st->shared != NULL)
		return store_shared_log_floor(st->shared);
	/* Revisions are logged one row each, so the log covers (head - 1, revision]. */
	if (log_at(st, 0, &head, &ts) == 1)
		return head - 1;
	return st->revision;
}

int
store_log_foreach(struct store *st,
    int (*fn)(const struct store_change *c, int64_t ts_ms, void *arg), void *arg)
{
	sqlite3_stmt *stmt = NULL;
	struct store_change c;
	int rc, ret = 0;

	/* prepared per call: a copy reads the log once */
	if (sqlite3_prepare_v2(st->db, "SELECT revision, key, network, removed, ts_ms FROM "
	    "changes ORDER BY revision", -1, &stmt, NULL) != SQLITE_OK) {
		log_warnx("store %s: read the change log: %s", st->path, sqlite3_errmsg(st->db));
		return -EIO;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const void *key = sqlite3_column_blob(stmt, 1);
		if (key == NULL || sqlite3_column_bytes(stmt, 1) != WG_KEY_LEN ||
		    !store_column_text(stmt, 2, c.network, sizeof(c.network))) {
			log_warnx("store %s: read the change log: revision %lld: a bad row",
			    st->path, (long long)sqlite3_column_int64(stmt, 0));
			ret = -EIO;
			break;
		}
		c.revision = (uint64_t)sqlite3_column_int64(stmt, 0);
		memcpy(c.key, key, WG_KEY_LEN);
		c.removed = sqlite3_column_int(stmt, 3) != 0;
		if ((ret = fn(&c, sqlite3_column_int64(stmt, 4), arg)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE) {
		log_warnx("store %s: read the change log: %s", st->path, sqlite3_errmsg(st->db));
		ret = -EIO;
	}
	sqlite3_finalize(stmt);
	return ret;
}
