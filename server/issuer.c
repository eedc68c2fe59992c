/* The online issuer: an intermediate CA of the root that signs host certificates in the
 * server (issue 13). Everything here works on memory and the two files it loads. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/cert.h"
#include "common/policy.h"
#include "server/issuer.h"

#define ISSUER_RANGES_MAX 64
#define ISSUER_CSR_MAX 4096      /* a P-256 CSR is about 250 bytes */
#define ISSUER_BACKDATE_S 60     /* notBefore: a host whose clock is a little behind */

/* One IP subtree of the nameConstraints: addr/mask, 4 or 16 bytes each. */
struct ip_range {
	int len;
	uint8_t addr[16], mask[16];
};

struct issuer {
	X509 *cert;
	EVP_PKEY *key;
	char network[CERT_NAME_MAX + 1];
	int64_t not_before, not_after;
	struct ip_range permitted[ISSUER_RANGES_MAX], excluded[ISSUER_RANGES_MAX];
	size_t n_permitted, n_excluded;
};

static X509 *
read_cert(const char *path, char *err, size_t errlen)
{
	X509 *x = NULL, *extra = NULL;
	BIO *bio;

	if ((bio = BIO_new_file(path, "r")) == NULL) {
		snprintf(err, errlen, "issuer_certificate %s: %s", path,
		    errno != 0 ? strerror(errno) : "cannot open");
		goto out;
	}
	if ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
		snprintf(err, errlen, "issuer_certificate %s: not a PEM certificate", path);
		goto out;
	}
	/* The root stays in ca: a second certificate here is a mistake worth naming. */
	if ((extra = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		snprintf(err, errlen, "issuer_certificate %s: more than one certificate (only "
		    "the issuer's own; the root goes in ca)", path);
		X509_free(x);
		x = NULL;
	}
out:
	X509_free(extra);
	BIO_free(bio);
	ERR_clear_error();
	return x;
}

static EVP_PKEY *
read_key(const char *path, char *err, size_t errlen)
{
	EVP_PKEY *k = NULL;
	BIO *bio;

	struct stat st;

	if (stat(path, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		snprintf(err, errlen, "issuer_key %s: readable by group or others (mode %04o); "
		    "chmod 600 it", path, (unsigned)(st.st_mode & 07777));
		return NULL;
	}
	if ((bio = BIO_new_file(path, "r")) == NULL)
		snprintf(err, errlen, "issuer_key %s: %s", path,
		    errno != 0 ? strerror(errno) : "cannot open");
	else if ((k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL)
		snprintf(err, errlen, "issuer_key %s: not a PEM private key", path);
	BIO_free(bio);
	ERR_clear_error();
	return k;
}

/* Reads the single O of name into out[CERT_NAME_MAX + 1]. */
static bool
name_org(X509_NAME *name, char *out)
{
	int idx = X509_NAME_get_index_by_NID(name, NID_organizationName, -1);
	unsigned char *utf8 = NULL;
	int len;

	if (idx < 0 || X509_NAME_get_index_by_NID(name, NID_organizationName, idx) >= 0)
		return false;
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name,
	    idx)));
	if (len <= 0 || len > CERT_NAME_MAX || memchr(utf8, '\0', (size_t)len) != NULL) {
		OPENSSL_free(utf8);
		return false;
	}
	memcpy(out, utf8, (size_t)len);
	out[len] = '\0';
	OPENSSL_free(utf8);
	return true;
}

static size_t
read_subtrees(STACK_OF(GENERAL_SUBTREE) *trees, struct ip_range *out)
{
	size_t n = 0;

	for (int i = 0; i < sk_GENERAL_SUBTREE_num(trees) && n < ISSUER_RANGES_MAX; i++) {
		GENERAL_NAME *base = sk_GENERAL_SUBTREE_value(trees, i)->base;
		int len;

		if (base->type != GEN_IPADD)
			continue;
		len = ASN1_STRING_length(base->d.iPAddress);
		if (len != 8 && len != 32)
			continue;
		out[n].len = len / 2;
		memcpy(out[n].addr, ASN1_STRING_get0_data(base->d.iPAddress), (size_t)len / 2);
		memcpy(out[n].mask, ASN1_STRING_get0_data(base->d.iPAddress) + len / 2,
		    (size_t)len / 2);
		n++;
	}
	return n;
}

/* The IP ranges of the nameConstraints; without a permitted one the issuer could sign any
 * address, which is what the offline root is for. */
