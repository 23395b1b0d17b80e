/* epoll.c - epoll_create/ctl/wait/pwait/pwait2 over tapsock sockets and kernel fds (Linux epoll(7), epoll_ctl(2), epoll_wait(2)).
 *
 * The program's epoll fd is a real kernel epoll instance. Its kernel fds are in it
 * exactly as the program put them (events and data untouched, so they behave as
 * without us). A tapsock socket is in it through its placeholder, registered with
 * EPOLLIN|EPOLLET (plus the program's EPOLLEXCLUSIVE / EPOLLWAKEUP, which the kernel
 * then applies to the placeholder) and a tagged data word (a per-process random
 * high half, the fd in the low half): the placeholder's events are ours, never the
 * program's. Beside the kernel instance we keep, per epoll fd, the interest list of
 * its tapsock sockets (events, data, EPOLLET/EPOLLONESHOT) and a ready list, as the
 * kernel does in fs/eventpoll.c:
 *   - an item is on the ready list when it must be looked at: just added or
 *     modified, a token came on its placeholder, or it is level-triggered and was
 *     reported last time (Linux re-queues LT items after reporting them);
 *   - looking at an item reads its readiness in shared memory; an item that is not
 *     ready leaves the list ARMED (pl_sock_arm: the engine sends a token on the
 *     next publication that makes it ready), so no item off the list can become
 *     ready without a token, and a token is an edge of the placeholder, which the
 *     kernel puts on its own ready list and wakes us for.
 * Reporting: level-triggered, every epoll_wait while ready; edge-triggered, when
 * added/modified or at a token (the engine sends one per publication: data in,
 * space freed, state change, as Linux wakes ET waiters at each sk_data_ready /
 * sk_write_space), never merely because it is still ready; EPOLLONESHOT disables
 * the item after one report until EPOLL_CTL_MOD. Reported events are
 * ready & (requested | EPOLLERR | EPOLLHUP), EPOLLRDHUP only when requested.
 *
 * epoll_wait: report the ready list, then collect what the kernel has without
 * sleeping (program fds and placeholder edges), and only when nothing is ready
 * sleep in the real epoll_pwait2 with the program's sigmask and the remaining
 * time. Each kernel event fills one of the program's slots at most, so maxevents
 * holds and no kernel event (ET or ONESHOT ones included) is fetched and lost.
 *
 * Threads: one mutex per epoll fd guards its lists, never held while sleeping.
 * Several threads may sleep in epoll_wait on one epoll fd: a placeholder edge
 * wakes one or more of them as the kernel decides; an EPOLL_CTL_ADD/MOD of a ready
 * tapsock socket while threads sleep wakes one through an eventfd kept for that
 * purpose (created on first need). Unlike Linux, a level-triggered tapsock item
 * reported by one thread does not wake a second sleeping thread.
 *
 * Limits (documented in README): the interest list is kept per process and per fd
 * NUMBER. After fork, parent and child each keep their own copy (the common case,
 * one of them using the epoll fd, works; both using it at once sees each other's
 * EPOLL_CTL changes only for kernel fds). A dup() of an epoll fd is not followed
 * (the tapsock items are seen through the fd they were added with). A tapsock fd
 * leaves the interest lists when the program closes it even if a dup of it
 * remains open (Linux keeps it until the last one). An epoll fd inherited over
 * exec loses its tapsock items. An epoll fd polled by poll()/select() or nested in
 * another epoll is readable on placeholder tokens and program fds, but not for a
 * level-triggered tapsock item that stays ready without new tokens. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include "preload/pl.h"
#include "preload/poll.h"

#define PL_EXPORT __attribute__((visibility("default")))

/* What a tapsock socket can be asked for; the rest of ev.events are flags. */
#define EP_IO_BITS (EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDNORM | EPOLLRDBAND | \
		    EPOLLWRNORM | EPOLLWRBAND | EPOLLMSG | EPOLLRDHUP)
/* Linux fs/eventpoll.c: EPOLLEXCLUSIVE only with these. */
#define EP_EXCLUSIVE_OK (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | \
			 EPOLLET | EPOLLEXCLUSIVE)
