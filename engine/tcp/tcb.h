/* tcb.h - the TCP control block and the engine-internal TCP interfaces (RFC 9293 3.3.1, 3.10).
 *
 * Three kinds of connection records share one header (struct tcp_conn) and one
 * 4-tuple hash table, as Linux's ehash holds full sockets, request socks and
 * TIME-WAIT buckets: a full control block (struct tcp_sock), a small record for a
 * passive open in SYN-RECEIVED (struct tcp_req), and a small TIME-WAIT record
 * (struct tcp_tw). All timers live in one heap (base/timer.h). */
#ifndef TSK_TCP_TCB_H
#define TSK_TCP_TCB_H

#include <stdbool.h>
#include <stdint.h>

#include "base/ring.h"
#include "base/time.h"
#include "base/seq.h"
#include "base/timer.h"
#include "tcp/cc.h"
#include "tcp/ofo.h"
#include "tcp/ports.h"
#include "tcp/rtt.h"
#include "tcp/sack.h"
#include "tcp/tcp.h"
#include "tcp/tcp_sock.h"
#include "tcp/wire.h"

struct eng;
struct ip_info;

/* RFC 9293 3.3.2 states, as bit flags so a check reads like the RFC. */
enum tcp_state {
	TCPS_CLOSED = 1 << 0,
	TCPS_LISTEN = 1 << 1,
	TCPS_SYN_SENT = 1 << 2,
	TCPS_SYN_RECEIVED = 1 << 3,
	TCPS_ESTABLISHED = 1 << 4,
	TCPS_FIN_WAIT_1 = 1 << 5,
	TCPS_FIN_WAIT_2 = 1 << 6,
	TCPS_CLOSE_WAIT = 1 << 7,
	TCPS_CLOSING = 1 << 8,
	TCPS_LAST_ACK = 1 << 9,
	TCPS_TIME_WAIT = 1 << 10,
};
#define TCPS_SYNCHRONIZED (TCPS_SYN_RECEIVED | TCPS_ESTABLISHED | TCPS_FIN_WAIT_1 |  \
			   TCPS_FIN_WAIT_2 | TCPS_CLOSE_WAIT | TCPS_CLOSING |          \
			   TCPS_LAST_ACK | TCPS_TIME_WAIT)
/* states in which our FIN has been sent */
#define TCPS_FIN_SENT (TCPS_FIN_WAIT_1 | TCPS_FIN_WAIT_2 | TCPS_CLOSING | TCPS_LAST_ACK | \
		       TCPS_TIME_WAIT)
/* states that still accept data from the peer (RFC 9293 3.10.7.4 seventh) */
#define TCPS_CAN_RECV (TCPS_ESTABLISHED | TCPS_FIN_WAIT_1 | TCPS_FIN_WAIT_2)

const char *tcp_state_name(int state);    /* "ESTABLISHED" (RFC spelling) */
const char *tcp_state_ss_name(int state); /* "ESTAB" (ss spelling) */

/* Named timers (FreeBSD tcp_timer.c), one handler each in timer.c. */
enum tcp_timer_id {
	TCPT_REXMT,     /* retransmission (also SYN, FIN) */
	TCPT_PERSIST,   /* zero-window probes */
	TCPT_KEEP,      /* keepalive */
	TCPT_DELACK,    /* delayed ACK */
	TCPT_FIN_WAIT2, /* orphaned FIN-WAIT-2 */
	TCPT_LINGER,    /* SO_LINGER: how long close() waits for the FIN's ACK */
	TCPT_CORK,      /* TCP_CORK / MSG_MORE: the 200 ms ceiling on a held partial segment */
	TCPT__MAX,
	TCPT_SYNACK = TCPT__MAX, /* request records */
	TCPT_2MSL,               /* TIME-WAIT records */
};

enum tcp_conn_kind { TCPK_SOCK, TCPK_REQ, TCPK_TW };

struct tcp_tnode {
	struct timer_node node;
	uint8_t kind, which;
};

/* What every connection record starts with: the 4-tuple and the hash chain. */
struct tcp_conn {
	struct tcp_conn *hnext;
	uint32_t laddr, raddr;   /* be32 */
	uint16_t lport, rport;   /* host order */
	uint16_t state;          /* TCPS_* */
	uint8_t kind;            /* TCPK_* */
	uint8_t hashed;
};

