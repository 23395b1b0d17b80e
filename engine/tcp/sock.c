/* sock.c - the socket-facing TCP calls (tcp_sock.h) with Linux's semantics (RFC 9293 3.9.1, 3.10.1-3.10.6). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "base/time.h"
#include "eng.h"
#include "tcp/isn.h"
#include "tcp/tcb.h"

/* --- readiness, lifetime ---------------------------------------------------- */

void tcp_wake(struct tcp_sock *tp)
{
	struct tcp_stack *st = tp->eng->tcp;
	struct tcp_sock *who = tp;

	if ((who->flags & (TF_WAKE | TF_ORPHAN)) || !who->cb)
		return;
	who->flags |= TF_WAKE;
	who->wake_next = st->wake_head;
	st->wake_head = who;
}

void tcp_run_wakeups(struct eng *eng)
{
	struct tcp_stack *st = eng->tcp;
	struct tcp_sock *tp;

	while ((tp = st->wake_head)) {
		st->wake_head = tp->wake_next;
		tp->flags &= ~TF_WAKE;
		if (tp->cb && !(tp->flags & TF_ORPHAN))
			tp->cb(tp, tcp_sock_events(tp), tp->cb_arg);
	}
}

void tcp_maybe_free(struct tcp_sock *tp)
{
	if ((tp->flags & TF_ORPHAN) && tcp_in_state(tp, TCPS_CLOSED))
		tcp_sock_destroy(tp);
}

void tcp_linger_check(struct tcp_sock *tp, bool force)
{
	void (*fn)(void *) = tp->linger_done;

	if (!fn)
		return;
	/* Linux sk_stream_wait_close(): "while (sk->sk_state & (TCPF_FIN_WAIT1 |
	 * TCPF_CLOSING | TCPF_LAST_ACK))" the closing process sleeps */
	if (!force && tcp_in_state(tp, TCPS_FIN_WAIT_1 | TCPS_CLOSING | TCPS_LAST_ACK))
		return;
	tp->linger_done = NULL;
	tcp_timer_stop(tp->eng, &tp->t[TCPT_LINGER]);
	fn(tp->linger_arg);
}

/* Linux tcp_set_state(TCP_CLOSE): "if (inet_csk(sk)->icsk_bind_hash &&
 * !(sk->sk_userlocks & SOCK_BINDPORT_LOCK)) inet_put_port(sk)": a port the
 * user did not name is free again once the connection is over. The number stays
 * for getsockname() (Linux keeps inet_sport). */
static void put_port(struct tcp_sock *tp)
{
	if (tp->flags & TF_BIND_PORT)
		return;
	tcp_bind_hash_del(tp);
	tp->flags &= ~TF_BOUND;
}

/* Linux tcp_done(): the connection is over. The user (if any) sees CLOSED,
 * POLLHUP and the error. */
void tcp_done(struct tcp_sock *tp, int err)
{
	struct eng *eng = tp->eng;

	for (int i = 0; i < TCPT__MAX; i++)
		tcp_timer_stop(eng, &tp->t[i]);
	tcp_hash_del(eng->tcp, &tp->c);
	if (!tcp_in_state(tp, TCPS_LISTEN))
		put_port(tp);
	if (err)
		tp->err = err;
	tp->shut = SHUT_F_RCV | SHUT_F_SEND;
	tcp_set_state(eng, &tp->c, TCPS_CLOSED);
	tcp_wake(tp);
}

/* Linux tcp_time_wait(): the full socket gives way to a small record that
 * answers the peer for 2MSL; the user's socket (if any) is CLOSED. */
void tcp_time_wait(struct tcp_sock *tp, uint64_t now)
{
	struct eng *eng = tp->eng;
	struct tcp_tw *tw = calloc(1, sizeof(*tw));

	if (tw) {
		tw->c.kind = TCPK_TW;
		tw->c.laddr = tp->c.laddr;
		tw->c.raddr = tp->c.raddr;
		tw->c.lport = tp->c.lport;
		tw->c.rport = tp->c.rport;
		tw->c.state = tp->c.state;
		timer_node_init(&tw->t.node);
		tw->t.kind = TCPK_TW;
		tw->t.which = TCPT_2MSL;
		tw->snd_nxt = tp->snd_nxt;
		tw->rcv_nxt = tp->rcv_nxt;
		tw->ts_ok = tp->ts_ok;
		tw->ts_recent = tp->ts_recent;
		tw->ts_off = tp->ts_off;
		tw->rcv_win = tcp_rcv_window(tp);
		tw->reuse = !!(tp->flags & TF_REUSEADDR);
		tw->ts_recent_stamp = tp->ts_ok ? (uint32_t)(tp->ts_recent_stamp / SEC(1)) + 1 : 0;
	}
	for (int i = 0; i < TCPT__MAX; i++)
		tcp_timer_stop(eng, &tp->t[i]);
	tcp_hash_del(eng->tcp, &tp->c);
	put_port(tp);   /* the record holds the port now (Linux tw_bind_node) */
	tp->shut = SHUT_F_RCV | SHUT_F_SEND;
	if (tw) {
		tcp_hash_add(eng->tcp, &tw->c);
		tcp_bind_hash_add_tw(eng->tcp, tw);
		eng->tcp->ntw++;
		tcp_set_state(eng, &tw->c, TCPS_TIME_WAIT);
		tcp_timer_arm(eng, &tw->t, now + eng->cfg.tcp.time_wait);
		tp->c.state = TCPS_CLOSED;   /* the record carries the connection on */
		tcp_linger_check(tp, false);
	} else {
		tcp_set_state(eng, &tp->c, TCPS_CLOSED);
	}
	tcp_wake(tp);
}

void tcp_acceptq_add(struct tcp_sock *lis, struct tcp_sock *child)
{
	child->aq_next = NULL;
	if (lis->acceptq_tail)
		lis->acceptq_tail->aq_next = child;
	else
		lis->acceptq_head = child;
	lis->acceptq_tail = child;
	lis->acceptq_len++;
	child->parent = lis;
	tcp_wake(lis);
}

void tcp_acceptq_unlink(struct tcp_sock *lis, struct tcp_sock *child)
{
	struct tcp_sock *prev = NULL;

	for (struct tcp_sock *x = lis->acceptq_head; x; prev = x, x = x->aq_next) {
		if (x != child)
			continue;
		if (prev)
			prev->aq_next = x->aq_next;
		else
			lis->acceptq_head = x->aq_next;
		if (lis->acceptq_tail == x)
			lis->acceptq_tail = prev;
		lis->acceptq_len--;
		break;
	}
	child->parent = NULL;
	child->aq_next = NULL;
}

