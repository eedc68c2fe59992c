/* Client PING strikes, wiped by the server's own HEADERS and DATA. */
#include "config.h"

#include <string.h>

#include "rpc/pingpolicy.h"

void
ping_policy_init(struct ping_policy *p)
{
	memset(p, 0, sizeof(*p));
}

void
ping_policy_reset(struct ping_policy *p)
{
	p->strikes = 0;
	p->have_last = false;
}

bool
ping_policy_received(struct ping_policy *p, uint64_t now_ms, uint32_t min_ms,
    unsigned max_strikes)
{
	bool early = p->have_last && now_ms - p->last_ms < min_ms;

	p->last_ms = now_ms;
	p->have_last = true;
	if (!early)
		return false;
	if (p->strikes < UINT8_MAX)
		p->strikes++;
	return p->strikes > max_strikes;
}
