/* Unit tests for rpc/grpc.c: status names and header values (content-type, grpc-timeout,
 * grpc-message). Message framing is in check_grpc_frame.c. */
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
	suite_add_tcase(s, tc);
	return s;
}
