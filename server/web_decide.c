/* The console's forms: POST /pending/approve and /pending/deny decide a join request
 * (answered once the decision is kept: on a shared store once the database has it), POST
 * /static/NAME/config shows a static peer's config (web_qr.c). Each checks the CSRF token
 * and, for an admin of one network, that the request is of it. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/enroll.h"
#include "server/web_impl.h"
#include "server/web_qr.h"

struct find {
	uint64_t id;
	const char *network;
	bool ok;
};

static int
find_one(const struct enroll_view *v, void *arg)
{
	struct find *fd = arg;

	if (v->id != fd->id)
		return 0;
	fd->ok = strcmp(v->network, fd->network) == 0;
	return 1;
}

/* An admin decides the requests of its own network only: the id of the form is one. */
static bool
in_network(struct web *w, const struct web_req *r, const char *network)
{
	char idtext[24];
	struct find fd = { 0, network, false };

	if (!web_form_get(r->body, r->body_len, "id", idtext, sizeof(idtext)))
		return true;           /* decide() answers the missing id */
	fd.id = strtoull(idtext, NULL, 10);
	enroll_foreach_view(w->enroll, find_one, &fd);
	return fd.ok;
}

struct decision {
	struct web *w;
	struct web_later *later;
	unsigned long long id;
	bool approve;
	char network[CERT_NAME_MAX + 1];     /* "": every network (the loopback console) */
};

static void
decided(void *arg, int ret, const char *why)
{
	struct decision *d = arg;
	struct web_resp rs = { 0 };
	char msg[96];

	/* a client gone (the server stopping, too) wants no page: d->w may be gone */
	if (!web_later_wanted(d->later)) {
	} else if (ret == 0) {
		snprintf(msg, sizeof(msg), "join request %llu %s", d->id, d->approve ?
		    "approved" : "denied");
		web_page_text(&rs, 303, msg);
		rs.location = "/pending";
	} else {
		web_pending_page(d->w, d->network[0] != '\0' ? d->network : NULL, 409, why,
		    &rs);
	}
	web_later_answer(d->later, &rs);
	free(d);
}

/* POST /pending/approve and /pending/deny, the CSRF token checked: the decision, answered
 * once it is kept (on a shared store, once the database has it). */
static void
decide(struct web *w, const struct web_req *r, const char *network, bool approve,
    struct web_later *later, struct web_resp *out)
{
	char idtext[24], *end, by[CERT_NAME_MAX + 48];
	unsigned long long id;
	struct decision *d;

	if (!web_form_get(r->body, r->body_len, "id", idtext, sizeof(idtext)) ||
	    idtext[0] < '0' || idtext[0] > '9' ||
	    (id = strtoull(idtext, &end, 10), *end != '\0')) {
		web_pending_page(w, network, 400, "id: a join request number is needed", out);
		return;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		web_page_text(out, 500, "out of memory\n");
		return;
	}
	d->w = w;
	d->later = later;
	d->id = id;
	d->approve = approve;
	snprintf(d->network, sizeof(d->network), "%s", network != NULL ? network : "");
	snprintf(by, sizeof(by), "the web console (%s%s)", network != NULL ? "admin of " :
	    "loopback", network != NULL ? network : "");
	if (enroll_decide(w->enroll, d->id, approve, by, decided, d) != 0) {
		free(d);
		web_page_text(out, 500, "out of memory\n");
		return;
	}
	out->later = true;
}

void
web_post(struct web *w, const struct web_req *r, const char *network,
    struct web_later *later, struct web_resp *out)
{
	bool approve = strcmp(r->path, "/pending/approve") == 0;

	if (!approve && strcmp(r->path, "/pending/deny") != 0 && !web_qr_path(r->path)) {
		web_page_text(out, 405, "POST goes to /pending/approve, /pending/deny or "
		    "/static/NAME/config only\n");
		return;
	}
	/* the token is the check; a foreign Origin is refused too. "null" is what a
	 * browser sends for our own forms under Referrer-Policy: no-referrer */
	if (!web_csrf_ok(r, w->csrf) || (r->has_origin && strcmp(r->origin_host, "null") != 0 &&
	    strcmp(r->origin_host, r->host) != 0)) {
		web_page_text(out, 403, "forbidden: the form's CSRF token is missing or wrong "
		    "(reload the page)\n");
		return;
	}
	if (web_qr_path(r->path)) {
		web_static_config(w, r, network, out);
		return;
	}
	if (network != NULL && !in_network(w, r, network)) {
		web_page_text(out, 403, "forbidden: that join request is not of your "
		    "network\n");
		return;
	}
	decide(w, r, network, approve, later, out);
}
