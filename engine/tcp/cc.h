/* cc.h - congestion control: a small ops table and the loss-recovery frame around it
 * (RFC 5681, RFC 6582 NewReno, RFC 6928 initial window, RFC 3465 byte counting; Linux tcp_congestion_ops).
 *
 * Units: cwnd and ssthresh are in BYTES (RFC 5681's units), changed in whole
 * MSS steps; `mss` is the sender's SMSS (bytes of payload per segment).
 *
 * The frame (cc.c) owns what every algorithm shares, as Linux's tcp_input.c
 * does: counting duplicate ACKs, entering fast retransmit / fast recovery on the
 * third one (RFC 5681 3.2, with RFC 6582's `recover` guard), inflating during
 * recovery, partial and full ACKs (RFC 6582 3.2), slow start, and the collapse
 * to one segment on RTO (RFC 5681 (5)). The algorithm (ops) decides how much to
 * grow in congestion avoidance and what ssthresh becomes after a loss: NewReno
 * here, CUBIC later through the same table.
 *
 * What the state machine does with it:
 *   new data ACKed          -> tcp_cc_on_ack(); TCP_CC_RETRANSMIT = resend snd_una (partial ACK)
 *   duplicate ACK (RFC 5681 definition, checked by the caller)
 *                           -> tcp_cc_on_dupack(); TCP_CC_RETRANSMIT = fast retransmit snd_una
 *   loss detected otherwise (SACK, RFC 6675) -> tcp_cc_enter_recovery()
 *   retransmission timeout  -> tcp_cc_on_rto()
 *   may send while flight < tcp_cc_cwnd().                                    */
#ifndef TSK_TCP_CC_H
#define TSK_TCP_CC_H

#include <stdbool.h>
#include <stdint.h>

#define TCP_INIT_CWND 10          /* RFC 6928, Linux TCP_INIT_CWND: IW = 10 segments */
#define TCP_DUPTHRESH 3           /* RFC 5681 3.2: the third duplicate ACK */
#define TCP_SSTHRESH_INF UINT32_MAX

struct tcp_cc;

/* What the ACK that was just processed asks of the sender. */
enum tcp_cc_act {
	TCP_CC_NONE = 0,
	TCP_CC_RETRANSMIT,        /* retransmit the first unacknowledged segment now */
};

/* What an ACK that advanced snd_una tells congestion control. */
struct tcp_cc_ack {
	uint32_t ack;             /* the new snd_una */
	uint32_t acked;           /* bytes newly acknowledged (SYN/FIN excluded) */
	uint32_t flight;          /* bytes in flight after this ACK (RFC 5681 FlightSize) */
	uint64_t rtt;             /* RTT sample of this ACK in ns, 0 if none (Karn) */
	bool app_limited;         /* the sender had less to send than cwnd allowed:
				     do not grow cwnd (Linux tcp_is_cwnd_limited, RFC 7661) */
};

enum tcp_cc_event {
	TCP_CC_EV_RECOVERY,       /* fast recovery entered */
	TCP_CC_EV_RECOVERED,      /* full ACK: fast recovery left */
	TCP_CC_EV_RTO,            /* retransmission timeout */
	TCP_CC_EV_IDLE_RESTART,   /* cwnd restarted after idle */
};

struct tcp_cc_ops {
	const char *name;
	/* Reset the algorithm's private state (cc->priv). */
	void (*init)(struct tcp_cc *cc);
	/* ssthresh after a loss (fast recovery or RTO), bytes. Required. */
	uint32_t (*ssthresh)(struct tcp_cc *cc, uint32_t flight);
	/* Congestion avoidance (cwnd >= ssthresh, not in recovery): grow cwnd for
	 * `acked` bytes. Required. */
	void (*cong_avoid)(struct tcp_cc *cc, const struct tcp_cc_ack *a, uint64_t now);
	/* Every ACK that advanced snd_una (RTT samples for delay-based algorithms). Optional. */
	void (*on_ack)(struct tcp_cc *cc, const struct tcp_cc_ack *a, uint64_t now);
	/* Recovery and timeout events. Optional. */
	void (*on_event)(struct tcp_cc *cc, enum tcp_cc_event ev, uint64_t now);
};

