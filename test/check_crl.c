/* Tests for server/crl.c: every CRL of the file, one per CA, matched by signature; what
 * each says about itself; which networks a change concerns; stale ones. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "server/crl.h"
#include "test/check_suites.h"
#include "test/testcert.h"

#define TMP_TEMPLATE "/tmp/check_crl.XXXXXX"

/* A CA whose key we hold: its certificate and the leaves and CRLs it signs. */
struct tca {
	EVP_PKEY *key;
	X509 *cert;
	long crl_number;
};

static struct tca ca_a, ca_b, ca_x;   /* networks a and b; x calls itself "a" too */
static X509_STORE *trust;             /* ca_a and ca_b */
static X509 *leaf_a, *leaf_b;
static char path[sizeof(TMP_TEMPLATE)];

static X509 *
cert_new(EVP_PKEY *key, const char *cn, const char *org, long serial)
{
	X509 *x = X509_new();
	X509_NAME *name;

	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(X509_set_version(x, X509_VERSION_3), 1);
	ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	ck_assert_int_eq(X509_set_pubkey(x, key), 1);
	name = X509_get_subject_name(x);
	ck_assert_int_eq(X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0), 1);
	ck_assert_int_eq(X509_NAME_add_entry_by_NID(name, NID_organizationName, MBSTRING_UTF8,
	    (const unsigned char *)org, -1, -1, 0), 1);
	return x;
}

static void
tca_new(struct tca *c, const char *cn, const char *org)
{
	c->key = EVP_EC_gen("P-256");
	ck_assert_ptr_nonnull(c->key);
	c->cert = cert_new(c->key, cn, org, 4242);
	ck_assert_int_eq(X509_set_issuer_name(c->cert, X509_get_subject_name(c->cert)), 1);
	ck_assert(testcert_add_conf(c->cert, c->cert, NID_basic_constraints,
	    "critical,CA:TRUE,pathlen:0"));
	ck_assert(testcert_add_conf(c->cert, c->cert, NID_key_usage, "critical,keyCertSign,cRLSign"));
	ck_assert_int_gt(X509_sign(c->cert, c->key, EVP_sha256()), 0);
	c->crl_number = 1;
}

static void
tca_del(struct tca *c)
{
	X509_free(c->cert);
	EVP_PKEY_free(c->key);
	memset(c, 0, sizeof(*c));
}

static X509 *
leaf_new(struct tca *c, const char *cn, long serial)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x;
	char org[64];

	ck_assert_ptr_nonnull(k);
	ck_assert_int_gt(X509_NAME_get_text_by_NID(X509_get_subject_name(c->cert),
	    NID_organizationName, org, sizeof(org)), 0);
	x = cert_new(k, cn, org, serial);
	ck_assert_int_eq(X509_set_issuer_name(x, X509_get_subject_name(c->cert)), 1);
	ck_assert(testcert_add_conf(x, c->cert, NID_basic_constraints, "critical,CA:FALSE"));
	ck_assert_int_gt(X509_sign(x, c->key, EVP_sha256()), 0);
	EVP_PKEY_free(k);
	return x;
}

/* A CRL of c, lastUpdate and nextUpdate (0: none) seconds from now, revoking revoked. */
static X509_CRL *
crl_new(struct tca *c, long last, long next, X509 *revoked)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();
	ASN1_INTEGER *num = ASN1_INTEGER_new();

	ck_assert_ptr_nonnull(crl);
	ck_assert_int_eq(X509_CRL_set_version(crl, 1), 1);
	ck_assert_int_eq(X509_CRL_set_issuer_name(crl, X509_get_subject_name(c->cert)), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(t, last));
	ck_assert_int_eq(X509_CRL_set1_lastUpdate(crl, t), 1);
	if (next != 0) {
		ck_assert_ptr_nonnull(X509_gmtime_adj(t, next));
		ck_assert_int_eq(X509_CRL_set1_nextUpdate(crl, t), 1);
	}
	if (revoked != NULL) {
		X509_REVOKED *r = X509_REVOKED_new();
		ck_assert_ptr_nonnull(X509_gmtime_adj(t, last));
		ck_assert_int_eq(X509_REVOKED_set_serialNumber(r,
		    (ASN1_INTEGER *)X509_get0_serialNumber(revoked)), 1);
		ck_assert_int_eq(X509_REVOKED_set_revocationDate(r, t), 1);
		ck_assert_int_eq(X509_CRL_add0_revoked(crl, r), 1);
	}
	ck_assert_int_eq(ASN1_INTEGER_set(num, c->crl_number++), 1);
	ck_assert_int_eq(X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0), 1);
	ck_assert_int_eq(X509_CRL_sort(crl), 1);
	ck_assert_int_gt(X509_CRL_sign(crl, c->key, EVP_sha256()), 0);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(t);
	return crl;
}

