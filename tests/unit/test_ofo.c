/* test_ofo.c - out-of-order queue: holes, overlaps (first come wins), duplicates, wrap at 2^32, memory limit, SACK order. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/seq.h"
#include "tcp/ofo.h"

static struct tcp_ofo q;
static struct ring rcv;
static uint8_t data[70000];

static void setup(void)
{
	tcp_ofo_init(&q, 1 << 20);
	ring_init(&rcv, 1 << 20);
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13 + i / 256);
}

static void teardown(void)
{
	tcp_ofo_free(&q);
	ring_free(&rcv);
}

/* insert stream bytes [a, b) (stream offset = seq - base) */
static enum drop_reason ins(uint32_t base, uint32_t rcv_nxt, uint32_t a, uint32_t b)
{
	return tcp_ofo_insert(&q, rcv_nxt, base + a, data + a, b - a);
}

static void expect_stream(uint32_t from, uint32_t n)
{
	uint8_t out[70000];
	cr_assert_eq(ring_len(&rcv), n);
	cr_assert_eq(ring_read(&rcv, out, n), n);
	cr_assert_arr_eq(out, data + from, n);
}

TestSuite(ofo, .init = setup, .fini = teardown);

Test(ofo, hole_then_fill)
{
	uint32_t base = 1000, nxt = base;
	cr_assert_eq(ins(base, nxt, 100, 200), DROP_NONE);
	cr_assert_eq(ins(base, nxt, 300, 400), DROP_NONE);
	cr_assert_eq(tcp_ofo_pull(&q, &nxt, &rcv), 0, "hole at rcv_nxt");
	cr_assert_eq(nxt, base);
	cr_assert_eq(tcp_ofo_bytes(&q), 200);
	/* the in-order segment goes straight to the ring (the state machine's job) */
	ring_write(&rcv, data, 100);
	nxt += 100;
	cr_assert_eq(tcp_ofo_pull(&q, &nxt, &rcv), 100);
	cr_assert_eq(nxt, base + 200);
	ring_write(&rcv, data + 200, 100);
	nxt += 100;
	cr_assert_eq(tcp_ofo_pull(&q, &nxt, &rcv), 100);
	cr_assert_eq(nxt, base + 400);
	cr_assert(tcp_ofo_empty(&q));
	cr_assert_eq(q.mem, 0);
	expect_stream(0, 400);
}

Test(ofo, overlap_keeps_the_first_data)
{
	uint32_t base = 5, nxt = base;
	uint8_t junk[100];
	memset(junk, 0xee, sizeof(junk));
	cr_assert_eq(ins(base, nxt, 20, 40), DROP_NONE);
	/* a segment [10, 60) with other bytes: only [10,20) and [40,60) are taken */
	cr_assert_eq(tcp_ofo_insert(&q, nxt, base + 10, junk, 50), DROP_NONE);
	cr_assert_eq(tcp_ofo_bytes(&q), 50);
	ring_write(&rcv, data, 10);
	nxt += 10;
	cr_assert_eq(tcp_ofo_pull(&q, &nxt, &rcv), 50);
	uint8_t out[60];
	cr_assert_eq(ring_read(&rcv, out, 60), 60);
	cr_assert_arr_eq(out, data, 10);
	cr_assert_arr_eq(out + 10, junk, 10);
	cr_assert_arr_eq(out + 20, data + 20, 20, "queued bytes won");
	cr_assert_arr_eq(out + 40, junk, 20);
}

Test(ofo, segment_spanning_several_queued_pieces)
{
	uint32_t base = 0, nxt = 0;
	ins(base, nxt, 10, 20);
	ins(base, nxt, 30, 40);
	ins(base, nxt, 50, 60);
	cr_assert_eq(ins(base, nxt, 5, 70), DROP_NONE);
	cr_assert_eq(tcp_ofo_bytes(&q), 65);
	ring_write(&rcv, data, 5);
	nxt = 5;
	cr_assert_eq(tcp_ofo_pull(&q, &nxt, &rcv), 65);
	expect_stream(0, 70);
}

