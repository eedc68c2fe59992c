/* Test helper for check_reconcile.c and check_reconcile_endpoint.c: the owned-key set the
 * fixture resets, desired peers and what the interface reports for them, and the plan
 * asserted in one call. */
#ifndef WS_RECONCILETEST_H
#define WS_RECONCILETEST_H

#include <stddef.h>
#include <stdint.h>

#include "agent/reconcile.h"

#define RT_FLAGS_SET (WG_PEER_REPLACE_ALLOWED | WG_PEER_HAS_KEEPALIVE | WG_PEER_HAS_ENDPOINT)

/* Emptied by rt_setup, freed by rt_teardown. */
extern struct owned_keys rt_owned;

/* The checked fixture of every reconcile case. */
void rt_setup(void);
void rt_teardown(void);

/* A key whose bytes are all b. */
void rt_key_fill(uint8_t key[WG_KEY_LEN], uint8_t b);
void rt_addr(struct netaddr *a, const char *s);
/* Sets d's endpoint from "ip" and port. */
void rt_desired_endpoint(struct desired_peer *d, const char *ip, uint16_t port);
/* Desired peer b: key all b, endpoint ip:port, keepalive 25, allowed 10.9.0.b and
 * fd00:9::b. */
struct desired_peer rt_desired(uint8_t b, const char *ip, uint16_t port);
/* What the interface reports for a peer that matches d exactly. */
struct wg_peer rt_actual_of(const struct desired_peer *d);
struct wg_device rt_device(struct wg_peer *peers, size_t n);
/* Runs reconcile_plan against rt_owned and asserts success. */
void rt_plan_ok(const struct wg_device *act, const struct desired_peer *des, size_t n,
    struct wg_device *plan, struct reconcile_stats *st);
/* Asserts p is a full set of d: flags, key, endpoint, keepalive, allowed IPs. */
void rt_assert_set_of(const struct wg_peer *p, const struct desired_peer *d);
/* Asserts plan is empty and stats all zero but foreign. */
void rt_assert_nothing(const struct wg_device *plan, const struct reconcile_stats *st,
    size_t foreign);
/* Two desired peers, both owned and on the interface exactly as desired. */
void rt_two_in_sync(struct desired_peer des[2], struct wg_peer act[2]);

#endif
