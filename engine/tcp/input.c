/* input.c - TCP segment arrival in RFC 9293 3.10.7 order (RFC 9293, RFC 5961, RFC 7323, RFC 5681, RFC 6582, RFC 4987).
 *
 * Entry points per state as the RFC has them: CLOSED (no record), LISTEN,
 * SYN-SENT, and the synchronized states with their numbered checks. Request
 * records (SYN-RECEIVED of a passive open) and TIME-WAIT records have their own
 * small paths, shaped like Linux's tcp_check_req() and
 * tcp_timewait_state_process(). Where the RFC leaves a choice, Linux's is made. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "base/csum.h"
#include "base/log.h"
#include "base/time.h"
#include "eng.h"
#include "ip/ip.h"
#include "tcp/cookie.h"
#include "tcp/isn.h"
#include "tcp/tcb.h"

#define TCP_MAX_WS 14

/* Our window scale: as Linux, large enough for tcp_rmem[2] (6 MB) -> 7. */
static uint8_t our_wscale(uint32_t rcvbuf)
{
	uint32_t space = rcvbuf > 6291456u ? rcvbuf : 6291456u;
	uint8_t ws = 0;

	while (space > 65535 && ws < TCP_MAX_WS) {
		space >>= 1;
		ws++;
	}
	return ws;
}

static uint16_t our_mss(struct eng *eng)
{
	return (uint16_t)(eng->link ? eng->link->mtu - 40 : 1460);
}

/* RFC 9293 3.7.1 / RFC 6691: send MSS = min(peer's MSS option, our MTU - 40,
 * TCP_MAXSEG), less the timestamp option every segment carries. */
void tcp_sync_mss(struct tcp_sock *tp)
{
	uint32_t mss = tp->peer_mss;

	if (mss > our_mss(tp->eng))
		mss = our_mss(tp->eng);
	if (tp->pmtu && mss > tp->pmtu - 40u)
		mss = tp->pmtu - 40u;
	if (tp->user_mss && tp->user_mss < mss)
		mss = tp->user_mss;
	if (tp->ts_ok)
		mss -= 12;
	if (mss < 64)
		mss = 64;
	tp->mss = (uint16_t)mss;
}

/* --- delayed ACK (RFC 1122 4.2.3.2, RFC 5681 4.2; Linux tcp_input.c) -------- */

/* Linux tcp_incr_quickack(): ACK the next segments at once, as many as half
 * the window in receive-MSS units (at least 2), at most `max`. */
static void incr_quickack(struct tcp_sock *tp, unsigned max)
{
	unsigned q = tp->rcv_mss ? tp->rcv_wnd / (2u * tp->rcv_mss) : 0;

	if (!q)
		q = 2;
	if (q > max)
		q = max;
	if (q > tp->quickacks)
		tp->quickacks = q;
}

/* Linux tcp_enter_quickack_mode(): after a retransmission, a zero or
 * overrun window, a long gap: ACK promptly again, interactive mode off. */
void tcp_enter_quickack_mode(struct tcp_sock *tp, unsigned max)
{
	incr_quickack(tp, max);
	tp->flags &= ~TF_PINGPONG;
	tp->ato = TCP_ATO_MIN;
}

/* Linux tcp_event_data_recv(): the ACK timeout (ato) follows the gaps between
 * data segments: halved towards TCP_ATO_MIN when they come fast, towards the
 * gap when slower, bounded by the RTO; quick ACKs at the very start (ato 0:
 * "The _first_ data packet received, initialize delayed ACK engine") and
 * after a gap longer than the RTO. */
void tcp_event_data_recv(struct tcp_sock *tp, uint64_t now)
{
	uint64_t rto = tcp_rtt_rto(&tp->rtt);

	if (!tp->ato) {
		incr_quickack(tp, TCP_MAX_QUICKACKS);
		tp->ato = TCP_ATO_MIN;
	} else {
		uint64_t m = now - tp->last_data_rcv;

		if (m <= TCP_ATO_MIN / 2) {
			tp->ato = tp->ato / 2 + TCP_ATO_MIN / 2;
		} else if (m < tp->ato) {
			tp->ato = tp->ato / 2 + m;
			if (tp->ato > rto)
				tp->ato = rto;
		} else if (m > rto) {
			incr_quickack(tp, TCP_MAX_QUICKACKS);
		}
	}
	tp->last_data_rcv = now;
}

/* Linux tcp_send_delayed_ack(): arm the delayed-ACK timer for ato, at most
 * TCP_DELACK_MAX (200 ms) in interactive mode or after small segments, else
 * 500 ms, and no more than the smoothed RTT (but at least TCP_DELACK_MIN). An
 * older, earlier deadline stays; one about to expire sends the ACK now. */
void tcp_send_delayed_ack(struct tcp_sock *tp, uint64_t now)
{
	uint64_t ato = tp->ato ? tp->ato : TCP_ATO_MIN, when;

	if (ato > TCP_DELACK_MIN) {
		uint64_t max_ato = MSEC(500), srtt = tcp_rtt_srtt(&tp->rtt);

		if (tp->flags & (TF_PINGPONG | TF_ACK_PUSHED))
			max_ato = TCP_DELACK_MAX;
		if (srtt) {
			if (srtt < TCP_DELACK_MIN)
				srtt = TCP_DELACK_MIN;
			if (srtt < max_ato)
				max_ato = srtt;
		}
		if (ato > max_ato)
			ato = max_ato;
	}
	when = now + ato;
	if (tcp_timer_on(&tp->t[TCPT_DELACK])) {
		uint64_t old = tp->t[TCPT_DELACK].node.when;

		if (old <= now + ato / 4) {
			tcp_send_ack(tp, now);
			return;
		}
		if (old < when)
			when = old;
	}
	tcp_timer_arm(tp->eng, &tp->t[TCPT_DELACK], when);
}

/* Linux __tcp_ack_snd_check(): ACK now when more than one full segment is
 * unacknowledged (RFC 5681 4.2: "an ACK SHOULD be generated for at least
 * every second full-sized segment"), in quick ACK mode, or while data is out
 * of order; else delay it (RFC 1122 4.2.3.2: "MUST be less than 0.5 seconds"). */
void tcp_ack_snd_check(struct tcp_sock *tp, uint64_t now)
{
	if (tp->rcv_nxt - tp->rcv_wup > tp->rcv_mss ||
	    (tp->quickacks && !(tp->flags & TF_PINGPONG)) || !tcp_ofo_empty(&tp->ofo)) {
		tp->flags |= TF_ACKNOW;
		return;
	}
	tcp_send_delayed_ack(tp, now);
}

/* --- LISTEN ---------------------------------------------------------------- */

static struct tcp_sock *child_new(struct tcp_sock *l, uint32_t laddr, uint32_t raddr,
				  uint16_t rport)
{
	struct tcp_sock *tp = tcp_sock_alloc(l->eng);

	if (!tp)
		return NULL;
	tp->c.laddr = laddr;
	tp->c.raddr = raddr;
	tp->c.lport = l->c.lport;
	tp->c.rport = rport;
	/* what Linux's child inherits from the listener (sk_clone: sk_reuse,
	 * sk_userlocks, icsk_syn_retries, icsk_user_timeout ...) */
	tp->flags |= TF_PASSIVE | TF_BOUND |
		     (l->flags & (TF_NODELAY | TF_KEEPALIVE | TF_CORK | TF_REUSEADDR |
				  TF_BIND_ADDR | TF_BIND_PORT | TF_SNDBUF_LOCK | TF_RCVBUF_LOCK));
	tp->syn_retries = l->syn_retries;
	tp->user_timeout = l->user_timeout;
	tcp_bind_hash_add(l->eng->tcp, tp);
	tp->keep_idle = l->keep_idle;
	tp->keep_intvl = l->keep_intvl;
	tp->keep_cnt = l->keep_cnt;
	tp->linger2 = l->linger2;
	tp->user_mss = l->user_mss;
	tp->cc_ops = l->cc_ops;
	tp->sndbuf = l->sndbuf;
	tp->rcvbuf = l->rcvbuf;
	ring_set_limit(&tp->snd, tcp_sndbuf_payload(tp->sndbuf));
	ring_set_limit(&tp->rcv, tcp_rcv_limit(tp->rcvbuf));
	if (l->flags & TF_LINGER) {
		tp->flags |= TF_LINGER;
		tp->linger = l->linger;
	}
	return tp;
}

