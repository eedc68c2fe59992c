/* One gRPC call on the server: its request assembled from DATA frames, its answer as
 * response headers, framed messages from a shared-buffer queue, and trailers. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/h2server_impl.h"
#include "rpc/log.h"

#define GRPC_MESSAGE_MAX 512

/* --- rpc_buf ---------------------------------------------------------------------------- */

struct rpc_buf *
rpc_buf_new(const uint8_t *msg, size_t len)
{
	struct rpc_buf *b;

	b = malloc(sizeof(*b) + GRPC_PREFIX_LEN + len);
	if (b == NULL)
		return NULL;
	b->refs = 1;
	b->len = GRPC_PREFIX_LEN + len;
	grpc_prefix_write(b->data, len);
	if (len > 0)
		memcpy(b->data + GRPC_PREFIX_LEN, msg, len);
	return b;
}

struct rpc_buf *
rpc_buf_ref(struct rpc_buf *b)
{
	b->refs++;
	return b;
}

void
rpc_buf_unref(struct rpc_buf *b)
{
	if (b != NULL && --b->refs == 0)
		free(b);
}

/* --- calls ------------------------------------------------------------------------------ */

struct rpc_call *
call_new(struct rpc_conn *c, int32_t stream_id)
{
	struct rpc_call *call;

	call = calloc(1, sizeof(*call));
	if (call == NULL)
		return NULL;
	call->conn = c;
	call->stream_id = stream_id;
	call->out_tail = &call->out_head;
	grpc_frame_init(&call->frame, c->srv->lim.max_message);
	call->next = c->calls;
	if (c->calls != NULL)
		c->calls->prev = call;
	c->calls = call;
	c->n_calls++;
	loop_timer_cancel(c->srv->loop, &c->timer);
	return call;
}

void
call_free(struct rpc_call *call)
{
	struct rpc_conn *c = call->conn;
	struct rpc_out *o, *next;

	if (call->dispatched && !call->answered && call->cancel_fn != NULL)
		call->cancel_fn(call, call->cancel_arg);
	if (call->dispatched && !call->answered)
		server_call_done(call, GRPC_CANCELLED);
	loop_timer_cancel(c->srv->loop, &call->deadline);
	loop_defer_cancel(c->srv->loop, &call->drain_defer);
	for (o = call->out_head; o != NULL; o = next) {
		next = o->next;
		rpc_buf_unref(o->buf);
		free(o);
	}
	grpc_frame_free(&call->frame);
	free(call->held_msg);
	free(call->held_text);
	free(call->status_msg);
	free(call->bad_path);
	if (call->prev != NULL)
		call->prev->next = call->next;
	else
		c->calls = call->next;
	if (call->next != NULL)
		call->next->prev = call->prev;
	c->n_calls--;
	if (!c->h.closed && c->h.session != NULL)
		nghttp2_session_set_stream_user_data(c->h.session, call->stream_id, NULL);
	free(call);
	if (c->n_calls == 0)
		conn_arm_idle(c);
}

void *
rpc_call_conn_user(const struct rpc_call *call)
{
	return call->conn->user;
}

const struct sockaddr *
rpc_call_peer(const struct rpc_call *call)
{
	return (const struct sockaddr *)&call->conn->peer;
}

const char *
rpc_call_path(const struct rpc_call *call)
{
	return call->method != NULL ? call->method->path : "";
}

void
rpc_call_on_cancel(struct rpc_call *call, rpc_cancel_fn fn, void *arg)
{
	call->cancel_fn = fn;
	call->cancel_arg = arg;
}

size_t
rpc_call_queued(const struct rpc_call *call)
{
	return call->queued;
}

static void
drain_deferred(void *arg)
{
	struct rpc_call *call = arg;
	rpc_drain_fn fn = call->drain_fn;

	if (fn == NULL || call->queued > call->drain_low || call->answered)
		return;
	call->drain_fn = NULL;
	fn(call, call->drain_arg);
}

