/* wiresyncd: keeps every peer of a WireGuard mesh informed of the others. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "common/cert.h"
#include "common/filewatch.h"
#include "rpc/h2server.h"
#include "rpc/log.h"
#include "rpc/loop.h"
#include "rpc/tickets.h"
#include "rpc/tls.h"
#include "server/admin.h"
#include "server/audit.h"
#include "server/copystore.h"
#include "server/crl.h"
#include "server/daemon.h"
#include "server/issuer.h"
#include "server/web.h"
#include "server/enroll.h"
#include "server/hub_io.h"
#include "server/metrics.h"
#include "server/privdrop.h"
#include "server/policywatch.h"
#include "server/relay_io.h"
#include "server/service.h"
#include "server/serverconf.h"
#include "server/store.h"

static void
usage(FILE *out, const struct config_schema *schema)
{
	fprintf(out,
	    "usage: wiresyncd [-n] [-d] [-c FILE] [--KEY=VALUE ...]\n"
	    "       wiresyncd --copy-store FROM TO\n"
	    "\n"
	    "Keeps the peers of WireGuard meshes in sync over gRPC with mutual TLS.\n"
	    "\n"
	    "  -c, --config FILE  configuration file (default %s)\n"
	    "  -n, --check        check the configuration and exit\n"
	    "  -d, --debug        log at debug level\n"
	    "  -h, --help         show this help\n"
	    "  -V, --version      show the version\n"
	    "  --copy-store FROM TO  copy the whole store into an empty one and exit; each an\n"
	    "                     SQLite file or a postgresql:// URI (no configuration is read)\n"
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
	enroll_shutdown(d->enroll);
	rpc_server_shutdown(d->server, on_drained, d);
}

static void
on_sighup(void *arg)
{
	struct daemon *d = arg;

	reload_crl(d, "SIGHUP");
	if (d->policies != NULL)
		policywatch_reload(d->policies, "SIGHUP");
}

/* Prometheus text on a loopback port; the rpc layer reports calls and handshakes through
 * its observer, the service times Updates, fan-out and commits. */
