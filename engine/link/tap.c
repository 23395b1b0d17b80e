/* tap.c - the TAP link on io_uring (Documentation/networking/tuntap.rst; virtio
 * 1.1 spec 5.1.6 "Device Operation" for the virtio-net header). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <liburing.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "link/tap.h"

_Static_assert(sizeof(struct virtio_net_hdr) == TAP_VNET_HDR_LEN, "vnet hdr size");

#define TAP_TX_SLOTS 256u
/* The TAP's queue towards the engine is the engine's receive ring: tun_net_xmit
 * drops what does not fit. The default (txqueuelen 1000) overflowed when 10 000
 * connections each sent one request at once (the engine answers each in ~13 us,
 * the peers wrote faster): 4 of 10 requests were dropped and waited for the peer's
 * RTO. Frames are only queued while the engine is behind; TCP windows bound bulk. */
#define TAP_TXQLEN 16384

struct tap {
	struct link link;
	int fd;
	unsigned offloads;          /* TUN_F_* accepted */
	struct io_uring *ring;
	uint64_t tag;
	uint8_t *pool;              /* TAP_TX_SLOTS slots of slot_size */
	size_t slot_size;
	uint32_t slot_len[TAP_TX_SLOTS];
	/* free slots on a stack; queued (not yet submitted) in order */
	uint32_t free_stack[TAP_TX_SLOTS], nfree;
	uint32_t queued[TAP_TX_SLOTS], nqueued;
	uint64_t sync_writes;       /* frames written directly: the pool was full */
	bool defer_submit;          /* the loop submits the prepared writes itself */
};

static struct tap *tp(struct link *l) { return (struct tap *)l; }

void tap_vnet_hdr_from_off(const struct pkt_off *off, uint8_t out[TAP_VNET_HDR_LEN])
{
	struct virtio_net_hdr h = { 0 };

	if (off->flags & PKT_OFF_CSUM) {
		/* the kernel finishes the checksum from csum_start to the end, storing it
		 * at csum_start + csum_offset (partial checksum: pseudo-header sum in place) */
		h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h.csum_start = off->csum_start;
		h.csum_offset = off->csum_offset;
	}
	if (off->flags & PKT_OFF_TSO4) {
		h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		h.gso_size = off->gso_size;
		h.hdr_len = off->hdr_len;
	}
	memcpy(out, &h, sizeof(h));
}

enum drop_reason tap_rx_decode(const uint8_t *buf, size_t len, const uint8_t **frame,
			       size_t *flen, unsigned *rxflags)
{
	struct virtio_net_hdr h;
	size_t n;

	if (len < sizeof(h))
		return DROP_LINK_BAD_VNET_HDR;
	memcpy(&h, buf, sizeof(h));
	n = len - sizeof(h);
	if (h.flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
		return DROP_LINK_BAD_VNET_HDR;
	switch (h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
	case VIRTIO_NET_HDR_GSO_TCPV4:
	case VIRTIO_NET_HDR_GSO_TCPV6:
	case VIRTIO_NET_HDR_GSO_UDP:
	case 5: /* VIRTIO_NET_HDR_GSO_UDP_L4 */
		break;
	default:
		return DROP_LINK_BAD_VNET_HDR;
	}
	if ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (size_t)h.csum_start + h.csum_offset + 2 > n)
		return DROP_LINK_BAD_VNET_HDR;
	*rxflags = 0;
	/* DATA_VALID: the kernel checked it; NEEDS_CSUM: the frame never left the host
	 * and carries a partial checksum that must not be verified. */
	if (h.flags & (VIRTIO_NET_HDR_F_DATA_VALID | VIRTIO_NET_HDR_F_NEEDS_CSUM))
		*rxflags |= LINK_RX_CSUM_OK;
	*frame = buf + sizeof(h);
	*flen = n;
	return DROP_NONE;
}

/* Writes prepared by a deferred flush go to the kernel before a frame written
 * directly, so that the frames keep their order. */
static void tap_submit_prepared(struct tap *t)
{
	if (t->ring && io_uring_sq_ready(t->ring))
		io_uring_submit(t->ring);
}

/* Every slot is being written and its completion not reaped yet (that happens at
 * the start of the next loop turn): write this frame at once instead of dropping
 * it. Order holds: a TAP write never blocks, so the writes submitted before were
 * done inside io_uring_submit(). */
