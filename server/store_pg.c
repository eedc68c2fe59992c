/* The PostgreSQL store's peers and change log (server/store_pg.h). Records are written in
 * the SQLite store's text forms (store_peer.c's address lists), bytea as hex text; each
 * call is a few queries of the current loop turn's pipeline and one callback when its last
 * answer is in. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "rpc/log.h"
#include "server/pgconn.h"
#include "server/pgrows.h"
#include "server/pgschema.h"
#include "server/store_impl.h"
#include "server/store_pg.h"
#include "server/store_pg_impl.h"


void
pg_answered(struct call *k, bool ok, const char *err)
{
	if (!ok && k->err[0] == '\0')
		snprintf(k->err, sizeof(k->err), "%s", err);
	if (--k->pending > 0)
		return;
	if (k->err[0] != '\0' && k->rollback && k->s->ready)
		pgconn_send(k->s->c, "ROLLBACK", 0, NULL, NULL, NULL);
	if (k->done != NULL)
		k->done(k->arg, k->revision, k->err[0] != '\0' ? k->err : NULL);
	free(k);
}

void
pg_on_step(void *arg, const PGresult *res, const char *err)
{
	pg_answered(arg, res != NULL, err);
}

int
pg_send(struct call *k, const char *sql, int n, const char *const *v, pgconn_result_fn fn)
{
	int r = pgconn_send(k->s->c, sql, n, v, fn != NULL ? fn : pg_on_step, k);

	if (r == 0)
		k->pending++;
	return r;
}

/* A call of s; -ENOTCONN (not ready) or -ENOMEM, else 0 and *out. */
int
pg_call_new(struct store_pg *s, void (*done)(void *, uint64_t, const char *), void *arg,
    struct call **out)
{
	struct call *k;

	if (!s->ready)
		return -ENOTCONN;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return -ENOMEM;
	k->s = s;
	k->done = done;
	k->arg = arg;
	k->pending = 1;              /* ours, until every query is queued */
	*out = k;
	return 0;
}

/* The queries are queued (r 0) or not: either way, our count goes. */
int
pg_call_queued(struct call *k, int r)
{
	/* each call a pipeline of its own: a refused commit aborts nobody else's queries,
	 * nor takes a lease's renewal down with its rollback */
	if (r == 0)
		pgconn_end(k->s->c);
	if (r != 0)
		k->done = NULL;          /* the caller hears of it from the return */
	pg_answered(k, true, NULL);
	return r;
}

/* ---- commit ------------------------------------------------------------------------- */

void
pg_on_revision(void *arg, const PGresult *res, const char *err)
{
	struct call *k = arg;

	if (res != NULL && PQntuples(res) == 1)
		k->revision = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	pg_answered(k, res != NULL, err);
}

static int
queue_put(struct call *k, const struct peer *p, bool tunnels_kept)
{
	struct pgrows_peer t;
	const char *v[16], *tv[3];
	int r;

	if ((r = pgrows_peer_text(p, &t)) != 0)
		return r;
	v[0] = t.key; v[1] = p->name; v[2] = p->network; v[3] = t.port; v[4] = t.tunnel;
	v[5] = t.lan; v[6] = t.wan; v[7] = t.lan_id; v[8] = p->observed_endpoint;
	v[9] = p->online ? "t" : "f"; v[10] = t.last_seen; v[11] = t.cert; v[12] = t.chain;
	v[13] = p->is_static ? "t" : "f";
	/* an online host is held by this server's lease (store_pg_expire); one held by
	 * another server stays its own: only its holder (or nobody) sets it offline */
	v[14] = p->online && !p->held_elsewhere ? k->s->name : NULL;
	v[15] = k->s->name;
	r = pg_send(k, PGSCHEMA_PEER_UPSERT_SQL, 16, v, NULL);
	pgrows_peer_free(&t);
	/* the claims of the record it replaces stand: the rewrite was most of a commit's work
	 * on the database (BENCHMARKS.md, "PostgreSQL") */
	if (r != 0 || tunnels_kept)
		return r;
	/* the addresses it holds: its own again, the database refusing one another key holds */
	tv[0] = t.key;
	if ((r = pg_send(k, "DELETE FROM peer_tunnels WHERE key = $1::bytea", 1, tv, NULL)) != 0)
		return r;
	tv[0] = p->network;
	tv[1] = t.tunnels;
	tv[2] = t.key;
	return pg_send(k, PGSCHEMA_TUNNELS_SQL, 3, tv, NULL);
}

