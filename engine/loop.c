/* loop.c - the io_uring event loop of tapsockd (io_uring_enter(2), io_uring_setup(2),
 * io_uring_register_buf_ring(3); DESIGN decision 4 and its field notes). */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/spin.h"
#include "base/time.h"
#include "eng.h"
#include "eth/eth.h"
#include "ip/ip.h"
#include "ipc/ipc_server.h"
#include "link/pcap.h"
#include "link/tap.h"
#include "loop.h"
#include "sock/psock_srv.h"
#include "tcp/wire.h"

#ifndef IORING_OP_READ_MULTISHOT
#define IORING_OP_READ_MULTISHOT 49
#endif

/* user_data: kind in the top byte, an index or generation below */
enum {
	UD_RX = 1, UD_TX, UD_TIMER, UD_SIGNAL, UD_ACCEPT, UD_IPC, UD_IGNORE,
	UD_PS_ACCEPT, UD_PS,   /* the socket server (sock/psock_srv.h): accepts, watched fds */
};
#define UD(kind, low) ((uint64_t)(kind) << 56 | (uint64_t)(low))
#define UD_KIND(ud)   ((unsigned)((ud) >> 56))
#define UD_LOW(ud)    ((uint32_t)(ud))
#define UD_LOW56(ud)  ((ud) & ((1ull << 56) - 1))

#define RX_BGID 1
/* Plain reads posted at once in the fallback. Measured on 6.18: with several
 * concurrent buffer-select reads on the TAP most completions are ENOBUFS even
 * though the ring is full (they race when the TAP wakes them), so one it is. */
#define RX_FALLBACK_READS 1

struct loop {
	struct loop_params p;
	struct io_uring ring;
	bool ring_ok;
	/* receive: a ring-mapped provided-buffer group */
	struct io_uring_buf_ring *br;
	size_t br_size;
	uint8_t *rxbufs;
	unsigned nbufs;
	size_t bufsize;
	/* direct reads (direct_pull): frames read with preadv2 into a receive ring */
	bool direct;               /* reading so: no other read posted */
	bool direct_want;          /* waiting for the multishot read to end first */
	bool direct_off;           /* never (--no-direct-reads, or the TAP refused RWF_NOWAIT) */
	bool poll_armed;           /* POLL_ADD on the TAP: a frame waits */
	uint32_t direct_hdr;       /* bytes before the payload in the last frame a ring took */
	unsigned direct_miss;      /* frames in a row no ring took whole */
	uint8_t *dscratch, *dspill, *dwhole;   /* bufsize each */
	bool multishot;            /* false: fall back to plain reads */
	bool rx_armed;             /* multishot read posted and not ended */
	bool multishot_worked;     /* it delivered at least once */
	unsigned rx_reads_posted;  /* fallback: plain reads in flight */
	/* timer */
	struct __kernel_timespec ts;
	uint64_t timer_deadline;   /* armed deadline, TIME_NEVER: none armed */
	uint32_t timer_gen;
	/* signals */
	int sfd;
	struct signalfd_siginfo si;
	bool sig_armed;
	/* control channel */
	bool accept_armed;
	bool ps_accept_armed;      /* the socket server's listening socket */
	bool stop;
	int fatal;
	struct loop_stats st;
	/* adaptive polling: the cap and the current budget (ns) */
	uint32_t spin_max_ns;
	uint32_t spin_ns;
	bool taskrun_flag;         /* IORING_SQ_TASKRUN says when completions wait in the kernel */
	uint64_t ps_turn;          /* the last turn with a program's doorbell (no spin near it) */
	/* watching for a woken program's answer (answer_wait): budget (ns), and
	 * whether the coming sleep waits for one (its length adapts the budget) */
	uint32_t ans_ns;
	bool ans_sleep;
};

uint64_t loop_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct io_uring_sqe *get_sqe(struct loop *lp)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&lp->ring);

	if (!sqe) {   /* SQ full: push what is queued and take a fresh one */
		io_uring_submit(&lp->ring);
		sqe = io_uring_get_sqe(&lp->ring);
	}
	return sqe;
}

static uint8_t *rxbuf(struct loop *lp, unsigned bid) { return lp->rxbufs + (size_t)bid * lp->bufsize; }

