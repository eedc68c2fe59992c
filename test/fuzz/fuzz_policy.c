/* libFuzzer target: the pairing policy's parser (common/policy.h). Whatever the bytes, it
 * either fails with an error naming the file, or gives rules whose sides are valid names
 * and that pair symmetrically: a policy never pairs a with b but not b with a. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_side(const struct policy_side *s)
{
	size_t n = strlen(s->name);

	if (s->kind == POLICY_ANY && n != 0)
		abort();
	if (s->kind == POLICY_GROUP && !policy_group_name_ok(s->name, n))
		abort();
	if (s->kind == POLICY_HOST && !policy_host_name_ok(s->name, n))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy p;
	char err[512];

	if (policy_parse((const char *)data, size, "fuzz.policy", &p, err, sizeof(err)) < 0) {
		if (strncmp(err, "fuzz.policy:", 12) != 0 || p.n != 0 || p.rules != NULL)
			abort();
		return 0;
	}
	if (p.n > POLICY_RULES_MAX || p.version > POLICY_VERSION_MAX)
		abort();
	for (size_t i = 0; i < p.n; i++) {
		const struct policy_rule *r = &p.rules[i];
		check_side(&r->left);
		check_side(&r->right);
		/* each side's own name as a subject: the rule (or an earlier one) pairs them */
		const char *gl[1] = { r->left.name }, *gr[1] = { r->right.name };
		struct policy_subject a = { .name = r->left.name,
			.n_groups = r->left.kind == POLICY_GROUP, .groups = gl };
		struct policy_subject b = { .name = r->right.name,
			.n_groups = r->right.kind == POLICY_GROUP, .groups = gr };
		int ab = policy_match(&p, &a, &b), ba = policy_match(&p, &b, &a);
		if (ab != ba || ab < 0 || (size_t)ab > i)
			abort();
	}
	policy_free(&p);
	return 0;
}
