/* psock.h - the socket protocol between the preload library and the engine: shared memory layout and requests (no RFC: ours; unix(7) SCM_RIGHTS, SCM_CREDENTIALS).
 *
 * One tapsock socket is, in the application, a PLACEHOLDER: one end of an AF_UNIX
 * SOCK_SEQPACKET socketpair created by the engine, which keeps the other end.
 * Whoever holds the fd holds the socket (fork, dup, exec, SCM_RIGHTS work as for a
 * kernel socket). When every copy of the application's end is closed, the
 * engine's end reads EOF and the engine closes the TCP socket as the kernel does at
 * the last close. The placeholder carries only one-byte messages:
 *   engine -> app: PSOCK_MSG_TOKEN, "something you wait for may have changed";
 *   app -> engine: PSOCK_MSG_DOORBELL, "look at the rings of this socket".
 *
 * Requests (socket, bind, connect, accept, options ...) do NOT travel over the
 * placeholder: a placeholder may be shared by several processes (a listener shared
 * by nginx workers), and a reply read by the wrong process would be lost. Each
 * process opens its own SOCK_SEQPACKET connection to the abstract address
 * "\0tapsock/<engine>/sock" (PSOCK_ADDR_SUFFIX) and sends requests there, each
 * with the placeholder it is about attached by SCM_RIGHTS: the engine knows the
 * socket by the placeholder's inode, so a process still reaches only the sockets
 * it holds (capability), and SO_PEERCRED / SCM_CREDENTIALS name the caller.
 * Framing is ipc.h's (struct ipc_hdr, types 64 and up). Replies may carry fds:
 * PSOCK_SOCKET and PSOCK_ACCEPT reply with [placeholder, memfd], PSOCK_ATTACH with
 * [memfd]. A request flagged PSOCK_F_NOREPLY gets no reply at all: the library
 * posts it without waiting, for a request whose outcome it knows in advance (a
 * boolean option that cannot fail: TCP_NODELAY, SO_KEEPALIVE, SO_REUSEADDR,
 * SO_REUSEPORT with an int value). Requests of one connection are served in
 * order, so a later request on that connection sees the option set; a round trip
 * (two process switches) saved per such setsockopt().
 *
 * Data path (DESIGN decision 5): per socket a memfd holds struct psock_shm
 * followed by a receive ring (engine produces, application consumes) and a send
 * ring (application produces, engine consumes). Each ring is single-producer
 * single-consumer with free-running u32 byte counters (head = produced, tail =
 * consumed; used = head - tail), published with release stores and read with
 * acquire loads. Several application threads or processes that use one socket at
 * once serialise among themselves (the preload takes a lock in the shared memory).
 *
 * Reuse: the engine keeps a socket's memory after its last close (up to 64 in all)
 * and gives it, zeroed, to the next socket a process of the same uid creates or
 * accepts: no memfd, ftruncate, mmap, munmap and fresh pages per connection. It
 * is safe because every process unmaps a socket's memory BEFORE it closes its
 * last copy of the placeholder, so the placeholder's EOF means no process maps
 * the memory any more: the library unmaps at its last reference and holds a
 * copy of the placeholder while a thread still uses the memory (pl__sock_keep);
 * the kernel unmaps at exec, and at exit before it closes the files. The same uid
 * only: a process that kept the memfd itself (the library closes it at once)
 * could read the next socket's bytes, and only a process that could read the
 * other's memory anyway may. The engine zeroes the header page and, of each
 * ring, the pages below its counters ([0, max(head, tail)), all of it once a
 * counter reached the ring's end): in place when few, punched out when many or
 * while swap is on. Only the counters are trusted: bytes a program stored past
 * the head it published (its own writes into the mapping, or a process killed
 * between copying into the send ring and publishing head) may stay, and go to
 * the next socket of the same uid only, which could read that memory anyway.
 *
 * Sleeping and waking:
 *  - the application that finds nothing to do increments wait_in / wait_out,
 *    looks again, and sleeps in the kernel on the placeholder (POLLIN). The engine,
 *    whenever it changed something, sends one token when a waiter's condition is
 *    true and no token is pending (tok_pending 0 -> 1). The waker drains the
 *    placeholder first, then stores tok_pending = 0, then looks again.
 *  - the engine that finds the send ring empty sets eng_tx_idle = 1 (and looks
 *    again); the application that adds bytes exchanges eng_tx_idle with 0 and rings
 *    the doorbell only when it was 1. The engine may also turn it back to 0 itself
 *    when it sends a token (a woken program often answers at once): it then owes the
 *    socket one more look at its send ring before it sleeps, which ends as every
 *    look at an empty ring does, with eng_tx_idle = 1 and a look again. When that
 *    look finds nothing and the program runs on another CPU (app_cpu), the
 *    engine may keep eng_tx_idle at 0 a little longer and watch the send ring
 *    instead of sleeping (its answer then costs neither a doorbell nor a
 *    wake-up); the watch ends, as every look does, with eng_tx_idle = 1 and a
 *    look again before the engine sleeps. Likewise eng_rx_full: the engine could not
 *    move received bytes because the ring was full; the reader that makes room
 *    rings the doorbell.
 * Both sides order "publish, then look at the other side's flag" with sequentially
 * consistent atomics (the Dekker pattern), so no wake-up is lost. */
