/* test_icmp.c - ICMP echo (every size, reassembled and fragmented), errors in, errors out (RFC 792, RFC 1122 3.2.2). */
#include <criterion/criterion.h>
#include <errno.h>

#include "netutil.h"

static struct tnet t;

static void setup(void) { t = tnet_new(); tnet_know_peer(&t); }
static void teardown(void) { tnet_free(&t); }
TestSuite(icmp, .init = setup, .fini = teardown);

/* Check one reply frame's Ethernet and IP headers; returns the IP payload. */
static const uint8_t *check_reply_hdrs(const struct memlink_frame *f, size_t ip_len)
{
	const uint8_t *ip = f->data + 14;

	cr_assert_eq(f->len, 14 + ip_len);
	cr_assert_arr_eq(f->data, PEER_MAC, 6);
	cr_assert_arr_eq(f->data + 6, OUR_MAC, 6);
	cr_assert_eq(get_be16(f->data + 12), ETH_TYPE_IPV4);
	cr_assert_eq(ip[0], 0x45);
	cr_assert_eq(get_be16(ip + 2), ip_len);
	cr_assert_eq(ip[8], 64);
	cr_assert_eq(ip[9], IP_PROTO_ICMP);
	cr_assert_eq(be32_at(ip + 12), OUR_IP);
	cr_assert_eq(be32_at(ip + 16), PEER_IP);
	cr_assert(ip_hdr_csum_ok(ip));
	return ip + 20;
}

Test(icmp, echo_reply_exact_for_every_size)
{
	uint8_t *f = malloc(1600), *want = malloc(1600);

	for (size_t dlen = 0; dlen <= 1472; dlen++) {
		size_t n = mk_ping(f, 0x4242, (uint16_t)dlen, dlen);
		const uint8_t *req = f + 14 + 20;

		tnet_in(&t, f, n);
		struct memlink_frame *r = tnet_pop(&t);
		cr_assert_not_null(r, "no reply for %zu bytes", dlen);
		const uint8_t *icmp = check_reply_hdrs(r, 20 + 8 + dlen);
		cr_assert_eq(get_be16(r->data + 14 + 6), 0, "no DF, no fragment");
		/* the request with type 0 and the checksum redone */
		memcpy(want, req, 8 + dlen);
		want[0] = ICMP_ECHOREPLY;
		put_be16(want + 2, 0);
		put_be16(want + 2, csum_fold(csum_partial(want, 8 + dlen, 0)));
		cr_assert_arr_eq(icmp, want, 8 + dlen, "reply differs for %zu bytes", dlen);
		free(r);
	}
	cr_assert_eq(CNT(&t, ICMP_RX_ECHO), 1473);
	cr_assert_eq(CNT(&t, ICMP_TX_ECHO_REPLY), 1473);
	cr_assert_eq(total_drops(&t), 0);
	free(f);
	free(want);
}

Test(icmp, echo_keeps_tos)
{
	uint8_t f[128];
	size_t n = mk_ping(f, 1, 1, 8);

	f[15] = 0x10;
	put_be16(f + 24, 0);
	put_be16(f + 24, csum_fold(csum_partial(f + 14, 20, 0)));
	tnet_in(&t, f, n);
	struct memlink_frame *r = tnet_pop(&t);
	cr_assert_eq(r->data[15], 0x10);
	free(r);
}