static int tap_tx_sync(struct tap *t, const struct pkt *p)
{
	uint8_t hdr[TAP_VNET_HDR_LEN];
	struct iovec iov[2] = {
		{ .iov_base = hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = p->data, .iov_len = p->len },
	};
	ssize_t n;

	tap_vnet_hdr_from_off(&p->off, hdr);
	tap_submit_prepared(t);
	n = writev(t->fd, iov, 2);
	t->sync_writes++;
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(hdr) + p->len ? 0 : -EIO;
}

/* A frame whose payload stays in TCP's send queue (pkt->ext): written at once with
 * writev(), header, headers and payload spans, so the payload is copied only by the
 * kernel. The queue may change as soon as tx() returns, which a write waiting for
 * the next flush could not allow. Frames queued before it are submitted first:
 * TAP writes never block, so they are done when io_uring_submit() returns and the
 * order holds. One system call per frame costs little next to a 64 KB copy. */
static int tap_tx_inplace(struct tap *t, const struct pkt *p)
{
	uint8_t hdr[TAP_VNET_HDR_LEN];
	struct iovec iov[2 + 2];
	size_t want = sizeof(hdr) + p->len;
	uint32_t n = 2;
	ssize_t w;

	if (t->nqueued)
		link_flush(&t->link);
	tap_submit_prepared(t);
	tap_vnet_hdr_from_off(&p->off, hdr);
	iov[0] = (struct iovec){ .iov_base = hdr, .iov_len = sizeof(hdr) };
	iov[1] = (struct iovec){ .iov_base = p->data, .iov_len = p->len - p->ext_len };
	for (uint32_t i = 0; i < p->next && i < 2; i++)
		iov[n++] = p->ext[i];
	w = writev(t->fd, iov, (int)n);
	if (w < 0)
		return -errno;
	return (size_t)w == want ? 0 : -EIO;
}

static int tap_tx(struct link *l, const struct pkt *p)
{
	struct tap *t = tp(l);
	uint32_t slot;

	if (p->next)
		return tap_tx_inplace(t, p);

	if ((size_t)p->len + TAP_VNET_HDR_LEN > t->slot_size)
		return -EMSGSIZE;
	if (!t->nfree && t->nqueued)
		link_flush(l);  /* a full pool flushes early */
	if (!t->nfree)
		return tap_tx_sync(t, p);
	slot = t->free_stack[--t->nfree];
	uint8_t *at = t->pool + (size_t)slot * t->slot_size;
	tap_vnet_hdr_from_off(&p->off, at);
	memcpy(at + TAP_VNET_HDR_LEN, p->data, p->len);
	t->slot_len[slot] = p->len + TAP_VNET_HDR_LEN;
	t->queued[t->nqueued++] = slot;
	return 0;
}

static int tap_flush(struct link *l)
{
	struct tap *t = tp(l);
	uint32_t i;
	int n;

	if (!t->nqueued) {
		if (!t->defer_submit)
			tap_submit_prepared(t);
		return 0;
	}
	if (!t->ring) { /* no loop yet (start-up): write synchronously */
		for (i = 0; i < t->nqueued; i++) {
			uint32_t s = t->queued[i];
			if (write(t->fd, t->pool + (size_t)s * t->slot_size, t->slot_len[s]) < 0)
				log_debug("tap write: %s", strerror(errno));
			t->free_stack[t->nfree++] = s;
		}
		n = (int)t->nqueued;
		t->nqueued = 0;
		return n;
	}
	for (i = 0; i < t->nqueued; i++) {
		uint32_t s = t->queued[i];
		struct io_uring_sqe *sqe = io_uring_get_sqe(t->ring);

		if (!sqe) {  /* SQ full: submit what we have and go on */
			io_uring_submit(t->ring);
			sqe = io_uring_get_sqe(t->ring);
			if (!sqe)
				break;
		}
		io_uring_prep_write(sqe, t->fd, t->pool + (size_t)s * t->slot_size,
				    t->slot_len[s], 0);
		io_uring_sqe_set_data64(sqe, t->tag | s);
	}
	/* slots that found no SQE stay queued for the next flush */
	n = (int)i;
	memmove(t->queued, t->queued + i, (t->nqueued - i) * sizeof(t->queued[0]));
	t->nqueued -= i;
	/* one submission per loop turn for the whole batch: the loop's own
	 * io_uring_submit_and_wait() when it said it would (tap_defer_submit),
	 * saving one io_uring_enter per turn */
	if (!t->defer_submit)
		io_uring_submit(t->ring);
	return n;
}

