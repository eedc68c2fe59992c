/* Join requests waiting for an operator (server/pending.h). A sorted array: a few hundred
 * entries at most, each looked at once per request. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "server/pending.h"

/* pending_make_room's count of one source's waiting requests */
struct source_count {
	uint32_t n;                 /* 0: a free slot */
	uint32_t newest;            /* index in v of its newest */
};

struct pending_table {
	struct pending_limits lim;
	struct pending_req *v;      /* by id, ascending */
	size_t n;
	uint64_t next_id;
	struct source_count *slots; /* a hash of sources, at least twice max_requests */
	size_t n_slots;             /* a power of two */
};

struct pending_table *
pending_new(const struct pending_limits *lim)
{
	struct pending_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->lim.max_requests = lim != NULL && lim->max_requests ? lim->max_requests : 256;
	t->lim.max_age_s = lim != NULL && lim->max_age_s ? lim->max_age_s : 86400;
	t->lim.max_per_source = lim != NULL && lim->max_per_source ? lim->max_per_source : 32;
	t->lim.max_new_per_min = lim != NULL && lim->max_new_per_min ? lim->max_new_per_min : 10;
	t->lim.user_free = lim != NULL ? lim->user_free : NULL;
	for (t->n_slots = 16; t->n_slots < 2 * t->lim.max_requests; t->n_slots *= 2)
		;
	t->v = calloc(t->lim.max_requests, sizeof(*t->v));
	t->slots = calloc(t->n_slots, sizeof(*t->slots));
	if (t->v == NULL || t->slots == NULL) {
		free(t->v);
		free(t->slots);
		free(t);
		return NULL;
	}
	t->next_id = 1;
	return t;
}

void
pending_del(struct pending_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++) {
		if (t->lim.user_free != NULL && t->v[i].user != NULL)
			t->lim.user_free(t->v[i].user);
		free(t->v[i].current);
	}
	free(t->v);
	free(t->slots);
	free(t);
}

/* One source: an IPv4 address, or the /64 of an IPv6 one (a host has a whole /64). */
static bool
same_source(const struct netaddr *a, const struct netaddr *b)
{
	if (a->family != b->family)
		return false;
	return memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 8) == 0;
}

static void
drop_at(struct pending_table *t, size_t i)
{
	if (t->lim.user_free != NULL && t->v[i].user != NULL)
		t->lim.user_free(t->v[i].user);
	free(t->v[i].current);
	memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(t->v[0]));
	t->n--;
}

size_t
pending_expire(struct pending_table *t, int64_t now)
{
	size_t dropped = 0;

	for (size_t i = t->n; i-- > 0;)
		if (now - t->v[i].created_s >= (int64_t)t->lim.max_age_s) {
			drop_at(t, i);
			dropped++;
		}
	return dropped;
}

/* A new request at the end (ids only grow); the caller checked that there is room. */
static struct pending_req *
append(struct pending_table *t, const char *name, const uint8_t key[WG_KEY_LEN],
    const uint8_t csr_sha256[32], const struct netaddr *source, int64_t now)
{
	struct pending_req *r = &t->v[t->n++];

	memset(r, 0, sizeof(*r));
	r->id = t->next_id++;
	snprintf(r->name, sizeof(r->name), "%s", name);
	memcpy(r->key, key, WG_KEY_LEN);
	memcpy(r->csr_sha256, csr_sha256, 32);
	pending_code(csr_sha256, r->code);
	r->source = *source;
	r->created_s = now;
	r->state = PENDING_WAITING;
	return r;
}

/* The request of this CSR, or NULL. */
static struct pending_req *
by_csr(const struct pending_table *t, const uint8_t csr_sha256[32])
{
	for (size_t i = 0; i < t->n; i++)
		if (memcmp(t->v[i].csr_sha256, csr_sha256, 32) == 0)
			return &t->v[i];
	return NULL;
}

const struct pending_req *
pending_by_csr(const struct pending_table *t, const uint8_t csr_sha256[32])
{
	return by_csr(t, csr_sha256);
}

enum pending_add_result
pending_add(struct pending_table *t, const char *name, const uint8_t key[WG_KEY_LEN],
    const uint8_t csr_sha256[32], const struct netaddr *source, int64_t now,
    const struct pending_req **out)
{
	struct pending_req *r;
	size_t from_source = 0, recent = 0;

	pending_expire(t, now);
	if ((r = by_csr(t, csr_sha256)) != NULL) {
		*out = r;
		return PENDING_RESUMED;
	}
	for (size_t i = 0; i < t->n; i++) {
		r = &t->v[i];
		if (r->state != PENDING_DENIED && (memcmp(r->key, key, WG_KEY_LEN) == 0 ||
		    strcmp(r->name, name) == 0))
			return PENDING_CONFLICT;
		if (!same_source(&r->source, source))
			continue;
		if (r->state == PENDING_WAITING)
			from_source++;
		if (now - r->created_s < 60)
			recent++;
	}
	if (from_source >= t->lim.max_per_source)
		return PENDING_SOURCE_BUSY;
	if (recent >= t->lim.max_new_per_min)
		return PENDING_RATE;
	if (t->n == t->lim.max_requests)
		return PENDING_FULL;
	*out = append(t, name, key, csr_sha256, source, now);
	return PENDING_ADDED;
}