Test(icmp, large_echo_reassembled_and_replied_in_fragments)
{
	size_t dlen = 4000 - 8, ilen = 4000;
	uint8_t *icmp = malloc(ilen), *f = malloc(1600), *got = calloc(1, ilen);

	for (size_t i = 0; i < dlen; i++)
		icmp[8 + i] = (uint8_t)(i ^ (i >> 8));
	mk_icmp(icmp, ICMP_ECHO, 0, 0x12340005, icmp + 8, dlen);
	/* sent as the kernel would: 1480-byte fragments */
	for (size_t off = 0; off < ilen; off += 1480) {
		size_t n = ilen - off < 1480 ? ilen - off : 1480;
		struct ipspec s = ipspec_default(IP_PROTO_ICMP);

		s.id = 777;
		s.frag = (uint16_t)(off / 8 | (off + n < ilen ? IP_MF : 0));
		tnet_in(&t, f, mk_frame_ip(f, &s, icmp + off, n));
	}
	cr_assert_eq(CNT(&t, IP_REASM_OK), 1);
	cr_assert_eq(memlink_count(t.link), 3, "reply in 3 fragments");
	size_t at = 0;
	for (int i = 0; i < 3; i++) {
		struct memlink_frame *r = tnet_pop(&t);
		const uint8_t *ip = r->data + 14;
		size_t n = get_be16(ip + 2) - 20;

		check_reply_hdrs(r, 20 + n);
		cr_assert_eq((get_be16(ip + 6) & IP_OFFMASK) * 8u, at);
		memcpy(got + at, ip + 20, n);
		at += n;
		free(r);
	}
	cr_assert_eq(at, ilen);
	cr_assert_eq(got[0], ICMP_ECHOREPLY);
	cr_assert_eq(csum_fold(csum_partial(got, ilen, 0)), 0);
	cr_assert_arr_eq(got + 4, icmp + 4, ilen - 4, "same id, seq and data");
	free(icmp);
	free(f);
	free(got);
}

static size_t icmp_frame(uint8_t *f, const uint8_t *msg, size_t len)
{
	struct ipspec s = ipspec_default(IP_PROTO_ICMP);

	return mk_frame_ip(f, &s, msg, len);
}

Test(icmp, malformed_and_unknown)
{
	uint8_t f[256], m[64];
	size_t n;

	n = icmp_frame(f, (const uint8_t *)"\x08\x00\xf7", 3);
	tnet_in(&t, f, n);
	cr_assert_eq(drops(&t, DROP_ICMP_TOO_SHORT), 1);
	mk_icmp(m, ICMP_ECHO, 0, 1, "data", 4);
	m[9] ^= 1;
	tnet_in(&t, f, icmp_frame(f, m, 12));
	cr_assert_eq(drops(&t, DROP_ICMP_BAD_CSUM), 1);
	mk_icmp(m, 13, 0, 1, "timestamp.......", 12); /* timestamp request */
	tnet_in(&t, f, icmp_frame(f, m, 20));
	mk_icmp(m, ICMP_ECHOREPLY, 0, 1, "data", 4);   /* no ping sockets */
	tnet_in(&t, f, icmp_frame(f, m, 12));
	cr_assert_eq(drops(&t, DROP_ICMP_UNKNOWN_TYPE), 2);
	cr_assert_eq(memlink_count(t.link), 0);
}

/* An ICMP error from the peer quoting `inner` (an IP packet we "sent"). */
static void error_in(uint8_t type, uint8_t code, uint32_t rest, const uint8_t *inner, size_t ilen)
{
	uint8_t m[600], f[700];
	size_t n = mk_icmp(m, type, code, rest, inner, ilen);

	tnet_in(&t, f, icmp_frame(f, m, n));
}

static size_t our_tcp_segment(uint8_t *buf, uint32_t src, uint16_t frag, size_t l4len)
{
	uint8_t tcp[20] = { 0x9c, 0x40, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff };
	struct ipspec s = { .src = src, .dst = PEER_IP, .proto = IP_PROTO_TCP, .ttl = 64,
			    .id = 5, .frag = frag };

	mk_ip(buf, &s, tcp, 20);
	return 20 + l4len;
}

Test(icmp, errors_about_our_tcp_go_to_tcp)
{
	uint8_t in[64];
	size_t n = our_tcp_segment(in, OUR_IP, IP_DF, 8);

	error_in(ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1400, in, n);
	error_in(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, in, n);
	error_in(ICMP_TIME_EXCEEDED, 0, 0, in, n);
	error_in(ICMP_PARAMETERPROB, 0, 20u << 24, in, n);
	cr_assert_eq(CNT(&t, ICMP_RX_ERRORS), 4);
	cr_assert_eq(total_drops(&t), 0, "accepted and handed to TCP");
	/* source quench: accepted, ignored (RFC 6633) */
	error_in(ICMP_SOURCE_QUENCH, 0, 0, in, n);
	cr_assert_eq(total_drops(&t), 0);
	cr_assert_eq(memlink_count(t.link), 0, "never an error about an error");
}

