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
	free(h->nodes);
	*h = (struct timer_heap){ 0 };
}

/* a expires before b; equal deadlines in arm order (wrap-safe seq compare) */
static inline int timer_before(const struct timer_node *a, const struct timer_node *b)
{
	if (a->when != b->when)
		return a->when < b->when;
	return (int32_t)(a->seq - b->seq) < 0;
}

static inline void timer_set(struct timer_heap *h, uint32_t i, struct timer_node *n)
{
	h->nodes[i] = n;
	n->idx = i;
}

static void timer_sift_up(struct timer_heap *h, uint32_t i)
{
	struct timer_node *n = h->nodes[i];
	while (i > 0) {
		uint32_t p = (i - 1) / 2;
		if (!timer_before(n, h->nodes[p]))
			break;
		timer_set(h, i, h->nodes[p]);
		i = p;
	}
	timer_set(h, i, n);
}

static void timer_sift_down(struct timer_heap *h, uint32_t i)
{
	struct timer_node *n = h->nodes[i];
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= h->len)
			break;
		if (c + 1 < h->len && timer_before(h->nodes[c + 1], h->nodes[c]))
			c++;
		if (!timer_before(h->nodes[c], n))
			break;
		timer_set(h, i, h->nodes[c]);
		i = c;
	}
	timer_set(h, i, n);
}

int timer_heap_add(struct timer_heap *h, struct timer_node *n, uint64_t when)
{
	if (timer_pending(n))
		timer_heap_del(h, n);
	if (h->len == h->cap) {
		uint32_t cap = h->cap ? h->cap * 2 : 16;
		struct timer_node **nn = realloc(h->nodes, cap * sizeof(*nn));
		if (!nn) {
			n->idx = TIMER_IDX_NONE;
			return -ENOMEM;
		}
		h->nodes = nn;
		h->cap = cap;
	}
	n->when = when;
	n->seq = h->seq++;
	h->nodes[h->len] = n;
	n->idx = h->len++;
	timer_sift_up(h, n->idx);
	return 0;
}

int timer_heap_update(struct timer_heap *h, struct timer_node *n, uint64_t when)
{
	return timer_heap_add(h, n, when);
}

void timer_heap_del(struct timer_heap *h, struct timer_node *n)
{
	if (!timer_pending(n))
		return;
	uint32_t i = n->idx;
	n->idx = TIMER_IDX_NONE;
	struct timer_node *last = h->nodes[--h->len];
	if (i == h->len)
		return;
	/* move the last node into the hole, then restore the heap either way */
	timer_set(h, i, last);
	if (i > 0 && timer_before(last, h->nodes[(i - 1) / 2]))
		timer_sift_up(h, i);
	else
		timer_sift_down(h, i);
}

struct timer_node *timer_heap_pop_expired(struct timer_heap *h, uint64_t now)
{
	struct timer_node *n = timer_heap_peek(h);
	if (!n || n->when > now)
		return NULL;
	timer_heap_del(h, n);
	return n;
}
