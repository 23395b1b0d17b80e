/* poll.h - the readiness layer of the preload library: poll/select/epoll over tapsock and kernel fds (POSIX poll(), Linux epoll(7)).
 *
 * A tapsock socket's true readiness lives in shared memory (pl_sock_events); its
 * placeholder fd only becomes readable when the engine sends it a token, which it
 * does after pl_sock_arm() once the armed events are true. Every wait here has the
 * same shape: look at shared memory first; when nothing is ready, drain the tokens,
 * arm, look again (the engine may have changed things meanwhile), and only then
 * sleep in the kernel, on the placeholders (POLLIN) together with the program's
 * own kernel fds. So an idle program sleeps in the kernel and uses no CPU. */
#ifndef TSK_PRELOAD_POLL_H
#define TSK_PRELOAD_POLL_H

#include <poll.h>
#include <signal.h>
#include <time.h>

/* poll() over a mixed set. tmo NULL waits forever; sigmask as ppoll(). Returns the
 * number of entries with revents, 0 on timeout, -1 and errno on failure. */
int pl_poll_wait(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo,
		 const sigset_t *sigmask);

/* The program closes fd: forget it if it was an epoll instance (stale interest
 * lists must not outlive the fd number). Cheap when fd is not an epoll fd. */
void pl_epoll_forget(int fd);

/* Remaining time until an absolute CLOCK_MONOTONIC deadline (never negative). */
void pl_tmo_left(const struct timespec *deadline, struct timespec *left);
/* now + tmo */
void pl_tmo_deadline(const struct timespec *tmo, struct timespec *deadline);

#endif
