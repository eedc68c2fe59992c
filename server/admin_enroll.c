/* wiresync.v1.Admin's calls on join requests (issue 13): ListPending, PrepareApproval
 * (reserves tunnel addresses from the network's pool), Approve (takes the certificate the
 * operator signed with the CA and checks it against the request and the reservation) and
 * Deny. An admin sees and decides the requests of its own network only. Each decision is
 * saved in the store (enroll_store.c) before it is applied and answered. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <netdb.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "proto/admin.pb-c.h"
#include "rpc/grpc.h"
#include "rpc/log.h"
#include "server/admin_impl.h"
#include "server/audit.h"
#include "server/enroll_impl.h"
#include "server/peers.h"

/* The caller's request id of e; NULL with the call failed (NOT_FOUND for an id that is
 * not a request of the caller's network). */
static const struct pending_req *
find_req(struct enroll *e, struct rpc_call *call, const struct agent_conn *ac, uint64_t id)
{
	const struct pending_req *r;

	if (e == NULL) {
		rpc_call_fail(call, GRPC_FAILED_PRECONDITION, "this server takes no join requests");
		return NULL;
	}
	enroll_expire(e, (int64_t)time(NULL));
	r = pending_get(e->t, id);
	if (r == NULL || strcmp(enroll_extra(r)->network, ac->id.network) != 0) {
		rpc_call_fail(call, GRPC_NOT_FOUND, "id: no join request %llu in network %s (it "
		    "may have expired: enroll_max_age_s)", (unsigned long long)id, ac->id.network);
		return NULL;
	}
	return r;
}

static bool
require_waiting(struct rpc_call *call, const struct pending_req *r)
{
	if (r->state == PENDING_WAITING)
		return true;
	rpc_call_fail(call, GRPC_FAILED_PRECONDITION, "id: join request %llu (%s) is %s already",
	    (unsigned long long)r->id, r->name, enroll_state_name(r->state));
	return false;
}

/* --- PendingJoin ------------------------------------------------------------------------ */

struct pj {
	Wiresync__V1__PendingJoin m;
	char source[NETADDR_STRLEN];
	char ips[CERT_TUNNEL_MAX][NETADDR_STRLEN];
	char *ipp[CERT_TUNNEL_MAX];
};

/* A renewal whose CSR keeps the name and the TLS key of the certificate it connected
 * with: what approve --renewals signs without asking. */
static bool
renewal_unchanged(const struct pending_req *r, const struct enroll_extra *x)
{
	const unsigned char *p = r->current, *q = x->csr;
	X509 *cur = r->current_len > 0 ? d2i_X509(NULL, &p, (long)r->current_len) : NULL;
	X509_REQ *csr = d2i_X509_REQ(NULL, &q, (long)x->csr_len);
	struct cert_identity id;
	char err[160];
	bool same = cur != NULL && csr != NULL && X509_REQ_get0_pubkey(csr) != NULL &&
	    EVP_PKEY_eq(X509_get0_pubkey(cur), X509_REQ_get0_pubkey(csr)) == 1 &&
	    cert_identity_from_x509(cur, &id, err, sizeof(err)) && strcmp(id.name, r->name) == 0 &&
	    id.has_key && memcmp(id.key, r->key, WG_KEY_LEN) == 0;

	X509_REQ_free(csr);
	X509_free(cur);
	return same;
}

/* Fills p from r; the strings point into p and r. */
static void
pj_fill(struct pj *p, const struct pending_req *r)
{
	const struct enroll_extra *x = enroll_extra(r);

	wiresync__v1__pending_join__init(&p->m);
	p->m.id = r->id;
	p->m.name = (char *)r->name;
	p->m.public_key.data = (uint8_t *)r->key;
	p->m.public_key.len = WG_KEY_LEN;
	p->m.code = (char *)r->code;
	p->m.source = netaddr_format(&r->source, false, p->source);
	p->m.created = r->created_s;
	p->m.csr.data = x->csr;
	p->m.csr.len = x->csr_len;
	p->m.network = (char *)x->network;
	p->m.state = (char *)enroll_state_name(r->state);
	for (size_t i = 0; i < x->n_ips; i++)
		p->ipp[i] = netaddr_format(&x->ips[i], false, p->ips[i]);
	p->m.n_reserved_ips = x->n_ips;
	p->m.reserved_ips = p->ipp;
	if (r->renewal) {
		p->m.renewal = true;
		p->m.current_certificate.data = r->current;
		p->m.current_certificate.len = r->current_len;
		p->m.unchanged = renewal_unchanged(r, x);
	}
}

