/* test_poll_env.c - the world of the readiness tests: namespace, engine, the test re-run under LD_PRELOAD, kernel peers (see test_poll_env.h).
 *
 * Everything this creates (namespace, TAP, engine) is removed by the outer run,
 * also when meson's timeout kills it with SIGTERM. Addresses: 10.77.N.0/24 only,
 * inside that namespace. */
#include "test_poll_env.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- the outer run ---- */

static char ns_name[64];
static volatile sig_atomic_t got_signal;
static pid_t inner_pid;

static void on_signal(int sig)
{
	got_signal = sig;
}

/* Run argv, wait for it; its exit status (128+sig when killed, -1 not run). */
static int run(char *const argv[], bool quiet)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (quiet) {
			int fd = open("/dev/null", O_WRONLY);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
			}
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	inner_pid = pid;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return -1;
		if (got_signal)  /* timeout: the child goes first, then we clean up */
			kill(pid, SIGKILL);
	}
	inner_pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void teardown(const char *tapsock)
{
	char *down[] = { (char *)tapsock, "down", "--netns", ns_name, NULL };
	char *del[] = { "ip", "netns", "delete", ns_name, NULL };

	run(down, true);
	run(del, true);  /* normally gone with `down` already */
}

static int skip(const char *why)
{
	fprintf(stderr, "SKIP: %s\n", why);
	return 77;
}

static int outer(int argc, char **argv, int subnet, const char *name)
{
	const char *tapsock = getenv("TAPSOCK");
	char self[PATH_MAX], addr[32], logf[PATH_MAX], probe[64];
	struct sigaction sa = { .sa_handler = on_signal };
	int fd, rc;

	if (geteuid() != 0)
		return skip("needs root (CAP_NET_ADMIN for TAP and namespaces)");
	if ((fd = open("/dev/net/tun", O_RDWR)) < 0)
		return skip("cannot open /dev/net/tun (TUN/TAP driver missing)");
	close(fd);
	if (!tapsock || access(tapsock, X_OK) < 0) {
		fprintf(stderr, "FAIL: TAPSOCK=%s is not the tapsock command\n", tapsock ? tapsock : "");
		return 1;
	}
	snprintf(probe, sizeof(probe), "tskpl-probe-%d", (int)getpid());
	char *padd[] = { "ip", "netns", "add", probe, NULL };
	char *pdel[] = { "ip", "netns", "delete", probe, NULL };
	if (run(padd, true) != 0)
		return skip("cannot create network namespaces (ip netns add failed)");
	run(pdel, true);

	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 1;
	self[n] = 0;
	snprintf(ns_name, sizeof(ns_name), "tskpl-%s-%d", name, (int)getpid());
	snprintf(addr, sizeof(addr), "10.77.%d.2/24", subnet);
	snprintf(logf, sizeof(logf), "/tmp/%s.log", ns_name);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	char *up[] = { (char *)tapsock, "up", "--netns", ns_name, "--addr", addr, "--log", logf, NULL };
	if ((rc = run(up, false)) != 0) {
		fprintf(stderr, "FAIL: tapsock up --netns %s: exit %d\n", ns_name, rc);
		teardown(tapsock);
		return 1;
	}
	char sub[16];
	snprintf(sub, sizeof(sub), "%d", subnet);
	setenv("TSK_PLENV_INNER", sub, 1);
	/* the inner run: this binary on the engine, as `tapsock run` runs any program */
	char **rargv = calloc((size_t)argc + 8, sizeof(*rargv));
	int k = 0;
	rargv[k++] = (char *)tapsock;
	rargv[k++] = "run";
	rargv[k++] = "--netns";
	rargv[k++] = ns_name;
	rargv[k++] = "--";
	rargv[k++] = self;
	for (int i = 1; i < argc; i++)
		rargv[k++] = argv[i];
	rargv[k] = NULL;
	rc = got_signal ? 1 : run(rargv, false);
	free(rargv);
	if (rc != 0) {  /* the engine's view, for whoever reads the failure */
		char cmd[PATH_MAX + 64];
		snprintf(cmd, sizeof(cmd), "tail -n 20 %s >&2", logf);
		fprintf(stderr, "--- engine log ---\n");
		if (system(cmd) < 0)
			perror("system");
	}
	teardown(tapsock);
	unlink(logf);
	return rc == 0 ? 0 : 1;
}

