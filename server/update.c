/* The Update RPC and the change queue behind it: validation and the rate limit, then one
 * group commit per loop turn for every queued change (Updates, presence, removals, static
 * peers), answered only once durable; then the follower's doorbell, and the follower feeds
 * the watchers from the change log. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "common/cert.h"
#include "proto/wiresync.pb-c.h"
#include "rpc/grpc.h"
#include "rpc/log.h"
#include "rpc/loop.h"
#include "server/idcount.h"
#include "server/links.h"
#include "server/ratelimit.h"
#include "server/metrics.h"
#include "server/peers.h"
#include "server/service_impl.h"

static void commit_batch(void *arg);

static bool
peer_same(const struct peer *a, const struct peer *b)
{
	if (a->listen_port != b->listen_port || a->n_lan != b->n_lan ||
	    a->n_tunnel != b->n_tunnel || a->lan_id_len != b->lan_id_len ||
	    !netaddr_equal(&a->wan, &b->wan) || strcmp(a->name, b->name) != 0 ||
	    strcmp(a->network, b->network) != 0 ||
	    strcmp(a->observed_endpoint, b->observed_endpoint) != 0 || a->is_static != b->is_static ||
	    memcmp(a->lan_id, b->lan_id, a->lan_id_len) != 0 || a->cert_len != b->cert_len ||
	    memcmp(a->cert, b->cert, a->cert_len) != 0 || a->chain_len != b->chain_len ||
	    (a->chain_len > 0 && memcmp(a->chain, b->chain, a->chain_len) != 0))
		return false;
	for (size_t i = 0; i < a->n_lan; i++)
		if (!netaddr_equal(&a->lan[i], &b->lan[i]))
			return false;
	for (size_t i = 0; i < a->n_tunnel; i++)
		if (!netaddr_equal(&a->tunnel[i], &b->tunnel[i]))
			return false;
	return true;
}

/* --- Update with group commit ----------------------------------------------------------- */

static void
update_cancelled(struct rpc_call *call, void *arg)
{
	struct change *c = arg;

	c->call = NULL;
	c->ac = NULL;
}

void
svc_change_queue(struct service *svc, struct change *c)
{
	*svc->pending_tail = c;
	svc->pending_tail = &c->next;
	loop_defer(svc->loop, &svc->commit_defer, commit_batch, svc);
}

/* The handshake's intermediates as the record keeps them (DER one after the other): what
 * agents verify the host's certificate through (Peer.chain), and what a CRL reload checks.
 * Stored with the record rather than derived from the configured issuer: a renewed issuer
 * (wiresync-ca issuer --force: a new certificate, a new key) or one dropped from the
 * config must not change or lose the chain of the hosts it already signed, and after a
 * restart the root's CRL must still reach each stored host's issuer. 0, or -1 on ENOMEM. */
static int
chain_der(STACK_OF(X509) *chain, struct peer *p)
{
	uint8_t *buf = NULL, *nb;
	size_t len = 0;

	for (int i = 0; i < sk_X509_num(chain) && i < PEER_CHAIN_MAX; i++) {
		unsigned char *der = NULL;
		int n = i2d_X509(sk_X509_value(chain, i), &der);
		if (n <= 0 || (nb = realloc(buf, len + (size_t)n)) == NULL) {
			OPENSSL_free(der);
			free(buf);
			return -1;
		}
		buf = nb;
		memcpy(buf + len, der, (size_t)n);
		len += (size_t)n;
		OPENSSL_free(der);
	}
	p->chain = buf;
	p->chain_len = len;
	return 0;
}

static struct peer *
build_record(const struct service *svc, const struct peer *old, const struct change *pu)
{
	const struct agent_conn *ac = pu->ac;
	struct peer *p;

	unsigned char *der = NULL;
	int len;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	len = i2d_X509(rpc_conn_peer_cert(ac->rc), &der);
	p->cert = len > 0 ? malloc((size_t)len) : NULL;
	if (p->cert == NULL) {
		OPENSSL_free(der);
		free(p);
		return NULL;
	}
	memcpy(p->cert, der, (size_t)len);
	OPENSSL_free(der);
	p->cert_len = (size_t)len;
	if (chain_der(ac->chain, p) < 0) {
		free(p->cert);
		free(p);
		return NULL;
	}
	memcpy(p->key, ac->id.key, WG_KEY_LEN);
	snprintf(p->name, sizeof(p->name), "%s", ac->id.name);
	snprintf(p->network, sizeof(p->network), "%s", ac->id.network);
	p->n_tunnel = (uint8_t)ac->id.n_tunnel;
	memcpy(p->tunnel, ac->id.tunnel, sizeof(p->tunnel));
	p->listen_port = pu->f.listen_port;
	p->n_lan = pu->f.n_lan;
	memcpy(p->lan, pu->f.lan, sizeof(p->lan));
	p->lan_id_len = pu->f.lan_id_len;
	memcpy(p->lan_id, pu->f.lan_id, sizeof(p->lan_id));
	p->wan = ac->wan;
	if (old != NULL) {
		snprintf(p->observed_endpoint, sizeof(p->observed_endpoint), "%s",
		    old->observed_endpoint);
		p->online = old->online;
		p->revision = old->revision;
	} else {
		/* Watches opened before the first Update count from now on. */
		p->online = idcount_get(svc->watches, p->key) > 0;
	}
	return p;
}