/* SYN-RECEIVED record of a passive open (Linux request_sock, ~300 bytes there). */
struct tcp_req {
	struct tcp_conn c;
	struct tcp_tnode t;
	struct tcp_sock *listener;
	struct tcp_req *lnext, **lpprev; /* the listener's SYN queue */
	uint32_t iss, irs;
	uint32_t ts_recent, ts_off;
	uint16_t mss;            /* peer's MSS option (536 if none) */
	uint16_t peer_win;
	uint8_t snd_ws, rcv_ws;  /* shift counts; valid when ws_ok */
	uint8_t ws_ok : 1, sack_ok : 1, ts_ok : 1, acked : 1;
	uint8_t retries;
};

/* TIME-WAIT record (Linux tcp_timewait_sock, ~250 bytes there). */
struct tcp_tw {
	struct tcp_conn c;
	struct tcp_tnode t;
	struct tcp_tw *bnext, **bpprev; /* the bind hash (bind conflicts, Linux tw_bind_node) */
	uint32_t snd_nxt, rcv_nxt;
	uint32_t ts_recent, ts_off;
	uint16_t rcv_win;        /* window to advertise, already scaled down */
	uint8_t ts_ok;
	uint8_t reuse;           /* Linux tw_reuse: the socket had SO_REUSEADDR */
	uint32_t ts_recent_stamp; /* seconds (engine clock) TS.Recent was taken, 0 = never */
};

/* tcp_sock.flags */
enum {
	TF_NODELAY = 1 << 0,
	TF_CORK = 1 << 1,
	TF_KEEPALIVE = 1 << 2,
	TF_REUSEADDR = 1 << 3,
	TF_ORPHAN = 1 << 4,      /* tcp_close() called: no user behind it */
	TF_BOUND = 1 << 5,
	TF_ACKNOW = 1 << 6,      /* send an ACK at the end of this input */
	TF_FIN_QUEUED = 1 << 7,  /* our FIN follows the send queue */
	TF_DONE = 1 << 8,        /* Linux SOCK_DONE: the peer closed its side or we reset */
	TF_WAS_CONN = 1 << 9,    /* reached a synchronized state once */
	TF_PASSIVE = 1 << 10,    /* created by a listener (SYN-RECEIVED goes back to LISTEN) */
	TF_MORE = 1 << 11,       /* MSG_MORE on the last send */
	TF_REUSEPORT = 1 << 12,
	TF_LINGER = 1 << 13,
	TF_PINGPONG = 1 << 14,   /* Linux pingpong mode: interactive, ACKs ride on replies */
	TF_RTT_TIMING = 1 << 15, /* timing one segment (no timestamps) */
	TF_SYN_REXMIT = 1 << 16, /* SYN was retransmitted (RFC 6298 (5.7)) */
	TF_WAKE = 1 << 17,       /* on the pending-callbacks list */
	TF_CORK_PUSH = 1 << 18,  /* the cork ceiling passed: send the held partial segment */
	TF_ACK_PUSHED = 1 << 19, /* Linux ICSK_ACK_PUSHED: small segments seen, ACK sooner */
	/* the socket-level state of connect() (Linux struct socket's SS_CONNECTING,
	 * SS_CONNECTED), apart from the TCP state: a second connect() answers from it */
	TF_SS_CONNECTING = 1 << 20,
	TF_SS_CONNECTED = 1 << 21,
	TF_BIND_ADDR = 1 << 22,  /* Linux SOCK_BINDADDR_LOCK: bind() named the address */
	TF_BIND_PORT = 1 << 23,  /* Linux SOCK_BINDPORT_LOCK: bind() named the port */
	TF_SNDBUF_LOCK = 1 << 24, /* Linux SOCK_SNDBUF_LOCK: SO_SNDBUF set, no autotuning */
	TF_NOSPACE = 1 << 25,    /* Linux SOCK_NOSPACE: a write found the send buffer full */
	TF_TLP_ARMED = 1 << 26,  /* the REXMT timer is the tail loss probe's PTO (RFC 8985 7.2) */
	TF_RCVBUF_LOCK = 1 << 27, /* Linux SOCK_RCVBUF_LOCK: SO_RCVBUF set, no autotuning */
};
/* tcp_sock.shut, as Linux sk_shutdown */
enum { SHUT_F_RCV = 1, SHUT_F_SEND = 2 };

