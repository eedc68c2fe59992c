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

/* Loads every stored peer into memory. st stays the caller's and must outlive the service.
 * Returns NULL with err set. */
struct service *service_new(struct loop *l, struct store *st, char *err, size_t errlen);
/* Frees the service; accepts NULL. Call after the rpc server is gone. */
void service_del(struct service *svc);

/* The methods to serve (owned by svc) and the connection hooks for rpc_server_new. */
const struct rpc_method *service_methods(struct service *svc, size_t *n);
void service_server_ops(struct service *svc, struct rpc_server_ops *ops);

/* Closes every connection whose certificate crl revokes and removes those peers from the
 * store (every watcher hears of it). crl is borrowed. Returns the number of peers removed. */
size_t service_apply_crl(struct service *svc, X509_CRL *crl);

/* Number of peers in memory. */
size_t service_peer_count(const struct service *svc);

#endif
