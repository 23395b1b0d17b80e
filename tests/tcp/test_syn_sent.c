/* test_syn_sent.c - active open: SYN-SENT and its events (RFC 9293 3.10.7.3, 3.8.1; Linux tcp_rcv_synsent_state_process). */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>

#include "tcph.h"

TestSuite(tcp_syn_sent, .init = fx_setup, .fini = fx_teardown);

Test(tcp_syn_sent, connect_sends_syn_with_linux_options)
{
	const struct tcp_seg *o;

	F.s = tcp_sock_new(F.eng);
	cr_assert_eq(tcp_connect(F.s, htonl(PEER_ADDR), PPORT, F.now), -EINPROGRESS);
	o = expect_out(TH_SYN);
	cr_assert_eq(o->opts & (TCPOPT_F_MSS | TCPOPT_F_WS | TCPOPT_F_SACKOK | TCPOPT_F_TS),
		     TCPOPT_F_MSS | TCPOPT_F_WS | TCPOPT_F_SACKOK | TCPOPT_F_TS);
	cr_assert_eq(o->mss, 1460);
	cr_assert_eq(o->ws, 7);
	cr_assert_eq(o->win, 64240);
	cr_assert(o->sport >= 32768 && o->sport <= 60999, "ephemeral port %u", o->sport);
	cr_assert_eq(tcp_connect(F.s, htonl(PEER_ADDR), PPORT, F.now), -EALREADY);
	cr_assert_eq(fx_count(CNT_TCP_ACTIVE_OPENS), 1);
}

Test(tcp_syn_sent, rcv_synack_establishes)
{
	fx_syn_sent();
	cr_assert_eq(tcp_sock_events(F.s) & POLLOUT, 0);
	cr_assert_eq(seg(.flags = TH_SYN | TH_ACK, .seq = PISS), DROP_NONE);
	const struct tcp_seg *o = expect_out(TH_ACK);
	cr_assert_eq(o->seq, F.iss + 1);
	cr_assert_eq(o->ack, PISS + 1);
	cr_assert_eq(fx_state(), TCPS_ESTABLISHED);
	cr_assert(tcp_sock_events(F.s) & POLLOUT);
	cr_assert(F.events & POLLOUT, "callback told of the connection");
}

Test(tcp_syn_sent, rcv_rst_with_good_ack_is_refused)
{
	int err = 0;
	socklen_t l = sizeof(err);

	fx_syn_sent();
	cr_assert_eq(seg(.flags = TH_RST | TH_ACK, .seq = 0), DROP_NONE);
	cr_assert_eq(fx_state(), TCPS_CLOSED);
	cr_assert(tcp_sock_events(F.s) & POLLERR);
	cr_assert_eq(tcp_getsockopt(F.s, SOL_SOCKET, SO_ERROR, &err, &l), 0);
	cr_assert_eq(err, ECONNREFUSED);
	expect_none();
}

Test(tcp_syn_sent, rcv_rst_with_bad_ack)
{
	fx_syn_sent();
	cr_assert_eq(seg(.flags = TH_RST | TH_ACK, .seq = 0, .ack = F.iss + 5), DROP_TCP_BAD_ACK);
	cr_assert_eq(fx_state(), TCPS_SYN_SENT);
	expect_none();
}

Test(tcp_syn_sent, rcv_rst_without_ack_ignored)
{
	fx_syn_sent();
	cr_assert_eq(seg(.flags = TH_RST, .seq = 0), DROP_TCP_BAD_RST);
	cr_assert_eq(fx_state(), TCPS_SYN_SENT);
}

Test(tcp_syn_sent, rcv_ack_bad_sends_rst)
{
	fx_syn_sent();
	cr_assert_eq(seg(.flags = TH_SYN | TH_ACK, .seq = PISS, .ack = F.iss + 100), DROP_TCP_BAD_ACK);
	const struct tcp_seg *o = expect_out(TH_RST);
	cr_assert_eq(o->seq, F.iss + 100);
	cr_assert_eq(fx_state(), TCPS_SYN_SENT);
}

Test(tcp_syn_sent, rcv_syn_simultaneous_open)
{
	const struct tcp_seg *o;

	fx_syn_sent();
	cr_assert_eq(seg(.flags = TH_SYN, .seq = PISS, .ack = 0), DROP_NONE);
	o = expect_out(TH_SYN | TH_ACK);
	cr_assert_eq(o->seq, F.iss);
	cr_assert_eq(o->ack, PISS + 1);
	cr_assert_eq(fx_state(), TCPS_SYN_RECEIVED);
	/* the peer's SYN-ACK (its answer to our SYN) completes it */
	cr_assert_eq(seg(.flags = TH_ACK, .seq = PISS + 1, .ack = F.iss + 1), DROP_NONE);
	cr_assert_eq(fx_state(), TCPS_ESTABLISHED);
	cr_assert(tcp_sock_events(F.s) & POLLOUT);
}

Test(tcp_syn_sent, rcv_plain_ack_dropped)
{
	fx_syn_sent();
	cr_assert_eq(seg(.flags = TH_ACK, .seq = PISS, .ack = F.iss + 1), DROP_TCP_BAD_FLAGS);
	cr_assert_eq(fx_state(), TCPS_SYN_SENT);
}

Test(tcp_syn_sent, syn_retries_then_etimedout_after_127s)
{
	uint64_t t0;
	uint64_t gaps[6] = { 1, 2, 4, 8, 16, 32 };
	int err = 0;
	socklen_t l = sizeof(err);

	fx_syn_sent();
	t0 = F.now;
	for (int i = 0; i < 6; i++) {
		{ uint64_t g = fx_next_timer(); cr_assert_eq(g, SEC(gaps[i]), "retry %d gap %llu", i + 1, (unsigned long long)g); }
		const struct tcp_seg *o = expect_out(TH_SYN);
		cr_assert_eq(o->seq, F.iss);
	}
	cr_assert_eq(fx_state(), TCPS_SYN_SENT);
	fx_next_timer();
	cr_assert_eq(F.now - t0, SEC(127));
	expect_none();
	cr_assert_eq(fx_state(), TCPS_CLOSED);
	cr_assert_eq(tcp_getsockopt(F.s, SOL_SOCKET, SO_ERROR, &err, &l), 0);
	cr_assert_eq(err, ETIMEDOUT);
}

Test(tcp_syn_sent, close_just_forgets)
{
	fx_syn_sent();
	cr_assert_eq(tcp_close(F.s, F.now), 0);
	cr_assert_eq(fx_conn(), NULL);
	expect_none();
	fx_advance(SEC(5));
	expect_none();
}

Test(tcp_syn_sent, icmp_unreachable_is_hard_error)
{
	uint8_t l4[8] = { 0, 0, PPORT >> 8, PPORT & 0xff, 0, 0, 0, 0 };
	struct ip_info in = { .src = htonl(US_ADDR), .dst = htonl(PEER_ADDR), .proto = 6 };
	int err = 0;
	socklen_t l = sizeof(err);

	fx_syn_sent();
	l4[0] = F.lport >> 8; l4[1] = F.lport & 0xff;
	l4[4] = F.iss >> 24; l4[5] = (F.iss >> 16) & 0xff; l4[6] = (F.iss >> 8) & 0xff; l4[7] = F.iss & 0xff;
	tcp_icmp_error(F.eng, &in, l4, 8, 3, 1, 0, F.now);
	cr_assert_eq(fx_state(), TCPS_CLOSED);
	tcp_getsockopt(F.s, SOL_SOCKET, SO_ERROR, &err, &l);
	cr_assert_eq(err, EHOSTUNREACH);
}
