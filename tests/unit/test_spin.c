/* test_spin.c - the adaptive polling budget (base/spin.h), shared by the engine's loop and the preload library. */
#include <criterion/criterion.h>

#include "base/spin.h"

#define MAX 50000u

Test(spin, a_hit_keeps_room_for_twice_the_wait)
{
	cr_assert_eq(spin_after_hit(10000, 8000, MAX), 16000);
	cr_assert_eq(spin_after_hit(10000, 3000, MAX), 10000, "never shrinks on a hit");
	cr_assert_eq(spin_after_hit(10000, 40000, MAX), MAX, "capped");
}

Test(spin, misses_fall_to_zero)
{
	uint32_t b = MAX;
	int n = 0;

	while (b) {
		b = spin_after_miss(b);
		n++;
	}
	cr_assert_eq(spin_after_miss(12000), 3000);
	cr_assert_eq(spin_after_miss(9000), 0, "below half the minimum: off");
	cr_assert_leq(n, 4, "a few misses turn it off (%d)", n);
}

Test(spin, a_short_sleep_grows_a_long_one_turns_off)
{
	cr_assert_eq(spin_after_sleep(0, 1000, MAX), SPIN_MIN_NS, "at least the minimum");
	cr_assert_eq(spin_after_sleep(0, 10000, MAX), 15000, "a little more than the sleep");
	cr_assert_eq(spin_after_sleep(12000, 10000, MAX), 24000, "at least twice the budget");
	cr_assert_eq(spin_after_sleep(20000, 40000, MAX), MAX, "capped");
	cr_assert_eq(spin_after_sleep(20000, MAX, MAX), 0, "longer than the cap: off");
}

/* spin_poll over a fake clock that moves 1 us per look */
static uint64_t fake_ns;
static unsigned looks, ready_at;

static uint64_t fake_now(void) { return fake_ns += 1000; }
static unsigned fake_ready(void *arg) { return ++looks == ready_at ? *(unsigned *)arg : 0; }

Test(spin, poll_returns_what_ready_said)
{
	unsigned v = 7;
	uint64_t waited = 0;

	fake_ns = looks = 0;
	ready_at = 5;
	cr_assert_eq(spin_poll(1000000, fake_ready, &v, fake_now, &waited), 7);
	cr_assert_eq(looks, 5, "stops at the first answer (%u looks)", looks);
	cr_assert_gt(waited, 0);
	cr_assert_lt(waited, 1000000);
}

Test(spin, poll_gives_up_after_its_budget)
{
	unsigned v = 7;
	uint64_t waited = 0;

	fake_ns = looks = 0;
	ready_at = 0;   /* never */
	cr_assert_eq(spin_poll(10000, fake_ready, &v, fake_now, &waited), 0);
	cr_assert_geq(waited, 10000, "gave up early (%llu ns)", (unsigned long long)waited);
	cr_assert_leq(looks, 11, "kept looking past its budget (%u looks)", looks);
}
