/* wiresyncctl's keys and their defaults. */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/confcheck.h"
#include "ctl/ctlconf.h"

#define KEY(field, ...) { { .name = #field, __VA_ARGS__ }, offsetof(struct ctlconf, field) }

static const struct {
	struct config_key key;
	size_t off;
} keys_template[] = {
	KEY(server, .type = CONFIG_STRING, .required = true, .help = "HOST:PORT of wiresyncd"),
	KEY(certificate, .type = CONFIG_STRING, .required = true, .help = "admin certificate (SAN urn:wiresync:role:admin), PEM"),
	KEY(private_key, .type = CONFIG_STRING, .required = true, .help = "its private key, PEM, mode 0600"),
	KEY(ca, .type = CONFIG_STRING, .required = true, .help = "CA certificate that the server's certificate chains to"),
	KEY(ca_dir, .type = CONFIG_STRING, .help = "the wiresync-ca directory (ca.crt, ca.key) that approve signs with"),
	KEY(ca_command, .type = CONFIG_STRING, .help = "the wiresync-ca program approve runs (wiresync-ca from PATH)"),
	KEY(timeout_ms, .type = CONFIG_UINT, .min = 100, .max = 3600000, .help = "deadline of each call (10000; backup: ten times that)"),
};

#define N_KEYS (sizeof(keys_template) / sizeof(keys_template[0]))

void
ctlconf_init(struct ctlconf *conf, struct config_schema *schema)
{
	static struct config_key keys[N_KEYS];

	memset(conf, 0, sizeof(*conf));
	conf->timeout_ms = 10000;
	for (size_t i = 0; i < N_KEYS; i++) {
		keys[i] = keys_template[i].key;
		keys[i].dst = (char *)conf + keys_template[i].off;
	}
	schema->section = "ctl";
	schema->keys = keys;
	schema->n_keys = N_KEYS;
}

void
ctlconf_free(struct ctlconf *conf, struct config_schema *schema)
{
	config_free(schema);
	(void)conf;
}

int
ctlconf_load(struct ctlconf *conf, struct config_schema *schema, const char *path,
    bool path_given, int argc, char **argv, char *err, size_t errlen)
{
	(void)conf;
	return config_load_all(schema, path, path_given, argc, argv, err, errlen) < 0 ? -1 : 0;
}

int
ctlconf_check(const struct ctlconf *conf, const struct config_schema *schema, char *err,
    size_t errlen)
{
	const struct confcheck_path files[] = {
		{ "certificate", conf->certificate }, { "private_key", conf->private_key },
		{ "ca", conf->ca },
	};

	return confcheck_client(schema, conf->server, files, sizeof(files) / sizeof(files[0]),
	    err, errlen);
}
