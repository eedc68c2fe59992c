/* Unit tests for rpc/grpc.c: status names, header values, message framing. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "rpc/grpc.h"
#include "test/check_suites.h"

/* Content-type check on a NUL-terminated literal. */
static bool
ctype_ok(const char *s)
{
	return grpc_content_type_ok(s, strlen(s));
}

/* Parses s as grpc-timeout; *ms keeps its sentinel when refused. */
static bool
timeout(const char *s, uint64_t *ms)
{
	*ms = UINT64_C(0xdeadbeef);
	return grpc_timeout_parse(s, strlen(s), ms);
}

/* Asserts s parses to want milliseconds. */
static void
timeout_is(const char *s, uint64_t want)
{
	uint64_t ms;

	ck_assert_msg(timeout(s, &ms), "refused \"%s\"", s);
	ck_assert_uint_eq(ms, want);
}

/* Asserts s is refused and *ms untouched. */
static void
timeout_refused(const char *s)
{
	uint64_t ms;

	ck_assert_msg(!timeout(s, &ms), "accepted \"%s\"", s);
	ck_assert_uint_eq(ms, UINT64_C(0xdeadbeef));
}

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

START_TEST(test_status_names)
{
	ck_assert_str_eq(grpc_status_name(GRPC_OK), "OK");
	ck_assert_str_eq(grpc_status_name(GRPC_CANCELLED), "CANCELLED");
	ck_assert_str_eq(grpc_status_name(GRPC_UNKNOWN), "UNKNOWN");
	ck_assert_str_eq(grpc_status_name(GRPC_INVALID_ARGUMENT), "INVALID_ARGUMENT");
	ck_assert_str_eq(grpc_status_name(GRPC_DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
	ck_assert_str_eq(grpc_status_name(GRPC_NOT_FOUND), "NOT_FOUND");
	ck_assert_str_eq(grpc_status_name(GRPC_ALREADY_EXISTS), "ALREADY_EXISTS");
	ck_assert_str_eq(grpc_status_name(GRPC_PERMISSION_DENIED), "PERMISSION_DENIED");
	ck_assert_str_eq(grpc_status_name(GRPC_RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
	ck_assert_str_eq(grpc_status_name(GRPC_FAILED_PRECONDITION), "FAILED_PRECONDITION");
	ck_assert_str_eq(grpc_status_name(GRPC_ABORTED), "ABORTED");
	ck_assert_str_eq(grpc_status_name(GRPC_OUT_OF_RANGE), "OUT_OF_RANGE");
	ck_assert_str_eq(grpc_status_name(GRPC_UNIMPLEMENTED), "UNIMPLEMENTED");
	ck_assert_str_eq(grpc_status_name(GRPC_INTERNAL), "INTERNAL");
	ck_assert_str_eq(grpc_status_name(GRPC_UNAVAILABLE), "UNAVAILABLE");
	ck_assert_str_eq(grpc_status_name(GRPC_DATA_LOSS), "DATA_LOSS");
	ck_assert_str_eq(grpc_status_name(GRPC_UNAUTHENTICATED), "UNAUTHENTICATED");
}
END_TEST

START_TEST(test_ctype_plain)
{
	ck_assert(ctype_ok("application/grpc"));
}
END_TEST

START_TEST(test_ctype_proto)
{
	ck_assert(ctype_ok("application/grpc+proto"));
}
END_TEST

START_TEST(test_ctype_params)
{
	ck_assert(ctype_ok("application/grpc;charset=utf-8"));
	ck_assert(ctype_ok("application/grpc+proto;charset=utf-8"));
}
END_TEST

START_TEST(test_ctype_uses_len)
{
	/* Only the first len bytes count: the tail past len is not looked at. */
	ck_assert(grpc_content_type_ok("application/grpcXYZ", 16));
	ck_assert(!grpc_content_type_ok("application/grpc", 15));
}
END_TEST

START_TEST(test_timeout_units)
{
	timeout_is("2H", 7200000);
	timeout_is("3M", 180000);
	timeout_is("1S", 1000);
	timeout_is("250m", 250);
	timeout_is("100000u", 100);
	timeout_is("5000000n", 5);
}
END_TEST

START_TEST(test_timeout_zero)
{
	timeout_is("0S", 0);
	timeout_is("0u", 0);
	timeout_is("0n", 0);
}
END_TEST

START_TEST(test_timeout_rounds_up_micro)
{
	timeout_is("1u", 1);
	timeout_is("1000u", 1);
	timeout_is("1001u", 2);
}
END_TEST

START_TEST(test_timeout_rounds_up_nano)
{
	timeout_is("1n", 1);
	timeout_is("1000000n", 1);
	timeout_is("1000001n", 2);
}
END_TEST

START_TEST(test_message_encode_plain)
{
	char out[64];

	ck_assert_uint_eq(grpc_message_encode("no such peer", out, sizeof(out)), 12);
	ck_assert_str_eq(out, "no such peer");
}
END_TEST

START_TEST(test_message_encode_utf8)
{
	char out[64];

	/* "café ✓": é is C3 A9, ✓ is E2 9C 93 */
	ck_assert_uint_eq(grpc_message_encode("caf\xc3\xa9 \xe2\x9c\x93", out, sizeof(out)), 19);
	ck_assert_str_eq(out, "caf%C3%A9 %E2%9C%93");
}
END_TEST

START_TEST(test_message_encode_percent)
{
	char out[64];

	ck_assert_uint_eq(grpc_message_encode("100%", out, sizeof(out)), 6);
	ck_assert_str_eq(out, "100%25");
}
END_TEST

START_TEST(test_message_encode_controls)
{
	char out[64];

	ck_assert_uint_eq(grpc_message_encode("a\nb\x7f", out, sizeof(out)), 8);
	ck_assert_str_eq(out, "a%0Ab%7F");
}
END_TEST

START_TEST(test_message_decode_escapes)
{
	char out[64];

	ck_assert_uint_eq(grpc_message_decode("caf%C3%A9 100%25", 16, out, sizeof(out)), 10);
	ck_assert_str_eq(out, "caf\xc3\xa9 100%");
}
END_TEST

START_TEST(test_message_decode_lower_hex)
{
	char out[64];

	ck_assert_uint_eq(grpc_message_decode("%e2%9c%93", 9, out, sizeof(out)), 3);
	ck_assert_str_eq(out, "\xe2\x9c\x93");
}
END_TEST

START_TEST(test_message_round_trip)
{
	static const char msg[] = "lan_ips[0]: invalid \"\xc3\xa9\" 50% \t done";
	char enc[128], dec[128];
	size_t n;

	n = grpc_message_encode(msg, enc, sizeof(enc));
	ck_assert_uint_eq(grpc_message_decode(enc, n, dec, sizeof(dec)), strlen(msg));
	ck_assert_str_eq(dec, msg);
}
END_TEST

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

START_TEST(test_status_name_past_table)
{
	ck_assert_str_eq(grpc_status_name(17), "UNKNOWN");
	ck_assert_str_eq(grpc_status_name(-1), "UNKNOWN");
	ck_assert_str_eq(grpc_status_name(1000000), "UNKNOWN");
}
END_TEST

START_TEST(test_timeout_eight_digits)
{
	timeout_is("99999999m", 99999999);
	timeout_is("99999999H", UINT64_C(99999999) * 3600000);
	timeout_is("99999999n", 100);
}
END_TEST

START_TEST(test_timeout_nine_digits)
{
	timeout_refused("100000000m");
}
END_TEST

START_TEST(test_message_encode_cut_before_char)
{
	char out[4];

	ck_assert_uint_eq(grpc_message_encode("abcdef", out, sizeof(out)), 3);
	ck_assert_str_eq(out, "abc");
}
END_TEST

START_TEST(test_message_encode_cut_whole_escape)
{
	char out[6];

	/* "a%C3%A9" needs 8 bytes; only "a%C3" fits, never "a%C3%" or "a%C3%A". */
	ck_assert_uint_eq(grpc_message_encode("a\xc3\xa9", out, sizeof(out)), 4);
	ck_assert_str_eq(out, "a%C3");
	ck_assert_uint_eq(grpc_message_encode("a\xc3\xa9", out, 4), 1);
	ck_assert_str_eq(out, "a");
}
END_TEST

START_TEST(test_message_encode_exact_fit)
{
	char out[5];

	ck_assert_uint_eq(grpc_message_encode("a%", out, sizeof(out)), 4);
	ck_assert_str_eq(out, "a%25");
}
END_TEST

START_TEST(test_message_encode_outlen_one)
{
	char out[1] = { 'x' };

	ck_assert_uint_eq(grpc_message_encode("abc", out, sizeof(out)), 0);
	ck_assert_int_eq(out[0], '\0');
}
END_TEST

START_TEST(test_message_encode_outlen_zero)
{
	char out[1] = { 'x' };

	ck_assert_uint_eq(grpc_message_encode("abc", out, 0), 0);
	ck_assert_int_eq(out[0], 'x');
}
END_TEST

START_TEST(test_message_decode_truncates)
{
	char out[3];

	ck_assert_uint_eq(grpc_message_decode("%41%42%43", 9, out, sizeof(out)), 2);
	ck_assert_str_eq(out, "AB");
}
END_TEST

START_TEST(test_message_decode_uses_len)
{
	char out[16];

	ck_assert_uint_eq(grpc_message_decode("ab%41", 2, out, sizeof(out)), 2);
	ck_assert_str_eq(out, "ab");
}
END_TEST

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

START_TEST(test_ctype_json)
{
	ck_assert(!ctype_ok("application/json"));
}
END_TEST

START_TEST(test_ctype_grpc_json)
{
	ck_assert(!ctype_ok("application/grpc+json"));
}
END_TEST

START_TEST(test_ctype_grpcx)
{
	ck_assert(!ctype_ok("application/grpcx"));
	ck_assert(!ctype_ok("application/grpc+protox"));
}
END_TEST

START_TEST(test_ctype_short)
{
	ck_assert(!ctype_ok(""));
	ck_assert(!ctype_ok("application/grp"));
	ck_assert(!ctype_ok("application/grpc+"));
}
END_TEST

START_TEST(test_timeout_no_unit)
{
	timeout_refused("100");
}
END_TEST

START_TEST(test_timeout_unit_only)
{
	timeout_refused("S");
}
END_TEST

START_TEST(test_timeout_empty)
{
	timeout_refused("");
}
END_TEST

START_TEST(test_timeout_unknown_unit)
{
	timeout_refused("10s");
	timeout_refused("10h");
	timeout_refused("10x");
}
END_TEST

START_TEST(test_timeout_sign)
{
	timeout_refused("-1S");
	timeout_refused("+1S");
}
END_TEST

START_TEST(test_timeout_junk)
{
	timeout_refused("1 S");
	timeout_refused("1.5S");
	timeout_refused("1SS");
}
END_TEST

START_TEST(test_message_decode_invalid_escape_kept)
{
	char out[16];

	ck_assert_uint_eq(grpc_message_decode("%zz%4g", 6, out, sizeof(out)), 6);
	ck_assert_str_eq(out, "%zz%4g");
}
END_TEST

START_TEST(test_message_decode_short_escape_kept)
{
	char out[16];

	ck_assert_uint_eq(grpc_message_decode("a%4", 3, out, sizeof(out)), 3);
	ck_assert_str_eq(out, "a%4");
	ck_assert_uint_eq(grpc_message_decode("a%", 2, out, sizeof(out)), 2);
	ck_assert_str_eq(out, "a%");
}
END_TEST

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
grpc_suite(void)
{
	Suite *s = suite_create("grpc");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_test(tc, test_status_names);
	tcase_add_test(tc, test_ctype_plain);
	tcase_add_test(tc, test_ctype_proto);
	tcase_add_test(tc, test_ctype_params);
	tcase_add_test(tc, test_ctype_uses_len);
	tcase_add_test(tc, test_timeout_units);
	tcase_add_test(tc, test_timeout_zero);
	tcase_add_test(tc, test_timeout_rounds_up_micro);
	tcase_add_test(tc, test_timeout_rounds_up_nano);
	tcase_add_test(tc, test_message_encode_plain);
	tcase_add_test(tc, test_message_encode_utf8);
	tcase_add_test(tc, test_message_encode_percent);
	tcase_add_test(tc, test_message_encode_controls);
	tcase_add_test(tc, test_message_decode_escapes);
	tcase_add_test(tc, test_message_decode_lower_hex);
	tcase_add_test(tc, test_message_round_trip);
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
	tcase_add_test(tc, test_status_name_past_table);
	tcase_add_test(tc, test_timeout_eight_digits);
	tcase_add_test(tc, test_timeout_nine_digits);
	tcase_add_test(tc, test_message_encode_cut_before_char);
	tcase_add_test(tc, test_message_encode_cut_whole_escape);
	tcase_add_test(tc, test_message_encode_exact_fit);
	tcase_add_test(tc, test_message_encode_outlen_one);
	tcase_add_test(tc, test_message_encode_outlen_zero);
	tcase_add_test(tc, test_message_decode_truncates);
	tcase_add_test(tc, test_message_decode_uses_len);
	tcase_add_test(tc, test_frame_exactly_max);
	tcase_add_test(tc, test_frame_max_plus_one);
	tcase_add_test(tc, test_frame_default_max);
	tcase_add_test(tc, test_frame_huge_length);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, test_ctype_json);
	tcase_add_test(tc, test_ctype_grpc_json);
	tcase_add_test(tc, test_ctype_grpcx);
	tcase_add_test(tc, test_ctype_short);
	tcase_add_test(tc, test_timeout_no_unit);
	tcase_add_test(tc, test_timeout_unit_only);
	tcase_add_test(tc, test_timeout_empty);
	tcase_add_test(tc, test_timeout_unknown_unit);
	tcase_add_test(tc, test_timeout_sign);
	tcase_add_test(tc, test_timeout_junk);
	tcase_add_test(tc, test_message_decode_invalid_escape_kept);
	tcase_add_test(tc, test_message_decode_short_escape_kept);
	tcase_add_test(tc, test_frame_compressed);
	tcase_add_test(tc, test_frame_bad_flag);
	tcase_add_test(tc, test_frame_error_sticky);
	suite_add_tcase(s, tc);
	return s;
}
