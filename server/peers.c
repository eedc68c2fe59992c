/* Open-addressing hash table of peers keyed by their (random) WireGuard keys, and a second
 * one indexing them by (network, tunnel address). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/x509.h>

#include "server/pairing.h"
#include "server/peers.h"

/* One tunnel address of a peer: p->tunnel[i]. */
struct tslot {
	struct peer *p;  /* NULL: empty; TOMBSTONE: removed */
	uint8_t i;
};

struct peer_table {
	struct peer **slots;
	size_t cap, n;   /* cap is a power of two; load kept under 1/2 */
	struct tslot *tslots;
	size_t tcap, tused, tn; /* tused counts tombstones too; kept under tcap/2 */
};

static struct peer *const TOMBSTONE = (struct peer *)&TOMBSTONE;

/* FNV-1a over the network name and the address: a client cannot choose either (both come
 * from CA-signed certificates), so a plain hash is enough. */
static size_t
tunnel_hash(const char *network, const struct netaddr *a)
{
	uint64_t h = 14695981039346656037ull;
	size_t len = a->family == AF_INET6 ? 16 : 4;

	for (const unsigned char *s = (const unsigned char *)network; *s != '\0'; s++)
		h = (h ^ *s) * 1099511628211ull;
	h = (h ^ a->family) * 1099511628211ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ a->addr[i]) * 1099511628211ull;
	return (size_t)h;
}

static void
tindex_insert(struct peer_table *t, struct peer *p)
{
	size_t mask = t->tcap - 1;

	for (uint8_t i = 0; i < p->n_tunnel; i++) {
		size_t j = tunnel_hash(p->network, &p->tunnel[i]) & mask;
		while (t->tslots[j].p != NULL && t->tslots[j].p != TOMBSTONE)
			j = (j + 1) & mask;
		if (t->tslots[j].p == NULL)
			t->tused++;
		t->tslots[j] = (struct tslot){ p, i };
		t->tn++;
	}
}

static void
tindex_remove(struct peer_table *t, const struct peer *p)
{
	size_t mask = t->tcap - 1;

	for (uint8_t i = 0; i < p->n_tunnel; i++) {
		size_t j = tunnel_hash(p->network, &p->tunnel[i]) & mask;
		for (; t->tslots[j].p != NULL; j = (j + 1) & mask) {
			if (t->tslots[j].p == p && t->tslots[j].i == i) {
				t->tslots[j].p = TOMBSTONE;
				t->tn--;
				break;
			}
		}
	}
}

/* Room for extra more entries: rebuilds (dropping tombstones) when the load would pass
 * 1/2. -1 on ENOMEM, with the index unchanged. */
static int
tindex_reserve(struct peer_table *t, size_t extra)
{
	struct tslot *old = t->tslots;
	size_t oldcap = t->tcap, cap = t->tcap;

	if ((t->tused + extra) * 2 <= t->tcap)
		return 0;
	while ((t->tn + extra) * 4 > cap)   /* headroom, so tombstones do not force it again soon */
		cap *= 2;
	t->tslots = calloc(cap, sizeof(*t->tslots));
	if (t->tslots == NULL) {
		t->tslots = old;
		return -1;
	}
	t->tcap = cap;
	t->tused = t->tn = 0;
	for (size_t j = 0; j < oldcap; j++) {
		struct tslot *s = &old[j];
		if (s->p != NULL && s->p != TOMBSTONE && s->i == 0)
			tindex_insert(t, s->p);
	}
	free(old);
	return 0;
}

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
	t->tcap = 64;
	t->slots = calloc(t->cap, sizeof(*t->slots));
	t->tslots = calloc(t->tcap, sizeof(*t->tslots));
	if (t->slots == NULL || t->tslots == NULL) {
		free(t->slots);
		free(t->tslots);
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
	free(t->tslots);
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

	if (((t->n + 1) * 2 > t->cap && grow(t) < 0) || tindex_reserve(t, p->n_tunnel) < 0)
		return p;
	i = find_slot(t, p->key, &found);
	old = found ? t->slots[i] : NULL;
	pairing_peer_groups(p, old);
	if (old != NULL)
		tindex_remove(t, old);
	t->slots[i] = p;
	tindex_insert(t, p);
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
	tindex_remove(t, p);
	return p;
}

struct peer *
peer_table_find_tunnel(const struct peer_table *t, const char *network,
    const struct netaddr *a, const uint8_t skip_key[WG_KEY_LEN])
{
	size_t mask = t->tcap - 1, j = tunnel_hash(network, a) & mask;

	for (; t->tslots[j].p != NULL; j = (j + 1) & mask) {
		struct peer *q = t->tslots[j].p;
		if (q != TOMBSTONE && netaddr_equal(&q->tunnel[t->tslots[j].i], a) &&
		    strcmp(q->network, network) == 0 &&
		    (skip_key == NULL || memcmp(q->key, skip_key, WG_KEY_LEN) != 0))
			return q;
	}
	return NULL;
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

int
peer_chain_split(const struct peer *p, const uint8_t *der[], size_t len[], size_t max)
{
	const unsigned char *q = p->chain, *end = p->chain + p->chain_len;
	size_t n = 0;

	while (p->chain != NULL && q < end) {
		const unsigned char *start = q;
		X509 *x = d2i_X509(NULL, &q, (long)(end - q));
		if (x == NULL || n == max) {
			X509_free(x);
			return -1;
		}
		X509_free(x);
		der[n] = start;
		len[n++] = (size_t)(q - start);
	}
	return (int)n;
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
	q->chain = NULL;
	if (p->chain_len > 0) {
		q->chain = malloc(p->chain_len);
		if (q->chain == NULL) {
			free(q->cert);
			free(q);
			return NULL;
		}
		memcpy(q->chain, p->chain, p->chain_len);
	}
	return q;
}

void
peer_free(struct peer *p)
{
	if (p == NULL)
		return;
	free(p->cert);
	free(p->chain);
	free(p);
}
