/* The agent's private parts, shared by agent.c (life, the peers it knows, reconciliation,
 * --show), agent_crl.c (revocation and expiry warnings) and agent_update.c (reporting, the
 * Watch connection, network changes). Not for other modules. */
#ifndef WS_AGENT_IMPL_H
#define WS_AGENT_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/ssl.h>

#include "agent/agent.h"
#include "agent/endpoint.h"
#include "agent/netmon.h"
#include "agent/peerpath.h"
#include "agent/reconcile.h"
#include "agent/policyhold.h"
#include "agent/refusal.h"
#include "agent/refused.h"
#include "agent/serverlist.h"
#include "agent/state.h"
#include "agent/verify.h"
#include "wg/wg.h"
#include "common/cert.h"
#include "common/netaddr.h"
#include "common/watch.h"
#include "proto/wiresync.pb-c.h"
#include "rpc/backoff.h"
#include "rpc/h2client.h"
#include "rpc/loop.h"

#define RECONCILE_DELAY_MS 50
#define UPDATE_TIMEOUT_MS 10000
#define TRIAL_CHECK_MS 1000          /* while an endpoint is on trial or probed */

/* A peer as the Watch stream describes it, once verified. */
struct known {
	Wiresync__V1__Peer *rec;            /* owned copy */
	struct cert_identity id;
	struct endpoint_list cands;
	uint64_t list_gen;                  /* bumped when cands changes */
	struct peerpath pp;                 /* its path (agent/peerpath.h); conf 0: not set up */
	int choice;                         /* the last step's choice (PEERPATH_CHOICE_...) */
	bool confirmed;                     /* the last step found the path working */
	const char *reason;                 /* the path for --show; NULL none */
	const char *step_reason;            /* the last step's out.reason, for the logs */
	struct sockaddr_storage last_actual; /* the interface's endpoint at the last step; 0 none */
	bool read_once;                     /* last_actual is known */
	char rule[160];                     /* the policy rule that pairs us, for --show */
};

/* The server's hub interface as a peer of ours (from UpdateReply.hub_port). */
struct hub {
	bool on;
	uint8_t key[WG_KEY_LEN];
	struct sockaddr_storage endpoint;
	bool collides;                      /* its key is a known peer's: never added */
};

struct agent {
	struct loop *loop;
	const struct agentconf *conf;
	SSL_CTX *ctx;
	enum wg_backend backend;
	struct cert_identity self;
	struct peer_verifier *verifier;
	struct netmon *netmon;
	struct net_state net;
	bool net_valid;
	struct loop_timer debounce, reconcile_timer, trial_timer, update_retry, expiry_timer;
	struct backoff update_backoff;
	struct refusal refusal;          /* the server refuses our certificate */
	struct rpc_client *update_client, *stale_client;
	struct loop_defer stale_defer;
	bool update_inflight, update_again, stopping;
	bool rewrite;                       /* after a network change: set every endpoint again */
	struct watch_client *watch;
	struct known *known;
	size_t n_known, cap_known;
	struct refused_set refused;         /* records that did not verify, to try again */
	struct policyhold policy;           /* the pairing policy in force */
	X509 *policy_ca;                    /* its signer: our CA */
	struct loop_timer crl_timer;        /* when the CRL in use goes stale */
	struct owned_keys owned;
	char owned_path[4096];
	char watch_path[4096];
	char crl_path[4096];
	uint8_t crl_sha256[32];             /* of the CRL in use, told to the server */
	uint64_t saved_revision;
	char wan_ip[NETADDR_STRLEN];        /* ours, as the server last saw it */
	struct sockaddr_storage server_addr; /* where the Update connection reached the server */
	struct sockaddr_storage relay;      /* the server's relay; family 0 none */
	struct hub hub;
	char paths_path[4096];              /* state_dir/paths-IF: the paths, for --show */
	bool paths_dirty;                   /* a path changed since paths_path was written */
	struct serverlist servers;          /* agent_server.c: the servers, the current one */
	uint64_t watch_gen, update_gen;     /* the servers.gen each connection was made to */
	char server_path[4096];             /* state_dir/server-IF: the current one, for --show */
	struct agent_renew *renew;          /* agent_renew.c: our certificate's renewal */
	struct agent_links *links;          /* agent_links.c: link health reports */
};

static inline int64_t
now_s(void)
{
	return (int64_t)time(NULL);
}

/* agent.c */
/* Verifies and stores one record, or refuses it (logged, kept to verify again). */
void agent_apply_record(struct agent *a, const Wiresync__V1__Peer *p);
/* Everything held, judged again under a new CRL or policy: known peers that no longer pass
 * go (kept as refused records), records refused before that pass now come back (logged as
 * "peer NAME <back_why>: taking it back"). */
void agent_recheck(struct agent *a, const char *back_why);
/* Forgets k (a pointer into a->known, which is reordered). */
void known_drop(struct agent *a, struct known *k);
/* Whether id's tunnel addresses are free: not ours, nor another known peer's than k (NULL:
 * any). false with err saying which address and who holds it. */
bool agent_tunnels_free(const struct agent *a, const struct known *k,
    const struct cert_identity *id, char *err, size_t errlen);
