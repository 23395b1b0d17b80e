/* table.c - the TCP stack object, its tables (4-tuple hash, listeners, timers) and `ss` (RFC 9293 3.3.1, RFC 6056). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/siphash.h"
#include "base/time.h"
#include "eng.h"
#include "tcp/tcb.h"

#define EHASH_BITS 16

struct tcp_stack *tcp_new(struct eng *eng)
{
	struct tcp_stack *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->eng = eng;
	st->ehash_mask = (1u << EHASH_BITS) - 1;
	st->ehash = calloc(st->ehash_mask + 1, sizeof(*st->ehash));
	if (!st->ehash) {
		free(st);
		return NULL;
	}
	st->bhash = calloc(65536, sizeof(*st->bhash));
	if (!st->bhash) {
		free(st->ehash);
		free(st);
		return NULL;
	}
	timer_heap_init(&st->timers);
	tcp_ports_init(&st->ports, eng->cfg.secret);
	return st;
}

void tcp_free(struct tcp_stack *st)
{
	if (!st)
		return;
	for (uint32_t i = 0; i <= st->ehash_mask; i++) {
		struct tcp_conn *c = st->ehash[i], *n;

		for (; c; c = n) {
			n = c->hnext;
			if (c->kind != TCPK_SOCK)
				free(c);
		}
	}
	while (st->all) {
		struct tcp_sock *tp = st->all;

		st->all = tp->all_next;
		ring_free(&tp->snd);
		ring_free(&tp->rcv);
		tcp_ofo_free(&tp->ofo);
		free(tp);
	}
	timer_heap_free(&st->timers);
	free(st->bhash);
	free(st->ehash);
	free(st);
}

uint32_t tcp_hash(const struct tcp_stack *st, uint32_t laddr, uint16_t lport, uint32_t raddr,
		  uint16_t rport)
{
	return (uint32_t)siphash_4u32(laddr, raddr, (uint32_t)lport << 16 | rport, 0x74637068,
				      st->eng->cfg.secret) & st->ehash_mask;
}

struct tcp_conn *tcp_lookup(struct tcp_stack *st, uint32_t laddr, uint16_t lport,
			    uint32_t raddr, uint16_t rport)
{
	struct tcp_conn *c = st->ehash[tcp_hash(st, laddr, lport, raddr, rport)];

	for (; c; c = c->hnext)
		if (c->laddr == laddr && c->raddr == raddr && c->lport == lport &&
		    c->rport == rport)
			return c;
	return NULL;
}

void tcp_hash_add(struct tcp_stack *st, struct tcp_conn *c)
{
	uint32_t h = tcp_hash(st, c->laddr, c->lport, c->raddr, c->rport);

	if (c->hashed)
		return;
	c->hnext = st->ehash[h];
	st->ehash[h] = c;
	c->hashed = 1;
}

void tcp_hash_del(struct tcp_stack *st, struct tcp_conn *c)
{
	struct tcp_conn **pp;

	if (!c->hashed)
		return;
	pp = &st->ehash[tcp_hash(st, c->laddr, c->lport, c->raddr, c->rport)];
	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	c->hashed = 0;
	c->hnext = NULL;
}

/* An exact local address beats the wildcard, as Linux's listener scoring. */
struct tcp_sock *tcp_lookup_listener(struct tcp_stack *st, uint32_t laddr, uint16_t lport)
{
	struct tcp_sock *best = NULL;

	for (struct tcp_sock *l = st->listeners; l; l = l->lis_next) {
		if (l->c.lport != lport)
			continue;
		if (l->c.laddr == laddr)
			return l;
		if (l->c.laddr == 0)
			best = l;
	}
	return best;
}

/* bind() conflicts, Linux inet_csk_bind_conflict() in short: two sockets on one
 * port conflict when their addresses overlap, unless both set SO_REUSEADDR and
 * neither listens, or both set SO_REUSEPORT. TIME-WAIT records do not block a
 * SO_REUSEADDR bind. */
