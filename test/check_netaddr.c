/* Tests for common/netaddr.c: strict parsing, canonical text, socket addresses. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "common/netaddr.h"
#include "test/check_suites.h"

/* Parses s and returns its canonical text (with the prefix when allow_prefix). */
static const char *
roundtrip(const char *s, bool allow_prefix, char buf[NETADDR_STRLEN])
{
	struct netaddr a;
	char err[128];

	ck_assert_msg(netaddr_parse(s, allow_prefix, &a, err, sizeof(err)), "%s: %s", s, err);
	return netaddr_format(&a, allow_prefix, buf);
}

/* Asserts that s is refused and that the message is exactly want. */
static void
refused(const char *s, bool allow_prefix, const char *want)
{
	struct netaddr a;
	char err[128] = "";

	memset(&a, 0xaa, sizeof(a));
	ck_assert_msg(!netaddr_parse(s, allow_prefix, &a, err, sizeof(err)), "accepted %s", s);
	ck_assert_str_eq(err, want);
	ck_assert_uint_eq(a.family, 0xaa); /* untouched on failure */
}

/* --- core ------------------------------------------------------------------------------ */

START_TEST(test_parse_v4)
{
	static const uint8_t want[4] = { 192, 0, 2, 1 };
	struct netaddr a;
	char err[64];

	ck_assert(netaddr_parse("192.0.2.1", false, &a, err, sizeof(err)));
	ck_assert_uint_eq(a.family, AF_INET);
	ck_assert_uint_eq(a.prefix, 32);
	ck_assert_mem_eq(a.addr, want, 4);
}
END_TEST

