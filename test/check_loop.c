/* Unit tests for rpc/loop.c: timers, fd watchers, end-of-turn callbacks, signals. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "rpc/loop.h"
#include "test/check_suites.h"

#define MANY_TIMERS 1000
#define GUARD_MS 150

static struct loop *t_loop;

/* Order in which callbacks ran: each records its id. */
struct trace {
	int ids[64];
	int n;
};

struct mark {
	struct trace *tr;
	int id;
};

static void
setup(void)
{
	t_loop = loop_new();
	ck_assert_ptr_nonnull(t_loop);
}

static void
teardown(void)
{
	loop_del(t_loop);
	t_loop = NULL;
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
record(void *arg)
{
	struct mark *m = arg;

	if (m->tr->n < (int)(sizeof(m->tr->ids) / sizeof(m->tr->ids[0])))
		m->tr->ids[m->tr->n] = m->id;
	m->tr->n++;
}

static void
count(void *arg)
{
	(*(int *)arg)++;
}

/* Turns the loop until *n reaches want or 500 ms pass. */
static void
run_until(int *n, int want)
{
	uint64_t end = mono_ms() + 500;

	while (*n < want && mono_ms() < end)
		ck_assert_int_eq(loop_run_once(t_loop, 100), 0);
}

/* SIGALRM that only interrupts a blocked epoll_wait, so a loop that ignores its timeout
 * fails the test instead of hanging the runner. */
static volatile sig_atomic_t t_guard_fired;

static void
guard_handler(int signo)
{
	(void)signo;
	t_guard_fired = 1;
}

static struct sigaction t_guard_old;

/* Arms the guard: a blocked epoll_wait is interrupted after GUARD_MS. */
static uint64_t
guard_arm(void)
{
	struct sigaction sa;
	struct itimerval it;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = guard_handler; /* no SA_RESTART: epoll_wait returns EINTR */
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGALRM, &sa, &t_guard_old), 0);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = GUARD_MS * 1000;
	t_guard_fired = 0;
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	return mono_ms();
}

/* Disarms the guard; returns the milliseconds since guard_arm returned start. */
static uint64_t
guard_disarm(uint64_t start)
{
	struct itimerval off;

	memset(&off, 0, sizeof(off));
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &t_guard_old, NULL);
	return mono_ms() - start;
}

/* One loop_run_once(timeout_ms) under the guard; returns the milliseconds it took. */
static uint64_t
run_once_guarded(int timeout_ms)
{
	uint64_t start = guard_arm();

	ck_assert_int_eq(loop_run_once(t_loop, timeout_ms), 0);
	return guard_disarm(start);
}

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
		ck_assert_int_eq(loop_timer_set(t_loop, &t[i], delays[i], record, &m[i]), 0);
	}
	run_until(&tr.n, 5);
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
	ck_assert_int_eq(loop_timer_set(t_loop, &a, 2, count, &na), 0);
	ck_assert_int_eq(loop_timer_set(t_loop, &b, 10, count, &nb), 0);
	loop_timer_cancel(t_loop, &a);
	run_until(&nb, 1);
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
	ck_assert_int_eq(loop_timer_set(t_loop, &a, 0, count, &n), 0);
	run_until(&n, 1);
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
	ck_assert_int_eq(loop_timer_set(t_loop, &a, 2, record, &ma), 0);
	ck_assert_int_eq(loop_timer_set(t_loop, &b, 10, record, &mb), 0);
	ck_assert_int_eq(loop_timer_set(t_loop, &a, 20, record, &ma), 0);
	ck_assert_uint_eq(a.when_ms, loop_now_ms(t_loop) + 20);
	run_until(&tr.n, 2);
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
	ck_assert_int_eq(loop_timer_set(t_loop, &a, 0, count, &n), 0);
	ck_assert(loop_timer_armed(&a));
	run_until(&n, 1);
	ck_assert_int_eq(n, 1);
	ck_assert(!loop_timer_armed(&a)); /* disarmed once fired */
	ck_assert_int_eq(loop_timer_set(t_loop, &a, 1000, count, &n), 0);
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
	run_until(&m.fired, MANY_TIMERS);
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
	uint64_t start = mono_ms();

	mt = calloc(MANY_TIMERS, sizeof(*mt));
	ck_assert_ptr_nonnull(mt);
	for (int i = 0; i < MANY_TIMERS; i++) {
		mt[i].m = &m;
		ck_assert_int_eq(loop_timer_set(t_loop, &mt[i].t, (uint64_t)(rand_r(&seed) % 51),
		    many_fired, &mt[i]), 0);
	}
	for (int i = 0; i < MANY_TIMERS; i += 2)
		loop_timer_cancel(t_loop, &mt[i].t);
	while (mono_ms() - start < 80)
		ck_assert_int_eq(loop_run_once(t_loop, 10), 0);
	ck_assert_int_eq(m.fired, MANY_TIMERS / 2);
	ck_assert_int_eq(m.out_of_order, 0);
	free(mt);
}
END_TEST

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
	loop_defer(t_loop, &d, count, &n);
	loop_defer(t_loop, &d, count, &n);
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
	loop_defer(t_loop, &d1, record, &m1);
	loop_defer(t_loop, &d2, record, &m2);
	loop_defer(t_loop, &d3, record, &m3);
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
	loop_defer(t_loop, &d1, record, &m1);
	loop_defer(t_loop, &d2, record, &m2);
	loop_defer_cancel(t_loop, &d2); /* the tail */
	loop_defer(t_loop, &d3, record, &m3);
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
	loop_defer(t_loop, &d1, record, &m1);
	loop_defer_cancel(t_loop, &d1);
	loop_defer_cancel(t_loop, &d1); /* not queued: harmless */
	loop_defer(t_loop, &d2, record, &m2);
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
	loop_defer(t_loop, &d, count, &n);
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
	ck_assert_int_eq(loop_signal_add(t_loop, SIGUSR1, count, &n), 0);
	ck_assert_int_eq(raise(SIGUSR1), 0); /* blocked: stays pending for the signalfd */
	ck_assert_int_eq(n, 0);
	run_until(&n, 1);
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
	uint64_t start = mono_ms();

	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(loop_timer_set(t_loop, &t, 5, stop_cb, t_loop), 0);
	ck_assert(!loop_stopped(t_loop));
	ck_assert_int_eq(loop_run(t_loop), 0);
	ck_assert(loop_stopped(t_loop));
	ck_assert_uint_lt(mono_ms() - start, 150);
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
	uint64_t start = mono_ms(), took;

	ck_assert_int_eq(loop_run_once(t_loop, 20), 0);
	took = mono_ms() - start;
	ck_assert_uint_ge(took, 19);
	ck_assert_uint_lt(took, 120);
}
END_TEST