/* Replies with a message whose field 1 is r's PendingJoin (the three replies' shape). */
static void
reply_join(struct rpc_call *call, const struct pending_req *r)
{
	Wiresync__V1__PrepareApprovalReply m = WIRESYNC__V1__PREPARE_APPROVAL_REPLY__INIT;
	struct pj p;
	uint8_t *out;
	size_t n;

	pj_fill(&p, r);
	m.join = &p.m;
	n = wiresync__v1__prepare_approval_reply__get_packed_size(&m);
	if ((out = malloc(n)) == NULL) {
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	wiresync__v1__prepare_approval_reply__pack(&m, out);
	rpc_call_reply(call, out, n);
	free(out);
}

struct list {
	const char *network;
	struct pj *v;
	Wiresync__V1__PendingJoin **pv;
	size_t n;
};

static int
list_one(const struct pending_req *r, void *arg)
{
	struct list *l = arg;

	if (strcmp(enroll_extra(r)->network, l->network) != 0)
		return 0;
	pj_fill(&l->v[l->n], r);
	l->pv[l->n] = &l->v[l->n].m;
	l->n++;
	return 0;
}

void
adm_handle_list_pending(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct admin *a = arg;
	struct enroll *e = a->enroll;
	const struct agent_conn *ac = adm_caller(call);
	Wiresync__V1__ListPendingReply m = WIRESYNC__V1__LIST_PENDING_REPLY__INIT;
	struct list l = { NULL, NULL, NULL, 0 };
	size_t cap = e != NULL ? pending_count(e->t) : 0, n;
	uint8_t *out = NULL;

	(void)req;
	(void)len;
	if (ac == NULL)
		return;
	if (e != NULL)
		enroll_expire(e, (int64_t)time(NULL));
	l.network = ac->id.network;
	l.v = calloc(cap + 1, sizeof(*l.v));
	l.pv = calloc(cap + 1, sizeof(*l.pv));
	if (l.v != NULL && l.pv != NULL && e != NULL)
		pending_foreach(e->t, list_one, &l);
	m.n_pending = l.n;
	m.pending = l.pv;
	n = wiresync__v1__list_pending_reply__get_packed_size(&m);
	if (l.v == NULL || l.pv == NULL || (out = malloc(n > 0 ? n : 1)) == NULL) {
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
	} else {
		wiresync__v1__list_pending_reply__pack(&m, out);
		rpc_call_reply(call, out, n);
	}
	free(out);
	free(l.pv);
	free(l.v);
}

/* --- PrepareApproval -------------------------------------------------------------------- */

struct taken {
	struct enroll *e;
	const char *network;
	uint64_t self;               /* the request reserving: its own addresses are not taken */
	const struct netaddr *picked;
	size_t n_picked;
	const struct netaddr *a;     /* reserved_one: the address looked for */
};

static int
reserved_one(const struct pending_req *r, void *arg)
{
	const struct taken *t = arg;
	const struct enroll_extra *x = enroll_extra(r);

	if (r->id == t->self || r->state == PENDING_DENIED || strcmp(x->network, t->network) != 0)
		return 0;
	for (size_t i = 0; i < x->n_ips; i++)
		if (netaddr_equal(&x->ips[i], t->a))
			return 1;
	return 0;
}

/* Why a is not free in the network: a stored peer or another request has it; NULL when
 * it is free. */
static const char *
taken_by(struct taken *t, const struct netaddr *a, char *buf, size_t len)
{
	const struct peer *p = peer_table_find_tunnel(t->e->svc->peers, t->network, a, NULL);

	if (p != NULL) {
		snprintf(buf, len, "the enrolled peer %s has it", p->name);
		return buf;
	}
	for (size_t i = 0; i < t->n_picked; i++)
		if (netaddr_equal(&t->picked[i], a)) {
			snprintf(buf, len, "given twice");
			return buf;
		}
	t->a = a;
	if (pending_foreach(t->e->t, reserved_one, t) != 0) {
		snprintf(buf, len, "reserved for another join request");
		return buf;
	}
	return NULL;
}

static bool
taken_fn(const struct netaddr *a, void *arg)
{
	char why[96];

	return taken_by(arg, a, why, sizeof(why)) != NULL;
}

int
enroll_pick_free(struct enroll *e, const char *network, uint64_t self,
    struct netaddr ips[CERT_TUNNEL_MAX], size_t *n, char *err, size_t errlen)
{
	const struct pool *pool = enroll_pool(e, network);
	struct taken t = { e, network, self, ips, 0, NULL };
	char txt[NETADDR_STRLEN];

	*n = 0;
	if (pool == NULL) {
		snprintf(err, errlen, "ips: network %s has no pool (pool = %s CIDR in the server "
		    "config): give the addresses", network, network);
		return GRPC_FAILED_PRECONDITION;
	}
	for (size_t k = 0; k < pool->n; k++) {
		t.n_picked = *n;
		if (!pool_next_free(&pool->range[k], taken_fn, &t, 0, &ips[*n])) {
			snprintf(err, errlen, "ips: the pool range %s of network %s is full",
			    netaddr_format(&pool->range[k], true, txt), network);
			return GRPC_RESOURCE_EXHAUSTED;
		}
		(*n)++;
	}
	return GRPC_OK;
}

/* The addresses m asks for, or the next free one of each pool range, into ips; false
 * with the call failed. */
static bool
pick_ips(struct enroll *e, struct rpc_call *call, const struct pending_req *r,
    const Wiresync__V1__PrepareApprovalRequest *m, struct netaddr ips[CERT_TUNNEL_MAX],
    size_t *n)
{
	const struct enroll_extra *x = enroll_extra(r);
	const struct pool *pool = enroll_pool(e, x->network);
	struct taken t = { e, x->network, r->id, ips, 0, NULL };
	char why[160], txt[NETADDR_STRLEN];
	int st;

	*n = 0;
	if (m->n_ips > CERT_TUNNEL_MAX) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "ips: at most %d addresses, got %zu",
		    CERT_TUNNEL_MAX, m->n_ips);
		return false;
	}
	for (size_t i = 0; i < m->n_ips; i++) {
		struct netaddr a;
		bool inside = pool == NULL;
		if (!netaddr_parse(m->ips[i], false, &a, why, sizeof(why))) {
			rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "ips: %s", why);
			return false;
		}
		for (size_t k = 0; pool != NULL && k < pool->n; k++)
			inside = inside || pool_contains(&pool->range[k], &a);
		if (!inside) {
			rpc_call_fail(call, GRPC_FAILED_PRECONDITION, "ips: %s is outside the pool "
			    "of network %s", netaddr_format(&a, false, txt), x->network);
			return false;
		}
		t.n_picked = *n;
		if (taken_by(&t, &a, why, sizeof(why)) != NULL) {
			rpc_call_fail(call, GRPC_FAILED_PRECONDITION, "ips: %s is taken in network "
			    "%s: %s", netaddr_format(&a, false, txt), x->network, why);
			return false;
		}
		ips[(*n)++] = a;
	}
	if (m->n_ips > 0)
		return true;
	if ((st = enroll_pick_free(e, x->network, r->id, ips, n, why, sizeof(why))) != GRPC_OK) {
		rpc_call_fail(call, st, "%s", why);
		return false;
	}
	return true;
}

