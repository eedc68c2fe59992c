/* wiresync-agent join: the host side of joining (issue 13). Makes (or reuses) the TLS key
 * and CSR, takes the interface's WireGuard key, asks the enrolment listener over TLS that
 * trusts only the pinned CA, polls until the operator decides, then writes the certificate,
 * the CA and agent.conf and gives the interface its tunnel addresses. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agentconf.h"
#include "agent/join.h"
#include "agent/join_impl.h"
#include "common/policy.h"
#include "proto/enroll.pb-c.h"
#include "rpc/backoff.h"
#include "rpc/grpc.h"
#include "rpc/h2client.h"
#include "rpc/log.h"
#include "rpc/loop.h"
#include "rpc/tls.h"
#include "wg/wg.h"

#define JOIN_PATH "/wiresync.v1.Enroll/Join"
#define JOIN_POLL_MS 3000
#define JOIN_CALL_TIMEOUT_MS 15000
#define JOIN_RETRY_BASE_MS 1000
#define JOIN_RETRY_CAP_MS 30000
#define JOIN_REPLY_MAX (256 * 1024)
#define JOIN_EXTRA_MAX 16
#define JOIN_TOKEN_MAX 128           /* "wst_" and 52: more is no token */

struct join {
	const char *server, *name, *ifname, *token, *network, *config;
	char dir[PATH_MAX];
	char namebuf[CERT_NAME_MAX + 2];
	char tokenbuf[JOIN_TOKEN_MAX + 2];   /* --token-file's */
	unsigned prefix4, prefix6;
	bool start;
	struct csr_pin pin;
	struct join_paths paths;
	EVP_PKEY *key;
	uint8_t *csr;
	size_t csr_len;
	char code[CSR_CODE_LEN + 1];
	uint8_t wgkey[WG_KEY_LEN];
	struct loop *loop;
	SSL_CTX *ctx;
	bool interrupted;
	const char *extra[JOIN_EXTRA_MAX];   /* "--KEY=VALUE" of agent.conf keys, in argv */
	size_t n_extra;
};

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: wiresync-agent join SERVER:PORT --ca-sha256 HEX [--name NAME] [--interface IF]\n"
	    "           [--token TOKEN | --token-file FILE] [--network NET] [-c FILE] [--dir DIR]\n"
	    "           [--start]\n"
	    "\n"
	    "Asks wiresyncd's enrolment listener (enroll_listen) at SERVER:PORT to let this host\n"
	    "join, waits for the operator (wiresyncctl pending, approve), then writes this host's\n"
	    "certificate, the CA and agent.conf and gives the interface its tunnel addresses.\n"
	    "Run it again after an interruption: it resumes the same request.\n"
	    "\n"
	    "  --ca-sha256 HEX     SHA-256 of the network's CA certificate (wiresync-ca init and\n"
	    "                      wiresyncctl status print it); nothing else is trusted\n"
	    "  --name NAME         this host's name, the certificate CN (default: the host name)\n"
	    "  --interface IF      its WireGuard interface (default wg0); made where the kernel\n"
	    "                      has WireGuard, otherwise make it first (wireguard-go IF)\n"
	    "  --token TOKEN       a join token (wiresyncctl token create): approved at once\n"
	    "  --token-file FILE   the token from FILE's first line (kept out of ps)\n"
	    "  --network NET       the network to join, when the server has several\n"
	    "  -c, --config FILE   agent.conf to write (default %s)\n"
	    "  --dir DIR           where the key, request and certificates go (default: the\n"
	    "                      directory of FILE): NAME.key (0600), NAME.csr, NAME.crt, ca.crt\n"
	    "  --prefix4 N         prefix length of the IPv4 tunnel address on IF (default 24)\n"
	    "  --prefix6 N         prefix length of the IPv6 tunnel address on IF (default 64)\n"
	    "  --start             run the agent once joined (instead of printing how)\n"
	    "  --KEY=VALUE         any other key of agent.conf (state_dir, backend, uapi_dir,\n"
	    "                      crl, log_level, ...), checked now and written with the rest\n"
	    "  -h, --help          show this help\n"
	    "\n"
	    "Exit status: 0 joined, 1 error, 2 usage error or the server's CA is not the pinned\n"
	    "one, 3 the operator denied the request, 130 interrupted (run it again to resume).\n",
	    AGENTCONF_DEFAULT_PATH);
}

