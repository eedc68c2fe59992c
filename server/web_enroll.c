/* The join requests as the web console sees and decides them: a read view, an approval
 * signed by the online issuer (the same steps as a token join: enroll_pick_free,
 * issuer_sign, enroll_cert_check, enroll_store_save), and a denial. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpc/grpc.h"
#include "rpc/log.h"
#include "server/audit.h"
#include "server/enroll_impl.h"
#include "server/issuer.h"

/* the audit log's admin for decisions made on the console (its detail says by whom) */
#define WEB_AUDIT_NAME "web console"

struct view_arg {
	int (*fn)(const struct enroll_view *v, void *arg);
	void *arg;
};

static int
view_one(const struct pending_req *r, void *arg)
{
	struct view_arg *va = arg;
	const struct enroll_extra *x = enroll_extra(r);
	char src[NETADDR_STRLEN];
	struct enroll_view v = {
		.id = r->id, .name = r->name, .network = x->network, .code = r->code,
		.state = enroll_state_name(r->state), .source = netaddr_format(&r->source,
		    false, src), .created_s = r->created_s, .renewal = r->renewal,
	};

	return va->fn(&v, va->arg);
}

static void
nothing(void *arg)
{
	(void)arg;
}

int
enroll_foreach_view(struct enroll *e, int (*fn)(const struct enroll_view *v, void *arg),
    void *arg)
{
	struct view_arg va = { fn, arg };

	if (e == NULL)
		return 0;
	/* a shared store's requests as last read; this read makes the next view current */
	if (store_shared(e->svc->store) && !e->in_bracket)
		enroll_run_task(e->svc, nothing, NULL, NULL);
	enroll_expire(e, (int64_t)time(NULL));
	return pending_foreach(e->t, view_one, &va);
}

static const struct pending_req *
waiting(struct enroll *e, uint64_t id, char *err, size_t errlen)
{
	const struct pending_req *r;

	if (e == NULL) {
		snprintf(err, errlen, "this server takes no join requests");
		return NULL;
	}
	enroll_expire(e, (int64_t)time(NULL));
	if ((r = pending_get(e->t, id)) == NULL) {
		snprintf(err, errlen, "id: no join request %llu (it may have expired)",
		    (unsigned long long)id);
		return NULL;
	}
	if (r->state != PENDING_WAITING) {
		snprintf(err, errlen, "id: join request %llu (%s) is %s already",
		    (unsigned long long)id, r->name, enroll_state_name(r->state));
		return NULL;
	}
	return r;
}

static int
approve_now(struct enroll *e, uint64_t id, const char *by, char *err, size_t errlen)
{
	const struct issuer *is = e != NULL ? service_issuer(e->svc) : NULL;
	const struct pending_req *r;
	struct enroll_extra *x, next;
	struct pending_req approved;
	struct cert_identity cur;
	const char (*groups)[CERT_GROUP_MAX + 1] = NULL;
	size_t n_groups = 0;
	struct enroll_issued o = { 0 };
	char addrs[AUDIT_ADDRS_MAX];
	int64_t now = (int64_t)time(NULL);
	int ret = -1;

	if (e != NULL && is == NULL) {
		snprintf(err, errlen, "no online issuer (issuer_certificate): approve with "
		    "wiresyncctl approve %llu", (unsigned long long)id);
		return -1;
	}
	if ((r = waiting(e, id, err, errlen)) == NULL)
		return -1;
	x = enroll_extra(r);
	next = *x;
	approved = *r;
	if (enroll_pick_free(e, x->network, r->id, next.ips, &next.n_ips, err, errlen) !=
	    GRPC_OK)
		return -1;
	if (r->renewal && cert_identity_from_der(r->current, r->current_len, &cur, err, errlen)) {
		groups = (const char (*)[CERT_GROUP_MAX + 1])cur.groups;
		n_groups = cur.n_groups;
	}
	if (enroll_issue(e, is, r, &next, groups, n_groups, now, &o, err, errlen) != GRPC_OK)
		goto out;
	next.cert = o.der;
	next.cert_len = o.len;
	next.ca = o.ca;
	next.ca_len = o.ca_len;
	approved.state = PENDING_APPROVED;
	if (enroll_store_save(e, &approved, &next) < 0) {
		snprintf(err, errlen, "store write failed: join request %llu is not approved",
		    (unsigned long long)id);
		goto out;
	}
	enroll_issued_take(x, &next, &o);
	pending_set_state(e->t, r->id, PENDING_APPROVED);
	log_info("%s approved %s request %llu: %s code %s (network %s), signed by the online "
	    "issuer", by, r->renewal ? "renewal" : "join", (unsigned long long)id, r->name,
	    r->code, x->network);
	audit_record_as(e->svc, WEB_AUDIT_NAME, "", x->network, "approve", "%s %llu %s %s (%s)",
	    r->renewal ? "renewal" : "request", (unsigned long long)id, r->name,
	    audit_addrs(x->ips, x->n_ips, addrs), by);
	ret = 0;
out:
	enroll_issued_free(&o);
	return ret;
}

