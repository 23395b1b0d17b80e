/* tsk-load.c - the load generator and servers of `tapsock bench` (TCP: RFC 9293; services: RFC 863 discard, RFC 862 echo, RFC 864 chargen).
 *
 * One program for both ends of every workload, so that the kernel and tapsock are
 * measured with the same code on the same system calls. Runs unmodified on either
 * stack (under the preload library it is just another program). Each client mode
 * prints one JSON object on stdout with its figures and its own CPU time (getrusage);
 * servers run until SIGTERM/SIGINT and are measured from outside (/proc/PID/stat).
 *
 *   tsk-load server  --port P --kind discard|echo|chargen [--bind A]
 *   tsk-load bulk-send --to A:P [--streams N] [--seconds S] [--msg BYTES]
 *   tsk-load bulk-recv --to A:P [--streams N] [--seconds S]
 *   tsk-load rr   --to A:P --size N [--seconds S]      request/response on one connection
 *   tsk-load crr  --to A:P [--size 64] [--seconds S]   connect, N bytes each way, close
 *   tsk-load conc --to A:P --conns N [--size 64] [--rounds R]
 *                 opens N connections, prints {"phase":"open",...}, waits for a line on
 *                 stdin (the caller measures memory meanwhile), then every connection
 *                 exchanges N bytes R times, prints the result, waits for another line
 *                 (memory of the idle connections after their exchanges) and closes them
 *   tsk-load udp-send --to A:P [--size 1472] [--seconds S]
 *   tsk-load udp-sink --port P [--seconds S]
 *
 * Kernel-side sockets pin CUBIC (TCP_CONGESTION) so the peer sends the same way on
 * every machine (the default here is BBR); `--cc NAME` changes it, `--cc none` leaves it. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *cc = "cubic";
static volatile sig_atomic_t stop_flag;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "tsk-load: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* 10 000 connections need more descriptors than the default soft limit. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_max < 65536 && geteuid() == 0)
		rl.rlim_max = 65536;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

/* The peer's congestion control is part of what is measured: pin it. A stack that
 * does not know the option (or the algorithm) is left with its own. */
