/* netutil.h - frame builders and an engine on a memory link for the network layer tests. */
#ifndef TSK_TESTS_NETUTIL_H
#define TSK_TESTS_NETUTIL_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
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
#include "link/link.h"

#define OUR_IP   htonl(0x0a4d0002)   /* 10.77.0.2, eng_config_default */
#define PEER_IP  htonl(0x0a4d0001)   /* 10.77.0.1, also the gateway */
#define PEER2_IP htonl(0x0a4d0003)
#define FAR_IP   htonl(0x0a4e0009)   /* 10.78.0.9: off-link */
#define BCAST_IP htonl(0x0a4d00ff)

static const uint8_t OUR_MAC[6] = { 0x02, 0x74, 0x73, 0x6b, 0x00, 0x02 };
static const uint8_t PEER_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t PEER2_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x03 };

struct tnet {
	struct eng *eng;
	struct link *link;
	uint64_t now;           /* the fake clock */
};

static inline struct tnet tnet_new_mtu(uint32_t mtu)
{
	struct eng_config cfg;
	struct tnet t;

	eng_config_default(&cfg);
	t.now = SEC(1000);
	t.link = memlink_new(mtu, 0);
	t.eng = eng_new(&cfg, t.link, t.now);
	return t;
}
static inline struct tnet tnet_new(void) { return tnet_new_mtu(1500); }

/* A resolved peer, so replies leave at once. */
static inline void tnet_know_peer(struct tnet *t)
{
	arp_insert(t->eng, PEER_IP, PEER_MAC, t->now);
}

static inline void tnet_free(struct tnet *t)
{
	eng_free(t->eng);
	link_destroy(t->link);
}

static inline uint64_t drops(const struct tnet *t, enum drop_reason r) { return t->eng->stats.drop[r]; }
#define CNT(t, name) ((t)->eng->stats.cnt[CNT_##name])

static inline uint64_t total_drops(const struct tnet *t)
{
	uint64_t n = 0;
	for (int i = 1; i < DROP__MAX; i++)
		n += t->eng->stats.drop[i];
	return n;
}

static inline void tnet_in(struct tnet *t, const uint8_t *f, size_t len)
{
	eng_input(t->eng, f, len, 0, t->now);
}

static inline struct memlink_frame *tnet_pop(struct tnet *t) { return memlink_pop(t->link); }

/* ---- builders: each writes at buf and returns the bytes written ---- */

static inline size_t mk_eth(uint8_t *buf, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	put_be16(buf + 12, type);
	return 14;
}

struct ipspec {
	uint32_t src, dst;
	uint8_t proto, ttl, tos;
	uint16_t id, frag;
	const uint8_t *opt;
	size_t optlen;          /* multiple of 4 */
};

static inline struct ipspec ipspec_default(uint8_t proto)
{
	return (struct ipspec){ .src = PEER_IP, .dst = OUR_IP, .proto = proto, .ttl = 64,
				.id = 0x1234 };
}

/* IPv4 header (+options) with a right checksum, then the payload. */
static inline size_t mk_ip(uint8_t *buf, const struct ipspec *s, const void *payload, size_t plen)
{
	size_t hl = 20 + s->optlen;

	buf[0] = (uint8_t)(0x40 | (hl / 4));
	buf[1] = s->tos;
	put_be16(buf + 2, (uint16_t)(hl + plen));
	put_be16(buf + 4, s->id);
	put_be16(buf + 6, s->frag);
	buf[8] = s->ttl;
	buf[9] = s->proto;
	put_be16(buf + 10, 0);
	memcpy(buf + 12, &s->src, 4);
	memcpy(buf + 16, &s->dst, 4);
	if (s->optlen)
		memcpy(buf + 20, s->opt, s->optlen);
	put_be16(buf + 10, csum_fold(csum_partial(buf, hl, 0)));
	if (plen)
		memmove(buf + hl, payload, plen);
	return hl + plen;
}

/* An ICMP message with its checksum. */
static inline size_t mk_icmp(uint8_t *buf, uint8_t type, uint8_t code, uint32_t rest,
			     const void *data, size_t dlen)
{
	buf[0] = type;
	buf[1] = code;
	put_be16(buf + 2, 0);
	put_be32(buf + 4, rest);
	if (dlen)
		memmove(buf + 8, data, dlen);
	put_be16(buf + 2, csum_fold(csum_partial(buf, 8 + dlen, 0)));
	return 8 + dlen;
}

/* Ethernet(peer -> us) + IPv4 + payload: the usual inbound frame. */
static inline size_t mk_frame_ip(uint8_t *buf, const struct ipspec *s, const void *payload, size_t plen)
{
	size_t n = mk_eth(buf, OUR_MAC, PEER_MAC, ETH_TYPE_IPV4);
	return n + mk_ip(buf + n, s, payload, plen);
}

/* An echo request frame from the peer with `dlen` bytes of patterned data. */
static inline size_t mk_ping(uint8_t *buf, uint16_t id, uint16_t seq, size_t dlen)
{
	uint8_t *icmp = malloc(8 + dlen);
	for (size_t i = 0; i < dlen; i++)
		icmp[8 + i] = (uint8_t)(i * 7 + seq);
	size_t il = mk_icmp(icmp, ICMP_ECHO, 0, (uint32_t)id << 16 | seq, icmp + 8, dlen);
	struct ipspec s = ipspec_default(IP_PROTO_ICMP);
	size_t n = mk_frame_ip(buf, &s, icmp, il);
	free(icmp);
	return n;
}

static inline size_t mk_arp(uint8_t *buf, uint16_t op, const uint8_t *sha, uint32_t spa,
			    const uint8_t *tha, uint32_t tpa)
{
	put_be16(buf, 1);
	put_be16(buf + 2, 0x0800);
	buf[4] = 6;
	buf[5] = 4;
	put_be16(buf + 6, op);
	memcpy(buf + 8, sha, 6);
	memcpy(buf + 14, &spa, 4);
	memcpy(buf + 18, tha, 6);
	memcpy(buf + 24, &tpa, 4);
	return 28;
}

static inline size_t mk_frame_arp(uint8_t *buf, const uint8_t *eth_dst, uint16_t op,
				  const uint8_t *sha, uint32_t spa, const uint8_t *tha, uint32_t tpa)
{
	size_t n = mk_eth(buf, eth_dst, sha, ETH_TYPE_ARP);
	return n + mk_arp(buf + n, op, sha, spa, tha, tpa);
}

/* Checks on transmitted frames. */
static inline bool ip_hdr_csum_ok(const uint8_t *ip)
{
	return csum_fold(csum_partial(ip, (size_t)(ip[0] & 0xf) * 4, 0)) == 0;
}

static inline uint32_t be32_at(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

#endif
