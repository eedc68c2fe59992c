/* Tests for agent/path.c: our guess against the endpoint WireGuard roamed to. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/path.h"
#include "test/check_suites.h"

#define NOW 1000000

static struct sockaddr_storage
sa(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		ck_assert_int_eq(inet_pton(AF_INET, ip, &in->sin_addr), 1);
	}
	return ss;
}

static uint16_t
port_of(const struct sockaddr_storage *ss)
{
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* The demo's case: WireGuard learned the NAT's mapping :8638, our guess is :51823. */
START_TEST(test_roamed_kept)
{
	struct sockaddr_storage guess = sa("203.0.113.3", 51823), actual = sa("203.0.113.3", 8638);
	struct path_in in = { .guess = &guess, .last_guess = &guess, .actual = &actual,
	    .last_handshake_s = NOW - 20, .now_s = NOW };
	struct path_choice pc;

	path_choose(&in, &pc);
	ck_assert(pc.has_endpoint);
	ck_assert_int_eq(pc.from, PATH_ROAMED);
	ck_assert_uint_eq(port_of(&pc.endpoint), 8638);
	ck_assert_int_eq(pc.handshake_age_s, 20);
	ck_assert(pc.newly_kept);
	ck_assert_str_eq(path_from_name(pc.from), "roamed");
}
END_TEST

/* After a restart nothing is known of the last guess: a live roamed path still wins. */
START_TEST(test_roamed_kept_unknown_last)
{
	struct sockaddr_storage guess = sa("203.0.113.3", 51823), actual = sa("198.51.100.7", 4000);
	struct path_in in = { .guess = &guess, .actual = &actual, .last_handshake_s = NOW - 179,
	    .now_s = NOW };
	struct path_choice pc;

	path_choose(&in, &pc);
	ck_assert_int_eq(pc.from, PATH_ROAMED);
	ck_assert(path_addr_equal(&pc.endpoint, &actual));
	ck_assert(!pc.guess_changed);
}
END_TEST

/* Logged once: the same roamed endpoint kept again is not news. */
START_TEST(test_roamed_kept_again)
{
	struct sockaddr_storage guess = sa("203.0.113.3", 51823), actual = sa("203.0.113.3", 8638);
	struct path_in in = { .guess = &guess, .last_guess = &guess, .actual = &actual,
	    .kept = &actual, .last_handshake_s = NOW - 5, .now_s = NOW };
	struct path_choice pc;

	path_choose(&in, &pc);
	ck_assert_int_eq(pc.from, PATH_ROAMED);
	ck_assert(!pc.newly_kept);
}
END_TEST

START_TEST(test_guess_when_equal)
{
	struct sockaddr_storage guess = sa("203.0.113.3", 51823), actual = guess;
	struct path_in in = { .guess = &guess, .last_guess = &guess, .actual = &actual,
	    .last_handshake_s = NOW - 5, .now_s = NOW };
	struct path_choice pc;

	path_choose(&in, &pc);
	ck_assert_int_eq(pc.from, PATH_WAN);
	ck_assert_str_eq(path_from_name(pc.from), "wan");
	ck_assert(path_addr_equal(&pc.endpoint, &guess));
}
END_TEST

/* A session older than REJECT_AFTER_TIME is dead: try our guess again. */
START_TEST(test_stale_handshake_writes_guess)
{
	struct sockaddr_storage guess = sa("203.0.113.3", 51823), actual = sa("203.0.113.3", 8638);
	struct path_in in = { .guess = &guess, .last_guess = &guess, .actual = &actual,
	    .last_handshake_s = NOW - PATH_LIVE_S, .now_s = NOW };
	struct path_choice pc;

	path_choose(&in, &pc);
	ck_assert_int_eq(pc.from, PATH_WAN);
	ck_assert(path_addr_equal(&pc.endpoint, &guess));
}
END_TEST

START_TEST(test_no_handshake_writes_guess)
{
	struct sockaddr_storage guess = sa("203.0.113.3", 51823), actual = sa("203.0.113.3", 8638);
	struct path_in in = { .guess = &guess, .last_guess = &guess, .actual = &actual,
	    .now_s = NOW };
	struct path_choice pc;

	path_choose(&in, &pc);
	ck_assert_int_eq(pc.from, PATH_WAN);
	ck_assert_int_eq(pc.handshake_age_s, -1);
}
END_TEST

/* The peer moved (its record gave a new guess): the old mapping is what stopped working. */
START_TEST(test_changed_guess_wins)
{
	struct sockaddr_storage old = sa("203.0.113.2", 51822), guess = sa("203.0.113.3", 51822);
	struct sockaddr_storage actual = sa("203.0.113.2", 8638);
	struct path_in in = { .guess = &guess, .last_guess = &old, .actual = &actual,
	    .last_handshake_s = NOW - 3, .now_s = NOW };
	struct path_choice pc;

	path_choose(&in, &pc);
	ck_assert_int_eq(pc.from, PATH_WAN);
	ck_assert(pc.guess_changed);
	ck_assert(path_addr_equal(&pc.endpoint, &guess));
}
END_TEST

