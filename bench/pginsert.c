/* bench/pginsert: the raw libpq reference beside wiresyncd on PostgreSQL (BENCHMARKS.md,
 * "PostgreSQL (issue 15)"). C connections, each keeping P transactions in flight in
 * pipeline mode; each transaction upserts G rows of a table like the server's peers and
 * commits with synchronous_commit=on (fsync must be on: the server's durability, every
 * acknowledged write committed). -g 1 is the plain one-row insert loop; -g G > 1 is what
 * the server's group commit does. --server-statements adds, per row, the peer_tunnels
 * rewrite (PGSCHEMA_TUNNELS_SQL), and per commit PGSCHEMA_COMMIT_SQL (the revision
 * counter and the change log) and the NOTIFY: what one commit of wiresyncd writes
 * (server/store_pg.c). Two levers
 * beside the server's way: --prepared (statements planned once, not at every execution)
 * and --arrays (one statement per table and commit instead of three per row).
 *
 * The tables live in a scratch schema "pginsert", dropped before and after the run. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "bench/pgmeasure.h"
#include "server/pgschema.h"

#define EXIT_USAGE 2
#define CERT_BYTES 530               /* a bench agent's certificate, DER */
#define CHANNEL "pginsert_commits"   /* not the server's: a running wiresyncd stays quiet */

/* a schema of its own, where pgschema.c's migration makes the server's tables */
static const char ddl[] =
	"DROP SCHEMA IF EXISTS pginsert CASCADE;\n"
	"CREATE SCHEMA pginsert;\n"
	"SET search_path TO pginsert;\n";

/* --arrays' upsert, after the server's (pgschema.h's PGSCHEMA_PEER_UPSERT_SQL); ME: the
 * parameter naming this server, which takes an online host and releases one only if it
 * held it */
#define PEER_COLS "INSERT INTO peers (key, name, network, listen_port, tunnel_ips, " \
	"lan_ips, wan_ip, lan_id, observed_endpoint, online, last_seen_ms, revision, " \
	"certificate, chain, static, online_server) "
#define ON_CONFLICT(ME) " ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name, " \
	"network = EXCLUDED.network, listen_port = EXCLUDED.listen_port, " \
	"tunnel_ips = EXCLUDED.tunnel_ips, lan_ips = EXCLUDED.lan_ips, " \
	"wan_ip = EXCLUDED.wan_ip, lan_id = EXCLUDED.lan_id, " \
	"observed_endpoint = EXCLUDED.observed_endpoint, " \
	"online = CASE WHEN EXCLUDED.online_server IS NOT NULL THEN true " \
	"WHEN peers.online_server IS NULL OR peers.online_server = " ME "::text THEN false " \
	"ELSE peers.online END, " \
	"last_seen_ms = EXCLUDED.last_seen_ms, certificate = EXCLUDED.certificate, " \
	"chain = EXCLUDED.chain, static = EXCLUDED.static, " \
	"online_server = CASE WHEN EXCLUDED.online_server IS NOT NULL THEN " \
	"EXCLUDED.online_server WHEN peers.online_server = " ME "::text THEN NULL " \
	"ELSE peers.online_server END"
/* --arrays: the commit's rows in one statement; what varies by row comes as arrays */
static const char a_upsert_sql[] = PEER_COLS "SELECT k, n, $8, p, t, '', '', '\\x'::bytea, "
	"o, $9::text IS NOT NULL, s, 0, c, NULL, false, $9::text FROM unnest($1::bytea[], "
	"$2::text[], $3::integer[], $4::text[], $5::text[], $6::bigint[], $7::bytea[]) "
	"AS x(k, n, p, t, o, s, c)" ON_CONFLICT("$10");

struct opts {
	const char *uri;
	long conns, rows_per_commit, depth, total, keys, pg_pid;
	bool server, prepared, arrays, json;
};

