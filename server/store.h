/* The durable store, the one interface of the server's state whatever holds it: an SQLite
 * file (WAL, one writer; the embedded default for one server) or a PostgreSQL database
 * that several wiresyncd share (issue 15; server/store_pg.h). The service writes through
 * store_write and learns of commits, its own and other servers', only through
 * store_follow (the log follower, server/follower.h). Only the store's files include
 * sqlite3.h or libpq-fe.h. */
#ifndef WS_STORE_H
#define WS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cert.h"
#include "common/netaddr.h"

#define PEER_LAN_MAX 8
#define PEER_LAN_ID_MAX 32
#define PEER_ENDPOINT_MAX 64

/* One host's record. Tunnel addresses and the key come from its certificate. */
struct peer {
	uint8_t key[WG_KEY_LEN];
	char name[CERT_NAME_MAX + 1];
	char network[CERT_NAME_MAX + 1];
	uint32_t listen_port;
	uint8_t n_tunnel, n_lan, lan_id_len;
	bool online;
	bool held_elsewhere;                 /* online through another server of the cluster
	                                      * (a shared store): its presence is that one's */
	bool is_static;                      /* added by an operator; presence never changes it */
	struct netaddr tunnel[CERT_TUNNEL_MAX];
	struct netaddr lan[PEER_LAN_MAX];
	struct netaddr wan;                  /* family 0: unknown */
	uint8_t lan_id[PEER_LAN_ID_MAX];
	char observed_endpoint[PEER_ENDPOINT_MAX]; /* "" when unknown */
	int64_t last_seen_ms;
	uint64_t revision;
	uint8_t *cert;                       /* DER; owned by the record */
	size_t cert_len;
	uint8_t *chain;                      /* DER intermediates one after the other, the
	                                      * leaf's issuer first (an online issuer); owned;
	                                      * NULL when the root signed cert */
	size_t chain_len;
	/* from the certificate, not stored: the pairing policy reads them (server/pairing.h) */
	bool groups_read;
	uint8_t n_groups;
	char groups[CERT_GROUPS_MAX][CERT_GROUP_MAX + 1];
};

struct store;
struct store_change;
struct loop;

/* What a server sharing a database is to the others (store_connect). */
struct store_cluster {
	const char *name;                    /* unique in the cluster: the hosts it holds online
	                                      * are its own */
	const char *address;                 /* how `wiresyncctl status` lists it */
	uint32_t lease_ms;                   /* its lease; the others expire it after this */
	uint32_t connect_timeout_ms;         /* the first connection, before anything serves */
	uint64_t log_max_entries;            /* the change log's bounds, as for SQLite */
	uint64_t log_max_age_ms;
};

/* Opens the store database names: a PostgreSQL URI (postgresql:// or postgres://, any
 * libpq URI) connects to a shared store through l (waiting for the first connection, its
 * migration and the load of every record, at most cl->connect_timeout_ms); anything else
 * is an SQLite file (store_open; cl unused). 0 and *out, or a negative errno with err
 * naming the database (never the URI: it may hold a password). */
int store_connect(struct loop *l, const char *database, const struct store_cluster *cl,
    struct store **out, char *err, size_t errlen);
/* True for a database URI (the shared store). */
bool store_database_is_uri(const char *database);
/* True when other servers share the store: records change under the service (the
 * follower imports them) and presence is held per server. */
bool store_shared(const struct store *st);

/* This server's name in a shared store's cluster; NULL on SQLite. */
const char *store_server_name(const struct store *st);

/* One change of a store_write: put (the record) or, with put NULL, the removal of key
 * from network. */
struct store_write_change {
	const struct peer *put;
	uint8_t key[WG_KEY_LEN];
	char network[CERT_NAME_MAX + 1];
	bool tunnels_kept;                   /* put's network and tunnel addresses are those of
	                                      * the record it replaces: a shared store leaves
	                                      * their claims as they are */
};
/* Answer of a store_write: revision is the commit's last (change i of n took revision -
 * n + i + 1), or err says why nothing was committed (-ENOTCONN when the database is away,
 * -EEXIST when the database refused an address or key another record holds, -EIO). */
