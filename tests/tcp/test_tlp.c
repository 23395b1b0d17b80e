/* test_tlp.c - the tail loss probe (RFC 8985 7; Linux tcp_early_retrans = 3): PTO, what the probe sends, the RTO after it. */
#include <criterion/criterion.h>
#include <string.h>

#include "tcph.h"

TestSuite(tcp_tlp, .init = fx_setup, .fini = fx_teardown);

#define MSS 1460u
static uint8_t big[40 * MSS];

/* SACK permitted, one segment acknowledged after 10 ms: SRTT = 10 ms, RTO =
 * SRTT + rto_min = 210 ms. Returns snd_una. */
static uint32_t tlp_conn(unsigned opts)
{
	fx_established_opts(TCPOPT_F_MSS | opts);
	tcp_send(F.s, big, MSS, 0, F.now);
	expect_out(TH_ACK);
	fx_advance(MSEC(10));
	expect_none();
	seg(.ack = F.iss + 1 + MSS);
	cr_assert_eq(tcp_rtt_srtt(&F.s->rtt), MSEC(10));
	cr_assert_eq(tcp_rtt_rto(&F.s->rtt), MSEC(210));
	return F.iss + 1 + MSS;
}

Test(tcp_tlp, probe_resends_the_last_segment_after_two_srtt)
{
	uint32_t b = tlp_conn(TCPOPT_F_SACKOK);
	const struct tcp_seg *o;

	tcp_send(F.s, big, 3 * MSS, 0, F.now);
	for (int i = 0; i < 3; i++)
		expect_out(TH_ACK);
	/* PTO = 2 * SRTT = 20 ms (more than one segment in flight) */
	fx_advance(MSEC(19));
	expect_none();
	fx_advance(MSEC(1));
	o = expect_out(TH_ACK);
	cr_assert_eq(o->seq, b + 2 * MSS, "the highest segment sent, not snd_una");
	cr_assert_eq(o->len, MSS);
	expect_none();
	cr_assert_eq(fx_count(CNT_TCP_LOSS_PROBES), 1);
	cr_assert_eq(fx_count(CNT_TCP_TIMEOUTS), 0, "a probe is not a timeout");
	cr_assert_eq(F.s->cc.cwnd, 11 * MSS, "cwnd untouched");
	/* then the RTO, a whole RTO after the probe, resends snd_una */
	fx_advance(MSEC(209));
	expect_none();
	fx_advance(MSEC(1));
	o = expect_out(TH_ACK);
	cr_assert_eq(o->seq, b);
	cr_assert_eq(fx_count(CNT_TCP_TIMEOUTS), 1);
	cr_assert_eq(fx_count(CNT_TCP_LOSS_PROBES), 1, "one probe per episode");
}

Test(tcp_tlp, probe_sends_new_data_when_there_is_some)
{
	uint32_t b = tlp_conn(TCPOPT_F_SACKOK);
	const struct tcp_seg *o;
	unsigned n = 0;

	/* more than cwnd (11 segments): the rest waits */
	tcp_send(F.s, big, 20 * MSS, 0, F.now);
	while (pop_out())
		n++;
	cr_assert_eq(n, 11);
	fx_advance(MSEC(20));
	o = expect_out(TH_ACK);
	cr_assert_eq(o->seq, b + 11 * MSS, "RFC 8985 7.3: a previously unsent segment");
	cr_assert_eq(o->len, MSS);
	expect_none();
	cr_assert_eq(F.s->tlp_high_seq, b + 12 * MSS);
}

Test(tcp_tlp, one_segment_in_flight_waits_for_the_delayed_ack)
{
	uint32_t b = tlp_conn(TCPOPT_F_SACKOK);
	const struct tcp_seg *o;

	tcp_send(F.s, big, 100, 0, F.now);
	expect_out(TH_ACK);
	/* PTO = 2 SRTT + 200 ms (WCDelAckT) = 220 ms, capped by the RTO (210 ms):
	 * what fires then is still a probe, and the RTO comes a full RTO later
	 * (Linux: the TLP at ~0.21 s pushes the RTO timeline) */
	fx_advance(MSEC(209));
	expect_none();
	fx_advance(MSEC(1));
	o = expect_out(TH_ACK);
	cr_assert_eq(o->seq, b);
	cr_assert_eq(fx_count(CNT_TCP_LOSS_PROBES), 1);
	cr_assert_eq(fx_count(CNT_TCP_TIMEOUTS), 0);
	fx_advance(MSEC(210));
	expect_out(TH_ACK);
	cr_assert_eq(fx_count(CNT_TCP_TIMEOUTS), 1);
}

Test(tcp_tlp, ack_of_the_probe_ends_the_episode)
{
	uint32_t b = tlp_conn(TCPOPT_F_SACKOK);

	tcp_send(F.s, big, 3 * MSS, 0, F.now);
	while (pop_out())
		;
	fx_advance(MSEC(20));
	expect_out(TH_ACK);
	cr_assert_eq(F.s->tlp_high_seq, b + 3 * MSS);
	seg(.ack = b + 3 * MSS);
	cr_assert_eq(F.s->tlp_high_seq, 0);
	/* a new flight gets a new probe (SRTT took the 20 ms sample: 11.25 ms) */
	tcp_send(F.s, big, 2 * MSS, 0, F.now);
	while (pop_out())
		;
	fx_advance(MSEC(23));
	expect_out(TH_ACK);
	cr_assert_eq(fx_count(CNT_TCP_LOSS_PROBES), 2);
}

Test(tcp_tlp, minimum_pto_is_10ms)
{
	fx_established_opts(TCPOPT_F_MSS | TCPOPT_F_SACKOK);
	tcp_send(F.s, big, MSS, 0, F.now);
	expect_out(TH_ACK);
	fx_advance(MSEC(1));
	seg(.ack = F.iss + 1 + MSS);
	cr_assert_eq(tcp_rtt_srtt(&F.s->rtt), MSEC(1));
	tcp_send(F.s, big, 3 * MSS, 0, F.now);
	while (pop_out())
		;
	fx_advance(MSEC(9));
	expect_none();
	fx_advance(MSEC(1));
	expect_out(TH_ACK);
	cr_assert_eq(fx_count(CNT_TCP_LOSS_PROBES), 1);
}

Test(tcp_tlp, no_probe_without_sack)
{
	tlp_conn(0);
	tcp_send(F.s, big, 3 * MSS, 0, F.now);
	while (pop_out())
		;
	fx_advance(MSEC(209));
	expect_none();
	fx_advance(MSEC(1));
	expect_out(TH_ACK);
	cr_assert_eq(fx_count(CNT_TCP_LOSS_PROBES), 0);
	cr_assert_eq(fx_count(CNT_TCP_TIMEOUTS), 1);
}
