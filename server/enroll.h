/* Joining (issue 13): the wiresync.v1.Enroll service of the join listener (enroll_listen)
 * and the join requests the operator decides with the Admin calls ListPending,
 * PrepareApproval, Approve and Deny (server/admin_enroll.c). Requests are kept in the
 * store (server/enroll_store.c): a restart keeps them, their ids and reservations, until
 * enroll_max_age_s. */
#ifndef WS_ENROLL_H
#define WS_ENROLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "rpc/h2server.h"
#include "rpc/loop.h"
#include "rpc/tls.h"
#include "server/pool.h"
#include "server/service.h"

struct enroll;

/* A method that reads or writes join requests or tokens (Join, Renew, the Admin calls
 * that decide requests or make tokens) runs inside a store bracket (store.h's
 * store_enroll_begin): on a shared store its answer is held until the database has what
 * it wrote, and it runs again, from the new state, when another server wrote meanwhile.
 * On SQLite it runs as it is. g is the caller's and lives as long as the method. */
struct enroll_gate {
	rpc_handler_fn fn;
	void *arg;
	struct service *svc;
};
struct rpc_method enroll_gated(struct enroll_gate *g, struct service *svc,
    const struct rpc_method *m);
/* fn(arg) inside a bracket, then done(arg, 0 or a negative errno: -EAGAIN when it ran
 * from a state another server changed and was not written, -ENOTCONN); on SQLite both
 * before this returns. For what no call carries: the web console's decisions. 0 or
 * -ENOMEM. */
int enroll_run_task(struct service *svc, void (*fn)(void *arg),
    void (*done)(void *arg, int err), void *arg);
/* Frees the calls still waiting for the database (at exit); a task's done gets
 * -ECANCELED. */
void enroll_run_free_all(void);

struct enroll_config {
	const struct pool *pools;    /* one per network, copied */
	size_t n_pools;
	const char *server;          /* the mutual-TLS listen address, as configured */
	size_t max_pending;          /* requests kept at once (256) */
	uint32_t max_age_s;          /* a request older is dropped (86400) */
	size_t rate_per_min;         /* new requests per source per minute (10) */
	uint32_t issuer_days;        /* lifetime of what the online issuer signs for a join
	                              * token (30; capped at the issuer's own) */
};

/* Join requests over svc's peers (borrowed). ctx is the mutual-TLS context, borrowed: an
 * approved certificate must verify against its CA store. Returns NULL on ENOMEM. */
struct enroll *enroll_new(struct service *svc, SSL_CTX *ctx, const struct enroll_config *cfg);
/* Closes the listener and frees everything; accepts NULL. */
void enroll_del(struct enroll *e);

/* Loads the requests kept in svc's store (dropping those past max_age_s) and the next
 * id. 0, or a negative errno with err set. */
int enroll_load(struct enroll *e, char *err, size_t errlen);

/* Opens the join listener on addr: a TLS context from f that asks for no client
 * certificate, and a gRPC server on l with lim that serves Join only (every other path,
 * WireSync's and Admin's included, is UNIMPLEMENTED). Returns 0 or -1 with err set. */
int enroll_listen(struct enroll *e, struct loop *l, const struct tls_files *f,
    const char *addr, const struct rpc_limits *lim, char *err, size_t errlen);
/* The port the join listener bound; 0 when there is none. */
int enroll_port(const struct enroll *e);
/* Stops accepting joins and lets calls in flight finish (SIGTERM). */
void enroll_shutdown(struct enroll *e);

/* The web console's hold on the join requests (server/web_enroll.c). */
struct enroll_view {
	uint64_t id;
	const char *name, *network, *code, *state;  /* borrowed for the call */
	const char *source;          /* "ip" */
	int64_t created_s;
	bool renewal;
};
/* Calls fn for each request (expired ones dropped first) until it returns non-zero;
 * returns that. e may be NULL (no request). */
int enroll_foreach_view(struct enroll *e, int (*fn)(const struct enroll_view *v, void *arg),
    void *arg);
/* Approves (approve) or denies ("denied from the web console") waiting request id. An
 * approval is a token join's: the next free pool addresses, signed by the online issuer
 * (no groups; a renewal keeps its own), checked with enroll_cert_check, saved, applied.
 * by names who decided, for the log and the audit log. done(arg, 0, NULL) once it is
 * kept, or done(arg, -1, why): no issuer, no such waiting request, pool full, the
 * database away... Before this returns on SQLite; on a shared store from the loop, once
 * the database has it. 0, or -ENOMEM (done not called). */
int enroll_decide(struct enroll *e, uint64_t id, bool approve, const char *by,
    void (*done)(void *arg, int ret, const char *why), void *arg);

#endif
