/* One CRL per CA, matched by signature at load, relayed per network, and warned about
 * before it goes stale. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "common/cert.h"
#include "rpc/grpc.h"
#include "rpc/log.h"
#include "rpc/tls.h"
#include "server/crl.h"
#include "server/peerpb.h"
#include "server/service.h"

struct crl_entry {
	X509_CRL *crl;
	char network[CERT_NAME_MAX + 1];
	char issuer[256];
	int64_t this_update, next_update;
	uint8_t sha256[SHA256_DIGEST_LENGTH];
	struct rpc_buf *event;         /* WatchEvent{crl}, framed */
};

struct crlset {
	struct crl_entry v[TLS_CRL_MAX];
	size_t n;
	STACK_OF(X509_CRL) *stack;
};

static void
name_line(const X509_NAME *n, char *buf, size_t len)
{
	if (X509_NAME_oneline(n, buf, (int)len) == NULL)
		snprintf(buf, len, "(unprintable name)");
}

static bool
is_ca(X509 *x)
{
	return X509_check_ca(x) > 0;
}

/* The CA of cas whose subject is crl's issuer and whose key signed it, or NULL. */
static X509 *
crl_signer(X509_STORE *cas, X509_CRL *crl)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(cas);

	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509 *ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
		EVP_PKEY *key;
		if (ca == NULL || !is_ca(ca) ||
		    X509_NAME_cmp(X509_get_subject_name(ca), X509_CRL_get_issuer(crl)) != 0)
			continue;
		key = X509_get0_pubkey(ca);
		if (key != NULL && X509_CRL_verify(crl, key) == 1)
			return ca;
	}
	ERR_clear_error();
	return NULL;
}

static const struct crl_entry *
entry_of_issuer(const struct crlset *s, const X509_NAME *issuer)
{
	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		if (X509_NAME_cmp(X509_CRL_get_issuer(s->v[i].crl), issuer) == 0)
			return &s->v[i];
	return NULL;
}

static int
entry_init(struct crl_entry *e, X509_CRL *crl, uint64_t revision)
{
	unsigned char *der = NULL;
	char org[CERT_NAME_MAX + 2];
	int len;

	e->crl = crl;
	name_line(X509_CRL_get_issuer(crl), e->issuer, sizeof(e->issuer));
	if (X509_NAME_get_text_by_NID(X509_CRL_get_issuer(crl), NID_organizationName, org,
	    sizeof(org)) > 0 && strlen(org) <= CERT_NAME_MAX)
		snprintf(e->network, sizeof(e->network), "%s", org);
	e->this_update = cert_asn1_time_s(X509_CRL_get0_lastUpdate(crl));
	e->next_update = cert_asn1_time_s(X509_CRL_get0_nextUpdate(crl));
	len = i2d_X509_CRL(crl, &der);
	if (len <= 0)
		return -ENOMEM;
	SHA256(der, (size_t)len, e->sha256);
	e->event = peerpb_event_crl(der, (size_t)len, revision);
	OPENSSL_free(der);
	return e->event != NULL ? 0 : -ENOMEM;
}

struct crlset *
crlset_read(const char *path, X509_STORE *cas, uint64_t revision, char *err, size_t errlen)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(cas);
	struct crlset *s;
	char name[256];

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->stack = tls_crls_read(path, err, errlen);
	if (s->stack == NULL)
		goto fail;
	for (int i = 0; i < sk_X509_CRL_num(s->stack); i++) {
		X509_CRL *crl = sk_X509_CRL_value(s->stack, i);
		name_line(X509_CRL_get_issuer(crl), name, sizeof(name));
		if (crl_signer(cas, crl) == NULL) {
			snprintf(err, errlen, "%s: CRL %d (issuer %s) is not signed by any CA of the "
			    "'ca' file: drop it, or add its CA", path, i + 1, name);
			goto fail;
		}
		if (entry_of_issuer(s, X509_CRL_get_issuer(crl)) != NULL) {
			snprintf(err, errlen, "%s: two CRLs of CA %s (CRL %d is the second): keep only "
			    "the newest", path, name, i + 1);
			goto fail;
		}
		if (entry_init(&s->v[s->n++], crl, revision) < 0) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509 *ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
		if (ca == NULL || !is_ca(ca) || entry_of_issuer(s, X509_get_subject_name(ca)) != NULL)
			continue;
		name_line(X509_get_subject_name(ca), name, sizeof(name));
		snprintf(err, errlen, "%s: no CRL of CA %s: with CRL checking on, every CA needs its "
		    "own; make it where that CA lives (wiresync-ca -d DIR crl) and append its ca.crl "
		    "to this file", path, name);
		goto fail;
	}
	return s;
