/* ip_priv.h - state shared by ip.c, reasm.c and icmp.c (not for other layers). */
#ifndef TSK_IP_IP_PRIV_H
#define TSK_IP_IP_PRIV_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/pkt.h"
#include "ip/ip.h"

struct eng;
struct ip_reasm;

/* ICMP error rate limit: one token bucket per destination (Linux inet_peer). */
#define ICMP_RL_SLOTS 256
struct icmp_rl {
	uint32_t dst;
	uint64_t tokens;         /* ns of credit */
	uint64_t last;
	bool used;
};

struct ip_lo_pkt {
	struct ip_lo_pkt *next;
	unsigned rxflags;
	uint32_t len;
	uint8_t data[];
};

struct ip_state {
	uint16_t next_id;
	struct ip_reasm *reasm;
	struct icmp_rl rl[ICMP_RL_SLOTS];
	uint64_t rl_global_tokens, rl_global_last;
	struct ip_lo_pkt *lo_head, **lo_tail;   /* packets to ourselves */
	unsigned lo_len;
	struct pkt frag;         /* scratch for outgoing fragments */
};

/* After validation: hand a whole datagram to its transport. */
enum drop_reason ip__deliver(struct eng *eng, const uint8_t *pkt, const struct ip_hdr *h,
			     unsigned rxflags, uint64_t now);

/* reasm.c: RFC 815 reassembly with Linux's limits. */
struct ip_reasm *ip__reasm_new(void);
void ip__reasm_free(struct ip_reasm *r);
enum drop_reason ip__reasm_input(struct eng *eng, const uint8_t *pkt, const struct ip_hdr *h,
				 uint64_t now);
uint64_t ip__reasm_poll(struct eng *eng, uint64_t now);
size_t ip__reasm_mem(const struct ip_reasm *r);

static inline bool ip__is_multicast(uint32_t be) { return (ntohl(be) & 0xf0000000u) == 0xe0000000u; }
static inline bool ip__is_loopback(uint32_t be) { return (ntohl(be) >> 24) == 127; }

#endif
