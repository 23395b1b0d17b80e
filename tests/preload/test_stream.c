/* test_stream.c - bulk receive on tapsock against a fast kernel sender: the receive window reopens whenever the program drains the shared ring, whatever the reading pattern (RFC 9293 3.8.6.2.2 window updates; poll(2), epoll(7), recv(2)); and bulk send: the send buffer grows as Linux's.
 *
 * A kernel peer sends 20 MB as fast as it can; the tapsock reader drains in bursts
 * and pauses now and then, so that the receive ring and TCP's queue behind it
 * fill up and empty over and over: each pause leaves the engine with bytes the
 * ring cannot take (the reader must ring when it makes room), each burst races
 * the engine publishing more. A lost doorbell or token leaves both ends waiting
 * for ever; here that is a wait of more than 5 s, reported with where it stopped.
 * Subnet 10.77.126.0/24 (test_poll_env.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test_poll_env.h"

TestSuite(stream, .timeout = 60);

#define TOTAL (20u << 20)
#define STALL_MS 5000

struct sender {
	int kfd;
	size_t sent;
	int err;
};

/* The byte at stream offset i: a pattern that catches reordering and loss. */
static inline uint8_t pat(size_t i) { return (uint8_t)(i * 7u + (i >> 12)); }

static void *send_all(void *arg)
{
	struct sender *s = arg;
	static __thread uint8_t buf[65536];

	while (s->sent < TOTAL) {
		size_t n = TOTAL - s->sent < sizeof(buf) ? TOTAL - s->sent : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = pat(s->sent + i);
		ssize_t w = write(s->kfd, buf, n);
		if (w <= 0) {
			s->err = w < 0 ? errno : EPIPE;
			break;
		}
		s->sent += (size_t)w;
	}
	shutdown(s->kfd, SHUT_WR);
	return NULL;
}

enum how { BY_POLL, BY_BLOCKING, BY_EPOLL_ET };

static void check_bytes(const uint8_t *b, size_t n, size_t at)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != pat(at + i))
			cr_assert_fail("byte %zu differs: %u, expected %u", at + i, b[i], pat(at + i));
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Receive the 20 MB: bursts of `chunk` bytes per wake-up, a pause of pause_ms
 * every `every` bytes. */
static void drain(enum how how, size_t chunk, size_t every, int pause_ms)
{
	int kfd, fd = t_connect_pair(&kfd, 0);
	struct sender s = { .kfd = kfd };
	pthread_t th;
	static uint8_t buf[1 << 20];
	size_t got = 0, next_pause = every;
	int ep = -1;
	long long t0 = now_ms();

	cr_assert(chunk <= sizeof(buf));
	if (how != BY_BLOCKING)
		cr_assert(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);
	if (how == BY_EPOLL_ET) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.fd = fd };
		ep = epoll_create1(EPOLL_CLOEXEC);
		cr_assert(ep >= 0);
		cr_assert(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
	} else if (how == BY_BLOCKING) {
		struct timeval tv = { STALL_MS / 1000, 0 };
		cr_assert(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
	}
	cr_assert(pthread_create(&th, NULL, send_all, &s) == 0);

	for (;;) {
		ssize_t r;

		if (how == BY_POLL) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			int n = poll(&p, 1, STALL_MS);
			cr_assert(n >= 0, "poll: %s", strerror(errno));
			cr_assert(n == 1, "stalled: poll waited %d ms with %zu of %u bytes received "
				  "(the sender wrote %zu)", STALL_MS, got, TOTAL, s.sent);
		} else if (how == BY_EPOLL_ET) {
			struct epoll_event ev;
			int n = epoll_wait(ep, &ev, 1, STALL_MS);
			cr_assert(n >= 0, "epoll_wait: %s", strerror(errno));
			cr_assert(n == 1, "stalled: epoll_wait waited %d ms with %zu of %u bytes "
				  "received (the sender wrote %zu)", STALL_MS, got, TOTAL, s.sent);
		}
		/* one burst (edge-triggered: until EAGAIN, as the contract says) */
		bool eof = false;
		do {
			r = recv(fd, buf, chunk, 0);
			if (r < 0) {
				cr_assert(errno == EAGAIN || how == BY_BLOCKING,
					  "recv: %s after %zu bytes", strerror(errno), got);
				cr_assert(how != BY_BLOCKING, "stalled: recv waited %d ms with %zu of "
					  "%u bytes received (the sender wrote %zu)", STALL_MS, got,
					  TOTAL, s.sent);
				break;
			}
			if (r == 0) {
				eof = true;
				break;
			}
			check_bytes(buf, (size_t)r, got);
			got += (size_t)r;
		} while (how == BY_EPOLL_ET);
		if (eof)
			break;
		if (got >= next_pause) {
			sleep_ms(pause_ms);
			next_pause = got + every;
		}
	}
	pthread_join(th, NULL);
	cr_expect_eq(s.err, 0, "sender: %s", strerror(s.err));
	cr_expect_eq(got, TOTAL, "received %zu bytes, expected %u", got, TOTAL);
	cr_log_info("%zu bytes in %lld ms", got, now_ms() - t0);
	if (ep >= 0)
		close(ep);
	close(fd);
	close(kfd);
}

/* curl's pattern: ppoll, one recv of 16 KB per wake-up. */
Test(stream, poll_reader_with_pauses_gets_all_20_mb)
{
	drain(BY_POLL, 16384, 3u << 20, 30);
}

