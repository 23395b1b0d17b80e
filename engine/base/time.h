/* time.h - engine time: uint64_t nanoseconds on a monotonic clock, always passed in.
 *
 * The core never reads a clock (DESIGN decision 2): every entry point takes `now`,
 * and tests drive it with a fake clock. TIME_NEVER means "no deadline". */
#ifndef TSK_BASE_TIME_H
#define TSK_BASE_TIME_H

#include <stdint.h>

#define TIME_NEVER UINT64_MAX
#define USEC(x) ((uint64_t)(x) * 1000ull)
#define MSEC(x) ((uint64_t)(x) * 1000000ull)
#define SEC(x)  ((uint64_t)(x) * 1000000000ull)

static inline uint64_t time_min(uint64_t a, uint64_t b) { return a < b ? a : b; }

#endif
