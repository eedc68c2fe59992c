/* Open-addressing hash table of peers keyed by their (random) WireGuard keys. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "server/peers.h"

struct peer_table {
	struct peer **slots;
	size_t cap, n;   /* cap is a power of two; load kept under 1/2 */
};

static struct peer *const TOMBSTONE = (struct peer *)&TOMBSTONE;

static size_t
key_hash(const uint8_t key[WG_KEY_LEN])
{
	uint64_t h;

	/* Curve25519 public keys are uniformly random: their first bytes are a fine hash. */
	memcpy(&h, key, sizeof(h));
	return (size_t)h;
}

struct peer_table *
peer_table_new(void)
{
	struct peer_table *t;

	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->cap = 64;
	t->slots = calloc(t->cap, sizeof(*t->slots));
	if (t->slots == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void
peer_table_del(struct peer_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i] != NULL && t->slots[i] != TOMBSTONE)
			peer_free(t->slots[i]);
	free(t->slots);
	free(t);
}

static size_t
find_slot(const struct peer_table *t, const uint8_t key[WG_KEY_LEN], bool *found)
{
	size_t mask = t->cap - 1, i = key_hash(key) & mask, first_free = (size_t)-1;

	for (;;) {
		struct peer *p = t->slots[i];
		if (p == NULL) {
			*found = false;
			return first_free != (size_t)-1 ? first_free : i;
		}
		if (p == TOMBSTONE) {
			if (first_free == (size_t)-1)
				first_free = i;
		} else if (memcmp(p->key, key, WG_KEY_LEN) == 0) {
			*found = true;
			return i;
		}
		i = (i + 1) & mask;
	}
}

static int
grow(struct peer_table *t)
{
	struct peer **old = t->slots;
	size_t oldcap = t->cap;

	t->slots = calloc(oldcap * 2, sizeof(*t->slots));
	if (t->slots == NULL) {
		t->slots = old;
		return -1;
	}
	t->cap = oldcap * 2;
	for (size_t i = 0; i < oldcap; i++) {
		bool found;
		if (old[i] != NULL && old[i] != TOMBSTONE)
			t->slots[find_slot(t, old[i]->key, &found)] = old[i];
	}
	free(old);
	return 0;
}

struct peer *
peer_table_get(const struct peer_table *t, const uint8_t key[WG_KEY_LEN])
{
	bool found;
	size_t i = find_slot(t, key, &found);

	return found ? t->slots[i] : NULL;
}

struct peer *
peer_table_put(struct peer_table *t, struct peer *p)
{
	bool found;
	size_t i;
	struct peer *old;

	if ((t->n + 1) * 2 > t->cap && grow(t) < 0)
		return p;
	i = find_slot(t, p->key, &found);
	old = found ? t->slots[i] : NULL;
	t->slots[i] = p;
	if (!found)
		t->n++;
	return old;
}

struct peer *
peer_table_take(struct peer_table *t, const uint8_t key[WG_KEY_LEN])
{
	bool found;
	size_t i = find_slot(t, key, &found);
	struct peer *p;

	if (!found)
		return NULL;
	p = t->slots[i];
	t->slots[i] = TOMBSTONE;
	t->n--;
	return p;
}

size_t
peer_table_count(const struct peer_table *t)
{
	return t->n;
}

int
peer_table_foreach(const struct peer_table *t, const char *network,
    int (*fn)(const struct peer *p, void *arg), void *arg)
{
	for (size_t i = 0; i < t->cap; i++) {
		struct peer *p = t->slots[i];
		int r;
		if (p == NULL || p == TOMBSTONE ||
		    (network != NULL && strcmp(p->network, network) != 0))
			continue;
		r = fn(p, arg);
		if (r != 0)
			return r;
	}
	return 0;
}

struct peer *
peer_dup(const struct peer *p)
{
	struct peer *q;

	q = malloc(sizeof(*q));
	if (q == NULL)
		return NULL;
	*q = *p;
	if (p->cert_len > 0) {
		q->cert = malloc(p->cert_len);
		if (q->cert == NULL) {
			free(q);
			return NULL;
		}
		memcpy(q->cert, p->cert, p->cert_len);
	} else {
		q->cert = NULL;
	}
	return q;
}

void
peer_free(struct peer *p)
{
	if (p == NULL)
		return;
	free(p->cert);
	free(p);
}
