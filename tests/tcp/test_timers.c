/* test_timers.c - placeholder */
#include <criterion/criterion.h>
#include "tcph.h"
TestSuite(tcp_timers, .init = fx_setup, .fini = fx_teardown);
