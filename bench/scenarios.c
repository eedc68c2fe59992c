/* The scenarios: update, fanout, idle, reconnect and issue, each measuring and printing one
 * line of figures (or one JSON object). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "bench/bench.h"
#include "proto/wiresync.pb-c.h"
#include "rpc/grpc.h"
#include "rpc/log.h"

/* --- figures ------------------------------------------------------------------------------ */

struct figure {
	const char *key;
	double v;
	int decimals;
};

static void
print_figures(const struct opts *o, const char *scenario, const struct figure *f, size_t n)
{
	if (o->json) {
		printf("{\"scenario\": \"%s\"", scenario);
		for (size_t i = 0; i < n; i++)
			printf(", \"%s\": %.*f", f[i].key, f[i].decimals, isfinite(f[i].v) ? f[i].v : 0);
		printf("}\n");
	} else {
		printf("%s", scenario);
		for (size_t i = 0; i < n; i++)
			printf(" %s=%.*f", f[i].key, f[i].decimals, f[i].v);
		printf("\n");
	}
	fflush(stdout);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The q-th percentile (nearest rank) of n sorted values, in ms. */
static double
pct_ms(const uint32_t *v, size_t n, double q)
{
	size_t r;

	if (n == 0)
		return 0;
	r = (size_t)ceil(q / 100.0 * (double)n);
	if (r < 1)
		r = 1;
	return v[r - 1] / 1000.0;
}

static long
read_status_kib(long pid, const char *field)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, flen) == 0 && line[flen] == ':')
			v = strtol(line + flen + 1, NULL, 10);
	fclose(f);
	return v;
}

/* utime + stime of pid in ms, -1 if unknown. */
static double
read_cpu_ms(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* The CPU of every --pid server summed, -1 if one is unknown (or none given). */
static double
servers_cpu_ms(const struct opts *o)
{
	double sum = 0, v;

	for (size_t i = 0; i < o->n_pids; i++) {
		if ((v = read_cpu_ms(o->pids[i])) < 0)
			return -1;
		sum += v;
	}
	return o->n_pids > 0 ? sum : -1;
}

static double
self_cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1000.0 + ru.ru_utime.tv_usec / 1000.0 +
	    ru.ru_stime.tv_sec * 1000.0 + ru.ru_stime.tv_usec / 1000.0;
}

/* --- scenarios ------------------------------------------------------------------------------ */

static bool
update_finished(struct bench *b)
{
	return b->u_done >= b->o.total;
}

int
scenario_update(struct bench *b)
{
	const struct opts *o = &b->o;
	long live = 0;
	uint64_t t0, t1;
	double cpu0, secs, scpu0, scpu;

	/* connections come up with one untimed Update each (it also registers the peer) */
	for (size_t i = 0; i < b->n; i++)
		b->agents[i].queued = false;
	for (size_t i = 0; i < b->n; i++) {
		while (b->inflight >= o->window)
			loop_run_once(b->loop, 50);
		update_connect(&b->agents[i]);
	}
	if (!run_until(b, all_ready, o->timeout_s, "update: connecting"))
		return 1;
	if ((b->lat_us = calloc((size_t)o->total, sizeof(*b->lat_us))) == NULL)
		fatalx("out of memory");
	cpu0 = self_cpu_ms();
	scpu0 = servers_cpu_ms(o);
	t0 = now_us();
	for (long s = 0; s < o->streams; s++)
		for (size_t i = 0; i < b->n; i++)
			if (!b->agents[i].ended && b->u_sent < o->total)
				update_send(&b->agents[i], b->u_sent++);
	for (size_t i = 0; i < b->n; i++)
		live += !b->agents[i].ended;
	if (live == 0) {
		log_warnx("update: no connection came up");
		return 1;
	}
	if (!run_until(b, update_finished, o->timeout_s, "update: calls"))
		return 1;
	t1 = now_us();
	scpu = scpu0 >= 0 ? servers_cpu_ms(o) - scpu0 : -1;
	secs = (double)(t1 - t0) / 1e6;
	qsort(b->lat_us, (size_t)b->u_ok, sizeof(*b->lat_us), cmp_u32);
	{
		struct figure f[] = {
			{ "identities", (double)b->n, 0 }, { "issue_s", b->issue_s, 3 },
			{ "connections", (double)o->connections, 0 }, { "streams", (double)o->streams, 0 },
			{ "calls", (double)o->total, 0 }, { "acked", (double)b->u_ok, 0 },
			{ "errors", (double)(b->u_err + b->failed), 0 }, { "seconds", secs, 3 },
			{ "updates_per_s", (double)b->u_ok / secs, 0 },
			{ "p50_ms", pct_ms(b->lat_us, (size_t)b->u_ok, 50), 3 },
			{ "p99_ms", pct_ms(b->lat_us, (size_t)b->u_ok, 99), 3 },
			{ "max_ms", pct_ms(b->lat_us, (size_t)b->u_ok, 100), 3 },
			{ "client_cpu_ms", self_cpu_ms() - cpu0, 0 },
			{ "server_cpu_ms", scpu, 0 },
			{ "server_cpu_us_per_update", scpu >= 0 ? scpu * 1000 / (double)b->u_ok : -1, 1 },
		};
		print_figures(o, "update", f, sizeof(f) / sizeof(f[0]));
	}
	return b->u_ok == o->total && b->failed == 0 ? 0 : 1;
}

