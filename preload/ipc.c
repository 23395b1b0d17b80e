/* ipc.c - the preload library's connection to the engine's socket server (protocol in engine/ipc/psock.h; unix(7) SCM_RIGHTS).
 *
 * One connection per process, opened at the first request, replaced in a child
 * after fork (a shared connection would hand one process the other's replies).
 * Requests are serialised by a mutex: the engine answers each at once. The
 * engine may also push a listener's connection to us unasked (psock.h
 * PSOCK_ACCEPT_PUSH): whoever reads the connection hands it to sock.c. The fd is
 * moved high (F_DUPFD_CLOEXEC) so that the program's own fds keep the numbers
 * socket() and open() would give them. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <unistd.h>

#include "preload/pl_int.h"

static pthread_mutex_t ctl_mu = PTHREAD_MUTEX_INITIALIZER;
static int ctl_fd = -1;
static pid_t ctl_pid;
static pid_t eng_pid;
static uint32_t ctl_seq;

static const char *engine_name(void)
{
	const char *n = getenv("TAPSOCK_ENGINE");

	return n && *n ? n : "default";
}

static int ctl_open(void)
{
	struct sockaddr_un sa;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct rlimit rl;
	int fd, hi, n;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "tapsock/%s" PSOCK_ADDR_SUFFIX,
		     engine_name());
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path) - 1)
		return -ENAMETOOLONG;
	fd = real_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (real_connect(fd, (struct sockaddr *)&sa,
			 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n)) < 0) {
		int e = errno;
		real_close(fd);
		return e == ECONNREFUSED || e == ENOENT ? -ENETDOWN : -e;
	}
	if (real_getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
		eng_pid = cred.pid;
	/* out of the way of the program's fd numbers */
	hi = 1000;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur <= hi + 16)
		hi = rl.rlim_cur > 64 ? (int)rl.rlim_cur - 16 : 3;
	n = real_fcntl(fd, F_DUPFD_CLOEXEC, hi);
	if (n >= 0) {
		real_close(fd);
		fd = n;
	}
	return fd;
}

/* with ctl_mu held */
static int ctl_get(void)
{
	pid_t me = getpid();

	if (ctl_fd >= 0 && ctl_pid != me) {
		real_close(ctl_fd);
		ctl_fd = -1;
	}
	if (ctl_fd < 0) {
		int fd = ctl_open();
		if (fd < 0)
			return fd;
		ctl_fd = fd;
		ctl_pid = me;
	}
	return ctl_fd;
}

int pl__ctl_fd(void) { return ctl_fd; }

void pl__ctl_forget(int fd)
{
	if (fd >= 0 && fd == ctl_fd)
		ctl_fd = -1;
}

pid_t pl__engine_pid(void)
{
	pid_t p;

	pthread_mutex_lock(&ctl_mu);
	p = ctl_get() >= 0 ? eng_pid : 0;
	pthread_mutex_unlock(&ctl_mu);
	return p;
}

void pl__ipc_atfork_child(void)
{
	/* the parent keeps using its connection: ours is a fresh one when needed */
	pthread_mutex_init(&ctl_mu, NULL);
	if (ctl_fd >= 0)
		real_close(ctl_fd);
	ctl_fd = -1;
}

void pl__rep_close_fds(struct pl_reply *rep)
{
	for (int i = 0; i < rep->nfds; i++)
		if (rep->fds[i] >= 0)
			real_close(rep->fds[i]);
	rep->nfds = 0;
}

/* One message from the engine into msg, its fds into rep (MSG_CMSG_CLOEXEC):
 * its length, 0 at EOF, or -1 with errno. */
static ssize_t ctl_recv(int c, uint8_t *msg, size_t size, struct pl_reply *rep, int flags)
{
	union { char buf[CMSG_SPACE(sizeof(int) * 2 * PSOCK_ACCEPT_MAX)]; struct cmsghdr align; } u;
	struct iovec iov = { msg, size };
	struct msghdr mh;
	ssize_t r;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	while ((r = real_recvmsg(c, &mh, MSG_CMSG_CLOEXEC | flags)) < 0 && errno == EINTR)
		;
	rep->nfds = 0;
	if (r <= 0)
		return r;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (int i = 0; i < k; i++) {
				int f;

				memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
				if (rep->nfds < (int)(sizeof(rep->fds) / sizeof(rep->fds[0])))
					rep->fds[rep->nfds++] = f;
				else
					real_close(f);   /* more than any reply carries */
			}
		}
	return r;
}

