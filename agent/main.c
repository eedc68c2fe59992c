/* wiresync-agent: keeps this host's WireGuard peers in line with the mesh. */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/agentconf.h"
#include "agent/join.h"
#include "rpc/log.h"
#include "rpc/loop.h"
#include "rpc/tls.h"

static void
usage(FILE *out, const struct config_schema *schema)
{
	fprintf(out,
	    "usage: wiresync-agent [-n | -s] [-d] [-c FILE] [--KEY=VALUE ...]\n"
	    "       wiresync-agent join SERVER:PORT --ca-sha256 HEX [...]  (join --help)\n"
	    "\n"
	    "Reports this host to wiresyncd and keeps its WireGuard interface's peers current.\n"
	    "\n"
	    "  -c, --config FILE  configuration file (default %s)\n"
	    "  -n, --check        check the configuration and exit\n"
	    "  -s, --show         print the desired peer table (from state_dir) and exit\n"
	    "  -d, --debug        log at debug level\n"
	    "  -h, --help         show this help\n"
	    "  -V, --version      show the version\n"
	    "\n"
	    "Every key of the [agent] section can be given as --KEY=VALUE and wins over the file:\n",
	    AGENTCONF_DEFAULT_PATH);
	config_print_help(schema, out);
	fprintf(out, "\nExit status: 0 stopped cleanly or configuration valid, 1 error, 2 usage.\n");
}

static void
on_stop(void *arg)
{
	log_info("stopping; the interface keeps its peers");
	loop_stop(arg);
}

/* systemd's reload and habit send SIGHUP; it must not stop the agent (the default). */
static void
on_sighup(void *arg)
{
	(void)arg;
	log_info("SIGHUP: nothing to reload: the configuration is read at start (restart the "
	    "agent to change it), CRLs and peers come from the server");
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
		{ "show", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct agentconf conf;
	struct config_schema schema;
	struct loop *loop = NULL;
	struct agent *agent = NULL;
	SSL_CTX *ctx = NULL;
	const char *path = AGENTCONF_DEFAULT_PATH;
	bool path_given = false, check_only = false, debug = false, show = false;
	char **keyargs, err[512];
	int n_keyargs = 0, c, status = 1;

	log_init("wiresync-agent", LOG_LEVEL_INFO);
	if (argc > 1 && strcmp(argv[1], "join") == 0)
		return join_main(argc - 1, argv + 1);
	agentconf_init(&conf, &schema);
	keyargs = calloc((size_t)argc + 1, sizeof(*keyargs));
	if (keyargs == NULL)
		fatalx("out of memory");
	/* --KEY=VALUE arguments are the config's; getopt sees the rest. */
	n_keyargs = config_split_args(&argc, argv, keyargs);
	while ((c = getopt_long(argc, argv, "c:ndhVs", longopts, NULL)) != -1) {
		switch (c) {
		case 's': show = true; break;
		case 'c': path = optarg; path_given = true; break;
		case 'n': check_only = true; break;
		case 'd': debug = true; break;
		case 'h': usage(stdout, &schema); status = 0; goto out;
		case 'V': printf("wiresync-agent %s\n", PACKAGE_VERSION); status = 0; goto out;
		default: usage(stderr, &schema); status = 2; goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "wiresync-agent: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr, &schema);
		status = 2;
		goto out;
	}
	if (agentconf_load(&conf, &schema, path, path_given, n_keyargs, keyargs, err,
	    sizeof(err)) < 0) {
		log_errorx("%s", err);
		goto out;
	}
	log_set_level(debug ? LOG_LEVEL_DEBUG : (enum log_level)log_level_parse(conf.log_level));
	/* -n and the start refuse the same things, before anything is made */
	if (!show && agentconf_check(&conf, &schema, err, sizeof(err)) < 0) {
		log_errorx("%s", err);
		goto out;
	}
	{
		struct tls_files f = { conf.certificate, conf.private_key, conf.ca, NULL };
		ctx = tls_client_ctx_new(&f, err, sizeof(err));
		if (ctx == NULL) {
			log_errorx("%s", err);
			goto out;
		}
	}
	if (!show && agentconf_check_state(&conf, &schema, err, sizeof(err)) < 0) {
		log_errorx("%s", err);
		goto out;
	}
	if (check_only) {
		printf("configuration OK\n");
		status = 0;
		goto out;
	}
	if (show) {
		if (agent_show(&conf, stdout, err, sizeof(err)) < 0)
			log_errorx("%s", err);
		else
			status = 0;
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	loop = loop_new();
	if (loop == NULL)
		fatal("loop_new");
	if (loop_signal_add(loop, SIGTERM, on_stop, loop) < 0 ||
	    loop_signal_add(loop, SIGINT, on_stop, loop) < 0 ||
	    loop_signal_add(loop, SIGHUP, on_sighup, NULL) < 0)
		fatal("signalfd");
	agent = agent_new(loop, &conf, ctx, err, sizeof(err));
	if (agent == NULL) {
		log_errorx("%s", err);
		goto out;
	}
	status = loop_run(loop) < 0 ? 1 : 0;
out:
	agent_del(agent);
	loop_del(loop);
	SSL_CTX_free(ctx);
	agentconf_free(&conf, &schema);
	free(keyargs);
	return status;
}
