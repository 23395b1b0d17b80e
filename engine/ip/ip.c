/* ip.c - IPv4 input, routing and output (RFC 791, RFC 1122 3.2.1 and 3.3, RFC 894). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "base/csum.h"
#include "base/time.h"
#include "eng.h"
#include "eth/arp.h"
#include "eth/eth.h"
#include "ip/icmp.h"
#include "ip/ip.h"
#include "ip/ip_priv.h"
#include "tcp/tcp.h"

#define IP_DEFAULT_TTL 64     /* Linux ip_default_ttl */
#define IP_LO_QUEUE_MAX 1000  /* packets to ourselves waiting for ip_poll (txqueuelen) */

#define IPOPT_EOL  0
#define IPOPT_NOP  1
#define IPOPT_LSRR 0x83
#define IPOPT_SSRR 0x89

enum drop_reason ip_parse(const uint8_t *pkt, size_t len, struct ip_hdr *h)
{
	if (len < IP_HLEN)
		return DROP_IP_TOO_SHORT;
	if (pkt[0] >> 4 != 4)
		return DROP_IP_BAD_VERSION;
	h->ihl = (uint8_t)((pkt[0] & 0x0f) * 4);
	if (h->ihl < IP_HLEN || h->ihl > len)
		return DROP_IP_BAD_IHL;
	h->tos = pkt[1];
	h->total_len = get_be16(pkt + 2);
	/* RFC 1122 3.2.1.8 / Linux ip_rcv_core: total length within the frame;
	 * anything after it is link padding, trimmed by the caller. */
	if (h->total_len < h->ihl || h->total_len > len)
		return DROP_IP_BAD_LENGTH;
	h->id = get_be16(pkt + 4);
	h->frag = get_be16(pkt + 6);
	h->ttl = pkt[8];
	h->proto = pkt[9];
	h->csum = get_be16(pkt + 10);
	memcpy(&h->src, pkt + 12, 4);
	memcpy(&h->dst, pkt + 16, 4);
	return DROP_NONE;
}

void ip_emit(uint8_t *at, const struct ip_hdr *h)
{
	at[0] = 0x45;
	at[1] = h->tos;
	put_be16(at + 2, h->total_len);
	put_be16(at + 4, h->id);
	put_be16(at + 6, h->frag);
	at[8] = h->ttl;
	at[9] = h->proto;
	put_be16(at + 10, 0);
	memcpy(at + 12, &h->src, 4);
	memcpy(at + 16, &h->dst, 4);
	put_be16(at + 10, csum_fold(csum_partial(at, IP_HLEN, 0)));
}

struct ip_state *ip_new(struct eng *eng)
{
	struct ip_state *ip = calloc(1, sizeof(*ip));

	if (!ip)
		return NULL;
	ip->reasm = ip__reasm_new();
	if (!ip->reasm) {
		free(ip);
		return NULL;
	}
	/* Start the identification counter somewhere not predictable across runs
	 * (the secret is random in the daemon, fixed in tests). */
	ip->next_id = (uint16_t)(eng->cfg.secret[0] ^ eng->cfg.secret[1]);
	ip->lo_tail = &ip->lo_head;
	ip->rl_global_tokens = UINT64_MAX / 2; /* full: rl_take caps it at the burst */
	return ip;
}

void ip_free(struct ip_state *ip)
{
	struct ip_lo_pkt *q;

	if (!ip)
		return;
	while ((q = ip->lo_head)) {
		ip->lo_head = q->next;
		free(q);
	}
	ip__reasm_free(ip->reasm);
	free(ip);
}

/* RFC 791 3.1 option format: EOL and NOP are single octets; every other option
 * is type, length (>= 2, counting type and length), data, and must end within
 * the header. Returns 0, or -EINVAL with *bad at the offending octet. */
static int ip_options_check(const uint8_t *opt, size_t olen, size_t *bad, bool *srr)
{
	size_t i = 0;

	while (i < olen) {
		uint8_t t = opt[i];

		if (t == IPOPT_EOL)
			break;
		if (t == IPOPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= olen) {
			*bad = i;
			return -EINVAL;
		}
		uint8_t l = opt[i + 1];
		if (l < 2 || i + l > olen) {
			*bad = i + 1;
			return -EINVAL;
		}
		if (t == IPOPT_LSRR || t == IPOPT_SSRR)
			*srr = true;
		i += l;
	}
	return 0;
}

