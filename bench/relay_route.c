/* relay-route: the CPU cost of the relay's routing decision alone (server/relay.c), no
 * sockets: a relayed session's transport packets, and handshake initiations with N keys
 * registered in one network (MAC1 is tried against each). BENCHMARKS.md, "Relay".
 *
 *   relay-route [N_KEYS [PACKETS]]     defaults 4096 and 2000000 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "server/relay.h"

static double
cpu_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
key_of(uint32_t n, uint8_t k[32])
{
	for (int i = 0; i < 32; i++)
		k[i] = (uint8_t)((n * 2654435761u) >> (i % 4 * 8)) ^ (uint8_t)i;
	memcpy(k, &n, sizeof(n));
}

static struct relay_addr
ip4(uint32_t n, uint16_t port)
{
	struct relay_addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	a.port = port;
	a.ip[0] = 10;
	a.ip[1] = (uint8_t)(n >> 16);
	a.ip[2] = (uint8_t)(n >> 8);
	a.ip[3] = (uint8_t)n;
	return a;
}

/* A handshake message of type (1 or 2) with the MAC1 of key k. */
static void
handshake(uint8_t *m, size_t len, uint8_t type, uint32_t sender, uint32_t receiver,
    const uint8_t k[32])
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "BLAKE2SMAC", NULL);
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
	size_t size = 16, n = 0;
	OSSL_PARAM params[] = { OSSL_PARAM_size_t(OSSL_MAC_PARAM_SIZE, &size), OSSL_PARAM_END };
	uint8_t in[40], mk[32];
	unsigned int mn = 32;

	memset(m, 0x42, len);
	memset(m, 0, 4);
	m[0] = type;
	memcpy(m + 4, &sender, 4);
	if (type == 2)
		memcpy(m + 8, &receiver, 4);
	memcpy(in, "mac1----", 8);
	memcpy(in + 8, k, 32);
	EVP_Digest(in, sizeof(in), mk, &mn, EVP_get_digestbyname("BLAKE2S-256"), NULL);
	EVP_MAC_init(ctx, mk, 32, params);
	EVP_MAC_update(ctx, m, len - 32);
	EVP_MAC_final(ctx, m + len - 32, &n, 16);
	memset(m + len - 16, 0, 16);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
}

int
main(int argc, char **argv)
{
	uint32_t n_keys = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 4096;
	unsigned long packets = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000000;
	struct relay_limits lim;
	struct relay *r;
	struct relay_addr a1, a2, d;
	uint8_t k1[32], k2[32], m[RELAY_INITIATION_LEN], data[1432];
	unsigned long ok = 0, inits = 2000;
	uint8_t *many;
	double t0, t1;

	if (n_keys < 2)
		n_keys = 2;
	relay_limits_default(&lim);
	lim.max_hosts = n_keys;
	lim.pkt_rate = lim.pkt_burst = 4000000000u; /* the cost, not the limit */
	lim.hs_rate = lim.hs_burst = 4000000000u;
	if ((r = relay_new(&lim)) == NULL)
		return 1;
	for (uint32_t i = 0; i < n_keys; i++) {
		struct relay_addr ip = ip4(i + 1, 0);
		uint8_t k[32];

		key_of(i, k);
		if (relay_host_set(r, k, "net", &ip, 1) < 0)
			return 1;
	}
	/* host 0 at a1 talks to the last-registered host at a2: its MAC1 is tried last */
	key_of(0, k1);
	key_of(n_keys - 1, k2);
	a1 = ip4(1, 40001);
	a2 = ip4(n_keys, 40002);
	handshake(m, RELAY_INITIATION_LEN, 1, 0x2000, 0, k1);
	relay_route(r, m, RELAY_INITIATION_LEN, &a2, 1, &d);
	handshake(m, RELAY_INITIATION_LEN, 1, 0x1111, 0, k2);
	if (relay_route(r, m, RELAY_INITIATION_LEN, &a1, 1, &d) != RELAY_FORWARD)
		return 1;
	handshake(m, RELAY_RESPONSE_LEN, 2, 0x2222, 0x1111, k1);
	if (relay_route(r, m, RELAY_RESPONSE_LEN, &a2, 1, &d) != RELAY_FORWARD)
		return 1;

	memset(data, 0, sizeof(data));
	data[0] = 4;
	t0 = cpu_s();
	for (unsigned long i = 0; i < packets; i++) {
		uint32_t rcv = (i & 1) ? 0x1111 : 0x2222;

		memcpy(data + 4, &rcv, 4);
		ok += relay_route(r, data, sizeof(data), (i & 1) ? &a2 : &a1, 2, &d) ==
		    RELAY_FORWARD;
	}
	t1 = cpu_s();
	printf("relay-route transport: %lu packets, %lu forwarded, %.0f ns per packet\n",
	    packets, ok, (t1 - t0) / (double)packets * 1e9);

	/* distinct initiations (new sender indices), made before the clock starts */
	if ((many = malloc(inits * RELAY_INITIATION_LEN)) == NULL)
		return 1;
	for (unsigned long i = 0; i < inits; i++)
		handshake(many + i * RELAY_INITIATION_LEN, RELAY_INITIATION_LEN, 1,
		    0x10000 + (uint32_t)i, 0, k2);
	ok = 0;
	t0 = cpu_s();
	for (unsigned long i = 0; i < inits; i++)
		ok += relay_route(r, many + i * RELAY_INITIATION_LEN, RELAY_INITIATION_LEN, &a1,
		    3, &d) == RELAY_FORWARD;
	t1 = cpu_s();
	printf("relay-route initiation with %u keys in the network: %lu forwarded, %.1f us "
	    "per initiation, %.0f ns per key tried\n", n_keys, ok,
	    (t1 - t0) / (double)inits * 1e6, (t1 - t0) / (double)inits / n_keys * 1e9);
	free(many);
	relay_del(r);
	return 0;
}