static void rx_recycle(struct loop *lp, unsigned bid)
{
	io_uring_buf_ring_add(lp->br, rxbuf(lp, bid), (unsigned)lp->bufsize, (unsigned short)bid,
			      io_uring_buf_ring_mask(lp->nbufs), 0);
	io_uring_buf_ring_advance(lp->br, 1);
}

static void direct_arm(struct loop *lp);

static void rx_arm(struct loop *lp)
{
	int fd = tap_fd(lp->p.tap);

	if (lp->direct_want && !lp->rx_armed && !lp->rx_reads_posted) {
		/* the multishot read has ended: every frame it took is handled */
		lp->direct_want = false;
		lp->direct = true;
	}
	if (lp->direct) {
		direct_arm(lp);
		return;
	}
	if (lp->direct_want)
		return;
	if (lp->multishot) {
		struct io_uring_sqe *sqe;

		if (lp->rx_armed || !(sqe = get_sqe(lp)))
			return;
		/* liburing 2.3 has no helper for IORING_OP_READ_MULTISHOT: by hand */
		io_uring_prep_rw(IORING_OP_READ_MULTISHOT, sqe, fd, NULL, 0, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = RX_BGID;
		io_uring_sqe_set_data64(sqe, UD(UD_RX, 0));
		lp->rx_armed = true;
		return;
	}
	while (lp->rx_reads_posted < RX_FALLBACK_READS) {
		struct io_uring_sqe *sqe = get_sqe(lp);

		if (!sqe)
			return;
		io_uring_prep_read(sqe, fd, NULL, (unsigned)lp->bufsize, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = RX_BGID;
		io_uring_sqe_set_data64(sqe, UD(UD_RX, 1));
		lp->rx_reads_posted++;
	}
}

static void sig_arm(struct loop *lp)
{
	struct io_uring_sqe *sqe;

	if (lp->sig_armed || !(sqe = get_sqe(lp)))
		return;
	io_uring_prep_read(sqe, lp->sfd, &lp->si, sizeof(lp->si), 0);
	io_uring_sqe_set_data64(sqe, UD(UD_SIGNAL, 0));
	lp->sig_armed = true;
}

static void accept_arm(struct loop *lp)
{
	struct io_uring_sqe *sqe;

	if (!lp->p.ipc || lp->accept_armed || !(sqe = get_sqe(lp)))
		return;
	io_uring_prep_multishot_accept(sqe, ipc_server_listen_fd(lp->p.ipc), NULL, NULL,
				       SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, UD(UD_ACCEPT, 0));
	lp->accept_armed = true;
}

static void ps_accept_arm(struct loop *lp)
{
	struct io_uring_sqe *sqe;

	if (!lp->p.psock || lp->ps_accept_armed || !(sqe = get_sqe(lp)))
		return;
	io_uring_prep_multishot_accept(sqe, psock_srv_listen_fd(lp->p.psock), NULL, NULL,
				       SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, UD(UD_PS_ACCEPT, 0));
	lp->ps_accept_armed = true;
}

/* The socket server's fds: one multishot POLLIN each, keyed by the server. */
static void ps_watch(void *arg, int fd, uint64_t key)
{
	struct loop *lp = arg;
	struct io_uring_sqe *sqe = get_sqe(lp);

	if (!sqe)
		return;
	io_uring_prep_poll_multishot(sqe, fd, POLLIN);
	io_uring_sqe_set_data64(sqe, UD(UD_PS, key));
}

static void ps_unwatch(void *arg, uint64_t key)
{
	struct loop *lp = arg;
	struct io_uring_sqe *sqe = get_sqe(lp);

	if (!sqe)
		return;
	io_uring_prep_poll_remove(sqe, UD(UD_PS, key));
	io_uring_sqe_set_data64(sqe, UD(UD_IGNORE, 0));
	/* the fd is closed right after: the removal must reach the kernel first */
	io_uring_submit(&lp->ring);
}

static void on_ps(struct loop *lp, const struct io_uring_cqe *cqe)
{
	bool ended = !(cqe->flags & IORING_CQE_F_MORE);

	if (cqe->res == -ECANCELED || cqe->res == -ENOENT)
		return;
	lp->ps_turn = lp->st.turns;
	psock_srv_event(lp->p.psock, UD_LOW56(cqe->user_data), ended);
}

static void on_ps_accept(struct loop *lp, const struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_MORE))
		lp->ps_accept_armed = false;
	if (cqe->res < 0) {
		if (cqe->res != -ECANCELED)
			log_warn("sockets: accept: %s", strerror(-cqe->res));
		return;
	}
	psock_srv_accept(lp->p.psock, cqe->res);
}

