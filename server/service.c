/* wiresync.v1.WireSync: the caller is its certificate; every answer is limited to the
 * caller's network and never includes the caller. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>
#include <openssl/x509.h>

#include "common/cert.h"
#include "proto/health.pb-c.h"
#include "proto/wiresync.pb-c.h"
#include "rpc/grpc.h"
#include "rpc/log.h"
#include "server/idcount.h"
#include "server/peerpb.h"
#include "server/peers.h"
#include "server/service.h"
#include "server/validate.h"

#define WATCH_QUEUE_MAX (4u * 1024 * 1024)

enum { M_UPDATE, M_KEYS, M_GETPEER, M_WATCH, M_HEALTH, N_METHODS };

/* One TLS connection's identity, parsed once at the handshake. */
struct agent_conn {
	struct service *svc;
	struct rpc_conn *rc;
	struct agent_conn *prev, *next;
	struct cert_identity id;
	uint8_t ident[IDCOUNT_KEY_LEN]; /* WireGuard key, or the certificate's SHA-256 */
	struct netaddr wan;          /* source address of the connection */
	uint8_t *der;
	size_t der_len;
};

enum change_kind { CHANGE_UPDATE, CHANGE_PRESENCE, CHANGE_REMOVE };

/* One queued change to the store; all changes of a loop turn share one transaction. */
struct change {
	struct change *next;
	enum change_kind kind;
	struct rpc_call *call;       /* UPDATE: NULL once cancelled */
	struct agent_conn *ac;       /* UPDATE */
	struct update_fields f;      /* UPDATE */
	uint8_t key[WG_KEY_LEN];     /* PRESENCE, REMOVE */
	bool online;                 /* PRESENCE */
	bool changed;
	struct change *undo_next;
	uint64_t revision;           /* REMOVE: the revision of the removal */
	struct peer *old;            /* replaced or removed record, kept until commit */
	struct peer *cur;            /* record after this change (NULL for REMOVE) */
};

struct net;

/* One Watch stream: where it is in the revision sequence, and nothing more. */
struct watcher {
	struct watcher *prev, *next;
	struct rpc_call *call;
	struct agent_conn *ac;
	struct net *net;
	uint64_t cursor;             /* last revision considered for this stream */
	bool lagging;                /* backed up: replay from cursor once drained */
};

/* The watchers of one network: a change costs O(watchers of its network). */
struct net {
	struct net *next;
	char name[CERT_NAME_MAX + 1];
	struct watcher *watchers;
	size_t n_watchers;
};

struct offline {
	struct offline *next;
	uint64_t when_ms;
	uint8_t key[WG_KEY_LEN];
};

struct service {
	struct loop *loop;
	struct store *store;
	struct peer_table *peers;
	uint64_t revision;
	struct rpc_method methods[N_METHODS];
	struct service_config cfg;
	struct change *pending, **pending_tail;
	struct loop_defer commit_defer;
	struct net *nets;
	size_t n_watchers;
	struct idcount *watches;     /* open Watch streams per identity */
	struct offline *offline_head, **offline_tail;
	struct loop_timer offline_timer, restart_timer;
	struct agent_conn *conns;
};

static void change_queue(struct service *svc, struct change *c);
static void commit_batch(void *arg);

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- connections ------------------------------------------------------------------------ */

static bool
issuer_network_matches(X509 *cert, const char *network)
{
	X509_NAME *issuer = X509_get_issuer_name(cert);
	char org[CERT_NAME_MAX + 2];
	int n;

	/* OpenSSL verified the chain, so the issuer name is the trusted CA's subject. */
	n = X509_NAME_get_text_by_NID(issuer, NID_organizationName, org, sizeof(org));
	return n > 0 && strcmp(org, network) == 0;
}

