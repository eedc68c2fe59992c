/* Link health (issue 16) in table link_health: the latest report of each host, one row per
 * peer it manages, replaced whole per reporter. A report is no peer change (it bumps no
 * revision and logs nothing), so each call is a small transaction of its own, like the join
 * requests' (store_join.c); statements are prepared per call: a report comes at most every
 * few seconds per host. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rpc/log.h"
#include "server/store_impl.h"

#define LINK_COLUMNS "reporter_key, peer_key, path, endpoint, last_handshake_ms, rx_bytes, " \
    "tx_bytes, down_reason, reported_ms"

static int
prep(struct store *st, const char *sql, sqlite3_stmt **stmt)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) != SQLITE_OK) {
		log_warnx("store %s: %s: %s", st->path, sql, sqlite3_errmsg(st->db));
		return -EIO;
	}
	return 0;
}

static int
begin(struct store *st, const char *what)
{
	if (!sqlite3_get_autocommit(st->db)) {
		log_warnx("store %s: %s inside another transaction", st->path, what);
		return -EINVAL;
	}
	return store_stmt_run(st, st->stmt[STMT_BEGIN], "begin");
}

static int
end(struct store *st, int ret)
{
	if (ret == 0 && store_stmt_run(st, st->stmt[STMT_COMMIT], "commit") == 0)
		return 0;
	store_rollback(st);
	return ret != 0 ? ret : -EIO;
}

static bool
text_ok(const char *s, size_t max)
{
	return s != NULL && strnlen(s, max + 1) <= max;
}

int
store_links_replace(struct store *st, const uint8_t reporter[WG_KEY_LEN],
    const struct store_link *v, size_t n)
{
	sqlite3_stmt *del = NULL, *put = NULL;
	int ret;

	for (size_t i = 0; i < n; i++)
		if (!text_ok(v[i].path, STORE_LINK_PATH_MAX) ||
		    !text_ok(v[i].endpoint, STORE_LINK_EP_MAX) ||
		    !text_ok(v[i].down_reason, STORE_LINK_REASON_MAX))
			return -EINVAL;
	if (st->shared != NULL)
		return store_shared_links_replace(st->shared, reporter, v, n);
	if ((ret = begin(st, "replace link health")) != 0)
		return ret;
	if ((ret = prep(st, "DELETE FROM link_health WHERE reporter_key = ?1", &del)) != 0 ||
	    (ret = prep(st, "INSERT OR REPLACE INTO link_health (" LINK_COLUMNS ") VALUES "
	    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", &put)) != 0)
		goto out;
	sqlite3_bind_blob(del, 1, reporter, WG_KEY_LEN, SQLITE_STATIC);
	if ((ret = store_stmt_run(st, del, "drop link health")) != 0)
		goto out;
	for (size_t i = 0; i < n && ret == 0; i++) {
		sqlite3_bind_blob(put, 1, reporter, WG_KEY_LEN, SQLITE_STATIC);
		sqlite3_bind_blob(put, 2, v[i].peer, WG_KEY_LEN, SQLITE_STATIC);
		sqlite3_bind_text(put, 3, v[i].path, -1, SQLITE_STATIC);
		sqlite3_bind_text(put, 4, v[i].endpoint, -1, SQLITE_STATIC);
		sqlite3_bind_int64(put, 5, v[i].last_handshake_ms);
		sqlite3_bind_int64(put, 6, (sqlite3_int64)v[i].rx_bytes);
		sqlite3_bind_int64(put, 7, (sqlite3_int64)v[i].tx_bytes);
		sqlite3_bind_text(put, 8, v[i].down_reason, -1, SQLITE_STATIC);
		sqlite3_bind_int64(put, 9, v[i].reported_ms);
		ret = store_stmt_run(st, put, "put link health");
	}
out:
	sqlite3_finalize(del);
	sqlite3_finalize(put);
	return end(st, ret);
}

int
store_links_drop(struct store *st, const uint8_t key[WG_KEY_LEN])
{
	sqlite3_stmt *del = NULL;
	int ret;

	if (st->shared != NULL)
		return store_shared_links_drop(st->shared, key);
	if ((ret = begin(st, "drop link health")) != 0)
		return ret;
	if ((ret = prep(st, "DELETE FROM link_health WHERE reporter_key = ?1 OR peer_key = ?1",
	    &del)) == 0) {
		sqlite3_bind_blob(del, 1, key, WG_KEY_LEN, SQLITE_STATIC);
		ret = store_stmt_run(st, del, "drop link health");
	}
	sqlite3_finalize(del);
	return end(st, ret);
}

int
store_links_foreach(struct store *st, int (*fn)(const struct store_link *l, void *arg),
    void *arg)
{
	sqlite3_stmt *q = NULL;
	int ret, rc;

	if (st->shared != NULL)
		return store_shared_links_foreach(st->shared, fn, arg);
	if ((ret = prep(st, "SELECT " LINK_COLUMNS " FROM link_health "
	    "ORDER BY reporter_key, peer_key", &q)) != 0)
		return ret;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_link l;

		memset(&l, 0, sizeof(l));
		if (sqlite3_column_bytes(q, 0) != WG_KEY_LEN ||
		    sqlite3_column_bytes(q, 1) != WG_KEY_LEN ||
		    !store_column_text(q, 2, l.path, sizeof(l.path)) ||
		    !store_column_text(q, 3, l.endpoint, sizeof(l.endpoint)) ||
		    !store_column_text(q, 7, l.down_reason, sizeof(l.down_reason))) {
			log_warnx("store %s: a bad link_health row; skipped", st->path);
			continue;
		}
		memcpy(l.reporter, sqlite3_column_blob(q, 0), WG_KEY_LEN);
		memcpy(l.peer, sqlite3_column_blob(q, 1), WG_KEY_LEN);
		l.last_handshake_ms = sqlite3_column_int64(q, 4);
		l.rx_bytes = (uint64_t)sqlite3_column_int64(q, 5);
		l.tx_bytes = (uint64_t)sqlite3_column_int64(q, 6);
		l.reported_ms = sqlite3_column_int64(q, 8);
		if ((ret = fn(&l, arg)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE) {
		log_warnx("store %s: read link health: %s", st->path, sqlite3_errmsg(st->db));
		ret = -EIO;
	}
	sqlite3_finalize(q);
	return ret;
}

int
store_link_copy(struct store *st, const struct store_link *l)
{
	sqlite3_stmt *put = NULL;
	int ret;

	if (!text_ok(l->path, STORE_LINK_PATH_MAX) || !text_ok(l->endpoint, STORE_LINK_EP_MAX) ||
	    !text_ok(l->down_reason, STORE_LINK_REASON_MAX) || !store_in_tx(st, "copy link row"))
		return -EINVAL;
	if ((ret = prep(st, "INSERT OR REPLACE INTO link_health (" LINK_COLUMNS ") VALUES "
	    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", &put)) != 0)
		return ret;
	sqlite3_bind_blob(put, 1, l->reporter, WG_KEY_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(put, 2, l->peer, WG_KEY_LEN, SQLITE_STATIC);
	sqlite3_bind_text(put, 3, l->path, -1, SQLITE_STATIC);
	sqlite3_bind_text(put, 4, l->endpoint, -1, SQLITE_STATIC);
	sqlite3_bind_int64(put, 5, l->last_handshake_ms);
	sqlite3_bind_int64(put, 6, (sqlite3_int64)l->rx_bytes);
	sqlite3_bind_int64(put, 7, (sqlite3_int64)l->tx_bytes);
	sqlite3_bind_text(put, 8, l->down_reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(put, 9, l->reported_ms);
	ret = store_stmt_run(st, put, "copy link row");
	sqlite3_finalize(put);
	return ret;
}
