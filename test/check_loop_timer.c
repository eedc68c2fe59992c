/* Unit tests for the timers of rpc/loop.c: deadline order, cancel and re-arm, a
 * thousand at once, zero and huge delays, and a far timer not stretching a turn. fd
 * watchers, deferred work and signals are in check_loop.c. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "rpc/loop.h"
#include "test/check_suites.h"
#include "test/looptest.h"

#define MANY_TIMERS 1000

/* --- core: timers ---------------------------------------------------------------------- */

START_TEST(test_timers_deadline_order)
{
	static const uint64_t delays[5] = { 30, 10, 20, 0, 5 };
	static const int want[5] = { 3, 4, 1, 2, 0 };
	struct loop_timer t[5];
	struct mark m[5];
	struct trace tr = { .n = 0 };

	memset(t, 0, sizeof(t));
	for (int i = 0; i < 5; i++) {
		m[i] = (struct mark){ &tr, i };
		ck_assert_int_eq(loop_timer_set(t_loop, &t[i], delays[i], lt_record, &m[i]), 0);
	}
	lt_run_until(&tr.n, 5);
	ck_assert_int_eq(tr.n, 5);
	ck_assert_mem_eq(tr.ids, want, sizeof(want));
}
END_TEST

START_TEST(test_timer_cancel_prevents_firing)
{
	struct loop_timer a, b;
	int na = 0, nb = 0;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ck_assert_int_eq(loop_timer_set(t_loop, &a, 2, lt_count, &na), 0);
	ck_assert_int_eq(loop_timer_set(t_loop, &b, 10, lt_count, &nb), 0);
	loop_timer_cancel(t_loop, &a);
	lt_run_until(&nb, 1);
	ck_assert_int_eq(nb, 1);
	ck_assert_int_eq(na, 0);
	ck_assert(!loop_timer_armed(&a));
}
END_TEST

START_TEST(test_timer_cancel_unarmed_harmless)
{
	struct loop_timer a;
	int n = 0;

	memset(&a, 0, sizeof(a));
	loop_timer_cancel(t_loop, &a);
	ck_assert(!loop_timer_armed(&a));
	ck_assert_int_eq(loop_timer_set(t_loop, &a, 0, lt_count, &n), 0);
	lt_run_until(&n, 1);
	loop_timer_cancel(t_loop, &a); /* already fired */
	ck_assert_int_eq(n, 1);
}
END_TEST

START_TEST(test_timer_rearm_moves)
{
	struct loop_timer a, b;
	struct mark ma, mb;
	struct trace tr = { .n = 0 };

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ma = (struct mark){ &tr, 1 };
	mb = (struct mark){ &tr, 2 };
	ck_assert_int_eq(loop_timer_set(t_loop, &a, 2, lt_record, &ma), 0);
	ck_assert_int_eq(loop_timer_set(t_loop, &b, 10, lt_record, &mb), 0);
	ck_assert_int_eq(loop_timer_set(t_loop, &a, 20, lt_record, &ma), 0);
	ck_assert_uint_eq(a.when_ms, loop_now_ms(t_loop) + 20);
	lt_run_until(&tr.n, 2);
	ck_assert_int_eq(tr.n, 2); /* a fired once, not once per set */
	ck_assert_int_eq(tr.ids[0], 2);
	ck_assert_int_eq(tr.ids[1], 1);
}
END_TEST

START_TEST(test_timer_armed)
{
	struct loop_timer a;
	int n = 0;

	memset(&a, 0, sizeof(a));
	ck_assert(!loop_timer_armed(&a));
	ck_assert_int_eq(loop_timer_set(t_loop, &a, 0, lt_count, &n), 0);
	ck_assert(loop_timer_armed(&a));
	lt_run_until(&n, 1);
	ck_assert_int_eq(n, 1);
	ck_assert(!loop_timer_armed(&a)); /* disarmed once fired */
	ck_assert_int_eq(loop_timer_set(t_loop, &a, 1000, lt_count, &n), 0);
	ck_assert(loop_timer_armed(&a));
	loop_timer_cancel(t_loop, &a);
	ck_assert(!loop_timer_armed(&a));
}
END_TEST

struct many {
	struct loop *l;
	uint64_t last_when;
	int fired;
	int out_of_order;
	int early;
};

struct many_timer {
	struct loop_timer t;
	struct many *m;
};

static void
many_fired(void *arg)
{
	struct many_timer *mt = arg;
	struct many *m = mt->m;

	if (mt->t.when_ms < m->last_when)
		m->out_of_order++;
	if (loop_now_ms(m->l) < mt->t.when_ms)
		m->early++;
	m->last_when = mt->t.when_ms;
	m->fired++;
}

START_TEST(test_many_timers_in_order)
{
	struct many_timer *mt;
	struct many m = { t_loop, 0, 0, 0, 0 };
	unsigned seed = 12345;

	mt = calloc(MANY_TIMERS, sizeof(*mt));
	ck_assert_ptr_nonnull(mt);
	for (int i = 0; i < MANY_TIMERS; i++) {
		mt[i].m = &m;
		ck_assert_int_eq(loop_timer_set(t_loop, &mt[i].t, (uint64_t)(rand_r(&seed) % 51),
		    many_fired, &mt[i]), 0);
	}
	lt_run_until(&m.fired, MANY_TIMERS);
	ck_assert_int_eq(m.fired, MANY_TIMERS);
	ck_assert_int_eq(m.out_of_order, 0);
	ck_assert_int_eq(m.early, 0);
	for (int i = 0; i < MANY_TIMERS; i++)
		ck_assert(!loop_timer_armed(&mt[i].t));
	free(mt);
}
END_TEST

