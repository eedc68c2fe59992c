/* ws-call's load: burst (many Updates on one connection), updates (COUNT identities, each
 * sending Updates one at a time) and mint (the certificates updates uses). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wiresync.pb-c.h"
#include "rpc/grpc.h"
#include "rpc/h2client.h"
#include "rpc/tls.h"
#include "test/testcert.h"
#include "test/ws-call.h"

/* --- burst: many Updates with changing ports, a window of them in flight ---------------- */

struct burst {
	struct rpc_client *client;
	uint64_t timeout_ms;
	long count, sent, done, errors;
	uint32_t port_base, last_port;
	uint64_t revision;
};

static void burst_next(struct burst *b);

static void
burst_reply(void *arg, const uint8_t *data, size_t len)
{
	struct burst *b = arg;
	Wiresync__V1__UpdateReply *r = wiresync__v1__update_reply__unpack(NULL, len, data);

	if (r != NULL && r->revision > b->revision)
		b->revision = r->revision;
	wiresync__v1__update_reply__free_unpacked(r, NULL);
}

static void
burst_done(void *arg, int status, const char *message)
{
	struct burst *b = arg;

	b->done++;
	if (status != GRPC_OK && b->errors++ < 3)
		fprintf(stderr, "ws-call: burst: %s: %s\n", grpc_status_name(status), message);
	burst_next(b);
}

static void
burst_next(struct burst *b)
{
	static const struct rpc_client_cb cb = { .on_message = burst_reply, .on_done = burst_done };
	Wiresync__V1__UpdateRequest m = WIRESYNC__V1__UPDATE_REQUEST__INIT;
	uint8_t buf[64];
	size_t len;

	if (b->sent == b->count)
		return;
	m.listen_port = b->port_base + (uint32_t)(b->sent % 10000);
	b->last_port = m.listen_port;
	len = wiresync__v1__update_request__pack(&m, buf);
	b->sent++;
	if (rpc_client_call(b->client, "/wiresync.v1.WireSync/Update", buf, len, b->timeout_ms,
	    &cb, b) == NULL) {
		b->done++;
		b->errors++;
	}
}

int
wc_run_burst(struct loop *loop, struct rpc_client *client, int argc, char **argv, uint64_t timeout)
{
	struct burst b = { .client = client, .timeout_ms = timeout, .port_base = 20000 };
	long inflight = 64;

	if (argc < 2)
		wc_usage();
	b.count = strtol(argv[1], NULL, 10);
	for (int i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port-base") == 0)
			b.port_base = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--inflight") == 0)
			inflight = strtol(argv[i + 1], NULL, 10);
	}
	for (long i = 0; i < inflight; i++)
		burst_next(&b);
	while (b.done < b.count && loop_run_once(loop, -1) == 0)
		;
	printf("burst done count=%ld last_port=%u revision=%llu errors=%ld\n", b.count,
	    b.last_port, (unsigned long long)b.revision, b.errors);
	return b.errors == 0 ? GRPC_OK : GRPC_UNKNOWN;
}

/* --- updates: COUNT identities, each sending Updates one at a time ---------------------- */

struct upd_one {
	struct updates *u;
	struct rpc_client *client;
	SSL_CTX *ctx;
	char name[64];
	uint32_t seq, port;
	bool busy, stopped, started;
	struct loop_timer gap;
};

struct updates {
	struct loop *loop;
	const struct opts *o;
	FILE *log;
	uint32_t port_base, max, gap_ms;
	bool keep_going;
	long stopped, acked, failed;
	/* at most window clients wait for their first reply (TLS handshakes in flight) */
	struct upd_one *ones;
	long n, next_start, window;
};

static void upd_send(void *arg);

static volatile sig_atomic_t upd_terminated;

static void
upd_on_term(int sig)
{
	(void)sig;
	upd_terminated = 1;
}

