/* What the web console answers: the hosts, the links, the join requests and the status,
 * built from the server's state at each request; every dynamic string is escaped
 * (web_html_escape, web_json_escape). With ?fragment=1 a page answers its main part only,
 * which the script swaps in on each event. */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpc/log.h"
#include "server/crl.h"
#include "server/enroll.h"
#include "server/issuer.h"
#include "server/pairing.h"
#include "server/service.h"
#include "server/web_assets.h"
#include "server/web_impl.h"
#include "server/web_links.h"
#include "server/web_qr.h"

#define EXPIRY_WARN_S (30 * 86400)

/* --- the hosts -------------------------------------------------------------------------- */

struct hostlist {
	const char *network;         /* NULL: all */
	const struct peer **v;
	size_t n, cap;
};

static int
host_one(const struct peer *p, void *arg)
{
	struct hostlist *h = arg;

	if (h->network != NULL && strcmp(p->network, h->network) != 0)
		return 0;
	if (h->n == h->cap) {
		size_t cap = h->cap > 0 ? h->cap * 2 : 64;
		const struct peer **v = realloc(h->v, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		h->v = v;
		h->cap = cap;
	}
	h->v[h->n++] = p;
	return 0;
}

static int
host_cmp(const void *a, const void *b)
{
	const struct peer *p = *(const struct peer *const *)a, *q = *(const struct peer *const *)b;
	int c = strcmp(p->network, q->network);

	return c != 0 ? c : strcmp(p->name, q->name);
}

/* The stored peers of network (NULL: all) sorted by network and name; borrowed until the
 * next commit. false on ENOMEM. */
bool
web_hosts(const struct web *w, const char *network, const struct peer ***v, size_t *n)
{
	struct hostlist h = { network, NULL, 0, 0 };

	if (service_peers_foreach(w->svc, host_one, &h) != 0) {
		free(h.v);
		return false;
	}
	if (h.n > 0)
		qsort(h.v, h.n, sizeof(*h.v), host_cmp);
	*v = h.v;
	*n = h.n;
	return true;
}

static void
utc(FILE *f, int64_t s)
{
	time_t t = (time_t)s;
	struct tm tm;
	char buf[32];

	if (s <= 0 || gmtime_r(&t, &tm) == NULL) {
		fputs("-", f);
		return;
	}
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%SZ", &tm);
	fputs(buf, f);
}

static int64_t
not_after(const struct peer *p)
{
	struct cert_identity id;
	char err[160];

	return cert_identity_from_der(p->cert, p->cert_len, &id, err, sizeof(err)) ?
	    id.not_after : 0;
}

/* The addresses the host reported: LAN, WAN, and the hub's view of it. */
static void
reported(FILE *f, const struct peer *p, bool json)
{
	char a[NETADDR_STRLEN];
	bool first = true;

	for (size_t i = 0; i < p->n_lan; i++) {
		fputs(json ? (first ? "\"" : ",\"") : (first ? "lan " : ", lan "), f);
		(json ? web_json_escape : web_html_escape)(f, netaddr_format(&p->lan[i], false, a));
		fputs(json ? "\"" : "", f);
		first = false;
	}
	if (p->wan.family != 0) {
		fputs(json ? (first ? "\"" : ",\"") : (first ? "wan " : ", wan "), f);
		(json ? web_json_escape : web_html_escape)(f, netaddr_format(&p->wan, false, a));
		fputs(json ? "\"" : "", f);
		first = false;
	}
	if (p->observed_endpoint[0] != '\0') {
		fputs(json ? (first ? "\"" : ",\"") : (first ? "seen " : ", seen "), f);
		(json ? web_json_escape : web_html_escape)(f, p->observed_endpoint);
		fputs(json ? "\"" : "", f);
	}
}

static void
render_hosts(struct web *w, const char *network, FILE *f)
{
	const struct peer **v;
	size_t n;
	int64_t now = (int64_t)time(NULL);
	char a[NETADDR_STRLEN];

	if (!web_hosts(w, network, &v, &n)) {
		fputs("<p>out of memory</p>", f);
		return;
	}
	fprintf(f, "<h1>Hosts</h1><p><span id=\"host-count\">%zu</span> hosts, revision %"
	    PRIu64 "</p>\n<table id=\"hosts\"><thead><tr><th>name</th><th>network</th>"
	    "<th>groups</th><th>tunnel addresses</th><th>online</th><th>last seen</th>"
	    "<th>reported addresses</th><th>certificate expires</th></tr></thead><tbody>\n", n,
	    service_revision(w->svc));
	for (size_t i = 0; i < n; i++) {
		const struct peer *p = v[i];
		int64_t na = not_after(p);

		fputs("<tr><td class=\"name\">", f);
		web_html_escape(f, p->name);
		fputs("</td><td>", f);
		web_html_escape(f, p->network);
		fputs("</td><td>", f);
		for (size_t g = 0; g < p->n_groups; g++) {
			fputs(g > 0 ? ", " : "", f);
			web_html_escape(f, p->groups[g]);
		}
		fputs("</td><td>", f);
		for (size_t t = 0; t < p->n_tunnel; t++) {
			fputs(t > 0 ? ", " : "", f);
			web_html_escape(f, netaddr_format(&p->tunnel[t], false, a));
		}
		if (p->is_static) {
			fputs("</td><td class=\"static\"><a href=\"/static/", f);
			web_url_escape(f, p->name);
			fputs("\">static</a></td><td>", f);
		} else {
			fprintf(f, "</td><td class=\"%s\">%s</td><td>", p->online ? "online" :
			    "offline", p->online ? "online" : "offline");
		}
		utc(f, p->last_seen_ms / 1000);
		fputs("</td><td>", f);
		reported(f, p, false);
		fprintf(f, "</td><td%s>", na > 0 && na - now < EXPIRY_WARN_S ? " class=\"warn\"" :
		    "");
		utc(f, na);
		fputs("</td></tr>\n", f);
	}
	fputs("</tbody></table>\n", f);
	free(v);
}

static void
json_hosts(struct web *w, const char *network, FILE *f)
{
	const struct peer **v;
	size_t n;
	char a[NETADDR_STRLEN];

	if (!web_hosts(w, network, &v, &n)) {
		fputs("[]", f);
		return;
	}
	fputs("[", f);
	for (size_t i = 0; i < n; i++) {
		const struct peer *p = v[i];
		fprintf(f, "%s\n{\"name\":\"", i > 0 ? "," : "");
		web_json_escape(f, p->name);
		fputs("\",\"network\":\"", f);
		web_json_escape(f, p->network);
		fputs("\",\"groups\":[", f);
		for (size_t g = 0; g < p->n_groups; g++) {
			fputs(g > 0 ? ",\"" : "\"", f);
			web_json_escape(f, p->groups[g]);
			fputs("\"", f);
		}
		fputs("],\"tunnel\":[", f);
		for (size_t t = 0; t < p->n_tunnel; t++)
			fprintf(f, "%s\"%s\"", t > 0 ? "," : "", netaddr_format(&p->tunnel[t], false, a));
		fprintf(f, "],\"online\":%s,\"static\":%s,\"last_seen_ms\":%" PRId64 ",\"reported\":[",
		    p->online ? "true" : "false", p->is_static ? "true" : "false", p->last_seen_ms);
		reported(f, p, true);
		fprintf(f, "],\"not_after\":%" PRId64 "}", not_after(p));
	}
	fputs("]\n", f);
	free(v);
}

/* --- the links -------------------------------------------------------------------------- */

static const char *
state_colour(enum web_link_state s)
{
	return s == WEB_LINK_UP ? "#1a7f1a" : s == WEB_LINK_DOWN ? "#cc2222" : "#999999";
}

static void
render_links(struct web *w, const char *network, FILE *f)
{
	const struct peer **v;
	struct web_link *l = NULL;
	size_t n, nl = 0;
	double cx = 220, cy = 220, rad = 170;

	if (!web_hosts(w, network, &v, &n) || !web_links_collect(w, v, n, &l, &nl)) {
		free(v);
		fputs("<p>out of memory</p>", f);
		return;
	}
	fprintf(f, "<h1>Links</h1><p>%zu hosts, %zu pairs (%s)</p>\n<div class=\"links\">"
	    "<svg id=\"mesh\" xmlns=\"http://www.w3.org/2000/svg\" width=\"440\" height=\"440\" "
	    "viewBox=\"0 0 440 440\">\n", n, nl, web_links_source());
	for (size_t i = 0; i < nl; i++) {
		double a1 = 2 * M_PI * (double)l[i].a / (double)n, a2 = 2 * M_PI * (double)l[i].b /
		    (double)n;
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
		    "stroke-width=\"2\" data-state=\"%s\"/>\n", cx + rad * cos(a1), cy + rad * sin(a1),
		    cx + rad * cos(a2), cy + rad * sin(a2), state_colour(l[i].state),
		    web_link_state_name(l[i].state));
	}
	for (size_t i = 0; i < n; i++) {
		double a = 2 * M_PI * (double)i / (double)n;
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"9\" fill=\"%s\" stroke=\"#234\"/>"
		    "<text x=\"%.1f\" y=\"%.1f\">", cx + rad * cos(a), cy + rad * sin(a),
		    v[i]->online ? "#7c7" : "#ddd", cx + rad * cos(a) + 11, cy + rad * sin(a) - 11);
		web_html_escape(f, v[i]->name);
		fputs("</text>\n", f);
	}
	fputs("</svg>\n<table id=\"links\"><thead><tr><th>host</th><th>host</th><th>path</th>"
	    "<th>state</th></tr></thead><tbody>\n", f);
	for (size_t i = 0; i < nl; i++) {
		fputs("<tr><td>", f);
		web_html_escape(f, v[l[i].a]->name);
		fputs("</td><td>", f);
		web_html_escape(f, v[l[i].b]->name);
		fputs("</td><td>", f);
		web_html_escape(f, l[i].path);
		fprintf(f, "</td><td class=\"%s\">%s</td></tr>\n", web_link_state_name(l[i].state),
		    web_link_state_name(l[i].state));
	}
	fputs("</tbody></table></div>\n", f);
	free(l);
	free(v);
}