bool tcp_port_in_use(struct tcp_stack *st, uint32_t laddr, uint16_t port, bool reuse,
		     const struct tcp_sock *self)
{
	const struct tcp_bind_head *b = &st->bhash[port];

	for (struct tcp_sock *o = b->socks; o; o = o->bnext) {
		if (o == self || !(o->flags & TF_BOUND) || o->c.lport != port)
			continue;
		if (o->c.laddr && laddr && o->c.laddr != laddr)
			continue;
		if (reuse && (o->flags & TF_REUSEADDR) && !tcp_in_state(o, TCPS_LISTEN))
			continue;
		if (self && (self->flags & TF_REUSEPORT) && (o->flags & TF_REUSEPORT))
			continue;
		return true;
	}
	/* Linux inet_bind_conflict(): "if (reuse && sk2->sk_reuse && sk2->sk_state
	 * != TCP_LISTEN)" there is no conflict: a TIME-WAIT record lets the port go
	 * only when both the new socket and the one that left it set SO_REUSEADDR */
	for (const struct tcp_tw *tw = b->tws; tw; tw = tw->bnext)
		if ((!laddr || tw->c.laddr == laddr) && !(reuse && tw->reuse))
			return true;
	return false;
}

bool tcp_tw_reusable(const struct tcp_sock *tp, const struct tcp_tw *tw, bool bound,
		     uint64_t now)
{
	int reuse = tp->eng->cfg.tcp.tw_reuse;

	/* tcp_tw_reuse 2: "only for loopback traffic" */
	if (reuse == 2 && (ntohl(tw->c.raddr) >> 24) != 127 && (ntohl(tw->c.laddr) >> 24) != 127)
		reuse = 0;
	/* "With PAWS, it is safe from the viewpoint of data integrity": only a
	 * connection that used timestamps; with a port the user bound (no twp)
	 * that suffices, else tcp_tw_reuse and one second since TS.Recent */
	if (!tw->ts_recent_stamp)
		return false;
	if (bound)
		return true;
	return reuse && now / SEC(1) >= tw->ts_recent_stamp;
}

void tcp_bind_hash_add(struct tcp_stack *st, struct tcp_sock *tp)
{
	struct tcp_bind_head *b = &st->bhash[tp->c.lport];

	if (tp->bpprev)
		tcp_bind_hash_del(tp);
	tp->bnext = b->socks;
	if (b->socks)
		b->socks->bpprev = &tp->bnext;
	b->socks = tp;
	tp->bpprev = &b->socks;
}

void tcp_bind_hash_del(struct tcp_sock *tp)
{
	if (!tp->bpprev)
		return;
	*tp->bpprev = tp->bnext;
	if (tp->bnext)
		tp->bnext->bpprev = tp->bpprev;
	tp->bnext = NULL;
	tp->bpprev = NULL;
}

void tcp_bind_hash_add_tw(struct tcp_stack *st, struct tcp_tw *tw)
{
	struct tcp_bind_head *b = &st->bhash[tw->c.lport];

	tw->bnext = b->tws;
	if (b->tws)
		b->tws->bpprev = &tw->bnext;
	b->tws = tw;
	tw->bpprev = &b->tws;
}

void tcp_timer_arm(struct eng *eng, struct tcp_tnode *t, uint64_t when)
{
	timer_heap_update(&eng->tcp->timers, &t->node, when);
}

void tcp_timer_stop(struct eng *eng, struct tcp_tnode *t)
{
	timer_heap_del(&eng->tcp->timers, &t->node);
}

void tcp_req_free(struct eng *eng, struct tcp_req *req)
{
	struct tcp_sock *l = req->listener;

	tcp_timer_stop(eng, &req->t);
	tcp_hash_del(eng->tcp, &req->c);
	if (l && req->lpprev) {
		*req->lpprev = req->lnext;
		if (req->lnext)
			req->lnext->lpprev = req->lpprev;
		l->synq_len--;
	}
	eng->tcp->nreq--;
	free(req);
}

void tcp_tw_free(struct eng *eng, struct tcp_tw *tw)
{
	tcp_timer_stop(eng, &tw->t);
	tcp_hash_del(eng->tcp, &tw->c);
	if (tw->bpprev) {
		*tw->bpprev = tw->bnext;
		if (tw->bnext)
			tw->bnext->bpprev = tw->bpprev;
	}
	eng->tcp->ntw--;
	free(tw);
}

struct tcp_sock *tcp_sock_alloc(struct eng *eng)
{
	struct tcp_stack *st = eng->tcp;
	struct tcp_sock *tp = calloc(1, sizeof(*tp));
	const struct tcp_params *p = &eng->cfg.tcp;