/* The statements of a commit, sent unnamed (planned at every execution, as the server's
 * pgconn_send does) or, with --prepared, prepared once per connection. */
enum { Q_UPSERT, Q_TUN_DEL, Q_TUN_INS, Q_COMMIT, Q_NOTIFY, Q_A_UPSERT, Q_A_TUN_DEL,
	Q_A_TUN_INS, Q_N };
static const char *const q_name[Q_N] = { "upsert", "tun_del", "tun_ins", "commit", "notify",
	"a_upsert", "a_tun_del", "a_tun_ins" };
static const char *q_sql[Q_N] = { PGSCHEMA_PEER_UPSERT_SQL,
	"DELETE FROM peer_tunnels WHERE key = $1::bytea",
	PGSCHEMA_TUNNELS_SQL,
	PGSCHEMA_COMMIT_SQL,
	"SELECT pg_notify('" CHANNEL "', value::text) FROM meta WHERE name = 'revision'",
	a_upsert_sql,
	"DELETE FROM peer_tunnels WHERE key = ANY($1::bytea[])",
	"INSERT INTO peer_tunnels (network, addr, key) "
	"SELECT $2, a, k FROM unnest($1::bytea[], $3::text[]) AS x(k, a)" };
static const int q_nparams[Q_N] = { 16, 1, 3, 5, 0, 10, 1, 3 };

struct conn {
	PGconn *pg;
	uint64_t *t0;                /* send times of the commits in flight, a ring of depth */
	long head, inflight;
	bool failed;                 /* an error inside BEGIN: ROLLBACK before the next */
};

struct run {
	struct opts o;
	struct conn *c;
	long next_row, rows_done, commits, errors;
	uint32_t *lat_us;
	char cert[2 * CERT_BYTES + 3];
};

static bool
send_q(const struct opts *o, PGconn *pg, int q, const char *const *v)
{
	if (o->prepared)
		return PQsendQueryPrepared(pg, q_name[q], q_nparams[q], v, NULL, NULL, 0) == 1;
	return PQsendQueryParams(pg, q_sql[q], q_nparams[q], NULL, v, NULL, NULL, 0) == 1;
}

/* --- one commit -------------------------------------------------------------------------- */

/* One row's values in text form. */
struct rowv {
	char key[2 * 32 + 3], name[32], port[16], tunnel[32], obs[32], seen[24];
};

static void
row_fill(const struct run *r, long row, struct rowv *w)
{
	long k = row % r->o.keys;

	/* 32 bytes: a fixed prefix and the key's number */
	snprintf(w->key, sizeof(w->key), "\\x70676e73657274%050lx", (unsigned long)k);
	snprintf(w->name, sizeof(w->name), "bench-%ld", k);
	/* a new port every write, so every row is a change, as in the update scenario */
	snprintf(w->port, sizeof(w->port), "%ld", 1024 + row % 50000);
	snprintf(w->tunnel, sizeof(w->tunnel), "10.%ld.%ld.%ld", 64 + k / 65536 % 64,
	    k / 256 % 256, k % 256);
	snprintf(w->obs, sizeof(w->obs), "127.0.0.1:%ld", 30000 + k % 30000);
	snprintf(w->seen, sizeof(w->seen), "%" PRId64, (int64_t)time(NULL) * 1000);
}

/* A text-format array literal, grown as needed. */
struct arr {
	char *p;
	size_t len, cap;
	bool oom;
};

static void
arr_put(struct arr *a, const char *s, size_t n)
{
	if (a->oom)
		return;
	if (a->len + n + 2 > a->cap) {
		size_t cap = (a->len + n + 2) * 2;
		char *p = realloc(a->p, cap);
		if (p == NULL) {
			a->oom = true;
			return;
		}
		a->p = p;
		a->cap = cap;
	}
	memcpy(a->p + a->len, s, n);
	a->len += n;
	a->p[a->len] = '\0';
}

