/* Test helper for the loop suites (check_loop.c, check_loop_timer.c): a fresh loop per
 * test, callbacks that count or record their order, and a SIGALRM guard for tests of how
 * long a turn blocks. */
#ifndef WS_LOOPTEST_H
#define WS_LOOPTEST_H

#include <signal.h>
#include <stdint.h>

#include "rpc/loop.h"

#define GUARD_MS 150

extern struct loop *t_loop;             /* made by lt_setup, freed by lt_teardown */
extern volatile sig_atomic_t t_guard_fired;

/* Order in which callbacks ran: each records its id. */
struct trace {
	int ids[64];
	int n;
};

struct mark {
	struct trace *tr;
	int id;
};

/* The checked fixture of every loop case. */
void lt_setup(void);
void lt_teardown(void);

uint64_t lt_mono_ms(void);
/* Callbacks: arg is a struct mark (appends its id to the trace) or an int (incremented). */
void lt_record(void *arg);
void lt_count(void *arg);
/* Turns the loop until *n reaches want or 500 ms pass. */
void lt_run_until(int *n, int want);
/* Arms the guard: a blocked epoll_wait is interrupted after GUARD_MS. */
uint64_t lt_guard_arm(void);
/* Disarms the guard; returns the milliseconds since lt_guard_arm returned start. */
uint64_t lt_guard_disarm(uint64_t start);
/* One loop_run_once(timeout_ms) under the guard; returns the milliseconds it took. */
uint64_t lt_run_once_guarded(int timeout_ms);

#endif
