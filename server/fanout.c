/* Watch streams: snapshot or resume from the change log, then one shared encoded event per
 * change to the watchers of its network; presence follows the streams. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wiresync.pb-c.h"
#include "rpc/grpc.h"
#include "rpc/log.h"
#include "server/crl.h"
#include "server/metrics.h"
#include "server/peerpb.h"
#include "server/service_impl.h"

/* Past this many bytes queued on a stream, a watcher only keeps a cursor: what it missed
 * is read back from the change log, one entry per peer, once it drains. */
#define WATCH_LAG_BYTES (64u * 1024)

static struct net *
net_get(struct service *svc, const char *name, bool create)
{
	struct net *n;

	for (n = svc->nets; n != NULL; n = n->next)
		if (strcmp(n->name, name) == 0)
			return n;
	if (!create || (n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->next = svc->nets;
	svc->nets = n;
	return n;
}

void
watch_presence_queue(struct service *svc, const uint8_t key[WG_KEY_LEN], bool online)
{
	struct change *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		log_warnx("out of memory: presence change lost");
		return;
	}
	c->kind = CHANGE_PRESENCE;
	memcpy(c->key, key, WG_KEY_LEN);
	c->online = online;
	svc_change_queue(svc, c);
}

static void offline_timer(void *arg);

/* Offline only after the grace period, so a quick reconnect is not two events. The grace
 * is the same for everyone, so deadlines come in order and one FIFO and one timer do. */
static void
offline_later(struct service *svc, const uint8_t key[WG_KEY_LEN], uint64_t delay_ms)
{
	struct offline *o = malloc(sizeof(*o));

	if (o == NULL) {
		watch_presence_queue(svc, key, false);
		return;
	}
	memcpy(o->key, key, WG_KEY_LEN);
	o->when_ms = loop_now_ms(svc->loop) + delay_ms;
	o->next = NULL;
	*svc->offline_tail = o;
	svc->offline_tail = &o->next;
	if (!loop_timer_armed(&svc->offline_timer))
		loop_timer_set(svc->loop, &svc->offline_timer, delay_ms, offline_timer, svc);
}

static void
offline_timer(void *arg)
{
	struct service *svc = arg;
	uint64_t now = loop_now_ms(svc->loop);
	struct offline *o;

	while ((o = svc->offline_head) != NULL && o->when_ms <= now) {
		const struct peer *p = peer_table_get(svc->peers, o->key);
		if (p != NULL && p->online && !p->held_elsewhere &&
		    idcount_get(svc->watches, o->key) == 0)
			watch_presence_queue(svc, o->key, false);
		svc->offline_head = o->next;
		if (svc->offline_head == NULL)
			svc->offline_tail = &svc->offline_head;
		free(o);
	}
	if (o != NULL)
		loop_timer_set(svc->loop, &svc->offline_timer, o->when_ms - now, offline_timer, svc);
}

/* A peer is online while it holds at least one Watch stream. */
static void
presence_watch(struct service *svc, const struct agent_conn *ac, int64_t count)
{
	const struct peer *p;

	if (!ac->id.has_key || (p = peer_table_get(svc->peers, ac->id.key)) == NULL)
		return;
	/* online through another server of a cluster: it is ours now */
	if (count == 1 && (!p->online || p->held_elsewhere))
		watch_presence_queue(svc, p->key, true);
	else if (count == 0 && p->online && !p->held_elsewhere)
		offline_later(svc, p->key, svc->cfg.presence_grace_ms);
}

static void
watcher_free(struct watcher *w, bool presence)
{
	struct service *svc = w->ac->svc;
	int64_t left;

	left = idcount_add(svc->watches, w->ac->ident, -1);
	if (w->parked) {
		struct watcher **pp = &svc->parked;
		while (*pp != w)
			pp = &(*pp)->next;
		*pp = w->next;
		free(w);
		return;
	}
	if (presence && left == 0)
		presence_watch(svc, w->ac, 0);
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		w->net->watchers = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	w->net->n_watchers--;
	svc->n_watchers--;
	free(w);
}

static void
watch_cancelled(struct rpc_call *call, void *arg)
{
	watcher_free(arg, true);
}

static bool
is_self(const struct watcher *w, const uint8_t *key)
{
	return w->ac->id.has_key && memcmp(w->ac->id.key, key, WG_KEY_LEN) == 0;
}

static void watcher_catch_up(struct rpc_call *call, void *arg);

/* Queues buf, or, when the stream is backed up, leaves the watcher behind its cursor. */
static void
watcher_send(struct watcher *w, struct rpc_buf *buf, uint64_t revision)
{
	if (w->lagging)
		return;
	if (rpc_call_queued(w->call) > WATCH_LAG_BYTES) {
		w->lagging = true;
		log_debug("%s: Watch stream backed up at revision %llu", w->ac->id.name,
		    (unsigned long long)w->cursor);
		rpc_call_on_drain(w->call, WATCH_LAG_BYTES / 4, watcher_catch_up, w);
		return;
	}
	if (rpc_call_send(w->call, buf, 0) < 0) {
		log_warnx("%s: out of memory queueing a Watch event", w->ac->id.name);
		return;
	}
	metrics_observe_since(w->ac->svc->metrics, METRICS_FANOUT, w->ac->svc->commit_ns);
	w->cursor = revision;
}

/* One encoded event per change, shared by every watcher of the network that may see p
 * (NULL: every one; a removal goes to all, and is news only to those that knew p). */
static void
broadcast(struct service *svc, const char *network, const uint8_t *key, struct rpc_buf *buf,
    uint64_t revision, const struct peer *p)
{
	struct net *n = net_get(svc, network, false);

	if (n == NULL)
		return;
	for (struct watcher *w = n->watchers; w != NULL; w = w->next) {
		/* a stream that started (or caught up) from the table at this revision or later
		 * already holds this change */
		if (w->cursor >= revision)
			continue;
		if (is_self(w, key) || (p != NULL && !watch_visible(svc, w, p))) {
			if (!w->lagging)
				w->cursor = revision;
			continue;
		}
		watcher_send(w, buf, revision);
	}
}

void
watch_broadcast_upsert(struct service *svc, const struct peer *p)
{
	struct rpc_buf *buf;
	struct net *n = net_get(svc, p->network, false);

	if (n == NULL || n->watchers == NULL)
		return;
	buf = peerpb_event_upsert(p);
	if (buf == NULL) {
		log_warnx("out of memory encoding the event for %s", p->name);
		return;
	}
	broadcast(svc, p->network, p->key, buf, p->revision, p);
	rpc_buf_unref(buf);
}

/* A host never hears of itself, so one whose record was removed while it watches (an
 * operator's remove of a live host) would not know to report again: its streams end with
 * ABORTED, which an agent answers with an Update and a new Watch at once. A revoked host's
 * connections are closed before its removal, so this never brings one back. */
static void
end_own_watches(struct service *svc, struct net *n, const uint8_t key[WG_KEY_LEN])
{
	struct watcher *w, *next;

	for (w = n->watchers; w != NULL; w = next) {
		next = w->next;
		if (!is_self(w, key))
			continue;
		log_info("%s: its record was removed while it watches: ending its Watch stream "
		    "(ABORTED) so that it reports again", w->ac->id.name);
		rpc_call_on_cancel(w->call, NULL, NULL);
		rpc_call_fail(w->call, GRPC_ABORTED, "the record of \"%s\" was removed from the "
		    "server: send Update, then Watch again", w->ac->id.name);
		watcher_free(w, true);
	}
}

void
watch_broadcast_removed(struct service *svc, const uint8_t key[WG_KEY_LEN],
    const char *network, uint64_t revision)
{
	struct rpc_buf *buf;
	struct net *n = net_get(svc, network, false);

	if (n == NULL || n->watchers == NULL)
		return;
	buf = peerpb_event_removed(key, revision);
	if (buf == NULL) {
		log_warnx("out of memory encoding the removal of a peer of network %s (revision "
		    "%llu)", network, (unsigned long long)revision);
	} else {
		broadcast(svc, network, key, buf, revision, NULL);
		rpc_buf_unref(buf);
	}
	end_own_watches(svc, n, key);
}

void
watch_broadcast_crl(struct service *svc, const struct crlset *old)
{
	for (struct net *n = svc->nets; n != NULL; n = n->next) {
		if (!crlset_changed(old, svc->crls, n->name))
			continue;
		for (struct watcher *w = n->watchers; w != NULL; w = w->next) {
			if (w->lagging)
				w->crl_pending = true;
			else if (crlset_send(svc->crls, n->name, w->call, NULL, 0) < 0)
				log_warnx("%s: out of memory queueing the CRL", w->ac->id.name);
		}
	}
}

struct replay_ctx {
	struct service *svc;
	struct watcher *w;
	size_t sent;
	int err;
};

/* One missed change: the peer's latest state, or its removal. */
static int
replay_one(const uint8_t key[WG_KEY_LEN], uint64_t revision, void *arg)
{
	struct replay_ctx *r = arg;
	const struct peer *p;
	struct rpc_buf *buf;

	if (is_self(r->w, key))
		return 0;
	p = peer_table_get(r->svc->peers, key);
	if (p != NULL && !watch_visible(r->svc, r->w, p))
		return 0;
	buf = p != NULL ? peerpb_event_upsert(p) : peerpb_event_removed(key, revision);
	if (buf == NULL || rpc_call_send(r->w->call, buf, 0) < 0) {
		rpc_buf_unref(buf);
		r->err = -ENOMEM;
		return -1;
	}
	rpc_buf_unref(buf);
	r->sent++;
	return 0;
}

static bool
snap_keep(const struct peer *p, void *arg)
{
	struct watcher *w = arg;

	return watch_visible(w->ac->svc, w, p);
}

/* Brings w from its cursor to the current revision: the missed changes when the log still
 * covers the cursor, else a snapshot. */
int
watch_replay(struct service *svc, struct watcher *w, uint64_t since)
{
	struct replay_ctx r = { svc, w, 0, 0 };
	uint64_t floor = store_log_floor(svc->store);
	/* where the fan-out is: a commit the follower has yet to read (a shared store learns
	 * of its own commits so) comes to this stream from the follower, not from here */
	uint64_t at = follower_applied(svc->follower) < svc->revision ?
	    follower_applied(svc->follower) : svc->revision;
	struct rpc_buf *snap;

	if (since != 0 && since >= floor && since <= svc->revision) {
		if (store_changes_since(svc->store, w->ac->id.network, since, replay_one, &r) == 0) {
			log_debug("%s: Watch resumed from revision %llu: %zu changes",
			    w->ac->id.name, (unsigned long long)since, r.sent);
			w->cursor = at;
			return 0;
		}
		if (r.err != 0)
			return r.err;
		/* the log could not be read: a snapshot still gives a correct picture */
	}
	snap = peerpb_event_snapshot(svc->peers, w->ac->id.network,
	    w->ac->id.has_key ? w->ac->id.key : NULL, snap_keep, w, at);
	if (snap == NULL || rpc_call_send(w->call, snap, 0) < 0) {
		rpc_buf_unref(snap);
		return -ENOMEM;
	}
	rpc_buf_unref(snap);
	w->cursor = at;
	return 0;
}

static void
watcher_catch_up(struct rpc_call *call, void *arg)
{
	struct watcher *w = arg;
	struct service *svc = w->ac->svc;
	uint64_t from = w->cursor;

	w->lagging = false;
	/* a policy that changed meanwhile may change what w sees: a snapshot, after it */
	if ((w->policy_pending && watch_send_policy(svc, w, NULL, 0) < 0) ||
	    watch_replay(svc, w, w->policy_pending ? 0 : from) < 0 ||
	    (w->crl_pending && crlset_send(svc->crls, w->ac->id.network, call, NULL, 0) < 0)) {
		log_warnx("%s: cannot catch the Watch stream up; ending it", w->ac->id.name);
		rpc_call_on_cancel(call, NULL, NULL);
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		watcher_free(w, true);
		return;
	}
	w->crl_pending = false;
	w->policy_pending = false;
	log_debug("%s: Watch stream caught up from revision %llu to %llu", w->ac->id.name,
	    (unsigned long long)from, (unsigned long long)w->cursor);
}

void
watch_catch_up_all(struct service *svc)
{
	for (struct net *n = svc->nets; n != NULL; n = n->next) {
		struct watcher *w, *next;
		for (w = n->watchers; w != NULL; w = next) {
			next = w->next;
			/* a lagging stream catches up once it drains anyway */
			if (!w->lagging && w->cursor < svc->revision)
				watcher_catch_up(w->call, w);
		}
	}
}

static void watch_start(struct service *svc, struct watcher *w);

void
watch_unpark_all(struct service *svc)
{
	struct watcher *w;

	while ((w = svc->parked) != NULL) {
		svc->parked = w->next;
		w->parked = false;
		w->next = NULL;
		watch_start(svc, w);
	}
}

void
watch_handle(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct service *svc = arg;
	struct agent_conn *ac = rpc_call_conn_user(call);
	Wiresync__V1__WatchRequest *m;
	struct watcher *w;
	uint64_t since;
	int64_t count;
	uint8_t held[32], held_policy[32];
	size_t held_len, held_policy_len;

	m = wiresync__v1__watch_request__unpack(NULL, len, req);
	if (m == NULL) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "WatchRequest does not decode");
		return;
	}
	since = m->since_revision;
	/* the CRL goes out unless the agent says it holds this very one */
	held_len = m->crl_sha256.len == sizeof(held) ? sizeof(held) : 0;
	if (held_len > 0)
		memcpy(held, m->crl_sha256.data, held_len);
	held_policy_len = m->policy_sha256.len == sizeof(held_policy) ? sizeof(held_policy) : 0;
	if (held_policy_len > 0)
		memcpy(held_policy, m->policy_sha256.data, held_policy_len);
	wiresync__v1__watch_request__free_unpacked(m, NULL);
	if (idcount_get(svc->watches, ac->ident) >= svc->cfg.max_watches_per_identity) {
		log_warnx("%s: refusing Watch: %u streams open (max_watches_per_identity)",
		    ac->id.name, svc->cfg.max_watches_per_identity);
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED,
		    "too many Watch streams for this certificate (%u)",
		    svc->cfg.max_watches_per_identity);
		return;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL || (w->net = net_get(svc, ac->id.network, true)) == NULL ||
	    (count = idcount_add(svc->watches, ac->ident, +1)) < 0) {
		free(w);
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	w->call = call;
	w->ac = ac;
	w->since = since;
	w->count = count;
	w->held_len = held_len;
	memcpy(w->held, held, held_len);
	w->held_policy_len = held_policy_len;
	memcpy(w->held_policy, held_policy, held_policy_len);
	if (svc->batch != NULL) {
		/* a batch is in a shared store's hands: the table holds records not yet
		 * committed, so the snapshot waits for its answer (watch_unpark_all) */
		w->parked = true;
		w->next = svc->parked;
		svc->parked = w;
		rpc_call_on_cancel(call, watch_cancelled, w);
		return;
	}
	watch_start(svc, w);
}

