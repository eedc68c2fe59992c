/* wiresync-agent's configuration: the [agent] section and its --key=value overrides. */
#ifndef WS_AGENTCONF_H
#define WS_AGENTCONF_H

#include <stdbool.h>
#include <stddef.h>

#include "common/conf.h"

#define AGENTCONF_DEFAULT_PATH SYSCONFDIR "/wiresync/agent.conf"

struct agentconf {
	char *server;                   /* HOST:PORT[, HOST:PORT...] (agent/serverlist.h) */
	char *certificate;
	char *private_key;
	char *ca;
	char *crl;
	char *interface;
	char *state_dir;
	char *backend;
	char *uapi_dir;
	char *log_level;
	unsigned keepalive_s;
	unsigned handshake_timeout_s;
	unsigned debounce_ms;
	unsigned server_keepalive_s;
	unsigned expiry_warn_days;
};

/* Sets the defaults and binds conf's fields to the schema (both live as long as conf). */
void agentconf_init(struct agentconf *conf, struct config_schema *schema);
void agentconf_free(struct agentconf *conf, struct config_schema *schema);

/* Loads path (unless NULL, or it is the default and absent), applies the --key=value
 * arguments, checks required keys and values. 0, or -1 with err naming file, line, key. */
int agentconf_load(struct agentconf *conf, struct config_schema *schema, const char *path,
    bool path_given, int argc, char **argv, char *err, size_t errlen);

/* The checks of the start that need the file system but create nothing, in the start's
 * order: agentconf_check before the TLS files are loaded (server is HOST:PORT or a
 * comma-separated list of them, the
 * certificate, key, CA and CRL files are readable), agentconf_check_state after (state_dir
 * is a writable directory or can be made). wiresync-agent runs both at the start and for
 * -n. Each returns 0, or -1 with err naming the file and line (or "command line"), the
 * key, its value and what is wrong. */
int agentconf_check(const struct agentconf *conf, const struct config_schema *schema,
    char *err, size_t errlen);
int agentconf_check_state(const struct agentconf *conf, const struct config_schema *schema,
    char *err, size_t errlen);

#endif
