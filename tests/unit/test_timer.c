/* test_timer.c - the timer heap: order, ties, delete/update, and random operations against a reference. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "base/timer.h"

struct owner {
	int id;
	struct timer_node rexmt;
};

Test(timer, empty_heap)
{
	struct timer_heap h;
	timer_heap_init(&h);
	cr_assert_null(timer_heap_peek(&h));
	cr_assert_eq(timer_heap_next(&h), TIME_NEVER);
	cr_assert_null(timer_heap_pop_expired(&h, TIME_NEVER));
	timer_heap_free(&h);
}

Test(timer, expires_in_deadline_order_and_finds_owner)
{
	struct timer_heap h;
	timer_heap_init(&h);
	struct owner o[5];
	uint64_t when[5] = { 50, 10, 40, 20, 30 };
	for (int i = 0; i < 5; i++) {
		o[i].id = i;
		timer_node_init(&o[i].rexmt);
		cr_assert_eq(timer_heap_add(&h, &o[i].rexmt, when[i]), 0);
	}
	cr_assert_eq(timer_heap_next(&h), 10);
	cr_assert_null(timer_heap_pop_expired(&h, 9), "nothing due before 10");
	int order[5], n = 0;
	struct timer_node *t;
	while ((t = timer_heap_pop_expired(&h, 35)))
		order[n++] = timer_entry(t, struct owner, rexmt)->id;
	cr_assert_eq(n, 3);
	cr_assert_eq(order[0], 1);
	cr_assert_eq(order[1], 3);
	cr_assert_eq(order[2], 4);
	cr_assert_not(timer_pending(&o[1].rexmt));
	cr_assert(timer_pending(&o[0].rexmt));
	cr_assert_eq(timer_heap_len(&h), 2);
	timer_heap_free(&h);
}

Test(timer, equal_deadlines_fire_in_arm_order)
{
	struct timer_heap h;
	timer_heap_init(&h);
	struct owner o[8];
	for (int i = 0; i < 8; i++) {
		o[i].id = i;
		timer_node_init(&o[i].rexmt);
		timer_heap_add(&h, &o[i].rexmt, 100);
	}
	for (int i = 0; i < 8; i++) {
		struct timer_node *t = timer_heap_pop_expired(&h, 100);
		cr_assert_eq(timer_entry(t, struct owner, rexmt)->id, i);
	}
	timer_heap_free(&h);
}

Test(timer, delete_and_update)
{
	struct timer_heap h;
	timer_heap_init(&h);
	struct owner a = { 1 }, b = { 2 }, c = { 3 };
	timer_node_init(&a.rexmt);
	timer_node_init(&b.rexmt);
	timer_node_init(&c.rexmt);
	timer_heap_add(&h, &a.rexmt, 10);
	timer_heap_add(&h, &b.rexmt, 20);
	timer_heap_add(&h, &c.rexmt, 30);
	timer_heap_del(&h, &a.rexmt);
	cr_assert_not(timer_pending(&a.rexmt));
	timer_heap_del(&h, &a.rexmt);   /* twice: harmless */
	cr_assert_eq(timer_heap_next(&h), 20);
	timer_heap_update(&h, &c.rexmt, 5);   /* earlier */
	cr_assert_eq(timer_heap_peek(&h), &c.rexmt);
	timer_heap_update(&h, &c.rexmt, 50);  /* later */
	cr_assert_eq(timer_heap_peek(&h), &b.rexmt);
	timer_heap_add(&h, &b.rexmt, 60);     /* add of an armed node moves it */
	cr_assert_eq(timer_heap_len(&h), 2);
	cr_assert_eq(timer_heap_peek(&h), &c.rexmt);
	timer_heap_free(&h);
}

Test(timer, handler_may_rearm_while_draining)
{
	struct timer_heap h;
	timer_heap_init(&h);
	struct owner a = { 1 };
	timer_node_init(&a.rexmt);
	timer_heap_add(&h, &a.rexmt, 10);
	int fired = 0;
	struct timer_node *t;
	while ((t = timer_heap_pop_expired(&h, 100))) {
		fired++;
		if (fired < 3)
			timer_heap_add(&h, t, t->when + 20);  /* 30, 50: still due */
		else
			timer_heap_add(&h, t, 200);
	}
	cr_assert_eq(fired, 3);
	cr_assert_eq(timer_heap_next(&h), 200);
	timer_heap_free(&h);
}

/* Check the heap property and the back-pointers. */
static void check_heap(const struct timer_heap *h)
{
	for (uint32_t i = 0; i < h->len; i++) {
		cr_assert_eq(h->slots[i].node->idx, i);
		cr_assert_eq(h->slots[i].when, h->slots[i].node->when);
		if (i)
			cr_assert_geq(h->slots[i].when, h->slots[(i - 1) / 2].when);
	}
}

#define N 100000

Test(timer, random_ops_against_reference)
{
	struct timer_heap h;
	timer_heap_init(&h);
	struct timer_node *nodes = calloc(N, sizeof(*nodes));
	uint64_t *ref = calloc(N, sizeof(*ref));   /* deadline, or TIME_NEVER if idle */
	for (int i = 0; i < N; i++) {
		timer_node_init(&nodes[i]);
		ref[i] = TIME_NEVER;
	}
	srand(777);
	/* arm all, then mix del/update/pop */
	for (int i = 0; i < N; i++) {
		ref[i] = (uint64_t)rand() % 1000000;
		cr_assert_eq(timer_heap_add(&h, &nodes[i], ref[i]), 0);
	}
	check_heap(&h);
	uint64_t now = 0;
	for (int it = 0; it < 300000; it++) {
		int i = rand() % N;
		switch (rand() % 4) {
		case 0:
			timer_heap_del(&h, &nodes[i]);
			ref[i] = TIME_NEVER;
			break;
		case 1:
		case 2:
			ref[i] = now + (uint64_t)rand() % 1000000;
			cr_assert_eq(timer_heap_update(&h, &nodes[i], ref[i]), 0);
			break;
		case 3: {
			now += 10;
			struct timer_node *t = timer_heap_pop_expired(&h, now);
			if (t) {
				uint32_t k = (uint32_t)(t - nodes);
				cr_assert_leq(ref[k], now);
				/* nothing armed is earlier */
				cr_assert(h.len == 0 || h.slots[0].when >= ref[k]);
				ref[k] = TIME_NEVER;
			}
			break;
		}
		}
	}
	check_heap(&h);
	uint32_t armed = 0;
	for (int i = 0; i < N; i++) {
		cr_assert_eq(timer_pending(&nodes[i]), ref[i] != TIME_NEVER);
		if (ref[i] != TIME_NEVER) {
			armed++;
			cr_assert_eq(nodes[i].when, ref[i]);
		}
	}
	cr_assert_eq(timer_heap_len(&h), armed);
	/* drain: non-decreasing deadlines */
	uint64_t last = 0;
	struct timer_node *t;
	uint32_t popped = 0;
	while ((t = timer_heap_pop_expired(&h, TIME_NEVER))) {
		cr_assert_geq(t->when, last);
		last = t->when;
		popped++;
	}
	cr_assert_eq(popped, armed);
	free(nodes);
	free(ref);
	timer_heap_free(&h);
}
