/* test_conc.c - many connections through an epoll server under the preload library: close() racing ready events, fd numbers reused, every byte echoed (Linux epoll(7), epoll_wait(2); RFC 9293 3.6 for the closes).
 *
 * An echo server of the shape event-loop servers have (tsk-load's, nginx's): a
 * non-blocking tapsock listener and its connections in one level-triggered epoll
 * set, read and write back at each report, close() at EOF or error. Kernel
 * clients (raw system calls, in a thread) open 3000 connections in waves, each
 * sends its own bytes and half-closes, and checks that exactly those bytes come
 * back before the server's FIN; one in ten resets instead, right after sending,
 * so the server's close races the report of a socket that just became ready.
 * maxevents changes between 1 and 64, so epoll_wait fills up and the kernel's
 * events and the library's ready list take turns going first. The server checks that no
 * connection is reported after its close (Linux: close() removes the fd from the
 * set) nor twice in one answer (the double free tsk-load's server met).
 * Subnet 10.77.128.0/24 (test_poll_env.h). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test_poll_env.h"

#define NCONN 3000
#define WAVE 300
#define MAXLEN 3000

TestSuite(conc, .timeout = 60);

struct cconn {
	int fd;            /* server side; -1 once closed */
	bool seen;         /* reported in the current epoll_wait answer */
};

struct client {
	uint16_t port;
	atomic_int done, failed, checked, resets;
	char why[200];
};

static uint8_t pat(int id, size_t i) { return (uint8_t)(id * 131 + i * 7 + (i >> 8)); }
static size_t len_of(int id) { return 1 + (size_t)(id * 997) % MAXLEN; }

__attribute__((format(printf, 2, 0)))
static void fail(struct client *c, const char *fmt, int id, long v)
{
	if (atomic_fetch_add(&c->failed, 1) == 0)
		snprintf(c->why, sizeof(c->why), fmt, id, v);
}

