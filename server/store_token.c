/* The join tokens (issue 13) in table join_tokens: only each token's SHA-256, what is left
 * of it (uses, expiry), the groups it gives and the admin who made it. Each call is one
 * small transaction of its own, like the join requests' (store_join.c); store_token_use
 * takes a use and writes the approval it pays for in the same one, so a crash between the
 * two can neither approve without a use nor spend a use on nothing. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/policy.h"
#include "rpc/log.h"
#include "server/store_impl.h"

#define TOKEN_COLUMNS "id, network, sha256, uses_left, expires_s, groups, created_s, " \
    "admin_name, admin_serial"
#define TOKEN_GROUPS_TEXT_MAX (CERT_GROUPS_MAX * (CERT_GROUP_MAX + 1))

static const char *const token_sql[TOKEN_STMT_COUNT] = {
	[TOKEN_ADD] = "INSERT INTO join_tokens (network, sha256, uses_left, expires_s, groups, "
	    "created_s, admin_name, admin_serial) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[TOKEN_GET] = "SELECT " TOKEN_COLUMNS " FROM join_tokens WHERE sha256 = ?1",
	[TOKEN_USE] = "UPDATE join_tokens SET uses_left = uses_left - 1 "
	    "WHERE id = ?1 AND uses_left > 0 AND expires_s > ?2",
	[TOKEN_EXPIRE] = "DELETE FROM join_tokens WHERE expires_s <= ?1",
};

static const char *const token_stmt_name[TOKEN_STMT_COUNT] = {
	[TOKEN_ADD] = "add join token",
	[TOKEN_GET] = "read join token",
	[TOKEN_USE] = "take a use of a join token",
	[TOKEN_EXPIRE] = "expire join tokens",
};

int
store_token_open(struct store *st, char *err, size_t errlen)
{
	for (size_t i = 0; i < TOKEN_STMT_COUNT; i++) {
		if (sqlite3_prepare_v3(st->db, token_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		    &st->token_stmt[i], NULL) != SQLITE_OK) {
			err_set(err, errlen, "%s: %s: %s", st->path, token_sql[i],
			    sqlite3_errmsg(st->db));
			return -EIO;
		}
	}
	return 0;
}

void
store_token_close(struct store *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < TOKEN_STMT_COUNT; i++) {
		sqlite3_finalize(st->token_stmt[i]);
		st->token_stmt[i] = NULL;
	}
}

/* BEGIN IMMEDIATE, refusing to nest into a group commit. */
static int
token_begin(struct store *st, enum store_token_stmt which)
{
	if (!sqlite3_get_autocommit(st->db)) {
		log_warnx("store %s: %s inside another transaction", st->path,
		    token_stmt_name[which]);
		return -EINVAL;
	}
	return store_stmt_run(st, st->stmt[STMT_BEGIN], "begin");
}

/* Commits (ret 0) or rolls back; returns the outcome. */
static int
token_end(struct store *st, int ret)
{
	if (ret == 0 && store_stmt_run(st, st->stmt[STMT_COMMIT], "commit") == 0)
		return 0;
	store_rollback(st);
	return ret != 0 ? ret : -EIO;
}

static const char *
token_invalid(const struct store_token *t)
{
	if (strnlen(t->network, sizeof(t->network)) == sizeof(t->network) ||
	    strnlen(t->admin_name, sizeof(t->admin_name)) == sizeof(t->admin_name) ||
	    strnlen(t->admin_serial, sizeof(t->admin_serial)) == sizeof(t->admin_serial))
		return "network or admin not terminated";
	if (t->network[0] == '\0')
		return "no network";
	if (t->n_groups > CERT_GROUPS_MAX)
		return "too many groups";
	for (size_t i = 0; i < t->n_groups; i++)
		if (!policy_group_name_ok(t->groups[i], strnlen(t->groups[i],
		    sizeof(t->groups[i]))))
			return "bad group name";
	return NULL;
}

/* "a,b,c" (group names have no comma) into buf, TOKEN_GROUPS_TEXT_MAX bytes. */
static void
groups_format(const struct store_token *t, char *buf)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < t->n_groups; i++)
		o += (size_t)snprintf(buf + o, TOKEN_GROUPS_TEXT_MAX - o, "%s%s", i ? "," : "",
		    t->groups[i]);
}

