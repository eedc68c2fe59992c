/* Unit tests for server/relay.c, what it refuses: strangers, reflection toward silent
 * hosts, other networks, removed and resynced hosts, loops and index takeovers. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "server/relay.h"
#include "test/check_suites.h"
#include "test/relaytest.h"

START_TEST(test_stranger_refused)
{
	struct relay *r = world(NULL);
	struct relay_addr a1 = A4("10.0.0.1", 40001), a2 = A4("10.0.0.2", 40002), d;
	struct relay_addr x = A4("198.51.100.9", 40001);

	session(r, &a1, &a2, 0);
	ck_assert_int_eq(send_init(r, &x, 0x9999, 2, 0, &d), RELAY_DROP_STRANGER);
	ck_assert_int_eq(send_data(r, &x, 0x2222, 0, &d), RELAY_DROP_STRANGER);
	ck_assert_int_eq(send_resp(r, &x, 0x9998, 0x1111, 1, 0, &d), RELAY_DROP_STRANGER);
	relay_del(r);
}
END_TEST

START_TEST(test_no_reflection_to_silent_hosts)
{
	struct relay *r = world(NULL);
	struct relay_addr a1 = A4("10.0.0.1", 40001), d;
	uint8_t m[RELAY_COOKIE_LEN];

	/* 2's IP is registered, but 2 never sent: nothing goes its way */
	for (uint32_t i = 0; i < 5; i++)
		ck_assert_int_eq(send_init(r, &a1, i, 2, 0, &d), RELAY_DROP_NO_ROUTE);
	/* replies to indices never seen are dropped, whatever they claim */
	ck_assert_int_eq(send_resp(r, &a1, 5, 0x4242, 3, 0, &d), RELAY_DROP_UNKNOWN_INDEX);
	ck_assert_int_eq(relay_route(r, m, mk_data(m, 3, 0x4242, sizeof(m)), &a1, 0, &d),
	    RELAY_DROP_UNKNOWN_INDEX);
	ck_assert_int_eq(send_data(r, &a1, 0x4242, 0, &d), RELAY_DROP_UNKNOWN_INDEX);
	relay_del(r);
}
END_TEST

START_TEST(test_transport_needs_completed_handshake)
{
	struct relay *r = world(NULL);
	struct relay_addr a1 = A4("10.0.0.1", 40001), a2 = A4("10.0.0.2", 40002), d;

	ck_assert_int_eq(send_init(r, &a2, 0x20, 1, 0, &d), RELAY_DROP_NO_ROUTE);
	ck_assert_int_eq(send_init(r, &a1, 0x10, 2, 0, &d), RELAY_FORWARD);
	/* 2 has the initiation's index but no response went through */
	ck_assert_int_eq(send_data(r, &a2, 0x10, 0, &d), RELAY_DROP_UNKNOWN_INDEX);
	relay_del(r);
}
END_TEST

START_TEST(test_networks_kept_apart)
{
	struct relay *r = world(NULL);
	struct relay_addr i4 = A4("10.0.0.4", 0), a4 = A4("10.0.0.4", 4), d;
	struct relay_addr a1 = A4("10.0.0.1", 1), a2 = A4("10.0.0.2", 2);
	uint8_t k[32];

	key_of(4, k);
	ck_assert_int_eq(relay_host_set(r, k, "other", &i4, 1), 0);
	/* 4 names 1 by MAC1, 1 names 4: neither key is tried for a sender of another network */
	ck_assert_int_eq(send_init(r, &a4, 0x40, 1, 0, &d), RELAY_DROP_MAC1);
	ck_assert_int_eq(send_init(r, &a1, 0x10, 4, 0, &d), RELAY_DROP_MAC1);
	/* a response naming a host of another network does not complete a handshake */
	ck_assert_int_eq(send_init(r, &a2, 0x20, 1, 0, &d), RELAY_DROP_NO_ROUTE);
	ck_assert_int_eq(send_init(r, &a1, 0x11, 2, 0, &d), RELAY_FORWARD);
	ck_assert_int_eq(send_resp(r, &a2, 0x22, 0x11, 4, 0, &d), RELAY_DROP_MAC1);
	ck_assert_int_eq(send_resp(r, &a2, 0x22, 0x11, 1, 0, &d), RELAY_FORWARD);
	/* moving 1 to the other network ends its sessions */
	key_of(1, k);
	ck_assert_int_eq(relay_host_set(r, k, "other", &(struct relay_addr){ .family = AF_INET,
	    .ip = { 10, 0, 0, 1 } }, 1), 0);
	ck_assert_int_eq(send_data(r, &a2, 0x11, 0, &d), RELAY_DROP_UNKNOWN_INDEX);
	relay_del(r);
}
END_TEST

