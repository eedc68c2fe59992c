/* agent/verify.c with records of hosts under an online issuer: the record's chain is taken
 * as untrusted intermediates, the root's CRL covers the issuer, a missing CRL of the issuer
 * refuses nothing. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "agent/verify.h"
#include "test/check_suites.h"
#include "test/issuertest.h"
#include "test/testcert.h"
#include "test/verifytest.h"

#define KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static struct issuertest t;
static struct peer_verifier *w;
static uint8_t key[WG_KEY_LEN];
static const char *const ips[] = { "10.9.1.5/32", NULL };
static unsigned char *chain_der;
static int chain_len;
static char err[300];

static void
setup(void)
{
	it_setup(&t);
	w = peer_verifier_new(t.root_crt, NULL, "neta", err, sizeof(err));
	ck_assert_msg(w != NULL, "%s", err);
	for (int i = 0; i < WG_KEY_LEN; i++)
		key[i] = (uint8_t)i;
	chain_der = NULL;
	chain_len = i2d_X509(t.issuer, &chain_der);
	ck_assert_int_gt(chain_len, 0);
}

static void
teardown(void)
{
	OPENSSL_free(chain_der);
	peer_verifier_del(w);
	it_teardown(&t);
}

/* A host certificate signed by signer (key sk) at ip; X509_free it. */
static X509 *
host(X509 *signer, EVP_PKEY *sk, const char *ip)
{
	struct testcert_spec spec = { .cn = "erin", .org = "neta", .key_b64 = KEY_B64,
		.ips = { ip } };
	struct testcert_ca *ca = testcert_ca_from(signer, sk);
	X509 *x = testcert_issue(ca, &spec, NULL);

	testcert_ca_del(ca);
	ck_assert_ptr_nonnull(x);
	return x;
}

/* peer_verify of x with the n chain entries c (DER, lens l). */
static bool
verify(X509 *x, size_t n, const uint8_t *const *c, const size_t *l, struct cert_identity *id)
{
	ProtobufCBinaryData entries[4];
	struct cert_identity tmp;
	struct rec r;
	bool ok;

	ck_assert_uint_le(n, 4);
	vt_rec_init(&r, x, key, ips);
	for (size_t i = 0; i < n; i++) {
		entries[i].data = (uint8_t *)c[i];
		entries[i].len = l[i];
	}
	r.p.n_chain = n;
	r.p.chain = entries;
	ok = peer_verify(w, &r.p, id != NULL ? id : &tmp, err, sizeof(err));
	vt_rec_free(&r);
	return ok;
}

static bool
verify_chain(X509 *x, struct cert_identity *id)
{
	const uint8_t *c[] = { chain_der };
	size_t l[] = { (size_t)chain_len };

	return verify(x, 1, c, l, id);
}

/* A CRL of the root revoking revoked (NULL: none), put in force in w. */
static void
root_crl(X509 *revoked)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *tm = ASN1_TIME_new();

	ck_assert_int_eq(X509_CRL_set_version(crl, 1), 1);
	ck_assert_int_eq(X509_CRL_set_issuer_name(crl, X509_get_subject_name(t.root)), 1);
	X509_gmtime_adj(tm, -60);
	ck_assert_int_eq(X509_CRL_set1_lastUpdate(crl, tm), 1);
	X509_gmtime_adj(tm, 86400);
	ck_assert_int_eq(X509_CRL_set1_nextUpdate(crl, tm), 1);
	if (revoked != NULL) {
		X509_REVOKED *r = X509_REVOKED_new();
		X509_gmtime_adj(tm, -60);
		ck_assert_int_eq(X509_REVOKED_set_serialNumber(r,
		    (ASN1_INTEGER *)X509_get0_serialNumber(revoked)), 1);
		ck_assert_int_eq(X509_REVOKED_set_revocationDate(r, tm), 1);
		ck_assert_int_eq(X509_CRL_add0_revoked(crl, r), 1);
	}
	ck_assert_int_eq(X509_CRL_sort(crl), 1);
	ck_assert_int_gt(X509_CRL_sign(crl, t.root_key, EVP_sha256()), 0);
	ck_assert_int_eq(peer_verifier_set_crl(w, crl), 0);
	X509_CRL_free(crl);
	ASN1_TIME_free(tm);
}

START_TEST(chain_accepted)
{
	X509 *x = host(t.issuer, t.issuer_pkey, "10.9.1.5");
	struct cert_identity id;

	ck_assert_msg(verify_chain(x, &id), "%s", err);
	ck_assert_str_eq(id.name, "erin");
	ck_assert_mem_eq(id.key, key, WG_KEY_LEN);
	X509_free(x);
}
END_TEST

START_TEST(no_chain_refused)
{
	X509 *x = host(t.issuer, t.issuer_pkey, "10.9.1.5");

	ck_assert(!verify(x, 0, NULL, NULL, NULL));
	ck_assert_str_eq(err, "certificate does not verify: unable to get local issuer "
	    "certificate");
	X509_free(x);
}
END_TEST

/* The root's CRL is in force; the issuer has none, which refuses nothing by itself. */
START_TEST(root_crl_no_issuer_crl)
{
	X509 *x = host(t.issuer, t.issuer_pkey, "10.9.1.5");

	root_crl(NULL);
	ck_assert_msg(verify_chain(x, NULL), "%s", err);
	X509_free(x);
}
END_TEST