struct tcp_sock {
	struct tcp_conn c;
	struct eng *eng;
	struct tcp_sock *all_next, *all_prev; /* every full socket, for ss */
	struct tcp_sock *bnext, **bpprev;     /* bound sockets of this port (bind hash) */
	struct tcp_tnode t[TCPT__MAX];
	unsigned flags;
	uint8_t shut;
	int err;                 /* pending SO_ERROR (positive errno) */
	int err_soft;            /* Linux sk_err_soft: ICMP seen, reported on timeout */

	/* RFC 9293 3.3.1 send sequence variables */
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2, max_snd_wnd;
	/* receive sequence variables; rcv_adv is the right edge we advertised */
	uint32_t irs, rcv_nxt, rcv_wnd, rcv_adv, rcv_wup;
	uint8_t snd_ws, rcv_ws;  /* window shift counts (RFC 7323 2) */
	uint8_t ws_ok : 1, sack_ok : 1, ts_ok : 1;
	uint16_t mss;            /* effective send MSS (payload per segment) */
	uint16_t peer_mss;       /* the peer's MSS option */
	uint16_t user_mss;       /* TCP_MAXSEG, 0 none */
	uint16_t rcv_mss;        /* estimate of the peer's segment size (delayed ACK) */
	uint16_t pmtu;           /* path MTU (RFC 1191), 0 = the link's MTU */
	uint32_t ts_recent, ts_off; /* RFC 7323 TS.Recent, our TSval offset */
	uint64_t ts_recent_stamp;

	struct ring snd;         /* bytes from snd_una (SYN excluded) */
	struct ring rcv;         /* in-order bytes not yet read */
	struct tcp_ofo ofo;
	uint32_t fin_seq;        /* sequence number of our FIN once queued */
	bool ofo_fin;            /* the peer's FIN arrived out of order */
	uint32_t ofo_fin_seq;

	struct tcp_rtt rtt;
	struct tcp_cc cc;
	struct tcp_sack_board sack; /* what the peer SACKed above snd_una (RFC 6675) */
	uint32_t high_rxt;       /* RFC 6675 HighRxt: highest byte retransmitted in recovery */
	uint32_t tlp_high_seq;   /* RFC 8985 TLPRxtOut/TLPHighRxt: snd_max at the probe, 0 none */
	/* receive-buffer autotuning (Linux tcp_rcv_space_adjust, tcp_rcv_rtt_measure) */
	uint32_t rcvq_space;     /* bytes the application read in the last measured RTT */
	uint32_t rcvq_seq;       /* bytes read in total when that measurement began */
	uint64_t rcvq_time;
	uint32_t copied;         /* bytes the application has read (Linux copied_seq - irs) */
	uint32_t rcv_rtt_seq;    /* receiver RTT: rcv_nxt + rcv_wnd when the sample began */
	uint64_t rcv_rtt_time, rcv_rtt; /* ns; rcv_rtt 0 = no estimate */
	const struct tcp_cc_ops *cc_ops; /* TCP_CONGESTION, from the engine's default */
	uint32_t rtt_seq;        /* timed segment (TF_RTT_TIMING) */
	uint64_t rtt_start;
	uint64_t retrans_stamp;  /* first transmission of the oldest retransmitted segment */
	unsigned retries;        /* consecutive RTO expiries */
	unsigned probes;         /* zero-window or keepalive probes unanswered */
	uint64_t last_rcv, last_snd;
	uint32_t ca_flight_at_idle;

	unsigned quickacks;      /* ACKs to send at once (Linux icsk_ack.quick) */
	unsigned unacked_segs;   /* full-sized segments received since our last ACK */
	uint64_t ato;            /* delayed ACK timeout (Linux icsk_ack.ato), 0 before data */
	uint64_t last_data_rcv;  /* Linux icsk_ack.lrcvtime */
	uint64_t last_oow_ack;   /* RFC 5961 / Linux tcp_oow_rate_limited */