#define EP_MAX_EVENTS ((int)(INT_MAX / sizeof(struct epoll_event)))
#define EP_WAKE_FD 0xffffffffu

struct ep_item {
	int fd;
	struct pl_sock *s;          /* a reference, held while in the set */
	uint32_t events;            /* the program's events and flags */
	epoll_data_t data;          /* the program's data */
	unsigned armed;             /* events armed with pl_sock_arm, 0 none */
	uint32_t kevents;           /* the placeholder's events in the kernel instance */
	bool on_rdy, disabled, tok, dead;
	uint64_t rep_gen;           /* the pass (struct ep.gen) that last reported it */
	struct ep_item *next;       /* ready list */
};

struct ep {
	int epfd;
	atomic_int refs;            /* the registry + epoll_* callers inside */
	pthread_mutex_t mu;
	struct ep_item **items;     /* by fd */
	int cap, nitems;
	struct ep_item *rdy_head, *rdy_tail;
	int waiters;                /* threads sleeping in the kernel on epfd */
	bool kernel_first;          /* kernel events before the ready list next time */
	uint64_t gen;               /* one per collecting pass: an item is reported at
				       most once per pass (as Linux reports an epitem once
				       per epoll_wait) */
	int wakefd;                 /* eventfd in epfd (tagged EP_WAKE_FD), -1 until needed */
	_Atomic uint32_t spin_ns;   /* adaptive spin budget before sleeping (pl.h pl_spin) */
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ep **reg;         /* by epoll fd number */
static int reg_cap;
static atomic_int reg_count;    /* epoll fds with state here: 0 = all pass through */
static uint64_t tag_hi;         /* high half of our data words */

/* How many instances hold fd as an item, by fd number: a close() of an fd no
 * instance holds (most of them) returns without scanning every instance
 * (pl_epoll_forget). Chunks are made on first use and never freed; a count is
 * changed under its instance's lock, read without one (a close racing an
 * EPOLL_CTL_ADD of the same fd is a race in the program, as with the kernel). */
#define HELD_CHUNK 4096
#define HELD_CHUNKS 1024        /* fds up to 4M: the rest are always scanned */
static _Atomic(atomic_uint *) held[HELD_CHUNKS];

/* The count of fd, made when `make`; NULL past the table or out of memory. */
static atomic_uint *held_at(int fd, bool make)
{
	atomic_uint *c, *n;

	if (fd < 0 || fd / HELD_CHUNK >= HELD_CHUNKS)
		return NULL;
	c = atomic_load(&held[fd / HELD_CHUNK]);
	if (!c && make && (n = calloc(HELD_CHUNK, sizeof(*n)))) {
		if (atomic_compare_exchange_strong(&held[fd / HELD_CHUNK], &c, n))
			c = n;
		else
			free(n);   /* another thread made it first: c is its */
	}
	return c ? &c[fd % HELD_CHUNK] : NULL;
}

/* Might an instance hold fd as an item? */
static bool held_maybe(int fd)
{
	if (fd >= 0 && fd / HELD_CHUNK >= HELD_CHUNKS)
		return true;
	atomic_uint *c = held_at(fd, false);
	return c && atomic_load(c) != 0;
}
static pthread_once_t tag_once = PTHREAD_ONCE_INIT;

static void tag_init(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)getpid() * 2654435761u ^ (uint32_t)(uintptr_t)&r;
	/* the top bit set: never a user-space pointer, nor a small integer */
	tag_hi = (uint64_t)(r | 0x80000000u) << 32;
}

static uint64_t tag_of(uint32_t fd)
{
	return tag_hi | fd;
}

static bool is_tag(uint64_t u)
{
	return (u & 0xffffffff00000000ull) == tag_hi;
}

/* ---- items ---- */

static void rdy_push(struct ep *ep, struct ep_item *it)
{
	if (it->on_rdy)
		return;
	it->on_rdy = true;
	it->next = NULL;
	if (ep->rdy_tail)
		ep->rdy_tail->next = it;
	else
		ep->rdy_head = it;
	ep->rdy_tail = it;
}

static struct ep_item *rdy_pop(struct ep *ep)
{
	struct ep_item *it = ep->rdy_head;

