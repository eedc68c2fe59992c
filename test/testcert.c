/* Test helper: a throwaway CA and wiresync certificates built in memory (OpenSSL 3 API). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "test/testcert.h"

#define TESTCERT_CA_DAYS 3650L

struct testcert_ca {
	EVP_PKEY *key;
	X509 *cert;
};

bool
testcert_add_conf(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	bool ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return false;
	ok = X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

/* Adds a subject entry as a raw UTF8String, so tests can exceed the X.520 length limits. */
static bool
testcert_add_name(X509_NAME *name, int nid, const char *value)
{
	if (value == NULL)
		return true;
	return X509_NAME_add_entry_by_NID(name, nid, V_ASN1_UTF8STRING,
	    (const unsigned char *)value, -1, -1, 0) == 1;
}

/* Sets version 3, a random 127-bit serial, the validity window, key and subject. */
static bool
testcert_init(X509 *x, EVP_PKEY *key, const char *cn, const char *org, long not_before,
    long not_after)
{
	BIGNUM *bn = NULL;
	bool ok = false;

	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    (bn = BN_new()) == NULL ||
	    BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    X509_gmtime_adj(X509_getm_notBefore(x), not_before) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), not_after) == NULL ||
	    X509_set_pubkey(x, key) != 1 ||
	    !testcert_add_name(X509_get_subject_name(x), NID_commonName, cn) ||
	    !testcert_add_name(X509_get_subject_name(x), NID_organizationName, org))
		goto out;
	ok = true;
out:
	BN_free(bn);
	return ok;
}

/* Appends a GENERAL_NAME to names; takes ownership of value, even on failure. */
static bool
testcert_push_name(GENERAL_NAMES *names, int type, ASN1_STRING *value)
{
	GENERAL_NAME *gn;

	if (value == NULL)
		return false;
	if ((gn = GENERAL_NAME_new()) == NULL) {
		ASN1_STRING_free(value);
		return false;
	}
	GENERAL_NAME_set0_value(gn, type, value);
	if (sk_GENERAL_NAME_push(names, gn) <= 0) {
		GENERAL_NAME_free(gn);
		return false;
	}
	return true;
}

/* Appends URI:prefix+value, written as given. */
static bool
testcert_push_uri(GENERAL_NAMES *names, const char *prefix, const char *value)
{
	ASN1_IA5STRING *uri;
	size_t plen = strlen(prefix), vlen = strlen(value);
	char *s;
	bool ok = false;

	if ((s = malloc(plen + vlen + 1)) == NULL)
		return false;
	memcpy(s, prefix, plen);
	memcpy(s + plen, value, vlen + 1);
	if ((uri = ASN1_IA5STRING_new()) == NULL)
		goto out;
	if (ASN1_STRING_set(uri, s, (int)(plen + vlen)) != 1) {
		ASN1_IA5STRING_free(uri);
		goto out;
	}
	ok = testcert_push_name(names, GEN_URI, uri);
out:
	free(s);
	return ok;
}

static bool
testcert_add_san(X509 *x, const struct testcert_spec *spec)
{
	GENERAL_NAMES *names;
	size_t i;
	bool ok = false;

	if ((names = GENERAL_NAMES_new()) == NULL)
		return false;
	if (spec->key_b64 != NULL &&
	    !testcert_push_uri(names, "urn:wiresync:key:", spec->key_b64))
		goto out;
	if (spec->key_b64_second != NULL &&
	    !testcert_push_uri(names, "urn:wiresync:key:", spec->key_b64_second))
		goto out;
	if (spec->admin && !testcert_push_uri(names, "urn:wiresync:role:admin", ""))
		goto out;
	for (size_t g = 0; g < sizeof(spec->groups) / sizeof(spec->groups[0]) &&
	    spec->groups[g] != NULL; g++)
		if (!testcert_push_uri(names, "urn:wiresync:group:", spec->groups[g]))
			goto out;
	for (i = 0; i < sizeof(spec->ips) / sizeof(spec->ips[0]) && spec->ips[i] != NULL; i++)
		if (!testcert_push_name(names, GEN_IPADD, a2i_IPADDRESS(spec->ips[i])))
			goto out;
	ok = sk_GENERAL_NAME_num(names) == 0 ||
	    X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) == 1;
out:
	GENERAL_NAMES_free(names);
	return ok;
}

