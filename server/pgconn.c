/* libpq in the event loop (server/pgconn.h). The queries sent form a FIFO of what libpq
 * will answer, each query's results then a NULL, and one PGRES_PIPELINE_SYNC per sync:
 * results are matched to callbacks by that order alone, and a sync closes every query
 * before it (libpq 15 ends the last aborted query of a failed pipeline without a NULL). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "rpc/backoff.h"
#include "server/pgconn.h"

enum item_kind { ITEM_QUERY, ITEM_SYNC };

struct item {
	struct item *next;
	enum item_kind kind;
	bool answered;                 /* fn has had its call */
	pgconn_result_fn fn;
	void *arg;
};

enum pg_state { PG_WAITING, PG_CONNECTING, PG_READY };

struct pgconn {
	struct loop *loop;
	char *conninfo;
	const struct pgconn_cb *cb;
	void *arg;
	PGconn *pg;
	enum pg_state state;
	struct loop_io io;
	int io_fd;                     /* registered with the loop; -1 none */
	struct loop_timer retry, deadline;
	struct loop_defer sync, fail;
	struct backoff bo;
	struct item *head, *tail;
	bool unsynced;                 /* queries sent since the last sync */
	char target[256];
	struct pgconn_stats st;
};

static void start_attempt(void *arg);
static void on_io(void *arg, uint32_t events);

/* libpq's messages end in a newline; a log line must not. */
static void
trim_copy(char *out, size_t len, const char *msg)
{
	size_t n;

	snprintf(out, len, "%s", msg != NULL && msg[0] != '\0' ? msg : "unknown error");
	n = strlen(out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
}

static void
io_set(struct pgconn *c, uint32_t events)
{
	int fd = c->pg != NULL ? PQsocket(c->pg) : -1;

	if (c->io_fd >= 0 && c->io_fd != fd) {
		loop_io_del(c->loop, &c->io);
		c->io_fd = -1;
	}
	if (fd < 0)
		return;
	if (c->io_fd < 0) {
		if (loop_io_add(c->loop, &c->io, fd, events, on_io, c) == 0)
			c->io_fd = fd;
	} else {
		loop_io_mod(c->loop, &c->io, events);
	}
}

static void
items_fail(struct pgconn *c, const char *why)
{
	struct item *it;

	while ((it = c->head) != NULL) {
		c->head = it->next;
		if (it->kind == ITEM_QUERY && !it->answered && it->fn != NULL)
			it->fn(it->arg, NULL, why);
		free(it);
	}
	c->tail = NULL;
	c->unsynced = false;
}

/* The attempt or the connection ended: callbacks told, the next attempt scheduled. */
static void
lost(struct pgconn *c, const char *what, const char *msg)
{
	char why[768], m[400];

	trim_copy(m, sizeof(m), msg);
	snprintf(why, sizeof(why), "%s: %s: %s", c->target, what, m);
	loop_timer_cancel(c->loop, &c->deadline);
	loop_defer_cancel(c->loop, &c->sync);
	loop_defer_cancel(c->loop, &c->fail);
	if (c->io_fd >= 0) {
		loop_io_del(c->loop, &c->io);
		c->io_fd = -1;
	}
	if (c->pg != NULL) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	c->state = PG_WAITING;
	items_fail(c, "connection lost");
	loop_timer_set(c->loop, &c->retry, backoff_next(&c->bo), start_attempt, c);
	if (c->cb->on_down != NULL)
		c->cb->on_down(c->arg, why);
}

static void
on_deadline(void *arg)
{
	struct pgconn *c = arg;

	lost(c, "connecting", "no answer within 10 s");
}

static void
became_ready(struct pgconn *c)
{
	const char *h = PQhost(c->pg), *p = PQport(c->pg), *d = PQdb(c->pg);

	loop_timer_cancel(c->loop, &c->deadline);
	if (PQsetnonblocking(c->pg, 1) != 0 || PQenterPipelineMode(c->pg) != 1) {
		lost(c, "pipeline mode", PQerrorMessage(c->pg));
		return;
	}
	snprintf(c->target, sizeof(c->target), "%s:%s/%s", h != NULL ? h : "?",
	    p != NULL ? p : "?", d != NULL ? d : "?");
	c->state = PG_READY;
	backoff_reset(&c->bo);
	io_set(c, EPOLLIN);
	c->st.connects++;
	if (c->cb->on_up != NULL)
		c->cb->on_up(c->arg);
}

static void
connect_step(struct pgconn *c)
{
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_READING:
		io_set(c, EPOLLIN);
		break;
	case PGRES_POLLING_WRITING:
		io_set(c, EPOLLOUT);
		break;
	case PGRES_POLLING_OK:
		became_ready(c);
		break;
	case PGRES_POLLING_FAILED:
	default:
		lost(c, "connecting", PQerrorMessage(c->pg));
		break;
	}
}

