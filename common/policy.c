/* The pairing policy's parser and evaluator (common/policy.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/policy.h"

#define HOST_PREFIX "host:"

struct parser {
	const char *file;
	unsigned line;
	char *err;
	size_t errlen;
};

static int
perr(const struct parser *ps, size_t col, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ps->err, ps->errlen, "%s:%u:%zu: %s", ps->file, ps->line, col + 1, msg);
	return -1;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

bool
policy_group_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > POLICY_GROUP_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

bool
policy_host_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > POLICY_HOST_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.' || s[i] == '_'))
			return false;
	return true;
}

/* One side, the token line[b, e). */
static int
parse_side(const struct parser *ps, const char *line, size_t b, size_t e, const char *which,
    struct policy_side *out)
{
	const size_t hp = strlen(HOST_PREFIX);
	const char *t = line + b;
	size_t n = e - b;

	memset(out, 0, sizeof(*out));
	if (n == 0)
		return perr(ps, b, "no %s side: write GROUP, host:NAME or * %s <->", which,
		    which[0] == 'l' ? "before" : "after");
	for (size_t i = b; i < e; i++)
		if (is_space(line[i]))
			return perr(ps, i, "the %s side is one word: GROUP, host:NAME or *", which);
	if (n == 1 && t[0] == '*') {
		out->kind = POLICY_ANY;
		return 0;
	}
	if (n >= hp && memcmp(t, HOST_PREFIX, hp) == 0) {
		if (!policy_host_name_ok(t + hp, n - hp))
			return perr(ps, b + hp, "bad host name \"%.*s\": 1 to %d letters, digits, "
			    "'.', '_' or '-' (a certificate CN)", (int)(n - hp), t + hp,
			    POLICY_HOST_MAX);
		out->kind = POLICY_HOST;
		memcpy(out->name, t + hp, n - hp);
		return 0;
	}
	if (!policy_group_name_ok(t, n))
		return perr(ps, b, "bad group name \"%.*s\": 1 to %d of a-z, 0-9 and '-' "
		    "(or host:NAME, or *)", (int)(n > 64 ? 64 : n), t, POLICY_GROUP_MAX);
	out->kind = POLICY_GROUP;
	memcpy(out->name, t, n);
	return 0;
}

static int
parse_version(const struct parser *ps, const char *line, size_t b, size_t e,
    struct policy *p, bool *seen)
{
	uint64_t v = 0;
	size_t i = b + strlen("version");

	if (*seen)
		return perr(ps, b, "a second version line");
	if (p->n > 0)
		return perr(ps, b, "version must come before the first rule");
	while (i < e && is_space(line[i]))
		i++;
	if (i == e)
		return perr(ps, i, "version needs a number: version N");
	for (size_t d = i; d < e; d++) {
		if (line[d] < '0' || line[d] > '9')
			return perr(ps, d, "version is a whole number from 1 to %llu",
			    (unsigned long long)POLICY_VERSION_MAX);
		v = v * 10 + (uint64_t)(line[d] - '0');
		if (v > POLICY_VERSION_MAX)
			return perr(ps, i, "version is a whole number from 1 to %llu",
			    (unsigned long long)POLICY_VERSION_MAX);
	}
	if (v == 0)
		return perr(ps, i, "version is a whole number from 1 to %llu",
		    (unsigned long long)POLICY_VERSION_MAX);
	p->version = v;
	*seen = true;
	return 0;
}

static int
add_rule(const struct parser *ps, struct policy *p, size_t *cap, const struct policy_rule *r)
{
	if (p->n == POLICY_RULES_MAX)
		return perr(ps, 0, "more than %d rules", POLICY_RULES_MAX);
	if (p->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct policy_rule *nr = realloc(p->rules, nc * sizeof(*nr));
		if (nr == NULL)
			return perr(ps, 0, "out of memory");
		p->rules = nr;
		*cap = nc;
	}
	p->rules[p->n++] = *r;
	return 0;
}

