/* The log follower (see follower.h): reads the change log after the last revision it
 * applied, plans what each row means against the committed peer table, and hands the plan
 * to the fan-out in revision order. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/log.h"
#include "server/follower.h"

/* After a failed read of the log, the next try; a commit rings sooner. */
#define FOLLOWER_RETRY_MS 1000

struct follower {
	struct loop *loop;
	struct store *store;
	struct peer_table *peers;
	struct follower_sink sink;
	uint64_t applied;
	/* the rows of one reading and their plan, kept between rings (no malloc per commit) */
	struct store_change *rows;
	struct follow_step *steps;
	size_t n, cap;
	bool reading;                   /* a read is in the store's hands */
	bool rang;                      /* a ring during a read (or a hold) reads again */
	bool held;                      /* a batch is being written: no import meanwhile */
	bool starting;                  /* inside store_follow */
	bool reloading;                 /* every record being read again (a pruned gap) */
	struct peer_table *reload;      /* ... into this */
	bool failed;                    /* the read in flight could not collect a row */
	struct loop_timer retry;
};

size_t
follower_plan(uint64_t applied, const struct store_change *rows, size_t n,
    const struct peer_table *peers, struct follow_step *steps, bool *gap)
{
	uint64_t expect = applied + 1;
	size_t k = 0;

	*gap = false;
	for (size_t i = 0; i < n; i++) {
		const struct store_change *r = &rows[i];
		const struct peer *p;

		if (r->revision < expect)
			continue;                /* already applied, or a row given twice */
		if (r->revision != expect)
			*gap = true;
		expect = r->revision + 1;
		steps[k].row = r;
		steps[k].p = NULL;
		p = peer_table_get(peers, r->key);
		if (r->removed)
			steps[k].what = FOLLOW_REMOVED;
		else if (p != NULL && p->revision == r->revision) {
			steps[k].what = FOLLOW_UPSERT;
			steps[k].p = p;
		} else
			/* the table holds a later state (or none: removed later); its own row, after
			 * this one, sends it, so a watcher gets each state once and in order */
			steps[k].what = FOLLOW_SUPERSEDED;
		k++;
	}
	return k;
}

/* A record fresher than the table's (a shared store: another server's commit, or ours as
 * the database numbered it): the table takes it, so the plan finds it current. */
static int
import_record(struct follower *f, const struct store_change *c, const struct peer *rec)
{
	const struct peer *cur = peer_table_get(f->peers, rec->key);
	struct peer *q, *displaced;

	(void)c;
	if (cur != NULL && cur->revision > rec->revision)
		return 0;
	if ((q = peer_dup(rec)) == NULL)
		return -ENOMEM;
	displaced = peer_table_put(f->peers, q);
	if (displaced == q) {
		peer_free(q);
		return -ENOMEM;
	}
	peer_free(displaced);
	return 0;
}

/* A removal the table has not seen (another server's): the record goes. */
static void
import_removal(struct follower *f, const struct store_change *c)
{
	const struct peer *cur = peer_table_get(f->peers, c->key);

	if (cur != NULL && cur->revision < c->revision)
		peer_free(peer_table_take(f->peers, c->key));
}

static void
collect(void *arg, const struct store_change *c, const struct peer *rec)
{
	struct follower *f = arg;

	if (f->failed)
		return;
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 64;
		struct store_change *rows = realloc(f->rows, cap * sizeof(*rows));
		struct follow_step *steps;
		if (rows == NULL) {
			f->failed = true;
			return;
		}
		f->rows = rows;
		if ((steps = realloc(f->steps, cap * sizeof(*steps))) == NULL) {
			f->failed = true;
			return;
		}
		f->steps = steps;
		f->cap = cap;
	}
	if (c->revision > f->applied) {
		if (rec != NULL && import_record(f, c, rec) < 0) {
			f->failed = true;
			return;
		}
		if (rec == NULL && c->removed)
			import_removal(f, c);
	}
	f->rows[f->n++] = *c;
}

