/* test_icmp.c - ICMP errors on synchronized connections: soft errors, RFC 6069 backoff revert, PMTU (RFC 5927, RFC 1122 4.2.3.9, RFC 1191, RFC 6069; Linux tcp_v4_err). */
#include <criterion/criterion.h>
#include <errno.h>

#include "tcph.h"

TestSuite(tcp_icmp, .init = fx_setup, .fini = fx_teardown);

static void icmp(uint8_t type, uint8_t code, uint16_t mtu, uint32_t seq)
{
	struct ip_info in = { .src = htonl(US_ADDR), .dst = htonl(PEER_ADDR), .proto = 6 };
	uint8_t l4[8] = { F.lport >> 8, F.lport & 0xff, PPORT >> 8, PPORT & 0xff,
			  seq >> 24, (seq >> 16) & 0xff, (seq >> 8) & 0xff, seq & 0xff };

	tcp_icmp_error(F.eng, &in, l4, 8, type, code, mtu, F.now);
}

static int so_error(void)
{
	int err = -1;
	socklen_t l = sizeof(err);

	cr_assert_eq(tcp_getsockopt(F.s, SOL_SOCKET, SO_ERROR, &err, &l), 0);
	return err;
}

static uint8_t big[8000];

Test(tcp_icmp, unreachable_when_established_is_soft)
{
	fx_established();
	cr_assert_eq(tcp_send(F.s, "abc", 3, 0, F.now), 3);
	expect_out(TH_ACK);
	icmp(3, 1, 0, F.iss + 1);
	cr_assert_eq(fx_state(), TCPS_ESTABLISHED);
	cr_assert_eq(so_error(), 0, "a soft error is not SO_ERROR");
	cr_assert_eq(F.s->err_soft, EHOSTUNREACH);
	cr_assert_eq(tcp_send(F.s, "d", 1, 0, F.now), 1);
}

Test(tcp_icmp, timeout_after_soft_error_reports_it)
{
	fx_established();
	cr_assert_eq(tcp_send(F.s, "abc", 3, 0, F.now), 3);
	expect_out(TH_ACK);
	icmp(3, 1, 0, F.iss + 1);
	fx_advance(SEC(2000));   /* tcp_retries2 = 15: ~924 s */
	cr_assert_eq(fx_conn(), NULL);
	cr_assert_eq(so_error(), EHOSTUNREACH, "Linux tcp_write_err: sk_err_soft ? : ETIMEDOUT");
}

Test(tcp_icmp, net_unreachable_soft_error_code)
{
	fx_established();
	cr_assert_eq(tcp_send(F.s, "abc", 3, 0, F.now), 3);
	expect_out(TH_ACK);
	icmp(3, 0, 0, F.iss + 1);
	cr_assert_eq(F.s->err_soft, ENETUNREACH);
	icmp(11, 0, 0, F.iss + 1);   /* time exceeded */
	cr_assert_eq(F.s->err_soft, EHOSTUNREACH);
	icmp(12, 0, 0, F.iss + 1);   /* parameter problem */
	cr_assert_eq(F.s->err_soft, EPROTO);
}

Test(tcp_icmp, ack_clears_soft_error)
{
	fx_established();
	cr_assert_eq(tcp_send(F.s, "abc", 3, 0, F.now), 3);
	expect_out(TH_ACK);
	icmp(3, 1, 0, F.iss + 1);
	seg(.ack = F.iss + 4);
	cr_assert_eq(F.s->err_soft, 0);
	cr_assert_eq(tcp_send(F.s, "d", 1, 0, F.now), 1);
	expect_out(TH_ACK);
	fx_advance(SEC(2000));
	cr_assert_eq(so_error(), ETIMEDOUT);
}

/* The probe's sequence number is snd_una - 1: Linux's tcp_v4_err drops an error
 * quoting it ("!between(seq, snd_una, snd_nxt)": OUTOFWINDOWICMPS). */
