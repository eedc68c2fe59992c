/* One log line per window for a kind of event that can come by the thousand (handshake
 * timeouts of a slowloris, idle connections, refused addresses); pure logic, no I/O. The
 * first event of a window is logged; the rest are counted, and the caller logs the count
 * when the window ends ("1999 more in the last 10 s"). */
#ifndef WS_RATELOG_H
#define WS_RATELOG_H

#include <stdbool.h>
#include <stdint.h>

struct ratelog {
	uint32_t window_ms;
	uint64_t start_ms;      /* the window of the last logged event */
	uint64_t held;          /* events since then, not logged */
	bool open;
};

void ratelog_init(struct ratelog *r, uint32_t window_ms);

/* An event at now_ms. Returns true when it opens a new window: log it (and, when the
 * window was opened just now, arrange to call ratelog_take_held window_ms later); false
 * when it was counted instead. */
bool ratelog_event(struct ratelog *r, uint64_t now_ms);

/* The events counted and not logged since the last call; resets the count. */
uint64_t ratelog_take_held(struct ratelog *r);

#endif
