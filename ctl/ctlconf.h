/* wiresyncctl's configuration: the [ctl] section and its --key=value overrides. */
#ifndef WS_CTLCONF_H
#define WS_CTLCONF_H

#include <stdbool.h>
#include <stddef.h>

#include "common/conf.h"

#define CTLCONF_DEFAULT_PATH SYSCONFDIR "/wiresync/ctl.conf"

struct ctlconf {
	char *server;
	char *certificate;
	char *private_key;
	char *ca;
	char *ca_dir;         /* the wiresync-ca directory approve signs with */
	char *ca_command;     /* the wiresync-ca program */
	unsigned timeout_ms;
};

/* Sets the defaults and binds conf's fields to the schema (both live as long as conf). */
void ctlconf_init(struct ctlconf *conf, struct config_schema *schema);
void ctlconf_free(struct ctlconf *conf, struct config_schema *schema);

/* Loads path (unless it is the default and absent), applies the --key=value arguments,
 * checks required keys. 0, or -1 with err naming the file, line and key. */
int ctlconf_load(struct ctlconf *conf, struct config_schema *schema, const char *path,
    bool path_given, int argc, char **argv, char *err, size_t errlen);

/* server is HOST:PORT and the certificate, key and CA files are readable, before OpenSSL
 * loads them. 0, or -1 with err naming the file and line, the key and the path. */
int ctlconf_check(const struct ctlconf *conf, const struct config_schema *schema, char *err,
    size_t errlen);

#endif