START_TEST(test_removed_host_tunnel_stops)
{
	struct relay *r = world(NULL);
	struct relay_addr a1 = A4("10.0.0.1", 40001), a2 = A4("10.0.0.2", 40002), d;
	struct relay_stats st;
	uint8_t k[32];

	session(r, &a1, &a2, 0);
	key_of(2, k);
	ck_assert_int_eq(relay_host_remove(r, k), 0);
	ck_assert_int_eq(send_data(r, &a1, 0x2222, 1, &d), RELAY_DROP_UNKNOWN_INDEX);
	ck_assert_int_eq(send_data(r, &a2, 0x1111, 1, &d), RELAY_DROP_UNKNOWN_INDEX);
	/* nor can it start again: its MAC1 key and IP are gone */
	ck_assert_int_eq(send_init(r, &a1, 0x1112, 2, 1, &d), RELAY_DROP_MAC1);
	ck_assert_int_eq(send_init(r, &a2, 0x2223, 1, 1, &d), RELAY_DROP_STRANGER);
	relay_stats_get(r, &st);
	ck_assert_uint_eq(st.hosts, 2);
	ck_assert_uint_eq(st.entries, 0);
	relay_del(r);
}
END_TEST

/* Found by fuzz_relay: an initiation from a shared IP (sender not known yet) outlived
 * the removal of both hosts behind that IP, and a cookie reply still went there. */
START_TEST(test_removed_shared_ip_hosts_unreachable)
{
	struct relay *r = relay_new(NULL);
	struct relay_addr nat = A4("192.0.2.7", 0), ib = A4("10.0.0.2", 0);
	struct relay_addr a1 = A4("192.0.2.7", 1001), a2 = A4("10.0.0.2", 2002), d;
	uint8_t k[32], m[RELAY_COOKIE_LEN];
	struct relay_stats st;

	key_of(1, k);
	ck_assert_int_eq(relay_host_set(r, k, "n", &nat, 1), 0);
	key_of(3, k);
	ck_assert_int_eq(relay_host_set(r, k, "n", &nat, 1), 0);
	key_of(2, k);
	ck_assert_int_eq(relay_host_set(r, k, "n", &ib, 1), 0);
	ck_assert_int_eq(send_init(r, &a2, 0x20, 1, 0, &d), RELAY_DROP_NO_ROUTE);
	ck_assert_int_eq(send_init(r, &a1, 0x10, 2, 0, &d), RELAY_FORWARD);
	key_of(1, k);
	ck_assert_int_eq(relay_host_remove(r, k), 0);
	relay_stats_get(r, &st);
	ck_assert_uint_eq(st.entries, 0);
	ck_assert_int_eq(relay_route(r, m, mk_data(m, 3, 0x10, sizeof(m)), &a2, 0, &d),
	    RELAY_DROP_UNKNOWN_INDEX);
	relay_del(r);
}
END_TEST

/* A host whose IPs change keeps no route to an address it no longer holds. */
START_TEST(test_ip_change_drops_route)
{
	struct relay *r = world(NULL);
	struct relay_addr a1 = A4("10.0.0.1", 40001), a2 = A4("10.0.0.2", 40002), d;
	struct relay_addr moved = A4("10.9.0.1", 0);
	uint8_t k[32];

	session(r, &a1, &a2, 0);
	key_of(1, k);
	ck_assert_int_eq(relay_host_set(r, k, "n", &moved, 1), 0);
	ck_assert_int_eq(send_data(r, &a2, 0x1111, 1, &d), RELAY_DROP_STRANGER);
	ck_assert_int_eq(send_init(r, &a2, 0x2001, 1, 1, &d), RELAY_DROP_NO_ROUTE);
	relay_del(r);
}
END_TEST

