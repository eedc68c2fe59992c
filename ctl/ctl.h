/* wiresyncctl: the operator's command-line client of the wiresync.v1.Admin service. */
#ifndef WS_CTL_H
#define WS_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/ssl.h>

#include "common/conf.h"
#include "proto/admin.pb-c.h"
#include "rpc/h2client.h"
#include "rpc/loop.h"

/* Exit statuses (wiresyncctl(8) documents them). */
enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_USAGE = 1,      /* bad arguments, configuration or local file */
	CTL_EXIT_CONNECT = 2,    /* cannot reach the server: connection, TLS, deadline */
	CTL_EXIT_NOT_FOUND = 3,  /* no such peer */
	CTL_EXIT_DENIED = 4,     /* the certificate is not an admin's, or not for that network */
	CTL_EXIT_SERVER = 5,     /* any other refusal or failure of the server */
};

struct ctl {
	struct loop *loop;
	SSL_CTX *ctx;
	struct rpc_client *client;
	const char *server;
	uint64_t timeout_ms;
	const char *conf_path;      /* the configuration file, for messages */
	const struct config_schema *schema;
	const char *ca_file;        /* [ctl] ca: the CA the server chains to */
	const char *ca_dir;         /* [ctl] ca_dir: the wiresync-ca directory; NULL unset */
	const char *ca_command;     /* [ctl] ca_command; NULL: wiresync-ca from PATH */
};

/* One Admin call ("ListPeers"): packs req, waits for the answer. On OK returns 0 with
 * *reply (malloc'd, caller frees) and *len; otherwise prints the error on stderr and
 * returns the exit status it means. */
int ctl_call(struct ctl *c, const char *method, const ProtobufCMessage *req, uint8_t **reply,
    size_t *len);
/* ctl_call, then the reply unpacked with desc into *out (the message, freed with
 * protobuf_c_message_free_unpacked or its type's free_unpacked); the same returns, and
 * CTL_EXIT_SERVER, said, when the reply does not decode. */
int ctl_call_unpack(struct ctl *c, const char *method, const ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *desc, void **out);
/* The exit status for a gRPC status code. */
int ctl_exit_for(int grpc_status);

/* Prints "wiresyncctl: ..." on stderr. */
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "ip:port" / "[v6]:port" of an address string ("10.0.0.1/24" too) and port into out. */
void ctl_hostport(const char *ip, uint32_t port, char *out, size_t len);

/* "HOST:PORT" (a DNS name, IPv4 or [IPv6]) resolved to "ip:port" / "[v6]:port" in out.
 * 0, or -1 with the reason printed. */
int ctl_resolve_endpoint(const char *hostport, char *out, size_t len);

/* Prints v (pretty, ASCII) and frees it: CTL_EXIT_OK, or CTL_EXIT_USAGE when it cannot be
 * written. */
int ctl_json_print(json_t *v);

/* A certificate in PEM or DER from path; NULL (and a message naming path) when not. */
X509 *ctl_cert_read(const char *path);
/* A PEM or DER certificate file as DER (malloc'd, caller frees) with *len; NULL, said on
 * stderr, when it cannot be read or decoded. */
uint8_t *ctl_cert_read_der(const char *path, size_t *len);
/* The lowercase hex SHA-256 of the DER of path's (first) certificate into out: 0, or -1
 * said on stderr. */
int ctl_ca_sha256(const char *path, char out[65]);
/* Signs join request j (name, key, CSR, reserved addresses) with wiresync-ca in c->ca_dir,
 * adding groups; or, when ca_dir/NAME.crt already holds the CSR's key (an Approve that was
 * lost), takes that. A renewal (j->renewal) is signed with --not-after not_after and
 * --force over NAME.crt when that is still its current certificate. CTL_EXIT_OK with *der
 * (malloc'd, caller frees) and *len, or an exit status with the reason (wiresync-ca's
 * messages too) on stderr and *der NULL. */
int ctl_ca_sign(const struct ctl *c, const Wiresync__V1__PendingJoin *j,
    const char *const *groups, size_t n_groups, const char *not_after, uint8_t **der,
    size_t *len);

/* Commands: argc/argv start at the command's name; each returns an exit status. */
int cmd_peers(struct ctl *c, int argc, char **argv);
int cmd_show(struct ctl *c, int argc, char **argv);
int cmd_remove(struct ctl *c, int argc, char **argv);
int cmd_add_static(struct ctl *c, int argc, char **argv);
int cmd_status(struct ctl *c, int argc, char **argv);
int cmd_genconf(struct ctl *c, int argc, char **argv);
int cmd_backup(struct ctl *c, int argc, char **argv);
int cmd_check_policy(struct ctl *c, int argc, char **argv);
int cmd_policy(struct ctl *c, int argc, char **argv);
int cmd_can_pair(struct ctl *c, int argc, char **argv);
int cmd_pending(struct ctl *c, int argc, char **argv);
int cmd_approve(struct ctl *c, int argc, char **argv);
int cmd_deny(struct ctl *c, int argc, char **argv);
int cmd_token(struct ctl *c, int argc, char **argv);
int cmd_audit(struct ctl *c, int argc, char **argv);
/* ctl/links.c */
int cmd_links(struct ctl *c, int argc, char **argv);
int cmd_why(struct ctl *c, int argc, char **argv);

/* ctl/token.c: "30m", "1h", "7d" (a positive number and s, m, h or d, at most 366 days)
 * as seconds into *out: 0, or -1 for anything else. */
int ctl_duration_parse(const char *s, int64_t *out);

#endif
