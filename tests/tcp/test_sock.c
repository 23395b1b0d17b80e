/* test_sock.c - placeholder */
#include <criterion/criterion.h>
#include "tcph.h"
TestSuite(tcp_sock, .init = fx_setup, .fini = fx_teardown);
