/* test_sockstate.c - connect()'s socket-level state, names, TCP_SYNCNT, TCP_USER_TIMEOUT, TIME-WAIT reuse and the send buffer, as Linux (RFC 9293 3.10.1, RFC 5482, RFC 7323 5.8). */
#include <criterion/criterion.h>
#include <errno.h>

#include "tcph.h"

#ifndef TCP_USER_TIMEOUT
#define TCP_USER_TIMEOUT 18
#endif

TestSuite(tcp_connect_state, .init = fx_setup, .fini = fx_teardown);
TestSuite(tcp_syncnt, .init = fx_setup, .fini = fx_teardown);
TestSuite(tcp_user_timeout, .init = fx_setup, .fini = fx_teardown);
TestSuite(tcp_tw_reuse, .init = fx_setup, .fini = fx_teardown);
TestSuite(tcp_sndbuf, .init = fx_setup, .fini = fx_teardown);

static int so_error(void)
{
	int e = -1;
	socklen_t l = sizeof(e);

	cr_assert_eq(tcp_getsockopt(F.s, SOL_SOCKET, SO_ERROR, &e, &l), 0);
	return e;
}

static void setopt(int level, int name, int v)
{
	cr_assert_eq(tcp_setsockopt(F.s, level, name, &v, sizeof(v), F.now), 0);
}

/* --- connect() a second time, names ---------------------------------------- */

Test(tcp_connect_state, syn_sent_rcv_rst_then_connect_is_econnaborted)
{
	uint32_t a;
	uint16_t p, eph;

	fx_syn_sent();
	eph = F.lport;
	cr_assert_eq(seg(.flags = TH_RST | TH_ACK, .seq = 0), DROP_NONE);
	cr_assert_eq(so_error(), ECONNREFUSED);
	/* Linux: SS_CONNECTING and TCP_CLOSE: "sock_error(sk) ? : -ECONNABORTED",
	 * no new SYN */
	cr_assert_eq(tcp_connect(F.s, htonl(PEER_ADDR), PPORT, F.now), -ECONNABORTED);
	expect_none();
	/* the disconnect reset the source address, the port number stays */
	cr_assert_eq(tcp_getsockname(F.s, &a, &p), 0);
	cr_assert_eq(a, 0);
	cr_assert_eq(p, eph);
	cr_assert_eq(tcp_getpeername(F.s, &a, &p), -ENOTCONN);
	/* and the socket may connect again */
	cr_assert_eq(tcp_connect(F.s, htonl(PEER_ADDR), PPORT, F.now), -EINPROGRESS);
	expect_out(TH_SYN);
}

Test(tcp_connect_state, syn_sent_rcv_rst_error_unread_reported_by_connect)
{
	fx_syn_sent();
	cr_assert_eq(seg(.flags = TH_RST | TH_ACK, .seq = 0), DROP_NONE);
	cr_assert_eq(tcp_connect(F.s, htonl(PEER_ADDR), PPORT, F.now), -ECONNREFUSED);
	cr_assert_eq(so_error(), 0, "reported once");
}

Test(tcp_connect_state, blocking_connect_refused_resets_source_address)
{
	uint32_t a;
	uint16_t p;

	fx_syn_sent();
	cr_assert_eq(seg(.flags = TH_RST | TH_ACK, .seq = 0), DROP_NONE);
	cr_assert_eq(tcp_connect_waited(F.s), -ECONNREFUSED);
	tcp_getsockname(F.s, &a, &p);
	cr_assert_eq(a, 0, "getsockname 0.0.0.0:<port> after a refused connect");
	cr_assert(p >= 32768);
}

Test(tcp_connect_state, waited_connect_completed_then_reset_returns_0)
{
	char b[4];

	fx_established();
	cr_assert_eq(seg(.flags = TH_RST | TH_ACK), DROP_NONE);
	/* the blocking connect was woken at ESTABLISHED: it succeeds, the reset
	 * is for the next call */
	cr_assert_eq(tcp_connect_waited(F.s), 0);
	cr_assert_eq(tcp_recv(F.s, b, sizeof(b), 0, F.now), -ECONNRESET);
	cr_assert_eq(tcp_connect(F.s, htonl(PEER_ADDR), PPORT, F.now), -EISCONN);
}

