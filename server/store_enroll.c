/* Join requests and tokens on a shared store (store.h's store_enroll_begin): a copy of
 * the database's, read whole when its enrolment revision moved, which the store_join_* and
 * store_token_* calls read and change between a begin and a commit; their changes are
 * journalled as statements and written at the commit in one transaction that steps the
 * revision from the one the copy is of, so that a decision taken from a state another
 * server changed meanwhile is refused (-EAGAIN) and taken again from the new one. One
 * bracket of a server is open at a time; the others wait in line. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/log.h"
#include "server/pgrows.h"
#include "server/store_impl.h"
#include "server/store_pg.h"

struct waiter {
	struct waiter *next;
	void (*fn)(void *arg, bool changed, int err);
	void *arg;
};

struct store_enroll {
	struct store *st;
	struct store_join *joins;            /* id order; DER owned */
	size_t n_joins, cap_joins;
	struct store_token *tokens;          /* id order */
	size_t n_tokens, cap_tokens;
	uint64_t next_id;
	uint64_t revision;                   /* the database's the copy is of */
	bool valid;                          /* false: read it whole at the next begin */
	bool changed;                        /* loaded since the last bracket ended */
	bool open;
	struct pgrows_stmt *journal;
	size_t n_journal, cap_journal;
	bool journal_failed;                 /* a change could not be journalled (ENOMEM) */
	struct waiter *head, **tail;
	/* the open bracket's begin, until the read answers */
	void (*begin_fn)(void *arg, bool changed, int err);
	void *begin_arg;
	void (*commit_done)(void *arg, int err);
	void *commit_arg;
};

static void
join_free(struct store_join *j)
{
	free((void *)j->csr);
	free((void *)j->cert);
	free((void *)j->ca);
	free((void *)j->current);
	memset(j, 0, sizeof(*j));
}

static const uint8_t *
der_dup(const uint8_t *p, size_t n, bool *oom)
{
	uint8_t *d;

	if (p == NULL || n == 0)
		return NULL;
	if ((d = malloc(n)) == NULL)
		*oom = true;
	else
		memcpy(d, p, n);
	return d;
}

static int
join_dup(const struct store_join *j, struct store_join *out)
{
	bool oom = false;

	*out = *j;
	out->csr = der_dup(j->csr, j->csr_len, &oom);
	out->cert = der_dup(j->cert, j->cert_len, &oom);
	out->ca = der_dup(j->ca, j->ca_len, &oom);
	out->current = der_dup(j->current, j->current_len, &oom);
	if (!out->cert)
		out->cert_len = 0;
	if (!out->ca)
		out->ca_len = 0;
	if (!out->current)
		out->current_len = 0;
	if (oom) {
		join_free(out);
		return -ENOMEM;
	}
	return 0;
}

static void
copy_clear(struct store_enroll *se)
{
	for (size_t i = 0; i < se->n_joins; i++)
		join_free(&se->joins[i]);
	se->n_joins = 0;
	se->n_tokens = 0;
}

static void
journal_clear(struct store_enroll *se)
{
	for (size_t i = 0; i < se->n_journal; i++)
		pgrows_stmt_free(&se->journal[i]);
	se->n_journal = 0;
	se->journal_failed = false;
}

static struct store_enroll *
get(struct store *st)
{
	struct store_enroll *se = st->enroll;

	if (se == NULL && (se = st->enroll = calloc(1, sizeof(*se))) != NULL) {
		se->st = st;
		se->tail = &se->head;
	}
	return se;
}

void
store_enroll_free(struct store *st)
{
	struct store_enroll *se = st->enroll;
	struct waiter *w;

	if (se == NULL)
		return;
	copy_clear(se);
	journal_clear(se);
	while ((w = se->head) != NULL) {
		se->head = w->next;
		free(w);
	}
	free(se->joins);
	free(se->tokens);
	free(se->journal);
	free(se);
	st->enroll = NULL;
}

/* --- the read -------------------------------------------------------------------------- */

static int
grow(void **v, size_t *cap, size_t n, size_t size)
{
	void *p;
	size_t c;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 16;
	if ((p = realloc(*v, c * size)) == NULL)
		return -ENOMEM;
	*v = p;
	*cap = c;
	return 0;
}

