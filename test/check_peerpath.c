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

/* A peer with three candidates (LAN, observed, WAN) and a relay; in is what the interface
 * says, changed by each test between steps. */
struct fx {
	struct peerpath pp;
	struct peerpath_in in;
	struct peerpath_out out;
};

static void
fx_init(struct fx *f, size_t n, bool relay)
{
	struct peerpath_conf c = { .trial_timeout_s = TRIAL, .probe_timeout_s = PROBE,
		.probe_base_s = 5, .probe_cap_s = 300, .live_s = 180 };

	memset(f, 0, sizeof(*f));
	peerpath_init(&f->pp, &c);
	f->in.now_s = T0;
	f->in.n = n;
	f->in.kind = n > 0 ? kinds3 : NULL;
	f->in.list_gen = 1;
	f->in.relay = relay;
}

static void
step_at(struct fx *f, int64_t t)
{
	f->in.now_s = t;
	peerpath_step(&f->pp, &f->in, &f->out);
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
	f->in.via_relay = true;
}

/* --- core: the walk ---------------------------------------------------------------------- */

START_TEST(test_first_step_tries_first)
{
	struct fx f;

	fx_init(&f, 3, true);
	step_at(&f, T0);
	assert_out(&f, PEERPATH_TRIAL, 0, true, "trying lan");
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
	ck_assert_int_eq(f.out.next_s, T0 + 3 + 180);
}
END_TEST

START_TEST(test_trial_confirmed_by_rx)
{
	struct fx f;

	fx_init(&f, 3, true);
	f.in.rx_bytes = 5000;
	step_at(&f, T0);
	f.in.rx_bytes = 5032;
	step_at(&f, T0 + 1);
	assert_out(&f, PEERPATH_DIRECT, 0, false, "lan");
}
END_TEST

/* An idle tunnel WireGuard already follows there (live[]): confirmed without new traffic;
 * never while the endpoint is the relay. */
START_TEST(test_trial_confirmed_by_live)
{
	static const bool live[3] = { false, true, false };
	struct fx f;

	fx_init(&f, 3, true);
	f.in.last_handshake_s = T0 - 60;
	step_at(&f, T0);
	step_at(&f, T0 + TRIAL);
	assert_out(&f, PEERPATH_TRIAL, 1, true, "trying observed");
	f.in.live = live;
	f.in.via_relay = true;
	step_at(&f, T0 + TRIAL + 1);
	assert_out(&f, PEERPATH_TRIAL, 1, false, "trying observed");
	f.in.via_relay = false;
	step_at(&f, T0 + TRIAL + 2);
	assert_out(&f, PEERPATH_DIRECT, 1, false, "observed");
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

START_TEST(test_stale_handshake_does_not_confirm)
{
	struct fx f;

	/* a live session from before the switch: says nothing about candidate 0 */
	fx_init(&f, 3, true);
	f.in.last_handshake_s = T0 - 30;
	step_at(&f, T0);
	step_at(&f, T0 + 5);
	assert_out(&f, PEERPATH_TRIAL, 0, false, "trying lan");
	step_at(&f, T0 + TRIAL);
	assert_out(&f, PEERPATH_TRIAL, 1, true, "trying observed");
}
END_TEST

START_TEST(test_stale_handshake_in_switch_second)
{
	struct fx f;

	/* the handshake seen at the switch, even in the switch's second, is not fresh */
	fx_init(&f, 3, true);
	f.in.last_handshake_s = T0;
	step_at(&f, T0);
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
	ck_assert_int_eq(f.out.next_s, T0 + 2 * TRIAL);
	step_at(&f, T0 + 2 * TRIAL);
	assert_out(&f, PEERPATH_TRIAL, 2, true, "trying wan");
	ck_assert_int_eq(f.out.next_s, T0 + 3 * TRIAL);
}
END_TEST

START_TEST(test_after_last_goes_to_relay)
{
	struct fx f;

	fx_init(&f, 3, true);
	walk_to_relay(&f);
	ck_assert(!f.out.confirmed);
	/* jitter 0: the low end of 5 s +-25% */
	ck_assert_int_eq(f.out.next_s, T0 + 3 * TRIAL + 4);
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
	f.in.rx_bytes = 92;
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
	ck_assert_int_eq(f.out.next_s, T0 + 200 + 180);
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
	ck_assert_int_eq(f.out.next_s, T0 + 3 * TRIAL + 4);
}
END_TEST

/* --- core: the relay and probes ----------------------------------------------------------- */

START_TEST(test_relay_probes_first_candidate)
{
	struct fx f;
	int64_t t;

	fx_init(&f, 3, true);
	walk_to_relay(&f);
	t = f.out.next_s;
	step_at(&f, t - 1);
	assert_out(&f, PEERPATH_RELAY, PEERPATH_CHOICE_RELAY, false, "relay");
	step_at(&f, t);
	assert_out(&f, PEERPATH_PROBE, 0, true, "probing lan");
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
	f.in.via_relay = false;
	step_at(&f, t + PROBE - 1);
	assert_out(&f, PEERPATH_PROBE, 0, false, "probing lan");
	step_at(&f, t + PROBE);
	assert_out(&f, PEERPATH_RELAY, PEERPATH_CHOICE_RELAY, true, "relay");
	ck_assert_uint_eq(f.pp.backoff_s, 10);
	ck_assert_int_eq(f.out.next_s, t + PROBE + 8);
}
END_TEST

START_TEST(test_backoff_doubles_and_caps)
{
	static const uint32_t want[] = { 10, 20, 40, 80, 160, 300, 300, 300 };
	struct fx f;

	fx_init(&f, 3, true);
	walk_to_relay(&f);
	ck_assert_uint_eq(f.pp.backoff_s, 5);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int64_t t = f.out.next_s;

		step_at(&f, t);
		ck_assert(f.out.state == PEERPATH_PROBE);
		ck_assert_int_eq(f.out.choice, (int)(i % 3));
		step_at(&f, t + PROBE);
		ck_assert(f.out.state == PEERPATH_RELAY);
		ck_assert_uint_eq(f.pp.backoff_s, want[i]);
		ck_assert_int_eq(f.out.next_s, t + PROBE + (want[i] - want[i] / 4));
	}
}
END_TEST

