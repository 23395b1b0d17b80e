/* test_poll.c - poll() and ppoll() over tapsock sockets and kernel fds, on a real engine under LD_PRELOAD (POSIX poll(), Linux poll(2), tcp_poll()).
 *
 * What a program sees: readiness of mixed sets, blocking until the kernel peer
 * sends, POLLOUT as the send buffer fills and drains, POLLRDHUP/POLLHUP on FIN,
 * non-blocking connect, EINTR under ppoll's sigmask, and no CPU while idle.
 * Subnet 10.77.120.0/24 (test_poll_env.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "test_poll_env.h"

TestSuite(poll, .timeout = 20);

struct delayed_write {
	int fd;
	int delay_ms;
	const char *msg;
};

static void *write_later(void *arg)
{
	struct delayed_write *d = arg;

	usleep((useconds_t)d->delay_ms * 1000);
	cr_assert(write(d->fd, d->msg, strlen(d->msg)) == (ssize_t)strlen(d->msg));
	return NULL;
}

/* A tapsock socket, a pipe and a timerfd in one poll set: each reports its own
 * readiness, and a blocking poll wakes for the one that becomes ready. */
Test(poll, mixed_socket_pipe_timerfd)
{
	int kfd, p[2];
	int s = t_connect_pair(&kfd, 0);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	cr_assert(pipe(p) == 0 && tfd >= 0);

	struct pollfd fds[3] = {
		{ .fd = s, .events = POLLIN | POLLOUT },
		{ .fd = p[0], .events = POLLIN },
		{ .fd = tfd, .events = POLLIN },
	};
	/* connected, nothing received: writable only */
	cr_assert_eq(poll(fds, 3, 0), 1);
	cr_assert_eq(fds[0].revents & (POLLIN | POLLOUT), POLLOUT);
	cr_assert_eq(fds[1].revents, 0);
	cr_assert_eq(fds[2].revents, 0);

	/* the pipe becomes readable */
	cr_assert(write(p[1], "x", 1) == 1);
	cr_assert_eq(poll(fds, 3, 0), 2);
	cr_assert(fds[1].revents & POLLIN);

	/* a blocking poll for input only wakes on the timer */
	char c;
	cr_assert(read(p[0], &c, 1) == 1);
	fds[0].events = POLLIN;
	struct itimerspec its = { .it_value = { 0, 100 * 1000000L } };
	cr_assert(timerfd_settime(tfd, 0, &its, NULL) == 0);
	long long t0 = now_ms();
	cr_assert_eq(poll(fds, 3, 5000), 1);
	cr_assert(now_ms() - t0 >= 90, "woke after %lld ms, before the timer", now_ms() - t0);
	cr_assert_eq(fds[2].revents, POLLIN);
	cr_assert_eq(fds[0].revents, 0);
	uint64_t ticks;
	cr_assert(read(tfd, &ticks, sizeof(ticks)) == sizeof(ticks));

	/* then on the socket, when the kernel peer sends */
	struct delayed_write dw = { kfd, 100, "hello" };
	pthread_t th;
	pthread_create(&th, NULL, write_later, &dw);
	cr_assert_eq(poll(fds, 3, 5000), 1);
	cr_assert(fds[0].revents & POLLIN);
	cr_assert_eq(fds[1].revents | fds[2].revents, 0);
	pthread_join(th, NULL);
	char buf[16];
	cr_assert_eq(recv(s, buf, sizeof(buf), 0), 5);
	cr_assert(memcmp(buf, "hello", 5) == 0);
	close(s);
	close(kfd);
	close(p[0]);
	close(p[1]);
	close(tfd);
}