typedef void (*store_write_fn)(void *arg, uint64_t revision, int err);
/* Commits the n changes in one transaction, each logged in the change log. On SQLite
 * change i takes store_revision() + i + 1 (the puts carry it already), the log is pruned
 * below prune_upto and before prune_older_ms (store_changes_prune), and done is called
 * before this returns; on a shared store the database numbers them after every commit
 * before (any server's: the puts' revisions are then fixed by the caller), prunes on its
 * own, and done is called later from the loop. 0 (done will be called once), or a
 * negative errno (-ENOTCONN, -EINVAL, -ENOMEM, -EIO; done not called, nothing written). */
int store_write(struct store *st, const struct store_write_change *ch, size_t n,
    int64_t now_ms, uint64_t prune_upto, int64_t prune_older_ms, store_write_fn done,
    void *arg);

/* The follower's read: every change log row after revision after in revision order, each
 * with the peer's record when the store has it fresher than the service's table (a shared
 * store: the record as committed when the row is its latest; NULL when removed or
 * superseded, and always NULL on SQLite, whose service table is the committed state).
 * fn's arguments are valid only during the call. done(arg, last revision read, err 0 or
 * negative). On SQLite everything happens before this returns. 0 (done will be called
 * once) or a negative errno (done not called). */
typedef void (*store_row_fn)(void *arg, const struct store_change *c, const struct peer *rec);
int store_follow(struct store *st, uint64_t after, store_row_fn fn,
    void (*done)(void *arg, uint64_t revision, int err), void *arg);
/* Every record as the store holds it now, then done with the revision the read saw
 * (err 0 or negative): what a follower that missed pruned rows of a shared store starts
 * again from. -ENOTSUP on SQLite (the service's table is the committed state). */
int store_reload(struct store *st, void (*fn)(void *arg, const struct peer *p),
    void (*done)(void *arg, uint64_t revision, int err), void *arg);
/* The doorbell (a shared store): fn is called when some server committed or when the
 * database is back after a loss; the follower reads the log then. SQLite never rings. */
void store_set_doorbell(struct store *st, void (*fn)(void *arg), void *arg);

/* The servers of a shared store and their leases, for `wiresyncctl status`: fn per
 * server, then done(err). -ENOTSUP on SQLite (one server: this one), -ENOTCONN. */
int store_servers(struct store *st,
    void (*fn)(void *arg, const char *name, const char *address, int64_t lease_until_ms),
    void (*done)(void *arg, int err), void *arg);

/* TLS session ticket keys shared through a shared store (rpc/tickets.h's 80-byte
 * records): the newest two, newest first (n 0: none yet), then done; and the adding of a
 * new newest. -ENOTSUP on SQLite (ticket_key_file keeps them there). */
int store_tickets(struct store *st,
    void (*fn)(void *arg, const uint8_t *records, size_t n, int64_t created_ms),
    void (*done)(void *arg, int err), void *arg);
int store_ticket_add(struct store *st, const uint8_t record[80], bool forget_old,
    int64_t now_ms, void (*done)(void *arg, int err), void *arg);

/* Opens or creates the database at path: WAL, synchronous=FULL, foreign keys, the current
 * schema (migrating older versions inside one transaction). A newer schema than this build
 * knows is an error. Returns 0 and *out, or a negative errno with err naming the file. */
int store_open(const char *path, struct store **out, char *err, size_t errlen);
/* Closes the database; accepts NULL. */
void store_close(struct store *st);

/* The schema version this build writes. */
int store_schema_version(void);

/* The last committed revision (0 for a new store). */
uint64_t store_revision(const struct store *st);

/* Calls fn for every stored peer, in key order. fn's peer (and its cert) is valid only
 * during the call. Stops and returns fn's value when it is non-zero; -EIO on a read error. */
int store_peers_foreach(struct store *st, int (*fn)(const struct peer *p, void *arg), void *arg);

/* A write transaction: begin (BEGIN IMMEDIATE), any number of puts/deletes, then commit or
 * rollback. revision is written with the commit and becomes store_revision(). Each returns
 * 0 or -EIO (the reason is logged). */
int store_begin(struct store *st);
int store_peer_put(struct store *st, const struct peer *p);
int store_peer_delete(struct store *st, const uint8_t key[WG_KEY_LEN]);
int store_commit(struct store *st, uint64_t revision);
void store_rollback(struct store *st);