static void
upd_log(struct updates *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
upd_log(struct updates *u, const char *fmt, ...)
{
	va_list ap;

	if (u->log == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(u->log, fmt, ap);
	va_end(ap);
	/* one line per event, on disk at once: the test compares them with the store */
	fflush(u->log);
}

static void
upd_reply(void *arg, const uint8_t *data, size_t len)
{
	struct upd_one *one = arg;
	Wiresync__V1__UpdateReply *r = wiresync__v1__update_reply__unpack(NULL, len, data);

	if (r == NULL)
		return;
	upd_log(one->u, "ack %s %u %llu\n", one->name, one->port,
	    (unsigned long long)r->revision);
	one->u->acked++;
	one->seq++;
	wiresync__v1__update_reply__free_unpacked(r, NULL);
}

/* The client's first call ended: the next one waiting may connect. */
static void
upd_first_done(struct upd_one *one)
{
	struct updates *u = one->u;

	if (one->started)
		return;
	one->started = true;
	if (u->next_start < u->n)
		upd_send(&u->ones[u->next_start++]);
}

static void
upd_stop(struct upd_one *one)
{
	upd_first_done(one);
	if (!one->stopped) {
		one->stopped = true;
		one->u->stopped++;
	}
}

static void
upd_done(void *arg, int status, const char *message)
{
	struct upd_one *one = arg;
	struct updates *u = one->u;

	one->busy = false;
	upd_first_done(one);
	if (status != GRPC_OK) {
		upd_log(u, "fail %s %u %s %s\n", one->name, one->port, grpc_status_name(status),
		    message);
		u->failed++;
		if (!u->keep_going) {
			upd_stop(one);
			return;
		}
		/* the next Update goes out on a new connection if this one died */
		if (!rpc_client_alive(one->client)) {
			rpc_client_del(one->client);
			one->client = NULL;
		}
		one->seq++;
	}
	if (one->seq >= u->max) {
		upd_stop(one);
		return;
	}
	if (u->gap_ms > 0 || status != GRPC_OK)
		loop_timer_set(u->loop, &one->gap, u->gap_ms > 0 ? u->gap_ms : 100, upd_send, one);
	else
		upd_send(one);
}

static void
upd_send(void *arg)
{
	static const struct rpc_client_cb cb = { .on_message = upd_reply, .on_done = upd_done };
	struct upd_one *one = arg;
	struct updates *u = one->u;
	Wiresync__V1__UpdateRequest m = WIRESYNC__V1__UPDATE_REQUEST__INIT;
	uint8_t buf[64];
	size_t len;

	if (one->stopped || one->busy)
		return;
	if (one->client == NULL)
		one->client = rpc_client_new(u->loop, one->ctx, u->o->server);
	if (one->client == NULL) {
		upd_stop(one);
		return;
	}
	m.listen_port = one->port = u->port_base + one->seq;
	len = wiresync__v1__update_request__pack(&m, buf);
	upd_log(u, "sent %s %u\n", one->name, one->port);
	one->busy = true;
	if (rpc_client_call(one->client, "/wiresync.v1.WireSync/Update", buf, len,
	    u->o->timeout_ms ? u->o->timeout_ms : 10000, &cb, one) == NULL) {
		one->busy = false;
		upd_stop(one);
	}
}

int
wc_run_updates(struct loop *loop, const struct opts *o, int argc, char **argv)
{
	struct updates u = { .loop = loop, .o = o, .port_base = 1000, .max = 1000 };
	struct upd_one *ones;
	const char *log_path = NULL;
	uint64_t duration_ms = 0, deadline;
	long n;
	char err[512], crt[4096], key[4096];

	if (argc < 4)
		wc_usage();
	n = strtol(argv[3], NULL, 10);
	if (n <= 0 || n > 4096)
		wc_usage();
	for (int i = 4; i < argc; i++) {
		if (strcmp(argv[i], "--keep-going") == 0)
			u.keep_going = true;
		else if (i + 1 == argc)
			wc_usage();
		else if (strcmp(argv[i], "--port-base") == 0)
			u.port_base = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--max") == 0)
			u.max = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--log") == 0)
			log_path = argv[++i];
		else if (strcmp(argv[i], "--duration-ms") == 0)
			duration_ms = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--gap-ms") == 0)
			u.gap_ms = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--connect-window") == 0)
			u.window = strtol(argv[++i], NULL, 10);
		else
			wc_usage();
	}
	if (log_path != NULL && (u.log = fopen(log_path, "a")) == NULL) {
		fprintf(stderr, "ws-call: %s: %s\n", log_path, strerror(errno));
		return EXIT_LOCAL;
	}
	ones = calloc((size_t)n, sizeof(*ones));
	if (ones == NULL)
		return EXIT_LOCAL;
	for (long i = 0; i < n; i++) {
		struct tls_files f = { crt, key, o->ca, NULL };

		ones[i].u = &u;
		snprintf(ones[i].name, sizeof(ones[i].name), "%s%ld", argv[2], i);
		snprintf(crt, sizeof(crt), "%s/%s.crt", argv[1], ones[i].name);
		snprintf(key, sizeof(key), "%s/%s.key", argv[1], ones[i].name);
		if ((ones[i].ctx = tls_client_ctx_new(&f, err, sizeof(err))) == NULL) {
			fprintf(stderr, "ws-call: %s\n", err);
			for (long j = 0; j < i; j++)
				SSL_CTX_free(ones[j].ctx);
			free(ones);
			if (u.log != NULL)
				fclose(u.log);
			return EXIT_LOCAL;
		}
	}
	u.ones = ones;
	u.n = n;
	if (u.window <= 0)
		u.window = 50;
	for (u.next_start = 0; u.next_start < n && u.next_start < u.window;)
		upd_send(&ones[u.next_start++]);
	deadline = duration_ms > 0 ? loop_now_ms(loop) + duration_ms : UINT64_MAX;
	/* SIGTERM ends the run with the summary line */
	signal(SIGTERM, upd_on_term);
	while (!upd_terminated && u.stopped < n && loop_now_ms(loop) < deadline &&
	    loop_run_once(loop, 100) >= 0)
		;
	for (long i = 0; i < n; i++) {
		loop_timer_cancel(loop, &ones[i].gap);
		/* cancels an Update still in flight; its failure is logged */
		u.keep_going = false;
		rpc_client_del(ones[i].client);
		SSL_CTX_free(ones[i].ctx);
	}
	loop_run_once(loop, 0);
	printf("updates clients=%ld acked=%ld failed=%ld\n", n, u.acked, u.failed);
	if (u.log != NULL)
		fclose(u.log);
	free(ones);
	return GRPC_OK;
}

/* --- mint: agent certificates signed by a CA read from files ----------------------------- */

int
wc_run_mint(int argc, char **argv)
{
	struct testcert_ca *ca;
	struct in_addr first;
	char org[256], path[4096], ip[INET_ADDRSTRLEN], wgkey[45];
	long n;
	int ret = 0;

	if (argc != 7 || inet_pton(AF_INET, argv[6], &first) != 1)
		wc_usage();
	n = strtol(argv[5], NULL, 10);
	if ((ca = testcert_ca_load(argv[1], argv[2])) == NULL) {
		fprintf(stderr, "ws-call: mint: cannot load the CA %s / %s\n", argv[1], argv[2]);
		return EXIT_LOCAL;
	}
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(testcert_ca_cert(ca)),
	    NID_organizationName, org, sizeof(org)) < 0) {
		fprintf(stderr, "ws-call: mint: %s has no O= (network)\n", argv[1]);
		testcert_ca_del(ca);
		return EXIT_LOCAL;
	}
	for (long i = 0; i < n && ret == 0; i++) {
		struct testcert_spec s = { .org = org, .key_b64 = wgkey, .ips = { ip } };
		struct in_addr a = { htonl(ntohl(first.s_addr) + (uint32_t)i) };
		char name[64];
		EVP_PKEY *k = NULL;
		X509 *x;
		FILE *f;

		snprintf(name, sizeof(name), "%s%ld", argv[4], i);
		s.cn = name;
		inet_ntop(AF_INET, &a, ip, sizeof(ip));
		testcert_random_key_b64(wgkey);
		x = testcert_issue(ca, &s, &k);
		snprintf(path, sizeof(path), "%s/%s.crt", argv[3], name);
		if (x == NULL || testcert_write_pem(path, x) < 0)
			ret = EXIT_LOCAL;
		snprintf(path, sizeof(path), "%s/%s.key", argv[3], name);
		if (ret == 0 && testcert_write_key(path, k) < 0)
			ret = EXIT_LOCAL;
		snprintf(path, sizeof(path), "%s/%s.pub", argv[3], name);
		if (ret == 0 && ((f = fopen(path, "w")) == NULL ||
		    fprintf(f, "%s\n", wgkey) < 0 || fclose(f) != 0))
			ret = EXIT_LOCAL;
		if (ret != 0)
			fprintf(stderr, "ws-call: mint: cannot write %s\n", path);
		X509_free(x);
		EVP_PKEY_free(k);
	}
	testcert_ca_del(ca);
	return ret;
}
