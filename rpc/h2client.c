/* gRPC client over nghttp2 with a client certificate: the connection (resolve, connect,
 * TLS, set-up timeouts, keepalive PINGs) and its lifetime. h2client_call.c has the calls
 * and the HTTP/2 callbacks that carry them. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "rpc/grpc.h"
#include "rpc/h2client.h"
#include "rpc/h2client_impl.h"
#include "rpc/h2conn.h"
#include "rpc/log.h"
#include "rpc/tls.h"

#define CLIENT_OUTPUT_MAX (256 * 1024)

static void client_keepalive(void *arg);
static void client_keepalive_next(void *arg);

/* --- helpers ---------------------------------------------------------------------------- */

static int
split_hostport(const char *hostport, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *colon, *h = hostport;
	size_t n;

	colon = strrchr(hostport, ':');
	if (colon == NULL || colon[1] == '\0')
		return -EINVAL;
	n = (size_t)(colon - hostport);
	if (h[0] == '[') {
		if (n < 2 || h[n - 1] != ']')
			return -EINVAL;
		h++;
		n -= 2;
	}
	if (n == 0 || n >= hostlen || strlen(colon + 1) >= portlen)
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	snprintf(port, portlen, "%s", colon + 1);
	return 0;
}

/* "10 s", "0.5 s": a duration for a message. */
static const char *
secs(uint64_t ms, char *buf, size_t len)
{
	if (ms % 1000 == 0)
		snprintf(buf, len, "%llu s", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, len, "%.1f s", (double)ms / 1000);
	return buf;
}

/* Why a connection still being set up after ms is not up: the TCP connect or TLS. */
void
h2client_setup_failure(const struct rpc_client *c, uint64_t ms, char *buf, size_t len)
{
	char t[32];

	if (!c->h.tcp_up)
		snprintf(buf, len, "could not connect to %s within %s", c->authority,
		    secs(ms, t, sizeof(t)));
	else
		snprintf(buf, len, "TLS handshake with %s did not finish within %s", c->authority,
		    secs(ms, t, sizeof(t)));
}

/* --- connection ------------------------------------------------------------------------- */

static int
client_handshake_done(struct h2conn *h, void *arg)
{
	struct rpc_client *c = arg;
	nghttp2_session *session;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20 },
	};

	if (!tls_alpn_is_h2(h->ssl)) {
		snprintf(h->why, sizeof(h->why), "server did not negotiate ALPN h2");
		return -1;
	}
	if (nghttp2_session_client_new(&session, c->cbs, c) != 0) {
		snprintf(h->why, sizeof(h->why), "out of memory");
		return -1;
	}
	h2conn_set_session(h, session);
	if (nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0)
		return -1;
	nghttp2_session_set_local_window_size(session, NGHTTP2_FLAG_NONE, 0, 1 << 24);
	loop_timer_cancel(c->loop, &c->setup);
	c->ready = true;
	if (c->keepalive_ms > 0)
		loop_timer_set(c->loop, &c->keepalive, c->keepalive_ms, client_keepalive, c);
	for (struct rpc_client_call *call = c->calls; call != NULL; call = call->next)
		if (call->stream_id == 0 && !call->fail_defer.queued && h2client_call_submit(call) < 0)
			return -1;
	return 0;
}

static void
client_closed(struct h2conn *h, void *arg)
{
	struct rpc_client *c = arg;

	if (c->error[0] == '\0')        /* a set-up timeout or name mismatch said more */
		snprintf(c->error, sizeof(c->error), "%s", h->why[0] ? h->why : "connection closed");
	c->ready = false;
	loop_timer_cancel(c->loop, &c->keepalive);
	loop_timer_cancel(c->loop, &c->setup);
	while (c->calls != NULL) {
		struct rpc_client_call *call = c->calls;
		call->stream_id = 0;
		h2client_call_complete(call, c->deleted ? GRPC_CANCELLED : GRPC_UNAVAILABLE, c->error);
	}
}

