/* test_procs.c - processes and threads on one engine under LD_PRELOAD: owners in `tapsock ss`, a listener shared by forked workers, threads, privilege drop, chroot, requests naming sockets not held, SCM_RIGHTS (socket(7), unix(7), fork(2), setuid(2), chroot(2)).
 *
 * Subnet 10.77.123.0/24 (test_poll_env.h: namespace, engine, re-run under
 * tapsock run, kernel peers by raw system calls). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/ipc.h"
#include "ipc/psock.h"
#include "test_poll_env.h"

TestSuite(procs, .timeout = 30);

/* A tapsock listener on the engine's addresses; its port in *port. */
static int t_listen(uint16_t *port, int backlog)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t l = sizeof(sa);
	int fd = t_socket(0);

	cr_assert(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind: %s", strerror(errno));
	cr_assert(listen(fd, backlog) == 0, "listen: %s", strerror(errno));
	cr_assert(getsockname(fd, (struct sockaddr *)&sa, &l) == 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static uint16_t local_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t l = sizeof(sa);

	cr_assert(getsockname(fd, (struct sockaddr *)&sa, &l) == 0, "getsockname: %s", strerror(errno));
	return ntohs(sa.sin_port);
}

/* Reads exactly n bytes from a kernel fd (5 s at most). */
static void kread_exact(int kfd, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd p = { .fd = kfd, .events = POLLIN };
		cr_assert(poll(&p, 1, 5000) == 1, "kernel peer: nothing after %zu of %zu bytes", got, n);
		ssize_t r = read(kfd, buf + got, n - got);
		cr_assert(r > 0, "kernel read: %zd (%s)", r, strerror(errno));
		got += (size_t)r;
	}
}

/* The kernel side sees EOF within 5 s. */
static bool k_eof(int kfd)
{
	struct pollfd p = { .fd = kfd, .events = POLLIN };
	char c;

	return poll(&p, 1, 5000) == 1 && read(kfd, &c, 1) == 0;
}

