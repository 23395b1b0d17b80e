/* test_time_wait.c - TIME-WAIT records (RFC 9293 3.10.7.4, RFC 1337; Linux tcp_timewait_state_process). */
#include <criterion/criterion.h>
#include <errno.h>

#include "tcph.h"

TestSuite(tcp_time_wait, .init = fx_setup, .fini = fx_teardown);

Test(tcp_time_wait, lasts_2msl_60s)
{
	fx_time_wait();
	fx_advance(SEC(59));
	cr_assert_eq(fx_state(), TCPS_TIME_WAIT);
	fx_advance(SEC(1));
	cr_assert_eq(fx_conn(), NULL);
}

Test(tcp_time_wait, length_settable)
{
	tcp_set_time_wait(F.eng, SEC(2));
	fx_time_wait();
	fx_advance(SEC(2));
	cr_assert_eq(fx_conn(), NULL);
}

Test(tcp_time_wait, retransmitted_fin_acked_and_timer_restarted)
{
	const struct tcp_seg *o;

	fx_time_wait();
	fx_advance(SEC(30));
	cr_assert_eq(seg(.flags = TH_FIN | TH_ACK, .seq = PISS + 1), DROP_TCP_CLOSED);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->seq, F.iss + 2);
	cr_assert_eq(o->ack, PISS + 2);
	fx_advance(SEC(59));
	cr_assert_eq(fx_state(), TCPS_TIME_WAIT);
	fx_advance(SEC(1));
	cr_assert_eq(fx_conn(), NULL);
}

Test(tcp_time_wait, rst_ends_it_as_linux)
{
	fx_time_wait();
	cr_assert_eq(seg(.flags = TH_RST), DROP_NONE);
	cr_assert_eq(fx_conn(), NULL);
}

Test(tcp_time_wait, new_syn_above_rcv_nxt_reopens)
{
	const struct tcp_seg *o;
	uint32_t tw_snd = F.iss + 2;

	fx_listen();
	/* a connection to the listener, closed by us first */
	fx_teardown();
	fx_setup();
	fx_established_passive();
	tcp_close(F.s, F.now);
	expect_out(TH_FIN | TH_ACK);
	seg(.flags = TH_FIN | TH_ACK, .ack = F.iss + 2);
	expect_out(TH_ACK);
	cr_assert_eq(fx_state(), TCPS_TIME_WAIT);
	tw_snd = F.iss + 2;
	cr_assert_eq(seg(.flags = TH_SYN, .seq = PISS + 100000, .ack = 0), DROP_NONE);
	o = expect_out(TH_SYN | TH_ACK);
	cr_assert_eq(o->seq, tw_snd + 65537, "ISN continues past the old connection");
	cr_assert_eq(fx_state(), TCPS_SYN_RECEIVED);
}

Test(tcp_time_wait, old_syn_gets_ack)
{
	fx_time_wait();
	cr_assert_eq(seg(.flags = TH_SYN, .seq = PISS - 5, .ack = 0), DROP_TCP_CLOSED);
	expect_out(TH_ACK);
	cr_assert_eq(fx_state(), TCPS_TIME_WAIT);
}

Test(tcp_time_wait, record_is_small)
{
	cr_assert_leq(sizeof(struct tcp_tw), 96);
	cr_assert_leq(sizeof(struct tcp_req), 128);
}

Test(tcp_time_wait, many_records_cheap)
{
	/* 100 000 TIME-WAIT records through the real path would take long here;
	 * the size bound above is what makes them cheap */
	cr_assert_leq(sizeof(struct tcp_tw) * 100000, 10u << 20);
}
