/* ws-copystore: fills an SQLite store, through server/store.h, with what a running server
 * cannot easily be made to hold, for test/copystore.test (which adds a real wiresyncd's
 * records first): a peer under an online issuer (a chain) with IPv6, LAN and WAN addresses,
 * online; a removal; a pruned change log; join requests of every state and a renewal, the
 * highest since dropped; join tokens; link rows (one counter past INT64_MAX).
 *
 *   ws-copystore fill FILE         adds all that to the store FILE
 *   ws-copystore token-only FILE   a new store holding one join token and nothing else
 *   ws-copystore empty FILE        a new, empty store
 *
 * Exit 0, or 1 with the failure on stderr. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>
#include <openssl/x509.h>

#include "common/cert.h"
#include "server/store.h"
#include "test/testcert.h"

static struct store *st;
static int failed;

static void
check(int r, const char *what)
{
	if (r != 0) {
		fprintf(stderr, "ws-copystore: %s: error %d\n", what, r);
		failed = 1;
	}
}

static int64_t
now_s(void)
{
	return (int64_t)time(NULL);
}

/* A leaf of ca for name with ips, as DER (malloc'd) and its identity. */
static uint8_t *
leaf(struct testcert_ca *ca, const char *name, const char *net, const char *ip1,
    const char *ip2, size_t *len, struct cert_identity *id)
{
	struct testcert_spec spec;
	char key[45], err[256];
	unsigned char *der = NULL;
	X509 *x;
	int n;

	memset(&spec, 0, sizeof(spec));
	testcert_random_key_b64(key);
	spec.cn = name;
	spec.org = net;
	spec.key_b64 = key;
	spec.ips[0] = ip1;
	spec.ips[1] = ip2;
	spec.groups[0] = "servers";
	if ((x = testcert_issue(ca, &spec, NULL)) == NULL || (n = i2d_X509(x, &der)) <= 0) {
		fprintf(stderr, "ws-copystore: cannot issue %s\n", name);
		exit(1);
	}
	X509_free(x);
	*len = (size_t)n;
	if (!cert_identity_from_der(der, *len, id, err, sizeof(err))) {
		fprintf(stderr, "ws-copystore: %s: %s\n", name, err);
		exit(1);
	}
	return der;
}

static void
addr(const char *s, struct netaddr *a)
{
	if (!netaddr_parse(s, true, a, NULL, 0)) {
		fprintf(stderr, "ws-copystore: bad address %s\n", s);
		exit(1);
	}
}

/* One commit of one change: p put, or key removed from net. */
static void
commit_one(const struct peer *p, const uint8_t *key, const char *net)
{
	uint64_t rev = store_revision(st) + 1;
	struct peer q;

	check(store_begin(st), "begin");
	if (p != NULL) {
		q = *p;
		q.revision = rev;
		check(store_peer_put(st, &q), "put");
		check(store_change_log(st, rev, q.key, q.network, false, now_s() * 1000), "log");
	} else {
		check(store_peer_delete(st, key), "delete");
		check(store_change_log(st, rev, key, net, true, now_s() * 1000), "log removal");
	}
	check(store_commit(st, rev), "commit");
}

static void
peer_from(struct peer *p, const struct cert_identity *id, uint8_t *der, size_t len)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->key, id->key, WG_KEY_LEN);
	snprintf(p->name, sizeof(p->name), "%s", id->name);
	snprintf(p->network, sizeof(p->network), "%s", id->network);
	p->n_tunnel = (uint8_t)id->n_tunnel;
	memcpy(p->tunnel, id->tunnel, sizeof(p->tunnel));
	p->cert = der;
	p->cert_len = len;
	p->last_seen_ms = now_s() * 1000 - 5000;
}

static void
joins(uint8_t *cert, size_t cert_len, uint8_t *ca, size_t ca_len)
{
	uint8_t csr[300];
	struct store_join j;

	RAND_bytes(csr, sizeof(csr));
	csr[0] = 0x30;
	for (int i = 1; i <= 5; i++) {
		memset(&j, 0, sizeof(j));
		j.id = (uint64_t)i;
		snprintf(j.name, sizeof(j.name), "joiner%d", i);
		snprintf(j.network, sizeof(j.network), "netc");
		RAND_bytes(j.key, sizeof(j.key));
		RAND_bytes(j.csr_sha256, sizeof(j.csr_sha256));
		addr(i % 2 ? "198.51.100.10" : "2001:db8::10", &j.source);
		j.created_s = now_s() - 100 * i;
		j.state = i == 2 ? 1 : i == 3 ? 2 : 0;
		j.csr = csr;
		j.csr_len = sizeof(csr) - (size_t)i;
		j.n_ips = 1;
		addr(i == 2 ? "10.7.0.20" : "fd07::20", &j.ips[0]);
		if (i == 2) {
			j.cert = cert;
			j.cert_len = cert_len;
			j.ca = ca;
			j.ca_len = ca_len;
		}
		if (i == 3)
			snprintf(j.reason, sizeof(j.reason), "not one of ours, said \"op\"");
		if (i == 4) {
			j.renewal = true;
			j.current = cert;
			j.current_len = cert_len;
		}
		check(store_join_put(st, &j), "join put");
	}
	check(store_join_delete(st, 5), "join delete");   /* the next id stays 6 */
}

