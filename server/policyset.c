/* The pairing policies in force, one per CA, matched by signature at load
 * (server/policyset.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "common/policy_cms.h"
#include "server/policyset.h"

#define POLICYSET_MAX 16    /* TLS_CRL_MAX: CAs in the trust store */

struct policy_entry {
	char network[CERT_NAME_MAX + 1];
	char path[512];
	X509 *ca;                   /* up-ref'd */
	struct policy pol;
	uint8_t *der;
	size_t der_len;
	uint8_t sha256[SHA256_DIGEST_LENGTH];
};

struct policyset {
	struct policy_entry v[POLICYSET_MAX];
	size_t n;
};

void
policyset_del(struct policyset *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++) {
		policy_free(&s->v[i].pol);
		free(s->v[i].der);
		X509_free(s->v[i].ca);
	}
	free(s);
}

/* Reads path whole into *buf (malloc'd). 0, or -1 with err. */
static int
read_file(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	*buf = NULL;
	if (f == NULL) {
		snprintf(err, errlen, "policy %s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if ((*buf = malloc(POLICY_CMS_MAX + 1)) == NULL) {
		fclose(f);
		snprintf(err, errlen, "policy %s: out of memory", path);
		return -1;
	}
	n = fread(*buf, 1, POLICY_CMS_MAX + 1, f);
	if (ferror(f) || n > POLICY_CMS_MAX) {
		snprintf(err, errlen, "policy %s: %s", path, ferror(f) ? "read error" :
		    "too large for a policy.cms");
		fclose(f);
		free(*buf);
		*buf = NULL;
		return -1;
	}
	fclose(f);
	*len = n;
	return 0;
}

/* Verifies e->der against each CA of cas; fills e. 0 or -1 with err. */
static int
match_ca(struct policy_entry *e, X509_STORE *cas, char *err, size_t errlen)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(cas);
	int tried = 0;

	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509 *ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
		int r;

		if (ca == NULL || X509_check_ca(ca) == 0)
			continue;
		tried++;
		r = policy_cms_verify(e->der, e->der_len, ca, e->path, &e->pol, err, errlen);
		if (r == POLICY_CMS_NOT_SIGNER)
			continue;
		if (r < 0)
			return -1;
		if (X509_NAME_get_text_by_NID(X509_get_subject_name(ca), NID_organizationName,
		    e->network, sizeof(e->network)) <= 0) {
			policy_free(&e->pol);
			snprintf(err, errlen, "policy %s: its CA has no O (network) in its subject",
			    e->path);
			return -1;
		}
		X509_up_ref(ca);
		e->ca = ca;
		return 0;
	}
	ERR_clear_error();
	snprintf(err, errlen, "policy %s: not signed by the key of any of the %d CAs of 'ca'; "
	    "sign it with wiresync-ca policy in the CA directory of its network", e->path, tried);
	return -1;
}

struct policyset *
policyset_read(const char *paths, X509_STORE *cas, char *err, size_t errlen)
{
	struct policyset *s = calloc(1, sizeof(*s));
	const char *p = paths;

	if (s == NULL) {
		snprintf(err, errlen, "policy: out of memory");
		return NULL;
	}
	while (p != NULL && *p != '\0') {
		size_t n;
		struct policy_entry *e;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		n = strcspn(p, ",");
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == 0)
			break;
		if (s->n == POLICYSET_MAX) {
			snprintf(err, errlen, "policy: more than %d files", POLICYSET_MAX);
			goto fail;
		}
		e = &s->v[s->n];
		if (n >= sizeof(e->path)) {
			snprintf(err, errlen, "policy: path too long: %.*s...", 64, p);
			goto fail;
		}
		memcpy(e->path, p, n);
		e->path[n] = '\0';
		p += n;
		if (read_file(e->path, &e->der, &e->der_len, err, errlen) < 0)
			goto fail;
		if (match_ca(e, cas, err, errlen) < 0) {
			free(e->der);
			e->der = NULL;
			goto fail;
		}
		SHA256(e->der, e->der_len, e->sha256);
		s->n++;
		for (size_t i = 0; i + 1 < s->n; i++)
			if (X509_cmp(s->v[i].ca, e->ca) == 0) {
				snprintf(err, errlen, "policy: %s and %s are both signed by the CA of "
				    "network %s; give one policy per CA", s->v[i].path, e->path,
				    e->network);
				goto fail;
			}
	}
	return s;
fail:
	policyset_del(s);
	return NULL;
}

size_t
policyset_count(const struct policyset *s)
{
	return s != NULL ? s->n : 0;
}

static void
fill_info(const struct policy_entry *e, struct policy_info *out)
{
	out->network = e->network;
	out->path = e->path;
	out->version = e->pol.version;
	out->rules = e->pol.n;
	out->der = e->der;
	out->der_len = e->der_len;
	out->sha256 = e->sha256;
	out->pol = &e->pol;
}

void
policyset_info(const struct policyset *s, size_t i, struct policy_info *out)
{
	fill_info(&s->v[i], out);
}

static const struct policy_entry *
entry_of(const struct policyset *s, const char *network)
{
	for (size_t i = 0; s != NULL && i < s->n; i++)
		if (strcmp(s->v[i].network, network) == 0)
			return &s->v[i];
	return NULL;
}

bool
policyset_get(const struct policyset *s, const char *network, struct policy_info *out)
{
	const struct policy_entry *e = entry_of(s, network);

	if (e == NULL)
		return false;
	fill_info(e, out);
	return true;
}

bool
policyset_pairs(const struct policyset *s, const char *network,
    const struct cert_identity *a, const struct cert_identity *b, int *rule)
{
	const struct policy_entry *e = entry_of(s, network);
	int r = e != NULL ? policy_pairs_certs(&e->pol, a, b) : -1;

	if (rule != NULL)
		*rule = r;
	return e == NULL || r >= 0;
}

bool
policyset_newer(const struct policyset *fresh, const struct policyset *old, char *err,
    size_t errlen)
{
	for (size_t i = 0; fresh != NULL && i < fresh->n; i++) {
		const struct policy_entry *f = &fresh->v[i], *o = entry_of(old, f->network);

		if (o == NULL)
			continue;
		if (f->pol.version < o->pol.version) {
			snprintf(err, errlen, "policy %s: version %llu of network %s is older than "
			    "version %llu in force; keeping that one", f->path,
			    (unsigned long long)f->pol.version, f->network,
			    (unsigned long long)o->pol.version);
			return false;
		}
		if (f->pol.version == o->pol.version &&
		    memcmp(f->sha256, o->sha256, sizeof(f->sha256)) != 0) {
			snprintf(err, errlen, "policy %s: version %llu of network %s differs from "
			    "the one in force under the same version; keeping that one (wiresync-ca "
			    "policy gives each new policy a higher version)", f->path,
			    (unsigned long long)f->pol.version, f->network);
			return false;
		}
	}
	return true;
}

bool
policyset_changed(const struct policyset *a, const struct policyset *b, const char *network)
{
	const struct policy_entry *x = entry_of(a, network), *y = entry_of(b, network);

	if (x == NULL || y == NULL)
		return x != y;
	return memcmp(x->sha256, y->sha256, sizeof(x->sha256)) != 0;
}