struct tcp_cc {
	const struct tcp_cc_ops *ops;
	uint32_t mss;
	uint32_t cwnd;            /* bytes */
	uint32_t ssthresh;        /* bytes, TCP_SSTHRESH_INF until the first loss */
	uint32_t ca_acked;        /* RFC 3465 bytes_acked in congestion avoidance */
	uint32_t recover;         /* RFC 6582 "recover": snd_nxt when recovery began */
	uint32_t dupacks;         /* consecutive duplicate ACKs */
	bool in_recovery;         /* in fast recovery (RFC 6582 3.2 steps 2-5) */
	bool sack_recovery;       /* the recovery is RFC 6675's: the sender counts the
				     pipe, no inflation or deflation of cwnd */
	bool in_loss;             /* after an RTO, until snd_una passes recover: a
				     second RTO keeps ssthresh (RFC 5681 3.1) */
	uint64_t priv[8];         /* algorithm state (CUBIC's W_max, epoch ...) */
};

extern const struct tcp_cc_ops tcp_cc_newreno;
extern const struct tcp_cc_ops tcp_cc_cubic;   /* RFC 9438, Linux's default */
/* Algorithm by name ("cubic"; "reno" or "newreno"), NULL if unknown. */
const struct tcp_cc_ops *tcp_cc_find(const char *name);

/* Start a connection: cwnd = IW = 10 segments as Linux (RFC 6928's
 * min(10*MSS, max(2*MSS, 14600)) is the same for MSS <= 1460), ssthresh infinite. iss is our initial send sequence
 * (RFC 6582: recover is initialised to it). */
void tcp_cc_init(struct tcp_cc *cc, const struct tcp_cc_ops *ops, uint32_t mss, uint32_t iss);
/* MSS changed (PMTU): keep the window in segments. */
void tcp_cc_set_mss(struct tcp_cc *cc, uint32_t mss);

/* An ACK advanced snd_una. */
enum tcp_cc_act tcp_cc_on_ack(struct tcp_cc *cc, const struct tcp_cc_ack *a, uint64_t now);
/* A duplicate ACK (RFC 5681 2: no data, no window change, outstanding data,
 * ack == snd_una). snd_una/snd_nxt/flight are the sender's current values. */
enum tcp_cc_act tcp_cc_on_dupack(struct tcp_cc *cc, uint32_t snd_una, uint32_t snd_nxt,
				 uint32_t flight, uint64_t now);
/* Enter fast recovery now (loss detected by SACK, RFC 6675 5 step 4): ssthresh
 * as on the third duplicate ACK, cwnd = ssthresh. No-op if already in recovery.
 * Until the full ACK, tcp_cc_on_ack() neither deflates cwnd nor asks for a
 * retransmission: the sender's pipe and NextSeg do that. */
void tcp_cc_enter_recovery(struct tcp_cc *cc, uint32_t snd_nxt, uint32_t flight, uint64_t now);
/* The retransmission timer fired (RFC 5681 (4): ssthresh = max(FlightSize/2,
 * 2*SMSS), cwnd = 1 SMSS; RFC 6582 4: recover = snd_nxt, recovery left). */
void tcp_cc_on_rto(struct tcp_cc *cc, uint32_t snd_nxt, uint32_t flight, uint64_t now);
/* Sending after `idle` ns with nothing in flight, rto the current RTO: RFC 5681
 * 4.1 (Linux tcp_cwnd_restart) halves cwnd per RTO idle, down to the restart window. */
void tcp_cc_after_idle(struct tcp_cc *cc, uint64_t idle, uint64_t rto, uint64_t now);

static inline uint32_t tcp_cc_cwnd(const struct tcp_cc *cc) { return cc->cwnd; }
static inline bool tcp_cc_in_slow_start(const struct tcp_cc *cc) { return cc->cwnd < cc->ssthresh; }

#endif
