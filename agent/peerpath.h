/* Which path a peer is on: one of its direct candidates (agent/endpoint.c's list, in order:
 * LAN, observed mapping, WAN guess) or the server's relay. A pure state machine, fed with the
 * interface's endpoint, handshake time and received bytes; no I/O, no clock, no rand. The
 * agent steps it, writes the endpoint it names and arms one timer for next_s.
 *
 * Evidence. WireGuard moves a peer's endpoint to the source of every authenticated packet
 * it receives, so the endpoint read at a step says where the last packet came from, unless
 * we wrote it since. Writing an endpoint does not make WireGuard handshake, and neither a
 * handshake nor bytes from before the write say anything about the new address. So a step
 * finds evidence at the address the interface shows (in.at) when, since the previous step,
 * a handshake happened, or bytes arrived and the endpoint is the one the previous step read
 * (in.at_changed false: nothing of ours moved it between the reads, so the last packet came
 * from there). A counter that went back means the peer was re-added (a rekey: see below),
 * and then anything counted came after the write. Evidence at the relay's address is never
 * evidence for a direct path. Evidence at the candidate on trial, or at a preferred one
 * (WireGuard followed the peer there), makes it the path; at a later one it does not (the
 * preferred is tried first: the peer may still send from the path both ends are leaving);
 * from the relay, any candidate. Evidence at an address that is no candidate (the peer's
 * mapping toward us, which nobody could predict) is ROAMED: keep what WireGuard has. The
 * first step after the agent starts takes a session WireGuard holds at a candidate while
 * it lives (last handshake less than live_s ago).
 *
 * Sending at once. A switch asks for a kick (keepalive 0 -> N); but WireGuard sends at most
 * one initiation per 5 s (REKEY_TIMEOUT), so a new candidate a few seconds into a trial
 * would hear nothing until the retry. A switch where no session works (the walk, the relay
 * after it, a probe and its return to the relay, most new lists) also asks for a rekey:
 * the agent removes and re-adds the peer, which forgets the last initiation, so the kick's
 * goes out at once.
 *
 * States and transitions ("restart" = TRIAL of candidate 0, or RELAY when there is none and
 * a relay is known, or IDLE):
 *   IDLE     nothing to reach the peer by.           Any candidate or a relay -> restart.
 *   TRIAL i  walking the list, i unconfirmed.        Evidence -> DIRECT or ROAMED.
 *            trial_timeout_s without -> TRIAL i+1; after the last -> RELAY when known,
 *            else TRIAL 0.
 *   DIRECT i i confirmed. Stays while alive: evidence less than live_s ago (WireGuard's
 *            session lifetime, 180 s). Dead -> restart.
 *   RELAY    on the relay. At probe_at_s -> PROBE. Evidence off the relay (the peer's probe
 *            worked and WireGuard followed it) -> DIRECT or ROAMED. Relay no longer known
 *            -> restart.
 *   PROBE i  on candidate i, from the relay.          Evidence -> DIRECT or ROAMED, back-off
 *            reset. probe_timeout_s without -> RELAY, back-off doubled (probe_base_s ..
 *            probe_cap_s).
 *   ROAMED   WireGuard follows the peer at an address of no candidate: keep what the
 *            interface has. Alive as DIRECT; the endpoint on the relay -> RELAY; dead ->
 *            restart.
 * A new candidate list (list_gen or n differs: the peer's record or our network changed)
 * restarts from any state, with the back-off reset and a rekey (an idle tunnel answers a
 * handshake and nothing else), except a working path (DIRECT, ROAMED) that heads the new
 * list (DIRECT there) or a ROAMED one still at no candidate: those stay.
 *
 * Probes together. Hole punching needs both ends to send to each other's mapping within a
 * NAT's idle timeout of each other. Probes happen on a grid of wall-clock seconds that both
 * ends compute alike: at t with (t + J) % backoff == 0, J the caller's jitter (the same on
 * both ends: a hash of the two public keys in sorted order) modulo the ceiling, and every
 * back-off probe_base_s * 2^k, so the grid of a longer back-off is part of the shorter's and
 * two ends that fell out of step meet again at the longer one's next probe. The candidate
 * probed is picked by a hash of t, so both ends probe the same kind at once. Not the same
 * second, though: a probe rekeys, and a rekey forgets every session, the one the other
 * end's probe made a moment ago too. So the end whose key sorts after the other's
 * (in.later) probes PEERPATH_LATER_S after the slot: by then the first end's handshake has
 * landed and this end's step takes it instead of probing; and its own initiation passes
 * the first end's NAT through the mapping the first probe made. Probing costs the relayed
 * session for probe_timeout_s (3 s): WireGuard has one endpoint per peer.
 *
 * Moved off the relay. On RELAY we wrote the relay's address; an endpoint read elsewhere
 * a second or more later is WireGuard following an authenticated packet from there (the
 * peer's probe, or its direct path while our end still relays), evidence without a new
 * handshake or an unmoved second read: ours steps rarely there, and its next step would
 * otherwise probe over the path that works.
 *
 * The caller steps on its timer (next_s) and may step at any other time (a reconcile, a
 * record change): an early step changes nothing but the evidence it reads. An offline peer
 * should not be stepped (it cannot answer; its trial would run on).
 *
 * Wiring (agent/agent_path.c): one struct peerpath per known peer, peerpath_init with
 * trial_timeout_s = handshake_timeout_s; known_candidates bumps list_gen when the list
 * (addresses or kinds, endpoint_list.kind[]) changes. Out: an index writes cands.addr[i],
 * CHOICE_RELAY the relay address, CHOICE_KEEP leaves the interface's endpoint, CHOICE_NONE
 * none; kick sets desired_peer.kick (keepalive non-zero), rekey desired_peer.rekey; one
 * timer at the smallest next_s; out.reason logged and saved for --show when it changes. */
