/* Tests for ctl/enroll_args.c: the arguments of wiresyncctl approve and deny, the age and
 * JSON of a join request, the wiresync-ca command line, the CA fingerprint. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <check.h>

#include "common/cert.h"
#include "ctl/enroll_args.h"
#include "test/check_suites.h"
#include "test/testcert.h"

#define ARGC(v) ((int)(sizeof(v) / sizeof((v)[0])))

static uint8_t key32[32] = { 1, 2, 3 };
static char *ips2[] = { (char *)"10.9.0.7/32", (char *)"fd00::7/128" };

static void
join_init(Wiresync__V1__PendingJoin *j)
{
	wiresync__v1__pending_join__init(j);
	j->id = 42;
	j->name = (char *)"laptop";
	j->public_key.data = key32;
	j->public_key.len = sizeof(key32);
	j->code = (char *)"ABCD-EFGH";
	j->source = (char *)"192.0.2.7";
	j->created = 1000;
	j->network = (char *)"neta";
	j->state = (char *)"waiting";
	j->reserved_ips = ips2;
	j->n_reserved_ips = 2;
}

START_TEST(test_age_units)
{
	static const struct { int64_t s; const char *want; } cases[] = {
		{ 0, "0s" }, { 5, "5s" }, { 59, "59s" }, { 60, "1m" }, { 3599, "59m" },
		{ 3600, "1h" }, { 7200, "2h" }, { 86399, "23h" }, { 86400, "1d" },
		{ 10 * 86400 + 5, "10d" }, { -30, "0s" },
	};
	char out[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enroll_age_format(cases[i].s, out, sizeof(out));
		ck_assert_msg(strcmp(out, cases[i].want) == 0, "%lld s: \"%s\", want \"%s\"",
		    (long long)cases[i].s, out, cases[i].want);
	}
}
END_TEST

START_TEST(test_id_parse)
{
	uint64_t id = 0;

	ck_assert(enroll_id_parse("7", &id));
	ck_assert_uint_eq(id, 7);
	ck_assert(enroll_id_parse("18446744073709551615", &id));
	ck_assert(id == UINT64_MAX);
	ck_assert(!enroll_id_parse("0", &id));
	ck_assert(!enroll_id_parse("", &id));
	ck_assert(!enroll_id_parse("-1", &id));
	ck_assert(!enroll_id_parse("+1", &id));
	ck_assert(!enroll_id_parse(" 1", &id));
	ck_assert(!enroll_id_parse("1x", &id));
	ck_assert(!enroll_id_parse("18446744073709551616", &id));
}
END_TEST

START_TEST(test_approve_args)
{
	char *argv[] = { "approve", "7", "--ip", "10.9.0.7", "--ip=fd00::7", "--group",
	    "laptops", "--group=office-2" };
	struct enroll_approve_args a;
	char err[256];

	ck_assert_int_eq(enroll_approve_args_parse(ARGC(argv), argv, &a, err, sizeof(err)), 0);
	ck_assert_uint_eq(a.id, 7);
	ck_assert_uint_eq(a.n_ips, 2);
	ck_assert_str_eq(a.ips[0], "10.9.0.7");
	ck_assert_str_eq(a.ips[1], "fd00::7");
	ck_assert_uint_eq(a.n_groups, 2);
	ck_assert_str_eq(a.groups[0], "laptops");
	ck_assert_str_eq(a.groups[1], "office-2");
}
END_TEST

/* the code the host printed names a request too: base32, the dash at 4, either case */
START_TEST(test_ref_parse)
{
	char code[ENROLL_CODE_LEN + 1];
	uint64_t id;

	ck_assert(enroll_ref_parse("42", &id, code));
	ck_assert_uint_eq(id, 42);
	ck_assert_str_eq(code, "");
	ck_assert(enroll_ref_parse("k3qf-7zpa", &id, code));
	ck_assert_uint_eq(id, 0);
	ck_assert_str_eq(code, "K3QF-7ZPA");
	ck_assert(enroll_ref_parse("4OYM-IQUY", &id, code));
	ck_assert_str_eq(code, "4OYM-IQUY");
	ck_assert(!enroll_ref_parse("K3QF-7ZP1", &id, code));     /* 1 is not base32 */
	ck_assert(!enroll_ref_parse("K3QF-7ZPAB", &id, code));
	ck_assert(!enroll_ref_parse("K3QF7-ZPA", &id, code));
	ck_assert(!enroll_ref_parse("K3QF_7ZPA", &id, code));
	ck_assert(!enroll_ref_parse("", &id, code));
}
END_TEST