/* e2e's roaming: a LAN peer moves behind a NAT; the LAN endpoint still has a live session
 * but the guess changed, so the new WAN guess is written. */
START_TEST(test_lan_to_wan)
{
	struct sockaddr_storage old = sa("192.168.1.12", 51822), guess = sa("203.0.113.3", 51822);
	struct path_in in = { .guess = &guess, .last_guess = &old, .actual = &old,
	    .last_handshake_s = NOW - 3, .now_s = NOW };
	struct path_choice pc;

	path_choose(&in, &pc);
	ck_assert_int_eq(pc.from, PATH_WAN);
	ck_assert(path_addr_equal(&pc.endpoint, &guess));
}
END_TEST

/* A LAN guess always wins: a peer reachable on our LAN should not go through NATs. */
START_TEST(test_lan_guess_wins)
{
	struct sockaddr_storage guess = sa("192.168.1.12", 51822), actual = sa("203.0.113.2", 8638);
	struct path_in in = { .guess = &guess, .guess_lan = true, .last_guess = &guess,
	    .actual = &actual, .last_handshake_s = NOW - 3, .now_s = NOW };
	struct path_choice pc;

	path_choose(&in, &pc);
	ck_assert_int_eq(pc.from, PATH_LAN);
	ck_assert_str_eq(path_from_name(pc.from), "lan");
	ck_assert(path_addr_equal(&pc.endpoint, &guess));
}
END_TEST

START_TEST(test_ipv6_roamed)
{
	struct sockaddr_storage guess = sa("2001:db8::1", 51822), actual = sa("2001:db8::1", 9000);
	struct path_in in = { .guess = &guess, .last_guess = &guess, .actual = &actual,
	    .last_handshake_s = NOW - 3, .now_s = NOW };
	struct path_choice pc;

	path_choose(&in, &pc);
	ck_assert_int_eq(pc.from, PATH_ROAMED);
	ck_assert(path_addr_equal(&pc.endpoint, &actual));
}
END_TEST

START_TEST(test_no_guess)
{
	struct sockaddr_storage actual = sa("203.0.113.2", 8638);
	struct path_in in = { .actual = &actual, .last_handshake_s = NOW - 3, .now_s = NOW };
	struct path_choice pc;

	path_choose(&in, &pc);
	ck_assert(!pc.has_endpoint);
	ck_assert_int_eq(pc.from, PATH_NONE);
	ck_assert_str_eq(path_from_name(pc.from), "-");
}
END_TEST

START_TEST(test_no_actual)
{
	struct sockaddr_storage guess = sa("203.0.113.3", 51823);
	struct path_in in = { .guess = &guess, .last_guess = &guess, .last_handshake_s = NOW - 3,
	    .now_s = NOW };
	struct path_choice pc;

	path_choose(&in, &pc);
	ck_assert_int_eq(pc.from, PATH_WAN);
	ck_assert(path_addr_equal(&pc.endpoint, &guess));
}
END_TEST

/* The clock stepped back: a handshake "in the future" proves nothing. */
START_TEST(test_future_handshake)
{
	struct sockaddr_storage guess = sa("203.0.113.3", 51823), actual = sa("203.0.113.3", 8638);
	struct path_in in = { .guess = &guess, .last_guess = &guess, .actual = &actual,
	    .last_handshake_s = NOW + 50, .now_s = NOW };
	struct path_choice pc;

	path_choose(&in, &pc);
	ck_assert_int_eq(pc.from, PATH_WAN);
}
END_TEST

START_TEST(test_addr_equal)
{
	struct sockaddr_storage a = sa("10.0.0.1", 1), b = sa("10.0.0.1", 2), c = sa("::1", 1);
	struct sockaddr_storage none;

	memset(&none, 0, sizeof(none));
	ck_assert(path_addr_equal(&a, &a));
	ck_assert(!path_addr_equal(&a, &b));
	ck_assert(!path_addr_equal(&a, &c));
	ck_assert(!path_addr_equal(&a, NULL));
	ck_assert(!path_addr_equal(NULL, NULL));
	ck_assert(!path_addr_equal(&none, &none));
}
END_TEST

Suite *
path_suite(void)
{
	Suite *s = suite_create("path");
	TCase *core = tcase_create("core"), *limits = tcase_create("limits");

	tcase_add_test(core, test_roamed_kept);
	tcase_add_test(core, test_roamed_kept_unknown_last);
	tcase_add_test(core, test_roamed_kept_again);
	tcase_add_test(core, test_guess_when_equal);
	tcase_add_test(core, test_changed_guess_wins);
	tcase_add_test(core, test_lan_to_wan);
	tcase_add_test(core, test_lan_guess_wins);
	tcase_add_test(core, test_ipv6_roamed);
	tcase_add_test(limits, test_stale_handshake_writes_guess);
	tcase_add_test(limits, test_no_handshake_writes_guess);
	tcase_add_test(limits, test_no_guess);
	tcase_add_test(limits, test_no_actual);
	tcase_add_test(limits, test_future_handshake);
	tcase_add_test(limits, test_addr_equal);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}
