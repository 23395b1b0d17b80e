/* output.c - building and sending TCP segments (RFC 9293 3.8, 3.10.4-3.10.7; RFC 896 Nagle; RFC 7323; RFC 5961 7).
 *
 * Everything leaves through tcp_xmit_raw(): the header is emitted from a struct
 * tcp_seg into eng->tx, payload copied from the send ring (or, when large and the
 * link allows, referenced in place: pkt->ext), checksum computed (or left to the
 * link with PKT_OFF_CSUM), then ip_output(). */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "base/bytes.h"
#include "base/csum.h"
#include "base/time.h"
#include "eng.h"
#include "ip/ip.h"
#include "tcp/tcb.h"

#define TCP_CORK_MAX MSEC(200)
/* From this payload size on a segment leaves without being copied out of the send
 * ring (LINK_F_TX_EXT: the TAP writes it with writev); smaller ones are copied,
 * which costs less than a system call of their own and keeps them in the loop's
 * batch of writes. */
#define TCP_TX_INPLACE_MIN 8192u

uint32_t tcp_ts_now(uint64_t now) { return (uint32_t)(now / MSEC(1)); }

int tcp_xmit_raw(struct eng *eng, uint32_t laddr, uint32_t raddr, struct tcp_seg *s,
		 const struct ring *data, uint32_t data_off, uint64_t now)
{
	struct pkt *p = &eng->tx;
	size_t hl = TCP_HLEN + tcp_opts_len(s);
	uint32_t tot = (uint32_t)hl + s->len;
	uint32_t sum;
	uint8_t *h;

	pkt_reset(p);
	if (data && s->len >= TCP_TX_INPLACE_MIN && eng->link &&
	    (eng->link->features & (LINK_F_TX_EXT | LINK_F_TX_CSUM)) ==
		    (LINK_F_TX_EXT | LINK_F_TX_CSUM)) {
		/* the payload stays in the send queue: the link takes it from there
		 * (the checksum is the link's, nothing here reads the payload) */
		h = pkt_put(p, (uint32_t)hl);
		p->next = (uint32_t)ring_spans(data, data_off, s->len, p->ext);
		p->ext_len = s->len;
		p->len += s->len;
	} else {
		h = pkt_put(p, tot);
		if (s->len) {
			if (data)
				ring_peek(data, data_off, h + hl, s->len);
			else
				memcpy(h + hl, s->data, s->len);
		}
	}
	tcp_emit(h, s);
	sum = csum_pseudo(laddr, raddr, IPPROTO_TCP, (uint16_t)tot);
	if (eng->link && (eng->link->features & LINK_F_TX_CSUM)) {
		/* the link sums from csum_start on and adds the pseudo-header we store
		 * (for TSO, of each segment: the length is left out of the sum, as the
		 * virtio-net header wants, Linux tcp_v4_gso_segment) */
		if (s->gso_size && s->len > s->gso_size) {
			sum = csum_pseudo(laddr, raddr, IPPROTO_TCP, 0);
			p->off.flags = PKT_OFF_CSUM | PKT_OFF_TSO4;
			p->off.gso_size = s->gso_size;
			p->off.hdr_len = (uint16_t)(14 + 20 + hl);
		} else {
			p->off.flags = PKT_OFF_CSUM;
		}
		put_be16(h + 16, (uint16_t)~csum_fold(sum));
		p->off.csum_start = 14 + 20;
		p->off.csum_offset = 16;
	} else {
		put_be16(h + 16, csum_fold(csum_partial(h, tot, sum)));
	}
	eng_count(eng, TCP_TX_SEGS);
	if (s->flags & TH_RST)
		eng_count(eng, TCP_TX_RST);
	return ip_output(eng, p, IPPROTO_TCP, laddr, raddr, 0, now);
}

/* The window to advertise (RFC 9293 3.8.6.2.2, receiver SWS avoidance; RFC 7323 2.3).
 * "the RCV.WND ... MUST NOT shrink the window (move its right edge to the left)"
 * (RFC 9293 3.8.6, MUST-?): the right edge only moves forward. */
