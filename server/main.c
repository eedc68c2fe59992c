/* wiresyncd: keeps every peer of a WireGuard mesh informed of the others. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "rpc/h2server.h"
#include "rpc/log.h"
#include "rpc/loop.h"
#include "rpc/tls.h"
#include "server/service.h"
#include "server/serverconf.h"
#include "server/store.h"

struct daemon {
	struct loop *loop;
	struct service *svc;
	struct rpc_server *server;
	SSL_CTX *ctx;
	const char *crl;
	bool stopping;
};

static void
usage(FILE *out, const struct config_schema *schema)
{
	fprintf(out,
	    "usage: wiresyncd [-n] [-d] [-c FILE] [--KEY=VALUE ...]\n"
	    "\n"
	    "Keeps the peers of WireGuard meshes in sync over gRPC with mutual TLS.\n"
	    "\n"
	    "  -c, --config FILE  configuration file (default %s)\n"
	    "  -n, --check        check the configuration and exit\n"
	    "  -d, --debug        log at debug level\n"
	    "  -h, --help         show this help\n"
	    "  -V, --version      show the version\n"
	    "\n"
	    "Every key of the [server] section can be given as --KEY=VALUE and wins over the file:\n",
	    SERVERCONF_DEFAULT_PATH);
	config_print_help(schema, out);
	fprintf(out, "\nExit status: 0 stopped cleanly or configuration valid, 1 error, 2 usage.\n");
}

static void
on_drained(void *arg)
{
	struct daemon *d = arg;

	loop_stop(d->loop);
}

static void
on_sigterm(void *arg)
{
	struct daemon *d = arg;

	if (d->stopping)
		return;
	d->stopping = true;
	log_info("shutting down: finishing calls in flight");
	rpc_server_shutdown(d->server, on_drained, d);
}

/* Later handshakes check the new CRL; live connections and stored peers are swept now. */
static int
apply_crl(struct daemon *d, char *err, size_t errlen)
{
	X509_CRL *crl;
	int r;

	crl = tls_crl_read(d->crl, err, errlen);
	if (crl == NULL)
		return -1;
	r = tls_ctx_set_crl(d->ctx, crl, err, errlen);
	if (r == 0)
		service_apply_crl(d->svc, crl);
	X509_CRL_free(crl);
	return r;
}

static void
on_sighup(void *arg)
{
	struct daemon *d = arg;
	char err[256];

	if (d->crl == NULL || d->crl[0] == '\0') {
		log_info("SIGHUP: no crl configured, nothing to reload");
		return;
	}
	if (apply_crl(d, err, sizeof(err)) < 0)
		log_warnx("SIGHUP: keeping the old CRL: %s", err);
	else
		log_info("SIGHUP: reloaded CRL %s", d->crl);
}