Test(tcp_icmp, error_about_keepalive_probe_ignored)
{
	int one = 1, v = 1;

	fx_established();
	tcp_setsockopt(F.s, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v), F.now);
	tcp_setsockopt(F.s, IPPROTO_TCP, TCP_KEEPINTVL, &v, sizeof(v), F.now);
	tcp_setsockopt(F.s, IPPROTO_TCP, TCP_KEEPCNT, &v, sizeof(v), F.now);
	tcp_setsockopt(F.s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one), F.now);
	fx_advance(SEC(1));
	expect_out(TH_ACK);    /* the probe */
	icmp(3, 1, 0, F.iss);
	cr_assert_eq(F.s->err_soft, 0);
	fx_advance(SEC(1));
	cr_assert_eq(fx_conn(), NULL);
	cr_assert_eq(so_error(), ETIMEDOUT);
}

Test(tcp_icmp, error_outside_the_window_ignored)
{
	fx_established();
	cr_assert_eq(tcp_send(F.s, "abc", 3, 0, F.now), 3);
	expect_out(TH_ACK);
	icmp(3, 1, 0, F.iss + 1000);
	cr_assert_eq(F.s->err_soft, 0);
}

Test(tcp_icmp, rfc6069_unreachable_reverts_one_backoff)
{
	fx_established();
	cr_assert_eq(tcp_send(F.s, "abc", 3, 0, F.now), 3);
	expect_out(TH_ACK);
	cr_assert_eq(fx_next_timer(), SEC(1));
	expect_out(TH_ACK);              /* retransmission, RTO now 2 s */
	cr_assert_eq(F.s->rtt.backoff, 1);
	fx_advance(MSEC(500));
	icmp(3, 1, 0, F.iss + 1);
	cr_assert_eq(F.s->rtt.backoff, 0);
	/* the retransmission is due 1 s after the last one, not 2 s */
	fx_advance(MSEC(499));
	expect_none();
	fx_advance(MSEC(1));
	expect_out(TH_ACK);
}

Test(tcp_icmp, frag_needed_lowers_mss_and_resends)
{
	const struct tcp_seg *o;

	fx_established();
	cr_assert_eq(F.s->mss, 1460);
	cr_assert_eq(tcp_send(F.s, big, 2920, 0, F.now), 2920);
	cr_assert_eq(expect_out(TH_ACK)->len, 1460);
	cr_assert_eq(expect_out(TH_ACK)->len, 1460);
	icmp(3, 4, 1000, F.iss + 1);
	cr_assert_eq(F.s->mss, 960);
	/* everything in flight again, in 960-byte segments (tcp_simple_retransmit) */
	o = expect_out(TH_ACK);
	cr_assert_eq(o->seq, F.iss + 1);
	cr_assert_eq(o->len, 960);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->seq, F.iss + 961);
	cr_assert_eq(o->len, 960);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->len, 960);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->len, 2920 - 2880);   /* the tail (Nagle does not hold a resend) */
	expect_none();
	cr_assert_eq(fx_count(CNT_TCP_TIMEOUTS), 0);
	cr_assert_eq(F.s->cc.ssthresh, TCP_SSTHRESH_INF, "no congestion response");
}

Test(tcp_icmp, frag_needed_floor_552)
{
	fx_established();
	cr_assert_eq(tcp_send(F.s, big, 1460, 0, F.now), 1460);
	expect_out(TH_ACK);
	icmp(3, 4, 300, F.iss + 1);
	cr_assert_eq(F.s->mss, 512, "Linux ip_rt_min_pmtu 552");
}

Test(tcp_icmp, frag_needed_larger_mtu_ignored)
{
	fx_established();
	cr_assert_eq(tcp_send(F.s, big, 1460, 0, F.now), 1460);
	expect_out(TH_ACK);
	icmp(3, 4, 9000, F.iss + 1);
	cr_assert_eq(F.s->mss, 1460);
	expect_none();
}

Test(tcp_icmp, frag_needed_with_timestamps_counts_the_option)
{
	fx_established_opts(TCPOPT_F_MSS | TCPOPT_F_TS);
	cr_assert_eq(F.s->mss, 1448);
	cr_assert_eq(tcp_send(F.s, big, 1448, 0, F.now), 1448);
	expect_out(TH_ACK);
	icmp(3, 4, 1280, F.iss + 1);
	cr_assert_eq(F.s->mss, 1280 - 40 - 12);
	cr_assert_eq(expect_out(TH_ACK)->len, 1228);
}
