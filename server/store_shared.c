/* The shared store (store.h on PostgreSQL, issue 15): binds store.h's calls to
 * server/store_pg.h and keeps what a server of a cluster needs besides: its lease renewed
 * and the dead servers' expired on a timer, the log pruned, the doorbell rung by the
 * database's notifications and after a reconnect, and the recent change log in memory, so
 * that a Watch resumes from it without a query (store_changes_since). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpc/log.h"
#include "rpc/loop.h"
#include "server/peers.h"
#include "server/store_impl.h"
#include "server/store_pg.h"

/* Rows one follower read takes; a fuller backlog rings again. */
#define FOLLOW_LIMIT 5000
/* The memory log holds at most this many rows (and no more than log_max_entries). */
#define RING_MAX 200000
/* The log is pruned each lease, at most a minute apart. */
#define PRUNE_EVERY_MS 60000

struct ring_row {
	uint64_t revision;
	uint64_t at_ms;                      /* when it was logged here (the loop's clock) */
	uint8_t key[WG_KEY_LEN];
	char network[CERT_NAME_MAX + 1];
};

struct store_shared {
	struct loop *loop;
	struct store_pg *pg;
	char name[128], address[128];
	uint32_t lease_ms;
	int64_t started_ms;                  /* this run's, in its lease row: tells runs apart */
	bool lease_renewed;                  /* once: a row of another run after it is a twin */
	int64_t twin_said_ms;
	uint64_t log_max_entries, log_max_age_ms;
	bool ready, loaded, down_said;
	bool closing;                        /* answers from here on reach nobody */
	char why[600];                       /* the last loss, for the first connection's error */
	uint64_t revision;                   /* the newest this server knows of */
	/* the records read at the first connection, until the service has taken them */
	struct peer **cache;
	size_t n_cache, cap_cache;
	struct store_link *links;             /* ... and the link health rows */
	size_t n_links, cap_links;
	int load_err;
	void (*bell)(void *arg);
	void *bell_arg;
	struct loop_timer lease_timer;
	struct loop_defer ring_defer;
	int64_t last_prune_ms;
	/* the memory log: rows (floor, revision], oldest at head */
	struct ring_row *ring;
	size_t ring_cap, ring_head, ring_len;
	uint64_t floor;
	/* one store_follow in flight */
	store_row_fn follow_fn;
	void (*follow_done)(void *arg, uint64_t revision, int err);
	void *follow_arg;
	uint64_t follow_after;
	size_t follow_rows;
};

static void
ring_bell(void *arg)
{
	struct store_shared *sh = arg;

	if (sh->bell != NULL)
		sh->bell(sh->bell_arg);
}

/* ---- lease, expiry, pruning ------------------------------------------------------------ */

/* "2026-12-04 14:40:01 UTC" of a time in ms since the epoch. */
static void
utc(char *buf, size_t len, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, len, "%" PRId64 " ms since the epoch", ms);
}

/* The lease row held another run's start time: an earlier run of ours the first time, a
 * second server with this name after that (each renewal writes ours). */
static void
on_lease_prev(void *arg, int64_t started_ms, const char *address)
{
	struct store_shared *sh = arg;
	int64_t now = loop_wall_ms();
	char when[64];

	if (started_ms == sh->started_ms)
		return;
	utc(when, sizeof(when), started_ms);
	if (!sh->lease_renewed) {
		log_info("database: server %s takes over its lease from the run that started "
		    "%s (listening on %s)", sh->name, when, address);
		return;
	}
	if (sh->twin_said_ms != 0 && now - sh->twin_said_ms < 60000)
		return;
	sh->twin_said_ms = now;
	log_errorx("database: another running wiresyncd has this server's name %s (listening "
	    "on %s, started %s): it renewed the lease since we did: the two share one lease and take "
	    "each other's hosts for their own; give every server of the cluster its own "
	    "server_name", sh->name,
	    address, when);
}

static void
on_lease(void *arg, uint64_t revision, const char *err)
{
	struct store_shared *sh = arg;

	(void)revision;
	if (err != NULL)
		log_warnx("database: cannot renew the lease of server %s: %s", sh->name, err);
	else
		sh->lease_renewed = true;
}

static void
on_expired(void *arg, uint64_t revision, const char *err)
{
	struct store_shared *sh = arg;

	if (err != NULL)
		log_warnx("database: cannot expire the leases of dead servers: %s", err);
	else if (revision > sh->revision)
		ring_bell(sh);          /* the notification rings too; this is sooner */
}

