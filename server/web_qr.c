/* POST /static/NAME/config: the private key checked against NAME's record, the config
 * gathered from the server's own records the way wiresyncctl genconf gathers them from the
 * Admin RPCs (the peers of NAME's network in ListPeers' order, each whose certificate
 * holds; the relay Status tells), written by common/genconf.c, and shown with its QR code.
 * web_qr.h says what happens to the key. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <qrencode.h>

#include "agent/endpoint.h"
#include "common/genconf.h"
#include "server/audit.h"
#include "server/peerpb.h"
#include "server/service.h"
#include "server/service_impl.h"
#include "server/web_impl.h"
#include "server/web_links.h"
#include "server/web_qr.h"

#define QR_QUIET 4                   /* modules of white around the code */
#define QR_SCALE 4                   /* pixels per module: a camera and zbarimg read it */
#define WARN_MAX 4

/* --- a FILE whose buffer is cleared whenever it moves or goes ---------------------------- */

struct secbuf {
	char *p;
	size_t len, cap;
};

static ssize_t
secbuf_write(void *cookie, const char *buf, size_t n)
{
	struct secbuf *b = cookie;

	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap > 0 ? b->cap : 16384;
		char *q;
		while (cap < b->len + n + 1)
			cap *= 2;
		if ((q = malloc(cap)) == NULL)
			return 0;
		if (b->p != NULL) {
			memcpy(q, b->p, b->len);
			OPENSSL_cleanse(b->p, b->cap);
			free(b->p);
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, buf, n);
	b->len += n;
	b->p[b->len] = '\0';
	return (ssize_t)n;
}

/* Unbuffered: stdio keeps no copy of its own. */
static FILE *
secbuf_open(struct secbuf *b)
{
	cookie_io_functions_t io = { .write = secbuf_write };
	FILE *f;

	memset(b, 0, sizeof(*b));
	if ((f = fopencookie(b, "w", io)) != NULL)
		setvbuf(f, NULL, _IONBF, 0);
	return f;
}

static void
secbuf_free(struct secbuf *b)
{
	if (b->p != NULL)
		OPENSSL_cleanse(b->p, b->cap);
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* --- the QR code ------------------------------------------------------------------------ */

int
web_qr_svg(FILE *f, const char *text, int scale, char *err, size_t errlen)
{
	QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	int n;

	/* level L holds a quarter more: a config of many peers still fits a phone's camera */
	if (q == NULL && errno == ERANGE)
		q = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
	if (q == NULL) {
		snprintf(err, errlen, errno == ERANGE ? "too long for a QR code (%zu bytes)" :
		    "out of memory", strlen(text));
		return -1;
	}
	n = q->width + 2 * QR_QUIET;
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"qr\" width=\"%d\" "
	    "height=\"%d\" viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\" role=\"img\" "
	    "aria-label=\"QR code of the config\"><rect width=\"%d\" height=\"%d\" "
	    "fill=\"#fff\"/><path fill=\"#000\" d=\"", n * scale, n * scale, n, n, n, n);
	/* each run of dark modules in a row is one rectangle */
	for (int y = 0; y < q->width; y++)
		for (int x = 0; x < q->width; x++) {
			int run = 0;
			while (x + run < q->width && (q->data[y * q->width + x + run] & 1))
				run++;
			if (run > 0)
				fprintf(f, "M%d %dh%dv1h-%dz", x + QR_QUIET, y + QR_QUIET, run,
				    run);
			x += run;
		}
	fputs("\"/></svg>\n", f);
	OPENSSL_cleanse(q->data, (size_t)q->width * (size_t)q->width);
	QRcode_free(q);
	return 0;
}

/* --- the config from the server's records ------------------------------------------------ */

bool
web_qr_path(const char *path)
{
	size_t n = strlen(path);

	return strncmp(path, "/static/", 8) == 0 && n > 8 + 7 &&
	    strcmp(path + n - 7, "/config") == 0;
}

/* ListPeers' order (server/admin.c): name, then key. */
static int
peer_cmp(const void *x, const void *y)
{
	const struct peer *a = *(const struct peer *const *)x, *b = *(const struct peer *const *)y;
	int c = strcmp(a->name, b->name);

	return c != 0 ? c : memcmp(a->key, b->key, WG_KEY_LEN);
}

struct gather {
	struct peerpb_view *views;                 /* [0] the owner */
	struct cert_identity *ids;
	struct genconf_peer *gp;
	char relay[64];
	char warn[WARN_MAX][200];
	size_t n_warn;
};

