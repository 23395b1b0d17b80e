/* cc_cubic.c - CUBIC congestion avoidance (RFC 9438; Linux tcp_cubic.c, without HyStart).
 *
 * W_cubic(t) = C * (t - K)^3 + W_max, K = cbrt(W_max * (1 - beta) / C), in
 * segments, with C = 0.4 and beta_cubic = 0.7 (RFC 9438 4.1-4.6). t counts from
 * the start of the congestion-avoidance epoch plus the minimum RTT (Linux:
 * "t += usecs_to_jiffies(ca->delay_min)"). The Reno-friendly estimate W_est
 * (RFC 9438 4.3) keeps CUBIC at least as fast as Reno on short-RTT paths. Fast
 * convergence (4.7) lowers W_max when losses come before the last W_max. The
 * loss-recovery frame (cc.c) is shared with NewReno. */
#include "tcp/cc.h"

#define CUBIC_C 0.4
#define CUBIC_BETA 0.7
#define NS 1e9

enum { W_MAX, EPOCH, K_NS, ORIGIN, W_EST, MIN_RTT, CA_FRAC };

static double cube_root(double x)
{
	double r = x > 1 ? x / 3 : 1;

	if (x <= 0)
		return 0;
	for (int i = 0; i < 60; i++) {
		double n = r - (r * r * r - x) / (3 * r * r);
		if (n == r)
			break;
		r = n;
	}
	return r;
}

static void cubic_init(struct tcp_cc *cc)
{
	for (int i = 0; i < 8; i++)
		cc->priv[i] = 0;
}

/* RFC 9438 4.6: ssthresh = cwnd * beta_cubic; 4.7 fast convergence: "if
 * cwnd < W_max ... W_max = cwnd * (1 + beta_cubic) / 2". As Linux, from cwnd. */
static uint32_t cubic_ssthresh(struct tcp_cc *cc, uint32_t flight)
{
	uint32_t cwnd = cc->cwnd, s;

	(void)flight;
	if (cwnd < cc->priv[W_MAX])
		cc->priv[W_MAX] = (uint64_t)(cwnd * (1.0 + CUBIC_BETA) / 2.0);
	else
		cc->priv[W_MAX] = cwnd;
	cc->priv[EPOCH] = 0;
	s = (uint32_t)((uint64_t)cwnd * 7 / 10);   /* beta_cubic 0.7 */
	return s > 2 * cc->mss ? s : 2 * cc->mss;
}

static void cubic_on_ack(struct tcp_cc *cc, const struct tcp_cc_ack *a, uint64_t now)
{
	(void)now;
	if (a->rtt && (!cc->priv[MIN_RTT] || a->rtt < cc->priv[MIN_RTT]))
		cc->priv[MIN_RTT] = a->rtt;
}

static void cubic_cong_avoid(struct tcp_cc *cc, const struct tcp_cc_ack *a, uint64_t now)
{
	double mss = cc->mss, cwnd = cc->cwnd, t, target, inc;

	if (!cc->priv[EPOCH]) {
		/* RFC 9438 4.2: a new congestion-avoidance epoch */
		cc->priv[EPOCH] = now ? now : 1;
		if (cwnd < (double)cc->priv[W_MAX]) {
			double k = cube_root(((double)cc->priv[W_MAX] - cwnd) / mss / CUBIC_C);
			cc->priv[K_NS] = (uint64_t)(k * NS);
			cc->priv[ORIGIN] = cc->priv[W_MAX];
		} else {
			cc->priv[K_NS] = 0;
			cc->priv[ORIGIN] = cc->cwnd;
		}
		cc->priv[W_EST] = cc->cwnd;
		cc->priv[CA_FRAC] = 0;
	}
	t = ((double)(now - cc->priv[EPOCH]) + (double)cc->priv[MIN_RTT] - (double)cc->priv[K_NS]) / NS;
	target = (double)cc->priv[ORIGIN] + CUBIC_C * t * t * t * mss;
	/* RFC 9438 4.4: the target is at most 1.5 cwnd one RTT ahead */
	if (target > 1.5 * cwnd)
		target = 1.5 * cwnd;
	inc = target > cwnd ? (target - cwnd) * a->acked / cwnd : mss * a->acked / (100.0 * cwnd);
	/* RFC 9438 4.3, Reno-friendly region: W_est grows by alpha_cubic per
	 * cwnd acknowledged, alpha_cubic = 3 (1 - beta) / (1 + beta) */
	cc->priv[W_EST] += (uint64_t)(3.0 * (1 - CUBIC_BETA) / (1 + CUBIC_BETA) * mss * a->acked / cwnd);
	cc->priv[CA_FRAC] += (uint64_t)inc;
	if (cc->priv[CA_FRAC] >= 1) {
		cc->cwnd += (uint32_t)cc->priv[CA_FRAC];
		cc->priv[CA_FRAC] = 0;
	}
	if (cc->priv[W_EST] > cc->cwnd)
		cc->cwnd = (uint32_t)cc->priv[W_EST];
}

static void cubic_on_event(struct tcp_cc *cc, enum tcp_cc_event ev, uint64_t now)
{
	(void)now;
	/* Linux bictcp_cwnd_event / cubictcp_state: a new epoch after recovery,
	 * idle restart, and a reset after a timeout */
	cc->priv[EPOCH] = 0;
	if (ev == TCP_CC_EV_RTO) {
		uint64_t min_rtt = cc->priv[MIN_RTT];
		cubic_init(cc);
		cc->priv[MIN_RTT] = min_rtt;
	}
}

const struct tcp_cc_ops tcp_cc_cubic = {
	.name = "cubic",
	.init = cubic_init,
	.ssthresh = cubic_ssthresh,
	.cong_avoid = cubic_cong_avoid,
	.on_ack = cubic_on_ack,
	.on_event = cubic_on_event,
};
