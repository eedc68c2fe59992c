/* The PostgreSQL store's schema and the statements that make its guarantees (issue 15),
 * shared by every wiresyncd of a cluster:
 *
 * - One global revision, gap-free and in commit order: a write transaction's last statement
 *   (PGSCHEMA_COMMIT_SQL) bumps the one counter row by the number of changes and logs them
 *   under the revisions it took. The row lock is held from there to the commit, so the next
 *   writer's bump waits for this commit and reads past it: revisions are handed out in
 *   commit order and a rolled-back transaction gives its back. (A sequence would not do: a
 *   reader following the log could pass a revision whose transaction commits late.)
 * - Keys and tunnel addresses are unique per network by the database's own keys (peers'
 *   primary key, peer_tunnels (network, addr)): two servers can never both accept one.
 * - Migrations run under an advisory lock in one transaction, so servers starting together
 *   migrate once; a schema newer than this build is refused.
 *
 * Everything goes through server/pgconn.h's pipeline; nothing here blocks. */
#ifndef WS_PGSCHEMA_H
#define WS_PGSCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/netaddr.h"
#include "server/pgconn.h"
#include "server/store.h"

/* The schema version this build writes. */
int pgschema_version(void);

/* Migrates the database of c (ready) to pgschema_version(): done gets the version the
 * database is at, or err (a newer schema than this build: "the database's schema is
 * version N, newer than this wiresyncd's M: upgrade wiresyncd"). 0, or -ENOTCONN/-ENOMEM
 * (done not called). */
int pgschema_migrate(struct pgconn *c, void (*done)(void *arg, int version, const char *err),
    void *arg);

/* The upsert of one peer: $1-$14 its columns as server/pgrows.h's pgrows_peer_text gives
 * them (key, name, network, port, tunnel, lan, wan, lan_id, observed endpoint, online,
 * last seen, certificate, chain, static), $15 the server that holds it online (NULL:
 * none), $16 this server: an online host is taken, one is released only by its holder. */
extern const char PGSCHEMA_PEER_UPSERT_SQL[];

/* The statements pgschema_migrate sends, in order, into *out (for a tool that runs them
 * with libpq alone, in a schema of its own: bench/pginsert); their count. */
size_t pgschema_migrate_steps(const char *const **out);

/* The last statement of a write transaction. Parameters: $1 the number of changes n,
 * $2 their keys (bytea[], n), $3 their networks (text[], n), $4 removed (boolean[], n),
 * $5 the time (ms). Logs change i under revision base + i (1 <= i <= n), sets each changed
 * peer's revision to its last, and returns one row: the new revision (base + n). */
extern const char PGSCHEMA_COMMIT_SQL[];

/* A text-format array literal for PGSCHEMA_COMMIT_SQL's parameters, built in buf (len
 * bytes) one element at a time; the cursor makes each element cost its own length. */
struct pgschema_array {
	char *buf;
	size_t len, used;
	bool any;
};
/* Starts a with "{". */
void pgschema_array_init(struct pgschema_array *a, char *buf, size_t len);
/* Appends one element; 0, or -ENOSPC. */
int pgschema_array_bytea(struct pgschema_array *a, const uint8_t *data, size_t n);
int pgschema_array_text(struct pgschema_array *a, const char *s);
int pgschema_array_bool(struct pgschema_array *a, bool v);
/* Ends it with "}"; 0, or -ENOSPC. */
int pgschema_array_end(struct pgschema_array *a);

/* n bytes as hex digits into out (2 * n bytes and a NUL). */
void pgschema_hex(char *out, const uint8_t *p, size_t n);

struct peer;

/* Where a record's tunnel addresses are claimed (after its peers row): $1 the network, $2
 * the addresses as pgschema_tunnels formats them, $3 the key (bytea). The primary key
 * (network, addr) refuses an address another key of the network holds. */
extern const char PGSCHEMA_TUNNELS_SQL[];
/* Room for pgschema_tunnels' literal of any record. */
#define PGSCHEMA_TUNNELS_MAX (CERT_TUNNEL_MAX * (NETADDR_STRLEN + 3) + 3)
/* p's tunnel addresses as the text[] literal of PGSCHEMA_TUNNELS_SQL's $2 (a host address
 * without its prefix, as the certificate binds it), into buf (len bytes). 0 or -ENOSPC. */
int pgschema_tunnels(const struct peer *p, char *buf, size_t len);

#endif
