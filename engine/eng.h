/* eng.h - the engine object: one userspace host (DESIGN decisions 1, 2).
 *
 * The engine owns the link and every layer's state. It does no I/O of its own
 * beyond link_tx() and reads no clock: the loop (loop.c) or a test hands it frames
 * with eng_input() and calls eng_poll() for timers, passing `now` each time. */
#ifndef TSK_ENG_H
#define TSK_ENG_H

#include <stddef.h>
#include <stdint.h>

#include "base/pkt.h"
#include "base/stats.h"
#include "link/link.h"
#include "tcp/tcp.h"

enum { ENG_SVC_ECHO = 1 << 0, ENG_SVC_DISCARD = 1 << 1, ENG_SVC_CHARGEN = 1 << 2 };

struct eng_config {
	uint8_t mac[6];        /* our MAC */
	uint32_t addr;         /* our IPv4 address, be32 */
	uint32_t netmask;      /* be32 */
	uint32_t gateway;      /* be32, 0 for none */
	uint64_t secret[2];    /* keys for ISNs, ephemeral ports, SYN cookies (random in the
				  daemon, fixed in tests) */
	unsigned services;     /* ENG_SVC_* built-in services */
	uint64_t arp_timeout;  /* how long a resolved ARP entry is trusted (Linux ~30 s) */
	struct tcp_params tcp;
	/* keepalive on the built-in services' connections (SO_KEEPALIVE with
	 * TCP_KEEPIDLE/INTVL/CNT); on == 0: the TCP defaults, keepalive off.
	 * idle, intvl in ns (whole seconds are used, as Linux); 0 keeps the default. */
	struct { uint64_t idle, intvl; unsigned cnt; int on; } svc_keepalive;
};

void eng_config_default(struct eng_config *cfg); /* 10.77.0.2/24 via 10.77.0.1 */

struct arp_cache;
struct ip_state;
struct tcp_stack;
struct sock_services;

struct eng {
	struct eng_config cfg;
	struct link *link;
	struct stats stats;
	struct arp_cache *arp;
	struct ip_state *ip;
	struct tcp_stack *tcp;
	struct pkt tx;         /* scratch transmit buffer, one frame at a time */
	struct sock_services *svc; /* built-in services (sock/services.h), NULL when none */
	uint64_t now;          /* `now` of the entry point running (eng_start, eng_input,
				  eng_poll): for socket callbacks, which are not handed it */
	/* A frame read in two pieces (eng_input_split): its TCP payload, which would
	 * start at rx_split_at right behind the headers, is at rx_split_data. */
	const uint8_t *rx_split_at, *rx_split_data;
};

struct eng *eng_new(const struct eng_config *cfg, struct link *link, uint64_t now);
void eng_free(struct eng *eng);
/* Announce ourselves (gratuitous ARP) and start the built-in services. */
void eng_start(struct eng *eng, uint64_t now);
/* One received Ethernet frame. Counted, dropped frames counted under their reason. */
void eng_input(struct eng *eng, const uint8_t *frame, size_t len, unsigned rxflags,
	       uint64_t now);
/* The same for a frame whose TCP payload is not behind its hlen bytes of
 * headers but at payload (loop.c, direct reads): only an IPv4 TCP segment
 * without IP options whose checksum needs no check (LINK_RX_CSUM_OK), so that
 * nothing but TCP reads past the headers. */
void eng_input_split(struct eng *eng, const uint8_t *frame, size_t len, size_t hlen,
		     const uint8_t *payload, unsigned rxflags, uint64_t now);
/* Run due timers of every layer. Returns the next deadline (TIME_NEVER if none). */
uint64_t eng_poll(struct eng *eng, uint64_t now);

/* For the layers: hand a finished frame (p->data at the Ethernet header) to the link. */
int eng_tx(struct eng *eng, struct pkt *p);
/* Count a drop (no-op for DROP_NONE); returns the reason for chaining. */
static inline enum drop_reason eng_drop(struct eng *eng, enum drop_reason r)
{
	if (r != DROP_NONE)
		eng->stats.drop[r]++;
	return r;
}
#define eng_count(eng, name) ((eng)->stats.cnt[CNT_##name]++)

#endif
