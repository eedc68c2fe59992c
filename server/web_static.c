/* The web console's page of a static peer (a phone): /static/NAME. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/pairing.h"
#include "server/service.h"
#include "server/web_impl.h"
#include "server/web_links.h"

/* The config of a static peer (a phone) needs its private key, which the server never
 * has, and the path choice of wiresyncctl genconf: the page says what it pairs with and
 * gives the command that writes the config and its QR code where the key is. */
int
web_render_static(struct web *w, const char *network, const char *name, FILE *f)
{
	const struct policyset *ps = service_policies(w->svc);
	const struct peer **v, *me = NULL;
	char a[NETADDR_STRLEN];
	size_t n, paired = 0;

	if (!web_hosts(w, network, &v, &n))
		return 500;
	for (size_t i = 0; i < n && me == NULL; i++)
		if (v[i]->is_static && strcmp(v[i]->name, name) == 0)
			me = v[i];
	if (me == NULL) {
		free(v);
		return 404;
	}
	fputs("<h1>Static peer <span id=\"static-name\">", f);
	web_html_escape(f, me->name);
	fputs("</span></h1><p>Tunnel addresses: ", f);
	for (size_t t = 0; t < me->n_tunnel; t++) {
		fputs(t > 0 ? ", " : "", f);
		web_html_escape(f, netaddr_format(&me->tunnel[t], false, a));
	}
	fputs("</p><p>Its wg-quick configuration holds its private key, which this server never "
	    "sees: write it, with its QR code, where the key is:</p>\n<pre id=\"genconf\">"
	    "wiresyncctl genconf ", f);
	web_html_escape(f, me->name);
	fputs(" --private-key ", f);
	web_html_escape(f, me->name);
	fputs(".key | qrencode -t ansiutf8</pre>\n<h2>It pairs with</h2><ul id=\"paired\">\n",
	    f);
	for (size_t i = 0; i < n; i++) {
		if (v[i] == me || strcmp(v[i]->network, me->network) != 0 ||
		    !pairing_peers(ps, me, v[i], NULL))
			continue;
		paired++;
		fputs("<li>", f);
		web_html_escape(f, v[i]->name);
		fputs(v[i]->online ? " (online)</li>\n" : " (offline)</li>\n", f);
	}
	fputs(paired == 0 ? "<li>none</li>\n</ul>\n" : "</ul>\n", f);
	free(v);
	return 200;
}

