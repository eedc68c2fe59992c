/* Tests for common/cert.c's encodings: WireGuard key base64 (exactly the canonical
 * 44-character form) and the DER certificate entry point (length bounds, trailing bytes,
 * garbage). The certificate profile itself is in check_cert.c. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include "common/cert.h"
#include "common/netaddr.h"
#include "test/certtest.h"
#include "test/check_suites.h"
#include "test/testcert.h"

START_TEST(test_der_roundtrip)
{
	struct testcert_spec spec = ct_agent_spec();
	struct cert_identity a, b;
	unsigned char *der = NULL;
	X509 *x = ct_issue(&spec);
	char err[256];
	int len;
	bool ok_x, ok_der;

	len = i2d_X509(x, &der);
	ok_x = cert_identity_from_x509(x, &a, err, sizeof(err));
	X509_free(x);
	ck_assert_int_gt(len, 0);
	ok_der = cert_identity_from_der(der, (size_t)len, &b, err, sizeof(err));
	OPENSSL_free(der);
	ck_assert(ok_x);
	ck_assert_msg(ok_der, "%s", err);
	ck_assert_str_eq(b.name, "host1");
	ck_assert_str_eq(b.name, a.name);
	ck_assert_str_eq(b.network, a.network);
	ck_assert(b.has_key);
	ck_assert_mem_eq(b.key, a.key, WG_KEY_LEN);
	ck_assert_uint_eq(b.n_tunnel, a.n_tunnel);
	for (size_t i = 0; i < a.n_tunnel; i++)
		ck_assert(netaddr_equal(&a.tunnel[i], &b.tunnel[i]));
	ck_assert_str_eq(b.serial, a.serial);
	ck_assert_int_eq(b.not_after, a.not_after);
}
END_TEST

START_TEST(test_key_to_base64)
{
	uint8_t key[WG_KEY_LEN];
	char out[45];

	ct_key_seq(key);
	memset(out, 'x', sizeof(out));
	wg_key_to_base64(key, out);
	ck_assert_str_eq(out, KEY_SEQ);
}
END_TEST

START_TEST(test_key_from_base64)
{
	uint8_t key[WG_KEY_LEN], want[WG_KEY_LEN];

	ct_key_seq(want);
	ck_assert(wg_key_from_base64(KEY_SEQ, key));
	ck_assert_mem_eq(key, want, WG_KEY_LEN);
}
END_TEST

START_TEST(test_key_from_base64_all_ones)
{
	uint8_t key[WG_KEY_LEN], want[WG_KEY_LEN];

	memset(want, 0xff, sizeof(want));
	ck_assert(wg_key_from_base64(KEY_FF, key));
	ck_assert_mem_eq(key, want, WG_KEY_LEN);
}
END_TEST

START_TEST(test_key_base64_roundtrip)
{
	uint8_t key[WG_KEY_LEN];
	char in[45], out[45];

	testcert_random_key_b64(in);
	ck_assert_uint_eq(strlen(in), 44);
	ck_assert(wg_key_from_base64(in, key));
	wg_key_to_base64(key, out);
	ck_assert_str_eq(out, in);
}
END_TEST

START_TEST(test_der_trailing_byte)
{
	struct testcert_spec spec = ct_agent_spec();
	struct cert_identity id;
	unsigned char *der = NULL, *buf;
	X509 *x = ct_issue(&spec);
	char err[256];
	int len;
	bool ok;

	len = i2d_X509(x, &der);
	X509_free(x);
	ck_assert_int_gt(len, 0);
	buf = malloc((size_t)len + 1);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, der, (size_t)len);
	buf[len] = 0;
	OPENSSL_free(der);
	ok = cert_identity_from_der(buf, (size_t)len + 1, &id, err, sizeof(err));
	free(buf);
	ck_assert(!ok);
	ck_assert_str_eq(err, "certificate: 1 trailing bytes after the DER certificate");
}
END_TEST

START_TEST(test_der_too_large)
{
	struct cert_identity id;
	uint8_t *buf;
	char err[256];
	bool ok;

	buf = calloc(1, 65537);
	ck_assert_ptr_nonnull(buf);
	ok = cert_identity_from_der(buf, 65537, &id, err, sizeof(err));
	free(buf);
	ck_assert(!ok);
	ck_assert_str_eq(err, "certificate: DER length 65537 out of range (1 to 65536)");
}
END_TEST

START_TEST(test_key_b64_too_short)
{
	uint8_t key[WG_KEY_LEN];

	ck_assert(!wg_key_from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh=", key));
}
END_TEST

START_TEST(test_key_b64_too_long)
{
	uint8_t key[WG_KEY_LEN];

	ck_assert(!wg_key_from_base64(KEY_SEQ "A", key));
}
END_TEST

START_TEST(test_err_der_garbage)
{
	static const uint8_t junk[] = { 0x30, 0x82, 0x01, 0x00, 0x02, 0x01 };
	struct cert_identity id;
	char err[256];

	ck_assert(!cert_identity_from_der(junk, sizeof(junk), &id, err, sizeof(err)));
	ck_assert_str_eq(err, "certificate: not a DER X.509 certificate");
}
END_TEST

START_TEST(test_err_der_empty)
{
	static const uint8_t one[1] = { 0 };
	struct cert_identity id;
	char err[256];

	ck_assert(!cert_identity_from_der(one, 0, &id, err, sizeof(err)));
	ck_assert_str_eq(err, "certificate: DER length 0 out of range (1 to 65536)");
}
END_TEST

START_TEST(test_err_key_b64_no_padding)
{
	uint8_t key[WG_KEY_LEN];

	ck_assert(!wg_key_from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A", key));
}
END_TEST

START_TEST(test_err_key_b64_double_padding)
{
	uint8_t key[WG_KEY_LEN];

	ck_assert(!wg_key_from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==", key));
}
END_TEST

START_TEST(test_err_key_b64_url_alphabet)
{
	uint8_t key[WG_KEY_LEN];

	/* KEY_FF in the URL-safe alphabet. */
	ck_assert(!wg_key_from_base64("__________________________________________8=", key));
}
END_TEST

