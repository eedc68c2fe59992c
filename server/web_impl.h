/* The web console's private parts, shared by web.c (sockets, the event stream),
 * web_tls.c (addresses, HTTPS), web_pages.c (what each path answers) and the pages and
 * forms beside it. Not for other modules. */
#ifndef WS_WEB_IMPL_H
#define WS_WEB_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/ssl.h>

#include "common/cert.h"
#include "rpc/tls.h"
#include "server/web.h"
#include "server/web_http.h"

#define WEB_MAX_CLIENTS 32
#define WEB_MAX_STREAMS 16         /* of them, event streams */

struct web {
	struct loop *loop;
	struct service *svc;
	struct enroll *enroll;
	SSL_CTX *ctx;                /* NULL: plain HTTP */
	struct loop_io lis;
	struct loop_timer beat;
	int port;
	int64_t start_s;
	char csrf[65];               /* hex; a new one every start */
	struct web_client *clients;
	uint64_t revision;           /* of the last change the event stream told */
	unsigned long served;        /* responses since the start */
};

/* What a path answers: status line, content type, body (malloc'ed, taken), and how. */
struct web_resp {
	int status;
	const char *type;
	char *body;
	size_t len;
	const char *location;        /* a redirect's */
	bool event_stream;           /* stay open: the server-sent events follow */
	bool later;                  /* nothing yet: web_later_answer gives the response */
};

/* A response that comes from the loop (a page read from a shared store): web.c's handle
 * on the client waiting for it, which a client gone meanwhile leaves without one. */
struct web_later;
/* Gives l's client rs (its body taken), or drops rs if the client is gone; frees l. */
void web_later_answer(struct web_later *l, struct web_resp *rs);
/* Whether l's client is still there to take an answer. */
bool web_later_wanted(const struct web_later *l);

/* Answers r for a client of network (NULL: every network, the loopback console), in
 * out, or through later when it sets out->later (later is the route's then). */
void web_route(struct web *w, const struct web_req *r, const char *network,
    struct web_later *later, struct web_resp *out);
/* POST r (web_decide.c): a decision on a join request or a static peer's config. */
void web_post(struct web *w, const struct web_req *r, const char *network,
    struct web_later *later, struct web_resp *out);
/* The join requests' page (network's, NULL: all) with msg above them, status given. */
void web_pending_page(struct web *w, const char *network, int status, const char *msg,
    struct web_resp *out);
/* A page's head and navigation, path marked; beat: it follows the heartbeat. */
void web_page_begin(FILE *f, const char *path, bool beat);
/* out: status, type and f's memstream buffer (*buf, *len; taken); 500 if f fails. */
void web_page_finish(struct web_resp *out, int status, const char *type, FILE *f,
    char **buf, size_t *len);
/* out: a plain text answer. */
void web_page_text(struct web_resp *out, int status, const char *msg);
/* The page of static peer name of network (NULL: any) into f (web_static.c): 200, 404
 * when there is no such static peer, 500 out of memory. */
int web_render_static(struct web *w, const char *network, const char *name, FILE *f);
/* Open clients, and of them event streams. */
void web_counts(const struct web *w, size_t *clients, size_t *streams);
/* /audit (server/web_audit.c): the newest admin actions of network (NULL: all), whole or
 * its main part (fragment), through later. */
void web_audit_page(struct web *w, const char *network, bool fragment,
    struct web_later *later, struct web_resp *out);

/* web_tls.c: the HTTPS console's context from f, or NULL with err naming web_tls and the
 * file. */
SSL_CTX *web_tls_ctx_new(const struct tls_files *f, char *err, size_t errlen);

#endif
