/* psock_srv.c - the engine's socket server for the preload library: requests, placeholders, shared rings (protocol in ipc/psock.h; unix(7), memfd_create(2); RFC 9293 3.9.1 for the calls).
 *
 * Each socket: a tcp_sock, a SOCK_SEQPACKET pair (we keep sv[0], the application
 * gets sv[1], the placeholder) and a memfd with struct psock_shm and two rings.
 * The TCP callback and the placeholder's doorbells run ps_pump(), which moves
 * bytes between the rings and TCP, publishes readiness and sends a token when a
 * waiter's condition holds. The placeholder's EOF is the application's last
 * close: the bytes it sent still go out, then tcp_close() (RST instead when it
 * left received bytes unread, as Linux's tcp_close()). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "base/ring.h"
#include "eng.h"
#include "ipc/ipc.h"
#include "ipc/psock.h"
#include "sock/psock_srv.h"
#include "sock/services.h"
#include "tcp/tcb.h"
#include "tcp/tcp_sock.h"

/* keys: bit 55 client/socket, generation in bits 24..54, index in bits 0..23 */
#define KEY_CLIENT (1ull << 55)
#define KEY(cl, gen, idx) ((cl ? KEY_CLIENT : 0) | ((uint64_t)((gen) & 0x7fffffffu) << 24) | (idx))
#define KEY_IDX(k) ((uint32_t)((k) & 0xffffffu))
#define KEY_GEN(k) ((uint32_t)(((k) >> 24) & 0x7fffffffu))
#define MAX_SLOTS (1u << 24)

struct ps_client {
	int fd;                 /* -1: free */
	uint32_t gen;
	pid_t pid;
	uid_t uid;
};

struct ps_sock {
	struct psock_srv *srv;
	uint32_t idx, gen;
	int efd;                /* our end of the placeholder pair */
	int memfd;              /* -1 once handed out when it can be reopened (memfd_of) */
	ino_t ino;              /* inode of the application's end: how requests find us */
	struct ps_sock *hnext;  /* inode hash chain */
	struct tcp_sock *tcp;   /* NULL once closed */
	struct psock_shm *shm;
	uint8_t *rx, *tx;
	int domain;
	uid_t uid;              /* of the process that created it: its memory goes back
				   to the pool of that uid (shm_spare) */
	pid_t *pids;            /* owners seen in requests (ss), npids of them */
	int linger_fd;          /* PSOCK_LINGER: closed when the lingering close is done */
	uint32_t npids, cappids;
	unsigned listening : 1, connecting : 1, eof : 1, shut_wr_pending : 1, app_closed : 1,
		 busy : 1, again : 1, memfd_held : 1,
		 rx_wrapped : 1, tx_wrapped : 1;  /* a ring's counter reached its end (ring_pages) */
	/* A listener armed by PSOCK_ACCEPT_PUSH: its connections go to client
	 * push_cl (while its gen is push_clgen) as PSOCK_PUSHED with push_id. */
	unsigned push_armed : 1, push_nb : 1;
	uint32_t push_cl, push_clgen, push_id;
};

#define HASH_SIZE 4096u
/* Requests read by one recvmmsg (client_readable). */
#define CL_BATCH 4
/* Sockets a turn's tokens may promise a last look at (psock_srv_relook). */
#define RELOOK_MAX 256u
/* uids whose sockets are counted one by one (psock_srv_rx_area). */
#define UID_SLOTS 4u
/* Socket memories kept after a last close for the next socket of the same uid. */
#define SHM_SPARE_MAX 64u
/* Ring pages zeroed in place for reuse; a socket that used more is punched out. */
#define SHM_WIPE_PAGES 16u

/* Placeholder pairs and fresh memories made while the loop had nothing else to
 * do (psock_srv_idle), taken by a burst of socket() / accept(): each is a
 * socketpair + fstat, or a memfd_create + ftruncate + mmap + first faults, that
 * the request no longer waits for. Bounded: PREP_MAX of each, released at
 * psock_srv_close. */
#define PREP_MAX 32u
/* Made per idle turn: the loop goes to sleep soon after, a burst waits less. */
#define PREP_TURN 8u

struct prep_pair {
	int efd, appfd;         /* ours, and the application's (blocking) */
	ino_t ino;              /* the application's end */
};

struct prep_mem {
	struct psock_shm *shm;
	int memfd;
};

struct shm_spare {
	struct psock_shm *shm;
	int memfd;              /* -1 when it is reopened from the mapping (memfd_of) */
	uid_t uid;
};

struct psock_srv {
	struct eng *eng;
	int lfd;
	struct psock_srv_watch w;
	struct ps_client *cl;
	uint32_t ncl;
	struct ps_sock **socks;
	uint32_t nsocks;
	uint32_t *free_idx;     /* free slots of socks, lowest on top: O(1) per new socket */
	uint32_t nfree;
	struct shm_spare spare[SHM_SPARE_MAX];  /* psock.h "Reuse" */
	unsigned nspare;
	struct prep_pair pairs[PREP_MAX];       /* psock_srv_idle */
	struct prep_mem mems[PREP_MAX];
	unsigned npairs, nmems;
	bool closing;           /* psock_srv_close: nothing goes back to the pool */
	/* Sockets whose eng_tx_idle a token cleared: the engine looks at their send
	 * rings once more before it sleeps (psock_srv_relook). */
	struct { uint32_t idx, gen; } relook[RELOOK_MAX];
	unsigned nrelook;
	bool relooking;
	/* Of those, the ones whose last look found nothing and whose program runs
	 * on another CPU: the loop may watch their send rings for the answer
	 * before it sleeps (psock_srv_answer_begin). */
	struct { uint32_t idx, gen; } answer[RELOOK_MAX];
	unsigned nanswer;
	uint64_t tx_moved;      /* pump_tx calls that moved bytes (psock_srv_relook) */
	/* The socket whose receive ring took the last frame's payload whole
	 * (rx_direct), and how many bytes: the loop reads the next frame straight
	 * into that ring (psock_srv_rx_area). */
	struct ps_sock *rx_hot;
	uint32_t rx_took;
	uint64_t rx_in_place;   /* payloads published where they were read, no copy */
	/* Sockets per uid (ps->uid), for psock_srv_rx_area: a few uids counted, the
	 * sockets of any further one in uid_other. */
	struct { uid_t uid; uint32_t n; } uids[UID_SLOTS];
	uint32_t uid_other;
	unsigned nheld;         /* sockets that keep their memfd open (memfd_of) */
	bool swap;              /* swap is on: residency (mincore) no longer says written */
	uint64_t swap_checked;  /* when /proc/swaps was read (eng->now) */
	uint32_t gen;
	unsigned count;
	int map_files;          /* /proc/self/map_files reopens a mapping: 1 yes, -1 no, 0 not tried */
	struct ps_sock *hash[HASH_SIZE];
	uint8_t msg[CL_BATCH][IPC_MSG_MAX];
	uint8_t out[IPC_MSG_MAX];
};

static void ps_pump(struct ps_sock *ps);
static uint32_t rx_direct(void *arg, const void *data, uint32_t len);
static void pump_tx(struct ps_sock *ps, uint64_t now);
static void ps_free(struct ps_sock *ps);
static void uid_count(struct psock_srv *srv, uid_t uid, int d);
static int owner_fd(pid_t pid, ino_t ino);

static size_t shm_total(void) { return PSOCK_HDR_SIZE + 2 * (size_t)PSOCK_RING_SIZE; }

/* The fds a socket costs the engine. Keeping each socket's memfd open beside its
 * placeholder end made two per socket: 10 000 connections of a server under the
 * preload library took 20 000 fds, the engine hit RLIMIT_NOFILE, and every
 * accept (of sockets, of control connections) then failed at once and for ever
 * (the engine spun; the connections stalled). The mapping keeps the memory
 * alive, and /proc/self/map_files/ opens that same file again when a process
 * needs it later (PSOCK_ATTACH after exec or SCM_RIGHTS). So the memfd itself
 * goes out with the reply that creates the socket, and the engine keeps one fd
 * per socket. Where map_files cannot be opened (it needs CAP_SYS_ADMIN), the
 * memfd stays open as before. */
static int map_files_open(const struct ps_sock *ps)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)(uintptr_t)ps->shm,
		 (unsigned long)((uintptr_t)ps->shm + shm_total()));
	return open(path, O_RDWR | O_CLOEXEC);
}

/* Sockets beyond this many hold no fd of their memory: one fd per socket. */
#define MEMFD_HELD_MAX 64u

/* An fd of ps's memory for a reply, or -errno: a new one, closed after sending,
 * or ps's own (*kept true), which the reply only copies. */
static int memfd_of(struct ps_sock *ps, bool *kept)
{
	struct psock_srv *srv = ps->srv;
	int fd;

	*kept = false;
	if (ps->memfd < 0)
		return (fd = map_files_open(ps)) < 0 ? -errno : fd;
	if (srv->map_files == 0) {
		struct stat a, b;

		fd = map_files_open(ps);
		srv->map_files = fd >= 0 && fstat(fd, &a) == 0 && fstat(ps->memfd, &b) == 0 &&
				 a.st_ino == b.st_ino && a.st_dev == b.st_dev ? 1 : -1;
		if (fd >= 0)
			close(fd);
		if (srv->map_files < 0)
			log_info("psock: /proc/self/map_files cannot be opened: two fds per socket");
	}
	if (srv->map_files > 0 && (ps->memfd_held || srv->nheld < MEMFD_HELD_MAX)) {
		/* Up to MEMFD_HELD_MAX sockets keep theirs: the reply carries a
		 * copy, and the memory goes back to the pool with its fd, where
		 * reopening it from the mapping cost an open() of
		 * /proc/self/map_files per connection (7 % of the engine at
		 * connect, 64 B, close). */
		if (!ps->memfd_held) {
			ps->memfd_held = 1;
			srv->nheld++;
		}
		*kept = true;
		return ps->memfd;
	}
	if (srv->map_files > 0) {
		fd = ps->memfd;   /* the reply's now; reopened from the mapping if needed */
		ps->memfd = -1;
		return fd;
	}
	return (fd = dup(ps->memfd)) < 0 ? -errno : fd;
}

