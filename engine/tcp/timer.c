/* timer.c - the TCP timers, one handler each (RFC 6298 retransmission, RFC 9293 3.8.6.1 persist,
 * RFC 1122 4.2.3.6 keepalive, RFC 1122 4.2.3.2 delayed ACK, RFC 9293 3.10.8 timeouts, 2MSL). */
#include <errno.h>

#include "base/time.h"
#include "eng.h"
#include "tcp/tcb.h"

/* Linux tcp_model_timeout(): how long `boundary` exponential retries from
 * rto_base take, linear once the RTO reaches rto_max. */
static uint64_t model_timeout(unsigned boundary, uint64_t rto_base, uint64_t rto_max)
{
	unsigned thresh = 0;

	while ((rto_base << (thresh + 1)) <= rto_max)
		thresh++;
	if (boundary <= thresh)
		return ((2ull << boundary) - 1) * rto_base;
	return ((2ull << thresh) - 1) * rto_base + (uint64_t)(boundary - thresh) * rto_max;
}

bool tcp_retries_exceeded(const struct tcp_sock *tp, unsigned boundary, uint64_t rto_base,
			  uint64_t now)
{
	uint64_t timeout;

	if (!tp->retries || !tp->retrans_stamp)
		return false;
	/* Linux retransmits_timed_out(): TCP_USER_TIMEOUT replaces the modelled
	 * time of `boundary` retries when set */
	timeout = tp->user_timeout ? MSEC((uint64_t)tp->user_timeout)
				   : model_timeout(boundary, rto_base, tp->eng->cfg.tcp.rto_max);
	return now - tp->retrans_stamp >= timeout;
}

/* Linux tcp_clamp_rto_to_user_timeout(): the next retransmission never waits
 * past the user timeout, so the connection fails on time. */
static uint64_t clamp_to_user_timeout(const struct tcp_sock *tp, uint64_t when, uint64_t start,
				      uint64_t now)
{
	uint64_t end;

	if (!tp->user_timeout || !start)
		return when;
	end = start + MSEC((uint64_t)tp->user_timeout);
	if (end <= now)
		return now + 1;   /* "user timeout has passed; fire ASAP" */
	return when < end ? when : end;
}

void tcp_keep_reset(struct tcp_sock *tp, uint64_t now)
{
	if ((tp->flags & TF_KEEPALIVE) &&
	    tcp_in_state(tp, TCPS_ESTABLISHED | TCPS_CLOSE_WAIT | TCPS_FIN_WAIT_1 | TCPS_FIN_WAIT_2 |
				 TCPS_SYN_RECEIVED))
		tcp_timer_arm(tp->eng, &tp->t[TCPT_KEEP], now + tp->keep_idle);
	else
		tcp_timer_stop(tp->eng, &tp->t[TCPT_KEEP]);
}

/* RFC 6298 (5.4)-(5.6): retransmit the earliest segment, back the timer off.
 * Limits as Linux: tcp_syn_retries / tcp_synack_retries while connecting
 * (1 s doubling: 127 s for 6), tcp_retries2 (15: ~924 s from a 200 ms base)
 * afterwards, tcp_orphan_retries (8) for a connection nobody holds. */
