/* Tests for agent/reconcile.c: the plan that turns the interface's peers into the desired
 * ones, touching only peers the agent added. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "agent/reconcile.h"
#include "test/check_suites.h"
#include "test/reconciletest.h"

/* --- core ------------------------------------------------------------------------------ */

START_TEST(test_adds_to_empty_interface)
{
	struct desired_peer des[2] = { rt_desired(1, "192.0.2.1", 51820),
		rt_desired(2, "2001:db8::2", 51821) };
	struct wg_device act = rt_device(NULL, 0), plan;
	struct reconcile_stats st;

	rt_plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 2);
	rt_assert_set_of(&plan.peers[0], &des[0]);
	rt_assert_set_of(&plan.peers[1], &des[1]);
	ck_assert_uint_eq(plan.peers[0].flags, RT_FLAGS_SET);
	ck_assert_uint_eq(st.added, 2);
	ck_assert_uint_eq(st.updated, 0);
	ck_assert_uint_eq(st.removed, 0);
	ck_assert_uint_eq(st.foreign, 0);
	ck_assert_str_eq(plan.ifname, "wg0");
	free(plan.peers);
}
END_TEST

START_TEST(test_adds_become_owned)
{
	struct desired_peer des[2] = { rt_desired(1, "192.0.2.1", 51820),
		rt_desired(2, "2001:db8::2", 51821) };
	struct wg_device act = rt_device(NULL, 0), plan;
	struct reconcile_stats st;

	rt_plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(rt_owned.n, 2);
	ck_assert(owned_has(&rt_owned, des[0].key));
	ck_assert(owned_has(&rt_owned, des[1].key));
	free(plan.peers);
}
END_TEST

START_TEST(test_in_sync_empty_plan)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	rt_two_in_sync(des, act_peers);
	act = rt_device(act_peers, 2);
	rt_plan_ok(&act, des, 2, &plan, &st);
	rt_assert_nothing(&plan, &st, 0);
	ck_assert_uint_eq(rt_owned.n, 2);
	free(plan.peers);
}
END_TEST

START_TEST(test_keepalive_change_updates)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	rt_two_in_sync(des, act_peers);
	des[0].keepalive_s = 0;
	act = rt_device(act_peers, 2);
	rt_plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 1);
	rt_assert_set_of(&plan.peers[0], &des[0]);
	ck_assert_uint_eq(plan.peers[0].keepalive_s, 0);
	ck_assert_uint_eq(st.updated, 1);
	free(plan.peers);
}
END_TEST

START_TEST(test_allowed_change_updates)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	rt_two_in_sync(des, act_peers);
	rt_addr(&des[0].allowed[1], "fd00:9::77/128");
	act = rt_device(act_peers, 2);
	rt_plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 1);
	rt_assert_set_of(&plan.peers[0], &des[0]);
	ck_assert(plan.peers[0].flags & WG_PEER_REPLACE_ALLOWED);
	ck_assert_uint_eq(st.updated, 1);
	free(plan.peers);
}
END_TEST

START_TEST(test_allowed_other_order_no_update)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	rt_two_in_sync(des, act_peers);
	act_peers[0].allowed[0] = des[0].allowed[1];
	act_peers[0].allowed[1] = des[0].allowed[0];
	act = rt_device(act_peers, 2);
	rt_plan_ok(&act, des, 2, &plan, &st);
	rt_assert_nothing(&plan, &st, 0);
	free(plan.peers);
}
END_TEST

START_TEST(test_owned_not_desired_removed)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;
	uint8_t gone[WG_KEY_LEN];

	rt_two_in_sync(des, act_peers);
	rt_key_fill(gone, 2);
	act = rt_device(act_peers, 2);
	rt_plan_ok(&act, des, 1, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 1);
	ck_assert_uint_eq(plan.peers[0].flags, WG_PEER_REMOVE);
	ck_assert_mem_eq(plan.peers[0].key, gone, WG_KEY_LEN);
	ck_assert_uint_eq(st.removed, 1);
	ck_assert_uint_eq(st.added, 0);
	ck_assert_uint_eq(st.updated, 0);
	ck_assert(!owned_has(&rt_owned, gone));
	ck_assert(owned_has(&rt_owned, des[0].key));
	ck_assert_uint_eq(rt_owned.n, 1);
	free(plan.peers);
}
END_TEST