static void
raise_nofile(unsigned want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur >= want + 64)
		return;
	rl.rlim_cur = want + 64 < rl.rlim_max ? want + 64 : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want + 64)
		log_warnx("file descriptor limit is %llu: fewer than max_connections (%u) can connect",
		    (unsigned long long)rl.rlim_cur, want);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'n' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct serverconf conf;
	struct config_schema schema;
	struct daemon d = { 0 };
	struct store *store = NULL;
	struct service *svc = NULL;
	struct rpc_server_ops ops;
	struct rpc_limits lim;
	const struct rpc_method *methods;
	size_t n_methods;
	const char *path = SERVERCONF_DEFAULT_PATH;
	bool path_given = false, check_only = false, debug = false;
	char **keyargs;
	int n_keyargs = 0, c, status = 1;
	char err[512];

	log_init("wiresyncd", LOG_LEVEL_INFO);
	serverconf_init(&conf, &schema);
	keyargs = calloc((size_t)argc + 1, sizeof(*keyargs));
	if (keyargs == NULL)
		fatalx("out of memory");
	/* --KEY=VALUE arguments are the config's; getopt sees the rest. */
	n_keyargs = config_split_args(&argc, argv, keyargs);
	while ((c = getopt_long(argc, argv, "c:ndhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			path_given = true;
			break;
		case 'n':
			check_only = true;
			break;
		case 'd':
			debug = true;
			break;
		case 'h':
			usage(stdout, &schema);
			status = 0;
			goto out;
		case 'V':
			printf("wiresyncd %s\n", PACKAGE_VERSION);
			status = 0;
			goto out;
		default:
			usage(stderr, &schema);
			status = 2;
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "wiresyncd: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr, &schema);
		status = 2;
		goto out;
	}
	if (serverconf_load(&conf, &schema, path, path_given, n_keyargs, keyargs, err,
	    sizeof(err)) < 0) {
		log_errorx("%s", err);
		goto out;
	}
	log_set_level(debug ? LOG_LEVEL_DEBUG : (enum log_level)log_level_parse(conf.log_level));

	{
		struct tls_files files = { conf.certificate, conf.private_key, conf.ca, conf.crl };
		d.ctx = tls_server_ctx_new(&files, err, sizeof(err));
		if (d.ctx == NULL) {
			log_errorx("%s", err);
			goto out;
		}
	}
	if (check_only) {
		printf("configuration OK\n");
		status = 0;
		goto out;
	}
	if (conf.hub_interface != NULL)
		log_warnx("hub_interface is not supported yet; ignoring \"%s\"", conf.hub_interface);
	raise_nofile(conf.max_connections);

	if (store_open(conf.database, &store, err, sizeof(err)) < 0) {
		log_errorx("%s", err);
		goto out;
	}
	d.loop = loop_new();
	if (d.loop == NULL)
		fatal("loop_new");
	{
		struct service_config sc;
		service_config_default(&sc);
		sc.presence_grace_ms = conf.presence_grace_ms;
		sc.restart_grace_ms = conf.restart_grace_ms;
		sc.max_watches_per_identity = conf.max_watches_per_identity;
		sc.log_max_entries = conf.change_log_max_entries;
		sc.log_max_age_ms = (uint64_t)conf.change_log_max_age_s * 1000;
		svc = service_new(d.loop, store, &sc, err, sizeof(err));
	}
	if (svc == NULL) {
		log_errorx("%s: %s", conf.database, err);
		goto out;
	}
	d.svc = svc;
	d.crl = conf.crl;
	/* Peers stored before their certificates were revoked go now. */
	if (d.crl != NULL && apply_crl(&d, err, sizeof(err)) < 0) {
		log_errorx("%s", err);
		goto out;
	}
	rpc_limits_default(&lim);
	lim.max_connections = conf.max_connections;
	lim.max_streams = conf.max_streams;
	lim.max_message = conf.max_message_bytes;
	lim.handshake_timeout_ms = conf.handshake_timeout_ms;
	lim.idle_timeout_ms = conf.idle_timeout_ms;
	lim.keepalive_ms = conf.keepalive_ms;
	lim.keepalive_timeout_ms = conf.keepalive_timeout_ms;
	methods = service_methods(svc, &n_methods);
	service_server_ops(svc, &ops);
	d.server = rpc_server_new(d.loop, d.ctx, methods, n_methods, &ops, &lim);
	if (d.server == NULL)
		fatal("rpc_server_new");
	if (rpc_server_listen(d.server, conf.listen, err, sizeof(err)) < 0) {
		log_errorx("%s", err);
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	if (loop_signal_add(d.loop, SIGTERM, on_sigterm, &d) < 0 ||
	    loop_signal_add(d.loop, SIGINT, on_sigterm, &d) < 0 ||
	    loop_signal_add(d.loop, SIGHUP, on_sighup, &d) < 0)
		fatal("signalfd");
	log_info("listening on %s (port %d), database %s, revision %llu, %zu peers", conf.listen,
	    rpc_server_port(d.server), conf.database, (unsigned long long)store_revision(store),
	    service_peer_count(svc));
	if (loop_run(d.loop) < 0)
		log_error("event loop");
	else
		status = 0;
	log_info("stopped");
out:
	rpc_server_del(d.server);
	service_del(svc);
	loop_del(d.loop);
	store_close(store);
	SSL_CTX_free(d.ctx);
	serverconf_free(&conf, &schema);
	free(keyargs);
	return status;
}
