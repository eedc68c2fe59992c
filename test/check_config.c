/* Unit tests for common/config.c: INI files, --name=value overrides, required keys. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/conf.h"
#include "test/check_suites.h"

/* A schema like the server's, rebuilt for every test. */
static char *t_listen, *t_database, *t_crl, *t_private_key;
static unsigned t_port, t_workers;
static bool t_verbose;
static struct config_key t_keys[7];
static struct config_schema t_schema = { "server", t_keys, 7 };
static char t_path[64];
static char t_err[256];

static void
schema_setup(void)
{
	const struct config_key keys[] = {
		{ .name = "listen", .type = CONFIG_STRING, .dst = &t_listen, .required = true,
		    .help = "address:port" },
		{ .name = "database", .type = CONFIG_STRING, .dst = &t_database, .required = true,
		    .help = "SQLite file" },
		{ .name = "crl", .type = CONFIG_STRING, .dst = &t_crl, .help = "revocation list" },
		{ .name = "private_key", .type = CONFIG_STRING, .dst = &t_private_key,
		    .help = "key file" },
		{ .name = "port", .type = CONFIG_UINT, .dst = &t_port, .min = 1, .max = 65535,
		    .help = "UDP port" },
		{ .name = "workers", .type = CONFIG_UINT, .dst = &t_workers, .max = UINT32_MAX,
		    .help = "count" },
		{ .name = "verbose", .type = CONFIG_BOOL, .dst = &t_verbose, .help = "more logs" },
	};

	memcpy(t_keys, keys, sizeof(keys));
	t_listen = t_database = t_crl = t_private_key = NULL;
	t_port = t_workers = 0;
	t_verbose = false;
	t_path[0] = '\0';
	t_err[0] = '\0';
}

static void
schema_teardown(void)
{
	config_free(&t_schema);
	if (t_path[0] != '\0')
		unlink(t_path);
}

