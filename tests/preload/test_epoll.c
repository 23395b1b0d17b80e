/* test_epoll.c - epoll over tapsock sockets and kernel fds, on a real engine under LD_PRELOAD (Linux epoll(7), epoll_ctl(2), epoll_wait(2)).
 *
 * Level and edge triggering, EPOLLONESHOT and EPOLL_CTL_MOD, EPOLLRDHUP, EPOLLOUT,
 * EPOLLEXCLUSIVE's rules, a listener's EPOLLIN, maxevents, timeouts and sigmask,
 * threads, and no CPU while idle. Subnet 10.77.122.0/24 (test_poll_env.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "test_poll_env.h"

TestSuite(epoll, .timeout = 30);

static int ep_add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* Wait for exactly one event; its events (0 on timeout). */
static uint32_t wait1(int ep, int ms, uint64_t *data)
{
	struct epoll_event ev[4];
	int n = epoll_wait(ep, ev, 4, ms);

	cr_assert(n >= 0, "epoll_wait: %s", strerror(errno));
	cr_assert(n <= 1, "%d events where one was expected", n);
	if (n == 0)
		return 0;
	if (data)
		*data = ev[0].data.u64;
	return ev[0].events;
}

static void kwrite(int fd, const char *s)
{
	cr_assert(write(fd, s, strlen(s)) == (ssize_t)strlen(s));
}

/* Wait (up to 5 s) until the socket has n bytes to read: data crosses the TAP. */
static void await_bytes(int s, int n)
{
	char buf[256];
	long long t0 = now_ms();

	while (recv(s, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT) < n) {
		cr_assert(now_ms() - t0 < 5000, "data did not arrive");
		usleep(2000);
	}
}

/* Level-triggered: reported at every epoll_wait while data is unread. */
Test(epoll, level_triggered)
{
	int kfd, s = t_connect_pair(&kfd, 0);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	uint64_t d = 0;

	cr_assert(ep >= 0);
	cr_assert_eq(ep_add(ep, s, EPOLLIN, 42), 0);
	cr_assert_eq(wait1(ep, 0, NULL), 0);
	kwrite(kfd, "abc");
	cr_assert_eq(wait1(ep, 5000, &d), EPOLLIN);
	cr_assert_eq(d, 42);
	cr_assert_eq(wait1(ep, 0, NULL), EPOLLIN);
	cr_assert_eq(wait1(ep, 100, NULL), EPOLLIN);
	char buf[8];
	cr_assert_eq(recv(s, buf, sizeof(buf), 0), 3);
	cr_assert_eq(wait1(ep, 0, NULL), 0);
	close(ep);
	close(s);
	close(kfd);
}

/* Edge-triggered: one report per arrival, none while the data just sits there;
 * after reading everything (EAGAIN), new data is a new edge even when it comes
 * while the program is not in epoll_wait (the pattern of nginx and friends). */
Test(epoll, edge_triggered)
{
	int kfd, s = t_connect_pair(&kfd, 0);
	int ep = epoll_create1(0);
	char buf[64];

	cr_assert_eq(ep_add(ep, s, EPOLLIN | EPOLLOUT | EPOLLET, 7), 0);
	/* the first look: writable */
	cr_assert_eq(wait1(ep, 1000, NULL), EPOLLOUT);
	cr_assert_eq(wait1(ep, 200, NULL), 0, "writable reported again without an edge");

	kwrite(kfd, "one");
	uint32_t e = wait1(ep, 5000, NULL);
	cr_assert(e & EPOLLIN, "events %#x", e);
	cr_assert_eq(wait1(ep, 200, NULL), 0, "edge-triggered input reported twice");

	/* read to EAGAIN, then the next data arrives before we wait */
	cr_assert_eq(recv(s, buf, sizeof(buf), 0), 3);
	cr_assert_eq(recv(s, buf, sizeof(buf), MSG_DONTWAIT), -1);
	cr_assert_eq(errno, EAGAIN);
	kwrite(kfd, "two");
	await_bytes(s, 3);
	e = wait1(ep, 2000, NULL);
	cr_assert(e & EPOLLIN, "new data after EAGAIN not reported (events %#x)", e);

	/* data left unread and nothing new: no report */
	cr_assert_eq(wait1(ep, 200, NULL), 0);
	close(ep);
	close(s);
	close(kfd);
}

/* EPOLLONESHOT: one report, then silence until EPOLL_CTL_MOD re-arms it. */
Test(epoll, oneshot_and_mod)
{
	int kfd, s = t_connect_pair(&kfd, 0);
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.u64 = 1 };

	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev), 0);
	kwrite(kfd, "x");
	cr_assert_eq(wait1(ep, 5000, NULL), EPOLLIN);
	kwrite(kfd, "y");
	await_bytes(s, 2);
	cr_assert_eq(wait1(ep, 200, NULL), 0, "one-shot item reported twice");
	ev.data.u64 = 2;
	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev), 0);
	uint64_t d = 0;
	cr_assert_eq(wait1(ep, 1000, &d), EPOLLIN);
	cr_assert_eq(d, 2, "MOD's new data word");
	cr_assert_eq(wait1(ep, 100, NULL), 0);
	close(ep);
	close(s);
	close(kfd);
}

