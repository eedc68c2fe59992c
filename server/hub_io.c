/* The hub's reads and writes of its WireGuard interface, and its publishes through the
 * service; the decisions are hub.c's. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cert.h"
#include "rpc/log.h"
#include "server/hub.h"
#include "server/hub_io.h"
#include "wg/wg.h"

#define READ_MS 1000
#define EXPIRY_SYNC_MS 60000

struct hub_io {
	struct loop *loop;
	struct service *svc;
	struct hub *hub;
	char ifname[WG_IFNAME_MAX];
	enum wg_backend backend;
	uint16_t port;
	struct loop_timer read_timer;
	struct loop_timer plan_timer;     /* a commit changed the peers */
	uint64_t planned_ms;              /* loop time of the last sync */
	uint64_t gap_ms;                  /* 20 times the last sync's cost */
	bool failing;                     /* the last read or write failed (logged once) */
	uint64_t observed_changes;
};

static void
io_failed(struct hub_io *io, const char *what, int r)
{
	if (!io->failing)
		log_warnx("hub_interface %s: %s: %s (retrying)", io->ifname, what, strerror(-r));
	io->failing = true;
}

static void
io_ok(struct hub_io *io)
{
	if (io->failing)
		log_info("hub_interface %s: reachable again", io->ifname);
	io->failing = false;
}

static const char *
reissue_hint(char *buf, size_t len, const char *ifkey)
{
	snprintf(buf, len, "reissue the server certificate with `wiresync-ca server NAME ... "
	    "--key %s`", ifkey);
	return buf;
}

int
hub_io_check(const char *ifname, X509 *cert, const char *cert_path, char *err,
    size_t errlen)
{
	enum wg_backend b;
	struct wg_device *dev = NULL;
	uint8_t bound[WG_KEY_LEN];
	char ifkey[45], certkey[45], why[200], hint[160];
	int r;

	if (ifname[0] == '\0' || strlen(ifname) >= WG_IFNAME_MAX || strchr(ifname, '/') != NULL) {
		snprintf(err, errlen, "hub_interface \"%s\": not an interface name (1 to %d "
		    "characters, no '/')", ifname, WG_IFNAME_MAX - 1);
		return -1;
	}
	b = wg_backend_detect(ifname);
	if ((r = wg_device_get(b, ifname, &dev)) < 0) {
		snprintf(err, errlen, "hub_interface %s: cannot read the WireGuard interface (%s): "
		    "%s%s", ifname, wg_backend_name(b), strerror(-r), r == -ENODEV ?
		    "; create it first (wireguard-go, or ip link add ... type wireguard) with a "
		    "private key and a listen port" : "");
		return -1;
	}
	r = -1;
	if (!dev->has_public_key) {
		snprintf(err, errlen, "hub_interface %s has no private key: set one (wg set %s "
		    "private-key FILE)", ifname, ifname);
		goto out;
	}
	wg_key_to_base64(dev->public_key, ifkey);
	if (dev->listen_port == 0) {
		snprintf(err, errlen, "hub_interface %s (key %s) has no listen port: set one (wg "
		    "set %s listen-port PORT); agents reach the hub there", ifname, ifkey, ifname);
		goto out;
	}
	switch (cert_hub_key(cert, bound, why, sizeof(why))) {
	case -1:
		snprintf(err, errlen, "hub_interface %s (key %s): certificate %s: %s; %s", ifname,
		    ifkey, cert_path, why, reissue_hint(hint, sizeof(hint), ifkey));
		goto out;
	case 0:
		snprintf(err, errlen, "hub_interface %s (key %s): certificate %s binds no hub key "
		    "(agents trust the hub by the key it binds); %s", ifname, ifkey, cert_path,
		    reissue_hint(hint, sizeof(hint), ifkey));
		goto out;
	default:
		if (memcmp(bound, dev->public_key, WG_KEY_LEN) != 0) {
			wg_key_to_base64(bound, certkey);
			snprintf(err, errlen, "hub_interface %s has key %s, but certificate %s binds "
			    "hub key %s; %s", ifname, ifkey, cert_path, certkey,
			    reissue_hint(hint, sizeof(hint), ifkey));
			goto out;
		}
	}
	r = 0;
out:
	wg_device_free(dev);
	return r;
}

struct want_ctx {
	struct hub_want *want;
	size_t n;
	int64_t now_s;
};

