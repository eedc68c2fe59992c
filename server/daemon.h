/* wiresyncd's process state (server/main.c) and what keeps its CRLs, session ticket keys
 * and expiry warnings current (server/daemon_crl.c). Internal to the wiresyncd program. */
#ifndef WS_DAEMON_H
#define WS_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "rpc/loop.h"
#include "server/serverconf.h"

struct service;
struct rpc_server;
struct tls_tickets;
struct filewatch;
struct metrics;
struct relay_io;
struct policywatch;
struct hub_io;
struct enroll;
struct web;
struct store;

struct daemon {
	struct loop *loop;
	struct store *store;
	struct service *svc;
	struct rpc_server *server;
	SSL_CTX *ctx;
	const char *crl;
	struct tls_tickets *tickets;
	struct loop_timer ticket_timer;
	uint32_t ticket_rotate_s;            /* shared keys (daemon_tickets.c) */
	bool ticket_adding;
	struct filewatch *crl_watch;
	struct loop_timer expiry_timer;
	struct loop_timer crl_stale_timer;   /* when a CRL in force goes past its nextUpdate */
	bool crl_refuse;                     /* crl_stale = refuse */
	unsigned expiry_warn_days;
	struct metrics *metrics;
	struct relay_io *relay;              /* relay_listen; NULL when off */
	struct policywatch *policies;        /* policy; NULL when off */
	struct hub_io *hub;                  /* hub_interface; NULL when off */
	struct enroll *enroll;               /* join requests; the listener with enroll_listen */
	struct web *web;                     /* web_listen; NULL when off */
	bool stopping;
};

/* Seconds since the epoch. */
int64_t wall_s(void);
/* Reads the CRL file into force: later handshakes check it, live connections and stored
 * peers are swept now. 1 when it differs from the one in force, 0 the same, -1 with err
 * set (the one in force stays). */
int apply_crl(struct daemon *d, char *err, size_t errlen);
/* apply_crl, logged as why (SIGHUP, the file changed); a new CRL retires the ticket keys. */
void reload_crl(struct daemon *d, const char *why);
/* filewatch callback of the CRL file (arg the daemon). */
void on_crl_file(void *arg);
/* The daily expiry warnings (arg the daemon); arms itself again. */
void on_expiry_timer(void *arg);
/* Opens the session ticket keys of conf and their rotation timer. 0 or -1 with err. */
int open_tickets(struct daemon *d, const struct serverconf *conf, char *err, size_t errlen);
/* daemon_tickets.c: the keys of a shared store, read a minute and rotated by whichever
 * server finds them due; 0 or -1 with err. A new CRL adds a key and drops the others. */
int open_shared_tickets(struct daemon *d, uint32_t rotate_s, char *err, size_t errlen);
void forget_shared_tickets(struct daemon *d);

#endif