/* The peer's FIN: EPOLLIN|EPOLLRDHUP when asked for; EPOLLHUP once both ways
 * are shut. */
Test(epoll, rdhup_on_fin)
{
	int kfd, s = t_connect_pair(&kfd, 0);
	int ep = epoll_create1(0);

	cr_assert_eq(ep_add(ep, s, EPOLLIN | EPOLLRDHUP, 0), 0);
	cr_assert_eq(wait1(ep, 0, NULL), 0);
	cr_assert(shutdown(kfd, SHUT_WR) == 0);
	uint32_t e = wait1(ep, 5000, NULL);
	cr_assert_eq(e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP), EPOLLIN | EPOLLRDHUP, "events %#x", e);
	cr_assert(shutdown(s, SHUT_WR) == 0);
	long long t0 = now_ms();
	while (!((e = wait1(ep, 100, NULL)) & EPOLLHUP) && now_ms() - t0 < 5000) {
	}
	cr_assert(e & EPOLLHUP, "no EPOLLHUP after both directions closed");
	close(ep);
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

/* EPOLLOUT comes from the send buffer: absent when full, back when the peer reads. */
Test(epoll, epollout_follows_send_room)
{
	int kfd, s = t_connect_pair(&kfd, 4096);
	int ep = epoll_create1(0);

	cr_assert_eq(ep_add(ep, s, EPOLLOUT, 0), 0);
	cr_assert_eq(wait1(ep, 0, NULL), EPOLLOUT);
	/* fill until it stays full (the engine moves bytes on into TCP meanwhile) */
	int round;
	for (round = 0; round < 100; round++) {
		fill_nonblock(s);
		if (wait1(ep, 300, NULL) == 0)
			break;
	}
	cr_assert(round < 100, "EPOLLOUT with a full send buffer");
	pthread_t th;
	pthread_create(&th, NULL, drain_kernel, &kfd);
	cr_assert_eq(wait1(ep, 10000, NULL), EPOLLOUT);
	shutdown(s, SHUT_WR);
	pthread_join(th, NULL);
	close(ep);
	close(s);
	close(kfd);
}

/* Mixed interest list: tapsock socket, pipe and timerfd, each with its data
 * word; maxevents 1 still reports them all over successive calls. */
Test(epoll, mixed_and_maxevents)
{
	int kfd, s = t_connect_pair(&kfd, 0), p[2];
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	int ep = epoll_create1(0);
	struct epoll_event ev[8];

	cr_assert(pipe(p) == 0 && tfd >= 0);
	cr_assert_eq(ep_add(ep, s, EPOLLIN, 1), 0);
	cr_assert_eq(ep_add(ep, p[0], EPOLLIN, 2), 0);
	cr_assert_eq(ep_add(ep, tfd, EPOLLIN, 3), 0);
	cr_assert_eq(epoll_wait(ep, ev, 8, 0), 0);

	struct itimerspec its = { .it_value = { 0, 100 * 1000000L } };
	cr_assert(timerfd_settime(tfd, 0, &its, NULL) == 0);
	long long t0 = now_ms();
	uint64_t d = 0;
	cr_assert_eq(wait1(ep, 5000, &d), EPOLLIN);
	cr_assert_eq(d, 3);
	cr_assert(now_ms() - t0 >= 90);
	uint64_t ticks;
	cr_assert(read(tfd, &ticks, sizeof(ticks)) == sizeof(ticks));

	kwrite(kfd, "s");
	await_bytes(s, 1);
	cr_assert(write(p[1], "p", 1) == 1);
	unsigned seen = 0;
	for (int i = 0; i < 4; i++) {
		int n = epoll_wait(ep, ev, 1, 1000);
		cr_assert_eq(n, 1);
		seen |= 1u << ev[0].data.u64;
	}
	cr_assert_eq(seen, (1u << 1) | (1u << 2), "both ready fds reported with maxevents 1");
	cr_assert_eq(epoll_wait(ep, ev, 0, 0), -1);
	cr_assert_eq(errno, EINVAL);
	close(ep);
	close(s);
	close(kfd);
	close(p[0]);
	close(p[1]);
	close(tfd);
}

