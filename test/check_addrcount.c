/* Unit tests for rpc/addrcount.c: the limit per address, IPv6 per /64, IPv4-mapped
 * addresses counted as IPv4, release and forgetting. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "rpc/addrcount.h"
#include "test/check_suites.h"

static struct sockaddr_storage
addr(const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, ip, &a->sin_addr), 1);
	}
	return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

START_TEST(test_limit_per_address)
{
	struct addrcount *t = addrcount_new();
	struct sockaddr_storage a = addr("192.0.2.1"), b = addr("192.0.2.2");

	ck_assert_ptr_nonnull(t);
	for (int i = 1; i <= 3; i++)
		ck_assert_int_eq(addrcount_take(t, SA(a), 3), i);
	ck_assert_int_eq(addrcount_take(t, SA(a), 3), 0);       /* at the limit: refused */
	ck_assert_uint_eq(addrcount_get(t, SA(a)), 3);
	ck_assert_int_eq(addrcount_take(t, SA(b), 3), 1);       /* another address is not */
	addrcount_release(t, SA(a));
	ck_assert_int_eq(addrcount_take(t, SA(a), 3), 3);       /* a slot again */
	addrcount_del(t);
}
END_TEST

START_TEST(test_ipv6_counts_per_64)
{
	struct addrcount *t = addrcount_new();
	struct sockaddr_storage a = addr("2001:db8:1:2::1"), b = addr("2001:db8:1:2:ffff::9"),
	    c = addr("2001:db8:1:3::1");

	ck_assert_int_eq(addrcount_take(t, SA(a), 2), 1);
	ck_assert_int_eq(addrcount_take(t, SA(b), 2), 2);       /* same /64 */
	ck_assert_int_eq(addrcount_take(t, SA(a), 2), 0);
	ck_assert_int_eq(addrcount_take(t, SA(c), 2), 1);       /* the next /64 */
	ck_assert_uint_eq(addrcount_size(t), 2);
	addrcount_del(t);
}
END_TEST

START_TEST(test_v4_mapped_is_ipv4)
{
	struct addrcount *t = addrcount_new();
	struct sockaddr_storage a = addr("198.51.100.7"), m = addr("::ffff:198.51.100.7"),
	    o = addr("::ffff:198.51.100.8");

	ck_assert_int_eq(addrcount_take(t, SA(a), 0), 1);
	ck_assert_int_eq(addrcount_take(t, SA(m), 0), 2);       /* the same host */
	ck_assert_int_eq(addrcount_take(t, SA(o), 0), 1);       /* not the same /64 */
	addrcount_del(t);
}
END_TEST

START_TEST(test_release_forgets)
{
	struct addrcount *t = addrcount_new();
	struct sockaddr_storage a = addr("203.0.113.5");

	ck_assert_int_eq(addrcount_take(t, SA(a), 0), 1);
	ck_assert_int_eq(addrcount_take(t, SA(a), 0), 2);
	addrcount_release(t, SA(a));
	addrcount_release(t, SA(a));
	ck_assert_uint_eq(addrcount_get(t, SA(a)), 0);
	ck_assert_uint_eq(addrcount_size(t), 0);
	addrcount_release(t, SA(a));                            /* unknown: nothing */
	ck_assert_uint_eq(addrcount_size(t), 0);
	addrcount_del(t);
	addrcount_del(NULL);
}
END_TEST

START_TEST(test_many_addresses)
{
	struct addrcount *t = addrcount_new();

	/* more addresses than buckets: chains */
	for (int i = 0; i < 20000; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000000u + (uint32_t)i) };
		ck_assert_int_eq(addrcount_take(t, (struct sockaddr *)&a, 1), 1);
		ck_assert_int_eq(addrcount_take(t, (struct sockaddr *)&a, 1), 0);
	}
	ck_assert_uint_eq(addrcount_size(t), 20000);
	for (int i = 0; i < 20000; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000000u + (uint32_t)i) };
		addrcount_release(t, (struct sockaddr *)&a);
	}
	ck_assert_uint_eq(addrcount_size(t), 0);
	addrcount_del(t);
}
END_TEST

START_TEST(test_other_family_not_counted)
{
	struct addrcount *t = addrcount_new();
	struct sockaddr u = { .sa_family = AF_UNIX };

	ck_assert_int_eq(addrcount_take(t, &u, 1), -EAFNOSUPPORT);
	ck_assert_uint_eq(addrcount_size(t), 0);
	addrcount_del(t);
}
END_TEST

Suite *
addrcount_suite(void)
{
	Suite *s = suite_create("addrcount");
	TCase *core = tcase_create("core"), *limits = tcase_create("limits"),
	    *errors = tcase_create("errors");

	tcase_add_test(core, test_limit_per_address);
	tcase_add_test(core, test_ipv6_counts_per_64);
	tcase_add_test(core, test_v4_mapped_is_ipv4);
	tcase_add_test(core, test_release_forgets);
	tcase_add_test(limits, test_many_addresses);
	tcase_add_test(errors, test_other_family_not_counted);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	suite_add_tcase(s, errors);
	return s;
}