/* Appends one element, quoted ("\x.." bytea input included); "}" closes the literal. */
static void
arr_add(struct arr *a, const char *s)
{
	arr_put(a, a->len == 0 ? "{\"" : ",\"", 2);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			arr_put(a, "\\", 1);
		arr_put(a, s, 1);
	}
	arr_put(a, "\"", 1);
}

static const char *
arr_end(struct arr *a)
{
	arr_put(a, a->len == 0 ? "{}" : "}", a->len == 0 ? 2 : 1);
	return a->oom ? NULL : a->p;
}

/* Queues n rows from row first as three statements each (the server's way); false if
 * libpq refused them. */
static bool
send_rows(struct run *r, PGconn *pg, long first, long n)
{
	const char *v[16], *tv[3];
	char addrs[40];
	struct rowv w;

	for (long i = 0; i < n; i++) {
		row_fill(r, first + i, &w);
		v[0] = w.key; v[1] = w.name; v[2] = "bench"; v[3] = w.port; v[4] = w.tunnel;
		v[5] = ""; v[6] = ""; v[7] = "\\x"; v[8] = w.obs; v[9] = "t"; v[10] = w.seen;
		v[11] = r->cert; v[12] = NULL; v[13] = "f"; v[14] = "pginsert"; v[15] = "pginsert";
		if (!send_q(&r->o, pg, Q_UPSERT, v))
			return false;
		if (!r->o.server)
			continue;
		snprintf(addrs, sizeof(addrs), "{%s}", w.tunnel);
		tv[0] = w.key;
		if (!send_q(&r->o, pg, Q_TUN_DEL, tv))
			return false;
		tv[0] = "bench"; tv[1] = addrs; tv[2] = w.key;
		if (!send_q(&r->o, pg, Q_TUN_INS, tv))
			return false;
	}
	return true;
}

/* The same n rows as one statement per table, the rows in arrays (--arrays). */
static bool
send_arrays(struct run *r, PGconn *pg, long first, long n)
{
	struct arr col[7];
	const char *v[10];
	struct rowv w;
	bool ok = true;

	memset(col, 0, sizeof(col));
	for (long i = 0; i < n; i++) {
		row_fill(r, first + i, &w);
		arr_add(&col[0], w.key);
		arr_add(&col[1], w.name);
		arr_add(&col[2], w.port);
		arr_add(&col[3], w.tunnel);
		arr_add(&col[4], w.obs);
		arr_add(&col[5], w.seen);
		arr_add(&col[6], r->cert);
	}
	for (int i = 0; i < 7; i++)
		ok = (v[i] = arr_end(&col[i])) != NULL && ok;
	v[7] = "bench";
	v[8] = "pginsert";
	v[9] = "pginsert";
	ok = ok && send_q(&r->o, pg, Q_A_UPSERT, v);
	if (ok && r->o.server) {
		v[1] = "bench";
		v[2] = col[3].p;
		ok = send_q(&r->o, pg, Q_A_TUN_DEL, v) && send_q(&r->o, pg, Q_A_TUN_INS, v);
	}
	for (int i = 0; i < 7; i++)
		free(col[i].p);
	return ok;
}