Test(tcp_connect_state, waited_connect_still_pending_is_ealready)
{
	fx_syn_sent();
	cr_assert_eq(tcp_connect_waited(F.s), -EALREADY);
}

Test(tcp_connect_state, listen_rcv_connect_is_eisconn)
{
	struct tcp_sock *l = tcp_sock_new(F.eng);

	cr_assert_eq(tcp_bind(l, 0, LPORT), 0);
	cr_assert_eq(tcp_listen(l, 4), 0);
	cr_assert_eq(tcp_connect(l, htonl(PEER_ADDR), PPORT, F.now), -EISCONN);
	expect_none();
	tcp_close(l, F.now);
}

Test(tcp_connect_state, established_rcv_rst_getpeername_enotconn)
{
	uint32_t a;
	uint16_t p;

	fx_established();
	cr_assert_eq(tcp_getpeername(F.s, &a, &p), 0);
	cr_assert_eq(seg(.flags = TH_RST | TH_ACK), DROP_NONE);
	cr_assert_eq(tcp_getpeername(F.s, &a, &p), -ENOTCONN);
	cr_assert_eq(tcp_getsockname(F.s, &a, &p), 0);
	cr_assert_eq(a, htonl(US_ADDR), "getsockname keeps the address");
}

Test(tcp_connect_state, time_wait_getpeername_enotconn)
{
	uint32_t a;
	uint16_t p;

	fx_time_wait();
	cr_assert_eq(tcp_getpeername(F.s, &a, &p), -ENOTCONN);
}

Test(tcp_connect_state, accepted_connect_is_eisconn)
{
	fx_established_passive();
	cr_assert_eq(tcp_connect(F.s, htonl(PEER_ADDR), PPORT, F.now), -EISCONN);
}

/* --- TCP_SYNCNT ------------------------------------------------------------- */

Test(tcp_syncnt, option_values)
{
	int v = 0;
	socklen_t l = sizeof(v);

	F.s = tcp_sock_new(F.eng);
	cr_assert_eq(tcp_getsockopt(F.s, IPPROTO_TCP, TCP_SYNCNT, &v, &l), 0);
	cr_assert_eq(v, 6, "tcp_syn_retries");
	v = 0;
	cr_assert_eq(tcp_setsockopt(F.s, IPPROTO_TCP, TCP_SYNCNT, &v, sizeof(v), F.now), -EINVAL);
	v = 128;
	cr_assert_eq(tcp_setsockopt(F.s, IPPROTO_TCP, TCP_SYNCNT, &v, sizeof(v), F.now), -EINVAL);
	setopt(IPPROTO_TCP, TCP_SYNCNT, 2);
	cr_assert_eq(tcp_getsockopt(F.s, IPPROTO_TCP, TCP_SYNCNT, &v, &l), 0);
	cr_assert_eq(v, 2);
	tcp_close(F.s, F.now);
	F.s = NULL;
}

Test(tcp_syncnt, syn_sent_one_retry_etimedout_at_3s)
{
	uint64_t t0;

	F.s = tcp_sock_new(F.eng);
	setopt(IPPROTO_TCP, TCP_SYNCNT, 1);
	cr_assert_eq(tcp_connect(F.s, htonl(PEER_ADDR), PPORT, F.now), -EINPROGRESS);
	F.lport = expect_out(TH_SYN)->sport;
	t0 = F.now;
	fx_advance(SEC(1));
	expect_out(TH_SYN);
	fx_advance(MSEC(1990));
	expect_none();
	cr_assert(tcp_in_state(F.s, TCPS_SYN_SENT), "still trying at 2.99 s");
	fx_advance(MSEC(10));
	cr_assert(tcp_in_state(F.s, TCPS_CLOSED), "ETIMEDOUT at 3 s (1 s + 2 s)");
	cr_assert_eq(F.now - t0, SEC(3));
	expect_none();
	cr_assert_eq(tcp_connect(F.s, htonl(PEER_ADDR), PPORT, F.now), -ETIMEDOUT);
}

