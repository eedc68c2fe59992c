/* Link health (issue 16): each host's latest WireSync.ReportLinks, kept in the store
 * (store_links.c) and in memory, and the pairs Admin.ListLinks and the metrics read from
 * it. Hosts never read it: only the operator's Admin service does. */
#ifndef WS_LINKS_H
#define WS_LINKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc/h2server.h"
#include "server/store.h"

#define LINKS_REPORT_MAX 1024        /* links in one report */
#define LINKS_MIN_INTERVAL_S 5       /* the least gap between one host's reports */
#define LINKS_UP_WINDOW_S 180        /* default link_up_window_s */

struct service;
struct links;

/* The links stored in st, for svc (both borrowed); up_window_s 0 takes the default. NULL
 * with err set. */
struct links *links_new(struct service *svc, struct store *st, uint32_t up_window_s,
    char *err, size_t errlen);
/* Frees l; accepts NULL. */
void links_del(struct links *l);

/* After a commit that changed the stored peers (update.c): hosts removed take their rows
 * along. Accepts NULL. */
void links_after_commit(struct links *l);

/* fn(arg) runs after a stored report that changed an up/down of the reporter's ends (or
 * the peers it names): the web console redraws at once. NULL fn: none. */
void links_set_observer(struct links *l, void (*fn)(void *), void *arg);

/* WireSync.ReportLinks (arg the service). */
void links_handle_report(struct rpc_call *call, const uint8_t *req, size_t len, void *arg);

/* One pair of stored hosts of a network, a's name sorting before b's; ra (rb): a's (b's)
 * latest row about the other, NULL when it did not report on it. */
struct link_pair {
	const struct peer *a, *b;
	const struct store_link *ra, *rb;
	bool up;                     /* both ends saw a handshake within the up window, and
	                                neither says down (path "") */
	const char *path;            /* both ends' path; "mixed" when they differ; "" down */
};

/* The pairs of network that either end reported on; only those of host name unless it
 * is NULL or "". *out (free it; valid until the next report or commit), or -ENOMEM. */
int links_pairs(const struct links *l, const char *network, const char *name, int64_t now_ms,
    struct link_pair **out, size_t *n);

/* Pairs up and down by path (index: lan, wan, observed, relay, mixed, "" last), all
 * networks, for the metrics. */
#define LINKS_PATHS 6
extern const char *const links_path_names[LINKS_PATHS];
void links_count(const struct links *l, int64_t now_ms, size_t up[LINKS_PATHS],
    size_t down[LINKS_PATHS]);

/* The up window in force (link_up_window_s). */
uint32_t links_up_window_s(const struct links *l);

/* The service's links (NULL: none yet). */
const struct links *service_links(const struct service *svc);

/* Wall-clock milliseconds since the epoch. */
int64_t links_wall_ms(void);

#endif
