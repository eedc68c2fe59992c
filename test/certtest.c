/* Test helper shared by the cert suites; see certtest.h. */
#include "config.h"

#include <check.h>

#include "test/certtest.h"

struct testcert_ca *ct_ca;

void
ct_setup(void)
{
	ct_ca = testcert_ca_new("mesh");
	ck_assert_ptr_nonnull(ct_ca);
}

void
ct_teardown(void)
{
	testcert_ca_del(ct_ca);
	ct_ca = NULL;
}

void
ct_key_seq(uint8_t key[WG_KEY_LEN])
{
	for (int i = 0; i < WG_KEY_LEN; i++)
		key[i] = (uint8_t)i;
}

struct testcert_spec
ct_agent_spec(void)
{
	struct testcert_spec spec = {
		.cn = "host1",
		.org = "mesh",
		.key_b64 = KEY_SEQ,
		.ips = { "10.9.0.5", "fd00:9::5" },
	};

	return spec;
}

X509 *
ct_issue(const struct testcert_spec *spec)
{
	X509 *x = testcert_issue(ct_ca, spec, NULL);

	ck_assert_ptr_nonnull(x);
	return x;
}