static void ipc_recv_arm(struct loop *lp, int slot)
{
	struct io_uring_sqe *sqe = get_sqe(lp);

	if (!sqe) {
		ipc_server_drop_client(lp->p.ipc, slot);
		return;
	}
	io_uring_prep_recv(sqe, ipc_server_client_fd(lp->p.ipc, slot),
			   ipc_server_client_buf(lp->p.ipc, slot), IPC_MSG_MAX, 0);
	io_uring_sqe_set_data64(sqe, UD(UD_IPC, (uint32_t)slot));
}

/* One IORING_OP_TIMEOUT for eng_poll()'s deadline (absolute CLOCK_MONOTONIC, the
 * clock of `now`). Re-armed when the deadline moves earlier or the armed one went
 * off; a later deadline keeps the armed one: waking early costs one empty turn. */
static void timer_arm(struct loop *lp, uint64_t deadline)
{
	struct io_uring_sqe *sqe;

	if (deadline == TIME_NEVER || deadline >= lp->timer_deadline)
		return;
	if (lp->timer_deadline != TIME_NEVER) {
		sqe = get_sqe(lp);
		if (!sqe)
			return;
		io_uring_prep_timeout_remove(sqe, UD(UD_TIMER, lp->timer_gen), 0);
		io_uring_sqe_set_data64(sqe, UD(UD_IGNORE, 0));
	}
	sqe = get_sqe(lp);
	if (!sqe)
		return;
	lp->timer_gen++;
	lp->ts.tv_sec = (long long)(deadline / 1000000000ull);
	lp->ts.tv_nsec = (long long)(deadline % 1000000000ull);
	io_uring_prep_timeout(sqe, &lp->ts, 0, IORING_TIMEOUT_ABS);
	io_uring_sqe_set_data64(sqe, UD(UD_TIMER, lp->timer_gen));
	lp->timer_deadline = deadline;
	lp->st.timer_arms++;
}

/* ---- direct reads (issue 6: bulk receive by a program on the library) ----
 * A program's bulk receive cost three copies on the engine's CPU: the TAP read
 * into a provided buffer, the engine's copy into the socket's receive ring, and
 * the program's copy out. While frames fill one socket's ring whole, the loop
 * reads the next frame itself (preadv2, RWF_NOWAIT) in three pieces: headers as
 * long as the last such frame's, the ring's free room where its next bytes go
 * (psock_srv_rx_area), and a spare buffer for the rest. When the frame is that
 * socket's next segment, its payload is in place and TCP publishes it without a
 * copy (psock_srv.c rx_direct); any other frame is made whole and goes the
 * usual way. One reader only, or frames could be handled out of order: the
 * multishot read is cancelled first and comes back when no ring takes frames
 * whole any more; between frames a POLL_ADD on the TAP wakes the loop. */
#define DIRECT_MIN 8192u       /* payload a ring must take whole to start */
#define DIRECT_MISS_MAX 64u    /* frames in a row without: back to the multishot read */
#define DIRECT_BATCH 64u       /* frames read per turn */

static void direct_begin(struct loop *lp)
{
	struct io_uring_sqe *sqe;

	if (lp->direct || lp->direct_want || lp->direct_off || !lp->p.psock)
		return;
	lp->direct_want = true;
	lp->direct_miss = 0;
	if (lp->multishot && lp->rx_armed && (sqe = get_sqe(lp))) {
		io_uring_prep_cancel64(sqe, UD(UD_RX, 0), 0);
		io_uring_sqe_set_data64(sqe, UD(UD_IGNORE, 0));
	}
}

static void direct_end(struct loop *lp)
{
	lp->direct = lp->direct_want = false;
	psock_srv_rx_forget(lp->p.psock);
}

static void direct_arm(struct loop *lp)
{
	struct io_uring_sqe *sqe;

	if (lp->poll_armed || !(sqe = get_sqe(lp)))
		return;
	io_uring_prep_poll_add(sqe, tap_fd(lp->p.tap), POLLIN);
	io_uring_sqe_set_data64(sqe, UD(UD_RX, 3));
	lp->poll_armed = true;
}

