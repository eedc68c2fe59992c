/* ws-pgstore: server/store_pg.c against a real PostgreSQL (test/pgconn.test), two
 * instances standing for two servers on one database.
 *
 *   WS_PG=URI ws-pgstore        (URI: an empty database)
 *
 * Prints "PASS<TAB>what" / "FAIL<TAB>what<TAB>detail" / "NOTE<TAB>..."; exit 0 when every
 * check passed. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "rpc/loop.h"
#include "rpc/tickets.h"
#include "server/store_pg.h"
#include "test/pgtest.h"
#include "test/testcert.h"

static struct loop *loop;

struct server {
	struct store_pg *s;
	int ready, notifies;
	uint64_t notified;
	char down[512];
};

static void
on_ready(void *arg)
{
	((struct server *)arg)->ready++;
}

static void
on_down(void *arg, const char *why)
{
	snprintf(((struct server *)arg)->down, 512, "%s", why);
}

static void
on_notify(void *arg, uint64_t revision)
{
	struct server *v = arg;

	v->notifies++;
	v->notified = revision;
}

static const struct store_pg_cb cbs = { .on_ready = on_ready, .on_down = on_down,
    .on_notify = on_notify };

/* a call's outcome */
struct res {
	int done;
	uint64_t revision;
	char err[512];
	struct peer got[8];
	uint8_t cert[8][2048];
	int n;
	struct { uint64_t rev; uint8_t key0; bool removed; char net[32]; } ch[256];
	int nch;
};

static void
on_done(void *arg, uint64_t revision, const char *err)
{
	struct res *r = arg;

	r->done++;
	r->revision = revision;
	snprintf(r->err, sizeof(r->err), "%s", err != NULL ? err : "");
}

static void
on_peer(void *arg, const struct peer *p)
{
	struct res *r = arg;

	if (r->n >= 8 || strncmp(p->name, "bulk", 4) == 0)
		return;
	r->got[r->n] = *p;
	if (p->cert_len <= sizeof(r->cert[0]))
		memcpy(r->cert[r->n], p->cert, p->cert_len);
	r->got[r->n].cert = r->cert[r->n];
	r->got[r->n].chain = NULL;
	r->n++;
}

static void
on_change(void *arg, uint64_t revision, const uint8_t key[WG_KEY_LEN], const char *network,
    bool removed)
{
	struct res *r = arg;

	if (r->nch >= 256)
		return;
	r->ch[r->nch].rev = revision;
	r->ch[r->nch].key0 = key[0];
	r->ch[r->nch].removed = removed;
	snprintf(r->ch[r->nch].net, sizeof(r->ch[0].net), "%s", network);
	r->nch++;
}

static int n_servers;
static char servers_seen[256];
static int n_prev;
static int64_t prev_started;
static char prev_address[64];

static void
on_prev(void *arg, int64_t started_ms, const char *address)
{
	(void)arg;
	n_prev++;
	prev_started = started_ms;
	snprintf(prev_address, sizeof(prev_address), "%s", address);
}

static void
on_server(void *arg, const char *name, const char *address, int64_t until)
{
	(void)arg;
	(void)until;
	n_servers++;
	snprintf(servers_seen + strlen(servers_seen), sizeof(servers_seen) - strlen(servers_seen),
	    "%s(%s) ", name, address);
}

static const struct peer *
find(const struct res *r, const char *name)
{
	for (int i = 0; i < r->n; i++)
		if (strcmp(r->got[i].name, name) == 0)
			return &r->got[i];
	return NULL;
}

/* ---- TLS session resumption across servers ------------------------------------------ */

static uint8_t shared[2 * TLS_TICKET_KEY_LEN];
static size_t n_shared;
static int64_t shared_ms;

static void
on_keys(void *arg, const uint8_t *records, size_t n, int64_t created_ms)
{
	(void)arg;
	memcpy(shared, records, n * TLS_TICKET_KEY_LEN);
	n_shared = n;
	shared_ms = created_ms;
}

/* Runs a handshake between c and s over a BIO pair; true when both finished. */
static bool
handshake(SSL *c, SSL *s)
{
	BIO *bc, *bs;
	int rc = 0, rs = 0;

	if (BIO_new_bio_pair(&bc, 0, &bs, 0) != 1)
		return false;
	SSL_set_bio(c, bc, bc);
	SSL_set_bio(s, bs, bs);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	for (int i = 0; i < 50 && (rc != 1 || rs != 1); i++) {
		if (rc != 1)
			rc = SSL_do_handshake(c);
		if (rs != 1)
			rs = SSL_do_handshake(s);
	}
	return rc == 1 && rs == 1;
}

