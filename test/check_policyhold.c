/* Tests for agent/policyhold.c: the agent takes only a newer policy signed by its CA, keeps
 * it across restarts, and pairs by it. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/cms.h>

#include "agent/policyhold.h"
#include "test/check_suites.h"
#include "test/testcert.h"

static struct testcert_ca *ca, *other;
static char dir[64];
static char err[512];

static void
setup(void)
{
	ca = testcert_ca_new("mesh");
	other = testcert_ca_new("mesh");
	ck_assert(ca && other);
	snprintf(dir, sizeof(dir), "/tmp/ws-policyhold-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[128];

	testcert_ca_del(ca);
	testcert_ca_del(other);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* DER of text signed by c; *len its size; OPENSSL_free it. */
static uint8_t *
signed_by(const struct testcert_ca *c, const char *text, size_t *len)
{
	BIO *in = BIO_new_mem_buf(text, (int)strlen(text));
	CMS_ContentInfo *cms = CMS_sign(testcert_ca_cert(c), testcert_ca_key(c), NULL, in,
	    CMS_BINARY);
	uint8_t *der = NULL;
	int n;

	ck_assert_ptr_nonnull(cms);
	n = i2d_CMS_ContentInfo(cms, &der);
	ck_assert_int_gt(n, 0);
	*len = (size_t)n;
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return der;
}

static struct cert_identity
host(const char *name, const char *group)
{
	struct cert_identity id = { .n_groups = 1 };

	snprintf(id.name, sizeof(id.name), "%s", name);
	snprintf(id.groups[0], sizeof(id.groups[0]), "%s", group);
	return id;
}

START_TEST(test_newest_wins_and_stays)
{
	struct policyhold ph;
	struct cert_identity s1 = host("s1", "servers"), l1 = host("l1", "laptops");
	uint8_t *v1, *v2, *v1b, *forged;
	size_t n1, n2, n1b, nf;
	char rule[128];
	static const uint8_t zero[32];

	v1 = signed_by(ca, "version 1\nservers <-> servers\n", &n1);
	v2 = signed_by(ca, "version 2\nlaptops <-> servers\n", &n2);
	v1b = signed_by(ca, "version 1\n* <-> *\n", &n1b);
	forged = signed_by(other, "version 9\n* <-> *\n", &nf);

	ck_assert_int_eq(policyhold_init(&ph, testcert_ca_cert(ca), dir, err, sizeof(err)), 0);
	ck_assert(!ph.have);
	ck_assert_mem_eq(policyhold_sha256(&ph), zero, 32);
	ck_assert(policyhold_pairs(&ph, &s1, &l1, rule, sizeof(rule)));   /* no policy */
	ck_assert_str_eq(rule, "no policy");

	ck_assert_int_eq(policyhold_offer(&ph, v1, n1, err, sizeof(err)), POLICYHOLD_TAKEN);
	ck_assert_str_eq(err, "");
	ck_assert(!policyhold_pairs(&ph, &s1, &l1, rule, sizeof(rule)));
	ck_assert_str_eq(rule, "no rule of policy version 1");
	ck_assert_int_eq(policyhold_offer(&ph, v1, n1, err, sizeof(err)), POLICYHOLD_SAME);
	ck_assert_int_eq(policyhold_offer(&ph, forged, nf, err, sizeof(err)), POLICYHOLD_REFUSED);
	ck_assert_msg(strstr(err, "not signed by this CA's key") != NULL, "%s", err);
	ck_assert_int_eq(policyhold_offer(&ph, v1b, n1b, err, sizeof(err)), POLICYHOLD_REFUSED);
	ck_assert_msg(strstr(err, "other content under the same version") != NULL, "%s", err);
	ck_assert_int_eq(policyhold_offer(&ph, v2, n2, err, sizeof(err)), POLICYHOLD_TAKEN);
	ck_assert(policyhold_pairs(&ph, &s1, &l1, rule, sizeof(rule)));
	ck_assert_str_eq(rule, "laptops <-> servers (line 2)");
	ck_assert_int_eq(policyhold_offer(&ph, v1, n1, err, sizeof(err)), POLICYHOLD_REFUSED);
	ck_assert_msg(strstr(err, "version 1; keeping version 2, which is newer") != NULL, "%s",
	    err);
	policyhold_free(&ph);

	/* a restart holds version 2 and still refuses version 1 */
	ck_assert_int_eq(policyhold_init(&ph, testcert_ca_cert(ca), dir, err, sizeof(err)), 0);
	ck_assert(ph.have);
	ck_assert_uint_eq(ph.pol.version, 2);
	ck_assert_int_eq(policyhold_offer(&ph, v1, n1, err, sizeof(err)), POLICYHOLD_REFUSED);
	policyhold_free(&ph);

	OPENSSL_free(v1);
	OPENSSL_free(v2);
	OPENSSL_free(v1b);
	OPENSSL_free(forged);
}
END_TEST

START_TEST(test_saved_file_of_other_ca)
{
	struct policyhold ph;
	uint8_t *forged;
	size_t nf;
	char path[128];
	FILE *f;

	forged = signed_by(other, "version 9\n* <-> *\n", &nf);
	snprintf(path, sizeof(path), "%s/policy.cms", dir);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(forged, 1, nf, f), nf);
	fclose(f);
	ck_assert_int_eq(policyhold_init(&ph, testcert_ca_cert(ca), dir, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "policy.cms: not signed by this CA's key") != NULL, "%s", err);
	ck_assert(!ph.have);
	policyhold_free(&ph);
	OPENSSL_free(forged);
}
END_TEST

Suite *
policyhold_suite(void)
{
	Suite *s = suite_create("policyhold");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_newest_wins_and_stays);
	tcase_add_test(tc, test_saved_file_of_other_ca);
	suite_add_tcase(s, tc);
	return s;
}
