/* eth.h - Ethernet II framing (IEEE 802.3, RFC 894). */
#ifndef TSK_ETH_ETH_H
#define TSK_ETH_ETH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/pkt.h"
#include "base/stats.h"

#define ETH_HLEN 14
#define ETH_ALEN 6
#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_ARP  0x0806
#define ETH_TYPE_VLAN 0x8100
#define ETH_TYPE_IPV6 0x86dd
#define ETH_TYPE_QINQ 0x88a8  /* 802.1ad outer tag */

struct eng;

/* Wire format: length-checked parse and emit. */
struct eth_hdr {
	uint8_t dst[ETH_ALEN];
	uint8_t src[ETH_ALEN];
	uint16_t type;       /* host order */
};
/* Returns 0 and fills h, or -EINVAL when len < ETH_HLEN. */
int eth_parse(const uint8_t *frame, size_t len, struct eth_hdr *h);
void eth_emit(uint8_t *at, const struct eth_hdr *h);

extern const uint8_t eth_broadcast[ETH_ALEN];
static inline bool eth_is_multicast(const uint8_t *mac) { return mac[0] & 1; }

/* A received frame: checks the destination and dispatches on the ethertype. */
enum drop_reason eth_input(struct eng *eng, const uint8_t *frame, size_t len,
			   unsigned rxflags, uint64_t now);
/* Prepend an Ethernet header from our MAC to dst and transmit. 0 or -errno. */
int eth_output(struct eng *eng, struct pkt *p, const uint8_t dst[ETH_ALEN], uint16_t type);

#endif
