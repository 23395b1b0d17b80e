/* test_rst.c - placeholder */
#include <criterion/criterion.h>
#include "tcph.h"
TestSuite(tcp_rst, .init = fx_setup, .fini = fx_teardown);
