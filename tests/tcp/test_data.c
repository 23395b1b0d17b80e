/* test_data.c - data transfer: windows, delayed ACK, Nagle/cork, reassembly, retransmission (RFC 9293 3.8, RFC 5681, RFC 6582, RFC 896). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "tcph.h"

TestSuite(tcp_data, .init = fx_setup, .fini = fx_teardown);

static uint8_t big[20000];

Test(tcp_data, in_order_data_delivered_and_acked)
{
	char b[16];
	const struct tcp_seg *o;

	fx_established();
	cr_assert_eq(seg(.flags = TH_ACK | TH_PSH, .data = "hello", .len = 5), DROP_NONE);
	o = expect_out(TH_ACK);   /* quick ACK at the start */
	cr_assert_eq(o->ack, PISS + 6);
	cr_assert(tcp_sock_events(F.s) & POLLIN);
	cr_assert(F.events & POLLIN);
	cr_assert_eq(tcp_recv(F.s, b, sizeof(b), MSG_PEEK, F.now), 5);
	cr_assert_eq(tcp_recv(F.s, b, sizeof(b), 0, F.now), 5);
	cr_assert_eq(memcmp(b, "hello", 5), 0);
	cr_assert_eq(tcp_recv(F.s, b, sizeof(b), 0, F.now), -EAGAIN);
}

Test(tcp_data, delayed_ack_after_quickacks)
{
	fx_established();
	for (int i = 0; i < 16; i++) {
		seg(.flags = TH_ACK, .data = "a", .len = 1);
		F.p_seq++;
		expect_out(TH_ACK);
	}
	seg(.flags = TH_ACK, .data = "a", .len = 1);
	F.p_seq++;
	expect_none();
	fx_advance(MSEC(40));
	const struct tcp_seg *o = expect_out(TH_ACK);
	cr_assert_eq(o->ack, F.p_seq);
}

Test(tcp_data, out_of_order_reassembled)
{
	char b[16];
	const struct tcp_seg *o;

	fx_established();
	cr_assert_eq(seg(.seq = PISS + 4, .data = "def", .len = 3), DROP_NONE);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->ack, PISS + 1, "duplicate ACK for the hole");
	cr_assert_eq(tcp_recv(F.s, b, sizeof(b), 0, F.now), -EAGAIN);
	seg(.data = "abc", .len = 3);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->ack, PISS + 7);
	cr_assert_eq(tcp_recv(F.s, b, sizeof(b), 0, F.now), 6);
	cr_assert_eq(memcmp(b, "abcdef", 6), 0);
}

Test(tcp_data, sack_blocks_when_permitted)
{
	const struct tcp_seg *o;

	fx_established_opts(TCPOPT_F_MSS | TCPOPT_F_SACKOK);
	seg(.seq = PISS + 11, .data = "xyz", .len = 3);
	o = expect_out(TH_ACK);
	cr_assert(o->opts & TCPOPT_F_SACK);
	cr_assert_eq(o->nsack, 1);
	cr_assert_eq(o->sack[0].left, PISS + 11);
	cr_assert_eq(o->sack[0].right, PISS + 14);
}

Test(tcp_data, send_segments_by_mss_and_iw10)
{
	const struct tcp_seg *o;

	fx_established();
	cr_assert_eq(tcp_send(F.s, big, sizeof(big), 0, F.now), (ssize_t)sizeof(big));
	for (int i = 0; i < 10; i++) {
		o = expect_out(TH_ACK);
		cr_assert_eq(o->seq, F.iss + 1 + 1460u * i);
		cr_assert_eq(o->len, 1460);
	}
	expect_none();  /* initial window: 10 segments */
	seg(.ack = F.iss + 1 + 2920);
	expect_out(TH_ACK);
	expect_out(TH_ACK);
}

Test(tcp_data, nagle_holds_small_segment_nodelay_sends)
{
	int one = 1;

	fx_established();
	tcp_send(F.s, "a", 1, 0, F.now);
	expect_out(TH_ACK);
	tcp_send(F.s, "b", 1, 0, F.now);
	expect_none();
	seg(.ack = F.iss + 2);
	const struct tcp_seg *o = expect_out(TH_ACK);
	cr_assert_eq(o->len, 1);
	tcp_setsockopt(F.s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one), F.now);
	tcp_send(F.s, "c", 1, 0, F.now);
	expect_out(TH_ACK);
}