START_TEST(test_probe_jitter_range)
{
	struct fx f;

	/* 5 s +-25% with integer quarters: 4 .. 6 */
	for (uint32_t j = 0; j < 50; j++) {
		fx_init(&f, 3, true);
		f.in.jitter = j * 7919u;
		walk_to_relay(&f);
		ck_assert_int_ge(f.out.next_s - (T0 + 3 * TRIAL), 4);
		ck_assert_int_le(f.out.next_s - (T0 + 3 * TRIAL), 6);
	}
	fx_init(&f, 3, true);
	f.in.jitter = 2;
	walk_to_relay(&f);
	ck_assert_int_eq(f.out.next_s - (T0 + 3 * TRIAL), 6);
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
	assert_out(&f, PEERPATH_PROBE, 1, true, "probing observed");
	f.in.via_relay = false;
	f.in.last_handshake_s = t + 1;
	step_at(&f, t + 1);
	assert_out(&f, PEERPATH_DIRECT, 1, false, "observed");
	ck_assert(f.out.confirmed);
	ck_assert_uint_eq(f.pp.backoff_s, 5);
}
END_TEST

START_TEST(test_probe_confirmed_by_rx)
{
	struct fx f;
	int64_t t;

	fx_init(&f, 3, true);
	f.in.rx_bytes = 1000;
	walk_to_relay(&f);
	t = f.out.next_s;
	step_at(&f, t);
	f.in.via_relay = false;
	f.in.rx_bytes = 1148;
	step_at(&f, t + 1);
	assert_out(&f, PEERPATH_DIRECT, 0, false, "lan");
}
END_TEST

