/* tap.h - the TAP link: a Linux TAP device with the virtio-net header, written
 * through io_uring (Documentation/networking/tuntap.rst; virtio spec 5.1.6).
 *
 * tap_open() creates the (non-persistent) device, negotiates offloads and gives
 * the kernel side its address. Transmit copies each frame, behind a virtio-net
 * header built from pkt->off, into a slot of a fixed pool; flush queues one write
 * SQE per frame on the loop's ring and submits them together. A frame whose
 * payload is left in place (pkt->ext, LINK_F_TX_EXT) is written at once. Receive is driven
 * by the loop (loop.c), which reads into its provided buffers and uses
 * tap_rx_decode() to strip the header. */
#ifndef TSK_LINK_TAP_H
#define TSK_LINK_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/stats.h"
#include "link/link.h"

struct io_uring;

#define TAP_VNET_HDR_LEN 10u  /* sizeof(struct virtio_net_hdr), no mergeable buffers */

struct tap_config {
	char ifname[16];      /* IFNAMSIZ */
	uint32_t mtu;         /* IP MTU of both sides */
	bool offload;         /* ask CSUM/TSO offloads (false: TUNSETOFFLOAD 0) */
	bool configure;       /* set the kernel side's address, mtu, up */
	uint32_t peer_addr;   /* kernel-side address, be32; 0: bring up without one */
	uint32_t peer_mask;   /* be32 */
};

/* Create the TAP. 0 and *out, or -errno with a sentence for the user in err. */
int tap_open(const struct tap_config *cfg, struct link **out, char *err, size_t errlen);
int tap_fd(const struct link *l);
/* The TUNSETOFFLOAD flags the kernel accepted (TUN_F_*). */
unsigned tap_offloads(const struct link *l);

/* Flush submits its writes on this ring; each write's user_data is
 * tag | slot index (tag's low 32 bits zero). */
void tap_attach_ring(struct link *l, struct io_uring *ring, uint64_t tag);
/* on: flush only prepares the writes, the loop submits them with its own wait
 * (one io_uring_enter per turn); frames written directly submit them first.
 * off: what was prepared is submitted now, and every flush submits. */
void tap_defer_submit(struct link *l, bool on);
/* A write completed (res as in the CQE). Returns 0, or -errno when it failed
 * (the caller counts LINK_TX_ERRORS). */
int tap_tx_complete(struct link *l, uint32_t slot, int res);
/* Frames written with a plain writev() because every pool slot was busy. */
uint64_t tap_sync_writes(const struct link *l);

/* Strip the virtio-net header of a received buffer. DROP_NONE and the Ethernet
 * frame in *frame, *flen with LINK_RX_ flags in *rxflags, or DROP_LINK_BAD_VNET_HDR. */
enum drop_reason tap_rx_decode(const uint8_t *buf, size_t len, const uint8_t **frame,
			       size_t *flen, unsigned *rxflags);
/* Build the virtio-net header for a frame to send (pure; exposed for tests). */
void tap_vnet_hdr_from_off(const struct pkt_off *off, uint8_t out[TAP_VNET_HDR_LEN]);

#endif
