/* The console's /audit page: the newest admin actions (server/audit.h), as wiresyncctl
 * audit shows them; the admin's name and serial, or "server" for a policy or CRL loaded.
 * Read with store_audit_list, so on a shared store the page is answered when the
 * database's rows are in (web_later_answer). */
#include "config.h"

#include <errno.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "server/service_impl.h"
#include "server/store.h"
#include "server/web_http.h"
#include "server/web_impl.h"

#define WEB_AUDIT_ROWS 200

struct audit_page {
	struct web_later *later;
	bool fragment;
	FILE *f;
	char *buf;
	size_t len;
};

static int
audit_row(const struct store_audit *e, void *arg)
{
	FILE *f = ((struct audit_page *)arg)->f;
	time_t t = (time_t)(e->time_ms / 1000);
	struct tm tm;
	char when[32] = "-";

	if (gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%SZ", &tm);
	fprintf(f, "<tr><td>%s</td><td class=\"admin\">", when);
	if (e->admin[0] == '\0') {
		fputs("server", f);
	} else {
		web_html_escape(f, e->admin);
		if (e->serial[0] != '\0') {
			fputs(" <span class=\"serial\">", f);
			web_html_escape(f, e->serial);
			fputs("</span>", f);
		}
	}
	fputs("</td><td class=\"action\">", f);
	web_html_escape(f, e->action);
	fputs("</td><td>", f);
	web_html_escape(f, e->network);
	fputs("</td><td>", f);
	web_html_escape(f, e->detail);
	fputs("</td></tr>\n", f);
	return 0;
}

/* The rows are in (err 0) or will not come: the page's end, and its answer. */
static void
audit_end(struct audit_page *pg, int err, struct web_resp *out)
{
	if (err == -ENOTCONN)
		fputs("<tr><td colspan=\"5\" class=\"warn\">the cluster's database is not "
		    "reachable: the audit log cannot be read now; reload later</td></tr>\n", pg->f);
	else if (err != 0)
		fputs("<tr><td colspan=\"5\" class=\"warn\">the store could not be read (see the "
		    "server's log)</td></tr>\n", pg->f);
	fputs("</table>\n", pg->f);
	if (!pg->fragment)
		fputs("</main></body></html>\n", pg->f);
	web_page_finish(out, 200, "text/html; charset=utf-8", pg->f, &pg->buf, &pg->len);
}

static void
audit_done(void *arg, int err)
{
	struct audit_page *pg = arg;
	struct web_resp rs = { 0 };

	audit_end(pg, err, &rs);
	web_later_answer(pg->later, &rs);
	free(pg);
}

void
web_audit_page(struct web *w, const char *network, bool fragment, struct web_later *later,
    struct web_resp *out)
{
	struct audit_page *pg;
	int ret;

	if ((pg = calloc(1, sizeof(*pg))) == NULL ||
	    (pg->f = open_memstream(&pg->buf, &pg->len)) == NULL) {
		free(pg);
		web_page_text(out, 500, "out of memory\n");
		return;
	}
	pg->later = later;
	pg->fragment = fragment;
	if (!fragment)
		/* new actions come without a commit: the page follows the heartbeat */
		web_page_begin(pg->f, "/audit", true);
	fprintf(pg->f, "<h1>Audit log</h1><p>The newest %d admin actions (wiresyncctl "
	    "audit).</p><table id=\"audit\"><tr><th>time</th><th>admin (serial)</th>"
	    "<th>action</th><th>network</th><th>detail</th></tr>\n", WEB_AUDIT_ROWS);
	if ((ret = store_audit_list(w->svc->store, network, 0, WEB_AUDIT_ROWS, audit_row,
	    audit_done, pg)) != 0) {
		audit_end(pg, ret, out);
		free(pg);
		return;
	}
	/* answered through later: at once on SQLite, from the loop on a shared store */
	out->later = true;
}
