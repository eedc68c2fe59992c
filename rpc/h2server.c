/* gRPC server over nghttp2: connections, their handshake and timers, the HTTP/2 callbacks
 * (route by :path, frame, abuse limits). Accepting and shutdown are h2listen.c. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include "rpc/addrcount.h"
#include "rpc/h2server_impl.h"
#include "rpc/log.h"
#include "rpc/tls.h"

static const struct h2conn_ops conn_ops;

void
rpc_limits_default(struct rpc_limits *lim)
{
	lim->max_message = GRPC_MAX_MESSAGE_DEFAULT;
	lim->max_streams = 100;
	lim->max_connections = 10000;
	lim->max_output = 64 * 1024;
	lim->max_header_list = 16 * 1024;
	lim->handshake_timeout_ms = 10000;
	lim->idle_timeout_ms = 0;
	lim->keepalive_ms = 60000;
	lim->keepalive_timeout_ms = 20000;
	lim->ping_min_idle_ms = 300000;
	lim->ping_min_busy_ms = 10000;
	lim->max_control_frames = 200;
	lim->max_handshakes_per_address = 1024;
	lim->log_window_ms = 10000;
}

/* "127.0.0.1 (alice)": who a log line about a connection is about. */
static const char *
conn_label(const struct rpc_conn *c, char *buf, size_t len)
{
	char host[NI_MAXHOST] = "?";

	getnameinfo((const struct sockaddr *)&c->peer, sizeof(c->peer), host, sizeof(host), NULL,
	    0, NI_NUMERICHOST);
	if (c->name[0] != '\0')
		snprintf(buf, len, "%s (%s)", host, c->name);
	else
		snprintf(buf, len, "%s", host);
	return buf;
}

static void conn_timeout(void *arg);

/* Ends a connection whose peer abuses HTTP/2: GOAWAY ENHANCE_YOUR_CALM with debug as its
 * debug data, no more reading, closed once the GOAWAY is out or a second later. */
static void
conn_abuse(struct rpc_conn *c, const char *debug, const char *fmt, ...)
{
	char label[NI_MAXHOST + 80], what[160];
	va_list ap;

	if (c->h.closed || c->h.close_when_flushed)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	log_warnx("connection from %s: %s: sending GOAWAY ENHANCE_YOUR_CALM and closing",
	    conn_label(c, label, sizeof(label)), what);
	nghttp2_submit_goaway(c->h.session, NGHTTP2_FLAG_NONE,
	    nghttp2_session_get_last_proc_stream_id(c->h.session), NGHTTP2_ENHANCE_YOUR_CALM,
	    (const uint8_t *)debug, strlen(debug));
	h2conn_pause_reading(&c->h, true);
	h2conn_close_after_flush(&c->h, what);
	loop_timer_set(c->srv->loop, &c->timer, 1000, conn_timeout, c);
}

/* --- nghttp2 callbacks ------------------------------------------------------------------ */

static ssize_t
send_cb(nghttp2_session *session, const uint8_t *data, size_t length, int flags,
    void *user_data)
{
	struct rpc_conn *c = user_data;

	return h2conn_send_cb(&c->h, data, length);
}

static int
on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct rpc_conn *c = user_data;
	struct rpc_call *call;

	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	/* also a connection being ended: its deadline timer must not be cancelled by a call */
	if (c->srv->draining || c->h.close_when_flushed) {
		nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
		    NGHTTP2_REFUSED_STREAM);
		return 0;
	}
	call = call_new(c, frame->hd.stream_id);
	if (call == NULL)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, call);
	return 0;
}

static bool
header_is(const uint8_t *name, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(name, want, len) == 0;
}

