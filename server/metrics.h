/* wiresyncd's Prometheus metrics: counters and histograms fed by the service and by the
 * rpc server's observer, served as text by a small plain-HTTP listener that accepts
 * loopback addresses only and runs in the server's loop. */
#ifndef WS_METRICS_H
#define WS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc/h2server.h"
#include "rpc/loop.h"

struct metrics;
struct service;

enum metrics_hist {
	METRICS_UPDATE,   /* Update received -> acknowledged after its commit */
	METRICS_FANOUT,   /* commit -> event queued on one watcher's stream */
	METRICS_COMMIT,   /* store transaction, BEGIN to COMMIT */
	METRICS_N_HIST
};

/* True when addr is "IPV4:PORT" with an address in 127.0.0.0/8 or "[::1]:PORT" (numeric
 * only: the listener must never face a network). Else false with err quoting addr. */
bool metrics_addr_ok(const char *addr, char *err, size_t errlen);

/* A new, empty set of metrics (not listening). NULL with errno set. */
struct metrics *metrics_new(struct loop *l);
/* Closes the listener and its clients and frees m; accepts NULL. */
void metrics_del(struct metrics *m);

/* Listens on addr (see metrics_addr_ok) for "GET /metrics". 0 or -errno with err set. */
int metrics_listen(struct metrics *m, const char *addr, char *err, size_t errlen);
/* The port bound, or 0 when not listening. */
int metrics_port(const struct metrics *m);

/* The objects the gauges read at each scrape (borrowed; either may be NULL). */
void metrics_attach(struct metrics *m, const struct service *svc, const struct rpc_server *srv);

struct relay_io;
/* The relay whose counters the wiresync_relay_* series show (borrowed; NULL: none). */
void metrics_attach_relay(struct metrics *m, const struct relay_io *relay);
struct hub_io;
/* The hub whose figures the wiresync_hub_* series show (borrowed; NULL: none). */
void metrics_attach_hub(struct metrics *m, const struct hub_io *hub);

/* Shows path's counter (code OK) at zero before its first call. */
void metrics_rpc_register(struct metrics *m, const char *path);
/* Fills obs with hooks that count calls and handshake failures into m. */
void metrics_rpc_observer(struct metrics *m, struct rpc_observer *obs);

/* Monotonic nanoseconds, the clock of metrics_observe_since. */
uint64_t metrics_clock_ns(void);
/* Records now - start_ns in histogram h; does nothing when m is NULL. */
void metrics_observe_since(struct metrics *m, enum metrics_hist h, uint64_t start_ns);
/* Records a duration of ns nanoseconds in histogram h; does nothing when m is NULL. */
void metrics_observe(struct metrics *m, enum metrics_hist h, uint64_t ns);

/* The exposition text (Prometheus text format 0.0.4). Returns a string to free() with its
 * length in *len, or NULL on ENOMEM. */
char *metrics_render(struct metrics *m, size_t *len);

#endif