/* A child socket is synchronized: fill it from the handshake's values. */
static void child_sync(struct tcp_sock *tp, uint32_t iss, uint32_t irs, uint16_t peer_mss,
		       bool ws_ok, uint8_t snd_ws, uint8_t rcv_ws, bool sack_ok, bool ts_ok,
		       uint32_t ts_recent, uint32_t ts_off, uint64_t now)
{
	tp->iss = iss;
	tp->irs = irs;
	tp->snd_una = iss;       /* the ACK processing below advances it past the SYN */
	tp->snd_nxt = tp->snd_max = iss + 1;
	tp->rcv_nxt = irs + 1;
	tp->rcv_wup = tp->rcv_nxt;
	tp->ws_ok = ws_ok;
	tp->snd_ws = ws_ok ? snd_ws : 0;
	tp->rcv_ws = ws_ok ? rcv_ws : 0;
	tp->sack_ok = sack_ok;
	tp->ts_ok = ts_ok;
	tp->ts_recent = ts_recent;
	tp->ts_recent_stamp = now;
	tp->ts_off = ts_off;
	tp->peer_mss = peer_mss;
	tcp_sync_mss(tp);
	tp->rcv_mss = tp->mss < 536 ? tp->mss : 536;
	tp->rcv_adv = tp->rcv_nxt + 65535;  /* what the SYN-ACK offered, at most */
	tcp_cc_init(&tp->cc, tp->cc_ops, tp->mss, iss);
	tp->last_rcv = now;
	tp->c.state = TCPS_SYN_RECEIVED; /* continues the request record's state */
}

static enum drop_reason listen_syn(struct tcp_sock *l, const struct ip_info *ip,
				   const struct tcp_seg *seg, uint32_t isn, uint64_t now)
{
	struct eng *eng = l->eng;
	const struct tcp_params *p = &eng->cfg.tcp;
	struct tcp_req *req;

	/* Linux tcp_conn_request(): a full accept queue drops the SYN
	 * (sk_acceptq_is_full: more than backlog waiting); a full SYN queue
	 * answers with a cookie when tcp_syncookies allows, else drops. */
	if (l->acceptq_len > (unsigned)l->backlog)
		return DROP_TCP_LISTEN_OVERFLOW;
	/* inet_csk_reqsk_queue_is_full(): the listener's SYN queue holds up to
	 * its backlog; past that a cookie (tcp_syncookies 1), or a drop (0) */
	if (!isn && (p->syncookies == 2 || l->synq_len >= (unsigned)l->backlog)) {
		struct tcp_seg s;
		uint16_t mss = (seg->opts & TCPOPT_F_MSS) ? seg->mss : 536;
		struct tcp_cookie_opts o = {
			.ws_ok = !!(seg->opts & TCPOPT_F_WS),
			.ws = seg->ws > TCP_MAX_WS ? TCP_MAX_WS : seg->ws,
			.sack_ok = !!(seg->opts & TCPOPT_F_SACKOK),
		};
		uint32_t ts_off = tcp_ts_off(eng->cfg.secret, ip->dst, ip->src);

		if (!p->syncookies)
			return DROP_TCP_LISTEN_OVERFLOW;
		memset(&s, 0, sizeof(s));
		s.sport = seg->dport;
		s.dport = seg->sport;
		s.seq = tcp_cookie_make(eng->cfg.secret, ip->dst, seg->dport, ip->src, seg->sport,
					seg->seq, &mss, now);
		s.ack = seg->seq + 1;
		s.flags = TH_SYN | TH_ACK;
		s.win = 65535 - 65535 % our_mss(eng);
		s.opts = TCPOPT_F_MSS;
		s.mss = our_mss(eng);
		/* RFC 4987 3.6: without timestamps a cookie cannot carry the
		 * options, so only MSS is offered (as Linux) */
		if (seg->opts & TCPOPT_F_TS) {
			s.opts |= TCPOPT_F_TS;
			s.tsval = tcp_cookie_ts(tcp_ts_now(now), &o) + ts_off;
			s.tsecr = seg->tsval;
			if (o.sack_ok)
				s.opts |= TCPOPT_F_SACKOK;
			if (o.ws_ok) {
				s.opts |= TCPOPT_F_WS;
				s.ws = our_wscale(l->rcvbuf);
			}
		}
		l->synq_overflow_stamp = now;
		eng_count(eng, TCP_SYNCOOKIES_SENT);
		tcp_xmit_raw(eng, ip->dst, ip->src, &s, NULL, 0, now);
		return DROP_NONE;
	}
	/* Linux tcp_conn_request(), without cookies: "last quarter of backlog
	 * is filled with destinations, proven to be alive": once fewer than a
	 * quarter of tcp_max_syn_backlog slots are left, new SYNs are dropped
	 * (no peer is "proven" here: there is no TCP metrics cache) */
	if (!isn && !p->syncookies &&
	    p->max_syn_backlog - (l->synq_len < p->max_syn_backlog ? l->synq_len : p->max_syn_backlog) <
		    (p->max_syn_backlog >> 2))
		return DROP_TCP_LISTEN_OVERFLOW;
	req = calloc(1, sizeof(*req));
	if (!req)
		return DROP_TCP_LISTEN_OVERFLOW;
	req->c.kind = TCPK_REQ;
	req->c.state = TCPS_LISTEN;
	req->c.laddr = ip->dst;
	req->c.raddr = ip->src;
	req->c.lport = seg->dport;
	req->c.rport = seg->sport;
	timer_node_init(&req->t.node);
	req->t.kind = TCPK_REQ;
	req->t.which = TCPT_SYNACK;
	req->listener = l;
	req->irs = seg->seq;
	req->iss = isn ? isn : tcp_isn(eng->cfg.secret, ip->dst, seg->dport, ip->src, seg->sport, now);
	req->mss = (seg->opts & TCPOPT_F_MSS) ? seg->mss : 536;
	req->peer_win = seg->win;
	/* RFC 7323 2.2: window scaling only when both SYNs carry the option;
	 * a shift over 14 is used as 14 */
	req->ws_ok = !!(seg->opts & TCPOPT_F_WS);
	req->snd_ws = seg->ws > TCP_MAX_WS ? TCP_MAX_WS : seg->ws;
	req->rcv_ws = req->ws_ok ? our_wscale(l->rcvbuf) : 0;
	req->sack_ok = !!(seg->opts & TCPOPT_F_SACKOK);
	req->ts_ok = !!(seg->opts & TCPOPT_F_TS);
	req->ts_recent = seg->tsval;
	req->ts_off = req->ts_ok ? tcp_ts_off(eng->cfg.secret, ip->dst, ip->src) : 0;
	tcp_hash_add(eng->tcp, &req->c);
	req->lnext = l->synq;
	if (l->synq)
		l->synq->lpprev = &req->lnext;
	req->lpprev = &l->synq;
	l->synq = req;
	l->synq_len++;
	eng->tcp->nreq++;
	tcp_set_state(eng, &req->c, TCPS_SYN_RECEIVED);
	eng_count(eng, TCP_PASSIVE_OPENS);
	tcp_send_synack_req(eng, req, now);
	tcp_timer_arm(eng, &req->t, now + p->rto_initial);
	return DROP_NONE;
}

