/* The in-memory peer table: every stored peer, indexed by WireGuard key and by (network,
 * tunnel address). Reads are served
 * from here; the store is written first and this table follows the commit. */
#ifndef WS_PEERS_H
#define WS_PEERS_H

#include <stddef.h>
#include <stdint.h>

#include "server/store.h"

struct peer_table;

/* Returns an empty table or NULL on ENOMEM. */
struct peer_table *peer_table_new(void);
/* Frees the table and every peer in it; accepts NULL. */
void peer_table_del(struct peer_table *t);

/* The peer with this key, or NULL. The pointer stays valid until the peer is replaced or
 * removed. */
struct peer *peer_table_get(const struct peer_table *t, const uint8_t key[WG_KEY_LEN]);

/* Inserts p (taking ownership of it and its cert), replacing and returning the previous
 * record with the same key, which the caller frees with peer_free (NULL if none). Returns
 * p itself on ENOMEM, still owned by the caller. */
struct peer *peer_table_put(struct peer_table *t, struct peer *p);

/* Removes and returns the peer with this key (the caller frees it), or NULL. */
struct peer *peer_table_take(struct peer_table *t, const uint8_t key[WG_KEY_LEN]);

/* A peer of network, other than the one with skip_key (NULL: none skipped), whose tunnel
 * addresses include a; NULL when there is none. */
struct peer *peer_table_find_tunnel(const struct peer_table *t, const char *network,
    const struct netaddr *a, const uint8_t skip_key[WG_KEY_LEN]);

size_t peer_table_count(const struct peer_table *t);

/* Calls fn for every peer of network (NULL: of every network), in no particular order; stops when fn returns
 * non-zero and returns that value. fn must not change the table. */
int peer_table_foreach(const struct peer_table *t, const char *network,
    int (*fn)(const struct peer *p, void *arg), void *arg);

#define PEER_CHAIN_MAX 2     /* intermediates kept with a record: an online issuer */

/* Splits p->chain into its DER certificates: up to max of them into der[] and len[].
 * Returns how many, or -1 when the chain does not split into whole certificates. */
int peer_chain_split(const struct peer *p, const uint8_t *der[], size_t len[], size_t max);

/* A deep copy (cert and chain included), or NULL on ENOMEM. */
struct peer *peer_dup(const struct peer *p);
/* Frees p and its cert; accepts NULL. */
void peer_free(struct peer *p);

#endif
