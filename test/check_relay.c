/* Unit tests for server/relay.c: MAC1 against wireguard-go and Python's BLAKE2s, a full
 * relayed handshake and session, shared IPs, roaming; the bounds (rate, eviction, expiry).
 * The refusals are in check_relay_refuse.c. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "common/cert.h"
#include "common/netaddr.h"
#include "rpc/loop.h"
#include "server/relay.h"
#include "server/relay_io.h"
#include "server/store.h"
#include "test/testcert.h"
#include "test/check_suites.h"
#include "test/relaytest.h"

/* A real handshake initiation captured from wireguard-go 0.0.2023 (key A to key B, sent
 * from 127.0.0.1:51999), so MAC1 is checked against an implementation that is not ours. */
static const uint8_t wg_pub_a[32] = {
	0x52, 0x07, 0x53, 0x10, 0x8b, 0xe2, 0xae, 0xd6, 0x74, 0x23, 0x33, 0x6e, 0x31, 0xbc,
	0x4e, 0x43, 0xba, 0xd7, 0xaa, 0xaf, 0x45, 0x82, 0x46, 0xa7, 0xcc, 0x10, 0x4e, 0x92,
	0xe7, 0xc0, 0x0a, 0x13 };
static const uint8_t wg_pub_b[32] = {
	0x72, 0xce, 0x33, 0xbd, 0xb0, 0x0f, 0x34, 0x51, 0x15, 0xe5, 0xa1, 0xe5, 0x40, 0xc3,
	0x8c, 0xf7, 0xb1, 0x0c, 0x97, 0xdd, 0xbf, 0xa3, 0x02, 0x40, 0xce, 0x12, 0x90, 0x6f,
	0x97, 0xd3, 0x26, 0x22 };
static const uint8_t wg_init[RELAY_INITIATION_LEN] = {
	0x01, 0x00, 0x00, 0x00, 0x7f, 0xec, 0x60, 0x6c, 0xeb, 0x67, 0x77, 0x1e, 0xdb, 0x74,
	0x02, 0x2a, 0xc9, 0xd8, 0xb0, 0x04, 0xa4, 0x5c, 0xa1, 0xae, 0xf9, 0x03, 0x9a, 0x5f,
	0xff, 0xc5, 0xbf, 0x3c, 0xc2, 0x45, 0x88, 0x69, 0x92, 0x81, 0xee, 0x75, 0x66, 0x86,
	0xf5, 0x4d, 0xb4, 0xd6, 0x5f, 0x54, 0xfe, 0x74, 0xf2, 0x46, 0x71, 0x8c, 0x5c, 0x7d,
	0x4a, 0x8d, 0x30, 0x75, 0x1d, 0x64, 0x47, 0x3b, 0x91, 0xa0, 0x0d, 0xe3, 0x6d, 0x7e,
	0xe9, 0x73, 0xd9, 0xae, 0x35, 0x4e, 0x8e, 0x74, 0x1a, 0x59, 0x72, 0x1b, 0x44, 0x81,
	0x77, 0x9a, 0x2f, 0xcc, 0x69, 0x78, 0x43, 0xb4, 0x21, 0x80, 0x7d, 0x24, 0x06, 0x77,
	0x66, 0x3b, 0xfe, 0xd7, 0x8d, 0xde, 0x5e, 0xe5, 0x65, 0x4e, 0x13, 0x76, 0xe7, 0xb2,
	0x79, 0xb5, 0xb8, 0x43, 0xe4, 0x21, 0xd8, 0x5a, 0xc9, 0x21, 0x63, 0x57, 0x27, 0x0b,
	0x3a, 0xb5, 0xec, 0x0a, 0xe0, 0x86, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };

/* mac1_key and MAC1 for key 00..1f over message bytes 00..73, from Python's
 * hashlib.blake2s(b"mac1----" + key) and hashlib.blake2s(msg, key=k, digest_size=16). */
static const char *py_mac1_key = "4fb2527ac956001553dc1ad9b55171b7d9daa3de1cdbcd71451830170c7e6cac";
static const char *py_mac1 = "3a7d1b865f062f4af4677f1d88d7ea74";

static void
hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

