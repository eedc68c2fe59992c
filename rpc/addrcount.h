/* Counts per source address (pure logic, no I/O): how many connections from one address
 * are still in their TLS handshake, so one address cannot hold every slot of
 * max_connections with stalled handshakes. An IPv4 address (also IPv4-mapped IPv6) counts
 * alone; IPv6 addresses count per /64, the block one host or site usually gets. */
#ifndef WS_ADDRCOUNT_H
#define WS_ADDRCOUNT_H

#include <stdint.h>
#include <sys/socket.h>

struct addrcount;

/* A new, empty table; NULL on ENOMEM. Free with addrcount_del (accepts NULL). */
struct addrcount *addrcount_new(void);
void addrcount_del(struct addrcount *t);

/* Counts one more for sa's address unless it already has max (0: no limit). Returns the
 * new count, 0 when at max (nothing counted), -ENOMEM, or -EAFNOSUPPORT for a family
 * other than AF_INET and AF_INET6 (nothing counted). */
int addrcount_take(struct addrcount *t, const struct sockaddr *sa, uint32_t max);
/* Counts one less (after a successful take); an address at zero is forgotten. */
void addrcount_release(struct addrcount *t, const struct sockaddr *sa);
/* The current count of sa's address. */
uint32_t addrcount_get(const struct addrcount *t, const struct sockaddr *sa);
/* Addresses with a count above zero. */
size_t addrcount_size(const struct addrcount *t);

#endif
