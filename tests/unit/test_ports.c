/* test_ports.c - ephemeral port choice (RFC 6056 Algorithm 3): range, spread, only free port, exhaustion. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/ports.h"

static const uint64_t key[2] = { 42, 4242 };
#define L (htonl(0x0a4d0002))
#define R (htonl(0x0a4d0001))

struct used {
	uint8_t busy[65536];
	unsigned asked;
};

static bool usable(void *arg, uint16_t port)
{
	struct used *u = arg;
	u->asked++;
	return !u->busy[port];
}

static struct tcp_ports ports;
static struct used used;

static void setup(void)
{
	tcp_ports_init(&ports, key);
	memset(&used, 0, sizeof(used));
}

Test(ports, stays_in_range_and_never_reuses_a_busy_port, .init = setup)
{
	/* Linux's default range, allocate every port once */
	unsigned n = 60999 - 32768 + 1;
	for (unsigned i = 0; i < n; i++) {
		int p = tcp_port_pick(&ports, L, R, 80, 32768, 60999, usable, &used);
		cr_assert_geq(p, 32768, "pick %u gave %d", i, p);
		cr_assert_leq(p, 60999);
		cr_assert_not(used.busy[p], "port %d handed out twice", p);
		used.busy[p] = 1;
	}
	cr_assert_eq(tcp_port_pick(&ports, L, R, 80, 32768, 60999, usable, &used), -EADDRNOTAVAIL);
}

Test(ports, odd_sized_range_is_fully_usable, .init = setup)
{
	for (unsigned i = 0; i < 7; i++) {
		int p = tcp_port_pick(&ports, L, R, 80, 1000, 1006, usable, &used);
		cr_assert_geq(p, 1000);
		cr_assert_leq(p, 1006);
		cr_assert_not(used.busy[p]);
		used.busy[p] = 1;
	}
	cr_assert_eq(tcp_port_pick(&ports, L, R, 80, 1000, 1006, usable, &used), -EADDRNOTAVAIL);
}

Test(ports, finds_the_only_free_port, .init = setup)
{
	for (unsigned p = 32768; p <= 60999; p++)
		used.busy[p] = 1;
	used.busy[45679] = 0;   /* odd: found only in the second pass */
	cr_assert_eq(tcp_port_pick(&ports, L, R, 80, 32768, 60999, usable, &used), 45679);
	used.busy[45679] = 1;
	used.busy[32768] = 0;
	cr_assert_eq(tcp_port_pick(&ports, L, R, 80, 32768, 60999, usable, &used), 32768);
}

Test(ports, none_free_is_eaddrnotavail, .init = setup)
{
	for (unsigned p = 32768; p <= 60999; p++)
		used.busy[p] = 1;
	cr_assert_eq(tcp_port_pick(&ports, L, R, 80, 32768, 60999, usable, &used), -EADDRNOTAVAIL);
	cr_assert_eq(used.asked, 60999 - 32768 + 1, "each port asked once");
	cr_assert_eq(tcp_port_pick(&ports, L, R, 80, 5, 4, usable, &used), -EINVAL);
}

Test(ports, single_port_range, .init = setup)
{
	cr_assert_eq(tcp_port_pick(&ports, L, R, 80, 5000, 5000, usable, &used), 5000);
	used.busy[5000] = 1;
	cr_assert_eq(tcp_port_pick(&ports, L, R, 80, 5000, 5000, usable, &used), -EADDRNOTAVAIL);
}

Test(ports, first_pass_prefers_the_parity_of_lo, .init = setup)
{
	/* with nothing busy, connect() gets ports of lo's parity (Linux: even) */
	for (int i = 0; i < 200; i++) {
		int p = tcp_port_pick(&ports, L, htonl(0x0a4d0100 + (uint32_t)i), 80, 32768, 60999,
				      usable, &used);
		cr_assert_eq(p % 2, 0, "port %d", p);
	}
}

Test(ports, consecutive_connections_to_one_peer_differ, .init = setup)
{
	/* nothing marked busy: the perturbation table alone moves the start */
	int prev = tcp_port_pick(&ports, L, R, 80, 32768, 60999, usable, &used);
	for (int i = 0; i < 50; i++) {
		int p = tcp_port_pick(&ports, L, R, 80, 32768, 60999, usable, &used);
		cr_assert_neq(p, prev);
		prev = p;
	}
}

Test(ports, spread_over_destinations, .init = setup)
{
	/* 20000 picks to different peers: the 8 slices of the range are all hit
	 * roughly evenly (each expects 2500) */
	unsigned bins[8] = { 0 };
	unsigned span = 60999 - 32768 + 1;
	for (uint32_t i = 0; i < 20000; i++) {
		int p = tcp_port_pick(&ports, L, htonl(0x0a000000 + i), (uint16_t)(1000 + i % 7),
				      32768, 60999, usable, &used);
		bins[(unsigned)(p - 32768) * 8 / span]++;
	}
	for (int b = 0; b < 8; b++)
		cr_expect(bins[b] > 2100 && bins[b] < 2900, "bin %d has %u", b, bins[b]);
}

Test(ports, depends_on_the_key)
{
	struct tcp_ports a, b;
	const uint64_t k2[2] = { 43, 4242 };
	tcp_ports_init(&a, key);
	tcp_ports_init(&b, k2);
	memset(&used, 0, sizeof(used));
	int same = 0;
	for (uint32_t i = 0; i < 50; i++)
		same += tcp_port_pick(&a, L, htonl(0x0a000000 + i), 80, 32768, 60999, usable, &used) ==
			tcp_port_pick(&b, L, htonl(0x0a000000 + i), 80, 32768, 60999, usable, &used);
	cr_assert_lt(same, 5);
}

Test(ports, bind_prefers_the_other_parity_and_covers_the_range, .init = setup)
{
	for (int i = 0; i < 100; i++) {
		int p = tcp_port_pick_bind(&ports, 32768, 60999, usable, &used);
		cr_assert_eq(p % 2, 1, "bind(0) leaves even ports to connect(): got %d", p);
	}
	/* exhaust a small odd-sized range: every port exactly once */
	for (unsigned i = 0; i < 9; i++) {
		int p = tcp_port_pick_bind(&ports, 2000, 2008, usable, &used);
		cr_assert_geq(p, 2000);
		cr_assert_leq(p, 2008);
		cr_assert_not(used.busy[p]);
		used.busy[p] = 1;
	}
	cr_assert_eq(tcp_port_pick_bind(&ports, 2000, 2008, usable, &used), -EADDRNOTAVAIL);
	cr_assert_eq(tcp_port_pick_bind(&ports, 7, 7, usable, &used), 7);
	cr_assert_eq(tcp_port_pick_bind(&ports, 9, 8, usable, &used), -EINVAL);
}
