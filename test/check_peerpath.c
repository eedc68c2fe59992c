/* Tests for agent/peerpath.c: the walk over a peer's candidates, the relay, probes back to
 * direct, and the evidence that confirms a path. */
#include "config.h"

#include <string.h>

#include "agent/peerpath.h"
#include "test/check_suites.h"

#define T0 1000
#define TRIAL 15
#define PROBE 3

static const enum peerpath_kind kinds3[] = { PEERPATH_KIND_LAN, PEERPATH_KIND_OBSERVED,
	PEERPATH_KIND_WAN };

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

static void
fx_init(struct fx *f, size_t n, bool relay)
{
	struct peerpath_conf c = { .trial_timeout_s = TRIAL, .probe_timeout_s = PROBE,
		.probe_base_s = 5, .probe_cap_s = 320, .live_s = 180 };

	memset(f, 0, sizeof(*f));
	peerpath_init(&f->pp, &c);
	f->in.now_s = T0;
	f->in.n = n;
	f->in.kind = n > 0 ? kinds3 : NULL;
	f->in.list_gen = 1;
	f->in.relay = relay;
	f->in.at = PEERPATH_AT_NONE;
}

static void
step_at(struct fx *f, int64_t t)
{
	int to;

	f->in.now_s = t;
	f->in.at_changed = !f->stepped || f->in.at != f->read_at;
	peerpath_step(&f->pp, &f->in, &f->out);
	f->read_at = f->in.at;
	f->stepped = true;
	switch (f->out.choice) {
	case PEERPATH_CHOICE_KEEP: to = f->in.at; break;
	case PEERPATH_CHOICE_NONE: to = PEERPATH_AT_NONE; break;
	case PEERPATH_CHOICE_RELAY: to = PEERPATH_AT_RELAY; break;
	default: to = f->out.choice; break;
	}
	if (f->out.rekey && to != f->in.at) {
		f->in.rx_bytes = 0;
		f->in.last_handshake_s = 0;
	}
	f->in.at = to;
}

static void
assert_out(const struct fx *f, enum peerpath_state st, int choice, bool kick,
    const char *reason)
{
	ck_assert_msg(f->out.state == st, "state %s, want %s", peerpath_state_name(f->out.state),
	    peerpath_state_name(st));
	ck_assert_int_eq(f->out.choice, choice);
	ck_assert_msg(f->out.kick == kick, "kick %d, want %d", f->out.kick, kick);
	ck_assert_str_eq(f->out.reason, reason);
}

/* Walks the three candidates without an answer: on the relay at T0 + 3 * TRIAL. */
static void
walk_to_relay(struct fx *f)
{
	step_at(f, T0);
	step_at(f, T0 + TRIAL);
	step_at(f, T0 + 2 * TRIAL);
	step_at(f, T0 + 3 * TRIAL);
	assert_out(f, PEERPATH_RELAY, PEERPATH_CHOICE_RELAY, true, "relay");
	ck_assert(f->out.rekey);
}

/* --- core: the walk ---------------------------------------------------------------------- */

START_TEST(test_first_step_tries_first)
{
	struct fx f;

	fx_init(&f, 3, true);
	step_at(&f, T0);
	assert_out(&f, PEERPATH_TRIAL, 0, true, "trying lan");
	/* no session works: re-added, so the kick's initiation goes out at once */
	ck_assert(f.out.rekey);
	ck_assert(!f.out.confirmed);
	ck_assert_int_eq(f.out.next_s, T0 + TRIAL);
}
END_TEST

START_TEST(test_trial_confirmed_by_handshake)
{
	struct fx f;

	fx_init(&f, 3, true);
	step_at(&f, T0);
	f.in.last_handshake_s = T0 + 2;
	step_at(&f, T0 + 3);
	assert_out(&f, PEERPATH_DIRECT, 0, false, "lan");
	ck_assert(f.out.confirmed);
	ck_assert(!f.out.rekey);
	ck_assert_int_eq(f.out.next_s, T0 + 3 + 180);
}
END_TEST

START_TEST(test_trial_confirmed_by_rx)
{
	struct fx f;

	/* the endpoint already was candidate 0 (no write): bytes from there are evidence */
	fx_init(&f, 3, true);
	f.in.at = 0;
	f.in.rx_bytes = 5000;
	f.in.last_handshake_s = T0 - 400;
	step_at(&f, T0);
	assert_out(&f, PEERPATH_TRIAL, 0, true, "trying lan");
	f.in.rx_bytes = 5032;
	step_at(&f, T0 + 1);
	assert_out(&f, PEERPATH_DIRECT, 0, false, "lan");
}
END_TEST

/* Bytes counted across our own write are no evidence: they may have come over the relay
 * before the write moved the endpoint. The next step's bytes are. */
