/* test_cc.c - NewReno: initial window, slow start, avoidance, fast recovery with partial ACKs, RTO. */
#include <criterion/criterion.h>

#include "base/time.h"
#include "tcp/cc.h"

#define MSS 1000u
static struct tcp_cc cc;

static void setup(void)
{
	tcp_cc_init(&cc, &tcp_cc_newreno, MSS, 0);
}

static enum tcp_cc_act ack(uint32_t ackno, uint32_t acked, uint32_t flight)
{
	struct tcp_cc_ack a = { .ack = ackno, .acked = acked, .flight = flight };
	return tcp_cc_on_ack(&cc, &a, 0);
}

Test(cc, initial_window_is_ten_segments, .init = setup)
{
	cr_assert_eq(tcp_cc_cwnd(&cc), 10 * MSS);
	cr_assert_eq(cc.ssthresh, TCP_SSTHRESH_INF);
	cr_assert(tcp_cc_in_slow_start(&cc));
	cr_assert_eq(tcp_cc_find("newreno"), &tcp_cc_newreno);
	cr_assert_eq(tcp_cc_find("reno"), &tcp_cc_newreno);
	cr_assert_null(tcp_cc_find("nope"));
}

Test(cc, slow_start_grows_by_bytes_acked, .init = setup)
{
	uint32_t una = 1;
	/* one RTT of 10 segments acked one by one doubles cwnd */
	for (int i = 0; i < 10; i++) {
		una += MSS;
		cr_assert_eq(ack(una, MSS, 10 * MSS), TCP_CC_NONE);
	}
	cr_assert_eq(tcp_cc_cwnd(&cc), 20 * MSS);
	/* a stretch ACK of 2 segments adds 2 */
	ack(una + 2 * MSS, 2 * MSS, 10 * MSS);
	cr_assert_eq(tcp_cc_cwnd(&cc), 22 * MSS);
}

Test(cc, app_limited_does_not_grow, .init = setup)
{
	struct tcp_cc_ack a = { .ack = 1001, .acked = MSS, .flight = MSS, .app_limited = true };
	tcp_cc_on_ack(&cc, &a, 0);
	cr_assert_eq(tcp_cc_cwnd(&cc), 10 * MSS);
}

/* Put cc in congestion avoidance at cwnd = ssthresh = 10 segments via an RTO
 * and slow start back up. */
static void to_avoidance(void)
{
	tcp_cc_on_rto(&cc, 20001, 20 * MSS, 0);
	cr_assert_eq(cc.ssthresh, 10 * MSS);
	cr_assert_eq(tcp_cc_cwnd(&cc), MSS);
	uint32_t una = 1;
	while (tcp_cc_cwnd(&cc) < 10 * MSS) {
		una += MSS;
		ack(una, MSS, MSS);
	}
	cr_assert_eq(tcp_cc_cwnd(&cc), 10 * MSS);
}

Test(cc, congestion_avoidance_adds_one_mss_per_window, .init = setup)
{
	to_avoidance();
	cr_assert_not(tcp_cc_in_slow_start(&cc));
	uint32_t una = 100000;
	/* 9 segments: not yet a window's worth */
	for (int i = 0; i < 9; i++)
		ack(una += MSS, MSS, 10 * MSS);
	cr_assert_eq(tcp_cc_cwnd(&cc), 10 * MSS);
	ack(una += MSS, MSS, 10 * MSS);
	cr_assert_eq(tcp_cc_cwnd(&cc), 11 * MSS);
	/* the next increase needs 11 segments */
	for (int i = 0; i < 10; i++)
		ack(una += MSS, MSS, 11 * MSS);
	cr_assert_eq(tcp_cc_cwnd(&cc), 11 * MSS);
	ack(una += MSS, MSS, 11 * MSS);
	cr_assert_eq(tcp_cc_cwnd(&cc), 12 * MSS);
}

Test(cc, slow_start_hands_the_excess_to_avoidance, .init = setup)
{
	tcp_cc_on_rto(&cc, 20001, 20 * MSS, 0);   /* ssthresh 10 MSS, cwnd 1 */
	cc.cwnd = 9 * MSS;
	ack(5000, 3 * MSS, 5 * MSS);   /* 1 MSS to reach ssthresh, 2 MSS counted in CA */
	cr_assert_eq(tcp_cc_cwnd(&cc), 10 * MSS);
	cr_assert_eq(cc.ca_acked, 2 * MSS);
}

Test(cc, fast_recovery_with_partial_acks, .init = setup)
{
	/* 20 segments out: [1, 20001); the first is lost */
	uint32_t una = 1, nxt = 20001;
	cr_assert_eq(tcp_cc_on_dupack(&cc, una, nxt, 20 * MSS, 0), TCP_CC_NONE);
	cr_assert_eq(tcp_cc_on_dupack(&cc, una, nxt, 20 * MSS, 0), TCP_CC_NONE);
	/* RFC 5681 3.2: third dupack -> fast retransmit, ssthresh = FlightSize/2,
	 * cwnd = ssthresh + 3 SMSS */
	cr_assert_eq(tcp_cc_on_dupack(&cc, una, nxt, 20 * MSS, 0), TCP_CC_RETRANSMIT);
	cr_assert(cc.in_recovery);
	cr_assert_eq(cc.ssthresh, 10 * MSS);
	cr_assert_eq(tcp_cc_cwnd(&cc), 13 * MSS);
	cr_assert_eq(cc.recover, nxt);
	/* each further dupack inflates by one SMSS, no new retransmission */
	cr_assert_eq(tcp_cc_on_dupack(&cc, una, nxt, 20 * MSS, 0), TCP_CC_NONE);
	cr_assert_eq(tcp_cc_cwnd(&cc), 14 * MSS);
	/* RFC 6582 partial ACK (a second hole at 5001): retransmit, deflate by the
	 * amount acked, add back one SMSS */
	cr_assert_eq(ack(5001, 5 * MSS, 15 * MSS), TCP_CC_RETRANSMIT);
	cr_assert(cc.in_recovery);
	cr_assert_eq(tcp_cc_cwnd(&cc), 14 * MSS - 5 * MSS + MSS);
	/* full ACK: leave recovery, cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS) */
	cr_assert_eq(ack(nxt, 15 * MSS, 4 * MSS), TCP_CC_NONE);
	cr_assert_not(cc.in_recovery);
	cr_assert_eq(tcp_cc_cwnd(&cc), 5 * MSS);
	/* and with a large flight, cwnd = ssthresh */
	cc.in_recovery = true;
	cc.cwnd = 20 * MSS;
	ack(nxt + 1000, MSS, 15 * MSS);
	cr_assert_eq(tcp_cc_cwnd(&cc), 10 * MSS);
}