static void tune(int fd, bool nodelay)
{
	int one = 1;

	if (strcmp(cc, "none"))
		(void)setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, (socklen_t)strlen(cc));
	if (nodelay)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int tcp_connect(const struct sockaddr_in *to, bool nodelay)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -errno;
	tune(fd, nodelay);
	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, char *p, size_t n)
{
	while (n) {
		ssize_t r = recv(fd, p, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ECONNRESET;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void print_rusage(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	printf("\"cpu_user_s\":%.6f,\"cpu_sys_s\":%.6f",
	       (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
}

/* ---- latency samples ---- */

struct samples {
	uint64_t *v;
	size_t n, cap;
};

static void sample_add(struct samples *s, uint64_t ns)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 65536;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			die("realloc");
	}
	s->v[s->n++] = ns;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(const struct samples *s, double p)
{
	size_t i;

	if (!s->n)
		return 0;
	i = (size_t)(p / 100.0 * (double)(s->n - 1) + 0.5);
	return (double)s->v[i] / 1000.0;
}

/* percentiles in microseconds, and a CDF of 120 points (denser in the tail) for plots */
static void print_latency(struct samples *s)
{
	static const double tail[] = { 99.2, 99.4, 99.6, 99.8, 99.9, 99.95, 99.99, 100 };
	double sum = 0;

	qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
	for (size_t i = 0; i < s->n; i++)
		sum += (double)s->v[i];
	printf("\"samples\":%zu,\"mean_us\":%.2f,\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,"
	       "\"p999_us\":%.2f,\"min_us\":%.2f,\"max_us\":%.2f,\"cdf\":[",
	       s->n, s->n ? sum / (double)s->n / 1000.0 : 0, pct(s, 50), pct(s, 90), pct(s, 99),
	       pct(s, 99.9), pct(s, 0), pct(s, 100));
	for (int i = 0; i <= 99; i++)
		printf("%s[%d,%.2f]", i ? "," : "", i, pct(s, i));
	for (size_t i = 0; i < sizeof(tail) / sizeof(tail[0]); i++)
		printf(",[%g,%.2f]", tail[i], pct(s, tail[i]));
	printf("]");
}

/* ---- server ---- */

enum kind { K_DISCARD, K_ECHO, K_CHARGEN };

struct conn {
	int fd;
	size_t off, len;   /* echo: bytes read and not yet written back */
	char buf[65536];
};

static char pattern[1 << 20];

static void fill_pattern(void)
{
	/* RFC 864's rotating printable lines, good enough for any reader */
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (char)(' ' + (i % 95));
}

static int do_server(const char *bind_addr, int port, enum kind kind)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct epoll_event ev, evs[256];
	int lfd, ep, one = 1;

	if (bind_addr && inet_pton(AF_INET, bind_addr, &sa.sin_addr) != 1) {
		errno = EINVAL;
		die("--bind");
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	tune(lfd, false);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	if (listen(lfd, 4096) < 0)
		die("listen");
	ep = epoll_create1(0);
	if (ep < 0)
		die("epoll_create1");
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		die("epoll_ctl");
	printf("{\"ready\":true,\"port\":%d}\n", port);
	fflush(stdout);

	while (!stop_flag) {
		int n = epoll_wait(ep, evs, 256, 200);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			bool closeit = false;

			if (!c) {
				for (;;) {
					int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
					if (fd < 0)
						break;
					tune(fd, kind == K_ECHO);
					c = malloc(kind == K_ECHO ? sizeof(*c) : offsetof(struct conn, buf));
					if (!c)
						die("malloc");
					c->fd = fd;
					c->off = c->len = 0;
					ev.events = kind == K_CHARGEN ? EPOLLOUT | EPOLLIN : EPOLLIN;
					ev.data.ptr = c;
					if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
						die("epoll_ctl");
				}
				continue;
			}
			if (kind == K_DISCARD) {
				static char sink[1 << 18];
				for (;;) {
					ssize_t r = recv(c->fd, sink, sizeof(sink), 0);
					if (r > 0)
						continue;
					if (r == 0 || (errno != EAGAIN && errno != EINTR))
						closeit = true;
					break;
				}
			} else if (kind == K_CHARGEN) {
				if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
					char tmp[4096];
					ssize_t r = recv(c->fd, tmp, sizeof(tmp), 0);
					if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
						closeit = true;
				}
				while (!closeit) {
					ssize_t w = send(c->fd, pattern, sizeof(pattern), MSG_NOSIGNAL);
					if (w > 0)
						continue;
					if (w < 0 && errno != EAGAIN && errno != EINTR)
						closeit = true;
					break;
				}
			} else {
				/* echo: write back what was read; stop reading while a write is pending */
				for (;;) {
					if (c->len > c->off) {
						ssize_t w = send(c->fd, c->buf + c->off, c->len - c->off,
								 MSG_NOSIGNAL);
						if (w < 0) {
							if (errno != EAGAIN && errno != EINTR)
								closeit = true;
							break;
						}
						c->off += (size_t)w;
						if (c->off < c->len)
							continue;
					}
					c->off = c->len = 0;
					ssize_t r = recv(c->fd, c->buf, sizeof(c->buf), 0);
					if (r <= 0) {
						if (r == 0 || (errno != EAGAIN && errno != EINTR))
							closeit = true;
						break;
					}
					c->len = (size_t)r;
				}
				if (!closeit) {
					ev.events = c->len > c->off ? EPOLLOUT : EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				}
			}
			if (closeit) {
				close(c->fd);
				free(c);
			}
		}
	}
	return 0;
}

/* ---- bulk ---- */

struct stream {
	struct sockaddr_in to;
	bool send;
	size_t msg;
	uint64_t deadline, bytes, t0, t1;
	int err;
};

static void *bulk_thread(void *arg)
{
	struct stream *s = arg;
	char *buf = s->send ? pattern : malloc(s->msg);
	int fd = tcp_connect(&s->to, false);

	if (fd < 0) {
		s->err = -fd;
		return NULL;
	}
	s->t0 = now_ns();
	while (now_ns() < s->deadline && !stop_flag) {
		ssize_t n = s->send ? send(fd, buf, s->msg, MSG_NOSIGNAL) : recv(fd, buf, s->msg, 0);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			s->err = n == 0 ? ECONNRESET : errno;
			break;
		}
		s->bytes += (uint64_t)n;
	}
	if (s->send && !s->err) {
		/* the time counts until the receiver has read it all: half-close and wait
		 * for the discard server's FIN */
		char tmp[256];
		shutdown(fd, SHUT_WR);
		while (recv(fd, tmp, sizeof(tmp), 0) > 0)
			;
	}
	s->t1 = now_ns();
	close(fd);
	if (!s->send)
		free(buf);
	return NULL;
}

static int do_bulk(const struct sockaddr_in *to, bool send_dir, int streams, double secs, size_t msg)
{
	struct stream *st = calloc((size_t)streams, sizeof(*st));
	pthread_t *th = calloc((size_t)streams, sizeof(*th));
	uint64_t start = now_ns(), bytes = 0, t0 = UINT64_MAX, t1 = 0;
	int err = 0;

	if (!st || !th)
		die("calloc");
	if (msg > sizeof(pattern))
		msg = sizeof(pattern);
	for (int i = 0; i < streams; i++) {
		st[i] = (struct stream){ .to = *to, .send = send_dir, .msg = msg,
					 .deadline = start + (uint64_t)(secs * 1e9) };
		if (pthread_create(&th[i], NULL, bulk_thread, &st[i]))
			die("pthread_create");
	}
	for (int i = 0; i < streams; i++) {
		pthread_join(th[i], NULL);
		bytes += st[i].bytes;
		if (st[i].err)
			err = st[i].err;
		if (st[i].t0 && st[i].t0 < t0)
			t0 = st[i].t0;
		if (st[i].t1 > t1)
			t1 = st[i].t1;
	}
	double el = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;
	printf("{\"mode\":\"%s\",\"streams\":%d,\"bytes\":%llu,\"seconds\":%.6f,\"gbps\":%.4f,",
	       send_dir ? "bulk-send" : "bulk-recv", streams, (unsigned long long)bytes, el,
	       el > 0 ? (double)bytes * 8 / el / 1e9 : 0);
	if (err)
		printf("\"error\":\"%s\",", strerror(err));
	print_rusage();
	printf("}\n");
	return err && !bytes ? 1 : 0;
}

/* ---- request/response ---- */

static int do_rr(const struct sockaddr_in *to, size_t size, double secs)
{
	struct samples s = { 0 };
	char *buf = malloc(size), *back = malloc(size);
	int fd = tcp_connect(to, true), r = 0;
	uint64_t end, t, warm_end;
	long warm = 200;

	if (fd < 0) {
		errno = -fd;
		die("connect");
	}
	memcpy(buf, pattern, size);
	end = now_ns() + (uint64_t)(secs * 1e9);
	warm_end = now_ns() + (uint64_t)(secs * 1e8);   /* at most a tenth of the time */
	while ((t = now_ns()) < end && !stop_flag) {
		if ((r = write_all(fd, buf, size)) < 0 || (r = read_all(fd, back, size)) < 0)
			break;
		if (warm > 0 && now_ns() < warm_end)
			warm--;   /* first exchanges warm caches and the window up */
		else
			sample_add(&s, now_ns() - t);
	}
	close(fd);
	printf("{\"mode\":\"rr\",\"size\":%zu,\"rps\":%.1f,", size,
	       secs > 0 ? (double)s.n / secs : 0);
	if (r < 0)
		printf("\"error\":\"%s\",", strerror(-r));
	print_latency(&s);
	printf(",");
	print_rusage();
	printf("}\n");
	free(buf);
	free(back);
	return s.n ? 0 : 1;
}

/* ---- connection rate ---- */

static int do_crr(const struct sockaddr_in *to, size_t size, double secs)
{
	struct samples s = { 0 };
	char *buf = malloc(size), *back = malloc(size);
	uint64_t start = now_ns(), end = start + (uint64_t)(secs * 1e9), t;
	unsigned long errs = 0;
	int lasterr = 0;

	memcpy(buf, pattern, size);
	while ((t = now_ns()) < end && !stop_flag) {
		int fd = tcp_connect(to, true), r;
		if (fd < 0) {
			errs++;
			lasterr = -fd;
			if (errs > 1000)
				break;
			continue;
		}
		r = write_all(fd, buf, size);
		if (!r)
			r = read_all(fd, back, size);
		close(fd);
		if (r < 0) {
			errs++;
			lasterr = -r;
			continue;
		}
		sample_add(&s, now_ns() - t);
	}
	double el = (double)(now_ns() - start) / 1e9;
	printf("{\"mode\":\"crr\",\"size\":%zu,\"conns\":%zu,\"seconds\":%.6f,\"cps\":%.1f,"
	       "\"errors\":%lu,", size, s.n, el, el > 0 ? (double)s.n / el : 0, errs);
	if (lasterr)
		printf("\"error\":\"%s\",", strerror(lasterr));
	print_latency(&s);
	printf(",");
	print_rusage();
	printf("}\n");
	free(buf);
	free(back);
	return s.n ? 0 : 1;
}

/* ---- many concurrent connections ---- */

static int do_conc(const struct sockaddr_in *to, int nconn, size_t size, int rounds)
{
	int *fds = calloc((size_t)nconn, sizeof(int));
	int ep = epoll_create1(0), opened = 0, inflight = 0, next = 0, failed = 0, lasterr = 0;
	struct epoll_event ev, evs[512];
	char *buf = malloc(size), line[64];
	uint64_t t0 = now_ns(), t_open;

	if (!fds || ep < 0 || !buf)
		die("setup");
	memcpy(buf, pattern, size);
	/* non-blocking connects, at most 256 in flight: a SYN burst beyond the server's
	 * SYN queue would measure retransmission timers, not the stack */
	while (opened + failed < nconn) {
		while (next < nconn && inflight < 256) {
			int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
			if (fd < 0)
				die("socket");
			tune(fd, true);
			if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0 &&
			    errno != EINPROGRESS) {
				lasterr = errno;
				close(fd);
				fds[next++] = -1;
				failed++;
				continue;
			}
			fds[next] = fd;
			ev.events = EPOLLOUT;
			ev.data.u32 = (uint32_t)next;
			epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			next++;
			inflight++;
		}
		int n = epoll_wait(ep, evs, 512, 10000);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			lasterr = n ? errno : ETIMEDOUT;
			break;
		}
		for (int i = 0; i < n; i++) {
			int k = (int)evs[i].data.u32, e = 0;
			socklen_t l = sizeof(e);
			getsockopt(fds[k], SOL_SOCKET, SO_ERROR, &e, &l);
			epoll_ctl(ep, EPOLL_CTL_DEL, fds[k], NULL);
			inflight--;
			if (e) {
				lasterr = e;
				close(fds[k]);
				fds[k] = -1;
				failed++;
			} else {
				opened++;
			}
		}
	}
	t_open = now_ns() - t0;
	printf("{\"phase\":\"open\",\"conns\":%d,\"failed\":%d,\"open_s\":%.6f,\"open_cps\":%.1f}\n",
	       opened, failed, (double)t_open / 1e9, t_open ? opened / ((double)t_open / 1e9) : 0);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		line[0] = 0;

	/* all active: every connection sends SIZE bytes, then every answer is read */
	for (int i = 0; i < nconn; i++) {
		if (fds[i] < 0)
			continue;
		ev.events = EPOLLIN;
		ev.data.u32 = (uint32_t)i;
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
	}
	uint64_t ta = now_ns();
	long done_total = 0;
	int r;
	for (r = 0; r < rounds && !stop_flag; r++) {
		int pending = 0;
		for (int i = 0; i < nconn; i++) {
			if (fds[i] < 0)
				continue;
			if (write_all(fds[i], buf, size) < 0) {
				lasterr = errno;
				close(fds[i]);
				fds[i] = -1;
				continue;
			}
			pending++;
		}
		while (pending > 0) {
			int n = epoll_wait(ep, evs, 512, 10000);
			if (n <= 0) {
				if (n < 0 && errno == EINTR)
					continue;
				lasterr = ETIMEDOUT;
				break;
			}
			for (int i = 0; i < n; i++) {
				int k = (int)evs[i].data.u32;
				/* small answers arrive whole in practice; read_all covers a split */
				if (read_all(fds[k], line, size < sizeof(line) ? size : sizeof(line)) < 0) {
					close(fds[k]);
					fds[k] = -1;
				}
				pending--;
				done_total++;
			}
		}
		if (pending > 0)
			break;
	}
	double act = (double)(now_ns() - ta) / 1e9;
	printf("{\"mode\":\"conc\",\"conns\":%d,\"failed\":%d,\"open_s\":%.6f,\"open_cps\":%.1f,"
	       "\"rounds\":%d,\"active_s\":%.6f,\"active_rps\":%.1f,",
	       opened, failed, (double)t_open / 1e9, t_open ? opened / ((double)t_open / 1e9) : 0, r,
	       act, act > 0 ? (double)done_total / act : 0);
	if (lasterr)
		printf("\"error\":\"%s\",", strerror(lasterr));
	print_rusage();
	printf("}\n");
	fflush(stdout);
	/* the connections stay open, idle after their exchanges, until the runner has
	 * measured their memory (a line or EOF on stdin) */
	if (!fgets(line, sizeof(line), stdin))
		line[0] = 0;
	for (int i = 0; i < nconn; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return opened ? 0 : 1;
}