Test(icmp, errors_with_bad_quotes)
{
	uint8_t in[64];
	size_t n;

	n = our_tcp_segment(in, PEER2_IP, IP_DF, 8);        /* not ours */
	error_in(ICMP_DEST_UNREACH, 1, 0, in, n);
	n = our_tcp_segment(in, OUR_IP, IP_DF, 7);          /* < 8 bytes of TCP */
	error_in(ICMP_DEST_UNREACH, 1, 0, in, n);
	n = our_tcp_segment(in, OUR_IP, 100, 8);            /* a non-first fragment */
	error_in(ICMP_DEST_UNREACH, 1, 0, in, n);
	error_in(ICMP_DEST_UNREACH, 1, 0, in, 19);          /* no whole IP header */
	n = our_tcp_segment(in, OUR_IP, IP_DF, 8);
	in[0] = 0x65;                                       /* not IPv4 */
	error_in(ICMP_DEST_UNREACH, 1, 0, in, n);
	cr_assert_eq(drops(&t, DROP_ICMP_BAD_INNER), 5);
	cr_assert_eq(CNT(&t, ICMP_RX_ERRORS), 5);
}

Test(icmp, send_error_rules)
{
	uint8_t f[1600], orig[1500];
	struct ipspec s = ipspec_default(IP_PROTO_UDP);
	uint8_t data[1400] = { 0 };
	size_t n = mk_ip(orig, &s, data, 1400);

	/* allowed; quote cut so the error is 576 bytes (Linux) */
	cr_assert_eq(icmp_send_error(t.eng, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, orig, n, t.now), 0);
	struct memlink_frame *r = tnet_pop(&t);
	cr_assert_eq(get_be16(r->data + 16), 576);
	cr_assert_arr_eq(r->data + 14 + 28, orig, 548);
	free(r);
	/* about an ICMP error */
	uint8_t m[64];
	size_t ml = mk_icmp(m, ICMP_DEST_UNREACH, 3, 0, "x", 1);
	s = ipspec_default(IP_PROTO_ICMP);
	n = mk_ip(orig, &s, m, ml);
	cr_assert_eq(icmp_send_error(t.eng, ICMP_DEST_UNREACH, 2, orig, n, t.now), -EPERM);
	/* about an echo request: fine */
	ml = mk_icmp(m, ICMP_ECHO, 0, 0, "x", 1);
	n = mk_ip(orig, &s, m, ml);
	cr_assert_eq(icmp_send_error(t.eng, ICMP_DEST_UNREACH, 2, orig, n, t.now), 0);
	memlink_clear(t.link);
	/* to a broadcast, from a multicast, a non-first fragment, a truncated header */
	s = ipspec_default(IP_PROTO_UDP);
	s.dst = BCAST_IP;
	n = mk_ip(orig, &s, data, 8);
	cr_assert_eq(icmp_send_error(t.eng, 3, 3, orig, n, t.now), -EPERM);
	s = ipspec_default(IP_PROTO_UDP);
	s.src = htonl(0xe0000005);
	n = mk_ip(orig, &s, data, 8);
	cr_assert_eq(icmp_send_error(t.eng, 3, 3, orig, n, t.now), -EPERM);
	s = ipspec_default(IP_PROTO_UDP);
	s.frag = 10;
	n = mk_ip(orig, &s, data, 8);
	cr_assert_eq(icmp_send_error(t.eng, 3, 3, orig, n, t.now), -EPERM);
	cr_assert_eq(icmp_send_error(t.eng, 3, 3, orig, 19, t.now), -EINVAL);
	cr_assert_eq(memlink_count(t.link), 0);
	(void)f;
}

Test(icmp, parse_emit)
{
	uint8_t b[8];
	struct icmp_hdr h = { .type = 3, .code = 4, .rest = 1400 }, g;

	icmp_emit(b, &h);
	cr_assert_eq(icmp_parse(b, 8, &g), 0);
	cr_assert_eq(g.type, 3);
	cr_assert_eq(g.code, 4);
	cr_assert_eq(g.rest, 1400);
	cr_assert_eq(get_be16(b + 6), 1400);
	cr_assert_eq(icmp_parse(b, 7, &g), -EINVAL);
}