static void
read_reset(void *arg)
{
	copy_clear(arg);
}

static void
read_join(void *arg, const struct store_join *j)
{
	struct store_enroll *se = arg;

	if (grow((void **)&se->joins, &se->cap_joins, se->n_joins, sizeof(*se->joins)) == 0 &&
	    join_dup(j, &se->joins[se->n_joins]) == 0)
		se->n_joins++;
	else
		se->journal_failed = true;       /* the copy is short: not valid */
}

static void
read_token(void *arg, const struct store_token *t)
{
	struct store_enroll *se = arg;

	if (grow((void **)&se->tokens, &se->cap_tokens, se->n_tokens, sizeof(*se->tokens)) == 0)
		se->tokens[se->n_tokens++] = *t;
	else
		se->journal_failed = true;
}

static void start_next(struct store_enroll *se);

static void
read_done(void *arg, uint64_t revision, uint64_t next_id, bool loaded, const char *err)
{
	struct store_enroll *se = arg;
	void (*fn)(void *, bool, int) = se->begin_fn;
	void *fnarg = se->begin_arg;
	bool failed = se->journal_failed;

	se->journal_failed = false;
	if (err != NULL || failed) {
		log_warnx("store: join requests and tokens: cannot read them from the database: "
		    "%s", err != NULL ? err : "out of memory");
		copy_clear(se);
		se->valid = false;
		se->open = false;
		fn(fnarg, false, err != NULL ? -ENOTCONN : -ENOMEM);
		start_next(se);
		return;
	}
	if (loaded) {
		se->next_id = next_id;
		se->changed = true;
	}
	se->revision = revision;
	se->valid = true;
	fn(fnarg, se->changed, 0);
}

static const struct store_pg_enroll_read reader = { read_reset, read_join, read_token, read_done };

/* Opens the bracket of the first in line. */
static void
start_next(struct store_enroll *se)
{
	struct waiter *w;
	int e;

	while (!se->open && (w = se->head) != NULL) {
		if ((se->head = w->next) == NULL)
			se->tail = &se->head;
		se->open = true;
		se->begin_fn = w->fn;
		se->begin_arg = w->arg;
		free(w);
		e = store_shared_ready(se->st->shared) ? store_pg_enroll_read(
		    store_shared_pg(se->st->shared), se->valid ? se->revision : UINT64_MAX,
		    &reader, se) : -ENOTCONN;
		if (e != 0) {
			se->open = false;
			se->begin_fn(se->begin_arg, false, e);
		}
	}
}

int
store_enroll_begin(struct store *st, void (*fn)(void *arg, bool changed, int err), void *arg)
{
	struct store_enroll *se;
	struct waiter *w;

	if (st->shared == NULL) {
		fn(arg, false, 0);
		return 0;
	}
	if ((se = get(st)) == NULL || (w = calloc(1, sizeof(*w))) == NULL)
		return -ENOMEM;
	w->fn = fn;
	w->arg = arg;
	*se->tail = w;
	se->tail = &w->next;
	start_next(se);
	return 0;
}

/* --- the commit ------------------------------------------------------------------------ */

static void
end(struct store_enroll *se, int err)
{
	void (*done)(void *, int) = se->commit_done;
	void *arg = se->commit_arg;

	journal_clear(se);
	if (err != 0)
		se->valid = false;               /* the copy holds what did not happen */
	else
		se->changed = false;
	se->open = false;
	done(arg, err);
	start_next(se);
}

static void
committed(void *arg, uint64_t revision, const char *err)
{
	struct store_enroll *se = arg;

	if (err == NULL) {
		se->revision = revision;
		end(se, 0);
		return;
	}
	if (strncmp(err, "[40001]", 7) != 0)
		log_warnx("store: join requests and tokens: the write failed: %s", err);
	end(se, strncmp(err, "[40001]", 7) == 0 ? -EAGAIN : !store_shared_ready(se->st->shared) ?
	    -ENOTCONN : -EIO);
}

