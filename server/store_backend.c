/* Which backend answers store.h's calls of the service: the SQLite file (its transaction
 * API, synchronously) or the shared database (store_shared.c, later from the loop). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/log.h"
#include "server/store_impl.h"

bool
store_database_is_uri(const char *database)
{
	return strncmp(database, "postgresql://", 13) == 0 ||
	    strncmp(database, "postgres://", 11) == 0;
}

int
store_connect(struct loop *l, const char *database, const struct store_cluster *cl,
    struct store **out, char *err, size_t errlen)
{
	struct store *st;
	int r;

	*out = NULL;
	if (!store_database_is_uri(database))
		return store_open(database, out, err, errlen);
	if ((st = calloc(1, sizeof(*st))) == NULL || (st->path = strdup("database")) == NULL) {
		free(st);
		snprintf(err, errlen, "database: out of memory");
		return -ENOMEM;
	}
	if ((r = store_shared_connect(l, database, cl, &st->shared, err, errlen)) != 0) {
		free(st->path);
		free(st);
		return r;
	}
	*out = st;
	return 0;
}

bool
store_shared(const struct store *st)
{
	return st->shared != NULL;
}

const char *
store_server_name(const struct store *st)
{
	return st->shared != NULL ? store_shared_name(st->shared) : NULL;
}

/* SQLite: the service numbered the puts already (store_revision() + i + 1). */
static int
write_sqlite(struct store *st, const struct store_write_change *ch, size_t n, int64_t now_ms,
    uint64_t prune_upto, int64_t prune_older_ms, uint64_t *revision)
{
	uint64_t rev = st->revision;
	int r;

	if ((r = store_begin(st)) != 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const struct peer *p = ch[i].put;

		rev++;
		if (p != NULL && p->revision != rev) {
			log_warnx("store %s: a record of revision %llu where %llu is next", st->path,
			    (unsigned long long)p->revision, (unsigned long long)rev);
			r = -EINVAL;
		} else if (p != NULL)
			r = store_peer_put(st, p) < 0 ||
			    store_change_log(st, rev, p->key, p->network, false, now_ms) < 0 ?
			    -EIO : 0;
		else
			r = store_peer_delete(st, ch[i].key) < 0 ||
			    store_change_log(st, rev, ch[i].key, ch[i].network, true, now_ms) < 0 ?
			    -EIO : 0;
		if (r != 0) {
			store_rollback(st);
			return r;
		}
	}
	if ((r = store_changes_prune(st, prune_upto, prune_older_ms)) != 0 ||
	    (r = store_commit(st, rev)) != 0) {
		store_rollback(st);
		return r;
	}
	*revision = rev;
	return 0;
}

int
store_write(struct store *st, const struct store_write_change *ch, size_t n,
    int64_t now_ms, uint64_t prune_upto, int64_t prune_older_ms, store_write_fn done,
    void *arg)
{
	uint64_t rev = 0;
	int r;

	if (n == 0)
		return -EINVAL;
	if (st->shared != NULL)
		return store_shared_write(st->shared, ch, n, now_ms, done, arg);
	if ((r = write_sqlite(st, ch, n, now_ms, prune_upto, prune_older_ms, &rev)) != 0)
		return r;
	done(arg, rev, 0);
	return 0;
}

struct follow_ctx {
	store_row_fn fn;
	void *arg;
};

static int
follow_row(const struct store_change *c, void *arg)
{
	struct follow_ctx *f = arg;

	f->fn(f->arg, c, NULL);
	return 0;
}

int
store_follow(struct store *st, uint64_t after, store_row_fn fn,
    void (*done)(void *arg, uint64_t revision, int err), void *arg)
{
	struct follow_ctx f = { fn, arg };
	int r;

	if (st->shared != NULL)
		return store_shared_follow(st->shared, after, fn, done, arg);
	/* the service's table is the committed state: rows only */
	if ((r = store_changes_after(st, after, follow_row, &f)) != 0)
		return r;
	done(arg, st->revision, 0);
	return 0;
}

void
store_set_doorbell(struct store *st, void (*fn)(void *arg), void *arg)
{
	if (st->shared != NULL)
		store_shared_set_doorbell(st->shared, fn, arg);
}

int
store_servers(struct store *st,
    void (*fn)(void *arg, const char *name, const char *address, int64_t lease_until_ms),
    void (*done)(void *arg, int err), void *arg)
{
	if (st->shared == NULL)
		return -ENOTSUP;
	return store_shared_servers(st->shared, fn, done, arg);
}

int
store_tickets(struct store *st,
    void (*fn)(void *arg, const uint8_t *records, size_t n, int64_t created_ms),
    void (*done)(void *arg, int err), void *arg)
{
	if (st->shared == NULL)
		return -ENOTSUP;
	return store_shared_tickets(st->shared, fn, done, arg);
}

int
store_ticket_add(struct store *st, const uint8_t record[80], bool forget_old,
    int64_t now_ms, void (*done)(void *arg, int err), void *arg)
{
	if (st->shared == NULL)
		return -ENOTSUP;
	return store_shared_ticket_add(st->shared, record, forget_old, now_ms, done, arg);
}

int
store_audit_list(struct store *st, const char *network, uint64_t before_id,
    uint32_t limit, int (*fn)(const struct store_audit *e, void *arg),
    void (*done)(void *arg, int err), void *arg)
{
	int r;

	if (st->shared != NULL)
		return store_shared_audit_list(st->shared, network, before_id, limit, fn, done, arg);
	r = store_audit_foreach(st, network, before_id, limit, fn, arg);
	done(arg, r < 0 ? r : 0);
	return 0;
}

int
store_reload(struct store *st, void (*fn)(void *arg, const struct peer *p),
    void (*done)(void *arg, uint64_t revision, int err), void *arg)
{
	if (st->shared == NULL)
		return -ENOTSUP;
	return store_shared_reload(st->shared, fn, done, arg);
}
