/* test_sack.c - SACK-based loss recovery: scoreboard from ACKs, D-SACK, IsLost, pipe, NextSeg, recovery point (RFC 6675, RFC 2018, RFC 2883). */
#include <criterion/criterion.h>
#include <string.h>

#include "tcph.h"

TestSuite(tcp_sack, .init = fx_setup, .fini = fx_teardown);

#define MSS 1460u
static uint8_t big[40 * MSS];

/* An established connection whose peer permitted SACK, with `segs` full
 * segments queued; the first `out` of them are popped from the link. */
static uint32_t sack_conn(unsigned segs, unsigned out)
{
	fx_established_opts(TCPOPT_F_MSS | TCPOPT_F_SACKOK);
	cr_assert(F.s->sack_ok);
	cr_assert_eq(tcp_send(F.s, big, segs * MSS, 0, F.now), (ssize_t)(segs * MSS));
	for (unsigned i = 0; i < out; i++) {
		const struct tcp_seg *o = expect_out(TH_ACK);
		cr_assert_eq(o->len, MSS);
	}
	expect_none();
	return F.iss + 1;
}

#define sack1(a, l, r) seg(.ack = (a), .opts = TCPOPT_F_SACK, .nsack = 1, .sack = { { (l), (r) } })

Test(tcp_sack, third_sack_dupack_retransmits_without_inflation)
{
	uint32_t b = sack_conn(10, 10);
	const struct tcp_seg *o;

	/* segment 0 lost: each later segment arrives and is SACKed */
	sack1(b, b + MSS, b + 2 * MSS);
	expect_none();
	sack1(b, b + MSS, b + 3 * MSS);
	expect_none();
	cr_assert_not(F.s->cc.in_recovery, "two duplicates: not yet");
	sack1(b, b + MSS, b + 4 * MSS);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->seq, b, "the first unacknowledged segment is resent");
	cr_assert_eq(o->len, MSS);
	cr_assert(F.s->cc.in_recovery);
	/* RFC 6675 5 (4.2): cwnd = ssthresh, no "+ 3 SMSS" (pipe counts instead) */
	cr_assert_eq(F.s->cc.cwnd, F.s->cc.ssthresh);
	cr_assert_eq(F.s->high_rxt, b + MSS);
	cr_assert_eq(fx_count(CNT_TCP_SACK_RECOVERY), 1);
	/* pipe: hole lost (0) + its retransmission (1) + 6 segments not SACKed above */
	cr_assert_eq(tcp_in_flight(F.s), 7 * MSS);
	expect_none();
}

Test(tcp_sack, is_lost_enters_recovery_on_one_ack)
{
	uint32_t b = sack_conn(10, 10);
	const struct tcp_seg *o;

	/* one ACK SACKs four segments above the hole: "more than (DupThresh - 1)
	 * * SMSS bytes ... SACKed" above it, so IsLost(HighACK + 1) */
	sack1(b, b + MSS, b + 5 * MSS);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->seq, b);
	cr_assert(F.s->cc.in_recovery);
	cr_assert_eq(F.s->cc.dupacks, 1);
}

Test(tcp_sack, every_lost_hole_resent_in_one_round_then_new_data)
{
	uint32_t b = sack_conn(20, 10);
	const struct tcp_seg *o;

	/* segments 0 and 4 lost, 1-3 and 5-9 SACKed */
	seg(.ack = b, .opts = TCPOPT_F_SACK, .nsack = 2,
	    .sack = { { b + 5 * MSS, b + 10 * MSS }, { b + MSS, b + 4 * MSS } });
	o = expect_out(TH_ACK);
	cr_assert_eq(o->seq, b);
	/* NextSeg rule (1): the second lost hole, without waiting for a partial ACK */
	o = expect_out(TH_ACK);
	cr_assert_eq(o->seq, b + 4 * MSS);
	cr_assert_eq(o->len, MSS);
	/* rule (2): new data while cwnd - pipe >= SMSS; pipe = 2 retransmissions */
	uint32_t room = (F.s->cc.cwnd - 2 * MSS) / MSS;
	for (uint32_t i = 0; i < room; i++) {
		o = expect_out(TH_ACK);
		cr_assert_eq(o->seq, b + (10 + i) * MSS, "new segment %u", i);
	}
	expect_none();
	cr_assert_geq(room, 4);
	cr_assert_eq(tcp_in_flight(F.s), (2 + room) * MSS);
}