static void
on_pruned(void *arg, uint64_t revision, const char *err)
{
	(void)arg;
	(void)revision;
	if (err != NULL)
		log_warnx("database: cannot prune the change log: %s", err);
}

static void
lease_tick(void *arg)
{
	struct store_shared *sh = arg;
	int64_t now = loop_wall_ms();

	if (sh->ready) {
		if (store_pg_lease(sh->pg, sh->address, sh->started_ms, now, sh->lease_ms,
		    on_lease_prev, on_lease, sh) != 0 ||
		    store_pg_expire(sh->pg, now, on_expired, sh) != 0)
			log_debug("database: lease not renewed (not connected)");
		if (now - sh->last_prune_ms >= (sh->lease_ms < PRUNE_EVERY_MS ? sh->lease_ms :
		    PRUNE_EVERY_MS) &&
		    store_pg_prune(sh->pg, sh->log_max_entries, now - (int64_t)sh->log_max_age_ms,
		    on_pruned, sh) == 0)
			sh->last_prune_ms = now;
	}
	loop_timer_set(sh->loop, &sh->lease_timer, sh->lease_ms / 3, lease_tick, sh);
}

/* ---- the connection ------------------------------------------------------------------- */

static void
on_load_peer(void *arg, const struct peer *p)
{
	struct store_shared *sh = arg;
	struct peer *q;

	if (sh->load_err != 0)
		return;
	if (sh->n_cache == sh->cap_cache) {
		size_t cap = sh->cap_cache ? 2 * sh->cap_cache : 64;
		struct peer **v = realloc(sh->cache, cap * sizeof(*v));
		if (v == NULL) {
			sh->load_err = -ENOMEM;
			return;
		}
		sh->cache = v;
		sh->cap_cache = cap;
	}
	if ((q = peer_dup(p)) == NULL) {
		sh->load_err = -ENOMEM;
		return;
	}
	sh->cache[sh->n_cache++] = q;
}

static void
on_load_link(void *arg, const struct store_link *l)
{
	struct store_shared *sh = arg;

	if (sh->n_links == sh->cap_links) {
		size_t cap = sh->cap_links ? 2 * sh->cap_links : 64;
		struct store_link *v = realloc(sh->links, cap * sizeof(*v));
		if (v == NULL) {
			sh->load_err = -ENOMEM;
			return;
		}
		sh->links = v;
		sh->cap_links = cap;
	}
	sh->links[sh->n_links++] = *l;
}

static void
on_links_loaded(void *arg, uint64_t revision, const char *err)
{
	struct store_shared *sh = arg;

	(void)revision;
	if (err != NULL) {
		snprintf(sh->why, sizeof(sh->why), "cannot read the link health: %s", err);
		sh->load_err = -EIO;
		return;
	}
	sh->loaded = true;
}

static void
on_loaded(void *arg, uint64_t revision, const char *err)
{
	struct store_shared *sh = arg;

	if (err != NULL) {
		snprintf(sh->why, sizeof(sh->why), "cannot read the peers: %s", err);
		sh->load_err = -EIO;
		return;
	}
	sh->revision = revision;
	sh->floor = revision;
	if (store_pg_links_load(sh->pg, on_load_link, on_links_loaded, sh) != 0) {
		snprintf(sh->why, sizeof(sh->why), "cannot read the link health");
		sh->load_err = -EIO;
	}
}

static void
on_ready(void *arg)
{
	struct store_shared *sh = arg;

	sh->ready = true;
	if (sh->down_said)
		log_info("database: connected again; catching up from the change log after "
		    "revision %llu", (unsigned long long)sh->revision);
	sh->down_said = false;
	lease_tick(sh);
	if (!sh->loaded) {
		if (store_pg_load(sh->pg, on_load_peer, on_loaded, sh) != 0)
			sh->load_err = -EIO;
		return;
	}
	loop_defer(sh->loop, &sh->ring_defer, ring_bell, sh);
}

static void
on_down(void *arg, const char *why)
{
	struct store_shared *sh = arg;

	sh->ready = false;
	snprintf(sh->why, sizeof(sh->why), "%s", why);
	if (sh->loaded && !sh->down_said)
		log_warnx("%s: Updates get UNAVAILABLE, Watch streams stay open, until it is "
		    "back", why);
	sh->down_said = true;
}

