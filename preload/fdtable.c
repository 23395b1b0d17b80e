/* fdtable.c - fd -> tapsock socket table, socket objects, readiness and waiting (DESIGN decisions 5, 6; psock.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/spin.h"
#include "preload/pl_int.h"

/* The kernel's fs.nr_open default: fds never go beyond. The table is reserved, not
 * committed: pages appear only where fds are used. */
#define PL_MAX_FDS (1 << 20)

static _Atomic(struct pl_sock *) *table;
static atomic_flag table_once_lock = ATOMIC_FLAG_INIT;
static atomic_bool table_ready;

/* Structures are never given back to malloc: a racing pl_fd_get() may still touch
 * one (type-stable memory); the reference count says whether it is live. */
static struct pl_sock *free_list;
static atomic_flag free_lock = ATOMIC_FLAG_INIT;

static void spin_lock(atomic_flag *f)
{
	while (atomic_flag_test_and_set_explicit(f, memory_order_acquire))
		sched_yield();
}
static void spin_unlock(atomic_flag *f) { atomic_flag_clear_explicit(f, memory_order_release); }

static bool table_init(void)
{
	if (atomic_load_explicit(&table_ready, memory_order_acquire))
		return true;
	spin_lock(&table_once_lock);
	if (!table) {
		void *p = mmap(NULL, sizeof(*table) * PL_MAX_FDS, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p != MAP_FAILED) {
			table = p;
			atomic_store_explicit(&table_ready, true, memory_order_release);
		}
	}
	spin_unlock(&table_once_lock);
	return table != NULL;
}

struct pl_sock *pl_fd_get(int fd)
{
	struct pl_sock *s;

	if (fd < 0 || fd >= PL_MAX_FDS || !atomic_load_explicit(&table_ready, memory_order_acquire))
		return NULL;
	for (;;) {
		int r;

		s = atomic_load_explicit(&table[fd], memory_order_acquire);
		if (!s)
			return NULL;
		/* take a reference only while it is live (never from 0) */
		r = atomic_load(&s->refs);
		while (r > 0 && !atomic_compare_exchange_weak(&s->refs, &r, r + 1))
			;
		if (r <= 0)
			continue;
		if (atomic_load(&table[fd]) == s)
			return s;
		pl_sock_put(s);
	}
}

bool pl_fd_is_sock(int fd)
{
	return fd >= 0 && fd < PL_MAX_FDS && atomic_load_explicit(&table_ready, memory_order_acquire) &&
	       atomic_load_explicit(&table[fd], memory_order_relaxed) != NULL;
}

int pl__fd_set(int fd, struct pl_sock *s)
{
	struct pl_sock *old;

	if (fd < 0 || fd >= PL_MAX_FDS || !table_init())
		return -EMFILE;
	atomic_fetch_add(&s->refs, 1);
	old = atomic_exchange(&table[fd], s);
	if (old)
		pl_sock_put(old);
	return 0;
}

struct pl_sock *pl__fd_take(int fd)
{
	if (fd < 0 || fd >= PL_MAX_FDS || !atomic_load_explicit(&table_ready, memory_order_acquire))
		return NULL;
	return atomic_exchange(&table[fd], NULL);
}

struct pl_sock *pl__sock_new(void *shm, size_t size)
{
	struct pl_sock *s;

	spin_lock(&free_lock);
	s = free_list;
	if (s)
		free_list = s->free_next;
	spin_unlock(&free_lock);
	if (!s && !(s = calloc(1, sizeof(*s))))
		return NULL;
	s->shm = shm;
	s->shm_size = size;
	s->rx = (uint8_t *)shm + s->shm->rx_off;
	s->tx = (uint8_t *)shm + s->shm->tx_off;
	s->domain = s->shm->domain;
	atomic_store(&s->dead, false);
	atomic_store(&s->dead_told, false);
	atomic_store(&s->spin_ns, 0);
	atomic_store(&s->keep_fd, -1);
	atomic_store(&s->accq_n, 0);
	s->accq = NULL;
	atomic_store(&s->push_armed, false);
	s->push_forks = 0;
	s->free_next = NULL;
	atomic_store(&s->refs, 1);
	return s;
}

