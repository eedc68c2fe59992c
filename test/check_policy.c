/* Tests for common/policy.c: the pairing policy's syntax, its errors (file, line, column)
 * and which rule pairs two hosts. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/policy.h"
#include "test/check_suites.h"

static struct policy pol;
static char err[512];

static int
parse(const char *text)
{
	policy_free(&pol);
	err[0] = '\0';
	return policy_parse(text, strlen(text), "p.txt", &pol, err, sizeof(err));
}

/* parse fails with an error that starts with want (file:line:col) and contains what */
static void
parse_fails(const char *text, const char *want, const char *what)
{
	ck_assert_int_eq(parse(text), -1);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "error \"%s\" should start \"%s\"",
	    err, want);
	ck_assert_msg(strstr(err, what) != NULL, "error \"%s\" should say \"%s\"", err, what);
	ck_assert_uint_eq(pol.n, 0);
	ck_assert_ptr_null(pol.rules);
}

static int
match(const char *an, const char *ag, const char *bn, const char *bg)
{
	const char *ga[1] = { ag }, *gb[1] = { bg };
	struct policy_subject a = { .name = an, .n_groups = ag != NULL, .groups = ga };
	struct policy_subject b = { .name = bn, .n_groups = bg != NULL, .groups = gb };

	return policy_match(&pol, &a, &b);
}

START_TEST(test_issue_example)
{
	ck_assert_int_eq(parse("# our mesh\n"
	    "servers <-> servers\n"
	    "laptops <-> servers\n"
	    "host:phone <-> host:nas\n"), 0);
	ck_assert_uint_eq(pol.n, 3);
	ck_assert_uint_eq(pol.version, 0);
	ck_assert_int_eq(pol.rules[0].left.kind, POLICY_GROUP);
	ck_assert_str_eq(pol.rules[0].left.name, "servers");
	ck_assert_uint_eq(pol.rules[0].line, 2);
	ck_assert_int_eq(pol.rules[2].left.kind, POLICY_HOST);
	ck_assert_str_eq(pol.rules[2].left.name, "phone");
	ck_assert_str_eq(pol.rules[2].right.name, "nas");
	ck_assert_uint_eq(pol.rules[2].line, 4);

	ck_assert_int_eq(match("a", "servers", "b", "servers"), 0);
	ck_assert_int_eq(match("l", "laptops", "s", "servers"), 1);
	ck_assert_int_eq(match("s", "servers", "l", "laptops"), 1);   /* both ways */
	ck_assert_int_eq(match("l1", "laptops", "l2", "laptops"), -1); /* no rule */
	ck_assert_int_eq(match("phone", NULL, "nas", "storage"), 2);
	ck_assert_int_eq(match("nas", NULL, "phone", NULL), 2);
	ck_assert_int_eq(match("phone", NULL, "l", "laptops"), -1);
}
END_TEST

START_TEST(test_everyone_and_empty)
{
	ck_assert_int_eq(parse("*<->*   # everyone\n"), 0);
	ck_assert_uint_eq(pol.n, 1);
	ck_assert_int_eq(pol.rules[0].left.kind, POLICY_ANY);
	ck_assert_int_eq(match("x", NULL, "y", NULL), 0);
	ck_assert_int_eq(parse(""), 0);
	ck_assert_uint_eq(pol.n, 0);
	ck_assert_int_eq(match("x", "a", "y", "a"), -1);   /* no rule, no pairing */
	ck_assert_int_eq(parse("\n  # only comments\r\n\t\n"), 0);
	ck_assert_uint_eq(pol.n, 0);
}
END_TEST

START_TEST(test_star_with_group)
{
	ck_assert_int_eq(parse("servers <-> *\n"), 0);
	ck_assert_int_eq(match("s", "servers", "x", NULL), 0);
	ck_assert_int_eq(match("x", NULL, "s", "servers"), 0);
	ck_assert_int_eq(match("x", NULL, "y", NULL), -1);
}
END_TEST

START_TEST(test_first_rule_wins)
{
	ck_assert_int_eq(parse("a <-> b\n* <-> *\n"), 0);
	ck_assert_int_eq(match("x", "a", "y", "b"), 0);
	ck_assert_int_eq(match("x", "a", "y", "a"), 1);
}
END_TEST

START_TEST(test_several_groups)
{
	const char *ga[] = { "laptops", "ops" }, *gb[] = { "db" };
	struct policy_subject a = { .name = "l", .n_groups = 2, .groups = ga };
	struct policy_subject b = { .name = "d", .n_groups = 1, .groups = gb };

	ck_assert_int_eq(parse("laptops <-> servers\nops <-> db\n"), 0);
	ck_assert_int_eq(policy_match(&pol, &a, &b), 1);
	a.n_groups = 1;
	ck_assert_int_eq(policy_match(&pol, &a, &b), -1);
}
END_TEST

