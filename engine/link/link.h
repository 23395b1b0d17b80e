/* link.h - the link: a small ops table under the engine (lwIP netif->linkoutput).
 *
 * Implementations: the TAP on io_uring (link/tap.c, production), the memory link
 * (link/memlink.c, tests), and a pcap writer that wraps any link (link/pcap.c).
 * Transmit is queue-then-flush so that the TAP link can batch one loop turn of
 * frames into one io_uring submission. Receive is not an op: whoever drives the
 * link (the loop, or a test) hands frames to eng_input(). */
#ifndef TSK_LINK_LINK_H
#define TSK_LINK_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "base/pkt.h"

/* link->features: what the link can do for us on transmit / tell us on receive */
enum {
	LINK_F_TX_CSUM = 1 << 0, /* accepts PKT_OFF_CSUM (partial checksum) */
	LINK_F_TSO4    = 1 << 1, /* accepts PKT_OFF_TSO4 frames up to 64 KB */
	LINK_F_RX_CSUM = 1 << 2, /* may mark received frames LINK_RX_CSUM_OK */
	LINK_F_RX_GRO  = 1 << 3, /* may deliver received frames larger than the MTU */
	LINK_F_TX_EXT  = 1 << 4, /* tx takes pkts with payload spans (pkt->ext) */
};

/* rxflags given to eng_input() with a received frame */
enum {
	LINK_RX_CSUM_OK = 1 << 0, /* the L4 checksum is known good (or partial: not to be checked) */
};

struct link;

struct link_ops {
	/* Queue one frame (p->data is the Ethernet header). Returns 0 or -errno;
	 * the frame is copied, p may be reused at once. With LINK_F_TX_EXT, the
	 * payload spans p->ext are taken too (copied or written) before it returns. */
	int (*tx)(struct link *l, const struct pkt *p);
	/* Send what tx queued. Returns frames sent or -errno. */
	int (*flush)(struct link *l);
	void (*destroy)(struct link *l);
};

struct link {
	const struct link_ops *ops;
	char name[32];
	uint32_t mtu;       /* IP MTU, 1500 on Ethernet */
	uint32_t features;  /* LINK_F_* */
};

static inline int link_tx(struct link *l, const struct pkt *p) { return l->ops->tx(l, p); }
static inline int link_flush(struct link *l) { return l->ops->flush ? l->ops->flush(l) : 0; }
static inline void link_destroy(struct link *l) { if (l && l->ops->destroy) l->ops->destroy(l); }

/* The memory link (tests): transmitted frames queue up in memory, oldest first. */
struct memlink_frame {
	struct memlink_frame *next;
	struct pkt_off off;
	size_t len;
	uint8_t data[];
};
struct link *memlink_new(uint32_t mtu, uint32_t features);
/* Take the oldest transmitted frame (caller frees with free()), or NULL. */
struct memlink_frame *memlink_pop(struct link *l);
size_t memlink_count(const struct link *l);
void memlink_clear(struct link *l);
/* Make tx fail with err (-errno) from now on; 0 restores. */
void memlink_fail(struct link *l, int err);

#endif
