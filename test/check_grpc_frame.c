/* Unit tests for rpc/grpc.c's message framing: the 5-byte length prefix and the frame
 * reader fed whole, split and byte by byte, up to and past its limit. Status names and
 * header values are in check_grpc.c. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "rpc/grpc.h"
#include "test/check_suites.h"

/* Builds a 5-byte prefix with an arbitrary flag byte. */
static void
prefix(uint8_t out[GRPC_PREFIX_LEN], uint8_t flag, uint32_t len)
{
	out[0] = flag;
	out[1] = (uint8_t)(len >> 24);
	out[2] = (uint8_t)(len >> 16);
	out[3] = (uint8_t)(len >> 8);
	out[4] = (uint8_t)len;
}

/* --- core ------------------------------------------------------------------------------ */

START_TEST(test_prefix_write)
{
	static const uint8_t want[GRPC_PREFIX_LEN] = { 0, 0x01, 0x02, 0x03, 0x04 };
	uint8_t p[GRPC_PREFIX_LEN];

	grpc_prefix_write(p, 0x01020304);
	ck_assert_mem_eq(p, want, GRPC_PREFIX_LEN);
}
END_TEST

START_TEST(test_prefix_round_trip)
{
	uint8_t buf[GRPC_PREFIX_LEN + 3] = { 0 };
	struct grpc_frame f;
	const uint8_t *m;
	size_t used, len;

	grpc_prefix_write(buf, 3);
	memcpy(buf + GRPC_PREFIX_LEN, "xyz", 3);
	grpc_frame_init(&f, 16);
	ck_assert_int_eq(grpc_frame_feed(&f, buf, sizeof(buf), &used), GRPC_FRAME_MESSAGE);
	m = grpc_frame_message(&f, &len);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(m, "xyz", 3);
	grpc_frame_free(&f);
}
END_TEST

START_TEST(test_frame_one_feed)
{
	uint8_t buf[GRPC_PREFIX_LEN + 4];
	struct grpc_frame f;
	const uint8_t *m;
	size_t used = 99, len = 99;

	grpc_prefix_write(buf, 4);
	memcpy(buf + GRPC_PREFIX_LEN, "abcd", 4);
	grpc_frame_init(&f, 1024);
	ck_assert_int_eq(grpc_frame_feed(&f, buf, sizeof(buf), &used), GRPC_FRAME_MESSAGE);
	ck_assert_uint_eq(used, sizeof(buf));
	m = grpc_frame_message(&f, &len);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(len, 4);
	ck_assert_mem_eq(m, "abcd", 4);
	grpc_frame_free(&f);
}
END_TEST

START_TEST(test_frame_byte_by_byte)
{
	uint8_t buf[GRPC_PREFIX_LEN + 6];
	struct grpc_frame f;
	const uint8_t *m;
	size_t used, len;

	grpc_prefix_write(buf, 6);
	memcpy(buf + GRPC_PREFIX_LEN, "hello!", 6);
	grpc_frame_init(&f, 1024);
	for (size_t i = 0; i + 1 < sizeof(buf); i++) {
		ck_assert_int_eq(grpc_frame_feed(&f, buf + i, 1, &used), GRPC_FRAME_MORE);
		ck_assert_uint_eq(used, 1);
		ck_assert_ptr_null(grpc_frame_message(&f, &len));
		ck_assert_uint_eq(len, 0);
	}
	ck_assert_int_eq(grpc_frame_feed(&f, buf + sizeof(buf) - 1, 1, &used),
	    GRPC_FRAME_MESSAGE);
	ck_assert_uint_eq(used, 1);
	m = grpc_frame_message(&f, &len);
	ck_assert_uint_eq(len, 6);
	ck_assert_mem_eq(m, "hello!", 6);
	grpc_frame_free(&f);
}
END_TEST

