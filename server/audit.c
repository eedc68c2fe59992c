/* The audit log's writer (server/audit.h): one store row per admin action, written in
 * the loop turn that took the action (or, for a decision on a shared store, when its
 * bracket committed), in a transaction of its own. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/netaddr.h"
#include "rpc/log.h"
#include "rpc/loop.h"
#include "server/audit.h"
#include "server/crl.h"
#include "server/policyset.h"
#include "server/service_impl.h"
#include "server/store.h"

struct audit_held {
	bool on;                             /* holding: not yet taken */
	struct store_audit *v;
	size_t n, cap;
};

static void
write_one(struct service *svc, struct store_audit *e)
{
	uint64_t max = svc->cfg.audit_max_entries > 0 ? svc->cfg.audit_max_entries : 10000;

	if (store_audit_add(svc->store, e, max) < 0)
		log_warnx("audit log: cannot store %s by %s%s%s%s (network %s): %s; the action "
		    "itself is done", e->action, e->admin[0] != '\0' ? e->admin : "the server",
		    e->serial[0] != '\0' ? " (serial " : "", e->serial,
		    e->serial[0] != '\0' ? ")" : "", e->network, e->detail);
}

/* Held: kept for audit_put; 0, or -ENOMEM (written now rather than lost). */
static int
hold_one(struct audit_held *h, const struct store_audit *e)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 2;
		struct store_audit *v = realloc(h->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	h->v[h->n++] = *e;
	return 0;
}

static void
record(struct service *svc, const char *name, const char *serial, const char *network,
    const char *action, const char *fmt, va_list ap)
{
	struct store_audit e;

	memset(&e, 0, sizeof(e));
	e.time_ms = loop_wall_ms();
	snprintf(e.network, sizeof(e.network), "%s", network != NULL ? network : "");
	snprintf(e.admin, sizeof(e.admin), "%s", name != NULL ? name : "");
	snprintf(e.serial, sizeof(e.serial), "%s", serial != NULL ? serial : "");
	snprintf(e.action, sizeof(e.action), "%s", action);
	vsnprintf(e.detail, sizeof(e.detail), fmt, ap);
	if (svc->audit_held != NULL && svc->audit_held->on && hold_one(svc->audit_held, &e) == 0)
		return;
	write_one(svc, &e);
}

void
audit_hold(struct service *svc)
{
	if (svc->audit_held == NULL)
		svc->audit_held = calloc(1, sizeof(*svc->audit_held));
	if (svc->audit_held != NULL)        /* else written at once, as without a bracket */
		svc->audit_held->on = true;
}

struct audit_held *
audit_take(struct service *svc)
{
	struct audit_held *h = svc->audit_held;

	svc->audit_held = NULL;
	if (h != NULL && h->n == 0) {
		audit_drop(h);
		return NULL;
	}
	if (h != NULL)
		h->on = false;
	return h;
}

void
audit_put(struct service *svc, struct audit_held *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->n; i++)
		write_one(svc, &h->v[i]);
	audit_drop(h);
}

void
audit_drop(struct audit_held *h)
{
	if (h == NULL)
		return;
	free(h->v);
	free(h);
}

void
audit_record(struct service *svc, const struct agent_conn *admin, const char *network,
    const char *action, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(svc, admin != NULL ? admin->id.name : "", admin != NULL ? admin->id.serial : "",
	    network, action, fmt, ap);
	va_end(ap);
}

void
audit_record_as(struct service *svc, const char *name, const char *serial,
    const char *network, const char *action, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(svc, name, serial, network, action, fmt, ap);
	va_end(ap);
}

const char *
audit_addrs(const struct netaddr *a, size_t n, char *buf)
{
	char one[NETADDR_STRLEN];
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && o < AUDIT_ADDRS_MAX; i++)
		o += (size_t)snprintf(buf + o, AUDIT_ADDRS_MAX - o, "%s%s", i > 0 ? " " : "",
		    netaddr_format(&a[i], false, one));
	return buf;
}

void
audit_policies(struct service *svc, const struct policyset *fresh,
    const struct policyset *old)
{
	if (old == NULL)
		return;
	for (size_t i = 0; i < policyset_count(fresh); i++) {
		struct policy_info pi;
		policyset_info(fresh, i, &pi);
		if (policyset_changed(fresh, old, pi.network))
			audit_record(svc, NULL, pi.network, "policy-loaded", "version %llu %s "
			    "(%zu rules)", (unsigned long long)pi.version, pi.path, pi.rules);
	}
}

/* The CRL's cRLNumber extension in decimal into buf; "none" without one. */
static void
crl_number(X509_CRL *crl, char *buf, size_t len)
{
	ASN1_INTEGER *n = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	BIGNUM *bn = n != NULL ? ASN1_INTEGER_to_BN(n, NULL) : NULL;
	char *dec = bn != NULL ? BN_bn2dec(bn) : NULL;

	snprintf(buf, len, "%s", dec != NULL ? dec : "none");
	OPENSSL_free(dec);
	BN_free(bn);
	ASN1_INTEGER_free(n);
}

void
audit_crls(struct service *svc, const struct crlset *fresh, const struct crlset *old,
    const char *path)
{
	STACK_OF(X509_CRL) *stack = fresh != NULL ? crlset_stack(fresh) : NULL;

	for (size_t i = 0; old != NULL && fresh != NULL && i < crlset_count(fresh); i++) {
		struct crl_info ci;
		char num[64];
		crlset_info(fresh, i, &ci);
		if (!crlset_changed(fresh, old, ci.network))
			continue;
		crl_number(sk_X509_CRL_value(stack, (int)i), num, sizeof(num));
		audit_record(svc, NULL, ci.network, "crl-loaded", "number %s, %d revoked, %s",
		    num, ci.revoked, path);
	}
}
