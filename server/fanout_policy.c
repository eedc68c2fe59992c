/* The pairing policy on the Watch streams: who sees whom, the signed policy relayed to each
 * network's agents, and what a new policy changes for each of them. Part of the service
 * (service_impl.h). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "rpc/log.h"
#include "server/pairing.h"
#include "server/peerpb.h"
#include "server/policyset.h"
#include "server/service_impl.h"

bool
watch_visible(const struct service *svc, const struct watcher *w, const struct peer *p)
{
	return pairing_visible(svc->policies, &w->ac->id, p);
}

int
watch_send_policy(struct service *svc, struct watcher *w, const uint8_t *held,
    size_t held_len)
{
	struct policy_info pi;
	struct rpc_buf *buf;
	int r;

	if (!policyset_get(svc->policies, w->ac->id.network, &pi))
		return 0;
	if (held_len == 32 && memcmp(held, pi.sha256, 32) == 0)
		return 0;
	if ((buf = peerpb_event_policy(pi.der, pi.der_len, svc->revision)) == NULL)
		return -ENOMEM;
	r = rpc_call_send(w->call, buf, 0);
	rpc_buf_unref(buf);
	return r < 0 ? -ENOMEM : 0;
}

bool
watch_policy_stale(const struct service *svc, const char *network, const uint8_t *held,
    size_t held_len)
{
	static const uint8_t none[32];
	struct policy_info pi;
	const uint8_t *want = policyset_get(svc->policies, network, &pi) ? pi.sha256 : none;

	if (held_len != 32)
		held = none;
	return memcmp(held, want, 32) != 0;
}

struct seen_ctx {
	const struct service *svc;
	const struct policyset *old;
	const struct watcher *w;
	bool differs;
};

static int
seen_one(const struct peer *p, void *arg)
{
	struct seen_ctx *c = arg;

	if (c->w->ac->id.has_key && memcmp(p->key, c->w->ac->id.key, WG_KEY_LEN) == 0)
		return 0;
	if (pairing_visible(c->old, &c->w->ac->id, p) != watch_visible(c->svc, c->w, p)) {
		c->differs = true;
		return 1;
	}
	return 0;
}

void
watch_broadcast_policy(struct service *svc, const struct policyset *old)
{
	for (struct net *n = svc->nets; n != NULL; n = n->next) {
		size_t snaps = 0;

		if (!policyset_changed(old, svc->policies, n->name))
			continue;
		for (struct watcher *w = n->watchers; w != NULL; w = w->next) {
			struct seen_ctx c = { svc, old, w, false };

			if (w->lagging) {
				w->policy_pending = true;
				continue;
			}
			peer_table_foreach(svc->peers, n->name, seen_one, &c);
			if (watch_send_policy(svc, w, NULL, 0) < 0 ||
			    (c.differs && watch_replay(svc, w, 0) < 0)) {
				log_warnx("%s: out of memory queueing the new policy", w->ac->id.name);
				continue;
			}
			snaps += c.differs;
		}
		log_info("network %s: new pairing policy relayed to %zu watchers; %zu of them see "
		    "other peers now", n->name, n->n_watchers, snaps);
	}
}

bool
service_apply_policies(struct service *svc, struct policyset *ps, char *why, size_t len)
{
	struct policyset *old = svc->policies;

	if (!policyset_newer(ps, old, why, len)) {
		policyset_del(ps);
		return false;
	}
	svc->policies = ps;
	watch_broadcast_policy(svc, old);
	policyset_del(old);
	return true;
}

const struct policyset *
service_policies(const struct service *svc)
{
	return svc->policies;
}
