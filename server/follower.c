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
	const struct peer_table *peers;
	struct follower_sink sink;
	uint64_t applied;
	/* the rows of one reading and their plan, kept between rings (no malloc per commit) */
	struct store_change *rows;
	struct follow_step *steps;
	size_t n, cap;
	bool running, rang;             /* a ring during a run runs again after it */
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

static int
collect(const struct store_change *c, void *arg)
{
	struct follower *f = arg;

	if (f->n == f->cap) {
		size_t cap = f->cap > 0 ? f->cap * 2 : 64;
		struct store_change *rows = realloc(f->rows, cap * sizeof(*rows));
		struct follow_step *steps;
		if (rows == NULL)
			return -ENOMEM;
		f->rows = rows;
		if ((steps = realloc(f->steps, cap * sizeof(*steps))) == NULL)
			return -ENOMEM;
		f->steps = steps;
		f->cap = cap;
	}
	f->rows[f->n++] = *c;
	return 0;
}

static void retry_fire(void *arg);

/* One reading of the log and its fan-out. False when the log could not be read. */
static bool
follow_once(struct follower *f)
{
	size_t k;
	bool gap;
	int rc;

	f->n = 0;
	if ((rc = store_changes_after(f->store, f->applied, collect, f)) != 0) {
		if (rc == -ENOMEM)
			log_warnx("follower: out of memory reading the change log after revision "
			    "%llu; trying again in %u ms", (unsigned long long)f->applied,
			    FOLLOWER_RETRY_MS);
		else
			log_warnx("follower: cannot read the change log after revision %llu; "
			    "trying again in %u ms", (unsigned long long)f->applied,
			    FOLLOWER_RETRY_MS);
		return false;
	}
	if (f->n == 0)
		return true;
	k = follower_plan(f->applied, f->rows, f->n, f->peers, f->steps, &gap);
	if (gap) {
		/* the table already holds every committed state: the watchers catch up from
		 * it, each from its own cursor */
		log_warnx("follower: the change log has no rows for some revisions after %llu "
		    "(pruned before they were followed): every Watch catches up from its cursor",
		    (unsigned long long)f->applied);
		f->applied = f->rows[f->n - 1].revision;
		f->sink.resync(f->sink.arg);
		return true;
	}
	for (size_t i = 0; i < k; i++) {
		const struct follow_step *s = &f->steps[i];
		f->applied = s->row->revision;
		if (s->what == FOLLOW_UPSERT)
			f->sink.upsert(f->sink.arg, s->p);
		else if (s->what == FOLLOW_REMOVED)
			f->sink.removed(f->sink.arg, s->row->key, s->row->network, s->row->revision);
	}
	return true;
}

void
follower_ring(struct follower *f)
{
	if (f->running) {
		f->rang = true;
		return;
	}
	f->running = true;
	do {
		f->rang = false;
		if (!follow_once(f)) {
			loop_timer_set(f->loop, &f->retry, FOLLOWER_RETRY_MS, retry_fire, f);
			break;
		}
		loop_timer_cancel(f->loop, &f->retry);
	} while (f->rang);
	f->running = false;
}

static void
retry_fire(void *arg)
{
	follower_ring(arg);
}

struct follower *
follower_new(struct loop *l, struct store *st, const struct peer_table *peers,
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
	return f;
}

void
follower_del(struct follower *f)
{
	if (f == NULL)
		return;
	loop_timer_cancel(f->loop, &f->retry);
	free(f->rows);
	free(f->steps);
	free(f);
}

uint64_t
follower_applied(const struct follower *f)
{
	return f->applied;
}
