/* ports.h - ephemeral port selection (RFC 6056 3.3.3 Algorithm 3 "double-hash", as Linux __inet_hash_connect).
 *
 * offset = F(localip, remoteip, remoteport, secret) picks the starting point per
 * destination, and a table of perturbations indexed by a second hash G(...)
 * moves the start for that destination on each use, so consecutive connections
 * to one peer get different ports while ports to different peers stay
 * unpredictable. As Linux 6.x: the range is walked in steps of 2, first the
 * ports of the same parity as `lo` (connect side; bind() uses the other parity
 * first), then the other; after a success the table slot advances by the
 * number of ports tried plus a little randomness.
 *
 * The engine asks "is this port usable for this 4-tuple?" through a callback. */
#ifndef TSK_TCP_PORTS_H
#define TSK_TCP_PORTS_H

#include <stdbool.h>
#include <stdint.h>

#define TCP_PORTS_PERTURB_ORDER 10   /* Linux uses 16 (256 KiB); 1024 slots x 4 B here */
#define TCP_PORTS_PERTURB_SIZE (1u << TCP_PORTS_PERTURB_ORDER)

struct tcp_ports {
	uint64_t key[2];
	uint64_t rnd;                              /* counter behind the "little randomness" */
	uint32_t perturb[TCP_PORTS_PERTURB_SIZE];  /* RFC 6056 table[] */
};

/* true if `port` (host order) can be used towards raddr:rport from laddr. */
typedef bool (*tcp_port_usable_fn)(void *arg, uint16_t port);

/* Initialise with the engine secret (the table starts from values derived
 * from it, as Linux starts it random). */
void tcp_ports_init(struct tcp_ports *p, const uint64_t key[2]);

/* Choose a port in [lo, hi] (inclusive, host order) for a connection from
 * laddr to raddr:rport. Returns the port, or -EADDRNOTAVAIL when the callback
 * refuses every port of the range (Linux connect() errno), -EINVAL if lo > hi
 * or lo == 0. */
int tcp_port_pick(struct tcp_ports *p, uint32_t laddr, uint32_t raddr, uint16_t rport,
		  uint16_t lo, uint16_t hi, tcp_port_usable_fn usable, void *arg);

/* bind() to port 0, or listen() without bind (Linux inet_csk_find_open_port):
 * a random start, and the parity opposite to lo's first, so that sockets
 * bound this way leave connect()'s half of the range to connect(). Same
 * returns as tcp_port_pick(). */
int tcp_port_pick_bind(struct tcp_ports *p, uint16_t lo, uint16_t hi,
		       tcp_port_usable_fn usable, void *arg);

#endif
