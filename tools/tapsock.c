/* tapsock.c - the tapsock command: start, stop and inspect engines (ip-netns(8), nstat(8), ss(8) for the shapes).
 *
 * One binary, subcommands. It talks to a running tapsockd over the control channel
 * (engine/ipc/ipc.h); `up` execs tapsockd --daemon, in a network namespace of its
 * own when asked (setns(2) on /run/netns/NAME, the same handle `ip netns` uses);
 * `run` execs a program with the preload library (libtapsock.so) in LD_PRELOAD. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc/ipc.h"

#ifndef TAPSOCK_VERSION
#define TAPSOCK_VERSION "unknown"
#endif

#define NETNS_DIR "/run/netns"
#define STATE_DIR "/run/tapsock"
#define MARK_DIR STATE_DIR "/netns"   /* one empty file per namespace that `up` created */

/* Debian's library directory name, for finding an installed libtapsock.so */
#if defined(__x86_64__)
#define TAPSOCK_MULTIARCH "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define TAPSOCK_MULTIARCH "aarch64-linux-gnu"
#elif defined(__i386__)
#define TAPSOCK_MULTIARCH "i386-linux-gnu"
#else
#define TAPSOCK_MULTIARCH "lib"
#endif

#define UP_TIMEOUT_MS   10000
#define DOWN_TIMEOUT_MS 5000
#define CALL_TIMEOUT_MS 3000

/* Options every subcommand takes. */
struct common {
	const char *netns;
	const char *name;
};

static const char *prog = "tapsock";

static void __attribute__((format(printf, 1, 2))) err_msg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* An absolute path for the engine, whose working directory is not ours. */
static int abs_path(const char *in, char *out, size_t cap)
{
	char cwd[PATH_MAX];
	int n;

	if (in[0] == '/') {
		n = snprintf(out, cap, "%s", in);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		n = snprintf(out, cap, "%s/%s", cwd, in);
	}
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* ---- usage ---- */

static const char main_usage[] =
"usage: tapsock [--version] [--help] COMMAND [options]\n"
"\n"
"commands:\n"
"  up        start an engine (tapsockd), optionally in a new network namespace\n"
"  down      stop an engine, and delete the namespace `up` created for it\n"
"  stats     the engine's counters, like nstat (non-zero only; -a for all)\n"
"  info      the engine's identity: pid, TAP, addresses, offloads\n"
"  ss        the engine's TCP connections, like ss -tan\n"
"  capture   write what crosses the TAP to a pcap file for a while\n"
"  run       run a program with its TCP sockets on the engine (LD_PRELOAD)\n"
"  compat    the compatibility suite: cases on the kernel and on tapsock, compared\n"
"  bench     the same workloads on the kernel and on tapsock, side by side (--help)\n"
"\n"
"not implemented yet: trace\n"
"\n"
"Every command takes --netns NAME (enter /run/netns/NAME first) and --name N\n"
"(engine name, default \"default\"). Inside a namespace (ip netns exec X tapsock ...)\n"
"the engine of that namespace is found without options.\n"
"`tapsock COMMAND --help` tells more.\n";

static const char common_opts_usage[] =
"      --netns NAME    act in network namespace NAME (/run/netns/NAME)\n"
"  -n, --name N        engine name (default \"default\")\n"
"  -h, --help          this help\n";

static const char up_usage[] =
"usage: tapsock up [--netns NAME] [--name N] [--ifname IF] [--addr A/LEN]\n"
"                  [--services LIST] [--pcap FILE] [--log FILE] [-- tapsockd args...]\n"
"Start tapsockd as a daemon and wait until it answers on its control socket.\n"
"With --netns, the namespace is created (it must not exist), its lo brought up,\n"
"and the engine runs inside it; `tapsock down --netns NAME` deletes it again.\n"
"  -i, --ifname IF     TAP device to create (default tsk0)\n"
"  -a, --addr A/LEN    engine address (default 10.77.0.2/24; the kernel side gets .1)\n"
"      --services LIST built-in services: echo,discard,chargen\n"
"      --pcap FILE     capture every frame from the start\n"
"  -l, --log FILE      engine log file\n"
"tapsockd is looked for in $TAPSOCKD, next to this program, then in PATH.\n";

static const char down_usage[] =
"usage: tapsock down [--netns NAME] [--name N]\n"
"Ask the engine to quit, wait until it is gone (SIGKILL after 5 s), and delete\n"
"the namespace if `tapsock up` created it. Exit 1 when no engine runs.\n";

static const char stats_usage[] =
"usage: tapsock stats [-a] [--netns NAME] [--name N]\n"
"Print the engine's counters as \"name value\" lines; drops as drop.REASON.\n"
"  -a, --all           also the counters that are zero\n";

static const char info_usage[] =
"usage: tapsock info [--netns NAME] [--name N]\n"
"Print what the engine says about itself (key value lines).\n";

static const char ss_usage[] =
"usage: tapsock ss [--netns NAME] [--name N]\n"
"Print the engine's TCP connections.\n";

static const char capture_usage[] =
"usage: tapsock capture FILE [--seconds S] [--netns NAME] [--name N]\n"
"Write every frame crossing the engine's TAP to FILE (pcap) until Ctrl-C or for\n"
"S seconds. Read it with tcpdump -r FILE or Wireshark.\n"
"  -s, --seconds S     stop after S seconds (may be fractional)\n";

static int usage_error(const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;

	/* NULL: getopt has already said what was wrong */
	if (fmt) {
		fprintf(stderr, "%s: ", prog);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fputs(usage, stderr);
	if (usage != main_usage)
		fputs(common_opts_usage, stderr);
	return 2;
}

static int print_help(const char *usage)
{
	fputs(usage, stdout);
	if (usage != main_usage)
		fputs(common_opts_usage, stdout);
	return 0;
}

/* ---- option parsing shared by the subcommands ---- */

enum { O_NETNS = 256, O_SERVICES, O_PCAP };

#define COMMON_LONGOPTS                                     \
	{ "netns", required_argument, NULL, O_NETNS },      \
	{ "name", required_argument, NULL, 'n' },           \
	{ "help", no_argument, NULL, 'h' }

/* Handles the common options; returns 1 if c was one, 0 if not, -1 on --help. */
static int common_opt(struct common *co, int c)
{
	switch (c) {
	case O_NETNS: co->netns = optarg; return 1;
	case 'n': co->name = optarg; return 1;
	case 'h': return -1;
	default: return 0;
	}
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s <= ' ')
			return false;
	return true;
}

/* ---- namespaces ---- */

static int netns_exists(const char *ns)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), NETNS_DIR "/%s", ns);
	return stat(path, &st) == 0;
}