/* Linux tcp_poll(). */
unsigned tcp_sock_events(const struct tcp_sock *tp)
{
	unsigned mask = 0;

	if (tcp_in_state(tp, TCPS_LISTEN))
		return tp->acceptq_head ? POLLIN : 0;
	if (tp->shut == (SHUT_F_RCV | SHUT_F_SEND) || tcp_in_state(tp, TCPS_CLOSED))
		mask |= POLLHUP;
	if (tp->shut & SHUT_F_RCV)
		mask |= POLLIN | POLLRDHUP;
	if (!tcp_in_state(tp, TCPS_SYN_SENT | TCPS_SYN_RECEIVED)) {
		if (ring_len(&tp->rcv))
			mask |= POLLIN;
		if (!(tp->shut & SHUT_F_SEND)) {
			/* sk_stream_is_writeable: free space >= half of what is queued */
			if (ring_space(&tp->snd) >= ring_len(&tp->snd) / 2 && ring_space(&tp->snd))
				mask |= POLLOUT;
		} else {
			mask |= POLLOUT;   /* writes fail at once */
		}
	}
	if (tp->err)
		mask |= POLLERR;
	return mask;
}

size_t tcp_recv_avail(const struct tcp_sock *tp) { return ring_len(&tp->rcv); }
size_t tcp_send_buffer(const struct tcp_sock *tp) { return tp->snd.limit; }

/* How many payload bytes a send buffer of `sndbuf` holds. Linux charges the send
 * queue with each skb's truesize (payload plus the skb and its head), and
 * tcp_sndbuf_expand() sizes sk_sndbuf for the worst case of one power-of-two
 * buffer per MSS; with 64 KB GSO skbs split as the window allows, about a
 * quarter of sk_sndbuf goes to overhead: the default 87040 bytes take about
 * 64 KiB of data before send() blocks, which is what this gives. */
uint32_t tcp_sndbuf_payload(uint32_t sndbuf)
{
	return sndbuf - sndbuf / 4;
}

/* Linux tcp_sndbuf_expand(): "Worst case is non GSO/TSO: each frame consumes
 * one skb and skb->head is kmalloced using power of two area of memory";
 * sndmem = 2 (the cushion for fast recovery) * max(TCP_INIT_CWND, cwnd) *
 * per_mss, at most tcp_wmem[2]. Called when the connection is established
 * (tcp_init_buffer_space) and when ACKs free the buffer of a writer that found
 * it full while not limited by cwnd (tcp_should_expand_sndbuf). */
void tcp_sndbuf_expand(struct tcp_sock *tp)
{
	const struct tcp_params *p = &tp->eng->cfg.tcp;
	uint32_t mss = tp->peer_mss > tp->mss ? tp->peer_mss : tp->mss;
	uint32_t per_mss = 1, segs = tp->mss ? tp->cc.cwnd / tp->mss : 0;
	uint32_t max = p->wmem_max ? p->wmem_max : 4194304u;
	uint64_t sndmem;

	if (tp->flags & TF_SNDBUF_LOCK)
		return;
	/* MAX_TCP_HEADER (320) + SKB_DATA_ALIGN(sizeof(struct skb_shared_info))
	 * (320), rounded up to a power of two, + SKB_DATA_ALIGN(sizeof(struct
	 * sk_buff)) (256): 4352 for a 1460-byte MSS */
	while (per_mss < mss + 320 + 320)
		per_mss <<= 1;
	per_mss += 256;
	if (segs < 10)
		segs = 10;
	sndmem = 2ull * segs * per_mss;
	if (sndmem > max)
		sndmem = max;
	if (tp->sndbuf < sndmem && ring_set_limit(&tp->snd, tcp_sndbuf_payload((uint32_t)sndmem)) == 0)
		tp->sndbuf = (uint32_t)sndmem;
}
size_t tcp_send_space(const struct tcp_sock *tp)
{
	if (!tcp_in_state(tp, TCPS_ESTABLISHED | TCPS_CLOSE_WAIT) || (tp->shut & SHUT_F_SEND))
		return 0;
	return ring_space(&tp->snd);
}

/* --- the calls -------------------------------------------------------------- */

struct tcp_sock *tcp_sock_new(struct eng *eng) { return tcp_sock_alloc(eng); }

void tcp_sock_set_cb(struct tcp_sock *tp, tcp_event_fn fn, void *arg)
{
	tp->cb = fn;
	tp->cb_arg = arg;
}

void tcp_sock_set_rx(struct tcp_sock *tp, tcp_rx_fn fn, void *arg)
{
	tp->rx_fn = fn;
	tp->rx_arg = arg;
}


struct pick_ctx {
	struct tcp_sock *tp;
	uint64_t now;
};

static bool port_usable(void *arg, uint16_t port)
{
	struct pick_ctx *x = arg;
	struct tcp_sock *tp = x->tp;
	struct tcp_stack *st = tp->eng->tcp;

	if (tp->c.raddr) {
		/* Linux __inet_hash_connect(): a port whose 4-tuple is in TIME-WAIT
		 * is usable when tcp_twsk_unique() allows (tcp_tw_reuse) */
		struct tcp_conn *c = tcp_lookup(st, tp->c.laddr ? tp->c.laddr : tp->eng->cfg.addr,
						port, tp->c.raddr, tp->c.rport);

		if (c && !(c->kind == TCPK_TW &&
			   tcp_tw_reusable(tp, (const struct tcp_tw *)c, false, x->now)))
			return false;
		return !tcp_port_in_use(st, tp->c.laddr, port, true, tp);
	}
	return !tcp_port_in_use(st, tp->c.laddr, port, false, tp);
}

static int pick_port(struct tcp_sock *tp, uint64_t now)
{
	struct eng *eng = tp->eng;
	const struct tcp_params *p = &eng->cfg.tcp;
	struct pick_ctx x = { tp, now };
	int port = tcp_port_pick(&eng->tcp->ports, tp->c.laddr ? tp->c.laddr : eng->cfg.addr,
				 tp->c.raddr, tp->c.rport, p->port_lo, p->port_hi, port_usable, &x);

	if (port < 0)
		return port;
	tp->c.lport = (uint16_t)port;
	tp->flags |= TF_BOUND;
	tcp_bind_hash_add(eng->tcp, tp);
	return 0;
}