/* One frame as read from the TAP (virtio-net header first), in buf; when payload
 * is not NULL, the TCP payload that would start at buf + hdr is there instead
 * (a direct read, split_ok). */
static void frame_in(struct loop *lp, const uint8_t *buf, size_t len, uint32_t hdr,
		     const uint8_t *payload, uint64_t now)
{
	struct eng *eng = lp->p.eng;
	const uint8_t *frame;
	size_t flen;
	unsigned rxflags = 0;
	enum drop_reason r;
	uint32_t took;

	if (len >= lp->bufsize) {
		/* filled to the brim: the frame was larger and got cut */
		r = DROP_LINK_TOO_BIG;
	} else {
		r = tap_rx_decode(buf, len, &frame, &flen, &rxflags);
	}
	if (r != DROP_NONE) {
		eng_count(eng, LINK_RX_FRAMES);
		eng->stats.cnt[CNT_LINK_RX_BYTES] += len;
		eng_drop(eng, r);
		return;
	}
	if (payload) {
		eng_input_split(eng, frame, flen, hdr - TAP_VNET_HDR_LEN, payload, rxflags, now);
	} else {
		if (lp->p.capture)
			pcap_link_rx(lp->p.capture, frame, flen);
		eng_input(eng, frame, flen, rxflags, now);
	}
	if (!lp->p.psock)
		return;
	took = psock_srv_rx_took(lp->p.psock);
	if (took >= DIRECT_MIN && took < len) {
		lp->direct_hdr = (uint32_t)(len - took);
		lp->direct_miss = 0;
		direct_begin(lp);
	} else if (++lp->direct_miss >= DIRECT_MISS_MAX && lp->direct) {
		direct_end(lp);
	}
}

/* The headers of a frame read in pieces, h bytes of n: an IPv4 TCP segment with
 * exactly these headers and a checksum that needs no check, so that nothing
 * reads its payload but TCP (eng_input_split). */
static bool split_ok(const uint8_t *b, size_t n, uint32_t h)
{
	const uint8_t *frame;
	size_t flen;
	unsigned rxflags = 0;
	struct eth_hdr e;
	struct ip_hdr ip;

	if (n <= h || h < TAP_VNET_HDR_LEN + ETH_HLEN + IP_HLEN + TCP_HLEN)
		return false;
	if (tap_rx_decode(b, n, &frame, &flen, &rxflags) != DROP_NONE ||
	    !(rxflags & LINK_RX_CSUM_OK))
		return false;
	if (eth_parse(frame, flen, &e) < 0 || e.type != ETH_TYPE_IPV4)
		return false;
	frame += ETH_HLEN;
	flen -= ETH_HLEN;
	if (ip_parse(frame, flen, &ip) != DROP_NONE || ip.ihl != IP_HLEN ||
	    ip.proto != IP_PROTO_TCP || ip.total_len != flen || (ip.frag & (IP_MF | IP_OFFMASK)))
		return false;
	/* the TCP data offset (tcp_parse reads the header in full later) */
	return (uint32_t)(frame[IP_HLEN + 12] >> 4) * 4 == h - (TAP_VNET_HDR_LEN + ETH_HLEN + IP_HLEN);
}

