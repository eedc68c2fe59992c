/* peers, show, remove, add-static, status: tables for people, --json (jansson) for scripts. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/cert.h"
#include "ctl/ctl.h"

/* --- formatting --------------------------------------------------------------------------- */

static void
key_b64(const ProtobufCBinaryData *k, char out[45])
{
	if (k->len == WG_KEY_LEN)
		wg_key_to_base64(k->data, out);
	else
		snprintf(out, 45, "(%zu bytes)", k->len);
}

static void
hex(const ProtobufCBinaryData *b, char *out, size_t len)
{
	out[0] = '\0';
	for (size_t i = 0; i < b->len && 2 * i + 2 < len; i++)
		snprintf(out + 2 * i, 3, "%02x", b->data[i]);
}

static void
iso_time(int64_t s, char *out, size_t len)
{
	time_t t = (time_t)s;
	struct tm tm;

	if (s <= 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(out, len, "-");
	else
		strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "12s ago", "3h ago", "-" */
static void
ago(int64_t ms, char *out, size_t len)
{
	int64_t d = (int64_t)time(NULL) - ms / 1000;

	if (ms <= 0)
		snprintf(out, len, "-");
	else if (d < 120)
		snprintf(out, len, "%llds ago", (long long)(d < 0 ? 0 : d));
	else if (d < 7200)
		snprintf(out, len, "%lldm ago", (long long)d / 60);
	else if (d < 172800)
		snprintf(out, len, "%lldh ago", (long long)d / 3600);
	else
		snprintf(out, len, "%lldd ago", (long long)d / 86400);
}

static json_t *
str_array(char **v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* One peer as a JSON object; with_cert adds the certificate as PEM. */
static json_t *
peer_json(const Wiresync__V1__PeerInfo *pi, bool with_cert)
{
	const Wiresync__V1__Peer *p = pi->peer;
	char k[45], id[2 * 32 + 1], when[32];
	json_t *o = json_object();

	key_b64(&p->public_key, k);
	hex(&p->lan_id, id, sizeof(id));
	json_object_set_new(o, "name", json_string(p->name));
	json_object_set_new(o, "network", json_string(pi->network));
	json_object_set_new(o, "public_key", json_string(k));
	json_object_set_new(o, "tunnel_ips", str_array(p->tunnel_ips, p->n_tunnel_ips));
	json_object_set_new(o, "listen_port", json_integer(p->listen_port));
	json_object_set_new(o, "lan_ips", str_array(p->lan_ips, p->n_lan_ips));
	json_object_set_new(o, "wan_ip", json_string(p->wan_ip));
	json_object_set_new(o, "lan_id", json_string(id));
	json_object_set_new(o, "observed_endpoint", json_string(p->observed_endpoint));
	json_object_set_new(o, "online", json_boolean(p->online));
	json_object_set_new(o, "static", json_boolean(pi->is_static));
	json_object_set_new(o, "last_seen_ms", json_integer(p->last_seen_ms));
	json_object_set_new(o, "revision", json_integer((json_int_t)p->revision));
	iso_time(pi->not_after, when, sizeof(when));
	json_object_set_new(o, "certificate_not_after", json_string(when));
	json_object_set_new(o, "certificate_serial", json_string(pi->serial));
	if (with_cert && p->certificate.len > 0) {
		const unsigned char *der = p->certificate.data;
		X509 *x = d2i_X509(NULL, &der, (long)p->certificate.len);
		BIO *bio = BIO_new(BIO_s_mem());
		char *pem;
		long n;
		if (x != NULL && bio != NULL && PEM_write_bio_X509(bio, x) == 1 &&
		    (n = BIO_get_mem_data(bio, &pem)) > 0)
			json_object_set_new(o, "certificate", json_stringn(pem, (size_t)n));
		BIO_free(bio);
		X509_free(x);
	}
	return o;
}

int
ctl_json_print(json_t *v)
{
	int r = json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);

	json_decref(v);
	if (r < 0) {
		ctl_err("cannot write JSON");
		return CTL_EXIT_USAGE;
	}
	putchar('\n');
	return CTL_EXIT_OK;
}

/* The LAN endpoints "ip:port,..." and the WAN one of a peer. */
static void
endpoints(const Wiresync__V1__Peer *p, char *lan, size_t lanlen, char *wan, size_t wanlen)
{
	size_t n = 0;

	lan[0] = '\0';
	for (size_t i = 0; i < p->n_lan_ips && n + 1 < lanlen; i++) {
		char one[80];
		ctl_hostport(p->lan_ips[i], p->listen_port, one, sizeof(one));
		n += (size_t)snprintf(lan + n, lanlen - n, "%s%s", i > 0 ? "," : "", one);
	}
	if (lan[0] == '\0')
		snprintf(lan, lanlen, "-");
	if (p->observed_endpoint[0] != '\0')
		snprintf(wan, wanlen, "%s", p->observed_endpoint);
	else if (p->wan_ip[0] != '\0' && p->listen_port != 0)
		ctl_hostport(p->wan_ip, p->listen_port, wan, wanlen);
	else
		snprintf(wan, wanlen, "-");
}

static void
joined(char **v, size_t n, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && used + 1 < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%s", i > 0 ? "," : "", v[i]);
	if (n == 0)
		snprintf(out, len, "-");
}

/* --- peers -------------------------------------------------------------------------------- */

#define COLS 7

static void
print_row(char cells[COLS][512], const int w[COLS])
{
	for (int i = 0; i + 1 < COLS; i++)
		printf("%-*s  ", w[i], cells[i]);
	printf("%s\n", cells[COLS - 1]);
}

static void
fill_row(const Wiresync__V1__PeerInfo *pi, char cells[COLS][512])
{
	const Wiresync__V1__Peer *p = pi->peer;

	snprintf(cells[0], 512, "%s", p->name);
	snprintf(cells[1], 512, "%s", pi->network);
	joined(p->tunnel_ips, p->n_tunnel_ips, cells[2], 512);
	snprintf(cells[3], 512, "%s", pi->is_static ? "static" : p->online ? "yes" : "no");
	ago(p->last_seen_ms, cells[4], 512);
	endpoints(p, cells[5], 512, cells[6], 512);
}

int
cmd_peers(struct ctl *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "network", required_argument, NULL, 'n' }, { "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	Wiresync__V1__ListPeersRequest req = WIRESYNC__V1__LIST_PEERS_REQUEST__INIT;
	Wiresync__V1__ListPeersReply *r;
	bool json = false;
	int o, st;

	optind = 0;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (o == 'n')
			req.network = optarg;
		else if (o == 'j')
			json = true;
		else
			return CTL_EXIT_USAGE;
	}
	if (optind < argc) {
		ctl_err("peers: unexpected argument \"%s\"", argv[optind]);
		return CTL_EXIT_USAGE;
	}
	if ((st = ctl_call_unpack(c, "ListPeers", &req.base, &wiresync__v1__list_peers_reply__descriptor,
	    (void **)&r)) != CTL_EXIT_OK)
		return st;
	if (json) {
		json_t *o2 = json_object(), *a = json_array();
		for (size_t i = 0; i < r->n_peers; i++)
			json_array_append_new(a, peer_json(r->peers[i], false));
		json_object_set_new(o2, "revision", json_integer((json_int_t)r->revision));
		json_object_set_new(o2, "peers", a);
		st = ctl_json_print(o2);
	} else {
		static const char *head[COLS] = { "NAME", "NETWORK", "TUNNEL IPS", "ONLINE",
		    "LAST SEEN", "LAN ENDPOINTS", "WAN ENDPOINT" };
		char (*cells)[COLS][512] = calloc(r->n_peers + 1, sizeof(*cells));
		int w[COLS] = { 0 };
		if (cells == NULL) {
			wiresync__v1__list_peers_reply__free_unpacked(r, NULL);
			ctl_err("out of memory");
			return CTL_EXIT_USAGE;
		}
		for (int j = 0; j < COLS; j++)
			snprintf(cells[0][j], 512, "%s", head[j]);
		for (size_t i = 0; i < r->n_peers; i++)
			fill_row(r->peers[i], cells[i + 1]);
		for (size_t i = 0; i <= r->n_peers; i++)
			for (int j = 0; j < COLS; j++)
				if ((int)strlen(cells[i][j]) > w[j])
					w[j] = (int)strlen(cells[i][j]);
		for (size_t i = 0; i <= r->n_peers; i++)
			print_row(cells[i], w);
		free(cells);
	}
	wiresync__v1__list_peers_reply__free_unpacked(r, NULL);
	return st;
}

/* --- show, remove ------------------------------------------------------------------------- */

/* NAME, or a base64 WireGuard key. */
static void
peer_ref(const char *arg, Wiresync__V1__PeerRef *ref, uint8_t key[WG_KEY_LEN])
{
	if (wg_key_from_base64(arg, key)) {
		ref->public_key.data = key;
		ref->public_key.len = WG_KEY_LEN;
	} else {
		ref->name = (char *)arg;
	}
}

static void
print_peer(const Wiresync__V1__PeerInfo *pi)
{
	const Wiresync__V1__Peer *p = pi->peer;
	char k[45], buf[1024], wan[128], when[32], id[2 * 32 + 1];

	key_b64(&p->public_key, k);
	printf("name:              %s\n", p->name);
	printf("network:           %s\n", pi->network);
	printf("public key:        %s\n", k);
	joined(p->tunnel_ips, p->n_tunnel_ips, buf, sizeof(buf));
	printf("tunnel IPs:        %s\n", buf);
	printf("listen port:       %u\n", p->listen_port);
	printf("kind:              %s\n", pi->is_static ? "static (no agent)" : "agent");
	printf("online:            %s\n", p->online ? "yes" : "no");
	ago(p->last_seen_ms, buf, sizeof(buf));
	printf("last seen:         %s\n", buf);
	endpoints(p, buf, sizeof(buf), wan, sizeof(wan));
	printf("LAN endpoints:     %s\n", buf);
	printf("WAN endpoint:      %s\n", wan);
	hex(&p->lan_id, id, sizeof(id));
	printf("LAN id:            %s\n", id[0] != '\0' ? id : "-");
	printf("revision:          %llu\n", (unsigned long long)p->revision);
	iso_time(pi->not_after, when, sizeof(when));
	printf("certificate:       serial %s, expires %s\n", pi->serial, when);
}

int
cmd_show(struct ctl *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' }, { NULL, 0, NULL, 0 },
	};
	Wiresync__V1__PeerRef ref = WIRESYNC__V1__PEER_REF__INIT;
	Wiresync__V1__PeerInfo *pi;
	uint8_t key[WG_KEY_LEN], *reply;
	size_t len;
	bool json = false;
	int o, st;

	optind = 0;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (o != 'j')
			return CTL_EXIT_USAGE;
		json = true;
	}
	if (optind + 1 != argc) {
		ctl_err("show: give one NAME or KEY");
		return CTL_EXIT_USAGE;
	}
	peer_ref(argv[optind], &ref, key);
	if ((st = ctl_call(c, "ShowPeer", &ref.base, &reply, &len)) != CTL_EXIT_OK)
		return st;
	pi = wiresync__v1__peer_info__unpack(NULL, len, reply);
	free(reply);
	if (pi == NULL || pi->peer == NULL) {
		wiresync__v1__peer_info__free_unpacked(pi, NULL);
		ctl_err("ShowPeer: the reply does not decode");
		return CTL_EXIT_SERVER;
	}
	if (json)
		st = ctl_json_print(peer_json(pi, true));
	else
		print_peer(pi);
	wiresync__v1__peer_info__free_unpacked(pi, NULL);
	return st;
}

