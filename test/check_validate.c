/* Unit tests for server/validate.c: UpdateRequest fields against the caller's identity. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/cert.h"
#include "proto/wiresync.pb-c.h"
#include "rpc/grpc.h"
#include "server/validate.h"
#include "test/check_suites.h"

static struct cert_identity t_id;
static uint8_t t_key[WG_KEY_LEN];
static uint8_t t_other[WG_KEY_LEN];
static Wiresync__V1__UpdateRequest t_req;
static struct update_fields t_out;
static char t_err[256];

static void
setup(void)
{
	static const Wiresync__V1__UpdateRequest init = WIRESYNC__V1__UPDATE_REQUEST__INIT;

	for (size_t i = 0; i < WG_KEY_LEN; i++) {
		t_key[i] = (uint8_t)(i * 3 + 1);
		t_other[i] = (uint8_t)(i * 5 + 2);
	}
	memset(&t_id, 0, sizeof(t_id));
	snprintf(t_id.name, sizeof(t_id.name), "alice");
	snprintf(t_id.network, sizeof(t_id.network), "home");
	t_id.has_key = true;
	memcpy(t_id.key, t_key, WG_KEY_LEN);

	t_req = init;
	t_req.listen_port = 51820;
	memset(&t_out, 0xaa, sizeof(t_out));
	memset(t_err, 0, sizeof(t_err));
}

static int
validate(void)
{
	return validate_update(&t_req, &t_id, &t_out, t_err, sizeof(t_err));
}

/* Asserts the request is refused with status and an error containing each of the words. */
static void
refused(int status, const char *word1, const char *word2)
{
	int st = validate();

	ck_assert_msg(st == status, "status %d (%s), want %d; err \"%s\"", st,
	    grpc_status_name(st), status, t_err);
	ck_assert_msg(strstr(t_err, word1) != NULL, "err \"%s\" lacks \"%s\"", t_err, word1);
	if (word2 != NULL)
		ck_assert_msg(strstr(t_err, word2) != NULL, "err \"%s\" lacks \"%s\"", t_err, word2);
}

static void
accepted(void)
{
	int st = validate();

	ck_assert_msg(st == GRPC_OK, "status %s: %s", grpc_status_name(st), t_err);
}

/* --- core ------------------------------------------------------------------------------ */

