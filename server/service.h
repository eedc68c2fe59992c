/* The wiresync.v1.WireSync and grpc.health.v1.Health services: identity from the client
 * certificate, Update with group commit, Keys, GetPeer, Watch. */
#ifndef WS_SERVICE_H
#define WS_SERVICE_H

#include <stddef.h>

#include <openssl/x509.h>

#include "rpc/h2server.h"
#include "rpc/loop.h"
#include "server/store.h"

struct service;

struct service_config {
	uint32_t presence_grace_ms;        /* offline this long after the last Watch ends */
	uint32_t restart_grace_ms;         /* after a restart, for peers stored as online */
	uint32_t max_watches_per_identity; /* open Watch streams per certificate */
	uint64_t log_max_entries;          /* change log kept for resuming Watch streams */
	uint64_t log_max_age_ms;
};

/* 3 s, 30 s, 16, 100000 entries, 7 days. */
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

/* Closes every connection whose certificate crl revokes and removes those peers from the
 * store (every watcher hears of it). crl is borrowed. Returns the number of peers removed. */
size_t service_apply_crl(struct service *svc, X509_CRL *crl);

/* Number of peers in memory, and of open Watch streams. */
size_t service_peer_count(const struct service *svc);
size_t service_watcher_count(const struct service *svc);

#endif