static void
fanout_next(void *arg)
{
	struct bench *b = arg;

	if (b->fan_cur >= b->o.changes)
		return;
	b->fan_acked = false;
	b->updater->port = FANOUT_PORT_BASE + (uint32_t)b->fan_cur - 1;
	update_send(b->updater, 0);
}

void
fanout_acked(struct bench *b, int status, const char *message)
{
	if (b->fan_cur < 0) {
		/* the updater's first Update, before the watchers connect */
		b->fan_cur = 0;
		if (status != GRPC_OK) {
			log_warnx("updater: Update: %s: %s", grpc_status_name(status), message);
			b->failed++;
		}
		return;
	}
	if (status != GRPC_OK && b->u_err++ < 3)
		log_warnx("updater: Update %ld: %s: %s", b->fan_cur, grpc_status_name(status), message);
	b->fan_ack[b->fan_cur] = now_us();
	b->fan_acked = true;
}

static bool
updater_ready(struct bench *b)
{
	return b->fan_cur >= 0 || b->failed > 0;
}

static bool
fanout_change_done(struct bench *b)
{
	return b->fan_acked && b->fan_got[b->fan_cur] + b->failed >= (long)b->n;
}

int
scenario_fanout(struct bench *b)
{
	const struct opts *o = &b->o;
	struct agent *u = b->updater;
	size_t nd = 0, missing = 0, early = 0, nsf = 0;
	size_t ns = o->n_watch_servers > 0 ? o->n_watch_servers : 1;
	struct figure sf[6 * BENCH_SERVERS_MAX];
	char sname[BENCH_SERVERS_MAX][6][24];
	uint32_t *lat, *first;
	uint64_t t0;
	double setup_s, cpu0, scpu0, scpu;
	int rc = 0;

	b->fan_recv = calloc(b->n * (size_t)o->changes, sizeof(*b->fan_recv));
	b->fan_ack = calloc((size_t)o->changes, sizeof(*b->fan_ack));
	b->fan_got = calloc((size_t)o->changes, sizeof(*b->fan_got));
	lat = calloc(b->n * (size_t)o->changes, sizeof(*lat));
	first = calloc((size_t)o->changes, sizeof(*first));
	if (b->fan_recv == NULL || b->fan_ack == NULL || b->fan_got == NULL || lat == NULL ||
	    first == NULL)
		fatalx("out of memory");
	snprintf(b->updater_name, sizeof(b->updater_name), "bench-%u", u->idx);
	/* the updater becomes a peer first, so the watchers' snapshots already hold it */
	b->fan_cur = -1;
	u->port = FANOUT_PORT_BASE - 2;
	if (!client_open(u)) {
		rc = 1;
		goto done;
	}
	update_send(u, 0);
	if (!run_until(b, updater_ready, o->timeout_s, "fanout: updater") || b->failed > 0 ||
	    !seed_peers(b)) {
		rc = 1;
		goto done;
	}
	t0 = now_us();
	connect_all(b, b->n);
	if (!run_until(b, all_ready, o->timeout_s, "fanout: watchers connecting")) {
		rc = 1;
		goto done;
	}
	setup_s = (double)(now_us() - t0) / 1e6;
	run_for(b, o->settle_s);
	cpu0 = self_cpu_ms();
	scpu0 = servers_cpu_ms(o);
	for (b->fan_cur = 0; b->fan_cur < o->changes; b->fan_cur++) {
		fanout_next(b);
		if (!run_until(b, fanout_change_done, o->timeout_s < 30 ? o->timeout_s : 30,
		    "fanout: deliveries")) {
			rc = 1;
			if (!b->fan_acked)
				break;
		}
		if (b->u_err > 0 && !rpc_client_alive(u->client)) {
			log_warnx("fanout: the updater's connection is gone: %s",
			    rpc_client_error(u->client));
			rc = 1;
			break;
		}
		run_for(b, 0.05);
	}
	scpu = scpu0 >= 0 ? servers_cpu_ms(o) - scpu0 : -1;
	/* watch server by watch server (watcher w on server w % ns), then all of them; a
	 * server's first receipt of each change is the hop to it without its own fan-out */
	for (size_t s = 0; s < ns; s++) {
		size_t from = nd;
		for (long r = 0; r < o->changes; r++)
			first[r] = UINT32_MAX;
		for (size_t w = s; w < b->n; w += ns) {
			for (long r = 0; r < o->changes; r++) {
				uint64_t t = b->fan_recv[w * (size_t)o->changes + r], ack = b->fan_ack[r];
				if (t == 0 || ack == 0) {
					missing++;
					continue;
				}
				/* a watcher may read the event before the updater reads its ack */
				if (t < ack)
					early++;
				lat[nd] = t > ack ? (uint32_t)(t - ack) : 0;
				if (lat[nd] < first[r])
					first[r] = lat[nd];
				nd++;
			}
		}
		qsort(lat + from, nd - from, sizeof(*lat), cmp_u32);
		qsort(first, (size_t)o->changes, sizeof(*first), cmp_u32);
		if (o->n_watch_servers == 0)
			continue;
		snprintf(sname[s][0], sizeof(sname[s][0]), "s%u_deliveries", (unsigned)s);
		snprintf(sname[s][1], sizeof(sname[s][1]), "s%u_p50_ms", (unsigned)s);
		snprintf(sname[s][2], sizeof(sname[s][2]), "s%u_p99_ms", (unsigned)s);
		snprintf(sname[s][3], sizeof(sname[s][3]), "s%u_max_ms", (unsigned)s);
		snprintf(sname[s][4], sizeof(sname[s][4]), "s%u_first_p50_ms", (unsigned)s);
		snprintf(sname[s][5], sizeof(sname[s][5]), "s%u_first_max_ms", (unsigned)s);
		sf[nsf++] = (struct figure){ sname[s][0], (double)(nd - from), 0 };
		sf[nsf++] = (struct figure){ sname[s][1], pct_ms(lat + from, nd - from, 50), 3 };
		sf[nsf++] = (struct figure){ sname[s][2], pct_ms(lat + from, nd - from, 99), 3 };
		sf[nsf++] = (struct figure){ sname[s][3], pct_ms(lat + from, nd - from, 100), 3 };
		/* changes no watcher of the server received sort last, as UINT32_MAX */
		sf[nsf++] = (struct figure){ sname[s][4], pct_ms(first, (size_t)o->changes, 50), 3 };
		sf[nsf++] = (struct figure){ sname[s][5], pct_ms(first, (size_t)o->changes, 100), 3 };
	}
	qsort(lat, nd, sizeof(*lat), cmp_u32);
	{
		struct figure f[sizeof(sf) / sizeof(sf[0]) + 32], base[] = {
			{ "identities", (double)b->n_total, 0 }, { "issue_s", b->issue_s, 3 },
			{ "watchers", (double)o->watchers, 0 }, { "changes", (double)o->changes, 0 },
			{ "peers", (double)o->peers + 1, 0 },
			{ "deliveries", (double)nd, 0 },
			{ "expected", (double)o->watchers * (double)o->changes, 0 },
			{ "missing", (double)missing, 0 }, { "before_ack", (double)early, 0 },
			{ "p50_ms", pct_ms(lat, nd, 50), 3 }, { "p99_ms", pct_ms(lat, nd, 99), 3 },
			{ "max_ms", pct_ms(lat, nd, 100), 3 }, { "setup_s", setup_s, 3 },
			{ "errors", (double)(b->failed + b->u_err), 0 },
			{ "client_cpu_ms", self_cpu_ms() - cpu0, 0 },
			{ "server_cpu_ms", scpu, 0 },
			{ "server_cpu_us_per_delivery", scpu >= 0 && nd > 0 ? scpu * 1000 / (double)nd : -1, 2 },
			{ "watch_servers", (double)o->n_watch_servers, 0 },
		};
		size_t nf = sizeof(base) / sizeof(base[0]);

		memcpy(f, base, sizeof(base));
		memcpy(f + nf, sf, nsf * sizeof(*sf));
		print_figures(o, "fanout", f, nf + nsf);
	}
	rc = rc == 0 && missing == 0 && b->failed == 0 && b->u_err == 0 ? 0 : 1;
done:
	free(lat);
	free(first);
	return rc;
}