/* Queues one transaction of up to G rows and its sync; false if libpq refused. */
static bool
send_commit(struct run *r, struct conn *c)
{
	long g = r->o.rows_per_commit, n;
	struct arr keys = { 0 }, nets = { 0 }, rm = { 0 };
	char count[24], ts[24];
	const char *cv[5];
	struct rowv w;
	bool ok = false, block = g > 1 || r->o.server;

	n = r->o.total - r->next_row < g ? r->o.total - r->next_row : g;
	if (c->failed && !PQsendQueryParams(c->pg, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0))
		goto out;
	c->failed = false;
	if (block && !PQsendQueryParams(c->pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0))
		goto out;
	if (!(r->o.arrays ? send_arrays : send_rows)(r, c->pg, r->next_row, n))
		goto out;
	if (r->o.server) {
		for (long i = 0; i < n; i++) {
			row_fill(r, r->next_row + i, &w);
			arr_add(&keys, w.key);
			arr_add(&nets, "bench");
			arr_add(&rm, "f");
		}
		snprintf(count, sizeof(count), "%ld", n);
		snprintf(ts, sizeof(ts), "%" PRId64, (int64_t)time(NULL) * 1000);
		cv[0] = count; cv[1] = arr_end(&keys); cv[2] = arr_end(&nets); cv[3] = arr_end(&rm);
		cv[4] = ts;
		if (cv[1] == NULL || cv[2] == NULL || cv[3] == NULL ||
		    !send_q(&r->o, c->pg, Q_COMMIT, cv) || !send_q(&r->o, c->pg, Q_NOTIFY, NULL))
			goto out;
	}
	if ((block && !PQsendQueryParams(c->pg, "COMMIT", 0, NULL, NULL, NULL, NULL, 0)) ||
	    !PQpipelineSync(c->pg))
		goto out;
	r->next_row += n;
	c->t0[(c->head + c->inflight) % r->o.depth] = pgm_now_us();
	c->inflight++;
	ok = true;
out:
	free(keys.p);
	free(nets.p);
	free(rm.p);
	return ok;
}

/* Reads every answer that has arrived; false when the connection is broken. */
static bool
drain(struct run *r, struct conn *c)
{
	PGresult *res;

	if (!PQconsumeInput(c->pg))
		return false;
	while (c->inflight > 0 && !PQisBusy(c->pg)) {
		if ((res = PQgetResult(c->pg)) == NULL)
			continue;        /* the end of one query's results */
		switch (PQresultStatus(res)) {
		case PGRES_PIPELINE_SYNC: {
			uint64_t dt = pgm_now_us() - c->t0[c->head];
			long n = r->o.total - r->rows_done < r->o.rows_per_commit ?
			    r->o.total - r->rows_done : r->o.rows_per_commit;
			r->lat_us[r->commits++] = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
			r->rows_done += n;
			c->head = (c->head + 1) % r->o.depth;
			c->inflight--;
			break;
		}
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
			break;
		case PGRES_PIPELINE_ABORTED:
			c->failed = true;
			break;
		default:
			if (r->errors++ < 3)
				fprintf(stderr, "pginsert: %s", PQresultErrorMessage(res));
			c->failed = true;
		}
		PQclear(res);
	}
	return true;
}

/* --- setup -------------------------------------------------------------------------------- */

static PGconn *
connect_one(const char *uri)
{
	PGconn *pg = PQconnectdb(uri);

	if (PQstatus(pg) != CONNECTION_OK) {
		fprintf(stderr, "pginsert: --database %s: %s", uri, PQerrorMessage(pg));
		PQfinish(pg);
		return NULL;
	}
	return pg;
}

