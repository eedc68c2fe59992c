/* wiresync.v1.Admin, continued (admin.c has the rest): AddStaticPeer, which verifies the
 * certificate as the handshake would and queues the record as a change; Status; Backup,
 * the store's image streamed in chunks at the pace the client reads them. */
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
#include "server/admin_impl.h"
#include "server/crl.h"
#include "server/service_impl.h"

#define BACKUP_CHUNK (64u * 1024)
#define BACKUP_QUEUE (256u * 1024)   /* queued on the stream before waiting for a drain */

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

/* --- AddStaticPeer: answered once the change is committed ---------------------------- */

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
			adm_peerinfo_encode(&b, c->cur);
			adm_reply_buf(op->call, &b);
		}
	}
	if (ok && c->cur != NULL)
		log_info("%s %s static peer %s in network %s", op->who,
		    c->changed ? (c->old != NULL ? "updated" : "added") : "re-added", c->cur->name,
		    c->cur->network);
	if (ok && c->cur != NULL)
		adm_audit_peer(op, "add-static", c->changed ? (c->old != NULL ? "updated " : "") :
		    "re-added ", c->cur);
	adm_op_free(op);
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

void
adm_handle_add_static(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct admin *a = arg;
	const struct agent_conn *ac = adm_caller(call);
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
	    (op = adm_op_new(call, ac)) == NULL || (c = calloc(1, sizeof(*c))) == NULL)
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
	rpc_call_on_cancel(call, adm_op_cancelled, op);
	svc_change_queue(a->svc, c);
	return;
fail:
	log_info("%s (%s): AddStaticPeer refused: %s", ac->id.name, ac->id.network, err);
	wiresync__v1__add_static_peer_request__free_unpacked(m, NULL);
	peer_free(p);
	if (op != NULL)
		adm_op_free(op);
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

/* The servers of a shared store, gathered before Status answers. */
struct status_wait {
	struct admin *a;
	struct rpc_call *call;       /* NULL once the caller went away */
	uint32_t days;
	Wiresync__V1__ClusterServer *v;
	size_t n, cap;
	char (*names)[128], (*addrs)[128];
};

static void status_reply(struct admin *a, struct rpc_call *call, uint32_t days,
    struct status_wait *sw);

static void
status_cancelled(struct rpc_call *call, void *arg)
{
	(void)call;
	((struct status_wait *)arg)->call = NULL;
}

static void
status_server(void *arg, const char *name, const char *address, int64_t until_ms)
{
	struct status_wait *sw = arg;

	if (sw->n == sw->cap) {
		size_t cap = sw->cap ? 2 * sw->cap : 8;
		void *v = realloc(sw->v, cap * sizeof(*sw->v));
		void *nm = v != NULL ? realloc(sw->names, cap * sizeof(*sw->names)) : NULL;
		void *ad = nm != NULL ? realloc(sw->addrs, cap * sizeof(*sw->addrs)) : NULL;
		if (v != NULL)
			sw->v = v;
		if (nm != NULL)
			sw->names = nm;
		if (ad == NULL)
			return;
		sw->addrs = ad;
		sw->cap = cap;
	}
	snprintf(sw->names[sw->n], sizeof(sw->names[0]), "%s", name);
	snprintf(sw->addrs[sw->n], sizeof(sw->addrs[0]), "%s", address);
	wiresync__v1__cluster_server__init(&sw->v[sw->n]);
	sw->v[sw->n].lease_until_ms = until_ms;
	sw->n++;
}

static void
status_wait_free(struct status_wait *sw)
{
	free(sw->v);
	free(sw->names);
	free(sw->addrs);
	free(sw);
}

static void
status_servers_done(void *arg, int err)
{
	struct status_wait *sw = arg;

	if (err != 0)
		sw->n = 0;           /* the database is away: this server alone */
	if (sw->call != NULL) {
		rpc_call_on_cancel(sw->call, NULL, NULL);
		status_reply(sw->a, sw->call, sw->days, sw);
	}
	status_wait_free(sw);
}

void
adm_handle_status(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct admin *a = arg;
	const struct agent_conn *ac = adm_caller(call);
	Wiresync__V1__StatusRequest *m;
	struct status_wait *sw;
	uint32_t days;

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
	if (!store_shared(a->st)) {
		status_reply(a, call, days, NULL);
		return;
	}
	/* the cluster's servers come from the database: the answer waits for them */
	if ((sw = calloc(1, sizeof(*sw))) == NULL) {
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	sw->a = a;
	sw->call = call;
	sw->days = days;
	if (store_servers(a->st, status_server, status_servers_done, sw) != 0) {
		status_reply(a, call, days, sw);
		status_wait_free(sw);
		return;
	}
	rpc_call_on_cancel(call, status_cancelled, sw);
}

static void
status_reply(struct admin *a, struct rpc_call *call, uint32_t days, struct status_wait *sw)
{
	const struct agent_conn *ac = adm_caller(call);
	Wiresync__V1__StatusReply r = WIRESYNC__V1__STATUS_REPLY__INIT;
	Wiresync__V1__ExpiringCertificate **ptrs = NULL;
	Wiresync__V1__ClusterServer **sp = NULL;
	struct expiry_ctx e = { 0 };
	struct collect c;
	int64_t now = wall_s();

	if (ac == NULL)
		return;
	e.limit = now + (int64_t)days * 86400;
	c.v = NULL;
	if (peer_table_foreach(a->svc->peers, ac->id.network, expiry_one, &e) != 0 ||
	    adm_collect_peers(a, ac->id.network, NULL, &c) < 0 ||
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
	r.relay_endpoint = a->relay_endpoint;
	r.hub_port = a->hub_port;
	r.n_expiring = e.n;
	r.expiring = ptrs;
	r.store_kind = store_shared(a->st) ? "postgresql" : "sqlite";
	r.server_name = (char *)(store_server_name(a->st) != NULL ? store_server_name(a->st) :
	    "");
	if (sw != NULL && sw->n > 0 && (sp = malloc(sw->n * sizeof(*sp))) != NULL) {
		for (size_t i = 0; i < sw->n; i++) {
			sw->v[i].name = sw->names[i];
			sw->v[i].address = sw->addrs[i];
			sp[i] = &sw->v[i];
		}
		r.n_servers = sw->n;
		r.servers = sp;
	}
	reply_packed(call, &r.base);
out:
	free(sp);
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

void
adm_backup_free(struct backup *b)
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
	adm_backup_free(b);
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
	adm_backup_free(b);
	return;
oom:
	rpc_call_on_cancel(call, NULL, NULL);
	rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
	adm_backup_free(b);
}

void
adm_handle_backup(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct admin *a = arg;
	const struct agent_conn *ac = adm_caller(call);
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
		/* a cluster's store is the database's to copy, whole and consistent */
		if (r == -ENOTSUP) {
			log_info("%s (%s): Backup refused: the store is a PostgreSQL database",
			    ac->id.name, ac->id.network);
			rpc_call_fail(call, GRPC_FAILED_PRECONDITION, "the store is a PostgreSQL "
			    "database (database = postgresql://...), which wiresyncd does not copy: "
			    "back it up with pg_dump");
		} else
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