/* Enter the network namespace that `ip netns add NAME` made. Mount namespace is
 * left alone: the engine needs /dev/net/tun and nothing from /sys. */
static int netns_enter(const char *ns)
{
	char path[PATH_MAX];
	int fd;

	if (!valid_name(ns)) {
		err_msg("invalid namespace name '%s'", ns);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), NETNS_DIR "/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			err_msg("no network namespace '%s' (%s does not exist)", ns, path);
		else
			err_msg("cannot open %s: %s", path, strerror(e));
		return -e;
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		int e = errno;
		err_msg("cannot enter network namespace '%s': %s%s", ns, strerror(e),
			e == EPERM ? " (needs root / CAP_SYS_ADMIN)" : "");
		close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

static void marker_path(const char *ns, char *buf, size_t cap)
{
	snprintf(buf, cap, MARK_DIR "/%s", ns);
}

static bool netns_created_by_us(const char *ns)
{
	char path[PATH_MAX];

	marker_path(ns, path, sizeof(path));
	return access(path, F_OK) == 0;
}

static int mark_netns(const char *ns)
{
	char path[PATH_MAX];
	int fd;

	if ((mkdir(STATE_DIR, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(MARK_DIR, 0755) < 0 && errno != EEXIST))
		return -errno;
	marker_path(ns, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static void unmark_netns(const char *ns)
{
	char path[PATH_MAX];

	marker_path(ns, path, sizeof(path));
	unlink(path);
}

/* Run a program and wait for it; its output goes where ours goes. Exit status or -errno. */
static int run_wait(char *const argv[])
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "%s: cannot run %s: %s\n", prog, argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* `ip netns add` does what users know (the bind mount under /run/netns, and the
 * mount propagation that makes it visible to everyone): use it rather than
 * re-implement it. */
static int ip_netns(const char *verb, const char *what, const char *ns)
{
	char *argv[] = { "ip", "netns", (char *)verb, (char *)ns, NULL };
	int r = run_wait(argv);

	if (r != 0) {
		err_msg("could not %s network namespace '%s' (ip netns %s exited %d)", what, ns,
			verb, r);
		return -EIO;
	}
	return 0;
}

static int netns_add(const char *ns) { return ip_netns("add", "create", ns); }
static int netns_del(const char *ns) { return ip_netns("delete", "delete", ns); }

/* Bring an interface up in the current namespace (lo of a new namespace is down). */
static int link_up(const char *ifname)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		r = -errno;
	} else if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			r = -errno;
	}
	close(fd);
	return r;
}

/* ---- the control channel ---- */

/* Reply text value of `key` in "key value\n" lines, copied into out. */
static bool kv_get(const char *text, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (!strncmp(l, key, kl) && l[kl] == ' ') {
			const char *v = l + kl + 1, *e = strchr(v, '\n');
			size_t n = e ? (size_t)(e - v) : strlen(v);
			if (n >= cap)
				n = cap - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return true;
		}
	}
	return false;
}

static void where(const struct common *co, char *buf, size_t cap)
{
	if (co->netns)
		snprintf(buf, cap, "engine '%s' in namespace '%s'", co->name, co->netns);
	else
		snprintf(buf, cap, "engine '%s'", co->name);
}

/* One request; on transport failure says why in words users understand. */
static int call(const struct common *co, uint16_t type, const void *pl, size_t len,
		struct ipc_reply *rep, bool quiet)
{
	char w[256];
	int r = ipc_call(co->name, type, pl, len, rep, CALL_TIMEOUT_MS);

	if (r < 0 && !quiet) {
		where(co, w, sizeof(w));
		if (r == -ECONNREFUSED || r == -ENOENT)
			err_msg("no %s is running", w);
		else if (r == -ETIMEDOUT)
			err_msg("%s did not answer %s within %d ms", w, ipc_type_name(type),
				CALL_TIMEOUT_MS);
		else
			err_msg("%s: %s: %s", w, ipc_type_name(type), strerror(-r));
	}
	return r;
}

static bool engine_alive(const char *name)
{
	struct ipc_reply rep;
	int r = ipc_call(name, IPC_PING, NULL, 0, &rep, 1000);

	if (r == 0)
		ipc_reply_free(&rep);
	return r == 0 && rep.status == 0;
}

/* The engine's pid from IPC_INFO, or 0. */
static pid_t engine_pid(const char *name, char *ifname, size_t ifcap)
{
	struct ipc_reply rep;
	char v[32];
	pid_t pid = 0;

	if (ipc_call(name, IPC_INFO, NULL, 0, &rep, CALL_TIMEOUT_MS) < 0)
		return 0;
	if (rep.status == 0 && kv_get(rep.data, "pid", v, sizeof(v)))
		pid = (pid_t)atoi(v);
	if (ifname && rep.status == 0 && !kv_get(rep.data, "ifname", ifname, ifcap))
		ifname[0] = '\0';
	ipc_reply_free(&rep);
	return pid;
}

/* A process is gone when kill(0) says so or it is a zombie nobody reaped yet. */
static bool pid_gone(pid_t pid)
{
	char path[64], buf[256];
	FILE *f;
	bool zombie = false;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return true;
	if (fgets(buf, sizeof(buf), f)) {
		char *rp = strrchr(buf, ')');
		zombie = rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
	}
	fclose(f);
	return zombie;
}

