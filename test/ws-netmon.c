/* ws-netmon: prints what agent/netmon.h sees, for test/netmon.test.
 *
 *   default=yes ifname=X gateway=Y mac=aa:bb:cc:dd:ee:ff lan=A/P lan=...
 *   default=no
 *
 * gateway and mac print "-" when unknown. When the first read finds a gateway without a MAC
 * it waits (up to --wait-mac seconds, default 3) for the neighbour event before printing, and
 * says so on stderr. With --watch SECONDS it then keeps running and prints a new line each
 * time netmon reports a change and the state differs from the last line printed (debounced
 * like the agent). Exit: 0 done (also on SIGTERM/SIGINT), 1 a read failed, 2 usage or
 * setup error. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/netmon.h"
#include "rpc/log.h"
#include "rpc/loop.h"

#define EXIT_READ 1
#define EXIT_LOCAL 2
#define DEBOUNCE_MS 100
#define SECONDS_MAX 86400

enum phase { PHASE_WAIT_MAC, PHASE_WATCH, PHASE_DONE };

struct mon {
	struct loop *loop;
	struct netmon *nm;
	struct loop_timer debounce, deadline;
	enum phase phase;
	uint64_t watch_s, wait_mac_s;
	uint64_t wait_start_ms;
	struct net_state last;
	int rc;
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: ws-netmon [--exclude IFNAME] [--wait-mac SECONDS] [--watch SECONDS] [-v]\n"
	    "exit: 0 done, 1 a read failed, 2 usage or setup error\n");
	exit(EXIT_LOCAL);
}

static uint64_t
seconds(const char *opt, const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > SECONDS_MAX) {
		fprintf(stderr, "ws-netmon: %s: bad number of seconds \"%s\"\n", opt, s);
		usage();
	}
	return v;
}

static void
state_print(const struct net_state *s)
{
	char buf[NETADDR_STRLEN];

	if (!s->has_default) {
		printf("default=no\n");
		fflush(stdout);
		return;
	}
	printf("default=yes ifname=%s gateway=%s", s->ifname,
	    s->gateway.family != 0 ? netaddr_format(&s->gateway, false, buf) : "-");
	if (s->has_gateway_mac)
		printf(" mac=%02x:%02x:%02x:%02x:%02x:%02x", s->gateway_mac[0], s->gateway_mac[1],
		    s->gateway_mac[2], s->gateway_mac[3], s->gateway_mac[4], s->gateway_mac[5]);
	else
		printf(" mac=-");
	for (size_t i = 0; i < s->n_lan; i++)
		printf(" lan=%s", netaddr_format(&s->lan[i], true, buf));
	printf("\n");
	fflush(stdout);
}

static bool
needs_mac(const struct net_state *s)
{
	return s->has_default && s->gateway.family != 0 && !s->has_gateway_mac;
}

static void
stop(struct mon *m, int rc)
{
	m->phase = PHASE_DONE;
	m->rc = rc;
	loop_stop(m->loop);
}

static void
watch_over(void *arg)
{
	stop(arg, 0);
}

/* Prints the first state and moves on to watching, or stops. */
static void
first_print(struct mon *m, const struct net_state *s)
{
	state_print(s);
	m->last = *s;
	loop_timer_cancel(m->loop, &m->deadline);
	if (m->watch_s == 0) {
		stop(m, 0);
		return;
	}
	m->phase = PHASE_WATCH;
	if (loop_timer_set(m->loop, &m->deadline, m->watch_s * 1000, watch_over, m) < 0)
		stop(m, EXIT_LOCAL);
}

static void
mac_timeout(void *arg)
{
	struct mon *m = arg;

	fprintf(stderr, "ws-netmon: no gateway MAC after %llu s\n",
	    (unsigned long long)m->wait_mac_s);
	first_print(m, &m->last);
}

static void
reread(void *arg)
{
	struct mon *m = arg;
	struct net_state s;

	if (netmon_read(m->nm, &s) < 0) {
		stop(m, EXIT_READ);
		return;
	}
	switch (m->phase) {
	case PHASE_WAIT_MAC:
		m->last = s;
		if (!needs_mac(&s)) {
			fprintf(stderr, "ws-netmon: gateway MAC after %llu ms\n",
			    (unsigned long long)(loop_now_ms(m->loop) - m->wait_start_ms));
			first_print(m, &s);
		}
		break;
	case PHASE_WATCH:
		if (!net_state_equal(&s, &m->last)) {
			state_print(&s);
			m->last = s;
		}
		break;
	case PHASE_DONE:
		break;
	}
}

static void
changed(void *arg)
{
	struct mon *m = arg;

	if (m->phase != PHASE_DONE &&
	    loop_timer_set(m->loop, &m->debounce, DEBOUNCE_MS, reread, m) < 0)
		stop(m, EXIT_LOCAL);
}

static void
on_signal(void *arg)
{
	stop(arg, 0);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "exclude", required_argument, NULL, 'x' },
		{ "wait-mac", required_argument, NULL, 'w' },
		{ "watch", required_argument, NULL, 'W' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct mon m = { .wait_mac_s = 3, .rc = EXIT_LOCAL };
	const char *exclude = NULL;
	struct net_state s;
	int c;
	enum log_level level = LOG_LEVEL_WARN;

	while ((c = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		switch (c) {
		case 'x':
			exclude = optarg;
			break;
		case 'w':
			m.wait_mac_s = seconds("--wait-mac", optarg);
			break;
		case 'W':
			m.watch_s = seconds("--watch", optarg);
			break;
		case 'v':
			level = LOG_LEVEL_DEBUG;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("ws-netmon", level);

	m.loop = loop_new();
	if (m.loop == NULL) {
		perror("ws-netmon: loop_new");
		return EXIT_LOCAL;
	}
	if (loop_signal_add(m.loop, SIGTERM, on_signal, &m) < 0 ||
	    loop_signal_add(m.loop, SIGINT, on_signal, &m) < 0) {
		fprintf(stderr, "ws-netmon: signals\n");
		goto out;
	}
	m.nm = netmon_new(m.loop, exclude, changed, &m);
	if (m.nm == NULL) {
		fprintf(stderr, "ws-netmon: netmon_new: %s\n", strerror(errno));
		goto out;
	}
	if (netmon_read(m.nm, &s) < 0) {
		m.rc = EXIT_READ;
		goto out;
	}
	m.last = s;
	if (needs_mac(&s) && m.wait_mac_s > 0) {
		fprintf(stderr, "ws-netmon: no gateway MAC yet; waiting up to %llu s\n",
		    (unsigned long long)m.wait_mac_s);
		m.phase = PHASE_WAIT_MAC;
		m.wait_start_ms = loop_now_ms(m.loop);
		if (loop_timer_set(m.loop, &m.deadline, m.wait_mac_s * 1000, mac_timeout, &m) < 0)
			goto out;
	} else {
		first_print(&m, &s);
	}
	if (m.phase != PHASE_DONE && loop_run(m.loop) < 0) {
		perror("ws-netmon: loop");
		m.rc = EXIT_LOCAL;
	}

out:
	loop_timer_cancel(m.loop, &m.debounce);
	loop_timer_cancel(m.loop, &m.deadline);
	netmon_del(m.nm);
	loop_del(m.loop);
	return m.rc;
}
