/* wiresync.v1.Admin: the operator's view of the store. Reads come from the peer table;
 * removals and static peers go through the service's change queue, so they are committed
 * with the next group commit and reach every watcher like any other change. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "proto/admin.pb-c.h"
#include "rpc/grpc.h"
#include "rpc/log.h"
#include "server/admin.h"
#include "server/crl.h"
#include "server/peerpb.h"
#include "server/service_impl.h"

#define ADMIN_PATH "/wiresync.v1.Admin/"
#define BACKUP_CHUNK (64u * 1024)
#define BACKUP_QUEUE (256u * 1024)   /* queued on the stream before waiting for a drain */

enum { A_LIST, A_SHOW, A_REMOVE, A_ADD_STATIC, A_STATUS, A_BACKUP, N_ADMIN };

struct backup;

struct admin {
	struct service *svc;
	struct store *st;
	SSL_CTX *ctx;
	struct rpc_server *srv;
	struct admin_config cfg;
	uint64_t started_ms;
	struct backup *backup;       /* at most one at a time */
	struct rpc_method *methods;
	size_t n_methods;
};

/* --- helpers ---------------------------------------------------------------------------- */

static int64_t
wall_s(void)
{
	return (int64_t)time(NULL);
}

static void
reply_packed(struct rpc_call *call, const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len > 0 ? len : 1);

	if (buf == NULL) {
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	protobuf_c_message_pack(m, buf);
	rpc_call_reply(call, buf, len);
	free(buf);
}

/* The caller, when its certificate is an admin's; otherwise the call is failed. */
static const struct agent_conn *
admin_caller(struct rpc_call *call)
{
	const struct agent_conn *ac = rpc_call_conn_user(call);
	const char *method = rpc_call_path(call) + strlen(ADMIN_PATH);

	if (!ac->id.admin || ac->id.has_key) {
		log_warnx("%s (%s): Admin %s refused: %s", ac->id.name, ac->id.network, method,
		    !ac->id.admin ? "not an admin certificate" :
		    "the certificate also binds a WireGuard key; an admin's must not");
		rpc_call_fail(call, GRPC_PERMISSION_DENIED,
		    "Admin is open to admin certificates only (SAN %s)", CERT_URI_ADMIN);
		return NULL;
	}
	return ac;
}

struct buf {
	uint8_t *data;
	size_t len, cap;
	bool failed;
};

