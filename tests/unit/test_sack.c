/* test_sack.c - the sender's SACK scoreboard: merge, cumulative ACK, holes, D-SACK, IsLost, overflow. */
#include <criterion/criterion.h>

#include <string.h>

#include "base/seq.h"
#include "tcp/sack.h"

static struct tcp_sack_board b;

static void setup(void)
{
	tcp_sack_init(&b);
}

TestSuite(sack, .init = setup);

Test(sack, blocks_merge_and_count)
{
	struct tcp_sack_blk blk[3] = { { 3000, 4000 }, { 5000, 6000 }, { 4000, 4500 } };
	cr_assert_eq(tcp_sack_update(&b, 1000, 10000, blk, 3), 2500);
	cr_assert_eq(b.n, 2, "adjacent blocks merge");
	cr_assert_eq(tcp_sack_bytes(&b), 2500);
	cr_assert(tcp_sack_is_sacked(&b, 3000));
	cr_assert(tcp_sack_is_sacked(&b, 4499));
	cr_assert_not(tcp_sack_is_sacked(&b, 4500));
	cr_assert_not(tcp_sack_is_sacked(&b, 2999));
	cr_assert_eq(tcp_sack_high(&b, 0), 6000u);
	/* the same blocks again: nothing new */
	cr_assert_eq(tcp_sack_update(&b, 1000, 10000, blk, 3), 0);
	/* a block bridging the two */
	struct tcp_sack_blk bridge = { 4200, 5200 };
	cr_assert_eq(tcp_sack_update(&b, 1000, 10000, &bridge, 1), 500);
	cr_assert_eq(b.n, 1);
}

Test(sack, cumulative_ack_trims)
{
	struct tcp_sack_blk blk[2] = { { 3000, 4000 }, { 5000, 6000 } };
	tcp_sack_update(&b, 1000, 10000, blk, 2);
	tcp_sack_ack(&b, 3500);
	cr_assert_eq(tcp_sack_bytes(&b), 1500);
	cr_assert_not(tcp_sack_is_sacked(&b, 3400));
	tcp_sack_ack(&b, 7000);
	cr_assert_eq(b.n, 0);
	cr_assert_eq(tcp_sack_bytes(&b), 0);
	cr_assert_eq(tcp_sack_high(&b, 7000), 7000u);
}

Test(sack, next_hole)
{
	struct tcp_sack_blk blk[2] = { { 3000, 4000 }, { 5000, 6000 } };
	tcp_sack_update(&b, 1000, 10000, blk, 2);
	uint32_t s, e;
	cr_assert(tcp_sack_next_hole(&b, 1000, &s, &e));
	cr_assert_eq(s, 1000u);
	cr_assert_eq(e, 3000u);
	cr_assert(tcp_sack_next_hole(&b, 3000, &s, &e));
	cr_assert_eq(s, 4000u);
	cr_assert_eq(e, 5000u);
	cr_assert(tcp_sack_next_hole(&b, 4500, &s, &e));
	cr_assert_eq(s, 4500u);
	cr_assert_not(tcp_sack_next_hole(&b, 5000, &s, &e), "nothing SACKed above 6000");
}

Test(sack, blocks_outside_the_window_are_ignored_or_clipped)
{
	struct tcp_sack_blk blk[3] = { { 9000, 12000 }, { 500, 1500 }, { 20000, 21000 } };
	tcp_sack_update(&b, 1000, 10000, blk, 3);
	/* first block is not a D-SACK (not below snd_una, not inside the second) */
	cr_assert_eq(b.n, 2);
	cr_assert_eq(b.r[0].left, 1000u);
	cr_assert_eq(b.r[0].right, 1500u);
	cr_assert_eq(b.r[1].left, 9000u);
	cr_assert_eq(b.r[1].right, 10000u, "clipped at snd_nxt");
	struct tcp_sack_blk bad = { 7000, 6000 };
	cr_assert_eq(tcp_sack_update(&b, 1000, 10000, &bad, 1), 0);
}

Test(sack, dsack_is_recognised)
{
	/* RFC 2883: first block below the cumulative ACK */
	struct tcp_sack_blk d1[2] = { { 500, 1000 }, { 3000, 4000 } };
	cr_assert_eq(tcp_sack_update(&b, 1000, 10000, d1, 2), 1000);
	cr_assert_eq(b.dsacks, 1);
	cr_assert_not(tcp_sack_is_sacked(&b, 800));
	/* first block inside the second */
	struct tcp_sack_blk d2[2] = { { 3200, 3400 }, { 3000, 4000 } };
	cr_assert_eq(tcp_sack_update(&b, 1000, 10000, d2, 2), 0);
	cr_assert_eq(b.dsacks, 2);
}

