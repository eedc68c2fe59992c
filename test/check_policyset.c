/* Tests for server/policyset.c: policy.cms files matched to the CA that signed them, one per
 * CA, pairing per network, and a new set never going back to an older version. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/x509_vfy.h>

#include "server/policyset.h"
#include "test/check_suites.h"
#include "test/testcert.h"

static struct testcert_ca *ca_a, *ca_b, *ca_c;
static X509_STORE *store;
static char dir[64];
static char err[512];

static void
setup(void)
{
	ca_a = testcert_ca_new("alpha");
	ca_b = testcert_ca_new("beta");
	ca_c = testcert_ca_new("gamma");      /* not in the store */
	store = X509_STORE_new();
	ck_assert(ca_a && ca_b && ca_c && store);
	ck_assert(X509_STORE_add_cert(store, testcert_ca_cert(ca_a)));
	ck_assert(X509_STORE_add_cert(store, testcert_ca_cert(ca_b)));
	snprintf(dir, sizeof(dir), "/tmp/ws-policyset-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[128];

	X509_STORE_free(store);
	testcert_ca_del(ca_a);
	testcert_ca_del(ca_b);
	testcert_ca_del(ca_c);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Writes text signed by ca as DIR/name; returns the path (static buffer per call site). */
static const char *
write_signed(const struct testcert_ca *ca, const char *name, const char *text, char *path,
    size_t len)
{
	BIO *in = BIO_new_mem_buf(text, (int)strlen(text)), *out;
	CMS_ContentInfo *cms;

	snprintf(path, len, "%s/%s", dir, name);
	cms = CMS_sign(testcert_ca_cert(ca), testcert_ca_key(ca), NULL, in, CMS_BINARY);
	ck_assert_ptr_nonnull(cms);
	out = BIO_new_file(path, "wb");
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(i2d_CMS_bio(out, cms), 1);
	BIO_free(out);
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	return path;
}

static struct cert_identity
host(const char *name, const char *group)
{
	struct cert_identity id = { .n_groups = group != NULL };

	snprintf(id.name, sizeof(id.name), "%s", name);
	if (group != NULL)
		snprintf(id.groups[0], sizeof(id.groups[0]), "%s", group);
	return id;
}

START_TEST(test_two_networks)
{
	char pa[128], pb[128], paths[300];
	struct policyset *s;
	struct policy_info info;
	struct cert_identity x = host("x", "servers"), y = host("y", "laptops");
	int rule = 9;

	write_signed(ca_a, "a.cms", "version 2\nservers <-> servers\n", pa, sizeof(pa));
	write_signed(ca_b, "b.cms", "version 5\n* <-> *\n", pb, sizeof(pb));
	snprintf(paths, sizeof(paths), " %s ,%s", pb, pa);
	s = policyset_read(paths, store, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_uint_eq(policyset_count(s), 2);
	ck_assert(policyset_get(s, "alpha", &info));
	ck_assert_uint_eq(info.version, 2);
	ck_assert_str_eq(info.path, pa);
	ck_assert_uint_eq(info.rules, 1);
	ck_assert(info.der_len > 0);
	ck_assert(!policyset_get(s, "gamma", &info));
	/* alpha: servers only; beta: everyone; a network without a policy: everyone */
	ck_assert(!policyset_pairs(s, "alpha", &x, &y, &rule));
	ck_assert_int_eq(rule, -1);
	ck_assert(policyset_pairs(s, "beta", &x, &y, &rule));
	ck_assert_int_eq(rule, 0);
	ck_assert(policyset_pairs(s, "gamma", &x, &y, &rule));
	ck_assert_int_eq(rule, -1);
	ck_assert(policyset_pairs(NULL, "alpha", &x, &y, NULL));
	policyset_del(s);
}
END_TEST

START_TEST(test_refused_files)
{
	char p[128], q[128];

	ck_assert_ptr_null(policyset_read("/nonexistent/policy.cms", store, err, sizeof(err)));
	ck_assert_msg(strstr(err, "policy /nonexistent/policy.cms: cannot open") != NULL, "%s",
	    err);
	write_signed(ca_c, "c.cms", "version 1\n* <-> *\n", p, sizeof(p));
	ck_assert_ptr_null(policyset_read(p, store, err, sizeof(err)));
	ck_assert_msg(strstr(err, "not signed by the key of any of the 2 CAs") != NULL, "%s", err);
	write_signed(ca_a, "bad.cms", "version 1\nServers <-> x\n", p, sizeof(p));
	ck_assert_ptr_null(policyset_read(p, store, err, sizeof(err)));
	ck_assert_msg(strstr(err, "bad.cms:2:1: bad group name") != NULL, "%s", err);
	write_signed(ca_a, "one.cms", "version 1\n* <-> *\n", p, sizeof(p));
	write_signed(ca_a, "two.cms", "version 2\n* <-> *\n", q, sizeof(q));
	char both[300];
	snprintf(both, sizeof(both), "%s,%s", p, q);
	ck_assert_ptr_null(policyset_read(both, store, err, sizeof(err)));
	ck_assert_msg(strstr(err, "both signed by the CA of network alpha") != NULL, "%s", err);
}
END_TEST

START_TEST(test_newer)
{
	char p1[128], p2[128], p3[128];
	struct policyset *v1, *v2, *v2b, *none;

	v1 = policyset_read(write_signed(ca_a, "1.cms", "version 1\n* <-> *\n", p1, sizeof(p1)),
	    store, err, sizeof(err));
	v2 = policyset_read(write_signed(ca_a, "2.cms", "version 2\na <-> b\n", p2, sizeof(p2)),
	    store, err, sizeof(err));
	v2b = policyset_read(write_signed(ca_a, "3.cms", "version 2\nc <-> d\n", p3, sizeof(p3)),
	    store, err, sizeof(err));
	none = policyset_read("", store, err, sizeof(err));
	ck_assert(v1 && v2 && v2b && none);
	ck_assert_uint_eq(policyset_count(none), 0);
	ck_assert(policyset_newer(v2, v1, err, sizeof(err)));
	ck_assert(policyset_newer(v1, NULL, err, sizeof(err)));
	ck_assert(policyset_newer(v2, v2, err, sizeof(err)));
	ck_assert(!policyset_newer(v1, v2, err, sizeof(err)));
	ck_assert_msg(strstr(err, "version 1 of network alpha is older than version 2") != NULL,
	    "%s", err);
	ck_assert(!policyset_newer(v2b, v2, err, sizeof(err)));
	ck_assert_msg(strstr(err, "differs from the one in force under the same version") != NULL,
	    "%s", err);
	ck_assert(policyset_changed(v1, v2, "alpha"));
	ck_assert(!policyset_changed(v2, v2, "alpha"));
	ck_assert(policyset_changed(none, v2, "alpha"));
	ck_assert(!policyset_changed(none, v2, "beta"));
	policyset_del(v1);
	policyset_del(v2);
	policyset_del(v2b);
	policyset_del(none);
	policyset_del(NULL);
}
END_TEST

Suite *
policyset_suite(void)
{
	Suite *s = suite_create("policyset");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_two_networks);
	tcase_add_test(tc, test_refused_files);
	tcase_add_test(tc, test_newer);
	suite_add_tcase(s, tc);
	return s;
}