static void
buf_put(struct buf *b, const void *p, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *d;
		while (cap < b->len + n)
			cap *= 2;
		if ((d = realloc(b->data, cap)) == NULL) {
			b->failed = true;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void
buf_varint(struct buf *b, uint64_t v)
{
	uint8_t o[10];
	size_t n = 0;

	while (v >= 0x80) {
		o[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	o[n++] = (uint8_t)v;
	buf_put(b, o, n);
}

/* A length-delimited field: tag, length, bytes. */
static void
buf_field(struct buf *b, unsigned field, const uint8_t *p, size_t n)
{
	buf_varint(b, (uint64_t)field << 3 | 2);
	buf_varint(b, n);
	buf_put(b, p, n);
}

/* PeerInfo of p into b: the Peer encoded as agents get it, then the operator's fields. */
static void
peerinfo_encode(struct buf *b, const struct peer *p)
{
	Wiresync__V1__PeerInfo m = WIRESYNC__V1__PEER_INFO__INIT;
	struct cert_identity id;
	struct rpc_buf *peer;
	uint8_t rest[256];
	char err[160];
	size_t n;

	if ((peer = peerpb_peer(p)) == NULL) {
		b->failed = true;
		return;
	}
	buf_field(b, 1, peer->data + GRPC_PREFIX_LEN, peer->len - GRPC_PREFIX_LEN);
	rpc_buf_unref(peer);
	m.network = (char *)p->network;
	m.is_static = p->is_static;
	if (cert_identity_from_der(p->cert, p->cert_len, &id, err, sizeof(err))) {
		m.not_after = id.not_after;
		m.serial = id.serial;
	}
	n = wiresync__v1__peer_info__get_packed_size(&m);
	if (n > sizeof(rest)) {
		b->failed = true;
		return;
	}
	wiresync__v1__peer_info__pack(&m, rest);
	buf_put(b, rest, n);
}

static void
reply_buf(struct rpc_call *call, struct buf *b)
{
	if (b->failed)
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
	else
		rpc_call_reply(call, b->data, b->len);
	free(b->data);
}

static int
peer_cmp(const void *x, const void *y)
{
	const struct peer *a = *(const struct peer *const *)x, *b = *(const struct peer *const *)y;
	int c = strcmp(a->network, b->network);

	if (c == 0)
		c = strcmp(a->name, b->name);
	return c != 0 ? c : memcmp(a->key, b->key, WG_KEY_LEN);
}

struct collect {
	const struct peer **v;
	size_t n, cap;
	const char *name;            /* only peers of this name, when set */
};

static int
collect_one(const struct peer *p, void *arg)
{
	struct collect *c = arg;

	if (c->name != NULL && strcmp(p->name, c->name) != 0)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		const struct peer **v = realloc(c->v, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = p;
	return 0;
}

/* The peers of network (all of them or those named name), sorted; NULL v on ENOMEM. */
static int
collect_peers(const struct admin *a, const char *network, const char *name, struct collect *c)
{
	memset(c, 0, sizeof(*c));
	c->name = name;
	if (peer_table_foreach(a->svc->peers, network, collect_one, c) != 0) {
		free(c->v);
		c->v = NULL;
		return -ENOMEM;
	}
	if (c->n > 1)
		qsort(c->v, c->n, sizeof(*c->v), peer_cmp);
	return 0;
}

/* --- ListPeers, ShowPeer ---------------------------------------------------------------- */

static void
handle_list(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct admin *a = arg;
	const struct agent_conn *ac = admin_caller(call);
	Wiresync__V1__ListPeersRequest *m;
	struct collect c;
	struct buf b = { 0 };
	bool other;

	if (ac == NULL)
		return;
	if ((m = wiresync__v1__list_peers_request__unpack(NULL, len, req)) == NULL) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "ListPeersRequest does not decode");
		return;
	}
	other = m->network[0] != '\0' && strcmp(m->network, ac->id.network) != 0;
	wiresync__v1__list_peers_request__free_unpacked(m, NULL);
	if (other) {
		log_warnx("%s (%s): Admin ListPeers of another network refused", ac->id.name,
		    ac->id.network);
		rpc_call_fail(call, GRPC_PERMISSION_DENIED, "this certificate administers network %s only",
		    ac->id.network);
		return;
	}
	if (collect_peers(a, ac->id.network, NULL, &c) < 0) {
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	for (size_t i = 0; i < c.n; i++) {
		struct buf one = { 0 };
		peerinfo_encode(&one, c.v[i]);
		if (one.failed)
			b.failed = true;
		else
			buf_field(&b, 1, one.data, one.len);
		free(one.data);
	}
	if (a->svc->revision > 0) {
		buf_varint(&b, 2 << 3);
		buf_varint(&b, a->svc->revision);
	}
	free(c.v);
	reply_buf(call, &b);
}

/* The one peer of the caller's network that ref names; NULL with the call failed. */
static const struct peer *
find_peer(struct admin *a, struct rpc_call *call, const struct agent_conn *ac,
    const uint8_t *req, size_t len)
{
	Wiresync__V1__PeerRef *m;
	const struct peer *p = NULL;
	struct collect c;

	if ((m = wiresync__v1__peer_ref__unpack(NULL, len, req)) == NULL) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "PeerRef does not decode");
		return NULL;
	}
	if (m->public_key.len > 0) {
		if (m->public_key.len != WG_KEY_LEN)
			rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "public_key: must be %d bytes, got %zu",
			    WG_KEY_LEN, m->public_key.len);
		else if ((p = peer_table_get(a->svc->peers, m->public_key.data)) == NULL ||
		    strcmp(p->network, ac->id.network) != 0) {
			p = NULL;
			rpc_call_fail(call, GRPC_NOT_FOUND, "no peer with that key in network %s",
			    ac->id.network);
		}
	} else if (m->name[0] == '\0') {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "give name or public_key");
	} else if (collect_peers(a, ac->id.network, m->name, &c) < 0) {
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
	} else {
		if (c.n == 0)
			rpc_call_fail(call, GRPC_NOT_FOUND, "no peer named \"%s\" in network %s",
			    m->name, ac->id.network);
		else if (c.n > 1)
			rpc_call_fail(call, GRPC_FAILED_PRECONDITION,
			    "%zu peers are named \"%s\" in network %s: give the key", c.n, m->name,
			    ac->id.network);
		else
			p = c.v[0];
		free(c.v);
	}
	wiresync__v1__peer_ref__free_unpacked(m, NULL);
	return p;
}