Test(sack, wraps_at_2_32)
{
	uint32_t una = 0xfffff000u, nxt = 0x2000u;
	struct tcp_sack_blk blk[2] = { { 0xfffff800u, 0x800u }, { 0x1000u, 0x1800u } };
	cr_assert_eq(tcp_sack_update(&b, una, nxt, blk, 2), 0x1000 + 0x800);
	cr_assert(tcp_sack_is_sacked(&b, 0xffffffffu));
	cr_assert(tcp_sack_is_sacked(&b, 0));
	uint32_t s, e;
	cr_assert(tcp_sack_next_hole(&b, una, &s, &e));
	cr_assert_eq(s, una);
	cr_assert_eq(e, 0xfffff800u);
	cr_assert(tcp_sack_next_hole(&b, 0xfffff800u, &s, &e));
	cr_assert_eq(s, 0x800u);
	cr_assert_eq(e, 0x1000u);
	tcp_sack_ack(&b, 0x400u);
	cr_assert_eq(tcp_sack_bytes(&b), 0x400 + 0x800);
}

Test(sack, is_lost_per_rfc6675)
{
	uint32_t mss = 1000;
	struct tcp_sack_blk one = { 2000, 4000 };
	tcp_sack_update(&b, 1000, 20000, &one, 1);
	/* 2 MSS above: not more than (DupThresh-1)*SMSS */
	cr_assert_not(tcp_sack_is_lost(&b, 1000, mss));
	struct tcp_sack_blk two = { 5000, 5100 };
	tcp_sack_update(&b, 1000, 20000, &two, 1);
	cr_assert(tcp_sack_is_lost(&b, 1000, mss), "2100 bytes above");
	cr_assert_not(tcp_sack_is_lost(&b, 4000, mss));
	/* three discontiguous SACKed ranges above, few bytes */
	tcp_sack_clear(&b);
	struct tcp_sack_blk three[3] = { { 2000, 2010 }, { 3000, 3010 }, { 4000, 4010 } };
	tcp_sack_update(&b, 1000, 20000, three, 3);
	cr_assert(tcp_sack_is_lost(&b, 1500, mss));
	cr_assert_eq(tcp_sack_bytes_above(&b, 3005), 4 + 10);
}

Test(sack, board_overflow_forgets_the_highest)
{
	for (uint32_t i = 0; i < TCP_SACK_BOARD_MAX + 5; i++) {
		struct tcp_sack_blk blk = { 10000 + i * 100, 10000 + i * 100 + 50 };
		tcp_sack_update(&b, 1000, 100000, &blk, 1);
	}
	cr_assert_eq(b.n, TCP_SACK_BOARD_MAX);
	cr_assert(tcp_sack_is_sacked(&b, 10000));
	/* a lower range still gets in, pushing out the top */
	struct tcp_sack_blk low = { 2000, 2100 };
	tcp_sack_update(&b, 1000, 100000, &low, 1);
	cr_assert(tcp_sack_is_sacked(&b, 2000));
	cr_assert_eq(b.n, TCP_SACK_BOARD_MAX);
	cr_assert_eq(tcp_sack_bytes(&b), 100 + (TCP_SACK_BOARD_MAX - 1) * 50);
}

/* random SACK blocks and ACKs against a bitmap of the window */
Test(sack, random_against_reference)
{
	enum { WIN = 800 };
	static uint8_t ref[WIN];
	uint32_t base = 0xfffff000u;           /* sequence of ref[0] */
	uint32_t una = base, nxt = base + WIN;
	uint32_t x = 3, iters = 0;
	memset(ref, 0, sizeof(ref));
	for (int it = 0; it < 3000; it++) {
		x = x * 1103515245u + 12345u;
		if ((x >> 28) == 0) {
			/* cumulative ACK moves forward a little */
			uint32_t adv = (x >> 8) % 50;
			if (una + adv - base <= WIN)
				una += adv;
			tcp_sack_ack(&b, una);
		} else {
			uint32_t l = base + (x >> 4) % WIN;
			uint32_t len = 1 + (x >> 16) % 40;
			struct tcp_sack_blk blk = { l, l + len };
			tcp_sack_update(&b, una, nxt, &blk, 1);
			/* a block wholly below una is a D-SACK; else what is above una counts */
			for (uint32_t s = seq_max(l, una); seq_lt(s, l + len) && s != nxt; s++)
				ref[s - base] = 1;
			iters++;
		}
		uint32_t sacked = 0;
		for (uint32_t s = una; s != nxt; s++) {
			bool want = ref[s - base];
			sacked += want;
			if (b.n < TCP_SACK_BOARD_MAX)
				cr_assert_eq(tcp_sack_is_sacked(&b, s), want, "seq %u", s - base);
		}
		if (b.n < TCP_SACK_BOARD_MAX)
			cr_assert_eq(tcp_sack_bytes(&b), sacked);
		else
			cr_assert_leq(tcp_sack_bytes(&b), sacked);
		if (b.n >= TCP_SACK_BOARD_MAX)
			break;   /* past here the board forgets by design */
	}
	cr_assert_gt(iters, 500, "the comparison ran long enough (%u updates)", iters);
}
