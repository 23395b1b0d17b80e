/* test_tso.c - segmentation offload on transmit and large received segments (issue 6's fast path; virtio-net TSO, Linux tcp_tso_autosize). */
#include <criterion/criterion.h>
#include <errno.h>

#include "link/link.h"
#include "tcph.h"

static uint8_t big[300000];

static void setup_tso(void)
{
	fx_link_features = LINK_F_TSO4 | LINK_F_TX_CSUM;
	fx_setup();
	fx_link_features = 0;
}

TestSuite(tcp_tso, .init = setup_tso, .fini = fx_teardown);

Test(tcp_tso, initial_window_in_one_frame)
{
	const struct tcp_seg *o;

	fx_established();
	cr_assert_eq(tcp_send(F.s, big, 20000, 0, F.now), 20000);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->len, 14600, "IW10 as one TSO frame");
	cr_assert(F.out_off.flags & PKT_OFF_TSO4);
	cr_assert(F.out_off.flags & PKT_OFF_CSUM);
	cr_assert_eq(F.out_off.gso_size, 1460);
	cr_assert_eq(F.out_off.hdr_len, 14 + 20 + 20);
	expect_none();
	/* the ACK of two segments opens room for 4 (slow start): whole segments */
	seg(.ack = F.iss + 1 + 2920);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->seq, F.iss + 1 + 14600);
	cr_assert_eq(o->len, 5400, "the tail of the queue (20000 - 14600)");
}

Test(tcp_tso, frames_up_to_64k_of_whole_segments)
{
	const struct tcp_seg *o;
	uint32_t sent = 0;

	fx_established();
	F.s->cc.cwnd = 200000;   /* as if the window had grown ... */
	tcp_sndbuf_expand(F.s);  /* ... and the send buffer with it */
	cr_assert_eq(tcp_send(F.s, big, 100000, 0, F.now), 100000);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->len, 44 * 1460u, "as many whole MSS as fit in 64 KB");
	sent += o->len;
	cr_assert_eq(o->flags & TH_PSH, 0);
	/* the peer's window (65535, unscaled here) leaves a sliver: sender SWS
	 * avoidance holds it */
	expect_none();
	seg(.ack = F.iss + 1 + sent);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->seq, F.iss + 1 + sent);
	cr_assert_eq(o->len, 100000 - 44 * 1460u, "the rest of the queue");
}

Test(tcp_tso, single_segment_not_offloaded)
{
	fx_established();
	cr_assert_eq(tcp_send(F.s, big, 1000, 0, F.now), 1000);
	expect_out(TH_ACK);
	cr_assert_eq(F.out_off.flags & PKT_OFF_TSO4, 0);
	cr_assert(F.out_off.flags & PKT_OFF_CSUM);
}

Test(tcp_tso, retransmission_is_one_segment)
{
	fx_established();
	cr_assert_eq(tcp_send(F.s, big, 14600, 0, F.now), 14600);
	expect_out(TH_ACK);
	fx_advance(SEC(1));
	const struct tcp_seg *o = expect_out(TH_ACK);
	cr_assert_eq(o->len, 1460);
	cr_assert_eq(o->seq, F.iss + 1);
}

Test(tcp_tso, no_tso_without_the_feature, .init = fx_setup, .fini = fx_teardown)
{
	fx_established();
	cr_assert_eq(tcp_send(F.s, big, 5000, 0, F.now), 5000);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(expect_out(TH_ACK)->len, 1460);
		cr_assert_eq(F.out_off.flags, 0);
	}
	expect_none();   /* the 620-byte tail waits for Nagle */
}

/* LINK_F_TX_EXT: a large payload goes to the link as spans of the send ring
 * (wrapped too), a small one copied; the bytes on the wire are the same. */
static void setup_tso_ext(void)
{
	fx_link_features = LINK_F_TSO4 | LINK_F_TX_CSUM | LINK_F_TX_EXT;
	fx_setup();
	fx_link_features = 0;
}

Test(tcp_tso, payload_in_place_from_the_send_ring, .init = setup_tso_ext, .fini = fx_teardown)
{
	static uint8_t pat[300000];
	uint32_t sent = 0, acked = 0, frames = 0;
	const struct tcp_seg *o;

	for (unsigned i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i * 7 + i / 251);
	fx_established();
	F.s->cc.cwnd = 200000;
	tcp_sndbuf_expand(F.s);
	/* rounds of send, check, ACK: the ring's head moves, so later frames wrap */
	while (sent < 250000) {
		ssize_t n = tcp_send(F.s, pat + acked + ring_len(&F.s->snd), 40000, 0, F.now);

		cr_assert_gt(n, 0);
		while ((o = pop_out())) {
			cr_assert_eq(o->seq, F.iss + 1 + sent);
			cr_assert_eq(memcmp(o->data, pat + sent, o->len), 0,
				     "payload of [%u, +%u) as queued", sent, o->len);
			sent += o->len;
			frames += o->len >= 8192;
		}
		acked = sent;
		seg(.ack = F.iss + 1 + acked);
	}
	cr_assert_gt(frames, 3);
	while (pop_out())
		;
	cr_assert_eq(tcp_send(F.s, pat, 100, 0, F.now), 100);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->len, 100);
	cr_assert_eq(memcmp(o->data, pat, 100), 0, "a small payload is copied");
}

/* LINK_F_RX_GRO: the link may deliver segments larger than the MSS. */
Test(tcp_tso, received_segment_larger_than_mss)
{
	static uint8_t buf[2048];
	char b[4096];

	fx_established_opts(TCPOPT_F_MSS);
	F.s->rcv_mss = 536;
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	cr_assert_eq(seg(.data = buf, .len = 2048), DROP_NONE);
	cr_assert_eq(expect_out(TH_ACK)->ack, PISS + 1 + 2048);
	cr_assert_eq(tcp_recv(F.s, b, sizeof(b), 0, F.now), 2048);
	cr_assert_eq(F.s->rcv_mss, 2048, "the receive MSS estimate follows");
}
