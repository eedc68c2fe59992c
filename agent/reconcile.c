/* Reconciliation: apply the difference only, and only to peers we put there. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/reconcile.h"

bool
owned_has(const struct owned_keys *o, const uint8_t key[WG_KEY_LEN])
{
	for (size_t i = 0; i < o->n; i++)
		if (memcmp(o->keys[i], key, WG_KEY_LEN) == 0)
			return true;
	return false;
}

int
owned_add(struct owned_keys *o, const uint8_t key[WG_KEY_LEN])
{
	if (owned_has(o, key))
		return 0;
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 16;
		void *k = realloc(o->keys, cap * WG_KEY_LEN);
		if (k == NULL)
			return -ENOMEM;
		o->keys = k;
		o->cap = cap;
	}
	memcpy(o->keys[o->n++], key, WG_KEY_LEN);
	return 0;
}

void
owned_remove(struct owned_keys *o, const uint8_t key[WG_KEY_LEN])
{
	for (size_t i = 0; i < o->n; i++) {
		if (memcmp(o->keys[i], key, WG_KEY_LEN) == 0) {
			memmove(o->keys[i], o->keys[o->n - 1], WG_KEY_LEN);
			o->n--;
			return;
		}
	}
}

void
owned_free(struct owned_keys *o)
{
	free(o->keys);
	memset(o, 0, sizeof(*o));
}

static const struct wg_peer *
find_actual(const struct wg_device *d, const uint8_t key[WG_KEY_LEN])
{
	for (size_t i = 0; i < d->n_peers; i++)
		if (memcmp(d->peers[i].key, key, WG_KEY_LEN) == 0)
			return &d->peers[i];
	return NULL;
}

static bool
endpoint_equal(const struct wg_peer *a, const struct desired_peer *d)
{
	bool has = a->flags & WG_PEER_HAS_ENDPOINT;

	/* WireGuard cannot clear an endpoint: wanting none is satisfied by any */
	if (!d->has_endpoint)
		return true;
	if (!has)
		return false;
	if (a->endpoint.sa.sa_family != d->endpoint.ss_family)
		return false;
	if (a->endpoint.sa.sa_family == AF_INET)
		return a->endpoint.in4.sin_port == ((const struct sockaddr_in *)&d->endpoint)->sin_port &&
		    memcmp(&a->endpoint.in4.sin_addr, &((const struct sockaddr_in *)&d->endpoint)->sin_addr, 4) == 0;
	return a->endpoint.in6.sin6_port == ((const struct sockaddr_in6 *)&d->endpoint)->sin6_port &&
	    memcmp(&a->endpoint.in6.sin6_addr, &((const struct sockaddr_in6 *)&d->endpoint)->sin6_addr, 16) == 0;
}

static bool
allowed_equal(const struct wg_peer *a, const struct desired_peer *d)
{
	if (a->n_allowed != d->n_allowed)
		return false;
	for (size_t i = 0; i < d->n_allowed; i++) {
		bool found = false;
		for (size_t j = 0; j < a->n_allowed && !found; j++)
			found = netaddr_equal(&d->allowed[i], &a->allowed[j]);
		if (!found)
			return false;
	}
	return true;
}

static void
fill_set(struct wg_peer *w, const struct desired_peer *d)
{
	memset(w, 0, sizeof(*w));
	memcpy(w->key, d->key, WG_KEY_LEN);
	w->flags = WG_PEER_REPLACE_ALLOWED | WG_PEER_HAS_KEEPALIVE;
	if (d->has_endpoint) {
		w->flags |= WG_PEER_HAS_ENDPOINT;
		memcpy(&w->endpoint, &d->endpoint, d->endpoint.ss_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	}
	w->keepalive_s = d->keepalive_s;
	w->n_allowed = d->n_allowed;
	memcpy(w->allowed, d->allowed, sizeof(w->allowed));
}

int
reconcile_plan(const struct wg_device *actual, const struct desired_peer *desired,
    size_t n_desired, struct owned_keys *owned, struct wg_device *plan,
    struct reconcile_stats *stats)
{
	size_t max = 3 * n_desired + owned->n, n = 0;
	struct wg_peer *peers;

	memset(stats, 0, sizeof(*stats));
	memset(plan, 0, sizeof(*plan));
	memcpy(plan->ifname, actual->ifname, sizeof(plan->ifname));
	peers = calloc(max > 0 ? max : 1, sizeof(*peers));
	if (peers == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n_desired; i++) {
		const struct desired_peer *d = &desired[i];
		const struct wg_peer *a = find_actual(actual, d->key);

		if (a != NULL && !owned_has(owned, d->key)) {
			stats->foreign++;
			continue;
		}
		bool moved = a == NULL || !endpoint_equal(a, d);

		if (!d->force && !moved && allowed_equal(a, d) && a->keepalive_s == d->keepalive_s)
			continue;
		if (a == NULL && owned_add(owned, d->key) < 0) {
			free(peers);
			return -ENOMEM;
		}
		if (d->rekey && a != NULL && moved) {
			memset(&peers[n], 0, sizeof(peers[n]));
			memcpy(peers[n].key, d->key, WG_KEY_LEN);
			peers[n].flags = WG_PEER_REMOVE;
			n++;
		}
		fill_set(&peers[n++], d);
		if (d->kick && d->keepalive_s > 0 && (moved || d->force)) {
			/* the same peer again: only its keepalive, now going from 0 to N */
			peers[n - 1].keepalive_s = 0;
			memset(&peers[n], 0, sizeof(peers[n]));
			memcpy(peers[n].key, d->key, WG_KEY_LEN);
			peers[n].flags = WG_PEER_HAS_KEEPALIVE;
			peers[n].keepalive_s = d->keepalive_s;
			n++;
			stats->kicked++;
		}
		if (a == NULL)
			stats->added++;
		else
			stats->updated++;
	}
	/* owned peers that are no longer wanted go; walk backwards since removal reorders */
	for (size_t i = owned->n; i-- > 0;) {
		bool wanted = false;
		for (size_t j = 0; j < n_desired && !wanted; j++)
			wanted = memcmp(desired[j].key, owned->keys[i], WG_KEY_LEN) == 0;
		if (wanted)
			continue;
		if (find_actual(actual, owned->keys[i]) != NULL) {
			memset(&peers[n], 0, sizeof(peers[n]));
			memcpy(peers[n].key, owned->keys[i], WG_KEY_LEN);
			peers[n].flags = WG_PEER_REMOVE;
			n++;
			stats->removed++;
		}
		owned_remove(owned, owned->keys[i]);
	}
	plan->peers = peers;
	plan->n_peers = n;
	return 0;
}