static SSL_CTX *
server_ctx(X509 *cert, EVP_PKEY *key)
{
	SSL_CTX *x = SSL_CTX_new(TLS_server_method());

	SSL_CTX_use_certificate(x, cert);
	SSL_CTX_use_PrivateKey(x, key);
	SSL_CTX_set_min_proto_version(x, TLS1_3_VERSION);
	return x;
}

/* A session made with server A, then tried on to: whether it resumed. */
static int
resumes(SSL_CTX *client, SSL_CTX *a, SSL_CTX *to)
{
	SSL *c = SSL_new(client), *s = SSL_new(a), *c2, *s2;
	SSL_SESSION *sess = NULL;
	unsigned char buf[16];
	int reused = -1;

	if (handshake(c, s)) {
		/* the tickets come after the handshake: the client reads them */
		SSL_write(s, "x", 1);
		SSL_read(c, buf, sizeof(buf));
		sess = SSL_get1_session(c);
		/* a connection freed unclosed marks its session not resumable */
		SSL_shutdown(c);
		SSL_shutdown(s);
	}
	SSL_free(c);
	SSL_free(s);
	if (sess == NULL)
		return -1;
	c2 = SSL_new(client);
	s2 = SSL_new(to);
	SSL_set_session(c2, sess);
	if (handshake(c2, s2))
		reused = SSL_session_reused(c2);
	SSL_SESSION_free(sess);
	SSL_free(c2);
	SSL_free(s2);
	return reused;
}

static void
ticket_checks(struct server *a, struct server *b)
{
	static struct res r;
	uint8_t mine[TLS_TICKET_KEY_LEN];
	struct testcert_ca *ca = testcert_ca_new("net");
	struct testcert_spec spec = { .cn = "srv", .org = "net", .no_client_auth = true,
	    .ips = { "127.0.0.1" } };
	EVP_PKEY *key = NULL;
	X509 *cert = ca != NULL ? testcert_issue(ca, &spec, &key) : NULL;
	SSL_CTX *client = SSL_CTX_new(TLS_client_method()), *sa, *sb, *sc;
	struct tls_tickets *ta, *tb, *tc;
	char err[256], det[128];
	int on_b, on_c;

	tls_tickets_make(mine);
	memset(&r, 0, sizeof(r));
	store_pg_ticket_add(a->s, mine, false, 1800000000000, on_done, &r);
	pgtest_run_until(loop, &r.done, 1, 10);
	memset(&r, 0, sizeof(r));
	store_pg_tickets(b->s, on_keys, on_done, &r);
	pgtest_run_until(loop, &r.done, 1, 10);
	pgtest_check(n_shared == 1 && memcmp(shared, mine, sizeof(mine)) == 0 &&
	    shared_ms == 1800000000000, "B reads the ticket key A stored", r.err);
	sa = server_ctx(cert, key);
	sb = server_ctx(cert, key);
	sc = server_ctx(cert, key);
	ta = tls_tickets_open_shared(sa, 3600, err, sizeof(err));
	tb = tls_tickets_open_shared(sb, 3600, err, sizeof(err));
	tc = tls_tickets_open_shared(sc, 3600, err, sizeof(err));
	tls_tickets_set(ta, mine, 1, 1800000000);
	tls_tickets_set(tb, shared, n_shared, shared_ms / 1000);
	on_b = resumes(client, sa, sb);
	on_c = resumes(client, sa, sc);
	snprintf(det, sizeof(det), "on B %d, on C (its own key) %d", on_b, on_c);
	pgtest_check(on_b == 1 && on_c == 0, "a session made on A resumes on B (the shared key), not on a "
	    "server with a key of its own", det);
	/* a second key: the first stays for the tickets it made, then a CRL change forgets it */
	tls_tickets_make(mine);
	memset(&r, 0, sizeof(r));
	store_pg_ticket_add(b->s, mine, false, 1800000100000, on_done, &r);
	pgtest_run_until(loop, &r.done, 1, 10);
	memset(&r, 0, sizeof(r));
	store_pg_tickets(a->s, on_keys, on_done, &r);
	pgtest_run_until(loop, &r.done, 1, 10);
	pgtest_check(n_shared == 2 && memcmp(shared, mine, sizeof(mine)) == 0,
	    "a new key is the newest, the one before it kept", r.err);
	memset(&r, 0, sizeof(r));
	store_pg_ticket_add(a->s, mine, true, 1800000200000, on_done, &r);
	pgtest_run_until(loop, &r.done, 1, 10);
	memset(&r, 0, sizeof(r));
	store_pg_tickets(b->s, on_keys, on_done, &r);
	pgtest_run_until(loop, &r.done, 1, 10);
	pgtest_check(n_shared == 1, "forget_old (a CRL changed): only the newest key is left", r.err);
	SSL_CTX_free(sa);
	SSL_CTX_free(sb);
	SSL_CTX_free(sc);
	tls_tickets_free(ta);
	tls_tickets_free(tb);
	tls_tickets_free(tc);
	SSL_CTX_free(client);
	X509_free(cert);
	EVP_PKEY_free(key);
	testcert_ca_del(ca);
}

