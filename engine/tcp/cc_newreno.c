/* cc_newreno.c - NewReno's window arithmetic (RFC 5681 3.1 (3)-(4), RFC 3465 byte counting, RFC 6582). */
#include "tcp/cc.h"

/* RFC 5681 (4): ssthresh = max (FlightSize / 2, 2*SMSS). FlightSize, as the
 * RFC insists ("an easy mistake to make is to simply use cwnd"); Linux's
 * tcp_reno_ssthresh halves cwnd but only lets cwnd grow while it is the limit,
 * which keeps the two close. */
static uint32_t newreno_ssthresh(struct tcp_cc *cc, uint32_t flight)
{
	uint32_t half = flight / 2;
	return half > 2 * cc->mss ? half : 2 * cc->mss;
}

/* RFC 5681 3.1 congestion avoidance, byte counting as RFC 3465 2.1: one SMSS
 * per cwnd of acknowledged bytes (Linux tcp_cong_avoid_ai in segments). */
static void newreno_cong_avoid(struct tcp_cc *cc, const struct tcp_cc_ack *a, uint64_t now)
{
	(void)now;
	cc->ca_acked += a->acked;
	while (cc->ca_acked >= cc->cwnd) {
		cc->ca_acked -= cc->cwnd;
		cc->cwnd += cc->mss;
	}
}

const struct tcp_cc_ops tcp_cc_newreno = {
	.name = "newreno",
	.ssthresh = newreno_ssthresh,
	.cong_avoid = newreno_cong_avoid,
};