void pl_sock_put(struct pl_sock *s)
{
	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	if (s->accq)
		pl__accq_drop(s);
	munmap(s->shm, s->shm_size);
	s->shm = NULL;
	/* unmapped first, then the engine may see the last close (psock.h "Reuse") */
	int k = atomic_exchange(&s->keep_fd, -1);
	if (k >= 0)
		real_close(k);
	spin_lock(&free_lock);
	s->free_next = free_list;
	free_list = s;
	spin_unlock(&free_lock);
}

void pl__sock_keep(struct pl_sock *s, int fd)
{
	struct rlimit rl;
	int lo = 1024, k;

	/* out of the way of the program's fd numbers, as the engine connection */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur <= lo + 16)
		lo = rl.rlim_cur > 64 ? (int)rl.rlim_cur - 32 : 3;
	k = real_fcntl(fd, F_DUPFD_CLOEXEC, lo);
	if (k < 0)
		k = real_fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (k >= 0 && (k = atomic_exchange(&s->keep_fd, k)) >= 0)
		real_close(k);   /* one copy is enough */
}

/* Ring users of one socket (threads, processes) take turns: the rings are single
 * producer, single consumer. Held only for a copy. */
void pl__sock_lock(struct pl_sock *s)
{
	uint32_t z;

	for (unsigned i = 0;; i++) {
		z = 0;
		if (atomic_compare_exchange_weak(&s->shm->lock, &z, 1))
			return;
		if (i > 64)
			sched_yield();
	}
}

void pl__sock_unlock(struct pl_sock *s) { atomic_store(&s->shm->lock, 0); }

unsigned pl_sock_events(struct pl_sock *s)
{
	struct psock_shm *sh = s->shm;
	unsigned r, st;

	if (atomic_load(&s->dead)) {
		if ((atomic_load(&sh->state) & PSOCK_ST_LISTEN) && atomic_load(&s->dead_told))
			return 0;
		return POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM | POLLERR | POLLHUP;
	}
	if (atomic_load(&sh->v6_listen))
		return 0;   /* an IPv6-only listener: never a connection (psock.h) */
	r = atomic_load(&sh->ev) & (POLLIN | POLLOUT | POLLHUP | POLLRDHUP);
	st = atomic_load(&sh->state);
	if (atomic_load_explicit(&s->accq_n, memory_order_relaxed))
		r |= POLLIN;   /* connections the last accept() took and keeps */
	if (atomic_load_explicit(&s->push_armed, memory_order_relaxed) &&
	    (int32_t)(atomic_load(&sh->push_head) - atomic_load(&sh->push_tail)) > 0)
		r |= POLLIN;   /* one pushed to us, in our control connection */
	if (psock_ring_used(&sh->rx))
		r |= POLLIN;
	if ((st & PSOCK_ST_SENDABLE) && psock_tx_writable(sh))
		r |= POLLOUT;
	if (atomic_load(&sh->so_error))
		r |= POLLERR;
	if (r & POLLIN)
		r |= POLLRDNORM;
	if (r & POLLOUT)
		r |= POLLWRNORM;
	return r;
}

static void arm_bits(unsigned events, bool *in, bool *out)
{
	*out = events & (POLLOUT | POLLWRNORM | POLLWRBAND);
	*in = (events & (POLLIN | POLLRDNORM | POLLRDBAND | POLLPRI | POLLRDHUP)) || !*out;
}

void pl_sock_arm(struct pl_sock *s, unsigned events)
{
	bool in, out;

	arm_bits(events, &in, &out);
	if (in)
		atomic_fetch_add(&s->shm->wait_in, 1);
	if (out)
		atomic_fetch_add(&s->shm->wait_out, 1);
}

void pl_sock_disarm(struct pl_sock *s, unsigned events)
{
	bool in, out;

	arm_bits(events, &in, &out);
	if (in)
		atomic_fetch_sub(&s->shm->wait_in, 1);
	if (out)
		atomic_fetch_sub(&s->shm->wait_out, 1);
}

