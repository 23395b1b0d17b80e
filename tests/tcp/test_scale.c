/* test_scale.c - 100 000 SYN-RECEIVED and 100 000 TIME-WAIT records: memory per record under Linux's, bind checks by port hash, fast (RFC 4987 3; Linux request_sock, tcp_timewait_sock, inet_bind_bucket). */
#include <criterion/criterion.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <time.h>

#include "base/bytes.h"
#include "eth/arp.h"
#include "link/link.h"
#include "tcph.h"

#define N 100000
/* the whole test in under 5 s; sanitizers slow every allocation down ~3x */
#ifdef __SANITIZE_ADDRESS__
#define TIME_LIMIT 15.0
#else
#define TIME_LIMIT 5.0
#endif
#define PEER2_ADDR 0x0a4d0003u /* 10.77.0.3: a second peer, so N 4-tuples fit */

static const uint8_t mac2[6] = { 0x02, 0, 0, 0, 0, 3 };

static void big_tune(struct eng_config *cfg)
{
	cfg->tcp.somaxconn = 2 * N;
	cfg->tcp.max_syn_backlog = 2 * N;
}

static void setup(void)
{
	fx_setup_cfg(big_tune);
	arp_insert(F.eng, htonl(PEER2_ADDR), mac2, F.now);
}

static double secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Bytes per record: what the allocator says (glibc mallinfo2) when it can
 * tell, else the records' sizes with the allocator's 16-byte rounding and
 * header, a timer-heap slot (doubled: the array grows by doubling) and the
 * 4-tuple hash table's share. */
static double per_record(size_t before, size_t after, size_t recsz, unsigned n)
{
	struct tcp_stack *st = F.eng->tcp;
	double est = (double)(((recsz + 8 + 15) / 16) * 16) + 2.0 * sizeof(void *) +
		     (double)(st->ehash_mask + 1) * sizeof(void *) / n;

	if (after > before) {
		double m = (double)(after - before) / n;
		cr_log_info("measured %.1f bytes per record (malloc), estimated %.1f", m, est);
		return m > est ? m : est;
	}
	cr_log_info("estimated %.1f bytes per record (allocator not measurable here)", est);
	return est;
}

static void flood_syn(unsigned i)
{
	uint32_t saddr = i & 1 ? PEER2_ADDR : PEER_ADDR;
	uint16_t sport = (uint16_t)(1024 + i / 2);

	cr_assert_eq(seg_in(&(struct segspec){ .flags = TH_SYN, .seq = PISS + i, .win = 65535,
			     .sport = sport, .dport = LPORT, .saddr = saddr,
			     .opts = TCPOPT_F_MSS | TCPOPT_F_SACKOK | TCPOPT_F_WS | TCPOPT_F_TS,
			     .ws = 7, .tsval = 1 }), DROP_NONE);
	if (i % 1024 == 1023)
		memlink_clear(F.link);
}

Test(tcp_scale, syn_flood_100k_syn_received_records, .init = setup, .fini = fx_teardown)
{
	double t0 = secs(), per;
	size_t m0, m1;

	F.lis = tcp_sock_new(F.eng);
	cr_assert_eq(tcp_bind(F.lis, 0, LPORT), 0);
	cr_assert_eq(tcp_listen(F.lis, 2 * N), 0);
	m0 = mallinfo2().uordblks;
	for (unsigned i = 0; i < N; i++)
		flood_syn(i);
	memlink_clear(F.link);
	m1 = mallinfo2().uordblks;
	cr_assert_eq(F.eng->tcp->nreq, N);
	cr_assert_eq(F.lis->synq_len, N);
	cr_assert_eq(fx_count(CNT_TCP_SYNCOOKIES_SENT), 0, "the backlog holds them all");
	per = per_record(m0, m1, sizeof(struct tcp_req), N);
	cr_assert_lt(per, 320.0, "Linux's request_sock is about 320 bytes; ours %.1f", per);
	/* they all time out after the SYN-ACK retries (1+2+4+8+16+32 s) */
	fx_advance(SEC(63));
	memlink_clear(F.link);
	cr_assert_eq(F.eng->tcp->nreq, 0);
	cr_assert_eq(F.lis->synq_len, 0);
	cr_assert_lt(secs() - t0, TIME_LIMIT, "took %.2f s", secs() - t0);
	tcp_close(F.lis, F.now);
}

