/* wiresyncd --copy-store (server/copystore.h): the copy and its SQLite side. A source
 * streams its records into the target one at a time (nothing is held whole in memory);
 * the target writes them inside one transaction it opened after saying what it held, and
 * commits with FROM's revision at the end. The PostgreSQL side is copystore_pg.c. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rpc/log.h"
#include "server/copystore.h"
#include "server/store.h"
#include "server/copystore_impl.h"

#define ERR_MAX 1024

static const char *
plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* ---- the records, source to target ------------------------------------------------ */

void
copy_fail(struct copy *k, int err, const char *why)
{
	if (k->err != 0)
		return;
	k->err = err != 0 ? err : -EIO;
	snprintf(k->why, sizeof(k->why), "%s", why);
}

/* A target's failure of one record (the SQLite store has logged its reason). */
static int
wrote(struct copy *k, int r, uint64_t *count, const char *what)
{
	char why[512];

	if (r == 0) {
		(*count)++;
		return 0;
	}
	snprintf(why, sizeof(why), "TO %s: writing %s: %s (see the line above)", k->to_name,
	    what, strerror(-r));
	copy_fail(k, r, why);
	return k->err;
}

int
copy_peer(struct copy *k, const struct peer *p)
{
	struct peer q;
	char what[CERT_NAME_MAX + 16];

	if (k->err != 0)
		return k->err;
	/* a revision past FROM's: FROM changed under the read (a wiresyncd writing it) */
	if (p->revision > k->revision) {
		copy_fail(k, -ESTALE, "FROM: a peer's revision is past the store's: a wiresyncd "
		    "is writing FROM; stop it and copy again");
		return k->err;
	}
	q = *p;
	q.online = false;                /* nobody holds a Watch in a copy */
	snprintf(what, sizeof(what), "peer %s", p->name);
	return wrote(k, k->sink->peer(k->target, &q), &k->peers, what);
}

int
copy_change(struct copy *k, const struct store_change *c, int64_t ts_ms)
{
	if (k->err != 0)
		return k->err;
	if (c->revision > k->revision) {
		copy_fail(k, -ESTALE, "FROM: a change log row is past the store's revision: a "
		    "wiresyncd is writing FROM; stop it and copy again");
		return k->err;
	}
	return wrote(k, k->sink->change(k->target, c, ts_ms), &k->log_rows, "the change log");
}

int
copy_join(struct copy *k, const struct store_join *j)
{
	if (k->err != 0)
		return k->err;
	return wrote(k, k->sink->join(k->target, j), &k->joins, "a join request");
}

int
copy_token(struct copy *k, const struct store_token *t)
{
	if (k->err != 0)
		return k->err;
	return wrote(k, k->sink->token(k->target, t), &k->tokens, "a join token");
}

int
copy_audit(struct copy *k, const struct store_audit *e)
{
	struct store_audit a;

	if (k->err != 0)
		return k->err;
	a = *e;
	a.id += k->audit_offset;         /* after the entries TO has of its own */
	return wrote(k, k->sink->audit(k->target, &a), &k->audit, "an audit entry");
}

int
copy_link(struct copy *k, const struct store_link *l)
{
	if (k->err != 0)
		return k->err;
	return wrote(k, k->sink->link(k->target, l), &k->links, "a link health row");
}

/* ---- SQLite as the source ---------------------------------------------------------- */

static int src_peer(const struct peer *p, void *k) { return copy_peer(k, p); }
static int src_join(const struct store_join *j, void *k) { return copy_join(k, j); }
static int src_token(const struct store_token *t, void *k) { return copy_token(k, t); }
static int src_audit(const struct store_audit *e, void *k) { return copy_audit(k, e); }
static int src_link(const struct store_link *l, void *k) { return copy_link(k, l); }

static int
src_change(const struct store_change *c, int64_t ts_ms, void *k)
{
	return copy_change(k, c, ts_ms);
}

/* Opens FROM, which must be a store already: store_open would make a new one. */
static int
sqlite_from_open(const char *path, struct store **out, char *err, size_t errlen)
{
	struct stat sb;
	char e[ERR_MAX - 64];
	int r;

	if (strstr(path, "://") != NULL) {
		/* not echoed: a mistyped URI may hold a password */
		snprintf(err, errlen, "FROM is neither an SQLite file nor a postgresql:// or "
		    "postgres:// URI");
		return -EINVAL;
	}
	if (stat(path, &sb) != 0) {
		r = -errno;
		snprintf(err, errlen, "FROM %s: %s: name an existing store file (the server's "
		    "database setting) or a postgresql:// URI", path, strerror(errno));
		return r;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size == 0) {
		snprintf(err, errlen, "FROM %s: %s: not a wiresync store", path,
		    S_ISREG(sb.st_mode) ? "an empty file" : "not a regular file");
		return -EINVAL;
	}
	if ((r = store_open(path, out, e, sizeof(e))) != 0)
		snprintf(err, errlen, "FROM %s", e);
	return r;
}

/* Every record of st into k. BEGIN IMMEDIATE keeps a server's commit from landing
 * between two of the reads. */