START_TEST(test_parse_v6)
{
	static const uint8_t want[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct netaddr a;
	char err[64];

	ck_assert(netaddr_parse("2001:db8::1", false, &a, err, sizeof(err)));
	ck_assert_uint_eq(a.family, AF_INET6);
	ck_assert_uint_eq(a.prefix, 128);
	ck_assert_mem_eq(a.addr, want, 16);
}
END_TEST

START_TEST(test_parse_v4_prefix)
{
	struct netaddr a;
	char err[64];

	ck_assert(netaddr_parse("10.9.0.0/16", true, &a, err, sizeof(err)));
	ck_assert_uint_eq(a.family, AF_INET);
	ck_assert_uint_eq(a.prefix, 16);
}
END_TEST

START_TEST(test_parse_v6_prefix)
{
	struct netaddr a;
	char err[64];

	ck_assert(netaddr_parse("fd00:9::/64", true, &a, err, sizeof(err)));
	ck_assert_uint_eq(a.family, AF_INET6);
	ck_assert_uint_eq(a.prefix, 64);
}
END_TEST

START_TEST(test_parse_keeps_host_bits)
{
	char buf[NETADDR_STRLEN];

	ck_assert_str_eq(roundtrip("10.9.0.5/24", true, buf), "10.9.0.5/24");
}
END_TEST

START_TEST(test_parse_default_prefix_formatted)
{
	char buf[NETADDR_STRLEN];

	ck_assert_str_eq(roundtrip("10.9.0.5", true, buf), "10.9.0.5/32");
	ck_assert_str_eq(roundtrip("fd00::5", true, buf), "fd00::5/128");
}
END_TEST

START_TEST(test_format_v4)
{
	char buf[NETADDR_STRLEN];

	ck_assert_str_eq(roundtrip("192.0.2.1", false, buf), "192.0.2.1");
}
END_TEST

START_TEST(test_format_v6_canonical)
{
	char buf[NETADDR_STRLEN];

	ck_assert_str_eq(roundtrip("2001:0DB8:0000:0000:0000:0000:0000:0001", false, buf),
	    "2001:db8::1");
}
END_TEST

START_TEST(test_format_returns_buf)
{
	struct netaddr a;
	char buf[NETADDR_STRLEN], err[64];

	ck_assert(netaddr_parse("10.0.0.1", false, &a, err, sizeof(err)));
	ck_assert_ptr_eq(netaddr_format(&a, false, buf), buf);
}
END_TEST

START_TEST(test_format_none)
{
	struct netaddr a;
	char buf[NETADDR_STRLEN];

	memset(&a, 0, sizeof(a));
	memset(buf, 'x', sizeof(buf));
	ck_assert_str_eq(netaddr_format(&a, true, buf), "");
}
END_TEST

START_TEST(test_sockaddr_v4)
{
	struct sockaddr_in sin;
	struct netaddr a;
	char buf[NETADDR_STRLEN];

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(51820);
	ck_assert_int_eq(inet_pton(AF_INET, "198.51.100.7", &sin.sin_addr), 1);
	ck_assert(netaddr_from_sockaddr((struct sockaddr *)&sin, &a));
	ck_assert_uint_eq(a.family, AF_INET);
	ck_assert_str_eq(netaddr_format(&a, true, buf), "198.51.100.7/32");
}
END_TEST

START_TEST(test_sockaddr_v6)
{
	struct sockaddr_in6 sin6;
	struct netaddr a;
	char buf[NETADDR_STRLEN];

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::7", &sin6.sin6_addr), 1);
	ck_assert(netaddr_from_sockaddr((struct sockaddr *)&sin6, &a));
	ck_assert_uint_eq(a.family, AF_INET6);
	ck_assert_str_eq(netaddr_format(&a, true, buf), "2001:db8::7/128");
}
END_TEST

START_TEST(test_sockaddr_v4_mapped)
{
	static const uint8_t want[4] = { 198, 51, 100, 7 };
	struct sockaddr_in6 sin6;
	struct netaddr a;
	char buf[NETADDR_STRLEN];

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:198.51.100.7", &sin6.sin6_addr), 1);
	ck_assert(netaddr_from_sockaddr((struct sockaddr *)&sin6, &a));
	ck_assert_uint_eq(a.family, AF_INET);
	ck_assert_uint_eq(a.prefix, 32);
	ck_assert_mem_eq(a.addr, want, 4);
	ck_assert_str_eq(netaddr_format(&a, false, buf), "198.51.100.7");
}
END_TEST

START_TEST(test_equal_same)
{
	struct netaddr a, b;
	char err[64];

	ck_assert(netaddr_parse("fd00::1/64", true, &a, err, sizeof(err)));
	ck_assert(netaddr_parse("fd00:0::1/64", true, &b, err, sizeof(err)));
	ck_assert(netaddr_equal(&a, &b));
}
END_TEST

START_TEST(test_equal_differs_by_prefix)
{
	struct netaddr a, b;
	char err[64];

	ck_assert(netaddr_parse("10.0.0.1/32", true, &a, err, sizeof(err)));
	ck_assert(netaddr_parse("10.0.0.1/24", true, &b, err, sizeof(err)));
	ck_assert(!netaddr_equal(&a, &b));
}
END_TEST

START_TEST(test_equal_differs_by_address)
{
	struct netaddr a, b;
	char err[64];

	ck_assert(netaddr_parse("10.0.0.1", false, &a, err, sizeof(err)));
	ck_assert(netaddr_parse("10.0.0.2", false, &b, err, sizeof(err)));
	ck_assert(!netaddr_equal(&a, &b));
}
END_TEST

START_TEST(test_equal_differs_by_family)
{
	struct netaddr a, b;
	char err[64];

	/* Same leading bytes, different families. */
	ck_assert(netaddr_parse("0.0.0.0/0", true, &a, err, sizeof(err)));
	ck_assert(netaddr_parse("::/0", true, &b, err, sizeof(err)));
	ck_assert(!netaddr_equal(&a, &b));
}
END_TEST

START_TEST(test_equal_ignores_bytes_past_v4)
{
	struct netaddr a, b;
	char err[64];

	ck_assert(netaddr_parse("10.0.0.1", false, &a, err, sizeof(err)));
	b = a;
	b.addr[15] = 0x55;
	ck_assert(netaddr_equal(&a, &b));
}
END_TEST

/* --- limits ---------------------------------------------------------------------------- */

START_TEST(test_prefix_v4_zero)
{
	char buf[NETADDR_STRLEN];

	ck_assert_str_eq(roundtrip("0.0.0.0/0", true, buf), "0.0.0.0/0");
}
END_TEST

START_TEST(test_prefix_v4_max)
{
	char buf[NETADDR_STRLEN];

	ck_assert_str_eq(roundtrip("10.0.0.1/32", true, buf), "10.0.0.1/32");
}
END_TEST

START_TEST(test_prefix_v4_over_max)
{
	refused("10.0.0.1/33", true, "invalid prefix length in \"10.0.0.1/33\" (0 to 32)");
}
END_TEST

START_TEST(test_prefix_v6_max)
{
	char buf[NETADDR_STRLEN];

	ck_assert_str_eq(roundtrip("fd00::1/128", true, buf), "fd00::1/128");
}
END_TEST

START_TEST(test_prefix_v6_over_max)
{
	refused("fd00::1/129", true, "invalid prefix length in \"fd00::1/129\" (0 to 128)");
}
END_TEST

START_TEST(test_prefix_v4_given_v6_length)
{
	refused("10.0.0.1/128", true, "invalid prefix length in \"10.0.0.1/128\" (0 to 32)");
}
END_TEST

START_TEST(test_prefix_too_many_digits)
{
	refused("fd00::1/1280", true, "invalid prefix length in \"fd00::1/1280\" (0 to 128)");
}
END_TEST

START_TEST(test_longest_text_fits)
{
	char buf[NETADDR_STRLEN];

	ck_assert_str_eq(roundtrip("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128", true,
	    buf), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
}
END_TEST

START_TEST(test_octet_max)
{
	char buf[NETADDR_STRLEN];

	ck_assert_str_eq(roundtrip("255.255.255.255", false, buf), "255.255.255.255");
}
END_TEST

START_TEST(test_long_input_quoted_short)
{
	char s[300], want[128];

	memset(s, '1', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	snprintf(want, sizeof(want), "invalid IP address \"%.64s...\"", s);
	refused(s, false, want);
}
END_TEST

START_TEST(test_small_err_buffer)
{
	struct netaddr a;
	char err[8];

	ck_assert(!netaddr_parse("10.0.0.300", false, &a, err, sizeof(err)));
	ck_assert_str_eq(err, "invalid");
	ck_assert(!netaddr_parse("10.0.0.300", false, &a, NULL, 0));
}
END_TEST

/* --- errors ---------------------------------------------------------------------------- */

START_TEST(test_err_empty)
{
	refused("", true, "empty IP address");
}
END_TEST

START_TEST(test_err_null)
{
	refused(NULL, true, "empty IP address");
}
END_TEST

START_TEST(test_err_octet_range)
{
	refused("10.0.0.300", false, "invalid IP address \"10.0.0.300\"");
}
END_TEST

START_TEST(test_err_leading_zero_octet)
{
	refused("010.0.0.1", false, "invalid IP address \"010.0.0.1\"");
}
END_TEST

START_TEST(test_err_short_v4)
{
	refused("10.1", false, "invalid IP address \"10.1\"");
}
END_TEST

START_TEST(test_err_leading_space)
{
	refused(" 10.0.0.1", false, "invalid IP address \" 10.0.0.1\"");
}
END_TEST

START_TEST(test_err_trailing_space)
{
	refused("10.0.0.1 ", false, "invalid IP address \"10.0.0.1 \"");
}
END_TEST

START_TEST(test_err_space_before_prefix)
{
	refused("10.0.0.1 /32", true, "invalid IP address \"10.0.0.1 /32\"");
}
END_TEST

/* The value comes back byte for byte when it is UTF-8, control characters included (a gRPC
 * status percent-encodes them, the log escapes them); other bytes become '?'. */
START_TEST(test_err_control_char_echoed)
{
	refused("10.0.0.1\n\t", false, "invalid IP address \"10.0.0.1\n\t\"");
}
END_TEST

START_TEST(test_err_utf8_echoed_invalid_replaced)
{
	refused("1.2.3\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x88", false,
	    "invalid IP address \"1.2.3\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x88\"");
	/* stray continuation, overlong, surrogate, truncated sequence, beyond U+10FFFF */
	refused("1\x80 2\xc0\xaf 3\xed\xa0\x80 4\xe4\xb8 5\xf4\x90\x80\x80", false,
	    "invalid IP address \"1? 2?? 3??? 4?? 5????\"");
}
END_TEST

START_TEST(test_err_long_value_cut_at_character)
{
	char in[100] = "", want[128];

	/* 30 three-byte characters: 21 fit in 64 bytes */
	for (int i = 0; i < 30; i++)
		strcat(in, "\xe4\xb8\xad");
	strcpy(want, "invalid IP address \"");
	for (int i = 0; i < 21; i++)
		strcat(want, "\xe4\xb8\xad");
	strcat(want, "...\"");
	refused(in, false, want);
}
END_TEST

START_TEST(test_err_host_name)
{
	refused("localhost", false, "invalid IP address \"localhost\"");
}
END_TEST

START_TEST(test_err_v6_zone)
{
	refused("fe80::1%eth0", false, "invalid IP address \"fe80::1%eth0\"");
}
END_TEST

START_TEST(test_err_v6_bad_group)
{
	refused("2001:db8::12345", false, "invalid IP address \"2001:db8::12345\"");
}
END_TEST

START_TEST(test_err_prefix_not_allowed)
{
	refused("10.0.0.1/32", false,
	    "invalid IP address \"10.0.0.1/32\": no prefix length allowed");
}
END_TEST

START_TEST(test_err_prefix_empty)
{
	refused("10.0.0.1/", true, "invalid prefix length in \"10.0.0.1/\" (0 to 32)");
}
END_TEST

START_TEST(test_err_prefix_plus)
{
	refused("10.0.0.1/+8", true, "invalid prefix length in \"10.0.0.1/+8\" (0 to 32)");
}
END_TEST

START_TEST(test_err_prefix_negative)
{
	refused("10.0.0.1/-1", true, "invalid prefix length in \"10.0.0.1/-1\" (0 to 32)");
}
END_TEST

START_TEST(test_err_prefix_non_digit)
{
	refused("10.0.0.1/2a", true, "invalid prefix length in \"10.0.0.1/2a\" (0 to 32)");
}
END_TEST

START_TEST(test_err_prefix_leading_zero)
{
	refused("10.0.0.1/08", true, "invalid prefix length in \"10.0.0.1/08\" (0 to 32)");
}
END_TEST

START_TEST(test_err_prefix_space)
{
	refused("10.0.0.1/ 8", true, "invalid prefix length in \"10.0.0.1/ 8\" (0 to 32)");
}
END_TEST

START_TEST(test_err_two_slashes)
{
	refused("10.0.0.1/8/8", true, "invalid prefix length in \"10.0.0.1/8/8\" (0 to 32)");
}
END_TEST

START_TEST(test_err_prefix_only)
{
	refused("/32", true, "invalid IP address \"/32\"");
}
END_TEST

START_TEST(test_err_sockaddr_unix)
{
	struct sockaddr_un sun;
	struct netaddr a;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert(!netaddr_from_sockaddr((struct sockaddr *)&sun, &a));
}
END_TEST

START_TEST(test_hostport)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl = 0;
	bool lo = false;
	static const struct {
		const char *s;
		enum netaddr_hostport want;
	} bad[] = {
		{ "127.0.0.1", NETADDR_HOSTPORT_NO_PORT }, { "127.0.0.1:", NETADDR_HOSTPORT_NO_PORT },
		{ "127.0.0.1:65536", NETADDR_HOSTPORT_BAD_PORT },
		{ "127.0.0.1:+80", NETADDR_HOSTPORT_BAD_PORT },
		{ "127.0.0.1:-1", NETADDR_HOSTPORT_BAD_PORT },
		{ "127.0.0.1:80x", NETADDR_HOSTPORT_BAD_PORT },
		{ "localhost:80", NETADDR_HOSTPORT_BAD_HOST }, { "::1:80", NETADDR_HOSTPORT_BAD_HOST },
		{ "[127.0.0.1]:80", NETADDR_HOSTPORT_BAD_HOST }, { ":80", NETADDR_HOSTPORT_BAD_HOST },
	};

	ck_assert_int_eq(netaddr_hostport_parse("127.1.2.3:8080", &ss, &sl, &lo),
	    NETADDR_HOSTPORT_OK);
	ck_assert(lo && sl == sizeof(*s4) && s4->sin_family == AF_INET &&
	    ntohs(s4->sin_port) == 8080 && ntohl(s4->sin_addr.s_addr) == 0x7f010203);
	ck_assert_int_eq(netaddr_hostport_parse("192.0.2.1:0", &ss, &sl, &lo), NETADDR_HOSTPORT_OK);
	ck_assert(!lo && ntohs(s4->sin_port) == 0);
	ck_assert_int_eq(netaddr_hostport_parse("[::1]:65535", &ss, &sl, &lo),
	    NETADDR_HOSTPORT_OK);
	ck_assert(lo && sl == sizeof(*s6) && s6->sin6_family == AF_INET6 &&
	    ntohs(s6->sin6_port) == 65535);
	ck_assert_int_eq(netaddr_hostport_parse("[2001:db8::1]:443", &ss, &sl, &lo),
	    NETADDR_HOSTPORT_OK);
	ck_assert(!lo);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(netaddr_hostport_parse(bad[i].s, &ss, &sl, &lo) == bad[i].want,
		    "%s: want %d", bad[i].s, bad[i].want);
}
END_TEST

Suite *
netaddr_suite(void)
{
	Suite *s = suite_create("netaddr");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_test(tc, test_parse_v4);
	tcase_add_test(tc, test_parse_v6);
	tcase_add_test(tc, test_parse_v4_prefix);
	tcase_add_test(tc, test_parse_v6_prefix);
	tcase_add_test(tc, test_parse_keeps_host_bits);
	tcase_add_test(tc, test_parse_default_prefix_formatted);
	tcase_add_test(tc, test_format_v4);
	tcase_add_test(tc, test_format_v6_canonical);
	tcase_add_test(tc, test_format_returns_buf);
	tcase_add_test(tc, test_format_none);
	tcase_add_test(tc, test_sockaddr_v4);
	tcase_add_test(tc, test_sockaddr_v6);
	tcase_add_test(tc, test_sockaddr_v4_mapped);
	tcase_add_test(tc, test_equal_same);
	tcase_add_test(tc, test_equal_differs_by_prefix);
	tcase_add_test(tc, test_equal_differs_by_address);
	tcase_add_test(tc, test_equal_differs_by_family);
	tcase_add_test(tc, test_equal_ignores_bytes_past_v4);
	tcase_add_test(tc, test_hostport);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_prefix_v4_zero);
	tcase_add_test(tc, test_prefix_v4_max);
	tcase_add_test(tc, test_prefix_v4_over_max);
	tcase_add_test(tc, test_prefix_v6_max);
	tcase_add_test(tc, test_prefix_v6_over_max);
	tcase_add_test(tc, test_prefix_v4_given_v6_length);
	tcase_add_test(tc, test_prefix_too_many_digits);
	tcase_add_test(tc, test_longest_text_fits);
	tcase_add_test(tc, test_octet_max);
	tcase_add_test(tc, test_long_input_quoted_short);
	tcase_add_test(tc, test_small_err_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, test_err_empty);
	tcase_add_test(tc, test_err_null);
	tcase_add_test(tc, test_err_octet_range);
	tcase_add_test(tc, test_err_leading_zero_octet);
	tcase_add_test(tc, test_err_short_v4);
	tcase_add_test(tc, test_err_leading_space);
	tcase_add_test(tc, test_err_trailing_space);
	tcase_add_test(tc, test_err_space_before_prefix);
	tcase_add_test(tc, test_err_control_char_echoed);
	tcase_add_test(tc, test_err_utf8_echoed_invalid_replaced);
	tcase_add_test(tc, test_err_long_value_cut_at_character);
	tcase_add_test(tc, test_err_host_name);
	tcase_add_test(tc, test_err_v6_zone);
	tcase_add_test(tc, test_err_v6_bad_group);
	tcase_add_test(tc, test_err_prefix_not_allowed);
	tcase_add_test(tc, test_err_prefix_empty);
	tcase_add_test(tc, test_err_prefix_plus);
	tcase_add_test(tc, test_err_prefix_negative);
	tcase_add_test(tc, test_err_prefix_non_digit);
	tcase_add_test(tc, test_err_prefix_leading_zero);
	tcase_add_test(tc, test_err_prefix_space);
	tcase_add_test(tc, test_err_two_slashes);
	tcase_add_test(tc, test_err_prefix_only);
	tcase_add_test(tc, test_err_sockaddr_unix);
	suite_add_tcase(s, tc);

	return s;
}
