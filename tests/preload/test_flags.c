/* test_flags.c - MSG_MORE on the ring path, SO_LINGER with a positive timeout, the exec family keeping programs on tapsock (tcp(7) MSG_MORE, socket(7) SO_LINGER, execve(2), posix_spawn(3)).
 *
 * Subnet 10.77.125.0/24 (test_poll_env.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/psock.h"
#include "test_poll_env.h"

extern char **environ;

TestSuite(flags, .timeout = 30);

/* Bytes the kernel peer can read within ms (0 when none). */
static ssize_t k_read_within(int kfd, char *buf, size_t len, int ms)
{
	struct pollfd p = { .fd = kfd, .events = POLLIN };

	if (poll(&p, 1, ms) != 1)
		return 0;
	return read(kfd, buf, len);
}

static void k_read_exact(int kfd, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = k_read_within(kfd, buf + got, n - got, 5000);
		cr_assert(r > 0, "kernel peer: %zu of %zu bytes", got, n);
		got += (size_t)r;
	}
}

/* ---- MSG_MORE ---- */

Test(flags, msg_more_holds_a_small_write_until_the_next_send)
{
	int kfd, fd = t_connect_pair(&kfd, 0);
	char buf[16];

	/* without it, a small write goes at once */
	cr_assert(send(fd, "xyz", 3, 0) == 3);
	k_read_exact(kfd, buf, 3);
	cr_expect(!memcmp(buf, "xyz", 3));
	/* with it, the engine's TCP corks the write (Linux: up to the next send
	 * without MSG_MORE, 200 ms at most) */
	cr_assert(send(fd, "abc", 3, MSG_MORE) == 3);
	cr_expect_eq(k_read_within(kfd, buf, sizeof(buf), 80), 0,
		     "a MSG_MORE write went out alone");
	cr_assert(send(fd, "def", 3, 0) == 3);
	k_read_exact(kfd, buf, 6);
	cr_expect(!memcmp(buf, "abcdef", 6), "got %.6s", buf);
	close(fd);
	close(kfd);
}

/* ---- SO_LINGER ---- */

static void set_linger(int fd, int secs)
{
	struct linger lg = { 1, secs };

	cr_assert(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0, "SO_LINGER: %s",
		  strerror(errno));
}

/* A connection whose peer reads nothing, with our send side full: our FIN cannot
 * go out (it waits behind the data for a window). */
static int stuck_pair(int *kfd)
{
	int fd = t_connect_pair(kfd, 4096);

	fcntl(fd, F_SETFL, O_NONBLOCK);
	fill_nonblock(fd);
	return fd;
}

Test(flags, linger_close_returns_once_the_fin_is_acknowledged)
{
	int kfd, fd = t_connect_pair(&kfd, 0);
	char buf[4];

	set_linger(fd, 5);
	cr_assert(send(fd, "bye", 3, 0) == 3);
	long long t0 = now_ms();
	cr_assert(close(fd) == 0);
	long long el = now_ms() - t0;
	cr_expect(el < 1000, "close took %lld ms", el);
	k_read_exact(kfd, buf, 3);
	cr_expect(!memcmp(buf, "bye", 3));
	cr_expect_eq(k_read_within(kfd, buf, 1, 2000), 0, "no EOF after the lingering close");
	close(kfd);
}

Test(flags, linger_close_waits_at_most_the_linger_time)
{
	int kfd, fd = stuck_pair(&kfd);

	set_linger(fd, 1);
	long long t0 = now_ms();
	cr_assert(close(fd) == 0);
	long long el = now_ms() - t0;
	cr_expect(el >= 900 && el < 2500, "close took %lld ms, the linger time is 1 s", el);
	close(kfd);
}

Test(flags, close_without_linger_does_not_wait)
{
	int kfd, fd = stuck_pair(&kfd);
	long long t0 = now_ms();

	cr_assert(close(fd) == 0);
	cr_expect(now_ms() - t0 < 300, "close took %lld ms", now_ms() - t0);
	close(kfd);
}

Test(flags, linger_close_of_a_copy_another_process_holds_does_not_wait)
{
	int kfd, fd = stuck_pair(&kfd), c2p[2], p2c[2];

	set_linger(fd, 2);
	cr_assert(pipe(c2p) == 0 && pipe(p2c) == 0);
	pid_t c = fork();
	if (c == 0) {
		struct sockaddr_in sa;
		socklen_t l = sizeof(sa);
		char x;
		getsockname(fd, (struct sockaddr *)&sa, &l);   /* known to the engine */
		if (write(c2p[1], "r", 1) != 1 || read(p2c[0], &x, 1) < 0)
			_exit(1);
		_exit(0);
	}
	char x;
	cr_assert(read(c2p[0], &x, 1) == 1);
	long long t0 = now_ms();
	cr_assert(close(fd) == 0);
	long long el = now_ms() - t0;
	cr_expect(el < 500, "close of a socket another process holds took %lld ms", el);
	cr_assert(write(p2c[1], "x", 1) == 1);
	waitpid(c, NULL, 0);
	close(kfd);
}

/* ---- IPV6_V6ONLY beside IPv4 (nginx: listen 80; listen [::]:80) ---- */

