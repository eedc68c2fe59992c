/* The agent's follower of the server's Watch stream: one stream kept open, reconnected with
 * exponential backoff and full jitter, events handed on strictly in revision order.
 * Single-threaded on the loop; nothing here locks. Like every rpc_client user, the process
 * must ignore SIGPIPE (the connection writes to sockets the server may have closed). */
#ifndef WS_WATCH_H
#define WS_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "proto/wiresync.pb-c.h"
#include "rpc/loop.h"

#define WATCH_BACKOFF_BASE_MS 500
#define WATCH_BACKOFF_CAP_MS 30000
#define WATCH_PATH "/wiresync.v1.WireSync/Watch"

struct watch_client;

/* Every pointer handed to a callback is valid during that call only. A callback must not
 * call watch_client_del on its own client (stop the loop, or defer it). Any op may be NULL. */
struct watch_client_ops {
	/* A full picture: replaces everything known. Always applied, whatever its revision. */
	void (*on_snapshot)(void *arg, uint64_t revision, Wiresync__V1__Peer *const *peers,
	    size_t n);
	/* A peer was added or changed; revision is above every revision applied before. */
	void (*on_upsert)(void *arg, uint64_t revision, const Wiresync__V1__Peer *p);
	/* A peer is gone; key is its public key as sent (normally 32 bytes). */
	void (*on_removed)(void *arg, uint64_t revision, const uint8_t *key, size_t len);
	/* The server relayed its CRL (DER, unverified: the callee checks it). Any revision. */
	void (*on_crl)(void *arg, const uint8_t *der, size_t len);
	/* The server relayed its network's pairing policy (policy.cms, unverified). */
	void (*on_policy)(void *arg, const uint8_t *der, size_t len);
	/* Connection state, for logs. connected: the Watch stream delivered its first event
	 * (the client has no earlier sign that the server accepted the stream); why names
	 * the server. !connected: the stream or the connection ended (also for each failed
	 * attempt while the server is unreachable); why says how ("UNAVAILABLE: ..."). A
	 * reconnection is already scheduled when it is reported. */
	void (*on_state)(void *arg, bool connected, const char *why);
	/* The stream or its connection ended with status (a gRPC code) and why, the text
	 * on_state gets; delay_ms is the backoff's next delay. Returns the delay to wait
	 * before the next attempt instead (a server that refuses our certificate is not
	 * asked again every few seconds). NULL: the backoff's. */
	uint32_t (*retry_delay)(void *arg, int status, const char *why, uint32_t delay_ms);
};

struct watch_client_config {
	const char *server;          /* "host:port", copied; the certificate must name host */
	const struct sockaddr *addr; /* where host is (one of its addresses), copied; NULL:
	                              * resolve host at each attempt */
	socklen_t addrlen;
	uint64_t since_revision;     /* revision already applied by the caller; 0: none */
	uint32_t backoff_base_ms;    /* first reconnect ceiling; 0: WATCH_BACKOFF_BASE_MS */
	uint32_t backoff_cap_ms;     /* largest ceiling; 0: WATCH_BACKOFF_CAP_MS */
	uint32_t keepalive_ms;       /* PING the server this often; 0: 30000 */
	const uint8_t *crl_sha256;   /* 32 bytes the caller keeps current: the CRL it holds,
	                              * sent with each Watch; NULL: none */
	const uint8_t *policy_sha256; /* likewise, of the policy.cms it holds; NULL: none */
};

/* Starts connecting to cfg->server at once and calls Watch with since_revision = the last
 * revision applied (cfg->since_revision at first). Each WatchEvent is applied in revision
 * order: a snapshot always (it sets the revision); an upsert or removal only when its
 * revision is above the last applied, otherwise it is dropped (logged at debug). An
 * undecodable event ends the stream (it is reconnected from the last applied revision).
 * Whenever the call ends -- any status, GOAWAY, connection failure -- on_state(false) runs,
 * the connection is dropped at the end of the loop turn and a new one is made after a
 * backoff delay; the backoff starts again from its base once a stream delivers an event.
 * A stream the server ends with ABORTED (it removed this host's record and asks it to
 * report and watch again) is followed by a new one at once, at most once a second.
 * ctx is borrowed (up-ref'd); ops is copied. Returns the client (watch_client_del) or
 * NULL with errno set: EINVAL for a malformed server address, ENOMEM. */
struct watch_client *watch_client_new(struct loop *l, SSL_CTX *ctx,
    const struct watch_client_config *cfg, const struct watch_client_ops *ops, void *arg);

/* The server (and address, as in the config; NULL: resolve it) of the attempts from now
 * on; a running stream is not touched. Called from retry_delay, it is the next attempt's
 * (failing over to another server, the revision applied so far goes with it). 0, or
 * -EINVAL (malformed server) or -ENOMEM, the server unchanged. */
int watch_client_set_server(struct watch_client *w, const char *server,
    const struct sockaddr *addr, socklen_t addrlen);

/* Ends the stream and the connection without calling any op, frees w; accepts NULL. The
 * connection's memory is released at the end of the loop turn (or by loop_del). */
void watch_client_del(struct watch_client *w);

/* The revision of the last applied event (cfg->since_revision before any). */
uint64_t watch_client_revision(const struct watch_client *w);

/* How many connections were started after the first one (attempts, failed ones too). */
unsigned watch_client_reconnects(const struct watch_client *w);

/* True while a Watch stream has delivered an event and has not ended. */
bool watch_client_connected(const struct watch_client *w);

#endif
