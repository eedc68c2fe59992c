/* ws-call: the project's own C gRPC client on the command line, for integration tests.
 * Prints the reply (or "STATUS: message") and exits with the gRPC status code; 100 for a
 * local error. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/cert.h"
#include "proto/health.pb-c.h"
#include "proto/wiresync.pb-c.h"
#include "rpc/grpc.h"
#include "rpc/h2client.h"
#include "rpc/log.h"
#include "rpc/tls.h"
#include "test/testcert.h"
#include "test/ws-call.h"

void
wc_usage(void)
{
	fprintf(stderr,
	    "usage: ws-call -s HOST:PORT -C CERT -K KEY -A CA [-t MS] [--header-only]\n"
	    "               [--content-type CT] COMMAND [ARGS]\n"
	    "commands:\n"
	    "  health\n"
	    "  update PORT [--lan IP]... [--key B64] [--lan-id HEX] [--wan IP]\n"
	    "  keys [--lan-only]\n"
	    "  get KEY_B64\n"
	    "  watch [--since N] [--events N] [--stall-ms MS] [--idle-exit-ms MS]\n"
	    "  burst COUNT [--port-base P] [--inflight N]\n"
	    "  watch-many N [--name NAME --port P]\n"
	    "  raw PATH HEX\n"
	    "  updates DIR PREFIX COUNT [--port-base P] [--max N] [--log FILE]\n"
	    "          [--duration-ms MS] [--keep-going] [--gap-ms MS] [--connect-window W]\n"
	    "      COUNT clients, each with its own identity DIR/PREFIX<i>.crt/.key, each sending\n"
	    "      Updates one at a time, listen_port = P + sequence; --log gets a line per send,\n"
	    "      ack and failure; at most W (50) clients wait for their first reply at once\n"
	    "ws-call mint CA_CRT CA_KEY DIR PREFIX COUNT FIRST_IPV4\n"
	    "      issue COUNT agent certificates DIR/PREFIX<i>.{crt,key,pub} (no server needed)\n");
	exit(EXIT_LOCAL);
}

char *
wc_b64(const uint8_t *k, size_t len, char out[45])
{
	if (len != WG_KEY_LEN)
		snprintf(out, 45, "(%zu bytes)", len);
	else
		wg_key_to_base64(k, out);
	return out;
}

static size_t
hex_decode(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;

	while (s[0] != '\0' && s[1] != '\0' && n < max) {
		unsigned v;
		if (sscanf(s, "%2x", &v) != 1)
			break;
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

void
wc_print_peer(const Wiresync__V1__Peer *p)
{
	char k[45];

	printf("peer %s key=%s port=%u wan=%s online=%d revision=%llu cert=%zu", p->name,
	    wc_b64(p->public_key.data, p->public_key.len, k), p->listen_port, p->wan_ip, p->online,
	    (unsigned long long)p->revision, p->certificate.len);
	for (size_t i = 0; i < p->n_tunnel_ips; i++)
		printf(" tunnel=%s", p->tunnel_ips[i]);
	for (size_t i = 0; i < p->n_lan_ips; i++)
		printf(" lan=%s", p->lan_ips[i]);
	if (p->lan_id.len > 0) {
		printf(" lan_id=");
		for (size_t i = 0; i < p->lan_id.len; i++)
			printf("%02x", p->lan_id.data[i]);
	}
	printf("\n");
}

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

static int
run_burst(struct loop *loop, struct rpc_client *client, int argc, char **argv, uint64_t timeout)
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

static int
run_updates(struct loop *loop, const struct opts *o, int argc, char **argv)
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

static int
run_mint(int argc, char **argv)
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

int
wc_finish(int status, const char *message)
{
	if (status != GRPC_OK)
		printf("%s: %s\n", grpc_status_name(status), message);
	return status;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "header-only", no_argument, NULL, 'H' },
		{ "content-type", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .ca = NULL };
	struct loop *loop = NULL;
	struct rpc_client *client = NULL;
	SSL_CTX *ctx = NULL;
	uint8_t *req = NULL, *reply = NULL;
	size_t req_len = 0, reply_len = 0;
	const char *path = NULL, *cmd;
	int c, status = EXIT_LOCAL;
	char err[512], message[256];

	log_init("ws-call", LOG_LEVEL_WARN);
	/* a server killed mid-write must not kill us */
	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && strcmp(argv[1], "mint") == 0)
		return run_mint(argc - 1, argv + 1);
	while ((c = getopt_long(argc, argv, "+s:C:K:A:t:", longopts, NULL)) != -1) {
		switch (c) {
		case 's': o.server = optarg; break;
		case 'C': o.cert = optarg; break;
		case 'K': o.key = optarg; break;
		case 'A': o.ca = optarg; break;
		case 't': o.timeout_ms = strtoull(optarg, NULL, 10); break;
		case 'H': o.header_only = true; break;
		case 'T': o.content_type = optarg; break;
		default: wc_usage();
		}
	}
	if (optind >= argc || o.server == NULL || o.ca == NULL)
		wc_usage();
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	/* 0 makes glibc's getopt start afresh, permuting so options may follow PORT. */
	optind = 0;

	if (strcmp(cmd, "health") == 0) {
		Grpc__Health__V1__HealthCheckRequest m = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
		path = "/grpc.health.v1.Health/Check";
		req_len = grpc__health__v1__health_check_request__get_packed_size(&m);
		req = malloc(req_len + 1);
		grpc__health__v1__health_check_request__pack(&m, req);
	} else if (strcmp(cmd, "update") == 0) {
		static const struct option uo[] = {
			{ "lan", required_argument, NULL, 'l' }, { "key", required_argument, NULL, 'k' },
			{ "lan-id", required_argument, NULL, 'i' }, { "wan", required_argument, NULL, 'w' },
			{ NULL, 0, NULL, 0 },
		};
		Wiresync__V1__UpdateRequest m = WIRESYNC__V1__UPDATE_REQUEST__INIT;
		char *lans[32];
		uint8_t key[64], lan_id[64];

		m.lan_ips = lans;
		while ((c = getopt_long(argc, argv, "", uo, NULL)) != -1) {
			switch (c) {
			case 'l':
				if (m.n_lan_ips < 32)
					lans[m.n_lan_ips++] = optarg;
				break;
			case 'k':
				m.public_key.len = EVP_DecodeBlock(key, (const uint8_t *)optarg,
				    (int)strlen(optarg));
				/* EVP_DecodeBlock counts padding as data. */
				if (m.public_key.len == 33)
					m.public_key.len = 32;
				m.public_key.data = key;
				break;
			case 'i':
				m.lan_id.len = hex_decode(optarg, lan_id, sizeof(lan_id));
				m.lan_id.data = lan_id;
				break;
			case 'w': m.wan_ip = optarg; break;
			default: wc_usage();
			}
		}
		if (optind >= argc)
			wc_usage();
		m.listen_port = (uint32_t)strtoul(argv[optind], NULL, 10);
		path = "/wiresync.v1.WireSync/Update";
		req_len = wiresync__v1__update_request__get_packed_size(&m);
		req = malloc(req_len + 1);
		wiresync__v1__update_request__pack(&m, req);
	} else if (strcmp(cmd, "keys") == 0) {
		Wiresync__V1__KeysRequest m = WIRESYNC__V1__KEYS_REQUEST__INIT;
		m.lan_only = argc > 1 && strcmp(argv[1], "--lan-only") == 0;
		path = "/wiresync.v1.WireSync/Keys";
		req_len = wiresync__v1__keys_request__get_packed_size(&m);
		req = malloc(req_len + 1);
		wiresync__v1__keys_request__pack(&m, req);
	} else if (strcmp(cmd, "get") == 0 && argc > 1) {
		Wiresync__V1__GetPeerRequest m = WIRESYNC__V1__GET_PEER_REQUEST__INIT;
		uint8_t key[64];
		m.public_key.len = EVP_DecodeBlock(key, (const uint8_t *)argv[1], (int)strlen(argv[1]));
		if (m.public_key.len == 33)
			m.public_key.len = 32;
		m.public_key.data = key;
		path = "/wiresync.v1.WireSync/GetPeer";
		req_len = wiresync__v1__get_peer_request__get_packed_size(&m);
		req = malloc(req_len + 1);
		wiresync__v1__get_peer_request__pack(&m, req);
	} else if (strcmp(cmd, "watch") == 0) {
		Wiresync__V1__WatchRequest m = WIRESYNC__V1__WATCH_REQUEST__INIT;
		for (int i = 1; i + 1 < argc; i += 2)
			if (strcmp(argv[i], "--since") == 0)
				m.since_revision = strtoull(argv[i + 1], NULL, 10);
		path = "/wiresync.v1.WireSync/Watch";
		req_len = wiresync__v1__watch_request__get_packed_size(&m);
		req = malloc(req_len + 1);
		wiresync__v1__watch_request__pack(&m, req);
	} else if (strcmp(cmd, "burst") == 0 || strcmp(cmd, "watch-many") == 0 ||
	    strcmp(cmd, "updates") == 0) {
		req = malloc(1);
	} else if (strcmp(cmd, "raw") == 0 && argc > 2) {
		path = argv[1];
		req = malloc(strlen(argv[2]) / 2 + 1);
		req_len = hex_decode(argv[2], req, strlen(argv[2]) / 2);
	} else {
		wc_usage();
	}
	if (req == NULL)
		goto out;
	if (strcmp(cmd, "updates") == 0) {
		/* every client brings its own identity: no shared connection */
		if ((loop = loop_new()) != NULL)
			status = run_updates(loop, &o, argc, argv);
		goto out;
	}

	{
		struct tls_files f = { o.cert, o.key, o.ca, NULL };
		ctx = tls_client_ctx_new(&f, err, sizeof(err));
		if (ctx == NULL) {
			fprintf(stderr, "ws-call: %s\n", err);
			goto out;
		}
	}
	loop = loop_new();
	client = loop != NULL ? rpc_client_new(loop, ctx, o.server) : NULL;
	if (client == NULL) {
		fprintf(stderr, "ws-call: bad server address \"%s\"\n", o.server);
		goto out;
	}
	if (o.content_type != NULL)
		rpc_client_set_extra_header(client, "content-type", o.content_type);
	if (o.header_only)
		rpc_client_set_local_deadline(client, false);

	if (strcmp(cmd, "watch") == 0) {
		status = wc_run_watch(loop, client, path, req, req_len, o.timeout_ms, argc, argv);
		goto out;
	}
	if (strcmp(cmd, "burst") == 0) {
		status = run_burst(loop, client, argc, argv, o.timeout_ms);
		goto out;
	}
	if (strcmp(cmd, "watch-many") == 0) {
		status = wc_run_watch_many(loop, ctx, &o, argc, argv);
		goto out;
	}

	if (rpc_client_unary_sync(client, path, req, req_len, o.timeout_ms, &status, &reply,
	    &reply_len, message, sizeof(message)) < 0)
		goto out;
	if (status != GRPC_OK) {
		wc_finish(status, message);
		goto out;
	}
	if (strcmp(cmd, "health") == 0) {
		Grpc__Health__V1__HealthCheckResponse *r =
		    grpc__health__v1__health_check_response__unpack(NULL, reply_len, reply);
		printf("status=%d\n", r != NULL ? (int)r->status : -1);
		grpc__health__v1__health_check_response__free_unpacked(r, NULL);
	} else if (strcmp(cmd, "update") == 0) {
		Wiresync__V1__UpdateReply *r = wiresync__v1__update_reply__unpack(NULL, reply_len, reply);
		if (r != NULL)
			printf("revision=%llu observed=%s\n", (unsigned long long)r->revision,
			    r->observed_wan_ip);
		wiresync__v1__update_reply__free_unpacked(r, NULL);
	} else if (strcmp(cmd, "keys") == 0) {
		Wiresync__V1__KeysReply *r = wiresync__v1__keys_reply__unpack(NULL, reply_len, reply);
		char k[45];
		if (r != NULL) {
			printf("revision=%llu keys=%zu\n", (unsigned long long)r->revision, r->n_keys);
			for (size_t i = 0; i < r->n_keys; i++)
				printf("key %s same_lan=%d online=%d\n",
				    wc_b64(r->keys[i]->public_key.data, r->keys[i]->public_key.len, k),
				    r->keys[i]->same_lan, r->keys[i]->online);
		}
		wiresync__v1__keys_reply__free_unpacked(r, NULL);
	} else if (strcmp(cmd, "get") == 0) {
		Wiresync__V1__Peer *p = wiresync__v1__peer__unpack(NULL, reply_len, reply);
		if (p != NULL)
			wc_print_peer(p);
		wiresync__v1__peer__free_unpacked(p, NULL);
	} else {
		printf("reply %zu bytes\n", reply_len);
	}
out:
	free(reply);
	free(req);
	rpc_client_del(client);
	loop_del(loop);
	SSL_CTX_free(ctx);
	return status;
}