#ifndef TSK_IPC_PSOCK_H
#define TSK_IPC_PSOCK_H

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "ipc/ipc.h"

#define PSOCK_ATOMIC(t) _Atomic t

#define PSOCK_ADDR_SUFFIX "/sock"      /* abstract "\0tapsock/<name>/sock" */
#define PSOCK_SHM_MAGIC   0x4b434f53u  /* "SOCK" */
#define PSOCK_VERSION     1u
#define PSOCK_HDR_SIZE    4096u        /* struct psock_shm, padded to a page */
#define PSOCK_RING_SIZE   (1024u << 10) /* per direction; pages are only touched when used */

/* One-byte messages on the placeholder. */
enum { PSOCK_MSG_TOKEN = 'T', PSOCK_MSG_DOORBELL = 'D' };

/* state: what the socket can do now (engine writes). */
enum {
	PSOCK_ST_LISTEN   = 1 << 0, /* listening: POLLIN in ev = accept would succeed */
	PSOCK_ST_CONNECTING = 1 << 1, /* SYN sent or received, not yet established */
	PSOCK_ST_SENDABLE = 1 << 2, /* established (or CLOSE-WAIT), not shut for writing */
	PSOCK_ST_EOF      = 1 << 3, /* the peer's FIN (or SHUT_RD) is behind the receive ring's bytes */
	PSOCK_ST_WAS_CONN = 1 << 4, /* connect() succeeded once */
	PSOCK_ST_CLOSED   = 1 << 5, /* TCP CLOSED (never connected, refused, reset, done) */
};

struct psock_ring {
	PSOCK_ATOMIC(uint32_t) head;  /* bytes produced, free running */
	uint32_t _pad0[15];
	PSOCK_ATOMIC(uint32_t) tail;  /* bytes consumed, free running */
	uint32_t _pad1[15];
};

struct psock_shm {
	uint32_t magic;               /* PSOCK_SHM_MAGIC */
	uint32_t version;             /* PSOCK_VERSION */
	uint32_t size;                /* bytes of the whole mapping */
	uint32_t rx_off, rx_size;     /* receive ring data: offset from the start, size (2^n) */
	uint32_t tx_off, tx_size;     /* send ring data */
	int32_t domain;               /* AF_INET or AF_INET6 (what socket() was asked) */
	uint32_t _pad0[8];

	struct psock_ring rx;         /* engine -> application */
	struct psock_ring tx;         /* application -> engine */