	uint64_t keep_idle, keep_intvl;
	unsigned keep_cnt;
	int64_t linger2;         /* TCP_LINGER2: 0 default, < 0 reset at once */
	uint64_t linger;         /* SO_LINGER l_linger in ns (TF_LINGER) */
	void (*linger_done)(void *arg); /* tcp_close_linger() waiting for the FIN's ACK */
	void *linger_arg;
	uint32_t sndbuf, rcvbuf; /* SO_SNDBUF / SO_RCVBUF as Linux reports them */
	uint8_t syn_retries;     /* TCP_SYNCNT, 0 = the engine's tcp_syn_retries */
	uint32_t user_timeout;   /* TCP_USER_TIMEOUT in ms (RFC 5482), 0 = off */
	uint64_t probe0_stamp;   /* Linux icsk_probes_tstamp: first unanswered window probe */

	/* listeners */
	int backlog;
	unsigned synq_len, acceptq_len;
	struct tcp_req *synq;
	struct tcp_sock *acceptq_head, *acceptq_tail, *aq_next;
	struct tcp_sock *parent; /* listener while on its accept queue */
	struct tcp_sock *lis_next;
	uint64_t synq_overflow_stamp; /* last SYN cookie sent (Linux tcp_synq_overflow) */
	/* TCP_DEFER_ACCEPT as Linux keeps it (rskq_defer_accept): a count of SYN-ACK
	 * retransmissions during which a bare final ACK is dropped, 0 = off */
	uint8_t defer_accept;

	tcp_event_fn cb;
	void *cb_arg;
	tcp_rx_fn rx_fn;         /* tcp_sock_set_rx: a reader that takes data itself */
	void *rx_arg;
	struct tcp_sock *wake_next;
};

/* Linux's bind hash (inet_bind_bucket) in its simplest form: one head per
 * local port, so bind/connect conflict checks never scan every socket. */
struct tcp_bind_head {
	struct tcp_sock *socks;
	struct tcp_tw *tws;
};

struct tcp_stack {
	struct eng *eng;
	struct tcp_bind_head *bhash; /* 65536 heads, by local port */
	struct tcp_conn **ehash; /* 4-tuple -> sock, req, tw */
	uint32_t ehash_mask;
	struct tcp_sock *listeners; /* linked through lis_next */
	struct tcp_sock *all;    /* every full socket */
	struct timer_heap timers;
	struct tcp_ports ports;
	uint64_t challenge_stamp;   /* RFC 5961 7: global challenge ACK budget */
	unsigned challenge_count;
	struct tcp_sock *wake_head; /* sockets whose callback is due */
	unsigned nreq, ntw, nsock;
	void (*trace)(struct eng *eng, const struct tcp_conn *c, int from, int to, void *arg);
	void *trace_arg;
};

static inline bool tcp_in_state(const struct tcp_sock *tp, int states)
{
	return (tp->c.state & states) != 0;
}

/* Receive memory, as Linux keeps it: the window is offered from SO_RCVBUF, but
 * the receive ring may hold a quarter more (plus 64 KiB), the headroom Linux has
 * between the window it offers and its soft receive memory (tcp_adv_win_scale).
 * The never-shrink rule rounds the offered window up to the scale unit at every
 * ACK while the buffer fills; that creep (at most (rcvbuf / mss) * 2^ws bytes,
 * under a quarter of the buffer for an MSS of 512 or more) lands in the headroom,
 * so every byte inside an offered window is taken. */
static inline uint32_t tcp_rcv_limit(uint32_t rcvbuf)
{
	uint64_t l = (uint64_t)rcvbuf + rcvbuf / 4 + 65536;

	return l > UINT32_MAX ? UINT32_MAX : (uint32_t)l;
}
/* Space to offer: SO_RCVBUF less what is queued, in order or not. */
static inline uint32_t tcp_rcv_space(const struct tcp_sock *tp)
{
	uint32_t used = ring_len(&tp->rcv) + tcp_ofo_bytes(&tp->ofo);

	return tp->rcvbuf > used ? tp->rcvbuf - used : 0;
}
/* state.c: the one door for state changes (logs, counts, traces). */
void tcp_set_state(struct eng *eng, struct tcp_conn *c, int state);
/* Linux tcp_sndbuf_expand(): grow SO_SNDBUF with the congestion window (not when
 * set by the user); the send queue's limit follows (tcp_sndbuf_payload). */
void tcp_sndbuf_expand(struct tcp_sock *tp);
uint32_t tcp_sndbuf_payload(uint32_t sndbuf);
/* A hook called on every transition (tapsock trace); NULL removes it. */
void tcp_set_trace(struct eng *eng,
		   void (*fn)(struct eng *, const struct tcp_conn *, int, int, void *), void *arg);

