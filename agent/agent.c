/* The agent's life: network changes become Updates, Watch events become verified desired
 * peers, and the interface is reconciled with them. Nothing polls: timers run only while a
 * debounce, a retry or a path step (agent_path.c: a trial, a probe, a session to check) is
 * pending. This file holds the agent's life, the state kept in state_dir, reconciliation,
 * the peers the Watch stream describes, and --show; agent_path.c each peer's path, the
 * relay and the hub; agent_crl.c the CRL and expiry warnings; agent_update.c the Updates,
 * the Watch connection and network changes (agent/agent_impl.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>

#include "agent/agent.h"
#include "agent/agent_impl.h"
#include "agent/endpoint.h"
#include "agent/netmon.h"
#include "agent/path.h"
#include "agent/reconcile.h"
#include "agent/state.h"
#include "agent/refused.h"
#include "agent/show.h"
#include "agent/verify.h"
#include "wg/wg.h"
#include "common/cert.h"
#include "common/watch.h"
#include "proto/wiresync.pb-c.h"
#include "rpc/backoff.h"
#include "rpc/h2client.h"
#include "rpc/log.h"

/* --- state kept in state_dir ------------------------------------------------------------ */

static void
owned_save(struct agent *a)
{
	state_owned_save(a->owned_path, &a->owned);
}

/* Before a set: the peers it adds are saved as ours and the ones it removes still are, so
 * an agent killed in the middle (or before it saves again) finds every peer it may have
 * touched -- even one the daemon got half of -- owned, and fixes or removes it. */
static void
owned_save_ahead(struct agent *a, const struct wg_device *plan)
{
	struct owned_keys ahead = { 0 };

	for (size_t i = 0; i < a->owned.n; i++)
		if (owned_add(&ahead, a->owned.keys[i]) < 0)
			goto out;
	for (size_t i = 0; i < plan->n_peers; i++)
		if ((plan->peers[i].flags & WG_PEER_REMOVE) &&
		    owned_add(&ahead, plan->peers[i].key) < 0)
			goto out;
	state_owned_save(a->owned_path, &ahead);
out:
	owned_free(&ahead);
}

static void
watch_state_save(struct agent *a, uint64_t revision)
{
	size_t n = a->n_known + a->refused.n;
	Wiresync__V1__Peer **recs = calloc(n > 0 ? n : 1, sizeof(*recs));

	if (recs == NULL)
		return;
	for (size_t i = 0; i < a->n_known; i++)
		recs[i] = a->known[i].rec;
	/* refused ones too: after a restart a new CRL may still let them in */
	for (size_t i = 0; i < a->refused.n; i++)
		recs[a->n_known + i] = a->refused.recs[i];
	if (state_watch_save(a->watch_path, revision, recs, n) == 0)
		a->saved_revision = revision;
	free(recs);
}


static void
load_one(void *arg, const Wiresync__V1__Peer *p)
{
	agent_apply_record(arg, p);
}

/* The saved peer set, each record verified again; the revision to resume from, or 0. */
static uint64_t
watch_state_load(struct agent *a)
{
	int64_t r = state_watch_load(a->watch_path, load_one, a);

	if (r < 0) {
		log_warnx("%s: damaged; starting from a snapshot", a->watch_path);
		while (a->n_known > 0)
			known_drop(a, &a->known[0]);
		refused_clear(&a->refused);
		return 0;
	}
	if (r > 0)
		log_info("%s: %zu peers saved at revision %lld", a->watch_path, a->n_known,
		    (long long)r);
	a->saved_revision = (uint64_t)r;
	return (uint64_t)r;
}

/* --- reconciliation -------------------------------------------------------------------- */

static void
self_view(const struct agent *a, struct endpoint_self *me)
{
	memset(me, 0, sizeof(*me));
	if (a->net_valid && a->net.has_default && a->net.has_gateway_mac) {
		me->lan_id = a->net.gateway_mac;
		me->lan_id_len = 6;
	}
	for (size_t i = 0; i < a->net.n_lan; i++) {
		if (a->net.lan[i].family == AF_INET6)
			me->has_v6 = true;
		else
			me->has_v4 = true;
	}
	me->wan_ip = a->wan_ip;
	/* with no LAN address at all, still try everything */
	if (!me->has_v4 && !me->has_v6)
		me->has_v4 = me->has_v6 = true;
}

