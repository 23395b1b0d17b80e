/* test_select.c - select() and pselect() over tapsock sockets and kernel fds, on a real engine under LD_PRELOAD (POSIX select(), Linux select(2)).
 *
 * Subnet 10.77.121.0/24 (test_poll_env.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_poll_env.h"

TestSuite(select, .timeout = 20);

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

static int maxfd(int a, int b)
{
	return a > b ? a : b;
}

/* Writable at once; readable only when the peer sends; the pipe beside it is
 * reported on its own. */
Test(select, mixed_readable_writable)
{
	int kfd, p[2];
	int s = t_connect_pair(&kfd, 0);
	fd_set r, w;
	struct timeval tv = { 0, 0 };

	cr_assert(pipe(p) == 0);
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(s, &r);
	FD_SET(s, &w);
	FD_SET(p[0], &r);
	cr_assert_eq(select(maxfd(s, p[0]) + 1, &r, &w, NULL, &tv), 1);
	cr_assert(FD_ISSET(s, &w));
	cr_assert(!FD_ISSET(s, &r) && !FD_ISSET(p[0], &r));

	/* blocking for input: the socket wakes it */
	struct delayed_write dw = { kfd, 200, "data" };
	pthread_t th;
	pthread_create(&th, NULL, write_later, &dw);
	FD_ZERO(&r);
	FD_SET(s, &r);
	FD_SET(p[0], &r);
	tv = (struct timeval){ 5, 0 };
	long long t0 = now_ms();
	cr_assert_eq(select(maxfd(s, p[0]) + 1, &r, NULL, NULL, &tv), 1);
	cr_assert(now_ms() - t0 >= 150);
	cr_assert(FD_ISSET(s, &r) && !FD_ISSET(p[0], &r));
	/* Linux writes the time left back */
	cr_assert(tv.tv_sec < 5 && tv.tv_sec >= 3, "timeval left: %ld.%06ld", (long)tv.tv_sec,
		  (long)tv.tv_usec);
	pthread_join(th, NULL);

	/* the pipe alone */
	char buf[8];
	cr_assert_eq(recv(s, buf, sizeof(buf), 0), 4);
	cr_assert(write(p[1], "y", 1) == 1);
	FD_ZERO(&r);
	FD_SET(s, &r);
	FD_SET(p[0], &r);
	cr_assert_eq(select(maxfd(s, p[0]) + 1, &r, NULL, NULL, NULL), 1);
	cr_assert(FD_ISSET(p[0], &r) && !FD_ISSET(s, &r));
	close(s);
	close(kfd);
	close(p[0]);
	close(p[1]);
}

/* Timeout: 0 and the sets cleared. */
Test(select, timeout_clears_sets)
{
	int kfd;
	int s = t_connect_pair(&kfd, 0);
	fd_set r;
	struct timeval tv = { 0, 200000 };

	FD_ZERO(&r);
	FD_SET(s, &r);
	long long t0 = now_ms();
	cr_assert_eq(select(s + 1, &r, NULL, NULL, &tv), 0);
	cr_assert(now_ms() - t0 >= 190);
	cr_assert(!FD_ISSET(s, &r));
	cr_assert_eq(tv.tv_sec, 0);
	cr_assert_eq(tv.tv_usec, 0);
	close(s);
	close(kfd);
}

/* The peer's FIN makes the socket readable (read gives 0). */
Test(select, fin_is_readable)
{
	int kfd;
	int s = t_connect_pair(&kfd, 0);
	fd_set r;

	cr_assert(shutdown(kfd, SHUT_WR) == 0);
	FD_ZERO(&r);
	FD_SET(s, &r);
	struct timeval tv = { 5, 0 };
	cr_assert_eq(select(s + 1, &r, NULL, NULL, &tv), 1);
	cr_assert(FD_ISSET(s, &r));
	char c;
	cr_assert_eq(recv(s, &c, 1, 0), 0);
	close(s);
	close(kfd);
}

/* Non-blocking connect completes as "writable"; refused shows as writable (and
 * readable) with SO_ERROR ECONNREFUSED. */
Test(select, nonblocking_connect)
{
	int lfd = k_listen(plenv_kaddr(), 0, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = plenv_kaddr(),
				  .sin_port = htons(k_port(lfd)) };
	int s = t_socket(1), err = -1;
	socklen_t len = sizeof(err);
	fd_set w;
	struct timeval tv = { 5, 0 };

	cr_assert_eq(connect(s, (struct sockaddr *)&sa, sizeof(sa)), -1);
	cr_assert_eq(errno, EINPROGRESS);
	FD_ZERO(&w);
	FD_SET(s, &w);
	cr_assert_eq(select(s + 1, NULL, &w, NULL, &tv), 1);
	cr_assert(getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0);
	cr_assert_eq(err, 0);
	close(s);
	close(lfd);

	sa.sin_port = htons(k_free_port());
	s = t_socket(1);
	cr_assert_eq(connect(s, (struct sockaddr *)&sa, sizeof(sa)), -1);
	cr_assert_eq(errno, EINPROGRESS);
	FD_ZERO(&w);
	FD_SET(s, &w);
	tv = (struct timeval){ 5, 0 };
	cr_assert_eq(select(s + 1, NULL, &w, NULL, &tv), 1);
	cr_assert(getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0);
	cr_assert_eq(err, ECONNREFUSED);
	close(s);
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

/* pselect's sigmask lets a blocked signal in only while waiting: EINTR. */
Test(select, pselect_sigmask_eintr)
{
	int kfd;
	int s = t_connect_pair(&kfd, 0);
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigset_t block, during;
	pthread_t self = pthread_self(), th;
	fd_set r;

	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &block, &during);
	sigdelset(&during, SIGUSR1);
	pthread_create(&th, NULL, kill_later, &self);
	FD_ZERO(&r);
	FD_SET(s, &r);
	cr_assert_eq(pselect(s + 1, &r, NULL, NULL, NULL, &during), -1);
	cr_assert_eq(errno, EINTR);
	pthread_join(th, NULL);
	close(s);
	close(kfd);
}

/* A closed fd in the set: EBADF, as Linux. */
Test(select, closed_fd_ebadf)
{
	int kfd;
	int s = t_connect_pair(&kfd, 0);
	int p[2];
	fd_set r;

	cr_assert(pipe(p) == 0);
	close(p[0]);
	close(p[1]);
	FD_ZERO(&r);
	FD_SET(s, &r);
	FD_SET(p[0], &r);
	struct timeval tv = { 0, 0 };
	cr_assert_eq(select(maxfd(s, p[0]) + 1, &r, NULL, NULL, &tv), -1);
	cr_assert_eq(errno, EBADF);
	close(s);
	close(kfd);
}

int main(int argc, char **argv)
{
	return plenv_main(argc, argv, 121, "select");
}