static void retry_fire(void *arg);
static void start_read(struct follower *f);

/* A shared store's rows were pruned past what we applied: the table may hold records
 * removed meanwhile, or miss others' changes; every record is read again, the table made
 * the same, and every watcher catches up from its cursor. */
static void
reload_peer(void *arg, const struct peer *p)
{
	struct follower *f = arg;
	struct peer *q;

	if (f->failed)
		return;
	if (f->reload == NULL && (f->reload = peer_table_new()) == NULL) {
		f->failed = true;
		return;
	}
	if ((q = peer_dup(p)) == NULL || peer_table_put(f->reload, q) == q) {
		peer_free(q);
		f->failed = true;
	}
}

struct gone {
	const struct peer_table *keep;
	uint8_t (*keys)[WG_KEY_LEN];
	size_t n, cap;
};

static int
find_gone(const struct peer *p, void *arg)
{
	struct gone *g = arg;

	if (g->keep != NULL && peer_table_get(g->keep, p->key) != NULL)
		return 0;
	if (g->n == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 64;
		void *v = realloc(g->keys, cap * sizeof(*g->keys));
		if (v == NULL)
			return -1;
		g->keys = v;
		g->cap = cap;
	}
	memcpy(g->keys[g->n++], p->key, WG_KEY_LEN);
	return 0;
}

static int
move_one(const struct peer *p, void *arg)
{
	struct follower *f = arg;
	struct peer *q = peer_dup(p);
	struct peer *displaced;

	if (q == NULL || (displaced = peer_table_put(f->peers, q)) == q) {
		peer_free(q);
		return -1;
	}
	peer_free(displaced);
	return 0;
}

static void
on_reloaded(void *arg, uint64_t revision, int err)
{
	struct follower *f = arg;
	struct gone g = { f->reload, NULL, 0, 0 };
	bool ok = err == 0 && !f->failed;

	if (ok && (peer_table_foreach(f->peers, NULL, find_gone, &g) != 0 ||
	    (f->reload != NULL && peer_table_foreach(f->reload, NULL, move_one, f) != 0)))
		ok = false;
	for (size_t i = 0; ok && i < g.n; i++)
		peer_free(peer_table_take(f->peers, g.keys[i]));
	free(g.keys);
	peer_table_del(f->reload);
	f->reload = NULL;
	f->failed = false;
	f->reading = false;
	if (!ok) {
		log_warnx("follower: cannot read every record again; trying in %u ms",
		    FOLLOWER_RETRY_MS);
		f->rang = true;
		loop_timer_set(f->loop, &f->retry, FOLLOWER_RETRY_MS, retry_fire, f);
		return;
	}
	log_info("follower: every record read again at revision %llu (%zu peers, %zu gone)",
	    (unsigned long long)revision, peer_table_count(f->peers), g.n);
	f->applied = revision;
	/* the service at the new revision first: the watchers' snapshots carry it */
	if (f->sink.advanced != NULL)
		f->sink.advanced(f->sink.arg, f->applied);
	f->sink.resync(f->sink.arg);
	if (f->rang)
		start_read(f);
}

/* True when the reload went to the store (a shared store): on_reloaded goes on. */
static bool
start_reload(struct follower *f)
{
	f->failed = false;
	if (store_reload(f->store, reload_peer, on_reloaded, f) != 0)
		return false;
	f->reloading = true;
	return true;
}

