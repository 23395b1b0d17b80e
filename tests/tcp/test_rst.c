/* test_rst.c - resets and blind attacks (RFC 9293 3.10.7, RFC 5961 3-5). */
#include <criterion/criterion.h>
#include <errno.h>

#include "tcph.h"

TestSuite(tcp_rst, .init = fx_setup, .fini = fx_teardown);

Test(tcp_rst, no_socket_syn_gets_rst_ack)
{
	const struct tcp_seg *o;

	cr_assert_eq(seg(.flags = TH_SYN, .seq = 777, .ack = 0, .dport = 9), DROP_TCP_NO_SOCKET);
	o = expect_out(TH_RST | TH_ACK);
	cr_assert_eq(o->seq, 0);
	cr_assert_eq(o->ack, 778);
}

Test(tcp_rst, no_socket_ack_gets_rst_at_seg_ack)
{
	const struct tcp_seg *o;

	cr_assert_eq(seg(.flags = TH_ACK | TH_PSH, .seq = 5, .ack = 999, .dport = 9, .data = "ab", .len = 2),
		     DROP_TCP_NO_SOCKET);
	o = expect_out(TH_RST);
	cr_assert_eq(o->seq, 999);
}

Test(tcp_rst, no_socket_rst_not_answered)
{
	cr_assert_eq(seg(.flags = TH_RST, .seq = 5, .dport = 9), DROP_TCP_NO_SOCKET);
	expect_none();
}

Test(tcp_established, rcv_rst_exact_resets, .init = fx_setup, .fini = fx_teardown)
{
	char b[4];

	fx_established();
	cr_assert_eq(seg(.flags = TH_RST), DROP_NONE);
	cr_assert_eq(fx_conn(), NULL);
	cr_assert(tcp_sock_events(F.s) & (POLLERR | POLLHUP));
	cr_assert_eq(tcp_recv(F.s, b, sizeof(b), 0, F.now), -ECONNRESET);
	cr_assert_eq(tcp_recv(F.s, b, sizeof(b), 0, F.now), 0);
	cr_assert_eq(tcp_send(F.s, "x", 1, 0, F.now), -EPIPE);
	cr_assert_eq(fx_count(CNT_TCP_ESTAB_RESETS), 1);
}

Test(tcp_established, rcv_rst_in_window_challenge_ack, .init = fx_setup, .fini = fx_teardown)
{
	const struct tcp_seg *o;

	fx_established();
	cr_assert_eq(seg(.flags = TH_RST, .seq = PISS + 100), DROP_TCP_BAD_RST);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->ack, PISS + 1);
	cr_assert_eq(fx_state(), TCPS_ESTABLISHED);
	cr_assert_eq(fx_count(CNT_TCP_CHALLENGE_ACKS), 1);
	/* rate limited: a second one within 500 ms is not answered */
	seg(.flags = TH_RST, .seq = PISS + 200);
	expect_none();
}

Test(tcp_established, rcv_rst_out_of_window_dropped, .init = fx_setup, .fini = fx_teardown)
{
	fx_established();
	cr_assert_eq(seg(.flags = TH_RST, .seq = PISS + 10000000), DROP_TCP_OLD_SEGMENT);
	expect_none();
	cr_assert_eq(fx_state(), TCPS_ESTABLISHED);
}

Test(tcp_established, rcv_syn_challenge_ack, .init = fx_setup, .fini = fx_teardown)
{
	fx_established();
	cr_assert_eq(seg(.flags = TH_SYN, .seq = PISS + 50, .ack = 0), DROP_TCP_BAD_SYN);
	expect_out(TH_ACK);
	cr_assert_eq(fx_state(), TCPS_ESTABLISHED);
}

Test(tcp_established, rcv_old_ack_challenged, .init = fx_setup, .fini = fx_teardown)
{
	fx_established();
	cr_assert_eq(seg(.ack = F.iss - 200000), DROP_TCP_BAD_ACK);
	expect_out(TH_ACK);
}

Test(tcp_established, rcv_ack_of_unsent_dropped, .init = fx_setup, .fini = fx_teardown)
{
	fx_established();
	cr_assert_eq(seg(.ack = F.iss + 5000), DROP_TCP_BAD_ACK);
	expect_none();
}

Test(tcp_established, rcv_data_out_of_window_acked, .init = fx_setup, .fini = fx_teardown)
{
	fx_established();
	cr_assert_eq(seg(.seq = PISS + 5000000, .data = "zz", .len = 2), DROP_TCP_OLD_SEGMENT);
	expect_out(TH_ACK);
}

Test(tcp_close_wait, rcv_rst_epipe, .init = fx_setup, .fini = fx_teardown)
{
	int err = 0;
	socklen_t l = sizeof(err);

	fx_close_wait();
	cr_assert_eq(seg(.flags = TH_RST), DROP_NONE);
	tcp_getsockopt(F.s, SOL_SOCKET, SO_ERROR, &err, &l);
	cr_assert_eq(err, EPIPE);
}

Test(tcp_fin_wait1, rcv_rst_closes, .init = fx_setup, .fini = fx_teardown)
{
	fx_fin_wait1();
	cr_assert_eq(seg(.flags = TH_RST), DROP_NONE);
	cr_assert_eq(fx_conn(), NULL);
}

Test(tcp_fin_wait2, rcv_rst_closes, .init = fx_setup, .fini = fx_teardown)
{
	fx_fin_wait2();
	cr_assert_eq(seg(.flags = TH_RST), DROP_NONE);
	cr_assert_eq(fx_conn(), NULL);
}

Test(tcp_last_ack, rcv_rst_closes, .init = fx_setup, .fini = fx_teardown)
{
	fx_last_ack();
	cr_assert_eq(seg(.flags = TH_RST), DROP_NONE);
	cr_assert_eq(fx_conn(), NULL);
}

Test(tcp_closing, rcv_rst_closes, .init = fx_setup, .fini = fx_teardown)
{
	fx_closing();
	cr_assert_eq(seg(.flags = TH_RST), DROP_NONE);
	cr_assert_eq(fx_conn(), NULL);
}

Test(tcp_rst, bad_checksum_dropped)
{
	fx_established();
	cr_assert_eq(seg(.flags = TH_RST, .bad_csum = 1), DROP_TCP_BAD_CSUM);
	cr_assert_eq(fx_state(), TCPS_ESTABLISHED);
}
