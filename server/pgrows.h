/* The join requests' and tokens' rows in the PostgreSQL schema (server/pgschema.c), both
 * ways: a record as the parameters of the statement that writes it, and a result row back
 * into a record. The shared store's enrolment (server/store_enroll.c) and wiresyncd
 * --copy-store (server/copystore_pg*.c) write and read them alike. */
#ifndef WS_PGROWS_H
#define WS_PGROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "server/store.h"

/* n bytes as a bytea literal ("\\x" and hex) into out, 2 * n + 3 bytes; and as a malloc'd
 * one, NULL for none (SQL NULL), *oom set on failure. */
void pgrows_hex(char *out, const uint8_t *p, size_t n);
char *pgrows_hex_new(const uint8_t *p, size_t n, bool *oom);

/* A peer's columns as text parameters, as server/store_pg.c writes and wiresyncd
 * --copy-store copies them (the SQLite store's forms: store_impl.h's address lists). */
struct peer;
struct pgrows_peer {
	char key[2 * WG_KEY_LEN + 3], lan_id[2 * PEER_LAN_ID_MAX + 3];
	char port[16], last_seen[24], revision[24];
	char tunnel[512], lan[512], wan[64];
	char tunnels[512];                   /* pgschema_tunnels' literal: the claims */
	char *cert, *chain;                  /* NULL: SQL NULL */
};
/* 0, -EINVAL (a bad record) or -ENOMEM; pgrows_peer_free after a 0. */
int pgrows_peer_text(const struct peer *p, struct pgrows_peer *out);
void pgrows_peer_free(struct pgrows_peer *t);

/* One statement with its text parameters (NULL: SQL NULL), each malloc'd. */
#define PGROWS_PARAMS_MAX 15
struct pgrows_stmt {
	const char *sql;                     /* static */
	int n;
	char *v[PGROWS_PARAMS_MAX];
};
/* Frees s's parameters (NULL-safe) and zeroes it. */
void pgrows_stmt_free(struct pgrows_stmt *s);

/* The upsert of request j (its id kept). 0, -EINVAL (a bad record) or -ENOMEM. */
int pgrows_join_put(const struct store_join *j, struct pgrows_stmt *out);
/* The insert of token t under t->id. 0, -EINVAL or -ENOMEM. */
int pgrows_token_put(const struct store_token *t, struct pgrows_stmt *out);

/* The columns pgrows_join_read and pgrows_token_read take, in their order. */
extern const char PGROWS_JOIN_SELECT[];
extern const char PGROWS_TOKEN_SELECT[];
/* Row i of res into *j, its DER pointing into der[0..4) (PQfreemem each, also on
 * failure). NULL, or what is wrong with the row. */
const char *pgrows_join_read(const PGresult *res, int i, struct store_join *j,
    uint8_t *der[4]);
const char *pgrows_token_read(const PGresult *res, int i, struct store_token *t);

/* Column col of row i: bytes (PQfreemem them; NULL with *len 0 for SQL NULL, *bad on
 * failure), exactly n bytes into out, text into out[size] (false: too long), a bigint,
 * a boolean. */
uint8_t *pgrows_col_bytes(const PGresult *res, int i, int col, size_t *len, bool *bad);
bool pgrows_col_fixed(const PGresult *res, int i, int col, uint8_t *out, size_t n);
bool pgrows_col_text(const PGresult *res, int i, int col, char *out, size_t size);
int64_t pgrows_col_i64(const PGresult *res, int i, int col);
bool pgrows_col_bool(const PGresult *res, int i, int col);

#endif
