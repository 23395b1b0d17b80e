/* ip.h - IPv4 input and output (RFC 791, RFC 1122 3.2.1, RFC 815 reassembly).
 *
 * Addresses are kept in network byte order (uint32_t "be32") everywhere. */
#ifndef TSK_IP_IP_H
#define TSK_IP_IP_H

#include <stddef.h>
#include <stdint.h>

#include "base/pkt.h"
#include "base/stats.h"

struct eng;

/* What a transport needs of the IP header it arrived in. */
struct ip_info {
	uint32_t src, dst;   /* be32 */
	uint8_t proto;
	uint8_t ttl;
	uint8_t tos;
	uint16_t id;
	uint16_t hdr_len;    /* IPv4 header bytes, options included */
	uint16_t total_len;  /* header + payload */
	unsigned rxflags;    /* LINK_RX_* of the frame */
};

struct ip_state;
struct ip_state *ip_new(struct eng *eng);
void ip_free(struct ip_state *ip);

/* An IPv4 packet from Ethernet (pkt starts at the IP header). */
enum drop_reason ip_input(struct eng *eng, const uint8_t *pkt, size_t len,
			  unsigned rxflags, uint64_t now);

/* Send p (p->data = transport header, p->len its length) from src to dst.
 * Adds the IPv4 header, routes (on-link or via the gateway), resolves the next
 * hop with ARP (queueing p while it waits) and hands the frame to the link.
 * Returns 0, or -errno (-EHOSTUNREACH, -ENETUNREACH, -ENOBUFS, -EMSGSIZE). */
int ip_output(struct eng *eng, struct pkt *p, uint8_t proto, uint32_t src,
	      uint32_t dst, uint8_t tos, uint64_t now);

/* Timers: fragment reassembly timeouts. Returns the next deadline. */
uint64_t ip_poll(struct eng *eng, uint64_t now);

#endif
