/* Unit tests for agent/refusal.c: a refused certificate backs off to minutes, once said. */
#include "config.h"

#include "agent/refusal.h"
#include "rpc/grpc.h"
#include "test/check_suites.h"

#define ALERT "TLS: error:0A000414:SSL routines::sslv3 alert certificate revoked"

START_TEST(classify_alerts)
{
	ck_assert_int_eq(refusal_classify(GRPC_UNAVAILABLE, "UNAVAILABLE: " ALERT),
	    REFUSAL_REVOKED);
	ck_assert_int_eq(refusal_classify(GRPC_UNAVAILABLE, "GOAWAY: certificate revoked"),
	    REFUSAL_REVOKED);
	ck_assert_int_eq(refusal_classify(GRPC_UNAVAILABLE,
	    "TLS: error:0A000415:SSL routines::sslv3 alert certificate expired"), REFUSAL_EXPIRED);
	ck_assert_int_eq(refusal_classify(GRPC_UNAVAILABLE, "connect: Connection refused"),
	    REFUSAL_NONE);
	ck_assert_int_eq(refusal_classify(GRPC_UNAVAILABLE, NULL), REFUSAL_NONE);
	ck_assert_int_eq(refusal_classify(GRPC_OK, ALERT), REFUSAL_NONE);
}
END_TEST

START_TEST(revoked_backs_off_to_minutes_announced_once)
{
	struct refusal r = { 0 };
	bool announce;

	ck_assert_uint_eq(refusal_next(&r, GRPC_UNAVAILABLE, "write failed: Connection reset",
	    400, &announce), 400);
	ck_assert(!announce);
	ck_assert_uint_eq(refusal_next(&r, GRPC_UNAVAILABLE, ALERT, 800, &announce),
	    REFUSAL_RETRY_MS);
	ck_assert(announce);
	ck_assert_uint_eq(refusal_next(&r, GRPC_UNAVAILABLE, ALERT, 1600, &announce),
	    REFUSAL_RETRY_MS);
	ck_assert(!announce);
	/* a reset in the handshake says nothing new: still refused */
	ck_assert_uint_eq(refusal_next(&r, GRPC_UNAVAILABLE, "write failed: Connection reset",
	    3200, &announce), REFUSAL_RETRY_MS);
	ck_assert(!announce);
	ck_assert_uint_eq(REFUSAL_RETRY_MS, 300000);
}
END_TEST

START_TEST(success_clears)
{
	struct refusal r = { 0 };
	bool announce;

	refusal_next(&r, GRPC_UNAVAILABLE, ALERT, 500, &announce);
	ck_assert_uint_eq(refusal_next(&r, GRPC_OK, "", 500, &announce), 500);
	ck_assert(!announce);
	ck_assert_uint_eq(refusal_next(&r, GRPC_UNAVAILABLE, "connect: refused", 700, &announce),
	    700);
	/* revoked again later: said again */
	refusal_next(&r, GRPC_UNAVAILABLE, ALERT, 500, &announce);
	ck_assert(announce);
	refusal_clear(&r);
	ck_assert_int_eq(r.kind, REFUSAL_NONE);
}
END_TEST

START_TEST(longer_delay_kept)
{
	struct refusal r = { 0 };
	bool announce;

	ck_assert_uint_eq(refusal_next(&r, GRPC_UNAVAILABLE, ALERT, 2 * REFUSAL_RETRY_MS,
	    &announce), 2 * REFUSAL_RETRY_MS);
}
END_TEST

Suite *
refusal_suite(void)
{
	Suite *s = suite_create("refusal");
	TCase *core = tcase_create("core"), *limits = tcase_create("limits");

	tcase_add_test(core, classify_alerts);
	tcase_add_test(core, revoked_backs_off_to_minutes_announced_once);
	tcase_add_test(core, success_clears);
	tcase_add_test(limits, longer_delay_kept);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}
