/* libFuzzer target: the relay's classifier and router (server/relay.h) over a stream of
 * datagrams, host removals and re-registrations, with small tables so eviction and expiry
 * are reached. Random bytes never carry a valid MAC1, so an operation can ask for one:
 * the harness then writes the MAC1 of a chosen key into the handshake it sends.
 *
 * Invariants (the rules of relay.h): a datagram is forwarded only to an address that sent
 * one before, never back to its source, and only between registered hosts of one network;
 * the tables stay within their limits.
 *
 * Input: records of [op][source][time][length][length bytes]. op bits 0-2: 0 raw,
 * 1 initiation for key op>>3&3, 2 response for key op>>3&3, 3 remove host op>>3&3, 4 add
 * it back, else raw. source bits 0-2 pick an IP (10.0.0.1-5, or ::1), bits 3-7 a port. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "rpc/log.h"
#include "server/relay.h"
#include "test/fuzz/fuzz_util.h"

#define HOSTS 4
#define SEEN_MAX 256

struct fhost {
	uint8_t key[RELAY_KEY_LEN];
	const char *network;
	struct relay_addr ips[2];
	size_t n_ips;
	bool present;
};

static struct fhost hosts[HOSTS];
static EVP_MAC *mac;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct relay_addr
v4(uint8_t last, uint16_t port)
{
	struct relay_addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	a.port = port;
	a.ip[0] = 10;
	a.ip[3] = last;
	return a;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz_relay", LOG_LEVEL_ERROR);
	mac = EVP_MAC_fetch(NULL, "BLAKE2SMAC", NULL);
	FUZZ_CHECK(mac != NULL);
	/* 0, 1, 2 in network "a" (0 and 2 share 10.0.0.1), 3 alone in "b" */
	for (int i = 0; i < HOSTS; i++) {
		memset(hosts[i].key, 0x11 * (i + 1), RELAY_KEY_LEN);
		hosts[i].network = i < 3 ? "a" : "b";
		hosts[i].ips[0] = v4((uint8_t)(i + 1), 0);
		hosts[i].n_ips = 1;
	}
	hosts[2].ips[1] = v4(1, 0);
	hosts[2].n_ips = 2;
	return 0;
}

static void
put_mac1(const uint8_t key[RELAY_KEY_LEN], uint8_t *msg, size_t off)
{
	uint8_t in[8 + RELAY_KEY_LEN], k[32];
	unsigned int kn = 32;
	size_t size = 16, n = 0;
	OSSL_PARAM params[] = { OSSL_PARAM_size_t(OSSL_MAC_PARAM_SIZE, &size), OSSL_PARAM_END };
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);

	memcpy(in, "mac1----", 8);
	memcpy(in + 8, key, RELAY_KEY_LEN);
	FUZZ_CHECK(ctx != NULL);
	FUZZ_CHECK(EVP_Digest(in, sizeof(in), k, &kn, EVP_get_digestbyname("BLAKE2S-256"),
	    NULL) == 1);
	FUZZ_CHECK(EVP_MAC_init(ctx, k, sizeof(k), params) == 1);
	FUZZ_CHECK(EVP_MAC_update(ctx, msg, off) == 1);
	FUZZ_CHECK(EVP_MAC_final(ctx, msg + off, &n, 16) == 1 && n == 16);
	EVP_MAC_CTX_free(ctx);
}

static bool
addr_eq(const struct relay_addr *a, const struct relay_addr *b)
{
	return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, 16) == 0;
}

/* The present hosts holding a's IP, as a bit set. */
static unsigned
holders(const struct relay_addr *a)
{
	unsigned set = 0;

	for (int i = 0; i < HOSTS; i++)
		for (size_t k = 0; k < hosts[i].n_ips; k++)
			if (hosts[i].present && a->family == hosts[i].ips[k].family &&
			    memcmp(a->ip, hosts[i].ips[k].ip, 16) == 0)
				set |= 1u << i;
	return set;
}