static void *
conn_open(struct rpc_conn *c, X509 *cert, const struct sockaddr *peer, void *arg)
{
	struct service *svc = arg;
	struct agent_conn *ac;
	char err[160];
	unsigned char *der = NULL;
	int len;

	ac = calloc(1, sizeof(*ac));
	if (ac == NULL)
		return NULL;
	ac->svc = svc;
	if (!cert_identity_from_x509(cert, &ac->id, err, sizeof(err))) {
		log_warnx("refusing client certificate: %s", err);
		goto fail;
	}
	if (!issuer_network_matches(cert, ac->id.network)) {
		log_warnx("refusing certificate of \"%s\": network \"%s\" is not its CA's network",
		    ac->id.name, ac->id.network);
		goto fail;
	}
	netaddr_from_sockaddr(peer, &ac->wan);
	len = i2d_X509(cert, &der);
	if (len <= 0)
		goto fail;
	ac->der = der;
	ac->der_len = (size_t)len;
	if (ac->id.has_key)
		memcpy(ac->ident, ac->id.key, WG_KEY_LEN);
	else
		SHA256(der, (size_t)len, ac->ident);
	ac->rc = c;
	ac->next = svc->conns;
	if (svc->conns != NULL)
		svc->conns->prev = ac;
	svc->conns = ac;
	log_debug("%s (%s) connected", ac->id.name, ac->id.network);
	return ac;
fail:
	free(ac);
	return NULL;
}

static void
conn_close(void *user, void *arg)
{
	struct agent_conn *ac = user;
	struct service *svc = ac->svc;

	if (ac->prev != NULL)
		ac->prev->next = ac->next;
	else
		svc->conns = ac->next;
	if (ac->next != NULL)
		ac->next->prev = ac->prev;
	log_debug("%s disconnected", ac->id.name);
	OPENSSL_free(ac->der);
	free(ac);
}

/* --- helpers ---------------------------------------------------------------------------- */

static void
reply_message(struct rpc_call *call, const ProtobufCMessage *m)
{
	uint8_t stackbuf[512], *buf = stackbuf;
	size_t len = protobuf_c_message_get_packed_size(m);

	if (len > sizeof(stackbuf)) {
		buf = malloc(len);
		if (buf == NULL) {
			rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
			return;
		}
	}
	protobuf_c_message_pack(m, buf);
	rpc_call_reply(call, buf, len);
	if (buf != stackbuf)
		free(buf);
}

static bool
same_lan(const struct peer *a, const struct peer *b)
{
	return a != NULL && b != NULL && a->lan_id_len > 0 && a->lan_id_len == b->lan_id_len &&
	    memcmp(a->lan_id, b->lan_id, a->lan_id_len) == 0;
}

static bool
peer_same(const struct peer *a, const struct peer *b)
{
	if (a->listen_port != b->listen_port || a->n_lan != b->n_lan ||
	    a->n_tunnel != b->n_tunnel || a->lan_id_len != b->lan_id_len ||
	    !netaddr_equal(&a->wan, &b->wan) || strcmp(a->name, b->name) != 0 ||
	    strcmp(a->network, b->network) != 0 ||
	    strcmp(a->observed_endpoint, b->observed_endpoint) != 0 ||
	    memcmp(a->lan_id, b->lan_id, a->lan_id_len) != 0 || a->cert_len != b->cert_len ||
	    memcmp(a->cert, b->cert, a->cert_len) != 0)
		return false;
	for (size_t i = 0; i < a->n_lan; i++)
		if (!netaddr_equal(&a->lan[i], &b->lan[i]))
			return false;
	for (size_t i = 0; i < a->n_tunnel; i++)
		if (!netaddr_equal(&a->tunnel[i], &b->tunnel[i]))
			return false;
	return true;
}

/* --- Watch fan-out and presence --------------------------------------------------------- */

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

static void
presence_queue(struct service *svc, const uint8_t key[WG_KEY_LEN], bool online)
{
	struct change *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		log_warnx("out of memory: presence change lost");
		return;
	}
	c->kind = CHANGE_PRESENCE;
	memcpy(c->key, key, WG_KEY_LEN);
	c->online = online;
	change_queue(svc, c);
}

static void offline_timer(void *arg);

/* Offline only after the grace period, so a quick reconnect is not two events. The grace
 * is the same for everyone, so deadlines come in order and one FIFO and one timer do. */
