/* The agent's life: network changes become Updates, Watch events become verified desired
 * peers, and the interface is reconciled with them. Nothing polls: timers run only while a
 * debounce, a retry or an endpoint trial is pending. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "agent/agent.h"
#include "agent/endpoint.h"
#include "agent/netmon.h"
#include "agent/path.h"
#include "agent/reconcile.h"
#include "agent/refusal.h"
#include "agent/state.h"
#include "agent/refused.h"
#include "agent/show.h"
#include "agent/verify.h"
#include "agent/wg.h"
#include "common/cert.h"
#include "common/watch.h"
#include "proto/wiresync.pb-c.h"
#include "rpc/backoff.h"
#include "rpc/grpc.h"
#include "rpc/h2client.h"
#include "rpc/log.h"

#define RECONCILE_DELAY_MS 50
#define UPDATE_TIMEOUT_MS 10000
#define TRIAL_CHECK_MS 1000          /* while an endpoint awaits its first handshake */

/* A peer as the Watch stream describes it, once verified. */
struct known {
	Wiresync__V1__Peer *rec;            /* owned copy */
	struct cert_identity id;
	struct endpoint_list cands;
	size_t idx;                         /* candidate in use */
	int64_t chosen_at_s;
	bool confirmed;                     /* a handshake followed the choice */
	struct sockaddr_storage guess;      /* the candidate of the last reconcile; family 0 none */
	struct sockaddr_storage kept;       /* the roamed endpoint kept (and logged); 0 none */
};

struct agent {
	struct loop *loop;
	const struct agentconf *conf;
	SSL_CTX *ctx;
	enum wg_backend backend;
	struct cert_identity self;
	struct peer_verifier *verifier;
	struct netmon *netmon;
	struct net_state net;
	bool net_valid;
	struct loop_timer debounce, reconcile_timer, trial_timer, update_retry, expiry_timer;
	struct backoff update_backoff;
	struct refusal refusal;          /* the server refuses our certificate */
	struct rpc_client *update_client, *stale_client;
	struct loop_defer stale_defer;
	bool update_inflight, update_again, stopping;
	bool rewrite;                       /* after a network change: set every endpoint again */
	struct watch_client *watch;
	struct known *known;
	size_t n_known, cap_known;
	struct refused_set refused;         /* records that did not verify, to try again */
	struct loop_timer crl_timer;        /* when the CRL in use goes stale */
	struct owned_keys owned;
	char owned_path[4096];
	char watch_path[4096];
	char crl_path[4096];
	uint8_t crl_sha256[32];             /* of the CRL in use, told to the server */
	uint64_t saved_revision;
	uint32_t trial_ms;
	char wan_ip[NETADDR_STRLEN];        /* ours, as the server last saw it */
};

static int64_t
now_s(void)
{
	return (int64_t)time(NULL);
}

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

static void apply_record(struct agent *a, const Wiresync__V1__Peer *p);
static void known_drop(struct agent *a, struct known *k);

static void
load_one(void *arg, const Wiresync__V1__Peer *p)
{
	apply_record(arg, p);
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
	    fresh.n * sizeof(fresh.addr[0])) != 0) {
		k->cands = fresh;
		k->idx = 0;
		k->chosen_at_s = now_s();
		k->confirmed = false;
	}
}

static void trial_check(void *arg);

/* d's endpoint: our guess, or the one WireGuard roamed to while it works (agent/path.h). */
static void
known_path(struct known *k, const struct wg_peer *wp, struct desired_peer *d)
{
	struct sockaddr_storage have, none = { 0 };
	struct path_in in = { .guess = k->cands.n > 0 ? &k->cands.addr[k->idx] : NULL,
	    .guess_lan = k->cands.n > 0 && k->cands.lan[k->idx], .kept = &k->kept,
	    .last_guess = k->guess.ss_family != 0 ? &k->guess : NULL,
	    .actual = wg_peer_endpoint(wp, &have), .now_s = now_s(),
	    .last_handshake_s = wp != NULL ? wp->last_handshake_s : 0 };
	struct path_choice pc;
	char ep[64], g[64];

	path_choose(&in, &pc);
	k->guess = in.guess != NULL ? *in.guess : none;
	k->kept = pc.from == PATH_ROAMED ? pc.endpoint : none;
	if (pc.newly_kept)
		log_info("%s: keeping endpoint %s WireGuard roamed to (handshake %llds ago) over "
		    "guess %s", k->id.name, endpoint_format(&pc.endpoint, ep, sizeof(ep)),
		    (long long)pc.handshake_age_s, endpoint_format(in.guess, g, sizeof(g)));
	else if (pc.has_endpoint && !path_addr_equal(in.actual, &pc.endpoint))
		log_info("%s: endpoint %s (%s)", k->id.name, endpoint_format(&pc.endpoint, ep,
		    sizeof(ep)), path_from_name(pc.from));
	d->has_endpoint = pc.has_endpoint;
	d->endpoint = pc.endpoint;
	d->kick = pc.from == PATH_WAN;
}