START_TEST(test_owned_add_has)
{
	uint8_t k[WG_KEY_LEN], other[WG_KEY_LEN];

	rt_key_fill(k, 7);
	rt_key_fill(other, 8);
	ck_assert(!owned_has(&rt_owned, k));
	ck_assert_int_eq(owned_add(&rt_owned, k), 0);
	ck_assert(owned_has(&rt_owned, k));
	ck_assert(!owned_has(&rt_owned, other));
	ck_assert_uint_eq(rt_owned.n, 1);
}
END_TEST

START_TEST(test_owned_remove)
{
	uint8_t k[WG_KEY_LEN];

	rt_key_fill(k, 7);
	ck_assert_int_eq(owned_add(&rt_owned, k), 0);
	owned_remove(&rt_owned, k);
	ck_assert(!owned_has(&rt_owned, k));
	ck_assert_uint_eq(rt_owned.n, 0);
}
END_TEST

/* --- limits ---------------------------------------------------------------------------- */

START_TEST(test_owned_add_twice_once)
{
	uint8_t k[WG_KEY_LEN];

	rt_key_fill(k, 7);
	ck_assert_int_eq(owned_add(&rt_owned, k), 0);
	ck_assert_int_eq(owned_add(&rt_owned, k), 0);
	ck_assert_uint_eq(rt_owned.n, 1);
}
END_TEST

START_TEST(test_owned_grows)
{
	uint8_t k[WG_KEY_LEN];

	for (int i = 0; i < 100; i++) {
		rt_key_fill(k, (uint8_t)i);
		ck_assert_int_eq(owned_add(&rt_owned, k), 0);
	}
	ck_assert_uint_eq(rt_owned.n, 100);
	ck_assert_uint_ge(rt_owned.cap, 100);
	for (int i = 0; i < 100; i++) {
		rt_key_fill(k, (uint8_t)i);
		ck_assert(owned_has(&rt_owned, k));
	}
}
END_TEST

START_TEST(test_owned_remove_middle_keeps_rest)
{
	uint8_t k[WG_KEY_LEN];

	for (int i = 1; i <= 5; i++) {
		rt_key_fill(k, (uint8_t)i);
		ck_assert_int_eq(owned_add(&rt_owned, k), 0);
	}
	rt_key_fill(k, 3);
	owned_remove(&rt_owned, k);
	ck_assert_uint_eq(rt_owned.n, 4);
	for (int i = 1; i <= 5; i++) {
		rt_key_fill(k, (uint8_t)i);
		ck_assert_msg(owned_has(&rt_owned, k) == (i != 3), "key %d", i);
	}
}
END_TEST

START_TEST(test_owned_remove_last)
{
	uint8_t a[WG_KEY_LEN], b[WG_KEY_LEN];

	rt_key_fill(a, 1);
	rt_key_fill(b, 2);
	ck_assert_int_eq(owned_add(&rt_owned, a), 0);
	ck_assert_int_eq(owned_add(&rt_owned, b), 0);
	owned_remove(&rt_owned, b);
	ck_assert_uint_eq(rt_owned.n, 1);
	ck_assert(owned_has(&rt_owned, a));
	ck_assert(!owned_has(&rt_owned, b));
}
END_TEST

START_TEST(test_owned_free_resets)
{
	uint8_t k[WG_KEY_LEN];

	rt_key_fill(k, 1);
	ck_assert_int_eq(owned_add(&rt_owned, k), 0);
	owned_free(&rt_owned);
	ck_assert_uint_eq(rt_owned.n, 0);
	ck_assert_uint_eq(rt_owned.cap, 0);
	ck_assert_ptr_null(rt_owned.keys);
	ck_assert_int_eq(owned_add(&rt_owned, k), 0); /* usable again */
	ck_assert(owned_has(&rt_owned, k));
}
END_TEST

