/* arp.c - ARP for IPv4 over Ethernet and the neighbour cache (RFC 826; RFC 5227 probes, RFC 1122 2.3.2). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "base/time.h"
#include "eng.h"
#include "eth/arp.h"
#include "eth/eth.h"

/*
 * Limits, chosen to match Linux's defaults:
 * - ARP_MAX_ENTRIES: a bounded cache (Linux gc_thresh3 is 1024); when full, the
 *   least recently used entry makes room.
 * - Queue per unresolved entry: Linux's unres_qlen_bytes is 212992 bytes of skb
 *   truesize, which is about 101 full-size frames (the old unres_qlen). We count
 *   both packets and IP bytes and, like Linux's __neigh_event_send, drop the
 *   oldest queued packet to make room (counted ARP_QUEUE_FULL).
 * - Resolution: mcast_solicit 3 requests, retrans_time 1 s apart, then the queue
 *   is dropped (counted ARP_UNRESOLVED) and the entry forgotten (Linux FAILED).
 * - An entry older than cfg.arp_timeout is "stale" (Linux NUD_STALE): packets
 *   still go to the known address while up to 3 unicast requests re-check it
 *   (ucast_solicit); without an answer it is removed, and the next packet starts
 *   a fresh broadcast resolution.
 */
#define ARP_MAX_ENTRIES  1024
#define ARP_HASH_SIZE    256
#define ARP_QUEUE_PKTS   101
#define ARP_QUEUE_BYTES  212992
#define ARP_TRIES        3
#define ARP_RETRANS      SEC(1)

#define ARP_HRD_ETHER    1
#define ARP_OP_REQUEST   1
#define ARP_OP_REPLY     2
#define ARP_PKT_LEN      28

/* Wire format of an IPv4-over-Ethernet ARP packet. */
struct arp_hdr {
	uint16_t hrd, pro;
	uint8_t hln, pln;
	uint16_t op;
	uint8_t sha[ETH_ALEN];
	uint32_t spa;            /* be32 */
	uint8_t tha[ETH_ALEN];
	uint32_t tpa;            /* be32 */
};

struct arp_qpkt {
	struct arp_qpkt *next;
	struct pkt_off off;
	uint32_t len;
	uint8_t data[];
};

enum { ARP_S_FREE = 0, ARP_S_INCOMPLETE, ARP_S_REACHABLE };

struct arp_entry {
	uint32_t ip;             /* be32 */
	uint8_t mac[ETH_ALEN];
	uint8_t state;
	uint8_t tries;           /* requests sent in this resolution / probe */
	bool probing;            /* stale entry being re-checked */
	int16_t chain;           /* next index in the hash bucket, -1 at the end */
	uint64_t confirmed;      /* last time the peer proved its address */
	uint64_t used;           /* last time we sent to it (LRU eviction) */
	uint64_t next_retry;
	struct arp_qpkt *qhead, **qtail;
	unsigned qlen;
	size_t qbytes;
};

struct arp_cache {
	struct arp_entry ent[ARP_MAX_ENTRIES];
	int16_t bucket[ARP_HASH_SIZE];
	unsigned count;
	uint64_t next_deadline;  /* earliest retry of any entry, cached for arp_poll */
	struct pkt pkt;          /* scratch for requests, replies and queue flushes */
};

static unsigned arp_hash(uint32_t ip) { return (uint32_t)(ip * 2654435761u) >> 24; }

static bool ip_is_multicast(uint32_t ip_be) { return (ntohl(ip_be) & 0xf0000000u) == 0xe0000000u; }
static bool ip_is_loopback(uint32_t ip_be) { return (ntohl(ip_be) >> 24) == 127; }
static bool mac_is_zero(const uint8_t *m) { return !(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]); }

static int arp_parse(const uint8_t *pkt, size_t len, struct arp_hdr *h, enum drop_reason *why)
{
	if (len < 8) {
		*why = DROP_ARP_TOO_SHORT;
		return -EINVAL;
	}
	h->hrd = get_be16(pkt);
	h->pro = get_be16(pkt + 2);
	h->hln = pkt[4];
	h->pln = pkt[5];
	h->op = get_be16(pkt + 6);
	if (h->hrd != ARP_HRD_ETHER || h->pro != ETH_TYPE_IPV4 || h->hln != ETH_ALEN ||
	    h->pln != 4) {
		*why = DROP_ARP_BAD_FORMAT;
		return -EINVAL;
	}
	if (len < ARP_PKT_LEN) {
		*why = DROP_ARP_TOO_SHORT;
		return -EINVAL;
	}
	memcpy(h->sha, pkt + 8, ETH_ALEN);
	memcpy(&h->spa, pkt + 14, 4);
	memcpy(h->tha, pkt + 18, ETH_ALEN);
	memcpy(&h->tpa, pkt + 24, 4);
	return 0;
}

