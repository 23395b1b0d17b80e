/* test_accq.c - connections one accept() took ahead for the following ones, or the engine pushed (psock.h PSOCK_ACCEPT_MAX, PSOCK_ACCEPT_PUSH): readiness in poll and epoll, accept4's flags, fork, the listener's close (accept(2), epoll(7)).
 *
 * A non-blocking tapsock listener, N kernel clients connected at once (raw system
 * calls): the first accept() takes them all from the engine, the following ones
 * hand them out. Each client first sends its index, so a test knows which
 * connection an accept() returned and that each comes exactly once.
 * Subnet 10.77.129.0/24 (test_poll_env.h). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_poll_env.h"

#define N 10

TestSuite(accq, .timeout = 30);

static int listener(uint16_t *port)
{
	int fd = t_socket(1);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = plenv_eaddr() };
	socklen_t len = sizeof(sa);

	cr_assert(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind: %s", strerror(errno));
	cr_assert(listen(fd, 64) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* N kernel clients, connected and each having sent its index, queued in the
 * engine by the time this returns. */
static void clients(uint16_t port, int *k)
{
	for (int i = 0; i < N; i++) {
		uint8_t b = (uint8_t)i;

		k[i] = k_connect(plenv_eaddr(), port);
		cr_assert(write(k[i], &b, 1) == 1);
	}
	usleep(100 * 1000);   /* the last ACKs and bytes reach the engine */
}

static void clients_close(const int *k)
{
	for (int i = 0; i < N; i++)
		close(k[i]);
}

/* The index the connection's client sent; marks it seen (once only). */
static int who(int fd, bool *seen)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint8_t b;

	cr_assert(poll(&p, 1, 2000) == 1, "accepted connection: no byte");
	cr_assert(read(fd, &b, 1) == 1);
	cr_assert(b < N && !seen[b], "connection %u accepted twice", b);
	seen[b] = true;
	return b;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	cr_assert(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* The kernel client's end reads EOF or a reset within 2 s. */
static bool k_ended(int kfd)
{
	struct pollfd p = { .fd = kfd, .events = POLLIN };
	char b[8];

	if (poll(&p, 1, 2000) != 1)
		return false;
	ssize_t r = read(kfd, b, sizeof(b));
	return r == 0 || (r < 0 && errno == ECONNRESET);
}

Test(accq, poll_reports_the_listener_while_accepted_ahead)
{
	uint16_t port;
	int lfd = listener(&port), k[N], fds[N];
	bool seen[N] = { 0 };

	clients(port, k);
	for (int i = 0; i < N; i++) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };

		/* a server that accepts one connection per wake-up */
		cr_assert(poll(&p, 1, 2000) == 1 && (p.revents & POLLIN), "connection %d: not reported", i);
		fds[i] = accept(lfd, NULL, NULL);
		cr_assert(fds[i] >= 0, "accept %d: %s", i, strerror(errno));
		who(fds[i], seen);
	}
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	cr_expect_eq(poll(&p, 1, 100), 0, "readable with every connection accepted");
	cr_expect(accept(lfd, NULL, NULL) < 0 && errno == EAGAIN);
	for (int i = 0; i < N; i++) {
		/* each works both ways */
		cr_assert(write(fds[i], "x", 1) == 1);
		close(fds[i]);
		close(k[i]);
	}
	close(lfd);
}

Test(accq, epoll_level_triggered_one_accept_per_wait)
{
	uint16_t port;
	int lfd = listener(&port), k[N], ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };
	bool seen[N] = { 0 };

	cr_assert(epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == 0);
	clients(port, k);
	for (int i = 0; i < N; i++) {
		int fd;

		cr_assert_eq(epoll_wait(ep, &ev, 1, 2000), 1, "connection %d: not reported", i);
		cr_assert((fd = accept(lfd, NULL, NULL)) >= 0, "accept %d: %s", i, strerror(errno));
		who(fd, seen);
		close(fd);
	}
	cr_expect_eq(epoll_wait(ep, &ev, 1, 100), 0, "reported with every connection accepted");
	clients_close(k);
	close(ep);
	close(lfd);
}

