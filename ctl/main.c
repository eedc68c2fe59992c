/* wiresyncctl: list, show, remove and add peers, export wg-quick configs, server status and
 * backups, over the Admin service with an admin certificate. */
#include "config.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "ctl/ctl.h"
#include "ctl/ctlconf.h"
#include "rpc/grpc.h"
#include "rpc/log.h"
#include "rpc/tls.h"

static const struct {
	const char *name;
	int (*fn)(struct ctl *c, int argc, char **argv);
	const char *args;
	const char *help;
	bool offline;       /* needs no server, no configuration */
} commands[] = {
	{ "peers", cmd_peers, "[--network N] [--json]", "table of the network's peers", false },
	{ "show", cmd_show, "NAME|KEY [--json]", "one peer's record and certificate", false },
	{ "remove", cmd_remove, "NAME|KEY", "remove a peer; every agent drops it", false },
	{ "add-static", cmd_add_static, "CERT [--endpoint HOST:PORT]", "add a host that runs no agent (a phone)", false },
	{ "status", cmd_status, "[--days N] [--json]", "server status, relay and hub, certificates expiring soon", false },
	{ "genconf", cmd_genconf, "NAME [--private-key FILE]", "print a wg-quick config for NAME (NATed hosts via the relay)", false },
	{ "backup", cmd_backup, "FILE", "consistent copy of the server's store into FILE (0600)", false },
	{ "policy", cmd_policy, "[--json]", "the pairing policy in force: version and rules", false },
	{ "can-pair", cmd_can_pair, "A B [--json]", "whether hosts A and B pair, and the rule that decides", false },
	{ "pending", cmd_pending, "[--json]", "join requests waiting: id, name, key, code, source, age", false },
	{ "approve", cmd_approve, "ID|CODE [--ip ADDR]... [--group G]... | --renewals", "sign request ID (or the one with the host's CODE), or every unchanged renewal, with the CA in ca_dir and send the certificate", false },
	{ "deny", cmd_deny, "ID|CODE [--reason TEXT]", "refuse join request ID (or the one with the host's CODE)", false },
	{ "token", cmd_token, "create [--uses N] [--expires DURATION] [--group G]... [--network NET] [--json]", "a join token (default one use, one hour; DURATION 30m, 1h, 7d): with an online issuer, a host that joins with it is approved at once", false },
	{ "audit", cmd_audit, "[--limit N] [--json]", "the audit log of admin actions, newest first (default 100): time (UTC), admin (serial), action, detail", false },
	{ "links", cmd_links, "[NAME] [--json]", "link health of every pair (or NAME's): state, path, each end's endpoint, handshake age, bytes", false },
	{ "why", cmd_why, "A B", "why the pair A B is down, from both ends' reports, the policy and the records (exit 0 up, 1 down)", false },
	{ "check-policy", cmd_check_policy, "FILE [--ca CA.crt] [--quiet]", "check a pairing policy file, or with --ca a signed policy.cms (offline)", true },
};

static void
usage(FILE *out, const struct config_schema *schema)
{
	fprintf(out,
	    "usage: wiresyncctl [-c FILE] [--KEY=VALUE ...] COMMAND [ARGS]\n"
	    "\n"
	    "Administers a wiresyncd server with an admin certificate.\n"
	    "\n"
	    "  -c, --config FILE  configuration file (default %s)\n"
	    "  -h, --help         show this help\n"
	    "  -V, --version      show the version\n"
	    "\n"
	    "Commands:\n", CTLCONF_DEFAULT_PATH);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %s %s\n      %s\n", commands[i].name, commands[i].args,
		    commands[i].help);
	fprintf(out, "\nEvery key of the [ctl] section can be given as --KEY=VALUE before the "
	    "command:\n");
	config_print_help(schema, out);
	fprintf(out, "\nExit status: 0 ok, 1 usage, configuration or local file error, 2 cannot "
	    "reach the server,\n3 no such peer or request, 4 permission denied, 5 other server error.\n");
}

