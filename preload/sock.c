/* sock.c - the interposed socket calls: tapsock TCP sockets with Linux's semantics and errno, everything else to libc (socket(7), tcp(7), ip(7), ipv6(7), signal(7) for restarts). */
#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "preload/pl_int.h"

#define EXPORT __attribute__((visibility("default")))

static int set_errno(int e) { errno = e; return -1; }
static ssize_t ret_ss(ssize_t r) { if (r < 0) { errno = (int)-r; return -1; } return r; }

/* ---- start-up ---- */

static void env_init(void);

static void accq_atfork_prepare(void);
static void accq_atfork_parent(void);
/* forks of this process: a listener made before one is shared (pl.h push_forks) */
static atomic_uint accq_forks;
static void accq_atfork_child(void);

static void atfork_prepare(void) { accq_atfork_prepare(); }
static void atfork_parent(void) { accq_atfork_parent(); }
static void atfork_child(void) { pl__ipc_atfork_child(); accq_atfork_child(); }

__attribute__((constructor)) static void pl_init(void)
{
	DIR *d;
	struct dirent *de;

	pl_real_init();
	env_init();
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	/* after exec our memory is new but inherited fds are not: find placeholders */
	d = opendir("/proc/self/fd");
	if (!d)
		return;
	int dfd = dirfd(d);
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] == '.' || fd == dfd || fd < 0)
			continue;
		pl__adopt(fd);
	}
	closedir(d);
}

static bool is_tcp(int domain, int type, int protocol)
{
	return (domain == AF_INET || domain == AF_INET6) &&
	       (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_STREAM &&
	       (protocol == 0 || protocol == IPPROTO_TCP);
}

struct pl_sock *pl__attach(int fd, int memfd, const struct psock_info *info)
{
	void *shm = mmap(NULL, info->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	struct pl_sock *s;

	if (shm == MAP_FAILED)
		return NULL;
	if (((struct psock_shm *)shm)->magic != PSOCK_SHM_MAGIC ||
	    ((struct psock_shm *)shm)->version != PSOCK_VERSION ||
	    !(s = pl__sock_new(shm, info->shm_size))) {
		munmap(shm, info->shm_size);
		return NULL;
	}
	if (pl__fd_set(fd, s) < 0) {
		pl_sock_put(s);
		return NULL;
	}
	pl_sock_put(s);   /* the table holds it now */
	return s;
}

/* A placeholder is a unix seqpacket socket whose peer is the engine (it created the
 * pair); only then do we send it to the engine, which knows it or not. We never
 * write to an fd we are not sure of. */
void pl__adopt(int fd)
{
	struct stat st;
	struct ucred cred;
	socklen_t l;
	int v;
	pid_t ep;
	struct pl_reply rep;

	if (pl_fd_is_sock(fd) || fd == pl__ctl_fd())
		return;
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return;
	l = sizeof(v);
	if (real_getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &l) < 0 || v != AF_UNIX)
		return;
	l = sizeof(v);
	if (real_getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &l) < 0 || v != SOCK_SEQPACKET)
		return;
	l = sizeof(cred);
	if (real_getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &l) < 0 || cred.pid <= 0)
		return;
	ep = pl__engine_pid();
	if (!ep || cred.pid != ep)
		return;
	if (pl__call(PSOCK_ATTACH, fd, NULL, 0, &rep) < 0)
		return;
	if (rep.status == 0 && rep.nfds == 1 && rep.len >= sizeof(struct psock_info)) {
		struct psock_info info;
		memcpy(&info, rep.data, sizeof(info));
		pl__attach(fd, rep.fds[0], &info);
	}
	pl__rep_close_fds(&rep);
}

/* ---- addresses ---- */

/* sockaddr -> be32 address and port. AF_INET6: IPv4-mapped, :: (any) and ::1
 * (127.0.0.1); other IPv6 addresses are not reachable (the engine is IPv4). */
static int addr_in(struct pl_sock *s, const struct sockaddr *sa, socklen_t len, uint32_t *addr,
		   uint16_t *port, bool for_connect)
{
	if (!sa)
		return -EFAULT;
	if (s->domain == AF_INET) {
		struct sockaddr_in in;

		if (len < (socklen_t)sizeof(in))
			return -EINVAL;
		memcpy(&in, sa, sizeof(in));
		if (in.sin_family != AF_INET && !(in.sin_family == AF_UNSPEC && !for_connect &&
						   in.sin_addr.s_addr == INADDR_ANY))
			return -EAFNOSUPPORT;
		*addr = in.sin_addr.s_addr;
		*port = ntohs(in.sin_port);
		return 0;
	}
	struct sockaddr_in6 in6;

	if (len < (socklen_t)sizeof(in6) || sa->sa_family != AF_INET6)
		return len < (socklen_t)sizeof(in6) ? -EINVAL : -EAFNOSUPPORT;
	memcpy(&in6, sa, sizeof(in6));
	*port = ntohs(in6.sin6_port);
	if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
		if (atomic_load(&s->shm->v6only))
			return for_connect ? -ENETUNREACH : -EADDRNOTAVAIL;
		memcpy(addr, &in6.sin6_addr.s6_addr[12], 4);
		return 0;
	}
	if (IN6_IS_ADDR_UNSPECIFIED(&in6.sin6_addr)) {
		*addr = 0;
		return 0;
	}
	if (IN6_IS_ADDR_LOOPBACK(&in6.sin6_addr)) {
		*addr = htonl(INADDR_LOOPBACK);
		return 0;
	}
	return for_connect ? -ENETUNREACH : -EADDRNOTAVAIL;
}

static void addr_out(struct pl_sock *s, uint32_t addr, uint16_t port, struct sockaddr *sa,
		     socklen_t *len)
{
	if (!sa || !len)
		return;
	if (s->domain == AF_INET) {
		struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(port),
					  .sin_addr.s_addr = addr };
		memcpy(sa, &in, *len < sizeof(in) ? *len : sizeof(in));
		*len = sizeof(in);
		return;
	}
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	if (addr) {
		in6.sin6_addr.s6_addr[10] = 0xff;
		in6.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&in6.sin6_addr.s6_addr[12], &addr, 4);
	}
	memcpy(sa, &in6, *len < sizeof(in6) ? *len : sizeof(in6));
	*len = sizeof(in6);
}

/* ---- socket, bind, listen, accept, connect ---- */

static void no_engine_msg(int err)
{
	static atomic_int told;

	if (atomic_exchange(&told, 1))
		return;
	if (err == -ENETDOWN)
		pl_log("no engine running in this network namespace (start one with tapsock up)");
	else
		pl_log("the engine does not answer: %s", strerror(-err));
}

EXPORT int socket(int domain, int type, int protocol)
{
	struct psock_socket_req q = { domain, type & ~SOCK_CLOEXEC, protocol };
	struct pl_reply rep;
	struct psock_info info;
	int r, fd;

	pl_real_init();
	if (!is_tcp(domain, type, protocol))
		return real_socket(domain, type, protocol);
	r = pl__call(PSOCK_SOCKET, -1, &q, sizeof(q), &rep);
	if (r < 0) {
		no_engine_msg(r);
		return set_errno(ENETDOWN);
	}
	if (rep.status < 0) {
		pl__rep_close_fds(&rep);
		return set_errno(-rep.status);
	}
	if (rep.nfds != 2 || rep.len < sizeof(info)) {
		pl__rep_close_fds(&rep);
		return set_errno(EPROTO);
	}
	memcpy(&info, rep.data, sizeof(info));
	fd = rep.fds[0];
	/* received with MSG_CMSG_CLOEXEC; the placeholder got the lowest free number,
	 * as socket() gives */
	if (!(type & SOCK_CLOEXEC))
		real_fcntl(fd, F_SETFD, 0);
	/* O_NONBLOCK: the engine made the placeholder so (psock.h) */
	struct pl_sock *s = pl__attach(fd, rep.fds[1], &info);
	if (!s) {
		pl__rep_close_fds(&rep);
		return set_errno(ENOMEM);
	}
	s->push_forks = atomic_load(&accq_forks) + 1;   /* ours alone until a fork */
	real_close(rep.fds[1]);
	return fd;
}

