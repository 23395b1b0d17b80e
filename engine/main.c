/* main.c - tapsockd, the tapsock engine daemon: options, start-up, the daemon
 * handshake, clean shutdown (daemon(7) for the start-up contract). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "base/time.h"
#include "eng.h"
#include "ipc/ipc.h"
#include "ipc/ipc_server.h"
#include "link/pcap.h"
#include "link/tap.h"
#include "loop.h"
#include "sock/psock_srv.h"

#include <linux/if_tun.h>

#ifndef TAPSOCK_VERSION
#define TAPSOCK_VERSION "unknown"
#endif

struct daemon {
	/* options */
	const char *name, *ifname, *pcap, *log_path, *pidfile;
	uint32_t peer;        /* be32, 0 = none */
	bool peer_none;
	unsigned prefix;
	uint32_t mtu;
	bool offload, detach, plain_reads, no_direct_reads;
	int spin_us;          /* adaptive polling cap (loop.h), --spin-us */
	int verbose;
	/* running state */
	int ready_fd;         /* -d: the pipe to the waiting parent, else -1 */
	FILE *log;
	struct eng_config cfg;
	struct eng *eng;
	struct link *tap, *link;
	struct loop *loop;
	struct ipc_server *ipc;
	struct psock_srv *psock;  /* sockets of programs run with the preload library */
	uint64_t started;
	bool pidfile_written;
};

static void usage(FILE *out)
{
	fprintf(out,
"usage: tapsockd [options]\n"
"  -n, --name NAME       engine name, control socket @tapsock/NAME (default \"default\")\n"
"  -i, --ifname IF       TAP device to create (default tsk0)\n"
"  -a, --addr A/LEN      engine address (default 10.77.0.2/24)\n"
"  -p, --peer A          kernel-side TAP address (default: .1 of the subnet; 'none' = leave it)\n"
"  -g, --gateway A       next hop for off-link destinations (default: the peer address)\n"
"  -m, --mtu N           MTU (default 1500)\n"
"      --mac MAC         engine MAC (default 02:74:73:6b:00:02)\n"
"      --no-offload      no checksum/TSO offload through the virtio-net header\n"
"      --plain-reads     read the TAP with plain reads, not a multishot read\n"
"      --no-direct-reads never read a frame straight into a program's receive ring\n"
"      --spin-us N       before sleeping, watch for work up to N us, adaptively\n"
"                        (0: never; default " LOOP_SPIN_US_DEFAULT_STR ", or $TAPSOCKD_SPIN_US)\n"
"      --pcap FILE       capture every frame to FILE\n"
"      --services LIST   built-in services: echo,discard,chargen\n"
"      --time-wait MS    TIME-WAIT duration (default 60000)\n"
"      --fin-timeout MS  orphaned FIN-WAIT-2 timeout (default 60000)\n"
"      --svc-keepalive IDLE,INTVL,CNT  keepalive on the services' connections (seconds)\n"
"      --seed N          fixed secrets instead of random ones (tests)\n"
"  -d, --daemon          detach once ready; exit status tells whether start-up worked\n"
"                        (logs go to --log FILE only)\n"
"  -l, --log FILE        log to FILE (default stderr); SIGHUP reopens it\n"
"      --pidfile FILE    write the pid to FILE\n"
"  -v                    more verbose (repeatable)\n"
"  -h, --help            this help\n"
"      --version         print the version\n");
}

static void __attribute__((noreturn)) bad_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tapsockd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	usage(stderr);
	exit(2);
}

/* A start-up failure: told to the waiting parent (-d) or printed; logged too. */
static void __attribute__((noreturn, format(printf, 2, 3)))
startup_fail(struct daemon *d, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d->log)
		log_err("%s", msg);
	if (d->ready_fd >= 0) {
		char buf[sizeof(msg) + 1];
		int n = snprintf(buf, sizeof(buf), "E%s", msg);
		if (write(d->ready_fd, buf, (size_t)n) < 0)
			_exit(1);
	} else {
		fprintf(stderr, "tapsockd: %s\n", msg);
	}
	if (d->pidfile_written)
		unlink(d->pidfile);
	exit(1);
}

static bool parse_ip(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return false;
	*out = a.s_addr;
	return true;
}

static bool parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return !errno && !*end && *out <= max;
}

static bool parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
		return false;
	for (int i = 0; i < 6; i++) {
		if (v[i] > 255)
			return false;
		mac[i] = (uint8_t)v[i];
	}
	/* our own address must be unicast */
	return !(mac[0] & 1);
}

