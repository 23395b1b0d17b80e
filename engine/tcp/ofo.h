/* ofo.h - the receiver's out-of-order queue (RFC 9293 3.10.7.4 "seventh", RFC 2018 4 SACK blocks).
 *
 * Segments that arrive above rcv_nxt wait here, trimmed so that no byte is
 * held twice: where new data overlaps data already queued, the queued bytes
 * win (first come, as Linux's tcp_data_queue_ofo keeps the older skb). When
 * the bytes at rcv_nxt arrive (the caller puts in-order data straight into the
 * receive ring), tcp_ofo_pull() moves what became contiguous into the ring.
 *
 * Memory is bounded: every queued piece costs its bytes plus its node
 * (TCP_OFO_NODE_COST), and the total stays under the limit given at init. A
 * segment that does not fit first evicts queued data above it (the data
 * farthest from rcv_nxt is the least useful, Linux tcp_prune_ofo_queue; RFC
 * 2018 8 allows reneging), and is otherwise refused with DROP_TCP_OFO_MEM.
 *
 * SACK blocks: RFC 2018 4 "The first SACK block ... MUST specify the contiguous
 * block of data containing the segment which triggered this ACK", and the
 * others SHOULD repeat the most recently reported: blocks are ordered by the
 * last time data was added to them, most recent first.
 * Sequence arithmetic is wrap-safe (base/seq.h). */
#ifndef TSK_TCP_OFO_H
#define TSK_TCP_OFO_H

#include <stdbool.h>
#include <stdint.h>

#include "base/ring.h"
#include "base/stats.h"
#include "tcp/wire.h"

struct tcp_ofo_node;

#define TCP_OFO_NODE_COST 64u   /* bytes charged per queued piece besides its data */

struct tcp_ofo {
	struct tcp_ofo_node *head;   /* ascending sequence, disjoint */
	struct tcp_ofo_node *tail;   /* last piece: appending after a hole is O(1) */
	uint32_t mem;                /* bytes charged */
	uint32_t limit;              /* most bytes charged */
	uint32_t bytes;              /* data bytes queued */
	uint32_t nodes;
	uint32_t stamp;              /* insertion clock for SACK recency */
	struct tcp_sack_blk dup;     /* first queued range the last insert repeated */
	bool has_dup;                /* ... valid (for a D-SACK, RFC 2883) */
};

void tcp_ofo_init(struct tcp_ofo *q, uint32_t limit);
void tcp_ofo_free(struct tcp_ofo *q);
static inline bool tcp_ofo_empty(const struct tcp_ofo *q) { return q->head == NULL; }
static inline uint32_t tcp_ofo_bytes(const struct tcp_ofo *q) { return q->bytes; }

/* Queue [seq, seq+len) while the next expected byte is rcv_nxt. Bytes before
 * rcv_nxt and bytes already queued are ignored. Returns DROP_NONE if every new
 * byte was queued (or there was nothing new), DROP_TCP_OFO_MEM if some were
 * refused for memory. */
enum drop_reason tcp_ofo_insert(struct tcp_ofo *q, uint32_t rcv_nxt, uint32_t seq,
				const uint8_t *data, uint32_t len);
/* RFC 2883 4: a D-SACK block for the segment just inserted, if it repeated
 * bytes already queued (the first such range). Returns false otherwise.
 * Duplicates below rcv_nxt the caller sees itself. */
static inline bool tcp_ofo_dup(const struct tcp_ofo *q, struct tcp_sack_blk *blk)
{
	if (q->has_dup)
		*blk = q->dup;
	return q->has_dup;
}
/* Move the queued bytes that start at *rcv_nxt into r (as far as r takes them)
 * and advance *rcv_nxt; also discards queued bytes that fell below *rcv_nxt.
 * Returns bytes moved or -ENOMEM. */
int tcp_ofo_pull(struct tcp_ofo *q, uint32_t *rcv_nxt, struct ring *r);
/* Up to max SACK blocks, most recently changed first. Returns the count. */
unsigned tcp_ofo_sack(const struct tcp_ofo *q, struct tcp_sack_blk *blk, unsigned max);
/* End of the highest queued byte (seq + len), or rcv_nxt-style `dflt` if empty. */
uint32_t tcp_ofo_end(const struct tcp_ofo *q, uint32_t dflt);

#endif
