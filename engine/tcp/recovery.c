/* recovery.c - SACK-based loss recovery (RFC 6675, RFC 2883 D-SACK) and the tail loss probe (RFC 8985 7; Linux tcp_schedule_loss_probe).
 *
 * The scoreboard (sack.c) holds what the peer SACKed above snd_una. During an
 * RFC 6675 recovery the sender counts `pipe` instead of FlightSize and picks
 * what to send with NextSeg: lost holes first (rule 1), then new data (rule 2,
 * left to tcp_output, which uses tcp_in_flight()), then holes not yet deemed
 * lost (rule 3). Peers without SACK keep NewReno (cc.c). A loss probe is
 * scheduled, as Linux's tcp_early_retrans = 3, only for SACK connections in the
 * open state; it rides on the REXMT timer (TF_TLP_ARMED), as Linux's
 * ICSK_TIME_LOSS_PROBE shares the retransmission timer. */
#include "base/seq.h"
#include "eng.h"
#include "tcp/tcb.h"

#define TLP_PTO_MIN MSEC(10)          /* RFC 8985 7.2: "max(PTO, 10ms)" */

static inline uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

static bool sack_recovering(const struct tcp_sock *tp)
{
	return tp->cc.in_recovery && tp->cc.sack_recovery;
}

/* Bytes of the hole [s, e) that RFC 6675 SetPipe counts: the octets not lost
 * (step (a)) plus those retransmitted, at or below HighRxt (step (b)). IsLost is
 * the same for every octet of a hole: the SACKed data above them is the same. */
static uint32_t hole_pipe(const struct tcp_sock *tp, uint32_t s, uint32_t e, bool can_be_lost)
{
	uint32_t n = 0;

	if (!can_be_lost || !tcp_sack_is_lost(&tp->sack, s, tp->mss))
		n += e - s;
	if (seq_lt(s, tp->high_rxt))
		n += seq_min(e, tp->high_rxt) - s;
	return n;
}

uint32_t tcp_in_flight(const struct tcp_sock *tp)
{
	const struct tcp_sack_board *b = &tp->sack;
	uint32_t from = tp->snd_una, pipe = 0;

	if (!sack_recovering(tp))
		return tp->snd_nxt - tp->snd_una;
	/* RFC 6675 4 SetPipe: "for each octet in the sequence space between
	 * HighACK and HighData that has not been SACKed" */
	for (uint32_t i = 0; i < b->n; i++) {
		if (seq_lt(from, b->r[i].left))
			pipe += hole_pipe(tp, from, b->r[i].left, true);
		if (seq_lt(from, b->r[i].right))
			from = b->r[i].right;
	}
	if (seq_lt(from, tp->snd_nxt))
		pipe += hole_pipe(tp, from, tp->snd_nxt, false); /* nothing SACKed above */
	return pipe;
}

uint32_t tcp_sack_rcv(struct tcp_sock *tp, const struct tcp_seg *seg)
{
	uint32_t una = seq_gt(seg->ack, tp->snd_una) ? seg->ack : tp->snd_una;
	uint32_t dsacks = tp->sack.dsacks, n;

	if (!tp->sack_ok || !(seg->opts & TCPOPT_F_SACK) || !seg->nsack) {
		tcp_sack_ack(&tp->sack, una);
		return 0;
	}
	n = tcp_sack_update(&tp->sack, una, tp->snd_max, seg->sack, seg->nsack);
	/* RFC 2883: a D-SACK reports a duplicate, not a loss; it is counted and
	 * never makes the ACK a duplicate ACK (RFC 6675 2 "DupAck" needs SACK
	 * information that is new) */
	if (tp->sack.dsacks != dsacks)
		eng_count(tp->eng, TCP_DSACKS);
	return n;
}

/* RFC 6675 4 NextSeg rules (1) and (3): the first hole above HighRxt (and
 * snd_una), below the highest SACKed octet; `lost` says whether rule (1)
 * applies to it. */