	if (!it)
		return NULL;
	ep->rdy_head = it->next;
	if (!ep->rdy_head)
		ep->rdy_tail = NULL;
	it->next = NULL;
	it->on_rdy = false;
	return it;
}

static void rdy_remove(struct ep *ep, struct ep_item *it)
{
	struct ep_item **pp = &ep->rdy_head, *prev = NULL;

	if (!it->on_rdy)
		return;
	while (*pp && *pp != it) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp) {
		*pp = it->next;
		if (ep->rdy_tail == it)
			ep->rdy_tail = prev;
	}
	it->on_rdy = false;
	it->next = NULL;
}

static void item_disarm(struct ep_item *it)
{
	if (it->armed) {
		pl_sock_disarm(it->s, it->armed);
		it->armed = 0;
	}
}

static void item_drop(struct ep *ep, struct ep_item *it)
{
	rdy_remove(ep, it);
	item_disarm(it);
	ep->items[it->fd] = NULL;
	atomic_uint *h = held_at(it->fd, false);
	if (h)
		atomic_fetch_sub(h, 1);
	pl_sock_put(it->s);
	free(it);
	/* the last tapsock item gone: the wake-up eventfd goes too, so that the
	 * pass-through epoll_wait can never see its tagged events */
	if (--ep->nitems == 0 && ep->wakefd >= 0 && ep->waiters == 0) {
		real_close(ep->wakefd);
		ep->wakefd = -1;
	}
}

static struct ep_item *item_at(struct ep *ep, int fd)
{
	return fd >= 0 && fd < ep->cap ? ep->items[fd] : NULL;
}

/* Look at one item (off the ready list): true and *out filled when it is to be
 * reported. Leaves it armed unless disabled, re-queues it when level-triggered
 * and reported. */
static bool item_process(struct ep *ep, struct ep_item *it, struct epoll_event *out)
{
	unsigned want, ev;

	if (it->disabled)
		return false;
	want = it->events & EP_IO_BITS;
	/* A token on the placeholder is drained before we look (psock.h: drain, then
	 * look again), so the engine can send the next one. */
	if (it->tok || atomic_load(&it->s->shm->tok_pending)) {
		if (pl_sock_drain(it->s, it->fd) == -EBADF)
			it->dead = true;
		it->tok = false;
	}
	/* Armed before looking: a publication after this look sends a token. (Errors
	 * and hang-ups always wake: with no event asked for, arm for input, which
	 * covers them; EPOLLERR keeps `armed` non-zero.) */
	if (!it->armed) {
		it->armed = want | EPOLLERR;
		pl_sock_arm(it->s, it->armed);
	}
	/* dead: everything, but a dead listener that told its error (pl.h) */
	if (it->dead)
		atomic_store(&it->s->dead, true);
	ev = pl_sock_events(it->s);
	ev &= want | EPOLLERR | EPOLLHUP;
	if (!ev)
		return false;  /* armed, off the list: a token brings it back */
	out->events = ev;
	out->data = it->data;
	it->rep_gen = ep->gen;
	if (it->events & EPOLLONESHOT) {
		/* "the associated file descriptor is internally disabled and no other
		 * events will be reported by the epoll interface" until EPOLL_CTL_MOD */
		it->disabled = true;
		item_disarm(it);
	} else if (!(it->events & EPOLLET)) {
		rdy_push(ep, it);  /* level-triggered: look again next time */
	}
	return true;
}

/* ---- the registry ---- */

static void ep_free(struct ep *ep)
{
	for (int fd = 0; fd < ep->cap; fd++)
		if (ep->items[fd])
			item_drop(ep, ep->items[fd]);
	if (ep->wakefd >= 0)
		real_close(ep->wakefd);
	pthread_mutex_destroy(&ep->mu);
	free(ep->items);
	free(ep);
}

static void ep_put(struct ep *ep)
{
	if (atomic_fetch_sub(&ep->refs, 1) == 1)
		ep_free(ep);
}

static struct ep *ep_get(int epfd)
{
	struct ep *ep = NULL;