/* --- TCP_USER_TIMEOUT --------------------------------------------------------- */

Test(tcp_user_timeout, option_values)
{
	int v = -1;
	socklen_t l = sizeof(v);

	fx_established();
	cr_assert_eq(tcp_getsockopt(F.s, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, &l), 0);
	cr_assert_eq(v, 0);
	v = -1;
	cr_assert_eq(tcp_setsockopt(F.s, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, sizeof(v), F.now), -EINVAL);
	setopt(IPPROTO_TCP, TCP_USER_TIMEOUT, 1500);
	cr_assert_eq(tcp_getsockopt(F.s, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, &l), 0);
	cr_assert_eq(v, 1500);
}

Test(tcp_user_timeout, established_unacked_data_aborts_at_timeout)
{
	uint64_t t0;
	unsigned sent = 0;
	char b[4];

	fx_established();
	setopt(IPPROTO_TCP, TCP_USER_TIMEOUT, 1000);
	cr_assert_eq(tcp_send(F.s, "into the void", 13, 0, F.now), 13);
	expect_out(TH_ACK | TH_PSH);
	t0 = F.now;
	while (tcp_in_state(F.s, TCPS_ESTABLISHED) && F.now - t0 < SEC(5)) {
		fx_next_timer();
		while (pop_out())
			sent++;
	}
	cr_assert(tcp_in_state(F.s, TCPS_CLOSED));
	cr_assert(F.now - t0 >= SEC(1) && F.now - t0 <= SEC(1) + MSEC(1),
		  "aborted at the user timeout, not at a backed-off RTO (%.6f s)",
		  (double)(F.now - t0) / 1e9);
	cr_assert(sent >= 1, "retransmitted meanwhile (%u)", sent);
	cr_assert_eq(tcp_recv(F.s, b, sizeof(b), 0, F.now), -ETIMEDOUT);
}

Test(tcp_user_timeout, established_without_option_keeps_retrying)
{
	fx_established();
	cr_assert_eq(tcp_send(F.s, "x", 1, 0, F.now), 1);
	fx_advance(SEC(10));
	cr_assert(tcp_in_state(F.s, TCPS_ESTABLISHED));
}

Test(tcp_user_timeout, zero_window_probes_abort_at_timeout)
{
	static char big[4000];

	fx_established();
	setopt(IPPROTO_TCP, TCP_USER_TIMEOUT, 2000);
	/* the peer closes its window */
	cr_assert_eq(seg(.win = 0), DROP_NONE);
	cr_assert_eq(tcp_send(F.s, big, sizeof(big), 0, F.now), (ssize_t)sizeof(big));
	expect_none();
	/* probes are answered (window still zero): Linux still gives up once the
	 * user timeout has passed since the first probe */
	for (int i = 0; i < 40 && tcp_in_state(F.s, TCPS_ESTABLISHED); i++) {
		fx_next_timer();
		if (pop_out() && tcp_in_state(F.s, TCPS_ESTABLISHED))
			cr_assert_eq(seg(.win = 0), DROP_NONE);
	}
	cr_assert(tcp_in_state(F.s, TCPS_CLOSED), "aborted");
	cr_assert_eq(so_error(), ETIMEDOUT);
}

Test(tcp_user_timeout, keepalive_gives_up_after_timeout_not_count)
{
	int one = 1;

	fx_established();
	cr_assert_eq(tcp_setsockopt(F.s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one), F.now), 0);
	setopt(IPPROTO_TCP, TCP_KEEPIDLE, 1);
	setopt(IPPROTO_TCP, TCP_KEEPINTVL, 1);
	setopt(IPPROTO_TCP, TCP_KEEPCNT, 100);
	setopt(IPPROTO_TCP, TCP_USER_TIMEOUT, 3500);
	fx_advance(SEC(3));
	cr_assert(tcp_in_state(F.s, TCPS_ESTABLISHED));
	fx_advance(SEC(1));
	cr_assert(tcp_in_state(F.s, TCPS_CLOSED), "idle 4 s >= 3.5 s at a probe: reset (count 100 ignored)");
	cr_assert_eq(so_error(), ETIMEDOUT);
}

