/* The join requests (issue 13) in table join_requests, so that a restart keeps them: each
 * change is one small transaction of its own, written on the event loop between two group
 * commits (this connection is the only writer, and no batch stays open across a loop
 * turn). meta's join_next_id only grows, so an id is never given twice, even after its
 * row expired. Addresses are stored as store_peer.c's canonical text. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "rpc/log.h"
#include "server/store_impl.h"

#define STORE_JOIN_DER_MAX (64 * 1024)

#define JOIN_COLUMNS "id, name, network, key, csr_sha256, source, created_s, state, csr, " \
    "reserved_ips, certificate, ca, reason, renewal, current_certificate"

static const char *const join_sql[JOIN_STMT_COUNT] = {
	[JOIN_PUT] = "INSERT OR REPLACE INTO join_requests (" JOIN_COLUMNS ") "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
	[JOIN_NEXT_SET] = "UPDATE meta SET value = max(value, ?1) WHERE name = 'join_next_id'",
	[JOIN_NEXT_GET] = "SELECT value FROM meta WHERE name = 'join_next_id'",
	[JOIN_DELETE] = "DELETE FROM join_requests WHERE id = ?1",
	[JOIN_EXPIRE] = "DELETE FROM join_requests WHERE created_s <= ?1",
	[JOIN_FOREACH] = "SELECT " JOIN_COLUMNS " FROM join_requests ORDER BY id",
};

static const char *const join_stmt_name[JOIN_STMT_COUNT] = {
	[JOIN_PUT] = "put join request",
	[JOIN_NEXT_SET] = "raise the next join id",
	[JOIN_NEXT_GET] = "read the next join id",
	[JOIN_DELETE] = "delete join request",
	[JOIN_EXPIRE] = "expire join requests",
	[JOIN_FOREACH] = "read join requests",
};

int
store_join_open(struct store *st, char *err, size_t errlen)
{
	for (size_t i = 0; i < JOIN_STMT_COUNT; i++) {
		if (sqlite3_prepare_v3(st->db, join_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		    &st->join_stmt[i], NULL) != SQLITE_OK) {
			err_set(err, errlen, "%s: %s: %s", st->path, join_sql[i],
			    sqlite3_errmsg(st->db));
			return -EIO;
		}
	}
	return 0;
}

void
store_join_close(struct store *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < JOIN_STMT_COUNT; i++) {
		sqlite3_finalize(st->join_stmt[i]);
		st->join_stmt[i] = NULL;
	}
}

/* BEGIN IMMEDIATE, refusing to nest into a group commit. */
static int
join_begin(struct store *st, const char *what)
{
	if (!sqlite3_get_autocommit(st->db)) {
		log_warnx("store %s: %s inside another transaction", st->path, what);
		return -EINVAL;
	}
	return store_stmt_run(st, st->stmt[STMT_BEGIN], "begin");
}

/* Commits (ret 0) or rolls back; returns the outcome. */
static int
join_end(struct store *st, int ret)
{
	if (ret == 0 && store_stmt_run(st, st->stmt[STMT_COMMIT], "commit") == 0) {
		if (st->failing)
			log_info("store %s: writes succeed again (after %lu failed statements)",
			    st->path, st->failures);
		st->failing = false;
		st->failures = 0;
		return 0;
	}
	store_rollback(st);
	return ret != 0 ? ret : -EIO;
}

static const char *
join_invalid(const struct store_join *j)
{
	if (j->id == 0 || j->id > INT64_MAX - 1)
		return "bad id";
	if (strnlen(j->name, sizeof(j->name)) == sizeof(j->name) ||
	    strnlen(j->network, sizeof(j->network)) == sizeof(j->network) ||
	    strnlen(j->reason, sizeof(j->reason)) == sizeof(j->reason))
		return "name, network or reason not terminated";
	if (j->state < 0 || j->state > 2)
		return "bad state";
	if (j->source.family != AF_INET && j->source.family != AF_INET6)
		return "bad source address";
	if (j->n_ips > CERT_TUNNEL_MAX)
		return "too many reserved addresses";
	if (j->csr == NULL || j->csr_len == 0 || j->csr_len > STORE_JOIN_DER_MAX ||
	    j->cert_len > STORE_JOIN_DER_MAX || j->ca_len > STORE_JOIN_DER_MAX ||
	    (j->cert == NULL && j->cert_len != 0) || (j->ca == NULL && j->ca_len != 0))
		return "bad CSR, certificate or CA length";
	if (j->renewal != (j->current != NULL && j->current_len > 0) ||
	    j->current_len > STORE_JOIN_DER_MAX)
		return "a renewal without its current certificate, or one with it";
	return NULL;
}