int
store_pg_commit(struct store_pg *s, const struct store_write_change *ch, size_t n,
    int64_t now_ms, void (*done)(void *arg, uint64_t revision, const char *err), void *arg)
{
	size_t klen = 2 + n * (2 * WG_KEY_LEN + 8), nlen = 2 + n * (2 * CERT_NAME_MAX + 8);
	size_t rlen = 2 + 2 * n + 1;
	char *keys = malloc(klen), *nets = malloc(nlen), *rm = malloc(rlen);
	char count[24], ts[24], key[2 * WG_KEY_LEN + 3];
	struct pgschema_array ka, na, ra;
	const char *cv[5], *dv[1];
	struct call *k = NULL;
	int r = 0;

	if (keys == NULL || nets == NULL || rm == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = pg_call_new(s, done, arg, &k)) != 0)
		goto out;
	k->rollback = true;
	pgschema_array_init(&ka, keys, klen);
	pgschema_array_init(&na, nets, nlen);
	pgschema_array_init(&ra, rm, rlen);
	r = pg_send(k, "BEGIN", 0, NULL, NULL);
	for (size_t i = 0; i < n && r == 0; i++) {
		const uint8_t *kk = ch[i].put != NULL ? ch[i].put->key : ch[i].key;
		const char *net = ch[i].put != NULL ? ch[i].put->network : ch[i].network;

		if (ch[i].put != NULL) {
			r = queue_put(k, ch[i].put, ch[i].tunnels_kept);
		} else {
			pgrows_hex(key, kk, WG_KEY_LEN);
			dv[0] = key;
			r = pg_send(k, "DELETE FROM peers WHERE key = $1::bytea", 1, dv, NULL);
		}
		if (r == 0 && (pgschema_array_bytea(&ka, kk, WG_KEY_LEN) < 0 ||
		    pgschema_array_text(&na, net) < 0 || pgschema_array_bool(&ra, ch[i].put == NULL) < 0))
			r = -EINVAL;
	}
	if (r == 0 && (pgschema_array_end(&ka) < 0 || pgschema_array_end(&na) < 0 ||
	    pgschema_array_end(&ra) < 0))
		r = -EINVAL;
	snprintf(count, sizeof(count), "%zu", n);
	snprintf(ts, sizeof(ts), "%" PRId64, now_ms);
	cv[0] = count; cv[1] = keys; cv[2] = nets; cv[3] = rm; cv[4] = ts;
	if (r == 0)
		r = pg_send(k, PGSCHEMA_COMMIT_SQL, 5, cv, pg_on_revision);
	if (r == 0)
		r = pg_send(k, "SELECT pg_notify('" COMMIT_CHANNEL "', value::text) FROM meta "
		    "WHERE name = 'revision'", 0, NULL, NULL);
	if (r == 0)
		r = pg_send(k, "COMMIT", 0, NULL, NULL);
	r = pg_call_queued(k, r);
out:
	free(keys);
	free(nets);
	free(rm);
	return r;
}

/* ---- reads -------------------------------------------------------------------------- */

uint8_t *
pg_unhex(const char *text, size_t *len)
{
	return PQunescapeBytea((const unsigned char *)text, len);
}

/* The peers' columns as read_peer reads them from its first column on. */
#define PEER_COLS(t) t "key, " t "name, " t "network, " t "listen_port, " t "tunnel_ips, " \
    t "lan_ips, " t "wan_ip, " t "lan_id, " t "observed_endpoint, " t "online, " \
    t "last_seen_ms, " t "revision, " t "certificate, " t "chain, " t "static, " \
    t "online_server"

/* Row i of res from column c0 on (PEER_COLS) into p, as the server called me reads it
 * (p->cert and p->chain malloc'd: the caller frees them). */
