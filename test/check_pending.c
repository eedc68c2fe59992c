/* Tests for server/pending.c: join requests bounded in number, age and per source, resumed
 * by their CSR, never two waiting for one key or name. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/pending.h"
#include "test/check_suites.h"

static struct netaddr
ip(const char *s)
{
	struct netaddr a;
	char err[128];

	ck_assert_msg(netaddr_parse(s, false, &a, err, sizeof(err)), "%s", err);
	return a;
}

static void
fill(uint8_t *b, size_t n, uint8_t v)
{
	memset(b, v, n);
}

START_TEST(test_add_resume_conflict)
{
	struct pending_table *t = pending_new(NULL);
	const struct pending_req *r, *again;
	uint8_t key[WG_KEY_LEN], csr[32], csr2[32], key2[WG_KEY_LEN];
	struct netaddr src = ip("198.51.100.7");

	fill(key, sizeof(key), 1);
	fill(key2, sizeof(key2), 2);
	fill(csr, sizeof(csr), 0xa0);
	fill(csr2, sizeof(csr2), 0xb0);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(pending_add(t, "nas", key, csr, &src, 1000, &r), PENDING_ADDED);
	ck_assert_uint_eq(r->id, 1);
	ck_assert_str_eq(r->name, "nas");
	ck_assert_int_eq(r->state, PENDING_WAITING);
	/* an interrupted join asks again with the same CSR: the same request */
	ck_assert_int_eq(pending_add(t, "nas", key, csr, &src, 1010, &again), PENDING_RESUMED);
	ck_assert_uint_eq(again->id, 1);
	/* another CSR for the same key, or the same name: refused while the first waits */
	ck_assert_int_eq(pending_add(t, "other", key, csr2, &src, 1020, &again), PENDING_CONFLICT);
	ck_assert_int_eq(pending_add(t, "nas", key2, csr2, &src, 1020, &again), PENDING_CONFLICT);
	ck_assert(pending_set_state(t, 1, PENDING_DENIED));
	ck_assert_int_eq(pending_add(t, "nas", key2, csr2, &src, 1030, &again), PENDING_ADDED);
	ck_assert_uint_eq(again->id, 2);
	ck_assert_uint_eq(pending_count(t), 2);
	ck_assert_ptr_null(pending_get(t, 9));
	ck_assert(pending_remove(t, 1));
	ck_assert(!pending_remove(t, 1));
	ck_assert_uint_eq(pending_get(t, 2)->id, 2);
	pending_del(t);
}
END_TEST

START_TEST(test_limits_and_expiry)
{
	struct pending_limits lim = { .max_requests = 3, .max_age_s = 60, .max_per_source = 2 };
	struct pending_table *t = pending_new(&lim);
	const struct pending_req *r;
	uint8_t key[WG_KEY_LEN], csr[32];
	struct netaddr a = ip("2001:db8:1:2::5"), a2 = ip("2001:db8:1:2::99");
	struct netaddr b = ip("192.0.2.1"), c = ip("192.0.2.2");
	char name[8];

	ck_assert_ptr_nonnull(t);
	for (int i = 0; i < 6; i++) {
		fill(key, sizeof(key), (uint8_t)(10 + i));
		fill(csr, sizeof(csr), (uint8_t)(10 + i));
		snprintf(name, sizeof(name), "h%d", i);
		enum pending_add_result res = pending_add(t, name, key, csr,
		    i < 2 ? &a : i == 2 ? &a2 : i < 4 ? &b : &c, 100, &r);
		/* one /64 is one source: its third request waits its turn */
		ck_assert_int_eq(res, i < 2 ? PENDING_ADDED : i == 2 ? PENDING_SOURCE_BUSY :
		    i == 3 ? PENDING_ADDED : PENDING_FULL);
	}
	ck_assert_uint_eq(pending_count(t), 3);
	ck_assert_uint_eq(pending_expire(t, 159), 0);
	ck_assert_uint_eq(pending_expire(t, 160), 3);
	fill(key, sizeof(key), 99);
	fill(csr, sizeof(csr), 99);
	ck_assert_int_eq(pending_add(t, "late", key, csr, &c, 200, &r), PENDING_ADDED);
	ck_assert_uint_eq(r->id, 4);   /* ids are never reused */
	pending_del(t);
	pending_del(NULL);
}
END_TEST

START_TEST(test_code)
{
	uint8_t sha[32] = { 0 };
	char code[PENDING_CODE_LEN + 1];

	pending_code(sha, code);
	ck_assert_str_eq(code, "AAAA-AAAA");
	memset(sha, 0xff, 5);
	pending_code(sha, code);
	ck_assert_str_eq(code, "7777-7777");
	/* 0x00 0x44 0x32 0x14 0xc7: 00000 00001 00010 00011 00100 00101 00110 00111 */
	sha[0] = 0x00; sha[1] = 0x44; sha[2] = 0x32; sha[3] = 0x14; sha[4] = 0xc7;
	pending_code(sha, code);
	ck_assert_str_eq(code, "ABCD-EFGH");
}
END_TEST