static void direct_pull(struct loop *lp, uint64_t now)
{
	int fd = tap_fd(lp->p.tap);

	for (unsigned i = 0; i < DIRECT_BATCH && lp->direct; i++) {
		struct iovec iov[3];
		uint8_t *at = NULL;
		uint32_t room = 0, h = lp->direct_hdr;
		int k = 0;
		ssize_t n;

		if (h >= 64 && h <= 256 && psock_srv_rx_area(lp->p.psock, &at, &room) &&
		    room >= DIRECT_MIN) {
			iov[k++] = (struct iovec){ lp->dscratch, h };
			iov[k++] = (struct iovec){ at, room };
		} else {
			at = NULL;
			h = room = 0;
		}
		iov[k++] = (struct iovec){ lp->dspill, lp->bufsize };
		n = preadv2(fd, iov, k, -1, RWF_NOWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				/* EOPNOTSUPP: this TAP cannot be read without waiting */
				log_warn("%s: direct read: %s; multishot reads from now on",
					 lp->p.tap->name, strerror(errno));
				lp->direct_off = true;
				direct_end(lp);
			}
			return;
		}
		lp->st.rx_direct++;
		if ((size_t)n >= lp->bufsize) {
			/* too big: counted, dropped */
			frame_in(lp, lp->dspill, (size_t)n, 0, NULL, now);
		} else if (!at || (size_t)n <= h) {
			frame_in(lp, at ? lp->dscratch : lp->dspill, (size_t)n, 0, NULL, now);
		} else if ((size_t)n - h <= room && split_ok(lp->dscratch, (size_t)n, h) &&
			   !(lp->p.capture && pcap_link_on(lp->p.capture))) {
			/* (a capture writes frames whole) */
			lp->st.rx_split++;
			frame_in(lp, lp->dscratch, (size_t)n, h, at, now);
		} else {
			/* not the ring's: made whole first */
			size_t p = (size_t)n - h, inring = p < room ? p : room;

			memcpy(lp->dwhole, lp->dscratch, h);
			memcpy(lp->dwhole + h, at, inring);
			memcpy(lp->dwhole + h + inring, lp->dspill, p - inring);
			frame_in(lp, lp->dwhole, (size_t)n, 0, NULL, now);
		}
	}
}

static void on_rx(struct loop *lp, const struct io_uring_cqe *cqe, uint64_t now)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;

	if (UD_LOW(cqe->user_data) == 3) {
		lp->poll_armed = false;   /* a frame waits: direct_pull takes it */
		return;
	}
	lp->st.rx_cqes++;
	if (UD_LOW(cqe->user_data) == 1)
		lp->rx_reads_posted--;
	else if (!more)
		lp->rx_armed = false;   /* multishot ended: re-armed at the end of the turn */

	if (cqe->res < 0) {
		if (cqe->res == -EINVAL && lp->multishot && !lp->multishot_worked) {
			/* this kernel refuses multishot reads: plain reads from now on */
			log_info("multishot read refused, using plain reads");
			lp->multishot = false;
		} else if (cqe->res == -ENOBUFS) {
			/* every buffer was in use; they are back now, re-arm */
			lp->st.rx_enobufs++;
		} else if (cqe->res != -EAGAIN && cqe->res != -EINTR && cqe->res != -ECANCELED) {
			log_warn("%s: read: %s", lp->p.tap->name, strerror(-cqe->res));
		}
		if (!more && lp->multishot)
			lp->st.rx_rearms++;
		return;
	}
	if (!(cqe->flags & IORING_CQE_F_BUFFER)) {
		log_warn("%s: read completed without a buffer", lp->p.tap->name);
		return;
	}
	unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

	lp->multishot_worked = lp->multishot;
	if (!more && lp->multishot && !lp->direct_want)
		lp->st.rx_rearms++;
	frame_in(lp, rxbuf(lp, bid), (size_t)cqe->res, 0, NULL, now);
	/* the buffer goes back to the kernel as soon as the frame is used */
	rx_recycle(lp, bid);
}

static void on_signal(struct loop *lp, const struct io_uring_cqe *cqe)
{
	lp->sig_armed = false;
	if (cqe->res != (int)sizeof(lp->si))
		return;
	switch (lp->si.ssi_signo) {
	case SIGINT:
	case SIGTERM:
		log_info("signal %u: stopping", lp->si.ssi_signo);
		lp->stop = true;
		break;
	case SIGHUP:
		if (lp->p.on_hup)
			lp->p.on_hup(lp->p.arg);
		break;
	}
}

static void on_accept(struct loop *lp, const struct io_uring_cqe *cqe)
{
	int slot;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		lp->accept_armed = false;
	if (cqe->res < 0) {
		if (cqe->res != -ECANCELED)
			log_warn("control: accept: %s", strerror(-cqe->res));
		return;
	}
	slot = ipc_server_add_client(lp->p.ipc, cqe->res);
	if (slot >= 0)
		ipc_recv_arm(lp, slot);
}

static void on_ipc(struct loop *lp, const struct io_uring_cqe *cqe)
{
	int slot = (int)UD_LOW(cqe->user_data);

	if (slot >= IPC_MAX_CLIENTS || ipc_server_client_fd(lp->p.ipc, slot) < 0)
		return;
	if (cqe->res <= 0) {   /* the client went away */
		ipc_server_drop_client(lp->p.ipc, slot);
		return;
	}
	if (ipc_server_request(lp->p.ipc, slot, ipc_server_client_buf(lp->p.ipc, slot),
			       (size_t)cqe->res) < 0) {
		ipc_server_drop_client(lp->p.ipc, slot);
		return;
	}
	if (ipc_server_client_fd(lp->p.ipc, slot) >= 0)
		ipc_recv_arm(lp, slot);
}

