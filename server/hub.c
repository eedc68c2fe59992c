/* The hub's plan and its endpoint debounce. Keys are found through small open-addressing
 * tables (WireGuard keys are random, so their first bytes hash well): a plan over tens of
 * thousands of peers stays linear. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/hub.h"

/* --- a key -> pointer table ------------------------------------------------------------- */

struct slot {
	bool used;
	uint8_t key[WG_KEY_LEN];
	void *val;
};

struct keymap {
	struct slot *slots;
	size_t cap, n;                     /* cap: a power of two, or 0 */
};

static size_t
key_hash(const uint8_t key[WG_KEY_LEN], size_t cap)
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	h *= 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 17) & (cap - 1);
}

static struct slot *
keymap_find(const struct keymap *m, const uint8_t key[WG_KEY_LEN])
{
	if (m->cap == 0)
		return NULL;
	for (size_t i = key_hash(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
		struct slot *s = &m->slots[i];

		if (!s->used)
			return NULL;
		if (memcmp(s->key, key, WG_KEY_LEN) == 0)
			return s;
	}
}

static int keymap_put(struct keymap *m, const uint8_t key[WG_KEY_LEN], void *val);

static int
keymap_grow(struct keymap *m)
{
	struct keymap big = { NULL, m->cap == 0 ? 16 : m->cap * 2, 0 };

	big.slots = calloc(big.cap, sizeof(*big.slots));
	if (big.slots == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].used)
			(void)keymap_put(&big, m->slots[i].key, m->slots[i].val);
	free(m->slots);
	*m = big;
	return 0;
}

/* Inserts or replaces. 0 or -ENOMEM. */
static int
keymap_put(struct keymap *m, const uint8_t key[WG_KEY_LEN], void *val)
{
	struct slot *s = keymap_find(m, key);
	size_t i;

	if (s != NULL) {
		s->val = val;
		return 0;
	}
	/* at most half full: probes stay short */
	if ((m->n + 1) * 2 > m->cap && keymap_grow(m) < 0)
		return -ENOMEM;
	for (i = key_hash(key, m->cap); m->slots[i].used; i = (i + 1) & (m->cap - 1))
		;
	m->slots[i].used = true;
	memcpy(m->slots[i].key, key, WG_KEY_LEN);
	m->slots[i].val = val;
	m->n++;
	return 0;
}