static void
start_attempt(void *arg)
{
	struct pgconn *c = arg;

	c->st.attempts++;
	c->pg = PQconnectStart(c->conninfo);
	if (c->pg == NULL) {
		lost(c, "connecting", "out of memory");
		return;
	}
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		lost(c, "connecting", PQerrorMessage(c->pg));
		return;
	}
	c->state = PG_CONNECTING;
	loop_timer_set(c->loop, &c->deadline, PGCONN_CONNECT_TIMEOUT_MS, on_deadline, c);
	/* as if PQconnectPoll had said PGRES_POLLING_WRITING (libpq's rule for a start) */
	io_set(c, EPOLLOUT);
}

static void
item_pop(struct pgconn *c)
{
	struct item *it = c->head;

	c->head = it->next;
	if (c->head == NULL)
		c->tail = NULL;
	free(it);
}

static void
deliver(struct item *it, PGresult *r)
{
	char m[400];

	if (it->answered || it->fn == NULL) {
		it->answered = true;
		return;
	}
	it->answered = true;
	switch (PQresultStatus(r)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		it->fn(it->arg, r, NULL);
		break;
	case PGRES_PIPELINE_ABORTED:
		it->fn(it->arg, NULL, "aborted: an earlier query of its pipeline failed");
		break;
	default: {
		/* the SQLSTATE first: callers tell a refused key from a lost database by it,
		 * whatever language the server's messages are in */
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		char text[380];

		trim_copy(text, sizeof(text), PQresultErrorMessage(r));
		snprintf(m, sizeof(m), "[%s] %s", state != NULL ? state : "?????", text);
		it->fn(it->arg, NULL, m);
	}
		break;
	}
}

/* Hands out every result libpq has whole, in order; false when the connection is lost. */
static bool
drain(struct pgconn *c)
{
	PGnotify *n;

	while (c->head != NULL && !PQisBusy(c->pg)) {
		struct item *it = c->head;
		PGresult *r = PQgetResult(c->pg);

		if (r != NULL && PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			/* the end of a pipeline ends every query before it: after an error,
			 * libpq gives the last aborted query no NULL of its own */
			while (c->head != NULL && c->head->kind == ITEM_QUERY) {
				it = c->head;
				if (!it->answered && it->fn != NULL)
					it->fn(it->arg, NULL, "aborted: an earlier query of its "
					    "pipeline failed");
				item_pop(c);
			}
			if (c->head != NULL)
				item_pop(c);
			PQclear(r);
			continue;
		}
		if (it->kind == ITEM_SYNC) {
			PQclear(r);
			if (r == NULL)
				break;               /* the sync is not in yet */
			continue;
		}
		if (r == NULL) {
			if (!it->answered && it->fn != NULL)
				it->fn(it->arg, NULL, "no result");
			item_pop(c);
			continue;
		}
		deliver(it, r);
		PQclear(r);
	}
	while ((n = PQnotifies(c->pg)) != NULL) {
		c->st.notifies++;
		if (c->cb->on_notify != NULL)
			c->cb->on_notify(c->arg, n->relname, n->extra != NULL ? n->extra : "");
		PQfreemem(n);
	}
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		lost(c, "connection", PQerrorMessage(c->pg));
		return false;
	}
	return true;
}

