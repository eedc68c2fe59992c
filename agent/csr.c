/* Joining's pure parts: key, CSR, code, pin, the approved certificate's checks. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "agent/csr.h"
#include "rpc/tls.h"

void
csr_code_from_der(const uint8_t *der, size_t len, char out[CSR_CODE_LEN + 1])
{
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	uint8_t d[SHA256_DIGEST_LENGTH];
	uint64_t v = 0;
	int i, o = 0;

	SHA256(der, len, d);
	for (i = 0; i < 5; i++)
		v = v << 8 | d[i];
	/* 40 bits are exactly eight base32 digits, most significant first */
	for (i = 7; i >= 0; i--) {
		out[o++] = b32[(v >> (5 * i)) & 31];
		if (i == 4)
			out[o++] = '-';
	}
	out[o] = '\0';
}

EVP_PKEY *
csr_key_new(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

int
csr_build(EVP_PKEY *key, const char *name, uint8_t **der, size_t *len, char *err, size_t errlen)
{
	X509_REQ *req = NULL;
	X509_NAME *subj = NULL;
	unsigned char *p = NULL;
	char ebuf[256];
	int n, rc = -1;

	*der = NULL;
	if ((req = X509_REQ_new()) == NULL || (subj = X509_NAME_new()) == NULL ||
	    X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8, (const unsigned char *)name,
	        -1, -1, 0) != 1 ||
	    X509_REQ_set_subject_name(req, subj) != 1 || X509_REQ_set_pubkey(req, key) != 1 ||
	    X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
		snprintf(err, errlen, "cannot build the CSR: %s", tls_error_string(ebuf, sizeof(ebuf)));
		goto out;
	}
	n = i2d_X509_REQ(req, &p);
	if (n <= 0 || n > CSR_DER_MAX) {
		snprintf(err, errlen, "cannot encode the CSR: %s",
		    tls_error_string(ebuf, sizeof(ebuf)));
		goto out;
	}
	/* OpenSSL's allocation, moved to ours so the caller frees with free() */
	if ((*der = malloc((size_t)n)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	memcpy(*der, p, (size_t)n);
	*len = (size_t)n;
	rc = 0;
out:
	OPENSSL_free(p);
	X509_NAME_free(subj);
	X509_REQ_free(req);
	return rc;
}

bool
csr_matches(const uint8_t *der, size_t len, EVP_PKEY *key, const char *name, char *err,
    size_t errlen)
{
	const unsigned char *p = der;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
	EVP_PKEY *pub;
	char cn[CERT_NAME_MAX + 2];
	bool ok = false;

	if (req == NULL || p != der + len) {
		snprintf(err, errlen, "not a DER certificate signing request");
		goto out;
	}
	pub = X509_REQ_get0_pubkey(req);
	if (pub == NULL || X509_REQ_verify(req, pub) != 1) {
		snprintf(err, errlen, "its signature does not verify");
		goto out;
	}
	if (EVP_PKEY_eq(pub, key) != 1) {
		snprintf(err, errlen, "it was made with another key");
		goto out;
	}
	if (X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn,
	    sizeof(cn)) <= 0 || strcmp(cn, name) != 0) {
		snprintf(err, errlen, "its CN is not \"%s\"", name);
		goto out;
	}
	ok = true;
out:
	ERR_clear_error();
	X509_REQ_free(req);
	return ok;
}

bool
csr_pin_parse(const char *hex, uint8_t pin[CSR_SHA256_LEN])
{
	size_t n = 0;
	int hi = -1;

	for (const char *s = hex; *s != '\0'; s++) {
		int v;

		if (*s == ':' && hi < 0 && n > 0)
			continue;
		if (!isxdigit((unsigned char)*s) || n == CSR_SHA256_LEN)
			return false;
		v = isdigit((unsigned char)*s) ? *s - '0' : tolower((unsigned char)*s) - 'a' + 10;
		if (hi < 0) {
			hi = v;
		} else {
			pin[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	return n == CSR_SHA256_LEN && hi < 0;
}

bool
csr_cert_sha256(X509 *x, uint8_t out[CSR_SHA256_LEN])
{
	unsigned int n = 0;

	return X509_digest(x, EVP_sha256(), out, &n) == 1 && n == CSR_SHA256_LEN;
}

char *
csr_hex(const uint8_t d[CSR_SHA256_LEN], char out[CSR_SHA256_HEX_LEN + 1])
{
	for (int i = 0; i < CSR_SHA256_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	return out;
}

int
csr_pin_verify(X509_STORE_CTX *sctx, void *arg)
{
	struct csr_pin *pin = arg;
	STACK_OF(X509) *sent = X509_STORE_CTX_get0_untrusted(sctx);
	STACK_OF(X509) *anchors = NULL;
	X509 *anchor = NULL;
	uint8_t d[CSR_SHA256_LEN];
	int ok;

	pin->mismatch = false;
	pin->seen[0] = '\0';
	for (int i = 0; i < sk_X509_num(sent); i++) {
		X509 *x = sk_X509_value(sent, i);

		if (!csr_cert_sha256(x, d))
			continue;
		csr_hex(d, pin->seen); /* the last one stays: the CA the server appended */
		if (memcmp(d, pin->want, sizeof(d)) == 0 && anchor == NULL)
			anchor = x;
	}
	if (anchor == NULL) {
		pin->mismatch = true;
		X509_STORE_CTX_set_error(sctx, X509_V_ERR_CERT_UNTRUSTED);
		return 0;
	}
	if ((anchors = sk_X509_new_null()) == NULL || sk_X509_push(anchors, anchor) <= 0) {
		sk_X509_free(anchors);
		X509_STORE_CTX_set_error(sctx, X509_V_ERR_OUT_OF_MEM);
		return 0;
	}
	/* the pinned certificate is the only anchor; it may be an intermediate */
	X509_STORE_CTX_set0_trusted_stack(sctx, anchors);
	X509_STORE_CTX_set_flags(sctx, X509_V_FLAG_PARTIAL_CHAIN);
	ok = X509_verify_cert(sctx);
	X509_STORE_CTX_set0_trusted_stack(sctx, NULL);
	sk_X509_free(anchors);
	return ok > 0 ? 1 : 0;
}

static X509 *
x509_from_der(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);

	if (x != NULL && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

int
csr_reply_check(const uint8_t *cert, size_t cert_len, const uint8_t *ca, size_t ca_len,
    const uint8_t *const *chain, const size_t *chain_len, size_t n_chain,
    const uint8_t pin[CSR_SHA256_LEN], EVP_PKEY *key, const char *name,
    const uint8_t wgkey[WG_KEY_LEN], struct cert_identity *id, X509 **cert_out,
    X509 **ca_out, STACK_OF(X509) **chain_out, char *err, size_t errlen)
{
	X509 *leaf = NULL, *root = NULL;
	STACK_OF(X509) *inter = NULL;
	X509_STORE *store = NULL;
	X509_STORE_CTX *vctx = NULL;
	uint8_t d[CSR_SHA256_LEN];
	char hex[CSR_SHA256_HEX_LEN + 1], why[200];
	int rc = -1;

	*cert_out = *ca_out = NULL;
	*chain_out = NULL;
	if ((leaf = x509_from_der(cert, cert_len)) == NULL) {
		snprintf(err, errlen, "the server approved, but its certificate is not DER X.509");
		goto out;
	}
	if ((root = x509_from_der(ca, ca_len)) == NULL || !csr_cert_sha256(root, d)) {
		snprintf(err, errlen, "the server approved, but sent no CA certificate (field ca)");
		goto out;
	}
	if (memcmp(d, pin, sizeof(d)) != 0) {
		snprintf(err, errlen, "the CA the server sent (SHA-256 %s) is not the one pinned "
		    "with --ca-sha256", csr_hex(d, hex));
		goto out;
	}
	if ((inter = sk_X509_new_null()) == NULL)
		goto oom;
	for (size_t i = 0; i < n_chain; i++) {
		X509 *x = x509_from_der(chain[i], chain_len[i]);

		if (x == NULL) {
			snprintf(err, errlen, "chain certificate %zu of the reply is not DER X.509",
			    i + 1);
			goto out;
		}
		if (sk_X509_push(inter, x) <= 0) {
			X509_free(x);
			goto oom;
		}
	}
	if ((store = X509_STORE_new()) == NULL || X509_STORE_add_cert(store, root) != 1 ||
	    (vctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(vctx, store, leaf, inter) != 1)
		goto oom;
	X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_SSL_CLIENT);
	if (X509_verify_cert(vctx) != 1) {
		snprintf(err, errlen, "the approved certificate does not chain to the pinned CA: %s",
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx)));
		goto out;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(leaf), key) != 1) {
		snprintf(err, errlen, "the approved certificate is not for our TLS key");
		goto out;
	}
	if (!cert_identity_from_x509(leaf, id, why, sizeof(why))) {
		snprintf(err, errlen, "the approved certificate breaks the agent profile: %s", why);
		goto out;
	}
	if (strcmp(id->name, name) != 0) {
		snprintf(err, errlen, "the approved certificate names \"%s\", not \"%s\"", id->name,
		    name);
		goto out;
	}
	if (!id->has_key || memcmp(id->key, wgkey, WG_KEY_LEN) != 0) {
		snprintf(err, errlen, "the approved certificate binds another WireGuard key than "
		    "the interface's");
		goto out;
	}
	*cert_out = leaf;
	*ca_out = root;
	*chain_out = inter;
	leaf = root = NULL;
	inter = NULL;
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	ERR_clear_error();
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
	sk_X509_pop_free(inter, X509_free);
	X509_free(root);
	X509_free(leaf);
	return rc;
}
