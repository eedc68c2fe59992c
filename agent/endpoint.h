/* Which addresses to reach a peer at, in order of preference, and what kind each is (the
 * walk over them is agent/peerpath.c). No I/O. */
#ifndef WS_ENDPOINT_H
#define WS_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "agent/peerpath.h"
#include "proto/wiresync.pb-c.h"

#define ENDPOINT_MAX 12

struct endpoint_list {
	size_t n;
	struct sockaddr_storage addr[ENDPOINT_MAX];
	bool lan[ENDPOINT_MAX];     /* reached directly on our shared LAN */
	enum peerpath_kind kind[ENDPOINT_MAX]; /* LAN address, observed_endpoint or WAN guess */
};

/* What we know of ourselves when choosing. */
struct endpoint_self {
	const uint8_t *lan_id;      /* our gateway's MAC; NULL/0 when we have no LAN */
	size_t lan_id_len;
	bool has_v6;                /* we have a global IPv6 address */
	bool has_v4;
	const char *wan_ip;         /* our address as the server sees it; NULL/"" unknown */
};

/* The candidates for p in order of preference: on the same LAN (equal non-empty lan_id, or
 * the same public address, i.e. behind the same NAT, whose hairpin path rarely works),
 * each LAN address with the peer's listen port (IPv6 first when both ends have it); then
 * observed_endpoint; then wan_ip with the listen port. Unparsable or duplicate entries are
 * skipped; addresses of a family we lack go last. */
void endpoint_candidates(const Wiresync__V1__Peer *p, const struct endpoint_self *self,
    struct endpoint_list *out);

/* True when the peer is not on our LAN and so needs persistent keepalive through NAT. */
bool endpoint_needs_keepalive(const Wiresync__V1__Peer *p, const struct endpoint_self *self);

/* "ip:port" or "[v6]:port" (numeric, port 1..65535) into ss; false when it is not one. */
bool endpoint_parse(const char *s, struct sockaddr_storage *ss);

/* "1.2.3.4:51820" or "[fd00::1]:51820" into buf (64 bytes). */
char *endpoint_format(const struct sockaddr_storage *ss, char *buf, size_t len);

#endif