fail:
	crlset_del(s);
	return NULL;
}

void
crlset_del(struct crlset *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		rpc_buf_unref(s->v[i].event);
	sk_X509_CRL_pop_free(s->stack, X509_CRL_free);
	free(s);
}

STACK_OF(X509_CRL) *
crlset_stack(const struct crlset *s)
{
	return s->stack;
}

bool
crlset_revokes(const struct crlset *s, X509 *x)
{
	const struct crl_entry *e = entry_of_issuer(s, X509_get_issuer_name(x));
	X509_REVOKED *rev;

	return e != NULL && X509_CRL_get0_by_serial(e->crl, &rev, X509_get0_serialNumber(x)) == 1;
}

int64_t
crlset_next_update_of(const struct crlset *s, X509 *x)
{
	const struct crl_entry *e = entry_of_issuer(s, X509_get_issuer_name(x));

	return e != NULL ? e->next_update : 0;
}

size_t
crlset_count(const struct crlset *s)
{
	return s != NULL ? s->n : 0;
}

void
crlset_info(const struct crlset *s, size_t i, struct crl_info *out)
{
	const struct crl_entry *e = &s->v[i];
	STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(e->crl);

	out->network = e->network;
	out->issuer = e->issuer;
	out->this_update = e->this_update;
	out->next_update = e->next_update;
	out->revoked = rev != NULL ? sk_X509_REVOKED_num(rev) : 0;
}

bool
crlset_network_times(const struct crlset *s, const char *network, int64_t *this_update,
    int64_t *next_update)
{
	bool found = false;

	*this_update = 0;
	*next_update = 0;
	for (size_t i = 0; s != NULL && i < s->n; i++) {
		const struct crl_entry *e = &s->v[i];
		if (strcmp(e->network, network) != 0)
			continue;
		if (!found || e->this_update < *this_update)
			*this_update = e->this_update;
		if (e->next_update > 0 && (*next_update == 0 || e->next_update < *next_update))
			*next_update = e->next_update;
		found = true;
	}
	return found;
}

int64_t
crlset_next_stale(const struct crlset *s, int64_t now)
{
	int64_t next = 0;

	for (size_t i = 0; s != NULL && i < s->n; i++) {
		int64_t t = s->v[i].next_update;
		if (t > now && (next == 0 || t < next))
			next = t;
	}
	return next;
}

/* The digests of network's CRLs in a and b, as sets (a network has few CAs). */
bool
crlset_changed(const struct crlset *a, const struct crlset *b, const char *network)
{
	size_t na = 0, nb = 0;

	for (size_t i = 0; a != NULL && i < a->n; i++) {
		bool in_b = false;
		if (strcmp(a->v[i].network, network) != 0)
			continue;
		na++;
		for (size_t j = 0; b != NULL && j < b->n && !in_b; j++)
			in_b = memcmp(a->v[i].sha256, b->v[j].sha256, SHA256_DIGEST_LENGTH) == 0;
		if (!in_b)
			return true;
	}
	for (size_t j = 0; b != NULL && j < b->n; j++)
		if (strcmp(b->v[j].network, network) == 0)
			nb++;
	return na != nb;
}

