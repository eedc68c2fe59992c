/* The gRPC server half: a TLS listener, HTTP/2 sessions, routing by :path, unary and
 * server-streaming calls. Knows nothing of what the methods mean. */
#ifndef WS_H2SERVER_H
#define WS_H2SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "rpc/grpc.h"
#include "rpc/loop.h"

struct rpc_server;
struct rpc_conn;
struct rpc_call;

/* A handler gets the one request message. It answers now or later with rpc_call_reply,
 * rpc_call_send + rpc_call_finish, or rpc_call_fail. Until it has answered, the call stays
 * valid unless its cancel callback runs. */
typedef void (*rpc_handler_fn)(struct rpc_call *call, const uint8_t *req, size_t len, void *arg);
typedef void (*rpc_cancel_fn)(struct rpc_call *call, void *arg);

struct rpc_method {
	const char *path;       /* "/wiresync.v1.WireSync/Update" */
	rpc_handler_fn handler;
	void *arg;
	bool streaming;         /* server streaming: ended with UNAVAILABLE at shutdown */
};

struct rpc_server_ops {
	/* A peer finished its TLS handshake with a verified certificate. Returns the
	 * connection's user data, or NULL to refuse it (the reason is the hook's to log). */
	void *(*conn_open)(struct rpc_conn *c, X509 *cert, const struct sockaddr *peer, void *arg);
	/* The connection is gone; every call on it was cancelled first. */
	void (*conn_close)(void *conn_user, void *arg);
	void *arg;
	/* A listener for hosts that hold no certificate yet (a TLS context that asks for
	 * none): conn_open gets cert NULL, every connection that negotiated h2 is offered. */
	bool anonymous;
};

/* Why a TLS handshake (or the check right after it) failed, for counting. */
enum rpc_handshake_failure {
	RPC_HS_NO_CERTIFICATE,   /* the client sent no certificate */
	RPC_HS_BAD_CERTIFICATE,  /* chain did not verify: unknown CA, bad signature, ... */
	RPC_HS_REVOKED,          /* listed in the CRL */
	RPC_HS_EXPIRED,          /* expired or not yet valid */
	RPC_HS_REFUSED,          /* verified, but conn_open refused it */
	RPC_HS_PROTOCOL,         /* TLS or ALPN error, peer closed mid-handshake */
	RPC_HS_TIMEOUT,          /* handshake_timeout_ms passed */
	RPC_HS_N
};

/* "no_certificate", "bad_certificate", ...; "unknown" out of range. */
const char *rpc_handshake_failure_name(int why);

/* Optional observer of calls and handshakes (metrics); hooks may be NULL. They run in
 * the loop and must not touch the call or connection. */
struct rpc_observer {
	/* A call ended: path is the method's ("" for an unknown one), status the gRPC code
	 * sent, or CANCELLED when the client or the connection went away first. */
	void (*call_done)(const char *path, int status, void *arg);
	void (*handshake_failed)(enum rpc_handshake_failure why, void *arg);
	void *arg;
};

struct rpc_limits {
	size_t max_message;           /* bytes of one request message */
	uint32_t max_streams;         /* concurrent streams per connection */
	uint32_t max_connections;     /* accepted at once */
	size_t max_output;            /* output buffer per connection */
	uint32_t max_header_list;     /* bytes of one header list */
	uint32_t handshake_timeout_ms;
	uint32_t idle_timeout_ms;     /* connection without streams; 0: never */
	uint32_t keepalive_ms;        /* PING a connection silent this long; 0: never */
	uint32_t keepalive_timeout_ms;/* close it when the PING is not answered in time */
	uint32_t ping_min_idle_ms;    /* client PINGs closer than this without streams strike */
	uint32_t ping_min_busy_ms;    /* ... and with a stream open */
	uint32_t max_control_frames;  /* SETTINGS, PING, RST_STREAM, PRIORITY and empty DATA
	                               * frames received, and RST_STREAMs sent, per connection
	                               * per second */
	uint32_t max_handshakes_per_address; /* connections in their TLS handshake from one
	                               * IPv4 address or IPv6 /64; past it new ones are closed
	                               * at once; 0: no limit */
	uint32_t log_window_ms;       /* handshake and idle timeouts and per-address refusals:
	                               * one log line per window, then the count */
};

/* Sensible defaults: 1 MiB messages, 100 streams, 10000 connections, 64 KiB output,
 * 16 KiB headers, 10 s handshake, 1024 handshakes in progress per address, no idle
 * timeout, PING after 60 s of silence answered within 20 s, client PINGs at most every 5 minutes without streams and every 10 s with
 * one while the server sends nothing (past two strikes: GOAWAY ENHANCE_YOUR_CALM
 * "too_many_pings"; our HEADERS or DATA wipe them, rpc/pingpolicy.h), 200 control frames
 * per second (past it: GOAWAY ENHANCE_YOUR_CALM). A request header list over
 * max_header_list is answered RESOURCE_EXHAUSTED; one that decodes to 64 times that (an
 * HPACK bomb) ends the connection with GOAWAY ENHANCE_YOUR_CALM. Floods of timeouts and
 * refusals are logged one line per 10 s with a count. */
void rpc_limits_default(struct rpc_limits *lim);

