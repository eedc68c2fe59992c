/* Join requests waiting for an operator (issue 13): bounded in number, in age and per source
 * address, keyed by the CSR so that an interrupted join resumes its request. Pure: no I/O,
 * no clock (now is passed in); the caller stores what it must keep (server/enroll_store.c
 * saves every change and loads the requests back at start with pending_load). */
#ifndef WS_PENDING_H
#define WS_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cert.h"
#include "common/netaddr.h"

#define PENDING_CODE_LEN 9          /* "ABCD-EFGH" */

enum pending_state { PENDING_WAITING, PENDING_APPROVED, PENDING_DENIED };

struct pending_req {
	uint64_t id;
	char name[CERT_NAME_MAX + 1];
	uint8_t key[WG_KEY_LEN];
	uint8_t csr_sha256[32];
	char code[PENDING_CODE_LEN + 1];
	struct netaddr source;
	int64_t created_s;
	enum pending_state state;
	void *user;                 /* the caller's (pending_set_user), freed with the request */
	bool renewal;               /* WireSync.Renew: an enrolled host renewing its certificate */
	uint8_t *current;           /* a renewal's: the certificate it connected with, DER;
	                             * owned by the table, freed with the request */
	size_t current_len;
};

struct pending_limits {
	size_t max_requests;        /* at once (256) */
	uint32_t max_age_s;         /* a request older is dropped (86400) */
	size_t max_per_source;      /* waiting at once from one IPv4 address or IPv6 /64 (32) */
	size_t max_new_per_min;     /* new ones from one source in the last 60 s (10) */
	void (*user_free)(void *user);  /* frees pending_req.user when a request goes */
};

struct pending_table;

/* NULL on ENOMEM; lim NULL: the defaults above. */
struct pending_table *pending_new(const struct pending_limits *lim);
void pending_del(struct pending_table *t);

enum pending_add_result {
	PENDING_ADDED,              /* a new request: *out */
	PENDING_RESUMED,            /* the same CSR asked before: *out is that request */
	PENDING_FULL,               /* max_requests waiting: try later */
	PENDING_SOURCE_BUSY,        /* max_per_source waiting from this source */
	PENDING_RATE,               /* max_new_per_min from this source in the last minute */
	PENDING_CONFLICT,           /* another CSR, not denied, has this key or name */
};

/* Asks for name with key, the CSR's SHA-256 csr_sha256, from source at now (expired
 * requests are dropped first). ids are never reused. *out (on ADDED or RESUMED) is valid
 * until the next change to t. */
enum pending_add_result pending_add(struct pending_table *t, const char *name,
    const uint8_t key[WG_KEY_LEN], const uint8_t csr_sha256[32], const struct netaddr *source,
    int64_t now, const struct pending_req **out);

/* When the table is full, makes room for a new request from source: drops the oldest
 * denied request, or else the newest waiting one of the source that holds the most when
 * it holds at least two more than source does, so that a flood from fewer addresses than
 * max_requests cannot keep a new host out (approved requests and renewals are never
 * dropped). The
 * dropped id into *dropped (the caller drops it from the store); false when nothing may
 * be dropped (every source holds about as many as source: try later). */
bool pending_make_room(struct pending_table *t, const struct netaddr *source,
    uint64_t *dropped);

/* Asks for the renewal of an enrolled host's certificate: as pending_add, but no source
 * or rate bound applies (the host is authenticated) and current (malloc'd DER of the
 * certificate it connected with, current_len bytes) is taken on PENDING_ADDED only; on
 * any other result it stays the caller's. CONFLICT: a request that is no renewal, not
 * denied, has this key or name, or a renewal of this key with another CSR is there (the
 * caller drops that one first: a host asks again with a new CSR after a restart). */
enum pending_add_result pending_add_renewal(struct pending_table *t, const char *name,
    const uint8_t key[WG_KEY_LEN], const uint8_t csr_sha256[32], const struct netaddr *source,
    int64_t now, uint8_t *current, size_t current_len, const struct pending_req **out);

/* Puts back a request kept across a restart (the store's copy of r: its id, code, state
 * and time are kept; r->user and r->current are taken, freed on failure) and raises the next
 * id above it. -ETIME (dropped: older than max_age_s at now), -EEXIST (the id or CSR is
 * there), -ENOSPC (max_requests), or 0. */
int pending_load(struct pending_table *t, const struct pending_req *r, int64_t now);
/* The next id will be at least next (ids stay above every id ever given). */
void pending_next_id_raise(struct pending_table *t, uint64_t next);
/* The id the next request gets. */
uint64_t pending_next_id(const struct pending_table *t);

/* The request id, or NULL. */
const struct pending_req *pending_get(const struct pending_table *t, uint64_t id);
/* The request made with the CSR of this SHA-256 (a host's poll), or NULL. */
const struct pending_req *pending_by_csr(const struct pending_table *t,
    const uint8_t csr_sha256[32]);
/* Sets the state of request id (approve, deny); false when there is none. */
bool pending_set_state(struct pending_table *t, uint64_t id, enum pending_state st);
/* Sets the caller's data of request id (the table frees it with user_free when the
 * request goes, the old data first); false when there is none (user is not taken). */
bool pending_set_user(struct pending_table *t, uint64_t id, void *user);
/* Drops request id; false when there is none. */
bool pending_remove(struct pending_table *t, uint64_t id);
/* Drops every request older than max_age_s at now; returns how many. */
size_t pending_expire(struct pending_table *t, int64_t now);
/* Requests in id order; fn returning non-zero stops. */
int pending_foreach(const struct pending_table *t,
    int (*fn)(const struct pending_req *r, void *arg), void *arg);
size_t pending_count(const struct pending_table *t);
/* Drops every request (each user freed); the rate of new requests per source stays. */
void pending_clear(struct pending_table *t);

/* The short code an operator compares with what the host printed: the first 40 bits of
 * the CSR's SHA-256 in RFC 4648 base32, as "ABCD-EFGH" (9 characters and a NUL). */
void pending_code(const uint8_t csr_sha256[32], char out[PENDING_CODE_LEN + 1]);

#endif
