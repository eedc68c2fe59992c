/* What the relay reads of a datagram without any state: its WireGuard message type, the
 * names of verdicts, and socket addresses in the relay's own form. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "server/relay.h"

static const char *const verdict_names[RELAY_VERDICT_COUNT] = {
	[RELAY_FORWARD] = "forward",
	[RELAY_DROP_MALFORMED] = "malformed",
	[RELAY_DROP_STRANGER] = "stranger",
	[RELAY_DROP_RATE] = "rate",
	[RELAY_DROP_MAC1] = "mac1",
	[RELAY_DROP_NETWORK] = "network",
	[RELAY_DROP_UNKNOWN_INDEX] = "unknown_index",
	[RELAY_DROP_NO_ROUTE] = "no_route",
	[RELAY_DROP_LOOP] = "loop",
	[RELAY_DROP_INDEX_IN_USE] = "index_in_use",
	[RELAY_DROP_FULL] = "full",
};

const char *
relay_verdict_name(enum relay_verdict v)
{
	return (unsigned)v < RELAY_VERDICT_COUNT ? verdict_names[v] : "?";
}

enum relay_msg
relay_classify(const uint8_t *pkt, size_t len)
{
	if (len < 4 || pkt[1] != 0 || pkt[2] != 0 || pkt[3] != 0)
		return RELAY_MSG_INVALID;
	switch (pkt[0]) {
	case RELAY_MSG_INITIATION:
		return len == RELAY_INITIATION_LEN ? RELAY_MSG_INITIATION : RELAY_MSG_INVALID;
	case RELAY_MSG_RESPONSE:
		return len == RELAY_RESPONSE_LEN ? RELAY_MSG_RESPONSE : RELAY_MSG_INVALID;
	case RELAY_MSG_COOKIE:
		return len == RELAY_COOKIE_LEN ? RELAY_MSG_COOKIE : RELAY_MSG_INVALID;
	case RELAY_MSG_TRANSPORT:
		/* header 16 and the 16-byte tag; no multiple of 16 to check, as padding
		 * stops at the MTU */
		return len >= RELAY_TRANSPORT_MIN ? RELAY_MSG_TRANSPORT : RELAY_MSG_INVALID;
	default:
		return RELAY_MSG_INVALID;
	}
}

int
relay_addr_from_sockaddr(struct relay_addr *a, const struct sockaddr *sa, socklen_t len)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		a->family = AF_INET;
		a->port = ntohs(in->sin_port);
		memcpy(a->ip, &in->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		a->port = ntohs(in6->sin6_port);
		if (memcmp(in6->sin6_addr.s6_addr, mapped, sizeof(mapped)) == 0) {
			a->family = AF_INET;
			memcpy(a->ip, in6->sin6_addr.s6_addr + 12, 4);
		} else {
			a->family = AF_INET6;
			memcpy(a->ip, in6->sin6_addr.s6_addr, 16);
		}
		return 0;
	}
	return -EAFNOSUPPORT;
}

socklen_t
relay_addr_to_sockaddr(const struct relay_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(a->port);
		memcpy(&in->sin_addr, a->ip, 4);
		return sizeof(*in);
	}
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(a->port);
		memcpy(in6->sin6_addr.s6_addr, a->ip, 16);
		return sizeof(*in6);
	}
	return 0;
}
