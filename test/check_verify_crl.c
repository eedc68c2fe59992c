/* Tests for the CRL handling of agent/verify.c: CRLs read from the configured file or
 * offered by a server revoke what they list, stale or not, newer replace older per CA and
 * never the other way round. Record verification itself is in check_verify.c. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "test/check_suites.h"
#include "test/verifytest.h"

/* --- a CA whose key we hold, to sign CRLs ---------------------------------------------- */

/* testcert.h keeps its CA key private, so CRL tests use a CA built here and re-sign
 * testcert leaves with it. */
struct crlca {
	EVP_PKEY *key;
	X509 *cert;
	char path[sizeof(TMP_TEMPLATE)];
};

static void
crlca_new_named(struct crlca *c, const char *cn)
{
	X509_NAME *name;

	c->key = EVP_EC_gen("P-256");
	ck_assert_ptr_nonnull(c->key);
	c->cert = X509_new();
	ck_assert_ptr_nonnull(c->cert);
	ck_assert_int_eq(X509_set_version(c->cert, X509_VERSION_3), 1);
	ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(c->cert), 4242), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(c->cert), -3600));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(c->cert), 86400));
	ck_assert_int_eq(X509_set_pubkey(c->cert, c->key), 1);
	name = X509_get_subject_name(c->cert);
	ck_assert_int_eq(X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0), 1);
	ck_assert_int_eq(X509_NAME_add_entry_by_NID(name, NID_organizationName, MBSTRING_UTF8,
	    (const unsigned char *)NETWORK, -1, -1, 0), 1);
	ck_assert_int_eq(X509_set_issuer_name(c->cert, name), 1);
	ck_assert(testcert_add_conf(c->cert, c->cert, NID_basic_constraints,
	    "critical,CA:TRUE,pathlen:0"));
	ck_assert(testcert_add_conf(c->cert, c->cert, NID_key_usage, "critical,keyCertSign,cRLSign"));
	ck_assert(testcert_add_conf(c->cert, c->cert, NID_subject_key_identifier, "hash"));
	ck_assert_int_gt(X509_sign(c->cert, c->key, EVP_sha256()), 0);
	vt_write_temp_pem(c->cert, c->path);
}

static void
crlca_new(struct crlca *c)
{
	crlca_new_named(c, "wiresync CRL test CA");
}

static void
crlca_del(struct crlca *c)
{
	unlink(c->path);
	X509_free(c->cert);
	EVP_PKEY_free(c->key);
}

/* A leaf of spec from the testcert CA, re-issued by c. */
static X509 *
crlca_issue_spec(struct crlca *c, const struct testcert_spec *spec)
{
	X509 *x = vt_issue(spec);
	int i;

	ck_assert_int_eq(X509_set_issuer_name(x, X509_get_subject_name(c->cert)), 1);
	while ((i = X509_get_ext_by_NID(x, NID_authority_key_identifier, -1)) >= 0)
		X509_EXTENSION_free(X509_delete_ext(x, i));
	ck_assert(testcert_add_conf(x, c->cert, NID_authority_key_identifier, "keyid:always"));
	ck_assert_int_gt(X509_sign(x, c->key, EVP_sha256()), 0);
	return x;
}

/* A good leaf from the testcert CA, re-issued by c. */
static X509 *
crlca_issue(struct crlca *c)
{
	struct testcert_spec spec = vt_good_spec();

	return crlca_issue_spec(c, &spec);
}

/* A CRL of c issued last_update seconds from now, next due next_update seconds from now,
 * revoking revoked (NULL: none). */
