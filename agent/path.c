/* Path choice: never move a peer off a path that works. */
#include "config.h"

#include <netinet/in.h>
#include <string.h>

#include "agent/path.h"

bool
path_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a == NULL || b == NULL || a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
		return x->sin6_port == y->sin6_port &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

static bool
is_ip(const struct sockaddr_storage *ss)
{
	return ss != NULL && (ss->ss_family == AF_INET || ss->ss_family == AF_INET6);
}

void
path_choose(const struct path_in *in, struct path_choice *out)
{
	bool live;

	memset(out, 0, sizeof(*out));
	out->handshake_age_s = in->last_handshake_s > 0 ? in->now_s - in->last_handshake_s : -1;
	if (!is_ip(in->guess)) {
		out->from = PATH_NONE;
		return;
	}
	out->guess_changed = in->last_guess != NULL && !path_addr_equal(in->guess, in->last_guess);
	out->has_endpoint = true;
	out->endpoint = *in->guess;
	out->from = in->guess_lan ? PATH_LAN : PATH_WAN;
	/* a clock step back makes a handshake look "in the future": not evidence of anything */
	live = out->handshake_age_s >= 0 && out->handshake_age_s < PATH_LIVE_S;
	if (in->guess_lan || out->guess_changed || !live || !is_ip(in->actual) ||
	    path_addr_equal(in->actual, in->guess))
		return;
	out->endpoint = *in->actual;
	out->from = PATH_ROAMED;
	out->newly_kept = !path_addr_equal(in->kept, in->actual);
}

const char *
path_from_name(enum path_from from)
{
	switch (from) {
	case PATH_LAN:
		return "lan";
	case PATH_WAN:
		return "wan";
	case PATH_ROAMED:
		return "roamed";
	case PATH_NONE:
		break;
	}
	return "-";
}
