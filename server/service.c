/* wiresync.v1.WireSync: the caller is its certificate; every answer is limited to the
 * caller's network and never includes the caller. */
#include "config.h"

#include <errno.h>
#include <limits.h>
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
#include "server/crl.h"
#include "server/idcount.h"
#include "server/ratelimit.h"
#include "server/metrics.h"
#include "server/peerpb.h"
#include "server/peers.h"
#include "server/service_impl.h"

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

/* A resumed TLS session skips certificate verification: validity and the CRL in force
 * are checked here for every connection. */
static bool
cert_in_force(const struct service *svc, X509 *cert, char *why, size_t len)
{
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
		snprintf(why, len, "certificate has expired");
		return false;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0) {
		snprintf(why, len, "certificate is not valid yet");
		return false;
	}
	if (crlset_revokes(svc->crls, cert)) {
		snprintf(why, len, "certificate is revoked");
		return false;
	}
	return true;
}

static void *
conn_open(struct rpc_conn *c, X509 *cert, const struct sockaddr *peer, void *arg)
{
	struct service *svc = arg;
	struct agent_conn *ac;
	char err[160];
	unsigned char *der = NULL;
	int len;

	/* no copy of the certificate here: the TLS session keeps it (rpc_conn_peer_cert) */
	ac = calloc(1, sizeof(*ac));
	if (ac == NULL)
		return NULL;
	ac->svc = svc;
	if (!cert_identity_from_x509(cert, &ac->id, err, sizeof(err))) {
		log_warnx("refusing client certificate: %s", err);
		goto fail;
	}
	if (!cert_in_force(svc, cert, err, sizeof(err))) {
		log_warnx("refusing certificate of \"%s\" (serial %s): %s", ac->id.name,
		    ac->id.serial, err);
		goto fail;
	}
	if (!issuer_network_matches(cert, ac->id.network)) {
		log_warnx("refusing certificate of \"%s\": network \"%s\" is not its CA's network",
		    ac->id.name, ac->id.network);
		goto fail;
	}
	netaddr_from_sockaddr(peer, &ac->wan);
	ac->opened_s = (int64_t)time(NULL);
	if (ac->id.has_key) {
		memcpy(ac->ident, ac->id.key, WG_KEY_LEN);
	} else {
		len = i2d_X509(cert, &der);
		if (len <= 0)
			goto fail;
		SHA256(der, (size_t)len, ac->ident);
		OPENSSL_free(der);
	}
	if (idcount_get(svc->conns_per_id, ac->ident) >= svc->cfg.max_connections_per_identity) {
		log_warnx("refusing connection of \"%s\" (serial %s): %u connections open "
		    "(max_connections_per_identity)", ac->id.name, ac->id.serial,
		    svc->cfg.max_connections_per_identity);
		goto fail;
	}
	if (idcount_add(svc->conns_per_id, ac->ident, 1) < 0)
		goto fail;
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
	idcount_add(svc->conns_per_id, ac->ident, -1);
	log_debug("%s disconnected", ac->id.name);
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
	    strcmp(a->observed_endpoint, b->observed_endpoint) != 0 || a->is_static != b->is_static ||
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

/* --- Update with group commit ----------------------------------------------------------- */

static void
update_cancelled(struct rpc_call *call, void *arg)
{
	struct change *c = arg;

	c->call = NULL;
	c->ac = NULL;
}

void
svc_change_queue(struct service *svc, struct change *c)
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

	unsigned char *der = NULL;
	int len;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	len = i2d_X509(rpc_conn_peer_cert(ac->rc), &der);
	p->cert = len > 0 ? malloc((size_t)len) : NULL;
	if (p->cert == NULL) {
		OPENSSL_free(der);
		free(p);
		return NULL;
	}
	memcpy(p->cert, der, (size_t)len);
	OPENSSL_free(der);
	p->cert_len = (size_t)len;
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

/* The serial of a stored record's certificate, for logs. */
static const char *
record_serial(const struct peer *p, char *buf, size_t len)
{
	struct cert_identity id;
	char err[160];

	if (p->cert_len == 0 || !cert_identity_from_der(p->cert, p->cert_len, &id, err,
	    sizeof(err)))
		snprintf(buf, len, "none");
	else
		snprintf(buf, len, "%s", id.serial);
	return buf;
}

/* Two certificates that bind one WireGuard key, or one tunnel address in a network (careless
 * CA tooling): the record already stored keeps it, this Update is refused. Checked as the
 * batch is applied, so two such Updates in one batch are caught too. */
static bool
update_conflicts(struct service *svc, struct change *c)
{
	const struct cert_identity *id = &c->ac->id;
	const struct peer *other = peer_table_get(svc->peers, id->key);
	char addr[NETADDR_STRLEN], serial[80], what[96];

	if (other != NULL && strcmp(other->name, id->name) == 0 &&
	    strcmp(other->network, id->network) == 0)
		other = NULL;   /* the same host: a renewed certificate */
	if (other != NULL)
		snprintf(what, sizeof(what), "its WireGuard key");
	for (size_t i = 0; other == NULL && i < id->n_tunnel; i++) {
		other = peer_table_find_tunnel(svc->peers, id->network, &id->tunnel[i], id->key);
		if (other != NULL)
			snprintf(what, sizeof(what), "tunnel address %s",
			    netaddr_format(&id->tunnel[i], true, addr));
	}
	if (other == NULL)
		return false;
	log_warnx("refusing Update of \"%s\" (serial %s): %s is already bound to \"%s\" "
	    "(serial %s) in network %s; revoke or remove one of them", id->name, id->serial,
	    what, other->name, record_serial(other, serial, sizeof(serial)), id->network);
	snprintf(c->refused, sizeof(c->refused), "%s of certificate \"%s\" is already bound to "
	    "\"%s\" in network %s", what, id->name, other->name, id->network);
	return true;
}

/* Applies one change to the table and the open transaction. Returns 0 or -1. */
static int
apply_change(struct service *svc, struct change *c, uint64_t *rev, int64_t now)
{
	struct peer *old, *p = NULL, *displaced;

	switch (c->kind) {
	case CHANGE_UPDATE:
		if (c->call == NULL || update_conflicts(svc, c))
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
		/* a static peer has no agent: presence does not apply to it */
		if (old == NULL || old->online == c->online || old->is_static)
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
	case CHANGE_PUT:
		old = peer_table_get(svc->peers, c->put->key);
		p = c->put;
		c->put = NULL;
		p->last_seen_ms = now;
		if (old != NULL && peer_same(old, p)) {
			peer_free(p);
			c->cur = old;
			return 0;
		}
		break;
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
	case CHANGE_PUT:
		log_debug("%s: revision %llu", c->cur->name, (unsigned long long)c->cur->revision);
		if (c->old == NULL)
			log_info("new peer %s in network %s", c->cur->name, c->cur->network);
		watch_broadcast_upsert(svc, c->cur);
		break;
	case CHANGE_PRESENCE:
		log_info("%s is %s", c->cur->name, c->cur->online ? "online" : "offline");
		watch_broadcast_upsert(svc, c->cur);
		break;
	case CHANGE_REMOVE:
		log_info("removed peer %s from network %s", c->old->name, c->old->network);
		watch_broadcast_removed(svc, c->old, c->revision);
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
	uint64_t t0 = metrics_clock_ns();
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
		if (ok)
			metrics_observe_since(svc->metrics, METRICS_COMMIT, t0);
	}
	else if (ok)
		store_rollback(svc->store);
	if (!ok) {
		store_rollback(svc->store);
		undo_batch(svc, list);
		rev = svc->revision;
		/* the store logs the first failure of a run of them */
		log_debug("store write failed: the batch was rolled back");
	}
	svc->revision = rev;
	svc->commit_ns = metrics_clock_ns();
	/* Acknowledge only now that the changes are durable, then tell the watchers. */
	for (c = list; c != NULL; c = next) {
		next = c->next;
		if (c->kind == CHANGE_UPDATE && c->call != NULL) {
			rpc_call_on_cancel(c->call, NULL, NULL);
			if (ok && c->refused[0] != '\0')
				rpc_call_fail(c->call, GRPC_FAILED_PRECONDITION, "%s", c->refused);
			else if (ok) {
				reply_update(c);
				metrics_observe_since(svc->metrics, METRICS_UPDATE, c->recv_ns);
			} else
				rpc_call_fail(c->call, GRPC_UNAVAILABLE, "store write failed");
		}
		if (ok && c->changed)
			announce_change(svc, c);
		if (!ok && svc_retry_take(svc, c))
			continue;
		if (c->done != NULL)
			c->done(c, ok, c->done_arg);
		peer_free(c->put);
		/* A removed record is freed here; a replaced one too. */
		peer_free(c->old);
		free(c);
	}
	if (ok)
		svc_retry_reset(svc);
	else
		svc_retry_schedule(svc);
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
	uint32_t retry_ms;
	bool first;

	/* Before any work: a certificate holder cannot make us write faster than this. */
	if (svc->update_rate != NULL && !ratelimit_take(svc->update_rate, ac->ident,
	    loop_now_ms(svc->loop), &retry_ms, &first)) {
		if (first)
			log_warnx("%s: Updates over the rate limit (update_rate_per_s %u, update_burst "
			    "%u): RESOURCE_EXHAUSTED until they slow down", ac->id.name,
			    svc->cfg.update_rate_per_s, svc->cfg.update_burst);
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "Update rate limit: %u per second, "
		    "bursts of %u; retry in %u ms", svc->cfg.update_rate_per_s,
		    svc->cfg.update_burst, retry_ms);
		return;
	}
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
	pu->recv_ns = metrics_clock_ns();
	pu->call = call;
	pu->ac = ac;
	rpc_call_on_cancel(call, update_cancelled, pu);
	svc_change_queue(svc, pu);
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

void
service_config_default(struct service_config *cfg)
{
	cfg->presence_grace_ms = 3000;
	cfg->restart_grace_ms = 30000;
	cfg->max_watches_per_identity = 16;
	cfg->max_connections_per_identity = 256;
	cfg->update_rate_per_s = 0;
	cfg->update_burst = 20;
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
	svc->retry_tail = &svc->retry_head;
	svc->cfg = *cfg;
	svc->revision = store_revision(st);
	svc->peers = peer_table_new();
	svc->watches = idcount_new();
	svc->conns_per_id = idcount_new();
	svc->retry_presence = idcount_new();
	if (cfg->update_rate_per_s > 0)
		svc->update_rate = ratelimit_new(cfg->update_rate_per_s, cfg->update_burst);
	if (svc->peers == NULL || svc->watches == NULL || svc->conns_per_id == NULL ||
	    svc->retry_presence == NULL ||
	    (cfg->update_rate_per_s > 0 && svc->update_rate == NULL) ||
	    store_peers_foreach(st, load_peer, svc) != 0 ||
	    loop_timer_set(l, &svc->restart_timer, cfg->restart_grace_ms, watch_restart_grace_over,
	    svc) < 0) {
		snprintf(err, errlen, "cannot load peers from the store");
		service_del(svc);
		return NULL;
	}
	svc->methods[M_UPDATE] = (struct rpc_method){ "/wiresync.v1.WireSync/Update", handle_update, svc, false };
	svc->methods[M_KEYS] = (struct rpc_method){ "/wiresync.v1.WireSync/Keys", handle_keys, svc, false };
	svc->methods[M_GETPEER] = (struct rpc_method){ "/wiresync.v1.WireSync/GetPeer", handle_getpeer, svc, false };
	svc->methods[M_WATCH] = (struct rpc_method){ "/wiresync.v1.WireSync/Watch", watch_handle, svc, true };
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
		if (pu->done != NULL)
			pu->done(pu, false, pu->done_arg);
		peer_free(pu->put);
		free(pu);
	}
	watch_free_all(svc);
	svc_retry_free(svc);
	crlset_del(svc->crls);
	idcount_del(svc->watches);
	idcount_del(svc->conns_per_id);
	ratelimit_del(svc->update_rate);
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
cert_revoked_x509(const struct crlset *crls, X509 *x, char *serial, size_t serial_len)
{
	struct cert_identity id;
	char err[160];

	if (x == NULL || !crlset_revokes(crls, x))
		return false;
	if (cert_identity_from_x509(x, &id, err, sizeof(err)))
		snprintf(serial, serial_len, "%s", id.serial);
	return true;
}

static bool
cert_revoked(const struct crlset *crls, const uint8_t *der, size_t len, char *serial,
    size_t serial_len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	bool revoked = cert_revoked_x509(crls, x, serial, serial_len);

	X509_free(x);
	return revoked;
}

struct sweep_ctx {
	struct service *svc;
	size_t removed;
};

static int
sweep_peer(const struct peer *p, void *arg)
{
	struct sweep_ctx *sw = arg;
	struct change *c;
	char serial[80] = "";

	if (!cert_revoked(sw->svc->crls, p->cert, p->cert_len, serial, sizeof(serial)))
		return 0;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -1;
	c->kind = CHANGE_REMOVE;
	memcpy(c->key, p->key, WG_KEY_LEN);
	log_warnx("certificate of %s (serial %s) is revoked: removing the peer", p->name, serial);
	svc_change_queue(sw->svc, c);
	sw->removed++;
	return 0;
}

size_t
service_apply_crls(struct service *svc, struct crlset *crls, bool *changed)
{
	struct sweep_ctx sw = { svc, 0 };
	struct agent_conn *ac, *next;
	struct crlset *old = svc->crls;
	char serial[80];

	if (changed != NULL)
		*changed = !crlset_equal(old, crls);
	svc->crls = crls;
	/* each network's agents get their own CA's CRL when it changed */
	watch_broadcast_crl(svc, old);
	crlset_del(old);
	for (ac = svc->conns; ac != NULL; ac = next) {
		next = ac->next;
		if (cert_revoked_x509(crls, rpc_conn_peer_cert(ac->rc), serial, sizeof(serial))) {
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

const struct crlset *
service_crls(const struct service *svc)
{
	return svc->crls;
}

bool
service_call_admitted(const struct service *svc, struct rpc_call *call, char *why, size_t len)
{
	const struct agent_conn *ac = rpc_call_conn_user(call);
	int64_t next, now = (int64_t)time(NULL);

	if (!svc->cfg.crl_stale_refuse || ac == NULL)
		return true;
	next = crlset_next_update_of(svc->crls, rpc_conn_peer_cert(ac->rc));
	/* connections admitted while the CRL was fresh keep working */
	if (next == 0 || now < next || ac->opened_s < next)
		return true;
	snprintf(why, len, "the server's CRL for network %s is past its nextUpdate and the "
	    "server is set to crl_stale = refuse: no new connections until the operator renews "
	    "the CRL (wiresync-ca -d DIR crl)", ac->id.network);
	return false;
}

struct expiry_ctx {
	int days;
	size_t n;
};

static int
warn_expiring(const struct peer *p, void *arg)
{
	struct expiry_ctx *e = arg;
	const unsigned char *der = p->cert;
	X509 *x = d2i_X509(NULL, &der, (long)p->cert_len);
	struct cert_identity id;
	char err[160];
	int left;

	if (x == NULL)
		return 0;
	left = cert_days_left(x);
	if (left != INT_MIN && left < e->days && cert_identity_from_x509(x, &id, err, sizeof(err))) {
		log_warnx("certificate of %s (serial %s) expires in %d days: issue a new one",
		    p->name, id.serial, left);
		e->n++;
	}
	X509_free(x);
	return 0;
}

size_t
service_log_expiring(struct service *svc, unsigned days)
{
	struct expiry_ctx e = { (int)days, 0 };

	if (days > 0)
		peer_table_foreach(svc->peers, NULL, warn_expiring, &e);
	return e.n;
}

size_t
service_peer_count(const struct service *svc)
{
	return peer_table_count(svc->peers);
}

uint64_t
service_revision(const struct service *svc)
{
	return svc->revision;
}

void
service_set_metrics(struct service *svc, struct metrics *m)
{
	svc->metrics = m;
}

size_t
service_watcher_count(const struct service *svc)
{
	return svc->n_watchers;
}
