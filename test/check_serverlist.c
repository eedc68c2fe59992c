/* Unit tests for agent/serverlist.c: the server list, failing over, rounds and their backoff. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/serverlist.h"
#include "rpc/grpc.h"
#include "test/check_suites.h"

static struct serverlist *
list(const char *value)
{
	struct serverlist *sl = malloc(sizeof(*sl));
	char why[300];

	ck_assert_ptr_nonnull(sl);
	ck_assert_msg(serverlist_init(sl, value, 500, 30000, why, sizeof(why)), "%s", why);
	return sl;
}

/* why serverlist_init refuses value (it must). */
static const char *
refused(const char *value, char *why, size_t len)
{
	struct serverlist *sl = malloc(sizeof(*sl));

	ck_assert_ptr_nonnull(sl);
	why[0] = '\0';
	ck_assert_msg(!serverlist_init(sl, value, 500, 30000, why, len), "accepted \"%s\"",
	    value);
	free(sl);
	return why;
}

static struct sockaddr_storage
v4(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET, ip, &s->sin_addr), 1);
	return ss;
}

static const char *
cur_name(const struct serverlist *sl, char *buf)
{
	return serverlist_name(sl, sl->cur, buf, SERVERLIST_NAME_MAX);
}

/* --- core ------------------------------------------------------------------------------- */

START_TEST(parses_entries_first_current)
{
	struct serverlist *sl = list(" a.example:7443 ,b.example:7444,\t[2001:db8::1]:7445 ");
	char host[64], port[16], buf[SERVERLIST_NAME_MAX];

	ck_assert_uint_eq(sl->n_entries, 3);
	ck_assert_uint_eq(sl->n_targets, 3);
	ck_assert_str_eq(sl->entry[0], "a.example:7443");
	ck_assert_str_eq(sl->entry[1], "b.example:7444");
	ck_assert_str_eq(sl->entry[2], "[2001:db8::1]:7445");
	ck_assert_str_eq(serverlist_current_entry(sl), "a.example:7443");
	ck_assert_int_eq(serverlist_current(sl)->addr.ss_family, AF_UNSPEC);
	ck_assert_str_eq(cur_name(sl, buf), "a.example:7443");
	serverlist_entry_split(sl->entry[2], host, sizeof(host), port, sizeof(port));
	ck_assert_str_eq(host, "2001:db8::1");
	ck_assert_str_eq(port, "7445");
	free(sl);
}
END_TEST

START_TEST(one_entry_is_a_list_of_one)
{
	struct serverlist *sl = list("sync.example:7443");

	ck_assert_uint_eq(sl->n_entries, 1);
	ck_assert_str_eq(serverlist_current_entry(sl), "sync.example:7443");
	free(sl);
}
END_TEST

/* A server that worked and went away: the next at once, then back to the first after a
 * delay drawn under the backoff's ceiling; within a round there is no wait. */
START_TEST(next_at_once_then_round_with_backoff)
{
	struct serverlist *sl = list("a:1, b:2, c:3");
	uint32_t d = 99;

	serverlist_ok(sl, sl->gen);
	ck_assert(sl->up);
	ck_assert_int_eq(serverlist_failed(sl, sl->gen, &d), SERVERLIST_NEXT);
	ck_assert_uint_eq(d, 0);
	ck_assert_str_eq(serverlist_current_entry(sl), "b:2");
	ck_assert(!sl->up);
	ck_assert_int_eq(serverlist_failed(sl, sl->gen, &d), SERVERLIST_NEXT);
	ck_assert_uint_eq(d, 0);
	ck_assert_str_eq(serverlist_current_entry(sl), "c:3");
	ck_assert_int_eq(serverlist_failed(sl, sl->gen, &d), SERVERLIST_ROUND);
	ck_assert_uint_le(d, 500);
	ck_assert_str_eq(serverlist_current_entry(sl), "a:1");
	/* the next round's ceiling doubled, its servers again at once */
	ck_assert_uint_eq(backoff_ceiling(&sl->backoff), 1000);
	ck_assert_int_eq(serverlist_failed(sl, sl->gen, &d), SERVERLIST_NEXT);
	ck_assert_uint_eq(d, 0);
	ck_assert_int_eq(serverlist_failed(sl, sl->gen, &d), SERVERLIST_NEXT);
	ck_assert_int_eq(serverlist_failed(sl, sl->gen, &d), SERVERLIST_ROUND);
	ck_assert_uint_le(d, 1000);
	ck_assert_uint_eq(backoff_ceiling(&sl->backoff), 2000);
	free(sl);
}
END_TEST