/* table.c */
uint32_t tcp_hash(const struct tcp_stack *st, uint32_t laddr, uint16_t lport, uint32_t raddr,
		  uint16_t rport);
struct tcp_conn *tcp_lookup(struct tcp_stack *st, uint32_t laddr, uint16_t lport,
			    uint32_t raddr, uint16_t rport);
void tcp_hash_add(struct tcp_stack *st, struct tcp_conn *c);
void tcp_hash_del(struct tcp_stack *st, struct tcp_conn *c);
/* The bind hash: a socket joins it once it has a local port (TF_BOUND). */
void tcp_bind_hash_add(struct tcp_stack *st, struct tcp_sock *tp);
void tcp_bind_hash_del(struct tcp_sock *tp);
void tcp_bind_hash_add_tw(struct tcp_stack *st, struct tcp_tw *tw);
struct tcp_sock *tcp_lookup_listener(struct tcp_stack *st, uint32_t laddr, uint16_t lport);
bool tcp_port_in_use(struct tcp_stack *st, uint32_t laddr, uint16_t port, bool reuse,
		     const struct tcp_sock *self);
/* Linux tcp_twsk_unique(): may a new connection from tp take over the 4-tuple of
 * the TIME-WAIT record tw? `bound`: tp named its port with bind() (Linux passes no
 * twp then, and timestamps alone make it safe); else tcp_tw_reuse decides. */
bool tcp_tw_reusable(const struct tcp_sock *tp, const struct tcp_tw *tw, bool bound,
		     uint64_t now);
void tcp_timer_arm(struct eng *eng, struct tcp_tnode *t, uint64_t when);
void tcp_timer_stop(struct eng *eng, struct tcp_tnode *t);
static inline bool tcp_timer_on(const struct tcp_tnode *t) { return timer_pending(&t->node); }
void tcp_req_free(struct eng *eng, struct tcp_req *req);
void tcp_tw_free(struct eng *eng, struct tcp_tw *tw);
struct tcp_sock *tcp_sock_alloc(struct eng *eng);
void tcp_sock_destroy(struct tcp_sock *tp);

/* sock.c: readiness and lifetime */
void tcp_wake(struct tcp_sock *tp);       /* readiness may have changed */
void tcp_run_wakeups(struct eng *eng);    /* call the due callbacks */
void tcp_maybe_free(struct tcp_sock *tp); /* orphan and closed: free it */
/* A tcp_close_linger() waiter is released once the state leaves FIN-WAIT-1,
 * CLOSING and LAST-ACK (Linux sk_stream_wait_close), or when forced. */
void tcp_linger_check(struct tcp_sock *tp, bool force);
/* A connection is over (Linux tcp_done): CLOSED, unhashed, user woken. */
void tcp_done(struct tcp_sock *tp, int err);
/* Enter TIME-WAIT: replace tp by a small record (Linux tcp_time_wait). */
void tcp_time_wait(struct tcp_sock *tp, uint64_t now);
/* Put a new child on its listener's accept queue. */
void tcp_acceptq_add(struct tcp_sock *lis, struct tcp_sock *child);
void tcp_acceptq_unlink(struct tcp_sock *lis, struct tcp_sock *child);
/* Effective MSS from the peer's option, our MTU, TCP_MAXSEG, timestamps. */
void tcp_sync_mss(struct tcp_sock *tp);
uint32_t tcp_ts_now(uint64_t now); /* our timestamp clock: ms */

/* input.c: delayed ACK, as Linux (tcp_input.c) */
#define TCP_ATO_MIN MSEC(40)      /* Linux TCP_ATO_MIN */
#define TCP_DELACK_MIN MSEC(40)   /* Linux TCP_DELACK_MIN */
#define TCP_DELACK_MAX MSEC(200)  /* Linux TCP_DELACK_MAX */
#define TCP_MAX_QUICKACKS 16      /* Linux TCP_MAX_QUICKACKS */
void tcp_enter_quickack_mode(struct tcp_sock *tp, unsigned max);
void tcp_event_data_recv(struct tcp_sock *tp, uint64_t now);
void tcp_send_delayed_ack(struct tcp_sock *tp, uint64_t now);
void tcp_ack_snd_check(struct tcp_sock *tp, uint64_t now);
/* ICMP fragmentation needed (RFC 1191): lower the MSS, resend (input.c). */
void tcp_mtu_reduced(struct tcp_sock *tp, uint16_t mtu, uint64_t now);