int tcp_bind(struct tcp_sock *tp, uint32_t addr, uint16_t port)
{
	struct eng *eng = tp->eng;

	if ((tp->flags & TF_BOUND) || !tcp_in_state(tp, TCPS_CLOSED))
		return -EINVAL;
	if (addr && addr != eng->cfg.addr && addr != htonl(INADDR_LOOPBACK))
		return -EADDRNOTAVAIL;
	tp->c.laddr = addr;
	if (!port) {
		int err = pick_port(tp, eng->now);
		if (!err && addr)
			tp->flags |= TF_BIND_ADDR;
		return err;
	}
	if (tcp_port_in_use(eng->tcp, addr, port, !!(tp->flags & TF_REUSEADDR), tp)) {
		tp->c.laddr = 0;
		return -EADDRINUSE;
	}
	tp->c.lport = port;
	/* Linux inet_bind: SOCK_BINDADDR_LOCK for an address, SOCK_BINDPORT_LOCK for a port */
	tp->flags |= TF_BOUND | TF_BIND_PORT | (addr ? TF_BIND_ADDR : 0);
	tcp_bind_hash_add(eng->tcp, tp);
	return 0;
}

int tcp_listen(struct tcp_sock *tp, int backlog)
{
	struct eng *eng = tp->eng;
	unsigned max = eng->cfg.tcp.somaxconn;

	if (tcp_in_state(tp, TCPS_LISTEN)) {
		tp->backlog = backlog < 0 ? 0 : ((unsigned)backlog > max ? (int)max : backlog);
		return 0;
	}
	if (!tcp_in_state(tp, TCPS_CLOSED) || (tp->flags & TF_WAS_CONN))
		return -EINVAL;
	if (!(tp->flags & TF_BOUND)) {
		int err = pick_port(tp, eng->now);
		if (err)
			return err;
	} else {
		/* another listener on the same address and port (SO_REUSEADDR does
		 * not allow two listeners; SO_REUSEPORT does) */
		for (struct tcp_sock *l = eng->tcp->listeners; l; l = l->lis_next)
			if (l->c.lport == tp->c.lport &&
			    (!l->c.laddr || !tp->c.laddr || l->c.laddr == tp->c.laddr) &&
			    !((l->flags & tp->flags) & TF_REUSEPORT))
				return -EADDRINUSE;
	}
	/* Linux: backlog clamped to somaxconn; negative means 0 */
	tp->backlog = backlog < 0 ? 0 : ((unsigned)backlog > max ? (int)max : backlog);
	tp->lis_next = eng->tcp->listeners;
	eng->tcp->listeners = tp;
	tcp_set_state(eng, &tp->c, TCPS_LISTEN);
	return 0;
}

int tcp_accept(struct tcp_sock *tp, struct tcp_sock **out)
{
	struct tcp_sock *c = tp->acceptq_head;

	if (!tcp_in_state(tp, TCPS_LISTEN))
		return -EINVAL;
	if (!c)
		return -EAGAIN;
	tcp_acceptq_unlink(tp, c);
	c->flags |= TF_SS_CONNECTED;   /* Linux inet_accept: newsock->state = SS_CONNECTED */
	*out = c;
	return 0;
}

static int sock_error(struct tcp_sock *tp)
{
	int e = tp->err;

	tp->err = 0;
	return e;
}

/* Linux tcp_disconnect() for a connection that is already over (CLOSED): the
 * socket may connect again. The source address goes back to the wildcard
 * unless bind() named it (inet_reset_saddr); the port number stays for
 * getsockname() (put_port released it, unless bind() named it). */
static void disconnect(struct tcp_sock *tp)
{
	tp->c.raddr = 0;
	tp->c.rport = 0;
	if (!(tp->flags & TF_BIND_ADDR))
		tp->c.laddr = 0;
	put_port(tp);
	ring_consume(&tp->snd, ring_len(&tp->snd));
	ring_consume(&tp->rcv, ring_len(&tp->rcv));
	tcp_ofo_free(&tp->ofo);
	tcp_ofo_init(&tp->ofo, tp->rcvbuf / 2);
	tp->flags &= ~(TF_WAS_CONN | TF_DONE | TF_FIN_QUEUED | TF_SYN_REXMIT | TF_RTT_TIMING |
		       TF_PINGPONG | TF_ACK_PUSHED | TF_MORE | TF_ACKNOW | TF_SS_CONNECTING |
		       TF_SS_CONNECTED);
	tp->shut = 0;
	tp->err = 0;
	tp->err_soft = 0;
	tp->retries = 0;
	tp->probes = 0;
	tp->probe0_stamp = 0;
	tp->ofo_fin = false;
	tp->snd_wnd = tp->max_snd_wnd = 0;
	tcp_rtt_init(&tp->rtt, tp->eng->cfg.tcp.rto_initial, tp->eng->cfg.tcp.rto_min,
		     tp->eng->cfg.tcp.rto_max);
}

/* The socket-level half of connect(), Linux __inet_stream_connect(): struct
 * socket keeps its own state (SS_CONNECTING, SS_CONNECTED) apart from the TCP
 * state, and a second connect() is answered from it:
 *   SS_CONNECTED: -EISCONN;
 *   SS_CONNECTING: -EALREADY while the handshake runs; once it is over, 0 the
 *     first time (the connect finished: SS_CONNECTED), or, when the connection
 *     closed, "sock_error(sk) ? : -ECONNABORTED" and a disconnect;
 *   SS_UNCONNECTED: -EISCONN unless the TCP state is CLOSED (a listener too),
 *     else a new handshake: -EINPROGRESS, SS_CONNECTING. */
static int connect_finish(struct tcp_sock *tp, bool waited)
{
	int err;

	tp->flags &= ~TF_SS_CONNECTING;
	/* `waited`: the rest of a blocking connect() whose wait ended; Linux's
	 * sleeper was woken at the state change out of SYN-SENT, so a handshake
	 * that completed counts even if a reset followed at once (the next call
	 * reports the reset). */
	if (!tcp_in_state(tp, TCPS_CLOSED) || (waited && (tp->flags & TF_WAS_CONN))) {
		tp->flags |= TF_SS_CONNECTED;
		return 0;
	}
	err = sock_error(tp);
	disconnect(tp);
	return err ? -err : -ECONNABORTED;
}