static void
handle_show(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct admin *a = arg;
	const struct agent_conn *ac = admin_caller(call);
	const struct peer *p;
	struct buf b = { 0 };

	if (ac == NULL || (p = find_peer(a, call, ac, req, len)) == NULL)
		return;
	peerinfo_encode(&b, p);
	reply_buf(call, &b);
}

/* --- RemovePeer, AddStaticPeer: answered once the change is committed ------------------- */

struct admin_op {
	struct rpc_call *call;       /* NULL once the call is cancelled */
	char who[CERT_NAME_MAX * 2 + 8];
	struct buf info;             /* RemovePeer: the record as it was */
};

static void
op_cancelled(struct rpc_call *call, void *arg)
{
	struct admin_op *op = arg;

	op->call = NULL;
}

static struct admin_op *
op_new(struct rpc_call *call, const struct agent_conn *ac)
{
	struct admin_op *op = calloc(1, sizeof(*op));

	if (op == NULL)
		return NULL;
	op->call = call;
	snprintf(op->who, sizeof(op->who), "%s (%s)", ac->id.name, ac->id.network);
	return op;
}

static void
op_free(struct admin_op *op)
{
	free(op->info.data);
	free(op);
}

static void
remove_done(struct change *c, bool ok, void *arg)
{
	struct admin_op *op = arg;
	struct buf b = { 0 };

	if (op->call != NULL) {
		rpc_call_on_cancel(op->call, NULL, NULL);
		if (!ok) {
			rpc_call_fail(op->call, GRPC_UNAVAILABLE, "store write failed");
		} else if (!c->changed) {
			rpc_call_fail(op->call, GRPC_NOT_FOUND, "the peer was removed meanwhile");
		} else {
			buf_varint(&b, 1 << 3);
			buf_varint(&b, c->revision);
			buf_field(&b, 2, op->info.data, op->info.len);
			reply_buf(op->call, &b);
		}
	}
	if (ok && c->changed)
		log_info("%s removed peer %s", op->who, c->old->name);
	op_free(op);
}

