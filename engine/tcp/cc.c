/* cc.c - the loss-recovery frame around the congestion-control ops (RFC 5681, RFC 6582; see cc.h). */
#include <string.h>

#include "base/seq.h"
#include "tcp/cc.h"

#define CWND_MAX (1u << 30)

static inline uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }
static inline uint32_t max_u32(uint32_t a, uint32_t b) { return a > b ? a : b; }

static void cc_event(struct tcp_cc *cc, enum tcp_cc_event ev, uint64_t now)
{
	if (cc->ops->on_event)
		cc->ops->on_event(cc, ev, now);
}

const struct tcp_cc_ops *tcp_cc_find(const char *name)
{
	if (!strcmp(name, "newreno") || !strcmp(name, "reno"))
		return &tcp_cc_newreno;
	if (!strcmp(name, "cubic"))
		return &tcp_cc_cubic;
	return NULL;
}

void tcp_cc_init(struct tcp_cc *cc, const struct tcp_cc_ops *ops, uint32_t mss, uint32_t iss)
{
	*cc = (struct tcp_cc){
		.ops = ops, .mss = mss ? mss : 536,
		.ssthresh = TCP_SSTHRESH_INF,
		/* RFC 6582 3.2: "recover" is initialized to the initial send sequence number */
		.recover = iss,
	};
	cc->cwnd = TCP_INIT_CWND * cc->mss;
	if (ops->init)
		ops->init(cc);
}

void tcp_cc_set_mss(struct tcp_cc *cc, uint32_t mss)
{
	if (!mss || mss == cc->mss)
		return;
	cc->cwnd = max_u32((uint32_t)((uint64_t)cc->cwnd * mss / cc->mss), mss);
	if (cc->ssthresh != TCP_SSTHRESH_INF)
		cc->ssthresh = max_u32((uint32_t)((uint64_t)cc->ssthresh * mss / cc->mss), 2 * mss);
	cc->mss = mss;
}

enum tcp_cc_act tcp_cc_on_ack(struct tcp_cc *cc, const struct tcp_cc_ack *a, uint64_t now)
{
	uint32_t acked = a->acked;

	cc->dupacks = 0;
	if (cc->ops->on_ack)
		cc->ops->on_ack(cc, a, now);
	if (cc->in_loss && seq_geq(a->ack, cc->recover))
		cc->in_loss = false;

	if (cc->in_recovery && cc->sack_recovery) {
		/* RFC 6675 5 (A)-(C): partial ACKs change nothing here, pipe does;
		 * "Once a TCP is in the loss recovery phase ... the TCP MUST NOT
		 * terminate loss recovery until ... HighACK > RecoveryPoint" */
		if (seq_geq(a->ack, cc->recover)) {
			cc->in_recovery = false;
			cc->sack_recovery = false;
			cc->ca_acked = 0;
			cc_event(cc, TCP_CC_EV_RECOVERED, now);
		}
		return TCP_CC_NONE;
	}
	if (cc->in_recovery) {
		if (seq_geq(a->ack, cc->recover)) {
			/* RFC 6582 3.2 step 3, full acknowledgment: "Set cwnd to either
			 * (1) min (ssthresh, max(FlightSize, SMSS) + SMSS) or (2) ssthresh".
			 * (1): with no pacing here, (2) could release a burst. */
			cc->cwnd = min_u32(cc->ssthresh, max_u32(a->flight, cc->mss) + cc->mss);
			cc->in_recovery = false;
			cc->ca_acked = 0;
			cc_event(cc, TCP_CC_EV_RECOVERED, now);
			return TCP_CC_NONE;
		}
		/* RFC 6582 3.2 step 4, partial acknowledgment: "retransmit the first
		 * unacknowledged segment ... deflate the congestion window by the amount
		 * of new data acknowledged ... then add back SMSS bytes" if that amount
		 * is at least SMSS; do not leave fast recovery. */
		cc->cwnd = cc->cwnd > acked ? cc->cwnd - acked : 0;
		if (acked >= cc->mss)
			cc->cwnd += cc->mss;
		cc->cwnd = max_u32(cc->cwnd, cc->mss);
		return TCP_CC_RETRANSMIT;
	}

	if (a->app_limited || acked == 0)
		return TCP_CC_NONE;

	if (cc->cwnd < cc->ssthresh) {
		/* RFC 5681 3.1 slow start, counting bytes (RFC 3465) without the
		 * per-ACK limit L, as Linux tcp_slow_start: stretch ACKs grow cwnd by
		 * all they acknowledge, up to ssthresh; the rest goes to avoidance. */
		uint32_t inc = min_u32(acked, cc->ssthresh - cc->cwnd);
		cc->cwnd = min_u32(cc->cwnd + inc, CWND_MAX);
		acked -= inc;
		if (acked == 0)
			return TCP_CC_NONE;
	}
	struct tcp_cc_ack rest = *a;
	rest.acked = acked;
	cc->ops->cong_avoid(cc, &rest, now);
	if (cc->cwnd > CWND_MAX)
		cc->cwnd = CWND_MAX;
	return TCP_CC_NONE;
}

