/* Tests for ctl/genconf_path.c: which peers a static config (a phone) reaches directly and
 * which through the relay, and where the relay and hub are from the phone. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ctl/genconf_path.h"
#include "test/check_suites.h"
#include "test/testcert.h"

static const uint8_t mac_a[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01 };

struct rec {
	Wiresync__V1__Peer p;
	char lan_text[4][64];
	char *lan[4];
	char wan[64];
	uint8_t lan_id[6];
};

/* A record with listen_port, up to three lan_ips (NULL ends), wan_ip ("" none), lan_id. */
static void
rec_init(struct rec *r, uint32_t port, const char *lan0, const char *lan1, const char *wan,
    const uint8_t *lan_id)
{
	const char *lans[2] = { lan0, lan1 };

	memset(r, 0, sizeof(*r));
	wiresync__v1__peer__init(&r->p);
	r->p.listen_port = port;
	for (size_t i = 0; i < 2 && lans[i] != NULL; i++) {
		snprintf(r->lan_text[i], sizeof(r->lan_text[i]), "%s", lans[i]);
		r->lan[i] = r->lan_text[i];
		r->p.n_lan_ips = i + 1;
	}
	r->p.lan_ips = r->lan;
	snprintf(r->wan, sizeof(r->wan), "%s", wan);
	r->p.wan_ip = r->wan;
	r->p.observed_endpoint = (char *)"";
	if (lan_id != NULL) {
		memcpy(r->lan_id, lan_id, 6);
		r->p.lan_id.data = r->lan_id;
		r->p.lan_id.len = 6;
	}
}

/* The phone as genconf sees it: no LAN identity, no address known, both families. */
static enum genconf_via
choose(const struct rec *r, bool is_static, bool relay, const char **why)
{
	struct endpoint_self me = { .has_v4 = true, .has_v6 = true, .wan_ip = "" };
	struct endpoint_list eps;
	struct genconf_path path;

	endpoint_candidates(&r->p, &me, &eps);
	genconf_path_choose(&r->p, is_static, &eps, relay, &path);
	if (why != NULL)
		*why = path.why;
	return path.via;
}

START_TEST(test_natted_host_via_relay)
{
	struct rec r;
	const char *why;

	/* the server saw 203.0.113.5, the host has only a private address */
	rec_init(&r, 51820, "192.168.1.10/24", NULL, "203.0.113.5", mac_a);
	ck_assert_int_eq(choose(&r, false, true, &why), GENCONF_RELAY);
	ck_assert_str_eq(why, "is behind NAT");
	ck_assert_int_eq(choose(&r, false, false, &why), GENCONF_GUESS);
	ck_assert_str_eq(why, "is behind NAT");
}
END_TEST

START_TEST(test_public_host_direct)
{
	struct rec r;
	const char *why;

	/* its LAN address is the one the server saw (the prefix does not matter) */
	rec_init(&r, 51820, "10.0.0.1/8", "198.51.100.7/24", "198.51.100.7", NULL);
	ck_assert_int_eq(choose(&r, false, true, &why), GENCONF_DIRECT);
	ck_assert_str_eq(why, "is not behind NAT");
	ck_assert_int_eq(choose(&r, false, false, NULL), GENCONF_DIRECT);
	rec_init(&r, 51820, "2001:db8::7", NULL, "2001:db8::7", NULL);
	ck_assert_int_eq(choose(&r, false, true, NULL), GENCONF_DIRECT);
	/* but without a listen port there is nothing to send to */
	rec_init(&r, 0, "198.51.100.7", NULL, "198.51.100.7", NULL);
	ck_assert_int_eq(choose(&r, false, true, NULL), GENCONF_RELAY);
	ck_assert_int_eq(choose(&r, false, false, NULL), GENCONF_NONE);
}
END_TEST

START_TEST(test_static_fixed_endpoint_direct)
{
	struct rec r;
	const char *why;

	/* AddStaticPeer publishes a fixed endpoint as wan_ip + listen_port, no LAN */
	rec_init(&r, 51825, NULL, NULL, "198.51.100.9", NULL);
	ck_assert_int_eq(choose(&r, true, true, &why), GENCONF_DIRECT);
	ck_assert_str_eq(why, "has a fixed endpoint");
	/* the same record from an agent is only an address the server saw */
	ck_assert_int_eq(choose(&r, false, true, &why), GENCONF_RELAY);
	ck_assert_str_eq(why, "may be behind NAT (it reports no LAN address)");
}
END_TEST

START_TEST(test_static_without_endpoint)
{
	struct rec r;
	const char *why;

	/* another phone: nothing known; only the relay can carry it */
	rec_init(&r, 0, NULL, NULL, "", NULL);
	ck_assert_int_eq(choose(&r, true, true, &why), GENCONF_RELAY);
	ck_assert_str_eq(why, "has no known address");
	ck_assert_int_eq(choose(&r, true, false, NULL), GENCONF_NONE);
}
END_TEST

START_TEST(test_shared_lan_direct)
{
	struct endpoint_self me = { .lan_id = mac_a, .lan_id_len = 6, .has_v4 = true,
		.wan_ip = "203.0.113.5" };
	struct endpoint_list eps;
	struct genconf_path path;
	struct rec r;

	rec_init(&r, 51820, "192.168.1.10", NULL, "203.0.113.5", mac_a);
	endpoint_candidates(&r.p, &me, &eps);
	genconf_path_choose(&r.p, false, &eps, true, &path);
	ck_assert_int_eq(path.via, GENCONF_DIRECT);
	ck_assert_str_eq(path.why, "shares this peer's LAN");
}
END_TEST

