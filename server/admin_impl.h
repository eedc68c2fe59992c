/* The Admin service's private parts, shared by admin.c (helpers, ListPeers, ShowPeer,
 * RemovePeer, lifecycle) and admin_ops.c (AddStaticPeer, Status, Backup). Not for other
 * modules. */
#ifndef WS_ADMIN_IMPL_H
#define WS_ADMIN_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "rpc/h2server.h"
#include "server/admin.h"
#include "server/enroll.h"
#include "server/service_impl.h"

struct backup;

struct admin {
	struct service *svc;
	struct enroll_gate gates[5];         /* the enrolment calls' (server/enroll.h) */
	struct store *st;
	SSL_CTX *ctx;
	struct rpc_server *srv;
	struct admin_config cfg;
	uint64_t started_ms;
	struct backup *backup;       /* at most one at a time */
	struct rpc_method *methods;
	size_t n_methods;
	char relay_endpoint[64];     /* admin_set_paths; "" none */
	uint16_t hub_port;
	struct enroll *enroll;       /* join requests (admin_set_enroll); NULL: none */
};

struct buf {
	uint8_t *data;
	size_t len, cap;
	bool failed;
};

struct collect {
	const struct peer **v;
	size_t n, cap;
	const char *name;            /* only peers of this name, when set */
};

struct admin_op {
	struct rpc_call *call;       /* NULL once the call is cancelled */
	char who[CERT_NAME_MAX * 2 + 8];
	struct buf info;             /* RemovePeer: the record as it was */
	struct service *svc;         /* the audit log's, once committed (server/audit.h) */
	char admin[CERT_NAME_MAX + 1], serial[80], network[CERT_NAME_MAX + 1];
};

/* admin.c */
/* The caller, when its certificate is an admin's; otherwise the call is failed (NULL). */
const struct agent_conn *adm_caller(struct rpc_call *call);
/* PeerInfo of p appended to b; b->failed on ENOMEM. */
void adm_peerinfo_encode(struct buf *b, const struct peer *p);
/* Replies with b's bytes (RESOURCE_EXHAUSTED if b failed) and frees them. */
void adm_reply_buf(struct rpc_call *call, struct buf *b);
/* The peers of network (all of them or those named name), sorted into c->v (free it);
 * -ENOMEM with c->v NULL. */
int adm_collect_peers(const struct admin *a, const char *network, const char *name,
    struct collect *c);
/* An operation answered once its change is committed; NULL on ENOMEM. */
struct admin_op *adm_op_new(struct rpc_call *call, const struct agent_conn *ac);
void adm_op_cancelled(struct rpc_call *call, void *arg);
void adm_op_free(struct admin_op *op);

/* admin_ops.c */
void adm_handle_add_static(struct rpc_call *call, const uint8_t *req, size_t len, void *arg);
void adm_handle_status(struct rpc_call *call, const uint8_t *req, size_t len, void *arg);
void adm_handle_backup(struct rpc_call *call, const uint8_t *req, size_t len, void *arg);
/* admin_policy.c */
void adm_handle_policy(struct rpc_call *call, const uint8_t *req, size_t len, void *arg);
void adm_handle_can_pair(struct rpc_call *call, const uint8_t *req, size_t len, void *arg);

/* admin_enroll.c */
void adm_handle_list_pending(struct rpc_call *call, const uint8_t *req, size_t len, void *arg);
void adm_handle_prepare_approval(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg);
void adm_handle_approve(struct rpc_call *call, const uint8_t *req, size_t len, void *arg);
void adm_handle_deny(struct rpc_call *call, const uint8_t *req, size_t len, void *arg);
/* admin_token.c */
void adm_handle_create_token(struct rpc_call *call, const uint8_t *req, size_t len,
    void *arg);

/* admin_audit.c: Audit, and the audit entry of a committed RemovePeer or AddStaticPeer
 * (detail: prefix, then p's name and tunnel addresses). */
void adm_handle_audit(struct rpc_call *call, const uint8_t *req, size_t len, void *arg);
void adm_audit_peer(const struct admin_op *op, const char *action, const char *prefix,
    const struct peer *p);
/* admin_links.c */
void adm_handle_list_links(struct rpc_call *call, const uint8_t *req, size_t len, void *arg);

/* admin_ops.c, continued */
/* Frees b, and forgets it as its admin's running backup (admin_del). */
void adm_backup_free(struct backup *b);

#endif
