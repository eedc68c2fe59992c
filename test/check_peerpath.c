/* Tests for agent/peerpath.c: the walk over a peer's candidates, the evidence that confirms
 * a path, direct paths, new candidate lists (the relay and its probes:
 * check_peerpath_relay.c). */
#include "config.h"

#include <string.h>

#include "agent/peerpath.h"
#include "test/check_suites.h"
#include "test/peerpath_fx.h"

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

/* An idle pair's session is renewed before the 180 s that count it up run out. */
START_TEST(test_refresh_due)
{
	int64_t at;

	ck_assert(!peerpath_refresh_due(0, 1000, &at));
	ck_assert_int_eq(at, 0);                     /* no session: nothing to renew */
	ck_assert(!peerpath_refresh_due(1000, 1149, &at));
	ck_assert_int_eq(at, 1150);
	ck_assert(peerpath_refresh_due(1000, 1150, &at));
	ck_assert(peerpath_refresh_due(1000, 5000, &at));
	ck_assert_int_lt(PEERPATH_REFRESH_S, 180);
	ck_assert_int_gt(PEERPATH_REFRESH_S, 120);   /* WireGuard rekeys only past 120 s */
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
	tcase_add_test(limits, test_refresh_due);
	suite_add_tcase(s, limits);
	return s;
}
