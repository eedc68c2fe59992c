/* wiresync.v1.WireSync: the caller is its certificate; every answer is limited to the
 * caller's network and never includes the caller. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "common/cert.h"
#include "proto/health.pb-c.h"
#include "proto/wiresync.pb-c.h"
#include "rpc/grpc.h"
#include "rpc/log.h"
#include "server/peerpb.h"
#include "server/peers.h"
#include "server/service.h"
#include "server/validate.h"

#define WATCH_QUEUE_MAX (4u * 1024 * 1024)

enum { M_UPDATE, M_KEYS, M_GETPEER, M_WATCH, M_HEALTH, N_METHODS };

/* One TLS connection's identity, parsed once at the handshake. */
struct agent_conn {
	struct service *svc;
	struct cert_identity id;
	struct netaddr wan;          /* source address of the connection */
	uint8_t *der;
	size_t der_len;
};

struct pending_update {
	struct pending_update *next;
	struct rpc_call *call;       /* NULL once cancelled */
	struct agent_conn *ac;
	struct update_fields f;
	struct peer *old;            /* replaced record, kept until commit */
	struct peer *cur;            /* record after this update */
	bool changed;
};

struct watcher {
	struct watcher *prev, *next;
	struct rpc_call *call;
	struct agent_conn *ac;
};

struct service {
	struct loop *loop;
	struct store *store;
	struct peer_table *peers;
	uint64_t revision;
	struct rpc_method methods[N_METHODS];
	struct pending_update *pending, **pending_tail;
	struct loop_defer commit_defer;
	struct watcher *watchers;
};

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

/* --- Watch fan-out ---------------------------------------------------------------------- */

static void
watcher_free(struct watcher *w)
{
	struct service *svc = w->ac->svc;

	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		svc->watchers = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	free(w);
}

static void
watch_cancelled(struct rpc_call *call, void *arg)
{
	watcher_free(arg);
}

/* One encoded event per change, shared by every watcher of the network. */
static void
broadcast_upsert(struct service *svc, const struct peer *p)
{
	struct rpc_buf *buf = NULL;
	struct watcher *w, *next;

	for (w = svc->watchers; w != NULL; w = next) {
		next = w->next;
		if (strcmp(w->ac->id.network, p->network) != 0 ||
		    (w->ac->id.has_key && memcmp(w->ac->id.key, p->key, WG_KEY_LEN) == 0))
			continue;
		if (buf == NULL) {
			buf = peerpb_event_upsert(p);
			if (buf == NULL) {
				log_warnx("out of memory encoding the event for %s", p->name);
				return;
			}
		}
		if (rpc_call_send(w->call, buf, WATCH_QUEUE_MAX) < 0) {
			log_warnx("%s: Watch stream is not being read; closing it", w->ac->id.name);
			rpc_call_on_cancel(w->call, NULL, NULL);
			rpc_call_fail(w->call, GRPC_RESOURCE_EXHAUSTED, "watcher fell too far behind");
			watcher_free(w);
		}
	}
	rpc_buf_unref(buf);
}

/* --- Update with group commit ----------------------------------------------------------- */

static void
update_cancelled(struct rpc_call *call, void *arg)
{
	struct pending_update *pu = arg;

	pu->call = NULL;
	pu->ac = NULL;
}

static struct peer *
build_record(const struct peer *old, const struct pending_update *pu)
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
	}
	return p;
}

static void
reply_update(struct pending_update *pu)
{
	Wiresync__V1__UpdateReply r = WIRESYNC__V1__UPDATE_REPLY__INIT;
	char wan[NETADDR_STRLEN];

	r.revision = pu->cur->revision;
	r.observed_wan_ip = netaddr_format(&pu->ac->wan, false, wan);
	reply_message(pu->call, &r.base);
}

/* Puts back the records the batch replaced, newest first. */
static void
undo_batch(struct service *svc, struct pending_update *list)
{
	struct pending_update *rev = NULL, *pu, *next;

	for (pu = list; pu != NULL; pu = next) {
		next = pu->next;
		pu->next = rev;
		rev = pu;
	}
	for (pu = rev; pu != NULL; pu = pu->next) {
		if (!pu->changed)
			continue;
		if (pu->old != NULL)
			peer_free(peer_table_put(svc->peers, pu->old));
		else
			peer_free(peer_table_take(svc->peers, pu->cur->key));
		pu->old = NULL;
	}
}

