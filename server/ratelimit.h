/* Token buckets keyed by a 32-byte identity (a WireGuard key or a certificate digest): the
 * Update rate per identity. A bucket holds at most burst tokens and gains rate per second;
 * buckets that have refilled are forgotten, so the map holds only recent callers. */
#ifndef WS_RATELIMIT_H
#define WS_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_KEY_LEN 32

struct ratelimit;

/* rate tokens per second (at least 1), burst tokens at most (at least 1). NULL on ENOMEM. */
struct ratelimit *ratelimit_new(uint32_t rate, uint32_t burst);
/* Frees the map; accepts NULL. */
void ratelimit_del(struct ratelimit *rl);

/* Takes a token from id's bucket at now_ms (a monotonic clock). Returns true when there was
 * one. Otherwise *retry_ms says when the next token comes, and *first is true for the first
 * refusal since id's last success (so a caller logs once per episode, not per request).
 * Returns true as well when memory runs out: a limiter must not refuse on its own failure. */
bool ratelimit_take(struct ratelimit *rl, const uint8_t id[RATELIMIT_KEY_LEN], uint64_t now_ms,
    uint32_t *retry_ms, bool *first);

/* Buckets held (for tests). */
size_t ratelimit_count(const struct ratelimit *rl);

#endif
