/* agent/csr.c: the join code, the CSR, the CA pin and the approved certificate's checks. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "agent/csr.h"
#include "test/check_suites.h"
#include "test/testcert.h"

/* Vectors: sha256 by `openssl dgst -sha256`, first 5 bytes base32'd by hand (and by
 * python3 base64.b32encode): "" e3b0c44298, "abc" ba7816bf8f, the phrase b3cabaa57e. */
START_TEST(code_vectors)
{
	static const struct { const char *in, *code; } v[] = {
		{ "", "4OYM-IQUY" },
		{ "abc", "XJ4B-NP4P" },
		{ "wiresync-join-vector", "WPFL-VJL6" },
	};
	char code[CSR_CODE_LEN + 1];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(code, 'x', sizeof(code));
		csr_code_from_der((const uint8_t *)v[i].in, strlen(v[i].in), code);
		ck_assert_str_eq(code, v[i].code);
	}
}
END_TEST

START_TEST(build_csr)
{
	EVP_PKEY *key = csr_key_new();
	uint8_t *der = NULL;
	size_t len = 0;
	const unsigned char *p;
	X509_REQ *req;
	EVP_PKEY *pub;
	char cn[80], err[200];

	ck_assert_ptr_nonnull(key);
	ck_assert_int_eq(csr_build(key, "host-1.lan", &der, &len, err, sizeof(err)), 0);
	ck_assert_uint_gt(len, 0);
	p = der;
	req = d2i_X509_REQ(NULL, &p, (long)len);
	ck_assert_ptr_nonnull(req);
	ck_assert_ptr_eq(p, der + len);
	ck_assert_int_gt(X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req),
	    NID_commonName, cn, sizeof(cn)), 0);
	ck_assert_str_eq(cn, "host-1.lan");
	pub = X509_REQ_get0_pubkey(req);
	ck_assert_int_eq(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
	ck_assert_int_eq(EVP_PKEY_get_bits(pub), 256);
	ck_assert_int_eq(X509_REQ_verify(req, pub), 1);
	ck_assert_int_eq(EVP_PKEY_eq(pub, key), 1);
	ck_assert(csr_matches(der, len, key, "host-1.lan", err, sizeof(err)));
	X509_REQ_free(req);
	free(der);
	EVP_PKEY_free(key);
}
END_TEST

START_TEST(pin_parse)
{
	static const char hex[] =
	    "14bd2649b10cdffa3d8b1b08485f0613339f36b7ce4235edba10bdaf19f9e862";
	uint8_t a[CSR_SHA256_LEN], b[CSR_SHA256_LEN];
	char colons[200], back[CSR_SHA256_HEX_LEN + 1];
	size_t o = 0;

	ck_assert(csr_pin_parse(hex, a));
	ck_assert_str_eq(csr_hex(a, back), hex);
	/* openssl x509 -fingerprint -sha256 prints upper case with colons */
	for (size_t i = 0; i < 64; i += 2)
		o += (size_t)snprintf(colons + o, sizeof(colons) - o, "%s%c%c", i ? ":" : "",
		    hex[i] - (hex[i] >= 'a' ? 32 : 0), hex[i + 1] - (hex[i + 1] >= 'a' ? 32 : 0));
	ck_assert(csr_pin_parse(colons, b));
	ck_assert_mem_eq(a, b, sizeof(a));
}
END_TEST

START_TEST(pin_parse_bad)
{
	uint8_t a[CSR_SHA256_LEN];
	char s[80];

	memset(s, 'a', 63);
	s[63] = '\0';
	ck_assert(!csr_pin_parse(s, a));          /* 63 digits */
	memset(s, 'a', 65);
	s[65] = '\0';
	ck_assert(!csr_pin_parse(s, a));          /* 65 */
	memset(s, 'a', 64);
	s[64] = '\0';
	ck_assert(csr_pin_parse(s, a));
	s[10] = 'g';
	ck_assert(!csr_pin_parse(s, a));          /* not hex */
	ck_assert(!csr_pin_parse("", a));
	ck_assert(!csr_pin_parse(":aa", a));
}
END_TEST

