/* The pairing policy in the server (server/pairing.h). */
#include "config.h"

#include <string.h>

#include "server/pairing.h"

void
pairing_peer_groups(struct peer *p, const struct peer *old)
{
	struct cert_identity id;
	char err[256];

	if (p->groups_read)
		return;
	p->groups_read = true;
	if (old != NULL && old->groups_read && old->cert_len == p->cert_len &&
	    p->cert != NULL && old->cert != NULL && memcmp(old->cert, p->cert, p->cert_len) == 0) {
		p->n_groups = old->n_groups;
		memcpy(p->groups, old->groups, sizeof(p->groups));
		return;
	}
	p->n_groups = 0;
	if (p->cert == NULL || !cert_identity_from_der(p->cert, p->cert_len, &id, err,
	    sizeof(err)))
		return;
	p->n_groups = (uint8_t)id.n_groups;
	memcpy(p->groups, id.groups, sizeof(p->groups));
}

/* What the policy reads of a stored peer: its CN and groups. */
static void
subject_of(const struct peer *p, struct cert_identity *id)
{
	memcpy(id->name, p->name, sizeof(id->name));
	id->n_groups = p->n_groups;
	memcpy(id->groups, p->groups, sizeof(id->groups));
}

bool
pairing_visible(const struct policyset *ps, const struct cert_identity *viewer,
    const struct peer *p)
{
	struct cert_identity other;

	if (policyset_count(ps) == 0 || viewer->admin)
		return true;
	subject_of(p, &other);
	return policyset_pairs(ps, p->network, viewer, &other, NULL);
}

bool
pairing_peers(const struct policyset *ps, const struct peer *a, const struct peer *b,
    int *rule)
{
	struct cert_identity x, y;

	subject_of(a, &x);
	subject_of(b, &y);
	return policyset_pairs(ps, a->network, &x, &y, rule);
}
