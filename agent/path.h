/* Which endpoint to write for a peer: our guess (agent/endpoint.c) or the one WireGuard
 * roamed to from authenticated packets. A guess is only a guess; a NAT mapping WireGuard
 * learned and that still carries a live session is a fact. No I/O. */
#ifndef WS_PATH_H
#define WS_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PATH_LIVE_S 180     /* WireGuard's REJECT_AFTER_TIME: a session older is dead */

enum path_from {
	PATH_NONE,          /* no address known */
	PATH_LAN,           /* our guess: the peer's address on our LAN */
	PATH_WAN,           /* our guess: a NAT (WAN) endpoint, from the peer's record */
	PATH_ROAMED,        /* WireGuard's: learned from the peer's authenticated packets */
};

struct path_in {
	const struct sockaddr_storage *guess;      /* NULL: no candidate */
	bool guess_lan;                            /* the guess is a LAN address */
	const struct sockaddr_storage *last_guess; /* the guess decided last time; NULL unknown
	                                              (first reconcile since start) */
	const struct sockaddr_storage *actual;     /* on the interface; NULL none */
	const struct sockaddr_storage *kept;       /* the roamed endpoint kept last time; NULL
	                                              or family 0 none */
	int64_t last_handshake_s;                  /* of the peer on the interface; 0 never */
	int64_t now_s;
};

struct path_choice {
	bool has_endpoint;
	struct sockaddr_storage endpoint;          /* what to write */
	enum path_from from;
	bool guess_changed;                        /* the guess differs from last_guess */
	bool newly_kept;                           /* PATH_ROAMED, and not the endpoint kept */
	int64_t handshake_age_s;                   /* now - last handshake; -1 never */
};

/* Keeps the interface's endpoint (PATH_ROAMED) when it differs from a NAT guess that has
 * not changed since last time and the peer handshook less than PATH_LIVE_S ago: WireGuard
 * moved there because the peer's packets come from there, and writing the guess back would
 * cut a working tunnel. A LAN guess, a new guess (the peer's record or our network changed,
 * or the trial moved on) or a dead session writes the guess. Never fails. */
void path_choose(const struct path_in *in, struct path_choice *out);

/* "roamed", "lan", "wan" or "-". */
const char *path_from_name(enum path_from from);

/* Same family, address and port (IPv4 or IPv6); false when either is NULL. */
bool path_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);

#endif
