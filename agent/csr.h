/* The pure parts of joining (wiresync-agent join, issue 13): the host's TLS key and CSR, the
 * code the operator compares, the CA pin and the checks of an approved certificate. No I/O:
 * everything here works on bytes and OpenSSL objects in memory. */
#ifndef WS_CSR_H
#define WS_CSR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/cert.h"

#define CSR_CODE_LEN 9           /* "ABCD-EFGH" */
#define CSR_SHA256_LEN 32
#define CSR_SHA256_HEX_LEN 64
#define CSR_DER_MAX 4096         /* a P-256 CSR is about 250 bytes */

/* The join code of a CSR: the first 40 bits of SHA-256(der) in RFC 4648 base32 (A-Z, 2-7),
 * as "ABCD-EFGH", into out (NUL-terminated). The server computes the same one. */
void csr_code_from_der(const uint8_t *der, size_t len, char out[CSR_CODE_LEN + 1]);

/* A new ECDSA P-256 key (EVP_PKEY_free), or NULL. */
EVP_PKEY *csr_key_new(void);

/* Builds a DER PKCS#10 request with subject CN=name, signed with key (SHA-256). Returns 0
 * and *der (malloc'd, caller frees), *len, or -1 with err set. */
int csr_build(EVP_PKEY *key, const char *name, uint8_t **der, size_t *len, char *err,
    size_t errlen);

/* Whether der is a request this host would send: it parses, its signature verifies, its key
 * is key and its CN is name. false with err saying which does not hold. */
bool csr_matches(const uint8_t *der, size_t len, EVP_PKEY *key, const char *name, char *err,
    size_t errlen);

/* Parses 64 hex digits (either case, ':' between bytes allowed, as openssl -fingerprint
 * prints) into pin. */
bool csr_pin_parse(const char *hex, uint8_t pin[CSR_SHA256_LEN]);
/* SHA-256 of x's DER; false when x does not encode. */
bool csr_cert_sha256(X509 *x, uint8_t out[CSR_SHA256_LEN]);
/* Lowercase hex of a digest into out[65]; returns out. */
char *csr_hex(const uint8_t d[CSR_SHA256_LEN], char out[CSR_SHA256_HEX_LEN + 1]);

/* The pin of a TLS connection, the argument of csr_pin_verify. */
struct csr_pin {
	uint8_t want[CSR_SHA256_LEN];
	bool mismatch;                      /* set: no certificate the server sent matched */
	char seen[CSR_SHA256_HEX_LEN + 1];  /* the hash of the top certificate it sent */
};

/* An SSL_CTX_set_cert_verify_callback callback (arg: struct csr_pin): accepts the server's
 * chain only when one certificate of it has SHA-256(DER) == want and the leaf chains to
 * that certificate as the only trust anchor (host name and purpose checked as ever).
 * Nothing else is trusted. Returns 1 or 0 (the handshake fails before anything is sent). */
int csr_pin_verify(X509_STORE_CTX *sctx, void *arg);

/* The reply of an approved join, checked before anything is written: ca has SHA-256 ==
 * pin, cert chains to ca (through chain, n_chain DER intermediates) for clientAuth, its key
 * is key, it follows the wiresync agent profile with CN name and binds wgkey. Returns 0
 * and *id, *cert_out and *ca_out (X509_free), or -1 with err set. */
int csr_reply_check(const uint8_t *cert, size_t cert_len, const uint8_t *ca, size_t ca_len,
    const uint8_t *const *chain, const size_t *chain_len, size_t n_chain,
    const uint8_t pin[CSR_SHA256_LEN], EVP_PKEY *key, const char *name,
    const uint8_t wgkey[WG_KEY_LEN], struct cert_identity *id, X509 **cert_out,
    X509 **ca_out, STACK_OF(X509) **chain_out, char *err, size_t errlen);

#endif