static void
known_candidates(struct agent *a, struct known *k)
{
	struct endpoint_self me;
	struct endpoint_list fresh;

	self_view(a, &me);
	endpoint_candidates(k->rec, &me, &fresh);
	if (fresh.n != k->cands.n || memcmp(fresh.addr, k->cands.addr,
	    fresh.n * sizeof(fresh.addr[0])) != 0 || memcmp(fresh.kind, k->cands.kind,
	    fresh.n * sizeof(fresh.kind[0])) != 0) {
		k->cands = fresh;
		/* peerpath starts over on a new list */
		k->list_gen++;
	}
}

static void
reconcile(void *arg)
{
	struct agent *a = arg;
	struct wg_device *actual = NULL, plan;
	struct desired_peer *want;
	struct reconcile_stats st;
	int64_t now = now_s(), next = 0;
	size_t n_want = a->n_known;
	int r;

	r = wg_device_get(a->backend, a->conf->interface, &actual);
	if (r < 0) {
		log_warnx("%s: cannot read the interface: %s", a->conf->interface, strerror(-r));
		return;
	}
	want = calloc(a->n_known + 1, sizeof(*want));
	if (want == NULL) {
		wg_device_free(actual);
		return;
	}
	for (size_t i = 0; i < a->n_known; i++) {
		struct known *k = &a->known[i];
		struct desired_peer *d = &want[i];
		int64_t t;

		known_candidates(a, k);
		memcpy(d->key, k->id.key, WG_KEY_LEN);
		d->n_allowed = k->id.n_tunnel;
		memcpy(d->allowed, k->id.tunnel, k->id.n_tunnel * sizeof(d->allowed[0]));
		t = agent_path_peer(a, k, wg_device_peer(actual, k->id.key), now, d);
		if (t > 0 && (next == 0 || t < next))
			next = t;
		d->force = a->rewrite;
		d->kick |= a->rewrite;
	}
	if (agent_hub_peer(a, &want[n_want])) {
		want[n_want].force = a->rewrite;
		n_want++;
	}
	r = reconcile_plan(actual, want, n_want, &a->owned, &plan, &st);
	free(want);
	if (r == 0 && plan.n_peers > 0) {
		owned_save_ahead(a, &plan);
		r = wg_device_set(a->backend, &plan);
		if (r < 0)
			log_warnx("%s: cannot configure peers: %s", a->conf->interface, strerror(-r));
		else
			log_info("%s: %zu peers added, %zu updated (%zu kicked), %zu removed",
			    a->conf->interface, st.added, st.updated, st.kicked, st.removed);
		owned_save(a);
	}
	if (r == 0)
		a->rewrite = false;
	if (st.foreign > 0)
		log_debug("%s: %zu peers on the interface were not added by us; left alone",
		    a->conf->interface, st.foreign);
	free(plan.peers);
	wg_device_free(actual);
	if (a->watch != NULL && watch_client_revision(a->watch) != a->saved_revision)
		watch_state_save(a, watch_client_revision(a->watch));
	agent_paths_save(a);
	/* one timer: the earliest step any peer's path asks for */
	if (next > 0)
		loop_timer_set(a->loop, &a->trial_timer, next > now ? (uint64_t)(next - now) *
		    1000 : TRIAL_CHECK_MS, reconcile, a);
	else
		loop_timer_cancel(a->loop, &a->trial_timer);
}

void
agent_reconcile_soon(struct agent *a)
{
	if (!loop_timer_armed(&a->reconcile_timer))
		loop_timer_set(a->loop, &a->reconcile_timer, RECONCILE_DELAY_MS, reconcile, a);
}

/* --- the Watch stream -------------------------------------------------------------------- */

