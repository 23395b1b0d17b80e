/* test_listen.c - passive open: LISTEN, the SYN and accept queues, SYN-ACK retries, SYN cookies (RFC 9293 3.10.7.2, RFC 4987). */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>

#include "tcph.h"

TestSuite(tcp_listen, .init = fx_setup, .fini = fx_teardown);

Test(tcp_listen, rcv_syn_sends_synack_with_offered_options)
{
	const struct tcp_seg *o;

	fx_listen();
	cr_assert_eq(seg(.flags = TH_SYN, .seq = PISS, .ack = 0,
			 .opts = TCPOPT_F_MSS | TCPOPT_F_WS | TCPOPT_F_SACKOK | TCPOPT_F_TS,
			 .ws = 7, .tsval = 77), DROP_NONE);
	o = expect_out(TH_SYN | TH_ACK);
	cr_assert_eq(o->ack, PISS + 1);
	cr_assert_eq(o->opts, TCPOPT_F_MSS | TCPOPT_F_WS | TCPOPT_F_SACKOK | TCPOPT_F_TS);
	cr_assert_eq(o->tsecr, 77);
	cr_assert_eq(fx_state(), TCPS_SYN_RECEIVED);
	cr_assert_eq(fx_conn()->kind, TCPK_REQ);
	cr_assert_eq(fx_count(CNT_TCP_PASSIVE_OPENS), 1);
}

Test(tcp_listen, rcv_syn_without_options_answers_without)
{
	const struct tcp_seg *o;

	fx_listen();
	seg(.flags = TH_SYN, .seq = PISS, .ack = 0);
	o = expect_out(TH_SYN | TH_ACK);
	cr_assert_eq(o->opts, TCPOPT_F_MSS, "only MSS when the SYN offered nothing");
}

Test(tcp_listen, rcv_ack_sends_rst)
{
	const struct tcp_seg *o;

	fx_listen();
	cr_assert_eq(seg(.flags = TH_ACK, .seq = 5, .ack = 12345), DROP_TCP_NO_SOCKET);
	o = expect_out(TH_RST);
	cr_assert_eq(o->seq, 12345);
}

Test(tcp_listen, rcv_rst_ignored)
{
	fx_listen();
	cr_assert_eq(seg(.flags = TH_RST, .seq = 5), DROP_TCP_NO_SOCKET);
	expect_none();
}

Test(tcp_listen, rcv_syn_fin_dropped)
{
	fx_listen();
	cr_assert_eq(seg(.flags = TH_SYN | TH_FIN, .seq = PISS, .ack = 0), DROP_TCP_BAD_FLAGS);
	expect_none();
}

Test(tcp_listen, handshake_then_accept)
{
	struct tcp_sock *c;

	fx_syn_rcvd();
	cr_assert_eq(tcp_accept(F.lis, &c), -EAGAIN);
	cr_assert_eq(tcp_sock_events(F.lis) & POLLIN, 0);
	cr_assert_eq(seg(), DROP_NONE);
	cr_assert_eq(fx_state(), TCPS_ESTABLISHED);
	cr_assert(tcp_sock_events(F.lis) & POLLIN);
	cr_assert(F.events & POLLIN, "listener callback on accept ready");
	cr_assert_eq(tcp_accept(F.lis, &c), 0);
	cr_assert(tcp_sock_events(c) & POLLOUT);
	cr_assert_eq(tcp_accept(F.lis, &c), -EAGAIN);
}

Test(tcp_listen, accept_on_non_listener_einval)
{
	struct tcp_sock *s = tcp_sock_new(F.eng), *c;

	cr_assert_eq(tcp_accept(s, &c), -EINVAL);
	tcp_close(s, F.now);
}

Test(tcp_listen, bind_conflict_eaddrinuse)
{
	struct tcp_sock *s;

	fx_listen();
	s = tcp_sock_new(F.eng);
	cr_assert_eq(tcp_bind(s, 0, LPORT), -EADDRINUSE);
	tcp_close(s, F.now);
}

Test(tcp_listen, synack_retransmitted_5_times_then_dropped)
{
	uint64_t gaps[5] = { 1, 2, 4, 8, 16 };

	fx_syn_rcvd();
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(fx_next_timer(), SEC(gaps[i]));
		expect_out(TH_SYN | TH_ACK);
	}
	cr_assert_eq(fx_next_timer(), SEC(32));
	expect_none();
	cr_assert_eq(fx_conn(), NULL, "request dropped after 63 s");
}