START_TEST(test_approve_id_only)
{
	char *argv[] = { "approve", "12" };
	struct enroll_approve_args a;
	char err[256];

	ck_assert_int_eq(enroll_approve_args_parse(ARGC(argv), argv, &a, err, sizeof(err)), 0);
	ck_assert_uint_eq(a.id, 12);
	ck_assert_uint_eq(a.n_ips, 0);
	ck_assert_uint_eq(a.n_groups, 0);
}
END_TEST

/* each bad command line fails with a message naming what is wrong */
START_TEST(test_approve_refusals)
{
	static const struct { const char *args[6]; const char *says; } cases[] = {
		{ { "approve" }, "give the ID" },
		{ { "approve", "x7" }, "\"x7\": want the ID" },
		{ { "approve", "0" }, "\"0\": want the ID" },
		{ { "approve", "ABCD-EFG1" }, "or the code the host printed" },
		{ { "approve", "ABCDEFGH" }, "\"ABCDEFGH\"" },
		{ { "approve", "7", "8" }, "unexpected argument \"8\"" },
		{ { "approve", "7", "--ip", "10.9.0.7/32" }, "--ip \"10.9.0.7/32\"" },
		{ { "approve", "7", "--ip", "10.9.0.300" }, "--ip \"10.9.0.300\"" },
		{ { "approve", "7", "--ip", "fd00::7", "--ip", "fd00:0::7" }, "given twice" },
		{ { "approve", "7", "--ip" }, "--ip needs a value" },
		{ { "approve", "7", "--group", "Laptops" }, "--group \"Laptops\"" },
		{ { "approve", "7", "--group", "a", "--group=a" }, "--group \"a\" given twice" },
		{ { "approve", "7", "--group" }, "--group needs a value" },
		{ { "approve", "7", "--force" }, "unknown option \"--force\"" },
	};
	struct enroll_approve_args a;
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int argc = 0;
		while (argc < 6 && cases[i].args[argc] != NULL)
			argc++;
		err[0] = '\0';
		ck_assert_int_eq(enroll_approve_args_parse(argc, (char **)cases[i].args, &a, err,
		    sizeof(err)), -1);
		ck_assert_msg(strstr(err, cases[i].says) != NULL, "case %zu: \"%s\" lacks \"%s\"",
		    i, err, cases[i].says);
	}
}
END_TEST

START_TEST(test_approve_too_many_ips)
{
	char *argv[2 + 2 * (ENROLL_MAX_IPS + 1)], text[ENROLL_MAX_IPS + 1][32];
	struct enroll_approve_args a;
	char err[256];
	int n = 0;

	argv[n++] = "approve";
	argv[n++] = "3";
	for (int i = 0; i <= ENROLL_MAX_IPS; i++) {
		snprintf(text[i], sizeof(text[i]), "10.9.0.%d", i + 1);
		argv[n++] = "--ip";
		argv[n++] = text[i];
	}
	ck_assert_int_eq(enroll_approve_args_parse(n, argv, &a, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "at most"));
	ck_assert_int_eq(enroll_approve_args_parse(n - 2, argv, &a, err, sizeof(err)), 0);
	ck_assert_uint_eq(a.n_ips, ENROLL_MAX_IPS);
}
END_TEST