START_TEST(test_rate_per_source)
{
	struct pending_limits lim = { .max_new_per_min = 3 };
	struct pending_table *t = pending_new(&lim);
	const struct pending_req *r;
	uint8_t key[WG_KEY_LEN], csr[32];
	struct netaddr a = ip("192.0.2.10"), b = ip("192.0.2.11");
	char name[8];

	ck_assert_ptr_nonnull(t);
	for (int i = 0; i < 4; i++) {
		fill(key, sizeof(key), (uint8_t)(40 + i));
		fill(csr, sizeof(csr), (uint8_t)(40 + i));
		snprintf(name, sizeof(name), "r%d", i);
		ck_assert_int_eq(pending_add(t, name, key, csr, &a, 1000 + i, &r),
		    i < 3 ? PENDING_ADDED : PENDING_RATE);
	}
	/* a resume is no new request; another source has its own budget */
	fill(csr, sizeof(csr), 40);
	fill(key, sizeof(key), 40);
	ck_assert_int_eq(pending_add(t, "r0", key, csr, &a, 1005, &r), PENDING_RESUMED);
	fill(key, sizeof(key), 50);
	fill(csr, sizeof(csr), 50);
	ck_assert_int_eq(pending_add(t, "b0", key, csr, &b, 1005, &r), PENDING_ADDED);
	/* a minute after the first, one more from a */
	fill(key, sizeof(key), 51);
	fill(csr, sizeof(csr), 51);
	ck_assert_int_eq(pending_add(t, "r9", key, csr, &a, 1059, &r), PENDING_RATE);
	ck_assert_int_eq(pending_add(t, "r9", key, csr, &a, 1060, &r), PENDING_ADDED);
	pending_del(t);
}
END_TEST

/* a table of 4 filled by a from 3 requests and b from 1: a new source c may take a's
 * newest, b (1 against a's 2 then) may not; a denied request goes first */
START_TEST(test_make_room)
{
	struct pending_limits lim = { .max_requests = 4 };
	struct pending_table *t = pending_new(&lim);
	const struct pending_req *r;
	uint8_t key[WG_KEY_LEN], csr[32];
	struct netaddr a = ip("192.0.2.1"), b = ip("192.0.2.2"), c = ip("192.0.2.3");
	uint64_t dropped = 0;
	char name[8];

	ck_assert_ptr_nonnull(t);
	ck_assert(!pending_make_room(t, &c, &dropped));        /* not full */
	for (int i = 0; i < 4; i++) {
		fill(key, sizeof(key), (uint8_t)(60 + i));
		fill(csr, sizeof(csr), (uint8_t)(60 + i));
		snprintf(name, sizeof(name), "m%d", i);
		ck_assert_int_eq(pending_add(t, name, key, csr, i < 3 ? &a : &b, 100, &r),
		    PENDING_ADDED);
	}
	fill(key, sizeof(key), 70);
	fill(csr, sizeof(csr), 70);
	ck_assert_int_eq(pending_add(t, "c0", key, csr, &c, 101, &r), PENDING_FULL);
	ck_assert(pending_make_room(t, &c, &dropped));
	ck_assert_uint_eq(dropped, 3);                         /* a's newest */
	ck_assert_ptr_null(pending_get(t, 3));
	ck_assert_int_eq(pending_add(t, "c0", key, csr, &c, 101, &r), PENDING_ADDED);
	/* a 2, b 1, c 1: b would hold 2 against a's 2; c likewise: no room */
	ck_assert(!pending_make_room(t, &b, &dropped));
	ck_assert(!pending_make_room(t, &c, &dropped));
	ck_assert(!pending_make_room(t, &a, &dropped));
	/* an approved request is never dropped, a denied one first */
	ck_assert(pending_set_state(t, 1, PENDING_APPROVED));
	ck_assert(pending_set_state(t, 4, PENDING_DENIED));
	ck_assert(pending_make_room(t, &a, &dropped));
	ck_assert_uint_eq(dropped, 4);
	ck_assert_ptr_nonnull(pending_get(t, 1));
	ck_assert_uint_eq(pending_count(t), 3);
	pending_del(t);
}
END_TEST

/* a full table of 2048 from 1024 sources two each, then one each more: every source's
 * count is found by the hash (a newcomer takes one), none by a source that holds two */
