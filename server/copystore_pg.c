/* wiresyncd --copy-store: the PostgreSQL side (server/copystore_impl.h), over
 * server/pgconn.h, its loop run until each step is answered (an offline tool may block).
 * The schema is server/pgschema.c's; rows are in its forms, which are the SQLite store's
 * text forms (store_impl.h's address lists, as server/store_pg.c writes them), bytea as
 * hex text. A target's writes are queued as they come and answered in order; the first
 * failure aborts its transaction, and the commit says so. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/copystore_impl.h"
#include "server/pgconn.h"
#include "server/pgrows.h"
#include "server/pgschema.h"
#include "server/store_impl.h"

#define WAIT_MS 100

struct copy_pg {
	struct loop *l;
	struct pgconn *c;
	const char *role;
	bool up, in_tx, migrated;
	char down[768];                /* why the connection went, first time */
	int pending;                   /* queries not answered yet */
	char err[768];                 /* the first query that failed */
	char name[256];
	struct copy *k;                /* a source's copy */
	struct copy_held *held;        /* a target's count, being read */
	bool flag;                     /* a one-value answer */
};

/* One query in flight: its answer goes to fn unless an earlier one failed. */
struct query {
	struct copy_pg *p;
	void (*fn)(struct copy_pg *p, const PGresult *res, size_t which);
	size_t which;                  /* the source's table it reads */
};

static void
on_up(void *arg)
{
	((struct copy_pg *)arg)->up = true;
}

static void
on_down(void *arg, const char *why)
{
	struct copy_pg *p = arg;

	p->up = false;
	if (p->down[0] == '\0')
		snprintf(p->down, sizeof(p->down), "%s", why);
}

static const struct pgconn_cb pg_cbs = { .on_up = on_up, .on_down = on_down };

static void
on_answer(void *arg, const PGresult *res, const char *err)
{
	struct query *q = arg;
	struct copy_pg *p = q->p;

	if (res == NULL && p->err[0] == '\0')
		snprintf(p->err, sizeof(p->err), "%s", err);
	else if (res != NULL && p->err[0] == '\0' && q->fn != NULL)
		q->fn(p, res, q->which);
	p->pending--;
	free(q);
}

/* Queues sql; nothing more once a query failed (its transaction is lost anyway). */
static int
send_q(struct copy_pg *p, const char *sql, int n, const char *const *v,
    void (*fn)(struct copy_pg *, const PGresult *, size_t), size_t which)
{
	struct query *q;
	int r;

	if (p->err[0] != '\0')
		return -EIO;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return -ENOMEM;
	q->p = p;
	q->fn = fn;
	q->which = which;
	if ((r = pgconn_send(p->c, sql, n, v, on_answer, q)) != 0) {
		free(q);
		snprintf(p->err, sizeof(p->err), "%s", p->down[0] != '\0' ? p->down :
		    "cannot send a query (connection lost)");
		return r;
	}
	p->pending++;
	return 0;
}

/* Runs the loop until every queued query is answered (a lost connection answers them). */
static int
wait_all(struct copy_pg *p, char *err, size_t errlen)
{
	while (p->pending > 0)
		loop_run_once(p->l, WAIT_MS);
	if (p->err[0] == '\0')
		return 0;
	snprintf(err, errlen, "%s %s: %s", p->role, p->name, p->err);
	return -EIO;
}

/* A bigint column as text. */
static uint64_t
num(const PGresult *res, int i, int col)
{
	return (uint64_t)strtoll(PQgetvalue(res, i, col), NULL, 10);
}

/* ---- the connection ----------------------------------------------------------------- */

static void
on_migrated(void *arg, int version, const char *err)
{
	struct copy_pg *p = arg;

	(void)version;
	if (err != NULL)
		snprintf(p->err, sizeof(p->err), "%s", err);
	p->migrated = true;
}

static void
on_flag(struct copy_pg *p, const PGresult *res, size_t which)
{
	(void)which;
	p->flag = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
}