static bool wait_gone(pid_t pid, unsigned timeout_ms)
{
	uint64_t end = mono_ms() + timeout_ms;

	while (!pid_gone(pid)) {
		if (mono_ms() >= end)
			return false;
		sleep_ms(20);
	}
	return true;
}

/* ---- up ---- */

/* Where tapsockd is: $TAPSOCKD, next to us (installed), ../engine/ (build dir), PATH. */
static int find_daemon(char *out, size_t cap)
{
	const char *env = getenv("TAPSOCKD");
	static const char *const rel[] = { "tapsockd", "../engine/tapsockd", "../sbin/tapsockd",
					   "../libexec/tapsockd" };
	char self[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		if (access(env, X_OK) < 0) {
			err_msg("$TAPSOCKD=%s is not executable: %s", env, strerror(errno));
			return -ENOENT;
		}
		snprintf(out, cap, "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash;
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
				int k = snprintf(out, cap, "%s/%s", self, rel[i]);
				if (k > 0 && (size_t)k < cap && access(out, X_OK) == 0)
					return 0;
			}
		}
	}
	/* PATH: let execvp search it */
	snprintf(out, cap, "tapsockd");
	return 0;
}

/* The summary users see after up. */
static void print_summary(const struct common *co, const char *info)
{
	char pid[32] = "?", ifn[IFNAMSIZ + 1] = "?", addr[64] = "?", peer[64] = "?", mac[32] = "?",
	     gw[64] = "", off[64] = "";

	kv_get(info, "pid", pid, sizeof(pid));
	kv_get(info, "ifname", ifn, sizeof(ifn));
	kv_get(info, "addr", addr, sizeof(addr));
	kv_get(info, "peer", peer, sizeof(peer));
	kv_get(info, "mac", mac, sizeof(mac));
	kv_get(info, "gateway", gw, sizeof(gw));
	kv_get(info, "offloads", off, sizeof(off));
	printf("engine '%s' up%s%s%s: pid %s\n", co->name, co->netns ? " in namespace '" : "",
	       co->netns ? co->netns : "", co->netns ? "'" : "", pid);
	printf("  tap %s  engine %s (%s)  kernel side %s%s%s%s%s\n", ifn, addr, mac, peer,
	       *gw ? "  gateway " : "", gw, *off ? "  offloads " : "", off);
}

/* Start tapsockd -d with its stderr in a memfd, so that its own error message can
 * be shown when start-up fails. Returns 0 when the engine answers PING. */
static int start_engine(const struct common *co, const char *daemon_path, char **dargv)
{
	uint64_t deadline = mono_ms() + UP_TIMEOUT_MS;
	int errfd = memfd_create("tapsockd-stderr", MFD_CLOEXEC);
	bool exited = false;
	int st = 0, r = -ETIMEDOUT;
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		err_msg("fork: %s", strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) {
			dup2(devnull, 0);
			if (devnull > 2)
				close(devnull);
		}
		if (errfd >= 0) {
			dup2(errfd, 2);
			dup2(errfd, 1);
		}
		execvp(daemon_path, dargv);
		fprintf(stderr, "cannot run %s: %s%s\n", daemon_path, strerror(errno),
			errno == ENOENT ? " (set $TAPSOCKD to the tapsockd binary)" : "");
		_exit(127);
	}
	/* The -d parent exits once the engine is ready (0) or failed (non-zero, the error
	 * printed); then the engine must answer PING. */
	while (mono_ms() < deadline) {
		if (!exited) {
			pid_t w = waitpid(pid, &st, WNOHANG);
			if (w == pid) {
				exited = true;
				if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
					r = -EIO;
					break;
				}
			}
		}
		if (exited && engine_alive(co->name)) {
			r = 0;
			break;
		}
		sleep_ms(exited ? 50 : 20);
	}
	if (r != 0) {
		char w[256], buf[4096];
		ssize_t n;

		where(co, w, sizeof(w));
		if (r == -ETIMEDOUT) {
			err_msg("%s did not answer within %d s%s", w, UP_TIMEOUT_MS / 1000,
				exited ? "" : " (tapsockd -d did not report ready)");
			if (!exited) {
				kill(pid, SIGTERM);
				waitpid(pid, &st, 0);
			}
		} else if (WIFEXITED(st)) {
			err_msg("tapsockd failed to start (exit status %d)", WEXITSTATUS(st));
		} else {
			err_msg("tapsockd failed to start (killed by signal %d)", WTERMSIG(st));
		}
		if (errfd >= 0 && lseek(errfd, 0, SEEK_SET) == 0) {
			bool any = false;
			while ((n = read(errfd, buf, sizeof(buf))) > 0) {
				if (!any)
					fprintf(stderr, "%s: the engine said:\n", prog);
				any = true;
				fwrite(buf, 1, (size_t)n, stderr);
			}
		}
	}
	if (errfd >= 0)
		close(errfd);
	return r;
}