static void
say_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "wiresync-agent join: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static bool
parse_prefix(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v == 0 || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

/* Takes the --KEY=VALUE arguments that are agent.conf keys (not join's own options, not the
 * keys join writes itself) out of argv into j->extra, each checked as the agent would. 0,
 * or the usage exit status with the reason printed. */
static int
split_conf_args(struct join *j, int *argc, char **argv)
{
	static const char *const own[] = { "ca-sha256", "name", "interface", "token", "token-file",
	    "network", "config", "dir", "prefix4", "prefix6", "start", "help" };
	static const char *const written[] = { "server", "certificate", "private_key", "ca" };
	struct agentconf conf;
	struct config_schema schema;
	char err[400];
	int n = 1, rc = 0;

	agentconf_init(&conf, &schema);
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i], *eq = strchr(a, '=');
		size_t klen = eq != NULL ? (size_t)(eq - a - 2) : 0;
		bool skip = eq == NULL || strncmp(a, "--", 2) != 0 || strcmp(a, "--") == 0;

		for (size_t k = 0; !skip && k < sizeof(own) / sizeof(own[0]); k++)
			skip = strlen(own[k]) == klen && strncmp(a + 2, own[k], klen) == 0;
		for (size_t k = 0; !skip && k < sizeof(written) / sizeof(written[0]); k++) {
			if (strlen(written[k]) == klen && strncmp(a + 2, written[k], klen) == 0) {
				say_error("%.*s: join writes it itself (from the approval and --dir)",
				    (int)(klen + 2), a);
				rc = JOIN_EXIT_PIN;
				goto out;
			}
		}
		if (!skip) {
			int r = config_apply_arg(&schema, a, err, sizeof(err));

			if (r == -ENOENT) {
				skip = true;            /* getopt says it is unknown */
			} else if (r < 0) {
				say_error("%s", err);
				rc = JOIN_EXIT_PIN;
				goto out;
			} else if (j->n_extra == JOIN_EXTRA_MAX || strchr(a, '\n') != NULL) {
				say_error("%s: at most %d agent.conf keys, one line each", a,
				    JOIN_EXTRA_MAX);
				rc = JOIN_EXIT_PIN;
				goto out;
			} else {
				j->extra[j->n_extra++] = a;
				continue;
			}
		}
		argv[n++] = argv[i];
	}
	*argc = n;
	argv[n] = NULL;
	/* the values as the agent's start checks them (log_level, backend...), with stand-ins
	 * for the keys the approval brings */
	{
		char *args[JOIN_EXTRA_MAX + 5] = { "--server=join.invalid:1", "--certificate=-",
		    "--private_key=-", "--ca=-", "--interface=-" };

		for (size_t i = 0; i < j->n_extra; i++)
			args[5 + i] = (char *)j->extra[i];
		agentconf_free(&conf, &schema);
		agentconf_init(&conf, &schema);
		if (agentconf_load(&conf, &schema, NULL, false, (int)(5 + j->n_extra), args, err,
		    sizeof(err)) < 0) {
			say_error("%s", err);
			rc = JOIN_EXIT_PIN;
		} else if (conf.uapi_dir != NULL) {
			wg_set_uapi_dir(conf.uapi_dir);  /* join finds the interface there too */
		}
	}
out:
	agentconf_free(&conf, &schema);
	return rc;
}

/* --token-file FILE: its first line, without spaces around, into j->tokenbuf; 0, or the
 * exit status with the reason said. */
static int
token_read(struct join *j, const char *path)
{
	FILE *f;
	char *s;
	size_t n;

	if (j->token != NULL) {
		say_error("--token and --token-file: give one of them");
		return JOIN_EXIT_PIN;
	}
	if ((f = fopen(path, "r")) == NULL) {
		say_error("--token-file %s: %s", path, strerror(errno));
		return JOIN_EXIT_PIN;
	}
	s = fgets(j->tokenbuf, sizeof(j->tokenbuf), f);
	fclose(f);
	if (s == NULL)
		j->tokenbuf[0] = '\0';
	s = j->tokenbuf + strspn(j->tokenbuf, " \t");
	n = strcspn(s, " \t\r\n");
	if (n == 0 || n > JOIN_TOKEN_MAX) {
		say_error("--token-file %s: %s (the first line must hold the token that "
		    "wiresyncctl token create printed)", path, n == 0 ? "no token in it" :
		    "the first line is too long for a token");
		return JOIN_EXIT_PIN;
	}
	memmove(j->tokenbuf, s, n);
	j->tokenbuf[n] = '\0';
	j->token = j->tokenbuf;
	return 0;
}

