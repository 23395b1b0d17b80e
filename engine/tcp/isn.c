/* isn.c - initial sequence numbers and timestamp offsets (RFC 6528, RFC 7323 5.4; see isn.h). */
#include "base/siphash.h"
#include "tcp/isn.h"

/* Domain words keep the hashes of the different uses apart under one secret. */
#define ISN_DOMAIN 0x49534e31u  /* "ISN1" */
#define TSO_DOMAIN 0x54534f31u  /* "TSO1" */

uint32_t tcp_isn(const uint64_t key[2], uint32_t laddr, uint16_t lport,
		 uint32_t raddr, uint16_t rport, uint64_t now)
{
	/* RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey) */
	uint32_t f = (uint32_t)siphash_4u32(laddr, raddr, (uint32_t)lport << 16 | rport,
					    ISN_DOMAIN, key);
	uint32_t m = (uint32_t)(now >> TCP_ISN_TICK_SHIFT);
	return f + m;
}

uint32_t tcp_ts_off(const uint64_t key[2], uint32_t laddr, uint32_t raddr)
{
	return (uint32_t)siphash_4u32(laddr, raddr, 0, TSO_DOMAIN, key);
}
