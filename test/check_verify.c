/* Tests for agent/verify.c: a peer record is installed only when its certificate chains to
 * our CA, is valid now, belongs to our network and binds exactly the record's key and
 * tunnel addresses. Revocation (CRLs) is in check_verify_crl.c. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "test/check_suites.h"
#include "test/verifytest.h"

/* --- core ------------------------------------------------------------------------------ */

START_TEST(test_good_record_passes)
{
	struct testcert_spec spec = vt_good_spec();

	vt_expect_spec(&spec, vt_good_ips, NULL);
}
END_TEST

START_TEST(test_good_record_fills_identity)
{
	struct testcert_spec spec = vt_good_spec();
	struct cert_identity id;
	X509 *x = vt_issue(&spec);
	struct rec r;
	char err[256] = "", text[NETADDR_STRLEN];
	time_t now = time(NULL);

	bool ok;

	vt_rec_init(&r, x, vt_key, vt_good_ips);
	ok = peer_verify(vt_v, &r.p, &id, err, sizeof(err));
	vt_rec_free(&r);
	X509_free(x);
	ck_assert_msg(ok, "refused: %s", err);
	ck_assert_str_eq(id.name, "host1");
	ck_assert_str_eq(id.network, NETWORK);
	ck_assert(id.has_key);
	ck_assert(!id.admin);
	ck_assert_mem_eq(id.key, vt_key, WG_KEY_LEN);
	ck_assert_uint_eq(id.n_tunnel, 2);
	ck_assert_str_eq(netaddr_format(&id.tunnel[0], true, text), "10.9.0.5/32");
	ck_assert_str_eq(netaddr_format(&id.tunnel[1], true, text), "fd00:9::5/128");
	ck_assert_int_ge(id.not_after, (int64_t)now + 86400 - 5);
	ck_assert_int_le(id.not_after, (int64_t)now + 86400 + 5);
}
END_TEST

START_TEST(test_tunnel_other_order_accepted)
{
	static const char *const ips[] = { "fd00:9::5/128", "10.9.0.5/32", NULL };
	struct testcert_spec spec = vt_good_spec();

	vt_expect_spec(&spec, ips, NULL);
}
END_TEST

START_TEST(test_tunnel_without_prefix_accepted)
{
	static const char *const ips[] = { "10.9.0.5", "fd00:9::5", NULL };
	struct testcert_spec spec = vt_good_spec();

	vt_expect_spec(&spec, ips, NULL);
}
END_TEST

/* --- limits ---------------------------------------------------------------------------- */

START_TEST(test_max_tunnel_addresses_accepted)
{
	static const char *const ips[] = { "10.9.0.8", "10.9.0.7", "10.9.0.6", "10.9.0.5",
		"fd00:9::4", "fd00:9::3", "fd00:9::2", "fd00:9::1", NULL };
	struct testcert_spec spec = vt_good_spec();
	size_t i;

	for (i = 0; ips[i] != NULL; i++)
		spec.ips[i] = ips[CERT_TUNNEL_MAX - 1 - i];
	spec.ips[i] = NULL;
	ck_assert_uint_eq(i, CERT_TUNNEL_MAX);
	vt_expect_spec(&spec, ips, NULL);
}
END_TEST

START_TEST(test_tunnel_wider_prefix_refused)
{
	static const char *const ips[] = { "10.9.0.5/24", "fd00:9::5/128", NULL };
	struct testcert_spec spec = vt_good_spec();

	vt_expect_spec(&spec, ips,
	    "certificate \"host1\": tunnel address 10.9.0.5/24 is not bound by the certificate");
}
END_TEST
START_TEST(test_expired_at_edge_refused)
{
	struct testcert_spec spec = vt_good_spec();

	spec.not_before_offset = -86400;
	spec.not_after_offset = -1;
	vt_expect_spec(&spec, vt_good_ips, "certificate does not verify: certificate has expired");
}
END_TEST

/* --- errors ---------------------------------------------------------------------------- */
START_TEST(test_err_other_ca)
{
	struct testcert_ca *other = testcert_ca_new(NETWORK);
	struct testcert_spec spec = vt_good_spec();
	char err[256] = "";
	X509 *x;
	bool ok;

	ck_assert_ptr_nonnull(other);
	x = testcert_issue(other, &spec, NULL);
	testcert_ca_del(other);
	ck_assert_ptr_nonnull(x);
	ok = vt_verify_x(vt_v, x, vt_key, vt_good_ips, err, sizeof(err));
	X509_free(x);
	vt_assert_outcome(ok, err, "certificate does not verify: unable to get local issuer certificate");
}
END_TEST