static void
handle_remove(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct admin *a = arg;
	const struct agent_conn *ac = admin_caller(call);
	const struct peer *p;
	struct admin_op *op;
	struct change *c;

	if (ac == NULL || (p = find_peer(a, call, ac, req, len)) == NULL)
		return;
	op = op_new(call, ac);
	c = calloc(1, sizeof(*c));
	if (op != NULL)
		peerinfo_encode(&op->info, p);
	if (op == NULL || c == NULL || op->info.failed) {
		if (op != NULL)
			op_free(op);
		free(c);
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	c->kind = CHANGE_REMOVE;
	memcpy(c->key, p->key, WG_KEY_LEN);
	c->done = remove_done;
	c->done_arg = op;
	rpc_call_on_cancel(call, op_cancelled, op);
	svc_change_queue(a->svc, c);
}

static void
put_done(struct change *c, bool ok, void *arg)
{
	struct admin_op *op = arg;
	struct buf b = { 0 };

	if (op->call != NULL) {
		rpc_call_on_cancel(op->call, NULL, NULL);
		if (!ok || c->cur == NULL) {
			rpc_call_fail(op->call, GRPC_UNAVAILABLE, "store write failed");
		} else {
			peerinfo_encode(&b, c->cur);
			reply_buf(op->call, &b);
		}
	}
	if (ok && c->cur != NULL)
		log_info("%s %s static peer %s in network %s", op->who,
		    c->changed ? (c->old != NULL ? "updated" : "added") : "re-added", c->cur->name,
		    c->cur->network);
	op_free(op);
}

/* Verifies der exactly as the TLS handshake verifies an agent's certificate: chain to the
 * server's CAs, validity, CRL, clientAuth purpose; then the profile. */
static int
static_cert_check(struct admin *a, const uint8_t *der, size_t len, struct cert_identity *id,
    char *err, size_t errlen)
{
	const unsigned char *p = der;
	X509_STORE_CTX *sctx = NULL;
	X509 *x = NULL;
	char org[CERT_NAME_MAX + 2];
	int st = GRPC_INVALID_ARGUMENT, n;

	if (len == 0 || (x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len) {
		snprintf(err, errlen, "certificate: not one DER X.509 certificate");
		goto out;
	}
	if ((sctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(sctx, SSL_CTX_get_cert_store(a->ctx), x, NULL) != 1) {
		snprintf(err, errlen, "out of memory");
		st = GRPC_RESOURCE_EXHAUSTED;
		goto out;
	}
	X509_STORE_CTX_set_purpose(sctx, X509_PURPOSE_SSL_CLIENT);
	if (X509_verify_cert(sctx) != 1) {
		snprintf(err, errlen, "certificate does not verify: %s",
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(sctx)));
		st = GRPC_FAILED_PRECONDITION;
		goto out;
	}
	if (!cert_identity_from_x509(x, id, err, errlen))
		goto out;
	if (!id->has_key || id->admin) {
		snprintf(err, errlen, "certificate \"%s\" is not an agent's (one key URI, no admin role)",
		    id->name);
		goto out;
	}
	n = X509_NAME_get_text_by_NID(X509_get_issuer_name(x), NID_organizationName, org,
	    sizeof(org));
	if (n <= 0 || strcmp(org, id->network) != 0) {
		snprintf(err, errlen, "certificate \"%s\": network \"%s\" is not its CA's network",
		    id->name, id->network);
		st = GRPC_FAILED_PRECONDITION;
		goto out;
	}
	st = GRPC_OK;
out:
	X509_STORE_CTX_free(sctx);
	X509_free(x);
	return st;
}

/* "ip:port" or "[v6]:port" into addr and port. */
static bool
endpoint_parse(const char *s, struct netaddr *addr, uint32_t *port, char *err, size_t errlen)
{
	const char *colon = strrchr(s, ':');
	char host[NETADDR_STRLEN], why[128], *end;
	unsigned long v;
	size_t n;

	if (colon == NULL) {
		snprintf(err, errlen, "endpoint \"%.80s\": want IP:PORT", s);
		return false;
	}
	n = (size_t)(colon - s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	} else if (memchr(s, ':', n) != NULL) {
		snprintf(err, errlen, "endpoint: an IPv6 address needs brackets, [ADDR]:PORT");
		return false;
	}
	if (n == 0 || n >= sizeof(host)) {
		snprintf(err, errlen, "endpoint: bad address");
		return false;
	}
	memcpy(host, s, n);
	host[n] = '\0';
	v = strtoul(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || v == 0 || v > 65535) {
		snprintf(err, errlen, "endpoint \"%.80s\": port must be 1-65535", colon + 1);
		return false;
	}
	if (!netaddr_parse(host, false, addr, why, sizeof(why))) {
		snprintf(err, errlen, "endpoint: %s", why);
		return false;
	}
	*port = (uint32_t)v;
	return true;
}

static void
handle_add_static(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct admin *a = arg;
	const struct agent_conn *ac = admin_caller(call);
	Wiresync__V1__AddStaticPeerRequest *m;
	struct cert_identity id;
	const struct peer *old;
	struct peer *p = NULL;
	struct admin_op *op = NULL;
	struct change *c = NULL;
	char err[512];
	int st;

	if (ac == NULL)
		return;
	if ((m = wiresync__v1__add_static_peer_request__unpack(NULL, len, req)) == NULL) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "AddStaticPeerRequest does not decode");
		return;
	}
	st = static_cert_check(a, m->certificate.data, m->certificate.len, &id, err, sizeof(err));
	if (st != GRPC_OK)
		goto fail;
	if (strcmp(id.network, ac->id.network) != 0) {
		snprintf(err, sizeof(err), "certificate \"%s\" is for network %s; this certificate "
		    "administers network %s only", id.name, id.network, ac->id.network);
		st = GRPC_PERMISSION_DENIED;
		goto fail;
	}
	old = peer_table_get(a->svc->peers, id.key);
	if (old != NULL && !old->is_static) {
		snprintf(err, sizeof(err), "the key of \"%s\" belongs to agent peer \"%s\": remove it "
		    "first", id.name, old->name);
		st = GRPC_ALREADY_EXISTS;
		goto fail;
	}
	/* as for agents' Updates: a tunnel address belongs to one peer of a network */
	for (size_t i = 0; i < id.n_tunnel; i++) {
		const struct peer *o = peer_table_find_tunnel(a->svc->peers, id.network,
		    &id.tunnel[i], id.key);
		char addr[NETADDR_STRLEN];
		if (o != NULL) {
			snprintf(err, sizeof(err), "tunnel address %s of \"%s\" is already bound to "
			    "\"%s\" in network %s", netaddr_format(&id.tunnel[i], true, addr), id.name,
			    o->name, id.network);
			st = GRPC_ALREADY_EXISTS;
			goto fail;
		}
	}
	st = GRPC_RESOURCE_EXHAUSTED;
	snprintf(err, sizeof(err), "out of memory");
	if ((p = calloc(1, sizeof(*p))) == NULL || (p->cert = malloc(m->certificate.len)) == NULL ||
	    (op = op_new(call, ac)) == NULL || (c = calloc(1, sizeof(*c))) == NULL)
		goto fail;
	memcpy(p->cert, m->certificate.data, m->certificate.len);
	p->cert_len = m->certificate.len;
	memcpy(p->key, id.key, WG_KEY_LEN);
	snprintf(p->name, sizeof(p->name), "%s", id.name);
	snprintf(p->network, sizeof(p->network), "%s", id.network);
	p->n_tunnel = (uint8_t)id.n_tunnel;
	memcpy(p->tunnel, id.tunnel, sizeof(p->tunnel));
	p->is_static = true;
	if (m->endpoint[0] != '\0' &&
	    !endpoint_parse(m->endpoint, &p->wan, &p->listen_port, err, sizeof(err))) {
		st = GRPC_INVALID_ARGUMENT;
		goto fail;
	}
	wiresync__v1__add_static_peer_request__free_unpacked(m, NULL);
	c->kind = CHANGE_PUT;
	c->put = p;
	c->done = put_done;
	c->done_arg = op;
	rpc_call_on_cancel(call, op_cancelled, op);
	svc_change_queue(a->svc, c);
	return;
fail:
	log_info("%s (%s): AddStaticPeer refused: %s", ac->id.name, ac->id.network, err);
	wiresync__v1__add_static_peer_request__free_unpacked(m, NULL);
	peer_free(p);
	if (op != NULL)
		op_free(op);
	free(c);
	rpc_call_fail(call, st, "%s", err);
}

