/* The relay's UDP socket on the server's loop (relay_listen): reads datagrams, asks
 * relay_route where each goes and sends it there unchanged. Its hosts come from the store:
 * every peer whose certificate is current, known by the IPs the server authenticated (the
 * source of its TLS connection, the endpoint the hub observed), resynced after each commit
 * that changed them (relay_io_follow; a resync that takes T waits 20 T before the next)
 * and each minute (certificates expire without a change to the store).
 * Its own module, apart from the gRPC service. */
#ifndef WS_RELAY_IO_H
#define WS_RELAY_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc/loop.h"
#include "server/relay.h"
#include "server/store.h"

struct relay_io;

/* Binds UDP on listen ("HOST:PORT", "[V6]:PORT"; port 0 picks one) and loads the hosts
 * from st (borrowed; it must outlive the relay). lim NULL: the defaults. Returns 0 and
 * *out, or a negative errno with err naming the address or what failed. */
int relay_io_new(struct loop *l, struct store *st, const char *listen,
    const struct relay_limits *lim, struct relay_io **out, char *err, size_t errlen);
/* Closes the socket and frees the table; accepts NULL. */
void relay_io_del(struct relay_io *io);

/* Whether listen is a numeric "HOST:PORT" or "[V6]:PORT" relay_io_new can bind; why says
 * what is wrong otherwise. For the configuration check. */
bool relay_io_addr_ok(const char *listen, char *why, size_t len);

/* The bound UDP port. */
int relay_io_port(const struct relay_io *io);

struct service;
/* Resyncs after every commit of svc that changed the peers (service_on_commit). 0 or -1
 * when svc has no hook left. */
int relay_io_follow(struct relay_io *io, struct service *svc);

/* Reloads the hosts from the store now (also done after commits and each minute).
 * Returns how many hosts are registered, or a negative errno. */
int relay_io_sync(struct relay_io *io);

/* Counters for metrics and tests: the table's, and datagrams/bytes sent and send errors. */
struct relay_io_stats {
	struct relay_stats table;
	uint64_t sent, sent_bytes, send_errors;
};
void relay_io_stats_get(const struct relay_io *io, struct relay_io_stats *st);

#endif