static int cmd_up(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_LONGOPTS,
		{ "ifname", required_argument, NULL, 'i' },
		{ "addr", required_argument, NULL, 'a' },
		{ "services", required_argument, NULL, O_SERVICES },
		{ "pcap", required_argument, NULL, O_PCAP },
		{ "log", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct common co = { .name = "default" };
	const char *ifname = "tsk0", *addr = NULL, *services = NULL, *pcap = NULL, *logf = NULL;
	char daemon_path[PATH_MAX], pcap_abs[PATH_MAX], log_abs[PATH_MAX];
	char **dargv;
	int c, n = 0, r;
	bool created = false;
	struct ipc_reply rep;

	while ((c = getopt_long(argc, argv, "+n:i:a:l:h", opts, NULL)) != -1) {
		int k = common_opt(&co, c);
		if (k < 0)
			return print_help(up_usage);
		if (k > 0)
			continue;
		switch (c) {
		case 'i': ifname = optarg; break;
		case 'a': addr = optarg; break;
		case O_SERVICES: services = optarg; break;
		case O_PCAP: pcap = optarg; break;
		case 'l': logf = optarg; break;
		default: return usage_error(up_usage, NULL);
		}
	}
	/* what remains after "--" goes to tapsockd as it is */
	if (optind < argc && strcmp(argv[optind - 1], "--"))
		return usage_error(up_usage, "unexpected argument '%s'", argv[optind]);
	if (!valid_name(co.name))
		return usage_error(up_usage, "invalid engine name '%s'", co.name);
	if (strlen(ifname) >= IFNAMSIZ || !*ifname)
		return usage_error(up_usage, "invalid interface name '%s'", ifname);
	if (co.netns && !valid_name(co.netns))
		return usage_error(up_usage, "invalid namespace name '%s'", co.netns);

	/* The errors users hit, before anything is changed. */
	if (geteuid() != 0) {
		err_msg("up needs root (CAP_NET_ADMIN to create a TAP%s)",
			co.netns ? ", CAP_SYS_ADMIN for a namespace" : "");
		return 1;
	}
	if (access("/dev/net/tun", R_OK | W_OK) < 0) {
		err_msg("/dev/net/tun: %s (no TUN/TAP support here: modprobe tun, or give the "
			"container the device)", strerror(errno));
		return 1;
	}
	/* paths given to the daemon are resolved here: its working directory is / */
	if (pcap) {
		if ((r = abs_path(pcap, pcap_abs, sizeof(pcap_abs))) < 0) {
			err_msg("--pcap %s: %s", pcap, strerror(-r));
			return 1;
		}
		pcap = pcap_abs;
	}
	if (logf) {
		if ((r = abs_path(logf, log_abs, sizeof(log_abs))) < 0) {
			err_msg("--log %s: %s", logf, strerror(-r));
			return 1;
		}
		logf = log_abs;
	}
	if (find_daemon(daemon_path, sizeof(daemon_path)) < 0)
		return 1;

	if (co.netns) {
		bool exists = netns_exists(co.netns), stale = false;

		if (exists) {
			if (netns_enter(co.netns) < 0)
				return 1;
			if (engine_alive(co.name)) {
				pid_t pid = engine_pid(co.name, NULL, 0);
				err_msg("engine '%s' already running in namespace '%s' (pid %d)",
					co.name, co.netns, (int)pid);
				return 1;
			}
			/* one we made for an engine that died: take it again */
			stale = netns_created_by_us(co.netns);
			if (!stale) {
				err_msg("network namespace '%s' already exists; to run an engine "
					"in it, use: ip netns exec %s tapsock up", co.netns, co.netns);
				return 1;
			}
			fprintf(stderr, "%s: reusing namespace '%s' left by an earlier tapsock up\n",
				prog, co.netns);
		} else if (netns_add(co.netns) < 0) {
			return 1;
		}
		created = true;
		r = mark_netns(co.netns);
		if (r < 0)
			err_msg("warning: cannot write %s/%s (%s): `down` will not delete the namespace",
				MARK_DIR, co.netns, strerror(-r));
		if (netns_enter(co.netns) < 0)
			goto fail;
		r = link_up("lo");
		if (r < 0)
			err_msg("warning: cannot bring lo up in '%s': %s", co.netns, strerror(-r));
	} else if (engine_alive(co.name)) {
		pid_t pid = engine_pid(co.name, NULL, 0);
		err_msg("engine '%s' already running (pid %d)", co.name, (int)pid);
		return 1;
	}
	if (if_nametoindex(ifname) != 0) {
		err_msg("interface '%s' already exists%s%s%s: choose another with --ifname", ifname,
			co.netns ? " in namespace '" : "", co.netns ? co.netns : "",
			co.netns ? "'" : "");
		goto fail;
	}

	dargv = calloc((size_t)argc + 16, sizeof(char *));
	if (!dargv)
		goto fail;
	dargv[n++] = "tapsockd";
	dargv[n++] = "--daemon";
	dargv[n++] = "--name";
	dargv[n++] = (char *)co.name;
	dargv[n++] = "--ifname";
	dargv[n++] = (char *)ifname;
	if (addr) {
		dargv[n++] = "--addr";
		dargv[n++] = (char *)addr;
	}
	if (services) {
		dargv[n++] = "--services";
		dargv[n++] = (char *)services;
	}
	if (pcap) {
		dargv[n++] = "--pcap";
		dargv[n++] = (char *)pcap;
	}
	if (logf) {
		dargv[n++] = "--log";
		dargv[n++] = (char *)logf;
	}
	for (int i = optind; i < argc; i++)
		dargv[n++] = argv[i];
	dargv[n] = NULL;

	r = start_engine(&co, daemon_path, dargv);
	free(dargv);
	if (r < 0)
		goto fail;
	if (call(&co, IPC_INFO, NULL, 0, &rep, false) == 0) {
		print_summary(&co, rep.data);
		ipc_reply_free(&rep);
	}
	return 0;

fail:
	if (created) {
		/* leave nothing behind: the engine (if any) lives only in this namespace */
		pid_t pid = engine_alive(co.name) ? engine_pid(co.name, NULL, 0) : 0;
		if (pid > 0) {
			kill(pid, SIGKILL);
			wait_gone(pid, 2000);
		}
		netns_del(co.netns);
		unmark_netns(co.netns);
	}
	return 1;
}

/* ---- down ---- */

static int cmd_down(int argc, char **argv)
{
	static const struct option opts[] = { COMMON_LONGOPTS, { NULL, 0, NULL, 0 } };
	struct common co = { .name = "default" };
	char ifname[IFNAMSIZ + 1] = "", w[256];
	struct ipc_reply rep;
	bool ours;
	pid_t pid;
	int c, r;

	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		int k = common_opt(&co, c);
		if (k < 0)
			return print_help(down_usage);
		if (k == 0)
			return usage_error(down_usage, NULL);
	}
	if (optind < argc)
		return usage_error(down_usage, "unexpected argument '%s'", argv[optind]);
	where(&co, w, sizeof(w));
	ours = co.netns && netns_created_by_us(co.netns);
	if (co.netns && !netns_exists(co.netns)) {
		err_msg("no network namespace '%s': nothing to stop", co.netns);
		if (ours)
			unmark_netns(co.netns);
		return 1;
	}
	if (co.netns && netns_enter(co.netns) < 0)
		return 1;

	pid = engine_alive(co.name) ? engine_pid(co.name, ifname, sizeof(ifname)) : 0;
	if (pid <= 0) {
		err_msg("no %s is running", w);
		if (ours) {
			/* a crashed engine leaves the namespace behind: tidy it anyway */
			if (netns_del(co.netns) == 0) {
				unmark_netns(co.netns);
				fprintf(stderr, "%s: deleted namespace '%s' (created by tapsock up)\n",
					prog, co.netns);
			}
		}
		return 1;
	}
	r = ipc_call(co.name, IPC_QUIT, NULL, 0, &rep, CALL_TIMEOUT_MS);
	if (r == 0) {
		if (rep.status < 0)
			err_msg("engine refused to quit (%s); sending SIGTERM", strerror(-rep.status));
		ipc_reply_free(&rep);
	}
	if (r < 0 || rep.status < 0)
		kill(pid, SIGTERM);
	if (!wait_gone(pid, DOWN_TIMEOUT_MS)) {
		err_msg("%s (pid %d) still there after %d s: SIGKILL", w, (int)pid,
			DOWN_TIMEOUT_MS / 1000);
		kill(pid, SIGKILL);
		if (!wait_gone(pid, 2000)) {
			err_msg("pid %d survived SIGKILL", (int)pid);
			return 1;
		}
	}
	/* The TAP is not persistent: it goes when the engine's last fd closes, which
	 * io_uring's deferred teardown can put a moment after the exit. */
	if (*ifname) {
		uint64_t end = mono_ms() + 2000;
		while (if_nametoindex(ifname) != 0 && mono_ms() < end)
			sleep_ms(20);
		if (if_nametoindex(ifname) != 0)
			err_msg("warning: interface %s still exists after the engine exited", ifname);
	}
	printf("engine '%s' (pid %d) stopped\n", co.name, (int)pid);
	if (ours) {
		if (netns_del(co.netns) < 0)
			return 1;
		unmark_netns(co.netns);
		printf("namespace '%s' deleted\n", co.netns);
	}
	return 0;
}