START_TEST(test_rx_across_a_write_does_not_count)
{
	struct fx f;

	fx_init(&f, 3, true);
	step_at(&f, T0);
	f.in.last_handshake_s = T0 + 1;
	step_at(&f, T0 + 1);
	assert_out(&f, PEERPATH_DIRECT, 0, false, "lan");
	/* the peer sends over the relay: WireGuard follows it there; we write ours back */
	f.in.at = PEERPATH_AT_RELAY;
	f.in.rx_bytes = 1000;
	step_at(&f, T0 + 100);
	ck_assert_int_eq(f.out.choice, 0);
	ck_assert_int_eq(f.pp.alive_s, T0 + 1);
	f.in.rx_bytes = 2000;
	step_at(&f, T0 + 101);
	ck_assert_int_eq(f.pp.alive_s, T0 + 1);
	/* the endpoint stayed ours and bytes came: they came from candidate 0 */
	f.in.rx_bytes = 2100;
	step_at(&f, T0 + 102);
	ck_assert_int_eq(f.pp.alive_s, T0 + 102);
}
END_TEST

/* WireGuard followed the peer to a preferred candidate: that one is the path, no switch;
 * to a later one, the trial goes on (the preferred is tried first). */
START_TEST(test_trial_evidence_at_other_candidate)
{
	struct fx f;

	fx_init(&f, 3, true);
	step_at(&f, T0);
	f.in.at = 2;
	f.in.last_handshake_s = T0 + 1;
	step_at(&f, T0 + 1);
	assert_out(&f, PEERPATH_TRIAL, 0, false, "trying lan");
	step_at(&f, T0 + TRIAL);
	step_at(&f, T0 + 2 * TRIAL);
	assert_out(&f, PEERPATH_TRIAL, 2, true, "trying wan");
	f.in.at = 1;
	f.in.last_handshake_s = T0 + 2 * TRIAL + 1;
	step_at(&f, T0 + 2 * TRIAL + 1);
	assert_out(&f, PEERPATH_DIRECT, 1, false, "observed");
}
END_TEST

/* ... or to an address no candidate names (the peer's mapping toward us): keep it. */
START_TEST(test_trial_evidence_elsewhere_roams)
{
	struct fx f;

	fx_init(&f, 3, true);
	step_at(&f, T0);
	f.in.at = PEERPATH_AT_OTHER;
	f.in.last_handshake_s = T0 + 2;
	step_at(&f, T0 + 2);
	assert_out(&f, PEERPATH_ROAMED, PEERPATH_CHOICE_KEEP, false, "roamed");
	ck_assert(f.out.confirmed);
}
END_TEST

/* The trial's handshake or bytes while the endpoint is the relay's are the relay's. */
START_TEST(test_trial_relayed_evidence_ignored)
{
	struct fx f;

	fx_init(&f, 3, true);
	step_at(&f, T0);
	f.in.at = PEERPATH_AT_RELAY;
	f.in.last_handshake_s = T0 + 1;
	f.in.rx_bytes = 300;
	step_at(&f, T0 + 1);
	assert_out(&f, PEERPATH_TRIAL, 0, false, "trying lan");
	/* written back to candidate 0; the relayed handshake is not news there */
	step_at(&f, T0 + 2);
	assert_out(&f, PEERPATH_TRIAL, 0, false, "trying lan");
}
END_TEST

START_TEST(test_trial_handshake_same_second_counts)
{
	struct fx f;

	fx_init(&f, 3, true);
	step_at(&f, T0);
	f.in.last_handshake_s = T0;
	step_at(&f, T0);
	ck_assert(f.out.state == PEERPATH_DIRECT);
}
END_TEST

/* The first step takes a live session WireGuard holds at a candidate (an agent restart
 * keeps working tunnels), not one older than a session lives. */
START_TEST(test_first_step_takes_live_session)
{
	struct fx f;

	fx_init(&f, 3, true);
	f.in.at = 1;
	f.in.last_handshake_s = T0 - 30;
	step_at(&f, T0);
	assert_out(&f, PEERPATH_DIRECT, 1, true, "observed");
	fx_init(&f, 3, true);
	f.in.at = 1;
	f.in.last_handshake_s = T0 - 180;
	step_at(&f, T0);
	assert_out(&f, PEERPATH_TRIAL, 0, true, "trying lan");
}
END_TEST

START_TEST(test_seen_handshake_does_not_confirm)
{
	struct fx f;

	/* a handshake the previous step saw says nothing new */
	fx_init(&f, 3, true);
	f.in.at = 0;
	f.in.last_handshake_s = T0 - 300;
	step_at(&f, T0);
	step_at(&f, T0 + 5);
	assert_out(&f, PEERPATH_TRIAL, 0, false, "trying lan");
	step_at(&f, T0 + TRIAL);
	assert_out(&f, PEERPATH_TRIAL, 1, true, "trying observed");
}
END_TEST