START_TEST(test_make_room_many)
{
	struct pending_limits lim = { .max_requests = 2048 };
	struct pending_table *t = pending_new(&lim);
	const struct pending_req *r;
	uint8_t key[WG_KEY_LEN], csr[32];
	struct netaddr src, fresh = ip("2001:db8::1");
	uint64_t dropped;
	char name[16];

	ck_assert_ptr_nonnull(t);
	for (int i = 0; i < 2048; i++) {
		memset(key, 0, sizeof(key));
		memset(csr, 0, sizeof(csr));
		memcpy(key, &i, sizeof(i));
		memcpy(csr, &i, sizeof(i));
		src = ip("10.0.0.0");
		src.addr[2] = (uint8_t)((i / 2) >> 8);
		src.addr[3] = (uint8_t)(i / 2);
		snprintf(name, sizeof(name), "h%d", i);
		ck_assert_int_eq(pending_add(t, name, key, csr, &src, 100, &r), PENDING_ADDED);
	}
	/* src (10.0.3.255) holds 2: no other source holds 4 */
	ck_assert(!pending_make_room(t, &src, &dropped));
	ck_assert(pending_make_room(t, &fresh, &dropped));
	ck_assert_uint_eq(dropped, 2);         /* the newest of the first source to hold 2 */
	pending_del(t);
}
END_TEST

/* Renewals are an enrolled host's, not a stranger's flood: making room never drops one,
 * even where they are the newest requests of the source that holds the most. */
START_TEST(test_make_room_keeps_renewals)
{
	struct pending_limits lim = { .max_requests = 5 };
	struct pending_table *t = pending_new(&lim);
	const struct pending_req *r;
	uint8_t key[WG_KEY_LEN], csr[32];
	struct netaddr a = ip("192.0.2.50"), c = ip("192.0.2.51"), d = ip("192.0.2.52");
	uint64_t dropped = 0;
	char name[8];

	ck_assert_ptr_nonnull(t);
	for (int i = 0; i < 5; i++) {
		fill(key, sizeof(key), (uint8_t)(90 + i));
		fill(csr, sizeof(csr), (uint8_t)(90 + i));
		snprintf(name, sizeof(name), "%c%d", i < 2 ? 'j' : 'r', i);
		if (i < 2) {
			ck_assert_int_eq(pending_add(t, name, key, csr, &a, 100, &r), PENDING_ADDED);
		} else {
			uint8_t *cur = malloc(4);
			ck_assert_ptr_nonnull(cur);
			memcpy(cur, "cert", 4);
			ck_assert_int_eq(pending_add_renewal(t, name, key, csr, &a, 100, cur, 4, &r),
			    PENDING_ADDED);
		}
	}
	/* a holds two waiting joins (ids 1, 2) and three renewals (3, 4, 5, the newest) */
	ck_assert(pending_make_room(t, &c, &dropped));
	ck_assert_uint_eq(dropped, 2);
	for (uint64_t id = 3; id <= 5; id++)
		ck_assert(pending_get(t, id) != NULL && pending_get(t, id)->renewal);
	fill(key, sizeof(key), 99);
	fill(csr, sizeof(csr), 99);
	ck_assert_int_eq(pending_add(t, "c0", key, csr, &c, 101, &r), PENDING_ADDED);
	/* a's one join against c's one: no room, and the renewals still not counted */
	ck_assert(!pending_make_room(t, &d, &dropped));
	ck_assert_uint_eq(pending_count(t), 5);
	pending_del(t);
}
END_TEST

static int freed;

static void
count_free(void *p)
{
	freed++;
	free(p);
}

START_TEST(test_user_data_freed)
{
	struct pending_limits lim = { .max_age_s = 60, .user_free = count_free };
	struct pending_table *t = pending_new(&lim);
	const struct pending_req *r;
	uint8_t key[WG_KEY_LEN], csr[32];
	struct netaddr a = ip("192.0.2.20");

	freed = 0;
	for (int i = 0; i < 3; i++) {
		fill(key, sizeof(key), (uint8_t)(60 + i));
		fill(csr, sizeof(csr), (uint8_t)(60 + i));
		ck_assert_int_eq(pending_add(t, i == 0 ? "u0" : i == 1 ? "u1" : "u2", key, csr, &a,
		    i == 2 ? 150 : 100, &r), PENDING_ADDED);
		ck_assert(pending_set_user(t, r->id, malloc(8)));
	}
	ck_assert(!pending_set_user(t, 99, NULL));
	ck_assert(pending_set_user(t, 1, malloc(8)));   /* replaces: the old one goes */
	ck_assert_int_eq(freed, 1);
	ck_assert(pending_remove(t, 1));
	ck_assert_int_eq(freed, 2);
	ck_assert_uint_eq(pending_expire(t, 200), 1);  /* u1, created at 100 */
	ck_assert_int_eq(freed, 3);
	ck_assert_ptr_nonnull(pending_get(t, 3)->user);
	pending_del(t);
	ck_assert_int_eq(freed, 4);
}
END_TEST