/* A message that is no reply: a connection pushed to us (psock.h
 * PSOCK_ACCEPT_PUSH) goes to its listener's queue; anything else is dropped. */
static void ctl_unsolicited(const struct ipc_hdr *rh, const uint8_t *p, struct pl_reply *rep)
{
	if (rh->type == PSOCK_PUSHED && pl__accq_pushed) {
		pl__accq_pushed(p, rh->len, rep->fds, rep->nfds);
		rep->nfds = 0;
	}
	pl__rep_close_fds(rep);
}

void pl__ctl_drain(int max)
{
	uint8_t msg[IPC_MSG_MAX];
	struct pl_reply rep;

	pthread_mutex_lock(&ctl_mu);
	/* only our own connection: a process made by clone() without fork's
	 * handlers still has its parent's */
	if (ctl_fd >= 0 && ctl_pid == getpid()) {
		/* as many as the caller knows of: no read that only hears EAGAIN */
		for (int n = 0; !max || n < max; n++) {
			struct ipc_hdr rh;
			const uint8_t *p;
			ssize_t r = ctl_recv(ctl_fd, msg, sizeof(msg), &rep, MSG_DONTWAIT);

			/* EOF or an error: the next request finds it */
			if (r <= 0)
				break;
			if (ipc_parse(msg, (size_t)r, &rh, &p) < 0)
				pl__rep_close_fds(&rep);
			else
				ctl_unsolicited(&rh, p, &rep);   /* no request is waiting */
		}
	}
	pthread_mutex_unlock(&ctl_mu);
}

/* rep NULL: post the request (PSOCK_F_NOREPLY) and return once it is sent */
static int call_locked(uint16_t type, int fd, int fd2, const void *payload, size_t len,
		       struct pl_reply *rep)
{
	uint8_t msg[IPC_MSG_MAX];
	union { char buf[CMSG_SPACE(sizeof(int) * 2)]; struct cmsghdr align; } u;   /* fd, fd2 */
	struct ipc_hdr h = { .type = type, .flags = rep ? 0 : PSOCK_F_NOREPLY, .seq = ++ctl_seq,
			     .len = (uint32_t)len };
	struct iovec iov;
	struct msghdr mh;
	int c = ctl_get(), n;

	if (c < 0)
		return c;
	n = ipc_emit(msg, sizeof(msg), &h, payload);
	if (n < 0)
		return n;
	iov.iov_base = msg;
	iov.iov_len = (size_t)n;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (fd >= 0) {
		struct cmsghdr *cm;
		int fds[2] = { fd, fd2 }, k = fd2 >= 0 ? 2 : 1;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)k);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)k);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)k);
	}
	while ((n = (int)real_sendmsg(c, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	if (n < 0)
		goto dead;
	if (!rep)
		return 0;
	for (;;) {
		struct ipc_hdr rh;
		const uint8_t *p;
		/* the request is on its way: a signal does not abandon it */
		ssize_t r = ctl_recv(c, msg, sizeof(msg), rep, 0);

		if (r <= 0)
			goto dead;
		if (ipc_parse(msg, (size_t)r, &rh, &p) < 0) {
			pl__rep_close_fds(rep);
			continue;
		}
		if (rh.type == PSOCK_PUSHED || rh.seq != h.seq) {
			ctl_unsolicited(&rh, p, rep);
			continue;
		}
		rep->status = rh.status;
		rep->flags = rh.flags;
		rep->len = rh.len;
		memcpy(rep->data, p, rh.len);
		return 0;
	}
dead:
	real_close(ctl_fd);
	ctl_fd = -1;
	return -ECONNRESET;
}

int pl__call(uint16_t type, int fd, const void *payload, size_t len, struct pl_reply *rep)
{
	return pl__call2(type, fd, -1, payload, len, rep);
}

int pl__call2(uint16_t type, int fd, int fd2, const void *payload, size_t len, struct pl_reply *rep)
{
	int r;

	rep->nfds = 0;
	rep->len = 0;
	rep->status = 0;
	rep->flags = 0;
	pthread_mutex_lock(&ctl_mu);
	r = call_locked(type, fd, fd2, payload, len, rep);
	pthread_mutex_unlock(&ctl_mu);
	return r;
}

int pl__post(uint16_t type, int fd, const void *payload, size_t len)
{
	int r;

	pthread_mutex_lock(&ctl_mu);
	r = call_locked(type, fd, -1, payload, len, NULL);
	pthread_mutex_unlock(&ctl_mu);
	return r;
}
