/* The PostgreSQL store's cluster tables (server/store_pg.h): each server's lease and the
 * expiry of dead servers' hosts, the shared session ticket keys, link health and the audit
 * log. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "rpc/log.h"
#include "server/store_pg.h"
#include "server/pgrows.h"
#include "server/store_pg_impl.h"

/* ---- leases ------------------------------------------------------------------------- */

/* The row as it was before this renewal, to the caller's prev_fn (store_pg_lease). */
static void
on_lease_row(void *arg, const PGresult *res, const char *err)
{
	struct call *k = arg;

	if (res != NULL && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) && k->prev_fn != NULL)
		k->prev_fn(k->arg, strtoll(PQgetvalue(res, 0, 0), NULL, 10),
		    PQgetisnull(res, 0, 1) ? "" : PQgetvalue(res, 0, 1));
	pg_answered(k, res != NULL, err);
}

int
store_pg_lease(struct store_pg *s, const char *address, int64_t started_ms, int64_t now_ms,
    int64_t ttl_ms, void (*prev_fn)(void *arg, int64_t started_ms, const char *address),
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg)
{
	char started[24], until[24];
	const char *v[4] = { s->name, address, started, until };
	struct call *k;
	int r;

	if ((r = pg_call_new(s, done, arg, &k)) != 0)
		return r;
	k->prev_fn = prev_fn;
	snprintf(started, sizeof(started), "%" PRId64, started_ms);
	snprintf(until, sizeof(until), "%" PRId64, now_ms + ttl_ms);
	/* old is the statement's snapshot: the row before this upsert */
	return pg_call_queued(k, pg_send(k, "WITH old AS (SELECT started_ms, address FROM "
	    "servers WHERE name = $1) INSERT INTO servers (name, address, started_ms, "
	    "lease_until_ms) VALUES ($1, $2, $3::bigint, $4::bigint) ON CONFLICT (name) DO "
	    "UPDATE SET address = EXCLUDED.address, started_ms = EXCLUDED.started_ms, "
	    "lease_until_ms = EXCLUDED.lease_until_ms "
	    "RETURNING (SELECT started_ms FROM old), (SELECT address FROM old)",
	    4, v, on_lease_row));
}

