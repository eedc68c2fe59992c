/* Each peer's certificate is checked here against our own CA, never taken on the server's
 * word. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "agent/verify.h"
#include "common/cert.h"
#include "rpc/tls.h"

struct peer_verifier {
	X509_STORE *store;
	X509_CRL *crls[VERIFY_CRL_MAX];     /* in use: one per CA */
	size_t n_crls;
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
		/* every CRL of the file: one per CA */
		STACK_OF(X509_CRL) *crls = tls_crls_read(crl_file, err, errlen);
		int r = 0;
		if (crls == NULL)
			goto fail;
		for (int i = 0; r == 0 && i < sk_X509_CRL_num(crls); i++)
			r = peer_verifier_set_crl(v, sk_X509_CRL_value(crls, i));
		sk_X509_CRL_pop_free(crls, X509_CRL_free);
		if (r < 0) {
			snprintf(err, errlen, "%s: more CRLs than %d CAs, or out of memory", crl_file,
			    VERIFY_CRL_MAX);
			goto fail;
		}
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
	for (size_t i = 0; i < v->n_crls; i++)
		X509_CRL_free(v->crls[i]);
	free(v->ca_file);
	free(v);
}

/* The slot of the CRL of crl's issuer, or of a new one; NULL when every slot is taken. */
static X509_CRL **
crl_slot(struct peer_verifier *v, X509_CRL *crl)
{
	for (size_t i = 0; i < v->n_crls; i++)
		if (X509_NAME_cmp(X509_CRL_get_issuer(v->crls[i]), X509_CRL_get_issuer(crl)) == 0)
			return &v->crls[i];
	return v->n_crls < VERIFY_CRL_MAX ? &v->crls[v->n_crls] : NULL;
}

int
peer_verifier_set_crl(struct peer_verifier *v, X509_CRL *crl)
{
	X509_STORE *st = store_new(v->ca_file);
	X509_CRL **slot = crl_slot(v, crl);
	bool ok = st != NULL && slot != NULL;

	/* the other CAs' CRLs stay in force beside this one */
	for (size_t i = 0; ok && i < v->n_crls; i++)
		ok = &v->crls[i] == slot || X509_STORE_add_crl(st, v->crls[i]) == 1;
	if (!ok || X509_STORE_add_crl(st, crl) != 1) {
		X509_STORE_free(st);
		return -ENOMEM;
	}
	/* the root's CRL for all it signed, an online issuer included (rpc/tls.h) */
	tls_store_check_crls(st);
	X509_STORE_free(v->store);
	v->store = st;
	X509_CRL_up_ref(crl);
	if (slot == &v->crls[v->n_crls])
		v->n_crls++;
	else
		X509_CRL_free(*slot);
	*slot = crl;
	return 0;
}

/* True when a CA certificate of st issued crl and its signature holds. */
static bool
crl_signed_by_ca(X509_STORE *st, X509_CRL *crl)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(st);

	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509 *ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
		EVP_PKEY *key;
		if (ca == NULL || X509_NAME_cmp(X509_get_subject_name(ca),
		    X509_CRL_get_issuer(crl)) != 0)
			continue;
		key = X509_get0_pubkey(ca);
		if (key != NULL && X509_CRL_verify(crl, key) == 1)
			return true;
	}
	return false;
}

/* By CRL number when both carry one (two CRLs can share a lastUpdate second), else by
 * lastUpdate. */
static bool
crl_newer(X509_CRL *a, X509_CRL *b)
{
	ASN1_INTEGER *na = X509_CRL_get_ext_d2i(a, NID_crl_number, NULL, NULL);
	ASN1_INTEGER *nb = X509_CRL_get_ext_d2i(b, NID_crl_number, NULL, NULL);
	bool newer;

	if (na != NULL && nb != NULL)
		newer = ASN1_INTEGER_cmp(na, nb) > 0;
	else
		newer = ASN1_TIME_compare(X509_CRL_get0_lastUpdate(a),
		    X509_CRL_get0_lastUpdate(b)) > 0;
	ASN1_INTEGER_free(na);
	ASN1_INTEGER_free(nb);
	return newer;
}

