/* Tests for agent/peerpath.c on the relay: the probe grid and back-off, the two ends of a
 * pair, what confirms a probe, the peer's probe arriving, the relay lost. */
#include "config.h"

#include <string.h>

#include "test/check_suites.h"
#include "test/peerpath_fx.h"


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
Suite *
peerpath_relay_suite(void)
{
	Suite *s = suite_create("peerpath_relay");
	TCase *tc = tcase_create("relay");

	tcase_add_test(tc, test_relay_probes_on_grid);
	tcase_add_test(tc, test_probe_fails_back_to_relay);
	tcase_add_test(tc, test_backoff_doubles_and_caps);
	tcase_add_test(tc, test_probe_grid_offset);
	tcase_add_test(tc, test_probe_ends_meet);
	tcase_add_test(tc, test_later_end_takes_first_probe);
	tcase_add_test(tc, test_relay_moved_off_is_evidence);
	tcase_add_test(tc, test_probe_confirmed_by_handshake);
	tcase_add_test(tc, test_probe_confirmed_by_rx);
	tcase_add_test(tc, test_probe_relayed_bytes_do_not_confirm);
	tcase_add_test(tc, test_relay_peer_probe_roams);
	tcase_add_test(tc, test_relay_peer_probe_to_candidate);
	tcase_add_test(tc, test_roamed_dead_restarts);
	tcase_add_test(tc, test_relay_lost_restarts);
	suite_add_tcase(s, tc);
	return s;
}
