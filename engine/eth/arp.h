/* arp.h - ARP (RFC 826) for IPv4 over Ethernet, with a neighbour cache.
 *
 * Entries expire (eng->cfg.arp_timeout); a packet for an unresolved next hop waits
 * in a small bounded queue while a request is retried (as Linux: 3 tries, 1 s
 * apart), then is dropped and counted. Gratuitous ARP announces us at start. */
#ifndef TSK_ETH_ARP_H
#define TSK_ETH_ARP_H

#include <stddef.h>
#include <stdint.h>

#include "base/pkt.h"
#include "base/stats.h"

struct eng;
struct arp_cache;

struct arp_cache *arp_new(struct eng *eng);
void arp_free(struct arp_cache *arp);

enum drop_reason arp_input(struct eng *eng, const uint8_t *pkt, size_t len, uint64_t now);
/* Send p (p->data = IPv4 header) to the on-link next hop `nexthop` (be32):
 * straight away when resolved, else queued behind an ARP request. 0 or -errno. */
int arp_output(struct eng *eng, struct pkt *p, uint32_t nexthop, uint64_t now);
/* Gratuitous ARP for our address. */
void arp_announce(struct eng *eng, uint64_t now);
/* Retries, expiry, queue timeouts. Returns the next deadline. */
uint64_t arp_poll(struct eng *eng, uint64_t now);
/* For tests and `tapsock stats`: look up an entry (0 found, -ENOENT). */
int arp_lookup(struct eng *eng, uint32_t ip, uint8_t mac_out[6], uint64_t now);
/* For tests: insert a static resolved entry. */
void arp_insert(struct eng *eng, uint32_t ip, const uint8_t mac[6], uint64_t now);

#endif
