/* wiresync.v1.Enroll on the join listener (server/enroll.h): a host without a certificate
 * sends its CSR and WireGuard key and polls with the same request until the operator has
 * decided. A new request is saved in the store (enroll_store.c) before it is answered;
 * one that presents a join token is approved and signed at once (enroll_token.c).
 * Nothing reaches WireSync or Admin: this listener's method table holds Join alone. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <netdb.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "common/policy.h"
#include "proto/enroll.pb-c.h"
#include "rpc/addrcount.h"
#include "rpc/grpc.h"
#include "rpc/log.h"
#include "server/enroll_impl.h"
#include "server/peers.h"

#define JOIN_PATH "/wiresync.v1.Enroll/Join"
#define ENROLL_CSR_MAX 8192
/* joining hosts hold a connection while they poll; the agents' port keeps its own budget */
#define ENROLL_MAX_CONNECTIONS 1024
/* one address (an IPv6 /64) holds at most this many of them, in the TLS handshake and
 * after it: as many as it may have requests waiting (server/pending.h max_per_source) */
#define ENROLL_CONNS_PER_ADDRESS 32
/* what the online issuer signs for a token join lives this long unless configured */
#define ENROLL_ISSUER_DAYS 30

const char *
enroll_state_name(enum pending_state st)
{
	return st == PENDING_APPROVED ? "approved" : st == PENDING_DENIED ? "denied" : "waiting";
}

const struct pool *
enroll_pool(const struct enroll *e, const char *network)
{
	for (size_t i = 0; i < e->n_pools; i++)
		if (strcmp(e->pools[i].network, network) == 0)
			return &e->pools[i];
	return NULL;
}

struct enroll_extra *
enroll_extra(const struct pending_req *r)
{
	return r->user;
}

void
enroll_extra_free(void *arg)
{
	struct enroll_extra *x = arg;

	if (x == NULL)
		return;
	free(x->csr);
	free(x->cert);
	free(x->ca);
	free(x);
}

/* --- the CSR ---------------------------------------------------------------------------- */

/* The CSR's CN into name when the CSR is DER PKCS#10, self-signed by an ECDSA P-256 key,
 * with one CN a host name; false with err naming what is wrong. */
static bool
csr_check(const uint8_t *der, size_t len, char name[CERT_NAME_MAX + 1], char *err,
    size_t errlen)
{
	const unsigned char *p = der;
	X509_REQ *req = len > 0 && len <= ENROLL_CSR_MAX ? d2i_X509_REQ(NULL, &p, (long)len) :
	    NULL;
	EVP_PKEY *key;
	X509_NAME *subj;
	char group[32] = "";
	int i, n;
	bool ok = false;

	if (len > ENROLL_CSR_MAX) {
		snprintf(err, errlen, "csr: %zu bytes, at most %d (a P-256 CSR takes a few hundred)",
		    len, ENROLL_CSR_MAX);
		goto out;
	}
	if (req == NULL || p != der + len) {
		snprintf(err, errlen, "csr: not a DER PKCS#10 certificate request (%zu bytes)", len);
		goto out;
	}
	key = X509_REQ_get0_pubkey(req);
	if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
	    EVP_PKEY_get_group_name(key, group, sizeof(group), NULL) != 1 ||
	    strcmp(group, "prime256v1") != 0) {
		snprintf(err, errlen, "csr: the key is not ECDSA P-256 (%s%s%s)",
		    key == NULL ? "none" : EVP_PKEY_get0_type_name(key) != NULL ?
		    EVP_PKEY_get0_type_name(key) : "unknown", group[0] ? " " : "", group);
		goto out;
	}
	if (X509_REQ_verify(req, key) != 1) {
		snprintf(err, errlen, "csr: its signature does not verify with its key");
		goto out;
	}
	subj = X509_REQ_get_subject_name(req);
	i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
	if (i < 0 || X509_NAME_get_index_by_NID(subj, NID_commonName, i) >= 0) {
		snprintf(err, errlen, "csr: the subject must have exactly one CN (the host name)");
		goto out;
	}
	/* get_text cuts a long CN to the buffer: its length is checked first */
	n = ASN1_STRING_length(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i)));
	if (n > CERT_NAME_MAX) {
		snprintf(err, errlen, "csr: CN is %d bytes long, at most %d", n, CERT_NAME_MAX);
		goto out;
	}
	n = X509_NAME_get_text_by_NID(subj, NID_commonName, name, CERT_NAME_MAX + 1);
	if (n <= 0 || !policy_host_name_ok(name, (size_t)n) || (size_t)n != strlen(name)) {
		snprintf(err, errlen, "csr: CN \"%.*s\" is not a host name (1 to %d of A-Z a-z "
		    "0-9 . _ -)", n > 0 ? n : 0, name, CERT_NAME_MAX);
		goto out;
	}
	ok = true;