Test(tcp_data, cork_holds_until_uncorked)
{
	int on = 1, off = 0;

	fx_established();
	tcp_setsockopt(F.s, IPPROTO_TCP, TCP_CORK, &on, sizeof(on), F.now);
	tcp_send(F.s, "abc", 3, 0, F.now);
	expect_none();
	tcp_setsockopt(F.s, IPPROTO_TCP, TCP_CORK, &off, sizeof(off), F.now);
	const struct tcp_seg *o = expect_out(TH_ACK);
	cr_assert_eq(o->len, 3);
}

Test(tcp_data, msg_more_holds)
{
	fx_established();
	tcp_send(F.s, "abc", 3, MSG_MORE, F.now);
	expect_none();
	tcp_send(F.s, "def", 3, 0, F.now);
	const struct tcp_seg *o = expect_out(TH_ACK);
	cr_assert_eq(o->len, 6);
}

Test(tcp_data, rto_retransmits_with_backoff)
{
	const struct tcp_seg *o;

	fx_established();
	tcp_send(F.s, "abc", 3, 0, F.now);
	expect_out(TH_ACK);
	cr_assert_eq(fx_next_timer(), SEC(1), "initial RTO without a sample");
	o = expect_out(TH_ACK);
	cr_assert_eq(o->seq, F.iss + 1);
	cr_assert_eq(o->len, 3);
	cr_assert_eq(fx_next_timer(), SEC(2));
	expect_out(TH_ACK);
	cr_assert_eq(fx_count(CNT_TCP_TIMEOUTS), 2);
}

Test(tcp_data, rto_gives_up_with_etimedout)
{
	int err = 0;
	socklen_t l = sizeof(err);

	fx_established();
	tcp_send(F.s, "abc", 3, 0, F.now);
	expect_out(TH_ACK);
	fx_advance(SEC(2000));
	cr_assert_eq(fx_conn(), NULL);
	tcp_getsockopt(F.s, SOL_SOCKET, SO_ERROR, &err, &l);
	cr_assert_eq(err, ETIMEDOUT);
}

Test(tcp_data, fast_retransmit_on_third_dupack)
{
	const struct tcp_seg *o;

	fx_established();
	tcp_send(F.s, big, 5 * 1460, 0, F.now);
	for (int i = 0; i < 5; i++)
		expect_out(TH_ACK);
	for (int i = 0; i < 3; i++)
		seg(.ack = F.iss + 1);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->seq, F.iss + 1);
	cr_assert_eq(o->len, 1460);
	cr_assert_eq(fx_count(CNT_TCP_FAST_RETRANS), 1);
}

Test(tcp_data, zero_window_probe)
{
	const struct tcp_seg *o;

	fx_established();
	seg(.win = 0);
	tcp_send(F.s, "abc", 3, 0, F.now);
	expect_none();
	fx_next_timer();
	o = expect_out(TH_ACK);
	cr_assert_eq(o->seq, F.iss, "probe at snd_una - 1");
	cr_assert_eq(o->len, 0);
	seg(.win = 1000);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->len, 3);
}

/* SO_RCVBUF lowered after a 64 KB window was offered: the window cannot be
 * taken back, so data inside it is taken up to the ring's headroom
 * (tcp_rcv_limit), and no further: a peer cannot make us buffer without bound. */
Test(tcp_data, receive_window_never_shrinks_and_fills)
{
	int sz = 4096;
	struct tcp_sock *tp;
	uint32_t taken = 0;
	enum drop_reason r = DROP_NONE;

	fx_established();
	tp = F.s;
	tcp_setsockopt(F.s, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz), F.now);
	cr_assert_eq(tp->rcvbuf, 8192, "Linux doubles SO_RCVBUF");
	for (int i = 0; i < 200 && r == DROP_NONE; i++) {
		r = seg(.data = big, .len = 1000);
		if (r == DROP_NONE) {
			F.p_seq += 1000;
			taken += 1000;
		}
		while (pop_out())
			;
	}
	cr_assert_eq(r, DROP_TCP_RCVBUF_FULL, "refused once the memory bound is reached");
	/* the refused segment's head filled the ring to its limit */
	cr_assert_geq(tcp_recv_avail(F.s), taken);
	cr_assert_eq(tcp_recv_avail(F.s), tcp_rcv_limit(tp->rcvbuf), "the ring is full");
	cr_assert_gt(taken, 8192u, "in-window data past SO_RCVBUF is still taken");
}