static bool
read_constraints(struct issuer *is, const char *path, char *err, size_t errlen)
{
	NAME_CONSTRAINTS *nc;
	int crit = -1;

	nc = X509_get_ext_d2i(is->cert, NID_name_constraints, &crit, NULL);
	if (nc != NULL) {
		is->n_permitted = read_subtrees(nc->permittedSubtrees, is->permitted);
		is->n_excluded = read_subtrees(nc->excludedSubtrees, is->excluded);
	}
	NAME_CONSTRAINTS_free(nc);
	if (is->n_permitted == 0) {
		snprintf(err, errlen, "issuer_certificate %s: no nameConstraints permitting IP "
		    "ranges (make it with wiresync-ca issuer NAME --ip-range CIDR)", path);
		return false;
	}
	return true;
}

static bool
check_ca(struct issuer *is, const char *path, char *err, size_t errlen)
{
	uint32_t flags = X509_get_extension_flags(is->cert);

	if (!(flags & EXFLAG_CA)) {
		snprintf(err, errlen, "issuer_certificate %s: not a CA (basicConstraints "
		    "CA:TRUE)", path);
		return false;
	}
	if (X509_get_pathlen(is->cert) != 0) {
		snprintf(err, errlen, "issuer_certificate %s: its path length must be 0 (it "
		    "signs hosts, not CAs)", path);
		return false;
	}
	if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(is->cert) & KU_KEY_CERT_SIGN)) {
		snprintf(err, errlen, "issuer_certificate %s: keyUsage lacks keyCertSign", path);
		return false;
	}
	return true;
}

/* The issuer must chain to a root of the trust store, whose O it shares. */
static bool
check_chain(struct issuer *is, X509_STORE *roots, const char *path, char *err,
    size_t errlen)
{
	X509_STORE_CTX *sctx = X509_STORE_CTX_new();
	char root_org[CERT_NAME_MAX + 1];
	STACK_OF(X509) *chain;
	X509 *root;
	bool ok = false;

	if (sctx == NULL || X509_STORE_CTX_init(sctx, roots, is->cert, NULL) != 1) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (X509_verify_cert(sctx) != 1) {
		snprintf(err, errlen, "issuer_certificate %s: does not verify against the CA "
		    "(ca): %s", path,
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(sctx)));
		goto out;
	}
	chain = X509_STORE_CTX_get0_chain(sctx);
	root = sk_X509_value(chain, sk_X509_num(chain) - 1);
	if (sk_X509_num(chain) < 2 || root == is->cert) {
		snprintf(err, errlen, "issuer_certificate %s: is itself a trusted root; give "
		    "an intermediate the root signed", path);
		goto out;
	}
	/* OpenSSL judges a root's path length only with a leaf below the issuer: here. */
	if (X509_get_pathlen(root) == 0) {
		snprintf(err, errlen, "issuer_certificate %s: its CA was made before online "
		    "issuers (pathlen 0) and can only approve offline; make a new CA with "
		    "wiresync-ca init to have one", path);
		goto out;
	}
	if (!name_org(X509_get_subject_name(root), root_org) ||
	    strcmp(root_org, is->network) != 0) {
		snprintf(err, errlen, "issuer_certificate %s: subject O \"%s\" is not the "
		    "network of the CA that signed it", path, is->network);
		goto out;
	}
	ok = true;
out:
	X509_STORE_CTX_free(sctx);
	ERR_clear_error();
	return ok;
}