static void rexmt_timer(struct tcp_sock *tp, uint64_t now)
{
	struct eng *eng = tp->eng;
	const struct tcp_params *p = &eng->cfg.tcp;

	if (tcp_in_state(tp, TCPS_SYN_SENT | TCPS_SYN_RECEIVED)) {
		/* Linux tcp_write_timeout(): "retry_until = icsk->icsk_syn_retries ? :
		 * net->ipv4.sysctl_tcp_syn_retries" (TCP_SYNCNT) */
		unsigned limit = tp->syn_retries ? tp->syn_retries :
				 tcp_in_state(tp, TCPS_SYN_SENT) ? p->syn_retries : p->synack_retries;

		if (tp->retries >= limit ||
		    tcp_retries_exceeded(tp, limit, p->rto_initial, now)) {
			eng_count(eng, TCP_ATTEMPT_FAILS);
			tcp_done(tp, tp->err_soft ? tp->err_soft : ETIMEDOUT);
			return;
		}
		tp->retries++;
		tp->flags |= TF_SYN_REXMIT;
		tcp_rtt_backoff(&tp->rtt);
		eng_count(eng, TCP_TIMEOUTS);
		tcp_send_syn(tp, now);
		tcp_arm_rexmt(tp, now);
		if (tp->user_timeout)
			tcp_timer_arm(eng, &tp->t[TCPT_REXMT],
				      clamp_to_user_timeout(tp, tp->t[TCPT_REXMT].node.when,
							    tp->retrans_stamp, now));
		return;
	}
	if (tp->snd_una == tp->snd_max)
		return;
	if (!tp->retries)
		tp->retrans_stamp = now - tcp_rtt_rto(&tp->rtt);
	{
		unsigned boundary = p->retries2;

		if (tp->flags & TF_ORPHAN)
			boundary = p->orphan_retries ? p->orphan_retries : 8;
		if (tcp_retries_exceeded(tp, boundary, p->rto_min, now)) {
			tcp_done(tp, tp->err_soft ? tp->err_soft : ETIMEDOUT);
			return;
		}
	}
	eng_count(eng, TCP_TIMEOUTS);
	tcp_cc_on_rto(&tp->cc, tp->snd_max, tp->snd_max - tp->snd_una, now);
	/* RFC 6675 5.1 / RFC 2018 8: after a timeout the SACK information may be
	 * reneged; go-back-N resends from snd_una, the scoreboard starts over */
	tcp_sack_clear(&tp->sack);
	tp->high_rxt = tp->snd_una;
	tp->tlp_high_seq = 0;
	tp->flags &= ~TF_RTT_TIMING;   /* Karn */
	tp->snd_nxt = tp->snd_una;     /* go back N: resend from the first unacknowledged byte */
	tp->retries++;
	tcp_rtt_backoff(&tp->rtt);
	tcp_retransmit_head(tp, now);
	tcp_arm_rexmt(tp, now);
	if (tp->user_timeout)
		tcp_timer_arm(eng, &tp->t[TCPT_REXMT],
			      clamp_to_user_timeout(tp, tp->t[TCPT_REXMT].node.when,
						    tp->retrans_stamp, now));
}

/* RFC 9293 3.8.6.1: "The sending TCP must regularly retransmit to the receiving
 * TCP even when the window is zero" (MUST-36). Probes back off like the RTO and,
 * as Linux tcp_probe_timer, give up after tcp_retries2 unanswered probes. */
static void persist_timer(struct tcp_sock *tp, uint64_t now)
{
	struct eng *eng = tp->eng;
	unsigned max = eng->cfg.tcp.retries2;
	uint64_t rto;

	if (tp->snd_wnd || ring_len(&tp->snd) <= tp->snd_nxt - tp->snd_una) {
		tp->probe0_stamp = 0;
		return;
	}
	/* Linux tcp_probe_timer(): "if the socket is orphaned or the user
	 * specifies TCP_USER_TIMEOUT, we kill the socket when the retry count and
	 * the time exceeds the corresponding system limit" */
	if (!tp->probe0_stamp) {
		tp->probe0_stamp = now;
	} else if (tp->user_timeout && now - tp->probe0_stamp >= MSEC((uint64_t)tp->user_timeout)) {
		tcp_done(tp, tp->err_soft ? tp->err_soft : ETIMEDOUT);
		return;
	}
	if (tp->flags & TF_ORPHAN)
		max = eng->cfg.tcp.orphan_retries ? eng->cfg.tcp.orphan_retries : 8;
	if (tp->probes >= max) {
		tcp_done(tp, tp->err_soft ? tp->err_soft : ETIMEDOUT);
		return;
	}
	tp->probes++;
	tcp_send_probe(tp, now);
	rto = tcp_rtt_rto(&tp->rtt);
	for (unsigned i = 0; i < tp->probes && rto < eng->cfg.tcp.rto_max; i++)
		rto <<= 1;
	if (rto > eng->cfg.tcp.rto_max)
		rto = eng->cfg.tcp.rto_max;
	if (tp->user_timeout) {
		/* Linux tcp_clamp_probe0_to_user_timeout(): no later than the
		 * user timeout, no sooner than TCP_TIMEOUT_MIN (2 jiffies) */
		uint64_t end = tp->probe0_stamp + MSEC((uint64_t)tp->user_timeout);
		uint64_t left = end > now ? end - now : 0;

		if (left < MSEC(2))
			left = MSEC(2);
		if (left < rto)
			rto = left;
	}
	tcp_timer_arm(eng, &tp->t[TCPT_PERSIST], now + rto);
}

