/* The web console's addresses and HTTPS context: which web_listen addresses may serve it
 * (loopback without TLS, any with it) and the server side of its TLS, where a client
 * certificate is required. */
#include "config.h"

#include <stdio.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/netaddr.h"
#include "rpc/tls.h"
#include "server/web.h"
#include "server/web_impl.h"

bool
web_addr_ok(const char *addr, bool tls, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	bool lo;

	if (netaddr_hostport_parse(addr, &ss, &sl, &lo) != NETADDR_HOSTPORT_OK) {
		snprintf(err, errlen, "web_listen = %s is not a numeric address with a port "
		    "(127.0.0.1:8080, [::1]:8080, or any address with web_tls = yes)", addr);
		return false;
	}
	if (!lo && !tls) {
		snprintf(err, errlen, "web_listen = %s is not loopback: the console needs TLS "
		    "there (web_tls = yes) or a loopback address", addr);
		return false;
	}
	return true;
}

/* HTTPS for browsers: HTTP/1.1 (no ALPN h2), the server certificate, a client
 * certificate required and verified against the CA and its CRLs. */
SSL_CTX *
web_tls_ctx_new(const struct tls_files *f, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	STACK_OF(X509_CRL) *crls = NULL;
	char why[256];

	if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		snprintf(err, errlen, "web_tls: %s", tls_error_string(why, sizeof(why)));
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, f->certificate) != 1) {
		snprintf(err, errlen, "web_tls: certificate %s: %s", f->certificate,
		    tls_error_string(why, sizeof(why)));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, f->private_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "web_tls: private_key %s: %s", f->private_key,
		    tls_error_string(why, sizeof(why)));
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(ctx, f->ca, NULL) != 1) {
		snprintf(err, errlen, "web_tls: ca %s: %s", f->ca, tls_error_string(why,
		    sizeof(why)));
		goto fail;
	}
	if (f->crl != NULL && f->crl[0] != '\0') {
		if ((crls = tls_crls_read(f->crl, why, sizeof(why))) == NULL ||
		    tls_ctx_set_crls(ctx, crls, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "web_tls: %s", why);
			goto fail;
		}
		sk_X509_CRL_pop_free(crls, X509_CRL_free);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	/* an event stream appends to its buffer (which may move) while a write is pending */
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	return ctx;
fail:
	if (crls != NULL)
		sk_X509_CRL_pop_free(crls, X509_CRL_free);
	SSL_CTX_free(ctx);
	return NULL;
}