void
adm_handle_prepare_approval(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct admin *a = arg;
	const struct agent_conn *ac = adm_caller(call);
	Wiresync__V1__PrepareApprovalRequest *m;
	const struct pending_req *r;
	struct enroll_extra *x;
	struct netaddr ips[CERT_TUNNEL_MAX];
	char list[CERT_TUNNEL_MAX * (NETADDR_STRLEN + 2)] = "", txt[NETADDR_STRLEN];
	size_t n;

	if (ac == NULL)
		return;
	if ((m = wiresync__v1__prepare_approval_request__unpack(NULL, len, req)) == NULL) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "PrepareApprovalRequest does not decode");
		return;
	}
	if ((r = find_req(a->enroll, call, ac, m->id)) == NULL || !require_waiting(call, r))
		goto out;
	if (r->renewal) {
		/* a renewal keeps its addresses: they were set when it was made */
		if (m->n_ips > 0) {
			rpc_call_fail(call, GRPC_FAILED_PRECONDITION, "ips: request %llu is a renewal "
			    "of %s: it keeps the addresses of its current certificate",
			    (unsigned long long)r->id, r->name);
			goto out;
		}
		reply_join(call, r);
		goto out;
	}
	if (!pick_ips(a->enroll, call, r, m, ips, &n))
		goto out;
	x = enroll_extra(r);
	{
		struct enroll_extra next = *x;
		memcpy(next.ips, ips, n * sizeof(ips[0]));
		next.n_ips = n;
		if (enroll_store_save(a->enroll, r, &next) < 0) {
			rpc_call_fail(call, GRPC_UNAVAILABLE, "store write failed: nothing reserved");
			goto out;
		}
	}
	memcpy(x->ips, ips, n * sizeof(ips[0]));
	x->n_ips = n;
	for (size_t i = 0; i < n; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
		    netaddr_format(&ips[i], false, txt));
	log_info("%s (%s) reserved %s for join request %llu (%s)", ac->id.name, ac->id.network,
	    list, (unsigned long long)r->id, r->name);
	reply_join(call, r);
