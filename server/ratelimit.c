/* Open addressing without deletion: full buckets are dropped when the table is rebuilt,
 * which happens only when it would otherwise grow. Tokens are counted in thousandths, so
 * a rate of r per second adds r thousandths per millisecond: integer arithmetic only. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "server/ratelimit.h"

struct bucket {
	uint8_t id[RATELIMIT_KEY_LEN];
	uint64_t milli;     /* tokens x 1000 at last_ms */
	uint64_t last_ms;
	bool used, refused;
};

struct ratelimit {
	struct bucket *slots;
	size_t cap, n;      /* cap is a power of two; load kept under 1/2 */
	uint64_t rate, full; /* thousandths per ms; burst x 1000 */
};

static size_t
id_hash(const uint8_t id[RATELIMIT_KEY_LEN])
{
	uint64_t h;

	/* keys and digests are uniformly random */
	memcpy(&h, id, sizeof(h));
	return (size_t)h;
}

struct ratelimit *
ratelimit_new(uint32_t rate, uint32_t burst)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));

	if (rl == NULL)
		return NULL;
	rl->cap = 64;
	rl->slots = calloc(rl->cap, sizeof(*rl->slots));
	if (rl->slots == NULL) {
		free(rl);
		return NULL;
	}
	rl->rate = rate > 0 ? rate : 1;
	rl->full = (uint64_t)(burst > 0 ? burst : 1) * 1000;
	return rl;
}

void
ratelimit_del(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	free(rl->slots);
	free(rl);
}

size_t
ratelimit_count(const struct ratelimit *rl)
{
	return rl->n;
}

static size_t
find(const struct bucket *slots, size_t cap, const uint8_t id[RATELIMIT_KEY_LEN])
{
	size_t mask = cap - 1, i = id_hash(id) & mask;

	while (slots[i].used && memcmp(slots[i].id, id, RATELIMIT_KEY_LEN) != 0)
		i = (i + 1) & mask;
	return i;
}

/* The bucket's tokens at now, capped at full. */
static uint64_t
level(const struct ratelimit *rl, const struct bucket *b, uint64_t now_ms)
{
	uint64_t dt = now_ms > b->last_ms ? now_ms - b->last_ms : 0;

	if (dt >= rl->full / rl->rate + 1)
		return rl->full;
	return b->milli + dt * rl->rate < rl->full ? b->milli + dt * rl->rate : rl->full;
}

/* Keeps the buckets that are not full at now, in a table sized for them. */
static int
rebuild(struct ratelimit *rl, uint64_t now_ms)
{
	size_t keep = 0, cap = 64;
	struct bucket *slots;

	for (size_t i = 0; i < rl->cap; i++)
		if (rl->slots[i].used && level(rl, &rl->slots[i], now_ms) < rl->full)
			keep++;
	while (cap < 4 * (keep + 1))
		cap *= 2;
	slots = calloc(cap, sizeof(*slots));
	if (slots == NULL)
		return -1;
	for (size_t i = 0; i < rl->cap; i++)
		if (rl->slots[i].used && level(rl, &rl->slots[i], now_ms) < rl->full)
			slots[find(slots, cap, rl->slots[i].id)] = rl->slots[i];
	free(rl->slots);
	rl->slots = slots;
	rl->cap = cap;
	rl->n = keep;
	return 0;
}

bool
ratelimit_take(struct ratelimit *rl, const uint8_t id[RATELIMIT_KEY_LEN], uint64_t now_ms,
    uint32_t *retry_ms, bool *first)
{
	size_t i = find(rl->slots, rl->cap, id);
	struct bucket *b = &rl->slots[i];
	uint64_t have;

	*retry_ms = 0;
	*first = false;
	if (!b->used) {
		if ((rl->n + 1) * 2 > rl->cap) {
			if (rebuild(rl, now_ms) < 0)
				return true;
			i = find(rl->slots, rl->cap, id);
			b = &rl->slots[i];
		}
		memset(b, 0, sizeof(*b));
		memcpy(b->id, id, RATELIMIT_KEY_LEN);
		b->used = true;
		b->milli = rl->full;
		b->last_ms = now_ms;
		rl->n++;
	}
	have = level(rl, b, now_ms);
	b->last_ms = now_ms > b->last_ms ? now_ms : b->last_ms;
	if (have >= 1000) {
		b->milli = have - 1000;
		b->refused = false;
		return true;
	}
	b->milli = have;
	*retry_ms = (uint32_t)((1000 - have + rl->rate - 1) / rl->rate);
	*first = !b->refused;
	b->refused = true;
	return false;
}