START_TEST(test_trial_waits_for_timeout)
{
	struct fx f;

	fx_init(&f, 3, true);
	step_at(&f, T0);
	step_at(&f, T0 + TRIAL - 1);
	assert_out(&f, PEERPATH_TRIAL, 0, false, "trying lan");
	ck_assert_int_eq(f.out.next_s, T0 + TRIAL);
}
END_TEST

START_TEST(test_trial_advances_in_order)
{
	struct fx f;

	fx_init(&f, 3, true);
	step_at(&f, T0);
	step_at(&f, T0 + TRIAL);
	assert_out(&f, PEERPATH_TRIAL, 1, true, "trying observed");
	ck_assert(f.out.rekey);
	ck_assert_int_eq(f.out.next_s, T0 + 2 * TRIAL);
	step_at(&f, T0 + 2 * TRIAL);
	assert_out(&f, PEERPATH_TRIAL, 2, true, "trying wan");
	ck_assert(f.out.rekey);
	ck_assert_int_eq(f.out.next_s, T0 + 3 * TRIAL);
}
END_TEST

START_TEST(test_after_last_goes_to_relay)
{
	struct fx f;

	fx_init(&f, 3, true);
	walk_to_relay(&f);
	ck_assert(!f.out.confirmed);
	/* jitter 0: the next second on the 5 s grid after 1045 */
	ck_assert_int_eq(f.out.next_s, 1050);
}
END_TEST

START_TEST(test_no_relay_keeps_cycling)
{
	struct fx f;

	fx_init(&f, 2, false);
	step_at(&f, T0);
	step_at(&f, T0 + TRIAL);
	assert_out(&f, PEERPATH_TRIAL, 1, true, "trying observed");
	step_at(&f, T0 + 2 * TRIAL);
	assert_out(&f, PEERPATH_TRIAL, 0, true, "trying lan");
}
END_TEST

START_TEST(test_relay_known_late_ends_walk)
{
	struct fx f;

	fx_init(&f, 2, false);
	step_at(&f, T0);
	step_at(&f, T0 + TRIAL);
	f.in.relay = true;
	step_at(&f, T0 + 2 * TRIAL);
	assert_out(&f, PEERPATH_RELAY, PEERPATH_CHOICE_RELAY, true, "relay");
}
END_TEST

START_TEST(test_wan_reason)
{
	static const enum peerpath_kind k[] = { PEERPATH_KIND_WAN };
	struct fx f;

	fx_init(&f, 1, false);
	f.in.kind = k;
	step_at(&f, T0);
	assert_out(&f, PEERPATH_TRIAL, 0, true, "trying wan");
	f.in.last_handshake_s = T0 + 1;
	step_at(&f, T0 + 1);
	assert_out(&f, PEERPATH_DIRECT, 0, false, "wan");
}
END_TEST

/* --- core: direct ------------------------------------------------------------------------- */

START_TEST(test_direct_stays_while_alive)
{
	struct fx f;

	fx_init(&f, 3, true);
	step_at(&f, T0);
	f.in.last_handshake_s = T0 + 1;
	step_at(&f, T0 + 1);
	ck_assert(f.out.state == PEERPATH_DIRECT);
	/* keepalives arrive: rx grows, the session lives on past the handshake's 180 s */
	f.in.rx_bytes = 32;
	step_at(&f, T0 + 170);
	assert_out(&f, PEERPATH_DIRECT, 0, false, "lan");
	ck_assert_int_eq(f.out.next_s, T0 + 170 + 180);
	f.in.last_handshake_s = T0 + 200;
	step_at(&f, T0 + 300);
	assert_out(&f, PEERPATH_DIRECT, 0, false, "lan");
	ck_assert_int_eq(f.out.next_s, T0 + 300 + 180);
}
END_TEST

START_TEST(test_direct_dead_restarts)
{
	struct fx f;

	fx_init(&f, 3, true);
	step_at(&f, T0);
	step_at(&f, T0 + TRIAL);
	f.in.last_handshake_s = T0 + TRIAL + 1;
	step_at(&f, T0 + TRIAL + 1);
	assert_out(&f, PEERPATH_DIRECT, 1, false, "observed");
	step_at(&f, T0 + TRIAL + 1 + 179);
	ck_assert(f.out.state == PEERPATH_DIRECT);
	step_at(&f, T0 + TRIAL + 1 + 180);
	assert_out(&f, PEERPATH_TRIAL, 0, true, "trying lan");
}
END_TEST

/* Direct, the peer's packets now come from a preferred candidate: WireGuard's, no switch;
 * from a later one, the session lives but the path stays. */
