/* The service's reads, answered from the peer table: Keys, GetPeer and the gRPC health
 * check; and the wait of any read that comes while a batch is in a shared store's hands
 * (svc_read_park). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "proto/health.pb-c.h"
#include "proto/wiresync.pb-c.h"
#include "rpc/grpc.h"
#include "server/pairing.h"
#include "server/peerpb.h"
#include "server/peers.h"
#include "server/service_impl.h"

static bool
same_lan(const struct peer *a, const struct peer *b)
{
	return a != NULL && b != NULL && a->lan_id_len > 0 && a->lan_id_len == b->lan_id_len &&
	    memcmp(a->lan_id, b->lan_id, a->lan_id_len) == 0;
}

/* --- reads that wait for a batch ------------------------------------------------------- */

struct parked_read {
	struct parked_read *next;
	struct rpc_call *call;               /* NULL once the call is gone */
	rpc_handler_fn fn;
	void *arg;
	size_t len;
	uint8_t req[];
};

static void
read_cancelled(struct rpc_call *call, void *arg)
{
	struct parked_read *pr = arg;

	(void)call;
	pr->call = NULL;
}

bool
svc_read_park(struct service *svc, struct rpc_call *call, const uint8_t *req, size_t len,
    rpc_handler_fn fn, void *arg)
{
	struct parked_read *pr;

	/* on SQLite a batch is committed before its turn ends: no read ever sees one */
	if (svc->batch == NULL)
		return false;
	if ((pr = malloc(sizeof(*pr) + len)) == NULL) {
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return true;
	}
	pr->next = NULL;
	pr->call = call;
	pr->fn = fn;
	pr->arg = arg;
	pr->len = len;
	if (len > 0)
		memcpy(pr->req, req, len);
	if (svc->reads == NULL)
		svc->reads_tail = &svc->reads;
	*svc->reads_tail = pr;
	svc->reads_tail = &pr->next;
	rpc_call_on_cancel(call, read_cancelled, pr);
	return true;
}

void
svc_reads_unpark_all(struct service *svc)
{
	struct parked_read *pr, *list = svc->reads;

	svc->reads = NULL;
	while ((pr = list) != NULL) {
		list = pr->next;
		if (pr->call != NULL) {
			rpc_call_on_cancel(pr->call, NULL, NULL);
			pr->fn(pr->call, pr->req, pr->len, pr->arg);
		}
		free(pr);
	}
}

void
svc_reads_free_all(struct service *svc)
{
	struct parked_read *pr;

	while ((pr = svc->reads) != NULL) {
		svc->reads = pr->next;
		if (pr->call != NULL)
			rpc_call_on_cancel(pr->call, NULL, NULL);
		free(pr);
	}
}

/* --- Keys, GetPeer ---------------------------------------------------------------------- */

struct keys_ctx {
	const struct service *svc;
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
	if (!pairing_visible(k->svc->policies, &k->ac->id, p))
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

void
svc_handle_keys(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct service *svc = arg;
	struct agent_conn *ac = rpc_call_conn_user(call);
	Wiresync__V1__KeysRequest *m;
	Wiresync__V1__KeysReply r = WIRESYNC__V1__KEYS_REPLY__INIT;
	struct keys_ctx k = { .svc = svc, .ac = ac };

	if (svc_read_park(svc, call, req, len, svc_handle_keys, arg))
		return;
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
	svc_reply_message(call, &r.base);
	free(k.ptrs);
	free(k.keys);
}

void
svc_handle_getpeer(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct service *svc = arg;
	struct agent_conn *ac = rpc_call_conn_user(call);
	Wiresync__V1__GetPeerRequest *m;
	const struct peer *p;
	struct rpc_buf *buf;
	char err[128];

	if (svc_read_park(svc, call, req, len, svc_handle_getpeer, arg))
		return;
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
	/* Another network's peer, the caller itself, or one the policy does not pair it with
	 * does not exist for the caller. */
	if (p == NULL || strcmp(p->network, ac->id.network) != 0 ||
	    (ac->id.has_key && memcmp(p->key, ac->id.key, WG_KEY_LEN) == 0) ||
	    !pairing_visible(svc->policies, &ac->id, p)) {
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

void
svc_handle_health(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
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
	svc_reply_message(call, &r.base);
}
