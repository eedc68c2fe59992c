/* Admission of the service's callers: a connection is its client certificate, checked at
 * every handshake (validity, CRL in force, the CA's network, connections per identity),
 * and each call is checked against crl_stale = refuse. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>
#include <openssl/x509.h>

#include "common/cert.h"
#include "rpc/log.h"
#include "server/crl.h"
#include "server/idcount.h"
#include "server/service_impl.h"

/* --- connections ------------------------------------------------------------------------ */

/* Every CA above the leaf in the verified chain (an online issuer, the root) is of the
 * leaf's network: OpenSSL checks signatures and constraints, not names. */
static bool
chain_network_matches(STACK_OF(X509) *verified, const char *network)
{
	char org[CERT_NAME_MAX + 2];

	for (int i = 1; i < sk_X509_num(verified); i++)
		if (X509_NAME_get_text_by_NID(X509_get_subject_name(sk_X509_value(verified, i)),
		    NID_organizationName, org, sizeof(org)) <= 0 || strcmp(org, network) != 0)
			return false;
	return true;
}

/* The intermediates of the verified chain (up-ref'd; NULL when the root signed the leaf),
 * kept with the connection: a CRL reload closes it when one of them is revoked. */
static int
chain_keep(struct agent_conn *ac, STACK_OF(X509) *verified)
{
	int n = sk_X509_num(verified);

	if (n <= 2)
		return 0;
	if ((ac->chain = sk_X509_new_null()) == NULL)
		return -1;
	for (int i = 1; i < n - 1; i++) {
		X509 *x = sk_X509_value(verified, i);
		if (sk_X509_push(ac->chain, x) <= 0)
			return -1;
		X509_up_ref(x);
	}
	return 0;
}

static bool
issuer_network_matches(X509 *cert, const char *network)
{
	X509_NAME *issuer = X509_get_issuer_name(cert);
	char org[CERT_NAME_MAX + 2];
	int n;

	/* OpenSSL verified the chain, so the issuer name is the trusted CA's subject. */
	n = X509_NAME_get_text_by_NID(issuer, NID_organizationName, org, sizeof(org));
	return n > 0 && strcmp(org, network) == 0;
}

/* A resumed TLS session skips certificate verification: validity and the CRL in force
 * are checked here for every connection. */
static bool
cert_in_force(const struct service *svc, X509 *cert, STACK_OF(X509) *chain, char *why,
    size_t len)
{
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
		snprintf(why, len, "certificate has expired");
		return false;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0) {
		snprintf(why, len, "certificate is not valid yet");
		return false;
	}
	if (crlset_revokes(svc->crls, cert)) {
		snprintf(why, len, "certificate is revoked");
		return false;
	}
	for (int i = 0; i < sk_X509_num(chain); i++)
		if (crlset_revokes(svc->crls, sk_X509_value(chain, i))) {
			snprintf(why, len, "its issuer's certificate is revoked");
			return false;
		}
	return true;
}

static void *
conn_open(struct rpc_conn *c, X509 *cert, const struct sockaddr *peer, void *arg)
{
	struct service *svc = arg;
	STACK_OF(X509) *verified = rpc_conn_verified_chain(c);
	struct agent_conn *ac;
	char err[160];
	unsigned char *der = NULL;
	int len;

	/* no copy of the certificate here: the TLS session keeps it (rpc_conn_peer_cert) */
	ac = calloc(1, sizeof(*ac));
	if (ac == NULL)
		return NULL;
	ac->svc = svc;
	if (!cert_identity_from_x509(cert, &ac->id, err, sizeof(err))) {
		log_warnx("refusing client certificate: %s", err);
		goto fail;
	}
	if (chain_keep(ac, verified) < 0)
		goto fail;
	if (!cert_in_force(svc, cert, ac->chain, err, sizeof(err))) {
		log_warnx("refusing certificate of \"%s\" (serial %s): %s", ac->id.name,
		    ac->id.serial, err);
		goto fail;
	}
	/* a resumed session has no verified chain: its leaf's issuer is a root (rpc/tls.c
	 * resumes no other) */
	if (verified != NULL ? !chain_network_matches(verified, ac->id.network) :
	    !issuer_network_matches(cert, ac->id.network)) {
		log_warnx("refusing certificate of \"%s\": network \"%s\" is not its CA's network",
		    ac->id.name, ac->id.network);
		goto fail;
	}
	netaddr_from_sockaddr(peer, &ac->wan);
	ac->opened_s = (int64_t)time(NULL);
	if (ac->id.has_key) {
		memcpy(ac->ident, ac->id.key, WG_KEY_LEN);
	} else {
		len = i2d_X509(cert, &der);
		if (len <= 0)
			goto fail;
		SHA256(der, (size_t)len, ac->ident);
		OPENSSL_free(der);
	}
	if (idcount_get(svc->conns_per_id, ac->ident) >= svc->cfg.max_connections_per_identity) {
		log_warnx("refusing connection of \"%s\" (serial %s): %u connections open "
		    "(max_connections_per_identity)", ac->id.name, ac->id.serial,
		    svc->cfg.max_connections_per_identity);
		goto fail;
	}
	if (idcount_add(svc->conns_per_id, ac->ident, 1) < 0)
		goto fail;
	ac->rc = c;
	ac->next = svc->conns;
	if (svc->conns != NULL)
		svc->conns->prev = ac;
	svc->conns = ac;
	log_debug("%s (%s) connected", ac->id.name, ac->id.network);
	return ac;
fail:
	sk_X509_pop_free(ac->chain, X509_free);
	free(ac);
	return NULL;
}

static void
conn_close(void *user, void *arg)
{
	struct agent_conn *ac = user;
	struct service *svc = ac->svc;

	if (ac->prev != NULL)
		ac->prev->next = ac->next;
	else
		svc->conns = ac->next;
	if (ac->next != NULL)
		ac->next->prev = ac->prev;
	idcount_add(svc->conns_per_id, ac->ident, -1);
	log_debug("%s disconnected", ac->id.name);
	sk_X509_pop_free(ac->chain, X509_free);
	free(ac);
}

void
service_server_ops(struct service *svc, struct rpc_server_ops *ops)
{
	/* every field the service does not set (anonymous) is off */
	memset(ops, 0, sizeof(*ops));
	ops->conn_open = conn_open;
	ops->conn_close = conn_close;
	ops->arg = svc;
}

bool
service_call_admitted(const struct service *svc, struct rpc_call *call, char *why, size_t len)
{
	const struct agent_conn *ac = rpc_call_conn_user(call);
	int64_t next, now = (int64_t)time(NULL);

	if (!svc->cfg.crl_stale_refuse || ac == NULL)
		return true;
	next = crlset_next_update_of(svc->crls, rpc_conn_peer_cert(ac->rc));
	/* connections admitted while the CRL was fresh keep working */
	if (next == 0 || now < next || ac->opened_s < next)
		return true;
	snprintf(why, len, "the server's CRL for network %s is past its nextUpdate and the "
	    "server is set to crl_stale = refuse: no new connections until the operator renews "
	    "the CRL (wiresync-ca -d DIR crl)", ac->id.network);
	return false;
}