Test(cc, no_second_fast_retransmit_below_recover, .init = setup)
{
	uint32_t nxt = 20001;
	for (int i = 0; i < 3; i++)
		tcp_cc_on_dupack(&cc, 1, nxt, 20 * MSS, 0);
	cr_assert(cc.in_recovery);
	/* an RTO during recovery: recover = snd_nxt, leave recovery */
	tcp_cc_on_rto(&cc, nxt, 19 * MSS, 0);
	cr_assert_not(cc.in_recovery);
	cr_assert_eq(tcp_cc_cwnd(&cc), MSS);
	/* go-back-N retransmissions cause dupacks for data below recover: RFC 6582
	 * says do not enter fast retransmit again */
	ack(3001, 2 * MSS, MSS);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(tcp_cc_on_dupack(&cc, 3001, nxt, 2 * MSS, 0), TCP_CC_NONE);
	cr_assert_not(cc.in_recovery);
	/* past recover, dupacks count again */
	ack(nxt, 17 * MSS, 0);
	for (int i = 0; i < 2; i++)
		tcp_cc_on_dupack(&cc, nxt, nxt + 10000, 10 * MSS, 0);
	cr_assert_eq(tcp_cc_on_dupack(&cc, nxt, nxt + 10000, 10 * MSS, 0), TCP_CC_RETRANSMIT);
}

Test(cc, new_ack_resets_the_dupack_count, .init = setup)
{
	tcp_cc_on_dupack(&cc, 1, 20001, 20 * MSS, 0);
	tcp_cc_on_dupack(&cc, 1, 20001, 20 * MSS, 0);
	ack(1001, MSS, 19 * MSS);
	cr_assert_eq(tcp_cc_on_dupack(&cc, 1001, 20001, 19 * MSS, 0), TCP_CC_NONE);
	cr_assert_eq(tcp_cc_on_dupack(&cc, 1001, 20001, 19 * MSS, 0), TCP_CC_NONE);
	cr_assert_eq(tcp_cc_on_dupack(&cc, 1001, 20001, 19 * MSS, 0), TCP_CC_RETRANSMIT);
}

Test(cc, rto_collapses_to_one_segment_and_holds_ssthresh_on_repeat, .init = setup)
{
	tcp_cc_on_rto(&cc, 30001, 30 * MSS, 0);
	/* RFC 5681 (4)-(5) */
	cr_assert_eq(cc.ssthresh, 15 * MSS);
	cr_assert_eq(tcp_cc_cwnd(&cc), MSS);
	/* the same data times out again: ssthresh held constant */
	tcp_cc_on_rto(&cc, 30001, 30 * MSS, 0);
	cr_assert_eq(cc.ssthresh, 15 * MSS);
	/* small flight: ssthresh never under 2 SMSS */
	ack(30001, 30 * MSS, 0);
	tcp_cc_on_rto(&cc, 31001, MSS, 0);
	cr_assert_eq(cc.ssthresh, 2 * MSS);
}

Test(cc, sack_loss_enters_recovery_without_inflation, .init = setup)
{
	tcp_cc_enter_recovery(&cc, 20001, 20 * MSS, 0);
	cr_assert(cc.in_recovery);
	cr_assert_eq(tcp_cc_cwnd(&cc), 10 * MSS);
	tcp_cc_enter_recovery(&cc, 20001, 10 * MSS, 0);
	cr_assert_eq(cc.ssthresh, 10 * MSS, "no-op while in recovery");
}

Test(cc, restart_after_idle, .init = setup)
{
	cc.cwnd = 80 * MSS;
	tcp_cc_after_idle(&cc, MSEC(100), MSEC(200), 0);
	cr_assert_eq(tcp_cc_cwnd(&cc), 80 * MSS, "idle shorter than an RTO");
	/* 3.5 RTOs idle: halved three times (80 -> 10), never below IW */
	tcp_cc_after_idle(&cc, MSEC(700), MSEC(200), 0);
	cr_assert_eq(tcp_cc_cwnd(&cc), 10 * MSS);
	cc.cwnd = 80 * MSS;
	tcp_cc_after_idle(&cc, MSEC(450), MSEC(200), 0);
	cr_assert_eq(tcp_cc_cwnd(&cc), 20 * MSS);
}

Test(cc, mss_change_keeps_the_window_in_segments, .init = setup)
{
	tcp_cc_set_mss(&cc, 500);
	cr_assert_eq(tcp_cc_cwnd(&cc), 10 * 500);
	cr_assert_eq(cc.mss, 500);
}