static int
sqlite_read(struct store *st, const char *path, struct copy *k, char *err, size_t errlen)
{
	int r;

	if ((r = store_begin(st)) != 0) {
		snprintf(err, errlen, "FROM %s: cannot take its write lock for a consistent read "
		    "(a wiresyncd busy writing it?): stop it and copy again", path);
		return r;
	}
	k->revision = store_revision(st);
	if ((r = store_join_next_id(st, &k->join_next_id)) == 0 &&
	    (r = store_peers_foreach(st, src_peer, k)) == 0 &&
	    (r = store_log_foreach(st, src_change, k)) == 0 &&
	    (r = store_joins_foreach(st, src_join, k)) == 0 &&
	    (r = store_tokens_foreach(st, src_token, k)) == 0 &&
	    (r = store_audit_foreach(st, NULL, 0, UINT32_MAX, src_audit, k)) == 0)
		r = store_links_foreach(st, src_link, k);
	store_rollback(st);
	if (r != 0 && k->err == 0)
		snprintf(err, errlen, "FROM %s: cannot read it (%s; see the lines above)", path,
		    strerror(-r));
	return r;
}

/* ---- SQLite as the target ---------------------------------------------------------- */

static int t_peer(void *t, const struct peer *p) { return store_peer_put(t, p); }
static int t_join(void *t, const struct store_join *j) { return store_join_copy(t, j); }
static int t_token(void *t, const struct store_token *tk) { return store_token_copy(t, tk); }
static int t_audit(void *t, const struct store_audit *e) { return store_audit_copy(t, e); }
static int t_link(void *t, const struct store_link *l) { return store_link_copy(t, l); }

static int
t_change(void *t, const struct store_change *c, int64_t ts_ms)
{
	return store_change_log(t, c->revision, c->key, c->network, c->removed, ts_ms);
}

static const struct copy_sink sqlite_sink = { .peer = t_peer, .change = t_change,
    .join = t_join, .token = t_token, .audit = t_audit, .link = t_link };

/* Counters of what TO holds: arg is the count. */
static int
count_peer(const struct peer *p, void *n)
{
	(void)p;
	++*(uint64_t *)n;
	return 0;
}

static int
count_join(const struct store_join *j, void *n)
{
	(void)j;
	++*(uint64_t *)n;
	return 0;
}

static int
count_token(const struct store_token *t, void *n)
{
	(void)t;
	++*(uint64_t *)n;
	return 0;
}

static int
count_change(const struct store_change *c, int64_t ts_ms, void *n)
{
	(void)c;
	(void)ts_ms;
	++*(uint64_t *)n;
	return 0;
}

/* The newest entry comes first: its id. */
static int
max_audit(const struct store_audit *e, void *max)
{
	*(uint64_t *)max = e->id;
	return 0;
}

/* Opens the write transaction of the copy and says what TO holds. */
static int
sqlite_begin(struct store *st, const char *path, struct copy_held *h, char *err, size_t errlen)
{
	int r;

	if ((r = store_begin(st)) != 0) {
		snprintf(err, errlen, "TO %s: cannot take its write lock (a wiresyncd using it?): "
		    "stop it and copy again", path);
		return r;
	}
	h->revision = store_revision(st);
	if ((r = store_peers_foreach(st, count_peer, &h->peers)) != 0 ||
	    (r = store_joins_foreach(st, count_join, &h->joins)) != 0 ||
	    (r = store_tokens_foreach(st, count_token, &h->tokens)) != 0 ||
	    (r = store_log_foreach(st, count_change, &h->log_rows)) != 0 ||
	    (r = store_audit_foreach(st, NULL, 0, 1, max_audit, &h->audit_max_id)) != 0) {
		store_rollback(st);
		snprintf(err, errlen, "TO %s: cannot read it (see the lines above)", path);
	}
	return r;
}

/* Drops TO's files when the copy made TO and failed: it was not there before. */
static void
sqlite_unlink(const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char f[4096];

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++)
		if (snprintf(f, sizeof(f), "%s%s", path, sfx[i]) < (int)sizeof(f))
			unlink(f);
}

/* ---- the copy ---------------------------------------------------------------------- */

static void
holds(char *err, size_t errlen, const char *name, uint64_t n, const char *one,
    const char *many)
{
	snprintf(err, errlen, "TO %s already holds %" PRIu64 " %s: copy into an empty store",
	    name, n, plural(n, one, many));
}

/* Why TO will not do, into err; false when it will. */
static bool
refused(const char *name, const struct copy_held *h, char *err, size_t errlen)
{
	if (h->peers > 0)
		holds(err, errlen, name, h->peers, "peer", "peers");
	else if (h->joins > 0)
		holds(err, errlen, name, h->joins, "join request", "join requests");
	else if (h->tokens > 0)
		holds(err, errlen, name, h->tokens, "join token", "join tokens");
	else if (h->revision > 0 || h->log_rows > 0)
		/* its revisions would clash with FROM's */
		snprintf(err, errlen, "TO %s already holds revision %" PRIu64 " (of peers since "
		    "removed): copy into an empty store", name, h->revision);
	else if (h->live_servers > 0)
		snprintf(err, errlen, "TO %s is in use: %" PRIu64 " wiresyncd %s a lease on it: "
		    "stop %s and copy when the lease ends", name, h->live_servers,
		    plural(h->live_servers, "holds", "hold"),
		    plural(h->live_servers, "it", "them"));
	else
		return false;
	return true;
}

