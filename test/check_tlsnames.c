/* Unit tests for tls_cert_names (rpc/tls.c): the names a name-mismatch error lists; and
 * tls_verify_failure: the words a verify failure logs. */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "rpc/h2conn.h"
#include "rpc/tls.h"
#include "test/check_suites.h"
#include "test/testcert.h"

/* A leaf with the given subjectAltName (OpenSSL's config syntax) or none, CN "sync". */
static X509 *
leaf(const char *san)
{
	struct testcert_ca *ca = testcert_ca_new("net");
	struct testcert_spec spec = { .cn = "sync", .org = "net" };
	X509 *x;

	ck_assert_ptr_nonnull(ca);
	x = testcert_issue(ca, &spec, NULL);
	ck_assert_ptr_nonnull(x);
	testcert_ca_del(ca);
	/* replace whatever SAN it got with san */
	{
		int i = X509_get_ext_by_NID(x, NID_subject_alt_name, -1);
		if (i >= 0)
			X509_EXTENSION_free(X509_delete_ext(x, i));
	}
	if (san != NULL) {
		X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
		ck_assert_ptr_nonnull(e);
		ck_assert_int_eq(X509_add_ext(x, e, -1), 1);
		X509_EXTENSION_free(e);
	}
	return x;
}

START_TEST(test_dns_and_ip)
{
	X509 *x = leaf("DNS:sync.example.org, IP:10.0.0.1, URI:urn:x, IP:fd00::1, DNS:b.example");
	char buf[200];

	ck_assert_str_eq(tls_cert_names(x, buf, sizeof(buf)),
	    "sync.example.org, 10.0.0.1, fd00::1, b.example");
	X509_free(x);
}
END_TEST

START_TEST(test_cn_without_names)
{
	X509 *x = leaf("URI:urn:wiresync:key:abc");
	char buf[64];

	ck_assert_str_eq(tls_cert_names(x, buf, sizeof(buf)), "sync");
	X509_free(x);
	x = leaf(NULL);
	ck_assert_str_eq(tls_cert_names(x, buf, sizeof(buf)), "sync");
	X509_free(x);
}
END_TEST

START_TEST(test_cut_to_fit)
{
	X509 *x = leaf("DNS:aaaaaaaaaa.example, DNS:bbbbbbbbbb.example, DNS:cccccccccc.example");
	char buf[32];

	tls_cert_names(x, buf, sizeof(buf));
	ck_assert_uint_lt(strlen(buf), sizeof(buf));
	ck_assert_str_eq(buf, "aaaaaaaaaa.example...");
	X509_free(x);
}
END_TEST

/* The next word of s after *i (letters, digits, ' and -), lower-cased into w; false at the end. */
static bool
next_word(const char *s, size_t *i, char *w, size_t wlen)
{
	size_t n = 0;

	while (s[*i] != '\0' && !isalnum((unsigned char)s[*i]))
		(*i)++;
	if (s[*i] == '\0')
		return false;
	while (isalnum((unsigned char)s[*i]) || s[*i] == '\'' || s[*i] == '-') {
		if (n + 1 < wlen)
			w[n++] = (char)tolower((unsigned char)s[*i]);
		(*i)++;
	}
	w[n] = '\0';
	return true;
}

/* Every verify error OpenSSL names reads without a doubled word ("certificate certificate
 * revoked", as "certificate %s" once logged) and fits the connection's why[] whole. */
START_TEST(test_verify_failure_words)
{
	struct h2conn h;
	char buf[sizeof(h.why)], prev[64], w[64];
	long vr;

	for (vr = X509_V_ERR_UNSPECIFIED; vr <= 200; vr++) {
		const char *reason = X509_verify_cert_error_string(vr);
		size_t i = 0;

		ck_assert_ptr_eq(tls_verify_failure(vr, buf, sizeof(buf)), buf);
		ck_assert_msg(strstr(buf, reason) != NULL && strlen(buf) + 1 < sizeof(buf),
		    "verify error %ld cut short: \"%s\"", vr, buf);
		prev[0] = '\0';
		while (next_word(buf, &i, w, sizeof(w))) {
			ck_assert_msg(strcmp(w, prev) != 0, "verify error %ld doubles \"%s\": \"%s\"",
			    vr, w, buf);
			snprintf(prev, sizeof(prev), "%s", w);
		}
	}
	tls_verify_failure(X509_V_ERR_CERT_REVOKED, buf, sizeof(buf));
	ck_assert_str_eq(buf, "TLS handshake failed: the peer's certificate did not verify: "
	    "certificate revoked");
}
END_TEST

Suite *
tlsnames_suite(void)
{
	Suite *s = suite_create("tlsnames");
	TCase *core = tcase_create("core"), *limits = tcase_create("limits");

	tcase_add_test(core, test_dns_and_ip);
	tcase_add_test(core, test_cn_without_names);
	tcase_add_test(limits, test_cut_to_fit);
	tcase_add_test(core, test_verify_failure_words);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}
