/* The pairing policy at the operator's: check-policy (a file checked offline, as written or
 * as signed, so wiresync-ca can refuse to sign a bad one), policy (the one in force) and
 * can-pair (whether two hosts pair). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/policy_cms.h"
#include "proto/admin.pb-c.h"
#include "ctl/ctl.h"

/* Reads path whole (at most max bytes) into *buf (free). 0 or -1, said on stderr. */
static int
slurp(const char *path, size_t max, uint8_t **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	*buf = NULL;
	if (f == NULL) {
		ctl_err("%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if ((*buf = malloc(max + 1)) == NULL) {
		fclose(f);
		ctl_err("out of memory");
		return -1;
	}
	n = fread(*buf, 1, max + 1, f);
	if (ferror(f) || n > max) {
		ctl_err("%s: %s", path, ferror(f) ? strerror(errno) : "too large for a policy");
		fclose(f);
		free(*buf);
		return -1;
	}
	fclose(f);
	*len = n;
	return 0;
}

int
cmd_check_policy(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = { { "ca", required_argument, NULL, 'a' },
		{ "quiet", no_argument, NULL, 'q' }, { NULL, 0, NULL, 0 } };
	const char *ca_path = NULL;
	struct policy pol;
	uint8_t *buf = NULL;
	size_t len = 0;
	char err[512];
	bool quiet = false;
	int o, r;

	(void)c;
	optind = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'a')
			ca_path = optarg;
		else if (o == 'q')
			quiet = true;
		else
			return CTL_EXIT_USAGE;
	}
	if (optind + 1 != argc) {
		ctl_err("check-policy: give one FILE (the policy, or with --ca CA.crt a policy.cms)");
		return CTL_EXIT_USAGE;
	}
	if (slurp(argv[optind], POLICY_CMS_MAX, &buf, &len) < 0)
		return CTL_EXIT_USAGE;
	if (ca_path != NULL) {
		X509 *ca = ctl_cert_read(ca_path);
		if (ca == NULL) {
			free(buf);
			return CTL_EXIT_USAGE;
		}
		r = policy_cms_verify(buf, len, ca, argv[optind], &pol, err, sizeof(err));
		X509_free(ca);
	} else {
		r = policy_parse((const char *)buf, len, argv[optind], &pol, err, sizeof(err));
	}
	free(buf);
	if (r < 0) {
		fprintf(stderr, "%s\n", err);
		return CTL_EXIT_USAGE;
	}
	if (!quiet) {
		char line[200];
		printf("%s: %zu rules, version %llu%s\n", argv[optind], pol.n,
		    (unsigned long long)pol.version, ca_path != NULL ? ", signed by the CA" : "");
		for (size_t i = 0; i < pol.n; i++)
			printf("  %s\n", policy_rule_format(&pol.rules[i], line, sizeof(line)));
	}
	policy_free(&pol);
	return CTL_EXIT_OK;
}

/* --json, and nothing else, for policy and can-pair. -1 on a usage error (said). */
static int
json_flag(const char *cmd, int argc, char **argv, int nargs, bool *json)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 } };
	int o;

	*json = false;
	optind = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o != 'j')
			return -1;
		*json = true;
	}
	if (argc - optind != nargs) {
		ctl_err("%s: %s", cmd, nargs == 0 ? "takes no argument (but --json)" :
		    "give two host names, A B");
		return -1;
	}
	return 0;
}

int
cmd_policy(struct ctl *c, int argc, char **argv)
{
	Wiresync__V1__PolicyRequest req = WIRESYNC__V1__POLICY_REQUEST__INIT;
	Wiresync__V1__PolicyReply *r;
	bool json;
	int st;

	if (json_flag("policy", argc, argv, 0, &json) < 0)
		return CTL_EXIT_USAGE;
	if ((st = ctl_call_unpack(c, "Policy", &req.base, &wiresync__v1__policy_reply__descriptor,
	    (void **)&r)) != CTL_EXIT_OK)
		return st;
	if (json) {
		json_t *o = json_object(), *a = json_array();
		for (size_t i = 0; i < r->n_rules; i++)
			json_array_append_new(a, json_string(r->rules[i]));
		json_object_set_new(o, "policy", json_boolean(r->has_policy));
		json_object_set_new(o, "version", json_integer((json_int_t)r->version));
		json_object_set_new(o, "path", r->has_policy ? json_string(r->path) : json_null());
		json_object_set_new(o, "rules", a);
		st = ctl_json_print(o);
	} else if (!r->has_policy) {
		printf("no pairing policy: every host of the network pairs with every other\n");
	} else {
		printf("pairing policy version %llu, %zu rules (%s)\n",
		    (unsigned long long)r->version, r->n_rules, r->path);
		for (size_t i = 0; i < r->n_rules; i++)
			printf("  %s\n", r->rules[i]);
	}
	wiresync__v1__policy_reply__free_unpacked(r, NULL);
	return st;
}

int
cmd_can_pair(struct ctl *c, int argc, char **argv)
{
	Wiresync__V1__CanPairRequest req = WIRESYNC__V1__CAN_PAIR_REQUEST__INIT;
	Wiresync__V1__CanPairReply *r;
	bool json;
	int st;

	if (json_flag("can-pair", argc, argv, 2, &json) < 0)
		return CTL_EXIT_USAGE;
	req.a = argv[optind];
	req.b = argv[optind + 1];
	if ((st = ctl_call_unpack(c, "CanPair", &req.base, &wiresync__v1__can_pair_reply__descriptor,
	    (void **)&r)) != CTL_EXIT_OK)
		return st;
	if (json) {
		json_t *o = json_object();
		json_object_set_new(o, "pairs", json_boolean(r->pairs));
		json_object_set_new(o, "rule", r->rule[0] != '\0' ? json_string(r->rule) : json_null());
		json_object_set_new(o, "version", json_integer((json_int_t)r->version));
		st = ctl_json_print(o);
	} else if (r->version == 0) {
		printf("yes: no pairing policy, every host pairs\n");
	} else if (r->pairs) {
		printf("yes: %s, policy version %llu\n", r->rule, (unsigned long long)r->version);
	} else {
		printf("no: no rule of policy version %llu pairs %s and %s\n",
		    (unsigned long long)r->version, req.a, req.b);
	}
	wiresync__v1__can_pair_reply__free_unpacked(r, NULL);
	return st;
}