static void
reply_update(const struct service *svc, struct change *pu)
{
	Wiresync__V1__UpdateReply r = WIRESYNC__V1__UPDATE_REPLY__INIT;
	char wan[NETADDR_STRLEN];

	r.revision = pu->cur->revision;
	r.observed_wan_ip = netaddr_format(&pu->ac->wan, false, wan);
	r.relay_endpoint = (char *)svc->relay_endpoint;
	r.hub_port = svc->hub_port;
	svc_reply_message(pu->call, &r.base);
}

/* Puts back the records the batch replaced or removed, newest first. */
static void
undo_batch(struct service *svc, struct change *list)
{
	struct change *newest = NULL;

	for (struct change *c = list; c != NULL; c = c->next) {
		c->undo_next = newest;
		newest = c;
	}
	for (struct change *c = newest; c != NULL; c = c->undo_next) {
		if (!c->changed)
			continue;
		if (c->old != NULL)
			peer_free(peer_table_put(svc->peers, c->old));
		else
			peer_free(peer_table_take(svc->peers, c->cur->key));
		c->old = NULL;
		c->changed = false;
	}
}

/* The serial of a stored record's certificate, for logs. */
static const char *
record_serial(const struct peer *p, char *buf, size_t len)
{
	struct cert_identity id;
	char err[160];

	if (p->cert_len == 0 || !cert_identity_from_der(p->cert, p->cert_len, &id, err,
	    sizeof(err)))
		snprintf(buf, len, "none");
	else
		snprintf(buf, len, "%s", id.serial);
	return buf;
}

/* Two certificates that bind one WireGuard key, or one tunnel address in a network (careless
 * CA tooling): the record already stored keeps it, this Update is refused. Checked as the
 * batch is applied, so two such Updates in one batch are caught too. */
static bool
update_conflicts(struct service *svc, struct change *c)
{
	const struct cert_identity *id = &c->ac->id;
	const struct peer *other = peer_table_get(svc->peers, id->key);
	char addr[NETADDR_STRLEN], serial[80], what[96];

	if (other != NULL && strcmp(other->name, id->name) == 0 &&
	    strcmp(other->network, id->network) == 0)
		other = NULL;   /* the same host: a renewed certificate */
	if (other != NULL)
		snprintf(what, sizeof(what), "its WireGuard key");
	for (size_t i = 0; other == NULL && i < id->n_tunnel; i++) {
		other = peer_table_find_tunnel(svc->peers, id->network, &id->tunnel[i], id->key);
		if (other != NULL)
			snprintf(what, sizeof(what), "tunnel address %s",
			    netaddr_format(&id->tunnel[i], true, addr));
	}
	if (other == NULL)
		return false;
	log_warnx("refusing Update of \"%s\" (serial %s): %s is already bound to \"%s\" "
	    "(serial %s) in network %s; revoke or remove one of them", id->name, id->serial,
	    what, other->name, record_serial(other, serial, sizeof(serial)), id->network);
	snprintf(c->refused, sizeof(c->refused), "%s of certificate \"%s\" is already bound to "
	    "\"%s\" in network %s", what, id->name, other->name, id->network);
	return true;
}

/* Whether p holds old's network and tunnel addresses (most Updates: a new port or LAN). */
static bool
tunnels_same(const struct peer *old, const struct peer *p)
{
	if (old == NULL || old->n_tunnel != p->n_tunnel || strcmp(old->network, p->network) != 0)
		return false;
	for (size_t i = 0; i < p->n_tunnel; i++)
		if (!netaddr_equal(&old->tunnel[i], &p->tunnel[i]))
			return false;
	return true;
}