enum pending_add_result
pending_add_renewal(struct pending_table *t, const char *name, const uint8_t key[WG_KEY_LEN],
    const uint8_t csr_sha256[32], const struct netaddr *source, int64_t now,
    uint8_t *current, size_t current_len, const struct pending_req **out)
{
	struct pending_req *r;

	pending_expire(t, now);
	if ((r = by_csr(t, csr_sha256)) != NULL) {
		*out = r;
		return PENDING_RESUMED;
	}
	for (size_t i = 0; i < t->n; i++) {
		r = &t->v[i];
		if (r->renewal ? memcmp(r->key, key, WG_KEY_LEN) == 0 :
		    r->state != PENDING_DENIED && (memcmp(r->key, key, WG_KEY_LEN) == 0 ||
		    strcmp(r->name, name) == 0))
			return PENDING_CONFLICT;
	}
	if (t->n == t->lim.max_requests)
		return PENDING_FULL;
	r = append(t, name, key, csr_sha256, source, now);
	r->renewal = true;
	r->current = current;
	r->current_len = current_len;
	*out = r;
	return PENDING_ADDED;
}

static size_t
source_hash(const struct netaddr *a)
{
	uint64_t h = 1469598103934665603ull;     /* FNV-1a over the source's bytes */

	for (int i = 0; i < (a->family == AF_INET ? 4 : 8); i++)
		h = (h ^ a->addr[i]) * 1099511628211ull;
	return (size_t)(h ^ h >> 32);
}

bool
pending_make_room(struct pending_table *t, const struct netaddr *source, uint64_t *dropped)
{
	struct source_count *best = NULL, *sc;
	size_t i, h, mine = 0;

	if (t->n < t->lim.max_requests)
		return false;
	for (i = 0; i < t->n; i++)
		if (t->v[i].state == PENDING_DENIED)
			goto drop;
	/* one pass: the waiting requests counted per source, in O(n) */
	memset(t->slots, 0, t->n_slots * sizeof(*t->slots));
	for (i = 0; i < t->n; i++) {
		const struct pending_req *r = &t->v[i];
		/* an enrolled host's renewal is no stranger's flood: never dropped for room */
		if (r->state != PENDING_WAITING || r->renewal)
			continue;
		if (same_source(&r->source, source)) {
			mine++;
			continue;
		}
		h = source_hash(&r->source) & (t->n_slots - 1);
		while (t->slots[h].n > 0 &&
		    !same_source(&t->v[t->slots[h].newest].source, &r->source))
			h = (h + 1) & (t->n_slots - 1);
		sc = &t->slots[h];
		sc->n++;
		sc->newest = (uint32_t)i;
		if (best == NULL || sc->n > best->n)
			best = sc;
	}
	if (best == NULL || best->n < mine + 2)
		return false;
	i = best->newest;
drop:
	*dropped = t->v[i].id;
	drop_at(t, i);
	return true;
}

int
pending_load(struct pending_table *t, const struct pending_req *r, int64_t now)
{
	size_t i;
	int ret = 0;

	if (now - r->created_s >= (int64_t)t->lim.max_age_s)
		ret = -ETIME;
	for (i = 0; ret == 0 && i < t->n; i++)
		if (t->v[i].id == r->id || memcmp(t->v[i].csr_sha256, r->csr_sha256, 32) == 0)
			ret = -EEXIST;
	if (ret == 0 && t->n == t->lim.max_requests)
		ret = -ENOSPC;
	if (ret != 0) {
		if (t->lim.user_free != NULL && r->user != NULL)
			t->lim.user_free(r->user);
		free(r->current);
		return ret;
	}
	for (i = t->n; i > 0 && t->v[i - 1].id > r->id; i--)
		;
	memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof(t->v[0]));
	t->v[i] = *r;
	pending_code(r->csr_sha256, t->v[i].code);
	t->n++;
	pending_next_id_raise(t, r->id + 1);
	return 0;
}

void
pending_next_id_raise(struct pending_table *t, uint64_t next)
{
	if (next > t->next_id)
		t->next_id = next;
}

uint64_t
pending_next_id(const struct pending_table *t)
{
	return t->next_id;
}

static struct pending_req *
find(const struct pending_table *t, uint64_t id)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->v[mid].id == id)
			return &t->v[mid];
		if (t->v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct pending_req *
pending_get(const struct pending_table *t, uint64_t id)
{
	return find(t, id);
}

bool
pending_set_state(struct pending_table *t, uint64_t id, enum pending_state st)
{
	struct pending_req *r = find(t, id);

	if (r == NULL)
		return false;
	r->state = st;
	return true;
}

bool
pending_set_user(struct pending_table *t, uint64_t id, void *user)
{
	struct pending_req *r = find(t, id);

	if (r == NULL)
		return false;
	if (t->lim.user_free != NULL && r->user != NULL && r->user != user)
		t->lim.user_free(r->user);
	r->user = user;
	return true;
}

bool
pending_remove(struct pending_table *t, uint64_t id)
{
	struct pending_req *r = find(t, id);

	if (r == NULL)
		return false;
	drop_at(t, (size_t)(r - t->v));
	return true;
}

void
pending_clear(struct pending_table *t)
{
	while (t->n > 0)
		drop_at(t, t->n - 1);
}

int
pending_foreach(const struct pending_table *t,
    int (*fn)(const struct pending_req *r, void *arg), void *arg)
{
	for (size_t i = 0; i < t->n; i++) {
		int r = fn(&t->v[i], arg);
		if (r != 0)
			return r;
	}
	return 0;
}

size_t
pending_count(const struct pending_table *t)
{
	return t->n;
}

void
pending_code(const uint8_t csr_sha256[32], char out[PENDING_CODE_LEN + 1])
{
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	uint64_t bits = 0;
	int o = 0;

	for (int i = 0; i < 5; i++)
		bits = bits << 8 | csr_sha256[i];
	for (int i = 0; i < 8; i++) {
		if (i == 4)
			out[o++] = '-';
		out[o++] = b32[(bits >> (35 - 5 * i)) & 31];
	}
	out[o] = '\0';
}