/* Tokens read by one recvmmsg: one is the rule (psock.h: one in flight), a few
 * more come only when drainers race. */
#define DRAIN_BATCH 4

/* The engine's CPU as the last drained token's socket said (psock.h eng_cpu). */
static _Atomic uint32_t eng_cpu;

int pl_sock_drain(struct pl_sock *s, int fd)
{
	char buf[DRAIN_BATCH];
	struct iovec iov[DRAIN_BATCH];
	struct mmsghdr mm[DRAIN_BATCH];
	int n = 0;

	for (int i = 0; i < DRAIN_BATCH; i++) {
		iov[i] = (struct iovec){ &buf[i], 1 };
		mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	/* One system call for the usual single token: recvmmsg stops at the first
	 * EAGAIN after a message (a second recv() only to hear EAGAIN was a tenth
	 * of the program's system calls per request/response exchange). */
	for (;;) {
		int r = real_recvmmsg(fd, mm, DRAIN_BATCH, MSG_DONTWAIT, NULL), k;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			break;
		}
		for (k = 0; k < r && mm[k].msg_len > 0; k++)
			n++;
		if (k < r) {
			/* EOF on the placeholder (a message of 0 bytes): the engine is gone */
			atomic_store(&s->dead, true);
			break;
		}
		if (r < DRAIN_BATCH)
			break;
	}
	/* drained first, then allow the next token (psock.h) */
	atomic_store(&s->shm->tok_pending, 0);
	psock_cpu_note(&eng_cpu, atomic_load_explicit(&s->shm->eng_cpu, memory_order_relaxed));
	if (n > 0) {
		/* Was it another sleeper's? The kernel woke at most one thread asleep in
		 * recv() on the placeholder, maybe not the one whose condition holds,
		 * and maybe none (we drained it before the woken one looked): when a
		 * blocked sleeper may want what is ready now, the doorbell makes the
		 * engine publish again, with a token (psock.h blk_in/blk_out). */
		unsigned ev = pl_sock_events(s);
		if ((atomic_load(&s->shm->blk_in) && (ev & (POLLIN | POLLERR | POLLHUP | POLLRDHUP))) ||
		    (atomic_load(&s->shm->blk_out) && (ev & (POLLOUT | POLLERR | POLLHUP))))
			pl__doorbell(fd);
	}
	return n;
}

int pl__wait_token(struct pl_sock *s, int fd, unsigned events)
{
	_Atomic uint32_t *blk = (events & POLLOUT) ? &s->shm->blk_out : &s->shm->blk_in;
	char c;
	ssize_t r;

	atomic_fetch_add(blk, 1);
	/* Counted, then look again before sleeping: a thread that drained the
	 * token we needed just before our count was visible did not ring for us
	 * (pl_sock_drain reads blk_* after draining), but what that token
	 * announced is visible now (the Dekker pattern of psock.h, with blk_* as
	 * the flag). Without this look, the kernel's wake-one leaves us asleep
	 * with our condition true and no token coming. */
	if (pl_sock_events(s) & (events | POLLERR | POLLHUP)) {
		atomic_fetch_sub(blk, 1);
		return 0;
	}
	r = real_recv(fd, &c, 1, MSG_PEEK);
	atomic_fetch_sub(blk, 1);
	if (r == 0) {
		atomic_store(&s->dead, true);
		return 0;
	}
	if (r < 0)
		return -errno;
	pl_sock_drain(s, fd);
	return 0;
}

void pl__note_cpu(struct psock_shm *sh)
{
	psock_cpu_note(&sh->app_cpu, psock_cpu_now());
}