START_TEST(test_err_bad_group)
{
	struct testcert_spec spec = vt_good_spec();

	/* a record a compromised server might send: the agent refuses it like the server */
	spec.groups[0] = "servers";
	spec.groups[1] = "Not_A_Group";
	vt_expect_spec(&spec, vt_good_ips, "certificate \"host1\": group URI "
	    "\"urn:wiresync:group:Not_A_Group\": the name must be 1 to 32 of a-z, 0-9 and '-'");
}
END_TEST

START_TEST(test_groups_read)
{
	struct testcert_spec spec = vt_good_spec();
	struct cert_identity id;
	X509 *x;
	struct rec r;
	char err[256] = "";
	bool ok;

	spec.groups[0] = "laptops";
	x = vt_issue(&spec);
	vt_rec_init(&r, x, vt_key, vt_good_ips);
	ok = peer_verify(vt_v, &r.p, &id, err, sizeof(err));
	vt_rec_free(&r);
	X509_free(x);
	ck_assert_msg(ok, "refused: %s", err);
	ck_assert_uint_eq(id.n_groups, 1);
	ck_assert_str_eq(id.groups[0], "laptops");
}
END_TEST

START_TEST(test_err_expired)
{
	struct testcert_spec spec = vt_good_spec();

	spec.not_before_offset = -7200;
	spec.not_after_offset = -3600;
	vt_expect_spec(&spec, vt_good_ips, "certificate does not verify: certificate has expired");
}
END_TEST

START_TEST(test_err_not_yet_valid)
{
	struct testcert_spec spec = vt_good_spec();

	spec.not_before_offset = 3600;
	spec.not_after_offset = 7200;
	vt_expect_spec(&spec, vt_good_ips, "certificate does not verify: certificate is not yet valid");
}
END_TEST

START_TEST(test_err_other_network)
{
	struct testcert_spec spec = vt_good_spec();

	spec.org = "netb";
	vt_expect_spec(&spec, vt_good_ips,
	    "certificate of \"host1\" is for network \"netb\", not \"neta\"");
}
END_TEST

START_TEST(test_err_public_key_differs)
{
	struct testcert_spec spec = vt_good_spec();
	uint8_t other[WG_KEY_LEN];
	char err[256] = "";
	X509 *x = vt_issue(&spec);
	bool ok;

	memcpy(other, vt_key, WG_KEY_LEN);
	other[WG_KEY_LEN - 1] ^= 1;
	ok = vt_verify_x(vt_v, x, other, vt_good_ips, err, sizeof(err));
	X509_free(x);
	vt_assert_outcome(ok, err, "record's public key is not the one certificate \"host1\" binds");
}
END_TEST

START_TEST(test_err_public_key_short)
{
	struct testcert_spec spec = vt_good_spec();
	X509 *x = vt_issue(&spec);
	struct cert_identity id;
	struct rec r;
	char err[256] = "";
	bool ok;

	vt_rec_init(&r, x, vt_key, vt_good_ips);
	r.p.public_key.len = WG_KEY_LEN - 1; /* a prefix of the right key */
	ok = peer_verify(vt_v, &r.p, &id, err, sizeof(err));
	vt_rec_free(&r);
	X509_free(x);
	vt_assert_outcome(ok, err, "record's public key is not the one certificate \"host1\" binds");
}
END_TEST

START_TEST(test_err_public_key_empty)
{
	struct testcert_spec spec = vt_good_spec();
	X509 *x = vt_issue(&spec);
	struct cert_identity id;
	struct rec r;
	char err[256] = "";
	bool ok;

	vt_rec_init(&r, x, vt_key, vt_good_ips);
	r.p.public_key.data = NULL;
	r.p.public_key.len = 0;
	ok = peer_verify(vt_v, &r.p, &id, err, sizeof(err));
	vt_rec_free(&r);
	X509_free(x);
	vt_assert_outcome(ok, err, "record's public key is not the one certificate \"host1\" binds");
}
END_TEST

START_TEST(test_err_tunnel_extra)
{
	static const char *const ips[] = { "10.9.0.5/32", "fd00:9::5/128", "10.9.0.6/32", NULL };
	struct testcert_spec spec = vt_good_spec();

	vt_expect_spec(&spec, ips,
	    "certificate \"host1\": record lists 3 tunnel addresses, certificate binds 2");
}
END_TEST

START_TEST(test_err_tunnel_missing)
{
	static const char *const ips[] = { "10.9.0.5/32", NULL };
	struct testcert_spec spec = vt_good_spec();

	vt_expect_spec(&spec, ips,
	    "certificate \"host1\": record lists 1 tunnel addresses, certificate binds 2");
}
END_TEST