/* Rounds begin where the agent was last connected: after b worked, its failure tries a
 * (and c) at once and b again only after the delay. */
START_TEST(round_starts_at_last_good)
{
	struct serverlist *sl = list("a:1, b:2, c:3");
	uint32_t d;

	ck_assert_int_eq(serverlist_failed(sl, sl->gen, &d), SERVERLIST_NEXT);
	serverlist_ok(sl, sl->gen);             /* b works */
	ck_assert_uint_eq(backoff_ceiling(&sl->backoff), 500);
	ck_assert_int_eq(serverlist_failed(sl, sl->gen, &d), SERVERLIST_NEXT);
	ck_assert_str_eq(serverlist_current_entry(sl), "c:3");
	ck_assert_int_eq(serverlist_failed(sl, sl->gen, &d), SERVERLIST_NEXT);
	ck_assert_str_eq(serverlist_current_entry(sl), "a:1");
	ck_assert_uint_eq(d, 0);
	ck_assert_int_eq(serverlist_failed(sl, sl->gen, &d), SERVERLIST_ROUND);
	ck_assert_str_eq(serverlist_current_entry(sl), "b:2");
	free(sl);
}
END_TEST

/* The Watch and the Update both see one server die: it moves once, not twice. */
START_TEST(stale_generation_moves_nothing)
{
	struct serverlist *sl = list("a:1, b:2, c:3");
	uint64_t g = sl->gen;
	uint32_t d = 7;

	ck_assert_int_eq(serverlist_failed(sl, g, &d), SERVERLIST_NEXT);
	ck_assert_int_eq(serverlist_failed(sl, g, &d), SERVERLIST_STALE);
	ck_assert_uint_eq(d, 0);
	ck_assert_str_eq(serverlist_current_entry(sl), "b:2");
	ck_assert_uint_eq(sl->gen, g + 1);
	/* and a stale success does not make the new one good */
	serverlist_ok(sl, g);
	ck_assert(!sl->up);
	free(sl);
}
END_TEST

/* One server: every failure is a round; the backoff grows to its cap and starts over
 * once a connection works. */
START_TEST(single_server_backs_off)
{
	struct serverlist *sl = list("a:1");
	uint32_t d;

	for (int i = 0; i < 12; i++) {
		ck_assert_int_eq(serverlist_failed(sl, sl->gen, &d), SERVERLIST_ROUND);
		ck_assert_str_eq(serverlist_current_entry(sl), "a:1");
		ck_assert_uint_le(d, 30000);
	}
	ck_assert_uint_eq(backoff_ceiling(&sl->backoff), 30000);
	serverlist_ok(sl, sl->gen);
	ck_assert_uint_eq(backoff_ceiling(&sl->backoff), 500);
	free(sl);
}
END_TEST

/* A name with several addresses is several servers, each named with its address. */
START_TEST(name_with_addresses_is_several_servers)
{
	struct serverlist *sl = list("sync.example:7443, 192.0.2.9:7443");
	struct sockaddr_storage a[3] = { v4("192.0.2.1", 7443), v4("192.0.2.2", 7443),
	    v4("192.0.2.1", 7443) };
	struct sockaddr_storage lit = v4("192.0.2.9", 7443);
	char buf[SERVERLIST_NAME_MAX];
	uint32_t d;

	serverlist_resolved(sl, 0, a, 3);       /* the repeat is dropped */
	serverlist_resolved(sl, 1, &lit, 1);
	ck_assert_uint_eq(sl->n_targets, 3);
	ck_assert_str_eq(cur_name(sl, buf), "sync.example:7443 (192.0.2.1)");
	ck_assert_int_eq(serverlist_failed(sl, sl->gen, &d), SERVERLIST_NEXT);
	ck_assert_str_eq(cur_name(sl, buf), "sync.example:7443 (192.0.2.2)");
	ck_assert_str_eq(serverlist_current_entry(sl), "sync.example:7443");
	ck_assert_int_eq(serverlist_failed(sl, sl->gen, &d), SERVERLIST_NEXT);
	/* a literal is named once */
	ck_assert_str_eq(cur_name(sl, buf), "192.0.2.9:7443");
	ck_assert_int_eq(serverlist_current(sl)->addr.ss_family, AF_INET);
	ck_assert_int_eq(serverlist_failed(sl, sl->gen, &d), SERVERLIST_ROUND);
	ck_assert_str_eq(cur_name(sl, buf), "sync.example:7443 (192.0.2.1)");
	free(sl);
}
END_TEST

