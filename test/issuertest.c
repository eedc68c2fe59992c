/* Test helper for the issuer suites; see issuertest.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <check.h>
#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "test/issuertest.h"
#include "test/testcert.h"

X509 *
it_ca(EVP_PKEY *key, const char *cn, const char *org, X509 *signer, EVP_PKEY *signer_key,
    const char *bc, const char *nc, long days)
{
	X509 *x = X509_new();
	X509_NAME *n;
	BIGNUM *bn = BN_new();
	bool ok;

	ok = x != NULL && bn != NULL && X509_set_version(x, X509_VERSION_3) == 1 &&
	    BN_rand(bn, 120, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL &&
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(x), days * 86400) != NULL &&
	    X509_set_pubkey(x, key) == 1;
	n = X509_get_subject_name(x);
	ok = ok && X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) == 1 &&
	    X509_NAME_add_entry_by_NID(n, NID_organizationName, MBSTRING_UTF8,
	    (const unsigned char *)org, -1, -1, 0) == 1;
	if (signer == NULL) {
		signer = x;
		signer_key = key;
	}
	ok = ok && X509_set_issuer_name(x, X509_get_subject_name(signer)) == 1 &&
	    testcert_add_conf(x, signer, NID_basic_constraints, bc) &&
	    testcert_add_conf(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign") &&
	    testcert_add_conf(x, signer, NID_subject_key_identifier, "hash") &&
	    (signer == x || testcert_add_conf(x, signer, NID_authority_key_identifier,
	    "keyid:always")) &&
	    (nc == NULL || testcert_add_conf(x, signer, NID_name_constraints, nc)) &&
	    X509_sign(x, signer_key, EVP_sha256()) > 0;
	BN_free(bn);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

void
it_setup(struct issuertest *t)
{
	snprintf(t->dir, sizeof(t->dir), "%s", ISSUERTEST_TEMPLATE);
	ck_assert_ptr_nonnull(mkdtemp(t->dir));
	snprintf(t->root_crt, sizeof(t->root_crt), "%s/ca.crt", t->dir);
	snprintf(t->issuer_crt, sizeof(t->issuer_crt), "%s/online.crt", t->dir);
	snprintf(t->issuer_key, sizeof(t->issuer_key), "%s/online.key", t->dir);
	t->root_key = EVP_EC_gen("P-256");
	t->issuer_pkey = EVP_EC_gen("P-256");
	ck_assert_ptr_nonnull(t->root_key);
	ck_assert_ptr_nonnull(t->issuer_pkey);
	t->root = it_ca(t->root_key, "wiresync CA", "neta", NULL, NULL,
	    "critical,CA:TRUE,pathlen:1", NULL, 3650);
	ck_assert_ptr_nonnull(t->root);
	t->issuer = it_ca(t->issuer_pkey, "wiresync issuer online", "neta", t->root,
	    t->root_key, "critical,CA:TRUE,pathlen:0",
	    "critical,permitted;IP:10.9.0.0/255.255.0.0,permitted;IP:fd00:9::/ffff:ffff:ffff:ffff::",
	    30);
	ck_assert_ptr_nonnull(t->issuer);
	ck_assert_int_eq(testcert_write_pem(t->root_crt, t->root), 0);
	ck_assert_int_eq(testcert_write_pem(t->issuer_crt, t->issuer), 0);
	ck_assert_int_eq(testcert_write_key(t->issuer_key, t->issuer_pkey), 0);
}

void
it_teardown(struct issuertest *t)
{
	unlink(t->root_crt);
	unlink(t->issuer_crt);
	unlink(t->issuer_key);
	rmdir(t->dir);
	X509_free(t->root);
	X509_free(t->issuer);
	EVP_PKEY_free(t->root_key);
	EVP_PKEY_free(t->issuer_pkey);
}

X509_STORE *
it_roots(const struct issuertest *t)
{
	X509_STORE *s = X509_STORE_new();

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(X509_STORE_add_cert(s, t->root), 1);
	return s;
}