START_TEST(test_mac1_python_vector)
{
	uint8_t pub[32], msg[116], k[32], mac[16];
	char h[65];

	for (int i = 0; i < 32; i++)
		pub[i] = (uint8_t)i;
	for (int i = 0; i < 116; i++)
		msg[i] = (uint8_t)i;
	t_mac1_key(pub, k);
	hex(k, 32, h);
	ck_assert_str_eq(h, py_mac1_key);
	t_mac1(pub, msg, sizeof(msg), mac);
	hex(mac, 16, h);
	ck_assert_str_eq(h, py_mac1);
}
END_TEST

START_TEST(test_wireguard_go_initiation_routed_by_mac1)
{
	struct relay *r = relay_new(NULL);
	struct relay_addr ia = A4("127.0.0.1", 0), ib = A4("127.0.0.2", 0);
	struct relay_addr sa = A4("127.0.0.1", 51999), sb = A4("127.0.0.2", 6000), d;
	uint8_t m[RELAY_INITIATION_LEN], bad[RELAY_INITIATION_LEN];

	ck_assert_int_eq(relay_host_set(r, wg_pub_a, "n", &ia, 1), 0);
	ck_assert_int_eq(relay_host_set(r, wg_pub_b, "n", &ib, 1), 0);
	/* B's own initiation toward A (built here) makes B reachable */
	mk_init(m, 7, 0);
	t_mac1(wg_pub_a, m, 116, m + 116);
	ck_assert_int_eq(relay_route(r, m, sizeof(m), &sb, 1000, &d), RELAY_DROP_NO_ROUTE);
	memcpy(bad, wg_init, sizeof(bad));
	bad[40] ^= 1;
	ck_assert_int_eq(relay_route(r, bad, sizeof(bad), &sa, 1000, &d), RELAY_DROP_MAC1);
	ck_assert_int_eq(relay_route(r, wg_init, sizeof(wg_init), &sa, 1000, &d), RELAY_FORWARD);
	ck_assert(same(&d, &sb));
	relay_del(r);
}
END_TEST

START_TEST(test_session_relayed)
{
	struct relay *r = world(NULL);
	struct relay_addr a1 = A4("10.0.0.1", 40001), a2 = A4("10.0.0.2", 40002), d;
	struct relay_stats st;
	uint8_t m[RELAY_COOKIE_LEN];

	session(r, &a1, &a2, 1000);
	/* a cookie reply from the responder goes back to the initiator by its index */
	mk_data(m, 3, 0x1111, sizeof(m));
	ck_assert_int_eq(relay_route(r, m, sizeof(m), &a2, 1000, &d), RELAY_FORWARD);
	ck_assert(same(&d, &a1));
	/* a keepalive: 32 bytes */
	ck_assert_int_eq(relay_route(r, m, mk_data(m, 4, 0x2222, 32), &a1, 1000, &d),
	    RELAY_FORWARD);
	relay_stats_get(r, &st);
	ck_assert_uint_eq(st.hosts, 3);
	ck_assert_uint_eq(st.entries, 2); /* the pair: 2's initiation went nowhere, not kept */
	ck_assert_uint_eq(st.verdicts[RELAY_FORWARD], 6);
	relay_del(r);
}
END_TEST

START_TEST(test_shared_ip_bound_by_response)
{
	struct relay *r = relay_new(NULL);
	struct relay_addr nat = A4("192.0.2.7", 0), ib = A4("10.0.0.2", 0);
	struct relay_addr a1 = A4("192.0.2.7", 1001), a2 = A4("10.0.0.2", 2002), d;
	uint8_t k[32];

	/* hosts 1 and 3 behind one NAT address */
	key_of(1, k);
	ck_assert_int_eq(relay_host_set(r, k, "n", &nat, 1), 0);
	key_of(3, k);
	ck_assert_int_eq(relay_host_set(r, k, "n", &nat, 1), 0);
	key_of(2, k);
	ck_assert_int_eq(relay_host_set(r, k, "n", &ib, 1), 0);
	ck_assert_int_eq(send_init(r, &a2, 0x20, 1, 0, &d), RELAY_DROP_NO_ROUTE);
	/* which of 1 and 3 sent it the relay cannot tell yet */
	ck_assert_int_eq(send_init(r, &a1, 0x10, 2, 0, &d), RELAY_FORWARD);
	ck_assert_int_eq(send_init(r, &a2, 0x21, 1, 0, &d), RELAY_DROP_NO_ROUTE);
	/* 2's response is keyed with 1's key: the initiation was 1's */
	ck_assert_int_eq(send_resp(r, &a2, 0x22, 0x10, 1, 0, &d), RELAY_FORWARD);
	ck_assert(same(&d, &a1));
	/* now 1 is reachable at a1, 3 still is not */
	ck_assert_int_eq(send_init(r, &a2, 0x23, 1, 0, &d), RELAY_FORWARD);
	ck_assert(same(&d, &a1));
	ck_assert_int_eq(send_init(r, &a2, 0x24, 3, 0, &d), RELAY_DROP_NO_ROUTE);
	relay_del(r);
}
END_TEST