void
ctl_err(const char *fmt, ...)
{
	va_list ap;

	fputs("wiresyncctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
ctl_exit_for(int status)
{
	switch (status) {
	case GRPC_OK:
		return CTL_EXIT_OK;
	case GRPC_UNAVAILABLE:
	case GRPC_DEADLINE_EXCEEDED:
	case GRPC_CANCELLED:
		return CTL_EXIT_CONNECT;
	case GRPC_NOT_FOUND:
		return CTL_EXIT_NOT_FOUND;
	case GRPC_PERMISSION_DENIED:
	case GRPC_UNAUTHENTICATED:
		return CTL_EXIT_DENIED;
	default:
		return CTL_EXIT_SERVER;
	}
}

int
ctl_call(struct ctl *c, const char *method, const ProtobufCMessage *req, uint8_t **reply,
    size_t *len)
{
	char path[96], message[512];
	size_t n = protobuf_c_message_get_packed_size(req);
	uint8_t *buf;
	int status, r;

	*reply = NULL;
	*len = 0;
	if ((buf = malloc(n > 0 ? n : 1)) == NULL) {
		ctl_err("out of memory");
		return CTL_EXIT_USAGE;
	}
	protobuf_c_message_pack(req, buf);
	snprintf(path, sizeof(path), "/wiresync.v1.Admin/%s", method);
	message[0] = '\0';
	r = rpc_client_unary_sync(c->client, path, buf, n, c->timeout_ms, &status, reply, len,
	    message, sizeof(message));
	free(buf);
	if (r < 0) {
		ctl_err("%s: event loop failed", method);
		return CTL_EXIT_CONNECT;
	}
	if (status == GRPC_OK)
		return CTL_EXIT_OK;
	free(*reply);
	*reply = NULL;
	if (status == GRPC_UNAVAILABLE)        /* e.g. "could not connect to H:P within 10 s" */
		ctl_err("server %s: %s", c->server, rpc_client_error(c->client)[0] != '\0' ?
		    rpc_client_error(c->client) : message);
	else
		ctl_err("%s: %s: %s", method, grpc_status_name(status), message);
	return ctl_exit_for(status);
}

int
ctl_call_unpack(struct ctl *c, const char *method, const ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *desc, void **out)
{
	uint8_t *reply;
	size_t len;
	int st;

	*out = NULL;
	if ((st = ctl_call(c, method, req, &reply, &len)) != CTL_EXIT_OK)
		return st;
	*out = protobuf_c_message_unpack(desc, NULL, len, reply);
	free(reply);
	if (*out == NULL) {
		ctl_err("%s: the reply does not decode", method);
		return CTL_EXIT_SERVER;
	}
	return CTL_EXIT_OK;
}

void
ctl_hostport(const char *ip, uint32_t port, char *out, size_t len)
{
	size_t n = strcspn(ip, "/");

	if (memchr(ip, ':', n) != NULL)
		snprintf(out, len, "[%.*s]:%u", (int)n, ip, port);
	else
		snprintf(out, len, "%.*s:%u", (int)n, ip, port);
}

int
ctl_resolve_endpoint(const char *hostport, char *out, size_t len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res = NULL;
	const char *colon = strrchr(hostport, ':');
	char host[256], ip[INET6_ADDRSTRLEN];
	size_t n;
	int r;

	if (colon == NULL || colon[1] == '\0') {
		ctl_err("endpoint \"%s\": want HOST:PORT", hostport);
		return -1;
	}
	n = (size_t)(colon - hostport);
	if (n >= 2 && hostport[0] == '[' && hostport[n - 1] == ']') {
		hostport++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(host)) {
		ctl_err("endpoint \"%s\": bad host", hostport);
		return -1;
	}
	memcpy(host, hostport, n);
	host[n] = '\0';
	if ((r = getaddrinfo(host, colon + 1, &hints, &res)) != 0) {
		ctl_err("endpoint \"%s\": %s", host, gai_strerror(r));
		return -1;
	}
	/* a name is resolved once, here: the server publishes addresses */
	if (res->ai_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)res->ai_addr;
		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		snprintf(out, len, "[%s]:%u", ip, ntohs(a->sin6_port));
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)res->ai_addr;
		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		snprintf(out, len, "%s:%u", ip, ntohs(a->sin_port));
	}
	freeaddrinfo(res);
	return 0;
}

