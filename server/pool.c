/* Address pools for joins (server/pool.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "server/pool.h"

#define SCAN_CAP (1u << 24)

static size_t
addr_len(const struct netaddr *a)
{
	return a->family == AF_INET ? 4 : 16;
}

static bool
host_bits_zero(const struct netaddr *a)
{
	size_t len = addr_len(a);

	for (size_t bit = a->prefix; bit < len * 8; bit++)
		if (a->addr[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

bool
pool_contains(const struct netaddr *r, const struct netaddr *a)
{
	if (r->family != a->family)
		return false;
	for (size_t bit = 0; bit < r->prefix; bit++)
		if ((r->addr[bit / 8] ^ a->addr[bit / 8]) & (0x80 >> (bit % 8)))
			return false;
	return true;
}

bool
pool_parse(const char *text, struct pool *out, char *err, size_t errlen)
{
	const char *p = text;
	size_t n;

	memset(out, 0, sizeof(*out));
	while (*p == ' ' || *p == '\t')
		p++;
	n = strcspn(p, " \t");
	if (n == 0 || p[n] == '\0') {
		snprintf(err, errlen, "pool \"%s\": want NETWORK CIDR[, CIDR] (e.g. mesh "
		    "10.9.0.0/24, fd00:9::/64)", text);
		return false;
	}
	if (n > CERT_NAME_MAX) {
		snprintf(err, errlen, "pool: network name longer than %d characters", CERT_NAME_MAX);
		return false;
	}
	memcpy(out->network, p, n);
	p += n;
	for (;;) {
		char cidr[NETADDR_STRLEN + 1], why[160];
		struct netaddr *r;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		n = strcspn(p, " \t,");
		if (n >= sizeof(cidr)) {
			snprintf(err, errlen, "pool %s: \"%.*s\" is not a CIDR", out->network,
			    (int)(n > 60 ? 60 : n), p);
			return false;
		}
		memcpy(cidr, p, n);
		cidr[n] = '\0';
		p += n;
		if (out->n == POOL_RANGES_MAX) {
			snprintf(err, errlen, "pool %s: more than %d ranges", out->network,
			    POOL_RANGES_MAX);
			return false;
		}
		r = &out->range[out->n];
		if (strchr(cidr, '/') == NULL || !netaddr_parse(cidr, true, r, why, sizeof(why))) {
			snprintf(err, errlen, "pool %s: \"%s\" is not a CIDR (ADDRESS/PREFIX)%s%s",
			    out->network, cidr, strchr(cidr, '/') != NULL ? ": " : "",
			    strchr(cidr, '/') != NULL ? why : "");
			return false;
		}
		if (!host_bits_zero(r)) {
			snprintf(err, errlen, "pool %s: \"%s\" has host bits set (write the network "
			    "address of the range)", out->network, cidr);
			return false;
		}
		if (r->prefix > (r->family == AF_INET ? 30 : 126)) {
			snprintf(err, errlen, "pool %s: \"%s\" is too small for a pool (at most /%d)",
			    out->network, cidr, r->family == AF_INET ? 30 : 126);
			return false;
		}
		for (size_t i = 0; i < out->n; i++)
			if (pool_contains(&out->range[i], r) || pool_contains(r, &out->range[i])) {
				snprintf(err, errlen, "pool %s: \"%s\" overlaps another range of the pool",
				    out->network, cidr);
				return false;
			}
		out->n++;
	}
	if (out->n == 0) {
		snprintf(err, errlen, "pool %s: no range given (want NETWORK CIDR[, CIDR])",
		    out->network);
		return false;
	}
	return true;
}

/* a += 1 over its len bytes; false when it wrapped. */
static bool
incr(uint8_t *a, size_t len)
{
	for (size_t i = len; i-- > 0;)
		if (++a[i] != 0)
			return true;
	return false;
}

bool
pool_next_free(const struct netaddr *r, bool (*taken)(const struct netaddr *a, void *arg),
    void *arg, size_t limit, struct netaddr *out)
{
	struct netaddr a = *r, last = *r;
	size_t len = addr_len(r), tried = 0;
	size_t cap = limit != 0 && limit < SCAN_CAP ? limit : SCAN_CAP;

	a.prefix = last.prefix = (uint8_t)(len * 8);
	for (size_t bit = r->prefix; bit < len * 8; bit++)
		last.addr[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
	while (incr(a.addr, len) && tried < cap) {
		if (memcmp(a.addr, last.addr, len) == 0 && r->family == AF_INET)
			break;
		if (!pool_contains(r, &a))
			break;
		tried++;
		if (!taken(&a, arg)) {
			*out = a;
			return true;
		}
		if (memcmp(a.addr, last.addr, len) == 0)
			break;
	}
	return false;
}