START_TEST(test_deny_args)
{
	char *ok[] = { "deny", "9", "--reason", "not ours" };
	char *bare[] = { "deny", "9" };
	char *noid[] = { "deny", "--reason=x" };
	char *unknown[] = { "deny", "9", "--why", "x" };
	char longr[ENROLL_REASON_MAX + 10], opt[ENROLL_REASON_MAX + 20];
	char *toolong[] = { "deny", "9", opt };
	struct enroll_deny_args a;
	char err[256];

	ck_assert_int_eq(enroll_deny_args_parse(ARGC(ok), ok, &a, err, sizeof(err)), 0);
	ck_assert_uint_eq(a.id, 9);
	ck_assert_str_eq(a.reason, "not ours");
	ck_assert_int_eq(enroll_deny_args_parse(ARGC(bare), bare, &a, err, sizeof(err)), 0);
	ck_assert_str_eq(a.reason, "");
	ck_assert_int_eq(enroll_deny_args_parse(ARGC(noid), noid, &a, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "give the ID"));
	ck_assert_int_eq(enroll_deny_args_parse(ARGC(unknown), unknown, &a, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "--why"));
	memset(longr, 'x', ENROLL_REASON_MAX + 1);
	longr[ENROLL_REASON_MAX + 1] = '\0';
	snprintf(opt, sizeof(opt), "--reason=%s", longr);
	ck_assert_int_eq(enroll_deny_args_parse(ARGC(toolong), toolong, &a, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "at most"));
}
END_TEST

START_TEST(test_names_and_groups)
{
	char long65[66];

	ck_assert(enroll_name_valid("host-1.lan_x"));
	ck_assert(!enroll_name_valid("ca"));
	ck_assert(!enroll_name_valid(""));
	ck_assert(!enroll_name_valid("a b"));
	ck_assert(!enroll_name_valid("../x"));
	memset(long65, 'a', 65);
	long65[65] = '\0';
	ck_assert(!enroll_name_valid(long65));
	long65[64] = '\0';
	ck_assert(enroll_name_valid(long65));
	ck_assert(enroll_group_valid("servers-2"));
	ck_assert(!enroll_group_valid("Servers"));
	ck_assert(!enroll_group_valid(""));
	ck_assert(!enroll_group_valid("abcdefghijklmnopqrstuvwxyz0123456"));
}
END_TEST

START_TEST(test_ips_same)
{
	const char *a[] = { "10.9.0.7", "fd00::7" };
	const char *b[] = { "fd00:0:0::7/128", "10.9.0.7/32" };
	const char *c[] = { "10.9.0.8", "fd00::7" };

	ck_assert(enroll_ips_same(a, 2, b, 2));
	ck_assert(!enroll_ips_same(a, 2, c, 2));
	ck_assert(!enroll_ips_same(a, 1, b, 2));
	ck_assert(enroll_ips_same(c, 1, c, 1));
}
END_TEST

START_TEST(test_join_json)
{
	Wiresync__V1__PendingJoin j;
	json_t *o;
	char key[45];

	join_init(&j);
	o = enroll_join_json(&j, 1180);
	wg_key_to_base64(key32, key);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "id")), 42);
	ck_assert_str_eq(json_string_value(json_object_get(o, "name")), "laptop");
	ck_assert_str_eq(json_string_value(json_object_get(o, "public_key")), key);
	ck_assert_str_eq(json_string_value(json_object_get(o, "code")), "ABCD-EFGH");
	ck_assert_str_eq(json_string_value(json_object_get(o, "source")), "192.0.2.7");
	ck_assert_str_eq(json_string_value(json_object_get(o, "age")), "3m");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "age_s")), 180);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "created")), 1000);
	ck_assert_str_eq(json_string_value(json_object_get(o, "state")), "waiting");
	ck_assert_str_eq(json_string_value(json_object_get(o, "network")), "neta");
	ck_assert_uint_eq(json_array_size(json_object_get(o, "reserved_ips")), 2);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(o, "reserved_ips"), 1)),
	    "fd00::7/128");
	json_decref(o);
}
END_TEST

START_TEST(test_join_row)
{
	Wiresync__V1__PendingJoin j;
	char cells[ENROLL_COLS][128], key[45];

	join_init(&j);
	j.public_key.len = 5;          /* a bad key is shown as such, not read past */
	j.code = (char *)"";
	enroll_join_row(&j, 1000 + 2 * 3600 + 59, cells);
	ck_assert_str_eq(cells[0], "42");
	ck_assert_str_eq(cells[1], "laptop");
	ck_assert_str_eq(cells[2], "(5 bytes)");
	ck_assert_str_eq(cells[3], "-");
	ck_assert_str_eq(cells[4], "192.0.2.7");
	ck_assert_str_eq(cells[5], "2h");
	ck_assert_str_eq(cells[6], "waiting");
	j.public_key.len = 32;
	enroll_join_row(&j, 1000, cells);
	wg_key_to_base64(key32, key);
	ck_assert_str_eq(cells[2], key);
	ck_assert_str_eq(cells[5], "0s");
}
END_TEST