static struct store_link links_got[4];
static int n_links;

static void
on_link(void *arg, const struct store_link *l)
{
	(void)arg;
	if (n_links < 4)
		links_got[n_links] = *l;
	n_links++;
}

/* Link health through A, read back through B: counters past bigint's 2^63 too. */
static void
link_checks(struct server *a, struct server *b)
{
	struct store_link v[2];
	static struct res r;
	uint8_t rep[WG_KEY_LEN];
	char det[640];

	memset(v, 0, sizeof(v));
	memset(rep, 0x51, sizeof(rep));
	for (int i = 0; i < 2; i++) {
		memcpy(v[i].reporter, rep, WG_KEY_LEN);
		memset(v[i].peer, 0x60 + i, WG_KEY_LEN);
		snprintf(v[i].path, sizeof(v[i].path), "%s", i == 0 ? "lan" : "relay");
		v[i].last_handshake_ms = 1700000000000 + i;
		v[i].reported_ms = 1700000000500;
	}
	v[0].rx_bytes = UINT64_MAX - 5;
	v[0].tx_bytes = (uint64_t)1 << 63;
	v[1].rx_bytes = 12345;
	v[1].tx_bytes = 0;
	memset(&r, 0, sizeof(r));
	store_pg_links_replace(a->s, rep, v, 2, on_done, &r);
	pgtest_run_until(loop, &r.done, 1, 10);
	pgtest_check(r.err[0] == '\0', "A stores a host's two links, one with counters past 2^63",
	    r.err);
	memset(&r, 0, sizeof(r));
	n_links = 0;
	store_pg_links_load(b->s, on_link, on_done, &r);
	pgtest_run_until(loop, &r.done, 1, 10);
	snprintf(det, sizeof(det), "%d rows, rx %" PRIu64 " tx %" PRIu64 " %s", n_links,
	    links_got[0].rx_bytes, links_got[0].tx_bytes, r.err);
	pgtest_check(n_links == 2 && links_got[0].rx_bytes == UINT64_MAX - 5 &&
	    links_got[0].tx_bytes == (uint64_t)1 << 63 && links_got[1].rx_bytes == 12345 &&
	    strcmp(links_got[1].path, "relay") == 0,
	    "B reads them back exactly, the counters past 2^63 too", det);
}

static void
addr(struct netaddr *a, const char *text)
{
	netaddr_parse(text, true, a, NULL, 0);
}

static uint8_t certbuf[1500];

static void
make_peer(struct peer *p, uint8_t k, const char *name, const char *net, const char *tun)
{
	memset(p, 0, sizeof(*p));
	memset(p->key, k, WG_KEY_LEN);
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->network, sizeof(p->network), "%s", net);
	p->listen_port = 51820;
	p->n_tunnel = 2;
	addr(&p->tunnel[0], tun);
	addr(&p->tunnel[1], "fd00:9::1");
	p->tunnel[1].addr[15] = k;
	p->n_lan = 1;
	addr(&p->lan[0], "192.168.1.10/24");
	addr(&p->wan, "203.0.113.7");
	p->lan_id_len = 6;
	memcpy(p->lan_id, "\x02\x00\x5e\x00\x0a\x01", 6);
	snprintf(p->observed_endpoint, sizeof(p->observed_endpoint), "203.0.113.7:40001");
	p->online = true;
	p->last_seen_ms = 1700000000123;
	p->cert = certbuf;
	p->cert_len = sizeof(certbuf);
}

