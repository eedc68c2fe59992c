/* Private to the ws-call test client: its options, the helpers its subcommands share, and
 * the subcommands kept in ws-call-watch.c and ws-call-load.c. */
#ifndef WS_CALL_H
#define WS_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "proto/wiresync.pb-c.h"
#include "rpc/h2client.h"

/* The exit status of a local error (gRPC codes end at 16). */
#define EXIT_LOCAL 100

struct opts {
	const char *server, *cert, *key, *ca, *content_type;
	uint64_t timeout_ms;
	bool header_only;
};

/* Prints the usage and exits with EXIT_LOCAL. */
void wc_usage(void) __attribute__((noreturn));
/* k in base64 into out, or "(N bytes)" when it is no WireGuard key. */
char *wc_b64(const uint8_t *k, size_t len, char out[45]);
void wc_print_peer(const Wiresync__V1__Peer *p);
/* Prints "STATUS: message" unless status is OK; returns status. */
int wc_finish(int status, const char *message);

/* ws-call-watch.c: the Watch req (path, req_len bytes) on client; options in argv. */
int wc_run_watch(struct loop *loop, struct rpc_client *client, const char *path, const uint8_t *req,
    size_t req_len, uint64_t timeout_ms, int argc, char **argv);
int wc_run_watch_many(struct loop *loop, SSL_CTX *ctx, const struct opts *o, int argc, char **argv);

/* ws-call-load.c: argv[0] is the subcommand's name. */
int wc_run_burst(struct loop *loop, struct rpc_client *client, int argc, char **argv,
    uint64_t timeout);
/* Each client connects with its own identity from argv's DIR and PREFIX. */
int wc_run_updates(struct loop *loop, const struct opts *o, int argc, char **argv);
/* Needs no server: writes DIR/PREFIX<i>.{crt,key,pub}. */
int wc_run_mint(int argc, char **argv);

#endif