static enum drop_reason rcv_synchronized(struct tcp_sock *tp, const struct ip_info *ip,
					 const struct tcp_seg *seg, uint64_t now);

/* The ACK of a SYN cookie (RFC 4987 3.6): rebuild the connection from it. */
static enum drop_reason listen_cookie_ack(struct tcp_sock *l, const struct ip_info *ip,
					  const struct tcp_seg *seg, uint64_t now)
{
	struct eng *eng = l->eng;
	struct tcp_cookie_opts o = { 0 };
	struct tcp_sock *tp;
	uint32_t ts_off = tcp_ts_off(eng->cfg.secret, ip->dst, ip->src);
	uint16_t mss;

	mss = tcp_cookie_check(eng->cfg.secret, ip->dst, seg->dport, ip->src, seg->sport,
			       seg->seq, seg->ack, now);
	if (!mss)
		return DROP_TCP_BAD_COOKIE;
	if (l->acceptq_len > (unsigned)l->backlog)
		return DROP_TCP_LISTEN_OVERFLOW;
	if (seg->opts & TCPOPT_F_TS)
		tcp_cookie_ts_decode(seg->tsecr - ts_off, &o);
	tp = child_new(l, ip->dst, ip->src, seg->sport);
	if (!tp)
		return DROP_TCP_LISTEN_OVERFLOW;
	eng_count(eng, TCP_SYNCOOKIES_OK);
	child_sync(tp, seg->ack - 1, seg->seq - 1, mss, o.ws_ok, o.ws, our_wscale(l->rcvbuf),
		   o.sack_ok, !!(seg->opts & TCPOPT_F_TS), seg->tsval, ts_off, now);
	tcp_hash_add(eng->tcp, &tp->c);
	tcp_set_state(eng, &tp->c, TCPS_SYN_RECEIVED);
	tp->parent = l;
	return rcv_synchronized(tp, ip, seg, now);
}

/* RFC 9293 3.10.7.2: LISTEN state. */
static enum drop_reason rcv_listen(struct tcp_sock *l, const struct ip_info *ip,
				   const struct tcp_seg *seg, uint32_t isn, uint64_t now)
{
	/* first: check for a RST: "An incoming RST segment could not be valid ... ignore it" */
	if (seg->flags & TH_RST)
		return DROP_TCP_NO_SOCKET;
	/* second: check for an ACK: "Any acknowledgment is bad ... <SEQ=SEG.ACK><CTL=RST>",
	 * unless it completes a SYN cookie handshake */
	if (seg->flags & TH_ACK) {
		enum drop_reason r = DROP_TCP_NO_SOCKET;

		if (!(seg->flags & TH_SYN) && l->synq_overflow_stamp &&
		    now - l->synq_overflow_stamp < SEC(128))
			r = listen_cookie_ack(l, ip, seg, now);
		if (r == DROP_NONE)
			return r;
		if (r != DROP_TCP_LISTEN_OVERFLOW)
			tcp_send_reset_reply(l->eng, ip, seg, now);
		return r;
	}
	/* third: check for a SYN (Linux drops SYN+FIN) */
	if ((seg->flags & TH_SYN) && !(seg->flags & TH_FIN))
		return listen_syn(l, ip, seg, isn, now);
	/* fourth: other text or control: drop */
	return DROP_TCP_BAD_FLAGS;
}

/* --- SYN-RECEIVED request records (Linux tcp_check_req) -------------------- */

static enum drop_reason rcv_req(struct tcp_req *req, const struct ip_info *ip,
				const struct tcp_seg *seg, uint64_t now)
{
	struct tcp_sock *l = req->listener, *tp;
	struct eng *eng = l->eng;
	bool paws = req->ts_ok && (seg->opts & TCPOPT_F_TS) && !(seg->flags & TH_RST) &&
		    seq_lt(seg->tsval, req->ts_recent);
	uint32_t rcv_nxt = req->irs + 1;

	/* a retransmitted SYN: retransmit the SYN-ACK */
	if (seg->seq == req->irs && (seg->flags & (TH_SYN | TH_RST | TH_ACK | TH_FIN)) == TH_SYN &&
	    !paws) {
		tcp_send_synack_req(eng, req, now);
		return DROP_NONE;
	}
	/* RFC 9293 3.10.7.4 fifth, SYN-RECEIVED: "If SND.UNA < SEG.ACK =< SND.NXT then
	 * enter ESTABLISHED ... If the segment acknowledgment is not acceptable,
	 * form a reset segment <SEQ=SEG.ACK><CTL=RST>" */
	if ((seg->flags & TH_ACK) && !paws && seg->ack != req->iss + 1) {
		if (!(seg->flags & TH_RST))
			tcp_send_reset_reply(eng, ip, seg, now);
		return DROP_TCP_BAD_ACK;
	}
	/* first: sequence number check (and PAWS) */
	if (paws || !(seq_geq(seg->seq + tcp_seg_seqlen(seg), rcv_nxt) &&
		      seq_leq(seg->seq, rcv_nxt + 65535))) {
		if (!(seg->flags & TH_RST)) {
			struct tcp_seg s;

			memset(&s, 0, sizeof(s));
			s.sport = req->c.lport;
			s.dport = req->c.rport;
			s.seq = req->iss + 1;
			s.ack = rcv_nxt;
			s.flags = TH_ACK;
			s.win = 65535 - 65535 % 1460;
			tcp_xmit_raw(eng, req->c.laddr, req->c.raddr, &s, NULL, 0, now);
		}
		return paws ? DROP_TCP_PAWS : DROP_TCP_OLD_SEGMENT;
	}
	/* second/fourth: RST or SYN in the window: "If this connection was initiated
	 * with a passive OPEN ... return this connection to LISTEN state" (Linux
	 * answers the SYN with a RST first) */
	if (seg->flags & (TH_RST | TH_SYN)) {
		if (!(seg->flags & TH_RST))
			tcp_send_reset_reply(eng, ip, seg, now);
		tcp_set_state(eng, &req->c, TCPS_LISTEN);
		tcp_req_free(eng, req);
		return (seg->flags & TH_RST) ? DROP_NONE : DROP_TCP_BAD_SYN;
	}
	if (!(seg->flags & TH_ACK))
		return DROP_TCP_BAD_FLAGS;
	/* TCP_DEFER_ACCEPT (Linux tcp_check_req): "While TCP_DEFER_ACCEPT is active,
	 * drop bare ACK": no data and no FIN, and fewer SYN-ACK retransmissions than
	 * the defer count. The record stays, marked acked (its timer then holds the
	 * SYN-ACK back until the last period, syn_ack_recalc); data creates the
	 * connection with it, and once the count is reached a bare ACK does too. */
	if (req->retries < l->defer_accept && seg->seq + tcp_seg_seqlen(seg) == rcv_nxt) {
		req->acked = 1;
		return DROP_TCP_DEFER_ACCEPT;
	}
	/* the handshake completes: Linux keeps the record (and the peer
	 * retransmits its ACK on our SYN-ACK retransmission) while the accept
	 * queue is full (tcp_abort_on_overflow = 0) */
	if (l->acceptq_len > (unsigned)l->backlog) {
		req->acked = 1;
		return DROP_TCP_LISTEN_OVERFLOW;
	}
	tp = child_new(l, req->c.laddr, req->c.raddr, req->c.rport);
	if (!tp)
		return DROP_TCP_LISTEN_OVERFLOW;
	child_sync(tp, req->iss, req->irs, req->mss, req->ws_ok, req->snd_ws, req->rcv_ws,
		   req->sack_ok, req->ts_ok, req->ts_recent, req->ts_off, now);
	tcp_req_free(eng, req);
	tcp_hash_add(eng->tcp, &tp->c);
	tp->parent = l;
	return rcv_synchronized(tp, ip, seg, now);
}