static void
offline_later(struct service *svc, const uint8_t key[WG_KEY_LEN], uint64_t delay_ms)
{
	struct offline *o = malloc(sizeof(*o));

	if (o == NULL) {
		presence_queue(svc, key, false);
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
		if (p != NULL && p->online && idcount_get(svc->watches, o->key) == 0)
			presence_queue(svc, o->key, false);
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
	if (count == 1 && !p->online)
		presence_queue(svc, p->key, true);
	else if (count == 0 && p->online)
		offline_later(svc, p->key, svc->cfg.presence_grace_ms);
}

static void
watcher_free(struct watcher *w, bool presence)
{
	struct service *svc = w->ac->svc;
	int64_t left;

	left = idcount_add(svc->watches, w->ac->ident, -1);
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
	w->cursor = revision;
}

/* One encoded event per change, shared by every watcher of the network. */
static void
broadcast(struct service *svc, const char *network, const uint8_t *key, struct rpc_buf *buf,
    uint64_t revision)
{
	struct net *n = net_get(svc, network, false);

	if (n == NULL)
		return;
	for (struct watcher *w = n->watchers; w != NULL; w = w->next) {
		if (is_self(w, key)) {
			if (!w->lagging)
				w->cursor = revision;
			continue;
		}
		watcher_send(w, buf, revision);
	}
}

static void
broadcast_upsert(struct service *svc, const struct peer *p)
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
	broadcast(svc, p->network, p->key, buf, p->revision);
	rpc_buf_unref(buf);
}