static int
deny_now(struct enroll *e, uint64_t id, const char *by, char *err, size_t errlen)
{
	const struct pending_req *r;
	struct enroll_extra *x, next;
	struct pending_req denied;

	if ((r = waiting(e, id, err, errlen)) == NULL)
		return -1;
	x = enroll_extra(r);
	next = *x;
	denied = *r;
	snprintf(next.reason, sizeof(next.reason), "denied from the web console");
	next.n_ips = 0;
	denied.state = PENDING_DENIED;
	if (enroll_store_save(e, &denied, &next) < 0) {
		snprintf(err, errlen, "store write failed: join request %llu is not denied",
		    (unsigned long long)id);
		return -1;
	}
	snprintf(x->reason, sizeof(x->reason), "%s", next.reason);
	x->n_ips = 0;
	pending_set_state(e->t, r->id, PENDING_DENIED);
	log_info("%s denied join request %llu: %s code %s", by, (unsigned long long)id, r->name,
	    r->code);
	audit_record_as(e->svc, WEB_AUDIT_NAME, "", x->network, "deny", "%s %llu %s (%s)",
	    r->renewal ? "renewal" : "request", (unsigned long long)id, r->name, by);
	return 0;
}

/* A decision, taken inside a bracket on a shared store (again if another server wrote
 * first), answered once the database has it. */
struct later {
	struct enroll *e;
	uint64_t id;
	bool approve;
	int ret;
	void (*done)(void *arg, int ret, const char *why);
	void *arg;
	char by[CERT_NAME_MAX + 64], err[512];
};

static void
later_run(void *arg)
{
	struct later *l = arg;

	l->ret = l->approve ? approve_now(l->e, l->id, l->by, l->err, sizeof(l->err)) :
	    deny_now(l->e, l->id, l->by, l->err, sizeof(l->err));
}

static void
later_done(void *arg, int err)
{
	struct later *l = arg;

	if (l->ret >= 0 && err != 0) {
		l->ret = -1;
		snprintf(l->err, sizeof(l->err), "join request %llu: not %s: %s; nothing was "
		    "kept", (unsigned long long)l->id, l->approve ? "approved" : "denied",
		    err == -EAGAIN ? "another server kept changing the join requests, try again" :
		    err == -ECANCELED ? "the server is stopping" : "the database is not reachable, "
		    "try again");
		log_warnx("%s: %s", l->by, l->err);
	}
	l->done(l->arg, l->ret < 0 ? -1 : 0, l->ret < 0 ? l->err : NULL);
	free(l);
}

int
enroll_decide(struct enroll *e, uint64_t id, bool approve, const char *by,
    void (*done)(void *arg, int ret, const char *why), void *arg)
{
	struct later *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -ENOMEM;
	l->e = e;
	l->id = id;
	l->approve = approve;
	l->done = done;
	l->arg = arg;
	snprintf(l->by, sizeof(l->by), "%s", by);
	if (e == NULL) {
		later_run(l);
		later_done(l, 0);
		return 0;
	}
	if (enroll_run_task(e->svc, later_run, later_done, l) != 0) {
		free(l);
		return -ENOMEM;
	}
	return 0;
}