/* --- SYN-SENT (RFC 9293 3.10.7.3) ------------------------------------------ */

static void rtt_sample(struct tcp_sock *tp, uint64_t rtt)
{
	if (rtt)
		tcp_rtt_sample(&tp->rtt, rtt, tp->snd_una, tp->snd_nxt);
}

static enum drop_reason rcv_syn_sent(struct tcp_sock *tp, const struct ip_info *ip,
				     const struct tcp_seg *seg, uint64_t now)
{
	struct eng *eng = tp->eng;

	/* first: check the ACK bit: "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a
	 * reset (unless the RST bit is set, if so drop the segment and return)
	 * <SEQ=SEG.ACK><CTL=RST>" */
	if ((seg->flags & TH_ACK) && (seq_leq(seg->ack, tp->iss) || seq_gt(seg->ack, tp->snd_max))) {
		if (!(seg->flags & TH_RST))
			tcp_send_reset_reply(eng, ip, seg, now);
		return DROP_TCP_BAD_ACK;
	}
	/* second: check the RST bit: "If the ACK was acceptable, then signal to
	 * the user 'error: connection reset', drop the segment, enter CLOSED";
	 * without an ACK the RST is dropped (RFC 5961 3.2 for SYN-SENT) */
	if (seg->flags & TH_RST) {
		if (!(seg->flags & TH_ACK))
			return DROP_TCP_BAD_RST;
		eng_count(eng, TCP_ATTEMPT_FAILS);
		tcp_done(tp, ECONNREFUSED);
		return DROP_NONE;
	}
	/* third: security and precedence: not kept */
	/* fourth: check the SYN bit */
	if (!(seg->flags & TH_SYN))
		return DROP_TCP_BAD_FLAGS;
	tp->irs = seg->seq;
	tp->rcv_nxt = seg->seq + 1;
	tp->rcv_wup = tp->rcv_nxt;
	tp->rcv_adv = tp->rcv_nxt + tp->rcv_wnd;   /* the window our SYN offered */
	tp->peer_mss = (seg->opts & TCPOPT_F_MSS) ? seg->mss : 536;
	tp->ws_ok = !!(seg->opts & TCPOPT_F_WS);
	tp->snd_ws = tp->ws_ok ? (seg->ws > TCP_MAX_WS ? TCP_MAX_WS : seg->ws) : 0;
	if (!tp->ws_ok)
		tp->rcv_ws = 0;
	tp->sack_ok = !!(seg->opts & TCPOPT_F_SACKOK);
	tp->ts_ok = !!(seg->opts & TCPOPT_F_TS);
	if (tp->ts_ok) {
		tp->ts_recent = seg->tsval;
		tp->ts_recent_stamp = now;
	}
	tcp_sync_mss(tp);
	tp->rcv_mss = tp->mss < 536 ? tp->mss : 536;
	tp->snd_wnd = seg->win;  /* RFC 7323 2.2: the window of a SYN is never scaled */
	tp->max_snd_wnd = tp->snd_wnd;
	tp->snd_wl1 = seg->seq;
	tp->snd_wl2 = seg->ack;
	tcp_cc_init(&tp->cc, tp->cc_ops, tp->mss, tp->iss);
	if (seg->flags & TH_ACK) {
		/* "If SND.UNA > ISS (our SYN has been ACKed), change the connection
		 * state to ESTABLISHED, form an ACK segment <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>" */
		tp->snd_una = seg->ack;
		tcp_timer_stop(eng, &tp->t[TCPT_REXMT]);
		if (!(tp->flags & TF_SYN_REXMIT))
			rtt_sample(tp, now - tp->rtt_start);
		else
			tcp_rtt_syn_fallback(&tp->rtt);
		tp->retries = 0;
		tp->retrans_stamp = 0;
		tp->last_rcv = now;
		tp->flags |= TF_WAS_CONN;
		tcp_set_state(eng, &tp->c, TCPS_ESTABLISHED);
		tcp_sndbuf_expand(tp);   /* Linux tcp_init_buffer_space() */
		tcp_keep_reset(tp, now);
		tcp_wake(tp);
		if (seg->len || (seg->flags & TH_FIN)) {
			/* "If there are other controls or text in the segment,
			 * then continue processing at the sixth step": Linux
			 * queues data carried on a SYN-ACK, and a FIN closes
			 * our receive side. The rest of the segment comes past
			 * the SYN; its window is the SYN's, unscaled, already taken. */
			struct tcp_seg rest = *seg;

			rest.flags &= (uint8_t)~TH_SYN;
			rest.seq = seg->seq + 1;
			rest.win = (uint16_t)(tp->snd_wnd >> tp->snd_ws);
			tp->flags |= TF_ACKNOW;
			return rcv_synchronized(tp, ip, &rest, now);
		}
		tcp_send_ack(tp, now);
		tcp_output(tp, now);
		return DROP_NONE;
	}
	/* "Otherwise enter SYN-RECEIVED, form a SYN,ACK segment
	 * <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>" (simultaneous open) */
	tcp_set_state(eng, &tp->c, TCPS_SYN_RECEIVED);
	tp->flags |= TF_SYN_REXMIT; /* no RTT sample from this exchange */
	tcp_send_syn(tp, now);
	return DROP_NONE;
}

/* --- the synchronized states (RFC 9293 3.10.7.4) --------------------------- */

/* Send an ACK for an unacceptable segment: always for data, rate limited for
 * pure ACKs and SYNs (Linux tcp_oow_rate_limited, RFC 5961 7). */
static void oow_ack(struct tcp_sock *tp, const struct tcp_seg *seg, uint64_t now)
{
	if (seg->len && !(seg->flags & TH_SYN)) {
		tcp_send_ack(tp, now);
		return;
	}
	if (tp->last_oow_ack && now - tp->last_oow_ack < MSEC(500))
		return;
	tp->last_oow_ack = now;
	tcp_send_ack(tp, now);
}

/* Our FIN is acknowledged by this ACK. */
static bool fin_acked(const struct tcp_sock *tp)
{
	return (tp->flags & TF_FIN_QUEUED) && seq_gt(tp->snd_una, tp->fin_seq);
}

static void enter_fin_wait2(struct tcp_sock *tp, uint64_t now)
{
	struct eng *eng = tp->eng;

	tcp_set_state(eng, &tp->c, TCPS_FIN_WAIT_2);
	tcp_timer_stop(eng, &tp->t[TCPT_REXMT]);
	tcp_wake(tp);
	/* The orphaned FIN-WAIT-2 timeout (Linux tcp_fin_timeout, TCP_LINGER2):
	 * a peer that never closes must not hold the record forever. */
	if (tp->flags & TF_ORPHAN) {
		if (tp->linger2 < 0) {
			tcp_send_active_rst(tp, now);
			tcp_done(tp, 0);
			return;
		}
		tcp_timer_arm(eng, &tp->t[TCPT_FIN_WAIT2],
			      now + (tp->linger2 > 0 ? (uint64_t)tp->linger2 : eng->cfg.tcp.fin_wait2));
	}
}

/* RFC 9293 3.10.7.4 fifth: the ACK field, for the states past SYN-RECEIVED.
 * Returns DROP_NONE to go on, or the reason to stop. */
static enum drop_reason process_ack(struct tcp_sock *tp, const struct tcp_seg *seg, uint64_t now)
{
	struct eng *eng = tp->eng;
	uint32_t swnd = (uint32_t)seg->win << tp->snd_ws;
	uint32_t newly_sacked;

