/* Prometheus text exposition over a tiny HTTP/1.1 server: one request per connection, a
 * few connections at once, each with a deadline and a bounded request. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/netaddr.h"
#include "rpc/grpc.h"
#include "rpc/log.h"
#include "server/crl.h"
#include "server/hub_io.h"
#include "server/links.h"
#include "server/metrics.h"
#include "server/relay_io.h"
#include "server/service.h"

#define METRICS_MAX_CLIENTS 4
#define METRICS_REQUEST_MAX 4096
#define METRICS_TIMEOUT_MS 5000
#define METRICS_MAX_METHODS 64    /* distinct paths; later ones share one "other" row */
#define METRICS_N_CODES 17        /* gRPC status codes 0..16 */
#define METRICS_PATH_MAX 128

/* Upper bounds of the histogram buckets: 10 us to 10 s. */
#define N_BUCKETS 19
static const uint64_t bucket_ns[N_BUCKETS] = {
	10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
	25000000, 50000000, 100000000, 250000000, 500000000, 1000000000, 2500000000ull,
	5000000000ull, 10000000000ull,
};
static const char *const bucket_le[N_BUCKETS] = {
	"1e-05", "2.5e-05", "5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
	"0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
};

struct hist {
	uint64_t le[N_BUCKETS + 1];   /* per bucket, not cumulative; the last is +Inf */
	uint64_t count;
	uint64_t sum_ns;
};

static const struct {
	const char *name, *help;
} hist_info[METRICS_N_HIST] = {
	[METRICS_UPDATE] = { "wiresync_update_latency_seconds",
	    "Update calls from the request received to the reply after its commit." },
	[METRICS_FANOUT] = { "wiresync_fanout_latency_seconds",
	    "From a change's commit to its event queued on a watcher's stream, per watcher." },
	[METRICS_COMMIT] = { "wiresync_store_commit_seconds",
	    "Store transactions that changed something, from BEGIN to COMMIT." },
};

struct rpc_row {
	char path[METRICS_PATH_MAX];  /* "" for unknown methods, "*" for the overflow row */
	uint64_t codes[METRICS_N_CODES];
};

struct client {
	struct metrics *m;
	struct loop_io io;
	struct loop_timer timer;
	bool used;
	char req[METRICS_REQUEST_MAX];
	size_t req_len;
	char *resp;
	size_t resp_len, resp_off;
};

struct metrics {
	struct loop *loop;
	struct loop_io lis;
	int port;
	const struct service *svc;
	const struct rpc_server *srv;
	const struct relay_io *relay;
	const struct hub_io *hub;
	int64_t start_s;
	struct hist hist[METRICS_N_HIST];
	struct rpc_row rpcs[METRICS_MAX_METHODS + 1];
	size_t n_rpcs;
	uint64_t hs_fail[RPC_HS_N];
	struct client clients[METRICS_MAX_CLIENTS];
};

/* --- recording -------------------------------------------------------------------------- */

uint64_t
metrics_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void
metrics_observe(struct metrics *m, enum metrics_hist h, uint64_t ns)
{
	struct hist *hi;
	size_t i;

	if (m == NULL || h >= METRICS_N_HIST)
		return;
	hi = &m->hist[h];
	/* "le": a value equal to a bound belongs to that bucket */
	for (i = 0; i < N_BUCKETS && ns > bucket_ns[i]; i++)
		;
	hi->le[i]++;
	hi->count++;
	hi->sum_ns += ns;
}

void
metrics_observe_since(struct metrics *m, enum metrics_hist h, uint64_t start_ns)
{
	uint64_t now;

	if (m == NULL)
		return;
	now = metrics_clock_ns();
	metrics_observe(m, h, now > start_ns ? now - start_ns : 0);
}

static struct rpc_row *
rpc_row_get(struct metrics *m, const char *path)
{
	for (size_t i = 0; i < m->n_rpcs; i++)
		if (strcmp(m->rpcs[i].path, path) == 0)
			return &m->rpcs[i];
	/* Paths come from the servers' method tables, so this rarely fills. */
	if (m->n_rpcs == METRICS_MAX_METHODS || strlen(path) >= METRICS_PATH_MAX) {
		struct rpc_row *r = &m->rpcs[METRICS_MAX_METHODS];
		snprintf(r->path, sizeof(r->path), "*");
		return r;
	}
	snprintf(m->rpcs[m->n_rpcs].path, METRICS_PATH_MAX, "%s", path);
	return &m->rpcs[m->n_rpcs++];
}

