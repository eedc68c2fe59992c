/* The gRPC server's private parts, shared by h2server.c (listener, connections, HTTP/2
 * callbacks) and h2call.c (one call: framing in, responses out). Not for other modules. */
#ifndef WS_H2SERVER_IMPL_H
#define WS_H2SERVER_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rpc/grpc.h"
#include "rpc/h2conn.h"
#include "rpc/h2server.h"
#include "rpc/loop.h"
#include "rpc/pingpolicy.h"
#include "rpc/ratelog.h"

#define MAX_LISTENERS 4

struct rpc_out {
	struct rpc_out *next;
	struct rpc_buf *buf;
	size_t off;
};

struct rpc_call {
	struct rpc_conn *conn;
	struct rpc_call *prev, *next;   /* the connection's calls */
	int32_t stream_id;
	const struct rpc_method *method;
	struct grpc_frame frame;
	struct loop_timer deadline;
	rpc_cancel_fn cancel_fn;
	void *cancel_arg;
	rpc_drain_fn drain_fn;
	void *drain_arg;
	size_t drain_low;
	struct loop_defer drain_defer;
	struct rpc_out *out_head, **out_tail;
	size_t queued;
	int status;
	char *status_msg;               /* percent-encoded grpc-message, or NULL */
	char *bad_path;                 /* :path that names no method (cut), or NULL */
	size_t header_bytes;            /* decoded request header list, as SETTINGS counts it */
	/* rpc_call_hold: the answer kept until rpc_call_release */
	bool held, held_set;
	int held_status;
	uint8_t *held_msg;              /* an OK answer's message (held_len may be 0) */
	size_t held_len;
	char *held_text;                /* a failure's message */
	unsigned bad_content_type : 1, not_post : 1, headers_sent : 1, answered : 1,
	    dispatched : 1, trailers_sent : 1, remote_closed : 1, headers_too_large : 1;
};

struct rpc_conn {
	struct h2conn h;
	struct rpc_server *srv;
	struct rpc_conn *prev, *next;
	struct rpc_call *calls;
	struct loop_timer timer;        /* handshake, then idle timeout */
	struct loop_timer keepalive;
	uint64_t last_recv_ms;          /* any frame from the peer */
	struct ping_policy pings;       /* client PING strikes, wiped by our HEADERS/DATA */
	bool ping_outstanding;
	bool error_logged;              /* nghttp2's first complaint about the peer is logged */
	bool hs_counted;                /* in srv->handshakes until the handshake is over */
	bool hs_timed_out;              /* closed by handshake_timeout_ms */
	uint64_t ctl_window_ms;         /* start of the second the control frames count in */
	uint32_t ctl_frames;
	char name[64];                  /* the client certificate's CN, for log lines */
	struct loop_defer free_defer;
	void *user;
	size_t n_calls;
	struct sockaddr_storage peer;
};

/* Floods logged one line per window (rpc/ratelog.h), with the count at its end. */
enum srv_log_kind { SRV_LOG_HANDSHAKE_TIMEOUT, SRV_LOG_IDLE, SRV_LOG_PER_ADDRESS, SRV_LOG_N };
struct srv_log {
	struct ratelog rl;
	struct loop_timer timer;        /* the end of the window: log the count */
	enum srv_log_kind kind;
};

struct rpc_server {
	struct loop *loop;
	SSL_CTX *ctx;
	const struct rpc_method *methods;
	size_t n_methods;
	struct rpc_server_ops ops;
	struct rpc_observer obs;
	struct rpc_limits lim;
	struct loop_io listeners[MAX_LISTENERS];
	size_t n_listeners;
	int port;
	struct rpc_conn *conns;
	size_t n_conns;
	nghttp2_session_callbacks *cbs;
	nghttp2_option *opt;
	bool draining;
	loop_fn drained_fn;
	void *drained_arg;
	struct loop_defer drained_defer;
	uint64_t refused_log_ms;        /* connections refused at max_connections: logged */
	size_t refused;                 /* at most once a second, with a count */
	struct addrcount *handshakes;   /* connections in their TLS handshake, per address */
	struct srv_log logs[SRV_LOG_N];
};

/* h2call.c */
struct rpc_call *call_new(struct rpc_conn *c, int32_t stream_id);
/* Frees the call; runs the cancel callback first when the handler never answered. */
void call_free(struct rpc_call *call);
/* Ends the call with status (trailers-only when nothing was sent), with an HTTP status
 * for the headers of a trailers-only answer. */
void call_end(struct rpc_call *call, int status, const char *msg, const char *http_status);
void call_set_deadline(struct rpc_call *call, uint64_t ms);
/* The request headers are complete: refuse bad ones at once, else dispatch when the
 * request is complete too. */
void call_headers_done(struct rpc_call *call, bool end_stream);
/* The request stream ended: hand the one message to the method's handler. */
void call_dispatch(struct rpc_call *call);

/* h2server.c */
void conn_arm_idle(struct rpc_conn *c);
/* Takes fd and starts the TLS handshake; counted: its address is in srv->handshakes.
 * Returns 0 or -errno (fd closed; the caller releases the count). */
int conn_new(struct rpc_server *s, int fd, const struct sockaddr_storage *ss, bool counted);
/* Tells the observer, if any, that call ended with status. */
void server_call_done(struct rpc_call *call, int status);

/* h2listen.c */
void server_check_drained(struct rpc_server *s);
void server_logs_init(struct rpc_server *s);
/* An event of that kind: true when it is to be logged (the first of its window). */
bool server_log_allowed(struct rpc_server *s, enum srv_log_kind kind);
/* The connection's handshake ended (done, failed or closed): uncount its address. */
void server_handshake_over(struct rpc_conn *c);

#endif
