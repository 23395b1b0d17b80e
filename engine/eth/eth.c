/* eth.c - Ethernet II framing and dispatch (IEEE 802.3, RFC 894 for IPv4 over Ethernet). */
#include <errno.h>
#include <string.h>

#include "base/bytes.h"
#include "eng.h"
#include "eth/arp.h"
#include "eth/eth.h"
#include "ip/ip.h"

const uint8_t eth_broadcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

int eth_parse(const uint8_t *frame, size_t len, struct eth_hdr *h)
{
	if (len < ETH_HLEN)
		return -EINVAL;
	memcpy(h->dst, frame, ETH_ALEN);
	memcpy(h->src, frame + 6, ETH_ALEN);
	h->type = get_be16(frame + 12);
	return 0;
}

void eth_emit(uint8_t *at, const struct eth_hdr *h)
{
	memcpy(at, h->dst, ETH_ALEN);
	memcpy(at + 6, h->src, ETH_ALEN);
	put_be16(at + 12, h->type);
}

enum drop_reason eth_input(struct eng *eng, const uint8_t *frame, size_t len,
			   unsigned rxflags, uint64_t now)
{
	struct eth_hdr h;

	if (eth_parse(frame, len, &h) < 0)
		return DROP_ETH_TOO_SHORT;
	/* Like a NIC without promiscuous mode: our unicast address and broadcast.
	 * Linux also takes the multicast groups it joined; we join none (no IGMP,
	 * no IPv6), so every multicast frame is someone else's. */
	if (memcmp(h.dst, eng->cfg.mac, ETH_ALEN) != 0 &&
	    memcmp(h.dst, eth_broadcast, ETH_ALEN) != 0)
		return DROP_ETH_NOT_FOR_US;
	frame += ETH_HLEN;
	len -= ETH_HLEN;
	switch (h.type) {
	case ETH_TYPE_IPV4:
		/* A short packet arrives padded to the 60-byte minimum frame: IP trims
		 * the padding by its total length (RFC 894). */
		return ip_input(eng, frame, len, rxflags, now);
	case ETH_TYPE_ARP:
		return arp_input(eng, frame, len, now);
	case ETH_TYPE_VLAN:
	case ETH_TYPE_QINQ:
		return DROP_ETH_VLAN;
	default:
		/* IPv6, LLC (a type below 0x0600 is an 802.3 length) and the rest */
		return DROP_ETH_UNKNOWN_TYPE;
	}
}

int eth_output(struct eng *eng, struct pkt *p, const uint8_t dst[ETH_ALEN], uint16_t type)
{
	struct eth_hdr h;

	memcpy(h.dst, dst, ETH_ALEN);
	memcpy(h.src, eng->cfg.mac, ETH_ALEN);
	h.type = type;
	eth_emit(pkt_push(p, ETH_HLEN), &h);
	return eng_tx(eng, p);
}