/* --- Status ----------------------------------------------------------------------------- */

struct expiry_ctx {
	int64_t limit;
	Wiresync__V1__ExpiringCertificate *v;
	size_t n, cap;
	char (*serials)[80];
	bool failed;
};

static int
expiry_one(const struct peer *p, void *arg)
{
	struct expiry_ctx *e = arg;
	struct cert_identity id;
	char err[160];

	if (!cert_identity_from_der(p->cert, p->cert_len, &id, err, sizeof(err)) ||
	    id.not_after > e->limit)
		return 0;
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 16;
		void *v = realloc(e->v, cap * sizeof(*e->v));
		if (v == NULL)
			return -1;
		e->v = v;
		if ((v = realloc(e->serials, cap * sizeof(*e->serials))) == NULL)
			return -1;
		e->serials = v;
		e->cap = cap;
	}
	wiresync__v1__expiring_certificate__init(&e->v[e->n]);
	e->v[e->n].name = (char *)p->name;
	e->v[e->n].network = (char *)p->network;
	e->v[e->n].public_key.data = (uint8_t *)p->key;
	e->v[e->n].public_key.len = WG_KEY_LEN;
	e->v[e->n].not_after = id.not_after;
	snprintf(e->serials[e->n], sizeof(e->serials[0]), "%s", id.serial);
	e->n++;
	return 0;
}

static int
expiry_cmp(const void *x, const void *y)
{
	const Wiresync__V1__ExpiringCertificate *a = x, *b = y;

	if (a->not_after != b->not_after)
		return a->not_after < b->not_after ? -1 : 1;
	return strcmp(a->name, b->name);
}