/* The stream's first events: the policy, the snapshot or the changes since its revision,
 * the CRL; then its presence counts. */
static void
watch_start(struct service *svc, struct watcher *w)
{
	struct rpc_call *call = w->call;
	struct agent_conn *ac = w->ac;
	uint64_t since = w->since;

	w->next = w->net->watchers;
	if (w->next != NULL)
		w->next->prev = w;
	w->net->watchers = w;
	w->net->n_watchers++;
	svc->n_watchers++;
	rpc_call_accept(call);
	/* The policy first, so the agent judges the peers by it; a host that holds another
	 * policy than its network's may have been shown other peers: a snapshot. */
	if (watch_policy_stale(svc, ac->id.network, w->held_policy, w->held_policy_len))
		since = 0;
	if (watch_send_policy(svc, w, w->held_policy, w->held_policy_len) < 0 ||
	    watch_replay(svc, w, since) < 0 ||
	    crlset_send(svc->crls, ac->id.network, call, w->held, w->held_len) < 0) {
		rpc_call_on_cancel(call, NULL, NULL);
		watcher_free(w, false);
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	rpc_call_on_cancel(call, watch_cancelled, w);
	presence_watch(svc, ac, w->count);
	log_debug("%s: Watch from revision %llu, now at %llu", ac->id.name,
	    (unsigned long long)since, (unsigned long long)svc->revision);
}

static int
restart_sweep_one(const struct peer *p, void *arg)
{
	struct service *svc = arg;

	if (p->online && !p->held_elsewhere && idcount_get(svc->watches, p->key) == 0)
		watch_presence_queue(svc, p->key, false);
	return 0;
}

/* After a restart, who was online gets a while to come back before going offline: a
 * restart is then no event at all for agents that reconnect in time. */
void
watch_restart_grace_over(void *arg)
{
	struct service *svc = arg;

	peer_table_foreach(svc->peers, NULL, restart_sweep_one, svc);
}

void
watch_free_all(struct service *svc)
{
	while (svc->parked != NULL)
		watcher_free(svc->parked, false);
	for (struct net *n = svc->nets, *nn; n != NULL; n = nn) {
		nn = n->next;
		while (n->watchers != NULL)
			watcher_free(n->watchers, false);
		free(n);
	}
	svc->nets = NULL;
	loop_timer_cancel(svc->loop, &svc->offline_timer);
	loop_timer_cancel(svc->loop, &svc->restart_timer);
	while (svc->offline_head != NULL) {
		struct offline *o = svc->offline_head;
		svc->offline_head = o->next;
		free(o);
	}
}
