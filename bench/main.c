/* wiresync-bench: drives a wiresync server (any implementation of proto/wiresync.proto) with
 * thousands of simulated agents, each with its own certificate minted in process, from one
 * epoll loop, and prints one line of figures per scenario (or one JSON object). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/tcp.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "bench/certgen.h"
#include "proto/wiresync.pb-c.h"
#include "rpc/grpc.h"
#include "rpc/h2client.h"
#include "rpc/log.h"
#include "rpc/loop.h"
#include "rpc/tls.h"

#define PATH_UPDATE "/wiresync.v1.WireSync/Update"
#define PATH_WATCH "/wiresync.v1.WireSync/Watch"
#define EXIT_USAGE 2
#define FANOUT_PORT_BASE 20000u

enum scenario { SC_ISSUE, SC_UPDATE, SC_FANOUT, SC_IDLE, SC_RECONNECT };

struct opts {
	enum scenario sc;
	const char *server, *ca_cert, *ca_key, *trust, *network, *restart, *pid_file, *out_dir;
	long connections, streams, total, watchers, changes, window, peers;
	long pid, seed;
	double settle_s, timeout_s;
	bool json, snapshot;
};

struct bench;

struct agent {
	struct bench *b;
	uint32_t idx;
	struct identity id;
	struct rpc_client *client;
	struct rpc_client_call *watch;
	SSL_SESSION *sess;            /* newest ticket, offered on reconnect */
	uint64_t revision;            /* highest revision seen on the Watch */
	uint64_t hs_rx;               /* TCP bytes received when the handshake finished */
	uint64_t rx_after_hs;         /* bytes past the handshake, at the last measurement */
	uint64_t rx_first;            /* the same for the first connection (snapshot) */
	unsigned attempts, generation;
	bool in_window, queued, hs_seen, got_first, resumed, tls_reused, ended;
	struct loop_defer teardown;
	struct loop_timer retry;
	/* update */
	long sent, done;
	uint32_t port;
};

struct bench {
	struct opts o;
	struct loop *loop;
	SSL_CTX *ctx;
	struct certgen *gen;
	struct agent *agents;
	size_t n;
	double issue_s;
	/* connection window: agents waiting to connect, and handshakes in flight */
	uint32_t *queue;
	size_t q_head, q_len;
	long inflight;
	struct loop_defer start_defer;
	/* progress */
	long ready, failed, resumed, tls_resumed, snap_on_resume;
	bool reconnecting, stopping;
	/* update */
	long u_sent, u_done, u_ok, u_err;
	uint32_t *lat_us;
	/* fanout */
	struct agent *updater;
	struct agent *seeds;          /* --peers: identities that only Update, once */
	size_t n_total;               /* agents + updater + seeds */
	uint64_t *fan_recv;           /* [watcher * changes + change] receipt time, µs; 0 none */
	uint64_t *fan_ack;            /* [change] acknowledgement time */
	long *fan_got;
	long fan_cur;
	bool fan_acked;
	char updater_name[64];
};

static int ex_index = -1;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: wiresync-bench SCENARIO --server HOST:PORT --ca-cert FILE --ca-key FILE\n"
	    "                      --trust FILE [--network NAME] [--json] [options]\n"
	    "\n"
	    "Simulates agents of a wiresync server over gRPC with mutual TLS. Every agent gets\n"
	    "its own certificate, issued in process from the CA given (CN=bench-N, O=network).\n"
	    "\n"
	    "scenarios:\n"
	    "  issue     -n N [--out DIR]     only issue N identities (and write DIR/bench-I.crt,\n"
	    "                                 .key); needs no server\n"
	    "  update    -c C -s S -n TOTAL   C connections x S concurrent Updates, TOTAL calls:\n"
	    "                                 acknowledged Updates/s and latency\n"
	    "  fanout    -w W -r R            W watchers, one updater making R changes: time from\n"
	    "                                 each Update's acknowledgement to each receipt\n"
	    "  idle      -w W --pid PID       server RSS before and after W agents with a Watch\n"
	    "  (update and fanout report the server's CPU time too when given --pid PID)\n"
	    "  reconnect -w W --restart CMD   W agents with a Watch; CMD restarts the server; time\n"
	    "            [--pid-file FILE]    until all resumed, bytes past the handshake, TLS\n"
	    "            [--snapshot]         resumption (--snapshot: resume with a fresh snapshot)\n"
	    "\n"
	    "options:\n"
	    "  --server HOST:PORT    the server; its certificate must match HOST\n"
	    "  --ca-cert FILE        CA certificate (PEM) to issue agent certificates with\n"
	    "  --ca-key FILE         its private key (PEM)\n"
	    "  --trust FILE          CA (PEM) the server's certificate must chain to\n"
	    "  --network NAME        O= of the agents (default: the issuing CA's O=)\n"
	    "  --peers P             P more identities Update once before the agents connect, so\n"
	    "                        the network holds P peers (fanout, idle, reconnect; 1)\n"
	    "  --seed S              agent N's WireGuard key is SHA-256(network, S, N) and its\n"
	    "                        address 10.64.0.0/10 + S*65536 + N + 1 (0): reruns reuse\n"
	    "                        their peers; another seed, other peers\n"
	    "  --window N            TLS handshakes in flight at once (256)\n"
	    "  --settle SECONDS      quiet time before memory and byte counts are read (2)\n"
	    "  --timeout SECONDS     give up a phase after this long (300)\n"
	    "  --json                print one JSON object instead of the summary line\n"
	    "  -h, --help            this help\n"
	    "\n"
	    "Exit status: 0 when every call and agent succeeded, 1 otherwise, 2 usage.\n");
}

