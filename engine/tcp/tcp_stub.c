/* tcp_stub.c - placeholder TCP so lower layers link until the TCP core lands. */
#include <stdlib.h>

#include "base/time.h"
#include "eng.h"
#include "ip/ip.h"
#include "tcp/tcp.h"

struct tcp_stack { int unused; };

struct tcp_stack *tcp_new(struct eng *eng) { (void)eng; return calloc(1, sizeof(struct tcp_stack)); }
void tcp_free(struct tcp_stack *tcp) { free(tcp); }

enum drop_reason tcp_input(struct eng *eng, const struct ip_info *ip,
			   const uint8_t *seg, size_t len, uint64_t now)
{
	(void)eng; (void)ip; (void)seg; (void)len; (void)now;
	return DROP_TCP_NO_SOCKET;
}

void tcp_icmp_error(struct eng *eng, const struct ip_info *inner, const uint8_t *l4,
		    size_t l4len, uint8_t type, uint8_t code, uint16_t mtu, uint64_t now)
{
	(void)eng; (void)inner; (void)l4; (void)l4len; (void)type; (void)code; (void)mtu; (void)now;
}

uint64_t tcp_poll(struct eng *eng, uint64_t now) { (void)eng; (void)now; return TIME_NEVER; }
