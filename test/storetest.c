/* Test helper shared by the store suites; see storetest.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "test/storetest.h"

char t_dir[64];
char t_db[96];
char t_err[256];
uint8_t t_cert[700];

void
stest_dir_setup(void)
{
	size_t i;

	snprintf(t_dir, sizeof(t_dir), "/tmp/check_store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t_dir));
	snprintf(t_db, sizeof(t_db), "%s/ws.db", t_dir);
	t_err[0] = '\0';
	for (i = 0; i < sizeof(t_cert); i++)
		t_cert[i] = (uint8_t)(i * 7 + 3);
}

void
stest_dir_teardown(void)
{
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	char path[128];
	size_t i;

	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", t_db, suffixes[i]);
		unlink(path);
	}
	rmdir(t_dir);
}

void
stest_addr(const char *text, struct netaddr *out)
{
	char err[128];

	memset(out, 0, sizeof(*out));
	ck_assert_msg(netaddr_parse(text, true, out, err, sizeof(err)), "%s", err);
}

void
stest_peer_v4(struct peer *p, uint8_t keybyte)
{
	memset(p, 0, sizeof(*p));
	memset(p->key, keybyte, sizeof(p->key));
	snprintf(p->name, sizeof(p->name), "host-%u", keybyte);
	snprintf(p->network, sizeof(p->network), "lab");
	p->listen_port = 51820;
	p->n_tunnel = 1;
	stest_addr("10.9.0.5", &p->tunnel[0]);
	p->n_lan = 1;
	stest_addr("192.168.1.20/24", &p->lan[0]);
	p->revision = 3;
}

void
stest_peer_full(struct peer *p, uint8_t keybyte)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < sizeof(p->key); i++)
		p->key[i] = (uint8_t)(keybyte + i);
	snprintf(p->name, sizeof(p->name), "laptop.example.org");
	snprintf(p->network, sizeof(p->network), "office");
	p->listen_port = 65535;
	p->n_tunnel = 2;
	stest_addr("10.9.0.6", &p->tunnel[0]);
	stest_addr("fd00:9::6", &p->tunnel[1]);
	p->n_lan = 3;
	stest_addr("192.168.7.3", &p->lan[0]);
	stest_addr("2001:db8:1:2::3/64", &p->lan[1]);
	stest_addr("fe80::1", &p->lan[2]);
	stest_addr("2001:db8::beef", &p->wan);
	p->lan_id_len = PEER_LAN_ID_MAX;
	for (i = 0; i < PEER_LAN_ID_MAX; i++)
		p->lan_id[i] = (uint8_t)(0xf0 ^ i);
	snprintf(p->observed_endpoint, sizeof(p->observed_endpoint), "[2001:db8::beef]:51820");
	p->online = true;
	p->last_seen_ms = 1700000000123;
	p->revision = UINT64_C(0x8000000000000005);
	p->cert = t_cert;
	p->cert_len = sizeof(t_cert);
}

static void
assert_addrs_equal(const struct netaddr *a, const struct netaddr *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		ck_assert_msg(netaddr_equal(&a[i], &b[i]), "address %zu differs", i);
}

void
stest_assert_peer_equal(const struct peer *a, const struct peer *b)
{
	ck_assert_mem_eq(a->key, b->key, WG_KEY_LEN);
	ck_assert_str_eq(a->name, b->name);
	ck_assert_str_eq(a->network, b->network);
	ck_assert_uint_eq(a->listen_port, b->listen_port);
	ck_assert_uint_eq(a->n_tunnel, b->n_tunnel);
	assert_addrs_equal(a->tunnel, b->tunnel, a->n_tunnel);
	ck_assert_uint_eq(a->n_lan, b->n_lan);
	assert_addrs_equal(a->lan, b->lan, a->n_lan);
	ck_assert(netaddr_equal(&a->wan, &b->wan));
	ck_assert_uint_eq(a->lan_id_len, b->lan_id_len);
	if (a->lan_id_len > 0)
		ck_assert_mem_eq(a->lan_id, b->lan_id, a->lan_id_len);
	ck_assert_str_eq(a->observed_endpoint, b->observed_endpoint);
	ck_assert(a->online == b->online);
	ck_assert(a->is_static == b->is_static);
	ck_assert_int_eq(a->last_seen_ms, b->last_seen_ms);
	ck_assert_uint_eq(a->revision, b->revision);
	ck_assert_uint_eq(a->cert_len, b->cert_len);
	if (a->cert_len > 0)
		ck_assert_mem_eq(a->cert, b->cert, a->cert_len);
	else
		ck_assert_ptr_null(b->cert);
}

int
stest_collect(const struct peer *p, void *arg)
{
	struct seen *s = arg;

	ck_assert_uint_lt(s->n, MAX_SEEN);
	s->p[s->n] = *p;
	if (p->cert_len > 0) {
		ck_assert_uint_le(p->cert_len, sizeof(s->cert[0]));
		memcpy(s->cert[s->n], p->cert, p->cert_len);
		s->p[s->n].cert = s->cert[s->n];
	}
	s->n++;
	return 0;
}

struct seen *
stest_walk(struct store *st)
{
	static struct seen s;

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(store_peers_foreach(st, stest_collect, &s), 0);
	return &s;
}

struct store *
stest_open_ok(void)
{
	struct store *st = NULL;

	ck_assert_msg(store_open(t_db, &st, t_err, sizeof(t_err)) == 0, "%s", t_err);
	ck_assert_ptr_nonnull(st);
	return st;
}

void
stest_put_commit(struct store *st, const struct peer *p, uint64_t revision)
{
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_peer_put(st, p), 0);
	ck_assert_int_eq(store_commit(st, revision), 0);
}