static int
want_one(const struct peer *p, void *arg)
{
	struct want_ctx *w = arg;
	struct cert_identity id;
	struct hub_want *h;
	char err[200];

	/* the store holds no revoked peer (the CRL removes them); expired ones stay */
	if (!cert_identity_from_der(p->cert, p->cert_len, &id, err, sizeof(err)) ||
	    id.not_after <= w->now_s || p->n_tunnel == 0)
		return 0;
	h = &w->want[w->n++];
	memcpy(h->key, p->key, WG_KEY_LEN);
	h->n_allowed = p->n_tunnel;
	memcpy(h->allowed, p->tunnel, p->n_tunnel * sizeof(p->tunnel[0]));
	return 0;
}

/* Makes the interface's peers the stored ones (dev: the interface as just read). */
static int
sync_peers(struct hub_io *io, const struct wg_device *dev)
{
	struct want_ctx w = { NULL, 0, (int64_t)time(NULL) };
	struct wg_device *plan = NULL;
	size_t add = 0, upd = 0, del = 0;
	struct timespec t0, t1;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	io->planned_ms = loop_now_ms(io->loop);
	w.want = calloc(service_peer_count(io->svc) + 1, sizeof(*w.want));
	if (w.want == NULL)
		return -ENOMEM;
	service_peers_foreach(io->svc, want_one, &w);
	r = hub_plan(io->hub, w.want, w.n, dev, &plan);
	free(w.want);
	if (r < 0)
		return r;
	if (plan->n_peers > 0) {
		snprintf(plan->ifname, sizeof(plan->ifname), "%s", io->ifname);
		if ((r = wg_device_set(io->backend, plan)) < 0) {
			wg_device_free(plan);
			return r;
		}
		for (size_t i = 0; i < plan->n_peers; i++) {
			const struct wg_peer *p = &plan->peers[i];
			const struct peer *rec = service_peer_get(io->svc, p->key);
			char b64[45];

			wg_key_to_base64(p->key, b64);
			if (p->flags & WG_PEER_REMOVE)
				del++;
			else if (wg_device_peer(dev, p->key) != NULL)
				upd++;
			else
				add++;
			log_debug("hub_interface %s: %s peer %s (%s)", io->ifname,
			    p->flags & WG_PEER_REMOVE ? "removed" : "set", b64,
			    rec != NULL ? rec->name : "no longer stored");
		}
		log_info("hub_interface %s: %zu peer(s) added, %zu updated, %zu removed; %zu in "
		    "all", io->ifname, add, upd, del, hub_count(io->hub) - del);
		hub_applied(io->hub, plan);
	}
	wg_device_free(plan);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* a sync reads every peer: in a large mesh that changes all the time it waits 20
	 * times as long as it took, so it never takes over 5 % of the loop */
	io->gap_ms = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000) * 20;
	return 0;
}

static int
read_and_sync(struct hub_io *io)
{
	struct wg_device *dev = NULL;
	int r;

	if ((r = wg_device_get(io->backend, io->ifname, &dev)) < 0) {
		io_failed(io, "reading its peers", r);
		return r;
	}
	if ((r = sync_peers(io, dev)) < 0)
		io_failed(io, "setting its peers", r);
	else
		io_ok(io);
	wg_device_free(dev);
	return r;
}

/* Publishes the endpoints hub_observe picks from this read. */
static void
observe(struct hub_io *io, const struct wg_device *dev)
{
	struct hub_sample *s;
	size_t n = 0;

	if (dev->n_peers == 0 || (s = calloc(dev->n_peers, sizeof(*s))) == NULL)
		return;
	for (size_t i = 0; i < dev->n_peers; i++) {
		const struct wg_peer *wp = &dev->peers[i];
		const struct peer *rec = service_peer_get(io->svc, wp->key);

		if (rec == NULL || !hub_is_ours(io->hub, wp->key))
			continue;
		memcpy(s[n].key, wp->key, WG_KEY_LEN);
		if (wp->flags & WG_PEER_HAS_ENDPOINT)
			hub_endpoint_format(&wp->endpoint.sa, s[n].endpoint, sizeof(s[n].endpoint));
		s[n].last_handshake_s = wp->last_handshake_s;
		snprintf(s[n].stored, sizeof(s[n].stored), "%s", rec->observed_endpoint);
		n++;
	}
	if (hub_observe(io->hub, s, n, loop_now_ms(io->loop), (int64_t)time(NULL)) > 0) {
		for (size_t i = 0; i < n; i++) {
			const struct peer *rec;

			if (!s[i].publish || (rec = service_peer_get(io->svc, s[i].key)) == NULL)
				continue;
			if (service_set_observed(io->svc, s[i].key, s[i].endpoint) < 0) {
				log_warnx("hub: out of memory publishing the endpoint of %s",
				    rec->name);
				continue;
			}
			io->observed_changes++;
			log_info("hub: %s of network %s is seen at %s (was %s)", rec->name,
			    rec->network, s[i].endpoint, s[i].stored[0] != '\0' ? s[i].stored :
			    "unknown");
		}
	}
	free(s);
}

