/* The enrolment calls inside store brackets (server/enroll.h's enroll_gated): on a shared
 * store the join requests and tokens a call decides from are the database's as of the
 * bracket's begin, its answer waits for the commit, and a commit refused because another
 * server wrote first (-EAGAIN) runs the call again from the new state, so every decision
 * is taken from the state it is written over. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/grpc.h"
#include "rpc/log.h"
#include "server/audit.h"
#include "server/enroll_impl.h"

/* Another server's write between our read and our commit is rare; past this many in a
 * row the caller is told to try again. */
#define RUN_TRIES 5

struct op {
	struct op *prev, *next;              /* live ones, freed at exit */
	struct service *svc;
	struct enroll_gate *g;               /* a call's, or NULL for a task */
	struct rpc_call *call;               /* NULL once the call is gone */
	uint8_t *req;
	size_t len;
	void (*task)(void *arg);
	void (*task_done)(void *arg, int err);
	void *task_arg;
	int tries;
	struct audit_held *audits;           /* what the decision recorded, until committed */
};

static struct op *live;

static void
op_free(struct op *op)
{
	if (op->prev != NULL)
		op->prev->next = op->next;
	else
		live = op->next;
	if (op->next != NULL)
		op->next->prev = op->prev;
	audit_drop(op->audits);
	free(op->req);
	free(op);
}

void
enroll_run_free_all(void)
{
	while (live != NULL) {
		/* a task's owner frees what it gave (the web console's decision) */
		if (live->task_done != NULL)
			live->task_done(live->task_arg, -ECANCELED);
		op_free(live);
	}
}

static void
op_cancelled(struct rpc_call *call, void *arg)
{
	struct op *op = arg;

	(void)call;
	op->call = NULL;
}

/* The op's end: the task's done, or the call failed with status (0: as it is). */
static void
op_end(struct op *op, int err, int status, const char *why)
{
	if (op->call != NULL) {
		rpc_call_on_cancel(op->call, NULL, NULL);
		if (status != 0)
			rpc_call_fail(op->call, status, "%s", why);
	}
	if (op->task_done != NULL)
		op->task_done(op->task_arg, err);
	op_free(op);
}

static void begin(struct op *op);

static void
committed(void *arg, int err)
{
	struct op *op = arg;

	if (err == 0) {
		audit_put(op->svc, op->audits);
		op->audits = NULL;
		if (op->call != NULL) {
			rpc_call_on_cancel(op->call, NULL, NULL);
			rpc_call_release(op->call, true);
			op->call = NULL;
		}
		op_end(op, 0, 0, NULL);
		return;
	}
	audit_drop(op->audits);                         /* nor what it recorded */
	op->audits = NULL;
	if (op->call != NULL)
		rpc_call_release(op->call, false);          /* what it answered did not happen */
	if (err == -EAGAIN && ++op->tries < RUN_TRIES && (op->call != NULL || op->task != NULL)) {
		log_debug("%s: join requests changed on another server meanwhile: "
		    "deciding again", op->call != NULL ? rpc_call_path(op->call) : "enrolment");
		begin(op);
		return;
	}
	op_end(op, err, err == -EAGAIN ? GRPC_ABORTED : GRPC_UNAVAILABLE, err == -EAGAIN ?
	    "join requests changed on other servers while this was decided: try again" :
	    err == -ENOTCONN ? "the database is not reachable: nothing was kept; try again" :
	    "store write failed (the server's log says why): nothing was kept; try again");
}

static void
began(void *arg, bool changed, int err)
{
	struct op *op = arg;
	struct enroll *e = op->svc->enroll;
	int r;

	if (err != 0) {
		op_end(op, err, GRPC_UNAVAILABLE, "the database is not reachable: join requests "
		    "and tokens cannot be read; try again");
		return;
	}
	if (changed && e != NULL)
		enroll_reload(e);
	if (e != NULL)
		e->in_bracket = true;
	audit_hold(op->svc);
	if (op->call != NULL) {
		rpc_call_hold(op->call);
		op->g->fn(op->call, op->req, op->len, op->g->arg);
	} else if (op->task != NULL) {
		op->task(op->task_arg);
	}
	if (e != NULL)
		e->in_bracket = false;
	op->audits = audit_take(op->svc);
	if ((r = store_enroll_commit(op->svc->store, committed, op)) != 0) {
		if (op->call != NULL)
			rpc_call_release(op->call, false);
		op_end(op, r, GRPC_UNAVAILABLE, "the bracket of the join requests was lost");
	}
}

static void
begin(struct op *op)
{
	if (store_enroll_begin(op->svc->store, began, op) != 0)
		op_end(op, -ENOMEM, GRPC_RESOURCE_EXHAUSTED, "out of memory");
}

static struct op *
op_new(struct service *svc)
{
	struct op *op = calloc(1, sizeof(*op));

	if (op == NULL)
		return NULL;
	op->svc = svc;
	if ((op->next = live) != NULL)
		live->prev = op;
	live = op;
	return op;
}

static void
gate_handle(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct enroll_gate *g = arg;
	struct op *op;

	if (!store_shared(g->svc->store)) {
		g->fn(call, req, len, g->arg);
		return;
	}
	if ((op = op_new(g->svc)) == NULL || (len > 0 && (op->req = malloc(len)) == NULL)) {
		if (op != NULL)
			op_free(op);
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	op->g = g;
	op->call = call;
	if (len > 0)
		memcpy(op->req, req, len);
	op->len = len;
	rpc_call_on_cancel(call, op_cancelled, op);
	begin(op);
}

struct rpc_method
enroll_gated(struct enroll_gate *g, struct service *svc, const struct rpc_method *m)
{
	struct rpc_method out = *m;

	g->fn = m->handler;
	g->arg = m->arg;
	g->svc = svc;
	out.handler = gate_handle;
	out.arg = g;
	return out;
}

int
enroll_run_task(struct service *svc, void (*fn)(void *arg), void (*done)(void *arg, int err),
    void *arg)
{
	struct op *op;

	if (!store_shared(svc->store)) {
		fn(arg);
		if (done != NULL)
			done(arg, 0);
		return 0;
	}
	if ((op = op_new(svc)) == NULL)
		return -ENOMEM;
	op->task = fn;
	op->task_done = done;
	op->task_arg = arg;
	begin(op);
	return 0;
}