static void
json_links(struct web *w, const char *network, FILE *f)
{
	const struct peer **v;
	struct web_link *l = NULL;
	size_t n, nl = 0;

	if (!web_hosts(w, network, &v, &n) || !web_links_collect(w, v, n, &l, &nl)) {
		free(v);
		fputs("[]", f);
		return;
	}
	fputs("[", f);
	for (size_t i = 0; i < nl; i++) {
		fprintf(f, "%s\n{\"a\":\"", i > 0 ? "," : "");
		web_json_escape(f, v[l[i].a]->name);
		fputs("\",\"b\":\"", f);
		web_json_escape(f, v[l[i].b]->name);
		fputs("\",\"network\":\"", f);
		web_json_escape(f, v[l[i].a]->network);
		fputs("\",\"path\":\"", f);
		web_json_escape(f, l[i].path);
		fprintf(f, "\",\"state\":\"%s\"}", web_link_state_name(l[i].state));
	}
	fputs("]\n", f);
	free(l);
	free(v);
}

/* --- the join requests ------------------------------------------------------------------ */

struct pend {
	struct web *w;
	const char *network;
	FILE *f;
	size_t n;
};

static int
pend_one(const struct enroll_view *v, void *arg)
{
	struct pend *pa = arg;
	FILE *f = pa->f;
	const struct issuer *is = service_issuer(pa->w->svc);

	if (pa->network != NULL && strcmp(v->network, pa->network) != 0)
		return 0;
	pa->n++;
	fprintf(f, "<tr data-id=\"%" PRIu64 "\"><td>%" PRIu64 "</td><td class=\"name\">", v->id,
	    v->id);
	web_html_escape(f, v->name);
	fputs(v->renewal ? " (renewal)" : "", f);
	fputs("</td><td>", f);
	web_html_escape(f, v->network);
	fputs("</td><td>", f);
	web_html_escape(f, v->source);
	fputs("</td><td><code>", f);
	web_html_escape(f, v->code);
	fputs("</code></td><td>", f);
	utc(f, v->created_s);
	fprintf(f, "</td><td class=\"state\">%s</td><td>", v->state);
	if (strcmp(v->state, "waiting") != 0) {
		fputs("-", f);
	} else if (is != NULL && strcmp(issuer_network(is), v->network) == 0) {
		const char *act[2] = { "approve", "deny" };
		for (int k = 0; k < 2; k++)
			fprintf(f, "<form method=\"post\" action=\"/pending/%s\"><input type=\"hidden\" "
			    "name=\"id\" value=\"%" PRIu64 "\"><input type=\"hidden\" name=\"csrf\" "
			    "value=\"%s\"><button type=\"submit\" id=\"%s-%" PRIu64 "\">%s</button>"
			    "</form> ", act[k], v->id, pa->w->csrf, act[k], v->id, act[k]);
	} else {
		fprintf(f, "<code>wiresyncctl approve %" PRIu64 "</code> (no online issuer for "
		    "this network: approve with the CA)", v->id);
	}
	fputs("</td></tr>\n", f);
	return 0;
}

