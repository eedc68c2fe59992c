/* The link report's I/O (agent/linkreport.h holds the decisions): every LINKS_TICK_S the
 * interface is read, each known peer's path and counters built into a report, and a due
 * report sent with WireSync.ReportLinks on a connection of its own (our certificate, like
 * Update's), one call at a time. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_impl.h"
#include "agent/endpoint.h"
#include "agent/linkreport.h"
#include "proto/wiresync.pb-c.h"
#include "rpc/grpc.h"
#include "rpc/h2client.h"
#include "rpc/log.h"
#include "wg/wg.h"

#define LINKS_TICK_S 1               /* how often the interface is looked at: a cheap read,
                                        and a stall (rx not growing) shows within a second;
                                        reports stay bounded by linkreport_due */
#define LINKS_TIMEOUT_MS 10000

struct agent_links {
	struct agent *a;
	struct linkreport lr;
	struct loop_timer tick;
	struct loop_defer drop;
	struct rpc_client *client, *stale;
	SSL_CTX *ctx;                        /* the client's: a renewal brings a new one */
	uint64_t gen;                        /* the client's server (a->servers.gen) */
	bool inflight;
	bool stopping;                       /* agent_links_del: calls end, nothing more */
	uint32_t reply_min_s;
	int last_status;                     /* of the last call, to log a change once */
	int64_t refused_until_s;             /* our certificate refused: no report before */
};

static void tick(void *arg);

static void
drop_deferred(void *arg)
{
	struct agent_links *l = arg;

	rpc_client_del(l->stale);
	l->stale = NULL;
}

/* Never freed inside its own callback. */
static void
drop_client(struct agent_links *l)
{
	if (l->client == NULL)
		return;
	rpc_client_del(l->stale);
	l->stale = l->client;
	l->client = NULL;
	loop_defer(l->a->loop, &l->drop, drop_deferred, l);
}

static void
on_reply(void *arg, const uint8_t *data, size_t len)
{
	struct agent_links *l = arg;
	Wiresync__V1__LinkReportReply *r = wiresync__v1__link_report_reply__unpack(NULL, len,
	    data);

	if (r == NULL)
		return;
	l->reply_min_s = r->min_interval_s;
	wiresync__v1__link_report_reply__free_unpacked(r, NULL);
}

static void
on_done(void *arg, int status, const char *message)
{
	struct agent_links *l = arg;

	l->inflight = false;
	if (l->stopping)
		return;
	if (status == GRPC_OK) {
		if (linkreport_sent(&l->lr, l->reply_min_s) < 0)
			log_warnx("link report: out of memory");
	} else {
		if (status != l->last_status)
			log_warnx("ReportLinks failed: %s: %s; trying again later",
			    grpc_status_name(status), message);
		/* a server without ReportLinks (older) or a busy one: back off the full gap */
		if (status == GRPC_UNIMPLEMENTED || status == GRPC_RESOURCE_EXHAUSTED)
			l->lr.attempted_s = now_s();
		/* revoked or expired: only the operator can fix that; Update and Watch say so
		 * and retry at minutes, and so do we */
		if (refusal_classify(status, message) != REFUSAL_NONE)
			l->refused_until_s = now_s() + REFUSAL_RETRY_MS / 1000;
		if (status == GRPC_UNAVAILABLE || status == GRPC_CANCELLED ||
		    status == GRPC_DEADLINE_EXCEEDED)
			drop_client(l);
	}
	l->last_status = status;
}

/* The peers as linkreport_in, with their endpoints' text in eps. */
static size_t
gather(struct agent *a, const struct wg_device *dev, struct linkreport_in *in,
    char (*eps)[LINKREPORT_EP_MAX], size_t max)
{
	size_t n = 0;
	struct endpoint_self me = { .lan_id = a->net_valid && a->net.has_default &&
	    a->net.has_gateway_mac ? a->net.gateway_mac : NULL, .lan_id_len = 6 };

	for (size_t i = 0; i < a->n_known && n < max; i++) {
		const struct known *k = &a->known[i];
		const struct wg_peer *wp = dev != NULL ? wg_device_peer(dev, k->id.key) : NULL;
		struct sockaddr_storage have;
		const struct sockaddr_storage *ep = wp != NULL ? wg_peer_endpoint(wp, &have) :
		    NULL;
		struct linkreport_in *x = &in[n];

		memset(x, 0, sizeof(*x));
		memcpy(x->key, k->id.key, 32);
		x->online = k->rec->online;
		x->state = k->pp.state;
		if ((x->state == PEERPATH_TRIAL || x->state == PEERPATH_DIRECT ||
		    x->state == PEERPATH_PROBE) && k->pp.idx < k->cands.n) {
			x->has_kind = true;
			x->kind = k->cands.kind[k->pp.idx];
		}
		x->n_cands = k->cands.n;
		x->relay = a->relay.ss_family != 0;
		/* the keepalive both ends run (agent_path.c): not on our LAN, or over the relay;
		 * not the one-sided keepalive of an unconfirmed or kicked path */
		if (endpoint_needs_keepalive(k->rec, &me) || k->choice == PEERPATH_CHOICE_RELAY)
			x->keepalive_s = a->conf->keepalive_s;
		eps[n][0] = '\0';
		if (ep != NULL)
			endpoint_format(ep, eps[n], LINKREPORT_EP_MAX);
		x->endpoint = eps[n];
		if (wp != NULL) {
			x->last_handshake_s = wp->last_handshake_s;
			x->rx_bytes = wp->rx_bytes;
			x->tx_bytes = wp->tx_bytes;
		}
		n++;
	}
	/* verified records the policy keeps us from pairing with: the pair is down by design,
	 * and the operator asking `why` should read so from our end as well */
	for (size_t i = 0; i < a->refused.n && n < max; i++) {
		const Wiresync__V1__Peer *p = a->refused.recs[i];
		struct linkreport_in *x = &in[n];

		if (a->refused.why[i] != REFUSED_POLICY || p->public_key.len != 32)
			continue;
		memset(x, 0, sizeof(*x));
		memcpy(x->key, p->public_key.data, 32);
		x->online = p->online;
		x->refused = true;
		eps[n][0] = '\0';
		x->endpoint = eps[n];
		n++;
	}
	return n;
}

