/* The service's private parts, shared by service.c (lifecycle), admission.c (connections),
 * update.c (Update and the store), reads.c (Keys, GetPeer, Health), janitor.c (CRL and
 * expiry sweeps), fanout.c (Watch streams, fan-out, presence) and retry.c; follower.c feeds
 * fan-out from the change log. Not for other modules. */
#ifndef WS_SERVICE_IMPL_H
#define WS_SERVICE_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "common/cert.h"
#include "rpc/h2server.h"
#include "rpc/loop.h"
#include "server/enroll.h"
#include "server/follower.h"
#include "server/idcount.h"
#include "server/ratelimit.h"
#include "server/peers.h"
#include "server/service.h"
#include "server/store.h"
#include "server/validate.h"

enum { M_UPDATE, M_KEYS, M_GETPEER, M_WATCH, M_HEALTH, M_RENEW, M_REPORT_LINKS, N_METHODS };

/* One TLS connection's identity, parsed once at the handshake. */
struct agent_conn {
	struct service *svc;
	struct rpc_conn *rc;
	struct agent_conn *prev, *next;
	struct cert_identity id;
	uint8_t ident[IDCOUNT_KEY_LEN]; /* WireGuard key, or the certificate's SHA-256 */
	struct netaddr wan;          /* source address of the connection */
	int64_t opened_s;            /* wall clock, for crl_stale = refuse */
	STACK_OF(X509) *chain;       /* the intermediates the handshake verified (an online
	                              * issuer), leaf's issuer first; NULL when none */
};

enum change_kind { CHANGE_UPDATE, CHANGE_PRESENCE, CHANGE_REMOVE, CHANGE_PUT, CHANGE_OBSERVED };

struct change;
/* Runs after the batch of c committed (ok) or rolled back, before c is freed (admin.c,
 * admin_ops.c). */
typedef void (*change_done_fn)(struct change *c, bool ok, void *arg);

/* One queued change to the store; all changes of a loop turn share one transaction. */
struct change {
	struct change *next;
	enum change_kind kind;
	struct rpc_call *call;       /* UPDATE: NULL once cancelled */
	struct agent_conn *ac;       /* UPDATE */
	struct update_fields f;      /* UPDATE */
	uint8_t key[WG_KEY_LEN];     /* PRESENCE, REMOVE, OBSERVED */
	char endpoint[PEER_ENDPOINT_MAX]; /* OBSERVED: the new observed_endpoint */
	bool online;                 /* PRESENCE */
	bool changed;
	bool solo;                   /* written alone: its batch was refused by the database */
	struct change *undo_next;
	uint64_t revision;           /* REMOVE: the revision of the removal */
	struct peer *old;            /* replaced or removed record, kept until commit */
	struct peer *cur;            /* record after this change (NULL for REMOVE) */
	struct peer *put;            /* PUT: the whole new record, owned until applied */
	char refused[400];           /* UPDATE: FAILED_PRECONDITION message, or "" */
	uint64_t recv_ns;            /* UPDATE: when the request arrived, for metrics */
	change_done_fn done;         /* optional */
	void *done_arg;
};

struct net;

/* One Watch stream: where it is in the revision sequence, and nothing more. */
struct watcher {
	struct watcher *prev, *next;
	struct rpc_call *call;
	struct agent_conn *ac;
	struct net *net;
	uint64_t cursor;             /* last revision considered for this stream */
	bool lagging;                /* backed up: replay from cursor once drained */
	bool crl_pending;            /* a new CRL came while lagging: send it on catch-up */
	bool policy_pending;         /* a new policy came while lagging: it and a snapshot */
	bool parked;                 /* waits for a batch in flight (svc->parked, by next) */
	uint64_t since;              /* what it asked for, until it starts */
	int64_t count;               /* its identity's streams when it came */
	uint8_t held[32], held_policy[32];
	size_t held_len, held_policy_len;
};

/* The watchers of one network: a change costs O(watchers of its network). */
struct net {
	struct net *next;
	char name[CERT_NAME_MAX + 1];
	struct watcher *watchers;
	size_t n_watchers;
};

struct offline {
	struct offline *next;
	uint64_t when_ms;
	uint8_t key[WG_KEY_LEN];
};

struct service {
	struct loop *loop;
	struct store *store;
	struct peer_table *peers;
	uint64_t revision;
	struct rpc_method methods[N_METHODS];
	struct enroll_gate renew_gate;       /* Renew keeps requests: server/enroll.h */
	struct service_config cfg;
	struct change *pending, **pending_tail;
	struct loop_defer commit_defer;
	struct change *batch;        /* in the store's hands (store_write); NULL: none */
	struct watcher *parked;      /* Watch streams that came meanwhile (fanout.c) */
	struct parked_read *reads, **reads_tail; /* ... and reads (reads.c) */
	struct audit_held *audit_held; /* records of a decision not yet committed (audit.h) */
	uint64_t batch_t0;
	struct store_write_change *writes; /* the batch's, pointing into its records */
	size_t n_writes, cap_writes;
	bool commit_after_follow;    /* a batch waits for the follower's import */
	struct net *nets;
	size_t n_watchers;
	struct idcount *watches;     /* open Watch streams per identity */
	struct idcount *conns_per_id; /* open connections per identity */
	struct ratelimit *update_rate; /* Update token buckets per identity; NULL: no limit */
	struct offline *offline_head, **offline_tail;
	struct loop_timer offline_timer, restart_timer;
	struct agent_conn *conns;
	struct metrics *metrics;     /* NULL: not measured */
	uint64_t commit_ns;          /* when the batch being announced committed */
	struct crlset *crls;         /* in force (NULL: none); resumed sessions skip the
	                              * handshake's check, and agents get their CA's CRL */
	struct policyset *policies;  /* pairing policies in force (NULL: none) */
	struct change *retry_head, **retry_tail; /* rolled back, nobody waiting: retry.c */
	struct loop_timer retry_timer;
	uint32_t retry_ms;           /* the delay of the last retry; 0: none failed */
	struct idcount *retry_presence; /* hosts with a presence change in the retry list */
	char relay_endpoint[80];     /* UpdateReply.relay_endpoint; "" none */
	uint16_t hub_port;           /* UpdateReply.hub_port; 0 none */
	const struct issuer *issuer; /* service_set_issuer; NULL none */
	struct {
		service_commit_fn fn;
		void *arg;
	} on_commit[SERVICE_COMMIT_HOOKS]; /* service_on_commit */
	size_t n_on_commit;
	struct enroll *enroll;       /* renew.c: where renewals wait (service_set_enroll) */
	struct links *links;         /* links.c: link health (issue 16) */
	struct follower *follower;   /* feeds the watchers from the change log: rung after
	                              * every commit that changed the peers */
};