START_TEST(test_ca_argv)
{
	static const char *want[] = { "/usr/sbin/wiresync-ca", "-d", "/root/ca", "agent", "laptop",
	    "--csr", "/tmp/w/csr.1", "--key", "KEY=", "--ip", "10.9.0.7", "--ip", "fd00::7",
	    "--group", "laptops", NULL };
	const char *groups[] = { "laptops" };
	struct enroll_ca_job job = { .command = "/usr/sbin/wiresync-ca", .dir = "/root/ca",
	    .name = "laptop", .csr_path = "/tmp/w/csr.1", .key_b64 = "KEY=", .groups = groups,
	    .n_groups = 1 };
	Wiresync__V1__PendingJoin j;
	const char *argv[ENROLL_CA_ARGV_MAX];
	int n;

	join_init(&j);
	ck_assert_int_eq(enroll_job_ips_set(&job, &j), 0);
	n = enroll_ca_argv_build(&job, argv, ENROLL_CA_ARGV_MAX);
	ck_assert_int_eq(n, (int)(sizeof(want) / sizeof(want[0])) - 1);
	for (int i = 0; i < n; i++)
		ck_assert_str_eq(argv[i], want[i]);
	ck_assert_ptr_null(argv[n]);
	ck_assert_int_eq(enroll_ca_argv_build(&job, argv, 12), -1);
}
END_TEST

START_TEST(test_job_ips_refused)
{
	struct enroll_ca_job job = { 0 };
	Wiresync__V1__PendingJoin j;
	char *bad[] = { (char *)"10.9.0.7", (char *)"not-an-ip" };

	join_init(&j);
	j.n_reserved_ips = 0;
	ck_assert_int_eq(enroll_job_ips_set(&job, &j), -1);
	j.reserved_ips = bad;
	j.n_reserved_ips = 2;
	ck_assert_int_eq(enroll_job_ips_set(&job, &j), -1);
	ck_assert_uint_eq(job.n_ips, 0);
	j.n_reserved_ips = ENROLL_MAX_IPS + 1;
	ck_assert_int_eq(enroll_job_ips_set(&job, &j), -1);
}
END_TEST

START_TEST(test_sha256_hex)
{
	char out[65];

	enroll_sha256_hex((const uint8_t *)"abc", 3, out);
	ck_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ck_assert_uint_eq(strlen(out), 64);
}
END_TEST

/* approve --renewals: no ID, no --ip or --group (each renewal keeps its own). */
START_TEST(test_renewals_args)
{
	char *ok[] = { (char *)"approve", (char *)"--renewals" };
	char *with_id[] = { (char *)"approve", (char *)"--renewals", (char *)"7" };
	char *with_group[] = { (char *)"approve", (char *)"--renewals", (char *)"--group",
	    (char *)"web" };
	struct enroll_approve_args a;
	char err[256];

	ck_assert_int_eq(enroll_approve_args_parse(ARGC(ok), ok, &a, err, sizeof(err)), 0);
	ck_assert(a.renewals);
	ck_assert_uint_eq(a.id, 0);
	ck_assert_int_eq(enroll_approve_args_parse(ARGC(with_id), with_id, &a, err, sizeof(err)),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "--renewals takes no ID"));
	ck_assert_int_eq(enroll_approve_args_parse(ARGC(with_group), with_group, &a, err,
	    sizeof(err)), -1);
}
END_TEST

START_TEST(test_renewal_row_json)
{
	Wiresync__V1__PendingJoin j;
	char cells[ENROLL_COLS][128];
	json_t *o;

	join_init(&j);
	j.renewal = true;
	j.unchanged = true;
	enroll_join_row(&j, 1000, cells);
	ck_assert_str_eq(cells[6], "renewal");
	j.unchanged = false;
	enroll_join_row(&j, 1000, cells);
	ck_assert_str_eq(cells[6], "renewal (changed)");
	j.state = (char *)"approved";
	enroll_join_row(&j, 1000, cells);
	ck_assert_str_eq(cells[6], "approved (renewal)");
	o = enroll_join_json(&j, 1000);
	ck_assert(json_is_true(json_object_get(o, "renewal")));
	ck_assert(json_is_false(json_object_get(o, "unchanged")));
	json_decref(o);
	j.renewal = false;
	o = enroll_join_json(&j, 1000);
	ck_assert(json_is_false(json_object_get(o, "renewal")));
	ck_assert_ptr_null(json_object_get(o, "unchanged"));
	json_decref(o);
}
END_TEST

