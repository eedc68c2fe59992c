/* First event of a window logged, the others counted. */
#include "config.h"

#include "rpc/ratelog.h"

void
ratelog_init(struct ratelog *r, uint32_t window_ms)
{
	r->window_ms = window_ms;
	r->start_ms = 0;
	r->held = 0;
	r->open = false;
}

bool
ratelog_event(struct ratelog *r, uint64_t now_ms)
{
	if (!r->open || now_ms - r->start_ms >= r->window_ms) {
		r->open = true;
		r->start_ms = now_ms;
		return true;
	}
	r->held++;
	return false;
}

uint64_t
ratelog_take_held(struct ratelog *r)
{
	uint64_t n = r->held;

	r->held = 0;
	return n;
}
