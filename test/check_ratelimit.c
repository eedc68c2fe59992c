/* Unit tests for server/ratelimit.c: burst, refill, retry hints, one warning per episode,
 * independence of identities, forgetting refilled buckets. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "server/ratelimit.h"
#include "test/check_suites.h"

static void
id_of(uint32_t n, uint8_t id[RATELIMIT_KEY_LEN])
{
	/* spread n over the hashed bytes like a random key */
	memset(id, 0, RATELIMIT_KEY_LEN);
	for (int i = 0; i < 8; i++)
		id[i] = (uint8_t)((n * 2654435761u) >> (i * 4));
	memcpy(id + 8, &n, sizeof(n));
}

START_TEST(test_burst_then_refused)
{
	struct ratelimit *rl = ratelimit_new(2, 5);
	uint8_t a[RATELIMIT_KEY_LEN];
	uint32_t retry;
	bool first;

	ck_assert_ptr_nonnull(rl);
	id_of(1, a);
	for (int i = 0; i < 5; i++)
		ck_assert(ratelimit_take(rl, a, 1000, &retry, &first));
	ck_assert(!ratelimit_take(rl, a, 1000, &retry, &first));
	ck_assert(first);
	/* 2 per second: the next token is 500 ms away */
	ck_assert_uint_eq(retry, 500);
	ck_assert(!ratelimit_take(rl, a, 1100, &retry, &first));
	ck_assert(!first);
	ck_assert_uint_eq(retry, 400);
	ck_assert(ratelimit_take(rl, a, 1500, &retry, &first));
	ck_assert(!ratelimit_take(rl, a, 1500, &retry, &first));
	ck_assert(first);   /* a new episode after a success */
	ratelimit_del(rl);
}
END_TEST

START_TEST(test_refill_caps_at_burst)
{
	struct ratelimit *rl = ratelimit_new(10, 3);
	uint8_t a[RATELIMIT_KEY_LEN];
	uint32_t retry;
	bool first;
	int ok = 0;

	id_of(7, a);
	for (int i = 0; i < 3; i++)
		ck_assert(ratelimit_take(rl, a, 0, &retry, &first));
	/* an hour later: still only the burst */
	for (int i = 0; i < 10; i++)
		ok += ratelimit_take(rl, a, 3600000, &retry, &first);
	ck_assert_int_eq(ok, 3);
	/* a clock that goes back is no gift */
	ck_assert(!ratelimit_take(rl, a, 100, &retry, &first));
	ratelimit_del(rl);
}
END_TEST

START_TEST(test_identities_independent)
{
	struct ratelimit *rl = ratelimit_new(1, 1);
	uint8_t a[RATELIMIT_KEY_LEN], b[RATELIMIT_KEY_LEN];
	uint32_t retry;
	bool first;

	id_of(1, a);
	id_of(2, b);
	ck_assert(ratelimit_take(rl, a, 0, &retry, &first));
	ck_assert(!ratelimit_take(rl, a, 0, &retry, &first));
	ck_assert(ratelimit_take(rl, b, 0, &retry, &first));
	ck_assert_uint_eq(ratelimit_count(rl), 2);
	ratelimit_del(rl);
}
END_TEST

START_TEST(test_refilled_buckets_forgotten)
{
	struct ratelimit *rl = ratelimit_new(100, 2);
	uint8_t id[RATELIMIT_KEY_LEN];
	uint32_t retry;
	bool first;

	/* 100,000 callers spread over time: only the recent ones are kept */
	for (uint32_t i = 0; i < 100000; i++) {
		id_of(i, id);
		ck_assert(ratelimit_take(rl, id, (uint64_t)i, &retry, &first));
	}
	/* a bucket refills within 10 ms (1 token at 100/s): at most ~2 x 64 survive a rebuild */
	ck_assert_uint_lt(ratelimit_count(rl), 1000);
	/* and a caller still limited is remembered across rebuilds */
	id_of(99999, id);
	ck_assert(ratelimit_take(rl, id, 99999, &retry, &first));
	ck_assert(!ratelimit_take(rl, id, 99999, &retry, &first));
	ratelimit_del(rl);
}
END_TEST

Suite *
ratelimit_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_burst_then_refused);
	tcase_add_test(tc, test_refill_caps_at_burst);
	tcase_add_test(tc, test_identities_independent);
	tcase_add_test(tc, test_refilled_buckets_forgotten);
	suite_add_tcase(s, tc);
	return s;
}