/* Linux tcp_current_mss(): a data segment that carries SACK blocks is shorter by
 * their length, so header + payload still fit the MTU (else IP refuses it and the
 * data, often a retransmission, never leaves). */
Test(tcp_data, segment_with_sack_blocks_fits_the_mtu)
{
	const struct tcp_seg *o;

	fx_established_opts(TCPOPT_F_MSS | TCPOPT_F_SACKOK | TCPOPT_F_TS);
	seg(.seq = PISS + 11, .data = "xyz", .len = 3, .opts = TCPOPT_F_TS, .tsval = 5001);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->nsack, 1);
	cr_assert_eq(tcp_send(F.s, big, 3000, 0, F.now), 3000);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->nsack, 1, "the data segment carries the SACK block");
	/* MTU 1500 - 20 IP - 20 TCP - 12 timestamps - 12 one SACK block */
	cr_assert_eq(o->len, 1436, "payload %u", o->len);
	cr_assert_eq(fx_drops(DROP_NONE), 0);
}

/* A peer that sends exactly what we offer, with the window scale on, while the
 * application reads nothing: the offered edge never moves back (RFC 9293 3.8.6:
 * never shrink; Linux rounds it up to the scale unit, "ALIGN(cur_win, 1 <<
 * rcv_wscale)"), every byte inside it is taken, and the window closes once the
 * buffer is full. The rounding creeps the edge forward at every ACK (43 KB past a
 * 1 MB buffer here); the receive ring's headroom takes it, as Linux's soft receive
 * memory does. */
Test(tcp_data, offered_window_stays_within_the_buffer)
{
	struct tcp_sock *tp;
	const struct tcp_seg *o;
	uint32_t edge, taken = 0;

	fx_established_opts(TCPOPT_F_MSS | TCPOPT_F_WS);
	tp = F.s;
	edge = tp->rcv_adv;
	for (int i = 0; i < 20000 && edge != F.p_seq; i++) {
		uint32_t len = edge - F.p_seq < 1000 ? edge - F.p_seq : 1000;

		cr_assert_eq(seg(.data = big, .len = len), DROP_NONE,
			     "%u bytes at %u inside the offered window refused", len,
			     F.p_seq - PISS - 1);
		F.p_seq += len;
		taken += len;
		while ((o = pop_out())) {
			uint32_t e = o->ack + ((uint32_t)o->win << 7);

			cr_assert(seq_geq(e, edge), "the offered edge moved back by %u", edge - e);
			edge = e;
		}
		if (edge == F.p_seq) {
			fx_advance(MSEC(300));  /* a delayed ACK may still be due */
			while ((o = pop_out()))
				edge = o->ack + ((uint32_t)o->win << 7);
		}
	}
	cr_assert_eq(edge, F.p_seq, "the window closed");
	cr_assert_eq(taken, tcp_recv_avail(F.s));
	cr_assert_geq(taken, tp->rcvbuf - 128, "the whole buffer was offered: %u of %u",
		      taken, tp->rcvbuf);
	cr_assert_leq(taken, tcp_rcv_limit(tp->rcvbuf), "within the ring's headroom");
	cr_assert_eq(fx_drops(DROP_TCP_RCVBUF_FULL), 0);
	cr_assert_eq(fx_drops(DROP_TCP_OLD_SEGMENT), 0);
}

/* Recovery resends the head of the queue; when the ACK that triggered it had
 * covered everything in flight, that head was never sent. SND.MAX must then
 * cover it, or the peer's ACK of it is "an ACK of unsent data": dropped, and
 * the connection retransmits the same segment until it times out (seen on a
 * lossy path: 19.7 of 20 MB, then a stall). */