static bool
groups_parse(const char *text, struct store_token *t)
{
	const char *p = text;

	t->n_groups = 0;
	while (p != NULL && *p != '\0') {
		const char *c = strchr(p, ',');
		size_t n = c != NULL ? (size_t)(c - p) : strlen(p);
		if (t->n_groups == CERT_GROUPS_MAX || !policy_group_name_ok(p, n))
			return false;
		memcpy(t->groups[t->n_groups], p, n);
		t->groups[t->n_groups++][n] = '\0';
		p = c != NULL ? c + 1 : NULL;
	}
	return true;
}

int
store_token_add(struct store *st, struct store_token *t)
{
	sqlite3_stmt *stmt = st->token_stmt[TOKEN_ADD];
	char groups[TOKEN_GROUPS_TEXT_MAX];
	const char *why;
	int rc, ret;

	if ((why = token_invalid(t)) != NULL) {
		log_warnx("store %s: add join token: %s", st->path, why);
		return -EINVAL;
	}
	if (st->shared != NULL)
		return store_enroll_token_add(st, t);
	groups_format(t, groups);
	if ((ret = token_begin(st, TOKEN_ADD)) != 0)
		return ret;
	if ((rc = sqlite3_bind_text(stmt, 1, t->network, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_blob(stmt, 2, t->sha256, 32, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(stmt, 3, t->uses_left)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(stmt, 4, t->expires_s)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(stmt, 5, groups, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(stmt, 6, t->created_s)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(stmt, 7, t->admin_name, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(stmt, 8, t->admin_serial, -1, SQLITE_STATIC)) != SQLITE_OK) {
		sqlite3_clear_bindings(stmt);
		log_warnx("store %s: add join token: %s", st->path, sqlite3_errstr(rc));
		return token_end(st, -EIO);
	}
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if (rc == SQLITE_CONSTRAINT_UNIQUE)
		return token_end(st, -EEXIST);
	if (rc != SQLITE_DONE) {
		log_warnx("store %s: add join token: %s", st->path, sqlite3_errmsg(st->db));
		return token_end(st, -EIO);
	}
	t->id = (uint64_t)sqlite3_last_insert_rowid(st->db);
	return token_end(st, 0);
}

/* The current row into t. */
static const char *
token_read(sqlite3_stmt *stmt, struct store_token *t)
{
	const void *blob;
	char groups[TOKEN_GROUPS_TEXT_MAX];
	sqlite3_int64 v;

	memset(t, 0, sizeof(*t));
	if ((v = sqlite3_column_int64(stmt, 0)) <= 0)
		return "bad id";
	t->id = (uint64_t)v;
	if (!store_column_text(stmt, 1, t->network, sizeof(t->network)))
		return "network too long";
	if ((blob = sqlite3_column_blob(stmt, 2)) == NULL || sqlite3_column_bytes(stmt, 2) != 32)
		return "bad hash";
	memcpy(t->sha256, blob, 32);
	if ((v = sqlite3_column_int64(stmt, 3)) < 0 || v > UINT32_MAX)
		return "bad uses";
	t->uses_left = (uint32_t)v;
	t->expires_s = sqlite3_column_int64(stmt, 4);
	if (!store_column_text(stmt, 5, groups, sizeof(groups)) || !groups_parse(groups, t))
		return "bad groups";
	t->created_s = sqlite3_column_int64(stmt, 6);
	if (!store_column_text(stmt, 7, t->admin_name, sizeof(t->admin_name)) ||
	    !store_column_text(stmt, 8, t->admin_serial, sizeof(t->admin_serial)))
		return "admin too long";
	return NULL;
}

int
store_token_get(struct store *st, const uint8_t sha256[32], struct store_token *out)
{
	sqlite3_stmt *stmt = st->token_stmt[TOKEN_GET];
	const char *why = NULL;
	int rc, ret;

	if (st->shared != NULL)
		return store_enroll_token_get(st, sha256, out);
	if (sqlite3_bind_blob(stmt, 1, sha256, 32, SQLITE_STATIC) != SQLITE_OK) {
		log_warnx("store %s: %s: %s", st->path, token_stmt_name[TOKEN_GET],
		    sqlite3_errmsg(st->db));
		return -EIO;
	}
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		ret = (why = token_read(stmt, out)) == NULL ? 0 : -EIO;
	else if (rc == SQLITE_DONE)
		ret = -ENOENT;
	else
		ret = -EIO;
	if (why != NULL)
		log_warnx("store %s: join token %lld: %s", st->path,
		    (long long)sqlite3_column_int64(stmt, 0), why);
	else if (ret == -EIO)
		log_warnx("store %s: %s: %s", st->path, token_stmt_name[TOKEN_GET],
		    sqlite3_errmsg(st->db));
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return ret;
}

int
store_token_use(struct store *st, uint64_t id, int64_t now, const struct store_join *j)
{
	sqlite3_stmt *stmt = st->token_stmt[TOKEN_USE];
	int ret;

	if (id == 0 || id > INT64_MAX)
		return -EINVAL;
	if (st->shared != NULL)
		return store_enroll_token_use(st, id, now, j);
	if ((ret = token_begin(st, TOKEN_USE)) != 0)
		return ret;
	if (sqlite3_bind_int64(stmt, 1, (sqlite3_int64)id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, now) != SQLITE_OK) {
		sqlite3_clear_bindings(stmt);
		return token_end(st, -EIO);
	}
	if ((ret = store_stmt_run(st, stmt, token_stmt_name[TOKEN_USE])) != 0)
		return token_end(st, ret);
	if (sqlite3_changes(st->db) != 1)
		return token_end(st, -ESTALE);
	return token_end(st, store_join_write(st, j));
}

int
store_tokens_expire(struct store *st, int64_t expires_s)
{
	sqlite3_stmt *stmt = st->token_stmt[TOKEN_EXPIRE];
	int ret;

	if (st->shared != NULL)
		return store_enroll_tokens_expire(st, expires_s);
	if ((ret = token_begin(st, TOKEN_EXPIRE)) != 0)
		return ret;
	if (sqlite3_bind_int64(stmt, 1, expires_s) != SQLITE_OK)
		return token_end(st, -EIO);
	return token_end(st, store_stmt_run(st, stmt, token_stmt_name[TOKEN_EXPIRE]));
}

int
store_tokens_foreach(struct store *st, int (*fn)(const struct store_token *t, void *arg),
    void *arg)
{
	sqlite3_stmt *stmt = NULL;
	struct store_token t;
	const char *why;
	int rc, ret = 0;

	if (sqlite3_prepare_v2(st->db, "SELECT " TOKEN_COLUMNS " FROM join_tokens ORDER BY id",
	    -1, &stmt, NULL) != SQLITE_OK) {
		log_warnx("store %s: read join tokens: %s", st->path, sqlite3_errmsg(st->db));
		return -EIO;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((why = token_read(stmt, &t)) != NULL) {
			log_warnx("store %s: join token %lld: %s", st->path,
			    (long long)sqlite3_column_int64(stmt, 0), why);
			ret = -EIO;
			break;
		}
		if ((ret = fn(&t, arg)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE) {
		log_warnx("store %s: read join tokens: %s", st->path, sqlite3_errmsg(st->db));
		ret = -EIO;
	}
	sqlite3_finalize(stmt);
	return ret;
}

int
store_token_copy(struct store *st, const struct store_token *t)
{
	sqlite3_stmt *stmt = NULL;
	char groups[TOKEN_GROUPS_TEXT_MAX];
	const char *why;
	int rc;

	if ((why = token_invalid(t)) != NULL || t->id == 0 || t->id > INT64_MAX) {
		log_warnx("store %s: copy join token %llu: %s", st->path,
		    (unsigned long long)t->id, why != NULL ? why : "bad id");
		return -EINVAL;
	}
	if (!store_in_tx(st, "copy join token"))
		return -EINVAL;
	groups_format(t, groups);
	if (sqlite3_prepare_v2(st->db, "INSERT INTO join_tokens (" TOKEN_COLUMNS ") VALUES "
	    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", -1, &stmt, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)t->id) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 2, t->network, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_blob(stmt, 3, t->sha256, 32, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 4, t->uses_left) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 5, t->expires_s) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 6, groups, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 7, t->created_s) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 8, t->admin_name, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(stmt, 9, t->admin_serial, -1, SQLITE_STATIC) != SQLITE_OK) {
		log_warnx("store %s: copy join token: %s", st->path, sqlite3_errmsg(st->db));
		sqlite3_finalize(stmt);
		return -EIO;
	}
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		log_warnx("store %s: copy join token %llu: %s", st->path,
		    (unsigned long long)t->id, sqlite3_errmsg(st->db));
	sqlite3_finalize(stmt);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return -EEXIST;
	return rc == SQLITE_DONE ? 0 : -EIO;
}
