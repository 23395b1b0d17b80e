/* tsk-rawtap.c - the raw TAP link ceiling for `tapsock bench`: frames written to or read from a TAP through io_uring, no TCP (RFC 768 frames, RFC 894 Ethernet).
 *
 *   tsk-rawtap tx --ifname TAP --src A --dst A --dst-mac MAC [--size 1514] [--batch 32] [--seconds S]
 *       writes UDP frames (to port 9) through the TAP into the kernel, BATCH writes per
 *       io_uring submission, as fast as the kernel takes them
 *   tsk-rawtap rx --ifname TAP [--depth 64] [--seconds S]
 *       keeps DEPTH reads posted on the TAP and counts what the kernel sends into it
 *
 * The TAP must exist (ip tuntap add ... mode tap) and be up. No virtio-net header and
 * offloads explicitly off (TUNSETOFFLOAD 0): a TAP keeps a previous user's offloads.
 * Prints one JSON object: frames, bytes, seconds, pps, gbps and the CPU time used. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <liburing.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int tap_open(const char *name)
{
	struct ifreq ifr;
	int fd, r = -1;

	/* blocking fd: io_uring then waits for data itself instead of returning EAGAIN */
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	/* right after an io_uring user of this TAP exited, attaching fails with EBUSY
	 * for a moment (deferred ring teardown) */
	for (int i = 0; i < 50 && (r = ioctl(fd, TUNSETIFF, &ifr)) < 0 && errno == EBUSY; i++)
		usleep(20000);
	if (r < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	ioctl(fd, TUNSETOFFLOAD, 0);
	return fd;
}

static uint16_t csum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		s += (uint32_t)b[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

/* Ethernet + IPv4 + UDP to port 9, UDP checksum 0 (allowed for IPv4, RFC 768). */
static size_t build_frame(uint8_t *f, size_t size, const uint8_t dmac[6], uint32_t src, uint32_t dst)
{
	static const uint8_t smac[6] = { 0x02, 0x74, 0x73, 0x6b, 0x00, 0x99 };
	size_t ip_len = size - 14, udp_len = ip_len - 20;
	uint8_t *ip = f + 14, *udp = ip + 20;

	memset(f, 0, size);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ip_len >> 8);
	ip[3] = (uint8_t)ip_len;
	ip[6] = 0x40;   /* DF */
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	uint16_t c = csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	udp[0] = 0x30;  /* source port 12345 */
	udp[1] = 0x39;
	udp[3] = 9;
	udp[4] = (uint8_t)(udp_len >> 8);
	udp[5] = (uint8_t)udp_len;
	return size;
}

static void report(const char *mode, uint64_t frames, uint64_t bytes, uint64_t errs, double el)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	printf("{\"mode\":\"%s\",\"frames\":%llu,\"bytes\":%llu,\"errors\":%llu,\"seconds\":%.6f,"
	       "\"pps\":%.1f,\"gbps\":%.4f,\"cpu_user_s\":%.6f,\"cpu_sys_s\":%.6f}\n", mode,
	       (unsigned long long)frames, (unsigned long long)bytes, (unsigned long long)errs, el,
	       el > 0 ? (double)frames / el : 0, el > 0 ? (double)bytes * 8 / el / 1e9 : 0,
	       (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
}

static int do_tx(int fd, size_t size, unsigned batch, double secs, const uint8_t dmac[6],
		 uint32_t src, uint32_t dst)
{
	struct io_uring ring;
	uint8_t frame[2048];
	uint64_t frames = 0, bytes = 0, errs = 0, t0, end;
	unsigned inflight = 0;

	if (size < 60 || size > sizeof(frame))
		return -EINVAL;
	build_frame(frame, size, dmac, src, dst);
	if (io_uring_queue_init(batch * 2, &ring, 0) < 0)
		return -ENOMEM;
	t0 = now_ns();
	end = t0 + (uint64_t)(secs * 1e9);
	while (!stop_flag && now_ns() < end) {
		/* the same frame every time: the kernel copies it in write(), so one buffer
		 * serves every in-flight write */
		while (inflight < batch) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			if (!sqe)
				break;
			io_uring_prep_write(sqe, fd, frame, (unsigned)size, 0);
			inflight++;
		}
		io_uring_submit_and_wait(&ring, inflight);
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		io_uring_for_each_cqe(&ring, head, cqe) {
			if (cqe->res > 0) {
				frames++;
				bytes += (uint64_t)cqe->res;
			} else {
				errs++;
			}
			n++;
		}
		io_uring_cq_advance(&ring, n);
		inflight -= n;
	}
	report("tap-tx", frames, bytes, errs, (double)(now_ns() - t0) / 1e9);
	io_uring_queue_exit(&ring);
	return 0;
}

