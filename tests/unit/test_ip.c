/* test_ip.c - IPv4 input validation (RFC 791, RFC 1122 3.2.1), options, dispatch, routing and output. */
#include <criterion/criterion.h>
#include <errno.h>

#include "netutil.h"

static struct tnet t;
static struct pkt *p;

static void setup(void) { t = tnet_new(); tnet_know_peer(&t); p = malloc(sizeof(*p)); }
static void teardown(void) { free(p); tnet_free(&t); }
TestSuite(ip, .init = setup, .fini = teardown);

static void refix(uint8_t *ip)
{
	put_be16(ip + 10, 0);
	put_be16(ip + 10, csum_fold(csum_partial(ip, (size_t)(ip[0] & 0xf) * 4, 0)));
}

/* Feed a ping with one change; expect exactly one drop of `why` and no reply. */
static void expect_drop(const uint8_t *f, size_t n, enum drop_reason why)
{
	uint64_t before = drops(&t, why), all = total_drops(&t);

	tnet_in(&t, f, n);
	cr_assert_eq(drops(&t, why), before + 1, "expected drop %s", drop_names[why]);
	cr_assert_eq(total_drops(&t), all + 1, "dropped for another reason too");
	cr_assert_eq(memlink_count(t.link), 0);
}

static struct memlink_frame *expect_echo_reply(void)
{
	struct memlink_frame *f = tnet_pop(&t);

	cr_assert_not_null(f, "no reply");
	cr_assert_eq(f->data[14 + 9], IP_PROTO_ICMP);
	cr_assert_eq(f->data[14 + 20], ICMP_ECHOREPLY);
	return f;
}

Test(ip, header_validation)
{
	uint8_t f[256], g[256];
	size_t n = mk_ping(f, 7, 1, 16);  /* IP packet of 44 bytes */
	uint8_t *ip = g + 14;

	memcpy(g, f, n);
	expect_drop(g, 14 + 19, DROP_IP_TOO_SHORT);
	memcpy(g, f, n); ip[0] = 0x65; refix(ip);
	expect_drop(g, n, DROP_IP_BAD_VERSION);
	memcpy(g, f, n); ip[0] = 0x44;
	expect_drop(g, n, DROP_IP_BAD_IHL);
	memcpy(g, f, n); ip[0] = 0x4f; /* 60 bytes of header in a 44-byte packet */
	expect_drop(g, n, DROP_IP_BAD_IHL);
	memcpy(g, f, n); put_be16(ip + 2, 19); refix(ip);
	expect_drop(g, n, DROP_IP_BAD_LENGTH);
	memcpy(g, f, n); put_be16(ip + 2, 45); refix(ip);
	expect_drop(g, n, DROP_IP_BAD_LENGTH);
	memcpy(g, f, n); ip[11] ^= 0x40;
	expect_drop(g, n, DROP_IP_BAD_CSUM);
}

Test(ip, bad_sources)
{
	uint8_t f[256], g[256];
	size_t n = mk_ping(f, 7, 1, 16);
	const uint32_t bad[] = { 0, 0xffffffffu, BCAST_IP, OUR_IP, htonl(0xe0000001),
				 htonl(0x7f000001) };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(g, f, n);
		memcpy(g + 14 + 12, &bad[i], 4);
		refix(g + 14);
		expect_drop(g, n, DROP_IP_BAD_SRC);
	}
}

Test(ip, destinations)
{
	uint8_t f[256], g[256];
	size_t n = mk_ping(f, 7, 1, 16);
	const uint32_t bc[] = { 0xffffffffu, BCAST_IP, htonl(0xe0000001) };

	memcpy(g, f, n);
	uint32_t other = PEER2_IP;

	memcpy(g + 14 + 16, &other, 4);
	refix(g + 14);
	expect_drop(g, n, DROP_IP_NOT_FOR_US);
	/* broadcast echo ignored (icmp_echo_ignore_broadcasts=1) */
	for (size_t i = 0; i < 3; i++) {
		memcpy(g, f, n);
		memcpy(g, eth_broadcast, 6);
		memcpy(g + 14 + 16, &bc[i], 4);
		refix(g + 14);
		expect_drop(g, n, DROP_IP_BCAST);
	}
}

Test(ip, ttl_zero_accepted_like_linux)
{
	uint8_t f[256];
	size_t n = mk_ping(f, 7, 1, 16);

	f[14 + 8] = 0;
	refix(f + 14);
	tnet_in(&t, f, n);
	free(expect_echo_reply());
	cr_assert_eq(total_drops(&t), 0);
}