/* A listening tapsock socket is readable when a kernel client connects. */
Test(epoll, listener_readable_on_connect)
{
	int l = t_socket(1), ep = epoll_create1(0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = plenv_eaddr() };
	socklen_t len = sizeof(sa);

	cr_assert(bind(l, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind: %s", strerror(errno));
	cr_assert(listen(l, 8) == 0);
	cr_assert(getsockname(l, (struct sockaddr *)&sa, &len) == 0);
	cr_assert_eq(ep_add(ep, l, EPOLLIN | EPOLLET, 9), 0);
	cr_assert_eq(wait1(ep, 0, NULL), 0);
	int kc = k_connect(plenv_eaddr(), ntohs(sa.sin_port));
	cr_assert_eq(wait1(ep, 5000, NULL), EPOLLIN);
	int a = accept(l, NULL, NULL);
	cr_assert(a >= 0, "accept: %s", strerror(errno));
	close(a);
	close(kc);
	close(ep);
	close(l);
}

/* Non-blocking connect through epoll: EPOLLOUT and SO_ERROR 0; refused:
 * EPOLLERR (with EPOLLHUP) and ECONNREFUSED. */
Test(epoll, nonblocking_connect)
{
	int lfd = k_listen(plenv_kaddr(), 0, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = plenv_kaddr(),
				  .sin_port = htons(k_port(lfd)) };
	int s = t_socket(1), ep = epoll_create1(0), err = -1;
	socklen_t len = sizeof(err);

	cr_assert_eq(connect(s, (struct sockaddr *)&sa, sizeof(sa)), -1);
	cr_assert_eq(errno, EINPROGRESS);
	cr_assert_eq(ep_add(ep, s, EPOLLOUT | EPOLLET, 0), 0);
	cr_assert(wait1(ep, 5000, NULL) & EPOLLOUT);
	cr_assert(getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0);
	cr_assert_eq(err, 0);
	close(s);
	close(lfd);

	sa.sin_port = htons(k_free_port());
	s = t_socket(1);
	cr_assert_eq(connect(s, (struct sockaddr *)&sa, sizeof(sa)), -1);
	cr_assert_eq(errno, EINPROGRESS);
	cr_assert_eq(ep_add(ep, s, EPOLLOUT, 0), 0);
	uint32_t e = wait1(ep, 5000, NULL);
	cr_assert(e & EPOLLERR, "refused: events %#x", e);
	cr_assert(getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0);
	cr_assert_eq(err, ECONNREFUSED);
	close(s);
	close(ep);
}

/* epoll_ctl errors as Linux: EEXIST, ENOENT, EPOLLEXCLUSIVE's rules; DEL stops
 * the reports; a closed socket leaves the set. */
Test(epoll, ctl_rules)
{
	int kfd, s = t_connect_pair(&kfd, 0), ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN };

	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev), -1);
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL), -1);
	cr_assert_eq(errno, ENOENT);
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLEXCLUSIVE;
	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev), -1);
	cr_assert_eq(errno, EINVAL);
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev), 0);
	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev), -1);
	cr_assert_eq(errno, EEXIST);
	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev), -1);
	cr_assert_eq(errno, EINVAL);
	kwrite(kfd, "z");
	cr_assert_eq(wait1(ep, 5000, NULL), EPOLLIN);
	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL), 0);
	cr_assert_eq(wait1(ep, 100, NULL), 0);
	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev), 0);
	cr_assert_eq(wait1(ep, 1000, NULL), EPOLLIN);
	close(s);
	cr_assert_eq(wait1(ep, 100, NULL), 0, "a closed socket is still reported");
	close(ep);
	close(kfd);
}

/* close() drops the socket from every instance that holds it and from no other
 * (the library counts, per fd number, the instances that hold it: a close of an
 * fd none holds skips them), also when the number comes back for a new socket. */
Test(epoll, close_forgets_in_every_instance)
{
	int k1, k2, k3, s1 = t_connect_pair(&k1, 0), s2 = t_connect_pair(&k2, 0), s3;
	int ep1 = epoll_create1(0), ep2 = epoll_create1(0);
	uint64_t d = 0;

	cr_assert_eq(ep_add(ep1, s1, EPOLLIN, 1), 0);
	cr_assert_eq(ep_add(ep2, s1, EPOLLIN, 1), 0);
	cr_assert_eq(ep_add(ep1, s2, EPOLLIN, 2), 0);
	kwrite(k1, "a");
	kwrite(k2, "b");
	await_bytes(s1, 1);
	await_bytes(s2, 1);
	close(s1);
	cr_assert_eq(wait1(ep1, 1000, &d), EPOLLIN);
	cr_assert_eq(d, 2, "the socket left in the set is %llu", (unsigned long long)d);
	cr_assert_eq(wait1(ep2, 100, NULL), 0, "a closed socket is still reported");
	s3 = t_connect_pair(&k3, 0);
	cr_assert_eq(ep_add(ep2, s3, EPOLLIN, 3), 0);
	kwrite(k3, "c");
	await_bytes(s3, 1);
	cr_assert_eq(epoll_ctl(ep1, EPOLL_CTL_DEL, s2, NULL), 0);
	close(s2);   /* in no instance now */
	cr_assert_eq(wait1(ep1, 100, NULL), 0);
	cr_assert_eq(wait1(ep2, 1000, &d), EPOLLIN);
	cr_assert_eq(d, 3);
	close(s3);
	cr_assert_eq(wait1(ep2, 100, NULL), 0, "a closed socket is still reported");
	close(ep1);
	close(ep2);
	close(k1);
	close(k2);
	close(k3);
}