static int
bind_der(sqlite3_stmt *stmt, int i, const uint8_t *der, size_t len)
{
	return len > 0 ? sqlite3_bind_blob(stmt, i, der, (int)len, SQLITE_STATIC) :
	    sqlite3_bind_null(stmt, i);
}

int
store_join_write(struct store *st, const struct store_join *j)
{
	sqlite3_stmt *stmt = st->join_stmt[JOIN_PUT], *next = st->join_stmt[JOIN_NEXT_SET];
	char ips[STORE_LIST_MAX], source[NETADDR_STRLEN];
	const char *why;
	int rc, ret;

	if ((why = join_invalid(j)) != NULL) {
		log_warnx("store %s: put join request %llu: %s", st->path,
		    (unsigned long long)j->id, why);
		return -EINVAL;
	}
	if (!store_in_tx(st, "put join request"))
		return -EINVAL;
	store_list_format(j->ips, j->n_ips, ips);
	netaddr_format(&j->source, false, source);
	if ((rc = sqlite3_bind_int64(stmt, 1, (sqlite3_int64)j->id)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(stmt, 2, j->name, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(stmt, 3, j->network, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_blob(stmt, 4, j->key, WG_KEY_LEN, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_blob(stmt, 5, j->csr_sha256, 32, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(stmt, 6, source, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(stmt, 7, j->created_s)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int(stmt, 8, j->state)) != SQLITE_OK ||
	    (rc = bind_der(stmt, 9, j->csr, j->csr_len)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(stmt, 10, ips, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = bind_der(stmt, 11, j->cert, j->cert_len)) != SQLITE_OK ||
	    (rc = bind_der(stmt, 12, j->ca, j->ca_len)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(stmt, 13, j->reason, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int(stmt, 14, j->renewal ? 1 : 0)) != SQLITE_OK ||
	    (rc = bind_der(stmt, 15, j->current, j->current_len)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(next, 1, (sqlite3_int64)j->id + 1)) != SQLITE_OK) {
		sqlite3_clear_bindings(stmt);
		sqlite3_clear_bindings(next);
		log_warnx("store %s: put join request %llu: %s", st->path,
		    (unsigned long long)j->id, sqlite3_errstr(rc));
		return -EIO;
	}
	ret = store_stmt_run(st, stmt, join_stmt_name[JOIN_PUT]);
	if (ret == 0)
		ret = store_stmt_run(st, next, join_stmt_name[JOIN_NEXT_SET]);
	else
		sqlite3_clear_bindings(next);
	return ret;
}

int
store_join_put(struct store *st, const struct store_join *j)
{
	const char *why;
	int ret;

	if ((why = join_invalid(j)) != NULL) {
		log_warnx("store %s: put join request %llu: %s", st->path,
		    (unsigned long long)j->id, why);
		return -EINVAL;
	}
	if (st->shared != NULL)
		return store_enroll_join_put(st, j);
	if ((ret = join_begin(st, "put join request")) != 0)
		return ret;
	return join_end(st, store_join_write(st, j));
}

/* Runs which (a DELETE) with ?1 = v in its own transaction. */
static int
join_delete_run(struct store *st, enum store_join_stmt which, int64_t v)
{
	int ret;

	if ((ret = join_begin(st, join_stmt_name[which])) != 0)
		return ret;
	if (sqlite3_bind_int64(st->join_stmt[which], 1, v) != SQLITE_OK)
		return join_end(st, -EIO);
	return join_end(st, store_stmt_run(st, st->join_stmt[which], join_stmt_name[which]));
}

int
store_join_delete(struct store *st, uint64_t id)
{
	if (st->shared != NULL)
		return store_enroll_join_delete(st, id);
	return join_delete_run(st, JOIN_DELETE, id > INT64_MAX ? -1 : (int64_t)id);
}

int
store_joins_expire(struct store *st, int64_t created_s)
{
	if (st->shared != NULL)
		return store_enroll_joins_expire(st, created_s);
	return join_delete_run(st, JOIN_EXPIRE, created_s);
}

/* Column i as DER into *der (NULL, 0 for NULL); false past the bound. */
static bool
read_der(sqlite3_stmt *stmt, int i, const uint8_t **der, size_t *len)
{
	int n = sqlite3_column_bytes(stmt, i);

	*der = sqlite3_column_blob(stmt, i);
	*len = *der != NULL && n > 0 ? (size_t)n : 0;
	if (*len == 0)
		*der = NULL;
	return *len <= STORE_JOIN_DER_MAX;
}

/* The current row into j; j's pointers point into SQLite's row until the next step. */
static const char *
join_read(sqlite3_stmt *stmt, struct store_join *j)
{
	const void *blob;
	char source[NETADDR_STRLEN];
	sqlite3_int64 id;

	memset(j, 0, sizeof(*j));
	id = sqlite3_column_int64(stmt, 0);
	if (id <= 0)
		return "bad id";
	j->id = (uint64_t)id;
	if (!store_column_text(stmt, 1, j->name, sizeof(j->name)) ||
	    !store_column_text(stmt, 2, j->network, sizeof(j->network)))
		return "name or network too long";
	if ((blob = sqlite3_column_blob(stmt, 3)) == NULL ||
	    sqlite3_column_bytes(stmt, 3) != WG_KEY_LEN)
		return "bad key";
	memcpy(j->key, blob, WG_KEY_LEN);
	if ((blob = sqlite3_column_blob(stmt, 4)) == NULL || sqlite3_column_bytes(stmt, 4) != 32)
		return "bad CSR hash";
	memcpy(j->csr_sha256, blob, 32);
	if (!store_column_text(stmt, 5, source, sizeof(source)) ||
	    !netaddr_parse(source, false, &j->source, NULL, 0))
		return "bad source address";
	j->created_s = sqlite3_column_int64(stmt, 6);
	j->state = sqlite3_column_int(stmt, 7);
	if (j->state < 0 || j->state > 2)
		return "bad state";
	if (!read_der(stmt, 8, &j->csr, &j->csr_len) || j->csr == NULL ||
	    !read_der(stmt, 10, &j->cert, &j->cert_len) || !read_der(stmt, 11, &j->ca, &j->ca_len))
		return "bad CSR, certificate or CA";
	if (!store_list_parse((const char *)sqlite3_column_text(stmt, 9), j->ips,
	    CERT_TUNNEL_MAX, &j->n_ips))
		return "bad reserved addresses";
	if (!store_column_text(stmt, 12, j->reason, sizeof(j->reason)))
		return "reason too long";
	j->renewal = sqlite3_column_int(stmt, 13) != 0;
	if (!read_der(stmt, 14, &j->current, &j->current_len) ||
	    j->renewal != (j->current != NULL))
		return "a renewal without its current certificate";
	return NULL;
}

int
store_joins_foreach(struct store *st, int (*fn)(const struct store_join *j, void *arg),
    void *arg)
{
	sqlite3_stmt *stmt = st->join_stmt[JOIN_FOREACH];
	struct store_join j;
	const char *why;
	int rc, ret = 0;

	if (st->shared != NULL)
		return store_enroll_joins_foreach(st, fn, arg);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((why = join_read(stmt, &j)) != NULL) {
			log_warnx("store %s: join request %lld: %s", st->path,
			    (long long)sqlite3_column_int64(stmt, 0), why);
			ret = -EIO;
			break;
		}
		if ((ret = fn(&j, arg)) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_warnx("store %s: %s: %s", st->path, join_stmt_name[JOIN_FOREACH],
		    sqlite3_errmsg(st->db));
		ret = -EIO;
	}
	sqlite3_reset(stmt);
	return ret;
}

int
store_join_next_id(struct store *st, uint64_t *next)
{
	sqlite3_stmt *stmt = st->join_stmt[JOIN_NEXT_GET];
	int rc;
	sqlite3_int64 v;

	if (st->shared != NULL)
		return store_enroll_join_next_id(st, next);
	rc = sqlite3_step(stmt);
	v = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
	sqlite3_reset(stmt);
	if (rc != SQLITE_ROW || v <= 0) {
		log_warnx("store %s: %s: %s", st->path, join_stmt_name[JOIN_NEXT_GET],
		    rc == SQLITE_ROW ? "not positive" : rc == SQLITE_DONE ? "missing row" :
		    sqlite3_errmsg(st->db));
		return -EIO;
	}
	*next = (uint64_t)v;
	return 0;
}

int
store_join_copy(struct store *st, const struct store_join *j)
{
	return store_join_write(st, j);
}

int
store_join_next_id_raise(struct store *st, uint64_t next)
{
	sqlite3_stmt *stmt = st->join_stmt[JOIN_NEXT_SET];

	if (next == 0 || next > INT64_MAX || !store_in_tx(st, "raise the next join id"))
		return -EINVAL;
	if (sqlite3_bind_int64(stmt, 1, (sqlite3_int64)next) != SQLITE_OK) {
		sqlite3_clear_bindings(stmt);
		return -EIO;
	}
	return store_stmt_run(st, stmt, join_stmt_name[JOIN_NEXT_SET]);
}
