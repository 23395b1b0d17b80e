/* wire.h - the TCP header and options on the wire (RFC 9293 3.1, RFC 7323, RFC 2018, RFC 6691).
 *
 * tcp_parse() checks the length once, then fills a struct tcp_seg: after it nothing
 * reads past the end of the segment. tcp_emit() writes a header from the struct,
 * with the options laid out as Linux lays them out (so traces compare). */
#ifndef TSK_TCP_WIRE_H
#define TSK_TCP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "base/stats.h"

#define TCP_HLEN 20
#define TCP_MAX_OPT 40

/* the same values and spelling as <netinet/tcp.h>, which may be included too */
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PUSH 0x08
#define TH_PSH TH_PUSH
#define TH_ACK 0x10
#define TH_URG 0x20
#define TH_ECE 0x40
#define TH_CWR 0x80

/* options present in a segment (tcp_seg.opts) */
enum {
	TCPOPT_F_MSS = 1 << 0, TCPOPT_F_WS = 1 << 1, TCPOPT_F_SACKOK = 1 << 2,
	TCPOPT_F_TS = 1 << 3, TCPOPT_F_SACK = 1 << 4,
};

#define TCP_MAX_SACK 4

struct tcp_sack_blk { uint32_t left, right; };

struct tcp_seg {
	uint16_t sport, dport;   /* host order */
	uint32_t seq, ack;
	uint8_t flags;           /* TH_* */
	uint16_t win;            /* as on the wire (unscaled) */
	uint16_t urp;
	uint16_t hdr_len;        /* header + options */
	unsigned opts;           /* TCPOPT_F_* */
	uint16_t mss;
	uint8_t ws;
	uint32_t tsval, tsecr;
	uint8_t nsack;
	struct tcp_sack_blk sack[TCP_MAX_SACK];
	const uint8_t *data;     /* payload, inside the received buffer */
	uint32_t len;            /* payload bytes */
	uint16_t gso_size;       /* output only: TSO, split into segments of this size (0: none) */
};

/* Sequence space a segment occupies: SYN and FIN count one each (RFC 9293 3.4). */
static inline uint32_t tcp_seg_seqlen(const struct tcp_seg *s)
{
	return s->len + !!(s->flags & 0x02) + !!(s->flags & 0x01);
}

/* DROP_NONE and s filled, or DROP_TCP_TOO_SHORT / BAD_OFFSET / BAD_OPTIONS. */
enum drop_reason tcp_parse(const uint8_t *buf, size_t len, struct tcp_seg *s);
/* Bytes of options tcp_emit() will write for s (multiple of 4). */
size_t tcp_opts_len(const struct tcp_seg *s);
/* Write header + options (checksum zero) at `at`; returns the header length. */
size_t tcp_emit(uint8_t *at, const struct tcp_seg *s);

#endif