Test(accq, epoll_edge_triggered_gets_its_edges)
{
	uint16_t port;
	int lfd = listener(&port), k[N], ep = epoll_create1(0), fd, n = 0;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.fd = lfd };
	bool seen[N] = { 0 };

	cr_assert(epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == 0);
	clients(port, k);
	cr_assert_eq(epoll_wait(ep, &ev, 1, 2000), 1);
	/* accept until EAGAIN, as an edge-triggered server does */
	while ((fd = accept(lfd, NULL, NULL)) >= 0) {
		who(fd, seen);
		close(fd);
		n++;
	}
	cr_assert_eq(errno, EAGAIN);
	cr_assert_eq(n, N);
	cr_expect_eq(epoll_wait(ep, &ev, 1, 100), 0, "an edge without a connection");
	/* a new connection is a new edge */
	int k2 = k_connect(plenv_eaddr(), port);
	cr_assert_eq(epoll_wait(ep, &ev, 1, 2000), 1, "no edge for a new connection");
	cr_assert((fd = accept(lfd, NULL, NULL)) >= 0);
	close(fd);
	close(k2);
	clients_close(k);
	close(ep);
	close(lfd);
}

Test(accq, accept4_flags_apply_to_each_call)
{
	uint16_t port;
	int lfd = listener(&port), k[N], fd;
	bool seen[N] = { 0 };

	clients(port, k);
	for (int i = 0; i < N; i++) {
		int fl = (i & 1 ? SOCK_NONBLOCK : 0) | (i & 2 ? SOCK_CLOEXEC : 0);
		struct pollfd p = { .fd = lfd, .events = POLLIN };

		cr_assert(poll(&p, 1, 2000) == 1);
		cr_assert((fd = accept4(lfd, NULL, NULL, fl)) >= 0, "accept4 %d: %s", i, strerror(errno));
		cr_expect_eq(!!(fcntl(fd, F_GETFL) & O_NONBLOCK), !!(fl & SOCK_NONBLOCK),
			     "accept4 %d: O_NONBLOCK", i);
		cr_expect_eq(!!(fcntl(fd, F_GETFD) & FD_CLOEXEC), !!(fl & SOCK_CLOEXEC),
			     "accept4 %d: FD_CLOEXEC", i);
		who(fd, seen);
		close(fd);
	}
	clients_close(k);
	close(lfd);
}

/* Only the process that took them hands them out: a forked child's copies would
 * keep the parent's connections open after the parent closed them. */
Test(accq, fork_leaves_them_to_the_parent)
{
	uint16_t port;
	int lfd = listener(&port), k[N], fd, pp[2], back[2], i0;
	bool seen[N] = { 0 };
	pid_t pid;
	char c;

	clients(port, k);
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	cr_assert(poll(&p, 1, 2000) == 1);
	cr_assert((fd = accept(lfd, NULL, NULL)) >= 0);
	who(fd, seen);
	close(fd);
	cr_assert(pipe(pp) == 0 && pipe(back) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		/* nothing to accept here: the parent took them */
		struct pollfd q = { .fd = lfd, .events = POLLIN };
		int r, a;

		/* a parent that fails ends this child too: EOF on pp, and the alarm */
		close(pp[1]);
		alarm(10);
		r = poll(&q, 1, 0);
		a = accept(lfd, NULL, NULL);

		if (write(back[1], r == 0 && a < 0 && errno == EAGAIN ? "y" : "n", 1) != 1)
			_exit(2);
		/* alive while the parent closes what it accepts */
		(void)read(pp[0], &c, 1);
		_exit(0);
	}
	cr_assert(read(back[0], &c, 1) == 1);
	cr_expect_eq(c, 'y', "the child could accept the parent's connections");
	cr_assert((fd = accept(lfd, NULL, NULL)) >= 0, "accept: %s", strerror(errno));
	i0 = who(fd, seen);
	close(fd);
	/* the child holds no copy: the client sees the close */
	cr_expect(k_ended(k[i0]), "connection %d still open after the parent's close", i0);
	cr_assert(write(pp[1], "x", 1) == 1);
	waitpid(pid, NULL, 0);
	for (int i = 2; i < N; i++) {
		cr_assert((fd = accept(lfd, NULL, NULL)) >= 0, "accept: %s", strerror(errno));
		who(fd, seen);
		close(fd);
	}
	clients_close(k);
	close(pp[0]);
	close(pp[1]);
	close(back[0]);
	close(back[1]);
	close(lfd);
}

/* The listener's close with connections taken and not accepted: they are
 * closed as Linux closes connections never accepted, and no fd stays. */