	/* RFC 5961 5.2: "(SND.UNA - MAX.SND.WND) =< SEG.ACK =< SND.NXT"; an older
	 * ACK is answered with a challenge ACK and dropped. An ACK of unsent data
	 * is dropped without an answer, as Linux does (tcp_ack(): "discard this
	 * segment (RFC793 Section 3.9)"). */
	if (seq_gt(seg->ack, tp->snd_max))
		return DROP_TCP_BAD_ACK;
	if (seq_lt(seg->ack, tp->snd_una - tp->max_snd_wnd)) {
		tcp_challenge_ack(tp, now);
		return DROP_TCP_BAD_ACK;
	}
	tp->probes = 0;
	newly_sacked = tcp_sack_rcv(tp, seg);
	if (seq_gt(seg->ack, tp->snd_una)) {
		uint32_t acked = seg->ack - tp->snd_una, data = acked;
		uint64_t rtt = 0;
		struct tcp_cc_ack a;
		enum tcp_cc_act act;

		if (tp->snd_una == tp->iss)
			data--;                     /* the SYN */
		if ((tp->flags & TF_FIN_QUEUED) && seq_gt(seg->ack, tp->fin_seq))
			data--;                     /* our FIN */
		ring_consume(&tp->snd, data);
		tp->snd_una = seg->ack;
		if (seq_lt(tp->snd_nxt, tp->snd_una))
			tp->snd_nxt = tp->snd_una;
		/* RFC 6298 (2.2)-(2.3), Karn's rule applied where segments are sent */
		if ((tp->flags & TF_RTT_TIMING) && seq_gt(seg->ack, tp->rtt_seq)) {
			tp->flags &= ~TF_RTT_TIMING;
			rtt = now - tp->rtt_start;
			if (!rtt)
				rtt = 1;
			rtt_sample(tp, rtt);
		}
		tp->retries = 0;
		tp->retrans_stamp = 0;
		/* Linux tcp_ack(): "We passed data and got it acked, remove any
		 * soft error log. Something worked..." */
		tp->err_soft = 0;
		a = (struct tcp_cc_ack){ .ack = seg->ack, .acked = data,
					 .flight = tp->snd_nxt - tp->snd_una, .rtt = rtt,
					 .app_limited = false };
		act = tcp_cc_on_ack(&tp->cc, &a, now);
		/* RFC 6298 (5.2)/(5.3): all acked -> stop, else restart the timer */
		/* RFC 8985 7.4: the probe episode ends once the ACK covers it */
		if (tp->tlp_high_seq && seq_geq(seg->ack, tp->tlp_high_seq))
			tp->tlp_high_seq = 0;
		if (tp->snd_una == tp->snd_max) {
			tcp_timer_stop(eng, &tp->t[TCPT_REXMT]);
		} else {
			tcp_arm_rexmt(tp, now);
			tcp_set_xmit_timer(tp, now);   /* or the PTO (RFC 8985 7.2) */
		}
		if (act == TCP_CC_RETRANSMIT)
			tcp_retransmit_head(tp, now);
		/* Linux tcp_check_space() -> tcp_new_space(): a writer that found
		 * the buffer full gets a bigger one when cwnd is not the limit
		 * (tcp_should_expand_sndbuf), and is woken once it is writable */
		if (tp->flags & TF_NOSPACE) {
			if (tp->snd_nxt - tp->snd_una < tp->cc.cwnd)
				tcp_sndbuf_expand(tp);
			if (ring_space(&tp->snd) >= ring_len(&tp->snd) / 2)
				tp->flags &= ~TF_NOSPACE;
		}
		tcp_wake(tp);
	} else if (tp->sack_ok && seg->ack == tp->snd_una && tp->snd_max != tp->snd_una &&
		   (newly_sacked || (!(seg->opts & TCPOPT_F_SACK) && !seg->len &&
				     !(seg->flags & (TH_SYN | TH_FIN)) && swnd == tp->snd_wnd))) {
		/* RFC 6675 5 (a): "the TCP MUST increment DupAcks" for an ACK whose
		 * SACK information is new (a D-SACK is not: RFC 2883); recovery and
		 * what to send are tcp_sack_recovery()'s, after the window update */
		tp->cc.dupacks++;
	} else if (!tp->sack_ok && seg->ack == tp->snd_una && !seg->len &&
		   !(seg->flags & (TH_SYN | TH_FIN)) && swnd == tp->snd_wnd &&
		   tp->snd_max != tp->snd_una) {
		/* RFC 5681 2: a duplicate ACK */
		if (tcp_cc_on_dupack(&tp->cc, tp->snd_una, tp->snd_max,
				     tp->snd_nxt - tp->snd_una, now) == TCP_CC_RETRANSMIT) {
			eng_count(eng, TCP_FAST_RETRANS);
			tcp_retransmit_head(tp, now);
		}
	}
	/* "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be updated. If
	 * (SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK))" */
	if (seq_lt(tp->snd_wl1, seg->seq) ||
	    (tp->snd_wl1 == seg->seq && seq_leq(tp->snd_wl2, seg->ack))) {
		bool opened = tp->snd_wnd == 0 && swnd > 0;

		tp->snd_wnd = swnd;
		tp->snd_wl1 = seg->seq;
		tp->snd_wl2 = seg->ack;
		if (swnd > tp->max_snd_wnd)
			tp->max_snd_wnd = swnd;
		if (opened) {
			tp->probe0_stamp = 0;
			tcp_timer_stop(eng, &tp->t[TCPT_PERSIST]);
			tcp_wake(tp);
		}
	}
	/* RFC 6675 5: loss recovery with the scoreboard (peers with SACK) */
	tcp_sack_recovery(tp, now);
	return DROP_NONE;
}

