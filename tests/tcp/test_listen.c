/* test_listen.c - placeholder */
#include <criterion/criterion.h>
#include "tcph.h"
TestSuite(tcp_listen, .init = fx_setup, .fini = fx_teardown);