static int child_status(pid_t pid)
{
	int st;

	cr_assert(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- tapsock ss: owning pids ---- */

/* The `tapsock ss` line of the connection whose local port is lport, or "". */
static void ss_line(uint16_t lport, char *out, size_t cap)
{
	char cmd[512], line[2048], pat[64];
	const char *ts = getenv("TAPSOCK");
	FILE *f;

	cr_assert(ts, "TAPSOCK is not set");
	snprintf(cmd, sizeof(cmd), "%s ss 2>&1", ts);
	snprintf(pat, sizeof(pat), ".2:%u ", lport);
	out[0] = '\0';
	cr_assert((f = popen(cmd, "r")));
	while (fgets(line, sizeof(line), f))
		if (strstr(line, pat) && strstr(line, "ESTAB"))
			snprintf(out, cap, "%s", line);
	pclose(f);
}

Test(procs, ss_shows_owning_pids_and_forgets_exited_ones)
{
	int kfd, fd = t_connect_pair(&kfd, 0), c2p[2], p2c[2];
	char line[2048], want[64];
	pid_t child;

	cr_assert(pipe(c2p) == 0 && pipe(p2c) == 0);
	child = fork();
	if (child == 0) {
		char c;
		/* an inherited socket: the engine learns of us at our first request */
		(void)local_port(fd);
		if (write(c2p[1], "r", 1) != 1 || read(p2c[0], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	char c;
	cr_assert(read(c2p[0], &c, 1) == 1);
	ss_line(local_port(fd), line, sizeof(line));
	snprintf(want, sizeof(want), "pid=%d,fd=%d)", (int)getpid(), fd);
	cr_expect(strstr(line, "users:((\""), "no users in: %s", line);
	cr_expect(strstr(line, want), "%s not in: %s", want, line);
	snprintf(want, sizeof(want), "pid=%d,fd=%d)", (int)child, fd);
	cr_expect(strstr(line, want), "the child (%s) not in: %s", want, line);

	cr_assert(write(p2c[1], "x", 1) == 1);
	cr_assert(child_status(child) == 0);
	ss_line(local_port(fd), line, sizeof(line));
	snprintf(want, sizeof(want), "pid=%d,", (int)child);
	cr_expect(!strstr(line, want), "the exited child is still listed: %s", line);
	snprintf(want, sizeof(want), "pid=%d,fd=%d)", (int)getpid(), fd);
	cr_expect(strstr(line, want), "%s not in: %s", want, line);
	close(fd);
	close(kfd);
}

/* ---- a listener shared by forked workers (nginx) ---- */

#define NCONN 200
#define NWORKERS 4

static void worker(int lfd, int rep, char id, bool use_epoll)
{
	int ep = -1;

	if (use_epoll) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE };
		fcntl(lfd, F_SETFL, O_NONBLOCK);
		ep = epoll_create1(0);
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
			_exit(2);
	}
	for (;;) {
		if (use_epoll) {
			struct epoll_event ev;
			int n = epoll_wait(ep, &ev, 1, -1);
			if (n < 0 && errno != EINTR)
				_exit(3);
		}
		for (;;) {
			int c = accept(lfd, NULL, NULL);
			if (c < 0) {
				if (errno == EAGAIN && use_epoll)
					break;
				if (errno == EINTR || errno == ECONNABORTED)
					continue;
				_exit(4);
			}
			if (write(rep, &id, 1) != 1)
				_exit(5);
			close(c);
			if (!use_epoll)
				break;
		}
	}
}

static void shared_listener(bool use_epoll)
{
	uint16_t port;
	int lfd = t_listen(&port, 256), rep[2], per[NWORKERS] = { 0 }, total = 0;
	pid_t w[NWORKERS];

	cr_assert(pipe(rep) == 0);
	for (int i = 0; i < NWORKERS; i++) {
		w[i] = fork();
		cr_assert(w[i] >= 0);
		if (w[i] == 0) {
			close(rep[0]);
			worker(lfd, rep[1], (char)i, use_epoll);
			_exit(6);
		}
	}
	close(rep[1]);
	/* each kernel connection is accepted (and closed) by some worker */
	int eofs = 0;
	for (int i = 0; i < NCONN; i++) {
		int k = k_connect(plenv_eaddr(), port);
		eofs += k_eof(k);
		close(k);
	}
	/* one report per accept; then nothing more for a while */
	for (;;) {
		struct pollfd p = { .fd = rep[0], .events = POLLIN };
		char ids[64];
		if (poll(&p, 1, total < NCONN ? 5000 : 300) != 1)
			break;
		ssize_t n = read(rep[0], ids, sizeof(ids));
		if (n <= 0)
			break;
		for (ssize_t j = 0; j < n; j++) {
			per[(int)ids[j] % NWORKERS]++;
			total++;
		}
	}
	for (int i = 0; i < NWORKERS; i++) {
		int st;
		kill(w[i], SIGKILL);
		waitpid(w[i], &st, 0);
		cr_expect(!WIFEXITED(st), "worker %d exited (status %d) instead of serving", i,
			  WEXITSTATUS(st));
	}
	cr_log_info("accepts per worker: %d %d %d %d", per[0], per[1], per[2], per[3]);
	cr_expect_eq(eofs, NCONN, "%d of %d kernel connections were accepted and closed", eofs, NCONN);
	cr_expect_eq(total, NCONN, "%d accepts for %d connections", total, NCONN);
	close(lfd);
	close(rep[0]);
}

Test(procs, forked_workers_blocking_accept_each_connection_once)
{
	shared_listener(false);
}

Test(procs, forked_workers_epoll_nonblocking_accept_each_connection_once)
{
	shared_listener(true);
}

/* ---- threads ---- */

/* Kernel-side echo of everything until EOF (raw syscalls through libc: the fd is
 * the kernel's, the library passes it through). */
static void *k_echo(void *arg)
{
	int kfd = (int)(intptr_t)arg;
	char buf[65536];

	for (;;) {
		ssize_t n = read(kfd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(kfd, buf + off, (size_t)(n - off));
			if (w <= 0)
				return NULL;
			off += w;
		}
	}
	shutdown(kfd, SHUT_WR);
	return NULL;
}

static unsigned char pat(size_t i, int seed) { return (unsigned char)(i * 7 + (size_t)seed * 13 + i / 251); }

struct io_job {
	int fd, seed;
	size_t len;
	int err;            /* 0 ok, else a line number */
};

static void *t_writer(void *arg)
{
	struct io_job *j = arg;
	unsigned char buf[16384];

	for (size_t off = 0; off < j->len;) {
		size_t n = j->len - off < sizeof(buf) ? j->len - off : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = pat(off + i, j->seed);
		ssize_t w = send(j->fd, buf, n, 0);
		if (w <= 0) {
			j->err = __LINE__;
			return NULL;
		}
		off += (size_t)w;
	}
	return NULL;
}

static void *t_reader(void *arg)
{
	struct io_job *j = arg;
	unsigned char buf[16384];

	for (size_t off = 0; off < j->len;) {
		ssize_t r = recv(j->fd, buf, sizeof(buf), 0);
		if (r <= 0) {
			j->err = __LINE__;
			return NULL;
		}
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != pat(off + (size_t)i, j->seed)) {
				j->err = __LINE__;
				return NULL;
			}
		off += (size_t)r;
	}
	return NULL;
}

/* Writer and reader on one socket at once, in two threads. */
static void *t_duplex(void *arg)
{
	struct io_job *j = arg, w = *j, r = *j;
	pthread_t tw;

	if (pthread_create(&tw, NULL, t_writer, &w) != 0) {
		j->err = __LINE__;
		return NULL;
	}
	t_reader(&r);
	pthread_join(tw, NULL);
	j->err = w.err ? w.err : r.err;
	return NULL;
}

Test(procs, threads_on_different_sockets_and_one_socket_read_write_at_once)
{
	enum { N = 3 };
	int fd[N], kfd[N];
	pthread_t kt[N], tt[N];
	struct io_job job[N];

	for (int i = 0; i < N; i++) {
		fd[i] = t_connect_pair(&kfd[i], 0);
		cr_assert(pthread_create(&kt[i], NULL, k_echo, (void *)(intptr_t)kfd[i]) == 0);
		job[i] = (struct io_job){ .fd = fd[i], .seed = i + 1, .len = 3u << 20 };
	}
	/* each socket: one thread writing while another reads it */
	for (int i = 0; i < N; i++)
		cr_assert(pthread_create(&tt[i], NULL, t_duplex, &job[i]) == 0);
	for (int i = 0; i < N; i++)
		pthread_join(tt[i], NULL);
	for (int i = 0; i < N; i++) {
		cr_expect_eq(job[i].err, 0, "socket %d: failed at line %d", i, job[i].err);
		close(fd[i]);
		pthread_join(kt[i], NULL);
		close(kfd[i]);
	}
}

static atomic_int acc_count;

static void *t_acceptor(void *arg)
{
	int lfd = (int)(intptr_t)arg;

	for (;;) {
		int c = accept(lfd, NULL, NULL);
		char b = 0;
		if (c < 0) {
			if (errno == EINTR)
				continue;
			return (void *)(intptr_t)__LINE__;
		}
		if (recv(c, &b, 1, 0) != 1) {
			close(c);
			return (void *)(intptr_t)__LINE__;
		}
		close(c);
		if (b == 'S')
			return NULL;
		atomic_fetch_add(&acc_count, 1);
	}
}

Test(procs, two_threads_in_accept_each_connection_once)
{
	uint16_t port;
	int lfd = t_listen(&port, 64), eofs = 0;
	pthread_t t[2];
	void *rv[2];

	atomic_store(&acc_count, 0);
	for (int i = 0; i < 2; i++)
		cr_assert(pthread_create(&t[i], NULL, t_acceptor, (void *)(intptr_t)lfd) == 0);
	for (int i = 0; i < 40; i++) {
		int k = k_connect(plenv_eaddr(), port);
		cr_assert(write(k, "D", 1) == 1);
		eofs += k_eof(k);
		close(k);
	}
	/* one stop for each thread: a thread that took one stops accepting */
	for (int i = 0; i < 2; i++) {
		int k = k_connect(plenv_eaddr(), port);
		cr_assert(write(k, "S", 1) == 1);
		cr_expect(k_eof(k));
		close(k);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], &rv[i]);
		cr_expect(rv[i] == NULL, "acceptor %d failed at line %d", i, (int)(intptr_t)rv[i]);
	}
	cr_expect_eq(eofs, 40);
	cr_expect_eq(atomic_load(&acc_count), 40);
	close(lfd);
}