static int
start_metrics(struct daemon *d, const char *addr, const struct rpc_method *methods, size_t n,
    char *err, size_t errlen)
{
	struct rpc_observer obs;

	if (addr == NULL || addr[0] == '\0')
		return 0;
	d->metrics = metrics_new(d->loop);
	if (d->metrics == NULL)
		fatal("metrics_new");
	if (metrics_listen(d->metrics, addr, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		metrics_rpc_register(d->metrics, methods[i].path);
	metrics_attach(d->metrics, d->svc, d->server);
	metrics_attach_relay(d->metrics, d->relay);
	metrics_attach_hub(d->metrics, d->hub);
	metrics_rpc_observer(d->metrics, &obs);
	rpc_server_observe(d->server, &obs);
	service_set_metrics(d->svc, d->metrics);
	log_info("metrics on http://%s/metrics", addr);
	return 0;
}

/* Everything that needs root is open by now: sockets, database, keys, CRL watch. */
static int
drop_privileges(struct daemon *d, const struct serverconf *conf, char *err, size_t errlen)
{
	char dir[4096], *slash;
	int r;

	if (!conf->privdrop.set) {
		if (geteuid() == 0)
			log_warnx("running as root: set user = NAME (or --user=NAME) to run as that "
			    "user once the ports and files are open");
		return 0;
	}
	{
		/* made as root in the user's directory: the user must be able to rewrite them */
		const char *sfx[] = { "", "-wal", "-shm" };
		char f[4096];
		for (size_t i = 0; i < 4; i++) {
			if (i < 3)
				snprintf(f, sizeof(f), "%s%s", conf->database, sfx[i]);
			else
				snprintf(f, sizeof(f), "%s", conf->ticket_key_file);
			if (privdrop_hand_over(&conf->privdrop, f, err, errlen) < 0)
				return -1;
		}
	}
	r = privdrop_apply(&conf->privdrop, err, errlen);
	if (r <= 0)
		return r;
	log_info("dropped privileges: running as user %s (uid %u, gid %u) without capabilities",
	    conf->privdrop.name, (unsigned)conf->privdrop.uid, (unsigned)conf->privdrop.gid);
	/* SIGHUP and the file watch re-read the CRL as this user */
	if (d->crl != NULL && d->crl[0] != '\0' && access(d->crl, R_OK) < 0) {
		snprintf(err, errlen, "crl %s is not readable by user %s (%s): CRL reloads would "
		    "fail; make it readable by that user or one of its groups", d->crl,
		    conf->privdrop.name, strerror(errno));
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", conf->database);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (access(dir, W_OK | X_OK) < 0 || access(conf->database, W_OK) < 0)
		log_warnx("%s or its directory %s is not writable by user %s: SQLite's side files "
		    "and the ticket key file need it; chown them to %s", conf->database, dir,
		    conf->privdrop.name, conf->privdrop.name);
	return 0;
}

/* What the server publishes of its relay: relay_listen's host (validated HOST:PORT or
 * [V6]:PORT; an unspecified one means the address a caller reached) with the bound port. */
static void
relay_endpoint(const char *listen, int port, char *out, size_t len)
{
	const char *colon = strrchr(listen, ':');

	snprintf(out, len, "%.*s:%d", colon != NULL ? (int)(colon - listen) : 0, listen, port);
}

/* Join requests: always kept (the Admin calls list them), taken with enroll_listen. */
static int
start_enroll(struct daemon *d, const struct serverconf *conf, struct admin *admin,
    const struct rpc_limits *lim, char *err, size_t errlen)
{
	struct tls_files files = { conf->certificate, conf->private_key, conf->ca, NULL };
	struct enroll_config ec = { .server = conf->listen,
	    .max_pending = conf->enroll_max_pending, .max_age_s = conf->enroll_max_age_s,
	    .rate_per_min = conf->enroll_rate_per_min, .issuer_days = conf->issuer_days };
	struct pool *pools = NULL;

	if (serverconf_pools(conf, &pools, &ec.n_pools, err, errlen) < 0)
		return -1;
	ec.pools = pools;
	d->enroll = enroll_new(d->svc, d->ctx, &ec);
	free(pools);
	if (d->enroll == NULL)
		fatal("enroll_new");
	if (enroll_load(d->enroll, err, errlen) < 0)
		return -1;
	admin_set_enroll(admin, d->enroll);
	service_set_enroll(d->svc, d->enroll);
	if (conf->enroll_listen == NULL || conf->enroll_listen[0] == '\0')
		return 0;
	return enroll_listen(d->enroll, d->loop, &files, conf->enroll_listen, lim, err, errlen);
}

/* The web console (web_listen): HTTP on loopback, HTTPS for admins with web_tls. */
static int
start_web(struct daemon *d, const struct serverconf *conf, char *err, size_t errlen)
{
	struct tls_files files = { conf->certificate, conf->private_key, conf->ca, conf->crl };

	if (conf->web_listen == NULL || conf->web_listen[0] == '\0')
		return 0;
	if ((d->web = web_new(d->loop, d->svc, d->enroll)) == NULL)
		fatal("web_new");
	if (web_listen(d->web, conf->web_listen, conf->web_tls ? &files : NULL, err, errlen) < 0)
		return -1;
	log_info("web console on %s://%s (port %d)%s", conf->web_tls ? "https" : "http",
	    conf->web_listen, web_port(d->web), conf->web_tls ? ", admin certificates only" : "");
	return 0;
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

/* The store database names: an SQLite file, or a PostgreSQL database this server shares
 * as conf's server_name (HOSTNAME:PORT when not given). */
static int
open_store(struct daemon *d, const struct serverconf *conf, const struct config_schema *schema,
    struct store **out, char *err, size_t errlen)
{
	struct store_cluster cl = { 0 };
	char name[128], host[64] = "localhost";
	const char *port = strrchr(conf->listen, ':');
	int r;

	if (conf->server_name != NULL && conf->server_name[0] != '\0') {
		if (strlen(conf->server_name) >= sizeof(name)) {
			snprintf(err, errlen, "%s: server_name: at most %zu characters",
			    config_where(schema, "server_name"), sizeof(name) - 1);
			return -1;
		}
		snprintf(name, sizeof(name), "%s", conf->server_name);
	} else {
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		snprintf(name, sizeof(name), "%s:%s", host, port != NULL ? port + 1 : "7443");
	}
	cl.name = name;
	cl.address = conf->listen;
	cl.lease_ms = conf->cluster_lease_s * 1000;
	cl.connect_timeout_ms = 30000;
	cl.log_max_entries = conf->change_log_max_entries;
	cl.log_max_age_ms = (uint64_t)conf->change_log_max_age_s * 1000;
	r = store_connect(d->loop, conf->database, &cl, out, err, errlen);
	if (r < 0 && store_database_is_uri(conf->database)) {
		char *why = strdup(err);

		if (why != NULL)
			snprintf(err, errlen, "%s: %s; is PostgreSQL up and the URI right?",
			    config_where(schema, "database"), why);
		free(why);
	}
	return r;
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
	struct admin *admin = NULL;
	struct rpc_server_ops ops = { 0 };
	struct rpc_limits lim;
	const struct rpc_method *methods;
	struct rpc_method *gated = NULL;
	struct issuer *issuer = NULL;
	size_t n_methods;
	const char *path = SERVERCONF_DEFAULT_PATH;
	bool path_given = false, check_only = false, debug = false;
	char **keyargs;
	int n_keyargs = 0, c, status = 1;
	char err[512];

	log_init("wiresyncd", LOG_LEVEL_INFO);
	/* an offline copy between backends (server/copystore.h): no configuration is read */
	if (argc > 1 && strcmp(argv[1], "--copy-store") == 0) {
		if (argc == 4)
			return copystore_main(argv[2], argv[3]);
		fprintf(stderr, "usage: wiresyncd --copy-store FROM TO\n");
		return 2;
	}
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
	/* -n and the start refuse the same things, before the database is created */
	if (serverconf_check(&conf, &schema, err, sizeof(err)) < 0) {
		log_errorx("%s", err);
		goto out;
	}
	{
		struct tls_files files = { conf.certificate, conf.private_key, conf.ca, conf.crl };
		d.ctx = tls_server_ctx_new(&files, err, sizeof(err));
		if (d.ctx == NULL) {
			log_errorx("%s", err);
			goto out;
		}
	}
	/* every CA needs its CRL: -n says so as the start would */
	if (conf.crl != NULL && conf.crl[0] != '\0') {
		struct crlset *set = crlset_read(conf.crl, SSL_CTX_get_cert_store(d.ctx), 0, err,
		    sizeof(err));
		if (set == NULL) {
			log_errorx("%s", err);
			goto out;
		}
		crlset_del(set);
	}
	/* the online issuer must chain to the CA (and not be revoked): -n says so too */
	if (conf.issuer_certificate != NULL && conf.issuer_certificate[0] != '\0') {
		issuer = issuer_load(conf.issuer_certificate, conf.issuer_key,
		    SSL_CTX_get_cert_store(d.ctx), err, sizeof(err));
		if (issuer == NULL) {
			log_errorx("%s: %s", config_where(&schema, "issuer_certificate"), err);
			goto out;
		}
	}
	if (serverconf_check_storage(&conf, &schema, err, sizeof(err)) < 0) {
		log_errorx("%s", err);
		goto out;
	}
	/* the hub's interface must exist, with the key the certificate binds: -n says so too */
	if (conf.hub_interface != NULL && conf.hub_interface[0] != '\0' &&
	    hub_io_check(conf.hub_interface, SSL_CTX_get0_certificate(d.ctx), conf.certificate,
	    err, sizeof(err)) < 0) {
		log_errorx("%s: %s", config_where(&schema, "hub_interface"), err);
		goto out;
	}
	if (check_only) {
		printf("configuration OK\n");
		status = 0;
		goto out;
	}
	raise_nofile(conf.max_connections);

	d.loop = loop_new();
	if (d.loop == NULL)
		fatal("loop_new");
	if (open_store(&d, &conf, &schema, &store, err, sizeof(err)) < 0) {
		log_errorx("%s", err);
		goto out;
	}
	d.store = store;
	{
		struct service_config sc;
		service_config_default(&sc);
		sc.presence_grace_ms = conf.presence_grace_ms;
		sc.restart_grace_ms = conf.restart_grace_ms;
		sc.max_watches_per_identity = conf.max_watches_per_identity;
		sc.max_connections_per_identity = conf.max_connections_per_identity;
		sc.update_rate_per_s = conf.update_rate_per_s;
		sc.update_burst = conf.update_burst;
		sc.link_up_window_s = conf.link_up_window_s;
		sc.log_max_entries = conf.change_log_max_entries;
		sc.audit_max_entries = conf.audit_max_entries;
		sc.log_max_age_ms = (uint64_t)conf.change_log_max_age_s * 1000;
		sc.crl_stale_refuse = conf.crl_stale_refuse;
		svc = service_new(d.loop, store, &sc, err, sizeof(err));
	}
	if (svc == NULL) {
		log_errorx("%s: %s", store_shared(store) ? "database" : conf.database, err);
		goto out;
	}
	d.svc = svc;
	if (issuer != NULL) {
		service_set_issuer(svc, issuer);
		log_info("online issuer %s for network %s, valid %d more days",
		    conf.issuer_certificate, issuer_network(issuer),
		    cert_days_left(issuer_cert(issuer)));
	}
	d.crl = conf.crl;
	d.crl_refuse = conf.crl_stale_refuse;
	/* Peers stored before their certificates were revoked go now. */
	if (d.crl != NULL && d.crl[0] != '\0' && apply_crl(&d, err, sizeof(err)) < 0) {
		log_errorx("%s", err);
		goto out;
	}
	if (d.crl != NULL && d.crl[0] != '\0' &&
	    (d.crl_watch = filewatch_new(d.loop, d.crl, 200, on_crl_file, &d, err,
	    sizeof(err))) == NULL)
		log_warnx("%s; reload the CRL with SIGHUP", err);
	if (conf.policy != NULL && conf.policy[0] != '\0' &&
	    (d.policies = policywatch_new(d.loop, svc, d.ctx, conf.policy, err,
	    sizeof(err))) == NULL) {
		log_errorx("%s", err);
		goto out;
	}
	if (open_tickets(&d, &conf, err, sizeof(err)) < 0) {
		log_errorx("%s", err);
		goto out;
	}
	d.expiry_warn_days = conf.expiry_warn_days;
	if (d.expiry_warn_days > 0)
		on_expiry_timer(&d);
	else
		crlset_log_stale(service_crls(svc), wall_s(), 0, d.crl, d.crl_refuse);
	rpc_limits_default(&lim);
	lim.max_connections = conf.max_connections;
	lim.max_streams = conf.max_streams;
	lim.max_header_list = conf.max_header_list_bytes;
	lim.max_message = conf.max_message_bytes;
	lim.handshake_timeout_ms = conf.handshake_timeout_ms;
	lim.max_handshakes_per_address = conf.max_handshakes_per_address;
	lim.idle_timeout_ms = conf.idle_timeout_ms;
	lim.keepalive_ms = conf.keepalive_ms;
	lim.keepalive_timeout_ms = conf.keepalive_timeout_ms;
	/* the Admin methods come after the service's; admin.c checks the role per call */
	{
		struct admin_config ac = { .expiry_warn_days = conf.expiry_warn_days };
		if ((admin = admin_new(svc, store, d.ctx, &ac)) == NULL)
			fatal("admin_new");
	}
	methods = admin_methods(admin, &n_methods);
	if (conf.crl_stale_refuse) {
		if ((gated = crl_gate_methods(methods, n_methods, svc)) == NULL)
			fatal("crl_gate_methods");
		methods = gated;
	}
	service_server_ops(svc, &ops);
	d.server = rpc_server_new(d.loop, d.ctx, methods, n_methods, &ops, &lim);
	if (d.server == NULL)
		fatal("rpc_server_new");
	admin_set_server(admin, d.server);
	if (rpc_server_listen(d.server, conf.listen, err, sizeof(err)) < 0 ||
	    start_enroll(&d, &conf, admin, &lim, err, sizeof(err)) < 0) {
		log_errorx("%s", err);
		goto out;
	}
	if (conf.relay_listen != NULL && conf.relay_listen[0] != '\0') {
		if (relay_io_new(d.loop, store, conf.relay_listen, NULL, &d.relay, err,
		    sizeof(err)) < 0) {
			log_errorx("%s", err);
			goto out;
		}
		log_info("relay on UDP %s (port %d)", conf.relay_listen, relay_io_port(d.relay));
		if (relay_io_follow(d.relay, svc) < 0)
			fatalx("relay_io_follow");
	}
	if (conf.hub_interface != NULL && conf.hub_interface[0] != '\0') {
		if (hub_io_new(d.loop, svc, conf.hub_interface, SSL_CTX_get0_certificate(d.ctx),
		    conf.certificate, &d.hub, err, sizeof(err)) < 0) {
			log_errorx("%s: %s", config_where(&schema, "hub_interface"), err);
			goto out;
		}
		log_info("hub on WireGuard interface %s (port %u)", conf.hub_interface,
		    (unsigned)hub_io_port(d.hub));
	}
	{
		/* what Status and UpdateReply tell of the relay and the hub */
		char relay_ep[80] = "";
		uint16_t hub_port = d.hub != NULL ? (uint16_t)hub_io_port(d.hub) : 0;
		if (d.relay != NULL)
			relay_endpoint(conf.relay_listen, relay_io_port(d.relay), relay_ep,
			    sizeof(relay_ep));
		admin_set_paths(admin, relay_ep, hub_port);
		/* agents learn the relay and the hub from their Update replies */
		service_set_paths(svc, relay_ep, hub_port);
	}
	if (start_metrics(&d, conf.metrics_listen, methods, n_methods, err, sizeof(err)) < 0 ||
	    start_web(&d, &conf, err, sizeof(err)) < 0 ||
	    drop_privileges(&d, &conf, err, sizeof(err)) < 0) {
		log_errorx("%s", err);
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	if (loop_signal_add(d.loop, SIGTERM, on_sigterm, &d) < 0 ||
	    loop_signal_add(d.loop, SIGINT, on_sigterm, &d) < 0 ||
	    loop_signal_add(d.loop, SIGHUP, on_sighup, &d) < 0)
		fatal("signalfd");
	log_info("listening on %s (port %d), database %s, revision %llu, %zu peers", conf.listen,
	    rpc_server_port(d.server), store_shared(store) ? "PostgreSQL (shared)" :
	    conf.database, (unsigned long long)store_revision(store), service_peer_count(svc));
	if (loop_run(d.loop) < 0)
		log_error("event loop");
	else
		status = 0;
	log_info("stopped");
out:
	web_del(d.web);
	enroll_del(d.enroll);
	enroll_run_free_all();
	rpc_server_del(d.server);
	free(gated);
	admin_del(admin);
	filewatch_del(d.crl_watch);
	policywatch_del(d.policies);
	if (d.loop != NULL)
		loop_timer_cancel(d.loop, &d.ticket_timer);
	if (d.loop != NULL)
		loop_timer_cancel(d.loop, &d.expiry_timer);
	if (d.loop != NULL)
		loop_timer_cancel(d.loop, &d.crl_stale_timer);
	relay_io_del(d.relay);
	hub_io_del(d.hub);
	service_del(svc);
	issuer_del(issuer);
	metrics_del(d.metrics);
	/* before the loop: a shared store's connection is in it */
	store_close(store);
	loop_del(d.loop);
	SSL_CTX_free(d.ctx);
	tls_tickets_free(d.tickets);
	serverconf_free(&conf, &schema);
	free(keyargs);
	return status;
}
