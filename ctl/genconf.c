/* genconf: a wg-quick config for one peer, with the allowed IPs of each peer's verified
 * certificate and, per peer, the endpoint the agent itself would choose (agent/endpoint.c)
 * or the server's relay for a peer the config cannot reach directly (ctl/genconf_path.c),
 * plus the server's hub when it has one. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "agent/endpoint.h"
#include "common/cert.h"
#include "ctl/ctl.h"
#include "ctl/genconf_path.h"

#define KEEPALIVE_S 25

/* Reads a base64 private key file and checks it belongs to public. */
static int
read_private_key(const char *path, const ProtobufCBinaryData *public, char out[45])
{
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
	size_t publen = sizeof(pub), n;
	EVP_PKEY *pk = NULL;
	char line[128];
	FILE *f;
	int ret = -1;

	if ((f = fopen(path, "r")) == NULL) {
		ctl_err("%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	n = strlen(line);
	while (n > 0 && isspace((unsigned char)line[n - 1]))
		line[--n] = '\0';
	if (!wg_key_from_base64(line, priv)) {
		ctl_err("%s: not a WireGuard private key (base64 of 32 bytes, as wg genkey writes)",
		    path);
		goto out;
	}
	if ((pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, sizeof(priv))) == NULL ||
	    EVP_PKEY_get_raw_public_key(pk, pub, &publen) != 1) {
		ctl_err("%s: cannot derive the public key", path);
		goto out;
	}
	if (public->len != WG_KEY_LEN || memcmp(pub, public->data, WG_KEY_LEN) != 0) {
		ctl_err("%s: this private key does not belong to the peer's public key", path);
		goto out;
	}
	memcpy(out, line, 45);
	ret = 0;
out:
	EVP_PKEY_free(pk);
	OPENSSL_cleanse(priv, sizeof(priv));
	OPENSSL_cleanse(line, sizeof(line));
	return ret;
}

/* The record's certificate, verified against our CA like an agent does; false (and a
 * warning) when it does not verify or does not bind the record's key. */
static bool
verified_identity(struct ctl *c, const Wiresync__V1__Peer *p, struct cert_identity *id)
{
	const unsigned char *der = p->certificate.data;
	X509_STORE_CTX *sctx = NULL;
	X509 *x = NULL;
	char err[256];
	bool ok = false;

	if ((x = d2i_X509(NULL, &der, (long)p->certificate.len)) == NULL) {
		snprintf(err, sizeof(err), "certificate does not decode");
		goto out;
	}
	if ((sctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(sctx, SSL_CTX_get_cert_store(c->ctx), x, NULL) != 1) {
		snprintf(err, sizeof(err), "out of memory");
		goto out;
	}
	X509_STORE_CTX_set_purpose(sctx, X509_PURPOSE_SSL_CLIENT);
	if (X509_verify_cert(sctx) != 1) {
		snprintf(err, sizeof(err), "certificate does not verify against our CA: %s",
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(sctx)));
		goto out;
	}
	if (!cert_identity_from_x509(x, id, err, sizeof(err)))
		goto out;
	if (!id->has_key || p->public_key.len != WG_KEY_LEN ||
	    memcmp(id->key, p->public_key.data, WG_KEY_LEN) != 0) {
		snprintf(err, sizeof(err), "the certificate does not bind the record's key");
		goto out;
	}
	ok = true;
out:
	if (!ok)
		ctl_err("warning: leaving out peer \"%s\": %s", p->name, err);
	X509_STORE_CTX_free(sctx);
	X509_free(x);
	return ok;
}

static void
print_allowed(const struct cert_identity *id)
{
	char buf[NETADDR_STRLEN];

	printf("AllowedIPs = ");
	for (size_t i = 0; i < id->n_tunnel; i++)
		printf("%s%s", i > 0 ? ", " : "", netaddr_format(&id->tunnel[i], true, buf));
	printf("\n");
}

/* The server's relay and hub as the config reaches them. */
struct server_paths {
	char relay[80];              /* resolved "ip:port"; "" none */
	char hub[80];                /* resolved "ip:port"; "" none */
	uint8_t hub_key[WG_KEY_LEN];
};

/* From Status (relay_endpoint, hub_port) and the server certificate of our connection
 * (the hub's key). An unspecified relay address, and the hub, are at ctl's `server`. */
static int
get_server_paths(struct ctl *c, struct server_paths *sp)
{
	Wiresync__V1__StatusRequest req = WIRESYNC__V1__STATUS_REQUEST__INIT;
	Wiresync__V1__StatusReply *r;
	SSL *ssl = rpc_client_ssl(c->client);
	X509 *x = ssl != NULL ? SSL_get0_peer_certificate(ssl) : NULL;
	char at[300], err[256];
	uint8_t *reply;
	size_t len;
	int st;

	memset(sp, 0, sizeof(*sp));
	if ((st = ctl_call(c, "Status", &req.base, &reply, &len)) != CTL_EXIT_OK)
		return st;
	r = wiresync__v1__status_reply__unpack(NULL, len, reply);
	free(reply);
	if (r == NULL) {
		ctl_err("Status: the reply does not decode");
		return CTL_EXIT_SERVER;
	}
	st = CTL_EXIT_OK;
	if (r->relay_endpoint[0] != '\0') {
		if (genconf_relay_target(r->relay_endpoint, c->server, at, sizeof(at)) < 0 ||
		    ctl_resolve_endpoint(at, sp->relay, sizeof(sp->relay)) < 0) {
			ctl_err("warning: the server's relay \"%s\" is unusable from here (server %s): "
			    "writing the direct guesses", r->relay_endpoint, c->server);
			sp->relay[0] = '\0';
		}
	}
	if (genconf_hub(x, r->hub_port, c->server, sp->hub_key, at, sizeof(at), err,
	    sizeof(err)) < 0)
		ctl_err("warning: leaving out the server's hub: %s", err);
	else if (r->hub_port != 0 && ctl_resolve_endpoint(at, sp->hub, sizeof(sp->hub)) < 0)
		sp->hub[0] = '\0';
	wiresync__v1__status_reply__free_unpacked(r, NULL);
	return st;
}

/* The hub carries no traffic (no AllowedIPs): the config's keepalives to it show the server
 * the phone's NAT mapping, and that address is how the relay knows the phone's packets. */
static void
print_hub(const struct server_paths *sp)
{
	char k[45];

	wg_key_to_base64(sp->hub_key, k);
	printf("\n[Peer]\n# the server's hub: no traffic; it sees this config's address, which "
	    "lets the relay recognise it\n");
	printf("PublicKey = %s\n", k);
	printf("Endpoint = %s\n", sp->hub);
	printf("PersistentKeepalive = %d\n", KEEPALIVE_S);
}

/* One [Peer]: the endpoint by genconf_path_choose. */
static void
print_peer(const Wiresync__V1__PeerInfo *pi, const struct cert_identity *id,
    const struct endpoint_self *me, const struct server_paths *sp)
{
	const Wiresync__V1__Peer *p = pi->peer;
	struct endpoint_list eps;
	struct genconf_path path;
	char k[45], ep[64];

	wg_key_to_base64(id->key, k);
	endpoint_candidates(p, me, &eps);
	genconf_path_choose(p, pi->is_static, &eps, sp->relay[0] != '\0', &path);
	printf("\n[Peer]\n# %s%s\n", p->name, pi->is_static ? " (static)" : "");
	if (path.via == GENCONF_RELAY)
		printf("# via the relay: %s %s\n", p->name, path.why);
	else if (path.via == GENCONF_GUESS)
		printf("# may be unreachable: %s %s and the server has no relay (relay_listen)\n",
		    p->name, path.why);
	else if (path.via == GENCONF_NONE)
		printf("# no endpoint: %s %s and the server has no relay (relay_listen)\n",
		    p->name, path.why);
	printf("PublicKey = %s\n", k);
	print_allowed(id);
	if (path.via == GENCONF_RELAY)
		printf("Endpoint = %s\n", sp->relay);
	else if (eps.n > 0)
		printf("Endpoint = %s\n", endpoint_format(&eps.addr[0], ep, sizeof(ep)));
	if (path.via == GENCONF_RELAY || endpoint_needs_keepalive(p, me))
		printf("PersistentKeepalive = %d\n", KEEPALIVE_S);
}

static void
self_view(const Wiresync__V1__Peer *t, struct endpoint_self *me)
{
	memset(me, 0, sizeof(*me));
	me->lan_id = t->lan_id.len > 0 ? t->lan_id.data : NULL;
	me->lan_id_len = t->lan_id.len;
	for (size_t i = 0; i < t->n_lan_ips; i++) {
		if (strchr(t->lan_ips[i], ':') != NULL)
			me->has_v6 = true;
		else
			me->has_v4 = true;
	}
	/* with no LAN address known, every family is worth a try */
	if (!me->has_v4 && !me->has_v6)
		me->has_v4 = me->has_v6 = true;
	me->wan_ip = t->wan_ip;
}

int
cmd_genconf(struct ctl *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "private-key", required_argument, NULL, 'k' }, { NULL, 0, NULL, 0 },
	};
	Wiresync__V1__PeerRef ref = WIRESYNC__V1__PEER_REF__INIT;
	Wiresync__V1__ListPeersRequest lreq = WIRESYNC__V1__LIST_PEERS_REQUEST__INIT;
	Wiresync__V1__PeerInfo *target = NULL;
	Wiresync__V1__ListPeersReply *list = NULL;
	const Wiresync__V1__Peer *t;
	struct cert_identity tid;
	struct endpoint_self me;
	struct server_paths sp;
	const char *keyfile = NULL;
	char privkey[45] = "";
	uint8_t *reply;
	size_t len;
	int o, st;

	optind = 0;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (o != 'k')
			return CTL_EXIT_USAGE;
		keyfile = optarg;
	}
	if (optind + 1 != argc) {
		ctl_err("genconf: give one NAME");
		return CTL_EXIT_USAGE;
	}
	ref.name = argv[optind];
	if ((st = ctl_call(c, "ShowPeer", &ref.base, &reply, &len)) != CTL_EXIT_OK)
		return st;
	target = wiresync__v1__peer_info__unpack(NULL, len, reply);
	free(reply);
	st = CTL_EXIT_SERVER;
	if (target == NULL || target->peer == NULL) {
		ctl_err("ShowPeer: the reply does not decode");
		goto out;
	}
	t = target->peer;
	if (!verified_identity(c, t, &tid)) {
		st = CTL_EXIT_SERVER;
		goto out;
	}
	if (keyfile != NULL && read_private_key(keyfile, &t->public_key, privkey) < 0) {
		st = CTL_EXIT_USAGE;
		goto out;
	}
	lreq.network = target->network;
	if ((st = ctl_call(c, "ListPeers", &lreq.base, &reply, &len)) != CTL_EXIT_OK)
		goto out;
	list = wiresync__v1__list_peers_reply__unpack(NULL, len, reply);
	free(reply);
	st = CTL_EXIT_SERVER;
	if (list == NULL) {
		ctl_err("ListPeers: the reply does not decode");
		goto out;
	}
	if ((st = get_server_paths(c, &sp)) != CTL_EXIT_OK)
		goto out;
	st = CTL_EXIT_SERVER;
	self_view(t, &me);
	printf("# wg-quick config for %s (network %s), wiresyncd revision %llu\n", t->name,
	    target->network, (unsigned long long)list->revision);
	printf("[Interface]\n");
	{
		struct cert_identity *id = &tid;
		char buf[NETADDR_STRLEN];
		printf("Address = ");
		for (size_t i = 0; i < id->n_tunnel; i++)
			printf("%s%s", i > 0 ? ", " : "", netaddr_format(&id->tunnel[i], true, buf));
		printf("\n");
	}
	if (t->listen_port != 0)
		printf("ListenPort = %u\n", t->listen_port);
	if (privkey[0] != '\0')
		printf("PrivateKey = %s\n", privkey);
	else
		printf("# PrivateKey = (%s's private key; or run genconf with --private-key FILE)\n",
		    t->name);
	OPENSSL_cleanse(privkey, sizeof(privkey));
	if (sp.hub[0] != '\0')
		print_hub(&sp);
	for (size_t i = 0; i < list->n_peers; i++) {
		const Wiresync__V1__Peer *p = list->peers[i]->peer;
		struct cert_identity id;

		if (p == NULL || (p->public_key.len == t->public_key.len &&
		    memcmp(p->public_key.data, t->public_key.data, t->public_key.len) == 0))
			continue;
		if (verified_identity(c, p, &id))
			print_peer(list->peers[i], &id, &me, &sp);
	}
	st = fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
out:
	wiresync__v1__list_peers_reply__free_unpacked(list, NULL);
	wiresync__v1__peer_info__free_unpacked(target, NULL);
	return st;
}
