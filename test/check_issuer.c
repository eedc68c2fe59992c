/* server/issuer.c: the online issuer's load checks and the host certificates it signs. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "agent/csr.h"
#include "common/cert.h"
#include "common/netaddr.h"
#include "server/issuer.h"
#include "test/check_suites.h"
#include "test/issuertest.h"
#include "test/testcert.h"

static struct issuertest t;
static X509_STORE *roots;
static struct issuer *is;
static EVP_PKEY *host_key;
static uint8_t *csr;
static size_t csr_len;
static struct netaddr ips[2];
static uint8_t wgkey[WG_KEY_LEN];
static const char groups[][CERT_GROUP_MAX + 1] = { "web", "db" };
static char err[300];

static void
setup(void)
{
	it_setup(&t);
	roots = it_roots(&t);
	is = issuer_load(t.issuer_crt, t.issuer_key, roots, err, sizeof(err));
	ck_assert_msg(is != NULL, "%s", err);
	host_key = csr_key_new();
	ck_assert_int_eq(csr_build(host_key, "ignored-cn", &csr, &csr_len, err, sizeof(err)), 0);
	ck_assert(netaddr_parse("10.9.3.4", false, &ips[0], err, sizeof(err)));
	ck_assert(netaddr_parse("fd00:9::4", false, &ips[1], err, sizeof(err)));
	for (int i = 0; i < WG_KEY_LEN; i++)
		wgkey[i] = (uint8_t)(i * 7);
}

static void
teardown(void)
{
	free(csr);
	EVP_PKEY_free(host_key);
	issuer_del(is);
	X509_STORE_free(roots);
	it_teardown(&t);
}

static struct issuer_profile
profile(void)
{
	struct issuer_profile p = {
		.name = "host7", .key = wgkey, .ips = ips, .n_ips = 2,
		.groups = groups, .n_groups = 2, .lifetime_s = 7 * 86400,
	};

	return p;
}

/* Signs p at now; the certificate (X509_free) or NULL with err set. */
static X509 *
sign(const struct issuer_profile *p, int64_t now)
{
	uint8_t *der = NULL;
	size_t len = 0;
	const unsigned char *q;
	X509 *x;

	if (issuer_sign(is, csr, csr_len, p, now, &der, &len, err, sizeof(err)) != 0) {
		ck_assert_ptr_null(der);
		return NULL;
	}
	q = der;
	x = d2i_X509(NULL, &q, (long)len);
	ck_assert_ptr_eq(q, der + len);
	OPENSSL_free(der);
	return x;
}

/* X509_verify_cert of x for a TLS client, the root trusted and the issuer untrusted. */
static int
verify_chain(X509 *x, X509_STORE *store, X509 *mid)
{
	X509_STORE_CTX *sctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	int r;

	ck_assert_int_gt(sk_X509_push(untrusted, mid), 0);
	ck_assert_int_eq(X509_STORE_CTX_init(sctx, store, x, untrusted), 1);
	X509_STORE_CTX_set_purpose(sctx, X509_PURPOSE_SSL_CLIENT);
	r = X509_verify_cert(sctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(sctx);
	X509_STORE_CTX_free(sctx);
	sk_X509_free(untrusted);
	return r;
}

START_TEST(load_reads)
{
	ck_assert_str_eq(issuer_network(is), "neta");
	ck_assert_int_eq(X509_cmp(issuer_cert(is), t.issuer), 0);
	ck_assert_int_eq(issuer_not_after(is), cert_asn1_time_s(X509_get0_notAfter(t.issuer)));
}
END_TEST

START_TEST(sign_profile)
{
	struct issuer_profile p = profile();
	struct cert_identity id;
	int64_t now = time(NULL);
	X509 *x = sign(&p, now);
	char cn[80];
	ASN1_INTEGER *sn;
	BIGNUM *bn;

	ck_assert_msg(x != NULL, "%s", err);
	ck_assert_msg(cert_identity_from_x509(x, &id, err, sizeof(err)), "%s", err);
	ck_assert_str_eq(id.name, "host7");
	ck_assert_str_eq(id.network, "neta");
	ck_assert(id.has_key);
	ck_assert_mem_eq(id.key, wgkey, WG_KEY_LEN);
	ck_assert_uint_eq(id.n_tunnel, 2);
	ck_assert(netaddr_equal(&id.tunnel[0], &ips[0]));
	ck_assert(netaddr_equal(&id.tunnel[1], &ips[1]));
	ck_assert_uint_eq(id.n_groups, 2);
	ck_assert_str_eq(id.groups[0], "web");
	ck_assert_str_eq(id.groups[1], "db");
	ck_assert(!id.admin);
	ck_assert_int_eq(id.not_after, now + 7 * 86400);
	ck_assert_int_eq(cert_asn1_time_s(X509_get0_notBefore(x)), now - 60);
	/* the CSR's CN is not copied; the key is */
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
	ck_assert_str_eq(cn, "host7");
	ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(x), host_key), 1);
	ck_assert_int_eq(X509_check_ca(x), 0);
	ck_assert_int_eq(X509_check_issued(t.issuer, x), X509_V_OK);
	ck_assert_ptr_nonnull(X509_get0_authority_key_id(x));
	ck_assert_ptr_nonnull(X509_get0_subject_key_id(x));
	ck_assert(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
	sn = X509_get_serialNumber(x);
	bn = ASN1_INTEGER_to_BN(sn, NULL);
	ck_assert(!BN_is_negative(bn));
	ck_assert_int_ge(BN_num_bits(bn), 120);
	ck_assert_int_le(BN_num_bits(bn), 128);
	BN_free(bn);
	ck_assert_int_eq(verify_chain(x, roots, t.issuer), X509_V_OK);
	X509_free(x);
}
END_TEST