	if (epfd < 0 || atomic_load(&reg_count) == 0)
		return NULL;
	pthread_mutex_lock(&reg_mu);
	if (epfd < reg_cap && (ep = reg[epfd]))
		atomic_fetch_add(&ep->refs, 1);
	pthread_mutex_unlock(&reg_mu);
	return ep;
}

static struct ep *ep_get_or_create(int epfd)
{
	struct ep *ep;

	pthread_mutex_lock(&reg_mu);
	if (epfd >= reg_cap) {
		int cap = reg_cap ? reg_cap : 64;
		while (cap <= epfd)
			cap *= 2;
		struct ep **n = realloc(reg, (size_t)cap * sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&reg_mu);
			return NULL;
		}
		memset(n + reg_cap, 0, (size_t)(cap - reg_cap) * sizeof(*n));
		reg = n;
		reg_cap = cap;
	}
	if (!(ep = reg[epfd])) {
		ep = calloc(1, sizeof(*ep));
		if (!ep) {
			pthread_mutex_unlock(&reg_mu);
			return NULL;
		}
		ep->epfd = epfd;
		ep->wakefd = -1;
		atomic_init(&ep->refs, 1);  /* the registry's */
		pthread_mutex_init(&ep->mu, NULL);
		reg[epfd] = ep;
		atomic_fetch_add(&reg_count, 1);
	}
	atomic_fetch_add(&ep->refs, 1);
	pthread_mutex_unlock(&reg_mu);
	return ep;
}

/* close(fd) or a new epoll instance on that number: its state goes; a tapsock fd
 * closed leaves every interest list (see Limits). */
void pl_epoll_forget(int fd)
{
	struct ep *gone = NULL;
	struct ep **eps = NULL;
	int n = 0;

	if (fd < 0 || atomic_load(&reg_count) == 0)
		return;
	pthread_mutex_lock(&reg_mu);
	if (fd < reg_cap && reg[fd]) {
		gone = reg[fd];
		reg[fd] = NULL;
		atomic_fetch_sub(&reg_count, 1);
	}
	/* the instances that hold fd as an item, with a reference each (none:
	 * no scan, the common close) */
	for (int i = 0; i < reg_cap && held_maybe(fd); i++) {
		if (reg[i] && fd < reg[i]->cap && reg[i]->items[fd]) {
			struct ep **m = realloc(eps, (size_t)(n + 1) * sizeof(*m));
			if (!m)
				break;
			eps = m;
			atomic_fetch_add(&reg[i]->refs, 1);
			eps[n++] = reg[i];
		}
	}
	pthread_mutex_unlock(&reg_mu);
	for (int i = 0; i < n; i++) {
		pthread_mutex_lock(&eps[i]->mu);
		struct ep_item *it = item_at(eps[i], fd);
		if (it)
			item_drop(eps[i], it);
		pthread_mutex_unlock(&eps[i]->mu);
		ep_put(eps[i]);
	}
	free(eps);
	if (gone)
		ep_put(gone);
}

/* fork: the child's copy of every interest list starts afresh. The arm counts in
 * shared memory belong to the parent's items (the child must not take them
 * back), so the child's items are unarmed and queued to be looked at (and armed
 * for the child) at its next epoll_wait; locks another thread held are reset. */
static void atfork_prepare(void)
{
	pthread_mutex_lock(&reg_mu);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&reg_mu);
}

static void atfork_child(void)
{
	for (int i = 0; i < reg_cap; i++) {
		struct ep *ep = reg[i];
		if (!ep)
			continue;
		pthread_mutex_init(&ep->mu, NULL);
		ep->waiters = 0;
		atomic_store(&ep->refs, 1);
		for (int fd = 0; fd < ep->cap; fd++) {
			struct ep_item *it = ep->items[fd];
			if (it) {
				it->armed = 0;
				rdy_push(ep, it);
			}
		}
	}
	pthread_mutex_init(&reg_mu, NULL);
}

