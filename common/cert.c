/* The wiresync certificate profile: CN, O, SAN key URI and tunnel addresses, EKU. */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/cert.h"
#include "common/policy.h"

/* Far above any real client certificate; keeps d2i from chewing on arbitrary blobs. */
#define CERT_DER_MAX 65536
#define WG_KEY_B64_LEN 44

static void cert_err(char *err, size_t errlen, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes "certificate "NAME": reason", or "certificate: reason" before the CN is known. */
static void
cert_err(char *err, size_t errlen, const char *name, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err == NULL || errlen == 0)
		return;
	if (name != NULL && name[0] != '\0')
		n = snprintf(err, errlen, "certificate \"%s\": ", name);
	else
		n = snprintf(err, errlen, "certificate: ");
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* True when the UTF-8 text has no C0 or C1 control character and no DEL. */
static bool
cert_text_clean(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return false;
		if (s[i] == 0xc2 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
			return false;
	}
	return true;
}

/* Copies the single subject entry nid (CN or O) into out[CERT_NAME_MAX + 1]. */
static bool
cert_name_get(X509_NAME *subject, int nid, const char *what, char *out, const char *cn,
    char *err, size_t errlen)
{
	X509_NAME_ENTRY *entry;
	unsigned char *utf8 = NULL;
	int idx, len;
	bool ok = false;

	idx = X509_NAME_get_index_by_NID(subject, nid, -1);
	if (idx < 0) {
		cert_err(err, errlen, cn, "no %s in the subject", what);
		goto out;
	}
	if (X509_NAME_get_index_by_NID(subject, nid, idx) >= 0) {
		cert_err(err, errlen, cn, "more than one %s in the subject", what);
		goto out;
	}
	entry = X509_NAME_get_entry(subject, idx);
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
	if (len < 0) {
		cert_err(err, errlen, cn, "%s is not a valid string", what);
		goto out;
	}
	if (len == 0) {
		cert_err(err, errlen, cn, "%s is empty", what);
		goto out;
	}
	if (len > CERT_NAME_MAX) {
		cert_err(err, errlen, cn, "%s is longer than %d bytes", what, CERT_NAME_MAX);
		goto out;
	}
	if (!cert_text_clean(utf8, (size_t)len)) {
		cert_err(err, errlen, cn, "%s contains a control character", what);
		goto out;
	}
	memcpy(out, utf8, (size_t)len);
	out[len] = '\0';
	ok = true;
out:
	OPENSSL_free(utf8);
	return ok;
}

static bool
cert_check_ca(X509 *x, const char *cn, char *err, size_t errlen)
{
	BASIC_CONSTRAINTS *bc;
	int crit = -1;
	bool ok = false;

	bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
	if (bc == NULL && crit != -1) {
		cert_err(err, errlen, cn, "malformed or repeated basicConstraints");
		goto out;
	}
	if (bc != NULL && bc->ca) {
		cert_err(err, errlen, cn, "is a CA (basicConstraints CA:TRUE)");
		goto out;
	}
	ok = true;
out:
	BASIC_CONSTRAINTS_free(bc);
	return ok;
}

static bool
cert_check_eku(X509 *x, const char *cn, char *err, size_t errlen)
{
	EXTENDED_KEY_USAGE *eku;
	int crit = -1, i;
	bool ok = false;

	eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL);
	if (eku == NULL && crit != -1) {
		cert_err(err, errlen, cn, "malformed or repeated extendedKeyUsage");
		goto out;
	}
	for (i = 0; eku != NULL && i < sk_ASN1_OBJECT_num(eku); i++)
		if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == NID_client_auth)
			ok = true;
	if (!ok)
		cert_err(err, errlen, cn, "no clientAuth extendedKeyUsage");
out:
	EXTENDED_KEY_USAGE_free(eku);
	return ok;
}

/* One SAN URI urn:wiresync:group:NAME; a repeated group counts once. */
static bool
cert_san_group(const unsigned char *name, size_t len, struct cert_identity *id, char *err,
    size_t errlen)
{
	if (!policy_group_name_ok((const char *)name, len)) {
		cert_err(err, errlen, id->name, "group URI \"%s%.*s\": the name must be 1 to %d "
		    "of a-z, 0-9 and '-'", CERT_URI_GROUP_PREFIX, (int)(len > 64 ? 64 : len),
		    (const char *)name, CERT_GROUP_MAX);
		return false;
	}
	for (size_t i = 0; i < id->n_groups; i++)
		if (strlen(id->groups[i]) == len && memcmp(id->groups[i], name, len) == 0)
			return true;
	if (id->n_groups == CERT_GROUPS_MAX) {
		cert_err(err, errlen, id->name, "more than %d group URIs", CERT_GROUPS_MAX);
		return false;
	}
	memcpy(id->groups[id->n_groups], name, len);
	id->groups[id->n_groups][len] = '\0';
	id->n_groups++;
	return true;
}