int tcp_connect_waited(struct tcp_sock *tp)
{
	if (tp->flags & TF_SS_CONNECTED)
		return 0;
	if (!(tp->flags & TF_SS_CONNECTING))
		return tcp_in_state(tp, TCPS_CLOSED) ? -ECONNABORTED : 0;
	if (tcp_in_state(tp, TCPS_SYN_SENT | TCPS_SYN_RECEIVED))
		return -EALREADY;
	return connect_finish(tp, true);
}

int tcp_connect(struct tcp_sock *tp, uint32_t addr, uint16_t port, uint64_t now)
{
	struct eng *eng = tp->eng;
	int err;

	if (tp->flags & TF_SS_CONNECTED)
		return -EISCONN;
	if (tp->flags & TF_SS_CONNECTING) {
		if (tcp_in_state(tp, TCPS_SYN_SENT | TCPS_SYN_RECEIVED))
			return -EALREADY;
		return connect_finish(tp, false);
	}
	if (!tcp_in_state(tp, TCPS_CLOSED) || (tp->flags & TF_WAS_CONN))
		return -EISCONN;   /* a listener too (Linux: "if (sk->sk_state != TCP_CLOSE)") */
	if (!port || !addr)
		return -ECONNREFUSED;
	tp->c.raddr = addr;
	tp->c.rport = port;
	if (!tp->c.laddr)
		tp->c.laddr = eng->cfg.addr;
	if (!(tp->flags & TF_BOUND)) {
		err = pick_port(tp, now);
		if (err) {
			tp->c.raddr = 0;
			tp->c.rport = 0;
			if (!(tp->flags & TF_BIND_ADDR))
				tp->c.laddr = 0;
			return err;
		}
	} else {
		struct tcp_conn *c = tcp_lookup(eng->tcp, tp->c.laddr, tp->c.lport, addr, port);

		/* Linux __inet_check_established(): a TIME-WAIT record of the same
		 * 4-tuple gives way when tcp_twsk_unique() says it is safe */
		if (c && !(c->kind == TCPK_TW &&
			   tcp_tw_reusable(tp, (struct tcp_tw *)c, true, now))) {
			tp->c.raddr = 0;
			tp->c.rport = 0;
			if (!(tp->flags & TF_BIND_ADDR))
				tp->c.laddr = 0;
			return -EADDRNOTAVAIL;
		}
	}
	tp->iss = tcp_isn(eng->cfg.secret, tp->c.laddr, tp->c.lport, addr, port, now);
	tp->snd_una = tp->iss;
	tp->snd_nxt = tp->snd_max = tp->iss + 1;
	tp->ts_off = tcp_ts_off(eng->cfg.secret, tp->c.laddr, addr);
	tp->rcv_ws = 7;
	{
		uint32_t space = tp->rcvbuf > 6291456u ? tp->rcvbuf : 6291456u;
		tp->rcv_ws = 0;
		while (space > 65535 && tp->rcv_ws < 14) {
			space >>= 1;
			tp->rcv_ws++;
		}
	}
	tp->rcv_mss = (uint16_t)(eng->link ? eng->link->mtu - 40 : 1460);
	{
		/* Linux tcp_twsk_unique(): the new connection starts past the old
		 * one's sequence space, "write_seq = tw_snd_nxt + 65535 + 2", and
		 * keeps its TS.Recent; the record goes (TCPTimeWaitRecycled) */
		struct tcp_conn *c = tcp_lookup(eng->tcp, tp->c.laddr, tp->c.lport, addr, port);

		if (c && c->kind == TCPK_TW) {
			struct tcp_tw *tw = (struct tcp_tw *)c;

			tp->iss = tw->snd_nxt + 65535 + 2;
			if (!tp->iss)
				tp->iss = 1;
			tp->snd_una = tp->iss;
			tp->snd_nxt = tp->snd_max = tp->iss + 1;
			tp->ts_recent = tw->ts_recent;
			tcp_set_state(eng, &tw->c, TCPS_CLOSED);
			tcp_tw_free(eng, tw);
		}
	}
	tcp_hash_add(eng->tcp, &tp->c);
	tcp_set_state(eng, &tp->c, TCPS_SYN_SENT);
	tp->flags |= TF_SS_CONNECTING;
	eng_count(eng, TCP_ACTIVE_OPENS);
	tp->rtt_start = now;
	tp->retrans_stamp = now;
	tcp_send_syn(tp, now);
	tcp_run_wakeups(eng);
	return -EINPROGRESS;
}

ssize_t tcp_send(struct tcp_sock *tp, const void *buf, size_t len, int flags, uint64_t now)
{
	int n, e;

	/* Linux tcp_sendmsg_locked / sk_stream_wait_connect */
	if (!tcp_in_state(tp, TCPS_ESTABLISHED | TCPS_CLOSE_WAIT)) {
		if ((e = sock_error(tp)))
			return -e;
		if (!tcp_in_state(tp, TCPS_SYN_SENT | TCPS_SYN_RECEIVED))
			return -EPIPE;
		return -EAGAIN;
	}
	if (tp->err || (tp->shut & SHUT_F_SEND)) {
		e = sock_error(tp);
		return e ? -e : -EPIPE;
	}
	if (!len)
		return 0;
	if (len > UINT32_MAX)
		len = UINT32_MAX;
	n = ring_write(&tp->snd, buf, (uint32_t)len);
	if (n < 0)
		return n;
	if ((uint32_t)n < len)
		tp->flags |= TF_NOSPACE;   /* Linux SOCK_NOSPACE: the writer found it full */
	if (n == 0)
		return -EAGAIN;
	if (flags & MSG_MORE)
		tp->flags |= TF_MORE;
	else
		tp->flags &= ~TF_MORE;
	tcp_output(tp, now);
	tcp_run_wakeups(tp->eng);
	return n;
}

/* Linux tcp_cleanup_rbuf(): after the reader made room, ACK now when a
 * delayed ACK is pending and either more than one segment is unacknowledged
 * or this read emptied the queue of small pushed segments (not interactive);
 * else send a window update when the window we could offer is at least twice
 * what the peer last heard ("Lots" means "at least twice" here), comparing
 * against the largest window we can advertise (window_clamp). */
