/* Test helper: a throwaway CA and wiresync certificates built in memory (OpenSSL 3 API). */
#ifndef WS_TESTCERT_H
#define WS_TESTCERT_H

#include <stdbool.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* What to put in a leaf certificate. A zeroed spec plus a cn, org, key and one IP is a
 * good agent certificate; the other fields break the profile on purpose. */
struct testcert_spec {
	const char *cn, *org;          /* NULL: omitted */
	const char *key_b64;           /* NULL: no key URI */
	const char *key_b64_second;    /* non-NULL: a second key URI */
	bool admin;                    /* add urn:wiresync:role:admin */
	const char *groups[24];        /* urn:wiresync:group:NAME URIs, NULL-terminated; room
					 * for more than CERT_GROUPS_MAX */
	const char *ips[16];           /* SAN IP entries, NULL-terminated; room for more
					 * than CERT_TUNNEL_MAX, to test the limit */
	bool ca;                       /* basicConstraints CA:TRUE on the leaf */
	bool no_client_auth;           /* omit the clientAuth EKU (use serverAuth instead) */
	long not_before_offset, not_after_offset; /* seconds from now; 0,0 means -60 and +86400 */
};

/* CA key + self-signed P-256 cert (CN "wiresync test CA", O network, CA:TRUE pathlen 0). */
struct testcert_ca;

/* Returns a new CA the caller frees with testcert_ca_del, or NULL on failure. */
struct testcert_ca *testcert_ca_new(const char *network);
/* Loads a CA from PEM files (a wiresync-ca directory's ca.crt and ca.key), or NULL. */
struct testcert_ca *testcert_ca_load(const char *cert_path, const char *key_path);
/* A CA of an existing certificate and key (both up-ref'd): an intermediate, to issue
 * leaves under it. NULL on failure. */
struct testcert_ca *testcert_ca_from(X509 *cert, EVP_PKEY *key);
/* Accepts NULL. */
void testcert_ca_del(struct testcert_ca *ca);
/* The CA certificate, borrowed: valid until testcert_ca_del. */
X509 *testcert_ca_cert(const struct testcert_ca *ca);
/* The CA's private key, borrowed likewise (to sign a policy as wiresync-ca does). */
EVP_PKEY *testcert_ca_key(const struct testcert_ca *ca);

/* Issues a leaf signed by ca with a fresh P-256 key; subject and SAN strings are written
 * as given (no length limits), so tests can build certificates that break the profile.
 * Returns a new X509 the caller frees, or NULL when OpenSSL refuses (an IP that is not an
 * address, for one); *key_out (optional) gets the EVP_PKEY the caller frees. */
X509 *testcert_issue(struct testcert_ca *ca, const struct testcert_spec *spec,
    EVP_PKEY **key_out);

/* Write PEM files for integration use (the certificate 0644, the key 0600 even when the
 * file already existed). Return 0 or -errno (-EIO when OpenSSL fails to write). */
int testcert_write_pem(const char *path, X509 *x);
int testcert_write_key(const char *path, EVP_PKEY *k);

/* Adds to x an extension written in openssl.cnf syntax ("critical,CA:FALSE"), issuer
 * giving the key identifiers; false when OpenSSL refuses. Only for fixed strings. */
bool testcert_add_conf(X509 *x, X509 *issuer, int nid, const char *value);

/* A fresh X25519 public key in standard base64 (44 chars + NUL into out). */
void testcert_random_key_b64(char out[45]);

#endif