static void
broadcast_removed(struct service *svc, const struct peer *p, uint64_t revision)
{
	struct rpc_buf *buf;
	struct net *n = net_get(svc, p->network, false);

	if (n == NULL || n->watchers == NULL)
		return;
	buf = peerpb_event_removed(p->key, revision);
	if (buf == NULL) {
		log_warnx("out of memory encoding the removal of %s", p->name);
		return;
	}
	broadcast(svc, p->network, p->key, buf, revision);
	rpc_buf_unref(buf);
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

/* Brings w from its cursor to the current revision: the missed changes when the log still
 * covers the cursor, else a snapshot. */
static int
watcher_replay(struct service *svc, struct watcher *w, uint64_t since)
{
	struct replay_ctx r = { svc, w, 0, 0 };
	uint64_t floor = store_log_floor(svc->store);
	struct rpc_buf *snap;

	if (since != 0 && since >= floor && since <= svc->revision) {
		if (store_changes_since(svc->store, w->ac->id.network, since, replay_one, &r) == 0) {
			log_debug("%s: Watch resumed from revision %llu: %zu changes",
			    w->ac->id.name, (unsigned long long)since, r.sent);
			w->cursor = svc->revision;
			return 0;
		}
		if (r.err != 0)
			return r.err;
		/* the log could not be read: a snapshot still gives a correct picture */
	}
	snap = peerpb_event_snapshot(svc->peers, w->ac->id.network,
	    w->ac->id.has_key ? w->ac->id.key : NULL, svc->revision);
	if (snap == NULL || rpc_call_send(w->call, snap, 0) < 0) {
		rpc_buf_unref(snap);
		return -ENOMEM;
	}
	rpc_buf_unref(snap);
	w->cursor = svc->revision;
	return 0;
}

static void
watcher_catch_up(struct rpc_call *call, void *arg)
{
	struct watcher *w = arg;
	struct service *svc = w->ac->svc;
	uint64_t from = w->cursor;

	w->lagging = false;
	if (watcher_replay(svc, w, from) < 0) {
		log_warnx("%s: cannot catch the Watch stream up; ending it", w->ac->id.name);
		rpc_call_on_cancel(call, NULL, NULL);
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		watcher_free(w, true);
		return;
	}
	log_debug("%s: Watch stream caught up from revision %llu to %llu", w->ac->id.name,
	    (unsigned long long)from, (unsigned long long)w->cursor);
}

/* --- Update with group commit ----------------------------------------------------------- */

static void
update_cancelled(struct rpc_call *call, void *arg)
{
	struct change *c = arg;

	c->call = NULL;
	c->ac = NULL;
}

static void
change_queue(struct service *svc, struct change *c)
{
	*svc->pending_tail = c;
	svc->pending_tail = &c->next;
	loop_defer(svc->loop, &svc->commit_defer, commit_batch, svc);
}

static struct peer *
build_record(const struct service *svc, const struct peer *old, const struct change *pu)
{
	const struct agent_conn *ac = pu->ac;
	struct peer *p;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->cert = malloc(ac->der_len);
	if (p->cert == NULL) {
		free(p);
		return NULL;
	}
	memcpy(p->cert, ac->der, ac->der_len);
	p->cert_len = ac->der_len;
	memcpy(p->key, ac->id.key, WG_KEY_LEN);
	snprintf(p->name, sizeof(p->name), "%s", ac->id.name);
	snprintf(p->network, sizeof(p->network), "%s", ac->id.network);
	p->n_tunnel = (uint8_t)ac->id.n_tunnel;
	memcpy(p->tunnel, ac->id.tunnel, sizeof(p->tunnel));
	p->listen_port = pu->f.listen_port;
	p->n_lan = pu->f.n_lan;
	memcpy(p->lan, pu->f.lan, sizeof(p->lan));
	p->lan_id_len = pu->f.lan_id_len;
	memcpy(p->lan_id, pu->f.lan_id, sizeof(p->lan_id));
	p->wan = ac->wan;
	if (old != NULL) {
		snprintf(p->observed_endpoint, sizeof(p->observed_endpoint), "%s",
		    old->observed_endpoint);
		p->online = old->online;
		p->revision = old->revision;
	} else {
		/* Watches opened before the first Update count from now on. */
		p->online = idcount_get(svc->watches, p->key) > 0;
	}
	return p;
}

static void
reply_update(struct change *pu)
{
	Wiresync__V1__UpdateReply r = WIRESYNC__V1__UPDATE_REPLY__INIT;
	char wan[NETADDR_STRLEN];

	r.revision = pu->cur->revision;
	r.observed_wan_ip = netaddr_format(&pu->ac->wan, false, wan);
	reply_message(pu->call, &r.base);
}

/* Puts back the records the batch replaced or removed, newest first. */
static void
undo_batch(struct service *svc, struct change *list)
{
	struct change *newest = NULL;

	for (struct change *c = list; c != NULL; c = c->next) {
		c->undo_next = newest;
		newest = c;
	}
	for (struct change *c = newest; c != NULL; c = c->undo_next) {
		if (!c->changed)
			continue;
		if (c->old != NULL)
			peer_free(peer_table_put(svc->peers, c->old));
		else
			peer_free(peer_table_take(svc->peers, c->cur->key));
		c->old = NULL;
		c->changed = false;
	}
}

/* Applies one change to the table and the open transaction. Returns 0 or -1. */
static int
apply_change(struct service *svc, struct change *c, uint64_t *rev, int64_t now)
{
	struct peer *old, *p = NULL, *displaced;

	switch (c->kind) {
	case CHANGE_UPDATE:
		if (c->call == NULL)
			return 0;
		old = peer_table_get(svc->peers, c->ac->id.key);
		p = build_record(svc, old, c);
		if (p == NULL)
			return -1;
		p->last_seen_ms = now;
		if (old != NULL && peer_same(old, p)) {
			old->last_seen_ms = now;
			peer_free(p);
			c->cur = old;
			return 0;
		}
		break;
	case CHANGE_PRESENCE:
		old = peer_table_get(svc->peers, c->key);
		if (old == NULL || old->online == c->online)
			return 0;
		p = peer_dup(old);
		if (p == NULL)
			return -1;
		p->online = c->online;
		p->last_seen_ms = now;
		break;
	case CHANGE_REMOVE:
		old = peer_table_get(svc->peers, c->key);
		if (old == NULL)
			return 0;
		c->revision = ++*rev;
		if (store_peer_delete(svc->store, c->key) < 0 ||
		    store_change_log(svc->store, c->revision, c->key, old->network, now) < 0)
			return -1;
		c->old = peer_table_take(svc->peers, c->key);
		c->changed = true;
		return 0;
	}
	p->revision = ++*rev;
	if (store_peer_put(svc->store, p) < 0 ||
	    store_change_log(svc->store, p->revision, p->key, p->network, now) < 0) {
		peer_free(p);
		return -1;
	}
	displaced = peer_table_put(svc->peers, p);
	if (displaced == p) {
		peer_free(p);
		return -1;
	}
	c->old = displaced;
	c->cur = p;
	c->changed = true;
	return 0;
}

static void
announce_change(struct service *svc, struct change *c)
{
	switch (c->kind) {
	case CHANGE_UPDATE:
		log_debug("%s: revision %llu", c->cur->name, (unsigned long long)c->cur->revision);
		if (c->old == NULL)
			log_info("new peer %s in network %s", c->cur->name, c->cur->network);
		broadcast_upsert(svc, c->cur);
		break;
	case CHANGE_PRESENCE:
		log_info("%s is %s", c->cur->name, c->cur->online ? "online" : "offline");
		broadcast_upsert(svc, c->cur);
		break;
	case CHANGE_REMOVE:
		log_info("removed peer %s from network %s", c->old->name, c->old->network);
		broadcast_removed(svc, c->old, c->revision);
		break;
	}
}

static void
commit_batch(void *arg)
{
	struct service *svc = arg;
	struct change *list = svc->pending, *c, *next;
	uint64_t rev = svc->revision;
	int64_t now = wall_ms();
	bool ok;

	svc->pending = NULL;
	svc->pending_tail = &svc->pending;
	ok = store_begin(svc->store) == 0;
	for (c = list; ok && c != NULL; c = c->next)
		if (apply_change(svc, c, &rev, now) < 0)
			ok = false;
	if (ok && rev != svc->revision) {
		uint64_t keep = svc->cfg.log_max_entries;
		ok = store_changes_prune(svc->store, rev > keep ? rev - keep : 0,
		    now - (int64_t)svc->cfg.log_max_age_ms) == 0 &&
		    store_commit(svc->store, rev) == 0;
	}
	else if (ok)
		store_rollback(svc->store);
	if (!ok) {
		store_rollback(svc->store);
		undo_batch(svc, list);
		rev = svc->revision;
		log_warnx("store write failed: the batch was rolled back");
	}
	svc->revision = rev;
	/* Acknowledge only now that the changes are durable, then tell the watchers. */
	for (c = list; c != NULL; c = next) {
		next = c->next;
		if (c->kind == CHANGE_UPDATE && c->call != NULL) {
			rpc_call_on_cancel(c->call, NULL, NULL);
			if (ok)
				reply_update(c);
			else
				rpc_call_fail(c->call, GRPC_UNAVAILABLE, "store write failed");
		}
		if (ok && c->changed)
			announce_change(svc, c);
		/* A removed record is freed here; a replaced one too. */
		peer_free(c->old);
		free(c);
	}
}

static void
handle_update(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct service *svc = arg;
	struct agent_conn *ac = rpc_call_conn_user(call);
	Wiresync__V1__UpdateRequest *m;
	struct change *pu;
	char err[256];
	int st;

	m = wiresync__v1__update_request__unpack(NULL, len, req);
	if (m == NULL) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "UpdateRequest does not decode");
		return;
	}
	pu = calloc(1, sizeof(*pu));
	if (pu == NULL) {
		wiresync__v1__update_request__free_unpacked(m, NULL);
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	st = validate_update(m, &ac->id, &pu->f, err, sizeof(err));
	wiresync__v1__update_request__free_unpacked(m, NULL);
	if (st != GRPC_OK) {
		free(pu);
		log_info("%s: Update refused: %s", ac->id.name, err);
		rpc_call_fail(call, st, "%s", err);
		return;
	}
	pu->kind = CHANGE_UPDATE;
	pu->call = call;
	pu->ac = ac;
	rpc_call_on_cancel(call, update_cancelled, pu);
	change_queue(svc, pu);
}