static void window_update(struct tcp_sock *tp, uint64_t now)
{
	uint32_t cur = seq_gt(tp->rcv_adv, tp->rcv_nxt) ? tp->rcv_adv - tp->rcv_nxt : 0;
	uint32_t space = tcp_rcv_space(tp);
	uint32_t maxw = 65535u << tp->rcv_ws;
	uint32_t clamp = tp->rcvbuf < maxw ? tp->rcvbuf : maxw;
	uint32_t nwnd;

	nwnd = space < maxw ? space : maxw;
	if (tp->shut & SHUT_F_RCV)
		return;
	if (!tcp_in_state(tp, TCPS_ESTABLISHED | TCPS_FIN_WAIT_1 | TCPS_FIN_WAIT_2))
		return;
	if (tcp_timer_on(&tp->t[TCPT_DELACK]) &&
	    (tp->rcv_nxt - tp->rcv_wup > tp->rcv_mss ||
	     ((tp->flags & TF_ACK_PUSHED) && !(tp->flags & TF_PINGPONG) && !ring_len(&tp->rcv)))) {
		tp->flags |= TF_ACKNOW;
		tcp_output(tp, now);
		return;
	}
	if (2 * cur <= clamp && nwnd >= 2 * cur && nwnd - cur >= tp->rcv_mss) {
		tp->flags |= TF_ACKNOW;
		tcp_output(tp, now);
	}
}

void tcp_rcv_consumed(struct tcp_sock *tp, uint32_t n, uint64_t now)
{
	tcp_rcv_space_adjust(tp, n, now);
	window_update(tp, now);
}

ssize_t tcp_recv(struct tcp_sock *tp, void *buf, size_t len, int flags, uint64_t now)
{
	uint32_t n;
	int e;

	if (tcp_in_state(tp, TCPS_LISTEN))
		return -ENOTCONN;
	if (len > UINT32_MAX)
		len = UINT32_MAX;
	if (ring_len(&tp->rcv) && len) {
		if (flags & MSG_PEEK)
			return ring_peek(&tp->rcv, 0, buf, (uint32_t)len);
		n = ring_read(&tp->rcv, buf, (uint32_t)len);
		/* a small queue read empty goes back to the allocator, so an idle
		 * connection holds no receive memory (Linux frees its skbs); a queue
		 * grown by bulk data is kept, it would only be allocated again */
		if (ring_empty(&tp->rcv) && tp->rcv.cap <= RING_MIN_CAP)
			ring_shrink(&tp->rcv);
		tcp_rcv_space_adjust(tp, n, now);   /* before the window is offered */
		window_update(tp, now);
		tcp_run_wakeups(tp->eng);
		return n;
	}
	if (!len)
		return 0;
	/* Linux tcp_recvmsg_locked, nothing copied */
	if (tp->flags & TF_DONE && !tp->err)
		return 0;
	if ((e = sock_error(tp)))
		return -e;
	if (tp->shut & SHUT_F_RCV)
		return 0;
	if (tcp_in_state(tp, TCPS_CLOSED))
		return -ENOTCONN;
	return -EAGAIN;
}

/* FIN after the queued data: ESTABLISHED -> FIN-WAIT-1, CLOSE-WAIT -> LAST-ACK
 * (Linux tcp_close_state / tcp_send_fin). */
static void send_fin(struct tcp_sock *tp, uint64_t now)
{
	struct eng *eng = tp->eng;

	if (tp->flags & TF_FIN_QUEUED)
		return;
	if (tcp_in_state(tp, TCPS_ESTABLISHED | TCPS_SYN_RECEIVED))
		tcp_set_state(eng, &tp->c, TCPS_FIN_WAIT_1);
	else if (tcp_in_state(tp, TCPS_CLOSE_WAIT))
		tcp_set_state(eng, &tp->c, TCPS_LAST_ACK);
	else
		return;
	tp->flags |= TF_FIN_QUEUED;
	tp->fin_seq = tp->snd_una + ring_len(&tp->snd);
	tp->flags &= ~(TF_CORK | TF_MORE);
	tcp_output(tp, now);
}

int tcp_shutdown(struct tcp_sock *tp, int how, uint64_t now)
{
	int err = 0;

	if (how < SHUT_RD || how > SHUT_RDWR)
		return -EINVAL;
	how++;   /* SHUT_RD 0 -> 1 (RCV), SHUT_WR 1 -> 2 (SEND), SHUT_RDWR -> 3 */
	/* Linux inet_shutdown() */
	switch (tp->c.state) {
	case TCPS_CLOSED:
		err = -ENOTCONN;
		tp->shut |= (uint8_t)how;
		break;
	case TCPS_LISTEN:
		if (!(how & SHUT_F_RCV))
			break;
		/* fallthrough */
	case TCPS_SYN_SENT:
		/* disconnect: back to CLOSED */
		if (tcp_in_state(tp, TCPS_LISTEN)) {
			struct tcp_sock *c;

			while (tp->acceptq_head) {
				c = tp->acceptq_head;
				tcp_acceptq_unlink(tp, c);
				tcp_send_active_rst(c, now);
				tcp_done(c, ECONNRESET);
				c->flags |= TF_ORPHAN;
				tcp_maybe_free(c);
			}
			while (tp->synq)
				tcp_req_free(tp->eng, tp->synq);
			for (struct tcp_sock **pp = &tp->eng->tcp->listeners; *pp; pp = &(*pp)->lis_next)
				if (*pp == tp) {
					*pp = tp->lis_next;
					break;
				}
		}
		for (int i = 0; i < TCPT__MAX; i++)
			tcp_timer_stop(tp->eng, &tp->t[i]);
		tcp_hash_del(tp->eng->tcp, &tp->c);
		tcp_set_state(tp->eng, &tp->c, TCPS_CLOSED);
		break;
	default:
		tp->shut |= (uint8_t)how;
		if (how & SHUT_F_SEND)
			send_fin(tp, now);
		break;
	}
	tcp_wake(tp);
	tcp_run_wakeups(tp->eng);
	return err;
}

/* Linux tcp_close() up to the point where it would sleep. Returns true when
 * the socket was freed. */