static uint64_t
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

static uint64_t
agent_rx_bytes(struct agent *a)
{
	SSL *ssl = a->client != NULL ? rpc_client_ssl(a->client) : NULL;

	return ssl != NULL ? tcp_rx_bytes(SSL_get_fd(ssl)) : 0;
}

/* --- figures ------------------------------------------------------------------------------ */

struct figure {
	const char *key;
	double v;
	int decimals;
};

static void
print_figures(const struct opts *o, const char *scenario, const struct figure *f, size_t n)
{
	if (o->json) {
		printf("{\"scenario\": \"%s\"", scenario);
		for (size_t i = 0; i < n; i++)
			printf(", \"%s\": %.*f", f[i].key, f[i].decimals, isfinite(f[i].v) ? f[i].v : 0);
		printf("}\n");
	} else {
		printf("%s", scenario);
		for (size_t i = 0; i < n; i++)
			printf(" %s=%.*f", f[i].key, f[i].decimals, f[i].v);
		printf("\n");
	}
	fflush(stdout);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The q-th percentile (nearest rank) of n sorted values, in ms. */
static double
pct_ms(const uint32_t *v, size_t n, double q)
{
	size_t r;

	if (n == 0)
		return 0;
	r = (size_t)ceil(q / 100.0 * (double)n);
	if (r < 1)
		r = 1;
	return v[r - 1] / 1000.0;
}

static long
read_status_kib(long pid, const char *field)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, flen) == 0 && line[flen] == ':')
			v = strtol(line + flen + 1, NULL, 10);
	fclose(f);
	return v;
}

/* utime + stime of pid in ms, -1 if unknown. */
static double
read_cpu_ms(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static double
self_cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1000.0 + ru.ru_utime.tv_usec / 1000.0 +
	    ru.ru_stime.tv_sec * 1000.0 + ru.ru_stime.tv_usec / 1000.0;
}

/* --- TLS hooks: every agent's own certificate, its session, its handshake bytes ---------- */

static int
on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct agent *a = SSL_get_ex_data(ssl, ex_index);

	if (a == NULL)
		return 0;
	SSL_SESSION_free(a->sess);
	a->sess = sess;
	return 1;
}

