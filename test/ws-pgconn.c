/* ws-pgconn: server/pgconn.c against a real PostgreSQL (test/pgconn.test starts one).
 *
 *   WS_PG=URI WS_PG_RESTART='shell command' ws-pgconn
 *
 * Prints "PASS<TAB>what" or "FAIL<TAB>what<TAB>detail" per check and "NOTE<TAB>..." for
 * figures; exits 0 when every check passed. The checks: a connection made without blocking
 * the loop; 1000 INSERTs of one loop turn sent as one pipeline, answered in order; a
 * failing query aborts the rest of its pipeline (one implicit transaction: nothing of it
 * stays) and the next turn works; LISTEN/NOTIFY between two connections; PostgreSQL
 * restarted: both connections come back by themselves, LISTEN again and hear a NOTIFY; a
 * server that is not there is retried with backoff; a conninfo that does not parse. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/loop.h"
#include "server/pgconn.h"
#include "test/pgtest.h"

static struct loop *loop;

struct side {
	const char *name;
	struct pgconn *c;
	int ups, downs, notifies;
	char last_down[512], channel[64], payload[128];
};

static void
on_up(void *arg)
{
	struct side *s = arg;

	s->ups++;
}

static void
on_down(void *arg, const char *why)
{
	struct side *s = arg;

	s->downs++;
	snprintf(s->last_down, sizeof(s->last_down), "%s", why);
}

static void
on_notify(void *arg, const char *channel, const char *payload)
{
	struct side *s = arg;

	s->notifies++;
	snprintf(s->channel, sizeof(s->channel), "%s", channel);
	snprintf(s->payload, sizeof(s->payload), "%s", payload);
}

static const struct pgconn_cb cbs = { .on_up = on_up, .on_down = on_down,
    .on_notify = on_notify };

/* Runs the loop until *flag reaches want or secs pass; true when it did. */
static int ticks;
static struct loop_timer tick_timer;

static void
tick(void *arg)
{
	(void)arg;
	ticks++;
	loop_timer_set(loop, &tick_timer, 5, tick, NULL);
}

/* A query's outcome, kept in order of arrival. */
struct outcome {
	int done, ok, aborted, errors;
	int order_bad;               /* a callback out of the order sent */
	int next;                    /* the index the next callback must carry */
	char first_err[256];
	char value[64];              /* a SELECT's first value */
};

struct qarg {
	struct outcome *o;
	int idx;
};

static void
on_result(void *arg, const PGresult *res, const char *err)
{
	struct qarg *q = arg;
	struct outcome *o = q->o;

	if (q->idx != o->next)
		o->order_bad++;
	o->next = q->idx + 1;
	o->done++;
	if (res != NULL) {
		o->ok++;
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0)
			snprintf(o->value, sizeof(o->value), "%s", PQgetvalue(res, 0, 0));
	} else if (strncmp(err, "aborted", 7) == 0) {
		o->aborted++;
	} else {
		if (o->errors++ == 0)
			snprintf(o->first_err, sizeof(o->first_err), "%s", err);
	}
}

/* Sends sql (no parameters) as query idx of o. */
static int
send_q(struct side *s, struct outcome *o, struct qarg *q, int idx, const char *sql, int n,
    const char *const *vals)
{
	q->o = o;
	q->idx = idx;
	return pgconn_send(s->c, sql, n, vals, on_result, q);
}

