/* gRPC client over nghttp2 with a client certificate. */
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
#include "rpc/h2conn.h"
#include "rpc/log.h"
#include "rpc/tls.h"

#define CLIENT_OUTPUT_MAX (256 * 1024)

struct rpc_client_call {
	struct rpc_client *c;
	struct rpc_client_call *prev, *next;
	int32_t stream_id;              /* 0 until submitted */
	char *path;
	uint8_t *req;                   /* framed request */
	size_t req_len, req_off;
	uint64_t timeout_ms;
	const struct rpc_client_cb *cb;
	void *arg;
	struct grpc_frame frame;
	struct loop_timer deadline;
	struct loop_defer fail_defer;
	int status;                     /* -1 until grpc-status arrives */
	int http_status;
	int local_status;               /* set when we end the call ourselves */
	char message[256];
};

struct rpc_client {
	struct h2conn h;
	struct loop *loop;
	SSL_CTX *ctx;
	char host[256];
	char authority[300];
	struct rpc_client_call *calls;
	struct loop_defer free_defer;
	bool ready, goaway, deleted, enforce_deadline, ping_outstanding;
	uint32_t keepalive_ms, keepalive_timeout_ms;
	struct loop_timer keepalive;
	uint32_t connect_timeout_ms, handshake_timeout_ms;
	struct loop_timer setup;        /* connect, then TLS handshake deadline */
	char extra_name[64], extra_value[256];
	char error[1024];
	nghttp2_session_callbacks *cbs;
};

static void call_complete(struct rpc_client_call *call, int status, const char *msg);
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
static void
setup_failure(const struct rpc_client *c, uint64_t ms, char *buf, size_t len)
{
	char t[32];

	if (!c->h.tcp_up)
		snprintf(buf, len, "could not connect to %s within %s", c->authority,
		    secs(ms, t, sizeof(t)));
	else
		snprintf(buf, len, "TLS handshake with %s did not finish within %s", c->authority,
		    secs(ms, t, sizeof(t)));
}

static const char *
status_from_http(int http, int *status)
{
	switch (http) {
	case 400: *status = GRPC_INTERNAL; break;
	case 401: *status = GRPC_UNAUTHENTICATED; break;
	case 403: *status = GRPC_PERMISSION_DENIED; break;
	case 404: *status = GRPC_UNIMPLEMENTED; break;
	case 429: case 502: case 503: case 504: *status = GRPC_UNAVAILABLE; break;
	default: *status = GRPC_UNKNOWN; break;
	}
	return "";
}

/* --- nghttp2 callbacks ------------------------------------------------------------------ */

static ssize_t
send_cb(nghttp2_session *session, const uint8_t *data, size_t length, int flags, void *user_data)
{
	struct rpc_client *c = user_data;

	return h2conn_send_cb(&c->h, data, length);
}

static ssize_t
req_read_cb(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
    uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
	struct rpc_client_call *call = source->ptr;
	size_t n = call->req_len - call->req_off;

	if (n > length)
		n = length;
	memcpy(buf, call->req + call->req_off, n);
	call->req_off += n;
	if (call->req_off == call->req_len) {
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
		free(call->req);
		call->req = NULL;
		call->req_len = call->req_off = 0;
	}
	return (ssize_t)n;
}

static int
on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
    size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
	struct rpc_client_call *call;
	char v[256];
	size_t n = valuelen < sizeof(v) - 1 ? valuelen : sizeof(v) - 1;

	if (frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (call == NULL)
		return 0;
	memcpy(v, value, n);
	v[n] = '\0';
	if (namelen == 7 && memcmp(name, ":status", 7) == 0)
		call->http_status = atoi(v);
	else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0)
		call->status = atoi(v);
	else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0)
		grpc_message_decode((const char *)value, valuelen, call->message,
		    sizeof(call->message));
	return 0;
}

static int
on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data,
    size_t len, void *user_data)
{
	struct rpc_client_call *call;

	call = nghttp2_session_get_stream_user_data(session, stream_id);
	if (call == NULL || call->local_status >= 0)
		return 0;
	while (len > 0) {
		size_t used, mlen;
		const uint8_t *msg;
		int r = grpc_frame_feed(&call->frame, data, len, &used);

		data += used;
		len -= used;
		if (r == GRPC_FRAME_MESSAGE) {
			msg = grpc_frame_message(&call->frame, &mlen);
			if (call->cb->on_message != NULL)
				call->cb->on_message(call->arg, msg, mlen);
			grpc_frame_next(&call->frame);
			/* cancelled from the callback: nothing more for it */
			if (call->local_status >= 0)
				return 0;
		} else if (r < 0) {
			call->local_status = r == GRPC_FRAME_TOO_LARGE ? GRPC_RESOURCE_EXHAUSTED :
			    GRPC_INTERNAL;
			snprintf(call->message, sizeof(call->message), "bad response message");
			nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id,
			    NGHTTP2_CANCEL);
			return 0;
		}
	}
	return 0;
}

