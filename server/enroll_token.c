/* Joins that present a join token (issue 13): with an online issuer (service_issuer) the
 * server approves them at once. The token is looked up by its SHA-256; an unknown,
 * expired or used-up token, or one of another network, is PERMISSION_DENIED and nothing is
 * kept. A valid one gets the next free pool addresses, a certificate from the issuer that
 * is checked exactly as an operator's approval is (enroll_cert_check), and is stored
 * together with the use it takes (store_token_use), then answered APPROVED. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "rpc/grpc.h"
#include "rpc/log.h"
#include "server/enroll_impl.h"
#include "server/issuer.h"
#include "server/token.h"

bool
enroll_token_usable(struct enroll *e, struct rpc_call *call, const char *text)
{
	if (service_issuer(e->svc) == NULL) {
		rpc_call_fail(call, GRPC_FAILED_PRECONDITION, "token: this server has no online "
		    "issuer (issuer_certificate): join without a token and wait for approval");
		return false;
	}
	if (!token_syntax_ok(text)) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "token: not a join token (%s and %d of "
		    "a-z 2-7, as wiresyncctl token create prints it)", TOKEN_PREFIX,
		    TOKEN_TEXT_LEN - (int)sizeof(TOKEN_PREFIX) + 1);
		return false;
	}
	return true;
}

/* A refused token: one log line a minute at most, a flood counted. */
static void
token_refused(struct enroll *e, const char *host, const char *name, const char *why)
{
	uint64_t held;

	if (!ratelog_event(&e->bad_tokens, (uint64_t)time(NULL) * 1000))
		return;
	held = ratelog_take_held(&e->bad_tokens);
	log_warnx("join from %s (name %s) refused: %s%s", host, name, why, held > 0 ?
	    " (and more bad tokens since the last such line)" : "");
}

bool
enroll_token_find(struct enroll *e, struct rpc_call *call, const char *text,
    const char *network, const char *name, const char *host, struct store_token *t)
{
	const struct issuer *is = service_issuer(e->svc);
	struct token_facts f;
	enum token_verdict v;
	uint8_t sha[32];
	char why[240];
	int64_t now = (int64_t)time(NULL);
	int ret;

	memset(t, 0, sizeof(*t));
	token_hash(text, sha);
	if ((ret = store_token_get(e->svc->store, sha, t)) < 0 && ret != -ENOENT) {
		rpc_call_fail(call, GRPC_UNAVAILABLE, "store read failed: the token cannot be "
		    "checked; try again");
		return false;
	}
	f.network = t->network;
	f.uses_left = t->uses_left;
	f.expires_s = t->expires_s;
	v = token_check(ret == 0 ? &f : NULL, network, now);
	if (v != TOKEN_VALID) {
		token_verdict_text(v, &f, network, now, why, sizeof(why));
		rpc_call_fail(call, GRPC_PERMISSION_DENIED, "%s", why);
		token_refused(e, host, name, why);
		return false;
	}
	if (is == NULL || strcmp(issuer_network(is), t->network) != 0) {
		rpc_call_fail(call, GRPC_FAILED_PRECONDITION, "token: the online issuer signs for "
		    "network %s, not the token's %s: ask the operator", is != NULL ?
		    issuer_network(is) : "(none)", t->network);
		return false;
	}
	return true;
}

/* Copies of der into *out (free()), false on ENOMEM. */
static bool
dup_der(const uint8_t *der, size_t len, uint8_t **out)
{
	if ((*out = malloc(len > 0 ? len : 1)) == NULL)
		return false;
	memcpy(*out, der, len);
	return true;
}

void
enroll_issued_free(struct enroll_issued *o)
{
	free(o->ca_copy);
	free(o->cert_copy);
	OPENSSL_free(o->ca);
	OPENSSL_free(o->der);
	memset(o, 0, sizeof(*o));
}

