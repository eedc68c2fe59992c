/* The simulated agents: their connections (each with its own certificate and session, a
 * window of handshakes in flight), their Watch streams and Update calls, and the loop that
 * drives them all. */
#include "config.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "bench/bench.h"
#include "proto/wiresync.pb-c.h"
#include "rpc/grpc.h"
#include "rpc/log.h"

int bench_ex_index = -1;

uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t
tcp_rx_bytes(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return 0;
	return ti.tcpi_bytes_received;
}

uint64_t
agent_rx_bytes(struct agent *a)
{
	SSL *ssl = a->client != NULL ? rpc_client_ssl(a->client) : NULL;

	return ssl != NULL ? tcp_rx_bytes(SSL_get_fd(ssl)) : 0;
}

/* --- TLS hooks: every agent's own certificate, its session, its handshake bytes ---------- */

int
on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct agent *a = SSL_get_ex_data(ssl, bench_ex_index);

	if (a == NULL)
		return 0;
	SSL_SESSION_free(a->sess);
	a->sess = sess;
	return 1;
}

void
on_tls_info(const SSL *ssl, int where, int ret)
{
	struct agent *a = SSL_get_ex_data(ssl, bench_ex_index);

	(void)ret;
	if (a != NULL && (where & SSL_CB_HANDSHAKE_DONE) && !a->hs_seen) {
		a->hs_seen = true;
		a->hs_rx = tcp_rx_bytes(SSL_get_fd(ssl));
	}
}

/* --- connection window ----------------------------------------------------------------- */

static void agent_connect(struct agent *a);

static void
start_more(void *arg)
{
	struct bench *b = arg;

	while (!b->stopping && b->q_len > 0 && b->inflight < b->o.window) {
		struct agent *a = &b->agents[b->queue[b->q_head]];
		b->q_head = (b->q_head + 1) % b->n;
		b->q_len--;
		a->queued = false;
		agent_connect(a);
	}
}

static void
enqueue(struct agent *a)
{
	struct bench *b = a->b;

	if (a->queued)
		return;
	a->queued = true;
	b->queue[(b->q_head + b->q_len) % b->n] = a->idx;
	b->q_len++;
	loop_defer(b->loop, &b->start_defer, start_more, b);
}

/* The handshake is over one way or another: let the next agent start its own. */
static void
leave_window(struct agent *a)
{
	if (!a->in_window)
		return;
	a->in_window = false;
	a->b->inflight--;
	loop_defer(a->b->loop, &a->b->start_defer, start_more, a->b);
}

bool
client_open(struct agent *a)
{
	struct bench *b = a->b;
	SSL *ssl;

	a->client = rpc_client_new(b->loop, b->ctx, a->server != NULL ? a->server : b->o.server);
	if (a->client == NULL)
		return false;
	a->hs_seen = false;
	a->hs_rx = 0;
	if ((ssl = rpc_client_ssl(a->client)) == NULL)
		return true;    /* connect failed; the call reports it */
	if (SSL_use_certificate(ssl, a->id.cert) != 1 || SSL_use_PrivateKey(ssl, a->id.key) != 1 ||
	    SSL_set_ex_data(ssl, bench_ex_index, a) != 1) {
		log_errorx("agent %u: cannot install its certificate", a->idx);
		return false;
	}
	if (a->sess != NULL)
		SSL_set_session(ssl, a->sess);
	return true;
}

/* --- Watch agents (fanout, idle, reconnect) ------------------------------------------- */

static void watch_headers(void *arg);
static void watch_message(void *arg, const uint8_t *data, size_t len);
static void watch_done(void *arg, int status, const char *message);

static const struct rpc_client_cb watch_cb = {
	.on_message = watch_message, .on_done = watch_done, .on_headers = watch_headers,
};

static void
agent_connect(struct agent *a)
{
	struct bench *b = a->b;
	Wiresync__V1__WatchRequest wr = WIRESYNC__V1__WATCH_REQUEST__INIT;
	uint8_t req[32];
	size_t len;

	a->in_window = true;
	b->inflight++;
	a->generation++;
	if (!client_open(a)) {
		leave_window(a);
		a->ended = true;
		b->failed++;
		return;
	}
	wr.since_revision = b->reconnecting && !b->o.snapshot ? a->revision : 0;
	len = wiresync__v1__watch_request__pack(&wr, req);
	a->watch = rpc_client_call(a->client, PATH_WATCH, req, len, 0, &watch_cb, a);
	if (a->watch == NULL) {
		leave_window(a);
		a->ended = true;
		b->failed++;
	}
}

