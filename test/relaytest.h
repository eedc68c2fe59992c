/* Helpers of the relay suites (check_relay.c, check_relay_refuse.c): WireGuard-shaped
 * messages with a real MAC1, and a relay with three hosts. */
#ifndef WS_TEST_RELAYTEST_H
#define WS_TEST_RELAYTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/relay.h"

/* MAC1 key and MAC1 straight from OpenSSL (BLAKE2s-256, BLAKE2SMAC-128), not relay.c. */
void t_mac1_key(const uint8_t pub[32], uint8_t out[32]);
void t_mac1(const uint8_t pub[32], const uint8_t *msg, size_t off, uint8_t out[16]);
/* Host n's (made-up) public key. */
void key_of(int n, uint8_t key[32]);
struct relay_addr A4(const char *ip, uint16_t port);
/* An initiation from sender index to host resp; a response to host init; data or a cookie
 * reply (type) of len bytes. */
void mk_init(uint8_t m[RELAY_INITIATION_LEN], uint32_t sender, int resp);
void mk_resp(uint8_t m[RELAY_RESPONSE_LEN], uint32_t sender, uint32_t receiver, int init);
size_t mk_data(uint8_t *m, uint8_t type, uint32_t receiver, size_t len);
/* A relay with hosts 1 (10.0.0.1), 2 (10.0.0.2) and 3 (10.0.0.3) in network "n". */
struct relay *world(const struct relay_limits *lim);
enum relay_verdict send_init(struct relay *r, const struct relay_addr *src, uint32_t sender,
    int resp, uint64_t now, struct relay_addr *dst);
enum relay_verdict send_resp(struct relay *r, const struct relay_addr *src, uint32_t sender,
    uint32_t receiver, int init, uint64_t now, struct relay_addr *dst);
enum relay_verdict send_data(struct relay *r, const struct relay_addr *src, uint32_t receiver,
    uint64_t now, struct relay_addr *dst);
bool same(const struct relay_addr *a, const struct relay_addr *b);
/* Host 2 at a2 reaches the relay first, 1 at a1 initiates (index 0x1111), 2 responds
 * (0x2222), both send data: asserted to pass. */
void session(struct relay *r, const struct relay_addr *a1, const struct relay_addr *a2,
    uint64_t now);

#endif
