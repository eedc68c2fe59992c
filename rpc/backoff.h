/* Reconnect delays: exponential backoff with full jitter. No I/O. */
#ifndef WS_BACKOFF_H
#define WS_BACKOFF_H

#include <stdint.h>

struct backoff {
	uint32_t base_ms;     /* first ceiling */
	uint32_t cap_ms;      /* largest ceiling */
	uint32_t attempt;     /* failures since the last reset */
	uint64_t rng;         /* xorshift state; never 0 */
};

/* Sets base and cap (base <= cap, both > 0) and seeds the generator (0: from the clock). */
void backoff_init(struct backoff *b, uint32_t base_ms, uint32_t cap_ms, uint64_t seed);
/* The delay before the next attempt: uniform in [0, min(cap, base * 2^attempt)]; counts
 * the attempt. */
uint32_t backoff_next(struct backoff *b);
/* The ceiling backoff_next would draw under now, without drawing. */
uint32_t backoff_ceiling(const struct backoff *b);
/* After a connection that worked: start again from base. */
void backoff_reset(struct backoff *b);

#endif
