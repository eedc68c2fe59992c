/* Tests for agent/endpoint.c: the order of a peer's candidate endpoints. When to move on
 * to the next one, and formatting, are in check_endpoint_next.c. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/endpoint.h"
#include "test/check_suites.h"

#define PORT 51820

static const uint8_t mac_a[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01 };
static const uint8_t mac_b[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0x02 };

/* A peer record with room for its strings; the lan_ips point into lan_text. */
struct peer {
	Wiresync__V1__Peer p;
	char lan_text[24][64];
	char *lan[24];
	char wan[64], observed[64];
	uint8_t lan_id[32];
};

/* Fills pr with listen_port, the NULL-terminated lan_ips, wan_ip, observed_endpoint (NULL:
 * empty) and lan_id (NULL: empty). */
static void
peer_init(struct peer *pr, uint32_t listen_port, const char *const *lan_ips, const char *wan,
    const char *observed, const uint8_t *lan_id, size_t lan_id_len)
{
	size_t n = 0;

	memset(pr, 0, sizeof(*pr));
	wiresync__v1__peer__init(&pr->p);
	pr->p.listen_port = listen_port;
	for (; lan_ips != NULL && lan_ips[n] != NULL; n++) {
		ck_assert_uint_lt(n, 24);
		snprintf(pr->lan_text[n], sizeof(pr->lan_text[n]), "%s", lan_ips[n]);
		pr->lan[n] = pr->lan_text[n];
	}
	pr->p.n_lan_ips = n;
	pr->p.lan_ips = pr->lan;
	snprintf(pr->wan, sizeof(pr->wan), "%s", wan != NULL ? wan : "");
	pr->p.wan_ip = pr->wan;
	snprintf(pr->observed, sizeof(pr->observed), "%s", observed != NULL ? observed : "");
	pr->p.observed_endpoint = pr->observed;
	if (lan_id != NULL) {
		ck_assert_uint_le(lan_id_len, sizeof(pr->lan_id));
		memcpy(pr->lan_id, lan_id, lan_id_len);
		pr->p.lan_id.data = pr->lan_id;
		pr->p.lan_id.len = lan_id_len;
	}
}

static struct endpoint_self
self_on(const uint8_t *lan_id, size_t len, bool v4, bool v6)
{
	struct endpoint_self s = { .lan_id = lan_id, .lan_id_len = len, .has_v4 = v4,
		.has_v6 = v6 };

	return s;
}

/* Asserts out holds exactly the NULL-terminated want, in order, and each one's kind: a
 * want entry starting with "lan " is expected as a LAN address (lan set too), one starting
 * with "obs " as observed_endpoint, any other as the WAN guess. */
static void
assert_list(const struct endpoint_list *out, const char *const *want)
{
	char buf[64];
	size_t n;

	for (n = 0; want[n] != NULL; n++) {
		bool lan = strncmp(want[n], "lan ", 4) == 0;
		bool obs = strncmp(want[n], "obs ", 4) == 0;
		enum peerpath_kind kind = lan ? PEERPATH_KIND_LAN : obs ? PEERPATH_KIND_OBSERVED :
		    PEERPATH_KIND_WAN;
		ck_assert_msg(n < out->n, "only %zu candidates, want more: %s", out->n, want[n]);
		ck_assert_str_eq(endpoint_format(&out->addr[n], buf, sizeof(buf)),
		    lan || obs ? want[n] + 4 : want[n]);
		ck_assert_msg(out->lan[n] == lan, "candidate %zu (%s): lan is %d", n, buf,
		    out->lan[n]);
		ck_assert_msg(out->kind[n] == kind, "candidate %zu (%s): kind %s, want %s", n, buf,
		    peerpath_kind_name(out->kind[n]), peerpath_kind_name(kind));
	}
	if (out->n != n)
		ck_abort_msg("%zu candidates, want %zu; extra first %s", out->n, n,
		    endpoint_format(&out->addr[n], buf, sizeof(buf)));
}

