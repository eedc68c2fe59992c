/* A WireGuard interface as wiresync sees it (the agent's, and the server's hub), behind one
 * small interface: the userspace UAPI socket (wireguard-go, boringtun) or the kernel's
 * generic netlink family. */
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
#define WG_ALLOWED_MAX 64     /* allowed IPs per peer, in and out; operators' own peers may have many */
#define WG_PEERS_MAX 65536    /* peers of one interface, in and out */

enum wg_peer_flags {
	WG_PEER_REMOVE = 1 << 0,           /* set: remove this peer */
	WG_PEER_REPLACE_ALLOWED = 1 << 1,  /* set: allowed IPs replace the current ones */
	WG_PEER_HAS_ENDPOINT = 1 << 2,
	WG_PEER_HAS_KEEPALIVE = 1 << 3,
};

struct wg_peer {
	uint8_t key[WG_KEY_LEN];
	uint32_t flags;                    /* for set; get fills HAS_ENDPOINT and HAS_KEEPALIVE
	                                      (the latter whenever the interval is reported,
	                                      keepalive_s 0 meaning off) */
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
	uint8_t public_key[WG_KEY_LEN];    /* get only (join sets a private key apart) */
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
 * or a negative errno: -EINVAL for a bad ifname, -ENODEV when there is no such WireGuard
 * interface (no UAPI socket / no kernel module / not a WireGuard link), -E2BIG when it has
 * more than WG_PEERS_MAX peers or a peer with more than WG_ALLOWED_MAX allowed IPs,
 * -ETIMEDOUT when the daemon or kernel stays silent for 5 s or the exchange takes over 30 s,
 * -EPROTO for a malformed reply. */
int wg_device_get(enum wg_backend b, const char *ifname, struct wg_device **out);

/* Applies the peers of dev (only the peers; keys/port are not touched): each is added or
 * updated, or removed with WG_PEER_REMOVE. Large lists are split over several messages.
 * Returns 0 or a negative errno (-EINVAL for a malformed dev, -E2BIG past the limits above,
 * otherwise as wg_device_get or the errno the daemon/kernel answered). Not atomic: on an
 * error, a prefix of the peers may already be applied. */
int wg_device_set(enum wg_backend b, const struct wg_device *dev);

/* Gives the interface the private key (wiresync-agent join, for an interface that has none;
 * the daemon itself never sets keys). Returns 0 or a negative errno as wg_device_set. */
int wg_device_set_private_key(enum wg_backend b, const char *ifname,
    const uint8_t key[WG_KEY_LEN]);

/* The peer of dev with key; NULL when none (or dev is NULL). Points into dev. */
const struct wg_peer *wg_device_peer(const struct wg_device *dev, const uint8_t key[WG_KEY_LEN]);
/* wp's endpoint copied into ss, which is returned; NULL when wp is NULL or has none. */
const struct sockaddr_storage *wg_peer_endpoint(const struct wg_peer *wp,
    struct sockaddr_storage *ss);

/* Frees dev; accepts NULL. */
void wg_device_free(struct wg_device *dev);

/* --- exposed for tests and fuzzing: the UAPI text protocol ---------------------------- */

/* Parses a "get=1" reply (key=value lines, "errno=N", then an empty line that must end buf).
 * Returns 0 and *out (ifname left empty; the public key is derived from private_key), or:
 * -N for errno=N (wireguard-go writes N negative, the protocol text positive: both read as
 * -|N|); -E2BIG for more than WG_PEERS_MAX peers or more than WG_ALLOWED_MAX allowed IPs in
 * one peer; -ENOMEM; -EPROTO for anything malformed: a line over 1024 bytes, no '=', a key
 * not [a-z0-9_]+, a NUL byte, a key that is not 64 lowercase hex digits, a number out
 * of range or with a sign/leading zero, an endpoint without "host:port" or "[v6]:port", an
 * allowed_ip without "/prefix", protocol_version other than 1, a peer key before the first
 * public_key or a device key after it, an empty line before errno, no final empty line, or
 * bytes after it. Unknown keys of the right syntax are ignored (newer daemons add keys).
 * The detail (with the bad value quoted, never a private key) goes to log_warnx. */
int wg_uapi_parse_get(const char *buf, size_t len, struct wg_device **out);
/* Writes the "set=1" request for dev (from "set=1\n" to the final empty line) into a
 * malloc'd NUL-terminated string. 0, -EINVAL (an endpoint or allowed IP that is neither v4
 * nor v6, n_allowed over WG_ALLOWED_MAX), -E2BIG (more than WG_PEERS_MAX peers) or -ENOMEM. */
int wg_uapi_format_set(const struct wg_device *dev, char **out);
/* Parses the reply to a set: exactly "errno=N\n\n" (N may carry a '-'). Returns -|N| (0 for
 * success), or -EPROTO. */
int wg_uapi_parse_errno(const char *buf, size_t len);

/* The UAPI backend itself, behind wg_device_get/set: talks to <dir>/<ifname>.sock (ifname
 * checked by the caller). Same returns as wg_device_get/wg_device_set; a set of zero peers
 * returns 0 without connecting. */
int wg_uapi_get(const char *dir, const char *ifname, struct wg_device **out);
int wg_uapi_set(const char *dir, const struct wg_device *dev);
int wg_uapi_set_private_key(const char *dir, const char *ifname, const uint8_t key[WG_KEY_LEN]);

#endif
