/* Unit tests for the web console's pure parts (server/web_http.c, web_addr_ok): request
 * parsing and its bounds, HTML and JSON escaping, forms, cookies and the CSRF check. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/web.h"
#include "server/web_http.h"
#include "test/check_suites.h"

static int
parse(const char *s, struct web_req *r)
{
	return web_http_parse(s, strlen(s), r);
}

START_TEST(test_parse_get)
{
	struct web_req r;
	const char *s = "GET /pending?fragment=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
	    "Cookie: a=b; ws_csrf=abc\r\n\r\n";

	ck_assert_int_eq(parse(s, &r), 1);
	ck_assert_int_eq(r.method, WEB_GET);
	ck_assert_str_eq(r.path, "/pending");
	ck_assert_str_eq(r.query, "fragment=1");
	ck_assert_str_eq(r.host, "127.0.0.1:8080");
	ck_assert_str_eq(r.cookie, "a=b; ws_csrf=abc");
	ck_assert_uint_eq(r.total, strlen(s));
	ck_assert_uint_eq(r.body_len, 0);
	/* bare LF line ends are taken too */
	ck_assert_int_eq(parse("HEAD / HTTP/1.0\n\n", &r), 1);
	ck_assert_int_eq(r.method, WEB_HEAD);
}
END_TEST

START_TEST(test_parse_post_body)
{
	struct web_req r;
	const char *s = "POST /pending/approve HTTP/1.1\r\nContent-Length: 12\r\n"
	    "Origin: http://127.0.0.1:8080\r\n\r\nid=7&csrf=xy";
	char head[200];

	ck_assert_int_eq(parse(s, &r), 1);
	ck_assert_int_eq(r.method, WEB_POST);
	ck_assert_uint_eq(r.body_len, 12);
	ck_assert(memcmp(r.body, "id=7&csrf=xy", 12) == 0);
	ck_assert(r.has_origin);
	ck_assert_str_eq(r.origin_host, "127.0.0.1:8080");
	/* the body not all here yet: more is needed, whatever has come */
	for (size_t n = 0; n < strlen(s); n++) {
		memcpy(head, s, n);
		ck_assert_int_eq(web_http_parse(head, n, &r), 0);
	}
}
END_TEST

START_TEST(test_parse_refusals)
{
	struct web_req r;
	char *big;

	ck_assert_int_eq(parse("PUT / HTTP/1.1\r\n\r\n", &r), 405);
	ck_assert_int_eq(parse("DELETE / HTTP/1.1\r\n\r\n", &r), 405);
	ck_assert_int_eq(parse("GET / HTTP/2.0\r\n\r\n", &r), 505);
	ck_assert_int_eq(parse("GET nothing HTTP/1.1\r\n\r\n", &r), 400);
	ck_assert_int_eq(parse("GET /\x01 HTTP/1.1\r\n\r\n", &r), 400);
	ck_assert_int_eq(parse("garbage\r\n\r\n", &r), 400);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nno colon\r\n\r\n", &r), 400);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", &r), 400);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &r), 400);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &r), 400);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n"
	    "\r\nx", &r), 400);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nContent-Length: 9000\r\n\r\n", &r), 413);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
	    &r), 413);
	/* too many headers, a head that never ends within the bound */
	big = calloc(1, WEB_REQUEST_MAX + 64);
	strcpy(big, "GET / HTTP/1.1\r\n");
	for (int i = 0; i <= WEB_HEADERS_MAX; i++)
		strcat(big, "X-A: b\r\n");
	strcat(big, "\r\n");
	ck_assert_int_eq(parse(big, &r), 431);
	memset(big, 'a', WEB_REQUEST_MAX);
	memcpy(big, "GET /", 5);
	big[WEB_REQUEST_MAX] = '\0';
	ck_assert_int_eq(web_http_parse(big, WEB_REQUEST_MAX, &r), 431);
	free(big);
}
END_TEST

/* Any prefix of any of these byte strings gives a verdict without reading past it (ASan
 * watches): the shape a fuzzer drives. */
START_TEST(test_parse_prefixes)
{
	static const char *const v[] = {
		"GET / HTTP/1.1\r\nCookie: ws_csrf=\r\n\r\n",
		"POST /x HTTP/1.1\r\nContent-Length: 3\r\nOrigin: null\r\n\r\nabc",
		"GET /?\r\n\r\n", "G", ":\r\n\r\n", "GET / HTTP/1.1\r\nHost:\r\n\r\n",
	};
	struct web_req r;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		for (size_t n = 0; n <= strlen(v[i]); n++) {
			char *p = malloc(n > 0 ? n : 1);
			memcpy(p, v[i], n);
			ck_assert_int_ge(web_http_parse(p, n, &r), 0);
			free(p);
		}
}
END_TEST

static char *
escaped(void (*fn)(FILE *, const char *), const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fn(f, s);
	fclose(f);
	return buf;
}