/* RFC 1122 4.2.3.6 keepalive, as Linux tcp_keepalive_timer: after keep_idle
 * without anything received, keep_cnt probes keep_intvl apart; then the
 * connection is reset and fails with ETIMEDOUT. */
static void keep_timer(struct tcp_sock *tp, uint64_t now)
{
	struct eng *eng = tp->eng;
	uint64_t idle = now - tp->last_rcv;

	if (!(tp->flags & TF_KEEPALIVE) ||
	    !tcp_in_state(tp, TCPS_ESTABLISHED | TCPS_CLOSE_WAIT | TCPS_FIN_WAIT_1 | TCPS_FIN_WAIT_2))
		return;
	if (tp->snd_max != tp->snd_una || ring_len(&tp->snd)) {
		/* the retransmission timer watches the peer already */
		tcp_timer_arm(eng, &tp->t[TCPT_KEEP], now + tp->keep_idle);
		return;
	}
	if (idle < tp->keep_idle && !tp->probes) {
		tcp_timer_arm(eng, &tp->t[TCPT_KEEP], tp->last_rcv + tp->keep_idle);
		return;
	}
	/* Linux tcp_keepalive_timer(): "If the TCP_USER_TIMEOUT option is enabled,
	 * use that to determine when to timeout instead" (after one probe at least) */
	if ((tp->user_timeout && idle >= MSEC((uint64_t)tp->user_timeout) && tp->probes) ||
	    (!tp->user_timeout && tp->probes >= tp->keep_cnt)) {
		tcp_send_active_rst(tp, now);
		tcp_done(tp, tp->err_soft ? tp->err_soft : ETIMEDOUT);
		return;
	}
	tp->probes++;
	eng_count(eng, TCP_KEEPALIVE_PROBES);
	tcp_send_probe(tp, now);
	tcp_timer_arm(eng, &tp->t[TCPT_KEEP], now + tp->keep_intvl);
}

