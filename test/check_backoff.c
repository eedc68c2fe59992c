/* Unit tests for rpc/backoff.c: ceilings, jitter range, reset, determinism, distribution. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>

#include "rpc/backoff.h"
#include "test/check_suites.h"

#define SEED UINT64_C(0x1234abcd)
#define DRAWS 10000

/* --- core ------------------------------------------------------------------------------ */

START_TEST(test_ceiling_doubles_then_caps)
{
	struct backoff b;
	static const uint32_t want[] = { 100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000 };

	backoff_init(&b, 100, 5000, SEED);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ck_assert_uint_eq(b.attempt, i);
		ck_assert_uint_eq(backoff_ceiling(&b), want[i]);
		backoff_next(&b);
	}
}
END_TEST

START_TEST(test_ceiling_does_not_draw)
{
	struct backoff b;
	uint64_t rng;

	backoff_init(&b, 100, 5000, SEED);
	rng = b.rng;
	ck_assert_uint_eq(backoff_ceiling(&b), 100);
	ck_assert_uint_eq(backoff_ceiling(&b), 100);
	ck_assert_uint_eq(b.attempt, 0);
	ck_assert(b.rng == rng);
}
END_TEST

START_TEST(test_draws_within_ceiling)
{
	struct backoff b;

	backoff_init(&b, 7, 30000, SEED);
	for (int i = 0; i < DRAWS; i++) {
		uint32_t c = backoff_ceiling(&b), d = backoff_next(&b);

		ck_assert_msg(d <= c, "draw %d: %u above ceiling %u", i, d, c);
		if (i % 20 == 19)
			backoff_reset(&b);
	}
}
END_TEST

START_TEST(test_reset_starts_from_base)
{
	struct backoff b;

	backoff_init(&b, 250, 8000, SEED);
	for (int i = 0; i < 10; i++)
		backoff_next(&b);
	ck_assert_uint_eq(backoff_ceiling(&b), 8000);
	backoff_reset(&b);
	ck_assert_uint_eq(b.attempt, 0);
	ck_assert_uint_eq(backoff_ceiling(&b), 250);
	ck_assert_uint_le(backoff_next(&b), 250);
	ck_assert_uint_eq(backoff_ceiling(&b), 500);
}
END_TEST

START_TEST(test_same_seed_same_sequence)
{
	struct backoff a, b, c;
	int differ = 0;

	backoff_init(&a, 100, 30000, SEED);
	backoff_init(&b, 100, 30000, SEED);
	backoff_init(&c, 100, 30000, SEED + 1);
	for (int i = 0; i < 1000; i++) {
		uint32_t x = backoff_next(&a), y = backoff_next(&b), z = backoff_next(&c);

		ck_assert_uint_eq(x, y);
		differ += x != z;
		if (i % 12 == 11) {
			backoff_reset(&a);
			backoff_reset(&b);
			backoff_reset(&c);
		}
	}
	ck_assert_msg(differ > 500, "another seed gave the same draws %d times of 1000",
	    1000 - differ);
}
END_TEST

/* Full jitter is uniform on [0, ceiling]: the mean is ceiling / 2. */
START_TEST(test_mean_is_half_the_ceiling)
{
	static const uint64_t seeds[] = { SEED, 1, UINT64_MAX, 0 };
	struct backoff b;

	for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
		uint64_t sum = 0;
		uint32_t lo = UINT32_MAX, hi = 0;
		double mean;

		backoff_init(&b, 1000, 1000, seeds[s]);
		for (int i = 0; i < DRAWS; i++) {
			uint32_t d = backoff_next(&b);

			sum += d;
			lo = d < lo ? d : lo;
			hi = d > hi ? d : hi;
		}
		mean = (double)sum / DRAWS;
		ck_assert_msg(mean >= 450.0 && mean <= 550.0, "seed %zu: mean %.1f, want 500 +- 10%%",
		    s, mean);
		/* Both ends of the range are reached, roughly. */
		ck_assert_uint_lt(lo, 20);
		ck_assert_uint_gt(hi, 980);
	}
}
END_TEST

/* --- limits ---------------------------------------------------------------------------- */