/* --- TIME-WAIT and the same port again ---------------------------------------- */

/* An active close from a bound port (SO_REUSEADDR as asked) with timestamps,
 * left in TIME-WAIT. Returns the record's snd_nxt. */
static uint32_t time_wait_from_bound_port(int reuse, unsigned ts)
{
	const struct tcp_seg *o;

	F.s = tcp_sock_new(F.eng);
	tcp_setsockopt(F.s, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof(reuse), F.now);
	cr_assert_eq(tcp_bind(F.s, 0, 10865), 0);
	cr_assert_eq(tcp_connect(F.s, htonl(PEER_ADDR), PPORT, F.now), -EINPROGRESS);
	o = expect_out(TH_SYN);
	F.iss = o->seq;
	F.lport = o->sport;
	F.p_seq = PISS;
	F.p_ack = F.iss + 1;
	cr_assert_eq(seg(.flags = TH_SYN | TH_ACK, .seq = PISS, .opts = TCPOPT_F_MSS | ts,
			 .tsval = 5000), DROP_NONE);
	expect_out(TH_ACK);
	F.p_seq = PISS + 1;
	tcp_close(F.s, F.now);
	expect_out(TH_FIN | TH_ACK);
	cr_assert_eq(seg(.flags = TH_FIN | TH_ACK, .ack = F.iss + 2, .opts = ts,
			 .tsval = 5001), DROP_NONE);
	expect_out(TH_ACK);
	cr_assert_eq(fx_state(), TCPS_TIME_WAIT);
	F.s = NULL;
	return F.iss + 2;
}

Test(tcp_tw_reuse, bound_port_connect_takes_over_time_wait_pair)
{
	struct tcp_sock *s2 = tcp_sock_new(F.eng);
	uint32_t tw_snd_nxt = time_wait_from_bound_port(1, TCPOPT_F_TS);
	const struct tcp_seg *o;
	int one = 1;

	fx_advance(MSEC(300));
	tcp_setsockopt(s2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one), F.now);
	cr_assert_eq(tcp_bind(s2, 0, 10865), 0);
	cr_assert_eq(tcp_connect(s2, htonl(PEER_ADDR), PPORT, F.now), -EINPROGRESS);
	o = expect_out(TH_SYN);
	cr_assert_eq(o->sport, 10865);
	cr_assert_eq(o->seq, tw_snd_nxt + 65535 + 2, "Linux: write_seq = tw_snd_nxt + 65535 + 2");
	cr_assert_eq(fx_conn()->kind, TCPK_SOCK, "the record gave way");
	tcp_close(s2, F.now);
}

Test(tcp_tw_reuse, bound_port_without_timestamps_is_eaddrnotavail)
{
	struct tcp_sock *s2;
	int one = 1;

	time_wait_from_bound_port(1, 0);   /* no timestamps: not safe to reuse */
	s2 = tcp_sock_new(F.eng);
	tcp_setsockopt(s2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one), F.now);
	cr_assert_eq(tcp_bind(s2, 0, 10865), 0);
	cr_assert_eq(tcp_connect(s2, htonl(PEER_ADDR), PPORT, F.now), -EADDRNOTAVAIL);
	tcp_close(s2, F.now);
}

Test(tcp_tw_reuse, time_wait_without_reuseaddr_blocks_reuseaddr_bind)
{
	struct tcp_sock *s2 = tcp_sock_new(F.eng);
	int one = 1;

	time_wait_from_bound_port(0, TCPOPT_F_TS);
	cr_assert_eq(tcp_bind(s2, 0, 10865), -EADDRINUSE);
	tcp_setsockopt(s2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one), F.now);
	cr_assert_eq(tcp_bind(s2, 0, 10865), -EADDRINUSE,
		     "Linux: both sockets need SO_REUSEADDR (tw_reuse)");
	tcp_close(s2, F.now);
}