EXPORT int socketpair(int domain, int type, int protocol, int sv[2])
{
	pl_real_init();
	return real_socketpair(domain, type, protocol, sv);
}

/* A simple request about fd: status as return value. */
static int simple(uint16_t type, int fd, const void *p, size_t len, struct pl_reply *rep)
{
	int r = pl__call(type, fd, p, len, rep);

	if (r < 0)
		return r == -ENETDOWN ? -ENETDOWN : -ECONNRESET;
	pl__rep_close_fds(rep);
	return rep->status;
}

/* bind() of an IPV6_V6ONLY socket to :: or ::1: nothing the engine (IPv4 only)
 * could ever deliver to it. Linux lets it share the port with an IPv4 socket. */
static bool v6only_local(struct pl_sock *s, const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_in6 in6;

	if (s->domain != AF_INET6 || !atomic_load(&s->shm->v6only) || !sa ||
	    len < (socklen_t)sizeof(in6) || sa->sa_family != AF_INET6)
		return false;
	memcpy(&in6, sa, sizeof(in6));
	return IN6_IS_ADDR_UNSPECIFIED(&in6.sin6_addr) || IN6_IS_ADDR_LOOPBACK(&in6.sin6_addr);
}

EXPORT int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct pl_sock *s = pl_fd_get(fd);
	struct psock_addr a = { 0 };
	struct pl_reply rep;
	int r;

	if (!s)
		return (pl_real_init(), real_bind(fd, sa, len));
	if (v6only_local(s, sa, len)) {
		/* IPv6 only, on an engine without IPv6: bound here, never served */
		struct sockaddr_in6 in6;
		memcpy(&in6, sa, sizeof(in6));
		r = atomic_load(&s->shm->v6_port) ? -EINVAL : 0;
		if (!r)
			atomic_store(&s->shm->v6_port, (uint32_t)ntohs(in6.sin6_port) + 1u);
		pl_sock_put(s);
		return r < 0 ? set_errno(-r) : 0;
	}
	r = addr_in(s, sa, len, &a.addr, &a.port, false);
	if (!r)
		r = simple(PSOCK_BIND, fd, &a, sizeof(a), &rep);
	pl_sock_put(s);
	return r < 0 ? set_errno(-r) : 0;
}

EXPORT int listen(int fd, int backlog)
{
	struct pl_sock *s = pl_fd_get(fd);
	int32_t b = backlog;
	struct pl_reply rep;
	int r;

	if (!s)
		return (pl_real_init(), real_listen(fd, backlog));
	if (atomic_load(&s->shm->v6_port)) {
		atomic_store(&s->shm->v6_listen, 1);
		pl_sock_put(s);
		return 0;
	}
	r = simple(PSOCK_LISTEN, fd, &b, sizeof(b), &rep);
	pl_sock_put(s);
	return r < 0 ? set_errno(-r) : 0;
}

static bool nonblocking(int fd)
{
	int fl = real_fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_NONBLOCK);
}

/* ---- connections accepted ahead (psock.h PSOCK_ACCEPT_MAX) ----
 *
 * A PSOCK_ACCEPT on a non-blocking listener takes up to PSOCK_ACCEPT_MAX queued
 * connections; the first is returned, the others wait here for the following
 * accept() calls, which then need no round trip to the engine. They are fds of
 * this process (placeholder and memory, close-on-exec as received, the memory
 * not mapped until handed out), so that closing them is all it takes to give
 * them back: at the listener's last close (Linux closes connections never
 * accepted), in a forked child (only the process that took them hands them out)
 * and when the engine is gone. One mutex for all listeners: held for a few
 * stores, and a fork takes it so that no child inherits a half-moved entry. */
struct pl_accq_ent {
	int fd, memfd;              /* placeholder, memory */
	bool nonblock;              /* the placeholder came O_NONBLOCK */
	bool pushed;                /* PSOCK_PUSHED: push_tail counts it once taken */
	struct psock_names nm;      /* names and psock_info */
};

/* a batch, and the connections pushed meanwhile */
#define ACCQ_SIZE (PSOCK_ACCEPT_MAX + PSOCK_PUSH_MAX)

struct pl_accq {
	struct pl_sock *s;
	unsigned head, n;           /* a ring of n entries from head */
	uint32_t push_id;           /* PSOCK_ACCEPT_PUSH's id of this listener */
	int push_fd;                /* the fd it was armed through (a fork disarms it) */
	unsigned npushed;           /* entries pushed to us, not taken yet */
	struct pl_accq_ent e[ACCQ_SIZE];
	struct pl_accq *next;       /* accq_all */
};

static pthread_mutex_t accq_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pl_accq *accq_all;   /* every listener's, for fork */
static uint32_t accq_ids;          /* the last push_id given */

static void accq_ent_close(const struct pl_accq_ent *e)
{
	real_close(e->fd);
	real_close(e->memfd);
}

