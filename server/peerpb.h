/* Peer records as wire messages, encoded once into framed buffers that many streams share. */
#ifndef WS_PEERPB_H
#define WS_PEERPB_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/wiresync.pb-c.h"
#include "rpc/h2server.h"
#include "server/peers.h"

/* A record as a wiresync.v1.Peer whose strings and chain point into the view and into p:
 * valid while both live. */
struct peerpb_view {
	Wiresync__V1__Peer m;
	char *tunnel_ptr[CERT_TUNNEL_MAX], *lan_ptr[PEER_LAN_MAX];
	char tunnel[CERT_TUNNEL_MAX][NETADDR_STRLEN];
	char lan[PEER_LAN_MAX][NETADDR_STRLEN];
	char wan[NETADDR_STRLEN];
	ProtobufCBinaryData chain[PEER_CHAIN_MAX];
};

/* Fills v from p (the chain split into its certificates; one that no longer splits is left
 * out, so agents refuse the record rather than trust half of it). */
void peerpb_view_init(struct peerpb_view *v, const struct peer *p);

/* A framed wiresync.v1.Peer. NULL on ENOMEM. The caller owns the reference. */
struct rpc_buf *peerpb_peer(const struct peer *p);

/* A framed WatchEvent{revision = p->revision, upsert = p}. NULL on ENOMEM. */
struct rpc_buf *peerpb_event_upsert(const struct peer *p);

/* A framed WatchEvent{revision, removed_key = key}. NULL on ENOMEM. */
struct rpc_buf *peerpb_event_removed(const uint8_t key[WG_KEY_LEN], uint64_t revision);

/* A framed WatchEvent{revision, crl = der}. NULL on ENOMEM. */
struct rpc_buf *peerpb_event_crl(const uint8_t *der, size_t len, uint64_t revision);

/* A framed WatchEvent{revision, snapshot = every peer of network but exclude (may be
 * NULL) for which keep (NULL: all) says true}. NULL on ENOMEM. */
struct rpc_buf *peerpb_event_snapshot(const struct peer_table *t, const char *network,
    const uint8_t *exclude, bool (*keep)(const struct peer *p, void *arg), void *keep_arg,
    uint64_t revision);

/* A framed WatchEvent{revision, policy = der}. NULL on ENOMEM. */
struct rpc_buf *peerpb_event_policy(const uint8_t *der, size_t len, uint64_t revision);

#endif