static void
reconcile(void *arg)
{
	struct agent *a = arg;
	struct wg_device *actual = NULL, plan;
	struct desired_peer *want;
	struct reconcile_stats st;
	struct endpoint_self me;
	bool trials = false;
	int r;

	r = wg_device_get(a->backend, a->conf->interface, &actual);
	if (r < 0) {
		log_warnx("%s: cannot read the interface: %s", a->conf->interface, strerror(-r));
		return;
	}
	self_view(a, &me);
	want = calloc(a->n_known > 0 ? a->n_known : 1, sizeof(*want));
	if (want == NULL) {
		wg_device_free(actual);
		return;
	}
	for (size_t i = 0; i < a->n_known; i++) {
		struct known *k = &a->known[i];
		struct desired_peer *d = &want[i];

		known_candidates(a, k);
		memcpy(d->key, k->id.key, WG_KEY_LEN);
		d->n_allowed = k->id.n_tunnel;
		memcpy(d->allowed, k->id.tunnel, k->id.n_tunnel * sizeof(d->allowed[0]));
		if (k->cands.n > 0 && !k->confirmed && k->rec->online)
			trials = true;
		known_path(k, wg_device_peer(actual, k->id.key), d);
		d->force = a->rewrite;
		d->kick |= a->rewrite;
		/* Keepalive toward peers behind NAT; toward a LAN peer only until a handshake
		 * proves its endpoint (setting it makes WireGuard handshake at once). */
		d->keepalive_s = endpoint_needs_keepalive(k->rec, &me) || !k->confirmed ?
		    (uint16_t)a->conf->keepalive_s : 0;
	}
	r = reconcile_plan(actual, want, a->n_known, &a->owned, &plan, &st);
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
	if (trials && !loop_timer_armed(&a->trial_timer)) {
		a->trial_ms = TRIAL_CHECK_MS;
		loop_timer_set(a->loop, &a->trial_timer, a->trial_ms, trial_check, a);
	}
}

static void
reconcile_soon(struct agent *a)
{
	if (!loop_timer_armed(&a->reconcile_timer))
		loop_timer_set(a->loop, &a->reconcile_timer, RECONCILE_DELAY_MS, reconcile, a);
}

/* After an endpoint is chosen: a handshake confirms it; none within the timeout moves the
 * peer to its next candidate. Runs only while some peer is unconfirmed. */