out:
	wiresync__v1__prepare_approval_request__free_unpacked(m, NULL);
}

/* --- Approve, Deny ---------------------------------------------------------------------- */

/* Whether the certificate's IP SANs are exactly the reserved addresses. */
static bool
same_ips(const struct cert_identity *id, const struct enroll_extra *x)
{
	if (id->n_tunnel != x->n_ips)
		return false;
	for (size_t i = 0; i < x->n_ips; i++) {
		bool found = false;
		for (size_t k = 0; k < id->n_tunnel && !found; k++)
			found = netaddr_equal(&id->tunnel[k], &x->ips[i]);
		if (!found)
			return false;
	}
	return true;
}

/* A renewal's certificate c carries exactly the groups of the current one. */
static bool
same_groups(const struct cert_identity *c, const struct pending_req *r)
{
	struct cert_identity cur;
	char err[160];

	if (!cert_identity_from_der(r->current, r->current_len, &cur, err, sizeof(err)) ||
	    cur.n_groups != c->n_groups)
		return false;
	for (size_t i = 0; i < cur.n_groups; i++) {
		bool found = false;
		for (size_t k = 0; k < c->n_groups && !found; k++)
			found = strcmp(cur.groups[i], c->groups[k]) == 0;
		if (!found)
			return false;
	}
	return true;
}