START_TEST(test_nothing_at_all)
{
	struct wg_device act = rt_device(NULL, 0), plan;
	struct reconcile_stats st;

	rt_plan_ok(&act, NULL, 0, &plan, &st);
	rt_assert_nothing(&plan, &st, 0);
	free(plan.peers);
}
END_TEST

START_TEST(test_mixed_plan)
{
	struct desired_peer des[3];
	struct wg_peer act_peers[3];
	struct wg_device act, plan;
	struct reconcile_stats st;
	uint8_t k4[WG_KEY_LEN];

	/* 1 in sync, 2 changed, 3 new, 4 owned and no longer desired */
	rt_two_in_sync(des, act_peers);
	des[2] = rt_desired(3, "192.0.2.3", 51820);
	rt_key_fill(k4, 4);
	act_peers[2] = rt_actual_of(&des[2]);
	memcpy(act_peers[2].key, k4, WG_KEY_LEN);
	ck_assert_int_eq(owned_add(&rt_owned, k4), 0);
	des[1].keepalive_s = 0;
	act = rt_device(act_peers, 3);
	rt_plan_ok(&act, des, 3, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 3);
	ck_assert_uint_eq(st.added, 1);
	ck_assert_uint_eq(st.updated, 1);
	ck_assert_uint_eq(st.removed, 1);
	ck_assert_uint_eq(st.foreign, 0);
	rt_assert_set_of(&plan.peers[0], &des[1]);
	rt_assert_set_of(&plan.peers[1], &des[2]);
	ck_assert_uint_eq(plan.peers[2].flags, WG_PEER_REMOVE);
	ck_assert_mem_eq(plan.peers[2].key, k4, WG_KEY_LEN);
	ck_assert_uint_eq(rt_owned.n, 3);
	ck_assert(!owned_has(&rt_owned, k4));
	free(plan.peers);
}
END_TEST

START_TEST(test_remove_all_owned)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	rt_two_in_sync(des, act_peers);
	act = rt_device(act_peers, 2);
	rt_plan_ok(&act, NULL, 0, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 2);
	ck_assert_uint_eq(plan.peers[0].flags, WG_PEER_REMOVE);
	ck_assert_uint_eq(plan.peers[1].flags, WG_PEER_REMOVE);
	ck_assert_uint_eq(st.removed, 2);
	ck_assert_uint_eq(rt_owned.n, 0);
	free(plan.peers);
}
END_TEST

START_TEST(test_owned_missing_from_interface_readded)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	rt_two_in_sync(des, act_peers);
	act = rt_device(act_peers, 1); /* peer 2 vanished, e.g. the interface was recreated */
	rt_plan_ok(&act, des, 2, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 1);
	rt_assert_set_of(&plan.peers[0], &des[1]);
	ck_assert_uint_eq(st.added, 1);
	ck_assert_uint_eq(rt_owned.n, 2);
	free(plan.peers);
}
END_TEST

/* --- errors ---------------------------------------------------------------------------- */

START_TEST(test_foreign_desired_untouched)
{
	struct desired_peer des = rt_desired(1, "192.0.2.1", 51820);
	struct wg_peer act_peer = rt_actual_of(&des);
	struct wg_device act = rt_device(&act_peer, 1), plan;
	struct reconcile_stats st;

	rt_desired_endpoint(&des, "192.0.2.99", 51820); /* differs: still not ours to change */
	rt_plan_ok(&act, &des, 1, &plan, &st);
	rt_assert_nothing(&plan, &st, 1);
	ck_assert_uint_eq(rt_owned.n, 0);
	free(plan.peers);
}
END_TEST

START_TEST(test_foreign_not_desired_never_removed)
{
	struct desired_peer des = rt_desired(1, "192.0.2.1", 51820);
	struct wg_peer act_peer = rt_actual_of(&des);
	struct wg_device act = rt_device(&act_peer, 1), plan;
	struct reconcile_stats st;

	rt_plan_ok(&act, NULL, 0, &plan, &st);
	rt_assert_nothing(&plan, &st, 0);
	ck_assert_uint_eq(rt_owned.n, 0);
	free(plan.peers);
}
END_TEST

