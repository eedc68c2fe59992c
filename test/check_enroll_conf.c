/* Tests for the join configuration: keys that repeat (pool lines) with a check per value
 * (common/conf.c), wiresyncd's pool, enroll_listen and enroll_* keys (server/serverconf.c),
 * and the code a host and the operator compare (server/pending.c). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "common/conf.h"
#include "server/pending.h"
#include "server/pool.h"
#include "server/serverconf.h"
#include "test/check_suites.h"

static char path[64];
static char err[512];

static void
write_conf(const char *text)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/check_enroll_conf.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static bool
no_x(const char *v, char *what, size_t whatlen)
{
	if (strchr(v, 'x') == NULL)
		return true;
	snprintf(what, whatlen, "'%s' has an x", v);
	return false;
}

static char *t_multi, *t_one;
static struct config_key t_keys[2];
static struct config_schema t_schema = { "s", t_keys, 2 };

static void
schema_setup(void)
{
	const struct config_key keys[] = {
		{ .name = "multi", .type = CONFIG_STRING, .dst = &t_multi, .repeat = true,
		    .check = no_x, .help = "lines" },
		{ .name = "one", .type = CONFIG_STRING, .dst = &t_one, .check = no_x, .help = "one" },
	};

	memcpy(t_keys, keys, sizeof(keys));
	t_multi = t_one = NULL;
}

START_TEST(test_repeat_joins_lines)
{
	char *args[] = { "--multi=c", "--multi=d" };

	schema_setup();
	write_conf("[s]\nmulti = a\none = b\nmulti = b c\n");
	ck_assert_int_eq(config_load_file(&t_schema, path, err, sizeof(err)), 0);
	ck_assert_str_eq(t_multi, "a\nb c");
	ck_assert_str_eq(t_one, "b");
	/* the command line replaces the file's lines, and its own repeat */
	ck_assert_int_eq(config_apply_arg(&t_schema, args[0], err, sizeof(err)), 0);
	ck_assert_str_eq(t_multi, "c");
	ck_assert_int_eq(config_apply_arg(&t_schema, args[1], err, sizeof(err)), 0);
	ck_assert_str_eq(t_multi, "c\nd");
	config_free(&t_schema);
	unlink(path);
}
END_TEST

START_TEST(test_check_names_the_line)
{
	char want[128];

	schema_setup();
	write_conf("[s]\nmulti = a\nmulti = ax\n");
	ck_assert_int_eq(config_load_file(&t_schema, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:3: key 'multi': 'ax' has an x", path);
	ck_assert_str_eq(err, want);
	config_free(&t_schema);
	unlink(path);
	/* a key that does not repeat is still refused twice */
	schema_setup();
	write_conf("[s]\none = a\none = b\n");
	ck_assert_int_eq(config_load_file(&t_schema, path, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "given twice"));
	config_free(&t_schema);
	unlink(path);
}
END_TEST

#define BASE "[server]\ncertificate = /c\nprivate_key = /k\nca = /ca\n"

static int
load_server(const char *text, struct serverconf *c, struct config_schema *s)
{
	write_conf(text);
	serverconf_init(c, s);
	return serverconf_load(c, s, path, true, 0, NULL, err, sizeof(err));
}

START_TEST(test_server_pools)
{
	struct serverconf c;
	struct config_schema s;
	struct pool *p = NULL;
	size_t n = 0;
	char b[NETADDR_STRLEN];

	ck_assert_int_eq(load_server(BASE "enroll_listen = 127.0.0.1:7444\n"
	    "pool = neta 10.9.0.0/24, fd00:9::/64\npool = netb 10.8.0.0/16\n"
	    "enroll_max_pending = 12\n", &c, &s), 0);
	ck_assert_str_eq(c.enroll_listen, "127.0.0.1:7444");
	ck_assert_uint_eq(c.enroll_max_pending, 12);
	ck_assert_uint_eq(c.enroll_max_age_s, 86400);
	ck_assert_uint_eq(c.enroll_rate_per_min, 10);
	ck_assert_int_eq(serverconf_pools(&c, &p, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(p[0].network, "neta");
	ck_assert_uint_eq(p[0].n, 2);
	ck_assert_str_eq(netaddr_format(&p[0].range[1], true, b), "fd00:9::/64");
	ck_assert_str_eq(p[1].network, "netb");
	free(p);
	serverconf_free(&c, &s);
	unlink(path);
}
END_TEST

START_TEST(test_server_pool_errors)
{
	struct serverconf c;
	struct config_schema s;
	char want[160];

	ck_assert_int_eq(load_server(BASE "pool = neta 10.9.0.0/24\npool = netb 10.8.0.1/24\n",
	    &c, &s), -1);
	snprintf(want, sizeof(want), "%s:6: key 'pool': pool netb: \"10.8.0.1/24\" has host", path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	serverconf_free(&c, &s);
	unlink(path);
	ck_assert_int_eq(load_server(BASE "pool = neta 10.9.0.0/24\npool = neta fd00::/64\n",
	    &c, &s), -1);
	ck_assert_msg(strstr(err, "key 'pool': network neta has two pool lines") != NULL, "%s",
	    err);
	serverconf_free(&c, &s);
	unlink(path);
	ck_assert_int_eq(load_server(BASE "enroll_max_age_s = 0\n", &c, &s), -1);
	ck_assert_msg(strstr(err, ":5: key 'enroll_max_age_s'") != NULL, "%s", err);
	serverconf_free(&c, &s);
	unlink(path);
}
END_TEST

/* The code is base32 (RFC 4648) of the first 40 bits of the CSR's SHA-256. */
START_TEST(test_code_of_digest)
{
	static const uint8_t csr[] = "not a real CSR, any bytes do";
	uint8_t sha[32];
	char code[PENDING_CODE_LEN + 1];

	/* python3: base64.b32encode(hashlib.sha256(b"not a real CSR, any bytes do")
	 * .digest()[:5]) is XO5NX6CI */
	SHA256(csr, sizeof(csr) - 1, sha);
	pending_code(sha, code);
	ck_assert_str_eq(code, "XO5N-X6CI");
	/* 0xf8 = 11111 000: the first letter is 31 ('7'), the second starts with 000 */
	memset(sha, 0, sizeof(sha));
	sha[0] = 0xf8;
	sha[4] = 0x01;
	pending_code(sha, code);
	ck_assert_str_eq(code, "7AAA-AAAB");
	/* bits past the 40th change nothing */
	sha[5] = 0xff;
	pending_code(sha, code);
	ck_assert_str_eq(code, "7AAA-AAAB");
}
END_TEST

Suite *
enroll_conf_suite(void)
{
	Suite *s = suite_create("enroll_conf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_repeat_joins_lines);
	tcase_add_test(tc, test_check_names_the_line);
	tcase_add_test(tc, test_server_pools);
	tcase_add_test(tc, test_server_pool_errors);
	tcase_add_test(tc, test_code_of_digest);
	suite_add_tcase(s, tc);
	return s;
}
