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
 * keeps: the page says what it pairs with, has a form that takes the key for one response
 * (POST /static/NAME/config, server/web_qr.c: the config and its QR code) and gives the
 * command that writes both where the key is. */
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
	fputs("</p><h2>Its configuration</h2><p>Its wg-quick configuration holds its private "
	    "key, which this server does not keep. Paste the key here to see the configuration "
	    "and its QR code once (the key is not stored or logged):</p>\n"
	    "<form id=\"config-form\" method=\"post\" action=\"/static/", f);
	web_url_escape(f, me->name);
	fputs("/config\"><input type=\"hidden\" name=\"csrf\" value=\"", f);
	web_html_escape(f, w->csrf);
	fputs("\"><label>Private key of ", f);
	web_html_escape(f, me->name);
	fputs(" (base64, as wg genkey wrote it): <input type=\"password\" name=\"private_key\" "
	    "id=\"private-key\" size=\"48\" autocomplete=\"off\" required></label> "
	    "<button type=\"submit\" id=\"show-config\">Show the configuration</button>"
	    "</form>\n<p>Or write it, with its QR code, where the key is:</p>\n"
	    "<pre id=\"genconf\">wiresyncctl genconf ", f);
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

