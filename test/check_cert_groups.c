/* Tests for common/cert.c's group URIs (urn:wiresync:group:NAME, read by the pairing
 * policy) and the hub key a server certificate binds (cert_hub_key). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/x509.h>

#include "common/cert.h"
#include "test/certtest.h"
#include "test/check_suites.h"
#include "test/testcert.h"

static bool
parse(const struct testcert_spec *spec, struct cert_identity *id, char *err, size_t len)
{
	X509 *x = ct_issue(spec);
	bool ok = cert_identity_from_x509(x, id, err, len);

	X509_free(x);
	return ok;
}

START_TEST(test_groups_read)
{
	struct testcert_spec spec = ct_agent_spec();
	struct cert_identity id;
	char err[256] = "";

	spec.groups[0] = "servers";
	spec.groups[1] = "db-1";
	spec.groups[2] = "servers";     /* repeated: counts once */
	ck_assert_msg(parse(&spec, &id, err, sizeof(err)), "%s", err);
	ck_assert_uint_eq(id.n_groups, 2);
	ck_assert_str_eq(id.groups[0], "servers");
	ck_assert_str_eq(id.groups[1], "db-1");
	spec = ct_agent_spec();
	ck_assert(parse(&spec, &id, err, sizeof(err)));
	ck_assert_uint_eq(id.n_groups, 0);
}
END_TEST

START_TEST(test_groups_at_max)
{
	struct testcert_spec spec = ct_agent_spec();
	static char names[CERT_GROUPS_MAX + 1][8];
	struct cert_identity id;
	char err[256] = "";

	for (int i = 0; i <= CERT_GROUPS_MAX; i++)
		snprintf(names[i], sizeof(names[i]), "g%d", i);
	for (int i = 0; i < CERT_GROUPS_MAX; i++)
		spec.groups[i] = names[i];
	ck_assert_msg(parse(&spec, &id, err, sizeof(err)), "%s", err);
	ck_assert_uint_eq(id.n_groups, CERT_GROUPS_MAX);
	spec.groups[CERT_GROUPS_MAX] = names[CERT_GROUPS_MAX];
	ck_assert(!parse(&spec, &id, err, sizeof(err)));
	ck_assert_msg(strstr(err, "more than 16 group URIs") != NULL, "%s", err);
}
END_TEST

START_TEST(test_groups_bad_names)
{
	static const char *bad[] = { "Servers", "", "a_b", "a b", "\xc3\xa9t\xc3\xa9",
		"abcdefghijklmnopqrstuvwxyz0123456" };
	struct cert_identity id;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct testcert_spec spec = ct_agent_spec();
		spec.groups[0] = "ok";
		spec.groups[1] = bad[i];
		err[0] = '\0';
		ck_assert_msg(!parse(&spec, &id, err, sizeof(err)), "accepted group \"%s\"", bad[i]);
		ck_assert_msg(strstr(err, "certificate \"host1\": group URI") != NULL &&
		    strstr(err, "1 to 32 of a-z, 0-9 and '-'") != NULL, "%s", err);
	}
}
END_TEST

START_TEST(test_hub_key)
{
	struct testcert_spec spec = { .cn = "sync.example", .no_client_auth = true,
		.key_b64 = KEY_SEQ, .ips = { "203.0.113.10" } };
	uint8_t key[WG_KEY_LEN], want[WG_KEY_LEN];
	char err[256] = "";
	X509 *x = ct_issue(&spec);

	ct_key_seq(want);
	ck_assert_int_eq(cert_hub_key(x, key, err, sizeof(err)), 1);
	ck_assert_mem_eq(key, want, WG_KEY_LEN);
	X509_free(x);
	spec.key_b64 = NULL;
	x = ct_issue(&spec);
	ck_assert_int_eq(cert_hub_key(x, key, err, sizeof(err)), 0);
	X509_free(x);
	spec.key_b64 = KEY_SEQ;
	spec.key_b64_second = KEY_FF;
	x = ct_issue(&spec);
	ck_assert_int_eq(cert_hub_key(x, key, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "more than one key URI") != NULL, "%s", err);
	X509_free(x);
	spec.key_b64 = "AAECAwQ=";
	spec.key_b64_second = NULL;
	x = ct_issue(&spec);
	ck_assert_int_eq(cert_hub_key(x, key, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "not base64 of a 32-byte key") != NULL, "%s", err);
	X509_free(x);
}
END_TEST

Suite *
cert_groups_suite(void)
{
	Suite *s = suite_create("cert_groups");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, ct_setup, ct_teardown);
	tcase_add_test(tc, test_groups_read);
	tcase_add_test(tc, test_groups_at_max);
	tcase_add_test(tc, test_groups_bad_names);
	tcase_add_test(tc, test_hub_key);
	suite_add_tcase(s, tc);
	return s;
}