static void sock_timer(struct tcp_sock *tp, int which, uint64_t now)
{
	switch (which) {
	case TCPT_REXMT:
		if (tp->flags & TF_TLP_ARMED)
			tcp_send_loss_probe(tp, now);   /* the PTO, not an RTO (RFC 8985 7.3) */
		else
			rexmt_timer(tp, now);
		break;
	case TCPT_PERSIST:
		persist_timer(tp, now);
		break;
	case TCPT_KEEP:
		keep_timer(tp, now);
		break;
	case TCPT_DELACK:
		if (tcp_in_state(tp, TCPS_SYNCHRONIZED)) {
			/* Linux tcp_delack_timer_handler: "Delayed ACK missed:
			 * inflate ATO" (up to the RTO), or in interactive mode
			 * "leave pingpong mode and deflate ATO" */
			if (!(tp->flags & TF_PINGPONG)) {
				uint64_t rto = tcp_rtt_rto(&tp->rtt);
				tp->ato = tp->ato * 2 < rto ? tp->ato * 2 : rto;
			} else {
				tp->flags &= ~TF_PINGPONG;
				tp->ato = TCP_ATO_MIN;
			}
			tp->flags |= TF_ACKNOW;
			tcp_output(tp, now);
		}
		break;
	case TCPT_LINGER:
		/* the linger time passed: release the closing caller, nothing else
		 * (Linux: sk_stream_wait_close times out, tcp_close goes on) */
		tcp_linger_check(tp, true);
		break;
	case TCPT_CORK:
		/* Linux's ceiling on corking (tcp(7): "a 200 millisecond ceiling on
		 * the time for which output is corked"): the held partial segment goes */
		if (tcp_in_state(tp, TCPS_ESTABLISHED | TCPS_CLOSE_WAIT)) {
			tp->flags |= TF_CORK_PUSH;
			tcp_output(tp, now);
			tp->flags &= ~TF_CORK_PUSH;
		}
		break;
	case TCPT_FIN_WAIT2:
		/* Linux: the orphaned FIN-WAIT-2 record just goes away */
		if (tcp_in_state(tp, TCPS_FIN_WAIT_2))
			tcp_done(tp, 0);
		break;
	default:
		break;
	}
	tcp_maybe_free(tp);
}

/* SYN-ACK retransmission (Linux reqsk_timer_handler): tcp_synack_retries (5)
 * times from 1 s doubling, then the record is dropped (63 s). With
 * TCP_DEFER_ACCEPT the limit is max(synack_retries, defer count), and a
 * record whose bare ACK was dropped (acked) is not resent until the last
 * deferring period, "to give last chance for data or ACK to create
 * established socket" (Linux syn_ack_recalc); its timer still runs. */
static void synack_timer(struct eng *eng, struct tcp_req *req, uint64_t now)
{
	const struct tcp_params *p = &eng->cfg.tcp;
	unsigned defer = req->listener->defer_accept;
	unsigned max = p->synack_retries;
	bool resend = true;
	uint64_t rto;

	if (defer) {
		if (defer > max)
			max = defer;
		resend = !req->acked || req->retries + 1u >= defer;
	}
	if (req->retries >= max) {
		tcp_set_state(eng, &req->c, TCPS_CLOSED);
		tcp_req_free(eng, req);
		return;
	}
	req->retries++;
	if (resend) {
		eng_count(eng, TCP_RETRANS_SEGS);
		tcp_send_synack_req(eng, req, now);
	}
	rto = p->rto_initial << req->retries;
	if (rto > p->rto_max)
		rto = p->rto_max;
	tcp_timer_arm(eng, &req->t, now + rto);
}

void tcp_timer_fire(struct eng *eng, struct tcp_tnode *t, uint64_t now)
{
	switch (t->kind) {
	case TCPK_SOCK: {
		struct tcp_sock *tp = (struct tcp_sock *)(void *)((char *)(t - t->which) -
								   offsetof(struct tcp_sock, t));
		sock_timer(tp, t->which, now);
		break;
	}
	case TCPK_REQ:
		synack_timer(eng, timer_entry(t, struct tcp_req, t), now);
		break;
	case TCPK_TW: {
		struct tcp_tw *tw = timer_entry(t, struct tcp_tw, t);
		tcp_set_state(eng, &tw->c, TCPS_CLOSED);
		tcp_tw_free(eng, tw);
		break;
	}
	}
}

uint64_t tcp_poll(struct eng *eng, uint64_t now)
{
	struct tcp_stack *st = eng->tcp;
	struct timer_node *n;

	while ((n = timer_heap_pop_expired(&st->timers, now)))
		tcp_timer_fire(eng, (struct tcp_tnode *)(void *)n, now);
	tcp_run_wakeups(eng);
	return timer_heap_next(&st->timers);
}
