/* What the store's files (store.c, store_peer.c, store_log.c, store_join.c, store_token.c)
 * share: its fields and its statement runner. Only they include it (and with it
 * sqlite3.h). */
#ifndef WS_STORE_IMPL_H
#define WS_STORE_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "server/store.h"

/* How long a write waits for another connection's write lock (store_audit.c waits not). */
#define STORE_BUSY_TIMEOUT_MS 5000

/* The peers' columns, in the order store_peer.c binds and reads them. */
#define STORE_PEER_COLUMNS "key, name, network, listen_port, tunnel_ips, lan_ips, wan_ip, " \
    "lan_id, observed_endpoint, online, last_seen_ms, revision, certificate, static, chain"

#define STORE_LIST_MAX ((CERT_TUNNEL_MAX > PEER_LAN_MAX ? CERT_TUNNEL_MAX : PEER_LAN_MAX) * \
    NETADDR_STRLEN)

/* store.c's statements, prepared once in store_open. */
enum store_stmt {
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_PUT,
	STMT_DELETE,
	STMT_FOREACH,
	STMT_REVISION_GET,
	STMT_REVISION_SET,
	STMT_SIZE,
	STMT_COUNT
};

/* The change log's statements (store_log.c). */
enum store_log_stmt {
	LOG_PUT,
	LOG_SINCE,
	LOG_AT,
	LOG_TAIL,
	LOG_DROP,
	LOG_AFTER,
	LOG_STMT_COUNT
};

/* The join requests' statements (store_join.c). */
enum store_join_stmt {
	JOIN_PUT,
	JOIN_NEXT_SET,
	JOIN_NEXT_GET,
	JOIN_DELETE,
	JOIN_EXPIRE,
	JOIN_FOREACH,
	JOIN_STMT_COUNT
};

/* The join tokens' statements (store_token.c). */
enum store_token_stmt {
	TOKEN_ADD,
	TOKEN_GET,
	TOKEN_USE,
	TOKEN_EXPIRE,
	TOKEN_STMT_COUNT
};

struct store_shared;

struct store_enroll;
struct store {
	struct store_shared *shared;         /* a shared database (store_shared.c): the rest is
	                                      * SQLite's and unused */
	struct store_enroll *enroll;         /* its join requests and tokens (store_enroll.c) */
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmt[STMT_COUNT];
	sqlite3_stmt *log_stmt[LOG_STMT_COUNT];
	sqlite3_stmt *join_stmt[JOIN_STMT_COUNT];
	sqlite3_stmt *token_stmt[TOKEN_STMT_COUNT];
	uint64_t revision;
	/* a write failed and no commit has succeeded since: a full disk fails every batch,
	 * and the log says so once, not once per call */
	bool failing;
	unsigned long failures;
	/* the change log: the latest stamp given (rows are stamped no earlier), and the rows
	 * logged by the open transaction (what its prune may drop beyond the extra) */
	int64_t log_last_ts;
	uint64_t log_tx_rows;
};

/* Steps stmt once (it returns no rows we need), resets it and clears its bindings.
 * 0, or -EIO with the failure logged as "what" (once per run of failures). */
int store_stmt_run(struct store *st, sqlite3_stmt *stmt, const char *what);
/* False (and a warning) when no transaction is open: a write would commit on its own. */
bool store_in_tx(struct store *st, const char *what);

/* store_peer.c: n addresses as "a,b,c" into buf (STORE_LIST_MAX bytes), and back into at
 * most max (false on a bad list); column i as text into out[outlen] (false: too long). */
void store_list_format(const struct netaddr *a, size_t n, char *buf);
bool store_list_parse(const char *text, struct netaddr *a, size_t max, uint8_t *n);
bool store_column_text(sqlite3_stmt *stmt, int i, char *out, size_t outlen);

/* store_log.c: prepares the log's statements and reads its last stamp after the schema is
 * current (0, or a negative errno with err naming the file); finalizes them (NULL-safe). */
int store_log_open(struct store *st, char *err, size_t errlen);
void store_log_close(struct store *st);
/* store_join.c: the same for the join requests' statements. */
int store_join_open(struct store *st, char *err, size_t errlen);
void store_join_close(struct store *st);
/* store_join.c: writes j inside the open transaction (store_token_use approves a join in
 * the transaction that takes the token's use). 0, -EINVAL or -EIO (logged). */
