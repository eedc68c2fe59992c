/* In-process issuing of agent certificates (OpenSSL 3). The fixed extensions are built once
 * and copied into every certificate, and one key generation context is reused: 10,000
 * identities take about a second. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "bench/certgen.h"

#define CERTGEN_KEY_URI "urn:wiresync:key:"
#define CERTGEN_NET_BASE 0x0a400000u    /* 10.64.0.0/10 */
#define CERTGEN_NET_SIZE (1u << 22)
#define CERTGEN_DAYS 7L

struct certgen {
	X509 *ca;
	EVP_PKEY *ca_key;
	EVP_PKEY_CTX *keygen;
	X509_EXTENSION *fixed[4];     /* basicConstraints, keyUsage, EKU, AKI */
	BIGNUM *serial_base;
	uint64_t seed;
	char network[65];
};

static void
err_openssl(char *err, size_t errlen, const char *what)
{
	char buf[200];

	ERR_error_string_n(ERR_peek_last_error(), buf, sizeof(buf));
	ERR_clear_error();
	snprintf(err, errlen, "%s: %s", what, buf);
}

void
certgen_del(struct certgen *g)
{
	if (g == NULL)
		return;
	X509_free(g->ca);
	EVP_PKEY_free(g->ca_key);
	EVP_PKEY_CTX_free(g->keygen);
	for (size_t i = 0; i < sizeof(g->fixed) / sizeof(g->fixed[0]); i++)
		X509_EXTENSION_free(g->fixed[i]);
	BN_free(g->serial_base);
	free(g);
}

const char *
certgen_network(const struct certgen *g)
{
	return g->network;
}

struct certgen *
certgen_new(const char *ca_cert, const char *ca_key, const char *network, char *err,
    size_t errlen)
{
	static const struct { int nid; const char *value; } fixed[] = {
		{ NID_basic_constraints, "critical,CA:FALSE" },
		{ NID_key_usage, "critical,digitalSignature" },
		{ NID_ext_key_usage, "clientAuth" },
		{ NID_authority_key_identifier, "keyid:always" },
	};
	struct certgen *g;
	X509V3_CTX v3;
	FILE *f;

	if ((g = calloc(1, sizeof(*g))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((f = fopen(ca_cert, "r")) == NULL) {
		snprintf(err, errlen, "%s: cannot open: %m", ca_cert);
		goto fail;
	}
	g->ca = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (g->ca == NULL) {
		err_openssl(err, errlen, ca_cert);
		goto fail;
	}
	if ((f = fopen(ca_key, "r")) == NULL) {
		snprintf(err, errlen, "%s: cannot open: %m", ca_key);
		goto fail;
	}
	g->ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (g->ca_key == NULL) {
		err_openssl(err, errlen, ca_key);
		goto fail;
	}
	if (X509_check_private_key(g->ca, g->ca_key) != 1) {
		snprintf(err, errlen, "%s: key does not match the CA certificate %s", ca_key,
		    ca_cert);
		ERR_clear_error();
		goto fail;
	}
	if (network == NULL) {
		X509_NAME *n = X509_get_subject_name(g->ca);
		if (X509_NAME_get_text_by_NID(n, NID_organizationName, g->network,
		    sizeof(g->network)) <= 0) {
			snprintf(err, errlen, "%s: the CA has no O= to take the network from; "
			    "give --network", ca_cert);
			goto fail;
		}
	} else {
		if (strlen(network) == 0 || strlen(network) >= sizeof(g->network)) {
			snprintf(err, errlen, "network \"%s\": 1 to 64 characters", network);
			goto fail;
		}
		snprintf(g->network, sizeof(g->network), "%s", network);
	}
	X509V3_set_ctx(&v3, g->ca, NULL, NULL, NULL, 0);
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		g->fixed[i] = X509V3_EXT_conf_nid(NULL, &v3, fixed[i].nid, fixed[i].value);
		if (g->fixed[i] == NULL) {
			err_openssl(err, errlen, ca_cert);
			goto fail;
		}
	}
	g->keygen = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (g->keygen == NULL || EVP_PKEY_keygen_init(g->keygen) <= 0 ||
	    EVP_PKEY_CTX_set_group_name(g->keygen, "P-256") <= 0) {
		err_openssl(err, errlen, "P-256 key generation");
		goto fail;
	}
	/* serial = random 63 bits << 32 | index: unique within a run, unlikely across runs */
	if ((g->serial_base = BN_new()) == NULL ||
	    BN_rand(g->serial_base, 63, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) != 1 ||
	    BN_lshift(g->serial_base, g->serial_base, 32) != 1) {
		err_openssl(err, errlen, "serial");
		goto fail;
	}
	return g;
fail:
	certgen_del(g);
	return NULL;
}

void
identity_clear(struct identity *id)
{
	X509_free(id->cert);
	EVP_PKEY_free(id->key);
	memset(id, 0, sizeof(*id));
}

static int
push_name(GENERAL_NAMES *names, int type, ASN1_STRING *value)
{
	GENERAL_NAME *gn;

	if (value == NULL || (gn = GENERAL_NAME_new()) == NULL) {
		ASN1_STRING_free(value);
		return -1;
	}
	GENERAL_NAME_set0_value(gn, type, value);
	if (sk_GENERAL_NAME_push(names, gn) <= 0) {
		GENERAL_NAME_free(gn);
		return -1;
	}
	return 0;
}

static int
add_san(X509 *x, const struct identity *id)
{
	char uri[sizeof(CERTGEN_KEY_URI) + 48];
	uint8_t ip[4];
	GENERAL_NAMES *names;
	ASN1_IA5STRING *u;
	ASN1_OCTET_STRING *a;
	int n, r = -1;

	if ((names = GENERAL_NAMES_new()) == NULL)
		return -1;
	memcpy(uri, CERTGEN_KEY_URI, sizeof(CERTGEN_KEY_URI) - 1);
	n = EVP_EncodeBlock((unsigned char *)uri + sizeof(CERTGEN_KEY_URI) - 1, id->wg_key, 32);
	n += (int)sizeof(CERTGEN_KEY_URI) - 1;
	ip[0] = (uint8_t)(id->tunnel_ip >> 24);
	ip[1] = (uint8_t)(id->tunnel_ip >> 16);
	ip[2] = (uint8_t)(id->tunnel_ip >> 8);
	ip[3] = (uint8_t)id->tunnel_ip;
	u = ASN1_IA5STRING_new();
	if (u != NULL && ASN1_STRING_set(u, uri, n) != 1) {
		ASN1_IA5STRING_free(u);
		u = NULL;
	}
	if (push_name(names, GEN_URI, u) < 0)
		goto out;
	a = ASN1_OCTET_STRING_new();
	if (a != NULL && ASN1_OCTET_STRING_set(a, ip, 4) != 1) {
		ASN1_OCTET_STRING_free(a);
		a = NULL;
	}
	if (push_name(names, GEN_IPADD, a) < 0)
		goto out;
	r = X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) == 1 ? 0 : -1;
out:
	GENERAL_NAMES_free(names);
	return r;
}

