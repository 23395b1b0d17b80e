/* test_syn_rcvd.c - placeholder */
#include <criterion/criterion.h>
#include "tcph.h"
TestSuite(tcp_syn_rcvd, .init = fx_setup, .fini = fx_teardown);
