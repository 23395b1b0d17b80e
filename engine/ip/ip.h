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

#define IP_HLEN        20      /* header without options */
#define IP_DF          0x4000  /* flags and fragment offset field, host order */
#define IP_MF          0x2000
#define IP_OFFMASK     0x1fff
#define IP_MAXPACKET   65535
#define IP_PROTO_ICMP  1
#define IP_PROTO_TCP   6
#define IP_PROTO_UDP   17

/* Wire format of the IPv4 header. */
struct ip_hdr {
	uint8_t ihl;         /* header length in bytes (IHL * 4), options included */
	uint8_t tos;
	uint16_t total_len;
	uint16_t id;
	uint16_t frag;       /* DF, MF and the offset in 8-byte units, host order */
	uint8_t ttl;
	uint8_t proto;
	uint16_t csum;
	uint32_t src, dst;   /* be32 */
};
/* Length-checked parse: version 4, IHL >= 5 within len, IHL*4 <= total length
 * <= len. Returns DROP_NONE and fills h, or the reason (IP_TOO_SHORT,
 * IP_BAD_VERSION, IP_BAD_IHL, IP_BAD_LENGTH). The checksum is not checked. */
enum drop_reason ip_parse(const uint8_t *pkt, size_t len, struct ip_hdr *h);
/* Emit a 20-byte header (h->ihl is taken as 20) with its checksum computed. */
void ip_emit(uint8_t *at, const struct ip_hdr *h);

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

/* Timers: fragment reassembly timeouts; also delivers the packets sent to our
 * own address (or 127/8) since the last call. Returns the next deadline (`now`
 * while packets to ourselves wait). */
uint64_t ip_poll(struct eng *eng, uint64_t now);
/* Packets to ourselves wait for the next ip_poll() (eng_poll() then returns now). */
int ip_loopback_pending(const struct eng *eng);

#endif
