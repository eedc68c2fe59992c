/* One gRPC call on the client: its request submitted as a stream with a deadline, its
 * response read from HTTP/2 callbacks (headers, framed messages, trailers) into the
 * caller's callbacks, and the blocking unary helper. h2client.c has the connection. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/grpc.h"
#include "rpc/h2client.h"
#include "rpc/h2client_impl.h"
#include "rpc/h2conn.h"
#include "rpc/loop.h"

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

ssize_t
h2client_send_cb(nghttp2_session *session, const uint8_t *data, size_t length, int flags,
    void *user_data)
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

int
h2client_on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
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

int
h2client_on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
    const uint8_t *data, size_t len, void *user_data)
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

int
h2client_on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
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

int
h2client_on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
    void *user_data)
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
	h2client_call_complete(call, status, msg);
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

void
h2client_call_complete(struct rpc_client_call *call, int status, const char *msg)
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
		h2client_setup_failure(c, call->timeout_ms, why, sizeof(why));
		h2client_call_complete(call, GRPC_UNAVAILABLE, why);
	} else if (call->stream_id > 0 && c->h.session != NULL) {
		call->local_status = GRPC_DEADLINE_EXCEEDED;
		snprintf(call->message, sizeof(call->message), "deadline exceeded");
		nghttp2_submit_rst_stream(c->h.session, NGHTTP2_FLAG_NONE, call->stream_id,
		    NGHTTP2_CANCEL);
		h2conn_flush_later(&c->h);
	} else {
		h2client_call_complete(call, GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
	}
}

int
h2client_call_submit(struct rpc_client_call *call)
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

	h2client_call_complete(call, GRPC_UNAVAILABLE, call->c->error[0] ? call->c->error :
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
		if (h2client_call_submit(call) < 0) {
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
		h2client_call_complete(call, GRPC_CANCELLED, "cancelled");
	}
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
