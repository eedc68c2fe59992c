/* wiresync-bench: drives a wiresync server (any implementation of proto/wiresync.proto) with
 * thousands of simulated agents, each with its own certificate minted in process, from one
 * epoll loop, and prints one line of figures per scenario (or one JSON object). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "bench/bench.h"
#include "rpc/log.h"
#include "rpc/tls.h"

#define EXIT_USAGE 2

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: wiresync-bench SCENARIO --server HOST:PORT --ca-cert FILE --ca-key FILE\n"
	    "                      --trust FILE [--network NAME] [--json] [options]\n"
	    "\n"
	    "Simulates agents of a wiresync server over gRPC with mutual TLS. Every agent gets\n"
	    "its own certificate, issued in process from the CA given (CN=bench-N, O=network).\n"
	    "\n"
	    "scenarios:\n"
	    "  issue     -n N [--out DIR]     only issue N identities (and write DIR/bench-I.crt,\n"
	    "                                 .key); needs no server\n"
	    "  update    -c C -s S -n TOTAL   C connections x S concurrent Updates, TOTAL calls:\n"
	    "                                 acknowledged Updates/s and latency\n"
	    "  fanout    -w W -r R            W watchers, one updater making R changes: time from\n"
	    "            [--watch-server H:P] each Update's acknowledgement to each receipt; with\n"
	    "                                 --watch-server (repeated: the watchers spread over\n"
	    "                                 them) the updater stays on --server, and each\n"
	    "                                 watch server's latencies are given too\n"
	    "  idle      -w W --pid PID       server RSS before and after W agents with a Watch\n"
	    "  (update and fanout report the server's CPU time too when given --pid PID; with\n"
	    "  --pid repeated, the sum over the servers)\n"
	    "  reconnect -w W --restart CMD   W agents with a Watch; CMD restarts the server; time\n"
	    "            [--pid-file FILE]    until all resumed, bytes past the handshake, TLS\n"
	    "            [--snapshot]         resumption (--snapshot: resume with a fresh snapshot)\n"
	    "\n"
	    "options:\n"
	    "  --server HOST:PORT    the server; its certificate must match HOST\n"
	    "  --ca-cert FILE        CA certificate (PEM) to issue agent certificates with\n"
	    "  --ca-key FILE         its private key (PEM)\n"
	    "  --trust FILE          CA (PEM) the server's certificate must chain to\n"
	    "  --network NAME        O= of the agents (default: the issuing CA's O=)\n"
	    "  --peers P             P more identities Update once before the agents connect, so\n"
	    "                        the network holds P peers (fanout, idle, reconnect; 1)\n"
	    "  --seed S              agent N's WireGuard key is SHA-256(network, S, N) and its\n"
	    "                        address 10.64.0.0/10 + S*65536 + N + 1 (0): reruns reuse\n"
	    "                        their peers; another seed, other peers\n"
	    "  --window N            TLS handshakes in flight at once (256)\n"
	    "  --settle SECONDS      quiet time before memory and byte counts are read (2)\n"
	    "  --timeout SECONDS     give up a phase after this long (300)\n"
	    "  --json                print one JSON object instead of the summary line\n"
	    "  -h, --help            this help\n"
	    "  -V, --version         show the version\n"
	    "\n"
	    "Exit status: 0 when every call and agent succeeded, 1 otherwise, 2 usage.\n");
}

/* --- setup --------------------------------------------------------------------------------- */

static void
raise_nofile(long need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= (rlim_t)need)
		return;
	if (rl.rlim_max < (rlim_t)need)
		rl.rlim_max = (rlim_t)need;    /* works as root */
	rl.rlim_cur = (rlim_t)need;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		log_warnx("open files limited to %llu, %ld wanted", (unsigned long long)rl.rlim_cur,
		    need);
	}
}

static long
parse_long(const char *s, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "wiresync-bench: %s: \"%s\" is not a number from %ld to %ld\n",
		    what, s, min, max);
		exit(EXIT_USAGE);
	}
	return v;
}