int
scenario_idle(struct bench *b)
{
	const struct opts *o = &b->o;
	long before, after, hwm_before, hwm_after;
	uint64_t t0;
	double setup_s;

	if (!seed_peers(b))
		return 1;
	run_for(b, 0.5);
	before = read_status_kib(o->pid, "VmRSS");
	hwm_before = read_status_kib(o->pid, "VmHWM");
	if (before < 0) {
		log_errorx("cannot read /proc/%ld/status", o->pid);
		return 1;
	}
	t0 = now_us();
	connect_all(b, b->n);
	if (!run_until(b, all_ready, o->timeout_s, "idle: connecting"))
		return 1;
	setup_s = (double)(now_us() - t0) / 1e6;
	run_for(b, o->settle_s);
	after = read_status_kib(o->pid, "VmRSS");
	hwm_after = read_status_kib(o->pid, "VmHWM");
	{
		long up = 0;
		for (size_t i = 0; i < b->n; i++)
			up += b->agents[i].got_first && !b->agents[i].ended;
		struct figure f[] = {
			{ "identities", (double)b->n, 0 }, { "issue_s", b->issue_s, 3 },
			{ "agents", (double)o->watchers, 0 }, { "connected", (double)up, 0 },
			{ "peers", (double)o->peers, 0 },
			{ "rss_before_kib", (double)before, 0 }, { "rss_after_kib", (double)after, 0 },
			{ "per_conn_kib", up > 0 ? (double)(after - before) / (double)up : 0, 2 },
			{ "hwm_before_kib", (double)hwm_before, 0 },
			{ "hwm_after_kib", (double)hwm_after, 0 },
			{ "setup_s", setup_s, 3 },
			{ "errors", (double)b->failed, 0 },
		};
		print_figures(o, "idle", f, sizeof(f) / sizeof(f[0]));
	}
	return b->failed == 0 && b->ready == (long)b->n ? 0 : 1;
}