/* One line without its newline: blank, comment, version or rule. */
static int
parse_line(const struct parser *ps, const char *line, size_t len, struct policy *p,
    size_t *cap, bool *version_seen)
{
	const char *arrow, *hash = memchr(line, '#', len);
	size_t b = 0, e = hash != NULL ? (size_t)(hash - line) : len, a;
	struct policy_rule r = { .line = ps->line };

	while (b < e && is_space(line[b]))
		b++;
	while (e > b && is_space(line[e - 1]))
		e--;
	if (b == e)
		return 0;
	if (e - b >= 7 && memcmp(line + b, "version", 7) == 0 &&
	    (e - b == 7 || is_space(line[b + 7])))
		return parse_version(ps, line, b, e, p, version_seen);
	arrow = NULL;
	for (size_t i = b; i + 3 <= e; i++)
		if (memcmp(line + i, "<->", 3) == 0) {
			arrow = line + i;
			break;
		}
	if (arrow == NULL)
		return perr(ps, b, "not a rule: write LEFT <-> RIGHT (GROUP, host:NAME or *)");
	a = (size_t)(arrow - line);
	size_t le = a, rb = a + 3;
	while (le > b && is_space(line[le - 1]))
		le--;
	while (rb < e && is_space(line[rb]))
		rb++;
	for (size_t i = rb; i + 3 <= e; i++)
		if (memcmp(line + i, "<->", 3) == 0)
			return perr(ps, i, "one <-> per rule");
	if (parse_side(ps, line, b, le, "left", &r.left) < 0 ||
	    parse_side(ps, line, rb, e, "right", &r.right) < 0)
		return -1;
	return add_rule(ps, p, cap, &r);
}

int
policy_parse(const char *text, size_t len, const char *file, struct policy *out, char *err,
    size_t errlen)
{
	struct parser ps = { .file = file != NULL ? file : "policy", .line = 1, .err = err,
	    .errlen = errlen };
	bool version_seen = false;
	size_t cap = 0, pos = 0;

	memset(out, 0, sizeof(*out));
	if (len > POLICY_BYTES_MAX) {
		snprintf(err, errlen, "%s: larger than %d bytes", ps.file, POLICY_BYTES_MAX);
		return -1;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t ll = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
		const char *nul = memchr(text + pos, '\0', ll);

		if (nul != NULL) {
			perr(&ps, (size_t)(nul - (text + pos)), "a NUL byte (not a text file?)");
			goto fail;
		}
		if (parse_line(&ps, text + pos, ll, out, &cap, &version_seen) < 0)
			goto fail;
		pos += ll + (nl != NULL ? 1 : 0);
		ps.line++;
	}
	return 0;
fail:
	policy_free(out);
	return -1;
}

void
policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	free(p->rules);
	memset(p, 0, sizeof(*p));
}

static bool
side_holds(const struct policy_side *s, const struct policy_subject *h)
{
	switch (s->kind) {
	case POLICY_ANY:
		return true;
	case POLICY_HOST:
		return h->name != NULL && strcmp(h->name, s->name) == 0;
	case POLICY_GROUP:
		for (size_t i = 0; i < h->n_groups; i++)
			if (h->groups[i] != NULL && strcmp(h->groups[i], s->name) == 0)
				return true;
		return false;
	}
	return false;
}

int
policy_match(const struct policy *p, const struct policy_subject *a,
    const struct policy_subject *b)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct policy_rule *r = &p->rules[i];
		if ((side_holds(&r->left, a) && side_holds(&r->right, b)) ||
		    (side_holds(&r->left, b) && side_holds(&r->right, a)))
			return (int)i;
	}
	return -1;
}

char *
policy_side_format(const struct policy_side *s, char *buf, size_t len)
{
	if (s->kind == POLICY_ANY)
		snprintf(buf, len, "*");
	else
		snprintf(buf, len, "%s%s", s->kind == POLICY_HOST ? HOST_PREFIX : "", s->name);
	return buf;
}

char *
policy_rule_format(const struct policy_rule *r, char *buf, size_t len)
{
	char l[POLICY_HOST_MAX + 8], rr[POLICY_HOST_MAX + 8];

	snprintf(buf, len, "%s <-> %s (line %u)", policy_side_format(&r->left, l, sizeof(l)),
	    policy_side_format(&r->right, rr, sizeof(rr)), r->line);
	return buf;
}
