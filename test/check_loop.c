/* Unit tests for rpc/loop.c: fd watchers, end-of-turn callbacks, signals and stop; the
 * timers are in check_loop_timer.c. */
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

/* --- core: io -------------------------------------------------------------------------- */

struct io_seen {
	int calls;
	uint32_t events;
};

static void
io_record(void *arg, uint32_t events)
{
	struct io_seen *s = arg;

	s->calls++;
	s->events = events;
}

START_TEST(test_io_readable)
{
	struct loop_io io;
	struct io_seen s = { 0, 0 };
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(loop_io_add(t_loop, &io, p[0], EPOLLIN, io_record, &s), 0);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(loop_run_once(t_loop, 100), 0);
	ck_assert_int_eq(s.calls, 1);
	ck_assert_uint_eq(s.events, EPOLLIN);
	loop_io_del(t_loop, &io);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_io_not_ready_no_callback)
{
	struct loop_io io;
	struct io_seen s = { 0, 0 };
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(loop_io_add(t_loop, &io, p[0], EPOLLIN, io_record, &s), 0);
	ck_assert_int_eq(loop_run_once(t_loop, 10), 0);
	ck_assert_int_eq(s.calls, 0);
	loop_io_del(t_loop, &io);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_io_mod)
{
	struct loop_io io;
	struct io_seen s = { 0, 0 };
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	/* The write end is never readable, always writable. */
	ck_assert_int_eq(loop_io_add(t_loop, &io, p[1], EPOLLIN, io_record, &s), 0);
	ck_assert_int_eq(loop_run_once(t_loop, 10), 0);
	ck_assert_int_eq(s.calls, 0);
	ck_assert_int_eq(loop_io_mod(t_loop, &io, EPOLLOUT), 0);
	ck_assert_uint_eq(io.events, EPOLLOUT);
	ck_assert_int_eq(loop_run_once(t_loop, 100), 0);
	ck_assert_int_eq(s.calls, 1);
	ck_assert_uint_eq(s.events, EPOLLOUT);
	loop_io_del(t_loop, &io);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_io_mod_unchanged)
{
	struct loop_io io;
	struct io_seen s = { 0, 0 };
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(loop_io_add(t_loop, &io, p[0], EPOLLIN, io_record, &s), 0);
	ck_assert_int_eq(loop_io_mod(t_loop, &io, EPOLLIN), 0);
	ck_assert_uint_eq(io.events, EPOLLIN);
	loop_io_del(t_loop, &io);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_io_del_stops_callbacks)
{
	struct loop_io io;
	struct io_seen s = { 0, 0 };
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(loop_io_add(t_loop, &io, p[0], EPOLLIN, io_record, &s), 0);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(loop_run_once(t_loop, 100), 0);
	ck_assert_int_eq(s.calls, 1);
	loop_io_del(t_loop, &io);
	ck_assert_int_eq(loop_run_once(t_loop, 20), 0); /* still readable, no longer watched */
	ck_assert_int_eq(s.calls, 1);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* Two watchers ready in one turn; the first unregisters the second. */
struct io_pair {
	struct loop *l;
	struct loop_io a, b;
	int a_calls, b_calls;
};

static void
io_a_dels_b(void *arg, uint32_t events)
{
	struct io_pair *p = arg;

	p->a_calls++;
	loop_io_del(p->l, &p->b);
}

static void
io_b_dels_a(void *arg, uint32_t events)
{
	struct io_pair *p = arg;

	p->b_calls++;
	loop_io_del(p->l, &p->a);
}

START_TEST(test_io_del_from_callback_same_turn)
{
	struct io_pair pr;
	int p1[2], p2[2];

	memset(&pr, 0, sizeof(pr));
	pr.l = t_loop;
	ck_assert_int_eq(pipe(p1), 0);
	ck_assert_int_eq(pipe(p2), 0);
	ck_assert_int_eq(write(p1[1], "x", 1), 1);
	ck_assert_int_eq(write(p2[1], "x", 1), 1);
	ck_assert_int_eq(loop_io_add(t_loop, &pr.a, p1[0], EPOLLIN, io_a_dels_b, &pr), 0);
	ck_assert_int_eq(loop_io_add(t_loop, &pr.b, p2[0], EPOLLIN, io_b_dels_a, &pr), 0);
	ck_assert_int_eq(loop_run_once(t_loop, 100), 0);
	/* Whichever ran first removed the other before its event was delivered. */
	ck_assert_int_eq(pr.a_calls + pr.b_calls, 1);
	close(p1[0]);
	close(p1[1]);
	close(p2[0]);
	close(p2[1]);
}
END_TEST

/* --- core: deferred -------------------------------------------------------------------- */

START_TEST(test_defer_runs_once)
{
	struct loop_defer d;
	int n = 0;

	memset(&d, 0, sizeof(d));
	loop_defer(t_loop, &d, lt_count, &n);
	loop_defer(t_loop, &d, lt_count, &n);
	ck_assert_int_eq(n, 0); /* not run by loop_defer itself */
	ck_assert_int_eq(loop_run_once(t_loop, 0), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(loop_run_once(t_loop, 0), 0);
	ck_assert_int_eq(n, 1);
}
END_TEST

struct chain {
	struct loop *l;
	struct loop_defer d1, d2;
	struct trace tr;
};

static void
chain_second(void *arg)
{
	struct chain *c = arg;

	c->tr.ids[c->tr.n++] = 2;
}

static void
chain_first(void *arg)
{
	struct chain *c = arg;

	c->tr.ids[c->tr.n++] = 1;
	loop_defer(c->l, &c->d2, chain_second, c);
}

START_TEST(test_defer_from_deferred_same_pass)
{
	struct chain c;

	memset(&c, 0, sizeof(c));
	c.l = t_loop;
	loop_defer(t_loop, &c.d1, chain_first, &c);
	ck_assert_int_eq(loop_run_once(t_loop, 0), 0);
	ck_assert_int_eq(c.tr.n, 2);
	ck_assert_int_eq(c.tr.ids[0], 1);
	ck_assert_int_eq(c.tr.ids[1], 2);
}
END_TEST

static void
chain_requeue_self(void *arg)
{
	struct chain *c = arg;

	c->tr.ids[c->tr.n++] = 1;
	if (c->tr.n < 3)
		loop_defer(c->l, &c->d1, chain_requeue_self, c);
}

START_TEST(test_defer_requeue_self)
{
	struct chain c;

	memset(&c, 0, sizeof(c));
	c.l = t_loop;
	loop_defer(t_loop, &c.d1, chain_requeue_self, &c);
	ck_assert_int_eq(loop_run_once(t_loop, 0), 0);
	ck_assert_int_eq(c.tr.n, 3);
	ck_assert(!c.d1.queued);
}
END_TEST

/* An io callback queues work; it runs after the io callback, in the same turn. */
struct io_then_defer {
	struct loop *l;
	struct loop_defer d;
	struct trace tr;
};

static void
itd_defer(void *arg)
{
	struct io_then_defer *x = arg;

	x->tr.ids[x->tr.n++] = 2;
}

static void
itd_io(void *arg, uint32_t events)
{
	struct io_then_defer *x = arg;

	x->tr.ids[x->tr.n++] = 1;
	loop_defer(x->l, &x->d, itd_defer, x);
}

START_TEST(test_defer_after_events_of_turn)
{
	struct io_then_defer x;
	struct loop_io io;
	int p[2];

	memset(&x, 0, sizeof(x));
	x.l = t_loop;
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(loop_io_add(t_loop, &io, p[0], EPOLLIN, itd_io, &x), 0);
	ck_assert_int_eq(loop_run_once(t_loop, 100), 0);
	ck_assert_int_eq(x.tr.n, 2);
	ck_assert_int_eq(x.tr.ids[0], 1);
	ck_assert_int_eq(x.tr.ids[1], 2);
	loop_io_del(t_loop, &io);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_defer_cancel)
{
	struct loop_defer d1, d2, d3;
	struct mark m1, m2, m3;
	struct trace tr = { .n = 0 };

	memset(&d1, 0, sizeof(d1));
	memset(&d2, 0, sizeof(d2));
	memset(&d3, 0, sizeof(d3));
	m1 = (struct mark){ &tr, 1 };
	m2 = (struct mark){ &tr, 2 };
	m3 = (struct mark){ &tr, 3 };
	loop_defer(t_loop, &d1, lt_record, &m1);
	loop_defer(t_loop, &d2, lt_record, &m2);
	loop_defer(t_loop, &d3, lt_record, &m3);
	loop_defer_cancel(t_loop, &d2);
	ck_assert(!d2.queued);
	ck_assert_int_eq(loop_run_once(t_loop, 0), 0);
	ck_assert_int_eq(tr.n, 2);
	ck_assert_int_eq(tr.ids[0], 1);
	ck_assert_int_eq(tr.ids[1], 3);
}
END_TEST

START_TEST(test_defer_cancel_tail_then_queue)
{
	struct loop_defer d1, d2, d3;
	struct mark m1, m2, m3;
	struct trace tr = { .n = 0 };

	memset(&d1, 0, sizeof(d1));
	memset(&d2, 0, sizeof(d2));
	memset(&d3, 0, sizeof(d3));
	m1 = (struct mark){ &tr, 1 };
	m2 = (struct mark){ &tr, 2 };
	m3 = (struct mark){ &tr, 3 };
	loop_defer(t_loop, &d1, lt_record, &m1);
	loop_defer(t_loop, &d2, lt_record, &m2);
	loop_defer_cancel(t_loop, &d2); /* the tail */
	loop_defer(t_loop, &d3, lt_record, &m3);
	ck_assert_int_eq(loop_run_once(t_loop, 0), 0);
	ck_assert_int_eq(tr.n, 2);
	ck_assert_int_eq(tr.ids[0], 1);
	ck_assert_int_eq(tr.ids[1], 3);
}
END_TEST

START_TEST(test_defer_cancel_only_then_queue)
{
	struct loop_defer d1, d2;
	struct mark m1, m2;
	struct trace tr = { .n = 0 };

	memset(&d1, 0, sizeof(d1));
	memset(&d2, 0, sizeof(d2));
	m1 = (struct mark){ &tr, 1 };
	m2 = (struct mark){ &tr, 2 };
	loop_defer(t_loop, &d1, lt_record, &m1);
	loop_defer_cancel(t_loop, &d1);
	loop_defer_cancel(t_loop, &d1); /* not queued: harmless */
	loop_defer(t_loop, &d2, lt_record, &m2);
	ck_assert_int_eq(loop_run_once(t_loop, 0), 0);
	ck_assert_int_eq(tr.n, 1);
	ck_assert_int_eq(tr.ids[0], 2);
}
END_TEST

START_TEST(test_del_runs_deferred)
{
	struct loop_defer d;
	int n = 0;

	memset(&d, 0, sizeof(d));
	loop_defer(t_loop, &d, lt_count, &n);
	loop_del(t_loop);
	t_loop = NULL;
	ck_assert_int_eq(n, 1);
}
END_TEST

/* --- core: signals, stop --------------------------------------------------------------- */

START_TEST(test_signal_delivered_in_loop)
{
	sigset_t old, usr1;
	int n = 0;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	ck_assert_int_eq(sigprocmask(SIG_BLOCK, NULL, &old), 0);
	ck_assert_int_eq(loop_signal_add(t_loop, SIGUSR1, lt_count, &n), 0);
	ck_assert_int_eq(raise(SIGUSR1), 0); /* blocked: stays pending for the signalfd */
	ck_assert_int_eq(n, 0);
	lt_run_until(&n, 1);
	ck_assert_int_eq(n, 1);
	/* Nothing left pending; restore the mask for the tests that follow (CK_FORK=no). */
	loop_del(t_loop);
	t_loop = NULL;
	if (!sigismember(&old, SIGUSR1))
		sigprocmask(SIG_UNBLOCK, &usr1, NULL);
}
END_TEST

static void
stop_cb(void *arg)
{
	loop_stop(arg);
}

START_TEST(test_stop_ends_run)
{
	struct loop_timer t;
	uint64_t start = lt_mono_ms();

	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(loop_timer_set(t_loop, &t, 5, stop_cb, t_loop), 0);
	ck_assert(!loop_stopped(t_loop));
	ck_assert_int_eq(loop_run(t_loop), 0);
	ck_assert(loop_stopped(t_loop));
	ck_assert_uint_lt(lt_mono_ms() - start, 150);
}
END_TEST

/* A timer queues the stop as end-of-turn work. */
struct stop_later {
	struct loop *l;
	struct loop_defer d;
};

static void
stop_later_timer(void *arg)
{
	struct stop_later *x = arg;

	loop_defer(x->l, &x->d, stop_cb, x->l);
}

START_TEST(test_stop_from_deferred)
{
	struct stop_later x;
	struct loop_timer t;

	memset(&x, 0, sizeof(x));
	memset(&t, 0, sizeof(t));
	x.l = t_loop;
	ck_assert_int_eq(loop_timer_set(t_loop, &t, 1, stop_later_timer, &x), 0);
	ck_assert_int_eq(loop_run(t_loop), 0);
	ck_assert(loop_stopped(t_loop));
	ck_assert(!x.d.queued);
}
END_TEST

START_TEST(test_run_clears_stop)
{
	struct loop_timer t;

	memset(&t, 0, sizeof(t));
	loop_stop(t_loop);
	ck_assert(loop_stopped(t_loop));
	ck_assert_int_eq(loop_timer_set(t_loop, &t, 1, stop_cb, t_loop), 0);
	ck_assert_int_eq(loop_run(t_loop), 0); /* an old stop does not end a new run */
	ck_assert(!loop_timer_armed(&t));
}
END_TEST

START_TEST(test_run_once_timeout)
{
	uint64_t start = lt_mono_ms(), took;

	ck_assert_int_eq(loop_run_once(t_loop, 20), 0);
	took = lt_mono_ms() - start;
	ck_assert_uint_ge(took, 19);
	ck_assert_uint_lt(took, 120);
}
END_TEST

/* --- limits ---------------------------------------------------------------------------- */
START_TEST(test_signal_table_full)
{
	static const int sigs[9] = { SIGUSR1, SIGUSR2, SIGHUP, SIGTERM, SIGINT, SIGQUIT,
		SIGPIPE, SIGWINCH, SIGCHLD };
	sigset_t old;
	int n = 0;

	ck_assert_int_eq(sigprocmask(SIG_BLOCK, NULL, &old), 0);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(loop_signal_add(t_loop, sigs[i], lt_count, &n), 0);
	ck_assert_int_eq(loop_signal_add(t_loop, sigs[8], lt_count, &n), -ENOSPC);
	loop_del(t_loop);
	t_loop = NULL;
	sigprocmask(SIG_SETMASK, &old, NULL);
}
END_TEST
START_TEST(test_stop_from_prequeued_defer)
{
	struct loop_defer d;
	uint64_t start, took;

	memset(&d, 0, sizeof(d));
	/* Work queued before loop_run runs at the top of the first turn; its stop must end
	 * the run without waiting for an unrelated event. */
	loop_defer(t_loop, &d, stop_cb, t_loop);
	start = lt_guard_arm();
	ck_assert_int_eq(loop_run(t_loop), 0);
	took = lt_guard_disarm(start);
	ck_assert(loop_stopped(t_loop));
	ck_assert_msg(!t_guard_fired && took < 100, "loop_run took %llu ms (guard %s)",
	    (unsigned long long)took, t_guard_fired ? "fired" : "quiet");
}
END_TEST

/* --- errors ---------------------------------------------------------------------------- */

START_TEST(test_io_add_bad_fd)
{
	struct loop_io io;
	struct io_seen s = { 0, 0 };

	ck_assert_int_eq(loop_io_add(t_loop, &io, -1, EPOLLIN, io_record, &s), -EBADF);
}
END_TEST

START_TEST(test_io_add_twice)
{
	struct loop_io io, io2;
	struct io_seen s = { 0, 0 };
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(loop_io_add(t_loop, &io, p[0], EPOLLIN, io_record, &s), 0);
	ck_assert_int_eq(loop_io_add(t_loop, &io2, p[0], EPOLLIN, io_record, &s), -EEXIST);
	loop_io_del(t_loop, &io);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_io_mod_unregistered)
{
	struct loop_io io;
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	memset(&io, 0, sizeof(io));
	io.fd = p[0];
	io.events = EPOLLIN;
	ck_assert_int_eq(loop_io_mod(t_loop, &io, EPOLLOUT), -ENOENT);
	ck_assert_uint_eq(io.events, EPOLLIN); /* unchanged on failure */
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_del_null)
{
	loop_del(NULL);
}
END_TEST

Suite *
loop_suite(void)
{
	Suite *s = suite_create("loop");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, lt_setup, lt_teardown);
	tcase_add_test(tc, test_io_readable);
	tcase_add_test(tc, test_io_not_ready_no_callback);
	tcase_add_test(tc, test_io_mod);
	tcase_add_test(tc, test_io_mod_unchanged);
	tcase_add_test(tc, test_io_del_stops_callbacks);
	tcase_add_test(tc, test_io_del_from_callback_same_turn);
	tcase_add_test(tc, test_defer_runs_once);
	tcase_add_test(tc, test_defer_from_deferred_same_pass);
	tcase_add_test(tc, test_defer_requeue_self);
	tcase_add_test(tc, test_defer_after_events_of_turn);
	tcase_add_test(tc, test_defer_cancel);
	tcase_add_test(tc, test_defer_cancel_tail_then_queue);
	tcase_add_test(tc, test_defer_cancel_only_then_queue);
	tcase_add_test(tc, test_del_runs_deferred);
	tcase_add_test(tc, test_signal_delivered_in_loop);
	tcase_add_test(tc, test_stop_ends_run);
	tcase_add_test(tc, test_stop_from_deferred);
	tcase_add_test(tc, test_run_clears_stop);
	tcase_add_test(tc, test_run_once_timeout);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, lt_setup, lt_teardown);
	tcase_add_test(tc, test_signal_table_full);
	tcase_add_test(tc, test_stop_from_prequeued_defer);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, lt_setup, lt_teardown);
	tcase_add_test(tc, test_io_add_bad_fd);
	tcase_add_test(tc, test_io_add_twice);
	tcase_add_test(tc, test_io_mod_unregistered);
	tcase_add_test(tc, test_del_null);
	suite_add_tcase(s, tc);
	return s;
}
