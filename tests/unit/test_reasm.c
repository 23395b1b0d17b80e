/* test_reasm.c - IPv4 reassembly (RFC 791 3.2, RFC 815): order, duplicates, overlaps, timeout, bounds. */
#include <criterion/criterion.h>

#include "netutil.h"
#include "ip/ip_priv.h"

static struct tnet t;
static uint8_t icmp[3008 + 64];  /* an echo request of 3000 data bytes, and slack */

static void setup(void)
{
	t = tnet_new();
	tnet_know_peer(&t);
	for (size_t i = 0; i < 3000; i++)
		icmp[8 + i] = (uint8_t)(i * 11);
	mk_icmp(icmp, ICMP_ECHO, 0, 0x00090001, icmp + 8, 3000);
}
static void teardown(void) { tnet_free(&t); }
TestSuite(reasm, .init = setup, .fini = teardown);

/* Send bytes [off, off+len) of the echo as a fragment of datagram `id`. */
static void frag(uint16_t id, size_t off, size_t len, bool more)
{
	uint8_t f[1600];
	struct ipspec s = ipspec_default(IP_PROTO_ICMP);

	s.id = id;
	s.frag = (uint16_t)(off / 8 | (more ? IP_MF : 0));
	tnet_in(&t, f, mk_frame_ip(f, &s, icmp + off, len));
}

/* The three fragments of the whole echo */
#define F1(id) frag(id, 0, 1480, true)
#define F2(id) frag(id, 1480, 1480, true)
#define F3(id) frag(id, 2960, 48, false)

/* The reassembled echo was answered: its reply leaves in 3 fragments. */
static void expect_reply(void)
{
	cr_assert_eq(CNT(&t, ICMP_RX_ECHO), 1, "datagram not delivered");
	cr_assert_eq(memlink_count(t.link), 3);
	memlink_clear(t.link);
}

Test(reasm, in_order)
{
	F1(1); F2(1);
	cr_assert_eq(memlink_count(t.link), 0);
	F3(1);
	expect_reply();
	cr_assert_eq(CNT(&t, IP_FRAGS_RX), 3);
	cr_assert_eq(CNT(&t, IP_REASM_OK), 1);
	cr_assert_eq(total_drops(&t), 0);
	cr_assert_eq(ip__reasm_mem(t.eng->ip->reasm), 0, "nothing left behind");
	cr_assert_eq(eng_poll(t.eng, t.now), TIME_NEVER);
}

Test(reasm, out_of_order)
{
	F3(2); F1(2); F2(2);
	expect_reply();
	cr_assert_eq(total_drops(&t), 0);
}

Test(reasm, duplicates_dropped_alone)
{
	F2(3); F2(3); F1(3);
	frag(3, 0, 800, true);      /* inside what is queued */
	frag(3, 1000, 1000, true);  /* inside the contiguous run 0..2960 */
	cr_assert_eq(drops(&t, DROP_IP_FRAG_DUP), 3);
	F3(3);
	expect_reply();
}

Test(reasm, overlap_discards_datagram)
{
	F1(4);
	frag(4, 1472, 1488, true);  /* overlaps the first by 8 bytes */
	cr_assert_eq(drops(&t, DROP_IP_FRAG_OVERLAP), 2, "the new one and the queued one");
	F2(4); F3(4);
	cr_assert_eq(CNT(&t, ICMP_RX_ECHO), 0, "never reassembled from the rest");
	cr_assert_eq(memlink_count(t.link), 0);
	/* a retransmission of the whole datagram with a new ID works */
	F1(5); F2(5); F3(5);
	expect_reply();
}

Test(reasm, distinct_datagrams_kept_apart)
{
	F1(6); F1(7); F2(7); F2(6); F3(6);
	expect_reply();
	F3(7);
	cr_assert_eq(CNT(&t, IP_REASM_OK), 2);
}