static X509_CRL *
crl_make_at(struct crlca *c, long last_update, long next_update, X509 *revoked)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();

	ck_assert_ptr_nonnull(crl);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(X509_CRL_set_version(crl, 1), 1); /* v2 */
	ck_assert_int_eq(X509_CRL_set_issuer_name(crl, X509_get_subject_name(c->cert)), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(t, last_update));
	ck_assert_int_eq(X509_CRL_set1_lastUpdate(crl, t), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(t, next_update));
	ck_assert_int_eq(X509_CRL_set1_nextUpdate(crl, t), 1);
	if (revoked != NULL) {
		X509_REVOKED *r = X509_REVOKED_new();
		ck_assert_ptr_nonnull(r);
		ck_assert_ptr_nonnull(X509_gmtime_adj(t, last_update));
		ck_assert_int_eq(X509_REVOKED_set_serialNumber(r,
		    (ASN1_INTEGER *)X509_get0_serialNumber(revoked)), 1);
		ck_assert_int_eq(X509_REVOKED_set_revocationDate(r, t), 1);
		ck_assert_int_eq(X509_CRL_add0_revoked(crl, r), 1);
	}
	ck_assert_int_eq(X509_CRL_sort(crl), 1);
	ck_assert_int_gt(X509_CRL_sign(crl, c->key, EVP_sha256()), 0);
	ASN1_TIME_free(t);
	return crl;
}

/* ... due in a day. */
static X509_CRL *
crl_make(struct crlca *c, long last_update, X509 *revoked)
{
	return crl_make_at(c, last_update, 86400, revoked);
}

static struct peer_verifier *
crlca_verifier(struct crlca *c)
{
	struct peer_verifier *w;
	char err[256] = "";

	w = peer_verifier_new(c->path, NULL, NETWORK, err, sizeof(err));
	ck_assert_msg(w != NULL, "peer_verifier_new: %s", err);
	return w;
}

/* Installs crl on w (borrowed) and frees our reference. */
static void
set_crl(struct peer_verifier *w, X509_CRL *crl)
{
	ck_assert_int_eq(peer_verifier_set_crl(w, crl), 0);
	X509_CRL_free(crl);
}

/* DER of crl (freed), for offer_crl. */
static unsigned char *
crl_der(X509_CRL *crl, int *len)
{
	unsigned char *der = NULL;

	*len = i2d_X509_CRL(crl, &der);
	ck_assert_int_gt(*len, 0);
	X509_CRL_free(crl);
	return der;
}

static int
offer(struct peer_verifier *w, X509_CRL *crl, char *err, size_t errlen)
{
	int len, r;
	unsigned char *der = crl_der(crl, &len);

	r = peer_verifier_offer_crl(w, der, (size_t)len, err, errlen);
	OPENSSL_free(der);
	return r;
}

/* The fixture: verifytest's trusted CA and its verifier vt_v, and a CRL-signing CA cc with
 * its own verifier cv and two good leaves. */
static struct crlca cc;
static struct peer_verifier *cv;
static X509 *cleaf, *cother;

static void
setup(void)
{
	vt_setup();
	crlca_new(&cc);
	cv = crlca_verifier(&cc);
	cleaf = crlca_issue(&cc);
	cother = crlca_issue(&cc);
}

static void
teardown(void)
{
	X509_free(cother);
	X509_free(cleaf);
	cother = cleaf = NULL;
	peer_verifier_del(cv);
	cv = NULL;
	crlca_del(&cc);
	vt_teardown();
}

/* --- core ------------------------------------------------------------------------------ */

START_TEST(test_crl_not_listing_serial_accepted)
{
	set_crl(cv, crl_make(&cc, -60, cother));
	vt_expect(cv, cleaf, vt_key, vt_good_ips, NULL);
}
END_TEST

START_TEST(test_revoked_refused)
{
	vt_expect(cv, cleaf, vt_key, vt_good_ips, NULL); /* valid before the CRL */
	set_crl(cv, crl_make(&cc, -60, cleaf));
	vt_expect(cv, cleaf, vt_key, vt_good_ips, "certificate does not verify: certificate revoked");
}
END_TEST