static void reap(struct loop *lp)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	uint64_t now = loop_now();

	io_uring_for_each_cqe(&lp->ring, head, cqe) {
		n++;
		switch (UD_KIND(cqe->user_data)) {
		case UD_RX:
			on_rx(lp, cqe, now);
			break;
		case UD_TX:
			if (tap_tx_complete(lp->p.tap, UD_LOW(cqe->user_data), cqe->res) < 0)
				eng_count(lp->p.eng, LINK_TX_ERRORS);
			break;
		case UD_TIMER:
			/* a stale generation was replaced already; the current one went off */
			if (UD_LOW(cqe->user_data) == lp->timer_gen && cqe->res != -ECANCELED)
				lp->timer_deadline = TIME_NEVER;
			break;
		case UD_SIGNAL:
			on_signal(lp, cqe);
			break;
		case UD_ACCEPT:
			on_accept(lp, cqe);
			break;
		case UD_IPC:
			on_ipc(lp, cqe);
			break;
		case UD_PS_ACCEPT:
			on_ps_accept(lp, cqe);
			break;
		case UD_PS:
			on_ps(lp, cqe);
			break;
		default:
			break;
		}
	}
	io_uring_cq_advance(&lp->ring, n);
}

/* ---- adaptive polling (issue 6; DESIGN field notes: a wake-up across the two
 * CPUs costs about 20 us each way) ----
 * Before the loop sleeps, it may watch the completion ring for a while: a frame
 * or a doorbell that comes within the budget is then taken without a sleep and a
 * wake-up. The budget adapts as KVM's halt-polling does: a sleep that ended soon
 * (within the cap) makes it grow, a spin that ran out shrinks it, to 0 after a
 * few, so an idle engine or one serving long waits never spins. Completions of
 * polled files (the TAP, the placeholders) run as task work in our own context
 * (COOP_TASKRUN): IORING_SQ_TASKRUN says they are there, and io_uring_get_events()
 * runs them without sleeping. */
#define SPIN_PS_TURNS 256

static bool work_waiting(struct loop *lp)
{
	if (io_uring_cq_ready(&lp->ring))
		return true;
	if (lp->taskrun_flag &&
	    (IO_URING_READ_ONCE(*lp->ring.sq.kflags) & IORING_SQ_TASKRUN)) {
		io_uring_get_events(&lp->ring);
		return io_uring_cq_ready(&lp->ring) > 0;
	}
	return false;
}

static unsigned frames_ready(void *lp) { return work_waiting(lp); }

/* true: completions are waiting, no need to sleep */
static bool spin(struct loop *lp)
{
	uint64_t waited;
	uint32_t b = lp->spin_ns;

	/* Programs on the preload library rang lately: they run on these same few
	 * CPUs and the engine spinning holds them off. Measured on 2 CPUs with the
	 * program beside the engine: rr 64 B p50 24-28 us without, 34-35 us with. */
	if (!b || lp->st.turns - lp->ps_turn < SPIN_PS_TURNS)
		return false;
	lp->st.spins++;
	/* what this turn queued goes out first: the peer's answer to it is what we wait for */
	io_uring_submit(&lp->ring);
	if (spin_poll(b, frames_ready, lp, loop_now, &waited)) {
		lp->st.spin_hits++;
		lp->spin_ns = spin_after_hit(b, waited, lp->spin_max_ns);
		return true;
	}
	lp->spin_ns = spin_after_miss(b);
	return false;
}

static void spin_slept(struct loop *lp, uint64_t t0)
{
	if (!lp->spin_max_ns)
		return;
	lp->spin_ns = spin_after_sleep(lp->spin_ns, loop_now() - t0, lp->spin_max_ns);
	if (lp->ans_sleep)
		lp->ans_ns = spin_after_sleep(lp->ans_ns, loop_now() - t0, lp->spin_max_ns);
	lp->ans_sleep = false;
}

static unsigned answer_ready(void *arg)
{
	struct loop *lp = arg;

	return psock_srv_answer_ready(lp->p.psock) || work_waiting(lp);
}