static bool
exec_ok(PGconn *pg, const char *sql)
{
	PGresult *res = PQexec(pg, sql);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
		fprintf(stderr, "pginsert: %.60s...: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
	return ok;
}

/* The server's migration (server/pgschema.c) in the search path's schema. */
static bool
migrate(PGconn *pg)
{
	const char *const *steps;
	size_t n = pgschema_migrate_steps(&steps);

	for (size_t i = 0; i < n; i++)
		if (!exec_ok(pg, steps[i]))
			return false;
	return true;
}

/* One value of a one-row query, as a double; NAN on error. */
static double
query_num(PGconn *pg, const char *sql)
{
	PGresult *res = PQexec(pg, sql);
	double v = NAN;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		v = strtod(PQgetvalue(res, 0, 0), NULL);
	else
		fprintf(stderr, "pginsert: %s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
	return v;
}

/* The server's durability or nothing: a figure taken with fsync off would mean little. */
static bool
durable(PGconn *pg, const char *uri)
{
	PGresult *res = PQexec(pg, "SELECT current_setting('fsync'), "
	    "current_setting('synchronous_commit')");
	bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    strcmp(PQgetvalue(res, 0, 0), "on") == 0 && strcmp(PQgetvalue(res, 0, 1), "on") == 0;

	if (!ok)
		fprintf(stderr, "pginsert: --database %s: fsync and synchronous_commit must be on "
		    "(the server's durability); start PostgreSQL with fsync=on\n", uri);
	PQclear(res);
	return ok;
}

static bool
prepare_all(PGconn *pg)
{
	for (int q = 0; q < Q_N; q++) {
		PGresult *res = PQprepare(pg, q_name[q], q_sql[q], q_nparams[q], NULL);
		bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;

		if (!ok)
			fprintf(stderr, "pginsert: prepare %s: %s", q_name[q], PQresultErrorMessage(res));
		PQclear(res);
		if (!ok)
			return false;
	}
	return true;
}

static long
parse_long(const char *s, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "pginsert: %s: \"%s\" is not a number from %ld to %ld\n", what, s,
		    min, max);
		exit(EXIT_USAGE);
	}
	return v;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: pginsert --database URI [-c C] [-g G] [-p P] [-n ROWS] [-k KEYS]\n"
	    "                [--server-statements] [--prepared] [--arrays] [--pg-pid PID]\n"
	    "                [--json]\n"
	    "\n"
	    "Upserts ROWS rows (20000) into a table like wiresyncd's peers (scratch schema\n"
	    "\"pginsert\") over C connections (32), P transactions in flight on each (1,\n"
	    "pipelined), G rows per transaction (1), KEYS distinct rows (10000; row i is key\n"
	    "i mod KEYS), each commit with synchronous_commit=on; prints rows/s, commits/s\n"
	    "and commit latency.\n"
	    "  --server-statements  per row also the peer_tunnels rewrite, per commit the\n"
	    "                       revision counter and change log (PGSCHEMA_COMMIT_SQL) and a\n"
	    "                       NOTIFY: what one commit of wiresyncd writes\n"
	    "  --prepared           statements prepared once per connection (default: unnamed,\n"
	    "                       planned at every execution, as wiresyncd sends them)\n"
	    "  --arrays             one statement per table and commit, the rows as arrays\n"
	    "                       (unnest), instead of the server's statements per row\n"
	    "  --pg-pid PID         the postmaster's pid: the cluster's CPU per row\n"
	    "Exit status: 0 when every commit succeeded, 1 otherwise, 2 usage.\n");
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_DB = 256, O_SERVER, O_PREPARED, O_ARRAYS, O_PGPID, O_JSON };
	static const struct option lo[] = {
		{ "database", required_argument, NULL, O_DB },
		{ "server-statements", no_argument, NULL, O_SERVER },
		{ "prepared", no_argument, NULL, O_PREPARED },
		{ "arrays", no_argument, NULL, O_ARRAYS },
		{ "pg-pid", required_argument, NULL, O_PGPID },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:g:p:n:k:h", lo, NULL)) != -1) {
		switch (ch) {
		case O_DB: o->uri = optarg; break;
		case O_SERVER: o->server = true; break;
		case O_PREPARED: o->prepared = true; break;
		case O_ARRAYS: o->arrays = true; break;
		case O_PGPID: o->pg_pid = parse_long(optarg, "--pg-pid", 1, 1L << 30); break;
		case O_JSON: o->json = true; break;
		case 'c': o->conns = parse_long(optarg, "-c", 1, 1000); break;
		case 'g': o->rows_per_commit = parse_long(optarg, "-g", 1, 100000); break;
		case 'p': o->depth = parse_long(optarg, "-p", 1, 1000); break;
		case 'n': o->total = parse_long(optarg, "-n", 1, 1000000000); break;
		case 'k': o->keys = parse_long(optarg, "-k", 1, 100000000); break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(EXIT_USAGE);
		}
	}
	if (optind != argc || o->uri == NULL) {
		fprintf(stderr, "pginsert: --database URI is required; --help for more\n");
		exit(EXIT_USAGE);
	}
	/* two commits in flight on one row would wait on each other, or deadlock; one
	 * statement may not upsert a row twice (--arrays); one commit at a time may write a
	 * row again and again, as wiresyncd's batch does when a host sends many Updates */
	if (o->conns * o->depth > 1 && o->conns * o->depth * o->rows_per_commit > o->keys) {
		fprintf(stderr, "pginsert: -k %ld: needs at least C x P x G = %ld keys, so that no "
		    "two commits in flight touch one row\n", o->keys,
		    o->conns * o->depth * o->rows_per_commit);
		exit(EXIT_USAGE);
	}
	if (o->arrays && o->rows_per_commit > o->keys) {
		fprintf(stderr, "pginsert: -k %ld: --arrays needs at least G = %ld keys (one "
		    "statement upserts a row once)\n", o->keys, o->rows_per_commit);
		exit(EXIT_USAGE);
	}
}