static void cc_enter_recovery(struct tcp_cc *cc, uint32_t snd_nxt, uint32_t flight,
			      uint32_t inflate, uint64_t now)
{
	cc->ssthresh = cc->ops->ssthresh(cc, flight);
	cc->recover = snd_nxt;
	cc->cwnd = cc->ssthresh + inflate;
	cc->in_recovery = true;
	cc->sack_recovery = false;
	cc->ca_acked = 0;
	cc_event(cc, TCP_CC_EV_RECOVERY, now);
}

enum tcp_cc_act tcp_cc_on_dupack(struct tcp_cc *cc, uint32_t snd_una, uint32_t snd_nxt,
				 uint32_t flight, uint64_t now)
{
	cc->dupacks++;
	if (cc->in_recovery) {
		/* RFC 5681 3.2 step 4: "For each additional duplicate ACK received
		 * (after the third), cwnd MUST be incremented by SMSS." */
		cc->cwnd = min_u32(cc->cwnd + cc->mss, CWND_MAX);
		return TCP_CC_NONE;
	}
	if (cc->dupacks != TCP_DUPTHRESH)
		return TCP_CC_NONE;   /* RFC 3042 limited transmit is the sender's */
	/* RFC 6582 3.2 step 1: enter fast retransmit only "if the Cumulative
	 * Acknowledgment field covers more than recover"; otherwise these are
	 * duplicates of a retransmission already repaired: "the TCP does not enter
	 * fast retransmit and does not reset ssthresh". (The optional heuristic of
	 * RFC 6582 4.1 is not used.) */
	if (!seq_geq(snd_una, cc->recover))
		return TCP_CC_NONE;
	/* RFC 5681 3.2 steps 2-3: ssthresh per (4), retransmit, cwnd = ssthresh + 3*SMSS */
	cc_enter_recovery(cc, snd_nxt, flight, TCP_DUPTHRESH * cc->mss, now);
	return TCP_CC_RETRANSMIT;
}

void tcp_cc_enter_recovery(struct tcp_cc *cc, uint32_t snd_nxt, uint32_t flight, uint64_t now)
{
	if (cc->in_recovery)
		return;
	/* RFC 6675 5 step 4.2: cwnd = ssthresh (no inflation: SACK counts the pipe) */
	cc_enter_recovery(cc, snd_nxt, flight, 0, now);
	cc->sack_recovery = true;
}

void tcp_cc_on_rto(struct tcp_cc *cc, uint32_t snd_nxt, uint32_t flight, uint64_t now)
{
	/* RFC 5681 3.1: "when a TCP sender detects segment loss using the
	 * retransmission timer and the given segment has already been retransmitted
	 * by way of the retransmission timer at least once, the value of ssthresh
	 * is held constant." */
	if (!cc->in_loss)
		cc->ssthresh = cc->ops->ssthresh(cc, flight);
	/* RFC 5681 (5): "cwnd MUST be set to no more than the loss window, LW,
	 * which equals 1 full-sized segment" */
	cc->cwnd = cc->mss;
	cc->ca_acked = 0;
	cc->dupacks = 0;
	cc->in_recovery = false;
	cc->sack_recovery = false;
	cc->in_loss = true;
	/* RFC 6582 4: after a timeout, recover = the highest sequence transmitted */
	cc->recover = snd_nxt;
	cc_event(cc, TCP_CC_EV_RTO, now);
}

void tcp_cc_after_idle(struct tcp_cc *cc, uint64_t idle, uint64_t rto, uint64_t now)
{
	/* RFC 5681 4.1 / Linux tcp_cwnd_restart: after an idle period longer than
	 * an RTO, cwnd is cut (halved per RTO idle), to no less than the restart
	 * window min(IW, cwnd); ssthresh remembers 3/4 of the old cwnd. */
	if (rto == 0 || idle < rto)
		return;
	uint32_t restart = min_u32(TCP_INIT_CWND * cc->mss, cc->cwnd);
	uint32_t keep = cc->cwnd - cc->cwnd / 4;
	if (cc->ssthresh != TCP_SSTHRESH_INF && cc->ssthresh < keep)
		cc->ssthresh = keep;
	uint64_t delta = idle - rto;
	uint32_t cwnd = cc->cwnd;
	while (delta > 0 && cwnd > restart) {
		cwnd >>= 1;
		delta = delta > rto ? delta - rto : 0;
	}
	cc->cwnd = max_u32(cwnd, restart);
	cc->ca_acked = 0;
	cc_event(cc, TCP_CC_EV_IDLE_RESTART, now);
}
