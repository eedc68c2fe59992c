/* Each peer's certificate is checked here against our own CA, never taken on the server's
 * word. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "agent/verify.h"

struct peer_verifier {
	X509_STORE *store;
	char *ca_file;
	char network[CERT_NAME_MAX + 1];
};

/* A store with the CA alone; a CRL is added to a fresh one each time, because OpenSSL
 * keeps the first CRL of an issuer and silently ignores newer ones added later. */
static X509_STORE *
store_new(const char *ca_file)
{
	X509_STORE *st = X509_STORE_new();

	if (st != NULL && X509_STORE_load_file(st, ca_file) != 1) {
		X509_STORE_free(st);
		st = NULL;
	}
	return st;
}

struct peer_verifier *
peer_verifier_new(const char *ca_file, const char *crl_file, const char *network, char *err,
    size_t errlen)
{
	struct peer_verifier *v;

	v = calloc(1, sizeof(*v));
	if (v == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(v->network, sizeof(v->network), "%s", network);
	v->ca_file = strdup(ca_file);
	v->store = v->ca_file != NULL ? store_new(ca_file) : NULL;
	if (v->store == NULL) {
		snprintf(err, errlen, "%s: cannot load CA certificate", ca_file);
		goto fail;
	}
	if (crl_file != NULL && crl_file[0] != '\0') {
		FILE *fp = fopen(crl_file, "r");
		X509_CRL *crl = fp != NULL ? PEM_read_X509_CRL(fp, NULL, NULL, NULL) : NULL;
		if (fp != NULL)
			fclose(fp);
		if (crl == NULL) {
			snprintf(err, errlen, "%s: cannot read CRL", crl_file);
			goto fail;
		}
		peer_verifier_set_crl(v, crl);
		X509_CRL_free(crl);
	}
	return v;
fail:
	peer_verifier_del(v);
	return NULL;
}

void
peer_verifier_del(struct peer_verifier *v)
{
	if (v == NULL)
		return;
	X509_STORE_free(v->store);
	free(v->ca_file);
	free(v);
}

int
peer_verifier_set_crl(struct peer_verifier *v, X509_CRL *crl)
{
	X509_STORE *st = store_new(v->ca_file);

	if (st == NULL || X509_STORE_add_crl(st, crl) != 1) {
		X509_STORE_free(st);
		return -ENOMEM;
	}
	X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	X509_STORE_free(v->store);
	v->store = st;
	return 0;
}

/* The record's tunnel addresses must be exactly the certificate's, in any order: each in
 * the other, both ways, so a duplicate cannot hide a missing one. */
static bool
tunnels_match(const Wiresync__V1__Peer *p, const struct cert_identity *id, char *err,
    size_t errlen)
{
	char text[NETADDR_STRLEN];
	struct netaddr rec[CERT_TUNNEL_MAX];

	if (p->n_tunnel_ips != id->n_tunnel) {
		snprintf(err, errlen, "record lists %zu tunnel addresses, certificate binds %zu",
		    p->n_tunnel_ips, id->n_tunnel);
		return false;
	}
	for (size_t i = 0; i < p->n_tunnel_ips; i++) {
		struct netaddr a;
		bool found = false;
		if (!netaddr_parse(p->tunnel_ips[i], true, &a, NULL, 0)) {
			snprintf(err, errlen, "tunnel address \"%.60s\" does not parse", p->tunnel_ips[i]);
			return false;
		}
		for (size_t j = 0; j < id->n_tunnel && !found; j++)
			found = netaddr_equal(&a, &id->tunnel[j]);
		if (!found) {
			snprintf(err, errlen, "tunnel address %s is not bound by the certificate",
			    netaddr_format(&a, true, text));
			return false;
		}
		rec[i] = a;
	}
	for (size_t j = 0; j < id->n_tunnel; j++) {
		bool found = false;
		for (size_t i = 0; i < p->n_tunnel_ips && !found; i++)
			found = netaddr_equal(&rec[i], &id->tunnel[j]);
		if (!found) {
			snprintf(err, errlen, "record lacks tunnel address %s that the certificate binds",
			    netaddr_format(&id->tunnel[j], true, text));
			return false;
		}
	}
	return true;
}

bool
peer_verify(struct peer_verifier *v, const Wiresync__V1__Peer *p, struct cert_identity *id,
    char *err, size_t errlen)
{
	const unsigned char *der = p->certificate.data;
	X509_STORE_CTX *ctx = NULL;
	X509 *x = NULL;
	bool ok = false;
	char why[200];

	if (p->certificate.len == 0) {
		snprintf(err, errlen, "record carries no certificate");
		return false;
	}
	x = d2i_X509(NULL, &der, (long)p->certificate.len);
	if (x == NULL || der != p->certificate.data + p->certificate.len) {
		snprintf(err, errlen, "certificate does not decode");
		goto out;
	}
	ctx = X509_STORE_CTX_new();
	if (ctx == NULL || X509_STORE_CTX_init(ctx, v->store, x, NULL) != 1) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	if (X509_verify_cert(ctx) != 1) {
		snprintf(err, errlen, "certificate does not verify: %s",
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	if (!cert_identity_from_x509(x, id, why, sizeof(why))) {
		snprintf(err, errlen, "%s", why);
		goto out;
	}
	if (strcmp(id->network, v->network) != 0) {
		snprintf(err, errlen, "certificate of \"%s\" is for network \"%s\", not \"%s\"",
		    id->name, id->network, v->network);
		goto out;
	}
	if (!id->has_key || p->public_key.len != WG_KEY_LEN ||
	    memcmp(p->public_key.data, id->key, WG_KEY_LEN) != 0) {
		snprintf(err, errlen, "record's public key is not the one certificate \"%s\" binds",
		    id->name);
		goto out;
	}
	if (!tunnels_match(p, id, why, sizeof(why))) {
		snprintf(err, errlen, "certificate \"%s\": %s", id->name, why);
		goto out;
	}
	ok = true;
out:
	X509_STORE_CTX_free(ctx);
	X509_free(x);
	return ok;
}
