/* test_arp.c - ARP (RFC 826): answers, learning, validation, expiry, pending queues, bounds. */
#include <criterion/criterion.h>
#include <errno.h>

#include "netutil.h"

static struct tnet t;
static struct pkt *p;
static const uint8_t zero_mac[6];

static void setup(void) { t = tnet_new(); p = malloc(sizeof(*p)); }
static void teardown(void) { free(p); tnet_free(&t); }
TestSuite(arp, .init = setup, .fini = teardown);

/* Send an IPv4 packet carrying `tag` to dst through ip_output (UDP-like proto). */
static int send_tagged(uint32_t dst, uint32_t tag, size_t len)
{
	pkt_reset(p);
	uint8_t *d = pkt_put(p, (uint32_t)len);
	memset(d, 0, len);
	put_be32(d, tag);
	return ip_output(t.eng, p, 253, 0, dst, 0, t.now);
}

static void check_arp(const struct memlink_frame *f, const uint8_t *eth_dst, uint16_t op,
		      const uint8_t *tha, uint32_t tpa)
{
	cr_assert_eq(f->len, 42);
	cr_assert_arr_eq(f->data, eth_dst, 6);
	cr_assert_arr_eq(f->data + 6, OUR_MAC, 6);
	cr_assert_eq(get_be16(f->data + 12), ETH_TYPE_ARP);
	const uint8_t *a = f->data + 14;
	cr_assert_eq(get_be16(a), 1);
	cr_assert_eq(get_be16(a + 2), 0x0800);
	cr_assert_eq(a[4], 6);
	cr_assert_eq(a[5], 4);
	cr_assert_eq(get_be16(a + 6), op);
	cr_assert_arr_eq(a + 8, OUR_MAC, 6);
	cr_assert_eq(be32_at(a + 14), OUR_IP);
	cr_assert_arr_eq(a + 18, tha, 6);
	cr_assert_eq(be32_at(a + 24), tpa);
}

static void expect_arp(const uint8_t *eth_dst, uint16_t op, const uint8_t *tha, uint32_t tpa)
{
	struct memlink_frame *f = tnet_pop(&t);

	cr_assert_not_null(f, "no frame sent");
	check_arp(f, eth_dst, op, tha, tpa);
	free(f);
}

static void peer_request(uint32_t tpa)
{
	uint8_t f[64];
	size_t n = mk_frame_arp(f, eth_broadcast, 1, PEER_MAC, PEER_IP, zero_mac, tpa);

	tnet_in(&t, f, n);
}

static void peer_reply(const uint8_t *mac, uint32_t ip)
{
	uint8_t f[64];
	size_t n = mk_frame_arp(f, OUR_MAC, 2, mac, ip, OUR_MAC, OUR_IP);

	tnet_in(&t, f, n);
}

Test(arp, answers_request_and_learns_sender)
{
	uint8_t mac[6];

	peer_request(OUR_IP);
	expect_arp(PEER_MAC, 2, PEER_MAC, PEER_IP);
	cr_assert_eq(memlink_count(t.link), 0);
	cr_assert_eq(CNT(&t, ARP_RX_REQUESTS), 1);
	cr_assert_eq(CNT(&t, ARP_TX_REPLIES), 1);
	cr_assert_eq(arp_lookup(t.eng, PEER_IP, mac, t.now), 0);
	cr_assert_arr_eq(mac, PEER_MAC, 6);
	cr_assert_eq(total_drops(&t), 0);
}

Test(arp, padded_request_answered)
{
	uint8_t f[60] = { 0 };

	mk_frame_arp(f, eth_broadcast, 1, PEER_MAC, PEER_IP, zero_mac, OUR_IP);
	tnet_in(&t, f, 60);
	expect_arp(PEER_MAC, 2, PEER_MAC, PEER_IP);
}

Test(arp, request_for_other_not_learned)
{
	uint8_t mac[6];

	peer_request(PEER2_IP);
	cr_assert_eq(drops(&t, DROP_ARP_NOT_FOR_US), 1);
	cr_assert_eq(memlink_count(t.link), 0);
	cr_assert_eq(arp_lookup(t.eng, PEER_IP, mac, t.now), -ENOENT);
}

