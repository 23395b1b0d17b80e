/* poll.c - poll(), ppoll() and their fortified variants over tapsock sockets and kernel fds (POSIX poll(), Linux poll(2)).
 *
 * A tapsock socket's readiness is in shared memory; its placeholder fd becomes
 * readable only when the engine sends a token to a registered waiter. The wait:
 *   1. compute the tapsock revents from shared memory; if any, or timeout 0, also
 *      poll the kernel fds with timeout 0 and return;
 *   2. drain the placeholders' tokens, arm every tapsock fd for what is asked,
 *      look again (the engine may have published between 1 and the arming);
 *   3. sleep in the real ppoll() on everything, placeholders asked for POLLIN;
 *   4. disarm, recompute the tapsock revents: a token that brought nothing we
 *      asked for means another round with the remaining time.
 * Tokens are drained just before sleeping, never on waking, so a token that woke
 * another thread or process waiting on the same socket stays visible to it.
 * Linux: poll() and ppoll() are never restarted after a signal handler (signal(7)),
 * they fail with EINTR: the real call's EINTR is passed through as is. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "preload/pl.h"
#include "preload/poll.h"

#define POLL_STACK 32
#define PL_EXPORT __attribute__((visibility("default")))

extern void __chk_fail(void) __attribute__((noreturn));

/* What we keep per pollfd while waiting. */
struct pent {
	struct pl_sock *s;  /* NULL: a kernel fd */
	short want;         /* the program's events */
	short ph;           /* the placeholder's revents from the last real poll */
	bool armed;
};

void pl_tmo_deadline(const struct timespec *tmo, struct timespec *deadline)
{
	clock_gettime(CLOCK_MONOTONIC, deadline);
	deadline->tv_sec += tmo->tv_sec;
	deadline->tv_nsec += tmo->tv_nsec;
	if (deadline->tv_nsec >= 1000000000L) {
		deadline->tv_sec++;
		deadline->tv_nsec -= 1000000000L;
	}
}

void pl_tmo_left(const struct timespec *deadline, struct timespec *left)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	left->tv_sec = deadline->tv_sec - now.tv_sec;
	left->tv_nsec = deadline->tv_nsec - now.tv_nsec;
	if (left->tv_nsec < 0) {
		left->tv_sec--;
		left->tv_nsec += 1000000000L;
	}
	if (left->tv_sec < 0)
		left->tv_sec = left->tv_nsec = 0;
}

static bool tmo_zero(const struct timespec *t)
{
	return t && t->tv_sec == 0 && t->tv_nsec == 0;
}

/* The socket's events as Linux's tcp_poll() reports them, RDNORM/WRNORM included;
 * a placeholder whose engine end is gone (POLLHUP/POLLERR from the kernel) is a
 * socket the engine can no more serve: DESIGN decision 8, blocked calls fail
 * instead of hanging, so it reads as reset (readable, writable, error, hangup). */
static unsigned tsk_events(struct pl_sock *s, short ph)
{
	unsigned ev;

	if (ph & (POLLHUP | POLLERR))
		atomic_store(&s->dead, true);
	ev = pl_sock_events(s);
	if (ev & POLLIN)
		ev |= POLLRDNORM;
	if (ev & POLLOUT)
		ev |= POLLWRNORM;
	return ev;
}

/* revents of the tapsock entries from shared memory; the number ready. As Linux:
 * revents = mask & (events | POLLERR | POLLHUP). */
static int scan_tsk(struct pollfd *fds, nfds_t nfds, struct pent *pe)
{
	int n = 0;

	for (nfds_t i = 0; i < nfds; i++) {
		if (!pe[i].s)
			continue;
		if (pe[i].ph & POLLNVAL) {  /* closed under our feet */
			fds[i].revents = POLLNVAL;
			n++;
			continue;
		}
		unsigned ev = tsk_events(pe[i].s, pe[i].ph);
		fds[i].revents = (short)(ev & ((unsigned short)pe[i].want | POLLERR | POLLHUP));
		if (fds[i].revents)
			n++;
	}
	return n;
}