static void
handle_status(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct admin *a = arg;
	const struct agent_conn *ac = admin_caller(call);
	Wiresync__V1__StatusRequest *m;
	Wiresync__V1__StatusReply r = WIRESYNC__V1__STATUS_REPLY__INIT;
	Wiresync__V1__ExpiringCertificate **ptrs = NULL;
	struct expiry_ctx e = { 0 };
	struct collect c;
	uint32_t days;
	int64_t now = wall_s();

	if (ac == NULL)
		return;
	if ((m = wiresync__v1__status_request__unpack(NULL, len, req)) == NULL) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "StatusRequest does not decode");
		return;
	}
	days = m->expiry_warn_days != 0 ? m->expiry_warn_days : a->cfg.expiry_warn_days;
	wiresync__v1__status_request__free_unpacked(m, NULL);
	if (days > 36500) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "expiry_warn_days: at most 36500");
		return;
	}
	e.limit = now + (int64_t)days * 86400;
	c.v = NULL;
	if (peer_table_foreach(a->svc->peers, ac->id.network, expiry_one, &e) != 0 ||
	    collect_peers(a, ac->id.network, NULL, &c) < 0 ||
	    (e.n > 0 && (ptrs = malloc(e.n * sizeof(*ptrs))) == NULL)) {
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	/* each serial goes with its entry through the sort */
	for (size_t i = 0; i < e.n; i++)
		e.v[i].serial = e.serials[i];
	if (e.n > 1)
		qsort(e.v, e.n, sizeof(*e.v), expiry_cmp);
	for (size_t i = 0; i < e.n; i++)
		ptrs[i] = &e.v[i];
	r.version = (char *)PACKAGE_VERSION;
	r.uptime_s = (int64_t)((loop_now_ms(a->svc->loop) - a->started_ms) / 1000);
	r.connections = a->srv != NULL ? rpc_server_connections(a->srv) : 0;
	r.watchers = service_watcher_count(a->svc);
	r.revision = a->svc->revision;
	r.store_bytes = store_size(a->st);
	r.peers = c.n;
	r.peers_total = service_peer_count(a->svc);
	{
		/* the CRL of the caller's network; the oldest when several CAs serve it */
		int64_t this_up, next_up;
		bool has = crlset_network_times(a->svc->crls, ac->id.network, &this_up, &next_up);
		r.crl_age_s = has && this_up > 0 ? now - this_up : -1;
		r.crl_next_update = has ? next_up : 0;
	}
	r.expiry_warn_days = days;
	r.n_expiring = e.n;
	r.expiring = ptrs;
	reply_packed(call, &r.base);
out:
	free(c.v);
	free(ptrs);
	free(e.v);
	free(e.serials);
}

/* --- Backup: the store copied with the SQLite backup API, streamed in chunks ------------- */

struct backup {
	struct admin *a;
	struct rpc_call *call;
	uint8_t *img;
	size_t len, off;
	uint64_t revision;
	uint8_t sha[SHA256_DIGEST_LENGTH];
	char who[CERT_NAME_MAX * 2 + 8];
};

static void
backup_free(struct backup *b)
{
	if (b->a->backup == b)
		b->a->backup = NULL;
	store_image_free(b->img);
	free(b);
}

static void
backup_cancelled(struct rpc_call *call, void *arg)
{
	struct backup *b = arg;

	log_info("%s: Backup ended by the client after %zu of %zu bytes", b->who, b->off, b->len);
	backup_free(b);
}

static void backup_pump(struct rpc_call *call, void *arg);

