/* Tests for agent/endpoint.c's endpoint_format and endpoint_parse (the relay's ip:port
 * from an Update reply). The candidate order itself is in check_endpoint.c; moving on to
 * the next candidate is peerpath's (check_peerpath.c). */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/endpoint.h"
#include "test/check_suites.h"

/* --- core ------------------------------------------------------------------------------ */

START_TEST(test_format_v4)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	char buf[64];

	memset(&ss, 0, sizeof(ss));
	in->sin_family = AF_INET;
	in->sin_port = htons(51820);
	ck_assert_int_eq(inet_pton(AF_INET, "192.0.2.1", &in->sin_addr), 1);
	ck_assert_ptr_eq(endpoint_format(&ss, buf, sizeof(buf)), buf);
	ck_assert_str_eq(buf, "192.0.2.1:51820");
}
END_TEST

START_TEST(test_format_v6)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	char buf[64];

	memset(&ss, 0, sizeof(ss));
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(443);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::1", &in6->sin6_addr), 1);
	ck_assert_ptr_eq(endpoint_format(&ss, buf, sizeof(buf)), buf);
	ck_assert_str_eq(buf, "[2001:db8::1]:443");
}
END_TEST

/* --- limits ---------------------------------------------------------------------------- */

START_TEST(test_format_unknown_family)
{
	struct sockaddr_storage ss;
	char buf[64];

	memset(&ss, 0, sizeof(ss));
	ck_assert_str_eq(endpoint_format(&ss, buf, sizeof(buf)), "(none)");
}
END_TEST

START_TEST(test_format_v6_longest)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	char buf[64];

	memset(&ss, 0, sizeof(ss));
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(65535);
	memset(&in6->sin6_addr, 0xfe, sizeof(in6->sin6_addr));
	ck_assert_str_eq(endpoint_format(&ss, buf, sizeof(buf)),
	    "[fefe:fefe:fefe:fefe:fefe:fefe:fefe:fefe]:65535");
}
END_TEST

START_TEST(test_parse_v4_v6_round_trip)
{
	static const char *const ok[] = { "192.0.2.1:3478", "0.0.0.0:1", "[2001:db8::1]:65535",
		"[::]:51821", NULL };
	struct sockaddr_storage ss;
	char buf[64];

	for (size_t i = 0; ok[i] != NULL; i++) {
		ck_assert_msg(endpoint_parse(ok[i], &ss), "%s", ok[i]);
		ck_assert_str_eq(endpoint_format(&ss, buf, sizeof(buf)), ok[i]);
	}
}
END_TEST

/* --- errors ---------------------------------------------------------------------------- */

START_TEST(test_parse_refuses)
{
	static const char *const bad[] = { "", "192.0.2.1", "192.0.2.1:0", "192.0.2.1:65536",
		"192.0.2.1:80x", "2001:db8::1:80", "[]:80", "relay.example:3478", ":3478", NULL };
	struct sockaddr_storage ss;

	for (size_t i = 0; bad[i] != NULL; i++)
		ck_assert_msg(!endpoint_parse(bad[i], &ss), "%s parsed", bad[i]);
	ck_assert(!endpoint_parse(NULL, &ss));
}
END_TEST

Suite *
endpoint_next_suite(void)
{
	Suite *s = suite_create("endpoint_next");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_test(tc, test_format_v4);
	tcase_add_test(tc, test_format_v6);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_format_unknown_family);
	tcase_add_test(tc, test_format_v6_longest);
	tcase_add_test(tc, test_parse_v4_v6_round_trip);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, test_parse_refuses);
	suite_add_tcase(s, tc);
	return s;
}
