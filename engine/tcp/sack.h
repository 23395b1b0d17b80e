/* sack.h - the sender's SACK scoreboard (RFC 2018, RFC 6675 basics, RFC 2883 D-SACK recognition).
 *
 * Keeps the ranges of sequence space above snd_una that the peer has SACKed,
 * sorted and disjoint, in a fixed array (no allocation). When more disjoint
 * ranges arrive than fit, the highest are forgotten: that is safe (RFC 2018 8,
 * the data is kept and would be resent) and costs only precision. Blocks below
 * snd_una or beyond snd_nxt, and D-SACKs (RFC 2883: the first block at or below
 * snd_una, or inside the second), do not enter the scoreboard.
 * Block struct: tcp_sack_blk from tcp/wire.h, [left, right). */
#ifndef TSK_TCP_SACK_H
#define TSK_TCP_SACK_H

#include <stdbool.h>
#include <stdint.h>

#include "tcp/wire.h"

#define TCP_SACK_BOARD_MAX 32

struct tcp_sack_board {
	struct tcp_sack_blk r[TCP_SACK_BOARD_MAX]; /* ascending, disjoint, non-adjacent */
	uint32_t n;
	uint32_t sacked;          /* bytes covered by r[] */
	uint32_t dsacks;          /* D-SACK blocks seen (spurious retransmissions) */
};

void tcp_sack_init(struct tcp_sack_board *b);
/* Merge the SACK blocks of one ACK. snd_una is the ACK's cumulative ack (after
 * the ACK), snd_nxt the highest sequence sent. Returns bytes newly SACKed. */
uint32_t tcp_sack_update(struct tcp_sack_board *b, uint32_t snd_una, uint32_t snd_nxt,
			 const struct tcp_sack_blk *blk, unsigned n);
/* The cumulative ACK moved to snd_una: forget everything below it. */
void tcp_sack_ack(struct tcp_sack_board *b, uint32_t snd_una);
/* Forget everything (RTO: RFC 6675 5.1 / RFC 2018 8, SACK info may be reneged). */
void tcp_sack_clear(struct tcp_sack_board *b);

bool tcp_sack_is_sacked(const struct tcp_sack_board *b, uint32_t seq);
static inline uint32_t tcp_sack_bytes(const struct tcp_sack_board *b) { return b->sacked; }
/* Highest SACKed sequence (end of the last range), or `dflt` if none. */
uint32_t tcp_sack_high(const struct tcp_sack_board *b, uint32_t dflt);
/* First hole at or after `from` that lies below the highest SACKed byte:
 * [*start, *end). Returns false if there is none. */
bool tcp_sack_next_hole(const struct tcp_sack_board *b, uint32_t from, uint32_t *start,
			uint32_t *end);
/* RFC 6675 IsLost(seq): more than (DupThresh - 1) * mss bytes SACKed above seq
 * (or DupThresh discontiguous ranges above it). */
bool tcp_sack_is_lost(const struct tcp_sack_board *b, uint32_t seq, uint32_t mss);
/* Bytes SACKed strictly above seq. */
uint32_t tcp_sack_bytes_above(const struct tcp_sack_board *b, uint32_t seq);

#endif