/* Kernel clients: raw system calls, never the library's. */
static void *clients(void *arg)
{
	struct client *c = arg;
	static int fds[WAVE];
	static uint8_t buf[MAXLEN + 16];

	for (int base = 0; base < NCONN; base += WAVE) {
		for (int k = 0; k < WAVE; k++) {
			int id = base + k;
			struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(c->port),
						  .sin_addr.s_addr = plenv_eaddr() };
			int fd = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

			fds[k] = fd;
			if (fd < 0 || syscall(SYS_connect, fd, &sa, sizeof(sa)) < 0) {
				fail(c, "connection %d: connect: errno %ld", id, errno);
				return NULL;
			}
			size_t n = len_of(id);
			for (size_t i = 0; i < n; i++)
				buf[i] = pat(id, i);
			if (syscall(SYS_sendto, fd, buf, n, MSG_NOSIGNAL, NULL, 0) != (long)n) {
				fail(c, "connection %d: send: errno %ld", id, errno);
				return NULL;
			}
			if (id % 10 == 3) {
				/* reset right after the data: the server's next look at it
				 * finds data and an error together, and closes */
				struct linger lg = { 1, 0 };
				syscall(SYS_setsockopt, fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
				syscall(SYS_close, fd);
				fds[k] = -1;
				atomic_fetch_add(&c->resets, 1);
			} else {
				syscall(SYS_shutdown, fd, SHUT_WR);
			}
		}
		/* every answer: exactly the bytes sent, then the server's FIN */
		for (int k = 0; k < WAVE; k++) {
			int id = base + k;
			size_t n = len_of(id), got = 0;

			if (fds[k] < 0)
				continue;
			struct timeval tv = { 5, 0 };
			syscall(SYS_setsockopt, fds[k], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			for (;;) {
				long r = syscall(SYS_recvfrom, fds[k], buf + got, sizeof(buf) - got, 0,
						 NULL, NULL);
				if (r == 0)
					break;
				if (r < 0) {
					fail(c, "connection %d: recv: errno %ld (no FIN, or a reset)", id, errno);
					return NULL;
				}
				got += (size_t)r;
				if (got > n) {
					fail(c, "connection %d: %ld bytes more than it sent", id, (long)(got - n));
					return NULL;
				}
			}
			if (got != n) {
				fail(c, "connection %d: %ld bytes missing", id, (long)(n - got));
				return NULL;
			}
			for (size_t i = 0; i < n; i++)
				if (buf[i] != pat(id, i)) {
					fail(c, "connection %d: byte %ld differs", id, (long)i);
					return NULL;
				}
			syscall(SYS_close, fds[k]);
			atomic_fetch_add(&c->checked, 1);
		}
	}
	atomic_store(&c->done, 1);
	return NULL;
}

Test(conc, epoll_echo_3000_connections_close_races_reused_fds)
{
	static struct cconn conns[NCONN];
	static uint8_t buf[1 << 16];
	static int owner[1 << 16];   /* server fd -> connection + 1, 0 none */
	static bool used[1 << 16];   /* fd numbers accepted before */
	struct client cl = { 0 };
	struct epoll_event ev, evs[64];
	int lfd, ep, accepted = 0, closed = 0, reused = 0, answers = 0;
	pthread_t th;
	long long t0 = now_ms();

	lfd = t_socket(1);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = plenv_eaddr() };
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind: %s", strerror(errno));
	cr_assert(listen(lfd, 1024) == 0);
	socklen_t sl = sizeof(sa);
	cr_assert(getsockname(lfd, (struct sockaddr *)&sa, &sl) == 0);
	cl.port = ntohs(sa.sin_port);
	ep = epoll_create1(EPOLL_CLOEXEC);
	cr_assert(ep >= 0);
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = UINT64_MAX };
	cr_assert(epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == 0);
	cr_assert(pthread_create(&th, NULL, clients, &cl) == 0);

	while (!(atomic_load(&cl.done) && closed == accepted) && !atomic_load(&cl.failed)) {
		cr_assert(now_ms() - t0 < 30000, "stalled: %d accepted, %d closed, %d checked by "
			  "the clients after 30 s", accepted, closed, atomic_load(&cl.checked));
		/* a small answer now and then (it fills up: the kernel's events go
		 * first next time), a large one after it (room for both lists) */
		int n = epoll_wait(ep, evs, answers % 3 == 0 ? 1 : 64, 200);
		cr_assert(n >= 0, "epoll_wait: %s", strerror(errno));
		answers++;
		for (int i = 0; i < n; i++) {
			uint64_t id = evs[i].data.u64;
			if (id == UINT64_MAX)
				continue;
			cr_assert(id < NCONN, "a report with data %llu that was never given",
				  (unsigned long long)id);
			cr_assert(conns[id].fd >= 0, "connection %llu reported after its close()",
				  (unsigned long long)id);
			cr_assert(!conns[id].seen, "connection %llu reported twice in one answer",
				  (unsigned long long)id);
			conns[id].seen = true;
		}
		for (int i = 0; i < n; i++) {
			uint64_t id = evs[i].data.u64;
			if (id != UINT64_MAX)
				conns[id].seen = false;
		}
		for (int i = 0; i < n; i++) {
			uint64_t id = evs[i].data.u64;

			if (id == UINT64_MAX) {
				for (;;) {
					int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
					if (fd < 0) {
						cr_assert(errno == EAGAIN, "accept4: %s", strerror(errno));
						break;
					}
					cr_assert(accepted < NCONN, "more connections than the clients made");
					cr_assert(fd < (int)(sizeof(used) / sizeof(used[0])));
					cr_assert(owner[fd] == 0, "fd %d given twice", fd);
					if (used[fd])
						reused++;
					used[fd] = true;
					conns[accepted].fd = fd;
					owner[fd] = accepted + 1;
					ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = (uint64_t)accepted };
					cr_assert(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl: %s",
						  strerror(errno));
					accepted++;
				}
				continue;
			}
			/* an earlier event of this answer may have closed it: skip, as a
			 * server that looks its connection up again would */
			if (conns[id].fd < 0)
				continue;
			int fd = conns[id].fd;
			bool closeit = false;
			for (;;) {
				ssize_t r = recv(fd, buf, sizeof(buf), 0);
				if (r > 0) {
					ssize_t w = send(fd, buf, (size_t)r, MSG_NOSIGNAL);
					if (w < 0 && (errno == EPIPE || errno == ECONNRESET)) {
						closeit = true;
						break;
					}
					cr_assert(w == r, "echo of %zd bytes sent %zd (%s)", r, w, strerror(errno));
					continue;
				}
				if (r == 0 || errno != EAGAIN)
					closeit = true;
				break;
			}
			if (closeit) {
				owner[fd] = 0;
				conns[id].fd = -1;
				cr_assert(close(fd) == 0);
				closed++;
			}
		}
	}
	pthread_join(th, NULL);
	cr_assert(!atomic_load(&cl.failed), "%s (%d failures)", cl.why, atomic_load(&cl.failed));
	cr_assert_eq(accepted, NCONN);
	cr_assert_eq(closed, NCONN);
	cr_assert_eq(atomic_load(&cl.checked) + atomic_load(&cl.resets), NCONN);
	/* the scenario happened: numbers reused, and closes while reports were pending */
	cr_assert(reused > NCONN / 2, "only %d fd numbers reused", reused);
	close(ep);
	close(lfd);
}