Test(tcp_scale, close_100k_connections_time_wait_records, .init = setup, .fini = fx_teardown)
{
	double t0 = secs(), per;
	size_t m0, m1;
	struct tcp_sock *s;

	F.lis = tcp_sock_new(F.eng);
	cr_assert_eq(tcp_bind(F.lis, 0, LPORT), 0);
	cr_assert_eq(tcp_listen(F.lis, 4096), 0);
	m0 = mallinfo2().uordblks;
	for (unsigned i = 0; i < N; i++) {
		uint32_t saddr = i & 1 ? PEER2_ADDR : PEER_ADDR;
		uint16_t sport = (uint16_t)(1024 + i / 2);
		uint32_t iss;
		struct memlink_frame *f;

		cr_assert_eq(seg_in(&(struct segspec){ .flags = TH_SYN, .seq = PISS, .win = 65535,
				     .sport = sport, .dport = LPORT, .saddr = saddr }), DROP_NONE);
		f = memlink_pop(F.link);
		cr_assert(f);
		iss = get_be32(f->data + 14 + 20 + 4);
		free(f);
		cr_assert_eq(seg_in(&(struct segspec){ .flags = TH_ACK, .seq = PISS + 1,
				     .ack = iss + 1, .win = 65535, .sport = sport, .dport = LPORT,
				     .saddr = saddr }), DROP_NONE);
		cr_assert_eq(tcp_accept(F.lis, &s), 0);
		tcp_close(s, F.now);   /* FIN: we close first, so TIME-WAIT is ours */
		cr_assert_eq(seg_in(&(struct segspec){ .flags = TH_FIN | TH_ACK, .seq = PISS + 1,
				     .ack = iss + 2, .win = 65535, .sport = sport, .dport = LPORT,
				     .saddr = saddr }), DROP_NONE);
		memlink_clear(F.link);
	}
	m1 = mallinfo2().uordblks;
	cr_assert_eq(F.eng->tcp->ntw, N);
	cr_assert_eq(F.eng->tcp->nsock, 1, "only the listener is a full socket");
	per = per_record(m0, m1, sizeof(struct tcp_tw), N);
	cr_assert_lt(per, 256.0, "Linux's tcp_timewait_sock is about 256 bytes; ours %.1f", per);

	/* bind and connect checks go by the port: fast with 100 000 records */
	{
		double b0 = secs();
		for (unsigned i = 0; i < 2000; i++) {
			struct tcp_sock *c = tcp_sock_new(F.eng);
			cr_assert_eq(tcp_bind(c, 0, LPORT), -EADDRINUSE);
			cr_assert_eq(tcp_connect(c, htonl(PEER_ADDR), 9000 + i % 50, F.now), -EINPROGRESS);
			tcp_close(c, F.now);
		}
		memlink_clear(F.link);
		cr_assert_lt(secs() - b0, TIME_LIMIT / 5, "2000 binds and connects took %.2f s", secs() - b0);
	}
	fx_advance(SEC(60));
	cr_assert_eq(F.eng->tcp->ntw, 0);
	cr_assert_lt(secs() - t0, TIME_LIMIT, "took %.2f s", secs() - t0);
	tcp_close(F.lis, F.now);
}

Test(tcp_scale, time_wait_blocks_bind_without_reuseaddr, .init = setup, .fini = fx_teardown)
{
	struct tcp_sock *c;
	int one = 1;

	fx_fin_wait2();
	/* SO_REUSEADDR on the socket that leaves the record: Linux lets a
	 * SO_REUSEADDR bind pass only when both set it (tw_reuse) */
	tcp_setsockopt(F.s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one), F.now);
	cr_assert_eq(seg(.flags = TH_FIN | TH_ACK), DROP_NONE);
	F.p_seq++;
	expect_out(TH_ACK);
	cr_assert_eq(fx_state(), TCPS_TIME_WAIT);
	tcp_close(F.s, F.now);   /* only the TIME-WAIT record holds the port now */
	c = tcp_sock_new(F.eng);
	cr_assert_eq(tcp_bind(c, 0, F.lport), -EADDRINUSE);
	tcp_setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one), F.now);
	cr_assert_eq(tcp_bind(c, 0, F.lport), 0);
	tcp_close(c, F.now);
	fx_advance(SEC(60));
	c = tcp_sock_new(F.eng);
	cr_assert_eq(tcp_bind(c, 0, F.lport), 0, "the record is gone from the bind hash");
	tcp_close(c, F.now);
}