START_TEST(test_version)
{
	ck_assert_int_eq(parse("# signed\nversion 42\na <-> b\n"), 0);
	ck_assert_uint_eq(pol.version, 42);
	ck_assert_uint_eq(pol.n, 1);
	ck_assert_int_eq(parse("version 9007199254740992\n"), 0);
	ck_assert_uint_eq(pol.version, POLICY_VERSION_MAX);
	parse_fails("version 9007199254740993\n", "p.txt:1:9:", "whole number");
	parse_fails("version 0\n", "p.txt:1:9:", "whole number");
	parse_fails("version\n", "p.txt:1:8:", "needs a number");
	parse_fails("version 1x\n", "p.txt:1:10:", "whole number");
	parse_fails("version 1\nversion 2\n", "p.txt:2:1:", "second version");
	parse_fails("a <-> b\nversion 2\n", "p.txt:2:1:", "before the first rule");
	/* "versions" is a group name, not the keyword */
	ck_assert_int_eq(parse("versions <-> b\n"), 0);
	ck_assert_str_eq(pol.rules[0].left.name, "versions");
}
END_TEST

START_TEST(test_errors_name_line_and_column)
{
	parse_fails("a <-> b\nServers <-> b\n", "p.txt:2:1:", "bad group name \"Servers\"");
	parse_fails("a <-> b\n\n  a <-> b c\n", "p.txt:3:10:", "one word");
	parse_fails("a b\n", "p.txt:1:1:", "not a rule");
	parse_fails("  <-> b\n", "p.txt:1:3:", "no left side");
	parse_fails("a <->   # nothing\n", "p.txt:1:6:", "no right side");
	parse_fails("a <-> b <-> c\n", "p.txt:1:9:", "one <-> per rule");
	parse_fails("host: <-> b\n", "p.txt:1:6:", "bad host name");
	parse_fails("a <-> host:x/y\n", "p.txt:1:12:", "bad host name \"x/y\"");
	parse_fails("a <-> b\n" "a <-> \xc3\xa9t\xc3\xa9\n", "p.txt:2:7:", "bad group name");
	parse_fails("a <-> abcdefghijklmnopqrstuvwxyz0123456\n", "p.txt:1:7:", "1 to 32");
	ck_assert_int_eq(policy_parse("a <-> b\0c", 9, "p.txt", &pol, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "p.txt:1:8: a NUL byte") != NULL, "%s", err);
}
END_TEST

START_TEST(test_limits)
{
	size_t n = (POLICY_RULES_MAX + 1) * 8;
	char *big = malloc(n + 1), *p = big;

	ck_assert_ptr_nonnull(big);
	for (int i = 0; i <= POLICY_RULES_MAX; i++)
		p += sprintf(p, "a <-> b\n");
	ck_assert_int_eq(policy_parse(big, (size_t)(p - big), "big", &pol, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "more than 4096 rules") != NULL, "%s", err);
	ck_assert_int_eq(policy_parse(big, (size_t)(p - big) - 8, "big", &pol, err, sizeof(err)), 0);
	ck_assert_uint_eq(pol.n, POLICY_RULES_MAX);
	policy_free(&pol);
	ck_assert_int_eq(policy_parse(big, POLICY_BYTES_MAX + 1, "big", &pol, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "big: larger than") != NULL, "%s", err);
	free(big);
	/* a last line without a newline still counts */
	ck_assert_int_eq(parse("a <-> b\nc <-> d"), 0);
	ck_assert_uint_eq(pol.n, 2);
	ck_assert_uint_eq(pol.rules[1].line, 2);
}
END_TEST

START_TEST(test_names_and_format)
{
	char buf[160];

	ck_assert(policy_group_name_ok("a-1", 3));
	ck_assert(!policy_group_name_ok("", 0));
	ck_assert(!policy_group_name_ok("A", 1));
	ck_assert(!policy_group_name_ok("a_b", 3));
	ck_assert(policy_group_name_ok("abcdefghijklmnopqrstuvwxyz012345", 32));
	ck_assert(!policy_group_name_ok("abcdefghijklmnopqrstuvwxyz0123456", 33));
	ck_assert(policy_host_name_ok("nas.home_1-A", 12));
	ck_assert(!policy_host_name_ok("a b", 3));
	ck_assert_int_eq(parse("host:phone <-> *\n"), 0);
	ck_assert_str_eq(policy_rule_format(&pol.rules[0], buf, sizeof(buf)),
	    "host:phone <-> * (line 1)");
	policy_free(&pol);
	policy_free(&pol);   /* twice is fine */
	policy_free(NULL);
}
END_TEST

Suite *
policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_issue_example);
	tcase_add_test(tc, test_everyone_and_empty);
	tcase_add_test(tc, test_star_with_group);
	tcase_add_test(tc, test_first_rule_wins);
	tcase_add_test(tc, test_several_groups);
	tcase_add_test(tc, test_version);
	tcase_add_test(tc, test_errors_name_line_and_column);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_names_and_format);
	suite_add_tcase(s, tc);
	return s;
}