int
cmd_remove(struct ctl *c, int argc, char **argv)
{
	Wiresync__V1__PeerRef ref = WIRESYNC__V1__PEER_REF__INIT;
	Wiresync__V1__RemovePeerReply *r;
	uint8_t key[WG_KEY_LEN], *reply;
	size_t len;
	int st;

	if (argc != 2 || argv[1][0] == '-') {
		ctl_err("remove: give one NAME or KEY");
		return CTL_EXIT_USAGE;
	}
	peer_ref(argv[1], &ref, key);
	if ((st = ctl_call(c, "RemovePeer", &ref.base, &reply, &len)) != CTL_EXIT_OK)
		return st;
	r = wiresync__v1__remove_peer_reply__unpack(NULL, len, reply);
	free(reply);
	if (r == NULL || r->removed == NULL || r->removed->peer == NULL) {
		wiresync__v1__remove_peer_reply__free_unpacked(r, NULL);
		ctl_err("RemovePeer: the reply does not decode");
		return CTL_EXIT_SERVER;
	}
	printf("removed %s from network %s at revision %llu\n", r->removed->peer->name,
	    r->removed->network, (unsigned long long)r->revision);
	if (!r->removed->is_static)
		printf("note: its certificate is still valid: a running agent reports again at once "
		    "(a reset); revoke it (wiresync-ca revoke) to keep it out\n");
	wiresync__v1__remove_peer_reply__free_unpacked(r, NULL);
	return CTL_EXIT_OK;
}

