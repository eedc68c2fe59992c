/* Test helper for the store suites (check_store.c, check_store_file.c, check_store_log.c):
 * a fresh directory per test, two sample peers, deep copies of what a foreach saw, and
 * comparisons. */
#ifndef WS_STORETEST_H
#define WS_STORETEST_H

#include <stdint.h>

#include "server/store.h"

#define MAX_SEEN 16

/* Set by stest_dir_setup: the directory, the database path in it, an error buffer and
 * the certificate bytes peer_full points at. */
extern char t_dir[64];
extern char t_db[96];
extern char t_err[256];
extern uint8_t t_cert[700];

/* What a foreach saw: deep copies, so they outlive the callback. */
struct seen {
	size_t n;
	struct peer p[MAX_SEEN];
	uint8_t cert[MAX_SEEN][sizeof(t_cert)];
};

/* The checked fixture of every store case; the teardown removes the database files. */
void stest_dir_setup(void);
void stest_dir_teardown(void);

/* Parses text (an address, prefix optional) into out or fails the test. */
void stest_addr(const char *text, struct netaddr *out);
/* A host with IPv4 addresses only, no lan_id and no certificate. */
void stest_peer_v4(struct peer *p, uint8_t keybyte);
/* A host with every field set: IPv6 everywhere, a full lan_id and a certificate. */
void stest_peer_full(struct peer *p, uint8_t keybyte);
/* Asserts every field of a and b equal. */
void stest_assert_peer_equal(const struct peer *a, const struct peer *b);
/* A store_peers_foreach callback filling a struct seen. */
int stest_collect(const struct peer *p, void *arg);
/* Every peer of st, in a static struct seen overwritten by the next call. */
struct seen *stest_walk(struct store *st);
/* store_open of t_db, or the test fails with the store's message. */
struct store *stest_open_ok(void);
/* One transaction that puts p and commits revision. */
void stest_put_commit(struct store *st, const struct peer *p, uint64_t revision);

#endif