int tap_tx_complete(struct link *l, uint32_t slot, int res)
{
	struct tap *t = tp(l);

	if (slot >= TAP_TX_SLOTS)
		return -EINVAL;
	t->free_stack[t->nfree++] = slot;
	if (res < 0)
		return res;
	if ((uint32_t)res != t->slot_len[slot])
		return -EIO;
	return 0;
}

uint64_t tap_sync_writes(const struct link *l) { return ((const struct tap *)l)->sync_writes; }
int tap_fd(const struct link *l) { return ((const struct tap *)l)->fd; }
unsigned tap_offloads(const struct link *l) { return ((const struct tap *)l)->offloads; }

void tap_attach_ring(struct link *l, struct io_uring *ring, uint64_t tag)
{
	tp(l)->ring = ring;
	tp(l)->tag = tag;
	if (!ring)
		tp(l)->defer_submit = false;
}

void tap_defer_submit(struct link *l, bool on)
{
	struct tap *t = tp(l);

	t->defer_submit = on && t->ring;
	if (!t->defer_submit)
		tap_submit_prepared(t);
}

static void tap_destroy(struct link *l)
{
	struct tap *t = tp(l);

	/* non-persistent: closing the last fd removes the device */
	if (t->fd >= 0)
		close(t->fd);
	if (t->pool)
		munmap(t->pool, TAP_TX_SLOTS * t->slot_size);
	free(t);
}

static const struct link_ops tap_ops = {
	.tx = tap_tx,
	.flush = tap_flush,
	.destroy = tap_destroy,
};

static int if_ioctl(int sock, unsigned long req, struct ifreq *ifr, const char *what,
		    char *err, size_t errlen)
{
	if (ioctl(sock, req, ifr) < 0) {
		int e = errno;
		snprintf(err, errlen, "%s on %s: %s", what, ifr->ifr_name, strerror(e));
		return -e;
	}
	return 0;
}

static void set_sin(struct sockaddr *sa, uint32_t addr)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = addr };

	memcpy(sa, &sin, sizeof(sin));
}

/* The kernel side of the TAP: address, netmask, MTU, up. */
static int configure_kernel_side(const struct tap_config *cfg, const char *ifname,
				 char *err, size_t errlen)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

	if (s < 0) {
		r = -errno;
		snprintf(err, errlen, "socket: %s", strerror(-r));
		return r;
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strnlen(ifname, IFNAMSIZ - 1));
	ifr.ifr_mtu = (int)cfg->mtu;
	r = if_ioctl(s, SIOCSIFMTU, &ifr, "SIOCSIFMTU", err, errlen);
	if (!r) {
		ifr.ifr_qlen = TAP_TXQLEN;
		r = if_ioctl(s, SIOCSIFTXQLEN, &ifr, "SIOCSIFTXQLEN", err, errlen);
	}
	if (!r && cfg->peer_addr) {
		set_sin(&ifr.ifr_addr, cfg->peer_addr);
		r = if_ioctl(s, SIOCSIFADDR, &ifr, "SIOCSIFADDR", err, errlen);
		if (!r) {
			set_sin(&ifr.ifr_netmask, cfg->peer_mask);
			r = if_ioctl(s, SIOCSIFNETMASK, &ifr, "SIOCSIFNETMASK", err, errlen);
		}
	}
	if (!r)
		r = if_ioctl(s, SIOCGIFFLAGS, &ifr, "SIOCGIFFLAGS", err, errlen);
	if (!r) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		r = if_ioctl(s, SIOCSIFFLAGS, &ifr, "SIOCSIFFLAGS", err, errlen);
	}
	close(s);
	return r;
}