Test(ofo, duplicates_are_stored_once)
{
	uint32_t nxt = 0;
	ins(0, nxt, 100, 200);
	uint32_t mem = q.mem;
	cr_assert_eq(ins(0, nxt, 100, 200), DROP_NONE);
	cr_assert_eq(ins(0, nxt, 120, 180), DROP_NONE);
	cr_assert_eq(tcp_ofo_bytes(&q), 100);
	cr_assert_eq(q.mem, mem);
}

Test(ofo, data_before_rcv_nxt_is_trimmed)
{
	uint32_t nxt = 50;
	cr_assert_eq(ins(0, nxt, 10, 40), DROP_NONE);
	cr_assert(tcp_ofo_empty(&q), "all old: nothing queued");
	cr_assert_eq(ins(0, nxt, 40, 80), DROP_NONE);
	cr_assert_eq(tcp_ofo_bytes(&q), 30);
	ring_write(&rcv, data, 50);
	cr_assert_eq(tcp_ofo_pull(&q, &nxt, &rcv), 30);
	expect_stream(0, 80);
}

Test(ofo, pull_discards_what_fell_below_rcv_nxt)
{
	uint32_t nxt = 0;
	ins(0, nxt, 100, 200);
	ins(0, nxt, 300, 400);
	/* a big in-order segment covered [0, 350) */
	ring_write(&rcv, data, 350);
	nxt = 350;
	cr_assert_eq(tcp_ofo_pull(&q, &nxt, &rcv), 50);
	cr_assert_eq(nxt, 400);
	cr_assert(tcp_ofo_empty(&q));
	expect_stream(0, 400);
}

Test(ofo, wraps_at_2_32)
{
	uint32_t base = 0xffffff00u, nxt = base;
	/* pieces on both sides of zero, and one across it */
	cr_assert_eq(ins(base, nxt, 0x180, 0x200), DROP_NONE);   /* past zero */
	cr_assert_eq(ins(base, nxt, 0x80, 0xc0), DROP_NONE);     /* before zero */
	cr_assert_eq(ins(base, nxt, 0xa0, 0x190), DROP_NONE);    /* across zero */
	cr_assert_eq(tcp_ofo_end(&q, nxt), base + 0x200);
	cr_assert_eq(tcp_ofo_bytes(&q), 0x180);
	struct tcp_sack_blk b[4];
	cr_assert_eq(tcp_ofo_sack(&q, b, 4), 1, "one contiguous block");
	cr_assert_eq(b[0].left, base + 0x80);
	cr_assert_eq(b[0].right, 0x100u);
	ring_write(&rcv, data, 0x80);
	nxt = base + 0x80;
	cr_assert_eq(tcp_ofo_pull(&q, &nxt, &rcv), 0x180);
	cr_assert_eq(nxt, 0x100u);
	expect_stream(0, 0x200);
}

