/* Unit tests for rpc/ratelog.c: the first event of a window is logged, the others counted. */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>

#include "rpc/ratelog.h"
#include "test/check_suites.h"

START_TEST(test_one_line_per_window)
{
	struct ratelog r;
	int logged = 0;

	ratelog_init(&r, 10000);
	for (uint64_t t = 1000; t < 1000 + 2000; t++)     /* 2,000 events in 2 s */
		logged += ratelog_event(&r, t);
	ck_assert_int_eq(logged, 1);
	ck_assert_uint_eq(ratelog_take_held(&r), 1999);
	ck_assert_uint_eq(ratelog_take_held(&r), 0);
}
END_TEST

START_TEST(test_next_window_logs_again)
{
	struct ratelog r;

	ratelog_init(&r, 10000);
	ck_assert(ratelog_event(&r, 0));            /* time 0 is a time like any other */
	ck_assert(!ratelog_event(&r, 9999));
	ck_assert(ratelog_event(&r, 10000));
	ck_assert_uint_eq(ratelog_take_held(&r), 1);
	ck_assert(!ratelog_event(&r, 19999));
	ck_assert(ratelog_event(&r, 50000));
	ck_assert_uint_eq(ratelog_take_held(&r), 1);
}
END_TEST

START_TEST(test_sparse_events_all_logged)
{
	struct ratelog r;

	ratelog_init(&r, 1000);
	for (uint64_t t = 0; t < 100; t++)
		ck_assert(ratelog_event(&r, t * 1000));
	ck_assert_uint_eq(ratelog_take_held(&r), 0);
}
END_TEST

Suite *
ratelog_suite(void)
{
	Suite *s = suite_create("ratelog");
	TCase *core = tcase_create("core");

	tcase_add_test(core, test_one_line_per_window);
	tcase_add_test(core, test_next_window_logs_again);
	tcase_add_test(core, test_sparse_events_all_logged);
	suite_add_tcase(s, core);
	return s;
}