static void
on_tls_info(const SSL *ssl, int where, int ret)
{
	struct agent *a = SSL_get_ex_data(ssl, ex_index);

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

static bool
client_open(struct agent *a)
{
	struct bench *b = a->b;
	SSL *ssl;

	a->client = rpc_client_new(b->loop, b->ctx, b->o.server);
	if (a->client == NULL)
		return false;
	a->hs_seen = false;
	a->hs_rx = 0;
	if ((ssl = rpc_client_ssl(a->client)) == NULL)
		return true;    /* connect failed; the call reports it */
	if (SSL_use_certificate(ssl, a->id.cert) != 1 || SSL_use_PrivateKey(ssl, a->id.key) != 1 ||
	    SSL_set_ex_data(ssl, ex_index, a) != 1) {
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

static void update_send(struct agent *a, long slot);

static void
update_message(void *arg, const uint8_t *data, size_t len)
{
	struct ucall *u = arg;
	Wiresync__V1__UpdateReply *r = wiresync__v1__update_reply__unpack(NULL, len, data);

	if (r != NULL)
		u->revision = r->revision;
	wiresync__v1__update_reply__free_unpacked(r, NULL);
}

static void fanout_acked(struct bench *b, int status, const char *message);

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

static void
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

static void
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
static bool
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

static void
run_for(struct bench *b, double seconds)
{
	uint64_t end = now_us() + (uint64_t)(seconds * 1e6);

	while (now_us() < end)
		loop_run_once(b->loop, 50);
}

static bool
all_ready(struct bench *b)
{
	return b->ready + b->failed >= (long)b->n;
}

static void
connect_all(struct bench *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		enqueue(&b->agents[i]);
}

static void
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
static bool
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

/* --- scenarios ------------------------------------------------------------------------------ */

static bool
update_finished(struct bench *b)
{
	return b->u_done >= b->o.total;
}

static int
scenario_update(struct bench *b)
{
	const struct opts *o = &b->o;
	long live = 0;
	uint64_t t0, t1;
	double cpu0, secs, scpu0, scpu;

	/* connections come up with one untimed Update each (it also registers the peer) */
	for (size_t i = 0; i < b->n; i++)
		b->agents[i].queued = false;
	for (size_t i = 0; i < b->n; i++) {
		while (b->inflight >= o->window)
			loop_run_once(b->loop, 50);
		update_connect(&b->agents[i]);
	}
	if (!run_until(b, all_ready, o->timeout_s, "update: connecting"))
		return 1;
	if ((b->lat_us = calloc((size_t)o->total, sizeof(*b->lat_us))) == NULL)
		fatalx("out of memory");
	cpu0 = self_cpu_ms();
	scpu0 = o->pid > 0 ? read_cpu_ms(o->pid) : -1;
	t0 = now_us();
	for (long s = 0; s < o->streams; s++)
		for (size_t i = 0; i < b->n; i++)
			if (!b->agents[i].ended && b->u_sent < o->total)
				update_send(&b->agents[i], b->u_sent++);
	for (size_t i = 0; i < b->n; i++)
		live += !b->agents[i].ended;
	if (live == 0) {
		log_warnx("update: no connection came up");
		return 1;
	}
	if (!run_until(b, update_finished, o->timeout_s, "update: calls"))
		return 1;
	t1 = now_us();
	scpu = scpu0 >= 0 ? read_cpu_ms(o->pid) - scpu0 : -1;
	secs = (double)(t1 - t0) / 1e6;
	qsort(b->lat_us, (size_t)b->u_ok, sizeof(*b->lat_us), cmp_u32);
	{
		struct figure f[] = {
			{ "identities", (double)b->n, 0 }, { "issue_s", b->issue_s, 3 },
			{ "connections", (double)o->connections, 0 }, { "streams", (double)o->streams, 0 },
			{ "calls", (double)o->total, 0 }, { "acked", (double)b->u_ok, 0 },
			{ "errors", (double)(b->u_err + b->failed), 0 }, { "seconds", secs, 3 },
			{ "updates_per_s", (double)b->u_ok / secs, 0 },
			{ "p50_ms", pct_ms(b->lat_us, (size_t)b->u_ok, 50), 3 },
			{ "p99_ms", pct_ms(b->lat_us, (size_t)b->u_ok, 99), 3 },
			{ "max_ms", pct_ms(b->lat_us, (size_t)b->u_ok, 100), 3 },
			{ "client_cpu_ms", self_cpu_ms() - cpu0, 0 },
			{ "server_cpu_ms", scpu, 0 },
			{ "server_cpu_us_per_update", scpu >= 0 ? scpu * 1000 / (double)b->u_ok : -1, 1 },
		};
		print_figures(o, "update", f, sizeof(f) / sizeof(f[0]));
	}
	return b->u_ok == o->total && b->failed == 0 ? 0 : 1;
}

static void
fanout_next(void *arg)
{
	struct bench *b = arg;

	if (b->fan_cur >= b->o.changes)
		return;
	b->fan_acked = false;
	b->updater->port = FANOUT_PORT_BASE + (uint32_t)b->fan_cur - 1;
	update_send(b->updater, 0);
}

static void
fanout_acked(struct bench *b, int status, const char *message)
{
	if (b->fan_cur < 0) {
		/* the updater's first Update, before the watchers connect */
		b->fan_cur = 0;
		if (status != GRPC_OK) {
			log_warnx("updater: Update: %s: %s", grpc_status_name(status), message);
			b->failed++;
		}
		return;
	}
	if (status != GRPC_OK && b->u_err++ < 3)
		log_warnx("updater: Update %ld: %s: %s", b->fan_cur, grpc_status_name(status), message);
	b->fan_ack[b->fan_cur] = now_us();
	b->fan_acked = true;
}

static bool
updater_ready(struct bench *b)
{
	return b->fan_cur >= 0 || b->failed > 0;
}

static bool
fanout_change_done(struct bench *b)
{
	return b->fan_acked && b->fan_got[b->fan_cur] + b->failed >= (long)b->n;
}

static int
scenario_fanout(struct bench *b)
{
	const struct opts *o = &b->o;
	struct agent *u = b->updater;
	size_t nd = 0, missing = 0, early = 0;
	uint32_t *lat;
	uint64_t t0;
	double setup_s, cpu0, scpu0, scpu;
	int rc = 0;

	b->fan_recv = calloc(b->n * (size_t)o->changes, sizeof(*b->fan_recv));
	b->fan_ack = calloc((size_t)o->changes, sizeof(*b->fan_ack));
	b->fan_got = calloc((size_t)o->changes, sizeof(*b->fan_got));
	lat = calloc(b->n * (size_t)o->changes, sizeof(*lat));
	if (b->fan_recv == NULL || b->fan_ack == NULL || b->fan_got == NULL || lat == NULL)
		fatalx("out of memory");
	snprintf(b->updater_name, sizeof(b->updater_name), "bench-%u", u->idx);
	/* the updater becomes a peer first, so the watchers' snapshots already hold it */
	b->fan_cur = -1;
	u->port = FANOUT_PORT_BASE - 2;
	if (!client_open(u)) {
		rc = 1;
		goto done;
	}
	update_send(u, 0);
	if (!run_until(b, updater_ready, o->timeout_s, "fanout: updater") || b->failed > 0 ||
	    !seed_peers(b)) {
		rc = 1;
		goto done;
	}
	t0 = now_us();
	connect_all(b, b->n);
	if (!run_until(b, all_ready, o->timeout_s, "fanout: watchers connecting")) {
		rc = 1;
		goto done;
	}
	setup_s = (double)(now_us() - t0) / 1e6;
	run_for(b, o->settle_s);
	cpu0 = self_cpu_ms();
	scpu0 = o->pid > 0 ? read_cpu_ms(o->pid) : -1;
	for (b->fan_cur = 0; b->fan_cur < o->changes; b->fan_cur++) {
		fanout_next(b);
		if (!run_until(b, fanout_change_done, o->timeout_s < 30 ? o->timeout_s : 30,
		    "fanout: deliveries")) {
			rc = 1;
			if (!b->fan_acked)
				break;
		}
		if (b->u_err > 0 && !rpc_client_alive(u->client)) {
			log_warnx("fanout: the updater's connection is gone: %s",
			    rpc_client_error(u->client));
			rc = 1;
			break;
		}
		run_for(b, 0.05);
	}
	scpu = scpu0 >= 0 ? read_cpu_ms(o->pid) - scpu0 : -1;
	for (size_t w = 0; w < b->n; w++) {
		for (long r = 0; r < o->changes; r++) {
			uint64_t t = b->fan_recv[w * (size_t)o->changes + r], ack = b->fan_ack[r];
			if (t == 0 || ack == 0) {
				missing++;
				continue;
			}
			/* a watcher may read the event before the updater reads its ack */
			if (t < ack)
				early++;
			lat[nd++] = t > ack ? (uint32_t)(t - ack) : 0;
		}
	}
	qsort(lat, nd, sizeof(*lat), cmp_u32);
	{
		struct figure f[] = {
			{ "identities", (double)b->n_total, 0 }, { "issue_s", b->issue_s, 3 },
			{ "watchers", (double)o->watchers, 0 }, { "changes", (double)o->changes, 0 },
			{ "peers", (double)o->peers + 1, 0 },
			{ "deliveries", (double)nd, 0 },
			{ "expected", (double)o->watchers * (double)o->changes, 0 },
			{ "missing", (double)missing, 0 }, { "before_ack", (double)early, 0 },
			{ "p50_ms", pct_ms(lat, nd, 50), 3 }, { "p99_ms", pct_ms(lat, nd, 99), 3 },
			{ "max_ms", pct_ms(lat, nd, 100), 3 }, { "setup_s", setup_s, 3 },
			{ "errors", (double)(b->failed + b->u_err), 0 },
			{ "client_cpu_ms", self_cpu_ms() - cpu0, 0 },
			{ "server_cpu_ms", scpu, 0 },
			{ "server_cpu_us_per_delivery", scpu >= 0 && nd > 0 ? scpu * 1000 / (double)nd : -1, 2 },
		};
		print_figures(o, "fanout", f, sizeof(f) / sizeof(f[0]));
	}
	rc = rc == 0 && missing == 0 && b->failed == 0 && b->u_err == 0 ? 0 : 1;
done:
	free(lat);
	return rc;
}

static int
scenario_idle(struct bench *b)
{
	const struct opts *o = &b->o;
	long before, after, hwm_before, hwm_after;
	uint64_t t0;
	double setup_s;

	if (!seed_peers(b))
		return 1;
	run_for(b, 0.5);
	before = read_status_kib(o->pid, "VmRSS");
	hwm_before = read_status_kib(o->pid, "VmHWM");
	if (before < 0) {
		log_errorx("cannot read /proc/%ld/status", o->pid);
		return 1;
	}
	t0 = now_us();
	connect_all(b, b->n);
	if (!run_until(b, all_ready, o->timeout_s, "idle: connecting"))
		return 1;
	setup_s = (double)(now_us() - t0) / 1e6;
	run_for(b, o->settle_s);
	after = read_status_kib(o->pid, "VmRSS");
	hwm_after = read_status_kib(o->pid, "VmHWM");
	{
		long up = 0;
		for (size_t i = 0; i < b->n; i++)
			up += b->agents[i].got_first && !b->agents[i].ended;
		struct figure f[] = {
			{ "identities", (double)b->n, 0 }, { "issue_s", b->issue_s, 3 },
			{ "agents", (double)o->watchers, 0 }, { "connected", (double)up, 0 },
			{ "peers", (double)o->peers, 0 },
			{ "rss_before_kib", (double)before, 0 }, { "rss_after_kib", (double)after, 0 },
			{ "per_conn_kib", up > 0 ? (double)(after - before) / (double)up : 0, 2 },
			{ "hwm_before_kib", (double)hwm_before, 0 },
			{ "hwm_after_kib", (double)hwm_after, 0 },
			{ "setup_s", setup_s, 3 },
			{ "errors", (double)b->failed, 0 },
		};
		print_figures(o, "idle", f, sizeof(f) / sizeof(f[0]));
	}
	return b->failed == 0 && b->ready == (long)b->n ? 0 : 1;
}

struct child {
	pid_t pid;
	int status;
	bool done;
};

static bool
restart_done(struct bench *b)
{
	return b->resumed + b->failed >= (long)b->n;
}

static long
read_pid_file(const char *path)
{
	FILE *f = fopen(path, "r");
	long pid = -1;

	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = -1;
	fclose(f);
	return pid;
}

static int
scenario_reconnect(struct bench *b)
{
	const struct opts *o = &b->o;
	uint64_t t0, t_all = 0, rx_hs = 0, rx_max = 0, rx_sum = 0, snap_sum = 0, hs_sum = 0;
	struct child ch = { 0 };
	double cpu_ms = -1, setup_s, cmd_s = 0, ccpu0, first_cpu;
	long pid, nmeas = 0;
	int st;

	if (!seed_peers(b))
		return 1;
	pid = o->pid_file != NULL ? read_pid_file(o->pid_file) : o->pid;
	first_cpu = pid > 0 ? read_cpu_ms(pid) : -1;
	t0 = now_us();
	connect_all(b, b->n);
	if (!run_until(b, all_ready, o->timeout_s, "reconnect: connecting"))
		return 1;
	setup_s = (double)(now_us() - t0) / 1e6;
	if (first_cpu >= 0)
		first_cpu = read_cpu_ms(pid) - first_cpu;
	run_for(b, o->settle_s);
	for (size_t i = 0; i < b->n; i++) {
		struct agent *a = &b->agents[i];
		a->rx_first = agent_rx_bytes(a) - a->hs_rx;
		snap_sum += a->rx_first;
	}
	/* run the restart command beside the loop: agents notice the close and retry */
	b->reconnecting = true;
	ccpu0 = self_cpu_ms();
	t0 = now_us();
	fflush(NULL);
	ch.pid = fork();
	if (ch.pid < 0) {
		log_error("fork");
		return 1;
	}
	if (ch.pid == 0) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		execl("/bin/sh", "sh", "-c", o->restart, (char *)NULL);
		_exit(127);
	}
	while (!ch.done || !restart_done(b)) {
		if (now_us() - t0 > (uint64_t)(o->timeout_s * 1e6)) {
			log_warnx("reconnect: %ld of %zu resumed after %.0f s%s", b->resumed, b->n,
			    o->timeout_s, ch.done ? "" : " (restart command still running)");
			if (!ch.done) {
				kill(ch.pid, SIGTERM);
				waitpid(ch.pid, &st, 0);
			}
			return 1;
		}
		loop_run_once(b->loop, 20);
		if (!ch.done && waitpid(ch.pid, &ch.status, WNOHANG) == ch.pid) {
			ch.done = true;
			cmd_s = (double)(now_us() - t0) / 1e6;
			if (!WIFEXITED(ch.status) || WEXITSTATUS(ch.status) != 0)
				log_warnx("reconnect: restart command exited with status %d",
				    WIFEXITED(ch.status) ? WEXITSTATUS(ch.status) : 128 +
				    WTERMSIG(ch.status));
		}
		if (t_all == 0 && ch.done && restart_done(b))
			t_all = now_us();
	}
	if (t_all == 0)
		t_all = now_us();
	pid = o->pid_file != NULL ? read_pid_file(o->pid_file) : o->pid;
	if (pid > 0)
		cpu_ms = read_cpu_ms(pid);
	ccpu0 = self_cpu_ms() - ccpu0;
	run_for(b, o->settle_s);
	for (size_t i = 0; i < b->n; i++) {
		struct agent *a = &b->agents[i];
		uint64_t v;
		if (!a->resumed)
			continue;
		v = agent_rx_bytes(a) - a->hs_rx;
		rx_sum += v;
		rx_hs += a->hs_rx;
		if (v > rx_max)
			rx_max = v;
		nmeas++;
	}
	hs_sum = rx_hs;
	{
		double n = nmeas > 0 ? (double)nmeas : 1;
		struct figure f[] = {
			{ "identities", (double)b->n, 0 }, { "issue_s", b->issue_s, 3 },
			{ "agents", (double)o->watchers, 0 }, { "resumed", (double)b->resumed, 0 },
			{ "peers", (double)o->peers, 0 },
			{ "tls_resumed", (double)b->tls_resumed, 0 },
			{ "snapshots_on_resume", (double)b->snap_on_resume, 0 },
			{ "wall_s", (double)(t_all - t0) / 1e6, 3 }, { "restart_cmd_s", cmd_s, 3 },
			{ "handshake_rx_bytes_avg", (double)hs_sum / n, 0 },
			{ "after_handshake_rx_bytes_avg", (double)rx_sum / n, 0 },
			{ "after_handshake_rx_bytes_max", (double)rx_max, 0 },
			{ "first_connect_rx_bytes_avg", (double)snap_sum / (double)b->n, 0 },
			{ "server_cpu_ms", cpu_ms, 0 },
			{ "server_cpu_ms_per_agent", cpu_ms >= 0 ? cpu_ms / n : -1, 3 },
			{ "server_cpu_ms_per_first_connect", first_cpu >= 0 ?
			    first_cpu / (double)b->n : -1, 3 },
			{ "client_cpu_ms_per_agent", ccpu0 / n, 3 },
			{ "setup_s", setup_s, 3 }, { "errors", (double)b->failed, 0 },
		};
		print_figures(o, "reconnect", f, sizeof(f) / sizeof(f[0]));
	}
	return b->resumed == (long)b->n && b->failed == 0 ? 0 : 1;
}

static int
write_identity(const char *dir, uint32_t i, const struct identity *id)
{
	char path[4096];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/bench-%u.crt", dir, i);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	ok = PEM_write_X509(f, id->cert);
	if (fclose(f) != 0 || !ok)
		return -1;
	snprintf(path, sizeof(path), "%s/bench-%u.key", dir, i);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fchmod(fileno(f), 0600);
	ok = PEM_write_PrivateKey(f, id->key, NULL, NULL, 0, NULL, NULL);
	if (fclose(f) != 0 || !ok)
		return -1;
	return 0;
}

/* Issues n identities, timed, one at a time (nothing is kept but the files asked for). */
static int
scenario_issue(struct bench *b, size_t n)
{
	struct identity id;
	char err[512];
	uint64_t t0 = now_us();
	double secs, cpu0 = self_cpu_ms();

	for (size_t i = 0; i < n; i++) {
		if (certgen_issue(b->gen, "bench", (uint32_t)i, &id, err, sizeof(err)) < 0) {
			fprintf(stderr, "wiresync-bench: %s\n", err);
			return 1;
		}
		if (b->o.out_dir != NULL && write_identity(b->o.out_dir, (uint32_t)i, &id) < 0) {
			fprintf(stderr, "wiresync-bench: %s: cannot write identity %zu: %s\n",
			    b->o.out_dir, i, strerror(errno));
			identity_clear(&id);
			return 1;
		}
		identity_clear(&id);
	}
	secs = (double)(now_us() - t0) / 1e6;
	{
		struct figure f[] = {
			{ "identities", (double)n, 0 }, { "seconds", secs, 3 },
			{ "per_s", (double)n / secs, 0 }, { "cpu_ms", self_cpu_ms() - cpu0, 0 },
		};
		print_figures(&b->o, "issue", f, sizeof(f) / sizeof(f[0]));
	}
	return 0;
}

/* --- setup --------------------------------------------------------------------------------- */

static void
raise_nofile(long need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= (rlim_t)need)
		return;
	if (rl.rlim_max < (rlim_t)need)
		rl.rlim_max = (rlim_t)need;    /* works as root */
	rl.rlim_cur = (rlim_t)need;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		log_warnx("open files limited to %llu, %ld wanted", (unsigned long long)rl.rlim_cur,
		    need);
	}
}