START_TEST(test_valid_request_fields)
{
	static const uint8_t lan_id[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
	static const uint8_t v4[4] = { 192, 168, 1, 20 };
	static const uint8_t wan[4] = { 203, 0, 113, 7 };
	char *lans[] = { (char *)"192.168.1.20/24", (char *)"2001:db8::5" };
	uint8_t v6[16];

	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::5", v6), 1);
	t_req.public_key.data = t_key;
	t_req.public_key.len = WG_KEY_LEN;
	t_req.listen_port = 51821;
	t_req.n_lan_ips = 2;
	t_req.lan_ips = lans;
	t_req.wan_ip = (char *)"203.0.113.7";
	t_req.lan_id.data = (uint8_t *)lan_id;
	t_req.lan_id.len = sizeof(lan_id);

	accepted();
	ck_assert_uint_eq(t_out.listen_port, 51821);
	ck_assert_uint_eq(t_out.n_lan, 2);
	ck_assert_uint_eq(t_out.lan[0].family, AF_INET);
	ck_assert_uint_eq(t_out.lan[0].prefix, 24);
	ck_assert_mem_eq(t_out.lan[0].addr, v4, 4);
	ck_assert_uint_eq(t_out.lan[1].family, AF_INET6);
	ck_assert_uint_eq(t_out.lan[1].prefix, 128);
	ck_assert_mem_eq(t_out.lan[1].addr, v6, 16);
	ck_assert_uint_eq(t_out.wan_reported.family, AF_INET);
	ck_assert_uint_eq(t_out.wan_reported.prefix, 32);
	ck_assert_mem_eq(t_out.wan_reported.addr, wan, 4);
	ck_assert_uint_eq(t_out.lan_id_len, 6);
	ck_assert_mem_eq(t_out.lan_id, lan_id, 6);
}
END_TEST

START_TEST(test_minimal_request)
{
	accepted();
	ck_assert_uint_eq(t_out.listen_port, 51820);
	ck_assert_uint_eq(t_out.n_lan, 0);
	ck_assert_uint_eq(t_out.wan_reported.family, 0);
	ck_assert_uint_eq(t_out.lan_id_len, 0);
}
END_TEST

START_TEST(test_public_key_absent)
{
	t_req.public_key.data = NULL;
	t_req.public_key.len = 0;
	accepted();
}
END_TEST

START_TEST(test_public_key_equal)
{
	t_req.public_key.data = t_key;
	t_req.public_key.len = WG_KEY_LEN;
	accepted();
}
END_TEST

START_TEST(test_lan_ipv6)
{
	char *lans[] = { (char *)"fe80::1" };
	uint8_t v6[16];

	ck_assert_int_eq(inet_pton(AF_INET6, "fe80::1", v6), 1);
	t_req.n_lan_ips = 1;
	t_req.lan_ips = lans;
	accepted();
	ck_assert_uint_eq(t_out.n_lan, 1);
	ck_assert_uint_eq(t_out.lan[0].family, AF_INET6);
	ck_assert_mem_eq(t_out.lan[0].addr, v6, 16);
}
END_TEST

START_TEST(test_wan_ip_empty_means_absent)
{
	t_req.wan_ip = (char *)"";
	accepted();
	ck_assert_uint_eq(t_out.wan_reported.family, 0);
}
END_TEST

START_TEST(test_wan_ip_ipv6)
{
	uint8_t v6[16];

	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::7", v6), 1);
	t_req.wan_ip = (char *)"2001:db8::7";
	accepted();
	ck_assert_uint_eq(t_out.wan_reported.family, AF_INET6);
	ck_assert_mem_eq(t_out.wan_reported.addr, v6, 16);
}
END_TEST

START_TEST(test_validate_key_ok)
{
	ProtobufCBinaryData k = { WG_KEY_LEN, t_key };

	ck_assert_int_eq(validate_key(&k, "public_key", t_err, sizeof(t_err)), GRPC_OK);
}
END_TEST

/* --- limits ---------------------------------------------------------------------------- */

START_TEST(test_listen_port_max)
{
	t_req.listen_port = 65535;
	accepted();
	ck_assert_uint_eq(t_out.listen_port, 65535);
}
END_TEST

START_TEST(test_listen_port_one)
{
	t_req.listen_port = 1;
	accepted();
	ck_assert_uint_eq(t_out.listen_port, 1);
}
END_TEST

START_TEST(test_lan_ips_eight)
{
	char buf[8][16];
	char *lans[8];

	for (int i = 0; i < 8; i++) {
		snprintf(buf[i], sizeof(buf[i]), "10.0.0.%d", i + 1);
		lans[i] = buf[i];
	}
	t_req.n_lan_ips = 8;
	t_req.lan_ips = lans;
	accepted();
	ck_assert_uint_eq(t_out.n_lan, 8);
	ck_assert_uint_eq(t_out.lan[7].addr[3], 8);
}
END_TEST

START_TEST(test_lan_ips_nine)
{
	char buf[9][16];
	char *lans[9];

	for (int i = 0; i < 9; i++) {
		snprintf(buf[i], sizeof(buf[i]), "10.0.0.%d", i + 1);
		lans[i] = buf[i];
	}
	t_req.n_lan_ips = 9;
	t_req.lan_ips = lans;
	refused(GRPC_INVALID_ARGUMENT, "lan_ips", "9");
}
END_TEST

START_TEST(test_lan_id_32)
{
	uint8_t id[32];

	for (size_t i = 0; i < sizeof(id); i++)
		id[i] = (uint8_t)(0xf0 ^ i);
	t_req.lan_id.data = id;
	t_req.lan_id.len = sizeof(id);
	accepted();
	ck_assert_uint_eq(t_out.lan_id_len, 32);
	ck_assert_mem_eq(t_out.lan_id, id, 32);
}
END_TEST

START_TEST(test_lan_id_33)
{
	uint8_t id[33] = { 0 };

	t_req.lan_id.data = id;
	t_req.lan_id.len = sizeof(id);
	refused(GRPC_INVALID_ARGUMENT, "lan_id", "33");
}
END_TEST

START_TEST(test_validate_key_empty)
{
	ProtobufCBinaryData k = { 0, NULL };

	ck_assert_int_eq(validate_key(&k, "public_key", t_err, sizeof(t_err)),
	    GRPC_INVALID_ARGUMENT);
	ck_assert_str_eq(t_err, "public_key: must be 32 bytes, got 0");
}
END_TEST

START_TEST(test_validate_key_33)
{
	uint8_t k33[33] = { 0 };
	ProtobufCBinaryData k = { sizeof(k33), k33 };

	ck_assert_int_eq(validate_key(&k, "removed_key", t_err, sizeof(t_err)),
	    GRPC_INVALID_ARGUMENT);
	ck_assert_str_eq(t_err, "removed_key: must be 32 bytes, got 33");
}
END_TEST

START_TEST(test_err_truncated_safely)
{
	char small[8];

	t_req.listen_port = 0;
	memset(small, 'x', sizeof(small));
	ck_assert_int_eq(validate_update(&t_req, &t_id, &t_out, small, sizeof(small)),
	    GRPC_INVALID_ARGUMENT);
	ck_assert_str_eq(small, "listen_");
}
END_TEST

/* --- errors ---------------------------------------------------------------------------- */

START_TEST(test_public_key_other)
{
	t_req.public_key.data = t_other;
	t_req.public_key.len = WG_KEY_LEN;
	refused(GRPC_PERMISSION_DENIED, "public_key", "alice");
}
END_TEST

START_TEST(test_public_key_31_bytes)
{
	t_req.public_key.data = t_key;
	t_req.public_key.len = WG_KEY_LEN - 1;
	refused(GRPC_INVALID_ARGUMENT, "public_key", "31");
}
END_TEST

START_TEST(test_identity_without_key)
{
	t_id.has_key = false;
	t_id.admin = true;
	memset(t_id.key, 0, sizeof(t_id.key));
	refused(GRPC_PERMISSION_DENIED, "alice", NULL);
}
END_TEST

START_TEST(test_identity_without_key_even_with_zero_key)
{
	/* An admin must not pass by sending the all-zero key its identity holds. */
	static const uint8_t zero[WG_KEY_LEN];

	t_id.has_key = false;
	t_id.admin = true;
	memset(t_id.key, 0, sizeof(t_id.key));
	t_req.public_key.data = (uint8_t *)zero;
	t_req.public_key.len = WG_KEY_LEN;
	refused(GRPC_PERMISSION_DENIED, "alice", NULL);
}
END_TEST

START_TEST(test_listen_port_zero)
{
	t_req.listen_port = 0;
	refused(GRPC_INVALID_ARGUMENT, "listen_port", NULL);
	ck_assert_str_eq(t_err, "listen_port: must be 1-65535, got 0");
}
END_TEST

START_TEST(test_listen_port_65536)
{
	t_req.listen_port = 65536;
	refused(GRPC_INVALID_ARGUMENT, "listen_port", "65536");
}
END_TEST

START_TEST(test_lan_ip_bad)
{
	char *lans[] = { (char *)"300.1.1.1" };

	t_req.n_lan_ips = 1;
	t_req.lan_ips = lans;
	refused(GRPC_INVALID_ARGUMENT, "lan_ips[0]", "300.1.1.1");
}
END_TEST

START_TEST(test_lan_ip_bad_second)
{
	char *lans[] = { (char *)"10.0.0.1", (char *)"10.0.0.01" };

	t_req.n_lan_ips = 2;
	t_req.lan_ips = lans;
	refused(GRPC_INVALID_ARGUMENT, "lan_ips[1]", "10.0.0.01");
}
END_TEST

START_TEST(test_lan_ip_duplicate)
{
	char *lans[] = { (char *)"10.0.0.1", (char *)"10.0.0.2", (char *)"10.0.0.1" };

	t_req.n_lan_ips = 3;
	t_req.lan_ips = lans;
	refused(GRPC_INVALID_ARGUMENT, "lan_ips[2]", "lan_ips[0]");
	ck_assert_str_eq(t_err, "lan_ips[2]: duplicate of lan_ips[0]");
}
END_TEST

START_TEST(test_lan_ip_duplicate_v6_spelling)
{
	char *lans[] = { (char *)"2001:db8::1", (char *)"2001:DB8:0::1" };

	t_req.n_lan_ips = 2;
	t_req.lan_ips = lans;
	refused(GRPC_INVALID_ARGUMENT, "lan_ips[1]", "duplicate");
}
END_TEST

START_TEST(test_wan_ip_bad)
{
	t_req.wan_ip = (char *)"1.2.3";
	refused(GRPC_INVALID_ARGUMENT, "wan_ip", "1.2.3");
}
END_TEST

START_TEST(test_wan_ip_prefix_refused)
{
	t_req.wan_ip = (char *)"1.2.3.4/32";
	refused(GRPC_INVALID_ARGUMENT, "wan_ip", NULL);
}
END_TEST

Suite *
validate_suite(void)
{
	Suite *s = suite_create("validate");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_valid_request_fields);
	tcase_add_test(tc, test_minimal_request);
	tcase_add_test(tc, test_public_key_absent);
	tcase_add_test(tc, test_public_key_equal);
	tcase_add_test(tc, test_lan_ipv6);
	tcase_add_test(tc, test_wan_ip_empty_means_absent);
	tcase_add_test(tc, test_wan_ip_ipv6);
	tcase_add_test(tc, test_validate_key_ok);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_listen_port_max);
	tcase_add_test(tc, test_listen_port_one);
	tcase_add_test(tc, test_lan_ips_eight);
	tcase_add_test(tc, test_lan_ips_nine);
	tcase_add_test(tc, test_lan_id_32);
	tcase_add_test(tc, test_lan_id_33);
	tcase_add_test(tc, test_validate_key_empty);
	tcase_add_test(tc, test_validate_key_33);
	tcase_add_test(tc, test_err_truncated_safely);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_public_key_other);
	tcase_add_test(tc, test_public_key_31_bytes);
	tcase_add_test(tc, test_identity_without_key);
	tcase_add_test(tc, test_identity_without_key_even_with_zero_key);
	tcase_add_test(tc, test_listen_port_zero);
	tcase_add_test(tc, test_listen_port_65536);
	tcase_add_test(tc, test_lan_ip_bad);
	tcase_add_test(tc, test_lan_ip_bad_second);
	tcase_add_test(tc, test_lan_ip_duplicate);
	tcase_add_test(tc, test_lan_ip_duplicate_v6_spelling);
	tcase_add_test(tc, test_wan_ip_bad);
	tcase_add_test(tc, test_wan_ip_prefix_refused);
	suite_add_tcase(s, tc);
	return s;
}
