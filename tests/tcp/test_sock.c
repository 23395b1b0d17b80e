/* test_sock.c - the socket calls' errnos and readiness as Linux (tcp_sock.h; Linux tcp_poll, inet_stream_connect). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "tcph.h"

TestSuite(tcp_sock, .init = fx_setup, .fini = fx_teardown);

Test(tcp_sock, fresh_socket_pollout_pollhup)
{
	struct tcp_sock *s = tcp_sock_new(F.eng);

	cr_assert_eq(tcp_sock_events(s), POLLOUT | POLLHUP);
	tcp_close(s, F.now);
}

Test(tcp_sock, send_unconnected_epipe_recv_enotconn)
{
	struct tcp_sock *s = tcp_sock_new(F.eng);
	char b[4];

	cr_assert_eq(tcp_send(s, "x", 1, 0, F.now), -EPIPE);
	cr_assert_eq(tcp_recv(s, b, 4, 0, F.now), -ENOTCONN);
	tcp_close(s, F.now);
}

Test(tcp_sock, send_while_connecting_eagain)
{
	fx_syn_sent();
	cr_assert_eq(tcp_send(F.s, "x", 1, 0, F.now), -EAGAIN);
}

Test(tcp_sock, connect_when_connected_eisconn)
{
	fx_established();
	/* Linux __inet_stream_connect: the first call after the non-blocking
	 * connect completed finishes it (SS_CONNECTING -> SS_CONNECTED), 0 */
	cr_assert_eq(tcp_connect(F.s, htonl(PEER_ADDR), PPORT, F.now), 0);
	cr_assert_eq(tcp_connect(F.s, htonl(PEER_ADDR), PPORT, F.now), -EISCONN);
}

Test(tcp_sock, names)
{
	uint32_t a;
	uint16_t p;

	fx_established();
	cr_assert_eq(tcp_getpeername(F.s, &a, &p), 0);
	cr_assert_eq(a, htonl(PEER_ADDR));
	cr_assert_eq(p, PPORT);
	cr_assert_eq(tcp_getsockname(F.s, &a, &p), 0);
	cr_assert_eq(p, F.lport);
}

Test(tcp_sock, ss_lists_connections)
{
	char buf[4096];

	fx_listen();
	fx_established();
	tcp_format_ss_at(F.eng, buf, sizeof(buf), F.now);
	cr_assert(strstr(buf, "LISTEN"), "%s", buf);
	cr_assert(strstr(buf, "ESTAB"), "%s", buf);
	cr_assert(strstr(buf, "10.77.0.1:40000"), "%s", buf);
}

Test(tcp_sock, tcp_info_state)
{
	struct tcp_info ti;
	socklen_t l = sizeof(ti);

	fx_established();
	cr_assert_eq(tcp_getsockopt(F.s, IPPROTO_TCP, TCP_INFO, &ti, &l), 0);
	cr_assert_eq(ti.tcpi_state, 1);
	cr_assert_eq(ti.tcpi_snd_cwnd, 10);
}

Test(tcp_sock, state_changes_counted)
{
	fx_established();
	cr_assert_eq(fx_count(CNT_TCP_STATE_CHANGES), 2); /* CLOSED->SYN-SENT->ESTABLISHED */
}