struct copy_pg *
copy_pg_open(struct loop *l, const char *uri, const char *role, bool source, char *err,
    size_t errlen)
{
	struct copy_pg *p;
	char e[512];

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", role);
		return NULL;
	}
	p->l = l;
	p->role = role;
	if ((p->c = pgconn_new(l, uri, &pg_cbs, p, e, sizeof(e))) == NULL) {
		snprintf(err, errlen, "%s: %s", role, e);
		free(p);
		return NULL;
	}
	snprintf(p->name, sizeof(p->name), "%s", pgconn_target(p->c));
	/* the first attempt's outcome: pgconn would go on trying, a copy does not */
	while (!p->up && p->down[0] == '\0')
		loop_run_once(l, WAIT_MS);
	if (!p->up) {
		snprintf(err, errlen, "%s %s: check the URI and that the server runs", role,
		    p->down);
		goto fail;
	}
	snprintf(p->name, sizeof(p->name), "%s", pgconn_target(p->c));
	/* the migration's "already exists, skipping" notices are no news to an operator */
	send_q(p, "SET client_min_messages = warning", 0, NULL, NULL, 0);
	if (source) {
		/* a database that holds no store yet would get an empty one */
		send_q(p, "SELECT to_regclass('ws_schema') IS NOT NULL", 0, NULL, on_flag, 0);
		if (wait_all(p, err, errlen) != 0)
			goto fail;
		if (!p->flag) {
			snprintf(err, errlen, "FROM %s holds no wiresync store (no table "
			    "ws_schema): name the database a wiresyncd used", p->name);
			goto fail;
		}
	}
	if (pgschema_migrate(p->c, on_migrated, p) != 0) {
		snprintf(err, errlen, "%s %s: cannot start the migration", role, p->name);
		goto fail;
	}
	while (!p->migrated)
		loop_run_once(l, WAIT_MS);
	if (p->err[0] != '\0') {
		snprintf(err, errlen, "%s %s: %s", role, p->name, p->err);
		goto fail;
	}
	return p;
fail:
	copy_pg_close(p);
	return NULL;
}

void
copy_pg_close(struct copy_pg *p)
{
	if (p == NULL)
		return;
	if (p->in_tx && p->up) {
		/* never a half copy: what was not committed goes */
		struct query *q = calloc(1, sizeof(*q));
		if (q != NULL) {
			q->p = p;
			if (pgconn_send(p->c, "ROLLBACK", 0, NULL, on_answer, q) == 0)
				p->pending++;
			else
				free(q);
		}
		while (p->pending > 0)
			loop_run_once(p->l, WAIT_MS);
	}
	pgconn_del(p->c);
	free(p);
}

const char *
copy_pg_name(const struct copy_pg *p)
{
	return p->name;
}

const char *
copy_pg_error(const struct copy_pg *p)
{
	return p->err[0] != '\0' ? p->err : NULL;
}

/* ---- the source --------------------------------------------------------------------- */

static void
on_rows(struct copy_pg *p, const PGresult *res, size_t which)
{
	char why[512];
	const char *w;

	for (int i = 0; i < PQntuples(res) && p->k->err == 0; i++) {
		if ((w = copy_pg_row(which, p->k, res, i)) != NULL) {
			snprintf(why, sizeof(why), "FROM %s: table %s, row %d: %s", p->name,
			    copy_pg_table(which), i + 1, w);
			copy_fail(p->k, -EIO, why);
		}
	}
}

static void
on_meta(struct copy_pg *p, const PGresult *res, size_t which)
{
	(void)which;
	for (int i = 0; i < PQntuples(res); i++) {
		uint64_t v = num(res, i, 1);
		if (strcmp(PQgetvalue(res, i, 0), "revision") == 0)
			p->k->revision = v;
		else
			p->k->join_next_id = v;
	}
}

int
copy_pg_read(struct copy_pg *p, struct copy *k, char *err, size_t errlen)
{
	int r;

	p->k = k;
	/* one snapshot: the revision and every row it covers, a running cluster or not */
	r = send_q(p, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, NULL, 0);
	p->in_tx = r == 0;
	if (r == 0)
		r = send_q(p, "SELECT name, value FROM meta WHERE name IN ('revision', "
		    "'join_next_id')", 0, NULL, on_meta, 0);
	for (size_t i = 0; i < copy_pg_tables() && r == 0; i++)
		r = send_q(p, copy_pg_table_sql(i), 0, NULL, on_rows, i);
	if (r == 0 && (r = send_q(p, "COMMIT", 0, NULL, NULL, 0)) == 0)
		p->in_tx = false;
	if ((r = wait_all(p, err, errlen)) != 0)
		p->in_tx = true;             /* closed with a ROLLBACK */
	return r;
}

/* ---- the target --------------------------------------------------------------------- */