static void
trial_check(void *arg)
{
	struct agent *a = arg;
	struct wg_device *dev = NULL;
	bool pending = false, changed = false, young = false;
	int64_t now = now_s();
	char was[64], next[64];

	if (wg_device_get(a->backend, a->conf->interface, &dev) < 0)
		return;
	for (size_t i = 0; i < a->n_known; i++) {
		struct known *k = &a->known[i];
		int64_t hs = 0;
		size_t idx;

		/* an offline peer cannot answer: wait for it to come online */
		if (k->confirmed || k->cands.n == 0 || !k->rec->online)
			continue;
		const struct wg_peer *wp = wg_device_peer(dev, k->id.key);
		struct sockaddr_storage have;

		hs = wp != NULL ? wp->last_handshake_s : 0;
		/* A handshake after the choice confirms it; so does a live session (WireGuard
		 * rekeys only every two minutes) whose packets come from the chosen address. */
		if (hs != 0 && (hs >= k->chosen_at_s ||
		    (now - hs < PATH_LIVE_S &&
		    path_addr_equal(wg_peer_endpoint(wp, &have), &k->cands.addr[k->idx])))) {
			char ep[64];
			log_info("%s: handshake via %s", k->id.name,
			    endpoint_format(&k->cands.addr[k->idx], ep, sizeof(ep)));
			k->confirmed = true;
			changed = true;
			continue;
		}
		pending = true;
		if (now - k->chosen_at_s < (int64_t)a->conf->handshake_timeout_s)
			young = true;
		idx = endpoint_next(k->idx, k->cands.n, hs, k->chosen_at_s, now,
		    a->conf->handshake_timeout_s);
		if (idx != k->idx) {
			log_info("%s: no handshake via %s for %us; trying %s", k->id.name,
			    endpoint_format(&k->cands.addr[k->idx], was, sizeof(was)),
			    a->conf->handshake_timeout_s,
			    endpoint_format(&k->cands.addr[idx], next, sizeof(next)));
			k->idx = idx;
			k->chosen_at_s = now;
			changed = true;
		}
	}
	wg_device_free(dev);
	if (changed) {
		a->trial_ms = TRIAL_CHECK_MS;
		reconcile(a);
	} else if (pending) {
		/* every second while a choice is young, then backing off to the handshake
		 * timeout while nothing answers */
		if (young)
			a->trial_ms = TRIAL_CHECK_MS;
		else
			a->trial_ms = a->trial_ms * 2 > a->conf->handshake_timeout_s * 1000u ?
			    a->conf->handshake_timeout_s * 1000u : a->trial_ms * 2;
		loop_timer_set(a->loop, &a->trial_timer, a->trial_ms, trial_check, a);
	}
}

/* --- the Watch stream -------------------------------------------------------------------- */

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

static void
known_drop(struct agent *a, struct known *k)
{
	wiresync__v1__peer__free_unpacked(k->rec, NULL);
	*k = a->known[--a->n_known];
}

/* Two certificates binding one tunnel address (careless CA tooling) must never both be
 * installed: allowed IPs would overlap. The peer already held, or we, keep it. */