/* Whether record p may be a peer (k: the one it would replace, or NULL): it verifies
 * against our CA and CRL, its tunnel addresses are free, and the pairing policy pairs us
 * (a record refused for any of these is kept, to take when a new CRL or policy lets it).
 * id and rule (160 bytes) are filled; err says why not. */
static bool
admit(struct agent *a, const struct known *k, const Wiresync__V1__Peer *p,
    struct cert_identity *id, char *rule, char *err, size_t errlen, enum refused_why *why)
{
	*why = REFUSED_UNVERIFIED;
	if (!peer_verify(a->verifier, p, id, err, errlen) ||
	    !agent_tunnels_free(a, k, id, err, errlen))
		return false;
	if (agent_policy_pairs(a, id, rule, 160))
		return true;
	snprintf(err, errlen, "not paired by the policy (%s)", rule);
	*why = REFUSED_POLICY;
	return false;
}

void
agent_recheck(struct agent *a, const char *back_why)
{
	struct cert_identity id;
	char err[256], rule[160];
	size_t moved = 0, n_refused = a->refused.n;
	enum refused_why why;

	for (size_t i = a->n_known; i-- > 0;) {
		struct known *k = &a->known[i];
		if (admit(a, k, k->rec, &id, rule, err, sizeof(err), &why)) {
			snprintf(k->rule, sizeof(k->rule), "%s", rule);
			continue;
		}
		log_warnx("dropping peer \"%s\": %s", k->id.name, err);
		if (refused_put(&a->refused, k->rec, why) < 0)
			log_warnx("out of memory: \"%s\" will not come back by itself", k->id.name);
		known_drop(a, k);
		moved++;
	}
	/* only the records refused before this pass; one that fails again stays put */
	for (size_t i = n_refused; i-- > 0;) {
		Wiresync__V1__Peer *rec;
		if (!admit(a, NULL, a->refused.recs[i], &id, rule, err, sizeof(err), &why)) {
			a->refused.why[i] = why;
			continue;
		}
		rec = refused_take(&a->refused, i);
		log_info("peer \"%s\" %s: taking it back", id.name, back_why);
		agent_apply_record(a, rec);
		wiresync__v1__peer__free_unpacked(rec, NULL);
		moved++;
	}
	if (moved > 0)
		agent_reconcile_soon(a);
}

static struct known *
known_find(struct agent *a, const uint8_t *key, size_t len)
{
	if (len != WG_KEY_LEN)
		return NULL;
	for (size_t i = 0; i < a->n_known; i++)
		if (memcmp(a->known[i].id.key, key, WG_KEY_LEN) == 0)
			return &a->known[i];
	return NULL;
}

void
known_drop(struct agent *a, struct known *k)
{
	wiresync__v1__peer__free_unpacked(k->rec, NULL);
	*k = a->known[--a->n_known];
}

/* Two certificates binding one tunnel address (careless CA tooling) must never both be
 * installed: allowed IPs would overlap. The peer already held, or we, keep it. */
bool
agent_tunnels_free(const struct agent *a, const struct known *k,
    const struct cert_identity *id, char *err, size_t errlen)
{
	char addr[NETADDR_STRLEN];

	if (peer_tunnels_overlap(id, &a->self, addr)) {
		snprintf(err, errlen, "tunnel address %s is our own", addr);
		return false;
	}
	for (size_t i = 0; i < a->n_known; i++) {
		if (&a->known[i] != k && peer_tunnels_overlap(id, &a->known[i].id, addr)) {
			snprintf(err, errlen, "tunnel address %s is already held by \"%s\"", addr,
			    a->known[i].id.name);
			return false;
		}
	}
	return true;
}

/* Verifies and stores one record; a record that fails is refused and logged (and kept
 * to verify again under a new CRL), and the previous verified state of that peer (if any)
 * is dropped too. */