static void warn(struct gather *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
warn(struct gather *g, const char *fmt, ...)
{
	va_list ap;

	if (g->n_warn >= WARN_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(g->warn[g->n_warn++], sizeof(g->warn[0]), fmt, ap);
	va_end(ap);
}

/* The relay as the phone reaches it: Status's relay_endpoint, numeric as ctl resolves it.
 * The console does not know the address phones reach the server at, so an unspecified
 * relay address is left out, as genconf does when it cannot use the relay. */
static void
gather_paths(struct web *w, struct gather *g)
{
	const char *relay = w->svc->relay_endpoint;
	struct sockaddr_storage ss;
	char at[80];

	if (relay[0] != '\0') {
		if (genconf_relay_target(relay, NULL, at, sizeof(at)) < 0 ||
		    !endpoint_parse(at, &ss))
			warn(g, "the server's relay %s has an unspecified address, which only the "
			    "phone's way to this server fills in: the config has the direct guesses "
			    "(wiresyncctl genconf fills in its own server address)", relay);
		else
			endpoint_format(&ss, g->relay, sizeof(g->relay));
	}
	if (w->svc->hub_port != 0)
		warn(g, "%s", "the server's hub is left out: the console does not know the address "
		    "phones reach this server at (wiresyncctl genconf writes it)");
}

/* The config of me with the other peers of its network whose certificate still holds
 * (as genconf leaves out those that do not verify) into f. 0, or -1 out of memory. */
static int
write_config(struct web *w, const struct peer *me, const char *privkey, struct gather *g,
    FILE *f)
{
	const struct peer **v;
	struct genconf_config gc = {
		.name = me->name, .network = me->network, .revision = service_revision(w->svc),
		.address = me->tunnel, .n_address = me->n_tunnel, .listen_port = me->listen_port,
		.private_key = privkey, .hub = "",
	};
	int64_t now = (int64_t)time(NULL);
	size_t n, k = 0;
	int ret = -1;

	if (!web_hosts(w, me->network, &v, &n))
		return -1;
	g->views = calloc(n + 1, sizeof(*g->views));
	g->ids = calloc(n + 1, sizeof(*g->ids));
	g->gp = calloc(n + 1, sizeof(*g->gp));
	if (g->views == NULL || g->ids == NULL || g->gp == NULL)
		goto out;
	if (n > 0)
		qsort(v, n, sizeof(*v), peer_cmp);
	gather_paths(w, g);
	peerpb_view_init(&g->views[0], me);
	for (size_t i = 0; i < n; i++) {
		struct cert_identity *id = &g->ids[k];
		char err[160];

		if (v[i] == me || memcmp(v[i]->key, me->key, WG_KEY_LEN) == 0)
			continue;
		if (!cert_identity_from_der(v[i]->cert, v[i]->cert_len, id, err, sizeof(err)) ||
		    !id->has_key || memcmp(id->key, v[i]->key, WG_KEY_LEN) != 0 ||
		    id->not_after < now) {
			warn(g, "left out %s: its certificate does not hold (expired, or not its "
			    "key)", v[i]->name);
			continue;
		}
		peerpb_view_init(&g->views[k + 1], v[i]);
		g->gp[k] = (struct genconf_peer){ .rec = &g->views[k + 1].m,
		    .is_static = v[i]->is_static, .key = id->key, .allowed = id->tunnel,
		    .n_allowed = id->n_tunnel };
		genconf_reach(&g->views[0].m, &g->views[k + 1].m, &g->gp[k].reach);
		k++;
	}
	gc.relay = g->relay;
	gc.peers = g->gp;
	gc.n_peers = k;
	ret = genconf_write(f, &gc);
out:
	free(v);
	return ret;
}

static void
gather_free(struct gather *g)
{
	free(g->views);
	free(g->ids);
	free(g->gp);
}

/* --- the form and the page --------------------------------------------------------------- */

static const struct peer *
find_static(struct web *w, const char *network, const char *name)
{
	const struct peer **v, *me = NULL;
	size_t n;

	if (!web_hosts(w, network, &v, &n))
		return NULL;
	for (size_t i = 0; i < n && me == NULL; i++)
		if (v[i]->is_static && strcmp(v[i]->name, name) == 0)
			me = v[i];
	free(v);
	return me;
}

/* The form's private_key, trimmed, into text (45 bytes); whether it is me's key. Every
 * copy but text is cleared here; msg says what is wrong. */
static bool
key_ok(const struct web_req *r, const struct peer *me, char text[45], char *msg,
    size_t msglen)
{
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
	size_t publen = sizeof(pub), a = 0, n;
	char field[128];
	EVP_PKEY *pk = NULL;
	bool ok = false;

	if (!web_form_get(r->body, r->body_len, "private_key", field, sizeof(field))) {
		snprintf(msg, msglen, "private_key: missing: paste %s's private key (base64, as "
		    "wg genkey wrote it) into the form\n", me->name);
		goto out;
	}
	n = strlen(field);
	while (n > 0 && (field[n - 1] == ' ' || field[n - 1] == '\n' || field[n - 1] == '\r' ||
	    field[n - 1] == '\t'))
		field[--n] = '\0';
	while (field[a] == ' ' || field[a] == '\n' || field[a] == '\r' || field[a] == '\t')
		a++;
	if (n - a != 44 || !wg_key_from_base64(field + a, priv)) {
		snprintf(msg, msglen, "private_key: not a WireGuard private key (base64 of 32 "
		    "bytes, as wg genkey writes it): paste the contents of %s's key file\n",
		    me->name);
		goto out;
	}
	if ((pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, sizeof(priv))) ==
	    NULL || EVP_PKEY_get_raw_public_key(pk, pub, &publen) != 1) {
		snprintf(msg, msglen, "private_key: its public key cannot be derived\n");
		goto out;
	}
	if (memcmp(pub, me->key, WG_KEY_LEN) != 0) {
		snprintf(msg, msglen, "private_key: this is not %s's private key (its public key "
		    "is not the one %s's certificate binds): paste the key %s's certificate was "
		    "made for\n", me->name, me->name, me->name);
		goto out;
	}
	memcpy(text, field + a, 44);
	text[44] = '\0';
	ok = true;
out:
	EVP_PKEY_free(pk);
	OPENSSL_cleanse(priv, sizeof(priv));
	OPENSSL_cleanse(field, sizeof(field));
	return ok;
}

/* The page: the QR code first (it fits the first screen), then the config as text. */
static int
write_page(const struct peer *me, const struct gather *g, const char *config, FILE *f)
{
	char err[128];

	fputs("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<title>wiresync</title><link rel=\"stylesheet\" href=\"/style.css\"></head><body>"
	    "<nav><a href=\"/\">Hosts</a><a href=\"/links\">Links</a><a href=\"/pending\">Join "
	    "requests</a><a href=\"/status\">Status</a><a href=\"/audit\">Audit</a></nav>"
	    "<main id=\"main\">\n<h1>wg-quick config of <span id=\"static-name\">", f);
	web_html_escape(f, me->name);
	fputs("</span></h1>\n", f);
	for (size_t i = 0; i < g->n_warn; i++) {
		fputs("<p class=\"warn\">", f);
		web_html_escape(f, g->warn[i]);
		fputs("</p>\n", f);
	}
	fputs("<div id=\"qr-box\">", f);
	if (web_qr_svg(f, config, QR_SCALE, err, sizeof(err)) < 0) {
		fputs("<p class=\"warn\">No QR code: the config is ", f);
		web_html_escape(f, err);
		fputs("; copy the text instead.</p>", f);
	}
	fputs("</div>\n<p>This page holds the private key: it is not stored or kept in the "
	    "browser's cache; close it once the phone has the config.</p>\n<pre id=\"config\">",
	    f);
	web_html_escape(f, config);
	fputs("</pre>\n</main></body></html>\n", f);
	return ferror(f) ? -1 : 0;
}

void
web_static_config(struct web *w, const struct web_req *r, const char *network,
    struct web_resp *out)
{
	char name[CERT_NAME_MAX + 1], seg[3 * CERT_NAME_MAX + 1], key[45] = "", msg[512];
	size_t n = strlen(r->path) - 8 - 7;
	struct secbuf cfg = { 0 }, page = { 0 };
	struct gather g;
	const struct peer *me;
	FILE *f;
	int rc;

	memset(&g, 0, sizeof(g));
	if (n >= sizeof(seg)) {
		web_page_text(out, 404, "not found: no static peer of that name\n");
		return;
	}
	memcpy(seg, r->path + 8, n);
	seg[n] = '\0';
	if (!web_url_decode(seg, name, sizeof(name)) ||
	    (me = find_static(w, network, name)) == NULL) {
		web_page_text(out, 404, "not found: no static peer of that name\n");
		return;
	}
	if (!key_ok(r, me, key, msg, sizeof(msg))) {
		web_page_text(out, 400, msg);
		return;
	}
	if ((f = secbuf_open(&cfg)) == NULL) {
		web_page_text(out, 500, "out of memory\n");
		goto out;
	}
	rc = write_config(w, me, key, &g, f);
	if (fclose(f) != 0 || rc < 0 || cfg.p == NULL) {
		web_page_text(out, 500, "out of memory\n");
		goto out;
	}
	if ((f = secbuf_open(&page)) == NULL) {
		web_page_text(out, 500, "out of memory\n");
		goto out;
	}
	rc = write_page(me, &g, cfg.p, f);
	if (fclose(f) != 0 || rc < 0) {
		web_page_text(out, 500, "out of memory\n");
		goto out;
	}
	audit_record_as(w->svc, "web console", "", me->network, "static-config",
	    "static config shown for %s (the web console, %s%s)", me->name,
	    network != NULL ? "admin of " : "loopback", network != NULL ? network : "");
	out->status = 200;
	out->type = "text/html; charset=utf-8";
	out->body = page.p;                  /* web.c clears it once sent */
	out->len = page.len;
	page.p = NULL;
out:
	OPENSSL_cleanse(key, sizeof(key));
	secbuf_free(&cfg);
	secbuf_free(&page);
	gather_free(&g);
}
