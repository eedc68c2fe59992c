/* wiresyncd's keys, their defaults and their limits. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/confcheck.h"
#include "rpc/log.h"
#include "server/metrics.h"
#include "server/pool.h"
#include "server/privdrop.h"
#include "server/store.h"
#include "server/web.h"
#include "server/relay_io.h"
#include "server/serverconf.h"
#include "server/web.h"

/* One pool line, checked as the parser reads it so that the error names its line. */
static bool
pool_line_ok(const char *v, char *what, size_t whatlen)
{
	struct pool p;

	return pool_parse(v, &p, what, whatlen);
}

/* One line per key: its name is the field of struct serverconf it fills. */
#define KEY(field, ...) CONFIG_FIELD(struct serverconf, field, __VA_ARGS__)

static const struct config_field keys_template[] = {
	KEY(listen, .type = CONFIG_STRING, .help = "HOST:PORT to accept agents on (0.0.0.0:7443)"),
	KEY(certificate, .type = CONFIG_STRING, .required = true, .help = "server certificate, PEM"),
	KEY(private_key, .type = CONFIG_STRING, .required = true, .help = "server private key, PEM, mode 0600"),
	KEY(ca, .type = CONFIG_STRING, .required = true, .help = "CA certificate(s) that client certificates must chain to"),
	KEY(crl, .type = CONFIG_STRING, .help = "CRLs of the CAs, PEM, one per CA (optional)"),
	KEY(crl_stale, .type = CONFIG_STRING, .help = "a CRL past its nextUpdate: keep (enforce it and serve) or refuse (no new connections) (keep)"),
	KEY(policy, .type = CONFIG_STRING, .help = "pairing policies, policy.cms signed by wiresync-ca policy, one per CA, comma-separated (optional: everyone pairs)"),
	KEY(database, .type = CONFIG_STRING, .help = "SQLite database file, or a PostgreSQL URI (postgresql://USER@HOST/DB?...) that several servers share (" LOCALSTATEDIR "/lib/wiresync/wiresync.db)"),
	KEY(server_name, .type = CONFIG_STRING, .help = "this server's name in a cluster on PostgreSQL, unique among them (HOSTNAME:PORT)"),
	KEY(cluster_lease_s, .type = CONFIG_UINT, .min = 2, .max = 3600, .help = "on PostgreSQL: a server silent this long is dead to the others, its hosts offline (15)"),
	KEY(hub_interface, .type = CONFIG_STRING, .help = "WireGuard interface the server keeps every stored peer on, publishing the endpoints it sees as observed_endpoint; the certificate must bind its key (off)"),
	KEY(log_level, .type = CONFIG_STRING, .help = "error, warn, info or debug (info)"),
	KEY(max_connections, .type = CONFIG_UINT, .min = 1, .max = 1000000, .help = "connections at once (10000)"),
	KEY(max_streams, .type = CONFIG_UINT, .min = 1, .max = 10000, .help = "concurrent streams per connection (100)"),
	KEY(max_message_bytes, .type = CONFIG_UINT, .min = 1024, .max = 16777216, .help = "largest request message (1048576)"),
	KEY(handshake_timeout_ms, .type = CONFIG_UINT, .min = 100, .max = 600000, .help = "TLS handshake deadline (10000)"),
	KEY(max_handshakes_per_address, .type = CONFIG_UINT, .min = 0, .max = 1000000, .help = "connections in their TLS handshake from one IPv4 address or IPv6 /64; 0 no limit (1024)"),
	KEY(idle_timeout_ms, .type = CONFIG_UINT, .min = 0, .max = 86400000, .help = "close connections idle without streams this long; 0 never (0)"),
	KEY(keepalive_ms, .type = CONFIG_UINT, .min = 0, .max = 86400000, .help = "PING connections silent this long; 0 never (60000)"),
	KEY(keepalive_timeout_ms, .type = CONFIG_UINT, .min = 100, .max = 600000, .help = "close when a PING is not answered this soon (20000)"),
	KEY(presence_grace_ms, .type = CONFIG_UINT, .min = 0, .max = 3600000, .help = "a peer goes offline this long after its last Watch ends (3000)"),
	KEY(restart_grace_ms, .type = CONFIG_UINT, .min = 0, .max = 3600000, .help = "after a restart, time for online peers to reconnect (30000)"),
	KEY(max_watches_per_identity, .type = CONFIG_UINT, .min = 1, .max = 10000, .help = "open Watch streams per certificate (16)"),
	KEY(max_connections_per_identity, .type = CONFIG_UINT, .min = 1, .max = 1000000, .help = "connections per certificate at once (256)"),
	KEY(update_rate_per_s, .type = CONFIG_UINT, .min = 0, .max = 1000000, .help = "Updates per certificate per second, a token bucket; 0 no limit (0)"),
	KEY(update_burst, .type = CONFIG_UINT, .min = 1, .max = 1000000, .help = "Updates per certificate in a burst, with update_rate_per_s (20)"),
	KEY(max_header_list_bytes, .type = CONFIG_UINT, .min = 1024, .max = 1048576, .help = "largest request header list, SETTINGS_MAX_HEADER_LIST_SIZE (16384)"),
	KEY(change_log_max_entries, .type = CONFIG_UINT, .min = 1, .max = 100000000, .help = "changes kept for resuming Watch streams (100000)"),
	KEY(change_log_max_age_s, .type = CONFIG_UINT, .min = 1, .max = 315360000, .help = "age past which changes are dropped from the log (604800)"),
	KEY(ticket_key_file, .type = CONFIG_STRING, .help = "TLS session ticket keys, kept across restarts (DATABASE-tickets)"),
	KEY(ticket_key_rotate_s, .type = CONFIG_UINT, .min = 60, .max = 604800, .help = "make a new ticket key this often; tickets live twice as long (43200)"),
	KEY(expiry_warn_days, .type = CONFIG_UINT, .min = 0, .max = 3650, .help = "warn of certificates expiring within this many days (30)"),
	KEY(metrics_listen, .type = CONFIG_STRING, .help = "loopback HOST:PORT serving Prometheus /metrics over HTTP (off)"),
	KEY(web_listen, .type = CONFIG_STRING, .help = "HOST:PORT of the web console: plain HTTP on a loopback address, HTTPS with web_tls on any other (off)"),
	KEY(web_tls, .type = CONFIG_BOOL, .help = "serve the web console over HTTPS with the server certificate, to admin client certificates only (no)"),
	KEY(relay_listen, .type = CONFIG_STRING, .help = "UDP HOST:PORT where the relay forwards WireGuard packets between hosts no candidate connects (off)"),
	KEY(enroll_listen, .type = CONFIG_STRING, .help = "HOST:PORT of the join listener: TLS with the server certificate, no client certificate, only wiresync.v1.Enroll/Join (off)"),
	KEY(pool, .type = CONFIG_STRING, .repeat = true, .check = pool_line_ok, .help = "NETWORK CIDR[, CIDR]: the addresses approvals take for that network; one line per network (none)"),
	KEY(issuer_certificate, .type = CONFIG_STRING, .help = "the online issuer that signs joins and renewals at once, PEM, made by wiresync-ca issuer (off: the operator approves with the CA offline)"),
	KEY(issuer_key, .type = CONFIG_STRING, .help = "the online issuer's private key, PEM, mode 0600 (with issuer_certificate)"),
	KEY(enroll_max_pending, .type = CONFIG_UINT, .min = 1, .max = 65536, .help = "join requests kept at once (256)"),
	KEY(enroll_max_age_s, .type = CONFIG_UINT, .min = 1, .max = 2592000, .help = "a join request older than this is dropped (86400)"),
	KEY(enroll_rate_per_min, .type = CONFIG_UINT, .min = 1, .max = 100000, .help = "new join requests per source address (IPv6: its /64) per minute; resumes are not counted (10)"),
	KEY(issuer_days, .type = CONFIG_UINT, .min = 1, .max = 825, .help = "days the certificates the online issuer signs for a join token are valid, at most the issuer's own (30)"),
	KEY(audit_max_entries, .type = CONFIG_UINT, .min = 1, .max = 100000000, .help = "admin actions kept in the audit log, the oldest dropped first (10000)"),
	KEY(link_up_window_s, .type = CONFIG_UINT, .min = 10, .max = 86400, .help = "a pair is up in wiresyncctl links when both ends saw a handshake this recently (180)"),
	KEY(user, .type = CONFIG_STRING, .help = "started as root: switch to this user once files and ports are open"),
};