/* One change more for the batch's store_write (put replacing old). 0, or -1 on ENOMEM. */
static int
write_add(struct service *svc, const struct peer *put, const struct peer *old,
    const uint8_t key[WG_KEY_LEN], const char *network)
{
	struct store_write_change *w;

	if (svc->n_writes == svc->cap_writes) {
		size_t cap = svc->cap_writes ? 2 * svc->cap_writes : 64;
		if ((w = realloc(svc->writes, cap * sizeof(*w))) == NULL)
			return -1;
		svc->writes = w;
		svc->cap_writes = cap;
	}
	w = &svc->writes[svc->n_writes++];
	w->put = put;
	w->tunnels_kept = put != NULL && tunnels_same(old, put);
	memcpy(w->key, key, WG_KEY_LEN);
	snprintf(w->network, sizeof(w->network), "%s", network);
	return 0;
}

/* Applies one change to the table and the batch's writes. Returns 0 or -1. */
static int
apply_change(struct service *svc, struct change *c, uint64_t *rev, int64_t now)
{
	struct peer *old = NULL, *p = NULL, *displaced;

	switch (c->kind) {
	case CHANGE_UPDATE:
		if (c->call == NULL || update_conflicts(svc, c))
			return 0;
		old = peer_table_get(svc->peers, c->ac->id.key);
		p = build_record(svc, old, c);
		if (p == NULL)
			return -1;
		p->last_seen_ms = now;
		if (old != NULL && peer_same(old, p)) {
			old->last_seen_ms = now;
			peer_free(p);
			c->cur = old;
			return 0;
		}
		break;
	case CHANGE_PRESENCE:
		old = peer_table_get(svc->peers, c->key);
		/* a static peer has no agent: presence does not apply to it; a host another
		 * server holds online is taken over when it watches here, and is that
		 * server's to set offline */
		if (old == NULL || old->is_static || (c->online ? old->online &&
		    !old->held_elsewhere : !old->online || old->held_elsewhere))
			return 0;
		p = peer_dup(old);
		if (p == NULL)
			return -1;
		p->online = c->online;
		p->held_elsewhere = false;
		p->last_seen_ms = now;
		break;
	case CHANGE_REMOVE:
		old = peer_table_get(svc->peers, c->key);
		if (old == NULL)
			return 0;
		c->revision = ++*rev;
		if (write_add(svc, NULL, old, c->key, old->network) < 0)
			return -1;
		c->old = peer_table_take(svc->peers, c->key);
		c->changed = true;
		return 0;
	case CHANGE_OBSERVED:
		old = peer_table_get(svc->peers, c->key);
		if (old == NULL || strcmp(old->observed_endpoint, c->endpoint) == 0)
			return 0;
		if ((p = peer_dup(old)) == NULL)
			return -1;
		snprintf(p->observed_endpoint, sizeof(p->observed_endpoint), "%s", c->endpoint);
		break;
	case CHANGE_PUT:
		old = peer_table_get(svc->peers, c->put->key);
		p = c->put;
		c->put = NULL;
		p->last_seen_ms = now;
		if (old != NULL && peer_same(old, p)) {
			peer_free(p);
			c->cur = old;
			return 0;
		}
		break;
	}
	p->revision = ++*rev;
	if (write_add(svc, p, old, p->key, p->network) < 0) {
		peer_free(p);
		return -1;
	}
	displaced = peer_table_put(svc->peers, p);
	if (displaced == p) {
		peer_free(p);
		return -1;
	}
	c->old = displaced;
	c->cur = p;
	c->changed = true;
	return 0;
}

/* The log lines of a committed change. The watchers hear of it from the follower, which
 * reads the change log after the commit: one path for every change. */
static void
announce_change(struct change *c)
{
	switch (c->kind) {
	case CHANGE_UPDATE:
	case CHANGE_PUT:
		log_debug("%s: revision %llu", c->cur->name, (unsigned long long)c->cur->revision);
		if (c->old == NULL)
			log_info("new peer %s in network %s", c->cur->name, c->cur->network);
		break;
	case CHANGE_PRESENCE:
		log_info("%s is %s", c->cur->name, c->cur->online ? "online" : "offline");
		break;
	case CHANGE_OBSERVED:
		/* the hub logs the change at info */
		log_debug("%s: observed endpoint %s, revision %llu", c->cur->name,
		    c->cur->observed_endpoint, (unsigned long long)c->cur->revision);
		break;
	case CHANGE_REMOVE:
		log_info("removed peer %s from network %s", c->old->name, c->old->network);
		break;
	}
}

static void batch_done(struct service *svc, uint64_t revision, int err);

static void
on_written(void *arg, uint64_t revision, int err)
{
	batch_done(arg, revision, err);
}

/* Takes what is queued (one change alone after a refusal of the database, below), applies
 * it to the table and writes it; batch_done answers when the store has. One batch at a
 * time, and never while the follower is importing records into the table. */