	/* written by the engine */
	PSOCK_ATOMIC(uint32_t) ev;    /* POLL* bits of tcp_sock_events() without what the
					 rings say: POLLIN only for a listener's accept
					 queue or EOF, POLLOUT only when writes fail at once
					 (shut down), POLLHUP, POLLRDHUP */
	PSOCK_ATOMIC(uint32_t) state; /* PSOCK_ST_* */
	PSOCK_ATOMIC(int32_t) so_error; /* pending socket error (positive errno): the next
					   recv/send/SO_ERROR takes it (exchange with 0) */
	PSOCK_ATOMIC(uint32_t) gen;   /* bumped at each engine publication */
	PSOCK_ATOMIC(uint32_t) eng_tx_idle; /* engine drained the send ring: ring the doorbell */
	PSOCK_ATOMIC(uint32_t) eng_rx_full; /* engine has bytes the receive ring could not take */
	PSOCK_ATOMIC(uint32_t) tok_pending; /* a token is in the placeholder, not drained yet */
	PSOCK_ATOMIC(uint32_t) eng_dead;    /* the engine closed the socket for good (not used
					       for a crash: the placeholder's EOF says that) */
	/* The send buffer, as Linux's: one limit for the send ring and TCP's own
	 * queue together. tx_sndbuf is the bytes both may hold (0: the ring's size
	 * alone); the send ring's head may advance up to tx_end (free running,
	 * tx.tail + what TCP can still take when the engine published it: moving
	 * bytes from the ring to TCP leaves it unchanged). POLLOUT as Linux's
	 * sk_stream_is_writeable(): room >= queued / 2 (psock_tx_writable). */
	PSOCK_ATOMIC(uint32_t) tx_end;
	PSOCK_ATOMIC(uint32_t) tx_sndbuf;
	/* The CPU the engine last published from, plus 1 (0: not known); stored
	 * only when it changed. A hint, as app_cpu: the library spins before it
	 * sleeps (when TAPSOCK_SPIN_US does not say otherwise) only while the
	 * engine runs on another CPU than the caller, where spinning cannot hold
	 * the engine off. */
	PSOCK_ATOMIC(uint32_t) eng_cpu;
	uint32_t _pad1[5];

	/* written by the application(s) */
	PSOCK_ATOMIC(uint32_t) wait_in;  /* sleepers/armed waiting for POLLIN-like events */
	PSOCK_ATOMIC(uint32_t) wait_out; /* ... for POLLOUT (ring space, connected) */
	PSOCK_ATOMIC(uint32_t) lock;     /* preload: serialises ring users (0 free, else owner tid) */
	PSOCK_ATOMIC(int32_t) v6only;    /* IPV6_V6ONLY (AF_INET6 sockets) */
	PSOCK_ATOMIC(uint64_t) rcvtimeo_ns; /* SO_RCVTIMEO, 0 = none */
	PSOCK_ATOMIC(uint64_t) sndtimeo_ns; /* SO_SNDTIMEO, 0 = none */
	/* MSG_MORE on the ring path: the application stores tx_more_head (the send
	 * ring's head after a send with MSG_MORE) and tx_more = 1, or tx_more = 0 for
	 * a send without it, before publishing the head. The engine passes MSG_MORE to
	 * TCP (cork this write) when it consumed up to exactly tx_more_head. */
	PSOCK_ATOMIC(uint32_t) tx_more;
	PSOCK_ATOMIC(uint32_t) tx_more_head;
	PSOCK_ATOMIC(int32_t) linger_s;  /* SO_LINGER with a positive timeout: seconds, else 0 */
	/* Threads (of any process) asleep in a blocking call on the placeholder, by
	 * what they wait for. The kernel wakes only ONE of several recv() sleepers on a
	 * unix socket (an exclusive wait): whoever drains a token that such a sleeper
	 * may have needed rings the doorbell, and the engine's next publication sends
	 * the next token (the preload's pl_sock_drain). The same Dekker pattern as
	 * above: the sleeper counts itself here, then looks at the readiness once
	 * more before it sleeps; the drainer drains, then reads these counts. */
	PSOCK_ATOMIC(uint32_t) blk_in;
	PSOCK_ATOMIC(uint32_t) blk_out;
	/* An IPV6_V6ONLY socket bound to :: or ::1 (nginx's `listen [::]:80` beside
	 * `listen 80`): the engine has no IPv6, so it is never told; the preload keeps
	 * the port here (port + 1, 0 = not bound so) and, once listened on, the socket
	 * is a listener that never has a connection (v6_listen). */
	PSOCK_ATOMIC(uint32_t) v6_port;
	PSOCK_ATOMIC(uint32_t) v6_listen;
	/* The CPU the application last wrote the send ring from, plus 1 (0: not
	 * known); stored only when it changed. A hint, never needed for
	 * correctness: the engine that woke the program waits for its answer by
	 * watching the send ring (doorbell off, as after a token) only when the
	 * program runs on another CPU than its own; beside it, spinning would hold
	 * the program off (psock_srv_answer_begin). */
	PSOCK_ATOMIC(uint32_t) app_cpu;
	/* A listener's connections pushed to the process that armed it
	 * (PSOCK_ACCEPT_PUSH): push_head counts those the engine sent over that
	 * process's control connection (stored once the message is there),
	 * push_tail those the library moved from it into its own queue. */
	PSOCK_ATOMIC(uint32_t) push_head;   /* engine */
	PSOCK_ATOMIC(uint32_t) push_tail;   /* library */
	/* TCP_NODELAY set while nothing was ever written to the send ring (an
	 * event loop sets it on every connection it accepts, before its first
	 * send): 1 + the value, 0 none. Nagle holds nothing then, so nothing needs
	 * pushing at once: the engine takes the value (exchange with 0) before it
	 * moves bytes from the send ring and before it answers a request about
	 * the socket (getsockopt sees it, listen() passes it on), which saves a
	 * message per connection. Once bytes were written, and on a listener
	 * (connections pushed to the library are made without a request),
	 * TCP_NODELAY goes as a PSOCK_SETSOCKOPT: Linux pushes what Nagle holds
	 * when it is set. */
	PSOCK_ATOMIC(uint32_t) nodelay;
};
_Static_assert(sizeof(struct psock_shm) <= PSOCK_HDR_SIZE, "psock_shm fits its page");

