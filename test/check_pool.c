/* Tests for server/pool.c: pool lines and the next free address of a range. */
#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include "server/pool.h"
#include "test/check_suites.h"

static char err[256];

/* taken: the addresses of a NULL-terminated list of strings */
static bool
in_list(const struct netaddr *a, void *arg)
{
	const char *const *l = arg;
	char t[NETADDR_STRLEN];

	netaddr_format(a, false, t);
	for (; *l != NULL; l++)
		if (strcmp(*l, t) == 0)
			return true;
	return false;
}

static const char *
next(const struct netaddr *r, const char *const *taken, char *buf)
{
	struct netaddr a;

	if (!pool_next_free(r, in_list, (void *)taken, 0, &a))
		return "full";
	ck_assert_uint_eq(a.prefix, a.family == AF_INET ? 32 : 128);
	return netaddr_format(&a, false, buf);
}

START_TEST(test_parse)
{
	struct pool p;
	char t[NETADDR_STRLEN];

	ck_assert_msg(pool_parse("mesh 10.9.0.0/24, fd00:9::/64", &p, err, sizeof(err)), "%s", err);
	ck_assert_str_eq(p.network, "mesh");
	ck_assert_uint_eq(p.n, 2);
	ck_assert_str_eq(netaddr_format(&p.range[0], true, t), "10.9.0.0/24");
	ck_assert_str_eq(netaddr_format(&p.range[1], true, t), "fd00:9::/64");
	ck_assert(pool_parse("  home\t192.168.50.0/30", &p, err, sizeof(err)));
	ck_assert_uint_eq(p.n, 1);
}
END_TEST

START_TEST(test_parse_errors)
{
	struct pool p;
	static const struct { const char *in, *want; } bad[] = {
		{ "mesh", "want NETWORK CIDR" },
		{ "mesh 10.9.0.5/24", "\"10.9.0.5/24\" has host bits set" },
		{ "mesh 10.9.0.0", "\"10.9.0.0\" is not a CIDR (ADDRESS/PREFIX)" },
		{ "mesh 10.9.0.0/33", "\"10.9.0.0/33\" is not a CIDR" },
		{ "mesh 10.9.0.0/31", "too small for a pool (at most /30)" },
		{ "mesh 10.9.0.0/16, 10.9.4.0/24", "\"10.9.4.0/24\" overlaps" },
		{ "mesh 10.0.0.0/8,10.1.0.0/16", "overlaps" },
		{ "mesh 10.1.0.0/16 10.2.0.0/16 10.3.0.0/16 10.4.0.0/16 10.5.0.0/16", "more than 4" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(!pool_parse(bad[i].in, &p, err, sizeof(err)), "accepted %s", bad[i].in);
		ck_assert_msg(strstr(err, bad[i].want) != NULL, "%s: \"%s\" lacks \"%s\"", bad[i].in,
		    err, bad[i].want);
	}
}
END_TEST

START_TEST(test_next_free_v4)
{
	struct pool p;
	char b[NETADDR_STRLEN];
	static const char *const none[] = { NULL };
	static const char *const one[] = { "10.9.0.1", NULL };
	static const char *const both[] = { "10.9.0.1", "10.9.0.2", NULL };

	ck_assert(pool_parse("mesh 10.9.0.0/30", &p, err, sizeof(err)));
	ck_assert_str_eq(next(&p.range[0], none, b), "10.9.0.1");
	ck_assert_str_eq(next(&p.range[0], one, b), "10.9.0.2");
	/* .0 is the network, .3 the broadcast: a /30 holds two */
	ck_assert_str_eq(next(&p.range[0], both, b), "full");
}
END_TEST

START_TEST(test_next_free_v6_and_limit)
{
	struct pool p;
	struct netaddr a;
	char b[NETADDR_STRLEN];
	static const char *const two[] = { "fd00::1", "fd00::2", NULL };
	static const char *const all[] = { "fd00::1", "fd00::2", "fd00::3", NULL };

	static const char *const none[] = { NULL };

	ck_assert(pool_parse("mesh fd00::/126", &p, err, sizeof(err)));
	ck_assert_str_eq(next(&p.range[0], none, b), "fd00::1");   /* never fd00:: itself */
	ck_assert_str_eq(next(&p.range[0], two, b), "fd00::3");    /* no broadcast in v6 */
	ck_assert_str_eq(next(&p.range[0], all, b), "full");
	ck_assert(pool_parse("mesh 10.0.0.0/8", &p, err, sizeof(err)));
	ck_assert(!pool_next_free(&p.range[0], in_list, (void *)two, 0, &a) || a.addr[3] == 1);
	static const char *const first[] = { "10.0.0.1", "10.0.0.2", NULL };
	ck_assert(!pool_next_free(&p.range[0], in_list, (void *)first, 2, &a));
	ck_assert(pool_next_free(&p.range[0], in_list, (void *)first, 3, &a));
	ck_assert_str_eq(netaddr_format(&a, false, b), "10.0.0.3");
}
END_TEST

START_TEST(test_contains)
{
	struct netaddr r, a;

	ck_assert(netaddr_parse("10.9.0.0/24", true, &r, err, sizeof(err)));
	ck_assert(netaddr_parse("10.9.0.200", false, &a, err, sizeof(err)));
	ck_assert(pool_contains(&r, &a));
	ck_assert(netaddr_parse("10.9.1.1", false, &a, err, sizeof(err)));
	ck_assert(!pool_contains(&r, &a));
	ck_assert(netaddr_parse("fd00::1", false, &a, err, sizeof(err)));
	ck_assert(!pool_contains(&r, &a));
}
END_TEST

Suite *
pool_suite(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_parse);
	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_next_free_v4);
	tcase_add_test(tc, test_next_free_v6_and_limit);
	tcase_add_test(tc, test_contains);
	suite_add_tcase(s, tc);
	return s;
}
