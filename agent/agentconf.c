/* wiresync-agent's keys, their defaults and their limits. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "agent/agentconf.h"
#include "agent/serverlist.h"
#include "common/confcheck.h"
#include "rpc/log.h"

/* One line per key: its name is the field of struct agentconf it fills. */
#define KEY(field, ...) CONFIG_FIELD(struct agentconf, field, __VA_ARGS__)

static const struct config_field keys_template[] = {
	KEY(server, .type = CONFIG_STRING, .required = true, .help = "HOST:PORT of wiresyncd, or several separated by commas (the agent fails over between them)"),
	KEY(certificate, .type = CONFIG_STRING, .required = true, .help = "this host's certificate, PEM"),
	KEY(private_key, .type = CONFIG_STRING, .required = true, .help = "its private key, PEM, mode 0600"),
	KEY(ca, .type = CONFIG_STRING, .required = true, .help = "the network's CA certificate"),
	KEY(crl, .type = CONFIG_STRING, .help = "the CA's CRL, PEM, one per CA of ca (optional; the server relays newer ones)"),
	KEY(interface, .type = CONFIG_STRING, .required = true, .help = "WireGuard interface whose peers the agent manages"),
	KEY(state_dir, .type = CONFIG_STRING, .help = "where the agent keeps the peers it added; made if absent, in an existing directory (" LOCALSTATEDIR "/lib/wiresync-agent)"),
	KEY(backend, .type = CONFIG_STRING, .help = "auto, uapi or kernel (auto)"),
	KEY(uapi_dir, .type = CONFIG_STRING, .help = "directory of WireGuard UAPI sockets (/var/run/wireguard)"),
	KEY(log_level, .type = CONFIG_STRING, .help = "error, warn, info or debug (info)"),
	KEY(keepalive_s, .type = CONFIG_UINT, .min = 0, .max = 3600, .help = "persistent keepalive toward peers not on our LAN (25)"),
	KEY(handshake_timeout_s, .type = CONFIG_UINT, .min = 1, .max = 3600, .help = "try a peer's next endpoint after this long without a handshake (15)"),
	KEY(debounce_ms, .type = CONFIG_UINT, .min = 0, .max = 60000, .help = "wait this long after a network change before reporting (200)"),
	KEY(server_keepalive_s, .type = CONFIG_UINT, .min = 1, .max = 3600, .help = "PING wiresyncd this often; no answer within half of it (10 s at most): the connection is dead (30)"),
	KEY(expiry_warn_days, .type = CONFIG_UINT, .min = 0, .max = 3650, .help = "warn when our certificate expires within this many days (30)"),
};

#define N_KEYS (sizeof(keys_template) / sizeof(keys_template[0]))

void
agentconf_init(struct agentconf *conf, struct config_schema *schema)
{
	static struct config_key keys[N_KEYS];

	memset(conf, 0, sizeof(*conf));
	conf->keepalive_s = 25;
	conf->handshake_timeout_s = 15;
	conf->debounce_ms = 200;
	conf->server_keepalive_s = 30;
	conf->expiry_warn_days = 30;
	config_schema_bind(schema, "agent", keys, keys_template, N_KEYS, conf);
}

void
agentconf_free(struct agentconf *conf, struct config_schema *schema)
{
	config_free(schema);
	(void)conf;
}

int
agentconf_load(struct agentconf *conf, struct config_schema *schema, const char *path,
    bool path_given, int argc, char **argv, char *err, size_t errlen)
{
	if (config_load_all(schema, path, path_given, argc, argv, err, errlen) < 0)
		return -1;
	if (config_default(schema, &conf->state_dir,
	    "--state_dir=" LOCALSTATEDIR "/lib/wiresync-agent", err, errlen) < 0 ||
	    config_default(schema, &conf->backend, "--backend=auto", err, errlen) < 0 ||
	    config_default(schema, &conf->log_level, "--log_level=info", err, errlen) < 0)
		return -1;
	if (log_level_parse(conf->log_level) < 0) {
		snprintf(err, errlen, "%s: key 'log_level': must be error, warn, info or debug, "
		    "got \"%s\"", config_where(schema, "log_level"), conf->log_level);
		return -1;
	}
	if (strcmp(conf->backend, "auto") != 0 && strcmp(conf->backend, "uapi") != 0 &&
	    strcmp(conf->backend, "kernel") != 0) {
		snprintf(err, errlen, "%s: key 'backend': must be auto, uapi or kernel, got \"%s\"",
		    config_where(schema, "backend"), conf->backend);
		return -1;
	}
	return 0;
}

/* What the start needs of the files and directories, checked before anything is made. */
int
agentconf_check(const struct agentconf *conf, const struct config_schema *schema,
    char *err, size_t errlen)
{
	const struct confcheck_path files[] = {
		{ "certificate", conf->certificate }, { "private_key", conf->private_key },
		{ "ca", conf->ca }, { "crl", conf->crl },
	};

	struct serverlist *sl = malloc(sizeof(*sl));
	char why[400];
	bool ok;

	if (sl == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* each entry as confcheck_client checks one server, the entry named */
	ok = serverlist_init(sl, conf->server, 1, 1, why, sizeof(why));
	free(sl);
	if (!ok) {
		snprintf(err, errlen, "%s: server = %s: %s", config_where(schema, "server"),
		    conf->server != NULL ? conf->server : "", why);
		return -1;
	}
	return confcheck_files(schema, files, sizeof(files) / sizeof(files[0]), err, errlen);
}

int
agentconf_check_state(const struct agentconf *conf, const struct config_schema *schema,
    char *err, size_t errlen)
{
	/* the start makes state_dir (one level, as mkdir does) and writes its files there */
	return confcheck_dir(config_where(schema, "state_dir"), "state_dir", conf->state_dir,
	    true, err, errlen);
}
