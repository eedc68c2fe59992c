/* Session ticket keys a cluster shares through its database (server/daemon.h): every
 * server reads the newest two a minute, and the one that finds the newest older than
 * ticket_key_rotate_s adds a fresh one; so a ticket one server gave resumes on another. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "rpc/log.h"
#include "rpc/loop.h"
#include "rpc/tickets.h"
#include "server/daemon.h"
#include "server/store.h"

#define SHARED_TICKETS_READ_MS 60000

static void read_keys(struct daemon *d);

static void
on_added(void *arg, int err)
{
	struct daemon *d = arg;

	if (err != 0)
		log_warnx("database: cannot add a session ticket key; this server keeps its own "
		    "until the next try");
	read_keys(d);
}

static void
add_key(struct daemon *d, bool forget_old)
{
	uint8_t rec[TLS_TICKET_KEY_LEN];

	if (tls_tickets_make(rec) < 0 ||
	    store_ticket_add(d->store, rec, forget_old, loop_wall_ms(), on_added, d) != 0)
		log_debug("database: no session ticket key added now (not connected)");
	OPENSSL_cleanse(rec, sizeof(rec));
}

static void
on_keys(void *arg, const uint8_t *records, size_t n, int64_t created_ms)
{
	struct daemon *d = arg;

	if (n == 0 || loop_wall_ms() - created_ms >= (int64_t)d->ticket_rotate_s * 1000) {
		/* a rotation due: whichever server comes first makes it; the others read it */
		if (!d->ticket_adding) {
			d->ticket_adding = true;
			add_key(d, false);
		}
		if (n == 0)
			return;
	}
	if (tls_tickets_set(d->tickets, records, n, created_ms / 1000) < 0)
		log_warnx("database: cannot use the shared session ticket keys");
}

static void
on_read(void *arg, int err)
{
	(void)arg;
	if (err != 0)
		log_debug("database: cannot read the session ticket keys");
}

static void
read_keys(struct daemon *d)
{
	d->ticket_adding = false;
	if (store_tickets(d->store, on_keys, on_read, d) != 0)
		log_debug("database: session ticket keys not read now (not connected)");
}

static void
on_read_timer(void *arg)
{
	struct daemon *d = arg;

	read_keys(d);
	loop_timer_set(d->loop, &d->ticket_timer, SHARED_TICKETS_READ_MS, on_read_timer, d);
}

int
open_shared_tickets(struct daemon *d, uint32_t rotate_s, char *err, size_t errlen)
{
	d->ticket_rotate_s = rotate_s;
	if ((d->tickets = tls_tickets_open_shared(d->ctx, rotate_s, err, errlen)) == NULL)
		return -1;
	on_read_timer(d);
	return 0;
}

void
forget_shared_tickets(struct daemon *d)
{
	d->ticket_adding = true;
	add_key(d, true);
}
