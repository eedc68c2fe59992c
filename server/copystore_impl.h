/* What copystore.c (the copy, the SQLite side) and copystore_pg.c (the PostgreSQL side)
 * share: the copy a source streams its records into, one at a time, and the target's
 * calls. Only they include it. */
#ifndef WS_COPYSTORE_IMPL_H
#define WS_COPYSTORE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "rpc/loop.h"
#include "server/store.h"

/* A target's writes, each inside its open transaction: 0 or a negative errno (a
 * PostgreSQL target only queues them: its errors come with its commit). */
struct copy_sink {
	int (*peer)(void *t, const struct peer *p);
	int (*change)(void *t, const struct store_change *c, int64_t ts_ms);
	int (*join)(void *t, const struct store_join *j);
	int (*token)(void *t, const struct store_token *tk);
	int (*audit)(void *t, const struct store_audit *e);
	int (*link)(void *t, const struct store_link *l);
};

/* What a target holds before the copy (it must hold none of the first four). */
struct copy_held {
	uint64_t peers, joins, tokens, revision;
	uint64_t log_rows;
	uint64_t audit_max_id;               /* FROM's entries are numbered after it */
	uint64_t live_servers;               /* PostgreSQL: servers whose lease runs */
};

struct copy {
	const struct copy_sink *sink;
	void *target;
	const char *to_name;                 /* for messages */
	uint64_t audit_offset;
	/* FROM's, set by the source before its records */
	uint64_t revision, join_next_id;
	uint64_t peers, log_rows, joins, tokens, audit, links;
	int err;                             /* the first failure: the rest is skipped */
	char why[512];                       /* ... and what it was */
};

/* copystore.c: one record from the source into the target, counted; the first failure
 * is kept in k->err and every later call returns it at once. */
int copy_peer(struct copy *k, const struct peer *p);
int copy_change(struct copy *k, const struct store_change *c, int64_t ts_ms);
int copy_join(struct copy *k, const struct store_join *j);
int copy_token(struct copy *k, const struct store_token *t);
int copy_audit(struct copy *k, const struct store_audit *e);
int copy_link(struct copy *k, const struct store_link *l);
/* The first failure (why: a whole message, naming the store), unless one is kept already. */
void copy_fail(struct copy *k, int err, const char *why);

/* copystore_pg.c: a database of the copy, connected (at most PGCONN_CONNECT_TIMEOUT_MS)
 * and migrated to pgschema_version() on l. role is "FROM" or "TO", for messages. A source
 * must hold a store already (its migration only upgrades one). NULL with err. */
struct copy_pg;
struct copy_pg *copy_pg_open(struct loop *l, const char *uri, const char *role,
    bool source, char *err, size_t errlen);
/* Rolls back an open transaction and closes; accepts NULL. */
void copy_pg_close(struct copy_pg *p);
/* "host:port/db" for messages. */
const char *copy_pg_name(const struct copy_pg *p);
/* The database's answer to the first query that failed (a write a target queued), or
 * NULL. */
const char *copy_pg_error(const struct copy_pg *p);
/* As a source: every record, in one snapshot, into k. 0 or a negative errno, with err. */
int copy_pg_read(struct copy_pg *p, struct copy *k, char *err, size_t errlen);
/* As a target: begins the transaction, locks the store's tables against writers and says
 * what it holds. 0 or a negative errno with err. */
int copy_pg_begin(struct copy_pg *p, struct copy_held *held, char *err, size_t errlen);
extern const struct copy_sink copy_pg_sink;
/* Writes the revision and raises the next join id, commits and waits for every queued
 * write. 0, or a negative errno with err (the transaction rolled back). */
int copy_pg_commit(struct copy_pg *p, uint64_t revision, uint64_t join_next_id, char *err,
    size_t errlen);

/* copystore_pgrows.c: a source's tables in the order they are read: how many, table i's
 * name and query, and row r of its answer into k (NULL, or what is wrong with the row). */
size_t copy_pg_tables(void);
const char *copy_pg_table(size_t i);
const char *copy_pg_table_sql(size_t i);
const char *copy_pg_row(size_t i, struct copy *k, const PGresult *res, int r);

#endif
