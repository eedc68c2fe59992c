/* libFuzzer target: the web console's request parsing (server/web_http.c) as web.c drives
 * it, on any bytes: a verdict, never a read past the input; a request it accepts has a
 * path that starts with '/', a body inside the input, and whose form fields and cookie
 * decode within their bounds; the escapers take whatever path came. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/web_http.h"
#include "test/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct web_req r;
	char *copy, v[80], *out = NULL;
	size_t out_len = 0;
	FILE *f;
	int st;

	if (size > WEB_REQUEST_MAX)
		size = WEB_REQUEST_MAX;
	/* exactly size bytes: ASan catches any read past them */
	if ((copy = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	st = web_http_parse(copy, size, &r);
	if (st == 1) {
		if (r.path[0] != '/' || r.total > size || r.body < copy ||
		    r.body + r.body_len > copy + size)
			abort();
		web_form_get(r.body, r.body_len, "csrf", v, sizeof(v));
		web_form_get(r.body, r.body_len, "id", v, sizeof(v));
		web_cookie_get(r.cookie, "ws_csrf", v, sizeof(v));
		(void)web_csrf_ok(&r, "token");
		(void)web_url_decode(r.path, v, sizeof(v));
		if ((f = open_memstream(&out, &out_len)) != NULL) {
			web_html_escape(f, r.path);
			web_json_escape(f, r.query);
			web_url_escape(f, r.cookie);
			fclose(f);
			free(out);
		}
	} else if (st != 0 && st != 400 && st != 405 && st != 413 && st != 431 && st != 505) {
		abort();
	}
	free(copy);
	return 0;
}