static void
commit_batch(void *arg)
{
	struct service *svc = arg;
	struct change *list = svc->pending, *c;
	uint64_t rev = svc->revision, keep = svc->cfg.log_max_entries, upto;
	int64_t now = loop_wall_ms();
	bool ok = true;
	int r;

	if (list == NULL || svc->batch != NULL)
		return;
	if (follower_busy(svc->follower)) {
		svc->commit_after_follow = true;
		return;
	}
	if (list->solo) {
		svc->pending = list->next;
		list->next = NULL;
		if (svc->pending == NULL)
			svc->pending_tail = &svc->pending;
	} else {
		svc->pending = NULL;
		svc->pending_tail = &svc->pending;
	}
	svc->batch = list;
	svc->batch_t0 = metrics_clock_ns();
	svc->n_writes = 0;
	for (c = list; ok && c != NULL; c = c->next)
		if (apply_change(svc, c, &rev, now) < 0)
			ok = false;
	if (!ok) {
		batch_done(svc, svc->revision, -EIO);
		return;
	}
	if (svc->n_writes == 0) {
		batch_done(svc, svc->revision, 0);
		return;
	}
	/* never the rows the follower has yet to read: a batch larger than the limit is
	 * trimmed by the next commit (rows are stamped now: the age cut spares them) */
	upto = rev > keep ? rev - keep : 0;
	if (upto > follower_applied(svc->follower))
		upto = follower_applied(svc->follower);
	follower_hold(svc->follower, true);
	r = store_write(svc->store, svc->writes, svc->n_writes, now, upto,
	    now - (int64_t)svc->cfg.log_max_age_ms, on_written, svc);
	if (r != 0)
		batch_done(svc, svc->revision, r);
}

/* The database refused a batch (an address or key another server's host took first):
 * each of its Updates is tried alone, so only the one that clashes is refused. */
static bool
batch_split(struct service *svc, struct change *list)
{
	struct change *c, *last = NULL;
	size_t n = 0;

	for (c = list; c != NULL; c = c->next, n++) {
		last = c;
		/* an operator's record went with the undo: that batch fails whole */
		if (c->kind == CHANGE_PUT)
			return false;
	}
	if (n < 2 || list->solo)
		return false;
	for (c = list; c != NULL; c = c->next) {
		c->solo = true;
		c->changed = false;
		c->old = c->cur = NULL;
		c->revision = 0;
		c->refused[0] = '\0';
	}
	last->next = svc->pending;
	if (svc->pending == NULL)
		svc->pending_tail = &last->next;
	svc->pending = list;
	log_info("database refused a batch of %zu changes: trying them one at a time", n);
	return true;
}

/* The fixing of the batch's revisions: a shared store numbers a commit after every
 * other server's before it. */
static void
batch_renumber(struct service *svc, struct change *list, uint64_t delta)
{
	for (struct change *c = list; c != NULL; c = c->next) {
		if (!c->changed)
			continue;
		if (c->kind == CHANGE_REMOVE)
			c->revision += delta;
		else
			c->cur->revision += delta;
	}
	(void)svc;
}