/* output.c */
int tcp_output(struct tcp_sock *tp, uint64_t now);      /* send what may be sent */
int tcp_send_ack(struct tcp_sock *tp, uint64_t now);
int tcp_send_syn(struct tcp_sock *tp, uint64_t now);    /* SYN or SYN-ACK of a full socket */
int tcp_send_probe(struct tcp_sock *tp, uint64_t now);  /* seq snd_una - 1, no data */
int tcp_send_active_rst(struct tcp_sock *tp, uint64_t now);
int tcp_retransmit_head(struct tcp_sock *tp, uint64_t now);
int tcp_send_synack_req(struct eng *eng, struct tcp_req *req, uint64_t now);
int tcp_send_tw_ack(struct eng *eng, struct tcp_tw *tw, uint64_t now);
/* RFC 9293 3.10.7.1: the reset answering seg (which was not a RST). */
int tcp_send_reset_reply(struct eng *eng, const struct ip_info *ip, const struct tcp_seg *seg,
			 uint64_t now);
/* Raw segment from a struct: fills checksum, sends through ip_output(). */
int tcp_xmit_raw(struct eng *eng, uint32_t laddr, uint32_t raddr, struct tcp_seg *s,
		 const struct ring *data, uint32_t data_off, uint64_t now);
uint16_t tcp_rcv_window(struct tcp_sock *tp); /* the window field to send (scaled) */
void tcp_arm_rexmt(struct tcp_sock *tp, uint64_t now);
bool tcp_challenge_ack(struct tcp_sock *tp, uint64_t now); /* rate-limited; true if sent */

/* recovery.c: SACK loss recovery (RFC 6675) and the tail loss probe (RFC 8985 7) */
/* RFC 6675 pipe during SACK recovery, else snd_nxt - snd_una (FlightSize). */
uint32_t tcp_in_flight(const struct tcp_sock *tp);
/* The SACK part of an ACK (ack already checked acceptable, before snd_una moves):
 * updates the scoreboard; returns the bytes newly SACKed. */
uint32_t tcp_sack_rcv(struct tcp_sock *tp, const struct tcp_seg *seg);
/* After an ACK was processed: enter SACK recovery on DupThresh or IsLost, and
 * send what RFC 6675 NextSeg allows. */
void tcp_sack_recovery(struct tcp_sock *tp, uint64_t now);
/* Arm the REXMT timer after sending or an ACK: the PTO when a loss probe may be
 * scheduled (RFC 8985 7.2), else the RTO. */
void tcp_set_xmit_timer(struct tcp_sock *tp, uint64_t now);
void tcp_send_loss_probe(struct tcp_sock *tp, uint64_t now);
/* The application read `n` bytes: grow the receive buffer (Linux tcp_rcv_space_adjust). */
void tcp_rcv_space_adjust(struct tcp_sock *tp, uint32_t n, uint64_t now);
/* `n` bytes went to the reader without being queued (tcp_sock_set_rx): counted
 * as tcp_recv() counts what it reads. */
void tcp_rcv_consumed(struct tcp_sock *tp, uint32_t n, uint64_t now);
/* In-order data arrived: the receiver's RTT estimate (Linux tcp_rcv_rtt_measure). */
void tcp_rcv_rtt_measure(struct tcp_sock *tp, uint64_t now);

/* output.c, for recovery.c: send [seq, seq+len) again (FIN when it ends at it) */
int tcp_retransmit_range(struct tcp_sock *tp, uint32_t seq, uint32_t len, uint64_t now);
/* one segment of new data, cwnd aside (the loss probe); 0 if none may go */
int tcp_send_new_segment(struct tcp_sock *tp, uint64_t now);
uint32_t tcp_cur_mss(struct tcp_sock *tp);

/* timer.c */
void tcp_timer_fire(struct eng *eng, struct tcp_tnode *t, uint64_t now);
void tcp_keep_reset(struct tcp_sock *tp, uint64_t now);
/* Linux retransmits_timed_out(): has the connection used up `boundary` retries? */
bool tcp_retries_exceeded(const struct tcp_sock *tp, unsigned boundary, uint64_t rto_base,
			  uint64_t now);

#endif