static long
parse_long(const char *s, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "wiresync-bench: %s: \"%s\" is not a number from %ld to %ld\n",
		    what, s, min, max);
		exit(EXIT_USAGE);
	}
	return v;
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_SERVER = 256, O_CACERT, O_CAKEY, O_TRUST, O_NETWORK, O_JSON, O_PID, O_RESTART,
		O_PIDFILE, O_SNAPSHOT, O_WINDOW, O_SETTLE, O_TIMEOUT, O_OUT, O_PEERS, O_SEED };
	static const struct option lo[] = {
		{ "server", required_argument, NULL, O_SERVER },
		{ "ca-cert", required_argument, NULL, O_CACERT },
		{ "ca-key", required_argument, NULL, O_CAKEY },
		{ "trust", required_argument, NULL, O_TRUST },
		{ "network", required_argument, NULL, O_NETWORK },
		{ "json", no_argument, NULL, O_JSON },
		{ "pid", required_argument, NULL, O_PID },
		{ "pid-file", required_argument, NULL, O_PIDFILE },
		{ "restart", required_argument, NULL, O_RESTART },
		{ "snapshot", no_argument, NULL, O_SNAPSHOT },
		{ "window", required_argument, NULL, O_WINDOW },
		{ "settle", required_argument, NULL, O_SETTLE },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "out", required_argument, NULL, O_OUT },
		{ "peers", required_argument, NULL, O_PEERS },
		{ "seed", required_argument, NULL, O_SEED },
		{ "connections", required_argument, NULL, 'c' },
		{ "streams", required_argument, NULL, 's' },
		{ "calls", required_argument, NULL, 'n' },
		{ "watchers", required_argument, NULL, 'w' },
		{ "changes", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sc;
	int c;

	while ((c = getopt_long(argc, argv, "c:s:n:w:r:h", lo, NULL)) != -1) {
		switch (c) {
		case O_SERVER: o->server = optarg; break;
		case O_CACERT: o->ca_cert = optarg; break;
		case O_CAKEY: o->ca_key = optarg; break;
		case O_TRUST: o->trust = optarg; break;
		case O_NETWORK: o->network = optarg; break;
		case O_JSON: o->json = true; break;
		case O_PID: o->pid = parse_long(optarg, "--pid", 1, 1L << 30); break;
		case O_PIDFILE: o->pid_file = optarg; break;
		case O_RESTART: o->restart = optarg; break;
		case O_SNAPSHOT: o->snapshot = true; break;
		case O_WINDOW: o->window = parse_long(optarg, "--window", 1, 100000); break;
		case O_SETTLE: o->settle_s = (double)parse_long(optarg, "--settle", 0, 3600); break;
		case O_TIMEOUT: o->timeout_s = (double)parse_long(optarg, "--timeout", 1, 86400); break;
		case O_OUT: o->out_dir = optarg; break;
		case O_PEERS: o->peers = parse_long(optarg, "--peers", 0, 1000000); break;
		case O_SEED: o->seed = parse_long(optarg, "--seed", 0, 1L << 62); break;
		case 'c': o->connections = parse_long(optarg, "-c", 1, 100000); break;
		case 's': o->streams = parse_long(optarg, "-s", 1, 10000); break;
		case 'n': o->total = parse_long(optarg, "-n", 1, 1000000000); break;
		case 'w': o->watchers = parse_long(optarg, "-w", 1, 1000000); break;
		case 'r': o->changes = parse_long(optarg, "-r", 1, 100000); break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(EXIT_USAGE);
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "wiresync-bench: give exactly one scenario "
		    "(update, fanout, idle, reconnect); --help for more\n");
		exit(EXIT_USAGE);
	}
	sc = argv[optind];
	if (strcmp(sc, "issue") == 0)
		o->sc = SC_ISSUE;
	else if (strcmp(sc, "update") == 0)
		o->sc = SC_UPDATE;
	else if (strcmp(sc, "fanout") == 0)
		o->sc = SC_FANOUT;
	else if (strcmp(sc, "idle") == 0)
		o->sc = SC_IDLE;
	else if (strcmp(sc, "reconnect") == 0)
		o->sc = SC_RECONNECT;
	else {
		fprintf(stderr, "wiresync-bench: unknown scenario \"%s\"; --help for the list\n", sc);
		exit(EXIT_USAGE);
	}
	if (o->ca_cert == NULL || o->ca_key == NULL || (o->sc != SC_ISSUE &&
	    (o->server == NULL || o->trust == NULL))) {
		fprintf(stderr, "wiresync-bench: --server, --ca-cert, --ca-key and --trust are "
		    "required; --help for more\n");
		exit(EXIT_USAGE);
	}
	if (o->sc == SC_IDLE && o->pid == 0) {
		fprintf(stderr, "wiresync-bench: idle needs --pid PID of the server\n");
		exit(EXIT_USAGE);
	}
	if (o->sc == SC_RECONNECT && o->restart == NULL) {
		fprintf(stderr, "wiresync-bench: reconnect needs --restart CMD\n");
		exit(EXIT_USAGE);
	}
}

