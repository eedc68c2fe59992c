/* Each known peer's path (agent/peerpath.h) turned into the endpoint to write: a direct
 * candidate, the server's relay, or what WireGuard followed the peer to; the relay and the
 * hub as the Update replies announce them; the paths saved for --show. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "agent/agent_impl.h"
#include "agent/endpoint.h"
#include "agent/path.h"
#include "agent/peerpath.h"
#include "agent/reconcile.h"
#include "common/cert.h"
#include "rpc/h2client.h"
#include "rpc/log.h"
#include "wg/wg.h"

/* --- what the server announces ---------------------------------------------------------- */

/* The address the connection reached the server at; false when unknown. */
static bool
server_address(struct rpc_client *c, struct sockaddr_storage *ss)
{
	SSL *ssl = c != NULL ? rpc_client_ssl(c) : NULL;
	socklen_t len = sizeof(*ss);
	int fd = ssl != NULL ? SSL_get_fd(ssl) : -1;

	memset(ss, 0, sizeof(*ss));
	if (fd < 0 || getpeername(fd, (struct sockaddr *)ss, &len) < 0)
		return false;
	if (ss->ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = in6->sin6_port };
			memcpy(&in.sin_addr, &in6->sin6_addr.s6_addr[12], 4);
			memset(ss, 0, sizeof(*ss));
			memcpy(ss, &in, sizeof(in));
		}
	}
	return ss->ss_family == AF_INET || ss->ss_family == AF_INET6;
}

static void
set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static uint16_t
get_port(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port :
	    ((const struct sockaddr_in6 *)ss)->sin6_port);
}

static bool
unspecified(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* The relay the reply names, into relay (family 0: none). */
static void
relay_of(const Wiresync__V1__UpdateReply *r, const struct sockaddr_storage *server,
    struct sockaddr_storage *relay)
{
	struct sockaddr_storage ss;

	memset(relay, 0, sizeof(*relay));
	if (r->relay_endpoint == NULL || r->relay_endpoint[0] == '\0')
		return;
	if (!endpoint_parse(r->relay_endpoint, &ss)) {
		log_warnx("the server's relay_endpoint \"%.80s\" is not ip:port; not using it",
		    r->relay_endpoint);
		return;
	}
	if (unspecified(&ss)) {
		/* the relay listens where we reached the server */
		if (server->ss_family == 0)
			return;
		*relay = *server;
		set_port(relay, get_port(&ss));
		return;
	}
	*relay = ss;
}

/* The hub the reply and the server's certificate name, into h (on false: none). */
static void
hub_of(const Wiresync__V1__UpdateReply *r, struct rpc_client *c,
    const struct sockaddr_storage *server, struct hub *h)
{
	SSL *ssl = c != NULL ? rpc_client_ssl(c) : NULL;
	X509 *x = ssl != NULL ? SSL_get0_peer_certificate(ssl) : NULL;
	char err[160];
	int got;

	memset(h, 0, sizeof(*h));
	if (r->hub_port == 0 || r->hub_port > 65535 || server->ss_family == 0 || x == NULL)
		return;
	/* TLS verified the certificate against our CA: the key it binds is the hub's */
	got = cert_hub_key(x, h->key, err, sizeof(err));
	if (got <= 0) {
		if (got < 0)
			log_warnx("the server's certificate: %s; not adding the hub", err);
		else
			log_warnx("the server announces a hub (port %u) but its certificate binds "
			    "no hub key (urn:wiresync:key:); not adding it", r->hub_port);
		return;
	}
	h->endpoint = *server;
	set_port(&h->endpoint, (uint16_t)r->hub_port);
	h->on = true;
}

bool
agent_paths_from_reply(struct agent *a, struct rpc_client *c,
    const Wiresync__V1__UpdateReply *r)
{
	struct sockaddr_storage server, relay;
	struct hub hub;
	bool changed = false;
	char ep[64];

	if (server_address(c, &server))
		a->server_addr = server;
	relay_of(r, &a->server_addr, &relay);
	hub_of(r, c, &a->server_addr, &hub);
	if (!(relay.ss_family == 0 && a->relay.ss_family == 0) &&
	    !path_addr_equal(&relay, &a->relay)) {
		if (relay.ss_family != 0)
			log_info("relay: %s (from the server)", endpoint_format(&relay, ep,
			    sizeof(ep)));
		else
			log_info("relay: none any more");
		a->relay = relay;
		changed = true;
	}
	if (hub.on != a->hub.on || (hub.on && (memcmp(hub.key, a->hub.key, WG_KEY_LEN) != 0 ||
	    !path_addr_equal(&hub.endpoint, &a->hub.endpoint)))) {
		if (hub.on)
			log_info("hub: %s (from the server)", endpoint_format(&hub.endpoint, ep,
			    sizeof(ep)));
		else if (a->hub.on)
			log_info("hub: none any more; removing it");
		a->hub = hub;
		changed = true;
	}
	if (changed)
		a->paths_dirty = true;
	return changed;
}

bool
agent_hub_peer(struct agent *a, struct desired_peer *d)
{
	char b64[45];
	bool collides = memcmp(a->hub.key, a->self.key, WG_KEY_LEN) == 0;

	if (!a->hub.on)
		return false;
	for (size_t i = 0; !collides && i < a->n_known; i++)
		collides = memcmp(a->known[i].id.key, a->hub.key, WG_KEY_LEN) == 0;
	if (collides != a->hub.collides) {
		wg_key_to_base64(a->hub.key, b64);
		if (collides)
			log_warnx("hub key %s is our own or a peer's: not adding the hub", b64);
		a->hub.collides = collides;
	}
	if (collides)
		return false;
	memset(d, 0, sizeof(*d));
	memcpy(d->key, a->hub.key, WG_KEY_LEN);
	d->has_endpoint = true;
	d->endpoint = a->hub.endpoint;
	/* the hub learns our NAT's mapping of our port from these */
	d->keepalive_s = (uint16_t)a->conf->keepalive_s;
	d->kick = true;
	return true;
}

/* --- one peer's path ------------------------------------------------------------------- */

#define TRIAL_YOUNG_S 3     /* a trial is looked at each second this long */

/* The same on both ends: a hash (FNV-1a) of the two keys in sorted order. */
static uint32_t
pair_jitter(const uint8_t *x, const uint8_t *y)
{
	const uint8_t *lo = memcmp(x, y, WG_KEY_LEN) < 0 ? x : y, *hi = lo == x ? y : x;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < WG_KEY_LEN; i++)
		h = (h ^ lo[i]) * 16777619u;
	for (size_t i = 0; i < WG_KEY_LEN; i++)
		h = (h ^ hi[i]) * 16777619u;
	return h;
}

