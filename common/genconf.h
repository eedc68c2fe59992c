/* A static peer's wg-quick config (a phone: wg-quick or a WireGuard app, no agent), as
 * `wiresyncctl genconf` prints it and the web console shows it: how the config reaches each
 * peer, where the server's relay and hub are, and the text itself. No I/O but the FILE
 * written; the callers gather the records (ctl over the Admin RPCs, the console from the
 * server's own), so both write the same bytes for the same peer.
 *
 * A static config cannot hole-punch and the phone's NAT is unknown, so a peer is reached
 * directly only when a packet sent to it gets in unasked: it shares a LAN with the phone,
 * it is not behind a NAT (its wan_ip is one of its own lan_ips: a public address), or it
 * is a static peer with a fixed endpoint. Any other peer goes through the relay, when the
 * server has one; without one, genconf writes the agent's best guess and says it may fail. */
#ifndef WS_GENCONF_H
#define WS_GENCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/x509.h>

#include "common/cert.h"
#include "common/netaddr.h"
#include "proto/wiresync.pb-c.h"

#define GENCONF_KEEPALIVE_S 25

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

/* What the agent's own endpoint choice (agent/endpoint.c) makes of a peer for the config's
 * owner: genconf_reach fills it (see there). */
struct genconf_reach {
	size_t n;         /* candidates */
	bool first_lan;   /* the first is on the owner's LAN */
	char first[64];   /* the first, "ip:port" / "[v6]:port"; "" none */
	bool keepalive;   /* endpoint_needs_keepalive: not on the owner's LAN */
};

/* How to reach p (is_static: added by AddStaticPeer), given its candidates r and whether
 * the server has a relay. */
void genconf_path_choose(const Wiresync__V1__Peer *p, bool is_static,
    const struct genconf_reach *r, bool have_relay, struct genconf_path *out);

/* p's reach from the config of owner t: endpoint_candidates and endpoint_needs_keepalive
 * with t as "self" (its LAN identity and families; every family when it reports no LAN
 * address). In common/genconf_reach.c, which needs agent/endpoint.o: it is built into
 * the programs that write configs (wiresyncctl, wiresyncd), not into libcommon. */
void genconf_reach(const Wiresync__V1__Peer *t, const Wiresync__V1__Peer *p,
    struct genconf_reach *out);

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

/* One [Peer] of the config: a record whose certificate verified, its key and tunnel
 * addresses from that certificate. */
struct genconf_peer {
	const Wiresync__V1__Peer *rec;       /* name, addresses, listen port */
	bool is_static;
	const uint8_t *key;                  /* WG_KEY_LEN bytes */
	const struct netaddr *allowed;       /* the AllowedIPs */
	size_t n_allowed;
	struct genconf_reach reach;          /* genconf_reach(owner, rec) */
};

/* The whole config of the static peer name. */
struct genconf_config {
	const char *name, *network;
	uint64_t revision;                   /* the store's, for the header comment */
	const struct netaddr *address;       /* the owner's tunnel addresses */
	size_t n_address;
	uint32_t listen_port;                /* 0: none */
	const char *private_key;             /* base64; NULL: a comment in its place */
	const char *relay;                   /* "ip:port" the relayed peers go to; "" none */
	const char *hub;                     /* "ip:port" of the hub; "" none */
	const uint8_t *hub_key;              /* with hub */
	const struct genconf_peer *peers;    /* in the order written */
	size_t n_peers;
};

/* Writes c as wg-quick reads it. 0, or -1 when f reports an error. */
int genconf_write(FILE *f, const struct genconf_config *c);

#endif
