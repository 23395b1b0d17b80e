/* test_isn.c - RFC 6528 ISNs: grow with time for one 4-tuple, differ per tuple and per key. */
#include <criterion/criterion.h>
#include <arpa/inet.h>

#include "base/seq.h"
#include "base/time.h"
#include "tcp/isn.h"

static const uint64_t key[2] = { 0x1122334455667788ull, 0x99aabbccddeeff00ull };
#define L (htonl(0x0a4d0002))
#define R (htonl(0x0a4d0001))

Test(isn, grows_with_time_for_one_tuple)
{
	uint64_t now = SEC(1000);
	uint32_t prev = tcp_isn(key, L, 40000, R, 80, now);
	/* every 10 ms for 100 s (well under the 275 s wrap of M) */
	for (int i = 1; i <= 10000; i++) {
		uint64_t t = now + MSEC(10) * (uint64_t)i;
		uint32_t isn = tcp_isn(key, L, 40000, R, 80, t);
		cr_assert(seq_gt(isn, prev), "ISN must increase (step %d)", i);
		prev = isn;
	}
}

Test(isn, clock_is_64ns_ticks)
{
	uint32_t a = tcp_isn(key, L, 40000, R, 80, 0);
	uint32_t b = tcp_isn(key, L, 40000, R, 80, MSEC(1));
	cr_assert_eq(b - a, 1000000u / 64);
	cr_assert_eq(tcp_isn(key, L, 40000, R, 80, 63), a, "same tick within 64 ns");
}

Test(isn, differs_per_tuple)
{
	uint64_t now = SEC(5);
	uint32_t base = tcp_isn(key, L, 40000, R, 80, now);
	cr_assert_neq(tcp_isn(key, L, 40001, R, 80, now), base);
	cr_assert_neq(tcp_isn(key, L, 40000, R, 81, now), base);
	cr_assert_neq(tcp_isn(key, L, 40000, htonl(0x0a4d0003), 80, now), base);
	cr_assert_neq(tcp_isn(key, htonl(0x0a4d0004), 40000, R, 80, now), base);
	/* swapping the ends is another connection */
	cr_assert_neq(tcp_isn(key, R, 80, L, 40000, now), base);
	/* neighbouring ports are far apart, not M + small */
	uint32_t d = tcp_isn(key, L, 40001, R, 80, now) - base;
	cr_assert(d > 1000000u && d < 0xffffffffu - 1000000u);
}

Test(isn, depends_on_the_key)
{
	const uint64_t other[2] = { key[0], key[1] + 1 };
	cr_assert_neq(tcp_isn(key, L, 40000, R, 80, 0), tcp_isn(other, L, 40000, R, 80, 0));
}

Test(isn, timestamp_offset_per_address_pair)
{
	uint32_t a = tcp_ts_off(key, L, R);
	cr_assert_eq(tcp_ts_off(key, L, R), a, "stable");
	cr_assert_neq(tcp_ts_off(key, L, htonl(0x0a4d0009)), a);
	const uint64_t other[2] = { key[0] ^ 4, key[1] };
	cr_assert_neq(tcp_ts_off(other, L, R), a);
}
