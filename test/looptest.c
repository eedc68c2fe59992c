/* Test helper shared by the loop suites; see looptest.h. */
#include "config.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <check.h>

#include "test/looptest.h"

struct loop *t_loop;

void
lt_setup(void)
{
	t_loop = loop_new();
	ck_assert_ptr_nonnull(t_loop);
}

void
lt_teardown(void)
{
	loop_del(t_loop);
	t_loop = NULL;
}

uint64_t
lt_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
lt_record(void *arg)
{
	struct mark *m = arg;

	if (m->tr->n < (int)(sizeof(m->tr->ids) / sizeof(m->tr->ids[0])))
		m->tr->ids[m->tr->n] = m->id;
	m->tr->n++;
}

void
lt_count(void *arg)
{
	(*(int *)arg)++;
}

void
lt_run_until(int *n, int want)
{
	uint64_t end = lt_mono_ms() + 500;

	while (*n < want && lt_mono_ms() < end)
		ck_assert_int_eq(loop_run_once(t_loop, 100), 0);
}

/* SIGALRM that only interrupts a blocked epoll_wait, so a loop that ignores its timeout
 * fails the test instead of hanging the runner. */
volatile sig_atomic_t t_guard_fired;

static void
guard_handler(int signo)
{
	(void)signo;
	t_guard_fired = 1;
}

static struct sigaction t_guard_old;

uint64_t
lt_guard_arm(void)
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
	return lt_mono_ms();
}

uint64_t
lt_guard_disarm(uint64_t start)
{
	struct itimerval off;

	memset(&off, 0, sizeof(off));
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &t_guard_old, NULL);
	return lt_mono_ms() - start;
}

uint64_t
lt_run_once_guarded(int timeout_ms)
{
	uint64_t start = lt_guard_arm();

	ck_assert_int_eq(loop_run_once(t_loop, timeout_ms), 0);
	return lt_guard_disarm(start);
}