START_TEST(test_err_key_b64_non_canonical)
{
	uint8_t key[WG_KEY_LEN];

	/* '9' sets one of the two spare bits that '8' leaves clear. */
	ck_assert(!wg_key_from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=", key));
}
END_TEST

START_TEST(test_err_key_b64_space)
{
	uint8_t key[WG_KEY_LEN];

	ck_assert(!wg_key_from_base64(" AECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", key));
}
END_TEST

START_TEST(test_err_key_b64_inner_padding)
{
	uint8_t key[WG_KEY_LEN];

	ck_assert(!wg_key_from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGx=dHh8=", key));
}
END_TEST

START_TEST(test_err_key_b64_null)
{
	uint8_t key[WG_KEY_LEN];

	ck_assert(!wg_key_from_base64(NULL, key));
}
END_TEST

START_TEST(test_err_key_b64_key_untouched)
{
	uint8_t key[WG_KEY_LEN], want[WG_KEY_LEN];

	memset(key, 0x5a, sizeof(key));
	memset(want, 0x5a, sizeof(want));
	ck_assert(!wg_key_from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=", key));
	ck_assert_mem_eq(key, want, WG_KEY_LEN);
}
END_TEST

Suite *
cert_encoding_suite(void)
{
	Suite *s = suite_create("cert_encoding");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, ct_setup, ct_teardown);
	tcase_add_test(tc, test_der_roundtrip);
	tcase_add_test(tc, test_key_to_base64);
	tcase_add_test(tc, test_key_from_base64);
	tcase_add_test(tc, test_key_from_base64_all_ones);
	tcase_add_test(tc, test_key_base64_roundtrip);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, ct_setup, ct_teardown);
	tcase_add_test(tc, test_der_trailing_byte);
	tcase_add_test(tc, test_der_too_large);
	tcase_add_test(tc, test_key_b64_too_short);
	tcase_add_test(tc, test_key_b64_too_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, ct_setup, ct_teardown);
	tcase_add_test(tc, test_err_der_garbage);
	tcase_add_test(tc, test_err_der_empty);
	tcase_add_test(tc, test_err_key_b64_no_padding);
	tcase_add_test(tc, test_err_key_b64_double_padding);
	tcase_add_test(tc, test_err_key_b64_url_alphabet);
	tcase_add_test(tc, test_err_key_b64_non_canonical);
	tcase_add_test(tc, test_err_key_b64_space);
	tcase_add_test(tc, test_err_key_b64_inner_padding);
	tcase_add_test(tc, test_err_key_b64_null);
	tcase_add_test(tc, test_err_key_b64_key_untouched);
	suite_add_tcase(s, tc);

	return s;
}