/* With accq_mu held: close q's entries, unlink and free it. */
static void accq_free_locked(struct pl_accq *q)
{
	for (struct pl_accq **pp = &accq_all; *pp; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	for (unsigned i = 0; i < q->n; i++)
		accq_ent_close(&q->e[(q->head + i) % ACCQ_SIZE]);
	atomic_store(&q->s->accq_n, 0);
	atomic_store(&q->s->push_armed, false);
	q->s->accq = NULL;
	free(q);
}

void pl__accq_drop(struct pl_sock *s)
{
	bool armed = atomic_load(&s->push_armed);

	pthread_mutex_lock(&accq_mu);
	if (s->accq)
		accq_free_locked(s->accq);
	pthread_mutex_unlock(&accq_mu);
	/* a connection on its way to the listener closed here is closed with it,
	 * as Linux closes those never accepted: read now, it finds no listener */
	if (armed)
		pl__ctl_drain(0);
}

/* A fork shares the listeners: the engine must push to no one. Each armed one is
 * disarmed with a round trip (PSOCK_ACCEPT_PUSH, id 0), whose reply comes after
 * every connection pushed before it: those are kept here, for the parent, and
 * none is on its way when the child starts (it could take the token of one,
 * psock.h). A listener made before the fork is never armed again. */
static void accq_atfork_prepare(void)
{
	atomic_fetch_add(&accq_forks, 1);
	for (;;) {
		struct pl_sock *s = NULL;
		struct pl_reply rep;
		int fd = -1;

		pthread_mutex_lock(&accq_mu);
		for (struct pl_accq *q = accq_all; q && !s; q = q->next)
			if (atomic_load(&q->s->push_armed)) {
				s = q->s;
				fd = q->push_fd;
			}
		if (!s)
			return;   /* held across the fork */
		pthread_mutex_unlock(&accq_mu);
		int32_t q[3] = { PSOCK_ACCEPT_PUSH, 0, 0 };
		if (pl__call(PSOCK_ACCEPT, fd, q, sizeof(q), &rep) == 0)
			pl__rep_close_fds(&rep);
		atomic_store(&s->push_armed, false);
	}
}
static void accq_atfork_parent(void) { pthread_mutex_unlock(&accq_mu); }

static void accq_atfork_child(void)
{
	/* the parent hands these out: our copies would keep its connections open
	 * after it closed them */
	while (accq_all)
		accq_free_locked(accq_all);
	pthread_mutex_init(&accq_mu, NULL);
}

static bool accq_take(struct pl_sock *s, struct pl_accq_ent *out)
{
	struct pl_accq *q;
	bool got = false;

	if (!atomic_load(&s->accq_n))
		return false;
	pthread_mutex_lock(&accq_mu);
	if ((q = s->accq) && q->n) {
		*out = q->e[q->head];
		q->head = (q->head + 1) % ACCQ_SIZE;
		q->n--;
		atomic_store(&s->accq_n, q->n);
		if (out->pushed) {
			/* taken (psock.h push_tail): the engine may push the next */
			q->npushed--;
			atomic_fetch_add(&s->shm->push_tail, 1);
		}
		got = true;
	}
	pthread_mutex_unlock(&accq_mu);
	return got;
}

/* With accq_mu held: s's queue, made if needed (NULL: no memory). */
static struct pl_accq *accq_get_locked(struct pl_sock *s)
{
	struct pl_accq *q;

	if (!(q = s->accq) && (q = calloc(1, sizeof(*q)))) {
		q->s = s;
		q->push_id = ++accq_ids ? accq_ids : ++accq_ids;
		q->next = accq_all;
		accq_all = q;
		s->accq = q;
	}
	return q;
}

/* With accq_mu held: e at the end of q; false when it is full. */
static bool accq_append_locked(struct pl_accq *q, const struct pl_accq_ent *e)
{
	if (q->n >= ACCQ_SIZE)
		return false;
	q->e[(q->head + q->n++) % ACCQ_SIZE] = *e;
	if (e->pushed)
		q->npushed++;
	atomic_store(&q->s->accq_n, q->n);
	return true;
}

static void accq_put(struct pl_sock *s, const struct pl_accq_ent *e)
{
	struct pl_accq *q;

	pthread_mutex_lock(&accq_mu);
	if ((q = accq_get_locked(s)) && accq_append_locked(q, e))
		e = NULL;
	pthread_mutex_unlock(&accq_mu);
	if (e)
		accq_ent_close(e);   /* no memory: as if the listener closed it */
}

/* Connections pushed to s that are in our control connection: counted by the
 * engine (push_head), neither taken (push_tail) nor kept here. */
static int accq_push_waits(struct pl_sock *s)
{
	uint32_t held;
	int32_t n;

	if (!atomic_load(&s->push_armed))
		return 0;
	pthread_mutex_lock(&accq_mu);
	held = s->accq ? s->accq->npushed : 0;
	pthread_mutex_unlock(&accq_mu);
	n = (int32_t)(atomic_load(&s->shm->push_head) - atomic_load(&s->shm->push_tail) - held);
	return n > 0 ? n : 0;
}

/* The id that names s in PSOCK_ACCEPT_PUSH (0: no memory for its queue). */
static uint32_t accq_push_id(struct pl_sock *s, int fd)
{
	struct pl_accq *q;
	uint32_t id;

	if (s->push_forks != atomic_load(&accq_forks) + 1)
		return 0;   /* made elsewhere, or shared by a fork (pl.h) */
	pthread_mutex_lock(&accq_mu);
	q = accq_get_locked(s);
	if (q)
		q->push_fd = fd;
	id = q ? q->push_id : 0;
	pthread_mutex_unlock(&accq_mu);
	return id;
}

void pl__accq_pushed(const uint8_t *p, size_t len, const int *fds, int nfds)
{
	struct psock_pushed m;
	struct pl_accq *q = NULL;
	bool kept = false;

	if (len == sizeof(m) && nfds == 2) {
		memcpy(&m, p, sizeof(m));
		pthread_mutex_lock(&accq_mu);
		for (q = accq_all; q && q->push_id != m.id; q = q->next)
			;
		/* room for a batch and PSOCK_PUSH_MAX: at most that many are
		 * pushed and not taken */
		struct pl_accq_ent e = { fds[0], fds[1], m.flags & SOCK_NONBLOCK, true, m.nm };

		if (q && accq_append_locked(q, &e)) {
			kept = true;
		} else if (q) {
			atomic_fetch_add(&q->s->shm->push_tail, 1);   /* closed: as taken */
		}
		pthread_mutex_unlock(&accq_mu);
	}
	if (!kept)
		for (int i = 0; i < nfds; i++)
			real_close(fds[i]);   /* its listener is closed here */
}

/* A PSOCK_ACCEPT reply: the first connection in *first, the others kept.
 * 0 or -EPROTO (the reply's fds closed). */
static int accq_reply(struct pl_sock *s, struct pl_reply *rep, bool nonblock,
		      struct pl_accq_ent *first)
{
	size_t n = rep->len / sizeof(struct psock_names);

	if (!n || n > PSOCK_ACCEPT_MAX || rep->len != n * sizeof(struct psock_names) ||
	    rep->nfds != 2 * (int)n) {
		pl__rep_close_fds(rep);
		return -EPROTO;
	}
	for (size_t i = 0; i < n; i++) {
		struct pl_accq_ent e = { rep->fds[2 * i], rep->fds[2 * i + 1], nonblock, false, { 0 } };

		memcpy(&e.nm, rep->data + i * sizeof(e.nm), sizeof(e.nm));
		if (!i)
			*first = e;
		else
			accq_put(s, &e);
	}
	rep->nfds = 0;
	return 0;
}

static int do_accept(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	struct pl_sock *s = pl_fd_get(fd), *c;
	struct pl_reply rep;
	struct pl_accq_ent e;
	int r, nfd;

	if (!s)
		return (pl_real_init(), flags ? real_accept4(fd, sa, len, flags) : real_accept(fd, sa, len));
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC) || atomic_load(&s->dead_told)) {
		/* a dead listener that told its error is no listener any more: EINVAL,
		 * as accept() on a socket that is not listening, so a server's accept
		 * loop ends instead of spinning */
		pl_sock_put(s);
		return set_errno(EINVAL);
	}
	for (;;) {
		if (atomic_load(&s->shm->v6_listen)) {
			/* an IPv6-only listener: nothing ever arrives */
			rep.nfds = 0;
			r = nonblocking(fd) ? -EAGAIN : pl_sock_wait(s, fd, POLLIN, PL_WAIT_RCVTIMEO);
			if (r >= 0)
				r = -ECONNABORTED;   /* woken: only the engine's death does */
			break;
		}
		rep.nfds = 0;
		if (!atomic_load(&s->dead) && (r = accq_push_waits(s)) > 0)
			pl__ctl_drain(r);   /* pushed to us: no round trip */
		if (atomic_load(&s->dead)) {
			if (atomic_load(&s->accq_n))
				pl__accq_drop(s);   /* the engine's death ends them too */
		} else if (accq_take(s, &e)) {
			r = 0;
			break;
		}
		if (!atomic_load(&s->dead) && (atomic_load(&s->shm->state) & PSOCK_ST_LISTEN) &&
		    !(atomic_load(&s->shm->ev) & POLLIN)) {
			/* The engine publishes the accept queue (POLLIN of a listener)
			 * in the same turn as it changes: empty says EAGAIN without a
			 * round trip (an event loop's accept loop ends with one every
			 * time). A dead engine goes the long way, for its error. */
			r = 0;
			rep.status = -EAGAIN;
		} else {
			/* the new placeholders come O_NONBLOCK if asked; the engine
			 * gives a batch only to a non-blocking listener (psock.h
			 * PSOCK_ACCEPT_MAX), and pushes the next connections to us
			 * under the same conditions (PSOCK_ACCEPT_PUSH) */
			uint32_t id = accq_push_id(s, fd);
			int32_t q[3] = { (flags & SOCK_NONBLOCK) | (id ? PSOCK_ACCEPT_PUSH : 0),
					 PSOCK_ACCEPT_MAX, (int32_t)id };

			r = pl__call(PSOCK_ACCEPT, fd, q, id ? sizeof(q) : 2 * sizeof(q[0]), &rep);
			if (id && r >= 0)
				atomic_store(&s->push_armed, !!(rep.flags & PSOCK_F_ARMED));
		}
		if (r == -ENETDOWN || r == -ECONNRESET) {
			/* the engine is gone (DESIGN decision 8): this accept fails with
			 * ECONNABORTED, later ones with EINVAL; poll/epoll stop
			 * reporting the listener (pl.h, dead_told) */
			atomic_store(&s->dead, true);
			atomic_store(&s->dead_told, true);
			pl_log("the engine is gone: accept() on fd %d fails (ECONNABORTED, then EINVAL)", fd);
			r = -ECONNABORTED;
			break;
		}
		if (r < 0)
			break;
		r = rep.status;
		if (!r) {
			r = accq_reply(s, &rep, flags & SOCK_NONBLOCK, &e);
			break;
		}
		if (r != -EAGAIN)
			break;
		if (nonblocking(fd))
			break;
		r = pl_sock_wait(s, fd, POLLIN, PL_WAIT_RCVTIMEO);
		if (r < 0)
			break;
	}
	if (r < 0) {
		pl__rep_close_fds(&rep);
		pl_sock_put(s);
		return set_errno(-r);
	}
	nfd = e.fd;
	/* received with MSG_CMSG_CLOEXEC; O_NONBLOCK as asked (a kept connection
	 * was made for an earlier call's flags) */
	if (!(flags & SOCK_CLOEXEC))
		real_fcntl(nfd, F_SETFD, 0);
	if (e.nonblock != !!(flags & SOCK_NONBLOCK))
		real_fcntl(nfd, F_SETFL, flags & SOCK_NONBLOCK ? O_NONBLOCK : 0);
	c = pl__attach(nfd, e.memfd, &e.nm.info);
	real_close(e.memfd);
	if (!c) {
		real_close(nfd);
		pl_sock_put(s);
		return set_errno(ENOMEM);
	}
	if (sa && len)
		addr_out(s, e.nm.raddr, e.nm.rport, sa, len);
	pl_sock_put(s);
	return nfd;
}