static int
on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct rpc_client *c = user_data;
	struct rpc_client_call *call;

	if (frame->hd.type == NGHTTP2_GOAWAY)
		c->goaway = true;
	if (frame->hd.type == NGHTTP2_PING && (frame->hd.flags & NGHTTP2_FLAG_ACK))
		c->ping_outstanding = false;
	if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_RESPONSE &&
	    (call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id)) != NULL &&
	    call->cb->on_headers != NULL && call->local_status < 0)
		call->cb->on_headers(call->arg);
	return 0;
}

static int
on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data)
{
	struct rpc_client_call *call;
	int status;
	char msg[300];

	call = nghttp2_session_get_stream_user_data(session, stream_id);
	if (call == NULL)
		return 0;
	if (call->local_status >= 0) {
		status = call->local_status;
		snprintf(msg, sizeof(msg), "%s", call->message);
	} else if (call->status >= 0) {
		status = call->status;
		snprintf(msg, sizeof(msg), "%s", call->message);
	} else if (error_code == NGHTTP2_REFUSED_STREAM) {
		status = GRPC_UNAVAILABLE;
		snprintf(msg, sizeof(msg), "stream refused by server");
	} else if (error_code != NGHTTP2_NO_ERROR) {
		status = error_code == NGHTTP2_CANCEL ? GRPC_CANCELLED : GRPC_INTERNAL;
		snprintf(msg, sizeof(msg), "stream reset by server: %s",
		    nghttp2_http2_strerror(error_code));
	} else if (call->http_status != 200) {
		status_from_http(call->http_status, &status);
		snprintf(msg, sizeof(msg), "HTTP status %d", call->http_status);
	} else {
		status = GRPC_INTERNAL;
		snprintf(msg, sizeof(msg), "response ended without grpc-status");
	}
	call_complete(call, status, msg);
	return 0;
}

/* --- calls ------------------------------------------------------------------------------ */

static void
call_free(struct rpc_client_call *call)
{
	struct rpc_client *c = call->c;

	loop_timer_cancel(c->loop, &call->deadline);
	loop_defer_cancel(c->loop, &call->fail_defer);
	if (call->stream_id > 0 && c->h.session != NULL)
		nghttp2_session_set_stream_user_data(c->h.session, call->stream_id, NULL);
	if (call->prev != NULL)
		call->prev->next = call->next;
	else
		c->calls = call->next;
	if (call->next != NULL)
		call->next->prev = call->prev;
	grpc_frame_free(&call->frame);
	free(call->path);
	free(call->req);
	free(call);
}

static void
call_complete(struct rpc_client_call *call, int status, const char *msg)
{
	const struct rpc_client_cb *cb = call->cb;
	void *arg = call->arg;
	char m[300];

	snprintf(m, sizeof(m), "%s", msg != NULL ? msg : "");
	call_free(call);
	if (cb->on_done != NULL)
		cb->on_done(arg, status, m);
}

static void
call_deadline(void *arg)
{
	struct rpc_client_call *call = arg;
	struct rpc_client *c = call->c;

	if (!c->ready && !c->h.closed && call->stream_id == 0) {
		char why[300];
		setup_failure(c, call->timeout_ms, why, sizeof(why));
		call_complete(call, GRPC_UNAVAILABLE, why);
	} else if (call->stream_id > 0 && c->h.session != NULL) {
		call->local_status = GRPC_DEADLINE_EXCEEDED;
		snprintf(call->message, sizeof(call->message), "deadline exceeded");
		nghttp2_submit_rst_stream(c->h.session, NGHTTP2_FLAG_NONE, call->stream_id,
		    NGHTTP2_CANCEL);
		h2conn_flush_later(&c->h);
	} else {
		call_complete(call, GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
	}
}

static int
call_submit(struct rpc_client_call *call)
{
	struct rpc_client *c = call->c;
	nghttp2_nv hdrs[9];
	size_t n = 0;
	char tmo[24];
	nghttp2_data_provider prd = { .source.ptr = call, .read_callback = req_read_cb };
	int32_t id;
	bool custom_ct = strcmp(c->extra_name, "content-type") == 0;

#define H(nm, v) hdrs[n++] = (nghttp2_nv){ (uint8_t *)(nm), (uint8_t *)(v), strlen(nm), \
	strlen(v), NGHTTP2_NV_FLAG_NONE }
	H(":method", "POST");
	H(":scheme", "https");
	H(":path", call->path);
	H(":authority", c->authority);
	H("content-type", custom_ct ? c->extra_value : "application/grpc");
	H("te", "trailers");
	H("user-agent", "wiresync/" PACKAGE_VERSION);
	if (call->timeout_ms > 0) {
		snprintf(tmo, sizeof(tmo), "%llum", (unsigned long long)call->timeout_ms);
		H("grpc-timeout", tmo);
	}
	if (c->extra_name[0] != '\0' && !custom_ct)
		H(c->extra_name, c->extra_value);
#undef H
	id = nghttp2_submit_request(c->h.session, NULL, hdrs, n, &prd, call);
	if (id < 0)
		return -1;
	call->stream_id = id;
	return 0;
}