/* ---- privilege drop, chroot ---- */

/* In a child: exchange "cN"/"kN" on an inherited connected socket, then open a new
 * connection to the kernel listener klfd's port and send "nN". */
static int child_uses_sockets(int fd, uint16_t kport, char n)
{
	char m[2] = { 'c', n }, b[2];
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = plenv_kaddr(),
				  .sin_port = htons(kport) };

	if (local_port(fd) == 0)
		return 20;
	if (send(fd, m, 2, 0) != 2)
		return 21;
	if (recv(fd, b, 2, MSG_WAITALL) != 2 || b[0] != 'k' || b[1] != n)
		return 22;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		return 23;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return 24;
	m[0] = 'n';
	if (send(s, m, 2, 0) != 2)
		return 25;
	close(s);
	return 0;
}

static void serve_child(int kfd, int klfd, char n)
{
	char b[2], k[2] = { 'k', n };

	kread_exact(kfd, b, 2);
	cr_expect(b[0] == 'c' && b[1] == n);
	cr_assert(write(kfd, k, 2) == 2);
	int a = k_accept(klfd);
	kread_exact(a, b, 2);
	cr_expect(b[0] == 'n' && b[1] == n);
	close(a);
}

Test(procs, setuid_nobody_keeps_its_sockets_and_makes_new_ones)
{
	int kfd, fd = t_connect_pair(&kfd, 0);
	int klfd = k_listen(plenv_kaddr(), 0, 0);
	pid_t c = fork();

	if (c == 0) {
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(10);
		_exit(child_uses_sockets(fd, k_port(klfd), '1'));
	}
	serve_child(kfd, klfd, '1');
	cr_expect_eq(child_status(c), 0, "the child failed (see child_uses_sockets codes)");
	close(fd);
	close(kfd);
	close(klfd);
}

