/* spin.h - adaptive polling before sleeping: the budget's rules and the pause, shared by the engine's loop and the preload library (KVM halt-polling's grow/shrink scheme).
 *
 * A waiter may spin for up to `budget` ns before it sleeps. The budget adapts:
 * a spin that caught its event keeps room for twice that wait; a spin that ran
 * out falls to a quarter, and to 0 below half the minimum, so long waits soon
 * never spin; a sleep that ended within the cap makes it grow to a little more
 * than that sleep (at least the minimum, at least twice the budget), and a sleep
 * longer than the cap turns it off. Pure functions over the values: the callers
 * keep the budget where they need it (a loop's field, a socket's atomic); and
 * spin_poll, the spin itself, over the caller's readiness test and clock. */
#ifndef TSK_BASE_SPIN_H
#define TSK_BASE_SPIN_H

#include <sched.h>
#include <stdint.h>

/* The first budget after a short sleep: a spin shorter than a wake-up's cost
 * rarely catches anything. */
#define SPIN_MIN_NS 5000u

static inline uint32_t spin_cap(uint64_t ns, uint32_t max)
{
	return ns > max ? max : (uint32_t)ns;
}

/* The spin caught its event after `waited` ns. */
static inline uint32_t spin_after_hit(uint32_t budget, uint64_t waited, uint32_t max)
{
	return 2 * waited > budget ? spin_cap(2 * waited, max) : budget;
}

/* The spin ran out. */
static inline uint32_t spin_after_miss(uint32_t budget)
{
	budget /= 4;
	return budget < SPIN_MIN_NS / 2 ? 0 : budget;
}

/* The waiter slept `slept` ns (its wake-up's cost included). */
static inline uint32_t spin_after_sleep(uint32_t budget, uint64_t slept, uint32_t max)
{
	uint64_t d = slept;

	if (d >= max)
		return 0;   /* a long wait: spinning would not have caught it */
	/* ended soon after it slept: spinning a little longer would have caught it */
	d += d / 2;
	if (d < SPIN_MIN_NS)
		d = SPIN_MIN_NS;
	if (d < 2ull * budget)
		d = 2ull * budget;
	return spin_cap(d, max);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Looks at ready(arg) for up to `budget` ns, a pause between looks and every
 * fourth time a sched_yield(): whoever is waited for (the engine, the peer,
 * the program) may be runnable on this very CPU, and on a 2-core machine a
 * spinner must not hold it off. What ready() said, 0 when the budget ran
 * out; *waited: the ns it took, on the caller's clock now(). */
static inline unsigned spin_poll(uint32_t budget, unsigned (*ready)(void *), void *arg,
				 uint64_t (*now)(void), uint64_t *waited)
{
	uint64_t t0 = now();
	unsigned r;

	for (unsigned i = 1;; i++) {
		if ((r = ready(arg))) {
			*waited = now() - t0;
			return r;
		}
		for (int k = 0; k < 16; k++)
			cpu_relax();
		if (!(i & 3))
			sched_yield();
		if ((*waited = now() - t0) >= budget)
			return 0;
	}
}

#endif
