/* libFuzzer target: the kernel backend's generic netlink parser (wg/wg_kernel.h
 * wg_kernel_parse), fed the parts of a WG_CMD_GET_DEVICE dump as the socket would deliver
 * them: every netlink message in the buffer that is not a control message goes into one
 * device, so split peers are reassembled across messages as in a real dump.
 *
 * Input: netlink messages back to back (struct nlmsghdr, genlmsghdr, attributes). */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netlink.h>
#include <netlink/msg.h>

#include "wg/wg.h"
#include "wg/wg_kernel.h"
#include "rpc/log.h"
#include "test/fuzz/fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz_wgnl", LOG_LEVEL_ERROR);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wg_device *dev;
	struct nlmsghdr *nlh;
	void *buf;
	int rem = (int)size, rc = 0;

	if (size > 1 << 20)
		return 0;
	/* a copy: the parser wipes private keys in place, and netlink data is aligned */
	buf = malloc(size + 1);
	dev = calloc(1, sizeof(*dev));
	if (buf == NULL || dev == NULL)
		goto out;
	memcpy(buf, data, size);
	for (nlh = buf; nlmsg_ok(nlh, rem); nlh = nlmsg_next(nlh, &rem)) {
		if (nlh->nlmsg_type < NLMSG_MIN_TYPE)
			continue; /* NOOP, ERROR, DONE, OVERRUN: libnl's, not ours */
		if ((rc = wg_kernel_parse(nlh, dev)) < 0)
			break;
	}
	FUZZ_CHECK(rc == 0 || rc == -EPROTO || rc == -E2BIG || rc == -ENOMEM);
	FUZZ_CHECK(dev->n_peers <= WG_PEERS_MAX);
	FUZZ_CHECK(memchr(dev->ifname, '\0', sizeof(dev->ifname)) != NULL);
	for (size_t i = 0; i < dev->n_peers; i++) {
		const struct wg_peer *p = &dev->peers[i];
		FUZZ_CHECK(p->n_allowed <= WG_ALLOWED_MAX);
		for (size_t j = 0; j < p->n_allowed; j++)
			FUZZ_CHECK((p->allowed[j].family == AF_INET && p->allowed[j].prefix <= 32) ||
			    (p->allowed[j].family == AF_INET6 && p->allowed[j].prefix <= 128));
		if (p->flags & WG_PEER_HAS_ENDPOINT)
			FUZZ_CHECK(p->endpoint.sa.sa_family == AF_INET ||
			    p->endpoint.sa.sa_family == AF_INET6);
	}
out:
	wg_device_free(dev);
	free(buf);
	return 0;
}
