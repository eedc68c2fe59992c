/* epoll event loop with a binary heap of timers, signalfd and end-of-turn callbacks. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "rpc/loop.h"

#define LOOP_EVENTS 256
#define LOOP_SIGNALS 8
#define LOOP_DELAY_MAX (UINT64_C(1) << 40) /* about 35 years */

struct loop_signal {
	int signo;
	loop_fn fn;
	void *arg;
};

struct loop {
	int epfd;
	bool stop;
	uint64_t now_ms;
	struct loop_timer **heap; /* min-heap on when_ms */
	size_t n_heap, cap_heap;
	bool in_timers;
	struct loop_defer *defer_head, **defer_tail;
	int sigfd;
	struct loop_io sig_io;
	sigset_t sigmask;
	struct loop_signal signals[LOOP_SIGNALS];
	size_t n_signals;
};

static void run_deferred(struct loop *l);

static uint64_t
clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct loop *
loop_new(void)
{
	struct loop *l;

	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	l->sigfd = -1;
	sigemptyset(&l->sigmask);
	l->defer_tail = &l->defer_head;
	l->now_ms = clock_ms();
	return l;
}

void
loop_del(struct loop *l)
{
	if (l == NULL)
		return;
	/* Deferred frees must not be lost. */
	run_deferred(l);
	if (l->sigfd >= 0)
		close(l->sigfd);
	close(l->epfd);
	free(l->heap);
	free(l);
}

int
loop_io_add(struct loop *l, struct loop_io *io, int fd, uint32_t events, loop_io_fn fn, void *arg)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	io->fd = fd;
	io->events = events;
	io->fn = fn;
	io->arg = arg;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

int
loop_io_mod(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (io->events == events)
		return 0;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		return -errno;
	io->events = events;
	return 0;
}

void
loop_io_del(struct loop *l, struct loop_io *io)
{
	if (io->fd >= 0)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->fn = NULL;
}

static void
heap_place(struct loop *l, size_t i, struct loop_timer *t)
{
	l->heap[i] = t;
	t->slot = i + 1;
}

static void
heap_up(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (l->heap[parent]->when_ms <= t->when_ms)
			break;
		heap_place(l, i, l->heap[parent]);
		i = parent;
	}
	heap_place(l, i, t);
}

static void
heap_down(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= l->n_heap)
			break;
		if (c + 1 < l->n_heap && l->heap[c + 1]->when_ms < l->heap[c]->when_ms)
			c++;
		if (t->when_ms <= l->heap[c]->when_ms)
			break;
		heap_place(l, i, l->heap[c]);
		i = c;
	}
	heap_place(l, i, t);
}

void
loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
	size_t i;
	struct loop_timer *last;

	if (t->slot == 0)
		return;
	i = t->slot - 1;
	t->slot = 0;
	last = l->heap[--l->n_heap];
	if (i == l->n_heap)
		return;
	heap_place(l, i, last);
	heap_up(l, i);
	heap_down(l, last->slot - 1);
}

int
loop_timer_set(struct loop *l, struct loop_timer *t, uint64_t delay_ms, loop_fn fn, void *arg)
{
	loop_timer_cancel(l, t);
	if (l->n_heap == l->cap_heap) {
		size_t cap = l->cap_heap ? l->cap_heap * 2 : 64;
		struct loop_timer **h = realloc(l->heap, cap * sizeof(*h));
		if (h == NULL)
			return -ENOMEM;
		l->heap = h;
		l->cap_heap = cap;
	}
	/* Far futures are clamped (no wrap-around); a timer re-armed from a timer callback
	 * waits for the next turn, so a zero delay cannot starve the sockets. */
	if (delay_ms > LOOP_DELAY_MAX)
		delay_ms = LOOP_DELAY_MAX;
	t->when_ms = l->now_ms + delay_ms + (l->in_timers ? 1 : 0);
	t->fn = fn;
	t->arg = arg;
	heap_place(l, l->n_heap++, t);
	heap_up(l, l->n_heap - 1);
	return 0;
}