enum drop_reason ip_input(struct eng *eng, const uint8_t *pkt, size_t len,
			  unsigned rxflags, uint64_t now)
{
	struct ip_hdr h;
	enum drop_reason why;
	uint32_t addr = eng->cfg.addr;
	uint32_t bcast = addr | ~eng->cfg.netmask;

	eng_count(eng, IP_RX_PACKETS);
	why = ip_parse(pkt, len, &h);
	if (why != DROP_NONE)
		return why;
	/* Ethernet pads short packets to 60 bytes: the total length is the truth. */
	len = h.total_len;
	/* RFC 1122 3.2.1.2: "A host MUST verify the IP header checksum on every
	 * received datagram and silently discard every datagram that has a bad
	 * checksum." */
	if (csum_fold(csum_partial(pkt, h.ihl, 0)) != 0)
		return DROP_IP_BAD_CSUM;
	/* RFC 1122 3.2.1.3: a host MUST silently discard a datagram whose source
	 * is not a valid unicast address (0, broadcast, multicast, loopback from
	 * the wire); and one claiming our own address is a martian for Linux. */
	if (h.src == 0 || h.src == 0xffffffffu || h.src == bcast || h.src == addr ||
	    ip__is_multicast(h.src) || ip__is_loopback(h.src))
		return DROP_IP_BAD_SRC;
	if (h.dst != addr) {
		/* Broadcast and multicast would go to UDP or raw sockets, which we do
		 * not have, and Linux ignores broadcast echo requests
		 * (icmp_echo_ignore_broadcasts=1): nothing here would consume them. */
		if (h.dst == 0xffffffffu || h.dst == bcast || ip__is_multicast(h.dst))
			return DROP_IP_BCAST;
		/* we are a host (RFC 1122 3.3.4: no forwarding) */
		return DROP_IP_NOT_FOR_US;
	}
	/* TTL: Linux's ip_rcv does not look at the TTL of a packet delivered
	 * locally (only forwarding decrements and checks it), so neither do we:
	 * a TTL of 0 addressed to us is accepted. */
	if (h.ihl > IP_HLEN) {
		size_t bad = 0;
		bool srr = false;

		eng_count(eng, IP_RX_OPTIONS);
		if (ip_options_check(pkt + IP_HLEN, h.ihl - IP_HLEN, &bad, &srr) < 0) {
			/* Linux ip_options_compile: parameter problem pointing at
			 * the bad octet (RFC 1122 3.2.2.5) */
			icmp_send_error_info(eng, ICMP_PARAMETERPROB, 0,
					     (uint32_t)(IP_HLEN + bad) << 24, pkt, len, now);
			return DROP_IP_BAD_OPTIONS;
		}
		/* RFC 1122 3.3.5 leaves source routing to configuration; Linux's
		 * accept_source_route=0 drops such packets. Other options are
		 * validated and skipped (RFC 1122 3.2.1.8: "MUST ignore" unknown). */
		if (srr)
			return DROP_IP_SOURCE_ROUTE;
	}
	if (h.frag & (IP_MF | IP_OFFMASK)) {
		eng_count(eng, IP_FRAGS_RX);
		return ip__reasm_input(eng, pkt, &h, now);
	}
	return ip__deliver(eng, pkt, &h, rxflags, now);
}

static enum drop_reason udp_input(struct eng *eng, const uint8_t *pkt, const struct ip_hdr *h,
				  unsigned rxflags, uint64_t now)
{
	const uint8_t *u = pkt + h->ihl;
	size_t len = (size_t)h->total_len - h->ihl;

	/* RFC 768 length and checksum, as Linux __udp4_lib_rcv checks them before
	 * it looks for a socket: a bad datagram gets no port unreachable. */
	if (len < 8 || get_be16(u + 4) < 8 || get_be16(u + 4) > len)
		return DROP_IP_UDP_BAD;
	len = get_be16(u + 4);
	if (get_be16(u + 6) != 0 && !(rxflags & LINK_RX_CSUM_OK) &&
	    csum_fold(csum_partial(u, len, csum_pseudo(h->src, h->dst, IP_PROTO_UDP,
						       (uint16_t)len))) != 0)
		return DROP_IP_UDP_BAD;
	/* RFC 1122 4.1.3.1: no socket -> ICMP port unreachable */
	icmp_send_error(eng, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, pkt, h->total_len, now);
	return DROP_IP_UDP_NO_PORT;
}

