/* The pairing policies in force (`policy = PATH[, PATH]...`): at most one per CA of the
 * server's trust store, each the policy.cms its CA's key signed, for that CA's network. A
 * network without one pairs everyone (the behaviour without a policy). The server filters
 * what each host sees by it and relays the signed bytes to the agents, which check them
 * themselves. */
#ifndef WS_POLICYSET_H
#define WS_POLICYSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "common/cert.h"
#include "common/policy.h"

struct policyset;

struct policy_info {
	const char *network;        /* O of the CA that signed it */
	const char *path;           /* the file it came from */
	uint64_t version;
	size_t rules;
	const uint8_t *der;         /* the signed bytes, to relay (borrowed) */
	size_t der_len;
	const uint8_t *sha256;      /* of der, 32 bytes */
	const struct policy *pol;   /* the rules (borrowed) */
};

/* Reads each file of paths (comma-separated; spaces around commas ignored) and matches
 * it to the CA of cas whose key signed it. At most one policy per CA. Returns the set
 * (policyset_del) or NULL with err naming the file and what is wrong (unreadable, not
 * signed by any of the CAs, two for one CA, a bad rule at file:line:col). */
struct policyset *policyset_read(const char *paths, X509_STORE *cas, char *err,
    size_t errlen);
/* Accepts NULL. */
void policyset_del(struct policyset *s);

/* Number of policies, and the i-th (i < policyset_count). s may be NULL (0). */
size_t policyset_count(const struct policyset *s);
void policyset_info(const struct policyset *s, size_t i, struct policy_info *out);

/* The policy of network; false when it has none (s may be NULL). */
bool policyset_get(const struct policyset *s, const char *network, struct policy_info *out);

/* Whether the hosts of certificates a and b (both of network) pair: the network has no
 * policy (*rule = -1), or the rule *rule of its policy pairs them. rule may be NULL. */
bool policyset_pairs(const struct policyset *s, const char *network,
    const struct cert_identity *a, const struct cert_identity *b, int *rule);

/* Whether fresh may replace old: no network's policy goes back to an older version, or
 * to other content under the same version. false with err naming the file, the network
 * and both versions. Either may be NULL. */
bool policyset_newer(const struct policyset *fresh, const struct policyset *old, char *err,
    size_t errlen);

/* True when network's policy differs between a and b (either may be NULL). */
bool policyset_changed(const struct policyset *a, const struct policyset *b,
    const char *network);

#endif