static bool next_hole(const struct tcp_sock *tp, uint32_t *s, uint32_t *e, bool *lost)
{
	uint32_t from = seq_max(tp->high_rxt, tp->snd_una);

	if (!tcp_sack_next_hole(&tp->sack, from, s, e))
		return false;
	*lost = tcp_sack_is_lost(&tp->sack, *s, tp->mss);
	return true;
}

static bool new_data_may_go(const struct tcp_sock *tp)
{
	uint32_t qlen = ring_len(&tp->snd), off = tp->snd_nxt - tp->snd_una;
	bool unsent = seq_leq(tp->snd_nxt, tp->snd_una + qlen) && qlen > off;

	/* RFC 6675 4 NextSeg (2): "If no sequence number 'S2' per rule (1)
	 * exists but there exists available unsent data and the receiver's
	 * advertised window allows" */
	return unsent && seq_lt(tp->snd_nxt, tp->snd_una + tp->snd_wnd);
}

static void recovery_send(struct tcp_sock *tp, uint64_t now)
{
	uint32_t mss = tcp_cur_mss(tp);

	/* RFC 6675 5 (C): "If cwnd - pipe >= 1 SMSS, the sender SHOULD transmit
	 * one or more segments", each chosen by NextSeg */
	for (int guard = 0; guard < 1024; guard++) {
		uint32_t pipe = tcp_in_flight(tp), cwnd = tp->cc.cwnd, s, e, len;
		bool lost;

		if (pipe >= cwnd || cwnd - pipe < mss)
			return;
		if (!next_hole(tp, &s, &e, &lost))
			return;                      /* rule (2) is tcp_output's */
		if (!lost && new_data_may_go(tp))
			return;                      /* rule (2) before rule (3) */
		len = min_u32(e - s, mss);
		if (tcp_retransmit_range(tp, s, len, now) < 0 && tp->high_rxt == s)
			return;
		/* RFC 6675 5 (C.2)/(C.3): "HighRxt MUST be set to the highest
		 * sequence number in the retransmitted segment" (as 'next') */
		tp->high_rxt = s + len;
	}
}

void tcp_sack_recovery(struct tcp_sock *tp, uint64_t now)
{
	struct tcp_cc *cc = &tp->cc;

	if (!tp->sack_ok || tp->snd_una == tp->snd_max ||
	    !tcp_in_state(tp, TCPS_ESTABLISHED | TCPS_CLOSE_WAIT | TCPS_FIN_WAIT_1 |
				  TCPS_CLOSING | TCPS_LAST_ACK))
		return;
	if (!cc->in_recovery) {
		/* RFC 6675 5: enter on "(a) DupAcks >= DupThresh" or "(b) ...
		 * IsLost (HighACK + 1) returns true", but only when "the cumulative
		 * ACK ... is greater than RecoveryPoint" of the last recovery
		 * (RFC 6675 5 step 4 with RFC 6582's guard), and not after an RTO
		 * until it is repaired (RFC 6675 5.1 leaves that to go-back-N) */
		if (cc->in_loss || !seq_geq(tp->snd_una, cc->recover))
			return;
		if (cc->dupacks < TCP_DUPTHRESH && !tcp_sack_is_lost(&tp->sack, tp->snd_una, tp->mss))
			return;
		/* (4.1) RecoveryPoint = HighData; (4.2) ssthresh, cwnd = ssthresh */
		tcp_cc_enter_recovery(cc, tp->snd_max, tp->snd_nxt - tp->snd_una, now);
		eng_count(tp->eng, TCP_SACK_RECOVERY);
		eng_count(tp->eng, TCP_FAST_RETRANS);
		tp->high_rxt = tp->snd_una;
		tp->tlp_high_seq = 0;
		/* (4.3) "Retransmit the first data segment presumed dropped --
		 * the segment starting with sequence number HighACK + 1", whatever
		 * cwnd and pipe say */
		{
			uint32_t s, e, len;
			bool lost;

			if (next_hole(tp, &s, &e, &lost) && s == tp->snd_una)
				len = min_u32(e - s, tcp_cur_mss(tp));
			else
				len = min_u32(ring_len(&tp->snd), tcp_cur_mss(tp));
			tcp_retransmit_range(tp, tp->snd_una, len, now);
			tp->high_rxt = tp->snd_una + len;
		}
		if (!tcp_timer_on(&tp->t[TCPT_REXMT]) || (tp->flags & TF_TLP_ARMED)) {
			tp->flags &= ~TF_TLP_ARMED;
			tcp_arm_rexmt(tp, now);
		}
	}
	if (!sack_recovering(tp))
		return;
	if (seq_lt(tp->high_rxt, tp->snd_una))
		tp->high_rxt = tp->snd_una;
	recovery_send(tp, now);
}