struct issuer *
issuer_load(const char *cert_file, const char *key_file, X509_STORE *roots, char *err,
    size_t errlen)
{
	struct issuer *is;

	if ((is = calloc(1, sizeof(*is))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	errno = 0;
	if ((is->cert = read_cert(cert_file, err, errlen)) == NULL)
		goto fail;
	errno = 0;
	if ((is->key = read_key(key_file, err, errlen)) == NULL)
		goto fail;
	if (X509_check_private_key(is->cert, is->key) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "issuer_key %s: does not match issuer_certificate %s",
		    key_file, cert_file);
		goto fail;
	}
	if (!name_org(X509_get_subject_name(is->cert), is->network)) {
		snprintf(err, errlen, "issuer_certificate %s: no single subject O (the network "
		    "it issues for)", cert_file);
		goto fail;
	}
	if (!check_ca(is, cert_file, err, errlen) ||
	    !read_constraints(is, cert_file, err, errlen) ||
	    !check_chain(is, roots, cert_file, err, errlen))
		goto fail;
	is->not_before = cert_asn1_time_s(X509_get0_notBefore(is->cert));
	is->not_after = cert_asn1_time_s(X509_get0_notAfter(is->cert));
	return is;
fail:
	issuer_del(is);
	return NULL;
}

void
issuer_del(struct issuer *is)
{
	if (is == NULL)
		return;
	X509_free(is->cert);
	EVP_PKEY_free(is->key);
	free(is);
}

const char *
issuer_network(const struct issuer *is)
{
	return is->network;
}

X509 *
issuer_cert(const struct issuer *is)
{
	return is->cert;
}

int64_t
issuer_not_after(const struct issuer *is)
{
	return is->not_after;
}

bool
issuer_expiring(const struct issuer *is, int64_t now, unsigned warn_days, int *days_left)
{
	int64_t left = is->not_after - now;

	*days_left = (int)((left >= 0 ? left : left - 86399) / 86400);
	return left < cert_crl_warn_window(is->not_before, is->not_after, warn_days);
}

static bool
range_has(const struct ip_range *r, size_t n, const uint8_t *addr, int len)
{
	for (size_t i = 0; i < n; i++) {
		bool in = r[i].len == len;

		for (int b = 0; in && b < len; b++)
			in = (addr[b] & r[i].mask[b]) == (r[i].addr[b] & r[i].mask[b]);
		if (in)
			return true;
	}
	return false;
}

/* The CSR's public key when its signature holds and it is P-256, else NULL with err. */
static EVP_PKEY *
csr_key(const uint8_t *der, size_t len, char *err, size_t errlen)
{
	const unsigned char *p = der;
	X509_REQ *req = NULL;
	EVP_PKEY *k = NULL;
	char group[32];

	if (der == NULL || len == 0 || len > ISSUER_CSR_MAX ||
	    (req = d2i_X509_REQ(NULL, &p, (long)len)) == NULL || p != der + len) {
		snprintf(err, errlen, "csr: not a DER PKCS#10 request");
		goto out;
	}
	if ((k = X509_REQ_get0_pubkey(req)) == NULL || X509_REQ_verify(req, k) != 1) {
		snprintf(err, errlen, "csr: its signature does not verify");
		k = NULL;
		goto out;
	}
	if (!EVP_PKEY_is_a(k, "EC") ||
	    EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group,
	    sizeof(group), NULL) != 1 || strcmp(group, "prime256v1") != 0) {
		snprintf(err, errlen, "csr: the key must be ECDSA P-256");
		k = NULL;
		goto out;
	}
	EVP_PKEY_up_ref(k);
out:
	X509_REQ_free(req);
	ERR_clear_error();
	return k;
}

static bool
check_profile(const struct issuer *is, const struct issuer_profile *p, char *err,
    size_t errlen)
{
	char buf[NETADDR_STRLEN];
	size_t nlen = p->name != NULL ? strlen(p->name) : 0;

	if (nlen == 0 || nlen > CERT_NAME_MAX) {
		snprintf(err, errlen, "name: must be 1 to %d bytes", CERT_NAME_MAX);
		return false;
	}
	for (size_t i = 0; i < nlen; i++)
		if ((unsigned char)p->name[i] < 0x20 || p->name[i] == 0x7f) {
			snprintf(err, errlen, "name: contains a control character");
			return false;
		}
	if (p->key == NULL) {
		snprintf(err, errlen, "key: missing");
		return false;
	}
	if (p->n_ips == 0 || p->n_ips > CERT_TUNNEL_MAX) {
		snprintf(err, errlen, "tunnel addresses: must be 1 to %d", CERT_TUNNEL_MAX);
		return false;
	}
	for (size_t i = 0; i < p->n_ips; i++) {
		const struct netaddr *a = &p->ips[i];
		int len = a->family == AF_INET ? 4 : a->family == AF_INET6 ? 16 : 0;

		if (len == 0 || a->prefix != len * 8) {
			snprintf(err, errlen, "tunnel address %zu: not a host address", i + 1);
			return false;
		}
		if (!range_has(is->permitted, is->n_permitted, a->addr, len) ||
		    range_has(is->excluded, is->n_excluded, a->addr, len)) {
			snprintf(err, errlen, "tunnel address %s: outside the issuer's IP ranges "
			    "(nameConstraints)", netaddr_format(a, false, buf));
			return false;
		}
	}
	if (p->n_groups > CERT_GROUPS_MAX) {
		snprintf(err, errlen, "groups: more than %d", CERT_GROUPS_MAX);
		return false;
	}
	for (size_t i = 0; i < p->n_groups; i++)
		if (!policy_group_name_ok(p->groups[i], strnlen(p->groups[i],
		    CERT_GROUP_MAX + 1))) {
			snprintf(err, errlen, "group %zu: the name must be 1 to %d of a-z, 0-9 and "
			    "'-'", i + 1, CERT_GROUP_MAX);
			return false;
		}
	if (p->lifetime_s <= 0) {
		snprintf(err, errlen, "lifetime: must be positive");
		return false;
	}
	return true;
}

/* Appends URI:prefix+value to names. */
static bool
push_uri(GENERAL_NAMES *names, const char *prefix, const char *value)
{
	char s[128];
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *uri = ASN1_IA5STRING_new();
	int n = snprintf(s, sizeof(s), "%s%s", prefix, value);

	if (gn == NULL || uri == NULL || n < 0 || (size_t)n >= sizeof(s) ||
	    ASN1_STRING_set(uri, s, n) != 1)
		goto fail;
	GENERAL_NAME_set0_value(gn, GEN_URI, uri);
	uri = NULL;
	if (sk_GENERAL_NAME_push(names, gn) <= 0)
		goto fail;
	return true;
fail:
	ASN1_IA5STRING_free(uri);
	GENERAL_NAME_free(gn);
	return false;
}

