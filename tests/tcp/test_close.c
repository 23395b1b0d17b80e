/* test_close.c - the closing states: FIN-WAIT-1/2, CLOSE-WAIT, LAST-ACK, CLOSING (RFC 9293 3.6, 3.10.4, 3.10.7.4 eighth). */
#include <criterion/criterion.h>
#include <errno.h>

#include "tcph.h"

TestSuite(tcp_close, .init = fx_setup, .fini = fx_teardown);

Test(tcp_fin_wait1, rcv_ack_of_fin_goes_fin_wait2, .init = fx_setup, .fini = fx_teardown)
{
	fx_fin_wait1();
	cr_assert_eq(seg(.ack = F.iss + 2), DROP_NONE);
	cr_assert_eq(fx_state(), TCPS_FIN_WAIT_2);
	expect_none();
}

Test(tcp_fin_wait1, rcv_fin_goes_closing, .init = fx_setup, .fini = fx_teardown)
{
	fx_closing();
	cr_assert_eq(fx_state(), TCPS_CLOSING);
}

Test(tcp_fin_wait1, rcv_fin_ack_goes_time_wait, .init = fx_setup, .fini = fx_teardown)
{
	const struct tcp_seg *o;

	fx_fin_wait1();
	cr_assert_eq(seg(.flags = TH_FIN | TH_ACK, .ack = F.iss + 2), DROP_NONE);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->ack, PISS + 2);
	cr_assert_eq(fx_state(), TCPS_TIME_WAIT);
}

Test(tcp_fin_wait1, fin_retransmitted, .init = fx_setup, .fini = fx_teardown)
{
	const struct tcp_seg *o;

	fx_fin_wait1();
	cr_assert_eq(fx_next_timer(), SEC(1));
	o = expect_out(TH_FIN | TH_ACK);
	cr_assert_eq(o->seq, F.iss + 1);
	cr_assert_eq(fx_next_timer(), SEC(2));
	expect_out(TH_FIN | TH_ACK);
}

Test(tcp_fin_wait1, data_still_flows_in_after_shut_wr, .init = fx_setup, .fini = fx_teardown)
{
	char b[8];

	fx_fin_wait1();
	cr_assert_eq(seg(.flags = TH_ACK | TH_PSH, .ack = F.iss + 2, .data = "xyz", .len = 3), DROP_NONE);
	cr_assert_eq(tcp_recv(F.s, b, sizeof(b), 0, F.now), 3);
	cr_assert_eq(tcp_send(F.s, "a", 1, 0, F.now), -EPIPE);
}

Test(tcp_fin_wait2, rcv_fin_goes_time_wait, .init = fx_setup, .fini = fx_teardown)
{
	fx_time_wait();
	cr_assert_eq(fx_conn()->kind, TCPK_TW);
	cr_assert(tcp_sock_events(F.s) & POLLHUP);
}

Test(tcp_fin_wait2, not_orphaned_waits_forever, .init = fx_setup, .fini = fx_teardown)
{
	fx_fin_wait2();
	fx_advance(SEC(600));
	cr_assert_eq(fx_state(), TCPS_FIN_WAIT_2);
}

Test(tcp_fin_wait2, orphan_times_out_after_60s, .init = fx_setup, .fini = fx_teardown)
{
	fx_fin_wait2();
	tcp_close(F.s, F.now);
	fx_advance(SEC(59));
	cr_assert_eq(fx_state(), TCPS_FIN_WAIT_2);
	fx_advance(SEC(1));
	cr_assert_eq(fx_conn(), NULL);
	expect_none();
}

Test(tcp_fin_wait2, linger2_sets_the_timeout, .init = fx_setup, .fini = fx_teardown)
{
	int v = 5;

	fx_fin_wait2();
	tcp_setsockopt(F.s, IPPROTO_TCP, TCP_LINGER2, &v, sizeof(v), F.now);
	tcp_close(F.s, F.now);
	fx_advance(SEC(5));
	cr_assert_eq(fx_conn(), NULL);
}