static void
log_change(const struct known *k, const struct peerpath_out *out, enum peerpath_state was,
    const struct sockaddr_storage *actual, int64_t hs_age, const struct agent *a)
{
	char ep[64], ep2[64];
	const char *kind = out->choice >= 0 ? peerpath_kind_name(k->cands.kind[out->choice]) :
	    "";

	if (out->choice >= 0)
		endpoint_format(&k->cands.addr[out->choice], ep, sizeof(ep));
	switch (out->state) {
	case PEERPATH_DIRECT:
		log_info("%s: direct via %s %s", k->id.name, kind, ep);
		break;
	case PEERPATH_TRIAL:
		if (was == PEERPATH_TRIAL && k->pp.idx > 0)
			log_info("%s: no handshake via %s for %us; trying %s %s", k->id.name,
			    endpoint_format(&k->cands.addr[k->pp.idx - 1], ep2, sizeof(ep2)),
			    k->pp.conf.trial_timeout_s, kind, ep);
		else
			log_info("%s: trying %s %s", k->id.name, kind, ep);
		break;
	case PEERPATH_PROBE:
		log_info("%s: probing %s %s from the relay", k->id.name, kind, ep);
		break;
	case PEERPATH_RELAY:
		endpoint_format(&a->relay, ep2, sizeof(ep2));
		if (was == PEERPATH_TRIAL)
			log_info("%s: relay (no handshake on %zu candidates) via %s", k->id.name,
			    k->cands.n, ep2);
		else if (was == PEERPATH_PROBE)
			log_info("%s: relay (probe unanswered; next in about %us) via %s",
			    k->id.name, k->pp.backoff_s, ep2);
		else
			log_info("%s: relay via %s", k->id.name, ep2);
		break;
	case PEERPATH_ROAMED:
		if (was == PEERPATH_RELAY || was == PEERPATH_PROBE || k->pp.idx >= k->cands.n)
			log_info("%s: roamed off the relay to %s", k->id.name, actual != NULL ?
			    endpoint_format(actual, ep2, sizeof(ep2)) : "?");
		else
			log_info("%s: keeping endpoint %s WireGuard roamed to (handshake %llds ago) "
			    "over guess %s", k->id.name, actual != NULL ? endpoint_format(actual, ep2,
			    sizeof(ep2)) : "?", (long long)hs_age, endpoint_format(
			    &k->cands.addr[k->pp.idx], ep, sizeof(ep)));
		break;
	case PEERPATH_IDLE:
		log_info("%s: no address and no relay to reach it by", k->id.name);
		break;
	}
}