static void
commit_batch(void *arg)
{
	struct service *svc = arg;
	struct pending_update *list = svc->pending, *pu, *next;
	uint64_t rev = svc->revision;
	int64_t now = wall_ms();
	bool ok = true, any = false;

	svc->pending = NULL;
	svc->pending_tail = &svc->pending;
	for (pu = list; pu != NULL; pu = pu->next)
		if (pu->call != NULL)
			any = true;
	if (any && store_begin(svc->store) < 0)
		ok = false;
	for (pu = list; ok && pu != NULL; pu = pu->next) {
		struct peer *old, *p, *displaced;

		if (pu->call == NULL)
			continue;
		old = peer_table_get(svc->peers, pu->ac->id.key);
		p = build_record(old, pu);
		if (p == NULL) {
			ok = false;
			break;
		}
		p->last_seen_ms = now;
		if (old != NULL && peer_same(old, p)) {
			old->last_seen_ms = now;
			peer_free(p);
			pu->cur = old;
			continue;
		}
		p->revision = ++rev;
		if (store_peer_put(svc->store, p) < 0) {
			peer_free(p);
			ok = false;
			break;
		}
		displaced = peer_table_put(svc->peers, p);
		if (displaced == p) {
			peer_free(p);
			ok = false;
			break;
		}
		pu->old = displaced;
		pu->cur = p;
		pu->changed = true;
	}
	if (ok && any && rev != svc->revision && store_commit(svc->store, rev) < 0)
		ok = false;
	else if (ok && any && rev == svc->revision)
		store_rollback(svc->store);
	if (!ok) {
		if (any)
			store_rollback(svc->store);
		undo_batch(svc, list);
		rev = svc->revision;
	}
	svc->revision = rev;
	for (pu = list; pu != NULL; pu = next) {
		next = pu->next;
		if (pu->call != NULL) {
			rpc_call_on_cancel(pu->call, NULL, NULL);
			if (!ok) {
				rpc_call_fail(pu->call, GRPC_UNAVAILABLE, "store write failed");
			} else {
				reply_update(pu);
				if (pu->changed) {
					log_debug("%s: revision %llu", pu->cur->name,
					    (unsigned long long)pu->cur->revision);
					if (pu->old == NULL)
						log_info("new peer %s in network %s",
						    pu->cur->name, pu->cur->network);
					broadcast_upsert(svc, pu->cur);
				}
			}
		}
		peer_free(pu->old);
		free(pu);
	}
}

static void
handle_update(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct service *svc = arg;
	struct agent_conn *ac = rpc_call_conn_user(call);
	Wiresync__V1__UpdateRequest *m;
	struct pending_update *pu;
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
	pu->call = call;
	pu->ac = ac;
	*svc->pending_tail = pu;
	svc->pending_tail = &pu->next;
	rpc_call_on_cancel(call, update_cancelled, pu);
	/* Every Update of this loop turn shares one transaction. */
	loop_defer(svc->loop, &svc->commit_defer, commit_batch, svc);
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
	struct rpc_buf *snap;

	m = wiresync__v1__watch_request__unpack(NULL, len, req);
	if (m == NULL) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "WatchRequest does not decode");
		return;
	}
	wiresync__v1__watch_request__free_unpacked(m, NULL);
	w = calloc(1, sizeof(*w));
	snap = w != NULL ? peerpb_event_snapshot(svc->peers, ac->id.network,
	    ac->id.has_key ? ac->id.key : NULL, svc->revision) : NULL;
	if (snap == NULL || rpc_call_send(call, snap, 0) < 0) {
		free(w);
		rpc_buf_unref(snap);
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	rpc_buf_unref(snap);
	w->call = call;
	w->ac = ac;
	w->next = svc->watchers;
	if (svc->watchers != NULL)
		svc->watchers->prev = w;
	svc->watchers = w;
	rpc_call_on_cancel(call, watch_cancelled, w);
	log_debug("%s: Watch started at revision %llu", ac->id.name,
	    (unsigned long long)svc->revision);
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
	q->online = false;
	if (peer_table_put(svc->peers, q) == q) {
		peer_free(q);
		return -1;
	}
	return 0;
}

struct service *
service_new(struct loop *l, struct store *st, char *err, size_t errlen)
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
	svc->revision = store_revision(st);
	svc->peers = peer_table_new();
	if (svc->peers == NULL || store_peers_foreach(st, load_peer, svc) != 0) {
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
		struct pending_update *pu = svc->pending;
		svc->pending = pu->next;
		free(pu);
	}
	while (svc->watchers != NULL)
		watcher_free(svc->watchers);
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

size_t
service_peer_count(const struct service *svc)
{
	return peer_table_count(svc->peers);
}