int
store_enroll_commit(struct store *st, void (*done)(void *arg, int err), void *arg)
{
	struct store_enroll *se = st->enroll;
	int e;

	if (st->shared == NULL) {
		done(arg, 0);
		return 0;
	}
	if (se == NULL || !se->open)
		return -EINVAL;
	se->commit_done = done;
	se->commit_arg = arg;
	if (se->journal_failed) {
		end(se, -ENOMEM);
		return 0;
	}
	if (se->n_journal == 0) {
		end(se, 0);
		return 0;
	}
	if ((e = store_pg_enroll_commit(store_shared_pg(st->shared), se->revision, se->journal,
	    se->n_journal, committed, se)) != 0)
		end(se, e == -ENOTCONN ? -ENOTCONN : -EIO);
	return 0;
}

/* --- the calls on the copy ------------------------------------------------------------- */

/* The open bracket, or NULL (a write outside one is a bug: said, refused). */
static struct store_enroll *
bracket(struct store *st, const char *what)
{
	struct store_enroll *se = st->enroll;

	if (se == NULL || !se->open || !se->valid) {
		log_warnx("store: %s outside an enrolment bracket (store_enroll_begin): refused",
		    what);
		return NULL;
	}
	return se;
}

/* A statement into the journal; false (and the commit will fail) on ENOMEM. */
static void
journal_add(struct store_enroll *se, struct pgrows_stmt *s, int r)
{
	if (r == 0 && grow((void **)&se->journal, &se->cap_journal, se->n_journal,
	    sizeof(*se->journal)) == 0) {
		se->journal[se->n_journal++] = *s;
		return;
	}
	pgrows_stmt_free(s);
	se->journal_failed = true;
}

/* A statement of one bigint parameter. */
static void
journal_i64(struct store_enroll *se, const char *sql, int64_t v)
{
	struct pgrows_stmt s = { .sql = sql, .n = 1 };
	char b[24];

	snprintf(b, sizeof(b), "%" PRId64, v);
	s.v[0] = strdup(b);
	journal_add(se, &s, s.v[0] != NULL ? 0 : -ENOMEM);
}

static struct store_join *
join_find(struct store_enroll *se, uint64_t id)
{
	for (size_t i = 0; i < se->n_joins; i++)
		if (se->joins[i].id == id)
			return &se->joins[i];
	return NULL;
}

int
store_enroll_join_put(struct store *st, const struct store_join *j)
{
	struct store_enroll *se = bracket(st, "put join request");
	struct store_join copy, *old;
	struct pgrows_stmt s;
	size_t at;

	if (se == NULL)
		return -EINVAL;
	if (j->id == 0 || j->id >= INT64_MAX)
		return -EINVAL;
	journal_add(se, &s, pgrows_join_put(j, &s));
	journal_i64(se, "UPDATE meta SET value = greatest(value, $1::bigint) WHERE name = "
	    "'join_next_id'", (int64_t)j->id + 1);
	if (join_dup(j, &copy) != 0) {
		se->journal_failed = true;
		return -ENOMEM;
	}
	if ((old = join_find(se, j->id)) != NULL) {
		join_free(old);
		*old = copy;
	} else if (grow((void **)&se->joins, &se->cap_joins, se->n_joins,
	    sizeof(*se->joins)) != 0) {
		join_free(&copy);
		se->journal_failed = true;
		return -ENOMEM;
	} else {
		for (at = se->n_joins; at > 0 && se->joins[at - 1].id > j->id; at--)
			;
		memmove(&se->joins[at + 1], &se->joins[at], (se->n_joins - at) *
		    sizeof(*se->joins));
		se->joins[at] = copy;
		se->n_joins++;
	}
	if (se->next_id <= j->id)
		se->next_id = j->id + 1;
	return 0;
}

int
store_enroll_join_delete(struct store *st, uint64_t id)
{
	struct store_enroll *se = bracket(st, "delete join request");
	struct store_join *j;

	if (se == NULL)
		return -EINVAL;
	if ((j = join_find(se, id)) == NULL)
		return 0;
	join_free(j);
	memmove(j, j + 1, (size_t)(&se->joins[se->n_joins] - (j + 1)) * sizeof(*j));
	se->n_joins--;
	journal_i64(se, "DELETE FROM join_requests WHERE id = $1::bigint", (int64_t)id);
	return 0;
}