/* What the store must give back: every field written (revision aside). */
static bool
same(const struct peer *a, const struct peer *b, char *why, size_t len)
{
	char x[NETADDR_STRLEN], y[NETADDR_STRLEN];

	if (memcmp(a->key, b->key, WG_KEY_LEN) != 0 || strcmp(a->name, b->name) != 0 ||
	    strcmp(a->network, b->network) != 0 || a->listen_port != b->listen_port ||
	    a->n_tunnel != b->n_tunnel || a->n_lan != b->n_lan ||
	    a->lan_id_len != b->lan_id_len || memcmp(a->lan_id, b->lan_id, a->lan_id_len) ||
	    strcmp(a->observed_endpoint, b->observed_endpoint) != 0 || a->online != b->online ||
	    a->last_seen_ms != b->last_seen_ms || a->cert_len != b->cert_len ||
	    memcmp(a->cert, b->cert, a->cert_len) != 0 || a->is_static != b->is_static) {
		snprintf(why, len, "%s: a scalar field or the certificate differs", a->name);
		return false;
	}
	for (int i = 0; i < a->n_tunnel; i++)
		if (strcmp(netaddr_format(&a->tunnel[i], true, x),
		    netaddr_format(&b->tunnel[i], true, y)) != 0) {
			snprintf(why, len, "%s: tunnel %s != %s", a->name, x, y);
			return false;
		}
	if (strcmp(netaddr_format(&a->lan[0], true, x), netaddr_format(&b->lan[0], true, y)) ||
	    strcmp(netaddr_format(&a->wan, true, x), netaddr_format(&b->wan, true, y))) {
		snprintf(why, len, "%s: lan or wan differs", a->name);
		return false;
	}
	return true;
}

struct chain {
	struct server *v;
	uint8_t k0;
	int sent, ok, errors;
	struct peer p;
	char err[256];
};

static void send_next(struct chain *c);

static void
on_chain(void *arg, uint64_t revision, const char *err)
{
	struct chain *c = arg;

	(void)revision;
	if (err != NULL) {
		if (c->errors++ == 0)
			snprintf(c->err, sizeof(c->err), "%s", err);
	} else {
		c->ok++;
	}
	if (c->sent < 100)
		send_next(c);
}

static void
send_next(struct chain *c)
{
	struct store_write_change ch = { .put = &c->p };
	char tun[32];

	snprintf(tun, sizeof(tun), "10.7.%u.%d", c->k0, c->sent);
	make_peer(&c->p, c->k0, c->k0 == 0x40 ? "bulk-a" : "bulk-b", "bulk", tun);
	c->p.key[1] = (uint8_t)c->sent;
	c->p.tunnel[1].addr[14] = (uint8_t)c->sent;
	c->sent++;
	if (store_pg_commit(c->v->s, &ch, 1, 1700000000000, on_chain, c) != 0)
		c->errors++;
}

/* One put through v; 0 and the answer in *r, its error text when refused. */
static void
put_one(struct server *v, const struct peer *p, bool kept, struct res *r)
{
	struct store_write_change ch = { .put = p, .tunnels_kept = kept };

	memset(r, 0, sizeof(*r));
	store_pg_commit(v->s, &ch, 1, 1900000000000, on_done, r);
	pgtest_run_until(loop, &r->done, 1, 10);
}

/* The claims in peer_tunnels follow a record's addresses: moved when they change, left
 * as they are when the put says they are kept (the service's most common Update). */
static void
claim_checks(struct server *a, struct server *b, struct peer *alice)
{
	static struct res r;
	struct peer erin;
	char old[NETADDR_STRLEN];

	netaddr_format(&alice->tunnel[0], false, old);
	netaddr_parse("10.1.0.9", false, &alice->tunnel[0], NULL, 0);
	put_one(a, alice, false, &r);
	pgtest_check(r.err[0] == '\0', "alice moves to 10.1.0.9 (a new certificate)", r.err);
	make_peer(&erin, 0x55, "erin", "net", old);
	put_one(b, &erin, false, &r);
	pgtest_check(r.err[0] == '\0', "erin takes alice's old address through B: released by "
	    "the move", r.err);
	alice->listen_port = 52001;
	put_one(a, alice, true, &r);
	pgtest_check(r.err[0] == '\0', "alice's new port, her addresses kept", r.err);
	make_peer(&erin, 0x56, "frank", "net", "10.1.0.9");
	put_one(b, &erin, false, &r);
	pgtest_check(strstr(r.err, "duplicate key") != NULL, "frank claiming 10.1.0.9: refused, "
	    "alice's claim stood through the put that kept it", r.err);
}