static void
on_notify(void *arg, uint64_t revision)
{
	struct store_shared *sh = arg;

	if (revision > sh->revision)
		ring_bell(sh);
}

static const struct store_pg_cb pg_cbs = { on_ready, on_down, on_notify };

int
store_shared_connect(struct loop *l, const char *uri, const struct store_cluster *cl,
    struct store_shared **out, char *err, size_t errlen)
{
	struct store_shared *sh = calloc(1, sizeof(*sh));
	uint64_t until;

	if (sh == NULL) {
		snprintf(err, errlen, "database: out of memory");
		return -ENOMEM;
	}
	sh->loop = l;
	snprintf(sh->name, sizeof(sh->name), "%s", cl->name);
	snprintf(sh->address, sizeof(sh->address), "%s", cl->address != NULL ? cl->address : "");
	sh->lease_ms = cl->lease_ms >= 1500 ? cl->lease_ms : 1500;
	sh->started_ms = loop_wall_ms();
	sh->log_max_entries = cl->log_max_entries;
	sh->log_max_age_ms = cl->log_max_age_ms;
	/* change_log_max_entries exactly, as the SQLite log holds it: older resumes snapshot */
	sh->ring_cap = cl->log_max_entries < RING_MAX ? cl->log_max_entries : RING_MAX;
	if (sh->ring_cap == 0)
		sh->ring_cap = 1;
	if ((sh->ring = calloc(sh->ring_cap, sizeof(*sh->ring))) == NULL) {
		free(sh);
		snprintf(err, errlen, "database: out of memory");
		return -ENOMEM;
	}
	if ((sh->pg = store_pg_open(l, uri, cl->name, &pg_cbs, sh, err, errlen)) == NULL) {
		free(sh->ring);
		free(sh);
		return -EINVAL;
	}
	/* nothing serves before the records are in: waiting here blocks no client */
	until = loop_now_ms(l) + cl->connect_timeout_ms;
	while (!sh->loaded && sh->load_err == 0 && loop_now_ms(l) < until)
		loop_run_once(l, 100);
	if (!sh->loaded) {
		int rc = sh->load_err != 0 ? sh->load_err : -ETIMEDOUT;

		snprintf(err, errlen, "database: %s", sh->why[0] != '\0' ? sh->why :
		    "no connection within the time allowed");
		store_shared_close(sh);
		return rc;
	}
	log_info("database %s: server %s of the cluster, revision %llu, %zu peers",
	    "(PostgreSQL)", sh->name, (unsigned long long)sh->revision, sh->n_cache);
	*out = sh;
	return 0;
}

static void
cache_free(struct store_shared *sh)
{
	for (size_t i = 0; i < sh->n_cache; i++)
		peer_free(sh->cache[i]);
	free(sh->cache);
	sh->cache = NULL;
	sh->n_cache = sh->cap_cache = 0;
	free(sh->links);
	sh->links = NULL;
	sh->n_links = sh->cap_links = 0;
}

void
store_shared_close(struct store_shared *sh)
{
	if (sh == NULL)
		return;
	sh->closing = true;
	loop_timer_cancel(sh->loop, &sh->lease_timer);
	loop_defer_cancel(sh->loop, &sh->ring_defer);
	store_pg_close(sh->pg);
	cache_free(sh);
	free(sh->ring);
	free(sh);
}

struct store_pg *
store_shared_pg(const struct store_shared *sh)
{
	return sh->pg;
}

bool
store_shared_ready(const struct store_shared *sh)
{
	return sh->ready;
}

bool
store_shared_closing(const struct store_shared *sh)
{
	return sh->closing;
}

const char *
store_shared_name(const struct store_shared *sh)
{
	return sh->name;
}

uint64_t
store_shared_revision(const struct store_shared *sh)
{
	return sh->revision;
}

int
store_shared_peers_foreach(struct store_shared *sh, int (*fn)(const struct peer *p, void *arg),
    void *arg)
{
	int r;

	for (size_t i = 0; i < sh->n_cache; i++)
		if ((r = fn(sh->cache[i], arg)) != 0)
			return r;
	return 0;
}

void
store_shared_set_doorbell(struct store_shared *sh, void (*fn)(void *arg), void *arg)
{
	sh->bell = fn;
	sh->bell_arg = arg;
}

/* ---- writes ---------------------------------------------------------------------------- */

