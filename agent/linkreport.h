/* What the agent tells the server about each peer it manages (WireSync.ReportLinks, issue
 * 16): the path, the endpoint WireGuard uses, the last handshake, the byte counters and,
 * when the link is down, why. Pure: the agent reads the interface and its peers' paths
 * (agent/peerpath.h) into linkreport_in, and this module builds the entries and decides
 * when a report is due. No I/O, no clock.
 *
 * When to send. A change of the set of peers, of a peer's path, endpoint or up/down sends
 * at once, but never sooner than min_interval_s (the server's) after the previous attempt;
 * otherwise a report goes every LINKREPORT_EVERY_S. Byte counters alone are no change: they
 * move all the time; a handshake is one only when the one sent is LINKREPORT_HS_GAP_S older
 * (the server judges a pair by the age of its handshakes: a rekey goes to it soon).
 *
 * A stall. Toward a peer not on our LAN both ends run persistent keepalive (keepalive_s),
 * so on a working tunnel rx_bytes grows at least that often; when it has not grown for
 * LINKREPORT_STALL_MUL * keepalive_s + LINKREPORT_STALL_SLACK_S (and we watched that long)
 * the link is down, however recent its handshake: a cut shows in seconds, not after the
 * 180 s session. Caveat: a peer that only receives (a one-way flow toward it) answers with
 * WireGuard's passive keepalive, every 10 s; a keepalive_s under 4 s can call such a link
 * down for a moment. */
#ifndef WS_LINKREPORT_H
#define WS_LINKREPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/peerpath.h"

#define LINKREPORT_MAX 1024          /* links in one report; the server takes no more */
#define LINKREPORT_EVERY_S 30        /* a report at least this often while nothing changes */
#define LINKREPORT_UP_S 180          /* a handshake this recent: up (WireGuard's session) */
#define LINKREPORT_MIN_S 5           /* the least gap until the server names one */
#define LINKREPORT_HS_GAP_S 90       /* a handshake this much newer than the one sent: a change */
#define LINKREPORT_PATH_MAX 16
#define LINKREPORT_EP_MAX 64
#define LINKREPORT_REASON_MAX 120
#define LINKREPORT_STALL_MUL 2       /* keepalives missed, */
#define LINKREPORT_STALL_SLACK_S 2   /* and this much more: nothing received, down */

/* One managed peer as the agent knows it. */
struct linkreport_in {
	uint8_t key[32];
	bool refused;                        /* held aside: the policy does not pair us */
	bool online;                         /* the server says it is connected */
	enum peerpath_state state;
	bool has_kind;                       /* the candidate in use (TRIAL, DIRECT, PROBE) */
	enum peerpath_kind kind;
	size_t n_cands;                      /* direct candidates */
	bool relay;                          /* a relay is known */
	const char *endpoint;                /* "ip:port" on the interface; NULL or "" none */
	int64_t last_handshake_s;            /* 0 never */
	uint64_t rx_bytes, tx_bytes;
	unsigned keepalive_s;                /* both ends keep the tunnel alive this often; 0 */
};

struct linkreport_entry {
	uint8_t key[32];
	bool up;
	char path[LINKREPORT_PATH_MAX];      /* "lan", "wan", "observed", "relay"; "" down */
	char endpoint[LINKREPORT_EP_MAX];
	int64_t last_handshake_ms;
	uint64_t rx_bytes, tx_bytes;
	char down_reason[LINKREPORT_REASON_MAX];
	int64_t down_since_s;                /* when it went down (0 up) */
	int64_t rx_since_s;                  /* rx_bytes has been this value since (0 none) */
	unsigned keepalive_s;                /* the one rx_since_s was watched under */
};

/* Caller-owned state: the last entries built (for how long each is down) and sent. */
struct linkreport {
	struct linkreport_entry *built, *sent;   /* sorted by key */
	size_t n_built, n_sent;
	bool ever_sent;
	int64_t attempted_s;                 /* the last report's start; 0 none */
	uint32_t min_interval_s;             /* the server's; LINKREPORT_MIN_S until it says */
};

void linkreport_init(struct linkreport *lr);
void linkreport_free(struct linkreport *lr);

/* Builds the entries of in[0..n) (at most LINKREPORT_MAX; the rest are left out) into
 * *out (malloc'd, sorted by key; the caller frees it) and remembers them. Returns the
 * count, or -ENOMEM (*out NULL). */
int linkreport_build(struct linkreport *lr, const struct linkreport_in *in, size_t n,
    int64_t now_s, struct linkreport_entry **out);

/* Whether the entries linkreport_build returned last should be sent at now_s; when not,
 * *next_s says when to ask again. */
bool linkreport_due(const struct linkreport *lr, int64_t now_s, int64_t *next_s);

/* A report of the last built entries starts at now_s. */
void linkreport_attempted(struct linkreport *lr, int64_t now_s);
/* It was taken: they are what the server has; min_interval_s the reply's (0: keep).
 * 0 or -ENOMEM. */
int linkreport_sent(struct linkreport *lr, uint32_t min_interval_s);

/* Why a link is down into buf (len bytes), for in at now_s, down since down_since_s;
 * "" when it is up. */
void linkreport_reason(const struct linkreport_in *in, int64_t now_s, int64_t down_since_s,
    char *buf, size_t len);

#endif