void pl__doorbell(int fd)
{
	char d = PSOCK_MSG_DOORBELL;

	/* a full placeholder means doorbells are queued already */
	real_send(fd, &d, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- adaptive polling (pl.h) ---- */

uint32_t pl_spin_max_ns = PL_SPIN_US_DEFAULT * 1000u;
bool pl_spin_auto = true;

/* Spinning may pay: TAPSOCK_SPIN_US said so, or the engine runs on another CPU
 * than this thread (sched_getcpu reads the rseq area: no system call). */
static bool spin_allowed(void)
{
	uint32_t e, c;

	if (!pl_spin_auto)
		return true;
	e = atomic_load_explicit(&eng_cpu, memory_order_relaxed);
	c = psock_cpu_now();
	return e && c && e != c;
}

uint64_t pl_spin_now(void) { return mono_ns(); }

/* The budget's rules are base/spin.h's, shared with the engine's loop; a budget
 * that does not change is not stored (other threads read its cache line). */
static void spin_store(_Atomic uint32_t *budget, uint32_t old, uint32_t b)
{
	if (b != old)
		atomic_store_explicit(budget, b, memory_order_relaxed);
}

unsigned pl_spin(_Atomic uint32_t *budget, unsigned (*ready)(void *), void *arg)
{
	uint32_t b = atomic_load_explicit(budget, memory_order_relaxed);
	uint64_t waited;
	unsigned r;

	if (!b || !pl_spin_max_ns || !spin_allowed())
		return 0;
	if ((r = spin_poll(b, ready, arg, mono_ns, &waited))) {
		spin_store(budget, b, spin_after_hit(b, waited, pl_spin_max_ns));
		return r;
	}
	spin_store(budget, b, spin_after_miss(b));
	return 0;
}

void pl_spin_slept(_Atomic uint32_t *budget, uint64_t t0)
{
	uint32_t b;

	if (!pl_spin_max_ns || !spin_allowed())
		return;
	b = atomic_load_explicit(budget, memory_order_relaxed);
	spin_store(budget, b, spin_after_sleep(b, mono_ns() - t0, pl_spin_max_ns));
}

struct spin_sock { struct pl_sock *s; unsigned want; };

static unsigned spin_sock_ready(void *arg)
{
	struct spin_sock *a = arg;

	return pl_sock_events(a->s) & a->want;
}

unsigned pl_sock_spin(struct pl_sock *s, unsigned want)
{
	struct spin_sock a = { s, want };

	return pl_spin(&s->spin_ns, spin_sock_ready, &a);
}

int pl_sock_wait(struct pl_sock *s, int fd, unsigned events, int64_t timeout_ns)
{
	uint64_t deadline = timeout_ns >= 0 ? mono_ns() + (uint64_t)timeout_ns : 0;
	unsigned want = events | POLLERR | POLLHUP;

	for (;;) {
		unsigned r = pl_sock_events(s) & want;
		uint64_t t0;
		int n;

		if (r)
			return (int)r;
		/* spin briefly before the engine is asked for a token (adaptive) */
		if ((r = pl_sock_spin(s, want)))
			return (int)r;
		t0 = mono_ns();
		pl_sock_arm(s, events);
		r = pl_sock_events(s) & want;
		if (r) {
			pl_sock_disarm(s, events);
			return (int)r;
		}
		if (timeout_ns < 0) {
			n = pl__wait_token(s, fd, events);
			pl_sock_disarm(s, events);
			pl_spin_slept(&s->spin_ns, t0);
			if (n == -EINTR)
				return -EINTR;
			if (n == -EAGAIN && timeout_ns == PL_WAIT_RCVTIMEO)
				return -EAGAIN;
			/* -EAGAIN: the placeholder's SO_RCVTIMEO (a receive timeout) ran
			 * out while waiting for something else: wait on */
			continue;
		}
		uint64_t now = mono_ns();
		if (now >= deadline) {
			pl_sock_disarm(s, events);
			return -EAGAIN;
		}
		struct timespec ts = { (time_t)((deadline - now) / 1000000000ull),
				       (long)((deadline - now) % 1000000000ull) };
		struct pollfd p = { .fd = fd, .events = POLLIN };
		n = real_ppoll(&p, 1, &ts, NULL);
		int e = errno;
		pl_sock_disarm(s, events);
		if (n > 0)
			pl_spin_slept(&s->spin_ns, t0);
		if (n > 0)
			pl_sock_drain(s, fd);
		if (n < 0 && e == EINTR)
			return -EINTR;
	}
}