static bool close_common(struct tcp_sock *tp, uint64_t now)
{
	struct eng *eng = tp->eng;

	tp->flags |= TF_ORPHAN;
	tp->cb = NULL;
	tp->shut = SHUT_F_RCV | SHUT_F_SEND;
	if (tp->parent)
		tcp_acceptq_unlink(tp->parent, tp);
	if (tcp_in_state(tp, TCPS_LISTEN)) {
		tcp_shutdown(tp, SHUT_RDWR, now);
	} else if (tcp_in_state(tp, TCPS_SYN_SENT)) {
		tcp_done(tp, 0);
	} else if (ring_len(&tp->rcv) && tcp_in_state(tp, TCPS_SYNCHRONIZED)) {
		/* RFC 9293 3.10.4 / RFC 1122 4.2.2.13, Linux tcp_close(): data the
		 * application never read is lost: tell the peer with a RST */
		tcp_send_active_rst(tp, now);
		tcp_done(tp, 0);
	} else if ((tp->flags & TF_LINGER) && tp->linger == 0) {
		/* SO_LINGER with a zero timeout: abort (Linux tcp_disconnect) */
		if (tcp_in_state(tp, TCPS_ESTABLISHED | TCPS_CLOSE_WAIT | TCPS_FIN_WAIT_1 |
					 TCPS_FIN_WAIT_2 | TCPS_SYN_RECEIVED))
			tcp_send_active_rst(tp, now);
		tcp_done(tp, 0);
	} else if (tcp_in_state(tp, TCPS_ESTABLISHED | TCPS_CLOSE_WAIT | TCPS_SYN_RECEIVED)) {
		send_fin(tp, now);
	} else if (tcp_in_state(tp, TCPS_FIN_WAIT_2)) {
		if (tp->linger2 < 0) {
			tcp_send_active_rst(tp, now);
			tcp_done(tp, 0);
		} else {
			tcp_timer_arm(eng, &tp->t[TCPT_FIN_WAIT2],
				      now + (tp->linger2 > 0 ? (uint64_t)tp->linger2
							     : eng->cfg.tcp.fin_wait2));
		}
	}
	tcp_linger_check(tp, false);
	if (tcp_in_state(tp, TCPS_CLOSED)) {
		tcp_sock_destroy(tp);
		tcp_run_wakeups(eng);
		return true;
	}
	tcp_run_wakeups(eng);
	return false;
}

int tcp_close(struct tcp_sock *tp, uint64_t now)
{
	close_common(tp, now);
	return 0;
}

/* SO_LINGER with a positive timeout (Linux tcp_close -> sk_stream_wait_close):
 * the FIN goes out as for a plain close; the caller is released when the FIN
 * is acknowledged, the connection ends, or the linger time passes. When the
 * time passes nothing else happens: the orphan finishes its close normally. */
int tcp_close_linger(struct tcp_sock *tp, void (*done)(void *arg), void *arg, uint64_t now)
{
	struct eng *eng = tp->eng;

	if (!done)
		return tcp_close(tp, now);
	if (!(tp->flags & TF_LINGER) || !tp->linger) {
		close_common(tp, now);
		done(arg);
		return 0;
	}
	tp->linger_done = done;
	tp->linger_arg = arg;
	tcp_timer_arm(eng, &tp->t[TCPT_LINGER], now + tp->linger);
	close_common(tp, now);   /* releases the waiter itself when nothing is left to wait for */
	return 0;
}

/* --- options ---------------------------------------------------------------- */

static int get_int(const void *val, socklen_t len, int *out)
{
	if (!val || len < (socklen_t)sizeof(int))
		return -EINVAL;
	memcpy(out, val, sizeof(int));
	return 0;
}

static void set_flag(struct tcp_sock *tp, unsigned f, int on)
{
	if (on)
		tp->flags |= f;
	else
		tp->flags &= ~f;
}

/* TCP_DEFER_ACCEPT's units, as Linux converts them (net/ipv4/tcp.c
 * secs_to_retrans / retrans_to_secs, timeout TCP_TIMEOUT_INIT = 1 s doubling up
 * to TCP_RTO_MAX = 120 s): the seconds become the smallest number of SYN-ACK
 * retransmissions whose schedule covers them, and back to that schedule's sum
 * (5 s -> 3 retransmissions -> 1 + 2 + 4 = 7 s). */
#define DEFER_TIMEOUT_INIT 1
#define DEFER_RTO_MAX 120

static uint8_t tcp_secs_to_retrans(int seconds)
{
	int timeout = DEFER_TIMEOUT_INIT, period;
	uint8_t res = 0;

	if (seconds > 0) {
		period = timeout;
		res = 1;
		while (seconds > period && res < 255) {
			res++;
			timeout <<= 1;
			if (timeout > DEFER_RTO_MAX)
				timeout = DEFER_RTO_MAX;
			period += timeout;
		}
	}
	return res;
}

static int tcp_retrans_to_secs(uint8_t retrans)
{
	int timeout = DEFER_TIMEOUT_INIT, period = 0;

	if (retrans > 0) {
		period = timeout;
		while (--retrans) {
			timeout <<= 1;
			if (timeout > DEFER_RTO_MAX)
				timeout = DEFER_RTO_MAX;
			period += timeout;
		}
	}
	return period;
}