uint16_t tcp_rcv_window(struct tcp_sock *tp)
{
	uint32_t space = tcp_rcv_space(tp);
	uint32_t cur, wnd, maxw = 65535u << tp->rcv_ws;

	/* receiver SWS avoidance: do not offer a sliver */
	if (space < tp->rcv_mss && space < tp->rcvbuf / 4)
		space = 0;
	wnd = space < maxw ? space : maxw;
	wnd &= ~((1u << tp->rcv_ws) - 1);
	cur = seq_gt(tp->rcv_adv, tp->rcv_nxt) ? tp->rcv_adv - tp->rcv_nxt : 0;
	if (wnd < cur) {
		/* Never shrink: Linux tcp_select_window() keeps the offered edge,
		 * rounded up to the scale unit ("new_win = ALIGN(cur_win, 1 <<
		 * rcv_wscale)"). The rounding creeps the edge forward while the
		 * buffer fills; the ring's headroom takes it (tcp_rcv_limit). */
		uint32_t a = (1u << tp->rcv_ws) - 1;

		wnd = (cur + a) & ~a;
	}
	tp->rcv_wnd = wnd;
	tp->rcv_adv = tp->rcv_nxt + wnd;
	tp->rcv_wup = tp->rcv_nxt;
	return (uint16_t)(wnd >> tp->rcv_ws);
}

/* Linux tcp_select_initial_window: the unscaled window of SYN and SYN-ACK,
 * 65535 rounded down to whole segments (64240 for MSS 1460). */
static uint16_t syn_window(uint32_t space, uint16_t mss)
{
	uint32_t w = space < 65535 ? space : 65535;

	if (mss && w > mss)
		w -= w % mss;
	return (uint16_t)w;
}

static void seg_init(struct tcp_sock *tp, struct tcp_seg *s, uint32_t seq, uint8_t flags,
		     uint64_t now)
{
	memset(s, 0, sizeof(*s));
	s->sport = tp->c.lport;
	s->dport = tp->c.rport;
	s->seq = seq;
	s->flags = flags;
	if (flags & TH_ACK) {
		s->ack = tp->rcv_nxt;
		s->win = tcp_rcv_window(tp);
	}
	if (tp->ts_ok) {
		s->opts |= TCPOPT_F_TS;
		s->tsval = tcp_ts_now(now) + tp->ts_off;
		s->tsecr = tp->ts_recent;
	}
	/* RFC 2018 4: SACK blocks on every ACK while data is out of order */
	if (tp->sack_ok && (flags & TH_ACK) && !tcp_ofo_empty(&tp->ofo)) {
		s->nsack = (uint8_t)tcp_ofo_sack(&tp->ofo, s->sack, tp->ts_ok ? 3 : 4);
		if (s->nsack)
			s->opts |= TCPOPT_F_SACK;
	}
}

static void sent_ack(struct tcp_sock *tp)
{
	/* Linux tcp_event_ack_sent -> tcp_dec_quickack_mode: an ACK that was
	 * due uses one quick ACK; "Leaving quickack mode we deflate ATO" */
	if (tp->quickacks && ((tp->flags & TF_ACKNOW) || tcp_timer_on(&tp->t[TCPT_DELACK])) &&
	    !--tp->quickacks)
		tp->ato = TCP_ATO_MIN;
	tp->flags &= ~(TF_ACKNOW | TF_ACK_PUSHED);
	tp->unacked_segs = 0;
	tcp_timer_stop(tp->eng, &tp->t[TCPT_DELACK]);
}

static int xmit(struct tcp_sock *tp, struct tcp_seg *s, uint32_t data_off, uint64_t now)
{
	int err = tcp_xmit_raw(tp->eng, tp->c.laddr, tp->c.raddr, s, &tp->snd, data_off, now);

	if (s->flags & TH_ACK)
		sent_ack(tp);
	tp->last_snd = now;
	return err;
}