	if (!tp)
		return NULL;
	tp->eng = eng;
	tp->c.kind = TCPK_SOCK;
	tp->c.state = TCPS_CLOSED;
	for (int i = 0; i < TCPT__MAX; i++) {
		timer_node_init(&tp->t[i].node);
		tp->t[i].kind = TCPK_SOCK;
		tp->t[i].which = (uint8_t)i;
	}
	/* tcp_wmem[1] until the connection is established, then grown with the
	 * congestion window (tcp_sndbuf_expand) */
	tp->sndbuf = p->wmem_default ? p->wmem_default : 16384;
	/* tcp_rmem[1], grown by what the application reads (tcp_rcv_space_adjust) */
	tp->rcvbuf = p->rmem_default ? p->rmem_default : 131072;
	ring_init(&tp->snd, tcp_sndbuf_payload(tp->sndbuf));
	ring_init(&tp->rcv, tcp_rcv_limit(tp->rcvbuf));
	tcp_ofo_init(&tp->ofo, tp->rcvbuf / 2);
	tcp_rtt_init(&tp->rtt, p->rto_initial, p->rto_min, p->rto_max);
	tp->cc_ops = tcp_cc_find(p->congestion);
	if (!tp->cc_ops)
		tp->cc_ops = &tcp_cc_cubic;
	tp->keep_idle = p->keep_idle;
	tp->keep_intvl = p->keep_intvl;
	tp->keep_cnt = p->keep_cnt;
	tp->mss = 536;
	tp->peer_mss = 536;
	tp->rcv_mss = 536;
	tp->all_next = st->all;
	if (st->all)
		st->all->all_prev = tp;
	st->all = tp;
	st->nsock++;
	return tp;
}

void tcp_sock_destroy(struct tcp_sock *tp)
{
	struct eng *eng = tp->eng;
	struct tcp_stack *st = eng->tcp;

	tcp_linger_check(tp, true);
	for (int i = 0; i < TCPT__MAX; i++)
		tcp_timer_stop(eng, &tp->t[i]);
	tcp_hash_del(st, &tp->c);
	tcp_bind_hash_del(tp);
	if (tp->flags & TF_WAKE) {
		for (struct tcp_sock **pp = &st->wake_head; *pp; pp = &(*pp)->wake_next)
			if (*pp == tp) {
				*pp = tp->wake_next;
				break;
			}
	}
	for (struct tcp_sock **pp = &st->listeners; *pp; pp = &(*pp)->lis_next)
		if (*pp == tp) {
			*pp = tp->lis_next;
			break;
		}
	if (tp->all_prev)
		tp->all_prev->all_next = tp->all_next;
	else
		st->all = tp->all_next;
	if (tp->all_next)
		tp->all_next->all_prev = tp->all_prev;
	st->nsock--;
	ring_free(&tp->snd);
	ring_free(&tp->rcv);
	tcp_ofo_free(&tp->ofo);
	free(tp);
}

void tcp_set_time_wait(struct eng *eng, uint64_t ns)
{
	eng->cfg.tcp.time_wait = ns;
}

/* --- ss -------------------------------------------------------------------- */

static const char *timer_name(int which)
{
	switch (which) {
	case TCPT_REXMT: return "on";
	case TCPT_PERSIST: return "persist";
	case TCPT_KEEP: return "keepalive";
	case TCPT_DELACK: return "delack";
	case TCPT_FIN_WAIT2: return "timewait";
	case TCPT_SYNACK: return "on";
	case TCPT_2MSL: return "timewait";
	default: return "off";
	}
}

static void info_conn(struct tcp_conn_info *ci, const struct tcp_conn *c)
{
	memset(ci, 0, sizeof(*ci));
	ci->tcps = c->state;
	ci->state = tcp_state_ss_name(c->state);
	ci->laddr = c->laddr;
	ci->raddr = c->raddr;
	ci->lport = c->lport;
	ci->rport = c->rport;
	ci->timer = "off";
	ci->expires = TIME_NEVER;
}

static void info_sock(struct tcp_conn_info *ci, const struct tcp_sock *tp)
{
	info_conn(ci, &tp->c);
	if (tcp_in_state(tp, TCPS_LISTEN)) {
		ci->recvq = tp->acceptq_len;
		ci->sendq = (uint32_t)tp->backlog;
	} else {
		ci->recvq = ring_len(&tp->rcv);
		ci->sendq = ring_len(&tp->snd);
	}
	ci->rtt_us = tcp_rtt_srtt(&tp->rtt) / 1000;
	ci->rttvar_us = tcp_rtt_var(&tp->rtt) / 1000;
	ci->rto_us = tcp_rtt_rto(&tp->rtt) / 1000;
	ci->cwnd = tp->mss ? tp->cc.cwnd / tp->mss : 0;
	ci->ssthresh = tp->cc.ssthresh == TCP_SSTHRESH_INF || !tp->mss ? 0 :
		       tp->cc.ssthresh / tp->mss;
	ci->mss = tp->mss;
	ci->orphan = !!(tp->flags & TF_ORPHAN);
	/* ss shows the timer that matters: retransmit, persist, keepalive, FIN-WAIT-2 */
	for (int w = 0; w < TCPT__MAX; w++) {
		if (w == TCPT_DELACK || !tcp_timer_on(&tp->t[w]))
			continue;
		if (tp->t[w].node.when < ci->expires) {
			ci->expires = tp->t[w].node.when;
			ci->timer = timer_name(w);
		}
	}
}