void
metrics_rpc_register(struct metrics *m, const char *path)
{
	rpc_row_get(m, path);
}

static void
on_call_done(const char *path, int status, void *arg)
{
	struct rpc_row *r = rpc_row_get(arg, path);

	if (status < 0 || status >= METRICS_N_CODES)
		status = GRPC_UNKNOWN;
	r->codes[status]++;
}

static void
on_handshake_failed(enum rpc_handshake_failure why, void *arg)
{
	struct metrics *m = arg;

	if ((int)why >= 0 && why < RPC_HS_N)
		m->hs_fail[why]++;
}

void
metrics_rpc_observer(struct metrics *m, struct rpc_observer *obs)
{
	obs->call_done = on_call_done;
	obs->handshake_failed = on_handshake_failed;
	obs->arg = m;
}

void
metrics_attach(struct metrics *m, const struct service *svc, const struct rpc_server *srv)
{
	m->svc = svc;
	m->srv = srv;
}

void
metrics_attach_relay(struct metrics *m, const struct relay_io *relay)
{
	m->relay = relay;
}

void
metrics_attach_hub(struct metrics *m, const struct hub_io *hub)
{
	m->hub = hub;
}

/* --- exposition ------------------------------------------------------------------------- */

static void
head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values escaped as the text format wants: backslash, quote, newline. */
static void
label_value(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n && s[i] != '\0'; i++) {
		if (s[i] == '\\' || s[i] == '"')
			fprintf(f, "\\%c", s[i]);
		else if (s[i] == '\n')
			fputs("\\n", f);
		else
			fputc(s[i], f);
	}
}

static void
rpc_labels(FILE *f, const char *path)
{
	const char *slash = path[0] == '/' ? strrchr(path, '/') : NULL;

	fputs("service=\"", f);
	if (slash != NULL && slash != path) {
		label_value(f, path + 1, (size_t)(slash - path - 1));
		fputs("\",method=\"", f);
		label_value(f, slash + 1, strlen(slash + 1));
	} else {
		fputs(path[0] == '*' ? "other\",method=\"other" : "unknown\",method=\"unknown", f);
	}
	fputs("\"", f);
}

static void
seconds(FILE *f, uint64_t ns)
{
	fprintf(f, "%llu.%09llu", (unsigned long long)(ns / 1000000000ull),
	    (unsigned long long)(ns % 1000000000ull));
}

static void
render_hist(FILE *f, const struct hist *h, const char *name, const char *help)
{
	uint64_t cum = 0;

	head(f, name, "histogram", help);
	for (size_t i = 0; i < N_BUCKETS; i++) {
		cum += h->le[i];
		fprintf(f, "%s_bucket{le=\"%s\"} %llu\n", name, bucket_le[i], (unsigned long long)cum);
	}
	fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
	fprintf(f, "%s_sum ", name);
	seconds(f, h->sum_ns);
	fprintf(f, "\n%s_count %llu\n", name, (unsigned long long)h->count);
}

/* One series per CRL in force: alert on time() > nextUpdate - N days. */
static void
render_crls(FILE *f, const struct crlset *crls)
{
	static const char *const names[][2] = {
		{ "wiresync_crl_next_update_seconds", "nextUpdate of each CRL in force, Unix time "
		    "(0: it has none); past it the CRL is stale but still enforced." },
		{ "wiresync_crl_last_update_seconds", "thisUpdate of each CRL in force, Unix time." },
		{ "wiresync_crl_revoked", "Serials each CRL in force revokes." },
	};
	struct crl_info info;

	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		head(f, names[k][0], "gauge", names[k][1]);
		for (size_t i = 0; i < crlset_count(crls); i++) {
			crlset_info(crls, i, &info);
			fprintf(f, "%s{network=\"", names[k][0]);
			label_value(f, info.network, strlen(info.network));
			fputs("\",issuer=\"", f);
			label_value(f, info.issuer, strlen(info.issuer));
			fprintf(f, "\"} %lld\n", k == 0 ? (long long)info.next_update :
			    k == 1 ? (long long)info.this_update : (long long)info.revoked);
		}
	}
}