/* A program this turn woke runs on another CPU (psock_srv_answer_begin): its
 * answer usually comes within a wake-up or two of that CPU, and the engine
 * that watches the send ring meanwhile takes it without the program's
 * doorbell (a system call) and its own wake-up. Only there: beside the engine,
 * spinning would hold the program off (SPIN_PS_TURNS). The budget adapts as
 * spin()'s, apart from it (frames and answers come at different paces).
 * True: bytes moved or completions wait, no need to sleep. */
static bool answer_wait(struct loop *lp)
{
	struct psock_srv *srv = lp->p.psock;
	uint32_t b = lp->ans_ns;
	bool hit, moved;
	uint64_t waited;

	lp->ans_sleep = false;
	if (!psock_srv_answer_begin(srv, b != 0))
		return false;
	lp->ans_sleep = true;
	if (!b)
		return false;
	/* what this turn queued goes out first (the answer may need its ACK) */
	io_uring_submit(&lp->ring);
	hit = spin_poll(b, answer_ready, lp, loop_now, &waited) != 0;
	moved = psock_srv_answer_end(srv);
	if (hit) {
		lp->st.ans_hits++;
		lp->ans_ns = spin_after_hit(b, waited, lp->spin_max_ns);
		lp->ans_sleep = false;
		return true;
	}
	lp->ans_ns = spin_after_miss(b);
	if (moved)
		lp->ans_sleep = false;
	return moved;
}

int loop_run(struct loop *lp)
{
	struct eng *eng = lp->p.eng;

	lp->stop = false;
	sig_arm(lp);
	accept_arm(lp);
	ps_accept_arm(lp);
	rx_arm(lp);
	/* the turn's writes ride on the submission that waits (or that the
	 * polling below makes): one io_uring_enter per turn instead of two */
	tap_defer_submit(lp->p.tap, true);
	while (!lp->stop) {
		int r;
		uint64_t next;

		lp->st.turns++;
		reap(lp);
		if (lp->stop)
			break;
		if (lp->direct)
			direct_pull(lp, loop_now());
		next = eng_poll(eng, loop_now());
		if (link_flush(eng->link) > 0)
			lp->st.tx_submits++;
		timer_arm(lp, next);
		rx_arm(lp);
		sig_arm(lp);
		accept_arm(lp);
		ps_accept_arm(lp);
		if (lp->p.psock && psock_srv_relook(lp->p.psock))
			continue;
		if (lp->p.psock && lp->spin_max_ns && answer_wait(lp))
			continue;
		if (lp->spin_max_ns && spin(lp))
			continue;
		/* nothing else to do: sockets for the next burst of accepts */
		if (lp->p.psock)
			psock_srv_idle(lp->p.psock);
		/* the only place the loop sleeps */
		uint64_t t0 = lp->spin_max_ns ? loop_now() : 0;
		r = io_uring_submit_and_wait(&lp->ring, 1);
		if (lp->spin_max_ns)
			spin_slept(lp, t0);
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY && r != -ETIME) {
			log_err("io_uring_submit_and_wait: %s", strerror(-r));
			lp->fatal = r;
			break;
		}
	}
	/* frames queued in the last turn still go out */
	tap_defer_submit(lp->p.tap, false);
	link_flush(eng->link);
	return lp->fatal;
}

void loop_stop(struct loop *lp) { lp->stop = true; }
const struct loop_stats *loop_get_stats(const struct loop *lp) { return &lp->st; }
const char *loop_rx_mode(const struct loop *lp) { return lp->multishot ? "multishot" : "read"; }

static int setup_ring(struct loop *lp)
{
	struct io_uring_params prm;
	int r;

	memset(&prm, 0, sizeof(prm));
	/* a large CQ: a burst of frames must not overflow it */
	prm.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
		    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_TASKRUN_FLAG;
	prm.cq_entries = 4096;
	r = io_uring_queue_init_params(512, &lp->ring, &prm);
	lp->taskrun_flag = r == 0;
	if (r == -EINVAL) {  /* older kernels: the flags they know */
		memset(&prm, 0, sizeof(prm));
		prm.flags = IORING_SETUP_CQSIZE;
		prm.cq_entries = 4096;
		r = io_uring_queue_init_params(512, &lp->ring, &prm);
	}
	return r;
}