int psock_srv_open(const char *name, struct eng *eng, struct psock_srv **out)
{
	struct psock_srv *srv;
	struct sockaddr_un sa;
	int n;

	*out = NULL;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "tapsock/%s" PSOCK_ADDR_SUFFIX, name);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path) - 1)
		return -ENAMETOOLONG;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->eng = eng;
	/* Every socket a program holds is an fd here (its placeholder's other end),
	 * as every kernel socket is a file in the kernel: the soft limit (often
	 * 1024) would cap the whole host's sockets, so the engine takes the hard
	 * one, as servers that hold many connections do. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	srv->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (srv->lfd < 0 ||
	    bind(srv->lfd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n)) < 0 ||
	    listen(srv->lfd, 512) < 0) {
		int err = -errno;
		if (srv->lfd >= 0)
			close(srv->lfd);
		free(srv);
		return err;
	}
	*out = srv;
	return 0;
}

void psock_srv_set_watch(struct psock_srv *srv, const struct psock_srv_watch *w) { srv->w = *w; }
int psock_srv_listen_fd(const struct psock_srv *srv) { return srv->lfd; }

static void watch(struct psock_srv *srv, int fd, uint64_t key)
{
	if (srv->w.watch)
		srv->w.watch(srv->w.arg, fd, key);
}

static void unwatch(struct psock_srv *srv, uint64_t key)
{
	if (srv->w.unwatch)
		srv->w.unwatch(srv->w.arg, key);
}

/* ---- clients ---- */

void psock_srv_accept(struct psock_srv *srv, int fd)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	uint32_t i;

	for (i = 0; i < srv->ncl; i++)
		if (srv->cl[i].fd < 0)
			break;
	if (i == srv->ncl) {
		uint32_t n = srv->ncl ? srv->ncl * 2 : 16;
		struct ps_client *c = n < MAX_SLOTS ? realloc(srv->cl, n * sizeof(*c)) : NULL;

		if (!c) {
			close(fd);
			return;
		}
		for (uint32_t j = srv->ncl; j < n; j++)
			c[j] = (struct ps_client){ .fd = -1 };
		srv->cl = c;
		srv->ncl = n;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		close(fd);
		return;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	srv->cl[i].fd = fd;
	srv->cl[i].gen = ++srv->gen;
	srv->cl[i].pid = cred.pid;
	srv->cl[i].uid = cred.uid;
	log_debug("psock: process %d (uid %d) connected", (int)cred.pid, (int)cred.uid);
	watch(srv, fd, KEY(1, srv->cl[i].gen, i));
}

static void client_drop(struct psock_srv *srv, uint32_t i)
{
	struct ps_client *c = &srv->cl[i];

	if (c->fd < 0)
		return;
	unwatch(srv, KEY(1, c->gen, i));
	close(c->fd);
	c->fd = -1;
}

/* ---- sockets ---- */

static struct ps_sock *ps_find(struct psock_srv *srv, ino_t ino)
{
	for (struct ps_sock *ps = srv->hash[ino % HASH_SIZE]; ps; ps = ps->hnext)
		if (ps->ino == ino)
			return ps;
	return NULL;
}

/* A process that asked about ps holds its placeholder: one of its owners (ss).
 * Best effort: an owner that does not fit is simply not shown. */
static void ps_owner_add(struct ps_sock *ps, pid_t pid)
{
	if (pid <= 0)
		return;
	for (uint32_t i = 0; i < ps->npids; i++)
		if (ps->pids[i] == pid)
			return;
	if (ps->npids == ps->cappids) {
		uint32_t n = ps->cappids ? ps->cappids * 2 : 2;
		pid_t *p = n <= 65536 ? realloc(ps->pids, n * sizeof(*p)) : NULL;

		if (!p)
			return;
		ps->pids = p;
		ps->cappids = n;
	}
	ps->pids[ps->npids++] = pid;
	if (ps->npids > 1)
		ps->push_armed = 0;   /* prefork workers share the queue (psock.h) */
}

static void tcp_cb(struct tcp_sock *s, unsigned events, void *arg)
{
	(void)s;
	(void)events;
	ps_pump(arg);
}

/* A socket around tcp (new, or accepted): pair, memfd, slot. 0 and the
 * application's end in *appfd, or -errno. */
/* A wiped memory of uid's from the pool into ps (0), or -1 when none. */
static int shm_from_pool(struct psock_srv *srv, struct ps_sock *ps)
{
	for (unsigned k = srv->nspare; k-- > 0;) {
		if (srv->spare[k].uid != ps->uid)
			continue;
		ps->shm = srv->spare[k].shm;
		ps->memfd = srv->spare[k].memfd;
		srv->spare[k] = srv->spare[--srv->nspare];
		return 0;
	}
	return -1;
}

/* Pages of a ring that may hold bytes: [0, what was ever produced or consumed),
 * or all of them once a counter reached the end (sticky: a free-running u32
 * back at a small value has wrapped). What a program writes past head itself is
 * not counted (psock.h "Reuse"). */
static size_t ring_pages(const struct psock_ring *r, bool wrapped)
{
	uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint32_t hi = head > tail ? head : tail;

	if (wrapped || hi >= PSOCK_RING_SIZE)
		return PSOCK_RING_SIZE / 4096u;
	return (hi + 4095u) / 4096u;
}

/* Zero a ring's first npages pages: in place when few (they stay allocated and
 * mapped here), else given back to the kernel (MADV_REMOVE punches them out of
 * the memfd; they come back zeroed when touched). */
static int ring_wipe(uint8_t *ring, size_t npages, bool punch)
{
	if (!npages)
		return 0;
	if (punch || npages > SHM_WIPE_PAGES)
		return madvise(ring, npages * 4096u, MADV_REMOVE) < 0 ? -errno : 0;
	memset(ring, 0, npages * 4096u);
	return 0;
}

/* Make ps's memory as a fresh memfd's (zero) and keep it for the next socket of
 * the same uid: true when kept. Only after the application's last close: by the
 * library's contract every process unmapped it before closing its last copy of
 * the placeholder (psock.h "Reuse"). The rings' counters say which pages were
 * written (ring_pages): no mincore() over 128 pages per connection (6 % of the
 * engine at connect, 64 B, close). */
static bool shm_to_pool(struct psock_srv *srv, struct ps_sock *ps)
{
	struct psock_shm *sh = ps->shm;
	size_t rxp, txp;

	if (srv->closing || !ps->app_closed || srv->nspare == SHM_SPARE_MAX)
		return false;
	if (srv->eng->now - srv->swap_checked >= 1000000000ull || !srv->swap_checked) {
		/* with swap on, the rings are punched out rather than zeroed: a
		 * swapped-out page would be read back only to be zeroed (once a
		 * second: swapon) */
		char line[256];
		FILE *f = fopen("/proc/swaps", "re");
		int n = 0;

		while (f && fgets(line, sizeof(line), f))
			n++;
		if (f)
			fclose(f);
		srv->swap = n > 1;
		srv->swap_checked = srv->eng->now | 1;
	}
	rxp = ring_pages(&sh->rx, ps->rx_wrapped);
	txp = ring_pages(&sh->tx, ps->tx_wrapped);
	if (ring_wipe(ps->rx, rxp, srv->swap || rxp + txp > SHM_WIPE_PAGES) < 0 ||
	    ring_wipe(ps->tx, txp, srv->swap || rxp + txp > SHM_WIPE_PAGES) < 0)
		return false;
	memset(sh, 0, PSOCK_HDR_SIZE);
	srv->spare[srv->nspare++] = (struct shm_spare){ ps->shm, ps->memfd, ps->uid };
	ps->shm = NULL;
	ps->memfd = -1;
	return true;
}

/* A new socket memory: 0 (*shm mapped, *memfd), or -1 with errno. */
static int shm_fresh(struct psock_shm **shm, int *memfd)
{
	size_t size = shm_total();
	void *p;
	int fd = memfd_create("tapsock-socket", MFD_CLOEXEC), e;

	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)size) < 0 ||
	    (p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	*shm = p;
	*memfd = fd;
	return 0;
}

/* Prepare what the next sockets take (struct prep_pair, prep_mem), a few per
 * call: the loop calls it before it sleeps. */
void psock_srv_idle(struct psock_srv *srv)
{
	unsigned made = 0;

	while (srv->npairs < PREP_MAX && made < PREP_TURN && !srv->closing) {
		struct prep_pair *pp = &srv->pairs[srv->npairs];
		int sv[2];
		struct stat st;

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
			return;
		if (fstat(sv[1], &st) < 0) {
			close(sv[0]);
			close(sv[1]);
			return;
		}
		*pp = (struct prep_pair){ sv[0], sv[1], st.st_ino };
		srv->npairs++;
		made++;
	}
	/* a memory of the pool (shm_spare) is taken first: fresh ones only while
	 * it is empty (sockets only open, as in a burst of connections) */
	while (srv->nmems < PREP_MAX && made < PREP_TURN && !srv->closing && !srv->nspare) {
		struct prep_mem *m = &srv->mems[srv->nmems];

		if (shm_fresh(&m->shm, &m->memfd) < 0)
			return;
		/* the header page is written by ps_new at once: its fault here */
		memset(m->shm, 0, 64);
		srv->nmems++;
		made++;
	}
}