Test(tcp_listen, retransmitted_syn_gets_synack_again)
{
	const struct tcp_seg *o;

	fx_syn_rcvd();
	cr_assert_eq(seg(.flags = TH_SYN, .seq = PISS, .ack = 0), DROP_NONE);
	o = expect_out(TH_SYN | TH_ACK);
	cr_assert_eq(o->seq, F.iss);
}

Test(tcp_listen, accept_queue_full_drops_ack_and_keeps_request)
{
	struct tcp_sock *c;

	fx_listen();
	tcp_listen(F.lis, 0);  /* backlog 0: one connection may wait (Linux backlog + 1) */
	/* first connection fills the queue (cookie since backlog 0: SYN queue "full") */
	F.rport = 40001;
	seg(.flags = TH_SYN, .seq = PISS, .ack = 0, .sport = 40001);
	const struct tcp_seg *o = expect_out(TH_SYN | TH_ACK);
	cr_assert_eq(seg(.flags = TH_ACK, .seq = PISS + 1, .ack = o->seq + 1, .sport = 40001), DROP_NONE);
	cr_assert_eq(F.lis->acceptq_len, 1);
	/* a second one: SYN dropped while the accept queue is over its backlog */
	F.rport = 40002;
	cr_assert_eq(seg(.flags = TH_SYN, .seq = PISS, .ack = 0, .sport = 40002), DROP_TCP_LISTEN_OVERFLOW);
	expect_none();
	cr_assert_eq(tcp_accept(F.lis, &c), 0);
	cr_assert_eq(seg(.flags = TH_SYN, .seq = PISS, .ack = 0, .sport = 40002), DROP_NONE);
	expect_out(TH_SYN | TH_ACK);
}

Test(tcp_listen, syn_queue_overflow_uses_cookies)
{
	const struct tcp_seg *o;
	struct tcp_sock *c;

	fx_listen();
	tcp_listen(F.lis, 2);
	for (int i = 0; i < 2; i++) {
		seg(.flags = TH_SYN, .seq = PISS, .ack = 0, .sport = (uint16_t)(41000 + i));
		expect_out(TH_SYN | TH_ACK);
	}
	cr_assert_eq(F.lis->synq_len, 2);
	F.rport = 42000;
	cr_assert_eq(seg(.flags = TH_SYN, .seq = PISS, .ack = 0, .sport = 42000,
			 .opts = TCPOPT_F_MSS, .mss = 1460), DROP_NONE);
	o = expect_out(TH_SYN | TH_ACK);
	cr_assert_eq(fx_count(CNT_TCP_SYNCOOKIES_SENT), 1);
	cr_assert_eq(fx_conn(), NULL, "a cookie keeps no state");
	cr_assert_eq(seg(.flags = TH_ACK, .seq = PISS + 1, .ack = o->seq + 1, .sport = 42000), DROP_NONE);
	cr_assert_eq(fx_count(CNT_TCP_SYNCOOKIES_OK), 1);
	cr_assert_eq(fx_state(), TCPS_ESTABLISHED);
	cr_assert_eq(tcp_accept(F.lis, &c), 0);
	cr_assert_eq(c->mss, 1460);
}

Test(tcp_listen, forged_cookie_ack_gets_rst)
{
	fx_listen();
	tcp_listen(F.lis, 0);
	seg(.flags = TH_SYN, .seq = PISS, .ack = 0, .sport = 40005);
	expect_out(TH_SYN | TH_ACK);
	cr_assert_eq(seg(.flags = TH_ACK, .seq = PISS + 1, .ack = 0xdeadbeef, .sport = 40005),
		     DROP_TCP_BAD_COOKIE);
	expect_out(TH_RST);
}

Test(tcp_listen, close_listener_resets_queued_children)
{
	const struct tcp_seg *o;

	fx_syn_rcvd();
	seg();
	cr_assert_eq(tcp_close(F.lis, F.now), 0);
	o = expect_out(TH_RST | TH_ACK);
	cr_assert_eq(o->seq, F.iss + 1);
	cr_assert_eq(fx_conn(), NULL);
}