void
rpc_call_on_drain(struct rpc_call *call, size_t low, rpc_drain_fn fn, void *arg)
{
	call->drain_fn = fn;
	call->drain_arg = arg;
	call->drain_low = low;
	if (fn != NULL && call->queued <= low)
		loop_defer(call->conn->srv->loop, &call->drain_defer, drain_deferred, call);
}

static ssize_t
data_read_cb(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
    uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
	struct rpc_call *call = source->ptr;
	size_t n = 0;

	while (n < length && call->out_head != NULL) {
		struct rpc_out *o = call->out_head;
		size_t take = o->buf->len - o->off;
		if (take > length - n)
			take = length - n;
		memcpy(buf + n, o->buf->data + o->off, take);
		o->off += take;
		n += take;
		if (o->off == o->buf->len) {
			call->out_head = o->next;
			if (call->out_head == NULL)
				call->out_tail = &call->out_head;
			rpc_buf_unref(o->buf);
			free(o);
		}
	}
	call->queued -= n;
	if (call->drain_fn != NULL && call->queued <= call->drain_low)
		loop_defer(call->conn->srv->loop, &call->drain_defer, drain_deferred, call);
	if (call->out_head == NULL && call->answered) {
		char st[12];
		nghttp2_nv trailers[2];
		size_t nt = 0;

		*data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
		snprintf(st, sizeof(st), "%d", call->status);
		trailers[nt++] = (nghttp2_nv){ (uint8_t *)"grpc-status", (uint8_t *)st, 11,
		    strlen(st), NGHTTP2_NV_FLAG_NO_COPY_NAME };
		if (call->status_msg != NULL)
			trailers[nt++] = (nghttp2_nv){ (uint8_t *)"grpc-message",
			    (uint8_t *)call->status_msg, 12, strlen(call->status_msg),
			    NGHTTP2_NV_FLAG_NO_COPY_NAME };
		if (nghttp2_submit_trailer(session, stream_id, trailers, nt) != 0)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		call->trailers_sent = 1;
		return (ssize_t)n;
	}
	if (n == 0)
		return NGHTTP2_ERR_DEFERRED;
	return (ssize_t)n;
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, \
	NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE }

/* Sends response headers with a data provider, once. */
static int
call_start_response(struct rpc_call *call)
{
	static const nghttp2_nv hdrs[] = {
		NV(":status", "200"),
		NV("content-type", "application/grpc"),
		NV("grpc-accept-encoding", "identity"),
	};
	nghttp2_data_provider prd = { .source.ptr = call, .read_callback = data_read_cb };
	int r;

	if (call->headers_sent) {
		/* A deferred data provider sleeps until it is resumed. */
		nghttp2_session_resume_data(call->conn->h.session, call->stream_id);
		return 0;
	}
	r = nghttp2_submit_response(call->conn->h.session, call->stream_id, hdrs,
	    sizeof(hdrs) / sizeof(hdrs[0]), &prd);
	if (r != 0)
		return -1;
	call->headers_sent = 1;
	return 0;
}

/* Trailers-only response: one HEADERS frame with END_STREAM. */
static void
call_send_trailers_only(struct rpc_call *call, const char *http_status)
{
	nghttp2_nv hdrs[4];
	char st[12];
	size_t n = 0;

	snprintf(st, sizeof(st), "%d", call->status);
	hdrs[n++] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)http_status, 7,
	    strlen(http_status), NGHTTP2_NV_FLAG_NO_COPY_NAME };
	hdrs[n++] = (nghttp2_nv)NV("content-type", "application/grpc");
	hdrs[n++] = (nghttp2_nv){ (uint8_t *)"grpc-status", (uint8_t *)st, 11, strlen(st),
	    NGHTTP2_NV_FLAG_NO_COPY_NAME };
	if (call->status_msg != NULL)
		hdrs[n++] = (nghttp2_nv){ (uint8_t *)"grpc-message", (uint8_t *)call->status_msg,
		    12, strlen(call->status_msg), NGHTTP2_NV_FLAG_NO_COPY_NAME };
	if (nghttp2_submit_response(call->conn->h.session, call->stream_id, hdrs, n, NULL) != 0)
		nghttp2_submit_rst_stream(call->conn->h.session, NGHTTP2_FLAG_NONE,
		    call->stream_id, NGHTTP2_INTERNAL_ERROR);
	call->headers_sent = 1;
	call->trailers_sent = 1;
}

