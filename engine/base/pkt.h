/* pkt.h - the transmit packet buffer: headers are pushed in front of the payload.
 *
 * A layer writes its payload at pkt->data, then each lower layer pkt_push()es its
 * header (skb_push style), so a TCP segment becomes an Ethernet frame without a
 * copy. `off` asks the link for checksum or segmentation offload; a link without
 * those features never sees a request for them (the layers check link->features).
 * Received frames are not pkts: they are parsed in place as (const uint8_t *, len).
 *
 * A large TCP payload may stay where it lies (TCP's send queue) instead of being
 * copied behind the headers: p->ext spans follow the bytes at p->data, and p->len
 * counts them. Only a link with LINK_F_TX_EXT sees such a pkt (it takes the bytes
 * before its tx() returns); whoever keeps or reads a frame calls pkt_linearize()
 * first (loopback, the ARP queue, links without the feature). */
#ifndef TSK_BASE_PKT_H
#define TSK_BASE_PKT_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#define PKT_HEADROOM 160u            /* vnet hdr + Ethernet + IPv4 with options + TCP */
#define PKT_DATA_MAX 65536u

/* offload request, mirrors struct virtio_net_hdr */
enum { PKT_OFF_NONE = 0, PKT_OFF_CSUM = 1 << 0, PKT_OFF_TSO4 = 1 << 1 };

struct pkt_off {
	uint8_t flags;        /* PKT_OFF_* */
	uint16_t csum_start;  /* from the start of the Ethernet frame */
	uint16_t csum_offset; /* from csum_start to the checksum field */
	uint16_t gso_size;    /* MSS for TSO */
	uint16_t hdr_len;     /* Ethernet + IP + TCP header length for TSO */
};

struct pkt {
	uint8_t *data;        /* start of the current layer */
	uint32_t len;         /* bytes from data to the end */
	struct pkt_off off;
	uint32_t ext_len;     /* the last ext_len bytes of len are in ext, not in buf */
	uint32_t next;        /* spans in ext */
	struct iovec ext[2];
	uint8_t buf[PKT_HEADROOM + PKT_DATA_MAX];
};

static inline void pkt_reset(struct pkt *p)
{
	p->data = p->buf + PKT_HEADROOM;
	p->len = 0;
	p->off = (struct pkt_off){ 0 };
	p->ext_len = 0;
	p->next = 0;
}

/* Copy the payload spans behind the headers, so that p->data holds p->len bytes. */
static inline void pkt_linearize(struct pkt *p)
{
	uint8_t *at = p->data + (p->len - p->ext_len);

	for (uint32_t i = 0; i < p->next; i++) {
		assert(at + p->ext[i].iov_len <= p->buf + sizeof(p->buf));
		memcpy(at, p->ext[i].iov_base, p->ext[i].iov_len);
		at += p->ext[i].iov_len;
	}
	p->ext_len = 0;
	p->next = 0;
}

/* Room for n more bytes of payload at the end; returns where to write them. */
static inline uint8_t *pkt_put(struct pkt *p, uint32_t n)
{
	uint8_t *at = p->data + p->len;
	assert(at + n <= p->buf + sizeof(p->buf));
	p->len += n;
	return at;
}

/* Prepend n bytes of header; returns the new start. */
static inline uint8_t *pkt_push(struct pkt *p, uint32_t n)
{
	assert(p->data - n >= p->buf);
	p->data -= n;
	p->len += n;
	return p->data;
}

#endif
