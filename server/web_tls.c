/* The web console's addresses and HTTPS context: which web_listen addresses may serve it
 * (loopback without TLS, any with it) and the server side of its TLS, where a client
 * certificate is required. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "rpc/tls.h"
#include "server/web.h"
#include "server/web_impl.h"

bool
web_addr_parse(const char *addr, struct sockaddr_storage *ss, socklen_t *sl, bool *loopback)
{
	char host[64];
	const char *colon = strrchr(addr, ':');
	size_t hl;
	char *endp;
	unsigned long port;

	memset(ss, 0, sizeof(*ss));
	if (colon == NULL || colon[1] == '\0' || colon[1] == '-' || colon[1] == '+')
		return false;
	errno = 0;
	port = strtoul(colon + 1, &endp, 10);
	if (*endp != '\0' || errno != 0 || port > 65535)
		return false;
	hl = (size_t)(colon - addr);
	if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		if (hl - 2 >= sizeof(host))
			return false;
		memcpy(host, addr + 1, hl - 2);
		host[hl - 2] = '\0';
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return false;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*sl = sizeof(*s6);
		*loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		if (hl >= sizeof(host))
			return false;
		memcpy(host, addr, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return false;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*sl = sizeof(*s4);
		*loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	return true;
}

bool
web_addr_ok(const char *addr, bool tls, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	bool lo;

	if (!web_addr_parse(addr, &ss, &sl, &lo)) {
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