START_TEST(matches_other)
{
	EVP_PKEY *key = csr_key_new(), *other = csr_key_new();
	uint8_t *der = NULL;
	size_t len = 0;
	char err[200];

	ck_assert_int_eq(csr_build(key, "h1", &der, &len, err, sizeof(err)), 0);
	ck_assert(!csr_matches(der, len, other, "h1", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "another key"));
	ck_assert(!csr_matches(der, len, key, "h2", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "CN"));
	der[len - 1] ^= 1;                      /* the signature's last byte */
	ck_assert(!csr_matches(der, len, key, "h1", err, sizeof(err)));
	ck_assert(!csr_matches(der, len - 5, key, "h1", err, sizeof(err)));
	free(der);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}
END_TEST

/* --- the pin and the approval, with certificates from a throwaway CA ------------------- */

struct fixture {
	struct testcert_ca *ca, *other_ca;
	X509 *leaf;
	EVP_PKEY *key;
	char wg_b64[45];
	uint8_t wgkey[WG_KEY_LEN], pin[CSR_SHA256_LEN];
	uint8_t *leaf_der, *ca_der;
	int leaf_len, ca_len;
};

static void
fixture_init(struct fixture *f)
{
	struct testcert_spec spec = { .cn = "h1", .org = "net", .ips = { "10.9.0.5" } };

	memset(f, 0, sizeof(*f));
	f->ca = testcert_ca_new("net");
	f->other_ca = testcert_ca_new("net");
	ck_assert_ptr_nonnull(f->ca);
	testcert_random_key_b64(f->wg_b64);
	ck_assert(wg_key_from_base64(f->wg_b64, f->wgkey));
	spec.key_b64 = f->wg_b64;
	f->leaf = testcert_issue(f->ca, &spec, &f->key);
	ck_assert_ptr_nonnull(f->leaf);
	ck_assert(csr_cert_sha256(testcert_ca_cert(f->ca), f->pin));
	f->leaf_len = i2d_X509(f->leaf, &f->leaf_der);
	f->ca_len = i2d_X509(testcert_ca_cert(f->ca), &f->ca_der);
	ck_assert_int_gt(f->leaf_len, 0);
	ck_assert_int_gt(f->ca_len, 0);
}

static void
fixture_free(struct fixture *f)
{
	OPENSSL_free(f->leaf_der);
	OPENSSL_free(f->ca_der);
	EVP_PKEY_free(f->key);
	X509_free(f->leaf);
	testcert_ca_del(f->ca);
	testcert_ca_del(f->other_ca);
}

static int
check_reply(struct fixture *f, const uint8_t *pin, EVP_PKEY *key, const uint8_t *wgkey,
    const char *name, char *err, size_t errlen)
{
	struct cert_identity id;
	X509 *c = NULL, *a = NULL;
	STACK_OF(X509) *chain = NULL;
	int r;

	r = csr_reply_check(f->leaf_der, (size_t)f->leaf_len, f->ca_der, (size_t)f->ca_len,
	    NULL, NULL, 0, pin, key, name, wgkey, &id, &c, &a, &chain, err, errlen);
	if (r == 0) {
		ck_assert_str_eq(id.name, "h1");
		ck_assert_uint_eq(id.n_tunnel, 1);
		ck_assert_ptr_nonnull(c);
		ck_assert_ptr_nonnull(a);
	} else {
		ck_assert_ptr_null(c);
	}
	sk_X509_pop_free(chain, X509_free);
	X509_free(c);
	X509_free(a);
	return r;
}

START_TEST(reply_ok)
{
	struct fixture f;
	char err[300];

	fixture_init(&f);
	ck_assert_int_eq(check_reply(&f, f.pin, f.key, f.wgkey, "h1", err, sizeof(err)), 0);
	fixture_free(&f);
}
END_TEST

