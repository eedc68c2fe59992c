/* hub-plan: the CPU cost of the hub's decisions alone (server/hub.c), no interface: the
 * first plan of N stored peers onto an empty interface, a plan with nothing to do (the
 * case after every commit that did not touch the peers' keys or addresses), and one read's
 * endpoint debounce over N peers. BENCHMARKS.md, "Hub".
 *
 *   hub-plan [N]     default 65536 (WG_PEERS_MAX) */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/hub.h"

static double
cpu_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
key_of(uint32_t n, uint8_t k[WG_KEY_LEN])
{
	for (int i = 0; i < WG_KEY_LEN; i++)
		k[i] = (uint8_t)((n * 2654435761u) >> (i % 4 * 8)) ^ (uint8_t)i;
	memcpy(k, &n, sizeof(n));
}

int
main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : WG_PEERS_MAX;
	struct hub_want *want = calloc(n, sizeof(*want));
	struct hub_sample *s = calloc(n, sizeof(*s));
	struct wg_device empty = { .n_peers = 0 }, *plan = NULL, *full;
	struct hub *h = hub_new();
	double t0, t1, t2, t3;

	if (n == 0 || want == NULL || s == NULL || h == NULL)
		return 1;
	for (size_t i = 0; i < n; i++) {
		key_of((uint32_t)i, want[i].key);
		want[i].n_allowed = 1;
		want[i].allowed[0] = (struct netaddr){ .family = AF_INET, .prefix = 32,
			.addr = { 10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i } };
	}
	t0 = cpu_s();
	if (hub_plan(h, want, n, &empty, &full) < 0 || full->n_peers != n)
		return 1;
	t1 = cpu_s();
	/* the interface now holds what the first plan set */
	if (hub_plan(h, want, n, full, &plan) < 0 || plan->n_peers != 0)
		return 1;
	t2 = cpu_s();
	for (size_t i = 0; i < n; i++) {
		memcpy(s[i].key, want[i].key, WG_KEY_LEN);
		snprintf(s[i].endpoint, sizeof(s[i].endpoint), "198.51.%zu.%zu:%zu", i >> 8 & 255,
		    i & 255, 1024 + i % 60000);
		s[i].last_handshake_s = 999990;
	}
	hub_observe(h, s, n, 1000, 1000000);
	t3 = cpu_s();
	if (hub_observe(h, s, n, 2000, 1000000) != n)
		return 1;
	t3 = cpu_s() - t3;
	printf("hub: %zu peers: first plan %.1f ms, plan with nothing to do %.1f ms, one read's "
	    "debounce %.1f ms (%.2f us per peer)\n", n, (t1 - t0) * 1e3, (t2 - t1) * 1e3,
	    t3 * 1e3, t3 / (double)n * 1e6);
	wg_device_free(plan);
	wg_device_free(full);
	hub_del(h);
	free(want);
	free(s);
	return 0;
}