int
main(int argc, char **argv)
{
	struct ctlconf conf;
	struct config_schema schema;
	struct ctl c = { 0 };
	const char *path = CTLCONF_DEFAULT_PATH;
	bool path_given = false;
	char **keyargs = NULL, err[512];
	int n_keyargs = 0, i, status = CTL_EXIT_USAGE;
	size_t k;

	log_init("wiresyncctl", LOG_LEVEL_WARN);
	ctlconf_init(&conf, &schema);
	if ((keyargs = calloc((size_t)argc + 1, sizeof(*keyargs))) == NULL) {
		ctl_err("out of memory");
		goto out;
	}
	/* Options and --KEY=VALUE before the command are ours; the rest is the command's. */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout, &schema);
			status = CTL_EXIT_OK;
			goto out;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf("wiresyncctl %s\n", PACKAGE_VERSION);
			status = CTL_EXIT_OK;
			goto out;
		} else if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (i + 1 >= argc) {
				ctl_err("%s needs a FILE", a);
				goto usage;
			}
			path = argv[++i];
			path_given = true;
		} else if (strncmp(a, "--config=", 9) == 0) {
			path = a + 9;
			path_given = true;
		} else if (strncmp(a, "--", 2) == 0 && strchr(a, '=') != NULL) {
			keyargs[n_keyargs++] = argv[i];
		} else {
			ctl_err("unknown option \"%s\"", a);
			goto usage;
		}
	}
	if (i >= argc) {
		ctl_err("no command given");
		goto usage;
	}
	for (k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (strcmp(argv[i], commands[k].name) == 0)
			break;
	if (k == sizeof(commands) / sizeof(commands[0])) {
		ctl_err("unknown command \"%s\"", argv[i]);
		goto usage;
	}
	for (int j = i + 1; j < argc; j++) {
		if (strcmp(argv[j], "-h") == 0 || strcmp(argv[j], "--help") == 0) {
			usage(stdout, &schema);
			status = CTL_EXIT_OK;
			goto out;
		}
	}
	if (commands[k].offline) {
		status = commands[k].fn(&c, argc - i, argv + i);
		goto out;
	}
	if (ctlconf_load(&conf, &schema, path, path_given, n_keyargs, keyargs, err,
	    sizeof(err)) < 0 || ctlconf_check(&conf, &schema, err, sizeof(err)) < 0) {
		ctl_err("%s", err);
		goto out;
	}
	{
		struct tls_files f = { conf.certificate, conf.private_key, conf.ca, NULL };
		if ((c.ctx = tls_client_ctx_new(&f, err, sizeof(err))) == NULL) {
			ctl_err("%s", err);
			goto out;
		}
	}
	c.server = conf.server;
	c.timeout_ms = conf.timeout_ms;
	c.conf_path = path;
	c.schema = &schema;
	c.ca_file = conf.ca;
	c.ca_dir = conf.ca_dir;
	c.ca_command = conf.ca_command;
	if ((c.loop = loop_new()) == NULL) {
		ctl_err("cannot create the event loop");
		goto out;
	}
	if ((c.client = rpc_client_new(c.loop, c.ctx, conf.server)) == NULL) {
		ctl_err("%s: key 'server': bad address \"%s\" (want HOST:PORT)",
		    config_where(&schema, "server"), conf.server);
		goto out;
	}
	status = commands[k].fn(&c, argc - i, argv + i);
	goto out;
usage:
	fprintf(stderr, "Try 'wiresyncctl --help' for more information.\n");
	status = CTL_EXIT_USAGE;
out:
	rpc_client_del(c.client);
	if (c.loop != NULL)
		loop_run_once(c.loop, 0);
	loop_del(c.loop);
	SSL_CTX_free(c.ctx);
	ctlconf_free(&conf, &schema);
	free(keyargs);
	return status;
}
