/* The agent: reports this host to the server, follows everyone else's records, verifies
 * them and keeps the WireGuard interface's peers in line. */
#ifndef WS_AGENT_H
#define WS_AGENT_H

#include <stdint.h>
#include <stdio.h>

#include <openssl/ssl.h>

#include "agent/agentconf.h"
#include "rpc/loop.h"

struct agent;

/* Checks that the interface exists and holds the key the certificate binds, loads the
 * peers added before from state_dir, and starts discovery, reporting and watching.
 * Returns NULL with err saying exactly what is wrong. conf and ctx are borrowed and must
 * outlive the agent. */
struct agent *agent_new(struct loop *l, const struct agentconf *conf, SSL_CTX *ctx, char *err,
    size_t errlen);
/* Prints the peer table from the saved peer set (agent/show.h: name, key, the endpoint in
 * use on the interface and where it came from, the guess and why, allowed IPs, handshake)
 * without changing anything. 0, or -1 with err set. */
int agent_show(const struct agentconf *conf, FILE *out, char *err, size_t errlen);

/* Stops and frees; peers on the interface stay as they are. Accepts NULL. */
void agent_del(struct agent *a);

#endif