EXPORT int accept(int fd, struct sockaddr *sa, socklen_t *len) { return do_accept(fd, sa, len, 0); }
EXPORT int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags) { return do_accept(fd, sa, len, flags); }

/* Wait for a connection attempt to end; 0 connected or -errno. */
static int connect_wait(struct pl_sock *s, int fd)
{
	for (;;) {
		unsigned st = atomic_load(&s->shm->state);
		int e = atomic_exchange(&s->shm->so_error, 0);

		if (e)
			return -e;
		if (atomic_load(&s->dead))
			return -ECONNRESET;
		if (st & (PSOCK_ST_SENDABLE | PSOCK_ST_WAS_CONN))
			return 0;
		if (!(st & PSOCK_ST_CONNECTING))
			return -ECONNREFUSED;
		/* SO_SNDTIMEO bounds the wait (Linux sock_sndtimeo() in
		 * __inet_stream_connect and sk_stream_wait_connect): -EAGAIN */
		uint64_t to = atomic_load(&s->shm->sndtimeo_ns);
		int r = pl_sock_wait(s, fd, POLLOUT, to ? (int64_t)to : -1);
		if (r == -EINTR || r == -EAGAIN)
			return r;
	}
}

EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct pl_sock *s = pl_fd_get(fd);
	struct psock_addr a = { 0 };
	struct pl_reply rep;
	int r;

	if (!s)
		return (pl_real_init(), real_connect(fd, sa, len));
	r = addr_in(s, sa, len, &a.addr, &a.port, true);
	if (!r)
		r = simple(PSOCK_CONNECT, fd, &a, sizeof(a), &rep);
	if ((r == -EINPROGRESS || r == -EALREADY) && !nonblocking(fd)) {
		r = connect_wait(s, fd);
		if (r == -EAGAIN)
			r = -EINPROGRESS;   /* SO_SNDTIMEO ran out: still connecting (Linux) */
		else if (r != -EINTR && !atomic_load(&s->dead)) {
			/* the rest of the same call in the engine, as Linux's
			 * __inet_stream_connect() after its wait: the socket is
			 * SS_CONNECTED, or a failed attempt is disconnected (the
			 * error is the one the wait returned) */
			a.flags = PSOCK_CONNECT_WAITED;
			if (simple(PSOCK_CONNECT, fd, &a, sizeof(a), &rep) == 0 && r < 0) {
				/* the handshake completed and an error (a reset) came
				 * right after: Linux's sleeper woke at ESTABLISHED and
				 * connect() succeeds; the error is the next call's */
				int none = 0;

				atomic_compare_exchange_strong(&s->shm->so_error, &none, -r);
				r = 0;
			}
		}
	}
	pl_sock_put(s);
	return r < 0 ? set_errno(-r) : 0;
}

EXPORT int shutdown(int fd, int how)
{
	struct pl_sock *s = pl_fd_get(fd);
	int32_t h = how;
	struct pl_reply rep;
	int r;

	if (!s)
		return (pl_real_init(), real_shutdown(fd, how));
	r = simple(PSOCK_SHUTDOWN, fd, &h, sizeof(h), &rep);
	pl_sock_put(s);
	return r < 0 ? set_errno(-r) : 0;
}

/* ---- data ---- */

static size_t iov_total(const struct iovec *iov, int n)
{
	size_t t = 0;

	for (int i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

/* Copy up to n ring bytes from ring offset `from` into the iovecs at byte `skip`. */
static void ring_to_iov(const uint8_t *ring, uint32_t size, uint32_t from, uint32_t n,
			const struct iovec *iov, int iovcnt, size_t skip)
{
	for (int i = 0; i < iovcnt && n; i++) {
		size_t l = iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		uint8_t *dst = (uint8_t *)iov[i].iov_base + skip;
		size_t room = l - skip;
		skip = 0;
		while (room && n) {
			uint32_t off = from & (size - 1), c = size - off;
			if (c > n)
				c = n;
			if (c > room)
				c = (uint32_t)room;
			memcpy(dst, ring + off, c);
			dst += c;
			room -= c;
			n -= c;
			from += c;
		}
	}
}

static void iov_to_ring(uint8_t *ring, uint32_t size, uint32_t to, uint32_t n,
			const struct iovec *iov, int iovcnt, size_t skip)
{
	for (int i = 0; i < iovcnt && n; i++) {
		size_t l = iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		const uint8_t *src = (const uint8_t *)iov[i].iov_base + skip;
		size_t left = l - skip;
		skip = 0;
		while (left && n) {
			uint32_t off = to & (size - 1), c = size - off;
			if (c > n)
				c = n;
			if (c > left)
				c = (uint32_t)left;
			memcpy(ring + off, src, c);
			src += c;
			left -= c;
			n -= c;
			to += c;
		}
	}
}

static ssize_t sock_recv(struct pl_sock *s, int fd, const struct iovec *iov, int iovcnt, int flags)
{
	struct psock_shm *sh = s->shm;
	size_t want = iov_total(iov, iovcnt), got = 0;

	if (flags & MSG_OOB)
		return -EINVAL;   /* no urgent data here (as Linux without SO_OOBINLINE data) */
	if (atomic_load(&sh->state) & PSOCK_ST_LISTEN)
		return -ENOTCONN;
	if (!want)
		return 0;
	for (;;) {
		pl__sock_lock(s);
		uint32_t tail = atomic_load_explicit(&sh->rx.tail, memory_order_relaxed);
		uint32_t used = atomic_load_explicit(&sh->rx.head, memory_order_acquire) - tail;
		if (used) {
			uint32_t n = want - got < used ? (uint32_t)(want - got) : used;
			ring_to_iov(s->rx, sh->rx_size, tail, n, iov, iovcnt, got);
			if (!(flags & MSG_PEEK))
				atomic_store_explicit(&sh->rx.tail, tail + n, memory_order_release);
			pl__sock_unlock(s);
			got += n;
			if (!(flags & MSG_PEEK) && atomic_exchange(&sh->eng_rx_full, 0))
				pl__doorbell(fd);
			if (got == want || !(flags & MSG_WAITALL) || (flags & MSG_PEEK))
				return (ssize_t)got;
			continue;
		}
		pl__sock_unlock(s);
		if (got && !(flags & MSG_WAITALL))
			return (ssize_t)got;
		unsigned st = atomic_load(&sh->state);
		if (!got) {
			int e = atomic_exchange(&sh->so_error, 0);
			if (e)
				return -e;
		}
		if (st & PSOCK_ST_EOF)
			return (ssize_t)got;
		if (atomic_load(&s->dead))
			return got ? (ssize_t)got : -ECONNRESET;
		if (!(st & (PSOCK_ST_SENDABLE | PSOCK_ST_WAS_CONN | PSOCK_ST_CONNECTING)))
			return got ? (ssize_t)got : -ENOTCONN;
		if ((flags & MSG_DONTWAIT) || nonblocking(fd))
			return got ? (ssize_t)got : -EAGAIN;
		int r = pl_sock_wait(s, fd, POLLIN, PL_WAIT_RCVTIMEO);
		if (r < 0)
			return got ? (ssize_t)got : r;
	}
}

static ssize_t sock_send(struct pl_sock *s, int fd, const struct iovec *iov, int iovcnt, int flags)
{
	struct psock_shm *sh = s->shm;
	size_t want = iov_total(iov, iovcnt), sent = 0;
	ssize_t err;

	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	for (;;) {
		int e = atomic_exchange(&sh->so_error, 0);
		unsigned st = atomic_load(&sh->state);

		if (e) {
			err = -e;
			goto fail;
		}
		if (atomic_load(&s->dead)) {
			err = -EPIPE;
			goto fail;
		}
		if (!(st & PSOCK_ST_SENDABLE)) {
			if (st & PSOCK_ST_CONNECTING) {
				if ((flags & MSG_DONTWAIT) || nonblocking(fd))
					return -EAGAIN;
				int r = connect_wait(s, fd);
				if (r < 0) {
					err = r;
					goto fail;
				}
				continue;
			}
			err = -EPIPE;   /* Linux sk_stream_wait_connect(): not connected is EPIPE */
			goto fail;
		}
		if (!want)
			return 0;
		pl__sock_lock(s);
		uint32_t head = atomic_load_explicit(&sh->tx.head, memory_order_relaxed);
		/* the ring's room within the send buffer the engine allows (psock.h) */
		uint32_t room = psock_tx_room(sh), n = want - sent < room ? (uint32_t)(want - sent) : room;
		if (n) {
			iov_to_ring(s->tx, sh->tx_size, head, n, iov, iovcnt, sent);
			/* MSG_MORE reaches TCP (psock.h): stored before the head */
			if ((flags & MSG_MORE) && sent + n == want) {
				atomic_store(&sh->tx_more_head, head + n);
				atomic_store(&sh->tx_more, 1);
			} else {
				atomic_store(&sh->tx_more, 0);
			}
			atomic_store_explicit(&sh->tx.head, head + n, memory_order_release);
		}
		pl__sock_unlock(s);
		if (n) {
			sent += n;
			pl__note_cpu(sh);
			if (atomic_exchange(&sh->eng_tx_idle, 0))
				pl__doorbell(fd);
		}
		if (sent == want)
			return (ssize_t)sent;
		if (n)
			continue;
		if ((flags & MSG_DONTWAIT) || nonblocking(fd))
			return sent ? (ssize_t)sent : -EAGAIN;
		uint64_t to = atomic_load(&sh->sndtimeo_ns);
		int r = pl_sock_wait(s, fd, POLLOUT, to ? (int64_t)to : -1);
		if (r < 0)
			return sent ? (ssize_t)sent : r;
	}
fail:
	if (sent)
		return (ssize_t)sent;
	if (err == -EPIPE && !(flags & MSG_NOSIGNAL))
		raise(SIGPIPE);   /* Linux sk_stream_error() */
	return err;
}

#define SOCK_OR_REAL(fd, realcall) \
	struct pl_sock *s = pl_fd_get(fd); \
	if (!s) { pl_real_init(); return realcall; }

EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	SOCK_OR_REAL(fd, real_recv(fd, buf, len, flags));
	struct iovec v = { buf, len };
	ssize_t r = sock_recv(s, fd, &v, 1, flags);
	pl_sock_put(s);
	return ret_ss(r);
}

EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *sa, socklen_t *alen)
{
	SOCK_OR_REAL(fd, real_recvfrom(fd, buf, len, flags, sa, alen));
	struct iovec v = { buf, len };
	ssize_t r = sock_recv(s, fd, &v, 1, flags);
	pl_sock_put(s);
	if (r >= 0 && sa && alen)
		*alen = 0;   /* TCP does not fill the source address */
	return ret_ss(r);
}

EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	SOCK_OR_REAL(fd, real_read(fd, buf, len));
	struct iovec v = { buf, len };
	ssize_t r = sock_recv(s, fd, &v, 1, 0);
	pl_sock_put(s);
	return ret_ss(r);
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	SOCK_OR_REAL(fd, real_readv(fd, iov, iovcnt));
	ssize_t r = iovcnt < 0 || iovcnt > IOV_MAX ? -EINVAL : sock_recv(s, fd, iov, iovcnt, 0);
	pl_sock_put(s);
	return ret_ss(r);
}

/* Received fds might be tapsock sockets passed by another process: adopt them. */
static void adopt_cmsg_fds(struct msghdr *m)
{
	if (!m->msg_control || m->msg_controllen < sizeof(struct cmsghdr))
		return;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (int i = 0; i < k; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
				pl__adopt(fd);
			}
		}
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	struct pl_sock *s = pl_fd_get(fd);

	if (!s) {
		pl_real_init();
		ssize_t r = real_recvmsg(fd, m, flags);
		if (r >= 0)
			adopt_cmsg_fds(m);
		return r;
	}
	ssize_t r = (int)m->msg_iovlen < 0 || m->msg_iovlen > IOV_MAX ? -EMSGSIZE :
		    sock_recv(s, fd, m->msg_iov, (int)m->msg_iovlen, flags);
	pl_sock_put(s);
	if (r >= 0) {
		m->msg_namelen = 0;
		m->msg_controllen = 0;
		m->msg_flags = 0;
	}
	return ret_ss(r);
}

EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned n, int flags, struct timespec *tmo)
{
	if (!pl_fd_is_sock(fd)) {
		pl_real_init();
		int r = real_recvmmsg(fd, v, n, flags, tmo);
		for (int i = 0; i < r; i++)
			adopt_cmsg_fds(&v[i].msg_hdr);
		return r;
	}
	unsigned i;
	for (i = 0; i < n; i++) {
		ssize_t r = recvmsg(fd, &v[i].msg_hdr, i ? (flags | MSG_DONTWAIT) & ~MSG_WAITFORONE :
						      flags & ~MSG_WAITFORONE);
		if (r < 0)
			return i ? (int)i : -1;
		v[i].msg_len = (unsigned)r;
		if (r == 0)
			return (int)i + 1;
	}
	return (int)i;
}

EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	SOCK_OR_REAL(fd, real_send(fd, buf, len, flags));
	struct iovec v = { (void *)buf, len };
	ssize_t r = sock_send(s, fd, &v, 1, flags);
	pl_sock_put(s);
	return ret_ss(r);
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *sa, socklen_t alen)
{
	SOCK_OR_REAL(fd, real_sendto(fd, buf, len, flags, sa, alen));
	struct iovec v = { (void *)buf, len };
	ssize_t r = sock_send(s, fd, &v, 1, flags);   /* connected TCP: the address is ignored */
	pl_sock_put(s);
	return ret_ss(r);
}

EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	SOCK_OR_REAL(fd, real_write(fd, buf, len));
	struct iovec v = { (void *)buf, len };
	ssize_t r = sock_send(s, fd, &v, 1, 0);
	pl_sock_put(s);
	return ret_ss(r);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	SOCK_OR_REAL(fd, real_writev(fd, iov, iovcnt));
	ssize_t r = iovcnt < 0 || iovcnt > IOV_MAX ? -EINVAL : sock_send(s, fd, iov, iovcnt, 0);
	pl_sock_put(s);
	return ret_ss(r);
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	SOCK_OR_REAL(fd, real_sendmsg(fd, m, flags));
	ssize_t r = (int)m->msg_iovlen < 0 || m->msg_iovlen > IOV_MAX ? -EMSGSIZE :
		    sock_send(s, fd, m->msg_iov, (int)m->msg_iovlen, flags);
	pl_sock_put(s);
	return ret_ss(r);
}

EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned n, int flags)
{
	if (!pl_fd_is_sock(fd))
		return (pl_real_init(), real_sendmmsg(fd, v, n, flags));
	unsigned i;
	for (i = 0; i < n; i++) {
		ssize_t r = sendmsg(fd, &v[i].msg_hdr, flags);
		if (r < 0)
			return i ? (int)i : -1;
		v[i].msg_len = (unsigned)r;
	}
	return (int)i;
}

EXPORT ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	if (pl_fd_is_sock(fd))
		return set_errno(ESPIPE);
	return (pl_real_init(), real_pread(fd, buf, len, off));
}
EXPORT ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	if (pl_fd_is_sock(fd))
		return set_errno(ESPIPE);
	return (pl_real_init(), real_pwrite(fd, buf, len, off));
}
EXPORT ssize_t pread64(int fd, void *buf, size_t len, off_t off)
{
	if (pl_fd_is_sock(fd))
		return set_errno(ESPIPE);
	return (pl_real_init(), real_pread64(fd, buf, len, off));
}
EXPORT ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	if (pl_fd_is_sock(fd))
		return set_errno(ESPIPE);
	return (pl_real_init(), real_pwrite64(fd, buf, len, off));
}

