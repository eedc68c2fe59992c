/* What the PostgreSQL test drivers (test/ws-pg*.c) share: the lines test/pgconn.test reads
 * ("PASS<TAB>what", "FAIL<TAB>what<TAB>detail") and a loop run until a count is reached. */
#ifndef WS_PGTEST_H
#define WS_PGTEST_H

#include <stdbool.h>

#include "rpc/loop.h"

/* Checks failed so far: the driver's exit status is 0 only when none did. */
extern int pgtest_failed;

void pgtest_check(int cond, const char *what, const char *detail);
/* Monotonic seconds. */
double pgtest_now_s(void);
/* Runs l until *flag reaches want (flag NULL: for secs) or secs pass; whether it did. */
bool pgtest_run_until(struct loop *l, const int *flag, int want, double secs);

#endif