/* Queues chunks until the stream holds BACKUP_QUEUE bytes, then waits for it to drain. */
static void
backup_pump(struct rpc_call *call, void *arg)
{
	struct backup *b = arg;

	while (b->off < b->len && rpc_call_queued(call) < BACKUP_QUEUE) {
		Wiresync__V1__BackupChunk m = WIRESYNC__V1__BACKUP_CHUNK__INIT;
		size_t n = b->len - b->off < BACKUP_CHUNK ? b->len - b->off : BACKUP_CHUNK;
		uint8_t *msg;
		struct rpc_buf *rb;
		size_t mlen;

		m.data.data = b->img + b->off;
		m.data.len = n;
		m.total_bytes = b->len;
		m.revision = b->revision;
		m.last = b->off + n == b->len;
		if (m.last) {
			m.sha256.data = b->sha;
			m.sha256.len = sizeof(b->sha);
		}
		mlen = wiresync__v1__backup_chunk__get_packed_size(&m);
		if ((msg = malloc(mlen)) == NULL)
			goto oom;
		wiresync__v1__backup_chunk__pack(&m, msg);
		rb = rpc_buf_new(msg, mlen);
		free(msg);
		if (rb == NULL || rpc_call_send(call, rb, 0) < 0) {
			rpc_buf_unref(rb);
			goto oom;
		}
		rpc_buf_unref(rb);
		b->off += n;
	}
	if (b->off < b->len) {
		rpc_call_on_drain(call, BACKUP_QUEUE / 4, backup_pump, b);
		return;
	}
	log_info("%s: Backup of %zu bytes at revision %llu sent", b->who, b->len,
	    (unsigned long long)b->revision);
	rpc_call_on_cancel(call, NULL, NULL);
	rpc_call_finish(call);
	backup_free(b);
	return;
oom:
	rpc_call_on_cancel(call, NULL, NULL);
	rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
	backup_free(b);
}

static void
handle_backup(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct admin *a = arg;
	const struct agent_conn *ac = admin_caller(call);
	struct backup *b;
	int r;

	if (ac == NULL)
		return;
	if (a->backup != NULL) {
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "another backup is running");
		return;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	b->a = a;
	b->call = call;
	snprintf(b->who, sizeof(b->who), "%s (%s)", ac->id.name, ac->id.network);
	/* No transaction is open between loop turns: the copy is of committed state. */
	b->revision = a->svc->revision;
	if ((r = store_backup_image(a->st, &b->img, &b->len)) < 0) {
		free(b);
		rpc_call_fail(call, GRPC_INTERNAL, "backup failed: %s", strerror(-r));
		return;
	}
	SHA256(b->img, b->len, b->sha);
	a->backup = b;
	log_info("%s: Backup of the store (%zu bytes, revision %llu) started", b->who, b->len,
	    (unsigned long long)b->revision);
	rpc_call_accept(call);
	rpc_call_on_cancel(call, backup_cancelled, b);
	backup_pump(call, b);
}

/* --- the service ------------------------------------------------------------------------ */

struct admin *
admin_new(struct service *svc, struct store *st, SSL_CTX *ctx, const struct admin_config *cfg)
{
	static const struct {
		const char *path;
		rpc_handler_fn fn;
		bool streaming;
	} own[N_ADMIN] = {
		[A_LIST] = { ADMIN_PATH "ListPeers", handle_list, false },
		[A_SHOW] = { ADMIN_PATH "ShowPeer", handle_show, false },
		[A_REMOVE] = { ADMIN_PATH "RemovePeer", handle_remove, false },
		[A_ADD_STATIC] = { ADMIN_PATH "AddStaticPeer", handle_add_static, false },
		[A_STATUS] = { ADMIN_PATH "Status", handle_status, false },
		[A_BACKUP] = { ADMIN_PATH "Backup", handle_backup, true },
	};
	const struct rpc_method *sm;
	struct admin *a;
	size_t n;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->svc = svc;
	a->st = st;
	a->ctx = ctx;
	a->cfg = *cfg;
	a->started_ms = loop_now_ms(svc->loop);
	sm = service_methods(svc, &n);
	if ((a->methods = calloc(n + N_ADMIN, sizeof(*a->methods))) == NULL) {
		free(a);
		return NULL;
	}
	memcpy(a->methods, sm, n * sizeof(*sm));
	for (size_t i = 0; i < N_ADMIN; i++)
		a->methods[n + i] = (struct rpc_method){ own[i].path, own[i].fn, a, own[i].streaming };
	a->n_methods = n + N_ADMIN;
	return a;
}

void
admin_del(struct admin *a)
{
	if (a == NULL)
		return;
	if (a->backup != NULL)
		backup_free(a->backup);
	free(a->methods);
	free(a);
}

const struct rpc_method *
admin_methods(struct admin *a, size_t *n)
{
	*n = a->n_methods;
	return a->methods;
}

void
admin_set_server(struct admin *a, struct rpc_server *srv)
{
	a->srv = srv;
}