static ssize_t do_sendfile(int out, int in, off_t *off, size_t count, bool is64)
{
	if (!pl_fd_is_sock(out) && !pl_fd_is_sock(in)) {
		pl_real_init();
		return is64 ? real_sendfile64(out, in, off, count) : real_sendfile(out, in, off, count);
	}
	/* through a buffer: read the file (pread when an offset is given), send it */
	char buf[65536];
	size_t done = 0;
	off_t pos = off ? *off : 0;

	while (done < count) {
		size_t want = count - done < sizeof(buf) ? count - done : sizeof(buf);
		ssize_t n = off ? real_pread(in, buf, want, pos) : read(in, buf, want);
		if (n <= 0) {
			if (n < 0 && !done)
				return -1;
			break;
		}
		ssize_t w = send(out, buf, (size_t)n, done ? MSG_DONTWAIT : 0);
		if (w < 0) {
			if (!off && done == 0)
				lseek(in, -n, SEEK_CUR);
			if (!done)
				return -1;
			if (!off)
				lseek(in, -n, SEEK_CUR);
			break;
		}
		if (!off && w < n)
			lseek(in, w - n, SEEK_CUR);
		done += (size_t)w;
		pos += w;
		if (w < n)
			break;
	}
	if (off)
		*off = pos;
	return (ssize_t)done;
}

EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t count) { return do_sendfile(out, in, off, count, false); }
EXPORT ssize_t sendfile64(int out, int in, off_t *off, size_t count) { return do_sendfile(out, in, off, count, true); }

/* ---- names and options ---- */

static int names(int fd, struct psock_names *nm)
{
	struct pl_reply rep;
	int r = simple(PSOCK_NAMES, fd, NULL, 0, &rep);

	if (r < 0)
		return r;
	if (rep.len < sizeof(*nm))
		return -EPROTO;
	memcpy(nm, rep.data, sizeof(*nm));
	return 0;
}

EXPORT int getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
	SOCK_OR_REAL(fd, real_getsockname(fd, sa, len));
	struct psock_names nm;
	uint32_t v6p = atomic_load(&s->shm->v6_port);
	int r = !sa || !len ? -EFAULT : v6p ? 0 : names(fd, &nm);
	if (!r && v6p) {
		struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)(v6p - 1)) };
		memcpy(sa, &in6, *len < sizeof(in6) ? *len : sizeof(in6));
		*len = sizeof(in6);
	} else if (!r)
		addr_out(s, nm.laddr, nm.lport, sa, len);
	pl_sock_put(s);
	return r < 0 ? set_errno(-r) : 0;
}

EXPORT int getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
	SOCK_OR_REAL(fd, real_getpeername(fd, sa, len));
	struct psock_names nm;
	int r = !sa || !len ? -EFAULT : names(fd, &nm);
	if (!r && nm.peer_err)
		r = nm.peer_err;
	if (!r)
		addr_out(s, nm.raddr, nm.rport, sa, len);
	pl_sock_put(s);
	return r < 0 ? set_errno(-r) : 0;
}

/* Unsupported options fail loudly: ENOPROTOOPT, and one line on stderr per option. */
static void unsupported(int level, int name, const char *op)
{
	static atomic_ullong told[4];
	unsigned k = ((unsigned)level * 31u + (unsigned)name) % 256u;

	if (atomic_fetch_or(&told[k / 64], 1ull << (k % 64)) & (1ull << (k % 64)))
		return;
	pl_log("%s(level %d, option %d): not supported by tapsock (ENOPROTOOPT)", op, level, name);
}

static int opt_req(uint16_t type, int fd, int level, int name, const void *val, socklen_t len,
		   struct pl_reply *rep)
{
	uint8_t buf[sizeof(struct psock_opt) + 512];
	struct psock_opt o = { level, name, (uint32_t)len };

	if (type == PSOCK_SETSOCKOPT) {
		if (len > 512)
			return -EINVAL;
		memcpy(buf, &o, sizeof(o));
		if (len)
			memcpy(buf + sizeof(o), val, len);
		return simple(type, fd, buf, sizeof(o) + len, rep);
	}
	return simple(type, fd, &o, sizeof(o), rep);
}

static uint64_t tv_ns(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000000ull + (uint64_t)tv->tv_usec * 1000ull;
}

EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	SOCK_OR_REAL(fd, real_setsockopt(fd, level, name, val, len));
	struct pl_reply rep;
	int r = 0;

	if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO)) {
		struct timeval tv;
		if (!val || len < (socklen_t)sizeof(tv)) {
			r = -EINVAL;
		} else {
			memcpy(&tv, val, sizeof(tv));
			if (tv.tv_usec < 0 || tv.tv_usec >= 1000000)
				r = -EDOM;
			else if (name == SO_RCVTIMEO) {
				/* mirrored on the placeholder: the kernel's own receive
				 * timeout ends our waits, with its restart rules */
				atomic_store(&s->shm->rcvtimeo_ns, tv.tv_sec < 0 ? 0 : tv_ns(&tv));
				if (real_setsockopt(fd, level, name, val, len) < 0)
					r = -errno;
			} else {
				atomic_store(&s->shm->sndtimeo_ns, tv.tv_sec < 0 ? 0 : tv_ns(&tv));
			}
		}
	} else if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY) {
		int v;
		if (s->domain != AF_INET6)
			r = -ENOPROTOOPT;
		else if (!val || len < (socklen_t)sizeof(int))
			r = -EINVAL;
		else {
			memcpy(&v, val, sizeof(v));
			atomic_store(&s->shm->v6only, v != 0);
		}
	} else if (level == IPPROTO_TCP && name == TCP_NODELAY && val &&
		   len >= (socklen_t)sizeof(int) && !atomic_load(&s->dead) &&
		   !atomic_load(&s->shm->tx.head) &&
		   !(atomic_load(&s->shm->state) & PSOCK_ST_LISTEN)) {
		/* nothing written yet, so Nagle holds nothing to push: the value
		 * waits in the shared page for the engine's next look (psock.h
		 * nodelay), no message at all */
		int v;

		memcpy(&v, val, sizeof(v));
		atomic_store(&s->shm->nodelay, v ? 2u : 1u);
	} else if (val && len >= (socklen_t)sizeof(int) && len <= 64 &&
		   ((level == IPPROTO_TCP && name == TCP_NODELAY) ||
		    (level == SOL_SOCKET && (name == SO_KEEPALIVE || name == SO_REUSEADDR ||
					     name == SO_REUSEPORT)))) {
		/* boolean options that cannot fail (Linux: any int for a TCP socket):
		 * posted, no round trip (psock.h PSOCK_F_NOREPLY); a server that sets
		 * TCP_NODELAY on every accepted connection waited for the engine */
		uint8_t buf[sizeof(struct psock_opt) + 64];
		struct psock_opt o = { level, name, (uint32_t)len };

		memcpy(buf, &o, sizeof(o));
		memcpy(buf + sizeof(o), val, len);
		r = pl__post(PSOCK_SETSOCKOPT, fd, buf, sizeof(o) + len);
		if (r < 0)
			r = r == -ENETDOWN ? -ENETDOWN : -ECONNRESET;
	} else {
		r = opt_req(PSOCK_SETSOCKOPT, fd, level, name, val, len, &rep);
		if (r == -ENOPROTOOPT)
			unsupported(level, name, "setsockopt");
		if (r == 0 && level == SOL_SOCKET && name == SO_LINGER) {
			struct linger lg;
			memcpy(&lg, val, sizeof(lg));
			/* a positive linger makes our close() wait (linger_close) */
			atomic_store(&s->shm->linger_s, lg.l_onoff && lg.l_linger > 0 ? lg.l_linger : 0);
		}
	}
	pl_sock_put(s);
	return r < 0 ? set_errno(-r) : 0;
}

static int put_int(void *val, socklen_t *len, int v)
{
	if (!val || !len)
		return -EFAULT;
	if (*len < (socklen_t)sizeof(int))
		return -EINVAL;
	memcpy(val, &v, sizeof(v));
	*len = sizeof(int);
	return 0;
}

EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	SOCK_OR_REAL(fd, real_getsockopt(fd, level, name, val, len));
	struct pl_reply rep;
	int r;

	if (level == SOL_SOCKET && name == SO_ERROR) {
		int e = atomic_exchange(&s->shm->so_error, 0);
		if (!e) {
			r = opt_req(PSOCK_GETSOCKOPT, fd, level, name, NULL, sizeof(int), &rep);
			if (r == 0 && rep.len == sizeof(int))
				memcpy(&e, rep.data, sizeof(int));
		}
		r = put_int(val, len, e);
	} else if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO)) {
		uint64_t ns = atomic_load(name == SO_RCVTIMEO ? &s->shm->rcvtimeo_ns : &s->shm->sndtimeo_ns);
		struct timeval tv = { (time_t)(ns / 1000000000ull), (suseconds_t)(ns % 1000000000ull / 1000) };
		if (!val || !len)
			r = -EFAULT;
		else {
			socklen_t l = *len < (socklen_t)sizeof(tv) ? *len : (socklen_t)sizeof(tv);
			memcpy(val, &tv, l);
			*len = l;
			r = 0;
		}
	} else if (level == SOL_SOCKET && name == SO_DOMAIN) {
		r = put_int(val, len, s->domain);
	} else if (level == SOL_SOCKET && name == SO_PROTOCOL) {
		r = put_int(val, len, IPPROTO_TCP);
	} else if (level == SOL_SOCKET && name == SO_TYPE) {
		r = put_int(val, len, SOCK_STREAM);
	} else if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY) {
		r = s->domain != AF_INET6 ? -ENOPROTOOPT : put_int(val, len, atomic_load(&s->shm->v6only));
	} else if (!val || !len) {
		r = -EFAULT;
	} else {
		r = opt_req(PSOCK_GETSOCKOPT, fd, level, name, NULL, *len, &rep);
		if (r == -ENOPROTOOPT)
			unsupported(level, name, "getsockopt");
		if (r == 0) {
			socklen_t l = rep.len < *len ? (socklen_t)rep.len : *len;
			memcpy(val, rep.data, l);
			*len = l;
		}
	}
	pl_sock_put(s);
	return r < 0 ? set_errno(-r) : 0;
}

/* ---- fds: close, dup, fcntl, ioctl ---- */

/* close() of the last copy with a positive SO_LINGER (socket(7)): "close() will
 * not return until all queued messages for the socket have been successfully
 * sent or the linger timeout has been reached". The engine closes `notify` when
 * tcp_close_linger() is done (psock.h PSOCK_LINGER); we sleep until then, at
 * most the linger time and a second (the engine's own timer ends it first). A
 * signal ends the wait (Linux: the sleep is interruptible; close returns 0). */
static int linger_close(struct pl_sock *s, int fd, int secs)
{
	struct pl_reply rep;
	int sv[2], r, rc;

	if (real_socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		pl_sock_put(s);
		return -1;
	}
	r = pl__call2(PSOCK_LINGER, fd, sv[1], NULL, 0, &rep);
	real_close(sv[1]);
	pl__rep_close_fds(&rep);
	pl_sock_put(s);
	if (pl_epoll_forget)
		pl_epoll_forget(fd);
	rc = real_close(fd);   /* the engine's EOF: it closes, lingering */
	if (r == 0 && rep.status == 0) {
		struct pollfd p = { .fd = sv[0], .events = POLLIN };
		real_poll(&p, 1, secs > INT_MAX / 1000 - 1000 ? -1 : secs * 1000 + 1000);
	}
	real_close(sv[0]);
	return rc;
}

EXPORT int close(int fd)
{
	struct pl_sock *s = pl__fd_take(fd);

	pl_real_init();
	if (s) {
		int secs = atomic_load(&s->shm->linger_s);
		unsigned st = atomic_load(&s->shm->state);

		/* our last fd for it (a racing thread inside a call holds a reference
		 * too: then no lingering) */
		if (secs > 0 && atomic_load(&s->refs) == 1 && !atomic_load(&s->dead) &&
		    !(st & PSOCK_ST_LISTEN) && (st & (PSOCK_ST_SENDABLE | PSOCK_ST_WAS_CONN | PSOCK_ST_CONNECTING)) &&
		    fd != pl__ctl_fd())
			return linger_close(s, fd, secs);
		/* The memory is unmapped before the placeholder closes (psock.h
		 * "Reuse"): epoll's items let go first; a thread still inside a call
		 * on it (or another fd for it) keeps a copy open until its last
		 * reference goes. */
		if (pl_epoll_forget)
			pl_epoll_forget(fd);
		if (atomic_load(&s->refs) > 1)
			pl__sock_keep(s, fd);
		pl_sock_put(s);   /* the last copy's close is the engine's EOF */
		return real_close(fd);
	}
	pl__ctl_forget(fd);
	if (pl_epoll_forget)
		pl_epoll_forget(fd);
	return real_close(fd);
}

static void dup_track(int oldfd, int newfd)
{
	struct pl_sock *s;

	if (newfd < 0 || newfd == oldfd)
		return;
	s = pl__fd_take(newfd);   /* newfd was silently closed */
	if (s)
		pl_sock_put(s);
	pl__ctl_forget(newfd);
	if (pl_epoll_forget)
		pl_epoll_forget(newfd);
	s = pl_fd_get(oldfd);
	if (s) {
		pl__fd_set(newfd, s);
		pl_sock_put(s);
	}
}

EXPORT int dup(int fd)
{
	pl_real_init();
	int r = real_dup(fd);
	dup_track(fd, r);
	return r;
}

/* dup2/dup3 onto one of our sockets closes it: as close(), its memory goes
 * before the placeholder (psock.h "Reuse") */
static void dup_over(int fd, int fd2)
{
	struct pl_sock *s;

	if (fd2 != fd && (s = pl_fd_get(fd2))) {
		pl__sock_keep(s, fd2);
		pl_sock_put(s);
	}
}

EXPORT int dup2(int fd, int fd2)
{
	pl_real_init();
	dup_over(fd, fd2);
	int r = real_dup2(fd, fd2);
	dup_track(fd, r);
	return r;
}

EXPORT int dup3(int fd, int fd2, int flags)
{
	pl_real_init();
	dup_over(fd, fd2);
	int r = real_dup3(fd, fd2, flags);
	dup_track(fd, r);
	return r;
}

static int do_fcntl(int fd, int cmd, void *arg, bool is64)
{
	int r;

	pl_real_init();
	r = is64 && real_fcntl64 ? real_fcntl64(fd, cmd, arg) : real_fcntl(fd, cmd, arg);
	if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
		dup_track(fd, r);
	return r;
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return do_fcntl(fd, cmd, arg, false);
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return do_fcntl(fd, cmd, arg, true);
}

EXPORT int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	struct pl_sock *s = pl_fd_get(fd);
	if (!s)
		return (pl_real_init(), real_ioctl(fd, req, arg));
	int r = 0;
	switch (req) {
	case FIONBIO: {
		int on, fl = real_fcntl(fd, F_GETFL);
		if (!arg) {
			r = -EFAULT;
			break;
		}
		memcpy(&on, arg, sizeof(on));
		if (fl < 0 || real_fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK) < 0)
			r = -errno;
		break;
	}
	case FIONREAD: {   /* = SIOCINQ */
		int v;
		if (atomic_load(&s->shm->state) & PSOCK_ST_LISTEN) {
			r = -EINVAL;
			break;
		}
		v = (int)psock_ring_used(&s->shm->rx);
		if (!arg)
			r = -EFAULT;
		else
			memcpy(arg, &v, sizeof(v));
		break;
	}
	case SIOCOUTQ: {
		struct pl_reply rep;
		uint32_t q = 0;
		if (atomic_load(&s->shm->state) & PSOCK_ST_LISTEN) {
			r = -EINVAL;
			break;
		}
		r = simple(PSOCK_OUTQ, fd, NULL, 0, &rep);
		if (!r && rep.len == sizeof(q))
			memcpy(&q, rep.data, sizeof(q));
		if (!r) {
			int v = (int)q;
			if (!arg)
				r = -EFAULT;
			else
				memcpy(arg, &v, sizeof(v));
		}
		break;
	}
	default:
		/* FIOCLEX, interface queries (SIOCGIF*) ...: the placeholder is a socket too */
		pl_sock_put(s);
		return real_ioctl(fd, req, arg);
	}
	pl_sock_put(s);
	return r < 0 ? set_errno(-r) : 0;
}