struct write_ctx {
	struct store_shared *sh;
	store_write_fn done;
	void *arg;
};

static void
on_written(void *arg, uint64_t revision, const char *err)
{
	struct write_ctx *w = arg;
	struct store_shared *sh = w->sh;
	int e = 0;

	if (sh->closing) {
		free(w);
		return;
	}
	if (err != NULL) {
		/* unique_violation: the database refused an address or a key another holds */
		e = strncmp(err, "[23505]", 7) == 0 ? -EEXIST : sh->ready ? -EIO : -ENOTCONN;
		if (e != -ENOTCONN)
			log_warnx("database: write refused: %s", err);
	}
	w->done(w->arg, revision, e);
	free(w);
}

int
store_shared_write(struct store_shared *sh, const struct store_write_change *ch, size_t n,
    int64_t now_ms, store_write_fn done, void *arg)
{
	struct write_ctx *w;
	int r;

	if (!sh->ready)
		return -ENOTCONN;
	if ((w = malloc(sizeof(*w))) == NULL)
		return -ENOMEM;
	*w = (struct write_ctx){ sh, done, arg };
	if ((r = store_pg_commit(sh->pg, ch, n, now_ms, on_written, w)) != 0)
		free(w);
	return r;
}

/* ---- the follower's read and the memory log -------------------------------------------- */

static void
ring_pop(struct store_shared *sh)
{
	sh->floor = sh->ring[sh->ring_head].revision;
	sh->ring_head = (sh->ring_head + 1) % sh->ring_cap;
	sh->ring_len--;
}

static void
ring_push(struct store_shared *sh, const struct store_change *c)
{
	struct ring_row *r;

	if (sh->ring_len == sh->ring_cap)
		ring_pop(sh);
	r = &sh->ring[(sh->ring_head + sh->ring_len) % sh->ring_cap];
	r->revision = c->revision;
	r->at_ms = loop_now_ms(sh->loop);
	memcpy(r->key, c->key, WG_KEY_LEN);
	snprintf(r->network, sizeof(r->network), "%s", c->network);
	sh->ring_len++;
	/* change_log_max_age_s holds after every change logged, as the SQLite log's does after
	 * every commit: older resumes snapshot */
	while (sh->log_max_age_ms != 0 && sh->ring_len > 1 &&
	    r->at_ms - sh->ring[sh->ring_head].at_ms > sh->log_max_age_ms)
		ring_pop(sh);
}

static void
on_follow_row(void *arg, const struct store_change *c, const struct peer *rec)
{
	struct store_shared *sh = arg;
	uint64_t last = sh->ring_len > 0 ?
	    sh->ring[(sh->ring_head + sh->ring_len - 1) % sh->ring_cap].revision : sh->floor;

	if (c->revision <= last)
		;                       /* known already */
	else if (c->revision == last + 1)
		ring_push(sh, c);
	else {
		/* rows missed (pruned while we were away): the memory log starts again here */
		sh->ring_head = sh->ring_len = 0;
		sh->floor = c->revision - 1;
		ring_push(sh, c);
	}
	sh->follow_rows++;
	if (!sh->closing)
		sh->follow_fn(sh->follow_arg, c, rec);
}

static void
on_followed(void *arg, uint64_t revision, const char *err)
{
	struct store_shared *sh = arg;
	void (*done)(void *, uint64_t, int) = sh->follow_done;

	sh->follow_done = NULL;
	if (sh->closing)
		return;
	if (err == NULL && revision > sh->revision)
		sh->revision = revision;
	if (err != NULL)
		log_warnx("database: cannot read the change log: %s", err);
	/* a backlog larger than one read: the next one at once */
	if (err == NULL && sh->follow_rows >= FOLLOW_LIMIT)
		loop_defer(sh->loop, &sh->ring_defer, ring_bell, sh);
	done(sh->follow_arg, revision, err != NULL ? (sh->ready ? -EIO : -ENOTCONN) : 0);
}

int
store_shared_follow(struct store_shared *sh, uint64_t after, store_row_fn fn,
    void (*done)(void *arg, uint64_t revision, int err), void *arg)
{
	int r;

	/* the service has its records: the first connection's copy goes */
	cache_free(sh);
	if (sh->follow_done != NULL)
		return -EBUSY;
	if (!sh->ready)
		return -ENOTCONN;
	sh->follow_fn = fn;
	sh->follow_done = done;
	sh->follow_arg = arg;
	sh->follow_after = after;
	sh->follow_rows = 0;
	if ((r = store_pg_follow(sh->pg, after, FOLLOW_LIMIT, on_follow_row, on_followed, sh)) != 0)
		sh->follow_done = NULL;
	return r;
}