enum drop_reason ip__deliver(struct eng *eng, const uint8_t *pkt, const struct ip_hdr *h,
			     unsigned rxflags, uint64_t now)
{
	struct ip_info info = {
		.src = h->src, .dst = h->dst, .proto = h->proto, .ttl = h->ttl,
		.tos = h->tos, .id = h->id, .hdr_len = h->ihl, .total_len = h->total_len,
		.rxflags = rxflags,
	};
	const uint8_t *l4 = pkt + h->ihl;
	size_t l4len = (size_t)h->total_len - h->ihl;

	switch (h->proto) {
	case IP_PROTO_ICMP:
		return icmp_input(eng, &info, l4, l4len, now);
	case IP_PROTO_TCP:
		return tcp_input(eng, &info, l4, l4len, now);
	case IP_PROTO_UDP:
		return udp_input(eng, pkt, h, rxflags, now);
	default:
		/* RFC 1122 3.2.2.1: protocol unreachable */
		icmp_send_error(eng, ICMP_DEST_UNREACH, ICMP_PROT_UNREACH, pkt, h->total_len, now);
		return DROP_IP_UNKNOWN_PROTO;
	}
}

/* Where a frame goes on the link: a next hop to resolve, or a fixed MAC. */
struct ip_route {
	uint32_t nexthop;         /* be32, 0 when mac is fixed */
	uint8_t mac[ETH_ALEN];
};

static int ip_route(struct eng *eng, uint32_t dst, struct ip_route *rt)
{
	uint32_t addr = eng->cfg.addr, mask = eng->cfg.netmask;

	rt->nexthop = 0;
	if (dst == 0xffffffffu || dst == (addr | ~mask)) {
		memcpy(rt->mac, eth_broadcast, ETH_ALEN);
		return 0;
	}
	if (ip__is_multicast(dst)) {
		/* RFC 1112 6.4: 01:00:5e + low 23 bits of the group */
		uint32_t g = ntohl(dst);
		uint8_t m[ETH_ALEN] = { 0x01, 0x00, 0x5e, (g >> 16) & 0x7f, (g >> 8) & 0xff, g & 0xff };

		memcpy(rt->mac, m, ETH_ALEN);
		return 0;
	}
	if (((dst ^ addr) & mask) == 0) {
		rt->nexthop = dst;
		return 0;
	}
	if (eng->cfg.gateway) {
		rt->nexthop = eng->cfg.gateway;
		return 0;
	}
	return -ENETUNREACH;
}

static int ip_xmit(struct eng *eng, struct pkt *p, const struct ip_route *rt, uint64_t now)
{
	eng_count(eng, IP_TX_PACKETS);
	if (rt->nexthop)
		return arp_output(eng, p, rt->nexthop, now);
	return eth_output(eng, p, rt->mac, ETH_TYPE_IPV4);
}

/* RFC 791 3.2 fragmentation: every fragment but the last carries a multiple of
 * 8 bytes; each gets a copy of the header with MF and its offset. */
static int ip_fragment(struct eng *eng, const struct pkt *p, struct ip_hdr *h,
		       const struct ip_route *rt, uint64_t now)
{
	struct pkt *f = &eng->ip->frag;
	uint32_t per = (eng->link->mtu - IP_HLEN) & ~7u;
	int err = 0;

	if (per < 8)
		return -EMSGSIZE;
	for (uint32_t off = 0; off < p->len; off += per) {
		uint32_t n = p->len - off < per ? p->len - off : per;

		pkt_reset(f);
		memcpy(pkt_put(f, n), p->data + off, n);
		h->total_len = (uint16_t)(IP_HLEN + n);
		h->frag = (uint16_t)((off / 8) | (off + n < p->len ? IP_MF : 0));
		ip_emit(pkt_push(f, IP_HLEN), h);
		err = ip_xmit(eng, f, rt, now);
		if (err < 0)
			return err;
	}
	return 0;
}