/* Options into j; 0, or the exit status for --help (-1 there means 0) and usage errors. */
static int
parse_args(struct join *j, int argc, char **argv)
{
	enum { O_PIN = 256, O_NAME, O_IF, O_TOKEN, O_TOKEN_FILE, O_NET, O_DIR, O_P4, O_P6,
		O_START };
	static const struct option longopts[] = {
		{ "ca-sha256", required_argument, NULL, O_PIN },
		{ "name", required_argument, NULL, O_NAME },
		{ "interface", required_argument, NULL, O_IF },
		{ "token", required_argument, NULL, O_TOKEN },
		{ "token-file", required_argument, NULL, O_TOKEN_FILE },
		{ "network", required_argument, NULL, O_NET },
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, O_DIR },
		{ "prefix4", required_argument, NULL, O_P4 },
		{ "prefix6", required_argument, NULL, O_P6 },
		{ "start", no_argument, NULL, O_START },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *pin = NULL, *dir = NULL, *token_file = NULL;
	char cfg[PATH_MAX];
	int c;

	if ((c = split_conf_args(j, &argc, argv)) != 0)
		return c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case O_PIN: pin = optarg; break;
		case O_NAME: j->name = optarg; break;
		case O_IF: j->ifname = optarg; break;
		case O_TOKEN: j->token = optarg; break;
		case O_TOKEN_FILE: token_file = optarg; break;
		case O_NET: j->network = optarg; break;
		case 'c': j->config = optarg; break;
		case O_DIR: dir = optarg; break;
		case O_START: j->start = true; break;
		case O_P4:
			if (!parse_prefix(optarg, 32, &j->prefix4)) {
				say_error("--prefix4 \"%s\": must be 1 to 32", optarg);
				return JOIN_EXIT_PIN;
			}
			break;
		case O_P6:
			if (!parse_prefix(optarg, 128, &j->prefix6)) {
				say_error("--prefix6 \"%s\": must be 1 to 128", optarg);
				return JOIN_EXIT_PIN;
			}
			break;
		case 'h': usage(stdout); return -1;
		default: usage(stderr); return JOIN_EXIT_PIN;
		}
	}
	if (optind + 1 != argc) {
		if (optind == argc)
			say_error("SERVER:PORT missing");
		else
			say_error("unexpected argument \"%s\"", argv[optind + 1]);
		usage(stderr);
		return JOIN_EXIT_PIN;
	}
	j->server = argv[optind];
	if (pin == NULL) {
		say_error("--ca-sha256 missing: the SHA-256 of the network's CA certificate "
		    "(wiresync-ca init and wiresyncctl status print it)");
		return JOIN_EXIT_PIN;
	}
	if (!csr_pin_parse(pin, j->pin.want)) {
		say_error("--ca-sha256 \"%s\": not 64 hex digits", pin);
		return JOIN_EXIT_PIN;
	}
	if (token_file != NULL && (c = token_read(j, token_file)) != 0)
		return c;
	if (j->name == NULL) {
		if (gethostname(j->namebuf, sizeof(j->namebuf)) < 0 ||
		    strnlen(j->namebuf, sizeof(j->namebuf)) == sizeof(j->namebuf)) {
			say_error("cannot read the host name; give --name NAME");
			return JOIN_EXIT_PIN;
		}
		j->name = j->namebuf;
	}
	if (!policy_host_name_ok(j->name, strlen(j->name)) || j->name[0] == '.' ||
	    strcmp(j->name, "ca") == 0) {
		say_error("name \"%s\"%s: 1 to 64 letters, digits, '.', '_' or '-', not starting "
		    "with '.' and not \"ca\"; give --name NAME", j->name,
		    j->name == j->namebuf ? " (the host name)" : "");
		return JOIN_EXIT_PIN;
	}
	if (dir == NULL) {
		snprintf(cfg, sizeof(cfg), "%s", j->config);
		dir = dirname(cfg);
	}
	snprintf(j->dir, sizeof(j->dir), "%s", dir);
	return 0;
}

static void
on_interrupt(void *arg)
{
	struct join *j = arg;

	j->interrupted = true;
}

/* Runs the loop for ms (serving the connection) or until interrupted. */
static void
join_sleep(struct join *j, uint64_t ms)
{
	uint64_t end = loop_now_ms(j->loop) + ms;

	while (!j->interrupted && loop_now_ms(j->loop) < end)
		loop_run_once(j->loop, (int)(end - loop_now_ms(j->loop)));
}