START_TEST(test_new_reads_crl_file)
{
	char crl_path[sizeof(TMP_TEMPLATE)], err[256] = "";
	struct peer_verifier *w;
	X509_CRL *crl;
	FILE *f;
	int fd, written;
	bool ok;

	crl = crl_make(&cc, -60, cleaf);
	memcpy(crl_path, TMP_TEMPLATE, sizeof(TMP_TEMPLATE));
	fd = mkstemp(crl_path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	written = PEM_write_X509_CRL(f, crl);
	fclose(f);
	X509_CRL_free(crl);
	ck_assert_int_eq(written, 1);
	w = peer_verifier_new(cc.path, crl_path, NETWORK, err, sizeof(err));
	unlink(crl_path);
	ck_assert_msg(w != NULL, "peer_verifier_new: %s", err);
	ok = vt_verify_x(w, cleaf, vt_key, vt_good_ips, err, sizeof(err));
	peer_verifier_del(w);
	vt_assert_outcome(ok, err, "certificate does not verify: certificate revoked");
}
END_TEST

/* A CRL past its nextUpdate is still the CA's list of revoked serials: it revokes what it
 * lists and lets the rest through (issue 11: it used to refuse every peer). */
START_TEST(test_stale_crl_still_enforced)
{
	set_crl(cv, crl_make_at(&cc, -7200, -3600, cleaf));
	vt_expect(cv, cleaf, vt_key, vt_good_ips, "certificate does not verify: certificate revoked");
	vt_expect(cv, cother, vt_key, vt_good_ips, NULL);
}
END_TEST

/* Before its lastUpdate (a clock behind the CA's): the same. */
START_TEST(test_crl_not_yet_valid_still_enforced)
{
	set_crl(cv, crl_make_at(&cc, 3600, 7200, cleaf));
	vt_expect(cv, cleaf, vt_key, vt_good_ips, "certificate does not verify: certificate revoked");
	vt_expect(cv, cother, vt_key, vt_good_ips, NULL);
}
END_TEST

/* Only the CRL's time is waived: a certificate's own expiry still counts. */
START_TEST(test_stale_crl_keeps_certificate_expiry)
{
	struct testcert_spec spec = vt_good_spec();
	X509 *old;

	spec.not_before_offset = -7200;
	spec.not_after_offset = -3600;
	old = crlca_issue_spec(&cc, &spec);
	set_crl(cv, crl_make_at(&cc, -7200, -3600, NULL));
	vt_expect(cv, old, vt_key, vt_good_ips, "certificate does not verify: certificate has expired");
	X509_free(old);
}
END_TEST

/* The same, for a CRL read from the configured file. */
START_TEST(test_new_reads_stale_crl_file)
{
	char crl_path[sizeof(TMP_TEMPLATE)], err[256] = "";
	struct peer_verifier *w;
	X509_CRL *crl = crl_make_at(&cc, -7200, -3600, cleaf);
	FILE *f;
	int fd;

	memcpy(crl_path, TMP_TEMPLATE, sizeof(TMP_TEMPLATE));
	fd = mkstemp(crl_path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_X509_CRL(f, crl), 1);
	fclose(f);
	X509_CRL_free(crl);
	w = peer_verifier_new(cc.path, crl_path, NETWORK, err, sizeof(err));
	unlink(crl_path);
	ck_assert_msg(w != NULL, "peer_verifier_new: %s", err);
	ck_assert_int_lt(peer_verifier_crl_next_update(w, NULL), (int64_t)time(NULL));
	ck_assert_int_gt(peer_verifier_crl_next_update(w, NULL), (int64_t)time(NULL) - 3700);
	vt_expect(w, cleaf, vt_key, vt_good_ips, "certificate does not verify: certificate revoked");
	vt_expect(w, cother, vt_key, vt_good_ips, NULL);
	peer_verifier_del(w);
}
END_TEST

/* Two CAs in ca_file, each with its CRL: each CRL revokes its own CA's certificates, and
 * a CRL of one CA neither replaces nor is compared with the other's. */
START_TEST(test_two_cas_each_crl)
{
	struct crlca c2;
	char bundle[sizeof(TMP_TEMPLATE)], err[256] = "";
	struct peer_verifier *w;
	X509 *l2, *o2;
	FILE *f;
	int fd;

	crlca_new_named(&c2, "wiresync CRL test CA two");
	l2 = crlca_issue(&c2);
	o2 = crlca_issue(&c2);
	memcpy(bundle, TMP_TEMPLATE, sizeof(TMP_TEMPLATE));
	fd = mkstemp(bundle);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_X509(f, cc.cert), 1);
	ck_assert_int_eq(PEM_write_X509(f, c2.cert), 1);
	fclose(f);
	/* the verifier reads ca_file again for each new CRL: it stays until the end */
	w = peer_verifier_new(bundle, NULL, NETWORK, err, sizeof(err));
	ck_assert_msg(w != NULL, "peer_verifier_new: %s", err);
	/* the second CA's CRL is older than the first's, and still taken: another CA's */
	ck_assert_msg(offer(w, crl_make(&cc, -60, cleaf), err, sizeof(err)) == 1, "%s", err);
	ck_assert_msg(offer(w, crl_make(&c2, -600, l2), err, sizeof(err)) == 1, "%s", err);
	ck_assert_int_eq(peer_verifier_crl_count(w), 2);
	vt_expect(w, cleaf, vt_key, vt_good_ips, "certificate does not verify: certificate revoked");
	vt_expect(w, l2, vt_key, vt_good_ips, "certificate does not verify: certificate revoked");
	vt_expect(w, cother, vt_key, vt_good_ips, NULL);
	vt_expect(w, o2, vt_key, vt_good_ips, NULL);
	/* a newer CRL of the first CA replaces only the first's */
	ck_assert_int_eq(offer(w, crl_make(&cc, -30, NULL), err, sizeof(err)), 1);
	ck_assert_int_eq(peer_verifier_crl_count(w), 1);
	vt_expect(w, cleaf, vt_key, vt_good_ips, NULL);
	vt_expect(w, l2, vt_key, vt_good_ips, "certificate does not verify: certificate revoked");
	/* and an older one of the second CA is still ignored */
	ck_assert_int_eq(offer(w, crl_make(&c2, -900, NULL), err, sizeof(err)), 0);
	vt_expect(w, l2, vt_key, vt_good_ips, "certificate does not verify: certificate revoked");
	peer_verifier_del(w);
	unlink(bundle);
	X509_free(o2);
	X509_free(l2);
	crlca_del(&c2);
}
END_TEST