static int
on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
    size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
	struct rpc_conn *c = user_data;
	struct rpc_call *call;
	size_t max = c->srv->lim.max_header_list;
	char label[NI_MAXHOST + 80];

	if (frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (call == NULL)
		return 0;
	/* nghttp2 advertises max_header_list but does not enforce it: count as SETTINGS
	 * does (RFC 9113 6.5.2), trailers included. */
	call->header_bytes += namelen + valuelen + 32;
	if (call->header_bytes > max) {
		if (!call->headers_too_large)
			log_info("connection from %s: request header list over the %zu-byte limit "
			    "(max_header_list_bytes): RESOURCE_EXHAUSTED",
			    conn_label(c, label, sizeof(label)), max);
		call->headers_too_large = 1;
		if (call->header_bytes / 64 > max) {
			conn_abuse(c, "header_list_bomb", "a header list decoded to more than %zu "
			    "bytes (HPACK bomb; max_header_list_bytes is %zu)", 64 * max, max);
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		}
		return 0;
	}
	if (frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	if (header_is(name, namelen, ":path")) {
		for (size_t i = 0; i < c->srv->n_methods; i++) {
			const char *p = c->srv->methods[i].path;
			if (strlen(p) == valuelen && memcmp(p, value, valuelen) == 0) {
				call->method = &c->srv->methods[i];
				break;
			}
		}
		if (call->method == NULL && call->bad_path == NULL)
			call->bad_path = strndup((const char *)value, valuelen < 128 ? valuelen : 128);
	} else if (header_is(name, namelen, ":method")) {
		call->not_post = !(valuelen == 4 && memcmp(value, "POST", 4) == 0);
	} else if (header_is(name, namelen, "content-type")) {
		call->bad_content_type = !grpc_content_type_ok((const char *)value, valuelen);
	} else if (header_is(name, namelen, "grpc-timeout")) {
		uint64_t ms;
		if (grpc_timeout_parse((const char *)value, valuelen, &ms))
			call_set_deadline(call, ms);
	}
	return 0;
}

/* gRPC servers' policy (rpc/pingpolicy.h): a client may PING at most every
 * ping_min_idle_ms without a stream open and every ping_min_busy_ms with one, counted only
 * while we send it nothing; the third strike ends the connection with a GOAWAY that stock
 * clients understand and back off from. */
static void
client_ping(struct rpc_conn *c)
{
	const struct rpc_limits *lim = &c->srv->lim;
	uint32_t min = c->n_calls > 0 ? lim->ping_min_busy_ms : lim->ping_min_idle_ms;

	if (ping_policy_received(&c->pings, loop_now_ms(c->srv->loop), min,
	    PING_POLICY_MAX_STRIKES))
		conn_abuse(c, "too_many_pings", "too many PINGs (%u less than %u ms apart while "
		    "the server sent nothing)", PING_POLICY_MAX_STRIKES + 1, min);
}

/* Frames that cost us work and carry no request: floods of them are attacks (CVE-2019-9512,
 * -9515, -9518, CVE-2023-44487). */
static bool
control_frame(const nghttp2_frame *f)
{
	switch (f->hd.type) {
	case NGHTTP2_SETTINGS:
	case NGHTTP2_PING:
		return !(f->hd.flags & NGHTTP2_FLAG_ACK);
	case NGHTTP2_RST_STREAM:
	case NGHTTP2_PRIORITY:
		return true;
	case NGHTTP2_DATA:
		return f->hd.length == 0 && !(f->hd.flags & NGHTTP2_FLAG_END_STREAM);
	default:
		return false;
	}
}

/* Counts a control frame in the current one-second window. */
static bool
over_budget(struct rpc_conn *c)
{
	uint64_t now = loop_now_ms(c->srv->loop);

	if (now - c->ctl_window_ms >= 1000) {
		c->ctl_window_ms = now;
		c->ctl_frames = 0;
	}
	return ++c->ctl_frames > c->srv->lim.max_control_frames;
}

/* Our HEADERS and DATA wipe the client's PING strikes: it may PING while it receives.
 * Streams we reset because the client broke them (a bad header, DATA after END_STREAM)
 * cost as much as streams it resets itself: they share the budget (CVE-2025-8671, which
 * Debian's nghttp2 1.52 does not limit). */
static int
on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct rpc_conn *c = user_data;

	if (frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA)
		ping_policy_reset(&c->pings);
	else if (frame->hd.type == NGHTTP2_RST_STREAM && over_budget(c))
		conn_abuse(c, "too_many_control_frames", "more than %u streams reset in one second "
		    "(RST_STREAM received or caused)", c->srv->lim.max_control_frames);
	return 0;
}

