/* The web console's HTTP/1.1 request parsing and HTML escaping: pure functions, no I/O,
 * bounded input (fuzz-friendly: any bytes in, a verdict out). */
#ifndef WS_WEB_HTTP_H
#define WS_WEB_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define WEB_REQUEST_MAX 8192     /* head and body of one request */
#define WEB_HEADERS_MAX 32
#define WEB_PATH_MAX 256
#define WEB_COOKIE_MAX 512

enum web_method { WEB_GET, WEB_HEAD, WEB_POST };

struct web_req {
	enum web_method method;
	char path[WEB_PATH_MAX];     /* without the query */
	char query[WEB_PATH_MAX];    /* after '?', "" when none */
	char cookie[WEB_COOKIE_MAX]; /* the Cookie header, "" when none */
	bool has_origin;             /* an Origin header came */
	char origin_host[128];       /* its host[:port] part */
	char host[128];              /* the Host header */
	const char *body;            /* points into the buffer parsed; body_len bytes */
	size_t body_len;
	size_t total;                /* bytes of the request: head and body */
};

/* Parses the request at the start of buf[0..len). Returns 1 with *r filled (r->body
 * points into buf), 0 when more bytes are needed (and len < WEB_REQUEST_MAX), or an HTTP
 * status to answer with and close: 400 malformed, 405 a method other than GET, HEAD and
 * POST, 413 a body that does not fit, 431 a head too large or too many headers, 505
 * not HTTP/1.x. */
int web_http_parse(const char *buf, size_t len, struct web_req *r);

/* Writes s to f escaped for HTML text and attribute values (& < > " '). */
void web_html_escape(FILE *f, const char *s);
/* Writes s to f as the inside of a JSON string ("\u003c" for <, so it is safe in HTML
 * too). */
void web_json_escape(FILE *f, const char *s);

/* Writes s to f percent-encoded for a URL path segment (unreserved characters kept). */
void web_url_escape(FILE *f, const char *s);
/* Decodes the percent-encoded path segment s into out; false when badly encoded, holding
 * NUL or '/', or longer than outlen - 1. */
bool web_url_decode(const char *s, char *out, size_t outlen);

/* The value of field name in an application/x-www-form-urlencoded body, decoded into out
 * (at most outlen - 1 bytes). false when it is absent, too long or badly encoded. */
bool web_form_get(const char *body, size_t len, const char *name, char *out, size_t outlen);
/* The value of cookie name in a Cookie header into out; false when absent or too long. */
bool web_cookie_get(const char *cookie, const char *name, char *out, size_t outlen);

/* The CSRF check of a POST: both the cookie "ws_csrf" and the form field "csrf" equal
 * token (compared in constant time), token non-empty. */
bool web_csrf_ok(const struct web_req *r, const char *token);

#endif