/* Segment text (RFC 9293 3.10.7.4 seventh), for ESTABLISHED, FIN-WAIT-1/2. */
static enum drop_reason process_text(struct tcp_sock *tp, const struct tcp_seg *seg,
				     uint32_t *fin_end, uint64_t now)
{
	const uint8_t *data = seg->data;
	uint32_t seq = seg->seq, len = seg->len;
	enum drop_reason r = DROP_NONE;

	if (seq_lt(seq, tp->rcv_nxt)) {
		uint32_t skip = tp->rcv_nxt - seq;

		if (skip >= len) {
			/* a duplicate: ACK at once, it may be a lost ACK's retry
			 * (Linux tcp_data_queue: "A retransmit ... Force an
			 * immediate ack", tcp_enter_quickack_mode) */
			tcp_enter_quickack_mode(tp, TCP_MAX_QUICKACKS);
			tp->flags |= TF_ACKNOW;
			*fin_end = seq + len;
			return DROP_NONE;
		}
		data += skip;
		len -= skip;
		seq = tp->rcv_nxt;
	}
	*fin_end = seq + len;
	if (seq == tp->rcv_nxt) {
		bool had_ofo = !tcp_ofo_empty(&tp->ofo);
		uint32_t taken = 0;
		int n;

		/* a reader that takes the bytes itself gets them first while nothing
		 * is queued before them (tcp_sock_set_rx): in order, one copy */
		if (tp->rx_fn && !had_ofo && !ring_len(&tp->rcv) &&
		    !(tp->flags & TF_ORPHAN) && !(tp->shut & SHUT_F_RCV)) {
			taken = tp->rx_fn(tp->rx_arg, data, len);
			if (taken > len)
				taken = len;
		}
		n = taken < len ? ring_write(&tp->rcv, data + taken, len - taken) : 0;
		n = (n > 0 ? n : 0) + (int)taken;
		if (n <= 0) {
			/* zero window (Linux: TCPZEROWINDOWDROP, out_of_window) */
			tcp_enter_quickack_mode(tp, TCP_MAX_QUICKACKS);
			tp->flags |= TF_ACKNOW;
			return DROP_TCP_RCVBUF_FULL;
		}
		if ((uint32_t)n < len) {
			r = DROP_TCP_RCVBUF_FULL;
			*fin_end = seq + len + 1;  /* the FIN, if any, is not in order now */
		}
		tp->rcv_nxt += (uint32_t)n;
		if (had_ofo) {
			tcp_ofo_pull(&tp->ofo, &tp->rcv_nxt, &tp->rcv);
			/* RFC 5681 4.2: "an immediate ACK ... when a segment fills in
			 * all or part of a gap" */
			tp->flags |= TF_ACKNOW;
			if (tp->ofo_fin && tp->rcv_nxt == tp->ofo_fin_seq)
				*fin_end = tp->rcv_nxt;
		}
		if ((uint32_t)n > tp->rcv_mss)
			tp->rcv_mss = (uint16_t)(n > 65535 ? 65535 : n);
		else if ((uint32_t)n < tp->rcv_mss)
			tp->flags |= TF_ACK_PUSHED;
		tcp_event_data_recv(tp, now);
		tcp_rcv_rtt_measure(tp, now);
		tcp_ack_snd_check(tp, now);
		if (taken)
			tcp_rcv_consumed(tp, taken, now);
		tcp_wake(tp);
		return r;
	}
	/* out of order: queue it, ACK at once with SACK (RFC 5681 4.2: "an
	 * immediate duplicate ACK when an out-of-order segment arrives") */
	tp->flags |= TF_ACKNOW;
	if (seq_geq(seq, tp->rcv_adv) && seq_gt(seq + len, tp->rcv_adv)) {
		/* Linux tcp_data_queue "out_of_window": quick ACK mode */
		tcp_enter_quickack_mode(tp, TCP_MAX_QUICKACKS);
		return DROP_TCP_OLD_SEGMENT;
	}
	r = tcp_ofo_insert(&tp->ofo, tp->rcv_nxt, seq, data, len);
	if (r == DROP_NONE && (seg->flags & TH_FIN)) {
		tp->ofo_fin = true;
		tp->ofo_fin_seq = seq + len;
	}
	return r;
}

/* RFC 9293 3.10.7.4 eighth: the FIN bit, once every byte before it arrived. */
static void process_fin(struct tcp_sock *tp, uint64_t now)
{
	struct eng *eng = tp->eng;

	tp->rcv_nxt++;
	tp->ofo_fin = false;
	tp->shut |= SHUT_F_RCV;
	tp->flags |= TF_DONE;
	tcp_wake(tp);
	switch (tp->c.state) {
	case TCPS_SYN_RECEIVED:
	case TCPS_ESTABLISHED:
		/* Linux delays this ACK (pingpong mode): if the application closes
		 * at once, our FIN carries it */
		tcp_set_state(eng, &tp->c, TCPS_CLOSE_WAIT);
		tp->flags |= TF_PINGPONG;   /* Linux tcp_fin: inet_csk_enter_pingpong_mode */
		if (!tcp_timer_on(&tp->t[TCPT_DELACK]))
			tcp_send_delayed_ack(tp, now);
		break;
	case TCPS_FIN_WAIT_1:
		/* "If our FIN has been ACKed ... enter TIME-WAIT ...; otherwise,
		 * enter the CLOSING state" (the ACKed case became FIN-WAIT-2 above) */
		tcp_set_state(eng, &tp->c, TCPS_CLOSING);
		tp->flags |= TF_ACKNOW;
		break;
	case TCPS_FIN_WAIT_2:
		tcp_send_ack(tp, now);
		tcp_time_wait(tp, now);
		break;
	default:
		tp->flags |= TF_ACKNOW;
		break;
	}
}