/* Two certificates never share a serial. */
START_TEST(sign_serials_differ)
{
	struct issuer_profile p = profile();
	X509 *a = sign(&p, time(NULL)), *b = sign(&p, time(NULL));

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_ne(ASN1_INTEGER_cmp(X509_get0_serialNumber(a),
	    X509_get0_serialNumber(b)), 0);
	X509_free(a);
	X509_free(b);
}
END_TEST

START_TEST(sign_capped_at_issuer)
{
	struct issuer_profile p = profile();
	X509 *x;

	p.lifetime_s = 400LL * 86400;
	x = sign(&p, time(NULL));
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(cert_asn1_time_s(X509_get0_notAfter(x)), issuer_not_after(is));
	X509_free(x);
	/* past the issuer's end nothing is signed */
	ck_assert_ptr_null(sign(&p, issuer_not_after(is)));
	ck_assert_ptr_nonnull(strstr(err, "issuer expired"));
}
END_TEST

/* A 30-day issuer is warned about in its second half, not from its first day. */
START_TEST(expiring_window)
{
	int64_t na = issuer_not_after(is);
	int left = 0;

	ck_assert(!issuer_expiring(is, time(NULL), 30, &left));
	ck_assert(!issuer_expiring(is, na - 20 * 86400 - 5, 30, &left));
	ck_assert_int_eq(left, 20);
	ck_assert(!issuer_expiring(is, na - 16 * 86400, 30, &left));
	ck_assert(issuer_expiring(is, na - 14 * 86400, 30, &left));
	ck_assert_int_eq(left, 14);
	/* a shorter warn_days wins */
	ck_assert(!issuer_expiring(is, na - 14 * 86400, 7, &left));
	ck_assert(issuer_expiring(is, na - 6 * 86400, 7, &left));
	ck_assert(issuer_expiring(is, na + 10, 7, &left));
	ck_assert_int_eq(left, -1);
}
END_TEST

