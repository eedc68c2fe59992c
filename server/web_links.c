/* The pairs the console draws: every pair the pairing policy makes (every pair of a network
 * without one), in the state the agents' link reports give it (server/links.h: up when both
 * ends saw a handshake within link_up_window_s, down when either reported otherwise), unknown
 * while neither end reported; pairs reported on that the policy does not make are drawn too. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/links.h"
#include "server/pairing.h"
#include "server/service.h"
#include "server/web_impl.h"
#include "server/web_links.h"

const char *
web_link_state_name(enum web_link_state s)
{
	return s == WEB_LINK_UP ? "up" : s == WEB_LINK_DOWN ? "down" : "unknown";
}

const char *
web_links_source(void)
{
	return "pairs from the pairing policy, states from the agents' link reports";
}

static bool
grow(struct web_link **v, size_t k, size_t *cap)
{
	size_t c;
	struct web_link *q;

	if (k < *cap)
		return true;
	c = *cap > 0 ? *cap * 2 : 64;
	if ((q = realloc(*v, c * sizeof(*q))) == NULL)
		return false;
	*v = q;
	*cap = c;
	return true;
}

static size_t
host_index(const struct peer **hosts, size_t n, const struct peer *p)
{
	for (size_t i = 0; i < n; i++)
		if (hosts[i] == p)
			return i;
	return n;
}

static int
link_cmp(const void *x, const void *y)
{
	const struct web_link *a = x, *b = y;

	if (a->a != b->a)
		return a->a < b->a ? -1 : 1;
	return a->b < b->b ? -1 : a->b > b->b;
}

/* The reported state of pair p over the drawn pair l. */
static void
link_state(struct web_link *l, const struct link_pair *p)
{
	l->state = p->up ? WEB_LINK_UP : WEB_LINK_DOWN;
	snprintf(l->path, sizeof(l->path), "%s", p->up ? p->path : "-");
}

bool
web_links_collect(struct web *w, const struct peer **hosts, size_t n, struct web_link **out,
    size_t *nout)
{
	const struct policyset *ps = service_policies(w->svc);
	const struct links *ls = service_links(w->svc);
	struct web_link *v = NULL, key, *hit;
	struct link_pair *lp = NULL;
	size_t k = 0, cap = 0, n_lp = 0, k_policy;

	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			if (strcmp(hosts[i]->network, hosts[j]->network) != 0 ||
			    !pairing_peers(ps, hosts[i], hosts[j], NULL))
				continue;
			if (!grow(&v, k, &cap))
				goto fail;
			memset(&v[k], 0, sizeof(v[k]));
			v[k].a = i;
			v[k].b = j;
			v[k].state = WEB_LINK_UNKNOWN;
			strcpy(v[k].path, "?");
			k++;
		}
	k_policy = k;                /* in (a, b) order: searched below */
	if (ls != NULL && links_pairs(ls, NULL, NULL, links_wall_ms(), &lp, &n_lp) < 0)
		goto fail;
	for (size_t i = 0; i < n_lp; i++) {
		size_t ia = host_index(hosts, n, lp[i].a), ib = host_index(hosts, n, lp[i].b);

		if (ia == n || ib == n)
			continue;            /* another network than the page's */
		memset(&key, 0, sizeof(key));
		key.a = ia < ib ? ia : ib;
		key.b = ia < ib ? ib : ia;
		hit = bsearch(&key, v, k_policy, sizeof(*v), link_cmp);
		if (hit == NULL) {
			if (!grow(&v, k, &cap))
				goto fail;
			hit = &v[k++];
			*hit = key;
		}
		link_state(hit, &lp[i]);
	}
	free(lp);
	*out = v;
	*nout = k;
	return true;
fail:
	free(lp);
	free(v);
	return false;
}