static void arp_emit(uint8_t *at, const struct arp_hdr *h)
{
	put_be16(at, h->hrd);
	put_be16(at + 2, h->pro);
	at[4] = h->hln;
	at[5] = h->pln;
	put_be16(at + 6, h->op);
	memcpy(at + 8, h->sha, ETH_ALEN);
	memcpy(at + 14, &h->spa, 4);
	memcpy(at + 18, h->tha, ETH_ALEN);
	memcpy(at + 24, &h->tpa, 4);
}

static int arp_send(struct eng *eng, uint16_t op, const uint8_t eth_dst[ETH_ALEN],
		    const uint8_t tha[ETH_ALEN], uint32_t tpa, uint32_t spa)
{
	struct pkt *p = &eng->arp->pkt;
	struct arp_hdr h = {
		.hrd = ARP_HRD_ETHER, .pro = ETH_TYPE_IPV4, .hln = ETH_ALEN, .pln = 4,
		.op = op, .spa = spa, .tpa = tpa,
	};

	memcpy(h.sha, eng->cfg.mac, ETH_ALEN);
	if (tha)
		memcpy(h.tha, tha, ETH_ALEN);
	pkt_reset(p);
	arp_emit(pkt_put(p, ARP_PKT_LEN), &h);
	return eth_output(eng, p, eth_dst, ETH_TYPE_ARP);
}

static void arp_request(struct eng *eng, struct arp_entry *e, bool unicast)
{
	arp_send(eng, ARP_OP_REQUEST, unicast ? e->mac : eth_broadcast, NULL, e->ip,
		 eng->cfg.addr);
	eng_count(eng, ARP_TX_REQUESTS);
}

static struct arp_entry *arp_find(struct arp_cache *arp, uint32_t ip)
{
	for (int i = arp->bucket[arp_hash(ip)]; i >= 0; i = arp->ent[i].chain)
		if (arp->ent[i].ip == ip)
			return &arp->ent[i];
	return NULL;
}

static void arp_queue_drop(struct eng *eng, struct arp_entry *e, enum drop_reason why)
{
	struct arp_qpkt *q;

	while ((q = e->qhead)) {
		e->qhead = q->next;
		eng_drop(eng, why);
		free(q);
	}
	e->qtail = &e->qhead;
	e->qlen = 0;
	e->qbytes = 0;
}

static void arp_remove(struct eng *eng, struct arp_entry *e)
{
	struct arp_cache *arp = eng->arp;
	int16_t idx = (int16_t)(e - arp->ent);
	int16_t *link = &arp->bucket[arp_hash(e->ip)];

	while (*link >= 0 && *link != idx)
		link = &arp->ent[*link].chain;
	if (*link == idx)
		*link = e->chain;
	arp_queue_drop(eng, e, DROP_ARP_UNRESOLVED);
	memset(e, 0, sizeof(*e));
	e->state = ARP_S_FREE;
	e->chain = -1;
	arp->count--;
}

static struct arp_entry *arp_create(struct eng *eng, uint32_t ip, uint64_t now)
{
	struct arp_cache *arp = eng->arp;
	struct arp_entry *e = NULL;

	if (arp->count >= ARP_MAX_ENTRIES) {
		/* full: the least recently used entry goes (its queue, if any, counted) */
		struct arp_entry *old = &arp->ent[0];

		for (unsigned i = 1; i < ARP_MAX_ENTRIES; i++)
			if (arp->ent[i].used < old->used)
				old = &arp->ent[i];
		arp_remove(eng, old);
	}
	for (unsigned i = 0; i < ARP_MAX_ENTRIES; i++)
		if (arp->ent[i].state == ARP_S_FREE) {
			e = &arp->ent[i];
			break;
		}
	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->ip = ip;
	e->used = now;
	e->qtail = &e->qhead;
	unsigned h = arp_hash(ip);
	e->chain = arp->bucket[h];
	arp->bucket[h] = (int16_t)(e - arp->ent);
	arp->count++;
	return e;
}

static void arp_flush(struct eng *eng, struct arp_entry *e)
{
	struct pkt *p = &eng->arp->pkt;
	struct arp_qpkt *q;

	/* in the order they were queued */
	while ((q = e->qhead)) {
		e->qhead = q->next;
		pkt_reset(p);
		memcpy(pkt_put(p, q->len), q->data, q->len);
		p->off = q->off;
		eth_output(eng, p, e->mac, ETH_TYPE_IPV4);
		free(q);
	}
	e->qtail = &e->qhead;
	e->qlen = 0;
	e->qbytes = 0;
}