static int ps_new(struct psock_srv *srv, struct tcp_sock *tcp, int domain, pid_t pid, uid_t uid,
		  bool nonblock, struct ps_sock **out, int *appfd)
{
	struct ps_sock *ps = calloc(1, sizeof(*ps));
	int sv[2] = { -1, -1 }, err;
	struct stat st;
	uint32_t i;
	size_t size = shm_total();

	if (!ps)
		return -ENOMEM;
	ps->srv = srv;
	ps->efd = ps->memfd = ps->linger_fd = -1;
	ps->domain = domain;
	ps->uid = uid;
	ps_owner_add(ps, pid);
	if (srv->npairs) {
		struct prep_pair *pp = &srv->pairs[--srv->npairs];

		sv[0] = pp->efd;
		sv[1] = pp->appfd;
		ps->ino = pp->ino;
		/* O_NONBLOCK is the file's: the application's end gets the flag it
		 * asked for (a prepared pair has none) */
		if (nonblock && fcntl(sv[1], F_SETFL, O_NONBLOCK) < 0)
			goto fail_errno;
	} else {
		/* O_NONBLOCK is the file's (both ends): the application's end gets the
		 * flag it asked for, ours does not care (MSG_DONTWAIT everywhere) */
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0, sv) < 0)
			goto fail_errno;
		if (fstat(sv[1], &st) < 0)
			goto fail_errno;
		ps->ino = st.st_ino;
	}
	ps->efd = sv[0];   /* every call on it says MSG_DONTWAIT: no O_NONBLOCK (a system call) */
	if (shm_from_pool(srv, ps) < 0) {
		if (srv->nmems) {
			ps->shm = srv->mems[--srv->nmems].shm;
			ps->memfd = srv->mems[srv->nmems].memfd;
		} else if (shm_fresh(&ps->shm, &ps->memfd) < 0)
			goto fail_errno;
	}
	ps->shm->magic = PSOCK_SHM_MAGIC;
	ps->shm->version = PSOCK_VERSION;
	ps->shm->size = (uint32_t)size;
	ps->shm->rx_off = PSOCK_HDR_SIZE;
	ps->shm->rx_size = PSOCK_RING_SIZE;
	ps->shm->tx_off = PSOCK_HDR_SIZE + PSOCK_RING_SIZE;
	ps->shm->tx_size = PSOCK_RING_SIZE;
	ps->shm->domain = domain;
	atomic_store(&ps->shm->eng_tx_idle, 1);
	ps->rx = (uint8_t *)ps->shm + ps->shm->rx_off;
	ps->tx = (uint8_t *)ps->shm + ps->shm->tx_off;

	/* a stack of free slots: the first free slot searched from 0 made opening
	 * 10 000 connections quadratic (a tenth of the engine's time past 3 000) */
	if (!srv->nfree) {
		uint32_t n = srv->nsocks ? srv->nsocks * 2 : 64;
		struct ps_sock **t = n < MAX_SLOTS ? realloc(srv->socks, n * sizeof(*t)) : NULL;
		uint32_t *f;

		if (t)
			srv->socks = t;
		f = t ? realloc(srv->free_idx, n * sizeof(*f)) : NULL;
		if (!f) {
			errno = ENOMEM;
			goto fail_errno;
		}
		srv->free_idx = f;
		memset(t + srv->nsocks, 0, (n - srv->nsocks) * sizeof(*t));
		for (uint32_t j = n; j > srv->nsocks; j--)
			f[srv->nfree++] = j - 1;
		srv->nsocks = n;
	}
	i = srv->free_idx[--srv->nfree];
	ps->idx = i;
	ps->gen = ++srv->gen;
	srv->socks[i] = ps;
	ps->hnext = srv->hash[ps->ino % HASH_SIZE];
	srv->hash[ps->ino % HASH_SIZE] = ps;
	srv->count++;
	uid_count(srv, ps->uid, 1);
	ps->tcp = tcp;
	tcp_sock_set_cb(tcp, tcp_cb, ps);
	tcp_sock_set_rx(tcp, rx_direct, ps);
	watch(srv, ps->efd, KEY(0, ps->gen, i));
	*out = ps;
	*appfd = sv[1];
	return 0;
fail_errno:
	err = -errno;
	if (ps->shm)
		munmap(ps->shm, size);
	if (ps->memfd >= 0)
		close(ps->memfd);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	free(ps->pids);
	free(ps);
	return err;
}

static void uid_count(struct psock_srv *srv, uid_t uid, int d)
{
	unsigned k, free_k = UID_SLOTS;

	for (k = 0; k < UID_SLOTS; k++) {
		if (srv->uids[k].n && srv->uids[k].uid == uid) {
			srv->uids[k].n += (uint32_t)d;
			return;
		}
		if (!srv->uids[k].n && free_k == UID_SLOTS)
			free_k = k;
	}
	if (d > 0 && free_k < UID_SLOTS)
		srv->uids[free_k].uid = uid, srv->uids[free_k].n = 1;
	else
		srv->uid_other += (uint32_t)d;
}

/* Every socket is uid's. */
static bool uid_only(const struct psock_srv *srv, uid_t uid)
{
	if (srv->uid_other)
		return false;
	for (unsigned k = 0; k < UID_SLOTS; k++)
		if (srv->uids[k].n && srv->uids[k].uid != uid)
			return false;
	return true;
}

static void ps_free(struct ps_sock *ps)
{
	struct psock_srv *srv = ps->srv;

	if (srv->rx_hot == ps)
		srv->rx_hot = NULL;

	for (struct ps_sock **pp = &srv->hash[ps->ino % HASH_SIZE]; *pp; pp = &(*pp)->hnext)
		if (*pp == ps) {
			*pp = ps->hnext;
			break;
		}
	srv->socks[ps->idx] = NULL;
	srv->free_idx[srv->nfree++] = ps->idx;
	srv->count--;
	uid_count(srv, ps->uid, -1);
	if (ps->memfd_held)
		srv->nheld--;
	if (ps->efd >= 0) {
		unwatch(srv, KEY(0, ps->gen, ps->idx));
		close(ps->efd);
	}
	if (ps->linger_fd >= 0)
		close(ps->linger_fd);   /* never closed by TCP: release the waiter now */
	if (!shm_to_pool(srv, ps)) {
		if (ps->memfd >= 0)
			close(ps->memfd);
		munmap(ps->shm, shm_total());
	}
	free(ps->pids);
	free(ps);
}

/* tcp_close_linger() is done: the application's close() returns (it reads EOF). */
static void linger_done(void *arg)
{
	int *fd = arg;

	close(*fd);
	free(fd);
}

/* The application's last close (or the engine stopping): hand the socket to TCP
 * to finish as the kernel does at close(). */
static void ps_tcp_close(struct ps_sock *ps)
{
	struct tcp_sock *tcp = ps->tcp;
	uint64_t now = ps->srv->eng->now;

	if (!tcp)
		return;
	ps->tcp = NULL;
	tcp_sock_set_cb(tcp, NULL, NULL);
	tcp_sock_set_rx(tcp, NULL, NULL);
	if (psock_ring_used(&ps->shm->rx)) {
		/* Linux tcp_close(): "As outlined in RFC 2525, section 2.17, we send a
		 * RST here because data was lost" -- bytes in our receive ring were
		 * acknowledged and never read: the same abort. */
		struct linger lg = { 1, 0 };
		tcp_setsockopt(tcp, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg), now);
	}
	if (ps->linger_fd >= 0) {
		/* SO_LINGER > 0: the closing process sleeps until the FIN is
		 * acknowledged or the linger time passes (Linux sk_stream_wait_close) */
		int *fd = malloc(sizeof(*fd));

		if (fd) {
			*fd = ps->linger_fd;
			ps->linger_fd = -1;
			tcp_close_linger(tcp, linger_done, fd, now);
			return;
		}
	}
	tcp_close(tcp, now);
}

static void ps_app_closed(struct ps_sock *ps)
{
	if (ps->app_closed)
		return;
	ps->app_closed = 1;
	if (ps->efd >= 0) {
		unwatch(ps->srv, KEY(0, ps->gen, ps->idx));
		close(ps->efd);
		ps->efd = -1;
	}
	log_debug("psock: socket %u: last close", ps->idx);
	if (ps->tcp && !psock_ring_used(&ps->shm->rx) && !ps->listening)
		ps_pump(ps);   /* the send ring's bytes first: closes when it is empty */
	else {
		ps_tcp_close(ps);
		ps_free(ps);
	}
}