static void
render_pending(struct web *w, const char *network, FILE *f, const char *msg)
{
	struct pend pa = { w, network, f, 0 };

	/* data-beat: joins change no stored peer, so this page also redraws on the beat */
	fputs("<h1>Join requests</h1>\n", f);
	if (msg != NULL) {
		fputs("<p class=\"warn\" id=\"msg\">", f);
		web_html_escape(f, msg);
		fputs("</p>\n", f);
	}
	fputs("<table id=\"pending\"><thead><tr><th>id</th><th>name</th><th>network</th>"
	    "<th>source</th><th>code</th><th>asked</th><th>state</th><th>decide</th></tr>"
	    "</thead><tbody>\n", f);
	enroll_foreach_view(w->enroll, pend_one, &pa);
	fprintf(f, "</tbody></table><p><span id=\"pending-count\">%zu</span> requests</p>\n", pa.n);
}

/* --- the status ------------------------------------------------------------------------- */

static void
render_status(struct web *w, const char *network, FILE *f)
{
	const struct crlset *crls = service_crls(w->svc);
	const struct issuer *is = service_issuer(w->svc);
	const struct peer **v;
	size_t n = 0, clients, streams, expiring = 0;
	int64_t now = (int64_t)time(NULL);

	web_counts(w, &clients, &streams);
	fprintf(f, "<h1>Status</h1><table id=\"status\">"
	    "<tr><th>up for</th><td>%" PRId64 " s (since ", now - w->start_s);
	utc(f, w->start_s);
	fprintf(f, ")</td></tr><tr><th>stored peers</th><td>%zu</td></tr>"
	    "<tr><th>Watch streams</th><td>%zu</td></tr><tr><th>revision</th><td>%" PRIu64
	    "</td></tr><tr><th>console connections</th><td>%zu (%zu event streams)</td></tr>"
	    "<tr><th>responses served</th><td>%lu</td></tr>", service_peer_count(w->svc),
	    service_watcher_count(w->svc), service_revision(w->svc), clients, streams, w->served);
	if (is != NULL) {
		fputs("<tr><th>online issuer</th><td>network ", f);
		web_html_escape(f, issuer_network(is));
		fputs(", until ", f);
		utc(f, issuer_not_after(is));
		fputs("</td></tr>", f);
	} else {
		fputs("<tr><th>online issuer</th><td>none</td></tr>", f);
	}
	fputs("</table>\n<h2>CRLs</h2><table id=\"crls\"><tr><th>network</th><th>issued</th>"
	    "<th>next update</th><th>revoked</th></tr>\n", f);
	for (size_t i = 0; crls != NULL && i < crlset_count(crls); i++) {
		struct crl_info ci;
		crlset_info(crls, i, &ci);
		if (network != NULL && strcmp(ci.network, network) != 0)
			continue;
		fputs("<tr><td>", f);
		web_html_escape(f, ci.network);
		fputs("</td><td>", f);
		utc(f, ci.this_update);
		fprintf(f, "</td><td%s>", ci.next_update != 0 && ci.next_update < now ?
		    " class=\"warn\"" : "");
		utc(f, ci.next_update);
		fprintf(f, "%s</td><td>%d</td></tr>\n", ci.next_update != 0 && ci.next_update < now ?
		    " (stale)" : "", ci.revoked);
	}
	fputs("</table>\n<h2>Certificates expiring within 30 days</h2><ul id=\"expiring\">\n", f);
	if (web_hosts(w, network, &v, &n)) {
		for (size_t i = 0; i < n; i++) {
			int64_t na = not_after(v[i]);
			if (na == 0 || na - now >= EXPIRY_WARN_S)
				continue;
			expiring++;
			fputs("<li>", f);
			web_html_escape(f, v[i]->name);
			fputs(" (", f);
			web_html_escape(f, v[i]->network);
			fputs("): ", f);
			utc(f, na);
			fputs(na < now ? " (expired)</li>\n" : "</li>\n", f);
		}
		free(v);
	}
	if (expiring == 0)
		fputs("<li>none</li>\n", f);
	fputs("</ul>\n", f);
}

