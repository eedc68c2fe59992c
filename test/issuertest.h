/* Test helper for the issuer suites (check_issuer.c, check_verify_chain.c): a root that
 * may sign one CA (pathlen 1), an online issuer under it (pathlen 0, nameConstraints), and
 * their files, built in memory. */
#ifndef WS_ISSUERTEST_H
#define WS_ISSUERTEST_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#define ISSUERTEST_TEMPLATE "/tmp/check_issuer.XXXXXX"

struct issuertest {
	char dir[sizeof(ISSUERTEST_TEMPLATE)];
	char root_crt[64], issuer_crt[64], issuer_key[64];
	EVP_PKEY *root_key, *issuer_pkey;
	X509 *root, *issuer;
};

/* A CA certificate of key, subject CN cn and O org, signed by signer (NULL: self-signed)
 * with signer_key; bc is its basicConstraints ("critical,CA:TRUE,pathlen:0") and nc its
 * nameConstraints (NULL: none), openssl.cnf syntax. NULL on failure. */
X509 *it_ca(EVP_PKEY *key, const char *cn, const char *org, X509 *signer,
    EVP_PKEY *signer_key, const char *bc, const char *nc, long days);

/* Fills t: root "neta" (pathlen 1), issuer "neta" permitted 10.9.0.0/16 and fd00:9::/64
 * for 30 days, both written into a fresh temporary directory. Asserts on failure. */
void it_setup(struct issuertest *t);
void it_teardown(struct issuertest *t);

/* A trust store holding t's root (X509_STORE_free). */
X509_STORE *it_roots(const struct issuertest *t);

#endif
