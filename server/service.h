/* The wiresync.v1.WireSync and grpc.health.v1.Health services: identity from the client
 * certificate, Update with group commit, Keys, GetPeer, Watch. */
#ifndef WS_SERVICE_H
#define WS_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "rpc/h2server.h"
#include "rpc/loop.h"
#include "server/store.h"

struct service;
struct metrics;

struct service_config {
	uint32_t presence_grace_ms;        /* offline this long after the last Watch ends */
	uint32_t restart_grace_ms;         /* after a restart, for peers stored as online */
	uint32_t max_watches_per_identity; /* open Watch streams per certificate */
	uint32_t max_connections_per_identity; /* connections per certificate */
	uint32_t update_rate_per_s;        /* Updates per certificate per second; 0: no limit */
	uint32_t update_burst;             /* ... and in a burst */
	uint64_t log_max_entries;          /* change log kept for resuming Watch streams */
	uint64_t log_max_age_ms;
	bool crl_stale_refuse;             /* crl_stale = refuse (see service_call_admitted) */
	uint64_t audit_max_entries;        /* audit log rows kept (server/audit.h) */
	uint32_t link_up_window_s;         /* a pair is up: both ends' handshakes this recent */
};

/* 3 s, 30 s, 16 Watch streams and 256 connections per identity, no Update rate limit
 * (burst 20 once a rate is set), 100000 entries, 7 days. */
void service_config_default(struct service_config *cfg);

/* Loads every stored peer into memory. st stays the caller's and must outlive the service;
 * cfg is copied. Returns NULL with err set. */
struct service *service_new(struct loop *l, struct store *st, const struct service_config *cfg,
    char *err, size_t errlen);
/* Frees the service; accepts NULL. Call after the rpc server is gone. */
void service_del(struct service *svc);

/* The methods to serve (owned by svc) and the connection hooks for rpc_server_new. */
const struct rpc_method *service_methods(struct service *svc, size_t *n);
void service_server_ops(struct service *svc, struct rpc_server_ops *ops);

struct crlset;
/* Puts crls in force (taken; the old set is freed), relays to each network's watchers the
 * CRLs of its CA that changed, closes every connection whose certificate they revoke and
 * removes those peers from the store (every watcher hears of it). *changed (may be NULL):
 * crls differ from the set in force before. Returns the number of peers removed. */
size_t service_apply_crls(struct service *svc, struct crlset *crls, bool *changed);
struct policyset;
/* Puts the pairing policies ps in force (taken) unless one would take its network back to
 * an older version (then ps is freed and false returned, with why naming file and
 * versions). Each network whose policy changed has it relayed to its watchers, and each
 * host whose view changed gets a snapshot of exactly the peers it may now see. */
bool service_apply_policies(struct service *svc, struct policyset *ps, char *why, size_t len);
/* The policies in force (borrowed), NULL when none. */
const struct policyset *service_policies(const struct service *svc);
/* The CRLs in force (borrowed), NULL when none. */
const struct crlset *service_crls(const struct service *svc);
/* With crl_stale = refuse: false, with why set, for a call on a connection opened once
 * the CRL of its certificate's CA was past its nextUpdate, while that CRL is in force.
 * Connections opened before it went stale, and every call under crl_stale = keep, pass. */
bool service_call_admitted(const struct service *svc, struct rpc_call *call, char *why,
    size_t len);

/* Logs a warning for each stored peer whose certificate expires within days. Returns how
 * many. */
size_t service_log_expiring(struct service *svc, unsigned days);

/* Number of peers in memory, and of open Watch streams. */
size_t service_peer_count(const struct service *svc);
/* The store revision of the last committed change. */
uint64_t service_revision(const struct service *svc);

/* Times Updates, fan-out and commits into m (borrowed; NULL stops it). */
void service_set_metrics(struct service *svc, struct metrics *m);
size_t service_watcher_count(const struct service *svc);

/* What Update replies tell agents about paths: relay_endpoint "ip:port" of the relay
 * (relay_listen; an unspecified ip means the address the agent reached us at; NULL or ""
 * none) and hub_port, the hub interface's WireGuard port (0 none). Copied. */
void service_set_paths(struct service *svc, const char *relay_endpoint, uint16_t hub_port);

struct issuer;
/* The online issuer (issuer_certificate, issuer_key) that enrolment and renewal sign
 * with: borrowed, must outlive the service; NULL (the default) when none is configured,
 * and then every certificate comes from the operator's offline CA. */
void service_set_issuer(struct service *svc, const struct issuer *is);
const struct issuer *service_issuer(const struct service *svc);

/* After every commit that changed the stored peers (added, changed, removed), once its
 * events went to the watchers: fn(arg, revision). Up to SERVICE_COMMIT_HOOKS of them (the
 * relay, the hub). Returns 0, or -1 when they are all taken. */
#define SERVICE_COMMIT_HOOKS 4
typedef void (*service_commit_fn)(void *arg, uint64_t revision);
int service_on_commit(struct service *svc, service_commit_fn fn, void *arg);

/* The stored record of key (borrowed: valid until the next commit), or NULL. */
const struct peer *service_peer_get(const struct service *svc, const uint8_t key[WG_KEY_LEN]);
/* Calls fn for every stored peer (in no order) until it returns non-zero; returns that. */
int service_peers_foreach(const struct service *svc, int (*fn)(const struct peer *p,
    void *arg), void *arg);

/* Queues a change of key's observed_endpoint ("ip:port", "[v6]:port"; the hub's view of
 * the peer) as any other change: group commit, a revision, the change log and an event
 * to the watchers of its network. Nothing happens when the peer is gone by then or
 * already has it. Returns 0, or -1 (out of memory, or endpoint too long). */
int service_set_observed(struct service *svc, const uint8_t key[WG_KEY_LEN],
    const char *endpoint);

struct enroll;
/* The join requests a renewal (WireSync.Renew) waits among when no online issuer signs it
 * at once (borrowed, must outlive the service; NULL: none, Renew is refused then). */
void service_set_enroll(struct service *svc, struct enroll *e);

#endif
