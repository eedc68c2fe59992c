/* Renewal decisions (agent/renew.h). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "agent/renew.h"

int64_t
renew_due(int64_t not_before, int64_t not_after)
{
	if (not_after <= not_before)
		return not_after;
	return not_before + (not_after - not_before) * 2 / 3;
}

uint32_t
renew_poll_cap_ms(int64_t now, int64_t not_after)
{
	int64_t left_ms = (not_after - now) * 100;      /* a tenth of it, in ms */

	if (left_ms >= RENEW_POLL_CAP_MS)
		return RENEW_POLL_CAP_MS;
	return left_ms > RENEW_POLL_BASE_MS ? (uint32_t)left_ms : RENEW_POLL_BASE_MS;
}

/* Whether the n addresses of a are those of b (n each), in any order. */
static bool
same_addrs(const struct netaddr *a, const struct netaddr *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (size_t k = 0; k < n && !found; k++)
			found = netaddr_equal(&a[i], &b[k]);
		if (!found)
			return false;
	}
	return true;
}

bool
renew_same_identity(const struct cert_identity *cur, const struct cert_identity *got,
    char *err, size_t errlen)
{
	if (strcmp(cur->name, got->name) != 0 || strcmp(cur->network, got->network) != 0) {
		snprintf(err, errlen, "it names %s of %s, not %s of %s", got->name, got->network,
		    cur->name, cur->network);
		return false;
	}
	if (!got->has_key || memcmp(cur->key, got->key, WG_KEY_LEN) != 0) {
		snprintf(err, errlen, "it binds another WireGuard key");
		return false;
	}
	if (cur->n_tunnel != got->n_tunnel || !same_addrs(cur->tunnel, got->tunnel,
	    cur->n_tunnel)) {
		snprintf(err, errlen, "its tunnel addresses (%zu) are not the current ones (%zu)",
		    got->n_tunnel, cur->n_tunnel);
		return false;
	}
	if (cur->n_groups != got->n_groups) {
		snprintf(err, errlen, "it has %zu groups, the current one %zu", got->n_groups,
		    cur->n_groups);
		return false;
	}
	for (size_t i = 0; i < cur->n_groups; i++) {
		bool found = false;
		for (size_t k = 0; k < got->n_groups && !found; k++)
			found = strcmp(cur->groups[i], got->groups[k]) == 0;
		if (!found) {
			snprintf(err, errlen, "it lacks the group %s", cur->groups[i]);
			return false;
		}
	}
	return true;
}