/* nghttp2 tells why it refuses the peer; the first complaint per connection is logged. */
static int
on_error(nghttp2_session *session, int lib_error_code, const char *msg, size_t len,
    void *user_data)
{
	struct rpc_conn *c = user_data;
	char label[NI_MAXHOST + 80], clean[160];
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < sizeof(clean); i++)
		clean[n++] = msg[i] >= 0x20 && msg[i] < 0x7f ? msg[i] : '?';
	clean[n] = '\0';
	if (c->error_logged) {
		log_debug("connection from %s: HTTP/2: %s", conn_label(c, label, sizeof(label)),
		    clean);
		return 0;
	}
	c->error_logged = true;
	log_warnx("connection from %s: HTTP/2: %s", conn_label(c, label, sizeof(label)), clean);
	return 0;
}

/* Frames nghttp2 refused, e.g. a stream past our MAX_CONCURRENT_STREAMS once the peer has
 * acknowledged it (GOAWAY PROTOCOL_ERROR) or before (RST_STREAM REFUSED_STREAM). */
static int
on_invalid_frame(nghttp2_session *session, const nghttp2_frame *frame, int lib_error_code,
    void *user_data)
{
	struct rpc_conn *c = user_data;
	char msg[128];

	if (frame->hd.type == NGHTTP2_HEADERS && c->n_calls >= c->srv->lim.max_streams)
		snprintf(msg, sizeof(msg), "stream %d is past the %u concurrent streams allowed "
		    "(max_streams): %s", frame->hd.stream_id, c->srv->lim.max_streams,
		    lib_error_code == NGHTTP2_ERR_REFUSED_STREAM ? "RST_STREAM REFUSED_STREAM" :
		    "GOAWAY PROTOCOL_ERROR");
	else
		snprintf(msg, sizeof(msg), "invalid frame (type %u, stream %d): %s",
		    frame->hd.type, frame->hd.stream_id, nghttp2_strerror(lib_error_code));
	return on_error(session, lib_error_code, msg, strlen(msg), user_data);
}

static int
on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct rpc_conn *c = user_data;
	struct rpc_call *call;
	bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;

	c->last_recv_ms = loop_now_ms(c->srv->loop);
	if (control_frame(frame) && over_budget(c)) {
		conn_abuse(c, "too_many_control_frames", "more than %u SETTINGS, PING, RST_STREAM, "
		    "PRIORITY or empty DATA frames (or reset streams) in one second",
		    c->srv->lim.max_control_frames);
		return 0;
	}
	if (frame->hd.type == NGHTTP2_PING) {
		if (frame->hd.flags & NGHTTP2_FLAG_ACK)
			c->ping_outstanding = false;
		else
			client_ping(c);
		return 0;
	}
	if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
		return 0;
	call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (call == NULL)
		return 0;
	if (end)
		call->remote_closed = 1;
	if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
		call_headers_done(call, end);
	else if (end)
		call_dispatch(call);
	return 0;
}

static int
on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data,
    size_t len, void *user_data)
{
	struct rpc_call *call;
	char label[NI_MAXHOST + 80];

	call = nghttp2_session_get_stream_user_data(session, stream_id);
	if (call == NULL || call->answered || call->dispatched)
		return 0;
	while (len > 0) {
		size_t used;
		int r = grpc_frame_feed(&call->frame, data, len, &used);
		data += used;
		len -= used;
		switch (r) {
		case GRPC_FRAME_MORE:
			break;
		case GRPC_FRAME_MESSAGE:
			if (len > 0) {
				rpc_call_fail(call, GRPC_INTERNAL,
				    "more than one request message for a unary request");
				return 0;
			}
			break;
		case GRPC_FRAME_TOO_LARGE:
			log_info("connection from %s: %s: request message over the %zu-byte "
			    "limit (max_message_bytes): RESOURCE_EXHAUSTED",
			    conn_label(call->conn, label, sizeof(label)), rpc_call_path(call),
			    call->frame.max);
			rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED,
			    "request message larger than the %zu-byte limit", call->frame.max);
			return 0;
		case GRPC_FRAME_COMPRESSED:
			rpc_call_fail(call, GRPC_UNIMPLEMENTED,
			    "compressed messages are not supported (only identity encoding)");
			return 0;
		case GRPC_FRAME_BAD_FLAG:
			rpc_call_fail(call, GRPC_INTERNAL, "invalid message flag byte");
			return 0;
		default:
			rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
			return 0;
		}
	}
	return 0;
}