/* --- limits ---------------------------------------------------------------------------- */

START_TEST(test_timer_zero_delay_next_turn)
{
	struct loop_timer t;
	int n = 0;

	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(loop_timer_set(t_loop, &t, 0, count, &n), 0);
	ck_assert_int_eq(n, 0); /* never from loop_timer_set itself */
	ck_assert_int_eq(loop_run_once(t_loop, 1000), 0);
	ck_assert_int_eq(n, 1);
}
END_TEST

START_TEST(test_signal_table_full)
{
	static const int sigs[9] = { SIGUSR1, SIGUSR2, SIGHUP, SIGTERM, SIGINT, SIGQUIT,
		SIGPIPE, SIGWINCH, SIGCHLD };
	sigset_t old;
	int n = 0;

	ck_assert_int_eq(sigprocmask(SIG_BLOCK, NULL, &old), 0);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(loop_signal_add(t_loop, sigs[i], count, &n), 0);
	ck_assert_int_eq(loop_signal_add(t_loop, sigs[8], count, &n), -ENOSPC);
	loop_del(t_loop);
	t_loop = NULL;
	sigprocmask(SIG_SETMASK, &old, NULL);
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
	ck_assert_int_eq(loop_timer_set(t_loop, &t, (uint64_t)INT_MAX + 1, count, &n), 0);
	took = run_once_guarded(20);
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
	ck_assert_int_eq(loop_timer_set(t_loop, &t, UINT64_MAX, count, &n), 0);
	(void)run_once_guarded(0);
	ck_assert_int_eq(n, 0);
	ck_assert(loop_timer_armed(&t));
	loop_timer_cancel(t_loop, &t);
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
	start = guard_arm();
	ck_assert_int_eq(loop_run(t_loop), 0);
	took = guard_disarm(start);
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
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_timers_deadline_order);
	tcase_add_test(tc, test_timer_cancel_prevents_firing);
	tcase_add_test(tc, test_timer_cancel_unarmed_harmless);
	tcase_add_test(tc, test_timer_rearm_moves);
	tcase_add_test(tc, test_timer_armed);
	tcase_add_test(tc, test_many_timers_in_order);
	tcase_add_test(tc, test_many_timers_cancel_half);
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
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_timer_zero_delay_next_turn);
	tcase_add_test(tc, test_signal_table_full);
	tcase_add_test(tc, test_timer_rearmed_zero_from_callback_next_turn);
	tcase_add_test(tc, test_far_timer_keeps_run_once_timeout);
	tcase_add_test(tc, test_huge_delay_does_not_fire);
	tcase_add_test(tc, test_stop_from_prequeued_defer);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_io_add_bad_fd);
	tcase_add_test(tc, test_io_add_twice);
	tcase_add_test(tc, test_io_mod_unregistered);
	tcase_add_test(tc, test_del_null);
	suite_add_tcase(s, tc);
	return s;
}
