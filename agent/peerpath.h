/* Which path a peer is on: one of its direct candidates (agent/endpoint.c's list, in order:
 * LAN, observed mapping, WAN guess) or the server's relay. A pure state machine, fed with the
 * interface's handshake time and received bytes; no I/O, no clock, no rand. The agent steps
 * it, writes the endpoint it names and arms one timer for next_s.
 *
 * Evidence. Writing an endpoint does not make WireGuard handshake, and a handshake from
 * before the switch says nothing about the new path: a path is confirmed only by a
 * handshake newer than the one seen at the switch (and not before the switch's second), or
 * by rx bytes grown since the switch, or when the caller says the candidate is where
 * WireGuard followed the peer's own packets with a live session (live[]; an idle tunnel
 * sends nothing for 25 s), and never while the interface's endpoint is the relay address
 * (WireGuard roamed there: those bytes came over the relay). Every switch asks for
 * a kick (keepalive 0 -> N) so WireGuard sends at once.
 *
 * States and transitions ("restart" = TRIAL of candidate 0, or RELAY when there is none and
 * a relay is known, or IDLE):
 *   IDLE     nothing to reach the peer by.           Any candidate or a relay -> restart.
 *   TRIAL i  walking the list, i unconfirmed.        Confirmed -> DIRECT i. trial_timeout_s
 *            without -> TRIAL i+1; after the last -> RELAY when known, else TRIAL 0.
 *   DIRECT i i confirmed. Stays while alive: a handshake or rx growth less than live_s ago
 *            (WireGuard's session lifetime, 180 s). Dead -> restart.
 *   RELAY    on the relay. At probe_at_s -> PROBE of the next candidate (round robin).
 *            A fresh handshake while the interface's endpoint is not the relay (the peer's
 *            probe worked and WireGuard roamed to it) -> ROAMED. Relay no longer known ->
 *            restart.
 *   PROBE i  on candidate i, from the relay.          Confirmed -> DIRECT i, back-off reset.
 *            probe_timeout_s without -> RELAY, back-off doubled (probe_base_s .. probe_cap_s).
 *   ROAMED   WireGuard roamed off the relay to a direct address from the peer's packets:
 *            keep what the interface has. Alive as DIRECT; the endpoint back on the relay
 *            -> RELAY; dead -> restart.
 * A new candidate list (list_gen or n differs: the peer's record or our network changed)
 * restarts from any state, with the back-off reset.
 *
 * Probing costs the relayed session. WireGuard has one endpoint per peer, so the relay path
 * cannot stay up while a direct one is tried: during a probe our packets go to the
 * candidate. The peer still sends over the relay, and its first relayed packet roams our
 * endpoint back to the relay (a direct answer roams it forward again; evidence counts only
 * while the endpoint is off the relay), so the cut is outbound only and at most
 * probe_timeout_s (3 s). Short, because the probe's first initiation, sent by the kick, is
 * what can punch through; WireGuard's retry (after 5 s) would come too late anyway.
 * A failed probe ends with a switch back to the relay and a kick. (The agent rekeys the
 * peer on a probe, which ends the relayed session: then the cut is both ways, for the probe
 * and a handshake over the relay after it.)
 *
 * Hole punching needs both ends to send at about the same time. Both agents reach the relay
 * at about the same time (same timeouts); to keep their probes together the caller may pass
 * the same jitter on both ends (say a hash of the two public keys in sorted order) instead
 * of a random one. Delays are jittered within +-25%: d - d/4 + jitter % (d/2 + 1).
 *
 * The caller steps on its timer (next_s) and may step at any other time (a reconcile, a
 * record change): an early step changes nothing but the evidence it reads. An offline peer
 * should not be stepped (it cannot answer; its trial would run on).
 *
 * Wiring (agent/agent_path.c): one struct peerpath per known peer, peerpath_init with
 * trial_timeout_s = handshake_timeout_s; known_candidates bumps list_gen when the list
 * (addresses or kinds, endpoint_list.kind[]) changes; via_relay = the interface's endpoint
 * equals the relay address. Out: an index writes cands.addr[i], CHOICE_RELAY the relay
 * address, CHOICE_KEEP leaves the interface's endpoint, CHOICE_NONE none (path_choose still
 * keeps a roamed mapping over a guess, but never the relay over a direct choice); kick sets
 * desired_peer.kick (keepalive non-zero), and a switch into PROBE also rekeys the peer (a
 * keepalive in the relayed session draws no answer; a handshake does); one timer at the
 * smallest next_s; out.reason logged and saved for --show when it changes. */