static void send_token(struct ps_sock *ps)
{
	struct psock_srv *srv = ps->srv;
	char t = PSOCK_MSG_TOKEN;

	if (ps->efd < 0)
		return;
	if (atomic_exchange(&ps->shm->tok_pending, 1) != 0)
		return;
	/* A woken program often answers at once, while the engine is still in
	 * this turn (it preempted the engine, or runs on another CPU): with its
	 * doorbell off it writes without a message over the placeholder, and the
	 * engine looks at the send ring before it sleeps (psock_srv_relook), where
	 * pump_tx sets the doorbell back with the usual Dekker look. */
	if (!srv->relooking && srv->nrelook < RELOOK_MAX && !ps->listening &&
	    atomic_exchange(&ps->shm->eng_tx_idle, 0)) {
		srv->relook[srv->nrelook].idx = ps->idx;
		srv->relook[srv->nrelook].gen = ps->gen;
		srv->nrelook++;
	}
	if (send(ps->efd, &t, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN)
		log_debug("psock: token: %s", strerror(errno));
}

bool psock_srv_relook(struct psock_srv *srv)
{
	uint64_t moved = srv->tx_moved;
	unsigned n = srv->nrelook;
	/* as app_cpu holds it; 0 (unknown) matches no program's */
	uint32_t cpu = n ? psock_cpu_now() : 0;

	srv->relooking = true;
	srv->nanswer = 0;
	for (unsigned i = 0; i < n; i++) {
		uint32_t idx = srv->relook[i].idx;
		struct ps_sock *ps = idx < srv->nsocks ? srv->socks[idx] : NULL;

		uint64_t before = srv->tx_moved;

		/* a socket freed since has no doorbell to restore; a closing one is
		 * pumped by its close */
		if (!ps || ps->gen != srv->relook[i].gen || !ps->tcp || ps->app_closed || ps->busy)
			continue;
		pump_tx(ps, srv->eng->now);
		/* published only when bytes moved, as a doorbell's pump would: a
		 * publication with nothing new would send a waiter a token, which
		 * epoll reports as a new edge (EPOLLET) */
		if (srv->tx_moved != before) {
			ps_pump(ps);
			continue;
		}
		uint32_t app = atomic_load_explicit(&ps->shm->app_cpu, memory_order_relaxed);

		if (cpu && app && app != cpu) {
			srv->answer[srv->nanswer].idx = idx;
			srv->answer[srv->nanswer].gen = srv->relook[i].gen;
			srv->nanswer++;
		}
	}
	srv->nrelook = 0;
	srv->relooking = false;
	return srv->tx_moved != moved;
}

static struct ps_sock *answer_sock(struct psock_srv *srv, unsigned i)
{
	uint32_t idx = srv->answer[i].idx;
	struct ps_sock *ps = idx < srv->nsocks ? srv->socks[idx] : NULL;

	if (!ps || ps->gen != srv->answer[i].gen || !ps->tcp || ps->app_closed || ps->busy)
		return NULL;
	return ps;
}

unsigned psock_srv_answer_begin(struct psock_srv *srv, bool watch)
{
	unsigned n = srv->nanswer;

	if (!watch) {
		srv->nanswer = 0;   /* their doorbells are on: the relook's pump_tx */
		return n;
	}
	/* the doorbell off again, as after a token: psock_srv_answer_end owes each
	 * one more look, which turns it back on */
	for (unsigned i = 0; i < n; i++) {
		struct ps_sock *ps = answer_sock(srv, i);

		if (ps)
			atomic_store(&ps->shm->eng_tx_idle, 0);
	}
	return n;
}

bool psock_srv_answer_ready(struct psock_srv *srv)
{
	for (unsigned i = 0; i < srv->nanswer; i++) {
		struct ps_sock *ps = answer_sock(srv, i);

		if (ps && psock_ring_used(&ps->shm->tx))
			return true;
	}
	return false;
}

bool psock_srv_answer_end(struct psock_srv *srv)
{
	uint64_t moved = srv->tx_moved;
	unsigned n = srv->nanswer;

	srv->nanswer = 0;
	for (unsigned i = 0; i < n; i++) {
		struct ps_sock *ps = answer_sock(srv, i);
		uint64_t before = srv->tx_moved;

		if (!ps)
			continue;
		/* an empty ring sets eng_tx_idle = 1 and looks again (Dekker) */
		pump_tx(ps, srv->eng->now);
		if (srv->tx_moved != before)
			ps_pump(ps);
	}
	return srv->tx_moved != moved;
}

/* Move received bytes into the receive ring. */
/* The receive ring as the engine fills it: the free room from `*head` on (0 when
 * the counters, which the application may change too, look over-full), and the
 * publication of n more bytes. */
static uint32_t rx_room(const struct ps_sock *ps, uint32_t *head)
{
	struct psock_shm *sh = ps->shm;
	uint32_t used;

	*head = atomic_load_explicit(&sh->rx.head, memory_order_relaxed);
	used = *head - atomic_load_explicit(&sh->rx.tail, memory_order_acquire);
	return used >= sh->rx_size ? 0 : sh->rx_size - used;
}

static void rx_produced(struct ps_sock *ps, uint32_t head, uint32_t n)
{
	atomic_store_explicit(&ps->shm->rx.head, head + n, memory_order_release);
	if (head + n >= ps->shm->rx_size)
		ps->rx_wrapped = 1;
}

/* TCP's in-order data straight into the receive ring while TCP holds nothing
 * before it (tcp_sock_set_rx): the same bytes pump_rx would move a moment later,
 * without first copying them into TCP's queue. */
static uint32_t rx_direct(void *arg, const void *data, uint32_t len)
{
	struct ps_sock *ps = arg;
	uint32_t size = ps->shm->rx_size, head, room, done = 0;

	if (ps->app_closed || !(room = rx_room(ps, &head)))
		return 0;
	if (room > len)
		room = len;
	while (done < room) {
		uint32_t off = (head + done) & (size - 1), chunk = room - done;

		if (chunk > size - off)
			chunk = size - off;
		/* A frame read straight into this ring (psock_srv_rx_area) has its
		 * payload in place already. A trimmed one sits a little further on in
		 * the same ring: the regions may overlap. */
		if (ps->rx + off != (const uint8_t *)data + done)
			memmove(ps->rx + off, (const uint8_t *)data + done, chunk);
		else
			ps->srv->rx_in_place++;
		done += chunk;
	}
	rx_produced(ps, head, done);
	if (done == len) {
		ps->srv->rx_hot = ps;
		ps->srv->rx_took = done;
	}
	return done;
}

bool psock_srv_rx_area(struct psock_srv *srv, uint8_t **at, uint32_t *len)
{
	struct ps_sock *ps = srv->rx_hot;
	uint32_t head, room, off;

	if (!ps || ps->app_closed || !ps->tcp || !(room = rx_room(ps, &head)))
		return false;
	/* A frame read there may be another connection's: its bytes sit in this
	 * ring's free room, which the program maps. Only while every socket is of
	 * this socket's uid (what the memory reuse allows, psock.h "Reuse") and no
	 * connection of the engine's own services could be the one. */
	if (!uid_only(srv, ps->uid) || sock_svc_conns(srv->eng))
		return false;
	off = head & (ps->shm->rx_size - 1);
	*at = ps->rx + off;
	*len = room < ps->shm->rx_size - off ? room : ps->shm->rx_size - off;
	return true;
}

uint32_t psock_srv_rx_took(struct psock_srv *srv)
{
	uint32_t n = srv->rx_took;

	srv->rx_took = 0;
	return n;
}

void psock_srv_rx_forget(struct psock_srv *srv) { srv->rx_hot = NULL; }
uint64_t psock_srv_rx_in_place(const struct psock_srv *srv) { return srv->rx_in_place; }

static void pump_rx(struct ps_sock *ps, uint64_t now)
{
	struct psock_shm *sh = ps->shm;
	uint32_t size = sh->rx_size;

	for (;;) {
		uint32_t head, room = rx_room(ps, &head);
		uint32_t off = head & (size - 1), chunk;
		ssize_t n;

		if (!room) {
			/* nothing more to move: no bytes, and no FIN or error behind
			 * them either (a FIN that came while the ring was full is
			 * noticed only when the reader makes room and rings) */
			if (!tcp_recv_avail(ps->tcp) &&
			    !(tcp_sock_events(ps->tcp) & (POLLIN | POLLRDHUP | POLLHUP | POLLERR)))
				return;
			/* full: the reader rings when it makes room; look again after
			 * setting the flag (it may have read meanwhile) */
			atomic_store(&sh->eng_rx_full, 1);
			if (head - atomic_load(&sh->rx.tail) >= size)
				return;
			atomic_store(&sh->eng_rx_full, 0);
			continue;
		}
		chunk = room < size - off ? room : size - off;
		n = tcp_recv(ps->tcp, ps->rx + off, chunk, 0, now);
		if (n > 0) {
			rx_produced(ps, head, (uint32_t)n);
			continue;
		}
		if (n == 0)
			ps->eof = 1;
		return;
	}
}

static void pump_tx_full(struct ps_sock *ps, uint64_t now)
{
	static const uint8_t none;

	if (!tcp_send_space(ps->tcp))
		(void)tcp_send(ps->tcp, &none, 1, 0, now);
}

/* A TCP_NODELAY the library left in the shared page (psock.h nodelay). */
static void nodelay_take(struct ps_sock *ps, uint64_t now)
{
	struct psock_shm *sh = ps->shm;
	int v;

	if (!atomic_load_explicit(&sh->nodelay, memory_order_relaxed))
		return;
	v = (int)atomic_exchange(&sh->nodelay, 0) - 1;
	if (v >= 0)
		(void)tcp_setsockopt(ps->tcp, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v), now);
}

static void pump_tx(struct ps_sock *ps, uint64_t now)
{
	struct psock_shm *sh = ps->shm;
	uint32_t size = sh->tx_size;

	nodelay_take(ps, now);
	for (;;) {
		uint32_t tail = atomic_load_explicit(&sh->tx.tail, memory_order_relaxed);
		uint32_t used = atomic_load_explicit(&sh->tx.head, memory_order_acquire) - tail;
		uint32_t off = tail & (size - 1), chunk;
		ssize_t n;

		if (!used) {
			pump_tx_full(ps, now);
			atomic_store(&sh->eng_tx_idle, 1);
			if (atomic_load(&sh->tx.head) == tail)
				return;
			atomic_store(&sh->eng_tx_idle, 0);
			continue;
		}
		chunk = used < size - off ? used : size - off;
		/* MSG_MORE (psock.h): more follows at once (the ring wraps), or the
		 * application's last send asked for it */
		int fl = chunk < used || (atomic_load(&sh->tx_more) &&
					  atomic_load(&sh->tx_more_head) == tail + used) ? MSG_MORE : 0;
		n = tcp_send(ps->tcp, ps->tx + off, chunk, fl, now);
		if (n > 0) {
			ps->srv->tx_moved++;
			atomic_store_explicit(&sh->tx.tail, tail + (uint32_t)n, memory_order_release);
			if (tail + (uint32_t)n >= size)
				ps->tx_wrapped = 1;
			continue;
		}
		if (n == -EAGAIN)
			return;   /* TCP's buffer is full (or still connecting): POLLOUT brings us back */
		/* the connection cannot send any more (reset, shut down): what is left
		 * is lost, as in a kernel socket's buffer */
		if (n < 0) {
			int e = (int)-n;
			if (e != EPIPE && e != ENOTCONN)
				atomic_store(&sh->so_error, e);
		}
		atomic_store_explicit(&sh->tx.tail, tail + used, memory_order_release);
		if (tail + used >= size)
			ps->tx_wrapped = 1;
	}
}