static bool
one_network(unsigned s, unsigned d)
{
	for (int i = 0; i < HOSTS; i++)
		for (int j = 0; j < HOSTS; j++)
			if (i != j && (s >> i & 1) && (d >> j & 1) &&
			    strcmp(hosts[i].network, hosts[j].network) == 0)
				return true;
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relay_limits lim = { .max_hosts = HOSTS, .max_entries = 8, .max_sources = 4,
		.hs_rate = 5, .hs_burst = 10, .pkt_rate = 100, .pkt_burst = 20 };
	struct relay *r = relay_new(&lim);
	struct relay_addr seen[SEEN_MAX];
	size_t n_seen = 0, off = 0;
	uint64_t now = 1000;

	FUZZ_CHECK(r != NULL);
	for (int i = 0; i < HOSTS; i++) {
		FUZZ_CHECK(relay_host_set(r, hosts[i].key, hosts[i].network, hosts[i].ips,
		    hosts[i].n_ips) == 0);
		hosts[i].present = true;
	}
	while (off + 4 <= size) {
		uint8_t op = data[off], sel = data[off + 1], dt = data[off + 2];
		size_t len = data[off + 3] * 8u, avail = size - off - 4;
		uint8_t pkt[2048];
		struct relay_addr src, dst;
		struct relay_stats st;
		enum relay_verdict v;
		int h = op >> 3 & 3;
		bool dup;

		off += 4;
		len = len < avail ? len : avail;
		memset(pkt, 0, sizeof(pkt));
		memcpy(pkt, data + off, len);
		off += len;
		now += dt < 200 ? dt : (uint64_t)(dt - 199) * 10000;
		if ((sel & 7) == 6) {
			memset(&src, 0, sizeof(src));
			src.family = AF_INET6;
			src.ip[15] = 1;
			src.port = (uint16_t)(1000 + (sel >> 3));
		} else {
			src = v4((uint8_t)((sel & 7) % 5 + 1), (uint16_t)(1000 + (sel >> 3)));
		}
		switch (op & 7) {
		case 1:
			pkt[0] = 1;
			pkt[1] = pkt[2] = pkt[3] = 0;
			len = RELAY_INITIATION_LEN;
			put_mac1(hosts[h].key, pkt, len - 32);
			break;
		case 2:
			pkt[0] = 2;
			pkt[1] = pkt[2] = pkt[3] = 0;
			len = RELAY_RESPONSE_LEN;
			put_mac1(hosts[h].key, pkt, len - 32);
			break;
		case 3:
			FUZZ_CHECK((relay_host_remove(r, hosts[h].key) == 0) == hosts[h].present);
			hosts[h].present = false;
			continue;
		case 4:
			FUZZ_CHECK(relay_host_set(r, hosts[h].key, hosts[h].network, hosts[h].ips,
			    hosts[h].n_ips) == 0);
			hosts[h].present = true;
			continue;
		default:
			break;
		}
		memset(&dst, 0, sizeof(dst));
		v = relay_route(r, pkt, len, &src, now, &dst);
		FUZZ_CHECK((unsigned)v < RELAY_VERDICT_COUNT);
		FUZZ_CHECK(v != RELAY_FORWARD || relay_classify(pkt, len) != RELAY_MSG_INVALID);
		if (v == RELAY_FORWARD) {
			bool known = false;

			for (size_t i = 0; i < n_seen && !known; i++)
				known = addr_eq(&seen[i], &dst);
			FUZZ_CHECK(known);            /* never toward a silent address */
			FUZZ_CHECK(!addr_eq(&dst, &src));
			FUZZ_CHECK(one_network(holders(&src), holders(&dst)));
		}
		dup = false;
		for (size_t i = 0; i < n_seen && !dup; i++)
			dup = addr_eq(&seen[i], &src);
		if (!dup && n_seen < SEEN_MAX) /* 6 IPs x 32 ports: all fit */
			seen[n_seen++] = src;
		relay_stats_get(r, &st);
		FUZZ_CHECK(st.entries <= lim.max_entries && st.sources <= lim.max_sources);
		FUZZ_CHECK(st.hosts <= HOSTS);
	}
	relay_del(r);
	return 0;
}
