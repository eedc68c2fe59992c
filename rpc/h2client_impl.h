/* The gRPC client's private parts, shared by h2client.c (the connection) and
 * h2client_call.c (the calls and the HTTP/2 callbacks). Not for other modules. */
#ifndef WS_H2CLIENT_IMPL_H
#define WS_H2CLIENT_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "rpc/grpc.h"
#include "rpc/h2client.h"
#include "rpc/h2conn.h"
#include "rpc/loop.h"

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

/* h2client.c */
/* Why a connection still being set up after ms is not up: the TCP connect or TLS. */
void h2client_setup_failure(const struct rpc_client *c, uint64_t ms, char *buf, size_t len);

/* h2client_call.c */
/* Frees the call, then tells its caller (on_done) status and msg. */
void h2client_call_complete(struct rpc_client_call *call, int status, const char *msg);
/* Submits the call's request as a new stream. Returns 0 or -1. */
int h2client_call_submit(struct rpc_client_call *call);
/* The nghttp2 session callbacks; user_data is the struct rpc_client. */
ssize_t h2client_send_cb(nghttp2_session *session, const uint8_t *data, size_t length,
    int flags, void *user_data);
int h2client_on_header(nghttp2_session *session, const nghttp2_frame *frame,
    const uint8_t *name, size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
    void *user_data);
int h2client_on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
    const uint8_t *data, size_t len, void *user_data);
int h2client_on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame,
    void *user_data);
int h2client_on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
    void *user_data);

#endif
