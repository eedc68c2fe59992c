/* The PostgreSQL backend of the store (issue 15), for several wiresyncd on one database:
 * the peer records and the change log, every call answered later through a callback (the
 * event loop never waits on the database; server/pgconn.h). The schema and its guarantees
 * are server/pgschema.h's: revisions gap-free in commit order across servers, keys and
 * tunnel addresses unique per network by the database.
 *
 * The service reaches it through server/store.h (store_shared.c binds the two). */
#ifndef WS_STORE_PG_H
#define WS_STORE_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc/loop.h"
#include "server/store.h"

struct store_pg;

struct store_pg_cb {
	/* Connected and migrated (first time or after a reconnect); version is the schema's.
	 * After a reconnect the caller catches up from the log (store_pg_changes_since). */
	void (*on_ready)(void *arg);
	/* Lost (why names the server): calls in flight fail, new ones get -ENOTCONN until
	 * on_ready again. A schema newer than this build is said here too, and never ready. */
	void (*on_down)(void *arg, const char *why);
	/* A NOTIFY of a commit (any server's): the doorbell; the log is the truth. */
	void (*on_notify)(void *arg, uint64_t revision);
};

/* Connects to uri (libpq conninfo) as the server called name (unique in the cluster:
 * the hosts it puts online are its own, see store_pg_lease); nothing is ready before
 * on_ready. NULL with err (naming the database setting) when uri does not parse. */
struct store_pg *store_pg_open(struct loop *l, const char *uri, const char *name,
    const struct store_pg_cb *cb, void *arg, char *err, size_t errlen);
void store_pg_close(struct store_pg *s);
bool store_pg_ready(const struct store_pg *s);

/* Writes the n changes in one transaction: change i takes revision base + i + 1, each put
 * peer's revision is its last; the commit is NOTIFYed. done gets the new revision, or err
 * (a tunnel address another key holds in its network: "duplicate key ... peer_tunnels";
 * nothing of the commit stays). 0, -ENOTCONN, -EINVAL (a record the store cannot hold,
 * logged) or -ENOMEM; done is called only on 0. */
int store_pg_commit(struct store_pg *s, const struct store_write_change *ch, size_t n,
    int64_t now_ms, void (*done)(void *arg, uint64_t revision, const char *err), void *arg);

/* Every stored peer (fn's record is valid during the call), then done with the revision
 * the read saw, or err. 0 or -ENOTCONN/-ENOMEM. */
int store_pg_load(struct store_pg *s, void (*fn)(void *arg, const struct peer *p),
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg);

/* The change log after revision after, in revision order: fn(revision, key, network,
 * removed), then done (err NULL) or done with err. 0 or -ENOTCONN/-ENOMEM. */
int store_pg_changes_since(struct store_pg *s, uint64_t after,
    void (*fn)(void *arg, uint64_t revision, const uint8_t key[WG_KEY_LEN],
        const char *network, bool removed),
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg);

/* The follower's read: the log rows after revision after (at most limit), in revision
 * order, each with the peer's record when the row is its latest change (held_elsewhere
 * set for a host another server holds online), else rec NULL; then done with the last
 * revision read. 0 or -ENOTCONN/-ENOMEM. */
int store_pg_follow(struct store_pg *s, uint64_t after, unsigned limit,
    void (*fn)(void *arg, const struct store_change *c, const struct peer *rec),
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg);
/* Drops the log rows more than keep revisions old or stamped before older_than_ms, but
 * never the newest. 0 or -ENOTCONN/-ENOMEM. */
int store_pg_prune(struct store_pg *s, uint64_t keep, int64_t older_than_ms,
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg);

/* Presence across servers: each server holds a lease in the database and renews it; a
 * host a server puts online is held online by that server's lease. */

/* Takes or renews this server's lease until now_ms + ttl_ms (address: how the cluster
 * lists it; started_ms: when this process started, which tells its runs apart). prev_fn,
 * when the row was there, with what it held before: another start time after our own
 * renewal is another running server with our name. done: err or NULL. 0 or
 * -ENOTCONN/-ENOMEM. */