static int
on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
    void *user_data)
{
	struct rpc_call *call;

	call = nghttp2_session_get_stream_user_data(session, stream_id);
	if (call != NULL)
		call_free(call);
	return 0;
}

/* --- observer --------------------------------------------------------------------------- */

void
server_call_done(struct rpc_call *call, int status)
{
	const struct rpc_observer *o = &call->conn->srv->obs;

	if (o->call_done != NULL)
		o->call_done(rpc_call_path(call), status, o->arg);
}

static void
handshake_failed(struct rpc_server *s, enum rpc_handshake_failure why)
{
	if (s->obs.handshake_failed != NULL)
		s->obs.handshake_failed(why, s->obs.arg);
}

/* What OpenSSL said when SSL_do_handshake failed. */
static enum rpc_handshake_failure
handshake_failure_kind(const struct h2conn *h)
{
	switch (h->hs_verify) {
	case X509_V_OK:
		break;
	case X509_V_ERR_CERT_REVOKED:
		return RPC_HS_REVOKED;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return RPC_HS_EXPIRED;
	default:
		return RPC_HS_BAD_CERTIFICATE;
	}
	if (ERR_GET_LIB(h->hs_error) == ERR_LIB_SSL &&
	    ERR_GET_REASON(h->hs_error) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
		return RPC_HS_NO_CERTIFICATE;
	return RPC_HS_PROTOCOL;
}

/* --- connections ------------------------------------------------------------------------ */

static void
conn_timeout(void *arg)
{
	struct rpc_conn *c = arg;

	char label[NI_MAXHOST + 80];

	if (!c->h.handshaken)
		handshake_failed(c->srv, RPC_HS_TIMEOUT);
	if (!c->h.handshaken || c->h.session == NULL) {
		c->hs_timed_out = true;
		h2conn_close(&c->h, "TLS handshake timeout (handshake_timeout_ms)");
		return;
	}
	if (c->h.close_when_flushed) {
		/* a GOAWAY the peer would not read */
		h2conn_close(&c->h, "GOAWAY not taken in time");
		return;
	}
	if (server_log_allowed(c->srv, SRV_LOG_IDLE))
		log_info("connection from %s: no stream for %u ms (idle_timeout_ms): GOAWAY and "
		    "close", conn_label(c, label, sizeof(label)), c->srv->lim.idle_timeout_ms);
	nghttp2_submit_goaway(c->h.session, NGHTTP2_FLAG_NONE,
	    nghttp2_session_get_last_proc_stream_id(c->h.session), NGHTTP2_NO_ERROR,
	    (const uint8_t *)"idle", 4);
	h2conn_close_after_flush(&c->h, "idle timeout");
	loop_timer_set(c->srv->loop, &c->timer, 1000, conn_timeout, c);
}

/* Wakes once per keepalive period; PINGs only a connection that has been silent. */
static void
conn_keepalive(void *arg)
{
	struct rpc_conn *c = arg;
	const struct rpc_limits *lim = &c->srv->lim;
	uint64_t now = loop_now_ms(c->srv->loop), quiet = now - c->last_recv_ms;

	if (c->h.closed)
		return;
	if (c->ping_outstanding) {
		h2conn_close(&c->h, "keepalive PING not answered");
		return;
	}
	if (quiet >= lim->keepalive_ms) {
		if (nghttp2_submit_ping(c->h.session, NGHTTP2_FLAG_NONE, NULL) == 0) {
			c->ping_outstanding = true;
			h2conn_flush_later(&c->h);
		}
		loop_timer_set(c->srv->loop, &c->keepalive, lim->keepalive_timeout_ms,
		    conn_keepalive, c);
		return;
	}
	loop_timer_set(c->srv->loop, &c->keepalive, lim->keepalive_ms - quiet, conn_keepalive, c);
}

void
conn_arm_idle(struct rpc_conn *c)
{
	if (c->h.closed || c->h.close_when_flushed || c->srv->lim.idle_timeout_ms == 0)
		return;
	loop_timer_set(c->srv->loop, &c->timer, c->srv->lim.idle_timeout_ms, conn_timeout, c);
}

static void
conn_free_deferred(void *arg)
{
	free(arg);
}

static void
conn_closed(struct h2conn *h, void *arg)
{
	struct rpc_conn *c = arg;
	struct rpc_server *s = c->srv;
	char host[NI_MAXHOST] = "?", label[NI_MAXHOST + 80];

	loop_timer_cancel(s->loop, &c->timer);
	server_handshake_over(c);
	while (c->calls != NULL)
		call_free(c->calls);
	loop_timer_cancel(s->loop, &c->timer);
	loop_timer_cancel(s->loop, &c->keepalive);
	if (c->user != NULL && s->ops.conn_close != NULL)
		s->ops.conn_close(c->user, s->ops.arg);
	getnameinfo((struct sockaddr *)&c->peer, sizeof(c->peer), host, sizeof(host), NULL, 0,
	    NI_NUMERICHOST);
	if (h->hs_failed)
		handshake_failed(s, handshake_failure_kind(h));
	if (h->handshaken && h->peer_error)
		log_warnx("connection from %s: %s: closed", conn_label(c, label, sizeof(label)),
		    h->why);
	else if (h->handshaken)
		log_debug("connection from %s closed: %s", host, h->why);
	else if (!c->hs_timed_out || server_log_allowed(s, SRV_LOG_HANDSHAKE_TIMEOUT))
		log_info("connection from %s refused: %s", host, h->why);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->n_conns--;
	loop_defer(s->loop, &c->free_defer, conn_free_deferred, c);
	server_check_drained(s);
}

static int
conn_handshake_done(struct h2conn *h, void *arg)
{
	struct rpc_conn *c = arg;
	struct rpc_server *s = c->srv;
	nghttp2_session *session;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, s->lim.max_streams },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, s->lim.max_header_list },
		/* Closed streams need not be kept for the priority tree. */
		{ NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1 },
	};
	X509 *cert;

	loop_timer_cancel(s->loop, &c->timer);
	server_handshake_over(c);
	if (!tls_alpn_is_h2(h->ssl)) {
		snprintf(h->why, sizeof(h->why), "client did not negotiate ALPN h2");
		handshake_failed(s, RPC_HS_PROTOCOL);
		return -1;
	}
	cert = s->ops.anonymous ? NULL : SSL_get1_peer_certificate(h->ssl);
	if (cert == NULL && !s->ops.anonymous) {
		snprintf(h->why, sizeof(h->why), "no client certificate");
		handshake_failed(s, RPC_HS_NO_CERTIFICATE);
		return -1;
	}
	if (cert != NULL)
		X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, c->name,
		    sizeof(c->name));
	c->user = s->ops.conn_open(c, cert, (struct sockaddr *)&c->peer, s->ops.arg);
	X509_free(cert);
	if (c->user == NULL) {
		snprintf(h->why, sizeof(h->why), "certificate refused");
		handshake_failed(s, RPC_HS_REFUSED);
		return -1;
	}
	if (nghttp2_session_server_new2(&session, s->cbs, c, s->opt) != 0) {
		snprintf(h->why, sizeof(h->why), "out of memory");
		return -1;
	}
	h2conn_set_session(h, session);
	if (nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0)
		return -1;
	if (s->draining)
		nghttp2_submit_goaway(session, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL, 0);
	conn_arm_idle(c);
	c->last_recv_ms = loop_now_ms(s->loop);
	if (s->lim.keepalive_ms > 0)
		loop_timer_set(s->loop, &c->keepalive, s->lim.keepalive_ms, conn_keepalive, c);
	return 0;
}