Test(accq, close_ends_those_not_accepted)
{
	uint16_t port;
	int lfd = listener(&port), k[N], fd, i0, before = count_fds();
	bool seen[N] = { 0 };

	clients(port, k);
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	cr_assert(poll(&p, 1, 2000) == 1);
	cr_assert((fd = accept(lfd, NULL, NULL)) >= 0);
	i0 = who(fd, seen);
	close(lfd);
	for (int i = 0; i < N; i++)
		if (i != i0)
			cr_expect(k_ended(k[i]), "connection %d open after the listener's close", i);
	/* the one accepted stays */
	cr_assert(write(k[i0], "z", 1) == 1);
	char b;
	cr_assert(poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, 2000) == 1);
	cr_expect(read(fd, &b, 1) == 1 && b == 'z');
	close(fd);
	clients_close(k);
	cr_expect_eq(count_fds(), before - 1, "fds left: %d, %d before (the listener's among them)",
		     count_fds(), before);
}

/* A blocking accept() takes one: the others stay in the engine's queue for
 * any process or thread (a pool of blocking acceptors shares them). */
Test(accq, blocking_accept_takes_one)
{
	uint16_t port;
	int lfd = listener(&port), k[N], fd, st;
	bool seen[N] = { 0 };
	pid_t pid;

	cr_assert(fcntl(lfd, F_SETFL, 0) == 0);
	clients(port, k);
	cr_assert((fd = accept(lfd, NULL, NULL)) >= 0, "accept: %s", strerror(errno));
	who(fd, seen);
	close(fd);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		/* blocking: returns at once only if the engine still queues one */
		alarm(5);
		_exit(accept(lfd, NULL, NULL) >= 0 ? 0 : 1);
	}
	cr_assert(waitpid(pid, &st, 0) == pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child found nothing to accept");
	clients_close(k);
	close(lfd);
}

/* A listener two processes asked about (prefork workers) gets one connection
 * per accept(): the rest stay in the engine's queue for the other worker. */
Test(accq, shared_listener_takes_one)
{
	uint16_t port;
	int lfd = listener(&port), k[N], fd, st, up[2], go[2];
	bool seen[N] = { 0 };
	pid_t pid;

	cr_assert(pipe(up) == 0 && pipe(go) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct sockaddr_in sa;
		socklen_t len = sizeof(sa);
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		int got = 0;
		char b;

		alarm(10);
		/* a request of its own: the engine now knows two holders */
		if (getsockname(lfd, (struct sockaddr *)&sa, &len) != 0 || write(up[1], "r", 1) != 1)
			_exit(2);
		if (read(go[0], &b, 1) != 1)   /* the parent took its one */
			_exit(3);
		while (got < N - 1 && poll(&p, 1, 2000) == 1) {
			int c = accept(lfd, NULL, NULL);

			if (c < 0 && errno != EAGAIN)
				_exit(4);
			if (c >= 0) {
				close(c);
				got++;
			}
		}
		_exit(got == N - 1 ? 0 : 1);
	}
	char b;

	cr_assert(read(up[0], &b, 1) == 1);
	clients(port, k);
	cr_assert((fd = accept(lfd, NULL, NULL)) >= 0, "accept: %s", strerror(errno));
	who(fd, seen);
	close(fd);
	cr_assert(write(go[1], "a", 1) == 1);
	cr_assert(waitpid(pid, &st, 0) == pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "the other process did not get the other %d connections (status %d)", N - 1, st);
	clients_close(k);
	close(lfd);
	close(up[0]);
	close(up[1]);
	close(go[0]);
	close(go[1]);
}

/* Connections pushed by the engine one at a time (psock.h PSOCK_ACCEPT_PUSH):
 * an event loop's first accept() that asks the engine arms the listener; each
 * connection then comes without a request, exactly once, with its address, and
 * the listener is readable exactly while one waits (level- and edge-triggered). */
