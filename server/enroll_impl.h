/* The join requests' private parts, shared by enroll.c (the Join call, the listener) and
 * admin_enroll.c (the operator's calls). Not for other modules. */
#ifndef WS_ENROLL_IMPL_H
#define WS_ENROLL_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "proto/admin.pb-c.h"
#include "rpc/h2server.h"
#include "rpc/ratelog.h"
#include "server/enroll.h"
#include "server/pending.h"
#include "server/pool.h"
#include "server/service_impl.h"

#define ENROLL_REASON_MAX 200

/* What a request carries besides the pure table's fields (pending_req.user). */
struct enroll_extra {
	char network[CERT_NAME_MAX + 1];
	uint8_t *csr;                /* DER */
	size_t csr_len;
	size_t n_ips;                /* reserved by PrepareApproval */
	struct netaddr ips[CERT_TUNNEL_MAX];
	uint8_t *cert, *ca;          /* DER, once approved */
	size_t cert_len, ca_len;
	char reason[ENROLL_REASON_MAX + 1];   /* once denied */
};

struct enroll {
	struct service *svc;
	SSL_CTX *ctx;                /* mutual TLS: its store verifies approvals */
	SSL_CTX *enroll_ctx;         /* the join listener's */
	struct rpc_server *srv;
	struct pending_table *t;
	struct pool *pools;
	size_t n_pools;
	size_t max_pending, rate_per_min;
	char server[256];
	struct ratelog refused;      /* joins refused for the bounds: one line per minute */
	struct rpc_method methods[1];
};

/* enroll.c */
/* "waiting", "approved", "denied". */
const char *enroll_state_name(enum pending_state st);
/* The pool of network, or NULL. */
const struct pool *enroll_pool(const struct enroll *e, const char *network);
/* The request's extra data (never NULL for a request enroll.c made). */
struct enroll_extra *enroll_extra(const struct pending_req *r);

#endif
