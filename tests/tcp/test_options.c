/* test_options.c - option negotiation as Linux: MSS, window scale, SACK-permitted, timestamps and PAWS (RFC 9293 3.7.1, RFC 7323, RFC 2018). */
#include <criterion/criterion.h>
#include <errno.h>

#include "tcph.h"

TestSuite(tcp_options, .init = fx_setup, .fini = fx_teardown);

Test(tcp_options, mss_from_peer)
{
	fx_syn_sent();
	seg(.flags = TH_SYN | TH_ACK, .seq = PISS, .opts = TCPOPT_F_MSS, .mss = 1000);
	expect_out(TH_ACK);
	cr_assert_eq(F.s->mss, 1000);
}

Test(tcp_options, no_mss_means_536)
{
	fx_syn_sent();
	seg(.flags = TH_SYN | TH_ACK, .seq = PISS, .opts = 0);
	expect_out(TH_ACK);
	cr_assert_eq(F.s->mss, 536);
}

Test(tcp_options, window_scale_both_ways)
{
	fx_established_opts(TCPOPT_F_MSS | TCPOPT_F_WS);
	cr_assert(F.s->ws_ok);
	cr_assert_eq(F.s->snd_ws, 7);
	seg(.win = 100);
	cr_assert_eq(F.s->snd_wnd, 100u << 7);
}

Test(tcp_options, window_scale_only_if_peer_offers)
{
	fx_established();
	cr_assert(!F.s->ws_ok);
	cr_assert_eq(F.s->rcv_ws, 0);
}

Test(tcp_options, timestamps_echoed_and_mss_reduced)
{
	const struct tcp_seg *o;

	fx_established_opts(TCPOPT_F_MSS | TCPOPT_F_TS);
	cr_assert(F.s->ts_ok);
	cr_assert_eq(F.s->mss, 1448);
	cr_assert_eq(seg(.opts = TCPOPT_F_TS, .tsval = 6000, .data = "a", .len = 1), DROP_NONE);
	o = expect_out(TH_ACK);
	cr_assert(o->opts & TCPOPT_F_TS);
	cr_assert_eq(o->tsecr, 6000);
}

Test(tcp_options, paws_rejects_old_timestamp)
{
	fx_established_opts(TCPOPT_F_MSS | TCPOPT_F_TS);
	cr_assert_eq(seg(.opts = TCPOPT_F_TS, .tsval = 6000), DROP_NONE);
	cr_assert_eq(seg(.opts = TCPOPT_F_TS, .tsval = 4000, .data = "old", .len = 3), DROP_TCP_PAWS);
	expect_out(TH_ACK);
	cr_assert_eq(tcp_recv_avail(F.s), 0);
}

Test(tcp_options, malformed_option_dropped)
{
	uint8_t hdr[24] = { 0x9c, 0x40, 0x1f, 0x90, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, TH_SYN, 0xff, 0xff,
			    0, 0, 0, 0, 2, 9, 5, 0xb4 };
	struct tcp_seg s;

	cr_assert_eq(tcp_parse(hdr, sizeof(hdr), &s), DROP_TCP_BAD_OPTIONS);
	hdr[21] = 4;
	cr_assert_eq(tcp_parse(hdr, sizeof(hdr), &s), DROP_NONE);
	cr_assert_eq(s.mss, 1460);
	hdr[12] = 0x70;
	cr_assert_eq(tcp_parse(hdr, sizeof(hdr), &s), DROP_TCP_BAD_OFFSET);
	cr_assert_eq(tcp_parse(hdr, 10, &s), DROP_TCP_TOO_SHORT);
}

Test(tcp_options, user_maxseg_caps_mss)
{
	int v = 1000;

	F.s = tcp_sock_new(F.eng);
	cr_assert_eq(tcp_setsockopt(F.s, IPPROTO_TCP, TCP_MAXSEG, &v, sizeof(v), F.now), 0);
	tcp_connect(F.s, htonl(PEER_ADDR), PPORT, F.now);
	const struct tcp_seg *o = expect_out(TH_SYN);
	cr_assert_eq(o->mss, 1000);
}
