/* The --show table. */
#include "config.h"

#include <string.h>

#include "agent/endpoint.h"
#include "agent/path.h"
#include "agent/show.h"
#include "common/cert.h"

#define ROW_FMT "%-12s %-44s %-22s %-7s %-28s %-18s %-16s %-20s %s\n"

void
show_header(FILE *out)
{
	fprintf(out, ROW_FMT, "NAME", "KEY", "ENDPOINT", "FROM", "WHY", "ALLOWED IPS", "PATH",
	    "STATE", "PAIRED BY");
}

void
show_row(FILE *out, const struct show_row *r, int64_t now_s)
{
	struct sockaddr_storage have;
	const struct sockaddr_storage *actual = wg_peer_endpoint(r->wp, &have);
	struct path_in in = { .guess = r->guess, .guess_lan = r->guess_lan, .actual = actual,
	    .last_handshake_s = r->wp != NULL ? r->wp->last_handshake_s : 0, .now_s = now_s };
	struct path_choice pc;
	char b64[45], ep[64], g[64], why[64], state[40];
	char ips[CERT_TUNNEL_MAX * NETADDR_STRLEN] = "", one[NETADDR_STRLEN];
	const char *from;

	path_choose(&in, &pc);
	for (size_t i = 0; i < r->n_tunnel; i++) {
		if (i > 0)
			strcat(ips, ",");
		strcat(ips, netaddr_format(&r->tunnel[i], true, one));
	}
	snprintf(why, sizeof(why), "%s", r->guess == NULL ? "no address known" :
	    r->guess_lan ? "same LAN" : r->guess_observed ? "NAT mapping seen" : "seen by server");
	from = path_from_name(pc.from);
	if (actual != NULL) {
		endpoint_format(actual, ep, sizeof(ep));
		if (pc.from == PATH_ROAMED)
			snprintf(why, sizeof(why), "guess %s", endpoint_format(r->guess, g, sizeof(g)));
		else if (pc.has_endpoint && !path_addr_equal(actual, &pc.endpoint))
			from = "pending";
	} else if (r->guess != NULL) {
		endpoint_format(r->guess, ep, sizeof(ep));
		from = "pending";
	} else {
		snprintf(ep, sizeof(ep), "-");
	}
	if (r->path != NULL && strcmp(r->path, "relay") == 0 && actual != NULL) {
		from = "relay";
		snprintf(why, sizeof(why), "no direct path");
	}
	wg_key_to_base64(r->key, b64);
	if (r->wp != NULL && r->wp->last_handshake_s > 0)
		snprintf(state, sizeof(state), "handshake %llds ago",
		    (long long)(now_s - r->wp->last_handshake_s));
	else
		snprintf(state, sizeof(state), "%s", r->wp == NULL ? "not configured" :
		    "no handshake");
	fprintf(out, ROW_FMT, r->name, b64, ep, from, why, ips, r->path != NULL ? r->path : "-",
	    state, r->rule != NULL && r->rule[0] != '\0' ? r->rule : "-");
}
