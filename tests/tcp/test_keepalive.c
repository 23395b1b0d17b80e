/* test_keepalive.c - placeholder */
#include <criterion/criterion.h>
#include "tcph.h"
TestSuite(tcp_keepalive, .init = fx_setup, .fini = fx_teardown);