/* poll(-1) on a quiet socket sleeps until data comes, and returns only then. */
Test(poll, blocking_wakes_on_data)
{
	int kfd;
	int s = t_connect_pair(&kfd, 0);
	struct delayed_write dw = { kfd, 300, "ping" };
	pthread_t th;
	struct pollfd pf = { .fd = s, .events = POLLIN };

	pthread_create(&th, NULL, write_later, &dw);
	long long t0 = now_ms();
	cr_assert_eq(poll(&pf, 1, -1), 1);
	long long dt = now_ms() - t0;
	cr_assert(dt >= 250, "poll returned after %lld ms, before the data was sent", dt);
	cr_assert(pf.revents & POLLIN);
	pthread_join(th, NULL);
	char buf[8];
	cr_assert_eq(recv(s, buf, sizeof(buf), MSG_DONTWAIT), 4);
	close(s);
	close(kfd);
}

/* A timeout with nothing ready returns 0 after about that long. */
Test(poll, timeout_expires)
{
	int kfd;
	int s = t_connect_pair(&kfd, 0);
	struct pollfd pf = { .fd = s, .events = POLLIN };

	long long t0 = now_ms();
	cr_assert_eq(poll(&pf, 1, 200), 0);
	long long dt = now_ms() - t0;
	cr_assert(dt >= 190 && dt < 2000, "200 ms timeout took %lld ms", dt);
	cr_assert_eq(pf.revents, 0);
	close(s);
	close(kfd);
}

static void *drain_kernel(void *arg)
{
	int fd = *(int *)arg;
	char buf[65536];

	usleep(200 * 1000);
	while (read(fd, buf, sizeof(buf)) > 0) {
	}
	return NULL;
}

/* POLLOUT while the send buffer has room; none once it is full; back when the
 * kernel peer reads. */
Test(poll, pollout_follows_send_room)
{
	int kfd;
	int s = t_connect_pair(&kfd, 4096);
	struct pollfd pf = { .fd = s, .events = POLLOUT };

	cr_assert_eq(poll(&pf, 1, 0), 1);
	cr_assert(pf.revents & POLLOUT);
	/* Fill until it stays full: the engine keeps taking bytes from the send ring
	 * into TCP (POLLOUT again, rightly) until TCP and the peer's window are full
	 * too; then POLLOUT must not come while the peer reads nothing. */
	int round;
	for (round = 0; round < 100; round++) {
		fill_nonblock(s);
		if (poll(&pf, 1, 300) == 0)
			break;
		cr_assert(pf.revents & POLLOUT);
	}
	cr_assert(round < 100, "the send buffer never stayed full");
	cr_assert_eq(pf.revents, 0);

	pthread_t th;
	pthread_create(&th, NULL, drain_kernel, &kfd);
	long long t0 = now_ms();
	cr_assert_eq(poll(&pf, 1, 10000), 1);
	cr_assert(pf.revents & POLLOUT);
	cr_assert(now_ms() - t0 >= 150, "POLLOUT before the peer read anything");
	shutdown(s, SHUT_WR);  /* lets the drainer see EOF */
	pthread_join(th, NULL);
	close(s);
	close(kfd);
}

/* The peer's FIN: POLLIN|POLLRDHUP (read gives 0); after our own shutdown too,
 * POLLHUP, as Linux's tcp_poll(). */
Test(poll, fin_gives_rdhup_then_hup)
{
	int kfd;
	int s = t_connect_pair(&kfd, 0);
	struct pollfd pf = { .fd = s, .events = POLLIN | POLLRDHUP };

	cr_assert_eq(poll(&pf, 1, 0), 0);
	cr_assert(shutdown(kfd, SHUT_WR) == 0);
	cr_assert_eq(poll(&pf, 1, 5000), 1);
	cr_assert_eq(pf.revents & (POLLIN | POLLRDHUP | POLLHUP), POLLIN | POLLRDHUP);
	char c;
	cr_assert_eq(recv(s, &c, 1, 0), 0);
	/* POLLRDHUP is reported only when asked for */
	pf.events = POLLIN;
	cr_assert_eq(poll(&pf, 1, 0), 1);
	cr_assert_eq(pf.revents & POLLRDHUP, 0);

	cr_assert(shutdown(s, SHUT_WR) == 0);
	pf.events = POLLIN;
	long long t0 = now_ms();
	while (!(pf.revents & POLLHUP) && now_ms() - t0 < 5000) {
		cr_assert_eq(poll(&pf, 1, 100) >= 0, 1);
	}
	cr_assert(pf.revents & POLLHUP, "no POLLHUP after both directions closed");
	close(s);
	close(kfd);
}