out:
	X509_REQ_free(req);
	return ok;
}

/* --- Join ------------------------------------------------------------------------------- */

struct one_net {
	const char *network;         /* the first seen */
	bool several;
};

static int
one_net_peer(const struct peer *p, void *arg)
{
	struct one_net *o = arg;

	if (o->network == NULL)
		o->network = p->network;
	else if (strcmp(o->network, p->network) != 0)
		o->several = true;
	return 0;
}

static int
named_peer(const struct peer *p, void *arg)
{
	return strcmp(p->name, arg) == 0;
}

/* The network a request names ("": the server's only one) into out; false with the call
 * failed. */
static bool
join_network(struct enroll *e, struct rpc_call *call, const char *given,
    char out[CERT_NAME_MAX + 1])
{
	struct one_net o = { NULL, false };

	if (given[0] != '\0') {
		if (strlen(given) <= CERT_NAME_MAX && (enroll_pool(e, given) != NULL ||
		    peer_table_foreach(e->svc->peers, given, one_net_peer, &o) != 0 ||
		    o.network != NULL)) {
			snprintf(out, CERT_NAME_MAX + 1, "%s", given);
			return true;
		}
		rpc_call_fail(call, GRPC_FAILED_PRECONDITION, "network: \"%.64s\" is not a "
		    "network of this server (no pool line, no peer)", given);
		return false;
	}
	if (e->n_pools == 1) {
		snprintf(out, CERT_NAME_MAX + 1, "%s", e->pools[0].network);
		return true;
	}
	if (e->n_pools == 0) {
		peer_table_foreach(e->svc->peers, NULL, one_net_peer, &o);
		if (o.network != NULL && !o.several) {
			snprintf(out, CERT_NAME_MAX + 1, "%s", o.network);
			return true;
		}
	}
	rpc_call_fail(call, GRPC_FAILED_PRECONDITION, "network: this server has %s networks: "
	    "name one", e->n_pools == 0 && !o.several ? "no" : "several");
	return false;
}

/* Refuses a name or key an enrolled peer or another request holds; false with the call
 * failed. */
static bool
join_unbound(struct enroll *e, struct rpc_call *call, const char *network, const char *name,
    const uint8_t key[WG_KEY_LEN])
{
	const struct peer *p = peer_table_get(e->svc->peers, key);

	if (p != NULL) {
		rpc_call_fail(call, GRPC_ALREADY_EXISTS, "public_key: already bound to the "
		    "enrolled peer %s of network %s", p->name, p->network);
		return false;
	}
	if (peer_table_foreach(e->svc->peers, network, named_peer, (void *)name) != 0) {
		rpc_call_fail(call, GRPC_ALREADY_EXISTS, "name: a peer named %s is already "
		    "enrolled in network %s (the CSR's CN)", name, network);
		return false;
	}
	return true;
}

struct find_bound {
	const char *name;
	const uint8_t *key;
	const struct pending_req *r;
	bool by_key;
};

static int
find_bound_one(const struct pending_req *r, void *arg)
{
	struct find_bound *f = arg;

	if (r->state == PENDING_DENIED)
		return 0;
	f->by_key = memcmp(r->key, f->key, WG_KEY_LEN) == 0;
	if (!f->by_key && strcmp(r->name, f->name) != 0)
		return 0;
	f->r = r;
	return 1;
}