/* The change log (store_log.c), written in the same transaction as the change: one row per
 * revision, naming the peer that changed, stamped ts_ms or, when the wall clock went back,
 * the last stamp given (so rows are in time order as well as revision order). 0 or -EIO. */
int store_change_log(struct store *st, uint64_t revision, const uint8_t key[WG_KEY_LEN],
    const char *network, bool removed, int64_t ts_ms);
/* One row of the change log: the revision, the peer it changed and its network, and
 * whether the change removed the peer (schema 11; rows logged before read as changes). */
struct store_change {
	uint64_t revision;
	uint8_t key[WG_KEY_LEN];
	char network[CERT_NAME_MAX + 1];
	bool removed;
};
/* Calls fn for every row after revision after, of every network, in revision order (what
 * the follower feeds the watchers from). c is valid only during the call. Returns 0, fn's
 * non-zero value, -EBUSY when nested, or -EIO (a bad row or a read error, logged). */
int store_changes_after(struct store *st, uint64_t after,
    int (*fn)(const struct store_change *c, void *arg), void *arg);
/* Calls fn once per peer of network changed after since, with its latest revision, in
 * revision order. Returns 0, fn's non-zero value, -EBUSY when nested, or -EIO. */
int store_changes_since(struct store *st, const char *network, uint64_t since,
    int (*fn)(const uint8_t key[WG_KEY_LEN], uint64_t revision, void *arg), void *arg);
/* Inside a transaction: drops the oldest log rows, those at or below upto_revision and
 * those stamped before older_than_ms, but at most the rows this transaction logged plus
 * STORE_LOG_PRUNE_EXTRA, so a backlog drains over several commits. Its work grows with the
 * rows it drops (a few seeks besides), not with the length of the log. 0, -EINVAL outside
 * a transaction, or -EIO. */
#define STORE_LOG_PRUNE_EXTRA 1024
int store_changes_prune(struct store *st, uint64_t upto_revision, int64_t older_than_ms);
/* The oldest revision a Watch can resume from: the log covers (floor, revision]. */
uint64_t store_log_floor(struct store *st);

/* A join request (issue 13) as stored by store_join.c: what server/pending.h keeps and
 * what the enrolment adds (network, CSR, reserved addresses, the approval or the denial). */
#define STORE_JOIN_REASON_MAX 200
struct store_join {
	uint64_t id;
	char name[CERT_NAME_MAX + 1];
	char network[CERT_NAME_MAX + 1];
	uint8_t key[WG_KEY_LEN];
	uint8_t csr_sha256[32];
	struct netaddr source;
	int64_t created_s;
	int state;                           /* enum pending_state: 0 waiting, 1 approved, 2 denied */
	const uint8_t *csr, *cert, *ca;      /* DER; cert and ca may be NULL (len 0) */
	size_t csr_len, cert_len, ca_len;
	uint8_t n_ips;                       /* reserved */
	struct netaddr ips[CERT_TUNNEL_MAX];
	char reason[STORE_JOIN_REASON_MAX + 1];
	bool renewal;                        /* WireSync.Renew (schema 7) */
	const uint8_t *current;              /* a renewal's current certificate, DER */
	size_t current_len;
};

/* Join requests and tokens on either store: the calls below are made inside a bracket.
 * store_enroll_begin calls fn once they may be (on a shared store: when no other bracket
 * of this server is open and its copy of the database's requests and tokens is current;
 * changed is true when that copy was read again since the last bracket that committed,
 * so the caller reloads what it keeps of them, store_joins_foreach). store_enroll_commit
 * then writes what the calls changed in one transaction and calls done(arg, 0), or
 * -EAGAIN (another server wrote requests or tokens since the begin: nothing written;
 * begin again and decide from the new state), -ENOTCONN or -EIO (nothing written). On
 * SQLite the calls write at once, and begin (changed false) and commit call back before
 * they return. fn with err set (-ENOTCONN: the database is away) opens no bracket: no
 * commit follows it. Each returns 0 or -ENOMEM (fn/done not called). */
int store_enroll_begin(struct store *st, void (*fn)(void *arg, bool changed, int err),
    void *arg);
