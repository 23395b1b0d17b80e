/* test_cookie.c - SYN cookies: round trip, MSS table, age limit, forgery, wrong 4-tuple, timestamp bits. */
#include <criterion/criterion.h>
#include <arpa/inet.h>

#include "base/time.h"
#include "tcp/cookie.h"

static const uint64_t key[2] = { 0xdeadbeefcafef00dull, 0x0123456789abcdefull };
#define L (htonl(0x0a4d0002))
#define R (htonl(0x0a4d0001))
#define PERIOD (1ull << TCP_COOKIE_PERIOD_SHIFT)

Test(cookie, round_trip_gives_the_mss)
{
	uint64_t now = SEC(100000);
	uint32_t peer_isn = 0xfffffff0u;   /* + 1 wraps */
	uint16_t mss = 1460;
	uint32_t c = tcp_cookie_make(key, L, 80, R, 45000, peer_isn, &mss, now);
	cr_assert_eq(mss, 1460);
	cr_assert_eq(tcp_cookie_check(key, L, 80, R, 45000, peer_isn + 1, c + 1, now + SEC(1)), 1460);
}

Test(cookie, mss_rounds_down_to_the_table)
{
	uint16_t in[] = { 9000, 1460, 1459, 1440, 1400, 1300, 1299, 536, 100 };
	uint16_t out[] = { 1460, 1460, 1440, 1440, 1300, 1300, 536, 536, 536 };
	for (unsigned i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		uint16_t mss = in[i];
		uint32_t c = tcp_cookie_make(key, L, 80, R, 45000, 1000, &mss, SEC(7));
		cr_assert_eq(mss, out[i], "peer MSS %u", in[i]);
		cr_assert_eq(tcp_cookie_check(key, L, 80, R, 45000, 1001, c + 1, SEC(7)), out[i]);
	}
}

Test(cookie, valid_for_the_current_and_previous_period_only)
{
	uint64_t start = 1000 * PERIOD;      /* start of a period */
	uint16_t mss = 1300;
	uint32_t c = tcp_cookie_make(key, L, 80, R, 45000, 77, &mss, start + 5);
	cr_assert_eq(tcp_cookie_check(key, L, 80, R, 45000, 78, c + 1, start + PERIOD - 1), 1300);
	cr_assert_eq(tcp_cookie_check(key, L, 80, R, 45000, 78, c + 1, start + 2 * PERIOD - 1), 1300,
		     "one period later: still good");
	cr_assert_eq(tcp_cookie_check(key, L, 80, R, 45000, 78, c + 1, start + 2 * PERIOD), 0,
		     "two periods later: expired");
	cr_assert_eq(tcp_cookie_check(key, L, 80, R, 45000, 78, c + 1, start + 100 * PERIOD), 0);
	/* more than two minutes is always too old */
	cr_assert_eq(tcp_cookie_check(key, L, 80, R, 45000, 78, c + 1, start + 5 + SEC(140)), 0);
}

Test(cookie, wrong_tuple_or_sequence_fails)
{
	uint64_t now = SEC(5000);
	uint16_t mss = 1460;
	uint32_t c = tcp_cookie_make(key, L, 80, R, 45000, 500, &mss, now);
	cr_assert_eq(tcp_cookie_check(key, L, 80, R, 45001, 501, c + 1, now), 0);
	cr_assert_eq(tcp_cookie_check(key, L, 81, R, 45000, 501, c + 1, now), 0);
	cr_assert_eq(tcp_cookie_check(key, L, 80, htonl(0x0a4d0009), 45000, 501, c + 1, now), 0);
	/* (as in Linux, a sequence off by a few only shifts the MSS index: the
	 * ack number, the secret part, is what proves the handshake) */
	cr_assert_eq(tcp_cookie_check(key, L, 80, R, 45000, 501 + 1000, c + 1, now), 0,
		     "other peer ISN");
	const uint64_t other[2] = { key[0], key[1] ^ 1 };
	cr_assert_eq(tcp_cookie_check(other, L, 80, R, 45000, 501, c + 1, now), 0, "other secret");
}

Test(cookie, forged_acks_are_rejected)
{
	/* an attacker guessing ack numbers: a valid cookie needs the 24-bit hash,
	 * so at most a handful in 200000 random tries may pass (expected ~0.05) */
	uint64_t now = SEC(9999);
	unsigned pass = 0;
	uint32_t x = 12345;
	for (int i = 0; i < 200000; i++) {
		x = x * 1103515245u + 12345u;
		pass += tcp_cookie_check(key, L, 80, R, 45000, 1, x, now) != 0;
	}
	cr_assert_leq(pass, 2);
}

Test(cookie, timestamp_carries_the_syn_options)
{
	struct tcp_cookie_opts in = { .ws_ok = true, .ws = 7, .sack_ok = true, .ecn_ok = false }, out;
	uint32_t ts_now = 123456789;
	uint32_t ts = tcp_cookie_ts(ts_now, &in);
	cr_assert_leq(ts, ts_now, "never ahead of our clock");
	cr_assert_gt(ts, ts_now - 128);
	tcp_cookie_ts_decode(ts, &out);
	cr_assert(out.ws_ok);
	cr_assert_eq(out.ws, 7);
	cr_assert(out.sack_ok);
	cr_assert_not(out.ecn_ok);

	struct tcp_cookie_opts none = { 0 };
	ts = tcp_cookie_ts(ts_now, &none);
	tcp_cookie_ts_decode(ts, &out);
	cr_assert_not(out.ws_ok, "no window scaling is encoded as 0xf");
	cr_assert_not(out.sack_ok);

	struct tcp_cookie_opts all = { .ws_ok = true, .ws = 14, .sack_ok = true, .ecn_ok = true };
	ts = tcp_cookie_ts(ts_now, &all);
	tcp_cookie_ts_decode(ts, &out);
	cr_assert(out.ws_ok && out.ws == 14 && out.sack_ok && out.ecn_ok);
}
