/* The server's policy on client PINGs (pure logic, no I/O): what gRPC's own servers do
 * (C-core's ping abuse policy, grpc-go's pingStrikes). A PING that follows the previous
 * one closer than the allowed interval is a strike; past max_strikes the connection is
 * ended. Whenever the server sends HEADERS or DATA the slate is wiped: stock clients PING
 * while they receive (BDP probes, keepalive watchers), and only a client that PINGs a
 * connection the server has been silent on is flooding it. */
#ifndef WS_PINGPOLICY_H
#define WS_PINGPOLICY_H

#include <stdbool.h>
#include <stdint.h>

#define PING_POLICY_MAX_STRIKES 2u    /* C-core's and grpc-go's default */

struct ping_policy {
	uint64_t last_ms;     /* the last client PING counted since the wipe */
	uint8_t strikes;
	bool have_last;       /* false right after a wipe: the next PING is free */
};

/* A clean slate (also the state of a new connection). */
void ping_policy_init(struct ping_policy *p);

/* The server sent HEADERS or DATA on the connection: strikes and the PING clock start over. */
void ping_policy_reset(struct ping_policy *p);

/* A client PING arrived at now_ms; min_ms is the shortest allowed gap to the previous one
 * (it depends on whether streams are open). Returns true when this PING is one strike past
 * max_strikes: the caller ends the connection (GOAWAY ENHANCE_YOUR_CALM "too_many_pings"). */
bool ping_policy_received(struct ping_policy *p, uint64_t now_ms, uint32_t min_ms,
    unsigned max_strikes);

#endif