START_TEST(test_html_escape)
{
	char *s = escaped(web_html_escape, "<script>alert('x')</script> & \"q\"");

	ck_assert_str_eq(s, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
	free(s);
	s = escaped(web_html_escape, "plain host-1");
	ck_assert_str_eq(s, "plain host-1");
	free(s);
}
END_TEST

START_TEST(test_json_escape)
{
	char *s = escaped(web_json_escape, "a\"b\\c\n</script>&");

	ck_assert_str_eq(s, "a\\\"b\\\\c\\u000a\\u003c/script\\u003e\\u0026");
	free(s);
}
END_TEST

START_TEST(test_form_and_cookie)
{
	const char *b = "id=12&csrf=ab%2Bc&x=a+b";
	char v[16];

	ck_assert(web_form_get(b, strlen(b), "id", v, sizeof(v)));
	ck_assert_str_eq(v, "12");
	ck_assert(web_form_get(b, strlen(b), "csrf", v, sizeof(v)));
	ck_assert_str_eq(v, "ab+c");
	ck_assert(web_form_get(b, strlen(b), "x", v, sizeof(v)));
	ck_assert_str_eq(v, "a b");
	ck_assert(!web_form_get(b, strlen(b), "i", v, sizeof(v)));
	ck_assert(!web_form_get("a=%zz", 5, "a", v, sizeof(v)));
	ck_assert(!web_form_get("a=%00", 5, "a", v, sizeof(v)));
	ck_assert(!web_form_get("a=%4", 4, "a", v, sizeof(v)));
	ck_assert(!web_form_get("a=0123456789abcdefgh", 20, "a", v, sizeof(v)));
	ck_assert(web_cookie_get("x=1; ws_csrf=tok; y=2", "ws_csrf", v, sizeof(v)));
	ck_assert_str_eq(v, "tok");
	ck_assert(!web_cookie_get("xws_csrf=tok", "ws_csrf", v, sizeof(v)));
	ck_assert(!web_cookie_get("", "ws_csrf", v, sizeof(v)));
}
END_TEST

START_TEST(test_url)
{
	char *s = escaped(web_url_escape, "a b/<c>.d-e_f~");
	char v[16];

	ck_assert_str_eq(s, "a%20b%2F%3Cc%3E.d-e_f~");
	free(s);
	ck_assert(web_url_decode("a%20b%3Cc", v, sizeof(v)));
	ck_assert_str_eq(v, "a b<c");
	ck_assert(!web_url_decode("a%2Fb", v, sizeof(v)));
	ck_assert(!web_url_decode("a/b", v, sizeof(v)));
	ck_assert(!web_url_decode("a%00", v, sizeof(v)));
	ck_assert(!web_url_decode("a%2", v, sizeof(v)));
	ck_assert(!web_url_decode("", v, sizeof(v)));
	ck_assert(!web_url_decode("0123456789abcdefgh", v, sizeof(v)));
}
END_TEST

static bool
csrf(const char *cookie, const char *body, const char *token)
{
	struct web_req r;

	memset(&r, 0, sizeof(r));
	snprintf(r.cookie, sizeof(r.cookie), "%s", cookie);
	r.body = body;
	r.body_len = strlen(body);
	return web_csrf_ok(&r, token);
}

START_TEST(test_csrf)
{
	ck_assert(csrf("ws_csrf=t0k", "id=1&csrf=t0k", "t0k"));
	ck_assert(!csrf("", "id=1&csrf=t0k", "t0k"));
	ck_assert(!csrf("ws_csrf=t0k", "id=1", "t0k"));
	ck_assert(!csrf("ws_csrf=bad", "id=1&csrf=bad", "t0k"));
	ck_assert(!csrf("ws_csrf=t0k", "id=1&csrf=t0", "t0k"));
	ck_assert(!csrf("ws_csrf=t0kk", "id=1&csrf=t0kk", "t0k"));
	ck_assert(!csrf("ws_csrf=", "id=1&csrf=", ""));
}
END_TEST

START_TEST(test_addr)
{
	char err[256];

	ck_assert(web_addr_ok("127.0.0.1:8080", false, err, sizeof(err)));
	ck_assert(web_addr_ok("127.3.0.9:1", false, err, sizeof(err)));
	ck_assert(web_addr_ok("[::1]:8080", false, err, sizeof(err)));
	ck_assert(web_addr_ok("0.0.0.0:8443", true, err, sizeof(err)));
	ck_assert(web_addr_ok("[::]:8443", true, err, sizeof(err)));
	ck_assert(!web_addr_ok("0.0.0.0:8080", false, err, sizeof(err)));
	ck_assert_str_eq(err, "web_listen = 0.0.0.0:8080 is not loopback: the console needs TLS "
	    "there (web_tls = yes) or a loopback address");
	ck_assert(!web_addr_ok("192.0.2.1:8080", false, err, sizeof(err)));
	ck_assert(!web_addr_ok("localhost:8080", true, err, sizeof(err)));
	ck_assert(strstr(err, "not a numeric address") != NULL);
	ck_assert(!web_addr_ok("127.0.0.1", false, err, sizeof(err)));
	ck_assert(!web_addr_ok("127.0.0.1:70000", false, err, sizeof(err)));
	ck_assert(!web_addr_ok("127.0.0.1:-1", false, err, sizeof(err)));
}
END_TEST

Suite *
web_suite(void)
{
	Suite *s = suite_create("web");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_parse_get);
	tcase_add_test(tc, test_parse_post_body);
	tcase_add_test(tc, test_parse_refusals);
	tcase_add_test(tc, test_parse_prefixes);
	tcase_add_test(tc, test_html_escape);
	tcase_add_test(tc, test_json_escape);
	tcase_add_test(tc, test_form_and_cookie);
	tcase_add_test(tc, test_url);
	tcase_add_test(tc, test_csrf);
	tcase_add_test(tc, test_addr);
	suite_add_tcase(s, tc);
	return s;
}