__attribute__((constructor)) static void epoll_init(void)
{
	pthread_once(&tag_once, tag_init);
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* Wake one thread sleeping in epoll_wait on ep (an item became ready without a
 * token: EPOLL_CTL_ADD/MOD). Called with ep->mu held. */
static void ep_wake(struct ep *ep)
{
	if (ep->waiters == 0)
		return;
	if (ep->wakefd < 0) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fd < 0)
			return;
		struct epoll_event kev = { .events = EPOLLIN | EPOLLET,
					   .data.u64 = tag_of(EP_WAKE_FD) };
		if (real_epoll_ctl(ep->epfd, EPOLL_CTL_ADD, fd, &kev) < 0) {
			real_close(fd);
			return;
		}
		ep->wakefd = fd;
	}
	uint64_t one = 1;
	if (real_write(ep->wakefd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is full, a wake-up is pending anyway */
	}
}

/* ---- epoll_create, epoll_ctl ---- */

PL_EXPORT int epoll_create1(int flags)
{
	pl_real_init();
	int fd = real_epoll_create1(flags);
	if (fd >= 0)
		pl_epoll_forget(fd);  /* the number may have been an epoll fd closed behind us */
	return fd;
}

PL_EXPORT int epoll_create(int size)
{
	pl_real_init();
	int fd = real_epoll_create(size);
	if (fd >= 0)
		pl_epoll_forget(fd);
	return fd;
}

static int ep_ctl_sock(int epfd, int op, int fd, struct epoll_event *ev, struct pl_sock *s)
{
	struct epoll_event kev;
	struct ep *ep;
	struct ep_item *it;
	int r;

	if (op != EPOLL_CTL_DEL && !ev)
		return -EFAULT;
	pthread_once(&tag_once, tag_init);
	if (op == EPOLL_CTL_DEL) {
		if (!(ep = ep_get(epfd)))
			return real_epoll_ctl(epfd, op, fd, ev) < 0 ? -errno : 0;
		pthread_mutex_lock(&ep->mu);
		r = real_epoll_ctl(epfd, op, fd, ev) < 0 ? -errno : 0;
		if ((it = item_at(ep, fd)) && (r == 0 || r == -ENOENT))
			item_drop(ep, it);
		pthread_mutex_unlock(&ep->mu);
		ep_put(ep);
		return r;
	}
	if (op != EPOLL_CTL_ADD && op != EPOLL_CTL_MOD)
		return real_epoll_ctl(epfd, op, fd, ev) < 0 ? -errno : 0;
	/* Linux: EPOLLEXCLUSIVE is for EPOLL_CTL_ADD only, with a few events */
	if (ev->events & EPOLLEXCLUSIVE) {
		if (op == EPOLL_CTL_MOD || (ev->events & ~(uint32_t)EP_EXCLUSIVE_OK))
			return -EINVAL;
	}
	kev.events = EPOLLIN | EPOLLET | (ev->events & (EPOLLEXCLUSIVE | EPOLLWAKEUP));
	kev.data.u64 = tag_of((uint32_t)fd);

	if (op == EPOLL_CTL_MOD) {
		if (!(ep = ep_get(epfd)))
			return real_epoll_ctl(epfd, op, fd, &kev) < 0 ? -errno : -ENOENT;
		pthread_mutex_lock(&ep->mu);
		it = item_at(ep, fd);
		if (it && it->s != s) {  /* the fd was closed and reused: Linux forgot it */
			item_drop(ep, it);
			it = NULL;
		}
		if (!it) {
			r = -ENOENT;
		} else if (it->events & EPOLLEXCLUSIVE) {
			r = -EINVAL;
		} else if (kev.events == it->kevents ||
			   (r = real_epoll_ctl(epfd, op, fd, &kev) < 0 ? -errno : 0) == 0) {
			/* The kernel is told only when the placeholder's flags change: an
			 * event loop that switches EPOLLIN/EPOLLOUT at every exchange would
			 * pay a system call for nothing (the kernel sees EPOLLIN|EPOLLET
			 * either way). The kernel's MOD would also queue a placeholder that
			 * holds a token; the item goes on our ready list below, where the
			 * token is drained and the socket looked at. */
			r = 0;
			it->kevents = kev.events;
			item_disarm(it);
			it->events = ev->events;
			it->data = ev->data;
			it->disabled = false;
			rdy_push(ep, it);
			ep_wake(ep);
		}
		pthread_mutex_unlock(&ep->mu);
		ep_put(ep);
		return r;
	}

	/* EPOLL_CTL_ADD: the kernel checks epfd, fd == epfd, loops and EEXIST */
	r = real_epoll_ctl(epfd, op, fd, &kev) < 0 ? -errno : 0;
	if (r < 0)
		return r;
	if (!(ep = ep_get_or_create(epfd))) {
		real_epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
		return -ENOMEM;
	}
	pthread_mutex_lock(&ep->mu);
	if ((it = item_at(ep, fd)))  /* a stale item: that fd was closed, Linux forgot it */
		item_drop(ep, it);
	if (fd >= ep->cap) {
		int cap = ep->cap ? ep->cap : 64;
		while (cap <= fd)
			cap *= 2;
		struct ep_item **n = realloc(ep->items, (size_t)cap * sizeof(*n));
		if (!n)
			goto nomem;
		memset(n + ep->cap, 0, (size_t)(cap - ep->cap) * sizeof(*n));
		ep->items = n;
		ep->cap = cap;
	}
	atomic_uint *h = held_at(fd, true);
	if ((!h && fd / HELD_CHUNK < HELD_CHUNKS) || !(it = calloc(1, sizeof(*it))))
		goto nomem;
	if (h)
		atomic_fetch_add(h, 1);
	it->fd = fd;
	it->s = s;
	atomic_fetch_add(&s->refs, 1);  /* the item's own reference */
	it->events = ev->events;
	it->kevents = kev.events;
	it->data = ev->data;
	ep->items[fd] = it;
	ep->nitems++;
	rdy_push(ep, it);  /* Linux looks at a new item's readiness at once */
	ep_wake(ep);
	pthread_mutex_unlock(&ep->mu);
	ep_put(ep);
	return 0;
nomem:
	real_epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	pthread_mutex_unlock(&ep->mu);
	ep_put(ep);
	return -ENOMEM;
}

