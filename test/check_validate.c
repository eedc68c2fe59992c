#include "config.h"
#include "test/check_suites.h"
Suite *
validate_suite(void)
{
	return suite_create("validate");
}
