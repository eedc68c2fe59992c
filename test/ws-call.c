/* ws-call: the project's own C gRPC client on the command line, for integration tests.
 * Prints the reply (or "STATUS: message") and exits with the gRPC status code; 100 for a
 * local error. */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cert.h"
#include "proto/health.pb-c.h"
#include "proto/wiresync.pb-c.h"
#include "rpc/grpc.h"
#include "rpc/h2client.h"
#include "rpc/log.h"
#include "rpc/tls.h"
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
	if (p->observed_endpoint != NULL && p->observed_endpoint[0] != '\0')
		printf(" observed=%s", p->observed_endpoint);
	printf("\n");
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
		return wc_run_mint(argc - 1, argv + 1);
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
			status = wc_run_updates(loop, &o, argc, argv);
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
		status = wc_run_burst(loop, client, argc, argv, o.timeout_ms);
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
			printf("revision=%llu observed=%s relay=%s hub_port=%u\n",
			    (unsigned long long)r->revision, r->observed_wan_ip,
			    r->relay_endpoint[0] != '\0' ? r->relay_endpoint : "-", r->hub_port);
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
