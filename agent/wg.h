/* The WireGuard interface as the agent sees it, behind one small interface: the userspace
 * UAPI socket (wireguard-go, boringtun) or the kernel's generic netlink family. */
#ifndef WS_WG_H
#define WS_WG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "common/cert.h"
#include "common/netaddr.h"

#define WG_IFNAME_MAX 16      /* IFNAMSIZ */
#define WG_ALLOWED_MAX 16

enum wg_peer_flags {
	WG_PEER_REMOVE = 1 << 0,           /* set: remove this peer */
	WG_PEER_REPLACE_ALLOWED = 1 << 1,  /* set: allowed IPs replace the current ones */
	WG_PEER_HAS_ENDPOINT = 1 << 2,
	WG_PEER_HAS_KEEPALIVE = 1 << 3,
};

struct wg_peer {
	uint8_t key[WG_KEY_LEN];
	uint32_t flags;                    /* for set; get fills HAS_ENDPOINT/HAS_KEEPALIVE */
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} endpoint;
	uint16_t keepalive_s;              /* 0: off */
	size_t n_allowed;
	struct netaddr allowed[WG_ALLOWED_MAX];
	int64_t last_handshake_s;          /* get: seconds since the epoch, 0 never */
	uint64_t rx_bytes, tx_bytes;       /* get */
};

struct wg_device {
	char ifname[WG_IFNAME_MAX];
	bool has_public_key;
	uint8_t public_key[WG_KEY_LEN];    /* get only: the agent never sets keys */
	uint16_t listen_port;              /* get only */
	size_t n_peers;
	struct wg_peer *peers;             /* malloc'd array */
};

enum wg_backend { WG_BACKEND_AUTO, WG_BACKEND_UAPI, WG_BACKEND_KERNEL };

/* Directory of UAPI sockets; tests point it elsewhere. Default /var/run/wireguard. */
void wg_set_uapi_dir(const char *dir);

/* Which backend serves ifname: the UAPI socket if <dir>/<ifname>.sock exists, else the
 * kernel. */
enum wg_backend wg_backend_detect(const char *ifname);
const char *wg_backend_name(enum wg_backend b);

/* Reads the interface: public key, listen port, peers. Returns 0 and *out (wg_device_free)
 * or a negative errno (-ENODEV: no such WireGuard interface). */
int wg_device_get(enum wg_backend b, const char *ifname, struct wg_device **out);

/* Applies the peers of dev (only the peers; keys/port are not touched): each is added or
 * updated, or removed with WG_PEER_REMOVE. Large lists are split over several messages.
 * Returns 0 or a negative errno. */
int wg_device_set(enum wg_backend b, const struct wg_device *dev);

/* Frees dev; accepts NULL. */
void wg_device_free(struct wg_device *dev);

/* --- exposed for tests and fuzzing: the UAPI text protocol ---------------------------- */

/* Parses a "get=1" reply (key=value lines ending with an empty line and errno=N). Returns
 * 0 and *out, -EPROTO for malformed text, or -N for errno=N. */
int wg_uapi_parse_get(const char *buf, size_t len, struct wg_device **out);
/* Writes the "set=1" request for dev into a malloc'd NUL-terminated string. 0 or -ENOMEM. */
int wg_uapi_format_set(const struct wg_device *dev, char **out);
/* Parses the reply to a set: "errno=N\n\n". Returns -N, or -EPROTO. */
int wg_uapi_parse_errno(const char *buf, size_t len);

#endif