/* --- Keys, GetPeer ---------------------------------------------------------------------- */

struct keys_ctx {
	const struct agent_conn *ac;
	const struct peer *self;
	bool lan_only;
	Wiresync__V1__PeerKey *keys;
	Wiresync__V1__PeerKey **ptrs;
	size_t n, cap;
};

static int
keys_collect(const struct peer *p, void *arg)
{
	struct keys_ctx *k = arg;
	bool same;

	if (k->ac->id.has_key && memcmp(p->key, k->ac->id.key, WG_KEY_LEN) == 0)
		return 0;
	same = same_lan(k->self, p);
	if (k->lan_only && !same)
		return 0;
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 16;
		Wiresync__V1__PeerKey *nk = realloc(k->keys, cap * sizeof(*nk));
		if (nk == NULL)
			return -1;
		k->keys = nk;
		k->cap = cap;
	}
	wiresync__v1__peer_key__init(&k->keys[k->n]);
	k->keys[k->n].public_key.data = (uint8_t *)p->key;
	k->keys[k->n].public_key.len = WG_KEY_LEN;
	k->keys[k->n].same_lan = same;
	k->keys[k->n].online = p->online;
	k->n++;
	return 0;
}

static void
handle_keys(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct service *svc = arg;
	struct agent_conn *ac = rpc_call_conn_user(call);
	Wiresync__V1__KeysRequest *m;
	Wiresync__V1__KeysReply r = WIRESYNC__V1__KEYS_REPLY__INIT;
	struct keys_ctx k = { .ac = ac };

	m = wiresync__v1__keys_request__unpack(NULL, len, req);
	if (m == NULL) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "KeysRequest does not decode");
		return;
	}
	k.lan_only = m->lan_only;
	wiresync__v1__keys_request__free_unpacked(m, NULL);
	k.self = ac->id.has_key ? peer_table_get(svc->peers, ac->id.key) : NULL;
	if (peer_table_foreach(svc->peers, ac->id.network, keys_collect, &k) != 0 ||
	    (k.n > 0 && (k.ptrs = malloc(k.n * sizeof(*k.ptrs))) == NULL)) {
		free(k.keys);
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	for (size_t i = 0; i < k.n; i++)
		k.ptrs[i] = &k.keys[i];
	r.n_keys = k.n;
	r.keys = k.ptrs;
	r.revision = svc->revision;
	reply_message(call, &r.base);
	free(k.ptrs);
	free(k.keys);
}

