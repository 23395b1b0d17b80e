/* ofo.c - out-of-order reassembly with bounded memory and SACK blocks (RFC 9293 3.10.7.4, RFC 2018; see ofo.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/seq.h"
#include "tcp/ofo.h"

struct tcp_ofo_node {
	struct tcp_ofo_node *next;
	uint32_t seq;
	uint32_t len;
	uint32_t stamp;     /* last insertion that touched this piece */
	uint8_t data[];
};

static inline uint32_t node_end(const struct tcp_ofo_node *n) { return n->seq + n->len; }
static inline uint32_t node_cost(uint32_t len) { return len + TCP_OFO_NODE_COST; }

void tcp_ofo_init(struct tcp_ofo *q, uint32_t limit)
{
	*q = (struct tcp_ofo){ .limit = limit };
}

static void node_free(struct tcp_ofo *q, struct tcp_ofo_node *n)
{
	q->mem -= node_cost(n->len);
	q->bytes -= n->len;
	q->nodes--;
	free(n);
}

void tcp_ofo_free(struct tcp_ofo *q)
{
	while (q->head) {
		struct tcp_ofo_node *n = q->head;
		q->head = n->next;
		node_free(q, n);
	}
	q->tail = NULL;
}

static void ofo_find_tail(struct tcp_ofo *q)
{
	struct tcp_ofo_node *n = q->head;
	while (n && n->next)
		n = n->next;
	q->tail = n;
}

/* Evict queued pieces that start at or above `above`, highest first, until
 * `need` more bytes can be charged (Linux tcp_prune_ofo_queue). */
static void ofo_prune_above(struct tcp_ofo *q, uint32_t above, uint32_t need)
{
	while (q->limit - q->mem < need) {
		struct tcp_ofo_node **pp = &q->head, **last = NULL;
		for (; *pp; pp = &(*pp)->next)
			last = pp;
		if (!last || seq_lt((*last)->seq, above))
			return;
		struct tcp_ofo_node *n = *last;
		*last = NULL;
		node_free(q, n);
		ofo_find_tail(q);
	}
}

enum drop_reason tcp_ofo_insert(struct tcp_ofo *q, uint32_t rcv_nxt, uint32_t seq,
				const uint8_t *data, uint32_t len)
{
	q->has_dup = false;
	if (seq_lt(seq, rcv_nxt)) {
		uint32_t d = rcv_nxt - seq;
		if (d >= len)
			return DROP_NONE;
		seq += d;
		data += d;
		len -= d;
	}
	if (len == 0)
		return DROP_NONE;

	uint32_t stamp = ++q->stamp;
	uint32_t end = seq + len;
	uint32_t s = seq;
	struct tcp_ofo_node **pp = &q->head;

	/* the usual case after a loss: the next segment above the last one */
	if (q->tail && seq_geq(seq, node_end(q->tail)))
		pp = &q->tail->next;
	while (seq_lt(s, end)) {
		struct tcp_ofo_node *cur = *pp;
		if (cur && seq_leq(node_end(cur), s)) {
			pp = &cur->next;          /* wholly before the bytes left */
			continue;
		}
		if (cur && seq_leq(cur->seq, s)) {
			/* queued bytes cover s: they win (first come); the piece is now
			 * part of the block this segment touched */
			cur->stamp = stamp;
			uint32_t dup_end = seq_min(node_end(cur), end);
			if (!q->has_dup) {
				q->dup = (struct tcp_sack_blk){ s, dup_end };
				q->has_dup = true;
			} else if (q->dup.right == s) {
				q->dup.right = dup_end;   /* touching pieces: one range */
			}
			s = node_end(cur);
			pp = &cur->next;
			continue;
		}
		/* a gap [s, gap_end) before cur (or at the end) gets new bytes */
		uint32_t gap_end = cur && seq_lt(cur->seq, end) ? cur->seq : end;
		uint32_t n = gap_end - s;
		if (q->limit - q->mem < node_cost(n))
			ofo_prune_above(q, gap_end, node_cost(n));
		cur = *pp;   /* pruning may have removed what followed */
		if (q->limit - q->mem < node_cost(n)) {
			/* keep what fits of the front (closest to rcv_nxt) */
			uint32_t room = q->limit - q->mem;
			if (room <= TCP_OFO_NODE_COST)
				return DROP_TCP_OFO_MEM;
			n = room - TCP_OFO_NODE_COST;
			gap_end = s + n;
			end = gap_end;   /* nothing after this fits */
		}
		struct tcp_ofo_node *node = malloc(sizeof(*node) + n);
		if (!node)
			return DROP_TCP_OFO_MEM;
		node->seq = s;
		node->len = n;
		node->stamp = stamp;
		memcpy(node->data, data + (s - seq), n);
		node->next = cur;
		*pp = node;
		if (!cur)
			q->tail = node;
		pp = &node->next;
		q->mem += node_cost(n);
		q->bytes += n;
		q->nodes++;
		s = gap_end;
	}
	return seq_lt(end, seq + len) ? DROP_TCP_OFO_MEM : DROP_NONE;
}

int tcp_ofo_pull(struct tcp_ofo *q, uint32_t *rcv_nxt, struct ring *r)
{
	int moved = 0;
	while (q->head) {
		struct tcp_ofo_node *n = q->head;
		if (seq_leq(node_end(n), *rcv_nxt)) {
			q->head = n->next;    /* all below rcv_nxt: already delivered */
			if (!q->head)
				q->tail = NULL;
			node_free(q, n);
			continue;
		}
		if (seq_gt(n->seq, *rcv_nxt))
			break;                /* still a hole at rcv_nxt */
		uint32_t off = *rcv_nxt - n->seq;
		uint32_t avail = n->len - off;
		int w = ring_write(r, n->data + off, avail);
		if (w < 0)
			return moved ? moved : w;
		*rcv_nxt += (uint32_t)w;
		moved += w;
		if ((uint32_t)w < avail)
			break;                /* the ring is full */
		q->head = n->next;
		if (!q->head)
			q->tail = NULL;
		node_free(q, n);
	}
	return moved;
}

#define OFO_SACK_MAX 8

unsigned tcp_ofo_sack(const struct tcp_ofo *q, struct tcp_sack_blk *blk, unsigned max)
{
	struct tcp_sack_blk best[OFO_SACK_MAX];
	uint32_t age[OFO_SACK_MAX];
	unsigned nb = 0;

	if (max > OFO_SACK_MAX)
		max = OFO_SACK_MAX;
	if (max == 0)
		return 0;
	const struct tcp_ofo_node *n = q->head;
	while (n) {
		/* a block: pieces that touch, with the stamp of the freshest */
		struct tcp_sack_blk b = { n->seq, node_end(n) };
		uint32_t st = n->stamp;
		for (n = n->next; n && n->seq == b.right; n = n->next) {
			b.right = node_end(n);
			if (seq_gt(n->stamp, st))
				st = n->stamp;
		}
		/* keep the `max` most recent, freshest first (insertion sort) */
		unsigned i = nb < max ? nb : max;
		while (i > 0 && seq_gt(st, age[i - 1])) {
			if (i < max) {
				best[i] = best[i - 1];
				age[i] = age[i - 1];
			}
			i--;
		}
		if (i < max) {
			best[i] = b;
			age[i] = st;
			if (nb < max)
				nb++;
		}
	}
	memcpy(blk, best, nb * sizeof(*blk));
	return nb;
}

uint32_t tcp_ofo_end(const struct tcp_ofo *q, uint32_t dflt)
{
	return q->tail ? node_end(q->tail) : dflt;
}
