/* The PostgreSQL store's schema (server/pgschema.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/pgschema.h"
#include "server/store.h"

/* One transaction: the lock, then every step the database lacks, each guarded by the
 * version it upgrades (a DO block: one command, so it fits a pipeline). Append steps,
 * never edit one. */
static const char migrate_sql[] =
	"DO $ws$\n"
	"DECLARE v integer;\n"
	"BEGIN\n"
	"  SELECT version INTO v FROM ws_schema;\n"
	"  IF v > 2 THEN\n"
	"    RAISE EXCEPTION 'the database''s schema is version %, newer than this "
	"wiresyncd''s 2: upgrade wiresyncd', v;\n"
	"  END IF;\n"
	"  IF v < 1 THEN\n"
	/* 1: what the SQLite store holds at its schema 11, plus what a cluster shares */
	"    CREATE TABLE meta (name text PRIMARY KEY, value bigint NOT NULL);\n"
	"    INSERT INTO meta (name, value) VALUES ('revision', 0), ('join_next_id', 1);\n"
	"    CREATE TABLE peers (\n"
	"      key bytea PRIMARY KEY CHECK (length(key) = 32),\n"
	"      name text NOT NULL, network text NOT NULL,\n"
	"      listen_port integer NOT NULL, tunnel_ips text NOT NULL, lan_ips text NOT NULL,\n"
	"      wan_ip text NOT NULL, lan_id bytea NOT NULL, observed_endpoint text NOT NULL,\n"
	"      online boolean NOT NULL, online_server text,\n"
	"      last_seen_ms bigint NOT NULL, revision bigint NOT NULL,\n"
	"      certificate bytea, chain bytea, static boolean NOT NULL DEFAULT false);\n"
	/* a tunnel address belongs to one key per network, whichever server takes it */
	"    CREATE TABLE peer_tunnels (\n"
	"      network text NOT NULL, addr text NOT NULL,\n"
	"      key bytea NOT NULL REFERENCES peers (key) ON DELETE CASCADE,\n"
	"      PRIMARY KEY (network, addr));\n"
	"    CREATE INDEX peer_tunnels_key ON peer_tunnels (key);\n"
	"    CREATE TABLE changes (\n"
	"      revision bigint PRIMARY KEY, key bytea NOT NULL, network text NOT NULL,\n"
	"      ts_ms bigint NOT NULL, removed boolean NOT NULL DEFAULT false);\n"
	"    CREATE TABLE join_requests (\n"
	"      id bigint PRIMARY KEY, name text NOT NULL, network text NOT NULL,\n"
	"      key bytea NOT NULL CHECK (length(key) = 32),\n"
	"      csr_sha256 bytea NOT NULL CHECK (length(csr_sha256) = 32),\n"
	"      source text NOT NULL, created_s bigint NOT NULL,\n"
	"      state integer NOT NULL CHECK (state BETWEEN 0 AND 2), csr bytea NOT NULL,\n"
	"      reserved_ips text NOT NULL, certificate bytea, ca bytea, reason text NOT NULL,\n"
	"      renewal boolean NOT NULL DEFAULT false, current_certificate bytea);\n"
	"    CREATE TABLE join_tokens (\n"
	"      id bigint PRIMARY KEY, network text NOT NULL,\n"
	"      sha256 bytea NOT NULL UNIQUE CHECK (length(sha256) = 32),\n"
	"      uses_left integer NOT NULL CHECK (uses_left >= 0), expires_s bigint NOT NULL,\n"
	"      groups text NOT NULL, created_s bigint NOT NULL, admin_name text NOT NULL,\n"
	"      admin_serial text NOT NULL);\n"
	"    CREATE TABLE audit (\n"
	"      id bigserial PRIMARY KEY, time_ms bigint NOT NULL, network text NOT NULL,\n"
	"      admin text NOT NULL, serial text NOT NULL, action text NOT NULL,\n"
	"      detail text NOT NULL);\n"
	"    CREATE TABLE link_health (\n"
	"      reporter_key bytea NOT NULL CHECK (length(reporter_key) = 32),\n"
	"      peer_key bytea NOT NULL CHECK (length(peer_key) = 32),\n"
	"      path text NOT NULL, endpoint text NOT NULL, last_handshake_ms bigint NOT NULL,\n"
	"      rx_bytes bigint NOT NULL, tx_bytes bigint NOT NULL, down_reason text NOT NULL,\n"
	"      reported_ms bigint NOT NULL, PRIMARY KEY (reporter_key, peer_key));\n"
	/* the servers of the cluster: a lease each, which the others expire */
	"    CREATE TABLE servers (\n"
	"      name text PRIMARY KEY, address text NOT NULL, started_ms bigint NOT NULL,\n"
	"      lease_until_ms bigint NOT NULL);\n"
	/* TLS session ticket keys, so that a session resumes on any server */
	"    CREATE TABLE ticket_keys (\n"
	"      id bigint PRIMARY KEY, key bytea NOT NULL, created_ms bigint NOT NULL);\n"
	"    UPDATE ws_schema SET version = 1;\n"
	"  END IF;\n"
	"  IF v < 2 THEN\n"
	/* 2: join requests and tokens shared: every write of them bumps enroll_revision from
	 * the value its server read them at, or fails (40001) when another server wrote since */
	"    INSERT INTO meta (name, value) VALUES ('enroll_revision', 0);\n"
	"    CREATE FUNCTION ws_enroll_step(expected bigint) RETURNS bigint\n"
	"    LANGUAGE plpgsql AS $f$\n"
	"    DECLARE n bigint;\n"
	"    BEGIN\n"
	"      UPDATE meta SET value = value + 1\n"
	"        WHERE name = 'enroll_revision' AND value = expected RETURNING value INTO n;\n"
	"      IF n IS NULL THEN\n"
	"        RAISE EXCEPTION 'join requests or tokens were changed by another server'\n"
	"          USING ERRCODE = '40001';\n"
	"      END IF;\n"
	"      RETURN n;\n"
	"    END $f$;\n"
	"    UPDATE ws_schema SET version = 2;\n"
	"  END IF;\n"
	"END\n"
	"$ws$";