static void
too_many(const char *what)
{
	fprintf(stderr, "wiresync-bench: %s: at most %d\n", what, BENCH_SERVERS_MAX);
	exit(EXIT_USAGE);
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_SERVER = 256, O_CACERT, O_CAKEY, O_TRUST, O_NETWORK, O_JSON, O_PID, O_RESTART,
		O_PIDFILE, O_SNAPSHOT, O_WINDOW, O_SETTLE, O_TIMEOUT, O_OUT, O_PEERS, O_SEED,
		O_WATCH_SERVER };
	static const struct option lo[] = {
		{ "server", required_argument, NULL, O_SERVER },
		{ "ca-cert", required_argument, NULL, O_CACERT },
		{ "ca-key", required_argument, NULL, O_CAKEY },
		{ "trust", required_argument, NULL, O_TRUST },
		{ "network", required_argument, NULL, O_NETWORK },
		{ "json", no_argument, NULL, O_JSON },
		{ "pid", required_argument, NULL, O_PID },
		{ "pid-file", required_argument, NULL, O_PIDFILE },
		{ "restart", required_argument, NULL, O_RESTART },
		{ "snapshot", no_argument, NULL, O_SNAPSHOT },
		{ "window", required_argument, NULL, O_WINDOW },
		{ "settle", required_argument, NULL, O_SETTLE },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "out", required_argument, NULL, O_OUT },
		{ "peers", required_argument, NULL, O_PEERS },
		{ "seed", required_argument, NULL, O_SEED },
		{ "watch-server", required_argument, NULL, O_WATCH_SERVER },
		{ "connections", required_argument, NULL, 'c' },
		{ "streams", required_argument, NULL, 's' },
		{ "calls", required_argument, NULL, 'n' },
		{ "watchers", required_argument, NULL, 'w' },
		{ "changes", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sc;
	int c;

	while ((c = getopt_long(argc, argv, "c:s:n:w:r:hV", lo, NULL)) != -1) {
		switch (c) {
		case O_SERVER: o->server = optarg; break;
		case O_CACERT: o->ca_cert = optarg; break;
		case O_CAKEY: o->ca_key = optarg; break;
		case O_TRUST: o->trust = optarg; break;
		case O_NETWORK: o->network = optarg; break;
		case O_JSON: o->json = true; break;
		case O_PID:
			if (o->n_pids == BENCH_SERVERS_MAX)
				too_many("--pid");
			o->pids[o->n_pids++] = parse_long(optarg, "--pid", 1, 1L << 30);
			o->pid = o->pids[0];
			break;
		case O_WATCH_SERVER:
			if (o->n_watch_servers == BENCH_SERVERS_MAX)
				too_many("--watch-server");
			o->watch_servers[o->n_watch_servers++] = optarg;
			break;
		case O_PIDFILE: o->pid_file = optarg; break;
		case O_RESTART: o->restart = optarg; break;
		case O_SNAPSHOT: o->snapshot = true; break;
		case O_WINDOW: o->window = parse_long(optarg, "--window", 1, 100000); break;
		case O_SETTLE: o->settle_s = (double)parse_long(optarg, "--settle", 0, 3600); break;
		case O_TIMEOUT: o->timeout_s = (double)parse_long(optarg, "--timeout", 1, 86400); break;
		case O_OUT: o->out_dir = optarg; break;
		case O_PEERS: o->peers = parse_long(optarg, "--peers", 0, 1000000); break;
		case O_SEED: o->seed = parse_long(optarg, "--seed", 0, 1L << 62); break;
		case 'c': o->connections = parse_long(optarg, "-c", 1, 100000); break;
		case 's': o->streams = parse_long(optarg, "-s", 1, 10000); break;
		case 'n': o->total = parse_long(optarg, "-n", 1, 1000000000); break;
		case 'w': o->watchers = parse_long(optarg, "-w", 1, 1000000); break;
		case 'r': o->changes = parse_long(optarg, "-r", 1, 100000); break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("wiresync-bench %s\n", PACKAGE_VERSION); exit(0);
		default: usage(stderr); exit(EXIT_USAGE);
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "wiresync-bench: give exactly one scenario "
		    "(update, fanout, idle, reconnect); --help for more\n");
		exit(EXIT_USAGE);
	}
	sc = argv[optind];
	if (strcmp(sc, "issue") == 0)
		o->sc = SC_ISSUE;
	else if (strcmp(sc, "update") == 0)
		o->sc = SC_UPDATE;
	else if (strcmp(sc, "fanout") == 0)
		o->sc = SC_FANOUT;
	else if (strcmp(sc, "idle") == 0)
		o->sc = SC_IDLE;
	else if (strcmp(sc, "reconnect") == 0)
		o->sc = SC_RECONNECT;
	else {
		fprintf(stderr, "wiresync-bench: unknown scenario \"%s\"; --help for the list\n", sc);
		exit(EXIT_USAGE);
	}
	if (o->ca_cert == NULL || o->ca_key == NULL || (o->sc != SC_ISSUE &&
	    (o->server == NULL || o->trust == NULL))) {
		fprintf(stderr, "wiresync-bench: --server, --ca-cert, --ca-key and --trust are "
		    "required; --help for more\n");
		exit(EXIT_USAGE);
	}
	if (o->sc == SC_IDLE && o->pid == 0) {
		fprintf(stderr, "wiresync-bench: idle needs --pid PID of the server\n");
		exit(EXIT_USAGE);
	}
	if (o->n_watch_servers > 0 && o->sc != SC_FANOUT) {
		fprintf(stderr, "wiresync-bench: --watch-server is for fanout only\n");
		exit(EXIT_USAGE);
	}
	if (o->sc == SC_RECONNECT && o->restart == NULL) {
		fprintf(stderr, "wiresync-bench: reconnect needs --restart CMD\n");
		exit(EXIT_USAGE);
	}
}