static bool
tunnels_free(const struct agent *a, const struct known *k, const struct cert_identity *id,
    char *err, size_t errlen)
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
static void
apply_record(struct agent *a, const Wiresync__V1__Peer *p)
{
	struct cert_identity id;
	struct known *k;
	char err[256], b64[45];

	if (p->public_key.len == WG_KEY_LEN && memcmp(p->public_key.data, a->self.key,
	    WG_KEY_LEN) == 0)
		return;
	k = known_find(a, p->public_key.data, p->public_key.len);
	if (!peer_verify(a->verifier, p, &id, err, sizeof(err)) ||
	    !tunnels_free(a, k, &id, err, sizeof(err))) {
		if (p->public_key.len == WG_KEY_LEN)
			wg_key_to_base64(p->public_key.data, b64);
		else
			snprintf(b64, sizeof(b64), "(bad key)");
		log_warnx("refusing the record of \"%.64s\" (key %s): %s", p->name, b64, err);
		if (k != NULL)
			known_drop(a, k);
		if (refused_put(&a->refused, p) < 0)
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
	if (k->rec == NULL)
		known_drop(a, k);
}

static void
on_snapshot(void *arg, uint64_t revision, Wiresync__V1__Peer *const *peers, size_t n)
{
	struct agent *a = arg;

	while (a->n_known > 0)
		known_drop(a, &a->known[0]);
	refused_clear(&a->refused);
	for (size_t i = 0; i < n; i++)
		apply_record(a, peers[i]);
	log_info("snapshot at revision %llu: %zu peers verified of %zu",
	    (unsigned long long)revision, a->n_known, n);
	reconcile_soon(a);
}

static void
on_upsert(void *arg, uint64_t revision, const Wiresync__V1__Peer *p)
{
	struct agent *a = arg;

	log_debug("revision %llu: %s changed", (unsigned long long)revision, p->name);
	apply_record(a, p);
	reconcile_soon(a);
}

static void
on_removed(void *arg, uint64_t revision, const uint8_t *key, size_t len)
{
	struct agent *a = arg;
	struct known *k = known_find(a, key, len);

	refused_forget(&a->refused, key, len);
	if (k != NULL) {
		log_info("revision %llu: %s removed", (unsigned long long)revision, k->id.name);
		known_drop(a, k);
		reconcile_soon(a);
	}
}

static void crl_warn(struct agent *a, unsigned warn_days);

/* Once a day: our certificate, and the CRL in use, must not expire unnoticed. */
static void
expiry_check(void *arg)
{
	struct agent *a = arg;
	X509 *own = SSL_CTX_get0_certificate(a->ctx);
	int left = own != NULL ? cert_days_left(own) : INT_MIN;

	if (left != INT_MIN && left < (int)a->conf->expiry_warn_days)
		log_warnx("our certificate %s expires in %d days: ask the operator for a new one",
		    a->conf->certificate, left);
	crl_warn(a, a->conf->expiry_warn_days);
	loop_timer_set(a->loop, &a->expiry_timer, 24ull * 3600 * 1000, expiry_check, a);
}

/* --- revocation: the CA's CRL, relayed by the server but checked here --------------- */

/* Under new CRLs, everything held is verified again: peers verified under older ones
 * that are now revoked go at once, and records refused before that now verify come
 * back (a peer refused for a CRL reason returns as soon as a CRL lets it). */
static void
recheck_known(struct agent *a)
{
	struct cert_identity id;
	char err[256];
	size_t dropped = 0, back = 0, n_refused = a->refused.n;

	for (size_t i = a->n_known; i-- > 0;) {
		struct known *k = &a->known[i];
		if (peer_verify(a->verifier, k->rec, &id, err, sizeof(err)))
			continue;
		log_warnx("dropping peer \"%s\": %s", k->id.name, err);
		if (refused_put(&a->refused, k->rec) < 0)
			log_warnx("out of memory: a new CRL will not bring \"%s\" back", k->id.name);
		known_drop(a, k);
		dropped++;
	}
	/* only the records refused before this pass; one that fails again stays put */
	for (size_t i = n_refused; i-- > 0;) {
		Wiresync__V1__Peer *rec;
		if (!peer_verify(a->verifier, a->refused.recs[i], &id, err, sizeof(err)) ||
		    !tunnels_free(a, NULL, &id, err, sizeof(err)))
			continue;
		rec = refused_take(&a->refused, i);
		log_info("peer \"%s\" verifies under the CRL now in use: taking it back", id.name);
		apply_record(a, rec);
		wiresync__v1__peer__free_unpacked(rec, NULL);
		back++;
	}
	if (dropped > 0 || back > 0)
		reconcile_soon(a);
}

static void crl_timer_arm(struct agent *a);

/* Warn from warn_days before nextUpdate, or from half the CRL's lifetime when that is
 * shorter: a CRL renewed daily is never warned about, one nobody renews is. */
static int64_t
crl_warn_window(int64_t this_up, int64_t next, unsigned warn_days)
{
	int64_t w = (int64_t)warn_days * 86400, half = (next - this_up) / 2;

	return this_up > 0 && half < w ? half : w;
}

/* A stale CRL is still enforced and peers stay: the operator must hear of it, here as on
 * the server (which logs the same). */
static void
crl_warn(struct agent *a, unsigned warn_days)
{
	int64_t this_up = 0, next = peer_verifier_crl_next_update(a->verifier, &this_up);
	int64_t now = now_s();
	char when[32];
	struct tm tm;
	time_t t = (time_t)next;

	if (next == 0)
		return;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (now >= next)
		log_warnx("the CRL in use is past its nextUpdate %s: still enforcing its %d "
		    "revocations and keeping every verified peer; the operator must renew it where "
		    "the CA lives (wiresync-ca -d DIR crl) and give it to the server, which relays "
		    "it", when, peer_verifier_crl_count(a->verifier));
	else if (next - now < crl_warn_window(this_up, next, warn_days))
		log_warnx("the CRL in use goes stale in %lld days (nextUpdate %s): the operator "
		    "should renew it (wiresync-ca -d DIR crl)", (long long)((next - now) / 86400),
		    when);
}

static void
on_crl_timer(void *arg)
{
	struct agent *a = arg;

	crl_warn(a, 0);
	crl_timer_arm(a);
}

static void
crl_timer_arm(struct agent *a)
{
	int64_t next = peer_verifier_crl_next_update(a->verifier, NULL), now = now_s();

	loop_timer_cancel(a->loop, &a->crl_timer);
	if (next > now)
		loop_timer_set(a->loop, &a->crl_timer, (uint64_t)(next - now + 1) * 1000,
		    on_crl_timer, a);
}

/* 1 when der became the CRL in use, 0 when it is not newer, -1 when refused (logged). */
static int
take_crl(struct agent *a, const uint8_t *der, size_t len, const char *from)
{
	char err[160];
	int r = peer_verifier_offer_crl(a->verifier, der, len, err, sizeof(err));

	if (r < 0)
		log_warnx("refusing the CRL from %s: %s", from, err);
	if (r <= 0)
		return r;
	if (!peer_verifier_crl_sha256(a->verifier, a->crl_sha256))
		memset(a->crl_sha256, 0, sizeof(a->crl_sha256));
	log_info("CRL from %s in use: %d certificates revoked", from,
	    peer_verifier_crl_count(a->verifier));
	return 1;
}

static void
on_crl(void *arg, const uint8_t *der, size_t len)
{
	struct agent *a = arg;

	uint8_t *all;
	size_t all_len;

	if (take_crl(a, der, len, "the server") <= 0)
		return;
	/* every CA's CRL in use, so a restart starts from all of them */
	if (peer_verifier_crls_der(a->verifier, &all, &all_len) < 0 ||
	    state_crl_save(a->crl_path, all, all_len) < 0)
		log_warnx("%s: cannot save the CRL", a->crl_path);
	free(all);
	recheck_known(a);
	crl_warn(a, 0);
	crl_timer_arm(a);
}

/* The newest of the configured CRL and the one saved from the server. */
static void
crl_state_load(struct agent *a)
{
	uint8_t *der;
	const uint8_t *p, *end;
	size_t len;
	int r;

	snprintf(a->crl_path, sizeof(a->crl_path), "%s/crl-%s", a->conf->state_dir,
	    a->conf->interface);
	peer_verifier_crl_sha256(a->verifier, a->crl_sha256);
	r = state_crl_load(a->crl_path, &der, &len);
	if (r == -ENOENT)
		return;
	if (r < 0) {
		log_warnx("%s: %s", a->crl_path, strerror(-r));
		return;
	}
	/* one DER CRL per CA, one after the other */
	for (p = der, end = der + len; p < end;) {
		const unsigned char *q = p;
		X509_CRL *crl = d2i_X509_CRL(NULL, &q, (long)(end - p));
		if (crl == NULL) {
			log_warnx("%s: damaged after %zu bytes; the rest is ignored", a->crl_path,
			    (size_t)(p - der));
			break;
		}
		X509_CRL_free(crl);
		take_crl(a, p, (size_t)(q - p), a->crl_path);
		p = q;
	}
	free(der);
}

static void send_update(struct agent *a);

static void
on_state(void *arg, bool connected, const char *why)
{
	struct agent *a = arg;

	/* common/watch.c logs the stream's end and the retry */
	(void)why;
	if (connected) {
		refusal_clear(&a->refusal);
		/* the server may see us from a new address after a reconnect */
		send_update(a);
	}
}

static uint32_t
watch_retry_delay(void *arg, int status, const char *why, uint32_t delay_ms)
{
	struct agent *a = arg;

	return refusal_retry_delay(&a->refusal, a->self.name, status, why, delay_ms);
}

/* --- reporting -------------------------------------------------------------------------- */

static void update_retry(void *arg);
static void drop_update_client(struct agent *a);

static void reconcile_soon(struct agent *a);

static void
update_reply(void *arg, const uint8_t *data, size_t len)
{
	struct agent *a = arg;
	Wiresync__V1__UpdateReply *r = wiresync__v1__update_reply__unpack(NULL, len, data);

	if (r == NULL)
		return;
	log_info("reported to the server: revision %llu, seen from %s",
	    (unsigned long long)r->revision, r->observed_wan_ip);
	/* which peers share our public address (our NAT) can change the endpoints */
	if (strcmp(a->wan_ip, r->observed_wan_ip) != 0) {
		snprintf(a->wan_ip, sizeof(a->wan_ip), "%s", r->observed_wan_ip);
		reconcile_soon(a);
	}
	wiresync__v1__update_reply__free_unpacked(r, NULL);
}

static void
update_done(void *arg, int status, const char *message)
{
	struct agent *a = arg;

	a->update_inflight = false;
	if (a->stopping)
		return;
	if (status != GRPC_OK) {
		uint32_t delay = refusal_retry_delay(&a->refusal, a->self.name, status, message,
		    backoff_next(&a->update_backoff));
		/* the connection may be stranded on an address we no longer have */
		drop_update_client(a);
		log_warnx("Update failed: %s: %s; retrying in %u ms", grpc_status_name(status),
		    message, delay);
		loop_timer_set(a->loop, &a->update_retry, delay, update_retry, a);
		return;
	}
	backoff_reset(&a->update_backoff);
	refusal_clear(&a->refusal);
	if (a->update_again) {
		a->update_again = false;
		send_update(a);
	}
}

static void
drop_update_client_deferred(void *arg)
{
	struct agent *a = arg;

	rpc_client_del(a->stale_client);
	a->stale_client = NULL;
}

/* Never freed from inside its own callback: handed to the end of the loop turn. */
static void
drop_update_client(struct agent *a)
{
	if (a->update_client == NULL)
		return;
	rpc_client_del(a->stale_client);
	a->stale_client = a->update_client;
	a->update_client = NULL;
	loop_defer(a->loop, &a->stale_defer, drop_update_client_deferred, a);
}

static void
update_retry(void *arg)
{
	send_update(arg);
}

static void
send_update(struct agent *a)
{
	static const struct rpc_client_cb cb = { .on_message = update_reply, .on_done = update_done };
	Wiresync__V1__UpdateRequest m = WIRESYNC__V1__UPDATE_REQUEST__INIT;
	struct wg_device *dev = NULL;
	char text[NETMON_LAN_MAX][NETADDR_STRLEN], *lans[NETMON_LAN_MAX];
	uint8_t buf[1024];
	size_t len;
	int r;

	if (a->update_inflight) {
		a->update_again = true;
		return;
	}
	loop_timer_cancel(a->loop, &a->update_retry);
	r = wg_device_get(a->backend, a->conf->interface, &dev);
	if (r < 0) {
		log_warnx("%s: cannot read the interface: %s", a->conf->interface, strerror(-r));
		loop_timer_set(a->loop, &a->update_retry, backoff_next(&a->update_backoff),
		    update_retry, a);
		return;
	}
	m.public_key.data = a->self.key;
	m.public_key.len = WG_KEY_LEN;
	m.listen_port = dev->listen_port;
	wg_device_free(dev);
	if (a->net_valid && a->net.has_default) {
		for (size_t i = 0; i < a->net.n_lan; i++)
			lans[i] = netaddr_format(&a->net.lan[i], true, text[i]);
		m.n_lan_ips = a->net.n_lan;
		m.lan_ips = lans;
		if (a->net.has_gateway_mac) {
			m.lan_id.data = a->net.gateway_mac;
			m.lan_id.len = 6;
		}
	}
	len = wiresync__v1__update_request__get_packed_size(&m);
	if (len > sizeof(buf))
		return;
	wiresync__v1__update_request__pack(&m, buf);
	if (a->update_client == NULL || !rpc_client_alive(a->update_client)) {
		drop_update_client(a);
		a->update_client = rpc_client_new(a->loop, a->ctx, a->conf->server);
		if (a->update_client == NULL) {
			log_warnx("bad server address \"%s\"", a->conf->server);
			return;
		}
	}
	if (rpc_client_call(a->update_client, "/wiresync.v1.WireSync/Update", buf, len,
	    UPDATE_TIMEOUT_MS, &cb, a) != NULL)
		a->update_inflight = true;
}

/* --- network changes -------------------------------------------------------------------- */

static const struct watch_client_ops watch_ops = {
	.on_snapshot = on_snapshot, .on_upsert = on_upsert, .on_removed = on_removed,
	.on_crl = on_crl, .on_state = on_state, .retry_delay = watch_retry_delay,
};

static void
restart_watch(struct agent *a)
{
	struct watch_client_config wc = { .server = a->conf->server,
		.crl_sha256 = a->crl_sha256, .keepalive_ms = a->conf->server_keepalive_s * 1000 };
	struct watch_client *w;

	wc.since_revision = watch_client_revision(a->watch);
	w = watch_client_new(a->loop, a->ctx, &wc, &watch_ops, a);
	if (w == NULL) {
		log_warn("cannot restart the Watch stream");
		return;
	}
	watch_client_del(a->watch);
	a->watch = w;
}

static void
net_settled(void *arg)
{
	struct agent *a = arg;
	struct net_state now;
	char gw[NETADDR_STRLEN];

	if (netmon_read(a->netmon, &now) < 0)
		return;
	if (a->net_valid && net_state_equal(&now, &a->net))
		return;
	/* WireGuard keeps sending from a source address we may no longer have until an
	 * endpoint is set again */
	a->rewrite = a->net_valid;
	a->net = now;
	a->net_valid = true;
	if (now.has_default)
		log_info("network: default route via %s on %s, gateway MAC %s, %zu LAN addresses",
		    netaddr_format(&now.gateway, false, gw), now.ifname,
		    now.has_gateway_mac ? "known" : "not yet known", now.n_lan);
	else
		log_info("network: no default route; reporting no LAN");
	if (a->watch != NULL) {
		/* our address may have changed: connections bound to the old one would hang */
		drop_update_client(a);
		restart_watch(a);
	}
	send_update(a);
	reconcile_soon(a);
}

static void
net_changed(void *arg)
{
	struct agent *a = arg;

	loop_timer_set(a->loop, &a->debounce, a->conf->debounce_ms, net_settled, a);
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
	struct watch_client_config wc = { .server = conf->server,
	    .keepalive_ms = conf->server_keepalive_s * 1000 };
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
	snprintf(a->owned_path, sizeof(a->owned_path), "%s/peers-%s", conf->state_dir,
	    conf->interface);
	r = state_owned_load(a->owned_path, &a->owned);
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", a->owned_path, strerror(-r));
		goto fail;
	}
	a->netmon = netmon_new(l, conf->interface, net_changed, a);
	if (a->netmon == NULL) {
		snprintf(err, errlen, "cannot watch the network (netlink): %s", strerror(errno));
		goto fail;
	}
	crl_state_load(a);
	wc.crl_sha256 = a->crl_sha256;
	if (conf->expiry_warn_days > 0)
		expiry_check(a);
	else
		crl_warn(a, 0);
	crl_timer_arm(a);
	snprintf(a->watch_path, sizeof(a->watch_path), "%s/watch-%s", conf->state_dir,
	    conf->interface);
	wc.since_revision = watch_state_load(a);
	net_settled(a);
	a->watch = watch_client_new(l, ctx, &wc, &watch_ops, a);
	if (a->watch == NULL) {
		snprintf(err, errlen, "server \"%s\": %s", conf->server, strerror(errno));
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
	    k->id.key), .tunnel = k->id.tunnel, .n_tunnel = k->id.n_tunnel };

	known_candidates(a, k);
	if (k->cands.n > 0) {
		row.guess = &k->cands.addr[k->idx];
		row.guess_lan = k->cands.lan[k->idx];
		row.guess_observed = k->rec->observed_endpoint[0] != '\0';
	}
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
	crl_state_load(a);
	a->netmon = netmon_new(a->loop, conf->interface, NULL, NULL);
	if (a->netmon != NULL && netmon_read(a->netmon, &a->net) == 0)
		a->net_valid = true;
	snprintf(a->watch_path, sizeof(a->watch_path), "%s/watch-%s", conf->state_dir,
	    conf->interface);
	fprintf(out, "# %s: revision %llu of the saved peer set; nothing is changed\n",
	    a->watch_path, (unsigned long long)watch_state_load(a));
	show_header(out);
	for (size_t i = 0; i < a->n_known; i++)
		show_peer(a, &a->known[i], dev, out);
	r = 0;
out:
	wg_device_free(dev);
	netmon_del(a->netmon);
	peer_verifier_del(a->verifier);
	while (a->n_known > 0)
		known_drop(a, &a->known[0]);
	free(a->known);
	refused_clear(&a->refused);
	loop_del(a->loop);
	free(a);
	return r;
}