void tcp_arm_rexmt(struct tcp_sock *tp, uint64_t now)
{
	tp->flags &= ~TF_TLP_ARMED;
	tcp_timer_arm(tp->eng, &tp->t[TCPT_REXMT], now + tcp_rtt_rto(&tp->rtt));
}

/* SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED of a full socket, simultaneous open):
 * MSS, SACK-permitted, timestamps and window scale offered as Linux offers them. */
int tcp_send_syn(struct tcp_sock *tp, uint64_t now)
{
	struct tcp_seg s;
	bool synack = tcp_in_state(tp, TCPS_SYN_RECEIVED);

	memset(&s, 0, sizeof(s));
	s.sport = tp->c.lport;
	s.dport = tp->c.rport;
	s.seq = tp->iss;
	s.flags = TH_SYN | (synack ? TH_ACK : 0);
	s.ack = synack ? tp->rcv_nxt : 0;
	s.win = syn_window(tcp_rcv_space(tp), tp->rcv_mss);
	tp->rcv_wnd = s.win;
	tp->rcv_adv = tp->rcv_nxt + s.win;
	s.opts = TCPOPT_F_MSS;
	s.mss = (uint16_t)(tp->eng->link ? tp->eng->link->mtu - 40 : 1460);
	if (tp->user_mss && tp->user_mss < s.mss)
		s.mss = tp->user_mss;
	if (!synack || tp->sack_ok)
		s.opts |= TCPOPT_F_SACKOK;
	if (!synack || tp->ts_ok) {
		s.opts |= TCPOPT_F_TS;
		s.tsval = tcp_ts_now(now) + tp->ts_off;
		s.tsecr = synack ? tp->ts_recent : 0;
	}
	if (!synack || tp->ws_ok) {
		s.opts |= TCPOPT_F_WS;
		s.ws = tp->rcv_ws;
	}
	if (seq_gt(tp->iss + 1, tp->snd_max))
		tp->snd_max = tp->iss + 1;
	tp->snd_nxt = tp->iss + 1;
	if (!tcp_timer_on(&tp->t[TCPT_REXMT]))
		tcp_arm_rexmt(tp, now);
	if (!tp->retrans_stamp)
		tp->retrans_stamp = now;
	return xmit(tp, &s, 0, now);
}

int tcp_send_ack(struct tcp_sock *tp, uint64_t now)
{
	struct tcp_seg s;

	seg_init(tp, &s, tp->snd_nxt, TH_ACK, now);
	return xmit(tp, &s, 0, now);
}

/* Zero-window and keepalive probes: an old sequence number the peer must ACK
 * (RFC 9293 3.8.4 "SEG.SEQ = SND.NXT-1"; Linux tcp_xmit_probe_skb uses snd_una - 1). */
int tcp_send_probe(struct tcp_sock *tp, uint64_t now)
{
	struct tcp_seg s;

	seg_init(tp, &s, tp->snd_una - 1, TH_ACK, now);
	return xmit(tp, &s, 0, now);
}

/* Linux tcp_send_active_reset: RST|ACK at an acceptable sequence number. */
int tcp_send_active_rst(struct tcp_sock *tp, uint64_t now)
{
	struct tcp_seg s;

	seg_init(tp, &s, tp->snd_nxt, TH_RST | TH_ACK, now);
	s.opts &= ~TCPOPT_F_SACK;
	s.nsack = 0;
	return xmit(tp, &s, 0, now);
}

/* RFC 9293 3.10.7.1: "If the ACK bit is off, sequence number zero is used,
 * <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. If the ACK bit is on,
 * <SEQ=SEG.ACK><CTL=RST>". An incoming RST is never answered. */