static void
handle_getpeer(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct service *svc = arg;
	struct agent_conn *ac = rpc_call_conn_user(call);
	Wiresync__V1__GetPeerRequest *m;
	const struct peer *p;
	struct rpc_buf *buf;
	char err[128];

	m = wiresync__v1__get_peer_request__unpack(NULL, len, req);
	if (m == NULL) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "GetPeerRequest does not decode");
		return;
	}
	if (validate_key(&m->public_key, "public_key", err, sizeof(err)) != GRPC_OK) {
		wiresync__v1__get_peer_request__free_unpacked(m, NULL);
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "%s", err);
		return;
	}
	p = peer_table_get(svc->peers, m->public_key.data);
	wiresync__v1__get_peer_request__free_unpacked(m, NULL);
	/* Another network's peer, or the caller itself, does not exist for the caller. */
	if (p == NULL || strcmp(p->network, ac->id.network) != 0 ||
	    (ac->id.has_key && memcmp(p->key, ac->id.key, WG_KEY_LEN) == 0)) {
		rpc_call_fail(call, GRPC_NOT_FOUND, "no such peer in network %s", ac->id.network);
		return;
	}
	buf = peerpb_peer(p);
	if (buf == NULL) {
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	rpc_call_reply(call, buf->data + GRPC_PREFIX_LEN, buf->len - GRPC_PREFIX_LEN);
	rpc_buf_unref(buf);
}

/* --- Watch ------------------------------------------------------------------------------ */

