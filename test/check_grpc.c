#include "config.h"
#include "test/check_suites.h"
Suite *
grpc_suite(void)
{
	return suite_create("grpc");
}
