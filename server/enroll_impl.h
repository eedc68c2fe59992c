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

struct addrcount;

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
	uint32_t max_age_s;
	char server[256];
	struct ratelog refused;      /* joins refused for the bounds: one line per minute */
	struct addrcount *conns;     /* open join-listener connections per address */
	struct rpc_method methods[1];
};

/* enroll.c */
/* "waiting", "approved", "denied". */
const char *enroll_state_name(enum pending_state st);
/* The pool of network, or NULL. */
const struct pool *enroll_pool(const struct enroll *e, const char *network);
/* The request's extra data (never NULL for a request enroll.c made). */
struct enroll_extra *enroll_extra(const struct pending_req *r);
/* Frees x and what it owns (the table's user_free); accepts NULL. */
void enroll_extra_free(void *x);

/* enroll_store.c: the requests in the store */
/* Saves request r with its extra x as they are to be (the caller applies the change to
 * the table only once this returned 0). 0, or a negative errno (logged). */
int enroll_store_save(struct enroll *e, const struct pending_req *r,
    const struct enroll_extra *x);
/* Drops request id from the store (a failure is logged). */
void enroll_store_drop(struct enroll *e, uint64_t id);
/* pending_expire, and the expired rows dropped from the store too. */
void enroll_expire(struct enroll *e, int64_t now);

#endif