/* Writes len bytes into a new temporary file named in t_path. */
static void
write_file_len(const char *text, size_t len)
{
	int fd;

	snprintf(t_path, sizeof(t_path), "/tmp/check_config.XXXXXX");
	fd = mkstemp(t_path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static void
write_file(const char *text)
{
	write_file_len(text, strlen(text));
}

static int
load(const char *text)
{
	write_file(text);
	return config_load_file(&t_schema, t_path, t_err, sizeof(t_err));
}

/* Asserts that loading text fails with -EINVAL and "FILE:LINE: what". */
static void
assert_load_error(const char *text, int line, const char *what)
{
	char want[256];

	ck_assert_int_eq(load(text), -EINVAL);
	snprintf(want, sizeof(want), "%s:%d: %s", t_path, line, what);
	ck_assert_str_eq(t_err, want);
}

/* --- core ------------------------------------------------------------------------------ */

START_TEST(test_load_values)
{
	char where[96];

	ck_assert_int_eq(load("; wiresync\n[server]\nlisten = 0.0.0.0:7443\n"
	    "database=/var/lib/ws.db\nport = 51820\nverbose = yes\nworkers = 4294967295\n"), 0);
	ck_assert_str_eq(t_listen, "0.0.0.0:7443");
	ck_assert_str_eq(t_database, "/var/lib/ws.db");
	ck_assert_ptr_null(t_crl);
	ck_assert_uint_eq(t_port, 51820);
	ck_assert_uint_eq(t_workers, 4294967295u);
	ck_assert(t_verbose);
	ck_assert(t_keys[0].set && t_keys[4].set && !t_keys[2].set);
	snprintf(where, sizeof(where), "%s:3", t_path);
	ck_assert_str_eq(t_keys[0].where, where);
	snprintf(where, sizeof(where), "%s:6", t_path);
	ck_assert_str_eq(t_keys[6].where, where);
}
END_TEST

START_TEST(test_load_comments_and_blanks)
{
	ck_assert_int_eq(load("\xEF\xBB\xBF# comment\r\n[server]\r\n\r\n"
	    "  listen   =   a b  \r\n"
	    "database = /x;y\n"
	    "crl = /etc/ca.crl      # optional\n"
	    "private_key = /k ; inline\n"
	    "; listen = no\n"
	    "# port = 1\n"), 0);
	ck_assert_str_eq(t_listen, "a b");
	ck_assert_str_eq(t_database, "/x;y");
	ck_assert_str_eq(t_crl, "/etc/ca.crl");
	ck_assert_str_eq(t_private_key, "/k");
	ck_assert(!t_keys[4].set);
}
END_TEST

START_TEST(test_load_colon_and_dashes)
{
	ck_assert_int_eq(load("[server]\nlisten: [::]:7443\nprivate-key = /k\n"), 0);
	ck_assert_str_eq(t_listen, "[::]:7443");
	ck_assert_str_eq(t_private_key, "/k");
}
END_TEST

START_TEST(test_load_empty_value_is_null)
{
	ck_assert_int_eq(load("[server]\ncrl =\nlisten = # nothing\n"), 0);
	ck_assert(t_keys[2].set);
	ck_assert_ptr_null(t_crl);
	ck_assert_ptr_null(t_listen);
}
END_TEST

START_TEST(test_load_bools)
{
	static const char *const words[] = { "yes", "TRUE", "On", "1", "no", "false", "OFF",
	    "0" };
	char text[64];
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		snprintf(text, sizeof(text), "[server]\nverbose = %s\n", words[i]);
		ck_assert_int_eq(load(text), 0);
		ck_assert(t_verbose == (i < 4));
		config_free(&t_schema);
		unlink(t_path);
	}
	t_path[0] = '\0';
}
END_TEST

START_TEST(test_arg_overrides_file)
{
	ck_assert_int_eq(load("[server]\nlisten = file\nport = 1\n"), 0);
	ck_assert_int_eq(config_apply_arg(&t_schema, "--listen=arg", t_err, sizeof(t_err)),
	    0);
	ck_assert_int_eq(config_apply_arg(&t_schema, "--port=2", t_err, sizeof(t_err)), 0);
	ck_assert_str_eq(t_listen, "arg");
	ck_assert_uint_eq(t_port, 2);
	ck_assert_str_eq(t_keys[0].where, "command line");
}
END_TEST

START_TEST(test_arg_before_file_still_wins)
{
	ck_assert_int_eq(config_apply_arg(&t_schema, "--listen=arg", t_err, sizeof(t_err)),
	    0);
	ck_assert_int_eq(load("[server]\nlisten = file\ndatabase = db\n"), 0);
	ck_assert_str_eq(t_listen, "arg");
	ck_assert_str_eq(t_database, "db");
}
END_TEST

START_TEST(test_arg_dashes_underscores)
{
	ck_assert_int_eq(config_apply_arg(&t_schema, "--private-key=/a", t_err,
	    sizeof(t_err)), 0);
	ck_assert_str_eq(t_private_key, "/a");
	ck_assert_int_eq(config_apply_arg(&t_schema, "--private_key=/b", t_err,
	    sizeof(t_err)), 0);
	ck_assert_str_eq(t_private_key, "/b");
	ck_assert_int_eq(config_apply_arg(&t_schema, "--verbose=on", t_err, sizeof(t_err)),
	    0);
	ck_assert(t_verbose);
	/* Values are taken as given, '=' and blanks included. */
	ck_assert_int_eq(config_apply_arg(&t_schema, "--listen= a=b ", t_err,
	    sizeof(t_err)), 0);
	ck_assert_str_eq(t_listen, " a=b ");
}
END_TEST

START_TEST(test_required_ok)
{
	ck_assert_int_eq(load("[server]\nlisten = x\ndatabase = y\n"), 0);
	ck_assert_int_eq(config_check_required(&t_schema, t_path, t_err, sizeof(t_err)), 0);
}
END_TEST

START_TEST(test_required_missing)
{
	char want[256];

	ck_assert_int_eq(load("[server]\nlisten = x\n"), 0);
	ck_assert_int_eq(config_check_required(&t_schema, t_path, t_err, sizeof(t_err)),
	    -EINVAL);
	snprintf(want, sizeof(want),
	    "%s: key 'database' in [server] is required (or give --database=VALUE)", t_path);
	ck_assert_str_eq(t_err, want);
	ck_assert_int_eq(config_check_required(&t_schema, NULL, t_err, sizeof(t_err)),
	    -EINVAL);
	ck_assert_str_eq(t_err, "key 'database' is required (give --database=VALUE)");
	ck_assert_int_eq(config_apply_arg(&t_schema, "--database=d", t_err, sizeof(t_err)),
	    0);
	ck_assert_int_eq(config_check_required(&t_schema, t_path, t_err, sizeof(t_err)), 0);
}
END_TEST

START_TEST(test_required_empty)
{
	char want[256];

	ck_assert_int_eq(load("[server]\nlisten = x\ndatabase =\n"), 0);
	ck_assert_int_eq(config_check_required(&t_schema, t_path, t_err, sizeof(t_err)),
	    -EINVAL);
	snprintf(want, sizeof(want), "%s:3: key 'database': required, must not be empty",
	    t_path);
	ck_assert_str_eq(t_err, want);

	config_free(&t_schema);
	ck_assert_int_eq(config_apply_arg(&t_schema, "--listen=", t_err, sizeof(t_err)), 0);
	ck_assert_int_eq(config_apply_arg(&t_schema, "--database=d", t_err, sizeof(t_err)),
	    0);
	ck_assert_int_eq(config_check_required(&t_schema, NULL, t_err, sizeof(t_err)),
	    -EINVAL);
	ck_assert_str_eq(t_err, "command line: key 'listen': required, must not be empty");
}
END_TEST

START_TEST(test_free_resets)
{
	ck_assert_int_eq(load("[server]\nlisten = x\nport = 7\n"), 0);
	config_free(&t_schema);
	ck_assert_ptr_null(t_listen);
	ck_assert(!t_keys[0].set && !t_keys[4].set);
	ck_assert_str_eq(t_keys[0].where, "");
	config_free(&t_schema);
	config_free(NULL);
	/* Unset keys keep the caller's default, which config_free does not free. */
	t_crl = (char *)"/default.crl";
	config_free(&t_schema);
	ck_assert_str_eq(t_crl, "/default.crl");
	t_crl = NULL;
}
END_TEST

START_TEST(test_reload_replaces)
{
	ck_assert_int_eq(load("[server]\nlisten = one\n"), 0);
	unlink(t_path);
	ck_assert_int_eq(load("[server]\nlisten = two\n"), 0);
	ck_assert_str_eq(t_listen, "two");
}
END_TEST

START_TEST(test_print_help)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	config_print_help(&t_schema, f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(text, "  --listen=VALUE       address:port (required)\n"));
	ck_assert_ptr_nonnull(strstr(text, "  --port=N             UDP port (1 to 65535)\n"));
	ck_assert_ptr_nonnull(strstr(text, "  --verbose=yes|no     more logs\n"));
	free(text);
}
END_TEST