/* --- tail loss probe (RFC 8985 7) ------------------------------------------ */

/* Linux tcp_schedule_loss_probe(): only with SACK, in the open state, with
 * data in flight and no probe outstanding. */
static bool tlp_may_schedule(const struct tcp_sock *tp)
{
	return tp->sack_ok && tp->snd_una != tp->snd_max && !tp->cc.in_recovery &&
	       !tp->cc.in_loss && !tp->tlp_high_seq && !tp->retries &&
	       tcp_in_state(tp, TCPS_ESTABLISHED | TCPS_CLOSE_WAIT | TCPS_FIN_WAIT_1 |
				    TCPS_CLOSING | TCPS_LAST_ACK);
}

void tcp_set_xmit_timer(struct tcp_sock *tp, uint64_t now)
{
	struct eng *eng = tp->eng;
	uint64_t srtt = tcp_rtt_srtt(&tp->rtt), pto, rto = tcp_rtt_rto(&tp->rtt), rto_at;

	if (!tlp_may_schedule(tp)) {
		/* a running RTO keeps its deadline (RFC 6298 (5.1)) */
		if ((tp->flags & TF_TLP_ARMED) || !tcp_timer_on(&tp->t[TCPT_REXMT])) {
			tp->flags &= ~TF_TLP_ARMED;
			tcp_arm_rexmt(tp, now);
		}
		return;
	}
	/* RFC 8985 7.2: "If SRTT is available: PTO = 2*SRTT; If FlightSize is
	 * one segment, PTO += WCDelAckT; PTO = max(PTO, 10ms)"; no SRTT: 1 s.
	 * WCDelAckT is Linux's rto_min (200 ms), its delayed-ACK allowance. */
	if (srtt) {
		pto = 2 * srtt;
		if (tp->snd_max - tp->snd_una <= tp->mss + 1u)
			pto += eng->cfg.tcp.rto_min;
		if (pto < TLP_PTO_MIN)
			pto = TLP_PTO_MIN;
	} else {
		pto = eng->cfg.tcp.rto_initial;
	}
	/* Linux: "If the RTO formula yields an earlier time, then use that time" */
	rto_at = (tcp_timer_on(&tp->t[TCPT_REXMT]) && !(tp->flags & TF_TLP_ARMED))
			 ? tp->t[TCPT_REXMT].node.when : now + rto;
	/* the timer stays a probe: what fires at rto_at is a TLP, and the RTO
	 * is armed afresh after it (Linux keeps ICSK_TIME_LOSS_PROBE) */
	tp->flags |= TF_TLP_ARMED;
	tcp_timer_arm(eng, &tp->t[TCPT_REXMT], now + pto < rto_at ? now + pto : rto_at);
}