Test(ofo, sack_blocks_most_recent_first)
{
	uint32_t nxt = 1000;
	struct tcp_sack_blk b[4];
	cr_assert_eq(tcp_ofo_sack(&q, b, 4), 0);
	ins(0, nxt, 1100, 1200);
	ins(0, nxt, 1300, 1400);
	ins(0, nxt, 1500, 1600);
	cr_assert_eq(tcp_ofo_sack(&q, b, 4), 3);
	cr_assert_eq(b[0].left, 1500u);
	cr_assert_eq(b[1].left, 1300u);
	cr_assert_eq(b[2].left, 1100u);
	/* RFC 2018: the block holding the segment that triggered the ACK comes first */
	ins(0, nxt, 1200, 1250);
	cr_assert_eq(tcp_ofo_sack(&q, b, 4), 3);
	cr_assert_eq(b[0].left, 1100u);
	cr_assert_eq(b[0].right, 1250u);
	cr_assert_eq(b[1].left, 1500u);
	cr_assert_eq(b[2].left, 1300u);
	/* filling the gap merges blocks */
	ins(0, nxt, 1250, 1300);
	cr_assert_eq(tcp_ofo_sack(&q, b, 4), 2);
	cr_assert_eq(b[0].left, 1100u);
	cr_assert_eq(b[0].right, 1400u);
	/* only as many as asked: the most recent */
	ins(0, nxt, 1700, 1800);
	ins(0, nxt, 1900, 2000);
	cr_assert_eq(tcp_ofo_sack(&q, b, 3), 3);
	cr_assert_eq(b[0].left, 1900u);
	cr_assert_eq(b[1].left, 1700u);
	cr_assert_eq(b[2].left, 1100u);
	/* a duplicate refreshes its block (it is what the ACK answers) */
	ins(0, nxt, 1520, 1540);
	cr_assert_eq(tcp_ofo_sack(&q, b, 1), 1);
	cr_assert_eq(b[0].left, 1500u);
}

Test(ofo, memory_limit_refuses_new_data)
{
	tcp_ofo_free(&q);
	tcp_ofo_init(&q, 2 * (1000 + TCP_OFO_NODE_COST) + 50);
	uint32_t nxt = 0;
	cr_assert_eq(ins(0, nxt, 1000, 2000), DROP_NONE);
	cr_assert_eq(ins(0, nxt, 3000, 4000), DROP_NONE);
	cr_assert_leq(q.mem, 3000);
	/* no room left, and nothing above 5000 to evict */
	cr_assert_eq(ins(0, nxt, 5000, 6000), DROP_TCP_OFO_MEM);
	cr_assert_leq(q.mem, q.limit);
	cr_assert_eq(tcp_ofo_end(&q, 0), 4000u);
}

Test(ofo, memory_limit_evicts_data_farthest_from_rcv_nxt)
{
	tcp_ofo_free(&q);
	tcp_ofo_init(&q, 2 * (1000 + TCP_OFO_NODE_COST) + 100);
	uint32_t nxt = 0;
	ins(0, nxt, 1000, 2000);
	ins(0, nxt, 3000, 4000);
	/* data closer to rcv_nxt is worth more: [3000,4000) makes room */
	cr_assert_eq(ins(0, nxt, 100, 900), DROP_NONE);
	cr_assert_leq(q.mem, q.limit);
	cr_assert_eq(tcp_ofo_end(&q, 0), 2000u);
	ring_write(&rcv, data, 100);
	nxt = 100;
	cr_assert_eq(tcp_ofo_pull(&q, &nxt, &rcv), 800);
	cr_assert_eq(nxt, 900u);
}

Test(ofo, memory_limit_keeps_the_front_of_a_big_segment)
{
	tcp_ofo_free(&q);
	tcp_ofo_init(&q, 1000 + TCP_OFO_NODE_COST);
	uint32_t nxt = 0;
	cr_assert_eq(ins(0, nxt, 10, 3000), DROP_TCP_OFO_MEM);
	cr_assert_eq(tcp_ofo_bytes(&q), 1000);
	cr_assert_eq(tcp_ofo_end(&q, 0), 1010u);
}

Test(ofo, pull_stops_when_the_ring_is_full)
{
	struct ring small;
	ring_init(&small, 150);
	uint32_t nxt = 0;
	ins(0, nxt, 0, 100);
	ins(0, nxt, 100, 300);
	cr_assert_eq(tcp_ofo_pull(&q, &nxt, &small), 150);
	cr_assert_eq(nxt, 150u);
	uint8_t out[150];
	ring_read(&small, out, 150);
	cr_assert_arr_eq(out, data, 150);
	cr_assert_eq(tcp_ofo_pull(&q, &nxt, &small), 150);
	cr_assert_eq(nxt, 300u);
	ring_read(&small, out, 150);
	cr_assert_arr_eq(out, data + 150, 150);
	cr_assert(tcp_ofo_empty(&q));
	ring_free(&small);
}