/* service.c: packs m and replies with it, or fails the call (RESOURCE_EXHAUSTED). */
void svc_reply_message(struct rpc_call *call, const ProtobufCMessage *m);

/* update.c */
void svc_change_queue(struct service *svc, struct change *c);
/* The follower finished importing: a batch that waited for it goes now. */
void service_commit_resume(struct service *svc);
void svc_handle_update(struct rpc_call *call, const uint8_t *req, size_t len, void *arg);

/* reads.c */
void svc_handle_keys(struct rpc_call *call, const uint8_t *req, size_t len, void *arg);
void svc_handle_getpeer(struct rpc_call *call, const uint8_t *req, size_t len, void *arg);
void svc_handle_health(struct rpc_call *call, const uint8_t *req, size_t len, void *arg);

/* renew.c */
void svc_handle_renew(struct rpc_call *call, const uint8_t *req, size_t len, void *arg);

/* retry.c: after a failed batch, takes c (a presence change, or a removal nobody waits
 * for) into the retry list and returns true; false: the caller frees c as usual. */
bool svc_retry_take(struct service *svc, struct change *c);
/* After a failed batch: arms the retry of what svc_retry_take kept. */
void svc_retry_schedule(struct service *svc);
/* After a batch that committed: the delay starts again, and kept changes go at once. */
void svc_retry_reset(struct service *svc);
/* Frees the retry list (service_del). */
void svc_retry_free(struct service *svc);

/* fanout.c */
void watch_handle(struct rpc_call *call, const uint8_t *req, size_t len, void *arg);
void watch_broadcast_upsert(struct service *svc, const struct peer *p);
/* The follower's sink (service.c binds them): the removal of key from network at
 * revision ends key's own streams too. */
void watch_broadcast_removed(struct service *svc, const uint8_t key[WG_KEY_LEN],
    const char *network, uint64_t revision);
/* Changes were lost to the follower: every stream catches up from its cursor. */
void watch_catch_up_all(struct service *svc);
void watch_presence_queue(struct service *svc, const uint8_t key[WG_KEY_LEN], bool online);
void watch_restart_grace_over(void *arg);
/* Sends each watcher the CRLs of its network in svc->crls, where they differ from old's. */
struct crlset;
void watch_broadcast_crl(struct service *svc, const struct crlset *old);
/* Ends every watcher without presence changes and frees the per-network lists. */
void watch_free_all(struct service *svc);
/* fanout.c: the Watch streams that came while a batch was in flight start now, from the
 * table as committed (or as it was, the batch undone). */
void watch_unpark_all(struct service *svc);
/* reads.c: a read that comes while a batch is in a shared store's hands waits for its
 * answer, as a Watch does, so that nobody reads a record that may yet be rolled back.
 * True: parked, and fn(call, req, len, arg) runs from svc_reads_unpark_all (req copied);
 * false: run it now. */
bool svc_read_park(struct service *svc, struct rpc_call *call, const uint8_t *req,
    size_t len, rpc_handler_fn fn, void *arg);
void svc_reads_unpark_all(struct service *svc);
/* At exit: the parked reads freed, their calls left to the server's teardown. */
void svc_reads_free_all(struct service *svc);
/* Brings w from its cursor to the current revision (a snapshot when since is 0, or older
 * than the log). 0 or -ENOMEM. */
int watch_replay(struct service *svc, struct watcher *w, uint64_t since);

/* fanout_policy.c */
/* Whether w's host may see p under the policies in force. */
bool watch_visible(const struct service *svc, const struct watcher *w, const struct peer *p);
/* Queues the policy of w's network unless held (held_len bytes, may be 0) is its SHA-256,
 * or the network has none. 0 or -ENOMEM. */
int watch_send_policy(struct service *svc, struct watcher *w, const uint8_t *held,
    size_t held_len);
/* Whether a host holding the policy whose SHA-256 is held (held_len 0: none) must start
 * from a snapshot: it differs from its network's, so what it was shown may too. */
bool watch_policy_stale(const struct service *svc, const char *network, const uint8_t *held,
    size_t held_len);
/* After svc->policies replaced old: each watcher of a network whose policy changed gets
 * the policy and, when what it may see changed, a snapshot. */
void watch_broadcast_policy(struct service *svc, const struct policyset *old);

#endif
