/* Tests for agent/agent_path.c, the glue between peerpath and the interface: which endpoint
 * a peer gets on each path, kicks, rekeys and keepalive; the relay address an Update reply
 * names; the hub as a peer; the paths file --show reads. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent_impl.h"
#include "agent/agentconf.h"
#include "agent/endpoint.h"
#include "agent/path.h"
#include "agent/reconcile.h"
#include "test/check_suites.h"

#define T0 1000

static struct agentconf conf;
static struct agent ag;
static struct known kn;
static Wiresync__V1__Peer rec;
static char wan[] = "198.51.100.7";

static void
ss_set(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET, ip, &in->sin_addr), 1);
}

static struct wg_peer
wp_at(const struct sockaddr_storage *ep, int64_t hs, uint64_t rx)
{
	struct wg_peer wp;

	memset(&wp, 0, sizeof(wp));
	memcpy(&wp.endpoint, ep, sizeof(struct sockaddr_in));
	wp.flags = WG_PEER_HAS_ENDPOINT;
	wp.last_handshake_s = hs;
	wp.rx_bytes = rx;
	return wp;
}

/* One peer, online, whose only candidate is its WAN guess 198.51.100.7:51820; a relay at
 * 203.0.113.10:3478. */
static void
setup(void)
{
	struct endpoint_self me = { .has_v4 = true };

	memset(&conf, 0, sizeof(conf));
	conf.keepalive_s = 25;
	conf.handshake_timeout_s = 3;
	memset(&ag, 0, sizeof(ag));
	ag.conf = &conf;
	memset(ag.self.key, 0x11, WG_KEY_LEN);
	ss_set(&ag.relay, "203.0.113.10", 3478);
	wiresync__v1__peer__init(&rec);
	rec.listen_port = 51820;
	rec.wan_ip = wan;
	rec.online = true;
	memset(&kn, 0, sizeof(kn));
	kn.rec = &rec;
	memset(kn.id.key, 0x22, WG_KEY_LEN);
	snprintf(kn.id.name, sizeof(kn.id.name), "h2");
	endpoint_candidates(&rec, &me, &kn.cands);
	kn.list_gen = 1;
	ag.known = &kn;
	ag.n_known = 1;
}

static void
teardown(void)
{
}

static void
assert_endpoint(const struct desired_peer *d, const char *ip, uint16_t port)
{
	struct sockaddr_storage want;

	ss_set(&want, ip, port);
	ck_assert(d->has_endpoint);
	ck_assert(path_addr_equal(&d->endpoint, &want));
}

/* --- core ------------------------------------------------------------------------------ */

/* The walk's one candidate, then the relay, a probe (rekeyed), and direct once answered. */
START_TEST(test_trial_relay_probe_direct)
{
	struct sockaddr_storage cand;
	struct desired_peer d;
	struct wg_peer wp;
	int64_t next, t;

	ss_set(&cand, "198.51.100.7", 51820);
	memset(&d, 0, sizeof(d));
	next = agent_path_peer(&ag, &kn, NULL, T0, &d);
	assert_endpoint(&d, "198.51.100.7", 51820);
	ck_assert(d.kick);
	ck_assert(d.rekey);
	ck_assert_uint_eq(d.keepalive_s, 25);
	ck_assert_str_eq(kn.reason, "trying wan");
	ck_assert_int_eq(next, T0 + 1);
	/* no handshake for handshake_timeout_s: the relay */
	wp = wp_at(&cand, 0, 0);
	memset(&d, 0, sizeof(d));
	next = agent_path_peer(&ag, &kn, &wp, T0 + 3, &d);
	assert_endpoint(&d, "203.0.113.10", 3478);
	ck_assert(d.kick);
	ck_assert_uint_eq(d.keepalive_s, 25);
	ck_assert_str_eq(kn.reason, "relay");
	ck_assert(d.rekey);
	/* the next second on the pair's 5 s probe grid */
	ck_assert_int_ge(next, T0 + 3 + 1);
	ck_assert_int_le(next, T0 + 3 + 5);
	/* on the relay and relayed: handshakes there are no news; then the probe */
	wp = wp_at(&ag.relay, T0 + 4, 500);
	t = next;
	memset(&d, 0, sizeof(d));
	next = agent_path_peer(&ag, &kn, &wp, t, &d);
	assert_endpoint(&d, "198.51.100.7", 51820);
	ck_assert(d.kick);
	ck_assert(d.rekey);
	ck_assert_str_eq(kn.reason, "probing wan");
	ck_assert_int_eq(next, t + 1);
	/* a relayed packet pulled WireGuard back: the candidate again, but no second rekey */
	wp = wp_at(&ag.relay, T0 + 4, 600);
	memset(&d, 0, sizeof(d));
	agent_path_peer(&ag, &kn, &wp, t, &d);
	assert_endpoint(&d, "198.51.100.7", 51820);
	ck_assert(!d.rekey);
	ck_assert_str_eq(kn.reason, "probing wan");
	/* the candidate answers: a new handshake there */
	wp = wp_at(&cand, t + 1, 0);
	memset(&d, 0, sizeof(d));
	agent_path_peer(&ag, &kn, &wp, t + 1, &d);
	ck_assert_str_eq(kn.reason, "wan");
	ck_assert(!d.rekey);
	assert_endpoint(&d, "198.51.100.7", 51820);
}
END_TEST

