/* Exponential backoff with full jitter over an xorshift64* generator. No I/O. */
#include "config.h"

#include <time.h>
#include <unistd.h>

#include "rpc/backoff.h"

/* Any non-zero constant; used when seeding would leave the state at 0. */
#define BACKOFF_RNG_FALLBACK UINT64_C(0x9e3779b97f4a7c15)

/* splitmix64 finaliser: spreads a weak seed (a clock, a small integer) over all bits. */
static uint64_t
mix64(uint64_t z)
{
	z += BACKOFF_RNG_FALLBACK;
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t
clock_seed(void)
{
	struct timespec rt = { 0 }, mono = { 0 };

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	return ((uint64_t)rt.tv_sec << 32) ^ (uint64_t)rt.tv_nsec ^
	    ((uint64_t)mono.tv_nsec << 20) ^ ((uint64_t)getpid() << 44);
}

/* xorshift64* (Vigna): period 2^64 - 1 over non-zero states. */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * UINT64_C(0x2545f4914f6cdd1d);
}

void
backoff_init(struct backoff *b, uint32_t base_ms, uint32_t cap_ms, uint64_t seed)
{
	/* Out-of-contract arguments are made usable rather than trusted. */
	if (base_ms == 0)
		base_ms = 1;
	if (cap_ms < base_ms)
		cap_ms = base_ms;
	b->base_ms = base_ms;
	b->cap_ms = cap_ms;
	b->attempt = 0;
	b->rng = mix64(seed != 0 ? seed : clock_seed());
	if (b->rng == 0)
		b->rng = BACKOFF_RNG_FALLBACK;
}

uint32_t
backoff_ceiling(const struct backoff *b)
{
	uint64_t c;

	/* base < 2^32, so base << 31 < 2^63: no shift overflows; past that it is the cap. */
	if (b->attempt >= 32)
		return b->cap_ms;
	c = (uint64_t)b->base_ms << b->attempt;
	return c >= b->cap_ms ? b->cap_ms : (uint32_t)c;
}

uint32_t
backoff_next(struct backoff *b)
{
	uint64_t ceiling = backoff_ceiling(b), r;

	if (b->rng == 0)
		b->rng = BACKOFF_RNG_FALLBACK;
	/* Top 32 random bits scaled onto [0, ceiling]: (2^32 - 1) * (ceiling + 1) < 2^64. */
	r = rng_next(&b->rng) >> 32;
	if (b->attempt < UINT32_MAX)
		b->attempt++;
	return (uint32_t)((r * (ceiling + 1)) >> 32);
}

void
backoff_reset(struct backoff *b)
{
	b->attempt = 0;
}
