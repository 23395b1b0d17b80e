/* ports.c - ephemeral port selection, RFC 6056 Algorithm 3 as Linux __inet_hash_connect (see ports.h). */
#include <errno.h>

#include "base/siphash.h"
#include "tcp/ports.h"

#define PORT_DOMAIN 0x504f5254u   /* "PORT" */
#define PERTURB_DOMAIN 0x50455254u /* "PERT" */
#define RND_DOMAIN 0x524e4431u    /* "RND1" */

void tcp_ports_init(struct tcp_ports *p, const uint64_t key[2])
{
	p->key[0] = key[0];
	p->key[1] = key[1];
	p->rnd = 0;
	/* Linux fills table_perturb with random bytes on first use; derive them */
	for (uint32_t i = 0; i < TCP_PORTS_PERTURB_SIZE; i++)
		p->perturb[i] = (uint32_t)siphash_4u32(i, 0, 0, PERTURB_DOMAIN, key);
}

static uint32_t ports_random_below(struct tcp_ports *p, uint32_t n)
{
	uint64_t r = siphash_4u32((uint32_t)p->rnd, (uint32_t)(p->rnd >> 32), 0, RND_DOMAIN,
				  p->key);
	p->rnd++;
	return (uint32_t)(((r & 0xffffffffu) * n) >> 32);
}

int tcp_port_pick(struct tcp_ports *p, uint32_t laddr, uint32_t raddr, uint16_t rport,
		  uint16_t lo, uint16_t hi, tcp_port_usable_fn usable, void *arg)
{
	if (lo == 0 || lo > hi)
		return -EINVAL;
	/* RFC 6056 3.3.3: offset = F(local_IP, remote_IP, remote_port, secret_key1),
	 * index = G(...); Linux takes both from one 64-bit hash. */
	uint64_t port_offset = siphash_4u32(laddr, raddr, rport, PORT_DOMAIN, p->key);
	uint32_t low = lo, high = (uint32_t)hi + 1;   /* high exclusive, as Linux */
	uint32_t remaining = high - low;
	const uint32_t step = 2;

	if (remaining > 1)
		remaining &= ~1u;
	uint32_t index = (uint32_t)port_offset & (TCP_PORTS_PERTURB_SIZE - 1);
	uint32_t offset = p->perturb[index] + (uint32_t)(port_offset >> 32);
	offset %= remaining;
	/* first pass: ports of the parity of `low` */
	offset &= ~1u;

	for (;;) {
		uint32_t port = low + offset;
		for (uint32_t i = 0; i < remaining; i += step, port += step) {
			/* Linux wraps at `high`; wrapping at low + remaining makes each
			 * pass visit each port of its parity exactly once */
			if (port >= low + remaining)
				port -= remaining;
			if (usable(arg, (uint16_t)port)) {
				/* "a little bit of randomness to the next source port": max() so
				 * that low contention gets the most of it */
				uint32_t r = ports_random_below(p, 8) * step;
				if (r > i)
					i = r;
				p->perturb[index] += i + step;
				return (int)port;
			}
		}
		offset++;
		if ((offset & 1) && remaining > 1)
			continue;   /* second pass: the other parity */
		break;
	}
	/* An odd-sized range leaves its last port out of both walks (Linux only
	 * reaches it by chance); try it rather than fail with a port free. */
	if (((uint32_t)hi + 1 - lo) & 1 && hi - lo > 0 && usable(arg, hi))
		return hi;
	return -EADDRNOTAVAIL;
}

int tcp_port_pick_bind(struct tcp_ports *p, uint16_t lo, uint16_t hi,
		       tcp_port_usable_fn usable, void *arg)
{
	if (lo == 0 || lo > hi)
		return -EINVAL;
	uint32_t low = lo, remaining = (uint32_t)hi + 1 - lo;
	if (remaining > 1)
		remaining &= ~1u;
	uint32_t offset = ports_random_below(p, remaining);
	/* "__inet_hash_connect() favors ports having @low parity. We do the
	 * opposite to not pollute connect() users." */
	if (remaining > 1)
		offset |= 1u;
	for (;;) {
		uint32_t port = low + offset;
		for (uint32_t i = 0; i < remaining; i += 2, port += 2) {
			if (port >= low + remaining)
				port -= remaining;
			if (usable(arg, (uint16_t)port))
				return (int)port;
		}
		if (!(offset & 1) || remaining == 1)
			break;
		offset--;   /* second pass: lo's parity */
	}
	if (((uint32_t)hi + 1 - lo) & 1 && hi > lo && usable(arg, hi))
		return hi;
	return -EADDRNOTAVAIL;
}