static void
join_reply(struct enroll *e, struct rpc_call *call, const struct pending_req *r)
{
	Wiresync__V1__JoinReply m = WIRESYNC__V1__JOIN_REPLY__INIT;
	const struct enroll_extra *x = enroll_extra(r);
	ProtobufCBinaryData chain = { 0, NULL };
	uint8_t *out;
	size_t n;

	m.id = r->id;
	m.code = (char *)r->code;
	m.state = r->state == PENDING_APPROVED ? WIRESYNC__V1__JOIN_STATE__JOIN_APPROVED :
	    r->state == PENDING_DENIED ? WIRESYNC__V1__JOIN_STATE__JOIN_DENIED :
	    WIRESYNC__V1__JOIN_STATE__JOIN_WAITING;
	if (r->state == PENDING_APPROVED) {
		m.certificate.data = x->cert;
		m.certificate.len = x->cert_len;
		m.ca.data = x->ca;
		m.ca.len = x->ca_len;
		m.server = e->server;
		if ((chain.len = enroll_chain_der(e, x, &chain.data)) > 0) {
			m.n_chain = 1;
			m.chain = &chain;
		}
	} else if (r->state == PENDING_DENIED) {
		m.message = (char *)x->reason;
	}
	n = wiresync__v1__join_reply__get_packed_size(&m);
	if ((out = malloc(n > 0 ? n : 1)) == NULL) {
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	wiresync__v1__join_reply__pack(&m, out);
	rpc_call_reply(call, out, n);
	free(out);
	OPENSSL_free(chain.data);
}

/* RESOURCE_EXHAUSTED for a bound; a flood of them is one log line a minute, with the
 * count of the ones not logged. */
static void
refuse(struct enroll *e, struct rpc_call *call, const char *host, const char *why)
{
	uint64_t held;

	rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "%s", why);
	if (!ratelog_event(&e->refused, (uint64_t)time(NULL) * 1000))
		return;
	held = ratelog_take_held(&e->refused);
	if (held > 0)
		log_warnx("join request from %s refused: %s (%llu more refused for the bounds "
		    "since the last such line)", host, why, (unsigned long long)held);
	else
		log_warnx("join request from %s refused: %s", host, why);
}

/* A new request from src into network, checked and in the table, not yet in the store;
 * NULL with the call failed. */
static const struct pending_req *
join_admit(struct enroll *e, struct rpc_call *call, const Wiresync__V1__JoinRequest *m,
    const char *network, const char *name, const uint8_t sha[32], const struct netaddr *src,
    const char *host)
{
	const struct pending_req *r = NULL;
	struct enroll_extra *x;
	struct find_bound fb = { name, m->public_key.data, NULL, false };
	char why[NI_MAXHOST + 160];
	enum pending_add_result res;
	uint64_t dropped;

	if (!join_unbound(e, call, network, name, m->public_key.data))
		return NULL;
	res = pending_add(e->t, name, m->public_key.data, sha, src, (int64_t)time(NULL), &r);
	if (res == PENDING_FULL && pending_make_room(e->t, src, &dropped)) {
		/* a flood from a few addresses keeps no new host out (server/pending.h) */
		enroll_store_drop(e, dropped);
		log_debug("join request %llu dropped for one from %s (enroll_max_pending)",
		    (unsigned long long)dropped, host);
		res = pending_add(e->t, name, m->public_key.data, sha, src, (int64_t)time(NULL),
		    &r);
	}
	switch (res) {
	case PENDING_ADDED:
		break;
	case PENDING_RESUMED:       /* handle_join looked first; a race cannot happen */
		return r;
	case PENDING_FULL:
		snprintf(why, sizeof(why), "%zu join requests are kept already "
		    "(enroll_max_pending): try again later", e->max_pending);
		refuse(e, call, host, why);
		return NULL;
	case PENDING_SOURCE_BUSY:
		snprintf(why, sizeof(why), "too many join requests from %s wait for the operator: "
		    "try again once they are decided", host);
		refuse(e, call, host, why);
		return NULL;
	case PENDING_RATE:
		snprintf(why, sizeof(why), "more than %zu new join requests from %s in the last "
		    "minute (enroll_rate_per_min): try again later", e->rate_per_min, host);
		refuse(e, call, host, why);
		return NULL;
	case PENDING_CONFLICT:
		pending_foreach(e->t, find_bound_one, &fb);
		rpc_call_fail(call, GRPC_ALREADY_EXISTS, "%s: join request %llu (%s) %s",
		    fb.by_key ? "public_key" : "name", fb.r != NULL ?
		    (unsigned long long)fb.r->id : 0ull, fb.r != NULL ? fb.r->name : "?",
		    fb.by_key ? "has this WireGuard key" : "has this name");
		return NULL;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL ||
	    (x->csr = malloc(m->csr.len)) == NULL) {
		free(x);
		pending_remove(e->t, r->id);
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return NULL;
	}
	memcpy(x->csr, m->csr.data, m->csr.len);
	x->csr_len = m->csr.len;
	snprintf(x->network, sizeof(x->network), "%s", network);
	pending_set_user(e->t, r->id, x);
	return r;
}

