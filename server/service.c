/* wiresync.v1.WireSync: the caller is its certificate; every answer is limited to the
 * caller's network and never includes the caller. This file holds the service's lifecycle
 * (load from the store, method table, teardown, the follower bound to the fan-out), the
 * reply helper and the accessors; admission.c, update.c, reads.c, janitor.c, fanout.c,
 * follower.c and retry.c hold the rest. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "rpc/grpc.h"
#include "server/crl.h"
#include "server/idcount.h"
#include "server/links.h"
#include "server/ratelimit.h"
#include "server/peers.h"
#include "server/policyset.h"
#include "server/service_impl.h"

/* --- helpers ---------------------------------------------------------------------------- */

void
svc_reply_message(struct rpc_call *call, const ProtobufCMessage *m)
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

/* The follower's sink: the fan-out of fanout.c. */
static void
follow_upsert(void *arg, const struct peer *p)
{
	struct service *svc = arg;

	watch_broadcast_upsert(svc, p);
	/* a shared store: another server set offline a host that watches here (it expired
	 * our lease while we were cut off from the database, or had the host before) */
	if (!p->online && !p->is_static && idcount_get(svc->watches, p->key) > 0)
		watch_presence_queue(svc, p->key, true);
}

static void
follow_removed(void *arg, const uint8_t key[WG_KEY_LEN], const char *network,
    uint64_t revision)
{
	watch_broadcast_removed(arg, key, network, revision);
}

static void
follow_resync(void *arg)
{
	watch_catch_up_all(arg);
}

/* The follower is where it read to: the table holds every revision up to there, and a
 * batch that waited for its import may go. */
static void
follow_advanced(void *arg, uint64_t applied)
{
	struct service *svc = arg;

	if (applied > svc->revision)
		svc->revision = applied;
	service_commit_resume(svc);
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
	cfg->audit_max_entries = 10000;
	cfg->link_up_window_s = 180;
}

struct service *
service_new(struct loop *l, struct store *st, const struct service_config *cfg, char *err,
    size_t errlen)
{
	struct service *svc;
	struct follower_sink sink = { follow_upsert, follow_removed, follow_resync,
	    follow_advanced, NULL };

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
	sink.arg = svc;
	if (svc->peers != NULL)
		svc->follower = follower_new(l, st, svc->peers, &sink, svc->revision);
	if (cfg->update_rate_per_s > 0)
		svc->update_rate = ratelimit_new(cfg->update_rate_per_s, cfg->update_burst);
	if (svc->peers == NULL || svc->watches == NULL || svc->conns_per_id == NULL ||
	    svc->retry_presence == NULL || svc->follower == NULL ||
	    (cfg->update_rate_per_s > 0 && svc->update_rate == NULL) ||
	    store_peers_foreach(st, load_peer, svc) != 0 ||
	    loop_timer_set(l, &svc->restart_timer, cfg->restart_grace_ms, watch_restart_grace_over,
	    svc) < 0) {
		snprintf(err, errlen, "cannot load peers from the store");
		service_del(svc);
		return NULL;
	}
	svc->methods[M_UPDATE] = (struct rpc_method){ "/wiresync.v1.WireSync/Update", svc_handle_update, svc, false };
	svc->methods[M_KEYS] = (struct rpc_method){ "/wiresync.v1.WireSync/Keys", svc_handle_keys, svc, false };
	svc->methods[M_GETPEER] = (struct rpc_method){ "/wiresync.v1.WireSync/GetPeer", svc_handle_getpeer, svc, false };
	svc->methods[M_WATCH] = (struct rpc_method){ "/wiresync.v1.WireSync/Watch", watch_handle, svc, true };
	svc->methods[M_RENEW] = enroll_gated(&svc->renew_gate, svc, &(struct rpc_method){
	    "/wiresync.v1.WireSync/Renew", svc_handle_renew, svc, false });
	svc->methods[M_REPORT_LINKS] = (struct rpc_method){ "/wiresync.v1.WireSync/ReportLinks", links_handle_report, svc, false };
	if ((svc->links = links_new(svc, st, cfg->link_up_window_s, err, errlen)) == NULL) {
		service_del(svc);
		return NULL;
	}
	svc->methods[M_HEALTH] = (struct rpc_method){ "/grpc.health.v1.Health/Check", svc_handle_health, svc, false };
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
	/* a batch in a shared store's hands: its answer will reach nobody (store_close) */
	while (svc->batch != NULL) {
		struct change *c = svc->batch;
		svc->batch = c->next;
		if (c->done != NULL)
			c->done(c, false, c->done_arg);
		peer_free(c->put);
		peer_free(c->old);
		free(c);
	}
	watch_free_all(svc);
	svc_reads_free_all(svc);
	follower_del(svc->follower);
	links_del(svc->links);
	svc_retry_free(svc);
	free(svc->writes);
	crlset_del(svc->crls);
	policyset_del(svc->policies);
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

const struct crlset *
service_crls(const struct service *svc)
{
	return svc->crls;
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

void
service_set_paths(struct service *svc, const char *relay_endpoint, uint16_t hub_port)
{
	snprintf(svc->relay_endpoint, sizeof(svc->relay_endpoint), "%s",
	    relay_endpoint != NULL ? relay_endpoint : "");
	svc->hub_port = hub_port;
}

void
service_set_issuer(struct service *svc, const struct issuer *is)
{
	svc->issuer = is;
}

const struct issuer *
service_issuer(const struct service *svc)
{
	return svc->issuer;
}

size_t
service_watcher_count(const struct service *svc)
{
	return svc->n_watchers;
}

int
service_on_commit(struct service *svc, service_commit_fn fn, void *arg)
{
	if (svc->n_on_commit == SERVICE_COMMIT_HOOKS)
		return -1;
	svc->on_commit[svc->n_on_commit].fn = fn;
	svc->on_commit[svc->n_on_commit].arg = arg;
	svc->n_on_commit++;
	return 0;
}

const struct peer *
service_peer_get(const struct service *svc, const uint8_t key[WG_KEY_LEN])
{
	return peer_table_get(svc->peers, key);
}

int
service_peers_foreach(const struct service *svc, int (*fn)(const struct peer *p, void *arg),
    void *arg)
{
	return peer_table_foreach(svc->peers, NULL, fn, arg);
}