/* Data is in fd's ring, and the token that announced it on its placeholder. */
static void await_token(int fd)
{
	char c;
	long long t0 = now_ms();

	while (recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) < 1) {
		cr_assert(now_ms() - t0 < 5000, "data did not arrive");
		usleep(1000);
	}
	usleep(50000);
}

/* The sequence behind the double report, step by step: an answer that fills
 * maxevents makes the kernel's events go first next time; then a level-triggered
 * socket whose token is in the kernel is reported from it, queued again, and
 * must not be reported a second time from the ready list in the same answer. */
Test(conc, level_triggered_reported_once_when_kernel_events_go_first)
{
	int ka, kb, a = t_connect_pair(&ka, 0), b = t_connect_pair(&kb, 0);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev, evs[8];
	char buf[64];

	cr_assert(ep >= 0);
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = 1 };
	cr_assert(epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev) == 0);
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = 2 };
	cr_assert(epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev) == 0);
	cr_assert_eq(epoll_wait(ep, evs, 8, 0), 0);   /* both looked at, armed */

	cr_assert(syscall(SYS_write, ka, "x", 1) == 1);
	await_token(a);
	cr_assert_eq(epoll_wait(ep, evs, 1, 0), 1, "a's data did not arrive");
	cr_assert_eq(evs[0].data.u64, 1);             /* a full answer */
	cr_assert(recv(a, buf, sizeof(buf), 0) == 1);

	cr_assert(syscall(SYS_write, kb, "y", 1) == 1);
	await_token(b);
	int n = epoll_wait(ep, evs, 8, 1000);
	cr_assert_eq(n, 1, "%d reports where b alone is ready (%llu, %llu)", n,
		     (unsigned long long)evs[0].data.u64, (unsigned long long)evs[n > 1].data.u64);
	cr_assert_eq(evs[0].data.u64, 2);
	/* level-triggered: still reported while unread */
	cr_assert_eq(epoll_wait(ep, evs, 8, 0), 1);
	close(ep);
	close(a);
	close(b);
	syscall(SYS_close, ka);
	syscall(SYS_close, kb);
}

/* The engine's fds that are sockets' memory (memfds), of all its fds. */
static int count_memfds(pid_t pid, int *all)
{
	char path[320], link[256];
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	cr_assert(d, "%s: %s", path, strerror(errno));
	*all = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		(*all)++;
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)pid, e->d_name);
		ssize_t l = readlink(path, link, sizeof(link) - 1);
		if (l > 0) {
			link[l] = 0;
			n += strstr(link, "/memfd:") != NULL;
		}
	}
	closedir(d);
	return n;
}

/* The engine holds one fd per socket (its end of the placeholder), as the kernel
 * one file: with two (the socket's memfd kept open beside it), 10 000
 * connections of one server took 20 000 and the engine ran out of fds, its
 * accepts failed and the connections stalled. The memory stays mapped in the
 * engine; its fd is kept by at most 64 sockets, 64 pooled memories and 32
 * prepared ones (psock_srv.c MEMFD_HELD_MAX, SHM_SPARE_MAX, PREP_MAX), a bound,
 * not one per socket.
 * (Counted by kind, not as a difference: the other tests of this file may run
 * at the same time.) The sockets still work after that (data both ways). */
Test(conc, engine_holds_one_fd_per_socket)
{
	enum { N = 300 };
	static int t[N], k[N];
	struct ucred cr;
	socklen_t l = sizeof(cr);
	int first, all, mem;
	char c;

	first = t_connect_pair(&k[0], 0);
	cr_assert(syscall(SYS_getsockopt, first, SOL_SOCKET, SO_PEERCRED, &cr, &l) == 0);
	for (int i = 0; i < N; i++)
		t[i] = t_connect_pair(&k[i], 0);
	mem = count_memfds(cr.pid, &all);
	cr_assert(all > N, "the engine holds %d fds for more than %d sockets", all, N);
	cr_assert(mem <= 160, "the engine keeps %d memfds open beside %d sockets", mem, N);
	for (int i = 0; i < N; i++) {
		cr_assert(send(t[i], "p", 1, 0) == 1);
		cr_assert(syscall(SYS_read, k[i], &c, 1) == 1 && c == 'p');
		cr_assert(syscall(SYS_write, k[i], "q", 1) == 1);
		cr_assert(recv(t[i], &c, 1, 0) == 1 && c == 'q');
		close(t[i]);
		syscall(SYS_close, k[i]);
	}
	close(first);
	syscall(SYS_close, k[0]);
}

int main(int argc, char **argv)
{
	return plenv_main(argc, argv, 128, "conc");
}