int loop_new(const struct loop_params *p, struct loop **out, char *err, size_t errlen)
{
	struct loop *lp = calloc(1, sizeof(*lp));
	sigset_t mask;
	int r;

	*out = NULL;
	if (!lp) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	lp->p = *p;
	lp->sfd = -1;
	lp->timer_deadline = TIME_NEVER;
	lp->multishot = !p->plain_reads;
	lp->spin_max_ns = p->spin_us > 0 ? (uint32_t)p->spin_us * 1000u : 0;
	r = setup_ring(lp);
	if (r < 0) {
		snprintf(err, errlen, "io_uring_queue_init: %s", strerror(-r));
		goto fail;
	}
	lp->ring_ok = true;

	/* Buffers big enough for GRO frames when the TAP may send them (64 KB + vnet
	 * header), else an MTU-sized frame with room to spot a longer one. */
	if (p->tap->features & LINK_F_RX_GRO) {
		lp->bufsize = 65536 + 512;
		lp->nbufs = 128;
	} else {
		lp->bufsize = ((size_t)p->tap->mtu + 14 + TAP_VNET_HDR_LEN + 64 + 63) & ~(size_t)63;
		lp->nbufs = 512;
	}
	/* and three more for direct reads */
	lp->rxbufs = mmap(NULL, (lp->nbufs + 3) * lp->bufsize, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	lp->dscratch = lp->rxbufs == MAP_FAILED ? NULL : rxbuf(lp, lp->nbufs);
	lp->dspill = lp->dscratch ? rxbuf(lp, lp->nbufs + 1) : NULL;
	lp->dwhole = lp->dscratch ? rxbuf(lp, lp->nbufs + 2) : NULL;
	lp->direct_off = p->no_direct_reads;
	lp->br_size = lp->nbufs * sizeof(struct io_uring_buf);
	lp->br = mmap(NULL, lp->br_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (lp->rxbufs == MAP_FAILED || lp->br == MAP_FAILED) {
		if (lp->rxbufs == MAP_FAILED)
			lp->rxbufs = NULL;
		if (lp->br == MAP_FAILED)
			lp->br = NULL;
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory for receive buffers");
		goto fail;
	}
	struct io_uring_buf_reg reg = {
		.ring_addr = (unsigned long)lp->br, .ring_entries = lp->nbufs, .bgid = RX_BGID,
	};
	r = io_uring_register_buf_ring(&lp->ring, &reg, 0);
	if (r < 0) {
		snprintf(err, errlen, "io_uring_register_buf_ring: %s (kernel 5.19 or later needed)",
			 strerror(-r));
		goto fail;
	}
	io_uring_buf_ring_init(lp->br);
	for (unsigned i = 0; i < lp->nbufs; i++)
		io_uring_buf_ring_add(lp->br, rxbuf(lp, i), (unsigned)lp->bufsize, (unsigned short)i,
				      io_uring_buf_ring_mask(lp->nbufs), (int)i);
	io_uring_buf_ring_advance(lp->br, (int)lp->nbufs);

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	lp->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (lp->sfd < 0) {
		r = -errno;
		snprintf(err, errlen, "signalfd: %s", strerror(-r));
		goto fail;
	}
	tap_attach_ring(p->tap, &lp->ring, UD(UD_TX, 0));
	if (p->psock) {
		struct psock_srv_watch w = { .arg = lp, .watch = ps_watch, .unwatch = ps_unwatch };
		psock_srv_set_watch(p->psock, &w);
		/* `tapsock ss` shows the processes that hold each connection */
		if (p->ipc)
			ipc_server_set_ss(p->ipc, psock_srv_format_ss, p->psock);
	}
	*out = lp;
	return 0;
fail:
	loop_free(lp);
	return r;
}

void loop_free(struct loop *lp)
{
	if (!lp)
		return;
	if (lp->ring_ok) {
		/* no write may complete into a freed pool: the TAP stops using the ring */
		tap_attach_ring(lp->p.tap, NULL, 0);
		io_uring_queue_exit(&lp->ring);
	}
	if (lp->sfd >= 0)
		close(lp->sfd);
	if (lp->rxbufs)
		munmap(lp->rxbufs, (lp->nbufs + 3) * lp->bufsize);
	if (lp->br)
		munmap(lp->br, lp->br_size);
	free(lp);
}