/* ---- stats, info, ss ---- */

/* Parse the common options of a read-only command and enter its namespace.
 * Returns -1 to go on, or an exit status. */
static int simple_cmd_args(int argc, char **argv, const char *usage, const char *shortopts,
			   const struct option *opts, struct common *co,
			   int (*extra)(int c, void *arg), void *arg)
{
	int c;

	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		int k = common_opt(co, c);
		if (k < 0)
			return print_help(usage);
		if (k > 0)
			continue;
		if (!extra || extra(c, arg) < 0)
			return usage_error(usage, NULL);
	}
	return -1;
}

static int stats_opt(int c, void *arg)
{
	if (c != 'a')
		return -1;
	*(bool *)arg = true;
	return 0;
}

static int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_LONGOPTS, { "all", no_argument, NULL, 'a' }, { NULL, 0, NULL, 0 },
	};
	struct common co = { .name = "default" };
	struct ipc_reply rep;
	bool all = false;
	uint32_t pl;
	int r = simple_cmd_args(argc, argv, stats_usage, "an:h", opts, &co, stats_opt, &all);

	if (r >= 0)
		return r;
	if (optind < argc)
		return usage_error(stats_usage, "unexpected argument '%s'", argv[optind]);
	if (co.netns && netns_enter(co.netns) < 0)
		return 1;
	pl = all ? 1 : 0;
	if (call(&co, IPC_STATS, &pl, sizeof(pl), &rep, false) < 0)
		return 1;
	if (rep.status < 0) {
		err_msg("stats: %s", strerror(-rep.status));
		ipc_reply_free(&rep);
		return 1;
	}
	/* Align the values like nstat; zero lines are left out unless -a (the engine
	 * does that too, but an older engine may not). */
	for (char *save = NULL, *l = strtok_r(rep.data, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		char *sp = strrchr(l, ' ');
		if (!sp) {
			puts(l);
			continue;
		}
		*sp = '\0';
		if (!all && !strcmp(sp + 1, "0"))
			continue;
		printf("%-28s %20s\n", l, sp + 1);
	}
	ipc_reply_free(&rep);
	return 0;
}

static int text_cmd(int argc, char **argv, const char *usage, uint16_t type)
{
	static const struct option opts[] = { COMMON_LONGOPTS, { NULL, 0, NULL, 0 } };
	struct common co = { .name = "default" };
	struct ipc_reply rep;
	int r = simple_cmd_args(argc, argv, usage, "n:h", opts, &co, NULL, NULL);

	if (r >= 0)
		return r;
	if (optind < argc)
		return usage_error(usage, "unexpected argument '%s'", argv[optind]);
	if (co.netns && netns_enter(co.netns) < 0)
		return 1;
	if (call(&co, type, NULL, 0, &rep, false) < 0)
		return 1;
	if (rep.status == -ENOSYS) {
		err_msg("%s: not supported by this engine yet", ipc_type_name(type));
		ipc_reply_free(&rep);
		return 1;
	}
	if (rep.status < 0) {
		err_msg("%s: %s", ipc_type_name(type), strerror(-rep.status));
		ipc_reply_free(&rep);
		return 1;
	}
	fputs(rep.data, stdout);
	if (rep.len && rep.data[rep.len - 1] != '\n')
		putchar('\n');
	ipc_reply_free(&rep);
	return 0;
}

static int cmd_info(int argc, char **argv) { return text_cmd(argc, argv, info_usage, IPC_INFO); }
static int cmd_ss(int argc, char **argv) { return text_cmd(argc, argv, ss_usage, IPC_SS); }

/* ---- capture ---- */

static volatile sig_atomic_t got_stop;
static void on_stop(int sig) { (void)sig; got_stop = 1; }

static int capture_opt(int c, void *arg)
{
	char *end;
	double s;

	if (c != 's')
		return -1;
	errno = 0;
	s = strtod(optarg, &end);
	if (errno || *end || !(s > 0) || s > 86400 * 365) {
		fprintf(stderr, "%s: --seconds: a positive number expected, got '%s'\n", prog, optarg);
		return -1;
	}
	*(double *)arg = s;
	return 0;
}