int
enroll_issue(struct enroll *e, const struct issuer *is, const struct pending_req *r,
    const struct enroll_extra *next, const char (*groups)[CERT_GROUP_MAX + 1], size_t n_groups,
    int64_t now, struct enroll_issued *out, char *err, size_t errlen)
{
	const struct enroll_extra *x = enroll_extra(r);
	struct issuer_profile p;
	STACK_OF(X509) *untrusted = NULL;
	char why[400];
	int st = GRPC_RESOURCE_EXHAUSTED;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	p.name = r->name;
	p.key = r->key;
	p.ips = next->ips;
	p.n_ips = next->n_ips;
	p.groups = groups;
	p.n_groups = n_groups;
	p.lifetime_s = (int64_t)e->issuer_days * 86400;
	if (issuer_sign(is, x->csr, x->csr_len, &p, now, &out->der, &out->len, why,
	    sizeof(why)) < 0) {
		snprintf(err, errlen, "issuer: the online issuer refused it: %s", why);
		st = GRPC_FAILED_PRECONDITION;
		goto fail;
	}
	if ((untrusted = sk_X509_new_null()) == NULL ||
	    !sk_X509_push(untrusted, issuer_cert(is))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((st = enroll_cert_check(e, r, next, out->der, out->len, untrusted, &out->ca,
	    &out->ca_len, why, sizeof(why))) != GRPC_OK) {
		snprintf(err, errlen, "issuer: the online issuer's certificate does not pass: %s",
		    why);
		goto fail;
	}
	if (!dup_der(out->der, out->len, &out->cert_copy) ||
	    !dup_der(out->ca, out->ca_len, &out->ca_copy)) {
		snprintf(err, errlen, "out of memory");
		st = GRPC_RESOURCE_EXHAUSTED;
		goto fail;
	}
	sk_X509_free(untrusted);
	return GRPC_OK;
fail:
	sk_X509_free(untrusted);
	enroll_issued_free(out);
	return st;
}

void
enroll_issued_take(struct enroll_extra *x, const struct enroll_extra *next,
    struct enroll_issued *o)
{
	memcpy(x->ips, next->ips, next->n_ips * sizeof(next->ips[0]));
	x->n_ips = next->n_ips;
	free(x->cert);
	free(x->ca);
	x->cert = o->cert_copy;
	x->cert_len = o->len;
	x->ca = o->ca_copy;
	x->ca_len = o->ca_len;
	o->cert_copy = o->ca_copy = NULL;
}

bool
enroll_token_approve(struct enroll *e, struct rpc_call *call, const struct pending_req *r,
    const struct store_token *t, const char *host)
{
	const struct issuer *is = service_issuer(e->svc);
	struct enroll_extra *x = enroll_extra(r), next = *x;
	struct pending_req approved = *r;
	struct enroll_issued o = { 0 };
	char why[512];
	int64_t now = (int64_t)time(NULL);
	int st, ret;
	bool ok = false;

	if ((st = enroll_pick_free(e, x->network, r->id, next.ips, &next.n_ips, why,
	    sizeof(why))) != GRPC_OK) {
		rpc_call_fail(call, st, "%s", why);
		goto out;
	}
	if ((st = enroll_issue(e, is, r, &next, t->groups, t->n_groups, now, &o, why,
	    sizeof(why))) != GRPC_OK) {
		log_warnx("join request %llu from %s (%s): %s", (unsigned long long)r->id, host,
		    r->name, why);
		rpc_call_fail(call, st, "%s", why);
		goto out;
	}
	next.cert = o.der;
	next.cert_len = o.len;
	next.ca = o.ca;
	next.ca_len = o.ca_len;
	approved.state = PENDING_APPROVED;
	if ((ret = enroll_store_save_token(e, &approved, &next, t->id, now)) < 0) {
		if (ret == -ESTALE)
			rpc_call_fail(call, GRPC_PERMISSION_DENIED, "token: used up or expired "
			    "just now: ask the operator for a new one (wiresyncctl token create)");
		else
			rpc_call_fail(call, GRPC_UNAVAILABLE, "store write failed: the join is not "
			    "approved and the token not used; try again");
		goto out;
	}
	enroll_issued_take(x, &next, &o);
	pending_set_state(e->t, r->id, PENDING_APPROVED);
	log_info("join request %llu from %s name %s code %s approved with join token %" PRIu64
	    " (network %s, %u use%s left before this one)", (unsigned long long)r->id, host,
	    r->name, r->code, t->id, x->network, t->uses_left, t->uses_left == 1 ? "" : "s");
	ok = true;
out:
	enroll_issued_free(&o);
	return ok;
}

bool
enroll_token_decide(struct enroll *e, struct rpc_call *call, const struct pending_req *r,
    const char *text, const char *host)
{
	struct store_token t;
	const struct enroll_extra *x = enroll_extra(r);

	return enroll_token_find(e, call, text, x->network, r->name, host, &t) &&
	    enroll_token_approve(e, call, r, &t, host);
}

size_t
enroll_chain_der(struct enroll *e, const struct enroll_extra *x, uint8_t **der)
{
	const struct issuer *is = service_issuer(e->svc);
	const unsigned char *p = x->cert;
	X509 *leaf;
	int n = 0;

	*der = NULL;
	if (is == NULL || x->cert_len == 0 ||
	    (leaf = d2i_X509(NULL, &p, (long)x->cert_len)) == NULL)
		return 0;
	/* a certificate the operator signed with the root needs no chain */
	if (X509_check_issued(issuer_cert(is), leaf) == X509_V_OK)
		n = i2d_X509(issuer_cert(is), der);
	X509_free(leaf);
	if (n <= 0) {
		*der = NULL;
		return 0;
	}
	return (size_t)n;
}