/* Reads one SAN URI: the admin role, a key, a group, or something else, which is ignored. */
static bool
cert_san_uri(const ASN1_IA5STRING *uri, struct cert_identity *id, size_t *n_keys,
    char *err, size_t errlen)
{
	const size_t plen = strlen(CERT_URI_KEY_PREFIX);
	const unsigned char *data = ASN1_STRING_get0_data(uri);
	size_t len = (size_t)ASN1_STRING_length(uri);
	char b64[WG_KEY_B64_LEN + 1];
	bool ok = true;

	if (len == strlen(CERT_URI_ADMIN) && memcmp(data, CERT_URI_ADMIN, len) == 0) {
		id->admin = true;
		goto out;
	}
	if (len >= strlen(CERT_URI_GROUP_PREFIX) &&
	    memcmp(data, CERT_URI_GROUP_PREFIX, strlen(CERT_URI_GROUP_PREFIX)) == 0)
		return cert_san_group(data + strlen(CERT_URI_GROUP_PREFIX),
		    len - strlen(CERT_URI_GROUP_PREFIX), id, err, errlen);
	if (len < plen || memcmp(data, CERT_URI_KEY_PREFIX, plen) != 0)
		goto out;
	ok = false;
	if (++*n_keys > 1) {
		cert_err(err, errlen, id->name, "more than one key URI");
		goto out;
	}
	if (len - plen != WG_KEY_B64_LEN) {
		cert_err(err, errlen, id->name, "key URI is not base64 of a %d-byte key",
		    WG_KEY_LEN);
		goto out;
	}
	memcpy(b64, data + plen, WG_KEY_B64_LEN);
	b64[WG_KEY_B64_LEN] = '\0';
	if (!wg_key_from_base64(b64, id->key)) {
		cert_err(err, errlen, id->name, "key URI is not base64 of a %d-byte key",
		    WG_KEY_LEN);
		goto out;
	}
	id->has_key = true;
	ok = true;
out:
	return ok;
}

/* Reads one SAN IP address as a tunnel address (/32 or /128). */
static bool
cert_san_ip(const ASN1_OCTET_STRING *ip, struct cert_identity *id, char *err, size_t errlen)
{
	struct netaddr *a;
	int len = ASN1_STRING_length(ip);

	if (len != 4 && len != 16) {
		cert_err(err, errlen, id->name, "malformed IP address in subjectAltName");
		return false;
	}
	if (id->n_tunnel >= CERT_TUNNEL_MAX) {
		cert_err(err, errlen, id->name, "more than %d IP addresses in subjectAltName",
		    CERT_TUNNEL_MAX);
		return false;
	}
	a = &id->tunnel[id->n_tunnel++];
	memset(a, 0, sizeof(*a));
	a->family = len == 4 ? AF_INET : AF_INET6;
	a->prefix = len == 4 ? 32 : 128;
	memcpy(a->addr, ASN1_STRING_get0_data(ip), (size_t)len);
	return true;
}

int
cert_hub_key(X509 *x, uint8_t key[WG_KEY_LEN], char *err, size_t errlen)
{
	struct cert_identity id = { .name = "server certificate" };
	GENERAL_NAMES *names;
	GENERAL_NAME *gn;
	size_t n_keys = 0;
	int crit = -1, r = -1;

	names = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	if (names == NULL && crit != -1) {
		cert_err(err, errlen, id.name, "malformed or repeated subjectAltName");
		goto out;
	}
	/* only URIs: a server's IP SANs are its own addresses, not tunnel addresses */
	for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
		gn = sk_GENERAL_NAME_value(names, i);
		if (gn->type == GEN_URI &&
		    !cert_san_uri(gn->d.uniformResourceIdentifier, &id, &n_keys, err, errlen))
			goto out;
	}
	r = id.has_key ? 1 : 0;
	if (id.has_key)
		memcpy(key, id.key, WG_KEY_LEN);
out:
	GENERAL_NAMES_free(names);
	return r;
}

static bool
cert_read_san(X509 *x, struct cert_identity *id, char *err, size_t errlen)
{
	GENERAL_NAMES *names;
	GENERAL_NAME *gn;
	size_t n_keys = 0;
	int crit = -1, i;
	bool ok = false;

	names = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	if (names == NULL && crit != -1) {
		cert_err(err, errlen, id->name, "malformed or repeated subjectAltName");
		goto out;
	}
	for (i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
		gn = sk_GENERAL_NAME_value(names, i);
		if (gn->type == GEN_URI &&
		    !cert_san_uri(gn->d.uniformResourceIdentifier, id, &n_keys, err, errlen))
			goto out;
		if (gn->type == GEN_IPADD && !cert_san_ip(gn->d.iPAddress, id, err, errlen))
			goto out;
	}
	if (!id->has_key && !id->admin) {
		cert_err(err, errlen, id->name, "neither a key URI nor the admin URI");
		goto out;
	}
	if (id->has_key && id->n_tunnel == 0) {
		cert_err(err, errlen, id->name, "key URI without an IP address");
		goto out;
	}
	ok = true;
out:
	GENERAL_NAMES_free(names);
	return ok;
}