Test(arp, merge_updates_known_sender_even_if_not_target)
{
	uint8_t mac[6], f[64];
	const uint8_t newmac[6] = { 0x02, 0, 0, 0, 0, 0x42 };

	arp_insert(t.eng, PEER_IP, PEER_MAC, t.now);
	/* gratuitous ARP from the peer with a new MAC (RFC 826 merge) */
	size_t n = mk_frame_arp(f, eth_broadcast, 1, newmac, PEER_IP, zero_mac, PEER_IP);
	tnet_in(&t, f, n);
	cr_assert_eq(total_drops(&t), 0);
	cr_assert_eq(memlink_count(t.link), 0);
	cr_assert_eq(arp_lookup(t.eng, PEER_IP, mac, t.now), 0);
	cr_assert_arr_eq(mac, newmac, 6);
}

Test(arp, unsolicited_reply_ignored)
{
	uint8_t mac[6];

	peer_reply(PEER_MAC, PEER_IP);
	cr_assert_eq(drops(&t, DROP_ARP_UNSOLICITED), 1);
	cr_assert_eq(arp_lookup(t.eng, PEER_IP, mac, t.now), -ENOENT);
}

Test(arp, gratuitous_at_start)
{
	eng_start(t.eng, t.now);
	expect_arp(eth_broadcast, 1, zero_mac, OUR_IP);
	cr_assert_eq(CNT(&t, ARP_TX_GRATUITOUS), 1);
}

Test(arp, probe_answered_without_learning)
{
	uint8_t f[64], mac[6];
	size_t n = mk_frame_arp(f, eth_broadcast, 1, PEER_MAC, 0, zero_mac, OUR_IP);

	tnet_in(&t, f, n);
	/* RFC 5227: the reply goes to the prober's MAC, target IP 0 */
	expect_arp(PEER_MAC, 2, PEER_MAC, 0);
	cr_assert_eq(arp_lookup(t.eng, PEER_IP, mac, t.now), -ENOENT);
}

Test(arp, malformed)
{
	uint8_t f[64];
	size_t n;

	n = mk_frame_arp(f, eth_broadcast, 1, PEER_MAC, PEER_IP, zero_mac, OUR_IP);
	for (size_t cut = 14; cut < 42; cut += 3)
		tnet_in(&t, f, cut);
	cr_assert_eq(drops(&t, DROP_ARP_TOO_SHORT), 10);

	uint8_t g[64];
	const struct { size_t at; uint8_t v; enum drop_reason why; } cases[] = {
		{ 15, 6, DROP_ARP_BAD_FORMAT },    /* hardware type 6 (IEEE 802) */
		{ 16, 0x86, DROP_ARP_BAD_FORMAT }, /* protocol 0x86dd */
		{ 18, 8, DROP_ARP_BAD_FORMAT },    /* hlen */
		{ 19, 16, DROP_ARP_BAD_FORMAT },   /* plen */
		{ 21, 3, DROP_ARP_BAD_OP },        /* RARP request */
		{ 21, 0, DROP_ARP_BAD_OP },
		{ 22, 0xff, DROP_ARP_BAD_SENDER }, /* sender MAC multicast */
		{ 28, 224, DROP_ARP_BAD_SENDER },  /* sender IP multicast */
		{ 28, 127, DROP_ARP_BAD_SENDER },  /* sender IP loopback */
		{ 38, 224, DROP_ARP_NOT_FOR_US },  /* target multicast */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(g, f, n);
		g[cases[i].at] = cases[i].v;
		uint64_t before = drops(&t, cases[i].why);
		tnet_in(&t, g, n);
		cr_assert_eq(drops(&t, cases[i].why), before + 1, "case %zu", i);
	}
	/* zero sender MAC, broadcast sender MAC, our own IP as sender */
	n = mk_frame_arp(g, eth_broadcast, 1, zero_mac, PEER_IP, zero_mac, OUR_IP);
	tnet_in(&t, g, n);
	n = mk_frame_arp(g, eth_broadcast, 1, eth_broadcast, PEER_IP, zero_mac, OUR_IP);
	tnet_in(&t, g, n);
	n = mk_frame_arp(g, eth_broadcast, 1, PEER_MAC, OUR_IP, zero_mac, OUR_IP);
	tnet_in(&t, g, n);
	n = mk_frame_arp(g, eth_broadcast, 1, PEER_MAC, BCAST_IP, zero_mac, OUR_IP);
	tnet_in(&t, g, n);
	cr_assert_eq(drops(&t, DROP_ARP_BAD_SENDER), 3 + 4);
	cr_assert_eq(memlink_count(t.link), 0);
}