static bool
push_ip(GENERAL_NAMES *names, const struct netaddr *a)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_OCTET_STRING *ip = ASN1_OCTET_STRING_new();

	if (gn == NULL || ip == NULL ||
	    ASN1_OCTET_STRING_set(ip, a->addr, a->family == AF_INET ? 4 : 16) != 1)
		goto fail;
	GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
	ip = NULL;
	if (sk_GENERAL_NAME_push(names, gn) <= 0)
		goto fail;
	return true;
fail:
	ASN1_OCTET_STRING_free(ip);
	GENERAL_NAME_free(gn);
	return false;
}

static bool
add_san(X509 *x, const struct issuer_profile *p)
{
	GENERAL_NAMES *names = GENERAL_NAMES_new();
	char b64[45];
	bool ok = false;

	if (names == NULL)
		return false;
	wg_key_to_base64(p->key, b64);
	if (!push_uri(names, CERT_URI_KEY_PREFIX, b64))
		goto out;
	for (size_t i = 0; i < p->n_ips; i++)
		if (!push_ip(names, &p->ips[i]))
			goto out;
	for (size_t i = 0; i < p->n_groups; i++)
		if (!push_uri(names, CERT_URI_GROUP_PREFIX, p->groups[i]))
			goto out;
	ok = X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) == 1;
out:
	GENERAL_NAMES_free(names);
	return ok;
}

static bool
add_conf(X509 *x, X509 *issuer, int nid, const char *value)
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

/* A random positive 128-bit serial: 16 random bytes with the top bit cleared, never 0. */
static bool
set_serial(X509 *x)
{
	uint8_t b[16];
	BIGNUM *bn = NULL;
	bool ok;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return false;
	b[0] = (uint8_t)((b[0] & 0x7f) | 0x40);
	ok = (bn = BN_bin2bn(b, sizeof(b), NULL)) != NULL &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok;
}

static bool
set_subject(X509 *x, const char *cn, const char *org)
{
	X509_NAME *n = X509_get_subject_name(x);

	return X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) == 1 &&
	    X509_NAME_add_entry_by_NID(n, NID_organizationName, MBSTRING_UTF8,
	    (const unsigned char *)org, -1, -1, 0) == 1;
}

int
issuer_sign(const struct issuer *is, const uint8_t *csr_der, size_t csr_len,
    const struct issuer_profile *p, int64_t now, uint8_t **der, size_t *len, char *err,
    size_t errlen)
{
	struct cert_identity id;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	char why[256];
	int64_t end = now + p->lifetime_s;
	int n, r = -1;

	*der = NULL;
	*len = 0;
	if (!check_profile(is, p, err, errlen) || (k = csr_key(csr_der, csr_len, err,
	    errlen)) == NULL)
		goto out;
	if (now >= is->not_after) {
		snprintf(err, errlen, "the issuer expired; make a new one (wiresync-ca issuer)");
		goto out;
	}
	if (end > is->not_after)
		end = is->not_after;
	if ((x = X509_new()) == NULL ||
	    X509_set_version(x, X509_VERSION_3) != 1 ||
	    !set_serial(x) ||
	    ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(now - ISSUER_BACKDATE_S)) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)end) == NULL ||
	    X509_set_pubkey(x, k) != 1 ||
	    !set_subject(x, p->name, is->network) ||
	    X509_set_issuer_name(x, X509_get_subject_name(is->cert)) != 1 ||
	    !add_conf(x, is->cert, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_conf(x, is->cert, NID_key_usage, "critical,digitalSignature") ||
	    !add_conf(x, is->cert, NID_ext_key_usage, "clientAuth") ||
	    !add_conf(x, is->cert, NID_subject_key_identifier, "hash") ||
	    !add_conf(x, is->cert, NID_authority_key_identifier, "keyid:always") ||
	    !add_san(x, p) ||
	    X509_sign(x, is->key, EVP_sha256()) <= 0) {
		snprintf(err, errlen, "cannot build the certificate (OpenSSL)");
		goto out;
	}
	/* What the server and every agent will read from it: fail here, not there. */
	if (!cert_identity_from_x509(x, &id, why, sizeof(why))) {
		snprintf(err, errlen, "%s", why);
		goto out;
	}
	*der = NULL;
	if ((n = i2d_X509(x, der)) <= 0) {
		*der = NULL;
		snprintf(err, errlen, "cannot encode the certificate");
		goto out;
	}
	*len = (size_t)n;
	r = 0;
out:
	X509_free(x);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return r;
}