static int cmd_capture(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_LONGOPTS, { "seconds", required_argument, NULL, 's' }, { NULL, 0, NULL, 0 },
	};
	struct common co = { .name = "default" };
	struct sigaction sa = { .sa_handler = on_stop };
	char path[PATH_MAX], frames[32];
	struct ipc_reply rep;
	double seconds = 0;
	uint64_t end = 0;
	/* getopt moves FILE behind the options, wherever it was given */
	int r = simple_cmd_args(argc, argv, capture_usage, "s:n:h", opts, &co, capture_opt,
				&seconds);
	const char *file;

	if (r >= 0)
		return r;
	if (optind >= argc)
		return usage_error(capture_usage, "capture needs a FILE");
	file = argv[optind++];
	if (optind < argc)
		return usage_error(capture_usage, "unexpected argument '%s'", argv[optind]);
	/* the engine runs in / : give it an absolute path, resolved before setns */
	if ((r = abs_path(file, path, sizeof(path))) < 0) {
		err_msg("%s: %s", file, strerror(-r));
		return 1;
	}
	if (co.netns && netns_enter(co.netns) < 0)
		return 1;
	if (call(&co, IPC_CAPTURE_START, path, strlen(path) + 1, &rep, false) < 0)
		return 1;
	r = rep.status;
	ipc_reply_free(&rep);
	if (r < 0) {
		err_msg("capture to %s: %s%s", path, strerror(-r),
			r == -EBUSY ? " (a capture is already running)" :
			r == -EPERM ? " (needs root or the engine's user)" : "");
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (seconds > 0)
		end = mono_ms() + (uint64_t)(seconds * 1000);
	else
		fprintf(stderr, "capturing to %s, Ctrl-C to stop\n", path);
	while (!got_stop && (!end || mono_ms() < end)) {
		uint64_t left = end ? end - mono_ms() : 200;
		sleep_ms(left > 200 ? 200 : (unsigned)left);
		/* stop early if the engine went away */
		if (!engine_alive(co.name)) {
			err_msg("the engine went away during the capture");
			return 1;
		}
	}
	if (call(&co, IPC_CAPTURE_STOP, NULL, 0, &rep, false) < 0)
		return 1;
	r = rep.status;
	if (r < 0) {
		err_msg("stopping the capture: %s", strerror(-r));
		ipc_reply_free(&rep);
		return 1;
	}
	if (kv_get(rep.data, "frames", frames, sizeof(frames)))
		printf("%s frames captured to %s\n", frames, path);
	else
		printf("capture written to %s\n", path);
	ipc_reply_free(&rep);
	return 0;
}

/* ---- run ---- */

static const char run_usage[] =
"usage: tapsock run [--netns NAME] [--name N] [--ifname IF] [--addr A/LEN]\n"
"                   [--services LIST] [--log FILE] [--up-args ARGS] -- PROGRAM [ARGS...]\n"
"Run PROGRAM with its TCP sockets on the engine: the preload library\n"
"(libtapsock.so) is appended to LD_PRELOAD and TAPSOCK_ENGINE names the engine;\n"
"the rest of the environment is kept. Every other socket and fd stays the kernel's.\n"
"When no engine answers, one is started first as `tapsock up` would (with --netns,\n"
"the namespace is created when it does not exist); it keeps running after the\n"
"program ends: stop it with `tapsock down`. With --netns the program runs inside\n"
"that namespace, so its other traffic (UDP, DNS, ...) stays there too.\n"
"The exit status is the program's (127: it could not be run; 1: tapsock failed).\n"
"Used only when the engine has to be started (see tapsock up --help):\n"
"  -i, --ifname IF     TAP device (default tsk0)\n"
"  -a, --addr A/LEN    engine address (default 10.77.0.2/24)\n"
"      --services LIST built-in services: echo,discard,chargen\n"
"  -l, --log FILE      engine log file\n"
"      --up-args ARGS  more tapsockd arguments, one string split at blanks\n"
"The library is looked for in $TAPSOCK_LIB, then beside this program:\n"
"../preload/ (a build directory), ../lib/tapsock/, ../lib/" TAPSOCK_MULTIARCH "/, ../lib/.\n";

enum { O_UP_ARGS = 300 };

#define LIB_NAME "libtapsock.so"

/* Where the library is, relative to the directory of this program. */
static const char *const lib_rel[] = {
	"../preload/" LIB_NAME,           /* build directory: build/tools/tapsock */
	"../lib/tapsock/" LIB_NAME,       /* installed: PREFIX/bin/tapsock */
	"../lib/" TAPSOCK_MULTIARCH "/" LIB_NAME,
	"../lib64/" LIB_NAME,
	"../lib/" LIB_NAME,
};

static bool regular_readable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, R_OK) == 0;
}

/* The library as an absolute path: the program may chdir, ld.so resolves it at
 * every exec of the program's children. */
static int find_library(char *out, size_t cap)
{
	const char *env = getenv("TAPSOCK_LIB");
	char self[PATH_MAX], cand[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		if (!regular_readable(env)) {
			err_msg("$TAPSOCK_LIB=%s: %s", env,
				access(env, F_OK) < 0 ? strerror(errno) : "not a readable file");
			return -ENOENT;
		}
		if (!realpath(env, out))
			return -errno;
		(void)cap;
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash;
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			for (size_t i = 0; i < sizeof(lib_rel) / sizeof(lib_rel[0]); i++) {
				int k = snprintf(cand, sizeof(cand), "%s/%s", self, lib_rel[i]);
				if (k > 0 && (size_t)k < sizeof(cand) && regular_readable(cand) &&
				    realpath(cand, out))
					return 0;
			}
		}
	}
	err_msg("the preload library %s was not found (looked beside %s in ../preload, "
		"../lib/tapsock, ../lib/" TAPSOCK_MULTIARCH ", ../lib64, ../lib): build it "
		"(ninja -C BUILDDIR preload/" LIB_NAME ") or set $TAPSOCK_LIB", LIB_NAME,
		n > 0 ? self : "this program");
	return -ENOENT;
}