Test(arp, pending_queue_flushed_in_order_on_reply)
{
	cr_assert_eq(send_tagged(PEER2_IP, 1, 100), 0);
	expect_arp(eth_broadcast, 1, zero_mac, PEER2_IP);
	cr_assert_eq(send_tagged(PEER2_IP, 2, 200), 0);
	cr_assert_eq(send_tagged(PEER2_IP, 3, 300), 0);
	cr_assert_eq(memlink_count(t.link), 0, "one request only while waiting");
	cr_assert_eq(arp_poll(t.eng, t.now), t.now + SEC(1));
	t.now += MSEC(300);
	peer_reply(PEER2_MAC, PEER2_IP);
	for (uint32_t tag = 1; tag <= 3; tag++) {
		struct memlink_frame *f = tnet_pop(&t);
		cr_assert_not_null(f);
		cr_assert_arr_eq(f->data, PEER2_MAC, 6);
		cr_assert_eq(get_be16(f->data + 12), ETH_TYPE_IPV4);
		cr_assert_eq(f->len, 14 + 20 + 100 * tag);
		cr_assert_eq(get_be32(f->data + 34), tag);
		cr_assert(ip_hdr_csum_ok(f->data + 14));
		free(f);
	}
	cr_assert_eq(memlink_count(t.link), 0);
	/* resolved: the next one goes straight out, no more retries */
	cr_assert_eq(send_tagged(PEER2_IP, 4, 10), 0);
	cr_assert_eq(memlink_count(t.link), 1);
	cr_assert_eq(arp_poll(t.eng, t.now + SEC(5)), TIME_NEVER);
	cr_assert_eq(total_drops(&t), 0);
}

Test(arp, three_requests_then_dropped_and_counted)
{
	for (uint32_t i = 0; i < 5; i++)
		cr_assert_eq(send_tagged(PEER2_IP, i, 64), 0);
	expect_arp(eth_broadcast, 1, zero_mac, PEER2_IP);
	/* retries 1 s apart (retrans_time), 3 in all (mcast_solicit) */
	t.now += MSEC(999);
	cr_assert_eq(arp_poll(t.eng, t.now), t.now + MSEC(1));
	cr_assert_eq(memlink_count(t.link), 0);
	t.now += MSEC(1);
	eng_poll(t.eng, t.now);
	expect_arp(eth_broadcast, 1, zero_mac, PEER2_IP);
	t.now += SEC(1);
	eng_poll(t.eng, t.now);
	expect_arp(eth_broadcast, 1, zero_mac, PEER2_IP);
	cr_assert_eq(drops(&t, DROP_ARP_UNRESOLVED), 0);
	t.now += SEC(1);
	cr_assert_eq(eng_poll(t.eng, t.now), TIME_NEVER);
	cr_assert_eq(memlink_count(t.link), 0);
	cr_assert_eq(drops(&t, DROP_ARP_UNRESOLVED), 5);
	cr_assert_eq(CNT(&t, ARP_TX_REQUESTS), 3);
	/* a late reply teaches nothing (the entry is gone) */
	peer_reply(PEER2_MAC, PEER2_IP);
	cr_assert_eq(drops(&t, DROP_ARP_UNSOLICITED), 1);
	/* and a new packet starts a fresh resolution */
	cr_assert_eq(send_tagged(PEER2_IP, 9, 64), 0);
	expect_arp(eth_broadcast, 1, zero_mac, PEER2_IP);
}

