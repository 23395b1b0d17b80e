/* timer.h - a binary min-heap of intrusive timer nodes (libuv src/timer.c, FreeBSD tcp_timer.c names).
 *
 * The owner embeds a struct timer_node (one per named timer: REXMT, PERSIST,
 * KEEP, DELACK, 2MSL ...) and finds itself again with timer_entry(). The heap is
 * an array of (deadline, node) slots: comparisons read the array alone, not the
 * nodes scattered in their owners (a cache miss per step with 10 000 connections);
 * each node remembers its index so delete and update are O(log n) without a
 * search. The array grows by doubling (the only allocation); nodes never move.
 * Deadlines are absolute `now` values (ns).
 *
 * Nodes with the same deadline expire in the order they were armed (a sequence
 * number breaks ties), so runs are deterministic. */
#ifndef TSK_BASE_TIMER_H
#define TSK_BASE_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/time.h"

#define TIMER_IDX_NONE UINT32_MAX

struct timer_node {
	uint64_t when;   /* absolute deadline, ns */
	uint32_t idx;    /* position in the heap, TIMER_IDX_NONE when not armed */
	uint32_t seq;    /* arm order, breaks ties between equal deadlines */
};

struct timer_slot {
	uint64_t when;   /* a copy of node->when */
	struct timer_node *node;
};

struct timer_heap {
	struct timer_slot *slots;
	uint32_t len, cap;
	uint32_t seq;
};

#define timer_entry(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

static inline void timer_node_init(struct timer_node *n)
{
	n->when = TIME_NEVER;
	n->idx = TIMER_IDX_NONE;
	n->seq = 0;
}
static inline bool timer_pending(const struct timer_node *n) { return n->idx != TIMER_IDX_NONE; }

void timer_heap_init(struct timer_heap *h);
/* Frees the array only: the nodes belong to their owners (and are left armed-looking;
 * re-init them if they outlive the heap). */
void timer_heap_free(struct timer_heap *h);
static inline uint32_t timer_heap_len(const struct timer_heap *h) { return h->len; }

/* Arm n at `when`; if n is already armed, move it (same as update).
 * Returns 0 or -ENOMEM (n is then left unarmed). */
int timer_heap_add(struct timer_heap *h, struct timer_node *n, uint64_t when);
/* Move an armed node to a new deadline, or arm it. Returns 0 or -ENOMEM. */
int timer_heap_update(struct timer_heap *h, struct timer_node *n, uint64_t when);
/* Disarm n; no-op if it is not armed. */
void timer_heap_del(struct timer_heap *h, struct timer_node *n);
/* Earliest node, or NULL. */
static inline struct timer_node *timer_heap_peek(const struct timer_heap *h)
{
	return h->len ? h->slots[0].node : NULL;
}
/* Earliest deadline, TIME_NEVER if empty (what eng_poll() returns). */
static inline uint64_t timer_heap_next(const struct timer_heap *h)
{
	return h->len ? h->slots[0].when : TIME_NEVER;
}
/* Disarm and return one node whose deadline is <= now, earliest first, or NULL.
 * Call in a loop; a handler may re-arm its node (even at <= now: it comes again). */
struct timer_node *timer_heap_pop_expired(struct timer_heap *h, uint64_t now);

#endif