static int do_rx(int fd, unsigned depth, double secs)
{
	struct io_uring ring;
	uint8_t (*bufs)[2048] = calloc(depth, 2048);
	uint64_t frames = 0, bytes = 0, errs = 0, t0 = 0, t1 = 0, end;
	struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 200000000 };

	if (!bufs || io_uring_queue_init(depth * 2, &ring, 0) < 0)
		return -ENOMEM;
	for (unsigned i = 0; i < depth; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
		io_uring_prep_read(sqe, fd, bufs[i], 2048, 0);
		io_uring_sqe_set_data64(sqe, i);
	}
	io_uring_submit(&ring);
	printf("{\"ready\":true}\n");
	fflush(stdout);
	end = now_ns() + (uint64_t)(secs * 1e9);
	while (!stop_flag && now_ns() < end) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;

		if (io_uring_wait_cqe_timeout(&ring, &cqe, &ts) < 0) {
			if (frames && now_ns() - t1 > 500000000ull)
				break;   /* the sender is done */
			continue;
		}
		io_uring_for_each_cqe(&ring, head, cqe) {
			unsigned i = (unsigned)io_uring_cqe_get_data64(cqe);
			if (cqe->res > 0) {
				if (!t0)
					t0 = now_ns();
				frames++;
				bytes += (uint64_t)cqe->res;
			} else {
				errs++;
			}
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			io_uring_prep_read(sqe, fd, bufs[i], 2048, 0);
			io_uring_sqe_set_data64(sqe, i);
			n++;
		}
		t1 = now_ns();
		io_uring_cq_advance(&ring, n);
		io_uring_submit(&ring);
	}
	report("tap-rx", frames, bytes, errs, t1 > t0 ? (double)(t1 - t0) / 1e9 : 0);
	/* posted reads end with the ring */
	io_uring_queue_exit(&ring);
	free(bufs);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ifname", required_argument, NULL, 'i' }, { "src", required_argument, NULL, 's' },
		{ "dst", required_argument, NULL, 'd' },    { "dst-mac", required_argument, NULL, 'M' },
		{ "size", required_argument, NULL, 'z' },   { "batch", required_argument, NULL, 'b' },
		{ "depth", required_argument, NULL, 'D' },  { "seconds", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ifname = NULL, *mode;
	uint32_t src = 0, dst = 0;
	uint8_t dmac[6] = { 0 };
	size_t size = 1514;
	unsigned batch = 32, depth = 64;
	double secs = 3;
	int c, fd, r;
	struct sigaction sa = { .sa_handler = on_signal };

	if (argc < 2 || (strcmp(argv[1], "tx") && strcmp(argv[1], "rx"))) {
		fputs("usage: tsk-rawtap tx|rx --ifname TAP [--src A --dst A --dst-mac MAC] "
		      "[--size N] [--batch N] [--depth N] [--seconds S]\n", stderr);
		return 2;
	}
	mode = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i': ifname = optarg; break;
		case 's': inet_pton(AF_INET, optarg, &src); break;
		case 'd': inet_pton(AF_INET, optarg, &dst); break;
		case 'M':
			if (parse_mac(optarg, dmac) < 0) {
				fprintf(stderr, "tsk-rawtap: bad MAC '%s'\n", optarg);
				return 2;
			}
			break;
		case 'z': size = (size_t)atol(optarg); break;
		case 'b': batch = (unsigned)atoi(optarg); break;
		case 'D': depth = (unsigned)atoi(optarg); break;
		case 'S': secs = atof(optarg); break;
		default: return 2;
		}
	}
	if (!ifname || !batch || !depth || depth > 1024 || batch > 1024) {
		fprintf(stderr, "tsk-rawtap: --ifname needed; batch and depth 1..1024\n");
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fd = tap_open(ifname);
	if (fd < 0) {
		fprintf(stderr, "tsk-rawtap: %s: %s\n", ifname, strerror(-fd));
		return 1;
	}
	r = !strcmp(mode, "tx") ? do_tx(fd, size, batch, secs, dmac, src, dst) : do_rx(fd, depth, secs);
	close(fd);
	if (r < 0) {
		fprintf(stderr, "tsk-rawtap: %s\n", strerror(-r));
		return 1;
	}
	return 0;
}