/* small reads: each frees a sliver of the ring (many doorbells, small windows) */
Test(stream, poll_reader_of_small_bursts_gets_all_20_mb)
{
	drain(BY_POLL, 1500, 1u << 20, 10);
}

Test(stream, blocking_reader_with_pauses_gets_all_20_mb)
{
	drain(BY_BLOCKING, 65536, 2u << 20, 30);
}

/* asyncio's pattern: edge-triggered epoll, read until EAGAIN */
Test(stream, epoll_et_reader_with_pauses_gets_all_20_mb)
{
	drain(BY_EPOLL_ET, 262144, 2u << 20, 30);
}

/* ---- a tapsock writer against a fast kernel reader ---- */

static void *read_all(void *arg)
{
	struct sender *s = arg;
	static uint8_t buf[1 << 18];
	ssize_t r;

	while ((r = read(s->kfd, buf, sizeof(buf))) > 0) {
		check_bytes(buf, (size_t)r, s->sent);
		s->sent += (size_t)r;
	}
	s->err = r < 0 ? errno : 0;
	return NULL;
}

/* The send buffer grows with the window as Linux's (tcp_new_space ->
 * tcp_sndbuf_expand, when the writer found it full). The program's writes are
 * bounded by the send buffer before they reach TCP, so the engine must tell TCP
 * that the writer was blocked: without it the buffer stayed at its first size
 * and a streaming writer woke for every 64 KiB. */
Test(stream, writer_send_buffer_grows_with_the_window)
{
	int kfd, fd = t_connect_pair(&kfd, 0);
	struct sender r = { .kfd = kfd };
	static uint8_t buf[1 << 20];
	int sndbuf0 = 0, sndbuf = 0;
	socklen_t len = sizeof(sndbuf0);
	size_t sent = 0;
	pthread_t th;

	cr_assert(getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf0, &len) == 0);
	cr_assert(pthread_create(&th, NULL, read_all, &r) == 0);
	while (sent < TOTAL) {
		size_t n = TOTAL - sent < sizeof(buf) ? TOTAL - sent : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = pat(sent + i);
		ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
		cr_assert(w > 0, "send: %s after %zu bytes", strerror(errno), sent);
		sent += (size_t)w;
	}
	len = sizeof(sndbuf);
	cr_assert(getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) == 0);
	shutdown(fd, SHUT_WR);
	pthread_join(th, NULL);
	cr_expect_eq(r.err, 0, "reader: %s", strerror(r.err));
	cr_expect_eq(r.sent, TOTAL, "the kernel read %zu bytes, expected %u", r.sent, TOTAL);
	cr_expect_gt(sndbuf, 2 * sndbuf0, "SO_SNDBUF %d after 20 MB, %d at first", sndbuf, sndbuf0);
	cr_log_info("SO_SNDBUF %d -> %d", sndbuf0, sndbuf);
	close(fd);
	close(kfd);
}

/* ---- the end of the stream after our own shutdown(SHUT_WR) (nc -N) ---- */

/* The kernel peer reads to our EOF, then answers with `len` bytes and closes. */
struct answer {
	int kfd;
	size_t len;
};

static void *answer_after_eof(void *arg)
{
	struct answer *a = arg;
	static uint8_t buf[65536];
	size_t off = 0;

	while (read(a->kfd, buf, sizeof(buf)) > 0)
		;
	while (off < a->len) {
		size_t n = a->len - off < sizeof(buf) ? a->len - off : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = pat(off + i);
		ssize_t w = write(a->kfd, buf, n);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(a->kfd);
	return NULL;
}

/* nc -N's loop: after its shutdown(SHUT_WR) it reads while poll() says POLLIN and
 * stops at a POLLHUP that comes without POLLIN ("reading is possible after HUP"
 * only with POLLIN, as Linux's tcp_poll() always sets it after the peer's FIN).
 * The answer is larger than the receive ring, so TCP still holds bytes and the
 * FIN while the reader empties the ring: the hang-up must wait for them. */
Test(stream, after_shutdown_wr_a_reader_that_stops_at_pollhup_gets_the_whole_answer)
{
	int kfd, fd = t_connect_pair(&kfd, 0);
	struct answer a = { .kfd = kfd, .len = 700u << 10 };
	static uint8_t buf[1 << 20];
	size_t got = 0;
	pthread_t th;

	cr_assert(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);
	cr_assert(pthread_create(&th, NULL, answer_after_eof, &a) == 0);
	cr_assert(send(fd, "question", 8, 0) == 8);
	cr_assert(shutdown(fd, SHUT_WR) == 0);
	sleep_ms(300);   /* the answer and its FIN arrive while nobody reads */
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n = poll(&p, 1, STALL_MS);
		cr_assert(n == 1, "poll: %d after %zu bytes", n, got);
		if (!(p.revents & POLLIN)) {
			cr_assert(p.revents & POLLHUP, "revents %#x", p.revents);
			break;   /* nc: the connection is done */
		}
		/* one read takes the whole ring: the next poll comes before the
		 * engine can refill it */
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r == 0)
			break;
		cr_assert(r > 0 || errno == EAGAIN, "recv: %s", strerror(errno));
		if (r > 0) {
			check_bytes(buf, (size_t)r, got);
			got += (size_t)r;
		}
	}
	pthread_join(th, NULL);
	cr_expect_eq(got, a.len, "%zu of %zu bytes before the hang-up", got, a.len);
	close(fd);
}

int main(int argc, char **argv)
{
	return plenv_main(argc, argv, 126, "stream");
}