int tcp_setsockopt(struct tcp_sock *tp, int level, int name, const void *val, socklen_t len,
		   uint64_t now)
{
	int v = 0, err;

	if (level == SOL_SOCKET && name == SO_LINGER) {
		struct linger lg;
		if (!val || len < (socklen_t)sizeof(lg))
			return -EINVAL;
		memcpy(&lg, val, sizeof(lg));
		set_flag(tp, TF_LINGER, lg.l_onoff);
		tp->linger = lg.l_linger > 0 ? SEC((uint64_t)lg.l_linger) : 0;
		return 0;
	}
	if (level == IPPROTO_TCP && name == TCP_CONGESTION) {
		/* Linux tcp_set_congestion_control: by name; an unknown one is ENOENT */
		char nm[16] = { 0 };
		const struct tcp_cc_ops *ops;

		if (!val || len < 1)
			return -EINVAL;
		memcpy(nm, val, len < sizeof(nm) - 1 ? len : sizeof(nm) - 1);
		ops = tcp_cc_find(nm);
		if (!ops)
			return -ENOENT;
		tp->cc_ops = ops;
		if (tcp_in_state(tp, TCPS_SYNCHRONIZED)) {
			/* as Linux: the new algorithm starts from the current window */
			uint32_t cwnd = tp->cc.cwnd, ssthresh = tp->cc.ssthresh;
			tcp_cc_init(&tp->cc, ops, tp->mss, tp->snd_una);
			tp->cc.cwnd = cwnd;
			tp->cc.ssthresh = ssthresh;
		}
		return 0;
	}
	if ((err = get_int(val, len, &v)))
		return err;
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_KEEPALIVE:
			set_flag(tp, TF_KEEPALIVE, v);
			tcp_keep_reset(tp, now);
			return 0;
		case SO_REUSEADDR:
			set_flag(tp, TF_REUSEADDR, v);
			return 0;
		case SO_REUSEPORT:
			set_flag(tp, TF_REUSEPORT, v);
			return 0;
		case SO_SNDBUF:
		case SO_RCVBUF: {
			/* Linux doubles the value (bookkeeping overhead), minimums 4608/2304 */
			uint32_t b = v > 0x7fffffff / 2 ? 0x7fffffff : (uint32_t)v * 2;
			if (name == SO_SNDBUF) {
				if (b < 4608)
					b = 4608;
				/* Linux SOCK_SNDBUF_LOCK: no autotuning after this */
				tp->flags |= TF_SNDBUF_LOCK;
				if (ring_set_limit(&tp->snd, tcp_sndbuf_payload(b)) == 0)
					tp->sndbuf = b;
			} else {
				if (b < 2304)
					b = 2304;
				/* Linux SOCK_RCVBUF_LOCK: no autotuning after this */
				tp->flags |= TF_RCVBUF_LOCK;
				if (ring_set_limit(&tp->rcv, tcp_rcv_limit(b)) == 0)
					tp->rcvbuf = b;
			}
			return 0;
		}
		default:
			return -ENOPROTOOPT;
		}
	}
	if (level != IPPROTO_TCP)
		return -ENOPROTOOPT;
	switch (name) {
	case TCP_NODELAY:
		set_flag(tp, TF_NODELAY, v);
		if (v)
			tcp_output(tp, now);
		return 0;
	case TCP_CORK:
		set_flag(tp, TF_CORK, v);
		if (!v) {
			tp->flags &= ~TF_MORE;
			tcp_output(tp, now);
		}
		return 0;
	case TCP_KEEPIDLE:
	case TCP_KEEPINTVL:
		if (v < 1 || v > 32767)
			return -EINVAL;
		if (name == TCP_KEEPIDLE) {
			tp->keep_idle = SEC((uint64_t)v);
			tcp_keep_reset(tp, now);
		} else {
			tp->keep_intvl = SEC((uint64_t)v);
		}
		return 0;
	case TCP_KEEPCNT:
		if (v < 1 || v > 127)
			return -EINVAL;
		tp->keep_cnt = (unsigned)v;
		return 0;
	case TCP_SYNCNT:
		/* Linux tcp_sock_set_syncnt: "if (val < 1 || val > MAX_TCP_SYNCNT)" */
		if (v < 1 || v > 127)
			return -EINVAL;
		tp->syn_retries = (uint8_t)v;
		return 0;
	case TCP_DEFER_ACCEPT:
		/* Linux do_tcp_setsockopt: "Translate value in seconds to number of
		 * retransmits" (secs_to_retrans with TCP_TIMEOUT_INIT, TCP_RTO_MAX);
		 * any state, a negative value or 0 turns it off */
		tp->defer_accept = tcp_secs_to_retrans(v);
		return 0;
	case TCP_USER_TIMEOUT:
		/* RFC 5482 with Linux's semantics: milliseconds, 0 = the system's
		 * timeouts; "Cap the max time in ms TCP will retry or probe the window
		 * before giving up" (do_tcp_setsockopt: val < 0 is EINVAL) */
		if (v < 0)
			return -EINVAL;
		tp->user_timeout = (uint32_t)v;
		return 0;
	case TCP_MAXSEG:
		if (v && (v < 88 || v > 65535 - 40))
			return -EINVAL;
		tp->user_mss = (uint16_t)v;
		return 0;
	case TCP_LINGER2:
		if (v < 0)
			tp->linger2 = -1;
		else if (v == 0)
			tp->linger2 = 0;
		else
			tp->linger2 = (int64_t)SEC((uint64_t)(v > 120 ? 120 : v));
		return 0;
	case TCP_QUICKACK:
		/* Linux do_tcp_setsockopt TCP_QUICKACK: 1 leaves pingpong mode and
		 * sends a pending ACK now; 0 enters pingpong (ACKs are delayed). Not
		 * permanent: Linux's own heuristics change the mode later. */
		if (v & 1) {
			tp->flags &= ~TF_PINGPONG;
			if (tcp_timer_on(&tp->t[TCPT_DELACK]) && tcp_in_state(tp, TCPS_SYNCHRONIZED)) {
				tp->flags |= TF_ACKNOW;
				tcp_output(tp, now);
			}
		} else {
			tp->flags |= TF_PINGPONG;
		}
		return 0;
	default:
		return -ENOPROTOOPT;
	}
}

static int put_int(void *val, socklen_t *len, int v)
{
	if (!val || !len || *len < (socklen_t)sizeof(int))
		return -EINVAL;
	memcpy(val, &v, sizeof(int));
	*len = sizeof(int);
	return 0;
}

/* Linux TCP_INFO state numbering (TCP_ESTABLISHED = 1 ... TCP_CLOSING = 11) */
static uint8_t linux_state(int s)
{
	switch (s) {
	case TCPS_ESTABLISHED: return 1;
	case TCPS_SYN_SENT: return 2;
	case TCPS_SYN_RECEIVED: return 3;
	case TCPS_FIN_WAIT_1: return 4;
	case TCPS_FIN_WAIT_2: return 5;
	case TCPS_TIME_WAIT: return 6;
	case TCPS_CLOSED: return 7;
	case TCPS_CLOSE_WAIT: return 8;
	case TCPS_LAST_ACK: return 9;
	case TCPS_LISTEN: return 10;
	case TCPS_CLOSING: return 11;
	default: return 7;
	}
}