/* Who expired: an operator reads it in the log of the server that did it. */
static void
on_dead(void *arg, const PGresult *res, const char *err)
{
	for (int i = 0; res != NULL && i < PQntuples(res); i++)
		log_info("server %s of the cluster is dead to us (its lease ran out at %s ms since "
		    "the epoch): its %s hosts offline", PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
	pg_on_step(arg, res, err);
}

int
store_pg_expire(struct store_pg *s, int64_t now_ms,
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg)
{
	char now[24];
	const char *v[2] = { now, s->name }, *t[1] = { now };
	struct call *k;
	int r;

	if ((r = pg_call_new(s, done, arg, &k)) != 0)
		return r;
	k->rollback = true;
	snprintf(now, sizeof(now), "%" PRId64, now_ms);
	/* two servers expiring one lease at once: the second finds its row gone, and no host
	 * to log; the hosts are marked first (revision -1), then logged as one commit (one
	 * statement may not update a row twice) */
	r = pg_send(k, "BEGIN", 0, NULL, NULL);
	if (r == 0)
		r = pg_send(k, "WITH dead AS (DELETE FROM servers WHERE lease_until_ms < $1::bigint "
		    "AND name <> $2 RETURNING name, lease_until_ms), "
		    "off AS (UPDATE peers SET online = false, online_server = NULL, revision = -1 "
		    "FROM dead WHERE peers.online_server = dead.name RETURNING dead.name) "
		    "SELECT d.name, d.lease_until_ms, (SELECT count(*) FROM off "
		    "WHERE off.name = d.name) FROM dead d", 2, v, on_dead);
	if (r == 0)
		r = pg_send(k, "WITH u AS (SELECT key, network, row_number() OVER (ORDER BY key) "
		    "AS ord FROM peers WHERE revision = -1), n AS (SELECT count(*) AS n FROM u), "
		    "r AS (UPDATE meta SET value = value + n.n FROM n WHERE name = 'revision' "
		    "RETURNING value - n.n AS base), "
		    "c AS (INSERT INTO changes (revision, key, network, ts_ms, removed) "
		    "SELECT r.base + u.ord, u.key, u.network, $1::bigint, false FROM r, u "
		    "RETURNING revision, key), "
		    "p AS (UPDATE peers SET revision = c.revision FROM c WHERE peers.key = c.key) "
		    "SELECT r.base + n.n FROM r, n", 1, t, pg_on_revision);
	if (r == 0)
		r = pg_send(k, "SELECT pg_notify('" COMMIT_CHANNEL "', value::text) FROM meta "
		    "WHERE name = 'revision'", 0, NULL, NULL);
	if (r == 0)
		r = pg_send(k, "COMMIT", 0, NULL, NULL);
	return pg_call_queued(k, r);
}

static void
on_servers(void *arg, const PGresult *res, const char *err)
{
	struct call *k = arg;
	void (*fn)(void *, const char *, const char *, int64_t) = k->list_fn;

	for (int i = 0; res != NULL && fn != NULL && i < PQntuples(res); i++)
		fn(k->arg, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		    strtoll(PQgetvalue(res, i, 2), NULL, 10));
	pg_answered(k, res != NULL, err);
}

int
store_pg_servers(struct store_pg *s,
    void (*fn)(void *arg, const char *name, const char *address, int64_t lease_until_ms),
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg)
{
	struct call *k;
	int r;

	if ((r = pg_call_new(s, done, arg, &k)) != 0)
		return r;
	k->list_fn = fn;
	return pg_call_queued(k, pg_send(k, "SELECT name, address, lease_until_ms FROM servers "
	    "ORDER BY name", 0, NULL, on_servers));
}

/* ---- session ticket keys ------------------------------------------------------------ */

static void
on_tickets(void *arg, const PGresult *res, const char *err)
{
	struct call *k = arg;
	uint8_t recs[2 * 80];
	size_t n = 0, len;
	int64_t created = 0;

	for (int i = 0; res != NULL && i < PQntuples(res) && n < 2; i++) {
		uint8_t *b = pg_unhex(PQgetvalue(res, i, 0), &len);
		if (b != NULL && len == 80) {
			memcpy(recs + 80 * n, b, 80);
			if (n++ == 0)
				created = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		}
		if (b != NULL) {
			OPENSSL_cleanse(b, len);
			PQfreemem(b);
		}
	}
	if (res != NULL && k->keys_fn != NULL)
		k->keys_fn(k->arg, recs, n, created);
	OPENSSL_cleanse(recs, sizeof(recs));
	pg_answered(k, res != NULL, err);
}

int
store_pg_tickets(struct store_pg *s,
    void (*fn)(void *arg, const uint8_t *records, size_t n, int64_t created_ms),
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg)
{
	struct call *k;
	int r;

	if ((r = pg_call_new(s, done, arg, &k)) != 0)
		return r;
	k->keys_fn = fn;
	return pg_call_queued(k, pg_send(k, "SELECT key, created_ms FROM ticket_keys ORDER BY id DESC "
	    "LIMIT 2", 0, NULL, on_tickets));
}

int
store_pg_ticket_add(struct store_pg *s, const uint8_t record[80], bool forget_old,
    int64_t now_ms, void (*done)(void *arg, uint64_t revision, const char *err), void *arg)
{
	char key[2 * 80 + 3], now[24];
	const char *v[2] = { key, now };
	struct call *k;
	int r;

	if ((r = pg_call_new(s, done, arg, &k)) != 0)
		return r;
	k->rollback = true;
	pgrows_hex(key, record, 80);
	snprintf(now, sizeof(now), "%" PRId64, now_ms);
	/* the table's lock orders two servers adding at once: each takes the next id */
	r = pg_send(k, "BEGIN", 0, NULL, NULL);
	if (r == 0)
		r = pg_send(k, "LOCK TABLE ticket_keys IN EXCLUSIVE MODE", 0, NULL, NULL);
	if (r == 0)
		r = pg_send(k, "INSERT INTO ticket_keys (id, key, created_ms) SELECT "
		    "coalesce(max(id), 0) + 1, $1::bytea, $2::bigint FROM ticket_keys", 2, v, NULL);
	if (r == 0)
		r = pg_send(k, forget_old ? "DELETE FROM ticket_keys WHERE id < (SELECT max(id) "
		    "FROM ticket_keys)" : "DELETE FROM ticket_keys WHERE id < (SELECT max(id) - 1 "
		    "FROM ticket_keys)", 0, NULL, NULL);
	if (r == 0)
		r = pg_send(k, "COMMIT", 0, NULL, NULL);
	OPENSSL_cleanse(key, sizeof(key));
	return pg_call_queued(k, r);
}


/* ---- link health ------------------------------------------------------------------- */

int
store_pg_links_replace(struct store_pg *s, const uint8_t reporter[WG_KEY_LEN],
    const struct store_link *v, size_t n,
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg)
{
	char rk[2 * WG_KEY_LEN + 3], pk[2 * WG_KEY_LEN + 3], hs[24], rx[24], tx[24], at[24];
	const char *dv[1] = { rk }, *iv[9];
	struct call *k;
	int r;

	if ((r = pg_call_new(s, done, arg, &k)) != 0)
		return r;
	k->rollback = true;
	pgrows_hex(rk, reporter, WG_KEY_LEN);
	r = pg_send(k, "BEGIN", 0, NULL, NULL);
	if (r == 0)
		r = pg_send(k, "DELETE FROM link_health WHERE reporter_key = $1::bytea", 1, dv, NULL);
	for (size_t i = 0; i < n && r == 0; i++) {
		pgrows_hex(pk, v[i].peer, WG_KEY_LEN);
		snprintf(hs, sizeof(hs), "%" PRId64, v[i].last_handshake_ms);
		/* bigint is signed: a counter past 2^63 is stored as its two's complement, as
		 * copy-store does, and strtoull reads it back as it was */
		snprintf(rx, sizeof(rx), "%" PRId64, (int64_t)v[i].rx_bytes);
		snprintf(tx, sizeof(tx), "%" PRId64, (int64_t)v[i].tx_bytes);
		snprintf(at, sizeof(at), "%" PRId64, v[i].reported_ms);
		iv[0] = rk; iv[1] = pk; iv[2] = v[i].path; iv[3] = v[i].endpoint; iv[4] = hs;
		iv[5] = rx; iv[6] = tx; iv[7] = v[i].down_reason; iv[8] = at;
		r = pg_send(k, "INSERT INTO link_health (reporter_key, peer_key, path, endpoint, "
		    "last_handshake_ms, rx_bytes, tx_bytes, down_reason, reported_ms) VALUES "
		    "($1::bytea, $2::bytea, $3, $4, $5::bigint, $6::bigint, $7::bigint, $8, "
		    "$9::bigint)", 9, iv, NULL);
	}
	if (r == 0)
		r = pg_send(k, "COMMIT", 0, NULL, NULL);
	return pg_call_queued(k, r);
}

int
store_pg_links_drop(struct store_pg *s, const uint8_t key[WG_KEY_LEN],
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg)
{
	char kk[2 * WG_KEY_LEN + 3];
	const char *v[1] = { kk };
	struct call *k;
	int r;

	if ((r = pg_call_new(s, done, arg, &k)) != 0)
		return r;
	pgrows_hex(kk, key, WG_KEY_LEN);
	return pg_call_queued(k, pg_send(k, "DELETE FROM link_health WHERE reporter_key = "
	    "$1::bytea OR peer_key = $1::bytea", 1, v, NULL));
}

static void
on_links(void *arg, const PGresult *res, const char *err)
{
	struct call *k = arg;
	struct store_link l;

	for (int i = 0; res != NULL && i < PQntuples(res); i++) {
		size_t rl = 0, pl = 0;
		uint8_t *rb = pg_unhex(PQgetvalue(res, i, 0), &rl);
		uint8_t *pb = pg_unhex(PQgetvalue(res, i, 1), &pl);

		memset(&l, 0, sizeof(l));
		if (rb != NULL && pb != NULL && rl == WG_KEY_LEN && pl == WG_KEY_LEN &&
		    snprintf(l.path, sizeof(l.path), "%s", PQgetvalue(res, i, 2)) <
		    (int)sizeof(l.path) &&
		    snprintf(l.endpoint, sizeof(l.endpoint), "%s", PQgetvalue(res, i, 3)) <
		    (int)sizeof(l.endpoint) &&
		    snprintf(l.down_reason, sizeof(l.down_reason), "%s", PQgetvalue(res, i, 7)) <
		    (int)sizeof(l.down_reason)) {
			memcpy(l.reporter, rb, WG_KEY_LEN);
			memcpy(l.peer, pb, WG_KEY_LEN);
			l.last_handshake_ms = strtoll(PQgetvalue(res, i, 4), NULL, 10);
			l.rx_bytes = strtoull(PQgetvalue(res, i, 5), NULL, 10);
			l.tx_bytes = strtoull(PQgetvalue(res, i, 6), NULL, 10);
			l.reported_ms = strtoll(PQgetvalue(res, i, 8), NULL, 10);
			if (k->link_fn != NULL)
				k->link_fn(k->arg, &l);
		} else
			log_warnx("database: a bad link_health row skipped");
		PQfreemem(rb);
		PQfreemem(pb);
	}
	pg_answered(k, res != NULL, err);
}

int
store_pg_links_load(struct store_pg *s, void (*fn)(void *arg, const struct store_link *l),
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg)
{
	struct call *k;
	int r;

	if ((r = pg_call_new(s, done, arg, &k)) != 0)
		return r;
	k->link_fn = fn;
	return pg_call_queued(k, pg_send(k, "SELECT reporter_key, peer_key, path, endpoint, "
	    "last_handshake_ms, rx_bytes, tx_bytes, down_reason, reported_ms FROM link_health "
	    "ORDER BY reporter_key, peer_key", 0, NULL, on_links));
}

/* ---- the audit log ----------------------------------------------------------------- */

int
store_pg_audit_add(struct store_pg *s, const struct store_audit *e, uint64_t max_entries,
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg)
{
	char t[24], keep[24];
	const char *v[6], *pv[1] = { keep };
	struct call *k;
	int r;

	if ((r = pg_call_new(s, done, arg, &k)) != 0)
		return r;
	k->rollback = true;
	snprintf(t, sizeof(t), "%" PRId64, e->time_ms);
	snprintf(keep, sizeof(keep), "%" PRIu64, max_entries);
	v[0] = t; v[1] = e->network; v[2] = e->admin; v[3] = e->serial; v[4] = e->action;
	v[5] = e->detail;
	r = pg_send(k, "BEGIN", 0, NULL, NULL);
	if (r == 0)
		r = pg_send(k, "INSERT INTO audit (time_ms, network, admin, serial, action, detail) "
		    "VALUES ($1::bigint, $2, $3, $4, $5, $6)", 6, v, NULL);
	/* the newest max_entries of every network stay, as on SQLite */
	if (r == 0)
		r = pg_send(k, "DELETE FROM audit WHERE id <= (SELECT max(id) FROM audit) - "
		    "$1::bigint", 1, pv, NULL);
	if (r == 0)
		r = pg_send(k, "COMMIT", 0, NULL, NULL);
	return pg_call_queued(k, r);
}

static void
on_audit(void *arg, const PGresult *res, const char *err)
{
	struct call *k = arg;
	struct store_audit e;

	for (int i = 0; res != NULL && i < PQntuples(res); i++) {
		memset(&e, 0, sizeof(e));
		e.id = strtoull(PQgetvalue(res, i, 0), NULL, 10);
		e.time_ms = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		snprintf(e.network, sizeof(e.network), "%s", PQgetvalue(res, i, 2));
		snprintf(e.admin, sizeof(e.admin), "%s", PQgetvalue(res, i, 3));
		snprintf(e.serial, sizeof(e.serial), "%s", PQgetvalue(res, i, 4));
		snprintf(e.action, sizeof(e.action), "%s", PQgetvalue(res, i, 5));
		snprintf(e.detail, sizeof(e.detail), "%s", PQgetvalue(res, i, 6));
		if (k->audit_fn != NULL && k->audit_fn(k->arg, &e) != 0)
			break;
	}
	pg_answered(k, res != NULL, err);
}

int
store_pg_audit_list(struct store_pg *s, const char *network, uint64_t before_id,
    uint32_t limit, int (*fn)(void *arg, const struct store_audit *e),
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg)
{
	char b[24], l[24];
	const char *v[3] = { network, b, l };
	struct call *k;
	int r;

	if ((r = pg_call_new(s, done, arg, &k)) != 0)
		return r;
	k->audit_fn = fn;
	snprintf(b, sizeof(b), "%" PRIu64, before_id);
	snprintf(l, sizeof(l), "%" PRIu32, limit);
	/* the network's rows and the servers' own (network ""), as on SQLite */
	return pg_call_queued(k, pg_send(k, "SELECT id, time_ms, network, admin, serial, action, "
	    "detail FROM audit WHERE ($1::text IS NULL OR network = $1 OR network = '') AND "
	    "($2::bigint = 0 OR id < $2::bigint) ORDER BY id DESC LIMIT $3::integer", 3, v,
	    on_audit));
}