static uint8_t *
request_pack(const struct join *j, size_t *len)
{
	Wiresync__V1__JoinRequest req = WIRESYNC__V1__JOIN_REQUEST__INIT;
	uint8_t *buf;

	req.csr.data = j->csr;
	req.csr.len = j->csr_len;
	req.public_key.data = (uint8_t *)j->wgkey;
	req.public_key.len = WG_KEY_LEN;
	req.network = (char *)(j->network != NULL ? j->network : "");
	req.token = (char *)(j->token != NULL ? j->token : "");
	*len = wiresync__v1__join_request__get_packed_size(&req);
	if ((buf = malloc(*len > 0 ? *len : 1)) != NULL)
		wiresync__v1__join_request__pack(&req, buf);
	return buf;
}

/* A failure the next attempt cannot mend: the server is not an enrolment listener, its
 * certificate does not name it, or it refuses the request itself. */
static bool
failure_is_final(int status, const char *why)
{
	if (status == GRPC_UNAVAILABLE)
		return strstr(why, "ALPN") != NULL || strstr(why, "did not verify") != NULL ||
		    strstr(why, "name mismatch") != NULL;
	return status == GRPC_INVALID_ARGUMENT || status == GRPC_PERMISSION_DENIED ||
	    status == GRPC_UNIMPLEMENTED || status == GRPC_FAILED_PRECONDITION ||
	    status == GRPC_ALREADY_EXISTS || status == GRPC_UNAUTHENTICATED ||
	    status == GRPC_NOT_FOUND || status == GRPC_OUT_OF_RANGE;
}

/* Polls Join until the state is no longer WAITING. Returns 0 with *out
 * (wiresync__v1__join_reply__free_unpacked), or an exit status. */
static int
join_poll(struct join *j, Wiresync__V1__JoinReply **out)
{
	struct rpc_client *client = NULL;
	struct backoff bo;
	uint8_t *req = NULL, *reply = NULL;
	size_t req_len = 0, reply_len = 0;
	char msg[512], why[600];
	bool told_wait = false;
	uint64_t told_id = 0;
	int status, rc = JOIN_EXIT_ERROR;

	*out = NULL;
	backoff_init(&bo, JOIN_RETRY_BASE_MS, JOIN_RETRY_CAP_MS, 0);
	if ((req = request_pack(j, &req_len)) == NULL) {
		say_error("out of memory");
		return JOIN_EXIT_ERROR;
	}
	while (!j->interrupted) {
		Wiresync__V1__JoinReply *r;
		uint32_t delay;

		/* a connection the server closed between polls (a restart) is not reused */
		if (client != NULL && !rpc_client_alive(client)) {
			rpc_client_del(client);
			client = NULL;
		}
		if (client == NULL && (client = rpc_client_new(j->loop, j->ctx, j->server)) == NULL) {
			say_error("server \"%s\": not HOST:PORT", j->server);
			goto out;
		}
		if (rpc_client_unary_sync(client, JOIN_PATH, req, req_len, JOIN_CALL_TIMEOUT_MS,
		    &status, &reply, &reply_len, msg, sizeof(msg)) < 0) {
			say_error("event loop: %s", strerror(errno));
			goto out;
		}
		if (j->pin.mismatch) {
			say_error("%s: the server's CA is not the one pinned with --ca-sha256: it sent "
			    "a CA with SHA-256 %s, not %s; nothing was sent to it. Check the hash "
			    "(wiresync-ca init, wiresyncctl status) and the address", j->server,
			    j->pin.seen[0] != '\0' ? j->pin.seen : "(none)",
			    csr_hex(j->pin.want, why));
			rc = JOIN_EXIT_PIN;
			goto out;
		}
		if (status == GRPC_OK) {
			r = reply_len <= JOIN_REPLY_MAX ? wiresync__v1__join_reply__unpack(NULL,
			    reply_len, reply) : NULL;
			free(reply);
			reply = NULL;
			if (r == NULL) {
				say_error("%s: the reply to Join does not decode", j->server);
				goto out;
			}
			backoff_reset(&bo);
			if (r->state != WIRESYNC__V1__JOIN_STATE__JOIN_WAITING) {
				*out = r;
				rc = 0;
				goto out;
			}
			/* again when the id changes: a restarted server lost the request and
			 * took it anew under another id */
			if (!told_wait || r->id != told_id) {
				printf("waiting for approval: request %" PRIu64 ", code %s\n", r->id,
				    r->code[0] != '\0' ? r->code : j->code);
				if (r->code[0] != '\0' && strcmp(r->code, j->code) != 0)
					printf("warning: the server's code %s is not ours (%s): do not let "
					    "the operator approve it\n", r->code, j->code);
				fflush(stdout);
				told_wait = true;
				told_id = r->id;
			}
			wiresync__v1__join_reply__free_unpacked(r, NULL);
			join_sleep(j, JOIN_POLL_MS);
			continue;
		}
		free(reply);
		reply = NULL;
		snprintf(why, sizeof(why), "%s", status == GRPC_UNAVAILABLE &&
		    rpc_client_error(client)[0] != '\0' ? rpc_client_error(client) : msg);
		if (failure_is_final(status, why)) {
			say_error("%s: %s (%s)%s", j->server, why, grpc_status_name(status),
			    strstr(why, "ALPN") != NULL ? ": is this the server's enroll_listen?" : "");
			goto out;
		}
		delay = backoff_next(&bo);
		fprintf(stderr, "wiresync-agent join: %s: %s (%s); trying again in %.1f s\n",
		    j->server, why, grpc_status_name(status), delay / 1000.0);
		rpc_client_del(client);
		client = NULL;
		join_sleep(j, delay);
	}
	rc = JOIN_EXIT_INTERRUPTED;
out:
	if (j->interrupted && rc != 0) {
		rc = JOIN_EXIT_INTERRUPTED;
		say_error("interrupted: run the same command again to resume this request (code %s)",
		    j->code);
	}
	rpc_client_del(client);
	free(reply);
	free(req);
	return rc;
}