START_TEST(test_direct_follows_wireguard)
{
	struct fx f;

	fx_init(&f, 3, true);
	step_at(&f, T0);
	step_at(&f, T0 + TRIAL);
	f.in.last_handshake_s = T0 + TRIAL + 1;
	step_at(&f, T0 + TRIAL + 1);
	assert_out(&f, PEERPATH_DIRECT, 1, false, "observed");
	/* from the WAN candidate, twice (the first read is across our write-back) */
	f.in.at = 2;
	f.in.rx_bytes = 64;
	step_at(&f, T0 + 30);
	f.in.at = 2;
	f.in.rx_bytes = 128;
	step_at(&f, T0 + 31);
	assert_out(&f, PEERPATH_DIRECT, 1, false, "observed");
	ck_assert_int_eq(f.pp.alive_s, T0 + 31);
	/* from the LAN candidate */
	f.in.at = 0;
	f.in.rx_bytes = 192;
	step_at(&f, T0 + 40);
	assert_out(&f, PEERPATH_DIRECT, 1, false, "observed");
	f.in.at = 0;
	f.in.rx_bytes = 256;
	step_at(&f, T0 + 41);
	assert_out(&f, PEERPATH_DIRECT, 0, false, "lan");
}
END_TEST

START_TEST(test_early_step_changes_nothing)
{
	struct fx f;

	fx_init(&f, 3, true);
	step_at(&f, T0);
	step_at(&f, T0);
	assert_out(&f, PEERPATH_TRIAL, 0, false, "trying lan");
	walk_to_relay(&f);
	step_at(&f, T0 + 3 * TRIAL + 1);
	assert_out(&f, PEERPATH_RELAY, PEERPATH_CHOICE_RELAY, false, "relay");
	ck_assert_int_eq(f.out.next_s, 1050);
}
END_TEST

/* --- core: the relay and probes ----------------------------------------------------------- */

START_TEST(test_relay_probes_on_grid)
{
	struct fx f;
	int64_t t;

	fx_init(&f, 3, true);
	walk_to_relay(&f);
	t = f.out.next_s;
	step_at(&f, t - 1);
	assert_out(&f, PEERPATH_RELAY, PEERPATH_CHOICE_RELAY, false, "relay");
	step_at(&f, t);
	ck_assert(f.out.state == PEERPATH_PROBE);
	ck_assert(f.out.kick && f.out.rekey);
	ck_assert_int_ge(f.out.choice, 0);
	ck_assert_int_lt(f.out.choice, 3);
	ck_assert_int_eq(f.out.next_s, t + PROBE);
}
END_TEST

START_TEST(test_probe_fails_back_to_relay)
{
	struct fx f;
	int64_t t;

	fx_init(&f, 3, true);
	walk_to_relay(&f);
	t = f.out.next_s;
	step_at(&f, t);
	step_at(&f, t + PROBE - 1);
	ck_assert(f.out.state == PEERPATH_PROBE);
	ck_assert(!f.out.kick);
	step_at(&f, t + PROBE);
	assert_out(&f, PEERPATH_RELAY, PEERPATH_CHOICE_RELAY, true, "relay");
	/* back on the relay with a new handshake at once */
	ck_assert(f.out.rekey);
	ck_assert_uint_eq(f.pp.backoff_s, 10);
	/* 1050 + 3 = 1053: the next second on the 10 s grid is 1060 */
	ck_assert_int_eq(f.out.next_s, 1060);
}
END_TEST

START_TEST(test_backoff_doubles_and_caps)
{
	static const uint32_t want[] = { 10, 20, 40, 80, 160, 320, 320, 320 };
	struct fx f;

	fx_init(&f, 3, true);
	walk_to_relay(&f);
	ck_assert_uint_eq(f.pp.backoff_s, 5);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int64_t t = f.out.next_s;

		step_at(&f, t);
		ck_assert(f.out.state == PEERPATH_PROBE);
		step_at(&f, t + PROBE);
		ck_assert(f.out.state == PEERPATH_RELAY);
		ck_assert_uint_eq(f.pp.backoff_s, want[i]);
		ck_assert_int_eq(f.out.next_s % want[i], 0);
		ck_assert_int_gt(f.out.next_s, t + PROBE);
		ck_assert_int_le(f.out.next_s, t + PROBE + want[i]);
	}
}
END_TEST

/* Probe times sit on the pair's grid: (t + jitter % 320) % back-off == 0, the first such
 * second after now. */
START_TEST(test_probe_grid_offset)
{
	struct fx f;

	for (uint32_t j = 0; j < 50; j++) {
		uint32_t jit = j * 7919u;
		fx_init(&f, 3, true);
		f.in.jitter = jit;
		walk_to_relay(&f);
		ck_assert_int_eq((f.out.next_s + jit % 320) % 5, 0);
		ck_assert_int_ge(f.out.next_s - (T0 + 3 * TRIAL), 1);
		ck_assert_int_le(f.out.next_s - (T0 + 3 * TRIAL), 5);
	}
}
END_TEST