/* --- routing ---------------------------------------------------------------------------- */

static const struct {
	const char *path, *title;
} nav[] = {
	{ "/", "Hosts" }, { "/links", "Links" }, { "/pending", "Join requests" },
	{ "/status", "Status" }, { "/audit", "Audit" },
};

void
web_page_begin(FILE *f, const char *path, bool beat)
{
	fputs("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<title>wiresync</title><link rel=\"stylesheet\" href=\"/style.css\">"
	    "<script src=\"/app.js\" defer></script></head><body><nav>", f);
	for (size_t i = 0; i < sizeof(nav) / sizeof(nav[0]); i++)
		fprintf(f, "<a href=\"%s\"%s>%s</a>", nav[i].path,
		    strcmp(nav[i].path, path) == 0 ? " class=\"here\"" : "", nav[i].title);
	fprintf(f, "</nav><main id=\"main\"%s>\n", beat ? " data-beat=\"1\"" : "");
}

void
web_page_finish(struct web_resp *out, int status, const char *type, FILE *f, char **buf,
    size_t *len)
{
	/* open_memstream's buffer and size are known once the stream is closed */
	if (fclose(f) != 0) {
		free(*buf);
		*buf = NULL;
		*len = 0;
		status = 500;
	}
	out->status = status;
	out->type = type;
	out->body = *buf;
	out->len = *len;
}