struct child {
	pid_t pid;
	int status;
	bool done;
};

static bool
restart_done(struct bench *b)
{
	return b->resumed + b->failed >= (long)b->n;
}

static long
read_pid_file(const char *path)
{
	FILE *f = fopen(path, "r");
	long pid = -1;

	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = -1;
	fclose(f);
	return pid;
}

int
scenario_reconnect(struct bench *b)
{
	const struct opts *o = &b->o;
	uint64_t t0, t_all = 0, rx_hs = 0, rx_max = 0, rx_sum = 0, snap_sum = 0, hs_sum = 0;
	struct child ch = { 0 };
	double cpu_ms = -1, setup_s, cmd_s = 0, ccpu0, first_cpu;
	long pid, nmeas = 0;
	int st;

	if (!seed_peers(b))
		return 1;
	pid = o->pid_file != NULL ? read_pid_file(o->pid_file) : o->pid;
	first_cpu = pid > 0 ? read_cpu_ms(pid) : -1;
	t0 = now_us();
	connect_all(b, b->n);
	if (!run_until(b, all_ready, o->timeout_s, "reconnect: connecting"))
		return 1;
	setup_s = (double)(now_us() - t0) / 1e6;
	if (first_cpu >= 0)
		first_cpu = read_cpu_ms(pid) - first_cpu;
	run_for(b, o->settle_s);
	for (size_t i = 0; i < b->n; i++) {
		struct agent *a = &b->agents[i];
		a->rx_first = agent_rx_bytes(a) - a->hs_rx;
		snap_sum += a->rx_first;
	}
	/* run the restart command beside the loop: agents notice the close and retry */
	b->reconnecting = true;
	ccpu0 = self_cpu_ms();
	t0 = now_us();
	fflush(NULL);
	ch.pid = fork();
	if (ch.pid < 0) {
		log_error("fork");
		return 1;
	}
	if (ch.pid == 0) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		execl("/bin/sh", "sh", "-c", o->restart, (char *)NULL);
		_exit(127);
	}
	while (!ch.done || !restart_done(b)) {
		if (now_us() - t0 > (uint64_t)(o->timeout_s * 1e6)) {
			log_warnx("reconnect: %ld of %zu resumed after %.0f s%s", b->resumed, b->n,
			    o->timeout_s, ch.done ? "" : " (restart command still running)");
			if (!ch.done) {
				kill(ch.pid, SIGTERM);
				waitpid(ch.pid, &st, 0);
			}
			return 1;
		}
		loop_run_once(b->loop, 20);
		if (!ch.done && waitpid(ch.pid, &ch.status, WNOHANG) == ch.pid) {
			ch.done = true;
			cmd_s = (double)(now_us() - t0) / 1e6;
			if (!WIFEXITED(ch.status) || WEXITSTATUS(ch.status) != 0)
				log_warnx("reconnect: restart command exited with status %d",
				    WIFEXITED(ch.status) ? WEXITSTATUS(ch.status) : 128 +
				    WTERMSIG(ch.status));
		}
		if (t_all == 0 && ch.done && restart_done(b))
			t_all = now_us();
	}
	if (t_all == 0)
		t_all = now_us();
	pid = o->pid_file != NULL ? read_pid_file(o->pid_file) : o->pid;
	if (pid > 0)
		cpu_ms = read_cpu_ms(pid);
	ccpu0 = self_cpu_ms() - ccpu0;
	run_for(b, o->settle_s);
	for (size_t i = 0; i < b->n; i++) {
		struct agent *a = &b->agents[i];
		uint64_t v;
		if (!a->resumed)
			continue;
		v = agent_rx_bytes(a) - a->hs_rx;
		rx_sum += v;
		rx_hs += a->hs_rx;
		if (v > rx_max)
			rx_max = v;
		nmeas++;
	}
	hs_sum = rx_hs;
	{
		double n = nmeas > 0 ? (double)nmeas : 1;
		struct figure f[] = {
			{ "identities", (double)b->n, 0 }, { "issue_s", b->issue_s, 3 },
			{ "agents", (double)o->watchers, 0 }, { "resumed", (double)b->resumed, 0 },
			{ "peers", (double)o->peers, 0 },
			{ "tls_resumed", (double)b->tls_resumed, 0 },
			{ "snapshots_on_resume", (double)b->snap_on_resume, 0 },
			{ "wall_s", (double)(t_all - t0) / 1e6, 3 }, { "restart_cmd_s", cmd_s, 3 },
			{ "handshake_rx_bytes_avg", (double)hs_sum / n, 0 },
			{ "after_handshake_rx_bytes_avg", (double)rx_sum / n, 0 },
			{ "after_handshake_rx_bytes_max", (double)rx_max, 0 },
			{ "first_connect_rx_bytes_avg", (double)snap_sum / (double)b->n, 0 },
			{ "server_cpu_ms", cpu_ms, 0 },
			{ "server_cpu_ms_per_agent", cpu_ms >= 0 ? cpu_ms / n : -1, 3 },
			{ "server_cpu_ms_per_first_connect", first_cpu >= 0 ?
			    first_cpu / (double)b->n : -1, 3 },
			{ "client_cpu_ms_per_agent", ccpu0 / n, 3 },
			{ "setup_s", setup_s, 3 }, { "errors", (double)b->failed, 0 },
		};
		print_figures(o, "reconnect", f, sizeof(f) / sizeof(f[0]));
	}
	return b->resumed == (long)b->n && b->failed == 0 ? 0 : 1;
}

