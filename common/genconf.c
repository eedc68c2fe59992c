/* A static peer's wg-quick config: the per-peer choice between a direct Endpoint and the
 * server's relay, the relay's and hub's addresses as the phone sees them (genconf.h says
 * why), and the text. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/netaddr.h"
#include "common/genconf.h"

/* Its public address is its own: it reported the address the server saw as a LAN one. */
static bool
not_behind_nat(const Wiresync__V1__Peer *p)
{
	struct netaddr wan, lan;
	char err[128];

	if (p->wan_ip == NULL || p->wan_ip[0] == '\0' ||
	    !netaddr_parse(p->wan_ip, false, &wan, err, sizeof(err)))
		return false;
	for (size_t i = 0; i < p->n_lan_ips; i++) {
		if (!netaddr_parse(p->lan_ips[i], true, &lan, err, sizeof(err)))
			continue;
		lan.prefix = wan.prefix;
		if (netaddr_equal(&wan, &lan))
			return true;
	}
	return false;
}

void
genconf_path_choose(const Wiresync__V1__Peer *p, bool is_static,
    const struct genconf_reach *r, bool have_relay, struct genconf_path *out)
{
	bool known = p->wan_ip != NULL && p->wan_ip[0] != '\0';

	if (r->n > 0 && r->first_lan) {
		*out = (struct genconf_path){ GENCONF_DIRECT, "shares this peer's LAN" };
		return;
	}
	if (r->n > 0 && is_static && known && p->listen_port != 0) {
		*out = (struct genconf_path){ GENCONF_DIRECT, "has a fixed endpoint" };
		return;
	}
	if (r->n > 0 && not_behind_nat(p)) {
		*out = (struct genconf_path){ GENCONF_DIRECT, "is not behind NAT" };
		return;
	}
	out->why = !known ? "has no known address" : p->n_lan_ips == 0 ?
	    "may be behind NAT (it reports no LAN address)" : "is behind NAT";
	out->via = have_relay ? GENCONF_RELAY : r->n > 0 ? GENCONF_GUESS : GENCONF_NONE;
}

/* The host part of "HOST:PORT" / "[V6]:PORT", brackets kept: *n bytes from the start. */
static bool
host_part(const char *hostport, size_t *n)
{
	const char *colon = strrchr(hostport, ':');

	if (colon == NULL || colon == hostport)
		return false;
	/* "::1" alone has colons but no port: a bracketed host or exactly one colon */
	if (hostport[0] == '[' ? colon[-1] != ']' : strchr(hostport, ':') != colon)
		return false;
	*n = (size_t)(colon - hostport);
	return true;
}

int
genconf_at_server(const char *server, uint32_t port, char *out, size_t len)
{
	size_t n;
	int w;

	if (server == NULL || !host_part(server, &n) || port == 0 || port > 65535)
		return -1;
	w = snprintf(out, len, "%.*s:%u", (int)n, server, port);
	return w > 0 && (size_t)w < len ? 0 : -1;
}

int
genconf_relay_target(const char *relay, const char *server, char *out, size_t len)
{
	struct netaddr a;
	char host[NETADDR_STRLEN + 2], err[128], *end;
	const char *h;
	unsigned long port;
	size_t n;
	int w;

	if (relay == NULL || !host_part(relay, &n) || n >= sizeof(host))
		return -1;
	port = strtoul(relay + n + 1, &end, 10);
	if (relay[n + 1] == '\0' || *end != '\0' || port == 0 || port > 65535)
		return -1;
	h = relay;
	if (relay[0] == '[') {
		h++;
		n -= 2;
	}
	memcpy(host, h, n);
	host[n] = '\0';
	if (!netaddr_parse(host, false, &a, err, sizeof(err)))
		return -1;
	{
		static const uint8_t zero[16];
		if (memcmp(a.addr, zero, a.family == AF_INET ? 4 : 16) == 0)
			return genconf_at_server(server, (uint32_t)port, out, len);
	}
	w = snprintf(out, len, "%s", relay);
	return w > 0 && (size_t)w < len ? 0 : -1;
}