/* Writes what the approval brought and configures the interface. An exit status. */
static int
join_finish(struct join *j, const Wiresync__V1__JoinReply *r)
{
	struct cert_identity id;
	X509 *cert = NULL, *ca = NULL;
	STACK_OF(X509) *chain = NULL;
	const uint8_t **cd = NULL;
	size_t *cl = NULL;
	struct join_conf c = { .server = r->server, .interface = j->ifname, .id = r->id,
	    .code = j->code, .extra = j->extra, .n_extra = j->n_extra };
	char err[600], text[NETADDR_STRLEN], server[300];
	bool moved;
	int rc = JOIN_EXIT_ERROR;

	if (r->n_chain > 0 && ((cd = calloc(r->n_chain, sizeof(*cd))) == NULL ||
	    (cl = calloc(r->n_chain, sizeof(*cl))) == NULL)) {
		say_error("out of memory");
		goto out;
	}
	for (size_t i = 0; i < r->n_chain; i++) {
		cd[i] = r->chain[i].data;
		cl[i] = r->chain[i].len;
	}
	if (csr_reply_check(r->certificate.data, r->certificate.len, r->ca.data, r->ca.len, cd,
	    cl, r->n_chain, j->pin.want, j->key, j->name, j->wgkey, &id, &cert, &ca, &chain, err,
	    sizeof(err)) < 0) {
		say_error("%s: %s; nothing written", j->server, err);
		goto out;
	}
	if (r->server[0] == '\0') {
		say_error("%s: the approval names no server (field server); nothing written",
		    j->server);
		goto out;
	}
	if (!join_server_pick(r->server, j->server, server, sizeof(server))) {
		say_error("%s: the approval's server \"%s\" is not HOST:PORT (field server); "
		    "nothing written", j->server, r->server);
		goto out;
	}
	c.server = server;
	if (join_certs_write(&j->paths, cert, chain, ca, err, sizeof(err)) < 0 ||
	    join_conf_write(j->config, &j->paths, &c, &moved, err, sizeof(err)) < 0) {
		say_error("%s", err);
		goto out;
	}
	printf("approved: wrote %s, %s and %s\n", j->paths.crt, j->paths.ca, j->config);
	if (moved)
		printf("the agent.conf that was there is now %s.old\n", j->config);
	if (join_if_addresses(j->ifname, &id, j->prefix4, j->prefix6, err, sizeof(err)) < 0) {
		say_error("%s", err);
		goto out;
	}
	for (size_t i = 0; i < id.n_tunnel; i++)
		printf("%s: tunnel address %s/%u\n", j->ifname, netaddr_format(&id.tunnel[i], false,
		    text), id.tunnel[i].family == AF_INET ? j->prefix4 : j->prefix6);
	fflush(stdout);
	rc = JOIN_EXIT_OK;
out:
	free(cd);
	free(cl);
	sk_X509_pop_free(chain, X509_free);
	X509_free(cert);
	X509_free(ca);
	return rc;
}