START_TEST(test_foreign_kept_beside_owned_removal)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[3];
	struct wg_device act, plan;
	struct reconcile_stats st;
	struct desired_peer foreign = rt_desired(9, "192.0.2.9", 51820);

	rt_two_in_sync(des, act_peers);
	act_peers[2] = rt_actual_of(&foreign);
	act = rt_device(act_peers, 3);
	rt_plan_ok(&act, NULL, 0, &plan, &st);
	ck_assert_uint_eq(plan.n_peers, 2);
	for (size_t i = 0; i < plan.n_peers; i++)
		ck_assert(memcmp(plan.peers[i].key, foreign.key, WG_KEY_LEN) != 0);
	free(plan.peers);
}
END_TEST

START_TEST(test_owned_gone_dropped_without_remove)
{
	struct desired_peer des[2];
	struct wg_peer act_peers[2];
	struct wg_device act, plan;
	struct reconcile_stats st;

	rt_two_in_sync(des, act_peers);
	act = rt_device(act_peers, 1); /* peer 2 removed by someone else */
	rt_plan_ok(&act, des, 1, &plan, &st);
	rt_assert_nothing(&plan, &st, 0);
	ck_assert_uint_eq(rt_owned.n, 1);
	ck_assert(owned_has(&rt_owned, des[0].key));
	ck_assert(!owned_has(&rt_owned, des[1].key));
	free(plan.peers);
}
END_TEST

START_TEST(test_owned_remove_absent_noop)
{
	uint8_t a[WG_KEY_LEN], b[WG_KEY_LEN];

	rt_key_fill(a, 1);
	rt_key_fill(b, 2);
	owned_remove(&rt_owned, a); /* empty set */
	ck_assert_uint_eq(rt_owned.n, 0);
	ck_assert_int_eq(owned_add(&rt_owned, a), 0);
	owned_remove(&rt_owned, b);
	ck_assert_uint_eq(rt_owned.n, 1);
	ck_assert(owned_has(&rt_owned, a));
}
END_TEST

START_TEST(test_owned_has_empty)
{
	uint8_t k[WG_KEY_LEN];

	rt_key_fill(k, 0);
	ck_assert(!owned_has(&rt_owned, k));
}
END_TEST

Suite *
reconcile_suite(void)
{
	Suite *s = suite_create("reconcile");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, rt_setup, rt_teardown);
	tcase_add_test(tc, test_adds_to_empty_interface);
	tcase_add_test(tc, test_adds_become_owned);
	tcase_add_test(tc, test_in_sync_empty_plan);
	tcase_add_test(tc, test_keepalive_change_updates);
	tcase_add_test(tc, test_allowed_change_updates);
	tcase_add_test(tc, test_allowed_other_order_no_update);
	tcase_add_test(tc, test_owned_not_desired_removed);
	tcase_add_test(tc, test_owned_add_has);
	tcase_add_test(tc, test_owned_remove);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, rt_setup, rt_teardown);
	tcase_add_test(tc, test_owned_add_twice_once);
	tcase_add_test(tc, test_owned_grows);
	tcase_add_test(tc, test_owned_remove_middle_keeps_rest);
	tcase_add_test(tc, test_owned_remove_last);
	tcase_add_test(tc, test_owned_free_resets);
	tcase_add_test(tc, test_nothing_at_all);
	tcase_add_test(tc, test_mixed_plan);
	tcase_add_test(tc, test_remove_all_owned);
	tcase_add_test(tc, test_owned_missing_from_interface_readded);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, rt_setup, rt_teardown);
	tcase_add_test(tc, test_foreign_desired_untouched);
	tcase_add_test(tc, test_foreign_not_desired_never_removed);
	tcase_add_test(tc, test_foreign_kept_beside_owned_removal);
	tcase_add_test(tc, test_owned_gone_dropped_without_remove);
	tcase_add_test(tc, test_owned_remove_absent_noop);
	tcase_add_test(tc, test_owned_has_empty);
	suite_add_tcase(s, tc);
	return s;
}