static bool parse_services(const char *s, unsigned *out)
{
	char *dup = strdup(s), *save = NULL;
	bool ok = dup != NULL;

	*out = 0;
	for (char *t = dup ? strtok_r(dup, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "echo"))
			*out |= ENG_SVC_ECHO;
		else if (!strcmp(t, "discard"))
			*out |= ENG_SVC_DISCARD;
		else if (!strcmp(t, "chargen"))
			*out |= ENG_SVC_CHARGEN;
		else if (strcmp(t, "none"))
			ok = false;
	}
	free(dup);
	return ok;
}

/* The daemon works from "/" (it must not pin a mount): file names given on the
 * command line are made absolute first. */
static const char *abs_path(const char *p)
{
	char cwd[4096], *out;

	if (!p || p[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return p;
	if (asprintf(&out, "%s/%s", cwd, p) < 0)
		return p;
	return out;
}

static const char *fmt_ip(uint32_t be, char *buf)
{
	return inet_ntop(AF_INET, &be, buf, INET_ADDRSTRLEN);
}

static const char *offload_text(unsigned off, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s%s%s%s", off & TUN_F_CSUM ? "csum," : "",
		 off & TUN_F_TSO4 ? "tso4," : "", off & TUN_F_TSO6 ? "tso6," : "",
		 off ? "" : "none");
	size_t n = strlen(buf);
	if (n && buf[n - 1] == ',')
		buf[n - 1] = '\0';
	return buf;
}

/* ---- control channel callbacks ---- */

static size_t info_cb(void *arg, char *buf, size_t cap)
{
	struct daemon *d = arg;
	char a[INET_ADDRSTRLEN], p[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN], off[64];
	const uint8_t *m = d->cfg.mac;
	struct pcap_writer *w = d->link ? pcap_link_writer(d->link) : NULL;
	int n;

	n = snprintf(buf, cap,
		     "pid %d\nname %s\nifname %s\naddr %s/%u\npeer %s\ngateway %s\n"
		     "mac %02x:%02x:%02x:%02x:%02x:%02x\nmtu %u\noffloads %s\n"
		     "uptime_s %llu\ncapture %s\nrx_mode %s\nrx_direct_reads %llu\n"
		     "rx_direct_in_place %llu\nversion %s\n",
		     (int)getpid(), d->name, d->tap->name, fmt_ip(d->cfg.addr, a), d->prefix,
		     d->peer ? fmt_ip(d->peer, p) : "none",
		     d->cfg.gateway ? fmt_ip(d->cfg.gateway, g) : "none",
		     m[0], m[1], m[2], m[3], m[4], m[5], d->tap->mtu,
		     offload_text(tap_offloads(d->tap), off, sizeof(off)),
		     (unsigned long long)((loop_now() - d->started) / SEC(1)),
		     w ? pcap_path(w) : "off", d->loop ? loop_rx_mode(d->loop) : "-",
		     d->loop ? (unsigned long long)loop_get_stats(d->loop)->rx_direct : 0ull,
		     d->psock ? (unsigned long long)psock_srv_rx_in_place(d->psock) : 0ull,
		     TAPSOCK_VERSION);
	if (n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap ? cap - 1 : 0;
}

static int capture_start(struct daemon *d, const char *path)
{
	struct pcap_writer *w;
	int r;

	if (pcap_link_writer(d->link))
		return -EBUSY;
	r = pcap_open(path, &w);
	if (r < 0) {
		log_warn("capture %s: %s", path, strerror(-r));
		return r;
	}
	pcap_link_set_writer(d->link, w);
	log_info("capture started: %s", path);
	return 0;
}

static int capture_stop(struct daemon *d, char *out, size_t cap, size_t *outlen)
{
	struct pcap_writer *w = pcap_link_set_writer(d->link, NULL);
	unsigned long long frames;
	int n;

	if (!w)
		return -ENOENT;
	frames = (unsigned long long)pcap_frames(w);
	log_info("capture stopped: %s, %llu frames", pcap_path(w), frames);
	if (out && cap) {
		n = snprintf(out, cap, "frames %llu\npath %s\n", frames, pcap_path(w));
		*outlen = n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
	}
	return pcap_close(w);
}

static int capture_start_cb(void *arg, const char *path)
{
	/* the engine's working directory is not the client's: absolute paths only */
	if (path[0] != '/')
		return -EINVAL;
	return capture_start(arg, path);
}
static int capture_stop_cb(void *arg, char *out, size_t cap, size_t *outlen)
{
	return capture_stop(arg, out, cap, outlen);
}
static void quit_cb(void *arg)
{
	struct daemon *d = arg;

	log_info("quit requested over the control channel");
	loop_stop(d->loop);
}

static void open_log(struct daemon *d)
{
	FILE *f;

	if (!d->log_path)
		return;
	f = fopen(d->log_path, "ae");
	if (!f)
		return;
	setvbuf(f, NULL, _IOLBF, 0);
	log_set_file(f);
	if (d->log)
		fclose(d->log);
	d->log = f;
}

static void hup_cb(void *arg)
{
	struct daemon *d = arg;

	/* log rotation: the old file was moved away, write to a new one */
	open_log(d);
	log_info("log reopened");
}

/* ---- start-up ---- */

static void parse_args(struct daemon *d, int argc, char **argv)
{
	enum { O_MAC = 256, O_NO_OFFLOAD, O_PCAP, O_SERVICES, O_TIME_WAIT, O_FIN_TIMEOUT,
	       O_SEED, O_PIDFILE, O_VERSION, O_PLAIN_READS, O_NO_DIRECT_READS, O_SVC_KEEPALIVE, O_SPIN_US };
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "ifname", required_argument, NULL, 'i' },
		{ "addr", required_argument, NULL, 'a' },
		{ "peer", required_argument, NULL, 'p' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "mtu", required_argument, NULL, 'm' },
		{ "mac", required_argument, NULL, O_MAC },
		{ "no-offload", no_argument, NULL, O_NO_OFFLOAD },
		{ "plain-reads", no_argument, NULL, O_PLAIN_READS },
		{ "no-direct-reads", no_argument, NULL, O_NO_DIRECT_READS },
		{ "spin-us", required_argument, NULL, O_SPIN_US },
		{ "pcap", required_argument, NULL, O_PCAP },
		{ "services", required_argument, NULL, O_SERVICES },
		{ "time-wait", required_argument, NULL, O_TIME_WAIT },
		{ "fin-timeout", required_argument, NULL, O_FIN_TIMEOUT },
		{ "seed", required_argument, NULL, O_SEED },
		{ "svc-keepalive", required_argument, NULL, O_SVC_KEEPALIVE },
		{ "daemon", no_argument, NULL, 'd' },
		{ "log", required_argument, NULL, 'l' },
		{ "pidfile", required_argument, NULL, O_PIDFILE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	const char *addr = "10.77.0.2/24", *peer = NULL, *gw = NULL;
	unsigned long long v, seed = 0;
	bool seeded = false;
	uint32_t mask, host;
	char abuf[32], *slash;
	int c;

	eng_config_default(&d->cfg);
	d->name = "default";
	d->ifname = "tsk0";
	d->offload = true;
	d->mtu = 1500;
	d->spin_us = LOOP_SPIN_US_DEFAULT;
	/* the environment, for runs started by tools that do not pass options
	 * (tapsock up, tapsock bench); --spin-us wins */
	const char *spin = getenv("TAPSOCKD_SPIN_US");
	if (spin && *spin) {
		if (!parse_uint(spin, 1000000, &v))
			bad_usage("TAPSOCKD_SPIN_US: microseconds from 0 to 1000000 expected, got '%s'", spin);
		d->spin_us = (int)v;
	}
	d->cfg.services = 0;
	while ((c = getopt_long(argc, argv, "n:i:a:p:g:m:dl:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'n': d->name = optarg; break;
		case 'i': d->ifname = optarg; break;
		case 'a': addr = optarg; break;
		case 'p': peer = optarg; break;
		case 'g': gw = optarg; break;
		case 'm':
			if (!parse_uint(optarg, 65535, &v) || v < 576)
				bad_usage("--mtu: a number from 576 to 65535 expected, got '%s'", optarg);
			d->mtu = (uint32_t)v;
			break;
		case O_MAC:
			if (!parse_mac(optarg, d->cfg.mac))
				bad_usage("--mac: a unicast MAC like 02:74:73:6b:00:02 expected, got '%s'", optarg);
			break;
		case O_NO_OFFLOAD: d->offload = false; break;
		case O_PLAIN_READS: d->plain_reads = true; break;
		case O_NO_DIRECT_READS: d->no_direct_reads = true; break;
		case O_SPIN_US:
			if (!parse_uint(optarg, 1000000, &v))
				bad_usage("--spin-us: microseconds from 0 to 1000000 expected, got '%s'", optarg);
			d->spin_us = (int)v;
			break;
		case O_PCAP: d->pcap = optarg; break;
		case O_SERVICES:
			if (!parse_services(optarg, &d->cfg.services))
				bad_usage("--services: a list of echo,discard,chargen expected, got '%s'", optarg);
			break;
		case O_TIME_WAIT:
		case O_FIN_TIMEOUT:
			if (!parse_uint(optarg, 86400000, &v))
				bad_usage("--%s: milliseconds expected, got '%s'",
					  c == O_TIME_WAIT ? "time-wait" : "fin-timeout", optarg);
			if (c == O_TIME_WAIT)
				d->cfg.tcp.time_wait = MSEC(v);
			else
				d->cfg.tcp.fin_wait2 = MSEC(v);
			break;
		case O_SVC_KEEPALIVE: {
			/* IDLE,INTVL,CNT as TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT (Linux
			 * limits: 1..32767 s, 1..32767 s, 1..127) */
			unsigned idle, intvl, cnt;
			char tail;

			if (sscanf(optarg, "%u,%u,%u%c", &idle, &intvl, &cnt, &tail) != 3 ||
			    !idle || idle > 32767 || !intvl || intvl > 32767 || !cnt || cnt > 127)
				bad_usage("--svc-keepalive: IDLE,INTVL,CNT expected (like 2,1,3), got '%s'", optarg);
			d->cfg.svc_keepalive.on = 1;
			d->cfg.svc_keepalive.idle = SEC(idle);
			d->cfg.svc_keepalive.intvl = SEC(intvl);
			d->cfg.svc_keepalive.cnt = cnt;
			break;
		}
		case O_SEED:
			if (!parse_uint(optarg, UINT64_MAX, &seed))
				bad_usage("--seed: a number expected, got '%s'", optarg);
			seeded = true;
			break;
		case 'd': d->detach = true; break;
		case 'l': d->log_path = optarg; break;
		case O_PIDFILE: d->pidfile = optarg; break;
		case 'v': d->verbose++; break;
		case 'h': usage(stdout); exit(0);
		case O_VERSION: printf("tapsockd %s\n", TAPSOCK_VERSION); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc)
		bad_usage("unexpected argument '%s'", argv[optind]);
	d->pcap = abs_path(d->pcap);
	d->log_path = abs_path(d->log_path);
	d->pidfile = abs_path(d->pidfile);
	{
		struct sockaddr_un sa;
		if (ipc_addr(d->name, &sa) < 0)
			bad_usage("--name: '%s' is empty, too long or has a '/'", d->name);
	}
	if (!d->ifname[0] || strlen(d->ifname) >= 16 || strchr(d->ifname, '/') || strchr(d->ifname, ' '))
		bad_usage("--ifname: '%s' is not a valid interface name", d->ifname);

	/* A/LEN */
	snprintf(abuf, sizeof(abuf), "%s", addr);
	slash = strchr(abuf, '/');
	if (!slash)
		bad_usage("--addr: A/LEN expected (like 10.77.0.2/24), got '%s'", addr);
	*slash = '\0';
	if (!parse_ip(abuf, &d->cfg.addr) || !parse_uint(slash + 1, 30, &v) || v < 1)
		bad_usage("--addr: A/LEN with LEN 1..30 expected, got '%s'", addr);
	d->prefix = (unsigned)v;
	mask = htonl(~0u << (32 - d->prefix));
	d->cfg.netmask = mask;
	host = ntohl(d->cfg.addr & ~mask);
	if (host == 0 || host == ntohl(~mask))
		bad_usage("--addr: %s is the network or broadcast address of its subnet", addr);

	if (peer && !strcmp(peer, "none")) {
		d->peer_none = true;
		d->peer = 0;
	} else if (peer) {
		if (!parse_ip(peer, &d->peer))
			bad_usage("--peer: an IPv4 address or 'none' expected, got '%s'", peer);
		if ((d->peer & mask) != (d->cfg.addr & mask) || d->peer == d->cfg.addr)
			bad_usage("--peer: %s is not another address of the engine's subnet", peer);
	} else {
		/* the .1 of the subnet, or .2 when the engine itself is .1 */
		d->peer = (d->cfg.addr & mask) | htonl(host == 1 ? 2 : 1);
	}
	if (gw) {
		if (!strcmp(gw, "none"))
			d->cfg.gateway = 0;
		else if (!parse_ip(gw, &d->cfg.gateway))
			bad_usage("--gateway: an IPv4 address expected, got '%s'", gw);
		else if ((d->cfg.gateway & mask) != (d->cfg.addr & mask))
			bad_usage("--gateway: %s is not on the engine's subnet", gw);
	} else {
		d->cfg.gateway = d->peer;
	}

	if (seeded) {
		d->cfg.secret[0] = seed;
		d->cfg.secret[1] = seed ^ 0x9e3779b97f4a7c15ull;
	} else if (getrandom(d->cfg.secret, sizeof(d->cfg.secret), 0) != sizeof(d->cfg.secret)) {
		fprintf(stderr, "tapsockd: getrandom: %s\n", strerror(errno));
		exit(1);
	}
}

/* -d: fork now; the parent waits on a pipe for "ready" or the child's error. */
static void detach(struct daemon *d)
{
	int pfd[2];
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		fprintf(stderr, "tapsockd: pipe: %s\n", strerror(errno));
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "tapsockd: fork: %s\n", strerror(errno));
		exit(1);
	}
	if (pid > 0) {
		char buf[1024];
		size_t got = 0;
		ssize_t n;

		close(pfd[1]);
		while (got < sizeof(buf) - 1 &&
		       ((n = read(pfd[0], buf + got, sizeof(buf) - 1 - got)) > 0 ||
			(n < 0 && errno == EINTR)))
			if (n > 0)
				got += (size_t)n;
		buf[got] = '\0';
		if (got >= 1 && buf[0] == 'K')
			exit(0);
		if (got >= 1 && buf[0] == 'E')
			fprintf(stderr, "tapsockd: %s\n", buf + 1);
		else
			fprintf(stderr, "tapsockd: the engine exited during start-up\n");
		exit(1);
	}
	close(pfd[0]);
	d->ready_fd = pfd[1];
	setsid();
	if (chdir("/") < 0)
		startup_fail(d, "chdir /: %s", strerror(errno));
}

static void ready(struct daemon *d)
{
	int fd;

	if (d->ready_fd < 0)
		return;
	/* stdio no longer belongs to whoever started us (a caller reading our stderr
	 * through a pipe would wait for our exit): without --log, -d logs nowhere */
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (write(d->ready_fd, "K", 1) < 0)
		log_warn("start-up handshake: %s", strerror(errno));
	close(d->ready_fd);
	d->ready_fd = -1;
}

static void write_pidfile(struct daemon *d)
{
	FILE *f;

	if (!d->pidfile)
		return;
	f = fopen(d->pidfile, "we");
	if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0)
		startup_fail(d, "cannot write pidfile %s: %s", d->pidfile, strerror(errno));
	d->pidfile_written = true;
}

static void already_running(struct daemon *d)
{
	struct ipc_reply rep;
	const char *pid = NULL;
	int n = 0;

	if (ipc_call(d->name, IPC_INFO, NULL, 0, &rep, 2000) == 0) {
		pid = strstr(rep.data, "pid ");
		if (pid && (pid == rep.data || pid[-1] == '\n'))
			n = atoi(pid + 4);
		ipc_reply_free(&rep);
	}
	if (n > 0)
		startup_fail(d, "an engine named '%s' is already running in this network "
			     "namespace (pid %d)", d->name, n);
	startup_fail(d, "an engine named '%s' is already running in this network namespace "
		     "(it does not answer)", d->name);
}

int main(int argc, char **argv)
{
	static struct daemon dd = { .ready_fd = -1 };
	struct daemon *d = &dd;
	struct ipc_server_ops ops = {
		.arg = d, .info = info_cb, .capture_start = capture_start_cb,
		.capture_stop = capture_stop_cb, .quit = quit_cb,
	};
	struct tap_config tc = { 0 };
	char err[512], a[INET_ADDRSTRLEN], off[64], stats[16384];
	uint64_t now;
	int r;

	parse_args(d, argc, argv);
	log_set_level(d->verbose >= 2 ? LOG_DEBUG : d->verbose == 1 ? LOG_INFO : LOG_WARN);
	signal(SIGPIPE, SIG_IGN);
	if (d->detach)
		detach(d);
	if (d->log_path) {
		open_log(d);
		if (!d->log)
			startup_fail(d, "cannot open log %s: %s", d->log_path, strerror(errno));
	}
	d->started = loop_now();

	/* the control socket first: a second engine of the same name stops here,
	 * before it touches any device */
	r = ipc_server_open(d->name, NULL, &ops, &d->ipc);
	if (r == -EADDRINUSE)
		already_running(d);
	if (r < 0)
		startup_fail(d, "control socket @tapsock/%s: %s", d->name, strerror(-r));

	snprintf(tc.ifname, sizeof(tc.ifname), "%s", d->ifname);
	tc.mtu = d->mtu;
	tc.offload = d->offload;
	tc.configure = true;
	tc.peer_addr = d->peer;
	tc.peer_mask = d->cfg.netmask;
	r = tap_open(&tc, &d->tap, err, sizeof(err));
	if (r < 0)
		startup_fail(d, "%s", err);
	d->link = pcap_link_new(d->tap);
	if (!d->link)
		startup_fail(d, "out of memory");
	if (d->pcap) {
		r = capture_start(d, d->pcap);
		if (r < 0)
			startup_fail(d, "--pcap %s: %s", d->pcap, strerror(-r));
	}
	now = loop_now();
	d->eng = eng_new(&d->cfg, d->link, now);
	if (!d->eng)
		startup_fail(d, "cannot create the engine (out of memory)");
	ipc_server_set_eng(d->ipc, d->eng);
	r = psock_srv_open(d->name, d->eng, &d->psock);
	if (r < 0)
		startup_fail(d, "socket server @tapsock/%s/sock: %s", d->name, strerror(-r));
	struct loop_params lpp = {
		.eng = d->eng, .tap = d->tap, .capture = d->link, .ipc = d->ipc, .psock = d->psock,
		.on_hup = hup_cb, .arg = d, .plain_reads = d->plain_reads,
		.no_direct_reads = d->no_direct_reads,
		.spin_us = d->spin_us,
	};
	r = loop_new(&lpp, &d->loop, err, sizeof(err));
	if (r < 0)
		startup_fail(d, "%s", err);
	write_pidfile(d);
	eng_start(d->eng, loop_now());
	log_info("engine '%s' on %s: %s/%u, peer %s, mtu %u, offloads %s, pid %d", d->name,
		 d->tap->name, fmt_ip(d->cfg.addr, a), d->prefix,
		 d->peer ? inet_ntoa((struct in_addr){ d->peer }) : "none", d->tap->mtu,
		 offload_text(tap_offloads(d->tap), off, sizeof(off)), (int)getpid());
	ready(d);

	r = loop_run(d->loop);

	/* clean exit: capture, counters, pidfile, then the TAP goes away */
	if (pcap_link_writer(d->link))
		capture_stop(d, NULL, 0, NULL);
	stats_format(&d->eng->stats, 0, stats, sizeof(stats));
	log_info("final counters:\n%s", stats);
	{
		const struct loop_stats *ls = loop_get_stats(d->loop);
		log_info("loop: %llu turns, %llu rx completions, %llu rx re-arms, %llu ENOBUFS, "
			 "%llu write batches, %llu direct writes (pool full), %llu timer arms, "
			 "%llu spins (%llu found work), %llu answers caught by watching, "
			 "%llu direct reads (%llu read in two pieces, %llu payloads published in place)",
			 (unsigned long long)ls->turns, (unsigned long long)ls->rx_cqes,
			 (unsigned long long)ls->rx_rearms, (unsigned long long)ls->rx_enobufs,
			 (unsigned long long)ls->tx_submits,
			 (unsigned long long)tap_sync_writes(d->tap),
			 (unsigned long long)ls->timer_arms,
			 (unsigned long long)ls->spins, (unsigned long long)ls->spin_hits,
			 (unsigned long long)ls->ans_hits, (unsigned long long)ls->rx_direct,
			 (unsigned long long)ls->rx_split,
			 (unsigned long long)(d->psock ? psock_srv_rx_in_place(d->psock) : 0));
	}
	if (d->pidfile_written)
		unlink(d->pidfile);
	ipc_server_close(d->ipc);
	/* programs' sockets: their placeholders read EOF (the engine is gone), the
	 * connections are closed as at process exit */
	psock_srv_close(d->psock);
	link_flush(d->eng->link);
	loop_free(d->loop);
	eng_free(d->eng);
	link_destroy(d->link);   /* closes the TAP: the device disappears */
	if (d->log)
		fclose(d->log);
	return r < 0 ? 1 : 0;
}