/* --- add-static --------------------------------------------------------------------------- */

int
cmd_add_static(struct ctl *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "endpoint", required_argument, NULL, 'e' }, { NULL, 0, NULL, 0 },
	};
	Wiresync__V1__AddStaticPeerRequest req = WIRESYNC__V1__ADD_STATIC_PEER_REQUEST__INIT;
	Wiresync__V1__PeerInfo *pi;
	char endpoint[128] = "", wan[128], lan[256];
	uint8_t *der, *reply;
	size_t len;
	int o, st;

	optind = 0;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (o != 'e')
			return CTL_EXIT_USAGE;
		if (ctl_resolve_endpoint(optarg, endpoint, sizeof(endpoint)) < 0)
			return CTL_EXIT_USAGE;
	}
	if (optind + 1 != argc) {
		ctl_err("add-static: give one CERT file");
		return CTL_EXIT_USAGE;
	}
	if ((der = ctl_cert_read_der(argv[optind], &len)) == NULL)
		return CTL_EXIT_USAGE;
	req.certificate.data = der;
	req.certificate.len = len;
	req.endpoint = endpoint;
	st = ctl_call(c, "AddStaticPeer", &req.base, &reply, &len);
	free(der);
	if (st != CTL_EXIT_OK)
		return st;
	pi = wiresync__v1__peer_info__unpack(NULL, len, reply);
	free(reply);
	if (pi == NULL || pi->peer == NULL) {
		wiresync__v1__peer_info__free_unpacked(pi, NULL);
		ctl_err("AddStaticPeer: the reply does not decode");
		return CTL_EXIT_SERVER;
	}
	endpoints(pi->peer, lan, sizeof(lan), wan, sizeof(wan));
	printf("static peer %s in network %s at revision %llu, endpoint %s\n", pi->peer->name,
	    pi->network, (unsigned long long)pi->peer->revision, wan);
	wiresync__v1__peer_info__free_unpacked(pi, NULL);
	return CTL_EXIT_OK;
}

