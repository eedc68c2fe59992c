/* Follows the server's Watch stream: one rpc_client at a time, a new one after a backoff
 * delay whenever the stream ends, events applied strictly in revision order. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/watch.h"
#include "rpc/backoff.h"
#include "rpc/grpc.h"
#include "rpc/h2client.h"
#include "rpc/log.h"

/* A packed WatchRequest: one tag byte and a varint of at most 10 bytes. */
#define WATCH_REQUEST_MAX 96   /* revision varint + two 32-byte digests, with tags */

struct watch_client {
	struct loop *loop;
	SSL_CTX *ctx;
	uint32_t keepalive_ms;
	const uint8_t *crl_sha256;
	const uint8_t *policy_sha256;
	char *server;
	struct sockaddr_storage addr;   /* family AF_UNSPEC: resolve server */
	socklen_t addrlen;
	struct watch_client_ops ops;
	void *arg;
	struct backoff backoff;
	struct rpc_client *client;      /* the current connection, or NULL between attempts */
	struct rpc_client_call *call;   /* its Watch call while that runs */
	struct loop_timer retry;        /* the next attempt */
	struct loop_defer ended;        /* drops the connection of an ended call */
	uint64_t revision;              /* last applied */
	unsigned attempts;              /* connections started */
	bool streaming;                 /* the current stream delivered an event */
	bool again_now;                 /* the server asked for a new Watch (ABORTED) */
	uint64_t again_now_ms;          /* when the last such reconnect was made */
	bool deleting;
	bool moved;                     /* watch_client_set_server since the last attempt */
	int status;                     /* gRPC status of the call that ended */
	char why[400];                  /* why the current call ended ("" while it runs) */
};

static void watch_retry(void *arg);

/* --- ending a stream -------------------------------------------------------------------- */

/* End of the turn in which the call ended: never inside the client's own callbacks. */
static void
watch_ended_deferred(void *arg)
{
	struct watch_client *w = arg;
	struct rpc_client *c = w->client;
	uint32_t delay;
	bool was_streaming = w->streaming;
	char was[300];

	snprintf(was, sizeof(was), "%s", w->server);
	w->moved = false;
	w->client = NULL;
	w->streaming = false;
	rpc_client_del(c);
	delay = backoff_next(&w->backoff);
	if (w->ops.retry_delay != NULL)
		delay = w->ops.retry_delay(w->arg, w->status, w->why, delay);
	/* at once, but never in a loop: at most once a second */
	if (w->again_now && was_streaming &&
	    (w->again_now_ms == 0 || loop_now_ms(w->loop) - w->again_now_ms >= 1000)) {
		delay = 0;
		w->again_now_ms = loop_now_ms(w->loop);
	}
	w->again_now = false;
	if (loop_timer_set(w->loop, &w->retry, delay, watch_retry, w) < 0) {
		log_errorx("%s: cannot arm the reconnect timer (out of memory); Watch stopped",
		    w->server);
	} else if (w->moved) {
		/* the caller moved to another server (or address) and says so */
		log_debug("%s: Watch %s at revision %llu (%s); trying %s in %u ms", was,
		    was_streaming ? "ended" : "failed", (unsigned long long)w->revision, w->why,
		    w->server, delay);
	} else if (was_streaming) {
		log_info("%s: Watch ended at revision %llu (%s); reconnecting in %u ms", w->server,
		    (unsigned long long)w->revision, w->why, delay);
	} else {
		log_info("%s: Watch failed (%s); retrying in %u ms", w->server, w->why, delay);
	}
	if (w->ops.on_state != NULL)
		w->ops.on_state(w->arg, false, w->why);
}

/* The call is over (or could not start): drop the connection at the end of this turn. */
static void
watch_end(struct watch_client *w)
{
	w->call = NULL;
	loop_defer(w->loop, &w->ended, watch_ended_deferred, w);
}

/* Ends the running call from the inside (a bad event): it is reported with why. */
static void
watch_abort(struct watch_client *w, const char *why)
{
	snprintf(w->why, sizeof(w->why), "%s", why);
	log_warnx("%s: %s; dropping the Watch stream", w->server, why);
	rpc_client_call_cancel(w->call);
}

/* --- events ----------------------------------------------------------------------------- */

static bool
watch_stale(struct watch_client *w, const Wiresync__V1__WatchEvent *ev, const char *what)
{
	if (ev->revision > w->revision)
		return false;
	log_debug("%s: stale %s at revision %llu ignored (applied %llu)", w->server, what,
	    (unsigned long long)ev->revision, (unsigned long long)w->revision);
	return true;
}