/* pg_advisory_xact_lock's key: "wsyn" */
#define MIGRATE_LOCK "2004054638"

const char PGSCHEMA_COMMIT_SQL[] =
	"WITH r AS (\n"
	"  UPDATE meta SET value = value + $1::bigint WHERE name = 'revision'\n"
	"  RETURNING value - $1::bigint AS base),\n"
	"u AS (\n"
	"  SELECT k, net, rm, ord\n"
	"  FROM unnest($2::bytea[], $3::text[], $4::boolean[]) WITH ORDINALITY AS x(k, net, rm, ord)),\n"
	"c AS (\n"
	"  INSERT INTO changes (revision, key, network, ts_ms, removed)\n"
	"  SELECT r.base + u.ord, u.k, u.net, $5::bigint, u.rm FROM r, u\n"
	"  RETURNING revision, key),\n"
	"p AS (\n"
	"  UPDATE peers SET revision = m.rev\n"
	"  FROM (SELECT key, max(revision) AS rev FROM c GROUP BY key) m\n"
	"  WHERE peers.key = m.key)\n"
	"SELECT base + $1::bigint FROM r";

const char PGSCHEMA_PEER_UPSERT_SQL[] =
	"INSERT INTO peers (key, name, network, listen_port, tunnel_ips, lan_ips, "
	"wan_ip, lan_id, observed_endpoint, online, last_seen_ms, revision, certificate, "
	"chain, static, online_server) VALUES ($1::bytea, $2, $3, $4::integer, $5, $6, $7, "
	"$8::bytea, $9, CASE WHEN $15::text IS NULL THEN false ELSE $10::boolean END, "
	"$11::bigint, 0, $12::bytea, $13::bytea, $14::boolean, $15::text) "
	"ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name, network = EXCLUDED.network, "
	"listen_port = EXCLUDED.listen_port, tunnel_ips = EXCLUDED.tunnel_ips, "
	"lan_ips = EXCLUDED.lan_ips, wan_ip = EXCLUDED.wan_ip, lan_id = EXCLUDED.lan_id, "
	"observed_endpoint = EXCLUDED.observed_endpoint, "
	"online = CASE WHEN EXCLUDED.online_server IS NOT NULL THEN true "
	"WHEN peers.online_server IS NULL OR peers.online_server = $16::text THEN false "
	"ELSE peers.online END, "
	"last_seen_ms = EXCLUDED.last_seen_ms, certificate = EXCLUDED.certificate, "
	"chain = EXCLUDED.chain, static = EXCLUDED.static, "
	"online_server = CASE WHEN EXCLUDED.online_server IS NOT NULL THEN "
	"EXCLUDED.online_server WHEN peers.online_server = $16::text THEN NULL "
	"ELSE peers.online_server END";

int
pgschema_version(void)
{
	return 2;
}

struct migration {
	void (*done)(void *arg, int version, const char *err);   /* NULL: not to be called */
	void *arg;
	struct pgconn *c;
	int pending;                 /* queries whose answer is still to come */
	int version;
	char err[512];
};