#ifndef WS_PEERPATH_H
#define WS_PEERPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* choice: a candidate index (>= 0) or one of these */
#define PEERPATH_CHOICE_RELAY (-1)     /* the relay's address */
#define PEERPATH_CHOICE_KEEP (-2)      /* leave the interface's endpoint alone (ROAMED) */
#define PEERPATH_CHOICE_NONE (-3)      /* no endpoint to write */

/* the later end's probe lag: over one second, so the two ends' steps (each at its own
 * fraction of a second) never fall in the same second, and under the probe timeout, so the
 * first end is still on the candidate when the later one's initiation arrives */
#define PEERPATH_LATER_S 2

/* A pair without keepalive (on one LAN) makes no handshake while idle, and a pair counts as
 * up only with a handshake in the last 180 s (LINKREPORT_UP_S): a session this old is
 * renewed by a one-sided keepalive (past WireGuard's REKEY_AFTER_TIME, 120 s, a packet sent
 * starts a handshake). */
#define PEERPATH_REFRESH_S 150

/* in.at: a candidate index (>= 0) or one of these */
#define PEERPATH_AT_RELAY (-1)         /* the relay's address */
#define PEERPATH_AT_OTHER (-2)         /* an address that is no candidate */
#define PEERPATH_AT_NONE (-3)          /* no endpoint */

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
	uint32_t probe_cap_s;       /* back-off ceiling (320), rounded to probe_base_s * 2^k */
	uint32_t live_s;            /* a session with no sign of life this long is dead (180) */
};

struct peerpath_in {
	int64_t now_s;
	size_t n;                           /* direct candidates, in order of preference */
	const enum peerpath_kind *kind;     /* n entries; NULL only when n is 0 */
	uint64_t list_gen;                  /* changes whenever the candidate list changes */
	bool relay;                         /* a relay address is known */
	int at;                             /* where the interface's endpoint is: a candidate
	                                       index or PEERPATH_AT_RELAY/_OTHER/_NONE */
	bool at_changed;                    /* the endpoint differs from the one read at the
	                                       previous step (or that one is unknown) */
	int64_t last_handshake_s;           /* of the peer on the interface; 0 never */
	uint64_t rx_bytes;                  /* of the peer on the interface */
	uint32_t jitter;                    /* the same on both ends of the pair: the probe grid */
	bool later;                         /* our key sorts after the peer's: probe
	                                       PEERPATH_LATER_S after the grid's slot */
};

struct peerpath_out {
	int choice;                 /* candidate index or PEERPATH_CHOICE_RELAY/_KEEP/_NONE */
	bool kick;                  /* a switch: make WireGuard send at once */
	bool rekey;                 /* and no session works: re-add the peer first, so the
	                               kick's initiation is not held back */
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
	int64_t seen_hs;            /* last_handshake_s at the previous step */
	uint64_t seen_rx;           /* rx_bytes at the previous step */
	int64_t alive_s;            /* DIRECT, ROAMED: last evidence */
	uint32_t backoff_s;         /* the probe grid's spacing now */
	int64_t probe_at_s;         /* RELAY: when to probe */
};

/* Starts pp in IDLE with conf (copied); the first step restarts. Zero fields of conf take
 * the defaults above (handshake timeout 15 s). Never fails. */
void peerpath_init(struct peerpath *pp, const struct peerpath_conf *conf);

/* One step: reads in, moves pp, fills out. Never fails. */
void peerpath_step(struct peerpath *pp, const struct peerpath_in *in, struct peerpath_out *out);

/* Whether a session from last_handshake_s (0: none) wants renewing at now_s; when not,
 * *at_s is when it will (0: never, there is no session to renew). */
bool peerpath_refresh_due(int64_t last_handshake_s, int64_t now_s, int64_t *at_s);

/* "idle", "trial", "direct", "relay", "probe", "roamed". */
const char *peerpath_state_name(enum peerpath_state s);

/* "lan", "observed", "wan". */
const char *peerpath_kind_name(enum peerpath_kind k);

#endif
