/* test_rtt.c - the RTO estimator (RFC 6298 as Linux computes it) on sample sequences, backoff, clamps. */
#include <criterion/criterion.h>

#include "base/time.h"
#include "tcp/rtt.h"

static struct tcp_rtt r;

static void setup(void)
{
	tcp_rtt_init(&r, SEC(1), MSEC(200), SEC(120));
}

Test(rtt, initial_rto_is_one_second, .init = setup)
{
	/* RFC 6298 (2.1) */
	cr_assert_eq(tcp_rtt_rto(&r), SEC(1));
	cr_assert_eq(tcp_rtt_srtt(&r), 0);
}

Test(rtt, first_sample, .init = setup)
{
	/* RFC 6298 (2.2): SRTT = R, RTTVAR = R/2, RTO = SRTT + 4 RTTVAR = 3R */
	tcp_rtt_sample(&r, SEC(1), 0, 1000);
	cr_assert_eq(tcp_rtt_srtt(&r), SEC(1));
	cr_assert_eq(tcp_rtt_var(&r), MSEC(500));
	cr_assert_eq(tcp_rtt_rto(&r), SEC(3));
}

Test(rtt, lan_rtt_gives_srtt_plus_rto_min, .init = setup)
{
	/* Linux: the variance term is at least rto_min, so a 100 us LAN gets
	 * ~200.1 ms, not RFC 6298's 1 s floor */
	tcp_rtt_sample(&r, USEC(100), 0, 1000);
	cr_assert_eq(tcp_rtt_rto(&r), USEC(100) + MSEC(200));
	for (uint32_t i = 1; i <= 50; i++)
		tcp_rtt_sample(&r, USEC(100), 1000 * i + 1, 1000 * (i + 1));
	cr_assert_eq(tcp_rtt_srtt(&r), USEC(100));
	cr_assert_eq(tcp_rtt_rto(&r), USEC(100) + MSEC(200));
}

Test(rtt, second_sample_matches_rfc6298, .init = setup)
{
	tcp_rtt_sample(&r, MSEC(100), 0, 1000);
	cr_assert_eq(tcp_rtt_rto(&r), MSEC(300));
	tcp_rtt_sample(&r, MSEC(200), 1001, 2000);
	/* SRTT = 7/8*100 + 1/8*200 = 112.5; RTTVAR = 3/4*50 + 1/4*|100-200| = 62.5;
	 * RTO = 112.5 + 4*62.5 = 362.5 ms */
	cr_assert_eq(tcp_rtt_srtt(&r), USEC(112500));
	cr_assert_eq(tcp_rtt_var(&r), USEC(62500));
	cr_assert_eq(tcp_rtt_rto(&r), USEC(362500));
}

Test(rtt, steady_rtt_converges, .init = setup)
{
	for (uint32_t i = 0; i < 200; i++)
		tcp_rtt_sample(&r, MSEC(50), 1000 * i + 1, 1000 * (i + 1));
	cr_assert_eq(tcp_rtt_srtt(&r), MSEC(50));
	cr_assert_lt(tcp_rtt_var(&r), MSEC(1));
	cr_assert_eq(tcp_rtt_rto(&r), MSEC(250));
}

Test(rtt, jump_raises_rto_at_once, .init = setup)
{
	for (uint32_t i = 0; i < 100; i++)
		tcp_rtt_sample(&r, MSEC(50), 1000 * i + 1, 1000 * (i + 1));
	cr_assert_eq(tcp_rtt_rto(&r), MSEC(250));
	tcp_rtt_sample(&r, MSEC(400), 100001, 101000);
	/* SRTT = 50 + 350/8 = 93.75; mdev = 1/4 of the 350 ms error, and the
	 * variance term 4*mdev = 350 ms replaces the 200 ms floor at once */
	cr_assert_eq(tcp_rtt_srtt(&r), USEC(93750));
	cr_assert_geq(tcp_rtt_rto(&r), USEC(93750) + MSEC(349));
	cr_assert_leq(tcp_rtt_rto(&r), USEC(93750) + MSEC(351));
}

Test(rtt, drop_in_rtt_does_not_inflate_rto, .init = setup)
{
	/* Linux's damping: a falling RTT feeds the deviation with 1/32 gain, so
	 * the RTO falls with SRTT instead of rising on |error| (as pure RFC would) */
	for (uint32_t i = 0; i < 100; i++)
		tcp_rtt_sample(&r, MSEC(300), 1000 * i + 1, 1000 * (i + 1));
	uint64_t before = tcp_rtt_rto(&r);
	tcp_rtt_sample(&r, MSEC(10), 100001, 101000);
	cr_assert_lt(tcp_rtt_rto(&r), before);
}

Test(rtt, backoff_doubles_to_the_max_and_a_sample_clears_it, .init = setup)
{
	uint64_t want = SEC(1);
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(tcp_rtt_rto(&r), want > SEC(120) ? SEC(120) : want);
		tcp_rtt_backoff(&r);
		want *= 2;
	}
	cr_assert_eq(tcp_rtt_rto(&r), SEC(120));
	for (int i = 0; i < 100; i++)
		tcp_rtt_backoff(&r);
	cr_assert_eq(tcp_rtt_rto(&r), SEC(120), "no overflow after many timeouts");
	tcp_rtt_sample(&r, MSEC(100), 0, 1000);
	cr_assert_eq(tcp_rtt_rto(&r), MSEC(300));
}

Test(rtt, clamped_to_rto_max, .init = setup)
{
	tcp_rtt_sample(&r, SEC(100), 0, 1000);
	cr_assert_eq(tcp_rtt_rto(&r), SEC(120));
}

Test(rtt, syn_fallback_is_three_seconds, .init = setup)
{
	/* RFC 6298 (5.7) */
	tcp_rtt_backoff(&r);
	tcp_rtt_syn_fallback(&r);
	cr_assert_eq(tcp_rtt_rto(&r), SEC(3));
	/* with a sample, the measured RTO stands */
	tcp_rtt_sample(&r, MSEC(10), 0, 1);
	tcp_rtt_syn_fallback(&r);
	cr_assert_eq(tcp_rtt_rto(&r), MSEC(210));
}

Test(rtt, min_rtt_is_tracked, .init = setup)
{
	tcp_rtt_sample(&r, MSEC(30), 0, 1000);
	tcp_rtt_sample(&r, MSEC(20), 1001, 2000);
	tcp_rtt_sample(&r, MSEC(40), 2001, 3000);
	cr_assert_eq(r.min_rtt, MSEC(20));
	cr_assert_eq(r.last_rtt, MSEC(40));
}