/* Linux inet_csk_bind_conflict() (relax, as inet_csk_get_port calls it for
 * bind and again for listen): a socket bound to the port is no conflict when
 * both set SO_REUSEADDR and the other is not listening. An accepted connection
 * inherits its listener's SO_REUSEADDR (sk_clone), so a server that closed its
 * listener listens again on the same port while the connection lives (iperf3's
 * server between tests). */
static struct tcp_sock *accepted_on_reuse_listener(bool reuse)
{
	int one = 1;
	struct tcp_sock *c = NULL;
	const struct tcp_seg *o;

	F.lis = tcp_sock_new(F.eng);
	if (reuse)
		cr_assert_eq(tcp_setsockopt(F.lis, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one),
					    F.now), 0);
	cr_assert_eq(tcp_bind(F.lis, 0, LPORT), 0);
	cr_assert_eq(tcp_listen(F.lis, 16), 0);
	F.lport = LPORT;
	seg(.flags = TH_SYN, .seq = PISS, .ack = 0, .opts = TCPOPT_F_MSS);
	o = expect_out(TH_SYN | TH_ACK);
	F.p_seq = PISS + 1;
	F.p_ack = o->seq + 1;
	cr_assert_eq(seg(), DROP_NONE);
	cr_assert_eq(tcp_accept(F.lis, &c), 0);
	tcp_close(F.lis, F.now);
	F.lis = NULL;
	cr_assert_eq(c->c.state, TCPS_ESTABLISHED);
	return c;
}

Test(tcp_listen, reuseaddr_relisten_while_accepted_connection_lives)
{
	int one = 1;
	struct tcp_sock *c = accepted_on_reuse_listener(true);
	struct tcp_sock *l2 = tcp_sock_new(F.eng);

	cr_assert_eq(tcp_setsockopt(l2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one), F.now), 0);
	cr_assert_eq(tcp_bind(l2, 0, LPORT), 0, "Linux allows the bind");
	cr_assert_eq(tcp_listen(l2, 16), 0, "and the listen");
	/* a new connection reaches the new listener; the old one still works */
	seg(.flags = TH_SYN, .seq = PISS, .ack = 0, .sport = PPORT + 1, .opts = TCPOPT_F_MSS);
	expect_out(TH_SYN | TH_ACK);
	cr_assert_eq(tcp_send(c, "x", 1, 0, F.now), 1);
	expect_out(TH_ACK);
	/* a third socket with SO_REUSEADDR may bind, but not listen beside l2 */
	struct tcp_sock *l3 = tcp_sock_new(F.eng);
	cr_assert_eq(tcp_setsockopt(l3, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one), F.now), 0);
	cr_assert_eq(tcp_bind(l3, 0, LPORT), -EADDRINUSE, "l2 listens: a conflict");
	tcp_close(l3, F.now);
	tcp_close(l2, F.now);
	tcp_close(c, F.now);
}

Test(tcp_listen, relisten_needs_reuseaddr_on_both)
{
	int one = 1;
	struct tcp_sock *c = accepted_on_reuse_listener(false);
	struct tcp_sock *l2 = tcp_sock_new(F.eng);

	cr_assert_eq(tcp_setsockopt(l2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one), F.now), 0);
	cr_assert_eq(tcp_bind(l2, 0, LPORT), -EADDRINUSE, "the connection did not set it");
	tcp_close(l2, F.now);
	struct tcp_sock *l4 = tcp_sock_new(F.eng);
	cr_assert_eq(tcp_bind(l4, 0, LPORT), -EADDRINUSE, "nor the new socket");
	tcp_close(l4, F.now);
	tcp_close(c, F.now);
}

Test(tcp_listen, reuseaddr_bound_pair_only_one_listens)
{
	int one = 1;
	struct tcp_sock *a = tcp_sock_new(F.eng), *b = tcp_sock_new(F.eng);

	tcp_setsockopt(a, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one), F.now);
	tcp_setsockopt(b, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one), F.now);
	cr_assert_eq(tcp_bind(a, 0, LPORT), 0);
	cr_assert_eq(tcp_bind(b, 0, LPORT), 0, "both SO_REUSEADDR, neither listening");
	cr_assert_eq(tcp_listen(a, 4), 0);
	cr_assert_eq(tcp_listen(b, 4), -EADDRINUSE, "a listens now");
	tcp_close(a, F.now);
	tcp_close(b, F.now);
}
