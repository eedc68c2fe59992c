/* Unit tests for rpc/pingpolicy.c: strikes only while the server is silent, the wipe on
 * our HEADERS/DATA, the interval, the limit. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>

#include "rpc/pingpolicy.h"
#include "test/check_suites.h"

#define MIN 10000u
#define MAX PING_POLICY_MAX_STRIKES

/* --- core ------------------------------------------------------------------------------ */

START_TEST(test_flood_without_data_ends_on_fourth)
{
	struct ping_policy p;

	ping_policy_init(&p);
	ck_assert(!ping_policy_received(&p, 1000, MIN, MAX));    /* first: nothing to compare */
	ck_assert(!ping_policy_received(&p, 1001, MIN, MAX));    /* strike 1 */
	ck_assert(!ping_policy_received(&p, 1002, MIN, MAX));    /* strike 2 */
	ck_assert(ping_policy_received(&p, 1003, MIN, MAX));     /* strike 3: past the limit */
}
END_TEST

START_TEST(test_data_between_pings_never_strikes)
{
	struct ping_policy p;

	/* a BDP probe after every DATA frame, 1 ms apart, for a long burst */
	ping_policy_init(&p);
	for (uint64_t t = 1000; t < 21000; t++) {
		ping_policy_reset(&p);
		ck_assert(!ping_policy_received(&p, t, MIN, MAX));
	}
	ck_assert_uint_eq(p.strikes, 0);
}
END_TEST

START_TEST(test_reset_wipes_strikes_and_clock)
{
	struct ping_policy p;

	ping_policy_init(&p);
	ping_policy_received(&p, 1000, MIN, MAX);
	ping_policy_received(&p, 1001, MIN, MAX);
	ping_policy_received(&p, 1002, MIN, MAX);
	ck_assert_uint_eq(p.strikes, 2);
	ping_policy_reset(&p);
	ck_assert_uint_eq(p.strikes, 0);
	/* the PING right after our DATA is free even 1 ms after the last one */
	ck_assert(!ping_policy_received(&p, 1003, MIN, MAX));
	ck_assert_uint_eq(p.strikes, 0);
	ck_assert(!ping_policy_received(&p, 1004, MIN, MAX));
	ck_assert(!ping_policy_received(&p, 1005, MIN, MAX));
	ck_assert(ping_policy_received(&p, 1006, MIN, MAX));
}
END_TEST

START_TEST(test_spaced_pings_never_strike)
{
	struct ping_policy p;

	ping_policy_init(&p);
	for (uint64_t t = 0; t < 100; t++)
		ck_assert(!ping_policy_received(&p, 5000 + t * MIN, MIN, MAX));
	ck_assert_uint_eq(p.strikes, 0);
}
END_TEST

/* --- limits ---------------------------------------------------------------------------- */

START_TEST(test_interval_boundary)
{
	struct ping_policy p;

	ping_policy_init(&p);
	ping_policy_received(&p, 1000, MIN, MAX);
	ck_assert(!ping_policy_received(&p, 1000 + MIN, MIN, MAX));      /* exactly MIN: fine */
	ck_assert_uint_eq(p.strikes, 0);
	ck_assert(!ping_policy_received(&p, 1000 + 2 * MIN - 1, MIN, MAX)); /* 1 ms short */
	ck_assert_uint_eq(p.strikes, 1);
}
END_TEST

START_TEST(test_strikes_stay_until_data)
{
	struct ping_policy p;

	/* like gRPC: a well-spaced PING does not take a strike back */
	ping_policy_init(&p);
	ping_policy_received(&p, 0, MIN, MAX);
	ping_policy_received(&p, 1, MIN, MAX);
	ping_policy_received(&p, 2, MIN, MAX);
	ck_assert(!ping_policy_received(&p, 2 + MIN, MIN, MAX));
	ck_assert_uint_eq(p.strikes, 2);
	ck_assert(ping_policy_received(&p, 3 + MIN, MIN, MAX));
}
END_TEST

START_TEST(test_zero_strikes_allowed)
{
	struct ping_policy p;

	ping_policy_init(&p);
	ck_assert(!ping_policy_received(&p, 0, MIN, 0));
	ck_assert(ping_policy_received(&p, 1, MIN, 0));
}
END_TEST

START_TEST(test_strikes_saturate)
{
	struct ping_policy p;

	ping_policy_init(&p);
	for (uint64_t t = 0; t < 1000; t++)
		ping_policy_received(&p, t, MIN, 1000);
	ck_assert_uint_eq(p.strikes, UINT8_MAX);
}
END_TEST

Suite *
pingpolicy_suite(void)
{
	Suite *s = suite_create("pingpolicy");
	TCase *core = tcase_create("core"), *limits = tcase_create("limits");

	tcase_add_test(core, test_flood_without_data_ends_on_fourth);
	tcase_add_test(core, test_data_between_pings_never_strikes);
	tcase_add_test(core, test_reset_wipes_strikes_and_clock);
	tcase_add_test(core, test_spaced_pings_never_strike);
	tcase_add_test(limits, test_interval_boundary);
	tcase_add_test(limits, test_strikes_stay_until_data);
	tcase_add_test(limits, test_zero_strikes_allowed);
	tcase_add_test(limits, test_strikes_saturate);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}