static void
on_read_timer(void *arg)
{
	struct hub_io *io = arg;
	struct wg_device *dev = NULL;
	int r;

	if ((r = wg_device_get(io->backend, io->ifname, &dev)) < 0) {
		io_failed(io, "reading its peers", r);
	} else {
		/* a certificate expires without any change to the store */
		if (loop_now_ms(io->loop) - io->planned_ms >= EXPIRY_SYNC_MS &&
		    (r = sync_peers(io, dev)) < 0)
			io_failed(io, "setting its peers", r);
		else
			io_ok(io);
		observe(io, dev);
		wg_device_free(dev);
	}
	if (loop_timer_set(io->loop, &io->read_timer, READ_MS, on_read_timer, io) < 0)
		log_error("hub: read timer");
}

static void
on_plan_timer(void *arg)
{
	struct hub_io *io = arg;

	/* a failed write is tried again: at the next commit, read or minute */
	if (read_and_sync(io) < 0 && loop_timer_set(io->loop, &io->plan_timer,
	    io->gap_ms > READ_MS ? io->gap_ms : READ_MS, on_plan_timer, io) < 0)
		log_error("hub: sync timer");
}

static void
on_commit(void *arg, uint64_t revision)
{
	struct hub_io *io = arg;
	uint64_t now = loop_now_ms(io->loop), due = io->planned_ms + io->gap_ms;

	(void)revision;
	if (loop_timer_armed(&io->plan_timer))
		return;
	if (loop_timer_set(io->loop, &io->plan_timer, due > now ? due - now : 0, on_plan_timer,
	    io) < 0)
		log_error("hub: sync timer");
}

int
hub_io_new(struct loop *l, struct service *svc, const char *ifname, X509 *cert,
    const char *cert_path, struct hub_io **out, char *err, size_t errlen)
{
	struct hub_io *io;
	struct wg_device *dev = NULL;
	int r;

	*out = NULL;
	if (hub_io_check(ifname, cert, cert_path, err, errlen) < 0)
		return -1;
	if ((io = calloc(1, sizeof(*io))) == NULL || (io->hub = hub_new()) == NULL) {
		free(io);
		snprintf(err, errlen, "hub: out of memory");
		return -1;
	}
	io->loop = l;
	io->svc = svc;
	snprintf(io->ifname, sizeof(io->ifname), "%s", ifname);
	io->backend = wg_backend_detect(ifname);
	if ((r = wg_device_get(io->backend, ifname, &dev)) < 0 ||
	    (r = sync_peers(io, dev)) < 0) {
		snprintf(err, errlen, "hub_interface %s: setting its peers: %s", ifname,
		    strerror(-r));
		goto fail;
	}
	io->port = dev->listen_port;
	if (service_on_commit(svc, on_commit, io) < 0 ||
	    loop_timer_set(l, &io->read_timer, READ_MS, on_read_timer, io) < 0) {
		snprintf(err, errlen, "hub: event loop");
		goto fail;
	}
	wg_device_free(dev);
	*out = io;
	return 0;
fail:
	wg_device_free(dev);
	hub_io_del(io);
	return -1;
}

void
hub_io_del(struct hub_io *io)
{
	if (io == NULL)
		return;
	loop_timer_cancel(io->loop, &io->read_timer);
	loop_timer_cancel(io->loop, &io->plan_timer);
	hub_del(io->hub);
	free(io);
}

uint16_t
hub_io_port(const struct hub_io *io)
{
	return io->port;
}

void
hub_io_stats_get(const struct hub_io *io, struct hub_io_stats *st)
{
	st->peers = hub_count(io->hub);
	st->observed_changes = io->observed_changes;
}
