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
struct issuer;

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
	struct ratelog bad_tokens;   /* joins refused for their token: the same */
	uint32_t issuer_days;        /* lifetime of what the online issuer signs */
	bool in_bracket;             /* enroll_run.c: inside store_enroll_begin ... commit */
	bool reloaded;               /* a shared store's requests were read once */
	struct enroll_gate gate;     /* Join's */
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

/* admin_enroll.c, shared with the token joins */
/* The next free address of each range of network's pool into ips (*n of them): free of
 * every enrolled peer and every request but self (0: none). GRPC_OK, or a status
 * (FAILED_PRECONDITION: no pool; RESOURCE_EXHAUSTED: a range is full) with err naming
 * the field. */
int enroll_pick_free(struct enroll *e, const char *network, uint64_t self,
    struct netaddr ips[CERT_TUNNEL_MAX], size_t *n, char *err, size_t errlen);
/* Checks certificate der for request r with its extra x (the reserved addresses): it
 * verifies, for clientAuth, against the server's CA with the intermediates untrusted
 * (NULL: none), and names r's host, network, key and exactly x's addresses, with the
 * CSR's public key. The root's DER into *ca (free with OPENSSL_free). Returns GRPC_OK,
 * or a status with err naming the field. */
int enroll_cert_check(struct enroll *e, const struct pending_req *r, const struct enroll_extra *x,
    const uint8_t *der, size_t len, STACK_OF(X509) *untrusted, uint8_t **ca, size_t *ca_len,
    char *err, size_t errlen);

/* enroll_token.c: joins that present a token */
/* Whether a token may be presented at all: an online issuer (else FAILED_PRECONDITION)
 * and its syntax (else INVALID_ARGUMENT); false with the call failed. */
bool enroll_token_usable(struct enroll *e, struct rpc_call *call, const char *text);
/* The stored token text admits host name into network ("": the token's) now: *t set.
 * false with the call failed: PERMISSION_DENIED unknown, expired, used up or of another
 * network (logged at most once a minute); FAILED_PRECONDITION the issuer is not of its
 * network; UNAVAILABLE the store. Nothing is written. */
bool enroll_token_find(struct enroll *e, struct rpc_call *call, const char *text,
    const char *network, const char *name, const char *host, struct store_token *t);
/* A certificate the online issuer signed for a request, checked, with copies for the
 * request's extra data. */
struct enroll_issued {
	uint8_t *der, *ca;           /* OPENSSL_free: for the store's row */
	size_t len, ca_len;
	uint8_t *cert_copy, *ca_copy;  /* free(): what x keeps (enroll_issued_take) */
};
/* Signs r's CSR with the online issuer is for next's addresses and the given groups, for
 * issuer_days, and checks the result as an operator's approval is (enroll_cert_check, with
 * the issuer as intermediate): a misconfigured issuer fails here, not at the host's first
 * connection. GRPC_OK with *out, or a status with err set (*out freed). */
int enroll_issue(struct enroll *e, const struct issuer *is, const struct pending_req *r,
    const struct enroll_extra *next, const char (*groups)[CERT_GROUP_MAX + 1], size_t n_groups,
    int64_t now, struct enroll_issued *out, char *err, size_t errlen);
/* Once stored: x takes the copies and next's addresses. */
void enroll_issued_take(struct enroll_extra *x, const struct enroll_extra *next,
    struct enroll_issued *o);
void enroll_issued_free(struct enroll_issued *o);

/* Approves request r (in the table) with token t: reserves the next free pool addresses,
 * signs with the online issuer, checks the result (enroll_cert_check) and stores the
 * approval with the token's use in one transaction, then applies it to the table. false
 * with the call failed and r left as it was (in the table: a new r is the caller's to
 * remove). */
bool enroll_token_approve(struct enroll *e, struct rpc_call *call, const struct pending_req *r,
    const struct store_token *t, const char *host);
/* enroll_token_find for r's network and name, then enroll_token_approve. */
bool enroll_token_decide(struct enroll *e, struct rpc_call *call, const struct pending_req *r,
    const char *text, const char *host);
/* The DER of the online issuer into *der (free with OPENSSL_free) when it signed x's
 * certificate: JoinReply.chain. Its length, or 0 (*der NULL) when there is no chain. */
size_t enroll_chain_der(struct enroll *e, const struct enroll_extra *x, uint8_t **der);

/* enroll_store.c: the requests in the store */
/* Saves request r with its extra x as they are to be (the caller applies the change to
 * the table only once this returned 0). 0, or a negative errno (logged). */
int enroll_store_save(struct enroll *e, const struct pending_req *r,
    const struct enroll_extra *x);
/* The same, with a use of token token_id taken in the same transaction (store_token_use):
 * 0, -ESTALE (the token has no use left or expired at now: nothing written), or another
 * negative errno (logged). */
int enroll_store_save_token(struct enroll *e, const struct pending_req *r,
    const struct enroll_extra *x, uint64_t token_id, int64_t now);
/* Drops request id from the store (a failure is logged). */
void enroll_store_drop(struct enroll *e, uint64_t id);
/* pending_expire, and the expired rows dropped from the store too. */
void enroll_expire(struct enroll *e, int64_t now);
/* The table read again from the store (a shared store's copy changed: enroll_run.c). */
void enroll_reload(struct enroll *e);

#endif