/* --- limits ---------------------------------------------------------------------------- */

START_TEST(test_newer_crl_revokes)
{
	/* the CA revokes a peer after the agent loaded its first CRL */
	set_crl(cv, crl_make(&cc, -120, NULL));
	vt_expect(cv, cleaf, vt_key, vt_good_ips, NULL);
	set_crl(cv, crl_make(&cc, -60, cleaf));
	vt_expect(cv, cleaf, vt_key, vt_good_ips, "certificate does not verify: certificate revoked");
}
END_TEST

START_TEST(test_newer_crl_replaces_older)
{
	set_crl(cv, crl_make(&cc, -120, cleaf));
	set_crl(cv, crl_make(&cc, -60, NULL));
	vt_expect(cv, cleaf, vt_key, vt_good_ips, NULL);
}
END_TEST
START_TEST(test_offered_crl_revokes)
{
	char err[160] = "";
	uint8_t d1[32], d2[32];

	ck_assert(!peer_verifier_crl_sha256(cv, d1));
	ck_assert_int_eq(offer(cv, crl_make(&cc, -60, cleaf), err, sizeof(err)), 1);
	ck_assert_int_eq(peer_verifier_crl_count(cv), 1);
	ck_assert(peer_verifier_crl_sha256(cv, d1));
	vt_expect(cv, cleaf, vt_key, vt_good_ips, "certificate does not verify: certificate revoked");
	/* a newer one replaces it, and the digest follows */
	ck_assert_int_eq(offer(cv, crl_make(&cc, -30, cother), err, sizeof(err)), 1);
	ck_assert(peer_verifier_crl_sha256(cv, d2));
	ck_assert(memcmp(d1, d2, sizeof(d1)) != 0);
	vt_expect(cv, cleaf, vt_key, vt_good_ips, NULL);
}
END_TEST

