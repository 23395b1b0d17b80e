/* tcp.h - the TCP stack as the rest of the engine sees it (RFC 9293).
 *
 * The engine-facing entry points only; the socket-facing API (listen, connect,
 * send, recv, close ...) is in tcp/tcp_sock.h. The TCP core is pure: it is handed
 * segments, timers and `now`, and emits segments through ip_output(). */
#ifndef TSK_TCP_TCP_H
#define TSK_TCP_TCP_H

#include <stddef.h>
#include <stdint.h>

#include "base/stats.h"

struct eng;
struct ip_info;

/* Tunables, Linux defaults in TCP_PARAMS_DEFAULT. Times in nanoseconds. */
struct tcp_params {
	uint64_t time_wait;      /* TIME-WAIT (2MSL), Linux TCP_TIMEWAIT_LEN 60 s */
	uint64_t fin_wait2;      /* orphaned FIN-WAIT-2 timeout, tcp_fin_timeout 60 s */
	uint64_t rto_initial;    /* RFC 6298 (2.1) initial RTO, 1 s */
	uint64_t rto_min;        /* Linux TCP_RTO_MIN 200 ms */
	uint64_t rto_max;        /* Linux TCP_RTO_MAX 120 s */
	unsigned syn_retries;    /* tcp_syn_retries 6 */
	unsigned synack_retries; /* tcp_synack_retries 5 */
	unsigned retries2;       /* tcp_retries2 15 */
	unsigned orphan_retries; /* tcp_orphan_retries (0 means 8, as Linux) */
	uint64_t keep_idle;      /* tcp_keepalive_time 7200 s */
	uint64_t keep_intvl;     /* tcp_keepalive_intvl 75 s */
	unsigned keep_cnt;       /* tcp_keepalive_probes 9 */
	int syncookies;          /* tcp_syncookies: 1 = when the SYN queue overflows */
	unsigned max_syn_backlog;/* tcp_max_syn_backlog */
	unsigned somaxconn;      /* net.core.somaxconn 4096 */
	uint16_t port_lo, port_hi; /* ip_local_port_range 32768 60999 */
	char congestion[16];     /* tcp_congestion_control: "cubic" (Linux's default) or "reno" */
	int tw_reuse;            /* tcp_tw_reuse: 0 off, 1 on, 2 loopback only (Linux's default) */
	uint32_t wmem_default, wmem_max; /* tcp_wmem[1] 16 KiB, tcp_wmem[2] 4 MiB (SO_SNDBUF autotuning) */
	uint32_t rmem_default, rmem_max; /* tcp_rmem[1] 128 KiB, tcp_rmem[2] 6 MiB (SO_RCVBUF autotuning) */
};

#define TCP_PARAMS_DEFAULT {                                           \
	.time_wait = 60000000000ull, .fin_wait2 = 60000000000ull,      \
	.rto_initial = 1000000000ull, .rto_min = 200000000ull,         \
	.rto_max = 120000000000ull, .syn_retries = 6,                  \
	.synack_retries = 5, .retries2 = 15, .orphan_retries = 0,      \
	.keep_idle = 7200000000000ull, .keep_intvl = 75000000000ull,   \
	.keep_cnt = 9, .syncookies = 1, .max_syn_backlog = 1024,       \
	.somaxconn = 4096, .port_lo = 32768, .port_hi = 60999, .congestion = "cubic",        \
	.tw_reuse = 2, .wmem_default = 16384, .wmem_max = 4194304, \
	.rmem_default = 131072, .rmem_max = 6291456 }

struct tcp_stack;
struct tcp_stack *tcp_new(struct eng *eng);
void tcp_free(struct tcp_stack *tcp);

/* A TCP segment from IPv4 (seg points at the TCP header). */
enum drop_reason tcp_input(struct eng *eng, const struct ip_info *ip,
			   const uint8_t *seg, size_t len, uint64_t now);

/* An ICMP error quoting one of our TCP segments: `inner` is the quoted IP header
 * info, `l4` the first bytes of the quoted TCP header (at least 8). type/code are
 * ICMP's; mtu is the next-hop MTU of a "fragmentation needed" (else 0). */
void tcp_icmp_error(struct eng *eng, const struct ip_info *inner, const uint8_t *l4,
		    size_t l4len, uint8_t type, uint8_t code, uint16_t mtu, uint64_t now);

/* Run due timers. Returns the next deadline, TIME_NEVER if none. */
uint64_t tcp_poll(struct eng *eng, uint64_t now);

#endif
