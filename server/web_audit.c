/* The console's /audit page: the newest admin actions (server/audit.h), as wiresyncctl
 * audit shows them; the admin's name and serial, or "server" for a policy or CRL loaded. */
#include "config.h"

#include <errno.h>

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "server/service_impl.h"
#include "server/store.h"
#include "server/web_http.h"
#include "server/web_impl.h"

#define WEB_AUDIT_ROWS 200

static int
audit_row(const struct store_audit *e, void *arg)
{
	FILE *f = arg;
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

void
web_render_audit(struct web *w, const char *network, FILE *f)
{
	fprintf(f, "<h1>Audit log</h1><p>The newest %d admin actions (wiresyncctl audit).</p>"
	    "<table id=\"audit\"><tr><th>time</th><th>admin (serial)</th><th>action</th>"
	    "<th>network</th><th>detail</th></tr>\n", WEB_AUDIT_ROWS);
	switch (store_audit_foreach(w->svc->store, network, 0, WEB_AUDIT_ROWS, audit_row, f)) {
	case 0:
		break;
	case -ENOTSUP:
		fputs("<tr><td colspan=\"5\">a cluster on PostgreSQL keeps its audit log in its "
		    "database (table audit)</td></tr>\n", f);
		break;
	default:
		fputs("<tr><td colspan=\"5\" class=\"warn\">the store could not be read</td></tr>\n",
		    f);
	}
	fputs("</table>\n", f);
}
