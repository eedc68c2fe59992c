/* What the PostgreSQL store's files share (store_pg.c: records, the change log and the
 * connection; store_pg_cluster.c: leases, ticket keys, link health and the audit log): the
 * store and one call's bookkeeping. Only they include it. */
#ifndef WS_STORE_PG_IMPL_H
#define WS_STORE_PG_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "server/pgconn.h"
#include "server/store_pg.h"

#define COMMIT_CHANNEL "ws_commits"

struct store_pg {
	struct pgconn *c;
	char name[128];                /* this server's, in servers and peers.online_server */
	const struct store_pg_cb *cb;
	void *arg;
	bool ready;
};

/* One call: its queries' answers counted down, the first error kept. */
struct call {
	struct store_pg *s;
	int pending;
	bool rollback;                 /* inside BEGIN: a failure needs a ROLLBACK */
	uint64_t revision;
	char err[512];
	void (*done)(void *arg, uint64_t revision, const char *err);
	void (*peer_fn)(void *arg, const struct peer *p);
	void (*change_fn)(void *arg, uint64_t revision, const uint8_t key[WG_KEY_LEN],
	    const char *network, bool removed);
	void (*list_fn)(void *arg, const char *name, const char *address, int64_t until_ms);
	void (*keys_fn)(void *arg, const uint8_t *records, size_t n, int64_t created_ms);
	void (*row_fn)(void *arg, const struct store_change *c, const struct peer *rec);
	void (*link_fn)(void *arg, const struct store_link *l);
	int (*audit_fn)(void *arg, const struct store_audit *e);
	void (*prev_fn)(void *arg, int64_t started_ms, const char *address);
	void *arg;
};


/* One answer of k's queries in (ok or err); after the last, a ROLLBACK when it failed
 * inside BEGIN, then k's done, and k is freed. */
void pg_answered(struct call *k, bool ok, const char *err);
/* The result callback of a query whose answer carries nothing. */
void pg_on_step(void *arg, const PGresult *res, const char *err);
/* Queues one query of k (fn NULL: pg_on_step). 0 or pgconn_send's error. */
int pg_send(struct call *k, const char *sql, int n, const char *const *v, pgconn_result_fn fn);
/* A call of s; -ENOTCONN (not ready) or -ENOMEM, else 0 and *out. */
int pg_call_new(struct store_pg *s, void (*done)(void *, uint64_t, const char *), void *arg,
    struct call **out);
/* Every query of k is queued (r 0) or not; returns r (done is not called when r != 0). */
int pg_call_queued(struct call *k, int r);
/* A bytea column's text back to bytes (PQfreemem them), len set; NULL on a bad text. */
uint8_t *pg_unhex(const char *text, size_t *len);
/* The result callback of a query answering one row, one column: k->revision. */
void pg_on_revision(void *arg, const PGresult *res, const char *err);

#endif
