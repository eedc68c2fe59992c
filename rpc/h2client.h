/* The gRPC client half: one TLS connection with a client certificate, unary and
 * server-streaming calls over it. Used by the agent, wiresyncctl, the benchmark and tests. */
#ifndef WS_H2CLIENT_H
#define WS_H2CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include <openssl/ssl.h>

#include "rpc/loop.h"

struct rpc_client;
struct rpc_client_call;

struct rpc_client_cb {
	/* One response message; data is valid during the call only. */
	void (*on_message)(void *arg, const uint8_t *data, size_t len);
	/* The call ended; message is the decoded grpc-message ("" if none). Runs once;
	 * the call handle is invalid afterwards. */
	void (*on_done)(void *arg, int status, const char *message);
	/* Optional: the response headers arrived (the stream is established). */
	void (*on_headers)(void *arg);
};

/* Starts connecting to "host:port" (DNS name, IPv4, or [IPv6]). The server certificate
 * must match host. ctx is borrowed (up-ref'd). Returns NULL with errno set for a bad
 * address; connection failures are reported through the calls (UNAVAILABLE). */
struct rpc_client *rpc_client_new(struct loop *l, SSL_CTX *ctx, const char *hostport);
/* The same, connecting to addr (one of the addresses host resolves to, AF_INET or
 * AF_INET6) without resolving anything; the certificate must still match host. NULL with
 * errno EINVAL for a bad address or family. */
struct rpc_client *rpc_client_new_addr(struct loop *l, SSL_CTX *ctx, const char *hostport,
    const struct sockaddr *addr, socklen_t addrlen);

/* The connection's SSL (NULL when it could not be set up), valid until rpc_client_del. Before
 * the loop next runs, a caller may give it its own certificate or a session to resume (the
 * benchmark's simulated agents); afterwards, read its state (SSL_session_reused). */
SSL *rpc_client_ssl(struct rpc_client *c);

/* Closes the connection, ends every call with CANCELLED (callbacks run), frees; accepts NULL. */
void rpc_client_del(struct rpc_client *c);

/* True while the connection is usable or still being set up. */
bool rpc_client_alive(const struct rpc_client *c);
/* Why the connection failed or closed ("" while alive): a name mismatch lists the names the
 * server's certificate has ("server certificate names: a, b; expected HOST"). */
const char *rpc_client_error(const struct rpc_client *c);

/* Starts a call of path with one request message. timeout_ms 0: no deadline; otherwise it
 * is sent as grpc-timeout and enforced here too. Returns a handle (valid until on_done) or
 * NULL on ENOMEM. cb must outlive the call. */
struct rpc_client_call *rpc_client_call(struct rpc_client *c, const char *path,
    const uint8_t *req, size_t len, uint64_t timeout_ms, const struct rpc_client_cb *cb,
    void *arg);

/* Cancels a call (RST_STREAM CANCEL); on_done runs with CANCELLED. */
void rpc_client_call_cancel(struct rpc_client_call *call);

/* Extra headers for the next calls (tests use this to send odd requests): a name/value
 * pair replaces the default content-type when name is "content-type". Pass NULL to clear. */
void rpc_client_set_extra_header(struct rpc_client *c, const char *name, const char *value);
/* Sends the grpc-timeout header without enforcing it locally (tests). */
void rpc_client_set_local_deadline(struct rpc_client *c, bool enforce);

/* PINGs the server every interval_ms while the connection is up and closes it (calls end
 * with UNAVAILABLE) when a PING is not answered within timeout_ms: a server that vanished
 * silently is noticed. 0 turns it off (the default). */
void rpc_client_set_keepalive(struct rpc_client *c, uint32_t interval_ms, uint32_t timeout_ms);

/* Connection set-up limits (defaults: RPC_CLIENT_CONNECT_TIMEOUT_MS and
 * RPC_CLIENT_HANDSHAKE_TIMEOUT_MS): TCP must connect within connect_ms and TLS finish
 * within handshake_ms after that, or the connection closes and its calls end with
 * UNAVAILABLE "could not connect to HOST:PORT within N s" (or "TLS handshake with HOST:PORT
 * did not finish within N s"). A call whose own deadline passes first, while the connection
 * is still being set up, ends the same way (UNAVAILABLE, not DEADLINE_EXCEEDED): the server
 * never saw it. Call before the loop next runs; 0 keeps a default. */
#define RPC_CLIENT_CONNECT_TIMEOUT_MS 10000
#define RPC_CLIENT_HANDSHAKE_TIMEOUT_MS 10000
void rpc_client_set_timeouts(struct rpc_client *c, uint32_t connect_ms, uint32_t handshake_ms);

/* Stops or resumes reading from the server (tests of slow readers). */
void rpc_client_pause_reading(struct rpc_client *c, bool paused);

/* Runs the loop until a unary call finishes. On return *status is set, *reply (malloc'd,
 * caller frees; NULL for no message) and message (grpc-message, NUL-terminated) filled.
 * Returns 0, or -errno when the loop failed. */
int rpc_client_unary_sync(struct rpc_client *c, const char *path, const uint8_t *req, size_t len,
    uint64_t timeout_ms, int *status, uint8_t **reply, size_t *reply_len, char *message,
    size_t message_len);

#endif