/* Where the interface's endpoint is, for the path machine. */
static int
position_of(const struct agent *a, const struct known *k, const struct sockaddr_storage *ep)
{
	if (ep == NULL)
		return PEERPATH_AT_NONE;
	if (a->relay.ss_family != 0 && path_addr_equal(ep, &a->relay))
		return PEERPATH_AT_RELAY;
	for (size_t i = 0; i < k->cands.n; i++)
		if (path_addr_equal(ep, &k->cands.addr[i]))
			return (int)i;
	return PEERPATH_AT_OTHER;
}

/* Where out's choice points; NULL: keep or nothing. */
static const struct sockaddr_storage *
target_of(const struct agent *a, const struct known *k, int choice)
{
	if (choice >= 0 && (size_t)choice < k->cands.n)
		return &k->cands.addr[choice];
	if (choice == PEERPATH_CHOICE_RELAY && a->relay.ss_family != 0)
		return &a->relay;
	return NULL;
}

int64_t
agent_path_peer(struct agent *a, struct known *k, const struct wg_peer *wp, int64_t now,
    struct desired_peer *d)
{
	struct sockaddr_storage have;
	const struct sockaddr_storage *actual = wg_peer_endpoint(wp, &have), *target;
	struct peerpath_out out = { .choice = k->choice, .confirmed = k->confirmed,
	    .reason = k->reason, .state = k->pp.state };
	int64_t next = 0;
	bool kick = false;

