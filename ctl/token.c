/* token create: a join token (issue 13). With an online issuer on the server, a host that
 * presents it (wiresync-agent join --token) is approved and signed at once. The token is
 * printed here once: the server keeps only its hash. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/ctl.h"

#define TOKEN_GROUPS_MAX 16

int
ctl_duration_parse(const char *s, int64_t *out)
{
	char *end;
	unsigned long long v;
	int64_t unit;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || end[0] == '\0' || end[1] != '\0')
		return -1;
	switch (end[0]) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default: return -1;
	}
	/* the server's bound (366 days): said here, naming the option */
	if (v == 0 || v > (unsigned long long)(366 * 86400) / (unsigned long long)unit)
		return -1;
	*out = (int64_t)v * unit;
	return 0;
}

struct token_args {
	uint32_t uses;
	int64_t expires_s;
	const char *network;
	const char *groups[TOKEN_GROUPS_MAX];
	size_t n_groups;
	bool json;
};

static int
token_args_parse(int argc, char **argv, struct token_args *a)
{
	memset(a, 0, sizeof(*a));
	a->network = "";
	if (argc < 2 || strcmp(argv[1], "create") != 0) {
		ctl_err("token: want \"token create [--uses N] [--expires DURATION] [--group G]... "
		    "[--network NET] [--json]\"%s%s%s", argc >= 2 ? ", not \"" : "",
		    argc >= 2 ? argv[1] : "", argc >= 2 ? "\"" : "");
		return -1;
	}
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(o, "--json") == 0) {
			a->json = true;
			continue;
		}
		if (strcmp(o, "--uses") != 0 && strcmp(o, "--expires") != 0 &&
		    strcmp(o, "--group") != 0 && strcmp(o, "--network") != 0) {
			ctl_err("token create: unexpected argument \"%s\" (--uses N, --expires "
			    "DURATION, --group G, --network NET, --json)", o);
			return -1;
		}
		if (v == NULL) {
			ctl_err("token create: %s needs a value", o);
			return -1;
		}
		i++;
		if (strcmp(o, "--uses") == 0) {
			char *end;
			unsigned long n;
			errno = 0;
			n = v[0] >= '0' && v[0] <= '9' ? strtoul(v, &end, 10) : 0;
			if (v[0] < '0' || v[0] > '9' || errno != 0 || *end != '\0' || n == 0 ||
			    n > UINT32_MAX) {
				ctl_err("token create: --uses: \"%s\" is not a number of uses (1 or "
				    "more)", v);
				return -1;
			}
			a->uses = (uint32_t)n;
		} else if (strcmp(o, "--expires") == 0) {
			if (ctl_duration_parse(v, &a->expires_s) < 0) {
				ctl_err("token create: --expires: \"%s\" is not a duration (a number "
				    "and s, m, h or d: 30m, 1h, 7d; at most 366d)", v);
				return -1;
			}
		} else if (strcmp(o, "--group") == 0) {
			if (a->n_groups == TOKEN_GROUPS_MAX) {
				ctl_err("token create: --group: at most %d groups",
				    TOKEN_GROUPS_MAX);
				return -1;
			}
			a->groups[a->n_groups++] = v;
		} else {
			a->network = v;
		}
	}
	return 0;
}

/* s in its largest whole unit, rounded: "1h", "7d", "30m", "2s". */
static void
duration_format(int64_t s, char *out, size_t len)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(out, len, "%" PRId64 "d", (s + 43200) / 86400);
	else if (s >= 3600)
		snprintf(out, len, "%" PRId64 "h", (s + 1800) / 3600);
	else if (s >= 60)
		snprintf(out, len, "%" PRId64 "m", (s + 30) / 60);
	else
		snprintf(out, len, "%" PRId64 "s", s);
}

int
cmd_token(struct ctl *c, int argc, char **argv)
{
	Wiresync__V1__CreateTokenRequest req = WIRESYNC__V1__CREATE_TOKEN_REQUEST__INIT;
	Wiresync__V1__CreateTokenReply *r;
	struct token_args a;
	char sha[65] = "", when[32], left[32], join[512];
	time_t exp;
	struct tm tm;
	int st;

	if (token_args_parse(argc, argv, &a) < 0)
		return CTL_EXIT_USAGE;
	req.network = (char *)a.network;
	req.uses = a.uses;
	req.expires_s = a.expires_s;
	req.groups = (char **)a.groups;
	req.n_groups = a.n_groups;
	if ((st = ctl_call_unpack(c, "CreateToken", &req.base,
	    &wiresync__v1__create_token_reply__descriptor, (void **)&r)) != CTL_EXIT_OK)
		return st;
	if (ctl_ca_sha256(c->ca_file, sha) < 0)
		snprintf(sha, sizeof(sha), "HEX");
	snprintf(join, sizeof(join), "wiresync-agent join SERVER --ca-sha256 %s --token %s", sha,
	    r->token);
	exp = (time_t)r->expires;
	gmtime_r(&exp, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	duration_format(r->expires - (int64_t)time(NULL), left, sizeof(left));
	if (a.json) {
		json_t *o = json_object(), *g = json_array();
		for (size_t i = 0; i < a.n_groups; i++)
			json_array_append_new(g, json_string(a.groups[i]));
		json_object_set_new(o, "token", json_string(r->token));
		json_object_set_new(o, "id", json_integer((json_int_t)r->id));
		json_object_set_new(o, "network", json_string(r->network));
		json_object_set_new(o, "uses", json_integer(r->uses));
		json_object_set_new(o, "expires", json_integer(r->expires));
		json_object_set_new(o, "groups", g);
		json_object_set_new(o, "ca_sha256", json_string(sha));
		json_object_set_new(o, "join", json_string(join));
		st = ctl_json_print(o);
	} else {
		printf("%s\n", r->token);
		printf("join token %" PRIu64 " of network %s: %" PRIu32 " use%s, expires %s (in "
		    "%s)\n", r->id, r->network, r->uses, r->uses == 1 ? "" : "s", when, left);
		for (size_t i = 0; i < a.n_groups; i++)
			printf("%s%s", i == 0 ? "groups: " : ", ", a.groups[i]);
		if (a.n_groups > 0)
			printf("\n");
		printf("The token is shown only now (the server keeps its hash). On the host, with "
		    "SERVER the\nserver's enroll_listen address (HOST:PORT):\n  %s\n", join);
	}
	wiresync__v1__create_token_reply__free_unpacked(r, NULL);
	return st;
}
