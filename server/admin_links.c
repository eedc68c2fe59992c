/* Admin.ListLinks (issue 16): the pairs of the admin's network with both ends' link
 * reports (server/links.h), for wiresyncctl links and why. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "proto/admin.pb-c.h"
#include "rpc/grpc.h"
#include "rpc/log.h"
#include "server/admin_impl.h"
#include "server/links.h"

static void
end_fill(Wiresync__V1__LinkEnd *e, Wiresync__V1__LinkHealth *h, const struct peer *p,
    const struct store_link *row)
{
	wiresync__v1__link_end__init(e);
	wiresync__v1__link_health__init(h);
	e->name = (char *)p->name;
	e->public_key.data = (uint8_t *)p->key;
	e->public_key.len = WG_KEY_LEN;
	if (row == NULL)
		return;
	e->reported = true;
	e->reported_ms = row->reported_ms;
	h->peer_key.data = (uint8_t *)row->peer;
	h->peer_key.len = WG_KEY_LEN;
	h->path = (char *)row->path;
	h->endpoint = (char *)row->endpoint;
	h->last_handshake_ms = row->last_handshake_ms;
	h->rx_bytes = row->rx_bytes;
	h->tx_bytes = row->tx_bytes;
	h->down_reason = (char *)row->down_reason;
	e->health = h;
}

void
adm_handle_list_links(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct admin *a = arg;
	const struct agent_conn *ac = adm_caller(call);
	const struct links *l = service_links(a->svc);
	Wiresync__V1__ListLinksRequest *m;
	Wiresync__V1__ListLinksReply r = WIRESYNC__V1__LIST_LINKS_REPLY__INIT;
	Wiresync__V1__LinkPair *pv = NULL, **pp = NULL;
	Wiresync__V1__LinkEnd *ev = NULL;
	Wiresync__V1__LinkHealth *hv = NULL;
	struct link_pair *v = NULL;
	int64_t now = links_wall_ms();
	size_t n = 0;

	if (ac == NULL)
		return;
	if ((m = wiresync__v1__list_links_request__unpack(NULL, len, req)) == NULL) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "ListLinksRequest does not decode");
		return;
	}
	if (l == NULL || links_pairs(l, ac->id.network, m->name, now, &v, &n) < 0)
		goto nomem;
	pv = calloc(n > 0 ? n : 1, sizeof(*pv));
	pp = calloc(n > 0 ? n : 1, sizeof(*pp));
	ev = calloc(n > 0 ? 2 * n : 1, sizeof(*ev));
	hv = calloc(n > 0 ? 2 * n : 1, sizeof(*hv));
	if (pv == NULL || pp == NULL || ev == NULL || hv == NULL)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		wiresync__v1__link_pair__init(&pv[i]);
		end_fill(&ev[2 * i], &hv[2 * i], v[i].a, v[i].ra);
		end_fill(&ev[2 * i + 1], &hv[2 * i + 1], v[i].b, v[i].rb);
		pv[i].a = &ev[2 * i];
		pv[i].b = &ev[2 * i + 1];
		pv[i].up = v[i].up;
		pv[i].path = (char *)v[i].path;
		pp[i] = &pv[i];
	}
	r.n_pairs = n;
	r.pairs = pp;
	r.now_ms = now;
	r.up_window_s = links_up_window_s(l);
	svc_reply_message(call, &r.base);
	goto out;
nomem:
	rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
out:
	free(hv);
	free(ev);
	free(pp);
	free(pv);
	free(v);
	wiresync__v1__list_links_request__free_unpacked(m, NULL);
}
