/* tcph.h - the TCP test harness: an engine on a memory link, a fake clock, a segment builder,
 * an expect for transmitted segments, and fixtures that put a connection in each RFC 9293 state.
 *
 * The peer is 10.77.0.1:40000 (PEER, PPORT); we are 10.77.0.2 (US). Segments from
 * the peer default to seq = F.p_seq, ack = F.p_ack, flags ACK, window 65535:
 *   seg(.flags = TH_ACK | TH_PSH, .data = "abc", .len = 3);
 * and return the drop reason the engine counted (DROP_NONE when consumed).
 * expect_out(flags) pops the next segment we sent and checks its flags. */
#ifndef TSK_TESTS_HARNESS_TCPH_H
#define TSK_TESTS_HARNESS_TCPH_H

#pragma GCC diagnostic ignored "-Woverride-init"

#include <stdbool.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "base/stats.h"
#include "base/time.h"
#include "eng.h"
#include "ip/ip.h"
#include "tcp/tcb.h"
#include "tcp/tcp_sock.h"
#include "tcp/wire.h"

#define US_ADDR   0x0a4d0002u /* host order: 10.77.0.2 */
#define PEER_ADDR 0x0a4d0001u /* 10.77.0.1 */
#define PPORT 40000
#define LPORT 8080
#define PISS 1000000u         /* the peer's ISN */

struct segspec {
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t win;
	uint16_t sport, dport;
	unsigned opts;            /* TCPOPT_F_* */
	uint16_t mss;
	uint8_t ws;
	uint32_t tsval, tsecr;
	uint8_t nsack;
	struct tcp_sack_blk sack[TCP_MAX_SACK];
	const void *data;
	uint32_t len;
	int bad_csum;
	uint32_t saddr;           /* the peer's address, host order (0: PEER_ADDR) */
};

struct fx {
	struct eng *eng;
	struct link *link;
	uint64_t now;
	uint16_t lport;           /* our port of the connection under test */
	uint16_t rport;
	uint32_t iss;             /* our ISN as seen on the wire */
	uint32_t p_seq, p_ack;    /* the peer's next sequence and acknowledgment */
	struct tcp_sock *s;       /* the user's socket of the connection */
	struct tcp_sock *lis;     /* the listener, when there is one */
	unsigned events;          /* events seen by the callback (or-ed) */
	unsigned ncb;             /* callback calls */
	struct tcp_seg out;       /* last segment popped */
	struct pkt_off out_off;   /* its offloads (checksum, TSO) */
	uint8_t out_data[65536];
};
extern struct fx F;
/* Features of the memory link of the next fx_setup (LINK_F_*, 0 by default). */
extern uint32_t fx_link_features;

void fx_setup(void);
void fx_teardown(void);
void fx_setup_cfg(void (*tune)(struct eng_config *cfg));

enum drop_reason seg_in(const struct segspec *sp);
#define seg(...) seg_in(&(struct segspec){ .flags = TH_ACK, .seq = F.p_seq, .ack = F.p_ack, \
					    .win = 65535, .sport = PPORT, .dport = F.lport, __VA_ARGS__ })

/* Pop the next segment we sent: NULL if none. */
const struct tcp_seg *pop_out(void);
/* Pop and require a segment with exactly these flags (PSH ignored unless asked). */
const struct tcp_seg *expect_out_at(uint8_t flags, const char *file, int line);
#define expect_out(flags) expect_out_at((flags), __FILE__, __LINE__)
void expect_none_at(const char *file, int line);
#define expect_none() expect_none_at(__FILE__, __LINE__)
size_t out_count(void);

/* Advance the fake clock by dt, firing every timer at its own deadline. */
void fx_advance(uint64_t dt);
/* Advance to the next timer deadline (fires it). Returns the time advanced. */
uint64_t fx_next_timer(void);

/* State of the connection (F.lport <-> PEER:F.rport): TCPS_*, TCPS_CLOSED if none. */
int fx_state(void);
/* The record itself (kind TCPK_SOCK / REQ / TW), NULL if none. */
struct tcp_conn *fx_conn(void);
uint64_t fx_drops(enum drop_reason r);
uint64_t fx_count(enum counter c);

/* Fixtures: each leaves the connection in the named state with no segment
 * pending on the link. Peer without options unless said. */
void fx_listen(void);
void fx_syn_rcvd(void);            /* passive: a request record */
void fx_established_passive(void); /* accepted: F.s */
void fx_syn_sent(void);
void fx_established(void);         /* active open */
void fx_established_opts(unsigned opts); /* with the peer's SYN-ACK carrying opts */
void fx_fin_wait1(void);           /* shutdown(SHUT_WR) */
void fx_fin_wait2(void);
void fx_close_wait(void);
void fx_last_ack(void);
void fx_closing(void);
void fx_time_wait(void);

#endif
