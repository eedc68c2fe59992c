/* libFuzzer target: the agent's view of the host network from rtnetlink messages
 * (agent/netmon.h netmon_parse): libnl-route-3's link, route, address and neighbour
 * parsers, then the choice of default route, LAN addresses and gateway MAC that
 * netmon_read makes from a real dump.
 *
 * Input: one byte (bit 0: exclude "wg0" as the agent excludes its WireGuard interface),
 * then netlink messages back to back. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/netmon.h"
#include "rpc/log.h"
#include "test/fuzz/fuzz_util.h"

/* netmon's order: IPv4 first, then address, then prefix length */
static int
lan_cmp(const struct netaddr *a, const struct netaddr *b)
{
	int c;

	if (a->family != b->family)
		return a->family == AF_INET ? -1 : 1;
	if ((c = memcmp(a->addr, b->addr, sizeof(a->addr))) != 0)
		return c;
	return (int)a->prefix - (int)b->prefix;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz_netmon", LOG_LEVEL_ERROR);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_state st, again;
	void *buf;
	int r;

	if (size < 1 || size > 1 << 20)
		return 0;
	buf = malloc(size); /* aligned, as a receive buffer is */
	if (buf == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	r = netmon_parse(buf, size - 1, (data[0] & 1) ? "wg0" : NULL, &st);
	FUZZ_CHECK(r == 0 || r == -EPROTO || r == -ENOMEM);
	if (r == 0) {
		FUZZ_CHECK(st.n_lan <= NETMON_LAN_MAX);
		FUZZ_CHECK(!st.has_default || (st.ifname[0] != '\0' &&
		    memchr(st.ifname, '\0', sizeof(st.ifname)) != NULL));
		FUZZ_CHECK(!(data[0] & 1) || strcmp(st.ifname, "wg0") != 0);
		for (size_t i = 0; i < st.n_lan; i++) {
			FUZZ_CHECK(st.lan[i].family == AF_INET || st.lan[i].family == AF_INET6);
			if (i > 0) /* sorted is what makes reports independent of dump order */
				FUZZ_CHECK(lan_cmp(&st.lan[i - 1], &st.lan[i]) <= 0);
		}
		/* the same dump gives the same report */
		FUZZ_CHECK(netmon_parse(buf, size - 1, (data[0] & 1) ? "wg0" : NULL, &again) == 0);
		FUZZ_CHECK(net_state_equal(&st, &again));
	}
	free(buf);
	return 0;
}
