/* The audit log (issue 16): what the admin handlers, the policy watch and the CRL reload
 * call after an action took effect, so that the store keeps who did what (the admin
 * certificate's CN and serial), bounded by audit_max_entries. A failed action records
 * nothing; a failed audit write is a warning (the action itself is done by then). */
#ifndef WS_AUDIT_H
#define WS_AUDIT_H

#include <stddef.h>
#include <stdint.h>

struct service;
struct agent_conn;
struct policyset;
struct crlset;

/* Records action on network by admin (NULL: the server itself) with the detail made
 * from fmt, in a store transaction of its own, now. */
void audit_record(struct service *svc, const struct agent_conn *admin, const char *network,
    const char *action, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The same with the admin's CN and serial given (a change answered after its commit,
 * when the connection may be gone); name "" is the server. */
void audit_record_as(struct service *svc, const char *name, const char *serial,
    const char *network, const char *action, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* A decision on a shared store is written when its bracket commits and taken again from
 * the new state when another server wrote first (server/enroll_run.c): what it records
 * meanwhile waits. audit_hold starts the wait; audit_take ends it and hands over what
 * was recorded (NULL: nothing); audit_put writes them and frees h, audit_drop frees h. */
struct audit_held;
void audit_hold(struct service *svc);
struct audit_held *audit_take(struct service *svc);
void audit_put(struct service *svc, struct audit_held *h);
void audit_drop(struct audit_held *h);

struct netaddr;
/* n addresses as "a b c" (no prefix) into buf, AUDIT_ADDRS_MAX bytes; returns buf. */
#define AUDIT_ADDRS_MAX 512
const char *audit_addrs(const struct netaddr *a, size_t n, char *buf);

/* "policy-loaded" for each network whose policy differs between fresh and old (the set
 * in force before); nothing when old is NULL (the start). */
void audit_policies(struct service *svc, const struct policyset *fresh,
    const struct policyset *old);
/* "crl-loaded" for each CRL of fresh (read from path) that differs from old's of its
 * network: its number and how many serials it revokes; nothing when old is NULL (the
 * start). */
void audit_crls(struct service *svc, const struct crlset *fresh, const struct crlset *old,
    const char *path);

#endif
