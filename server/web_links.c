/* The pairs the console draws. Until agents report link health, the edges are the pairs
 * the pairing policy makes (every pair of a network without one), state unknown. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

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
	return "pairs from the pairing policy; no link reports yet";
}

bool
web_links_collect(struct web *w, const struct peer **hosts, size_t n, struct web_link **out,
    size_t *nout)
{
	const struct policyset *ps = service_policies(w->svc);
	struct web_link *v = NULL;
	size_t k = 0, cap = 0;

	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			if (strcmp(hosts[i]->network, hosts[j]->network) != 0 ||
			    !pairing_peers(ps, hosts[i], hosts[j], NULL))
				continue;
			if (k == cap) {
				size_t c = cap > 0 ? cap * 2 : 64;
				struct web_link *q = realloc(v, c * sizeof(*q));
				if (q == NULL) {
					free(v);
					return false;
				}
				v = q;
				cap = c;
			}
			memset(&v[k], 0, sizeof(v[k]));
			v[k].a = i;
			v[k].b = j;
			v[k].state = WEB_LINK_UNKNOWN;
			strcpy(v[k].path, "?");
			k++;
		}
	*out = v;
	*nout = k;
	return true;
}