int
genconf_hub(X509 *x, uint32_t hub_port, const char *server, uint8_t key[WG_KEY_LEN],
    char *at, size_t atlen, char *why, size_t whylen)
{
	char err[256];

	if (hub_port == 0)
		return 0;
	switch (x != NULL ? cert_hub_key(x, key, err, sizeof(err)) : -2) {
	case -2:
		snprintf(why, whylen, "no server certificate to take its key from");
		return -1;
	case -1:
		snprintf(why, whylen, "the server certificate: %s", err);
		return -1;
	case 0:
		snprintf(why, whylen, "the server certificate binds no WireGuard key "
		    "(wiresync-ca server --key)");
		return -1;
	}
	if (genconf_at_server(server, hub_port, at, atlen) < 0) {
		snprintf(why, whylen, "hub port %u at server \"%s\": not HOST:PORT", hub_port,
		    server != NULL ? server : "");
		return -1;
	}
	return 1;
}

/* --- the text ------------------------------------------------------------------------- */

static void
write_addrs(FILE *f, const char *key, const struct netaddr *a, size_t n)
{
	char buf[NETADDR_STRLEN];

	fprintf(f, "%s = ", key);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i > 0 ? ", " : "", netaddr_format(&a[i], true, buf));
	fputc('\n', f);
}

/* The hub carries no traffic (no AllowedIPs): the config's keepalives to it show the server
 * the phone's NAT mapping, and that address is how the relay knows the phone's packets. */
static void
write_hub(FILE *f, const struct genconf_config *c)
{
	char k[45];

	wg_key_to_base64(c->hub_key, k);
	fprintf(f, "\n[Peer]\n# the server's hub: no traffic; it sees this config's address, "
	    "which lets the relay recognise it\n");
	fprintf(f, "PublicKey = %s\n", k);
	fprintf(f, "Endpoint = %s\n", c->hub);
	fprintf(f, "PersistentKeepalive = %d\n", GENCONF_KEEPALIVE_S);
}

/* One [Peer]: the endpoint by genconf_path_choose. */
static void
write_peer(FILE *f, const struct genconf_peer *gp, const char *relay)
{
	const Wiresync__V1__Peer *p = gp->rec;
	struct genconf_path path;
	char k[45];

	wg_key_to_base64(gp->key, k);
	genconf_path_choose(p, gp->is_static, &gp->reach, relay[0] != '\0', &path);
	fprintf(f, "\n[Peer]\n# %s%s\n", p->name, gp->is_static ? " (static)" : "");
	if (path.via == GENCONF_RELAY)
		fprintf(f, "# via the relay: %s %s\n", p->name, path.why);
	else if (path.via == GENCONF_GUESS)
		fprintf(f, "# may be unreachable: %s %s and the server has no relay "
		    "(relay_listen)\n", p->name, path.why);
	else if (path.via == GENCONF_NONE)
		fprintf(f, "# no endpoint: %s %s and the server has no relay (relay_listen)\n",
		    p->name, path.why);
	fprintf(f, "PublicKey = %s\n", k);
	write_addrs(f, "AllowedIPs", gp->allowed, gp->n_allowed);
	if (path.via == GENCONF_RELAY)
		fprintf(f, "Endpoint = %s\n", relay);
	else if (gp->reach.n > 0)
		fprintf(f, "Endpoint = %s\n", gp->reach.first);
	if (path.via == GENCONF_RELAY || gp->reach.keepalive)
		fprintf(f, "PersistentKeepalive = %d\n", GENCONF_KEEPALIVE_S);
}

int
genconf_write(FILE *f, const struct genconf_config *c)
{
	const char *relay = c->relay != NULL ? c->relay : "";

	fprintf(f, "# wg-quick config for %s (network %s), wiresyncd revision %llu\n", c->name,
	    c->network, (unsigned long long)c->revision);
	fprintf(f, "[Interface]\n");
	write_addrs(f, "Address", c->address, c->n_address);
	if (c->listen_port != 0)
		fprintf(f, "ListenPort = %u\n", c->listen_port);
	if (c->private_key != NULL)
		fprintf(f, "PrivateKey = %s\n", c->private_key);
	else
		fprintf(f, "# PrivateKey = (%s's private key; or run genconf with --private-key "
		    "FILE)\n", c->name);
	if (c->hub != NULL && c->hub[0] != '\0' && c->hub_key != NULL)
		write_hub(f, c);
	for (size_t i = 0; i < c->n_peers; i++)
		write_peer(f, &c->peers[i], relay);
	return ferror(f) ? -1 : 0;
}
