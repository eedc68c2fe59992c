/* The web console (web_listen, issue 16): a small HTTP/1.1 server in the server's loop.
 * Plain HTTP on a loopback address (reach it through SSH forwarding), or HTTPS with the
 * server certificate on any address, where only a client certificate that verifies
 * against the CA and is an admin's (urn:wiresync:role:admin) is served. Pages are built
 * from the server's own state; live updates are a server-sent event stream. */
#ifndef WS_WEB_H
#define WS_WEB_H

#include <stdbool.h>
#include <stddef.h>

#include "rpc/loop.h"
#include "rpc/tls.h"

struct web;
struct service;
struct enroll;

/* Whether addr ("IP:PORT", "[V6]:PORT", numeric) may serve the console: any address with
 * tls, a loopback one (127.0.0.0/8, ::1) without. Else false with err quoting it. */
bool web_addr_ok(const char *addr, bool tls, char *err, size_t errlen);

/* A console over svc and e (borrowed; e may be NULL: no join requests), not listening.
 * NULL with errno set. */
struct web *web_new(struct loop *l, struct service *svc, struct enroll *e);
/* Closes the listener and every client; accepts NULL. */
void web_del(struct web *w);
/* Listens on addr; tls (NULL: plain HTTP, loopback only) gives the server certificate,
 * key and the CA that client certificates must verify against (and its CRL). 0 or -1 with
 * err naming web_listen and what is wrong. */
int web_listen(struct web *w, const char *addr, const struct tls_files *tls, char *err,
    size_t errlen);
/* The port bound, 0 when not listening. */
int web_port(const struct web *w);
/* New CRLs for the HTTPS console's client certificates (nothing over plain HTTP); every
 * HTTPS connection is closed, to be verified again. 0, or -1 with err (the old stay). */
int web_set_crls(struct web *w, STACK_OF(X509_CRL) *crls, char *err, size_t errlen);

#endif
