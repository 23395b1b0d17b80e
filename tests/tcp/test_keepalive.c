/* test_keepalive.c - SO_KEEPALIVE, TCP_KEEPIDLE/INTVL/CNT (RFC 1122 4.2.3.6; Linux tcp_keepalive_timer). */
#include <criterion/criterion.h>
#include <errno.h>

#include "tcph.h"

TestSuite(tcp_keepalive, .init = fx_setup, .fini = fx_teardown);

static void keepalive_on(int idle, int intvl, int cnt)
{
	int one = 1;

	cr_assert_eq(tcp_setsockopt(F.s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one), F.now), 0);
	if (idle)
		cr_assert_eq(tcp_setsockopt(F.s, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle), F.now), 0);
	if (intvl)
		cr_assert_eq(tcp_setsockopt(F.s, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl), F.now), 0);
	if (cnt)
		cr_assert_eq(tcp_setsockopt(F.s, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt), F.now), 0);
}

Test(tcp_keepalive, defaults_7200_75_9)
{
	int v;
	socklen_t l = sizeof(v);

	fx_established();
	tcp_getsockopt(F.s, IPPROTO_TCP, TCP_KEEPIDLE, &v, &l);
	cr_assert_eq(v, 7200);
	tcp_getsockopt(F.s, IPPROTO_TCP, TCP_KEEPINTVL, &v, &l);
	cr_assert_eq(v, 75);
	tcp_getsockopt(F.s, IPPROTO_TCP, TCP_KEEPCNT, &v, &l);
	cr_assert_eq(v, 9);
}

Test(tcp_keepalive, off_by_default)
{
	fx_established();
	fx_advance(SEC(8000));
	expect_none();
	cr_assert_eq(fx_state(), TCPS_ESTABLISHED);
}

Test(tcp_keepalive, vanished_peer_found_etimedout)
{
	const struct tcp_seg *o;
	int err = 0;
	socklen_t l = sizeof(err);

	fx_established();
	keepalive_on(10, 2, 3);
	fx_advance(SEC(10));
	o = expect_out(TH_ACK);
	cr_assert_eq(o->seq, F.iss, "probe at snd_una - 1");
	fx_advance(SEC(2));
	expect_out(TH_ACK);
	fx_advance(SEC(2));
	expect_out(TH_ACK);
	cr_assert_eq(fx_state(), TCPS_ESTABLISHED);
	fx_advance(SEC(2));
	expect_out(TH_RST | TH_ACK);
	cr_assert_eq(fx_conn(), NULL);
	tcp_getsockopt(F.s, SOL_SOCKET, SO_ERROR, &err, &l);
	cr_assert_eq(err, ETIMEDOUT);
	cr_assert_eq(fx_count(CNT_TCP_KEEPALIVE_PROBES), 3);
}

Test(tcp_keepalive, answered_probe_keeps_connection)
{
	fx_established();
	keepalive_on(10, 2, 3);
	fx_advance(SEC(10));
	expect_out(TH_ACK);
	seg();
	fx_advance(SEC(9));
	expect_none();
	fx_advance(SEC(1));
	expect_out(TH_ACK);
	cr_assert_eq(fx_state(), TCPS_ESTABLISHED);
}