int
store_enroll_joins_expire(struct store *st, int64_t created_s)
{
	struct store_enroll *se = bracket(st, "expire join requests");
	size_t k = 0, n;

	if (se == NULL)
		return -EINVAL;
	n = se->n_joins;
	for (size_t i = 0; i < n; i++) {
		if (se->joins[i].created_s <= created_s)
			join_free(&se->joins[i]);
		else
			se->joins[k++] = se->joins[i];
	}
	se->n_joins = k;
	/* nothing to drop, nothing written: a poll stays a read */
	if (k < n)
		journal_i64(se, "DELETE FROM join_requests WHERE created_s <= $1::bigint",
		    created_s);
	return 0;
}

int
store_enroll_joins_foreach(struct store *st, int (*fn)(const struct store_join *j, void *arg),
    void *arg)
{
	struct store_enroll *se = bracket(st, "read join requests");
	int r;

	if (se == NULL)
		return -EIO;
	for (size_t i = 0; i < se->n_joins; i++)
		if ((r = fn(&se->joins[i], arg)) != 0)
			return r;
	return 0;
}

int
store_enroll_join_next_id(struct store *st, uint64_t *next)
{
	struct store_enroll *se = bracket(st, "read the next join id");

	if (se == NULL)
		return -EIO;
	*next = se->next_id > 0 ? se->next_id : 1;
	return 0;
}

static struct store_token *
token_find(struct store_enroll *se, const uint8_t sha256[32])
{
	for (size_t i = 0; i < se->n_tokens; i++)
		if (memcmp(se->tokens[i].sha256, sha256, 32) == 0)
			return &se->tokens[i];
	return NULL;
}

int
store_enroll_token_add(struct store *st, struct store_token *t)
{
	struct store_enroll *se = bracket(st, "add join token");
	struct pgrows_stmt s;
	uint64_t id = 1;

	if (se == NULL)
		return -EINVAL;
	if (token_find(se, t->sha256) != NULL)
		return -EEXIST;
	if (grow((void **)&se->tokens, &se->cap_tokens, se->n_tokens, sizeof(*se->tokens)) != 0)
		return -ENOMEM;
	for (size_t i = 0; i < se->n_tokens; i++)
		if (se->tokens[i].id >= id)
			id = se->tokens[i].id + 1;
	t->id = id;
	journal_add(se, &s, pgrows_token_put(t, &s));
	se->tokens[se->n_tokens++] = *t;
	return 0;
}

int
store_enroll_token_get(struct store *st, const uint8_t sha256[32], struct store_token *out)
{
	struct store_enroll *se = bracket(st, "read join token");
	struct store_token *t;

	if (se == NULL)
		return -EIO;
	if ((t = token_find(se, sha256)) == NULL)
		return -ENOENT;
	*out = *t;
	return 0;
}

int
store_enroll_token_use(struct store *st, uint64_t id, int64_t now, const struct store_join *j)
{
	struct store_enroll *se = bracket(st, "take a use of a join token");
	struct store_token *t = NULL;

	if (se == NULL)
		return -EINVAL;
	for (size_t i = 0; i < se->n_tokens && t == NULL; i++)
		if (se->tokens[i].id == id)
			t = &se->tokens[i];
	if (t == NULL || t->uses_left == 0 || t->expires_s <= now)
		return -ESTALE;
	t->uses_left--;
	journal_i64(se, "UPDATE join_tokens SET uses_left = uses_left - 1 WHERE id = $1::bigint",
	    (int64_t)id);
	return store_enroll_join_put(st, j);
}

int
store_enroll_tokens_expire(struct store *st, int64_t expires_s)
{
	struct store_enroll *se = bracket(st, "expire join tokens");
	size_t k = 0, n;

	if (se == NULL)
		return -EINVAL;
	n = se->n_tokens;
	for (size_t i = 0; i < n; i++)
		if (se->tokens[i].expires_s > expires_s)
			se->tokens[k++] = se->tokens[i];
	se->n_tokens = k;
	if (k < n)
		journal_i64(se, "DELETE FROM join_tokens WHERE expires_s <= $1::bigint",
		    expires_s);
	return 0;
}
