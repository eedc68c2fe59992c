/* Records the agent refused, the last of each peer, kept to be verified again whenever
 * the CRLs in use change: a peer refused for a CRL reason comes back as soon as a CRL lets
 * it, without waiting for the server to send its record again. */
#ifndef WS_REFUSED_H
#define WS_REFUSED_H

#include <stddef.h>
#include <stdint.h>

#include "proto/wiresync.pb-c.h"

#define REFUSED_MAX 4096             /* records kept; past it an earlier one goes */

/* Why a record is held aside: the link report says "not paired by policy" for the second. */
enum refused_why {
	REFUSED_UNVERIFIED,          /* certificate, CRL or tunnel addresses */
	REFUSED_POLICY,              /* verified, but the pairing policy does not pair us */
};

struct refused_set {
	Wiresync__V1__Peer **recs;          /* owned copies */
	enum refused_why *why;              /* recs[i]'s */
	size_t n, cap;
};

/* Keeps a copy of p, refused for why, in place of an earlier record with its public key.
 * 0 or -ENOMEM. */
int refused_put(struct refused_set *s, const Wiresync__V1__Peer *p, enum refused_why why);
/* Forgets the record of key (len bytes); nothing when there is none. */
void refused_forget(struct refused_set *s, const uint8_t *key, size_t len);
/* Removes the i-th record and returns it (the caller frees it with
 * wiresync__v1__peer__free_unpacked); the last record (and its why) takes its place. */
Wiresync__V1__Peer *refused_take(struct refused_set *s, size_t i);
/* Forgets every record and frees the storage; the set can be used again. */
void refused_clear(struct refused_set *s);

/* A deep copy of p (wiresync__v1__peer__free_unpacked), or NULL on ENOMEM. */
Wiresync__V1__Peer *refused_peer_copy(const Wiresync__V1__Peer *p);

#endif
