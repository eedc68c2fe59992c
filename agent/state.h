/* What the agent keeps in state_dir across restarts: the peers it added to the interface
 * (never touch others), and the verified peer set with its revision (to resume Watch).
 * Files are written to a temporary name, synced and renamed: a crash never leaves half. */
#ifndef WS_STATE_H
#define WS_STATE_H

#include <stdint.h>

#include "agent/reconcile.h"
#include "proto/wiresync.pb-c.h"

/* Adds the keys listed in path (base64, one per line) to owned. Returns how many, 0 when
 * the file does not exist, or -errno. Lines that are not keys are skipped and logged. */
int state_owned_load(const char *path, struct owned_keys *owned);
/* Writes owned to path. 0 or -errno (logged). */
int state_owned_save(const char *path, const struct owned_keys *owned);

/* Writes the revision and the records (packed wiresync.v1.Peer) to path. 0 or -errno. */
int state_watch_save(const char *path, uint64_t revision, Wiresync__V1__Peer *const *recs,
    size_t n);
/* Calls fn for every saved record and returns the saved revision; 0 when there is no
 * file; -EPROTO when it is damaged (fn may have run for some records). */
int64_t state_watch_load(const char *path, void (*fn)(void *arg, const Wiresync__V1__Peer *p),
    void *arg);

/* A blob kept across restarts, written atomically: the newest CRL seen (DER), the newest
 * policy.cms, so a restart cannot be talked into an older one. */
int state_blob_save(const char *path, const uint8_t *der, size_t len);
/* Reads it into *der (free) and *len; 0, -ENOENT when there is none, or -errno. */
int state_blob_load(const char *path, uint8_t **der, size_t *len);

#endif