START_TEST(test_at_server)
{
	char out[64];

	ck_assert_int_eq(genconf_at_server("wiresync.example.org:7443", 51900, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "wiresync.example.org:51900");
	ck_assert_int_eq(genconf_at_server("[2001:db8::1]:7443", 51901, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "[2001:db8::1]:51901");
	ck_assert_int_eq(genconf_at_server("2001:db8::1", 51901, out, sizeof(out)), -1);
	ck_assert_int_eq(genconf_at_server(":7443", 51901, out, sizeof(out)), -1);
	ck_assert_int_eq(genconf_at_server("host:7443", 0, out, sizeof(out)), -1);
	ck_assert_int_eq(genconf_at_server("host:7443", 51900, out, 8), -1);
}
END_TEST

START_TEST(test_relay_target)
{
	char out[64];

	/* unspecified: the server's host, the relay's port */
	ck_assert_int_eq(genconf_relay_target("0.0.0.0:51900", "127.0.0.1:7443", out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "127.0.0.1:51900");
	ck_assert_int_eq(genconf_relay_target("[::]:51900", "srv.example:7443", out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "srv.example:51900");
	/* a specific address stays */
	ck_assert_int_eq(genconf_relay_target("198.51.100.1:51900", "127.0.0.1:7443", out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "198.51.100.1:51900");
	ck_assert_int_eq(genconf_relay_target("[2001:db8::2]:51900", "127.0.0.1:7443", out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "[2001:db8::2]:51900");
	/* malformed */
	ck_assert_int_eq(genconf_relay_target("", "127.0.0.1:7443", out, sizeof(out)), -1);
	ck_assert_int_eq(genconf_relay_target("relay.example:51900", "h:1", out, sizeof(out)), -1);
	ck_assert_int_eq(genconf_relay_target("1.2.3.4:0", "h:1", out, sizeof(out)), -1);
	ck_assert_int_eq(genconf_relay_target("1.2.3.4:", "h:1", out, sizeof(out)), -1);
	ck_assert_int_eq(genconf_relay_target("1.2.3.4:70000", "h:1", out, sizeof(out)), -1);
	ck_assert_int_eq(genconf_relay_target("::1", "h:1", out, sizeof(out)), -1);
}
END_TEST

START_TEST(test_hub)
{
	struct testcert_ca *ca = testcert_ca_new("neta");
	struct testcert_spec spec = { .cn = "wiresync.example.org", .org = "neta",
		.no_client_auth = true };
	uint8_t key[WG_KEY_LEN], want[WG_KEY_LEN];
	char b64[45], at[64], why[256];
	X509 *plain, *keyed, *twice;

	ck_assert_ptr_nonnull(ca);
	testcert_random_key_b64(b64);
	ck_assert(wg_key_from_base64(b64, want));
	ck_assert_ptr_nonnull(plain = testcert_issue(ca, &spec, NULL));
	spec.key_b64 = b64;
	ck_assert_ptr_nonnull(keyed = testcert_issue(ca, &spec, NULL));
	spec.key_b64_second = b64;
	ck_assert_ptr_nonnull(twice = testcert_issue(ca, &spec, NULL));

	/* no hub: nothing to say */
	ck_assert_int_eq(genconf_hub(keyed, 0, "srv:7443", key, at, sizeof(at), why,
	    sizeof(why)), 0);
	ck_assert_int_eq(genconf_hub(keyed, 51902, "wiresync.example.org:7443", key, at,
	    sizeof(at), why, sizeof(why)), 1);
	ck_assert_mem_eq(key, want, WG_KEY_LEN);
	ck_assert_str_eq(at, "wiresync.example.org:51902");
	ck_assert_int_eq(genconf_hub(plain, 51902, "srv:7443", key, at, sizeof(at), why,
	    sizeof(why)), -1);
	ck_assert_msg(strstr(why, "binds no WireGuard key") != NULL, "%s", why);
	ck_assert_int_eq(genconf_hub(twice, 51902, "srv:7443", key, at, sizeof(at), why,
	    sizeof(why)), -1);
	ck_assert_msg(strstr(why, "the server certificate: ") != NULL, "%s", why);
	ck_assert_int_eq(genconf_hub(NULL, 51902, "srv:7443", key, at, sizeof(at), why,
	    sizeof(why)), -1);
	ck_assert_int_eq(genconf_hub(keyed, 51902, "srv", key, at, sizeof(at), why,
	    sizeof(why)), -1);
	ck_assert_msg(strstr(why, "not HOST:PORT") != NULL, "%s", why);
	X509_free(plain);
	X509_free(keyed);
	X509_free(twice);
	testcert_ca_del(ca);
}
END_TEST

Suite *
genconf_path_suite(void)
{
	Suite *s = suite_create("genconf_path");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_natted_host_via_relay);
	tcase_add_test(tc, test_public_host_direct);
	tcase_add_test(tc, test_static_fixed_endpoint_direct);
	tcase_add_test(tc, test_static_without_endpoint);
	tcase_add_test(tc, test_shared_lan_direct);
	tcase_add_test(tc, test_at_server);
	tcase_add_test(tc, test_relay_target);
	tcase_add_test(tc, test_hub);
	suite_add_tcase(s, tc);
	return s;
}