/* Non-blocking connect: EINPROGRESS, then POLLOUT with SO_ERROR 0; to a closed
 * port: POLLOUT|POLLERR|POLLHUP with SO_ERROR ECONNREFUSED (Linux). */
Test(poll, nonblocking_connect)
{
	int lfd = k_listen(plenv_kaddr(), 0, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = plenv_kaddr(),
				  .sin_port = htons(k_port(lfd)) };
	int s = t_socket(1);
	int err = -1;
	socklen_t len = sizeof(err);

	cr_assert_eq(connect(s, (struct sockaddr *)&sa, sizeof(sa)), -1);
	cr_assert_eq(errno, EINPROGRESS);
	struct pollfd pf = { .fd = s, .events = POLLOUT };
	cr_assert_eq(poll(&pf, 1, 5000), 1);
	cr_assert(pf.revents & POLLOUT);
	cr_assert_eq(pf.revents & POLLERR, 0);
	cr_assert(getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0);
	cr_assert_eq(err, 0);
	close(s);
	close(lfd);

	sa.sin_port = htons(k_free_port());
	s = t_socket(1);
	cr_assert_eq(connect(s, (struct sockaddr *)&sa, sizeof(sa)), -1);
	cr_assert_eq(errno, EINPROGRESS);
	pf = (struct pollfd){ .fd = s, .events = POLLOUT };
	cr_assert_eq(poll(&pf, 1, 5000), 1);
	cr_assert(pf.revents & POLLERR, "refused connect: revents %#x", pf.revents);
	cr_assert(getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0);
	cr_assert_eq(err, ECONNREFUSED);
	close(s);
}

static void on_usr1(int sig)
{
	(void)sig;
}

struct killer {
	pthread_t target;
	int delay_ms;
};

static void *kill_later(void *arg)
{
	struct killer *k = arg;

	usleep((useconds_t)k->delay_ms * 1000);
	pthread_kill(k->target, SIGUSR1);
	return NULL;
}

/* ppoll's sigmask: SIGUSR1 blocked in the thread, unblocked only while in ppoll,
 * interrupts it: -1 EINTR (never restarted, signal(7)). */
Test(poll, ppoll_sigmask_eintr)
{
	int kfd;
	int s = t_connect_pair(&kfd, 0);
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	sigset_t block, during;
	struct killer k = { pthread_self(), 200 };
	pthread_t th;
	struct pollfd pf = { .fd = s, .events = POLLIN };

	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &block, &during);
	sigdelset(&during, SIGUSR1);
	pthread_create(&th, NULL, kill_later, &k);
	cr_assert_eq(ppoll(&pf, 1, NULL, &during), -1);
	cr_assert_eq(errno, EINTR);
	pthread_join(th, NULL);
	close(s);
	close(kfd);
}

/* An idle poll sleeps in the kernel: one second of waiting costs (almost) no CPU. */
Test(poll, idle_uses_no_cpu)
{
	int kfd;
	int s = t_connect_pair(&kfd, 0);
	struct pollfd pf = { .fd = s, .events = POLLIN };

	long long c0 = cpu_us(), t0 = now_ms();
	cr_assert_eq(poll(&pf, 1, 1000), 0);
	long long cpu = cpu_us() - c0, wall = now_ms() - t0;
	cr_assert(wall >= 990, "1 s poll returned after %lld ms", wall);
	cr_assert(cpu < 50000, "idle poll used %lld us of CPU in %lld ms", cpu, wall);
	close(s);
	close(kfd);
}

int main(int argc, char **argv)
{
	return plenv_main(argc, argv, 120, "poll");
}
