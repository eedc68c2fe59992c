/* Checking a CA-signed policy (common/policy_cms.h) with OpenSSL's CMS. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include "common/policy_cms.h"

static void
ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (e != 0)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "no detail");
	ERR_clear_error();
}

int
policy_cms_verify(const uint8_t *der, size_t len, X509 *ca, const char *name,
    struct policy *out, char *err, size_t errlen)
{
	const unsigned char *p = der;
	STACK_OF(X509) *certs = NULL;
	BIO *content = NULL;
	CMS_ContentInfo *cms = NULL;
	char why[256];
	const char *data;
	long n;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (len > POLICY_CMS_MAX) {
		snprintf(err, errlen, "%s: larger than %d bytes", name, POLICY_CMS_MAX);
		return -1;
	}
	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL || p != der + len) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errlen, "%s: not a CMS SignedData in DER (%s); make it with "
		    "wiresync-ca policy", name, why);
		goto out;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		snprintf(err, errlen, "%s: CMS but not SignedData", name);
		goto out;
	}
	if ((certs = sk_X509_new_null()) == NULL || !sk_X509_push(certs, ca) ||
	    (content = BIO_new(BIO_s_mem())) == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		goto out;
	}
	/* The signer is looked up in certs only (NOINTERN), which hold the CA alone, and no
	 * chain is built (NO_SIGNER_CERT_VERIFY): a signature by any key but the CA's fails,
	 * even one whose certificate the CA issued. */
	if (CMS_verify(cms, certs, NULL, NULL, content,
	    CMS_NOINTERN | CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errlen, "%s: not signed by this CA's key (%s)", name, why);
		ret = POLICY_CMS_NOT_SIGNER;
		goto out;
	}
	n = BIO_get_mem_data(content, &data);
	if (n <= 0) {
		snprintf(err, errlen, "%s: signed, but the policy inside is empty", name);
		goto out;
	}
	if (policy_parse(data, (size_t)n, name, out, err, errlen) < 0)
		goto out;
	if (out->version == 0) {
		policy_free(out);
		snprintf(err, errlen, "%s: the signed policy has no version line; sign it with "
		    "wiresync-ca policy, which adds one", name);
		goto out;
	}
	ret = 0;
out:
	BIO_free(content);
	sk_X509_free(certs);
	CMS_ContentInfo_free(cms);
	return ret;
}

static void
subject_of(const struct cert_identity *id, const char *groups[CERT_GROUPS_MAX],
    struct policy_subject *out)
{
	for (size_t i = 0; i < id->n_groups && i < CERT_GROUPS_MAX; i++)
		groups[i] = id->groups[i];
	out->name = id->name;
	out->n_groups = id->n_groups < CERT_GROUPS_MAX ? id->n_groups : CERT_GROUPS_MAX;
	out->groups = groups;
}

int
policy_pairs_certs(const struct policy *p, const struct cert_identity *a,
    const struct cert_identity *b)
{
	const char *ga[CERT_GROUPS_MAX], *gb[CERT_GROUPS_MAX];
	struct policy_subject sa, sb;

	subject_of(a, ga, &sa);
	subject_of(b, gb, &sb);
	return policy_match(p, &sa, &sb);
}