/* Two ends of one pair that reached the relay at different times, each failing its probes
 * alone, meet: the first end probes at a slot, the later one PEERPATH_LATER_S after it, on
 * the same kind of candidate. */
START_TEST(test_probe_ends_meet)
{
	struct fx a, b;
	bool met = false;

	for (int64_t lag = 0; lag < 12; lag++) {
		int64_t ta = 0;
		int ca = 0;

		fx_init(&a, 2, true);
		fx_init(&b, 2, true);
		a.in.jitter = b.in.jitter = 12345;
		b.in.later = true;
		step_at(&a, T0);
		step_at(&a, T0 + TRIAL);
		step_at(&a, T0 + 2 * TRIAL);
		step_at(&b, T0 + lag);
		step_at(&b, T0 + lag + TRIAL);
		step_at(&b, T0 + lag + 2 * TRIAL);
		ck_assert(a.out.state == PEERPATH_RELAY && b.out.state == PEERPATH_RELAY);
		met = false;
		for (int64_t t = T0 + 2 * TRIAL + 1; t < T0 + 400 && !met; t++) {
			step_at(&a, t);
			step_at(&b, t);
			if (a.out.state == PEERPATH_PROBE && a.out.kick)
				ta = t, ca = a.out.choice;
			/* never the same second: each one's rekey would drop the other's */
			ck_assert(!(a.out.kick && b.out.kick && a.out.state == PEERPATH_PROBE &&
			    b.out.state == PEERPATH_PROBE));
			met = b.out.state == PEERPATH_PROBE && b.out.kick && ta > 0 &&
			    t == ta + PEERPATH_LATER_S && b.out.choice == ca;
		}
		ck_assert_msg(met, "lag %lld: the ends never probed together", (long long)lag);
	}
}
END_TEST

/* The first end's probe gets through while the later end is on the relay: at its own
 * probe time the later end finds the handshake and takes it, with no probe and no rekey
 * (which would forget the session just made). */
START_TEST(test_later_end_takes_first_probe)
{
	struct fx b;
	int64_t t;

	fx_init(&b, 2, true);
	b.in.later = true;
	step_at(&b, T0);
	step_at(&b, T0 + TRIAL);
	step_at(&b, T0 + 2 * TRIAL);
	ck_assert(b.out.state == PEERPATH_RELAY);
	t = b.out.next_s;
	/* the first end probed at t - LATER: WireGuard answered it and followed it */
	b.in.at = PEERPATH_AT_OTHER;
	b.in.last_handshake_s = t - PEERPATH_LATER_S;
	step_at(&b, t);
	assert_out(&b, PEERPATH_ROAMED, PEERPATH_CHOICE_KEEP, false, "roamed");
	ck_assert(!b.out.rekey);
}
END_TEST

/* On the relay, an endpoint WireGuard moved elsewhere is evidence by itself: the peer
 * sends directly with the session it has (no new handshake), the read just moved. */
START_TEST(test_relay_moved_off_is_evidence)
{
	struct fx f;
	int64_t t;

	fx_init(&f, 3, true);
	walk_to_relay(&f);
	t = T0 + 3 * TRIAL;
	/* not in the second the relay was written: that read may predate the write */
	f.in.at = 2;
	step_at(&f, t);
	ck_assert(f.out.state == PEERPATH_RELAY);
	f.in.at = 2;
	step_at(&f, t + 1);
	assert_out(&f, PEERPATH_DIRECT, 2, false, "wan");
	/* and at an address no candidate names */
	fx_init(&f, 3, true);
	walk_to_relay(&f);
	f.in.at = PEERPATH_AT_OTHER;
	step_at(&f, t + 4);
	assert_out(&f, PEERPATH_ROAMED, PEERPATH_CHOICE_KEEP, false, "roamed");
}
END_TEST

START_TEST(test_probe_confirmed_by_handshake)
{
	struct fx f;
	int64_t t;

	fx_init(&f, 3, true);
	walk_to_relay(&f);
	/* fail one probe to grow the back-off, then the next one works */
	t = f.out.next_s;
	step_at(&f, t);
	step_at(&f, t + PROBE);
	t = f.out.next_s;
	step_at(&f, t);
	ck_assert(f.out.state == PEERPATH_PROBE);
	f.in.last_handshake_s = t + 1;
	step_at(&f, t + 1);
	ck_assert(f.out.state == PEERPATH_DIRECT);
	ck_assert(f.out.confirmed);
	ck_assert(!f.out.kick);
	ck_assert_uint_eq(f.pp.backoff_s, 5);
}
END_TEST

