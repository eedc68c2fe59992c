/* The pairing policy an agent enforces: the newest policy.cms signed by its CA's key that it
 * has seen, kept in state_dir so that neither a restart nor a server can take it back to an
 * older one. A peer is installed only when that policy pairs the two certificates; with no
 * policy at all, everyone pairs (the behaviour of a network without one). */
#ifndef WS_POLICYHOLD_H
#define WS_POLICYHOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "common/cert.h"
#include "common/policy.h"

struct policyhold {
	X509 *ca;                   /* borrowed: the agent's CA */
	char path[4096];            /* state_dir/policy.cms */
	bool have;
	struct policy pol;
	uint8_t sha256[32];         /* of the policy.cms held; zero when none */
};

enum policyhold_offer {
	POLICYHOLD_TAKEN,           /* newer: now in force (and saved) */
	POLICYHOLD_SAME,            /* the one held */
	POLICYHOLD_REFUSED,         /* not signed by the CA, malformed, older, or other content
	                               under the version held: err says which */
};

/* Sets ph up with ca (borrowed) and takes state_dir/policy.cms when it is there and valid.
 * Returns 0 (no file is no policy), or -1 with err when the file is there but unreadable or
 * not a policy of ca (ph then holds none). */
int policyhold_init(struct policyhold *ph, X509 *ca, const char *state_dir, char *err,
    size_t errlen);
/* Frees what ph holds; accepts a zeroed one. */
void policyhold_free(struct policyhold *ph);

/* A policy.cms the server relayed (len bytes). TAKEN saves it before it answers; a save
 * that fails is logged by the caller from err (the policy is still in force). */
enum policyhold_offer policyhold_offer(struct policyhold *ph, const uint8_t *der, size_t len,
    char *err, size_t errlen);

/* Whether self and peer pair under the policy held; rule (may be NULL, len bytes) gets the
 * rule that pairs them ("laptops <-> servers (line 3)"), "no policy", or "no rule". */
bool policyhold_pairs(const struct policyhold *ph, const struct cert_identity *self,
    const struct cert_identity *peer, char *rule, size_t len);

/* The SHA-256 of the policy held, for WatchRequest.policy_sha256: 32 bytes at a pointer
 * that stays valid and current as long as ph; all zero while none is held. */
const uint8_t *policyhold_sha256(const struct policyhold *ph);

#endif
