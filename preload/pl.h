/* pl.h - the preload library's internal API: real libc functions, the fd table, socket readiness and wake-ups (DESIGN decisions 5, 6, 7; protocol in engine/ipc/psock.h).
 *
 * Everything here is hidden (-fvisibility=hidden): only the interposed libc names
 * leave the library (exports.map). Inside the library never call an interposed
 * name directly (socket, close, read, poll, epoll_wait ...): call the real_*
 * pointers, or the pl_* functions, or you call yourself.
 *
 * How poll/select/epoll use this (the waiting pattern):
 *     s = pl_fd_get(fd)          NULL: not ours, a kernel fd: use the kernel
 *     ev = pl_sock_events(s)     readiness now, from shared memory
 *     if nothing wanted is ready:
 *         pl_sock_arm(s, want)   the engine will send a token when `want` may be true
 *         ev = pl_sock_events(s) look again (it may have become true meanwhile)
 *         sleep in the kernel with the placeholder fd in the set for POLLIN
 *         pl_sock_drain(s, fd)   when the placeholder was readable (clears the token)
 *         pl_sock_disarm(s, want)
 *     pl_sock_put(s)
 * An armed socket gets at most one token in flight; a token is drained before the
 * caller looks again, so a kernel poll never spins on a stale token. Arming is a
 * count (several waiters, threads or processes, may arm the same socket): every
 * pl_sock_arm() needs its pl_sock_disarm(). An epoll set may keep a socket armed as
 * long as the socket is in the set. */
#ifndef TSK_PRELOAD_PL_H
#define TSK_PRELOAD_PL_H

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "ipc/psock.h"

#define PL_HIDDEN __attribute__((visibility("hidden")))

/* ---- the real libc functions (resolved once with dlsym(RTLD_NEXT), thread-safe) ---- */

#define PL_REAL_FUNCS(X) \
	X(int, socket, (int, int, int)) \
	X(int, socketpair, (int, int, int, int *)) \
	X(int, bind, (int, const struct sockaddr *, socklen_t)) \
	X(int, listen, (int, int)) \
	X(int, accept, (int, struct sockaddr *, socklen_t *)) \
	X(int, accept4, (int, struct sockaddr *, socklen_t *, int)) \
	X(int, connect, (int, const struct sockaddr *, socklen_t)) \
	X(int, shutdown, (int, int)) \
	X(int, close, (int)) \
	X(ssize_t, read, (int, void *, size_t)) \
	X(ssize_t, write, (int, const void *, size_t)) \
	X(ssize_t, readv, (int, const struct iovec *, int)) \
	X(ssize_t, writev, (int, const struct iovec *, int)) \
	X(ssize_t, pread, (int, void *, size_t, off_t)) \
	X(ssize_t, pwrite, (int, const void *, size_t, off_t)) \
	X(ssize_t, pread64, (int, void *, size_t, off_t)) \
	X(ssize_t, pwrite64, (int, const void *, size_t, off_t)) \
	X(ssize_t, send, (int, const void *, size_t, int)) \
	X(ssize_t, sendto, (int, const void *, size_t, int, const struct sockaddr *, socklen_t)) \
	X(ssize_t, sendmsg, (int, const struct msghdr *, int)) \
	X(int, sendmmsg, (int, struct mmsghdr *, unsigned, int)) \
	X(ssize_t, recv, (int, void *, size_t, int)) \
	X(ssize_t, recvfrom, (int, void *, size_t, int, struct sockaddr *, socklen_t *)) \
	X(ssize_t, recvmsg, (int, struct msghdr *, int)) \
	X(int, recvmmsg, (int, struct mmsghdr *, unsigned, int, struct timespec *)) \
	X(ssize_t, sendfile, (int, int, off_t *, size_t)) \
	X(ssize_t, sendfile64, (int, int, off_t *, size_t)) \
	X(int, getsockname, (int, struct sockaddr *, socklen_t *)) \
	X(int, getpeername, (int, struct sockaddr *, socklen_t *)) \
	X(int, setsockopt, (int, int, int, const void *, socklen_t)) \
	X(int, getsockopt, (int, int, int, void *, socklen_t *)) \
	X(int, fcntl, (int, int, ...)) \
	X(int, fcntl64, (int, int, ...)) \
	X(int, ioctl, (int, unsigned long, ...)) \
	X(int, dup, (int)) \
	X(int, dup2, (int, int)) \
	X(int, dup3, (int, int, int)) \
	X(pid_t, fork, (void)) \
	X(pid_t, vfork, (void)) \
	X(int, execve, (const char *, char *const[], char *const[])) \
	X(int, execvpe, (const char *, char *const[], char *const[])) \
	X(int, fexecve, (int, char *const[], char *const[])) \
	X(int, posix_spawn, (pid_t *, const char *, const posix_spawn_file_actions_t *, \
			     const posix_spawnattr_t *, char *const[], char *const[])) \
	X(int, posix_spawnp, (pid_t *, const char *, const posix_spawn_file_actions_t *, \
			      const posix_spawnattr_t *, char *const[], char *const[])) \
	X(int, poll, (struct pollfd *, nfds_t, int)) \
	X(int, ppoll, (struct pollfd *, nfds_t, const struct timespec *, const sigset_t *)) \
	X(int, select, (int, fd_set *, fd_set *, fd_set *, struct timeval *)) \
	X(int, pselect, (int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *)) \
	X(int, epoll_create, (int)) \
	X(int, epoll_create1, (int)) \
	X(int, epoll_ctl, (int, int, int, struct epoll_event *)) \
	X(int, epoll_wait, (int, struct epoll_event *, int, int)) \
	X(int, epoll_pwait, (int, struct epoll_event *, int, int, const sigset_t *)) \
	X(int, epoll_pwait2, (int, struct epoll_event *, int, const struct timespec *, const sigset_t *))

