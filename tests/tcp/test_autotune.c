/* test_autotune.c - receive-buffer autotuning (Linux tcp_rcv_space_adjust, tcp_rmem) and what an idle connection costs (RFC 7323 2 for the window it offers). */
#include <criterion/criterion.h>
#include <malloc.h>
#include <string.h>

#include "tcph.h"

TestSuite(tcp_autotune, .init = fx_setup, .fini = fx_teardown);

#define MSS 1460u
static uint8_t big[64 * 1024];
static uint8_t sink[1 << 20];

/* An SRTT of 10 ms from one acknowledged byte. */
static void conn_with_rtt(void)
{
	fx_established_opts(TCPOPT_F_MSS | TCPOPT_F_WS);
	tcp_send(F.s, "x", 1, 0, F.now);
	expect_out(TH_ACK);
	fx_advance(MSEC(10));
	seg(.ack = F.iss + 2);
	F.p_ack = F.iss + 2;
	cr_assert_eq(tcp_rtt_srtt(&F.s->rtt), MSEC(10));
	while (pop_out())
		;
}

/* One RTT of a bulk sender: `bytes` (as far as the offered window allows), the
 * application reading everything as it comes. Returns the window offered last. */
static uint32_t one_rtt(uint32_t bytes)
{
	const struct tcp_seg *o;
	uint32_t win = 0;

	while (bytes) {
		uint32_t room = F.s->rcv_adv - F.p_seq;
		uint32_t len = bytes < MSS ? bytes : MSS;

		if (room < len)
			break;
		cr_assert_eq(seg(.data = big, .len = len), DROP_NONE);
		F.p_seq += len;
		bytes -= len;
		while (tcp_recv(F.s, sink, sizeof(sink), 0, F.now) > 0)
			;
	}
	fx_advance(MSEC(10));
	while ((o = pop_out()))
		win = (uint32_t)o->win << F.s->rcv_ws;
	return win;
}

Test(tcp_autotune, starts_at_tcp_rmem_default)
{
	int v = 0;
	socklen_t l = sizeof(v);

	fx_established();
	cr_assert_eq(tcp_getsockopt(F.s, SOL_SOCKET, SO_RCVBUF, &v, &l), 0);
	cr_assert_eq(v, 131072, "Linux tcp_rmem[1]");
}

Test(tcp_autotune, buffer_grows_with_what_the_application_reads)
{
	uint32_t rate = 20 * MSS, win = 0;

	conn_with_rtt();
	cr_assert_eq(F.s->rcvbuf, 131072);
	for (int r = 0; r < 12; r++) {
		win = one_rtt(rate);
		rate *= 2;
	}
	cr_assert_gt(F.s->rcvbuf, 1u << 20, "rcvbuf %u after a fast reader", F.s->rcvbuf);
	cr_assert_leq(F.s->rcvbuf, 6291456u, "tcp_rmem[2] is the ceiling");
	cr_assert_gt(win, 131072u, "the offered window follows: %u", win);
	cr_assert_gt(fx_count(CNT_TCP_RCVBUF_GROWS), 0);
	/* and it never passes the ceiling however long it goes on */
	for (int r = 0; r < 8; r++)
		one_rtt(8u << 20);
	cr_assert_eq(F.s->rcvbuf, 6291456u);
}

Test(tcp_autotune, slow_reader_keeps_the_default)
{
	conn_with_rtt();
	for (int r = 0; r < 20; r++)
		one_rtt(4 * MSS);    /* 4 segments an RTT: less than the initial space */
	cr_assert_eq(F.s->rcvbuf, 131072);
}

Test(tcp_autotune, so_rcvbuf_turns_it_off)
{
	int v = 65536;
	uint32_t rate = 20 * MSS;

	conn_with_rtt();
	cr_assert_eq(tcp_setsockopt(F.s, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v), F.now), 0);
	for (int r = 0; r < 10; r++) {
		one_rtt(rate);
		rate *= 2;
	}
	cr_assert_eq(F.s->rcvbuf, 131072u, "Linux SOCK_RCVBUF_LOCK: as set (doubled)");
}

/* Engine memory of 1000 idle established connections (accepted, nothing
 * exchanged after the handshake): heap growth over the count, under 16 KiB
 * each (issue 6: rings grow on demand). */
Test(tcp_autotune, idle_connection_costs_under_16k)
{
	enum { N = 1000 };
	struct tcp_sock **acc = calloc(N, sizeof(*acc));
	struct mallinfo2 before, after;
	size_t per;

	fx_listen();
	before = mallinfo2();
	for (int i = 0; i < N; i++) {
		uint16_t port = (uint16_t)(20000 + i);

		seg(.flags = TH_SYN, .seq = PISS, .ack = 0, .sport = port, .dport = LPORT,
		    .opts = TCPOPT_F_MSS | TCPOPT_F_SACKOK | TCPOPT_F_WS, .ws = 7);
		const struct tcp_seg *o = expect_out(TH_SYN | TH_ACK);
		cr_assert_eq(seg(.seq = PISS + 1, .ack = o->seq + 1, .sport = port, .dport = LPORT),
			     DROP_NONE);
		cr_assert_eq(tcp_accept(F.lis, &acc[i]), 0, "connection %d", i);
	}
	after = mallinfo2();
	cr_assert_eq(F.eng->tcp->nsock, N + 1u);
	per = (after.uordblks - before.uordblks) / N;
	cr_log_info("engine memory per idle connection: %zu bytes (struct tcp_sock %zu)",
		    per, sizeof(struct tcp_sock));
	cr_assert_lt(per, 16384u, "%zu bytes per idle connection", per);
	cr_assert_lt(sizeof(struct tcp_sock), 4096u);
	for (int i = 0; i < N; i++) {
		cr_assert_null(acc[i]->snd.buf, "no send ring before the first write");
		cr_assert_null(acc[i]->rcv.buf, "no receive ring before the first byte");
	}
	free(acc);
}