/* Start the engine with our own `up`, in the namespace we are in (ns NULL) or in
 * a new one. Its summary goes to stderr: stdout belongs to the program. */
static int run_start_engine(const struct common *co, const char *ns, char **upargv, int nup)
{
	char self[PATH_MAX];
	char **argv = calloc((size_t)nup + 8, sizeof(char *));
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int n = 0, st;
	pid_t pid;

	if (!argv)
		return -ENOMEM;
	if (len <= 0) {
		free(argv);
		err_msg("cannot find this program (/proc/self/exe): %s", strerror(errno));
		return -ENOENT;
	}
	self[len] = '\0';
	argv[n++] = "tapsock";
	argv[n++] = "up";
	if (ns) {
		argv[n++] = "--netns";
		argv[n++] = (char *)ns;
	}
	argv[n++] = "--name";
	argv[n++] = (char *)co->name;
	for (int i = 0; i < nup; i++)
		argv[n++] = upargv[i];
	argv[n] = NULL;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int e = errno;
		free(argv);
		err_msg("fork: %s", strerror(e));
		return -e;
	}
	if (pid == 0) {
		dup2(2, 1);
		execv(self, argv);
		fprintf(stderr, "%s: cannot run %s: %s\n", prog, self, strerror(errno));
		_exit(127);
	}
	free(argv);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	/* Two `run`s at once may both have tried: the other one's engine is as good. */
	if (engine_alive(co->name))
		return 0;
	return -EIO;
}

/* LD_PRELOAD with the library appended (ld.so splits the list at ':' and blanks),
 * unless it is already there, e.g. a `tapsock run` started under another one. */
static int set_preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char *val;
	int r;

	if (!old || !*old)
		return setenv("LD_PRELOAD", lib, 1) < 0 ? -errno : 0;
	for (const char *p = old; (p = strstr(p, lib)); p++) {
		size_t l = strlen(lib);
		if ((p == old || p[-1] == ':' || p[-1] == ' ') &&
		    (p[l] == '\0' || p[l] == ':' || p[l] == ' '))
			return 0;
	}
	if (asprintf(&val, "%s:%s", old, lib) < 0)
		return -ENOMEM;
	r = setenv("LD_PRELOAD", val, 1) < 0 ? -errno : 0;
	free(val);
	return r;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_LONGOPTS,
		{ "ifname", required_argument, NULL, 'i' },
		{ "addr", required_argument, NULL, 'a' },
		{ "services", required_argument, NULL, O_SERVICES },
		{ "log", required_argument, NULL, 'l' },
		{ "up-args", required_argument, NULL, O_UP_ARGS },
		{ NULL, 0, NULL, 0 },
	};
	struct common co = { .name = "default" };
	char lib[PATH_MAX], w[256];
	char *upargv[64], *upargs = NULL;
	int nup = 0, c, r;
	bool need_start = false, new_ns = false;

	/* "+": stop at the program's name, its options are its own */
	while ((c = getopt_long(argc, argv, "+n:i:a:l:h", opts, NULL)) != -1) {
		int k = common_opt(&co, c);
		if (k < 0)
			return print_help(run_usage);
		if (k > 0)
			continue;
		if (nup + 2 > (int)(sizeof(upargv) / sizeof(upargv[0])))
			return usage_error(run_usage, "too many options");
		switch (c) {
		case 'i': upargv[nup++] = "--ifname"; upargv[nup++] = optarg; break;
		case 'a': upargv[nup++] = "--addr"; upargv[nup++] = optarg; break;
		case O_SERVICES: upargv[nup++] = "--services"; upargv[nup++] = optarg; break;
		case 'l': upargv[nup++] = "--log"; upargv[nup++] = optarg; break;
		case O_UP_ARGS: upargs = optarg; break;
		default: return usage_error(run_usage, NULL);
		}
	}
	if (optind >= argc)
		return usage_error(run_usage, "which program? (tapsock run -- PROGRAM ARGS)");
	if (!valid_name(co.name))
		return usage_error(run_usage, "invalid engine name '%s'", co.name);
	if (co.netns && !valid_name(co.netns))
		return usage_error(run_usage, "invalid namespace name '%s'", co.netns);
	if (upargs) {
		upargv[nup++] = "--";
		for (char *save = NULL, *t = strtok_r(upargs, " \t\n", &save); t;
		     t = strtok_r(NULL, " \t\n", &save)) {
			if (nup + 1 >= (int)(sizeof(upargv) / sizeof(upargv[0])))
				return usage_error(run_usage, "--up-args: too many arguments");
			upargv[nup++] = t;
		}
	}

	/* No library, no point in starting anything. */
	if (find_library(lib, sizeof(lib)) < 0)
		return 1;

	if (co.netns) {
		if (netns_exists(co.netns)) {
			if (netns_enter(co.netns) < 0)
				return 1;
			need_start = !engine_alive(co.name);
		} else {
			need_start = new_ns = true;
		}
	} else {
		need_start = !engine_alive(co.name);
	}
	if (need_start) {
		where(&co, w, sizeof(w));
		if (geteuid() != 0) {
			err_msg("no %s is running, and starting one needs root (start it with "
				"tapsock up)", w);
			return 1;
		}
		fprintf(stderr, "%s: no %s is running: starting it\n", prog, w);
		/* in a namespace we already entered, `up` runs there without --netns */
		r = run_start_engine(&co, new_ns ? co.netns : NULL, upargv, nup);
		if (r < 0) {
			err_msg("the engine failed to start (see above); %s not run", argv[optind]);
			return 1;
		}
		if (new_ns && netns_enter(co.netns) < 0)
			return 1;
		if (!engine_alive(co.name)) {
			err_msg("%s started but does not answer", w);
			return 1;
		}
	} else if (nup > 0) {
		fprintf(stderr, "%s: engine '%s' already runs: engine options ignored\n", prog,
			co.name);
	}

	if ((r = set_preload(lib)) < 0 || setenv("TAPSOCK_ENGINE", co.name, 1) < 0) {
		err_msg("cannot set the environment: %s", strerror(r < 0 ? -r : errno));
		return 1;
	}
	fflush(NULL);
	execvp(argv[optind], argv + optind);
	r = errno;
	err_msg("cannot run %s: %s", argv[optind], strerror(r));
	/* what shells answer for a program that is missing or not executable */
	return r == ENOENT ? 127 : 126;
}