static int
join_prepare(struct join *j)
{
	char err[600], b64[45];
	bool created, made;
	int r;

	if (!join_paths_init(&j->paths, j->dir, j->name, err, sizeof(err)) ||
	    join_dir_make(j->dir, err, sizeof(err)) < 0 ||
	    join_key_load(j->paths.key, &j->key, &created, err, sizeof(err)) < 0 ||
	    join_csr_load(j->paths.csr, j->key, j->name, &j->csr, &j->csr_len, &created, err,
	        sizeof(err)) < 0) {
		say_error("%s", err);
		return JOIN_EXIT_ERROR;
	}
	csr_code_from_der(j->csr, j->csr_len, j->code);
	printf("%s request for \"%s\" (%s, %s): code %s\n", created ? "new" : "resuming the",
	    j->name, j->paths.key, j->paths.csr, j->code);
	r = join_if_key(j->ifname, j->paths.wgkey, j->wgkey, &made, err, sizeof(err));
	if (r == JOIN_IF_MISSING) {
		say_error("no WireGuard interface %s, and this kernel cannot make one; make it with "
		    "this command, then run join again:\n  wireguard-go %s", j->ifname, j->ifname);
		return JOIN_EXIT_ERROR;
	}
	if (r < 0) {
		say_error("%s", err);
		return JOIN_EXIT_ERROR;
	}
	wg_key_to_base64(j->wgkey, b64);
	printf("interface %s%s, WireGuard public key %s\n", j->ifname, made ? " (made)" : "", b64);
	fflush(stdout);
	return 0;
}

int
join_main(int argc, char **argv)
{
	struct join j = { .ifname = "wg0", .config = AGENTCONF_DEFAULT_PATH, .prefix4 = 24,
	    .prefix6 = 64 };
	Wiresync__V1__JoinReply *r = NULL;
	char err[512];
	int rc;

	if ((rc = parse_args(&j, argc, argv)) != 0)
		return rc < 0 ? 0 : rc;
	signal(SIGPIPE, SIG_IGN);
	if ((rc = join_prepare(&j)) != 0)
		goto out;
	rc = JOIN_EXIT_ERROR;
	if ((j.ctx = tls_client_ctx_new_verify(csr_pin_verify, &j.pin, err, sizeof(err))) == NULL) {
		say_error("%s", err);
		goto out;
	}
	if ((j.loop = loop_new()) == NULL || loop_signal_add(j.loop, SIGINT, on_interrupt, &j) < 0 ||
	    loop_signal_add(j.loop, SIGTERM, on_interrupt, &j) < 0) {
		say_error("event loop: %s", strerror(errno));
		goto out;
	}
	if ((rc = join_poll(&j, &r)) != 0)
		goto out;
	if (r->state == WIRESYNC__V1__JOIN_STATE__JOIN_DENIED) {
		say_error("the operator denied request %" PRIu64 " (code %s)%s%s", r->id, j.code,
		    r->message[0] != '\0' ? ": " : "", r->message);
		rc = JOIN_EXIT_DENIED;
		goto out;
	}
	if (r->state != WIRESYNC__V1__JOIN_STATE__JOIN_APPROVED) {
		say_error("%s: unknown join state %d", j.server, (int)r->state);
		rc = JOIN_EXIT_ERROR;
		goto out;
	}
	if ((rc = join_finish(&j, r)) != 0)
		goto out;
	if (j.start) {
		printf("starting: wiresync-agent -c %s\n", j.config);
		fflush(stdout);
		execl("/proc/self/exe", "wiresync-agent", "-c", j.config, (char *)NULL);
		say_error("cannot run the agent: %s; start it: wiresync-agent -c %s",
		    strerror(errno), j.config);
		rc = JOIN_EXIT_ERROR;
	} else if (strcmp(j.config, AGENTCONF_DEFAULT_PATH) == 0) {
		printf("joined; start the agent: systemctl start wiresync-agent\n");
	} else {
		printf("joined; start the agent: wiresync-agent -c %s\n", j.config);
	}
out:
	if (r != NULL)
		wiresync__v1__join_reply__free_unpacked(r, NULL);
	loop_del(j.loop);
	SSL_CTX_free(j.ctx);
	EVP_PKEY_free(j.key);
	free(j.csr);
	return rc;
}
