/* test_synq.c - the SYN queue as Linux sizes it (backlog, tcp_max_syn_backlog's 3/4 rule, cookies) and text or FIN on SYN and SYN-ACK (RFC 9293 3.10.7.2-3, RFC 4987; Linux tcp_conn_request). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "tcph.h"

static void no_cookies(struct eng_config *cfg)
{
	cfg->tcp.syncookies = 0;
	cfg->tcp.max_syn_backlog = 8;
}

static void setup_no_cookies(void) { fx_setup_cfg(no_cookies); }

static enum drop_reason syn_from(uint16_t sport)
{
	return seg_in(&(struct segspec){ .flags = TH_SYN, .seq = PISS, .win = 65535,
					 .sport = sport, .dport = LPORT, .opts = TCPOPT_F_MSS });
}

static void listen_backlog(int backlog)
{
	F.lis = tcp_sock_new(F.eng);
	cr_assert_eq(tcp_bind(F.lis, 0, LPORT), 0);
	cr_assert_eq(tcp_listen(F.lis, backlog), 0);
	F.lport = LPORT;
}

TestSuite(tcp_synq, .init = fx_setup, .fini = fx_teardown);

Test(tcp_synq, queue_holds_backlog_then_cookies)
{
	listen_backlog(3);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(syn_from((uint16_t)(1000 + i)), DROP_NONE);
		expect_out(TH_SYN | TH_ACK);
	}
	cr_assert_eq(F.lis->synq_len, 3);
	cr_assert_eq(fx_count(CNT_TCP_SYNCOOKIES_SENT), 0);
	/* inet_csk_reqsk_queue_is_full: len >= backlog */
	cr_assert_eq(syn_from(2000), DROP_NONE);
	expect_out(TH_SYN | TH_ACK);
	cr_assert_eq(fx_count(CNT_TCP_SYNCOOKIES_SENT), 1);
	cr_assert_eq(F.lis->synq_len, 3);
}

Test(tcp_synq, max_syn_backlog_alone_does_not_force_cookies)
{
	/* tcp_max_syn_backlog (1024 by default) matters only without cookies */
	listen_backlog(2000);
	for (int i = 0; i < 1100; i++)
		cr_assert_eq(syn_from((uint16_t)(1000 + i)), DROP_NONE);
	cr_assert_eq(F.lis->synq_len, 1100);
	cr_assert_eq(fx_count(CNT_TCP_SYNCOOKIES_SENT), 0);
}

Test(tcp_synq, without_cookies_full_queue_drops, .init = setup_no_cookies, .fini = fx_teardown)
{
	listen_backlog(2);
	cr_assert_eq(syn_from(1000), DROP_NONE);
	cr_assert_eq(syn_from(1001), DROP_NONE);
	memlink_clear(F.link);
	cr_assert_eq(syn_from(1002), DROP_TCP_LISTEN_OVERFLOW);
	expect_none();
}

Test(tcp_synq, without_cookies_last_quarter_kept, .init = setup_no_cookies, .fini = fx_teardown)
{
	/* max_syn_backlog 8: "max_syn_backlog - queue_len < max_syn_backlog >> 2"
	 * drops once fewer than 2 slots are left: 7 requests, the 8th dropped */
	listen_backlog(100);
	for (int i = 0; i < 6; i++)
		cr_assert_eq(syn_from((uint16_t)(1000 + i)), DROP_NONE);
	cr_assert_eq(syn_from(1006), DROP_NONE);
	cr_assert_eq(F.lis->synq_len, 7);
	memlink_clear(F.link);
	cr_assert_eq(syn_from(1007), DROP_TCP_LISTEN_OVERFLOW);
	expect_none();
	cr_assert_eq(F.lis->synq_len, 7);
}

Test(tcp_listen, data_on_syn_ignored_only_syn_acked, .init = fx_setup, .fini = fx_teardown)
{
	const struct tcp_seg *o;
	char b[8];

	fx_listen();
	cr_assert_eq(seg(.flags = TH_SYN, .seq = PISS, .ack = 0, .opts = TCPOPT_F_MSS,
			 .data = "abc", .len = 3), DROP_NONE);
	o = expect_out(TH_SYN | TH_ACK);
	cr_assert_eq(o->ack, PISS + 1, "Linux without TFO acks only the SYN");
	F.iss = o->seq;
	cr_assert_eq(seg(.seq = PISS + 1, .ack = F.iss + 1), DROP_NONE);
	cr_assert_eq(tcp_accept(F.lis, &F.s), 0);
	cr_assert_eq(tcp_recv(F.s, b, sizeof(b), 0, F.now), -EAGAIN);
	/* the peer sends it again, in sequence */
	cr_assert_eq(seg(.seq = PISS + 1, .ack = F.iss + 1, .data = "abc", .len = 3), DROP_NONE);
	cr_assert_eq(tcp_recv(F.s, b, sizeof(b), 0, F.now), 3);
}

Test(tcp_syn_sent, data_on_synack_queued, .init = fx_setup, .fini = fx_teardown)
{
	const struct tcp_seg *o;
	char b[8];

	fx_syn_sent();
	cr_assert_eq(seg(.flags = TH_SYN | TH_ACK | TH_PSH, .seq = PISS, .opts = TCPOPT_F_MSS,
			 .data = "hello", .len = 5), DROP_NONE);
	cr_assert_eq(fx_state(), TCPS_ESTABLISHED);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->ack, PISS + 6, "the data is acknowledged with the SYN");
	expect_none();
	cr_assert_eq(tcp_recv(F.s, b, sizeof(b), 0, F.now), 5);
	cr_assert_eq(memcmp(b, "hello", 5), 0);
}

Test(tcp_syn_sent, fin_on_synack_closes_receive_side, .init = fx_setup, .fini = fx_teardown)
{
	char b[8];

	fx_syn_sent();
	cr_assert_eq(seg(.flags = TH_SYN | TH_ACK | TH_FIN, .seq = PISS, .opts = TCPOPT_F_MSS,
			 .data = "x", .len = 1), DROP_NONE);
	cr_assert_eq(fx_state(), TCPS_CLOSE_WAIT);
	cr_assert_eq(tcp_recv(F.s, b, sizeof(b), 0, F.now), 1);
	cr_assert_eq(tcp_recv(F.s, b, sizeof(b), 0, F.now), 0, "end of stream");
	fx_advance(MSEC(200));
	const struct tcp_seg *o = expect_out(TH_ACK);
	cr_assert_eq(o->ack, PISS + 3);
}