int tcp_send_reset_reply(struct eng *eng, const struct ip_info *ip, const struct tcp_seg *seg,
			 uint64_t now)
{
	struct tcp_seg s;

	if (seg->flags & TH_RST)
		return 0;
	memset(&s, 0, sizeof(s));
	s.sport = seg->dport;
	s.dport = seg->sport;
	if (seg->flags & TH_ACK) {
		s.seq = seg->ack;
		s.flags = TH_RST;
	} else {
		s.seq = 0;
		s.ack = seg->seq + tcp_seg_seqlen(seg);
		s.flags = TH_RST | TH_ACK;
	}
	return tcp_xmit_raw(eng, ip->dst, ip->src, &s, NULL, 0, now);
}

int tcp_send_synack_req(struct eng *eng, struct tcp_req *req, uint64_t now)
{
	struct tcp_seg s;
	struct tcp_sock *l = req->listener;

	memset(&s, 0, sizeof(s));
	s.sport = req->c.lport;
	s.dport = req->c.rport;
	s.seq = req->iss;
	s.ack = req->irs + 1;
	s.flags = TH_SYN | TH_ACK;
	s.win = syn_window(l ? l->rcvbuf : 65535, 536);
	s.win = syn_window(l ? l->rcvbuf : 65535,
			   (uint16_t)(eng->link ? eng->link->mtu - 40 : 1460));
	s.opts = TCPOPT_F_MSS;
	s.mss = (uint16_t)(eng->link ? eng->link->mtu - 40 : 1460);
	if (l && l->user_mss && l->user_mss < s.mss)
		s.mss = l->user_mss;
	if (req->sack_ok)
		s.opts |= TCPOPT_F_SACKOK;
	if (req->ts_ok) {
		s.opts |= TCPOPT_F_TS;
		s.tsval = tcp_ts_now(now) + req->ts_off;
		s.tsecr = req->ts_recent;
	}
	if (req->ws_ok) {
		s.opts |= TCPOPT_F_WS;
		s.ws = req->rcv_ws;
	}
	return tcp_xmit_raw(eng, req->c.laddr, req->c.raddr, &s, NULL, 0, now);
}

int tcp_send_tw_ack(struct eng *eng, struct tcp_tw *tw, uint64_t now)
{
	struct tcp_seg s;

	memset(&s, 0, sizeof(s));
	s.sport = tw->c.lport;
	s.dport = tw->c.rport;
	s.seq = tw->snd_nxt;
	s.ack = tw->rcv_nxt;
	s.flags = TH_ACK;
	s.win = tw->rcv_win;
	if (tw->ts_ok) {
		s.opts = TCPOPT_F_TS;
		s.tsval = tcp_ts_now(now) + tw->ts_off;
		s.tsecr = tw->ts_recent;
	}
	return tcp_xmit_raw(eng, tw->c.laddr, tw->c.raddr, &s, NULL, 0, now);
}

/* RFC 5961 7: challenge ACKs are rate limited. As Linux: at most one per
 * connection per 500 ms (tcp_invalid_ratelimit) and 1000 per second overall
 * (tcp_challenge_ack_limit). */
bool tcp_challenge_ack(struct tcp_sock *tp, uint64_t now)
{
	struct tcp_stack *st = tp->eng->tcp;

	if (tp->last_oow_ack && now - tp->last_oow_ack < MSEC(500))
		return false;
	if (now - st->challenge_stamp >= SEC(1)) {
		st->challenge_stamp = now;
		st->challenge_count = 0;
	}
	if (st->challenge_count >= 1000)
		return false;
	st->challenge_count++;
	tp->last_oow_ack = now;
	eng_count(tp->eng, TCP_CHALLENGE_ACKS);
	tcp_send_ack(tp, now);
	return true;
}

static bool fin_sent(const struct tcp_sock *tp)
{
	return (tp->flags & TF_FIN_QUEUED) && seq_gt(tp->snd_nxt, tp->fin_seq);
}

static uint32_t cur_mss(struct tcp_sock *tp);

/* One data segment [seq, seq+len) from the send ring, with FIN when it ends at
 * the queued FIN. */