START_TEST(test_approved_holds_name_and_key)
{
	struct pending_table *t = pending_new(NULL);
	const struct pending_req *r;
	uint8_t key[WG_KEY_LEN], key2[WG_KEY_LEN], csr[32], csr2[32];
	struct netaddr a = ip("192.0.2.30");

	fill(key, sizeof(key), 70);
	fill(key2, sizeof(key2), 71);
	fill(csr, sizeof(csr), 70);
	fill(csr2, sizeof(csr2), 71);
	ck_assert_int_eq(pending_add(t, "nas", key, csr, &a, 10, &r), PENDING_ADDED);
	ck_assert(pending_set_state(t, r->id, PENDING_APPROVED));
	/* approved and not yet fetched: the name and the key stay bound */
	ck_assert_int_eq(pending_add(t, "nas", key2, csr2, &a, 11, &r), PENDING_CONFLICT);
	ck_assert_int_eq(pending_add(t, "other", key, csr2, &a, 11, &r), PENDING_CONFLICT);
	ck_assert_int_eq(pending_add(t, "nas", key, csr, &a, 12, &r), PENDING_RESUMED);
	ck_assert_int_eq(r->state, PENDING_APPROVED);
	pending_del(t);
}
END_TEST

/* A renewal: no source bound, its current certificate held (and freed) by the table, a
 * join for its key refused while it is kept, another CSR of the same key refused until the
 * caller drops the older one. */
START_TEST(test_renewal)
{
	struct pending_limits lim = { .max_per_source = 1, .max_new_per_min = 1 };
	struct pending_table *t = pending_new(&lim);
	const struct pending_req *r, *again;
	uint8_t key[WG_KEY_LEN], key2[WG_KEY_LEN], csr[32], csr2[32], csr3[32];
	struct netaddr a = ip("192.0.2.40");
	uint8_t *cur = malloc(4), *cur2 = malloc(4);

	fill(key, sizeof(key), 80);
	fill(key2, sizeof(key2), 81);
	fill(csr, sizeof(csr), 80);
	fill(csr2, sizeof(csr2), 81);
	fill(csr3, sizeof(csr3), 82);
	memcpy(cur, "cert", 4);
	/* the source's one waiting join does not stop an authenticated host's renewal */
	ck_assert_int_eq(pending_add(t, "other", key2, csr3, &a, 10, &r), PENDING_ADDED);
	ck_assert_int_eq(pending_add_renewal(t, "nas", key, csr, &a, 10, cur, 4, &r),
	    PENDING_ADDED);
	ck_assert(r->renewal);
	ck_assert_ptr_eq(r->current, cur);
	ck_assert_uint_eq(r->current_len, 4);
	ck_assert_int_eq(pending_add_renewal(t, "nas", key, csr, &a, 11, cur2, 4, &again),
	    PENDING_RESUMED);
	ck_assert_uint_eq(again->id, r->id);
	/* a join for its key, or another CSR of it while the first is kept */
	ck_assert_int_eq(pending_add(t, "x", key, csr2, &a, 12, &again), PENDING_CONFLICT);
	ck_assert_int_eq(pending_add_renewal(t, "nas", key, csr2, &a, 12, cur2, 4, &again),
	    PENDING_CONFLICT);
	/* a renewal of a key a join request holds */
	ck_assert_int_eq(pending_add_renewal(t, "other", key2, csr2, &a, 12, cur2, 4, &again),
	    PENDING_CONFLICT);
	ck_assert(pending_remove(t, r->id));        /* frees cur (ASan: no leak) */
	ck_assert_int_eq(pending_add_renewal(t, "nas", key, csr2, &a, 13, cur2, 4, &again),
	    PENDING_ADDED);
	ck_assert_uint_eq(again->id, 3);
	pending_del(t);                               /* frees cur2 */
}
END_TEST

Suite *
pending_suite(void)
{
	Suite *s = suite_create("pending");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_add_resume_conflict);
	tcase_add_test(tc, test_limits_and_expiry);
	tcase_add_test(tc, test_code);
	tcase_add_test(tc, test_approved_holds_name_and_key);
	tcase_add_test(tc, test_user_data_freed);
	tcase_add_test(tc, test_rate_per_source);
	tcase_add_test(tc, test_make_room);
	tcase_add_test(tc, test_make_room_many);
	tcase_add_test(tc, test_make_room_keeps_renewals);
	tcase_add_test(tc, test_renewal);
	suite_add_tcase(s, tc);
	return s;
}