START_TEST(test_many_timers_cancel_half)
{
	struct many_timer *mt;
	struct many m = { t_loop, 0, 0, 0, 0 };
	unsigned seed = 777;
	uint64_t start = lt_mono_ms();

	mt = calloc(MANY_TIMERS, sizeof(*mt));
	ck_assert_ptr_nonnull(mt);
	for (int i = 0; i < MANY_TIMERS; i++) {
		mt[i].m = &m;
		ck_assert_int_eq(loop_timer_set(t_loop, &mt[i].t, (uint64_t)(rand_r(&seed) % 51),
		    many_fired, &mt[i]), 0);
	}
	for (int i = 0; i < MANY_TIMERS; i += 2)
		loop_timer_cancel(t_loop, &mt[i].t);
	while (lt_mono_ms() - start < 80)
		ck_assert_int_eq(loop_run_once(t_loop, 10), 0);
	ck_assert_int_eq(m.fired, MANY_TIMERS / 2);
	ck_assert_int_eq(m.out_of_order, 0);
	free(mt);
}
END_TEST

/* --- limits ---------------------------------------------------------------------------- */

START_TEST(test_timer_zero_delay_next_turn)
{
	struct loop_timer t;
	int n = 0;

	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(loop_timer_set(t_loop, &t, 0, lt_count, &n), 0);
	ck_assert_int_eq(n, 0); /* never from loop_timer_set itself */
	ck_assert_int_eq(loop_run_once(t_loop, 1000), 0);
	ck_assert_int_eq(n, 1);
}
END_TEST

struct rearm {
	struct loop *l;
	struct loop_timer t;
	int n;
};

static void
rearm_zero(void *arg)
{
	struct rearm *r = arg;

	r->n++;
	if (r->n < 50) /* cap: without it a broken loop would spin forever */
		loop_timer_set(r->l, &r->t, 0, rearm_zero, r);
}

START_TEST(test_timer_rearmed_zero_from_callback_next_turn)
{
	struct rearm r;

	memset(&r, 0, sizeof(r));
	r.l = t_loop;
	ck_assert_int_eq(loop_timer_set(t_loop, &r.t, 0, rearm_zero, &r), 0);
	ck_assert_int_eq(loop_run_once(t_loop, 0), 0);
	/* One turn fires what was due when it began; a timer re-armed for "now" from its own
	 * callback waits for the next turn, or it starves every fd in the loop. */
	ck_assert_int_eq(r.n, 1);
	loop_timer_cancel(t_loop, &r.t);
}
END_TEST

START_TEST(test_far_timer_keeps_run_once_timeout)
{
	struct loop_timer t;
	uint64_t took;
	int n = 0;

	memset(&t, 0, sizeof(t));
	/* ~24.9 days: more milliseconds than an int holds. */
	ck_assert_int_eq(loop_timer_set(t_loop, &t, (uint64_t)INT_MAX + 1, lt_count, &n), 0);
	took = lt_run_once_guarded(20);
	ck_assert_msg(!t_guard_fired && took < 100,
	    "loop_run_once(l, 20) took %llu ms (guard %s)", (unsigned long long)took,
	    t_guard_fired ? "fired" : "quiet");
	ck_assert_int_eq(n, 0);
	loop_timer_cancel(t_loop, &t);
}
END_TEST

START_TEST(test_huge_delay_does_not_fire)
{
	struct loop_timer t;
	int n = 0;

	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(loop_timer_set(t_loop, &t, UINT64_MAX, lt_count, &n), 0);
	(void)lt_run_once_guarded(0);
	ck_assert_int_eq(n, 0);
	ck_assert(loop_timer_armed(&t));
	loop_timer_cancel(t_loop, &t);
}
END_TEST

Suite *
loop_timer_suite(void)
{
	Suite *s = suite_create("loop_timer");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, lt_setup, lt_teardown);
	tcase_add_test(tc, test_timers_deadline_order);
	tcase_add_test(tc, test_timer_cancel_prevents_firing);
	tcase_add_test(tc, test_timer_cancel_unarmed_harmless);
	tcase_add_test(tc, test_timer_rearm_moves);
	tcase_add_test(tc, test_timer_armed);
	tcase_add_test(tc, test_many_timers_in_order);
	tcase_add_test(tc, test_many_timers_cancel_half);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, lt_setup, lt_teardown);
	tcase_add_test(tc, test_timer_zero_delay_next_turn);
	tcase_add_test(tc, test_timer_rearmed_zero_from_callback_next_turn);
	tcase_add_test(tc, test_far_timer_keeps_run_once_timeout);
	tcase_add_test(tc, test_huge_delay_does_not_fire);
	suite_add_tcase(s, tc);
	return s;
}