PL_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct pl_sock *s;
	int r;

	pl_real_init();
	if (!(s = pl_fd_get(fd))) {
		/* a kernel fd; an item of ours on that number is stale (closed, reused) */
		struct ep *ep = ep_get(epfd);
		if (ep) {
			pthread_mutex_lock(&ep->mu);
			struct ep_item *it = item_at(ep, fd);
			if (it)
				item_drop(ep, it);
			pthread_mutex_unlock(&ep->mu);
			ep_put(ep);
		}
		return real_epoll_ctl(epfd, op, fd, ev);
	}
	r = ep_ctl_sock(epfd, op, fd, ev, s);
	pl_sock_put(s);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return 0;
}

/* ---- epoll_wait and friends ---- */

/* Kernel events evs[from, from + cnt) just returned by the real epoll_wait: keep
 * the program's, turn placeholder edges into the items' reports. Returns the new
 * number of events in evs (each kernel event gave at most one). */
static int ep_filter(struct ep *ep, struct epoll_event *evs, int from, int cnt)
{
	int w = from;

	for (int r = from; r < from + cnt; r++) {
		struct epoll_event e = evs[r];
		if (!is_tag(e.data.u64)) {
			evs[w++] = e;
			continue;
		}
		uint32_t fd = (uint32_t)e.data.u64;
		if (fd == EP_WAKE_FD) {
			uint64_t v;
			if (ep->wakefd >= 0 && real_read(ep->wakefd, &v, sizeof(v)) < 0) {
				/* EAGAIN: another thread took it */
			}
			continue;
		}
		struct ep_item *it = item_at(ep, (int)fd);
		if (!it)
			continue;  /* deleted meanwhile */
		it->tok = true;
		if (e.events & (EPOLLHUP | EPOLLERR))
			it->dead = true;  /* the engine's end of the placeholder is gone */
		if (it->on_rdy)
			continue;  /* looked at with the ready list, once per call */
		if (it->rep_gen == ep->gen) {
			/* Reported in this pass already (a second kernel event with its
			 * tag: the placeholder of a closed fd whose number it reuses,
			 * still alive in the kernel). Never twice in one answer: a
			 * program frees its per-connection state when it closes on the
			 * first report. Its token is looked at next time. */
			rdy_push(ep, it);
			continue;
		}
		if (item_process(ep, it, &evs[w]))
			w++;
	}
	return w;
}

