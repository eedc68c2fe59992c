/* Tests for common/cert.c: the certificate profile (names, key, tunnel addresses, serial,
 * expiry, admin role) and what it refuses. Key base64 and DER are in
 * check_cert_encoding.c. */
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

/* Issues spec and parses it; fails the test when the profile refuses it. */
static void
accepted(const struct testcert_spec *spec, struct cert_identity *id)
{
	X509 *x = ct_issue(spec);
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
	X509 *x = ct_issue(spec);
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
	struct testcert_spec spec = ct_agent_spec();
	struct cert_identity id;

	accepted(&spec, &id);
	ck_assert_str_eq(id.name, "host1");
	ck_assert_str_eq(id.network, "mesh");
}
END_TEST

START_TEST(test_agent_key)
{
	struct testcert_spec spec = ct_agent_spec();
	struct cert_identity id;
	uint8_t want[WG_KEY_LEN];

	ct_key_seq(want);
	accepted(&spec, &id);
	ck_assert(id.has_key);
	ck_assert(!id.admin);
	ck_assert_mem_eq(id.key, want, WG_KEY_LEN);
}
END_TEST

START_TEST(test_agent_tunnel)
{
	struct testcert_spec spec = ct_agent_spec();
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
	struct testcert_spec spec = ct_agent_spec();
	struct cert_identity id;

	accepted(&spec, &id);
	ck_assert_uint_gt(strlen(id.serial), 0);
	ck_assert_uint_eq(strspn(id.serial, "0123456789ABCDEF"), strlen(id.serial));
}
END_TEST

/* The parser reads fields and does not check signatures, so the test may edit them. */
START_TEST(test_agent_serial_exact)
{
	struct testcert_spec spec = ct_agent_spec();
	struct cert_identity id;
	X509 *x = ct_issue(&spec);
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
	struct testcert_spec spec = ct_agent_spec();
	struct cert_identity id;
	X509 *x = ct_issue(&spec);
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
	struct testcert_spec spec = ct_agent_spec();
	struct cert_identity id;
	X509 *x = ct_issue(&spec);
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
	struct testcert_spec spec = ct_agent_spec();
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
	struct testcert_spec spec = ct_agent_spec();
	struct cert_identity id;

	spec.admin = true;
	accepted(&spec, &id);
	ck_assert(id.admin);
	ck_assert(id.has_key);
	ck_assert_uint_eq(id.n_tunnel, 2);
}
END_TEST

/* --- limits ---------------------------------------------------------------------------- */

START_TEST(test_ips_at_max)
{
	struct testcert_spec spec = ct_agent_spec();
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
	struct testcert_spec spec = ct_agent_spec();
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
	struct testcert_spec spec = ct_agent_spec();
	char cn[CERT_NAME_MAX + 2];

	memset(cn, 'a', CERT_NAME_MAX + 1);
	cn[CERT_NAME_MAX + 1] = '\0';
	spec.cn = cn;
	refused(&spec, "certificate: CN is longer than 64 bytes");
}
END_TEST

START_TEST(test_org_over_max)
{
	struct testcert_spec spec = ct_agent_spec();
	char org[CERT_NAME_MAX + 2];

	memset(org, 'm', CERT_NAME_MAX + 1);
	org[CERT_NAME_MAX + 1] = '\0';
	spec.org = org;
	refused(&spec, "certificate \"host1\": O is longer than 64 bytes");
}
END_TEST

START_TEST(test_cn_utf8)
{
	struct testcert_spec spec = ct_agent_spec();
	struct cert_identity id;

	spec.cn = "h\xc3\xb6st-1";
	accepted(&spec, &id);
	ck_assert_str_eq(id.name, "h\xc3\xb6st-1");
}
END_TEST

START_TEST(test_cn_control_char)
{
	struct testcert_spec spec = ct_agent_spec();

	spec.cn = "host1\nFAKE LOG LINE";
	refused(&spec, "certificate: CN contains a control character");
}
END_TEST

START_TEST(test_cn_c1_control_char)
{
	struct testcert_spec spec = ct_agent_spec();

	spec.cn = "host\xc2\x85" "1";
	refused(&spec, "certificate: CN contains a control character");
}
END_TEST

START_TEST(test_org_control_char)
{
	struct testcert_spec spec = ct_agent_spec();

	spec.org = "mesh\x7f";
	refused(&spec, "certificate \"host1\": O contains a control character");
}
END_TEST

START_TEST(test_cn_empty)
{
	struct testcert_spec spec = ct_agent_spec();

	spec.cn = "";
	refused(&spec, "certificate: CN is empty");
}
END_TEST