Test(tcp_fin_wait2, data_after_close_gets_rst, .init = fx_setup, .fini = fx_teardown)
{
	fx_fin_wait2();
	tcp_close(F.s, F.now);
	cr_assert_eq(seg(.flags = TH_ACK | TH_PSH, .data = "late", .len = 4), DROP_TCP_CLOSED);
	/* Linux: tcp_reset(), then tcp_v4_send_reset() answers the segment:
	 * <SEQ=SEG.ACK><CTL=RST> */
	const struct tcp_seg *o = expect_out(TH_RST);
	cr_assert_eq(o->seq, F.iss + 2);
	cr_assert_eq(fx_conn(), NULL);
}

Test(tcp_close_wait, rcv_fin_gives_eof_and_delayed_ack, .init = fx_setup, .fini = fx_teardown)
{
	char b[4];

	fx_established();
	cr_assert_eq(seg(.flags = TH_FIN | TH_ACK), DROP_NONE);
	cr_assert_eq(fx_state(), TCPS_CLOSE_WAIT);
	expect_none();  /* the ACK waits for a FIN to ride on */
	cr_assert(tcp_sock_events(F.s) & POLLRDHUP);
	cr_assert(tcp_sock_events(F.s) & POLLIN);
	cr_assert_eq(tcp_recv(F.s, b, sizeof(b), 0, F.now), 0);
	fx_advance(MSEC(40));
	expect_out(TH_ACK);
}

Test(tcp_close_wait, close_merges_ack_and_fin, .init = fx_setup, .fini = fx_teardown)
{
	const struct tcp_seg *o;

	fx_established();
	seg(.flags = TH_FIN | TH_ACK);
	tcp_close(F.s, F.now);
	o = expect_out(TH_FIN | TH_ACK);
	cr_assert_eq(o->ack, PISS + 2, "our FIN carries the ACK of theirs");
	expect_none();
	cr_assert_eq(fx_state(), TCPS_LAST_ACK);
}

Test(tcp_close_wait, send_still_works, .init = fx_setup, .fini = fx_teardown)
{
	const struct tcp_seg *o;

	fx_close_wait();
	cr_assert_eq(tcp_send(F.s, "bye", 3, 0, F.now), 3);
	o = expect_out(TH_ACK | TH_PSH);
	cr_assert_eq(o->len, 3);
}

Test(tcp_close_wait, rcv_retransmitted_fin_acked, .init = fx_setup, .fini = fx_teardown)
{
	const struct tcp_seg *o;

	fx_close_wait();
	cr_assert_eq(seg(.flags = TH_FIN | TH_ACK, .seq = PISS + 1), DROP_NONE);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->ack, PISS + 2);
}

Test(tcp_last_ack, rcv_ack_closes, .init = fx_setup, .fini = fx_teardown)
{
	fx_last_ack();
	cr_assert_eq(seg(.ack = F.iss + 2), DROP_NONE);
	cr_assert_eq(fx_conn(), NULL);
	cr_assert(tcp_sock_events(F.s) & POLLHUP);
}

Test(tcp_last_ack, fin_retransmitted, .init = fx_setup, .fini = fx_teardown)
{
	fx_last_ack();
	fx_next_timer();
	expect_out(TH_FIN | TH_ACK);
}

Test(tcp_last_ack, orphan_gives_up_after_orphan_retries, .init = fx_setup, .fini = fx_teardown)
{
	fx_last_ack();
	tcp_close(F.s, F.now);
	fx_advance(SEC(200));
	cr_assert_eq(fx_conn(), NULL, "tcp_orphan_retries 8 from 200 ms: gone");
}

Test(tcp_closing, rcv_ack_of_fin_goes_time_wait, .init = fx_setup, .fini = fx_teardown)
{
	fx_closing();
	cr_assert_eq(seg(.ack = F.iss + 2), DROP_NONE);
	cr_assert_eq(fx_state(), TCPS_TIME_WAIT);
}

