/* The fixture of the peerpath checks (test/check_peerpath*.c): a peer with three
 * candidates (LAN, observed, WAN) and a relay, stepped the way the agent steps it. */
#ifndef WS_TEST_PEERPATH_FX_H
#define WS_TEST_PEERPATH_FX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/peerpath.h"

#define T0 1000
#define TRIAL 15
#define PROBE 3

/* A peer with three candidates (LAN, observed, WAN) and a relay. in is what the interface
 * says: after each step the fixture writes the endpoint the step chose (and a rekey that
 * moved it starts the counters again, as re-adding the peer does); tests change in between
 * steps what WireGuard would (in.at when a packet comes from elsewhere, the counters). */
struct fx {
	struct peerpath pp;
	struct peerpath_in in;
	struct peerpath_out out;
	int read_at;            /* in.at at the previous step */
	bool stepped;
};

void fx_init(struct fx *f, size_t n, bool relay);
/* One step at t; then writes the chosen endpoint into in (a rekey that moves it starts the
 * counters again, as re-adding the peer does). */
void step_at(struct fx *f, int64_t t);
void assert_out(const struct fx *f, enum peerpath_state st, int choice, bool kick,
    const char *reason);
/* Walks the three candidates without an answer: on the relay at T0 + 3 * TRIAL. */
void walk_to_relay(struct fx *f);

#endif
