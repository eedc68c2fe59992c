/* The CRLs in force: one per CA of the server's trust store, each relayed to the agents of
 * its CA's network. A CRL past its nextUpdate stays in force as the list of revoked serials
 * it is; it is warned about, and with crl_stale = refuse it keeps new connections out. */
#ifndef WS_CRL_H
#define WS_CRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "rpc/h2server.h"

struct crlset;
struct service;

/* What one CRL of the set says about itself, for logs, the metric and Status. */
struct crl_info {
	const char *network;       /* O of its CA, the network it serves */
	const char *issuer;        /* its CA's subject, one line */
	int64_t this_update;       /* seconds since the epoch */
	int64_t next_update;       /* 0: the CRL has none (never stale) */
	int revoked;               /* serials it lists */
};

/* Reads every CRL of path and matches each to the CA of cas that signed it. Every CA
 * (certificate with CA:TRUE) of cas needs exactly one CRL, and every CRL a CA of cas.
 * revision goes into the WatchEvents. Returns the set (crlset_del) or NULL with err naming
 * the file and the CA or CRL at fault. */
struct crlset *crlset_read(const char *path, X509_STORE *cas, uint64_t revision, char *err,
    size_t errlen);
void crlset_del(struct crlset *s);

/* The CRLs, for tls_ctx_set_crls (borrowed, lives as long as s). */
STACK_OF(X509_CRL) *crlset_stack(const struct crlset *s);

/* True when the CRL of x's issuer lists x's serial (s may be NULL: no CRL). */
bool crlset_revokes(const struct crlset *s, X509 *x);
/* nextUpdate of the CRL of x's issuer, seconds since the epoch; 0 when none. */
int64_t crlset_next_update_of(const struct crlset *s, X509 *x);

/* Number of CRLs, and what the i-th says (i < crlset_count). */
size_t crlset_count(const struct crlset *s);
void crlset_info(const struct crlset *s, size_t i, struct crl_info *out);
/* Of the CRLs of network: the oldest thisUpdate and the earliest nextUpdate (0 when no
 * CRL of network has one). false when network has no CRL. */
bool crlset_network_times(const struct crlset *s, const char *network, int64_t *this_update,
    int64_t *next_update);
/* The earliest nextUpdate still ahead of now, or 0: when a CRL of s goes stale next. */
int64_t crlset_next_stale(const struct crlset *s, int64_t now);

/* True when the CRL events of network differ between a and b (either may be NULL). */
bool crlset_changed(const struct crlset *a, const struct crlset *b, const char *network);
/* True when a and b hold the same CRLs. */
bool crlset_equal(const struct crlset *a, const struct crlset *b);
/* Queues on call a WatchEvent{crl} for each CRL of network, unless held (the SHA-256 the
 * agent says it holds, held_len bytes, may be NULL) is that of the network's only CRL.
 * s may be NULL. 0 or -ENOMEM. */
int crlset_send(const struct crlset *s, const char *network, struct rpc_call *call,
    const uint8_t *held, size_t held_len);

/* Logs each CRL that is past its nextUpdate, or within warn_days of it (0: only past) and
 * past half its lifetime (so that a CRL renewed daily is never warned about), naming the
 * file and the command that renews it; refuse says what the server does about a stale one.
 * Returns how many were logged. */
size_t crlset_log_stale(const struct crlset *s, int64_t now, unsigned warn_days,
    const char *path, bool refuse);

/* crl_stale = refuse: wraps methods[0..n-1] so that every call fails with UNAVAILABLE
 * while service_call_admitted says no. Returns an array of n methods to free() (after
 * the rpc server is gone) or NULL on ENOMEM; methods and svc must outlive it. */
struct rpc_method *crl_gate_methods(const struct rpc_method *methods, size_t n,
    struct service *svc);

#endif
