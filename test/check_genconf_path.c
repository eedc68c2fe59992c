/* Tests for common/genconf.c: which peers a static config (a phone) reaches directly and
 * which through the relay, where the relay and hub are from the phone, and the text that
 * wiresyncctl genconf and the web console write. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/genconf.h"
#include "server/web_qr.h"
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
	struct genconf_reach reach;
	struct genconf_path path;
	struct rec phone;

	rec_init(&phone, 0, NULL, NULL, "", NULL);
	genconf_reach(&phone.p, &r->p, &reach);
	genconf_path_choose(&r->p, is_static, &reach, relay, &path);
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
	struct genconf_reach reach;
	struct genconf_path path;
	struct rec r, me;

	/* the config's owner on the same LAN (its gateway's MAC), IPv4 only */
	rec_init(&me, 0, "192.168.1.20/24", NULL, "203.0.113.5", mac_a);
	rec_init(&r, 51820, "192.168.1.10", NULL, "203.0.113.5", mac_a);
	genconf_reach(&me.p, &r.p, &reach);
	ck_assert_uint_ge(reach.n, 1);
	ck_assert(reach.first_lan);
	ck_assert(!reach.keepalive);
	ck_assert_str_eq(reach.first, "192.168.1.10:51820");
	genconf_path_choose(&r.p, false, &reach, true, &path);
	ck_assert_int_eq(path.via, GENCONF_DIRECT);
	ck_assert_str_eq(path.why, "shares this peer's LAN");
}
END_TEST

