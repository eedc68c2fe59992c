#include "config.h"
#include "test/check_suites.h"
Suite *
loop_suite(void)
{
	return suite_create("loop");
}