struct waiter {
	int ep;
	int n;
	uint64_t data;
	long long ms;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	struct epoll_event ev;
	long long t0 = now_ms();

	w->n = epoll_wait(w->ep, &ev, 1, 10000);
	w->data = ev.data.u64;
	w->ms = now_ms() - t0;
	return NULL;
}

/* Threads: a thread asleep in epoll_wait is woken by a ready socket that another
 * thread adds, and by data on a socket already in the set. */
Test(epoll, threads_wake)
{
	int kfd, s = t_connect_pair(&kfd, 0), ep = epoll_create1(0);
	int kfd2, s2 = t_connect_pair(&kfd2, 0);
	struct waiter w = { .ep = ep };
	pthread_t th;

	cr_assert_eq(ep_add(ep, s, EPOLLIN, 1), 0);
	pthread_create(&th, NULL, wait_thread, &w);
	usleep(200 * 1000);
	kwrite(kfd2, "ready");
	await_bytes(s2, 5);
	cr_assert_eq(ep_add(ep, s2, EPOLLIN, 2), 0);
	pthread_join(th, NULL);
	cr_assert_eq(w.n, 1);
	cr_assert_eq(w.data, 2);
	cr_assert(w.ms < 5000);
	char buf[8];
	cr_assert_eq(recv(s2, buf, sizeof(buf), 0), 5);

	w = (struct waiter){ .ep = ep };
	pthread_create(&th, NULL, wait_thread, &w);
	usleep(200 * 1000);
	kwrite(kfd, "go");
	pthread_join(th, NULL);
	cr_assert_eq(w.n, 1);
	cr_assert_eq(w.data, 1);
	cr_assert(w.ms >= 150);
	close(ep);
	close(s);
	close(s2);
	close(kfd);
	close(kfd2);
}

static void on_usr1(int sig)
{
	(void)sig;
}

static void *kill_later(void *arg)
{
	usleep(200 * 1000);
	pthread_kill(*(pthread_t *)arg, SIGUSR1);
	return NULL;
}

/* epoll_pwait's sigmask and EINTR; epoll_pwait2's timespec timeout. */
Test(epoll, pwait_sigmask_and_pwait2_timeout)
{
	int kfd, s = t_connect_pair(&kfd, 0), ep = epoll_create1(0);
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	sigset_t block, during;
	pthread_t self = pthread_self(), th;
	struct epoll_event ev;

	cr_assert_eq(ep_add(ep, s, EPOLLIN, 0), 0);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &block, &during);
	sigdelset(&during, SIGUSR1);
	pthread_create(&th, NULL, kill_later, &self);
	cr_assert_eq(epoll_pwait(ep, &ev, 1, -1, &during), -1);
	cr_assert_eq(errno, EINTR);
	pthread_join(th, NULL);

	struct timespec ts = { 0, 150 * 1000000L };
	long long t0 = now_ms();
	cr_assert_eq(epoll_pwait2(ep, &ev, 1, &ts, NULL), 0);
	long long dt = now_ms() - t0;
	cr_assert(dt >= 140 && dt < 2000, "150 ms took %lld ms", dt);
	close(ep);
	close(s);
	close(kfd);
}

/* An idle epoll_wait sleeps in the kernel: a second of it costs (almost) no CPU. */
Test(epoll, idle_uses_no_cpu)
{
	int kfd, s = t_connect_pair(&kfd, 0), ep = epoll_create1(0);
	struct epoll_event ev;

	cr_assert_eq(ep_add(ep, s, EPOLLIN | EPOLLRDHUP, 0), 0);
	long long c0 = cpu_us(), t0 = now_ms();
	cr_assert_eq(epoll_wait(ep, &ev, 1, 1000), 0);
	long long cpu = cpu_us() - c0, wall = now_ms() - t0;
	cr_assert(wall >= 990, "1 s epoll_wait returned after %lld ms", wall);
	cr_assert(cpu < 50000, "idle epoll_wait used %lld us of CPU in %lld ms", cpu, wall);
	close(ep);
	close(s);
	close(kfd);
}

int main(int argc, char **argv)
{
	return plenv_main(argc, argv, 122, "epoll");
}