static const char *
read_peer(const PGresult *res, int i, int c0, const char *me, struct peer *p)
{
	size_t len;
	uint8_t *b, n_wan;

	memset(p, 0, sizeof(*p));
	if ((b = pg_unhex(PQgetvalue(res, i, c0 + 0), &len)) == NULL || len != WG_KEY_LEN) {
		PQfreemem(b);
		return "bad key";
	}
	memcpy(p->key, b, WG_KEY_LEN);
	PQfreemem(b);
	if (snprintf(p->name, sizeof(p->name), "%s", PQgetvalue(res, i, c0 + 1)) >=
	    (int)sizeof(p->name) ||
	    snprintf(p->network, sizeof(p->network), "%s", PQgetvalue(res, i, c0 + 2)) >=
	    (int)sizeof(p->network))
		return "name or network too long";
	p->listen_port = (uint32_t)strtoul(PQgetvalue(res, i, c0 + 3), NULL, 10);
	if (!store_list_parse(PQgetvalue(res, i, c0 + 4), p->tunnel, CERT_TUNNEL_MAX, &p->n_tunnel) ||
	    !store_list_parse(PQgetvalue(res, i, c0 + 5), p->lan, PEER_LAN_MAX, &p->n_lan) ||
	    !store_list_parse(PQgetvalue(res, i, c0 + 6), &p->wan, 1, &n_wan))
		return "bad addresses";
	if ((b = pg_unhex(PQgetvalue(res, i, c0 + 7), &len)) == NULL || len > PEER_LAN_ID_MAX) {
		PQfreemem(b);
		return "bad lan_id";
	}
	memcpy(p->lan_id, b, len);
	p->lan_id_len = (uint8_t)len;
	PQfreemem(b);
	if (snprintf(p->observed_endpoint, sizeof(p->observed_endpoint), "%s",
	    PQgetvalue(res, i, c0 + 8)) >= (int)sizeof(p->observed_endpoint))
		return "observed endpoint too long";
	p->online = PQgetvalue(res, i, c0 + 9)[0] == 't';
	p->last_seen_ms = strtoll(PQgetvalue(res, i, c0 + 10), NULL, 10);
	p->revision = strtoull(PQgetvalue(res, i, c0 + 11), NULL, 10);
	for (int col = 12; col <= 13; col++) {
		if (PQgetisnull(res, i, c0 + col))
			continue;
		if ((b = pg_unhex(PQgetvalue(res, i, c0 + col), &len)) == NULL)
			return "bad certificate";
		uint8_t *copy = malloc(len > 0 ? len : 1);
		if (copy == NULL) {
			PQfreemem(b);
			return "out of memory";
		}
		memcpy(copy, b, len);
		PQfreemem(b);
		if (col == 12) {
			p->cert = copy;
			p->cert_len = len;
		} else {
			p->chain = copy;
			p->chain_len = len;
		}
	}
	p->is_static = PQgetvalue(res, i, c0 + 14)[0] == 't';
	p->held_elsewhere = p->online && !PQgetisnull(res, i, c0 + 15) &&
	    strcmp(PQgetvalue(res, i, c0 + 15), me) != 0;
	return NULL;
}

static void
on_peers(void *arg, const PGresult *res, const char *err)
{
	struct call *k = arg;
	struct peer p;
	const char *why;

	for (int i = 0; res != NULL && i < PQntuples(res); i++) {
		k->revision = strtoull(PQgetvalue(res, i, 0), NULL, 10);
		if (PQgetisnull(res, i, 1))
			continue;               /* no peers: the revision alone */
		why = read_peer(res, i, 1, k->s->name, &p);
		if (why == NULL && k->peer_fn != NULL)
			k->peer_fn(k->arg, &p);
		free(p.cert);
		free(p.chain);
		if (why != NULL) {
			snprintf(k->err, sizeof(k->err), "peer row %d: %s", i, why);
			break;
		}
	}
	pg_answered(k, res != NULL, err);
}