START_TEST(test_roaming_within_own_ips)
{
	struct relay *r = world(NULL);
	struct relay_addr a1 = A4("10.0.0.1", 40001), a2 = A4("10.0.0.2", 40002), d;
	struct relay_addr a1b = A4("10.0.0.1", 50001);

	session(r, &a1, &a2, 0);
	ck_assert_int_eq(send_data(r, &a1b, 0x2222, 10, &d), RELAY_FORWARD);
	ck_assert_int_eq(send_data(r, &a2, 0x1111, 10, &d), RELAY_FORWARD);
	ck_assert(same(&d, &a1b));
	/* host 3's IP is not 1's: no roaming into 1's session from there */
	ck_assert_int_eq(send_data(r, &(struct relay_addr){ .family = AF_INET, .port = 1,
	    .ip = { 10, 0, 0, 3 } }, 0x2222, 10, &d), RELAY_DROP_STRANGER);
	relay_del(r);
}
END_TEST

START_TEST(test_classify)
{
	uint8_t m[200];

	ck_assert_int_eq(relay_classify(m, mk_data(m, 1, 0, 148)), RELAY_MSG_INITIATION);
	ck_assert_int_eq(relay_classify(m, mk_data(m, 1, 0, 147)), RELAY_MSG_INVALID);
	ck_assert_int_eq(relay_classify(m, mk_data(m, 2, 0, 92)), RELAY_MSG_RESPONSE);
	ck_assert_int_eq(relay_classify(m, mk_data(m, 2, 0, 148)), RELAY_MSG_INVALID);
	ck_assert_int_eq(relay_classify(m, mk_data(m, 3, 0, 64)), RELAY_MSG_COOKIE);
	ck_assert_int_eq(relay_classify(m, mk_data(m, 4, 0, 32)), RELAY_MSG_TRANSPORT);
	ck_assert_int_eq(relay_classify(m, mk_data(m, 4, 0, 31)), RELAY_MSG_INVALID);
	ck_assert_int_eq(relay_classify(m, mk_data(m, 4, 0, 199)), RELAY_MSG_TRANSPORT);
	ck_assert_int_eq(relay_classify(m, mk_data(m, 5, 0, 64)), RELAY_MSG_INVALID);
	mk_data(m, 4, 0, 64);
	m[2] = 1;   /* reserved bytes are zero */
	ck_assert_int_eq(relay_classify(m, 64), RELAY_MSG_INVALID);
	ck_assert_int_eq(relay_classify(m, 0), RELAY_MSG_INVALID);
}
END_TEST

START_TEST(test_sockaddr_roundtrip)
{
	struct sockaddr_in6 in6;
	struct sockaddr_storage ss;
	struct relay_addr a;

	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	in6.sin6_port = htons(51820);
	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:192.0.2.1", &in6.sin6_addr), 1);
	ck_assert_int_eq(relay_addr_from_sockaddr(&a, (struct sockaddr *)&in6, sizeof(in6)), 0);
	ck_assert_int_eq(a.family, AF_INET);
	ck_assert_uint_eq(a.port, 51820);
	ck_assert_uint_eq(a.ip[0], 192);
	ck_assert_uint_eq(relay_addr_to_sockaddr(&a, &ss), sizeof(struct sockaddr_in));
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr), 1);
	ck_assert_int_eq(relay_addr_from_sockaddr(&a, (struct sockaddr *)&in6, sizeof(in6)), 0);
	ck_assert_int_eq(a.family, AF_INET6);
	ck_assert_uint_eq(relay_addr_to_sockaddr(&a, &ss), sizeof(struct sockaddr_in6));
	ck_assert_int_eq(relay_addr_from_sockaddr(&a, (struct sockaddr *)&in6, 8),
	    -EAFNOSUPPORT);
}
END_TEST