/* Resolving again keeps the current server when its address is still there. */
START_TEST(resolving_again_keeps_current)
{
	struct serverlist *sl = list("x:7443, sync.example:7443");
	struct sockaddr_storage a[2] = { v4("192.0.2.1", 7443), v4("192.0.2.2", 7443) };
	struct sockaddr_storage b[2] = { v4("192.0.2.3", 7443), v4("192.0.2.2", 7443) };
	struct sockaddr_storage c = v4("192.0.2.4", 7443);
	char buf[SERVERLIST_NAME_MAX];
	uint64_t g;
	uint32_t d;

	serverlist_resolved(sl, 1, a, 2);
	serverlist_failed(sl, sl->gen, &d);
	serverlist_failed(sl, sl->gen, &d);
	ck_assert_str_eq(cur_name(sl, buf), "sync.example:7443 (192.0.2.2)");
	g = sl->gen;
	serverlist_resolved(sl, 1, b, 2);
	ck_assert_str_eq(cur_name(sl, buf), "sync.example:7443 (192.0.2.2)");
	ck_assert_uint_eq(sl->gen, g);
	/* gone: the entry's first address */
	serverlist_resolved(sl, 1, &c, 1);
	ck_assert_uint_eq(sl->n_targets, 2);
	ck_assert_str_eq(cur_name(sl, buf), "sync.example:7443 (192.0.2.4)");
	/* nothing resolves: the name itself, tried as it is */
	serverlist_resolved(sl, 1, NULL, 0);
	ck_assert_uint_eq(sl->n_targets, 2);
	ck_assert_int_eq(serverlist_current(sl)->addr.ss_family, AF_UNSPEC);
	ck_assert_str_eq(cur_name(sl, buf), "sync.example:7443");
	/* the round still starts at x */
	ck_assert_uint_eq(sl->round_start, 0);
	free(sl);
}
END_TEST

START_TEST(what_fails_over)
{
	ck_assert(serverlist_fails_over(GRPC_UNAVAILABLE, "connect to a:1: Connection refused",
	    false));
	ck_assert(serverlist_fails_over(GRPC_UNAVAILABLE, "could not connect to a:1 within 10 s",
	    false));
	ck_assert(serverlist_fails_over(GRPC_UNAVAILABLE, "stream refused by server", false));
	ck_assert(serverlist_fails_over(GRPC_UNAVAILABLE, "TLS handshake with a:1 failed: "
	    "certificate name mismatch", false));
	ck_assert(serverlist_fails_over(GRPC_INTERNAL,
	    "INTERNAL: stream reset by server: INTERNAL_ERROR", false));
	/* our certificate refused: every server would */
	ck_assert(!serverlist_fails_over(GRPC_UNAVAILABLE,
	    "TLS: error:0A000414:SSL routines::sslv3 alert certificate revoked", false));
	ck_assert(!serverlist_fails_over(GRPC_UNAVAILABLE, "GOAWAY: certificate revoked", false));
	ck_assert(!serverlist_fails_over(GRPC_UNAVAILABLE, "connection reset", true));
	/* the server's own answers */
	ck_assert(!serverlist_fails_over(GRPC_OK, "", false));
	ck_assert(!serverlist_fails_over(GRPC_ABORTED, "record removed", false));
	ck_assert(!serverlist_fails_over(GRPC_RESOURCE_EXHAUSTED, "too many Watch streams",
	    false));
	ck_assert(!serverlist_fails_over(GRPC_PERMISSION_DENIED, "not this network", false));
	ck_assert(!serverlist_fails_over(GRPC_CANCELLED, "client closed", false));
	ck_assert(!serverlist_fails_over(GRPC_INTERNAL, "response ended without grpc-status",
	    false));
}
END_TEST

