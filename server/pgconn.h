/* libpq in the event loop: one PostgreSQL connection that connects, queries and listens
 * without ever blocking the loop (PQconnectStartParams, PQsocket in epoll, PQconsumeInput),
 * with every query of one loop turn sent as one pipeline (PQenterPipelineMode, a sync at the
 * end of the turn: group commit), NOTIFYs handed on as they arrive, and a lost connection
 * reconnected with backoff. What the queries mean is the caller's (the PostgreSQL store).
 *
 * A notification is only a doorbell: after a reconnect the caller must LISTEN again (in
 * on_up) and catch up from its own log, since notifications sent while it was away are
 * gone. */
#ifndef WS_PGCONN_H
#define WS_PGCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "rpc/loop.h"

#define PGCONN_BACKOFF_BASE_MS 100
#define PGCONN_BACKOFF_CAP_MS 5000
#define PGCONN_CONNECT_TIMEOUT_MS 10000   /* one attempt, from start to ready */

struct pgconn;

struct pgconn_cb {
	/* Connected and ready (first time or again): queries may be sent. */
	void (*on_up)(void *arg);
	/* The connection is gone or an attempt failed (why names the server and the reason);
	 * every query in flight has had its callback with an error first. The next attempt
	 * comes by itself after a backoff. */
	void (*on_down)(void *arg, const char *why);
	/* A NOTIFY on a channel this connection LISTENs to (payload "" when none). */
	void (*on_notify)(void *arg, const char *channel, const char *payload);
};

/* One query's outcome: res (owned by pgconn, valid during the call) with
 * PQresultStatus PGRES_COMMAND_OK or PGRES_TUPLES_OK, or res NULL and err saying why
 * ("[23505] ERROR: duplicate key ...": a refusal starts with its SQLSTATE; "aborted: an
 * earlier query of its pipeline failed", "connection lost"). */
typedef void (*pgconn_result_fn)(void *arg, const PGresult *res, const char *err);

/* A connection to conninfo (a postgresql:// URI or "key=value ..." string), started at
 * once; cb and arg are borrowed. NULL with err (naming the database setting) when conninfo
 * does not parse; a server that cannot be reached is no error here: on_down says so and
 * the attempts go on. */
struct pgconn *pgconn_new(struct loop *l, const char *conninfo, const struct pgconn_cb *cb,
    void *arg, char *err, size_t errlen);
/* Closes the connection; queries in flight get "connection closed". Accepts NULL. */
void pgconn_del(struct pgconn *c);

/* Whether queries may be sent now. */
bool pgconn_ready(const struct pgconn *c);

/* Queues sql with n text parameters (values[i] NULL: SQL NULL) in this turn's pipeline;
 * fn (may be NULL) gets its result in order. 0, -ENOTCONN (not ready: nothing queued) or
 * -ENOMEM. */
int pgconn_send(struct pgconn *c, const char *sql, int n, const char *const *values,
    pgconn_result_fn fn, void *arg);

/* "host:port/db" (no password) for logs. */
const char *pgconn_target(const struct pgconn *c);
/* Ends the pipeline now instead of at the end of the loop turn: the queries sent so far
 * succeed or fail on their own (the server runs the statements between two ends as one
 * implicit transaction, and an error aborts the rest up to the end). */
void pgconn_end(struct pgconn *c);

/* Counters for tests and metrics. */
struct pgconn_stats {
	uint64_t connects;      /* times on_up ran */
	uint64_t attempts;      /* connection attempts started */
	uint64_t pipelines;     /* syncs sent: one per loop turn that sent queries */
	uint64_t queries;       /* queries sent */
	uint64_t notifies;      /* notifications handed on */
};
void pgconn_stats(const struct pgconn *c, struct pgconn_stats *out);

#endif