/* A packet to one of our own addresses never touches the link: it waits in a
 * queue that ip_poll() delivers, so a transport sending to itself is never
 * re-entered from its own output path. */
static int ip_loopback(struct eng *eng, const struct pkt *p)
{
	struct ip_state *ip = eng->ip;
	struct ip_lo_pkt *q;

	if (ip->lo_len >= IP_LO_QUEUE_MAX) {
		eng_drop(eng, DROP_IP_LOOP_FULL);
		return -ENOBUFS;
	}
	q = malloc(sizeof(*q) + p->len);
	if (!q)
		return -ENOBUFS;
	q->next = NULL;
	/* a partial checksum (offload) is as good as verified on loopback */
	q->rxflags = (p->off.flags & (PKT_OFF_CSUM | PKT_OFF_TSO4)) ? LINK_RX_CSUM_OK : 0;
	q->len = p->len;
	memcpy(q->data, p->data, p->len);
	*ip->lo_tail = q;
	ip->lo_tail = &q->next;
	ip->lo_len++;
	eng_count(eng, IP_TX_PACKETS);
	return 0;
}

int ip_output(struct eng *eng, struct pkt *p, uint8_t proto, uint32_t src,
	      uint32_t dst, uint8_t tos, uint64_t now)
{
	struct ip_route rt;
	struct ip_hdr h = {
		.ihl = IP_HLEN, .tos = tos, .ttl = IP_DEFAULT_TTL, .proto = proto,
		.src = src ? src : eng->cfg.addr, .dst = dst,
	};
	bool tso = p->off.flags & PKT_OFF_TSO4;
	uint32_t total = p->len + IP_HLEN;

	if (total > IP_MAXPACKET)
		return -EMSGSIZE;
	/* Linux sets DF on TCP for path MTU discovery (ip_no_pmtu_disc=0,
	 * RFC 1191); ICMP replies go without it and are fragmented if needed. */
	h.frag = proto == IP_PROTO_TCP ? IP_DF : 0;
	h.id = eng->ip->next_id++;
	h.total_len = (uint16_t)total;
	if (dst == eng->cfg.addr || ip__is_loopback(dst)) {
		pkt_linearize(p);   /* the queue keeps a copy of the whole packet */
		ip_emit(pkt_push(p, IP_HLEN), &h);
		return ip_loopback(eng, p);
	}
	if (ip_route(eng, dst, &rt) < 0) {
		eng_drop(eng, DROP_IP_NO_ROUTE);
		return -ENETUNREACH;
	}
	if (total > eng->link->mtu && !tso) {
		if (h.frag & IP_DF)
			return -EMSGSIZE;
		if (p->off.flags & PKT_OFF_CSUM)
			return -EMSGSIZE; /* a partial checksum cannot be split */
		return ip_fragment(eng, p, &h, &rt, now);
	}
	ip_emit(pkt_push(p, IP_HLEN), &h);
	return ip_xmit(eng, p, &rt, now);
}

int ip_loopback_pending(const struct eng *eng) { return eng->ip->lo_head != NULL; }

uint64_t ip_poll(struct eng *eng, uint64_t now)
{
	struct ip_state *ip = eng->ip;
	unsigned n = ip->lo_len;

	/* deliver what was queued before this call; replies wait for the next */
	while (n-- && ip->lo_head) {
		struct ip_lo_pkt *q = ip->lo_head;
		struct ip_hdr h;

		ip->lo_head = q->next;
		if (!ip->lo_head)
			ip->lo_tail = &ip->lo_head;
		ip->lo_len--;
		eng_count(eng, IP_RX_PACKETS);
		if (ip_parse(q->data, q->len, &h) == DROP_NONE)
			eng_drop(eng, ip__deliver(eng, q->data, &h, q->rxflags, now));
		free(q);
	}
	uint64_t next = ip__reasm_poll(eng, now);
	if (ip->lo_head)
		next = now;
	return next;
}
