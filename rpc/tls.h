/* TLS contexts for mutual authentication over HTTP/2. The only place that builds an SSL_CTX. */
#ifndef WS_TLS_H
#define WS_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

struct tls_files {
	const char *certificate;  /* PEM chain, leaf first */
	const char *private_key;  /* PEM; must not be readable by group or others */
	const char *ca;           /* PEM CA that peers' certificates must chain to */
	const char *crl;          /* optional PEM CRLs of those CAs, one per CA */
};

/* Server context: TLS 1.2+, AEAD ciphers only, ALPN "h2" required, client certificate
 * required and verified against ca (and crl), released buffers, one session ticket, a
 * session id context. Returns a new SSL_CTX (SSL_CTX_free) or NULL with err naming the
 * file at fault. */
SSL_CTX *tls_server_ctx_new(const struct tls_files *f, char *err, size_t errlen);

/* Server context for a join listener: as the server's, but asks for no client
 * certificate, issues no session tickets, and sends the CA certificate(s) of ca after the
 * chain (a joining host pins the CA by its digest). Returns a new SSL_CTX or NULL with err
 * naming the file at fault. */
SSL_CTX *tls_enroll_ctx_new(const struct tls_files *f, char *err, size_t errlen);

/* Client context: the same protocol limits, offers ALPN "h2", presents certificate and
 * verifies the server against ca. */
SSL_CTX *tls_client_ctx_new(const struct tls_files *f, char *err, size_t errlen);

/* Client context with no certificate of ours and no CA file: verify alone judges the
 * server's chain (SSL_CTX_set_cert_verify_callback; arg borrowed, must outlive the
 * context). For a join, where the CA is known only by its hash. NULL with err set. */
SSL_CTX *tls_client_ctx_new_verify(int (*verify)(X509_STORE_CTX *, void *), void *arg,
    char *err, size_t errlen);

#define TLS_CRL_MAX 64           /* CRLs in one file: one per CA */

/* Reads every PEM CRL of path, in file order (several CAs, one CRL each). Returns them
 * (sk_X509_CRL_pop_free(s, X509_CRL_free)) or NULL with err naming the file; a file with
 * no CRL, or with one that does not parse, is an error. */
STACK_OF(X509_CRL) *tls_crls_read(const char *path, char *err, size_t errlen);

/* Replaces the CRLs that later handshakes are checked against (borrowed). 0 or -errno
 * with err set. */
int tls_ctx_set_crls(SSL_CTX *ctx, STACK_OF(X509_CRL) *crls, char *err, size_t errlen);

/* Makes store accept a CRL past its nextUpdate (or before its lastUpdate) as the list of
 * revoked serials it still is; every other check stays. Every store with CRLs that this
 * module builds has it. */
void tls_store_allow_stale_crl(X509_STORE *store);

/* Checks the CRLs of store for every certificate of a chain (X509_V_FLAG_CRL_CHECK_ALL):
 * a host's and, under an online issuer, the issuer's against the root's CRL. A host under
 * an intermediate is not refused for its issuer's missing CRL; the stale-CRL rule of
 * tls_store_allow_stale_crl holds. Every store with CRLs this module builds has it; the
 * agent's too. */
void tls_store_check_crls(X509_STORE *store);

/* After a handshake: true when ALPN chose "h2". */
int tls_alpn_is_h2(const SSL *ssl);

/* The names a certificate answers to, for an error about a name mismatch: its DNS and IP
 * subjectAltNames ("sync.example.org, 10.0.0.1"), else its subject CN, else "none"; cut
 * to fit buf (ending in "..."). Returns buf. */
const char *tls_cert_names(X509 *cert, char *buf, size_t len);

/* Why a handshake failed when the peer's chain did not verify (SSL_get_verify_result):
 * OpenSSL's strings already start with words like "certificate", so they follow a colon
 * rather than a noun. Returns buf. */
const char *tls_verify_failure(long verify_result, char *buf, size_t len);

/* Describes the newest OpenSSL error (or "unknown") into buf; returns buf. */
const char *tls_error_string(char *buf, size_t len);

#endif
