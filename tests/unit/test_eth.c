/* test_eth.c - Ethernet parse/emit and the dispatch of eth_input. */
#include <criterion/criterion.h>
#include <errno.h>

#include "netutil.h"

static struct tnet t;
static void setup(void) { t = tnet_new(); tnet_know_peer(&t); }
static void teardown(void) { tnet_free(&t); }
TestSuite(eth, .init = setup, .fini = teardown);

Test(eth, parse_emit_roundtrip)
{
	uint8_t f[14];
	struct eth_hdr h = { .type = 0x0806 }, g;

	memcpy(h.dst, PEER_MAC, 6);
	memcpy(h.src, OUR_MAC, 6);
	eth_emit(f, &h);
	cr_assert_eq(f[12], 0x08);
	cr_assert_eq(f[13], 0x06);
	cr_assert_eq(eth_parse(f, 14, &g), 0);
	cr_assert_arr_eq(g.dst, PEER_MAC, 6);
	cr_assert_arr_eq(g.src, OUR_MAC, 6);
	cr_assert_eq(g.type, 0x0806);
	cr_assert_eq(eth_parse(f, 13, &g), -EINVAL);
	cr_assert_eq(eth_parse(f, 0, &g), -EINVAL);
}

Test(eth, too_short_counted)
{
	uint8_t f[13] = { 0 };

	tnet_in(&t, f, sizeof(f));
	tnet_in(&t, f, 0);
	cr_assert_eq(drops(&t, DROP_ETH_TOO_SHORT), 2);
	cr_assert_eq(CNT(&t, LINK_RX_FRAMES), 2);
}

Test(eth, not_for_us)
{
	uint8_t f[128];
	const uint8_t other[6] = { 0x02, 0, 0, 0, 0, 0x99 };
	const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0, 0, 1 };
	size_t n = mk_ping(f, 1, 1, 8);

	memcpy(f, other, 6);
	tnet_in(&t, f, n);
	memcpy(f, mcast, 6);
	tnet_in(&t, f, n);
	cr_assert_eq(drops(&t, DROP_ETH_NOT_FOR_US), 2);
	cr_assert_eq(memlink_count(t.link), 0);
	cr_assert_eq(CNT(&t, IP_RX_PACKETS), 0);
}

Test(eth, vlan_ipv6_llc)
{
	uint8_t f[64] = { 0 };

	mk_eth(f, OUR_MAC, PEER_MAC, ETH_TYPE_VLAN);
	tnet_in(&t, f, 60);
	mk_eth(f, OUR_MAC, PEER_MAC, 0x88a8);
	tnet_in(&t, f, 60);
	cr_assert_eq(drops(&t, DROP_ETH_VLAN), 2);
	mk_eth(f, OUR_MAC, PEER_MAC, ETH_TYPE_IPV6);
	tnet_in(&t, f, 60);
	mk_eth(f, OUR_MAC, PEER_MAC, 46); /* 802.3 length field */
	tnet_in(&t, f, 60);
	cr_assert_eq(drops(&t, DROP_ETH_UNKNOWN_TYPE), 2);
}

Test(eth, unicast_and_broadcast_accepted)
{
	uint8_t f[128];
	size_t n = mk_ping(f, 1, 1, 8);

	tnet_in(&t, f, n);
	cr_assert_eq(CNT(&t, ICMP_TX_ECHO_REPLY), 1);
	n = mk_frame_arp(f, eth_broadcast, 1, PEER_MAC, PEER_IP, (uint8_t[6]){ 0 }, OUR_IP);
	tnet_in(&t, f, n);
	cr_assert_eq(CNT(&t, ARP_TX_REPLIES), 1);
	cr_assert_eq(total_drops(&t), 0);
}

Test(eth, output_header)
{
	struct pkt *p = malloc(sizeof(*p));

	pkt_reset(p);
	memcpy(pkt_put(p, 4), "abcd", 4);
	cr_assert_eq(eth_output(t.eng, p, PEER_MAC, 0x0800), 0);
	struct memlink_frame *f = tnet_pop(&t);
	cr_assert_not_null(f);
	cr_assert_eq(f->len, 18);
	cr_assert_arr_eq(f->data, PEER_MAC, 6);
	cr_assert_arr_eq(f->data + 6, OUR_MAC, 6);
	cr_assert_eq(get_be16(f->data + 12), 0x0800);
	cr_assert_arr_eq(f->data + 14, "abcd", 4);
	cr_assert_eq(CNT(&t, LINK_TX_FRAMES), 1);
	free(f);
	/* a failing link is reported and counted */
	memlink_fail(t.link, -ENOBUFS);
	pkt_reset(p);
	pkt_put(p, 4);
	cr_assert_eq(eth_output(t.eng, p, PEER_MAC, 0x0800), -ENOBUFS);
	cr_assert_eq(CNT(&t, LINK_TX_ERRORS), 1);
	free(p);
}
