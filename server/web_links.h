/* The web console's links: which pairs of hosts to draw and in what state. The one place
 * that knows where link health comes from, so that the link-health store (server/links.h)
 * replaces the data source here and nothing else. */
#ifndef WS_WEB_LINKS_H
#define WS_WEB_LINKS_H

#include <stdbool.h>
#include <stddef.h>

#include "server/store.h"

struct web;

enum web_link_state { WEB_LINK_UNKNOWN, WEB_LINK_UP, WEB_LINK_DOWN };

struct web_link {
	size_t a, b;                 /* indexes into the hosts given */
	enum web_link_state state;
	char path[16];               /* "direct", "relay", "hub"; "?" unknown */
};

/* The pairs among hosts[0..n) (one network's each), a < b: *out (free) with *nout
 * entries. false on ENOMEM. */
bool web_links_collect(struct web *w, const struct peer **hosts, size_t n,
    struct web_link **out, size_t *nout);
/* "up", "down", "unknown". */
const char *web_link_state_name(enum web_link_state s);
/* Where the states come from, for the page ("pairing policy; no link reports yet"). */
const char *web_links_source(void);
/* The hosts list of web_pages.c, sorted by network and name (borrowed until the next
 * commit; free *v). false on ENOMEM. */
bool web_hosts(const struct web *w, const char *network, const struct peer ***v, size_t *n);

#endif