int store_enroll_commit(struct store *st, void (*done)(void *arg, int err), void *arg);

/* Each of these writes in a transaction of its own (a join request is no peer change:
 * it bumps no revision and logs nothing), so none may be called inside store_begin /
 * store_commit. 0, -EINVAL (bad record, or a transaction is open) or -EIO (logged). */
/* Inserts or replaces request j->id and raises the next id above it. */
int store_join_put(struct store *st, const struct store_join *j);
/* Drops request id (none: 0). */
int store_join_delete(struct store *st, uint64_t id);
/* Drops every request created at or before created_s (those past enroll_max_age_s). */
int store_joins_expire(struct store *st, int64_t created_s);
/* Calls fn for every stored request in id order; j's pointers are valid only during the
 * call. Stops and returns fn's value when non-zero; -EIO on a bad row or a read error. */
int store_joins_foreach(struct store *st, int (*fn)(const struct store_join *j, void *arg),
    void *arg);
/* The next id to give: above every id ever stored, also of requests since dropped.
 * 0 or -EIO. */
int store_join_next_id(struct store *st, uint64_t *next);

/* A join token (issue 13) as stored by store_token.c: only its SHA-256, never its text. */
struct store_token {
	uint64_t id;                         /* given by store_token_add */
	char network[CERT_NAME_MAX + 1];
	uint8_t sha256[32];
	uint32_t uses_left;
	int64_t expires_s, created_s;        /* seconds since the epoch */
	uint8_t n_groups;                    /* the groups of the certificates it gets */
	char groups[CERT_GROUPS_MAX][CERT_GROUP_MAX + 1];
	char admin_name[CERT_NAME_MAX + 1];  /* who made it: the admin certificate's CN */
	char admin_serial[80];               /* ... and serial (hex) */
};

/* Each writes in a transaction of its own, as the join requests' calls do. */
/* Inserts t and sets t->id. 0, -EEXIST (a token with this hash), -EINVAL (bad record or
 * a transaction is open) or -EIO (logged). */
int store_token_add(struct store *st, struct store_token *t);
/* The token whose hash is sha256 into *out. 0, -ENOENT or -EIO (logged). */
int store_token_get(struct store *st, const uint8_t sha256[32], struct store_token *out);
/* In one transaction: takes one use of token id, if it has one left and is not expired at
 * now, and writes the join request j it approves. 0; -ESTALE when the token has no use
 * left, is expired or gone (nothing written); -EINVAL or -EIO (logged, nothing written). */
int store_token_use(struct store *st, uint64_t id, int64_t now, const struct store_join *j);
/* Drops every token that expired at or before expires_s. 0, -EINVAL or -EIO. */
int store_tokens_expire(struct store *st, int64_t expires_s);

/* The audit log (issue 16, store_audit.c): one row per admin action, stored in a
 * transaction of its own (not inside store_begin / store_commit). */
#define STORE_AUDIT_TEXT_MAX 512             /* action and detail, bytes */
struct store_audit {
	uint64_t id;                         /* given by store_audit_add; grows */
	int64_t time_ms;                     /* ms since the epoch */
	char network[CERT_NAME_MAX + 1];     /* "": the server's own (a CRL loaded) */
	char admin[CERT_NAME_MAX + 1];       /* the admin certificate's CN; "": the server */
	char serial[80];                     /* ... and its serial, hex */
	char action[64];                     /* "approve", "deny", "policy-loaded", ... */
	char detail[STORE_AUDIT_TEXT_MAX];
};
/* Inserts e (sets e->id) and, in the same transaction, drops the oldest rows past the
 * newest max_entries (at least 1). Does not wait for another connection's write lock.
 * 0, -EINVAL (bad record or a transaction is open) or -EIO (logged; also when locked). */
int store_audit_add(struct store *st, struct store_audit *e, uint64_t max_entries);
/* Calls fn for at most limit rows of network or of network "" (the server's; network
 * NULL: every row), newest first, with ids below before_id (0: no bound). Stops and returns fn's value when
 * non-zero; -EIO on a bad row or a read error. */
