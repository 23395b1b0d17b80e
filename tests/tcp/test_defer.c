/* test_defer.c - TCP_DEFER_ACCEPT as Linux has it: bare handshake ACKs dropped until data or the defer count of SYN-ACK retransmissions (Linux tcp_check_req, reqsk_timer_handler, syn_ack_recalc; RFC 9293 3.10.7.4). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "tcph.h"

TestSuite(tcp_defer, .init = fx_setup, .fini = fx_teardown);

static int get_defer(struct tcp_sock *s)
{
	int v = -1;
	socklen_t len = sizeof(v);

	cr_assert_eq(tcp_getsockopt(s, IPPROTO_TCP, TCP_DEFER_ACCEPT, &v, &len), 0);
	cr_assert_eq(len, sizeof(int));
	return v;
}

static void set_defer(struct tcp_sock *s, int secs)
{
	cr_assert_eq(tcp_setsockopt(s, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs), F.now), 0);
}

/* A listener with TCP_DEFER_ACCEPT = secs, a SYN in, our SYN-ACK out. */
static void defer_syn_rcvd(int secs)
{
	const struct tcp_seg *o;

	fx_listen();
	set_defer(F.lis, secs);
	cr_assert_eq(seg(.flags = TH_SYN, .seq = PISS, .ack = 0, .opts = TCPOPT_F_MSS), DROP_NONE);
	o = expect_out(TH_SYN | TH_ACK);
	F.iss = o->seq;
	F.p_seq = PISS + 1;
	F.p_ack = F.iss + 1;
	F.events = 0;
	cr_assert_eq(fx_state(), TCPS_SYN_RECEIVED);
}

static void assert_nothing_to_accept(void)
{
	struct tcp_sock *c;

	cr_assert_eq(fx_state(), TCPS_SYN_RECEIVED);
	cr_assert_eq(fx_conn()->kind, TCPK_REQ, "still a request record");
	cr_assert_eq(tcp_accept(F.lis, &c), -EAGAIN);
	cr_assert_eq(tcp_sock_events(F.lis) & POLLIN, 0);
	cr_assert_eq(F.events & POLLIN, 0, "no accept wake-up");
}

Test(tcp_defer, off_by_default)
{
	struct tcp_sock *c;

	fx_syn_rcvd();
	cr_assert_eq(get_defer(F.lis), 0);
	cr_assert_eq(seg(), DROP_NONE, "a bare ACK completes the handshake");
	cr_assert_eq(fx_state(), TCPS_ESTABLISHED);
	cr_assert_eq(tcp_accept(F.lis, &c), 0);
	cr_assert_eq(fx_drops(DROP_TCP_DEFER_ACCEPT), 0);
}

Test(tcp_defer, seconds_round_trip_as_retransmissions)
{
	struct tcp_sock *s = tcp_sock_new(F.eng);
	socklen_t len = 2;
	int v = 5;
	/* secs_to_retrans / retrans_to_secs with 1 s doubling, capped at 120 s:
	 * the smallest schedule 1, 1+2, 1+2+4 ... covering the seconds */
	static const int set[][2] = {
		{ 1, 1 }, { 2, 3 }, { 3, 3 }, { 5, 7 }, { 7, 7 }, { 8, 15 }, { 60, 63 },
		{ 200, 247 }, { 300, 367 }, { 0, 0 }, { -4, 0 },
	};

	cr_assert(s);
	cr_assert_eq(get_defer(s), 0);
	for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++) {
		set_defer(s, set[i][0]);
		cr_assert_eq(get_defer(s), set[i][1], "set %d: got %d, Linux gives %d",
			     set[i][0], get_defer(s), set[i][1]);
	}
	cr_assert_eq(tcp_setsockopt(s, IPPROTO_TCP, TCP_DEFER_ACCEPT, &v, len, F.now), -EINVAL);
	tcp_close(s, F.now);
}

Test(tcp_defer, bare_ack_dropped_no_accept)
{
	defer_syn_rcvd(5);
	cr_assert_eq(seg(), DROP_TCP_DEFER_ACCEPT);
	expect_none();
	assert_nothing_to_accept();
	cr_assert_eq(F.lis->acceptq_len, 0);
	cr_assert_eq(F.lis->synq_len, 1);
	/* the peer's duplicate of it too */
	cr_assert_eq(seg(), DROP_TCP_DEFER_ACCEPT);
	assert_nothing_to_accept();
	cr_assert_eq(fx_drops(DROP_TCP_DEFER_ACCEPT), 2);
}

