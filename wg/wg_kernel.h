/* The kernel backend's insides, private to wg/wg*.c and the tests: WireGuard generic
 * netlink messages built and parsed without a socket, so they can be tested where the
 * kernel module is missing. */
#ifndef WS_WG_KERNEL_H
#define WS_WG_KERNEL_H

#include <stddef.h>

#include <linux/netlink.h>
#include <netlink/msg.h>

#include "wg/wg.h"

#define WG_NL_MSG_MAX 8192      /* size budget of one WG_CMD_SET_DEVICE request */
#define WG_NL_MSG_MIN 256
#define WG_NL_MSG_LIMIT 32768   /* nests hold at most 64 KiB; the kernel takes 32 KiB */

/* The backend behind wg_device_get/wg_device_set; same returns. */
int wg_kernel_get(const char *ifname, struct wg_device **out);
int wg_kernel_set(const struct wg_device *dev);
int wg_kernel_set_private_key(const char *ifname, const uint8_t key[WG_KEY_LEN]);

/* Builds the WG_CMD_SET_DEVICE requests (NLM_F_REQUEST|NLM_F_ACK, port and sequence left
 * to nl_send_auto) that apply dev's peers, for generic netlink family id family, each at
 * most msg_max bytes (WG_NL_MSG_MIN..WG_NL_MSG_LIMIT). A message that fills up is closed and
 * the next resumes where it stopped: at the next peer, or inside a peer's allowed IPs, with
 * that peer's key repeated and no flags, endpoint or keepalive (so REPLACE_ALLOWEDIPS
 * applies once, before the first of them). Returns 0 and *msgs, *n_msgs (free with
 * wg_kernel_msgs_free; zero messages for zero peers), -EINVAL (msg_max out of range, a bad
 * ifname, endpoint or allowed IP family, n_allowed over WG_ALLOWED_MAX), -E2BIG (more than
 * WG_PEERS_MAX peers) or -ENOMEM. */
int wg_kernel_build_set(int family, const struct wg_device *dev, size_t msg_max,
    struct nl_msg ***msgs, size_t *n_msgs);
/* Frees the n messages and the array; accepts NULL. */
void wg_kernel_msgs_free(struct nl_msg **msgs, size_t n);

/* Parses one WireGuard message (a WG_CMD_GET_DEVICE dump part, or a WG_CMD_SET_DEVICE
 * request) into dev: ifname, public key and listen port when present, then its peers,
 * appended; a peer with the same key as dev's last peer continues it (allowed IPs
 * appended, flags ORed), which reassembles split peers. WGPEER_A_FLAGS are read back as
 * WG_PEER_REMOVE/WG_PEER_REPLACE_ALLOWED. A private key attribute is wiped in place, never
 * kept. dev must come from calloc and have its peers grown only by this function (the array
 * grows by doubling). Returns 0, -EPROTO (malformed: a missing or wrong-length key,
 * endpoint, address, family or prefix), -E2BIG (more than WG_PEERS_MAX peers or
 * WG_ALLOWED_MAX allowed IPs in one peer) or -ENOMEM; on error dev holds what was read and
 * is still freed with wg_device_free. */
int wg_kernel_parse(struct nlmsghdr *nlh, struct wg_device *dev);

#endif
