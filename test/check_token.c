/* Unit tests for server/token.c: the token's text (prefix, 52 base32 characters, the
 * RFC 4648 alphabet), random tokens that differ, the syntax check, the hash, CreateToken's
 * defaults and refusals, and the verdicts on a stored token. */
#include "config.h"

#include <string.h>

#include <check.h>
#include <openssl/sha.h>

#include "server/token.h"
#include "test/check_suites.h"

/* --- core ------------------------------------------------------------------------------ */

/* All zeros are all 'a'; all ones all '7' but the last character, which carries one bit. */
START_TEST(test_format_known)
{
	uint8_t raw[TOKEN_RAW_LEN];
	char t[TOKEN_TEXT_LEN + 1];

	memset(raw, 0, sizeof(raw));
	token_format(raw, t);
	ck_assert_str_eq(t, "wst_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	memset(raw, 0xff, sizeof(raw));
	token_format(raw, t);
	ck_assert_str_eq(t, "wst_777777777777777777777777777777777777777777777777777q");
	/* RFC 4648's "f" test vector: 0x66 -> "MY" */
	memset(raw, 0, sizeof(raw));
	raw[0] = 0x66;
	token_format(raw, t);
	ck_assert(strncmp(t, "wst_mya", 7) == 0);
	ck_assert_uint_eq(strlen(t), TOKEN_TEXT_LEN);
	ck_assert(token_syntax_ok(t));
}
END_TEST

START_TEST(test_generate_differs)
{
	char a[TOKEN_TEXT_LEN + 1], b[TOKEN_TEXT_LEN + 1];

	ck_assert_int_eq(token_generate(a), 0);
	ck_assert_int_eq(token_generate(b), 0);
	ck_assert(token_syntax_ok(a));
	ck_assert(token_syntax_ok(b));
	ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(test_hash_is_sha256_of_text)
{
	const char *t = "wst_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	uint8_t a[32], b[32];

	token_hash(t, a);
	SHA256((const unsigned char *)t, strlen(t), b);
	ck_assert_mem_eq(a, b, 32);
}
END_TEST

START_TEST(test_params_defaults)
{
	const char *g[] = { "servers", "db-1" };
	struct token_params p;
	char err[200];

	ck_assert(token_params_resolve(0, 0, NULL, 0, &p, err, sizeof(err)));
	ck_assert_uint_eq(p.uses, 1);
	ck_assert_int_eq(p.lifetime_s, 3600);
	ck_assert_uint_eq(p.n_groups, 0);
	ck_assert(token_params_resolve(5, 60, g, 2, &p, err, sizeof(err)));
	ck_assert_uint_eq(p.uses, 5);
	ck_assert_int_eq(p.lifetime_s, 60);
	ck_assert_uint_eq(p.n_groups, 2);
	ck_assert_str_eq(p.groups[1], "db-1");
}
END_TEST

START_TEST(test_check_verdicts)
{
	struct token_facts t = { "neta", 2, 1000 };
	char buf[200];

	ck_assert_int_eq(token_check(&t, "", 999), TOKEN_VALID);
	ck_assert_int_eq(token_check(&t, "neta", 999), TOKEN_VALID);
	ck_assert_int_eq(token_check(NULL, "", 999), TOKEN_UNKNOWN);
	ck_assert_int_eq(token_check(&t, "", 1000), TOKEN_EXPIRED);   /* at expiry: gone */
	ck_assert_int_eq(token_check(&t, "netb", 999), TOKEN_OTHER_NETWORK);
	t.uses_left = 0;
	ck_assert_int_eq(token_check(&t, "", 999), TOKEN_USED_UP);
	ck_assert_int_eq(token_check(&t, "", 1005), TOKEN_EXPIRED);
	ck_assert_ptr_nonnull(strstr(token_verdict_text(TOKEN_EXPIRED, &t, "", 1005, buf,
	    sizeof(buf)), "expired 5 s ago"));
	ck_assert_ptr_nonnull(strstr(token_verdict_text(TOKEN_USED_UP, &t, "", 999, buf,
	    sizeof(buf)), "used up"));
	ck_assert_ptr_nonnull(strstr(token_verdict_text(TOKEN_OTHER_NETWORK, &t, "netb", 999,
	    buf, sizeof(buf)), "another network than netb"));
	ck_assert(strncmp(token_verdict_text(TOKEN_UNKNOWN, NULL, "", 999, buf, sizeof(buf)),
	    "token: ", 7) == 0);
}
END_TEST

/* --- errors ---------------------------------------------------------------------------- */

START_TEST(test_syntax_refused)
{
	char t[TOKEN_TEXT_LEN + 2];

	ck_assert(!token_syntax_ok(""));
	ck_assert(!token_syntax_ok("wst_"));
	memcpy(t, "wst_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", TOKEN_TEXT_LEN + 1);
	ck_assert(token_syntax_ok(t));
	t[10] = 'A';                         /* upper case is not the alphabet */
	ck_assert(!token_syntax_ok(t));
	t[10] = '1';                         /* nor 0, 1, 8, 9 */
	ck_assert(!token_syntax_ok(t));
	t[10] = 'a';
	t[0] = 'x';
	ck_assert(!token_syntax_ok(t));
	t[0] = 'w';
	strcat(t, "a");                      /* 53 characters */
	ck_assert(!token_syntax_ok(t));
	t[TOKEN_TEXT_LEN - 1] = '\0';        /* 51 */
	ck_assert(!token_syntax_ok(t));
}
END_TEST

START_TEST(test_params_refused)
{
	const char *bad[] = { "Servers" }, *twice[] = { "a", "b", "a" }, *empty[] = { "" };
	const char *many[CERT_GROUPS_MAX + 1];
	struct token_params p;
	char err[200];

	for (size_t i = 0; i <= CERT_GROUPS_MAX; i++)
		many[i] = "g";
	ck_assert(!token_params_resolve(TOKEN_USES_MAX + 1, 0, NULL, 0, &p, err, sizeof(err)));
	ck_assert(strncmp(err, "uses: ", 6) == 0);
	ck_assert(!token_params_resolve(0, -1, NULL, 0, &p, err, sizeof(err)));
	ck_assert(strncmp(err, "expires_s: ", 11) == 0);
	ck_assert(!token_params_resolve(0, TOKEN_LIFETIME_MAX_S + 1, NULL, 0, &p, err,
	    sizeof(err)));
	ck_assert(strncmp(err, "expires_s: ", 11) == 0);
	ck_assert(!token_params_resolve(0, 0, bad, 1, &p, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "groups: \"Servers\""));
	ck_assert(!token_params_resolve(0, 0, empty, 1, &p, err, sizeof(err)));
	ck_assert(strncmp(err, "groups: ", 8) == 0);
	ck_assert(!token_params_resolve(0, 0, twice, 3, &p, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "twice"));
	ck_assert(!token_params_resolve(0, 0, many, CERT_GROUPS_MAX + 1, &p, err, sizeof(err)));
	ck_assert(strncmp(err, "groups: ", 8) == 0);
}
END_TEST

Suite *
token_suite(void)
{
	Suite *s = suite_create("token");
	TCase *tc = tcase_create("core"), *te = tcase_create("errors");

	tcase_add_test(tc, test_format_known);
	tcase_add_test(tc, test_generate_differs);
	tcase_add_test(tc, test_hash_is_sha256_of_text);
	tcase_add_test(tc, test_params_defaults);
	tcase_add_test(tc, test_check_verdicts);
	suite_add_tcase(s, tc);
	tcase_add_test(te, test_syntax_refused);
	tcase_add_test(te, test_params_refused);
	suite_add_tcase(s, te);
	return s;
}
