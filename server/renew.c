/* wiresync.v1.WireSync/Renew (issue 13): an enrolled host asks, over its own mutual-TLS
 * connection, for a new certificate for the TLS key it connected with. The caller is its
 * certificate, never a field: the CSR must carry its name and its key. With an online
 * issuer the certificate is signed at once with exactly the current one's name, WireGuard
 * key, addresses and groups; otherwise the request waits among the join requests (kept in
 * the store like them) until the operator approves it (wiresyncctl approve --renewals),
 * and the host's next Renew with the same CSR gets it. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "proto/wiresync.pb-c.h"
#include "rpc/grpc.h"
#include "rpc/log.h"
#include "server/enroll_impl.h"
#include "server/issuer.h"
#include "server/service_impl.h"

#define RENEW_CSR_MAX 8192

void
service_set_enroll(struct service *svc, struct enroll *e)
{
	svc->enroll = e;
}

/* The CSR in der when it is DER PKCS#10 whose signature holds, with exactly one CN equal
 * to the caller's name and the key of the caller's certificate; GRPC_OK, or a status with
 * err naming the field. */
static int
renew_csr_check(const uint8_t *der, size_t len, const struct agent_conn *ac, char *err,
    size_t errlen)
{
	const unsigned char *p = der;
	X509_REQ *req = len > 0 && len <= RENEW_CSR_MAX ? d2i_X509_REQ(NULL, &p, (long)len) :
	    NULL;
	X509 *own = rpc_conn_peer_cert(ac->rc);
	EVP_PKEY *key;
	X509_NAME *subj;
	char cn[CERT_NAME_MAX + 2] = "";
	int i, n, st = GRPC_INVALID_ARGUMENT;

	if (len > RENEW_CSR_MAX) {
		snprintf(err, errlen, "csr: %zu bytes, at most %d", len, RENEW_CSR_MAX);
		goto out;
	}
	if (req == NULL || p != der + len) {
		snprintf(err, errlen, "csr: not a DER PKCS#10 certificate request (%zu bytes)", len);
		goto out;
	}
	if ((key = X509_REQ_get0_pubkey(req)) == NULL || X509_REQ_verify(req, key) != 1) {
		snprintf(err, errlen, "csr: its signature does not verify with its key");
		goto out;
	}
	subj = X509_REQ_get_subject_name(req);
	i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
	if (i < 0 || X509_NAME_get_index_by_NID(subj, NID_commonName, i) >= 0) {
		snprintf(err, errlen, "csr: the subject must have exactly one CN (the host name)");
		goto out;
	}
	n = ASN1_STRING_length(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i)));
	if (n > CERT_NAME_MAX || X509_NAME_get_text_by_NID(subj, NID_commonName, cn,
	    sizeof(cn)) != n || strcmp(cn, ac->id.name) != 0) {
		snprintf(err, errlen, "csr: CN \"%.64s\" is not the caller's name %s (a renewal "
		    "keeps the certificate's name)", cn, ac->id.name);
		st = GRPC_PERMISSION_DENIED;
		goto out;
	}
	if (own == NULL || EVP_PKEY_eq(X509_get0_pubkey(own), key) != 1) {
		snprintf(err, errlen, "csr: its key is not the TLS key of the caller's certificate "
		    "(a renewal keeps the key; a new key is a new join)");
		st = GRPC_PERMISSION_DENIED;
		goto out;
	}
	st = GRPC_OK;
out:
	X509_REQ_free(req);
	return st;
}

static void
renew_reply(struct rpc_call *call, uint64_t id, Wiresync__V1__RenewState state,
    const uint8_t *cert, size_t cert_len, const uint8_t *chain, size_t chain_len,
    const char *message)
{
	Wiresync__V1__RenewReply m = WIRESYNC__V1__RENEW_REPLY__INIT;
	ProtobufCBinaryData ch = { chain_len, (uint8_t *)chain };

	m.id = id;
	m.state = state;
	m.certificate.data = (uint8_t *)cert;
	m.certificate.len = cert_len;
	if (chain_len > 0) {
		m.n_chain = 1;
		m.chain = &ch;
	}
	m.message = (char *)(message != NULL ? message : "");
	svc_reply_message(call, &m.base);
}

/* --- with an online issuer: at once ----------------------------------------------------- */