/* Writes the NULL-terminated CRLs (freed) as PEM, one after the other, to path. */
static void
write_crls(X509_CRL *first, ...)
{
	va_list ap;
	FILE *f = fopen(path, "w");
	X509_CRL *crl;

	ck_assert_ptr_nonnull(f);
	va_start(ap, first);
	for (crl = first; crl != NULL; crl = va_arg(ap, X509_CRL *)) {
		ck_assert_int_eq(PEM_write_X509_CRL(f, crl), 1);
		X509_CRL_free(crl);
	}
	va_end(ap);
	ck_assert_int_eq(fclose(f), 0);
}

static struct crlset *
read_ok(void)
{
	char err[512] = "";
	struct crlset *s = crlset_read(path, trust, 7, err, sizeof(err));

	ck_assert_msg(s != NULL, "crlset_read: %s", err);
	return s;
}

static void
read_fails(const char *want)
{
	char err[512] = "", full[600];
	struct crlset *s = crlset_read(path, trust, 7, err, sizeof(err));

	crlset_del(s);
	ck_assert_ptr_null(s);
	snprintf(full, sizeof(full), "%s: %s", path, want);
	ck_assert_str_eq(err, full);
}

static void
setup(void)
{
	int fd;

	tca_new(&ca_a, "ca a", "a");
	tca_new(&ca_b, "ca b", "b");
	tca_new(&ca_x, "ca a", "a");
	trust = X509_STORE_new();
	ck_assert_ptr_nonnull(trust);
	ck_assert_int_eq(X509_STORE_add_cert(trust, ca_a.cert), 1);
	ck_assert_int_eq(X509_STORE_add_cert(trust, ca_b.cert), 1);
	leaf_a = leaf_new(&ca_a, "host-a", 11);
	leaf_b = leaf_new(&ca_b, "host-b", 11);   /* the same serial, another CA */
	memcpy(path, TMP_TEMPLATE, sizeof(TMP_TEMPLATE));
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
}

static void
teardown(void)
{
	unlink(path);
	X509_free(leaf_a);
	X509_free(leaf_b);
	X509_STORE_free(trust);
	tca_del(&ca_a);
	tca_del(&ca_b);
	tca_del(&ca_x);
}

/* --- core ------------------------------------------------------------------------------ */

START_TEST(test_two_cas_one_file)
{
	struct crlset *s;
	struct crl_info info;
	int64_t now = (int64_t)time(NULL), th, nx;

	write_crls(crl_new(&ca_b, -60, 3600, NULL), crl_new(&ca_a, -120, 7200, leaf_a), NULL);
	s = read_ok();
	ck_assert_uint_eq(crlset_count(s), 2);
	ck_assert_int_eq(sk_X509_CRL_num(crlset_stack(s)), 2);
	crlset_info(s, 1, &info);
	ck_assert_str_eq(info.network, "a");
	ck_assert_str_eq(info.issuer, "/CN=ca a/O=a");
	ck_assert_int_eq(info.revoked, 1);
	ck_assert_int_le(llabs(info.next_update - (now + 7200)), 5);
	/* each CRL revokes only its own CA's serials: leaf_b has leaf_a's serial */
	ck_assert(crlset_revokes(s, leaf_a));
	ck_assert(!crlset_revokes(s, leaf_b));
	ck_assert_int_le(llabs(crlset_next_update_of(s, leaf_b) - (now + 3600)), 5);
	ck_assert(crlset_network_times(s, "a", &th, &nx));
	ck_assert_int_le(llabs(th - (now - 120)), 5);
	ck_assert(!crlset_network_times(s, "c", &th, &nx));
	ck_assert_int_le(llabs(crlset_next_stale(s, now) - (now + 3600)), 5);
	crlset_del(s);
}
END_TEST