/* The text: header, [Interface], the hub, a relayed peer and a direct static one. */
START_TEST(test_write)
{
	static const char want[] =
	    "# wg-quick config for phone (network neta), wiresyncd revision 7\n"
	    "[Interface]\n"
	    "Address = 10.9.0.20/32, fd00::14/128\n"
	    "PrivateKey = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
	    "\n[Peer]\n"
	    "# the server's hub: no traffic; it sees this config's address, which lets the "
	    "relay recognise it\n"
	    "PublicKey = AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n"
	    "Endpoint = 127.0.0.1:51902\n"
	    "PersistentKeepalive = 25\n"
	    "\n[Peer]\n"
	    "# alice\n"
	    "# via the relay: alice is behind NAT\n"
	    "PublicKey = AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\n"
	    "AllowedIPs = 10.9.0.2/32\n"
	    "Endpoint = 127.0.0.1:51900\n"
	    "PersistentKeepalive = 25\n"
	    "\n[Peer]\n"
	    "# tablet (static)\n"
	    "PublicKey = AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=\n"
	    "AllowedIPs = 10.9.0.21/32\n"
	    "Endpoint = 198.51.100.9:51825\n"
	    "PersistentKeepalive = 25\n";
	uint8_t hub[WG_KEY_LEN], ka[WG_KEY_LEN], kt[WG_KEY_LEN];
	struct netaddr addr[2], aa, at;
	struct genconf_peer gp[2];
	struct rec phone, alice, tablet;
	char err[128], *buf = NULL;
	size_t len = 0;
	FILE *f;

	memset(hub, 1, sizeof(hub));
	memset(ka, 2, sizeof(ka));
	memset(kt, 3, sizeof(kt));
	ck_assert(netaddr_parse("10.9.0.20", false, &addr[0], err, sizeof(err)));
	ck_assert(netaddr_parse("fd00::14", false, &addr[1], err, sizeof(err)));
	ck_assert(netaddr_parse("10.9.0.2", false, &aa, err, sizeof(err)));
	ck_assert(netaddr_parse("10.9.0.21", false, &at, err, sizeof(err)));
	rec_init(&phone, 0, NULL, NULL, "", NULL);
	rec_init(&alice, 51820, "192.168.1.10/24", NULL, "203.0.113.5", mac_a);
	alice.p.name = (char *)"alice";
	rec_init(&tablet, 51825, NULL, NULL, "198.51.100.9", NULL);
	tablet.p.name = (char *)"tablet";
	gp[0] = (struct genconf_peer){ .rec = &alice.p, .key = ka, .allowed = &aa,
	    .n_allowed = 1 };
	gp[1] = (struct genconf_peer){ .rec = &tablet.p, .is_static = true, .key = kt,
	    .allowed = &at, .n_allowed = 1 };
	genconf_reach(&phone.p, &alice.p, &gp[0].reach);
	genconf_reach(&phone.p, &tablet.p, &gp[1].reach);
	{
		struct genconf_config c = { .name = "phone", .network = "neta", .revision = 7,
		    .address = addr, .n_address = 2,
		    .private_key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		    .relay = "127.0.0.1:51900", .hub = "127.0.0.1:51902", .hub_key = hub,
		    .peers = gp, .n_peers = 2 };
		ck_assert_ptr_nonnull(f = open_memstream(&buf, &len));
		ck_assert_int_eq(genconf_write(f, &c), 0);
		ck_assert_int_eq(fclose(f), 0);
		ck_assert_str_eq(buf, want);
		free(buf);
		/* without a key, relay or hub: the comment, the direct guess, the warning */
		c.private_key = NULL;
		c.relay = "";
		c.hub = "";
		c.listen_port = 51830;
		buf = NULL;
		ck_assert_ptr_nonnull(f = open_memstream(&buf, &len));
		ck_assert_int_eq(genconf_write(f, &c), 0);
		ck_assert_int_eq(fclose(f), 0);
	}
	ck_assert_msg(strstr(buf, "ListenPort = 51830\n# PrivateKey = (phone's private key; or "
	    "run genconf with --private-key FILE)\n\n[Peer]\n# alice\n") != NULL, "%s", buf);
	ck_assert_msg(strstr(buf, "# may be unreachable: alice is behind NAT and the server has "
	    "no relay (relay_listen)\n") != NULL, "%s", buf);
	ck_assert_msg(strstr(buf, "Endpoint = 203.0.113.5:51820\n") != NULL, "%s", buf);
	ck_assert(strstr(buf, "hub") == NULL);
	free(buf);
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

/* The console's QR code of a config (server/web_qr.c): the finder pattern in the corner
 * after the quiet zone, the size, nothing but attributes; too long a text is refused. */
START_TEST(test_qr_svg)
{
	char err[128], *buf = NULL, *big;
	size_t len = 0;
	FILE *f;

	ck_assert_ptr_nonnull(f = open_memstream(&buf, &len));
	/* 11 bytes: version 1 at level M (14 at most): 21 modules and 2 x 4 of quiet zone,
	 * 4 pixels each */
	ck_assert_int_eq(web_qr_svg(f, "[Interface]", 4, err, sizeof(err)), 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_msg(strncmp(buf, "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"qr\" "
	    "width=\"116\" height=\"116\" viewBox=\"0 0 29 29\"", 86) == 0, "%s", buf);
	/* the top left finder's first row: 7 dark modules from (4, 4) */
	ck_assert_msg(strstr(buf, "<path fill=\"#000\" d=\"M4 4h7v1h-7z") != NULL, "%s", buf);
	ck_assert(strstr(buf, "style") == NULL && strstr(buf, "<script") == NULL);
	ck_assert(strstr(buf, "M3 ") == NULL && strstr(buf, " 3h") == NULL);
	free(buf);
	/* past version 40 at level L (2953 bytes) */
	big = malloc(4001);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', 4000);
	big[4000] = '\0';
	buf = NULL;
	ck_assert_ptr_nonnull(f = open_memstream(&buf, &len));
	ck_assert_int_eq(web_qr_svg(f, big, 4, err, sizeof(err)), -1);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_str_eq(err, "too long for a QR code (4000 bytes)");
	ck_assert_uint_eq(len, 0);
	free(big);
	free(buf);
	/* 2500 bytes: more than level M holds (2331), a code at level L */
	big = malloc(2501);
	ck_assert_ptr_nonnull(big);
	memset(big, 'y', 2500);
	big[2500] = '\0';
	buf = NULL;
	ck_assert_ptr_nonnull(f = open_memstream(&buf, &len));
	ck_assert_int_eq(web_qr_svg(f, big, 4, err, sizeof(err)), 0);
	ck_assert_int_eq(fclose(f), 0);
	{
		/* a version near 40 (177 modules), not refused */
		const char *vb = strstr(buf, "viewBox=\"0 0 ");
		ck_assert_ptr_nonnull(vb);
		ck_assert_int_gt(atoi(vb + 13), 150);
	}
	free(big);
	free(buf);
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
	tcase_add_test(tc, test_write);
	tcase_add_test(tc, test_qr_svg);
	suite_add_tcase(s, tc);
	return s;
}