void tcp_send_loss_probe(struct tcp_sock *tp, uint64_t now)
{
	uint32_t qlen = ring_len(&tp->snd), mss = tcp_cur_mss(tp);

	tp->flags &= ~TF_TLP_ARMED;
	if (tp->snd_una == tp->snd_max || !tlp_may_schedule(tp)) {
		if (tp->snd_una != tp->snd_max)
			tcp_arm_rexmt(tp, now);
		return;
	}
	/* RFC 8985 7.3: "If a previously unsent segment exists AND the receive
	 * window allows, send that segment; else retransmit the highest-sequence
	 * segment sent so far" */
	if (tcp_send_new_segment(tp, now) <= 0) {
		uint32_t sent = seq_min(tp->snd_max, tp->snd_una + qlen) - tp->snd_una;
		uint32_t len = min_u32(sent, mss);

		tcp_retransmit_range(tp, tp->snd_una + sent - len, len, now);
	}
	eng_count(tp->eng, TCP_LOSS_PROBES);
	/* "TLPRxtOut = true; TLPHighRxt = SND.NXT" ... then the RTO is armed
	 * afresh (Linux: inet_csk_reset_xmit_timer(ICSK_TIME_RETRANS, icsk_rto)) */
	tp->tlp_high_seq = tp->snd_max;
	tcp_arm_rexmt(tp, now);
}

/* --- receive-buffer autotuning (Linux tcp_rcv_space_adjust) -------------- */

void tcp_rcv_rtt_measure(struct tcp_sock *tp, uint64_t now)
{
	/* Linux tcp_rcv_rtt_measure(): once per window of data, the time it
	 * took the peer to fill the window we offered is an RTT (upper bound) */
	if (tp->rcv_rtt_time && seq_lt(tp->rcv_nxt, tp->rcv_rtt_seq))
		return;
	if (tp->rcv_rtt_time) {
		uint64_t s = now - tp->rcv_rtt_time;

		if (!s)
			s = 1;
		/* Linux tcp_rcv_rtt_update(win_dep = 1): take the smaller */
		if (!tp->rcv_rtt || s < tp->rcv_rtt)
			tp->rcv_rtt = s;
	}
	tp->rcv_rtt_seq = tp->rcv_nxt + (tp->rcv_wnd ? tp->rcv_wnd : tp->rcv_mss);
	tp->rcv_rtt_time = now;
}

void tcp_rcv_space_adjust(struct tcp_sock *tp, uint32_t n, uint64_t now)
{
	uint64_t rtt = tp->rcv_rtt ? tp->rcv_rtt : tcp_rtt_srtt(&tp->rtt);
	uint32_t copied;

	tp->copied += n;
	if (!tp->rcvq_time) {
		tp->rcvq_time = now;
		tp->rcvq_seq = tp->copied - n;
		tp->rcvq_space = TCP_INIT_CWND * (uint32_t)tp->rcv_mss;
	}
	/* "Number of bytes copied to user in last RTT" */
	if (!rtt || now - tp->rcvq_time < rtt)
		return;
	copied = tp->copied - tp->rcvq_seq;
	if (copied > tp->rcvq_space && !(tp->flags & TF_RCVBUF_LOCK)) {
		/* Linux: "rcvwin = (copied << 1) + 16 * advmss; grow the window by
		 * how much the application's rate grew" (tcp_rmem[2] at most) */
		uint64_t win = ((uint64_t)copied << 1) + 16u * tp->rcv_mss;
		uint64_t grow = win * (copied - tp->rcvq_space) / tp->rcvq_space;

		uint32_t max = tp->eng->cfg.tcp.rmem_max ? tp->eng->cfg.tcp.rmem_max : 6291456u;

		win += grow << 1;
		if (win > max)
			win = max;
		if (win > tp->rcvbuf && ring_set_limit(&tp->rcv, tcp_rcv_limit((uint32_t)win)) == 0) {
			tp->rcvbuf = (uint32_t)win;
			tp->ofo.limit = tp->rcvbuf / 2;   /* as tcp_sock_alloc sizes it */
			eng_count(tp->eng, TCP_RCVBUF_GROWS);
		}
	}
	if (copied > tp->rcvq_space)
		tp->rcvq_space = copied;
	tp->rcvq_seq = tp->copied;
	tp->rcvq_time = now;
}
