/* sack.c - the sender's SACK scoreboard (RFC 2018, RFC 2883, RFC 6675; see sack.h). */
#include <string.h>

#include "base/seq.h"
#include "tcp/cc.h"
#include "tcp/sack.h"

void tcp_sack_init(struct tcp_sack_board *b)
{
	memset(b, 0, sizeof(*b));
}

void tcp_sack_clear(struct tcp_sack_board *b)
{
	b->n = 0;
	b->sacked = 0;
}

static void sack_recount(struct tcp_sack_board *b)
{
	uint32_t s = 0;
	for (uint32_t i = 0; i < b->n; i++)
		s += b->r[i].right - b->r[i].left;
	b->sacked = s;
}

/* Add [l, r) (both inside the window, l < r), merging what it touches. */
static void sack_add(struct tcp_sack_board *b, uint32_t l, uint32_t r)
{
	uint32_t i = 0;
	while (i < b->n && seq_lt(b->r[i].right, l))
		i++;                        /* ranges wholly below, not adjacent */
	uint32_t j = i;
	while (j < b->n && seq_leq(b->r[j].left, r)) {
		l = seq_min(l, b->r[j].left);
		r = seq_max(r, b->r[j].right);
		j++;                        /* ranges overlapping or adjacent */
	}
	if (j > i) {
		/* replace r[i..j) by one range */
		b->r[i] = (struct tcp_sack_blk){ l, r };
		memmove(&b->r[i + 1], &b->r[j], (b->n - j) * sizeof(b->r[0]));
		b->n -= j - i - 1;
		return;
	}
	if (b->n == TCP_SACK_BOARD_MAX) {
		if (i == b->n)
			return;                 /* the highest is the one we forget */
		b->n--;                     /* forget the highest range */
	}
	memmove(&b->r[i + 1], &b->r[i], (b->n - i) * sizeof(b->r[0]));
	b->r[i] = (struct tcp_sack_blk){ l, r };
	b->n++;
}

uint32_t tcp_sack_update(struct tcp_sack_board *b, uint32_t snd_una, uint32_t snd_nxt,
			 const struct tcp_sack_blk *blk, unsigned n)
{
	uint32_t before = b->sacked;

	tcp_sack_ack(b, snd_una);
	for (unsigned k = 0; k < n; k++) {
		uint32_t l = blk[k].left, r = blk[k].right;
		if (!seq_lt(l, r))
			continue;               /* empty or reversed: malformed */
		/* RFC 2883 4: a D-SACK is the first block, and it covers data at or
		 * below the cumulative ACK or lies inside the second block */
		if (k == 0 && (seq_leq(r, snd_una) ||
			       (n > 1 && seq_geq(l, blk[1].left) && seq_leq(r, blk[1].right)))) {
			b->dsacks++;
			continue;
		}
		/* RFC 2018: only sequence space that was sent and not yet acked */
		if (seq_lt(l, snd_una))
			l = snd_una;
		if (seq_gt(r, snd_nxt))
			r = snd_nxt;
		if (!seq_lt(l, r))
			continue;
		sack_add(b, l, r);
	}
	sack_recount(b);
	return b->sacked > before ? b->sacked - before : 0;
}

void tcp_sack_ack(struct tcp_sack_board *b, uint32_t snd_una)
{
	uint32_t i = 0;
	while (i < b->n && seq_leq(b->r[i].right, snd_una))
		i++;
	if (i) {
		memmove(&b->r[0], &b->r[i], (b->n - i) * sizeof(b->r[0]));
		b->n -= i;
	}
	if (b->n && seq_lt(b->r[0].left, snd_una))
		b->r[0].left = snd_una;
	sack_recount(b);
}

bool tcp_sack_is_sacked(const struct tcp_sack_board *b, uint32_t seq)
{
	for (uint32_t i = 0; i < b->n; i++)
		if (seq_between(seq, b->r[i].left, b->r[i].right))
			return true;
	return false;
}

uint32_t tcp_sack_high(const struct tcp_sack_board *b, uint32_t dflt)
{
	return b->n ? b->r[b->n - 1].right : dflt;
}

bool tcp_sack_next_hole(const struct tcp_sack_board *b, uint32_t from, uint32_t *start,
			uint32_t *end)
{
	for (uint32_t i = 0; i < b->n; i++) {
		if (seq_lt(from, b->r[i].left)) {
			*start = from;
			*end = b->r[i].left;
			return true;
		}
		if (seq_lt(from, b->r[i].right))
			from = b->r[i].right;
	}
	return false;
}

uint32_t tcp_sack_bytes_above(const struct tcp_sack_board *b, uint32_t seq)
{
	uint32_t s = 0;
	for (uint32_t i = 0; i < b->n; i++) {
		if (seq_leq(b->r[i].right, seq + 1))
			continue;
		uint32_t l = seq_max(b->r[i].left, seq + 1);
		s += b->r[i].right - l;
	}
	return s;
}

bool tcp_sack_is_lost(const struct tcp_sack_board *b, uint32_t seq, uint32_t mss)
{
	/* RFC 6675 4 IsLost: "DupThresh discontiguous SACKed sequences have
	 * arrived above 'SeqNum' or more than (DupThresh - 1) * SMSS bytes with
	 * sequence numbers greater than 'SeqNum' have been SACKed" */
	uint32_t ranges = 0;
	for (uint32_t i = 0; i < b->n; i++)
		if (seq_gt(b->r[i].left, seq))
			ranges++;
	return ranges >= TCP_DUPTHRESH ||
	       tcp_sack_bytes_above(b, seq) > (TCP_DUPTHRESH - 1) * mss;
}