static bool
cert_read_serial(X509 *x, struct cert_identity *id, char *err, size_t errlen)
{
	BIGNUM *bn = NULL;
	char *hex = NULL;
	bool ok = false;

	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) == NULL ||
	    (hex = BN_bn2hex(bn)) == NULL) {
		cert_err(err, errlen, id->name, "unreadable serial number");
		goto out;
	}
	if (strlen(hex) >= sizeof(id->serial)) {
		cert_err(err, errlen, id->name, "serial number too long");
		goto out;
	}
	strcpy(id->serial, hex);
	ok = true;
out:
	OPENSSL_free(hex);
	BN_free(bn);
	return ok;
}

static bool
cert_read_not_after(X509 *x, struct cert_identity *id, char *err, size_t errlen)
{
	struct tm tm;
	time_t t;
	bool ok = false;

	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1) {
		cert_err(err, errlen, id->name, "unreadable notAfter time");
		goto out;
	}
	/* -1 is also 1969-12-31T23:59:59; past that it means time_t overflowed. */
	t = timegm(&tm);
	if (t == (time_t)-1 && tm.tm_year != 69) {
		cert_err(err, errlen, id->name, "notAfter time out of range");
		goto out;
	}
	id->not_after = (int64_t)t;
	ok = true;
out:
	return ok;
}

bool
cert_identity_from_x509(X509 *x, struct cert_identity *id, char *err, size_t errlen)
{
	struct cert_identity tmp;
	X509_NAME *subject;

	if (x == NULL) {
		cert_err(err, errlen, NULL, "missing");
		return false;
	}
	memset(&tmp, 0, sizeof(tmp));
	subject = X509_get_subject_name(x);
	if (!cert_name_get(subject, NID_commonName, "CN", tmp.name, NULL, err, errlen) ||
	    !cert_name_get(subject, NID_organizationName, "O", tmp.network, tmp.name, err,
	    errlen))
		return false;
	if (!cert_check_ca(x, tmp.name, err, errlen) ||
	    !cert_check_eku(x, tmp.name, err, errlen) ||
	    !cert_read_san(x, &tmp, err, errlen) ||
	    !cert_read_serial(x, &tmp, err, errlen) ||
	    !cert_read_not_after(x, &tmp, err, errlen))
		return false;
	memcpy(id, &tmp, sizeof(*id));
	return true;
}

bool
cert_identity_from_der(const uint8_t *der, size_t len, struct cert_identity *id,
    char *err, size_t errlen)
{
	const unsigned char *p = der;
	X509 *x = NULL;
	bool ok = false;

	if (der == NULL || len == 0 || len > CERT_DER_MAX) {
		cert_err(err, errlen, NULL, "DER length %zu out of range (1 to %d)", len,
		    CERT_DER_MAX);
		goto out;
	}
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL) {
		cert_err(err, errlen, NULL, "not a DER X.509 certificate");
		goto out;
	}
	if (p != der + len) {
		cert_err(err, errlen, NULL, "%zu trailing bytes after the DER certificate",
		    len - (size_t)(p - der));
		goto out;
	}
	ok = cert_identity_from_x509(x, id, err, errlen);
out:
	X509_free(x);
	return ok;
}

void
wg_key_to_base64(const uint8_t key[WG_KEY_LEN], char out[45])
{
	EVP_EncodeBlock((unsigned char *)out, key, WG_KEY_LEN);
}

/* True for the 64 characters of the standard base64 alphabet. */
static bool
b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '+' || c == '/';
}

bool
wg_key_from_base64(const char *s, uint8_t key[WG_KEY_LEN])
{
	unsigned char buf[WG_KEY_B64_LEN / 4 * 3];
	char again[WG_KEY_B64_LEN + 1];
	bool ok = false;
	size_t i;

	if (s == NULL || strnlen(s, WG_KEY_B64_LEN + 1) != WG_KEY_B64_LEN ||
	    s[WG_KEY_B64_LEN - 1] != '=')
		goto out;
	for (i = 0; i < WG_KEY_B64_LEN - 1; i++)
		if (!b64_char(s[i]))
			goto out;
	/* EVP_DecodeBlock counts the padding as a zero byte: 33 bytes, the last one 0. */
	if (EVP_DecodeBlock(buf, (const unsigned char *)s, WG_KEY_B64_LEN) != (int)sizeof(buf) ||
	    buf[WG_KEY_LEN] != 0)
		goto out;
	/* Only the canonical encoding: the 2 spare bits of the last character must be 0. */
	wg_key_to_base64(buf, again);
	if (memcmp(again, s, WG_KEY_B64_LEN) != 0)
		goto out;
	memcpy(key, buf, WG_KEY_LEN);
	ok = true;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return ok;
}

int
cert_days_left(const X509 *x)
{
	int days, secs;

	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) != 1)
		return INT_MIN;
	/* both carry the sign of the difference: round towards the past */
	return days - (secs < 0 ? 1 : 0);
}

int64_t
cert_asn1_time_s(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

int64_t
cert_crl_warn_window(int64_t this_up, int64_t next, unsigned warn_days)
{
	int64_t w = (int64_t)warn_days * 86400, half = (next - this_up) / 2;

	return this_up > 0 && half < w ? half : w;
}
