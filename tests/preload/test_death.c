/* test_death.c - the engine dies under running programs: blocked calls fail instead of hanging, a listener's accept ends a server loop, poll and epoll do not spin (DESIGN decision 8; accept(2), poll(2), epoll_wait(2)).
 *
 * One test, because it kills the engine of its namespace (subnet 10.77.124.0/24,
 * test_poll_env.h). The listener: a blocked accept fails with ECONNABORTED, every
 * later accept with EINVAL (not listening any more), and poll/epoll report it
 * (POLLERR|POLLHUP) only until an accept has told the error: then never again. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_poll_env.h"

TestSuite(death, .timeout = 30);

static pid_t engine_pid(void)
{
	char cmd[512], line[256];
	const char *ts = getenv("TAPSOCK");
	FILE *f;
	int pid = 0;

	cr_assert(ts);
	snprintf(cmd, sizeof(cmd), "%s info 2>/dev/null", ts);
	cr_assert((f = popen(cmd, "r")));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "pid %d", &pid) == 1)
			break;
	pclose(f);
	cr_assert(pid > 1, "no engine pid from tapsock info");
	return pid;
}

struct blocked {
	int fd, kind;      /* 0 accept, 1 recv */
	int ret, err;
	long long ms;      /* when it returned */
};

static void *block(void *arg)
{
	struct blocked *b = arg;
	char c;

	b->ret = b->kind == 0 ? accept(b->fd, NULL, NULL) : (int)recv(b->fd, &c, 1, 0);
	b->err = errno;
	b->ms = now_ms();
	return NULL;
}

Test(death, blocked_calls_fail_and_a_listener_neither_spins_nor_hangs)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int lfd = t_socket(0), kfd, cfd, ep;
	pthread_t ta, tr;
	struct blocked ba, br;

	cr_assert(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	cr_assert(listen(lfd, 8) == 0);
	cfd = t_connect_pair(&kfd, 0);
	ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };
	cr_assert(epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == 0);
	cr_assert(epoll_wait(ep, &ev, 1, 0) == 0, "an idle listener is not ready");

	ba = (struct blocked){ .fd = lfd, .kind = 0 };
	br = (struct blocked){ .fd = cfd, .kind = 1 };
	cr_assert(pthread_create(&ta, NULL, block, &ba) == 0);
	cr_assert(pthread_create(&tr, NULL, block, &br) == 0);
	usleep(100000);
	long long t0 = now_ms();
	cr_assert(kill(engine_pid(), SIGKILL) == 0);
	pthread_join(ta, NULL);
	pthread_join(tr, NULL);

	cr_expect(ba.ret == -1 && ba.err == ECONNABORTED, "blocked accept: %d (%s)", ba.ret,
		  strerror(ba.err));
	cr_expect(br.ret == -1 && br.err == ECONNRESET, "blocked recv: %d (%s)", br.ret,
		  strerror(br.err));
	cr_expect(ba.ms - t0 < 2000 && br.ms - t0 < 2000, "slow to notice: %lld / %lld ms",
		  ba.ms - t0, br.ms - t0);

	/* the server's loop ends: not listening any more */
	errno = 0;
	cr_expect(accept(lfd, NULL, NULL) == -1 && errno == EINVAL, "accept after: %s",
		  strerror(errno));
	int fl = SOCK_NONBLOCK;
	cr_expect(accept4(lfd, NULL, NULL, fl) == -1 && errno == EINVAL);

	/* and its event loop sleeps instead of spinning */
	long long cpu0 = cpu_us(), w0 = now_ms();
	int n = epoll_wait(ep, &ev, 1, 300);
	cr_expect_eq(n, 0, "epoll reports the dead listener (events %#x)", n > 0 ? ev.events : 0);
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	n = poll(&p, 1, 300);
	cr_expect_eq(n, 0, "poll reports the dead listener (revents %#x)", p.revents);
	long long cpu = cpu_us() - cpu0, wall = now_ms() - w0;
	cr_expect(wall >= 550, "the waits did not wait: %lld ms", wall);
	cr_expect(cpu < 100000, "%lld us of CPU in 600 ms of waiting", cpu);

	/* a connected socket stays failed: send EPIPE, poll says error/hang-up */
	signal(SIGPIPE, SIG_IGN);
	cr_expect(send(cfd, "x", 1, 0) == -1 && errno == EPIPE, "send after: %s", strerror(errno));
	p = (struct pollfd){ .fd = cfd, .events = POLLIN };
	cr_expect(poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)), "revents %#x", p.revents);

	/* a new socket: a clear error */
	errno = 0;
	cr_expect(socket(AF_INET, SOCK_STREAM, 0) == -1 && errno == ENETDOWN, "socket: %s",
		  strerror(errno));
	close(ep);
	close(lfd);
	close(cfd);
	close(kfd);
}

int main(int argc, char **argv)
{
	return plenv_main(argc, argv, 124, "death");
}