/* Creates a server that serves methods[0..n-1] (the array must outlive the server).
 * ctx is borrowed (SSL_CTX_up_ref'd). Returns NULL with errno set. */
struct rpc_server *rpc_server_new(struct loop *l, SSL_CTX *ctx, const struct rpc_method *methods,
    size_t n_methods, const struct rpc_server_ops *ops, const struct rpc_limits *lim);

struct addrinfo;
/* getaddrinfo (AI_PASSIVE) of "host:port", "[v6]:port" or ":port" (every address) for a
 * socket of socktype to bind; numeric_host refuses names. *res is the caller's to
 * freeaddrinfo. Returns 0 or -EINVAL with err saying what is wrong, addr quoted. */
int rpc_listen_resolve(const char *addr, int socktype, bool numeric_host, struct addrinfo **res,
    char *err, size_t errlen);

/* Listens on "host:port", "[v6]:port" or ":port". Returns 0 or -errno with err set. The
 * port actually bound (for port 0) is rpc_server_port. */
int rpc_server_listen(struct rpc_server *s, const char *addr, char *err, size_t errlen);
int rpc_server_port(const struct rpc_server *s);

/* Stops accepting, sends GOAWAY to every connection, fails unfinished calls that have a
 * cancel callback with UNAVAILABLE (streams), lets the rest finish, and calls done once
 * every connection is closed. */
void rpc_server_shutdown(struct rpc_server *s, loop_fn done, void *arg);

/* Closes every connection (cancelling calls) and frees the server; accepts NULL. */
void rpc_server_del(struct rpc_server *s);

size_t rpc_server_connections(const struct rpc_server *s);

/* Installs (obs copied) or removes (NULL) the observer. */
void rpc_server_observe(struct rpc_server *s, const struct rpc_observer *obs);

/* Closes a connection now (e.g. its certificate was revoked). */
void rpc_conn_close(struct rpc_conn *c, const char *why);

/* The client certificate the connection was opened with (borrowed, lives as long as c). */
X509 *rpc_conn_peer_cert(const struct rpc_conn *c);
/* The chain OpenSSL verified at the handshake, leaf first and trust anchor last
 * (borrowed); NULL for a resumed session, which was not verified again. */
STACK_OF(X509) *rpc_conn_verified_chain(const struct rpc_conn *c);

/* --- calls ------------------------------------------------------------------------------ */

/* The user data conn_open returned for the call's connection. */
void *rpc_call_conn_user(const struct rpc_call *call);
/* The connection's peer address. */
const struct sockaddr *rpc_call_peer(const struct rpc_call *call);
const char *rpc_call_path(const struct rpc_call *call);

/* Runs fn if the call ends before the handler answers (stream reset, deadline, connection
 * closed, shutdown of a stream). The call is freed right after fn returns. */
void rpc_call_on_cancel(struct rpc_call *call, rpc_cancel_fn fn, void *arg);

/* Answers a unary call with one message and status OK. The handler must not use call
 * afterwards. Returns 0 or -ENOMEM (the call is then failed with INTERNAL). */
int rpc_call_reply(struct rpc_call *call, const uint8_t *msg, size_t len);

/* Ends a call with a non-OK status and a message (printf-style); trailers-only when no
 * message was sent yet. The handler must not use call afterwards. */
void rpc_call_fail(struct rpc_call *call, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Holds the call's answer: rpc_call_reply and rpc_call_fail from now on keep the first
 * answer instead of sending it, until rpc_call_release sends it (send true) or forgets
 * it; the call is then the caller's again. Whether an answer was held. (An enrolment
 * decision on a shared store is answered once the database has it: server/enroll_run.c.) */
void rpc_call_hold(struct rpc_call *call);
bool rpc_call_release(struct rpc_call *call, bool send);

/* Reference-counted, already framed (5-byte prefix included) message that many streams
 * can send without copying. */
struct rpc_buf {
	uint32_t refs;
	size_t len;
	uint8_t data[];
};
/* A framed copy of msg with refs = 1; NULL on ENOMEM. */
struct rpc_buf *rpc_buf_new(const uint8_t *msg, size_t len);
struct rpc_buf *rpc_buf_ref(struct rpc_buf *b);
void rpc_buf_unref(struct rpc_buf *b);

/* Queues one message on a streaming call (takes a reference). 0, -ENOMEM, or -ENOBUFS
 * when more than max bytes would be queued for this call (0: no limit). */
int rpc_call_send(struct rpc_call *call, struct rpc_buf *b, size_t max);
/* Bytes queued on the call and not yet handed to HTTP/2. */
size_t rpc_call_queued(const struct rpc_call *call);
/* Sends the response headers of a streaming call now, before its first message, so the
 * client knows the stream is established. */
void rpc_call_accept(struct rpc_call *call);

/* Runs fn (at the end of the loop turn, never from inside HTTP/2 processing) once the
 * call's queue has drained to at most low bytes; one-shot, set it again to re-arm. */
typedef void (*rpc_drain_fn)(struct rpc_call *call, void *arg);
void rpc_call_on_drain(struct rpc_call *call, size_t low, rpc_drain_fn fn, void *arg);

/* Ends a streaming call with OK after the queued messages. */
void rpc_call_finish(struct rpc_call *call);

#endif