START_TEST(test_probe_confirmed_by_rx)
{
	struct fx f;
	int64_t t;

	/* re-added for the probe: the counter starts again, what it counts came after */
	fx_init(&f, 3, true);
	f.in.rx_bytes = 1000;
	walk_to_relay(&f);
	f.in.rx_bytes = 1000;
	step_at(&f, T0 + 3 * TRIAL + 1);
	t = f.out.next_s;
	step_at(&f, t);
	ck_assert(f.out.state == PEERPATH_PROBE);
	ck_assert_uint_eq(f.in.rx_bytes, 0);
	f.in.rx_bytes = 148;
	step_at(&f, t + 1);
	ck_assert(f.out.state == PEERPATH_DIRECT);
}
END_TEST

START_TEST(test_probe_relayed_bytes_do_not_confirm)
{
	struct fx f;
	int64_t t;

	/* the peer still sends over the relay and WireGuard followed it back there */
	fx_init(&f, 3, true);
	walk_to_relay(&f);
	t = f.out.next_s;
	step_at(&f, t);
	f.in.at = PEERPATH_AT_RELAY;
	f.in.rx_bytes = 4096;
	f.in.last_handshake_s = t + 1;
	step_at(&f, t + 1);
	ck_assert(f.out.state == PEERPATH_PROBE);
	/* written back to the candidate, the relayed counters are no news there */
	step_at(&f, t + 2);
	ck_assert(f.out.state == PEERPATH_PROBE);
	step_at(&f, t + PROBE);
	assert_out(&f, PEERPATH_RELAY, PEERPATH_CHOICE_RELAY, true, "relay");
}
END_TEST

START_TEST(test_relay_peer_probe_roams)
{
	struct fx f;
	int64_t t;

	fx_init(&f, 3, true);
	walk_to_relay(&f);
	f.in.last_handshake_s = T0 + 3 * TRIAL + 1;    /* over the relay: no news */
	f.in.rx_bytes = 500;
	step_at(&f, T0 + 3 * TRIAL + 2);
	assert_out(&f, PEERPATH_RELAY, PEERPATH_CHOICE_RELAY, false, "relay");
	/* the peer's probe got through: WireGuard moved off the relay */
	t = T0 + 3 * TRIAL + 3;
	f.in.at = PEERPATH_AT_OTHER;
	f.in.last_handshake_s = t;
	step_at(&f, t);
	assert_out(&f, PEERPATH_ROAMED, PEERPATH_CHOICE_KEEP, false, "roamed");
	ck_assert(f.out.confirmed);
	ck_assert_int_eq(f.out.next_s, t + 180);
	/* and back onto the relay when the peer returns there */
	f.in.at = PEERPATH_AT_RELAY;
	step_at(&f, t + 60);
	assert_out(&f, PEERPATH_RELAY, PEERPATH_CHOICE_RELAY, true, "relay");
	ck_assert(!f.out.rekey);
}
END_TEST

START_TEST(test_relay_peer_probe_to_candidate)
{
	struct fx f;

	fx_init(&f, 3, true);
	walk_to_relay(&f);
	f.in.at = 1;
	f.in.last_handshake_s = T0 + 3 * TRIAL + 2;
	step_at(&f, T0 + 3 * TRIAL + 2);
	assert_out(&f, PEERPATH_DIRECT, 1, false, "observed");
}
END_TEST

START_TEST(test_roamed_dead_restarts)
{
	struct fx f;
	int64_t t = T0 + 3 * TRIAL + 1;

	fx_init(&f, 3, true);
	walk_to_relay(&f);
	f.in.at = PEERPATH_AT_OTHER;
	f.in.last_handshake_s = t;
	step_at(&f, t);
	ck_assert(f.out.state == PEERPATH_ROAMED);
	step_at(&f, t + 180);
	assert_out(&f, PEERPATH_TRIAL, 0, true, "trying lan");
	ck_assert(!f.out.rekey);
}
END_TEST

START_TEST(test_relay_lost_restarts)
{
	struct fx f;

	fx_init(&f, 3, true);
	walk_to_relay(&f);
	f.in.relay = false;
	step_at(&f, T0 + 3 * TRIAL + 1);
	assert_out(&f, PEERPATH_TRIAL, 0, true, "trying lan");
}
END_TEST

/* --- core: the candidate list ------------------------------------------------------------ */

START_TEST(test_list_change_restarts_direct)
{
	struct fx f;

	fx_init(&f, 3, true);
	step_at(&f, T0);
	step_at(&f, T0 + TRIAL);
	f.in.last_handshake_s = T0 + TRIAL + 1;
	step_at(&f, T0 + TRIAL + 1);
	assert_out(&f, PEERPATH_DIRECT, 1, false, "observed");
	f.in.list_gen++;
	step_at(&f, T0 + TRIAL + 2);
	assert_out(&f, PEERPATH_TRIAL, 0, true, "trying lan");
	/* the preferred candidate is tried with a handshake */
	ck_assert(f.out.rekey);
	/* nothing seen before the change confirms the new first candidate */
	step_at(&f, T0 + TRIAL + 3);
	assert_out(&f, PEERPATH_TRIAL, 0, false, "trying lan");
}
END_TEST