static int xmit_data(struct tcp_sock *tp, uint32_t seq, uint32_t len, bool fin, uint64_t now)
{
	struct tcp_seg s;
	uint32_t off = seq - tp->snd_una;
	uint32_t end_data = tp->snd_una + ring_len(&tp->snd);

	seg_init(tp, &s, seq, TH_ACK, now);
	s.len = len;
	if (len > cur_mss(tp))
		s.gso_size = (uint16_t)cur_mss(tp); /* TSO: the link cuts it into segments */
	if (len && seq + len == end_data)
		s.flags |= TH_PSH;
	if (fin)
		s.flags |= TH_FIN;
	/* Linux tcp_event_data_sent: "If it is a reply for ato after last
	 * received packet, enter pingpong mode" (interactive: delay ACKs so they
	 * ride on the replies) */
	if (len && !seq_lt(seq, tp->snd_max) && tp->ato && now - tp->last_data_rcv < tp->ato)
		tp->flags |= TF_PINGPONG;
	if (seq_lt(seq, tp->snd_max)) {
		eng_count(tp->eng, TCP_RETRANS_SEGS);
		/* Karn (RFC 6298 3): a retransmitted segment is not timed */
		if ((tp->flags & TF_RTT_TIMING) && seq_leq(seq, tp->rtt_seq))
			tp->flags &= ~TF_RTT_TIMING;
		if (!tp->retrans_stamp)
			tp->retrans_stamp = now;
	}
	return xmit(tp, &s, off, now);
}

/* Linux tcp_current_mss(): the MSS less the SACK blocks the next segment will
 * carry (tp->mss already has the timestamp taken off). Without it a full
 * segment plus SACK blocks exceeds the MTU and IP refuses it (-EMSGSIZE). */
static uint32_t cur_mss(struct tcp_sock *tp)
{
	struct tcp_sack_blk blk[4];
	unsigned n;

	if (!tp->sack_ok || tcp_ofo_empty(&tp->ofo))
		return tp->mss;
	n = (unsigned)tcp_ofo_sack(&tp->ofo, blk, tp->ts_ok ? 3 : 4);
	return n ? tp->mss - (4u + 8u * n) : tp->mss;
}

uint32_t tcp_cur_mss(struct tcp_sock *tp) { return cur_mss(tp); }

int tcp_retransmit_range(struct tcp_sock *tp, uint32_t seq, uint32_t len, uint64_t now)
{
	uint32_t avail = ring_len(&tp->snd), off = seq - tp->snd_una;
	bool fin;

	if (seq_lt(seq, tp->snd_una) || off > avail)
		return -EINVAL;
	if (len > avail - off)
		len = avail - off;
	fin = (tp->flags & TF_FIN_QUEUED) && off + len == avail && seq_gt(tp->snd_max, tp->fin_seq);
	if (!len && !fin)
		return 0;
	if (seq_gt(seq + len + fin, tp->snd_nxt))
		tp->snd_nxt = seq + len + fin;
	return xmit_data(tp, seq, len, fin, now);
}

int tcp_send_new_segment(struct tcp_sock *tp, uint64_t now)
{
	uint32_t qlen = ring_len(&tp->snd), off = tp->snd_nxt - tp->snd_una;
	uint32_t avail = seq_leq(tp->snd_nxt, tp->snd_una + qlen) ? qlen - off : 0;
	uint32_t room = tp->snd_wnd > off ? tp->snd_wnd - off : 0;
	uint32_t len = avail < cur_mss(tp) ? avail : cur_mss(tp);
	bool fin;

	if (!len || len > room)
		return 0;
	fin = (tp->flags & TF_FIN_QUEUED) && len == avail && !fin_sent(tp);
	xmit_data(tp, tp->snd_nxt, len, fin, now);
	tp->snd_nxt += len + fin;
	if (seq_gt(tp->snd_nxt, tp->snd_max))
		tp->snd_max = tp->snd_nxt;
	return 1;
}

