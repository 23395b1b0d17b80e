/* rtt.h - the retransmission timer's estimator (RFC 6298; Linux tcp_rtt_estimator, tcp_set_rto).
 *
 * RFC 6298 (2.2)-(2.3): SRTT <- 7/8 SRTT + 1/8 R', RTTVAR <- 3/4 RTTVAR + 1/4 |SRTT - R'|,
 * RTO <- SRTT + max(G, K*RTTVAR). Linux is the reference, and Linux differs in
 * one deliberate way that is kept here: the variance term is floored by rto_min
 * rather than the whole RTO,
 *
 *   RTO = SRTT + max(4 * mdev_max, rto_min)      (Linux: srtt/8 + rttvar_us)
 *
 * where mdev_max is the largest mean deviation seen over the last window of data
 * (one "RTT" of sequence space, tracked through snd_una/snd_nxt), and the
 * variance decays towards it once per window, not per sample. A falling RTT
 * feeds the deviation with 1/32 gain instead of 1/4 (Linux's Eifel-like
 * damping). So RTO is never below SRTT + 200 ms, where RFC 6298 (2.4) would
 * floor the sum at 1 s: on a LAN Linux (and this) retransmits after ~200 ms.
 * The first sample sets SRTT = R, mdev = R/2 (RFC 6298 (2.2)), RTO = 3R at
 * least R + rto_min. RTO is then clamped to rto_max (RFC 6298 (2.5)).
 *
 * Karn's rule (RFC 6298 3, "RTT samples MUST NOT be made using segments that
 * were retransmitted") is the caller's: pass only samples from segments sent
 * once, or from timestamps echoing a fresh transmission (RFC 7323 4.1).
 *
 * Backoff: RFC 6298 (5.5) "the host MUST set RTO <- RTO * 2" on a timeout;
 * tcp_rtt_backoff() doubles (capped at rto_max) and a new sample clears the
 * backoff (Linux tcp_ack_update_rtt: icsk_backoff = 0). Times are ns. */
#ifndef TSK_TCP_RTT_H
#define TSK_TCP_RTT_H

#include <stdint.h>

struct tcp_rtt {
	uint64_t srtt8;      /* smoothed RTT << 3; 0 = no sample yet */
	uint64_t mdev4;      /* mean deviation << 2 */
	uint64_t mdev_max4;  /* largest mdev4 in the current window */
	uint64_t rttvar4;    /* the variance term used for RTO (>= rto_min) */
	uint32_t rtt_seq;    /* window ends when snd_una passes this */
	unsigned backoff;    /* timeouts since the last sample */
	uint64_t rto_base;   /* RTO before backoff */
	uint64_t rto_min, rto_max;
	uint64_t min_rtt;    /* smallest sample seen (0 = none), for `ss` and CC */
	uint64_t last_rtt;   /* latest sample */
};

/* Before any sample RTO is rto_initial (RFC 6298 (2.1): 1 s). */
void tcp_rtt_init(struct tcp_rtt *r, uint64_t rto_initial, uint64_t rto_min, uint64_t rto_max);
/* One RTT measurement `rtt` (ns, > 0) taken on an ACK; snd_una and snd_nxt are
 * the values after that ACK was processed. Clears the backoff. */
void tcp_rtt_sample(struct tcp_rtt *r, uint64_t rtt, uint32_t snd_una, uint32_t snd_nxt);
/* The RTO to arm now: base RTO << backoff, at most rto_max. */
uint64_t tcp_rtt_rto(const struct tcp_rtt *r);
/* A retransmission timeout fired: double the RTO (RFC 6298 (5.5)). */
void tcp_rtt_backoff(struct tcp_rtt *r);
/* Smoothed RTT and variance (the ss "rtt:SRTT/RTTVAR" values), ns. */
static inline uint64_t tcp_rtt_srtt(const struct tcp_rtt *r) { return r->srtt8 >> 3; }
static inline uint64_t tcp_rtt_var(const struct tcp_rtt *r) { return r->mdev4 >> 2; }

/* RFC 6298 (5.7): "If the timer expires awaiting the ACK of a SYN segment and
 * the TCP implementation is using an RTO less than 3 seconds, the RTO MUST be
 * re-initialized to 3 seconds when data transmission begins". Call when the
 * handshake completes after a retransmitted SYN and no sample was taken. */
void tcp_rtt_syn_fallback(struct tcp_rtt *r);
#define TCP_RTO_FALLBACK 3000000000ull

#endif
