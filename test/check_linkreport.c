/* Tests for agent/linkreport.c: the entries of a link report (path, up, why down) and
 * when a report is due. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "agent/linkreport.h"
#include "test/check_suites.h"

#define T0 1700000000

static struct linkreport_in
peer(uint8_t id)
{
	struct linkreport_in in;

	memset(&in, 0, sizeof(in));
	memset(in.key, id, sizeof(in.key));
	in.online = true;
	in.state = PEERPATH_DIRECT;
	in.has_kind = true;
	in.kind = PEERPATH_KIND_LAN;
	in.n_cands = 3;
	in.endpoint = "192.0.2.1:51820";
	in.last_handshake_s = T0 - 10;
	in.rx_bytes = 100;
	in.tx_bytes = 200;
	return in;
}

/* Builds one report of in[0..n) at now; the entries stay in lr->built. */
static void
build(struct linkreport *lr, const struct linkreport_in *in, size_t n, int64_t now)
{
	struct linkreport_entry *e = NULL;

	ck_assert_int_eq(linkreport_build(lr, in, n, now, &e), (int)n);
	free(e);
}

START_TEST(test_direct_lan_is_up)
{
	struct linkreport lr;
	struct linkreport_in in = peer(1);

	linkreport_init(&lr);
	build(&lr, &in, 1, T0);
	ck_assert(lr.built[0].up);
	ck_assert_str_eq(lr.built[0].path, "lan");
	ck_assert_str_eq(lr.built[0].endpoint, "192.0.2.1:51820");
	ck_assert_int_eq(lr.built[0].last_handshake_ms, (T0 - 10) * 1000LL);
	ck_assert_str_eq(lr.built[0].down_reason, "");
	linkreport_free(&lr);
}
END_TEST

START_TEST(test_paths)
{
	struct linkreport lr;
	struct linkreport_in in[3] = { peer(1), peer(2), peer(3) };

	in[0].state = PEERPATH_ROAMED;
	in[1].state = PEERPATH_RELAY;
	in[2].kind = PEERPATH_KIND_WAN;
	linkreport_init(&lr);
	build(&lr, in, 3, T0);
	ck_assert_str_eq(lr.built[0].path, "observed");
	ck_assert_str_eq(lr.built[1].path, "relay");
	ck_assert_str_eq(lr.built[2].path, "wan");
	linkreport_free(&lr);
}
END_TEST

START_TEST(test_stale_handshake_is_down_with_reason)
{
	struct linkreport lr;
	struct linkreport_in in = peer(1);

	in.state = PEERPATH_TRIAL;
	in.last_handshake_s = T0 - 181;
	linkreport_init(&lr);
	build(&lr, &in, 1, T0);
	ck_assert(!lr.built[0].up);
	ck_assert_str_eq(lr.built[0].path, "");
	/* the endpoint WireGuard has is still told */
	ck_assert_str_eq(lr.built[0].endpoint, "192.0.2.1:51820");
	ck_assert_str_eq(lr.built[0].down_reason, "no handshake on any of 3 candidates for 1 s");
	/* two minutes on, the time it has been down */
	build(&lr, &in, 1, T0 + 120);
	ck_assert_str_eq(lr.built[0].down_reason,
	    "no handshake on any of 3 candidates for 2 min");
	linkreport_free(&lr);
}
END_TEST

START_TEST(test_never_handshaken_counts_from_first_sight)
{
	struct linkreport lr;
	struct linkreport_in in = peer(1);

	in.state = PEERPATH_TRIAL;
	in.last_handshake_s = 0;
	linkreport_init(&lr);
	build(&lr, &in, 1, T0);
	build(&lr, &in, 1, T0 + 45);
	ck_assert_str_eq(lr.built[0].down_reason, "no handshake on any of 3 candidates for 45 s");
	ck_assert_int_eq(lr.built[0].last_handshake_ms, 0);
	linkreport_free(&lr);
}
END_TEST

START_TEST(test_reasons)
{
	struct linkreport_in in = peer(1);
	char buf[LINKREPORT_REASON_MAX];

	in.last_handshake_s = 0;
	in.n_cands = 0;
	in.state = PEERPATH_IDLE;
	linkreport_reason(&in, T0, T0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "no address known");
	in.refused = true;
	linkreport_reason(&in, T0, T0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "not paired by policy");
	in.refused = false;
	in.online = false;
	linkreport_reason(&in, T0 + 300, T0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "peer offline (not connected to the server) for 5 min");
	in.online = true;
	in.n_cands = 2;
	in.relay = true;
	in.state = PEERPATH_RELAY;
	linkreport_reason(&in, T0 + 10, T0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "no handshake on any of 2 candidates nor over the relay for 10 s");
	in.state = PEERPATH_DIRECT;
	in.kind = PEERPATH_KIND_WAN;
	linkreport_reason(&in, T0 + 10, T0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "no handshake on the wan path for 10 s");
}
END_TEST