START_TEST(test_many_attempts_saturate)
{
	struct backoff b;

	backoff_init(&b, 100, 30000, SEED);
	for (uint32_t a = 30; a < 70; a++) {
		b.attempt = a;
		ck_assert_uint_eq(backoff_ceiling(&b), 30000);
		ck_assert_uint_le(backoff_next(&b), 30000);
	}
	b.attempt = UINT32_MAX - 1;
	ck_assert_uint_le(backoff_next(&b), 30000);
	ck_assert_uint_eq(b.attempt, UINT32_MAX);
	ck_assert_uint_le(backoff_next(&b), 30000);
	ck_assert_uint_eq(b.attempt, UINT32_MAX);
	ck_assert_uint_eq(backoff_ceiling(&b), 30000);
}
END_TEST

START_TEST(test_largest_values)
{
	struct backoff b;
	bool big = false;

	backoff_init(&b, UINT32_MAX, UINT32_MAX, SEED);
	ck_assert_uint_eq(backoff_ceiling(&b), UINT32_MAX);
	for (int i = 0; i < 100; i++) {
		uint32_t d = backoff_next(&b);
		big |= d > UINT32_MAX / 2;
	}
	ck_assert(big);
	/* base * 2^31 is far past a 32-bit cap and must not wrap. */
	backoff_init(&b, UINT32_MAX / 3, UINT32_MAX, SEED);
	for (uint32_t a = 0; a < 40; a++) {
		b.attempt = a;
		ck_assert_uint_ge(backoff_ceiling(&b), UINT32_MAX / 3);
	}
	ck_assert_uint_eq(backoff_ceiling(&b), UINT32_MAX);
}
END_TEST

START_TEST(test_base_equals_cap)
{
	struct backoff b;

	backoff_init(&b, 1, 1, SEED);
	for (int i = 0; i < 100; i++) {
		ck_assert_uint_eq(backoff_ceiling(&b), 1);
		ck_assert_uint_le(backoff_next(&b), 1);
	}
}
END_TEST

/* --- errors ---------------------------------------------------------------------------- */

START_TEST(test_clock_seed_is_nonzero)
{
	struct backoff a, b;

	backoff_init(&a, 100, 1000, 0);
	ck_assert(a.rng != 0);
	backoff_init(&b, 100, 1000, 0);
	ck_assert(b.rng != 0);
	ck_assert_uint_le(backoff_next(&a), 100);
}
END_TEST

START_TEST(test_zero_state_recovers)
{
	struct backoff b;
	int nonzero = 0;

	backoff_init(&b, 1000, 1000, SEED);
	b.rng = 0;  /* xorshift would be stuck at 0 forever */
	for (int i = 0; i < 100; i++)
		nonzero += backoff_next(&b) != 0;
	ck_assert_int_gt(nonzero, 50);
}
END_TEST

START_TEST(test_out_of_contract_arguments)
{
	struct backoff b;

	backoff_init(&b, 0, 0, SEED);
	ck_assert_uint_eq(b.base_ms, 1);
	ck_assert_uint_eq(b.cap_ms, 1);
	backoff_init(&b, 500, 100, SEED);
	ck_assert_uint_eq(backoff_ceiling(&b), 500);
	ck_assert_uint_le(backoff_next(&b), 500);
	ck_assert_uint_eq(backoff_ceiling(&b), 500);
}
END_TEST

Suite *
backoff_suite(void)
{
	Suite *s = suite_create("backoff");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_test(tc, test_ceiling_doubles_then_caps);
	tcase_add_test(tc, test_ceiling_does_not_draw);
	tcase_add_test(tc, test_draws_within_ceiling);
	tcase_add_test(tc, test_reset_starts_from_base);
	tcase_add_test(tc, test_same_seed_same_sequence);
	tcase_add_test(tc, test_mean_is_half_the_ceiling);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_many_attempts_saturate);
	tcase_add_test(tc, test_largest_values);
	tcase_add_test(tc, test_base_equals_cap);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, test_clock_seed_is_nonzero);
	tcase_add_test(tc, test_zero_state_recovers);
	tcase_add_test(tc, test_out_of_contract_arguments);
	suite_add_tcase(s, tc);
	return s;
}
