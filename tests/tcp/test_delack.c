/* test_delack.c - delayed ACK as Linux (adaptive ATO 40-200 ms, quick ACK mode, TCP_QUICKACK) and the TCP_CORK ceiling (RFC 1122 4.2.3.2, RFC 5681 4.2; tcp(7)). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "tcph.h"

TestSuite(tcp_delack, .init = fx_setup, .fini = fx_teardown);

/* Data from the peer that the application leaves queued (Linux ACKs at read
 * time when a read empties a queue of small segments: see read_empties_...). */
static void data_in(uint32_t n)
{
	static uint8_t buf[2048];

	cr_assert_eq(seg(.data = buf, .len = n), DROP_NONE);
	F.p_seq += n;
}

/* Use up the quick ACKs of the start (Linux: up to 16). */
static void past_quickacks(void)
{
	for (int i = 0; i < TCP_MAX_QUICKACKS; i++) {
		data_in(1);
		expect_out(TH_ACK);
	}
}

Test(tcp_delack, first_segments_acked_at_once)
{
	fx_established();
	for (int i = 0; i < 16; i++) {
		data_in(100);
		const struct tcp_seg *o = expect_out(TH_ACK);
		cr_assert_eq(o->ack, F.p_seq);
	}
	data_in(100);
	expect_none();
}

Test(tcp_delack, ato_starts_at_40ms)
{
	fx_established();
	past_quickacks();
	fx_advance(MSEC(100));
	data_in(1);
	expect_none();
	fx_advance(MSEC(39));
	expect_none();
	fx_advance(MSEC(1));
	expect_out(TH_ACK);
}

Test(tcp_delack, missed_delayed_ack_inflates_ato)
{
	fx_established();
	past_quickacks();
	fx_advance(MSEC(100));
	data_in(1);
	fx_advance(MSEC(40));
	expect_out(TH_ACK);    /* missed: ato 40 -> 80 */
	fx_advance(MSEC(100));
	data_in(1);
	fx_advance(MSEC(79));
	expect_none();
	fx_advance(MSEC(1));
	expect_out(TH_ACK);    /* 80 -> 160 */
	fx_advance(MSEC(200));
	data_in(1);
	fx_advance(MSEC(159));
	expect_none();
	fx_advance(MSEC(1));
	expect_out(TH_ACK);    /* 160 -> 320, capped by the RTO (1 s here) */
	fx_advance(MSEC(400));
	data_in(536);
	/* a full-sized segment, not interactive: Linux's ceiling is HZ/2 = 500 ms,
	 * ato is 320 ms (after small segments it would be TCP_DELACK_MAX) */
	fx_advance(MSEC(319));
	expect_none();
	fx_advance(MSEC(1));
	expect_out(TH_ACK);
}

Test(tcp_delack, interactive_ceiling_is_200ms)
{
	fx_established();
	past_quickacks();
	/* inflate ato past 200 ms */
	for (int i = 0; i < 3; i++) {
		fx_advance(MSEC(400));
		data_in(1);
		fx_next_timer();
		expect_out(TH_ACK);
	}
	cr_assert_geq(F.s->ato, MSEC(200));
	/* a reply within ato: interactive (pingpong) mode */
	fx_advance(MSEC(400));
	data_in(1);
	cr_assert_eq(tcp_send(F.s, "r", 1, 0, F.now), 1);
	const struct tcp_seg *o = expect_out(TH_ACK);   /* the ACK rides on the reply */
	cr_assert_eq(o->len, 1);
	cr_assert_eq(o->ack, F.p_seq);
	/* an RTT of 300 ms: Linux bounds the delay by max(srtt, 40 ms) too */
	fx_advance(MSEC(300));
	seg(.ack = F.iss + 2);
	F.p_ack = F.iss + 2;
	cr_assert(F.s->flags & TF_PINGPONG);
	fx_advance(MSEC(100));
	data_in(1);
	fx_advance(MSEC(199));
	expect_none();
	fx_advance(MSEC(1));
	expect_out(TH_ACK);   /* TCP_DELACK_MAX */
}

Test(tcp_delack, fast_segments_shrink_ato)
{
	fx_established();
	past_quickacks();
	fx_advance(MSEC(100));
	data_in(1);
	fx_advance(MSEC(40));
	expect_out(TH_ACK);         /* ato 80 */
	fx_advance(MSEC(100));
	/* segments 10 ms apart: ato = ato/2 + 20 ms -> 60, 50, 45 ... */
	data_in(1);
	fx_advance(MSEC(10));
	data_in(1);                 /* ato 80/2 + 20 = 60 */
	fx_advance(MSEC(10));
	data_in(1);                 /* 50 */
	cr_assert_eq(F.s->ato, MSEC(50));
}

Test(tcp_delack, every_second_full_segment_acked)
{
	fx_established();
	past_quickacks();
	data_in(536);
	expect_none();
	data_in(536);
	const struct tcp_seg *o = expect_out(TH_ACK);
	cr_assert_eq(o->ack, F.p_seq);
}

Test(tcp_delack, duplicate_reenters_quickack_mode)
{
	fx_established();
	past_quickacks();
	fx_advance(SEC(1));
	data_in(1);
	expect_none();
	/* a retransmission of what we have: ACK at once, then quick ACKs again */
	cr_assert_eq(seg(.seq = F.p_seq - 1, .data = "x", .len = 1), DROP_NONE);
	expect_out(TH_ACK);
	data_in(1);
	expect_out(TH_ACK);
	data_in(1);
	expect_out(TH_ACK);
}

