/* wiresyncctl links and why (issue 16): the pairs of hosts with both ends' link reports
 * (Admin.ListLinks), and for one pair, why it is down (ListLinks, ShowPeer, CanPair). */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "proto/admin.pb-c.h"
#include "wg/wg.h"

/* "12s", "5m", "3h", "2d" ago; "never" for 0. */
static const char *
age(int64_t now_ms, int64_t then_ms, char *buf, size_t len)
{
	int64_t s = (now_ms - then_ms) / 1000;

	if (then_ms <= 0)
		return "never";
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 7200)
		snprintf(buf, len, "%lldm", (long long)(s / 60));
	else if (s < 172800)
		snprintf(buf, len, "%lldh", (long long)(s / 3600));
	else
		snprintf(buf, len, "%lldd", (long long)(s / 86400));
	return buf;
}

/* "1.2K", "3.4M": bytes, short. */
static const char *
bytes(uint64_t n, char *buf, size_t len)
{
	static const char unit[] = "KMGTP";
	double v = (double)n;
	int u = -1;

	while (v >= 1000 && u < 4) {
		v /= 1000;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%llu", (unsigned long long)n);
	else
		snprintf(buf, len, "%.1f%c", v, unit[u]);
	return buf;
}

static json_t *
end_json(const Wiresync__V1__LinkEnd *e, int64_t now_ms)
{
	json_t *o = json_object();
	char b64[45];

	json_object_set_new(o, "name", json_string(e->name));
	if (e->public_key.len == WG_KEY_LEN) {
		wg_key_to_base64(e->public_key.data, b64);
		json_object_set_new(o, "public_key", json_string(b64));
	}
	json_object_set_new(o, "reported", json_boolean(e->reported));
	if (e->reported && e->health != NULL) {
		const Wiresync__V1__LinkHealth *h = e->health;
		json_object_set_new(o, "reported_ms", json_integer(e->reported_ms));
		json_object_set_new(o, "path", json_string(h->path));
		json_object_set_new(o, "endpoint", json_string(h->endpoint));
		json_object_set_new(o, "last_handshake_ms", json_integer(h->last_handshake_ms));
		json_object_set_new(o, "handshake_age_s", h->last_handshake_ms > 0 ?
		    json_integer((now_ms - h->last_handshake_ms) / 1000) : json_null());
		json_object_set_new(o, "rx_bytes", json_integer((json_int_t)h->rx_bytes));
		json_object_set_new(o, "tx_bytes", json_integer((json_int_t)h->tx_bytes));
		json_object_set_new(o, "down_reason", json_string(h->down_reason));
	}
	return o;
}

static int
list_links(struct ctl *c, const char *name, Wiresync__V1__ListLinksReply **r)
{
	Wiresync__V1__ListLinksRequest req = WIRESYNC__V1__LIST_LINKS_REQUEST__INIT;

	req.name = (char *)(name != NULL ? name : "");
	return ctl_call_unpack(c, "ListLinks", &req.base,
	    &wiresync__v1__list_links_reply__descriptor, (void **)r);
}

static void
print_end(const Wiresync__V1__LinkEnd *e, int64_t now_ms)
{
	char a[16], rx[16], tx[16];
	const Wiresync__V1__LinkHealth *h = e->health;

	if (!e->reported || h == NULL) {
		printf("  %-22s %-6s %-8s", "-", "-", "-");
		return;
	}
	printf("  %-22s %-6s %4s/%-4s", h->endpoint[0] != '\0' ? h->endpoint : "-",
	    age(now_ms, h->last_handshake_ms, a, sizeof(a)), bytes(h->rx_bytes, rx, sizeof(rx)),
	    bytes(h->tx_bytes, tx, sizeof(tx)));
}

int
cmd_links(struct ctl *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' }, { NULL, 0, NULL, 0 },
	};
	Wiresync__V1__ListLinksReply *r;
	bool json = false;
	int o, st;

	optind = 0;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (o != 'j')
			return CTL_EXIT_USAGE;
		json = true;
	}
	if (argc - optind > 1) {
		ctl_err("links: give at most one host NAME");
		return CTL_EXIT_USAGE;
	}
	if ((st = list_links(c, optind < argc ? argv[optind] : NULL, &r)) != CTL_EXIT_OK)
		return st;
	if (json) {
		json_t *v = json_array();
		for (size_t i = 0; i < r->n_pairs; i++) {
			const Wiresync__V1__LinkPair *p = r->pairs[i];
			json_t *o2 = json_object();
			if (p->a == NULL || p->b == NULL)
				continue;
			json_object_set_new(o2, "a", end_json(p->a, r->now_ms));
			json_object_set_new(o2, "b", end_json(p->b, r->now_ms));
			json_object_set_new(o2, "up", json_boolean(p->up));
			json_object_set_new(o2, "path", json_string(p->path));
			json_array_append_new(v, o2);
		}
		st = ctl_json_print(v);
	} else {
		printf("%-16s %-16s %-5s %-8s  %-22s %-6s %-9s  %-22s %-6s %-9s\n", "A", "B",
		    "STATE", "PATH", "A ENDPOINT", "A HS", "A RX/TX", "B ENDPOINT", "B HS",
		    "B RX/TX");
		for (size_t i = 0; i < r->n_pairs; i++) {
			const Wiresync__V1__LinkPair *p = r->pairs[i];
			if (p->a == NULL || p->b == NULL)
				continue;
			printf("%-16s %-16s %-5s %-8s", p->a->name, p->b->name, p->up ? "up" :
			    "down", p->path[0] != '\0' ? p->path : "-");
			print_end(p->a, r->now_ms);
			print_end(p->b, r->now_ms);
			printf("\n");
		}
	}
	wiresync__v1__list_links_reply__free_unpacked(r, NULL);
	return st;
}

