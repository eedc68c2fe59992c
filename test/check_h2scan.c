/* Unit tests for rpc/h2scan.c: the server's input reaches nghttp2 byte for byte, but for
 * RST_STREAM frames on client streams the session calls idle (a stock gRPC client's early
 * cancel), fed whole, split at every byte and one byte at a time. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "rpc/h2scan.h"
#include "test/check_suites.h"

struct sink {
	uint8_t out[4096];
	size_t len;
	int32_t idle_ids[8];          /* streams the session calls idle */
	size_t n_idle;
	unsigned asked;
	size_t stop_after;            /* feed fails once this many bytes went in (0: never) */
};

static long
sink_feed(void *arg, const uint8_t *p, size_t n)
{
	struct sink *k = arg;

	ck_assert_uint_le(k->len + n, sizeof(k->out));
	memcpy(k->out + k->len, p, n);
	k->len += n;
	return k->stop_after != 0 && k->len >= k->stop_after ? -505 : 0;
}

static bool
sink_idle(void *arg, int32_t id)
{
	struct sink *k = arg;

	k->asked++;
	for (size_t i = 0; i < k->n_idle; i++)
		if (k->idle_ids[i] == id)
			return true;
	return false;
}

static size_t
frame(uint8_t *p, uint8_t type, int32_t id, const uint8_t *payload, uint32_t len)
{
	p[0] = (uint8_t)(len >> 16);
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)len;
	p[3] = type;
	p[4] = 0;
	p[5] = (uint8_t)((uint32_t)id >> 24);
	p[6] = (uint8_t)((uint32_t)id >> 16);
	p[7] = (uint8_t)((uint32_t)id >> 8);
	p[8] = (uint8_t)id;
	memcpy(p + 9, payload, len);
	return 9 + len;
}

static const uint8_t cancel[4] = { 0, 0, 0, 8 };
static const uint8_t body[11] = "hello frame";

/* preface, HEADERS 1, RST 1 (live), RST 3 (idle), DATA 1, RST 0 (connection: nghttp2's),
 * RST 5 of 3 bytes (malformed: nghttp2's), PING; *want gets what nghttp2 must see. */
static size_t
input(uint8_t *in, uint8_t *want, size_t *want_len)
{
	size_t n = 0, w = 0, f;

	memcpy(in, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
	n += 24;
	f = frame(in + n, 1, 1, body, sizeof(body));
	n += f;
	f = frame(in + n, 3, 1, cancel, 4);
	n += f;
	memcpy(want, in, n);
	w = n;
	n += frame(in + n, 3, 3, cancel, 4);           /* left out */
	f = frame(in + n, 0, 1, body, 5);
	f += frame(in + n + f, 3, 0, cancel, 4);
	f += frame(in + n + f, 3, 5, cancel, 3);
	f += frame(in + n + f, 6, 0, body, 8);
	memcpy(want + w, in + n, f);
	w += f;
	n += f;
	*want_len = w;
	return n;
}

START_TEST(test_whole_and_split)
{
	uint8_t in[512], want[512];
	size_t n, want_len;

	n = input(in, want, &want_len);
	for (size_t cut = 0; cut <= n; cut++) {
		struct sink k = { .idle_ids = { 3, 5 }, .n_idle = 2 };
		struct h2scan s;

		h2scan_init(&s);
		ck_assert_int_eq(h2scan_feed(&s, in, cut, sink_feed, sink_idle, &k), 0);
		ck_assert_int_eq(h2scan_feed(&s, in + cut, n - cut, sink_feed, sink_idle, &k), 0);
		ck_assert_uint_eq(k.len, want_len);
		ck_assert_mem_eq(k.out, want, want_len);
		ck_assert_uint_eq(s.dropped, 1);
		ck_assert_uint_eq(k.asked, 2);          /* streams 1 and 3; 0 is even, 5 malformed */
	}
}
END_TEST

START_TEST(test_byte_by_byte)
{
	uint8_t in[512], want[512];
	size_t n, want_len;
	struct sink k = { .idle_ids = { 3 }, .n_idle = 1 };
	struct h2scan s;

	n = input(in, want, &want_len);
	h2scan_init(&s);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(h2scan_feed(&s, in + i, 1, sink_feed, sink_idle, &k), 0);
	ck_assert_uint_eq(k.len, want_len);
	ck_assert_mem_eq(k.out, want, want_len);
}
END_TEST

/* Past H2SCAN_IDLE_RST_MAX the session gets them: nghttp2 ends such a connection. */
START_TEST(test_cap)
{
	uint8_t in[24 + (H2SCAN_IDLE_RST_MAX + 2) * 13];
	size_t n = 24;
	struct sink k = { .idle_ids = { 7 }, .n_idle = 1 };
	struct h2scan s;

	memset(in, 'P', 24);
	for (int i = 0; i < H2SCAN_IDLE_RST_MAX + 2; i++)
		n += frame(in + n, 3, 7, cancel, 4);
	h2scan_init(&s);
	ck_assert_int_eq(h2scan_feed(&s, in, n, sink_feed, sink_idle, &k), 0);
	ck_assert_uint_eq(s.dropped, H2SCAN_IDLE_RST_MAX);
	ck_assert_uint_eq(k.len, 24 + 2 * 13);
}
END_TEST

/* A feed that fails stops the scan with its value. */
START_TEST(test_feed_error)
{
	uint8_t in[512], want[512];
	size_t n, want_len;
	struct sink k = { .stop_after = 30 };
	struct h2scan s;

	n = input(in, want, &want_len);
	h2scan_init(&s);
	ck_assert_int_eq(h2scan_feed(&s, in, n, sink_feed, sink_idle, &k), -505);
	ck_assert_uint_lt(k.len, want_len);
}
END_TEST

Suite *
h2scan_suite(void)
{
	Suite *s = suite_create("h2scan");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_whole_and_split);
	tcase_add_test(tc, test_byte_by_byte);
	tcase_add_test(tc, test_cap);
	tcase_add_test(tc, test_feed_error);
	suite_add_tcase(s, tc);
	return s;
}