static void
client_keepalive(void *arg)
{
	struct rpc_client *c = arg;

	if (c->h.closed || !c->ready)
		return;
	if (c->ping_outstanding) {
		h2conn_close(&c->h, "server did not answer a keepalive PING");
		return;
	}
	if (nghttp2_submit_ping(c->h.session, NGHTTP2_FLAG_NONE, NULL) == 0) {
		c->ping_outstanding = true;
		h2conn_flush_later(&c->h);
	}
	loop_timer_set(c->loop, &c->keepalive, c->keepalive_timeout_ms, client_keepalive_next, c);
}

static void
client_keepalive_next(void *arg)
{
	struct rpc_client *c = arg;

	if (c->ping_outstanding) {
		h2conn_close(&c->h, "server did not answer a keepalive PING");
		return;
	}
	if (c->keepalive_ms > c->keepalive_timeout_ms)
		loop_timer_set(c->loop, &c->keepalive, c->keepalive_ms - c->keepalive_timeout_ms,
		    client_keepalive, c);
	else
		client_keepalive(c);
}

void
rpc_client_set_keepalive(struct rpc_client *c, uint32_t interval_ms, uint32_t timeout_ms)
{
	c->keepalive_ms = interval_ms;
	c->keepalive_timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
	if (c->loop == NULL)
		return;
	loop_timer_cancel(c->loop, &c->keepalive);
	if (interval_ms > 0 && c->ready)
		loop_timer_set(c->loop, &c->keepalive, interval_ms, client_keepalive, c);
}

static void
client_setup_timeout(void *arg)
{
	struct rpc_client *c = arg;

	h2client_setup_failure(c, c->h.tcp_up ? c->handshake_timeout_ms : c->connect_timeout_ms,
	    c->error, sizeof(c->error));
	h2conn_close(&c->h, NULL);
}

static void
client_connected(struct h2conn *h, void *arg)
{
	struct rpc_client *c = arg;

	loop_timer_set(c->loop, &c->setup, c->handshake_timeout_ms, client_setup_timeout, c);
}

/* A certificate that does not name the server: say which names it has. */
static void
client_handshake_failed(struct h2conn *h, void *arg)
{
	struct rpc_client *c = arg;
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(h->ssl);
	X509 *leaf = chain != NULL && sk_X509_num(chain) > 0 ? sk_X509_value(chain, 0) : NULL;
	char names[240];

	if (leaf == NULL || (h->hs_verify != X509_V_ERR_HOSTNAME_MISMATCH &&
	    h->hs_verify != X509_V_ERR_IP_ADDRESS_MISMATCH))
		return;
	snprintf(c->error, sizeof(c->error), "TLS handshake with %s failed: certificate name "
	    "mismatch (server certificate names: %s; expected %s)", c->authority,
	    tls_cert_names(leaf, names, sizeof(names)), c->host);
}

static const struct h2conn_ops client_ops = {
	.handshake_done = client_handshake_done,
	.closed = client_closed,
	.connected = client_connected,
	.handshake_failed = client_handshake_failed,
};

void
rpc_client_set_timeouts(struct rpc_client *c, uint32_t connect_ms, uint32_t handshake_ms)
{
	if (connect_ms > 0)
		c->connect_timeout_ms = connect_ms;
	if (handshake_ms > 0)
		c->handshake_timeout_ms = handshake_ms;
	if (c->loop == NULL || c->h.closed || c->ready)
		return;
	loop_timer_set(c->loop, &c->setup, (c->h.tcp_up ? c->handshake_timeout_ms :
	    c->connect_timeout_ms), client_setup_timeout, c);
}