static void
call_set_status(struct rpc_call *call, int status, const char *msg)
{
	char enc[GRPC_MESSAGE_MAX];

	call->status = status;
	free(call->status_msg);
	call->status_msg = NULL;
	if (msg != NULL && msg[0] != '\0') {
		grpc_message_encode(msg, enc, sizeof(enc));
		call->status_msg = strdup(enc);
	}
}

void
call_end(struct rpc_call *call, int status, const char *msg, const char *http_status)
{
	if (call->answered || call->conn->h.closed)
		return;
	call->answered = 1;
	loop_timer_cancel(call->conn->srv->loop, &call->deadline);
	server_call_done(call, status);
	call_set_status(call, status, msg);
	if (status != GRPC_OK)
		log_debug("%s: %s: %s", rpc_call_path(call), grpc_status_name(status),
		    msg != NULL ? msg : "");
	if (!call->headers_sent && call->out_head == NULL)
		call_send_trailers_only(call, http_status);
	else
		call_start_response(call);
	h2conn_flush_later(&call->conn->h);
}

void
rpc_call_fail(struct rpc_call *call, int status, const char *fmt, ...)
{
	char msg[GRPC_MESSAGE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (call->held) {
		if (!call->held_set) {
			call->held_set = true;
			call->held_status = status != GRPC_OK ? status : GRPC_INTERNAL;
			call->held_text = strdup(msg);
		}
		return;
	}
	call_end(call, status, msg, "200");
}

void
rpc_call_hold(struct rpc_call *call)
{
	call->held = true;
}

bool
rpc_call_release(struct rpc_call *call, bool send)
{
	bool had = call->held_set;
	int status = call->held_status;
	uint8_t *msg = call->held_msg;
	size_t len = call->held_len;
	char *text = call->held_text;

	call->held = call->held_set = false;
	call->held_msg = NULL;
	call->held_text = NULL;
	if (had && send) {
		if (status == GRPC_OK)
			rpc_call_reply(call, msg != NULL ? msg : (const uint8_t *)"", len);
		else
			call_end(call, status, text != NULL ? text : "", "200");
	}
	free(msg);
	free(text);
	return had;
}

int
rpc_call_send(struct rpc_call *call, struct rpc_buf *b, size_t max)
{
	struct rpc_out *o;

	if (call->answered || call->conn->h.closed)
		return -EPIPE;
	if (max != 0 && call->queued + b->len > max)
		return -ENOBUFS;
	o = malloc(sizeof(*o));
	if (o == NULL)
		return -ENOMEM;
	o->next = NULL;
	o->buf = rpc_buf_ref(b);
	o->off = 0;
	*call->out_tail = o;
	call->out_tail = &o->next;
	call->queued += b->len;
	if (call_start_response(call) < 0)
		return -ENOMEM;
	h2conn_flush_later(&call->conn->h);
	return 0;
}

int
rpc_call_reply(struct rpc_call *call, const uint8_t *msg, size_t len)
{
	struct rpc_buf *b;
	int r;

	if (call->held) {
		if (!call->held_set) {
			call->held_set = true;
			call->held_status = GRPC_OK;
			call->held_len = len;
			if (len > 0 && (call->held_msg = malloc(len)) == NULL) {
				call->held_status = GRPC_RESOURCE_EXHAUSTED;
				call->held_text = strdup("out of memory");
			} else if (len > 0) {
				memcpy(call->held_msg, msg, len);
			}
		}
		return 0;
	}
	b = rpc_buf_new(msg, len);
	if (b == NULL) {
		rpc_call_fail(call, GRPC_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	r = rpc_call_send(call, b, 0);
	rpc_buf_unref(b);
	if (r < 0) {
		rpc_call_fail(call, GRPC_INTERNAL, "out of memory");
		return r;
	}
	call_end(call, GRPC_OK, NULL, "200");
	return 0;
}

void
rpc_call_accept(struct rpc_call *call)
{
	if (call->answered || call->headers_sent || call->conn->h.closed)
		return;
	call_start_response(call);
	h2conn_flush_later(&call->conn->h);
}

void
rpc_call_finish(struct rpc_call *call)
{
	call_end(call, GRPC_OK, NULL, "200");
}

static void
deadline_expired(void *arg)
{
	struct rpc_call *call = arg;

	if (call->answered)
		return;
	/* The handler hears of it first, so it drops the call before we answer. */
	if (call->dispatched && call->cancel_fn != NULL) {
		rpc_cancel_fn fn = call->cancel_fn;
		call->cancel_fn = NULL;
		fn(call, call->cancel_arg);
	}
	rpc_call_fail(call, GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
}

/* UNIMPLEMENTED naming the path, and whether its service is one we have, as stock gRPC
 * servers do ("unknown service X" / "unknown method Y for service X"). */
static void
call_unknown_method(struct rpc_call *call)
{
	const struct rpc_server *s = call->conn->srv;
	const char *path = call->bad_path != NULL ? call->bad_path : "";
	const char *slash = path[0] == '/' ? strchr(path + 1, '/') : NULL;
	size_t svclen = slash != NULL ? (size_t)(slash - path) : 0;
	bool known = false;
	char msg[320];

	for (size_t i = 0; i < s->n_methods && svclen > 1 && !known; i++)
		known = strncmp(s->methods[i].path, path, svclen + 1) == 0;
	if (svclen <= 1)
		snprintf(msg, sizeof(msg), "malformed method path \"%s\"", path);
	else if (known)
		snprintf(msg, sizeof(msg), "unknown method %s for service %.*s", slash + 1,
		    (int)(svclen - 1), path + 1);
	else
		snprintf(msg, sizeof(msg), "unknown service %.*s (path %s)", (int)(svclen - 1),
		    path + 1, path);
	call_end(call, GRPC_UNIMPLEMENTED, msg, "200");
}

void
call_set_deadline(struct rpc_call *call, uint64_t ms)
{
	loop_timer_set(call->conn->srv->loop, &call->deadline, ms, deadline_expired, call);
}

void
call_dispatch(struct rpc_call *call)
{
	const uint8_t *msg;
	size_t len;

	if (call->answered || call->dispatched)
		return;
	msg = grpc_frame_message(&call->frame, &len);
	if (msg == NULL) {
		rpc_call_fail(call, GRPC_INTERNAL, "request has no complete message");
		return;
	}
	call->dispatched = 1;
	call->method->handler(call, msg, len, call->method->arg);
}

void
call_headers_done(struct rpc_call *call, bool end_stream)
{
	if (call->headers_too_large) {
		char msg[96];
		snprintf(msg, sizeof(msg), "request header list larger than the %u-byte limit",
		    call->conn->srv->lim.max_header_list);
		call_end(call, GRPC_RESOURCE_EXHAUSTED, msg, "200");
		return;
	}
	if (call->not_post) {
		call_end(call, GRPC_UNIMPLEMENTED, "method must be POST", "405");
		return;
	}
	if (call->bad_content_type) {
		call_end(call, GRPC_INTERNAL, "content-type must be application/grpc", "415");
		return;
	}
	if (call->method == NULL) {
		call_unknown_method(call);
		return;
	}
	if (end_stream)
		call_dispatch(call);
}

