/* test_time_wait.c - placeholder */
#include <criterion/criterion.h>
#include "tcph.h"
TestSuite(tcp_time_wait, .init = fx_setup, .fini = fx_teardown);