static void publish(struct ps_sock *ps)
{
	struct psock_shm *sh = ps->shm;
	unsigned ev = tcp_sock_events(ps->tcp), pub = 0, st = 0;
	bool sendable, in_ready, out_ready, err;

	sendable = !ps->shut_wr_pending && tcp_send(ps->tcp, NULL, 0, 0, ps->srv->eng->now) == 0;
	/* one send buffer for the ring and TCP's queue, as Linux's (psock.h tx_end):
	 * tx_end first, it must be valid once tx_sndbuf is not 0. Only while the
	 * socket can send: a reset leaves TCP no room, and a writer on another CPU
	 * that still saw the old state (stored below) would find no room and answer
	 * EAGAIN, which Linux never does for a reset connection; with the old limit
	 * its bytes go into the ring as if sent just before the reset. */
	if (sendable)
		atomic_store(&sh->tx_end, atomic_load(&sh->tx.tail) + (uint32_t)tcp_send_space(ps->tcp));
	atomic_store(&sh->tx_sndbuf, (uint32_t)tcp_send_buffer(ps->tcp));
	/* The peer's FIN (POLLRDHUP, and POLLHUP once we shut down too) is behind
	 * every byte TCP still holds: reported before those bytes are in the ring,
	 * the reader that drained the ring would see a hang-up without POLLIN and
	 * stop reading (Linux's tcp_poll() never says POLLHUP without POLLIN after a
	 * FIN; nc -N lost the end of its reply that way). Held back until TCP's
	 * queue is in the ring: the reader rings for it (eng_rx_full). */
	if (!tcp_recv_avail(ps->tcp))
		pub = ev & (POLLHUP | POLLRDHUP);
	if (ps->listening) {
		st |= PSOCK_ST_LISTEN;
		pub |= ev & POLLIN;
	}
	if (sendable)
		st |= PSOCK_ST_SENDABLE | PSOCK_ST_WAS_CONN;
	else if ((ev & POLLOUT) || ps->shut_wr_pending)
		pub |= POLLOUT;    /* writes fail at once */
	if (ps->connecting) {
		if (!sendable && !(ev & (POLLHUP | POLLERR)) && !atomic_load(&sh->so_error))
			st |= PSOCK_ST_CONNECTING;
		else
			ps->connecting = 0;
	}
	if (ps->eof) {
		st |= PSOCK_ST_EOF;
		pub |= POLLIN;
	}
	if (ev & POLLHUP)
		st |= PSOCK_ST_CLOSED;
	st |= atomic_load(&sh->state) & PSOCK_ST_WAS_CONN;
	atomic_store(&sh->ev, pub);
	atomic_store(&sh->state, st);
	atomic_fetch_add(&sh->gen, 1);
	psock_cpu_note(&sh->eng_cpu, psock_cpu_now());

	/* then look at the waiters (seq_cst: the other half of their Dekker pattern) */
	err = atomic_load(&sh->so_error) != 0 || (pub & POLLHUP);
	in_ready = psock_ring_used(&sh->rx) || (pub & POLLIN) || err ||
		   (ps->push_armed && (int32_t)(atomic_load(&sh->push_head) - atomic_load(&sh->push_tail)) > 0);
	out_ready = (sendable && psock_tx_writable(sh)) || (pub & POLLOUT) || err;
	if ((atomic_load(&sh->wait_in) && in_ready) || (atomic_load(&sh->wait_out) && out_ready))
		send_token(ps);
}

static int send_reply(int fd, const struct ipc_hdr *req, int status, const void *data,
		      size_t len, const int *fds, int nfds);

/* The next connection of lis's accept queue made a socket of (pid, uid), its
 * names in *nm: 0, -EAGAIN (none waits) or the failure (the connection closed,
 * as one never accepted). */
static int accept_one(struct ps_sock *lis, pid_t pid, uid_t uid, bool nonblock,
		      struct psock_names *nm, struct ps_sock **ps, int *appfd)
{
	struct psock_srv *srv = lis->srv;
	struct tcp_sock *child;
	int err;

	if ((err = tcp_accept(lis->tcp, &child)))
		return err;
	if ((err = ps_new(srv, child, lis->domain, pid, uid, nonblock, ps, appfd))) {
		tcp_close(child, srv->eng->now);
		return err == -ENOMEM ? -ENOBUFS : err;
	}
	memset(nm, 0, sizeof(*nm));
	tcp_getsockname(child, &nm->laddr, &nm->lport);
	nm->peer_err = tcp_getpeername(child, &nm->raddr, &nm->rport);
	nm->info.shm_size = (uint32_t)shm_total();
	nm->info.domain = (*ps)->domain;
	ps_pump(*ps);   /* data or a FIN may be queued already */
	return 0;
}

/* A listener whose connections may be taken ahead of accept() (a batch, a
 * push: psock.h PSOCK_ACCEPT_MAX): non-blocking, and only one process has
 * asked about it. The flag is the file's, which the placeholder pfd we
 * received shares with the program's fd. */
static bool takes_ahead(const struct ps_sock *lis, int pfd)
{
	return lis->npids <= 1 && (fcntl(pfd, F_GETFL) & O_NONBLOCK);
}

/* The connections completed on an armed listener go to the process that armed
 * it at once, PSOCK_PUSHED over its control connection (psock.h
 * PSOCK_ACCEPT_PUSH), at most PSOCK_PUSH_MAX not taken yet; the others stay in
 * the accept queue for a PSOCK_ACCEPT. */
static void ps_push(struct ps_sock *lis)
{
	struct psock_srv *srv = lis->srv;
	struct psock_shm *sh = lis->shm;

	while (lis->push_armed && lis->tcp && (tcp_sock_events(lis->tcp) & POLLIN)) {
		struct psock_pushed m = { .id = lis->push_id, .flags = lis->push_nb ? SOCK_NONBLOCK : 0 };
		struct ipc_hdr h = { .type = PSOCK_PUSHED };
		struct ps_client *c = lis->push_cl < srv->ncl ? &srv->cl[lis->push_cl] : NULL;
		uint32_t head = atomic_load(&sh->push_head), tail = atomic_load(&sh->push_tail);
		struct ps_sock *ps;
		int appfd, fds[2];
		bool kept;

		if ((int32_t)(head - tail) < 0)
			/* a connection counted before a re-arming was taken after
			 * it: the counts meet again */
			atomic_store(&sh->push_head, head = tail);
		if (head - tail >= PSOCK_PUSH_MAX)
			return;
		if (!c || c->fd < 0 || c->gen != lis->push_clgen) {
			/* the process exited or exec'd: what was on its way went
			 * with its control connection */
			lis->push_armed = 0;
			atomic_store(&sh->push_head, atomic_load(&sh->push_tail));
			return;
		}
		if (accept_one(lis, c->pid, c->uid, lis->push_nb, &m.nm, &ps, &appfd))
			return;
		fds[0] = appfd;
		fds[1] = memfd_of(ps, &kept);
		if (fds[1] < 0 || send_reply(c->fd, &h, 0, &m, sizeof(m), fds, 2) < 0) {
			/* closed as a connection never accepted (the placeholder's
			 * EOF): the process's control connection is full or gone */
			lis->push_armed = 0;
			close(appfd);
			if (fds[1] >= 0 && !kept)
				close(fds[1]);
			return;
		}
		close(appfd);
		if (!kept)
			close(fds[1]);
		/* after the message is there: the library that sees it counted
		 * finds it (psock.h) */
		atomic_store(&sh->push_head, head + 1);
	}
}

/* Everything that may have changed for ps: errors, both rings, readiness, wake-ups.
 * Re-entrant calls (TCP calls back from inside tcp_recv/tcp_send) are folded into
 * the running one. */
static void ps_pump(struct ps_sock *ps)
{
	uint64_t now = ps->srv->eng->now;

	if (ps->busy) {
		ps->again = 1;
		return;
	}
	ps->busy = 1;
	do {
		ps->again = 0;
		if (!ps->tcp)
			break;
		if (tcp_sock_events(ps->tcp) & POLLERR) {
			int e = 0;
			socklen_t l = sizeof(e);

			/* the error moves to shared memory: the next call there takes it */
			if (tcp_getsockopt(ps->tcp, SOL_SOCKET, SO_ERROR, &e, &l) == 0 && e)
				atomic_store(&ps->shm->so_error, e);
		}
		if (!ps->listening) {
			if (!ps->app_closed)
				pump_rx(ps, now);
			pump_tx(ps, now);
			if (ps->shut_wr_pending && !psock_ring_used(&ps->shm->tx)) {
				ps->shut_wr_pending = 0;
				tcp_shutdown(ps->tcp, SHUT_WR, now);
			}
		}
		if (ps->app_closed) {
			if (!psock_ring_used(&ps->shm->tx) || (tcp_sock_events(ps->tcp) & (POLLERR | POLLHUP))) {
				ps_tcp_close(ps);
				ps->busy = 0;
				ps_free(ps);
				return;
			}
			continue;
		}
		if (ps->push_armed)
			ps_push(ps);
		publish(ps);
	} while (ps->again);
	ps->busy = 0;
}

/* Doorbells read by one recvmmsg: several queue only when the application
 * rang more than once before the engine looked. */
#define DOORBELL_BATCH 8

