/* The benchmark's private header: options, simulated agents, the shared run state, and
 * what bench/agents.c (connections and calls) and bench/scenarios.c export to each other
 * and to bench/main.c. */
#ifndef WS_BENCH_BENCH_H
#define WS_BENCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "bench/certgen.h"
#include "rpc/h2client.h"
#include "rpc/loop.h"

#define PATH_UPDATE "/wiresync.v1.WireSync/Update"
#define PATH_WATCH "/wiresync.v1.WireSync/Watch"
#define FANOUT_PORT_BASE 20000u
#define BENCH_SERVERS_MAX 8         /* --watch-server and --pid, each */

enum scenario { SC_ISSUE, SC_UPDATE, SC_FANOUT, SC_IDLE, SC_RECONNECT };

struct opts {
	enum scenario sc;
	const char *server, *ca_cert, *ca_key, *trust, *network, *restart, *pid_file, *out_dir;
	long connections, streams, total, watchers, changes, window, peers;
	long pid, seed;                /* pid: the first --pid */
	long pids[BENCH_SERVERS_MAX];  /* every --pid: server CPU is their sum */
	size_t n_pids;
	/* fanout: the watchers' servers, watcher i on watch_servers[i % n] (none: --server) */
	const char *watch_servers[BENCH_SERVERS_MAX];
	size_t n_watch_servers;
	double settle_s, timeout_s;
	bool json, snapshot;
};

struct bench;

struct agent {
	struct bench *b;
	uint32_t idx;
	const char *server;           /* HOST:PORT to connect to; NULL: --server */
	struct identity id;
	struct rpc_client *client;
	struct rpc_client_call *watch;
	SSL_SESSION *sess;            /* newest ticket, offered on reconnect */
	uint64_t revision;            /* highest revision seen on the Watch */
	uint64_t hs_rx;               /* TCP bytes received when the handshake finished */
	uint64_t rx_after_hs;         /* bytes past the handshake, at the last measurement */
	uint64_t rx_first;            /* the same for the first connection (snapshot) */
	unsigned attempts, generation;
	bool in_window, queued, hs_seen, got_first, resumed, tls_reused, ended;
	struct loop_defer teardown;
	struct loop_timer retry;
	/* update */
	long sent, done;
	uint32_t port;
};

struct bench {
	struct opts o;
	struct loop *loop;
	SSL_CTX *ctx;
	struct certgen *gen;
	struct agent *agents;
	size_t n;
	double issue_s;
	/* connection window: agents waiting to connect, and handshakes in flight */
	uint32_t *queue;
	size_t q_head, q_len;
	long inflight;
	struct loop_defer start_defer;
	/* progress */
	long ready, failed, resumed, tls_resumed, snap_on_resume;
	bool reconnecting, stopping;
	/* update */
	long u_sent, u_done, u_ok, u_err;
	uint32_t *lat_us;
	/* fanout */
	struct agent *updater;
	struct agent *seeds;          /* --peers: identities that only Update, once */
	size_t n_total;               /* agents + updater + seeds */
	uint64_t *fan_recv;           /* [watcher * changes + change] receipt time, µs; 0 none */
	uint64_t *fan_ack;            /* [change] acknowledgement time */
	long *fan_got;
	long fan_cur;
	bool fan_acked;
	char updater_name[64];
};


/* agents.c: connections, calls and the loop */
extern int bench_ex_index;              /* SSL ex_data slot that points at the agent */
uint64_t now_us(void);
int on_new_session(SSL *ssl, SSL_SESSION *sess);
void on_tls_info(const SSL *ssl, int where, int ret);
uint64_t agent_rx_bytes(struct agent *a);
bool client_open(struct agent *a);
void update_send(struct agent *a, long slot);
void update_connect(struct agent *a);
bool run_until(struct bench *b, bool (*done)(struct bench *), double timeout_s, const char *what);
void run_for(struct bench *b, double seconds);
bool all_ready(struct bench *b);
void connect_all(struct bench *b, size_t n);
void stop_all(struct bench *b);
bool seed_peers(struct bench *b);

/* scenarios.c: each prints its figures; 0 when every call and agent succeeded, else 1 */
void fanout_acked(struct bench *b, int status, const char *message);
int scenario_issue(struct bench *b, size_t n);
int scenario_update(struct bench *b);
int scenario_fanout(struct bench *b);
int scenario_idle(struct bench *b);
int scenario_reconnect(struct bench *b);

#endif