static int
write_identity(const char *dir, uint32_t i, const struct identity *id)
{
	char path[4096];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/bench-%u.crt", dir, i);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	ok = PEM_write_X509(f, id->cert);
	if (fclose(f) != 0 || !ok)
		return -1;
	snprintf(path, sizeof(path), "%s/bench-%u.key", dir, i);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fchmod(fileno(f), 0600);
	ok = PEM_write_PrivateKey(f, id->key, NULL, NULL, 0, NULL, NULL);
	if (fclose(f) != 0 || !ok)
		return -1;
	return 0;
}

/* Issues n identities, timed, one at a time (nothing is kept but the files asked for). */
int
scenario_issue(struct bench *b, size_t n)
{
	struct identity id;
	char err[512];
	uint64_t t0 = now_us();
	double secs, cpu0 = self_cpu_ms();

	for (size_t i = 0; i < n; i++) {
		if (certgen_issue(b->gen, "bench", (uint32_t)i, &id, err, sizeof(err)) < 0) {
			fprintf(stderr, "wiresync-bench: %s\n", err);
			return 1;
		}
		if (b->o.out_dir != NULL && write_identity(b->o.out_dir, (uint32_t)i, &id) < 0) {
			fprintf(stderr, "wiresync-bench: %s: cannot write identity %zu: %s\n",
			    b->o.out_dir, i, strerror(errno));
			identity_clear(&id);
			return 1;
		}
		identity_clear(&id);
	}
	secs = (double)(now_us() - t0) / 1e6;
	{
		struct figure f[] = {
			{ "identities", (double)n, 0 }, { "seconds", secs, 3 },
			{ "per_s", (double)n / secs, 0 }, { "cpu_ms", self_cpu_ms() - cpu0, 0 },
		};
		print_figures(&b->o, "issue", f, sizeof(f) / sizeof(f[0]));
	}
	return 0;
}