/* rpc_client_new, and rpc_client_new_addr when addr is not NULL (nothing is resolved). */
static struct rpc_client *
client_new(struct loop *l, SSL_CTX *ctx, const char *hostport, const struct sockaddr *addr,
    socklen_t addrlen)
{
	struct rpc_client *c;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	char port[16];
	SSL *ssl = NULL;
	int fd = -1, one = 1, r;
	struct in6_addr a6;
	bool literal;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->loop = l;
	c->enforce_deadline = true;
	c->connect_timeout_ms = RPC_CLIENT_CONNECT_TIMEOUT_MS;
	c->handshake_timeout_ms = RPC_CLIENT_HANDSHAKE_TIMEOUT_MS;
	c->h.closed = true;
	c->h.io.fd = -1;
	if (split_hostport(hostport, c->host, sizeof(c->host), port, sizeof(port)) < 0) {
		free(c);
		errno = EINVAL;
		return NULL;
	}
	snprintf(c->authority, sizeof(c->authority), "%s", hostport);
	if (nghttp2_session_callbacks_new(&c->cbs) != 0) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	nghttp2_session_callbacks_set_send_callback(c->cbs, h2client_send_cb);
	nghttp2_session_callbacks_set_on_header_callback(c->cbs, h2client_on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(c->cbs, h2client_on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(c->cbs, h2client_on_frame_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(c->cbs, h2client_on_stream_close);
	SSL_CTX_up_ref(ctx);
	c->ctx = ctx;

	if (addr == NULL) {
		r = getaddrinfo(c->host, port, &hints, &res);
		if (r != 0) {
			snprintf(c->error, sizeof(c->error), "%s: %s", c->host, gai_strerror(r));
			return c;
		}
		addr = res->ai_addr;
		addrlen = res->ai_addrlen;
	}
	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || (connect(fd, addr, addrlen) < 0 && errno != EINPROGRESS)) {
		snprintf(c->error, sizeof(c->error), "connect to %s: %s", hostport, strerror(errno));
		goto fail;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ssl = SSL_new(ctx);
	if (ssl == NULL)
		goto fail;
	literal = inet_pton(AF_INET, c->host, &a6) == 1 || inet_pton(AF_INET6, c->host, &a6) == 1;
	if (literal) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), c->host);
	} else {
		SSL_set_tlsext_host_name(ssl, c->host);
		SSL_set1_host(ssl, c->host);
	}
	if (res != NULL)
		freeaddrinfo(res);
	res = NULL;
	if (h2conn_init(&c->h, l, fd, ssl, false, CLIENT_OUTPUT_MAX, &client_ops, c) < 0) {
		snprintf(c->error, sizeof(c->error), "cannot watch socket");
		c->h.closed = true;
		return c;
	}
	loop_timer_set(l, &c->setup, c->connect_timeout_ms, client_setup_timeout, c);
	return c;
fail:
	if (fd >= 0)
		close(fd);
	SSL_free(ssl);
	if (res != NULL)
		freeaddrinfo(res);
	return c;
}

struct rpc_client *
rpc_client_new(struct loop *l, SSL_CTX *ctx, const char *hostport)
{
	return client_new(l, ctx, hostport, NULL, 0);
}

struct rpc_client *
rpc_client_new_addr(struct loop *l, SSL_CTX *ctx, const char *hostport,
    const struct sockaddr *addr, socklen_t addrlen)
{
	if (addr == NULL || (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)) {
		errno = EINVAL;
		return NULL;
	}
	return client_new(l, ctx, hostport, addr, addrlen);
}

SSL *
rpc_client_ssl(struct rpc_client *c)
{
	return c->h.closed ? NULL : c->h.ssl;
}

bool
rpc_client_alive(const struct rpc_client *c)
{
	return !c->h.closed && !c->goaway;
}

const char *
rpc_client_error(const struct rpc_client *c)
{
	return c->error;
}

void
rpc_client_set_extra_header(struct rpc_client *c, const char *name, const char *value)
{
	snprintf(c->extra_name, sizeof(c->extra_name), "%s", name ? name : "");
	snprintf(c->extra_value, sizeof(c->extra_value), "%s", value ? value : "");
}

void
rpc_client_set_local_deadline(struct rpc_client *c, bool enforce)
{
	c->enforce_deadline = enforce;
}

void
rpc_client_pause_reading(struct rpc_client *c, bool paused)
{
	if (!c->h.closed)
		h2conn_pause_reading(&c->h, paused);
}

static void
client_free_deferred(void *arg)
{
	struct rpc_client *c = arg;

	nghttp2_session_callbacks_del(c->cbs);
	SSL_CTX_free(c->ctx);
	free(c);
}

void
rpc_client_del(struct rpc_client *c)
{
	if (c == NULL)
		return;
	c->deleted = true;
	if (!c->h.closed)
		h2conn_close(&c->h, "client closed");
	else
		client_closed(&c->h, c);
	loop_defer(c->loop, &c->free_defer, client_free_deferred, c);
}
