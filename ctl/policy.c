/* check-policy: a policy file checked offline, as written (rules) or as signed (policy.cms
 * against the CA), so wiresync-ca can refuse to sign a bad one. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/policy_cms.h"
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

static X509 *
read_ca(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (f == NULL) {
		ctl_err("%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		ctl_err("%s: not a PEM certificate (give the CA's ca.crt)", path);
	return x;
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
	optind = 1;
	while ((o = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
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
		X509 *ca = read_ca(ca_path);
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
