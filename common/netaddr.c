/* IPv4/IPv6 addresses with an optional prefix length: strict parsing, canonical text. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/netaddr.h"
#include "rpc/log.h"

/* Longest input quoted in an error message; longer values are cut and end in "...". */
#define NETADDR_QUOTE_MAX 64


/* Copies s into out for quoting: non-printable bytes become '?', long values are cut. */
static void
netaddr_quote(const char *s, char out[NETADDR_QUOTE_MAX + 4])
{
	size_t i;

	for (i = 0; s[i] != '\0' && i < NETADDR_QUOTE_MAX; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i] != '\0') {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
}

/* Reads a decimal prefix length: digits only, no sign, no leading zero, at most max. */
static bool
netaddr_parse_prefix(const char *s, unsigned max, uint8_t *out)
{
	unsigned v = 0;
	size_t i;

	if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 3)
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = (uint8_t)v;
	return true;
}

bool
netaddr_parse(const char *s, bool allow_prefix, struct netaddr *out, char *err,
    size_t errlen)
{
	char host[INET6_ADDRSTRLEN], canon[INET_ADDRSTRLEN], quoted[NETADDR_QUOTE_MAX + 4];
	struct netaddr a;
	const char *slash;
	size_t hostlen;
	unsigned max;

	if (s == NULL || s[0] == '\0') {
		err_set(err, errlen, "empty IP address");
		return false;
	}
	netaddr_quote(s, quoted);
	memset(&a, 0, sizeof(a));

	slash = strchr(s, '/');
	if (slash != NULL && !allow_prefix) {
		err_set(err, errlen, "invalid IP address \"%s\": no prefix length allowed",
		    quoted);
		return false;
	}
	hostlen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (hostlen == 0 || hostlen >= sizeof(host))
		goto bad_address;
	memcpy(host, s, hostlen);
	host[hostlen] = '\0';

	if (strchr(host, ':') != NULL) {
		if (inet_pton(AF_INET6, host, a.addr) != 1)
			goto bad_address;
		a.family = AF_INET6;
		max = 128;
	} else {
		if (inet_pton(AF_INET, host, a.addr) != 1)
			goto bad_address;
		/* Only the canonical dotted quad: no leading zeros, whatever libc accepts. */
		if (inet_ntop(AF_INET, a.addr, canon, sizeof(canon)) == NULL ||
		    strcmp(canon, host) != 0)
			goto bad_address;
		a.family = AF_INET;
		max = 32;
	}

	a.prefix = (uint8_t)max;
	if (slash != NULL && !netaddr_parse_prefix(slash + 1, max, &a.prefix)) {
		err_set(err, errlen, "invalid prefix length in \"%s\" (0 to %u)", quoted,
		    max);
		return false;
	}
	*out = a;
	return true;

bad_address:
	err_set(err, errlen, "invalid IP address \"%s\"", quoted);
	return false;
}

char *
netaddr_format(const struct netaddr *a, bool with_prefix, char *buf)
{
	size_t n;

	buf[0] = '\0';
	if (a->family != AF_INET && a->family != AF_INET6)
		return buf;
	if (inet_ntop(a->family, a->addr, buf, NETADDR_STRLEN) == NULL) {
		buf[0] = '\0';
		return buf;
	}
	if (with_prefix) {
		n = strlen(buf);
		snprintf(buf + n, NETADDR_STRLEN - n, "/%u", (unsigned)a->prefix);
	}
	return buf;
}

bool
netaddr_from_sockaddr(const struct sockaddr *sa, struct netaddr *out)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	if (sa == NULL)
		return false;
	memset(out, 0, sizeof(*out));
	switch (sa->sa_family) {
	case AF_INET:
		memcpy(&sin, sa, sizeof(sin));
		out->family = AF_INET;
		out->prefix = 32;
		memcpy(out->addr, &sin.sin_addr, 4);
		return true;
	case AF_INET6:
		memcpy(&sin6, sa, sizeof(sin6));
		if (memcmp(sin6.sin6_addr.s6_addr, v4mapped, sizeof(v4mapped)) == 0) {
			out->family = AF_INET;
			out->prefix = 32;
			memcpy(out->addr, sin6.sin6_addr.s6_addr + 12, 4);
		} else {
			out->family = AF_INET6;
			out->prefix = 128;
			memcpy(out->addr, sin6.sin6_addr.s6_addr, 16);
		}
		return true;
	default:
		return false;
	}
}

bool
netaddr_equal(const struct netaddr *a, const struct netaddr *b)
{
	if (a->family != b->family)
		return false;
	switch (a->family) {
	case AF_INET:
		return a->prefix == b->prefix && memcmp(a->addr, b->addr, 4) == 0;
	case AF_INET6:
		return a->prefix == b->prefix && memcmp(a->addr, b->addr, 16) == 0;
	default:
		return true;
	}
}