int store_join_write(struct store *st, const struct store_join *j);
/* store_token.c: the join tokens' statements. */
int store_token_open(struct store *st, char *err, size_t errlen);
void store_token_close(struct store *st);

/* store_enroll.c: the join requests' and tokens' calls of store.h on a shared store, on
 * its copy inside the open bracket; and the copy freed (NULL-safe). */
int store_enroll_join_put(struct store *st, const struct store_join *j);
int store_enroll_join_delete(struct store *st, uint64_t id);
int store_enroll_joins_expire(struct store *st, int64_t created_s);
int store_enroll_joins_foreach(struct store *st,
    int (*fn)(const struct store_join *j, void *arg), void *arg);
int store_enroll_join_next_id(struct store *st, uint64_t *next);
int store_enroll_token_add(struct store *st, struct store_token *t);
int store_enroll_token_get(struct store *st, const uint8_t sha256[32], struct store_token *out);
int store_enroll_token_use(struct store *st, uint64_t id, int64_t now,
    const struct store_join *j);
int store_enroll_tokens_expire(struct store *st, int64_t expires_s);
void store_enroll_free(struct store *st);

/* store_shared.c: store.h's calls on a shared database (see there). */
int store_shared_connect(struct loop *l, const char *uri, const struct store_cluster *cl,
    struct store_shared **out, char *err, size_t errlen);
void store_shared_close(struct store_shared *sh);
uint64_t store_shared_revision(const struct store_shared *sh);
const char *store_shared_name(const struct store_shared *sh);
/* For store_shared_cluster.c: the connection, whether it is up, whether it is closing
 * (answers from then on reach nobody). */
struct store_pg *store_shared_pg(const struct store_shared *sh);
bool store_shared_ready(const struct store_shared *sh);
bool store_shared_closing(const struct store_shared *sh);
int store_shared_peers_foreach(struct store_shared *sh,
    int (*fn)(const struct peer *p, void *arg), void *arg);
void store_shared_set_doorbell(struct store_shared *sh, void (*fn)(void *arg), void *arg);
int store_shared_write(struct store_shared *sh, const struct store_write_change *ch, size_t n,
    int64_t now_ms, store_write_fn done, void *arg);
int store_shared_follow(struct store_shared *sh, uint64_t after, store_row_fn fn,
    void (*done)(void *arg, uint64_t revision, int err), void *arg);
uint64_t store_shared_log_floor(const struct store_shared *sh);
int store_shared_changes_since(struct store_shared *sh, const char *network, uint64_t since,
    int (*fn)(const uint8_t key[WG_KEY_LEN], uint64_t revision, void *arg), void *arg);
int store_shared_servers(struct store_shared *sh,
    void (*fn)(void *arg, const char *name, const char *address, int64_t lease_until_ms),
    void (*done)(void *arg, int err), void *arg);
int store_shared_tickets(struct store_shared *sh,
    void (*fn)(void *arg, const uint8_t *records, size_t n, int64_t created_ms),
    void (*done)(void *arg, int err), void *arg);
int store_shared_links_foreach(struct store_shared *sh,
    int (*fn)(const struct store_link *l, void *arg), void *arg);
int store_shared_links_replace(struct store_shared *sh, const uint8_t reporter[WG_KEY_LEN],
    const struct store_link *v, size_t n);
int store_shared_links_drop(struct store_shared *sh, const uint8_t key[WG_KEY_LEN]);
int store_shared_audit_add(struct store_shared *sh, struct store_audit *e,
    uint64_t max_entries);
int store_shared_audit_list(struct store_shared *sh, const char *network, uint64_t before_id,
    uint32_t limit, int (*fn)(const struct store_audit *e, void *arg),
    void (*done)(void *arg, int err), void *arg);
int store_shared_reload(struct store_shared *sh, void (*fn)(void *arg, const struct peer *p),
    void (*done)(void *arg, uint64_t revision, int err), void *arg);
int store_shared_ticket_add(struct store_shared *sh, const uint8_t record[80],
    bool forget_old, int64_t now_ms, void (*done)(void *arg, int err), void *arg);

#endif
