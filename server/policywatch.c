/* Loading and reloading the pairing policies (server/policywatch.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/filewatch.h"
#include "rpc/log.h"
#include "server/audit.h"
#include "server/policyset.h"
#include "server/policywatch.h"

#define POLICYWATCH_FILES 16

struct policywatch {
	struct loop *loop;
	struct service *svc;
	SSL_CTX *ctx;
	const char *paths;
	struct filewatch *fw[POLICYWATCH_FILES];
	size_t n_fw;
};

static void
log_set(const struct policyset *s, const char *why)
{
	for (size_t i = 0; i < policyset_count(s); i++) {
		struct policy_info pi;
		policyset_info(s, i, &pi);
		log_info("%s: pairing policy of network %s: %s, version %llu, %zu rules", why,
		    pi.network, pi.path, (unsigned long long)pi.version, pi.rules);
	}
}

/* 1 in force, 0 kept the old ones (why logged), -1 with err: does not load. */
static int
load(struct policywatch *pw, const char *why, char *err, size_t errlen)
{
	struct policyset *s = policyset_read(pw->paths, SSL_CTX_get_cert_store(pw->ctx), err,
	    errlen);
	char refused[512];

	if (s == NULL)
		return -1;
	log_set(s, why);
	if (policyset_newer(s, service_policies(pw->svc), refused, sizeof(refused)))
		audit_policies(pw->svc, s, service_policies(pw->svc));  /* cannot be refused now */
	if (!service_apply_policies(pw->svc, s, refused, sizeof(refused))) {
		log_warnx("%s: %s", why, refused);
		return 0;
	}
	return 1;
}

void
policywatch_reload(struct policywatch *pw, const char *why)
{
	char err[512];

	if (load(pw, why, err, sizeof(err)) < 0)
		log_warnx("%s: keeping the pairing policies in force: %s", why, err);
}

static void
on_file(void *arg)
{
	policywatch_reload(arg, "policy file changed");
}

struct policywatch *
policywatch_new(struct loop *l, struct service *svc, SSL_CTX *ctx, const char *paths,
    char *err, size_t errlen)
{
	struct policywatch *pw = calloc(1, sizeof(*pw));
	const char *p = paths;

	if (pw == NULL) {
		snprintf(err, errlen, "policy: out of memory");
		return NULL;
	}
	pw->loop = l;
	pw->svc = svc;
	pw->ctx = ctx;
	pw->paths = paths;
	if (load(pw, "start", err, errlen) <= 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "policy: not put in force");
		free(pw);
		return NULL;
	}
	while (*p != '\0' && pw->n_fw < POLICYWATCH_FILES) {
		char path[512], werr[256];
		size_t n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		n = strcspn(p, ",");
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == 0 || n >= sizeof(path))
			break;
		memcpy(path, p, n);
		path[n] = '\0';
		p += n;
		pw->fw[pw->n_fw] = filewatch_new(l, path, 200, on_file, pw, werr, sizeof(werr));
		if (pw->fw[pw->n_fw] == NULL)
			log_warnx("%s; reload the policy with SIGHUP", werr);
		else
			pw->n_fw++;
	}
	return pw;
}

void
policywatch_del(struct policywatch *pw)
{
	if (pw == NULL)
		return;
	for (size_t i = 0; i < pw->n_fw; i++)
		filewatch_del(pw->fw[i]);
	free(pw);
}