bool
crlset_equal(const struct crlset *a, const struct crlset *b)
{
	if (crlset_count(a) != crlset_count(b))
		return false;
	for (size_t i = 0; a != NULL && i < a->n; i++)
		if (crlset_changed(a, b, a->v[i].network))
			return false;
	return true;
}

int
crlset_send(const struct crlset *s, const char *network, struct rpc_call *call,
    const uint8_t *held, size_t held_len)
{
	const struct crl_entry *only = NULL;
	size_t n = 0;

	for (size_t i = 0; s != NULL && i < s->n; i++) {
		if (strcmp(s->v[i].network, network) == 0) {
			only = &s->v[i];
			n++;
		}
	}
	/* the agent reports one digest: it can hold "this very CRL" only for one */
	if (n == 1 && held != NULL && held_len == SHA256_DIGEST_LENGTH &&
	    memcmp(held, only->sha256, SHA256_DIGEST_LENGTH) == 0)
		return 0;
	for (size_t i = 0; s != NULL && i < s->n; i++)
		if (strcmp(s->v[i].network, network) == 0 &&
		    rpc_call_send(call, s->v[i].event, 0) < 0)
			return -ENOMEM;
	return 0;
}

static void
iso_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
}

size_t
crlset_log_stale(const struct crlset *s, int64_t now, unsigned warn_days, const char *path,
    bool refuse)
{
	size_t logged = 0;
	char when[40];

	for (size_t i = 0; s != NULL && i < s->n; i++) {
		const struct crl_entry *e = &s->v[i];
		struct crl_info info;
		if (e->next_update == 0)
			continue;
		crlset_info(s, i, &info);
		iso_time(e->next_update, when, sizeof(when));
		if (now >= e->next_update) {
			log_warnx("CRL of CA %s (network %s) in %s is past its nextUpdate %s: %s its %d "
			    "revocations; %s. Renew it where the CA lives (wiresync-ca -d DIR crl) "
			    "and put the new ca.crl in %s", e->issuer, e->network, path, when,
			    refuse ? "crl_stale = refuse:" : "still enforcing", info.revoked,
			    refuse ? "new connections of that network are refused until a fresh "
			    "CRL is in force" : "the mesh keeps working (crl_stale = keep)", path);
			logged++;
		} else if (e->next_update - now < cert_crl_warn_window(e->this_update, e->next_update,
		    warn_days)) {
			log_warnx("CRL of CA %s (network %s) in %s goes stale in %lld days (nextUpdate "
			    "%s): renew it where the CA lives (wiresync-ca -d DIR crl, or enable "
			    "wiresync-ca-crl.timer there) and put the new ca.crl in %s", e->issuer,
			    e->network, path, (long long)((e->next_update - now) / 86400), when, path);
			logged++;
		}
	}
	return logged;
}

/* --- crl_stale = refuse ----------------------------------------------------------------- */

struct gate {
	const struct rpc_method *inner;
	struct service *svc;
};

static void
gate_handle(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	const struct gate *g = arg;
	char why[400];

	if (!service_call_admitted(g->svc, call, why, sizeof(why))) {
		rpc_call_fail(call, GRPC_UNAVAILABLE, "%s", why);
		return;
	}
	g->inner->handler(call, req, len, g->inner->arg);
}

struct rpc_method *
crl_gate_methods(const struct rpc_method *methods, size_t n, struct service *svc)
{
	struct rpc_method *out;
	struct gate *g;

	/* one block: the methods, then their gates */
	out = calloc(n > 0 ? n : 1, sizeof(*out) + sizeof(*g));
	if (out == NULL)
		return NULL;
	g = (struct gate *)(out + n);
	for (size_t i = 0; i < n; i++) {
		g[i].inner = &methods[i];
		g[i].svc = svc;
		out[i] = methods[i];
		out[i].handler = gate_handle;
		out[i].arg = &g[i];
	}
	return out;
}