START_TEST(test_io_listen_and_empty_store)
{
	char dir[] = "/tmp/check_relay.XXXXXX", db[64], err[300];
	struct loop *l = loop_new();
	struct store *st = NULL;
	struct relay_io *io = NULL, *bad = NULL;

	ck_assert(relay_io_addr_ok("0.0.0.0:51821", err, sizeof(err)));
	ck_assert(relay_io_addr_ok("[::]:0", err, sizeof(err)));
	ck_assert(!relay_io_addr_ok("51821", err, sizeof(err)));
	ck_assert(!relay_io_addr_ok("relay.example:51821", err, sizeof(err)));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/db", dir);
	ck_assert_msg(store_open(db, &st, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(relay_io_new(l, st, "127.0.0.1:0", NULL, &io, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_int_gt(relay_io_port(io), 0);
	ck_assert_int_eq(relay_io_sync(io), 0);
	ck_assert_int_lt(relay_io_new(l, st, "127.0.0.1", NULL, &bad, err, sizeof(err)), 0);
	ck_assert_ptr_null(bad);
	ck_assert_ptr_nonnull(strstr(err, "relay_listen"));
	relay_io_del(io);
	store_close(st);
	loop_del(l);
	snprintf(err, sizeof(err), "rm -rf %s", dir);
	ck_assert_int_eq(system(err), 0);
}
END_TEST

/* A stored peer as the service writes it: key and identity from a certificate of ca. */
static void
stored_peer(struct store *st, struct testcert_ca *ca, const char *name, const char *wan,
    long not_after, uint64_t revision, uint8_t key_out[32])
{
	struct testcert_spec spec = { .cn = name, .org = "n", .ips = { "10.9.0.9" },
		.not_before_offset = -7200, .not_after_offset = not_after };
	char b64[45], err[120];
	unsigned char *der = NULL;
	struct peer p;
	X509 *x;
	int len;

	testcert_random_key_b64(b64);
	spec.key_b64 = b64;
	ck_assert_ptr_nonnull(x = testcert_issue(ca, &spec, NULL));
	ck_assert_int_gt(len = i2d_X509(x, &der), 0);
	memset(&p, 0, sizeof(p));
	ck_assert(wg_key_from_base64(b64, p.key));
	memcpy(key_out, p.key, 32);
	snprintf(p.name, sizeof(p.name), "%s", name);
	snprintf(p.network, sizeof(p.network), "n");
	ck_assert(netaddr_parse(wan, false, &p.wan, err, sizeof(err)));
	p.cert = der;
	p.cert_len = (size_t)len;
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_peer_put(st, &p), 0);
	ck_assert_int_eq(store_commit(st, revision), 0);
	OPENSSL_free(der);
	X509_free(x);
}

/* The relay's hosts are the stored peers with current certificates, and follow removals. */
START_TEST(test_io_hosts_from_store)
{
	char dir[] = "/tmp/check_relay.XXXXXX", db[64], err[300];
	struct loop *l = loop_new();
	struct testcert_ca *ca = testcert_ca_new("n");
	struct store *st = NULL;
	struct relay_io *io = NULL;
	struct relay_io_stats ios;
	uint8_t kcur[32], kold[32];

	ck_assert_ptr_nonnull(ca);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/db", dir);
	ck_assert_msg(store_open(db, &st, err, sizeof(err)) == 0, "%s", err);
	stored_peer(st, ca, "cur", "192.0.2.1", 86400, 1, kcur);
	stored_peer(st, ca, "old", "192.0.2.2", -3600, 2, kold);
	ck_assert_msg(relay_io_new(l, st, "127.0.0.1:0", NULL, &io, err, sizeof(err)) == 0, "%s",
	    err);
	/* the expired certificate's holder is left out */
	ck_assert_int_eq(relay_io_sync(io), 1);
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_peer_delete(st, kcur), 0);
	ck_assert_int_eq(store_commit(st, 3), 0);
	ck_assert_int_eq(relay_io_sync(io), 0);
	relay_io_stats_get(io, &ios);
	ck_assert_uint_eq(ios.table.hosts, 0);
	relay_io_del(io);
	store_close(st);
	testcert_ca_del(ca);
	loop_del(l);
	snprintf(err, sizeof(err), "rm -rf %s", dir);
	ck_assert_int_eq(system(err), 0);
}
END_TEST

START_TEST(test_handshake_rate_per_source)
{
	struct relay_limits lim = { .hs_rate = 2, .hs_burst = 3 };
	struct relay *r = world(&lim);
	struct relay_addr a1 = A4("10.0.0.1", 1), a3 = A4("10.0.0.3", 3), d;

	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(send_init(r, &a1, (uint32_t)i, 2, 0, &d), RELAY_DROP_NO_ROUTE);
	ck_assert_int_eq(send_init(r, &a1, 9, 2, 0, &d), RELAY_DROP_RATE);
	/* another source is counted apart */
	ck_assert_int_eq(send_init(r, &a3, 9, 2, 0, &d), RELAY_DROP_NO_ROUTE);
	/* 2 per second: one token back after 500 ms */
	ck_assert_int_eq(send_init(r, &a1, 10, 2, 499, &d), RELAY_DROP_RATE);
	ck_assert_int_eq(send_init(r, &a1, 11, 2, 500, &d), RELAY_DROP_NO_ROUTE);
	relay_del(r);
}
END_TEST

/* New ports of one IP do not bring new handshake budgets (each costs MAC1 work). */
START_TEST(test_handshake_rate_per_ip)
{
	struct relay_limits lim = { .hs_rate = 1, .hs_burst = 3 };
	struct relay *r = world(&lim);
	struct relay_addr d;
	int ok = 0;

	for (uint16_t p = 1; p <= 10; p++) {
		struct relay_addr a = A4("10.0.0.1", p);

		ok += send_init(r, &a, p, 2, 0, &d) == RELAY_DROP_NO_ROUTE;
	}
	ck_assert_int_eq(ok, 3);
	relay_del(r);
}
END_TEST

START_TEST(test_packet_rate_per_source)
{
	struct relay_limits lim = { .pkt_rate = 1000, .pkt_burst = 5 };
	struct relay *r = world(&lim);
	struct relay_addr a1 = A4("10.0.0.1", 40001), a2 = A4("10.0.0.2", 40002), d;
	int ok = 0;

	session(r, &a1, &a2, 0);  /* a1 spent 2 tokens */
	for (int i = 0; i < 10; i++)
		ok += send_data(r, &a1, 0x2222, 0, &d) == RELAY_FORWARD;
	ck_assert_int_eq(ok, 3);
	ck_assert_int_eq(send_data(r, &a1, 0x2222, 1, &d), RELAY_FORWARD);
	relay_del(r);
}
END_TEST

START_TEST(test_entries_bounded_oldest_evicted)
{
	struct relay_limits lim = { .max_entries = 8, .hs_burst = 1000 };
	struct relay *r = world(&lim);
	struct relay_addr a1 = A4("10.0.0.1", 1), a2 = A4("10.0.0.2", 2), d;
	struct relay_stats st;

	ck_assert_int_eq(send_init(r, &a2, 0xffff, 1, 0, &d), RELAY_DROP_NO_ROUTE);
	for (uint32_t i = 0; i < 100; i++)
		ck_assert_int_eq(send_init(r, &a1, i, 2, i, &d), RELAY_FORWARD);
	relay_stats_get(r, &st);
	ck_assert_uint_eq(st.entries, 8);
	ck_assert_int_eq(send_resp(r, &a2, 500, 0, 1, 200, &d), RELAY_DROP_UNKNOWN_INDEX);
	ck_assert_int_eq(send_resp(r, &a2, 501, 99, 1, 200, &d), RELAY_FORWARD);
	/* a live session is used, so it outlives a flood of newer handshakes */
	for (uint32_t i = 1000; i < 1006; i++) {
		ck_assert_int_eq(send_init(r, &a1, i, 2, 300, &d), RELAY_FORWARD);
		ck_assert_int_eq(send_data(r, &a1, 501, 300, &d), RELAY_FORWARD);
	}
	relay_del(r);
}
END_TEST

START_TEST(test_sources_bounded)
{
	struct relay_limits lim = { .max_sources = 4, .hs_burst = 1000 };
	struct relay *r = world(&lim);
	struct relay_addr d;
	struct relay_stats st;

	for (uint16_t p = 1; p <= 50; p++) {
		struct relay_addr a = A4("10.0.0.1", p);

		ck_assert_int_eq(send_init(r, &a, p, 2, 0, &d), RELAY_DROP_NO_ROUTE);
	}
	relay_stats_get(r, &st);
	ck_assert_uint_eq(st.sources, 4);
	relay_del(r);
}
END_TEST

START_TEST(test_entries_and_routes_expire)
{
	struct relay *r = world(NULL);
	struct relay_addr a1 = A4("10.0.0.1", 40001), a2 = A4("10.0.0.2", 40002), d;
	const uint64_t ttl = RELAY_ENTRY_TTL_MS;

	session(r, &a1, &a2, 0);
	ck_assert_int_eq(send_data(r, &a2, 0x1111, ttl - 1, &d), RELAY_FORWARD);
	ck_assert_int_eq(send_data(r, &a1, 0x2222, ttl, &d), RELAY_DROP_UNKNOWN_INDEX);
	/* host 2 last sent at ttl - 1 (its data refreshed its address), silent since */
	ck_assert_int_eq(send_init(r, &a1, 0x3333, 2, 2 * ttl - 2, &d), RELAY_FORWARD);
	ck_assert_int_eq(send_init(r, &a1, 0x3334, 2, 2 * ttl, &d), RELAY_DROP_NO_ROUTE);
	relay_del(r);
}
END_TEST

START_TEST(test_host_limits)
{
	struct relay_limits lim = { .max_hosts = 2 };
	struct relay *r = relay_new(&lim);
	struct relay_addr ips[RELAY_HOST_IPS_MAX + 1];
	uint8_t k[32];
	char big[CERT_NAME_MAX + 2];

	for (size_t i = 0; i <= RELAY_HOST_IPS_MAX; i++)
		ips[i] = A4("10.0.0.1", 0);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	key_of(1, k);
	ck_assert_int_eq(relay_host_set(r, k, "", ips, 1), -EINVAL);
	ck_assert_int_eq(relay_host_set(r, k, big, ips, 1), -EINVAL);
	ck_assert_int_eq(relay_host_set(r, k, "n", ips, RELAY_HOST_IPS_MAX + 1), -EINVAL);
	ck_assert_int_eq(relay_host_set(r, k, "n", ips, 1), 0);
	ck_assert_int_eq(relay_host_set(r, k, "n", ips, 2), 0); /* an update, not a host */
	key_of(2, k);
	ck_assert_int_eq(relay_host_set(r, k, "n", ips, 1), 0);
	key_of(3, k);
	ck_assert_int_eq(relay_host_set(r, k, "n", ips, 1), -ENOSPC);
	ck_assert_int_eq(relay_host_remove(r, k), -ENOENT);
	relay_del(r);
}
END_TEST

Suite *
relay_suite(void)
{
	Suite *s = suite_create("relay");
	TCase *core = tcase_create("core"), *lim = tcase_create("limits");

	tcase_add_test(core, test_mac1_python_vector);
	tcase_add_test(core, test_wireguard_go_initiation_routed_by_mac1);
	tcase_add_test(core, test_session_relayed);
	tcase_add_test(core, test_shared_ip_bound_by_response);
	tcase_add_test(core, test_roaming_within_own_ips);
	tcase_add_test(core, test_classify);
	tcase_add_test(core, test_sockaddr_roundtrip);
	tcase_add_test(core, test_io_listen_and_empty_store);
	tcase_add_test(core, test_io_hosts_from_store);
	tcase_add_test(lim, test_handshake_rate_per_source);
	tcase_add_test(lim, test_handshake_rate_per_ip);
	tcase_add_test(lim, test_packet_rate_per_source);
	tcase_add_test(lim, test_entries_bounded_oldest_evicted);
	tcase_add_test(lim, test_sources_bounded);
	tcase_add_test(lim, test_entries_and_routes_expire);
	tcase_add_test(lim, test_host_limits);
	suite_add_tcase(s, core);
	suite_add_tcase(s, lim);
	return s;
}