static void
call_fail_deferred(void *arg)
{
	struct rpc_client_call *call = arg;

	call_complete(call, GRPC_UNAVAILABLE, call->c->error[0] ? call->c->error :
	    "connection is going away");
}

struct rpc_client_call *
rpc_client_call(struct rpc_client *c, const char *path, const uint8_t *req, size_t len,
    uint64_t timeout_ms, const struct rpc_client_cb *cb, void *arg)
{
	struct rpc_client_call *call;

	call = calloc(1, sizeof(*call));
	if (call == NULL)
		return NULL;
	call->c = c;
	call->path = strdup(path);
	call->req = malloc(GRPC_PREFIX_LEN + len);
	if (call->path == NULL || call->req == NULL) {
		free(call->path);
		free(call->req);
		free(call);
		return NULL;
	}
	grpc_prefix_write(call->req, len);
	if (len > 0)
		memcpy(call->req + GRPC_PREFIX_LEN, req, len);
	call->req_len = GRPC_PREFIX_LEN + len;
	call->timeout_ms = timeout_ms;
	call->cb = cb;
	call->arg = arg;
	call->status = -1;
	call->local_status = -1;
	grpc_frame_init(&call->frame, 64 * 1024 * 1024);
	call->next = c->calls;
	if (c->calls != NULL)
		c->calls->prev = call;
	c->calls = call;
	if (timeout_ms > 0 && c->enforce_deadline)
		loop_timer_set(c->loop, &call->deadline, timeout_ms, call_deadline, call);
	if (c->h.closed || c->goaway) {
		loop_defer(c->loop, &call->fail_defer, call_fail_deferred, call);
		return call;
	}
	if (c->ready) {
		if (call_submit(call) < 0) {
			snprintf(c->error, sizeof(c->error), "cannot start stream");
			loop_defer(c->loop, &call->fail_defer, call_fail_deferred, call);
			return call;
		}
		h2conn_flush_later(&c->h);
	}
	return call;
}

void
rpc_client_call_cancel(struct rpc_client_call *call)
{
	struct rpc_client *c = call->c;

	if (call->stream_id > 0 && c->h.session != NULL) {
		call->local_status = GRPC_CANCELLED;
		snprintf(call->message, sizeof(call->message), "cancelled");
		nghttp2_submit_rst_stream(c->h.session, NGHTTP2_FLAG_NONE, call->stream_id,
		    NGHTTP2_CANCEL);
		h2conn_flush_later(&c->h);
	} else {
		call_complete(call, GRPC_CANCELLED, "cancelled");
	}
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
		if (call->stream_id == 0 && !call->fail_defer.queued && call_submit(call) < 0)
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
		call_complete(call, c->deleted ? GRPC_CANCELLED : GRPC_UNAVAILABLE, c->error);
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

	setup_failure(c, c->h.tcp_up ? c->handshake_timeout_ms : c->connect_timeout_ms, c->error,
	    sizeof(c->error));
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

struct rpc_client *
rpc_client_new(struct loop *l, SSL_CTX *ctx, const char *hostport)
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
	nghttp2_session_callbacks_set_send_callback(c->cbs, send_cb);
	nghttp2_session_callbacks_set_on_header_callback(c->cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(c->cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(c->cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(c->cbs, on_stream_close);
	SSL_CTX_up_ref(ctx);
	c->ctx = ctx;

	r = getaddrinfo(c->host, port, &hints, &res);
	if (r != 0) {
		snprintf(c->error, sizeof(c->error), "%s: %s", c->host, gai_strerror(r));
		return c;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || (connect(fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS)) {
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

struct sync_state {
	bool done;
	int status;
	uint8_t *reply;
	size_t reply_len;
	char message[256];
};

static void
sync_message(void *arg, const uint8_t *data, size_t len)
{
	struct sync_state *st = arg;

	if (st->reply != NULL)
		return;
	st->reply = malloc(len + 1);
	if (st->reply == NULL)
		return;
	memcpy(st->reply, data, len);
	st->reply_len = len;
}

static void
sync_done(void *arg, int status, const char *message)
{
	struct sync_state *st = arg;

	st->done = true;
	st->status = status;
	snprintf(st->message, sizeof(st->message), "%s", message);
}

int
rpc_client_unary_sync(struct rpc_client *c, const char *path, const uint8_t *req, size_t len,
    uint64_t timeout_ms, int *status, uint8_t **reply, size_t *reply_len, char *message,
    size_t message_len)
{
	static const struct rpc_client_cb cb = { .on_message = sync_message, .on_done = sync_done };
	struct sync_state st = { 0 };
	int r = 0;

	if (rpc_client_call(c, path, req, len, timeout_ms, &cb, &st) == NULL)
		return -ENOMEM;
	while (!st.done && r == 0)
		r = loop_run_once(c->loop, -1);
	*status = st.status;
	if (reply != NULL) {
		*reply = st.reply;
		*reply_len = st.reply_len;
	} else {
		free(st.reply);
	}
	if (message != NULL)
		snprintf(message, message_len, "%s", st.message);
	return r;
}