static void
watch_apply(struct watch_client *w, const Wiresync__V1__WatchEvent *ev)
{
	const Wiresync__V1__Snapshot *snap;

	switch (ev->event_case) {
	case WIRESYNC__V1__WATCH_EVENT__EVENT_SNAPSHOT:
		snap = ev->snapshot;
		w->revision = ev->revision;
		log_debug("%s: snapshot at revision %llu, %zu peers", w->server,
		    (unsigned long long)ev->revision, snap != NULL ? snap->n_peers : 0);
		if (w->ops.on_snapshot != NULL)
			w->ops.on_snapshot(w->arg, ev->revision, snap != NULL ? snap->peers : NULL,
			    snap != NULL ? snap->n_peers : 0);
		break;
	case WIRESYNC__V1__WATCH_EVENT__EVENT_UPSERT:
		if (ev->upsert == NULL || watch_stale(w, ev, "upsert"))
			break;
		w->revision = ev->revision;
		log_debug("%s: upsert of %s at revision %llu", w->server, ev->upsert->name,
		    (unsigned long long)ev->revision);
		if (w->ops.on_upsert != NULL)
			w->ops.on_upsert(w->arg, ev->revision, ev->upsert);
		break;
	case WIRESYNC__V1__WATCH_EVENT__EVENT_REMOVED_KEY:
		if (watch_stale(w, ev, "removal"))
			break;
		w->revision = ev->revision;
		log_debug("%s: removal at revision %llu", w->server,
		    (unsigned long long)ev->revision);
		if (w->ops.on_removed != NULL)
			w->ops.on_removed(w->arg, ev->revision, ev->removed_key.data,
			    ev->removed_key.len);
		break;
	case WIRESYNC__V1__WATCH_EVENT__EVENT_CRL:
		/* not a change to the peer set: no revision order applies */
		log_debug("%s: CRL of %zu bytes", w->server, ev->crl.len);
		if (w->ops.on_crl != NULL)
			w->ops.on_crl(w->arg, ev->crl.data, ev->crl.len);
		break;
	case WIRESYNC__V1__WATCH_EVENT__EVENT_POLICY:
		log_debug("%s: policy of %zu bytes", w->server, ev->policy.len);
		if (w->ops.on_policy != NULL)
			w->ops.on_policy(w->arg, ev->policy.data, ev->policy.len);
		break;
	default:
		/* A kind added to the contract after this build: nothing to apply, and the
		 * revision stays so that nothing is skipped. */
		log_debug("%s: event of unknown kind at revision %llu ignored", w->server,
		    (unsigned long long)ev->revision);
		break;
	}
}

/* The server answered the Watch (headers or a first event): the connection works. */
static void
watch_established(struct watch_client *w)
{
	if (w->streaming)
		return;
	w->streaming = true;
	backoff_reset(&w->backoff);
	log_info("%s: watching (last applied revision %llu)", w->server,
	    (unsigned long long)w->revision);
	if (w->ops.on_state != NULL)
		w->ops.on_state(w->arg, true, w->server);
}

static void
watch_message(void *arg, const uint8_t *data, size_t len)
{
	struct watch_client *w = arg;
	Wiresync__V1__WatchEvent *ev;
	char why[80];

	/* h2client hands on the rest of a DATA chunk even after a cancel. */
	if (w->call == NULL || w->why[0] != '\0')
		return;
	ev = wiresync__v1__watch_event__unpack(NULL, len, data);
	if (ev == NULL) {
		snprintf(why, sizeof(why), "undecodable WatchEvent (%zu bytes)", len);
		watch_abort(w, why);
		return;
	}
	watch_established(w);
	watch_apply(w, ev);
	wiresync__v1__watch_event__free_unpacked(ev, NULL);
}

static void
watch_headers(void *arg)
{
	watch_established(arg);
}

static void
watch_done(void *arg, int status, const char *message)
{
	struct watch_client *w = arg;

	w->call = NULL;
	if (w->deleting)
		return;
	w->again_now = status == GRPC_ABORTED && w->why[0] == '\0';
	w->status = status;
	if (w->why[0] == '\0')
		snprintf(w->why, sizeof(w->why), "%s: %s", grpc_status_name(status),
		    message[0] != '\0' ? message : "stream ended");
	watch_end(w);
}

static const struct rpc_client_cb watch_cb = {
	.on_message = watch_message,
	.on_done = watch_done,
	.on_headers = watch_headers,
};

/* --- connecting ------------------------------------------------------------------------- */

/* Opens a connection and starts Watch from the last applied revision. Returns 0 (a failure
 * to start is then reported as an ended call), or -errno when no client could be made. */
