/* Peer records as wire messages, encoded once into framed buffers that many streams share. */
#ifndef WS_PEERPB_H
#define WS_PEERPB_H

#include <stdbool.h>
#include <stdint.h>

#include "rpc/h2server.h"
#include "server/peers.h"

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