#define N_KEYS (sizeof(keys_template) / sizeof(keys_template[0]))

void
serverconf_init(struct serverconf *conf, struct config_schema *schema)
{
	static struct config_key keys[N_KEYS];

	memset(conf, 0, sizeof(*conf));
	conf->max_connections = 10000;
	conf->max_streams = 100;
	conf->max_message_bytes = 1024 * 1024;
	conf->handshake_timeout_ms = 10000;
	conf->max_handshakes_per_address = 1024;
	conf->idle_timeout_ms = 0;
	conf->keepalive_ms = 60000;
	conf->keepalive_timeout_ms = 20000;
	conf->presence_grace_ms = 3000;
	conf->restart_grace_ms = 30000;
	conf->max_watches_per_identity = 16;
	conf->max_connections_per_identity = 256;
	conf->update_rate_per_s = 0;
	conf->update_burst = 20;
	conf->link_up_window_s = 180;
	conf->max_header_list_bytes = 16384;
	conf->change_log_max_entries = 100000;
	conf->change_log_max_age_s = 604800;
	conf->ticket_key_rotate_s = 43200;
	conf->expiry_warn_days = 30;
	conf->enroll_max_pending = 256;
	conf->cluster_lease_s = 15;
	conf->enroll_max_age_s = 86400;
	conf->enroll_rate_per_min = 10;
	conf->issuer_days = 30;
	conf->audit_max_entries = 10000;
	config_schema_bind(schema, "server", keys, keys_template, N_KEYS, conf);
}