/* ---- processes ---- */

EXPORT pid_t fork(void)
{
	pl_real_init();
	return real_fork();
}

/* vfork as fork: the child may call into us (socket calls before exec), which
 * needs its own memory */
EXPORT pid_t vfork(void)
{
	pl_real_init();
	return real_fork();
}

/* The exec family keeps a child on tapsock (issue 4: "its children (fork, exec,
 * shells) stay on tapsock"): whatever environment the program hands over, the
 * child gets LD_PRELOAD with this library in it and the TAPSOCK_* variables the
 * program started with (unless it sets them itself). glibc's execl*, execvp and
 * system() reach execve inside libc, past our execve: each is interposed here. */
#define ENV_KEEP_MAX 16
static char *env_keep[ENV_KEEP_MAX];   /* "TAPSOCK_X=v" copies, from start-up */
static char env_lib[PATH_MAX];         /* this library's path */

static void env_init(void)
{
	Dl_info di;
	const char *spin = getenv("TAPSOCK_SPIN_US");

	/* adaptive polling's cap (pl.h): TAPSOCK_SPIN_US=0 turns it off */
	if (spin && *spin) {
		char *end;
		unsigned long us = strtoul(spin, &end, 10);

		if (*end || us > 1000000)
			pl_log("TAPSOCK_SPIN_US=%s: not a number of microseconds up to 1000000, "
			       "keeping %u", spin, PL_SPIN_US_DEFAULT);
		else {
			pl_spin_max_ns = (uint32_t)us * 1000u;
			pl_spin_auto = false;
		}
	}

	if (dladdr((void *)env_init, &di) && di.dli_fname && di.dli_fname[0] == '/')
		snprintf(env_lib, sizeof(env_lib), "%s", di.dli_fname);
	int k = 0;

	for (char **e = environ; e && *e && k < ENV_KEEP_MAX; e++)
		if (!strncmp(*e, "TAPSOCK_", 8) && strchr(*e, '='))
			env_keep[k++] = strdup(*e);
}

static bool env_has(char *const envp[], size_t n, const char *var)
{
	size_t l = strcspn(var, "=") + 1;

	for (size_t i = 0; i < n; i++)
		if (!strncmp(envp[i], var, l))
			return true;
	return false;
}

/* envp, or a copy in scratch (cap pointers) with what it misses added; preload
 * (PATH_MAX + 16 bytes) holds a rewritten LD_PRELOAD. */
static char **keep_env(char *const envp[], char **scratch, size_t cap, char *preload)
{
	static char *const none[] = { NULL };
	size_t n = 0, k = 0;
	int lp = -1;

	if (!env_lib[0])
		return (char **)envp;
	if (!envp)
		envp = none;   /* after clearenv(), environ is NULL: an empty environment */
	for (; envp[n]; n++)
		if (!strncmp(envp[n], "LD_PRELOAD=", 11))
			lp = (int)n;
	if (n + ENV_KEEP_MAX + 2 > cap)
		return (char **)envp;
	memcpy(scratch, envp, n * sizeof(char *));
	k = n;
	if (lp < 0 || !strstr(envp[lp] + 11, env_lib)) {
		/* appended, as `tapsock run` does: the program's own preloads first */
		if (lp >= 0 && envp[lp][11])
			snprintf(preload, PATH_MAX + 16, "%s:%s", envp[lp], env_lib);
		else
			snprintf(preload, PATH_MAX + 16, "LD_PRELOAD=%s", env_lib);
		if (lp >= 0)
			scratch[lp] = preload;
		else
			scratch[k++] = preload;
	}
	for (int i = 0; i < ENV_KEEP_MAX && env_keep[i]; i++)
		if (!env_has(envp, n, env_keep[i]))
			scratch[k++] = env_keep[i];
	scratch[k] = NULL;
	return scratch;
}

#define ENV_SCRATCH 4096
#define WITH_ENV(envp, call) do { \
	char **scratch_ = malloc(ENV_SCRATCH * sizeof(char *)); \
	char *pre_ = malloc(PATH_MAX + 16); \
	char *const *env_ = scratch_ && pre_ ? keep_env((envp), scratch_, ENV_SCRATCH, pre_) : (envp); \
	int r_ = (call); \
	int e_ = errno; \
	free(scratch_); free(pre_); \
	errno = e_; \
	return r_; } while (0)

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	pl_real_init();
	WITH_ENV(envp, real_execve(path, argv, env_));
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	pl_real_init();
	WITH_ENV(envp, real_execvpe(file, argv, env_));
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	pl_real_init();
	WITH_ENV(envp, real_fexecve(fd, argv, env_));
}

EXPORT int execv(const char *path, char *const argv[]) { return execve(path, argv, environ); }
EXPORT int execvp(const char *file, char *const argv[]) { return execvpe(file, argv, environ); }

EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
		       const posix_spawnattr_t *at, char *const argv[], char *const envp[])
{
	pl_real_init();
	WITH_ENV(envp, real_posix_spawn(pid, path, fa, at, argv, env_));
}

EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			const posix_spawnattr_t *at, char *const argv[], char *const envp[])
{
	pl_real_init();
	WITH_ENV(envp, real_posix_spawnp(pid, file, fa, at, argv, env_));
}

/* execl, execlp, execle: the arguments into an array (as glibc, on the stack
 * for a reasonable count), then the v forms. False when there are more than
 * EXECL_MAX; leaves ap after the terminating NULL (execle's envp follows). */
#define EXECL_MAX 4096
static bool execl_args(const char *arg, va_list *ap, char **argv)
{
	argv[0] = (char *)arg;
	for (int n = 1; argv[n - 1]; n++) {
		if (n == EXECL_MAX)
			return false;
		argv[n] = va_arg(*ap, char *);
	}
	return true;
}

EXPORT int execl(const char *path, const char *arg, ...)
{
	char *argv[EXECL_MAX];
	va_list ap;
	bool ok;

	va_start(ap, arg);
	ok = execl_args(arg, &ap, argv);
	va_end(ap);
	return ok ? execve(path, argv, environ) : set_errno(E2BIG);
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
	char *argv[EXECL_MAX];
	va_list ap;
	bool ok;

	va_start(ap, arg);
	ok = execl_args(arg, &ap, argv);
	va_end(ap);
	return ok ? execvpe(file, argv, environ) : set_errno(E2BIG);
}

EXPORT int execle(const char *path, const char *arg, ...)
{
	char *argv[EXECL_MAX];
	char *const *envp = NULL;
	va_list ap;
	bool ok;

	va_start(ap, arg);
	if ((ok = execl_args(arg, &ap, argv)))
		envp = va_arg(ap, char *const *);
	va_end(ap);
	return ok ? execve(path, argv, envp) : set_errno(E2BIG);
}

/* ---- glibc _FORTIFY_SOURCE entry points ---- */

extern void __chk_fail(void) __attribute__((noreturn));
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
		       struct sockaddr *sa, socklen_t *alen);
ssize_t __pread_chk(int fd, void *buf, size_t len, off_t off, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t len, off_t off, size_t buflen);

EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		__chk_fail();
	return read(fd, buf, len);
}

EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	if (len > buflen)
		__chk_fail();
	return recv(fd, buf, len, flags);
}

EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
			      struct sockaddr *sa, socklen_t *alen)
{
	if (len > buflen)
		__chk_fail();
	return recvfrom(fd, buf, len, flags, sa, alen);
}

EXPORT ssize_t __pread_chk(int fd, void *buf, size_t len, off_t off, size_t buflen)
{
	if (len > buflen)
		__chk_fail();
	return pread(fd, buf, len, off);
}

EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t len, off_t off, size_t buflen)
{
	if (len > buflen)
		__chk_fail();
	return pread64(fd, buf, len, off);
}
