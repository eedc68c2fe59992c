/* Intrusive lists over index arrays: no pointers, so a slot's number is its identity and
 * the caller's parallel record array needs no back-reference. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/relay_table.h"

int
relay_table_init(struct relay_table *t, uint32_t cap)
{
	uint32_t nb = 1;

	memset(t, 0, sizeof(*t));
	if (cap == 0)
		cap = 1;
	while (nb < cap && nb < (UINT32_C(1) << 31))
		nb <<= 1;
	t->links = calloc(cap, sizeof(*t->links));
	t->buckets = malloc((size_t)nb * sizeof(*t->buckets));
	if (t->links == NULL || t->buckets == NULL) {
		relay_table_free(t);
		return -ENOMEM;
	}
	for (uint32_t b = 0; b < nb; b++)
		t->buckets[b] = RELAY_NONE;
	for (uint32_t i = 0; i < cap; i++)
		t->links[i].hnext = i + 1 < cap ? i + 1 : RELAY_NONE;
	t->cap = cap;
	t->mask = nb - 1;
	t->head = t->tail = RELAY_NONE;
	t->free_head = 0;
	return 0;
}

void
relay_table_free(struct relay_table *t)
{
	free(t->links);
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

uint32_t
relay_table_first(const struct relay_table *t, uint64_t hash)
{
	return t->buckets[hash & t->mask];
}

static void
lru_unlink(struct relay_table *t, uint32_t i)
{
	struct relay_link *l = &t->links[i];

	if (l->prev != RELAY_NONE)
		t->links[l->prev].next = l->next;
	else
		t->head = l->next;
	if (l->next != RELAY_NONE)
		t->links[l->next].prev = l->prev;
	else
		t->tail = l->prev;
}

static void
lru_push(struct relay_table *t, uint32_t i)
{
	struct relay_link *l = &t->links[i];

	l->prev = RELAY_NONE;
	l->next = t->head;
	if (t->head != RELAY_NONE)
		t->links[t->head].prev = i;
	t->head = i;
	if (t->tail == RELAY_NONE)
		t->tail = i;
}

uint32_t
relay_table_alloc(struct relay_table *t, uint64_t hash)
{
	uint32_t i = t->free_head;
	struct relay_link *l;

	if (i == RELAY_NONE)
		return RELAY_NONE;
	l = &t->links[i];
	t->free_head = l->hnext;
	l->used = true;
	l->bucket = (uint32_t)(hash & t->mask);
	l->hnext = t->buckets[l->bucket];
	t->buckets[l->bucket] = i;
	lru_push(t, i);
	t->n++;
	return i;
}

void
relay_table_release(struct relay_table *t, uint32_t i)
{
	struct relay_link *l = &t->links[i];
	uint32_t *p = &t->buckets[l->bucket];

	if (!l->used)
		return;
	while (*p != i)
		p = &t->links[*p].hnext;
	*p = l->hnext;
	lru_unlink(t, i);
	l->used = false;
	l->hnext = t->free_head;
	t->free_head = i;
	t->n--;
}

void
relay_table_touch(struct relay_table *t, uint32_t i)
{
	if (t->head == i)
		return;
	lru_unlink(t, i);
	lru_push(t, i);
}

uint32_t
relay_table_oldest(const struct relay_table *t)
{
	return t->tail;
}

/* FNV-1a over the bytes, then the 64-bit finaliser of MurmurHash3 with the seed mixed in:
 * the seed is secret, so a sender cannot aim its indices at one chain. */
uint64_t
relay_hash(uint64_t seed, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t h = UINT64_C(0xcbf29ce484222325) ^ seed;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * UINT64_C(0x100000001b3);
	h ^= seed;
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}