static void
send_report(struct agent_links *l, const struct linkreport_entry *e, size_t n)
{
	static const struct rpc_client_cb cb = { .on_message = on_reply, .on_done = on_done };
	struct agent *a = l->a;
	Wiresync__V1__LinkReport m = WIRESYNC__V1__LINK_REPORT__INIT;
	Wiresync__V1__LinkHealth *h = calloc(n > 0 ? n : 1, sizeof(*h));
	Wiresync__V1__LinkHealth **hp = calloc(n > 0 ? n : 1, sizeof(*hp));
	uint8_t *buf = NULL;
	size_t len;

	if (h == NULL || hp == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		wiresync__v1__link_health__init(&h[i]);
		h[i].peer_key.data = (uint8_t *)e[i].key;
		h[i].peer_key.len = 32;
		h[i].path = (char *)e[i].path;
		h[i].endpoint = (char *)e[i].endpoint;
		h[i].last_handshake_ms = e[i].last_handshake_ms;
		h[i].rx_bytes = e[i].rx_bytes;
		h[i].tx_bytes = e[i].tx_bytes;
		h[i].down_reason = (char *)e[i].down_reason;
		hp[i] = &h[i];
	}
	m.n_links = n;
	m.links = hp;
	len = wiresync__v1__link_report__get_packed_size(&m);
	if ((buf = malloc(len > 0 ? len : 1)) == NULL)
		goto out;
	wiresync__v1__link_report__pack(&m, buf);
	if (l->client != NULL && (l->ctx != a->ctx || !rpc_client_alive(l->client) ||
	    l->gen != a->servers.gen))
		drop_client(l);
	if (l->client == NULL) {
		l->client = agent_server_client(a, &l->gen);
		l->ctx = a->ctx;
		if (l->client == NULL)
			goto out;
	}
	l->reply_min_s = 0;
	linkreport_attempted(&l->lr, now_s());
	if (rpc_client_call(l->client, "/wiresync.v1.WireSync/ReportLinks", buf, len,
	    LINKS_TIMEOUT_MS, &cb, l) != NULL)
		l->inflight = true;
out:
	free(buf);
	free(hp);
	free(h);
}

static void
tick(void *arg)
{
	struct agent_links *l = arg;
	struct agent *a = l->a;
	struct wg_device *dev = NULL;
	struct linkreport_in *in = NULL;
	char (*eps)[LINKREPORT_EP_MAX] = NULL;
	struct linkreport_entry *e = NULL;
	size_t max = a->n_known + a->refused.n < LINKREPORT_MAX ? a->n_known + a->refused.n :
	    LINKREPORT_MAX;
	int64_t now = now_s(), next;
	int n;

	loop_timer_set(a->loop, &l->tick, LINKS_TICK_S * 1000, tick, l);
	if (l->inflight || a->stopping)
		return;
	if (l->ctx != NULL && l->ctx != a->ctx)
		l->refused_until_s = 0;          /* a new certificate */
	if (a->refusal.kind != REFUSAL_NONE || now < l->refused_until_s)
		return;
	if (wg_device_get(a->backend, a->conf->interface, &dev) < 0)
		dev = NULL;
	in = calloc(max > 0 ? max : 1, sizeof(*in));
	eps = calloc(max > 0 ? max : 1, sizeof(*eps));
	if (in == NULL || eps == NULL)
		goto out;
	n = linkreport_build(&l->lr, in, gather(a, dev, in, eps, max), now, &e);
	if (n < 0)
		goto out;
	if (linkreport_due(&l->lr, now, &next))
		send_report(l, e, (size_t)n);
out:
	free(e);
	free(eps);
	free(in);
	wg_device_free(dev);
}

struct agent_links *
agent_links_new(struct agent *a)
{
	struct agent_links *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->a = a;
	l->last_status = GRPC_OK;
	linkreport_init(&l->lr);
	/* a first look once the Watch stream had a moment to bring the peers */
	loop_timer_set(a->loop, &l->tick, 2000, tick, l);
	return l;
}

void
agent_links_del(struct agent_links *l)
{
	if (l == NULL)
		return;
	l->stopping = true;
	loop_timer_cancel(l->a->loop, &l->tick);
	/* the call's on_done runs here (CANCELLED): inflight is dropped with it */
	rpc_client_del(l->client);
	l->client = NULL;
	loop_defer_cancel(l->a->loop, &l->drop);
	rpc_client_del(l->stale);
	linkreport_free(&l->lr);
	free(l);
}
