/* Tests for agent/reconcile.c: endpoints in the plan. A changed endpoint is written, a NAT
 * endpoint written anew is kicked (keepalive 0 then on, so WireGuard sends at once), and
 * after a network change every peer is written again. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "agent/reconcile.h"
#include "test/check_suites.h"
#include "test/reconciletest.h"

/* --- core ------------------------------------------------------------------------------ */

START_TEST(test_endpoint_change_updates)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	rt_two_in_sync(des, act_peers);
	rt_desired_endpoint(&des[1], "2001:db8::99", 51821);
	act = rt_device(act_peers, 2);
	rt_plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 1);
	rt_assert_set_of(&plan.peers[0], &des[1]);
	ck_assert_uint_eq(st.updated, 1);
	ck_assert_uint_eq(st.added, 0);
	ck_assert_uint_eq(st.removed, 0);
	ck_assert_uint_eq(rt_owned.n, 2);
	free(plan.peers);
}
END_TEST

/* A NAT endpoint written anew: the peer twice, keepalive 0 then 25, so WireGuard sends at
 * once. */
START_TEST(test_kick_on_new_endpoint)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	rt_two_in_sync(des, act_peers);
	rt_desired_endpoint(&des[0], "192.0.2.1", 51822);
	des[0].kick = des[1].kick = true;
	act = rt_device(act_peers, 2);
	rt_plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 2);
	ck_assert_uint_eq(st.updated, 1);
	ck_assert_uint_eq(st.kicked, 1);
	ck_assert_mem_eq(plan.peers[0].key, des[0].key, WG_KEY_LEN);
	ck_assert_uint_eq(plan.peers[0].flags, RT_FLAGS_SET);
	ck_assert_uint_eq(plan.peers[0].keepalive_s, 0);
	ck_assert_mem_eq(plan.peers[1].key, des[0].key, WG_KEY_LEN);
	ck_assert_uint_eq(plan.peers[1].flags, WG_PEER_HAS_KEEPALIVE);
	ck_assert_uint_eq(plan.peers[1].keepalive_s, 25);
	ck_assert_uint_eq(plan.peers[1].n_allowed, 0);
	free(plan.peers);
}
END_TEST

/* A probe (rekey) to a new endpoint: removed first, so its session ends, then set and
 * kicked: WireGuard's next packet is a handshake initiation there. Unmoved: nothing. */
START_TEST(test_rekey_removes_first)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	rt_two_in_sync(des, act_peers);
	des[0].rekey = des[1].rekey = true;
	des[0].kick = true;
	act = rt_device(act_peers, 2);
	rt_plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 0);
	free(plan.peers);
	rt_desired_endpoint(&des[0], "192.0.2.1", 51822);
	rt_plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 3);
	ck_assert_mem_eq(plan.peers[0].key, des[0].key, WG_KEY_LEN);
	ck_assert_uint_eq(plan.peers[0].flags, WG_PEER_REMOVE);
	ck_assert_mem_eq(plan.peers[1].key, des[0].key, WG_KEY_LEN);
	ck_assert_uint_eq(plan.peers[1].flags, RT_FLAGS_SET);
	ck_assert_uint_eq(plan.peers[2].flags, WG_PEER_HAS_KEEPALIVE);
	ck_assert_uint_eq(st.updated, 1);
	ck_assert_uint_eq(st.removed, 0);
	ck_assert_uint_eq(st.kicked, 1);
	ck_assert_uint_eq(rt_owned.n, 2);
	free(plan.peers);
}
END_TEST

/* Kick asked, but nothing to write, or no keepalive to turn on: no kick. */
START_TEST(test_no_kick_when_unchanged_or_off)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	rt_two_in_sync(des, act_peers);
	des[0].kick = des[1].kick = true;
	act = rt_device(act_peers, 2);
	rt_plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 0);
	free(plan.peers);
	rt_desired_endpoint(&des[1], "192.0.2.9", 51829);
	des[1].keepalive_s = 0;
	rt_plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 1);
	ck_assert_uint_eq(st.kicked, 0);
	rt_assert_set_of(&plan.peers[0], &des[1]);
	free(plan.peers);
}
END_TEST

/* After a network change every peer is written again although the interface matches (the
 * endpoint set again drops WireGuard's cached source), kicked when its keepalive is on. */
START_TEST(test_force_rewrites_in_sync)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	rt_two_in_sync(des, act_peers);
	des[0].force = des[1].force = true;
	des[0].kick = true;
	des[1].keepalive_s = act_peers[1].keepalive_s = 0;
	act = rt_device(act_peers, 2);
	rt_plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 3);
	ck_assert_uint_eq(st.updated, 2);
	ck_assert_uint_eq(st.kicked, 1);
	ck_assert_uint_eq(plan.peers[0].flags, RT_FLAGS_SET);
	ck_assert_uint_eq(plan.peers[0].keepalive_s, 0);
	ck_assert_uint_eq(plan.peers[1].flags, WG_PEER_HAS_KEEPALIVE);
	ck_assert_uint_eq(plan.peers[1].keepalive_s, 25);
	rt_assert_set_of(&plan.peers[2], &des[1]);
	free(plan.peers);
}
END_TEST

/* --- limits ---------------------------------------------------------------------------- */

START_TEST(test_endpoint_port_change_updates)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	rt_two_in_sync(des, act_peers);
	rt_desired_endpoint(&des[0], "192.0.2.1", 51822);
	act = rt_device(act_peers, 2);
	rt_plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 1);
	rt_assert_set_of(&plan.peers[0], &des[0]);
	free(plan.peers);
}
END_TEST

START_TEST(test_endpoint_family_change_updates)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	rt_two_in_sync(des, act_peers);
	rt_desired_endpoint(&des[0], "2001:db8::1", 51820);
	act = rt_device(act_peers, 2);
	rt_plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 1);
	rt_assert_set_of(&plan.peers[0], &des[0]);
	free(plan.peers);
}
END_TEST

START_TEST(test_add_without_endpoint)
{
	struct desired_peer des = rt_desired(1, "192.0.2.1", 51820);
	struct wg_device act = rt_device(NULL, 0), plan;
	struct reconcile_stats st;

	des.has_endpoint = false;
	memset(&des.endpoint, 0, sizeof(des.endpoint));
	rt_plan_ok(&act, &des, 1, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 1);
	ck_assert_uint_eq(plan.peers[0].flags, WG_PEER_REPLACE_ALLOWED | WG_PEER_HAS_KEEPALIVE);
	rt_assert_set_of(&plan.peers[0], &des);
	free(plan.peers);
}
END_TEST

Suite *
reconcile_endpoint_suite(void)
{
	Suite *s = suite_create("reconcile_endpoint");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, rt_setup, rt_teardown);
	tcase_add_test(tc, test_endpoint_change_updates);
	tcase_add_test(tc, test_kick_on_new_endpoint);
	tcase_add_test(tc, test_rekey_removes_first);
	tcase_add_test(tc, test_no_kick_when_unchanged_or_off);
	tcase_add_test(tc, test_force_rewrites_in_sync);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, rt_setup, rt_teardown);
	tcase_add_test(tc, test_endpoint_port_change_updates);
	tcase_add_test(tc, test_endpoint_family_change_updates);
	tcase_add_test(tc, test_add_without_endpoint);
	suite_add_tcase(s, tc);
	return s;
}