/* A new list headed by the working path, or a roamed path no candidate names: no walk. */
START_TEST(test_list_change_keeps_working)
{
	struct fx f;

	fx_init(&f, 3, true);
	step_at(&f, T0);
	f.in.last_handshake_s = T0 + 1;
	step_at(&f, T0 + 1);
	assert_out(&f, PEERPATH_DIRECT, 0, false, "lan");
	f.in.list_gen++;
	f.in.n = 2;
	step_at(&f, T0 + 2);
	assert_out(&f, PEERPATH_DIRECT, 0, false, "lan");
	step_at(&f, T0 + 3);
	assert_out(&f, PEERPATH_DIRECT, 0, false, "lan");
	f.in.at = PEERPATH_AT_OTHER;
	f.in.last_handshake_s = T0 + 4;
	step_at(&f, T0 + 4);
	assert_out(&f, PEERPATH_ROAMED, PEERPATH_CHOICE_KEEP, false, "roamed");
	f.in.list_gen++;
	f.in.n = 3;
	step_at(&f, T0 + 5);
	assert_out(&f, PEERPATH_ROAMED, PEERPATH_CHOICE_KEEP, false, "roamed");
	step_at(&f, T0 + 6);
	assert_out(&f, PEERPATH_ROAMED, PEERPATH_CHOICE_KEEP, false, "roamed");
}
END_TEST

START_TEST(test_list_change_with_evidence)
{
	struct fx f;

	/* WireGuard follows the peer at the new list's third candidate: the first, the
	 * preferred one, is still tried first (a LAN address that appeared) */
	fx_init(&f, 3, true);
	walk_to_relay(&f);
	f.in.list_gen++;
	f.in.at = 2;
	f.in.last_handshake_s = T0 + 3 * TRIAL + 1;
	step_at(&f, T0 + 3 * TRIAL + 1);
	assert_out(&f, PEERPATH_TRIAL, 0, true, "trying lan");
}
END_TEST

START_TEST(test_list_change_restarts_relay)
{
	struct fx f;
	int64_t t;

	fx_init(&f, 3, true);
	walk_to_relay(&f);
	t = f.out.next_s;
	step_at(&f, t);
	step_at(&f, t + PROBE);
	ck_assert_uint_eq(f.pp.backoff_s, 10);
	f.in.n = 2;
	step_at(&f, t + PROBE + 1);
	assert_out(&f, PEERPATH_TRIAL, 0, true, "trying lan");
	ck_assert(f.out.rekey);
	ck_assert_uint_eq(f.pp.backoff_s, 5);
}
END_TEST

START_TEST(test_relay_only)
{
	struct fx f;

	fx_init(&f, 0, true);
	step_at(&f, T0);
	assert_out(&f, PEERPATH_RELAY, PEERPATH_CHOICE_RELAY, true, "relay");
	/* nothing to probe: no timer */
	ck_assert_int_eq(f.out.next_s, 0);
}
END_TEST

START_TEST(test_nothing_then_relay)
{
	struct fx f;

	fx_init(&f, 0, false);
	step_at(&f, T0);
	assert_out(&f, PEERPATH_IDLE, PEERPATH_CHOICE_NONE, false, "-");
	ck_assert_int_eq(f.out.next_s, 0);
	f.in.relay = true;
	step_at(&f, T0 + 1);
	assert_out(&f, PEERPATH_RELAY, PEERPATH_CHOICE_RELAY, true, "relay");
}
END_TEST

/* --- limits ----------------------------------------------------------------------------- */

START_TEST(test_rx_counter_reset)
{
	struct fx f;

	/* the peer re-added on the interface: its counter starts again below the baseline */
	fx_init(&f, 3, true);
	f.in.at = 0;
	f.in.rx_bytes = 9000;
	step_at(&f, T0);
	f.in.rx_bytes = 0;
	step_at(&f, T0 + 1);
	assert_out(&f, PEERPATH_TRIAL, 0, false, "trying lan");
	f.in.rx_bytes = 92;
	step_at(&f, T0 + 2);
	assert_out(&f, PEERPATH_DIRECT, 0, false, "lan");
}
END_TEST