START_TEST(test_err_tunnel_none)
{
	static const char *const ips[] = { NULL };
	struct testcert_spec spec = vt_good_spec();

	vt_expect_spec(&spec, ips,
	    "certificate \"host1\": record lists 0 tunnel addresses, certificate binds 2");
}
END_TEST

START_TEST(test_err_tunnel_different)
{
	static const char *const ips[] = { "10.9.0.5/32", "fd00:9::6/128", NULL };
	struct testcert_spec spec = vt_good_spec();

	vt_expect_spec(&spec, ips,
	    "certificate \"host1\": tunnel address fd00:9::6/128 is not bound by the certificate");
}
END_TEST

/* The count matches, but one bound address is missing and another is listed twice. */
START_TEST(test_err_tunnel_duplicate_hides_missing)
{
	static const char *const ips[] = { "10.9.0.5/32", "10.9.0.5/32", NULL };
	struct testcert_spec spec = vt_good_spec();
	X509 *x = vt_issue(&spec);
	struct cert_identity id;
	struct rec r;
	char err[256] = "";
	bool ok;

	vt_rec_init(&r, x, vt_key, ips);
	ok = peer_verify(vt_v, &r.p, &id, err, sizeof(err));
	vt_rec_free(&r);
	X509_free(x);
	ck_assert_msg(!ok, "accepted tunnel_ips {10.9.0.5/32, 10.9.0.5/32} for a certificate "
	    "binding {10.9.0.5, fd00:9::5}");
}
END_TEST

START_TEST(test_err_tunnel_unparsable)
{
	static const char *const ips[] = { "10.9.0.5/32", "bogus", NULL };
	struct testcert_spec spec = vt_good_spec();

	vt_expect_spec(&spec, ips,
	    "certificate \"host1\": tunnel address \"bogus\" does not parse");
}
END_TEST

START_TEST(test_err_admin_certificate)
{
	static const char *const ips[] = { NULL };
	struct testcert_spec spec = { .cn = "admin1", .org = NETWORK, .admin = true };

	vt_expect_spec(&spec, ips, "record's public key is not the one certificate \"admin1\" binds");
}
END_TEST

START_TEST(test_err_ca_leaf)
{
	struct testcert_spec spec = vt_good_spec();

	spec.ca = true;
	vt_expect_spec(&spec, vt_good_ips, "certificate \"host1\": is a CA (basicConstraints CA:TRUE)");
}
END_TEST

START_TEST(test_err_no_client_auth)
{
	struct testcert_spec spec = vt_good_spec();

	spec.no_client_auth = true;
	vt_expect_spec(&spec, vt_good_ips, "certificate does not verify: unsuitable certificate purpose");
}
END_TEST

START_TEST(test_err_no_certificate)
{
	vt_expect(vt_v, NULL, vt_key, vt_good_ips, "record carries no certificate");
}
END_TEST

START_TEST(test_err_garbage_der)
{
	static const uint8_t garbage[] = { 0x30, 0x03, 0x02, 0x01, 0x05, 0xde, 0xad };
	struct cert_identity id;
	struct rec r;
	char err[256] = "";
	bool ok;

	vt_rec_init(&r, NULL, vt_key, vt_good_ips);
	r.p.certificate.data = (uint8_t *)garbage;
	r.p.certificate.len = sizeof(garbage);
	ok = peer_verify(vt_v, &r.p, &id, err, sizeof(err));
	vt_assert_outcome(ok, err, "certificate does not decode");
}
END_TEST

START_TEST(test_err_truncated_der)
{
	struct testcert_spec spec = vt_good_spec();
	X509 *x = vt_issue(&spec);
	struct cert_identity id;
	struct rec r;
	char err[256] = "";
	bool ok;

	vt_rec_init(&r, x, vt_key, vt_good_ips);
	r.p.certificate.len--;
	ok = peer_verify(vt_v, &r.p, &id, err, sizeof(err));
	vt_rec_free(&r);
	X509_free(x);
	vt_assert_outcome(ok, err, "certificate does not decode");
}
END_TEST

START_TEST(test_err_trailing_bytes)
{
	struct testcert_spec spec = vt_good_spec();
	X509 *x = vt_issue(&spec);
	struct cert_identity id;
	struct rec r;
	uint8_t *buf;
	char err[256] = "";
	bool ok;

	vt_rec_init(&r, x, vt_key, vt_good_ips);
	buf = malloc(r.p.certificate.len + 1);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, r.p.certificate.data, r.p.certificate.len);
	buf[r.p.certificate.len] = 0;
	r.p.certificate.data = buf;
	r.p.certificate.len++;
	ok = peer_verify(vt_v, &r.p, &id, err, sizeof(err));
	free(buf);
	vt_rec_free(&r);
	X509_free(x);
	vt_assert_outcome(ok, err, "certificate does not decode");
}
END_TEST