/* --- limits ---------------------------------------------------------------------------- */

START_TEST(test_uint_bounds)
{
	ck_assert_int_eq(load("[server]\nport = 65535\nworkers = 0\n"), 0);
	ck_assert_uint_eq(t_port, 65535);
	ck_assert_int_eq(config_apply_arg(&t_schema, "--port=1", t_err, sizeof(t_err)), 0);
	ck_assert_uint_eq(t_port, 1);
	ck_assert_int_eq(config_apply_arg(&t_schema, "--port=0", t_err, sizeof(t_err)),
	    -EINVAL);
	ck_assert_int_eq(config_apply_arg(&t_schema, "--port=65536", t_err, sizeof(t_err)),
	    -EINVAL);
	ck_assert_int_eq(config_apply_arg(&t_schema, "--workers=4294967296", t_err,
	    sizeof(t_err)), -EINVAL);
	ck_assert_int_eq(config_apply_arg(&t_schema, "--workers=99999999999999999999999",
	    t_err, sizeof(t_err)), -EINVAL);
	ck_assert_int_eq(config_apply_arg(&t_schema, "--workers=0004", t_err,
	    sizeof(t_err)), 0);
	ck_assert_uint_eq(t_workers, 4);
	ck_assert_uint_eq(t_port, 1);
}
END_TEST

