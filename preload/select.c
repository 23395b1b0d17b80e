/* select.c - select(), pselect() and __fdelt_chk over tapsock sockets and kernel fds (POSIX select(), Linux select(2)).
 *
 * When no fd of the sets is a tapsock socket, the real call runs untouched. Else
 * the sets become a pollfd array for pl_poll_wait() (poll.c), with Linux's own
 * mapping (fs/select.c): readable = POLLIN|POLLRDNORM|POLLRDBAND|POLLHUP|POLLERR,
 * writable = POLLOUT|POLLWRNORM|POLLWRBAND|POLLERR, exceptional = POLLPRI; an fd
 * that is not open fails the whole call with EBADF. Linux's select() writes the
 * time not slept back into *timeout; pselect() does not (glibc passes a copy). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/select.h>
#include <sys/time.h>

#include "preload/pl.h"
#include "preload/poll.h"

#define PL_EXPORT __attribute__((visibility("default")))

extern void __chk_fail(void) __attribute__((noreturn));

#define SEL_IN  (POLLIN | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR)
#define SEL_OUT (POLLOUT | POLLWRNORM | POLLWRBAND | POLLERR)
#define SEL_EX  POLLPRI

static bool any_ours(int nfds, fd_set *r, fd_set *w, fd_set *e)
{
	for (int fd = 0; fd < nfds; fd++)
		if (((r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w)) || (e && FD_ISSET(fd, e))) &&
		    pl_fd_is_sock(fd))
			return true;
	return false;
}

/* Returns the number of bits set (as select), 0 on timeout, -1 and errno. */
static int select_wait(int nfds, fd_set *r, fd_set *w, fd_set *e,
		       const struct timespec *tmo, const sigset_t *sigmask)
{
	struct pollfd pfd[FD_SETSIZE];
	int n = 0, ret;

	for (int fd = 0; fd < nfds; fd++) {
		short ev = 0;
		if (r && FD_ISSET(fd, r))
			ev |= POLLIN | POLLRDNORM | POLLRDBAND;
		if (w && FD_ISSET(fd, w))
			ev |= POLLOUT | POLLWRNORM | POLLWRBAND;
		if (e && FD_ISSET(fd, e))
			ev |= POLLPRI;
		if (ev)
			pfd[n++] = (struct pollfd){ .fd = fd, .events = ev };
	}
	ret = pl_poll_wait(pfd, (nfds_t)n, tmo, sigmask);
	if (ret < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		if (pfd[i].revents & POLLNVAL) {
			errno = EBADF;
			return -1;
		}
	}
	/* the sets are only written on success, as Linux */
	if (r)
		FD_ZERO(r);
	if (w)
		FD_ZERO(w);
	if (e)
		FD_ZERO(e);
	ret = 0;
	for (int i = 0; i < n; i++) {
		short rv = pfd[i].revents, ev = pfd[i].events;
		if ((ev & POLLIN) && (rv & SEL_IN)) {
			FD_SET(pfd[i].fd, r);
			ret++;
		}
		if ((ev & POLLOUT) && (rv & SEL_OUT)) {
			FD_SET(pfd[i].fd, w);
			ret++;
		}
		if ((ev & POLLPRI) && (rv & SEL_EX)) {
			FD_SET(pfd[i].fd, e);
			ret++;
		}
	}
	return ret;
}

PL_EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	struct timespec ts, deadline, left;
	int ret;

	pl_real_init();
	if (nfds < 0 || nfds > FD_SETSIZE || !any_ours(nfds, r, w, e))
		return real_select(nfds, r, w, e, tv);
	if (tv) {
		if (tv->tv_sec < 0 || tv->tv_usec < 0) {
			errno = EINVAL;
			return -1;
		}
		/* Linux normalises an over-long tv_usec rather than refusing it */
		ts.tv_sec = tv->tv_sec + tv->tv_usec / 1000000;
		ts.tv_nsec = (tv->tv_usec % 1000000) * 1000L;
		pl_tmo_deadline(&ts, &deadline);
	}
	ret = select_wait(nfds, r, w, e, tv ? &ts : NULL, NULL);
	if (tv) {
		int err = errno;
		pl_tmo_left(&deadline, &left);
		tv->tv_sec = left.tv_sec;
		tv->tv_usec = left.tv_nsec / 1000;
		errno = err;
	}
	return ret;
}

PL_EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e,
		      const struct timespec *tmo, const sigset_t *sigmask)
{
	pl_real_init();
	if (nfds < 0 || nfds > FD_SETSIZE || !any_ours(nfds, r, w, e))
		return real_pselect(nfds, r, w, e, tmo, sigmask);
	if (tmo && (tmo->tv_sec < 0 || tmo->tv_nsec < 0 || tmo->tv_nsec >= 1000000000L)) {
		errno = EINVAL;
		return -1;
	}
	return select_wait(nfds, r, w, e, tmo, sigmask);
}

/* FD_SET/FD_CLR/FD_ISSET of a fortified program: the word index of fd, aborting
 * (as glibc) when fd is outside an fd_set. Here so that a program fortified
 * against our library's own select keeps glibc's check. */
PL_EXPORT long int __fdelt_chk(long int d);
PL_EXPORT long int __fdelt_chk(long int d)
{
	if (d < 0 || d >= FD_SETSIZE)
		__chk_fail();
	return d / __NFDBITS;
}