static const struct h2conn_ops conn_ops = {
	.handshake_done = conn_handshake_done,
	.closed = conn_closed,
};

void
rpc_conn_close(struct rpc_conn *c, const char *why)
{
	h2conn_close(&c->h, why);
}

X509 *
rpc_conn_peer_cert(const struct rpc_conn *c)
{
	return c->h.ssl != NULL ? SSL_get0_peer_certificate(c->h.ssl) : NULL;
}

STACK_OF(X509) *
rpc_conn_verified_chain(const struct rpc_conn *c)
{
	return c->h.ssl != NULL ? SSL_get0_verified_chain(c->h.ssl) : NULL;
}


int
conn_new(struct rpc_server *s, int fd, const struct sockaddr_storage *ss, bool counted)
{
	struct rpc_conn *c;
	SSL *ssl;

	c = calloc(1, sizeof(*c));
	ssl = c != NULL ? SSL_new(s->ctx) : NULL;
	if (ssl == NULL) {
		free(c);
		close(fd);
		return -ENOMEM;
	}
	c->srv = s;
	memcpy(&c->peer, ss, sizeof(*ss));
	ping_policy_init(&c->pings);
	if (h2conn_init(&c->h, s->loop, fd, ssl, true, s->lim.max_output, &conn_ops, c) < 0) {
		free(c);
		return -EIO;
	}
	c->hs_counted = counted;
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
	loop_timer_set(s->loop, &c->timer, s->lim.handshake_timeout_ms, conn_timeout, c);
	return 0;
}