int
main(int argc, char **argv)
{
	struct bench b;
	struct opts *o = &b.o;
	struct tls_files tf = { NULL, NULL, NULL, NULL };
	char err[512];
	uint64_t t0;
	size_t n;
	int rc = 1;

	memset(&b, 0, sizeof(b));
	*o = (struct opts){ .connections = 4, .streams = 16, .total = 10000, .watchers = 100,
		.changes = 10, .window = 256, .settle_s = 2, .timeout_s = 300, .peers = -1 };
	log_init("wiresync-bench", LOG_LEVEL_WARN);
	parse_args(argc, argv, o);
	if (o->peers < 0)
		o->peers = o->sc == SC_IDLE || o->sc == SC_RECONNECT ? 1 : 0;
	if (o->sc == SC_UPDATE || o->sc == SC_ISSUE)
		o->peers = 0;
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned)getpid() ^ (unsigned)now_us());

	n = (size_t)(o->sc == SC_UPDATE ? o->connections : o->sc == SC_ISSUE ? o->total :
	    o->watchers);
	raise_nofile((long)n + 256 + o->window);
	b.gen = certgen_new(o->ca_cert, o->ca_key, o->network, err, sizeof(err));
	if (b.gen == NULL) {
		fprintf(stderr, "wiresync-bench: %s\n", err);
		return 1;
	}
	certgen_set_seed(b.gen, (uint64_t)o->seed);
	if (o->sc == SC_ISSUE) {
		rc = scenario_issue(&b, (size_t)o->total);
		goto out;
	}
	tf.ca = o->trust;
	b.ctx = tls_client_ctx_new(&tf, err, sizeof(err));
	if (b.ctx == NULL) {
		fprintf(stderr, "wiresync-bench: %s\n", err);
		goto out;
	}
	ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	SSL_CTX_set_session_cache_mode(b.ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(b.ctx, on_new_session);
	SSL_CTX_set_info_callback(b.ctx, on_tls_info);
	if ((b.loop = loop_new()) == NULL) {
		log_error("loop_new");
		goto out;
	}

	/* identities: n agents plus the fanout updater */
	b.n = n;
	b.n_total = n + (o->sc == SC_FANOUT) + (size_t)o->peers;
	b.agents = calloc(b.n_total + 1, sizeof(*b.agents));
	b.queue = calloc(n, sizeof(*b.queue));
	if (b.agents == NULL || b.queue == NULL)
		fatalx("out of memory");
	t0 = now_us();
	for (size_t i = 0; i < b.n_total; i++) {
		b.agents[i].b = &b;
		b.agents[i].idx = (uint32_t)i;
		if (certgen_issue(b.gen, "bench", (uint32_t)i, &b.agents[i].id, err,
		    sizeof(err)) < 0) {
			fprintf(stderr, "wiresync-bench: %s\n", err);
			goto out;
		}
	}
	b.issue_s = (double)(now_us() - t0) / 1e6;
	if (o->sc == SC_FANOUT)
		b.updater = &b.agents[n];
	b.seeds = &b.agents[n + (o->sc == SC_FANOUT)];

	switch (o->sc) {
	case SC_ISSUE: break;
	case SC_UPDATE: rc = scenario_update(&b); break;
	case SC_FANOUT: rc = scenario_fanout(&b); break;
	case SC_IDLE: rc = scenario_idle(&b); break;
	case SC_RECONNECT: rc = scenario_reconnect(&b); break;
	}
out:
	if (b.loop != NULL)
		stop_all(&b);
	if (b.agents != NULL)
		for (size_t i = 0; i < b.n_total; i++) {
			identity_clear(&b.agents[i].id);
			SSL_SESSION_free(b.agents[i].sess);
		}
	free(b.agents);
	free(b.queue);
	free(b.lat_us);
	free(b.fan_recv);
	free(b.fan_ack);
	free(b.fan_got);
	loop_del(b.loop);
	SSL_CTX_free(b.ctx);
	certgen_del(b.gen);
	return rc;
}