START_TEST(test_sync_removes_hosts_not_given)
{
	struct relay *r = world(NULL);
	struct relay_addr a1 = A4("10.0.0.1", 40001), a2 = A4("10.0.0.2", 40002), d;
	struct relay_addr i1 = A4("10.0.0.1", 0), i3 = A4("10.0.0.3", 0);
	struct relay_addr a3 = A4("10.0.0.3", 3);
	struct relay_stats st;
	uint8_t k[32];

	session(r, &a1, &a2, 0);
	relay_sync_begin(r);
	key_of(1, k);
	ck_assert_int_eq(relay_host_set(r, k, "n", &i1, 1), 0);
	key_of(3, k);
	ck_assert_int_eq(relay_host_set(r, k, "n", &i3, 1), 0);
	ck_assert_uint_eq(relay_sync_end(r), 1);   /* 2 was not given: revoked */
	relay_stats_get(r, &st);
	ck_assert_uint_eq(st.hosts, 2);
	ck_assert_int_eq(send_data(r, &a1, 0x2222, 1, &d), RELAY_DROP_UNKNOWN_INDEX);
	/* 1 kept its relay address through the resync */
	ck_assert_int_eq(send_init(r, &a3, 0x3000, 1, 1, &d), RELAY_FORWARD);
	ck_assert(same(&d, &a1));
	relay_del(r);
}
END_TEST

/* Found by fuzz_relay: a response whose sender index is its receiver index replaced the
 * initiation's entry with its own and was sent back to its source. */
START_TEST(test_response_reusing_receiver_index_refused)
{
	struct relay *r = world(NULL);
	struct relay_addr a1 = A4("10.0.0.1", 40001), a2 = A4("10.0.0.2", 40002), d;

	ck_assert_int_eq(send_init(r, &a2, 0x2000, 1, 0, &d), RELAY_DROP_NO_ROUTE);
	ck_assert_int_eq(send_init(r, &a1, 0x1111, 2, 0, &d), RELAY_FORWARD);
	ck_assert_int_eq(send_resp(r, &a2, 0x1111, 0x1111, 1, 0, &d), RELAY_DROP_INDEX_IN_USE);
	/* the initiation is still there for a proper response */
	ck_assert_int_eq(send_resp(r, &a2, 0x2222, 0x1111, 1, 0, &d), RELAY_FORWARD);
	ck_assert(same(&d, &a1));
	relay_del(r);
}
END_TEST

START_TEST(test_loop_and_index_takeover_refused)
{
	struct relay *r = world(NULL);
	struct relay_addr a1 = A4("10.0.0.1", 40001), a2 = A4("10.0.0.2", 40002), d;
	struct relay_addr a3 = A4("10.0.0.3", 40003);

	session(r, &a1, &a2, 0);
	/* host 3 reuses 1's live index to pull 2's traffic to itself */
	ck_assert_int_eq(send_init(r, &a3, 0x1111, 2, 0, &d), RELAY_DROP_INDEX_IN_USE);
	ck_assert_int_eq(send_data(r, &a2, 0x1111, 0, &d), RELAY_FORWARD);
	ck_assert(same(&d, &a1));
	/* a host naming itself: no other host of its network holds the source IP */
	ck_assert_int_eq(send_init(r, &a1, 0x1200, 1, 0, &d), RELAY_DROP_NETWORK);
	relay_del(r);
}
END_TEST

Suite *
relay_refuse_suite(void)
{
	Suite *s = suite_create("relay_refuse");
	TCase *err = tcase_create("errors");

	tcase_add_test(err, test_stranger_refused);
	tcase_add_test(err, test_no_reflection_to_silent_hosts);
	tcase_add_test(err, test_transport_needs_completed_handshake);
	tcase_add_test(err, test_networks_kept_apart);
	tcase_add_test(err, test_removed_host_tunnel_stops);
	tcase_add_test(err, test_removed_shared_ip_hosts_unreachable);
	tcase_add_test(err, test_ip_change_drops_route);
	tcase_add_test(err, test_sync_removes_hosts_not_given);
	tcase_add_test(err, test_response_reusing_receiver_index_refused);
	tcase_add_test(err, test_loop_and_index_takeover_refused);
	suite_add_tcase(s, err);
	return s;
}