/* Revoking the issuer on the root's CRL cuts off what it signed. */
START_TEST(issuer_revoked)
{
	X509 *x = host(t.issuer, t.issuer_pkey, "10.9.1.5");

	ck_assert(verify_chain(x, NULL));
	root_crl(t.issuer);
	ck_assert(!verify_chain(x, NULL));
	ck_assert_str_eq(err, "certificate does not verify: certificate revoked");
	X509_free(x);
}
END_TEST

/* A host the root signed still needs the root's CRL and is refused when it lists it. */
START_TEST(root_leaf_rules_unchanged)
{
	X509 *x = host(t.root, t.root_key, "10.9.1.5");

	ck_assert_msg(verify(x, 0, NULL, NULL, NULL), "%s", err);
	root_crl(x);
	ck_assert(!verify(x, 0, NULL, NULL, NULL));
	ck_assert_str_eq(err, "certificate does not verify: certificate revoked");
	X509_free(x);
}
END_TEST

START_TEST(outside_constraints)
{
	X509 *x = host(t.issuer, t.issuer_pkey, "10.10.1.5");
	static const char *const far[] = { "10.10.1.5/32", NULL };
	ProtobufCBinaryData e = { (size_t)chain_len, chain_der };
	struct cert_identity id;
	struct rec r;

	vt_rec_init(&r, x, key, far);
	r.p.n_chain = 1;
	r.p.chain = &e;
	ck_assert(!peer_verify(w, &r.p, &id, err, sizeof(err)));
	ck_assert_str_eq(err, "certificate does not verify: permitted subtree violation");
	vt_rec_free(&r);
	X509_free(x);
}
END_TEST

START_TEST(bad_chain_entries)
{
	X509 *x = host(t.issuer, t.issuer_pkey, "10.9.1.5");
	const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	const uint8_t *c[] = { chain_der, chain_der, chain_der };
	size_t l[] = { (size_t)chain_len, (size_t)chain_len, (size_t)chain_len };
	const uint8_t *cj[] = { junk };
	size_t lj[] = { sizeof(junk) };
	size_t lshort[] = { (size_t)chain_len - 1 };

	ck_assert(!verify(x, 1, cj, lj, NULL));
	ck_assert_str_eq(err, "chain certificate 1 does not decode");
	ck_assert(!verify(x, 1, c, lshort, NULL));
	ck_assert_str_eq(err, "chain certificate 1 does not decode");
	ck_assert(!verify(x, 3, c, l, NULL));
	ck_assert_str_eq(err, "record's chain has 3 certificates, more than 2");
	/* the issuer twice is harmless */
	ck_assert_msg(verify(x, 2, c, l, NULL), "%s", err);
	X509_free(x);
}
END_TEST

/* An intermediate of the root that names another network cannot vouch for ours. */
START_TEST(issuer_of_other_network)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *mid = it_ca(k, "other", "netb", t.root, t.root_key, "critical,CA:TRUE,pathlen:0",
	    "critical,permitted;IP:10.9.0.0/255.255.0.0", 30);
	X509 *x = host(mid, k, "10.9.1.5");
	unsigned char *der = NULL;
	int len = i2d_X509(mid, &der);
	const uint8_t *c[] = { der };
	size_t l[] = { (size_t)len };

	ck_assert(!verify(x, 1, c, l, NULL));
	ck_assert_str_eq(err, "certificate of \"erin\": a CA of its chain is not of network "
	    "\"neta\"");
	OPENSSL_free(der);
	X509_free(x);
	X509_free(mid);
	EVP_PKEY_free(k);
}
END_TEST

/* An intermediate the root did not sign is no way in, chain or not. */
START_TEST(foreign_intermediate)
{
	EVP_PKEY *rk = EVP_EC_gen("P-256"), *k = EVP_EC_gen("P-256");
	X509 *other = it_ca(rk, "wiresync CA", "neta", NULL, NULL, "critical,CA:TRUE,pathlen:1",
	    NULL, 30);
	X509 *mid = it_ca(k, "i", "neta", other, rk, "critical,CA:TRUE,pathlen:0",
	    "critical,permitted;IP:10.9.0.0/255.255.0.0", 30);
	X509 *x = host(mid, k, "10.9.1.5");
	unsigned char *der = NULL;
	int len = i2d_X509(mid, &der);
	const uint8_t *c[] = { der };
	size_t l[] = { (size_t)len };

	ck_assert(!verify(x, 1, c, l, NULL));
	ck_assert_ptr_nonnull(strstr(err, "certificate does not verify"));
	OPENSSL_free(der);
	X509_free(x);
	X509_free(mid);
	X509_free(other);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(k);
}
END_TEST

Suite *
verify_chain_suite(void)
{
	Suite *s = suite_create("verify_chain");
	TCase *tc = tcase_create("verify_chain");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, chain_accepted);
	tcase_add_test(tc, no_chain_refused);
	tcase_add_test(tc, root_crl_no_issuer_crl);
	tcase_add_test(tc, issuer_revoked);
	tcase_add_test(tc, root_leaf_rules_unchanged);
	tcase_add_test(tc, outside_constraints);
	tcase_add_test(tc, bad_chain_entries);
	tcase_add_test(tc, issuer_of_other_network);
	tcase_add_test(tc, foreign_intermediate);
	suite_add_tcase(s, tc);
	return s;
}