Test(procs, chroot_into_an_empty_dir_keeps_working)
{
	int kfd, fd = t_connect_pair(&kfd, 0);
	int klfd = k_listen(plenv_kaddr(), 0, 0);
	char dir[] = "/tmp/tskpl-chroot-XXXXXX";

	cr_assert(mkdtemp(dir));
	pid_t c = fork();
	if (c == 0) {
		if (chroot(dir) < 0 || chdir("/") < 0)
			_exit(10);
		/* and without privileges too, as sshd's separated child */
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(11);
		_exit(child_uses_sockets(fd, k_port(klfd), '2'));
	}
	serve_child(kfd, klfd, '2');
	cr_expect_eq(child_status(c), 0, "the chrooted child failed");
	rmdir(dir);
	close(fd);
	close(kfd);
	close(klfd);
}

/* ---- a process reaches only the sockets it holds ---- */

/* One raw request on a fresh connection to the socket server; the status. */
static int raw_request(uint16_t type, const int *fds, int nfds, int *nreply_fds)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *name = getenv("TAPSOCK_ENGINE");
	uint8_t msg[IPC_MSG_MAX];
	union { char buf[CMSG_SPACE(sizeof(int) * 4)]; struct cmsghdr align; } u;
	struct ipc_hdr h = { .type = type, .seq = 7 };
	struct iovec iov;
	struct msghdr mh = { 0 };
	int n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "tapsock/%s" PSOCK_ADDR_SUFFIX,
			 name && *name ? name : "default");
	int c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	cr_assert(c >= 0);
	cr_assert(connect(c, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n)) == 0,
		  "connect to the socket server: %s", strerror(errno));
	int len = ipc_emit(msg, sizeof(msg), &h, NULL);
	cr_assert(len > 0);
	iov = (struct iovec){ msg, (size_t)len };
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfds);
	}
	cr_assert(sendmsg(c, &mh, 0) == len);
	iov = (struct iovec){ msg, sizeof(msg) };
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	struct pollfd p = { .fd = c, .events = POLLIN };
	cr_assert(poll(&p, 1, 5000) == 1, "no reply");
	ssize_t r = recvmsg(c, &mh, 0);
	const uint8_t *payload;
	struct ipc_hdr rh;
	cr_assert(r > 0 && ipc_parse(msg, (size_t)r, &rh, &payload) == 0, "bad reply");
	*nreply_fds = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_type == SCM_RIGHTS) {
			int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (int i = 0; i < k; i++) {
				int f;
				memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
				close(f);
			}
			*nreply_fds += k;
		}
	close(c);
	return rh.status;
}