/* --- status ------------------------------------------------------------------------------- */

enum crl_state { CRL_FINE, CRL_SOON, CRL_STALE };

/* A stale CRL is still enforced; the operator has to renew it, and is told how. */
static enum crl_state
crl_judge(const Wiresync__V1__StatusReply *r, char *msg, size_t len)
{
	int64_t now = (int64_t)time(NULL), next = r->crl_next_update;
	int64_t window = (int64_t)r->expiry_warn_days * 86400, half;
	char when[32];

	msg[0] = '\0';
	if (r->crl_age_s < 0 || next <= 0)
		return CRL_FINE;
	iso_time(next, when, sizeof(when));
	if (now >= next) {
		snprintf(msg, len, "the CRL is past its nextUpdate (%s), stale for %llds: still "
		    "enforced; renew it where the CA lives (wiresync-ca -d DIR crl) and put it in "
		    "the server's crl file", when, (long long)(now - next));
		return CRL_STALE;
	}
	/* as the server warns: within expiry_warn_days and past half the CRL's lifetime */
	half = (next - (now - r->crl_age_s)) / 2;
	if (half < window)
		window = half;
	if (next - now < window) {
		snprintf(msg, len, "the CRL goes stale in %lld days (%s): renew it where the CA "
		    "lives (wiresync-ca -d DIR crl, or wiresync-ca-crl.timer)",
		    (long long)((next - now) / 86400), when);
		return CRL_SOON;
	}
	return CRL_FINE;
}