static enum drop_reason rcv_synchronized(struct tcp_sock *tp, const struct ip_info *ip,
					 const struct tcp_seg *seg, uint64_t now)
{
	struct eng *eng = tp->eng;
	uint32_t seglen = tcp_seg_seqlen(seg), wnd;
	enum drop_reason r = DROP_NONE;
	uint32_t fin_end = 0;

	/* RFC 7323 5.3: PAWS comes before the sequence number check: "If SEG.TSval
	 * < TS.Recent and the RST bit is off ... the segment is not acceptable" */
	if (tp->ts_ok && (seg->opts & TCPOPT_F_TS) && !(seg->flags & TH_RST) &&
	    seq_lt(seg->tsval, tp->ts_recent) && now - tp->ts_recent_stamp < SEC(24 * 86400)) {
		oow_ack(tp, seg, now);
		return DROP_TCP_PAWS;
	}

	/* RFC 9293 3.10.7.4, first: check the sequence number. As Linux
	 * (tcp_sequence), a segment is acceptable when it ends at or after the
	 * left edge and starts at or before the right edge; "if the RCV.WND is
	 * zero ... special allowance should be made to accept valid ACKs, URGs,
	 * and RSTs": its text is dropped later, its ACK processed. */
	wnd = seq_gt(tp->rcv_adv, tp->rcv_nxt) ? tp->rcv_adv - tp->rcv_nxt : 0;
	if (seq_lt(seg->seq + seglen, tp->rcv_wup) || seq_gt(seg->seq, tp->rcv_nxt + wnd)) {
		if (!(seg->flags & TH_RST)) {
			if (seg->flags & TH_SYN)
				tcp_challenge_ack(tp, now);
			else
				oow_ack(tp, seg, now);
		}
		return DROP_TCP_OLD_SEGMENT;
	}

	/* RFC 9293 3.10.7.4, second: check the RST bit (RFC 5961 3.2): "If the RST
	 * bit is set and the sequence number exactly matches the next expected
	 * sequence number (RCV.NXT), then TCP endpoints MUST reset the
	 * connection"; in the window otherwise: "MUST send an ACK (challenge ACK)" */
	if (seg->flags & TH_RST) {
		int err;

		if (seg->seq != tp->rcv_nxt) {
			tcp_challenge_ack(tp, now);
			return DROP_TCP_BAD_RST;
		}
		/* Linux tcp_reset(): the errno per state */
		switch (tp->c.state) {
		case TCPS_SYN_RECEIVED:
			err = (tp->flags & TF_PASSIVE) ? ECONNRESET : ECONNREFUSED;
			break;
		case TCPS_CLOSE_WAIT:
			err = EPIPE;
			break;
		default:
			err = ECONNRESET;
			break;
		}
		if (tcp_in_state(tp, TCPS_ESTABLISHED | TCPS_CLOSE_WAIT))
			eng_count(eng, TCP_ESTAB_RESETS);
		if (tcp_in_state(tp, TCPS_SYN_RECEIVED) && !(tp->flags & TF_PASSIVE))
			eng_count(eng, TCP_ATTEMPT_FAILS);
		tcp_done(tp, err);
		return DROP_NONE;
	}

	/* RFC 9293 3.10.7.4, third: security: not kept */

	/* RFC 9293 3.10.7.4, fourth: check the SYN bit (RFC 5961 4.2): "TCP MUST
	 * send an ACK (challenge ACK) to the remote peer", whatever the sequence */
	if (seg->flags & TH_SYN) {
		tcp_challenge_ack(tp, now);
		return DROP_TCP_BAD_SYN;
	}

	/* RFC 9293 3.10.7.4, fifth: check the ACK field: "if the ACK bit is off,
	 * drop the segment and return" */
	if (!(seg->flags & TH_ACK))
		return DROP_TCP_BAD_FLAGS;

	/* RFC 7323 4.3: TS.Recent follows the segments that are in order */
	if (tp->ts_ok && (seg->opts & TCPOPT_F_TS) && seq_leq(seg->seq, tp->rcv_wup) &&
	    seq_geq(seg->tsval, tp->ts_recent)) {
		tp->ts_recent = seg->tsval;
		tp->ts_recent_stamp = now;
	}

	if (tcp_in_state(tp, TCPS_SYN_RECEIVED)) {
		/* "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED state
		 * ... If the segment acknowledgment is not acceptable, form a
		 * reset segment <SEQ=SEG.ACK><CTL=RST>" */
		if (!(seq_lt(tp->snd_una, seg->ack) && seq_leq(seg->ack, tp->snd_max))) {
			tcp_send_reset_reply(eng, ip, seg, now);
			return DROP_TCP_BAD_ACK;
		}
		tcp_timer_stop(eng, &tp->t[TCPT_REXMT]);
		tp->retries = 0;
		tp->retrans_stamp = 0;
		tp->snd_wnd = (uint32_t)seg->win << tp->snd_ws;
		tp->max_snd_wnd = tp->snd_wnd;
		tp->snd_wl1 = seg->seq;
		tp->snd_wl2 = seg->ack;
		tp->flags |= TF_WAS_CONN;
		tcp_set_state(eng, &tp->c, TCPS_ESTABLISHED);
		tcp_sndbuf_expand(tp);   /* Linux tcp_init_buffer_space() */
		if (tp->parent)
			tcp_acceptq_add(tp->parent, tp);
		tcp_keep_reset(tp, now);
		tcp_wake(tp);
	}

	r = process_ack(tp, seg, now);
	if (r != DROP_NONE)
		return r;
	tp->last_rcv = now;
	if (tp->flags & TF_KEEPALIVE)
		tcp_keep_reset(tp, now);

	switch (tp->c.state) {
	case TCPS_FIN_WAIT_1:
		/* "In addition to the processing for the ESTABLISHED state, if the
		 * FIN segment is now acknowledged, then enter FIN-WAIT-2" */
		if (fin_acked(tp))
			enter_fin_wait2(tp, now);
		break;
	case TCPS_CLOSING:
		/* "if the ACK acknowledges our FIN, then enter the TIME-WAIT state" */
		if (fin_acked(tp)) {
			tcp_time_wait(tp, now);
			return DROP_NONE;
		}
		break;
	case TCPS_LAST_ACK:
		/* "If our FIN is now acknowledged, delete the TCB, enter the CLOSED
		 * state, and return" */
		if (fin_acked(tp)) {
			tcp_done(tp, 0);
			return DROP_NONE;
		}
		break;
	default:
		break;
	}
	if (tcp_in_state(tp, TCPS_CLOSED))
		return DROP_NONE;

	/* RFC 9293 3.10.7.4, sixth: the URG bit: urgent data is not kept (as
	 * Linux's default, it is delivered inline) */

	/* RFC 9293 3.10.7.4, seventh: process the segment text */
	fin_end = seg->seq + seg->len;
	if (seg->len) {
		if (tcp_in_state(tp, TCPS_CLOSE_WAIT | TCPS_CLOSING | TCPS_LAST_ACK) &&
		    !seq_lt(seg->seq, tp->rcv_nxt)) {
			/* "This should not occur, since a FIN has been received": ignore */
			return DROP_TCP_CLOSED;
		}
		/* RFC 1122 4.2.2.13 (Linux, FIN-WAIT-1/2 after close or SHUT_RD):
		 * new data for a reader that is gone is answered with a reset */
		if ((tp->shut & SHUT_F_RCV) && tcp_in_state(tp, TCPS_FIN_WAIT_1 | TCPS_FIN_WAIT_2) &&
		    seq_gt(seg->seq + seg->len, tp->rcv_nxt)) {
			/* Linux: tcp_reset() then tcp_v4_send_reset() answering
			 * the segment: <SEQ=SEG.ACK><CTL=RST> */
			tcp_send_reset_reply(eng, ip, seg, now);
			tcp_done(tp, ECONNRESET);
			return DROP_TCP_CLOSED;
		}
		if (tcp_in_state(tp, TCPS_CAN_RECV | TCPS_CLOSE_WAIT | TCPS_CLOSING | TCPS_LAST_ACK))
			r = process_text(tp, seg, &fin_end, now);
	}

	/* RFC 9293 3.10.7.4, eighth: check the FIN bit */
	if (seg->flags & TH_FIN) {
		if (fin_end == tp->rcv_nxt && !(tp->shut & SHUT_F_RCV && tp->flags & TF_DONE))
			process_fin(tp, now);
		else if (seq_lt(fin_end, tp->rcv_nxt))
			tp->flags |= TF_ACKNOW;  /* a retransmitted FIN: ACK it again */
		if (tcp_in_state(tp, TCPS_CLOSED))
			return r;
	}
	tcp_output(tp, now);
	return r;
}

/* --- TIME-WAIT ------------------------------------------------------------ */

static enum drop_reason rcv_time_wait(struct eng *eng, struct tcp_tw *tw,
				      const struct ip_info *ip, const struct tcp_seg *seg,
				      uint64_t now, uint32_t *tw_isn)
{
	bool paws = tw->ts_ok && (seg->opts & TCPOPT_F_TS) && !(seg->flags & TH_RST) &&
		    seq_lt(seg->tsval, tw->ts_recent);

	(void)ip;
	/* in-window: only a bare ACK or a RST can be */
	if (!paws && seg->seq == tw->rcv_nxt && (seg->len == 0 || (seg->flags & TH_RST)) &&
	    !(seg->flags & (TH_SYN | TH_FIN))) {
		if (seg->flags & TH_RST) {
			/* "TIME-WAIT assassination" (RFC 1337): Linux's default
			 * (tcp_rfc1337 = 0) lets the RST end TIME-WAIT */
			tcp_set_state(eng, &tw->c, TCPS_CLOSED);
			tcp_tw_free(eng, tw);
			return DROP_NONE;
		}
		tcp_timer_arm(eng, &tw->t, now + eng->cfg.tcp.time_wait);
		if (seg->opts & TCPOPT_F_TS)
			tw->ts_recent = seg->tsval;
		return DROP_NONE;
	}
	/* A new SYN for this 4-tuple (Linux: TCP_TW_SYN): accepted when it starts
	 * after what we received, or carries a newer timestamp; the new
	 * connection's ISN continues past the old one */
	if ((seg->flags & (TH_SYN | TH_RST | TH_ACK)) == TH_SYN && !paws &&
	    (seq_gt(seg->seq, tw->rcv_nxt) ||
	     ((seg->opts & TCPOPT_F_TS) && tw->ts_ok && seq_lt(tw->ts_recent, seg->tsval)))) {
		uint32_t isn = tw->snd_nxt + 65535 + 2;

		*tw_isn = isn ? isn : 1;
		tcp_set_state(eng, &tw->c, TCPS_CLOSED);
		tcp_tw_free(eng, tw);
		return DROP_NONE;
	}
	if (seg->flags & TH_RST)
		return DROP_TCP_BAD_RST;
	/* anything else: ACK it (RFC 9293: "The only thing that can arrive in this
	 * state is a retransmission of the remote FIN. Acknowledge it, and
	 * restart the 2 MSL timeout"), rate limited as Linux */
	if (paws || (seg->flags & TH_ACK))
		tcp_timer_arm(eng, &tw->t, now + eng->cfg.tcp.time_wait);
	tcp_send_tw_ack(eng, tw, now);
	return paws ? DROP_TCP_PAWS : DROP_TCP_CLOSED;
}

/* --- entry ----------------------------------------------------------------- */