Test(arp, queue_bounded_oldest_dropped)
{
	for (uint32_t i = 0; i < 150; i++)
		cr_assert_eq(send_tagged(PEER2_IP, i, 64), 0);
	cr_assert_eq(drops(&t, DROP_ARP_QUEUE_FULL), 49);
	memlink_clear(t.link);
	peer_reply(PEER2_MAC, PEER2_IP);
	cr_assert_eq(memlink_count(t.link), 101);
	for (uint32_t i = 49; i < 150; i++) {
		struct memlink_frame *f = tnet_pop(&t);
		cr_assert_eq(get_be32(f->data + 34), i);
		free(f);
	}
	/* the bytes bound (212992) matters for large (TSO) packets */
	for (uint32_t i = 0; i < 60; i++) {
		pkt_reset(p);
		memset(pkt_put(p, 4000), (int)i, 4000);
		cr_assert_eq(arp_output(t.eng, p, PEER_IP, t.now), 0);
	}
	cr_assert_eq(drops(&t, DROP_ARP_QUEUE_FULL), 49 + 60 - 212992 / 4000);
}

Test(arp, expiry_then_unicast_probe)
{
	uint8_t mac[6];

	peer_request(OUR_IP);
	memlink_clear(t.link);
	t.now += SEC(29);
	cr_assert_eq(arp_lookup(t.eng, PEER_IP, mac, t.now), 0);
	t.now += SEC(1);
	cr_assert_eq(arp_lookup(t.eng, PEER_IP, mac, t.now), -ENOENT, "expired after arp_timeout");
	/* a packet still leaves to the known MAC, and a unicast request checks it */
	cr_assert_eq(send_tagged(PEER_IP, 7, 20), 0);
	struct memlink_frame *f = tnet_pop(&t);
	cr_assert_arr_eq(f->data, PEER_MAC, 6);
	cr_assert_eq(get_be16(f->data + 12), ETH_TYPE_IPV4);
	free(f);
	expect_arp(PEER_MAC, 1, zero_mac, PEER_IP);
	/* the peer answers: fresh again */
	peer_reply(PEER_MAC, PEER_IP);
	cr_assert_eq(arp_lookup(t.eng, PEER_IP, mac, t.now), 0);
	cr_assert_eq(eng_poll(t.eng, t.now + SEC(2)), TIME_NEVER);
}

Test(arp, stale_without_answer_is_forgotten)
{
	uint8_t mac[6];

	peer_request(OUR_IP);
	memlink_clear(t.link);
	t.now += SEC(31);
	cr_assert_eq(send_tagged(PEER_IP, 7, 20), 0);
	memlink_clear(t.link);
	for (int i = 0; i < 3; i++) {
		t.now += SEC(1);
		eng_poll(t.eng, t.now);
	}
	cr_assert_eq(CNT(&t, ARP_TX_REQUESTS), 3);
	memlink_clear(t.link);
	/* forgotten: the next packet waits behind a broadcast request */
	cr_assert_eq(send_tagged(PEER_IP, 8, 20), 0);
	expect_arp(eth_broadcast, 1, zero_mac, PEER_IP);
	cr_assert_eq(memlink_count(t.link), 0);
	cr_assert_eq(arp_lookup(t.eng, PEER_IP, mac, t.now), -ENOENT);
}

Test(arp, cache_bounded_lru_evicted)
{
	uint8_t f[64], mac[6] = { 0x02, 0, 0, 0, 0, 0 };

	/* 1100 hosts of 10.77.0.0/16 ask for us (the /24 does not matter to ARP) */
	for (uint32_t i = 0; i < 1100; i++) {
		uint32_t ip = htonl(0x0a4d1000 + i);
		put_be32(mac + 2, i + 1);
		size_t n = mk_frame_arp(f, eth_broadcast, 1, mac, ip, zero_mac, OUR_IP);
		t.now += 1000;
		tnet_in(&t, f, n);
	}
	cr_assert_eq(CNT(&t, ARP_TX_REPLIES), 1100);
	cr_assert_eq(arp_lookup(t.eng, htonl(0x0a4d1000), mac, t.now), -ENOENT, "oldest evicted");
	cr_assert_eq(arp_lookup(t.eng, htonl(0x0a4d1000 + 1099), mac, t.now), 0);
	cr_assert_eq(get_be32(mac + 2), 1100);
	unsigned present = 0;
	for (uint32_t i = 0; i < 1100; i++)
		present += arp_lookup(t.eng, htonl(0x0a4d1000 + i), mac, t.now) == 0;
	cr_assert_eq(present, 1024);
}
