/* The Admin service's view of the pairing policy: Policy (the one in force for the
 * caller's network) and CanPair (whether two hosts pair, and by which rule). Part of the
 * Admin service (admin_impl.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/admin.pb-c.h"
#include "rpc/grpc.h"
#include "server/admin_impl.h"
#include "server/pairing.h"
#include "server/policyset.h"

#define RULE_TEXT_MAX 160

void
adm_handle_policy(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct admin *a = arg;
	const struct agent_conn *ac = adm_caller(call);
	Wiresync__V1__PolicyReply r = WIRESYNC__V1__POLICY_REPLY__INIT;
	Wiresync__V1__PolicyRequest *m;
	struct policy_info pi;
	char *text = NULL, **rules = NULL;

	if (ac == NULL)
		return;
	if ((m = wiresync__v1__policy_request__unpack(NULL, len, req)) == NULL) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "PolicyRequest does not decode");
		return;
	}
	wiresync__v1__policy_request__free_unpacked(m, NULL);
	if (policyset_get(service_policies(a->svc), ac->id.network, &pi)) {
		size_t n = pi.pol->n;
		if (n > 0 && ((text = malloc(n * RULE_TEXT_MAX)) == NULL ||
		    (rules = malloc(n * sizeof(*rules))) == NULL)) {
			free(text);
			rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
			return;
		}
		for (size_t i = 0; i < n; i++) {
			rules[i] = text + i * RULE_TEXT_MAX;
			policy_rule_format(&pi.pol->rules[i], rules[i], RULE_TEXT_MAX);
		}
		r.has_policy = true;
		r.version = pi.version;
		r.path = (char *)pi.path;
		r.n_rules = n;
		r.rules = rules;
		r.sha256.data = (uint8_t *)pi.sha256;
		r.sha256.len = 32;
	}
	svc_reply_message(call, &r.base);
	free(rules);
	free(text);
}

/* The stored peer of network named name, or NULL (the call failed NOT_FOUND). */
static const struct peer *
named(struct admin *a, struct rpc_call *call, const char *network, const char *name,
    const char *field)
{
	struct collect c;
	const struct peer *p;

	if (name == NULL || name[0] == '\0') {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "%s: give a host name", field);
		return NULL;
	}
	if (adm_collect_peers(a, network, name, &c) < 0) {
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return NULL;
	}
	p = c.n > 0 ? c.v[0] : NULL;
	free(c.v);
	if (p == NULL)
		rpc_call_fail(call, GRPC_NOT_FOUND, "%s: no host named \"%.64s\" in network %s",
		    field, name, network);
	return p;
}

void
adm_handle_can_pair(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct admin *a = arg;
	const struct agent_conn *ac = adm_caller(call);
	Wiresync__V1__CanPairReply r = WIRESYNC__V1__CAN_PAIR_REPLY__INIT;
	Wiresync__V1__CanPairRequest *m;
	const struct policyset *ps = service_policies(a->svc);
	const struct peer *x, *y;
	struct policy_info pi;
	char rule[RULE_TEXT_MAX] = "";
	int idx = -1;

	if (ac == NULL)
		return;
	if ((m = wiresync__v1__can_pair_request__unpack(NULL, len, req)) == NULL) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "CanPairRequest does not decode");
		return;
	}
	if ((x = named(a, call, ac->id.network, m->a, "a")) != NULL &&
	    (y = named(a, call, ac->id.network, m->b, "b")) != NULL) {
		r.pairs = pairing_peers(ps, x, y, &idx);
		if (policyset_get(ps, ac->id.network, &pi)) {
			r.version = pi.version;
			if (idx >= 0)
				policy_rule_format(&pi.pol->rules[idx], rule, sizeof(rule));
		}
		r.rule = rule;
		svc_reply_message(call, &r.base);
	}
	wiresync__v1__can_pair_request__free_unpacked(m, NULL);
}
