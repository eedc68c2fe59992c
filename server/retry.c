/* Changes nobody waits for -- presence, and removals of revoked peers -- that a failed group
 * commit rolled back: nobody would ask again, so they are queued again after a delay (0.5 s,
 * doubling to 30 s while the store keeps failing) until a batch with them commits. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "rpc/log.h"
#include "server/service_impl.h"

#define RETRY_FIRST_MS 500
#define RETRY_MAX_MS 30000

static void
retry_fire(void *arg)
{
	struct service *svc = arg;
	struct change *c = svc->retry_head, *next;
	size_t n = 0;

	svc->retry_head = NULL;
	svc->retry_tail = &svc->retry_head;
	for (; c != NULL; c = next) {
		next = c->next;
		c->next = NULL;
		if (c->kind == CHANGE_PRESENCE) {
			idcount_add(svc->retry_presence, c->key, -1);
			/* the truth now, not when it failed: the host may have come or gone since,
			 * and no other change was queued for it while the store held the old state */
			c->online = idcount_get(svc->watches, c->key) > 0;
		}
		svc_change_queue(svc, c);
		n++;
	}
	log_debug("writing %zu presence and revocation changes again", n);
}

bool
svc_retry_take(struct service *svc, struct change *c)
{
	bool presence = c->kind == CHANGE_PRESENCE;

	if (!presence && !(c->kind == CHANGE_REMOVE && c->done == NULL))
		return false;
	/* one per host is enough, as it is recomputed when it is written: the list stays
	 * bounded however long the store fails */
	if (presence && (idcount_get(svc->retry_presence, c->key) > 0 ||
	    idcount_add(svc->retry_presence, c->key, 1) < 0))
		return false;
	c->next = NULL;
	c->changed = false;
	c->revision = 0;
	c->old = NULL;
	c->cur = NULL;
	*svc->retry_tail = c;
	svc->retry_tail = &c->next;
	return true;
}

void
svc_retry_schedule(struct service *svc)
{
	size_t n = 0;

	if (svc->retry_head == NULL || loop_timer_armed(&svc->retry_timer))
		return;
	svc->retry_ms = svc->retry_ms == 0 ? RETRY_FIRST_MS :
	    svc->retry_ms >= RETRY_MAX_MS / 2 ? RETRY_MAX_MS : svc->retry_ms * 2;
	for (const struct change *c = svc->retry_head; c != NULL; c = c->next)
		n++;
	/* without a timer they wait for the next batch that commits, or fails and tries again */
	if (loop_timer_set(svc->loop, &svc->retry_timer, svc->retry_ms, retry_fire, svc) < 0) {
		log_warnx("out of memory: %zu presence and revocation changes wait for the next "
		    "write that succeeds", n);
		return;
	}
	log_info("store write failed: %zu presence and revocation changes are written again "
	    "in %u ms", n, svc->retry_ms);
}

void
svc_retry_reset(struct service *svc)
{
	svc->retry_ms = 0;
	/* the store works again: no need to wait for the timer */
	if (svc->retry_head != NULL) {
		loop_timer_cancel(svc->loop, &svc->retry_timer);
		retry_fire(svc);
	}
}

void
svc_retry_free(struct service *svc)
{
	loop_timer_cancel(svc->loop, &svc->retry_timer);
	while (svc->retry_head != NULL) {
		struct change *c = svc->retry_head;
		svc->retry_head = c->next;
		free(c);
	}
	svc->retry_tail = &svc->retry_head;
	idcount_del(svc->retry_presence);
	svc->retry_presence = NULL;
}