/* The ready list, at most once over each item queued on entry. */
static int ep_scan(struct ep *ep, struct epoll_event *evs, int n, int max)
{
	int todo = 0;

	for (struct ep_item *it = ep->rdy_head; it; it = it->next)
		todo++;
	while (todo-- > 0 && n < max) {
		struct ep_item *it = rdy_pop(ep);
		if (!it)
			break;
		struct pl_sock *cur = pl_fd_get(it->fd);
		bool stale = cur != it->s;  /* closed (or reused) behind us */
		if (cur)
			pl_sock_put(cur);
		if (stale) {
			item_drop(ep, it);
			continue;
		}
		if (it->rep_gen == ep->gen) {
			/* reported in this pass from a kernel event (the kernel went
			 * first) and queued again as level-triggered: not twice in one
			 * answer (the program may have freed what its data points to
			 * when it closed on the first report); next time */
			rdy_push(ep, it);
			continue;
		}
		if (item_process(ep, it, &evs[n]))
			n++;
	}
	return n;
}

/* What the kernel has now, without sleeping, into evs[n, max). */
static int ep_fetch(struct ep *ep, struct epoll_event *evs, int n, int max)
{
	while (n < max) {
		int room = max - n;
		int r = real_epoll_wait(ep->epfd, evs + n, room, 0);
		if (r <= 0)
			break;
		int m = ep_filter(ep, evs, n, r);
		bool tags = m - n < r;
		n = m;
		/* placeholders took slots: ask again for the room they freed (they are
		 * edge-triggered, so they do not come back) */
		if (r < room || !tags)
			break;
	}
	return n;
}

enum ep_kind { EP_WAIT, EP_PWAIT, EP_PWAIT2 };

/* Adaptive polling (pl.h): before sleeping, look again at the ready list and at
 * what the kernel has (program fds and placeholder edges, one epoll_wait with
 * timeout 0), with the lock taken only for each look so that epoll_ctl and other
 * waiters go on. */
struct ep_spin { struct ep *ep; struct epoll_event *evs; int max, n; };

static unsigned ep_spin_ready(void *arg)
{
	struct ep_spin *a = arg;

	pthread_mutex_lock(&a->ep->mu);
	a->ep->gen++;
	a->n = ep_scan(a->ep, a->evs, 0, a->max);
	a->n = ep_fetch(a->ep, a->evs, a->n, a->max);
	pthread_mutex_unlock(&a->ep->mu);
	return a->n > 0;
}

static int ep_wait(int epfd, struct epoll_event *evs, int maxevents,
		   const struct timespec *tmo, int tmo_ms, const sigset_t *sigmask,
		   enum ep_kind kind)
{
	struct timespec deadline, left;
	struct ep *ep;
	bool zero;
	int n;

	pl_real_init();
	if (!(ep = ep_get(epfd)) || ep->nitems == 0) {
		if (ep)
			ep_put(ep);
		switch (kind) {
		case EP_WAIT:
			return real_epoll_wait(epfd, evs, maxevents, tmo_ms);
		case EP_PWAIT:
			return real_epoll_pwait(epfd, evs, maxevents, tmo_ms, sigmask);
		default:
			if (!real_epoll_pwait2) {
				errno = ENOSYS;
				return -1;
			}
			return real_epoll_pwait2(epfd, evs, maxevents, tmo, sigmask);
		}
	}
	if (maxevents <= 0 || maxevents > EP_MAX_EVENTS) {
		ep_put(ep);
		errno = EINVAL;
		return -1;
	}
	if (!evs) {
		ep_put(ep);
		errno = EFAULT;
		return -1;
	}
	zero = tmo && tmo->tv_sec == 0 && tmo->tv_nsec == 0;
	if (tmo)
		pl_tmo_deadline(tmo, &deadline);