#define PL_REAL_DECL(ret, name, args) extern PL_HIDDEN ret (*real_##name) args;
PL_REAL_FUNCS(PL_REAL_DECL)
#undef PL_REAL_DECL

/* Resolve the real_* pointers (idempotent, thread-safe; the library's constructor
 * calls it, call it again wherever code may run before the constructor). A pointer
 * libc lacks (epoll_pwait2 on an old glibc) stays NULL. */
PL_HIDDEN void pl_real_init(void);

/* ---- tapsock sockets and the fd table ---- */

struct pl_sock {
	atomic_int refs;            /* fd table entries + pl_fd_get() holders; 0 = free */
	struct psock_shm *shm;      /* the shared memory (psock.h) */
	size_t shm_size;
	uint8_t *rx, *tx;           /* ring data */
	int domain;                 /* AF_INET or AF_INET6 */
	atomic_bool dead;           /* the engine is gone (placeholder EOF): calls fail */
	atomic_bool dead_told;      /* a dead listener's accept reported it (ECONNABORTED):
				       from then on it is never ready (no spinning) */
	struct pl_sock *free_next;  /* free list (structures are never returned to malloc) */
	_Atomic uint32_t spin_ns;   /* adaptive spin budget before a blocking wait (pl_spin) */
	atomic_int keep_fd;         /* a copy of the placeholder held until the memory is
				       unmapped (pl__sock_keep), -1: none */
	/* A listener's connections taken from the engine in one PSOCK_ACCEPT that no
	 * accept() returned yet (sock.c; psock.h PSOCK_ACCEPT_MAX): accq_n of them,
	 * POLLIN while there are any. */
	atomic_uint accq_n;
	struct pl_accq *accq;       /* NULL until a batch brought more than one */
	/* The engine pushes this listener's connections to this process (psock.h
	 * PSOCK_ACCEPT_PUSH): POLLIN also while push_head != push_tail. Only a
	 * socket this process made with socket() and held alone since (no fork:
	 * push_forks is the fork count then + 1; 0: made elsewhere) is armed. */
	atomic_bool push_armed;
	uint32_t push_forks;
};

/* The tapsock socket behind fd, with a reference (pl_sock_put() it), or NULL when
 * fd is anything else (kernel socket, file, pipe, epoll...). Lock-free; O(1). */
PL_HIDDEN struct pl_sock *pl_fd_get(int fd);
PL_HIDDEN void pl_sock_put(struct pl_sock *s);
/* Is fd ours (without taking a reference)? */
PL_HIDDEN bool pl_fd_is_sock(int fd);