static void
watch_headers(void *arg)
{
	struct agent *a = arg;
	struct bench *b = a->b;
	SSL *ssl;

	leave_window(a);
	a->attempts = 0;
	if (b->reconnecting && a->generation > 1 && !a->resumed) {
		a->resumed = true;
		b->resumed++;
		ssl = rpc_client_ssl(a->client);
		a->tls_reused = ssl != NULL && SSL_session_reused(ssl);
		if (a->tls_reused)
			b->tls_resumed++;
	}
}

static void
fanout_receipt(struct agent *a, const Wiresync__V1__Peer *p)
{
	struct bench *b = a->b;
	long r;

	if (p->listen_port < FANOUT_PORT_BASE || strcmp(p->name, b->updater_name) != 0)
		return;
	r = (long)(p->listen_port - FANOUT_PORT_BASE);
	if (r >= b->o.changes || b->fan_recv[(size_t)a->idx * b->o.changes + r] != 0)
		return;
	b->fan_recv[(size_t)a->idx * b->o.changes + r] = now_us();
	b->fan_got[r]++;
}

static void
watch_message(void *arg, const uint8_t *data, size_t len)
{
	struct agent *a = arg;
	struct bench *b = a->b;
	Wiresync__V1__WatchEvent *ev;

	ev = wiresync__v1__watch_event__unpack(NULL, len, data);
	if (ev == NULL) {
		log_warnx("agent %u: undecodable WatchEvent", a->idx);
		return;
	}
	if (ev->revision > a->revision)
		a->revision = ev->revision;
	if (ev->event_case == WIRESYNC__V1__WATCH_EVENT__EVENT_SNAPSHOT && b->reconnecting &&
	    a->generation > 1)
		b->snap_on_resume++;
	if (ev->event_case == WIRESYNC__V1__WATCH_EVENT__EVENT_UPSERT && b->fan_recv != NULL)
		fanout_receipt(a, ev->upsert);
	wiresync__v1__watch_event__free_unpacked(ev, NULL);
	if (!a->got_first) {
		a->got_first = true;
		b->ready++;
	}
}

static void
agent_teardown(void *arg)
{
	struct agent *a = arg;

	rpc_client_del(a->client);
	a->client = NULL;
}

static void
agent_retry(void *arg)
{
	enqueue(arg);
}

static void
watch_done(void *arg, int status, const char *message)
{
	struct agent *a = arg;
	struct bench *b = a->b;
	uint64_t delay;

	a->watch = NULL;
	leave_window(a);
	if (b->stopping)
		return;
	/* never tear a connection down inside its own callbacks */
	loop_defer(b->loop, &a->teardown, agent_teardown, a);
	if (b->reconnecting) {
		/* 50 ms doubling to 1 s, with jitter, like an agent */
		delay = 50u << (a->attempts < 5 ? a->attempts : 5);
		if (delay > 1000)
			delay = 1000;
		delay = delay / 2 + (uint64_t)random() % (delay / 2 + 1);
		a->attempts++;
		/* a resumed stream that ends again does not count until it resumes again */
		if (a->resumed) {
			a->resumed = false;
			b->resumed--;
			if (a->tls_reused)
				b->tls_resumed--;
		}
		loop_timer_set(b->loop, &a->retry, delay, agent_retry, a);
		return;
	}
	a->ended = true;
	if (b->failed++ < 3)
		log_warnx("agent %u: Watch ended: %s: %s", a->idx, grpc_status_name(status), message);
}

/* --- Update calls ------------------------------------------------------------------------ */

struct ucall {
	struct agent *a;
	uint64_t t0;
	long slot;      /* index into lat_us; -1 for untimed calls */
	uint64_t revision;
};


static void
update_message(void *arg, const uint8_t *data, size_t len)
{
	struct ucall *u = arg;
	Wiresync__V1__UpdateReply *r = wiresync__v1__update_reply__unpack(NULL, len, data);

	if (r != NULL)
		u->revision = r->revision;
	wiresync__v1__update_reply__free_unpacked(r, NULL);
}