/* Request types (ipc.h numbering: 64 and up). Every request but PSOCK_SOCKET carries
 * the placeholder (SCM_RIGHTS, exactly one fd). Status 0 / -errno as ipc.h. */
enum psock_type {
	PSOCK_SOCKET      = 64, /* psock_socket_req -> psock_info, fds [placeholder, memfd] */
	PSOCK_ATTACH      = 65, /* -> psock_info, fds [memfd]; -ENOTSOCK: not one of ours */
	PSOCK_BIND        = 66, /* psock_addr -> empty */
	PSOCK_LISTEN      = 67, /* int32 backlog -> empty */
	PSOCK_ACCEPT      = 68, /* [int32 flags [, int32 max [, uint32 id]]] -> n psock_names (each
				   with its psock_info), fds [placeholder, memfd] for each
				   (2n, in the same order); flags SOCK_NONBLOCK: the
				   placeholders come O_NONBLOCK (accept4's flag, without
				   an fcntl() after). max (1 when absent, at most
				   PSOCK_ACCEPT_MAX): the connections of the accept queue
				   taken at once, n >= 1 of them (-EAGAIN: none); more
				   than one only when the listener is O_NONBLOCK. The
				   library hands out the extra ones to the following
				   accept() calls without a round trip; until then they
				   are its fds and it closes them as Linux closes
				   connections never accepted (see PSOCK_ACCEPT_MAX) */
	PSOCK_CONNECT     = 69, /* psock_addr -> empty (-EINPROGRESS, -EISCONN ...) */
	PSOCK_SHUTDOWN    = 70, /* int32 how -> empty */
	PSOCK_SETSOCKOPT  = 71, /* psock_opt + value -> empty */
	PSOCK_GETSOCKOPT  = 72, /* psock_opt (len = room) -> value */
	PSOCK_NAMES       = 73, /* -> psock_names */
	PSOCK_OUTQ        = 74, /* -> uint32 bytes not yet acknowledged (SIOCOUTQ) */
	PSOCK_RECV_STATUS = 75, /* -> empty: what tcp_recv says when nothing is readable
				   (0 EOF, -ENOTCONN, -EAGAIN) */
	PSOCK_LINGER      = 76, /* close() with a positive SO_LINGER is about to close its
				   last copy: fds [placeholder, notify] (the only request with
				   two). The engine keeps `notify` and closes it when the
				   close it starts at the placeholder's EOF is done
				   (tcp_close_linger): the caller sleeps until it reads EOF
				   there, at most the linger time. -EBUSY: other processes
				   still hold the socket, this close does not linger. */
	PSOCK_PUSHED      = 77, /* engine -> library, unsolicited, seq 0: psock_pushed,
				   fds [placeholder, memfd] (PSOCK_ACCEPT_PUSH) */
};

