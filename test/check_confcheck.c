/* Unit tests for common/confcheck.c: what -n and the start both refuse. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/confcheck.h"
#include "test/check_suites.h"

static char why[512];

START_TEST(hostport_accepts)
{
	ck_assert(confcheck_hostport("0.0.0.0:7443", false, why, sizeof(why)));
	ck_assert(confcheck_hostport("[::]:7443", false, why, sizeof(why)));
	ck_assert(confcheck_hostport(":7443", false, why, sizeof(why)));
	ck_assert(confcheck_hostport("127.0.0.1:0", false, why, sizeof(why)));
	ck_assert(confcheck_hostport("sync.example.org:65535", true, why, sizeof(why)));
	ck_assert(confcheck_hostport("[2001:db8::1]:7443", true, why, sizeof(why)));
}
END_TEST

START_TEST(hostport_bare_port)
{
	ck_assert(!confcheck_hostport("7444", false, why, sizeof(why)));
	ck_assert_msg(strstr(why, "0.0.0.0:7444") != NULL, "%s", why);
	ck_assert(!confcheck_hostport("7444", true, why, sizeof(why)));
	ck_assert_msg(strstr(why, "sync.example.org:7444") != NULL, "%s", why);
}
END_TEST

START_TEST(hostport_rejects)
{
	const char *bad[] = { "", "host:", "host:70000", "host:74x", "::1:7443", "[::1:7443",
	    "[]:7443", "host:123456" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!confcheck_hostport(bad[i], false, why, sizeof(why)), "%s", bad[i]);
	ck_assert(!confcheck_hostport(":7443", true, why, sizeof(why)));
	ck_assert(!confcheck_hostport(NULL, false, why, sizeof(why)));
}
END_TEST

START_TEST(listen_names_where_and_key)
{
	ck_assert_int_eq(confcheck_listen("s.conf:2", "listen", "7444", false, why,
	    sizeof(why)), -1);
	ck_assert_msg(strncmp(why, "s.conf:2: listen = 7444: not HOST:PORT", 38) == 0, "%s", why);
	ck_assert_int_eq(confcheck_listen("x", "listen", "127.0.0.1:0", true, why, sizeof(why)), 0);
}
END_TEST

static char dir[64];

static void
dir_setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ws-confcheck.XXXXXX");
	ck_assert(mkdtemp(dir) != NULL);
}

static void
dir_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(file_missing_names_key_and_path)
{
	char p[128], want[256];

	snprintf(p, sizeof(p), "%s/y.crt", dir);
	ck_assert_int_eq(confcheck_file("command line", "certificate", p, why, sizeof(why)), -1);
	snprintf(want, sizeof(want), "command line: certificate = %s: No such file or directory",
	    p);
	ck_assert_msg(strncmp(why, want, strlen(want)) == 0, "%s", why);
	ck_assert_int_eq(confcheck_file("x", "ca", dir, why, sizeof(why)), -1);
	ck_assert_msg(strstr(why, "not a regular file") != NULL, "%s", why);
}
END_TEST

START_TEST(file_present)
{
	char p[128];
	FILE *f;

	snprintf(p, sizeof(p), "%s/ca.crt", dir);
	f = fopen(p, "w");
	ck_assert(f != NULL);
	fclose(f);
	ck_assert_int_eq(confcheck_file("x", "ca", p, why, sizeof(why)), 0);
}
END_TEST

START_TEST(writable_file_needs_its_directory)
{
	char p[128];
	struct stat st;

	snprintf(p, sizeof(p), "%s/db/wiresync.db", dir);
	ck_assert_int_eq(confcheck_writable_file("x", "database", p, why, sizeof(why)), -1);
	ck_assert_msg(strstr(why, "/db: No such file or directory; create it first") != NULL,
	    "%s", why);
	/* the check creates nothing */
	snprintf(p, sizeof(p), "%s/db", dir);
	ck_assert_int_eq(stat(p, &st), -1);
	snprintf(p, sizeof(p), "%s/wiresync.db", dir);
	ck_assert_int_eq(confcheck_writable_file("x", "database", p, why, sizeof(why)), 0);
	ck_assert_int_eq(stat(p, &st), -1);
}
END_TEST

START_TEST(dir_made_one_level)
{
	char p[128];
	struct stat st;
	FILE *f;

	snprintf(p, sizeof(p), "%s/state", dir);
	ck_assert_int_eq(confcheck_dir("x", "state_dir", p, true, why, sizeof(why)), 0);
	ck_assert_int_eq(stat(p, &st), -1);
	ck_assert_int_eq(confcheck_dir("x", "state_dir", p, false, why, sizeof(why)), -1);
	snprintf(p, sizeof(p), "%s/a/b", dir);
	ck_assert_int_eq(confcheck_dir("x", "state_dir", p, true, why, sizeof(why)), -1);
	ck_assert_msg(strstr(why, "create it first") != NULL, "%s", why);
	snprintf(p, sizeof(p), "%s/file", dir);
	f = fopen(p, "w");
	ck_assert(f != NULL);
	fclose(f);
	ck_assert_int_eq(confcheck_dir("x", "state_dir", p, true, why, sizeof(why)), -1);
	ck_assert_msg(strstr(why, "not a directory") != NULL, "%s", why);
	ck_assert_int_eq(confcheck_dir("x", "state_dir", dir, true, why, sizeof(why)), 0);
}
END_TEST

Suite *
confcheck_suite(void)
{
	Suite *s = suite_create("confcheck");
	TCase *core = tcase_create("core"), *errors = tcase_create("errors");

	tcase_add_test(core, hostport_accepts);
	tcase_add_test(core, listen_names_where_and_key);
	tcase_add_checked_fixture(core, dir_setup, dir_teardown);
	tcase_add_test(core, file_present);
	tcase_add_test(core, dir_made_one_level);
	tcase_add_test(errors, hostport_bare_port);
	tcase_add_test(errors, hostport_rejects);
	tcase_add_checked_fixture(errors, dir_setup, dir_teardown);
	tcase_add_test(errors, file_missing_names_key_and_path);
	tcase_add_test(errors, writable_file_needs_its_directory);
	suite_add_tcase(s, core);
	suite_add_tcase(s, errors);
	return s;
}