/* A new request from src: checks, adds, saves, logs; NULL with the call failed. */
static const struct pending_req *
join_add(struct enroll *e, struct rpc_call *call, const Wiresync__V1__JoinRequest *m,
    const char *name, const uint8_t sha[32], const struct netaddr *src, const char *host)
{
	const struct pending_req *r;
	char network[CERT_NAME_MAX + 1];

	if (!join_network(e, call, m->network, network) ||
	    (r = join_admit(e, call, m, network, name, sha, src, host)) == NULL)
		return NULL;
	/* answered only once kept: the id the host prints must survive a restart */
	if (enroll_store_save(e, r, enroll_extra(r)) < 0) {
		pending_remove(e->t, r->id);
		rpc_call_fail(call, GRPC_UNAVAILABLE, "store write failed: the join request is "
		    "not kept; try again");
		return NULL;
	}
	log_info("join request %llu from %s name %s code %s (network %s)",
	    (unsigned long long)r->id, host, r->name, r->code, network);
	return r;
}

/* A new request that presents a token: looked up first (a bad token stores nothing),
 * admitted into the token's network, approved and signed at once; NULL with the call
 * failed and nothing kept. */
static const struct pending_req *
join_add_token(struct enroll *e, struct rpc_call *call, const Wiresync__V1__JoinRequest *m,
    const char *name, const uint8_t sha[32], const struct netaddr *src, const char *host)
{
	const struct pending_req *r;
	struct store_token t;

	if (!enroll_token_find(e, call, m->token, m->network, name, host, &t) ||
	    (r = join_admit(e, call, m, t.network, name, sha, src, host)) == NULL)
		return NULL;
	if (!enroll_token_approve(e, call, r, &t, host)) {
		pending_remove(e->t, r->id);
		return NULL;
	}
	return r;
}

static void
handle_join(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct enroll *e = arg;
	Wiresync__V1__JoinRequest *m;
	const struct pending_req *r;
	struct netaddr src = { 0 };
	char name[CERT_NAME_MAX + 1] = "", why[200], host[NI_MAXHOST] = "?";
	uint8_t sha[32];

	getnameinfo(rpc_call_peer(call), sizeof(struct sockaddr_storage), host, sizeof(host),
	    NULL, 0, NI_NUMERICHOST);
	netaddr_from_sockaddr(rpc_call_peer(call), &src);
	if ((m = wiresync__v1__join_request__unpack(NULL, len, req)) == NULL) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "JoinRequest does not decode");
		return;
	}
	if (m->token[0] != '\0' && !enroll_token_usable(e, call, m->token))
		goto out;
	if (m->public_key.len != WG_KEY_LEN) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "public_key: must be %d bytes, got %zu",
		    WG_KEY_LEN, m->public_key.len);
		goto out;
	}
	if (!csr_check(m->csr.data, m->csr.len, name, why, sizeof(why))) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "%s", why);
		goto out;
	}
	SHA256(m->csr.data, m->csr.len, sha);
	enroll_expire(e, (int64_t)time(NULL));
	if ((r = pending_by_csr(e->t, sha)) != NULL) {
		/* a poll: the same request, as long as it asks for the same thing */
		if (memcmp(r->key, m->public_key.data, WG_KEY_LEN) != 0) {
			rpc_call_fail(call, GRPC_FAILED_PRECONDITION, "public_key: join request %llu "
			    "was made with another WireGuard key", (unsigned long long)r->id);
			goto out;
		}
		log_debug("join request %llu from %s polled (%s)", (unsigned long long)r->id, host,
		    enroll_state_name(r->state));
		/* a host that asked first and got a token since: the token decides it now */
		if (r->state == PENDING_WAITING && m->token[0] != '\0' &&
		    !enroll_token_decide(e, call, r, m->token, host))
			goto out;
	} else if ((r = m->token[0] != '\0' ? join_add_token(e, call, m, name, sha, &src,
	    host) : join_add(e, call, m, name, sha, &src, host)) == NULL) {
		goto out;
	}
	join_reply(e, call, r);
out:
	wiresync__v1__join_request__free_unpacked(m, NULL);
}

/* --- the listener ----------------------------------------------------------------------- */

/* A connection's address, counted in e->conns while it is open. */
struct enroll_conn {
	struct enroll *e;
	struct sockaddr_storage peer;
	bool counted;
};