int tap_open(const struct tap_config *cfg, struct link **out, char *err, size_t errlen)
{
	static const unsigned offload_tries[] = {
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
		TUN_F_CSUM | TUN_F_TSO4,
		TUN_F_CSUM,
		0,
	};
	struct ifreq ifr;
	struct tap *t;
	int hdrsz = TAP_VNET_HDR_LEN, r, tries;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		r = -errno;
		if (r == -EPERM || r == -EACCES)
			snprintf(err, errlen, "cannot open /dev/net/tun: %s (creating a TAP needs "
				 "CAP_NET_ADMIN: run as root)", strerror(-r));
		else
			snprintf(err, errlen, "cannot open /dev/net/tun: %s (is the tun module "
				 "loaded?)", strerror(-r));
		goto fail;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", cfg->ifname);
	/* IFF_TUN_EXCL: never attach to someone else's persistent TAP of that name
	 * (0x8000: the sign bit of the short ifr_flags, hence the cast) */
	ifr.ifr_flags = (short)(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_TUN_EXCL);
	/* A TAP just released by a process that used io_uring may stay busy while the
	 * kernel tears its ring down (deferred): retry for about a second. */
	for (tries = 0;; tries++) {
		if (ioctl(t->fd, TUNSETIFF, &ifr) == 0)
			break;
		r = -errno;
		if (r == -EBUSY && tries < 50) {
			nanosleep(&(struct timespec){ .tv_nsec = 20000000 }, NULL);
			continue;
		}
		if (r == -EPERM)
			snprintf(err, errlen, "creating TAP %s: %s (creating a TAP needs "
				 "CAP_NET_ADMIN: run as root)", cfg->ifname, strerror(-r));
		else if (r == -EBUSY || r == -EEXIST)
			snprintf(err, errlen, "creating TAP %s: the name is in use by another "
				 "device or process (choose another with --ifname)", cfg->ifname);
		else
			snprintf(err, errlen, "creating TAP %s: %s", cfg->ifname, strerror(-r));
		goto fail;
	}
	memcpy(t->link.name, ifr.ifr_name, IFNAMSIZ); /* NUL-terminated by the kernel */
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdrsz) < 0) {
		r = -errno;
		snprintf(err, errlen, "TUNSETVNETHDRSZ on %s: %s", t->link.name, strerror(-r));
		goto fail;
	}
	/* Always set the offloads explicitly, 0 included: they survive on a TAP, and a
	 * reader that did not ask for them must not get partial checksums. */
	for (size_t i = cfg->offload ? 0 : 3; i < sizeof(offload_tries) / sizeof(offload_tries[0]); i++) {
		if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)offload_tries[i]) == 0) {
			t->offloads = offload_tries[i];
			break;
		}
		r = -errno;
		if (offload_tries[i] == 0) {
			snprintf(err, errlen, "TUNSETOFFLOAD on %s: %s", t->link.name, strerror(-r));
			goto fail;
		}
		log_info("%s: offloads %#x refused (%s), trying fewer", t->link.name,
			 offload_tries[i], strerror(-r));
	}
	/* CSUM accepted: the kernel may hand us partial checksums and takes ours.
	 * TSO4 accepted: it may hand us GRO frames and takes our TSO frames. */
	if (t->offloads & TUN_F_CSUM)
		t->link.features |= LINK_F_TX_CSUM | LINK_F_RX_CSUM;
	if ((t->offloads & (TUN_F_CSUM | TUN_F_TSO4)) == (TUN_F_CSUM | TUN_F_TSO4))
		t->link.features |= LINK_F_TSO4 | LINK_F_RX_GRO;
	t->link.features |= LINK_F_TX_EXT;
	t->link.ops = &tap_ops;
	t->link.mtu = cfg->mtu;
	t->slot_size = (t->link.features & LINK_F_TSO4) ? PKT_HEADROOM + PKT_DATA_MAX
							 : (cfg->mtu + 14 + TAP_VNET_HDR_LEN + 63) & ~63u;
	/* lazily backed: untouched slots cost no memory */
	t->pool = mmap(NULL, TAP_TX_SLOTS * t->slot_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->pool == MAP_FAILED) {
		t->pool = NULL;
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory for the transmit pool");
		goto fail;
	}
	for (uint32_t i = 0; i < TAP_TX_SLOTS; i++)
		t->free_stack[t->nfree++] = TAP_TX_SLOTS - 1 - i;
	if (cfg->configure) {
		r = configure_kernel_side(cfg, t->link.name, err, errlen);
		if (r)
			goto fail;
	}
	*out = &t->link;
	return 0;
fail:
	tap_destroy(&t->link);
	return r;
}