static void
token(const char *net, uint32_t uses, const char *g1, const char *g2)
{
	struct store_token t;

	memset(&t, 0, sizeof(t));
	snprintf(t.network, sizeof(t.network), "%s", net);
	RAND_bytes(t.sha256, sizeof(t.sha256));
	t.uses_left = uses;
	t.created_s = now_s();
	t.expires_s = t.created_s + 3600;
	if (g1 != NULL)
		snprintf(t.groups[t.n_groups++], sizeof(t.groups[0]), "%s", g1);
	if (g2 != NULL)
		snprintf(t.groups[t.n_groups++], sizeof(t.groups[0]), "%s", g2);
	snprintf(t.admin_name, sizeof(t.admin_name), "op");
	snprintf(t.admin_serial, sizeof(t.admin_serial), "0a1b2c");
	check(store_token_add(st, &t), "token add");
}

static void
fill(void)
{
	struct testcert_ca *ca = testcert_ca_new("netc");
	struct cert_identity id;
	struct peer cedar, willow, ash;
	struct store_audit e;
	struct store_link l[3];
	unsigned char *cader = NULL;
	uint8_t *c1, *c2, *c3;
	size_t l1, l2, l3;
	int calen;

	if (ca == NULL || (calen = i2d_X509(testcert_ca_cert(ca), &cader)) <= 0) {
		fprintf(stderr, "ws-copystore: no CA\n");
		exit(1);
	}
	c1 = leaf(ca, "cedar", "netc", "10.7.0.2", "fd07::2", &l1, &id);
	peer_from(&cedar, &id, c1, l1);
	cedar.listen_port = 51820;
	addr("192.168.7.2", &cedar.lan[0]);
	addr("192.168.8.0/24", &cedar.lan[1]);
	cedar.n_lan = 2;
	addr("203.0.113.7", &cedar.wan);
	memcpy(cedar.lan_id, "\x01\x02\x03\x04\x05\x06", 6);
	cedar.lan_id_len = 6;
	snprintf(cedar.observed_endpoint, sizeof(cedar.observed_endpoint), "203.0.113.7:40001");
	cedar.online = true;
	cedar.chain = cader;                 /* its issuer's certificate, as an online issuer */
	cedar.chain_len = (size_t)calen;
	commit_one(&cedar, NULL, NULL);
	c2 = leaf(ca, "willow", "netc", "fd07::3", NULL, &l2, &id);
	peer_from(&willow, &id, c2, l2);
	willow.is_static = true;
	snprintf(willow.observed_endpoint, sizeof(willow.observed_endpoint),
	    "[2001:db8::3]:51820");
	commit_one(&willow, NULL, NULL);
	c3 = leaf(ca, "ash", "netc", "10.7.0.4", NULL, &l3, &id);
	peer_from(&ash, &id, c3, l3);
	commit_one(&ash, NULL, NULL);
	commit_one(NULL, ash.key, "netc");
	cedar.listen_port = 51821;           /* cedar again: one peer, two log rows */
	commit_one(&cedar, NULL, NULL);
	/* the oldest rows pruned: the log covers (floor, revision] with floor above 0 */
	check(store_begin(st), "begin prune");
	check(store_changes_prune(st, 2, INT64_MIN), "prune");
	check(store_commit(st, store_revision(st)), "commit prune");

	joins(c2, l2, cader, (size_t)calen);
	token("netc", 3, "servers", "db");
	token("neta", 1, NULL, NULL);
	memset(&e, 0, sizeof(e));
	e.time_ms = now_s() * 1000;
	snprintf(e.network, sizeof(e.network), "netc");
	snprintf(e.admin, sizeof(e.admin), "op");
	snprintf(e.serial, sizeof(e.serial), "0a1b2c");
	snprintf(e.action, sizeof(e.action), "approve");
	snprintf(e.detail, sizeof(e.detail), "joiner2 (request 2): 10.7.0.20, \"quoted\", \\ too");
	check(store_audit_add(st, &e, 1000), "audit add");
	memset(l, 0, sizeof(l));
	for (int i = 0; i < 3; i++) {
		memcpy(l[i].reporter, cedar.key, WG_KEY_LEN);
		RAND_bytes(l[i].peer, WG_KEY_LEN);
		snprintf(l[i].path, sizeof(l[i].path), "%s", i == 0 ? "lan" : i == 1 ? "relay" :
		    "");
		snprintf(l[i].endpoint, sizeof(l[i].endpoint), i == 2 ? "" : "192.168.7.%d:51820",
		    i);
		l[i].last_handshake_ms = i == 2 ? 0 : now_s() * 1000 - 1000 * i;
		/* past INT64_MAX: the same bits back */
		l[i].rx_bytes = i == 1 ? UINT64_MAX - 5 : 12345;
		l[i].tx_bytes = 678 * (uint64_t)i;
		snprintf(l[i].down_reason, sizeof(l[i].down_reason), i == 2 ? "no handshake" : "");
		l[i].reported_ms = now_s() * 1000;
	}
	check(store_links_replace(st, cedar.key, l, 3), "links");
	memcpy(l[0].reporter, willow.key, WG_KEY_LEN);
	memcpy(l[1].reporter, willow.key, WG_KEY_LEN);
	check(store_links_replace(st, willow.key, l, 2), "links of willow");
	free(c1);
	free(c2);
	free(c3);
	OPENSSL_free(cader);
	testcert_ca_del(ca);
}

int
main(int argc, char **argv)
{
	char err[512];

	if (argc != 3 || (strcmp(argv[1], "fill") != 0 && strcmp(argv[1], "token-only") != 0 &&
	    strcmp(argv[1], "empty") != 0)) {
		fprintf(stderr, "usage: ws-copystore fill|token-only|empty FILE\n");
		return 1;
	}
	if (store_open(argv[2], &st, err, sizeof(err)) != 0) {
		fprintf(stderr, "ws-copystore: %s\n", err);
		return 1;
	}
	if (strcmp(argv[1], "fill") == 0)
		fill();
	else if (strcmp(argv[1], "token-only") == 0)
		token("neta", 1, "db", NULL);
	store_close(st);
	return failed;
}
