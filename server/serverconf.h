/* wiresyncd's configuration: the [server] section and its --key=value overrides. */
#ifndef WS_SERVERCONF_H
#define WS_SERVERCONF_H

#include <stdbool.h>
#include <stdio.h>

#include "common/conf.h"
#include "server/privdrop.h"

#define SERVERCONF_DEFAULT_PATH SYSCONFDIR "/wiresync/server.conf"

struct serverconf {
	char *listen;
	char *certificate;
	char *private_key;
	char *ca;
	char *crl;
	char *crl_stale;             /* "keep" or "refuse" */
	bool crl_stale_refuse;
	char *policy;                /* policy.cms files, comma-separated; NULL: none */
	char *database;
	char *hub_interface;
	char *log_level;
	unsigned max_connections;
	unsigned max_streams;
	unsigned max_message_bytes;
	unsigned handshake_timeout_ms;
	unsigned max_handshakes_per_address;
	unsigned idle_timeout_ms;
	unsigned keepalive_ms;
	unsigned keepalive_timeout_ms;
	unsigned presence_grace_ms;
	unsigned restart_grace_ms;
	unsigned max_watches_per_identity;
	unsigned max_connections_per_identity;
	unsigned update_rate_per_s;
	unsigned update_burst;
	unsigned link_up_window_s;
	unsigned max_header_list_bytes;
	unsigned change_log_max_entries;
	unsigned change_log_max_age_s;
	char *ticket_key_file;
	unsigned ticket_key_rotate_s;
	unsigned expiry_warn_days;
	char *metrics_listen;
	char *web_listen;            /* the web console's HOST:PORT; NULL/"": off */
	bool web_tls;                /* HTTPS for admin certificates; needed off loopback */
	char *relay_listen;          /* UDP HOST:PORT of the WireGuard relay; NULL/"": off */
	char *user;
	char *enroll_listen;         /* TLS HOST:PORT serving only Enroll/Join; NULL/"": off */
	char *pool;                  /* `pool = NETWORK CIDR[, CIDR]` lines joined by '\n' */
	char *issuer_certificate;    /* the online issuer (wiresync-ca issuer), PEM; NULL: none */
	char *issuer_key;            /* its key, PEM, mode 0600; given with issuer_certificate */
	char *server_name;           /* in a cluster; NULL/"": HOSTNAME:PORT */
	unsigned cluster_lease_s;
	unsigned enroll_max_pending;
	unsigned enroll_max_age_s;
	unsigned enroll_rate_per_min;
	unsigned issuer_days;        /* lifetime of a token join's certificate */
	unsigned audit_max_entries;  /* audit log rows kept */
	struct privdrop privdrop;    /* user looked up at load */
};

/* Sets the defaults and binds conf's fields to the schema (both live as long as conf). */
void serverconf_init(struct serverconf *conf, struct config_schema *schema);
/* Frees the strings; accepts a conf that was only initialised. */
void serverconf_free(struct serverconf *conf, struct config_schema *schema);

/* Loads path (unless NULL), applies the --key=value arguments in argv, checks required
 * keys and values that need more than a type check. Returns 0, or -1 with err saying the
 * file, line and key at fault. */
int serverconf_load(struct serverconf *conf, struct config_schema *schema, const char *path,
    bool path_given, int argc, char **argv, char *err, size_t errlen);

/* The checks of the start that need the file system but create nothing, in the start's
 * order: serverconf_check before the TLS files are loaded (listen parses as HOST:PORT and
 * resolves, the certificate, key, CA and CRL files are readable), serverconf_check_storage
 * after (database and ticket_key_file can be written or created). wiresyncd runs both at
 * the start and for -n. Each returns 0, or -1 with err naming the file and line (or
 * "command line"), the key, its value and what is wrong. */
int serverconf_check(const struct serverconf *conf, const struct config_schema *schema,
    char *err, size_t errlen);
int serverconf_check_storage(const struct serverconf *conf,
    const struct config_schema *schema, char *err, size_t errlen);

struct pool;
/* The pool lines of conf parsed, one per network: *out (the caller frees it) with *n
 * entries. Returns 0, or -1 with err saying what is wrong (a network given twice). */
int serverconf_pools(const struct serverconf *conf, struct pool **out, size_t *n, char *err,
    size_t errlen);

#endif