START_TEST(test_long_line_ok)
{
	char text[256], value[151];

	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	snprintf(text, sizeof(text), "[server]\nlisten = %s\nport = 9\n", value);
	ck_assert_int_eq(load(text), 0);
	ck_assert_str_eq(t_listen, value);
	ck_assert_uint_eq(t_port, 9);
}
END_TEST

START_TEST(test_long_line_rejected)
{
	char text[1200], value[1001];

	/* inih would cut the line and read its tail as a new line; we report it whole. */
	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	snprintf(text, sizeof(text), "[server]\nlisten = %s\n", value);
	ck_assert_int_eq(load(text), -EINVAL);
	ck_assert_ptr_nonnull(strstr(t_err, ":2: line longer than "));
	ck_assert_ptr_eq(strstr(t_err, t_path), t_err);
}
END_TEST

START_TEST(test_file_too_large)
{
	size_t len = 70 * 1024;
	char *text = malloc(len);
	char want[256];

	ck_assert_ptr_nonnull(text);
	memset(text, '\n', len);
	memcpy(text, "[server]\n", 9);
	write_file_len(text, len);
	free(text);
	ck_assert_int_eq(config_load_file(&t_schema, t_path, t_err, sizeof(t_err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: larger than 65536 bytes", t_path);
	ck_assert_str_eq(t_err, want);
}
END_TEST

START_TEST(test_empty_file)
{
	ck_assert_int_eq(load(""), 0);
	ck_assert(!t_keys[0].set);
}
END_TEST

START_TEST(test_small_err_buffer)
{
	char small[8];

	write_file("[server]\nnope = 1\n");
	ck_assert_int_eq(config_load_file(&t_schema, t_path, small, sizeof(small)), -EINVAL);
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	ck_assert_int_eq(config_apply_arg(&t_schema, "--nope=1", NULL, 0), -ENOENT);
}
END_TEST

/* --- errors ---------------------------------------------------------------------------- */

START_TEST(test_err_cannot_open)
{
	ck_assert_int_eq(config_load_file(&t_schema, "/nonexistent/ws.conf", t_err,
	    sizeof(t_err)), -ENOENT);
	ck_assert_str_eq(t_err, "/nonexistent/ws.conf: cannot open: No such file or directory");
}
END_TEST

START_TEST(test_err_cannot_read_dir)
{
	ck_assert_int_eq(config_load_file(&t_schema, "/tmp", t_err, sizeof(t_err)), -EISDIR);
	ck_assert_str_eq(t_err, "/tmp: cannot read: Is a directory");
}
END_TEST

START_TEST(test_err_permission)
{
	char want[256];

	if (geteuid() == 0)
		return; /* root reads any file; nothing to test */
	write_file("[server]\n");
	ck_assert_int_eq(chmod(t_path, 0), 0);
	ck_assert_int_eq(config_load_file(&t_schema, t_path, t_err, sizeof(t_err)), -EACCES);
	snprintf(want, sizeof(want), "%s: cannot open: Permission denied", t_path);
	ck_assert_str_eq(t_err, want);
}
END_TEST

START_TEST(test_err_unknown_section)
{
	assert_load_error("[server]\nlisten = x\n\n[agent]\nserver = y\n", 4,
	    "unknown section [agent] (expected [server])");
}
END_TEST

START_TEST(test_err_unknown_empty_section)
{
	assert_load_error("[server]\nlisten = x\n[sever]\n", 3,
	    "unknown section [sever] (expected [server])");
}
END_TEST

START_TEST(test_err_key_outside_section)
{
	assert_load_error("# c\nlisten = x\n[server]\n", 2,
	    "key 'listen': outside of section [server]");
}
END_TEST

START_TEST(test_err_unknown_key)
{
	assert_load_error("[server]\nlisten = x\n\n; c\nlisen = y\n", 5,
	    "key 'lisen': unknown in section [server]");
}
END_TEST

START_TEST(test_err_bad_uint)
{
	assert_load_error("[server]\nport = 12a\n", 2,
	    "key 'port': '12a' is not a number from 1 to 65535");
}
END_TEST

START_TEST(test_err_uint_range)
{
	assert_load_error("[server]\n\nport = 65536\n", 3,
	    "key 'port': '65536' is not a number from 1 to 65535");
}
END_TEST

START_TEST(test_err_uint_negative)
{
	assert_load_error("[server]\nport = -1\n", 2,
	    "key 'port': '-1' is not a number from 1 to 65535");
}
END_TEST

START_TEST(test_err_uint_empty)
{
	assert_load_error("[server]\nport =\n", 2,
	    "key 'port': '' is not a number from 1 to 65535");
}
END_TEST

START_TEST(test_err_bad_bool)
{
	assert_load_error("[server]\nverbose = maybe\n", 2,
	    "key 'verbose': 'maybe' is not a boolean (yes/no, true/false, on/off, 1/0)");
}
END_TEST

START_TEST(test_err_duplicate)
{
	assert_load_error("[server]\nlisten = a\nport = 1\nlisten = b\n", 4,
	    "key 'listen': given twice (first on line 2)");
}
END_TEST

START_TEST(test_err_duplicate_spelling)
{
	assert_load_error("[server]\nprivate_key = a\nprivate-key = b\n", 3,
	    "key 'private_key': given twice (first on line 2)");
}
END_TEST

START_TEST(test_err_syntax)
{
	assert_load_error("[server]\nlisten = a\n\njust words\n", 4,
	    "syntax error: expected 'name = value', '[section]' or a comment");
}
END_TEST

START_TEST(test_err_section_unclosed)
{
	assert_load_error("\n[server\nlisten = a\n", 2,
	    "section header without a closing ']'");
}
END_TEST

START_TEST(test_err_first_error_wins)
{
	/* A syntax error (found by inih) before an unknown key (found by the handler)... */
	assert_load_error("[server]\nbad line\nnope = 1\n", 2,
	    "syntax error: expected 'name = value', '[section]' or a comment");
	unlink(t_path);
	/* ...and the other way round. */
	assert_load_error("[server]\nnope = 1\nbad line\n", 2,
	    "key 'nope': unknown in section [server]");
}
END_TEST

START_TEST(test_err_continuation)
{
	assert_load_error("[server]\nlisten = a\n  port = 1\n", 3,
	    "key 'listen': indented line would continue its value; multi-line values are "
	    "not supported");
}
END_TEST

START_TEST(test_indented_first_key_ok)
{
	ck_assert_int_eq(load("[server]\n  listen = a\n[server]\n  port = 5\n"), 0);
	ck_assert_str_eq(t_listen, "a");
	ck_assert_uint_eq(t_port, 5);
}
END_TEST

START_TEST(test_err_nul_byte)
{
	char want[256];

	write_file_len("[server]\nlisten = a\0b\n", 22);
	ck_assert_int_eq(config_load_file(&t_schema, t_path, t_err, sizeof(t_err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: line contains a NUL byte", t_path);
	ck_assert_str_eq(t_err, want);
}
END_TEST

START_TEST(test_err_arg_format)
{
	ck_assert_int_eq(config_apply_arg(&t_schema, "listen=x", t_err, sizeof(t_err)),
	    -EINVAL);
	ck_assert_str_eq(t_err, "'listen=x': expected --name=value");
	ck_assert_int_eq(config_apply_arg(&t_schema, "--listen", t_err, sizeof(t_err)),
	    -EINVAL);
	ck_assert_str_eq(t_err, "'--listen': expected --name=value");
	ck_assert_int_eq(config_apply_arg(&t_schema, "--=x", t_err, sizeof(t_err)), -EINVAL);
	ck_assert(!t_keys[0].set);
}
END_TEST

START_TEST(test_err_arg_unknown)
{
	ck_assert_int_eq(config_apply_arg(&t_schema, "--lisen=x", t_err, sizeof(t_err)),
	    -ENOENT);
	ck_assert_str_eq(t_err, "unknown option '--lisen'");
}
END_TEST

START_TEST(test_err_arg_bad_value)
{
	ck_assert_int_eq(config_apply_arg(&t_schema, "--port=x", t_err, sizeof(t_err)),
	    -EINVAL);
	ck_assert_str_eq(t_err, "option '--port': 'x' is not a number from 1 to 65535");
	ck_assert_int_eq(config_apply_arg(&t_schema, "--verbose=2", t_err, sizeof(t_err)),
	    -EINVAL);
	ck_assert_str_eq(t_err,
	    "option '--verbose': '2' is not a boolean (yes/no, true/false, on/off, 1/0)");
	ck_assert(!t_keys[4].set && !t_keys[6].set);
}
END_TEST

START_TEST(test_err_file_value_checked_under_arg)
{
	/* The command line wins, but a bad value in the file is still an error. */
	ck_assert_int_eq(config_apply_arg(&t_schema, "--port=5", t_err, sizeof(t_err)), 0);
	assert_load_error("[server]\nport = x\n", 2,
	    "key 'port': 'x' is not a number from 1 to 65535");
	ck_assert_uint_eq(t_port, 5);
}
END_TEST

Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, schema_setup, schema_teardown);
	tcase_add_test(tc, test_load_values);
	tcase_add_test(tc, test_load_comments_and_blanks);
	tcase_add_test(tc, test_load_colon_and_dashes);
	tcase_add_test(tc, test_load_empty_value_is_null);
	tcase_add_test(tc, test_load_bools);
	tcase_add_test(tc, test_arg_overrides_file);
	tcase_add_test(tc, test_arg_before_file_still_wins);
	tcase_add_test(tc, test_arg_dashes_underscores);
	tcase_add_test(tc, test_required_ok);
	tcase_add_test(tc, test_required_missing);
	tcase_add_test(tc, test_required_empty);
	tcase_add_test(tc, test_free_resets);
	tcase_add_test(tc, test_reload_replaces);
	tcase_add_test(tc, test_print_help);
	tcase_add_test(tc, test_indented_first_key_ok);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, schema_setup, schema_teardown);
	tcase_add_test(tc, test_uint_bounds);
	tcase_add_test(tc, test_long_line_ok);
	tcase_add_test(tc, test_long_line_rejected);
	tcase_add_test(tc, test_file_too_large);
	tcase_add_test(tc, test_empty_file);
	tcase_add_test(tc, test_small_err_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, schema_setup, schema_teardown);
	tcase_add_test(tc, test_err_cannot_open);
	tcase_add_test(tc, test_err_cannot_read_dir);
	tcase_add_test(tc, test_err_permission);
	tcase_add_test(tc, test_err_unknown_section);
	tcase_add_test(tc, test_err_unknown_empty_section);
	tcase_add_test(tc, test_err_key_outside_section);
	tcase_add_test(tc, test_err_unknown_key);
	tcase_add_test(tc, test_err_bad_uint);
	tcase_add_test(tc, test_err_uint_range);
	tcase_add_test(tc, test_err_uint_negative);
	tcase_add_test(tc, test_err_uint_empty);
	tcase_add_test(tc, test_err_bad_bool);
	tcase_add_test(tc, test_err_duplicate);
	tcase_add_test(tc, test_err_duplicate_spelling);
	tcase_add_test(tc, test_err_syntax);
	tcase_add_test(tc, test_err_section_unclosed);
	tcase_add_test(tc, test_err_first_error_wins);
	tcase_add_test(tc, test_err_continuation);
	tcase_add_test(tc, test_err_nul_byte);
	tcase_add_test(tc, test_err_arg_format);
	tcase_add_test(tc, test_err_arg_unknown);
	tcase_add_test(tc, test_err_arg_bad_value);
	tcase_add_test(tc, test_err_file_value_checked_under_arg);
	suite_add_tcase(s, tc);
	return s;
}
