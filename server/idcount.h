/* Counters keyed by a 32-byte identity (a WireGuard key or a certificate digest): open
 * Watch streams per identity. Entries that drop to zero are removed. */
#ifndef WS_IDCOUNT_H
#define WS_IDCOUNT_H

#include <stdint.h>

#define IDCOUNT_KEY_LEN 32

struct idcount;

/* Returns an empty map or NULL on ENOMEM. */
struct idcount *idcount_new(void);
/* Frees the map; accepts NULL. */
void idcount_del(struct idcount *m);

/* The count for id (0 when absent). */
uint32_t idcount_get(const struct idcount *m, const uint8_t id[IDCOUNT_KEY_LEN]);
/* Adds delta (a count never goes below 0) and returns the new count, or -1 on ENOMEM. */
int64_t idcount_add(struct idcount *m, const uint8_t id[IDCOUNT_KEY_LEN], int delta);

#endif