START_TEST(test_renewal_argv)
{
	struct enroll_ca_job job = { .command = "wiresync-ca", .dir = "/ca", .name = "nas",
	    .csr_path = "/tmp/c", .key_b64 = "KEY=", .not_after = "20261203120000Z",
	    .force = true };
	const char *argv[ENROLL_CA_ARGV_MAX];
	Wiresync__V1__PendingJoin j;
	int n;

	join_init(&j);
	ck_assert_int_eq(enroll_job_ips_set(&job, &j), 0);
	n = enroll_ca_argv_build(&job, argv, ENROLL_CA_ARGV_MAX);
	ck_assert_int_eq(n, 16);
	ck_assert_str_eq(argv[13], "--not-after");
	ck_assert_str_eq(argv[14], "20261203120000Z");
	ck_assert_str_eq(argv[15], "--force");
	ck_assert_ptr_null(argv[16]);
	ck_assert_int_eq(enroll_ca_argv_build(&job, argv, 15), -1);
}
END_TEST

/* A renewal is signed with the current certificate's groups and its lifetime from now. */
START_TEST(test_renewal_from)
{
	struct testcert_ca *ca = testcert_ca_new("neta");
	struct testcert_spec spec = { .cn = "laptop", .org = "neta",
	    .key_b64 = "AQIDAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", .groups = { "web", "db" },
	    .ips = { "10.9.0.7", "fd00::7" }, .not_before_offset = -10, .not_after_offset = 80 };
	X509 *x = testcert_issue(ca, &spec, NULL);
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	struct enroll_renewal r;
	Wiresync__V1__PendingJoin j;
	char err[256];

	ck_assert_int_gt(n, 0);
	join_init(&j);
	ck_assert_int_eq(enroll_renewal_from(&j, 1800000000, &r, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a renewal"));
	j.renewal = true;
	j.current_certificate.data = der;
	j.current_certificate.len = (size_t)n;
	ck_assert_msg(enroll_renewal_from(&j, 1800000000, &r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(r.n_groups, 2);
	ck_assert_str_eq(r.group_ptrs[0], "web");
	ck_assert_str_eq(r.group_ptrs[1], "db");
	/* 90 s of lifetime, from 2027-01-15T08:00:00Z */
	ck_assert_str_eq(r.not_after, "20270115080130Z");
	ck_assert_str_ne(r.serial, "");
	j.current_certificate.len = 10;
	ck_assert_int_eq(enroll_renewal_from(&j, 1800000000, &r, err, sizeof(err)), -1);
	OPENSSL_free(der);
	X509_free(x);
	testcert_ca_del(ca);
}
END_TEST

Suite *
enroll_args_suite(void)
{
	Suite *s = suite_create("enroll_args");
	TCase *core = tcase_create("core"), *errors = tcase_create("errors");
	TCase *limits = tcase_create("limits");

	tcase_add_test(core, test_age_units);
	tcase_add_test(core, test_id_parse);
	tcase_add_test(core, test_ref_parse);
	tcase_add_test(core, test_approve_args);
	tcase_add_test(core, test_approve_id_only);
	tcase_add_test(core, test_deny_args);
	tcase_add_test(core, test_names_and_groups);
	tcase_add_test(core, test_ips_same);
	tcase_add_test(core, test_join_json);
	tcase_add_test(core, test_join_row);
	tcase_add_test(core, test_ca_argv);
	tcase_add_test(core, test_sha256_hex);
	tcase_add_test(core, test_renewals_args);
	tcase_add_test(core, test_renewal_row_json);
	tcase_add_test(core, test_renewal_argv);
	tcase_add_test(core, test_renewal_from);
	tcase_add_test(errors, test_approve_refusals);
	tcase_add_test(errors, test_job_ips_refused);
	tcase_add_test(limits, test_approve_too_many_ips);
	suite_add_tcase(s, core);
	suite_add_tcase(s, errors);
	suite_add_tcase(s, limits);
	return s;
}