void
web_page_text(struct web_resp *out, int status, const char *msg)
{
	out->status = status;
	out->type = "text/plain; charset=utf-8";
	out->body = strdup(msg);
	out->len = out->body != NULL ? strlen(out->body) : 0;
}

/* The join requests' page with msg above them, as the answer to a decision. */
void
web_pending_page(struct web *w, const char *network, int status, const char *msg,
    struct web_resp *out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if ((f = open_memstream(&buf, &len)) == NULL) {
		web_page_text(out, 500, "out of memory\n");
		return;
	}
	web_page_begin(f, "/pending", true);
	render_pending(w, network, f, msg);
	fputs("</main></body></html>\n", f);
	web_page_finish(out, status, "text/html; charset=utf-8", f, &buf, &len);
}

void
web_route(struct web *w, const struct web_req *r, const char *network,
    struct web_later *later, struct web_resp *out)
{
	bool fragment = strcmp(r->query, "fragment=1") == 0;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	memset(out, 0, sizeof(*out));
	if (r->method == WEB_POST) {
		web_post(w, r, network, later, out);
		return;
	}
	if (strcmp(r->path, "/app.js") == 0) {
		web_page_text(out, 200, web_app_js);
		out->type = "text/javascript; charset=utf-8";
		return;
	}
	if (strcmp(r->path, "/style.css") == 0) {
		web_page_text(out, 200, web_style_css);
		out->type = "text/css; charset=utf-8";
		return;
	}
	if (strcmp(r->path, "/events") == 0) {
		size_t clients, streams;
		web_counts(w, &clients, &streams);
		if (streams >= WEB_MAX_STREAMS) {
			/* open tabs must leave room for the pages themselves */
			web_page_text(out, 503, "too many event streams open; close a console "
			    "tab\n");
			return;
		}
		out->status = 200;
		out->type = "text/event-stream";
		out->event_stream = true;
		return;
	}
	if (strcmp(r->path, "/audit") == 0) {
		web_audit_page(w, network, fragment, later, out);
		return;
	}
	if ((f = open_memstream(&buf, &len)) == NULL) {
		web_page_text(out, 500, "out of memory\n");
		return;
	}
	if (strcmp(r->path, "/api/hosts") == 0) {
		json_hosts(w, network, f);
		web_page_finish(out, 200, "application/json", f, &buf, &len);
		return;
	}
	if (strcmp(r->path, "/api/links") == 0) {
		json_links(w, network, f);
		web_page_finish(out, 200, "application/json", f, &buf, &len);
		return;
	}
	if (strncmp(r->path, "/static/", 8) == 0) {
		char name[CERT_NAME_MAX + 1];
		int st;
		if (!web_url_decode(r->path + 8, name, sizeof(name))) {
			fputs("bad name\n", f);
			web_page_finish(out, 400, "text/plain; charset=utf-8", f, &buf, &len);
			return;
		}
		if (!fragment)
			web_page_begin(f, "/", false);
		st = web_render_static(w, network, name, f);
		if (!fragment)
			fputs("</main></body></html>\n", f);
		if (st != 200) {
			fclose(f);
			free(buf);
			web_page_text(out, st, st == 404 ? "not found: no static peer of that name\n" :
			    "out of memory\n");
			return;
		}
		web_page_finish(out, 200, "text/html; charset=utf-8", f, &buf, &len);
		return;
	}
	if (strcmp(r->path, "/") != 0 && strcmp(r->path, "/links") != 0 &&
	    strcmp(r->path, "/pending") != 0 && strcmp(r->path, "/status") != 0 &&
	    strcmp(r->path, "/audit") != 0) {
		fputs("not found: try / /links /pending /status /audit\n", f);
		web_page_finish(out, 404, "text/plain; charset=utf-8", f, &buf, &len);
		return;
	}
	if (!fragment)
		/* link states change without a commit: those pages follow the heartbeat */
		web_page_begin(f, r->path, strcmp(r->path, "/pending") == 0 ||
		    strcmp(r->path, "/status") == 0 || strcmp(r->path, "/links") == 0);
	if (strcmp(r->path, "/") == 0)
		render_hosts(w, network, f);
	else if (strcmp(r->path, "/links") == 0)
		render_links(w, network, f);
	else if (strcmp(r->path, "/pending") == 0)
		render_pending(w, network, f, NULL);
	else
		render_status(w, network, f);
	if (!fragment)
		fputs("</main></body></html>\n", f);
	web_page_finish(out, 200, "text/html; charset=utf-8", f, &buf, &len);
}