static void
handle_watch(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct service *svc = arg;
	struct agent_conn *ac = rpc_call_conn_user(call);
	Wiresync__V1__WatchRequest *m;
	struct watcher *w;
	uint64_t since;
	int64_t count;

	m = wiresync__v1__watch_request__unpack(NULL, len, req);
	if (m == NULL) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "WatchRequest does not decode");
		return;
	}
	since = m->since_revision;
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
	w->next = w->net->watchers;
	if (w->next != NULL)
		w->next->prev = w;
	w->net->watchers = w;
	w->net->n_watchers++;
	svc->n_watchers++;
	rpc_call_accept(call);
	if (watcher_replay(svc, w, since) < 0) {
		watcher_free(w, false);
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	rpc_call_on_cancel(call, watch_cancelled, w);
	presence_watch(svc, ac, count);
	log_debug("%s: Watch from revision %llu, now at %llu", ac->id.name,
	    (unsigned long long)since, (unsigned long long)svc->revision);
}

/* --- Health ----------------------------------------------------------------------------- */

static void
handle_health(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	Grpc__Health__V1__HealthCheckRequest *m;
	Grpc__Health__V1__HealthCheckResponse r = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
	bool known;

	m = grpc__health__v1__health_check_request__unpack(NULL, len, req);
	if (m == NULL) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "HealthCheckRequest does not decode");
		return;
	}
	known = m->service[0] == '\0' || strcmp(m->service, "wiresync.v1.WireSync") == 0;
	grpc__health__v1__health_check_request__free_unpacked(m, NULL);
	if (!known) {
		rpc_call_fail(call, GRPC_NOT_FOUND, "unknown service");
		return;
	}
	r.status = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	reply_message(call, &r.base);
}

/* --- service ---------------------------------------------------------------------------- */

static int
load_peer(const struct peer *p, void *arg)
{
	struct service *svc = arg;
	struct peer *q = peer_dup(p);

	if (q == NULL)
		return -1;
	if (peer_table_put(svc->peers, q) == q) {
		peer_free(q);
		return -1;
	}
	return 0;
}

static int
restart_sweep_one(const struct peer *p, void *arg)
{
	struct service *svc = arg;

	if (p->online && idcount_get(svc->watches, p->key) == 0)
		presence_queue(svc, p->key, false);
	return 0;
}

/* After a restart, who was online gets a while to come back before going offline: a
 * restart is then no event at all for agents that reconnect in time. */
static void
restart_grace_over(void *arg)
{
	struct service *svc = arg;

	peer_table_foreach(svc->peers, NULL, restart_sweep_one, svc);
}

void
service_config_default(struct service_config *cfg)
{
	cfg->presence_grace_ms = 3000;
	cfg->restart_grace_ms = 30000;
	cfg->max_watches_per_identity = 16;
	cfg->log_max_entries = 100000;
	cfg->log_max_age_ms = 7ull * 24 * 3600 * 1000;
}