START_TEST(test_frame_two_in_one_feed)
{
	uint8_t buf[2 * GRPC_PREFIX_LEN + 3 + 2];
	struct grpc_frame f;
	const uint8_t *m;
	size_t used, len, off;

	grpc_prefix_write(buf, 3);
	memcpy(buf + GRPC_PREFIX_LEN, "one", 3);
	grpc_prefix_write(buf + GRPC_PREFIX_LEN + 3, 2);
	memcpy(buf + 2 * GRPC_PREFIX_LEN + 3, "tw", 2);
	grpc_frame_init(&f, 1024);

	ck_assert_int_eq(grpc_frame_feed(&f, buf, sizeof(buf), &used), GRPC_FRAME_MESSAGE);
	ck_assert_uint_eq(used, GRPC_PREFIX_LEN + 3);
	off = used;
	m = grpc_frame_message(&f, &len);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(m, "one", 3);

	/* Until the first message is dropped, the rest is not consumed. */
	ck_assert_int_eq(grpc_frame_feed(&f, buf + off, sizeof(buf) - off, &used),
	    GRPC_FRAME_MESSAGE);
	ck_assert_uint_eq(used, 0);
	m = grpc_frame_message(&f, &len);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(m, "one", 3);

	grpc_frame_next(&f);
	ck_assert_int_eq(grpc_frame_feed(&f, buf + off, sizeof(buf) - off, &used),
	    GRPC_FRAME_MESSAGE);
	ck_assert_uint_eq(used, GRPC_PREFIX_LEN + 2);
	m = grpc_frame_message(&f, &len);
	ck_assert_uint_eq(len, 2);
	ck_assert_mem_eq(m, "tw", 2);
	grpc_frame_free(&f);
}
END_TEST

START_TEST(test_frame_empty_message)
{
	uint8_t buf[GRPC_PREFIX_LEN];
	struct grpc_frame f;
	size_t used, len = 99;

	grpc_prefix_write(buf, 0);
	grpc_frame_init(&f, 1024);
	ck_assert_int_eq(grpc_frame_feed(&f, buf, sizeof(buf), &used), GRPC_FRAME_MESSAGE);
	ck_assert_uint_eq(used, GRPC_PREFIX_LEN);
	ck_assert_ptr_nonnull(grpc_frame_message(&f, &len));
	ck_assert_uint_eq(len, 0);
	grpc_frame_free(&f);
}
END_TEST

START_TEST(test_frame_idle_transitions)
{
	uint8_t buf[GRPC_PREFIX_LEN + 2];
	struct grpc_frame f;
	size_t used;

	grpc_prefix_write(buf, 2);
	buf[GRPC_PREFIX_LEN] = 'o';
	buf[GRPC_PREFIX_LEN + 1] = 'k';
	grpc_frame_init(&f, 1024);
	ck_assert(grpc_frame_idle(&f));
	ck_assert_int_eq(grpc_frame_feed(&f, buf, 2, &used), GRPC_FRAME_MORE);
	ck_assert(!grpc_frame_idle(&f)); /* half a prefix */
	ck_assert_int_eq(grpc_frame_feed(&f, buf + 2, 4, &used), GRPC_FRAME_MORE);
	ck_assert(!grpc_frame_idle(&f)); /* half a body */
	ck_assert_int_eq(grpc_frame_feed(&f, buf + 6, 1, &used), GRPC_FRAME_MESSAGE);
	ck_assert(!grpc_frame_idle(&f)); /* message not yet taken */
	grpc_frame_next(&f);
	ck_assert(grpc_frame_idle(&f));
	grpc_frame_free(&f);
}
END_TEST

START_TEST(test_frame_feed_empty_data)
{
	struct grpc_frame f;
	uint8_t b = 0;
	size_t used = 99;

	grpc_frame_init(&f, 1024);
	ck_assert_int_eq(grpc_frame_feed(&f, &b, 0, &used), GRPC_FRAME_MORE);
	ck_assert_uint_eq(used, 0);
	ck_assert(grpc_frame_idle(&f));
	grpc_frame_free(&f);
}
END_TEST

/* --- limits ---------------------------------------------------------------------------- */

START_TEST(test_frame_exactly_max)
{
	uint8_t buf[GRPC_PREFIX_LEN + 8];
	struct grpc_frame f;
	const uint8_t *m;
	size_t used, len;

	grpc_prefix_write(buf, 8);
	memcpy(buf + GRPC_PREFIX_LEN, "12345678", 8);
	grpc_frame_init(&f, 8);
	ck_assert_int_eq(grpc_frame_feed(&f, buf, sizeof(buf), &used), GRPC_FRAME_MESSAGE);
	ck_assert_uint_eq(used, sizeof(buf));
	m = grpc_frame_message(&f, &len);
	ck_assert_uint_eq(len, 8);
	ck_assert_mem_eq(m, "12345678", 8);
	grpc_frame_free(&f);
}
END_TEST