/* ---- compat ---- */

/* `tapsock compat` is the compatibility suite's runner (tools/compat/run, Python): found
 * through $TAPSOCK_COMPAT_RUNNER, else in the source tree this build came from (the build
 * directory's meson-info names it), else two levels above us (BUILDDIR/tools/tapsock). */
static int compat_runner(char *out, size_t cap)
{
	const char *env = getenv("TAPSOCK_COMPAT_RUNNER");
	char self[PATH_MAX], info[PATH_MAX + 64], buf[4096];
	ssize_t n;
	char *slash;
	FILE *f;

	if (env && *env) {
		snprintf(out, cap, "%s", env);
		return access(out, X_OK) == 0 ? 0 : -ENOENT;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -ENOENT;
	self[n] = '\0';
	if (!(slash = strrchr(self, '/')))
		return -ENOENT;
	*slash = '\0';
	snprintf(info, sizeof(info), "%s/../meson-info/meson-info.json", self);
	if ((f = fopen(info, "r"))) {
		size_t len = fread(buf, 1, sizeof(buf) - 1, f);
		char *p, *e;

		fclose(f);
		buf[len] = '\0';
		p = strstr(buf, "\"source\": \"");
		if (p && (e = strchr(p + 11, '"'))) {
			*e = '\0';
			if (snprintf(out, cap, "%.*s/tools/compat/run", PATH_MAX - 64, p + 11) < (int)cap &&
			    access(out, X_OK) == 0)
				return 0;
		}
	}
	if (snprintf(out, cap, "%.*s/../../tools/compat/run", PATH_MAX - 64, self) >= (int)cap)
		return -ENAMETOOLONG;
	return access(out, X_OK) == 0 ? 0 : -ENOENT;
}

static int cmd_compat(int argc, char **argv)
{
	char runner[PATH_MAX], self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char **av = calloc((size_t)argc + 1, sizeof(char *));

	if (!av)
		return 1;
	if (compat_runner(runner, sizeof(runner)) < 0) {
		err_msg("the compatibility suite's runner (tools/compat/run) was not found: "
			"set $TAPSOCK_COMPAT_RUNNER");
		return 1;
	}
	/* the runner finds tapsockd and the preload library beside this tapsock */
	if (n > 0 && !getenv("TAPSOCK")) {
		self[n] = '\0';
		setenv("TAPSOCK", self, 1);
	}
	av[0] = runner;
	for (int i = 1; i < argc; i++)
		av[i] = argv[i];
	execv(runner, av);
	err_msg("cannot run %s: %s", runner, strerror(errno));
	return 1;
}

/* ---- bench ---- */

/* `tapsock bench` is tools/bench/tapsock-bench (Python: namespaces, rounds, table,
 * charts); the load generators beside it are C. It lies in bench/ next to this program
 * in a build tree and next to it once installed; $TAPSOCK_BENCH_RUNNER overrides. */
static int cmd_bench(int argc, char **argv)
{
	static const char *const rel[] = { "bench/tapsock-bench", "tapsock-bench" };
	const char *env = getenv("TAPSOCK_BENCH_RUNNER");
	char self[PATH_MAX], runner[PATH_MAX] = "";
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char **av = calloc((size_t)argc + 1, sizeof(char *));
	char *slash;

	if (!av)
		return 1;
	if (env && *env)
		snprintf(runner, sizeof(runner), "%s", env);
	else if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/'))) {
			*slash = '\0';
			for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]) && !*runner; i++) {
				snprintf(runner, sizeof(runner), "%.*s/%s", PATH_MAX - 32, self, rel[i]);
				if (access(runner, X_OK) < 0)
					runner[0] = '\0';
			}
			*slash = '/';
		}
	}
	if (!*runner) {
		err_msg("the bench runner (tapsock-bench) was not found beside this program: "
			"set $TAPSOCK_BENCH_RUNNER");
		free(av);
		return 1;
	}
	/* the runner drives this very tapsock (up, info, down) */
	if (n > 0 && !getenv("TAPSOCK"))
		setenv("TAPSOCK", self, 1);
	av[0] = runner;
	for (int i = 1; i < argc; i++)
		av[i] = argv[i];
	execv(runner, av);
	err_msg("cannot run %s: %s", runner, strerror(errno));
	free(av);
	return 1;
}

/* ---- main ---- */

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static const struct command commands[] = {
	{ "up", cmd_up },
	{ "down", cmd_down },
	{ "stats", cmd_stats },
	{ "info", cmd_info },
	{ "ss", cmd_ss },
	{ "capture", cmd_capture },
	{ "run", cmd_run },
	{ "compat", cmd_compat },
	{ "bench", cmd_bench },
};

static const char *const later[] = { "trace" };

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2)
		return usage_error(main_usage, "a command is needed");
	cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help"))
		return print_help(main_usage);
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		printf("tapsock %s\n", TAPSOCK_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(cmd, commands[i].name)) {
			static char pname[64];
			snprintf(pname, sizeof(pname), "tapsock %s", cmd);
			prog = pname;
			/* getopt's own messages then name "tapsock CMD" */
			argv[1] = pname;
			return commands[i].fn(argc - 1, argv + 1);
		}
	}
	for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
		if (!strcmp(cmd, later[i])) {
			err_msg("'%s' is not implemented yet", cmd);
			return 2;
		}
	}
	if (cmd[0] == '-')
		return usage_error(main_usage, "unknown option '%s'", cmd);
	return usage_error(main_usage, "unknown command '%s'", cmd);
}
