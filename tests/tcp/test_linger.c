/* test_linger.c - SO_LINGER with a positive timeout: close() waits for the FIN's ACK, no reset when it expires (RFC 9293 3.10.4; Linux tcp_close, sk_stream_wait_close). */
#include <criterion/criterion.h>
#include <errno.h>

#include "tcph.h"

static int done_calls;
static uint64_t done_at;

static void on_done(void *arg)
{
	(void)arg;
	done_calls++;
	done_at = F.now;
}

static void set_linger(int secs)
{
	struct linger lg = { 1, secs };

	cr_assert_eq(tcp_setsockopt(F.s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg), F.now), 0);
	done_calls = 0;
	done_at = 0;
}

TestSuite(tcp_linger, .init = fx_setup, .fini = fx_teardown);

Test(tcp_linger, released_when_fin_acked)
{
	fx_established();
	set_linger(5);
	cr_assert_eq(tcp_close_linger(F.s, on_done, NULL, F.now), 0);
	expect_out(TH_FIN | TH_ACK);
	cr_assert_eq(done_calls, 0, "close must wait for the ACK of the FIN");
	fx_advance(MSEC(30));
	cr_assert_eq(seg(.ack = F.iss + 2), DROP_NONE);
	cr_assert_eq(fx_state(), TCPS_FIN_WAIT_2);
	cr_assert_eq(done_calls, 1);
	fx_advance(SEC(10));
	cr_assert_eq(done_calls, 1, "released once");
}

Test(tcp_linger, expiry_releases_without_reset)
{
	fx_established();
	set_linger(2);
	uint64_t t0 = F.now;
	cr_assert_eq(tcp_close_linger(F.s, on_done, NULL, F.now), 0);
	expect_out(TH_FIN | TH_ACK);
	fx_advance(SEC(1));
	expect_out(TH_FIN | TH_ACK);   /* FIN retransmitted at 1 s */
	cr_assert_eq(done_calls, 0);
	fx_advance(SEC(1));
	cr_assert_eq(done_calls, 1);
	cr_assert_eq(done_at, t0 + SEC(2));
	/* Linux: nothing more happens: no RST, the orphan goes on retransmitting its FIN */
	cr_assert_eq(fx_state(), TCPS_FIN_WAIT_1);
	fx_advance(SEC(2));
	const struct tcp_seg *o = expect_out(TH_FIN | TH_ACK);
	cr_assert_eq(o->seq, F.iss + 1);
	expect_none();
	cr_assert_eq(fx_count(CNT_TCP_TX_RST), 0);
	/* and it still completes normally */
	seg(.flags = TH_FIN | TH_ACK, .ack = F.iss + 2);
	expect_out(TH_ACK);
	cr_assert_eq(fx_state(), TCPS_TIME_WAIT);
	cr_assert_eq(done_calls, 1);
}

Test(tcp_linger, released_when_reset)
{
	fx_established();
	set_linger(30);
	tcp_close_linger(F.s, on_done, NULL, F.now);
	expect_out(TH_FIN | TH_ACK);
	cr_assert_eq(seg(.flags = TH_RST, .ack = 0), DROP_NONE);
	cr_assert_eq(done_calls, 1);
	cr_assert_eq(fx_conn(), NULL);
}

Test(tcp_linger, last_ack_released_on_final_ack)
{
	fx_close_wait();
	set_linger(30);
	tcp_close_linger(F.s, on_done, NULL, F.now);
	expect_out(TH_FIN | TH_ACK);
	cr_assert_eq(fx_state(), TCPS_LAST_ACK);
	cr_assert_eq(done_calls, 0);
	seg(.ack = F.iss + 2);
	cr_assert_eq(done_calls, 1);
	cr_assert_eq(fx_conn(), NULL);
}

Test(tcp_linger, nothing_to_wait_for_releases_at_once)
{
	fx_fin_wait2();   /* our FIN is already acknowledged */
	set_linger(30);
	tcp_close_linger(F.s, on_done, NULL, F.now);
	cr_assert_eq(done_calls, 1);
	cr_assert_eq(fx_state(), TCPS_FIN_WAIT_2);
}

Test(tcp_linger, without_linger_released_at_once)
{
	fx_established();
	done_calls = 0;
	tcp_close_linger(F.s, on_done, NULL, F.now);
	cr_assert_eq(done_calls, 1);
	expect_out(TH_FIN | TH_ACK);
}

Test(tcp_linger, zero_linger_resets_and_releases)
{
	fx_established();
	set_linger(0);
	tcp_close_linger(F.s, on_done, NULL, F.now);
	expect_out(TH_RST | TH_ACK);
	cr_assert_eq(done_calls, 1);
}