START_TEST(test_changed_per_network)
{
	struct crlset *s1, *s2, *s3;
	X509_CRL *a1 = crl_new(&ca_a, -60, 3600, NULL), *b1 = crl_new(&ca_b, -60, 3600, NULL);

	X509_CRL_up_ref(a1);
	X509_CRL_up_ref(b1);
	write_crls(a1, b1, NULL);
	s1 = read_ok();
	write_crls(b1, a1, NULL);            /* the same CRLs, another order */
	s2 = read_ok();
	ck_assert(crlset_equal(s1, s2));
	ck_assert(!crlset_changed(s1, s2, "a"));
	write_crls(crl_new(&ca_a, -30, 3600, leaf_a), crl_new(&ca_b, -60, 3600, NULL), NULL);
	s3 = read_ok();
	/* b's new CRL differs in its number only: still a change for b */
	ck_assert(!crlset_equal(s1, s3));
	ck_assert(crlset_changed(s1, s3, "a"));
	ck_assert(crlset_changed(s1, s3, "b"));
	ck_assert(!crlset_changed(s1, s3, "c"));
	ck_assert(crlset_changed(NULL, s1, "a"));
	ck_assert(!crlset_changed(NULL, s1, "c"));
	ck_assert(!crlset_equal(NULL, s1));
	crlset_del(s1);
	crlset_del(s2);
	crlset_del(s3);
}
END_TEST

/* --- limits: stale CRLs ---------------------------------------------------------------- */

START_TEST(test_stale_logged_and_not_next)
{
	struct crlset *s;
	int64_t now = (int64_t)time(NULL);

	write_crls(crl_new(&ca_a, -7200, -3600, leaf_a), crl_new(&ca_b, -60, 10 * 86400, NULL),
	    NULL);
	s = read_ok();
	/* a stale CRL is still in force */
	ck_assert(crlset_revokes(s, leaf_a));
	/* only b's is ahead */
	ck_assert_int_le(llabs(crlset_next_stale(s, now) - (now + 10 * 86400)), 5);
	ck_assert_uint_eq(crlset_log_stale(s, now, 0, path, false), 1);
	/* b's was made a minute ago: renewed in time, not warned about even 30 days ahead */
	ck_assert_uint_eq(crlset_log_stale(s, now, 30, path, true), 1);
	crlset_del(s);
}
END_TEST

/* Past half its lifetime and within warn_days: warned about; within warn_days only, not. */
START_TEST(test_soon_warned_past_half_life)
{
	struct crlset *s;
	int64_t now = (int64_t)time(NULL);

	write_crls(crl_new(&ca_a, -9 * 86400, 86400, NULL), crl_new(&ca_b, -60, 20 * 86400, NULL),
	    NULL);
	s = read_ok();
	ck_assert_uint_eq(crlset_log_stale(s, now, 0, path, false), 0);
	ck_assert_uint_eq(crlset_log_stale(s, now, 2, path, false), 1);
	ck_assert_uint_eq(crlset_log_stale(s, now, 30, path, false), 1);
	crlset_del(s);
	write_crls(crl_new(&ca_a, -60, 86400, NULL), crl_new(&ca_b, -15 * 86400, 5 * 86400, NULL),
	    NULL);
	s = read_ok();
	ck_assert_uint_eq(crlset_log_stale(s, now, 30, path, false), 1);   /* b only */
	crlset_del(s);
}
END_TEST