START_TEST(reply_bad)
{
	struct fixture f;
	EVP_PKEY *other = csr_key_new();
	uint8_t pin[CSR_SHA256_LEN], wg[WG_KEY_LEN];
	char err[300];

	fixture_init(&f);
	ck_assert(csr_cert_sha256(testcert_ca_cert(f.other_ca), pin));
	ck_assert_int_eq(check_reply(&f, pin, f.key, f.wgkey, "h1", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not the one pinned"));
	ck_assert_int_eq(check_reply(&f, f.pin, other, f.wgkey, "h1", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not for our TLS key"));
	memcpy(wg, f.wgkey, sizeof(wg));
	wg[0] ^= 1;
	ck_assert_int_eq(check_reply(&f, f.pin, f.key, wg, "h1", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "another WireGuard key"));
	ck_assert_int_eq(check_reply(&f, f.pin, f.key, f.wgkey, "h2", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "names \"h1\""));
	/* the CA field swapped for another CA whose hash was pinned: no chain */
	OPENSSL_free(f.ca_der);
	f.ca_der = NULL;
	f.ca_len = i2d_X509(testcert_ca_cert(f.other_ca), &f.ca_der);
	ck_assert_int_eq(check_reply(&f, pin, f.key, f.wgkey, "h1", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "does not chain"));
	EVP_PKEY_free(other);
	fixture_free(&f);
}
END_TEST

/* csr_pin_verify as OpenSSL calls it: an empty store, the chain the server sent. */
static int
pin_run(X509 *leaf, X509 *sent2, const uint8_t want[CSR_SHA256_LEN], struct csr_pin *pin)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *sent = sk_X509_new_null();
	int r;

	sk_X509_push(sent, leaf);
	if (sent2 != NULL)
		sk_X509_push(sent, sent2);
	ck_assert_int_eq(X509_STORE_CTX_init(ctx, store, leaf, sent), 1);
	memcpy(pin->want, want, CSR_SHA256_LEN);
	r = csr_pin_verify(ctx, pin);
	X509_STORE_CTX_free(ctx);
	sk_X509_free(sent);
	X509_STORE_free(store);
	return r;
}

START_TEST(pin_verify)
{
	struct fixture f;
	struct csr_pin pin;
	uint8_t other[CSR_SHA256_LEN];
	char hex[CSR_SHA256_HEX_LEN + 1];

	fixture_init(&f);
	ck_assert_int_eq(pin_run(f.leaf, testcert_ca_cert(f.ca), f.pin, &pin), 1);
	ck_assert(!pin.mismatch);
	/* another CA pinned: refused, and the CA the server sent is named */
	ck_assert(csr_cert_sha256(testcert_ca_cert(f.other_ca), other));
	ck_assert_int_eq(pin_run(f.leaf, testcert_ca_cert(f.ca), other, &pin), 0);
	ck_assert(pin.mismatch);
	ck_assert_str_eq(pin.seen, csr_hex(f.pin, hex));
	/* no CA appended: nothing matches the pin */
	ck_assert_int_eq(pin_run(f.leaf, NULL, f.pin, &pin), 0);
	ck_assert(pin.mismatch);
	/* the pinned CA appended to a leaf it did not sign: the hash matches, the chain not */
	ck_assert_int_eq(pin_run(f.leaf, testcert_ca_cert(f.other_ca), other, &pin), 0);
	ck_assert(!pin.mismatch);
	fixture_free(&f);
}
END_TEST

Suite *
csr_suite(void)
{
	Suite *s = suite_create("csr");
	TCase *core = tcase_create("core"), *errors = tcase_create("errors");

	tcase_add_test(core, code_vectors);
	tcase_add_test(core, build_csr);
	tcase_add_test(core, pin_parse);
	tcase_add_test(core, reply_ok);
	tcase_add_test(core, pin_verify);
	tcase_add_test(errors, pin_parse_bad);
	tcase_add_test(errors, matches_other);
	tcase_add_test(errors, reply_bad);
	suite_add_tcase(s, core);
	suite_add_tcase(s, errors);
	return s;
}
