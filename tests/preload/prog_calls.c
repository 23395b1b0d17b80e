/* prog_calls.c - the interposed socket calls on a real engine, run under LD_PRELOAD by preload_calls.sh (socket(7), tcp(7)).
 *
 * argv: KERNEL_ADDR ECHO_PORT CLOSED_PORT. The kernel side runs an echo server on
 * ECHO_PORT; nothing listens on CLOSED_PORT. Each check prints "ok NAME" or
 * "FAIL NAME: why"; the exit status is the number of failures. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>

static int fails;
static struct sockaddr_in kaddr;

#define CHECK(name, cond, ...) do { \
	if (cond) printf("ok %s\n", name); \
	else { printf("FAIL %s: ", name); printf(__VA_ARGS__); printf(" (errno %s)\n", strerror(errno)); fails++; } \
	fflush(stdout); } while (0)

static struct sockaddr_in addr_of(const char *a, int port)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, a, &in.sin_addr);
	return in;
}

static int connected(struct sockaddr_in *to)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)to, sizeof(*to)) < 0)
		return -1;
	return fd;
}

static void on_alarm(int sig) { (void)sig; }

/* The socket memories this process maps (psock.h: memfd "tapsock-socket"): up to
 * max of them, start address, length and inode. */
struct shm_map { unsigned long lo, hi, ino; };

static int shm_maps(struct shm_map *m, int max)
{
	char line[512];
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof(line), f))
		if (strstr(line, "tapsock-socket") &&
		    sscanf(line, "%lx-%lx %*s %*s %*s %lu", &m[n].lo, &m[n].hi, &m[n].ino) == 3)
			n++;
	fclose(f);
	return n;
}

/* The mapping that appeared between two shm_maps() calls. */
static struct shm_map shm_new(const struct shm_map *before, int nb, const struct shm_map *after, int na)
{
	struct shm_map none = { 0, 0, 0 };

	for (int i = 0; i < na; i++) {
		int seen = 0;
		for (int j = 0; j < nb; j++)
			seen |= after[i].lo == before[j].lo && after[i].ino == before[j].ino;
		if (!seen)
			return after[i];
	}
	return none;
}

/* A connection that carries `bytes` of a marker both ways and is closed; then a
 * new socket. The engine reuses the closed socket's memory (same inode) and not
 * one byte of the marker is left in it (psock.h "Reuse"). 0, or what failed. */
static const char *pool_check(int bytes, int *reused)
{
	static char mark[300000], back[300000];
	struct shm_map b0[64], b1[64], b2[64];
	int n0, n1, n2, fd, nfd, found = 0;
	struct shm_map old, cur;

	for (int i = 0; i < bytes; i++)
		mark[i] = "tsk-MARK"[i % 8];
	n0 = shm_maps(b0, 64);
	fd = connected(&kaddr);
	if (fd < 0)
		return "connect";
	n1 = shm_maps(b1, 64);
	old = shm_new(b0, n0, b1, n1);
	if (send(fd, mark, (size_t)bytes, 0) != bytes || recv(fd, back, (size_t)bytes, MSG_WAITALL) != bytes ||
	    memcmp(back, mark, (size_t)bytes))
		return "echo";
	close(fd);
	usleep(100000);   /* the engine reads the placeholder's EOF */
	n1 = shm_maps(b1, 64);
	nfd = socket(AF_INET, SOCK_STREAM, 0);
	n2 = shm_maps(b2, 64);
	cur = shm_new(b1, n1, b2, n2);
	if (!old.ino || !cur.ino)
		return "mapping not found";
	*reused = cur.ino == old.ino;
	for (const char *p = (const char *)cur.lo; p + 8 <= (const char *)cur.hi; p += 8)
		found |= !memcmp(p, "tsk-MARK", 8);
	close(nfd);
	return found ? "marker left in the reused memory" : NULL;
}