int
main(int argc, char **argv)
{
	struct bench b;
	struct opts *o = &b.o;
	struct tls_files tf = { NULL, NULL, NULL, NULL };
	char err[512];
	uint64_t t0;
	size_t n;
	int rc = 1;

	memset(&b, 0, sizeof(b));
	*o = (struct opts){ .connections = 4, .streams = 16, .total = 10000, .watchers = 100,
		.changes = 10, .window = 256, .settle_s = 2, .timeout_s = 300, .peers = -1 };
	log_init("wiresync-bench", LOG_LEVEL_WARN);
	parse_args(argc, argv, o);
	if (o->peers < 0)
		o->peers = o->sc == SC_IDLE || o->sc == SC_RECONNECT ? 1 : 0;
	if (o->sc == SC_UPDATE || o->sc == SC_ISSUE)
		o->peers = 0;
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned)getpid() ^ (unsigned)now_us());

	n = (size_t)(o->sc == SC_UPDATE ? o->connections : o->sc == SC_ISSUE ? o->total :
	    o->watchers);
	raise_nofile((long)n + 256 + o->window);
	b.gen = certgen_new(o->ca_cert, o->ca_key, o->network, err, sizeof(err));
	if (b.gen == NULL) {
		fprintf(stderr, "wiresync-bench: %s\n", err);
		return 1;
	}
	certgen_set_seed(b.gen, (uint64_t)o->seed);
	if (o->sc == SC_ISSUE) {
		rc = scenario_issue(&b, (size_t)o->total);
		goto out;
	}
	tf.ca = o->trust;
	b.ctx = tls_client_ctx_new(&tf, err, sizeof(err));
	if (b.ctx == NULL) {
		fprintf(stderr, "wiresync-bench: %s\n", err);
		goto out;
	}
	bench_ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	SSL_CTX_set_session_cache_mode(b.ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(b.ctx, on_new_session);
	SSL_CTX_set_info_callback(b.ctx, on_tls_info);
	if ((b.loop = loop_new()) == NULL) {
		log_error("loop_new");
		goto out;
	}

	/* identities: n agents plus the fanout updater */
	b.n = n;
	b.n_total = n + (o->sc == SC_FANOUT) + (size_t)o->peers;
	b.agents = calloc(b.n_total + 1, sizeof(*b.agents));
	b.queue = calloc(n, sizeof(*b.queue));
	if (b.agents == NULL || b.queue == NULL)
		fatalx("out of memory");
	t0 = now_us();
	for (size_t i = 0; i < b.n_total; i++) {
		b.agents[i].b = &b;
		b.agents[i].idx = (uint32_t)i;
		if (certgen_issue(b.gen, "bench", (uint32_t)i, &b.agents[i].id, err,
		    sizeof(err)) < 0) {
			fprintf(stderr, "wiresync-bench: %s\n", err);
			goto out;
		}
	}
	b.issue_s = (double)(now_us() - t0) / 1e6;
	if (o->sc == SC_FANOUT) {
		b.updater = &b.agents[n];
		for (size_t i = 0; i < n && o->n_watch_servers > 0; i++)
			b.agents[i].server = o->watch_servers[i % o->n_watch_servers];
	}
	b.seeds = &b.agents[n + (o->sc == SC_FANOUT)];

	switch (o->sc) {
	case SC_ISSUE: break;
	case SC_UPDATE: rc = scenario_update(&b); break;
	case SC_FANOUT: rc = scenario_fanout(&b); break;
	case SC_IDLE: rc = scenario_idle(&b); break;
	case SC_RECONNECT: rc = scenario_reconnect(&b); break;
	}
out:
	if (b.loop != NULL)
		stop_all(&b);
	if (b.agents != NULL)
		for (size_t i = 0; i < b.n_total; i++) {
			identity_clear(&b.agents[i].id);
			SSL_SESSION_free(b.agents[i].sess);
		}
	free(b.agents);
	free(b.queue);
	free(b.lat_us);
	free(b.fan_recv);
	free(b.fan_ack);
	free(b.fan_got);
	loop_del(b.loop);
	SSL_CTX_free(b.ctx);
	certgen_del(b.gen);
	return rc;
}

