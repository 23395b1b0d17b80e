/* test_established.c - placeholder */
#include <criterion/criterion.h>
#include "tcph.h"
TestSuite(tcp_established, .init = fx_setup, .fini = fx_teardown);
