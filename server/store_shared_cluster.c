/* The shared store's calls of the cluster's tables (store.h on PostgreSQL): the servers
 * and their leases, the shared session ticket keys, link health and the audit log, each
 * handed to server/store_pg.h with its answer mapped to store.h's. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "rpc/log.h"
#include "server/store_impl.h"
#include "server/store_pg.h"

/* ---- the cluster ----------------------------------------------------------------------- */

struct list_ctx {
	struct store_shared *sh;
	void (*server_fn)(void *arg, const char *name, const char *address, int64_t until_ms);
	void (*keys_fn)(void *arg, const uint8_t *records, size_t n, int64_t created_ms);
	int (*audit_fn)(const struct store_audit *e, void *arg);
	void (*done)(void *arg, int err);
	void *arg;
};

static void
list_server(void *arg, const char *name, const char *address, int64_t until_ms)
{
	struct list_ctx *c = arg;

	if (!store_shared_closing(c->sh))
		c->server_fn(c->arg, name, address, until_ms);
}

static void
list_keys(void *arg, const uint8_t *records, size_t n, int64_t created_ms)
{
	struct list_ctx *c = arg;

	if (!store_shared_closing(c->sh))
		c->keys_fn(c->arg, records, n, created_ms);
}

static void
on_listed(void *arg, uint64_t revision, const char *err)
{
	struct list_ctx *c = arg;

	(void)revision;
	if (!store_shared_closing(c->sh))
		c->done(c->arg, err == NULL ? 0 : store_shared_ready(c->sh) ? -EIO : -ENOTCONN);
	free(c);
}

/* A call of the cluster's tables for done: -ENOTCONN or -ENOMEM, else 0 and *out. */
static int
list_begin(struct store_shared *sh, void (*done)(void *arg, int err), void *arg,
    struct list_ctx **out)
{
	struct list_ctx *c;

	if (!store_shared_ready(sh))
		return -ENOTCONN;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	c->sh = sh;
	c->done = done;
	c->arg = arg;
	*out = c;
	return 0;
}

/* The call went (r 0: done will be called) or not (c freed). */
static int
list_sent(struct list_ctx *c, int r)
{
	if (r != 0)
		free(c);
	return r;
}

int
store_shared_servers(struct store_shared *sh,
    void (*fn)(void *arg, const char *name, const char *address, int64_t lease_until_ms),
    void (*done)(void *arg, int err), void *arg)
{
	struct list_ctx *c;
	int r;

	if ((r = list_begin(sh, done, arg, &c)) != 0)
		return r;
	c->server_fn = fn;
	return list_sent(c, store_pg_servers(store_shared_pg(sh), list_server, on_listed, c));
}

int
store_shared_tickets(struct store_shared *sh,
    void (*fn)(void *arg, const uint8_t *records, size_t n, int64_t created_ms),
    void (*done)(void *arg, int err), void *arg)
{
	struct list_ctx *c;
	int r;

	if ((r = list_begin(sh, done, arg, &c)) != 0)
		return r;
	c->keys_fn = fn;
	return list_sent(c, store_pg_tickets(store_shared_pg(sh), list_keys, on_listed, c));
}

int
store_shared_ticket_add(struct store_shared *sh, const uint8_t record[80], bool forget_old,
    int64_t now_ms, void (*done)(void *arg, int err), void *arg)
{
	struct list_ctx *c;
	int r;

	if ((r = list_begin(sh, done, arg, &c)) != 0)
		return r;
	return list_sent(c, store_pg_ticket_add(store_shared_pg(sh), record, forget_old, now_ms, on_listed,
	    c));
}

/* ---- link health and the audit log: written through, read at the first connection ---- */


static void
on_side_write(void *arg, uint64_t revision, const char *err)
{
	(void)revision;
	if (err != NULL)
		log_warnx("database: cannot store %s: %s", (const char *)arg, err);
}

int
store_shared_links_replace(struct store_shared *sh, const uint8_t reporter[WG_KEY_LEN],
    const struct store_link *v, size_t n)
{
	return store_pg_links_replace(store_shared_pg(sh), reporter, v, n, on_side_write, "link health");
}

int
store_shared_links_drop(struct store_shared *sh, const uint8_t key[WG_KEY_LEN])
{
	return store_pg_links_drop(store_shared_pg(sh), key, on_side_write, "the drop of link health");
}

int
store_shared_audit_add(struct store_shared *sh, struct store_audit *e, uint64_t max_entries)
{
	/* the database gives the id; the entry is on its way, as the action is done */
	e->id = 0;
	return store_pg_audit_add(store_shared_pg(sh), e, max_entries, on_side_write, "an audit entry");
}

static int
list_audit(void *arg, const struct store_audit *e)
{
	struct list_ctx *c = arg;

	return store_shared_closing(c->sh) ? 1 : c->audit_fn(e, c->arg);
}

int
store_shared_audit_list(struct store_shared *sh, const char *network, uint64_t before_id,
    uint32_t limit, int (*fn)(const struct store_audit *e, void *arg),
    void (*done)(void *arg, int err), void *arg)
{
	struct list_ctx *c;
	int r;

	if ((r = list_begin(sh, done, arg, &c)) != 0)
		return r;
	c->audit_fn = fn;
	return list_sent(c, store_pg_audit_list(store_shared_pg(sh), network, before_id, limit, list_audit,
	    on_listed, c));
}