START_TEST(test_offered_older_crl_ignored)
{
	char err[160] = "";

	/* a server cannot roll revocations back with an older CRL of the same CA */
	ck_assert_int_eq(offer(cv, crl_make(&cc, -60, cleaf), err, sizeof(err)), 1);
	ck_assert_int_eq(offer(cv, crl_make(&cc, -120, NULL), err, sizeof(err)), 0);
	ck_assert_int_eq(offer(cv, crl_make(&cc, -60, NULL), err, sizeof(err)), 0);
	vt_expect(cv, cleaf, vt_key, vt_good_ips, "certificate does not verify: certificate revoked");
}
END_TEST

START_TEST(test_offered_crl_of_other_ca_refused)
{
	struct crlca other;
	char err[160] = "";

	/* same subject name, another key: the signature must be ours */
	crlca_new(&other);
	ck_assert_int_eq(offer(cv, crl_make(&other, -60, cleaf), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "not signed by our CA");
	ck_assert_int_eq(peer_verifier_crl_count(cv), 0);
	vt_expect(cv, cleaf, vt_key, vt_good_ips, NULL);
	crlca_del(&other);
}
END_TEST

START_TEST(test_offered_garbage_refused)
{
	static const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	char err[160] = "";
	int len;
	unsigned char *der = crl_der(crl_make(&cc, -60, cleaf), &len);

	ck_assert_int_eq(peer_verifier_offer_crl(cv, junk, sizeof(junk), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "not a DER CRL");
	/* a valid CRL with a trailing byte is not what the CA signed */
	ck_assert_int_eq(peer_verifier_offer_crl(cv, der, (size_t)len - 1, err, sizeof(err)), -1);
	OPENSSL_free(der);
	ck_assert_int_eq(peer_verifier_crl_count(cv), 0);
}
END_TEST

/* --- errors ---------------------------------------------------------------------------- */

START_TEST(test_err_missing_crl_file)
{
	char err[256] = "";

	ck_assert_ptr_null(peer_verifier_new(vt_ca_path, "/nonexistent/wiresync/ca.crl", NETWORK,
	    err, sizeof(err)));
	ck_assert_str_eq(err, "/nonexistent/wiresync/ca.crl: No such file or directory");
}
END_TEST

Suite *
verify_crl_suite(void)
{
	Suite *s = suite_create("verify_crl");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_crl_not_listing_serial_accepted);
	tcase_add_test(tc, test_revoked_refused);
	tcase_add_test(tc, test_new_reads_crl_file);
	tcase_add_test(tc, test_stale_crl_still_enforced);
	tcase_add_test(tc, test_crl_not_yet_valid_still_enforced);
	tcase_add_test(tc, test_stale_crl_keeps_certificate_expiry);
	tcase_add_test(tc, test_new_reads_stale_crl_file);
	tcase_add_test(tc, test_two_cas_each_crl);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_newer_crl_revokes);
	tcase_add_test(tc, test_newer_crl_replaces_older);
	tcase_add_test(tc, test_offered_crl_revokes);
	tcase_add_test(tc, test_offered_older_crl_ignored);
	tcase_add_test(tc, test_offered_crl_of_other_ca_refused);
	tcase_add_test(tc, test_offered_garbage_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_err_missing_crl_file);
	suite_add_tcase(s, tc);
	return s;
}