/* --- the send buffer ---------------------------------------------------------- */

Test(tcp_sndbuf, defaults_as_linux)
{
	int v = 0;
	socklen_t l = sizeof(v);

	F.s = tcp_sock_new(F.eng);
	tcp_getsockopt(F.s, SOL_SOCKET, SO_SNDBUF, &v, &l);
	cr_assert_eq(v, 16384, "tcp_wmem[1] before the connection");
	tcp_close(F.s, F.now);
	fx_established();
	tcp_getsockopt(F.s, SOL_SOCKET, SO_SNDBUF, &v, &l);
	cr_assert_eq(v, 87040, "tcp_sndbuf_expand: 2 * 10 segments * 4352");
}

Test(tcp_sndbuf, established_closed_window_takes_about_64k)
{
	static char big[200000];
	ssize_t n;

	fx_established();
	cr_assert_eq(seg(.win = 0), DROP_NONE);
	n = tcp_send(F.s, big, sizeof(big), 0, F.now);
	cr_assert(n >= 60000 && n <= 70000, "accepted %zd", n);
	cr_assert_eq(tcp_send(F.s, big, 1, 0, F.now), -EAGAIN);
	cr_assert_eq(tcp_sock_events(F.s) & POLLOUT, 0);
}

Test(tcp_sndbuf, writable_again_when_a_third_is_free)
{
	static char big[200000];
	ssize_t n;
	uint32_t acked = 0;

	fx_established();
	setopt(SOL_SOCKET, SO_SNDBUF, 43520);   /* 87040, and no autotuning in the way */
	n = tcp_send(F.s, big, sizeof(big), 0, F.now);
	cr_assert_eq(n, 65280);
	while (pop_out())
		;
	cr_assert_eq(tcp_sock_events(F.s) & POLLOUT, 0);
	/* ACK in steps of 2 MSS: POLLOUT once free >= queued / 2 */
	while (!(tcp_sock_events(F.s) & POLLOUT) && acked < (uint32_t)n) {
		acked += 2920;
		cr_assert_eq(seg(.ack = F.iss + 1 + acked), DROP_NONE);
		while (pop_out())
			;
	}
	cr_assert(acked >= (uint32_t)n / 3 - 2920 && acked <= (uint32_t)n / 3 + 2920,
		  "writable after %u of %zd acknowledged", acked, n);
}

Test(tcp_sndbuf, grows_with_cwnd_for_a_blocked_writer)
{
	static char big[300000];
	int v = 0;
	socklen_t l = sizeof(v);

	fx_established();
	F.s->cc.cwnd = 40 * F.s->mss;
	cr_assert(tcp_send(F.s, big, sizeof(big), 0, F.now) < (ssize_t)sizeof(big));
	while (pop_out())
		;
	seg(.ack = F.iss + 1 + 2920);
	tcp_getsockopt(F.s, SOL_SOCKET, SO_SNDBUF, &v, &l);
	cr_assert(F.s->cc.cwnd / F.s->mss >= 40);
	cr_assert_eq(v, (int)(2 * (F.s->cc.cwnd / F.s->mss) * 4352), "2 * cwnd * 4352");
}

Test(tcp_sndbuf, user_setting_stops_autotuning)
{
	int v = 0;
	socklen_t l = sizeof(v);

	F.s = tcp_sock_new(F.eng);
	setopt(SOL_SOCKET, SO_SNDBUF, 8192);
	tcp_close(F.s, F.now);
	fx_established();
	setopt(SOL_SOCKET, SO_SNDBUF, 8192);
	F.s->cc.cwnd = 40 * F.s->mss;
	tcp_sndbuf_expand(F.s);
	tcp_getsockopt(F.s, SOL_SOCKET, SO_SNDBUF, &v, &l);
	cr_assert_eq(v, 16384, "doubled, then left alone");
}
