/* One epoll event loop per process: file descriptors, timers, signals and end-of-turn
 * work. Single-threaded; nothing here locks. */
#ifndef WS_LOOP_H
#define WS_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;

typedef void (*loop_io_fn)(void *arg, uint32_t events);
typedef void (*loop_fn)(void *arg);

/* Caller-owned watcher of one fd; embed it in the object that owns the fd. */
struct loop_io {
	int fd;
	uint32_t events;
	loop_io_fn fn;
	void *arg;
};

/* Caller-owned timer; zero it (or loop_timer_init) before first use. */
struct loop_timer {
	uint64_t when_ms;
	size_t slot;          /* index in the heap + 1; 0 when not armed */
	loop_fn fn;
	void *arg;
};

/* Caller-owned end-of-turn callback: runs once after the current batch of events. */
struct loop_defer {
	struct loop_defer *next;
	bool queued;
	loop_fn fn;
	void *arg;
};

/* Returns a new loop or NULL with errno set. */
struct loop *loop_new(void);
/* Frees the loop (not the watchers, which are the caller's); accepts NULL. */
void loop_del(struct loop *l);

/* Registers io for fd with EPOLLIN/EPOLLOUT bits. Returns 0 or -errno. */
int loop_io_add(struct loop *l, struct loop_io *io, int fd, uint32_t events, loop_io_fn fn,
    void *arg);
/* Changes the events of a registered io; a no-op when they are unchanged. 0 or -errno. */
int loop_io_mod(struct loop *l, struct loop_io *io, uint32_t events);
/* Unregisters io (does not close the fd). */
void loop_io_del(struct loop *l, struct loop_io *io);

/* (Re)arms t to fire once after delay_ms. 0 or -ENOMEM. */
int loop_timer_set(struct loop *l, struct loop_timer *t, uint64_t delay_ms, loop_fn fn,
    void *arg);
/* Disarms t; harmless when it is not armed. */
void loop_timer_cancel(struct loop *l, struct loop_timer *t);
bool loop_timer_armed(const struct loop_timer *t);

/* Delivers signo through the loop (signalfd); the signal is blocked for the process.
 * Returns 0 or -errno. The callback runs in the loop, never in a signal handler. */
int loop_signal_add(struct loop *l, int signo, loop_fn fn, void *arg);

/* Queues d to run after the events of this turn (once, however often it is queued). */
void loop_defer(struct loop *l, struct loop_defer *d, loop_fn fn, void *arg);
void loop_defer_cancel(struct loop *l, struct loop_defer *d);

/* Monotonic milliseconds, read once per turn. */
uint64_t loop_now_ms(struct loop *l);
/* The wall clock in milliseconds since the epoch, read now (stamps that other machines
 * read: leases, logs, audit entries). */
int64_t loop_wall_ms(void);

/* Runs until loop_stop. Returns 0, or -errno when epoll fails. */
int loop_run(struct loop *l);
/* Runs one turn, waiting at most timeout_ms (-1: until something happens). */
int loop_run_once(struct loop *l, int timeout_ms);
void loop_stop(struct loop *l);
bool loop_stopped(const struct loop *l);

#endif
