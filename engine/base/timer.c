/* timer.c - binary min-heap of intrusive timer nodes (see timer.h; libuv src/timer.c). */
#include <errno.h>
#include <stdlib.h>

#include "base/timer.h"

void timer_heap_init(struct timer_heap *h)
{
	*h = (struct timer_heap){ 0 };
}

void timer_heap_free(struct timer_heap *h)
{
	free(h->slots);
	*h = (struct timer_heap){ 0 };
}

/* a expires before b; equal deadlines in arm order (wrap-safe seq compare) */
static inline int timer_before(const struct timer_slot *a, const struct timer_slot *b)
{
	if (a->when != b->when)
		return a->when < b->when;
	return (int32_t)(a->node->seq - b->node->seq) < 0;
}

static inline void timer_set(struct timer_heap *h, uint32_t i, struct timer_slot s)
{
	h->slots[i] = s;
	s.node->idx = i;
}

static void timer_sift_up(struct timer_heap *h, uint32_t i)
{
	struct timer_slot s = h->slots[i];

	while (i > 0) {
		uint32_t p = (i - 1) / 2;
		if (!timer_before(&s, &h->slots[p]))
			break;
		timer_set(h, i, h->slots[p]);
		i = p;
	}
	timer_set(h, i, s);
}

static void timer_sift_down(struct timer_heap *h, uint32_t i)
{
	struct timer_slot s = h->slots[i];

	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= h->len)
			break;
		if (c + 1 < h->len && timer_before(&h->slots[c + 1], &h->slots[c]))
			c++;
		if (!timer_before(&h->slots[c], &s))
			break;
		timer_set(h, i, h->slots[c]);
		i = c;
	}
	timer_set(h, i, s);
}

int timer_heap_add(struct timer_heap *h, struct timer_node *n, uint64_t when)
{
	if (timer_pending(n))
		return timer_heap_update(h, n, when);
	if (h->len == h->cap) {
		uint32_t cap = h->cap ? h->cap * 2 : 16;
		struct timer_slot *ns = realloc(h->slots, cap * sizeof(*ns));
		if (!ns) {
			n->idx = TIMER_IDX_NONE;
			return -ENOMEM;
		}
		h->slots = ns;
		h->cap = cap;
	}
	n->when = when;
	n->seq = h->seq++;
	timer_set(h, h->len++, (struct timer_slot){ when, n });
	timer_sift_up(h, n->idx);
	return 0;
}

/* An armed node moves in place: its new (deadline, seq) is strictly earlier or
 * strictly later than the old, so one sift in that direction restores the heap.
 * Removing and re-adding it walked the heap twice (TCP re-arms its retransmission
 * and delayed-ACK timers at almost every segment). */
int timer_heap_update(struct timer_heap *h, struct timer_node *n, uint64_t when)
{
	uint64_t old;

	if (!timer_pending(n))
		return timer_heap_add(h, n, when);
	old = n->when;
	n->when = when;
	n->seq = h->seq++;
	h->slots[n->idx].when = when;
	if (when < old)
		timer_sift_up(h, n->idx);
	else
		timer_sift_down(h, n->idx);
	return 0;
}

void timer_heap_del(struct timer_heap *h, struct timer_node *n)
{
	if (!timer_pending(n))
		return;
	uint32_t i = n->idx;
	n->idx = TIMER_IDX_NONE;
	struct timer_slot last = h->slots[--h->len];
	if (i == h->len)
		return;
	/* move the last node into the hole, then restore the heap either way */
	timer_set(h, i, last);
	if (i > 0 && timer_before(&last, &h->slots[(i - 1) / 2]))
		timer_sift_up(h, i);
	else
		timer_sift_down(h, i);
}

struct timer_node *timer_heap_pop_expired(struct timer_heap *h, uint64_t now)
{
	struct timer_node *n;

	if (!h->len || h->slots[0].when > now)
		return NULL;
	n = h->slots[0].node;
	timer_heap_del(h, n);
	return n;
}