START_TEST(test_probe_relayed_bytes_do_not_confirm)
{
	struct fx f;
	int64_t t;

	/* the peer still sends over the relay and WireGuard roamed back there */
	fx_init(&f, 3, true);
	walk_to_relay(&f);
	t = f.out.next_s;
	step_at(&f, t);
	f.in.via_relay = true;
	f.in.rx_bytes = 4096;
	f.in.last_handshake_s = t + 1;
	step_at(&f, t + 1);
	assert_out(&f, PEERPATH_PROBE, 0, false, "probing lan");
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
	f.in.via_relay = false;
	f.in.last_handshake_s = t;
	step_at(&f, t);
	assert_out(&f, PEERPATH_ROAMED, PEERPATH_CHOICE_KEEP, false, "roamed");
	ck_assert(f.out.confirmed);
	ck_assert_int_eq(f.out.next_s, t + 180);
	/* and back onto the relay when the peer returns there */
	f.in.via_relay = true;
	step_at(&f, t + 60);
	assert_out(&f, PEERPATH_RELAY, PEERPATH_CHOICE_RELAY, true, "relay");
}
END_TEST

START_TEST(test_roamed_dead_restarts)
{
	struct fx f;
	int64_t t = T0 + 3 * TRIAL + 1;

	fx_init(&f, 3, true);
	walk_to_relay(&f);
	f.in.via_relay = false;
	f.in.last_handshake_s = t;
	step_at(&f, t);
	ck_assert(f.out.state == PEERPATH_ROAMED);
	step_at(&f, t + 180);
	assert_out(&f, PEERPATH_TRIAL, 0, true, "trying lan");
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
	f.in.rx_bytes = 100;
	step_at(&f, T0 + TRIAL + 1);
	assert_out(&f, PEERPATH_DIRECT, 1, false, "observed");
	f.in.list_gen++;
	step_at(&f, T0 + TRIAL + 2);
	assert_out(&f, PEERPATH_TRIAL, 0, true, "trying lan");
	/* the bytes seen before the change do not confirm the new first candidate */
	step_at(&f, T0 + TRIAL + 3);
	assert_out(&f, PEERPATH_TRIAL, 0, false, "trying lan");
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
	struct peerpath_conf zero = { 0 }, small = { .probe_base_s = 10, .probe_cap_s = 4 };

	peerpath_init(&pp, &zero);
	ck_assert_uint_eq(pp.conf.trial_timeout_s, 15);
	ck_assert_uint_eq(pp.conf.probe_timeout_s, 3);
	ck_assert_uint_eq(pp.conf.probe_base_s, 5);
	ck_assert_uint_eq(pp.conf.probe_cap_s, 300);
	ck_assert_uint_eq(pp.conf.live_s, 180);
	ck_assert(pp.state == PEERPATH_IDLE);
	peerpath_init(&pp, NULL);
	ck_assert_uint_eq(pp.conf.probe_cap_s, 300);
	/* a ceiling below the first delay is raised to it */
	peerpath_init(&pp, &small);
	ck_assert_uint_eq(pp.conf.probe_cap_s, 10);
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
	tcase_add_test(core, test_trial_confirmed_by_live);
	tcase_add_test(core, test_trial_handshake_same_second_counts);
	tcase_add_test(core, test_stale_handshake_does_not_confirm);
	tcase_add_test(core, test_stale_handshake_in_switch_second);
	tcase_add_test(core, test_trial_waits_for_timeout);
	tcase_add_test(core, test_trial_advances_in_order);
	tcase_add_test(core, test_after_last_goes_to_relay);
	tcase_add_test(core, test_no_relay_keeps_cycling);
	tcase_add_test(core, test_relay_known_late_ends_walk);
	tcase_add_test(core, test_wan_reason);
	tcase_add_test(core, test_direct_stays_while_alive);
	tcase_add_test(core, test_direct_dead_restarts);
	tcase_add_test(core, test_early_step_changes_nothing);
	tcase_add_test(core, test_relay_probes_first_candidate);
	tcase_add_test(core, test_probe_fails_back_to_relay);
	tcase_add_test(core, test_backoff_doubles_and_caps);
	tcase_add_test(core, test_probe_jitter_range);
	tcase_add_test(core, test_probe_confirmed_by_handshake);
	tcase_add_test(core, test_probe_confirmed_by_rx);
	tcase_add_test(core, test_probe_relayed_bytes_do_not_confirm);
	tcase_add_test(core, test_relay_peer_probe_roams);
	tcase_add_test(core, test_roamed_dead_restarts);
	tcase_add_test(core, test_relay_lost_restarts);
	tcase_add_test(core, test_list_change_restarts_direct);
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