static const char *const lan_both[] = { "192.168.1.5/24", "fd00:1::5/64", NULL };

/* --- core ------------------------------------------------------------------------------ */

START_TEST(test_same_lan_lan_first_v6_first)
{
	static const char *const want[] = { "lan [fd00:1::5]:51820", "lan 192.168.1.5:51820",
		"obs 203.0.113.7:40000", "203.0.113.7:51820", NULL };
	struct endpoint_self self = self_on(mac_a, 6, true, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, PORT, lan_both, "203.0.113.7", "203.0.113.7:40000", mac_a, 6);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

START_TEST(test_same_lan_without_our_v6)
{
	static const char *const want[] = { "lan 192.168.1.5:51820", "obs 203.0.113.7:40000",
		"203.0.113.7:51820", "lan [fd00:1::5]:51820", NULL };
	struct endpoint_self self = self_on(mac_a, 6, true, false);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, PORT, lan_both, "203.0.113.7", "203.0.113.7:40000", mac_a, 6);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

/* No lan_id yet (gateway MAC unknown), but the server saw both from one public address:
 * behind the same NAT, whose hairpin path rarely works, so LAN addresses come first. */
START_TEST(test_same_public_address_lan_first)
{
	static const char *const want[] = { "lan 192.168.1.5:51820", "203.0.113.7:51820", NULL };
	static const char *const lan[] = { "192.168.1.5/24", NULL };
	struct endpoint_self self = self_on(NULL, 0, true, false);
	struct endpoint_list out;
	struct peer pr;

	self.wan_ip = "203.0.113.7";
	peer_init(&pr, PORT, lan, "203.0.113.7", NULL, NULL, 0);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

START_TEST(test_other_public_address_no_lan)
{
	static const char *const want[] = { "203.0.113.7:51820", NULL };
	static const char *const lan[] = { "192.168.1.5/24", NULL };
	struct endpoint_self self = self_on(NULL, 0, true, false);
	struct endpoint_list out;
	struct peer pr;

	self.wan_ip = "198.51.100.9";
	peer_init(&pr, PORT, lan, "203.0.113.7", NULL, NULL, 0);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

START_TEST(test_same_lan_uses_listen_port)
{
	static const char *const lan[] = { "192.168.1.5", NULL };
	static const char *const want[] = { "lan 192.168.1.5:7777", NULL };
	struct endpoint_self self = self_on(mac_a, 6, true, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, 7777, lan, NULL, NULL, mac_a, 6);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

START_TEST(test_other_lan_observed_then_wan)
{
	static const char *const want[] = { "obs 203.0.113.7:40000", "203.0.113.7:51820", NULL };
	struct endpoint_self self = self_on(mac_a, 6, true, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, PORT, lan_both, "203.0.113.7", "203.0.113.7:40000", mac_b, 6);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

START_TEST(test_other_lan_wan_only)
{
	static const char *const want[] = { "198.51.100.9:51820", NULL };
	struct endpoint_self self = self_on(mac_a, 6, true, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, PORT, lan_both, "198.51.100.9", NULL, mac_b, 6);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

START_TEST(test_observed_v6)
{
	static const char *const want[] = { "obs [2001:db8::7]:40000", "198.51.100.9:51820", NULL };
	struct endpoint_self self = self_on(NULL, 0, true, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, PORT, NULL, "198.51.100.9", "[2001:db8::7]:40000", mac_b, 6);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

START_TEST(test_keepalive_other_lan)
{
	struct endpoint_self self = self_on(mac_a, 6, true, false);
	struct peer pr;

	peer_init(&pr, PORT, lan_both, "203.0.113.7", NULL, mac_b, 6);
	ck_assert(endpoint_needs_keepalive(&pr.p, &self));
}
END_TEST

START_TEST(test_keepalive_same_lan)
{
	struct endpoint_self self = self_on(mac_a, 6, true, false);
	struct peer pr;

	peer_init(&pr, PORT, lan_both, "203.0.113.7", NULL, mac_a, 6);
	ck_assert(!endpoint_needs_keepalive(&pr.p, &self));
}
END_TEST

/* --- limits ---------------------------------------------------------------------------- */

START_TEST(test_empty_lan_id_both_not_same_lan)
{
	static const char *const want[] = { "203.0.113.7:51820", NULL };
	struct endpoint_self self = self_on(NULL, 0, true, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, PORT, lan_both, "203.0.113.7", NULL, NULL, 0);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

START_TEST(test_empty_lan_id_needs_keepalive)
{
	struct endpoint_self self = self_on(NULL, 0, true, true);
	struct peer pr;

	peer_init(&pr, PORT, lan_both, "203.0.113.7", NULL, NULL, 0);
	ck_assert(endpoint_needs_keepalive(&pr.p, &self));
}
END_TEST

START_TEST(test_empty_lan_id_ours_non_null)
{
	/* our lan_id pointer set but zero length, peer's empty: still no shared LAN */
	static const char *const want[] = { "203.0.113.7:51820", NULL };
	struct endpoint_self self = self_on(mac_a, 0, true, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, PORT, lan_both, "203.0.113.7", NULL, NULL, 0);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

START_TEST(test_lan_id_prefix_not_same_lan)
{
	static const char *const want[] = { "203.0.113.7:51820", NULL };
	struct endpoint_self self = self_on(mac_a, 6, true, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, PORT, lan_both, "203.0.113.7", NULL, mac_a, 3);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

START_TEST(test_duplicate_observed_and_wan)
{
	static const char *const want[] = { "obs 203.0.113.7:51820", NULL };
	struct endpoint_self self = self_on(mac_a, 6, true, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, PORT, NULL, "203.0.113.7", "203.0.113.7:51820", mac_b, 6);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

START_TEST(test_duplicate_lan_ips)
{
	static const char *const lan[] = { "192.168.1.5/24", "192.168.1.5", "192.168.1.6",
		"192.168.1.5/32", NULL };
	static const char *const want[] = { "lan 192.168.1.5:51820", "lan 192.168.1.6:51820",
		"203.0.113.7:51820", NULL };
	struct endpoint_self self = self_on(mac_a, 6, true, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, PORT, lan, "203.0.113.7", NULL, mac_a, 6);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

START_TEST(test_lan_ip_equal_to_wan_kept_as_lan)
{
	/* the same address from the LAN list and from wan_ip: the first (LAN) one stays */
	static const char *const lan[] = { "192.168.1.5", NULL };
	static const char *const want[] = { "lan 192.168.1.5:51820", NULL };
	struct endpoint_self self = self_on(mac_a, 6, true, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, PORT, lan, "192.168.1.5", NULL, mac_a, 6);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

START_TEST(test_family_we_lack_last_v4_only)
{
	static const char *const want[] = { "198.51.100.9:51820", "obs [2001:db8::7]:40000", NULL };
	struct endpoint_self self = self_on(NULL, 0, true, false);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, PORT, NULL, "198.51.100.9", "[2001:db8::7]:40000", mac_b, 6);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

START_TEST(test_family_we_lack_last_v6_only)
{
	static const char *const want[] = { "[2001:db8::9]:51820", "obs 198.51.100.9:40000", NULL };
	struct endpoint_self self = self_on(NULL, 0, false, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, PORT, NULL, "2001:db8::9", "198.51.100.9:40000", mac_b, 6);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

START_TEST(test_listen_port_zero_no_candidates)
{
	struct endpoint_self self = self_on(mac_a, 6, true, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, 0, lan_both, "203.0.113.7", "203.0.113.7:40000", mac_a, 6);
	memset(&out, 0xaa, sizeof(out));
	endpoint_candidates(&pr.p, &self, &out);
	ck_assert_uint_eq(out.n, 0);
}
END_TEST

START_TEST(test_listen_port_too_large_no_candidates)
{
	struct endpoint_self self = self_on(mac_a, 6, true, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, 65536, lan_both, "203.0.113.7", "203.0.113.7:40000", mac_a, 6);
	endpoint_candidates(&pr.p, &self, &out);
	ck_assert_uint_eq(out.n, 0);
}
END_TEST

START_TEST(test_listen_port_max)
{
	static const char *const want[] = { "203.0.113.7:65535", NULL };
	struct endpoint_self self = self_on(NULL, 0, true, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, 65535, NULL, "203.0.113.7", NULL, NULL, 0);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

START_TEST(test_endpoint_max_cap)
{
	const char *lan[21];
	char text[20][24];
	struct endpoint_self self = self_on(mac_a, 6, true, true);
	struct endpoint_list out;
	struct peer pr;
	char buf[64], want[64];

	for (int i = 0; i < 20; i++) {
		snprintf(text[i], sizeof(text[i]), "192.168.1.%d", i + 1);
		lan[i] = text[i];
	}
	lan[20] = NULL;
	peer_init(&pr, PORT, lan, "203.0.113.7", "203.0.113.7:40000", mac_a, 6);
	endpoint_candidates(&pr.p, &self, &out);
	ck_assert_uint_eq(out.n, ENDPOINT_MAX);
	for (int i = 0; i < ENDPOINT_MAX; i++) {
		snprintf(want, sizeof(want), "192.168.1.%d:51820", i + 1);
		ck_assert_str_eq(endpoint_format(&out.addr[i], buf, sizeof(buf)), want);
		ck_assert(out.lan[i]);
	}
}
END_TEST

/* Duplicates are skipped, so they must not use up room that a distinct address needs. */
START_TEST(test_duplicates_do_not_fill_cap)
{
	const char *lan[ENDPOINT_MAX + 2];
	static const char *const want[] = { "lan 192.168.1.5:51820", "lan 192.168.1.6:51820",
		"203.0.113.7:51820", NULL };
	struct endpoint_self self = self_on(mac_a, 6, true, true);
	struct endpoint_list out;
	struct peer pr;

	for (int i = 0; i < ENDPOINT_MAX; i++)
		lan[i] = "192.168.1.5";
	lan[ENDPOINT_MAX] = "192.168.1.6";
	lan[ENDPOINT_MAX + 1] = NULL;
	peer_init(&pr, PORT, lan, "203.0.113.7", NULL, mac_a, 6);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

/* --- errors ---------------------------------------------------------------------------- */

START_TEST(test_unparsable_lan_skipped)
{
	static const char *const lan[] = { "bogus", "192.168.1.300", "", "192.168.1.5", NULL };
	static const char *const want[] = { "lan 192.168.1.5:51820", "203.0.113.7:51820", NULL };
	struct endpoint_self self = self_on(mac_a, 6, true, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, PORT, lan, "203.0.113.7", NULL, mac_a, 6);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

START_TEST(test_observed_without_port_skipped)
{
	static const char *const want[] = { "203.0.113.7:51820", NULL };
	struct endpoint_self self = self_on(NULL, 0, true, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, PORT, NULL, "203.0.113.7", "198.51.100.1", mac_b, 6);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

START_TEST(test_observed_port_zero_skipped)
{
	static const char *const want[] = { "203.0.113.7:51820", NULL };
	struct endpoint_self self = self_on(NULL, 0, true, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, PORT, NULL, "203.0.113.7", "198.51.100.1:0", mac_b, 6);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

START_TEST(test_observed_port_too_large_skipped)
{
	static const char *const want[] = { "203.0.113.7:51820", NULL };
	struct endpoint_self self = self_on(NULL, 0, true, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, PORT, NULL, "203.0.113.7", "198.51.100.1:65536", mac_b, 6);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

START_TEST(test_observed_port_trailing_junk_skipped)
{
	static const char *const want[] = { "203.0.113.7:51820", NULL };
	struct endpoint_self self = self_on(NULL, 0, true, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, PORT, NULL, "203.0.113.7", "198.51.100.1:80x", mac_b, 6);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

START_TEST(test_observed_v6_without_brackets_skipped)
{
	static const char *const want[] = { "203.0.113.7:51820", NULL };
	struct endpoint_self self = self_on(NULL, 0, true, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, PORT, NULL, "203.0.113.7", "2001:db8::7:4000", mac_b, 6);
	endpoint_candidates(&pr.p, &self, &out);
	/* "2001:db8::7:4000" is itself a whole IPv6 address, or host 2001:db8::7 port 4000:
	 * ambiguous, not "[v6]:port", so it must not become a candidate */
	assert_list(&out, want);
}
END_TEST

START_TEST(test_observed_empty_brackets_skipped)
{
	static const char *const want[] = { "203.0.113.7:51820", NULL };
	struct endpoint_self self = self_on(NULL, 0, true, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, PORT, NULL, "203.0.113.7", "[]:40000", mac_b, 6);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

START_TEST(test_wan_unparsable_skipped)
{
	static const char *const want[] = { "obs 198.51.100.1:40000", NULL };
	struct endpoint_self self = self_on(NULL, 0, true, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, PORT, NULL, "203.0.113.7:51820", "198.51.100.1:40000", mac_b, 6);
	endpoint_candidates(&pr.p, &self, &out);
	assert_list(&out, want);
}
END_TEST

START_TEST(test_nothing_known_no_candidates)
{
	struct endpoint_self self = self_on(mac_a, 6, true, true);
	struct endpoint_list out;
	struct peer pr;

	peer_init(&pr, PORT, lan_both, NULL, NULL, mac_b, 6);
	endpoint_candidates(&pr.p, &self, &out);
	ck_assert_uint_eq(out.n, 0);
}
END_TEST

Suite *
endpoint_suite(void)
{
	Suite *s = suite_create("endpoint");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_test(tc, test_same_lan_lan_first_v6_first);
	tcase_add_test(tc, test_same_lan_without_our_v6);
	tcase_add_test(tc, test_same_lan_uses_listen_port);
	tcase_add_test(tc, test_same_public_address_lan_first);
	tcase_add_test(tc, test_other_public_address_no_lan);
	tcase_add_test(tc, test_other_lan_observed_then_wan);
	tcase_add_test(tc, test_other_lan_wan_only);
	tcase_add_test(tc, test_observed_v6);
	tcase_add_test(tc, test_keepalive_other_lan);
	tcase_add_test(tc, test_keepalive_same_lan);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_empty_lan_id_both_not_same_lan);
	tcase_add_test(tc, test_empty_lan_id_needs_keepalive);
	tcase_add_test(tc, test_empty_lan_id_ours_non_null);
	tcase_add_test(tc, test_lan_id_prefix_not_same_lan);
	tcase_add_test(tc, test_duplicate_observed_and_wan);
	tcase_add_test(tc, test_duplicate_lan_ips);
	tcase_add_test(tc, test_lan_ip_equal_to_wan_kept_as_lan);
	tcase_add_test(tc, test_family_we_lack_last_v4_only);
	tcase_add_test(tc, test_family_we_lack_last_v6_only);
	tcase_add_test(tc, test_listen_port_zero_no_candidates);
	tcase_add_test(tc, test_listen_port_too_large_no_candidates);
	tcase_add_test(tc, test_listen_port_max);
	tcase_add_test(tc, test_endpoint_max_cap);
	tcase_add_test(tc, test_duplicates_do_not_fill_cap);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, test_unparsable_lan_skipped);
	tcase_add_test(tc, test_observed_without_port_skipped);
	tcase_add_test(tc, test_observed_port_zero_skipped);
	tcase_add_test(tc, test_observed_port_too_large_skipped);
	tcase_add_test(tc, test_observed_port_trailing_junk_skipped);
	tcase_add_test(tc, test_observed_v6_without_brackets_skipped);
	tcase_add_test(tc, test_observed_empty_brackets_skipped);
	tcase_add_test(tc, test_wan_unparsable_skipped);
	tcase_add_test(tc, test_nothing_known_no_candidates);
	suite_add_tcase(s, tc);
	return s;
}