/* Readiness now, as Linux's tcp_poll() would say it: POLLIN, POLLOUT, POLLERR,
 * POLLHUP, POLLRDHUP (and POLLRDNORM/POLLWRNORM alongside POLLIN/POLLOUT). A socket
 * whose engine died reports POLLIN|POLLOUT|POLLERR|POLLHUP, except a listener
 * whose accept() already failed for it (dead_told): nothing, ever, so that an
 * event loop neither spins on it nor misses the error. A waiter must not sleep on
 * the placeholder of a dead socket (it reads EOF for ever): see pl_sock_is_dead. */
PL_HIDDEN unsigned pl_sock_events(struct pl_sock *s);
static inline bool pl_sock_is_dead(struct pl_sock *s) { return atomic_load(&s->dead); }
/* Ask the engine for a token on the placeholder when any of `events` may have
 * become true (POLLIN-like: POLLIN, POLLRDHUP; POLLOUT; errors and hang-ups always
 * wake). Counted: pair it with pl_sock_disarm() with the same events. */
PL_HIDDEN void pl_sock_arm(struct pl_sock *s, unsigned events);
PL_HIDDEN void pl_sock_disarm(struct pl_sock *s, unsigned events);
/* Read every token waiting on the placeholder fd (non-blocking) and let the engine
 * send the next one. Marks the socket dead when the placeholder reads EOF. Returns
 * the number of tokens drained, or -errno. */
PL_HIDDEN int pl_sock_drain(struct pl_sock *s, int fd);

/* Block until pl_sock_events(s) has one of `events` (or POLLERR/POLLHUP), the
 * timeout (ns, < 0 forever) passes (-EAGAIN) or a signal comes (-EINTR). Returns the
 * events. Used by the blocking socket calls. */
PL_HIDDEN int pl_sock_wait(struct pl_sock *s, int fd, unsigned events, int64_t timeout_ns);

/* Adaptive polling (issue 6; DESIGN field notes: a wake-up across the CPUs costs
 * about 20 us each way). Before a blocking wait sleeps in the kernel, it re-reads
 * the shared state for up to a budget of nanoseconds; the budget adapts as KVM's
 * halt-polling does: a wait that ended by itself soon after the sleep began makes
 * it grow, a spin that ran out shrinks it (to 0 after a few), so an idle program
 * or a long wait never spins. Capped by TAPSOCK_SPIN_US (default below; 0: never
 * spin). `budget` is a per-socket (struct pl_sock.spin_ns) or per-thread word. */
/* Without TAPSOCK_SPIN_US the cap is PL_SPIN_US_DEFAULT, and a wait spins only
 * while the engine runs on another CPU than the caller (psock.h eng_cpu, as the
 * last token's socket said): on 2 CPUs a program that shares the engine's CPU
 * and spins holds the engine off (rr 64 B p50 37-45 us against 31-33 us,
 * docs/bench.md), one on a CPU of its own takes the next request without a
 * wake-up of its CPU. TAPSOCK_SPIN_US spins wherever the engine runs. */
#define PL_SPIN_US_DEFAULT 50
PL_HIDDEN extern uint32_t pl_spin_max_ns;   /* 0: spinning off */
PL_HIDDEN extern bool pl_spin_auto;         /* no TAPSOCK_SPIN_US: only apart from the engine */
/* Spin until pl_sock_events(s) & want or the budget passes: the events, or 0
 * (the caller then arms and sleeps, then calls pl_spin_slept). */
PL_HIDDEN unsigned pl_sock_spin(struct pl_sock *s, unsigned want);
/* The same over a caller's condition: ready(arg) non-zero ends the spin. */
PL_HIDDEN unsigned pl_spin(_Atomic uint32_t *budget, unsigned (*ready)(void *), void *arg);
/* Monotonic ns, and the adaptation after a sleep that began at t0 (pl_spin_now()). */
PL_HIDDEN uint64_t pl_spin_now(void);
PL_HIDDEN void pl_spin_slept(_Atomic uint32_t *budget, uint64_t t0);

/* Debug/diagnostic output to stderr (always for errors, TAPSOCK_DEBUG=1 for more). */
PL_HIDDEN void pl_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
PL_HIDDEN extern int pl_debug;

/* ---- provided by poll.c / epoll.c (weak: the library works without them) ---- */
PL_HIDDEN void pl_epoll_forget(int fd) __attribute__((weak));

#endif