Test(ip, ethernet_padding_trimmed)
{
	uint8_t f[60];
	size_t n = mk_ping(f, 7, 1, 0);   /* 42 bytes */

	cr_assert_eq(n, 42);
	memset(f + n, 0xa5, sizeof(f) - n);
	tnet_in(&t, f, sizeof(f));
	struct memlink_frame *r = expect_echo_reply();
	cr_assert_eq(r->len, 42, "reply of the IP length, not of the padded frame");
	cr_assert_eq(get_be16(r->data + 16), 28);
	free(r);
	cr_assert_eq(total_drops(&t), 0);
}

static size_t ping_with_options(uint8_t *f, const uint8_t *opt, size_t optlen)
{
	uint8_t icmp[16];
	size_t il = mk_icmp(icmp, ICMP_ECHO, 0, 0x00070001, "abcdefgh", 8);
	struct ipspec s = ipspec_default(IP_PROTO_ICMP);

	s.opt = opt;
	s.optlen = optlen;
	return mk_frame_ip(f, &s, icmp, il);
}

Test(ip, options_validated_and_skipped)
{
	uint8_t f[256];
	const uint8_t nops[4] = { 1, 1, 1, 0 };
	const uint8_t rr[8] = { 7, 7, 4, 0, 0, 0, 0, 0 };   /* record route, then EOL */
	const uint8_t unknown[4] = { 0x9e, 4, 0xaa, 0xbb }; /* unknown, well formed */

	tnet_in(&t, f, ping_with_options(f, nops, 4));
	free(expect_echo_reply());
	tnet_in(&t, f, ping_with_options(f, rr, 8));
	free(expect_echo_reply());
	tnet_in(&t, f, ping_with_options(f, unknown, 4));
	free(expect_echo_reply());
	cr_assert_eq(CNT(&t, IP_RX_OPTIONS), 3);
	cr_assert_eq(total_drops(&t), 0);
}

Test(ip, malformed_options_parameter_problem)
{
	uint8_t f[256];
	const uint8_t len1[4] = { 1, 7, 1, 0 };         /* RR with length 1 at offset 1 */
	const uint8_t past[4] = { 7, 12, 4, 0 };        /* longer than the options */
	const uint8_t notlen[4] = { 1, 1, 1, 7 };       /* type with no room for a length */

	tnet_in(&t, f, ping_with_options(f, len1, 4));
	cr_assert_eq(drops(&t, DROP_IP_BAD_OPTIONS), 1);
	struct memlink_frame *r = tnet_pop(&t);
	cr_assert_not_null(r, "parameter problem sent");
	cr_assert_eq(r->data[34], ICMP_PARAMETERPROB);
	cr_assert_eq(r->data[34 + 4], 22, "pointer at the bad length octet");
	free(r);
	tnet_in(&t, f, ping_with_options(f, past, 4));
	tnet_in(&t, f, ping_with_options(f, notlen, 4));
	cr_assert_eq(drops(&t, DROP_IP_BAD_OPTIONS), 3);
	memlink_clear(t.link);
	const uint8_t lsrr[8] = { 0x83, 7, 4, 10, 77, 0, 9, 0 };
	tnet_in(&t, f, ping_with_options(f, lsrr, 8));
	cr_assert_eq(drops(&t, DROP_IP_SOURCE_ROUTE), 1);
	cr_assert_eq(memlink_count(t.link), 0);
}

static size_t udp_frame(uint8_t *f, uint16_t dport, bool good_csum)
{
	uint8_t u[12];
	struct ipspec s = ipspec_default(IP_PROTO_UDP);

	put_be16(u, 5555);
	put_be16(u + 2, dport);
	put_be16(u + 4, 12);
	put_be16(u + 6, 0);
	memcpy(u + 8, "ping", 4);
	put_be16(u + 6, csum_fold(csum_partial(u, 12, csum_pseudo(PEER_IP, OUR_IP, 17, 12))));
	if (!good_csum)
		u[9] ^= 1;
	return mk_frame_ip(f, &s, u, 12);
}