Test(tcp_closing, fin_retransmitted, .init = fx_setup, .fini = fx_teardown)
{
	fx_closing();
	fx_next_timer();
	expect_out(TH_FIN | TH_ACK);
}

Test(tcp_close, close_established_sends_fin, .init = fx_setup, .fini = fx_teardown)
{
	fx_established();
	tcp_close(F.s, F.now);
	expect_out(TH_FIN | TH_ACK);
	cr_assert_eq(fx_state(), TCPS_FIN_WAIT_1);
	cr_assert_eq(seg(.ack = F.iss + 2), DROP_NONE);
	cr_assert_eq(seg(.flags = TH_FIN | TH_ACK, .ack = F.iss + 2), DROP_NONE);
	expect_out(TH_ACK);
	cr_assert_eq(fx_state(), TCPS_TIME_WAIT);
}

Test(tcp_close, close_with_unread_data_sends_rst, .init = fx_setup, .fini = fx_teardown)
{
	const struct tcp_seg *o;

	fx_established();
	seg(.flags = TH_ACK | TH_PSH, .data = "unread", .len = 6);
	expect_out(TH_ACK);
	tcp_close(F.s, F.now);
	o = expect_out(TH_RST | TH_ACK);
	cr_assert_eq(o->seq, F.iss + 1);
	expect_none();
	cr_assert_eq(fx_conn(), NULL);
}

Test(tcp_close, linger_zero_sends_rst, .init = fx_setup, .fini = fx_teardown)
{
	struct linger lg = { 1, 0 };

	fx_established();
	cr_assert_eq(tcp_setsockopt(F.s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg), F.now), 0);
	tcp_close(F.s, F.now);
	expect_out(TH_RST | TH_ACK);
	cr_assert_eq(fx_conn(), NULL);
}

Test(tcp_close, fin_follows_queued_data, .init = fx_setup, .fini = fx_teardown)
{
	const struct tcp_seg *o;

	fx_established();
	cr_assert_eq(tcp_send(F.s, "abc", 3, 0, F.now), 3);
	expect_out(TH_ACK);
	cr_assert_eq(tcp_send(F.s, "def", 3, 0, F.now), 3);  /* Nagle holds it */
	expect_none();
	tcp_close(F.s, F.now);
	o = expect_out(TH_ACK | TH_FIN);
	cr_assert_eq(o->seq, F.iss + 4);
	cr_assert_eq(o->len, 3);
}

Test(tcp_close, shutdown_rd_gives_eof_data_still_accepted, .init = fx_setup, .fini = fx_teardown)
{
	char b[8];

	fx_established();
	cr_assert_eq(tcp_shutdown(F.s, SHUT_RD, F.now), 0);
	expect_none();
	cr_assert(tcp_sock_events(F.s) & POLLRDHUP);
	cr_assert_eq(tcp_recv(F.s, b, sizeof(b), 0, F.now), 0);
	cr_assert_eq(tcp_send(F.s, "x", 1, 0, F.now), 1);
}

Test(tcp_close, shutdown_unconnected_enotconn, .init = fx_setup, .fini = fx_teardown)
{
	struct tcp_sock *s = tcp_sock_new(F.eng);

	cr_assert_eq(tcp_shutdown(s, SHUT_WR, F.now), -ENOTCONN);
	tcp_close(s, F.now);
}

Test(tcp_close, orphan_finishes_the_close, .init = fx_setup, .fini = fx_teardown)
{
	fx_established();
	tcp_close(F.s, F.now);
	expect_out(TH_FIN | TH_ACK);
	seg(.flags = TH_FIN | TH_ACK, .ack = F.iss + 2);
	expect_out(TH_ACK);
	cr_assert_eq(fx_state(), TCPS_TIME_WAIT);
	fx_advance(SEC(60));
	cr_assert_eq(fx_conn(), NULL);
}