START_TEST(test_frame_max_plus_one)
{
	uint8_t buf[GRPC_PREFIX_LEN];
	struct grpc_frame f;
	size_t used, len;

	grpc_prefix_write(buf, 9);
	grpc_frame_init(&f, 8);
	ck_assert_int_eq(grpc_frame_feed(&f, buf, sizeof(buf), &used), GRPC_FRAME_TOO_LARGE);
	ck_assert_ptr_null(grpc_frame_message(&f, &len));
	grpc_frame_free(&f);
}
END_TEST

START_TEST(test_frame_default_max)
{
	uint8_t buf[GRPC_PREFIX_LEN];
	struct grpc_frame f;
	size_t used;

	grpc_prefix_write(buf, GRPC_MAX_MESSAGE_DEFAULT + 1);
	grpc_frame_init(&f, GRPC_MAX_MESSAGE_DEFAULT);
	ck_assert_int_eq(grpc_frame_feed(&f, buf, sizeof(buf), &used), GRPC_FRAME_TOO_LARGE);
	grpc_frame_free(&f);
}
END_TEST

START_TEST(test_frame_huge_length)
{
	uint8_t buf[GRPC_PREFIX_LEN];
	struct grpc_frame f;
	size_t used;

	prefix(buf, 0, UINT32_MAX);
	grpc_frame_init(&f, GRPC_MAX_MESSAGE_DEFAULT);
	ck_assert_int_eq(grpc_frame_feed(&f, buf, sizeof(buf), &used), GRPC_FRAME_TOO_LARGE);
	ck_assert_ptr_null(f.buf); /* nothing allocated for a refused length */
	grpc_frame_free(&f);
}
END_TEST

/* --- errors ---------------------------------------------------------------------------- */

START_TEST(test_frame_compressed)
{
	uint8_t buf[GRPC_PREFIX_LEN + 1];
	struct grpc_frame f;
	size_t used;

	prefix(buf, 1, 1);
	buf[GRPC_PREFIX_LEN] = 'z';
	grpc_frame_init(&f, 1024);
	ck_assert_int_eq(grpc_frame_feed(&f, buf, sizeof(buf), &used), GRPC_FRAME_COMPRESSED);
	grpc_frame_free(&f);
}
END_TEST

START_TEST(test_frame_bad_flag)
{
	uint8_t buf[GRPC_PREFIX_LEN + 1];
	struct grpc_frame f;
	size_t used;

	prefix(buf, 2, 1);
	buf[GRPC_PREFIX_LEN] = 'z';
	grpc_frame_init(&f, 1024);
	ck_assert_int_eq(grpc_frame_feed(&f, buf, sizeof(buf), &used), GRPC_FRAME_BAD_FLAG);
	grpc_frame_free(&f);
}
END_TEST

START_TEST(test_frame_error_sticky)
{
	uint8_t buf[GRPC_PREFIX_LEN], ok[GRPC_PREFIX_LEN];
	struct grpc_frame f;
	size_t used;

	prefix(buf, 0, 100);
	grpc_prefix_write(ok, 1);
	grpc_frame_init(&f, 10);
	ck_assert_int_eq(grpc_frame_feed(&f, buf, sizeof(buf), &used), GRPC_FRAME_TOO_LARGE);
	ck_assert_int_eq(grpc_frame_feed(&f, ok, sizeof(ok), &used), GRPC_FRAME_TOO_LARGE);
	ck_assert_uint_eq(used, 0);
	grpc_frame_free(&f);
}
END_TEST

Suite *
grpc_frame_suite(void)
{
	Suite *s = suite_create("grpc_frame");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_test(tc, test_prefix_write);
	tcase_add_test(tc, test_prefix_round_trip);
	tcase_add_test(tc, test_frame_one_feed);
	tcase_add_test(tc, test_frame_byte_by_byte);
	tcase_add_test(tc, test_frame_two_in_one_feed);
	tcase_add_test(tc, test_frame_empty_message);
	tcase_add_test(tc, test_frame_idle_transitions);
	tcase_add_test(tc, test_frame_feed_empty_data);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_frame_exactly_max);
	tcase_add_test(tc, test_frame_max_plus_one);
	tcase_add_test(tc, test_frame_default_max);
	tcase_add_test(tc, test_frame_huge_length);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, test_frame_compressed);
	tcase_add_test(tc, test_frame_bad_flag);
	tcase_add_test(tc, test_frame_error_sticky);
	suite_add_tcase(s, tc);
	return s;
}