/* Removes key (backward-shift deletion: no tombstones). Returns its value or NULL. */
static void *
keymap_take(struct keymap *m, const uint8_t key[WG_KEY_LEN])
{
	struct slot *s = keymap_find(m, key);
	size_t i, j, mask = m->cap - 1;
	void *val;

	if (s == NULL)
		return NULL;
	val = s->val;
	i = (size_t)(s - m->slots);
	m->slots[i].used = false;
	for (j = (i + 1) & mask; m->slots[j].used; j = (j + 1) & mask) {
		size_t home = key_hash(m->slots[j].key, m->cap);

		/* j moves into the hole at i unless its home lies cyclically in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			m->slots[i] = m->slots[j];
			m->slots[j].used = false;
			i = j;
		}
	}
	m->n--;
	return val;
}

static void
keymap_free(struct keymap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->n = 0;
}

/* --- the hub ------------------------------------------------------------------------------ */

/* A peer of ours, and what its endpoint is doing. */
struct entry {
	char cand[PEER_ENDPOINT_MAX];      /* endpoint seen that differs from the stored one */
	uint64_t cand_since_ms;
	uint64_t published_ms;
	bool published;
};

struct hub {
	struct keymap ours;                /* key -> struct entry */
};

struct hub *
hub_new(void)
{
	return calloc(1, sizeof(struct hub));
}

void
hub_del(struct hub *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->ours.cap; i++)
		if (h->ours.slots[i].used)
			free(h->ours.slots[i].val);
	keymap_free(&h->ours);
	free(h);
}

size_t
hub_count(const struct hub *h)
{
	return h->ours.n;
}

bool
hub_is_ours(const struct hub *h, const uint8_t key[WG_KEY_LEN])
{
	return keymap_find(&h->ours, key) != NULL;
}

static int
make_ours(struct hub *h, const uint8_t key[WG_KEY_LEN])
{
	struct entry *e;

	if (keymap_find(&h->ours, key) != NULL)
		return 0;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return -ENOMEM;
	if (keymap_put(&h->ours, key, e) < 0) {
		free(e);
		return -ENOMEM;
	}
	return 0;
}

static bool
allowed_same(const struct wg_peer *have, const struct hub_want *w)
{
	if (have->n_allowed != w->n_allowed)
		return false;
	for (size_t i = 0; i < w->n_allowed; i++) {
		bool found = false;

		for (size_t j = 0; j < have->n_allowed && !found; j++)
			found = netaddr_equal(&w->allowed[i], &have->allowed[j]);
		if (!found)
			return false;
	}
	return true;
}

static struct wg_peer *
plan_peer(struct wg_device *plan, const uint8_t key[WG_KEY_LEN], uint32_t flags)
{
	struct wg_peer *p = &plan->peers[plan->n_peers++];

	memset(p, 0, sizeof(*p));
	memcpy(p->key, key, WG_KEY_LEN);
	p->flags = flags;
	return p;
}

/* One change of a plan, before it is written out: a wanted peer to set (w), or one of
 * ours to remove (w NULL). */
struct todo {
	const uint8_t *key;
	const struct hub_want *w;
};

int
hub_plan(struct hub *h, const struct hub_want *want, size_t n_want,
    const struct wg_device *cur, struct wg_device **out)
{
	struct keymap on_if = { 0 }, wanted = { 0 };
	size_t n_cur = cur != NULL ? cur->n_peers : 0, n_todo = 0, n_gone = 0;
	struct wg_device *plan = NULL;
	struct todo *todo;
	uint8_t (*gone)[WG_KEY_LEN] = NULL;
	int r = -ENOMEM;

	*out = NULL;
	/* at most one change per wanted peer and one per peer of ours; a struct wg_peer is
	 * over a kilobyte, so the plan itself is sized to the changes only */
	if ((todo = calloc(n_want + h->ours.n + 1, sizeof(*todo))) == NULL)
		goto out;
	for (size_t i = 0; i < n_cur; i++)
		if (keymap_put(&on_if, cur->peers[i].key, &cur->peers[i]) < 0)
			goto out;
	for (size_t i = 0; i < n_want; i++) {
		const struct hub_want *w = &want[i];
		struct slot *s;

		if (cur != NULL && cur->has_public_key &&
		    memcmp(w->key, cur->public_key, WG_KEY_LEN) == 0)
			continue;
		if (keymap_find(&wanted, w->key) != NULL)
			continue;
		if (keymap_put(&wanted, w->key, (void *)w) < 0 || make_ours(h, w->key) < 0)
			goto out;
		s = keymap_find(&on_if, w->key);
		if (s == NULL || !allowed_same(s->val, w))
			todo[n_todo++] = (struct todo){ w->key, w };
	}
	/* ours but no longer wanted: removed from the interface, or already gone from it
	 * (forgotten once the plan holds copies of the keys: taking one shifts the slots) */
	if ((gone = calloc(h->ours.n + 1, sizeof(*gone))) == NULL)
		goto out;
	for (size_t i = 0; i < h->ours.cap; i++) {
		struct slot *s = &h->ours.slots[i];

		if (!s->used || keymap_find(&wanted, s->key) != NULL)
			continue;
		if (keymap_find(&on_if, s->key) != NULL)
			todo[n_todo++] = (struct todo){ s->key, NULL };
		else
			memcpy(gone[n_gone++], s->key, WG_KEY_LEN);
	}
	if ((plan = calloc(1, sizeof(*plan))) == NULL ||
	    (plan->peers = calloc(n_todo + 1, sizeof(*plan->peers))) == NULL)
		goto out;
	for (size_t i = 0; i < n_todo; i++) {
		struct wg_peer *p = plan_peer(plan, todo[i].key, todo[i].w != NULL ?
		    WG_PEER_REPLACE_ALLOWED : WG_PEER_REMOVE);

		if (todo[i].w != NULL) {
			p->n_allowed = todo[i].w->n_allowed;
			memcpy(p->allowed, todo[i].w->allowed,
			    todo[i].w->n_allowed * sizeof(todo[i].w->allowed[0]));
		}
	}
	for (size_t i = 0; i < n_gone; i++)
		free(keymap_take(&h->ours, gone[i]));
	*out = plan;
	plan = NULL;
	r = 0;
out:
	keymap_free(&on_if);
	keymap_free(&wanted);
	free(todo);
	free(gone);
	wg_device_free(plan);
	return r;
}

void
hub_applied(struct hub *h, const struct wg_device *plan)
{
	for (size_t i = 0; i < plan->n_peers; i++)
		if (plan->peers[i].flags & WG_PEER_REMOVE)
			free(keymap_take(&h->ours, plan->peers[i].key));
}

size_t
hub_observe(struct hub *h, struct hub_sample *s, size_t n, uint64_t now_ms, int64_t now_s)
{
	size_t count = 0;

	for (size_t i = 0; i < n; i++) {
		struct slot *sl = keymap_find(&h->ours, s[i].key);
		struct entry *e;

		s[i].publish = false;
		if (sl == NULL)
			continue;
		e = sl->val;
		if (s[i].endpoint[0] == '\0' || strcmp(s[i].endpoint, s[i].stored) == 0 ||
		    s[i].last_handshake_s == 0 || now_s - s[i].last_handshake_s > HUB_LIVE_S) {
			/* a change must be seen anew, twice, to count */
			e->cand[0] = '\0';
			continue;
		}
		if (strcmp(e->cand, s[i].endpoint) != 0) {
			snprintf(e->cand, sizeof(e->cand), "%s", s[i].endpoint);
			e->cand_since_ms = now_ms;
			continue;
		}
		if (now_ms - e->cand_since_ms < HUB_SETTLE_MS ||
		    (e->published && now_ms - e->published_ms < HUB_PUBLISH_GAP_MS))
			continue;
		s[i].publish = true;
		e->published = true;
		e->published_ms = now_ms;
		e->cand[0] = '\0';
		count++;
	}
	return count;
}

bool
hub_endpoint_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	buf[0] = '\0';
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			inet_ntop(AF_INET, in6->sin6_addr.s6_addr + 12, host, sizeof(host));
			snprintf(buf, len, "%s:%u", host, ntohs(in6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
			snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
		}
		return true;
	}
	return false;
}
