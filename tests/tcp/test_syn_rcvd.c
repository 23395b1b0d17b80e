/* test_syn_rcvd.c - SYN-RECEIVED of a passive open (RFC 9293 3.10.7.4; Linux tcp_check_req). */
#include <criterion/criterion.h>
#include <errno.h>

#include "tcph.h"

TestSuite(tcp_syn_rcvd, .init = fx_setup, .fini = fx_teardown);

Test(tcp_syn_rcvd, rcv_ack_establishes)
{
	fx_syn_rcvd();
	cr_assert_eq(seg(), DROP_NONE);
	cr_assert_eq(fx_state(), TCPS_ESTABLISHED);
	cr_assert_eq(fx_conn()->kind, TCPK_SOCK);
}

Test(tcp_syn_rcvd, rcv_ack_with_data_establishes_and_queues)
{
	struct tcp_sock *c;
	char buf[8];

	fx_syn_rcvd();
	cr_assert_eq(seg(.flags = TH_ACK | TH_PSH, .data = "hello", .len = 5), DROP_NONE);
	cr_assert_eq(tcp_accept(F.lis, &c), 0);
	cr_assert_eq(tcp_recv(c, buf, sizeof(buf), 0, F.now), 5);
	const struct tcp_seg *o = expect_out(TH_ACK);
	cr_assert_eq(o->ack, PISS + 6);
}

Test(tcp_syn_rcvd, rcv_bad_ack_sends_rst)
{
	const struct tcp_seg *o;

	fx_syn_rcvd();
	cr_assert_eq(seg(.ack = F.iss + 7), DROP_TCP_BAD_ACK);
	o = expect_out(TH_RST);
	cr_assert_eq(o->seq, F.iss + 7);
	cr_assert_eq(fx_state(), TCPS_SYN_RECEIVED);
}

Test(tcp_syn_rcvd, rcv_rst_returns_to_listen)
{
	fx_syn_rcvd();
	cr_assert_eq(seg(.flags = TH_RST, .ack = 0), DROP_NONE);
	cr_assert_eq(fx_conn(), NULL);
	cr_assert_eq(F.lis->synq_len, 0);
	cr_assert_eq(F.lis->c.state, TCPS_LISTEN);
	expect_none();
}

Test(tcp_syn_rcvd, rcv_syn_in_window_resets)
{
	fx_syn_rcvd();
	cr_assert_eq(seg(.flags = TH_SYN, .seq = PISS + 10, .ack = 0), DROP_TCP_BAD_SYN);
	expect_out(TH_RST | TH_ACK);
	cr_assert_eq(fx_conn(), NULL);
}

Test(tcp_syn_rcvd, rcv_out_of_window_gets_ack)
{
	const struct tcp_seg *o;

	fx_syn_rcvd();
	cr_assert_eq(seg(.seq = PISS + 200000), DROP_TCP_OLD_SEGMENT);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->seq, F.iss + 1);
	cr_assert_eq(o->ack, PISS + 1);
}

Test(tcp_syn_rcvd, rcv_fin_after_ack_goes_close_wait)
{
	fx_syn_rcvd();
	cr_assert_eq(seg(.flags = TH_ACK | TH_FIN), DROP_NONE);
	cr_assert_eq(fx_state(), TCPS_CLOSE_WAIT);
}

Test(tcp_syn_rcvd, icmp_error_drops_request)
{
	uint8_t l4[8] = { LPORT >> 8, LPORT & 0xff, PPORT >> 8, PPORT & 0xff };
	struct ip_info in = { .src = htonl(US_ADDR), .dst = htonl(PEER_ADDR), .proto = 6 };

	fx_syn_rcvd();
	l4[4] = F.iss >> 24; l4[5] = (F.iss >> 16) & 0xff; l4[6] = (F.iss >> 8) & 0xff; l4[7] = F.iss & 0xff;
	tcp_icmp_error(F.eng, &in, l4, 8, 3, 3, 0, F.now);
	cr_assert_eq(fx_conn(), NULL);
}

Test(tcp_syn_rcvd, simultaneous_open_synack_retransmitted)
{
	fx_syn_sent();
	seg(.flags = TH_SYN, .seq = PISS, .ack = 0);
	expect_out(TH_SYN | TH_ACK);
	cr_assert_eq(fx_state(), TCPS_SYN_RECEIVED);
	fx_next_timer();
	expect_out(TH_SYN | TH_ACK);
}

Test(tcp_syn_rcvd, simultaneous_open_rst_refused)
{
	int err = 0;
	socklen_t l = sizeof(err);

	fx_syn_sent();
	seg(.flags = TH_SYN, .seq = PISS, .ack = 0);
	expect_out(TH_SYN | TH_ACK);
	cr_assert_eq(seg(.flags = TH_RST, .seq = PISS + 1, .ack = 0), DROP_NONE);
	cr_assert_eq(fx_state(), TCPS_CLOSED);
	tcp_getsockopt(F.s, SOL_SOCKET, SO_ERROR, &err, &l);
	cr_assert_eq(err, ECONNREFUSED);
}
