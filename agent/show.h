/* wiresync-agent --show: one line per verified peer, the endpoint in use on the interface
 * and where it came from. Formatting only; the agent gathers the rows. */
#ifndef WS_SHOW_H
#define WS_SHOW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "wg/wg.h"
#include "common/netaddr.h"

struct show_row {
	const char *name;
	const uint8_t *key;                    /* WG_KEY_LEN bytes */
	const struct sockaddr_storage *guess;  /* the agent's choice; NULL: no address known */
	bool guess_lan;
	bool guess_observed;                   /* the guess is the NAT mapping the server saw */
	const struct wg_peer *wp;              /* on the interface; NULL: not configured */
	const char *path;                      /* the running agent's path (agent/peerpath.h
	                                          reasons: lan, observed, wan, relay, roamed,
	                                          trying X, probing X); NULL: unknown */
	const struct netaddr *tunnel;
	size_t n_tunnel;
	const char *rule;                      /* the pairing policy's rule that pairs us, or
	                                          "no policy"; NULL: unknown */
};

/* The column titles. */
void show_header(FILE *out);
/* One peer: ENDPOINT is the interface's (else the guess), FROM where it came from (roamed:
 * WireGuard learned it from the peer's packets and the agent keeps it; lan, wan: the
 * agent's guess; pending: the agent will write its guess over it), WHY the guess, PATH
 * the path the running agent chose ("-" when it has not said), PAIRED BY the policy's rule
 * that pairs the two hosts. */
void show_row(FILE *out, const struct show_row *r, int64_t now_s);

#endif