bool
loop_timer_armed(const struct loop_timer *t)
{
	return t->slot != 0;
}

static void
signal_readable(void *arg, uint32_t events)
{
	struct loop *l = arg;
	struct signalfd_siginfo si;

	while (read(l->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		for (size_t i = 0; i < l->n_signals; i++)
			if (l->signals[i].signo == (int)si.ssi_signo)
				l->signals[i].fn(l->signals[i].arg);
	}
}

int
loop_signal_add(struct loop *l, int signo, loop_fn fn, void *arg)
{
	int fd;

	if (l->n_signals == LOOP_SIGNALS)
		return -ENOSPC;
	sigaddset(&l->sigmask, signo);
	if (sigprocmask(SIG_BLOCK, &l->sigmask, NULL) < 0)
		return -errno;
	fd = signalfd(l->sigfd, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (l->sigfd < 0) {
		int r = loop_io_add(l, &l->sig_io, fd, EPOLLIN, signal_readable, l);
		if (r < 0) {
			close(fd);
			return r;
		}
		l->sigfd = fd;
	}
	l->signals[l->n_signals++] = (struct loop_signal){ signo, fn, arg };
	return 0;
}

void
loop_defer(struct loop *l, struct loop_defer *d, loop_fn fn, void *arg)
{
	d->fn = fn;
	d->arg = arg;
	if (d->queued)
		return;
	d->queued = true;
	d->next = NULL;
	*l->defer_tail = d;
	l->defer_tail = &d->next;
}

void
loop_defer_cancel(struct loop *l, struct loop_defer *d)
{
	struct loop_defer **pp;

	if (!d->queued)
		return;
	for (pp = &l->defer_head; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			if (l->defer_tail == &d->next)
				l->defer_tail = pp;
			break;
		}
	}
	d->queued = false;
}

uint64_t
loop_now_ms(struct loop *l)
{
	return l->now_ms;
}

int64_t
loop_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
run_deferred(struct loop *l)
{
	/* Callbacks may queue more work; it runs in this same pass. */
	while (l->defer_head != NULL) {
		struct loop_defer *d = l->defer_head;
		l->defer_head = d->next;
		if (l->defer_head == NULL)
			l->defer_tail = &l->defer_head;
		d->queued = false;
		d->fn(d->arg);
	}
}

static void
run_timers(struct loop *l)
{
	l->in_timers = true;
	while (l->n_heap > 0 && l->heap[0]->when_ms <= l->now_ms) {
		struct loop_timer *t = l->heap[0];
		loop_timer_cancel(l, t);
		t->fn(t->arg);
	}
	l->in_timers = false;
}

int
loop_run_once(struct loop *l, int timeout_ms)
{
	struct epoll_event ev[LOOP_EVENTS];
	int n, wait_ms = timeout_ms;

	run_deferred(l);
	if (l->stop)
		return 0;
	if (l->n_heap > 0) {
		uint64_t first = l->heap[0]->when_ms;
		uint64_t until = first <= l->now_ms ? 0 : first - l->now_ms;
		if (until > INT32_MAX)
			until = INT32_MAX;
		if (wait_ms < 0 || (int)until < wait_ms)
			wait_ms = (int)until;
	}
	n = epoll_wait(l->epfd, ev, LOOP_EVENTS, wait_ms);
	if (n < 0 && errno != EINTR)
		return -errno;
	l->now_ms = clock_ms();
	for (int i = 0; i < n; i++) {
		struct loop_io *io = ev[i].data.ptr;
		if (io->fn != NULL)
			io->fn(io->arg, ev[i].events);
	}
	run_timers(l);
	run_deferred(l);
	return 0;
}

int
loop_run(struct loop *l)
{
	int r = 0;

	l->stop = false;
	while (!l->stop && r == 0)
		r = loop_run_once(l, -1);
	return r;
}

void
loop_stop(struct loop *l)
{
	l->stop = true;
}

bool
loop_stopped(const struct loop *l)
{
	return l->stop;
}