START_TEST(test_err_missing_ca_file)
{
	char err[256] = "";

	ck_assert_ptr_null(peer_verifier_new("/nonexistent/wiresync/ca.crt", NULL, NETWORK,
	    err, sizeof(err)));
	ck_assert_str_eq(err, "/nonexistent/wiresync/ca.crt: cannot load CA certificate");
}
END_TEST

START_TEST(test_err_ca_file_not_pem)
{
	char path[sizeof(TMP_TEMPLATE)], err[256] = "", want[300];
	int fd;

	memcpy(path, TMP_TEMPLATE, sizeof(TMP_TEMPLATE));
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "not a certificate\n", 18), 18);
	close(fd);
	ck_assert_ptr_null(peer_verifier_new(path, NULL, NETWORK, err, sizeof(err)));
	unlink(path);
	snprintf(want, sizeof(want), "%s: cannot load CA certificate", path);
	ck_assert_str_eq(err, want);
}
END_TEST
/* Two certificates binding one tunnel address must never both be installed. */
START_TEST(test_tunnels_overlap)
{
	struct cert_identity a, b;
	char addr[NETADDR_STRLEN] = "";

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ck_assert(netaddr_parse("10.9.0.5/32", true, &a.tunnel[0], NULL, 0));
	ck_assert(netaddr_parse("fd00:9::5/128", true, &a.tunnel[1], NULL, 0));
	a.n_tunnel = 2;
	ck_assert(netaddr_parse("10.9.0.6/32", true, &b.tunnel[0], NULL, 0));
	b.n_tunnel = 1;
	ck_assert(!peer_tunnels_overlap(&a, &b, addr));
	ck_assert(netaddr_parse("fd00:9::5/128", true, &b.tunnel[1], NULL, 0));
	b.n_tunnel = 2;
	ck_assert(peer_tunnels_overlap(&a, &b, addr));
	ck_assert_str_eq(addr, "fd00:9::5/128");
	ck_assert(peer_tunnels_overlap(&b, &a, addr));
	b.n_tunnel = 0;
	ck_assert(!peer_tunnels_overlap(&a, &b, addr));
}
END_TEST
Suite *
verify_suite(void)
{
	Suite *s = suite_create("verify");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, vt_setup, vt_teardown);
	tcase_add_test(tc, test_good_record_passes);
	tcase_add_test(tc, test_good_record_fills_identity);
	tcase_add_test(tc, test_tunnel_other_order_accepted);
	tcase_add_test(tc, test_tunnel_without_prefix_accepted);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, vt_setup, vt_teardown);
	tcase_add_test(tc, test_max_tunnel_addresses_accepted);
	tcase_add_test(tc, test_tunnel_wider_prefix_refused);
	tcase_add_test(tc, test_expired_at_edge_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, vt_setup, vt_teardown);
	tcase_add_test(tc, test_err_other_ca);
	tcase_add_test(tc, test_err_expired);
	tcase_add_test(tc, test_err_bad_group);
	tcase_add_test(tc, test_groups_read);
	tcase_add_test(tc, test_err_not_yet_valid);
	tcase_add_test(tc, test_err_other_network);
	tcase_add_test(tc, test_err_public_key_differs);
	tcase_add_test(tc, test_err_public_key_short);
	tcase_add_test(tc, test_err_public_key_empty);
	tcase_add_test(tc, test_err_tunnel_extra);
	tcase_add_test(tc, test_err_tunnel_missing);
	tcase_add_test(tc, test_err_tunnel_none);
	tcase_add_test(tc, test_err_tunnel_different);
	tcase_add_test(tc, test_err_tunnel_duplicate_hides_missing);
	tcase_add_test(tc, test_err_tunnel_unparsable);
	tcase_add_test(tc, test_err_admin_certificate);
	tcase_add_test(tc, test_err_ca_leaf);
	tcase_add_test(tc, test_err_no_client_auth);
	tcase_add_test(tc, test_err_no_certificate);
	tcase_add_test(tc, test_err_garbage_der);
	tcase_add_test(tc, test_err_truncated_der);
	tcase_add_test(tc, test_err_trailing_bytes);
	tcase_add_test(tc, test_err_missing_ca_file);
	tcase_add_test(tc, test_err_ca_file_not_pem);
	tcase_add_test(tc, test_tunnels_overlap);
	suite_add_tcase(s, tc);
	return s;
}