Test(reasm, timeout_with_first_fragment_sends_time_exceeded)
{
	F1(8); F2(8);
	cr_assert_eq(eng_poll(t.eng, t.now), t.now + SEC(30));
	t.now += SEC(30) - 1;
	eng_poll(t.eng, t.now);
	cr_assert_eq(drops(&t, DROP_IP_FRAG_TIMEOUT), 0);
	t.now += 1;
	cr_assert_eq(eng_poll(t.eng, t.now), TIME_NEVER);
	cr_assert_eq(drops(&t, DROP_IP_FRAG_TIMEOUT), 2);
	struct memlink_frame *r = tnet_pop(&t);
	cr_assert_not_null(r);
	const uint8_t *ic = r->data + 34;
	cr_assert_eq(ic[0], ICMP_TIME_EXCEEDED);
	cr_assert_eq(ic[1], ICMP_EXC_FRAGTIME);
	cr_assert_eq(get_be16(ic + 8 + 4), 8, "quotes the first fragment (id 8)");
	cr_assert_arr_eq(ic + 8 + 20, icmp, 8);
	free(r);
	F3(8);   /* too late */
	cr_assert_eq(CNT(&t, ICMP_RX_ECHO), 0);
}

Test(reasm, timeout_without_first_fragment_is_silent)
{
	F2(9); F3(9);
	t.now += SEC(30);
	eng_poll(t.eng, t.now);
	cr_assert_eq(drops(&t, DROP_IP_FRAG_TIMEOUT), 2);
	cr_assert_eq(memlink_count(t.link), 0);
}

Test(reasm, over_65535_dropped)
{
	uint8_t f[200], d[100] = { 0 };
	struct ipspec s = ipspec_default(IP_PROTO_ICMP);

	F1(10);
	s.id = 10;
	s.frag = 8189;          /* 65512 + 20 + 100 > 65535 */
	tnet_in(&t, f, mk_frame_ip(f, &s, d, 100));
	cr_assert_eq(drops(&t, DROP_IP_FRAG_TOO_BIG), 2, "and the queued datagram with it");
	cr_assert_eq(ip__reasm_mem(t.eng->ip->reasm), 0);
	/* exactly 65535 is fine */
	s.id = 11;
	s.frag = 8189;
	tnet_in(&t, f, mk_frame_ip(f, &s, d, 3));
	cr_assert_eq(drops(&t, DROP_IP_FRAG_TOO_BIG), 2);
}

Test(reasm, inconsistent_end_or_empty)
{
	F3(12);
	frag(12, 2960, 40, false);   /* a second, different last fragment */
	cr_assert_eq(drops(&t, DROP_IP_FRAG_BAD), 2);
	F3(13);
	frag(13, 3008, 8, true);     /* data past the end */
	cr_assert_eq(drops(&t, DROP_IP_FRAG_BAD), 4);
	frag(14, 8, 0, true);        /* empty */
	cr_assert_eq(drops(&t, DROP_IP_FRAG_BAD), 5);
	cr_assert_eq(ip__reasm_mem(t.eng->ip->reasm), 0);
}

Test(reasm, unaligned_middle_fragment_trimmed)
{
	/* a non-last fragment of 1483 bytes: Linux keeps the first 1480 */
	frag(15, 0, 1483, true);
	F2(15); F3(15);
	expect_reply();
}

Test(reasm, memory_bound)
{
	uint64_t before;

	/* first fragments of many datagrams, never completed */
	for (uint16_t id = 100; id < 100 + 3200; id++)
		F1(id);
	cr_assert_gt(drops(&t, DROP_IP_FRAG_MEM), 0);
	cr_assert_leq(ip__reasm_mem(t.eng->ip->reasm), 4u << 20);
	cr_assert_geq(ip__reasm_mem(t.eng->ip->reasm), (4u << 20) - 3000);
	before = drops(&t, DROP_IP_FRAG_MEM);
	F1(20000);
	cr_assert_eq(drops(&t, DROP_IP_FRAG_MEM), before + 1, "full: refused");
	/* the timeout frees it all */
	t.now += SEC(30);
	eng_poll(t.eng, t.now);
	cr_assert_eq(ip__reasm_mem(t.eng->ip->reasm), 0);
	memlink_clear(t.link);
	F1(20001); F2(20001); F3(20001);
	expect_reply();
}