/* The peer proved its address: learn or refresh, and release what waited for it. */
static void arp_confirm(struct eng *eng, struct arp_entry *e, const uint8_t mac[ETH_ALEN],
			uint64_t now)
{
	memcpy(e->mac, mac, ETH_ALEN);
	e->state = ARP_S_REACHABLE;
	e->confirmed = now;
	e->probing = false;
	e->tries = 0;
	e->next_retry = 0;
	if (e->qhead)
		arp_flush(eng, e);
}

static void arp_arm(struct arp_cache *arp, uint64_t when)
{
	arp->next_deadline = time_min(arp->next_deadline, when);
}

struct arp_cache *arp_new(struct eng *eng)
{
	struct arp_cache *arp = calloc(1, sizeof(*arp));

	(void)eng;
	if (!arp)
		return NULL;
	for (unsigned i = 0; i < ARP_HASH_SIZE; i++)
		arp->bucket[i] = -1;
	for (unsigned i = 0; i < ARP_MAX_ENTRIES; i++)
		arp->ent[i].chain = -1;
	arp->next_deadline = TIME_NEVER;
	return arp;
}

void arp_free(struct arp_cache *arp)
{
	struct arp_qpkt *q;

	if (!arp)
		return;
	for (unsigned i = 0; i < ARP_MAX_ENTRIES; i++)
		while ((q = arp->ent[i].qhead)) {
			arp->ent[i].qhead = q->next;
			free(q);
		}
	free(arp);
}

enum drop_reason arp_input(struct eng *eng, const uint8_t *pkt, size_t len, uint64_t now)
{
	struct arp_cache *arp = eng->arp;
	enum drop_reason why = DROP_NONE;
	struct arp_entry *e;
	struct arp_hdr h;
	bool merged = false;

	/* RFC 826 "Packet Reception": do I have the hardware type, do I speak the
	 * protocol (and, for us, are the lengths those of Ethernet and IPv4)? */
	if (arp_parse(pkt, len, &h, &why) < 0)
		return why;
	if (h.op != ARP_OP_REQUEST && h.op != ARP_OP_REPLY)
		return DROP_ARP_BAD_OP;
	if (h.op == ARP_OP_REQUEST)
		eng_count(eng, ARP_RX_REQUESTS);
	else
		eng_count(eng, ARP_RX_REPLIES);
	/* A sender hardware address must be a station's: never broadcast,
	 * multicast or zero (Linux arp_process drops those too). */
	if (eth_is_multicast(h.sha) || mac_is_zero(h.sha))
		return DROP_ARP_BAD_SENDER;
	if (ip_is_multicast(h.tpa) || ip_is_loopback(h.tpa))
		return DROP_ARP_NOT_FOR_US;
	if (h.spa == 0) {
		/* RFC 5227 2.1.1 probe (sender 0.0.0.0): someone checks whether our
		 * address is free. Answer it as Linux does, to the prober's MAC,
		 * without learning anything. */
		if (h.op == ARP_OP_REQUEST && h.tpa == eng->cfg.addr) {
			arp_send(eng, ARP_OP_REPLY, h.sha, h.sha, 0, eng->cfg.addr);
			eng_count(eng, ARP_TX_REPLIES);
			return DROP_NONE;
		}
		return DROP_ARP_NOT_FOR_US;
	}
	uint32_t bcast = eng->cfg.addr | ~eng->cfg.netmask;
	if (ip_is_multicast(h.spa) || ip_is_loopback(h.spa) || h.spa == 0xffffffffu ||
	    h.spa == bcast || h.spa == eng->cfg.addr)
		return DROP_ARP_BAD_SENDER;

	/* RFC 826: "If the pair <protocol type, sender protocol address> is
	 * already in my translation table, update the sender hardware address
	 * field of the entry with the new information in the packet and set
	 * Merge_flag to true." (this also completes a pending resolution) */
	e = arp_find(arp, h.spa);
	if (e) {
		arp_confirm(eng, e, h.sha, now);
		merged = true;
	}
	/* "?Am I the target protocol address?" */
	if (h.tpa != eng->cfg.addr)
		return merged ? DROP_NONE : DROP_ARP_NOT_FOR_US;
	/* "If Merge_flag is false, add the triplet ... to the translation table."
	 * Linux adds only on a request (a reply we did not ask for is ignored with
	 * arp_accept=0): we do the same. */
	if (!merged) {
		if (h.op != ARP_OP_REQUEST)
			return DROP_ARP_UNSOLICITED;
		e = arp_create(eng, h.spa, now);
		if (e)
			arp_confirm(eng, e, h.sha, now);
	}
	/* "?Is the opcode ares_op$REQUEST? Swap hardware and protocol fields,
	 * putting the local hardware and protocol addresses in the sender fields,
	 * set the ar$op field to ares_op$REPLY, send the packet." */
	if (h.op == ARP_OP_REQUEST) {
		arp_send(eng, ARP_OP_REPLY, h.sha, h.sha, h.spa, eng->cfg.addr);
		eng_count(eng, ARP_TX_REPLIES);
	}
	return DROP_NONE;
}

