/* The join requests kept in the store (issue 13): every change is saved before the call
 * that made it is answered, and the requests are loaded back at start, so a restart keeps
 * waiting requests (id, code, reservation), approved ones with their certificate and
 * denied ones with the reason, until enroll_max_age_s. The table in memory
 * (server/pending.h) stays the one the calls read. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpc/log.h"
#include "server/enroll_impl.h"

/* r and x as the store's row (pointing into them). */
static void
join_row(const struct pending_req *r, const struct enroll_extra *x, struct store_join *out)
{
	struct store_join j;

	memset(&j, 0, sizeof(j));
	j.id = r->id;
	snprintf(j.name, sizeof(j.name), "%s", r->name);
	snprintf(j.network, sizeof(j.network), "%s", x->network);
	memcpy(j.key, r->key, WG_KEY_LEN);
	memcpy(j.csr_sha256, r->csr_sha256, 32);
	j.source = r->source;
	j.created_s = r->created_s;
	j.state = (int)r->state;
	j.csr = x->csr;
	j.csr_len = x->csr_len;
	j.cert = x->cert;
	j.cert_len = x->cert_len;
	j.ca = x->ca;
	j.ca_len = x->ca_len;
	j.n_ips = (uint8_t)x->n_ips;
	memcpy(j.ips, x->ips, x->n_ips * sizeof(x->ips[0]));
	snprintf(j.reason, sizeof(j.reason), "%s", x->reason);
	j.renewal = r->renewal;
	j.current = r->current;
	j.current_len = r->current_len;
	*out = j;
}

int
enroll_store_save(struct enroll *e, const struct pending_req *r, const struct enroll_extra *x)
{
	struct store_join j;

	join_row(r, x, &j);
	return store_join_put(e->svc->store, &j);
}

int
enroll_store_save_token(struct enroll *e, const struct pending_req *r,
    const struct enroll_extra *x, uint64_t token_id, int64_t now)
{
	struct store_join j;

	join_row(r, x, &j);
	return store_token_use(e->svc->store, token_id, now, &j);
}

void
enroll_store_drop(struct enroll *e, uint64_t id)
{
	/* a row left behind goes at the next expiry or start (it is past its age by then) */
	if (store_join_delete(e->svc->store, id) < 0)
		log_warnx("join request %llu: cannot drop it from the store",
		    (unsigned long long)id);
}

void
enroll_expire(struct enroll *e, int64_t now)
{
	struct store *st = e->svc->store;

	/* on a shared store another server may have kept rows this table dropped already;
	 * outside a bracket (the web console's list) nothing may be written */
	if ((pending_expire(e->t, now) > 0 || store_shared(st)) &&
	    (!store_shared(st) || e->in_bracket) &&
	    store_joins_expire(st, now - (int64_t)e->max_age_s) < 0)
		log_warnx("join requests past enroll_max_age_s: cannot drop them from the store");
}

static void *
dup_der(const uint8_t *der, size_t len, bool *fail)
{
	void *p;

	if (len == 0)
		return NULL;
	if ((p = malloc(len)) == NULL) {
		*fail = true;
		return NULL;
	}
	memcpy(p, der, len);
	return p;
}

struct load {
	struct enroll *e;
	int64_t now;
	size_t loaded, dropped;
	int err;
};

static int
load_one(const struct store_join *j, void *arg)
{
	struct load *l = arg;
	struct pending_req r;
	struct enroll_extra *x;
	bool fail = false;
	int ret;

	memset(&r, 0, sizeof(r));
	r.id = j->id;
	snprintf(r.name, sizeof(r.name), "%s", j->name);
	memcpy(r.key, j->key, WG_KEY_LEN);
	memcpy(r.csr_sha256, j->csr_sha256, 32);
	r.source = j->source;
	r.created_s = j->created_s;
	r.state = (enum pending_state)j->state;
	if ((x = calloc(1, sizeof(*x))) == NULL) {
		l->err = -ENOMEM;
		return 1;
	}
	snprintf(x->network, sizeof(x->network), "%s", j->network);
	x->csr = dup_der(j->csr, j->csr_len, &fail);
	x->csr_len = j->csr_len;
	x->cert = dup_der(j->cert, j->cert_len, &fail);
	x->cert_len = j->cert_len;
	x->ca = dup_der(j->ca, j->ca_len, &fail);
	x->ca_len = j->ca_len;
	x->n_ips = j->n_ips;
	memcpy(x->ips, j->ips, j->n_ips * sizeof(j->ips[0]));
	snprintf(x->reason, sizeof(x->reason), "%s", j->reason);
	r.user = x;
	r.renewal = j->renewal;
	r.current = dup_der(j->current, j->current_len, &fail);
	r.current_len = j->current_len;
	if (fail) {
		free(r.current);
		enroll_extra_free(x);
		l->err = -ENOMEM;
		return 1;
	}
	if ((ret = pending_load(l->e->t, &r, l->now)) == 0)
		l->loaded++;
	else if (ret == -ETIME)
		l->dropped++;
	else
		log_warnx("join request %llu (%s) in the store is not kept: %s",
		    (unsigned long long)j->id, j->name, ret == -ENOSPC ?
		    "more than enroll_max_pending requests" : "its id or CSR is there twice");
	return 0;
}

int
enroll_load(struct enroll *e, char *err, size_t errlen)
{
	struct load l = { e, (int64_t)time(NULL), 0, 0, 0 };
	uint64_t next;
	int ret;

	/* a shared store's requests are read at the first call that needs them */
	if (store_shared(e->svc->store))
		return 0;
	if (store_joins_expire(e->svc->store, l.now - (int64_t)e->max_age_s) < 0 ||
	    store_join_next_id(e->svc->store, &next) < 0) {
		snprintf(err, errlen, "join requests: cannot read them from the store (see above)");
		return -EIO;
	}
	pending_next_id_raise(e->t, next);
	ret = store_joins_foreach(e->svc->store, load_one, &l);
	if (ret != 0 || l.err != 0) {
		snprintf(err, errlen, "join requests: cannot read them from the store: %s",
		    l.err != 0 ? strerror(-l.err) : "a bad row (see above)");
		return l.err != 0 ? l.err : -EIO;
	}
	if (l.loaded > 0 || l.dropped > 0)
		log_info("join requests: %zu kept from before the restart, %zu past "
		    "enroll_max_age_s dropped; the next id is %llu", l.loaded, l.dropped,
		    (unsigned long long)pending_next_id(e->t));
	return 0;
}

void
enroll_reload(struct enroll *e)
{
	struct load l = { e, (int64_t)time(NULL), 0, 0, 0 };
	uint64_t next;

	pending_clear(e->t);
	if (store_join_next_id(e->svc->store, &next) == 0)
		pending_next_id_raise(e->t, next);
	if (store_joins_foreach(e->svc->store, load_one, &l) != 0 || l.err != 0)
		log_warnx("join requests: not all of them could be read from the database");
	/* the first read after the start says what the restart kept, as enroll_load does */
	if (!e->reloaded)
		log_info("join requests: %zu read from the database; the next id is %llu",
		    l.loaded, (unsigned long long)pending_next_id(e->t));
	else
		log_debug("join requests: %zu read from the database (another server changed "
		    "them)", l.loaded);
	e->reloaded = true;
}