	pthread_mutex_lock(&ep->mu);
	for (;;) {
		/* Fairness when maxevents is reached: our ready list and the kernel's
		 * take turns going first, so neither starves the other (Linux rotates
		 * level-triggered items to the back of one list). */
		ep->gen++;
		if (ep->kernel_first) {
			n = ep_fetch(ep, evs, 0, maxevents);
			n = ep_scan(ep, evs, n, maxevents);
		} else {
			n = ep_scan(ep, evs, 0, maxevents);
			/* Nothing of ours ready and a wait ahead: the wait below returns
			 * at once with what the kernel has, so asking it first without
			 * sleeping would be one more system call for the same events. */
			if (n > 0 || zero || atomic_load_explicit(&ep->spin_ns, memory_order_relaxed))
				n = ep_fetch(ep, evs, n, maxevents);
		}
		if (n == maxevents)
			ep->kernel_first = !ep->kernel_first;
		if (n > 0 || zero)
			break;
		/* Nothing ready: every item is armed and off the list. Spin briefly
		 * (without a sigmask to apply: a pending signal the program unblocks
		 * only for the wait must not wait for the spin), then sleep in the
		 * kernel, with the program's sigmask, for the time left. */
		if (!sigmask && atomic_load_explicit(&ep->spin_ns, memory_order_relaxed)) {
			struct ep_spin sp = { ep, evs, maxevents, 0 };

			pthread_mutex_unlock(&ep->mu);
			bool got = pl_spin(&ep->spin_ns, ep_spin_ready, &sp);
			pthread_mutex_lock(&ep->mu);
			if (got) {
				n = sp.n;
				break;
			}
		}
		ep->waiters++;
		pthread_mutex_unlock(&ep->mu);
		if (tmo)
			pl_tmo_left(&deadline, &left);
		uint64_t t0 = pl_spin_now();
		int r;
		if (real_epoll_pwait2) {
			r = real_epoll_pwait2(epfd, evs, maxevents, tmo ? &left : NULL, sigmask);
		} else {
			/* round up: never return before the deadline */
			long ms = tmo ? left.tv_sec * 1000 + (left.tv_nsec + 999999) / 1000000 : -1;
			r = real_epoll_pwait(epfd, evs, maxevents, ms > INT_MAX ? INT_MAX : (int)ms,
					     sigmask);
		}
		int err = errno;
		if (r > 0)   /* woken by an event, not the timeout: adapt the spin */
			pl_spin_slept(&ep->spin_ns, t0);
		pthread_mutex_lock(&ep->mu);
		ep->waiters--;
		if (r < 0) {
			n = -1;
			errno = err;
			break;
		}
		ep->gen++;
		n = ep_filter(ep, evs, 0, r);
		if (n > 0)
			break;
		if (r == 0 && !ep->rdy_head)
			break;  /* timed out */
		/* a token that brought nothing we report: again, with the time left */
		if (tmo) {
			pl_tmo_left(&deadline, &left);
			zero = left.tv_sec == 0 && left.tv_nsec == 0;
		}
	}
	pthread_mutex_unlock(&ep->mu);
	ep_put(ep);
	return n;
}

static struct timespec ms_ts(int ms)
{
	return (struct timespec){ ms / 1000, (long)(ms % 1000) * 1000000L };
}

PL_EXPORT int epoll_wait(int epfd, struct epoll_event *evs, int maxevents, int timeout)
{
	struct timespec ts = ms_ts(timeout);

	return ep_wait(epfd, evs, maxevents, timeout < 0 ? NULL : &ts, timeout, NULL, EP_WAIT);
}

PL_EXPORT int epoll_pwait(int epfd, struct epoll_event *evs, int maxevents, int timeout,
			  const sigset_t *sigmask)
{
	struct timespec ts = ms_ts(timeout);

	return ep_wait(epfd, evs, maxevents, timeout < 0 ? NULL : &ts, timeout, sigmask,
		       EP_PWAIT);
}

PL_EXPORT int epoll_pwait2(int epfd, struct epoll_event *evs, int maxevents,
			   const struct timespec *timeout, const sigset_t *sigmask)
{
	if (timeout && (timeout->tv_sec < 0 || timeout->tv_nsec < 0 ||
			timeout->tv_nsec >= 1000000000L)) {
		errno = EINVAL;
		return -1;
	}
	return ep_wait(epfd, evs, maxevents, timeout, 0, sigmask, EP_PWAIT2);
}