Test(tcp_sack, partial_ack_neither_deflates_nor_leaves_recovery)
{
	uint32_t b = sack_conn(20, 10);
	const struct tcp_seg *o;
	uint32_t cwnd;

	sack1(b, b + MSS, b + 5 * MSS);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->seq, b);
	cwnd = F.s->cc.cwnd;
	while (pop_out())
		;
	/* the retransmission arrives: cumulative ACK up to the SACKed edge, below
	 * the recovery point (everything sent when recovery began) */
	seg(.ack = b + 5 * MSS);
	cr_assert(F.s->cc.in_recovery, "partial ACK: recovery goes on");
	cr_assert_eq(F.s->cc.cwnd, cwnd, "no NewReno deflation");
	/* no retransmission of snd_una (it is not lost): new data by pipe instead */
	while ((o = pop_out()))
		cr_assert(seq_geq(o->seq, b + 10 * MSS), "only new data, got seq %u", o->seq - b);
	/* the full ACK (past RecoveryPoint) ends recovery at cwnd = ssthresh */
	seg(.ack = b + 10 * MSS);
	cr_assert_not(F.s->cc.in_recovery);
	cr_assert_eq(F.s->cc.cwnd, F.s->cc.ssthresh);
}

Test(tcp_sack, dsack_is_not_a_duplicate_ack)
{
	uint32_t b = sack_conn(10, 10);

	seg(.ack = b + 2 * MSS);
	while (pop_out())
		;
	/* three ACKs reporting a duplicate of segment 0 (RFC 2883: a block below
	 * the cumulative ACK): no loss, no fast retransmit */
	for (int i = 0; i < 3; i++)
		sack1(b + 2 * MSS, b, b + MSS);
	expect_none();
	cr_assert_not(F.s->cc.in_recovery);
	cr_assert_eq(F.s->sack.dsacks, 3);
	cr_assert_eq(fx_count(CNT_TCP_DSACKS), 3);
	cr_assert_eq(fx_count(CNT_TCP_FAST_RETRANS), 0);
}

Test(tcp_sack, scoreboard_follows_the_cumulative_ack)
{
	uint32_t b = sack_conn(10, 10);

	sack1(b, b + 2 * MSS, b + 3 * MSS);
	cr_assert_eq(tcp_sack_bytes(&F.s->sack), MSS);
	seg(.ack = b + 4 * MSS);
	cr_assert_eq(tcp_sack_bytes(&F.s->sack), 0, "SACKed data below snd_una is forgotten");
}

Test(tcp_sack, rto_clears_the_scoreboard_and_recovery)
{
	uint32_t b = sack_conn(10, 10);

	sack1(b, b + MSS, b + 5 * MSS);
	expect_out(TH_ACK);
	cr_assert(F.s->cc.in_recovery);
	while (pop_out())
		;
	fx_advance(SEC(1));
	const struct tcp_seg *o = expect_out(TH_ACK);
	cr_assert_eq(o->seq, b);
	cr_assert_eq(fx_count(CNT_TCP_TIMEOUTS), 1);
	cr_assert_not(F.s->cc.in_recovery);
	cr_assert_eq(tcp_sack_bytes(&F.s->sack), 0);
}

Test(tcp_sack, newreno_without_sack_permitted)
{
	const struct tcp_seg *o;

	fx_established();
	cr_assert_not(F.s->sack_ok);
	tcp_send(F.s, big, 10 * MSS, 0, F.now);
	while (pop_out())
		;
	for (int i = 0; i < 3; i++)
		seg(.ack = F.iss + 1);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->seq, F.iss + 1);
	/* RFC 5681 3.2: NewReno inflates, cwnd = ssthresh + 3*SMSS */
	cr_assert_eq(F.s->cc.cwnd, F.s->cc.ssthresh + 3 * MSS);
	cr_assert_not(F.s->cc.sack_recovery);
}