static bool
same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	    sa.st_ino == sb.st_ino;
}

int
copystore_main(const char *from, const char *to)
{
	struct loop *l = NULL;
	struct store *sfrom = NULL, *sto = NULL;
	struct copy_pg *pfrom = NULL, *pto = NULL;
	struct copy k = { 0 };
	struct copy_held held = { 0 };
	struct stat sb;
	bool to_new = false, to_tx = false, copying = false;
	const char *to_name = to;
	char err[ERR_MAX], e[ERR_MAX - 64];
	int r, status = 1;

	err[0] = '\0';
	if (strcmp(from, to) == 0 || (!store_database_is_uri(from) && !store_database_is_uri(to) && same_file(from, to))) {
		snprintf(err, sizeof(err), "FROM and TO are the same store: name another as TO");
		goto out;
	}
	if ((l = loop_new()) == NULL) {
		snprintf(err, sizeof(err), "cannot make an event loop: %s", strerror(errno));
		goto out;
	}
	if (store_database_is_uri(from))
		pfrom = copy_pg_open(l, from, "FROM", true, err, sizeof(err));
	else
		sqlite_from_open(from, &sfrom, err, sizeof(err));
	if (pfrom == NULL && sfrom == NULL)
		goto out;

	if (store_database_is_uri(to)) {
		if ((pto = copy_pg_open(l, to, "TO", false, err, sizeof(err))) == NULL)
			goto out;
		to_name = copy_pg_name(pto);
		if (copy_pg_begin(pto, &held, err, sizeof(err)) != 0)
			goto out;
		k.sink = &copy_pg_sink;
		k.target = pto;
	} else {
		if (strstr(to, "://") != NULL) {
			snprintf(err, sizeof(err), "TO is neither an SQLite file nor a "
			    "postgresql:// or postgres:// URI");
			goto out;
		}
		to_new = stat(to, &sb) != 0 && errno == ENOENT;
		if (store_open(to, &sto, e, sizeof(e)) != 0) {
			snprintf(err, sizeof(err), "TO %s", e);
			goto out;
		}
		if (sqlite_begin(sto, to, &held, err, sizeof(err)) != 0)
			goto out;
		to_tx = true;
		k.sink = &sqlite_sink;
		k.target = sto;
	}
	if (refused(to_name, &held, err, sizeof(err)))
		goto out;
	k.to_name = to_name;
	k.audit_offset = held.audit_max_id;
	copying = true;

	r = sfrom != NULL ? sqlite_read(sfrom, from, &k, err, sizeof(err)) :
	    copy_pg_read(pfrom, &k, err, sizeof(err));
	if (k.err != 0) {
		/* a queued write the database refused: its answer is the reason */
		if (pto != NULL && copy_pg_error(pto) != NULL)
			snprintf(err, sizeof(err), "TO %s: %s", to_name, copy_pg_error(pto));
		else
			snprintf(err, sizeof(err), "%s", k.why);
		goto out;
	}
	if (r != 0)
		goto out;

	if (pto != NULL) {
		if (copy_pg_commit(pto, k.revision, k.join_next_id, err, sizeof(err)) != 0)
			goto out;
	} else {
		if ((k.join_next_id > 0 &&
		    (r = store_join_next_id_raise(sto, k.join_next_id)) != 0) ||
		    (r = store_commit(sto, k.revision)) != 0) {
			snprintf(err, sizeof(err), "TO %s: cannot commit the copy (%s; see the "
			    "lines above)", to, strerror(-r));
			goto out;
		}
		to_tx = false;
	}
	printf("copied %" PRIu64 " %s, %" PRIu64 " %s, %" PRIu64 " %s, %" PRIu64 " %s, %" PRIu64
	    " %s, %" PRIu64 " %s; revision %" PRIu64 "\n",
	    k.peers, plural(k.peers, "peer", "peers"),
	    k.log_rows, plural(k.log_rows, "log row", "log rows"),
	    k.joins, plural(k.joins, "join request", "join requests"),
	    k.tokens, plural(k.tokens, "token", "tokens"),
	    k.audit, plural(k.audit, "audit entry", "audit entries"),
	    k.links, plural(k.links, "link row", "link rows"), k.revision);
	fflush(stdout);
	status = 0;
out:
	if (status != 0)
		log_errorx("--copy-store: %s%s", err[0] != '\0' ? err : "failed",
		    copying ? "; nothing copied: TO is as it was" : "");
	if (to_tx)
		store_rollback(sto);
	store_close(sto);
	if (status != 0 && to_new)
		sqlite_unlink(to);
	copy_pg_close(pto);        /* rolls back what it did not commit */
	copy_pg_close(pfrom);
	store_close(sfrom);
	loop_del(l);
	return status;
}