static void
on_held(struct copy_pg *p, const PGresult *res, size_t which)
{
	(void)which;
	struct copy_held *h = p->held;

	if (PQntuples(res) != 1)
		return;
	h->peers = num(res, 0, 0);
	h->joins = num(res, 0, 1);
	h->tokens = num(res, 0, 2);
	h->revision = num(res, 0, 3);
	h->log_rows = num(res, 0, 4);
	h->audit_max_id = num(res, 0, 5);
	h->live_servers = num(res, 0, 6);
}

int
copy_pg_begin(struct copy_pg *p, struct copy_held *held, char *err, size_t errlen)
{
	char now[24];
	const char *v[1] = { now };
	int r;

	snprintf(now, sizeof(now), "%" PRId64, loop_wall_ms());
	p->held = held;
	r = send_q(p, "BEGIN", 0, NULL, NULL, 0);
	p->in_tx = r == 0;
	/* a wiresyncd writing TO would wait for the copy: the copy waits for it no longer */
	if (r == 0)
		r = send_q(p, "SET LOCAL lock_timeout = '30s'", 0, NULL, NULL, 0);
	if (r == 0)
		r = send_q(p, "LOCK TABLE meta, peers, peer_tunnels, changes, join_requests, "
		    "join_tokens, audit, link_health IN EXCLUSIVE MODE", 0, NULL, NULL, 0);
	if (r == 0)
		r = send_q(p, "SELECT (SELECT count(*) FROM peers), (SELECT count(*) FROM "
		    "join_requests), (SELECT count(*) FROM join_tokens), (SELECT value FROM meta "
		    "WHERE name = 'revision'), (SELECT count(*) FROM changes), (SELECT "
		    "coalesce(max(id), 0) FROM audit), (SELECT count(*) FROM servers WHERE "
		    "lease_until_ms > $1::bigint)", 1, v, on_held, 0);
	r = wait_all(p, err, errlen);
	p->held = NULL;
	return r;
}

static int
t_peer(void *t, const struct peer *p)
{
	struct copy_pg *pg = t;
	struct pgrows_peer x;
	const char *v[14], *tv[3];
	int r;

	if ((r = pgrows_peer_text(p, &x)) != 0)
		return r;
	v[0] = x.key; v[1] = p->name; v[2] = p->network; v[3] = x.port; v[4] = x.tunnel;
	v[5] = x.lan; v[6] = x.wan; v[7] = x.lan_id; v[8] = p->observed_endpoint;
	v[9] = x.last_seen; v[10] = x.revision; v[11] = x.cert; v[12] = x.chain;
	v[13] = p->is_static ? "t" : "f";
	/* offline, held by no server's lease */
	r = send_q(pg, "INSERT INTO peers (key, name, network, listen_port, tunnel_ips, lan_ips, "
	    "wan_ip, lan_id, observed_endpoint, online, online_server, last_seen_ms, revision, "
	    "certificate, chain, static) VALUES ($1::bytea, $2, $3, $4::integer, $5, $6, $7, "
	    "$8::bytea, $9, false, NULL, $10::bigint, $11::bigint, $12::bytea, $13::bytea, "
	    "$14::boolean)", 14, v, NULL, 0);
	pgrows_peer_free(&x);
	if (r != 0)
		return r;
	/* the addresses it holds, as store_pg.c claims them: one key per address and network */
	tv[0] = p->network;
	tv[1] = x.tunnels;
	tv[2] = x.key;
	return send_q(pg, PGSCHEMA_TUNNELS_SQL, 3, tv, NULL, 0);
}

static int
t_change(void *t, const struct store_change *c, int64_t ts_ms)
{
	char rev[24], key[2 * WG_KEY_LEN + 3], ts[24];
	const char *v[5] = { rev, key, c->network, ts, c->removed ? "t" : "f" };

	snprintf(rev, sizeof(rev), "%" PRIu64, c->revision);
	pgrows_hex(key, c->key, WG_KEY_LEN);
	snprintf(ts, sizeof(ts), "%" PRId64, ts_ms);
	return send_q(t, "INSERT INTO changes (revision, key, network, ts_ms, removed) VALUES "
	    "($1::bigint, $2::bytea, $3, $4::bigint, $5::boolean)", 5, v, NULL, 0);
}