void tcp_foreach(struct eng *eng, tcp_iter_fn fn, void *arg)
{
	struct tcp_stack *st = eng->tcp;
	struct tcp_conn_info ci;

	for (struct tcp_sock *tp = st->all; tp; tp = tp->all_next) {
		if (tcp_in_state(tp, TCPS_CLOSED))
			continue;
		info_sock(&ci, tp);
		fn(&ci, arg);
	}
	for (uint32_t i = 0; i <= st->ehash_mask && (st->nreq || st->ntw); i++) {
		for (struct tcp_conn *c = st->ehash[i]; c; c = c->hnext) {
			if (c->kind == TCPK_SOCK)
				continue;
			info_conn(&ci, c);
			if (c->kind == TCPK_REQ) {
				const struct tcp_req *r = (const struct tcp_req *)c;
				ci.timer = "on";
				ci.expires = r->t.node.when;
				ci.mss = r->mss;
			} else {
				const struct tcp_tw *tw = (const struct tcp_tw *)c;
				ci.timer = "timewait";
				ci.expires = tw->t.node.when;
			}
			fn(&ci, arg);
		}
	}
}

struct ss_ctx {
	char *buf;
	size_t cap, off;
	uint64_t now;
};

static void ss_line(const struct tcp_conn_info *ci, void *arg)
{
	struct ss_ctx *x = arg;
	char la[INET_ADDRSTRLEN], ra[INET_ADDRSTRLEN], lp[24], rp[24], tm[48];
	int n;

	inet_ntop(AF_INET, &ci->laddr, la, sizeof(la));
	inet_ntop(AF_INET, &ci->raddr, ra, sizeof(ra));
	snprintf(lp, sizeof(lp), "%s:%u", ci->laddr ? la : "0.0.0.0", ci->lport);
	if (ci->tcps == TCPS_LISTEN)
		snprintf(rp, sizeof(rp), "0.0.0.0:*");
	else
		snprintf(rp, sizeof(rp), "%s:%u", ra, ci->rport);
	if (ci->expires != TIME_NEVER && x->now != TIME_NEVER) {
		uint64_t left = ci->expires > x->now ? ci->expires - x->now : 0;
		snprintf(tm, sizeof(tm), "timer:(%s,%.3fsec)", ci->timer, (double)left / 1e9);
	} else if (ci->expires != TIME_NEVER) {
		snprintf(tm, sizeof(tm), "timer:(%s)", ci->timer);
	} else {
		snprintf(tm, sizeof(tm), "timer:(off)");
	}
	if (x->off >= x->cap)
		return;
	n = snprintf(x->buf + x->off, x->cap - x->off,
		     "%-11s %-6u %-6u %-21s %-21s rtt:%.3f/%.3f rto:%.0f cwnd:%u %s%s\n",
		     ci->state, ci->recvq, ci->sendq, lp, rp, (double)ci->rtt_us / 1000.0,
		     (double)ci->rttvar_us / 1000.0, (double)ci->rto_us / 1000.0, ci->cwnd, tm,
		     ci->orphan ? " orphan" : "");
	if (n > 0)
		x->off = (size_t)n >= x->cap - x->off ? x->cap - 1 : x->off + (size_t)n;
}

size_t tcp_format_ss_at(struct eng *eng, char *buf, size_t cap, uint64_t now)
{
	struct ss_ctx x = { buf, cap, 0, now };
	int n;

	if (cap == 0)
		return 0;
	buf[0] = '\0';
	n = snprintf(buf, cap, "%-11s %-6s %-6s %-21s %-21s\n", "State", "Recv-Q", "Send-Q",
		     "Local Address:Port", "Peer Address:Port");
	if (n > 0)
		x.off = (size_t)n >= cap ? cap - 1 : (size_t)n;
	tcp_foreach(eng, ss_line, &x);
	return x.off;
}

size_t tcp_format_ss(struct eng *eng, char *buf, size_t cap)
{
	return tcp_format_ss_at(eng, buf, cap, eng->now);
}