int
peer_verifier_offer_crl(struct peer_verifier *v, const uint8_t *der, size_t len, char *err,
    size_t errlen)
{
	const unsigned char *p = der;
	X509_CRL *crl, **slot;
	int r = -1;

	crl = d2i_X509_CRL(NULL, &p, (long)len);
	if (crl == NULL || p != der + len) {
		snprintf(err, errlen, "not a DER CRL");
		goto out;
	}
	if (!crl_signed_by_ca(v->store, crl)) {
		snprintf(err, errlen, "not signed by our CA");
		goto out;
	}
	if (X509_CRL_get0_lastUpdate(crl) == NULL) {
		snprintf(err, errlen, "no lastUpdate");
		goto out;
	}
	/* newer than the CRL of the same CA; another CA's does not count */
	slot = crl_slot(v, crl);
	if (slot == NULL) {
		snprintf(err, errlen, "CRLs of %d CAs are in use already", VERIFY_CRL_MAX);
		goto out;
	}
	if (slot != &v->crls[v->n_crls] && !crl_newer(crl, *slot)) {
		r = 0;
		goto out;
	}
	if (peer_verifier_set_crl(v, crl) < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	r = 1;
out:
	ERR_clear_error();
	X509_CRL_free(crl);
	return r;
}

int
peer_verifier_crls_der(const struct peer_verifier *v, uint8_t **out, size_t *out_len)
{
	uint8_t *buf = NULL, *nb;
	size_t len = 0;

	for (size_t i = 0; i < v->n_crls; i++) {
		unsigned char *der = NULL;
		int n = i2d_X509_CRL(v->crls[i], &der);
		if (n <= 0 || (nb = realloc(buf, len + (size_t)n)) == NULL) {
			OPENSSL_free(der);
			free(buf);
			return -ENOMEM;
		}
		buf = nb;
		memcpy(buf + len, der, (size_t)n);
		len += (size_t)n;
		OPENSSL_free(der);
	}
	*out = buf;
	*out_len = len;
	return 0;
}

bool
peer_verifier_crl_sha256(const struct peer_verifier *v, uint8_t out[32])
{
	uint8_t *der;
	size_t len;

	if (v->n_crls == 0 || peer_verifier_crls_der(v, &der, &len) < 0)
		return false;
	SHA256(der, len, out);
	free(der);
	return true;
}

int
peer_verifier_crl_count(const struct peer_verifier *v)
{
	int n = 0;

	for (size_t i = 0; i < v->n_crls; i++) {
		STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(v->crls[i]);
		n += revoked != NULL ? sk_X509_REVOKED_num(revoked) : 0;
	}
	return n;
}

int64_t
peer_verifier_crl_next_update(const struct peer_verifier *v, int64_t *this_update)
{
	int64_t next = 0;

	for (size_t i = 0; i < v->n_crls; i++) {
		int64_t t = cert_asn1_time_s(X509_CRL_get0_nextUpdate(v->crls[i]));
		if (t > 0 && (next == 0 || t < next)) {
			next = t;
			if (this_update != NULL)
				*this_update = cert_asn1_time_s(X509_CRL_get0_lastUpdate(v->crls[i]));
		}
	}
	return next;
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

/* The record's chain (DER intermediates, the leaf's issuer first), untrusted: only what
 * chains to our CA counts. NULL with err set when an entry does not decode. */
static STACK_OF(X509) *
chain_decode(const Wiresync__V1__Peer *p, char *err, size_t errlen)
{
	STACK_OF(X509) *chain = sk_X509_new_null();

	if (chain == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (p->n_chain > VERIFY_CHAIN_MAX) {
		snprintf(err, errlen, "record's chain has %zu certificates, more than %d",
		    p->n_chain, VERIFY_CHAIN_MAX);
		goto fail;
	}
	for (size_t i = 0; i < p->n_chain; i++) {
		const unsigned char *q = p->chain[i].data;
		X509 *c = d2i_X509(NULL, &q, (long)p->chain[i].len);
		if (c == NULL || q != p->chain[i].data + p->chain[i].len) {
			X509_free(c);
			snprintf(err, errlen, "chain certificate %zu does not decode", i + 1);
			goto fail;
		}
		if (sk_X509_push(chain, c) <= 0) {
			X509_free(c);
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	return chain;
fail:
	sk_X509_pop_free(chain, X509_free);
	return NULL;
}

/* Every CA above the leaf (an online issuer, the root) is of our network too. */
static bool
chain_network_ok(X509_STORE_CTX *ctx, const char *network)
{
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
	char org[CERT_NAME_MAX + 2];

	for (int i = 1; i < sk_X509_num(chain); i++)
		if (X509_NAME_get_text_by_NID(X509_get_subject_name(sk_X509_value(chain, i)),
		    NID_organizationName, org, sizeof(org)) <= 0 || strcmp(org, network) != 0)
			return false;
	return true;
}

bool
peer_verify(struct peer_verifier *v, const Wiresync__V1__Peer *p, struct cert_identity *id,
    char *err, size_t errlen)
{
	const unsigned char *der = p->certificate.data;
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *chain = NULL;
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
	if ((chain = chain_decode(p, err, errlen)) == NULL)
		goto out;
	ctx = X509_STORE_CTX_new();
	if (ctx == NULL || X509_STORE_CTX_init(ctx, v->store, x, chain) != 1) {
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
	if (!chain_network_ok(ctx, v->network)) {
		snprintf(err, errlen, "certificate of \"%s\": a CA of its chain is not of network "
		    "\"%s\"", id->name, v->network);
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
	sk_X509_pop_free(chain, X509_free);
	X509_free(x);
	return ok;
}

bool
peer_tunnels_overlap(const struct cert_identity *a, const struct cert_identity *b,
    char addr[NETADDR_STRLEN])
{
	for (size_t i = 0; i < a->n_tunnel; i++) {
		for (size_t j = 0; j < b->n_tunnel; j++) {
			if (netaddr_equal(&a->tunnel[i], &b->tunnel[j])) {
				netaddr_format(&a->tunnel[i], true, addr);
				return true;
			}
		}
	}
	return false;
}
