/* Tests for common/policy_cms.c: a policy signed by the CA's key is taken; one signed by
 * another CA, by a certificate the CA issued, altered, unsigned or without a version is
 * refused with a reason. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>

#include "common/policy_cms.h"
#include "test/certtest.h"
#include "test/check_suites.h"
#include "test/testcert.h"

static const char POLICY[] = "version 3\nservers <-> servers\nhost:phone <-> host:nas\n";

/* CMS SignedData of text by cert/key, DER in *der (free it). */
static size_t
sign(X509 *cert, EVP_PKEY *key, const char *text, uint8_t **der)
{
	BIO *in = BIO_new_mem_buf(text, (int)strlen(text));
	CMS_ContentInfo *cms;
	int n;

	ck_assert_ptr_nonnull(in);
	cms = CMS_sign(cert, key, NULL, in, CMS_BINARY);
	ck_assert_ptr_nonnull(cms);
	*der = NULL;
	n = i2d_CMS_ContentInfo(cms, der);
	ck_assert_int_gt(n, 0);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return (size_t)n;
}

static int
verify(const uint8_t *der, size_t len, struct policy *p, char *err, size_t errlen)
{
	return policy_cms_verify(der, len, testcert_ca_cert(ct_ca), "policy.cms", p, err, errlen);
}

START_TEST(test_signed_by_ca)
{
	struct policy p;
	uint8_t *der;
	size_t n = sign(testcert_ca_cert(ct_ca), testcert_ca_key(ct_ca), POLICY, &der);
	char err[512] = "";

	ck_assert_msg(verify(der, n, &p, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(p.version, 3);
	ck_assert_uint_eq(p.n, 2);
	ck_assert_str_eq(p.rules[1].right.name, "nas");
	policy_free(&p);
	OPENSSL_free(der);
}
END_TEST

START_TEST(test_other_ca)
{
	struct testcert_ca *other = testcert_ca_new("mesh");
	struct policy p;
	uint8_t *der;
	size_t n;
	char err[512] = "";

	ck_assert_ptr_nonnull(other);
	n = sign(testcert_ca_cert(other), testcert_ca_key(other), POLICY, &der);
	ck_assert_int_eq(verify(der, n, &p, err, sizeof(err)), POLICY_CMS_NOT_SIGNER);
	ck_assert_msg(strstr(err, "policy.cms: not signed by this CA's key") != NULL, "%s", err);
	ck_assert_uint_eq(p.n, 0);
	OPENSSL_free(der);
	testcert_ca_del(other);
}
END_TEST

START_TEST(test_issued_certificate_cannot_sign)
{
	struct testcert_spec spec = ct_agent_spec();
	EVP_PKEY *key = NULL;
	X509 *agent = testcert_issue(ct_ca, &spec, &key);
	struct policy p;
	uint8_t *der;
	size_t n;
	char err[512] = "";

	ck_assert_ptr_nonnull(agent);
	n = sign(agent, key, POLICY, &der);
	ck_assert_int_eq(verify(der, n, &p, err, sizeof(err)), POLICY_CMS_NOT_SIGNER);
	ck_assert_msg(strstr(err, "not signed by this CA's key") != NULL, "%s", err);
	OPENSSL_free(der);
	X509_free(agent);
	EVP_PKEY_free(key);
}
END_TEST

START_TEST(test_altered)
{
	struct policy p;
	uint8_t *der;
	size_t n = sign(testcert_ca_cert(ct_ca), testcert_ca_key(ct_ca), POLICY, &der);
	uint8_t *hit = memmem(der, n, "servers", 7);
	char err[512] = "";

	ck_assert_ptr_nonnull(hit);
	memcpy(hit, "laptops", 7);
	ck_assert_int_eq(verify(der, n, &p, err, sizeof(err)), POLICY_CMS_NOT_SIGNER);
	ck_assert_msg(strstr(err, "not signed by this CA's key") != NULL, "%s", err);
	OPENSSL_free(der);
}
END_TEST

START_TEST(test_not_cms)
{
	struct policy p;
	char err[512] = "";

	ck_assert_int_eq(verify((const uint8_t *)POLICY, strlen(POLICY), &p, err, sizeof(err)),
	    -1);
	ck_assert_msg(strstr(err, "not a CMS SignedData in DER") != NULL &&
	    strstr(err, "wiresync-ca policy") != NULL, "%s", err);
	ck_assert_int_eq(verify(NULL, 0, &p, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_signed_but_bad)
{
	struct policy p;
	uint8_t *der;
	size_t n = sign(testcert_ca_cert(ct_ca), testcert_ca_key(ct_ca), "a <-> b\n", &der);
	char err[512] = "";

	ck_assert_int_eq(verify(der, n, &p, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "no version line") != NULL, "%s", err);
	OPENSSL_free(der);
	n = sign(testcert_ca_cert(ct_ca), testcert_ca_key(ct_ca), "version 2\nA <-> b\n", &der);
	ck_assert_int_eq(verify(der, n, &p, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "policy.cms:2:1: bad group name") != NULL, "%s", err);
	OPENSSL_free(der);
}
END_TEST

START_TEST(test_pairs_certs)
{
	struct policy p;
	struct cert_identity a = { .name = "nas", .n_groups = 1, .groups = { "storage" } };
	struct cert_identity b = { .name = "l1", .n_groups = 2, .groups = { "ops", "laptops" } };
	struct cert_identity c = { .name = "phone" };
	char err[256];
	const char *text = "laptops <-> storage\nhost:phone <-> host:nas\n";

	ck_assert_int_eq(policy_parse(text, strlen(text), "p", &p, err, sizeof(err)), 0);
	ck_assert_int_eq(policy_pairs_certs(&p, &a, &b), 0);
	ck_assert_int_eq(policy_pairs_certs(&p, &b, &a), 0);
	ck_assert_int_eq(policy_pairs_certs(&p, &c, &a), 1);
	ck_assert_int_eq(policy_pairs_certs(&p, &c, &b), -1);
	policy_free(&p);
}
END_TEST

Suite *
policy_cms_suite(void)
{
	Suite *s = suite_create("policy_cms");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, ct_setup, ct_teardown);
	tcase_add_test(tc, test_signed_by_ca);
	tcase_add_test(tc, test_other_ca);
	tcase_add_test(tc, test_issued_certificate_cannot_sign);
	tcase_add_test(tc, test_altered);
	tcase_add_test(tc, test_not_cms);
	tcase_add_test(tc, test_signed_but_bad);
	tcase_add_test(tc, test_pairs_certs);
	suite_add_tcase(s, tc);
	return s;
}