int store_audit_foreach(struct store *st, const char *network, uint64_t before_id,
    uint32_t limit, int (*fn)(const struct store_audit *e, void *arg), void *arg);
/* Rows kept, of every network. 0 or -EIO. */
int store_audit_count(struct store *st, uint64_t *n);
/* store_audit_foreach on either store: fn per row, then done(arg, 0 or a negative errno),
 * before this returns on SQLite and from the loop on a shared store. 0 (done will be
 * called once) or a negative errno (-ENOTCONN: the database is away; done not called). */
int store_audit_list(struct store *st, const char *network, uint64_t before_id,
    uint32_t limit, int (*fn)(const struct store_audit *e, void *arg),
    void (*done)(void *arg, int err), void *arg);

/* Database file size in bytes (page_count * page_size). */
int64_t store_size(struct store *st);

/* A consistent copy of the whole database, made with the SQLite backup API (outside a
 * transaction), as the bytes of an SQLite file in *out (free with store_image_free).
 * Returns 0, or -ENOMEM / -EIO (logged). */
int store_backup_image(struct store *st, uint8_t **out, size_t *len);
void store_image_free(uint8_t *img);

/* Link health (issue 16) as store_links.c keeps it: the latest report of each host
 * (reporter), one row per peer it manages. */
#define STORE_LINK_PATH_MAX 15
#define STORE_LINK_EP_MAX 63
#define STORE_LINK_REASON_MAX 200
struct store_link {
	uint8_t reporter[WG_KEY_LEN], peer[WG_KEY_LEN];
	char path[STORE_LINK_PATH_MAX + 1];           /* "lan", "wan", "observed", "relay", "" */
	char endpoint[STORE_LINK_EP_MAX + 1];         /* "ip:port", "" */
	int64_t last_handshake_ms;                    /* 0 never */
	uint64_t rx_bytes, tx_bytes;
	char down_reason[STORE_LINK_REASON_MAX + 1];
	int64_t reported_ms;                          /* when the report arrived */
};
/* Each in a transaction of its own, like the join requests' calls. 0, -EINVAL (a string
 * too long, or a transaction is open) or -EIO (logged). */
/* Replaces every row of reporter with v[0..n). */
int store_links_replace(struct store *st, const uint8_t reporter[WG_KEY_LEN],
    const struct store_link *v, size_t n);
/* Drops the rows key reported and those about it (a host removed). */
int store_links_drop(struct store *st, const uint8_t key[WG_KEY_LEN]);
/* Calls fn for every row, by reporter then peer; stops and returns fn's value when
 * non-zero; -EIO on a read error (a bad row is skipped and logged). */
int store_links_foreach(struct store *st, int (*fn)(const struct store_link *l, void *arg),
    void *arg);

/* Copying a store between backends (server/copystore.h): the reads nothing else needs, and
 * writes that keep a record's id and join the caller's open transaction (store_begin ...
 * store_commit), so that a whole copy commits at once or not at all. */
/* Every change log row in revision order, with its stamp (ms). 0, fn's non-zero value, or
 * -EIO (a bad row or a read error, logged). */
int store_log_foreach(struct store *st,
    int (*fn)(const struct store_change *c, int64_t ts_ms, void *arg), void *arg);
/* Every join token in id order; t is valid only during the call. 0, fn's non-zero value,
 * or -EIO (logged). */
int store_tokens_foreach(struct store *st, int (*fn)(const struct store_token *t, void *arg),
    void *arg);
/* Inside the open transaction, each 0, -EINVAL (a bad record, or no transaction) or -EIO
 * (logged); the change log's rows go through store_change_log, the revision with
 * store_commit. Request j as it is (and the next id raised above it): */
int store_join_copy(struct store *st, const struct store_join *j);
/* The next join id raised to at least next (never lowered). */
int store_join_next_id_raise(struct store *st, uint64_t next);
/* Token t under its own t->id; -EEXIST when its id or hash is taken. */
int store_token_copy(struct store *st, const struct store_token *t);
/* Audit entry e under its own e->id, past no bound (-EEXIST when the id is taken). */
int store_audit_copy(struct store *st, const struct store_audit *e);
/* Link row l, replacing the row of the same reporter and peer. */
int store_link_copy(struct store *st, const struct store_link *l);

#endif