/* A statement of pgrows.h's, queued (its parameters freed either way). */
static int
send_stmt(void *t, struct pgrows_stmt *st, int r)
{
	if (r == 0)
		r = send_q(t, st->sql, st->n, (const char *const *)st->v, NULL, 0);
	pgrows_stmt_free(st);
	return r;
}

static int
t_join(void *t, const struct store_join *j)
{
	struct pgrows_stmt st;

	return send_stmt(t, &st, pgrows_join_put(j, &st));
}

static int
t_token(void *t, const struct store_token *tk)
{
	struct pgrows_stmt st;

	return send_stmt(t, &st, pgrows_token_put(tk, &st));
}

static int
t_audit(void *t, const struct store_audit *e)
{
	char id[24], time[24];
	const char *v[7] = { id, time, e->network, e->admin, e->serial, e->action, e->detail };

	snprintf(id, sizeof(id), "%" PRIu64, e->id);
	snprintf(time, sizeof(time), "%" PRId64, e->time_ms);
	return send_q(t, "INSERT INTO audit (id, time_ms, network, admin, serial, action, detail) "
	    "VALUES ($1::bigint, $2::bigint, $3, $4, $5, $6, $7)", 7, v, NULL, 0);
}

static int
t_link(void *t, const struct store_link *l)
{
	char rep[2 * WG_KEY_LEN + 3], peer[2 * WG_KEY_LEN + 3], hs[24], rx[24], tx[24], at[24];
	const char *v[9] = { rep, peer, l->path, l->endpoint, hs, rx, tx, l->down_reason, at };

	pgrows_hex(rep, l->reporter, WG_KEY_LEN);
	pgrows_hex(peer, l->peer, WG_KEY_LEN);
	snprintf(hs, sizeof(hs), "%" PRId64, l->last_handshake_ms);
	/* bigint, as SQLite's INTEGER holds them: the same bits back */
	snprintf(rx, sizeof(rx), "%" PRId64, (int64_t)l->rx_bytes);
	snprintf(tx, sizeof(tx), "%" PRId64, (int64_t)l->tx_bytes);
	snprintf(at, sizeof(at), "%" PRId64, l->reported_ms);
	return send_q(t, "INSERT INTO link_health (reporter_key, peer_key, path, endpoint, "
	    "last_handshake_ms, rx_bytes, tx_bytes, down_reason, reported_ms) VALUES ($1::bytea, "
	    "$2::bytea, $3, $4, $5::bigint, $6::bigint, $7::bigint, $8, $9::bigint) ON CONFLICT "
	    "(reporter_key, peer_key) DO UPDATE SET path = EXCLUDED.path, endpoint = "
	    "EXCLUDED.endpoint, last_handshake_ms = EXCLUDED.last_handshake_ms, rx_bytes = "
	    "EXCLUDED.rx_bytes, tx_bytes = EXCLUDED.tx_bytes, down_reason = EXCLUDED.down_reason, "
	    "reported_ms = EXCLUDED.reported_ms", 9, v, NULL, 0);
}

const struct copy_sink copy_pg_sink = { .peer = t_peer, .change = t_change, .join = t_join,
    .token = t_token, .audit = t_audit, .link = t_link };

int
copy_pg_commit(struct copy_pg *p, uint64_t revision, uint64_t join_next_id, char *err,
    size_t errlen)
{
	char rev[24], next[24];
	const char *rv[1] = { rev }, *nv[1] = { next };
	int r;

	snprintf(rev, sizeof(rev), "%" PRIu64, revision);
	snprintf(next, sizeof(next), "%" PRIu64, join_next_id);
	r = send_q(p, "UPDATE meta SET value = $1::bigint WHERE name = 'revision'", 1, rv, NULL,
	    0);
	if (r == 0)
		r = send_q(p, "UPDATE meta SET value = greatest(value, $1::bigint) WHERE name = "
		    "'join_next_id'", 1, nv, NULL, 0);
	/* the entries came with their ids: the next one a server adds goes after them */
	if (r == 0)
		r = send_q(p, "SELECT setval(pg_get_serial_sequence('audit', 'id'), (SELECT "
		    "coalesce(max(id), 0) + 1 FROM audit), false)", 0, NULL, NULL, 0);
	if (r == 0)
		r = send_q(p, "COMMIT", 0, NULL, NULL, 0);
	if ((r = wait_all(p, err, errlen)) == 0)
		p->in_tx = false;
	return r;
}