/* --- limits ----------------------------------------------------------------------------- */

START_TEST(addresses_per_entry_capped)
{
	struct serverlist *sl = list("many.example:7443");
	struct sockaddr_storage a[SERVERLIST_ADDRS_MAX + 3];
	char ip[32];

	for (int i = 0; i < SERVERLIST_ADDRS_MAX + 3; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i + 1);
		a[i] = v4(ip, 7443);
	}
	a[1].ss_family = AF_UNIX;               /* not an address to connect to */
	serverlist_resolved(sl, 0, a, SERVERLIST_ADDRS_MAX + 3);
	ck_assert_uint_eq(sl->n_targets, SERVERLIST_ADDRS_MAX);
	free(sl);
}
END_TEST

START_TEST(entries_capped)
{
	char value[2048] = "", one[32], why[300];

	for (int i = 0; i <= SERVERLIST_ENTRIES_MAX; i++) {
		snprintf(one, sizeof(one), "%ss%d:7443", i > 0 ? "," : "", i);
		strcat(value, one);
	}
	ck_assert_str_eq(refused(value, why, sizeof(why)), "17 servers; at most 16");
}
END_TEST

/* --- errors ----------------------------------------------------------------------------- */

START_TEST(bad_entry_named)
{
	char why[300];

	ck_assert_str_eq(refused("a.example:7443, b.example", why, sizeof(why)),
	    "entry 2 \"b.example\": not HOST:PORT (e.g. sync.example.org:7443)");
	ck_assert_str_eq(refused("a.example:7443,,b.example:7443", why, sizeof(why)),
	    "entry 2 \"\": empty (servers are HOST:PORT, separated by commas)");
	ck_assert_str_eq(refused("a.example:7443, a.example:7443", why, sizeof(why)),
	    "entry 2 \"a.example:7443\": repeats entry 1");
	ck_assert_str_eq(refused("a:1, 2001:db8::1:7443", why, sizeof(why)),
	    "entry 2 \"2001:db8::1:7443\": an IPv6 host goes in brackets: [ADDRESS]:PORT");
	ck_assert_str_eq(refused("a:1, b:99999", why, sizeof(why)),
	    "entry 2 \"b:99999\": port \"99999\" is not a number from 0 to 65535");
	ck_assert_str_eq(refused("a:1,", why, sizeof(why)),
	    "entry 2 \"\": empty (servers are HOST:PORT, separated by commas)");
}
END_TEST

/* One server: the words of today, no entry number. */
START_TEST(single_bad_entry_as_before)
{
	char why[300];

	ck_assert_str_eq(refused("7443", why, sizeof(why)),
	    "not HOST:PORT (give the server's name too, e.g. sync.example.org:7443)");
	ck_assert_str_eq(refused("", why, sizeof(why)), "empty; give HOST:PORT");
}
END_TEST

Suite *
serverlist_suite(void)
{
	Suite *s = suite_create("serverlist");
	TCase *core = tcase_create("core"), *limits = tcase_create("limits"),
	    *errors = tcase_create("errors");

	tcase_add_test(core, parses_entries_first_current);
	tcase_add_test(core, one_entry_is_a_list_of_one);
	tcase_add_test(core, next_at_once_then_round_with_backoff);
	tcase_add_test(core, round_starts_at_last_good);
	tcase_add_test(core, stale_generation_moves_nothing);
	tcase_add_test(core, single_server_backs_off);
	tcase_add_test(core, name_with_addresses_is_several_servers);
	tcase_add_test(core, resolving_again_keeps_current);
	tcase_add_test(core, what_fails_over);
	tcase_add_test(limits, addresses_per_entry_capped);
	tcase_add_test(limits, entries_capped);
	tcase_add_test(errors, bad_entry_named);
	tcase_add_test(errors, single_bad_entry_as_before);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	suite_add_tcase(s, errors);
	return s;
}