/* Pairs up and down by path, from both ends' link reports (server/links.h). */
static void
render_links(FILE *f, const struct service *svc)
{
	size_t up[LINKS_PATHS], down[LINKS_PATHS];

	links_count(service_links(svc), links_wall_ms(), up, down);
	head(f, "wiresync_link_pairs", "gauge",
	    "Pairs of hosts by state (up: both ends saw a handshake lately) and path.");
	for (size_t i = 0; i < LINKS_PATHS; i++) {
		const char *p = links_path_names[i][0] != '\0' ? links_path_names[i] : "none";
		if (i < LINKS_PATHS - 1)
			fprintf(f, "wiresync_link_pairs{state=\"up\",path=\"%s\"} %zu\n", p, up[i]);
		/* a pair that is down has no path */
		if (i == LINKS_PATHS - 1)
			fprintf(f, "wiresync_link_pairs{state=\"down\",path=\"%s\"} %zu\n", p,
			    down[i]);
	}
}

static void
render_relay(FILE *f, const struct relay_io *relay)
{
	struct relay_io_stats st;

	relay_io_stats_get(relay, &st);
	head(f, "wiresync_relay_hosts", "gauge",
	    "Hosts the relay forwards for: current certificates.");
	fprintf(f, "wiresync_relay_hosts %zu\n", st.table.hosts);
	head(f, "wiresync_relay_sessions", "gauge", "Sender indices the relay remembers.");
	fprintf(f, "wiresync_relay_sessions %zu\n", st.table.entries);
	head(f, "wiresync_relay_packets_total", "counter",
	    "Datagrams received by the relay, by verdict (forward, or why dropped).");
	for (int v = 0; v < RELAY_VERDICT_COUNT; v++)
		fprintf(f, "wiresync_relay_packets_total{verdict=\"%s\"} %llu\n",
		    relay_verdict_name((enum relay_verdict)v),
		    (unsigned long long)st.table.verdicts[v]);
	head(f, "wiresync_relay_sent_bytes_total", "counter", "Bytes the relay forwarded.");
	fprintf(f, "wiresync_relay_sent_bytes_total %llu\n", (unsigned long long)st.sent_bytes);
	head(f, "wiresync_relay_send_errors_total", "counter",
	    "Datagrams the relay could not send (buffer full, unreachable).");
	fprintf(f, "wiresync_relay_send_errors_total %llu\n",
	    (unsigned long long)st.send_errors);
}

