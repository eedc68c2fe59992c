/* Endpoint choice: LAN first when we share a gateway, then what the NAT really maps to,
 * then the WAN address the server saw. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/endpoint.h"
#include "common/netaddr.h"

static bool
same_lan(const Wiresync__V1__Peer *p, const struct endpoint_self *self)
{
	return self->lan_id != NULL && self->lan_id_len > 0 && p->lan_id.len == self->lan_id_len &&
	    memcmp(p->lan_id.data, self->lan_id, self->lan_id_len) == 0;
}

/* Behind the same NAT: the server saw us both from one public address. */
static bool
same_public(const Wiresync__V1__Peer *p, const struct endpoint_self *self)
{
	return self->wan_ip != NULL && self->wan_ip[0] != '\0' && p->wan_ip != NULL &&
	    strcmp(p->wan_ip, self->wan_ip) == 0;
}

bool
endpoint_needs_keepalive(const Wiresync__V1__Peer *p, const struct endpoint_self *self)
{
	return !same_lan(p, self);
}

static bool
to_sockaddr(const struct netaddr *a, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, a->addr, 4);
		return true;
	}
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		memcpy(&in6->sin6_addr, a->addr, 16);
		return true;
	}
	return false;
}

/* "ip:port" or "[v6]:port" */
static bool
parse_hostport(const char *s, struct sockaddr_storage *ss)
{
	char host[NETADDR_STRLEN];
	const char *colon = strrchr(s, ':');
	struct netaddr a;
	size_t n;
	char *end;
	unsigned long port;

	if (colon == NULL)
		return false;
	n = (size_t)(colon - s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	} else if (memchr(s, ':', n) != NULL) {
		/* an IPv6 address without brackets is ambiguous */
		return false;
	}
	if (n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, s, n);
	host[n] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port == 0 || port > 65535 || !netaddr_parse(host, false, &a, NULL, 0))
		return false;
	return to_sockaddr(&a, (uint16_t)port, ss);
}

static bool
ss_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return memcmp(a, b, sizeof(struct sockaddr_in)) == 0;
	return memcmp(a, b, sizeof(struct sockaddr_in6)) == 0;
}

static bool
seen(const struct sockaddr_storage *all, size_t n, const struct sockaddr_storage *ss)
{
	for (size_t i = 0; i < n; i++)
		if (ss_equal(&all[i], ss))
			return true;
	return false;
}

static void
add(struct endpoint_list *out, const struct sockaddr_storage *ss, enum peerpath_kind kind)
{
	if (out->n == ENDPOINT_MAX)
		return;
	for (size_t i = 0; i < out->n; i++)
		if (ss_equal(&out->addr[i], ss))
			return;
	out->addr[out->n] = *ss;
	out->lan[out->n] = kind == PEERPATH_KIND_LAN;
	out->kind[out->n] = kind;
	out->n++;
}

static bool
usable(const struct sockaddr_storage *ss, const struct endpoint_self *self)
{
	return ss->ss_family == AF_INET6 ? self->has_v6 : self->has_v4;
}

void
endpoint_candidates(const Wiresync__V1__Peer *p, const struct endpoint_self *self,
    struct endpoint_list *out)
{
	struct sockaddr_storage all[ENDPOINT_MAX + 2], ss;
	enum peerpath_kind kind[ENDPOINT_MAX + 2];
	size_t n = 0;
	struct netaddr a;

	memset(out, 0, sizeof(*out));
	if (p->listen_port == 0 || p->listen_port > 65535)
		return;
	if (same_lan(p, self) || same_public(p, self)) {
		/* IPv6 first, then IPv4 */
		for (int pass = 0; pass < 2; pass++)
			for (size_t i = 0; i < p->n_lan_ips && n < ENDPOINT_MAX; i++)
				if (netaddr_parse(p->lan_ips[i], true, &a, NULL, 0) &&
				    (a.family == AF_INET6) == (pass == 0) &&
				    to_sockaddr(&a, (uint16_t)p->listen_port, &ss) &&
				    !seen(all, n, &ss)) {
					all[n] = ss;
					kind[n++] = PEERPATH_KIND_LAN;
				}
	}
	if (p->observed_endpoint != NULL && p->observed_endpoint[0] != '\0' &&
	    parse_hostport(p->observed_endpoint, &ss)) {
		all[n] = ss;
		kind[n++] = PEERPATH_KIND_OBSERVED;
	}
	if (p->wan_ip != NULL && netaddr_parse(p->wan_ip, false, &a, NULL, 0) &&
	    to_sockaddr(&a, (uint16_t)p->listen_port, &ss)) {
		all[n] = ss;
		kind[n++] = PEERPATH_KIND_WAN;
	}
	/* families we can reach come first, the rest keep their order after them */
	for (size_t i = 0; i < n; i++)
		if (usable(&all[i], self))
			add(out, &all[i], kind[i]);
	for (size_t i = 0; i < n; i++)
		if (!usable(&all[i], self))
			add(out, &all[i], kind[i]);
}

bool
endpoint_parse(const char *s, struct sockaddr_storage *ss)
{
	return s != NULL && parse_hostport(s, ss);
}

char *
endpoint_format(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, len, "(none)");
	}
	return buf;
}