START_TEST(test_small_err_buffer)
{
	struct testcert_spec spec = ct_agent_spec();
	struct cert_identity id;
	X509 *x;
	char err[12];
	bool ok;

	spec.ca = true;
	x = ct_issue(&spec);
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
	struct testcert_spec spec = ct_agent_spec();

	spec.ca = true;
	refused(&spec, "certificate \"host1\": is a CA (basicConstraints CA:TRUE)");
}
END_TEST

START_TEST(test_err_ca_cert_itself)
{
	struct cert_identity id;
	char err[256];

	/* The CA has no client EKU either, but CA:TRUE is what is reported. */
	ck_assert(!cert_identity_from_x509(testcert_ca_cert(ct_ca), &id, err, sizeof(err)));
	ck_assert_str_eq(err, "certificate \"wiresync test CA\": is a CA (basicConstraints CA:TRUE)");
}
END_TEST

START_TEST(test_err_no_client_auth)
{
	struct testcert_spec spec = ct_agent_spec();

	spec.no_client_auth = true;
	refused(&spec, "certificate \"host1\": no clientAuth extendedKeyUsage");
}
END_TEST

START_TEST(test_err_two_keys)
{
	struct testcert_spec spec = ct_agent_spec();

	spec.key_b64_second = KEY_FF;
	refused(&spec, "certificate \"host1\": more than one key URI");
}
END_TEST

START_TEST(test_err_same_key_twice)
{
	struct testcert_spec spec = ct_agent_spec();

	spec.key_b64_second = KEY_SEQ;
	refused(&spec, "certificate \"host1\": more than one key URI");
}
END_TEST

START_TEST(test_err_key_31_bytes)
{
	struct testcert_spec spec = ct_agent_spec();

	/* 44 characters, but "==" padding: 31 bytes. */
	spec.key_b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==";
	refused(&spec, "certificate \"host1\": key URI is not base64 of a 32-byte key");
}
END_TEST

START_TEST(test_err_key_33_bytes)
{
	struct testcert_spec spec = ct_agent_spec();

	/* 44 characters, no padding: 33 bytes. */
	spec.key_b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g";
	refused(&spec, "certificate \"host1\": key URI is not base64 of a 32-byte key");
}
END_TEST

START_TEST(test_err_key_short)
{
	struct testcert_spec spec = ct_agent_spec();

	spec.key_b64 = "AAECAwQ=";
	refused(&spec, "certificate \"host1\": key URI is not base64 of a 32-byte key");
}
END_TEST

START_TEST(test_err_key_empty)
{
	struct testcert_spec spec = ct_agent_spec();

	spec.key_b64 = "";
	refused(&spec, "certificate \"host1\": key URI is not base64 of a 32-byte key");
}
END_TEST

START_TEST(test_err_key_bad_base64)
{
	struct testcert_spec spec = ct_agent_spec();

	spec.key_b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw!Hh8=";
	refused(&spec, "certificate \"host1\": key URI is not base64 of a 32-byte key");
}
END_TEST

START_TEST(test_err_key_without_ip)
{
	struct testcert_spec spec = ct_agent_spec();

	spec.ips[0] = NULL;
	refused(&spec, "certificate \"host1\": key URI without an IP address");
}
END_TEST

START_TEST(test_err_no_cn)
{
	struct testcert_spec spec = ct_agent_spec();

	spec.cn = NULL;
	refused(&spec, "certificate: no CN in the subject");
}
END_TEST

START_TEST(test_err_no_org)
{
	struct testcert_spec spec = ct_agent_spec();

	spec.org = NULL;
	refused(&spec, "certificate \"host1\": no O in the subject");
}
END_TEST

START_TEST(test_err_too_many_ips)
{
	struct testcert_spec spec = ct_agent_spec();
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
	struct testcert_spec spec = ct_agent_spec();

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
	struct testcert_spec spec = ct_agent_spec();
	struct cert_identity id;
	X509 *x;
	char err[256];
	bool ok;

	spec.no_client_auth = true;
	x = ct_issue(&spec);
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

Suite *
cert_suite(void)
{
	Suite *s = suite_create("cert");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, ct_setup, ct_teardown);
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
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, ct_setup, ct_teardown);
	tcase_add_test(tc, test_ips_at_max);
	tcase_add_test(tc, test_cn_at_max);
	tcase_add_test(tc, test_cn_over_max);
	tcase_add_test(tc, test_org_over_max);
	tcase_add_test(tc, test_cn_utf8);
	tcase_add_test(tc, test_cn_control_char);
	tcase_add_test(tc, test_cn_c1_control_char);
	tcase_add_test(tc, test_org_control_char);
	tcase_add_test(tc, test_cn_empty);
	tcase_add_test(tc, test_small_err_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, ct_setup, ct_teardown);
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
	suite_add_tcase(s, tc);

	return s;
}