static void
renew_issue(struct rpc_call *call, const struct agent_conn *ac, const struct issuer *is,
    const uint8_t *csr, size_t csr_len)
{
	X509 *own = rpc_conn_peer_cert(ac->rc);
	int64_t from = cert_asn1_time_s(X509_get0_notBefore(own));
	int64_t until = cert_asn1_time_s(X509_get0_notAfter(own));
	struct issuer_profile p = {
		.name = ac->id.name, .key = ac->id.key, .ips = ac->id.tunnel,
		.n_ips = ac->id.n_tunnel, .groups = ac->id.groups, .n_groups = ac->id.n_groups,
		/* the lifetime the operator gave the host: the issuer caps it at its own */
		.lifetime_s = until > from ? until - from : 86400,
	};
	uint8_t *der = NULL, *chain = NULL;
	size_t len = 0;
	int n;
	struct cert_identity id;
	char err[256];

	if (issuer_sign(is, csr, csr_len, &p, (int64_t)time(NULL), &der, &len, err,
	    sizeof(err)) < 0) {
		log_warnx("%s (%s): renewal refused by the issuer: %s", ac->id.name, ac->id.network,
		    err);
		rpc_call_fail(call, GRPC_FAILED_PRECONDITION, "issuer: %s", err);
		return;
	}
	if ((n = i2d_X509(issuer_cert(is), &chain)) <= 0) {
		OPENSSL_free(der);
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	if (cert_identity_from_der(der, len, &id, err, sizeof(err)))
		log_info("%s (%s): certificate renewed by the issuer: serial %s (was %s)",
		    ac->id.name, ac->id.network, id.serial, ac->id.serial);
	renew_reply(call, 0, WIRESYNC__V1__RENEW_STATE__RENEW_ISSUED, der, len, chain,
	    (size_t)n, NULL);
	OPENSSL_free(chain);
	OPENSSL_free(der);
}

/* --- without: a request the operator approves ------------------------------------------- */

struct older {
	const uint8_t *key, *sha;
	uint64_t ids[16];
	size_t n;
};

/* Renewals of this key with another CSR: the host asks anew (a restart made a new CSR). */
static int
older_one(const struct pending_req *r, void *arg)
{
	struct older *o = arg;

	if (r->renewal && memcmp(r->key, o->key, WG_KEY_LEN) == 0 &&
	    memcmp(r->csr_sha256, o->sha, 32) != 0 && o->n < sizeof(o->ids) / sizeof(o->ids[0]))
		o->ids[o->n++] = r->id;
	return 0;
}

static void
reply_state(struct rpc_call *call, const struct pending_req *r)
{
	const struct enroll_extra *x = enroll_extra(r);

	if (r->state == PENDING_APPROVED)
		renew_reply(call, r->id, WIRESYNC__V1__RENEW_STATE__RENEW_ISSUED, x->cert,
		    x->cert_len, NULL, 0, NULL);
	else if (r->state == PENDING_DENIED)
		renew_reply(call, r->id, WIRESYNC__V1__RENEW_STATE__RENEW_DENIED, NULL, 0, NULL, 0,
		    x->reason);
	else
		renew_reply(call, r->id, WIRESYNC__V1__RENEW_STATE__RENEW_WAITING, NULL, 0, NULL, 0,
		    NULL);
}

/* A new renewal request of the caller; NULL with the call failed. */
static const struct pending_req *
renew_add(struct enroll *e, struct rpc_call *call, const struct agent_conn *ac,
    const uint8_t *csr, size_t csr_len, const uint8_t sha[32])
{
	struct older o = { ac->id.key, sha, { 0 }, 0 };
	const struct pending_req *r = NULL;
	struct enroll_extra *x = NULL;
	struct netaddr src = { 0 };
	uint8_t *cur = NULL;
	unsigned char *der = NULL;
	int n = i2d_X509(rpc_conn_peer_cert(ac->rc), &der);

	pending_foreach(e->t, older_one, &o);
	for (size_t i = 0; i < o.n; i++) {
		enroll_store_drop(e, o.ids[i]);
		pending_remove(e->t, o.ids[i]);
		log_info("%s: renewal request %llu replaced by a new CSR", ac->id.name,
		    (unsigned long long)o.ids[i]);
	}
	netaddr_from_sockaddr(rpc_call_peer(call), &src);
	if (n <= 0 || (cur = malloc((size_t)n)) == NULL || (x = calloc(1, sizeof(*x))) == NULL ||
	    (x->csr = malloc(csr_len)) == NULL) {
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		goto fail;
	}
	memcpy(cur, der, (size_t)n);
	switch (pending_add_renewal(e->t, ac->id.name, ac->id.key, sha, &src, (int64_t)time(NULL),
	    cur, (size_t)n, &r)) {
	case PENDING_ADDED:
		cur = NULL;
		break;
	case PENDING_FULL:
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "%zu join requests are kept already "
		    "(enroll_max_pending): try again later", e->max_pending);
		goto fail;
	default:
		rpc_call_fail(call, GRPC_ALREADY_EXISTS, "name: a join request for %s or its "
		    "WireGuard key is waiting (wiresyncctl pending): the operator decides it first",
		    ac->id.name);
		goto fail;
	}
	memcpy(x->csr, csr, csr_len);
	x->csr_len = csr_len;
	snprintf(x->network, sizeof(x->network), "%s", ac->id.network);
	/* the addresses are the current certificate's: Approve checks the new one has them */
	memcpy(x->ips, ac->id.tunnel, ac->id.n_tunnel * sizeof(x->ips[0]));
	x->n_ips = ac->id.n_tunnel;
	pending_set_user(e->t, r->id, x);
	x = NULL;
	if (enroll_store_save(e, r, enroll_extra(r)) < 0) {
		pending_remove(e->t, r->id);
		rpc_call_fail(call, GRPC_UNAVAILABLE, "store write failed: the renewal request is "
		    "not kept; try again");
		r = NULL;
		goto fail;
	}
	log_info("renewal request %llu from %s (%s), certificate serial %s: waiting for the "
	    "operator (wiresyncctl approve --renewals)", (unsigned long long)r->id, ac->id.name,
	    ac->id.network, ac->id.serial);
	OPENSSL_free(der);
	return r;
fail:
	if (x != NULL)
		free(x->csr);
	free(x);
	free(cur);
	OPENSSL_free(der);
	return NULL;
}