Test(tcp_delack, out_of_order_acked_at_once)
{
	fx_established();
	past_quickacks();
	cr_assert_eq(seg(.seq = F.p_seq + 10, .data = "x", .len = 1), DROP_NONE);
	expect_out(TH_ACK);
	data_in(10);    /* fills the hole */
	const struct tcp_seg *o = expect_out(TH_ACK);
	cr_assert_eq(o->ack, F.p_seq + 1);
}

Test(tcp_delack, long_gap_gives_quickacks_back)
{
	fx_established();
	past_quickacks();
	fx_advance(SEC(5));     /* longer than the RTO */
	data_in(1);
	expect_out(TH_ACK);
}

Test(tcp_delack, tcp_quickack_sends_pending_ack)
{
	int one = 1, zero = 0, v = -1;
	socklen_t len = sizeof(v);

	fx_established();
	past_quickacks();
	fx_advance(MSEC(100));
	data_in(1);
	expect_none();
	cr_assert_eq(tcp_setsockopt(F.s, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one), F.now), 0);
	expect_out(TH_ACK);
	cr_assert_eq(tcp_setsockopt(F.s, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof(zero), F.now), 0);
	cr_assert_eq(tcp_getsockopt(F.s, IPPROTO_TCP, TCP_QUICKACK, &v, &len), 0);
	cr_assert_eq(v, 0);
}

Test(tcp_delack, quickack_off_delays_even_first_segments)
{
	int zero = 0;

	fx_established();
	cr_assert_eq(tcp_setsockopt(F.s, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof(zero), F.now), 0);
	data_in(1);
	expect_none();
	fx_advance(MSEC(40));
	expect_out(TH_ACK);
}

/* TCP_CORK: tcp(7) "there is a 200 millisecond ceiling on the time for which
 * output is corked by TCP_CORK" */
Test(tcp_cork, partial_segment_goes_after_200ms, .init = fx_setup, .fini = fx_teardown)
{
	int on = 1;

	fx_established();
	tcp_setsockopt(F.s, IPPROTO_TCP, TCP_CORK, &on, sizeof(on), F.now);
	cr_assert_eq(tcp_send(F.s, "abc", 3, 0, F.now), 3);
	expect_none();
	fx_advance(MSEC(199));
	expect_none();
	fx_advance(MSEC(1));
	const struct tcp_seg *o = expect_out(TH_ACK);
	cr_assert_eq(o->len, 3);
	cr_assert_eq(o->seq, F.iss + 1);
	/* still corked: the next partial write is held again */
	seg(.ack = F.iss + 4);
	cr_assert_eq(tcp_send(F.s, "de", 2, 0, F.now), 2);
	expect_none();
	fx_advance(MSEC(200));
	o = expect_out(TH_ACK);
	cr_assert_eq(o->len, 2);
}

Test(tcp_cork, full_segments_not_held, .init = fx_setup, .fini = fx_teardown)
{
	static uint8_t buf[3000];
	int on = 1;

	fx_established();
	tcp_setsockopt(F.s, IPPROTO_TCP, TCP_CORK, &on, sizeof(on), F.now);
	cr_assert_eq(tcp_send(F.s, buf, sizeof(buf), 0, F.now), (ssize_t)sizeof(buf));
	cr_assert_eq(expect_out(TH_ACK)->len, 1460);
	cr_assert_eq(expect_out(TH_ACK)->len, 1460);
	expect_none();
	fx_advance(MSEC(200));
	cr_assert_eq(expect_out(TH_ACK)->len, 80);
}

Test(tcp_cork, msg_more_has_the_same_ceiling, .init = fx_setup, .fini = fx_teardown)
{
	fx_established();
	cr_assert_eq(tcp_send(F.s, "abc", 3, MSG_MORE, F.now), 3);
	expect_none();
	fx_advance(MSEC(200));
	cr_assert_eq(expect_out(TH_ACK)->len, 3);
}

Test(tcp_delack, read_emptying_small_segments_acks)
{
	char b[64];

	fx_established();
	past_quickacks();
	fx_advance(MSEC(100));
	data_in(1);
	expect_none();
	/* Linux tcp_cleanup_rbuf: "If this read emptied read buffer, we send ACK,
	 * if connection is not bidirectional, user drained receive buffer and
	 * there was a small segment in queue" */
	cr_assert_gt(tcp_recv(F.s, b, sizeof(b), 0, F.now), 0);
	const struct tcp_seg *o = expect_out(TH_ACK);
	cr_assert_eq(o->ack, F.p_seq);
}

Test(tcp_delack, read_without_pending_ack_sends_nothing)
{
	char b[64];

	fx_established();
	data_in(10);
	expect_out(TH_ACK);
	cr_assert_eq(tcp_recv(F.s, b, sizeof(b), 0, F.now), 10);
	expect_none();
}

Test(tcp_delack, bounded_by_the_rtt)
{
	fx_established();
	past_quickacks();
	cr_assert_eq(tcp_send(F.s, "r", 1, 0, F.now), 1);
	expect_out(TH_ACK);
	fx_advance(MSEC(50));
	seg(.ack = F.iss + 2);          /* srtt 50 ms */
	F.p_ack = F.iss + 2;
	for (int i = 0; i < 3; i++) {   /* missed delayed ACKs: ato grows past 50 ms */
		fx_advance(MSEC(150));
		data_in(536);
		fx_next_timer();
		expect_out(TH_ACK);
	}
	cr_assert_gt(F.s->ato, MSEC(50));
	fx_advance(MSEC(150));
	data_in(536);
	fx_advance(MSEC(49));
	expect_none();
	fx_advance(MSEC(1));
	expect_out(TH_ACK);
}