/* Direct, but WireGuard followed a relayed packet back to the relay: the candidate is
 * written again, and soon; a mapping that is not the relay is kept (roamed). */
START_TEST(test_direct_relayed_written_back_roamed_kept)
{
	struct sockaddr_storage cand, mapped;
	struct desired_peer d;
	struct wg_peer wp;
	int64_t next;

	ss_set(&cand, "198.51.100.7", 51820);
	ss_set(&mapped, "198.51.100.7", 40001);
	memset(&d, 0, sizeof(d));
	agent_path_peer(&ag, &kn, NULL, T0, &d);
	wp = wp_at(&cand, T0, 100);
	agent_path_peer(&ag, &kn, &wp, T0 + 1, &d);
	ck_assert_str_eq(kn.reason, "wan");
	wp = wp_at(&ag.relay, T0 + 1, 200);
	memset(&d, 0, sizeof(d));
	next = agent_path_peer(&ag, &kn, &wp, T0 + 2, &d);
	assert_endpoint(&d, "198.51.100.7", 51820);
	ck_assert_int_eq(next, T0 + 3);
	/* the peer's NAT maps it elsewhere: WireGuard roamed there, and it stays */
	wp = wp_at(&mapped, T0 + 2, 300);
	memset(&d, 0, sizeof(d));
	agent_path_peer(&ag, &kn, &wp, T0 + 3, &d);
	ck_assert(path_addr_equal(&d.endpoint, &mapped) || !d.has_endpoint);
	ck_assert_str_eq(kn.reason, "roamed");
}
END_TEST

/* A mapping WireGuard follows the peer to becomes the first candidate (the hub published
 * it): that is the path at once, with no walk and no rekey. */
START_TEST(test_learned_mapping_confirms_trial)
{
	struct sockaddr_storage cand, mapped;
	struct desired_peer d;
	struct wg_peer wp;
	struct endpoint_self me = { .has_v4 = true };
	char obs[] = "198.51.100.7:40001";

	ss_set(&cand, "198.51.100.7", 51820);
	ss_set(&mapped, "198.51.100.7", 40001);
	memset(&d, 0, sizeof(d));
	agent_path_peer(&ag, &kn, NULL, T0, &d);
	wp = wp_at(&mapped, T0, 100);
	agent_path_peer(&ag, &kn, &wp, T0 + 1, &d);
	ck_assert_str_eq(kn.reason, "roamed");
	/* the record now names the mapping: a new list, observed first */
	rec.observed_endpoint = obs;
	endpoint_candidates(&rec, &me, &kn.cands);
	kn.list_gen++;
	memset(&d, 0, sizeof(d));
	agent_path_peer(&ag, &kn, &wp, T0 + 10, &d);
	ck_assert_str_eq(kn.reason, "observed");
	ck_assert(!d.rekey);
	assert_endpoint(&d, "198.51.100.7", 40001);
	rec.observed_endpoint = (char *)"";
}
END_TEST

/* An offline peer is not stepped: its first candidate, no trial running. */
START_TEST(test_offline_not_stepped)
{
	struct desired_peer d;
	int64_t next;

	rec.online = false;
	memset(&d, 0, sizeof(d));
	next = agent_path_peer(&ag, &kn, NULL, T0, &d);
	assert_endpoint(&d, "198.51.100.7", 51820);
	ck_assert_int_eq(next, 0);
	ck_assert(!kn.pp.started);
	next = agent_path_peer(&ag, &kn, NULL, T0 + 100, &d);
	ck_assert_int_eq(next, 0);
	ck_assert(!kn.pp.started);
}
END_TEST

/* No candidate and no relay: nothing to write; the relay appearing puts the peer on it. */
START_TEST(test_no_candidate_relay_later)
{
	struct desired_peer d;

	rec.listen_port = 0;
	memset(&kn.cands, 0, sizeof(kn.cands));
	memset(&ag.relay, 0, sizeof(ag.relay));
	memset(&d, 0, sizeof(d));
	agent_path_peer(&ag, &kn, NULL, T0, &d);
	ck_assert(!d.has_endpoint);
	ss_set(&ag.relay, "203.0.113.10", 3478);
	agent_path_peer(&ag, &kn, NULL, T0 + 1, &d);
	assert_endpoint(&d, "203.0.113.10", 3478);
	ck_assert_str_eq(kn.reason, "relay");
}
END_TEST

