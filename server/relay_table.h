/* A fixed pool of slots with a hash chain per bucket and a least-recently-used order: the
 * storage under the relay's index and source tables (relay.c). It holds no keys itself:
 * the caller keeps its records in an array parallel to the slots, hashes them and compares
 * them. Full means the caller evicts relay_table_oldest before allocating. */
#ifndef WS_RELAY_TABLE_H
#define WS_RELAY_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RELAY_NONE UINT32_MAX

struct relay_link {
	uint32_t hnext;        /* next slot in the bucket's chain */
	uint32_t prev, next;   /* LRU order: head is the newest */
	uint32_t bucket;
	bool used;
};

struct relay_table {
	struct relay_link *links;
	uint32_t *buckets;
	uint32_t cap, mask;    /* slots; buckets - 1 (a power of two, at least cap) */
	uint32_t n, head, tail, free_head;
};

/* cap slots (at least 1). Returns 0 or -ENOMEM; relay_table_free releases it. */
int relay_table_init(struct relay_table *t, uint32_t cap);
void relay_table_free(struct relay_table *t);

/* The first slot of hash's chain (RELAY_NONE when empty); follow links[i].hnext. */
uint32_t relay_table_first(const struct relay_table *t, uint64_t hash);
/* A free slot put at the head of the LRU order and in hash's chain, or RELAY_NONE when
 * the table is full. */
uint32_t relay_table_alloc(struct relay_table *t, uint64_t hash);
/* Returns slot i to the free list. */
void relay_table_release(struct relay_table *t, uint32_t i);
/* Marks i as just used. */
void relay_table_touch(struct relay_table *t, uint32_t i);
/* The least recently used slot, RELAY_NONE when empty. */
uint32_t relay_table_oldest(const struct relay_table *t);

/* A 64-bit mix of x with a secret seed, so that chosen keys do not pile into one chain. */
uint64_t relay_hash(uint64_t seed, const void *data, size_t len);

#endif