int store_pg_lease(struct store_pg *s, const char *address, int64_t started_ms, int64_t now_ms,
    int64_t ttl_ms, void (*prev_fn)(void *arg, int64_t started_ms, const char *address),
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg);

/* Expires every other server whose lease ended before now_ms: its hosts go offline (each a
 * change in the log, in one transaction with the lease's removal) and its row goes. done
 * gets the revision after (unchanged when nothing expired). 0 or -ENOTCONN/-ENOMEM. */
int store_pg_expire(struct store_pg *s, int64_t now_ms,
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg);

/* The servers of the cluster and their leases: fn per server, then done. */
int store_pg_servers(struct store_pg *s,
    void (*fn)(void *arg, const char *name, const char *address, int64_t lease_until_ms),
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg);

/* TLS session ticket keys shared by the cluster (rpc/tickets.h's 80-byte records), so
 * that a session resumes on any server. */

/* The newest keys (at most 2), newest first: fn(records, n, newest_created_ms), called
 * with n 0 when there are none, then done. 0 or -ENOTCONN/-ENOMEM. */
int store_pg_tickets(struct store_pg *s,
    void (*fn)(void *arg, const uint8_t *records, size_t n, int64_t created_ms),
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg);
/* Adds record as the newest key and keeps the one before it (forget_old: none before it,
 * after a CRL change); two servers adding at once both succeed, in some order. */
int store_pg_ticket_add(struct store_pg *s, const uint8_t record[80], bool forget_old,
    int64_t now_ms, void (*done)(void *arg, uint64_t revision, const char *err), void *arg);

/* Link health (issue 16) shared by the cluster: the rows of reporter replaced by v[0..n)
 * in one transaction; the rows of key (reporting or reported) dropped; every row read. */
int store_pg_links_replace(struct store_pg *s, const uint8_t reporter[WG_KEY_LEN],
    const struct store_link *v, size_t n,
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg);
int store_pg_links_drop(struct store_pg *s, const uint8_t key[WG_KEY_LEN],
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg);
int store_pg_links_load(struct store_pg *s, void (*fn)(void *arg, const struct store_link *l),
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg);

/* The audit log: e added (its id given by the database) and the oldest rows past the
 * newest max_entries dropped, in one transaction. */
int store_pg_audit_add(struct store_pg *s, const struct store_audit *e, uint64_t max_entries,
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg);
/* At most limit rows of network (and the servers' own, network ""; NULL: every row),
 * newest first, below before_id (0: no bound): fn per row (non-zero stops), then done. */
int store_pg_audit_list(struct store_pg *s, const char *network, uint64_t before_id,
    uint32_t limit, int (*fn)(void *arg, const struct store_audit *e),
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg);

/* Join requests and tokens (server/store_enroll.c). The enrolment revision, and, when it
 * is not have, every request and token in one snapshot: reset, join and token per row
 * (valid during the call), then done(arg, revision, next join id, loaded, err). */
struct store_pg_enroll_read {
	void (*reset)(void *arg);            /* a snapshot's rows follow */
	void (*join)(void *arg, const struct store_join *j);
	void (*token)(void *arg, const struct store_token *t);
	void (*done)(void *arg, uint64_t revision, uint64_t next_id, bool loaded,
	    const char *err);
};
int store_pg_enroll_read(struct store_pg *s, uint64_t have,
    const struct store_pg_enroll_read *rd, void *arg);
struct pgrows_stmt;
/* The n statements in one transaction that first steps the enrolment revision from base
 * (ws_enroll_step: "[40001] ..." in err when another server wrote since); done gets the
 * new revision. */
int store_pg_enroll_commit(struct store_pg *s, uint64_t base, const struct pgrows_stmt *st,
    size_t n, void (*done)(void *arg, uint64_t revision, const char *err), void *arg);

#endif
