/* IPv4/IPv6 addresses with an optional prefix length: parsing, canonical text, comparison. */
#ifndef WS_NETADDR_H
#define WS_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Long enough for "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128" and a NUL. */
#define NETADDR_STRLEN 52

struct netaddr {
	uint8_t family;  /* AF_INET, AF_INET6, or 0 for "none" */
	uint8_t prefix;  /* 32 or 128 when no prefix was written */
	uint8_t addr[16];
};

/* Parses "192.0.2.1", "2001:db8::1" and, when allow_prefix, "10.9.0.5/32". Rejects
 * anything else (spaces, empty, leading zeros in v4 octets, prefix out of range) and, on
 * failure, writes a message quoting the bad value into err. */
bool netaddr_parse(const char *s, bool allow_prefix, struct netaddr *out, char *err, size_t errlen);

/* Writes canonical text ("10.9.0.5", or "10.9.0.5/32" when with_prefix) into buf, which
 * must hold NETADDR_STRLEN bytes. Returns buf; "" for family 0. */
char *netaddr_format(const struct netaddr *a, bool with_prefix, char *buf);

/* Fills out from an AF_INET/AF_INET6 socket address (a v4-mapped v6 address becomes v4).
 * Returns false for other families. */
bool netaddr_from_sockaddr(const struct sockaddr *sa, struct netaddr *out);

/* What netaddr_hostport_parse found wrong with a "HOST:PORT". */
enum netaddr_hostport {
	NETADDR_HOSTPORT_OK = 0,
	NETADDR_HOSTPORT_NO_PORT,            /* no ":PORT" */
	NETADDR_HOSTPORT_BAD_PORT,           /* not 0-65535 in decimal */
	NETADDR_HOSTPORT_BAD_HOST,           /* not a numeric IPv4 address nor [IPv6] */
};

/* Splits a numeric "192.0.2.1:8080" or "[2001:db8::1]:8080" into a socket address (*sl
 * its length) for bind; *loopback: whether it is in 127.0.0.0/8 or ::1. */
enum netaddr_hostport netaddr_hostport_parse(const char *s, struct sockaddr_storage *ss,
    socklen_t *sl, bool *loopback);

/* True when both are the same family, address and prefix. */
bool netaddr_equal(const struct netaddr *a, const struct netaddr *b);

#endif