static void
update_done(void *arg, int status, const char *message)
{
	struct ucall *u = arg;
	struct agent *a = u->a;
	struct bench *b = a->b;
	uint64_t t = now_us();

	a->done++;
	if (b->stopping) {
		free(u);
		return;
	}
	if (a == b->updater) {
		free(u);
		fanout_acked(b, status, message);
		return;
	}
	if (u->slot < 0) {
		/* the warm-up call: the connection is up */
		leave_window(a);
		if (status == GRPC_OK) {
			b->ready++;
		} else {
			a->ended = true;
			if (b->failed++ < 3)
				log_warnx("agent %u: Update: %s: %s", a->idx,
				    grpc_status_name(status), message);
		}
		free(u);
		return;
	}
	b->u_done++;
	if (status == GRPC_OK) {
		b->lat_us[b->u_ok++] = (uint32_t)(t - u->t0 > UINT32_MAX ? UINT32_MAX : t - u->t0);
	} else if (b->u_err++ < 3) {
		log_warnx("agent %u: Update: %s: %s", a->idx, grpc_status_name(status), message);
	}
	free(u);
	if (b->u_sent < b->o.total)
		update_send(a, b->u_sent++);
}

void
update_send(struct agent *a, long slot)
{
	static const struct rpc_client_cb cb = { .on_message = update_message, .on_done = update_done };
	Wiresync__V1__UpdateRequest m = WIRESYNC__V1__UPDATE_REQUEST__INIT;
	struct ucall *u;
	uint8_t buf[64];
	size_t len;

	/* a different port every call, so every Update is a change that must be committed */
	a->port = a->port >= 60999 ? 1024 : a->port + 1;
	m.listen_port = a->port;
	len = wiresync__v1__update_request__pack(&m, buf);
	if ((u = calloc(1, sizeof(*u))) == NULL)
		fatalx("out of memory");
	u->a = a;
	u->slot = slot;
	u->t0 = now_us();
	a->sent++;
	if (rpc_client_call(a->client, PATH_UPDATE, buf, len, 30000, &cb, u) == NULL)
		fatalx("out of memory");
}

void
update_connect(struct agent *a)
{
	a->in_window = true;
	a->b->inflight++;
	a->port = 1024 + (uint32_t)random() % 50000;
	if (!client_open(a)) {
		leave_window(a);
		a->ended = true;
		a->b->failed++;
		return;
	}
	update_send(a, -1);
}

/* --- running the loop ---------------------------------------------------------------------- */

/* Runs the loop until done(b) or the phase times out; false on timeout. */
bool
run_until(struct bench *b, bool (*done)(struct bench *), double timeout_s, const char *what)
{
	uint64_t end = now_us() + (uint64_t)(timeout_s * 1e6);

	while (!done(b)) {
		if (now_us() > end) {
			log_warnx("%s: timed out after %.0f s", what, timeout_s);
			return false;
		}
		if (loop_run_once(b->loop, 50) < 0) {
			log_error("event loop");
			return false;
		}
	}
	return true;
}

void
run_for(struct bench *b, double seconds)
{
	uint64_t end = now_us() + (uint64_t)(seconds * 1e6);

	while (now_us() < end)
		loop_run_once(b->loop, 50);
}

bool
all_ready(struct bench *b)
{
	return b->ready + b->failed >= (long)b->n;
}

void
connect_all(struct bench *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		enqueue(&b->agents[i]);
}

void
stop_all(struct bench *b)
{
	b->stopping = true;
	for (size_t i = 0; i < b->n; i++) {
		loop_timer_cancel(b->loop, &b->agents[i].retry);
		loop_defer_cancel(b->loop, &b->agents[i].teardown);
		rpc_client_del(b->agents[i].client);
		b->agents[i].client = NULL;
	}
	for (size_t i = b->n; i < b->n_total; i++) {
		rpc_client_del(b->agents[i].client);
		b->agents[i].client = NULL;
	}
	loop_run_once(b->loop, 0);
}

static bool
seeds_done(struct bench *b)
{
	return b->ready + b->failed >= b->o.peers;
}

/* Makes --peers identities peers of the network with one Update each, so the watchers'
 * snapshots hold them and the revision is past 0; then closes their connections. */
bool
seed_peers(struct bench *b)
{
	bool ok;

	if (b->o.peers == 0)
		return true;
	for (long i = 0; i < b->o.peers; i++) {
		while (b->inflight >= b->o.window)
			loop_run_once(b->loop, 50);
		update_connect(&b->seeds[i]);
	}
	ok = run_until(b, seeds_done, b->o.timeout_s, "seeding peers") && b->failed == 0;
	for (long i = 0; i < b->o.peers; i++) {
		rpc_client_del(b->seeds[i].client);
		b->seeds[i].client = NULL;
	}
	loop_run_once(b->loop, 0);
	b->ready = 0;
	return ok;
}