#ifndef WS_PEERPATH_H
#define WS_PEERPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* choice: a candidate index (>= 0) or one of these */
#define PEERPATH_CHOICE_RELAY (-1)     /* the relay's address */
#define PEERPATH_CHOICE_KEEP (-2)      /* leave the interface's endpoint alone (ROAMED) */
#define PEERPATH_CHOICE_NONE (-3)      /* no endpoint to write */

enum peerpath_kind {
	PEERPATH_KIND_LAN,
	PEERPATH_KIND_OBSERVED,     /* the hub-observed mapping (observed_endpoint) */
	PEERPATH_KIND_WAN,          /* wan_ip with the listen port */
};

enum peerpath_state {
	PEERPATH_IDLE,
	PEERPATH_TRIAL,
	PEERPATH_DIRECT,
	PEERPATH_RELAY,
	PEERPATH_PROBE,
	PEERPATH_ROAMED,
};

struct peerpath_conf {
	uint32_t trial_timeout_s;   /* the walk: per candidate (the agent's handshake_timeout) */
	uint32_t probe_timeout_s;   /* a probe from the relay; short (3) */
	uint32_t probe_base_s;      /* first probe after reaching the relay (5) */
	uint32_t probe_cap_s;       /* back-off ceiling (300) */
	uint32_t live_s;            /* a session with no sign of life this long is dead (180) */
};

struct peerpath_in {
	int64_t now_s;
	size_t n;                           /* direct candidates, in order of preference */
	const enum peerpath_kind *kind;     /* n entries; NULL only when n is 0 */
	uint64_t list_gen;                  /* changes whenever the candidate list changes */
	bool relay;                         /* a relay address is known */
	bool via_relay;                     /* the interface's endpoint is the relay address */
	int64_t last_handshake_s;           /* of the peer on the interface; 0 never */
	uint64_t rx_bytes;                  /* of the peer on the interface */
	uint32_t jitter;                    /* any value; used when a probe is scheduled */
	const bool *live;                   /* n entries or NULL: candidate i is where WireGuard
	                                       followed the peer's own packets, with a live
	                                       session (evidence without a new handshake) */
};

struct peerpath_out {
	int choice;                 /* candidate index or PEERPATH_CHOICE_RELAY/_KEEP/_NONE */
	bool kick;                  /* a switch: make WireGuard send at once */
	bool confirmed;             /* evidence says the path works (always false on RELAY
	                               and IDLE: the relay is the last resort, not judged) */
	enum peerpath_state state;
	const char *reason;         /* static: "lan", "observed", "wan", "relay", "roamed",
	                               "trying wan", "probing observed", "-" ... */
	int64_t next_s;             /* step again then at the latest; 0: only on a change */
};

/* Caller-owned state of one peer. Fields are read-only for the caller (tests, --show). */
struct peerpath {
	struct peerpath_conf conf;
	enum peerpath_state state;
	bool started;
	size_t idx;                 /* TRIAL, DIRECT, PROBE: the candidate */
	size_t n;                   /* the list this state is about */
	uint64_t list_gen;
	int64_t switched_s;         /* when the endpoint was last switched */
	int64_t hs_at_switch;       /* last_handshake_s seen then */
	uint64_t rx_at_switch;      /* rx_bytes seen then (or at the last step, on RELAY) */
	int64_t alive_s;            /* DIRECT, ROAMED: last sign of life */
	uint32_t backoff_s;         /* the next probe's delay before jitter */
	int64_t probe_at_s;         /* RELAY: when to probe */
	size_t probe_next;          /* RELAY: the candidate to probe next */
};

/* Starts pp in IDLE with conf (copied); the first step restarts. Zero fields of conf take
 * the defaults above (handshake timeout 15 s). Never fails. */
void peerpath_init(struct peerpath *pp, const struct peerpath_conf *conf);

/* One step: reads in, moves pp, fills out. Never fails. */
void peerpath_step(struct peerpath *pp, const struct peerpath_in *in, struct peerpath_out *out);

/* "idle", "trial", "direct", "relay", "probe", "roamed". */
const char *peerpath_state_name(enum peerpath_state s);

/* "lan", "observed", "wan". */
const char *peerpath_kind_name(enum peerpath_kind k);

#endif