int
enroll_cert_check(struct enroll *e, const struct pending_req *r, const struct enroll_extra *x,
    const uint8_t *der, size_t len, STACK_OF(X509) *untrusted, uint8_t **ca, size_t *ca_len,
    char *err, size_t errlen)
{
	const unsigned char *p = der, *q = x->csr;
	X509_STORE_CTX *sctx = NULL;
	X509_REQ *csr = NULL;
	X509 *c = NULL;
	STACK_OF(X509) *chain;
	struct cert_identity id;
	int st = GRPC_FAILED_PRECONDITION, n;

	*ca = NULL;
	if (len == 0 || (c = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len) {
		snprintf(err, errlen, "certificate: not one DER X.509 certificate");
		st = GRPC_INVALID_ARGUMENT;
		goto out;
	}
	if ((csr = d2i_X509_REQ(NULL, &q, (long)x->csr_len)) == NULL ||
	    (sctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(sctx, SSL_CTX_get_cert_store(e->ctx), c, untrusted) != 1) {
		snprintf(err, errlen, "out of memory");
		st = GRPC_RESOURCE_EXHAUSTED;
		goto out;
	}
	X509_STORE_CTX_set_purpose(sctx, X509_PURPOSE_SSL_CLIENT);
	if (X509_verify_cert(sctx) != 1) {
		snprintf(err, errlen, "certificate: does not verify against the server's CA: %s",
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(sctx)));
		goto out;
	}
	if (!cert_identity_from_x509(c, &id, err, errlen))
		goto out;
	if (strcmp(id.name, r->name) != 0 || strcmp(id.network, x->network) != 0) {
		snprintf(err, errlen, "certificate: CN %s, O %s is not the request's %s, %s",
		    id.name, id.network, r->name, x->network);
	} else if (X509_REQ_get0_pubkey(csr) == NULL ||
	    EVP_PKEY_eq(X509_get0_pubkey(c), X509_REQ_get0_pubkey(csr)) != 1) {
		snprintf(err, errlen, "certificate: its public key is not the CSR's");
	} else if (!id.has_key || id.admin || memcmp(id.key, r->key, WG_KEY_LEN) != 0) {
		snprintf(err, errlen, "certificate: its %s SAN is not the request's WireGuard key",
		    CERT_URI_KEY_PREFIX);
	} else if (!same_ips(&id, x)) {
		snprintf(err, errlen, "certificate: its IP addresses are not the %zu reserved for "
		    "request %llu (PendingJoin.reserved_ips)", x->n_ips, (unsigned long long)r->id);
	} else if (r->renewal && !same_groups(&id, r)) {
		snprintf(err, errlen, "certificate: its %s SANs are not those of the current "
		    "certificate of %s (a renewal keeps the groups)", CERT_URI_GROUP_PREFIX,
		    r->name);
	} else {
		chain = X509_STORE_CTX_get0_chain(sctx);
		n = i2d_X509(sk_X509_value(chain, sk_X509_num(chain) - 1), ca);
		if (n <= 0) {
			snprintf(err, errlen, "out of memory");
			st = GRPC_RESOURCE_EXHAUSTED;
			goto out;
		}
		*ca_len = (size_t)n;
		st = GRPC_OK;
	}
out:
	X509_STORE_CTX_free(sctx);
	X509_REQ_free(csr);
	X509_free(c);
	return st;
}

void
adm_handle_approve(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct admin *a = arg;
	const struct agent_conn *ac = adm_caller(call);
	Wiresync__V1__ApproveRequest *m;
	const struct pending_req *r;
	struct enroll_extra *x;
	uint8_t *ca = NULL;
	size_t ca_len = 0;
	char why[512], ips[AUDIT_ADDRS_MAX];
	int st;

	if (ac == NULL)
		return;
	if ((m = wiresync__v1__approve_request__unpack(NULL, len, req)) == NULL) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "ApproveRequest does not decode");
		return;
	}
	if ((r = find_req(a->enroll, call, ac, m->id)) == NULL || !require_waiting(call, r))
		goto out;
	x = enroll_extra(r);
	if (x->n_ips == 0) {
		rpc_call_fail(call, GRPC_FAILED_PRECONDITION, "ips: no address is reserved for "
		    "join request %llu: call PrepareApproval first", (unsigned long long)r->id);
		goto out;
	}
	st = enroll_cert_check(a->enroll, r, x, m->certificate.data, m->certificate.len, NULL,
	    &ca, &ca_len, why, sizeof(why));
	if (st == GRPC_OK) {
		struct enroll_extra next = *x;
		struct pending_req approved = *r;
		next.cert = m->certificate.data;
		next.cert_len = m->certificate.len;
		next.ca = ca;
		next.ca_len = ca_len;
		approved.state = PENDING_APPROVED;
		if (enroll_store_save(a->enroll, &approved, &next) < 0) {
			rpc_call_fail(call, GRPC_UNAVAILABLE, "store write failed: join request "
			    "%llu is not approved", (unsigned long long)r->id);
			OPENSSL_free(ca);
			goto out;
		}
	}
	if (st != GRPC_OK || (x->cert = malloc(m->certificate.len)) == NULL) {
		log_warnx("%s (%s): approval of %s request %llu (%s) refused: %s", ac->id.name,
		    ac->id.network, r->renewal ? "renewal" : "join", (unsigned long long)r->id,
		    r->name,
		    st != GRPC_OK ? why : "out of memory");
		rpc_call_fail(call, st != GRPC_OK ? st : GRPC_RESOURCE_EXHAUSTED, "%s",
		    st != GRPC_OK ? why : "out of memory");
		OPENSSL_free(ca);
		goto out;
	}
	memcpy(x->cert, m->certificate.data, m->certificate.len);
	x->cert_len = m->certificate.len;
	x->ca = malloc(ca_len);
	if (x->ca != NULL) {
		memcpy(x->ca, ca, ca_len);
		x->ca_len = ca_len;
	}
	OPENSSL_free(ca);
	pending_set_state(a->enroll->t, r->id, PENDING_APPROVED);
	log_info("%s (%s) approved %s request %llu: %s code %s", ac->id.name, ac->id.network,
	    r->renewal ? "renewal" : "join", (unsigned long long)r->id, r->name, r->code);
	audit_record(a->svc, ac, ac->id.network, "approve", "%s %llu %s %s", r->renewal ?
	    "renewal" : "request", (unsigned long long)r->id, r->name,
	    audit_addrs(x->ips, x->n_ips, ips));
	reply_join(call, r);