/* Kernel entries with timeout 0 (tapsock entries hidden behind a negative fd,
 * which poll() ignores). Returns the number of kernel entries ready, or -1. */
static int poll_kernel_now(struct pollfd *fds, nfds_t nfds, struct pent *pe, nfds_t nkern)
{
	static const struct timespec zero = { 0, 0 };
	short saved[POLL_STACK];
	short *sv = nfds <= POLL_STACK ? saved : malloc(nfds * sizeof(*sv));
	int r;

	if (nkern == 0)
		return 0;
	if (!sv) {
		errno = ENOMEM;
		return -1;
	}
	for (nfds_t i = 0; i < nfds; i++) {
		if (pe[i].s) {
			sv[i] = fds[i].revents;
			fds[i].fd = ~fds[i].fd;
		}
	}
	r = real_ppoll(fds, nfds, &zero, NULL);
	int err = errno;
	for (nfds_t i = 0; i < nfds; i++) {
		if (pe[i].s) {
			fds[i].fd = ~fds[i].fd;
			fds[i].revents = sv[i];
		}
	}
	if (sv != saved)
		free(sv);
	errno = err;
	return r;
}

static void disarm_all(nfds_t nfds, struct pent *pe)
{
	for (nfds_t i = 0; i < nfds; i++) {
		if (pe[i].armed) {
			pl_sock_disarm(pe[i].s, (unsigned short)pe[i].want);
			pe[i].armed = false;
		}
	}
}

/* Adaptive polling (pl.h): one budget per thread, as a thread's poll loop is
 * what has a rhythm. */
static _Thread_local _Atomic uint32_t poll_spin_ns;

struct poll_spin { struct pollfd *fds; nfds_t nfds, nkern; struct pent *pe; int ret; };

static unsigned poll_spin_ready(void *arg)
{
	struct poll_spin *a = arg;
	int n = scan_tsk(a->fds, a->nfds, a->pe);

	if (n <= 0)
		return 0;
	int k = poll_kernel_now(a->fds, a->nfds, a->pe, a->nkern);
	a->ret = k < 0 ? k : n + k;
	return 1;
}