int tcp_getsockopt(struct tcp_sock *tp, int level, int name, void *val, socklen_t *len)
{
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_ERROR:
			return put_int(val, len, sock_error(tp));
		case SO_KEEPALIVE:
			return put_int(val, len, !!(tp->flags & TF_KEEPALIVE));
		case SO_REUSEADDR:
			return put_int(val, len, !!(tp->flags & TF_REUSEADDR));
		case SO_REUSEPORT:
			return put_int(val, len, !!(tp->flags & TF_REUSEPORT));
		case SO_SNDBUF:
			return put_int(val, len, (int)tp->sndbuf);
		case SO_RCVBUF:
			return put_int(val, len, (int)tp->rcvbuf);
		case SO_TYPE:
			return put_int(val, len, SOCK_STREAM);
		case SO_ACCEPTCONN:
			return put_int(val, len, tcp_in_state(tp, TCPS_LISTEN));
		case SO_LINGER: {
			struct linger lg = { !!(tp->flags & TF_LINGER), (int)(tp->linger / SEC(1)) };
			if (!val || !len || *len < (socklen_t)sizeof(lg))
				return -EINVAL;
			memcpy(val, &lg, sizeof(lg));
			*len = sizeof(lg);
			return 0;
		}
		default:
			return -ENOPROTOOPT;
		}
	}
	if (level != IPPROTO_TCP)
		return -ENOPROTOOPT;
	switch (name) {
	case TCP_CONGESTION: {
		/* Linux names: "cubic", "reno" (TCP_CA_NAME_MAX 16) */
		const char *nm = tp->cc_ops == &tcp_cc_newreno ? "reno" : tp->cc_ops->name;
		socklen_t n;

		if (!val || !len)
			return -EINVAL;
		n = *len < 16 ? *len : 16;
		memset(val, 0, n);
		memcpy(val, nm, strlen(nm) < n ? strlen(nm) : n);
		*len = n;
		return 0;
	}
	case TCP_NODELAY:
		return put_int(val, len, !!(tp->flags & TF_NODELAY));
	case TCP_CORK:
		return put_int(val, len, !!(tp->flags & TF_CORK));
	case TCP_KEEPIDLE:
		return put_int(val, len, (int)(tp->keep_idle / SEC(1)));
	case TCP_KEEPINTVL:
		return put_int(val, len, (int)(tp->keep_intvl / SEC(1)));
	case TCP_KEEPCNT:
		return put_int(val, len, (int)tp->keep_cnt);
	case TCP_SYNCNT:
		return put_int(val, len, tp->syn_retries ? tp->syn_retries :
					  (int)tp->eng->cfg.tcp.syn_retries);
	case TCP_DEFER_ACCEPT:
		return put_int(val, len, tcp_retrans_to_secs(tp->defer_accept));
	case TCP_USER_TIMEOUT:
		return put_int(val, len, (int)tp->user_timeout);
	case TCP_MAXSEG:
		return put_int(val, len, tcp_in_state(tp, TCPS_SYNCHRONIZED) ? tp->mss :
					  (tp->user_mss ? tp->user_mss : 536));
	case TCP_LINGER2:
		return put_int(val, len, tp->linger2 < 0 ? -1 :
					  (int)((tp->linger2 ? (uint64_t)tp->linger2 :
							       tp->eng->cfg.tcp.fin_wait2) / SEC(1)));
	case TCP_QUICKACK:
		/* Linux: icsk_ack.quick && !inet_csk_in_pingpong_mode(sk) */
		return put_int(val, len, tp->quickacks && !(tp->flags & TF_PINGPONG));
	case TCP_INFO: {
		struct tcp_info ti;
		socklen_t n;

		if (!val || !len)
			return -EINVAL;
		memset(&ti, 0, sizeof(ti));
		ti.tcpi_state = linux_state(tp->c.state);
		ti.tcpi_retransmits = (uint8_t)tp->retries;
		ti.tcpi_probes = (uint8_t)tp->probes;
		ti.tcpi_backoff = (uint8_t)tp->rtt.backoff;
		if (tp->ts_ok)
			ti.tcpi_options |= TCPI_OPT_TIMESTAMPS;
		if (tp->sack_ok)
			ti.tcpi_options |= TCPI_OPT_SACK;
		if (tp->ws_ok) {
			ti.tcpi_options |= TCPI_OPT_WSCALE;
			ti.tcpi_snd_wscale = tp->snd_ws & 15;
			ti.tcpi_rcv_wscale = tp->rcv_ws & 15;
		}
		ti.tcpi_rto = (uint32_t)(tcp_rtt_rto(&tp->rtt) / 1000);
		ti.tcpi_ato = (uint32_t)(tp->ato / 1000);
		ti.tcpi_snd_mss = tp->mss;
		ti.tcpi_rcv_mss = tp->rcv_mss;
		ti.tcpi_unacked = tp->mss ? (tp->snd_max - tp->snd_una + tp->mss - 1) / tp->mss : 0;
		ti.tcpi_rtt = (uint32_t)(tcp_rtt_srtt(&tp->rtt) / 1000);
		ti.tcpi_rttvar = (uint32_t)(tcp_rtt_var(&tp->rtt) / 1000);
		ti.tcpi_snd_ssthresh = tp->cc.ssthresh == TCP_SSTHRESH_INF || !tp->mss ? 0x7fffffff :
				       tp->cc.ssthresh / tp->mss;
		ti.tcpi_snd_cwnd = tp->mss ? tp->cc.cwnd / tp->mss : 0;
		ti.tcpi_advmss = tp->mss;
		ti.tcpi_rcv_space = tp->rcv_wnd;
		n = *len < (socklen_t)sizeof(ti) ? *len : (socklen_t)sizeof(ti);
		memcpy(val, &ti, n);
		*len = n;
		return 0;
	}
	default:
		return -ENOPROTOOPT;
	}
}

int tcp_getsockname(const struct tcp_sock *tp, uint32_t *addr, uint16_t *port)
{
	*addr = tp->c.laddr;
	*port = tp->c.lport;
	return 0;
}

int tcp_getpeername(const struct tcp_sock *tp, uint32_t *addr, uint16_t *port)
{
	/* Linux inet_getname(): "if (!inet->inet_dport || ((1 << state) &
	 * (TCPF_CLOSE | TCPF_SYN_SENT)) && peer == 1) return -ENOTCONN": a reset
	 * or finished connection (TIME-WAIT leaves the socket CLOSED) has no peer */
	if (!tp->c.rport || tcp_in_state(tp, TCPS_CLOSED | TCPS_SYN_SENT))
		return -ENOTCONN;
	*addr = tp->c.raddr;
	*port = tp->c.rport;
	return 0;
}