int
cmd_status(struct ctl *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' }, { "days", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	Wiresync__V1__StatusRequest req = WIRESYNC__V1__STATUS_REQUEST__INIT;
	Wiresync__V1__StatusReply *r;
	bool json = false;
	char *end, when[32], crl_warning[300], ca_sha256[65];
	enum crl_state crl_state;
	int o, st;

	optind = 0;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (o == 'j') {
			json = true;
		} else if (o == 'd') {
			unsigned long d = strtoul(optarg, &end, 10);
			if (*end != '\0' || d == 0 || d > 36500) {
				ctl_err("status: --days must be 1-36500, got \"%s\"", optarg);
				return CTL_EXIT_USAGE;
			}
			req.expiry_warn_days = (uint32_t)d;
		} else {
			return CTL_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		ctl_err("status: unexpected argument \"%s\"", argv[optind]);
		return CTL_EXIT_USAGE;
	}
	if ((st = ctl_call_unpack(c, "Status", &req.base, &wiresync__v1__status_reply__descriptor,
	    (void **)&r)) != CTL_EXIT_OK)
		return st;
	crl_state = crl_judge(r, crl_warning, sizeof(crl_warning));
	/* what a joining host pins (wiresync-agent join --ca-sha256) */
	if (ctl_ca_sha256(c->ca_file, ca_sha256) < 0)
		ca_sha256[0] = '\0';
	if (json) {
		json_t *o2 = json_object(), *a = json_array();
		char k[45];
		json_object_set_new(o2, "version", json_string(r->version));
		json_object_set_new(o2, "uptime_s", json_integer(r->uptime_s));
		json_object_set_new(o2, "connections", json_integer((json_int_t)r->connections));
		json_object_set_new(o2, "watchers", json_integer((json_int_t)r->watchers));
		json_object_set_new(o2, "revision", json_integer((json_int_t)r->revision));
		json_object_set_new(o2, "store_bytes", json_integer(r->store_bytes));
		json_object_set_new(o2, "peers", json_integer((json_int_t)r->peers));
		json_object_set_new(o2, "peers_total", json_integer((json_int_t)r->peers_total));
		json_object_set_new(o2, "crl_age_s", r->crl_age_s >= 0 ?
		    json_integer(r->crl_age_s) : json_null());
		iso_time(r->crl_next_update, when, sizeof(when));
		json_object_set_new(o2, "crl_next_update", r->crl_next_update > 0 ?
		    json_string(when) : json_null());
		json_object_set_new(o2, "crl_stale", json_boolean(crl_state == CRL_STALE));
		json_object_set_new(o2, "crl_warning", crl_state != CRL_FINE ?
		    json_string(crl_warning) : json_null());
		json_object_set_new(o2, "expiry_warn_days", json_integer(r->expiry_warn_days));
		json_object_set_new(o2, "relay_endpoint", r->relay_endpoint[0] != '\0' ?
		    json_string(r->relay_endpoint) : json_null());
		json_object_set_new(o2, "hub_port", r->hub_port != 0 ?
		    json_integer(r->hub_port) : json_null());
		json_object_set_new(o2, "store", json_string(r->store_kind[0] != '\0' ?
		    r->store_kind : "sqlite"));
		if (r->server_name[0] != '\0') {
			json_t *sv = json_array();
			json_object_set_new(o2, "server_name", json_string(r->server_name));
			for (size_t i = 0; i < r->n_servers; i++) {
				json_t *x = json_object();
				json_object_set_new(x, "name", json_string(r->servers[i]->name));
				json_object_set_new(x, "address", json_string(r->servers[i]->address));
				json_object_set_new(x, "lease_until_ms",
				    json_integer(r->servers[i]->lease_until_ms));
				json_array_append_new(sv, x);
			}
			json_object_set_new(o2, "servers", sv);
		}
		for (size_t i = 0; i < r->n_expiring; i++) {
			const Wiresync__V1__ExpiringCertificate *e = r->expiring[i];
			json_t *x = json_object();
			key_b64(&e->public_key, k);
			iso_time(e->not_after, when, sizeof(when));
			json_object_set_new(x, "name", json_string(e->name));
			json_object_set_new(x, "network", json_string(e->network));
			json_object_set_new(x, "public_key", json_string(k));
			json_object_set_new(x, "not_after", json_string(when));
			json_object_set_new(x, "serial", json_string(e->serial));
			json_array_append_new(a, x);
		}
		json_object_set_new(o2, "expiring", a);
		json_object_set_new(o2, "ca_sha256", ca_sha256[0] != '\0' ?
		    json_string(ca_sha256) : json_null());
		st = ctl_json_print(o2);
	} else {
		printf("version:       %s\n", r->version);
		printf("uptime:        %llds\n", (long long)r->uptime_s);
		printf("connections:   %llu\n", (unsigned long long)r->connections);
		printf("watchers:      %llu\n", (unsigned long long)r->watchers);
		printf("revision:      %llu\n", (unsigned long long)r->revision);
		if (strcmp(r->store_kind, "postgresql") == 0)
			printf("store:         PostgreSQL, shared (this server: %s)\n", r->server_name);
		else
			printf("store:         %lld bytes\n", (long long)r->store_bytes);
		printf("peers:         %llu in this network, %llu in all\n",
		    (unsigned long long)r->peers, (unsigned long long)r->peers_total);
		if (r->crl_age_s >= 0) {
			iso_time(r->crl_next_update, when, sizeof(when));
			printf("CRL:           %llds old, next update %s\n", (long long)r->crl_age_s,
			    when);
		} else {
			printf("CRL:           none\n");
		}
		if (crl_state != CRL_FINE)
			printf("warning:       %s\n", crl_warning);
		printf("relay:         %s\n", r->relay_endpoint[0] != '\0' ? r->relay_endpoint :
		    "none (relay_listen)");
		if (r->hub_port != 0)
			printf("hub:           WireGuard port %u\n", r->hub_port);
		else
			printf("hub:           none (hub_interface)\n");
		printf("expiring within %u days: %zu\n", r->expiry_warn_days, r->n_expiring);
		for (size_t i = 0; i < r->n_expiring; i++) {
			iso_time(r->expiring[i]->not_after, when, sizeof(when));
			printf("  %s  %s (%s)%s\n", when, r->expiring[i]->name,
			    r->expiring[i]->network,
			    r->expiring[i]->not_after < (int64_t)time(NULL) ? "  EXPIRED" : "");
		}
		if (ca_sha256[0] != '\0')
			printf("ca-sha256: %s\n", ca_sha256);
		if (r->server_name[0] != '\0') {
			int64_t now_ms = (int64_t)time(NULL) * 1000;
			printf("cluster servers: %zu\n", r->n_servers);
			for (size_t i = 0; i < r->n_servers; i++) {
				const Wiresync__V1__ClusterServer *sv = r->servers[i];
				printf("server %s %s lease %+.1fs%s\n", sv->name, sv->address,
				    (double)(sv->lease_until_ms - now_ms) / 1000,
				    strcmp(sv->name, r->server_name) == 0 ? " (this one)" :
				    sv->lease_until_ms < now_ms ? " (expired)" : "");
			}
		}
	}
	wiresync__v1__status_reply__free_unpacked(r, NULL);
	return st;
}