/* --- the run ------------------------------------------------------------------------------ */

static void
print_line(const struct run *r, double secs, double ccpu, double pcpu, double wal,
    double syncs)
{
	const struct opts *o = &r->o;
	const char *names[] = { "prepared", "arrays", "connections", "in_flight",
		"rows_per_commit", "rows", "commits", "errors", "seconds", "rows_per_s",
		"commits_per_s", "p50_ms", "p99_ms", "max_ms", "wal_bytes_per_row", "wal_syncs",
		"rows_per_wal_sync", "client_cpu_ms", "postgres_cpu_ms", "postgres_cpu_us_per_row" };
	double rows = (double)r->rows_done;
	double v[] = { o->prepared, o->arrays, (double)o->conns, (double)o->depth,
		(double)o->rows_per_commit, rows, (double)r->commits, (double)r->errors, secs,
		rows / secs, (double)r->commits / secs, pgm_pct_ms(r->lat_us, (size_t)r->commits, 50),
		pgm_pct_ms(r->lat_us, (size_t)r->commits, 99),
		pgm_pct_ms(r->lat_us, (size_t)r->commits, 100), wal / rows, syncs,
		syncs > 0 ? rows / syncs : -1, ccpu, pcpu, pcpu >= 0 ? pcpu * 1000 / rows : -1 };
	const int dec[] = { 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 3, 3, 3, 0, 0, 1, 0, 0, 1 };

	if (o->json)
		printf("{\"scenario\": \"pginsert\", \"statements\": \"%s\"",
		    o->server ? "server" : "upsert");
	else
		printf("pginsert statements=%s", o->server ? "server" : "upsert");
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		printf(o->json ? ", \"%s\": %.*f" : " %s=%.*f", names[i], dec[i],
		    isfinite(v[i]) ? v[i] : -1);
	printf(o->json ? "}\n" : "\n");
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	struct run r;
	struct opts *o = &r.o;
	struct pollfd *pfd = NULL;
	PGconn *ctl = NULL;
	uint64_t t0;
	double cpu0, pcpu0, wal0, secs;
	int rc = 1;

	memset(&r, 0, sizeof(r));
	*o = (struct opts){ .conns = 32, .rows_per_commit = 1, .depth = 1, .total = 20000,
		.keys = 10000 };
	parse_args(argc, argv, o);
	r.cert[0] = '\\';
	r.cert[1] = 'x';
	for (int i = 0; i < CERT_BYTES; i++)
		snprintf(r.cert + 2 + 2 * i, 3, "%02x", (unsigned)(i * 37 + 11) & 0xff);
	r.c = calloc((size_t)o->conns, sizeof(*r.c));
	pfd = calloc((size_t)o->conns, sizeof(*pfd));
	r.lat_us = calloc((size_t)(o->total / o->rows_per_commit + 1), sizeof(*r.lat_us));
	if (r.c == NULL || pfd == NULL || r.lat_us == NULL) {
		fprintf(stderr, "pginsert: out of memory\n");
		goto out;
	}
	if ((ctl = connect_one(o->uri)) == NULL || !durable(ctl, o->uri) ||
	    !exec_ok(ctl, "SET client_min_messages TO warning") || !exec_ok(ctl, ddl) ||
	    !migrate(ctl))
		goto out;
	for (long i = 0; i < o->conns; i++) {
		struct conn *c = &r.c[i];
		if ((c->pg = connect_one(o->uri)) == NULL ||
		    !exec_ok(c->pg, "SET search_path TO pginsert") ||
		    !exec_ok(c->pg, "SET synchronous_commit TO on") ||
		    (o->prepared && !prepare_all(c->pg)))
			goto out;
		if ((c->t0 = calloc((size_t)o->depth, sizeof(*c->t0))) == NULL ||
		    PQsetnonblocking(c->pg, 1) != 0 || !PQenterPipelineMode(c->pg)) {
			fprintf(stderr, "pginsert: connection %ld: cannot enter pipeline mode: %s", i,
			    PQerrorMessage(c->pg));
			goto out;
		}
		pfd[i].fd = PQsocket(c->pg);
	}
	exec_ok(ctl, "SELECT pg_stat_reset_shared('wal')");
	wal0 = query_num(ctl, "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')");
	pcpu0 = pgm_cluster_cpu_ms(o->pg_pid);
	cpu0 = pgm_self_cpu_ms();
	t0 = pgm_now_us();
	while (r.rows_done < o->total) {
		for (long i = 0; i < o->conns; i++) {
			struct conn *c = &r.c[i];
			while (c->inflight < o->depth && r.next_row < o->total)
				if (!send_commit(&r, c)) {
					fprintf(stderr, "pginsert: connection %ld: %s", i,
					    PQerrorMessage(c->pg));
					goto out;
				}
			pfd[i].events = POLLIN | (PQflush(c->pg) == 1 ? POLLOUT : 0);
		}
		if (poll(pfd, (nfds_t)o->conns, 10000) <= 0) {
			fprintf(stderr, "pginsert: no answer from the database for 10 s\n");
			goto out;
		}
		for (long i = 0; i < o->conns; i++)
			if ((pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) && !drain(&r, &r.c[i])) {
				fprintf(stderr, "pginsert: connection %ld: %s", i,
				    PQerrorMessage(r.c[i].pg));
				goto out;
			}
	}
	secs = (double)(pgm_now_us() - t0) / 1e6;
	cpu0 = pgm_self_cpu_ms() - cpu0;
	pcpu0 = pcpu0 >= 0 ? pgm_cluster_cpu_ms(o->pg_pid) - pcpu0 : -1;
	wal0 = query_num(ctl, "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')") - wal0;
	for (long i = 0; i < o->conns; i++) {
		PQfinish(r.c[i].pg);
		r.c[i].pg = NULL;
	}
	/* backends report their WAL statistics when they exit, the walwriter once a second */
	usleep(1500000);
	qsort(r.lat_us, (size_t)r.commits, sizeof(*r.lat_us), pgm_cmp_u32);
	print_line(&r, secs, cpu0, pcpu0, wal0, query_num(ctl, "SELECT wal_sync FROM pg_stat_wal"));
	rc = r.errors == 0 ? 0 : 1;
out:
	if (ctl != NULL)
		exec_ok(ctl, "DROP SCHEMA IF EXISTS pginsert CASCADE");
	for (long i = 0; r.c != NULL && i < o->conns; i++) {
		PQfinish(r.c[i].pg);
		free(r.c[i].t0);
	}
	PQfinish(ctl);
	free(r.c);
	free(pfd);
	free(r.lat_us);
	return rc;
}
