/* test_close.c - placeholder */
#include <criterion/criterion.h>
#include "tcph.h"
TestSuite(tcp_close, .init = fx_setup, .fini = fx_teardown);