static int arp_enqueue(struct eng *eng, struct arp_entry *e, const struct pkt *p)
{
	struct arp_qpkt *q = malloc(sizeof(*q) + p->len);

	if (!q)
		return -ENOBUFS;
	q->next = NULL;
	q->off = p->off;
	q->len = p->len;
	memcpy(q->data, p->data, p->len);
	/* over the limit: the oldest goes first, as Linux's __neigh_event_send */
	while (e->qhead && (e->qlen + 1 > ARP_QUEUE_PKTS || e->qbytes + p->len > ARP_QUEUE_BYTES)) {
		struct arp_qpkt *old = e->qhead;

		e->qhead = old->next;
		if (!e->qhead)
			e->qtail = &e->qhead;
		e->qlen--;
		e->qbytes -= old->len;
		free(old);
		eng_drop(eng, DROP_ARP_QUEUE_FULL);
	}
	*e->qtail = q;
	e->qtail = &q->next;
	e->qlen++;
	e->qbytes += p->len;
	return 0;
}

int arp_output(struct eng *eng, struct pkt *p, uint32_t nexthop, uint64_t now)
{
	struct arp_cache *arp = eng->arp;
	struct arp_entry *e = arp_find(arp, nexthop);
	int err;

	if (e && e->state == ARP_S_REACHABLE) {
		e->used = now;
		if (now - e->confirmed >= eng->cfg.arp_timeout && !e->probing) {
			/* stale: keep using it, ask the peer directly (Linux PROBE) */
			e->probing = true;
			e->tries = 1;
			e->next_retry = now + ARP_RETRANS;
			arp_arm(arp, e->next_retry);
			err = eth_output(eng, p, e->mac, ETH_TYPE_IPV4);
			arp_request(eng, e, true);
			return err;
		}
		return eth_output(eng, p, e->mac, ETH_TYPE_IPV4);
	}
	if (!e) {
		e = arp_create(eng, nexthop, now);
		if (!e)
			return -ENOBUFS;
		e->state = ARP_S_INCOMPLETE;
	}
	e->used = now;
	/* p is copied before anything else is sent: it may be eng->tx */
	pkt_linearize(p);
	err = arp_enqueue(eng, e, p);
	if (err < 0)
		return err;
	if (e->tries == 0) {
		arp_request(eng, e, false);
		e->tries = 1;
		e->next_retry = now + ARP_RETRANS;
		arp_arm(arp, e->next_retry);
	}
	return 0;
}

void arp_announce(struct eng *eng, uint64_t now)
{
	(void)now;
	/* Gratuitous ARP in request form (RFC 5227 3: sender = target = our
	 * address, target hardware address zero), broadcast. */
	arp_send(eng, ARP_OP_REQUEST, eth_broadcast, NULL, eng->cfg.addr, eng->cfg.addr);
	eng_count(eng, ARP_TX_GRATUITOUS);
}

uint64_t arp_poll(struct eng *eng, uint64_t now)
{
	struct arp_cache *arp = eng->arp;
	uint64_t next = TIME_NEVER;

	if (now < arp->next_deadline)
		return arp->next_deadline;
	for (unsigned i = 0; i < ARP_MAX_ENTRIES; i++) {
		struct arp_entry *e = &arp->ent[i];

		if (e->state != ARP_S_INCOMPLETE && !e->probing)
			continue;
		if (now >= e->next_retry) {
			if (e->tries >= ARP_TRIES) {
				/* no answer to 3 requests: the queue is dropped and
				 * counted, the entry forgotten */
				arp_remove(eng, e);
				continue;
			}
			arp_request(eng, e, e->probing);
			e->tries++;
			e->next_retry = now + ARP_RETRANS;
		}
		next = time_min(next, e->next_retry);
	}
	arp->next_deadline = next;
	return next;
}

int arp_lookup(struct eng *eng, uint32_t ip, uint8_t mac_out[6], uint64_t now)
{
	struct arp_entry *e = arp_find(eng->arp, ip);

	if (!e || e->state != ARP_S_REACHABLE || now - e->confirmed >= eng->cfg.arp_timeout)
		return -ENOENT;
	memcpy(mac_out, e->mac, ETH_ALEN);
	return 0;
}

void arp_insert(struct eng *eng, uint32_t ip, const uint8_t mac[6], uint64_t now)
{
	struct arp_entry *e = arp_find(eng->arp, ip);

	if (!e)
		e = arp_create(eng, ip, now);
	if (e)
		arp_confirm(eng, e, mac, now);
}
