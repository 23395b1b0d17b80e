/* test_options.c - placeholder */
#include <criterion/criterion.h>
#include "tcph.h"
TestSuite(tcp_options, .init = fx_setup, .fini = fx_teardown);
