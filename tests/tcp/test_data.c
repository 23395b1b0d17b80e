/* test_data.c - placeholder */
#include <criterion/criterion.h>
#include "tcph.h"
TestSuite(tcp_data, .init = fx_setup, .fini = fx_teardown);