/* ---- the inner run ---- */

/* From the environment, not from main(): Criterion's workers may run a test
 * without going through our main(). */
static uint32_t inner_subnet(void)
{
	const char *e = getenv("TSK_PLENV_INNER");

	return e ? (uint32_t)atoi(e) & 0xff : 0;
}

uint32_t plenv_kaddr(void)
{
	return htonl(0x0a4d0000u | inner_subnet() << 8 | 1);
}

uint32_t plenv_eaddr(void)
{
	return htonl(0x0a4d0000u | inner_subnet() << 8 | 2);
}

int plenv_main(int argc, char **argv, int subnet, const char *name)
{
	const char *inner = getenv("TSK_PLENV_INNER");

	if (!inner)
		return outer(argc, argv, subnet, name);
	struct criterion_test_set *tests = criterion_initialize();
	int result = 0;
	if (criterion_handle_args(argc, argv, true))
		result = !criterion_run_all_tests(tests);
	criterion_finalize(tests);
	return result;
}

static struct sockaddr_in sin_of(uint32_t addr, uint16_t port)
{
	return (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = addr,
				     .sin_port = htons(port) };
}

int k_listen(uint32_t addr, uint16_t port, int rcvbuf)
{
	struct sockaddr_in sa = sin_of(addr, port);
	int one = 1;
	int fd = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert(fd >= 0, "kernel socket: %s", strerror(errno));
	syscall(SYS_setsockopt, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (rcvbuf > 0)
		syscall(SYS_setsockopt, fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	cr_assert(syscall(SYS_bind, fd, &sa, sizeof(sa)) == 0, "kernel bind: %s", strerror(errno));
	cr_assert(syscall(SYS_listen, fd, 16) == 0, "kernel listen: %s", strerror(errno));
	return fd;
}

int k_accept(int lfd)
{
	int fd = (int)syscall(SYS_accept4, lfd, NULL, NULL, SOCK_CLOEXEC);

	cr_assert(fd >= 0, "kernel accept: %s", strerror(errno));
	return fd;
}

int k_connect(uint32_t addr, uint16_t port)
{
	struct sockaddr_in sa = sin_of(addr, port);
	int fd = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert(fd >= 0, "kernel socket: %s", strerror(errno));
	cr_assert(syscall(SYS_connect, fd, &sa, sizeof(sa)) == 0, "kernel connect: %s",
		  strerror(errno));
	return fd;
}

uint16_t k_free_port(void)
{
	struct sockaddr_in sa = sin_of(plenv_kaddr(), 0);
	socklen_t len = sizeof(sa);
	int fd = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert(fd >= 0);
	cr_assert(syscall(SYS_bind, fd, &sa, sizeof(sa)) == 0);
	cr_assert(syscall(SYS_getsockname, fd, &sa, &len) == 0);
	close(fd);
	return ntohs(sa.sin_port);
}

int t_socket(int nonblock)
{
	int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);

	cr_assert(fd >= 0, "socket: %s", strerror(errno));
	return fd;
}

uint16_t k_port(int lfd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	cr_assert(syscall(SYS_getsockname, lfd, &sa, &len) == 0);
	return ntohs(sa.sin_port);
}

int t_connect_pair(int *kfd, int kernel_rcvbuf)
{
	int lfd = k_listen(plenv_kaddr(), 0, kernel_rcvbuf);
	int fd = t_socket(0);
	struct sockaddr_in sa = sin_of(plenv_kaddr(), k_port(lfd));

	cr_assert(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect: %s",
		  strerror(errno));
	*kfd = k_accept(lfd);
	close(lfd);
	return fd;
}

size_t fill_nonblock(int fd)
{
	static char buf[65536];
	size_t total = 0;

	for (;;) {
		ssize_t n = send(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			cr_assert(errno == EAGAIN, "send: %s", strerror(errno));
			return total;
		}
		total += (size_t)n;
		cr_assert(total < (64u << 20), "send never filled up");
	}
}

long long cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
	       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
