/* genconf: a wg-quick config for one peer from the Admin RPCs' records, with the allowed
 * IPs of each peer's verified certificate; common/genconf.c chooses each peer's endpoint
 * (the agent's own choice or the server's relay) and writes the text, as the web console's
 * static page does from the server's records. */
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

#include "common/cert.h"
#include "ctl/ctl.h"
#include "common/genconf.h"

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

/* The record's chain (the online issuer that signed a joined host), untrusted: only what
 * chains to our CA counts. NULL when an entry does not decode or out of memory. */
static STACK_OF(X509) *
record_chain(const Wiresync__V1__Peer *p)
{
	STACK_OF(X509) *chain = sk_X509_new_null();

	for (size_t i = 0; chain != NULL && i < p->n_chain; i++) {
		const unsigned char *q = p->chain[i].data;
		X509 *x = d2i_X509(NULL, &q, (long)p->chain[i].len);
		if (x == NULL || sk_X509_push(chain, x) <= 0) {
			X509_free(x);
			sk_X509_pop_free(chain, X509_free);
			chain = NULL;
		}
	}
	return chain;
}

/* The record's certificate, verified against our CA like an agent does (through the
 * record's chain); false (and a warning) when it does not verify or does not bind the
 * record's key. */
static bool
verified_identity(struct ctl *c, const Wiresync__V1__Peer *p, struct cert_identity *id)
{
	const unsigned char *der = p->certificate.data;
	X509_STORE_CTX *sctx = NULL;
	STACK_OF(X509) *chain = NULL;
	X509 *x = NULL;
	char err[256];
	bool ok = false;

	if ((x = d2i_X509(NULL, &der, (long)p->certificate.len)) == NULL) {
		snprintf(err, sizeof(err), "certificate does not decode");
		goto out;
	}
	if ((chain = record_chain(p)) == NULL) {
		snprintf(err, sizeof(err), "the record's chain does not decode");
		goto out;
	}
	if ((sctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(sctx, SSL_CTX_get_cert_store(c->ctx), x, chain) != 1) {
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
	sk_X509_pop_free(chain, X509_free);
	X509_free(x);
	return ok;
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
	int st;

	memset(sp, 0, sizeof(*sp));
	if ((st = ctl_call_unpack(c, "Status", &req.base, &wiresync__v1__status_reply__descriptor,
	    (void **)&r)) != CTL_EXIT_OK)
		return st;
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

/* The config of t (whose certificate gave tid) with every other verified peer of list:
 * common/genconf.c writes it. 0, or -1 out of memory. */
static int
write_config(const Wiresync__V1__Peer *t, const struct cert_identity *tid,
    const char *network, const Wiresync__V1__ListPeersReply *list,
    const struct server_paths *sp, const char *privkey, struct ctl *c)
{
	struct genconf_config gc = {
		.name = t->name, .network = network, .revision = list->revision,
		.address = tid->tunnel, .n_address = tid->n_tunnel, .listen_port = t->listen_port,
		.private_key = privkey, .relay = sp->relay, .hub = sp->hub, .hub_key = sp->hub_key,
	};
	struct cert_identity *ids = calloc(list->n_peers + 1, sizeof(*ids));
	struct genconf_peer *gp = calloc(list->n_peers + 1, sizeof(*gp));
	int ret = -1;

	if (ids == NULL || gp == NULL)
		goto out;
	for (size_t i = 0; i < list->n_peers; i++) {
		const Wiresync__V1__Peer *p = list->peers[i]->peer;
		struct genconf_peer *g = &gp[gc.n_peers];

		if (p == NULL || (p->public_key.len == t->public_key.len &&
		    memcmp(p->public_key.data, t->public_key.data, t->public_key.len) == 0))
			continue;
		if (!verified_identity(c, p, &ids[gc.n_peers]))
			continue;
		g->rec = p;
		g->is_static = list->peers[i]->is_static;
		g->key = ids[gc.n_peers].key;
		g->allowed = ids[gc.n_peers].tunnel;
		g->n_allowed = ids[gc.n_peers].n_tunnel;
		genconf_reach(t, p, &g->reach);
		gc.n_peers++;
	}
	gc.peers = gp;
	ret = genconf_write(stdout, &gc) < 0 ? -1 : 0;
out:
	free(ids);
	free(gp);
	return ret;
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
	o = write_config(t, &tid, target->network, list, &sp, privkey[0] != '\0' ? privkey :
	    NULL, c);
	OPENSSL_cleanse(privkey, sizeof(privkey));
	if (o < 0) {
		ctl_err("genconf: out of memory");
		goto out;
	}
	st = fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
out:
	wiresync__v1__list_peers_reply__free_unpacked(list, NULL);
	wiresync__v1__peer_info__free_unpacked(target, NULL);
	return st;
}