static void
flush(struct pgconn *c)
{
	int r = PQflush(c->pg);

	if (r < 0)
		lost(c, "sending", PQerrorMessage(c->pg));
	else
		io_set(c, r == 1 ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

static void
on_io(void *arg, uint32_t events)
{
	struct pgconn *c = arg;

	if (c->state == PG_CONNECTING) {
		connect_step(c);
		return;
	}
	if (c->state != PG_READY)
		return;
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		if (PQconsumeInput(c->pg) == 0) {
			lost(c, "connection", PQerrorMessage(c->pg));
			return;
		}
		if (!drain(c))
			return;
	}
	if (c->state == PG_READY && (events & EPOLLOUT))
		flush(c);
}

/* End of the loop turn: the queries of the turn become one pipeline. */
static void
on_sync(void *arg)
{
	struct pgconn *c = arg;
	struct item *it;

	if (c->state != PG_READY || !c->unsynced)
		return;
	if ((it = calloc(1, sizeof(*it))) == NULL || PQpipelineSync(c->pg) != 1) {
		free(it);
		lost(c, "sending", it == NULL ? "out of memory" : PQerrorMessage(c->pg));
		return;
	}
	it->kind = ITEM_SYNC;
	if (c->tail != NULL)
		c->tail->next = it;
	else
		c->head = it;
	c->tail = it;
	c->unsynced = false;
	c->st.pipelines++;
	flush(c);
}

void
pgconn_end(struct pgconn *c)
{
	on_sync(c);
}

static void
on_send_failed(void *arg)
{
	struct pgconn *c = arg;

	if (c->state == PG_READY)
		lost(c, "sending", PQerrorMessage(c->pg));
}

int
pgconn_send(struct pgconn *c, const char *sql, int n, const char *const *values,
    pgconn_result_fn fn, void *arg)
{
	struct item *it;

	if (c->state != PG_READY)
		return -ENOTCONN;
	if ((it = calloc(1, sizeof(*it))) == NULL)
		return -ENOMEM;
	if (PQsendQueryParams(c->pg, sql, n, NULL, values, NULL, NULL, 0) != 1) {
		free(it);
		/* the connection is gone: said from the loop, not inside the caller */
		loop_defer(c->loop, &c->fail, on_send_failed, c);
		return -ENOTCONN;
	}
	it->kind = ITEM_QUERY;
	it->fn = fn;
	it->arg = arg;
	if (c->tail != NULL)
		c->tail->next = it;
	else
		c->head = it;
	c->tail = it;
	c->unsynced = true;
	c->st.queries++;
	loop_defer(c->loop, &c->sync, on_sync, c);
	return 0;
}

struct pgconn *
pgconn_new(struct loop *l, const char *conninfo, const struct pgconn_cb *cb, void *arg,
    char *err, size_t errlen)
{
	struct pgconn *c;
	PQconninfoOption *opts;
	char *msg = NULL, m[400];
	const char *host = NULL, *port = NULL, *db = NULL;

	if ((opts = PQconninfoParse(conninfo, &msg)) == NULL) {
		trim_copy(m, sizeof(m), msg != NULL ? msg : "out of memory");
		snprintf(err, errlen, "database: %s", m);
		PQfreemem(msg);
		return NULL;
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			db = o->val;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL || (c->conninfo = strdup(conninfo)) == NULL) {
		free(c);
		PQconninfoFree(opts);
		snprintf(err, errlen, "database: out of memory");
		return NULL;
	}
	/* never the password: this goes to logs */
	snprintf(c->target, sizeof(c->target), "%s:%s/%s", host != NULL ? host : "localhost",
	    port != NULL ? port : "5432", db != NULL ? db : "(default)");
	PQconninfoFree(opts);
	c->loop = l;
	c->cb = cb;
	c->arg = arg;
	c->io_fd = -1;
	backoff_init(&c->bo, PGCONN_BACKOFF_BASE_MS, PGCONN_BACKOFF_CAP_MS, 0);
	start_attempt(c);
	return c;
}

void
pgconn_del(struct pgconn *c)
{
	if (c == NULL)
		return;
	loop_timer_cancel(c->loop, &c->retry);
	loop_timer_cancel(c->loop, &c->deadline);
	loop_defer_cancel(c->loop, &c->sync);
	loop_defer_cancel(c->loop, &c->fail);
	if (c->io_fd >= 0)
		loop_io_del(c->loop, &c->io);
	/* the failed items' callbacks may send (a ROLLBACK): nothing goes any more */
	c->state = PG_WAITING;
	items_fail(c, "connection closed");
	loop_defer_cancel(c->loop, &c->sync);
	loop_defer_cancel(c->loop, &c->fail);
	if (c->pg != NULL)
		PQfinish(c->pg);
	free(c->conninfo);
	free(c);
}

bool
pgconn_ready(const struct pgconn *c)
{
	return c->state == PG_READY;
}

const char *
pgconn_target(const struct pgconn *c)
{
	return c->target;
}

void
pgconn_stats(const struct pgconn *c, struct pgconn_stats *out)
{
	*out = c->st;
}