/* ---- UDP, for the raw link comparisons ---- */

static int do_udp_send(const struct sockaddr_in *to, size_t size, double secs)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	uint64_t end = now_ns() + (uint64_t)(secs * 1e9), sent = 0, errs = 0, t0 = now_ns();
	struct mmsghdr m[64];
	struct iovec iov = { .iov_base = pattern, .iov_len = size };

	if (fd < 0 || connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0)
		die("udp socket");
	memset(m, 0, sizeof(m));
	for (int i = 0; i < 64; i++) {
		m[i].msg_hdr.msg_iov = &iov;
		m[i].msg_hdr.msg_iovlen = 1;
	}
	while (now_ns() < end && !stop_flag) {
		int n = sendmmsg(fd, m, 64, 0);
		if (n < 0) {
			errs++;
			continue;
		}
		sent += (uint64_t)n;
	}
	double el = (double)(now_ns() - t0) / 1e9;
	printf("{\"mode\":\"udp-send\",\"size\":%zu,\"datagrams\":%llu,\"errors\":%llu,\"seconds\":%.6f,"
	       "\"pps\":%.1f,", size, (unsigned long long)sent, (unsigned long long)errs, el,
	       (double)sent / el);
	print_rusage();
	printf("}\n");
	return 0;
}

static int do_udp_sink(int port, double secs)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), big = 8 << 20;
	static char bufs[64][2048];
	struct mmsghdr m[64];
	struct iovec iov[64];
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
	uint64_t got = 0, bytes = 0, t0 = 0, t1 = 0, end;

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("udp bind");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(m, 0, sizeof(m));
	for (int i = 0; i < 64; i++) {
		iov[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = sizeof(bufs[i]) };
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
	}
	printf("{\"ready\":true,\"port\":%d}\n", port);
	fflush(stdout);
	end = now_ns() + (uint64_t)(secs * 1e9);
	while (now_ns() < end && !stop_flag) {
		int n = recvmmsg(fd, m, 64, 0, NULL);
		if (n <= 0) {
			if (got && t1 && now_ns() - t1 > 500000000ull)
				break;   /* the sender is done */
			continue;
		}
		if (!t0)
			t0 = now_ns();
		t1 = now_ns();
		got += (uint64_t)n;
		for (int i = 0; i < n; i++)
			bytes += m[i].msg_len;
	}
	double el = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;
	printf("{\"mode\":\"udp-sink\",\"datagrams\":%llu,\"bytes\":%llu,\"seconds\":%.6f,\"pps\":%.1f,"
	       "\"gbps\":%.4f,", (unsigned long long)got, (unsigned long long)bytes, el,
	       el > 0 ? (double)got / el : 0, el > 0 ? (double)bytes * 8 / el / 1e9 : 0);
	print_rusage();
	printf("}\n");
	return 0;
}