/* Without the issuer in the chain, or with the root alone, the host does not verify. */
START_TEST(chain_needs_issuer)
{
	struct issuer_profile p = profile();
	X509 *x = sign(&p, time(NULL));
	X509_STORE_CTX *sctx = X509_STORE_CTX_new();

	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(X509_STORE_CTX_init(sctx, roots, x, NULL), 1);
	ck_assert_int_ne(X509_verify_cert(sctx), 1);
	ck_assert_int_eq(X509_STORE_CTX_get_error(sctx),
	    X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	X509_STORE_CTX_free(sctx);
	X509_free(x);
}
END_TEST

START_TEST(csr_bad_signature)
{
	struct issuer_profile p = profile();

	csr[csr_len - 3] ^= 0x01;
	ck_assert_ptr_null(sign(&p, time(NULL)));
	ck_assert_msg(strstr(err, "csr") != NULL, "%s", err);
	/* and a CSR that is not one */
	ck_assert_ptr_null(sign(&p, time(NULL)));
	ck_assert_int_ne(issuer_sign(is, (const uint8_t *)"abc", 3, &p, time(NULL),
	    &(uint8_t *){ NULL }, &(size_t){ 0 }, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "csr: not a DER PKCS#10 request");
}
END_TEST

START_TEST(csr_not_p256)
{
	struct issuer_profile p = profile();
	EVP_PKEY *k = EVP_EC_gen("P-384");

	free(csr);
	ck_assert_int_eq(csr_build(k, "h", &csr, &csr_len, err, sizeof(err)), 0);
	EVP_PKEY_free(k);
	ck_assert_ptr_null(sign(&p, time(NULL)));
	ck_assert_str_eq(err, "csr: the key must be ECDSA P-256");
}
END_TEST

START_TEST(ip_outside_constraints)
{
	struct issuer_profile p = profile();

	ck_assert(netaddr_parse("10.10.0.1", false, &ips[1], err, sizeof(err)));
	ck_assert_ptr_null(sign(&p, time(NULL)));
	ck_assert_str_eq(err, "tunnel address 10.10.0.1: outside the issuer's IP ranges "
	    "(nameConstraints)");
	ck_assert(netaddr_parse("fd00:8::1", false, &ips[1], err, sizeof(err)));
	ck_assert_ptr_null(sign(&p, time(NULL)));
	ck_assert_ptr_nonnull(strstr(err, "fd00:8::1"));
	/* and a prefix is not a host address */
	ck_assert(netaddr_parse("10.9.0.0/24", true, &ips[1], err, sizeof(err)));
	ck_assert_ptr_null(sign(&p, time(NULL)));
	ck_assert_str_eq(err, "tunnel address 2: not a host address");
}
END_TEST

/* OpenSSL enforces the same constraint on a certificate the issuer did not sign itself. */
START_TEST(constraints_enforced_by_verify)
{
	struct testcert_spec spec = {
		.cn = "rogue", .org = "neta", .key_b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		.ips = { "192.168.1.1" },
	};
	struct testcert_ca *ca = testcert_ca_from(t.issuer, t.issuer_pkey);
	X509 *x;

	/* a leaf signed by the issuer's key with an address outside its ranges */
	x = testcert_issue(ca, &spec, NULL);
	testcert_ca_del(ca);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(verify_chain(x, roots, t.issuer), X509_V_ERR_PERMITTED_VIOLATION);
	X509_free(x);
}
END_TEST

START_TEST(bad_profile_fields)
{
	struct issuer_profile p = profile();
	static const char bad[][CERT_GROUP_MAX + 1] = { "Web" };

	p.name = "";
	ck_assert_ptr_null(sign(&p, time(NULL)));
	ck_assert_str_eq(err, "name: must be 1 to 64 bytes");
	p = profile();
	p.n_ips = 0;
	ck_assert_ptr_null(sign(&p, time(NULL)));
	ck_assert_str_eq(err, "tunnel addresses: must be 1 to 8");
	p = profile();
	p.groups = bad;
	p.n_groups = 1;
	ck_assert_ptr_null(sign(&p, time(NULL)));
	ck_assert_ptr_nonnull(strstr(err, "group 1"));
	p = profile();
	p.lifetime_s = 0;
	ck_assert_ptr_null(sign(&p, time(NULL)));
	ck_assert_str_eq(err, "lifetime: must be positive");
}
END_TEST

/* issuer_load of a certificate and key written to t's directory; NULL with err. */
static struct issuer *
load_x(X509 *x, EVP_PKEY *k)
{
	char crt[80], key[80];
	struct issuer *r;

	snprintf(crt, sizeof(crt), "%s/x.crt", t.dir);
	snprintf(key, sizeof(key), "%s/x.key", t.dir);
	ck_assert_int_eq(testcert_write_pem(crt, x), 0);
	ck_assert_int_eq(testcert_write_key(key, k), 0);
	r = issuer_load(crt, key, roots, err, sizeof(err));
	unlink(crt);
	unlink(key);
	return r;
}

START_TEST(load_wrong_key)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	ck_assert_ptr_null(load_x(t.issuer, k));
	ck_assert_msg(strstr(err, "issuer_key") != NULL && strstr(err, "does not match") !=
	    NULL, "%s", err);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(load_missing_files)
{
	ck_assert_ptr_null(issuer_load("/nonexistent/i.crt", t.issuer_key, roots, err,
	    sizeof(err)));
	ck_assert_str_eq(err, "issuer_certificate /nonexistent/i.crt: No such file or "
	    "directory");
	ck_assert_ptr_null(issuer_load(t.issuer_crt, "/nonexistent/i.key", roots, err,
	    sizeof(err)));
	ck_assert_str_eq(err, "issuer_key /nonexistent/i.key: No such file or directory");
	/* the key file given as the certificate */
	ck_assert_ptr_null(issuer_load(t.issuer_key, t.issuer_key, roots, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not a PEM certificate"));
}
END_TEST

START_TEST(load_refuses_bad_ca)
{
	static const char nc[] = "critical,permitted;IP:10.9.0.0/255.255.0.0";
	EVP_PKEY *k = EVP_EC_gen("P-256"), *other = EVP_EC_gen("P-256");
	X509 *x, *stranger;

	/* no path length: it could sign CAs */
	x = it_ca(k, "i", "neta", t.root, t.root_key, "critical,CA:TRUE", nc, 30);
	ck_assert_ptr_null(load_x(x, k));
	ck_assert_ptr_nonnull(strstr(err, "path length must be 0"));
	X509_free(x);
	/* not a CA */
	x = it_ca(k, "i", "neta", t.root, t.root_key, "critical,CA:FALSE", nc, 30);
	ck_assert_ptr_null(load_x(x, k));
	ck_assert_ptr_nonnull(strstr(err, "not a CA"));
	X509_free(x);
	/* no IP constraints */
	x = it_ca(k, "i", "neta", t.root, t.root_key, "critical,CA:TRUE,pathlen:0", NULL, 30);
	ck_assert_ptr_null(load_x(x, k));
	ck_assert_ptr_nonnull(strstr(err, "no nameConstraints"));
	X509_free(x);
	/* another network's O */
	x = it_ca(k, "i", "netb", t.root, t.root_key, "critical,CA:TRUE,pathlen:0", nc, 30);
	ck_assert_ptr_null(load_x(x, k));
	ck_assert_msg(strstr(err, "subject O \"netb\"") != NULL, "%s", err);
	X509_free(x);
	/* signed by a CA the server does not trust */
	stranger = it_ca(other, "s", "neta", NULL, NULL, "critical,CA:TRUE,pathlen:1", NULL, 30);
	x = it_ca(k, "i", "neta", stranger, other, "critical,CA:TRUE,pathlen:0", nc, 30);
	ck_assert_ptr_null(load_x(x, k));
	ck_assert_msg(strstr(err, "does not verify against the CA") != NULL, "%s", err);
	X509_free(x);
	X509_free(stranger);
	/* the root itself */
	ck_assert_ptr_null(load_x(t.root, t.root_key));
	ck_assert_ptr_nonnull(strstr(err, "path length must be 0"));
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
}
END_TEST

/* A root made before online issuers (pathlen 0) cannot have one. */
START_TEST(load_under_pathlen0_root)
{
	static const char nc[] = "critical,permitted;IP:10.9.0.0/255.255.0.0";
	EVP_PKEY *rk = EVP_EC_gen("P-256"), *k = EVP_EC_gen("P-256");
	X509 *old = it_ca(rk, "old", "neta", NULL, NULL, "critical,CA:TRUE,pathlen:0", NULL, 30);
	X509 *x = it_ca(k, "i", "neta", old, rk, "critical,CA:TRUE,pathlen:0", nc, 30);

	X509_STORE_free(roots);
	roots = X509_STORE_new();
	X509_STORE_add_cert(roots, old);
	ck_assert_ptr_null(load_x(x, k));
	ck_assert_msg(strstr(err, "made before online issuers (pathlen 0)") != NULL, "%s", err);
	X509_free(x);
	X509_free(old);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(k);
}
END_TEST

Suite *
issuer_suite(void)
{
	Suite *s = suite_create("issuer");
	TCase *tc = tcase_create("issuer");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, load_reads);
	tcase_add_test(tc, sign_profile);
	tcase_add_test(tc, sign_serials_differ);
	tcase_add_test(tc, sign_capped_at_issuer);
	tcase_add_test(tc, chain_needs_issuer);
	tcase_add_test(tc, expiring_window);
	tcase_add_test(tc, csr_bad_signature);
	tcase_add_test(tc, csr_not_p256);
	tcase_add_test(tc, ip_outside_constraints);
	tcase_add_test(tc, constraints_enforced_by_verify);
	tcase_add_test(tc, bad_profile_fields);
	tcase_add_test(tc, load_wrong_key);
	tcase_add_test(tc, load_missing_files);
	tcase_add_test(tc, load_refuses_bad_ca);
	tcase_add_test(tc, load_under_pathlen0_root);
	suite_add_tcase(s, tc);
	return s;
}