void
agent_apply_record(struct agent *a, const Wiresync__V1__Peer *p)
{
	struct cert_identity id;
	struct known *k;
	char err[256], b64[45], rule[160];
	enum refused_why why;

	if (p->public_key.len == WG_KEY_LEN && memcmp(p->public_key.data, a->self.key,
	    WG_KEY_LEN) == 0)
		return;
	k = known_find(a, p->public_key.data, p->public_key.len);
	if (!admit(a, k, p, &id, rule, err, sizeof(err), &why)) {
		if (p->public_key.len == WG_KEY_LEN)
			wg_key_to_base64(p->public_key.data, b64);
		else
			snprintf(b64, sizeof(b64), "(bad key)");
		log_warnx("refusing the record of \"%.64s\" (key %s): %s", p->name, b64, err);
		if (k != NULL)
			known_drop(a, k);
		if (refused_put(&a->refused, p, why) < 0)
			log_warnx("out of memory: a new CRL will not bring \"%.64s\" back", p->name);
		return;
	}
	refused_forget(&a->refused, p->public_key.data, p->public_key.len);
	if (k == NULL) {
		if (a->n_known == a->cap_known) {
			size_t cap = a->cap_known ? a->cap_known * 2 : 16;
			struct known *nk = realloc(a->known, cap * sizeof(*nk));
			if (nk == NULL)
				return;
			a->known = nk;
			a->cap_known = cap;
		}
		k = &a->known[a->n_known++];
		memset(k, 0, sizeof(*k));
	} else {
		wiresync__v1__peer__free_unpacked(k->rec, NULL);
	}
	k->rec = refused_peer_copy(p);
	k->id = id;
	snprintf(k->rule, sizeof(k->rule), "%s", rule);
	if (k->rec == NULL)
		known_drop(a, k);
}

void
agent_on_snapshot(void *arg, uint64_t revision, Wiresync__V1__Peer *const *peers, size_t n)
{
	struct agent *a = arg;

	while (a->n_known > 0)
		known_drop(a, &a->known[0]);
	refused_clear(&a->refused);
	for (size_t i = 0; i < n; i++)
		agent_apply_record(a, peers[i]);
	log_info("snapshot at revision %llu: %zu peers verified of %zu",
	    (unsigned long long)revision, a->n_known, n);
	agent_reconcile_soon(a);
}

void
agent_on_upsert(void *arg, uint64_t revision, const Wiresync__V1__Peer *p)
{
	struct agent *a = arg;

	log_debug("revision %llu: %s changed", (unsigned long long)revision, p->name);
	agent_apply_record(a, p);
	agent_reconcile_soon(a);
}

void
agent_on_removed(void *arg, uint64_t revision, const uint8_t *key, size_t len)
{
	struct agent *a = arg;
	struct known *k = known_find(a, key, len);

	refused_forget(&a->refused, key, len);
	if (k != NULL) {
		log_info("revision %llu: %s removed", (unsigned long long)revision, k->id.name);
		known_drop(a, k);
		agent_reconcile_soon(a);
	}
}

/* --- life ------------------------------------------------------------------------------- */

