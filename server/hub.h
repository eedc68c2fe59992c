/* The hub's decisions (hub_interface), without I/O: which peers the server's WireGuard
 * interface gains or loses to match the store, and which endpoints seen there are worth
 * publishing as a peer's observed_endpoint. hub_io.c reads and writes the interface. */
#ifndef WS_HUB_H
#define WS_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/cert.h"
#include "common/netaddr.h"
#include "server/store.h"
#include "wg/wg.h"

#define HUB_LIVE_S 180          /* a handshake this recent is a live session */
#define HUB_SETTLE_MS 1000      /* a new endpoint must be seen on two reads this far apart */
#define HUB_PUBLISH_GAP_MS 5000 /* at most one publish per peer in this long */

struct hub;

/* An empty hub (no peer is ours yet), or NULL on ENOMEM. */
struct hub *hub_new(void);
void hub_del(struct hub *h);

/* One stored peer with a current certificate: it belongs on the interface with its
 * tunnel addresses as allowed IPs. */
struct hub_want {
	uint8_t key[WG_KEY_LEN];
	size_t n_allowed;
	struct netaddr allowed[CERT_TUNNEL_MAX];
};

/* The changes that make cur (the interface as just read) hold exactly want, into *out
 * (wg_device_free; n_peers 0 when nothing is to change): a missing peer is added with its
 * allowed IPs and neither endpoint nor keepalive; one of ours whose allowed IPs differ gets
 * them replaced (its endpoint, learnt from its packets, is left alone); one of ours no
 * longer wanted is removed. Peers the hub did not add are never touched, except that a
 * wanted key already there becomes ours (at start: the peers of a previous run). A want
 * with the interface's own key is skipped. Returns 0 or -ENOMEM. */
int hub_plan(struct hub *h, const struct hub_want *want, size_t n_want,
    const struct wg_device *cur, struct wg_device **out);
/* After plan was applied: its removed peers are no longer ours. */
void hub_applied(struct hub *h, const struct wg_device *plan);
/* Peers that are ours. */
size_t hub_count(const struct hub *h);
bool hub_is_ours(const struct hub *h, const uint8_t key[WG_KEY_LEN]);

/* One peer of one read of the interface. */
struct hub_sample {
	uint8_t key[WG_KEY_LEN];
	char endpoint[PEER_ENDPOINT_MAX];  /* as hub_endpoint_format; "" none */
	int64_t last_handshake_s;          /* wall clock; 0 never */
	char stored[PEER_ENDPOINT_MAX];    /* the peer's stored observed_endpoint */
	bool publish;                      /* out: publish endpoint as observed_endpoint */
};

/* Marks the samples whose endpoint is to be published, and returns how many: a peer of
 * ours with a live session (a handshake within HUB_LIVE_S of now_s) whose endpoint differs
 * from the stored one, seen on reads at least HUB_SETTLE_MS apart (now_ms: a monotonic
 * clock), and not published in the last HUB_PUBLISH_GAP_MS. Without a live session
 * nothing is published: an endpoint then is only the last packet's, maybe long gone. */
size_t hub_observe(struct hub *h, struct hub_sample *s, size_t n, uint64_t now_ms,
    int64_t now_s);

/* "ip:port" or "[v6]:port" (a v4-mapped v6 address as v4), as agents parse an
 * observed_endpoint; false ("" in buf) for another family. */
bool hub_endpoint_format(const struct sockaddr *sa, char *buf, size_t len);

#endif
