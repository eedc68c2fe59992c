/* Open addressing with backward-shift deletion: no tombstones, so the table never fills
 * with dead entries however often counts go up and down. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "server/idcount.h"

struct idcount_entry {
	uint8_t id[IDCOUNT_KEY_LEN];
	uint32_t count;     /* 0: empty slot */
};

struct idcount {
	struct idcount_entry *slots;
	size_t cap, n;      /* cap is a power of two; load kept under 1/2 */
};

static size_t
id_hash(const uint8_t id[IDCOUNT_KEY_LEN])
{
	uint64_t h;

	/* keys and digests are uniformly random */
	memcpy(&h, id, sizeof(h));
	return (size_t)h;
}

struct idcount *
idcount_new(void)
{
	struct idcount *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->cap = 64;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	if (m->slots == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

void
idcount_del(struct idcount *m)
{
	if (m == NULL)
		return;
	free(m->slots);
	free(m);
}

static size_t
find(const struct idcount *m, const uint8_t id[IDCOUNT_KEY_LEN])
{
	size_t mask = m->cap - 1, i = id_hash(id) & mask;

	while (m->slots[i].count != 0 && memcmp(m->slots[i].id, id, IDCOUNT_KEY_LEN) != 0)
		i = (i + 1) & mask;
	return i;
}

static int
grow(struct idcount *m)
{
	struct idcount_entry *old = m->slots;
	size_t oldcap = m->cap;

	m->slots = calloc(oldcap * 2, sizeof(*m->slots));
	if (m->slots == NULL) {
		m->slots = old;
		return -1;
	}
	m->cap = oldcap * 2;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].count != 0)
			m->slots[find(m, old[i].id)] = old[i];
	free(old);
	return 0;
}

uint32_t
idcount_get(const struct idcount *m, const uint8_t id[IDCOUNT_KEY_LEN])
{
	return m->slots[find(m, id)].count;
}

static void
remove_at(struct idcount *m, size_t i)
{
	size_t mask = m->cap - 1, j = i;

	m->slots[i].count = 0;
	m->n--;
	/* Shift later members of the probe run back so lookups never stop early. */
	for (;;) {
		size_t home;
		j = (j + 1) & mask;
		if (m->slots[j].count == 0)
			return;
		home = id_hash(m->slots[j].id) & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->slots[i] = m->slots[j];
			m->slots[j].count = 0;
			i = j;
		}
	}
}

int64_t
idcount_add(struct idcount *m, const uint8_t id[IDCOUNT_KEY_LEN], int delta)
{
	size_t i = find(m, id);
	int64_t n = (int64_t)m->slots[i].count + delta;

	if (n < 0)
		n = 0;
	if (m->slots[i].count == 0) {
		if (n == 0)
			return 0;
		if ((m->n + 1) * 2 > m->cap) {
			if (grow(m) < 0)
				return -1;
			i = find(m, id);
		}
		memcpy(m->slots[i].id, id, IDCOUNT_KEY_LEN);
		m->n++;
	}
	if (n == 0) {
		remove_at(m, i);
		return 0;
	}
	m->slots[i].count = (uint32_t)n;
	return n;
}