out:
	wiresync__v1__approve_request__free_unpacked(m, NULL);
}

void
adm_handle_deny(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct admin *a = arg;
	const struct agent_conn *ac = adm_caller(call);
	Wiresync__V1__DenyRequest *m;
	const struct pending_req *r;
	struct enroll_extra *x;

	if (ac == NULL)
		return;
	if ((m = wiresync__v1__deny_request__unpack(NULL, len, req)) == NULL) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "DenyRequest does not decode");
		return;
	}
	if (strlen(m->reason) > ENROLL_REASON_MAX) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "reason: at most %d bytes, got %zu",
		    ENROLL_REASON_MAX, strlen(m->reason));
		goto out;
	}
	if ((r = find_req(a->enroll, call, ac, m->id)) == NULL || !require_waiting(call, r))
		goto out;
	x = enroll_extra(r);
	{
		struct enroll_extra next = *x;
		struct pending_req denied = *r;
		snprintf(next.reason, sizeof(next.reason), "%s", m->reason[0] != '\0' ?
		    m->reason : "denied by the operator");
		next.n_ips = 0;
		denied.state = PENDING_DENIED;
		if (enroll_store_save(a->enroll, &denied, &next) < 0) {
			rpc_call_fail(call, GRPC_UNAVAILABLE, "store write failed: join request "
			    "%llu is not denied", (unsigned long long)r->id);
			goto out;
		}
	}
	snprintf(x->reason, sizeof(x->reason), "%s", m->reason[0] != '\0' ? m->reason :
	    "denied by the operator");
	x->n_ips = 0;                /* the addresses are free again */
	pending_set_state(a->enroll->t, r->id, PENDING_DENIED);
	log_info("%s (%s) denied join request %llu: %s code %s (%s)", ac->id.name,
	    ac->id.network, (unsigned long long)r->id, r->name, r->code, x->reason);
	audit_record(a->svc, ac, ac->id.network, "deny", "%s %llu %s: %s", r->renewal ?
	    "renewal" : "request", (unsigned long long)r->id, r->name, x->reason);
	reply_join(call, r);
out:
	wiresync__v1__deny_request__free_unpacked(m, NULL);
}