/* --- why ------------------------------------------------------------------------------- */

static int
show_peer(struct ctl *c, const char *name, Wiresync__V1__PeerInfo **pi)
{
	Wiresync__V1__PeerRef ref = WIRESYNC__V1__PEER_REF__INIT;
	int st;

	ref.name = (char *)name;
	st = ctl_call_unpack(c, "ShowPeer", &ref.base, &wiresync__v1__peer_info__descriptor,
	    (void **)pi);
	if (st == CTL_EXIT_OK && (*pi)->peer == NULL) {
		wiresync__v1__peer_info__free_unpacked(*pi, NULL);
		ctl_err("ShowPeer: the reply has no record");
		return CTL_EXIT_SERVER;
	}
	return st;
}

/* One end's report about the other, said. */
static void
why_end(const char *me, const char *other, const Wiresync__V1__LinkEnd *e, bool up,
    int64_t now_ms, uint32_t window_s)
{
	char a[16], b[16];
	const Wiresync__V1__LinkHealth *h = e != NULL ? e->health : NULL;

	if (e == NULL || !e->reported || h == NULL) {
		printf("  %s: no report about %s (its agent does not manage it, or reports "
		    "nothing)\n", me, other);
		return;
	}
	printf("  %s (reported %s ago): ", me, age(now_ms, e->reported_ms, a, sizeof(a)));
	if (h->down_reason[0] != '\0')
		printf("%s", h->down_reason);
	else if (!up && (h->last_handshake_ms <= 0 || now_ms - h->last_handshake_ms >
	    (int64_t)window_s * 1000))
		/* its agent still counts it up; the server's window (link_up_window_s) is shorter */
		printf("no handshake within the server's up window of %u s", window_s);
	else
		printf("%s", h->path[0] != '\0' ? h->path : "up");
	printf("; endpoint %s, last handshake %s%s\n", h->endpoint[0] != '\0' ? h->endpoint :
	    "none", age(now_ms, h->last_handshake_ms, b, sizeof(b)),
	    h->last_handshake_ms > 0 ? " ago" : "");
}