void
certgen_set_seed(struct certgen *g, uint64_t seed)
{
	g->seed = seed;
}

/* The same (network, seed, index) always gets the same random-looking key: the server binds
 * a tunnel address to the key that first claimed it, so a rerun against the same database
 * must present the same key for the same address. */
static int
certgen_wg_key(const struct certgen *g, uint32_t index, uint8_t key[32])
{
	char in[128];
	int n;

	n = snprintf(in, sizeof(in), "wiresync-bench/%s/%llu/%u", g->network,
	    (unsigned long long)g->seed, index);
	return EVP_Digest(in, (size_t)n, key, NULL, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

int
certgen_issue(struct certgen *g, const char *prefix, uint32_t index, struct identity *out,
    char *err, size_t errlen)
{
	char cn[64];
	BIGNUM *serial = NULL;
	X509_EXTENSION *ski = NULL;
	X509V3_CTX v3;
	X509 *x = NULL;

	memset(out, 0, sizeof(*out));
	if (index >= CERTGEN_NET_SIZE - 2) {
		snprintf(err, errlen, "identity %u: past the 10.64.0.0/10 tunnel addresses", index);
		return -1;
	}
	snprintf(cn, sizeof(cn), "%s-%u", prefix, index);
	/* each seed its own 65536 addresses (seeds 0-63), so seeds never share an address */
	out->tunnel_ip = CERTGEN_NET_BASE + 1 +
	    (uint32_t)((g->seed * 65536u + index) % (CERTGEN_NET_SIZE - 2));
	if (certgen_wg_key(g, index, out->wg_key) < 0 ||
	    EVP_PKEY_generate(g->keygen, &out->key) <= 0 ||
	    (x = X509_new()) == NULL ||
	    (serial = BN_dup(g->serial_base)) == NULL ||
	    BN_add_word(serial, index) != 1 ||
	    X509_set_version(x, X509_VERSION_3) != 1 ||
	    BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) == NULL ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -300) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), CERTGEN_DAYS * 86400) == NULL ||
	    X509_set_pubkey(x, out->key) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(g->ca)) != 1 ||
	    X509_NAME_add_entry_by_NID(X509_get_subject_name(x), NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_NID(X509_get_subject_name(x), NID_organizationName,
	    MBSTRING_UTF8, (const unsigned char *)g->network, -1, -1, 0) != 1)
		goto fail;
	for (size_t i = 0; i < sizeof(g->fixed) / sizeof(g->fixed[0]); i++)
		if (X509_add_ext(x, g->fixed[i], -1) != 1)
			goto fail;
	X509V3_set_ctx(&v3, g->ca, x, NULL, NULL, 0);
	if ((ski = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_key_identifier, "hash")) == NULL ||
	    X509_add_ext(x, ski, -1) != 1 ||
	    add_san(x, out) < 0 ||
	    X509_sign(x, g->ca_key, EVP_sha256()) <= 0)
		goto fail;
	X509_EXTENSION_free(ski);
	BN_free(serial);
	out->cert = x;
	return 0;
fail:
	err_openssl(err, errlen, cn);
	X509_EXTENSION_free(ski);
	BN_free(serial);
	X509_free(x);
	identity_clear(out);
	return -1;
}
