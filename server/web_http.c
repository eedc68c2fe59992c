/* HTTP/1.1 requests for the web console: the request line, a bounded set of headers (the
 * few the console reads are kept), Content-Length bodies only (no chunked uploads). */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/web_http.h"

/* The end of the line starting at p (the CR of CRLF, or the LF), NULL when none in [p, e). */
static const char *
line_end(const char *p, const char *e)
{
	const char *nl = memchr(p, '\n', (size_t)(e - p));

	if (nl == NULL)
		return NULL;
	return nl > p && nl[-1] == '\r' ? nl - 1 : nl;
}

static const char *
next_line(const char *eol)
{
	return *eol == '\r' ? eol + 2 : eol + 1;
}

/* Copies the header value [v, ve) trimmed into out; false when it does not fit. */
static bool
copy_value(const char *v, const char *ve, char *out, size_t outlen)
{
	size_t n;

	while (v < ve && (*v == ' ' || *v == '\t'))
		v++;
	while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
		ve--;
	n = (size_t)(ve - v);
	if (n >= outlen)
		return false;
	memcpy(out, v, n);
	out[n] = '\0';
	return true;
}

static int
request_line(const char *p, const char *eol, struct web_req *r)
{
	const char *sp1 = memchr(p, ' ', (size_t)(eol - p)), *sp2, *q;
	size_t ml, pl;

	if (sp1 == NULL)
		return 400;
	ml = (size_t)(sp1 - p);
	if (ml == 3 && memcmp(p, "GET", 3) == 0)
		r->method = WEB_GET;
	else if (ml == 4 && memcmp(p, "HEAD", 4) == 0)
		r->method = WEB_HEAD;
	else if (ml == 4 && memcmp(p, "POST", 4) == 0)
		r->method = WEB_POST;
	else
		return ml > 0 && ml < 16 ? 405 : 400;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (sp2 == NULL || sp1[1] != '/')
		return 400;
	if ((size_t)(eol - sp2 - 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
		return memcmp(sp2 + 1, "HTTP/", eol - sp2 - 1 >= 5 ? 5 : 0) == 0 ? 505 : 400;
	q = memchr(sp1 + 1, '?', (size_t)(sp2 - sp1 - 1));
	pl = (size_t)((q != NULL ? q : sp2) - sp1 - 1);
	if (pl >= sizeof(r->path))
		return 431;
	memcpy(r->path, sp1 + 1, pl);
	r->path[pl] = '\0';
	if (q != NULL) {
		size_t ql = (size_t)(sp2 - q - 1);
		if (ql >= sizeof(r->query))
			return 431;
		memcpy(r->query, q + 1, ql);
		r->query[ql] = '\0';
	}
	for (size_t i = 0; i < pl; i++)
		if ((unsigned char)r->path[i] < 0x21 || (unsigned char)r->path[i] > 0x7e)
			return 400;
	return 0;
}

int
web_http_parse(const char *buf, size_t len, struct web_req *r)
{
	const char *e = buf + len, *p = buf, *eol, *head_end = NULL;
	unsigned long clen = 0;
	bool has_clen = false;
	int n_headers = 0, st;

	memset(r, 0, sizeof(*r));
	if ((eol = line_end(p, e)) == NULL)
		return len >= WEB_REQUEST_MAX ? 431 : 0;
	if ((st = request_line(p, eol, r)) != 0)
		return st;
	for (p = next_line(eol); ; p = next_line(eol)) {
		const char *colon;
		size_t nl;

		if ((eol = line_end(p, e)) == NULL)
			return len >= WEB_REQUEST_MAX ? 431 : 0;
		if (eol == p) {
			head_end = next_line(eol);
			break;
		}
		if (++n_headers > WEB_HEADERS_MAX)
			return 431;
		if ((colon = memchr(p, ':', (size_t)(eol - p))) == NULL || colon == p)
			return 400;
		nl = (size_t)(colon - p);
		for (size_t i = 0; i < nl; i++)
			if (!isalnum((unsigned char)p[i]) && p[i] != '-')
				return 400;
		if (nl == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
			char v[24], *end;
			if (has_clen || !copy_value(colon + 1, eol, v, sizeof(v)) || v[0] == '\0' ||
			    !isdigit((unsigned char)v[0]))
				return 400;
			clen = strtoul(v, &end, 10);
			if (*end != '\0')
				return 400;
			has_clen = true;
		} else if (nl == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0) {
			return 400;        /* no chunked bodies: a form fits in Content-Length */
		} else if (nl == 6 && strncasecmp(p, "Cookie", 6) == 0) {
			if (!copy_value(colon + 1, eol, r->cookie, sizeof(r->cookie)))
				return 431;
		} else if (nl == 4 && strncasecmp(p, "Host", 4) == 0) {
			if (!copy_value(colon + 1, eol, r->host, sizeof(r->host)))
				return 400;
		} else if (nl == 6 && strncasecmp(p, "Origin", 6) == 0) {
			char v[160];
			const char *h;
			if (!copy_value(colon + 1, eol, v, sizeof(v)))
				return 400;
			r->has_origin = true;
			h = strstr(v, "://");
			h = h != NULL ? h + 3 : v;
			if (strlen(h) >= sizeof(r->origin_host))
				return 400;
			memcpy(r->origin_host, h, strlen(h) + 1);
		}
	}
	if (clen > WEB_REQUEST_MAX || (size_t)(head_end - buf) + clen > WEB_REQUEST_MAX)
		return 413;
	if ((size_t)(e - head_end) < clen)
		return 0;
	r->body = head_end;
	r->body_len = clen;
	r->total = (size_t)(head_end - buf) + clen;
	return 1;
}

void
web_html_escape(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
	}
}

void
web_json_escape(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void
web_url_escape(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
			fputc(c, f);
		else
			fprintf(f, "%%%02X", c);
	}
}

bool
web_url_decode(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *s != '\0'; s++) {
		int c = (unsigned char)*s, h, l;
		if (c == '%') {
			if ((h = hexval(s[1])) < 0 || (l = hexval(s[2])) < 0)
				return false;
			c = h * 16 + l;
			s += 2;
		}
		if (c == 0 || c == '/' || o + 1 >= outlen)
			return false;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return o > 0;
}

bool
web_form_get(const char *body, size_t len, const char *name, char *out, size_t outlen)
{
	const char *p = body, *e = body + len;
	size_t nl = strlen(name);

	while (p < e) {
		const char *amp = memchr(p, '&', (size_t)(e - p)), *fe = amp != NULL ? amp : e;
		if ((size_t)(fe - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
			size_t o = 0;
			for (const char *v = p + nl + 1; v < fe; v++) {
				int c = (unsigned char)*v, h, l;
				if (c == '+') {
					c = ' ';
				} else if (c == '%') {
					if (fe - v < 3 || (h = hexval(v[1])) < 0 || (l = hexval(v[2])) < 0)
						return false;
					c = h * 16 + l;
					v += 2;
				}
				if (c == 0 || o + 1 >= outlen)
					return false;
				out[o++] = (char)c;
			}
			out[o] = '\0';
			return true;
		}
		p = fe + 1;
	}
	return false;
}

bool
web_cookie_get(const char *cookie, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *p = cookie;

	while (*p != '\0') {
		const char *semi = strchr(p, ';'), *ce = semi != NULL ? semi : p + strlen(p);
		while (*p == ' ')
			p++;
		if ((size_t)(ce - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
			size_t vl = (size_t)(ce - p - nl - 1);
			if (vl >= outlen)
				return false;
			memcpy(out, p + nl + 1, vl);
			out[vl] = '\0';
			return true;
		}
		if (semi == NULL)
			break;
		p = semi + 1;
	}
	return false;
}

static bool
same(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = la != lb;

	for (size_t i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

bool
web_csrf_ok(const struct web_req *r, const char *token)
{
	char c[80], f[80];

	return token[0] != '\0' && web_cookie_get(r->cookie, "ws_csrf", c, sizeof(c)) &&
	    web_form_get(r->body, r->body_len, "csrf", f, sizeof(f)) && same(c, token) &&
	    same(f, token);
}
