/* The PostgreSQL store's join requests and tokens (server/store_pg.h): read whole when
 * another server changed them, written in transactions that step the enrolment revision
 * (server/pgschema.c's ws_enroll_step), so two servers never both decide from the same
 * state. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/log.h"
#include "server/pgrows.h"
#include "server/store_pg.h"
#include "server/store_pg_impl.h"

/* One read: the revision first, then, when it moved, the snapshot. */
struct read {
	struct store_pg *s;
	const struct store_pg_enroll_read *rd;
	void *arg;
	uint64_t have, revision, next_id;
	bool meta_ok;
};

static void
on_meta(void *arg, const PGresult *res, const char *err)
{
	struct call *k = arg;
	struct read *r = k->arg;

	if (res != NULL && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		r->revision = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
		if (PQnfields(res) > 1)
			r->next_id = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
		r->meta_ok = true;
	} else if (res != NULL && k->err[0] == '\0') {
		snprintf(k->err, sizeof(k->err), "meta: the row enroll_revision is missing");
	}
	pg_answered(k, res != NULL, err);
}

static void
on_joins(void *arg, const PGresult *res, const char *err)
{
	struct call *k = arg;
	struct read *r = k->arg;
	struct store_join j;
	uint8_t *der[4];
	const char *why;

	for (int i = 0; res != NULL && i < PQntuples(res); i++) {
		if ((why = pgrows_join_read(res, i, &j, der)) != NULL)
			log_warnx("join request %s in the database is not kept: %s",
			    PQgetvalue(res, i, 0), why);
		else
			r->rd->join(r->arg, &j);
		for (int d = 0; d < 4; d++)
			PQfreemem(der[d]);
	}
	pg_answered(k, res != NULL, err);
}

static void
on_tokens(void *arg, const PGresult *res, const char *err)
{
	struct call *k = arg;
	struct read *r = k->arg;
	struct store_token t;
	const char *why;

	for (int i = 0; res != NULL && i < PQntuples(res); i++) {
		if ((why = pgrows_token_read(res, i, &t)) != NULL)
			log_warnx("join token %s in the database is not kept: %s",
			    PQgetvalue(res, i, 0), why);
		else
			r->rd->token(r->arg, &t);
	}
	pg_answered(k, res != NULL, err);
}

static void
snapshot_done(void *arg, uint64_t revision, const char *err)
{
	struct read *r = arg;

	(void)revision;
	r->rd->done(r->arg, r->revision, r->next_id, true, err);
	free(r);
}

/* The whole snapshot, once the revision said it moved. */
static int
snapshot(struct read *r)
{
	struct call *k;
	int e;

	if ((e = pg_call_new(r->s, snapshot_done, r, &k)) != 0)
		return e;
	k->rollback = true;
	r->meta_ok = false;
	e = pg_send(k, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, NULL);
	if (e == 0)
		e = pg_send(k, "SELECT (SELECT value FROM meta WHERE name = 'enroll_revision'), "
		    "(SELECT value FROM meta WHERE name = 'join_next_id')", 0, NULL, on_meta);
	if (e == 0)
		e = pg_send(k, PGROWS_JOIN_SELECT, 0, NULL, on_joins);
	if (e == 0)
		e = pg_send(k, PGROWS_TOKEN_SELECT, 0, NULL, on_tokens);
	if (e == 0)
		e = pg_send(k, "COMMIT", 0, NULL, NULL);
	return pg_call_queued(k, e);
}

static void
revision_done(void *arg, uint64_t revision, const char *err)
{
	struct read *r = arg;
	char why[64];
	int e;

	(void)revision;
	if (err == NULL && r->meta_ok && r->revision == r->have) {
		r->rd->done(r->arg, r->revision, 0, false, NULL);
	} else if (err != NULL || !r->meta_ok) {
		r->rd->done(r->arg, 0, 0, false, err != NULL ? err : "no enrolment revision");
	} else if (r->rd->reset(r->arg), (e = snapshot(r)) == 0) {
		return;                          /* snapshot_done frees r */
	} else {
		snprintf(why, sizeof(why), "the database is not reachable (%s)", strerror(-e));
		r->rd->done(r->arg, 0, 0, false, why);
	}
	free(r);
}

int
store_pg_enroll_read(struct store_pg *s, uint64_t have, const struct store_pg_enroll_read *rd,
    void *arg)
{
	struct read *r;
	struct call *k;
	int e;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -ENOMEM;
	r->s = s;
	r->rd = rd;
	r->arg = arg;
	r->have = have;
	if ((e = pg_call_new(s, revision_done, r, &k)) != 0) {
		free(r);
		return e;
	}
	e = pg_call_queued(k, pg_send(k, "SELECT value FROM meta WHERE name = "
	    "'enroll_revision'", 0, NULL, on_meta));
	if (e != 0)
		free(r);
	return e;
}

int
store_pg_enroll_commit(struct store_pg *s, uint64_t base, const struct pgrows_stmt *st,
    size_t n, void (*done)(void *arg, uint64_t revision, const char *err), void *arg)
{
	char b[24];
	const char *v[1] = { b };
	struct call *k;
	int e;

	if ((e = pg_call_new(s, done, arg, &k)) != 0)
		return e;
	k->rollback = true;
	snprintf(b, sizeof(b), "%" PRIu64, base);
	e = pg_send(k, "BEGIN", 0, NULL, NULL);
	if (e == 0)
		e = pg_send(k, "SELECT ws_enroll_step($1::bigint)", 1, v, pg_on_revision);
	for (size_t i = 0; e == 0 && i < n; i++)
		e = pg_send(k, st[i].sql, st[i].n, (const char *const *)st[i].v, NULL);
	if (e == 0)
		e = pg_send(k, "COMMIT", 0, NULL, NULL);
	return pg_call_queued(k, e);
}