static void
batch_done(struct service *svc, uint64_t revision, int err)
{
	struct change *list = svc->batch, *c, *next;
	uint64_t n = 0;
	bool ok = err == 0, changed;
	const char *clash = "";

	svc->batch = NULL;
	follower_hold(svc->follower, false);
	for (c = list; c != NULL; c = c->next)
		if (c->changed)
			n++;
	if (ok && n > 0 && revision - n != svc->revision)
		batch_renumber(svc, list, revision - n - svc->revision);
	if (!ok)
		undo_batch(svc, list);
	/* the table is what the store holds again: Watch streams that came meanwhile start,
	 * before the follower's events of this commit reach them */
	if (svc->parked != NULL)
		watch_unpark_all(svc);
	if (svc->reads != NULL)
		svc_reads_unpark_all(svc);
	if (!ok) {
		if (err == -EEXIST && batch_split(svc, list)) {
			loop_defer(svc->loop, &svc->commit_defer, commit_batch, svc);
			return;
		}
		if (err == -EEXIST)
			clash = "a tunnel address or the key of this certificate is held by another "
			    "host of its network (the database refused it)";
		/* the store logs the first failure of a run of them */
		log_debug("store write failed: the batch was rolled back");
	}
	changed = ok && n > 0;
	/* the table holds every revision up to the commit only when nobody else committed
	 * in between; else the follower brings it there */
	if (changed && revision - n == svc->revision)
		svc->revision = revision;
	if (ok && n > 0)
		metrics_observe_since(svc->metrics, METRICS_COMMIT, svc->batch_t0);
	svc->commit_ns = metrics_clock_ns();
	/* Acknowledge only now that the changes are durable, then tell the watchers. */
	for (c = list; c != NULL; c = next) {
		next = c->next;
		if (c->kind == CHANGE_UPDATE && c->call != NULL) {
			rpc_call_on_cancel(c->call, NULL, NULL);
			if (ok && c->refused[0] != '\0')
				rpc_call_fail(c->call, GRPC_FAILED_PRECONDITION, "%s", c->refused);
			else if (ok) {
				reply_update(svc, c);
				metrics_observe_since(svc->metrics, METRICS_UPDATE, c->recv_ns);
			} else if (clash[0] != '\0')
				rpc_call_fail(c->call, GRPC_FAILED_PRECONDITION, "%s", clash);
			else
				rpc_call_fail(c->call, GRPC_UNAVAILABLE, err == -ENOTCONN ?
				    "the database is not reachable; try again" : "store write failed");
		}
		if (ok && c->changed)
			announce_change(c);
		if (!ok && clash[0] == '\0' && svc_retry_take(svc, c))
			continue;
		if (c->done != NULL)
			c->done(c, ok, c->done_arg);
		peer_free(c->put);
		/* A removed record is freed here; a replaced one too. */
		peer_free(c->old);
		free(c);
	}
	if (ok)
		svc_retry_reset(svc);
	else
		svc_retry_schedule(svc);
	/* the doorbell, after the acknowledgements as the announcements were */
	if (changed)
		follower_ring(svc->follower);
	/* a hook may queue changes of its own, for the next batch */
	for (size_t i = 0; changed && i < svc->n_on_commit; i++)
		svc->on_commit[i].fn(svc->on_commit[i].arg, svc->revision);
	if (changed)
		links_after_commit(svc->links);
	/* what queued while this batch was in the store's hands */
	if (svc->pending != NULL)
		loop_defer(svc->loop, &svc->commit_defer, commit_batch, svc);
}

void
service_commit_resume(struct service *svc)
{
	if (svc->commit_after_follow) {
		svc->commit_after_follow = false;
		loop_defer(svc->loop, &svc->commit_defer, commit_batch, svc);
	}
}

int
service_set_observed(struct service *svc, const uint8_t key[WG_KEY_LEN], const char *endpoint)
{
	struct change *c;

	if (strlen(endpoint) >= sizeof(c->endpoint) || (c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->kind = CHANGE_OBSERVED;
	memcpy(c->key, key, WG_KEY_LEN);
	snprintf(c->endpoint, sizeof(c->endpoint), "%s", endpoint);
	svc_change_queue(svc, c);
	return 0;
}

void
svc_handle_update(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct service *svc = arg;
	struct agent_conn *ac = rpc_call_conn_user(call);
	Wiresync__V1__UpdateRequest *m;
	struct change *pu;
	char err[256];
	int st;
	uint32_t retry_ms;
	bool first;

	/* Before any work: a certificate holder cannot make us write faster than this. */
	if (svc->update_rate != NULL && !ratelimit_take(svc->update_rate, ac->ident,
	    loop_now_ms(svc->loop), &retry_ms, &first)) {
		if (first)
			log_warnx("%s: Updates over the rate limit (update_rate_per_s %u, update_burst "
			    "%u): RESOURCE_EXHAUSTED until they slow down", ac->id.name,
			    svc->cfg.update_rate_per_s, svc->cfg.update_burst);
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "Update rate limit: %u per second, "
		    "bursts of %u; retry in %u ms", svc->cfg.update_rate_per_s,
		    svc->cfg.update_burst, retry_ms);
		return;
	}
	m = wiresync__v1__update_request__unpack(NULL, len, req);
	if (m == NULL) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "UpdateRequest does not decode");
		return;
	}
	pu = calloc(1, sizeof(*pu));
	if (pu == NULL) {
		wiresync__v1__update_request__free_unpacked(m, NULL);
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	st = validate_update(m, &ac->id, &pu->f, err, sizeof(err));
	wiresync__v1__update_request__free_unpacked(m, NULL);
	if (st != GRPC_OK) {
		free(pu);
		log_info("%s: Update refused: %s", ac->id.name, err);
		rpc_call_fail(call, st, "%s", err);
		return;
	}
	pu->kind = CHANGE_UPDATE;
	pu->recv_ns = metrics_clock_ns();
	pu->call = call;
	pu->ac = ac;
	rpc_call_on_cancel(call, update_cancelled, pu);
	svc_change_queue(svc, pu);
}