START_TEST(test_init_defaults)
{
	struct peerpath pp;
	struct peerpath_conf zero = { 0 }, small = { .probe_base_s = 10, .probe_cap_s = 4 },
	    odd = { .probe_base_s = 5, .probe_cap_s = 300 };

	peerpath_init(&pp, &zero);
	ck_assert_uint_eq(pp.conf.trial_timeout_s, 15);
	ck_assert_uint_eq(pp.conf.probe_timeout_s, 3);
	ck_assert_uint_eq(pp.conf.probe_base_s, 5);
	ck_assert_uint_eq(pp.conf.probe_cap_s, 320);
	ck_assert_uint_eq(pp.conf.live_s, 180);
	ck_assert(pp.state == PEERPATH_IDLE);
	peerpath_init(&pp, NULL);
	ck_assert_uint_eq(pp.conf.probe_cap_s, 320);
	/* a ceiling below the first delay is raised to it */
	peerpath_init(&pp, &small);
	ck_assert_uint_eq(pp.conf.probe_cap_s, 10);
	/* and one between grids taken down to base * 2^k */
	peerpath_init(&pp, &odd);
	ck_assert_uint_eq(pp.conf.probe_cap_s, 160);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(peerpath_state_name(PEERPATH_IDLE), "idle");
	ck_assert_str_eq(peerpath_state_name(PEERPATH_TRIAL), "trial");
	ck_assert_str_eq(peerpath_state_name(PEERPATH_DIRECT), "direct");
	ck_assert_str_eq(peerpath_state_name(PEERPATH_RELAY), "relay");
	ck_assert_str_eq(peerpath_state_name(PEERPATH_PROBE), "probe");
	ck_assert_str_eq(peerpath_state_name(PEERPATH_ROAMED), "roamed");
	ck_assert_str_eq(peerpath_kind_name(PEERPATH_KIND_LAN), "lan");
	ck_assert_str_eq(peerpath_kind_name(PEERPATH_KIND_OBSERVED), "observed");
	ck_assert_str_eq(peerpath_kind_name(PEERPATH_KIND_WAN), "wan");
}
END_TEST

Suite *
peerpath_suite(void)
{
	Suite *s = suite_create("peerpath");
	TCase *core = tcase_create("core"), *limits = tcase_create("limits");

	tcase_add_test(core, test_first_step_tries_first);
	tcase_add_test(core, test_trial_confirmed_by_handshake);
	tcase_add_test(core, test_trial_confirmed_by_rx);
	tcase_add_test(core, test_rx_across_a_write_does_not_count);
	tcase_add_test(core, test_trial_evidence_at_other_candidate);
	tcase_add_test(core, test_trial_evidence_elsewhere_roams);
	tcase_add_test(core, test_trial_relayed_evidence_ignored);
	tcase_add_test(core, test_trial_handshake_same_second_counts);
	tcase_add_test(core, test_first_step_takes_live_session);
	tcase_add_test(core, test_seen_handshake_does_not_confirm);
	tcase_add_test(core, test_trial_waits_for_timeout);
	tcase_add_test(core, test_trial_advances_in_order);
	tcase_add_test(core, test_after_last_goes_to_relay);
	tcase_add_test(core, test_no_relay_keeps_cycling);
	tcase_add_test(core, test_relay_known_late_ends_walk);
	tcase_add_test(core, test_wan_reason);
	tcase_add_test(core, test_direct_stays_while_alive);
	tcase_add_test(core, test_direct_dead_restarts);
	tcase_add_test(core, test_direct_follows_wireguard);
	tcase_add_test(core, test_early_step_changes_nothing);
	tcase_add_test(core, test_relay_probes_on_grid);
	tcase_add_test(core, test_probe_fails_back_to_relay);
	tcase_add_test(core, test_backoff_doubles_and_caps);
	tcase_add_test(core, test_probe_grid_offset);
	tcase_add_test(core, test_probe_ends_meet);
	tcase_add_test(core, test_later_end_takes_first_probe);
	tcase_add_test(core, test_relay_moved_off_is_evidence);
	tcase_add_test(core, test_probe_confirmed_by_handshake);
	tcase_add_test(core, test_probe_confirmed_by_rx);
	tcase_add_test(core, test_probe_relayed_bytes_do_not_confirm);
	tcase_add_test(core, test_relay_peer_probe_roams);
	tcase_add_test(core, test_relay_peer_probe_to_candidate);
	tcase_add_test(core, test_roamed_dead_restarts);
	tcase_add_test(core, test_relay_lost_restarts);
	tcase_add_test(core, test_list_change_restarts_direct);
	tcase_add_test(core, test_list_change_with_evidence);
	tcase_add_test(core, test_list_change_keeps_working);
	tcase_add_test(core, test_list_change_restarts_relay);
	tcase_add_test(core, test_relay_only);
	tcase_add_test(core, test_nothing_then_relay);
	suite_add_tcase(s, core);
	tcase_add_test(limits, test_rx_counter_reset);
	tcase_add_test(limits, test_init_defaults);
	tcase_add_test(limits, test_names);
	suite_add_tcase(s, limits);
	return s;
}