static void
pipeline_checks(struct side *a)
{
	static struct qarg qs[1100];
	struct outcome o = { 0 }, cnt = { 0 }, bad = { 0 }, after = { 0 };
	struct pgconn_stats st0, st1;
	char ids[1000][12], vals[1000][16], det[512];
	double t0, t1;
	int r = 0;

	send_q(a, &o, &qs[0], 0, "DROP TABLE IF EXISTS ws_t", 0, NULL);
	send_q(a, &o, &qs[1], 1, "CREATE TABLE ws_t (id int PRIMARY KEY, v text NOT NULL)", 0,
	    NULL);
	pgtest_check(pgtest_run_until(loop, &o.done, 2, 10) && o.ok == 2, "CREATE TABLE through the pipeline",
	    o.first_err);
	pgconn_stats(a->c, &st0);
	memset(&o, 0, sizeof(o));
	t0 = pgtest_now_s();
	for (int i = 0; i < 1000; i++) {
		const char *v[2] = { ids[i], vals[i] };
		snprintf(ids[i], sizeof(ids[i]), "%d", i);
		snprintf(vals[i], sizeof(vals[i]), "v%d", i);
		r |= send_q(a, &o, &qs[i], i, "INSERT INTO ws_t (id, v) VALUES ($1, $2)", 2, v);
	}
	pgtest_run_until(loop, &o.done, 1000, 30);
	t1 = pgtest_now_s();
	pgconn_stats(a->c, &st1);
	snprintf(det, sizeof(det), "sent %d, done %d, ok %d, out of order %d, pipelines %llu, "
	    "err %s", r, o.done, o.ok, o.order_bad,
	    (unsigned long long)(st1.pipelines - st0.pipelines), o.first_err);
	pgtest_check(r == 0 && o.done == 1000 && o.ok == 1000 && o.order_bad == 0 &&
	    st1.pipelines - st0.pipelines == 1,
	    "1000 INSERTs of one loop turn: one pipeline, every result in order", det);
	printf("NOTE\t1000 INSERTs in one pipeline (one implicit transaction): %.1f ms\n",
	    (t1 - t0) * 1000);
	send_q(a, &cnt, &qs[0], 0, "SELECT count(*) FROM ws_t", 0, NULL);
	pgtest_run_until(loop, &cnt.done, 1, 10);
	pgtest_check(strcmp(cnt.value, "1000") == 0, "SELECT count(*) sees the 1000 rows", cnt.value);

	/* a duplicate key: it fails, the rest of its pipeline is aborted, nothing of it stays */
	send_q(a, &bad, &qs[0], 0, "INSERT INTO ws_t (id, v) VALUES (2000, 'x')", 0, NULL);
	send_q(a, &bad, &qs[1], 1, "INSERT INTO ws_t (id, v) VALUES (1, 'dup')", 0, NULL);
	send_q(a, &bad, &qs[2], 2, "INSERT INTO ws_t (id, v) VALUES (2001, 'y')", 0, NULL);
	pgtest_run_until(loop, &bad.done, 3, 10);
	snprintf(det, sizeof(det), "ok %d errors %d aborted %d order %d: %s", bad.ok, bad.errors,
	    bad.aborted, bad.order_bad, bad.first_err);
	pgtest_check(bad.done == 3 && bad.ok == 1 && bad.errors == 1 && bad.aborted == 1 &&
	    bad.order_bad == 0 && strstr(bad.first_err, "duplicate key") != NULL,
	    "a failing query: its error, the rest of the pipeline aborted", det);
	send_q(a, &after, &qs[0], 0, "SELECT count(*) FROM ws_t WHERE id >= 2000", 0, NULL);
	pgtest_run_until(loop, &after.done, 1, 10);
	pgtest_check(after.ok == 1 && strcmp(after.value, "0") == 0,
	    "the failed pipeline was one transaction: its first INSERT did not stay, the next "
	    "turn works", after.value[0] != '\0' ? after.value : after.first_err);
}

static void
listen_on(struct side *s)
{
	static struct qarg q;
	static struct outcome o;

	memset(&o, 0, sizeof(o));
	send_q(s, &o, &q, 0, "LISTEN ws_ch", 0, NULL);
}

static void
notify(struct side *s, const char *payload)
{
	static struct qarg q;
	static struct outcome o;
	const char *v[1] = { payload };

	memset(&o, 0, sizeof(o));
	send_q(s, &o, &q, 0, "SELECT pg_notify('ws_ch', $1)", 1, v);
}