enum drop_reason tcp_input(struct eng *eng, const struct ip_info *ip, const uint8_t *buf,
			   size_t len, uint64_t now)
{
	struct tcp_stack *st = eng->tcp;
	struct tcp_seg seg;
	struct tcp_conn *c;
	struct tcp_sock *l;
	enum drop_reason r;
	uint32_t tw_isn = 0;

	r = tcp_parse(buf, len, &seg);
	if (r != DROP_NONE)
		return r;
	if (eng->rx_split_at && seg.data == eng->rx_split_at)
		seg.data = eng->rx_split_data;
	if (!(ip->rxflags & LINK_RX_CSUM_OK) &&
	    csum_fold(csum_partial(buf, len, csum_pseudo(ip->src, ip->dst, IPPROTO_TCP,
							  (uint16_t)len))) != 0)
		return DROP_TCP_BAD_CSUM;
	eng_count(eng, TCP_RX_SEGS);
	if ((seg.flags & (TH_SYN | TH_RST)) == (TH_SYN | TH_RST))
		return DROP_TCP_BAD_FLAGS;
	c = tcp_lookup(st, ip->dst, seg.dport, ip->src, seg.sport);
	if (c && c->kind == TCPK_SOCK) {
		struct tcp_sock *tp = (struct tcp_sock *)c;

		if (tcp_in_state(tp, TCPS_SYN_SENT))
			r = rcv_syn_sent(tp, ip, &seg, now);
		else
			r = rcv_synchronized(tp, ip, &seg, now);
		tcp_maybe_free(tp);
		tcp_run_wakeups(eng);
		return r;
	}
	if (c && c->kind == TCPK_REQ) {
		struct tcp_req *req = (struct tcp_req *)c;

		r = rcv_req(req, ip, &seg, now);
		tcp_run_wakeups(eng);
		return r;
	}
	if (c && c->kind == TCPK_TW) {
		r = rcv_time_wait(eng, (struct tcp_tw *)c, ip, &seg, now, &tw_isn);
		if (!tw_isn)
			return r;
	}
	/* RFC 9293 3.10.7.2: LISTEN */
	l = tcp_lookup_listener(st, ip->dst, seg.dport);
	if (l) {
		r = rcv_listen(l, ip, &seg, tw_isn, now);
		tcp_run_wakeups(eng);
		return r;
	}
	/* RFC 9293 3.10.7.1: CLOSED: "An incoming segment containing a RST is
	 * discarded. An incoming segment not containing a RST causes a RST to be
	 * sent in response." */
	tcp_send_reset_reply(eng, ip, &seg, now);
	return DROP_TCP_NO_SOCKET;
}

/* RFC 1191 / Linux tcp_v4_mtu_reduced(): "fragmentation needed" with a next-hop
 * MTU below the one in use lowers the MSS and resends what was sent too big.
 * As Linux (ip_rt_min_pmtu), an MTU under 552 is taken as 552; one that does
 * not lower the MTU is ignored. The resend is Linux's tcp_simple_retransmit:
 * everything in flight again, in the new size, without a congestion response. */
void tcp_mtu_reduced(struct tcp_sock *tp, uint16_t mtu, uint64_t now)
{
	uint16_t cur = tp->pmtu ? tp->pmtu : (uint16_t)(tp->eng->link ? tp->eng->link->mtu : 1500);
	uint16_t old_mss = tp->mss;

	if (!mtu)
		return;       /* RFC 1191 old-style router: no MTU given, nothing to go on */
	if (mtu < 552)
		mtu = 552;
	if (mtu >= cur)
		return;
	tp->pmtu = mtu;
	tcp_sync_mss(tp);
	if (tp->mss >= old_mss)
		return;
	tcp_cc_set_mss(&tp->cc, tp->mss);
	if (!tcp_in_state(tp, TCPS_SYNCHRONIZED) || tp->snd_una == tp->snd_nxt)
		return;
	tp->flags &= ~TF_RTT_TIMING;  /* Karn */
	tp->snd_nxt = tp->snd_una;
	tcp_output(tp, now);
}

/* RFC 5927 / RFC 1122 4.2.3.9: ICMP errors. As Linux tcp_v4_err(): hard while
 * connecting (the attempt fails with the error), soft afterwards (kept in
 * err_soft and reported if the connection then times out). */
void tcp_icmp_error(struct eng *eng, const struct ip_info *inner, const uint8_t *l4,
		    size_t l4len, uint8_t type, uint8_t code, uint16_t mtu, uint64_t now)
{
	static const int unreach_errno[16] = {
		ENETUNREACH, EHOSTUNREACH, ENOPROTOOPT, ECONNREFUSED, EMSGSIZE, EOPNOTSUPP,
		ENETUNREACH, EHOSTDOWN, ENONET, ENETUNREACH, EHOSTUNREACH, ENETUNREACH,
		EHOSTUNREACH, EHOSTUNREACH, EHOSTUNREACH, EHOSTUNREACH,
	};
	struct tcp_conn *c;
	struct tcp_sock *tp;
	uint16_t sport, dport;
	uint32_t seq;
	int err;

	if (l4len < 8)
		return;
	sport = (uint16_t)(l4[0] << 8 | l4[1]);
	dport = (uint16_t)(l4[2] << 8 | l4[3]);
	seq = (uint32_t)l4[4] << 24 | (uint32_t)l4[5] << 16 | (uint32_t)l4[6] << 8 | l4[7];
	c = tcp_lookup(eng->tcp, inner->src, sport, inner->dst, dport);
	if (!c)
		return;
	if (type == 3)
		err = unreach_errno[code & 15];
	else if (type == 11)
		err = EHOSTUNREACH;
	else if (type == 12)
		err = EPROTO;
	else
		return;   /* source quench and the rest: ignored (RFC 6633) */
	if (c->kind == TCPK_REQ) {
		struct tcp_req *req = (struct tcp_req *)c;

		/* Linux tcp_req_err(): an error about our SYN-ACK drops the record */
		if (seq == req->iss && !(type == 3 && code == 4)) {
			tcp_set_state(eng, c, TCPS_LISTEN);
			tcp_req_free(eng, req);
		}
		return;
	}
	if (c->kind != TCPK_SOCK)
		return;
	tp = (struct tcp_sock *)c;
	/* the quoted segment must be one in flight */
	if (!seq_between(seq, tp->snd_una, tp->snd_max + 1))
		return;
	if (type == 3 && code == 4) {
		tcp_mtu_reduced(tp, mtu, now);
		return;
	}
	/* RFC 6069 (Linux tcp_ld_RTO_revert): a network or host unreachable
	 * about the segment being retransmitted says the path is down, not
	 * congested: undo one backoff step and retransmit when that RTO is due */
	if (type == 3 && (code == 0 || code == 1) && tp->retries && seq == tp->snd_una &&
	    tp->rtt.backoff && tcp_in_state(tp, TCPS_SYNCHRONIZED)) {
		uint64_t rto, since = now - tp->last_snd;

		tp->rtt.backoff--;
		rto = tcp_rtt_rto(&tp->rtt);
		if (since < rto)
			tcp_timer_arm(eng, &tp->t[TCPT_REXMT], now + (rto - since));
		else
			tcp_timer_arm(eng, &tp->t[TCPT_REXMT], now);
	}
	if (tcp_in_state(tp, TCPS_SYN_SENT | TCPS_SYN_RECEIVED)) {
		eng_count(eng, TCP_ATTEMPT_FAILS);
		tcp_done(tp, err);
		tcp_maybe_free(tp);
	} else {
		/* Linux tcp_v4_err without IP_RECVERR: a soft error, kept in
		 * sk_err_soft and reported only if the connection then times
		 * out (tcp_write_err: sk_err_soft ? : ETIMEDOUT) */
		tp->err_soft = err;
	}
	tcp_run_wakeups(eng);
}