/* Reconciles the interface at the end of a short delay, once for many changes. */
void agent_reconcile_soon(struct agent *a);
/* The Watch stream's records (common/watch.h), arg the agent. */
void agent_on_snapshot(void *arg, uint64_t revision, Wiresync__V1__Peer *const *peers,
    size_t n);
void agent_on_upsert(void *arg, uint64_t revision, const Wiresync__V1__Peer *p);
void agent_on_removed(void *arg, uint64_t revision, const uint8_t *key, size_t len);

/* agent_crl.c */
/* Warns about our certificate and the CRL in use, and again in a day; arg the agent. */
void agent_expiry_check(void *arg);
/* Warns when the CRL in use is stale, or goes stale within warn_days. */
void agent_crl_warn(struct agent *a, unsigned warn_days);
/* (Re)arms the timer that warns when the CRL in use goes stale. */
void agent_crl_timer_arm(struct agent *a);
/* A CRL the server relays (common/watch.h), arg the agent. */
void agent_on_crl(void *arg, const uint8_t *der, size_t len);
/* Sets a->crl_path and takes the CRL saved there if newer than the configured one. */
void agent_crl_state_load(struct agent *a);

/* agent_path.c */
/* Takes the relay and the hub from an Update reply on client c; true when they changed. */
bool agent_paths_from_reply(struct agent *a, struct rpc_client *c,
    const Wiresync__V1__UpdateReply *r);
/* Steps k's path (when online) and fills d's endpoint, kick and keepalive from it; actual
 * is k on the interface (NULL: not there). Returns when to step again (0: only on a
 * change). */
int64_t agent_path_peer(struct agent *a, struct known *k, const struct wg_peer *actual,
    int64_t now, struct desired_peer *d);
/* Fills d with the hub as a peer when the server announces one; false when it does not,
 * or its key is ours or a known peer's. */
bool agent_hub_peer(struct agent *a, struct desired_peer *d);
/* Writes paths_path when a path changed. */
void agent_paths_save(struct agent *a);
/* The reason saved in path for key (for --show) into buf; false when there is none. */
bool agent_paths_lookup(const char *path, const uint8_t key[WG_KEY_LEN], char *buf,
    size_t len);
/* agent_policy.c */
/* Reads our CA and the policy saved in state_dir (before any record is applied). 0, or
 * -1 with err when the CA cannot be read. */
int agent_policy_init(struct agent *a, char *err, size_t errlen);
void agent_policy_free(struct agent *a);
/* Whether the policy in force pairs us with id; rule gets the rule or why not. */
bool agent_policy_pairs(const struct agent *a, const struct cert_identity *id, char *rule,
    size_t len);
/* A policy the server relays (common/watch.h), arg the agent. */
void agent_on_policy(void *arg, const uint8_t *der, size_t len);

/* agent_renew.c */
struct agent_renew;
/* Renews our certificate (a->ctx's) at two thirds of its lifetime, and each renewed one
 * again; a renewed certificate replaces a->ctx and a->self. NULL on ENOMEM. */
struct agent_renew *agent_renew_new(struct agent *a);
void agent_renew_del(struct agent_renew *r);

/* agent_links.c */
struct agent_links;
/* Reports the links' health to the server (WireSync.ReportLinks) from now on. NULL on
 * ENOMEM. */
struct agent_links *agent_links_new(struct agent *a);
void agent_links_del(struct agent_links *l);

/* agent_server.c */
/* Reads conf->server into a->servers (every entry checked; a name's addresses resolved)
 * and names state_dir's server file. 0, or -1 with err naming the entry. */
int agent_servers_init(struct agent *a, char *err, size_t errlen);
/* A connection to the current server (with a->ctx); *gen the generation it belongs to.
 * NULL on ENOMEM (logged). */
struct rpc_client *agent_server_client(struct agent *a, uint64_t *gen);
/* wc's server, addr and addrlen for the current server (pointers into a->servers, valid
 * until it moves); a->watch_gen set to its generation. */
void agent_server_watch_config(struct agent *a, struct watch_client_config *wc);
/* A connection of generation gen ended with status and why. When that says the server is
 * away (serverlist_fails_over) and it still is the current one, moves to the next (logged
 * once, "server A unreachable (why); trying B") and returns true with *delay_ms, the wait
 * before trying it; false otherwise (*delay_ms 0). */
bool agent_server_failed(struct agent *a, uint64_t gen, int status, const char *why,
    uint32_t *delay_ms);
/* A connection of generation gen works (the Watch stream delivered an event). */
void agent_server_up(struct agent *a, uint64_t gen);
/* --show: the line the running agent saved in path, the server file. */
void agent_server_show(const char *path, FILE *out);

/* agent_update.c */
/* Drops the Update connection and the Watch stream and makes them again with a->ctx (a
 * renewed certificate), Watch resuming from its revision; the interface is not touched. */
void agent_reconnect(struct agent *a);
extern const struct watch_client_ops agent_watch_ops;
/* The network as netmon reads it now: on a change, reports it and reconnects; arg the
 * agent. */
void agent_net_settled(void *arg);
/* netmon's callback: agent_net_settled after the debounce. */
void agent_net_changed(void *arg);

#endif