uint64_t
store_shared_log_floor(const struct store_shared *sh)
{
	return sh->floor;
}

static int
by_key_then_rev(const void *a, const void *b)
{
	const struct ring_row *x = *(const struct ring_row *const *)a;
	const struct ring_row *y = *(const struct ring_row *const *)b;
	int c = memcmp(x->key, y->key, WG_KEY_LEN);

	if (c != 0)
		return c;
	return x->revision < y->revision ? -1 : x->revision > y->revision;
}

static int
by_rev(const void *a, const void *b)
{
	const struct ring_row *x = *(const struct ring_row *const *)a;
	const struct ring_row *y = *(const struct ring_row *const *)b;

	return x->revision < y->revision ? -1 : x->revision > y->revision;
}

int
store_shared_changes_since(struct store_shared *sh, const char *network, uint64_t since,
    int (*fn)(const uint8_t key[WG_KEY_LEN], uint64_t revision, void *arg), void *arg)
{
	const struct ring_row **v = NULL;
	size_t n = 0, k = 0, cap = 0;
	int r = 0;

	if (since < sh->floor)
		return -ERANGE;
	/* newest first, only as far back as since: the work is what changed since */
	for (size_t i = sh->ring_len; i-- > 0;) {
		const struct ring_row *row = &sh->ring[(sh->ring_head + i) % sh->ring_cap];
		if (row->revision <= since)
			break;
		if (strcmp(row->network, network) != 0)
			continue;
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 64;
			const struct ring_row **nv = realloc(v, nc * sizeof(*nv));
			if (nv == NULL) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
			cap = nc;
		}
		v[n++] = row;
	}
	if (n == 0)
		return 0;     /* nothing since: qsort must not see v == NULL */
	/* each key once, at its latest revision, in revision order */
	qsort(v, n, sizeof(*v), by_key_then_rev);
	for (size_t i = 0; i < n; i++)
		if (i + 1 == n || memcmp(v[i]->key, v[i + 1]->key, WG_KEY_LEN) != 0)
			v[k++] = v[i];
	qsort(v, k, sizeof(*v), by_rev);
	for (size_t i = 0; i < k && r == 0; i++)
		r = fn(v[i]->key, v[i]->revision, arg);
	free(v);
	return r;
}

/* The link rows read at the first connection (written through, store_shared_cluster.c). */
int
store_shared_links_foreach(struct store_shared *sh,
    int (*fn)(const struct store_link *l, void *arg), void *arg)
{
	int r;

	for (size_t i = 0; i < sh->n_links; i++)
		if ((r = fn(&sh->links[i], arg)) != 0)
			return r;
	return 0;
}

/* A reload: every record, then the revision the read saw. */
struct reload {
	struct store_shared *sh;
	void (*fn)(void *arg, const struct peer *p);
	void (*done)(void *arg, uint64_t revision, int err);
	void *arg;
};

static void
reload_peer(void *arg, const struct peer *p)
{
	struct reload *r = arg;

	if (!r->sh->closing)
		r->fn(r->arg, p);
}

static void
on_reloaded(void *arg, uint64_t revision, const char *err)
{
	struct reload *r = arg;
	struct store_shared *sh = r->sh;

	if (!sh->closing) {
		if (err == NULL && revision > sh->revision)
			sh->revision = revision;
		/* the memory log starts again where the records are */
		if (err == NULL) {
			sh->ring_head = sh->ring_len = 0;
			sh->floor = revision;
		}
		r->done(r->arg, revision, err == NULL ? 0 : sh->ready ? -EIO : -ENOTCONN);
	}
	free(r);
}

int
store_shared_reload(struct store_shared *sh, void (*fn)(void *arg, const struct peer *p),
    void (*done)(void *arg, uint64_t revision, int err), void *arg)
{
	struct reload *r;
	int rc;

	if (!sh->ready)
		return -ENOTCONN;
	if ((r = malloc(sizeof(*r))) == NULL)
		return -ENOMEM;
	*r = (struct reload){ sh, fn, done, arg };
	if ((rc = store_pg_load(sh->pg, reload_peer, on_reloaded, r)) != 0)
		free(r);
	return rc;
}
