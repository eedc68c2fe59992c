/* wiresync.v1.Admin: the operator's view of the store. Reads come from the peer table;
 * removals and static peers go through the service's change queue, so they are committed
 * with the next group commit and reach every watcher like any other change. This file holds
 * the shared helpers, ListPeers, ShowPeer, RemovePeer and the lifecycle; admin_ops.c holds
 * AddStaticPeer, Status and Backup. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/admin.pb-c.h"
#include "rpc/grpc.h"
#include "rpc/log.h"
#include "server/admin.h"
#include "server/admin_impl.h"
#include "server/peerpb.h"
#include "server/service_impl.h"

#define ADMIN_PATH "/wiresync.v1.Admin/"

enum { A_LIST, A_SHOW, A_REMOVE, A_ADD_STATIC, A_STATUS, A_BACKUP, A_POLICY, A_CAN_PAIR,
	A_LIST_PENDING, A_PREPARE, A_APPROVE, A_DENY, A_CREATE_TOKEN,
	A_AUDIT,
	A_LIST_LINKS,
	N_ADMIN };

/* --- helpers ---------------------------------------------------------------------------- */

/* The caller, when its certificate is an admin's; otherwise the call is failed. */
const struct agent_conn *
adm_caller(struct rpc_call *call)
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
void
adm_peerinfo_encode(struct buf *b, const struct peer *p)
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

void
adm_reply_buf(struct rpc_call *call, struct buf *b)
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
int
adm_collect_peers(const struct admin *a, const char *network, const char *name, struct collect *c)
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
	const struct agent_conn *ac = adm_caller(call);
	Wiresync__V1__ListPeersRequest *m;
	struct collect c;
	struct buf b = { 0 };
	bool other;

	if (ac == NULL || svc_read_park(a->svc, call, req, len, handle_list, arg))
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
	if (adm_collect_peers(a, ac->id.network, NULL, &c) < 0) {
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	for (size_t i = 0; i < c.n; i++) {
		struct buf one = { 0 };
		adm_peerinfo_encode(&one, c.v[i]);
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
	adm_reply_buf(call, &b);
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
	} else if (adm_collect_peers(a, ac->id.network, m->name, &c) < 0) {
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
	const struct agent_conn *ac = adm_caller(call);
	const struct peer *p;
	struct buf b = { 0 };

	if (ac == NULL || svc_read_park(a->svc, call, req, len, handle_show, arg) ||
	    (p = find_peer(a, call, ac, req, len)) == NULL)
		return;
	adm_peerinfo_encode(&b, p);
	adm_reply_buf(call, &b);
}

/* --- RemovePeer, AddStaticPeer: answered once the change is committed ------------------- */

void
adm_op_cancelled(struct rpc_call *call, void *arg)
{
	struct admin_op *op = arg;

	op->call = NULL;
}

struct admin_op *
adm_op_new(struct rpc_call *call, const struct agent_conn *ac)
{
	struct admin_op *op = calloc(1, sizeof(*op));

	if (op == NULL)
		return NULL;
	op->call = call;
	snprintf(op->who, sizeof(op->who), "%s (%s)", ac->id.name, ac->id.network);
	op->svc = ac->svc;
	snprintf(op->admin, sizeof(op->admin), "%s", ac->id.name);
	snprintf(op->serial, sizeof(op->serial), "%s", ac->id.serial);
	snprintf(op->network, sizeof(op->network), "%s", ac->id.network);
	return op;
}

void
adm_op_free(struct admin_op *op)
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
			adm_reply_buf(op->call, &b);
		}
	}
	if (ok && c->changed)
		log_info("%s removed peer %s", op->who, c->old->name);
	if (ok && c->changed)
		adm_audit_peer(op, "remove", "", c->old);
	adm_op_free(op);
}

static void
handle_remove(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct admin *a = arg;
	const struct agent_conn *ac = adm_caller(call);
	const struct peer *p;
	struct admin_op *op;
	struct change *c;

	if (ac == NULL || (p = find_peer(a, call, ac, req, len)) == NULL)
		return;
	op = adm_op_new(call, ac);
	c = calloc(1, sizeof(*c));
	if (op != NULL)
		adm_peerinfo_encode(&op->info, p);
	if (op == NULL || c == NULL || op->info.failed) {
		if (op != NULL)
			adm_op_free(op);
		free(c);
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	c->kind = CHANGE_REMOVE;
	memcpy(c->key, p->key, WG_KEY_LEN);
	c->done = remove_done;
	c->done_arg = op;
	rpc_call_on_cancel(call, adm_op_cancelled, op);
	svc_change_queue(a->svc, c);
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
		[A_ADD_STATIC] = { ADMIN_PATH "AddStaticPeer", adm_handle_add_static, false },
		[A_STATUS] = { ADMIN_PATH "Status", adm_handle_status, false },
		[A_BACKUP] = { ADMIN_PATH "Backup", adm_handle_backup, true },
		[A_POLICY] = { ADMIN_PATH "Policy", adm_handle_policy, false },
		[A_CAN_PAIR] = { ADMIN_PATH "CanPair", adm_handle_can_pair, false },
		[A_LIST_PENDING] = { ADMIN_PATH "ListPending", adm_handle_list_pending, false },
		[A_PREPARE] = { ADMIN_PATH "PrepareApproval", adm_handle_prepare_approval, false },
		[A_APPROVE] = { ADMIN_PATH "Approve", adm_handle_approve, false },
		[A_DENY] = { ADMIN_PATH "Deny", adm_handle_deny, false },
		[A_CREATE_TOKEN] = { ADMIN_PATH "CreateToken", adm_handle_create_token, false },
		[A_AUDIT] = { ADMIN_PATH "Audit", adm_handle_audit, false },
		[A_LIST_LINKS] = { ADMIN_PATH "ListLinks", adm_handle_list_links, false },
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
	for (size_t i = 0, g = 0; i < N_ADMIN; i++) {
		struct rpc_method m = { own[i].path, own[i].fn, a, own[i].streaming };
		/* what decides join requests or makes tokens runs from the store's state */
		bool enrol = i == A_LIST_PENDING || i == A_PREPARE || i == A_APPROVE ||
		    i == A_DENY || i == A_CREATE_TOKEN;
		a->methods[n + i] = enrol ? enroll_gated(&a->gates[g++], svc, &m) : m;
	}
	a->n_methods = n + N_ADMIN;
	return a;
}

void
admin_del(struct admin *a)
{
	if (a == NULL)
		return;
	if (a->backup != NULL)
		adm_backup_free(a->backup);
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

void
admin_set_paths(struct admin *a, const char *relay_endpoint, uint16_t hub_port)
{
	snprintf(a->relay_endpoint, sizeof(a->relay_endpoint), "%s",
	    relay_endpoint != NULL ? relay_endpoint : "");
	a->hub_port = hub_port;
}

void
admin_set_enroll(struct admin *a, struct enroll *e)
{
	a->enroll = e;
}
