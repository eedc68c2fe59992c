/* OpenSSL 3 contexts for wiresync's mutual-TLS HTTP/2. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "rpc/log.h"
#include "rpc/tls.h"

static const unsigned char alpn_h2[] = { 2, 'h', '2' };

/* AEAD with forward secrecy only; TLS 1.3's suites are all AEAD. */
static const char cipher_list_12[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";

const char *
tls_error_string(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, len, "unknown error");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

const char *
tls_verify_failure(long verify_result, char *buf, size_t len)
{
	snprintf(buf, len, "TLS handshake failed: the peer's certificate did not verify: %s",
	    X509_verify_cert_error_string(verify_result));
	return buf;
}

static int
check_key_mode(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "%s: private key is readable by group or others (mode %04o); "
		    "chmod 600 it", path, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/* True when the certificate at depth sits under an intermediate: its issuer (the next one
 * up) is not the top of the chain, the trust anchor. */
static bool
under_intermediate(X509_STORE_CTX *sctx, int depth)
{
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(sctx);

	return chain != NULL && depth + 2 < sk_X509_num(chain);
}

/* Two waivers, every other check stays.
 * A CRL past its nextUpdate (or before its lastUpdate: a clock behind the CA's) is still
 * the CA's signed list of revoked serials. Only that time judgement is waived: the
 * certificate's own validity, its chain, the CRL's signature and a listed serial are
 * checked as ever. (X509_V_FLAG_NO_CHECK_TIME would waive the certificates' times too.)
 * The CRL of an online issuer (an intermediate, wiresync-ca issuer), which does not exist:
 * the root's CRL is checked for every certificate the root signed, the issuer included
 * (X509_V_FLAG_CRL_CHECK_ALL), but a host under the issuer is not refused for the missing
 * CRL alone. Such hosts are short-lived; cutting one off is revoking the issuer on the
 * root's CRL (everything it signed goes) or removing the peer. */
static int
verify_crl_waivers(int ok, X509_STORE_CTX *sctx)
{
	int e;

	if (ok)
		return ok;
	e = X509_STORE_CTX_get_error(sctx);
	if (e == X509_V_ERR_CRL_HAS_EXPIRED || e == X509_V_ERR_CRL_NOT_YET_VALID ||
	    (e == X509_V_ERR_UNABLE_TO_GET_CRL &&
	    under_intermediate(sctx, X509_STORE_CTX_get_error_depth(sctx)))) {
		X509_STORE_CTX_set_error(sctx, X509_V_OK);
		return 1;
	}
	return ok;
}

void
tls_store_allow_stale_crl(X509_STORE *store)
{
	X509_STORE_set_verify_cb(store, verify_crl_waivers);
}

void
tls_store_check_crls(X509_STORE *store)
{
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	tls_store_allow_stale_crl(store);
}

STACK_OF(X509_CRL) *
tls_crls_read(const char *path, char *err, size_t errlen)
{
	STACK_OF(X509_CRL) *crls = NULL;
	X509_CRL *crl;
	BIO *bio;
	char ebuf[256];
	unsigned long e;

	bio = BIO_new_file(path, "r");
	if (bio == NULL) {
		int en = errno;
		ERR_clear_error();
		/* after a privilege drop: say whose permission is missing */
		if (en == EACCES)
			snprintf(err, errlen, "%s: %s (to uid %u)", path, strerror(en),
			    (unsigned)geteuid());
		else
			snprintf(err, errlen, "%s: %s", path, en != 0 ? strerror(en) : "cannot open");
		return NULL;
	}
	crls = sk_X509_CRL_new_null();
	if (crls == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	ERR_clear_error();
	while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
		if (sk_X509_CRL_num(crls) >= TLS_CRL_MAX) {
			X509_CRL_free(crl);
			snprintf(err, errlen, "%s: more than %d CRLs", path, TLS_CRL_MAX);
			goto fail;
		}
		if (sk_X509_CRL_push(crls, crl) <= 0) {
			X509_CRL_free(crl);
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	/* the end of the file, or a damaged CRL that must not be skipped */
	e = ERR_peek_last_error();
	if (ERR_GET_LIB(e) != ERR_LIB_PEM || ERR_GET_REASON(e) != PEM_R_NO_START_LINE ||
	    sk_X509_CRL_num(crls) == 0) {
		if (sk_X509_CRL_num(crls) == 0)
			snprintf(err, errlen, "%s: not a PEM CRL: %s", path,
			    tls_error_string(ebuf, sizeof(ebuf)));
		else
			snprintf(err, errlen, "%s: CRL %d does not parse: %s", path,
			    sk_X509_CRL_num(crls) + 1, tls_error_string(ebuf, sizeof(ebuf)));
		goto fail;
	}
	ERR_clear_error();
	BIO_free(bio);
	return crls;
fail:
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	BIO_free(bio);
	return NULL;
}

static int
store_add_crls(X509_STORE *store, STACK_OF(X509_CRL) *crls, char *err, size_t errlen)
{
	char ebuf[256];

	for (int i = 0; i < sk_X509_CRL_num(crls); i++) {
		if (X509_STORE_add_crl(store, sk_X509_CRL_value(crls, i)) != 1) {
			snprintf(err, errlen, "CRL: %s", tls_error_string(ebuf, sizeof(ebuf)));
			return -EINVAL;
		}
	}
	tls_store_check_crls(store);
	return 0;
}

static int
load_crl(X509_STORE *store, const char *path, char *err, size_t errlen)
{
	STACK_OF(X509_CRL) *crls = tls_crls_read(path, err, errlen);
	int r;

	if (crls == NULL)
		return -EINVAL;
	r = store_add_crls(store, crls, err, errlen);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	return r;
}

static SSL_CTX *
ctx_common(const SSL_METHOD *method, const struct tls_files *f, char *err, size_t errlen)
{
	SSL_CTX *ctx;
	char ebuf[256];

	ctx = SSL_CTX_new(method);
	if (ctx == NULL) {
		snprintf(err, errlen, "SSL_CTX_new: %s", tls_error_string(ebuf, sizeof(ebuf)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Idle connections hold ~21 KB instead of ~54 KB; partial writes let us retry from
	 * our own buffer without pinning it. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_set_cipher_list(ctx, cipher_list_12) != 1) {
		snprintf(err, errlen, "cipher list: %s", tls_error_string(ebuf, sizeof(ebuf)));
		goto fail;
	}
	/* Elliptic-curve key exchange only, and only cheap curves: a client cannot make the
	 * server pay for ffdhe8192 or P-521 on every handshake. */
	if (SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") != 1) {
		snprintf(err, errlen, "groups: %s", tls_error_string(ebuf, sizeof(ebuf)));
		goto fail;
	}
	if (f->certificate != NULL &&
	    SSL_CTX_use_certificate_chain_file(ctx, f->certificate) != 1) {
		snprintf(err, errlen, "%s: cannot load certificate: %s", f->certificate,
		    tls_error_string(ebuf, sizeof(ebuf)));
		goto fail;
	}
	if (f->private_key != NULL) {
		if (check_key_mode(f->private_key, err, errlen) < 0)
			goto fail;
		if (SSL_CTX_use_PrivateKey_file(ctx, f->private_key, SSL_FILETYPE_PEM) != 1) {
			snprintf(err, errlen, "%s: cannot load private key: %s", f->private_key,
			    tls_error_string(ebuf, sizeof(ebuf)));
			goto fail;
		}
		if (SSL_CTX_check_private_key(ctx) != 1) {
			snprintf(err, errlen, "%s: private key does not match certificate %s",
			    f->private_key, f->certificate);
			goto fail;
		}
	}
	if (f->ca == NULL) {
		snprintf(err, errlen, "no CA certificate configured");
		goto fail;
	}
	if (f->ca[0] != '\0' && SSL_CTX_load_verify_locations(ctx, f->ca, NULL) != 1) {
		snprintf(err, errlen, "%s: cannot load CA certificate: %s", f->ca,
		    tls_error_string(ebuf, sizeof(ebuf)));
		goto fail;
	}
	if (f->crl != NULL && f->crl[0] != '\0' &&
	    load_crl(SSL_CTX_get_cert_store(ctx), f->crl, err, errlen) < 0)
		goto fail;
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
    unsigned int inlen, void *arg)
{
	unsigned char *sel;

	if (SSL_select_next_proto(&sel, outlen, alpn_h2, sizeof(alpn_h2), in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* True when x was signed by a certificate of ctx's trust store. */
static bool
issued_by_root(SSL_CTX *ctx, X509 *x)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));

	for (int i = 0; x != NULL && i < sk_X509_OBJECT_num(objs); i++) {
		X509 *ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
		if (ca != NULL && X509_check_issued(ca, x) == X509_V_OK)
			return true;
	}
	return false;
}

/* A ticket keeps the client's certificate but not its chain, and a resumed session is not
 * verified again: a host under an online issuer does a full handshake every time, so the
 * issuer is checked against the CRL in force at each connection. */
static SSL_TICKET_RETURN
ticket_decrypted(SSL *ssl, SSL_SESSION *sess, const unsigned char *keyname,
    size_t keyname_len, SSL_TICKET_STATUS status, void *arg)
{
	(void)keyname;
	(void)keyname_len;
	(void)arg;
	/* no ticket, or one we cannot read: a full handshake, as without this callback */
	if (status != SSL_TICKET_SUCCESS && status != SSL_TICKET_SUCCESS_RENEW)
		return SSL_TICKET_RETURN_IGNORE_RENEW;
	if (!issued_by_root(SSL_get_SSL_CTX(ssl), SSL_SESSION_get0_peer(sess)))
		return SSL_TICKET_RETURN_IGNORE;
	return status == SSL_TICKET_SUCCESS ? SSL_TICKET_RETURN_USE :
	    SSL_TICKET_RETURN_USE_RENEW;
}

SSL_CTX *
tls_server_ctx_new(const struct tls_files *f, char *err, size_t errlen)
{
	static const unsigned char sid_ctx[] = "wiresyncd";
	SSL_CTX *ctx;

	ctx = ctx_common(TLS_server_method(), f, err, errlen);
	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(ctx, 2);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	/* Without a session id context, resumption with client certificates never happens. */
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	/* Each ticket costs server CPU; a client needs one. */
	SSL_CTX_set_num_tickets(ctx, 1);
	SSL_CTX_set_session_ticket_cb(ctx, NULL, ticket_decrypted, NULL);
	/* Sessions resume from tickets alone; a server-side cache would hold a peer
	 * certificate per session and outlive a CRL change. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
}

SSL_CTX *
tls_enroll_ctx_new(const struct tls_files *f, char *err, size_t errlen)
{
	STACK_OF(X509_INFO) *cas = NULL;
	BIO *bio = NULL;
	SSL_CTX *ctx;
	char ebuf[256];

	ctx = ctx_common(TLS_server_method(), f, err, errlen);
	if (ctx == NULL)
		return NULL;
	/* No certificate is asked for: a joining host has none yet. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* The CA goes at the end of the chain: a host pins it by its SHA-256. */
	if ((bio = BIO_new_file(f->ca, "r")) == NULL ||
	    (cas = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL)) == NULL) {
		snprintf(err, errlen, "%s: cannot read CA certificate: %s", f->ca,
		    tls_error_string(ebuf, sizeof(ebuf)));
		goto fail;
	}
	for (int i = 0; i < sk_X509_INFO_num(cas); i++) {
		X509 *x = sk_X509_INFO_value(cas, i)->x509;
		if (x != NULL && SSL_CTX_add1_chain_cert(ctx, x) != 1) {
			snprintf(err, errlen, "%s: cannot add the CA to the chain: %s", f->ca,
			    tls_error_string(ebuf, sizeof(ebuf)));
			goto fail;
		}
	}
	sk_X509_INFO_pop_free(cas, X509_INFO_free);
	BIO_free(bio);
	return ctx;
fail:
	sk_X509_INFO_pop_free(cas, X509_INFO_free);
	BIO_free(bio);
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *
tls_client_ctx_new(const struct tls_files *f, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	ctx = ctx_common(TLS_client_method(), f, err, errlen);
	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_set_alpn_protos(ctx, alpn_h2, sizeof(alpn_h2)) != 0) {
		snprintf(err, errlen, "cannot set ALPN");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

SSL_CTX *
tls_client_ctx_new_verify(int (*verify)(X509_STORE_CTX *, void *), void *arg, char *err,
    size_t errlen)
{
	static const struct tls_files none = { NULL, NULL, "", NULL };
	SSL_CTX *ctx = tls_client_ctx_new(&none, err, errlen);

	if (ctx != NULL)
		SSL_CTX_set_cert_verify_callback(ctx, verify, arg);
	return ctx;
}

int
tls_ctx_set_crls(SSL_CTX *ctx, STACK_OF(X509_CRL) *crls, char *err, size_t errlen)
{
	STACK_OF(X509_OBJECT) *objs;
	X509_STORE *store;
	int r;

	/* A fresh store drops the old CRL; the CAs are carried over. */
	store = X509_STORE_new();
	if (store == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
		if (x != NULL)
			X509_STORE_add_cert(store, x);
	}
	r = store_add_crls(store, crls, err, errlen);
	if (r < 0) {
		X509_STORE_free(store);
		return r;
	}
	SSL_CTX_set_cert_store(ctx, store);
	return 0;
}

int
tls_alpn_is_h2(const SSL *ssl)
{
	const unsigned char *p;
	unsigned int n;

	SSL_get0_alpn_selected(ssl, &p, &n);
	return n == 2 && memcmp(p, "h2", 2) == 0;
}

/* Appends "name" (", name" after the first) to buf; false once it no longer fits. */
static bool
names_add(char *buf, size_t len, size_t *used, const char *name, size_t n)
{
	const char *sep = *used > 0 ? ", " : "";
	size_t need = strlen(sep) + n;

	if (*used + need + 1 > len) {
		if (len >= 4)
			snprintf(buf + (*used + 4 < len ? *used : len - 4), 4, "...");
		return false;
	}
	snprintf(buf + *used, len - *used, "%s%.*s", sep, (int)n, name);
	*used += need;
	return true;
}

const char *
tls_cert_names(X509 *cert, char *buf, size_t len)
{
	GENERAL_NAMES *sans;
	size_t used = 0;
	bool room = true;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; room && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		char ip[INET6_ADDRSTRLEN];
		int type;
		const ASN1_STRING *v = GENERAL_NAME_get0_value(g, &type);

		if (type == GEN_DNS) {
			room = names_add(buf, len, &used, (const char *)ASN1_STRING_get0_data(v),
			    (size_t)ASN1_STRING_length(v));
		} else if (type == GEN_IPADD) {
			int af = ASN1_STRING_length(v) == 4 ? AF_INET :
			    ASN1_STRING_length(v) == 16 ? AF_INET6 : -1;
			if (af < 0 || inet_ntop(af, ASN1_STRING_get0_data(v), ip, sizeof(ip)) == NULL)
				continue;
			room = names_add(buf, len, &used, ip, strlen(ip));
		}
	}
	GENERAL_NAMES_free(sans);
	if (used == 0) {
		char cn[256];
		int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
		    sizeof(cn));
		if (n > 0)
			names_add(buf, len, &used, cn, (size_t)n);
		else
			snprintf(buf, len, "none");
	}
	return buf;
}