/* Resend the first unacknowledged segment (fast retransmit, RTO). */
int tcp_retransmit_head(struct tcp_sock *tp, uint64_t now)
{
	uint32_t mss = cur_mss(tp);
	uint32_t avail = ring_len(&tp->snd), len = avail < mss ? avail : mss;
	bool fin = (tp->flags & TF_FIN_QUEUED) && len == avail && seq_gt(tp->snd_max, tp->fin_seq);

	if (tcp_in_state(tp, TCPS_SYN_SENT | TCPS_SYN_RECEIVED))
		return tcp_send_syn(tp, now);
	if (!len && !fin)
		return 0;
	if (seq_gt(tp->snd_una + len + fin, tp->snd_nxt))
		tp->snd_nxt = tp->snd_una + len + fin;
	/* When the ACK that led here covered everything in flight, the head is
	 * new data: SND.MAX must cover it, or the peer's ACK of it reads as an
	 * ACK of unsent data and is dropped, and the connection stalls. */
	if (seq_gt(tp->snd_nxt, tp->snd_max))
		tp->snd_max = tp->snd_nxt;
	if (!tcp_timer_on(&tp->t[TCPT_REXMT]))
		tcp_arm_rexmt(tp, now);
	return xmit_data(tp, tp->snd_una, len, fin, now);
}

/* Largest payload of one frame: one MSS, or with TSO on the link (LINK_F_TSO4
 * and checksum offload, Linux sk_can_gso) as many whole MSS as fit in one
 * 64 KB IPv4 packet (Linux tcp_tso_autosize, without its pacing-rate bound). */
static uint32_t tcp_tso_max(const struct tcp_sock *tp, uint32_t mss)
{
	const struct link *l = tp->eng->link;
	uint32_t room;

	if (!l || (l->features & (LINK_F_TSO4 | LINK_F_TX_CSUM)) != (LINK_F_TSO4 | LINK_F_TX_CSUM) ||
	    !mss)
		return mss;
	room = 65535u - 20u - 60u;
	return room - room % mss;
}

/* Send what the windows, Nagle and cork allow (RFC 9293 3.8.6.2.1 sender SWS,
 * RFC 896 / RFC 1122 4.2.3.4 Nagle, RFC 5681 cwnd). Returns segments sent. */