/* Connections one PSOCK_ACCEPT takes at most (2 fds each: far below SCM_MAX_FD).
 * The engine gives a batch only to a non-blocking listener (an event loop
 * comes back to accept() soon; a blocking accept() in a pool of threads would
 * keep the others' connections while it serves its own): it looks at the
 * placeholder's O_NONBLOCK, which is the file's, when a second connection
 * waits (one at a time costs no system call), and only while one process
 * has asked about the listener (prefork workers share the queue: a batch would
 * wait for the worker that took it instead of going to an idle one). The
 * library keeps the extra ones per listener: poll/select/epoll report the
 * listener readable while it holds some, a forked child closes its copies (only the process that took
 * them hands them out), the listener's last close closes them (the engine sees
 * the placeholder's EOF: the connection is closed as one never accepted). They
 * are not mapped until handed out, so no memory outlives its placeholder
 * ("Reuse" above). Where this differs from Linux: a process that exits or
 * execs while it keeps some closes them, where Linux would leave them queued
 * for another holder of the listener; only a listener forked or passed on
 * after its holder took a batch gets there. */
#define PSOCK_ACCEPT_MAX 32

/* PSOCK_ACCEPT's flags bit: push the next connections of this listener to me
 * (the request is then [int32 flags, int32 max, uint32 id]). An event loop that
 * accepts one connection at a time pays a round trip (two process switches and
 * the engine's wake-up) per accept; pushed, accept() reads the connection from
 * its control connection without waiting. The library asks only about a
 * listener it made with socket() and holds alone (no fork since: a process that
 * shares it, waiting with EPOLLEXCLUSIVE, could take the token of a connection
 * pushed to another); before a fork it disarms its listeners with a round trip
 * (id 0, max 0: -EAGAIN, none taken), after which nothing pushed is on its
 * way. The engine arms the listener for the asking process when a batch's
 * conditions hold (O_NONBLOCK, one process has asked about it) and, while they
 * hold, makes each connection that
 * completes at once and sends it as PSOCK_PUSHED (seq 0, the id given) over
 * that process's control connection, at most PSOCK_PUSH_MAX not yet taken
 * (push_head - push_tail of the listener's memory): the others stay in the
 * accept queue for a PSOCK_ACCEPT. The message is in the control connection
 * before push_head counts it and before the token (publish), so a library that
 * sees push_head != push_tail finds it there with a non-blocking read (the
 * lost-wake-up argument above, push_head != push_tail being the condition). A
 * second process asking about the listener disarms it; a connection already
 * pushed stays with the first, as a batch does. The library's reply reader
 * tells a pushed message from a reply by its type and keeps it with the
 * listener of that id (or closes it: listener closed); the listener is
 * readable, in the process that armed it, while it keeps one or push_head !=
 * push_tail. Where this differs from Linux: a pushed connection not taken yet
 * counts against no backlog (at most PSOCK_PUSH_MAX beyond it); a process that
 * exits, execs or closes its copy of the listener while one is on its way
 * closes it (the engine forgets the push when the control connection ends), as
 * a batch. Not covered: a listener handed on without fork (exec after
 * posix_spawn, SCM_RIGHTS) while a connection is on its way, its new holder
 * waiting with EPOLLEXCLUSIVE, may take that connection's token: the armed
 * process then learns of it at the listener's next event. */
#define PSOCK_ACCEPT_PUSH 0x40000000   /* id 0 and max 0: disarm, take none (-EAGAIN) */
#define PSOCK_PUSH_MAX 1u
/* ipc_hdr.flags of PSOCK_ACCEPT_PUSH's reply: the listener is armed for the
 * asker (no flag: it is not, and its pushes are another's). */
#define PSOCK_F_ARMED 0x200u

/* ipc_hdr.flags of a request (ipc.h's IPC_F_* are reply flags): no reply wanted. */
#define PSOCK_F_NOREPLY 0x100u

struct psock_socket_req {
	int32_t domain, type, protocol;  /* type without SOCK_CLOEXEC; with SOCK_NONBLOCK the
					    placeholder comes O_NONBLOCK */
};

struct psock_info {
	uint32_t shm_size;
	int32_t domain;
};