START_TEST(test_no_next_update_never_stale)
{
	struct crlset *s;
	int64_t now = (int64_t)time(NULL), th, nx;

	write_crls(crl_new(&ca_a, -60, 0, NULL), crl_new(&ca_b, -60, 0, NULL), NULL);
	s = read_ok();
	ck_assert_int_eq(crlset_next_stale(s, now), 0);
	ck_assert_uint_eq(crlset_log_stale(s, now, 30, path, false), 0);
	ck_assert(crlset_network_times(s, "b", &th, &nx));
	ck_assert_int_eq(nx, 0);
	crlset_del(s);
}
END_TEST

/* --- errors ---------------------------------------------------------------------------- */

START_TEST(test_err_ca_without_crl)
{
	write_crls(crl_new(&ca_a, -60, 3600, NULL), NULL);
	read_fails("no CRL of CA /CN=ca b/O=b: with CRL checking on, every CA needs its own; make "
	    "it where that CA lives (wiresync-ca -d DIR crl) and append its ca.crl to this file");
}
END_TEST

START_TEST(test_err_crl_of_untrusted_ca)
{
	/* ca_x bears ca_a's name: only the signature tells them apart */
	write_crls(crl_new(&ca_a, -60, 3600, NULL), crl_new(&ca_b, -60, 3600, NULL),
	    crl_new(&ca_x, -60, 3600, NULL), NULL);
	read_fails("CRL 3 (issuer /CN=ca a/O=a) is not signed by any CA of the 'ca' file: drop it, "
	    "or add its CA");
}
END_TEST

START_TEST(test_err_two_crls_of_one_ca)
{
	write_crls(crl_new(&ca_a, -60, 3600, NULL), crl_new(&ca_b, -60, 3600, NULL),
	    crl_new(&ca_a, -30, 3600, NULL), NULL);
	read_fails("two CRLs of CA /CN=ca a/O=a (CRL 3 is the second): keep only the newest");
}
END_TEST

START_TEST(test_err_damaged_second_crl)
{
	FILE *f;

	write_crls(crl_new(&ca_a, -60, 3600, NULL), NULL);
	f = fopen(path, "a");
	ck_assert_ptr_nonnull(f);
	fputs("-----BEGIN X509 CRL-----\nbm90IGEgQ1JM\n-----END X509 CRL-----\n", f);
	fclose(f);
	{
		char err[512] = "";
		struct crlset *s = crlset_read(path, trust, 7, err, sizeof(err));
		ck_assert_ptr_null(s);
		ck_assert_msg(strstr(err, ": CRL 2 does not parse: ") != NULL, "%s", err);
	}
}
END_TEST

START_TEST(test_err_no_crl)
{
	FILE *f = fopen(path, "w");
	char err[512] = "";

	ck_assert_ptr_nonnull(f);
	fputs("not a CRL\n", f);
	fclose(f);
	ck_assert_ptr_null(crlset_read(path, trust, 7, err, sizeof(err)));
	ck_assert_msg(strstr(err, ": not a PEM CRL: ") != NULL, "%s", err);
	ck_assert_ptr_null(crlset_read("/nonexistent/wiresync/crl", trust, 7, err, sizeof(err)));
	ck_assert_str_eq(err, "/nonexistent/wiresync/crl: No such file or directory");
}
END_TEST

Suite *
crl_suite(void)
{
	Suite *s = suite_create("crl");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_two_cas_one_file);
	tcase_add_test(tc, test_changed_per_network);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_stale_logged_and_not_next);
	tcase_add_test(tc, test_soon_warned_past_half_life);
	tcase_add_test(tc, test_no_next_update_never_stale);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_err_ca_without_crl);
	tcase_add_test(tc, test_err_crl_of_untrusted_ca);
	tcase_add_test(tc, test_err_two_crls_of_one_ca);
	tcase_add_test(tc, test_err_damaged_second_crl);
	tcase_add_test(tc, test_err_no_crl);
	suite_add_tcase(s, tc);
	return s;
}