int tcp_output(struct tcp_sock *tp, uint64_t now)
{
	int sent = 0;
	bool new_data = false;

	if (!tcp_in_state(tp, TCPS_ESTABLISHED | TCPS_CLOSE_WAIT | TCPS_FIN_WAIT_1 |
				  TCPS_CLOSING | TCPS_LAST_ACK))
		goto ack;
	for (;;) {
		uint32_t qlen = ring_len(&tp->snd);
		uint32_t off = tp->snd_nxt - tp->snd_una;
		uint32_t avail = seq_leq(tp->snd_nxt, tp->snd_una + qlen) ? qlen - off : 0;
		uint32_t wnd = tp->snd_wnd < tp->cc.cwnd ? tp->snd_wnd : tp->cc.cwnd;
		/* RFC 6675 5 (C): in SACK recovery, pipe stands for FlightSize */
		uint32_t flight = tcp_in_flight(tp);
		uint32_t usable = wnd > flight ? wnd - flight : 0;
		uint32_t mss = cur_mss(tp);
		uint32_t max = tcp_tso_max(tp, mss);
		uint32_t len = avail < max ? avail : max;
		bool fin_q = tp->flags & TF_FIN_QUEUED;
		bool fin;

		if (len > usable)
			len = usable;
		/* a TSO frame carries whole segments, but for the tail of the queue */
		if (len > mss && len < avail)
			len -= len % mss;
		if (!len)
			break;
		if (len < mss && !fin_q && !seq_lt(tp->snd_nxt, tp->snd_max)) {
			/* a partial segment of new data (a resend is never held):
			 * cork and MSG_MORE hold it; Nagle holds it while data is
			 * unacknowledged, unless TCP_NODELAY */
			if (len == avail && (tp->flags & (TF_CORK | TF_MORE)) &&
			    !(tp->flags & TF_CORK_PUSH)) {
				if (!tcp_timer_on(&tp->t[TCPT_CORK]))
					tcp_timer_arm(tp->eng, &tp->t[TCPT_CORK], now + TCP_CORK_MAX);
				break;
			}
			if (len == avail && !(tp->flags & (TF_NODELAY | TF_CORK_PUSH)) && flight)
				break;
			/* sender SWS: a window-limited sliver waits, unless it is at
			 * least half the largest window the peer offered */
			if (len < avail && len < tp->max_snd_wnd / 2 && flight)
				break;
		}
		fin = fin_q && len == avail && !fin_sent(tp);
		if (!(tp->flags & TF_RTT_TIMING) && !seq_lt(tp->snd_nxt, tp->snd_max)) {
			tp->flags |= TF_RTT_TIMING;
			tp->rtt_seq = tp->snd_nxt;
			tp->rtt_start = now;
		}
		if (tp->snd_nxt == tp->snd_una && !tcp_timer_on(&tp->t[TCPT_REXMT]) && tp->last_snd &&
		    now - tp->last_snd > tcp_rtt_rto(&tp->rtt))
			tcp_cc_after_idle(&tp->cc, now - tp->last_snd, tcp_rtt_rto(&tp->rtt), now);
		xmit_data(tp, tp->snd_nxt, len, fin, now);
		tp->snd_nxt += len + fin;
		if (seq_gt(tp->snd_nxt, tp->snd_max))
			tp->snd_max = tp->snd_nxt;
		if (!tcp_timer_on(&tp->t[TCPT_REXMT]))
			tcp_arm_rexmt(tp, now);
		new_data = true;
		tcp_timer_stop(tp->eng, &tp->t[TCPT_PERSIST]);
		if (seq_geq(tp->snd_nxt, tp->snd_una + qlen))
			tcp_timer_stop(tp->eng, &tp->t[TCPT_CORK]);   /* nothing held any more */
		sent++;
	}
	/* the FIN alone, once every byte before it is sent: "the ACK of a FIN and
	 * our own FIN merged into one segment" falls out of this: the pending ACK
	 * rides on it */
	if ((tp->flags & TF_FIN_QUEUED) && !fin_sent(tp) && tp->snd_nxt == tp->fin_seq) {
		xmit_data(tp, tp->snd_nxt, 0, true, now);
		tp->snd_nxt++;
		if (seq_gt(tp->snd_nxt, tp->snd_max))
			tp->snd_max = tp->snd_nxt;
		if (!tcp_timer_on(&tp->t[TCPT_REXMT]))
			tcp_arm_rexmt(tp, now);
		new_data = true;
		sent++;
	}
	/* RFC 8985 7.2 / Linux tcp_write_xmit: new data sent schedules a loss probe */
	if (new_data)
		tcp_set_xmit_timer(tp, now);
	/* RFC 9293 3.8.6.1: zero window with data waiting: probe it */
	{
		uint32_t qlen = ring_len(&tp->snd);
		uint32_t off = tp->snd_nxt - tp->snd_una;
		if (qlen > off && tp->snd_wnd == 0 && tp->snd_nxt == tp->snd_una &&
		    !tcp_timer_on(&tp->t[TCPT_REXMT]) && !tcp_timer_on(&tp->t[TCPT_PERSIST]))
			tcp_timer_arm(tp->eng, &tp->t[TCPT_PERSIST], now + tcp_rtt_rto(&tp->rtt));
	}
ack:
	if ((tp->flags & TF_ACKNOW) && tcp_in_state(tp, TCPS_SYNCHRONIZED)) {
		tcp_send_ack(tp, now);
		sent++;
	}
	return sent;
}
