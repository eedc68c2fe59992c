/* genconf_reach: the agent's own endpoint choice (agent/endpoint.c) for a static config's
 * peers. Built into wiresyncctl and wiresyncd (with agent/endpoint.o), not into libcommon,
 * whose other users do not link the agent's code. */
#include "config.h"

#include <string.h>

#include "agent/endpoint.h"
#include "common/genconf.h"

/* What the owner (a static peer) is, as its record tells it. */
static void
self_view(const Wiresync__V1__Peer *t, struct endpoint_self *me)
{
	memset(me, 0, sizeof(*me));
	me->lan_id = t->lan_id.len > 0 ? t->lan_id.data : NULL;
	me->lan_id_len = t->lan_id.len;
	for (size_t i = 0; i < t->n_lan_ips; i++) {
		if (strchr(t->lan_ips[i], ':') != NULL)
			me->has_v6 = true;
		else
			me->has_v4 = true;
	}
	/* with no LAN address known, every family is worth a try */
	if (!me->has_v4 && !me->has_v6)
		me->has_v4 = me->has_v6 = true;
	me->wan_ip = t->wan_ip;
}

void
genconf_reach(const Wiresync__V1__Peer *t, const Wiresync__V1__Peer *p,
    struct genconf_reach *out)
{
	struct endpoint_self me;
	struct endpoint_list eps;

	self_view(t, &me);
	endpoint_candidates(p, &me, &eps);
	memset(out, 0, sizeof(*out));
	out->n = eps.n;
	if (eps.n > 0) {
		out->first_lan = eps.lan[0];
		endpoint_format(&eps.addr[0], out->first, sizeof(out->first));
	}
	out->keepalive = endpoint_needs_keepalive(p, &me);
}