static void ps_doorbell(struct ps_sock *ps)
{
	char buf[DOORBELL_BATCH];
	struct iovec iov[DOORBELL_BATCH];
	struct mmsghdr mm[DOORBELL_BATCH];

	for (int i = 0; i < DOORBELL_BATCH; i++) {
		iov[i] = (struct iovec){ &buf[i], 1 };
		mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	/* every doorbell in one system call: recvmmsg stops at the first EAGAIN
	 * after a message (a second recv() only heard EAGAIN, at every exchange) */
	for (;;) {
		int n = recvmmsg(ps->efd, mm, DOORBELL_BATCH, MSG_DONTWAIT, NULL), k;

		for (k = 0; k < n && mm[k].msg_len > 0; k++)
			;
		/* every copy of the placeholder is closed: EOF (a message of 0 bytes),
		 * or ECONNRESET when the application's end went with a token still
		 * unread in it (unix(7); reported before any queued doorbell) */
		if (k < n || (n < 0 && errno == ECONNRESET)) {
			ps_app_closed(ps);
			return;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < DOORBELL_BATCH)
			break;
	}
	if (atomic_load(&ps->shm->eng_rx_full))
		atomic_store(&ps->shm->eng_rx_full, 0);
	ps_pump(ps);
}

/* ---- requests ---- */

struct req {
	struct psock_srv *srv;
	struct ps_client *c;
	struct ipc_hdr h;
	const uint8_t *p;
	struct ps_sock *ps;       /* the placeholder's socket, or NULL */
	int pfd;                  /* the placeholder received with the request, or -1 */
	int rfds[2 * PSOCK_ACCEPT_MAX], nrfds;  /* fds to send with the reply */
	uint64_t rfds_kept;       /* bit i: rfds[i] is the socket's own (not closed after) */
	int linger_fd;            /* PSOCK_LINGER's second fd, -1 once taken */
	uint8_t *out;
	size_t outlen;
};

static int want_len(const struct req *r, size_t n) { return r->h.len == n ? 0 : -EINVAL; }

static int fill_info(struct ps_sock *ps, void *out)
{
	struct psock_info info = { .shm_size = (uint32_t)shm_total(), .domain = ps->domain };

	memcpy(out, &info, sizeof(info));
	return 0;
}

/* A new socket's reply carries [placeholder, memfd], after those of the
 * sockets before it in the same reply (PSOCK_ACCEPT's batch). On failure the
 * placeholder is closed, which is the socket's last close: by the reply when
 * it is the first (a failed reply carries no fds), else here. */
static int reply_fds(struct req *r, struct ps_sock *ps, int appfd)
{
	int i = r->nrfds;
	int fd;
	bool kept;

	fd = memfd_of(ps, &kept);
	if (fd < 0 && i) {
		close(appfd);
		return fd;
	}
	r->rfds[i] = appfd;
	r->rfds[i + 1] = fd;
	if (kept)
		r->rfds_kept |= 2ull << i;
	r->nrfds = i + 2;
	return fd < 0 ? fd : 0;
}

static int do_socket(struct req *r)
{
	struct psock_socket_req q;
	struct tcp_sock *tcp;
	struct ps_sock *ps;
	int err, appfd;

	if (want_len(r, sizeof(q)))
		return -EINVAL;
	memcpy(&q, r->p, sizeof(q));
	if ((q.domain != AF_INET && q.domain != AF_INET6) || (q.type & ~SOCK_NONBLOCK) != SOCK_STREAM ||
	    (q.protocol != 0 && q.protocol != IPPROTO_TCP))
		return -EPROTONOSUPPORT;
	tcp = tcp_sock_new(r->srv->eng);
	if (!tcp)
		return -ENOMEM;
	err = ps_new(r->srv, tcp, q.domain, r->c->pid, r->c->uid, q.type & SOCK_NONBLOCK, &ps, &appfd);
	if (err) {
		tcp_close(tcp, r->srv->eng->now);
		return err;
	}
	publish(ps);
	if ((err = reply_fds(r, ps, appfd)) < 0)
		return err;
	fill_info(ps, r->out);
	r->outlen = sizeof(struct psock_info);
	return 0;
}

/* PSOCK_ACCEPT_PUSH: arm lis for the asking process when a batch's conditions
 * hold (psock.h), or disarm it. The listener's file flag is looked at only when
 * the arming changes: an event loop asks again after every empty queue. */
static void push_arm(struct req *r, struct ps_sock *lis, uint32_t id, bool nb)
{
	uint32_t ci = (uint32_t)(r->c - r->srv->cl);

	if (lis->npids > 1 || !id) {   /* id 0: the holder forks */
		lis->push_armed = 0;
		return;
	}
	if (lis->push_armed && lis->push_cl == ci && lis->push_clgen == r->c->gen &&
	    lis->push_id == id) {
		lis->push_nb = nb;
		return;
	}
	if (!takes_ahead(lis, r->pfd)) {
		lis->push_armed = 0;
		return;
	}
	if (lis->push_cl != ci || lis->push_clgen != r->c->gen || lis->push_id != id)
		/* what was counted went over another control connection (gone:
		 * same pid, one process) or to a listener the library no longer
		 * knows (it closed those): none will be taken */
		atomic_store(&lis->shm->push_head, atomic_load(&lis->shm->push_tail));
	lis->push_armed = 1;
	lis->push_nb = nb;
	lis->push_cl = ci;
	lis->push_clgen = r->c->gen;
	lis->push_id = id;
}

/* Up to max connections of the accept queue in one reply (psock.h
 * PSOCK_ACCEPT): a server accepting a burst pays one round trip per batch
 * instead of one per connection. A failure after the first ends the batch
 * with what it has. */
static int do_accept(struct req *r)
{
	struct ps_sock *lis = r->ps, *ps;
	int32_t q[3] = { 0, 1, 0 };
	int err = 0, appfd, n = 0;

	if (r->h.len != 0 && r->h.len != sizeof(int32_t) && r->h.len != 2 * sizeof(int32_t) &&
	    r->h.len != sizeof(q))
		return -EINVAL;
	if (r->h.len)
		memcpy(q, r->p, r->h.len);
	if (!lis->listening)
		return -EINVAL;
	r->h.flags &= (uint16_t)~PSOCK_F_ARMED;
	if ((q[0] & PSOCK_ACCEPT_PUSH) && r->h.len == sizeof(q)) {
		push_arm(r, lis, (uint32_t)q[2], q[0] & SOCK_NONBLOCK);
		if (lis->push_armed)
			r->h.flags |= PSOCK_F_ARMED;
		if (!q[2] && !q[1])
			return -EAGAIN;   /* only the disarming: nothing taken */
	}
	if (q[1] < 1)
		q[1] = 1;
	if (q[1] > PSOCK_ACCEPT_MAX)
		q[1] = PSOCK_ACCEPT_MAX;
	while (n < q[1]) {
		struct psock_names nm;

		/* A batch only where connections may be taken ahead: looked at
		 * only when a second connection waits, so one at a time costs no
		 * system call. Prefork workers share the queue: a batch would
		 * wait for the worker that took it instead of going to an idle
		 * one (and be closed if it exited). */
		if (n == 1 && (!(tcp_sock_events(lis->tcp) & POLLIN) || !takes_ahead(lis, r->pfd)))
			break;
		if ((err = accept_one(lis, r->c->pid, r->c->uid, q[0] & SOCK_NONBLOCK, &nm, &ps, &appfd)))
			break;
		if ((err = reply_fds(r, ps, appfd)) < 0)
			break;
		memcpy(r->out + (size_t)n * sizeof(nm), &nm, sizeof(nm));
		n++;
	}
	publish(lis);
	r->outlen = (size_t)n * sizeof(struct psock_names);
	return n ? 0 : err;
}

static int do_request(struct req *r)
{
	struct ps_sock *ps = r->ps;
	uint64_t now = r->srv->eng->now;
	int32_t v;
	int err;
	bool kept;

	if (r->h.type == PSOCK_SOCKET)
		return do_socket(r);
	if (!ps || !ps->tcp)
		return -ENOTSOCK;
	nodelay_take(ps, now);
	switch (r->h.type) {
	case PSOCK_ATTACH:
		r->rfds[0] = memfd_of(ps, &kept);
		r->rfds_kept = kept ? 1u : 0;
		r->nrfds = 1;
		if (r->rfds[0] < 0)
			return r->rfds[0];
		fill_info(ps, r->out);
		r->outlen = sizeof(struct psock_info);
		return 0;
	case PSOCK_BIND: {
		struct psock_addr a;

		if (want_len(r, sizeof(a)))
			return -EINVAL;
		memcpy(&a, r->p, sizeof(a));
		return tcp_bind(ps->tcp, a.addr, a.port);
	}
	case PSOCK_LISTEN:
		if (want_len(r, sizeof(v)))
			return -EINVAL;
		memcpy(&v, r->p, sizeof(v));
		err = tcp_listen(ps->tcp, v);
		if (!err) {
			ps->listening = 1;
			ps_pump(ps);
		}
		return err;
	case PSOCK_ACCEPT:
		return do_accept(r);
	case PSOCK_CONNECT: {
		struct psock_addr a;

		if (want_len(r, sizeof(a)))
			return -EINVAL;
		memcpy(&a, r->p, sizeof(a));
		if (a.flags & PSOCK_CONNECT_WAITED)
			err = tcp_connect_waited(ps->tcp);
		else
			err = tcp_connect(ps->tcp, a.addr, a.port, now);
		if (err == -EINPROGRESS)
			ps->connecting = 1;
		if (err == -ECONNABORTED) {
			/* the failure not yet reported went to shared memory already
			 * (ps_pump): Linux's "sock_error(sk) ? : -ECONNABORTED" */
			int e = atomic_exchange(&ps->shm->so_error, 0);
			if (e)
				err = -e;
		}
		ps_pump(ps);
		return err;
	}
	case PSOCK_SHUTDOWN: {
		uint32_t pa, pp;
		uint16_t port;

		if (want_len(r, sizeof(v)))
			return -EINVAL;
		memcpy(&v, r->p, sizeof(v));
		if (v < SHUT_RD || v > SHUT_RDWR)
			return -EINVAL;
		(void)pp;
		if (v != SHUT_RD && psock_ring_used(&ps->shm->tx) &&
		    tcp_getpeername(ps->tcp, &pa, &port) == 0) {
			/* the FIN goes after the bytes still in the send ring */
			ps->shut_wr_pending = 1;
			err = v == SHUT_RDWR ? tcp_shutdown(ps->tcp, SHUT_RD, now) : 0;
		} else {
			err = tcp_shutdown(ps->tcp, v, now);
		}
		ps_pump(ps);
		return err;
	}
	case PSOCK_SETSOCKOPT: {
		struct psock_opt o;

		if (r->h.len < sizeof(o))
			return -EINVAL;
		memcpy(&o, r->p, sizeof(o));
		if (o.len != r->h.len - sizeof(o))
			return -EINVAL;
		err = tcp_setsockopt(ps->tcp, o.level, o.name, r->p + sizeof(o), o.len, now);
		ps_pump(ps);
		return err;
	}
	case PSOCK_GETSOCKOPT: {
		struct psock_opt o;
		socklen_t len;

		if (want_len(r, sizeof(o)))
			return -EINVAL;
		memcpy(&o, r->p, sizeof(o));
		len = o.len > IPC_PAYLOAD_MAX ? IPC_PAYLOAD_MAX : o.len;
		err = tcp_getsockopt(ps->tcp, o.level, o.name, r->out, &len);
		if (!err)
			r->outlen = len;
		return err;
	}
	case PSOCK_NAMES: {
		struct psock_names nm = { 0 };

		tcp_getsockname(ps->tcp, &nm.laddr, &nm.lport);
		nm.peer_err = tcp_getpeername(ps->tcp, &nm.raddr, &nm.rport);
		memcpy(r->out, &nm, sizeof(nm));
		r->outlen = sizeof(nm);
		return 0;
	}
	case PSOCK_LINGER:
		if (r->linger_fd < 0)
			return -EBADF;
		/* only the last close lingers: other living holders mean it is not */
		for (uint32_t i = 0; i < ps->npids; i++) {
			pid_t pid = ps->pids[i];

			if (pid != r->c->pid && !(kill(pid, 0) < 0 && errno == ESRCH) &&
			    owner_fd(pid, ps->ino) != -1)
				return -EBUSY;
		}
		if (ps->linger_fd >= 0)
			close(ps->linger_fd);
		ps->linger_fd = r->linger_fd;
		r->linger_fd = -1;
		return 0;
	case PSOCK_OUTQ: {
		/* SIOCOUTQ: bytes not yet acknowledged, ours included */
		uint32_t q = psock_ring_used(&ps->shm->tx) + ring_len(&ps->tcp->snd);

		memcpy(r->out, &q, sizeof(q));
		r->outlen = sizeof(q);
		return 0;
	}
	default:
		return -ENOSYS;
	}
}

static int send_reply(int fd, const struct ipc_hdr *req, int status, const void *data,
		      size_t len, const int *fds, int nfds)
{
	uint8_t msg[IPC_MSG_MAX];
	struct ipc_hdr h = { .type = req->type, .flags = (uint16_t)(req->flags & PSOCK_F_ARMED),
			     .seq = req->seq, .status = status, .len = (uint32_t)len };
	union { char buf[CMSG_SPACE(sizeof(int) * 2 * PSOCK_ACCEPT_MAX)]; struct cmsghdr align; } u;
	struct iovec iov;
	struct msghdr mh = { 0 };
	int n = ipc_emit(msg, sizeof(msg), &h, data);

	if (n < 0)
		return n;
	iov.iov_base = msg;
	iov.iov_len = (size_t)n;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds > 0) {
		struct cmsghdr *cm;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfds);
	}
	if (sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != n)
		return -EIO;
	return 0;
}