Test(ip, udp_port_unreachable)
{
	uint8_t f[128];
	size_t n = udp_frame(f, 9, true);

	tnet_in(&t, f, n);
	cr_assert_eq(drops(&t, DROP_IP_UDP_NO_PORT), 1);
	struct memlink_frame *r = tnet_pop(&t);
	cr_assert_not_null(r);
	const uint8_t *ip = r->data + 14, *ic = ip + 20;
	cr_assert_arr_eq(r->data, PEER_MAC, 6);
	cr_assert_eq(be32_at(ip + 16), PEER_IP);
	cr_assert_eq(be32_at(ip + 12), OUR_IP);
	cr_assert_eq(ip[1], 0xc0, "precedence internetwork control");
	cr_assert(ip_hdr_csum_ok(ip));
	cr_assert_eq(ic[0], ICMP_DEST_UNREACH);
	cr_assert_eq(ic[1], ICMP_PORT_UNREACH);
	cr_assert_eq(get_be16(ip + 2), 20 + 8 + 32, "quotes the whole 32-byte datagram");
	cr_assert_arr_eq(ic + 8, f + 14, 32);
	cr_assert_eq(csum_fold(csum_partial(ic, 40, 0)), 0);
	free(r);
	cr_assert_eq(CNT(&t, ICMP_TX_ERRORS), 1);
	/* a bad UDP checksum gets no answer (as Linux) */
	n = udp_frame(f, 9, false);
	tnet_in(&t, f, n);
	cr_assert_eq(drops(&t, DROP_IP_UDP_BAD), 1);
	cr_assert_eq(memlink_count(t.link), 0);
}

Test(ip, unknown_protocol_unreachable)
{
	uint8_t f[128];
	struct ipspec s = ipspec_default(99);
	size_t n = mk_frame_ip(f, &s, "12345678", 8);

	tnet_in(&t, f, n);
	cr_assert_eq(drops(&t, DROP_IP_UNKNOWN_PROTO), 1);
	struct memlink_frame *r = tnet_pop(&t);
	cr_assert_not_null(r);
	cr_assert_eq(r->data[34], ICMP_DEST_UNREACH);
	cr_assert_eq(r->data[35], ICMP_PROT_UNREACH);
	free(r);
}

Test(ip, icmp_errors_rate_limited_per_destination)
{
	uint8_t f[128];
	size_t n = udp_frame(f, 9, true);

	for (int i = 0; i < 10; i++)
		tnet_in(&t, f, n);
	cr_assert_eq(memlink_count(t.link), 6, "burst of 6 (XRLIM_BURST_FACTOR)");
	cr_assert_eq(drops(&t, DROP_ICMP_RATELIMIT), 4);
	memlink_clear(t.link);
	t.now += MSEC(999);
	tnet_in(&t, f, n);
	cr_assert_eq(memlink_count(t.link), 0);
	t.now += MSEC(1);
	tnet_in(&t, f, n);
	tnet_in(&t, f, n);
	cr_assert_eq(memlink_count(t.link), 1, "one per second after the burst");
	/* echo replies are never limited */
	memlink_clear(t.link);
	for (int i = 0; i < 20; i++) {
		n = mk_ping(f, 1, (uint16_t)i, 8);
		tnet_in(&t, f, n);
	}
	cr_assert_eq(memlink_count(t.link), 20);
}

static int out(uint8_t proto, uint32_t dst, size_t len)
{
	pkt_reset(p);
	memset(pkt_put(p, (uint32_t)len), 0x5a, len);
	return ip_output(t.eng, p, proto, 0, dst, 0, t.now);
}

Test(ip, output_header_tcp_df)
{
	cr_assert_eq(out(IP_PROTO_TCP, PEER_IP, 40), 0);
	struct memlink_frame *f = tnet_pop(&t);
	const uint8_t *ip = f->data + 14;

	cr_assert_eq(f->len, 14 + 20 + 40);
	cr_assert_arr_eq(f->data, PEER_MAC, 6);
	cr_assert_eq(ip[0], 0x45);
	cr_assert_eq(get_be16(ip + 2), 60);
	cr_assert_eq(get_be16(ip + 6), IP_DF);
	cr_assert_eq(ip[8], 64);
	cr_assert_eq(ip[9], IP_PROTO_TCP);
	cr_assert_eq(be32_at(ip + 12), OUR_IP);
	cr_assert_eq(be32_at(ip + 16), PEER_IP);
	cr_assert(ip_hdr_csum_ok(ip));
	uint16_t id = get_be16(ip + 4);
	free(f);
	cr_assert_eq(out(IP_PROTO_TCP, PEER_IP, 40), 0);
	f = tnet_pop(&t);
	cr_assert_eq(get_be16(f->data + 18), (uint16_t)(id + 1), "IDs count up");
	free(f);
	cr_assert_eq(out(IP_PROTO_TCP, PEER_IP, 1481), -EMSGSIZE);
	cr_assert_eq(out(IP_PROTO_TCP, PEER_IP, 1480), 0);
}