Test(procs, requests_name_sockets_only_by_a_held_placeholder)
{
	int kfd, fd = t_connect_pair(&kfd, 0), sp[2], nf;
	int file = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	cr_assert(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) == 0);
	/* no placeholder at all */
	cr_expect_eq(raw_request(PSOCK_NAMES, NULL, 0, &nf), -EBADF);
	/* a unix socket of our own making: the engine knows no such socket */
	cr_expect_eq(raw_request(PSOCK_NAMES, &sp[0], 1, &nf), -ENOTSOCK);
	cr_expect_eq(raw_request(PSOCK_ATTACH, &sp[1], 1, &nf), -ENOTSOCK);
	cr_expect_eq(nf, 0, "a refused attach handed out %d fds", nf);
	cr_expect_eq(raw_request(PSOCK_SHUTDOWN, &file, 1, &nf), -EBADF);
	/* the real placeholder: the same request is served */
	cr_expect_eq(raw_request(PSOCK_ATTACH, &fd, 1, &nf), 0);
	cr_expect_eq(nf, 1, "attach gives the shared memory");
	/* and the connection is intact */
	cr_assert(send(fd, "ok", 2, 0) == 2);
	char b[2];
	kread_exact(kfd, b, 2);
	cr_expect(!memcmp(b, "ok", 2));
	close(sp[0]);
	close(sp[1]);
	close(file);
	close(fd);
	close(kfd);
}

/* ---- SCM_RIGHTS ---- */

Test(procs, a_connected_socket_passed_over_scm_rights_is_used_by_the_receiver)
{
	int sp[2], kfd, fd;

	cr_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
	pid_t c = fork();
	if (c == 0) {
		union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
		char d;
		struct iovec iov = { &d, 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
				     .msg_controllen = sizeof(u.buf) };
		int got = -1;

		close(sp[0]);
		if (recvmsg(sp[1], &mh, 0) != 1)
			_exit(10);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		if (!cm || cm->cmsg_type != SCM_RIGHTS)
			_exit(11);
		memcpy(&got, CMSG_DATA(cm), sizeof(int));
		int dom = 0;
		socklen_t dl = sizeof(dom);
		if (getsockopt(got, SOL_SOCKET, SO_DOMAIN, &dom, &dl) < 0 || dom != AF_INET)
			_exit(12);
		if (send(got, "via-rights", 10, 0) != 10)
			_exit(13);
		char b[3];
		if (recv(got, b, 3, MSG_WAITALL) != 3 || memcmp(b, "ack", 3))
			_exit(14);
		close(got);
		_exit(0);
	}
	close(sp[1]);
	fd = t_connect_pair(&kfd, 0);
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	memset(&u, 0, sizeof(u));
	struct iovec iov = { "F", 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	cr_assert(sendmsg(sp[0], &mh, 0) == 1, "sendmsg: %s", strerror(errno));
	close(fd);   /* only the receiver holds it now */
	char b[10];
	kread_exact(kfd, b, 10);
	cr_expect(!memcmp(b, "via-rights", 10));
	cr_assert(write(kfd, "ack", 3) == 3);
	cr_expect_eq(child_status(c), 0, "the receiver failed");
	/* the receiver's close was the last: the kernel peer sees the FIN */
	cr_expect(k_eof(kfd), "no EOF after the receiver closed");
	close(kfd);
	close(sp[0]);
}

int main(int argc, char **argv)
{
	return plenv_main(argc, argv, 123, "procs");
}