Test(flags, v6only_listener_shares_the_port_with_ipv4_and_is_never_ready)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 }, got;
	socklen_t l = sizeof(sa);
	int one = 1;
	int v4 = t_socket(0), v6 = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);

	cr_assert(v6 >= 0);
	cr_assert(bind(v4, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	cr_assert(listen(v4, 8) == 0);
	cr_assert(getsockname(v4, (struct sockaddr *)&sa, &l) == 0);
	cr_assert(setsockopt(v6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == 0);
	s6.sin6_port = sa.sin_port;
	cr_assert(bind(v6, (struct sockaddr *)&s6, sizeof(s6)) == 0, "bind [::]:%u beside 0.0.0.0: %s",
		  ntohs(sa.sin_port), strerror(errno));
	cr_assert(listen(v6, 8) == 0);
	l = sizeof(got);
	cr_assert(getsockname(v6, (struct sockaddr *)&got, &l) == 0);
	cr_expect(got.sin6_family == AF_INET6 && got.sin6_port == sa.sin_port &&
		  IN6_IS_ADDR_UNSPECIFIED(&got.sin6_addr));
	/* an IPv4 client reaches the IPv4 listener; the IPv6 one never has anything */
	int k = k_connect(plenv_eaddr(), ntohs(sa.sin_port));
	struct pollfd p[2] = { { .fd = v4, .events = POLLIN }, { .fd = v6, .events = POLLIN } };
	cr_expect_eq(poll(p, 2, 2000), 1);
	cr_expect(p[0].revents & POLLIN);
	cr_expect_eq(p[1].revents, 0);
	cr_expect(accept(v6, NULL, NULL) == -1 && errno == EAGAIN);
	int c = accept(v4, NULL, NULL);
	cr_expect(c >= 0);
	close(c);
	close(k);
	close(v6);
	close(v4);
}

/* ---- EOF behind a full receive ring ---- */

Test(flags, eof_behind_exactly_a_full_receive_ring_is_seen)
{
	int kfd, fd = t_connect_pair(&kfd, 0);
	static char buf[PSOCK_RING_SIZE];
	struct timeval tv = { 3, 0 };
	size_t got = 0;

	/* exactly a ring's worth, then the FIN, all arrived before we read */
	memset(buf, 'r', sizeof(buf));
	for (size_t off = 0; off < sizeof(buf);) {
		ssize_t w = write(kfd, buf + off, sizeof(buf) - off);
		cr_assert(w > 0);
		off += (size_t)w;
	}
	cr_assert(shutdown(kfd, SHUT_WR) == 0);
	usleep(300000);
	cr_assert(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
	while (got < sizeof(buf)) {
		ssize_t r = recv(fd, buf, sizeof(buf) - got, 0);
		cr_assert(r > 0, "recv after %zu bytes: %zd (%s)", got, r, strerror(errno));
		got += (size_t)r;
	}
	errno = 0;
	cr_expect_eq(recv(fd, buf, 1, 0), 0, "no EOF after the ring's bytes (%s)", strerror(errno));
	close(fd);
	close(kfd);
}

/* ---- the exec family ---- */

/* The exec'd program: still on tapsock, with the environment it needs. */
static int exec_check(int fd)
{
	const char *lp = getenv("LD_PRELOAD"), *lib = getenv("TAPSOCK_LIB");
	int dom = 0;
	socklen_t dl = sizeof(dom);

	if (!lp || !strstr(lp, "libtapsock"))
		return 30;
	if (!lib)
		return 31;   /* TAPSOCK_* kept */
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &dl) < 0 || dom != AF_INET)
		return 32;   /* the inherited fd is a tapsock socket again */
	return send(fd, "E", 1, 0) == 1 ? 0 : 33;
}

static char self[PATH_MAX];

static void self_path(void)
{
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	cr_assert(n > 0);
	self[n] = 0;
}

static void expect_exec(int how)
{
	int kfd, fd = t_connect_pair(&kfd, 0);
	char fds[16], b;
	char *empty[] = { NULL };
	pid_t c;

	self_path();
	snprintf(fds, sizeof(fds), "%d", fd);
	char *argv[] = { self, "--exec-check", fds, NULL };
	if (how == 3) {
		cr_assert(posix_spawn(&c, self, NULL, NULL, argv, empty) == 0);
	} else {
		c = fork();
		if (c == 0) {
			if (how == 0)
				execvpe(self, argv, empty);
			else if (how == 1)
				execle(self, self, "--exec-check", fds, (char *)NULL, empty);
			else if (how == 2) {
				/* the program clears its environment itself (clearenv:
				 * Criterion's own variables must not reach the child) */
				clearenv();
				setenv("PATH", "/usr/bin:/bin", 1);
				execvp(self, argv);
			} else if (how == 4) {
				clearenv();
				execl(self, self, "--exec-check", fds, (char *)NULL);
			}
			_exit(127);
		}
	}
	int st;
	cr_assert(waitpid(c, &st, 0) == c);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exec'd child: status %d",
		  WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
	cr_expect(k_read_within(kfd, &b, 1, 3000) == 1 && b == 'E', "the child's byte");
	close(fd);
	close(kfd);
}

Test(flags, execvpe_with_an_empty_environment_stays_on_tapsock) { expect_exec(0); }
Test(flags, execle_with_an_empty_environment_stays_on_tapsock) { expect_exec(1); }
Test(flags, execvp_after_clearenv_stays_on_tapsock) { expect_exec(2); }
Test(flags, posix_spawn_with_an_empty_environment_stays_on_tapsock) { expect_exec(3); }
Test(flags, execl_after_clearenv_stays_on_tapsock) { expect_exec(4); }

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--exec-check"))
		return exec_check(atoi(argv[2]));
	return plenv_main(argc, argv, 125, "flags");
}
