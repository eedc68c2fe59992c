/* Tests for agent/refused.c: the last refused record of each peer, bounded. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "agent/refused.h"
#include "test/check_suites.h"

/* A record with key byte k (32 bytes of it) and name n, in caller storage. */
struct rec {
	Wiresync__V1__Peer p;
	uint8_t key[32];
	char name[16];
};

static Wiresync__V1__Peer *
rec(struct rec *r, uint8_t k, const char *n)
{
	wiresync__v1__peer__init(&r->p);
	memset(r->key, k, sizeof(r->key));
	snprintf(r->name, sizeof(r->name), "%s", n);
	r->p.public_key.data = r->key;
	r->p.public_key.len = sizeof(r->key);
	r->p.name = r->name;
	return &r->p;
}

START_TEST(test_put_keeps_a_copy)
{
	struct refused_set s = { 0 };
	struct rec r;

	ck_assert_int_eq(refused_put(&s, rec(&r, 1, "one"), REFUSED_UNVERIFIED), 0);
	snprintf(r.name, sizeof(r.name), "changed");
	ck_assert_uint_eq(s.n, 1);
	ck_assert_str_eq(s.recs[0]->name, "one");
	refused_clear(&s);
	ck_assert_uint_eq(s.n, 0);
	ck_assert_ptr_null(s.recs);
}
END_TEST

START_TEST(test_put_replaces_same_key)
{
	struct refused_set s = { 0 };
	struct rec r;

	ck_assert_int_eq(refused_put(&s, rec(&r, 1, "old"), REFUSED_UNVERIFIED), 0);
	ck_assert_int_eq(refused_put(&s, rec(&r, 2, "other"), REFUSED_UNVERIFIED), 0);
	ck_assert_int_eq(refused_put(&s, rec(&r, 1, "new"), REFUSED_UNVERIFIED), 0);
	ck_assert_uint_eq(s.n, 2);
	ck_assert_str_eq(s.recs[0]->name, "new");
	refused_clear(&s);
}
END_TEST

/* Why each record is held follows it through a replacement and a take's move. */
START_TEST(test_why_follows_the_record)
{
	struct refused_set s = { 0 };
	struct rec r;

	ck_assert_int_eq(refused_put(&s, rec(&r, 1, "a"), REFUSED_UNVERIFIED), 0);
	ck_assert_int_eq(refused_put(&s, rec(&r, 2, "b"), REFUSED_UNVERIFIED), 0);
	ck_assert_int_eq(refused_put(&s, rec(&r, 3, "c"), REFUSED_POLICY), 0);
	ck_assert_int_eq(refused_put(&s, rec(&r, 2, "b2"), REFUSED_POLICY), 0);
	ck_assert_int_eq(s.why[1], REFUSED_POLICY);
	wiresync__v1__peer__free_unpacked(refused_take(&s, 0), NULL);
	/* "c" moved to 0 with its why */
	ck_assert_str_eq(s.recs[0]->name, "c");
	ck_assert_int_eq(s.why[0], REFUSED_POLICY);
	ck_assert_int_eq(refused_put(&s, rec(&r, 3, "c2"), REFUSED_UNVERIFIED), 0);
	ck_assert_int_eq(s.why[0], REFUSED_UNVERIFIED);
	refused_clear(&s);
	ck_assert_ptr_null(s.why);
}
END_TEST

START_TEST(test_forget_and_take)
{
	struct refused_set s = { 0 };
	struct rec r;
	Wiresync__V1__Peer *p;
	uint8_t k2[32];

	for (uint8_t k = 1; k <= 3; k++)
		ck_assert_int_eq(refused_put(&s, rec(&r, k, "x"), REFUSED_UNVERIFIED), 0);
	memset(k2, 2, sizeof(k2));
	refused_forget(&s, k2, sizeof(k2));
	ck_assert_uint_eq(s.n, 2);
	refused_forget(&s, k2, sizeof(k2));          /* gone already: nothing */
	refused_forget(&s, k2, 5);                   /* a short key matches nothing */
	ck_assert_uint_eq(s.n, 2);
	p = refused_take(&s, 0);
	ck_assert_uint_eq(p->public_key.data[0], 1);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_uint_eq(s.recs[0]->public_key.data[0], 3);
	wiresync__v1__peer__free_unpacked(p, NULL);
	refused_clear(&s);
}
END_TEST

/* A server sending records without end cannot grow the set past REFUSED_MAX. */
START_TEST(test_bounded)
{
	struct refused_set s = { 0 };
	struct rec r;

	rec(&r, 0, "x");
	for (uint32_t i = 0; i < REFUSED_MAX + 10; i++) {
		memcpy(r.key, &i, sizeof(i));
		ck_assert_int_eq(refused_put(&s, &r.p, REFUSED_UNVERIFIED), 0);
	}
	ck_assert_uint_eq(s.n, REFUSED_MAX);
	refused_clear(&s);
}
END_TEST

Suite *
refused_suite(void)
{
	Suite *s = suite_create("refused");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_test(tc, test_put_keeps_a_copy);
	tcase_add_test(tc, test_put_replaces_same_key);
	tcase_add_test(tc, test_forget_and_take);
	tcase_add_test(tc, test_why_follows_the_record);
	suite_add_tcase(s, tc);
	tc = tcase_create("limits");
	tcase_add_test(tc, test_bounded);
	suite_add_tcase(s, tc);
	return s;
}