static void client_message(struct psock_srv *srv, uint32_t ci, const uint8_t *msg, size_t len,
			   int *fds, int nfds)
{
	struct ps_client *c = &srv->cl[ci];
	struct req r = { .srv = srv, .c = c, .out = srv->out, .rfds = { -1, -1 }, .pfd = -1,
			 .linger_fd = -1 };
	int status;
	struct stat st;

	if (ipc_parse(msg, len, &r.h, &r.p) < 0) {
		struct ipc_hdr bad = { 0 };
		if (len >= IPC_HDR_LEN)
			memcpy(&bad, msg, IPC_HDR_LEN);
		send_reply(c->fd, &bad, -EINVAL, NULL, 0, NULL, 0);
		goto out;
	}
	if (r.h.type != PSOCK_SOCKET) {
		/* the placeholder names the socket; holding it is the permission */
		if (r.h.type == PSOCK_LINGER && nfds == 2) {
			r.linger_fd = fds[1];
			fds[1] = -1;
			nfds = 1;
		}
		if (nfds != 1 || fstat(fds[0], &st) < 0 || !S_ISSOCK(st.st_mode))
			status = -EBADF;
		else if (!(r.ps = ps_find(srv, st.st_ino)))
			status = -ENOTSOCK;
		else {
			r.pfd = fds[0];
			/* a forked child or an exec'd program is seen here first */
			ps_owner_add(r.ps, c->pid);
			status = do_request(&r);
		}
	} else {
		status = do_request(&r);
	}
	log_debug("psock: %s from pid %d: %d", ipc_type_name(r.h.type), (int)c->pid, status);
	/* a failed request carries no fds (those made on the way are closed below);
	 * a posted one (psock.h PSOCK_F_NOREPLY) gets no reply */
	if (!(r.h.flags & PSOCK_F_NOREPLY) &&
	    send_reply(c->fd, &r.h, status, r.out, r.outlen, r.rfds, status < 0 ? 0 : r.nrfds) < 0)
		log_debug("psock: reply to pid %d lost", (int)c->pid);
	for (int i = 0; i < r.nrfds; i++)
		if (r.rfds[i] >= 0 && !(r.rfds_kept & (1ull << i)))
			close(r.rfds[i]);
	if (r.linger_fd >= 0)
		close(r.linger_fd);
out:
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
}

static void client_readable(struct psock_srv *srv, uint32_t ci)
{
	union { char buf[CMSG_SPACE(sizeof(int) * 8)]; struct cmsghdr align; } u[CL_BATCH];
	struct iovec iov[CL_BATCH];
	struct mmsghdr mm[CL_BATCH];

	for (;;) {
		int n;

		if (srv->cl[ci].fd < 0)
			return;
		for (int k = 0; k < CL_BATCH; k++) {
			iov[k] = (struct iovec){ srv->msg[k], sizeof(srv->msg[k]) };
			mm[k] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[k], .msg_iovlen = 1,
							       .msg_control = u[k].buf,
							       .msg_controllen = sizeof(u[k].buf) } };
		}
		/* the requests waiting in one system call: recvmmsg stops at the
		 * first EAGAIN after a message (a second recvmsg per wake-up only
		 * heard EAGAIN) */
		n = recvmmsg(srv->cl[ci].fd, mm, CL_BATCH, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			client_drop(srv, ci);
			return;
		}
		for (int k = 0; k < n; k++) {
			struct msghdr *mh = &mm[k].msg_hdr;
			int fds[8], nfds = 0;

			for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm))
				if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
					int c = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
					for (int i = 0; i < c && nfds < 8; i++)
						memcpy(&fds[nfds++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
				}
			/* a message of 0 bytes is the end of the connection */
			if (srv->cl[ci].fd < 0 || !mm[k].msg_len) {
				for (int i = 0; i < nfds; i++)
					close(fds[i]);
				client_drop(srv, ci);
				continue;
			}
			client_message(srv, ci, srv->msg[k], mm[k].msg_len, fds, nfds);
		}
		if (n < CL_BATCH)
			return;
	}
}

void psock_srv_event(struct psock_srv *srv, uint64_t key, bool ended)
{
	uint32_t idx = KEY_IDX(key), gen = KEY_GEN(key);

	if (key & KEY_CLIENT) {
		if (idx >= srv->ncl || srv->cl[idx].fd < 0 || (srv->cl[idx].gen & 0x7fffffffu) != gen)
			return;
		client_readable(srv, idx);
		if (ended && srv->cl[idx].fd >= 0 && (srv->cl[idx].gen & 0x7fffffffu) == gen)
			watch(srv, srv->cl[idx].fd, key);
		return;
	}
	if (idx >= srv->nsocks || !srv->socks[idx] || (srv->socks[idx]->gen & 0x7fffffffu) != gen)
		return;
	struct ps_sock *ps = srv->socks[idx];
	if (ps->efd < 0)
		return;
	ps_doorbell(ps);
	if (ended && idx < srv->nsocks && srv->socks[idx] == ps && ps->efd >= 0)
		watch(srv, ps->efd, key);
}

void psock_srv_close(struct psock_srv *srv)
{
	if (!srv)
		return;
	srv->closing = true;
	for (uint32_t i = 0; i < srv->ncl; i++)
		client_drop(srv, i);
	for (uint32_t i = 0; i < srv->nsocks; i++) {
		struct ps_sock *ps = srv->socks[i];

		if (!ps)
			continue;
		ps_tcp_close(ps);
		ps_free(ps);
	}
	for (unsigned k = 0; k < srv->npairs; k++) {
		close(srv->pairs[k].efd);
		close(srv->pairs[k].appfd);
	}
	for (unsigned k = 0; k < srv->nmems; k++) {
		close(srv->mems[k].memfd);
		munmap(srv->mems[k].shm, shm_total());
	}
	srv->npairs = srv->nmems = 0;
	for (unsigned k = 0; k < srv->nspare; k++) {
		if (srv->spare[k].memfd >= 0)
			close(srv->spare[k].memfd);
		munmap(srv->spare[k].shm, shm_total());
	}
	free(srv->socks);
	free(srv->free_idx);
	free(srv->cl);
	close(srv->lfd);
	free(srv);
}

/* ---- tapsock ss: owning processes ---- */

/* The fd under which pid holds the placeholder of inode ino: >= 0, -1 when it
 * holds none (it closed its copy), -2 when we cannot look (no /proc). */
static int owner_fd(pid_t pid, ino_t ino)
{
	char path[64], link[64], want[48];
	struct dirent *de;
	DIR *d;
	int fd = -1;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof(want), "socket:[%lu]", (unsigned long)ino);
	if (!(d = opendir(path)))
		return errno == ENOENT ? -1 : -2;
	while ((de = readdir(d))) {
		char p[320];
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		n = readlink(p, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (!strcmp(link, want)) {
			fd = atoi(de->d_name);
			break;
		}
	}
	closedir(d);
	return fd;
}