static int
watch_start(struct watch_client *w)
{
	Wiresync__V1__WatchRequest m = WIRESYNC__V1__WATCH_REQUEST__INIT;
	uint8_t req[WATCH_REQUEST_MAX];
	size_t len;

	w->why[0] = '\0';
	w->status = GRPC_UNAVAILABLE;   /* until the call itself ends with a status */
	w->streaming = false;
	errno = 0;
	if (w->addr.ss_family != AF_UNSPEC)
		w->client = rpc_client_new_addr(w->loop, w->ctx, w->server,
		    (const struct sockaddr *)&w->addr, w->addrlen);
	else
		w->client = rpc_client_new(w->loop, w->ctx, w->server);
	if (w->client == NULL)
		return errno != 0 ? -errno : -ENOMEM;
	/* a server that vanished without a word is noticed within keepalive + min(10 s,
	 * keepalive / 2) */
	rpc_client_set_keepalive(w->client, w->keepalive_ms,
	    w->keepalive_ms / 2 < 10000 ? w->keepalive_ms / 2 : 10000);
	w->attempts++;
	m.since_revision = w->revision;
	if (w->crl_sha256 != NULL) {
		m.crl_sha256.data = (uint8_t *)w->crl_sha256;
		m.crl_sha256.len = 32;
	}
	if (w->policy_sha256 != NULL) {
		m.policy_sha256.data = (uint8_t *)w->policy_sha256;
		m.policy_sha256.len = 32;
	}
	len = wiresync__v1__watch_request__pack(&m, req);
	log_debug("%s: connecting, Watch since revision %llu", w->server,
	    (unsigned long long)w->revision);
	w->call = rpc_client_call(w->client, WATCH_PATH, req, len, 0, &watch_cb, w);
	if (w->call == NULL) {
		snprintf(w->why, sizeof(w->why), "cannot start the Watch call: out of memory");
		watch_end(w);
	}
	return 0;
}

static void
watch_retry(void *arg)
{
	struct watch_client *w = arg;
	int r;

	r = watch_start(w);
	if (r < 0) {
		snprintf(w->why, sizeof(w->why), "cannot create a connection: %s", strerror(-r));
		watch_end(w);
	}
}

/* --- public ----------------------------------------------------------------------------- */

struct watch_client *
watch_client_new(struct loop *l, SSL_CTX *ctx, const struct watch_client_config *cfg,
    const struct watch_client_ops *ops, void *arg)
{
	struct watch_client *w;
	uint32_t base, cap;
	int r;

	if (l == NULL || ctx == NULL || cfg == NULL || cfg->server == NULL || ops == NULL) {
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->loop = l;
	if ((r = watch_client_set_server(w, cfg->server, cfg->addr, cfg->addrlen)) < 0) {
		free(w);
		errno = -r;
		return NULL;
	}
	SSL_CTX_up_ref(ctx);
	w->ctx = ctx;
	w->ops = *ops;
	w->arg = arg;
	w->revision = cfg->since_revision;
	base = cfg->backoff_base_ms != 0 ? cfg->backoff_base_ms : WATCH_BACKOFF_BASE_MS;
	cap = cfg->backoff_cap_ms != 0 ? cfg->backoff_cap_ms : WATCH_BACKOFF_CAP_MS;
	w->keepalive_ms = cfg->keepalive_ms != 0 ? cfg->keepalive_ms : 30000;
	w->crl_sha256 = cfg->crl_sha256;
	w->policy_sha256 = cfg->policy_sha256;
	backoff_init(&w->backoff, base, cap < base ? base : cap, 0);
	r = watch_start(w);
	if (r < 0) {
		watch_client_del(w);
		errno = -r;
		return NULL;
	}
	return w;
}

int
watch_client_set_server(struct watch_client *w, const char *server,
    const struct sockaddr *addr, socklen_t addrlen)
{
	char *s;

	if (server == NULL || (addr != NULL && (addrlen > sizeof(w->addr) ||
	    (addr->sa_family != AF_INET && addr->sa_family != AF_INET6))))
		return -EINVAL;
	if ((s = strdup(server)) == NULL)
		return -ENOMEM;
	free(w->server);
	w->server = s;
	w->moved = true;
	memset(&w->addr, 0, sizeof(w->addr));
	w->addrlen = 0;
	if (addr != NULL) {
		memcpy(&w->addr, addr, addrlen);
		w->addrlen = addrlen;
	}
	return 0;
}

void
watch_client_del(struct watch_client *w)
{
	if (w == NULL)
		return;
	w->deleting = true;
	loop_timer_cancel(w->loop, &w->retry);
	loop_defer_cancel(w->loop, &w->ended);
	/* Ends the call with CANCELLED: watch_done sees deleting and stays quiet. */
	rpc_client_del(w->client);
	SSL_CTX_free(w->ctx);
	free(w->server);
	free(w);
}

uint64_t
watch_client_revision(const struct watch_client *w)
{
	return w->revision;
}

unsigned
watch_client_reconnects(const struct watch_client *w)
{
	return w->attempts > 0 ? w->attempts - 1 : 0;
}

bool
watch_client_connected(const struct watch_client *w)
{
	return w->streaming && w->call != NULL;
}
