/* Address pools for joins (issue 13): `pool = NETWORK CIDR[, CIDR]` in the server config,
 * one line per network, IPv4 and IPv6, and the next free address of each range for an
 * approval that names none. Pure: what is taken is the caller's to say. */
#ifndef WS_POOL_H
#define WS_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "common/cert.h"
#include "common/netaddr.h"

#define POOL_RANGES_MAX 4

struct pool {
	char network[CERT_NAME_MAX + 1];
	size_t n;
	struct netaddr range[POOL_RANGES_MAX];  /* network addresses with their prefix */
};

/* Parses "NETWORK CIDR[, CIDR]..." (a CIDR with host bits set is refused, as is a range
 * smaller than /30 or /126, two ranges of one family that overlap, more than
 * POOL_RANGES_MAX). Returns true, or false with err saying what and quoting it. */
bool pool_parse(const char *text, struct pool *out, char *err, size_t errlen);

/* Whether a (any prefix) lies inside range r. */
bool pool_contains(const struct netaddr *r, const struct netaddr *a);

/* The first address of range r, in order, that taken(a, arg) says is free, as a host
 * address (/32, /128); the range's own first address (the network) and, for IPv4, its
 * last (broadcast) are never given. Returns true with out, or false when the range is
 * full. At most limit candidates are tried (0: the whole range, capped at 2^24). */
bool pool_next_free(const struct netaddr *r, bool (*taken)(const struct netaddr *a, void *arg),
    void *arg, size_t limit, struct netaddr *out);

#endif
