/* The PostgreSQL test drivers' shared lines and loop (test/pgtest.h). */
#include "config.h"

#include <stdio.h>
#include <time.h>

#include "test/pgtest.h"

int pgtest_failed;

void
pgtest_check(int cond, const char *what, const char *detail)
{
	if (cond) {
		printf("PASS\t%s\n", what);
	} else {
		pgtest_failed++;
		printf("FAIL\t%s\t%s\n", what, detail != NULL ? detail : "");
	}
	fflush(stdout);
}

double
pgtest_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

bool
pgtest_run_until(struct loop *l, const int *flag, int want, double secs)
{
	double end = pgtest_now_s() + secs;

	while ((flag == NULL || *flag < want) && pgtest_now_s() < end)
		loop_run_once(l, 20);
	return flag != NULL && *flag >= want;
}