char *
metrics_render(struct metrics *m, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f;

	f = open_memstream(&buf, &n);
	if (f == NULL)
		return NULL;
	head(f, "wiresync_build_info", "gauge", "wiresyncd's version.");
	fprintf(f, "wiresync_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	head(f, "wiresync_start_time_seconds", "gauge", "When wiresyncd started, Unix time.");
	fprintf(f, "wiresync_start_time_seconds %lld\n", (long long)m->start_s);
	head(f, "wiresync_connections", "gauge",
	    "Open client connections, TLS handshakes in progress included.");
	fprintf(f, "wiresync_connections %zu\n", m->srv != NULL ? rpc_server_connections(m->srv) : 0);
	head(f, "wiresync_watchers", "gauge", "Open Watch streams.");
	fprintf(f, "wiresync_watchers %zu\n", m->svc != NULL ? service_watcher_count(m->svc) : 0);
	head(f, "wiresync_peers", "gauge", "Peers in the store, all networks.");
	fprintf(f, "wiresync_peers %zu\n", m->svc != NULL ? service_peer_count(m->svc) : 0);
	head(f, "wiresync_revision", "gauge", "The store's revision: it grows by one per change.");
	fprintf(f, "wiresync_revision %llu\n",
	    (unsigned long long)(m->svc != NULL ? service_revision(m->svc) : 0));

	render_crls(f, m->svc != NULL ? service_crls(m->svc) : NULL);
	render_links(f, m->svc);
	if (m->relay != NULL)
		render_relay(f, m->relay);
	if (m->hub != NULL) {
		struct hub_io_stats hs;

		hub_io_stats_get(m->hub, &hs);
		head(f, "wiresync_hub_peers", "gauge",
		    "Peers the hub added to hub_interface: stored, current certificates.");
		fprintf(f, "wiresync_hub_peers %zu\n", hs.peers);
		head(f, "wiresync_hub_observed_changes_total", "counter",
		    "Changes of a peer's observed_endpoint the hub published.");
		fprintf(f, "wiresync_hub_observed_changes_total %llu\n",
		    (unsigned long long)hs.observed_changes);
	}

	head(f, "wiresync_rpcs_total", "counter",
	    "Calls ended, by method and gRPC status (CANCELLED: the client went away first).");
	for (size_t i = 0; i <= METRICS_MAX_METHODS; i++) {
		const struct rpc_row *r = &m->rpcs[i];
		if (i >= m->n_rpcs && i != METRICS_MAX_METHODS)
			continue;
		if (i == METRICS_MAX_METHODS && r->path[0] == '\0')
			continue;
		for (int c = 0; c < METRICS_N_CODES; c++) {
			/* OK always shows, so every known method has a series from the start. */
			if (r->codes[c] == 0 && c != GRPC_OK)
				continue;
			fputs("wiresync_rpcs_total{", f);
			rpc_labels(f, r->path);
			fprintf(f, ",code=\"%s\"} %llu\n", grpc_status_name(c),
			    (unsigned long long)r->codes[c]);
		}
	}
	head(f, "wiresync_tls_handshake_failures_total", "counter",
	    "Connections closed before or at the handshake, by reason.");
	for (int i = 0; i < RPC_HS_N; i++)
		fprintf(f, "wiresync_tls_handshake_failures_total{reason=\"%s\"} %llu\n",
		    rpc_handshake_failure_name(i), (unsigned long long)m->hs_fail[i]);
	for (int h = 0; h < METRICS_N_HIST; h++)
		render_hist(f, &m->hist[h], hist_info[h].name, hist_info[h].help);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

/* --- HTTP ------------------------------------------------------------------------------- */

static void
client_close(struct client *c)
{
	struct metrics *m = c->m;

	loop_timer_cancel(m->loop, &c->timer);
	loop_io_del(m->loop, &c->io);
	close(c->io.fd);
	c->io.fd = -1;
	free(c->resp);
	c->resp = NULL;
	c->used = false;
}

static void
client_timeout(void *arg)
{
	client_close(arg);
}

static int
respond(struct client *c, const char *status, const char *body, size_t body_len)
{
	char hdr[256];
	int n;

	n = snprintf(hdr, sizeof(hdr),
	    "HTTP/1.1 %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "Connection: close\r\n\r\n", status,
	    strncmp(status, "200", 3) == 0 ? "text/plain; version=0.0.4; charset=utf-8" :
	    "text/plain; charset=utf-8", body_len);
	c->resp = malloc((size_t)n + body_len);
	if (c->resp == NULL)
		return -1;
	memcpy(c->resp, hdr, (size_t)n);
	if (body_len > 0)
		memcpy(c->resp + n, body, body_len);
	c->resp_len = (size_t)n + body_len;
	c->resp_off = 0;
	return loop_io_mod(c->m->loop, &c->io, EPOLLOUT);
}

/* The request line of a complete head: GET or HEAD of /metrics (a query is ignored). */
static int
handle_request(struct client *c)
{
	char *sp, *path, *end;
	bool head_only;
	size_t len = 0;
	char *body;
	int r;

	c->req[c->req_len] = '\0';
	sp = strchr(c->req, ' ');
	if (sp == NULL)
		return respond(c, "400 Bad Request", "bad request\n", 12);
	*sp = '\0';
	path = sp + 1;
	end = path + strcspn(path, " ?\r\n");
	*end = '\0';
	head_only = strcmp(c->req, "HEAD") == 0;
	if (!head_only && strcmp(c->req, "GET") != 0)
		return respond(c, "405 Method Not Allowed", "GET only\n", 9);
	if (strcmp(path, "/metrics") != 0)
		return respond(c, "404 Not Found", "not found; try /metrics\n", 24);
	body = metrics_render(c->m, &len);
	if (body == NULL)
		return respond(c, "500 Internal Server Error", "out of memory\n", 14);
	r = respond(c, "200 OK", body, len);
	if (head_only && r == 0)
		c->resp_len -= len;
	free(body);
	return r;
}

static void
client_event(void *arg, uint32_t events)
{
	struct client *c = arg;
	ssize_t n;

	if (c->resp != NULL) {
		n = send(c->io.fd, c->resp + c->resp_off, c->resp_len - c->resp_off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n > 0)
			c->resp_off += (size_t)n;
		if (n <= 0 || c->resp_off == c->resp_len) {
			shutdown(c->io.fd, SHUT_WR);
			client_close(c);
		}
		return;
	}
	n = recv(c->io.fd, c->req + c->req_len, sizeof(c->req) - 1 - c->req_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->req_len += (size_t)n;
	c->req[c->req_len] = '\0';
	if (strstr(c->req, "\r\n\r\n") != NULL || strstr(c->req, "\n\n") != NULL) {
		if (handle_request(c) < 0)
			client_close(c);
	} else if (c->req_len == sizeof(c->req) - 1) {
		if (respond(c, "431 Request Header Fields Too Large", "request too large\n", 18) < 0)
			client_close(c);
	}
}

static void
listener_event(void *arg, uint32_t events)
{
	struct metrics *m = arg;

	for (int k = 0; k < 16; k++) {
		struct client *c = NULL;
		int fd;

		fd = accept4(m->lis.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		for (size_t i = 0; i < METRICS_MAX_CLIENTS && c == NULL; i++)
			if (!m->clients[i].used)
				c = &m->clients[i];
		if (c == NULL) {
			/* A scraper needs one connection; more are someone else's. */
			log_debug("metrics: refusing a connection: %d open", METRICS_MAX_CLIENTS);
			close(fd);
			continue;
		}
		memset(c, 0, sizeof(*c));
		c->m = m;
		if (loop_io_add(m->loop, &c->io, fd, EPOLLIN, client_event, c) < 0 ||
		    loop_timer_set(m->loop, &c->timer, METRICS_TIMEOUT_MS, client_timeout, c) < 0) {
			loop_io_del(m->loop, &c->io);
			close(fd);
			continue;
		}
		c->used = true;
	}
}

/* --- setup ------------------------------------------------------------------------------ */

/* A loopback "HOST:PORT" / "[V6]:PORT" into a socket address, or false with err. */
static bool
addr_parse(const char *addr, struct sockaddr_storage *ss, socklen_t *sl, char *err, size_t errlen)
{
	bool lo = false;

	switch (netaddr_hostport_parse(addr, ss, sl, &lo)) {
	case NETADDR_HOSTPORT_NO_PORT:
		snprintf(err, errlen, "\"%s\" has no port (HOST:PORT)", addr);
		return false;
	case NETADDR_HOSTPORT_BAD_PORT:
		snprintf(err, errlen, "\"%s\": bad port", addr);
		return false;
	case NETADDR_HOSTPORT_BAD_HOST:
		snprintf(err, errlen, "\"%s\" is not a numeric address with a port (127.0.0.1:9470 "
		    "or [::1]:9470)", addr);
		return false;
	case NETADDR_HOSTPORT_OK:
		break;
	}
	if (!lo) {
		snprintf(err, errlen, "\"%s\" is not a loopback address: metrics are served to "
		    "this host only (127.0.0.1:PORT or [::1]:PORT)", addr);
		return false;
	}
	return true;
}

bool
metrics_addr_ok(const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	return addr_parse(addr, &ss, &sl, err, errlen);
}

struct metrics *
metrics_new(struct loop *l)
{
	struct metrics *m;

	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->loop = l;
	m->lis.fd = -1;
	m->start_s = (int64_t)time(NULL);
	for (size_t i = 0; i < METRICS_MAX_CLIENTS; i++)
		m->clients[i].io.fd = -1;
	return m;
}

int
metrics_listen(struct metrics *m, const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, r, one = 1;
	char why[200];

	if (!addr_parse(addr, &ss, &sl, why, sizeof(why))) {
		snprintf(err, errlen, "metrics_listen: %s", why);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto syserr;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 16) < 0)
		goto syserr;
	r = loop_io_add(m->loop, &m->lis, fd, EPOLLIN, listener_event, m);
	if (r < 0) {
		errno = -r;
		goto syserr;
	}
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		m->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
syserr:
	r = -errno;
	snprintf(err, errlen, "metrics_listen: listen on %s: %s", addr, strerror(errno));
	if (fd >= 0)
		close(fd);
	m->lis.fd = -1;
	return r;
}

int
metrics_port(const struct metrics *m)
{
	return m->port;
}

void
metrics_del(struct metrics *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < METRICS_MAX_CLIENTS; i++)
		if (m->clients[i].used)
			client_close(&m->clients[i]);
	if (m->lis.fd >= 0) {
		loop_io_del(m->loop, &m->lis);
		close(m->lis.fd);
	}
	free(m);
}