struct service *
service_new(struct loop *l, struct store *st, const struct service_config *cfg, char *err,
    size_t errlen)
{
	struct service *svc;

	svc = calloc(1, sizeof(*svc));
	if (svc == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	svc->loop = l;
	svc->store = st;
	svc->pending_tail = &svc->pending;
	svc->offline_tail = &svc->offline_head;
	svc->cfg = *cfg;
	svc->revision = store_revision(st);
	svc->peers = peer_table_new();
	svc->watches = idcount_new();
	if (svc->peers == NULL || svc->watches == NULL ||
	    store_peers_foreach(st, load_peer, svc) != 0 ||
	    loop_timer_set(l, &svc->restart_timer, cfg->restart_grace_ms, restart_grace_over,
	    svc) < 0) {
		snprintf(err, errlen, "cannot load peers from the store");
		service_del(svc);
		return NULL;
	}
	svc->methods[M_UPDATE] = (struct rpc_method){ "/wiresync.v1.WireSync/Update", handle_update, svc, false };
	svc->methods[M_KEYS] = (struct rpc_method){ "/wiresync.v1.WireSync/Keys", handle_keys, svc, false };
	svc->methods[M_GETPEER] = (struct rpc_method){ "/wiresync.v1.WireSync/GetPeer", handle_getpeer, svc, false };
	svc->methods[M_WATCH] = (struct rpc_method){ "/wiresync.v1.WireSync/Watch", handle_watch, svc, true };
	svc->methods[M_HEALTH] = (struct rpc_method){ "/grpc.health.v1.Health/Check", handle_health, svc, false };
	return svc;
}

void
service_del(struct service *svc)
{
	if (svc == NULL)
		return;
	loop_defer_cancel(svc->loop, &svc->commit_defer);
	while (svc->pending != NULL) {
		struct change *pu = svc->pending;
		svc->pending = pu->next;
		free(pu);
	}
	for (struct net *n = svc->nets, *nn; n != NULL; n = nn) {
		nn = n->next;
		while (n->watchers != NULL)
			watcher_free(n->watchers, false);
		free(n);
	}
	loop_timer_cancel(svc->loop, &svc->offline_timer);
	loop_timer_cancel(svc->loop, &svc->restart_timer);
	while (svc->offline_head != NULL) {
		struct offline *o = svc->offline_head;
		svc->offline_head = o->next;
		free(o);
	}
	idcount_del(svc->watches);
	peer_table_del(svc->peers);
	free(svc);
}

const struct rpc_method *
service_methods(struct service *svc, size_t *n)
{
	*n = N_METHODS;
	return svc->methods;
}

void
service_server_ops(struct service *svc, struct rpc_server_ops *ops)
{
	ops->conn_open = conn_open;
	ops->conn_close = conn_close;
	ops->arg = svc;
}

static bool
cert_revoked(X509_CRL *crl, const uint8_t *der, size_t len, char *serial, size_t serial_len)
{
	const unsigned char *p = der;
	X509_REVOKED *rev;
	X509 *x;
	bool revoked = false;

	x = d2i_X509(NULL, &p, (long)len);
	if (x == NULL)
		return false;
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(x)) == 0 &&
	    X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(x)) == 1) {
		struct cert_identity id;
		char err[160];
		revoked = true;
		if (cert_identity_from_x509(x, &id, err, sizeof(err)))
			snprintf(serial, serial_len, "%s", id.serial);
	}
	X509_free(x);
	return revoked;
}

struct sweep_ctx {
	struct service *svc;
	X509_CRL *crl;
	size_t removed;
};

static int
sweep_peer(const struct peer *p, void *arg)
{
	struct sweep_ctx *sw = arg;
	struct change *c;
	char serial[80] = "";

	if (!cert_revoked(sw->crl, p->cert, p->cert_len, serial, sizeof(serial)))
		return 0;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -1;
	c->kind = CHANGE_REMOVE;
	memcpy(c->key, p->key, WG_KEY_LEN);
	log_warnx("certificate of %s (serial %s) is revoked: removing the peer", p->name, serial);
	change_queue(sw->svc, c);
	sw->removed++;
	return 0;
}

size_t
service_apply_crl(struct service *svc, X509_CRL *crl)
{
	struct sweep_ctx sw = { svc, crl, 0 };
	struct agent_conn *ac, *next;
	char serial[80];

	for (ac = svc->conns; ac != NULL; ac = next) {
		next = ac->next;
		if (cert_revoked(crl, ac->der, ac->der_len, serial, sizeof(serial))) {
			log_warnx("certificate of %s (serial %s) is revoked: closing its connection",
			    ac->id.name, serial);
			/* frees ac, and may free others' watchers: restart the walk */
			rpc_conn_close(ac->rc, "certificate revoked");
			next = svc->conns;
		}
	}
	peer_table_foreach(svc->peers, NULL, sweep_peer, &sw);
	return sw.removed;
}

size_t
service_peer_count(const struct service *svc)
{
	return peer_table_count(svc->peers);
}

size_t
service_watcher_count(const struct service *svc)
{
	return svc->n_watchers;
}