int
main(void)
{
	const char *uri = getenv("WS_PG"), *restart = getenv("WS_PG_RESTART");
	struct side a = { .name = "a" }, b = { .name = "b" }, x = { .name = "x" };
	char err[512], bad_uri[600], det[700];
	struct pgconn_stats st;
	struct pgconn *p;
	double t0;
	int ups0;

	if (uri == NULL || restart == NULL) {
		fprintf(stderr, "usage: WS_PG=URI WS_PG_RESTART=CMD ws-pgconn\n");
		return 2;
	}
	loop = loop_new();
	loop_timer_set(loop, &tick_timer, 5, tick, NULL);
	t0 = pgtest_now_s();
	a.c = pgconn_new(loop, uri, &cbs, &a, err, sizeof(err));
	pgtest_check(a.c != NULL, "pgconn_new takes the URI", err);
	if (a.c == NULL)
		return 1;
	pgtest_check(ticks == 0 && !pgconn_ready(a.c), "pgconn_new returns before the connection is made",
	    NULL);
	pgtest_check(pgtest_run_until(loop, &a.ups, 1, 15), "connected (on_up)", a.last_down);
	/* a 5 ms timer: a connect that blocked the loop would have let few of its ticks
	 * through (a fast connect needs none) */
	{
		double ms = (pgtest_now_s() - t0) * 1000;

		snprintf(det, sizeof(det), "%d timer ticks in %.0f ms", ticks, ms);
		pgtest_check(ticks >= (int)(ms / 5) / 2, "the loop kept turning while connecting",
		    det);
	}
	pgtest_check(strstr(pgconn_target(a.c), "/wiresync") != NULL, "the target names the database",
	    pgconn_target(a.c));
	pipeline_checks(&a);

	b.c = pgconn_new(loop, uri, &cbs, &b, err, sizeof(err));
	pgtest_run_until(loop, &b.ups, 1, 15);
	listen_on(&a);
	loop_run_once(loop, 100);
	pgtest_run_until(loop, &a.ups, 1, 1);
	/* let LISTEN's pipeline be answered before b notifies */
	for (int i = 0; i < 10; i++)
		loop_run_once(loop, 20);
	notify(&b, "revision 42");
	pgtest_check(pgtest_run_until(loop, &a.notifies, 1, 10) && strcmp(a.channel, "ws_ch") == 0 &&
	    strcmp(a.payload, "revision 42") == 0, "NOTIFY on b reaches a LISTENing on ws_ch",
	    a.payload);

	/* PostgreSQL restarted: both come back, a LISTENs again (on_up) and hears b */
	ups0 = a.ups;
	if (system(restart) != 0)
		pgtest_check(0, "WS_PG_RESTART ran", restart);
	pgtest_check(pgtest_run_until(loop, &a.downs, 1, 15), "a restart of PostgreSQL: on_down", NULL);
	pgtest_check(strstr(a.last_down, pgconn_target(a.c)) != NULL,
	    "on_down names the server", a.last_down);
	pgtest_check(pgconn_send(a.c, "SELECT 1", 0, NULL, NULL, NULL) == -ENOTCONN || pgconn_ready(a.c),
	    "a query while down: -ENOTCONN, nothing queued", NULL);
	pgtest_check(pgtest_run_until(loop, &a.ups, ups0 + 1, 30) && pgtest_run_until(loop, &b.ups, 2, 30),
	    "both connections come back by themselves", a.last_down);
	listen_on(&a);
	for (int i = 0; i < 10; i++)
		loop_run_once(loop, 20);
	notify(&b, "revision 43");
	pgtest_check(pgtest_run_until(loop, &a.notifies, 2, 10) && strcmp(a.payload, "revision 43") == 0,
	    "after the restart: LISTEN again, the next NOTIFY arrives", a.payload);

	/* nothing listening: retried with backoff, never up */
	snprintf(bad_uri, sizeof(bad_uri), "%s", uri);
	{
		char *port = strstr(bad_uri, "port=");
		if (port != NULL)
			memcpy(port, "port=1\0", 7);
	}
	x.c = pgconn_new(loop, bad_uri, &cbs, &x, err, sizeof(err));
	t0 = pgtest_now_s();
	while (pgtest_now_s() < t0 + 3)
		loop_run_once(loop, 50);
	pgconn_stats(x.c, &st);
	snprintf(det, sizeof(det), "%llu attempts, %d downs, %d ups: %s",
	    (unsigned long long)st.attempts, x.downs, x.ups, x.last_down);
	pgtest_check(x.ups == 0 && x.downs >= 2 && st.attempts >= 2 && st.attempts <= 30 &&
	    strstr(x.last_down, ":1/") != NULL,
	    "a server that is not there: on_down naming it, retried with backoff", det);
	pgconn_del(x.c);

	p = pgconn_new(loop, "postgresql://u:secret@/db?nosuchoption=1", &cbs, &x, err,
	    sizeof(err));
	pgtest_check(p == NULL && strncmp(err, "database: ", 10) == 0 && strstr(err, "nosuchoption") &&
	    strstr(err, "secret") == NULL, "a bad conninfo: refused, naming the setting", err);
	pgconn_del(p);
	p = pgconn_new(loop, "postgresql://u:secret@127.0.0.1:1/db", &cbs, &x, err, sizeof(err));
	pgtest_check(p != NULL && strstr(pgconn_target(p), "secret") == NULL &&
	    strcmp(pgconn_target(p), "127.0.0.1:1/db") == 0,
	    "the target never carries the password", p != NULL ? pgconn_target(p) : err);
	pgconn_del(p);

	pgconn_del(a.c);
	pgconn_del(b.c);
	loop_timer_cancel(loop, &tick_timer);
	loop_del(loop);
	return pgtest_failed == 0 ? 0 : 1;
}
