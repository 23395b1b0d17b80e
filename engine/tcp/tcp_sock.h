/* tcp_sock.h - the socket-facing TCP API: BSD calls with Linux semantics, non-blocking (RFC 9293 3.9.1).
 *
 * Every call returns 0 or a count on success and -errno on failure, with the
 * errno Linux gives for the same call in the same state. Nothing here blocks:
 * where Linux would sleep we return -EAGAIN (-EINPROGRESS for connect) and the
 * caller waits for a readiness event. Readiness is computed as Linux's tcp_poll()
 * computes it (tcp_sock_events), and the per-socket callback (tcp_sock_set_cb) is
 * called whenever it may have changed, so a server built on top never polls.
 *
 * Lifetime: a socket belongs to its user from tcp_sock_new() or tcp_accept() until
 * tcp_close(). After tcp_close() the user must not touch it again; the engine keeps
 * the connection alive (FIN retransmission, FIN-WAIT-2, TIME-WAIT, SO_LINGER) with
 * no process behind it and frees it itself. The callback is never called after
 * tcp_close(). Addresses are be32 (network order), ports host order. */
#ifndef TSK_TCP_TCP_SOCK_H
#define TSK_TCP_TCP_SOCK_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct eng;
struct tcp_sock;

/* Called when the readiness of s may have changed; `events` is tcp_sock_events(s)
 * at the time of the call (POLLIN|POLLOUT|POLLERR|POLLHUP|POLLRDHUP). It may call
 * back into this API on s (recv, send, accept, close ...). */
typedef void (*tcp_event_fn)(struct tcp_sock *s, unsigned events, void *arg);

/* A new socket in CLOSED state, or NULL when out of memory. */
struct tcp_sock *tcp_sock_new(struct eng *eng);
void tcp_sock_set_cb(struct tcp_sock *s, tcp_event_fn fn, void *arg);

/* A reader that takes received bytes itself (the socket server's shared receive
 * ring): in-order data that arrives while TCP's own receive queue and its
 * out-of-order queue are empty is offered to fn first, which copies what it can
 * take, in order, and returns that count; the rest is queued as usual and read
 * with tcp_recv(). Bytes taken count as read at once (receive-buffer autotuning,
 * the ACK or window update tcp_recv() would send), so the reader saves one copy
 * of every byte and sees no other difference. Never called after tcp_close() or
 * once the socket is shut for reading; NULL turns it off. */
typedef uint32_t (*tcp_rx_fn)(void *arg, const void *data, uint32_t len);
void tcp_sock_set_rx(struct tcp_sock *s, tcp_rx_fn fn, void *arg);

/* addr 0 = INADDR_ANY, port 0 = an ephemeral port (RFC 6056, 32768-60999).
 * -EINVAL already bound, -EADDRINUSE (SO_REUSEADDR relaxes it as on Linux),
 * -EADDRNOTAVAIL not our address. */
int tcp_bind(struct tcp_sock *s, uint32_t addr, uint16_t port);
/* backlog is clamped to somaxconn as Linux does (<= 0 becomes... 0 then +1 slot,
 * as Linux's sk_acceptq_is_full() allows backlog + 1 queued connections).
 * Unbound sockets get an ephemeral port. -EINVAL when connected. */
int tcp_listen(struct tcp_sock *s, int backlog);
/* The oldest established connection, or -EAGAIN; -EINVAL when not listening. */
int tcp_accept(struct tcp_sock *s, struct tcp_sock **out);
/* Starts the three-way handshake: -EINPROGRESS. Completion is POLLOUT, failure
 * POLLERR with SO_ERROR (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH ...).
 * -EALREADY while connecting, -EISCONN when connected, -EADDRNOTAVAIL no port. */
int tcp_connect(struct tcp_sock *s, uint32_t addr, uint16_t port, uint64_t now);
/* connect() keeps Linux's socket-level state (SS_CONNECTING/SS_CONNECTED): after a
 * non-blocking connect completed the next tcp_connect() returns 0 and later ones
 * -EISCONN; after it failed, the error (or -ECONNABORTED once it was reported)
 * and the socket may connect again, its source address reset. A listener gives
 * -EISCONN. tcp_connect_waited() is the rest of a blocking connect() after its
 * wait for POLLOUT: 0 when the handshake completed (even if a reset followed: the
 * next call reports it), else the error as above; -EALREADY while still pending. */
int tcp_connect_waited(struct tcp_sock *s);

/* flags: MSG_MORE (cork this write), MSG_DONTWAIT and MSG_NOSIGNAL accepted and
 * meaningless here (always non-blocking, never a signal). Returns bytes queued,
 * -EAGAIN when the send buffer is full, -EPIPE after shutdown(SHUT_WR)/close by
 * us or a reset seen, -ENOTCONN before connection, or the pending socket error. */
ssize_t tcp_send(struct tcp_sock *s, const void *buf, size_t len, int flags, uint64_t now);
/* flags: MSG_PEEK, MSG_DONTWAIT (ignored), MSG_WAITALL (ignored: non-blocking).
 * Returns bytes copied, 0 at end of stream (peer FIN or SHUT_RD), -EAGAIN when
 * nothing is ready, -ENOTCONN, -ECONNRESET, or the pending socket error. */