static bool
read_identity(const char *path, struct cert_identity *id, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	X509 *x;
	char why[200];
	bool ok;

	if (fp == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if (x == NULL) {
		snprintf(err, errlen, "%s: not a PEM certificate", path);
		return false;
	}
	ok = cert_identity_from_x509(x, id, why, sizeof(why));
	X509_free(x);
	if (!ok)
		snprintf(err, errlen, "%s: %s", path, why);
	else if (!id->has_key)
		snprintf(err, errlen, "%s: binds no WireGuard key (an admin certificate?)", path);
	return ok && id->has_key;
}

struct agent *
agent_new(struct loop *l, const struct agentconf *conf, SSL_CTX *ctx, char *err, size_t errlen)
{
	struct watch_client_config wc = { .keepalive_ms = conf->server_keepalive_s * 1000 };
	struct agent *a;
	struct wg_device *dev = NULL;
	char have[45], want[45];
	int r;

	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->loop = l;
	a->conf = conf;
	a->ctx = ctx;
	backoff_init(&a->update_backoff, 500, 30000, 0);
	if (!read_identity(conf->certificate, &a->self, err, errlen))
		goto fail;
	if (conf->uapi_dir != NULL)
		wg_set_uapi_dir(conf->uapi_dir);
	a->backend = strcmp(conf->backend, "uapi") == 0 ? WG_BACKEND_UAPI :
	    strcmp(conf->backend, "kernel") == 0 ? WG_BACKEND_KERNEL :
	    wg_backend_detect(conf->interface);
	r = wg_device_get(a->backend, conf->interface, &dev);
	if (r < 0) {
		snprintf(err, errlen, "interface %s (%s backend): %s", conf->interface,
		    wg_backend_name(a->backend), r == -ENODEV ? "no such WireGuard interface" :
		    strerror(-r));
		goto fail;
	}
	if (!dev->has_public_key || memcmp(dev->public_key, a->self.key, WG_KEY_LEN) != 0) {
		wg_key_to_base64(a->self.key, want);
		if (dev->has_public_key)
			wg_key_to_base64(dev->public_key, have);
		else
			snprintf(have, sizeof(have), "none (no private key set)");
		snprintf(err, errlen, "interface %s has public key %s, but certificate %s binds %s",
		    conf->interface, have, conf->certificate, want);
		wg_device_free(dev);
		goto fail;
	}
	log_info("interface %s (%s backend), listen port %u, key of \"%s\"", conf->interface,
	    wg_backend_name(a->backend), dev->listen_port, a->self.name);
	wg_device_free(dev);
	a->verifier = peer_verifier_new(conf->ca, conf->crl, a->self.network, err, errlen);
	if (a->verifier == NULL)
		goto fail;
	if (mkdir(conf->state_dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "state_dir %s: %s", conf->state_dir, strerror(errno));
		goto fail;
	}
	if (agent_policy_init(a, err, errlen) < 0 || agent_servers_init(a, err, errlen) < 0)
		goto fail;
	snprintf(a->owned_path, sizeof(a->owned_path), "%s/peers-%s", conf->state_dir,
	    conf->interface);
	r = state_owned_load(a->owned_path, &a->owned);
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", a->owned_path, strerror(-r));
		goto fail;
	}
	a->netmon = netmon_new(l, conf->interface, agent_net_changed, a);
	if (a->netmon == NULL) {
		snprintf(err, errlen, "cannot watch the network (netlink): %s", strerror(errno));
		goto fail;
	}
	agent_crl_state_load(a);
	wc.crl_sha256 = a->crl_sha256;
	wc.policy_sha256 = policyhold_sha256(&a->policy);
	if (conf->expiry_warn_days > 0)
		agent_expiry_check(a);
	else
		agent_crl_warn(a, 0);
	agent_crl_timer_arm(a);
	snprintf(a->watch_path, sizeof(a->watch_path), "%s/watch-%s", conf->state_dir,
	    conf->interface);
	snprintf(a->paths_path, sizeof(a->paths_path), "%s/paths-%s", conf->state_dir,
	    conf->interface);
	a->paths_dirty = true;
	wc.since_revision = watch_state_load(a);
	agent_net_settled(a);
	agent_server_watch_config(a, &wc);
	a->watch = watch_client_new(l, ctx, &wc, &agent_watch_ops, a);
	if (a->watch == NULL) {
		snprintf(err, errlen, "server \"%s\": %s", wc.server, strerror(errno));
		goto fail;
	}
	if ((a->renew = agent_renew_new(a)) == NULL || (a->links = agent_links_new(a)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return a;
fail:
	agent_del(a);
	return NULL;
}

void
agent_del(struct agent *a)
{
	if (a == NULL)
		return;
	a->stopping = true;
	agent_renew_del(a->renew);
	agent_links_del(a->links);
	loop_timer_cancel(a->loop, &a->debounce);
	loop_timer_cancel(a->loop, &a->expiry_timer);
	loop_timer_cancel(a->loop, &a->crl_timer);
	loop_timer_cancel(a->loop, &a->reconcile_timer);
	loop_timer_cancel(a->loop, &a->trial_timer);
	loop_timer_cancel(a->loop, &a->update_retry);
	watch_client_del(a->watch);
	rpc_client_del(a->update_client);
	loop_defer_cancel(a->loop, &a->stale_defer);
	rpc_client_del(a->stale_client);
	loop_timer_cancel(a->loop, &a->update_retry);
	netmon_del(a->netmon);
	peer_verifier_del(a->verifier);
	agent_policy_free(a);
	while (a->n_known > 0)
		known_drop(a, &a->known[0]);
	free(a->known);
	refused_clear(&a->refused);
	owned_free(&a->owned);
	free(a);
}

/* --- --show ---------------------------------------------------------------------------- */

static void
show_peer(struct agent *a, struct known *k, const struct wg_device *dev, FILE *out)
{
	struct show_row row = { .name = k->id.name, .key = k->id.key, .wp = wg_device_peer(dev,
	    k->id.key), .tunnel = k->id.tunnel, .n_tunnel = k->id.n_tunnel, .rule = k->rule };
	char path[64];

	known_candidates(a, k);
	if (k->cands.n > 0) {
		row.guess = &k->cands.addr[0];
		row.guess_lan = k->cands.lan[0];
		row.guess_observed = k->cands.kind[0] == PEERPATH_KIND_OBSERVED;
	}
	if (agent_paths_lookup(a->paths_path, k->id.key, path, sizeof(path)))
		row.path = path;
	show_row(out, &row, now_s());
}

int
agent_show(const struct agentconf *conf, FILE *out, char *err, size_t errlen)
{
	struct agent *a;
	struct wg_device *dev = NULL;
	int r = -1;

	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -1;
	a->conf = conf;
	a->loop = loop_new();
	if (a->loop == NULL || !read_identity(conf->certificate, &a->self, err, errlen))
		goto out;
	if (conf->uapi_dir != NULL)
		wg_set_uapi_dir(conf->uapi_dir);
	a->backend = strcmp(conf->backend, "uapi") == 0 ? WG_BACKEND_UAPI :
	    strcmp(conf->backend, "kernel") == 0 ? WG_BACKEND_KERNEL :
	    wg_backend_detect(conf->interface);
	if ((r = wg_device_get(a->backend, conf->interface, &dev)) < 0) {
		snprintf(err, errlen, "interface %s: %s", conf->interface, strerror(-r));
		r = -1;
		goto out;
	}
	r = -1;
	a->verifier = peer_verifier_new(conf->ca, conf->crl, a->self.network, err, errlen);
	if (a->verifier == NULL)
		goto out;
	agent_crl_state_load(a);
	if (agent_policy_init(a, err, errlen) < 0)
		goto out;
	a->netmon = netmon_new(a->loop, conf->interface, NULL, NULL);
	if (a->netmon != NULL && netmon_read(a->netmon, &a->net) == 0)
		a->net_valid = true;
	snprintf(a->watch_path, sizeof(a->watch_path), "%s/watch-%s", conf->state_dir,
	    conf->interface);
	snprintf(a->paths_path, sizeof(a->paths_path), "%s/paths-%s", conf->state_dir,
	    conf->interface);
	snprintf(a->server_path, sizeof(a->server_path), "%s/server-%s", conf->state_dir,
	    conf->interface);
	fprintf(out, "# %s: revision %llu of the saved peer set; nothing is changed\n",
	    a->watch_path, (unsigned long long)watch_state_load(a));
	agent_server_show(a->server_path, out);
	show_header(out);
	for (size_t i = 0; i < a->n_known; i++)
		show_peer(a, &a->known[i], dev, out);
	r = 0;
out:
	wg_device_free(dev);
	netmon_del(a->netmon);
	peer_verifier_del(a->verifier);
	agent_policy_free(a);
	while (a->n_known > 0)
		known_drop(a, &a->known[0]);
	free(a->known);
	refused_clear(&a->refused);
	loop_del(a->loop);
	free(a);
	return r;
}