/* random segments of a stream in random order reassemble to the stream */
Test(ofo, random_order_reassembles)
{
	uint32_t base = 0xfffff000u, nxt = base;   /* crosses the wrap too */
	uint32_t total = 60000;
	uint32_t x = 99;
	while (seq_lt(nxt, base + total)) {
		x = x * 1664525u + 1013904223u;
		uint32_t a = (x >> 8) % total;
		uint32_t len = 1 + (x >> 3) % 1500;
		uint32_t b = a + len > total ? total : a + len;
		if (base + a == nxt) {
			ring_write(&rcv, data + a, b - a);
			nxt = base + b;
		} else {
			cr_assert_eq(ins(base, nxt, a, b), DROP_NONE);
		}
		cr_assert_geq(tcp_ofo_pull(&q, &nxt, &rcv), 0);
	}
	cr_assert_eq(nxt, base + total);
	expect_stream(0, total);
}

Test(ofo, duplicate_range_for_dsack)
{
	uint32_t nxt = 0;
	struct tcp_sack_blk d;
	ins(0, nxt, 100, 200);
	cr_assert_not(tcp_ofo_dup(&q, &d), "nothing repeated");
	ins(0, nxt, 300, 400);
	/* [150, 350) repeats [150, 200) and [300, 350): the first is reported */
	ins(0, nxt, 150, 350);
	cr_assert(tcp_ofo_dup(&q, &d));
	cr_assert_eq(d.left, 150u);
	cr_assert_eq(d.right, 200u);
	/* now [100, 400) is one run of touching pieces: one range */
	ins(0, nxt, 120, 380);
	cr_assert(tcp_ofo_dup(&q, &d));
	cr_assert_eq(d.left, 120u);
	cr_assert_eq(d.right, 380u);
	ins(0, nxt, 500, 600);
	cr_assert_not(tcp_ofo_dup(&q, &d));
}

/* random overlapping inserts, each with its own bytes, against a byte map:
 * the first byte stored at a sequence number is the one delivered */
Test(ofo, first_come_wins_against_reference)
{
	enum { SPAN = 4000 };
	static uint8_t ref[SPAN], have[SPAN], seg[SPAN], out[SPAN];
	uint32_t base = 0xfffffa00u, nxt = base;   /* wraps inside the span */
	uint32_t x = 7;
	memset(have, 0, sizeof(have));
	for (int it = 0; it < 400; it++) {
		x = x * 1664525u + 1013904223u;
		uint32_t a = 1 + (x >> 8) % (SPAN - 1);
		uint32_t len = 1 + (x >> 20) % 300;
		if (a + len > SPAN)
			len = SPAN - a;
		memset(seg, it & 0xff, len);
		cr_assert_eq(tcp_ofo_insert(&q, nxt, base + a, seg, len), DROP_NONE);
		for (uint32_t i = a; i < a + len; i++)
			if (!have[i]) {
				have[i] = 1;
				ref[i] = (uint8_t)(it & 0xff);
			}
	}
	/* byte 0 is the hole; deliver it and pull the contiguous run after it */
	uint8_t zero = 0xaa;
	ring_write(&rcv, &zero, 1);
	nxt = base + 1;
	tcp_ofo_pull(&q, &nxt, &rcv);
	uint32_t run = 1;
	while (run < SPAN && have[run])
		run++;
	cr_assert_eq(nxt, base + run);
	cr_assert_eq(ring_read(&rcv, out, SPAN), run);
	cr_assert_arr_eq(out + 1, ref + 1, run - 1);
	/* SACK blocks describe exactly the queued rest */
	struct tcp_sack_blk b[4];
	unsigned n = tcp_ofo_sack(&q, b, 4);
	for (unsigned k = 0; k < n; k++)
		for (uint32_t s = b[k].left; s != b[k].right; s++)
			cr_assert(have[s - base], "SACKed byte %u not received", s - base);
}