static void usage(void)
{
	fputs("usage: tsk-load MODE [options]   (modes: server bulk-send bulk-recv rr crr conc "
	      "udp-send udp-sink)\n"
	      "  --to A:P --port P --bind A --kind discard|echo|chargen --streams N --seconds S\n"
	      "  --msg BYTES --size BYTES --conns N --rounds R --cc NAME|none\n", stderr);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },     { "port", required_argument, NULL, 'p' },
		{ "bind", required_argument, NULL, 'b' },   { "kind", required_argument, NULL, 'k' },
		{ "streams", required_argument, NULL, 'n' }, { "seconds", required_argument, NULL, 's' },
		{ "msg", required_argument, NULL, 'm' },    { "size", required_argument, NULL, 'z' },
		{ "conns", required_argument, NULL, 'c' },  { "rounds", required_argument, NULL, 'r' },
		{ "cc", required_argument, NULL, 'C' },     { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *mode, *to_s = NULL, *bind_s = NULL, *kind_s = "discard";
	int port = 0, streams = 1, conns = 10000, rounds = 3, c;
	double secs = 5;
	size_t msg = 131072, size = 64;
	struct sockaddr_in to;
	struct sigaction sa = { .sa_handler = on_signal };

	if (argc < 2) {
		usage();
		return 2;
	}
	mode = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't': to_s = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'b': bind_s = optarg; break;
		case 'k': kind_s = optarg; break;
		case 'n': streams = atoi(optarg); break;
		case 's': secs = atof(optarg); break;
		case 'm': msg = (size_t)atol(optarg); break;
		case 'z': size = (size_t)atol(optarg); break;
		case 'c': conns = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 'C': cc = optarg; break;
		default: usage(); return 2;
		}
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	fill_pattern();
	if (size < 1 || size > sizeof(pattern) || streams < 1 || conns < 1) {
		fprintf(stderr, "tsk-load: bad size, streams or conns\n");
		return 2;
	}
	if (!strcmp(mode, "server")) {
		enum kind k = !strcmp(kind_s, "echo") ? K_ECHO :
			      !strcmp(kind_s, "chargen") ? K_CHARGEN : K_DISCARD;
		return do_server(bind_s, port, k);
	}
	if (!strcmp(mode, "udp-sink"))
		return do_udp_sink(port, secs);
	if (!to_s || parse_addr(to_s, &to) < 0) {
		fprintf(stderr, "tsk-load: %s needs --to ADDR:PORT\n", mode);
		return 2;
	}
	if (!strcmp(mode, "bulk-send"))
		return do_bulk(&to, true, streams, secs, msg);
	if (!strcmp(mode, "bulk-recv"))
		return do_bulk(&to, false, streams, secs, msg);
	if (!strcmp(mode, "rr"))
		return do_rr(&to, size, secs);
	if (!strcmp(mode, "crr"))
		return do_crr(&to, size, secs);
	if (!strcmp(mode, "conc"))
		return do_conc(&to, conns, size, rounds);
	if (!strcmp(mode, "udp-send"))
		return do_udp_send(&to, size, secs);
	usage();
	return 2;
}
