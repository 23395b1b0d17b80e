/* test_scripts.c - runs the packetdrill-like scripts of tests/tcp/scripts (RFC 9293 behaviours as Linux shows them). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <string.h>

#include "pktscript.h"
#include "tcph.h"

#define SCRIPT(name)                                                            \
	Test(tcp_script, name, .init = fx_setup, .fini = fx_teardown)          \
	{                                                                      \
		pktscript_run(SCRIPT_DIR "/" #name ".pkt");                    \
	}

SCRIPT(passive_open)
SCRIPT(passive_close)
SCRIPT(active_open)
SCRIPT(connect_refused)
SCRIPT(syn_retransmit)
SCRIPT(synack_retransmit)
SCRIPT(rst_established)
SCRIPT(rst_challenge)
SCRIPT(close_unread_rst)
SCRIPT(linger_zero)
SCRIPT(simultaneous_close)
SCRIPT(half_close)
SCRIPT(close_wait_last_ack)
SCRIPT(rto_backoff)
SCRIPT(fin_wait2_orphan)
SCRIPT(fin_wait2_timeout)
SCRIPT(syn_data_ignored)
SCRIPT(closed_port_rst)
SCRIPT(delayed_ack)
#define NSCRIPTS 19

/* Every script in the directory is run by one of the tests above. */
Test(tcp_script, every_script_listed)
{
	DIR *d = opendir(SCRIPT_DIR);
	struct dirent *e;
	int n = 0;

	cr_assert(d, "no directory %s", SCRIPT_DIR);
	while ((e = readdir(d)))
		if (strlen(e->d_name) > 4 && !strcmp(e->d_name + strlen(e->d_name) - 4, ".pkt"))
			n++;
	closedir(d);
	cr_assert_eq(n, NSCRIPTS, "%d scripts in %s, %d listed in test_scripts.c", n, SCRIPT_DIR,
		     NSCRIPTS);
}
