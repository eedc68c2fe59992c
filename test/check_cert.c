/* Tests for common/cert.c: the certificate profile and WireGuard key base64. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include "common/cert.h"
#include "common/netaddr.h"
#include "test/check_suites.h"
#include "test/testcert.h"

/* Base64 of the bytes 0, 1, ..., 31. */
#define KEY_SEQ "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_FF "//////////////////////////////////////////8="

static struct testcert_ca *ca;

static void
setup(void)
{
	ca = testcert_ca_new("mesh");
	ck_assert_ptr_nonnull(ca);
}

static void
teardown(void)
{
	testcert_ca_del(ca);
	ca = NULL;
}

static void
key_seq(uint8_t key[WG_KEY_LEN])
{
	for (int i = 0; i < WG_KEY_LEN; i++)
		key[i] = (uint8_t)i;
}

/* A good agent certificate: host1 in mesh, key KEY_SEQ, one v4 and one v6 address. */
static struct testcert_spec
agent_spec(void)
{
	struct testcert_spec spec = {
		.cn = "host1",
		.org = "mesh",
		.key_b64 = KEY_SEQ,
		.ips = { "10.9.0.5", "fd00:9::5" },
	};

	return spec;
}

static X509 *
issue(const struct testcert_spec *spec)
{
	X509 *x = testcert_issue(ca, spec, NULL);

	ck_assert_ptr_nonnull(x);
	return x;
}

/* Issues spec and parses it; fails the test when the profile refuses it. */
static void
accepted(const struct testcert_spec *spec, struct cert_identity *id)
{
	X509 *x = issue(spec);
	char err[256] = "";
	bool ok;

	ok = cert_identity_from_x509(x, id, err, sizeof(err));
	X509_free(x);
	ck_assert_msg(ok, "refused: %s", err);
}

/* Issues spec and asserts that the profile refuses it with exactly want. */
static void
refused(const struct testcert_spec *spec, const char *want)
{
	struct cert_identity id;
	X509 *x = issue(spec);
	char err[256] = "";
	bool ok;

	ok = cert_identity_from_x509(x, &id, err, sizeof(err));
	X509_free(x);
	ck_assert_msg(!ok, "accepted a certificate that should fail with: %s", want);
	ck_assert_str_eq(err, want);
}

static char *
tunnel_text(const struct cert_identity *id, size_t i, char buf[NETADDR_STRLEN])
{
	ck_assert_uint_lt(i, id->n_tunnel);
	return netaddr_format(&id->tunnel[i], true, buf);
}

/* --- core ------------------------------------------------------------------------------ */

START_TEST(test_agent_names)
{
	struct testcert_spec spec = agent_spec();
	struct cert_identity id;

	accepted(&spec, &id);
	ck_assert_str_eq(id.name, "host1");
	ck_assert_str_eq(id.network, "mesh");
}
END_TEST

START_TEST(test_agent_key)
{
	struct testcert_spec spec = agent_spec();
	struct cert_identity id;
	uint8_t want[WG_KEY_LEN];

	key_seq(want);
	accepted(&spec, &id);
	ck_assert(id.has_key);
	ck_assert(!id.admin);
	ck_assert_mem_eq(id.key, want, WG_KEY_LEN);
}
END_TEST

START_TEST(test_agent_tunnel)
{
	struct testcert_spec spec = agent_spec();
	struct cert_identity id;
	char buf[NETADDR_STRLEN];

	accepted(&spec, &id);
	ck_assert_uint_eq(id.n_tunnel, 2);
	ck_assert_uint_eq(id.tunnel[0].family, AF_INET);
	ck_assert_str_eq(tunnel_text(&id, 0, buf), "10.9.0.5/32");
	ck_assert_uint_eq(id.tunnel[1].family, AF_INET6);
	ck_assert_str_eq(tunnel_text(&id, 1, buf), "fd00:9::5/128");
}
END_TEST

