/* Test helper for the check_wg_* suites: WireGuard keys and the wg_device/wg_peer
 * builders and comparisons that the UAPI, kernel and live tests all use. */
#ifndef WS_WGTEST_H
#define WS_WGTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wg/wg.h"

/* A real pair (wg genkey | wg pubkey) and two peer public keys, in UAPI hex. */
#define PRIV "a8b86411b5892ed4dc618585892a80def9440c921c701d0b0a016ac6f689a169"
#define PUB "1bc26d99654e189756af81f1f7bb07f518c44669836a10104c0c0bd469924c19"
#define K1 "c048f4decc27276e730a5055f74ee13b29b40df548d9a6802f7face5f903423e"
#define K2 "23304af7117e8e94793a7421fe947993f45cdb5e67f75c4fa37fda7330bb4965"
#define ZERO "0000000000000000000000000000000000000000000000000000000000000000"

void wgt_hex_key(const char *hex, uint8_t key[WG_KEY_LEN]);
/* Appends allowed IP s (CIDR text) to p. */
void wgt_add_ip(struct wg_peer *p, const char *s);
void wgt_set_endpoint(struct wg_peer *p, const char *ip, uint16_t port);
/* "1.2.3.4:5", "[::1]:5" or "(none)", in buf. */
char *wgt_endpoint_str(const struct wg_peer *p, char *buf, size_t len);
/* A device named ifname with n zeroed peers; wg_device_free frees it. */
struct wg_device *wgt_dev_new(const char *ifname, size_t n);
bool wgt_allowed_has(const struct wg_peer *p, const char *s);

#endif
