/* IPv4/IPv6 addresses with an optional prefix length: strict parsing, canonical text. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/netaddr.h"
#include "rpc/log.h"

/* Longest input quoted in an error message; longer values are cut and end in "...". */
#define NETADDR_QUOTE_MAX 64

/* Length of the well-formed UTF-8 character at s (1 to 4), or 0 when s does not start one. */
static size_t
utf8_char_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* no overlong forms, no surrogates, nothing above U+10FFFF */
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* Copies s into out for quoting, byte for byte as far as it is UTF-8 (control characters
 * too: a gRPC status carries them percent-encoded and the log escapes them), with '?' for
 * each byte that is not; long values are cut at a character boundary and end in "...". */
static void
netaddr_quote(const char *s, char out[NETADDR_QUOTE_MAX + 4])
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0, n;

	while (u[i] != '\0') {
		n = utf8_char_len(u + i);
		if (o + (n > 0 ? n : 1) > NETADDR_QUOTE_MAX)
			break;
		if (n == 0) {
			out[o++] = '?';
			i++;
			continue;
		}
		memcpy(out + o, u + i, n);
		o += n;
		i += n;
	}
	if (u[i] != '\0') {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
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

enum netaddr_hostport
netaddr_hostport_parse(const char *s, struct sockaddr_storage *ss, socklen_t *sl,
    bool *loopback)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	size_t hl;
	char *endp;
	unsigned long port;

	memset(ss, 0, sizeof(*ss));
	if (colon == NULL || colon[1] == '\0')
		return NETADDR_HOSTPORT_NO_PORT;
	errno = 0;
	port = strtoul(colon + 1, &endp, 10);
	if (*endp != '\0' || errno != 0 || port > 65535 || colon[1] == '-' || colon[1] == '+')
		return NETADDR_HOSTPORT_BAD_PORT;
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		if (hl - 2 >= sizeof(host))
			return NETADDR_HOSTPORT_BAD_HOST;
		memcpy(host, s + 1, hl - 2);
		host[hl - 2] = '\0';
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return NETADDR_HOSTPORT_BAD_HOST;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*sl = sizeof(*s6);
		*loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		if (hl >= sizeof(host))
			return NETADDR_HOSTPORT_BAD_HOST;
		memcpy(host, s, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return NETADDR_HOSTPORT_BAD_HOST;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*sl = sizeof(*s4);
		*loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	return NETADDR_HOSTPORT_OK;
}