START_TEST(test_agent_serial_random)
{
	struct testcert_spec spec = agent_spec();
	struct cert_identity id;

	accepted(&spec, &id);
	ck_assert_uint_gt(strlen(id.serial), 0);
	ck_assert_uint_eq(strspn(id.serial, "0123456789ABCDEF"), strlen(id.serial));
}
END_TEST

/* The parser reads fields and does not check signatures, so the test may edit them. */
START_TEST(test_agent_serial_exact)
{
	struct testcert_spec spec = agent_spec();
	struct cert_identity id;
	X509 *x = issue(&spec);
	char err[256];
	bool ok;

	ck_assert_int_eq(ASN1_INTEGER_set_int64(X509_get_serialNumber(x), 0x0abcdef123), 1);
	ok = cert_identity_from_x509(x, &id, err, sizeof(err));
	X509_free(x);
	ck_assert_msg(ok, "%s", err);
	ck_assert_str_eq(id.serial, "0ABCDEF123");
}
END_TEST

START_TEST(test_agent_not_after_exact)
{
	struct testcert_spec spec = agent_spec();
	struct cert_identity id;
	X509 *x = issue(&spec);
	char err[256];
	bool ok;

	ck_assert_int_eq(ASN1_TIME_set_string_X509(X509_getm_notAfter(x), "20300101000000Z"), 1);
	ok = cert_identity_from_x509(x, &id, err, sizeof(err));
	X509_free(x);
	ck_assert_msg(ok, "%s", err);
	ck_assert_int_eq(id.not_after, 1893456000);
}
END_TEST

START_TEST(test_agent_not_after_generalized_time)
{
	struct testcert_spec spec = agent_spec();
	struct cert_identity id;
	X509 *x = issue(&spec);
	char err[256];
	bool ok;

	/* After 2049 the certificate must use GeneralizedTime. */
	ck_assert_int_eq(ASN1_TIME_set_string_X509(X509_getm_notAfter(x), "20600101000000Z"), 1);
	ok = cert_identity_from_x509(x, &id, err, sizeof(err));
	X509_free(x);
	ck_assert_msg(ok, "%s", err);
	ck_assert_int_eq(id.not_after, 2840140800);
}
END_TEST

START_TEST(test_agent_not_after_from_issue)
{
	struct testcert_spec spec = agent_spec();
	struct cert_identity id;
	int64_t want;

	spec.not_before_offset = -60;
	spec.not_after_offset = 3600;
	want = (int64_t)time(NULL) + 3600;
	accepted(&spec, &id);
	ck_assert_int_ge(id.not_after, want - 5);
	ck_assert_int_le(id.not_after, want + 5);
}
END_TEST

START_TEST(test_admin)
{
	struct testcert_spec spec = { .cn = "alice", .org = "mesh", .admin = true };
	struct cert_identity id;

	accepted(&spec, &id);
	ck_assert_str_eq(id.name, "alice");
	ck_assert_str_eq(id.network, "mesh");
	ck_assert(id.admin);
	ck_assert(!id.has_key);
	ck_assert_uint_eq(id.n_tunnel, 0);
}
END_TEST

START_TEST(test_admin_with_key)
{
	struct testcert_spec spec = agent_spec();
	struct cert_identity id;

	spec.admin = true;
	accepted(&spec, &id);
	ck_assert(id.admin);
	ck_assert(id.has_key);
	ck_assert_uint_eq(id.n_tunnel, 2);
}
END_TEST

START_TEST(test_der_roundtrip)
{
	struct testcert_spec spec = agent_spec();
	struct cert_identity a, b;
	unsigned char *der = NULL;
	X509 *x = issue(&spec);
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

	key_seq(key);
	memset(out, 'x', sizeof(out));
	wg_key_to_base64(key, out);
	ck_assert_str_eq(out, KEY_SEQ);
}
END_TEST