	if (k->pp.conf.trial_timeout_s == 0) {
		struct peerpath_conf pc0 = { .trial_timeout_s = a->conf->handshake_timeout_s };
		peerpath_init(&k->pp, &pc0);
		k->choice = k->cands.n > 0 ? 0 : PEERPATH_CHOICE_NONE;
		out.choice = k->choice;
	}
	/* an offline peer cannot answer: its path waits where it is */
	if (k->rec->online) {
		enum peerpath_state was = k->pp.state;
		int was_choice = k->choice;
		struct peerpath_in in = { .now_s = now, .n = k->cands.n, .kind = k->cands.kind,
		    .list_gen = k->list_gen, .relay = a->relay.ss_family != 0,
		    .at = position_of(a, k, actual),
		    .at_changed = !k->read_once || (actual == NULL) !=
		        (k->last_actual.ss_family == 0) || (actual != NULL &&
		        !path_addr_equal(actual, &k->last_actual)),
		    .last_handshake_s = wp != NULL ? wp->last_handshake_s : 0,
		    .rx_bytes = wp != NULL ? wp->rx_bytes : 0,
		    .jitter = pair_jitter(a->self.key, k->id.key),
		    .later = memcmp(a->self.key, k->id.key, WG_KEY_LEN) > 0 };

		memset(&k->last_actual, 0, sizeof(k->last_actual));
		if (actual != NULL)
			k->last_actual = *actual;
		k->read_once = true;
		peerpath_step(&k->pp, &in, &out);
		if (out.reason != k->step_reason || out.state != was || out.choice != was_choice)
			log_change(k, &out, was, actual, wp != NULL && wp->last_handshake_s > 0 ?
			    now - wp->last_handshake_s : -1, a);
		k->step_reason = out.reason;
		kick = out.kick;
		next = out.next_s;
		/* a probe, or a trial's first seconds: look each second, a handshake ends it
		 * early; an unanswered trial is looked at only when it times out */
		if (out.state == PEERPATH_PROBE || (out.state == PEERPATH_TRIAL &&
		    now - k->pp.switched_s < TRIAL_YOUNG_S))
			next = next == 0 || next > now + 1 ? now + 1 : next;
		/* a direct path while WireGuard follows relayed packets (the peer is on the
		 * relay): write it back, send at once so the peer's WireGuard follows us off the
		 * relay before its next relayed packet turns ours back, and look again soon */
		if (out.choice >= 0 && in.at == PEERPATH_AT_RELAY) {
			kick = true;
			if (next == 0 || next > now + 1)
				next = now + 1;
		}
		k->choice = out.choice;
		k->confirmed = out.confirmed;
		d->rekey = out.rekey;
	}
	target = target_of(a, k, out.choice);
	/* KEEP: WireGuard follows the peer at an address no candidate names */
	d->has_endpoint = target != NULL;
	if (target != NULL)
		d->endpoint = *target;
	d->kick = kick;
	/* Keepalive toward peers behind NAT and over the relay; toward a LAN peer only until
	 * a handshake proves its endpoint (setting it makes WireGuard handshake at once). */
	{
		struct endpoint_self me = { .lan_id = a->net_valid && a->net.has_default &&
		    a->net.has_gateway_mac ? a->net.gateway_mac : NULL, .lan_id_len = 6 };
		bool ka = endpoint_needs_keepalive(k->rec, &me) || !k->confirmed || kick ||
		    out.choice == PEERPATH_CHOICE_RELAY;
		int64_t at;

		/* an idle LAN pair: renew its session before it stops counting as up, then
		 * look again soon to take the keepalive off */
		if (!ka && k->rec->online && wp != NULL) {
			if (peerpath_refresh_due(wp->last_handshake_s, now, &at)) {
				ka = true;
				at = now + 2;
			}
			if (at != 0 && (next == 0 || next > at))
				next = at;
		}
		d->keepalive_s = ka ? (uint16_t)a->conf->keepalive_s : 0;
	}
	if (out.reason != k->reason && (out.reason == NULL || k->reason == NULL ||
	    strcmp(out.reason, k->reason) != 0))
		a->paths_dirty = true;
	k->reason = out.reason;
	return next;
}

/* --- the paths file, for --show --------------------------------------------------------- */

void
agent_paths_save(struct agent *a)
{
	char tmp[sizeof(a->paths_path) + 8], b64[45], ep[64];
	FILE *fp;

	if (!a->paths_dirty || a->paths_path[0] == '\0')
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", a->paths_path);
	fp = fopen(tmp, "w");
	if (fp == NULL) {
		log_warn("%s", tmp);
		return;
	}
	fprintf(fp, "# wiresync-agent: the path to each peer (--show reads it)\n");
	fprintf(fp, "relay %s\n", a->relay.ss_family != 0 ? endpoint_format(&a->relay, ep,
	    sizeof(ep)) : "-");
	if (a->hub.on) {
		wg_key_to_base64(a->hub.key, b64);
		fprintf(fp, "%s %s\n", b64, a->hub.collides ? "hub (not added: key collides)" :
		    "hub");
	}
	for (size_t i = 0; i < a->n_known; i++) {
		wg_key_to_base64(a->known[i].id.key, b64);
		fprintf(fp, "%s %s\n", b64, a->known[i].reason != NULL ? a->known[i].reason :
		    "-");
	}
	if (ferror(fp) | (fclose(fp) != 0) || rename(tmp, a->paths_path) < 0) {
		log_warn("%s", a->paths_path);
		unlink(tmp);
		return;
	}
	a->paths_dirty = false;
}

bool
agent_paths_lookup(const char *path, const uint8_t key[WG_KEY_LEN], char *buf, size_t len)
{
	FILE *fp = fopen(path, "r");
	char line[256], b64[45];
	size_t kl;
	bool found = false;

	if (fp == NULL)
		return false;
	wg_key_to_base64(key, b64);
	kl = strlen(b64);
	while (!found && fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, b64, kl) != 0 || line[kl] != ' ')
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(buf, len, "%s", line + kl + 1);
		found = true;
	}
	fclose(fp);
	return found;
}