int pl_poll_wait(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo,
		 const sigset_t *sigmask)
{
	struct pent stack[POLL_STACK];
	struct pent *pe = stack;
	struct timespec deadline, left;
	nfds_t ntsk = 0, nkern = 0;
	int ret;

	if (nfds > POLL_STACK) {
		/* Linux: EINVAL when nfds exceeds RLIMIT_NOFILE; leave that to the kernel */
		if (nfds > (nfds_t)1 << 24)
			return real_ppoll(fds, nfds, tmo, sigmask);
		pe = calloc(nfds, sizeof(*pe));
		if (!pe) {
			errno = ENOMEM;
			return -1;
		}
	}
	for (nfds_t i = 0; i < nfds; i++) {
		pe[i] = (struct pent){ NULL, fds[i].events, 0, false };
		if (fds[i].fd >= 0 && (pe[i].s = pl_fd_get(fds[i].fd)))
			ntsk++;
		else if (fds[i].fd >= 0)
			nkern++;
	}
	if (ntsk == 0) {  /* nothing of ours: exactly the kernel's poll */
		ret = real_ppoll(fds, nfds, tmo, sigmask);
		goto out;
	}
	for (nfds_t i = 0; i < nfds; i++)
		if (fds[i].fd < 0)
			fds[i].revents = 0;
	if (tmo)
		pl_tmo_deadline(tmo, &deadline);

	for (bool zero = tmo_zero(tmo);;) {
		/* 1. ready already? */
		int n = scan_tsk(fds, nfds, pe);
		if (n > 0 || zero) {
			int k = poll_kernel_now(fds, nfds, pe, nkern);
			ret = k < 0 ? k : n + k;
			goto out;
		}
		/* 1b. spin briefly on the shared state (adaptive; only over tapsock
		 * sockets alone: kernel fds would need a system call per look, and
		 * a sigmask to apply must not wait for the spin) */
		if (nkern == 0 && !sigmask) {
			struct poll_spin sp = { fds, nfds, nkern, pe, 0 };

			if (pl_spin(&poll_spin_ns, poll_spin_ready, &sp)) {
				ret = sp.ret;
				goto out;
			}
		}
		uint64_t t0 = pl_spin_now();
		/* 2. drain, arm, look again: a publication between 1 and the arming
		 * found no waiter and sent no token, but is visible now */
		for (nfds_t i = 0; i < nfds; i++) {
			if (!pe[i].s)
				continue;
			pl_sock_drain(pe[i].s, fds[i].fd);
			pl_sock_arm(pe[i].s, (unsigned short)pe[i].want);
			pe[i].armed = true;
		}
		n = scan_tsk(fds, nfds, pe);
		if (n > 0) {
			disarm_all(nfds, pe);
			int k = poll_kernel_now(fds, nfds, pe, nkern);
			ret = k < 0 ? k : n + k;
			goto out;
		}
		/* 3. sleep in the kernel on everything */
		/* a dead socket's placeholder reads EOF for ever: not slept on (a
		 * dead listener that reported its error is never ready again) */
		for (nfds_t i = 0; i < nfds; i++)
			if (pe[i].s) {
				fds[i].events = POLLIN;
				if (pl_sock_is_dead(pe[i].s))
					fds[i].fd = ~fds[i].fd;
			}
		if (tmo)
			pl_tmo_left(&deadline, &left);
		int r = real_ppoll(fds, nfds, tmo ? &left : NULL, sigmask);
		int err = errno;
		int k = 0;
		for (nfds_t i = 0; i < nfds; i++) {
			if (pe[i].s) {
				if (fds[i].fd < 0)
					fds[i].fd = ~fds[i].fd;
				fds[i].events = pe[i].want;
				pe[i].ph = fds[i].revents;
				fds[i].revents = 0;
			} else if (fds[i].revents) {
				k++;
			}
		}
		disarm_all(nfds, pe);
		if (r > 0)
			pl_spin_slept(&poll_spin_ns, t0);
		if (r < 0) {
			for (nfds_t i = 0; i < nfds; i++)
				fds[i].revents = 0;
			errno = err;
			ret = -1;
			goto out;
		}
		/* 4. what the tokens brought */
		n = scan_tsk(fds, nfds, pe);
		if (n + k > 0 || r == 0) {
			ret = n + k;
			goto out;
		}
		if (tmo) {
			pl_tmo_left(&deadline, &left);
			zero = tmo_zero(&left);
		}
	}
out:
	for (nfds_t i = 0; i < nfds; i++)
		if (pe[i].s)
			pl_sock_put(pe[i].s);
	if (pe != stack)
		free(pe);
	return ret;
}

static struct timespec ms_to_ts(int ms)
{
	return (struct timespec){ ms / 1000, (long)(ms % 1000) * 1000000L };
}

PL_EXPORT int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	struct timespec ts = ms_to_ts(timeout);

	return pl_poll_wait(fds, nfds, timeout < 0 ? NULL : &ts, NULL);
}

static int ppoll_checked(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo,
			 const sigset_t *sigmask)
{
	if (tmo && (tmo->tv_sec < 0 || tmo->tv_nsec < 0 || tmo->tv_nsec >= 1000000000L)) {
		errno = EINVAL;
		return -1;
	}
	return pl_poll_wait(fds, nfds, tmo, sigmask);
}

PL_EXPORT int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo,
		    const sigset_t *sigmask)
{
	return ppoll_checked(fds, nfds, tmo, sigmask);
}

/* glibc's fortified poll: abort when the array is shorter than nfds says. */
PL_EXPORT int __poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen);
PL_EXPORT int __poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < nfds)
		__chk_fail();
	struct timespec ts = ms_to_ts(timeout);

	return pl_poll_wait(fds, nfds, timeout < 0 ? NULL : &ts, NULL);
}

PL_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo,
			  const sigset_t *sigmask, size_t fdslen);
PL_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo,
			  const sigset_t *sigmask, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < nfds)
		__chk_fail();
	return ppoll_checked(fds, nfds, tmo, sigmask);
}