/* --- server ----------------------------------------------------------------------------- */

struct rpc_server *
rpc_server_new(struct loop *l, SSL_CTX *ctx, const struct rpc_method *methods, size_t n_methods,
    const struct rpc_server_ops *ops, const struct rpc_limits *lim)
{
	struct rpc_server *s;
	nghttp2_session_callbacks *cbs;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->loop = l;
	SSL_CTX_up_ref(ctx);
	s->ctx = ctx;
	s->methods = methods;
	s->n_methods = n_methods;
	s->ops = *ops;
	if (lim != NULL)
		s->lim = *lim;
	else
		rpc_limits_default(&s->lim);
	server_logs_init(s);
	if (s->lim.max_handshakes_per_address > 0 && (s->handshakes = addrcount_new()) == NULL) {
		rpc_server_del(s);
		errno = ENOMEM;
		return NULL;
	}
	if (nghttp2_session_callbacks_new(&cbs) != 0 || nghttp2_option_new(&s->opt) != 0) {
		rpc_server_del(s);
		errno = ENOMEM;
		return NULL;
	}
	s->cbs = cbs;
	nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	nghttp2_session_callbacks_set_error_callback2(cbs, on_error);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
	nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cbs, on_invalid_frame);
	/* nghttp2's own flood limits, stated rather than assumed (Debian 12's 1.52 has the
	 * rapid-reset and CONTINUATION backports): RST_STREAM token bucket, CONTINUATION
	 * frames per header block, SETTINGS entries, queued SETTINGS/PING ACKs. */
	nghttp2_option_set_stream_reset_rate_limit(s->opt, 1000, 33);
	nghttp2_option_set_max_continuations(s->opt, 8);
	nghttp2_option_set_max_settings(s->opt, 32);
	nghttp2_option_set_max_outbound_ack(s->opt, 1000);
	nghttp2_option_set_max_send_header_block_length(s->opt, 16384);
	nghttp2_option_set_no_rfc9113_leading_and_trailing_ws_validation(s->opt, 0);
	/* gRPC uses no stream priorities: closed streams need not be kept for them, and an
	 * agent's finished Update would otherwise stay in memory beside its Watch */
	nghttp2_option_set_no_closed_streams(s->opt, 1);
	return s;
}

