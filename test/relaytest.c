/* Helpers of the relay suites; see relaytest.h. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <check.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "test/relaytest.h"

/* The test's own MAC1, straight from OpenSSL: BLAKE2s-256 for the key, BLAKE2SMAC-128. */
void
t_mac1_key(const uint8_t pub[32], uint8_t out[32])
{
	uint8_t in[40];
	unsigned int n = 32;

	memcpy(in, "mac1----", 8);
	memcpy(in + 8, pub, 32);
	ck_assert_int_eq(EVP_Digest(in, sizeof(in), out, &n, EVP_get_digestbyname("BLAKE2S-256"),
	    NULL), 1);
}

void
t_mac1(const uint8_t pub[32], const uint8_t *msg, size_t off, uint8_t out[16])
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "BLAKE2SMAC", NULL);
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
	size_t size = 16, n = 0;
	OSSL_PARAM params[] = { OSSL_PARAM_size_t(OSSL_MAC_PARAM_SIZE, &size), OSSL_PARAM_END };
	uint8_t key[32];

	t_mac1_key(pub, key);
	ck_assert_int_eq(EVP_MAC_init(ctx, key, 32, params), 1);
	ck_assert_int_eq(EVP_MAC_update(ctx, msg, off), 1);
	ck_assert_int_eq(EVP_MAC_final(ctx, out, &n, 16), 1);
	ck_assert_uint_eq(n, 16);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
}

void
key_of(int n, uint8_t key[32])
{
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(n * 37 + i * 11 + 1);
}

struct relay_addr
A4(const char *ip, uint16_t port)
{
	struct relay_addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	a.port = port;
	ck_assert_int_eq(inet_pton(AF_INET, ip, a.ip), 1);
	return a;
}

static void
put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* Handshake-shaped messages: the cleartext fields real, the encrypted parts filler. */
void
mk_init(uint8_t m[RELAY_INITIATION_LEN], uint32_t sender, int resp)
{
	uint8_t key[32];

	memset(m, 0xa5, RELAY_INITIATION_LEN);
	memset(m, 0, 4);
	m[0] = 1;
	put32(m + 4, sender);
	key_of(resp, key);
	t_mac1(key, m, 116, m + 116);
	memset(m + 132, 0, 16);
}

void
mk_resp(uint8_t m[RELAY_RESPONSE_LEN], uint32_t sender, uint32_t receiver, int init)
{
	uint8_t key[32];

	memset(m, 0x5a, RELAY_RESPONSE_LEN);
	memset(m, 0, 4);
	m[0] = 2;
	put32(m + 4, sender);
	put32(m + 8, receiver);
	key_of(init, key);
	t_mac1(key, m, 60, m + 60);
	memset(m + 76, 0, 16);
}

size_t
mk_data(uint8_t *m, uint8_t type, uint32_t receiver, size_t len)
{
	memset(m, 0x77, len);
	memset(m, 0, 4);
	m[0] = type;
	put32(m + 4, receiver);
	return len;
}

/* A relay with hosts 1 (10.0.0.1), 2 (10.0.0.2) and 3 (10.0.0.3) in network "n". */
struct relay *
world(const struct relay_limits *lim)
{
	struct relay *r = relay_new(lim);
	uint8_t k[32];

	ck_assert_ptr_nonnull(r);
	for (int i = 1; i <= 3; i++) {
		char ip[16];
		struct relay_addr a;

		snprintf(ip, sizeof(ip), "10.0.0.%d", i);
		a = A4(ip, 0);
		key_of(i, k);
		ck_assert_int_eq(relay_host_set(r, k, "n", &a, 1), 0);
	}
	return r;
}

enum relay_verdict
send_init(struct relay *r, const struct relay_addr *src, uint32_t sender, int resp,
    uint64_t now, struct relay_addr *dst)
{
	uint8_t m[RELAY_INITIATION_LEN];

	mk_init(m, sender, resp);
	return relay_route(r, m, sizeof(m), src, now, dst);
}

enum relay_verdict
send_resp(struct relay *r, const struct relay_addr *src, uint32_t sender, uint32_t receiver,
    int init, uint64_t now, struct relay_addr *dst)
{
	uint8_t m[RELAY_RESPONSE_LEN];

	mk_resp(m, sender, receiver, init);
	return relay_route(r, m, sizeof(m), src, now, dst);
}

enum relay_verdict
send_data(struct relay *r, const struct relay_addr *src, uint32_t receiver, uint64_t now,
    struct relay_addr *dst)
{
	uint8_t m[96];

	return relay_route(r, m, mk_data(m, 4, receiver, sizeof(m)), src, now, dst);
}

bool
same(const struct relay_addr *a, const struct relay_addr *b)
{
	return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, 16) == 0;
}

/* Host 2 reaches the relay first (nowhere to go yet, but now known), then host 1
 * initiates, 2 responds, and both send data: the whole relayed session. */
void
session(struct relay *r, const struct relay_addr *a1, const struct relay_addr *a2,
    uint64_t now)
{
	struct relay_addr d;

	ck_assert_int_eq(send_init(r, a2, 0x2000, 1, now, &d), RELAY_DROP_NO_ROUTE);
	ck_assert_int_eq(send_init(r, a1, 0x1111, 2, now, &d), RELAY_FORWARD);
	ck_assert(same(&d, a2));
	ck_assert_int_eq(send_resp(r, a2, 0x2222, 0x1111, 1, now, &d), RELAY_FORWARD);
	ck_assert(same(&d, a1));
	ck_assert_int_eq(send_data(r, a1, 0x2222, now, &d), RELAY_FORWARD);
	ck_assert(same(&d, a2));
	ck_assert_int_eq(send_data(r, a2, 0x1111, now, &d), RELAY_FORWARD);
	ck_assert(same(&d, a1));
}