ssize_t tcp_recv(struct tcp_sock *s, void *buf, size_t len, int flags, uint64_t now);
/* how: SHUT_RD, SHUT_WR, SHUT_RDWR. -ENOTCONN when not connected (as Linux). */
int tcp_shutdown(struct tcp_sock *s, int how, uint64_t now);
/* Closes the user's handle (see Lifetime above). Sends RST instead of FIN when
 * unread data remains or SO_LINGER has a zero timeout. Does not block: with a
 * positive SO_LINGER the close completes in the background exactly as without
 * it (as on Linux, where the linger time only bounds how long close() sleeps;
 * when it expires nothing more happens, no reset). Returns 0. */
int tcp_close(struct tcp_sock *s, uint64_t now);
/* tcp_close() for a caller that blocks the application's close() as Linux does
 * with a positive SO_LINGER (sk_stream_wait_close): done(arg) is called exactly
 * once, when our FIN is acknowledged (the state left FIN-WAIT-1, CLOSING and
 * LAST-ACK), when the connection is gone (reset, timeout), or when the linger
 * time has passed, whichever comes first; at once (before returning) when
 * SO_LINGER is off or zero, or nothing is left to wait for. done must not call
 * back into this API for s (s is closed). When the linger time passes the
 * connection goes on closing in the background, with no reset. Returns 0. */
int tcp_close_linger(struct tcp_sock *s, void (*done)(void *arg), void *arg, uint64_t now);

/* SOL_SOCKET: SO_LINGER, SO_KEEPALIVE, SO_RCVBUF, SO_SNDBUF, SO_REUSEADDR,
 * SO_REUSEPORT, SO_ERROR (get, clears it), SO_TYPE, SO_ACCEPTCONN.
 * IPPROTO_TCP: TCP_NODELAY, TCP_CORK, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT,
 * TCP_MAXSEG, TCP_LINGER2, TCP_QUICKACK, TCP_SYNCNT, TCP_USER_TIMEOUT (RFC 5482,
 * Linux's semantics), TCP_DEFER_ACCEPT (Linux's: the seconds are kept as a count
 * of SYN-ACK retransmissions and read back as that schedule's length, 5 -> 7; on
 * a listener a bare final ACK is dropped, the request kept, until data arrives
 * or that many retransmissions ran; not inherited by accepted sockets), TCP_INFO (struct tcp_info of
 * <netinet/tcp.h>, the fields we keep). -ENOPROTOOPT otherwise, -EINVAL bad len. */
int tcp_setsockopt(struct tcp_sock *s, int level, int name, const void *val,
		   socklen_t len, uint64_t now);
int tcp_getsockopt(struct tcp_sock *s, int level, int name, void *val, socklen_t *len);

/* POLLIN|POLLOUT|POLLERR|POLLHUP|POLLRDHUP, as Linux's tcp_poll(). */
unsigned tcp_sock_events(const struct tcp_sock *s);
/* Bytes readable now / bytes that tcp_send() would accept now. */
size_t tcp_recv_avail(const struct tcp_sock *s);
size_t tcp_send_space(const struct tcp_sock *s);
/* The bytes the send buffer holds in all (queued + space): SO_SNDBUF less Linux's
 * per-skb overhead, grown with cwnd unless SO_SNDBUF was set (tcp_sndbuf_expand). */
size_t tcp_send_buffer(const struct tcp_sock *s);

/* -ENOTCONN for getpeername when not connected. */
int tcp_getsockname(const struct tcp_sock *s, uint32_t *addr, uint16_t *port);
int tcp_getpeername(const struct tcp_sock *s, uint32_t *addr, uint16_t *port);

/* One connection as `ss -tan` shows it, for the iterator below. */
struct tcp_conn_info {
	const char *state;       /* "ESTAB", "LISTEN", "SYN-RECV", "TIME-WAIT" ... as ss */
	int tcps;                /* enum tcp_state bit (tcb.h) */
	uint32_t laddr, raddr;   /* be32 */
	uint16_t lport, rport;   /* host order */
	uint32_t recvq, sendq;   /* LISTEN: accept queue length / backlog, as ss */
	uint64_t rtt_us, rttvar_us, rto_us;
	uint32_t cwnd, ssthresh, mss;
	const char *timer;       /* "on" (retransmit), "keepalive", "timewait", "persist", "off" ... */
	uint64_t expires;        /* absolute time of that timer, TIME_NEVER when off */
	int orphan;              /* closed by the user, finishing in the engine */
};
typedef void (*tcp_iter_fn)(const struct tcp_conn_info *ci, void *arg);
/* Every connection: listeners, full connections, SYN-RECV and TIME-WAIT records. */
void tcp_foreach(struct eng *eng, tcp_iter_fn fn, void *arg);
/* `ss -tan`-like lines: State Recv-Q Send-Q Local:Port Peer:Port rtt rto cwnd timer.
 * Returns the length written (truncated at cap - 1), NUL-terminated when cap > 0.
 * Timer expiries are printed relative to `now` when known: see tcp_format_ss_at. */
size_t tcp_format_ss(struct eng *eng, char *buf, size_t cap);
size_t tcp_format_ss_at(struct eng *eng, char *buf, size_t cap, uint64_t now);

/* Set the TIME-WAIT length (2MSL) at run time: an engine option, and for tests. */
void tcp_set_time_wait(struct eng *eng, uint64_t ns);

#endif