int
store_pg_load(struct store_pg *s, void (*fn)(void *arg, const struct peer *p),
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg)
{
	struct call *k;
	int r;

	if ((r = pg_call_new(s, done, arg, &k)) != 0)
		return r;
	k->peer_fn = fn;
	/* one statement, one snapshot: the revision and the records it covers (an explicit
	 * transaction's isolation level could not be set inside the pipeline's implicit one) */
	return pg_call_queued(k, pg_send(k, "SELECT m.value, " PEER_COLS("p.") " FROM meta m "
	    "LEFT JOIN peers p ON true WHERE m.name = 'revision' ORDER BY p.key", 0, NULL,
	    on_peers));
}

static void
on_changes(void *arg, const PGresult *res, const char *err)
{
	struct call *k = arg;

	for (int i = 0; res != NULL && i < PQntuples(res); i++) {
		size_t len;
		uint8_t *b = pg_unhex(PQgetvalue(res, i, 1), &len);
		uint64_t rev = strtoull(PQgetvalue(res, i, 0), NULL, 10);

		if (b != NULL && len == WG_KEY_LEN && k->change_fn != NULL)
			k->change_fn(k->arg, rev, b, PQgetvalue(res, i, 2),
			    PQgetvalue(res, i, 3)[0] == 't');
		PQfreemem(b);
		k->revision = rev;
	}
	pg_answered(k, res != NULL, err);
}

int
store_pg_changes_since(struct store_pg *s, uint64_t after,
    void (*fn)(void *arg, uint64_t revision, const uint8_t key[WG_KEY_LEN],
        const char *network, bool removed),
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg)
{
	char a[24];
	const char *v[1] = { a };
	struct call *k;
	int r;

	if ((r = pg_call_new(s, done, arg, &k)) != 0)
		return r;
	k->change_fn = fn;
	k->revision = after;
	snprintf(a, sizeof(a), "%" PRIu64, after);
	return pg_call_queued(k, pg_send(k, "SELECT revision, key, network, removed FROM changes "
	    "WHERE revision > $1::bigint ORDER BY revision", 1, v, on_changes));
}

static void
on_follow(void *arg, const PGresult *res, const char *err)
{
	struct call *k = arg;
	struct store_change c;
	struct peer p;
	const char *why = NULL;

	for (int i = 0; res != NULL && i < PQntuples(res); i++) {
		size_t len;
		uint8_t *b = pg_unhex(PQgetvalue(res, i, 1), &len);
		bool rec = !PQgetisnull(res, i, 4);

		memset(&c, 0, sizeof(c));
		c.revision = strtoull(PQgetvalue(res, i, 0), NULL, 10);
		if (b == NULL || len != WG_KEY_LEN ||
		    snprintf(c.network, sizeof(c.network), "%s", PQgetvalue(res, i, 2)) >=
		    (int)sizeof(c.network))
			why = "bad key or network";
		else
			memcpy(c.key, b, WG_KEY_LEN);
		PQfreemem(b);
		c.removed = PQgetvalue(res, i, 3)[0] == 't';
		if (why == NULL && rec)
			why = read_peer(res, i, 4, k->s->name, &p);
		if (why == NULL && k->row_fn != NULL)
			k->row_fn(k->arg, &c, rec ? &p : NULL);
		if (rec) {
			free(p.cert);
			free(p.chain);
		}
		if (why != NULL) {
			snprintf(k->err, sizeof(k->err), "change log row of revision %" PRIu64 ": %s",
			    c.revision, why);
			break;
		}
		k->revision = c.revision;
	}
	pg_answered(k, res != NULL, err);
}

int
store_pg_follow(struct store_pg *s, uint64_t after, unsigned limit,
    void (*fn)(void *arg, const struct store_change *c, const struct peer *rec),
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg)
{
	char a[24], l[24];
	const char *v[2] = { a, l };
	struct call *k;
	int r;

	if ((r = pg_call_new(s, done, arg, &k)) != 0)
		return r;
	k->row_fn = fn;
	k->revision = after;
	snprintf(a, sizeof(a), "%" PRIu64, after);
	snprintf(l, sizeof(l), "%u", limit);
	/* one statement: one snapshot; a row's record is the peer's when the row is its
	 * latest change (peers.revision), else a later row carries it */
	return pg_call_queued(k, pg_send(k, "SELECT c.revision, c.key, c.network, c.removed, "
	    PEER_COLS("p.") " FROM changes c LEFT JOIN peers p ON p.key = c.key AND "
	    "p.revision = c.revision WHERE c.revision > $1::bigint ORDER BY c.revision "
	    "LIMIT $2::integer", 2, v, on_follow));
}