int
main(void)
{
	const char *uri = getenv("WS_PG");
	struct server a = { 0 }, b = { 0 };
	static struct res r;
	struct peer alice, bob, carol;
	struct store_write_change ch[2];
	struct chain ca = { 0 }, cb2 = { 0 };
	char err[512], why[256], det[1024];
	double t0;
	bool ok;

	if (uri == NULL) {
		fprintf(stderr, "usage: WS_PG=URI ws-pgstore\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(certbuf); i++)
		certbuf[i] = (uint8_t)(i * 7 + 3);
	loop = loop_new();
	a.s = store_pg_open(loop, uri, "a.example", &cbs, &a, err, sizeof(err));
	b.s = store_pg_open(loop, uri, "b.example", &cbs, &b, err, sizeof(err));
	if (a.s == NULL || b.s == NULL) {
		pgtest_check(0, "store_pg_open", err);
		return 1;
	}
	pgtest_run_until(loop, &a.ready, 1, 20);
	pgtest_run_until(loop, &b.ready, 1, 20);
	pgtest_check(a.ready == 1 && b.ready == 1, "two servers open the store (migrated, listening)",
	    a.down[0] != '\0' ? a.down : b.down);

	make_peer(&alice, 0x11, "alice", "net", "10.1.0.1");
	make_peer(&bob, 0x22, "bob", "net", "10.1.0.2");
	bob.online = false;
	bob.is_static = true;
	ch[0] = (struct store_write_change){ .put = &alice };
	ch[1] = (struct store_write_change){ .put = &bob };
	memset(&r, 0, sizeof(r));
	store_pg_commit(a.s, ch, 2, 1700000000000, on_done, &r);
	pgtest_run_until(loop, &r.done, 1, 10);
	pgtest_check(r.revision == 2 && r.err[0] == '\0', "A commits alice and bob: revision 2", r.err);
	pgtest_run_until(loop, &b.notifies, 1, 10);
	snprintf(det, sizeof(det), "%d notifies, revision %" PRIu64, b.notifies, b.notified);
	pgtest_check(b.notifies == 1 && b.notified == 2, "B hears A's commit (NOTIFY, revision 2)", det);

	memset(&r, 0, sizeof(r));
	store_pg_load(b.s, on_peer, on_done, &r);
	pgtest_run_until(loop, &r.done, 1, 10);
	ok = r.n == 2 && same(&alice, &r.got[0], why, sizeof(why)) &&
	    same(&bob, &r.got[1], why, sizeof(why));
	pgtest_check(ok && r.revision == 2 && r.got[0].revision == 1 && r.got[1].revision == 2,
	    "B reads both records back exactly, with their revisions and the store's", ok ? r.err :
	    why);

	alice.listen_port = 51999;
	ch[0] = (struct store_write_change){ .put = &alice };
	ch[1] = (struct store_write_change){ .put = NULL };
	memcpy(ch[1].key, bob.key, WG_KEY_LEN);
	snprintf(ch[1].network, sizeof(ch[1].network), "net");
	memset(&r, 0, sizeof(r));
	store_pg_commit(a.s, ch, 2, 1700000000500, on_done, &r);
	pgtest_run_until(loop, &r.done, 1, 10);
	pgtest_check(r.revision == 4, "A changes alice and removes bob in one commit: revision 4", r.err);
	memset(&r, 0, sizeof(r));
	store_pg_changes_since(b.s, 2, on_change, on_done, &r);
	pgtest_run_until(loop, &r.done, 1, 10);
	snprintf(det, sizeof(det), "%d rows", r.nch);
	pgtest_check(r.nch == 2 && r.ch[0].rev == 3 && r.ch[0].key0 == 0x11 && !r.ch[0].removed &&
	    r.ch[1].rev == 4 && r.ch[1].key0 == 0x22 && r.ch[1].removed &&
	    strcmp(r.ch[1].net, "net") == 0, "B's log after 2: alice changed (3), bob removed (4)",
	    det);

	/* carol claims alice's address through B: refused by the database, nothing stays */
	make_peer(&carol, 0x33, "carol", "net", "10.1.0.1");
	ch[0] = (struct store_write_change){ .put = &carol };
	memset(&r, 0, sizeof(r));
	store_pg_commit(b.s, ch, 1, 1700000001000, on_done, &r);
	pgtest_run_until(loop, &r.done, 1, 10);
	pgtest_check(strstr(r.err, "duplicate key") != NULL && strstr(r.err, "peer_tunnels") != NULL,
	    "carol with alice's tunnel address (through B): refused", r.err);
	memset(&r, 0, sizeof(r));
	store_pg_load(a.s, on_peer, on_done, &r);
	pgtest_run_until(loop, &r.done, 1, 10);
	snprintf(det, sizeof(det), "%d peers, revision %" PRIu64 ", %s", r.n, r.revision, r.err);
	pgtest_check(r.n == 1 && r.revision == 4 && r.got[0].listen_port == 51999,
	    "after the refusal: alice alone, revision still 4 (B's session works on)", det);
	snprintf(carol.network, sizeof(carol.network), "other");
	memset(&r, 0, sizeof(r));
	store_pg_commit(b.s, ch, 1, 1700000001000, on_done, &r);
	pgtest_run_until(loop, &r.done, 1, 10);
	pgtest_check(r.revision == 5 && r.err[0] == '\0', "the same address in another network: taken",
	    r.err);

	/* both servers write at once */
	ca.v = &a;
	ca.k0 = 0x40;
	cb2.v = &b;
	cb2.k0 = 0x41;
	t0 = pgtest_now_s();
	send_next(&ca);
	send_next(&cb2);
	for (double end = pgtest_now_s() + 60; pgtest_now_s() < end &&
	    ca.ok + ca.errors + cb2.ok + cb2.errors < 200;)
		loop_run_once(loop, 20);
	printf("NOTE\t200 commits from two servers at once: %.0f ms\n", (pgtest_now_s() - t0) * 1000);
	snprintf(det, sizeof(det), "ok %d + %d, errors %d + %d: %s%s", ca.ok, cb2.ok, ca.errors,
	    cb2.errors, ca.err, cb2.err);
	pgtest_check(ca.ok == 100 && cb2.ok == 100, "two servers commit 100 each at once", det);
	memset(&r, 0, sizeof(r));
	store_pg_changes_since(a.s, 5, on_change, on_done, &r);
	pgtest_run_until(loop, &r.done, 1, 10);
	ok = r.nch == 200;
	for (int i = 0; ok && i < r.nch; i++)
		ok = r.ch[i].rev == (uint64_t)(6 + i);
	snprintf(det, sizeof(det), "%d rows, last %" PRIu64, r.nch, r.revision);
	pgtest_check(ok && r.revision == 205, "the log after 5: revisions 6..205, one each, no gap", det);

	/* leases: A's ends, B expires it; A's hosts go offline, B's stay */
	{
		struct peer dave;
		const struct peer *x, *y;
		uint64_t before;
		int64_t t = 1800000000000;

		memset(&r, 0, sizeof(r));
		store_pg_lease(a.s, "192.0.2.1:7443", 11, t, 1000, on_prev, on_done, &r);
		store_pg_lease(b.s, "192.0.2.2:7443", 22, t, 60000, on_prev, on_done, &r);
		pgtest_run_until(loop, &r.done, 2, 10);
		pgtest_check(n_prev == 0 && r.err[0] == '\0', "a first lease has no row before it",
		    r.err);
		/* the run of A that started at 11 renews; another run with A's name (33) finds
		 * 11 in the row, and 11 finds 33 there next */
		memset(&r, 0, sizeof(r));
		store_pg_lease(a.s, "192.0.2.1:7443", 11, t, 1000, on_prev, on_done, &r);
		pgtest_run_until(loop, &r.done, 1, 10);
		pgtest_check(n_prev == 1 && prev_started == 11, "a renewal finds its own start time",
		    prev_address);
		memset(&r, 0, sizeof(r));
		store_pg_lease(a.s, "192.0.2.9:7443", 33, t, 1000, on_prev, on_done, &r);
		pgtest_run_until(loop, &r.done, 1, 10);
		pgtest_check(n_prev == 2 && prev_started == 11 &&
		    strcmp(prev_address, "192.0.2.1:7443") == 0,
		    "a second run with the name finds the first's start time and address", prev_address);
		memset(&r, 0, sizeof(r));
		store_pg_lease(a.s, "192.0.2.1:7443", 11, t, 1000, on_prev, on_done, &r);
		pgtest_run_until(loop, &r.done, 1, 10);
		snprintf(det, sizeof(det), "%d rows before, started %" PRId64 " at %s", n_prev,
		    prev_started, prev_address);
		pgtest_check(n_prev == 3 && prev_started == 33 &&
		    strcmp(prev_address, "192.0.2.9:7443") == 0,
		    "... and the first finds the second's on its next renewal", det);
		memset(&r, 0, sizeof(r));
		n_servers = 0;
		store_pg_servers(a.s, on_server, on_done, &r);
		pgtest_run_until(loop, &r.done, 1, 10);
		pgtest_check(n_servers == 2 && strstr(servers_seen, "a.example(192.0.2.1:7443)") &&
		    strstr(servers_seen, "b.example(192.0.2.2:7443)"),
		    "both servers hold a lease, listed with their addresses", servers_seen);
		make_peer(&dave, 0x44, "dave", "net", "10.1.0.4");
		ch[0] = (struct store_write_change){ .put = &dave };
		memset(&r, 0, sizeof(r));
		store_pg_commit(b.s, ch, 1, t, on_done, &r);
		pgtest_run_until(loop, &r.done, 1, 10);
		before = r.revision;
		memset(&r, 0, sizeof(r));
		store_pg_expire(b.s, t + 5000, on_done, &r);
		pgtest_run_until(loop, &r.done, 1, 10);
		snprintf(det, sizeof(det), "revision %" PRIu64 " -> %" PRIu64 " %s", before,
		    r.revision, r.err);
		/* A's hosts: alice and the 100 A wrote online */
		pgtest_check(r.revision == before + 1 + (uint64_t)ca.ok && r.err[0] == '\0',
		    "B expires A's lease: a change per host A held (alice, bulk-a), one commit", det);
		memset(&r, 0, sizeof(r));
		store_pg_load(b.s, on_peer, on_done, &r);
		pgtest_run_until(loop, &r.done, 1, 10);
		x = find(&r, "alice");
		y = find(&r, "dave");
		pgtest_check(x != NULL && !x->online && x->revision > before && y != NULL &&
		    y->online, "alice (held by A) is offline, dave (B's) online", r.err);
		memset(&r, 0, sizeof(r));
		n_servers = 0;
		servers_seen[0] = '\0';
		store_pg_servers(b.s, on_server, on_done, &r);
		pgtest_run_until(loop, &r.done, 1, 10);
		pgtest_check(n_servers == 1 && strstr(servers_seen, "b.example") != NULL,
		    "A's lease is gone from the cluster's list", servers_seen);
		memset(&r, 0, sizeof(r));
		store_pg_expire(a.s, t + 6000, on_done, &r);
		pgtest_run_until(loop, &r.done, 1, 10);
		pgtest_check(r.revision == before + 1 + (uint64_t)ca.ok, "expiring again changes nothing",
		    r.err);
		/* alice reconnects through B */
		alice.online = true;
		ch[0] = (struct store_write_change){ .put = &alice };
		memset(&r, 0, sizeof(r));
		store_pg_commit(b.s, ch, 1, t + 7000, on_done, &r);
		pgtest_run_until(loop, &r.done, 1, 10);
		memset(&r, 0, sizeof(r));
		store_pg_expire(a.s, t + 8000, on_done, &r);   /* B's lease holds her */
		pgtest_run_until(loop, &r.done, 1, 10);
		memset(&r, 0, sizeof(r));
		store_pg_load(a.s, on_peer, on_done, &r);
		pgtest_run_until(loop, &r.done, 1, 10);
		x = find(&r, "alice");
		pgtest_check(x != NULL && x->online, "alice online again through B, held by B's lease",
		    r.err);
	}

	ticket_checks(&a, &b);
	claim_checks(&a, &b, &alice);
	link_checks(&a, &b);

	store_pg_close(a.s);
	store_pg_close(b.s);
	loop_del(loop);
	return pgtest_failed == 0 ? 0 : 1;
}