Test(ip, output_routing)
{
	uint8_t mac[6];

	/* off-link: the gateway (10.77.0.1 = the known peer) carries it */
	cr_assert_eq(out(253, FAR_IP, 10), 0);
	struct memlink_frame *f = tnet_pop(&t);
	cr_assert_arr_eq(f->data, PEER_MAC, 6);
	cr_assert_eq(be32_at(f->data + 30), FAR_IP);
	free(f);
	/* on-link: the host itself is resolved */
	cr_assert_eq(out(253, PEER2_IP, 10), 0);
	f = tnet_pop(&t);
	cr_assert_eq(get_be16(f->data + 12), ETH_TYPE_ARP);
	cr_assert_eq(be32_at(f->data + 14 + 24), PEER2_IP);
	free(f);
	cr_assert_eq(arp_lookup(t.eng, PEER2_IP, mac, t.now), -ENOENT);
	/* broadcast: no ARP */
	cr_assert_eq(out(253, BCAST_IP, 10), 0);
	f = tnet_pop(&t);
	cr_assert_arr_eq(f->data, eth_broadcast, 6);
	free(f);
	/* no gateway: unreachable */
	t.eng->cfg.gateway = 0;
	cr_assert_eq(out(253, FAR_IP, 10), -ENETUNREACH);
	cr_assert_eq(drops(&t, DROP_IP_NO_ROUTE), 1);
	cr_assert_eq(memlink_count(t.link), 0);
}

Test(ip, output_fragmented_without_df)
{
	pkt_reset(p);
	uint8_t *d = pkt_put(p, 4000);
	for (int i = 0; i < 4000; i++)
		d[i] = (uint8_t)(i * 3);
	cr_assert_eq(ip_output(t.eng, p, 253, 0, PEER_IP, 0, t.now), 0);
	cr_assert_eq(memlink_count(t.link), 3);
	uint8_t whole[4000];
	const uint16_t offs[3] = { 0, 1480, 2960 }, lens[3] = { 1480, 1480, 1040 };
	uint16_t id = 0;
	for (int i = 0; i < 3; i++) {
		struct memlink_frame *f = tnet_pop(&t);
		const uint8_t *ip = f->data + 14;
		cr_assert(ip_hdr_csum_ok(ip));
		cr_assert_eq(get_be16(ip + 2), 20 + lens[i]);
		cr_assert_eq(get_be16(ip + 6) & IP_OFFMASK, offs[i] / 8);
		cr_assert_eq(!!(get_be16(ip + 6) & IP_MF), i < 2);
		if (i == 0)
			id = get_be16(ip + 4);
		cr_assert_eq(get_be16(ip + 4), id, "one ID for all fragments");
		memcpy(whole + offs[i], ip + 20, lens[i]);
		free(f);
	}
	for (int i = 0; i < 4000; i++)
		cr_assert_eq(whole[i], (uint8_t)(i * 3));
}

Test(ip, loopback_delivered_by_poll)
{
	uint8_t icmp[16];
	size_t il = mk_icmp(icmp, ICMP_ECHO, 0, 0x00010001, "loop", 4);

	pkt_reset(p);
	memcpy(pkt_put(p, (uint32_t)il), icmp, il);
	cr_assert_eq(ip_output(t.eng, p, IP_PROTO_ICMP, 0, OUR_IP, 0, t.now), 0);
	cr_assert_eq(memlink_count(t.link), 0, "never on the link");
	cr_assert_eq(eng_poll(t.eng, t.now), t.now, "due at once");
	cr_assert_eq(CNT(&t, ICMP_RX_ECHO), 1);
	cr_assert_eq(CNT(&t, ICMP_TX_ECHO_REPLY), 1);
	/* the reply to ourselves arrives on the next poll (no ping socket) */
	eng_poll(t.eng, t.now);
	cr_assert_eq(drops(&t, DROP_ICMP_UNKNOWN_TYPE), 1);
	cr_assert_eq(eng_poll(t.eng, t.now), TIME_NEVER);
	cr_assert_eq(memlink_count(t.link), 0);
}
