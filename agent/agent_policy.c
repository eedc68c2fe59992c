/* The agent's side of the pairing policy: the newest one its CA signed (agent/policyhold.h)
 * decides which verified records become peers; a new one takes peers it no longer pairs
 * off the interface and brings back refused records it now pairs. Part of the agent
 * (agent_impl.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>

#include "agent/agent_impl.h"
#include "rpc/log.h"

int
agent_policy_init(struct agent *a, char *err, size_t errlen)
{
	FILE *fp = fopen(a->conf->ca, "r");
	char why[512];

	if (fp == NULL) {
		snprintf(err, errlen, "ca %s: %s", a->conf->ca, strerror(errno));
		return -1;
	}
	a->policy_ca = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if (a->policy_ca == NULL) {
		snprintf(err, errlen, "ca %s: no PEM certificate", a->conf->ca);
		return -1;
	}
	/* a saved policy that does not verify (the CA was replaced?) is no policy */
	if (policyhold_init(&a->policy, a->policy_ca, a->conf->state_dir, why, sizeof(why)) < 0)
		log_warnx("%s; holding no pairing policy until the server sends one", why);
	else if (a->policy.have)
		log_info("pairing policy version %llu (%zu rules) from %s",
		    (unsigned long long)a->policy.pol.version, a->policy.pol.n, a->policy.path);
	return 0;
}

void
agent_policy_free(struct agent *a)
{
	policyhold_free(&a->policy);
	X509_free(a->policy_ca);
	a->policy_ca = NULL;
}

bool
agent_policy_pairs(const struct agent *a, const struct cert_identity *id, char *rule,
    size_t len)
{
	return policyhold_pairs(&a->policy, &a->self, id, rule, len);
}

void
agent_on_policy(void *arg, const uint8_t *der, size_t len)
{
	struct agent *a = arg;
	char err[512];

	switch (policyhold_offer(&a->policy, der, len, err, sizeof(err))) {
	case POLICYHOLD_SAME:
		log_debug("the server's pairing policy is the one held");
		return;
	case POLICYHOLD_REFUSED:
		log_warnx("refusing the server's pairing policy: %s", err);
		return;
	case POLICYHOLD_TAKEN:
		break;
	}
	if (err[0] != '\0')
		log_warnx("%s", err);
	log_info("pairing policy version %llu (%zu rules) now in force", (unsigned long long)
	    a->policy.pol.version, a->policy.pol.n);
	agent_recheck(a, "is paired by the policy now");
}
