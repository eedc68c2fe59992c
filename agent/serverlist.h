/* The agent's servers: the `server` key's comma-separated HOST:PORT entries, each expanded
 * to the addresses its name resolves to (a name with several addresses is several servers),
 * and which of them is current. Every connection of the agent (Watch, Update, link reports,
 * renewal) goes to the current one, so the host is online on exactly one server. A failure
 * that says the current server is away moves to the next; a round over the whole list ends
 * with the backoff's delay (full jitter), the servers of one round are tried at once. Pure:
 * the caller resolves names, connects and logs. */
#ifndef WS_SERVERLIST_H
#define WS_SERVERLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rpc/backoff.h"

#define SERVERLIST_ENTRIES_MAX 16
#define SERVERLIST_ADDRS_MAX 8          /* addresses kept per entry */
#define SERVERLIST_ENTRY_MAX 300        /* one HOST:PORT, with its NUL */
#define SERVERLIST_NAME_MAX (SERVERLIST_ENTRY_MAX + 64)

struct serverlist_target {
	unsigned entry;                 /* index into entry[] */
	struct sockaddr_storage addr;   /* family AF_UNSPEC: not resolved, connect by name */
	socklen_t addrlen;
};

/* Caller-owned (large: put it in a heap object); serverlist_init fills it. */
struct serverlist {
	char entry[SERVERLIST_ENTRIES_MAX][SERVERLIST_ENTRY_MAX];
	size_t n_entries;
	struct serverlist_target target[SERVERLIST_ENTRIES_MAX * SERVERLIST_ADDRS_MAX];
	size_t n_targets;               /* >= n_entries: an entry has one target at least */
	size_t cur;                     /* the current target */
	size_t round_start;             /* where the round of failures began */
	uint64_t gen;                   /* bumped whenever cur moves */
	bool up;                        /* cur worked since it became current */
	struct backoff backoff;         /* between rounds */
};

/* Splits value ("a.example:7443, [2001:db8::1]:7443"; blanks around entries ignored) and
 * checks each entry as HOST:PORT (common/confcheck.h). false with why naming the entry by
 * position and value and what is wrong ("entry 2 \"b.example\": not HOST:PORT ..."): an
 * empty entry, a repeated one, more than SERVERLIST_ENTRIES_MAX. On true, every entry has
 * one unresolved target, the first is current, and the backoff is base_ms..cap_ms. */
bool serverlist_init(struct serverlist *sl, const char *value, uint32_t base_ms,
    uint32_t cap_ms, char *why, size_t whylen);

/* HOST (no brackets) and PORT of an entry checked by serverlist_init. */
void serverlist_entry_split(const char *entry, char *host, size_t hostlen, char *port,
    size_t portlen);

/* Entry e now resolves to addrs[0..n) (AF_INET or AF_INET6; others, repeats and any past
 * SERVERLIST_ADDRS_MAX are dropped; n 0: one unresolved target, the name is tried as it
 * is). The current target stays current when its address is still there; else the first
 * target of its entry is. The generation does not change. */
void serverlist_resolved(struct serverlist *sl, size_t e, const struct sockaddr_storage *addrs,
    size_t n);

static inline const struct serverlist_target *
serverlist_current(const struct serverlist *sl)
{
	return &sl->target[sl->cur];
}

static inline const char *
serverlist_current_entry(const struct serverlist *sl)
{
	return sl->entry[sl->target[sl->cur].entry];
}

/* Whether a call that ended with status and message says that the server is unreachable
 * or going away: UNAVAILABLE (connect refused or timed out, a TLS failure, a GOAWAY, a
 * refused stream, a server that vanished) or a stream the server reset; never while our
 * own certificate is refused (refused: agent/refusal.h says so; every server shares the
 * CA, another would refuse it too), nor a certificate refusal in message itself. */
bool serverlist_fails_over(int status, const char *message, bool refused);

enum serverlist_move {
	SERVERLIST_STALE,       /* gen is not the current one: it moved already, nothing to do */
	SERVERLIST_NEXT,        /* moved to the next server of this round: try it now */
	SERVERLIST_ROUND,       /* every server failed this round: the round's first, after
	                         * *delay_ms */
};

/* The current server (of generation gen, that the failed connection was made to) failed
 * in a way serverlist_fails_over says is a reason to leave it. *delay_ms is how long to
 * wait before connecting to the new current one (0 but at a round's end). */
enum serverlist_move serverlist_failed(struct serverlist *sl, uint64_t gen, uint32_t *delay_ms);

/* A connection of generation gen to the current server works: rounds begin here now and
 * the backoff starts over. A stale gen changes nothing. */
void serverlist_ok(struct serverlist *sl, uint64_t gen);

/* Target t for logs and --show: its entry, and the address it stands for when the entry
 * is a name ("sync.example:7443 (192.0.2.7)"). buf, of SERVERLIST_NAME_MAX bytes. */
const char *serverlist_name(const struct serverlist *sl, size_t t, char *buf, size_t len);

#endif
