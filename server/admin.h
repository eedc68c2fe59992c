/* The wiresync.v1.Admin service: list, show, remove and add static peers, status, backup.
 * Open to admin certificates only (SAN URI urn:wiresync:role:admin); an admin acts on the
 * network of its certificate. */
#ifndef WS_ADMIN_H
#define WS_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "rpc/h2server.h"
#include "server/service.h"
#include "server/store.h"

struct admin;

struct admin_config {
	uint32_t expiry_warn_days;   /* Status lists certificates expiring within this (30) */
};

/* An admin service over svc and st (both borrowed, they must outlive it). ctx is the
 * server's TLS context, borrowed: static peers' certificates are verified against its CA
 * and CRL exactly as agents' are at the handshake. Returns NULL on ENOMEM. */
struct admin *admin_new(struct service *svc, struct store *st, SSL_CTX *ctx,
    const struct admin_config *cfg);
/* Frees it; accepts NULL. Call after the rpc server is gone. */
void admin_del(struct admin *a);

/* Every method the server serves: the service's followed by the Admin ones (owned by a). */
const struct rpc_method *admin_methods(struct admin *a, size_t *n);

/* The rpc server, for the connection count in Status (borrowed; NULL to forget it). */
void admin_set_server(struct admin *a, struct rpc_server *srv);

/* The paths Status publishes besides the server itself: the relay's "ip:port" or
 * "[v6]:port" (relay_listen's host, the bound port; NULL or "" none) and the hub's
 * WireGuard port (0 none). The string is copied. */
void admin_set_paths(struct admin *a, const char *relay_endpoint, uint16_t hub_port);

struct enroll;
/* The join requests ListPending, PrepareApproval, Approve and Deny act on (borrowed; NULL:
 * none, those calls are refused). */
void admin_set_enroll(struct admin *a, struct enroll *e);

#endif