/* --- the relay and the hub from the reply ------------------------------------------------ */

START_TEST(test_reply_relay_explicit_unspecified_none)
{
	Wiresync__V1__UpdateReply r = WIRESYNC__V1__UPDATE_REPLY__INIT;
	struct sockaddr_storage want;
	char ep[] = "192.0.2.9:3478", any[] = "0.0.0.0:3479", bad[] = "relay.example:1";

	memset(&ag.relay, 0, sizeof(ag.relay));
	r.relay_endpoint = ep;
	ck_assert(agent_paths_from_reply(&ag, NULL, &r));
	ss_set(&want, "192.0.2.9", 3478);
	ck_assert(path_addr_equal(&ag.relay, &want));
	ck_assert(!agent_paths_from_reply(&ag, NULL, &r));
	/* unspecified: where we reached the server */
	ss_set(&ag.server_addr, "203.0.113.10", 7443);
	r.relay_endpoint = any;
	ck_assert(agent_paths_from_reply(&ag, NULL, &r));
	ss_set(&want, "203.0.113.10", 3479);
	ck_assert(path_addr_equal(&ag.relay, &want));
	/* unparsable, then none: no relay */
	r.relay_endpoint = bad;
	ck_assert(agent_paths_from_reply(&ag, NULL, &r));
	ck_assert_int_eq(ag.relay.ss_family, 0);
	r.relay_endpoint = (char *)"";
	ck_assert(!agent_paths_from_reply(&ag, NULL, &r));
	/* a hub port without a server certificate to take the key from: no hub */
	r.hub_port = 51900;
	agent_paths_from_reply(&ag, NULL, &r);
	ck_assert(!ag.hub.on);
}
END_TEST

START_TEST(test_hub_peer_and_collisions)
{
	struct desired_peer d;

	ck_assert(!agent_hub_peer(&ag, &d));
	ag.hub.on = true;
	memset(ag.hub.key, 0x33, WG_KEY_LEN);
	ss_set(&ag.hub.endpoint, "203.0.113.10", 51900);
	ck_assert(agent_hub_peer(&ag, &d));
	ck_assert_mem_eq(d.key, ag.hub.key, WG_KEY_LEN);
	assert_endpoint(&d, "203.0.113.10", 51900);
	ck_assert_uint_eq(d.n_allowed, 0);
	ck_assert_uint_eq(d.keepalive_s, 25);
	/* a known peer's key: never */
	memset(ag.hub.key, 0x22, WG_KEY_LEN);
	ck_assert(!agent_hub_peer(&ag, &d));
	ck_assert(ag.hub.collides);
	/* ours: never */
	memset(ag.hub.key, 0x11, WG_KEY_LEN);
	ck_assert(!agent_hub_peer(&ag, &d));
	memset(ag.hub.key, 0x33, WG_KEY_LEN);
	ck_assert(agent_hub_peer(&ag, &d));
	ck_assert(!ag.hub.collides);
}
END_TEST

START_TEST(test_paths_file_round_trip)
{
	char dir[] = "/tmp/check_agent_path.XXXXXX", buf[64];
	struct desired_peer d;
	uint8_t other[WG_KEY_LEN];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(ag.paths_path, sizeof(ag.paths_path), "%s/paths-wg0", dir);
	memset(&d, 0, sizeof(d));
	agent_path_peer(&ag, &kn, NULL, T0, &d);
	ck_assert(ag.paths_dirty);
	agent_paths_save(&ag);
	ck_assert(!ag.paths_dirty);
	ck_assert(agent_paths_lookup(ag.paths_path, kn.id.key, buf, sizeof(buf)));
	ck_assert_str_eq(buf, "trying wan");
	memset(other, 0x44, WG_KEY_LEN);
	ck_assert(!agent_paths_lookup(ag.paths_path, other, buf, sizeof(buf)));
	unlink(ag.paths_path);
	rmdir(dir);
	ck_assert(!agent_paths_lookup(ag.paths_path, kn.id.key, buf, sizeof(buf)));
}
END_TEST

Suite *
agent_path_suite(void)
{
	Suite *s = suite_create("agent_path");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_trial_relay_probe_direct);
	tcase_add_test(tc, test_direct_relayed_written_back_roamed_kept);
	tcase_add_test(tc, test_offline_not_stepped);
	tcase_add_test(tc, test_learned_mapping_confirms_trial);
	tcase_add_test(tc, test_no_candidate_relay_later);
	tcase_add_test(tc, test_reply_relay_explicit_unspecified_none);
	tcase_add_test(tc, test_hub_peer_and_collisions);
	tcase_add_test(tc, test_paths_file_round_trip);
	suite_add_tcase(s, tc);
	return s;
}