Test(tcp_data, head_resend_advances_snd_max)
{
	struct tcp_sock *tp;
	const struct tcp_seg *o;

	fx_established();
	tp = F.s;
	seg(.win = 0);
	cr_assert_eq(tcp_send(F.s, big, 1000, 0, F.now), 1000);
	expect_none();
	tcp_retransmit_head(tp, F.now);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->len, 1000);
	cr_assert_eq(tp->snd_max, F.iss + 1 + 1000);
	cr_assert_eq(seg(.ack = F.iss + 1 + 1000, .win = 65535), DROP_NONE);
	cr_assert_eq(tp->snd_una, F.iss + 1 + 1000, "acked, not dropped as unsent");
	cr_assert_eq(fx_drops(DROP_TCP_BAD_ACK), 0);
}

/* A reader that takes bytes itself (tcp_sock_set_rx): a small buffer, so that
 * part of a segment stays in TCP's queue. */
struct direct_reader {
	uint8_t buf[64];
	uint32_t len, cap, calls;
};

static uint32_t direct_take(void *arg, const void *data, uint32_t len)
{
	struct direct_reader *d = arg;
	uint32_t n = d->cap - d->len < len ? d->cap - d->len : len;

	d->calls++;
	memcpy(d->buf + d->len, data, n);
	d->len += n;
	return n;
}

Test(tcp_data, direct_reader_takes_in_order_data_then_queue_keeps_the_order)
{
	struct direct_reader d = { .cap = 4 };
	char b[16];
	const struct tcp_seg *o;

	fx_established();
	tcp_sock_set_rx(F.s, direct_take, &d);
	cr_assert_eq(seg(.flags = TH_ACK | TH_PSH, .data = "abcdef", .len = 6), DROP_NONE);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->ack, PISS + 7, "every byte acknowledged, taken or queued");
	cr_assert_eq(d.len, 4);
	cr_assert_eq(memcmp(d.buf, "abcd", 4), 0);
	/* "ef" waits in TCP's queue: the next segment must queue behind it, not
	 * reach the reader before it */
	d.cap = 64;
	F.p_seq += 6;
	cr_assert_eq(seg(.flags = TH_ACK | TH_PSH, .data = "gh", .len = 2), DROP_NONE);
	cr_assert_eq(d.calls, 1, "not offered while older bytes are queued");
	cr_assert_eq(tcp_recv(F.s, b, sizeof(b), 0, F.now), 4);
	cr_assert_eq(memcmp(b, "efgh", 4), 0);
	/* queue empty again: the reader gets the next segment whole */
	F.p_seq += 2;
	cr_assert_eq(seg(.flags = TH_ACK | TH_PSH, .data = "ij", .len = 2), DROP_NONE);
	cr_assert_eq(d.len, 6);
	cr_assert_eq(memcmp(d.buf + 4, "ij", 2), 0);
	cr_assert_eq(tcp_recv(F.s, b, sizeof(b), 0, F.now), -EAGAIN);
}

Test(tcp_data, direct_reader_not_offered_out_of_order_data)
{
	struct direct_reader d = { .cap = 64 };
	char b[16];

	fx_established();
	tcp_sock_set_rx(F.s, direct_take, &d);
	cr_assert_eq(seg(.seq = PISS + 4, .data = "def", .len = 3), DROP_NONE);
	expect_out(TH_ACK);
	cr_assert_eq(d.calls, 0);
	/* the gap filled: the out-of-order bytes are queued, so the filler queues
	 * too (the reader would otherwise get "abc" and TCP keep "def" behind it,
	 * which is the right order, but only by luck) */
	cr_assert_eq(seg(.data = "abc", .len = 3), DROP_NONE);
	cr_assert_eq(d.calls, 0);
	cr_assert_eq(tcp_recv(F.s, b, sizeof(b), 0, F.now), 6);
	cr_assert_eq(memcmp(b, "abcdef", 6), 0);
}

Test(tcp_data, direct_reader_full_leaves_window_as_queue_says)
{
	struct direct_reader d = { .cap = 0 };
	const struct tcp_seg *o;
	char b[16];

	fx_established();
	tcp_sock_set_rx(F.s, direct_take, &d);
	cr_assert_eq(seg(.flags = TH_ACK | TH_PSH, .data = "hello", .len = 5), DROP_NONE);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->ack, PISS + 6);
	cr_assert_eq(d.calls, 1);
	cr_assert(tcp_sock_events(F.s) & POLLIN, "the bytes the reader refused are readable");
	cr_assert_eq(tcp_recv(F.s, b, sizeof(b), 0, F.now), 5);
	cr_assert_eq(memcmp(b, "hello", 5), 0);
}
