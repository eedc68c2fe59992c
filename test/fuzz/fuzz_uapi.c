/* libFuzzer target: the UAPI text protocol's reply parsers (agent/wg.h wg_uapi_parse_get,
 * wg_uapi_parse_errno), what the agent reads from wireguard-go's or boringtun's socket.
 *
 * Input: the reply bytes. A parsed device must respect the limits the header promises, and
 * the peers it holds must format back into a set request. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/wg.h"
#include "rpc/log.h"
#include "test/fuzz/fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz_uapi", LOG_LEVEL_ERROR); /* the parser explains every refusal */
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wg_device *dev = NULL;
	char *set = NULL;
	int r;

	r = wg_uapi_parse_errno((const char *)data, size);
	FUZZ_CHECK(r <= 0);
	r = wg_uapi_parse_get((const char *)data, size, &dev);
	if (r < 0) {
		FUZZ_CHECK(dev == NULL);
		return 0;
	}
	FUZZ_CHECK(r == 0 && dev != NULL);
	FUZZ_CHECK(dev->n_peers <= WG_PEERS_MAX);
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
	r = wg_uapi_format_set(dev, &set);
	FUZZ_CHECK(r == 0 || r == -ENOMEM);
	free(set);
	wg_device_free(dev);
	return 0;
}