struct psock_addr {
	uint32_t addr;   /* be32 */
	uint16_t port;   /* host order */
	uint16_t flags;  /* PSOCK_CONNECT: PSOCK_CONNECT_WAITED */
};
/* PSOCK_CONNECT after a blocking connect()'s wait (tcp_connect_waited): the
 * rest of that same call, as Linux's __inet_stream_connect() after
 * inet_wait_for_connect(). */
#define PSOCK_CONNECT_WAITED 1

struct psock_names {
	uint32_t laddr, raddr;  /* be32 */
	uint16_t lport, rport;  /* host order */
	int32_t peer_err;       /* getpeername: 0 or -ENOTCONN */
	struct psock_info info; /* PSOCK_ACCEPT: the new socket */
};

struct psock_pushed {
	uint32_t id;             /* PSOCK_ACCEPT_PUSH's, naming the listener */
	uint32_t flags;          /* SOCK_NONBLOCK: the placeholder came O_NONBLOCK */
	struct psock_names nm;
};

struct psock_opt {
	int32_t level, name;
	uint32_t len;    /* value bytes that follow (set) / room for it (get) */
};

static inline uint32_t psock_ring_used(const struct psock_ring *r)
{
	return atomic_load_explicit(&((struct psock_ring *)r)->head, memory_order_acquire) -
	       atomic_load_explicit(&((struct psock_ring *)r)->tail, memory_order_acquire);
}

/* Bytes the application may add to the send ring now: its room, bounded by the
 * send buffer the engine allows (tx_end). */
/* This thread's CPU as eng_cpu and app_cpu hold it: plus 1, 0 when unknown
 * (glibc reads it from the rseq area: no system call). */
static inline uint32_t psock_cpu_now(void)
{
	int c = sched_getcpu();

	return c >= 0 ? (uint32_t)c + 1 : 0;
}

/* Stores a CPU hint (eng_cpu, app_cpu) only when it changed: the other side
 * reads its cache line on every exchange. */
static inline void psock_cpu_note(PSOCK_ATOMIC(uint32_t) *at, uint32_t cpu)
{
	if (atomic_load_explicit(at, memory_order_relaxed) != cpu)
		atomic_store_explicit(at, cpu, memory_order_relaxed);
}

static inline uint32_t psock_tx_room(const struct psock_shm *sh)
{
	struct psock_shm *m = (struct psock_shm *)sh;
	uint32_t head = atomic_load_explicit(&m->tx.head, memory_order_acquire);
	uint32_t room = sh->tx_size - (head - atomic_load_explicit(&m->tx.tail, memory_order_acquire));
	int32_t lim;

	if (!atomic_load(&m->tx_sndbuf))
		return room;
	lim = (int32_t)(atomic_load(&m->tx_end) - head);
	if (lim < 0)
		lim = 0;
	return (uint32_t)lim < room ? (uint32_t)lim : room;
}

/* POLLOUT for a connected socket (Linux sk_stream_is_writeable(): the free
 * space is at least half of what is queued, a third of the buffer), and the
 * same third of the send ring, the part of the buffer the application writes
 * into: when SO_SNDBUF is larger than the ring, TCP's queue has room and the
 * ring is what fills; a writer woken whenever the engine had moved a few bytes
 * out of it would wake at almost every drain (Linux wakes a writer only at
 * sk_stream_write_space, with the same third free). Both sides use this one
 * test: the engine sends a waiter's token when it turns true (publish), the
 * application sleeps only while it is false, so no wake-up is lost. */
static inline int psock_tx_writable(const struct psock_shm *sh)
{
	struct psock_shm *m = (struct psock_shm *)sh;
	uint32_t cap = atomic_load(&m->tx_sndbuf);
	uint32_t head = atomic_load_explicit(&m->tx.head, memory_order_acquire);
	uint32_t ring_free = sh->tx_size - (head - atomic_load_explicit(&m->tx.tail, memory_order_acquire));
	uint32_t ring_need = cap && cap < sh->tx_size ? cap : sh->tx_size;
	int32_t free_ = (int32_t)(atomic_load(&m->tx_end) - head);

	if (!psock_tx_room(sh))
		return 0;
	if (3ull * ring_free < ring_need)
		return 0;
	return !cap || (free_ > 0 && 3ull * (uint32_t)free_ >= cap);
}

#endif