/* The rows of one reading are in: their plan goes to the fan-out. */
static void
apply_rows(struct follower *f)
{
	size_t k;
	bool gap;

	if (f->n == 0)
		return;
	k = follower_plan(f->applied, f->rows, f->n, f->peers, f->steps, &gap);
	if (gap && start_reload(f)) {
		log_warnx("follower: the change log has no rows for some revisions after %llu "
		    "(pruned while this server was away): reading every record again",
		    (unsigned long long)f->applied);
		return;
	}
	if (gap) {
		/* the table already holds every committed state: the watchers catch up from
		 * it, each from its own cursor */
		log_warnx("follower: the change log has no rows for some revisions after %llu "
		    "(pruned before they were followed): every Watch catches up from its cursor",
		    (unsigned long long)f->applied);
		f->applied = f->rows[f->n - 1].revision;
		f->sink.resync(f->sink.arg);
		return;
	}
	for (size_t i = 0; i < k; i++) {
		const struct follow_step *s = &f->steps[i];
		f->applied = s->row->revision;
		if (s->what == FOLLOW_UPSERT)
			f->sink.upsert(f->sink.arg, s->p);
		else if (s->what == FOLLOW_REMOVED)
			f->sink.removed(f->sink.arg, s->row->key, s->row->network, s->row->revision);
	}
}

static void
on_read(void *arg, uint64_t revision, int err)
{
	struct follower *f = arg;
	bool failed = f->failed || err != 0;

	(void)revision;
	if (!failed)
		apply_rows(f);
	if (f->reloading) {
		/* on_reloaded takes it from here; the rows are stale */
		f->reloading = false;
		f->n = 0;
		return;
	}
	f->reading = false;
	f->n = 0;
	f->failed = false;
	if (failed) {
		log_warnx("follower: cannot read the change log after revision %llu%s; trying "
		    "again in %u ms", (unsigned long long)f->applied,
		    err == -ENOTCONN ? " (the database is away)" : err == 0 ? " (out of memory)" :
		    "", FOLLOWER_RETRY_MS);
		loop_timer_set(f->loop, &f->retry, FOLLOWER_RETRY_MS, retry_fire, f);
	} else
		loop_timer_cancel(f->loop, &f->retry);
	if (f->sink.advanced != NULL)
		f->sink.advanced(f->sink.arg, f->applied);
	/* a ring during an answer from the loop reads again; start_read's own loop does
	 * when the answer came before store_follow returned */
	if (!failed && f->rang && !f->starting)
		start_read(f);
}

static void
start_read(struct follower *f)
{
	int rc;

	/* on SQLite the read is done when store_follow returns: a ring meanwhile loops */
	while (!f->reading && !f->held) {
		f->rang = false;
		f->reading = true;
		f->n = 0;
		f->failed = false;
		f->starting = true;
		rc = store_follow(f->store, f->applied, collect, on_read, f);
		f->starting = false;
		if (rc != 0) {
			f->reading = false;
			if (rc != -ENOTCONN)
				log_warnx("follower: cannot read the change log after revision %llu; "
				    "trying again in %u ms", (unsigned long long)f->applied,
				    FOLLOWER_RETRY_MS);
			loop_timer_set(f->loop, &f->retry, FOLLOWER_RETRY_MS, retry_fire, f);
			return;
		}
		if (!f->rang)
			return;
	}
}

void
follower_ring(struct follower *f)
{
	f->rang = true;
	if (f->reading || f->held)
		return;
	start_read(f);
}

void
follower_hold(struct follower *f, bool held)
{
	f->held = held;
	if (!held && f->rang && !f->reading)
		start_read(f);
}

bool
follower_busy(const struct follower *f)
{
	return f->reading;
}

static void
retry_fire(void *arg)
{
	follower_ring(arg);
}

static void
doorbell(void *arg)
{
	follower_ring(arg);
}

struct follower *
follower_new(struct loop *l, struct store *st, struct peer_table *peers,
    const struct follower_sink *sink, uint64_t applied)
{
	struct follower *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->loop = l;
	f->store = st;
	f->peers = peers;
	f->sink = *sink;
	f->applied = applied;
	store_set_doorbell(st, doorbell, f);
	return f;
}

void
follower_del(struct follower *f)
{
	if (f == NULL)
		return;
	loop_timer_cancel(f->loop, &f->retry);
	store_set_doorbell(f->store, NULL, NULL);
	peer_table_del(f->reload);
	free(f->rows);
	free(f->steps);
	free(f);
}

uint64_t
follower_applied(const struct follower *f)
{
	return f->applied;
}