START_TEST(test_key_from_base64)
{
	uint8_t key[WG_KEY_LEN], want[WG_KEY_LEN];

	key_seq(want);
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

/* --- limits ---------------------------------------------------------------------------- */

START_TEST(test_ips_at_max)
{
	struct testcert_spec spec = agent_spec();
	struct cert_identity id;
	char buf[NETADDR_STRLEN];
	static const char *const ips[CERT_TUNNEL_MAX] = {
		"10.9.0.1", "10.9.0.2", "10.9.0.3", "10.9.0.4",
		"fd00::1", "fd00::2", "fd00::3", "fd00::4",
	};

	for (size_t i = 0; i < CERT_TUNNEL_MAX; i++)
		spec.ips[i] = ips[i];
	accepted(&spec, &id);
	ck_assert_uint_eq(id.n_tunnel, CERT_TUNNEL_MAX);
	ck_assert_str_eq(tunnel_text(&id, 0, buf), "10.9.0.1/32");
	ck_assert_str_eq(tunnel_text(&id, CERT_TUNNEL_MAX - 1, buf), "fd00::4/128");
}
END_TEST

START_TEST(test_cn_at_max)
{
	struct testcert_spec spec = agent_spec();
	struct cert_identity id;
	char cn[CERT_NAME_MAX + 1];

	memset(cn, 'a', CERT_NAME_MAX);
	cn[CERT_NAME_MAX] = '\0';
	spec.cn = cn;
	accepted(&spec, &id);
	ck_assert_str_eq(id.name, cn);
}
END_TEST

START_TEST(test_cn_over_max)
{
	struct testcert_spec spec = agent_spec();
	char cn[CERT_NAME_MAX + 2];

	memset(cn, 'a', CERT_NAME_MAX + 1);
	cn[CERT_NAME_MAX + 1] = '\0';
	spec.cn = cn;
	refused(&spec, "certificate: CN is longer than 64 bytes");
}
END_TEST

START_TEST(test_org_over_max)
{
	struct testcert_spec spec = agent_spec();
	char org[CERT_NAME_MAX + 2];

	memset(org, 'm', CERT_NAME_MAX + 1);
	org[CERT_NAME_MAX + 1] = '\0';
	spec.org = org;
	refused(&spec, "certificate \"host1\": O is longer than 64 bytes");
}
END_TEST

START_TEST(test_cn_utf8)
{
	struct testcert_spec spec = agent_spec();
	struct cert_identity id;

	spec.cn = "h\xc3\xb6st-1";
	accepted(&spec, &id);
	ck_assert_str_eq(id.name, "h\xc3\xb6st-1");
}
END_TEST

START_TEST(test_cn_control_char)
{
	struct testcert_spec spec = agent_spec();

	spec.cn = "host1\nFAKE LOG LINE";
	refused(&spec, "certificate: CN contains a control character");
}
END_TEST

START_TEST(test_cn_c1_control_char)
{
	struct testcert_spec spec = agent_spec();

	spec.cn = "host\xc2\x85" "1";
	refused(&spec, "certificate: CN contains a control character");
}
END_TEST

START_TEST(test_org_control_char)
{
	struct testcert_spec spec = agent_spec();

	spec.org = "mesh\x7f";
	refused(&spec, "certificate \"host1\": O contains a control character");
}
END_TEST

START_TEST(test_cn_empty)
{
	struct testcert_spec spec = agent_spec();

	spec.cn = "";
	refused(&spec, "certificate: CN is empty");
}
END_TEST

START_TEST(test_der_trailing_byte)
{
	struct testcert_spec spec = agent_spec();
	struct cert_identity id;
	unsigned char *der = NULL, *buf;
	X509 *x = issue(&spec);
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

START_TEST(test_small_err_buffer)
{
	struct testcert_spec spec = agent_spec();
	struct cert_identity id;
	X509 *x;
	char err[12];
	bool ok;

	spec.ca = true;
	x = issue(&spec);
	ok = cert_identity_from_x509(x, &id, err, sizeof(err));
	ck_assert(!ok);
	ck_assert_str_eq(err, "certificate");
	ok = cert_identity_from_x509(x, &id, NULL, 0);
	X509_free(x);
	ck_assert(!ok);
}
END_TEST

/* --- errors ---------------------------------------------------------------------------- */

START_TEST(test_err_ca_leaf)
{
	struct testcert_spec spec = agent_spec();

	spec.ca = true;
	refused(&spec, "certificate \"host1\": is a CA (basicConstraints CA:TRUE)");
}
END_TEST

START_TEST(test_err_ca_cert_itself)
{
	struct cert_identity id;
	char err[256];

	/* The CA has no client EKU either, but CA:TRUE is what is reported. */
	ck_assert(!cert_identity_from_x509(testcert_ca_cert(ca), &id, err, sizeof(err)));
	ck_assert_str_eq(err, "certificate \"wiresync test CA\": is a CA (basicConstraints CA:TRUE)");
}
END_TEST

START_TEST(test_err_no_client_auth)
{
	struct testcert_spec spec = agent_spec();

	spec.no_client_auth = true;
	refused(&spec, "certificate \"host1\": no clientAuth extendedKeyUsage");
}
END_TEST

START_TEST(test_err_two_keys)
{
	struct testcert_spec spec = agent_spec();

	spec.key_b64_second = KEY_FF;
	refused(&spec, "certificate \"host1\": more than one key URI");
}
END_TEST

START_TEST(test_err_same_key_twice)
{
	struct testcert_spec spec = agent_spec();

	spec.key_b64_second = KEY_SEQ;
	refused(&spec, "certificate \"host1\": more than one key URI");
}
END_TEST

START_TEST(test_err_key_31_bytes)
{
	struct testcert_spec spec = agent_spec();

	/* 44 characters, but "==" padding: 31 bytes. */
	spec.key_b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==";
	refused(&spec, "certificate \"host1\": key URI is not base64 of a 32-byte key");
}
END_TEST

START_TEST(test_err_key_33_bytes)
{
	struct testcert_spec spec = agent_spec();

	/* 44 characters, no padding: 33 bytes. */
	spec.key_b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g";
	refused(&spec, "certificate \"host1\": key URI is not base64 of a 32-byte key");
}
END_TEST

START_TEST(test_err_key_short)
{
	struct testcert_spec spec = agent_spec();

	spec.key_b64 = "AAECAwQ=";
	refused(&spec, "certificate \"host1\": key URI is not base64 of a 32-byte key");
}
END_TEST

START_TEST(test_err_key_empty)
{
	struct testcert_spec spec = agent_spec();

	spec.key_b64 = "";
	refused(&spec, "certificate \"host1\": key URI is not base64 of a 32-byte key");
}
END_TEST

START_TEST(test_err_key_bad_base64)
{
	struct testcert_spec spec = agent_spec();

	spec.key_b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw!Hh8=";
	refused(&spec, "certificate \"host1\": key URI is not base64 of a 32-byte key");
}
END_TEST

START_TEST(test_err_key_without_ip)
{
	struct testcert_spec spec = agent_spec();

	spec.ips[0] = NULL;
	refused(&spec, "certificate \"host1\": key URI without an IP address");
}
END_TEST

START_TEST(test_err_no_cn)
{
	struct testcert_spec spec = agent_spec();

	spec.cn = NULL;
	refused(&spec, "certificate: no CN in the subject");
}
END_TEST

START_TEST(test_err_no_org)
{
	struct testcert_spec spec = agent_spec();

	spec.org = NULL;
	refused(&spec, "certificate \"host1\": no O in the subject");
}
END_TEST

START_TEST(test_err_too_many_ips)
{
	struct testcert_spec spec = agent_spec();
	static const char *const ips[CERT_TUNNEL_MAX + 1] = {
		"10.9.0.1", "10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5",
		"fd00::1", "fd00::2", "fd00::3", "fd00::4",
	};

	for (size_t i = 0; i < CERT_TUNNEL_MAX + 1; i++)
		spec.ips[i] = ips[i];
	refused(&spec, "certificate \"host1\": more than 8 IP addresses in subjectAltName");
}
END_TEST

START_TEST(test_err_neither_key_nor_admin)
{
	struct testcert_spec spec = agent_spec();

	spec.key_b64 = NULL;
	refused(&spec, "certificate \"host1\": neither a key URI nor the admin URI");
}
END_TEST

START_TEST(test_err_no_san)
{
	struct testcert_spec spec = { .cn = "host1", .org = "mesh" };

	refused(&spec, "certificate \"host1\": neither a key URI nor the admin URI");
}
END_TEST

START_TEST(test_err_id_untouched)
{
	struct testcert_spec spec = agent_spec();
	struct cert_identity id;
	X509 *x;
	char err[256];
	bool ok;

	spec.no_client_auth = true;
	x = issue(&spec);
	memset(&id, 0xaa, sizeof(id));
	ok = cert_identity_from_x509(x, &id, err, sizeof(err));
	X509_free(x);
	ck_assert(!ok);
	ck_assert_uint_eq((uint8_t)id.name[0], 0xaa);
	ck_assert_uint_eq(id.key[0], 0xaa);
}
END_TEST

START_TEST(test_err_null_x509)
{
	struct cert_identity id;
	char err[256];

	ck_assert(!cert_identity_from_x509(NULL, &id, err, sizeof(err)));
	ck_assert_str_eq(err, "certificate: missing");
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
cert_suite(void)
{
	Suite *s = suite_create("cert");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_agent_names);
	tcase_add_test(tc, test_agent_key);
	tcase_add_test(tc, test_agent_tunnel);
	tcase_add_test(tc, test_agent_serial_random);
	tcase_add_test(tc, test_agent_serial_exact);
	tcase_add_test(tc, test_agent_not_after_exact);
	tcase_add_test(tc, test_agent_not_after_generalized_time);
	tcase_add_test(tc, test_agent_not_after_from_issue);
	tcase_add_test(tc, test_admin);
	tcase_add_test(tc, test_admin_with_key);
	tcase_add_test(tc, test_der_roundtrip);
	tcase_add_test(tc, test_key_to_base64);
	tcase_add_test(tc, test_key_from_base64);
	tcase_add_test(tc, test_key_from_base64_all_ones);
	tcase_add_test(tc, test_key_base64_roundtrip);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ips_at_max);
	tcase_add_test(tc, test_cn_at_max);
	tcase_add_test(tc, test_cn_over_max);
	tcase_add_test(tc, test_org_over_max);
	tcase_add_test(tc, test_cn_utf8);
	tcase_add_test(tc, test_cn_control_char);
	tcase_add_test(tc, test_cn_c1_control_char);
	tcase_add_test(tc, test_org_control_char);
	tcase_add_test(tc, test_cn_empty);
	tcase_add_test(tc, test_der_trailing_byte);
	tcase_add_test(tc, test_der_too_large);
	tcase_add_test(tc, test_key_b64_too_short);
	tcase_add_test(tc, test_key_b64_too_long);
	tcase_add_test(tc, test_small_err_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_err_ca_leaf);
	tcase_add_test(tc, test_err_ca_cert_itself);
	tcase_add_test(tc, test_err_no_client_auth);
	tcase_add_test(tc, test_err_two_keys);
	tcase_add_test(tc, test_err_same_key_twice);
	tcase_add_test(tc, test_err_key_31_bytes);
	tcase_add_test(tc, test_err_key_33_bytes);
	tcase_add_test(tc, test_err_key_short);
	tcase_add_test(tc, test_err_key_empty);
	tcase_add_test(tc, test_err_key_bad_base64);
	tcase_add_test(tc, test_err_key_without_ip);
	tcase_add_test(tc, test_err_no_cn);
	tcase_add_test(tc, test_err_no_org);
	tcase_add_test(tc, test_err_too_many_ips);
	tcase_add_test(tc, test_err_neither_key_nor_admin);
	tcase_add_test(tc, test_err_no_san);
	tcase_add_test(tc, test_err_id_untouched);
	tcase_add_test(tc, test_err_null_x509);
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
