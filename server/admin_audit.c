/* wiresync.v1.Admin's Audit (issue 16): the audit log of the caller's network and the
 * server's own entries, newest first, paged with before_id. And the entry of a committed
 * RemovePeer or AddStaticPeer, written when the change is (the caller may be gone by
 * then, so the admin's name and serial travel in the admin_op). Part of the Admin
 * service (admin_impl.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/admin.pb-c.h"
#include "rpc/grpc.h"
#include "rpc/log.h"
#include "server/admin_impl.h"
#include "server/audit.h"

#define AUDIT_LIMIT_DEFAULT 100
#define AUDIT_LIMIT_MAX 1000

void
adm_audit_peer(const struct admin_op *op, const char *action, const char *prefix,
    const struct peer *p)
{
	char ips[AUDIT_ADDRS_MAX];

	audit_record_as(op->svc, op->admin, op->serial, op->network, action, "%s%s %s", prefix,
	    p->name, audit_addrs(p->tunnel, p->n_tunnel, ips));
}

/* The entries read, as the messages of the reply (their strings point into v). */
struct audit_list {
	struct store_audit *v;
	size_t n, cap;
};

static int
collect(const struct store_audit *e, void *arg)
{
	struct audit_list *l = arg;

	if (l->n == l->cap)
		return -ENOMEM;      /* cap is the limit: not reached */
	l->v[l->n++] = *e;
	return 0;
}

/* One Audit call while the store reads (later, from a shared store). */
struct audit_wait {
	struct audit_list l;         /* first: collect's argument is the wait */
	struct rpc_call *call;       /* NULL once the caller went away */
};

static void
audit_cancelled(struct rpc_call *call, void *arg)
{
	(void)call;
	((struct audit_wait *)arg)->call = NULL;
}

static void
audit_read(void *arg, int err)
{
	struct audit_wait *w = arg;
	Wiresync__V1__AuditReply r = WIRESYNC__V1__AUDIT_REPLY__INIT;
	Wiresync__V1__AuditEntry *ents = NULL, **ptrs = NULL;
	struct rpc_call *call = w->call;

	if (call == NULL)
		goto out;
	rpc_call_on_cancel(call, NULL, NULL);
	if (err != 0) {
		rpc_call_fail(call, GRPC_UNAVAILABLE, err == -ENOTCONN ? "the database is not "
		    "reachable; try again" : "the audit log cannot be read from the store: see "
		    "the server's log");
		goto out;
	}
	if (w->l.n > 0 && ((ents = calloc(w->l.n, sizeof(*ents))) == NULL ||
	    (ptrs = calloc(w->l.n, sizeof(*ptrs))) == NULL)) {
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < w->l.n; i++) {
		Wiresync__V1__AuditEntry *e = &ents[i];
		wiresync__v1__audit_entry__init(e);
		e->id = w->l.v[i].id;
		e->time_ms = w->l.v[i].time_ms;
		e->admin = w->l.v[i].admin;
		e->serial = w->l.v[i].serial;
		e->action = w->l.v[i].action;
		e->detail = w->l.v[i].detail;
		e->network = w->l.v[i].network;
		ptrs[i] = e;
	}
	r.n_entries = w->l.n;
	r.entries = ptrs;
	svc_reply_message(call, &r.base);
out:
	free(ptrs);
	free(ents);
	free(w->l.v);
	free(w);
}

void
adm_handle_audit(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct admin *a = arg;
	const struct agent_conn *ac = adm_caller(call);
	Wiresync__V1__AuditRequest *m;
	struct audit_wait *w;
	uint64_t before;
	uint32_t limit;
	int ret;

	if (ac == NULL)
		return;
	if ((m = wiresync__v1__audit_request__unpack(NULL, len, req)) == NULL) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "AuditRequest does not decode");
		return;
	}
	limit = m->limit == 0 ? AUDIT_LIMIT_DEFAULT : m->limit;
	before = m->before_id;
	wiresync__v1__audit_request__free_unpacked(m, NULL);
	if (limit > AUDIT_LIMIT_MAX) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "limit: at most %d entries a call, got "
		    "%u: page with before_id", AUDIT_LIMIT_MAX, limit);
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->l.v = calloc(limit, sizeof(*w->l.v))) == NULL) {
		free(w);
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	w->l.cap = limit;
	w->call = call;
	/* on SQLite the answer is in before this returns; a shared store's comes later */
	rpc_call_on_cancel(call, audit_cancelled, w);
	if ((ret = store_audit_list(a->st, ac->id.network, before, limit, collect, audit_read,
	    w)) != 0) {
		rpc_call_on_cancel(call, NULL, NULL);
		rpc_call_fail(call, GRPC_UNAVAILABLE, ret == -ENOTCONN ? "the database is not "
		    "reachable; try again" : "the audit log cannot be read from the store");
		free(w->l.v);
		free(w);
	}
}
