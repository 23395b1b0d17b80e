/* test_ipc_daemon.c - tapsockd as a user meets it: start-up handshake (-d), the
 * control channel (info, stats, capture, quit), ping through the engine, a second
 * engine of the same name refused, the TAP gone after exit, wrong arguments.
 * Runs each test in a network namespace of its own (unshare); needs root and
 * /dev/net/tun, else the whole program exits 77 (meson: SKIP) saying why. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/ipc.h"

static char daemon_bin[PATH_MAX];
static char dir[64];
static char pidfile[128], pcapfile[128], logfile[128];

static int find_daemon(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		return -1;
	self[n] = '\0';
	/* build/tests/unit/test_ipc_daemon -> build/engine/tapsockd */
	snprintf(daemon_bin, sizeof(daemon_bin), "%s/../../engine/tapsockd", dirname(self));
	return access(daemon_bin, X_OK);
}

static int run(const char *cmd, char *out, size_t cap)
{
	FILE *p = popen(cmd, "r");
	size_t got = 0;
	int st;

	if (!p)
		return -1;
	if (out) {
		got = fread(out, 1, cap - 1, p);
		out[got] = '\0';
	} else {
		char sink[256];
		while (fread(sink, 1, sizeof(sink), p) > 0)
			;
	}
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static pid_t read_pid(void)
{
	FILE *f = fopen(pidfile, "r");
	int pid = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	return pid;
}

static void setup(void)
{
	/* test workers do not run main(): find the daemon here */
	cr_assert_eq(find_daemon(), 0, "tapsockd not found at %s", daemon_bin);
	/* a namespace of our own: it goes away with us and the engine */
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare: %s", strerror(errno));
	snprintf(dir, sizeof(dir), "/tmp/tsk-daemon-test-%d", (int)getpid());
	mkdir(dir, 0700);
	snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
	snprintf(pcapfile, sizeof(pcapfile), "%s/start.pcap", dir);
	snprintf(logfile, sizeof(logfile), "%s/log", dir);
}

static void teardown(void)
{
	char cmd[256];
	pid_t pid = read_pid();

	if (pid > 0)
		kill(pid, SIGTERM);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
}

static int wait_gone(const char *ifname, int ms)
{
	for (int i = 0; i < ms / 20; i++) {
		if (if_nametoindex(ifname) == 0)
			return 0;
		usleep(20000);
	}
	return -1;
}

Test(tapsockd, lifecycle_over_the_control_channel, .init = setup, .fini = teardown,
     .timeout = 60)
{
	char cmd[PATH_MAX + 1024], out[8192];
	struct ipc_reply rep;
	uint32_t all = 0;

	snprintf(cmd, sizeof(cmd), "%s -n t1 -i tskd1 -a 10.77.61.2/24 -d --pidfile %s --pcap %s "
		 "-l %s -v 2>&1", daemon_bin, pidfile, pcapfile, logfile);
	cr_assert_eq(run(cmd, out, sizeof(out)), 0, "tapsockd -d failed: %s", out);
	/* -d returns only when ready: everything is there at once */
	cr_assert_gt(read_pid(), 0, "pidfile written before the parent returned");
	cr_assert_neq(if_nametoindex("tskd1"), 0, "the TAP exists");
	cr_assert_eq(ipc_call("t1", IPC_PING, NULL, 0, &rep, 5000), 0);
	cr_assert_eq(rep.status, 0);
	ipc_reply_free(&rep);

	cr_assert_eq(ipc_call("t1", IPC_INFO, NULL, 0, &rep, 5000), 0);
	cr_assert(strstr(rep.data, "ifname tskd1\n"), "info: %s", rep.data);
	cr_assert(strstr(rep.data, "addr 10.77.61.2/24\n"), "info: %s", rep.data);
	cr_assert(strstr(rep.data, "peer 10.77.61.1\n"), "info: %s", rep.data);
	snprintf(cmd, sizeof(cmd), "pid %d\n", (int)read_pid());
	cr_assert(strstr(rep.data, cmd), "info: %s", rep.data);
	ipc_reply_free(&rep);

	/* the kernel side was configured: it reaches the engine */
	cr_assert_eq(run("ping -c 3 -i 0.2 -W 2 10.77.61.2", NULL, 0), 0, "ping through the engine");
	cr_assert_eq(ipc_call("t1", IPC_STATS, &all, sizeof(all), &rep, 5000), 0);
	cr_assert(strstr(rep.data, "icmp_tx_echo_reply 3\n"), "stats: %s", rep.data);
	ipc_reply_free(&rep);

	/* a second engine of that name is refused, naming the first */
	snprintf(cmd, sizeof(cmd), "%s -n t1 -i tskd2 -a 10.77.61.2/24 -d 2>&1", daemon_bin);
	cr_assert_eq(run(cmd, out, sizeof(out)), 1);
	snprintf(cmd, sizeof(cmd), "an engine named 't1' is already running in this network "
		 "namespace (pid %d)", (int)read_pid());
	cr_assert(strstr(out, cmd), "said: %s", out);
	cr_assert_eq(if_nametoindex("tskd2"), 0, "and created no TAP");

	/* capture at run time: a second capture is busy, stop tells the count */
	cr_assert_eq(ipc_call("t1", IPC_CAPTURE_START, "/x.pcap", 7, &rep, 5000), 0);
	cr_assert_eq(rep.status, -EBUSY, "the --pcap capture is running");
	ipc_reply_free(&rep);
	cr_assert_eq(ipc_call("t1", IPC_CAPTURE_STOP, NULL, 0, &rep, 5000), 0);
	cr_assert_eq(rep.status, 0);
	cr_assert(strstr(rep.data, "frames "), "stop reply: %s", rep.data);
	ipc_reply_free(&rep);
	snprintf(cmd, sizeof(cmd), "tcpdump -n -r %s 2>&1 | grep -c 'ICMP echo reply'", pcapfile);
	if (run("command -v tcpdump", NULL, 0) == 0) {
		cr_assert_eq(run(cmd, out, sizeof(out)), 0);
		cr_assert_eq(atoi(out), 3, "three echo replies captured: %s", out);
	}

	/* quit: the engine exits, the TAP and the pidfile go away */
	cr_assert_eq(ipc_call("t1", IPC_QUIT, NULL, 0, &rep, 5000), 0);
	cr_assert_eq(rep.status, 0);
	ipc_reply_free(&rep);
	cr_assert_eq(wait_gone("tskd1", 3000), 0, "the TAP disappears after exit");
	for (int i = 0; i < 100 && access(pidfile, F_OK) == 0; i++)
		usleep(20000);
	cr_assert_neq(access(pidfile, F_OK), 0, "pidfile removed");
	/* the pidfile goes before the process has finished exiting (slower under ASan) */
	int fd = -1;
	for (int i = 0; i < 150 && (fd = ipc_connect("t1")) >= 0; i++) {
		close(fd);
		usleep(20000);
	}
	cr_assert_lt(fd, 0, "control socket gone");
}

Test(tapsockd, sigterm_is_a_clean_exit, .init = setup, .fini = teardown, .timeout = 60)
{
	char cmd[PATH_MAX + 1024], out[4096];
	pid_t pid;

	snprintf(cmd, sizeof(cmd), "%s -n t2 -i tskd3 -a 10.77.62.2/24 --no-offload -d "
		 "--pidfile %s -l %s -v 2>&1", daemon_bin, pidfile, logfile);
	cr_assert_eq(run(cmd, out, sizeof(out)), 0, "tapsockd -d failed: %s", out);
	pid = read_pid();
	cr_assert_gt(pid, 0);
	cr_assert_eq(run("ping -c 1 -W 2 10.77.62.2", NULL, 0), 0);
	cr_assert_eq(kill(pid, SIGTERM), 0);
	cr_assert_eq(wait_gone("tskd3", 3000), 0, "the TAP disappears");
	for (int i = 0; i < 100 && kill(pid, 0) == 0; i++)
		usleep(20000);
	cr_assert_neq(kill(pid, 0), 0, "the engine exited");
	snprintf(cmd, sizeof(cmd), "cat %s", logfile);
	run(cmd, out, sizeof(out));
	cr_assert(strstr(out, "offloads none"), "--no-offload: %s", out);
	cr_assert(strstr(out, "final counters"), "counters logged at exit: %s", out);
	cr_assert(strstr(out, "icmp_tx_echo_reply 1"), "log: %s", out);
}

Test(tapsockd, wrong_arguments_exit_2, .init = setup, .fini = teardown)
{
	static const char *const bad[] = {
		"--mtu 10", "-a 10.77.63.2", "-a 10.77.63.0/24", "--peer 10.99.0.1",
		"--mac 01:00:5e:00:00:01", "--services telnet", "--no-such-option", "extra",
		"-n a/b",
	};
	char cmd[PATH_MAX + 1024], out[4096];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(cmd, sizeof(cmd), "%s -i tskd4 %s 2>&1", daemon_bin, bad[i]);
		cr_assert_eq(run(cmd, out, sizeof(out)), 2, "'%s' -> %s", bad[i], out);
		cr_assert(strstr(out, "usage:"), "'%s' prints the usage: %s", bad[i], out);
	}
	cr_assert_eq(if_nametoindex("tskd4"), 0, "no TAP made by a refused start");
}

static const char *skip_reason(void)
{
	static char why[PATH_MAX + 64];
	pid_t pid;
	int st;

	if (geteuid() != 0)
		return "needs root (CAP_NET_ADMIN) to create network namespaces and TAPs";
	if (access("/dev/net/tun", R_OK | W_OK) != 0)
		return "no /dev/net/tun";
	if (find_daemon() != 0) {
		snprintf(why, sizeof(why), "tapsockd not built at %s", daemon_bin);
		return why;
	}
	pid = fork();
	if (pid == 0)
		_exit(unshare(CLONE_NEWNET) == 0 ? 0 : 1);
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return "cannot create a network namespace (unshare CLONE_NEWNET)";
	if (run("command -v ping", NULL, 0) != 0)
		return "ping is not installed";
	return NULL;
}

int main(int argc, char *argv[])
{
	struct criterion_test_set *tests = criterion_initialize();
	const char *why = skip_reason();
	int result = 0;

	if (why) {
		fprintf(stderr, "SKIP: %s\n", why);
		criterion_finalize(tests);
		return 77;
	}
	if (criterion_handle_args(argc, argv, true))
		result = !criterion_run_all_tests(tests);
	criterion_finalize(tests);
	return result;
}