void
serverconf_free(struct serverconf *conf, struct config_schema *schema)
{
	config_free(schema);
	(void)conf;
}

/* Defaults go through the parser too, so config_free owns every string. */
int
serverconf_load(struct serverconf *conf, struct config_schema *schema, const char *path,
    bool path_given, int argc, char **argv, char *err, size_t errlen)
{
	/* The default file is optional: all keys may come from the command line. */
	if (config_load_all(schema, path, path_given, argc, argv, err, errlen) < 0)
		return -1;
	if (config_default(schema, &conf->listen, "--listen=0.0.0.0:7443", err, errlen) < 0 ||
	    config_default(schema, &conf->database,
	    "--database=" LOCALSTATEDIR "/lib/wiresync/wiresync.db", err, errlen) < 0 ||
	    config_default(schema, &conf->log_level, "--log_level=info", err, errlen) < 0)
		return -1;
	if (conf->ticket_key_file == NULL) {
		size_t n = strlen(conf->database) + sizeof("--ticket_key_file=-tickets");
		char *arg = malloc(n);
		int r;
		if (arg == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		snprintf(arg, n, "--ticket_key_file=%s-tickets", conf->database);
		r = config_default(schema, &conf->ticket_key_file, arg, err, errlen);
		free(arg);
		if (r < 0)
			return -1;
	}
	if (config_default(schema, &conf->crl_stale, "--crl_stale=keep", err, errlen) < 0)
		return -1;
	if (strcmp(conf->crl_stale, "keep") != 0 && strcmp(conf->crl_stale, "refuse") != 0) {
		snprintf(err, errlen, "%s: key 'crl_stale': must be keep or refuse, got \"%s\"",
		    config_where(schema, "crl_stale"), conf->crl_stale);
		return -1;
	}
	conf->crl_stale_refuse = strcmp(conf->crl_stale, "refuse") == 0;
	if (log_level_parse(conf->log_level) < 0) {
		snprintf(err, errlen, "%s: key 'log_level': must be error, warn, info or debug, "
		    "got \"%s\"", config_where(schema, "log_level"), conf->log_level);
		return -1;
	}
	if (conf->metrics_listen != NULL && conf->metrics_listen[0] != '\0') {
		char why[200];
		if (!metrics_addr_ok(conf->metrics_listen, why, sizeof(why))) {
			snprintf(err, errlen, "%s: key 'metrics_listen': %s",
			    config_where(schema, "metrics_listen"), why);
			return -1;
		}
	}
	if (conf->web_listen != NULL && conf->web_listen[0] != '\0') {
		char why[200];
		if (!web_addr_ok(conf->web_listen, conf->web_tls, why, sizeof(why))) {
			snprintf(err, errlen, "%s: key 'web_listen': %s",
			    config_where(schema, "web_listen"), why);
			return -1;
		}
	}
	if (conf->relay_listen != NULL && conf->relay_listen[0] != '\0') {
		char why[200];
		if (!relay_io_addr_ok(conf->relay_listen, why, sizeof(why))) {
			snprintf(err, errlen, "%s: key 'relay_listen': %s",
			    config_where(schema, "relay_listen"), why);
			return -1;
		}
	}
	if (conf->pool != NULL) {
		struct pool *p = NULL;
		size_t n;
		char why[200];
		int r = serverconf_pools(conf, &p, &n, why, sizeof(why));
		free(p);
		if (r < 0) {
			snprintf(err, errlen, "%s: key 'pool': %s", config_where(schema, "pool"), why);
			return -1;
		}
	}
	/* the hub writes its interface's peers after the start, with rights user = gives up */
	if (conf->user != NULL && conf->user[0] != '\0' && conf->hub_interface != NULL &&
	    conf->hub_interface[0] != '\0') {
		snprintf(err, errlen, "%s: key 'hub_interface' with key 'user' (%s): the hub sets "
		    "the peers of %s as long as it runs, which needs root (the UAPI socket of "
		    "wireguard-go, CAP_NET_ADMIN for a kernel interface) and user = gives that up; "
		    "unset one of them", config_where(schema, "hub_interface"), config_where(schema,
		    "user"), conf->hub_interface);
		return -1;
	}
	if (conf->user != NULL && conf->user[0] != '\0') {
		char why[200];
		if (privdrop_lookup(conf->user, &conf->privdrop, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s: key 'user': %s", config_where(schema, "user"), why);
			return -1;
		}
	}
	return 0;
}

int
serverconf_pools(const struct serverconf *conf, struct pool **out, size_t *n, char *err,
    size_t errlen)
{
	const char *line = conf->pool;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	while (line != NULL && *line != '\0') {
		const char *nl = strchr(line, '\n');
		size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
		char *one = strndup(line, len);

		if (one != NULL && *n == cap) {
			struct pool *v = realloc(*out, (cap * 2 + 4) * sizeof(*v));
			if (v == NULL) {
				free(one);
				one = NULL;
			} else {
				*out = v;
				cap = cap * 2 + 4;
			}
		}
		if (one == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		if (!pool_parse(one, &(*out)[*n], err, errlen)) {
			free(one);
			return -1;
		}
		free(one);
		for (size_t i = 0; i < *n; i++)
			if (strcmp((*out)[i].network, (*out)[*n].network) == 0) {
				snprintf(err, errlen, "network %s has two pool lines: give its ranges "
				    "on one line (pool = %s CIDR, CIDR)", (*out)[i].network,
				    (*out)[i].network);
				return -1;
			}
		(*n)++;
		line = nl != NULL ? nl + 1 : NULL;
	}
	return 0;
}

#define WHERE(k) config_where(schema, k)

/* What the start needs of the files and addresses, checked before anything is created. */
int
serverconf_check(const struct serverconf *conf, const struct config_schema *schema,
    char *err, size_t errlen)
{
	const struct confcheck_path files[] = {
		{ "certificate", conf->certificate }, { "private_key", conf->private_key },
		{ "ca", conf->ca }, { "crl", conf->crl },
		{ "issuer_certificate", conf->issuer_certificate },
		{ "issuer_key", conf->issuer_key },
	};
	bool has_cert = conf->issuer_certificate != NULL && conf->issuer_certificate[0] != '\0';
	bool has_key = conf->issuer_key != NULL && conf->issuer_key[0] != '\0';

	if (confcheck_listen(WHERE("listen"), "listen", conf->listen, true, err, errlen) < 0)
		return -1;
	if (has_cert != has_key) {
		snprintf(err, errlen, "%s: %s is set but %s is not: the online issuer needs both",
		    has_cert ? WHERE("issuer_certificate") : WHERE("issuer_key"),
		    has_cert ? "issuer_certificate" : "issuer_key",
		    has_cert ? "issuer_key" : "issuer_certificate");
		return -1;
	}
	if (conf->enroll_listen != NULL && conf->enroll_listen[0] != '\0' &&
	    confcheck_listen(WHERE("enroll_listen"), "enroll_listen", conf->enroll_listen, true,
	    err, errlen) < 0)
		return -1;
	return confcheck_files(schema, files, sizeof(files) / sizeof(files[0]), err, errlen);
}

int
serverconf_check_storage(const struct serverconf *conf, const struct config_schema *schema,
    char *err, size_t errlen)
{
	(void)schema;
	/* a URI names no file (and may hold a password: never in a message) */
	if (store_database_is_uri(conf->database))
		return 0;
	if (confcheck_writable_file(WHERE("database"), "database", conf->database, err,
	    errlen) < 0 ||
	    confcheck_writable_file(WHERE("ticket_key_file"), "ticket_key_file",
	    conf->ticket_key_file, err, errlen) < 0)
		return -1;
	return 0;
}
#undef WHERE