/* Whether the server has an address of the host, and whether it is online, said. */
static void
why_host(const Wiresync__V1__PeerInfo *pi)
{
	const Wiresync__V1__Peer *p = pi->peer;
	bool addr = p->n_lan_ips > 0 || p->wan_ip[0] != '\0' || p->observed_endpoint[0] != '\0';

	printf("  %s: %s", p->name, pi->is_static ? "static (runs no agent)" : p->online ?
	    "online" : "offline");
	if (!addr)
		printf(", no address known (no LAN, WAN or observed endpoint)");
	else {
		printf(",");
		for (size_t i = 0; i < p->n_lan_ips; i++)
			printf(" lan %s", p->lan_ips[i]);
		if (p->wan_ip[0] != '\0')
			printf(" wan %s:%u", p->wan_ip, p->listen_port);
		if (p->observed_endpoint[0] != '\0')
			printf(" observed %s", p->observed_endpoint);
	}
	printf("\n");
}

int
cmd_why(struct ctl *c, int argc, char **argv)
{
	Wiresync__V1__PeerInfo *pa = NULL, *pb = NULL;
	Wiresync__V1__ListLinksReply *r = NULL;
	Wiresync__V1__CanPairRequest cq = WIRESYNC__V1__CAN_PAIR_REQUEST__INIT;
	Wiresync__V1__CanPairReply *cp = NULL;
	const Wiresync__V1__LinkPair *pair = NULL;
	const Wiresync__V1__LinkEnd *ea = NULL, *eb = NULL;
	const char *a, *b;
	int st;

	if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-') {
		ctl_err("why: give two host names, A B");
		return CTL_EXIT_USAGE;
	}
	a = argv[1];
	b = argv[2];
	if ((st = show_peer(c, a, &pa)) != CTL_EXIT_OK ||
	    (st = show_peer(c, b, &pb)) != CTL_EXIT_OK ||
	    (st = list_links(c, a, &r)) != CTL_EXIT_OK)
		goto out;
	cq.a = (char *)a;
	cq.b = (char *)b;
	if ((st = ctl_call_unpack(c, "CanPair", &cq.base, &wiresync__v1__can_pair_reply__descriptor,
	    (void **)&cp)) != CTL_EXIT_OK)
		goto out;
	for (size_t i = 0; i < r->n_pairs && pair == NULL; i++) {
		const Wiresync__V1__LinkPair *p = r->pairs[i];
		if (p->a == NULL || p->b == NULL)
			continue;
		if (strcmp(p->a->name, a) == 0 && strcmp(p->b->name, b) == 0) {
			pair = p;
			ea = p->a;
			eb = p->b;
		} else if (strcmp(p->a->name, b) == 0 && strcmp(p->b->name, a) == 0) {
			pair = p;
			ea = p->b;
			eb = p->a;
		}
	}
	if (pair != NULL && pair->up) {
		printf("%s - %s: up via %s\n", a, b, pair->path);
		why_end(a, b, ea, true, r->now_ms, r->up_window_s);
		why_end(b, a, eb, true, r->now_ms, r->up_window_s);
		st = CTL_EXIT_OK;
		goto out;
	}
	printf("%s - %s: down%s\n", a, b, pair == NULL ? " (neither end reported on the pair)" :
	    "");
	why_end(a, b, ea, false, r->now_ms, r->up_window_s);
	why_end(b, a, eb, false, r->now_ms, r->up_window_s);
	if (cp->version == 0)
		printf("  policy: none; every host pairs\n");
	else if (cp->pairs)
		printf("  policy: pairs them (%s, version %llu)\n", cp->rule,
		    (unsigned long long)cp->version);
	else
		printf("  policy: does not pair them (no rule of version %llu): not paired by "
		    "policy\n", (unsigned long long)cp->version);
	why_host(pa);
	why_host(pb);
	st = CTL_EXIT_USAGE;   /* 1: down, said */
out:
	wiresync__v1__can_pair_reply__free_unpacked(cp, NULL);
	wiresync__v1__list_links_reply__free_unpacked(r, NULL);
	wiresync__v1__peer_info__free_unpacked(pb, NULL);
	wiresync__v1__peer_info__free_unpacked(pa, NULL);
	return st;
}