struct testcert_ca *
testcert_ca_new(const char *network)
{
	struct testcert_ca *ca;

	if ((ca = calloc(1, sizeof(*ca))) == NULL)
		return NULL;
	if ((ca->key = EVP_EC_gen("P-256")) == NULL ||
	    (ca->cert = X509_new()) == NULL ||
	    !testcert_init(ca->cert, ca->key, "wiresync test CA", network, -60,
	    TESTCERT_CA_DAYS * 86400) ||
	    X509_set_issuer_name(ca->cert, X509_get_subject_name(ca->cert)) != 1 ||
	    !testcert_add_conf(ca->cert, ca->cert, NID_basic_constraints,
	    "critical,CA:TRUE,pathlen:0") ||
	    !testcert_add_conf(ca->cert, ca->cert, NID_key_usage,
	    "critical,keyCertSign,cRLSign") ||
	    !testcert_add_conf(ca->cert, ca->cert, NID_subject_key_identifier, "hash") ||
	    X509_sign(ca->cert, ca->key, EVP_sha256()) <= 0) {
		testcert_ca_del(ca);
		return NULL;
	}
	return ca;
}

struct testcert_ca *
testcert_ca_load(const char *cert_path, const char *key_path)
{
	struct testcert_ca *ca;
	FILE *f;

	if ((ca = calloc(1, sizeof(*ca))) == NULL)
		return NULL;
	if ((f = fopen(cert_path, "r")) != NULL) {
		ca->cert = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if ((f = fopen(key_path, "r")) != NULL) {
		ca->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (ca->cert == NULL || ca->key == NULL) {
		testcert_ca_del(ca);
		return NULL;
	}
	return ca;
}

struct testcert_ca *
testcert_ca_from(X509 *cert, EVP_PKEY *key)
{
	struct testcert_ca *ca;

	if ((ca = calloc(1, sizeof(*ca))) == NULL)
		return NULL;
	X509_up_ref(cert);
	EVP_PKEY_up_ref(key);
	ca->cert = cert;
	ca->key = key;
	return ca;
}

void
testcert_ca_del(struct testcert_ca *ca)
{
	if (ca == NULL)
		return;
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	free(ca);
}

EVP_PKEY *
testcert_ca_key(const struct testcert_ca *ca)
{
	return ca->key;
}

X509 *
testcert_ca_cert(const struct testcert_ca *ca)
{
	return ca->cert;
}

X509 *
testcert_issue(struct testcert_ca *ca, const struct testcert_spec *spec, EVP_PKEY **key_out)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	long nb = spec->not_before_offset, na = spec->not_after_offset;

	if (nb == 0 && na == 0) {
		nb = -60;
		na = 86400;
	}
	if ((key = EVP_EC_gen("P-256")) == NULL ||
	    (x = X509_new()) == NULL ||
	    !testcert_init(x, key, spec->cn, spec->org, nb, na) ||
	    X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) != 1 ||
	    !testcert_add_conf(x, ca->cert, NID_basic_constraints,
	    spec->ca ? "critical,CA:TRUE" : "critical,CA:FALSE") ||
	    !testcert_add_conf(x, ca->cert, NID_key_usage, "critical,digitalSignature") ||
	    !testcert_add_conf(x, ca->cert, NID_ext_key_usage,
	    spec->no_client_auth ? "serverAuth" : "clientAuth") ||
	    !testcert_add_conf(x, ca->cert, NID_subject_key_identifier, "hash") ||
	    !testcert_add_conf(x, ca->cert, NID_authority_key_identifier, "keyid:always") ||
	    !testcert_add_san(x, spec) ||
	    X509_sign(x, ca->key, EVP_sha256()) <= 0) {
		X509_free(x);
		EVP_PKEY_free(key);
		return NULL;
	}
	if (key_out != NULL)
		*key_out = key;
	else
		EVP_PKEY_free(key);
	return x;
}

/* Writes x (or else k) as PEM to path with exactly the given mode. */
static int
testcert_write(const char *path, mode_t mode, X509 *x, EVP_PKEY *k)
{
	FILE *f = NULL;
	int fd, ret = 0;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)) < 0) {
		ret = -errno;
		goto out;
	}
	if (fchmod(fd, mode) < 0 || (f = fdopen(fd, "w")) == NULL) {
		ret = -errno;
		close(fd);
		goto out;
	}
	if ((x != NULL && PEM_write_X509(f, x) != 1) ||
	    (x == NULL && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1))
		ret = -EIO;
	if (fclose(f) != 0 && ret == 0)
		ret = -errno;
out:
	return ret;
}

int
testcert_write_pem(const char *path, X509 *x)
{
	if (x == NULL)
		return -EINVAL;
	return testcert_write(path, 0644, x, NULL);
}

int
testcert_write_key(const char *path, EVP_PKEY *k)
{
	if (k == NULL)
		return -EINVAL;
	return testcert_write(path, 0600, NULL, k);
}

void
testcert_random_key_b64(char out[45])
{
	EVP_PKEY *k;
	unsigned char pub[32];
	size_t len = sizeof(pub);

	if ((k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519")) == NULL ||
	    EVP_PKEY_get_raw_public_key(k, pub, &len) != 1 || len != sizeof(pub))
		abort();
	EVP_PKEY_free(k);
	EVP_EncodeBlock((unsigned char *)out, pub, (int)sizeof(pub));
}
