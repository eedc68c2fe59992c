/* genconf's choice of how a static config (a phone: wg-quick or a WireGuard app, no agent)
 * reaches each peer, and where the server's relay and hub are. No I/O.
 *
 * A static config cannot hole-punch and the phone's NAT is unknown, so a peer is reached
 * directly only when a packet sent to it gets in unasked: it shares a LAN with the phone,
 * it is not behind a NAT (its wan_ip is one of its own lan_ips: a public address), or it
 * is a static peer with a fixed endpoint. Any other peer goes through the relay, when the
 * server has one; without one, genconf writes the agent's best guess and says it may fail. */
#ifndef WS_GENCONF_PATH_H
#define WS_GENCONF_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "agent/endpoint.h"
#include "common/cert.h"
#include "proto/wiresync.pb-c.h"

enum genconf_via {
	GENCONF_DIRECT,   /* Endpoint = the first candidate */
	GENCONF_RELAY,    /* Endpoint = the relay */
	GENCONF_GUESS,    /* no relay: the first candidate, which may not get through */
	GENCONF_NONE,     /* no relay and no candidate: no Endpoint (the peer must call in) */
};

struct genconf_path {
	enum genconf_via via;
	const char *why;  /* static text for the config's comment: "is behind NAT", ... */
};

/* How to reach p (is_static: added by AddStaticPeer), given its candidates eps (as
 * endpoint_candidates ordered them for the phone) and whether the server has a relay. */
void genconf_path_choose(const Wiresync__V1__Peer *p, bool is_static,
    const struct endpoint_list *eps, bool have_relay, struct genconf_path *out);

/* "HOST:PORT" of port at the host of server (ctl's `server`, "HOST:PORT" or "[V6]:PORT")
 * into out. 0, or -1 when server has no host or out is too short. */
int genconf_at_server(const char *server, uint32_t port, char *out, size_t len);

/* The relay as Status gave it ("ip:port", "[v6]:port") with an unspecified address
 * (0.0.0.0, ::) replaced by server's host: where the phone sends. 0, or -1 when relay is
 * malformed or out too short. */
int genconf_relay_target(const char *relay, const char *server, char *out, size_t len);

/* The server's hub as a static config reaches it: the key the server certificate x binds
 * (cert_hub_key) into key and "HOST:PORT" (server's host, hub_port) into at. 1: a hub;
 * 0: none (hub_port 0); -1: it cannot be used, why says so (x NULL, no key bound, a
 * malformed certificate, server without a host). */
int genconf_hub(X509 *x, uint32_t hub_port, const char *server, uint8_t key[WG_KEY_LEN],
    char *at, size_t atlen, char *why, size_t whylen);

#endif