static void pushed_one_at_a_time(uint32_t evs)
{
	uint16_t port;
	int lfd = listener(&port), ep = epoll_create1(0), fd, k;
	struct epoll_event ev = { .events = evs, .data.fd = lfd };
	bool seen[N] = { 0 };

	cr_assert(epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == 0);
	cr_assert(accept(lfd, NULL, NULL) < 0 && errno == EAGAIN);
	for (int i = 0; i < N; i++) {
		struct sockaddr_in sa, ka;
		socklen_t len = sizeof(sa), klen = sizeof(ka);
		uint8_t b = (uint8_t)i;

		k = k_connect(plenv_eaddr(), port);
		cr_assert(write(k, &b, 1) == 1);
		cr_assert_eq(epoll_wait(ep, &ev, 1, 2000), 1, "connection %d: not reported", i);
		cr_assert((fd = accept(lfd, (struct sockaddr *)&sa, &len)) >= 0, "accept %d: %s", i,
			  strerror(errno));
		cr_assert(getsockname(k, (struct sockaddr *)&ka, &klen) == 0);
		cr_expect(sa.sin_port == ka.sin_port && sa.sin_addr.s_addr == ka.sin_addr.s_addr,
			  "connection %d: accept() named another peer", i);
		cr_expect(accept(lfd, NULL, NULL) < 0 && errno == EAGAIN, "connection %d: a second one", i);
		cr_expect_eq(epoll_wait(ep, &ev, 1, 0), 0, "connection %d: readable once accepted", i);
		who(fd, seen);
		cr_assert(write(fd, "y", 1) == 1);
		cr_assert(read(k, &b, 1) == 1 && b == 'y');
		close(fd);
		close(k);
	}
	/* a burst after the pushes: one pushed, the others queued, all taken once */
	int ks[3];
	for (int i = 0; i < 3; i++) {
		uint8_t b = (uint8_t)i;

		ks[i] = k_connect(plenv_eaddr(), port);
		cr_assert(write(ks[i], &b, 1) == 1);
	}
	usleep(100 * 1000);
	memset(seen, 0, sizeof(seen));
	for (int n = 0; n < 3;) {
		cr_assert_eq(epoll_wait(ep, &ev, 1, 2000), 1, "burst: %d of 3 reported", n);
		/* one per wake-up, or until EAGAIN as an edge-triggered server must */
		do {
			cr_assert((fd = accept(lfd, NULL, NULL)) >= 0 || (evs & EPOLLET),
				  "burst %d: %s", n, strerror(errno));
			if (fd >= 0) {
				who(fd, seen);
				close(fd);
				n++;
			}
		} while (fd >= 0 && (evs & EPOLLET));
		cr_assert(fd >= 0 || errno == EAGAIN);
	}
	cr_expect(accept(lfd, NULL, NULL) < 0 && errno == EAGAIN);
	cr_expect_eq(epoll_wait(ep, &ev, 1, 100), 0, "readable with every connection accepted");
	for (int i = 0; i < 3; i++)
		close(ks[i]);
	close(ep);
	close(lfd);
}

Test(accq, pushed_level_triggered) { pushed_one_at_a_time(EPOLLIN); }
Test(accq, pushed_edge_triggered) { pushed_one_at_a_time(EPOLLIN | EPOLLET); }

/* A connection pushed and not accepted: the listener's close closes it (as
 * Linux closes those never accepted), no fd stays; a forked child sees none. */
Test(accq, pushed_fork_and_close)
{
	uint16_t port;
	int lfd = listener(&port), k, before = count_fds(), st, fd;
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	pid_t pid;

	/* the first connection's accept asks the engine: it arms the listener */
	k = k_connect(plenv_eaddr(), port);
	cr_assert(poll(&p, 1, 2000) == 1);
	cr_assert((fd = accept(lfd, NULL, NULL)) >= 0);
	close(fd);
	close(k);
	k = k_connect(plenv_eaddr(), port);
	cr_assert(poll(&p, 1, 2000) == 1, "not reported");
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct pollfd q = { .fd = lfd, .events = POLLIN };
		int r = poll(&q, 1, 0), a = accept(lfd, NULL, NULL);

		_exit(r == 0 && a < 0 && errno == EAGAIN ? 0 : 1);
	}
	cr_assert(waitpid(pid, &st, 0) == pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child saw the parent's connection");
	cr_expect(poll(&p, 1, 0) == 1, "the parent lost its connection to the child");
	close(lfd);
	cr_expect(k_ended(k), "pushed connection open after the listener's close");
	close(k);
	cr_expect_eq(count_fds(), before - 1, "fds left: %d, %d before (the listener's among them)",
		     count_fds(), before);
}

int main(int argc, char **argv)
{
	return plenv_main(argc, argv, 129, "accq");
}