static void
renew_wait(struct enroll *e, struct rpc_call *call, const struct agent_conn *ac,
    const uint8_t *csr, size_t csr_len)
{
	const struct pending_req *r;
	uint8_t sha[32];

	SHA256(csr, csr_len, sha);
	enroll_expire(e, (int64_t)time(NULL));
	if ((r = pending_by_csr(e->t, sha)) != NULL) {
		if (!r->renewal || memcmp(r->key, ac->id.key, WG_KEY_LEN) != 0) {
			rpc_call_fail(call, GRPC_FAILED_PRECONDITION, "csr: request %llu with this "
			    "CSR is not a renewal of %s", (unsigned long long)r->id, ac->id.name);
			return;
		}
		log_debug("%s: renewal request %llu polled (%s)", ac->id.name,
		    (unsigned long long)r->id, enroll_state_name(r->state));
		reply_state(call, r);
		return;
	}
	if ((r = renew_add(e, call, ac, csr, csr_len, sha)) != NULL)
		reply_state(call, r);
}

void
svc_handle_renew(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct service *svc = arg;
	const struct agent_conn *ac = rpc_call_conn_user(call);
	const struct issuer *is = service_issuer(svc);
	Wiresync__V1__RenewRequest *m;
	char err[256];
	uint32_t retry_ms;
	bool first;
	int st;

	/* the Update budget: a certificate holder cannot make us sign faster than this */
	if (svc->update_rate != NULL && !ratelimit_take(svc->update_rate, ac->ident,
	    loop_now_ms(svc->loop), &retry_ms, &first)) {
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "rate limit (update_rate_per_s %u): "
		    "retry in %u ms", svc->cfg.update_rate_per_s, retry_ms);
		return;
	}
	if (!ac->id.has_key) {
		log_warnx("%s (%s): Renew refused: an admin certificate", ac->id.name,
		    ac->id.network);
		rpc_call_fail(call, GRPC_PERMISSION_DENIED, "caller: an admin certificate binds no "
		    "WireGuard key and cannot renew itself (wiresync-ca admin NAME --force)");
		return;
	}
	if ((m = wiresync__v1__renew_request__unpack(NULL, len, req)) == NULL) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "RenewRequest does not decode");
		return;
	}
	if ((st = renew_csr_check(m->csr.data, m->csr.len, ac, err, sizeof(err))) != GRPC_OK) {
		log_info("%s (%s): Renew refused: %s", ac->id.name, ac->id.network, err);
		rpc_call_fail(call, st, "%s", err);
	} else if (is != NULL && strcmp(issuer_network(is), ac->id.network) == 0) {
		renew_issue(call, ac, is, m->csr.data, m->csr.len);
	} else if (svc->enroll == NULL) {
		rpc_call_fail(call, GRPC_FAILED_PRECONDITION, "this server keeps no requests and "
		    "has no online issuer: ask the operator for a new certificate");
	} else {
		renew_wait(svc->enroll, call, ac, m->csr.data, m->csr.len);
	}
	wiresync__v1__renew_request__free_unpacked(m, NULL);
}
