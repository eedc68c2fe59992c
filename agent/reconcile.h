/* Desired peers (verified Watch state) against actual peers (what the interface reports):
 * the difference only. Peers the agent did not add are never touched. No I/O. */
#ifndef WS_RECONCILE_H
#define WS_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wg/wg.h"

struct desired_peer {
	uint8_t key[WG_KEY_LEN];
	bool has_endpoint;
	struct sockaddr_storage endpoint;
	uint16_t keepalive_s;
	size_t n_allowed;
	struct netaddr allowed[WG_ALLOWED_MAX];
	bool force;         /* write it even when the interface already matches (a network
	                       change: setting the endpoint drops WireGuard's cached source) */
	bool kick;          /* when written with a new endpoint (or forced), and keepalive_s is
	                       not 0: make WireGuard send at once, so NATs open within a round
	                       trip instead of at the next keepalive */
	bool rekey;         /* when written with a new endpoint: remove the peer first, so its
	                       session ends and the kick starts a handshake there (a probe
	                       from the relay: only a handshake makes the peer answer at once) */
};

/* The set of keys the agent added (kept in state_dir). */
struct owned_keys {
	size_t n, cap;
	uint8_t (*keys)[WG_KEY_LEN];
};

bool owned_has(const struct owned_keys *o, const uint8_t key[WG_KEY_LEN]);
/* 0 or -ENOMEM. */
int owned_add(struct owned_keys *o, const uint8_t key[WG_KEY_LEN]);
void owned_remove(struct owned_keys *o, const uint8_t key[WG_KEY_LEN]);
void owned_free(struct owned_keys *o);

struct reconcile_stats {
	size_t added, updated, removed, foreign;  /* foreign: desired but not ours to touch */
	size_t kicked;
};

/* Fills plan->peers (malloc'd; wg_device_free or free(plan->peers)) with what turns actual
 * into desired: new peers added (owned), owned peers whose endpoint, keepalive or allowed IPs
 * differ (or forced) updated, owned peers no longer desired removed. A kicked peer is written
 * twice, with keepalive 0 and then keepalive_s: WireGuard (kernel and wireguard-go) sends a
 * keepalive at once when the interval goes from 0 to N. A rekeyed peer that moves is first
 * removed (an entry with WG_PEER_REMOVE), then set in full. A desired key already on the
 * interface but not owned is left alone and counted as foreign. Updates owned (adds and
 * removals) to match the plan. Returns 0 or -ENOMEM. */
int reconcile_plan(const struct wg_device *actual, const struct desired_peer *desired,
    size_t n_desired, struct owned_keys *owned, struct wg_device *plan,
    struct reconcile_stats *stats);

#endif
