/* The agent's pairing policy: verify, compare versions, keep the newest (agent/policyhold.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "agent/policyhold.h"
#include "agent/state.h"
#include "common/policy_cms.h"

int
policyhold_init(struct policyhold *ph, X509 *ca, const char *state_dir, char *err,
    size_t errlen)
{
	uint8_t *der = NULL;
	size_t len = 0;
	int r;

	memset(ph, 0, sizeof(*ph));
	ph->ca = ca;
	snprintf(ph->path, sizeof(ph->path), "%s/policy.cms", state_dir);
	r = state_blob_load(ph->path, &der, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot read: %s", ph->path, strerror(-r));
		return -1;
	}
	r = policy_cms_verify(der, len, ca, ph->path, &ph->pol, err, errlen);
	if (r == 0) {
		ph->have = true;
		SHA256(der, len, ph->sha256);
	}
	free(der);
	return r == 0 ? 0 : -1;
}

void
policyhold_free(struct policyhold *ph)
{
	policy_free(&ph->pol);
	ph->have = false;
}

enum policyhold_offer
policyhold_offer(struct policyhold *ph, const uint8_t *der, size_t len, char *err,
    size_t errlen)
{
	struct policy fresh;
	uint8_t sha[32];
	int r;

	SHA256(der, len, sha);
	if (ph->have && memcmp(sha, ph->sha256, sizeof(sha)) == 0)
		return POLICYHOLD_SAME;
	r = policy_cms_verify(der, len, ph->ca, "the policy the server sent", &fresh, err,
	    errlen);
	if (r < 0)
		return POLICYHOLD_REFUSED;
	if (ph->have && fresh.version <= ph->pol.version) {
		snprintf(err, errlen, "the policy the server sent is version %llu; keeping version "
		    "%llu, %s", (unsigned long long)fresh.version,
		    (unsigned long long)ph->pol.version, fresh.version < ph->pol.version ?
		    "which is newer" : "which has other content under the same version");
		policy_free(&fresh);
		return POLICYHOLD_REFUSED;
	}
	policy_free(&ph->pol);
	ph->pol = fresh;
	ph->have = true;
	memcpy(ph->sha256, sha, sizeof(sha));
	err[0] = '\0';
	if (state_blob_save(ph->path, der, len) < 0)
		snprintf(err, errlen, "%s: cannot save the policy (a restart would fall back to "
		    "the one saved before)", ph->path);
	return POLICYHOLD_TAKEN;
}

bool
policyhold_pairs(const struct policyhold *ph, const struct cert_identity *self,
    const struct cert_identity *peer, char *rule, size_t len)
{
	int r;

	if (!ph->have) {
		if (rule != NULL)
			snprintf(rule, len, "no policy");
		return true;
	}
	r = policy_pairs_certs(&ph->pol, self, peer);
	if (rule != NULL) {
		if (r >= 0)
			policy_rule_format(&ph->pol.rules[r], rule, len);
		else
			snprintf(rule, len, "no rule of policy version %llu",
			    (unsigned long long)ph->pol.version);
	}
	return r >= 0;
}

const uint8_t *
policyhold_sha256(const struct policyhold *ph)
{
	return ph->sha256;
}