static void owner_comm(pid_t pid, char *out, size_t cap)
{
	char path[64];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	out[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, out, cap - 1);
	close(fd);
	if (n < 0)
		n = 0;
	out[n] = '\0';
	for (char *c = out; *c; c++)
		if (*c == '\n' || *c == '"' || *c < ' ')
			*c = *c == '\n' ? '\0' : '?';
}

struct ss_key {
	char l[32], r[32];
	struct ps_sock *ps;
	bool used;
};

/* What tapsock ss needs of one owning process, read once per call however many
 * sockets it holds: reading /proc/PID/fd again for every socket made ss quadratic
 * (10 000 sockets of one server took seconds). */
struct ss_fd {
	unsigned long ino;
	int fd;
};

enum { SS_PROC_GONE, SS_PROC_FDS, SS_PROC_NOLOOK };

struct ss_proc {
	pid_t pid;
	int state;             /* SS_PROC_*: exited, fds read, alive but /proc unreadable */
	char comm[32];
	struct ss_fd *fds;     /* its sockets, sorted by inode then fd */
	size_t nfds;
};

static int ss_pid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

static int ss_fd_cmp(const void *a, const void *b)
{
	const struct ss_fd *x = a, *y = b;

	if (x->ino != y->ino)
		return (x->ino > y->ino) - (x->ino < y->ino);
	return (x->fd > y->fd) - (x->fd < y->fd);
}

/* The process's name and the socket inodes it holds, from one pass over /proc/PID/fd. */
static void ss_proc_load(struct ss_proc *pr)
{
	char path[64], link[64];
	struct dirent *de;
	size_t cap = 0;
	DIR *d;

	pr->state = SS_PROC_GONE;
	if (kill(pr->pid, 0) < 0 && errno == ESRCH)
		return;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pr->pid);
	if (!(d = opendir(path))) {
		/* ENOENT: gone meanwhile; else we cannot look and show it without an fd */
		if (errno != ENOENT) {
			pr->state = SS_PROC_NOLOOK;
			owner_comm(pr->pid, pr->comm, sizeof(pr->comm));
		}
		return;
	}
	pr->state = SS_PROC_FDS;
	while ((de = readdir(d))) {
		unsigned long ino;
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (sscanf(link, "socket:[%lu]", &ino) != 1)
			continue;
		if (pr->nfds == cap) {
			size_t nc = cap ? 2 * cap : 64;
			struct ss_fd *nf = realloc(pr->fds, nc * sizeof(*nf));

			if (!nf)
				break;
			pr->fds = nf;
			cap = nc;
		}
		pr->fds[pr->nfds++] = (struct ss_fd){ ino, atoi(de->d_name) };
	}
	closedir(d);
	if (pr->nfds)
		qsort(pr->fds, pr->nfds, sizeof(*pr->fds), ss_fd_cmp);
	owner_comm(pr->pid, pr->comm, sizeof(pr->comm));
}

/* The lowest fd under which pr holds inode ino, -1 for none. */
static int ss_proc_fd(const struct ss_proc *pr, unsigned long ino)
{
	size_t lo = 0, hi = pr->nfds;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pr->fds[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < pr->nfds && pr->fds[lo].ino == ino ? pr->fds[lo].fd : -1;
}

static struct ss_proc *ss_proc_find(struct ss_proc *procs, size_t n, pid_t pid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (procs[mid].pid == pid)
			return &procs[mid];
		if (procs[mid].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Every owner of the sockets in keys, each looked at once, sorted by pid. */
static struct ss_proc *ss_procs_load(const struct ss_key *keys, size_t nk, size_t *nout)
{
	struct ss_proc *procs;
	pid_t *pids;
	size_t n = 0, np = 0;

	*nout = 0;
	for (size_t k = 0; k < nk; k++)
		n += keys[k].ps->npids;
	if (!n || !(pids = malloc(n * sizeof(*pids))))
		return NULL;
	n = 0;
	for (size_t k = 0; k < nk; k++)
		for (uint32_t i = 0; i < keys[k].ps->npids; i++)
			pids[n++] = keys[k].ps->pids[i];
	qsort(pids, n, sizeof(*pids), ss_pid_cmp);
	if (!(procs = calloc(n, sizeof(*procs)))) {
		free(pids);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (np && procs[np - 1].pid == pids[i])
			continue;
		procs[np].pid = pids[i];
		ss_proc_load(&procs[np++]);
	}
	free(pids);
	*nout = np;
	return procs;
}

static void ss_procs_free(struct ss_proc *procs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(procs[i].fds);
	free(procs);
}

/* `users:((...))` of ps into buf; drops owners that are gone. Length written. */
static size_t owners_text(struct ps_sock *ps, const struct ss_proc *procs, size_t nprocs,
			  char *buf, size_t cap)
{
	size_t off = 0;
	uint32_t k = 0;

	if (cap < 2)
		return 0;
	buf[0] = '\0';
	for (uint32_t i = 0; i < ps->npids; i++) {
		pid_t pid = ps->pids[i];
		const struct ss_proc *pr = ss_proc_find((struct ss_proc *)procs, nprocs, pid);
		char one[96];
		int fd = -1, n;

		if (!pr || pr->state == SS_PROC_GONE)
			continue;          /* exited */
		if (pr->state == SS_PROC_FDS && (fd = ss_proc_fd(pr, (unsigned long)ps->ino)) < 0)
			continue;          /* no longer holds it */
		ps->pids[k++] = pid;
		if (fd >= 0)
			n = snprintf(one, sizeof(one), "%s(\"%s\",pid=%d,fd=%d)", off ? "," : "users:(",
				     pr->comm, (int)pid, fd);
		else
			n = snprintf(one, sizeof(one), "%s(\"%s\",pid=%d)", off ? "," : "users:(",
				     pr->comm, (int)pid);
		if (n > 0 && off + (size_t)n + 2 < cap) {
			memcpy(buf + off, one, (size_t)n);
			off += (size_t)n;
		}
	}
	ps->npids = k;
	if (off) {
		buf[off++] = ')';
		buf[off] = '\0';
	}
	return off;
}

static void ss_addr(char *out, size_t cap, uint32_t addr, uint16_t port)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &addr, a, sizeof(a));
	snprintf(out, cap, "%s:%u", a, port);
}

/* The n-th whitespace-separated field of line [p, e) into out. */
static bool ss_field(const char *p, const char *e, int n, char *out, size_t cap)
{
	for (int i = 0; p < e; i++) {
		const char *f;

		while (p < e && *p == ' ')
			p++;
		f = p;
		while (p < e && *p != ' ')
			p++;
		if (i == n) {
			size_t l = (size_t)(p - f);
			if (!l || l >= cap)
				return false;
			memcpy(out, f, l);
			out[l] = '\0';
			return true;
		}
	}
	return false;
}

static int ss_key_cmp(const void *a, const void *b)
{
	const struct ss_key *x = a, *y = b;
	int c = strcmp(x->l, y->l);

	return c ? c : strcmp(x->r, y->r);
}

/* The first key of the sorted keys for addresses l and r not matched yet. */
static struct ss_key *ss_key_find(struct ss_key *keys, size_t nk, const char *l, const char *r)
{
	struct ss_key want;
	size_t lo = 0, hi = nk;

	snprintf(want.l, sizeof(want.l), "%s", l);
	snprintf(want.r, sizeof(want.r), "%s", r);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ss_key_cmp(&keys[mid], &want) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < nk && !ss_key_cmp(&keys[lo], &want); lo++)
		if (!keys[lo].used)
			return &keys[lo];
	return NULL;
}

size_t psock_srv_format_ss(void *arg, char *buf, size_t cap)
{
	struct psock_srv *srv = arg;
	struct ss_key *keys;
	struct ss_proc *procs;
	char *tcp;
	size_t n, off = 0, nk = 0, nprocs;
	const char *p, *end;

	if (!cap)
		return 0;
	tcp = malloc(cap);
	keys = calloc(srv->count + 1, sizeof(*keys));
	if (!tcp || !keys) {
		free(tcp);
		free(keys);
		return tcp_format_ss(srv->eng, buf, cap);
	}
	n = tcp_format_ss(srv->eng, tcp, cap);
	for (uint32_t i = 0; i < srv->nsocks && nk < srv->count; i++) {
		struct ps_sock *ps = srv->socks[i];
		uint32_t a;
		uint16_t port;

		if (!ps || !ps->tcp || ps->app_closed)
			continue;
		tcp_getsockname(ps->tcp, &a, &port);
		ss_addr(keys[nk].l, sizeof(keys[nk].l), a, port);
		if (ps->listening)
			snprintf(keys[nk].r, sizeof(keys[nk].r), "0.0.0.0:*");
		else if (tcp_getpeername(ps->tcp, &a, &port) == 0)
			ss_addr(keys[nk].r, sizeof(keys[nk].r), a, port);
		else
			continue;
		keys[nk++].ps = ps;
	}
	/* lines and sockets are matched by their addresses, owners read once each:
	 * linear in sockets, not quadratic */
	qsort(keys, nk, sizeof(*keys), ss_key_cmp);
	procs = ss_procs_load(keys, nk, &nprocs);
	for (p = tcp, end = tcp + n; p < end && off + 1 < cap;) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		char l[32], r[32], users[1024];
		size_t len, ul = 0;

		e = e ? e : end;
		len = (size_t)(e - p);
		if (p != tcp && ss_field(p, e, 3, l, sizeof(l)) && ss_field(p, e, 4, r, sizeof(r))) {
			struct ss_key *key = ss_key_find(keys, nk, l, r);

			if (key) {
				key->used = true;
				ul = owners_text(key->ps, procs, nprocs, users, sizeof(users));
			}
		}
		if (off + len + ul + 3 >= cap)
			break;
		memcpy(buf + off, p, len);
		off += len;
		if (ul) {
			buf[off++] = ' ';
			memcpy(buf + off, users, ul);
			off += ul;
		}
		if (e < end)
			buf[off++] = '\n';
		p = e + 1;
	}
	buf[off] = '\0';
	ss_procs_free(procs, nprocs);
	free(tcp);
	free(keys);
	return off;
}
