/* test_cubic.c - CUBIC as the default congestion control and TCP_CONGESTION (RFC 9438; Linux tcp_cubic.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "tcph.h"

#define MSS 1000u
#define RTT MSEC(100)

TestSuite(tcp_cubic, .init = fx_setup, .fini = fx_teardown);

Test(tcp_cubic, default_is_cubic_reno_selectable)
{
	char name[16];
	socklen_t len = sizeof(name);

	fx_established();
	cr_assert_eq(tcp_getsockopt(F.s, IPPROTO_TCP, TCP_CONGESTION, name, &len), 0);
	cr_assert_str_eq(name, "cubic");
	cr_assert_eq(F.s->cc.ops, &tcp_cc_cubic);
	cr_assert_eq(tcp_setsockopt(F.s, IPPROTO_TCP, TCP_CONGESTION, "reno", 4, F.now), 0);
	len = sizeof(name);
	cr_assert_eq(tcp_getsockopt(F.s, IPPROTO_TCP, TCP_CONGESTION, name, &len), 0);
	cr_assert_str_eq(name, "reno");
	cr_assert_eq(F.s->cc.ops, &tcp_cc_newreno);
	cr_assert_eq(tcp_setsockopt(F.s, IPPROTO_TCP, TCP_CONGESTION, "vegas", 5, F.now), -ENOENT);
}

static void reno_default(struct eng_config *cfg) { strcpy(cfg->tcp.congestion, "reno"); }

Test(tcp_cubic, engine_default_can_be_reno)
{
	fx_setup_cfg(reno_default);
	fx_established();
	cr_assert_eq(F.s->cc.ops, &tcp_cc_newreno);
}

Test(tcp_cubic, listener_choice_inherited)
{
	fx_listen();
	cr_assert_eq(tcp_setsockopt(F.lis, IPPROTO_TCP, TCP_CONGESTION, "reno", 5, F.now), 0);
	cr_assert_eq(seg(.flags = TH_SYN, .seq = PISS, .ack = 0, .opts = TCPOPT_F_MSS), DROP_NONE);
	F.iss = expect_out(TH_SYN | TH_ACK)->seq;
	cr_assert_eq(seg(.seq = PISS + 1, .ack = F.iss + 1), DROP_NONE);
	cr_assert_eq(tcp_accept(F.lis, &F.s), 0);
	cr_assert_eq(F.s->cc.ops, &tcp_cc_newreno);
}

/* One RTT of ACKs, one per segment of cwnd. */
static void one_rtt(struct tcp_cc *cc, uint64_t *now)
{
	uint32_t n = cc->cwnd / MSS;

	*now += RTT;
	for (uint32_t i = 0; i < n; i++) {
		struct tcp_cc_ack a = { .ack = 0, .acked = MSS, .flight = cc->cwnd, .rtt = RTT };
		tcp_cc_on_ack(cc, &a, *now);
	}
}

static void loss_at(struct tcp_cc *cc, uint32_t segs, uint64_t now)
{
	cc->cwnd = segs * MSS;
	cc->in_recovery = false;
	tcp_cc_enter_recovery(cc, 1000000, cc->cwnd, now);
	/* full ACK: recovery ends with cwnd = ssthresh */
	struct tcp_cc_ack a = { .ack = 1000001, .acked = MSS, .flight = cc->ssthresh, .rtt = RTT };
	tcp_cc_on_ack(cc, &a, now);
	cc->cwnd = cc->ssthresh;
}

Test(tcp_cubic, window_is_cubic_in_time)
{
	struct tcp_cc cc;
	uint64_t now = SEC(10);

	tcp_cc_init(&cc, &tcp_cc_cubic, MSS, 0);
	loss_at(&cc, 100, now);
	cr_assert_eq(cc.ssthresh, 70 * MSS, "beta_cubic 0.7");
	/* K = cbrt(W_max (1 - beta) / C) = cbrt(100 * 0.3 / 0.4) = 4.22 s */
	uint32_t w[80];
	for (int i = 0; i < 80; i++) {
		one_rtt(&cc, &now);
		w[i] = cc.cwnd / MSS;
	}
	/* concave: fast at first, a plateau near W_max around K (t + RTT = 4.2 s) */
	cr_assert_gt(w[9] - w[0], w[39] - w[30], "growth slows towards W_max");
	cr_assert_geq(w[40], 95);
	cr_assert_leq(w[40], 102);
	/* convex beyond: probing above W_max, faster and faster */
	cr_assert_gt(w[79], 115);
	cr_assert_gt(w[79] - w[70], w[50] - w[41]);
}

Test(tcp_cubic, grows_faster_than_reno_after_a_loss)
{
	struct tcp_cc c, r;
	uint64_t t1 = SEC(10), t2 = SEC(10);

	tcp_cc_init(&c, &tcp_cc_cubic, MSS, 0);
	tcp_cc_init(&r, &tcp_cc_newreno, MSS, 0);
	loss_at(&c, 100, t1);
	loss_at(&r, 100, t2);
	cr_assert_eq(r.ssthresh, 50 * MSS);
	for (int i = 0; i < 30; i++) {
		one_rtt(&c, &t1);
		one_rtt(&r, &t2);
	}
	cr_assert_gt(c.cwnd, r.cwnd + 10 * MSS);
}

Test(tcp_cubic, fast_convergence_lowers_w_max)
{
	struct tcp_cc cc;
	uint64_t now = SEC(10);

	tcp_cc_init(&cc, &tcp_cc_cubic, MSS, 0);
	loss_at(&cc, 100, now);
	cr_assert_eq(cc.priv[0], 100 * MSS);
	loss_at(&cc, 90, now + SEC(1));   /* below the last W_max: W_max = 90 (1 + 0.7) / 2 */
	cr_assert_eq(cc.priv[0], 76500);
	cr_assert_eq(cc.ssthresh, 63 * MSS);
}

Test(tcp_cubic, slow_start_unchanged)
{
	struct tcp_cc cc;
	uint64_t now = SEC(1);

	tcp_cc_init(&cc, &tcp_cc_cubic, MSS, 0);
	one_rtt(&cc, &now);
	cr_assert_eq(cc.cwnd, 20 * MSS, "slow start doubles per RTT");
}