int
store_pg_prune(struct store_pg *s, uint64_t keep, int64_t older_than_ms,
    void (*done)(void *arg, uint64_t revision, const char *err), void *arg)
{
	char kk[24], t[24];
	const char *v[2] = { kk, t };
	struct call *k;
	int r;

	if ((r = pg_call_new(s, done, arg, &k)) != 0)
		return r;
	snprintf(kk, sizeof(kk), "%" PRIu64, keep);
	snprintf(t, sizeof(t), "%" PRId64, older_than_ms);
	/* the newest row always stays: it tells a follower where the log is */
	return pg_call_queued(k, pg_send(k, "DELETE FROM changes WHERE revision < (SELECT max(revision) "
	    "FROM changes) AND (revision <= (SELECT value FROM meta WHERE name = 'revision') - "
	    "$1::bigint OR ts_ms < $2::bigint)", 2, v, NULL));
}

/* ---- the connection ----------------------------------------------------------------- */

static void
on_listening(void *arg, const PGresult *res, const char *err)
{
	struct store_pg *s = arg;

	if (res == NULL) {
		log_warnx("database %s: LISTEN: %s", pgconn_target(s->c), err);
		return;
	}
	s->ready = true;
	if (s->cb->on_ready != NULL)
		s->cb->on_ready(s->arg);
}

static void
on_migrated(void *arg, int version, const char *err)
{
	struct store_pg *s = arg;
	char why[700];

	if (err != NULL) {
		snprintf(why, sizeof(why), "database %s: %s", pgconn_target(s->c), err);
		if (s->cb->on_down != NULL)
			s->cb->on_down(s->arg, why);
		return;
	}
	log_debug("database %s: schema version %d", pgconn_target(s->c), version);
	pgconn_send(s->c, "LISTEN " COMMIT_CHANNEL, 0, NULL, on_listening, s);
}

static void
pg_up(void *arg)
{
	struct store_pg *s = arg;

	if (pgschema_migrate(s->c, on_migrated, s) != 0)
		log_warnx("database %s: cannot start the migration", pgconn_target(s->c));
}

static void
pg_down(void *arg, const char *why)
{
	struct store_pg *s = arg;

	s->ready = false;
	if (s->cb->on_down != NULL)
		s->cb->on_down(s->arg, why);
}

static void
pg_notify(void *arg, const char *channel, const char *payload)
{
	struct store_pg *s = arg;

	if (strcmp(channel, COMMIT_CHANNEL) == 0 && s->cb->on_notify != NULL)
		s->cb->on_notify(s->arg, strtoull(payload, NULL, 10));
}

static const struct pgconn_cb pg_cbs = { .on_up = pg_up, .on_down = pg_down,
    .on_notify = pg_notify };

struct store_pg *
store_pg_open(struct loop *l, const char *uri, const char *name, const struct store_pg_cb *cb,
    void *arg, char *err, size_t errlen)
{
	struct store_pg *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		snprintf(err, errlen, "database: out of memory");
		return NULL;
	}
	if (name == NULL || name[0] == '\0' || strlen(name) >= sizeof(s->name)) {
		snprintf(err, errlen, "server name: 1 to %zu characters", sizeof(s->name) - 1);
		free(s);
		return NULL;
	}
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->cb = cb;
	s->arg = arg;
	if ((s->c = pgconn_new(l, uri, &pg_cbs, s, err, errlen)) == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

void
store_pg_close(struct store_pg *s)
{
	if (s == NULL)
		return;
	pgconn_del(s->c);
	free(s);
}

bool
store_pg_ready(const struct store_pg *s)
{
	return s->ready;
}