/* Every connection is offered Join, up to ENROLL_CONNS_PER_ADDRESS from one address. */
static void *
enroll_conn_open(struct rpc_conn *c, X509 *cert, const struct sockaddr *peer, void *arg)
{
	struct enroll *e = arg;
	struct enroll_conn *ec = calloc(1, sizeof(*ec));
	int r;

	(void)c;
	(void)cert;
	if (ec == NULL || (r = addrcount_take(e->conns, peer, ENROLL_CONNS_PER_ADDRESS)) == 0) {
		free(ec);
		return NULL;
	}
	ec->e = e;
	ec->counted = r > 0;
	memcpy(&ec->peer, peer, peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in));
	return ec;
}

static void
enroll_conn_close(void *user, void *arg)
{
	struct enroll_conn *ec = user;

	(void)arg;
	if (ec->counted)
		addrcount_release(ec->e->conns, (const struct sockaddr *)&ec->peer);
	free(ec);
}

struct enroll *
enroll_new(struct service *svc, SSL_CTX *ctx, const struct enroll_config *cfg)
{
	struct pending_limits lim = {
		.max_requests = cfg->max_pending, .max_age_s = cfg->max_age_s,
		.max_new_per_min = cfg->rate_per_min, .user_free = enroll_extra_free,
	};
	struct enroll *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->svc = svc;
	e->ctx = ctx;
	e->max_pending = cfg->max_pending ? cfg->max_pending : 256;
	e->rate_per_min = cfg->rate_per_min ? cfg->rate_per_min : 10;
	e->max_age_s = cfg->max_age_s ? cfg->max_age_s : 86400;
	e->issuer_days = cfg->issuer_days ? cfg->issuer_days : ENROLL_ISSUER_DAYS;
	snprintf(e->server, sizeof(e->server), "%s", cfg->server != NULL ? cfg->server : "");
	if ((e->t = pending_new(&lim)) == NULL || (e->conns = addrcount_new()) == NULL ||
	    (cfg->n_pools > 0 && (e->pools = calloc(cfg->n_pools, sizeof(*e->pools))) == NULL)) {
		enroll_del(e);
		return NULL;
	}
	if (cfg->n_pools > 0)
		memcpy(e->pools, cfg->pools, cfg->n_pools * sizeof(*e->pools));
	e->n_pools = cfg->n_pools;
	e->methods[0] = enroll_gated(&e->gate, svc,
	    &(struct rpc_method){ JOIN_PATH, handle_join, e, false });
	ratelog_init(&e->refused, 60000);
	ratelog_init(&e->bad_tokens, 60000);
	return e;
}

void
enroll_del(struct enroll *e)
{
	if (e == NULL)
		return;
	rpc_server_del(e->srv);
	addrcount_del(e->conns);
	SSL_CTX_free(e->enroll_ctx);
	pending_del(e->t);
	free(e->pools);
	free(e);
}

int
enroll_listen(struct enroll *e, struct loop *l, const struct tls_files *f, const char *addr,
    const struct rpc_limits *lim, char *err, size_t errlen)
{
	struct rpc_server_ops ops = { .conn_open = enroll_conn_open,
	    .conn_close = enroll_conn_close, .arg = e, .anonymous = true };
	struct rpc_limits el = *lim;

	if ((e->enroll_ctx = tls_enroll_ctx_new(f, err, errlen)) == NULL)
		return -1;
	/* a CSR and a key: anonymous callers get small messages and short idle times */
	el.max_message = 64 * 1024;
	if (el.max_connections > ENROLL_MAX_CONNECTIONS)
		el.max_connections = ENROLL_MAX_CONNECTIONS;
	if (el.max_handshakes_per_address == 0 ||
	    el.max_handshakes_per_address > ENROLL_CONNS_PER_ADDRESS)
		el.max_handshakes_per_address = ENROLL_CONNS_PER_ADDRESS;
	if (el.idle_timeout_ms == 0 || el.idle_timeout_ms > 120000)
		el.idle_timeout_ms = 120000;
	e->srv = rpc_server_new(l, e->enroll_ctx, e->methods, 1, &ops, &el);
	if (e->srv == NULL) {
		snprintf(err, errlen, "enroll_listen: %s", strerror(errno));
		return -1;
	}
	if (rpc_server_listen(e->srv, addr, err, errlen) < 0)
		return -1;
	log_info("join requests on %s (port %d): TLS without client certificates, "
	    "wiresync.v1.Enroll only", addr, rpc_server_port(e->srv));
	return 0;
}

int
enroll_port(const struct enroll *e)
{
	return e != NULL && e->srv != NULL ? rpc_server_port(e->srv) : 0;
}

void
enroll_shutdown(struct enroll *e)
{
	if (e != NULL && e->srv != NULL)
		rpc_server_shutdown(e->srv, NULL, NULL);
}