int main(int argc, char **argv)
{
	char buf[65536];
	int fd, r;

	if (argc == 3 && !strcmp(argv[1], "--exec-child")) {
		/* after exec: the inherited fd is still a tapsock socket */
		int efd = atoi(argv[2]);
		int dom = 0;
		socklen_t dl = sizeof(dom);
		if (getsockopt(efd, SOL_SOCKET, SO_DOMAIN, &dom, &dl) < 0 || dom != AF_INET)
			return 4;
		return send(efd, "exec!", 5, 0) == 5 ? 0 : 5;
	}
	if (argc < 4) {
		fprintf(stderr, "usage: prog_calls KERNEL_ADDR ECHO_PORT CLOSED_PORT\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	kaddr = addr_of(argv[1], atoi(argv[2]));
	struct sockaddr_in closed = addr_of(argv[1], atoi(argv[3]));

	/* socket: lowest fd, fstat says socket, SO_DOMAIN/TYPE/PROTOCOL */
	int lowest = dup(0);
	close(lowest);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	struct stat st;
	CHECK("socket_lowest_fd", fd == lowest, "fd %d, expected %d", fd, lowest);
	CHECK("socket_fstat", fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode), "not a socket");
	int v = 0;
	socklen_t l = sizeof(v);
	CHECK("so_domain", getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &l) == 0 && v == AF_INET, "%d", v);
	l = sizeof(v);
	CHECK("so_protocol", getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &l) == 0 && v == IPPROTO_TCP, "%d", v);
	CHECK("recv_not_connected", recv(fd, buf, 1, MSG_DONTWAIT) == -1 && errno == ENOTCONN, "r");
	CHECK("pread_espipe", pread(fd, buf, 1, 0) == -1 && errno == ESPIPE, "pread");
	errno = 0;
	v = 0x10;
	CHECK("unsupported_option", setsockopt(fd, IPPROTO_IP, IP_TOS, &v, sizeof(v)) == -1 &&
	      errno == ENOPROTOOPT, "expected ENOPROTOOPT");
	close(fd);

	/* connect to a closed port: ECONNREFUSED */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	r = connect(fd, (struct sockaddr *)&closed, sizeof(closed));
	CHECK("connect_refused", r == -1 && errno == ECONNREFUSED, "r=%d", r);
	close(fd);

	/* blocking connect, echo, names */
	fd = connected(&kaddr);
	CHECK("connect", fd >= 0, "connect failed");
	struct sockaddr_in me, peer;
	socklen_t ml = sizeof(me), pl = sizeof(peer);
	CHECK("getsockname", getsockname(fd, (struct sockaddr *)&me, &ml) == 0 && ml == sizeof(me) &&
	      me.sin_family == AF_INET && me.sin_port != 0, "bad name");
	CHECK("getpeername", getpeername(fd, (struct sockaddr *)&peer, &pl) == 0 &&
	      peer.sin_addr.s_addr == kaddr.sin_addr.s_addr && peer.sin_port == kaddr.sin_port, "bad peer");
	static char out[1 << 20], in[1 << 20];
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 7 + (i >> 11));
	ssize_t n = send(fd, out, sizeof(out), 0);
	CHECK("send_1MB", n == (ssize_t)sizeof(out), "sent %zd", n);
	n = recv(fd, in, sizeof(in), MSG_WAITALL);
	CHECK("recv_waitall_1MB", n == (ssize_t)sizeof(in) && !memcmp(in, out, sizeof(in)), "got %zd", n);

	/* MSG_PEEK, FIONREAD, readv/writev */
	struct iovec wv[2] = { { "abc", 3 }, { "defg", 4 } };
	CHECK("writev", writev(fd, wv, 2) == 7, "writev");
	n = recv(fd, buf, 7, MSG_PEEK | MSG_WAITALL);
	int avail = 0;
	ioctl(fd, FIONREAD, &avail);
	CHECK("peek_fionread", n >= 1 && avail >= (int)n, "peek %zd avail %d", n, avail);
	char a[3], b[4];
	struct iovec rv[2] = { { a, 3 }, { b, 4 } };
	n = 0;
	while (n < 7) {
		ssize_t k = readv(fd, rv, 2);
		if (k <= 0)
			break;
		n += k;
		if (n < 7) { /* tiny chance of a split: take the rest simply */
			n += read(fd, buf, (size_t)(7 - n));
			memcpy(a, "abc", 3); memcpy(b, "defg", 4);
		}
	}
	CHECK("readv", n == 7 && !memcmp(a, "abc", 3) && !memcmp(b, "defg", 4), "n %zd", n);

	/* non-blocking: EAGAIN; SO_RCVTIMEO; EINTR */
	int fl = fcntl(fd, F_GETFL);
	CHECK("fcntl_nonblock", fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK), "setfl");
	CHECK("recv_eagain", recv(fd, buf, 1, 0) == -1 && errno == EAGAIN, "expected EAGAIN");
	fcntl(fd, F_SETFL, fl);
	struct timeval tv = { 0, 200000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = (int)recv(fd, buf, 1, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK("rcvtimeo", r == -1 && errno == EAGAIN && el > 0.15 && el < 2, "r=%d after %.3f s", r, el);
	tv.tv_usec = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct sigaction sa = { .sa_handler = on_alarm };   /* no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);
	ualarm(200000, 0);
	r = (int)recv(fd, buf, 1, 0);
	CHECK("recv_eintr", r == -1 && errno == EINTR, "r=%d", r);

	/* dup and fork: the child writes, the parent reads; the socket survives */
	int d = dup(fd);
	CHECK("dup", d >= 0 && d != fd, "dup");
	pid_t pid = fork();
	if (pid == 0) {
		_exit(send(d, "child!", 6, 0) == 6 ? 0 : 1);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	n = recv(fd, buf, 6, MSG_WAITALL);
	CHECK("fork_child_send", WIFEXITED(status) && WEXITSTATUS(status) == 0 && n == 6 &&
	      !memcmp(buf, "child!", 6), "n=%zd status %d", n, status);
	close(d);

	/* shutdown(SHUT_WR): the echo server sees EOF and closes: we read 0 */
	CHECK("shutdown_wr", shutdown(fd, SHUT_WR) == 0, "shutdown");
	n = recv(fd, buf, sizeof(buf), 0);
	CHECK("eof_after_halfclose", n == 0, "n=%zd", n);
	signal(SIGPIPE, SIG_IGN);
	CHECK("send_after_shutdown_epipe", send(fd, "x", 1, 0) == -1 && errno == EPIPE, "send");
	close(fd);

	/* non-blocking connect: EINPROGRESS, POLLOUT, SO_ERROR 0 */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	r = connect(fd, (struct sockaddr *)&kaddr, sizeof(kaddr));
	CHECK("connect_einprogress", r == -1 && errno == EINPROGRESS, "r=%d", r);
	struct pollfd p = { fd, POLLOUT, 0 };
	r = poll(&p, 1, 3000);
	int err = -1;
	l = sizeof(err);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
	CHECK("connect_pollout_so_error", r == 1 && (p.revents & POLLOUT) && err == 0, "r=%d revents %x err %d", r, p.revents, err);
	close(fd);

	/* listen/accept over loopback between two processes on the engine */
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in lo = addr_of("127.0.0.1", 5555);
	CHECK("bind_listen", bind(lfd, (struct sockaddr *)&lo, sizeof(lo)) == 0 && listen(lfd, 8) == 0, "bind/listen");
	pid = fork();
	if (pid == 0) {
		int c = connected(&lo);
		if (c < 0)
			_exit(1);
		ssize_t k = send(c, "loopback", 8, 0);
		char z[8];
		k = recv(c, z, 8, MSG_WAITALL);
		_exit(k == 8 && !memcmp(z, "LOOPBACK", 8) ? 0 : 2);
	}
	struct sockaddr_in from;
	socklen_t fl2 = sizeof(from);
	int c = accept(lfd, (struct sockaddr *)&from, &fl2);
	n = c >= 0 ? recv(c, buf, 8, MSG_WAITALL) : -1;
	if (n == 8)
		send(c, "LOOPBACK", 8, 0);
	waitpid(pid, &status, 0);
	CHECK("loopback_accept", c >= 0 && n == 8 && !memcmp(buf, "loopback", 8) &&
	      WIFEXITED(status) && WEXITSTATUS(status) == 0, "c=%d n=%zd status %d", c, n, status);
	close(c);

	/* a non-blocking accept on an empty queue is EAGAIN (answered from the
	 * listener's published state), and a connection that arrives is accepted;
	 * posted options (psock.h PSOCK_F_NOREPLY) read back at once, in order */
	fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
	r = accept(lfd, NULL, NULL);
	CHECK("accept_empty_eagain", r == -1 && errno == EAGAIN, "r=%d", r);
	int cl = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	r = connect(cl, (struct sockaddr *)&lo, sizeof(lo));
	struct pollfd lp = { .fd = lfd, .events = POLLIN };
	c = poll(&lp, 1, 2000) == 1 ? accept(lfd, NULL, NULL) : -1;
	CHECK("accept_after_eagain", c >= 0, "c=%d", c);
	CHECK("accept_blocking_flag", c >= 0 && !(fcntl(c, F_GETFL) & O_NONBLOCK),
	      "accept() of a non-blocking listener gave a non-blocking socket");
	int nb = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), bl = socket(AF_INET, SOCK_STREAM, 0);
	CHECK("socket_nonblock_flag", (fcntl(nb, F_GETFL) & O_NONBLOCK) && !(fcntl(bl, F_GETFL) & O_NONBLOCK),
	      "flags %#x %#x", fcntl(nb, F_GETFL), fcntl(bl, F_GETFL));
	close(nb);
	close(bl);
	int cl2 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	connect(cl2, (struct sockaddr *)&lo, sizeof(lo));
	int c2 = poll(&lp, 1, 2000) == 1 ? accept4(lfd, NULL, NULL, SOCK_NONBLOCK) : -1;
	CHECK("accept4_nonblock_flag", c2 >= 0 && (fcntl(c2, F_GETFL) & O_NONBLOCK) &&
	      recv(c2, buf, 1, 0) == -1 && errno == EAGAIN, "c2=%d", c2);
	close(c2);
	close(cl2);
	int on = 1, off = 0, got[4] = { -1, -1, -1, -1 };
	socklen_t gl = sizeof(int);
	r = setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) |
	    setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) |
	    setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &off, sizeof(off));
	getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &got[0], &gl);
	getsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &got[1], &gl);
	getsockopt(c, SOL_SOCKET, SO_REUSEADDR, &got[2], &gl);
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &off, sizeof(off));
	getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &got[3], &gl);
	CHECK("posted_options_in_order", r == 0 && got[0] == 1 && got[1] == 1 && got[2] == 0 && got[3] == 0,
	      "r=%d nodelay %d keepalive %d reuseaddr %d nodelay off %d", r, got[0], got[1], got[2], got[3]);
	CHECK("posted_option_short_einval", setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &on, 2) == -1 &&
	      errno == EINVAL, "short value accepted");
	/* TCP_NODELAY before a socket's first write waits in the shared page
	 * (psock.h nodelay) and is taken once; after the first write it is a
	 * message, and a value taken before never comes back over it */
	setsockopt(cl, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	getsockopt(cl, IPPROTO_TCP, TCP_NODELAY, &got[0], &gl);
	ssize_t w = send(cl, "x", 1, 0);
	setsockopt(cl, IPPROTO_TCP, TCP_NODELAY, &off, sizeof(off));
	getsockopt(cl, IPPROTO_TCP, TCP_NODELAY, &got[1], &gl);
	CHECK("nodelay_before_and_after_first_write", got[0] == 1 && w == 1 && got[1] == 0,
	      "nodelay %d, send %zd, then nodelay off %d", got[0], w, got[1]);
	r = accept(lfd, NULL, NULL);
	CHECK("accept_drained_eagain", r == -1 && errno == EAGAIN, "r=%d", r);
	close(cl);
	close(c);
	close(lfd);

	/* the engine's pool of socket memories: reused, and wiped (a few ring
	 * pages zeroed in place; many punched out) */
	int reused = 0;
	const char *why = pool_check(3000, &reused);
	CHECK("pool_reuse_small_wiped", !why && reused, "%s, reused %d", why ? why : "-", reused);
	reused = 0;
	why = pool_check(250000, &reused);
	CHECK("pool_reuse_large_wiped", !why && reused, "%s, reused %d", why ? why : "-", reused);
	reused = 0;
	why = pool_check(300000, &reused);   /* both rings wrapped (256 KiB each) */
	CHECK("pool_reuse_wrapped_wiped", !why && reused, "%s, reused %d", why ? why : "-", reused);

	/* exec: the socket survives exec (no CLOEXEC) and is found again */
	fd = connected(&kaddr);
	if (fd >= 0) {
		char fds[16];
		snprintf(fds, sizeof(fds), "%d", fd);
		pid = fork();
		if (pid == 0) {
			execl("/proc/self/exe", argv[0], "--exec-child", fds, (char *)NULL);
			_exit(3);
		}
		waitpid(pid, &status, 0);
		n = recv(fd, buf, 5, MSG_WAITALL);
		CHECK("exec_keeps_socket", WIFEXITED(status) && WEXITSTATUS(status) == 0 && n == 5 &&
		      !memcmp(buf, "exec!", 5), "status %d n %zd", status, n);
		close(fd);
	}
	return fails;
}