/* --- when to send -------------------------------------------------------------------- */

START_TEST(test_first_report_at_once)
{
	struct linkreport lr;
	struct linkreport_in in = peer(1);
	int64_t next;

	linkreport_init(&lr);
	build(&lr, &in, 1, T0);
	ck_assert(linkreport_due(&lr, T0, &next));
	linkreport_free(&lr);
}
END_TEST

START_TEST(test_counters_alone_wait_30s)
{
	struct linkreport lr;
	struct linkreport_in in = peer(1);
	int64_t next;

	linkreport_init(&lr);
	build(&lr, &in, 1, T0);
	linkreport_attempted(&lr, T0);
	ck_assert_int_eq(linkreport_sent(&lr, 5), 0);
	in.rx_bytes += 5000;
	in.last_handshake_s = T0 + 5;
	build(&lr, &in, 1, T0 + 10);
	ck_assert(!linkreport_due(&lr, T0 + 10, &next));
	ck_assert_int_eq(next, T0 + LINKREPORT_EVERY_S);
	build(&lr, &in, 1, T0 + 30);
	ck_assert(linkreport_due(&lr, T0 + 30, &next));
	linkreport_free(&lr);
}
END_TEST

START_TEST(test_rekey_after_a_long_gap_is_a_change)
{
	struct linkreport lr;
	struct linkreport_in in = peer(1);
	int64_t next;

	linkreport_init(&lr);
	build(&lr, &in, 1, T0);
	linkreport_attempted(&lr, T0);
	ck_assert_int_eq(linkreport_sent(&lr, 5), 0);
	/* the handshake sent was at T0 - 10; one at T0 + 79 is no change, T0 + 80 is */
	in.last_handshake_s = T0 + 79;
	build(&lr, &in, 1, T0 + 10);
	ck_assert(!linkreport_due(&lr, T0 + 10, &next));
	in.last_handshake_s = T0 + 80;
	build(&lr, &in, 1, T0 + 10);
	ck_assert(linkreport_due(&lr, T0 + 10, &next));
	linkreport_free(&lr);
}
END_TEST

START_TEST(test_change_waits_min_interval)
{
	struct linkreport lr;
	struct linkreport_in in = peer(1);
	int64_t next;

	linkreport_init(&lr);
	build(&lr, &in, 1, T0);
	linkreport_attempted(&lr, T0);
	ck_assert_int_eq(linkreport_sent(&lr, 8), 0);
	in.endpoint = "198.51.100.7:4000";
	build(&lr, &in, 1, T0 + 3);
	ck_assert(!linkreport_due(&lr, T0 + 3, &next));
	ck_assert_int_eq(next, T0 + 8);
	ck_assert(linkreport_due(&lr, T0 + 8, &next));
	linkreport_free(&lr);
}
END_TEST

START_TEST(test_going_down_is_a_change)
{
	struct linkreport lr;
	struct linkreport_in in = peer(1);
	int64_t next;

	linkreport_init(&lr);
	build(&lr, &in, 1, T0 + 150);
	linkreport_attempted(&lr, T0 + 150);
	ck_assert_int_eq(linkreport_sent(&lr, 5), 0);
	build(&lr, &in, 1, T0 + 165);
	ck_assert(!linkreport_due(&lr, T0 + 165, &next));
	ck_assert_int_eq(next, T0 + 150 + LINKREPORT_EVERY_S);
	/* the handshake at T0 - 10 goes stale after T0 + 170 */
	build(&lr, &in, 1, T0 + 176);
	ck_assert(linkreport_due(&lr, T0 + 176, &next));
	/* a new peer is a change too */
	linkreport_attempted(&lr, T0 + 176);
	ck_assert_int_eq(linkreport_sent(&lr, 0), 0);
	{
		struct linkreport_in two[2] = { in, peer(2) };
		build(&lr, two, 2, T0 + 181);
		ck_assert(linkreport_due(&lr, T0 + 181, &next));
	}
	linkreport_free(&lr);
}
END_TEST

START_TEST(test_bounded)
{
	struct linkreport lr;
	struct linkreport_in *in = calloc(LINKREPORT_MAX + 5, sizeof(*in));
	struct linkreport_entry *e = NULL;

	ck_assert_ptr_nonnull(in);
	for (size_t i = 0; i < LINKREPORT_MAX + 5; i++) {
		in[i] = peer(0);
		in[i].key[0] = (uint8_t)i;
		in[i].key[1] = (uint8_t)(i >> 8);
	}
	linkreport_init(&lr);
	ck_assert_int_eq(linkreport_build(&lr, in, LINKREPORT_MAX + 5, T0, &e), LINKREPORT_MAX);
	free(e);
	free(in);
	linkreport_free(&lr);
}
END_TEST