/* One answer in; after the last (COMMIT's), the outcome. */
static void
answered(struct migration *m, bool ok, const char *err)
{
	if (!ok && m->err[0] == '\0')
		snprintf(m->err, sizeof(m->err), "%s", err);
	if (--m->pending > 0)
		return;
	/* an error inside BEGIN leaves the session in a failed transaction past the sync */
	if (m->err[0] != '\0')
		pgconn_send(m->c, "ROLLBACK", 0, NULL, NULL, NULL);
	if (m->done != NULL)
		m->done(m->arg, m->err[0] == '\0' ? m->version : -1,
		    m->err[0] != '\0' ? m->err : NULL);
	free(m);
}

static void
on_step(void *arg, const PGresult *res, const char *err)
{
	answered(arg, res != NULL, err);
}

static void
on_version(void *arg, const PGresult *res, const char *err)
{
	struct migration *m = arg;

	if (res != NULL && PQntuples(res) == 1)
		m->version = atoi(PQgetvalue(res, 0, 0));
	answered(m, res != NULL, err);
}

static const char *const steps[] = {
	"BEGIN",
	"SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")",
	"CREATE TABLE IF NOT EXISTS ws_schema (version integer NOT NULL)",
	"INSERT INTO ws_schema (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM ws_schema)",
	migrate_sql,
	"SELECT version FROM ws_schema",
	"COMMIT",
};

size_t
pgschema_migrate_steps(const char *const **out)
{
	*out = steps;
	return sizeof(steps) / sizeof(steps[0]);
}

int
pgschema_migrate(struct pgconn *c, void (*done)(void *arg, int version, const char *err),
    void *arg)
{
	struct migration *m;
	int r = 0;

	if (!pgconn_ready(c))
		return -ENOTCONN;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return -ENOMEM;
	m->done = done;
	m->arg = arg;
	m->c = c;
	m->pending = 1;              /* ours, until every query is queued */
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && r == 0; i++) {
		r = pgconn_send(c, steps[i], 0, NULL, i == 5 ? on_version : on_step, m);
		if (r == 0)
			m->pending++;
	}
	if (r != 0)
		m->done = NULL;      /* the caller hears of it from the return */
	answered(m, true, NULL);
	return r;
}

void
pgschema_hex(char *out, const uint8_t *p, size_t n)
{
	static const char digit[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digit[p[i] >> 4];
		out[2 * i + 1] = digit[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
put(struct pgschema_array *a, const char *s, size_t n)
{
	if (a->used + n + 1 > a->len)
		return -ENOSPC;
	memcpy(a->buf + a->used, s, n);
	a->used += n;
	a->buf[a->used] = '\0';
	return 0;
}

static int
sep(struct pgschema_array *a)
{
	bool any = a->any;

	a->any = true;
	return any ? put(a, ",", 1) : 0;
}

void
pgschema_array_init(struct pgschema_array *a, char *buf, size_t len)
{
	a->buf = buf;
	a->len = len;
	a->used = 0;
	a->any = false;
	if (len > 0)
		buf[0] = '\0';
	put(a, "{", 1);
}

int
pgschema_array_bytea(struct pgschema_array *a, const uint8_t *data, size_t n)
{
	/* "\\x0a1b...": bytea's hex input, its backslash escaped for the array literal */
	if (sep(a) < 0 || put(a, "\"\\\\x", 4) < 0 || a->used + 2 * n + 2 > a->len)
		return -ENOSPC;
	pgschema_hex(a->buf + a->used, data, n);
	a->used += 2 * n;
	return put(a, "\"", 1);
}

int
pgschema_array_text(struct pgschema_array *a, const char *s)
{
	if (sep(a) < 0 || put(a, "\"", 1) < 0)
		return -ENOSPC;
	for (; *s != '\0'; s++)
		if (((*s == '"' || *s == '\\') && put(a, "\\", 1) < 0) || put(a, s, 1) < 0)
			return -ENOSPC;
	return put(a, "\"", 1);
}

int
pgschema_array_bool(struct pgschema_array *a, bool v)
{
	return sep(a) < 0 ? -ENOSPC : put(a, v ? "t" : "f", 1);
}

int
pgschema_array_end(struct pgschema_array *a)
{
	return put(a, "}", 1);
}

const char PGSCHEMA_TUNNELS_SQL[] =
	"INSERT INTO peer_tunnels (network, addr, key) SELECT $1, a, $3::bytea "
	"FROM unnest($2::text[]) AS a";

int
pgschema_tunnels(const struct peer *p, char *buf, size_t len)
{
	char one[NETADDR_STRLEN];
	struct pgschema_array a;

	if (len < 3)
		return -ENOSPC;
	pgschema_array_init(&a, buf, len);
	for (size_t i = 0; i < p->n_tunnel; i++) {
		netaddr_format(&p->tunnel[i], p->tunnel[i].prefix !=
		    (p->tunnel[i].family == AF_INET ? 32 : 128), one);
		if (pgschema_array_text(&a, one) < 0)
			return -ENOSPC;
	}
	return pgschema_array_end(&a);
}