Test(tcp_defer, data_completes_and_accept_returns_it)
{
	struct tcp_sock *c;
	char buf[16];

	defer_syn_rcvd(5);
	cr_assert_eq(seg(), DROP_TCP_DEFER_ACCEPT);
	cr_assert_eq(seg(.flags = TH_ACK | TH_PSH, .data = "hello", .len = 5), DROP_NONE);
	cr_assert_eq(fx_state(), TCPS_ESTABLISHED);
	cr_assert(tcp_sock_events(F.lis) & POLLIN);
	cr_assert(F.events & POLLIN, "listener woken for accept");
	cr_assert_eq(tcp_accept(F.lis, &c), 0);
	cr_assert_eq(tcp_recv_avail(c), 5, "the data is readable at once");
	cr_assert(tcp_sock_events(c) & POLLIN);
	cr_assert_eq(tcp_recv(c, buf, sizeof(buf), 0, F.now), 5);
	cr_assert_eq(memcmp(buf, "hello", 5), 0);
	cr_assert_eq(get_defer(c), 0, "the accepted socket does not inherit it");
	F.s = c;
}

Test(tcp_defer, data_without_bare_ack_first)
{
	struct tcp_sock *c;

	defer_syn_rcvd(30);
	cr_assert_eq(seg(.flags = TH_ACK | TH_PSH, .data = "GET /", .len = 5), DROP_NONE);
	cr_assert_eq(tcp_accept(F.lis, &c), 0);
	cr_assert_eq(tcp_recv_avail(c), 5);
	F.s = c;
}

Test(tcp_defer, fin_completes)
{
	struct tcp_sock *c;
	char b;

	/* a FIN occupies sequence space: not a bare ACK (end_seq != rcv_isn + 1) */
	defer_syn_rcvd(5);
	cr_assert_eq(seg(.flags = TH_ACK | TH_FIN), DROP_NONE);
	cr_assert_eq(tcp_accept(F.lis, &c), 0);
	cr_assert_eq(tcp_recv(c, &b, 1, 0, F.now), 0, "end of stream");
	F.s = c;
}

Test(tcp_defer, bare_ack_completes_after_defer_retransmissions)
{
	struct tcp_sock *c;

	/* 3 s = 2 retransmissions (1 + 2) */
	defer_syn_rcvd(3);
	cr_assert_eq(seg(), DROP_TCP_DEFER_ACCEPT);
	/* syn_ack_recalc: once acked, the SYN-ACK is held back until the last
	 * deferring period; the timer runs on its schedule */
	cr_assert_eq(fx_next_timer(), SEC(1));
	expect_none();
	cr_assert_eq(seg(), DROP_TCP_DEFER_ACCEPT, "1 retransmission < 2: still deferred");
	assert_nothing_to_accept();
	cr_assert_eq(fx_next_timer(), SEC(2));
	expect_out(TH_SYN | TH_ACK);
	/* the peer answers the SYN-ACK with its ACK again: now it completes */
	cr_assert_eq(seg(), DROP_NONE);
	cr_assert_eq(fx_state(), TCPS_ESTABLISHED);
	cr_assert(tcp_sock_events(F.lis) & POLLIN);
	cr_assert_eq(tcp_accept(F.lis, &c), 0);
	cr_assert_eq(tcp_recv_avail(c), 0);
	F.s = c;
}

Test(tcp_defer, synack_resent_on_schedule_while_not_acked)
{
	/* no ACK seen yet: the SYN-ACK goes out at every expiry as without defer */
	defer_syn_rcvd(3);
	cr_assert_eq(fx_next_timer(), SEC(1));
	expect_out(TH_SYN | TH_ACK);
	cr_assert_eq(fx_next_timer(), SEC(2));
	expect_out(TH_SYN | TH_ACK);
	cr_assert_eq(seg(), DROP_NONE, "2 retransmissions reached: a bare ACK completes");
	cr_assert_eq(fx_state(), TCPS_ESTABLISHED);
}

Test(tcp_defer, record_lives_max_of_synack_retries_and_defer)
{
	/* 200 s = 8 retransmissions, more than tcp_synack_retries (5):
	 * 1 2 4 8 16 32 64 120 s, then the record goes after another 120 s */
	uint64_t gaps[8] = { 1, 2, 4, 8, 16, 32, 64, 120 };

	defer_syn_rcvd(200);
	cr_assert_eq(seg(), DROP_TCP_DEFER_ACCEPT);
	for (int i = 0; i < 8; i++) {
		cr_assert_eq(fx_next_timer(), SEC(gaps[i]));
		if (i < 7)
			expect_none();
		else
			expect_out(TH_SYN | TH_ACK); /* the last chance, syn_ack_recalc */
		cr_assert_neq(fx_conn(), NULL);
	}
	cr_assert_eq(fx_next_timer(), SEC(120));
	expect_none();
	cr_assert_eq(fx_conn(), NULL, "request dropped after 367 s");
	cr_assert_eq(F.lis->synq_len, 0);
}

Test(tcp_defer, short_defer_keeps_synack_retries)
{
	/* 1 s = 1 retransmission: the record still lives tcp_synack_retries (5) */
	uint64_t gaps[5] = { 1, 2, 4, 8, 16 };

	defer_syn_rcvd(1);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(fx_next_timer(), SEC(gaps[i]));
		expect_out(TH_SYN | TH_ACK);
	}
	cr_assert_eq(fx_next_timer(), SEC(32));
	cr_assert_eq(fx_conn(), NULL);
}