/* Keepalive 2 s: rx standing still more than 2*2+2 s calls it down, with a fresh handshake. */
START_TEST(test_rx_stall_is_down)
{
	struct linkreport lr;
	struct linkreport_in in = peer(1);
	int64_t next;

	in.keepalive_s = 2;
	in.last_handshake_s = T0;
	linkreport_init(&lr);
	build(&lr, &in, 1, T0);
	ck_assert(linkreport_due(&lr, T0, &next));
	linkreport_attempted(&lr, T0);
	ck_assert_int_eq(linkreport_sent(&lr, 0), 0);
	/* growing every second: up */
	for (int t = 1; t <= 4; t++) {
		in.rx_bytes += 32;
		build(&lr, &in, 1, T0 + t);
		ck_assert(lr.built[0].up);
	}
	/* then nothing: 6 s is still within 2*2+2 */
	build(&lr, &in, 1, T0 + 10);
	ck_assert(lr.built[0].up);
	ck_assert(!linkreport_due(&lr, T0 + 10, &next));
	build(&lr, &in, 1, T0 + 11);
	ck_assert(!lr.built[0].up);
	ck_assert_str_eq(lr.built[0].path, "");
	ck_assert_str_eq(lr.built[0].down_reason, "nothing received for 7 s (keepalive 2 s)");
	/* going down is a change: sent at once (min interval 5 s long past) */
	ck_assert(linkreport_due(&lr, T0 + 11, &next));
	linkreport_attempted(&lr, T0 + 11);
	ck_assert_int_eq(linkreport_sent(&lr, 0), 0);
	build(&lr, &in, 1, T0 + 13);
	ck_assert(!lr.built[0].up);
	ck_assert_str_eq(lr.built[0].down_reason, "nothing received for 9 s (keepalive 2 s)");
	ck_assert(!linkreport_due(&lr, T0 + 13, &next));
	/* coming back is a change too, after min_interval_s */
	in.rx_bytes += 32;
	build(&lr, &in, 1, T0 + 14);
	ck_assert(lr.built[0].up);
	ck_assert_str_eq(lr.built[0].path, "lan");
	ck_assert(!linkreport_due(&lr, T0 + 14, &next));
	ck_assert_int_eq(next, T0 + 11 + LINKREPORT_MIN_S);
	build(&lr, &in, 1, T0 + 16);
	ck_assert(linkreport_due(&lr, T0 + 16, &next));
	linkreport_free(&lr);
}
END_TEST

/* Without keepalive (a LAN peer) rx may stand still: the handshake alone decides; and a
 * stall is only judged once watched that long (a keepalive just turned on starts over). */
START_TEST(test_rx_stall_needs_keepalive_and_watching)
{
	struct linkreport lr;
	struct linkreport_in in = peer(1);

	in.last_handshake_s = T0;
	linkreport_init(&lr);
	build(&lr, &in, 1, T0);
	build(&lr, &in, 1, T0 + 100);
	ck_assert(lr.built[0].up);
	in.keepalive_s = 2;
	build(&lr, &in, 1, T0 + 101);
	ck_assert(lr.built[0].up);
	build(&lr, &in, 1, T0 + 107);
	ck_assert(lr.built[0].up);
	build(&lr, &in, 1, T0 + 108);
	ck_assert(!lr.built[0].up);
	/* a stale handshake keeps its own reason */
	build(&lr, &in, 1, T0 + 200);
	ck_assert(!lr.built[0].up);
	ck_assert_ptr_null(strstr(lr.built[0].down_reason, "nothing received"));
	linkreport_free(&lr);
}
END_TEST

Suite *
linkreport_suite(void)
{
	Suite *s = suite_create("linkreport");
	TCase *core = tcase_create("core"), *limits = tcase_create("limits");

	tcase_add_test(core, test_direct_lan_is_up);
	tcase_add_test(core, test_paths);
	tcase_add_test(core, test_stale_handshake_is_down_with_reason);
	tcase_add_test(core, test_never_handshaken_counts_from_first_sight);
	tcase_add_test(core, test_reasons);
	tcase_add_test(core, test_first_report_at_once);
	tcase_add_test(core, test_counters_alone_wait_30s);
	tcase_add_test(core, test_rekey_after_a_long_gap_is_a_change);
	tcase_add_test(core, test_change_waits_min_interval);
	tcase_add_test(core, test_going_down_is_a_change);
	tcase_add_test(core, test_rx_stall_is_down);
	tcase_add_test(core, test_rx_stall_needs_keepalive_and_watching);
	tcase_add_test(limits, test_bounded);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}
