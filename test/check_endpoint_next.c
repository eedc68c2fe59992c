/* Tests for agent/endpoint.c's endpoint_next (when to move on to the next candidate) and
 * endpoint_format. The candidate order itself is in check_endpoint.c. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/endpoint.h"
#include "test/check_suites.h"

/* --- core ------------------------------------------------------------------------------ */

START_TEST(test_next_keeps_after_handshake)
{
	/* handshake after choosing: stay, however long ago the choice was */
	ck_assert_uint_eq(endpoint_next(1, 3, 1005, 1000, 5000, 15), 1);
}
END_TEST

START_TEST(test_next_keeps_during_timeout)
{
	ck_assert_uint_eq(endpoint_next(1, 3, 0, 1000, 1014, 15), 1);
}
END_TEST

START_TEST(test_next_advances_after_timeout)
{
	ck_assert_uint_eq(endpoint_next(1, 3, 0, 1000, 1016, 15), 2);
}
END_TEST

START_TEST(test_next_advances_on_old_handshake)
{
	/* the last handshake predates the choice: it says nothing about this endpoint */
	ck_assert_uint_eq(endpoint_next(0, 3, 999, 1000, 1100, 15), 1);
}
END_TEST

START_TEST(test_next_wraps)
{
	ck_assert_uint_eq(endpoint_next(2, 3, 0, 1000, 1100, 15), 0);
}
END_TEST

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

START_TEST(test_next_switches_at_timeout)
{
	/* exactly timeout_s without a handshake is enough */
	ck_assert_uint_eq(endpoint_next(0, 2, 0, 1000, 1015, 15), 1);
}
END_TEST

START_TEST(test_next_handshake_at_chosen_keeps)
{
	ck_assert_uint_eq(endpoint_next(0, 2, 1000, 1000, 2000, 15), 0);
}
END_TEST

START_TEST(test_next_single_candidate)
{
	ck_assert_uint_eq(endpoint_next(0, 1, 0, 1000, 2000, 15), 0);
}
END_TEST

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

/* --- errors ---------------------------------------------------------------------------- */

START_TEST(test_next_no_candidates)
{
	ck_assert_uint_eq(endpoint_next(0, 0, 0, 1000, 2000, 15), 0);
}
END_TEST

START_TEST(test_next_current_out_of_range)
{
	ck_assert_uint_eq(endpoint_next(5, 3, 1500, 1000, 1001, 15), 0);
}
END_TEST

START_TEST(test_next_current_equal_n)
{
	ck_assert_uint_eq(endpoint_next(3, 3, 1500, 1000, 1001, 15), 0);
}
END_TEST

Suite *
endpoint_next_suite(void)
{
	Suite *s = suite_create("endpoint_next");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_test(tc, test_next_keeps_after_handshake);
	tcase_add_test(tc, test_next_keeps_during_timeout);
	tcase_add_test(tc, test_next_advances_after_timeout);
	tcase_add_test(tc, test_next_advances_on_old_handshake);
	tcase_add_test(tc, test_next_wraps);
	tcase_add_test(tc, test_format_v4);
	tcase_add_test(tc, test_format_v6);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_next_switches_at_timeout);
	tcase_add_test(tc, test_next_handshake_at_chosen_keeps);
	tcase_add_test(tc, test_next_single_candidate);
	tcase_add_test(tc, test_format_unknown_family);
	tcase_add_test(tc, test_format_v6_longest);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, test_next_no_candidates);
	tcase_add_test(tc, test_next_current_out_of_range);
	tcase_add_test(tc, test_next_current_equal_n);
	suite_add_tcase(s, tc);
	return s;
}
