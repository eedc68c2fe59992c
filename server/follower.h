/* The log follower: the one way a change reaches a watcher. It holds the last revision it
 * applied and, when its doorbell rings (after a commit of this server, or a shared store's
 * notification of any server's commit), reads the change log after that revision and hands
 * each committed change to the fan-out in revision order: a record current at its
 * revision, or a removal. On a shared store the read brings the records too, and the
 * follower imports them into the table before it plans. The
 * doorbell carries nothing: the log is the truth, so a missed ring is caught up by the
 * next, and a read that fails is tried again a second later. */
#ifndef WS_FOLLOWER_H
#define WS_FOLLOWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc/loop.h"
#include "server/peers.h"
#include "server/store.h"

/* What the fan-out is told. */
struct follower_sink {
	/* p changed at p->revision: its watchers get it */
	void (*upsert)(void *arg, const struct peer *p);
	/* the peer key of network was removed at revision */
	void (*removed)(void *arg, const uint8_t key[WG_KEY_LEN], const char *network,
	    uint64_t revision);
	/* changes were lost to the follower (the log was pruned past what it applied): every
	 * watcher must catch up from its own cursor (a snapshot where the log no longer
	 * covers it) */
	void (*resync)(void *arg);
	/* a reading is done (applied: where the follower is now); NULL: not told */
	void (*advanced)(void *arg, uint64_t applied);
	void *arg;
};

struct follower;

/* A follower that has applied every revision up to applied (the store's at start: what
 * the log held before was announced by whoever committed it). NULL on ENOMEM. */
struct follower *follower_new(struct loop *l, struct store *st, struct peer_table *peers,
    const struct follower_sink *sink, uint64_t applied);
/* Accepts NULL. */
void follower_del(struct follower *f);
/* The doorbell: something may have been committed. Reads and applies the log at once. */
void follower_ring(struct follower *f);
/* The last revision handed to the fan-out. */
uint64_t follower_applied(const struct follower *f);
/* A batch is in the store's hands (held true) or back (false): the follower neither reads
 * nor imports meanwhile, as the batch's records are in the table under numbers the store
 * may still change; a ring meanwhile reads after. */
void follower_hold(struct follower *f, bool held);
/* A read is in the store's hands: the records it brings will be imported into the table,
 * so no batch may start (the sink's advanced says when it is done). */
bool follower_busy(const struct follower *f);

/* --- the decision, without I/O (test/check_follower.c) ------------------------------- */

enum follow_what {
	FOLLOW_UPSERT,      /* the record in the table is current at this row: send it */
	FOLLOW_REMOVED,     /* the row removed the peer: send the removal */
	FOLLOW_SUPERSEDED,  /* a later row changed or removed the peer: that row sends it */
};

struct follow_step {
	enum follow_what what;
	const struct store_change *row;
	const struct peer *p;           /* FOLLOW_UPSERT: the record to send */
};

/* Plans rows[0..n) (revision order, as the log returns them) for a follower that applied
 * everything up to applied, against the committed table peers: one step per row after
 * applied, in order, into steps (room for n). Rows at or below applied are dropped (never
 * twice). *gap is set when the first row does not follow applied or two rows are not
 * consecutive: changes were lost. Returns the number of steps. */
size_t follower_plan(uint64_t applied, const struct store_change *rows, size_t n,
    const struct peer_table *peers, struct follow_step *steps, bool *gap);

#endif
